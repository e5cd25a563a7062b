"""EP's weight update for small beta approaches the true gradient of the loss at the free
fixed point (Scellier & Bengio 2017, theorem 1) — checked against finite differences of the
loss of the relaxed network, for both the contrastive (rate EP) and the two-factor rule."""
import numpy as np
import pytest

from eqspike_xbar.eqspike import EqSpikeNetwork

RELAX = 800  # steps to convergence (eps 0.5, tiny network: contraction ~0.5 per step)


def tiny_network(make_cfg, rule):
    cfg = make_cfg(
        run={"dtype": "float64"},
        network={"layers": [5, 4, 3], "neuron": "rate", "eps": 0.5, "free_steps": RELAX,
                 "nudged_steps": RELAX, "readout_steps": 1, "init_scale": 0.8},
        learning={"rule": rule, "nudging": "symmetric", "beta": 1e-4, "lr": [1.0, 1.0]},
    )
    net = EqSpikeNetwork(cfg.network, cfg.learning, cfg.synapses, dtype="float64", rng=np.random.default_rng(2))
    net.biases[0][:] = [0.3, 0.4, 0.5, 0.4]
    net.biases[1][:] = [0.4, 0.5, 0.3]
    return net


def loss(net, x, y, rng):
    st, _ = net.free_phase(x, rng)
    onehot = np.eye(3)[y]
    return 0.5 * ((st.h[-1] - onehot) ** 2).sum(1).mean()


def finite_difference_grad(net, x, y, rng, k, delta=1e-6):
    W = net.synapses[k].W
    g = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        old = W[idx]
        W[idx] = old + delta
        lp = loss(net, x, y, rng)
        W[idx] = old - delta
        lm = loss(net, x, y, rng)
        W[idx] = old
        g[idx] = (lp - lm) / (2 * delta)
    return g


@pytest.mark.parametrize("rule", ["contrastive", "two_factor"])
def test_ep_update_matches_loss_gradient(make_cfg, rule):
    rng = np.random.default_rng(0)
    net = tiny_network(make_cfg, rule)
    x = rng.uniform(0, 1, size=(4, 5))
    y = np.array([0, 1, 2, 1])
    # states must be interior (not clipped) for the finite differences to see all weights
    st, _ = net.free_phase(x, rng)
    assert all(((h > 1e-3) & (h < 1 - 1e-3)).mean() > 0.5 for h in st.h)

    grads = [finite_difference_grad(net, x, y, rng, k) for k in range(2)]
    W0 = [s.W.copy() for s in net.synapses]
    net.train_batch(x, y, rng)  # lr = 1: dW = -grad L (mean over the batch)
    for k in range(2):
        dW = net.synapses[k].W - W0[k]
        rel = np.linalg.norm(dW + grads[k]) / np.linalg.norm(grads[k])
        assert rel < 1e-2, f"layer {k}: EP update differs from -grad by {rel:.2e} (relative)"
    # and it is a real gradient, not zero
    assert min(np.linalg.norm(g) for g in grads) > 1e-4
