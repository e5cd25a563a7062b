"""Seeds as a dimension: --seeds runs them side by side, one metrics.nc with a seed dimension,
the same numbers as single-seed runs on this machine, mean ± sd in the report."""
import json

import numpy as np
import pytest
import xarray as xr

from eqspike_xbar.cli import main
from eqspike_xbar.experiments.runs import load_experiment_seeds
from eqspike_xbar.experiments.seeds import combine, fmt_pct, parse_seeds, summary

FAST = ["--no-progress", "--set", "data.train_limit=100", "--set", "network.layers=[64, 16, 10]",
        "--set", "network.free_steps=10", "--set", "network.nudged_steps=4", "--set", "learning.epochs=2"]
TIMING = ["epoch_time_s", "eval_time_s"]


def run(capsys, *args):
    code = main(list(args))
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("text", ["0,x", "1,1", "-1", ",", "0.5"])
def test_bad_seeds_one_line_nothing_written(tmp_path, capsys, text):
    for cmd in ("train", "run"):
        code, err = run(capsys, cmd, f"--seeds={text}", "--runs-dir", str(tmp_path / "runs"))
        assert code == 2 and len(err) == 1 and "--seeds" in err[0], err
    assert not (tmp_path / "runs").exists()


def test_seeds_from_the_config():
    cfg, seeds = load_experiment_seeds(None, ["run.seeds=[3, 4]"])
    assert seeds == [3, 4]
    assert load_experiment_seeds(None, [])[1] is None
    with pytest.raises(Exception, match="run.seeds"):
        load_experiment_seeds(None, ["run.seeds=[1, 1]"])  # seeds must be distinct


def test_summary_and_format():
    assert summary([0.9, 0.92, np.nan]) == pytest.approx((0.91, np.std([0.9, 0.92], ddof=1), 2))
    assert fmt_pct([0.9]) == "90.00 %" and fmt_pct([0.9, 0.92]) == "91.00 ± 1.41 % (2 seeds)"
    assert parse_seeds("0, 1,2") == [0, 1, 2]


def test_combine_pads_a_seed_that_stopped_early():
    a = xr.Dataset({"test_accuracy": ("epoch", [0.5, 0.6, 0.7])}, coords={"epoch": [1, 2, 3]}, attrs={"wall_time_s": 3.0})
    b = xr.Dataset({"test_accuracy": ("epoch", [0.4, 0.5])}, coords={"epoch": [1, 2]}, attrs={"wall_time_s": 2.0})
    ds = combine({0: a, 7: b})
    assert list(ds.seed.values) == [0, 7] and ds.sizes["epoch"] == 3
    assert np.isnan(float(ds.test_accuracy.sel(seed=7, epoch=3))) and ds.attrs["wall_time_s"] == 5.0


def test_train_seeds_side_by_side_equal_single_seed_runs(tmp_path, capsys):
    code, _ = run(capsys, "train", "--runs-dir", str(tmp_path), "--run-id", "multi", "--seeds", "0,1",
                  "--workers", "2", *FAST)
    assert code == 0
    multi = xr.load_dataset(tmp_path / "multi" / "metrics.nc")
    assert list(multi.seed.values) == [0, 1] and multi.test_accuracy.dims == ("seed", "epoch")
    assert json.loads((tmp_path / "multi" / "status.json").read_text())["seeds"] == [0, 1]
    assert (tmp_path / "multi" / "learning_curve.png").stat().st_size > 1000
    for seed in (0, 1):  # same machine, same seed, one thread: the same numbers as a run of its own
        code, _ = run(capsys, "train", "--runs-dir", str(tmp_path), "--run-id", f"single{seed}",
                      "--set", f"run.seed={seed}", *FAST)
        assert code == 0
        single = xr.load_dataset(tmp_path / f"single{seed}" / "metrics.nc")
        for var in ("test_accuracy", "train_cost", "energy_train"):
            np.testing.assert_array_equal(multi[var].sel(seed=seed).values, single[var].values)
    assert multi.test_accuracy.sel(seed=0).values.tolist() != multi.test_accuracy.sel(seed=1).values.tolist()
    # resume of a finished multi-seed run: nothing to train, same result
    code, _ = run(capsys, "train", "--resume", str(tmp_path / "multi"), "--workers", "2", "--no-progress")
    assert code == 0
    again = xr.load_dataset(tmp_path / "multi" / "metrics.nc")
    xr.testing.assert_equal(again.drop_vars(TIMING + ["wall_time_s"]), multi.drop_vars(TIMING + ["wall_time_s"]))
    code, err = run(capsys, "train", "--resume", str(tmp_path / "multi"), "--seeds", "0,2")
    assert code == 2 and "keeps its seeds" in err[0]


@pytest.mark.ngspice
def test_main_job_with_seeds_reports_mean_and_sd(tmp_path, capsys):
    code, _ = run(capsys, "run", "--runs-dir", str(tmp_path), "--run-id", "job", "--fidelities", "ideal,device",
                  "--seeds", "0,1", "--workers", "2", "--ablation-epochs", "0", *FAST)
    assert code == 0
    job = tmp_path / "job"
    for fid in ("ideal", "device"):
        assert (job / fid / "seed0" / "metrics.nc").is_file() and (job / fid / "seed1" / "metrics.nc").is_file()
    ds = xr.load_dataset(job / "metrics.nc")
    assert set(ds.test_accuracy.dims) == {"fidelity", "seed", "epoch"} and list(ds.fidelity.values) == ["ideal", "device"]
    report = (job / "report.md").read_text()
    assert "seeds 0, 1" in report and "± " in report and "(2 seeds)" in report and "--seeds 0,1" in report


def test_a_sweep_on_a_base_with_seeds_uses_its_own_seed_axis(tmp_path):
    from eqspike_xbar.config import default_config_path
    from eqspike_xbar.experiments.sweep_spec import load_sweep

    f = tmp_path / "s.toml"
    f.write_text(f'base = "{default_config_path("main_digits.toml")}"\n[axes]\nseeds = [4, 5]\n')
    assert [p.config["run"]["seed"] for p in load_sweep(f).points()] == [4, 5]
