"""Every learning algorithm x every synapse backend runs one minibatch on digits and writes a
run folder. The test iterates over the registries, so a new algorithm or backend is tested
the day it is registered."""
import json

import numpy as np
import pytest
import xarray as xr

from eqspike_xbar.algorithms import ALGORITHMS
from eqspike_xbar.cli import main
from eqspike_xbar.synapses import BACKENDS
from eqspike_xbar.synapses.schemes import SCHEMES

# settings that keep one minibatch fast; an algorithm or backend not listed runs on its defaults
FAST = {
    "eqspike": ["network.free_steps=6", "network.nudged_steps=3", "network.readout_steps=2"],
    "rate_ep": ["network.free_steps=6", "network.nudged_steps=3", "network.readout_steps=2"],
}
BACKEND = {
    "device": ['synapses.device="taox_hfox"'],
    "circuit": ['synapses.device="taox_hfox"', "synapses.circuit.spot_checks=0", "synapses.circuit.max_array_rows=32",
                "synapses.circuit.max_array_cols=32"],
}


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_one_minibatch_writes_a_run_folder(tmp_path, algorithm, backend):
    sets = [f'learning.algorithm="{algorithm}"', f'synapses.backend="{backend}"', "data.train_limit=20",
            "learning.batch_size=20", "learning.epochs=1", "network.layers=[64, 12, 10]",
            "data.validation_size=20", "data.test_fraction=0.05"]
    sets += FAST.get(algorithm, []) + BACKEND.get(backend, [])
    args = ["train", "--no-progress", "--runs-dir", str(tmp_path), "--run-id", "r"]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    run = tmp_path / "r"
    ds = xr.open_dataset(run / "metrics.nc").load()
    assert ds.attrs["algorithm"] == algorithm and ds.attrs["synapse_backend"] == backend
    assert ds.attrs["steps_per_train_sample"] > 0 and ds.attrs["steps_per_inference_sample"] > 0
    assert np.isfinite(ds.test_accuracy.values).all() and float(ds.energy_train_total_J[0]) > 0
    if algorithm == "spiking_bp":  # every readout recorded; test_accuracy is the configured ('spikes')
        assert {"test_accuracy_spikes", "test_accuracy_spikes_argmax", "test_accuracy_potential"} <= set(ds)
        np.testing.assert_array_equal(ds.test_accuracy.values, ds.test_accuracy_spikes.values)
    assert f'algorithm = "{algorithm}"' in (run / "config.toml").read_text()
    assert (run / "checkpoints" / "last.npz").is_file()
    assert json.loads((run / "status.json").read_text())["state"] == "finished"


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_every_update_scheme_with_every_algorithm(tmp_path, capsys, algorithm, scheme):
    """On the device backend: one minibatch and a run folder; a scheme that programs one pulse per
    coincidence of a pre spike and a ternary post pulse needs ternary events (spiking_bp's signed
    error, EqSpike's ternary post factor) and is refused in one line for rate EP."""
    sets = [f'learning.algorithm="{algorithm}"', 'synapses.backend="device"', f'synapses.update.scheme="{scheme}"',
            "data.train_limit=8", "learning.batch_size=4", "learning.epochs=1", "network.layers=[64, 12, 10]",
            "data.validation_size=8", "data.test_fraction=0.05"] + FAST.get(algorithm, []) + BACKEND["device"]
    ternary = SCHEMES[scheme].needs_ternary_events
    if ternary and algorithm == "eqspike":
        sets.append('learning.post_factor="ternary"')
    args = ["train", "--no-progress", "--runs-dir", str(tmp_path), "--run-id", "r"]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    if ternary and algorithm == "rate_ep":
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and "ternary" in err[0] and not (tmp_path / "r").exists()
        return
    assert code == 0
    ds = xr.open_dataset(tmp_path / "r" / "metrics.nc").load()
    assert ds.attrs["algorithm"] == algorithm and ds.attrs["update_scheme"].startswith(scheme)
    assert np.isfinite(ds.test_accuracy.values).all()
