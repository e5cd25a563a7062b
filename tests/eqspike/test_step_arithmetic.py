"""EqSpikeNetwork._step against the plain arithmetic it implements (the input's drive tiled per
phase, the read from above added, bias, nudge, leaky clip): the same states to the last bit,
for one and two phases, one and two hidden layers."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.eqspike import EqSpikeNetwork


def plain_step(net, h, acc, in_drive, reps, beta_col, y):
    enc, syn = net.encoder, net.synapses
    spikes = [enc.step(h[l], acc[l], None) for l in range(net.L)]
    new_h = []
    for l in range(net.L):
        drive = np.tile(in_drive, (reps, 1)) if reps > 1 else in_drive.copy()
        if l > 0:
            drive = spikes[l - 1] @ syn[l].read_matrix("forward")
        if l + 1 < net.L:
            drive += spikes[l + 1] @ syn[l + 1].read_matrix("backward")
        drive += net.biases[l]
        if l == net.L - 1 and beta_col is not None:
            drive += beta_col * (y - h[l])
        new_h.append(np.clip(h[l] + net.eps * (drive - h[l]), 0, 1))
    return spikes, new_h


@pytest.mark.parametrize("layers", [[30, 40, 5], [30, 40, 20, 5]])
@pytest.mark.parametrize("reps", [1, 2])
def test_step_equals_plain_arithmetic(layers, reps):
    cfg = config_from_dict({"network": {"layers": layers, "init_scale": 1.5}, "learning": {"lr": [0.1] * (len(layers) - 1)}})
    net = EqSpikeNetwork(cfg.network, cfg.learning, cfg.synapses, rng=np.random.default_rng(3))
    rng = np.random.default_rng(0)
    B = 6
    net.biases = [rng.uniform(-0.1, 0.1, n).astype(np.float32) for n in layers[1:]]
    h = [rng.uniform(0, 1, (reps * B, n)).astype(np.float32) for n in layers[1:]]
    acc = [rng.uniform(0, 1, (reps * B, n)).astype(np.float32) for n in layers[1:]]
    in_drive = rng.standard_normal((B, layers[1])).astype(np.float32)
    y = np.eye(layers[-1], dtype=np.float32)[rng.integers(0, layers[-1], reps * B)]
    beta_col = np.repeat(np.array([0.5, -0.5][:reps], dtype=np.float32), B)[:, None]
    for nudged in (False, True):
        args = (beta_col, y) if nudged else (None, None)
        acc_a, acc_b = [a.copy() for a in acc], [a.copy() for a in acc]
        spikes, new = net._step(h, acc_a, None, in_drive, reps, *args, None)
        spikes_ref, new_ref = plain_step(net, h, acc_b, in_drive, reps, *args)
        for a, b in zip(spikes + new + acc_a, spikes_ref + new_ref + acc_b):
            np.testing.assert_array_equal(a, b)
