"""Figures of the main job's report: learning curves, energy, conductances, circuit
diagnostics and STDP curves of every fidelity (plain data in, matplotlib figures out)."""
from __future__ import annotations

import numpy as np

from ..energy import COMPONENTS
from ..report import si_prefix
from . import plt
from .stdp import draw_rule_stdp
from .training import draw_band

FIDELITY_STYLE = {"ideal": "k-", "device": "C0-", "circuit": "C3-"}
FIDELITY_COLOR = {"ideal": "k", "device": "C0", "circuit": "C3"}


def plot_learning_curves(metrics: dict):
    """Test (and train) accuracy per fidelity; with a ``seed`` dimension the mean, a min–max band
    and one thin line per seed."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for fid, ds in metrics.items():
        color = FIDELITY_COLOR.get(fid)
        draw_band(ax, ds, "test_accuracy", 100, color=color, label=f"{fid} (test)")
        tr = (ds.train_accuracy.mean("seed") if "seed" in ds.train_accuracy.dims else ds.train_accuracy)
        ax.plot(ds.epoch, 100 * tr, color=color, alpha=0.35, ls="--", label=f"{fid} (train{', mean' if 'seed' in ds.dims else ''})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(max(0, ax.get_ylim()[0]), 100)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def _si(values):
    """A scale and unit (J) that makes the largest of ``values`` read between 1 and 1000."""
    top = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    ps = si_prefix(top)
    return (ps[1], f"{ps[0]}J") if ps else (1e-18, "aJ")


def plot_energy(metrics: dict, which: str = "energy_train"):
    """One panel per energy component (every entry of ``energy.COMPONENTS``, then the total and
    the GPU estimate), each on its own linear axis, so a crossbar component of nanojoules is as
    readable as the neurons' microjoules; fidelities side by side in every panel, legend outside."""
    fids = list(metrics)
    comps = list(COMPONENTS) + ["total", "gpu"]
    last = {f: metrics[f][which].isel(epoch=-1) for f in fids}
    spread = {f: (metrics[f][which + "_sd"].isel(epoch=-1) if which + "_sd" in metrics[f] else None) for f in fids}
    ncol = 4
    nrow = -(-len(comps) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 2.3 * nrow + 0.6), squeeze=False)
    colors = {f: FIDELITY_COLOR.get(f, f"C{k}") for k, f in enumerate(fids)}
    for ax, comp in zip(axes.ravel(), comps):
        vals = np.array([float(last[f].sel(component=comp)) for f in fids])
        sd = np.array([float(spread[f].sel(component=comp)) if spread[f] is not None else 0.0 for f in fids])
        scale, unit = _si(vals)
        x = np.arange(len(fids))
        ax.bar(x, vals / scale, yerr=sd / scale if sd.any() else None, color=[colors[f] for f in fids], capsize=3)
        for xi, v in zip(x, vals):
            if v == 0:
                ax.text(xi, 0, "0", ha="center", va="bottom", fontsize=8)
        ax.set_title("GPU estimate (same operations)" if comp == "gpu" else comp, fontsize=9)
        ax.set_ylabel(unit if np.any(vals) else "", fontsize=8)
        ax.set_xticks(x, [])
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3, axis="y")
        if not np.any(vals):
            ax.set_ylim(0, 1)
            ax.set_yticks([])
            ax.text(0.5, 0.5, "0 at every fidelity", transform=ax.transAxes, ha="center", fontsize=8, color="0.3")
    for ax in axes.ravel()[len(comps):]:
        ax.set_axis_off()
    handles = [plt.Rectangle((0, 0), 1, 1, color=colors[f]) for f in fids]
    fig.legend(handles, fids, loc="center left", bbox_to_anchor=(1.0, 0.5), title="fidelity", fontsize=9)
    fig.suptitle("energy per " + ("training image" if which == "energy_train" else "test image (inference)")
                 + ", last epoch" + ("; mean over seeds, error bars: sd" if any(v is not None for v in spread.values())
                                    else "") + "; each panel on its own linear scale", fontsize=10)
    fig.tight_layout()
    return fig


def plot_conductances(conductances: dict):
    """conductances: {fidelity: [(G+, G-) per layer]} in S."""
    fids = list(conductances)
    n_layers = max(len(v) for v in conductances.values())
    fig, axes = plt.subplots(len(fids), n_layers, figsize=(4 * n_layers, 2.8 * len(fids)), squeeze=False)
    for r, fid in enumerate(fids):
        for k, (gp, gn) in enumerate(conductances[fid]):
            ax = axes[r, k]
            bins = np.linspace(min(gp.min(), gn.min()), max(gp.max(), gn.max()), 60)
            ax.hist(gp.ravel() * 1e6, bins * 1e6, alpha=0.6, label="G+")
            ax.hist(gn.ravel() * 1e6, bins * 1e6, alpha=0.6, label="G−")
            ax.set_title(f"{fid}: W{k + 1}", fontsize=9)
            ax.set_xlabel("conductance (µS)")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


