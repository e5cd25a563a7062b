#!/usr/bin/env python3
"""Markdown tables from the update-scheme sweeps (finished or partial).

    .venv/bin/python scripts/scheme_table.py runs/<sweep-id>            # sweep_schemes: device x scheme
    .venv/bin/python scripts/scheme_table.py runs/<sweep-id> [runs/<run> ...] --float runs/<float-run> ...
                                           # sweep_best_scheme and/or run folders: device x seeds,
                                           # mean ± sd, one row per device and update setting
    .venv/bin/python scripts/scheme_table.py runs/<circuit-sweep> --float runs/<best-scheme-sweep> \
        [runs/<device-run> ...] --label "device fidelity"   # sweep_best_scheme_circuit against
                                           # the device sweep (run folders: devices it lacks)
    .venv/bin/python scripts/scheme_table.py runs/<sweep-id> --bits [--schemes runs/<schemes-sweep>]
                                           # sweep_bits: device x bits

Device x scheme: test accuracy after the sweep's epoch, pulses and energy per training image per
cell, with NeuroSim V3's published online-training accuracy (MLP 400-100-10, SGD; DESIGN.md)
beside each device. Device x seeds: test accuracy per epoch as mean ± sample sd over the seeds
finished, and the gap to the float runs given with ``--float`` (paired by seed where both
have it). Cells still pending print as "…"; failed ones as "failed".
"""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import xarray as xr

from eqspike_xbar.experiments.seeds import fmt_pct


def _pct(values) -> str:
    return "…" if len(values) == 0 else fmt_pct(values, one_seed=True, count=False)


NEUROSIM_V3 = {"ag_asi": "~72 %", "taox_hfox": "~80 %", "pcmo": "~33 %", "alox_hfo2": "~20 %",
               "epiram": "~92 %", "hzo_fefet": "~88 %"}


def _scheme_cost(point: Path) -> str:
    """The scheme's own energy per training image (programming + extra reads + digital memory)
    and its memory per synapse, from the point's metrics.nc."""
    m = xr.load_dataset(point / "metrics.nc")
    e = m.energy_train.isel(epoch=-1)
    own = sum(float(e.sel(component=c)) for c in ("programming", "scheme_reads", "digital_memory"))
    bits = float(m.attrs.get("update_bits_per_synapse", float("nan")))
    extra = int(m.attrs.get("update_extra_devices_per_synapse", 0))
    return f"{own * 1e9:,.1f} nJ, {bits:g} b" + (f" + {extra} dev" if extra else "")


def main(folder: str) -> int:
    ds = xr.load_dataset(Path(folder) / "sweep.nc")
    schemes = [str(v) for v in ds["synapses_update"].values]
    names = [s.split('"')[1] for s in schemes]
    print("Each cell: test accuracy after the epoch (pulses per training image; the scheme's own energy per "
          "training image = programming + extra reads + digital memory; memory per synapse in bits, + extra devices)\n")
    print("| device | " + " | ".join(names) + " | NeuroSim V3 online training |")
    print("|---" * (len(names) + 2) + "|")
    for dev in ds["synapses_device"].values:
        cells = []
        for sch in schemes:
            p = ds.sel(synapses_update=sch, synapses_device=dev)
            status = str(p["status"].values)
            if status != "ok":
                cells.append("…" if status == "pending" else status)
                continue
            acc = float(np.asarray(p["test_accuracy"]).ravel()[0])
            pulses = float(np.asarray(p["pulses_train_per_image"]).ravel()[0]) if "pulses_train_per_image" in p else float("nan")
            cost = _scheme_cost(Path(folder) / "points" / str(p["point_id"].values))
            cells.append(f"{100 * acc:.2f} % ({pulses:,.0f} pulses; {cost})")
        print(f"| {dev} | " + " | ".join(cells) + f" | {NEUROSIM_V3.get(str(dev), 'n/a')} |")
    return 0


def _runs(folders) -> list[tuple[str, int, xr.Dataset]]:
    """(device, seed, metrics) of each run folder."""
    out = []
    for f in folders:
        m = xr.load_dataset(Path(f) / "metrics.nc")
        cfg = tomllib.loads(m.attrs["config_toml"])
        out.append((str(cfg["synapses"].get("device", "")), int(cfg["run"]["seed"]), m))
    return out


