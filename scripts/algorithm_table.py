#!/usr/bin/env python3
"""Learning algorithm x fidelity table (markdown) from main-job or train run folders.

    .venv/bin/python scripts/algorithm_table.py RUN_DIR [RUN_DIR ...]

Each RUN_DIR is a folder written by ``eqspike-xbar run`` (every fidelity in its metrics.nc) or
by ``eqspike-xbar train`` (one fidelity, one seed or several). Runs whose configs differ only in
the seed (and run name, data folder) are pooled; for the ideal fidelity the synapse settings do
not count, for the others device and update scheme are shown in a column. The accuracy is the final test accuracy, mean ± sample
sd over the seeds present ("one seed" when there is one; a seed given twice counts once), the
energies (per training / inference sample, last epoch) are means over those seeds. Time steps per
sample come from the algorithm, the latency from ``energy.time_step_s`` of each run's config.
An algorithm with published hardware figures (spiking_bp: Loihi, Renner et al. 2024) gets them
as a row beside its own.
"""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import numpy as np
import xarray as xr

from eqspike_xbar.algorithms import ALGORITHMS
from eqspike_xbar.config import EnergyConfig
from eqspike_xbar.config_tools import dotted
from eqspike_xbar.experiments.seeds import fmt_pct
from eqspike_xbar.experiments.main_report import algorithm_summary, published_row
from eqspike_xbar.report import fmt_joules, fmt_seconds, table

FIDELITY_ORDER = {"ideal": 0, "device": 1, "circuit": 2}


class TableError(Exception):
    pass


def _seeds(ds: xr.Dataset, config: dict) -> list[int]:
    if "seed" in ds.dims:
        return [int(s) for s in ds.seed.values]
    return [int(config.get("run", {}).get("seed", 0))]


def _settings(config: dict, fidelity: str, steps_used=None) -> tuple[str, tuple]:
    """(what the synapses are, in words; every other setting that tells runs apart). ``steps_used``:
    the threshold in pulse steps the run resolved (metrics attr update_threshold_steps), shown
    beside 'auto'."""
    flat = {k: repr(v) for k, v in dotted(config).items()
            if not k.startswith("run.") and k not in ("data.data_dir", "synapses.backend")}
    syn = config.get("synapses", {})
    if fidelity != "circuit":  # the circuit settings do not act on the other fidelities
        flat = {k: v for k, v in flat.items() if not k.startswith("synapses.circuit.")}
    if fidelity == "ideal":
        flat = {k: v for k, v in flat.items() if not k.startswith("synapses.")}
        words = "float weights"
    else:
        upd = syn.get("update", {})
        scheme = upd.get("scheme", "minibatch_sum")
        words = f"{syn.get('device', '?')}, `{scheme}`" + (
            f" θ = {_steps(upd['threshold'], steps_used)}" if "threshold" in upd and scheme in ("mixed_precision", "tiki_taka") else "")
    return words, tuple(sorted(flat.items()))


def _steps(threshold, steps_used=None) -> str:
    if isinstance(threshold, str):  # 'auto': set by the device's C2C noise when the run started
        return f"{float(steps_used):g} (auto)" if steps_used else threshold  # as scripts/scheme_table.py
    return f"{threshold:g}"


def load_runs(folder: Path) -> list[dict]:
    """One entry per (fidelity, seed) of a run folder: its key and :func:`algorithm_summary` figures."""
    metrics, config_path = folder / "metrics.nc", folder / "config.toml"
    if not metrics.is_file() or not config_path.is_file():
        raise TableError(f"{folder}: not a run folder (no metrics.nc and config.toml); give folders written by "
                         "'eqspike-xbar run' or 'eqspike-xbar train'")
    config = tomllib.loads(config_path.read_text())
    ds = xr.load_dataset(metrics)
    step_s = float(config.get("energy", {}).get("time_step_s", EnergyConfig.time_step_s))
    data = config.get("data", {}).get("name", ds.attrs.get("dataset", "?"))
    layers = "-".join(map(str, config.get("network", {}).get("layers", [])))
    parts = ([(str(f), ds.sel(fidelity=f)) for f in ds.fidelity.values] if "fidelity" in ds.dims
             else [(str(ds.attrs.get("synapse_backend", "?")), ds)])
    out = []
    for fid, sub in parts:
        for seed in _seeds(sub, config):
            one = sub.sel(seed=seed) if "seed" in sub.dims else sub
            if not one.test_accuracy.notnull().any():
                continue  # a seed that has not finished an epoch
            one = one.dropna("epoch", how="all", subset=["test_accuracy"])
            s = algorithm_summary(one, step_s)
            words, rest = _settings(config, fid, one.attrs.get("update_threshold_steps"))
            out.append({"key": (s["algorithm"], fid, data, layers, words, rest), "seed": seed, "folder": folder,
                        "step_s": step_s, **s})
    return out


