"""Fitting: recovery of known parameters, the two measured data sets, bad measurement files."""
from pathlib import Path

import numpy as np
import pytest

from eqspike_xbar.cli import main
from eqspike_xbar.devices import (Conductance, DeviceArray, DeviceParams, Effects, Noise, Nonlinearity,
                                  load_device)
from eqspike_xbar.devices.fitting import fit_ramps
from eqspike_xbar.devices.measurements import Ramp, read_measurements
from eqspike_xbar.errors import DeviceModelError

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "device_measurements"
CROSSSIM = DATA / "crosssim_lookup_example"
GONG = DATA / "gong2018_hfo2" / "gong_et_al.csv"


def synthetic(truth: DeviceParams, devices=3, cycles=8, n_up=90, n_down=110, seed=3):
    arr = DeviceArray(truth, (devices,), seed=seed, effects=Effects(read_noise=False, quantization=False))
    ramps = []
    for cyc in range(cycles):
        for d, n in ((1, n_up), (-1, n_down)):
            g = []
            for _ in range(n):
                arr.apply_pulses(np.full(devices, d))
                g.append(arr.conductance())
            g = np.array(g)
            ramps += [Ramp(d, g[:, k], str(k), cyc) for k in range(devices)]
    return ramps


def test_fit_recovers_known_parameters_from_noisy_data():
    truth = DeviceParams(name="truth", conductance=Conductance(gmin_S=1e-6, gmax_S=1e-5, levels=60, levels_ltd=80),
                         nonlinearity=Nonlinearity(ltp=2.0, ltd=-3.0), noise=Noise(c2c_sigma=0.01))
    p = fit_ramps(synthetic(truth), "fitted", "synthetic").params
    rng_S = 9e-6
    assert abs(p.conductance.gmin_S - 1e-6) < 0.02 * rng_S
    assert abs(p.conductance.gmax_S - 1e-5) < 0.02 * rng_S
    assert p.conductance.levels == pytest.approx(60, rel=0.1)
    assert p.conductance.pulses_ltd == pytest.approx(80, rel=0.1)
    assert p.nonlinearity.ltp == pytest.approx(2.0, abs=0.4)
    assert p.nonlinearity.ltd == pytest.approx(-3.0, abs=0.4)
    assert p.noise.c2c_sigma == pytest.approx(0.01, rel=0.15)


def test_fit_copes_with_partial_cycles_drops_and_drift():
    truth = DeviceParams(name="truth", conductance=Conductance(gmin_S=2e-6, gmax_S=1e-5, levels=50),
                         nonlinearity=Nonlinearity(ltp=1.5, ltd=-1.5), noise=Noise(c2c_sigma=0.005))
    ramps = synthetic(truth, devices=1, cycles=6, n_up=40, n_down=45)  # partial: never the full range
    rng = np.random.default_rng(0)
    for i, r in enumerate(ramps):
        r.g = r.g * (1 + 0.002 * r.cycle)  # slow drift from cycle to cycle
        if r.direction < 0:
            r.g = r.g - 0.03 * 8e-6  # a drop between LTP and LTD
        r.g = r.g + rng.normal(0, 0.005 * 8e-6, r.g.size)  # read noise
    ramps.append(Ramp(1, np.array([3e-6, 3.1e-6]), "0", 9))  # too short: discarded
    res = fit_ramps(ramps, "fitted", "synthetic")
    p = res.params
    assert res.discarded == 1
    assert p.nonlinearity.ltp == pytest.approx(1.5, abs=0.5)
    assert p.nonlinearity.ltd == pytest.approx(-1.5, abs=0.5)
    assert p.conductance.levels == pytest.approx(50, rel=0.15)
    assert res.devices[0].rms_residual() < 0.03


@pytest.mark.skipif(not CROSSSIM.is_dir(), reason=f"measured data not found at {CROSSSIM}")
def test_fit_clean_multicycle_measurement():
    """CrossSim example device: 39 SET + 40 RESET ramps, values are A at 0.1 V (scale 10 → S)."""
    ramps = read_measurements(CROSSSIM / "set.csv", "columns", CROSSSIM / "reset.csv", scale=10)
    res = fit_ramps(ramps, "crosssim_example", "crosssim")
    dev = res.devices[0]
    assert len(dev.ramps) == 79
    assert dev.rms_residual(1) < 0.012 and dev.rms_residual(-1) < 0.012  # measured 0.78 % / 0.59 %
    p = res.params
    assert p.nonlinearity.ltp < 0  # convex SET curve, as PROVENANCE says
    assert 1.55e-3 < p.conductance.gmin_S < 1.65e-3 and 2.4e-3 < p.conductance.gmax_S < 2.6e-3
    assert p.noise.c2c_sigma < 0.01  # very clean
    assert abs(dev.drift_per_cycle()) < 1e-3
    r = np.concatenate([f.residual for f in dev.ramps]) / dev.range_S
    assert abs(r.mean()) < 0.002  # unbiased


