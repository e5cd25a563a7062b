"""scripts/scheme_table.py on synthetic run and sweep folders: rows per device and update
setting, seeds pooled only when every other setting agrees, unfinished runs and pending points,
paired gaps to the reference, and one error line for a folder that is neither kind."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import tomli_w
import xarray as xr

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def table():
    spec = importlib.util.spec_from_file_location("scheme_table", ROOT / "scripts" / "scheme_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_folder(path: Path, acc, seed=0, device="taox_hfox", backend="device", epochs=None, steps=4.0, lr_decay=0.5,
               **update):
    cfg = {"run": {"seed": seed, "name": "x"}, "learning": {"epochs": epochs or len(acc), "lr_decay": lr_decay},
           "synapses": {"backend": backend, "device": device,
                        "update": {"scheme": "mixed_precision", "threshold": 4.0, **update}}}
    n = len(acc)
    ds = xr.Dataset({"test_accuracy": ("epoch", np.asarray(acc, float)),
                     "pulses_train_per_image": ("epoch", np.full(n, 3.0)),
                     "energy_train_total_J": ("epoch", np.full(n, 2e-6))}, coords={"epoch": np.arange(1, n + 1)})
    ds.attrs.update(config_toml=tomli_w.dumps(cfg), update_threshold_steps=steps)
    path.mkdir(parents=True)
    ds.to_netcdf(path / "metrics.nc")
    return path


def test_rows_pool_seeds_of_one_setting_and_pair_the_gap(table, tmp_path, capsys):
    ref = [run_folder(tmp_path / f"f{s}", [0.95, 0.97], seed=s, backend="ideal") for s in (0, 1)]
    runs = [run_folder(tmp_path / f"a{s}", [0.94, 0.96 - 0.01 * s], seed=s) for s in (0, 1)]
    runs.append(run_folder(tmp_path / "v0", [0.94, 0.965], verify="bounded"))
    runs.append(run_folder(tmp_path / "w0", [0.94, 0.90], lr_decay=1.0))  # another setting: its own row
    runs.append(run_folder(tmp_path / "u0", [0.94], epochs=2))  # unfinished: left out
    assert table.seeds_table([str(r) for r in runs], [str(r) for r in ref]) == 0
    out, err = capsys.readouterr()
    rows = [line for line in out.splitlines() if line.startswith("| taox_hfox")]
    assert len(rows) == 3
    pooled = next(r for r in rows if r.startswith("| taox_hfox | θ = 4 (learning.lr_decay = 0.5)"))
    assert "1.50 ± 0.71 points (1.00 / 2.00)" in pooled and pooled.endswith("| 2 |")
    assert any("verify bounded" in r and "0.50 points (0.50)" in r for r in rows)
    assert any(r.startswith("| taox_hfox | θ = 4 (learning.lr_decay = 1.0)") and "7.00 points" in r for r in rows)
    assert "has not finished its 2 epochs" in err


def test_a_sweep_folder_with_a_pending_device(table, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    devices, seeds = ["taox_hfox", "ag_asi"], [0, 1]
    status = np.array([["ok", "ok"], ["pending", "pending"]], dtype=object)
    ids = np.array([["p0000", "p0001"], ["p0002", "p0003"]], dtype=object)
    for i, s in enumerate(seeds):
        run_folder(sweep / "points" / ids[0, i], [0.95, 0.96], seed=s)
    xr.Dataset({"status": (("synapses_device", "seed"), status), "point_id": (("synapses_device", "seed"), ids)},
               coords={"synapses_device": devices, "seed": seeds}).to_netcdf(sweep / "sweep.nc")
    ref = [run_folder(tmp_path / f"f{s}", [0.95, 0.97], seed=s, backend="ideal") for s in seeds]
    assert table.seeds_table([str(sweep)], [str(r) for r in ref]) == 0
    out = capsys.readouterr().out
    assert "| taox_hfox | θ = 4 | 95.00 ± 0.00 % / 96.00 ± 0.00 % | 1.00 ± 0.00 points" in out
    assert "| ag_asi | … |" in out


def test_a_folder_of_neither_kind_is_one_error_line(table, tmp_path):
    with pytest.raises(SystemExit) as exc:
        table.seeds_table([str(tmp_path / "nothing")], [])
    assert "neither a sweep folder" in str(exc.value) and "\n" not in str(exc.value)
