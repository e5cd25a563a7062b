"""Sweep files: parsing, validation before anything runs, aliases, Dataset layout, plots."""
import numpy as np
import pytest
import xarray as xr

from eqspike_xbar.errors import ConfigError
from eqspike_xbar.experiments import sweep_spec
from eqspike_xbar.experiments.sweep import Sweep, final_epoch_metrics
from eqspike_xbar.figures.sweep import plot_sweep
from eqspike_xbar.experiments.sweep_spec import ALIASES, key_error, load_sweep, netcdf_name, parse_sweep


def test_grid_points_configs_and_names(write_sweep):
    spec = load_sweep(write_sweep({"learning.beta": [0.5, 1.0], "network.layers": [[64, 16, 10], [64, 8, 10]],
                                   "seeds": [3, 4, 5]}))
    assert spec.dims == ("learning_beta", "network_layers", "seed") and spec.shape == (2, 2, 3)
    points = spec.points()
    assert len(points) == 12 and len({p.pid for p in points}) == 12
    last = points[-1]
    assert last.index == (1, 1, 2)
    assert last.config["learning"]["beta"] == 1.0 and last.config["network"]["layers"] == [64, 8, 10]
    assert last.config["run"]["seed"] == 5 and last.config["learning"]["epochs"] == 2  # [set] applied
    assert last.label == "learning_beta=1.0, network_layers=[64, 8, 10], seed=5"


def test_base_relative_to_sweep_file_and_nested_tables(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "base.toml").write_text("[learning]\nepochs = 7\nbeta = 0.3\n")
    f = tmp_path / "sub" / "s.toml"
    f.write_text('base = "base.toml"\n[set.network]\neps = 0.5\n[axes.learning]\nbatch_size = [10, 20]\n')
    spec = load_sweep(f)
    assert spec.name == "s" and spec.dims == ("learning_batch_size",)
    cfg = spec.points()[1].config
    assert (cfg["learning"]["epochs"], cfg["learning"]["beta"], cfg["network"]["eps"], cfg["learning"]["batch_size"]) \
        == (7, 0.3, 0.5, 20)


def test_a_base_configs_seeds_do_not_reach_the_points(tmp_path):
    """A sweep's seeds are its `seeds` axis: a base with [run] seeds (e.g. the main job's config)
    gives points that train one seed each, also when one is resumed with `train --resume`."""
    (tmp_path / "base.toml").write_text("[run]\nseeds = [0, 1, 2]\n[learning]\nepochs = 1\n")
    f = tmp_path / "s.toml"
    f.write_text('base = "base.toml"\n[axes]\nseeds = [3, 4]\n')
    points = load_sweep(f).points()
    assert [p.config["run"]["seed"] for p in points] == [3, 4]
    assert all(not p.config["run"].get("seeds") for p in points)


@pytest.mark.parametrize(
    "doc, message",
    [
        ({"axes": {"learning.betaa": [1.0]}}, "'learning.betaa' is not a config key: unknown key learning.betaa; known keys in [learning]: algorithm, apply"),
        ({"axes": {"wire_resistance": [1.0]}}, "'wire_resistance' is not a config key: unknown key wire_resistance"),
        ({"set": {"network.epss": 1}, "axes": {"seeds": [0]}}, "[set]: 'network.epss' is not a config key"),
        ({"axes": {"network.eps.x": [1]}}, "network.eps is a value, not a table"),
        ({"axes": {}}, "[axes] is empty: the grid has no points"),
        ({"set": {}}, "no [axes] table"),
        ({"axes": {"seeds": []}}, "seeds = [] is empty: the grid has no points"),
        ({"axes": {"seeds": 3}}, "seeds must be a list of values, got 3"),
        ({"axes": {"seeds": [0, 1, 0]}}, "seeds lists 0 twice"),
        ({"axes": {"seeds": [0], "run.seed": [1]}}, "run.seed and seeds both set run.seed"),
        ({"axes": {"seeds": [0]}, "grid": 1}, "unknown key 'grid'; a sweep file has name, base, set, axes"),
        ({"base": "nowhere.toml", "axes": {"seeds": [0]}}, "base config 'nowhere.toml' not found"),
        ({"axes": {"learning.beta": [0.5, -1.0]}}, "point learning_beta=-1.0: learning.beta must be > 0, got -1.0"),
        ({"axes": {"learning.beta": ["high"]}}, "point learning_beta=\"high\": learning.beta must be a number"),
        ({"axes": {"network.readout_steps": [5, 60]}}, "network.readout_steps must be in [1, free_steps=50], got 60"),
    ],
)
def test_bad_sweeps_fail_before_anything_runs(doc, message):
    with pytest.raises(ConfigError) as err:
        parse_sweep(doc, "s.toml").points()
    assert message in str(err.value)
    assert str(err.value).startswith("s.toml")
    assert "\n" not in str(err.value)


