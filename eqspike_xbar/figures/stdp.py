"""The STDP curve of the EqSpike learning rule (from :func:`eqspike_xbar.experiments.stdp.measure_stdp`).

Δt is a whole number of network steps and the rule's Δw jumps between neighbouring steps
near Δt = 0 (a spike and the state change it is paired with fall into the same step or
not), so the curve is drawn as points, not a line through them, with a zoom of |Δt| ≤
``ZOOM`` steps as grouped bars where every value can be read."""
from __future__ import annotations

import numpy as np

from . import plt

ZOOM = 5
SERIES = (("dw_pre_post", "pre spike × Δpost", "o", "C0"), ("dw_post_pre", "post spike × Δpre", "s", "C1"),
          ("dw_total", "total (shared weight)", "^", "k"))


def draw_rule_stdp(ax_full, ax_zoom, ds, zoom: int = ZOOM) -> None:
    """Whole curve (points) on ``ax_full``; |Δt| ≤ ``zoom`` as grouped bars on ``ax_zoom``."""
    x = np.asarray(ds.delta_t.values)
    series = [s for s in SERIES if s[0] in ds]
    for name, label, marker, color in series:
        ax_full.plot(x, ds[name].values, marker, ms=4, color=color, label=label, ls="none",
                     mfc="none" if name != "dw_total" else color)
    for ax in (ax_full, ax_zoom):
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="0.5", lw=0.5, ls=":")
        ax.grid(alpha=0.3)
    ax_full.axvspan(-zoom - 0.5, zoom + 0.5, color="0.9", zorder=0, label="zoom (right)")
    ax_full.set_xlabel("t_post − t_pre (steps)")
    ax_full.set_ylabel("Δw (before lr / (Bβ P))")
    ax_full.set_title("learning rule: whole window", fontsize=10)
    ax_full.legend(fontsize=7)
    near = np.abs(x) <= zoom
    width = 0.8 / len(series)
    for k, (name, label, _, color) in enumerate(series):
        ax_zoom.bar(x[near] + (k - (len(series) - 1) / 2) * width, ds[name].values[near], width, color=color,
                    alpha=0.85 if name == "dw_total" else 0.6, label=label)
    ax_zoom.set_xticks(np.arange(-zoom, zoom + 1))
    ax_zoom.set_xlabel("t_post − t_pre (steps)")
    ax_zoom.set_title(f"learning rule near Δt = 0 (|Δt| ≤ {zoom} steps)", fontsize=10)
    ax_zoom.legend(fontsize=7)


def plot_rule_stdp(ds):
    """Δw of the learning rule against the spike-time difference (a :func:`measure_stdp` Dataset)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    draw_rule_stdp(ax1, ax2, ds)
    fig.suptitle(f"EqSpike rule STDP ({ds.attrs['post_factor']} post factor, ε={ds.attrs['eps']})", fontsize=10)
    fig.tight_layout()
    return fig
