"""spiking_bp.output_gate_low: the output neurons' derivative gate opened below z = 0 (not in the
paper; default 0 = the paper's gate). An output neuron whose input z is below 0 on every sample of
its class gets no error from the paper's gate and never learns again; the wider gate lets it."""
from pathlib import Path

import numpy as np
import pytest

from eqspike_xbar.algorithms import ALGORITHMS
from eqspike_xbar.config import ConfigError, config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"


def one_layer_net(low, n_in=12, n_out=3):
    """No hidden layer: an output neuron's input changes only through its own column."""
    cfg = config_from_dict({"run": {"dtype": "float64"}, "network": {"layers": [n_in, n_out]},
                            "learning": {"algorithm": "spiking_bp", "lr": [0.03125]},
                            "spiking_bp": {"output_gate_low": low}})
    return ALGORITHMS["spiking_bp"].build(cfg)


def prototypes(rng, n_in=12, n_out=3, n=300):
    """Each class lights its own 4 pixels (and one random other pixel)."""
    y = rng.integers(0, n_out, n)
    x = np.zeros((n, n_in))
    for i, k in enumerate(y):
        x[i, 4 * k : 4 * k + 4] = 1.0
        x[i, rng.integers(n_in)] = 1.0
    return x, y


@pytest.mark.parametrize("low", [0.0, 0.5])
def test_a_dead_output_neuron_stays_dead_with_the_papers_gate_and_learns_with_the_wider_one(low):
    rng = np.random.default_rng(4)
    x, y = prototypes(rng)
    net = one_layer_net(low)
    W = net.synapses[0].W
    W[...] = rng.uniform(0.0, 0.05, W.shape)
    W[:, 2] = -0.1  # z of neuron 2 is -0.4 .. -0.5 on its class: below the paper's gate, above -0.5
    dead = W[:, 2].copy()
    for i in range(len(x)):
        net.train_batch(x[i : i + 1], y[i : i + 1], rng)
    recall = (net.predict(x[y == 2], rng) == 2).mean()
    if low == 0.0:  # never an error: the column is untouched, the class never recognised
        np.testing.assert_array_equal(W[:, 2], dead)
        assert recall == 0.0
    else:
        assert recall == 1.0 and (net.predict(x, rng) == y).mean() > 0.95


def test_output_gate_low_must_be_finite_and_not_negative():
    for bad in (-0.1, float("inf")):
        with pytest.raises(ConfigError, match="spiking_bp.output_gate_low must be finite"):
            config_from_dict({"learning": {"algorithm": "spiking_bp"}, "spiking_bp": {"output_gate_low": bad}})


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="MNIST files not at ../shared/data/mnist")
def test_the_784_500_10_seed_that_lost_an_output_neuron_keeps_all_ten():
    """configs/mnist784_spiking_bp.toml, seed 2: with the paper's gate the output neuron for
    digit 2 (and others) is dead after 1000 training samples (z > 0 on fewer than 1 % of the test
    images of its digit); with the config's output_gate_low none is."""
    from eqspike_xbar.experiments.train import load_data

    def dead_after(n, low):
        cfg = load_config(ROOT / "configs" / "mnist784_spiking_bp.toml",
                          [{"run": {"seed": 2}, "data": {"data_dir": str(SHARED_DATA / "mnist")},
                            "spiking_bp": {"output_gate_low": low}}])
        net, ds = ALGORITHMS["spiking_bp"].build(cfg), load_data(cfg)
        rng = np.random.default_rng([2, 2, 0])  # the trainer's epoch-1 order
        for i in rng.permutation(len(ds.train))[:n]:
            net.train_batch(ds.train.x[i : i + 1], ds.train.y[i : i + 1], rng)
        x, y = ds.test.x[:2000], ds.test.y[:2000]
        z = net.forward(net.encode(x))[1][-1]
        return [k for k in range(10) if (z[y == k, k] > 0).mean() < 0.01]

    paper = load_config(ROOT / "configs" / "mnist784_spiking_bp.toml").spiking_bp.output_gate_low
    assert paper > 0
    assert 2 in dead_after(1000, 0.0)
    assert dead_after(1000, paper) == []
