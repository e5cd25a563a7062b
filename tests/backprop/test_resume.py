"""Resume after a kill gives identical results with spiking_bp: a training process is killed
(SIGKILL) after its first checkpoint, resumed, and compared with an uninterrupted run."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import xarray as xr

from eqspike_xbar.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.parametrize("backend", ["ideal", "device"])
def test_resume_after_kill_is_identical(tmp_path, backend):
    epochs = 5 if backend == "ideal" else 3
    sets = ['learning.algorithm="spiking_bp"', f'synapses.backend="{backend}"', 'synapses.device="taox_hfox"',
            "learning.batch_size=1", "network.layers=[64, 32, 10]", f"learning.epochs={epochs}",
            "data.train_limit=" + ("600" if backend == "ideal" else "120")]
    args = []
    for s in sets:
        args += ["--set", s]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "eqspike_xbar.cli", "train", "--no-progress", "--runs-dir",
                             str(tmp_path), "--run-id", "killed"] + args,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "killed" / "checkpoints" / "last.npz"
    deadline = time.time() + 60
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert main(["train", "--no-progress", "--resume", str(tmp_path / "killed")]) == 0
    assert main(["train", "--no-progress", "--runs-dir", str(tmp_path), "--run-id", "full"] + args) == 0
    a = xr.open_dataset(tmp_path / "full" / "metrics.nc").load()
    b = xr.open_dataset(tmp_path / "killed" / "metrics.nc").load()
    assert len(b.epoch) == epochs
    for name in a.data_vars:
        if name not in ("epoch_time_s", "eval_time_s"):
            np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    wa = np.load(tmp_path / "full" / "checkpoints" / "last.npz")
    wb = np.load(tmp_path / "killed" / "checkpoints" / "last.npz")
    for k in wa.files:
        if "time_s" in k:  # wall-clock history
            continue
        np.testing.assert_array_equal(wa[k], wb[k], err_msg=k)