def build_table(folders: list[Path]) -> str:
    groups: dict[tuple, dict[int, dict]] = {}
    notes = []
    for folder in folders:
        for entry in load_runs(folder):
            seeds = groups.setdefault(entry["key"], {})
            if entry["seed"] in seeds:
                notes.append(f"{entry['key'][0]} / {entry['key'][1]} seed {entry['seed']} is in "
                             f"{seeds[entry['seed']]['folder']} and {folder}: counted once (the first)")
                continue
            seeds[entry["seed"]] = entry
    if not groups:
        raise TableError("no finished epoch in the folders given")
    keys = sorted(groups, key=lambda k: (k[0], k[2], k[3], FIDELITY_ORDER.get(k[1], 9), k[1], k[4], k[5]))
    seen: dict[tuple, tuple] = {}
    for key in keys:  # rows that look the same but are not: say which settings differ
        shown = key[:5]
        if shown in seen:
            a, b = dict(seen[shown]), dict(key[5])
            diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            notes.append(f"two `{key[0]}` / `{key[1]}` rows with {key[4]} differ in: " + ", ".join(diff[:8]))
        seen.setdefault(shown, key[5])
    rows, done = [], set()
    for i, key in enumerate(keys):
        algo, fid, data, layers, words, _ = key
        entries = [groups[key][s] for s in sorted(groups[key])]
        first = entries[0]
        acc = [float(e["accuracy"][0]) for e in entries]
        epochs = sorted({e["epochs"] for e in entries})
        steps = {e["step_s"] for e in entries}
        step_s = first["step_s"] if len(steps) == 1 else float("nan")
        rows.append([f"`{algo}`", f"`{fid}`", words, f"{data}, {layers}", fmt_pct(acc, one_seed=True),
                     "/".join(map(str, epochs)),
                     fmt_joules(float(np.mean([e["train_J"] for e in entries]))),
                     fmt_joules(float(np.mean([e["inference_J"] for e in entries]))),
                     f"{first['steps_train']} / {first['steps_inference']}",
                     f"{fmt_seconds(first['steps_train'] * step_s)} / {fmt_seconds(first['steps_inference'] * step_s)}"
                     f" ({fmt_seconds(step_s)} per step)"])
        last_of_algo = i + 1 == len(keys) or keys[i + 1][0] != algo
        pub = ALGORITHMS[algo].published if algo in ALGORITHMS else None
        if last_of_algo and pub is not None and algo not in done:
            done.add(algo)
            p = published_row(pub)
            # published_row: label, accuracy, train J, inference J, share, pulses, steps, latency
            rows.append([f"`{algo}`", f"{pub.hardware} (published: {pub.source})", "8-bit SRAM", pub.task, p[1], "–",
                         p[2], p[3],
                         p[6], p[7] + f" ({fmt_seconds(pub.train_s / pub.steps_train)} per training step)"])
    md = table(["algorithm", "fidelity", "synapses", "data, network", "test accuracy (final epoch)", "epochs",
                "energy / training sample", "energy / inference sample", "time steps (training / inference)",
                "latency (training / inference)"], rows)
    if notes:
        md += "\n\n" + "\n".join(f"- {n}" for n in notes)
    return md


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    try:
        print(build_table([Path(a) for a in argv]))
    except TableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
