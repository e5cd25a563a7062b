"""Figures of the coincidence-programming measurements (from the run's xarray Dataset)."""
from __future__ import annotations

import numpy as np

from ..io import save_figure
from . import plt


def plot_pulse_response(ds, path):
    """Selected cell in the array (both schemes) vs isolated device vs calibrated model; ΔG vs G."""
    i, j = int(ds.attrs["selected_row"]), int(ds.attrs["selected_col"])
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    x = ds.event.values
    for s in ds.scheme.values:
        ax[0].plot(x, ds.g_array_S.sel(scheme=s, row=i, col=j) * 1e6, ".", ms=3, label=f"in array, {s}")
    ax[0].plot(x, ds.g_isolated_S * 1e6, "k-", lw=0.8, label="isolated device")
    ax[0].plot(x, ds.g_model_S * 1e6, "r--", lw=0.8, label=f"calibrated model ({ds.attrs['calibrated_scheme']})")
    ax[0].set_xlabel("coincidence event (LTP, then LTD)")
    ax[0].set_ylabel("conductance of the selected cell (µS)")
    ax[0].legend(fontsize=8)
    pol = ds.event_polarity.values
    for s in ds.scheme.values:
        g = ds.g_array_S.sel(scheme=s, row=i, col=j).values
        for p, m in ((1, "^"), (-1, "v")):
            k = pol == p
            ax[1].plot(g[:-1][k] * 1e6, np.diff(g)[k] * 1e6, m, ms=3, label=f"{s} {'LTP' if p > 0 else 'LTD'}")
    ax[1].axhline(0, color="grey", lw=0.5)
    ax[1].set_xlabel("conductance before the pulse (µS)")
    ax[1].set_ylabel("ΔG per pulse (µS)")
    ax[1].legend(fontsize=8)
    ax[1].set_title(f"{ds.attrs['rows']}x{ds.attrs['cols']} array, {ds.attrs['amplitude_V']:g} V, "
                    f"{ds.attrs['width_s'] * 1e9:g} ns, wires {ds.attrs['r_wire_ohm']:g} Ω/segment", fontsize=9)
    return save_figure(fig, path)


def plot_disturb(ds, path):
    """Half-selected and unselected disturb per pulse against the amplitude, both schemes."""
    fig, ax = plt.subplots(figsize=(7, 4))
    amps = ds.amplitude_V.values
    for s, color in zip(ds.scheme.values, ("C0", "C1")):
        for role, style in (("row", "-o"), ("col", "--s"), ("unselected", ":^")):
            d = ds.disturb.sel(scheme=s, role=role, stat="max_abs").max("direction").values
            ax.semilogy(amps, np.maximum(d, 1e-12), style, color=color, ms=4, label=f"{s} {role}")
    ax.axhline(1e-12, color="grey", lw=0.5)
    ax.set_xlabel("amplitude across the selected cell (V)")
    ax.set_ylabel("max |ΔG| per pulse / (Gmax − Gmin)\n(1e-12 = no change)")
    ax.set_title("half-select disturb (VTEAM threshold 1 V)")
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def plot_stdp(ds, path):
    """ΔG of the selected cell against the pre→post delay, both schemes and polarities."""
    fig, ax = plt.subplots(figsize=(7, 4))
    d = ds.delay_s.values * 1e9
    for s, color in zip(ds.scheme.values, ("C0", "C1")):
        for p, style in ((1, "-o"), (-1, "--s")):
            ax.plot(d, ds.stdp_dG_S.sel(scheme=s, polarity=p) * 1e6, style, color=color, ms=4,
                    label=f"{s}, {'LTP' if p > 0 else 'LTD'}")
    ax2 = ax.twinx()
    ax2.plot(d, ds.overlap_s.values * 1e9, color="grey", lw=0.8)
    ax2.set_ylabel("pulse overlap (ns, grey)")
    ax.axhline(0, color="grey", lw=0.5)
    ax.set_xlabel("delay t_post − t_pre (ns)")
    ax.set_ylabel("ΔG of the selected cell (µS)")
    ax.legend(fontsize=8)
    return save_figure(fig, path)
