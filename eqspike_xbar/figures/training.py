"""The learning curve of one training run (from its metrics Dataset)."""
from __future__ import annotations

from . import plt


def plot_learning_curve(ds):
    """Accuracy (train/validation/test) and training cost per epoch from a metrics Dataset."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    e = ds.epoch.values
    for name, style in (("train_accuracy", "-"), ("validation_accuracy", "--"), ("test_accuracy", "-")):
        ax1.plot(e, 100 * ds[name].values, style, marker="o", ms=3, label=name.replace("_accuracy", ""))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("accuracy (%)")
    ax1.grid(alpha=0.3)
    ax1.legend()
    last = float(ds.test_accuracy.values[-1]) if len(e) else float("nan")
    ax1.set_title(f"{ds.attrs.get('dataset', '')}: test {100 * last:.2f} % after {len(e)} epochs")
    ax2.plot(e, ds.train_cost.values, marker="o", ms=3)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training cost ½‖y − s_out‖²")
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig
