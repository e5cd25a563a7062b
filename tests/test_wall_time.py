"""Wall time sums every stretch of a resumed run; status.json stays current during a run."""
import json

import pytest
import xarray as xr

from eqspike_xbar.cli import main
from eqspike_xbar.experiments import train as T

FAST = ["--no-progress", "--set", "data.train_limit=60", "--set", "network.layers=[64, 16, 10]",
        "--set", "network.free_steps=10", "--set", "network.nudged_steps=4"]


def status(run_dir):
    return json.loads((run_dir / "status.json").read_text())


def test_status_is_written_every_epoch_with_the_elapsed_time(tmp_path, monkeypatch):
    seen = []
    real = T.Trainer.status

    def spy(self, state, **info):
        real(self, state, **info)
        seen.append(status(self.run_dir))

    monkeypatch.setattr(T.Trainer, "status", spy)
    assert main(["train", "--runs-dir", str(tmp_path), "--run-id", "r", "--set", "learning.epochs=3", *FAST]) == 0
    running = [s for s in seen if s["state"] == "running"]
    assert [s["epoch"] for s in running] == [0, 1, 2, 3]
    assert all(s["epochs"] == 3 and "updated" in s for s in seen)
    elapsed = [s["elapsed_s"] for s in seen]
    assert elapsed == sorted(elapsed) and seen[-1]["state"] == "finished"


def test_status_heartbeat_within_an_epoch(tmp_path, monkeypatch):
    seen = []
    real = T.Trainer.status
    monkeypatch.setattr(T.Trainer, "status", lambda self, state, **i: (seen.append(i), real(self, state, **i)))
    monkeypatch.setattr(T.Trainer, "__init__", _with_heartbeat(T.Trainer.__init__))
    assert main(["train", "--runs-dir", str(tmp_path), "--run-id", "r", "--set", "learning.epochs=1",
                 "--set", "learning.batch_size=20", *FAST]) == 0
    assert any("minibatch" in i for i in seen)


def _with_heartbeat(init):
    def wrapped(self, *a, **k):
        init(self, *a, **k)
        self.status_every_s = 0.0
    return wrapped


def test_train_wall_time_sums_the_stretches(tmp_path):
    run_dir = tmp_path / "r"
    assert main(["train", "--runs-dir", str(tmp_path), "--run-id", "r", "--set", "learning.epochs=1", *FAST]) == 0
    first = status(run_dir)["elapsed_s"]
    assert first > 0 and status(run_dir)["stretches"] == 1
    assert main(["train", "--resume", str(run_dir), "--set", "learning.epochs=2", "--no-progress"]) == 0
    st = status(run_dir)
    assert st["stretches"] == 2 and st["elapsed_s"] > first and st["state"] == "finished"
    ds = xr.open_dataset(run_dir / "metrics.nc")
    assert ds.attrs["stretches"] == 2 and ds.attrs["wall_time_s"] >= first + float(ds.epoch_time_s[-1])


@pytest.mark.ngspice
def test_main_job_report_sums_the_stretches(tmp_path):
    args = ["run", "--runs-dir", str(tmp_path), "--run-id", "job", "--fidelities", "ideal", "--seeds", "0", *FAST,
            "--set", "learning.epochs=1"]
    assert main(args) == 0
    job = tmp_path / "job"
    first_total, first_ideal = status(job)["elapsed_s"], status(job / "ideal")["elapsed_s"]
    assert main(["run", "--resume", str(job), "--fidelities", "ideal", "--no-progress",
                 "--set", "learning.epochs=2"]) == 0
    st = status(job)
    assert st["stretches"] == 2 and st["elapsed_s"] > first_total
    report = (job / "report.md").read_text()
    assert "summed over 2 stretches" in report
    row = next(line for line in report.splitlines() if line.startswith("| ideal |"))
    assert float(row.rstrip(" |").rsplit("|", 1)[1].strip().rstrip(" s")) >= round(first_ideal) - 1
