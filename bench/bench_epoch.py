#!/usr/bin/env python
"""Benchmark: wall time of one MNIST training epoch (784-500-10) and peak memory.

    .venv/bin/python bench/bench_epoch.py                 # EqSpike and rate EP, full epoch each
    .venv/bin/python bench/bench_epoch.py --only device_mp --batches 500   # device, best scheme
    .venv/bin/python bench/bench_epoch.py --batches 500   # quicker: extrapolate from 500 minibatches

    .venv/bin/python bench/bench_epoch.py --only circuit --batches 200   # circuit-in-the-loop

    .venv/bin/python bench/bench_epoch.py --only ideal --threads 1 --batches 500
    .venv/bin/python bench/bench_epoch.py --only spiking_bp                 # 400-400-10, 20x20 MNIST

Each configuration runs in its own process (so peak memory is its own), with one BLAS
thread per core (--threads to change). ``ideal`` is the EqSpike configuration on ideal synapses
(the same as ``eqspike``). Targets (issue 12, 2 cores): ideal EqSpike <= 12 s per epoch with
2 threads and <= 20 s with 1, peak memory <= 1 GB; ``device`` (TaOx/HfOx) <= 25 s; ``circuit``
<= 80 s; rate EP <= 5 s; spiking backprop (issue 13) no slower than the ideal EqSpike epoch.
The machine's load average is printed before and after: on a shared
machine compare runs made back to back; the epoch's CPU time (all threads of the process) moves
less with the load than its wall time. The first minibatch (it loads the compiled kernels from
numba's cache, or compiles them in a fresh clone) is timed apart and counted once; the others
are extrapolated to the epoch. Needs MNIST (--data-dir or $EQSPIKE_XBAR_DATA).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {"eqspike": ROOT / "configs" / "mnist_eqspike.toml", "rate_ep": ROOT / "configs" / "mnist_rate_ep.toml",
           "device": ROOT / "configs" / "mnist_eqspike.toml", "circuit": ROOT / "configs" / "mnist_eqspike.toml"}
#: EqSpike on device / circuit synapses (TaOx/HfOx, 128x128 tiles, 1 ohm segments, exact
#: transfer matrices refreshed every 10 minibatch updates)
OVERRIDES = {"device": {"synapses": {"backend": "device", "device": "taox_hfox", "w_max": [0.1, 0.3]}},
             "circuit": {"synapses": {"backend": "circuit", "device": "taox_hfox", "w_max": [0.1, 0.3],
                                      "circuit": {"refresh_every": 10, "spot_checks": 0}}}}
CONFIGS["ideal"] = CONFIGS["eqspike"]
#: ``device_mp``: the same device with the best update scheme of the on-chip learning issue (#9),
#: mixed precision with a float32 accumulator and threshold 4 (configs/mnist_device_mixed_precision.toml)
CONFIGS["device_mp"] = ROOT / "configs" / "mnist_device_mixed_precision.toml"
#: ``spiking_bp``: spiking backpropagation, the paper's 400-400-10 on 20x20 MNIST, one update per
#: sample (configs/mnist_spiking_bp.toml); ``spiking_bp784``: 784-500-10 on 28x28 MNIST
CONFIGS["spiking_bp"] = ROOT / "configs" / "mnist_spiking_bp.toml"
CONFIGS["spiking_bp784"] = ROOT / "configs" / "mnist784_spiking_bp.toml"
#: epoch targets (issue 12) with 2 BLAS threads; with 1 thread the ideal target is 20 s; spiking_bp
#: (issue 13): no slower than an ideal EqSpike epoch on the same machine, i.e. the ideal target
TARGET_S = {"eqspike": 12.0, "ideal": 12.0, "rate_ep": 5.0, "device": 25.0, "device_mp": 25.0, "circuit": 80.0}
TARGET_S["spiking_bp"] = TARGET_S["spiking_bp784"] = TARGET_S["ideal"]
TARGET_1_THREAD_S = {"eqspike": 20.0, "ideal": 20.0}
#: peak-memory targets (issue 2: 1 GB for the ideal networks; none set for device/circuit)
TARGET_MB = {"eqspike": 1024.0, "ideal": 1024.0, "rate_ep": 1024.0, "device": float("inf"), "device_mp": float("inf"),
             "circuit": float("inf"), "spiking_bp": 1024.0, "spiking_bp784": 1024.0}
DEFAULT = ("eqspike", "rate_ep")


#: circuit: refresh a tile's exact matrices when its predicted stale error exceeds this (0: every
#: ``refresh_every`` updates, the schedule before issue 12)
REFRESH_TOLERANCE = 0.005


def child(name: str, batches: int, threads: int, data_dir: str | None, refresh_tolerance: float = 0.0) -> None:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from eqspike_xbar.config import load_config
    from eqspike_xbar.experiments.train import build_network, load_data

    over = [{"data": {"data_dir": data_dir}}] if data_dir else []
    over += [OVERRIDES[name]] if name in OVERRIDES else []
    cfg = load_config(CONFIGS[name], over)
    if name == "circuit":  # [synapses.circuit] refresh_tolerance (read with getattr by the backend)
        cfg.synapses.circuit.refresh_tolerance = refresh_tolerance
    with threadpool_limits(threads):
        t0 = time.perf_counter()
        ds = load_data(cfg)
        t_load = time.perf_counter() - t0
        net = build_network(cfg)
        rng = np.random.default_rng(0)
        B = cfg.learning.batch_size
        n_total = -(-len(ds.train) // B)
        n = n_total if batches <= 0 else min(max(2, batches), n_total)
        perm = rng.permutation(len(ds.train))
        t0, c0 = time.perf_counter(), time.process_time()
        t1, c1 = t0, c0  # (no minibatch: nothing timed)
        for i in range(n):
            idx = perm[i * B : (i + 1) * B]
            net.train_batch(ds.train.x[idx], ds.train.y[idx], rng)
            if i == 0:  # the first minibatch loads (or compiles) the kernels: paid once per epoch
                t1, c1 = time.perf_counter(), time.process_time()
        first, first_cpu = t1 - t0, c1 - c0
        dt, cpu = time.perf_counter() - t1, time.process_time() - c1
        t0 = time.perf_counter()
        acc = float((net.predict(ds.test.x, rng, 1000) == ds.test.y).mean())
        t_eval = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    diag = {}
    if name == "circuit":
        d = net.synapses[0].diagnostics()
        diag = {k: d[k] for k in ("stale_error_mean", "stale_error_max", "refreshes") if k in d}
    rest = max(1, n - 1)  # minibatches after the first, extrapolated to the epoch's
    print(json.dumps({"name": name, "batches": n, "w1_circuit": diag, "batches_per_epoch": n_total, "train_s": first + dt,
                      "epoch_s": first + dt * (n_total - 1) / rest, "epoch_cpu_s": first_cpu + cpu * (n_total - 1) / rest,
                      "first_batch_s": first, "eval_test_s": t_eval, "load_s": t_load,
                      "test_acc_after": acc, "peak_mb": peak_mb, "n_train": len(ds.train)}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batches", type=int, default=0, help="minibatches to time (0: a full epoch)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--only", choices=sorted(CONFIGS), help="one configuration (default: eqspike and rate_ep; ideal = eqspike)")
    ap.add_argument("--refresh-tolerance", type=float, default=REFRESH_TOLERANCE,
                    help=f"circuit: error-bounded refresh tolerance ({REFRESH_TOLERANCE}; 0: every 10 updates)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.batches, a.threads, a.data_dir, a.refresh_tolerance)
        return 0
    print(f"MNIST 784-500-10 (spiking_bp: 400-400-10 on 20x20), one training epoch, {a.threads} BLAS thread(s), load average "
          f"{os.getloadavg()[0]:.2f} before start")
    print(f"{'config':<10} {'epoch (s)':>10} {'target':>8} {'test eval (s)':>14} {'peak MB':>9} {'acc after':>10} "
          f"{'epoch CPU (s)':>14}")
    ok = True
    for name in ([a.only] if a.only else DEFAULT):
        cmd = [sys.executable, __file__, "--child", name, "--batches", str(a.batches), "--threads", str(a.threads),
               "--refresh-tolerance", str(a.refresh_tolerance)]
        if a.data_dir:
            cmd += ["--data-dir", a.data_dir]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
            ok = False
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        note = "" if r["batches"] == r["batches_per_epoch"] else f"  (extrapolated from {r['batches']} of {r['batches_per_epoch']} batches)"
        note += f"  first minibatch {r['first_batch_s']:.2f} s (kernels loaded or compiled)"
        target = TARGET_1_THREAD_S.get(name, TARGET_S[name]) if a.threads == 1 else TARGET_S[name]
        print(f"{name:<10} {r['epoch_s']:>10.1f} {target:>8.0f} {r['eval_test_s']:>14.1f} "
              f"{r['peak_mb']:>9.0f} {100 * r['test_acc_after']:>9.2f}% {r['epoch_cpu_s']:>14.1f}{note}")
        if r.get("w1_circuit"):
            c = r["w1_circuit"]
            print(f"{'':<10} W1 stale error at the refreshes: mean {100 * c['stale_error_mean']:.2f} %, max "
                  f"{100 * c['stale_error_max']:.2f} % ({c['refreshes']:.0f} refreshes; refresh tolerance "
                  f"{a.refresh_tolerance:g})")
        ok &= r["epoch_s"] <= target and r["peak_mb"] <= TARGET_MB[name]
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print("all targets met" if ok else "some target missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
