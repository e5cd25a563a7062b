"""The spiking relaxation's fast paths (issue 12) against plain computations:

* a free phase against a from-scratch float64 reference of the dynamics and of what it counts
  (spikes sent, neuron updates, every synapse layer's read vectors and per-line activity);
* training with the reads and spikes counted once per phase (PhaseReads) against the per-step
  counting path (the synapses' own forward/backward): the same weights, biases, readouts and
  counters to the last bit, for depths, encoders, pairings, post factors, dtypes, blocks smaller
  than a phase and the device backend;
* event_matmul writing into a step-major view, and the encoders writing into given arrays.
"""
import numpy as np
import pytest

import eqspike_xbar.eqspike.network as network_mod
from eqspike_test_nets import images, make_net
from eqspike_xbar.eqspike.neurons import SigmaDelta, Stochastic
from eqspike_xbar.synapses.base import event_matmul


def reference_free_phase(net, x, rng):
    """The free phase written out plainly (float64, dense products, counted step by step)."""
    sizes, L, B, T, R = net.sizes, net.L, len(x), net.net.free_steps, net.net.readout_steps
    W = [s.weights.astype(np.float64) for s in net.synapses]
    b = [bl.astype(np.float64) for bl in net.biases]
    acc_in = rng.random(x.shape)
    acc = [rng.random((B, n)) for n in sizes[1:]]
    h = [np.zeros((B, n)) for n in sizes[1:]]
    spikes_sent, out = 0, np.zeros((B, sizes[-1]))
    vectors = {(k, d): 0 for k in range(L) for d in ("forward", "backward")}
    activity = {(k, "forward"): np.zeros(sizes[k]) for k in range(L)}
    activity.update({(k, "backward"): np.zeros(sizes[k + 1]) for k in range(L)})

    def encode(state, a):
        a += state
        s = (a >= 1.0).astype(np.float64)
        a -= s
        return s

    def read(k, direction, s):
        vectors[k, direction] += len(s)
        activity[k, direction] += (s * s).sum(0)
        return s @ W[k] if direction == "forward" else s @ W[k].T

    for t in range(T):
        s_in = encode(x, acc_in)
        s = [encode(h[l], acc[l]) for l in range(L)]
        spikes_sent += int(s_in.sum()) + sum(int(sl.sum()) for sl in s)
        new = []
        for l in range(L):
            drive = read(l, "forward", s_in if l == 0 else s[l - 1])
            if l + 1 < L:
                drive = drive + read(l + 1, "backward", s[l + 1])
            new.append(np.clip(h[l] + net.eps * (drive + b[l] - h[l]), 0.0, 1.0))
        h = new
        if t >= T - R:
            out += h[-1]
    return h, out / R, spikes_sent, vectors, activity


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("layers", [[12, 9, 4], [12, 9, 7, 4], [12, 4]])
def test_free_phase_equals_plain_reference(layers, compiled):
    net = make_net(layers)
    net.compiled = compiled
    data = np.random.default_rng(0)
    net.biases = [data.uniform(-0.2, 0.4, n) for n in layers[1:]]
    x = images(data, 6, layers[0], np.float64)
    st, out = net.free_phase(x, np.random.default_rng(3))
    h_ref, out_ref, sent, vectors, activity = reference_free_phase(net, x, np.random.default_rng(3))
    for a, r in zip(st.h, h_ref):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)
    assert any((r > 0).any() for r in h_ref)  # the network did something
    np.testing.assert_allclose(out, out_ref, rtol=1e-12, atol=1e-12)
    assert net.counters["spikes"] == sent
    assert net.counters["neuron_updates"] == net.net.free_steps * len(x) * sum(layers[1:])
    for k, syn in enumerate(net.synapses):
        for d in ("forward", "backward"):
            assert syn.counters[f"vectors_{d}"] == vectors[k, d], (k, d)
            np.testing.assert_array_equal(syn.counters[f"activity_{d}"], activity[k, d], err_msg=f"{k} {d}")


