"""Sweeps end to end on a local Dask cluster: a failing point is recorded while the others
finish; resume recomputes nothing finished; a killed point continues from its checkpoint;
an interrupted sweep keeps its results; an unreachable scheduler loses nothing."""
import json
import time

import numpy as np
import pytest
import xarray as xr

from eqspike_xbar.cli import main
from eqspike_xbar.config import config_from_dict
from eqspike_xbar.experiments import sweep as sweep_mod
from eqspike_xbar.experiments.sweep import Sweep, dask_client
from eqspike_xbar.experiments.sweep_spec import load_sweep
from eqspike_xbar.experiments.train import Trainer

# network.layers [64, 16, 3] does not fit digits (10 classes): that point fails inside its worker,
# after validation (the data set is only loaded there).
AXES = {"network.layers": [[64, 16, 10], [64, 8, 10], [64, 16, 3]], "seeds": [0]}


@pytest.fixture(scope="module")
def client():
    with dask_client(n_workers=2) as c:
        yield c


def mtimes(sweep, pids):
    return {pid: (sweep.path / "points" / pid / "metrics.nc").stat().st_mtime_ns for pid in pids}


def test_failing_point_recorded_others_finish_killed_point_resumes(client, write_sweep, tmp_path):
    sweep = Sweep.create(load_sweep(write_sweep(AXES)), tmp_path / "runs", "s")
    # p0000 was killed after its first epoch (of 2): a checkpoint at epoch 1 in its folder.
    first = sweep.points[0]
    partial = Trainer(config_from_dict({**first.config, "learning": {**first.config["learning"], "epochs": 1}}),
                      sweep.point_dir(first), progress=False).run()

    ds = sweep.run(client, progress=False)

    assert list(ds.status.values.ravel()) == ["ok", "ok", "failed"]
    err = str(ds.error.isel(network_layers=2, seed=0).values)
    assert err.startswith("ConfigError: network.layers [64, 16, 3] does not fit digits")
    assert "Traceback" in (sweep.path / "points" / "p0002" / "traceback.txt").read_text()
    ok = ds.isel(network_layers=[0, 1])
    for m in ("test_accuracy", "validation_accuracy", "train_cost", "epoch_time_s"):
        assert np.isfinite(ok[m]).all() and np.isnan(ds[m].isel(network_layers=2)).all()
    assert (ok.test_accuracy > 0.1).all()  # learnt something in 2 epochs of 200 images
    xr.testing.assert_identical(xr.load_dataset(sweep.path / "sweep.nc"), ds)
    assert json.loads((sweep.path / "status.json").read_text()) == {"state": "finished", "ok": 2, "failed": 1, "pending": 0}
    # the killed point continued from its checkpoint: epoch 1 is the one trained before, not redone
    resumed = xr.load_dataset(sweep.path / "points" / "p0000" / "metrics.nc")
    assert len(resumed.epoch) == 2
    assert resumed.epoch_time_s.values[0] == partial.epoch_time_s.values[0]
    assert float(ds.test_accuracy.isel(network_layers=0, seed=0)) == float(resumed.test_accuracy[-1])

    # resume: nothing to do; with --retry-failed only the failed point runs (and fails again)
    before = mtimes(sweep, ["p0000", "p0001"])
    again = Sweep.open(sweep.path)
    assert again.todo() == [] and [p.pid for p in again.todo(retry_failed=True)] == ["p0002"]
    xr.testing.assert_identical(again.run(client, progress=False), ds)
    ds2 = again.run(client, retry_failed=True, progress=False)
    assert mtimes(sweep, ["p0000", "p0001"]) == before
    assert list(ds2.status.values.ravel()) == ["ok", "ok", "failed"]
    assert float(ds2.wall_time_s.isel(network_layers=2, seed=0)) != float(ds.wall_time_s.isel(network_layers=2, seed=0))


