"""Coincidence programming in ngspice: cell voltages, disturb, polarity, STDP, calibration, CLI.

Tolerances: states are compared to 1e-9 (of the 0..1 state range: ngspice integrates an exactly
zero rate below threshold); cell voltages with ideal wires to 1 mV.
"""
import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from eqspike_xbar.programming.netlist import Event, Scheme, cell_voltages, coincidence_netlist, states
from eqspike_xbar.programming.measure import (calibrate, isolated_response, overlap_s, pulse_response,
                                               stdp_curve)
from eqspike_xbar.crossbar.spec import CrossbarSpec
from eqspike_xbar.devices.model import DeviceArray
from eqspike_xbar.devices.params import Effects
from eqspike_xbar.errors import NgspiceError

pytestmark = pytest.mark.ngspice
ROOT = Path(__file__).resolve().parents[2]
IDEAL = CrossbarSpec(r_wordline_ohm=0.0, r_bitline_ohm=0.0)


def _run(text):
    from eqspike_xbar.spice import NgspiceRunner

    return NgspiceRunner(timeout_s=120).run(text)


@pytest.mark.parametrize("scheme", ["V/2", "V/3"])
def test_half_selected_cells_see_at_most_the_half_select_voltage_and_do_not_change(scheme):
    sc = Scheme(scheme, 1.5)
    shape, sel = (4, 4), (1, 2)
    text, samples = coincidence_netlist(shape, [Event(*sel, 1), Event(*sel, -1)], sc, IDEAL, w0=0.5)
    res = _run(text)
    v = cell_voltages(res.vectors, shape)
    mask = np.ones(shape, bool)
    mask[sel] = False
    assert np.abs(v[:, mask]).max() <= sc.half_select_V + 1e-3  # 0.75 V (V/2) or 0.5 V (V/3), below 1 V
    assert np.abs(v[:, sel[0], sel[1]]).max() == pytest.approx(1.5, abs=1e-3)
    w = states(res.vectors, samples, shape)
    assert np.abs(w[:, mask] - 0.5).max() < 1e-9  # half-selected and unselected: no change
    assert w[1][sel] - w[0][sel] > 5e-3 and w[2][sel] - w[1][sel] < -5e-3  # selected: SET up, RESET down


@pytest.mark.parametrize("scheme", ["V/2", "V/3"])
def test_dG_sign_follows_the_polarity(scheme):
    r = pulse_response((3, 3), Scheme(scheme), 5, 5, w0_selected=0.3)
    dg = np.diff(r.g_selected)
    assert np.all(dg[:5] > 0) and np.all(dg[5:] < 0)
    d = r.disturb()
    assert all(d[f"{role}_{s}"]["max_abs"] < 1e-9 for role in ("row", "col", "unselected") for s in ("set", "reset"))


def test_above_threshold_half_select_disturbs_and_the_model_reproduces_it():
    # V/2 at 2.5 V: half-selected cells see 1.25 V > 1 V threshold
    r = pulse_response((3, 3), Scheme("V/2", 2.5), 4, 4, selected=(0, 0), w0_selected=0.5, spec=IDEAL)
    hs = r.half_select()
    assert hs.set_rel > 1e-4 and hs.reset_rel > 1e-4 and hs.voltage_V == 1.25
    g = r.g[:, 0, 1]  # same row as the selected cell
    from eqspike_xbar.devices.library import load_device

    p = load_device("ideal")
    p = p.with_(half_select=hs, conductance=dataclasses.replace(p.conductance, gmin_S=r.device.gmin,
                                                                  gmax_S=r.device.gmax))
    arr = DeviceArray(p, (1,), seed=0,
                      effects=Effects.none().only("half_select"), g_init=np.array([g[0]]))
    model = [g[0]]
    for s in r.polarity:
        arr.apply_half_select(np.array([int(s > 0)]), np.array([int(s < 0)]))
        model.append(arr.conductance()[0])
    err = np.abs(np.array(model) - g).max()
    assert err < 0.1 * np.ptp(g)  # within 10 % of the disturb's own excursion
    unselected = r.g[:, 1:, 1:]
    assert np.abs(unselected - unselected[0]).max() < 1e-9 * r.range_S  # V/2: unselected cells see 0 V


def test_stdp_curve_is_zero_without_overlap_and_grows_with_overlap():
    sc = Scheme("V/2", 1.5, width_s=50e-9, edge_s=1e-9)
    delays = np.array([-70, -53, -40, -25, -10, 0, 10, 25, 40, 53, 70]) * 1e-9
    dg = stdp_curve(delays, (3, 3), sc, 1, spec=IDEAL)
    ov = overlap_s(delays, sc)
    none = np.abs(delays) >= sc.width_s + 2 * sc.edge_s
    assert np.all(np.abs(dg[none]) < 1e-12)
    right = (delays >= 0) & ~none
    assert np.all(np.diff(dg[right]) < 0) and np.all(np.diff(ov[right]) < 0)  # grows with the overlap
    np.testing.assert_allclose(dg, dg[::-1], rtol=1e-6, atol=1e-12)  # symmetric in the delay
    dg_ltd = stdp_curve([0.0, 70e-9], (3, 3), sc, -1, spec=IDEAL)
    assert dg_ltd[0] < 0 and abs(dg_ltd[1]) < 1e-12


