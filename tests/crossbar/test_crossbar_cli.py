"""The crossbar sub-commands through argparse (the command registered by commands/crossbar.py)."""
import argparse

import numpy as np
import pytest

from eqspike_xbar.commands import crossbar as cli
from eqspike_xbar.errors import CircuitError


def run(argv):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_solve_prints_currents_and_error_vs_ideal(capsys):
    assert run(["crossbar", "solve", "--rows", "12", "--cols", "9", "--r-wordline", "2"]) == 0
    out = capsys.readouterr().out
    assert "forward:" in out and "backward:" in out and "relative error vs ideal matmul" in out


def test_solve_with_zero_wires_reports_zero_error(capsys):
    run(["crossbar", "solve", "--rows", "6", "--r-wordline", "0", "--r-bitline", "0", "--direction", "forward"])
    err = float(capsys.readouterr().out.split("relative error vs ideal matmul: ")[1].split()[0])
    assert err < 1e-14


def test_netlist_for_a_conductance_file(tmp_path, capsys):
    g = np.array([[1e-5, 2e-5], [3e-5, 4e-5], [5e-5, 6e-5]])
    np.savetxt(tmp_path / "g.csv", g, delimiter=",")
    out = tmp_path / "run" / "xbar.cir"
    run(["crossbar", "netlist", "--conductances", str(tmp_path / "g.csv"), "--out", str(out),
         "--inputs", "0.1", "0.2", "0.3"])
    text = out.read_text()
    assert "R2_1 r2_1 c2_1 16666.666666666668" in text and "VINr2 rp2 0 0.3" in text


def test_bad_conductance_file_is_one_clear_error(tmp_path):
    with pytest.raises(CircuitError, match="not found"):
        run(["crossbar", "netlist", "--conductances", str(tmp_path / "none.npy"), "--out", str(tmp_path / "x.cir")])
    np.save(tmp_path / "neg.npy", np.array([[1e-5, -1e-5]]))
    with pytest.raises(CircuitError, match="negative"):
        run(["crossbar", "netlist", "--conductances", str(tmp_path / "neg.npy"), "--out", str(tmp_path / "x.cir")])
    assert not (tmp_path / "x.cir").exists()