def train(net, batches=4, B=5):
    data, rng = np.random.default_rng(0), np.random.default_rng(1)
    outs = []
    for _ in range(batches):
        x = images(data, B, net.sizes[0], net.dtype)
        outs.append(net.train_batch(x, data.integers(0, net.sizes[-1], B), rng))
    trace = []
    st, out = net.free_phase(x, rng, trace=trace)
    return outs + [out] + list(st.h) + [h for step in trace for h in step]


def assert_same(fast, slow, a, b):
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    for k, (s, t) in enumerate(zip(fast.synapses, slow.synapses)):
        np.testing.assert_array_equal(s.weights, t.weights)
        np.testing.assert_array_equal(fast.biases[k], slow.biases[k])
        for name, value in t.counters.items():
            np.testing.assert_array_equal(s.counters[name], value, err_msg=name)
    assert fast.counters == slow.counters


CASES = [
    ([12, 9, 4], {}, {}),
    ([12, 9, 7, 4], {}, {}),
    ([12, 9, 4], {"pairing": "same_step", "nudging": "positive"}, {}),
    ([12, 9, 4], {"post_factor": "ternary", "ternary_threshold": 0.05}, {}),
    ([12, 9, 4], {"post_factor": "ternary", "ternary_threshold": 0.05, "ternary_rounding": "stochastic"}, {}),
    ([12, 9, 4], {"nudging": "random_sign"}, {"encoder": "stochastic"}),
    ([12, 9, 7, 4], {"contrast": "phase"}, {}),
    ([12, 9, 4], {"apply": "continual"}, {}),
    ([40, 150, 10], {}, {}),  # wide enough for the event-driven reads and updates
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layers,learning,network", CASES)
@pytest.mark.parametrize("block_values", [network_mod.COUNT_BLOCK_VALUES, 1])  # 1: one step a block
def test_phase_counting_equals_per_step_counting(monkeypatch, dtype, layers, learning, network, block_values):
    monkeypatch.setattr(network_mod, "COUNT_BLOCK_VALUES", block_values)
    fast = make_net(layers, dtype, learning=learning, network=network)
    slow = make_net(layers, dtype, learning=learning, network=network)
    assert fast._deferred_counts
    slow._deferred_counts = False  # every step reads through the synapses and counts there
    fast.compiled = False  # the numpy steps (the compiled ones: tests/eqspike/test_kernels.py)
    assert_same(fast, slow, train(fast), train(slow))


def test_phase_counting_on_device_synapses():
    syn = {"backend": "device", "device": "taox_hfox", "w_max": [0.5, 0.5]}
    fast, slow = (make_net([12, 9, 4], "float32", synapses=syn) for _ in range(2))
    assert fast._deferred_counts
    slow._deferred_counts = False
    fast.compiled = False
    assert_same(fast, slow, train(fast), train(slow))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows,n,k,g", [(6 * 40, 784, 500, 40), (4 * 7, 300, 200, 7), (3 * 5, 20, 8, 5)])
def test_event_matmul_into_a_step_major_view(dtype, rows, n, k, g):
    rng = np.random.default_rng(2)
    x = (rng.random((rows, n)) < 0.1).astype(dtype)
    m = rng.standard_normal((n, k)).astype(dtype)
    plain = event_matmul(x, m, g)
    step_major = np.empty((g, rows // g, k), dtype=dtype)
    got = event_matmul(x, m, g, out=step_major.transpose(1, 0, 2))
    assert np.shares_memory(got, step_major)
    np.testing.assert_array_equal(step_major.transpose(1, 0, 2).reshape(rows, k), plain)
    np.testing.assert_allclose(plain, x.astype(np.float64) @ m.astype(np.float64), rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("encoder", [SigmaDelta(), Stochastic()])
def test_encoder_step_into_equals_counted_step(encoder):
    rng = np.random.default_rng(4)
    h = rng.random((6, 30), dtype=np.float32)
    acc = encoder.init(h.shape, rng, np.float32)
    acc2 = None if acc is None else acc.copy()
    out = np.full(h.shape, 7.0, dtype=np.float32)
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(5):
        got = encoder.step(h, acc, r1, out)
        ref, n = encoder.step_counted(h, acc2, r2)
        assert got is out
        np.testing.assert_array_equal(got, ref)
        assert n == int(ref.sum())
        if acc is not None:
            np.testing.assert_array_equal(acc, acc2)
