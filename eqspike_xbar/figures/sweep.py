"""Figures of a sweep Dataset: a line plot over one axis (mean ± seed std), or a heat map
over two (mean over seeds and any further axes), for test accuracy and every ``*energy*``
variable, and the first layer's IR drop / asymmetry / stale error of circuit sweeps. Failed
and pending points are left out (NaN)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from .. import io
from . import plt

SEED_KEY = "run.seed"


#: circuit diagnostics worth a figure (first layer's), when the sweep ran the circuit backend
DIAGNOSTICS = ("diag_ir_drop_W1", "diag_asymmetry_W1", "diag_stale_error_mean_W1")


def plotted_variables(ds: xr.Dataset) -> list[str]:
    names = ["test_accuracy"] if "test_accuracy" in ds else []
    names += [v for v in DIAGNOSTICS if v in ds and bool(np.isfinite(ds[v]).any())]
    return names + [v for v in ds.data_vars if "energy" in v and ds[v].dtype.kind == "f"]


def seed_dims(ds: xr.Dataset) -> list[str]:
    return [d for d in ds.status.dims if ds[d].attrs.get("config_keys") == SEED_KEY]


def plot_sweep(ds: xr.Dataset, folder) -> list[Path]:
    """Write one figure per plotted variable into ``folder``; returns their paths."""
    seeds = seed_dims(ds)
    axes = [d for d in ds.status.dims if d not in seeds and ds.sizes[d] > 1]
    paths = []
    for name in plotted_variables(ds):
        var = ds[name].where(ds.status == "ok")
        if name.endswith("accuracy"):
            var, unit = 100 * var, "%"
        else:
            unit = ds[name].attrs.get("units", "")
        label = f"{name} ({unit})" if unit else name
        if len(axes) >= 2:
            fig = _heat_map(var, axes[0], axes[1], seeds, label)
            stem = f"{name}_{axes[0]}_x_{axes[1]}"
        else:
            x = axes[0] if axes else (seeds[0] if seeds else ds.status.dims[0])
            fig = _line(var, x, [s for s in seeds if s != x], label)
            stem = f"{name}_vs_{x}"
        paths.append(io.save_figure(fig, Path(folder) / f"{stem}.png"))
    return paths


def _positions(coord: xr.DataArray):
    """x positions and tick labels: numbers as they are, anything else as categories."""
    vals = coord.values
    if vals.dtype.kind in "iuf":
        return vals.astype(float), None
    return np.arange(len(vals)), [str(v) for v in vals]


def _line(var: xr.DataArray, x: str, seeds: list[str], label: str):
    """Numbers on the axis: a line over them. Categories (strings, lists, booleans): one row
    per category, points only (nothing joins two categories), the labels on the y axis where
    long ones do not overprint."""
    others = [d for d in var.dims if d not in (x, *seeds)]
    v = var.mean(others) if others else var  # size-1 axes
    pos, ticks = _positions(var[x])
    categorical = ticks is not None
    fig, ax = plt.subplots(figsize=(8.0, max(3.0, 0.45 * len(pos) + 1.6)) if categorical else (5.5, 3.8))

    def draw(values, err=None, **kw):
        if categorical:
            kw["ls"] = "none"
            ax.errorbar(values, pos, xerr=err, **kw)
        else:
            ax.errorbar(pos, values, yerr=err, **kw)

    if seeds:
        mean, std = v.mean(seeds, skipna=True), v.std(seeds, skipna=True)
        n = v.notnull().sum(seeds)
        draw(mean.values, std.values, marker="o", capsize=4, label="mean ± std over seeds", zorder=3)
        for s in seeds:
            for i in range(v.sizes[s]):
                draw(v.isel({s: i}).transpose(x).values, marker=".", color="0.6", ms=5, ls="none",
                     label="single seeds" if i == 0 and s == seeds[0] else None)
        lo, hi = int(n.min()), int(n.max())
        ax.set_title(f"{int(np.prod([v.sizes[s] for s in seeds]))} seeds, "
                     f"{lo if lo == hi else f'{lo}-{hi}'} finished per value", fontsize=9)
        if categorical:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        else:
            ax.legend(fontsize=8)
    else:
        draw(v.transpose(x).values, marker="o")
    if categorical:
        ax.set_yticks(pos, ticks)
        ax.set_ylim(-0.5, len(pos) - 0.5)
        ax.invert_yaxis()  # first category on top, as written in the sweep file
        ax.set_ylabel(_axis_label(var[x]))
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, axis="x")
    else:
        _axis_ticks(ax.xaxis, pos, ticks, var[x])
        ax.set_xlabel(_axis_label(var[x]))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _heat_map(var: xr.DataArray, xd: str, yd: str, seeds: list[str], label: str):
    rest = [d for d in var.dims if d not in (xd, yd)]
    m = (var.mean(rest, skipna=True) if rest else var).transpose(yd, xd)
    fig, ax = plt.subplots(figsize=(1.2 * m.sizes[xd] + 3, 0.8 * m.sizes[yd] + 2.2))
    im = ax.imshow(m.values, origin="lower", aspect="auto", cmap="viridis")
    for (i, j), val in np.ndenumerate(m.values):
        if np.isfinite(val):
            ax.text(j, i, f"{val:.3g}", ha="center", va="center", fontsize=8,
                    color="w" if val < np.nanmean(m.values) else "k")
    for axis, d in ((ax.xaxis, xd), (ax.yaxis, yd)):
        axis.set_ticks(range(m.sizes[d]), [str(v) for v in var[d].values])
    if max(len(str(v)) for v in var[xd].values) > 6:  # long category names would overprint
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
    ax.set_xlabel(_axis_label(var[xd]))
    ax.set_ylabel(_axis_label(var[yd]))
    fig.colorbar(im, ax=ax, label=label)
    ax.set_title(f"mean over {', '.join(rest)}" if rest else "", fontsize=9)
    fig.tight_layout()
    return fig


def _axis_ticks(axis, pos, ticks, coord):
    if ticks is not None:
        axis.set_ticks(pos, ticks)
    elif len(pos) > 1 and (pos > 0).all() and pos.max() / pos.min() >= 100:
        axis.axes.set_xscale("log")


def _axis_label(coord: xr.DataArray) -> str:
    """The axis as written in the sweep file (a config key or an alias; the Dataset has the keys)."""
    return str(coord.attrs.get("axis", coord.name))
