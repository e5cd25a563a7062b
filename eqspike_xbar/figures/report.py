"""Figures of the main job's report: learning curves, energy, conductances, circuit
diagnostics and STDP curves of every fidelity (plain data in, matplotlib figures out)."""
from __future__ import annotations

import numpy as np

from ..energy import COMPONENTS
from . import plt

FIDELITY_STYLE = {"ideal": "k-", "device": "C0-", "circuit": "C3-"}


def plot_learning_curves(metrics: dict):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for fid, ds in metrics.items():
        ax.plot(ds.epoch, 100 * ds.test_accuracy, FIDELITY_STYLE.get(fid, "-"), marker="o", ms=3, label=f"{fid} (test)")
        ax.plot(ds.epoch, 100 * ds.train_accuracy, FIDELITY_STYLE.get(fid, "-"), alpha=0.35, label=f"{fid} (train)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(max(0, ax.get_ylim()[0]), 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_energy(metrics: dict, which: str = "energy_train"):
    fids = list(metrics)
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(fids))
    bottom = np.zeros(len(fids))
    for comp in COMPONENTS:
        vals = np.array([float(metrics[f][which].isel(epoch=-1).sel(component=comp)) for f in fids])
        ax.bar(x, vals, bottom=bottom, label=comp)
        bottom += vals
    gpu = [float(metrics[f][which].isel(epoch=-1).sel(component="gpu")) for f in fids]
    ax.plot(x, gpu, "kx", ms=10, label="GPU estimate")
    ax.set_yscale("log")
    ax.set_xticks(x, fids)
    ax.set_ylabel("J per " + ("training image" if which == "energy_train" else "inference"))
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, axis="y")
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


def plot_circuit_diagnostics(ds):
    names = [n for n in ("diag_asymmetry", "diag_ir_drop", "diag_stale_error_mean", "diag_wire_share") if n in ds]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for n in names:
        for layer in ds.layer.values:
            ax.plot(ds.epoch, ds[n].sel(layer=layer), marker="o", ms=3, label=f"{n[5:]} {layer}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("relative (‖·‖ / ‖W‖) or fraction")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_stdp_curves(rule_ds, circuit_ds=None):
    n = 1 if circuit_ds is None else 2
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 3.8), squeeze=False)
    ax = axes[0, 0]
    ax.plot(rule_ds.delta_t, rule_ds.dw_pre_post, "o-", ms=3, label="pre spike × Δpost")
    ax.plot(rule_ds.delta_t, rule_ds.dw_total, "k^-", ms=3, label="total (shared weight)")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("t_post − t_pre (steps)")
    ax.set_ylabel("Δw (rule units)")
    ax.set_title("learning rule")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    if circuit_ds is not None:
        ax = axes[0, 1]
        for scheme in circuit_ds.scheme.values:
            ax.plot(circuit_ds.delay_s * 1e9, circuit_ds.dG_S.sel(scheme=scheme) * 1e6, "o-", ms=3, label=str(scheme))
        ax.axhline(0, color="k", lw=0.5)
        ax.set_xlabel("post − pre pulse delay (ns)")
        ax.set_ylabel("ΔG of the selected device (µS)")
        ax.set_title("circuit (SPICE, compact model)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
