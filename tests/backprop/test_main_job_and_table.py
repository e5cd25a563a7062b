"""spiking_bp in the main job (ideal, device with the mixed-precision update scheme, circuit) with
its "Learning algorithm" report section, and scripts/algorithm_table.py on run folders of real
short runs (digits, one epoch): one markdown table, algorithm x fidelity, Loihi beside."""
import importlib.util
import json
from pathlib import Path

import pytest
import xarray as xr

from eqspike_xbar.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ['data.name="digits"', "data.train_limit=60", "network.layers=[64, 16, 10]", "learning.epochs=1",
        "data.validation_size=0", "data.test_fraction=0.1"]


def _sets(sets):
    out = []
    for s in sets:
        out += ["--set", s]
    return out


def _table_module():
    spec = importlib.util.spec_from_file_location("algorithm_table", ROOT / "scripts" / "algorithm_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A spiking_bp main job (3 fidelities), two spiking_bp train runs (seeds 1, 2) and an EqSpike train run."""
    d = tmp_path_factory.mktemp("runs")
    cfg = str(ROOT / "configs" / "mnist_spiking_bp.toml")
    assert main(["run", "--config", cfg, "--fidelities", "ideal,device,circuit", "--runs-dir", str(d), "--run-id", "job",
                 "--no-progress", "--ablation-epochs", "0"]
                + _sets(TINY + ['synapses.update.scheme="mixed_precision"', "synapses.circuit.max_array_rows=32",
                                "synapses.circuit.max_array_cols=32", "synapses.circuit.spot_checks=0"])) == 0
    for seed in (1, 2):
        assert main(["train", "--config", cfg, "--runs-dir", str(d), "--run-id", f"sbp{seed}", "--no-progress"]
                    + _sets(TINY + [f"run.seed={seed}"])) == 0
    assert main(["train", "--runs-dir", str(d), "--run-id", "ep", "--no-progress"]
                + _sets(["data.train_limit=60", "network.layers=[64, 16, 10]", "learning.epochs=1",
                         "network.free_steps=6", "network.nudged_steps=3", "network.readout_steps=2",
                         "data.validation_size=0", "data.test_fraction=0.1"])) == 0
    return d


@pytest.mark.ngspice
def test_main_job_runs_spiking_bp_with_an_update_scheme_and_reports_the_algorithm(runs):
    job = runs / "job"
    assert json.loads((job / "status.json").read_text())["state"] == "finished"
    for fid in ("ideal", "device", "circuit"):
        ds = xr.open_dataset(job / fid / "metrics.nc")
        assert ds.attrs["algorithm"] == "spiking_bp" and ds.attrs["steps_per_train_sample"] == 12
    assert xr.open_dataset(job / "device" / "metrics.nc").attrs["update_scheme"].startswith("mixed_precision")
    report = (job / "report.md").read_text()
    section = report.split("## Learning algorithm", 1)[1].split("\n## ", 1)[0]
    assert "**12 per training sample** and **4 per inference sample**" in section
    assert "`energy.time_step_s` = 1 µs" in section and "12 µs per training and 4 µs per inference sample" in section
    for fid in ("ideal", "device", "circuit"):
        assert f"| `{fid}` (this run) |" in section
    loihi = next(line for line in section.splitlines() if line.startswith("| Loihi"))
    assert "96.3 %" in loihi and "590 µJ" in loihi and "2.5 µJ" in loihi and "1.5 ms / 170 µs" in loihi
    assert "| programming |" in section and "| neurons |" in section  # energy by component
    # the three test criteria, the configured one equal to test_accuracy
    crit = next(line for line in section.splitlines() if line.startswith("| `device` |") and "%" in line)
    dev = xr.open_dataset(job / "device" / "metrics.nc")
    assert "argmax of the output spikes (`spikes_argmax`)" in section
    assert f"{100 * float(dev.test_accuracy_spikes[-1]):.2f} %" in crit.split("|")[2]
    assert f"{100 * float(dev.test_accuracy_potential[-1]):.2f} %" in crit.split("|")[4]
    assert "no STDP curve of its own" in report and not (job / "stdp_rule.nc").exists()
    assert "learning algorithm `spiking_bp`" in report and "nudging" not in report.split("## Accuracy")[0]


@pytest.mark.ngspice
def test_algorithm_table_pools_seeds_and_puts_loihi_beside(runs, capsys):
    table = _table_module()
    assert table.main([str(runs / n) for n in ("job", "sbp1", "sbp2", "ep", "sbp1")]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| `")]
    by = {tuple(c.strip() for c in line.split("|")[1:3]): line for line in lines}
    # spiking_bp ideal: seeds 0 (main job), 1 and 2 (train runs), sbp1 given twice counts once
    ideal = by[("`spiking_bp`", "`ideal`")]
    assert "(3 seeds)" in ideal and "±" in ideal and "12 / 4" in ideal and "12 µs / 4 µs (1 µs per step)" in ideal
    for fid in ("device", "circuit"):
        assert "(one seed)" in by[("`spiking_bp`", f"`{fid}`")]
    loihi = next(line for line in lines if "Loihi" in line)
    assert "96.3 %" in loihi and "590 µJ" in loihi and "1.5 ms / 170 µs" in loihi
    ep = by[("`eqspike`", "`ideal`")]
    assert "(one seed)" in ep and "Loihi" not in ep
    assert sum("Loihi" in line for line in lines) == 1  # only spiking_bp has published hardware figures
    assert "counted once" in out
    # rows: algorithm, then ideal / device / circuit, Loihi after its algorithm's own rows
    order = [tuple(c.strip() for c in line.split("|")[1:3]) for line in lines]
    assert order.index(("`spiking_bp`", "`circuit`")) < next(i for i, k in enumerate(order) if "Loihi" in k[1])


def test_algorithm_table_bad_folder(tmp_path, capsys):
    assert _table_module().main([str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a run folder" in err[0]