def _setting(m: xr.Dataset) -> str:
    """The update setting of a run in words: the threshold in pulse steps it used, verify, χ bits."""
    cfg = tomllib.loads(m.attrs["config_toml"])
    upd = cfg.get("synapses", {}).get("update", {})
    if upd.get("scheme", "minibatch_sum") not in ("mixed_precision", "tiki_taka"):
        return f"`{upd.get('scheme', 'minibatch_sum')}`"
    steps = m.attrs.get("update_threshold_steps")
    if steps is None:  # a run of a build that did not record it: resolve the config's threshold
        from eqspike_xbar.config import config_from_dict
        from eqspike_xbar.synapses.schemes import threshold_steps

        steps = threshold_steps(config_from_dict(cfg).synapses)
    words = [f"θ = {float(steps):g}" + (" (auto)" if upd.get("threshold") == "auto" else "")]
    verify = upd.get("verify", False)
    if verify:
        words.append("verify" + (" bounded" if verify == "bounded" else ""))
    if upd.get("accumulator_bits", 0):
        words.append(f"{upd['accumulator_bits']}-bit χ")
    return ", ".join(words)


def _groups(folders) -> dict[tuple[str, str], dict[int, xr.Dataset]]:
    """(device, setting) -> {seed: metrics} of the finished runs in sweep folders (device x seeds)
    and run folders, in the order given."""
    out: dict[tuple[str, str], dict[int, xr.Dataset]] = {}
    for f in folders:
        if (Path(f) / "sweep.nc").exists():
            ds = xr.load_dataset(Path(f) / "sweep.nc")
            for dev in ds["synapses_device"].values:
                runs = _sweep_runs(ds, f, dev)
                if not runs:
                    out.setdefault((str(dev), "…"), {})
                for seed, m in runs.items():
                    out.setdefault((str(dev), _setting(m)), {})[seed] = m
        elif (Path(f) / "metrics.nc").exists():
            for dev, seed, m in _runs([f]):
                out.setdefault((dev, _setting(m)), {})[seed] = m
        else:
            raise SystemExit(f"scheme_table.py: {f} is neither a sweep folder (sweep.nc) nor a run folder (metrics.nc)")
    return {k: v for k, v in out.items() if v or not any(d == k[0] and w != "…" for d, w in out)}


def _sweep_runs(ds: xr.Dataset, folder, dev) -> dict[int, xr.Dataset]:
    """The finished runs of one device of a device x seeds sweep (``ds``: its sweep.nc), by seed."""
    if dev not in ds["synapses_device"].values:
        return {}
    out = {}
    for seed in ds["seed"].values:
        p = ds.sel(synapses_device=dev, seed=seed)
        if str(p["status"].values) == "ok":
            out[int(seed)] = xr.load_dataset(Path(folder) / "points" / str(p["point_id"].values) / "metrics.nc")
    return out


def seeds_table(folders, ref_folders=(), label: str = "float network") -> int:
    """Device x seeds: accuracy per epoch (mean ± sd), gap to the reference (run folders, or a
    device x seeds sweep folder: then per device), paired by seed, pulses per training image in
    the last epoch, training energy per image. ``folders``: device x seeds sweep folders and/or
    run folders; one row per device and update setting."""
    groups = _groups(folders)  # every folder checked before anything is printed
    ref_sweep = next((f for f in ref_folders if (Path(f) / "sweep.nc").exists()), None)
    ref_ds = xr.load_dataset(Path(ref_sweep) / "sweep.nc") if ref_sweep else None
    runs_given = _runs([f for f in ref_folders if f != ref_sweep])
    ref_runs = {seed: m for _, seed, m in runs_given}
    if ref_runs and not ref_sweep:
        acc = [m.test_accuracy.values for m in ref_runs.values()]
        print(f"Reference, {label} ({len(acc)} seeds): " + " / ".join(
            _pct([a[e] for a in acc]) for e in range(min(len(a) for a in acc))) + "\n")
    rows, n_epochs = [], 0
    for (dev, setting), runs in groups.items():
        ref = _sweep_runs(ref_ds, ref_sweep, dev) if ref_sweep else ref_runs
        if ref_sweep and not ref:  # a device the sweep has not reached: the run folders given for it
            ref = {seed: m for d, seed, m in runs_given if d == str(dev)}
        ref_acc = {s: m.test_accuracy.values for s, m in ref.items()}
        if not runs:
            rows.append(f"| {dev} | … | … |" + (" |" if ref_sweep else "") + " | | | 0 |")
            continue
        acc = np.array([m.test_accuracy.values for m in runs.values()])
        n_epochs = max(n_epochs, acc.shape[1])
        last = acc.shape[1] - 1
        per_epoch = " / ".join(_pct(acc[:, e]) for e in range(acc.shape[1]))
        ref_cell = (_pct([a[last] for a in ref_acc.values()]) + " | ") if ref_sweep else ""
        gaps = [ref_acc[s][last] - m.test_accuracy.values[-1] for s, m in runs.items() if s in ref_acc]
        gap = ("–" if not gaps else f"{100 * np.mean(gaps):.2f}" + (f" ± {100 * np.std(gaps, ddof=1):.2f}" if len(gaps) > 1 else "")
               + " points (" + " / ".join(f"{100 * g:.2f}" for g in gaps) + ")")
        pulses = np.mean([float(m.pulses_train_per_image.values[-1]) for m in runs.values()])
        energy = np.mean([float(m.energy_train_total_J.values[-1]) for m in runs.values()])
        rows.append(f"| {dev} | {setting} | {per_epoch} | {ref_cell}{gap} | {pulses:,.1f} | {energy * 1e6:.2f} µJ | {len(runs)} |")
    epochs = " / ".join(map(str, range(1, n_epochs + 1))) or "…"
    print(f"| device | update | test accuracy, epochs {epochs} | " + (f"last epoch, {label} | " if ref_sweep else "")
          + f"below the {label} (paired by seed) | pulses / training image (last epoch) | training energy / image | seeds |")
    print("|---|---|---|---|---|---|---|" + ("---|" if ref_sweep else ""))
    print("\n".join(rows))
    return 0


