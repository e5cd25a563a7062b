#!/usr/bin/env python
"""Cold start: ``eqspike-xbar crossbar solve`` as a new process against a plain SciPy script that
builds and solves the same crossbar circuit, side by side, plus the in-process first read.

    .venv/bin/python bench/bench_cold_start.py                  # 32x32 and 128x128, 7 runs each
    .venv/bin/python bench/bench_cold_start.py --sizes 32 --runs 11
    .venv/bin/python bench/bench_cold_start.py --module          # python -m eqspike_xbar.cli instead
    .venv/bin/python bench/bench_cold_start.py --cached-bytecode # both kinds with compiled bytecode

Circuit (both sides): N x N 1R, G uniform in [1, 100] uS (seed 0), 1 ohm word/bit-line segments,
ideal drivers and virtual-ground sense, one forward read of inputs uniform in [0, 0.2] V. The
plain script imports numpy and scipy.sparse only, stamps the nodal matrix, eliminates the
driven and grounded nodes and calls ``scipy.sparse.linalg.spsolve``. The two kinds of process
run in turn (A B A B ...), so a drift of the shared machine's speed hits both; the table gives
medians (wall time, and CPU time: user + system of the process, less sensitive to the machine's
load), the ratio of the medians, and the largest difference of the output currents (the two
must compute the same circuit). Target (issue 12): command / plain <= 1 at both sizes;
in-process first read <= 30 ms at 32 x 32.

The command is run as users run it: the ``eqspike-xbar`` script installed beside this
interpreter, with this checkout first on PYTHONPATH (``--module``: ``python -m
eqspike_xbar.cli``, as before). The two forms differ by more than runpy's own frames: under
CPython 3.11 a loop that calls at the boundary of the interpreter's 16 KB frame-stack chunks
allocates and frees a chunk per call (python/cpython#142183; a chunk cache came with 3.13), and how deep the
imports run decides where numpy's import-time regex compilations (numpy.f2py, pulled in by
SciPy) fall: measured at 32 x 32, ~6,700 munmap calls per ``python -m`` process against ~1,000
for the script and ~200 for the plain one, about 25 ms of CPU. ``--cached-bytecode`` gives both
kinds a bytecode cache in a temporary folder (PYTHONPYCACHEPREFIX, filled by the warm-up), as
an installed package has; without it an environment with PYTHONDONTWRITEBYTECODE=1 compiles
the command's modules from source in every process (~8 ms of CPU).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the plain SciPy process: the same circuit as the command's default one (forward read)
PLAIN = r"""
import sys
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

n = int(sys.argv[1]); r = 1.0
rng = np.random.default_rng(0)
g = rng.uniform(1e-6, 1e-4, (n, n))
v = rng.uniform(0.0, 0.2, (1, n))[0]
row = np.arange(n * n).reshape(n, n)          # word-line node of cell (i, j)
col = n * n + row                              # bit-line node of cell (i, j)
a = np.concatenate([row[:, :-1].ravel(), col[:-1, :].ravel(), row.ravel()])
b = np.concatenate([row[:, 1:].ravel(), col[1:, :].ravel(), col.ravel()])
w = np.concatenate([np.full(2 * n * (n - 1), 1.0 / r), g.ravel()])
K = sp.csr_matrix((np.concatenate([w, w, -w, -w]), (np.concatenate([a, b, a, b]), np.concatenate([a, b, b, a]))),
                  shape=(2 * n * n, 2 * n * n))
