"""The learning curve of one training run (from its metrics Dataset), with a band over seeds
when the Dataset has a ``seed`` dimension."""
from __future__ import annotations

import numpy as np

from . import plt


def draw_band(ax, ds, name: str, scale: float = 1.0, color=None, label: str = "", **style):
    """``ds[name]`` against epoch: one line, or with seeds the mean, a min–max band and a thin
    line per seed. Returns the mean line."""
    e = ds.epoch.values
    v = scale * ds[name]
    if "seed" not in v.dims:
        (line,) = ax.plot(e, v.values, color=color, label=label, marker="o", ms=3, **style)
        return line
    n = v.sizes["seed"]
    (line,) = ax.plot(e, v.mean("seed").values, color=color, marker="o", ms=3,
                      label=f"{label} (mean of {n} seeds, band: min–max)" if label else None, **style)
    ax.fill_between(e, v.min("seed").values, v.max("seed").values, color=line.get_color(), alpha=0.18, lw=0)
    for s in v.seed.values:
        ax.plot(e, v.sel(seed=s).values, color=line.get_color(), lw=0.6, alpha=0.5)
    return line


def plot_learning_curve(ds):
    """Accuracy (train/validation/test) and training cost per epoch from a metrics Dataset."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    e = ds.epoch.values
    for name, style in (("train_accuracy", "-"), ("validation_accuracy", "--"), ("test_accuracy", "-")):
        draw_band(ax1, ds, name, 100, label=name.replace("_accuracy", ""), ls=style)
    ax1.set_xlabel("epoch")
    for ax in (ax1, ax2):
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax1.set_ylabel("accuracy (%)")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    test = 100 * ds.test_accuracy.isel(epoch=-1).values if len(e) else np.array(float("nan"))
    if np.ndim(test):
        sd = np.nanstd(test, ddof=1) if np.isfinite(test).sum() > 1 else 0.0
        title = f"test {np.nanmean(test):.2f} ± {sd:.2f} % ({test.size} seeds) after {len(e)} epochs"
    else:
        title = f"test {float(test):.2f} % after {len(e)} epochs"
    ax1.set_title(f"{ds.attrs.get('dataset', '')}: {title}", fontsize=10)
    draw_band(ax2, ds, "train_cost")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training cost ½‖y − s_out‖²")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig
