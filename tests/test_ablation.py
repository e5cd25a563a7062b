"""'Which nonideality hurts most?' in the main job: the switches of the configured device, the
ranking, and the report section with the device-parameter table."""
import dataclasses

import numpy as np
import pytest
import xarray as xr

from eqspike_xbar.cli import main
from eqspike_xbar.config import config_from_dict
from eqspike_xbar.devices import Effects, load_device
from eqspike_xbar.experiments.ablation import GROUPS, LABELS, PRESENT, Switch, ranking, switches

FAST = ["--no-progress", "--set", "data.train_limit=100", "--set", "network.layers=[64, 16, 10]",
        "--set", "network.free_steps=10", "--set", "network.nudged_steps=4",
        "--set", "synapses.circuit.max_array_rows=32", "--set", "synapses.circuit.spot_checks=1"]


def test_every_device_effect_is_covered():
    names = [f.name for f in dataclasses.fields(Effects)]
    assert set(PRESENT) == set(names)  # a new effect must say when a device has it
    grouped = {m for g in GROUPS.values() for m in g}
    assert all(n in LABELS for n in names if n not in grouped or n in GROUPS)


def test_switches_of_taox_hfox():
    cfg = config_from_dict({"synapses": {"device": "taox_hfox"}})
    sws, absent = switches(cfg, load_device("taox_hfox"), ["ideal", "device", "circuit"])
    assert [s.name for s in sws] == ["nonlinearity", "quantization", "c2c", "wires"]
    assert sws[0].effects_off == ("asymmetry", "nonlinearity") and sws[-1].fidelity == "circuit"
    assert any("drift" in a for a in absent) and any("stuck" in a for a in absent)
    # effects the config already switches off are not switched again, and stay off in the others
    cfg = config_from_dict({"synapses": {"device": "taox_hfox", "effects_off": ["c2c"]}})
    sws, absent = switches(cfg, load_device("taox_hfox"), ["device"])
    assert [s.name for s in sws] == ["nonlinearity", "quantization"]
    assert all("c2c" in s.effects_off for s in sws) and any("C2C" in a for a in absent)


def test_a_switch_keeps_the_schemes_auto_threshold():
    """'auto' θ follows C2C (TaOx/HfOx: 4, with C2C off 1): the C2C switch must keep 4."""
    from eqspike_xbar.experiments.ablation import switch_config
    from eqspike_xbar.synapses.schemes import threshold_steps

    base = config_from_dict({"synapses": {"backend": "device", "device": "taox_hfox",
                                          "update": {"scheme": "mixed_precision", "threshold": "auto"}}}).to_dict()
    sw = next(s for s in switches(config_from_dict(base), load_device("taox_hfox"), ["device"])[0] if s.name == "c2c")
    off = config_from_dict(switch_config(base, sw, 2)).synapses
    assert "c2c" in off.effects_off and threshold_steps(off) == 4.0
    auto_off = config_from_dict({**base, "synapses": {**base["synapses"], "effects_off": ["c2c"]}}).synapses
    assert threshold_steps(auto_off) == 1.0  # what the switch would have measured without pinning


def test_ranking_pairs_by_seed_and_sorts_by_recovery():
    ref = xr.Dataset({"test_accuracy": (("seed", "epoch"), [[0.5, 0.6], [0.52, 0.62]])},
                     coords={"seed": [0, 1], "epoch": [1, 2]})
    a, b = Switch("a", "A", ("c2c",), "device"), Switch("b", "B", ("drift",), "device")
    got = {a: ref + 0.01, b: ref + 0.05}
    rows = ranking(got, {"device": ref}, epochs=1)
    assert [r["switch"].name for r in rows] == ["b", "a"]
    np.testing.assert_allclose(rows[0]["recovered"], [0.05, 0.05])
    np.testing.assert_allclose(rows[0]["reference"], [0.5, 0.52])
    rows = ranking(got, {"device": ref}, epochs=2)  # averaged over the last epochs up to 2
    np.testing.assert_allclose(rows[0]["reference"], [0.55, 0.57])


def test_bad_ablation_epochs(tmp_path, capsys):
    assert main(["run", "--runs-dir", str(tmp_path / "r"), "--ablation-epochs", "-1"]) == 2
    assert "--ablation-epochs" in capsys.readouterr().err and not (tmp_path / "r").exists()


@pytest.mark.ngspice
def test_main_job_ranks_the_device_effects(tmp_path):
    assert main(["run", "--runs-dir", str(tmp_path), "--run-id", "job", "--fidelities", "device,circuit",
                 "--set", "learning.epochs=2", "--ablation-epochs", "1", "--seeds", "0", *FAST]) == 0
    job = tmp_path / "job"
    report = (job / "report.md").read_text()
    assert "## Which nonideality hurts most?" in report and "train 1 epochs instead of 2" in report
    assert "## Device parameters" in report and "| noise.c2c_sigma | 0.037 | NeuroSim" in report
    ab = xr.load_dataset(job / "ablation.nc")
    assert set(ab.switch.values) == {"nonlinearity", "quantization", "c2c", "wires"}
    rec = list(ab.recovered.mean("seed").values)
    assert rec == sorted(rec, reverse=True)  # ranked
    device = xr.load_dataset(job / "device" / "metrics.nc")
    assert float(ab.reference.sel(switch="c2c").squeeze()) == float(device.test_accuracy.sel(epoch=1))  # window: epoch 1
    # the circuit with ideal wires and an ideal sense reads exactly the device's matmul: the same run
    no_wires = xr.load_dataset(job / "ablation" / "wires" / "seed0" / "metrics.nc")
    assert float(no_wires.test_accuracy[-1]) == float(device.test_accuracy.sel(epoch=1))
    assert (job / "ablation.png").stat().st_size > 1000


@pytest.mark.parametrize("recovered, words", [
    ([0.05, 0.04, 0.06], "hurts most here"),                    # +5 ± 1 points: measurable
    ([0.0034 + d for d in (-0.012, 0.0, 0.012)], "more than its spread"),  # +0.34 ± 1.2: within the spread
    ([-0.01, -0.02, 0.0], "No switch recovers accuracy"),
    ([0.02], "hurts most here"),                                # one seed: no spread to compare with
])
def test_the_ranking_says_hurts_only_beyond_the_seed_spread(recovered, words):
    from eqspike_xbar.experiments.main_report import _verdict

    sw = Switch("c2c", "cycle-to-cycle noise (C2C)", ("c2c",), "device")
    assert words in _verdict({"switch": sw, "recovered": np.array(recovered)})
