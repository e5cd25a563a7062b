"""A sweep on a Dask cluster started as users start one: `dask scheduler` and `dask worker` as
separate processes (both on 127.0.0.1), with the same results as the local cluster."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from eqspike_xbar.cli import main

ROOT = Path(__file__).resolve().parents[2]
TIMING = ("epoch_time_s", "eval_time_s", "wall_time_s")


def dask_command() -> list[str]:
    exe = Path(sys.executable).parent / "dask"
    return [str(exe)] if exe.exists() else ([shutil.which("dask")] if shutil.which("dask") else [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def external_cluster(tmp_path):
    dask = dask_command()
    if not dask:
        pytest.skip("the dask command line is not installed")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    # the workers import this package: as on a real cluster, it must be installed (here: on the path)
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("scheduler", "worker")]
    procs = [subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port),
                                      "--dashboard-address", "127.0.0.1:0"],
                              env=env, stdout=logs[0], stderr=subprocess.STDOUT, cwd=tmp_path)]
    try:
        from distributed import Client

        deadline = time.time() + 60
        while True:  # the scheduler answers
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline or procs[0].poll() is not None:
                    raise RuntimeError((tmp_path / "scheduler.log").read_text())
                time.sleep(0.2)
        procs.append(subprocess.Popen(dask + ["worker", address, "--nworkers", "2", "--nthreads", "1",
                                              "--no-dashboard", "--host", "127.0.0.1"],
                                      env=env, stdout=logs[1], stderr=subprocess.STDOUT, cwd=tmp_path))
        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for p in reversed(procs):
            stop(p)
        for f in logs:
            f.close()
    assert all(p.poll() is not None for p in procs)


def test_sweep_on_separate_scheduler_and_workers_equals_local_cluster(external_cluster, write_sweep, tmp_path):
    spec = write_sweep({"learning.lr": [[0.05], [0.2]], "seeds": [0, 1]})
    assert main(["sweep", str(spec), "--runs-dir", str(tmp_path / "runs"), "--run-id", "remote",
                 "--scheduler", external_cluster, "--no-progress"]) == 0
    assert main(["sweep", str(spec), "--runs-dir", str(tmp_path / "runs"), "--run-id", "local",
                 "--workers", "2", "--no-progress"]) == 0
    remote = xr.load_dataset(tmp_path / "runs" / "remote" / "sweep.nc")
    local = xr.load_dataset(tmp_path / "runs" / "local" / "sweep.nc")
    assert (remote.status == "ok").all()
    drop = [v for v in remote.data_vars if v in TIMING or v.endswith("time_s")]
    xr.testing.assert_equal(remote.drop_vars(drop + ["point_id"]), local.drop_vars(drop + ["point_id"]))
    assert np.isfinite(remote.test_accuracy).all()