ALIAS_SAMPLES = {"seeds": 3, "wire_resistance_ohm": 2.5, "array_size": 64, "levels": 32, "c2c_sigma": 0.01,
                 "read_noise_sigma": 0.02, "d2d_g_rel": 0.1, "stuck_at_rate": 0.01, "on_off_ratio": 5.0}


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_aliases_set_keys_that_exist(name):
    """Every alias target is a config key, and device-model keys exist in the device schema."""
    for k in ALIASES[name]:
        assert key_error(k) is None, f"alias {name}: {key_error(k)}"
    spec = parse_sweep({"set": {"synapses.device": "ag_asi"}, "axes": {name: [ALIAS_SAMPLES[name]]}}, "s.toml")
    (point,) = spec.points()  # validated, device overrides included
    for k in ALIASES[name]:
        node = point.config
        for part in k.split("."):
            node = node[part]
        assert node == ALIAS_SAMPLES[name]


def test_device_override_keys_checked_before_running():
    with pytest.raises(ConfigError, match=r"s.toml: point synapses_device_overrides_noise_c2c_sigmaa=0.1: "
                                          r"synapses.device_overrides: .*c2c_sigmaa"):
        parse_sweep({"axes": {"synapses.device_overrides.noise.c2c_sigmaa": [0.1]}}, "s.toml").points()
    with pytest.raises(ConfigError, match="point levels=1: .*levels"):
        parse_sweep({"axes": {"levels": [64, 1]}}, "s.toml").points()


def test_alias_sets_every_target_key(monkeypatch):
    monkeypatch.setitem(ALIASES, "phase_steps", ("network.nudged_steps", "network.readout_steps"))
    spec = parse_sweep({"set": {"phase_steps": 4}, "axes": {"phase_steps": [6, 8], "seeds": [0]}}, "s.toml")
    assert spec.dims == ("phase_steps", "seed")
    assert spec.axes[0].keys == ("network.nudged_steps", "network.readout_steps")
    cfgs = [p.config["network"] for p in spec.points()]
    assert [(c["nudged_steps"], c["readout_steps"]) for c in cfgs] == [(6, 6), (8, 8)]
    # also in [set] (overridden here by the axis)
    spec = parse_sweep({"set": {"phase_steps": 4}, "axes": {"seeds": [0]}}, "s.toml")
    assert spec.points()[0].config["network"]["readout_steps"] == 4


def test_netcdf_names():
    assert netcdf_name("learning.beta") == "learning_beta"
    assert netcdf_name("seeds") == "seed"
    assert netcdf_name("synapses.device_overrides.noise.c2c-sigma") == "synapses_device_overrides_noise_c2c_sigma"
    assert netcdf_name("3d") == "_3d"


def test_new_sweep_folder_dataset_layout(write_sweep, tmp_path):
    spec = load_sweep(write_sweep({"network.layers": [[64, 16, 10], [64, 8, 10]], "seeds": [0, 1]}))
    sweep = Sweep.create(spec, tmp_path / "runs", "s1")
    ds = xr.load_dataset(sweep.path / "sweep.nc")
    assert ds.status.dims == ("network_layers", "seed")
    assert list(ds.network_layers.values) == ["[64, 16, 10]", "[64, 8, 10]"]
    assert ds.network_layers.attrs == {"axis": "network.layers", "config_keys": "network.layers"}
    assert ds.seed.attrs["config_keys"] == "run.seed" and list(ds.seed.values) == [0, 1]
    assert (ds.status == "pending").all() and set(ds.point_id.values.ravel()) == {"p0000", "p0001", "p0002", "p0003"}
    # the stored sweep.toml is what --resume reads: same grid, same configs
    again = Sweep.open(sweep.path)
    assert [p.config for p in again.points] == [p.config for p in sweep.points]