def _schemes_float32(folder: str | None) -> dict[str, float]:
    """Test accuracy of the device x scheme sweep's mixed_precision cells (float32 χ), by device."""
    if not folder:
        return {}
    ds = xr.load_dataset(Path(folder) / "sweep.nc")
    out = {}
    for sch in ds["synapses_update"].values:
        if "mixed_precision" not in str(sch):
            continue
        for dev in ds["synapses_device"].values:
            p = ds.sel(synapses_update=sch, synapses_device=dev)
            if str(p["status"].values) == "ok":
                out[str(dev)] = float(p["test_accuracy"])
    return out


def bits_table(folder: str, schemes_folder: str | None = None) -> int:
    """Device x accumulator bits sweep: test accuracy per cell (0 = float32; a float32 cell the
    sweep has not run is taken from the device x scheme sweep's mixed_precision column, marked †)."""
    ds = xr.load_dataset(Path(folder) / "sweep.nc")
    f32 = _schemes_float32(schemes_folder)
    bits = [int(b) for b in ds["synapses_update_accumulator_bits"].values]
    order = sorted(range(len(bits)), key=lambda i: (bits[i] == 0, bits[i]))
    print("| device | " + " | ".join("float32" if bits[i] == 0 else f"{bits[i]} bits" for i in order) + " |")
    print("|---" * (len(bits) + 1) + "|")
    for dev in ds["synapses_device"].values:
        cells = []
        for i in order:
            p = ds.sel(synapses_device=dev, synapses_update_accumulator_bits=bits[i])
            status = str(p["status"].values)
            if status != "ok" and bits[i] == 0 and str(dev) in f32:
                cells.append(f"{100 * f32[str(dev)]:.2f} % †")
                continue
            cells.append(f"{100 * float(p['test_accuracy']):.2f} %" if status == "ok" else
                         ("…" if status == "pending" else status))
        print(f"| {dev} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sweep", nargs="+", help="sweep folder (runs/<sweep-id>); with --float also run folders, one "
                    "row per device and update setting")
    ap.add_argument("--float", nargs="*", default=None, help="reference run folders (float network) or a device x seeds sweep folder: device x seeds table")
    ap.add_argument("--label", default="float network", help="what the --float runs are (default: float network)")
    ap.add_argument("--bits", action="store_true", help="device x accumulator-bits table")
    ap.add_argument("--schemes", default=None, help="with --bits: the device x scheme sweep, for float32 cells")
    a = ap.parse_args()
    if a.float is not None:
        sys.exit(seeds_table(a.sweep, a.float, a.label))
    if len(a.sweep) > 1:
        ap.error("several folders only with --float (device x seeds)")
    if a.bits:
        sys.exit(bits_table(a.sweep[0], a.schemes))
    sys.exit(main(a.sweep[0]))
