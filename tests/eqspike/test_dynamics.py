"""Free-phase relaxation, spike coding and the learning rule's building blocks."""
import numpy as np

from eqspike_xbar.eqspike import EqSpikeNetwork
from eqspike_xbar.eqspike.neurons import SigmaDelta, Stochastic
from eqspike_xbar.eqspike.rules import nudging_betas, post_factor


def test_rate_free_phase_energy_decreases_monotonically(make_cfg):
    cfg = make_cfg(run={"dtype": "float64"},
                   network={"layers": [20, 30, 15, 5], "neuron": "rate", "eps": 0.5, "free_steps": 150},
                   learning={"lr": [0.1, 0.1, 0.1]})
    net = EqSpikeNetwork(cfg.network, cfg.learning, cfg.synapses, dtype="float64", rng=np.random.default_rng(0))
    for b in net.biases:
        b[:] = np.random.default_rng(1).uniform(0, 0.5, b.shape)
    x = np.random.default_rng(2).uniform(0, 1, (8, 20))
    trace = []
    net.free_phase(x, np.random.default_rng(3), trace=trace)
    energies = np.array([net.energy(x, h) for h in trace])  # (steps, batch)
    steps = np.diff(energies, axis=0)
    assert (steps <= 1e-12).all(), f"energy rose by up to {steps.max():.3e}"
    # and it converges: the last steps change nothing
    assert np.abs(steps[-5:]).max() < 1e-8
    assert energies[-1].mean() < energies[0].mean() - 0.1


def test_spiking_free_phase_settles(make_cfg):
    """With spikes the state fluctuates, but the readout window is close to its long-run mean."""
    cfg = make_cfg(network={"layers": [64, 32, 10], "free_steps": 50})
    net = EqSpikeNetwork(cfg.network, cfg.learning, cfg.synapses, rng=np.random.default_rng(0))
    x = np.random.default_rng(1).uniform(0, 1, (16, 64)).astype(np.float32)
    _, out50 = net.free_phase(x, np.random.default_rng(2))
    cfg_long = make_cfg(network={"layers": [64, 32, 10], "free_steps": 400, "readout_steps": 300})
    net.net = cfg_long.network
    _, out_long = net.free_phase(x, np.random.default_rng(2))
    assert np.abs(out50 - out_long).mean() < 0.05


def test_sigma_delta_rate_equals_state_within_one_spike():
    rng = np.random.default_rng(0)
    h = rng.uniform(0, 1, 1000)
    enc = SigmaDelta()
    acc = enc.init(h.shape, rng, np.float64)
    for T in (10, 100, 1000):
        acc_t = acc.copy()
        count = sum(enc.step(h, acc_t, rng) for _ in range(T))
        assert np.abs(count - T * h).max() < 1.0 + 1e-9  # deterministic: error < 1 spike
        assert np.abs(count / T - h).max() < 1.0 / T + 1e-12


def test_stochastic_rate_converges_to_state():
    rng = np.random.default_rng(0)
    h = np.linspace(0, 1, 101)
    enc = Stochastic()
    T = 20000
    count = sum(enc.step(h, None, rng) for _ in range(T))
    sigma = np.sqrt(h * (1 - h) / T)
    assert (np.abs(count / T - h) <= 5 * sigma + 1e-12).all()


def test_ternary_post_factor():
    dh = np.array([-0.5, -0.01, -0.009, 0.0, 0.009, 0.01, 0.3])
    q = post_factor(dh, "ternary", threshold=0.01, scale=0.02)
    np.testing.assert_array_equal(q, [-0.02, -0.02, 0, 0, 0, 0.02, 0.02])
    assert post_factor(dh, "analog", 0.01, 0.02) is dh


def test_nudging_phases():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(nudging_betas("symmetric", 0.5, rng), [0.5, -0.5])
    np.testing.assert_array_equal(nudging_betas("positive", 0.5, rng), [0.5])
    signs = {float(nudging_betas("random_sign", 0.5, rng)[0]) for _ in range(50)}
    assert signs == {0.5, -0.5}


def test_symmetric_nudging_cancels_spike_noise(make_cfg):
    """The spike-noise term (pre spike x the post change it causes itself) is the same in the
    +beta and -beta phases of the deterministic encoder and cancels: the symmetric update is
    the (tiny) nudging signal, lr x O(1), while the naive single phase keeps the noise, lr/beta x O(1)."""
    x = np.random.default_rng(1).uniform(0, 1, (8, 16)).astype(np.float64)
    y = np.arange(8) % 4
    updates = {}
    for nudging in ("symmetric", "positive"):
        cfg = make_cfg(run={"dtype": "float64"}, network={"layers": [16, 12, 4]},
                       learning={"nudging": nudging, "beta": 1e-9, "lr": [1e-9, 1e-9]})
        net = EqSpikeNetwork(cfg.network, cfg.learning, cfg.synapses, dtype="float64", rng=np.random.default_rng(0))
        W0 = net.synapses[0].W.copy()
        net.train_batch(x, y, np.random.default_rng(5))
        updates[nudging] = np.abs(net.synapses[0].W - W0).max()
    assert updates["symmetric"] < 1e-6
    assert updates["positive"] > 1e-3  # lr/beta = 1: the spike-noise term survives
