"""One spiking_bp update equals, exactly, backpropagation in the same binary network with the
paper's gated derivative, written out in plain numpy (Renner et al. 2024; the authors'
numpy_simulation.py: W2 is updated before the backward pass reads it)."""
import numpy as np
import pytest

from eqspike_xbar.algorithms import ALGORITHMS
from eqspike_xbar.config import config_from_dict

SIZES = [7, 6, 4]
LR = [0.0625, 0.125]


def make_net(backend="ideal", sbp=None, **synapses):
    cfg = config_from_dict({"run": {"dtype": "float64"}, "network": {"layers": SIZES},
                            "learning": {"algorithm": "spiking_bp", "lr": LR},
                            "spiking_bp": {"weight_clip": 0.0, **(sbp or {})},
                            "synapses": {"backend": backend, **synapses}})
    return cfg, ALGORITHMS["spiking_bp"].build(cfg)


def reference_update(W1, W2, xraw, y, lr, theta=0.5, clip=0.0, output_low=0.0):
    """Plain numpy: binary neurons [z > theta], derivative gate [0 < z < 2 theta], ternary errors;
    with ``clip`` the weights are clipped to +-clip after each layer's update (the authors' numpy
    simulation, Loihi's 8-bit bound), before the backward pass reads W2. ``output_low`` (not the
    paper): the output gate is [-output_low < z < 2 theta]."""
    bound = (lambda w: np.clip(w, -clip, clip)) if clip else (lambda w: w)
    x = (xraw > 0.5).astype(float)
    z1 = x @ W1
    h = (z1 > theta).astype(float)
    g1 = ((z1 > 0) & (z1 < 2 * theta)).astype(float)
    z2 = h @ W2
    o = (z2 > theta).astype(float)
    g2 = ((z2 > -output_low) & (z2 < 2 * theta)).astype(float)
    t = np.eye(W2.shape[1])[y]
    d2 = (t - o) * g2
    W2n = bound(W2 + lr[1] * h.T @ d2)
    d1 = np.sign(d2 @ W2n.T) * g1
    W1n = bound(W1 + lr[0] * x.T @ d1)
    return W1n, W2n, d1, d2, o


@pytest.mark.parametrize("clip", [0.0, 0.625])
@pytest.mark.parametrize("batch", [1, 3])
def test_one_update_is_exactly_backprop_of_the_binary_network(batch, clip):
    rng = np.random.default_rng(5)
    checked = clipped = 0
    for trial in range(200):
        _, net = make_net(sbp={"weight_clip": clip, "init_clip": clip or 0.234375})
        W1 = rng.uniform(-0.4, 0.6, SIZES[:2])
        W2 = rng.uniform(-0.4, 0.6, SIZES[1:])
        net.synapses[0].W[...] = W1
        net.synapses[1].W[...] = W2
        xraw = rng.random((batch, SIZES[0]))
        y = rng.integers(0, SIZES[2], batch)
        W1n, W2n, d1, d2, o = reference_update(W1, W2, xraw, y, LR, clip=clip)
        if clip:
            unclipped = reference_update(W1, W2, xraw, y, LR)
            clipped += not (np.array_equal(W1n, unclipped[0]) and np.array_equal(W2n, unclipped[1]))
        out = net.train_batch(xraw, y, rng)
        np.testing.assert_array_equal(out, o)  # the spike readout
        np.testing.assert_array_equal(net.synapses[1].weights, W2n)
        np.testing.assert_array_equal(net.synapses[0].weights, W1n)
        # a case that exercises both signs of the output error and a hidden error
        if (d2 > 0).any() and (d2 < 0).any() and np.count_nonzero(d1) >= 2:
            checked += 1
    assert checked >= 10  # enough non-trivial cases among the trials
    assert clipped >= 10 or not clip  # and the bound acted in some


def test_output_gate_low_moves_only_the_output_gate():
    """spiking_bp.output_gate_low = c (not the paper): the same update with the output gate
    [-c < z < 2 theta], the hidden gate unchanged."""
    rng = np.random.default_rng(7)
    moved = 0
    for trial in range(100):
        _, net = make_net(sbp={"output_gate_low": 0.3})
        W1, W2 = rng.uniform(-0.4, 0.6, SIZES[:2]), rng.uniform(-0.6, 0.6, SIZES[1:])
        net.synapses[0].W[...], net.synapses[1].W[...] = W1, W2
        xraw, y = rng.random((2, SIZES[0])), rng.integers(0, SIZES[2], 2)
        W1n, W2n, *_ = reference_update(W1, W2, xraw, y, LR, output_low=0.3)
        moved += not np.array_equal(W2n, reference_update(W1, W2, xraw, y, LR)[1])
        net.train_batch(xraw, y, rng)
        np.testing.assert_array_equal(net.synapses[1].weights, W2n)
        np.testing.assert_array_equal(net.synapses[0].weights, W1n)
    assert moved >= 10  # the wider gate changed the update in some trials