def test_metrics_are_every_epoch_only_variable_and_each_layers_final_value():
    ds = xr.Dataset(
        {"test_accuracy": ("epoch", [0.1, 0.5]), "programming_energy_J": ("epoch", [1e-6, 3e-6]),
         "diag_ir_drop": (("epoch", "layer"), [[0.1, 0.2], [0.3, 0.4]]),
         "energy_train": (("epoch", "component"), np.ones((2, 3)))},
        coords={"epoch": [1, 2], "layer": ["W1", "W2"], "component": ["a", "b", "c"]},
    )
    ds.programming_energy_J.attrs["units"] = "J"
    metrics, units = final_epoch_metrics(ds)
    assert metrics == {"test_accuracy": 0.5, "programming_energy_J": 3e-6,
                       "diag_ir_drop_W1": 0.3, "diag_ir_drop_W2": 0.4} and units == {"programming_energy_J": "J"}
    empty = final_epoch_metrics(ds.isel(epoch=slice(0, 0)))[0]
    assert np.isnan(empty["test_accuracy"]) and np.isnan(empty["diag_ir_drop_W1"])


def test_plots_line_with_seed_spread_and_heat_map(tmp_path, write_sweep):
    rng = np.random.default_rng(0)
    spec = load_sweep(write_sweep({"learning.beta": [0.5, 1.0, 2.0], "network.eps": [0.25, 0.5], "seeds": [0, 1]}))
    sweep = Sweep(spec, tmp_path)
    for p in sweep.points:
        ok = p.index != (2, 1, 1)
        sweep.record(p, {"status": "ok", "metrics": {"test_accuracy": rng.uniform(), "energy_J": rng.uniform()},
                         "units": {"energy_J": "J"}} if ok else {"status": "failed", "error": "ValueError: x"})
    ds = sweep.dataset()
    paths = plot_sweep(ds, tmp_path)
    assert [p.name for p in paths] == ["test_accuracy_learning_beta_x_network_eps.png", "energy_J_learning_beta_x_network_eps.png"]
    paths = plot_sweep(ds.isel(network_eps=[0]), tmp_path)
    assert [p.name for p in paths] == ["test_accuracy_vs_learning_beta.png", "energy_J_vs_learning_beta.png"]
    assert all(p.stat().st_size > 5000 for p in paths)


def test_an_effects_off_axis_holds_the_schemes_auto_threshold(write_sweep):
    """'auto' θ follows C2C (TaOx/HfOx: 4, with C2C off 1): a sweep that switches C2C off keeps 4,
    as the main job's ablation does; a sweep over the device's noise itself lets θ follow it."""
    device = {"synapses.backend": "device", "synapses.device": "taox_hfox",
              "synapses.update.scheme": "mixed_precision", "synapses.update.threshold": "auto"}
    spec = load_sweep(write_sweep({"synapses.effects_off": [[], ["c2c"], ["c2c", "quantization"]]}, device))
    points = spec.points()
    assert [p.config["synapses"]["update"]["threshold"] for p in points] == [4.0, 4.0, 4.0]
    assert points[1].config["synapses"]["effects_off"] == ["c2c"]
    spec = load_sweep(write_sweep({"c2c_sigma": [0.037, 0.0]}, device, name="noise.toml"))
    assert [p.config["synapses"]["update"]["threshold"] for p in spec.points()] == ["auto", "auto"]
    spec = load_sweep(write_sweep({"synapses.effects_off": [[], ["c2c"]]}, {**device, "synapses.update.threshold": 2.0},
                                  name="fixed.toml"))
    assert [p.config["synapses"]["update"]["threshold"] for p in spec.points()] == [2.0, 2.0]