def test_calibration_recovers_the_isolated_device_with_ideal_wires():
    r = pulse_response((8, 8), Scheme("V/2"), 40, 40, spec=IDEAL)
    g_iso = isolated_response(r.scheme, r.polarity)
    np.testing.assert_allclose(r.g_selected, g_iso, atol=1e-9 * r.range_S)  # ideal wires: same waveform
    cal = calibrate(r, "t_cal", g_iso)
    assert cal.error_frac("isolated").max() < 0.01  # calibrated model within 1 % of Gmax - Gmin, pulse by pulse
    assert cal.params.half_select.set_rel == 0 and cal.params.pulse.ltp_V == 1.5


def test_ngspice_failure_is_a_clear_error():
    from eqspike_xbar.spice import NgspiceRunner

    text, _ = coincidence_netlist((2, 2), [Event(0, 0, 1)], Scheme(), IDEAL)
    with pytest.raises(NgspiceError, match="ngspice"):
        NgspiceRunner(timeout_s=30).run(text.replace("memristor_vteam gmin", "no_such_model gmin"))
    with pytest.raises(NgspiceError, match="time limit"):
        pulse_response((4, 4), Scheme(), 200, 200, runner=NgspiceRunner(timeout_s=0.05))


@pytest.mark.skipif(shutil.which("ngspice") is None, reason="needs the ngspice executable")
def test_reference_testbench_runs_as_it_is():
    out = subprocess.run(["ngspice", "-b", "coincidence_8x8.cir"], cwd=ROOT / "netlists", capture_output=True,
                         text=True, timeout=60).stdout
    vals = {k.strip(): float(v) for k, v in (line.split("=")[:2] for line in out.splitlines()
                                             if line.startswith("w_"))}
    assert vals["w_sel_1"] > vals["w_sel_0"] + 5e-3 and vals["w_sel_2"] < vals["w_sel_1"] - 5e-3
    for cell in ("row", "col", "uns"):
        assert all(abs(vals[f"w_{cell}_{k}"] - 0.5) < 1e-9 for k in range(3))


def test_cli_calibrate_and_stdp(tmp_path):
    from eqspike_xbar.cli import main
    from eqspike_xbar.devices.library import load_device

    assert main(["program", "calibrate", "--rows", "2", "--cols", "2", "--pulses", "8", "8", "--scheme", "V/2",
                 "--amplitude", "2.5", "--disturb-amplitudes", "--delays-ns", "-60", "60", "3",
                 "--runs-dir", str(tmp_path), "--run-id", "cal"]) == 0
    run = tmp_path / "cal"
    for f in ("measurements.nc", "vteam_array.toml", "pulse_response.png", "disturb.png", "stdp.png", "report.txt",
              "netlists/pulse_response_V2.cir", "netlists/pulse_response_V3.cir"):
        assert (run / f).is_file(), f
    p = load_device(str(run / "vteam_array.toml"))
    assert p.half_select.scheme == "V/2" and p.half_select.set_rel > 0  # 1.25 V half-select disturbs
    import xarray as xr

    with xr.open_dataset(run / "measurements.nc") as ds:
        assert ds.g_array_S.shape == (2, 17, 2, 2) and ds.stdp_dG_S.shape == (2, 2, 3)
    assert main(["program", "stdp", "--rows", "2", "--cols", "2", "--delays-ns", "0", "60", "2",
                 "--runs-dir", str(tmp_path), "--run-id", "stdp"]) == 0
    assert (tmp_path / "stdp" / "stdp.nc").is_file()
    # the calibrated device is what device/circuit training programs: SPICE -> TOML -> training
    assert main(["train", "--runs-dir", str(tmp_path), "--run-id", "trained", "--no-progress",
                 "--set", f"synapses.device={json.dumps(str(run / 'vteam_array.toml'))}",
                 "--set", 'synapses.backend="circuit"', "--set", "synapses.circuit.spot_checks=0",
                 "--set", "data.train_limit=40", "--set", "network.layers=[64, 8, 10]",
                 "--set", "network.free_steps=6", "--set", "network.nudged_steps=3", "--set", "network.readout_steps=3",
                 "--set", "learning.epochs=1"]) == 0
    from eqspike_xbar.config import load_config
    from eqspike_xbar.experiments.train import Trainer

    trained = tmp_path / "trained"
    trainer = Trainer(load_config(trained / "config.toml"), trained, progress=False)
    trainer.load_checkpoint()  # the trained network's devices are the calibrated ones
    syn = trainer.net.synapses[0]
    assert syn.params.name == "vteam_array" and syn.params.half_select.set_rel == p.half_select.set_rel > 0
    assert syn.params.conductance.gmax_S == p.conductance.gmax_S != load_device("taox_hfox").conductance.gmax_S
    for g in syn.conductances():
        assert np.all((g >= p.conductance.gmin_S * (1 - 1e-9)) & (g <= p.conductance.gmax_S * (1 + 1e-9)))
    with xr.open_dataset(trained / "metrics.nc") as ds:
        assert float(ds.energy_train.sel(component="programming")[-1]) > 0


@pytest.mark.parametrize("argv, match", [
    (["--rows", "0"], "--rows"),
    (["--name", "bad;name"], "--name"),
    (["--pulses", "2", "2"], "--pulses"),
    (["--amplitude", "-1"], "amplitude_V"),
    (["--delays-ns", "1", "-1", "3"], "--delays-ns"),
])
def test_cli_bad_input_one_line(argv, match, tmp_path, capsys):
    from eqspike_xbar.cli import main

    assert main(["program", "calibrate", "--runs-dir", str(tmp_path), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and match in err
