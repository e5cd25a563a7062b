"""The STDP curve of the EqSpike learning rule (from :func:`eqspike_xbar.experiments.stdp.measure_stdp`)."""
from __future__ import annotations

from . import plt


def plot_rule_stdp(ds):
    """Δw of the learning rule against the spike-time difference (a :func:`measure_stdp` Dataset)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    x = ds.delta_t.values
    ax.axhline(0, color="k", lw=0.5)
    ax.axvline(0, color="k", lw=0.5)
    ax.plot(x, ds.dw_pre_post, "o-", ms=3, label="pre spike × Δpost")
    ax.plot(x, ds.dw_post_pre, "s--", ms=3, label="post spike × Δpre")
    ax.plot(x, ds.dw_total, "k^-", ms=4, label="total (shared weight)")
    ax.set_xlabel("t_post − t_pre (steps)")
    ax.set_ylabel("Δw (before lr / (Bβ P))")
    ax.set_title(f"EqSpike rule STDP ({ds.attrs['post_factor']} post factor, ε={ds.attrs['eps']})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig
