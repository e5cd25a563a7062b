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

from eqspike_xbar.config_tools import dotted
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


def _sweep(folder, dims) -> xr.Dataset:
    """A sweep folder's sweep.nc, checked to have the axes ``dims``."""
    if not (Path(folder) / "sweep.nc").exists():
        _fail(f"{folder} is not a sweep folder (no sweep.nc)")
    ds = xr.load_dataset(Path(folder) / "sweep.nc")
    missing = [d for d in dims if d not in ds.dims]
    if missing:
        _fail(f"{folder}: this table needs a sweep over {' and '.join(dims)}; it has no {', '.join(missing)}")
    return ds


def main(folder: str) -> int:
    ds = _sweep(folder, ("synapses_update", "synapses_device"))
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


def _fail(msg: str):
    raise SystemExit(f"scheme_table.py: {msg}")


def _runs(folders) -> list[tuple[str, int, xr.Dataset]]:
    """(device, seed, metrics) of each run folder; a folder trained with several seeds
    (``train --seeds``) gives one entry per seed."""
    out = []
    for f in folders:
        if not (Path(f) / "metrics.nc").exists():
            _fail(f"{f} is not a run folder (no metrics.nc)")
        m = xr.load_dataset(Path(f) / "metrics.nc")
        cfg = tomllib.loads(m.attrs["config_toml"])
        dev = str(cfg["synapses"].get("device", ""))
        if "seed" in m.dims:
            out += [(dev, int(seed), m.sel(seed=seed)) for seed in m.seed.values]
        else:
            out.append((dev, int(cfg["run"]["seed"]), m))
    return out


def _point_runs(folder) -> tuple[list[tuple[str, int, xr.Dataset]], list[str]]:
    """(device, seed, metrics) of every finished point of a sweep folder (whatever its axes) or of
    a run folder; and the devices of a sweep's points still pending or failed."""
    p = Path(folder)
    if (p / "sweep.nc").exists():
        ds = xr.load_dataset(p / "sweep.nc")
        status, ids = ds["status"], ds["point_id"]
        done, open_devices = [], []
        for idx in np.ndindex(status.shape):
            if str(status.values[idx]) == "ok":
                done += _runs([p / "points" / str(ids.values[idx])])
            elif "synapses_device" in status.dims:
                open_devices.append(str(status[dict(zip(status.dims, idx))]["synapses_device"].values))
        return done, open_devices
    if (p / "metrics.nc").exists():
        return _runs([p]), []
    _fail(f"{folder} is neither a sweep folder (sweep.nc) nor a run folder (metrics.nc)")


def _setting(m: xr.Dataset) -> tuple[str, bool]:
    """The update setting of a run in words: the scheme, the threshold in pulse steps it used,
    verify, χ bits; and whether an 'auto' threshold was resolved now from today's device
    library (a run of a build that did not record the value it used)."""
    cfg = tomllib.loads(m.attrs["config_toml"])
    upd = cfg.get("synapses", {}).get("update", {})
    scheme = upd.get("scheme", "minibatch_sum")
    pairs = int(cfg.get("synapses", {}).get("devices_per_weight", 1))
    per_weight = f", {pairs} pairs per weight" if pairs > 1 else ""
    if scheme not in ("mixed_precision", "tiki_taka"):
        return f"`{scheme}`{per_weight}", False
    steps = m.attrs.get("update_threshold_steps")
    resolved = False
    if steps is None:  # a run of a build that did not record it: resolve the config's threshold now
        from eqspike_xbar.config import config_from_dict
        from eqspike_xbar.synapses.schemes import threshold_steps

        steps = threshold_steps(config_from_dict(cfg).synapses)
        resolved = upd.get("threshold") == "auto"
    words = [(f"`{scheme}` " if scheme != "mixed_precision" else "") + f"θ = {float(steps):g}"
             + (" (auto)" if upd.get("threshold") == "auto" else "")]
    verify = upd.get("verify", False)
    if verify:
        words.append("verify" + (" bounded" if verify == "bounded" else ""))
    if upd.get("accumulator_bits", 0):
        each = scheme == "mixed_precision" and upd.get("accumulator_rounding", "minibatch") == "event"
        words.append(f"{upd['accumulator_bits']}-bit χ" + (" (each event rounded)" if each else
                                                           " + minibatch register" if scheme == "mixed_precision" else ""))
    return ", ".join(words) + per_weight, resolved


def _rest(m: xr.Dataset) -> dict:
    """Every setting of a run but its seed, name and data folder, and the circuit's unless it ran
    at circuit fidelity (runs that differ in any of them are never pooled as seeds of one row)."""
    cfg = tomllib.loads(m.attrs["config_toml"])
    circuit = cfg.get("synapses", {}).get("backend") == "circuit"
    return {k: repr(v) for k, v in dotted(cfg).items() if not k.startswith("run.") and k != "data.data_dir"
            and (circuit or not k.startswith("synapses.circuit."))}


def _same(a: dict, b: dict) -> bool:
    """Settings agree on every key both runs have (a key only one build knows does not split)."""
    return all(a[k] == b[k] for k in a.keys() & b.keys())


def _groups(folders) -> dict[tuple[str, str], dict[int, xr.Dataset]]:
    """(device, setting in words) -> {seed: metrics} of the finished runs of sweep folders and run
    folders, in the order given (every folder checked first). Runs that differ in any other
    setting get rows of their own, the differing settings added to the words; a run that has
    not finished its epochs is left out, and a seed given twice is kept once; both are said on
    stderr."""
    found, pending = [], []
    for f in folders:
        done, open_devices = _point_runs(f)
        found += done
        pending += open_devices
    groups: list[dict] = []  # {dev, words, rest, resolved, runs}
    for dev, seed, m in found:
        epochs = int(tomllib.loads(m.attrs["config_toml"])["learning"]["epochs"])
        if int(m.test_accuracy.notnull().sum()) < epochs:
            print(f"scheme_table.py: a {dev} run (seed {seed}) has not finished its {epochs} epochs: left out",
                  file=sys.stderr)
            continue
        words, resolved = _setting(m)
        rest = _rest(m)
        g = next((g for g in groups if g["dev"] == dev and g["words"] == words and _same(g["rest"], rest)), None)
        if g is None:
            g = {"dev": dev, "words": words, "rest": rest, "resolved": False, "runs": {}}
            groups.append(g)
        if seed in g["runs"]:
            print(f"scheme_table.py: {dev} {words} seed {seed} given twice: the first kept", file=sys.stderr)
            continue
        g["runs"][seed] = m
        g["resolved"] |= resolved
    out: dict[tuple[str, str], dict[int, xr.Dataset]] = {}
    for g in groups:
        words = g["words"] + (" ‡" if g["resolved"] else "")
        twins = [t["rest"] for t in groups if t is not g and t["dev"] == g["dev"] and t["words"] == g["words"]]
        if twins:  # same words, other settings: name what differs
            differ = sorted(k for k in g["rest"] if any(k in t and t[k] != g["rest"][k] for t in twins))
            words += " (" + ", ".join(f"{k} = {g['rest'][k]}" for k in differ) + ")"
        out[(g["dev"], words)] = g["runs"]
    for dev in dict.fromkeys(pending):
        if not any(d == dev for d, _ in out):
            out[(dev, "…")] = {}
    return out


def seeds_table(folders, ref_folders=(), label: str = "float network") -> int:
    """Device x seeds: accuracy per epoch (mean ± sd), gap to the reference (run folders, or a
    device x seeds sweep folder: then per device), paired by seed, pulses per training image in
    the last epoch, training energy per image. ``folders``: device x seeds sweep folders and/or
    run folders; one row per device and update setting."""
    groups = _groups(folders)  # every folder checked before anything is printed
    ref_sweep = next((f for f in ref_folders if (Path(f) / "sweep.nc").exists()), None)
    ref_sweep_runs = _point_runs(ref_sweep)[0] if ref_sweep else []
    runs_given = _runs([f for f in ref_folders if f != ref_sweep])
    ref_runs = {seed: m for _, seed, m in runs_given}
    if ref_runs and not ref_sweep:
        acc = [m.test_accuracy.values for m in ref_runs.values()]
        print(f"Reference, {label} ({len(acc)} seeds): " + " / ".join(
            _pct([a[e] for a in acc]) for e in range(min(len(a) for a in acc))) + "\n")
    rows, n_epochs = [], 0
    for (dev, setting), runs in groups.items():
        ref = {seed: m for d, seed, m in ref_sweep_runs if d == dev} if ref_sweep else ref_runs
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
    if any("‡" in w for _, w in groups):
        print("\n‡ θ resolved from today's device library: the run's build did not record the value it used.")
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
    ds = _sweep(folder, ("synapses_device", "synapses_update_accumulator_bits"))
    f32 = _schemes_float32(schemes_folder)
    bits = [int(b) for b in ds["synapses_update_accumulator_bits"].values]
    order = sorted(range(len(bits)), key=lambda i: (bits[i] == 0, bits[i]))
    f32_column = bool(f32) and 0 not in bits  # the sweep has no float32 cells: the schemes sweep's, †
    print("| device | " + " | ".join("float32" if bits[i] == 0 else f"{bits[i]} bits" for i in order)
          + (" | float32" if f32_column else "") + " |")
    print("|---" * (len(bits) + 1 + f32_column) + "|")
    for dev in ds["synapses_device"].values:
        cells = []
        for i in order:
            p = ds.sel(synapses_device=dev, synapses_update_accumulator_bits=bits[i]).squeeze(drop=True)
            if p["status"].ndim:
                _fail(f"{folder}: a device x bits sweep with a single point per cell expected (more axes: use --float)")
            status = str(p["status"].values)
            if status != "ok" and bits[i] == 0 and str(dev) in f32:
                cells.append(f"{100 * f32[str(dev)]:.2f} % †")
                continue
            cells.append(f"{100 * float(p['test_accuracy']):.2f} %" if status == "ok" else
                         ("…" if status == "pending" else status))
        if f32_column:
            cells.append(f"{100 * f32[str(dev)]:.2f} % †" if str(dev) in f32 else "–")
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
    if a.float is not None and a.bits:
        ap.error("--bits and --float are two tables: give one")
    if a.float is not None:
        sys.exit(seeds_table(a.sweep, a.float, a.label))
    if len(a.sweep) > 1:
        ap.error("several folders only with --float (device x seeds)")
    if a.bits:
        sys.exit(bits_table(a.sweep[0], a.schemes))
    sys.exit(main(a.sweep[0]))
