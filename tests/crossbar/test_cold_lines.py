"""The line-by-line elimination (crossbar/lines.py) that serves a new small pattern's reads: the
same currents as the sparse nodal model for every linear circuit it accepts, in both
directions; it is chosen only where the cold-start rule allows, and ``crossbar solve`` then
imports no SciPy."""
import itertools
import subprocess
import sys

import numpy as np
import pytest

from eqspike_xbar.crossbar import CrossbarSpec, FastCrossbar, lines
from eqspike_xbar.crossbar.nodal import NodalModel, linear_cell_conductance, oriented

RTOL = 1e-10  # the sparse solvers' agreement in tests/crossbar/test_fast_solver.py

SHAPES = [(1, 1), (1, 6), (6, 1), (2, 3), (7, 4), (13, 13)]
SPECS = [CrossbarSpec(r_wordline_ohm=rw, r_bitline_ohm=rb, r_driver_ohm=rd, r_sense_ohm=rs, sense=sense, cell=cell,
                      termination=term)
         for rw, rb, rd, rs, sense, cell, term in itertools.product(
             [1.0, 2.5], [1.0, 3.0], [0.0, 50.0], [0.0, 20.0], ["ideal", "tia"], ["1R", "1T1R"], ["line", "role"])]


def _sparse(g, v, spec, direction):
    p = oriented(g, spec, direction)
    model = NodalModel(p, spec)
    vin = v if direction == "forward" else v[:, ::-1]
    out = model.sense_currents(model.node_voltages(vin))
    return out if direction == "forward" else out[:, ::-1]


def _lines(g, v, spec, direction):
    p = oriented(g, spec, direction)
    assert lines.solvable(p.topology, spec)
    f = lines.factor(linear_cell_conductance(p.g, spec), p.topology, spec)
    return f.sense_currents(v) if direction == "forward" else f.sense_currents(v[:, ::-1])[:, ::-1]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_line_elimination_equals_the_sparse_nodal_solve_for_every_linear_circuit(shape, direction):
    rng = np.random.default_rng(sum(shape))
    for spec in SPECS:
        g = rng.uniform(1e-6, 1e-4, shape)
        v = rng.uniform(-0.2, 0.2, (3, shape[0] if direction == "forward" else shape[1]))
        ref = _sparse(g, v, spec, direction)
        np.testing.assert_allclose(_lines(g, v, spec, direction), ref, rtol=RTOL, atol=RTOL * np.abs(ref).max(),
                                   err_msg=str(spec))


def test_line_elimination_at_128_uses_one_blas_thread_and_agrees(monkeypatch):
    from threadpoolctl import threadpool_info

    seen = []
    factor_class = lines.LineFactor

    def recording(*args, **kw):  # the BLAS threads while the blocks are factorised
        seen.append([i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"])
        return factor_class(*args, **kw)

    monkeypatch.setattr(lines, "LineFactor", recording)
    rng = np.random.default_rng(3)
    g, spec = rng.uniform(1e-6, 1e-4, (128, 128)), CrossbarSpec()
    v = rng.uniform(0, 0.2, (2, 128))
    np.testing.assert_allclose(_lines(g, v, spec, "forward"), _sparse(g, v, spec, "forward"), rtol=RTOL)
    assert seen and all(n == 1 for n in seen[-1]) and seen[-1]


def test_what_the_line_elimination_does_not_take():
    g = np.full((8, 8), 1e-5)
    assert not lines.solvable(oriented(g, CrossbarSpec(v0=0.2), "forward").topology, CrossbarSpec(v0=0.2))
    for spec in (CrossbarSpec(r_wordline_ohm=0.0), CrossbarSpec(r_bitline_ohm=0.0)):
        assert not lines.solvable(oriented(g, spec, "forward").topology, spec)
    big = np.full((64, 256), 1e-5)  # 64 * 256^3 > 128^4: the sparse solvers are cheaper
    assert not lines.solvable(oriented(big, CrossbarSpec(), "forward").topology, CrossbarSpec())
    assert lines.solvable(oriented(big, CrossbarSpec(), "backward").topology, CrossbarSpec())  # 256 * 64^3
    thin = np.full((9000, 1), 1e-5)  # a numpy call or two per line: 9000 lines cost more than a sparse solve
    assert not lines.solvable(oriented(thin, CrossbarSpec(), "forward").topology, CrossbarSpec())
    tall = np.full((2000, 4), 1e-5)  # within the cost bound, but a read loops over 2000 lines in Python
    assert not lines.solvable(oriented(tall, CrossbarSpec(), "forward").topology, CrossbarSpec())
    tiny = CrossbarSpec(r_wordline_ohm=1e-160, r_bitline_ohm=1e-160)  # 1/r² overflows: the sparse model
    assert not lines.solvable(oriented(g, tiny, "forward").topology, tiny)


def test_fast_crossbar_reads_a_new_pattern_by_lines_then_by_the_nodal_model():
    code = ("import numpy as np, sys; from eqspike_xbar.crossbar import FastCrossbar, CrossbarSpec, linalg\n"
            "rng = np.random.default_rng(0); spec = CrossbarSpec(r_wordline_ohm=2.0, r_driver_ohm=5.0)\n"
            "v = rng.uniform(0, 0.2, (2, 10)); out = []\n"
            "for k in range(4):\n"
            "    x = FastCrossbar(rng.uniform(1e-6, 1e-4, (10, 10)), spec); x.read(v)\n"
            "    out.append((sorted(x._lines), sorted(x._models), 'scipy.sparse' in sys.modules))\n"
            "print(out)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    reads = eval(out.strip().splitlines()[-1])
    # the pattern's first two states: line elimination, no SciPy; from the third: the nodal model
    assert reads[:2] == [(["forward"], [], False)] * 2
    assert reads[2][:2] == ([], ["forward"]) and reads[3][:2] == ([], ["forward"])


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_fast_crossbar_answers_are_the_same_by_either_path(direction, monkeypatch):
    from eqspike_xbar.crossbar import linalg

    rng = np.random.default_rng(9)
    spec = CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=3.0, r_driver_ohm=40.0, r_sense_ohm=10.0, sense="tia",
                        cell="1T1R", termination="role")
    g = rng.uniform(1e-6, 1e-4, (9, 14))
    v = rng.uniform(0, 0.2, (3, 9 if direction == "forward" else 14))
    via_model = FastCrossbar(g, spec)
    via_model.model(direction)  # a state that already has its nodal model keeps using it
    ref = via_model.read(v, direction)
    assert not via_model._lines
    monkeypatch.setattr(linalg, "light_first_use", lambda key, n: True)  # as for a pattern never seen
    x = FastCrossbar(g, spec)
    np.testing.assert_allclose(x.read(v, direction), ref, rtol=RTOL)
    assert list(x._lines) == [direction] and not x._models
    np.testing.assert_allclose(x.read(v[:1], direction), ref[:1], rtol=RTOL)  # the factor is kept


@pytest.mark.parametrize("rows", [32, 128])
def test_crossbar_solve_imports_no_scipy(rows):
    code = ("import sys; from eqspike_xbar.cli import main; "
            f"main(['crossbar', 'solve', '--rows', '{rows}']); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'pypardiso', 'xarray', 'matplotlib'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
