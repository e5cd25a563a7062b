"""Which nonideality hurts most? The main job's device fidelity re-run with each effect of the
configured device switched off in turn (``synapses.effects_off``), and the circuit fidelity
with ideal wires, ranked by the test accuracy each switch recovers (mean ± sd over seeds,
paired by seed).

Only effects the device has are switched off (a device without drift gains nothing from
``drift`` off); the others are listed as absent. The ablation may train fewer epochs than the
main runs: its reference is then the main runs' own accuracy after that many epochs (a run's
first N epochs do not depend on how many follow: every epoch draws from (seed, epoch) and the
learning-rate decay depends on the epoch only), so no baseline is trained twice.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import xarray as xr

from ..config_tools import merge

#: device effects that switch off together (the issue's "nonlinearity/asymmetry": one pulse-response shape)
GROUPS = {"nonlinearity": ("nonlinearity", "asymmetry")}
LABELS = {
    "nonlinearity": "nonlinearity & asymmetry of the pulse response",
    "quantization": "level quantisation",
    "c2c": "cycle-to-cycle noise (C2C)",
    "d2d": "device-to-device spread (D2D)",
    "stuck": "stuck-at faults",
    "read_noise": "read noise",
    "drift": "drift",
    "iv_nonlinearity": "read I–V nonlinearity",
    "half_select": "half-select disturb",
}
WIRES = "wires"


def _levels_ltd(p) -> int:
    return p.conductance.levels_ltd or p.conductance.levels


#: does the device have the effect at all? (one entry per field of devices.Effects; a test checks it)
PRESENT = {
    "nonlinearity": lambda p: p.nonlinearity.ltp != 0 or p.nonlinearity.ltd != 0,
    "asymmetry": lambda p: p.nonlinearity.ltd != -p.nonlinearity.ltp or _levels_ltd(p) != p.conductance.levels,
    "quantization": lambda p: True,  # a finite number of pulses per sweep
    "c2c": lambda p: p.noise.c2c_sigma > 0,
    "d2d": lambda p: any(getattr(p.d2d, f.name) > 0 for f in dataclasses.fields(p.d2d) if f.name != "source"),
    "stuck": lambda p: p.faults.stuck_gmin_rate > 0 or p.faults.stuck_gmax_rate > 0,
    "read_noise": lambda p: p.noise.read_sigma > 0,
    "drift": lambda p: p.drift.nu > 0,
    "iv_nonlinearity": lambda p: p.iv.v0_V > 0,
    "half_select": lambda p: p.half_select.set_rel > 0 or p.half_select.reset_rel > 0 or p.half_select.voltage_V > 0,
}


@dataclasses.dataclass(frozen=True)
class Switch:
    """One ablation: a name, what it switches off, the fidelity it runs at."""

    name: str
    label: str
    effects_off: tuple[str, ...]
    fidelity: str  # "device" (an effect) or "circuit" (the wires)


def switches(cfg, params, fidelities) -> tuple[list[Switch], list[str]]:
    """The ablations for the configured device (``params``: its resolved DeviceParams) and the
    effects it does not have (or that the config already switches off): (switches, absent)."""
    from ..devices import Effects

    already = set(cfg.synapses.effects_off)
    out, absent = [], []
    if "device" in fidelities:
        grouped = {e for g in GROUPS.values() for e in g}
        names = [f.name for f in dataclasses.fields(Effects)]
        for name in names:
            if name in grouped and name not in GROUPS:
                continue
            members = GROUPS.get(name, (name,))
            on = [m for m in members if m not in already and PRESENT[m](params)]
            if not on:
                absent.append(LABELS.get(name, name))
                continue
            out.append(Switch(name, LABELS.get(name, name), tuple(sorted(already | set(on))), "device"))
    if "circuit" in fidelities:
        cc = cfg.synapses.circuit
        if cc.r_wordline_ohm > 0 or cc.r_bitline_ohm > 0:
            out.append(Switch(WIRES, f"wire resistance ({cc.r_wordline_ohm:g} / {cc.r_bitline_ohm:g} Ω per segment → 0)",
                              tuple(sorted(already)), "circuit"))
        else:
            absent.append("wire resistance (already 0 Ω)")
    return out, absent


def switch_config(fidelity_config: dict, sw: Switch, epochs: int) -> dict:
    from ..synapses.schemes import held_auto_threshold

    # 'auto' θ follows the device's C2C noise: the switch keeps the θ the device has, so that
    # switching C2C off measures the noise, not a smaller firing threshold too
    over = merge(held_auto_threshold(fidelity_config),
                 {"learning": {"epochs": int(epochs)}, "synapses": {"effects_off": list(sw.effects_off)}})
    if sw.name == WIRES:
        over["synapses"]["circuit"] = {"r_wordline_ohm": 0.0, "r_bitline_ohm": 0.0}
    return merge(fidelity_config, over)


def folder(run_dir: Path, sw: Switch, seed: int) -> Path:
    return Path(run_dir) / "ablation" / sw.name / f"seed{seed}"


#: epochs averaged for the ranking (single-epoch test accuracy of a device run jumps by points)
WINDOW = 3


def window(epochs: int) -> range:
    """The epochs whose test accuracy is averaged: the last ``WINDOW`` up to ``epochs``."""
    return range(max(1, epochs - WINDOW + 1), epochs + 1)


def at_epoch(ds: xr.Dataset, var: str, epochs: int) -> np.ndarray:
    """``var`` averaged over :func:`window` (``epochs``), per seed (one value without seeds)."""
    v = ds[var].sel(epoch=list(window(epochs))).mean("epoch")
    return np.atleast_1d(v.values).astype(float)


def ranking(switch_metrics: dict, reference: dict, epochs: int) -> list[dict]:
    """Rows sorted by accuracy recovered: {switch, accuracy, reference, recovered} (per seed).
    ``switch_metrics``: {Switch: metrics Dataset}; ``reference``: {fidelity: main metrics}."""
    rows = []
    for sw, ds in switch_metrics.items():
        acc = at_epoch(ds, "test_accuracy", epochs)
        ref = at_epoch(reference[sw.fidelity], "test_accuracy", epochs)
        rows.append({"switch": sw, "accuracy": acc, "reference": ref, "recovered": acc - ref})
    rows.sort(key=lambda r: -np.nanmean(r["recovered"]))
    return rows
