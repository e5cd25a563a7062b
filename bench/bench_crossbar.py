"""Crossbar benchmark: fast nodal solver vs ngspice 46 + KLU, and what IR drop costs.

    .venv/bin/python bench/bench_crossbar.py                 # table 32 ... 512
    .venv/bin/python bench/bench_crossbar.py --sizes 128     # one size
    EQSPIKE_XBAR_LINALG=superlu .venv/bin/python bench/bench_crossbar.py --no-ngspice

Every measurement runs in its own process (one at a time) so peak memory (max RSS) is
that of the measurement alone. Circuit: N x N 1R, G uniform in [1, 100] uS, word/bit-line
segments 1 ohm, ideal drivers and virtual-ground sense; inputs uniform in [0, 0.2] V.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

R_WIRE = 1.0


def _case(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(1e-6, 1e-4, (n, n)), rng.uniform(0.0, 0.2, (11, n))


def measure_fast(n: int) -> dict:
    from eqspike_xbar.crossbar import CrossbarSpec, FastCrossbar, ideal_currents
    from eqspike_xbar.crossbar.linalg import PARDISO_FROM_USE, backend_name

    spec = CrossbarSpec(r_wordline=R_WIRE, r_bitline=R_WIRE)
    g, v = _case(n)
    t0 = time.perf_counter()
    FastCrossbar(_case(n, seed=1)[0], spec).read(v[:1])  # cold: a one-off read (SuperLU when small)
    cold = time.perf_counter() - t0
    for seed in range(10, 10 + PARDISO_FROM_USE):  # warm: reach the solver repeated states use
        FastCrossbar(_case(n, seed=seed)[0], spec).read(v[:1])
    times = []
    for seed in (3, 4, 0):  # new conductance states, same pattern; median of 3
        g_k = g if seed == 0 else _case(n, seed=seed)[0]
        t0 = time.perf_counter()
        xbar = FastCrossbar(g_k, spec)
        i_first = xbar.read(v[:1])
        times.append(time.perf_counter() - t0)
    t_state = float(np.median(times))
    t0 = time.perf_counter()  # xbar holds g (seed 0) here
    i_more = xbar.model("forward").sense_currents(xbar.model("forward").node_voltages(v[1:]))
    t_extra = (time.perf_counter() - t0) / 10
    FastCrossbar(_case(n, seed=2)[0], spec).transfer_matrix("forward")  # warm the Schur analysis
    times = []
    for seed in (5, 6, 0):  # median of 3 new states
        t0 = time.perf_counter()
        w_f = FastCrossbar(g if seed == 0 else _case(n, seed=seed)[0], spec).transfer_matrix("forward")
        times.append(time.perf_counter() - t0)
    t_transfer = float(np.median(times))
    i_all = np.vstack([i_first, i_more])
    ideal = ideal_currents(g, v)
    return {
        "linalg": backend_name(), "cold_s": cold, "state_s": t_state, "extra_s": t_extra,
        "transfer_s": t_transfer,
        "transfer_vs_solve": float(np.abs(v @ w_f - i_all).max() / np.abs(i_all).max()),
        "ir_error": float(np.linalg.norm(i_all - ideal) / np.linalg.norm(ideal)),
        "t_vs_g": float(np.linalg.norm(w_f - g) / np.linalg.norm(w_f)),
        "currents": i_all[0].tolist(),
    }


def measure_ngspice(n: int) -> dict:
    from eqspike_xbar.crossbar import CrossbarSpec, crossbar_netlist
    from eqspike_xbar.crossbar.netlist import sense_names
    from eqspike_xbar.spice import NgspiceRunner

    spec = CrossbarSpec(r_wordline=R_WIRE, r_bitline=R_WIRE)
    g, v = _case(n)
    runner = NgspiceRunner(timeout_s=600)
    t0 = time.perf_counter()
    text = crossbar_netlist(g, v[0], spec)
    t_text = time.perf_counter() - t0
    res = runner.run(text, vectors=sense_names(g.shape, "forward"))
    t_total = time.perf_counter() - t0
    return {"total_s": t_total, "netlist_s": t_text, "run_s": res.elapsed_s,
            "currents": [float(res[name][0]) for name in sense_names(g.shape, "forward")]}


def _one(kind: str, n: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", kind, str(n)], capture_output=True, text=True,
                         env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"))
    if out.returncode != 0:
        raise SystemExit(f"{kind} {n} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    parser.add_argument("--no-ngspice", action="store_true")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        kind, n = args.one[0], int(args.one[1])
        result = (measure_fast if kind == "fast" else measure_ngspice)(n)
        result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))
        return
    print(f"# load average at start: {os.getloadavg()[0]:.2f} (2 cores)")
    print("| N×N | fast: new state | per extra input | transfer matrix W_f | fast peak MB | "
          "ngspice total (run) | ngspice peak MB | fast vs ngspice | IR-drop error of matmul | ‖W_f−G‖/‖W_f‖ |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        f = _one("fast", n)
        if args.no_ngspice:
            s, diff = None, float("nan")
        else:
            s = _one("ngspice", n)
            a, b = np.array(f["currents"]), np.array(s["currents"])
            diff = float(np.abs(a - b).max() / np.abs(b).max())
        ng = f"{s['total_s']:.2f} s ({s['run_s']:.2f} s) | {s['peak_mb']:.0f}" if s else "– | –"
        print(f"| {n} | {f['state_s'] * 1e3:.1f} ms (cold {f['cold_s'] * 1e3:.0f} ms) | "
              f"{f['extra_s'] * 1e3:.2f} ms | {f['transfer_s'] * 1e3:.1f} ms | {f['peak_mb']:.0f} | {ng} | "
              f"{diff:.1e} | {f['ir_error']:.3f} | {f['t_vs_g']:.3f} |", flush=True)
    print(f"# linalg: {f['linalg']}; load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
