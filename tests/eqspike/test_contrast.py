"""Where the two nudged phases are subtracted: in each synapse, or in each neuron."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.errors import ConfigError
from eqspike_xbar.experiments.train import build_network, load_data


def one_update(learning):
    cfg = config_from_dict({"network": {"layers": [64, 32, 10]}, "learning": learning, "run": {"dtype": "float64"}})
    net, ds = build_network(cfg), load_data(cfg)
    w0 = [s.weights.copy() for s in net.synapses]
    net.train_batch(ds.train.x[:20], ds.train.y[:20], np.random.default_rng(0))
    return [s.weights - w for s, w in zip(net.synapses, w0)] + [b.copy() for b in net.biases]


def test_neuron_contrast_equals_synapse_contrast_with_the_analog_rule():
    """x⁺y⁺ − x⁻y⁻ = x⁺(y⁺ − y⁻) + (x⁺ − x⁻)y⁻: the same weight change, other events."""
    for a, b in zip(one_update({"contrast": "synapse"}), one_update({"contrast": "neuron"})):
        assert np.abs(a).max() > 0
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.abs(a).max())


def test_phase_contrast_moves_biases_by_the_net_state_change():
    """contrast = 'phase': the bias of a neuron moves by lr/(2Bβ)·Σ_b (h⁺(K) − h⁻(K)), the
    same as the per-step rule's bias sum (Σ_t Δh telescopes); the weights move the same way on average."""
    per_step = one_update({"contrast": "synapse"})
    phase = one_update({"contrast": "phase"})
    for a, b in zip(per_step[2:], phase[2:]):  # biases
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    for a, b in zip(per_step[:2], phase[:2]):  # weights: correlated, not equal
        assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.5


def test_contrast_needs_symmetric_nudging():
    with pytest.raises(ConfigError, match="needs learning.nudging = 'symmetric'"):
        config_from_dict({"learning": {"contrast": "phase", "nudging": "positive"}})
