"""The backward pass is a read of the same crossbar in the other direction: on the circuit
backend it goes through the backend's backward transfer (here made different from the forward
one by peripherals that swap sides, termination = 'role'), the hidden errors and the W1
update follow that read, and the network keeps no transposed copy of any weight matrix."""
import numpy as np

from eqspike_xbar.algorithms import ALGORITHMS
from eqspike_xbar.config import config_from_dict

NOISE_OFF = ["c2c", "d2d", "read_noise", "quantization", "stuck", "drift"]
SIZES = [12, 9, 5]


def circuit_net(termination):
    cfg = config_from_dict({
        "run": {"dtype": "float64"}, "network": {"layers": SIZES},
        "learning": {"algorithm": "spiking_bp", "lr": [0.01, 0.01]},
        "spiking_bp": {"threshold": 0.05, "init_clip": 0.2},
        "synapses": {"backend": "circuit", "device": "taox_hfox", "w_max": [0.2], "effects_off": NOISE_OFF,
                     "circuit": {"r_wordline_ohm": 20.0, "r_bitline_ohm": 20.0, "r_driver_ohm": 300.0,
                                 "termination": termination, "refresh_every": 1, "spot_checks": 0}}})
    return ALGORITHMS["spiking_bp"].build(cfg)


def spy(net):
    """Record what the network asks the backends: backward reads and updates."""
    log = {"backward": [], "update": []}
    for k, syn in enumerate(net.synapses):
        back, upd = syn.backward, syn.update

        def backward(post, syn=syn, back=back, k=k):
            out = back(post)
            log["backward"].append((k, post.copy(), out.copy(), syn._read_matrix("backward").copy(),
                                    syn._read_matrix("forward").copy()))
            return out

        def update(rows, cols, scale, upd=upd, k=k):
            log["update"].append((k, rows.copy(), cols.copy(), scale))
            return upd(rows, cols, scale)

        syn.backward, syn.update = backward, update
    return log


def test_backward_pass_is_the_backends_backward_read_and_drives_the_update():
    rng = np.random.default_rng(0)
    checked = 0
    for trial in range(40):
        net = circuit_net("role")
        log = spy(net)
        x = rng.random((1, SIZES[0]))
        y = rng.integers(0, SIZES[2], 1)
        acts, zs, gates = net.forward(net.encode(x))
        net.train_batch(x, y, rng)
        if not log["backward"]:
            continue
        k, post, out, m_back, m_fwd = log["backward"][0]
        assert k == 1
        # the read went through the backend's backward transfer, which is not the forward one transposed
        np.testing.assert_allclose(out, post @ m_back, rtol=1e-12)
        assert np.abs(m_back - m_fwd.T).max() > 1e-3 * np.abs(m_fwd).max()
        # the W1 update is input spikes x sign(that read) x derivative gate
        w1_updates = [u for u in log["update"] if u[0] == 0]
        d1 = np.sign(out) * gates[0]
        if not d1.any():
            assert not w1_updates
            continue
        (_, rows, cols, scale), = w1_updates
        np.testing.assert_array_equal(rows, acts[0])
        np.testing.assert_array_equal(cols, d1)
        checked += 1
    assert checked >= 5


def test_a_backward_matrix_other_than_the_forward_one_changes_the_update_accordingly():
    """A backend whose backward read is not Wᵀ (here: a fixed other matrix B) gives hidden errors
    sign(d·B)·gate, and the W1 update follows them; the ideal backend gives sign(d·W2ᵀ)."""
    from eqspike_xbar.synapses.ideal import IdealSynapses

    class OtherBackward(IdealSynapses):
        def _read_matrix(self, direction):
            return self.W if direction == "forward" else self.B

    rng = np.random.default_rng(4)
    differ = 0
    for trial in range(60):
        nets = [circuit_net("line") for _ in range(2)]
        w1 = rng.uniform(-0.03, 0.05, SIZES[:2])
        w2 = rng.uniform(-0.1, 0.15, SIZES[1:])
        for net in nets:
            net.synapses = [IdealSynapses(w1), IdealSynapses(w2)]
        other = OtherBackward(w2)
        other.B = rng.uniform(-0.1, 0.1, SIZES[1:][::-1])
        nets[1].synapses[1] = other
        x = rng.random((1, SIZES[0]))
        y = rng.integers(0, SIZES[2], 1)
        for net in nets:
            net.train_batch(x, y, rng)
        np.testing.assert_array_equal(nets[0].synapses[1].weights, nets[1].synapses[1].weights)  # same W2 step
        s = (x > 0.5).astype(float)
        z1 = s @ w1
        g1 = ((z1 > 0) & (z1 < 0.1)).astype(float)
        h = (z1 > 0.05).astype(float)
        z2 = h @ w2
        o = (z2 > 0.05).astype(float)
        d2 = (np.eye(SIZES[2])[y] - o) * ((z2 > 0) & (z2 < 0.1))
        w2n = w2 + 0.01 * h.T @ d2
        for net, back in ((nets[0], w2n.T), (nets[1], other.B)):
            expected = w1 + 0.01 * s.T @ (np.sign(d2 @ back) * g1)
            np.testing.assert_allclose(net.synapses[0].weights, expected, rtol=0, atol=1e-15)
        differ += not np.array_equal(nets[0].synapses[0].weights, nets[1].synapses[0].weights)
    assert differ >= 3


def test_no_transposed_copy_is_stored():
    net = circuit_net("line")
    net.train_batch(np.random.default_rng(1).random((2, SIZES[0])), np.array([0, 1]), np.random.default_rng(2))
    transposed = {(b, a) for a, b in zip(SIZES[:-1], SIZES[1:])}

    def arrays(obj, depth=0):
        if isinstance(obj, np.ndarray):
            yield obj
        elif isinstance(obj, (list, tuple)) and depth < 3:
            for o in obj:
                yield from arrays(o, depth + 1)
        elif isinstance(obj, dict) and depth < 3:
            for o in obj.values():
                yield from arrays(o, depth + 1)

    held = [a for v in vars(net).values() if not isinstance(v, list) or v is not net.synapses for a in arrays(v)]
    assert not [a.shape for a in held if a.shape in transposed]