def test_cli_interrupted_sweep_resumes_without_redoing_finished_points(write_sweep, tmp_path, monkeypatch, capsys):
    f = write_sweep({"learning.beta": [0.5, 1.0], "seeds": [0, 1]})
    runs = tmp_path / "runs"
    record = Sweep.record

    def interrupt_after_first(self, p, result):  # Ctrl-C right after the first point is written
        record(self, p, result)
        raise KeyboardInterrupt

    monkeypatch.setattr(Sweep, "record", interrupt_after_first)
    assert main(["sweep", str(f), "--runs-dir", str(runs), "--sweep-id", "s", "--workers", "2", "--no-progress"]) == 130
    monkeypatch.setattr(Sweep, "record", record)
    folder = runs / "s"
    ds = xr.load_dataset(folder / "sweep.nc")
    done = [str(p) for p in ds.point_id.values[ds.status.values == "ok"]]
    assert len(done) == 1 and (ds.status == "pending").sum() == 3
    assert json.loads((folder / "status.json").read_text())["state"] == "interrupted"
    before = mtimes(Sweep.open(folder), done)

    capsys.readouterr()
    assert main(["sweep", "--resume", str(folder), "--workers", "2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"{folder}: 4 points (4 ok, 0 failed)" in out and "best test accuracy" in out
    assert mtimes(Sweep.open(folder), done) == before
    ds = xr.load_dataset(folder / "sweep.nc")
    assert (ds.status == "ok").all() and np.isfinite(ds.test_accuracy).all()
    assert (folder / "test_accuracy_vs_learning_beta.png").is_file()


def test_unreachable_scheduler_one_line_nothing_lost(write_sweep, tmp_path, capsys):
    f = write_sweep({"seeds": [0, 1]})
    runs = tmp_path / "runs"
    t0 = time.perf_counter()
    code = main(["sweep", str(f), "--runs-dir", str(runs), "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and time.perf_counter() - t0 < 10
    assert err.startswith("eqspike-xbar: error: cannot reach Dask scheduler tcp://127.0.0.1:1: ") and "\n" not in err
    assert "omit --scheduler for a local cluster" in err
    assert not runs.exists() or not any(runs.iterdir())  # no half-made sweep folder

    sweep = Sweep.create(load_sweep(f), runs, "s")
    files = {p: p.read_bytes() for p in sweep.path.iterdir()}
    for address in ("tcp://127.0.0.1:1", "not-an-address::"):
        assert main(["sweep", "--resume", str(sweep.path), "--scheduler", address, "--connect-timeout", "1"]) == 2
        assert "cannot reach Dask scheduler" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in sweep.path.iterdir()} == files


def test_address_that_is_not_a_scheduler(client, capsys, tmp_path, write_sweep):
    worker = next(iter(client.scheduler_info()["workers"]))
    code = main(["sweep", str(write_sweep({"seeds": [0]})), "--runs-dir", str(tmp_path), "--scheduler", worker,
                 "--connect-timeout", "2"])
    assert code == 2 and "is not a Dask scheduler (it answers as Worker)" in capsys.readouterr().err


def test_existing_scheduler(client, write_sweep, tmp_path, capsys):
    code = main(["sweep", str(write_sweep({"seeds": [0]})), "--runs-dir", str(tmp_path), "--sweep-id", "x",
                 "--scheduler", client.scheduler.address, "--no-progress"])
    assert code == 0 and "1 points (1 ok, 0 failed)" in capsys.readouterr().out
    assert str(xr.load_dataset(tmp_path / "x" / "sweep.nc").status.values[0]) == "ok"


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "give a sweep file, or --resume SWEEP_DIR"),
        (["--resume", "nowhere"], "nowhere is not a sweep folder (no sweep.toml)"),
        (["SWEEP", "--retry-failed"], "--retry-failed goes with --resume"),
        (["SWEEP", "--workers", "0"], "--workers must be >= 1"),
        (["SWEEP", "--set", "learning.nope=1"], "unknown key learning.nope"),
        (["BAD"], "is not valid TOML"),
        (["EMPTY"], "[axes] is empty: the grid has no points"),
    ],
)
def test_cli_bad_input(argv, message, write_sweep, tmp_path, capsys):
    good = write_sweep({"seeds": [0]})
    bad = tmp_path / "bad.toml"
    bad.write_text("[axes\nseeds = [0, 1]\n")
    empty = tmp_path / "empty.toml"
    empty.write_text("[axes]\n")
    argv = [{"SWEEP": str(good), "BAD": str(bad), "EMPTY": str(empty)}.get(a, a) for a in argv]
    assert main(["sweep", *argv, "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "runs").exists()


def test_one_worker_runs_the_points_in_grid_order(write_sweep, tmp_path, monkeypatch):
    """A sweep stopped part-way has its first axis values done: points start in grid order."""
    f = write_sweep({"learning.beta": [0.5, 1.0, 0.25], "seeds": [0]})
    order, record = [], Sweep.record

    def remember(self, p, result):
        order.append(p.pid)
        record(self, p, result)

    monkeypatch.setattr(Sweep, "record", remember)
    assert main(["sweep", str(f), "--runs-dir", str(tmp_path / "runs"), "--run-id", "s", "--workers", "1",
                 "--no-progress"]) == 0
    assert order == sorted(order) and len(order) == 3
