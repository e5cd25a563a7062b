"""Device figures: LTP/LTD curves with their variability band; fit quality and residuals; a
SPICE characterisation against the fitted model."""
from __future__ import annotations

import numpy as np

from ..devices.fitting import FitResult
from ..devices.model import ltp_ltd_sweep
from ..devices.params import DeviceParams, Effects
from ..io import save_figure
from . import plt


def plot_device(params: DeviceParams, path, n_devices: int = 200, seed: int = 0):
    """LTP then LTD sweep: nominal curve, mean and 5–95 % band of ``n_devices`` devices."""
    nominal = ltp_ltd_sweep(params, 1, seed, Effects(c2c=False, d2d=False, stuck=False, read_noise=False))[:, 0]
    population = ltp_ltd_sweep(params, n_devices, seed, Effects(stuck=False, read_noise=False))
    x = np.arange(nominal.size)
    k, unit = (1e9, "nS") if params.conductance.gmax_S < 1e-6 else (1e6, "µS")
    fig, ax = plt.subplots(figsize=(7, 4))
    lo, hi = np.percentile(population, [5, 95], axis=1)
    ax.fill_between(x, lo * k, hi * k, alpha=0.3, label=f"5–95 % of {n_devices} devices (C2C + D2D)")
    ax.plot(x, population.mean(axis=1) * k, lw=1, label="population mean")
    ax.plot(x, nominal * k, "k", lw=1.5, label="nominal device")
    ax.axvline(params.conductance.levels * 1.1, color="grey", ls=":", lw=1)
    ax.set_xlabel("pulse number (LTP, then LTD)")
    ax.set_ylabel(f"conductance ({unit})")
    nl = params.nonlinearity
    ax.set_title(f"{params.name}: NL {nl.ltp:g}/{nl.ltd:g}, levels {params.conductance.levels}/"
                 f"{params.conductance.pulses_ltd}, C2C σ {params.noise.c2c_sigma:g}")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_fit(result: FitResult, fit_path, residual_path):
    """Fit quality (data and model against pulse position) and residual figures."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    # the LTD curve's position counts up from Gmin; a depression is read from Gmax down, so its
    # panel counts the depression pulses applied: Pmax_LTD − position
    p_ltd = result.params.conductance.pulses_ltd
    panels = ((axes[0], 1, "potentiation (LTP)", "potentiation pulses applied (from Gmin)", lambda x: x),
              (axes[1], -1, "depression (LTD)", "depression pulses applied (from Gmax)", lambda x: p_ltd - x))
    for ax, d, title, xlabel, to_x in panels:
        for dev in result.devices:
            for f in dev.ramps:
                if f.ramp.direction != d:
                    continue
                x = to_x(np.asarray(f.position, dtype=float))
                ax.plot(x, f.ramp.g * 1e6, ".", ms=1.5, alpha=0.4, color="C0")
                ax.plot(x, f.g_fit * 1e6, "-", lw=0.8, color="C3")
        ax.set_title(f"{title}: data (dots), fit (lines)")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("conductance (µS)")
        ax.set_xlim(left=0)
    save_figure(fig, fit_path)

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    rng_S = np.median([dev.range_S for dev in result.devices])
    all_r = []
    for dev in result.devices:
        for f in dev.ramps:
            r = f.residual / rng_S * 100
            all_r.append(r)
            axes[0].plot(np.arange(r.size), r, ".", ms=1, alpha=0.3, color="C0" if f.ramp.direction > 0 else "C1")
            axes[2].plot(f.ramp.cycle, r.mean(), "o" if f.ramp.direction > 0 else "s", ms=3,
                         color="C0" if f.ramp.direction > 0 else "C1")
    axes[0].set_xlabel("pulse index within ramp (blue LTP, orange LTD)")
    axes[0].set_ylabel("residual (% of Gmax − Gmin)")
    axes[1].hist(np.concatenate(all_r), bins=60)
    axes[1].set_xlabel("residual (% of range)")
    axes[1].set_title("residual histogram")
    axes[2].set_xlabel("cycle")
    axes[2].set_ylabel("mean residual of ramp (% of range)")
    axes[2].set_title("cycle-to-cycle drift")
    return save_figure(fig, residual_path)


def plot_characterisation(result, path):
    """ngspice pulse-train conductances against the fitted behavioural model, and their difference."""
    fig, ax = plt.subplots(2, 1, figsize=(8, 5), sharex=True)
    x = np.arange(result.g_spice.size)
    ax[0].plot(x, result.g_spice * 1e6, ".", ms=2, label="ngspice")
    ax[0].plot(x, result.g_model * 1e6, "-", lw=1, label="fitted behavioural model")
    ax[0].set_ylabel("conductance (µS)")
    ax[0].legend()
    ax[1].plot(x, 100 * result.error_frac)
    ax[1].set_ylabel("|ΔG| (% of range)")
    ax[1].set_xlabel("pulse number")
    return save_figure(fig, path)