def test_initial_weights_on_loihis_grid_stay_on_it():
    """init_grid = 2/1024 with lr = 2/1024: every weight is a multiple of 2/1024 (Loihi's 8-bit
    weights with exponent 0) and inside +-254/1024, before and after training."""
    step = 2 / 1024
    cfg = config_from_dict({"run": {"dtype": "float32"}, "network": {"layers": SIZES},
                            "learning": {"algorithm": "spiking_bp"}, "spiking_bp": {"init_grid": step}})
    net = ALGORITHMS["spiking_bp"].build(cfg)
    rng = np.random.default_rng(2)
    for w in (s.weights for s in net.synapses):
        np.testing.assert_array_equal(w / step, np.round(w / step))
        assert np.abs(w).max() <= 240 / 1024
    for _ in range(50):
        net.train_batch(rng.random((1, SIZES[0])), rng.integers(0, SIZES[2], 1), rng)
    for w in (s.weights for s in net.synapses):
        np.testing.assert_array_equal(w / step, np.round(w / step))
        assert np.abs(w).max() <= 254 / 1024


def test_saturated_and_silent_neurons_pass_no_error():
    """The derivative gate: an output neuron with z >= 1 (saturated) or z <= 0 gets no error even
    when it is wrong, and the hidden neurons behind it get nothing either."""
    _, net = make_net()
    net.synapses[0].W[...] = 0.0
    net.synapses[0].W[0, :] = 0.75  # hidden neurons all spike (0.5 < z = 0.75 < 1)
    W2 = np.zeros(SIZES[1:])
    W2[:, 1] = 1.0  # output 1: z = 6 >= 1, saturated and wrong for target 0
    W2[:, 0] = -1.0  # output 0: z = -6 <= 0, silent and wrong (target 0)
    net.synapses[1].W[...] = W2
    x = np.zeros((1, SIZES[0]))
    x[0, 0] = 1.0
    net.train_batch(x, np.array([0]), np.random.default_rng(0))
    np.testing.assert_array_equal(net.synapses[1].weights, W2)
    assert net.counters["time_steps"] == 12 and net.steps_per_train_sample == 12


def test_counts_per_sample_follow_the_gated_schedule():
    _, net = make_net()
    x = np.random.default_rng(1).random((5, SIZES[0]))
    net.train_batch(x, np.arange(5) % SIZES[2], np.random.default_rng(0))
    assert net.counters["time_steps"] == 5 * 12
    assert net.counters["neuron_updates"] == 5 * (4 * 7 + 11 * 6 + 14 * 4 + 12)
    assert net.counters["spikes"] >= 5 * 13  # gates and target at least
    net.reset_counters()
    net.predict(x, np.random.default_rng(0))
    assert net.counters["time_steps"] == 5 * 4 and net.steps_per_inference_sample == 4
    assert net.counters["neuron_updates"] == 5 * (sum(SIZES) + 4)


def test_the_three_readouts_against_plain_numpy():
    """One inference pass gives the authors' three test criteria (numpy_simulation.py): val_acc
    (the output spikes are exactly the one-hot target), val_acc_argmax (np.argmax of the binary
    output: the first spiking neuron, 0 when none spikes) and val_acc_argmax_out (argmax of z)."""
    rng = np.random.default_rng(11)
    _, net = make_net()
    W1 = rng.uniform(-0.4, 0.6, SIZES[:2])
    W2 = rng.uniform(-0.5, 1.0, SIZES[1:])
    net.synapses[0].W[...] = W1
    net.synapses[1].W[...] = W2
    xraw = rng.random((300, SIZES[0]))
    h = ((xraw > 0.5) @ W1 > 0.5).astype(float)
    z2 = h @ W2
    o = (z2 > 0.5).astype(float)
    got = net.predict_readouts(xraw, rng, batch_size=64)
    np.testing.assert_array_equal(got["potential"], np.argmax(z2, axis=1))
    np.testing.assert_array_equal(got["spikes_argmax"], np.argmax(o, axis=1))
    one_hot = o.sum(1) == 1
    np.testing.assert_array_equal(got["spikes"][one_hot], np.argmax(o[one_hot], axis=1))
    assert (got["spikes"][~one_hot] == -1).all()
    # a case of each kind among the samples: no spike, several spikes, exactly one
    counts = o.sum(1)
    assert (counts == 0).any() and (counts > 1).any() and (counts == 1).any()
    np.testing.assert_array_equal(net.predict(xraw, rng), got["spikes"])
