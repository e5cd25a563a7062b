"""The main job end to end on a tiny configuration: three fidelities, ngspice check, report."""
import json

import pytest
import xarray as xr

from eqspike_xbar.cli import main


@pytest.mark.ngspice
def test_main_job_writes_report_with_all_fidelities(tmp_path, capsys):
    code = main(["run", "--runs-dir", str(tmp_path), "--run-id", "job", "--no-progress", "--seeds", "0",
                 "--ablation-epochs", "0",
                 "--set", "data.train_limit=80", "--set", "network.layers=[64, 16, 10]",
                 "--set", "network.free_steps=10", "--set", "network.nudged_steps=4",
                 "--set", "learning.epochs=1", "--set", "synapses.circuit.max_array_rows=32",
                 "--set", "synapses.circuit.spot_checks=1"])
    assert code == 0
    job = tmp_path / "job"
    assert json.loads((job / "status.json").read_text())["state"] == "finished"
    report = (job / "report.md").read_text()
    for fid in ("ideal", "device", "circuit"):
        ds = xr.open_dataset(job / fid / "metrics.nc")
        assert 0.0 <= float(ds.test_accuracy[-1]) <= 1.0
        assert float(ds.energy_train.sel(component="total")[-1]) > 0
        assert f"| {fid} |" in report
    assert "ngspice check of the trained conductances (W1 G+" in report and "failed" not in report
    assert "asymmetry is exactly 0" in report  # line termination, ideal sense: reciprocal circuit
    assert (job / "netlists" / "W1_tile0_forward.cir").read_text().lstrip().startswith("*")
    for png in ("learning_curves.png", "energy_train.png", "conductances.png", "stdp.png", "circuit_diagnostics.png"):
        assert (job / png).stat().st_size > 1000
    assert "<table>" in (job / "report.html").read_text()
