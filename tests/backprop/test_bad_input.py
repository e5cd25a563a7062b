"""Bad input for the algorithm choice: one clear line, non-zero exit, nothing written."""
from pathlib import Path

import pytest

from eqspike_xbar.algorithms import ALGORITHMS
from eqspike_xbar.cli import main
from eqspike_xbar.config import config_from_dict


def run(capsys, tmp_path, *sets):
    args = ["train", "--no-progress", "--runs-dir", str(tmp_path / "runs")]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1, err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    return err[0]


def test_unknown_algorithm(tmp_path, capsys):
    err = run(capsys, tmp_path, 'learning.algorithm="hebb"')
    assert "learning.algorithm 'hebb' is unknown" in err and all(a in err for a in ALGORITHMS)


@pytest.mark.parametrize("option, owner", [
    ("learning.beta=0.5", "eqspike"), ('learning.nudging="positive"', "eqspike"),
    ("network.free_steps=20", "eqspike"), ("network.eps=0.5", "eqspike"),
])
def test_an_ep_option_for_spiking_bp(tmp_path, capsys, option, owner):
    err = run(capsys, tmp_path, 'learning.algorithm="spiking_bp"', option)
    key = option.split("=")[0]
    assert f"{key} belongs to learning.algorithm = {owner}, rate_ep, not 'spiking_bp'" in err


@pytest.mark.parametrize("algorithm", ["eqspike", "rate_ep", None])
def test_a_spiking_bp_option_for_ep(tmp_path, capsys, algorithm):
    sets = ["spiking_bp.threshold=0.3"] + ([f'learning.algorithm="{algorithm}"'] if algorithm else [])
    err = run(capsys, tmp_path, *sets)
    assert "section [spiking_bp] belongs to learning.algorithm = spiking_bp, not" in err


def test_rate_ep_with_spiking_neurons(tmp_path, capsys):
    err = run(capsys, tmp_path, 'learning.algorithm="rate_ep"', 'network.neuron="spiking"')
    assert "learning.algorithm = 'rate_ep' needs network.neuron = 'rate', got 'spiking'" in err


def test_layer_size_not_matching_the_data(tmp_path, capsys):
    err = run(capsys, tmp_path, 'learning.algorithm="spiking_bp"', "network.layers=[400, 400, 10]")
    assert "does not fit digits: the first size must be 64" in err


def test_resolved_configs_hold_only_their_algorithms_options():
    sbp = config_from_dict({"learning": {"algorithm": "spiking_bp"}})
    text = sbp.to_toml()
    assert "beta" not in text and "free_steps" not in text and "[spiking_bp]" in text
    assert sbp.learning.lr == [2 / 1024, 2 / 1024]
    assert config_from_dict(sbp.to_dict()).to_dict() == sbp.to_dict()  # resume reads it back
    ep = config_from_dict({})
    assert ep.learning.algorithm == "eqspike" and "[spiking_bp]" not in ep.to_toml() and ep.learning.lr == [0.1, 0.05]
    rate = config_from_dict({"network": {"neuron": "rate"}})  # configs from before the key
    assert rate.learning.algorithm == "rate_ep" and rate.learning.rule == "two_factor"
    explicit = config_from_dict({"learning": {"algorithm": "rate_ep"}})
    assert explicit.network.neuron == "rate" and explicit.learning.rule == "contrastive"


SBP_CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "mnist_spiking_bp.toml")


@pytest.mark.parametrize("sets, message", [
    (['learning.algorithm="hebb"'], "learning.algorithm 'hebb' is unknown"),
    (["learning.beta=0.5"], "learning.beta belongs to learning.algorithm = eqspike, rate_ep, not 'spiking_bp'"),
    (['data.name="digits"'], "does not fit digits: the first size must be 64"),
    (["spiking_bp.weight_clip=0.1"], "spiking_bp.init_clip (0.234375) must not exceed spiking_bp.weight_clip (0.1)"),
])
def test_the_main_job_rejects_bad_spiking_bp_input_in_one_line(tmp_path, capsys, sets, message):
    args = ["run", "--config", SBP_CONFIG, "--no-progress", "--runs-dir", str(tmp_path / "runs"),
            "--data-dir", str(tmp_path / "no-data")]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1, err
    assert message in err[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
