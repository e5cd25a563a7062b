"""Benchmark: one programming update of a 784×500 device array (the first EqSpike layer).

    .venv/bin/python bench/bench_devices.py [--device ag_asi] [--repeats 50]

Prints the median time per ``apply_pulses`` call (C2C, D2D, stuck faults, quantisation on;
6 in 7 devices pulsed, ±1..3 pulses) and per noisy ``read``; one thread, as in training.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from eqspike_xbar.devices import D2D, DeviceArray, Faults, Noise, load_device  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="ag_asi")
    ap.add_argument("--shape", type=int, nargs=2, default=(784, 500))
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args(argv)
    base = load_device(args.device)
    params = base.with_(
        noise=Noise(c2c_sigma=base.noise.c2c_sigma or 0.02, read_sigma=0.02),
        d2d=D2D(gmin_rel=0.05, gmax_rel=0.05, nl_abs=0.5, levels_rel=0.05, c2c_rel=0.1),
        faults=Faults(stuck_gmin_rate=0.01, stuck_gmax_rate=0.01))
    shape = tuple(args.shape)
    t0 = time.perf_counter()
    arr = DeviceArray(params, shape=shape, seed=0, g_init="mid")
    t_create = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    pulses = [rng.integers(-3, 4, size=shape) for _ in range(8)]
    times, reads = [], []
    for i in range(args.repeats):
        t0 = time.perf_counter()
        arr.apply_pulses(pulses[i % len(pulses)])
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        arr.read()
        reads.append(time.perf_counter() - t0)
    n = shape[0] * shape[1]
    print(f"device {args.device}, array {shape[0]}x{shape[1]} ({n} devices), all effects on")
    print(f"create (D2D sampling):      {t_create * 1e3:8.1f} ms")
    print(f"apply_pulses median:        {np.median(times) * 1e3:8.1f} ms  (min {min(times) * 1e3:.1f}, "
          f"{np.median(times) / n * 1e9:.1f} ns/device)")
    print(f"read (read noise) median:   {np.median(reads) * 1e3:8.1f} ms")
    print(f"energy so far:              {arr.energy_J:.3e} J for {arr.pulses} pulses")


if __name__ == "__main__":
    main()