fixed = np.concatenate([row[:, 0], col[-1, :]])   # driven row ends, grounded column ends
free = np.setdiff1d(np.arange(2 * n * n), fixed)
vf = np.zeros(2 * n * n)
vf[row[:, 0]] = v
x = spsolve(K[free][:, free].tocsc(), -(K[free][:, fixed] @ vf[fixed]))
vf[free] = x
i_out = (g * (vf[row] - vf[col])).sum(0)           # current into each column's sense node
print(" ".join(f"{c * 1e6:.4g}" for c in i_out[:8]))
"""

#: the in-process first read (after the imports a read needs)
FIRST_READ = r"""
import sys, time
import numpy as np
from eqspike_xbar.crossbar import CrossbarSpec, read_currents
n = int(sys.argv[1])
rng = np.random.default_rng(0)
g = rng.uniform(1e-6, 1e-4, (n, n)); v = rng.uniform(0.0, 0.2, (1, n))
t0 = time.perf_counter()
read_currents(g, v, CrossbarSpec(), "forward")
print(time.perf_counter() - t0)
"""


def _run(cmd, env, cpu: list | None = None) -> tuple[float, str]:
    """(wall seconds, stdout) of one new process; its CPU seconds (user + system) appended to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    dt = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed: {out.stderr.strip().splitlines()[-1:]}")
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return dt, out.stdout


def _command_currents(stdout: str) -> list[float]:
    line = next(ln for ln in stdout.splitlines() if "output currents" in ln)
    return [float(x) for x in line.split(":", 1)[1].replace("...", "").split(",")]


def command_prefix(module: bool) -> list[str]:
    """How the command is started: the installed ``eqspike-xbar`` script beside this interpreter
    (run by it), else, or with ``module``, ``python -m eqspike_xbar.cli``."""
    script = None if module else shutil.which("eqspike-xbar", path=str(Path(sys.executable).parent))
    return [sys.executable, script] if script else [sys.executable, "-m", "eqspike_xbar.cli"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--runs", type=int, default=7, help="processes of each kind per size (after one warm-up each)")
    ap.add_argument("--module", action="store_true", help="start the command as python -m eqspike_xbar.cli")
    ap.add_argument("--cached-bytecode", action="store_true",
                    help="both kinds of process with a bytecode cache (a temporary PYTHONPYCACHEPREFIX)")
    a = ap.parse_args(argv)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cache = tempfile.TemporaryDirectory(prefix="cold-start-pyc-") if a.cached_bytecode else None
    if cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache.name
    py = sys.executable
    prefix = command_prefix(a.module)
    bytecode = ("cached (temporary prefix)" if cache else
                "compiled in every process" if env.get("PYTHONDONTWRITEBYTECODE") else "as the environment has it")
    print(f"cold start, {a.runs} new processes of each kind per size (in turn), load average "
          f"{os.getloadavg()[0]:.2f} at the start")
    print(f"command: {' '.join([Path(prefix[0]).name] + prefix[1:])} crossbar solve ...; bytecode: {bytecode}")
    print(f"{'N':>4} {'command (s)':>12} {'plain SciPy (s)':>16} {'ratio':>6} {'first read in-process (ms)':>27} "
          f"{'max |dI| (uA)':>14} {'CPU: command / plain (s)':>25} {'ratio':>6}")
    ok = True
    for n in a.sizes:
        cmd = prefix + ["crossbar", "solve", "--rows", str(n), "--direction", "forward"]
        plain = [py, "-c", PLAIN, str(n)]
        first = [py, "-c", FIRST_READ, str(n)]
        _run(cmd, env), _run(plain, env)  # warm-up (file cache)
        t_cmd, t_plain, t_first, c_cmd, c_plain = [], [], [], [], []
        for _ in range(a.runs):
            dt, out_cmd = _run(cmd, env, c_cmd)
            t_cmd.append(dt)
            dt, out_plain = _run(plain, env, c_plain)
            t_plain.append(dt)
            t_first.append(float(_run(first, env)[1]))
        diff = max(abs(x - y) for x, y in zip(_command_currents(out_cmd), map(float, out_plain.split())))
        med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
        ratio = med(t_cmd) / med(t_plain)
        print(f"{n:>4} {med(t_cmd):>12.3f} {med(t_plain):>16.3f} {ratio:>6.2f} {1e3 * med(t_first):>27.1f} "
              f"{diff:>14.2g} {f'{med(c_cmd):.3f} / {med(c_plain):.3f}':>25} {med(c_cmd) / med(c_plain):>6.2f}")
        ok &= ratio <= 1.0 and (n != 32 or med(t_first) <= 0.030)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print("all targets met" if ok else "some target missed")
    print(json.dumps({"ok": ok}))
    if cache:
        cache.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