#: circuit diagnostics of the report: (title, y label, [(variable, line style)])
DIAGNOSTIC_PANELS = (
    ("IR drop", "‖W_f − W_G‖ / ‖W_G‖", [("diag_ir_drop", "-")]),
    ("forward/backward asymmetry", "‖W_f − W_b‖ / ‖W_f‖", [("diag_asymmetry", "-")]),
    ("stale matrices between refreshes", "relative output error", [("diag_stale_error_mean", "-"),
                                                                   ("diag_stale_error_max", "--")]),
    ("wires' share of the read energy", "fraction", [("diag_wire_share", "-")]),
)


def plot_circuit_diagnostics(ds):
    """One panel per kind of quantity (linear axes, layers as lines); a quantity that is 0 or
    not recorded at every epoch says so in its panel instead of drawing an invisible line."""
    panels = [p for p in DIAGNOSTIC_PANELS if any(v in ds for v, _ in p[2])]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 3.2), squeeze=False)
    for ax, (title, ylabel, series) in zip(axes[0], panels):
        drawn, notes = 0, []
        for var, style in series:
            if var not in ds:
                continue
            kind = var.rsplit("_", 1)[-1] if var.startswith("diag_stale") else ""
            for k, layer in enumerate(ds.layer.values):
                y = np.asarray(ds[var].sel(layer=layer).values, dtype=float)
                name = f"{layer}" + (f" ({kind})" if kind else "")
                if not np.isfinite(y).any():
                    notes.append(f"{name}: not recorded")
                    continue
                if np.all(y[np.isfinite(y)] == 0):
                    notes.append(f"{name}: 0 at every epoch")
                ax.plot(ds.epoch, y, color=f"C{k}", ls=style, marker="o" if style == "-" else "s", ms=3,
                        mfc=f"C{k}" if style == "-" else "none", label=name)
                drawn += 1
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel, fontsize=8)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if drawn:
            ax.legend(fontsize=7)
        if not drawn:
            ax.set_xlim(float(ds.epoch.min()) - 0.5, float(ds.epoch.max()) + 0.5)
        if notes:
            ax.text(0.03, 0.97 if not drawn else 0.5, "\n".join(notes), transform=ax.transAxes, va="top", fontsize=7,
                    color="0.3")
    fig.tight_layout()
    return fig


def plot_stdp_curves(rule_ds, circuit_ds=None):
    """The rule's STDP curve (whole window and a zoom near Δt = 0) and, if measured, the SPICE
    coincidence-programming curve of each scheme (distinct markers: the schemes may coincide)."""
    n = 2 if circuit_ds is None else 3
    fig, axes = plt.subplots(1, n, figsize=(5.0 * n, 3.8), squeeze=False)
    draw_rule_stdp(axes[0, 0], axes[0, 1], rule_ds)
    if circuit_ds is not None:
        ax = axes[0, 2]
        styles = (("o-", "C0", 6), ("s--", "C1", 4), ("^:", "C2", 4))
        for k, scheme in enumerate(circuit_ds.scheme.values):
            style, color, ms = styles[k % len(styles)]
            ax.plot(circuit_ds.delay_s * 1e9, circuit_ds.dG_S.sel(scheme=scheme) * 1e6, style, color=color, ms=ms,
                    mfc="none", label=str(scheme))
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("post − pre pulse delay (ns)")
        ax.set_ylabel("ΔG of the selected device (µS)")
        ax.set_title("circuit (SPICE, compact model)", fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_ablation(rows: list[dict]):
    """Accuracy recovered by each switch (points; mean ± sd over seeds, single seeds as dots),
    one row per switch, the largest on top."""
    fig, ax = plt.subplots(figsize=(8, max(2.2, 0.5 * len(rows) + 1.2)))
    y = np.arange(len(rows))
    for k, r in enumerate(rows):
        rec = 100 * np.asarray(r["recovered"], dtype=float)
        m = np.nanmean(rec) if np.isfinite(rec).any() else np.nan
        sd = np.nanstd(rec, ddof=1) if np.isfinite(rec).sum() > 1 else 0.0
        color = "C3" if r["switch"].fidelity == "circuit" else "C0"
        ax.barh(k, m, xerr=sd if sd else None, color=color, alpha=0.7, capsize=3)
        ax.plot(rec, np.full(rec.shape, k), "k.", ms=4)
    ax.set_yticks(y, [r["switch"].label for r in rows])
    ax.invert_yaxis()
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlabel("test accuracy recovered by switching it off (points)")
    ax.set_title("which nonideality hurts most (bars: mean ± sd over seeds, dots: seeds; red: circuit)", fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
