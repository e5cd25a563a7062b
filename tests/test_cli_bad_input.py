"""Bad input: one clear line on stderr, exit status 2, nothing earlier lost."""
import pytest

from eqspike_xbar.cli import main


def run(capsys, *args):
    code = main(list(args))
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def test_unknown_config_key(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[learning]\nbetta = 0.5\n")
    code, err = run(capsys, "train", "--config", str(cfg), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and len(err) == 1
    assert "unknown key learning.betta" in err[0] and "beta" in err[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_malformed_toml(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[learning\nbeta = \n")
    code, err = run(capsys, "train", "--config", str(cfg))
    assert code == 2 and len(err) == 1 and "not valid TOML" in err[0]


def test_wrong_type_and_range(tmp_path, capsys):
    code, err = run(capsys, "train", "--set", 'learning.beta="big"', "--runs-dir", str(tmp_path))
    assert code == 2 and "learning.beta must be a number" in err[0]
    code, err = run(capsys, "train", "--set", "network.eps=2", "--runs-dir", str(tmp_path))
    assert code == 2 and "network.eps must be in (0, 1]" in err[0]


def test_unknown_dataset(tmp_path, capsys):
    code, err = run(capsys, "train", "--set", 'data.name="cifar"', "--runs-dir", str(tmp_path))
    assert code == 2 and len(err) == 1 and "data.name" in err[0] and "mnist" in err[0]


def test_missing_mnist_says_where_to_put_files(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EQSPIKE_XBAR_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    code, err = run(capsys, "train", "--config", "configs/mnist_eqspike.toml", "--data-dir", str(tmp_path / "empty"),
                    "--set", "data.download=false", "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and len(err) == 1
    assert "mnist not found" in err[0] and "train-images-idx3-ubyte" in err[0] and "--data-dir" in err[0]


def test_layers_must_fit_data(tmp_path, capsys):
    code, err = run(capsys, "train", "--set", "network.layers=[784, 100, 10]", "--runs-dir", str(tmp_path))
    assert code == 2 and "first size must be 64" in err[0]


def test_unwritable_run_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = run(capsys, "train", "--runs-dir", str(blocker / "runs"))
    assert code == 2 and len(err) == 1 and "not writable" in err[0]
    assert blocker.read_text() == "not a folder"


def test_resume_of_non_run_folder(tmp_path, capsys):
    code, err = run(capsys, "train", "--resume", str(tmp_path))
    assert code == 2 and "not a run folder" in err[0]


def test_bad_override_syntax(capsys):
    code, err = run(capsys, "train", "--set", "learning.beta")
    assert code == 2 and "section.key=value" in err[0]


def test_contrastive_needs_rate_neurons(capsys, tmp_path):
    code, err = run(capsys, "train", "--set", 'learning.rule="contrastive"', "--runs-dir", str(tmp_path))
    assert code == 2 and "neuron = 'rate'" in err[0]


def test_run_name_cannot_leave_the_runs_folder(tmp_path, capsys):
    code, err = run(capsys, "train", "--runs-dir", str(tmp_path / "runs"), "--set", 'run.name="a/../../escaped"')
    assert code == 2 and len(err) == 1 and "run.name" in err[0]
    assert not (tmp_path / "escaped").exists()


def test_bad_device_leaves_no_half_written_run_folder(tmp_path, capsys):
    code, err = run(capsys, "train", "--runs-dir", str(tmp_path / "runs"), "--set", 'synapses.backend="device"',
                    "--set", 'synapses.device="unobtainium"')
    assert code == 2 and len(err) == 1 and "unknown device 'unobtainium'" in err[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_main_job_input_checks(tmp_path, capsys):
    code, err = run(capsys, "run", "--runs-dir", str(tmp_path), "--set", "learning.epochs=0")
    assert code == 2 and "epochs >= 1" in err[0]
    code, err = run(capsys, "run", "--runs-dir", str(tmp_path), "--fidelities", "ideal,quantum")
    assert code == 2 and "choose from ideal, device, circuit" in err[0]
    (tmp_path / "train-run").mkdir()
    (tmp_path / "train-run" / "config.toml").write_text("[learning]\nepochs = 1\n")
    code, err = run(capsys, "run", "--resume", str(tmp_path / "train-run"))
    assert code == 2 and "not a main-job run folder" in err[0]


@pytest.mark.parametrize("flag,value", [("--v-read", "nan"), ("--v-read", "-1"), ("--v-read", "0"), ("--v0", "inf")])
def test_crossbar_solve_bad_read_voltage(capsys, flag, value):
    code, err = run(capsys, "crossbar", "solve", "--rows", "4", flag, value)
    assert code == 2 and len(err) == 1 and flag in err[0] and "finite" in err[0]


def test_crossbar_solve_device_by_name_or_toml(capsys, tmp_path):
    from eqspike_xbar.devices.library import DEVICE_MODELS_DIR

    code, err = run(capsys, "crossbar", "solve", "--rows", "4", "--device", "nosuch")
    assert code == 2 and len(err) == 1 and "unknown device 'nosuch'" in err[0]
    outs = []
    for device in ("taox_hfox", str(DEVICE_MODELS_DIR / "taox_hfox.toml")):
        assert main(["crossbar", "solve", "--rows", "4", "--direction", "forward", "--device", device]) == 0
        outs.append(capsys.readouterr().out.splitlines()[2])  # the output currents
    assert outs[0] == outs[1]
    # the device's range (TaOx/HfOx: 1-10 uS) and read voltage, not the defaults (1-100 uS, 0.2 V)
    currents = [float(x) for x in outs[0].split(":")[1].split(",")]
    assert max(currents) < 4 * 10e-6 * 0.2 * 1e6
