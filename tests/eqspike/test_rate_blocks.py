"""Rate EP's block relaxation (EqSpikeNetwork._relax_rate) against the per-step loop (_step) it
replaces: the same states, readouts, weights and biases to the last bit, and the same read
counts to float rounding, for one and two nudged phases, two hidden layers, several readout
steps, the free-phase trace and blocks smaller than a phase."""
import numpy as np
import pytest

import eqspike_xbar.eqspike.network as network_mod
from eqspike_xbar.config import config_from_dict
from eqspike_xbar.eqspike import EqSpikeNetwork


def pair(layers, nudging, rule="contrastive", readout=1):
    cfg = config_from_dict({
        "network": {"layers": layers, "neuron": "rate", "eps": 0.5, "free_steps": 12, "nudged_steps": 4,
                    "readout_steps": readout, "init_scale": 1.5},
        "learning": {"rule": rule, "nudging": nudging, "beta": 0.5, "lr": [0.1] * (len(layers) - 1)},
    })
    nets = [EqSpikeNetwork(cfg.network, cfg.learning, cfg.synapses, rng=np.random.default_rng(5)) for _ in range(2)]
    assert nets[0]._rate_blocks
    nets[1]._rate_blocks = False  # the per-step loop
    return nets


def train(net, batches=6):
    data = np.random.default_rng(0)
    rng = np.random.default_rng(1)
    outs = []
    for _ in range(batches):
        x = data.uniform(0, 1, (7, net.sizes[0])).astype(np.float32) * (data.random((7, net.sizes[0])) < 0.4)
        y = data.integers(0, net.sizes[-1], 7)
        outs.append(net.train_batch(x, y, rng))
    trace = []
    st, out = net.free_phase(x, rng, trace=trace)
    return outs + [out] + st.h + [h for step in trace for h in step]


@pytest.mark.parametrize("layers,nudging,rule,readout", [
    ([20, 16, 5], "random_sign", "contrastive", 1),
    ([20, 16, 5], "symmetric", "contrastive", 3),
    ([20, 16, 12, 5], "symmetric", "contrastive", 2),
    ([30, 120, 80, 6], "random_sign", "contrastive", 1),  # wide enough for BLAS's blocked kernels
    ([20, 16, 5], "symmetric", "two_factor", 1),  # free phase in blocks, nudged phases per step
    ([20, 5], "positive", "contrastive", 1),
])
@pytest.mark.parametrize("block_bytes", [network_mod.RATE_BLOCK_BYTES, 1])  # 1: one step a block
def test_block_relaxation_equals_step_loop(monkeypatch, layers, nudging, rule, readout, block_bytes):
    monkeypatch.setattr(network_mod, "RATE_BLOCK_BYTES", block_bytes)
    fast, slow = pair(layers, nudging, rule, readout)
    a, b = train(fast), train(slow)
    assert len(a) == len(b)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    for k, (s, t) in enumerate(zip(fast.synapses, slow.synapses)):
        np.testing.assert_array_equal(s.weights, t.weights)
        np.testing.assert_array_equal(fast.biases[k], slow.biases[k])
        for name, value in t.counters.items():
            np.testing.assert_allclose(s.counters[name], value, rtol=1e-6, err_msg=name)
    assert fast.counters == slow.counters


def test_block_relaxation_equals_step_loop_through_event_reads(monkeypatch):
    """The reads the relaxation leaves to event_matmul (above its dense-product size)."""
    monkeypatch.setattr(network_mod, "EVENT_MIN_MACS", 1)
    monkeypatch.setattr("eqspike_xbar.synapses.base.EVENT_MIN_MACS", 1)  # event_matmul's own switch
    fast, slow = pair([20, 16, 12, 5], "symmetric")
    for u, v in zip(train(fast), train(slow)):
        np.testing.assert_array_equal(u, v)
    for s, t in zip(fast.synapses, slow.synapses):
        np.testing.assert_array_equal(s.weights, t.weights)
