"""Fast solver vs ngspice 46 on random small crossbars, both directions (needs libngspice:
absent, these FAIL with the install hint)."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

from eqspike_xbar.crossbar import CrossbarSpec, FastCrossbar, read_currents
from eqspike_xbar.errors import CircuitError
from eqspike_xbar.spice import NgspiceRunner

pytestmark = pytest.mark.ngspice
REPO = Path(__file__).resolve().parents[2]

CASES = [
    ((4, 4), CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=3.0, r_driver_ohm=10.0, r_sense_ohm=20.0, termination="role")),
    ((5, 3), CrossbarSpec(r_wordline_ohm=5.0, r_bitline_ohm=0.0, r_sense_ohm=5.0, sense="tia", cell="1T1R", termination="role")),
    ((3, 6), CrossbarSpec(r_wordline_ohm=1.0, r_bitline_ohm=1.0, r_driver_ohm=30.0, termination="line")),
    ((6, 6), CrossbarSpec(r_wordline_ohm=0.0, r_bitline_ohm=0.0)),
]


@pytest.fixture(scope="module")
def runner():
    return NgspiceRunner(timeout_s=30)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_linear_crossbars_agree_to_1e9(runner, case, direction):
    shape, spec = CASES[case]
    rng = np.random.default_rng(10 + case)
    g = rng.uniform(1e-6, 1e-4, shape)
    g[0, -1] = 0.0  # an open device is left out of the netlist
    v = rng.uniform(-0.3, 0.3, (3, shape[0] if direction == "forward" else shape[1]))
    ref = read_currents(g, v, spec, direction, "ngspice", runner=runner)  # 2nd, 3rd read via alter
    fast = FastCrossbar(g, spec).read(v, direction)
    np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=1e-9 * np.abs(ref).max())


@pytest.mark.parametrize("cell", ["1R", "1T1R"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_nonlinear_crossbars_agree_within_ngspice_newton_tolerance(runner, cell, direction):
    rng = np.random.default_rng(20)
    g = rng.uniform(1e-6, 1e-4, (4, 5))
    spec = CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=3.0, r_driver_ohm=10.0, v0=0.2, cell=cell, termination="role")
    v = rng.uniform(0.0, 0.5, (1, 4 if direction == "forward" else 5))
    ref = read_currents(g, v, spec, direction, "ngspice", runner=runner)
    fast = read_currents(g, v, spec, direction, "fast")
    np.testing.assert_allclose(fast, ref, rtol=1e-6, atol=1e-12)
    assert np.abs(fast - read_currents(g, v, CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=3.0, r_driver_ohm=10.0,
                                                           cell=cell, termination="role"), direction)).max() > 1e-3 * np.abs(ref).max()


def test_transfer_matrix_agrees_with_ngspice_unit_reads(runner):
    rng = np.random.default_rng(30)
    g = rng.uniform(1e-6, 1e-4, (4, 4))
    spec = CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=2.0, r_driver_ohm=20.0, termination="role")
    ref = read_currents(g, np.eye(4), spec, "forward", "ngspice", runner=runner)  # row i = W[i, :]
    np.testing.assert_allclose(FastCrossbar(g, spec).transfer_matrix("forward"), ref, rtol=1e-9, atol=1e-18)


def test_too_large_for_ngspice_suggests_fast_solver_or_tiling():
    with pytest.raises(CircuitError, match="use backend 'fast', or tile"):
        read_currents(np.full((512, 512), 1e-5), np.zeros(512), CrossbarSpec(), "forward", "ngspice", timeout_s=5)


def test_reference_4x4_netlist_runs_in_batch_ngspice():
    out = subprocess.run(["ngspice", "-b", str(REPO / "netlists" / "xbar_read_4x4.cir")],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "vsc3#branch" in out.stdout.lower()
    assert "error" not in (out.stdout + out.stderr).lower()
