"""The ngspice runner against analytic circuits. Needs libngspice: absent, these FAIL with
the install hint (they are never skipped)."""

import numpy as np
import pytest

from eqspike_xbar.errors import NetlistSafetyError, NgspiceError
from eqspike_xbar.spice import NgspiceRunner, classify_message, find_library, include_line

pytestmark = pytest.mark.ngspice

DIVIDER = """* divider
.options klu
V1 a 0 1.5
R1 a b 1000
R2 b 0 2000
.op
.end
"""


@pytest.fixture(scope="module")
def runner():
    return NgspiceRunner(timeout_s=20)


def test_library_is_ngspice_46_with_klu(runner):
    assert runner.version >= 46
    assert runner.has_klu


def test_operating_point_matches_ohms_law(runner):
    res = runner.run(DIVIDER)
    assert res.analysis == "op"
    np.testing.assert_allclose(res["b"], [1.0], rtol=1e-12)
    np.testing.assert_allclose(res["v1#branch"], [-0.5e-3], rtol=1e-12, atol=1e-15)


def test_alter_then_rerun_changes_the_solution(runner):
    runner.run(DIVIDER)
    runner.alter({"R2": 1000.0, "V1": 3.0})
    res = runner.rerun()
    np.testing.assert_allclose(res["b"], [1.5], rtol=1e-12)
    np.testing.assert_allclose(res["v1#branch"], [-1.5e-3], rtol=1e-12, atol=1e-15)


def test_transient_rc_charging_matches_exponential(runner):
    res = runner.run("""* rc step
.options klu
V1 a 0 PWL(0 0 1n 1)
R1 a b 1000
C1 b 0 1n
.tran 10n 5u 0 10n
.end
""")
    assert res.analysis == "tran"
    t, v = res["time"], res["b"]
    sel = t > 0.5e-6
    expected = 1.0 - np.exp(-(t[sel] - 0.5e-9) / 1e-6)
    np.testing.assert_allclose(v[sel], expected, atol=2e-3)


def test_bad_netlist_is_reported(runner):
    with pytest.raises(NgspiceError, match="error while loading"):
        runner.run("* bad\nR1 a 0 foo\n.op\n.end\n")


def test_convergence_failure_is_retried_then_reported(runner):
    # v/1 Ohm = 1 + v^2 has no real solution
    with pytest.raises(NgspiceError, match="did not converge, also not with gmin and source stepping"):
        runner.run("* no solution\n.options klu\nR1 a 0 1\nB1 0 a I=1+v(a)*v(a)\n.op\n.end\n")


def test_time_limit_halts_the_simulation(runner):
    slow = "* slow\n.options klu\nV1 a 0 SIN(0 1 1k)\nR1 a b 1k\nC1 b 0 1u\n.tran 1n 100m\n.end\n"
    with pytest.raises(NgspiceError, match="time limit of 0.3 s"):
        runner.run(slow, timeout_s=0.3)
    assert runner.run(DIVIDER)["b"][0] == pytest.approx(1.0)  # usable afterwards


def test_control_blocks_are_refused_before_running(runner):
    with pytest.raises(NetlistSafetyError):
        runner.run("* evil\n.control\nshell rm -rf /\n.endc\n.end\n")


def test_alter_rejects_unsafe_names(runner):
    runner.run(DIVIDER)
    with pytest.raises(NetlistSafetyError):
        runner.alter({"r1; shell ls": 1.0})


def test_only_the_asked_vectors_are_read_and_names_are_checked_first(runner):
    res = runner.run(DIVIDER, vectors=["B", "v1#branch"])
    assert sorted(res.vectors) == ["b", "v1#branch"]
    np.testing.assert_allclose(res["b"], [1.0], rtol=1e-12)
    with pytest.raises(NetlistSafetyError, match="vector name"):
        runner.run(DIVIDER, vectors=["b; shell ls"])
    with pytest.raises(NgspiceError, match="no vector 'nope'"):
        runner.run(DIVIDER, vectors=["nope"])
    assert runner.run(DIVIDER)["b"][0] == pytest.approx(1.0)  # the runner is still usable


def test_rerun_without_loaded_circuit_is_an_error():
    with pytest.raises(NgspiceError, match="call run"):
        NgspiceRunner().rerun()


def test_missing_library_names_install_command(monkeypatch, tmp_path):
    monkeypatch.setenv("NGSPICE_LIBRARY_PATH", str(tmp_path / "nope.so"))
    with pytest.raises(NgspiceError, match="apt-get install -t bookworm-backports ngspice libngspice0"):
        find_library()


def test_unknown_circuit_file_and_unsafe_name():
    with pytest.raises(NgspiceError, match="not found"):
        include_line("no_such_file.lib")
    with pytest.raises(NetlistSafetyError):
        include_line("../etc/passwd")


@pytest.mark.parametrize(
    "stream,text,kind",
    [
        ("stderr", "Using KLU as Direct Linear Solver", "info"),
        ("stderr", "Note: No compatibility mode selected!", "info"),
        ("stderr", "Warning: singular matrix:  check node a", "warning"),
        ("stderr", "Error on line 2 or its substitute:", "error"),
        ("stdout", "doAnalyses: iteration limit reached", "error"),
        ("stdout", "No. of Data Rows : 1", "info"),
    ],
)
def test_message_classification(stream, text, kind):
    assert classify_message(stream, text) == kind