def test_fit_noisy_hfo2_measurement():
    """Gong et al. HfO2 (normalised units, mapped to S by scale/offset): noise dominated."""
    if not GONG.is_file():
        pytest.skip(f"measured data not found at {GONG}")
    ramps = read_measurements(GONG, "updown", scale=1e-5, offset_S=2e-5)
    res = fit_ramps(ramps, "gong_hfo2", "gong")
    dev = res.devices[0]
    p = res.params
    assert dev.rms_residual() < 0.10  # measured 6.6-6.7 % of the range: the noise itself
    # residuals carry no trend left along the ramp: means of 10 blocks stay near 0
    for f in dev.ramps:
        blocks = np.array_split(f.residual / dev.range_S, 10)
        assert max(abs(b.mean()) for b in blocks) < 0.05
    # the fitted noise reproduces the measured pulse-to-pulse increment spread
    data_inc = np.std(np.concatenate([np.diff(r.g) for r in ramps]))
    sim = DeviceArray(p, (2000,), seed=0, effects=Effects(quantization=False), g_init="mid")
    reads = []
    for _ in range(30):
        sim.apply_pulses(np.ones(2000, int))
        reads.append(sim.read())
    sim_inc = np.std(np.diff(np.array(reads), axis=0))
    assert sim_inc == pytest.approx(data_inc, rel=0.25)


def test_cli_fit_writes_toml_and_figures(tmp_path):
    csv = tmp_path / "m.csv"
    truth = load_device("alox_hfo2")
    ramps = synthetic(truth.with_(noise=Noise(c2c_sigma=0.01)), devices=2, cycles=3, n_up=45, n_down=45)
    lines = ["device,cycle,direction,pulse,conductance_S"]
    for r in ramps:
        lines += [f"d{r.device},{r.cycle},{'ltp' if r.direction > 0 else 'ltd'},{k},{float(g)!r}" for k, g in enumerate(r.g)]
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "fitted.toml"
    assert main(["device", "fit", str(csv), "--name", "fitted", "--out", str(out), "--plots", str(tmp_path)]) == 0
    p = load_device(out)
    assert p.conductance.levels == pytest.approx(40, rel=0.15)
    assert p.nonlinearity.ltp == pytest.approx(1.94, abs=0.5)
    assert (tmp_path / "fitted_fit.png").stat().st_size > 0 and (tmp_path / "fitted_residuals.png").is_file()
    assert main(["device", "fit", str(csv), "--name", "fitted", "--out", str(out)]) == 2  # exists


@pytest.mark.parametrize("text,match", [
    ("", "is empty"),
    ("direction,conductance_S\nltp,abc\n", "not a number"),
    ("direction,conductance_S\nsideways,1e-6\n", "direction 'sideways'"),
    ("direction,g\nltp,1e-6\n", "unknown column(s) 'g'"),
    ("direction,conductance_S\nltp,1e-6,3\n", "3 fields"),
    ("direction,conductance_S\n" + "ltp,1e-6\n" * 20, "no usable depression"),
    ("direction,conductance_S\n" + "ltp,1e-6\nltd,1e-6\n" * 20, "no usable"),
    ("direction,conductance_S\n" + "".join(f"ltp,{-k}e-6\n" for k in range(20)), "negative conductance"),
])
def test_bad_measurement_files_fail_cleanly_and_write_nothing(tmp_path, capsys, text, match):
    csv = tmp_path / "bad.csv"
    csv.write_text(text)
    out = tmp_path / "never.toml"
    assert main(["device", "fit", str(csv), "--name", "x", "--out", str(out), "--plots", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "p").exists()


def test_bad_fit_arguments(tmp_path, capsys):
    assert main(["device", "fit", str(tmp_path / "missing.csv"), "--name", "x"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["device", "fit", str(GONG), "--layout", "updown", "--name", "bad name;"]) == 2
    assert "not a safe identifier" in capsys.readouterr().err
    with pytest.raises(DeviceModelError, match="--ltd"):
        read_measurements(CROSSSIM / "set.csv", "columns")
