"""The compiled (numba) kernels of the spiking relaxation (eqspike/kernels.py) against plain numpy:

* ``read_input`` (the clamped input's sigma-delta encoding and its event-driven read) against
  the encoder written out step by step: spikes, accumulators (after all steps and after the
  first ``steps``), per-image counts and drives; inputs with zeros, 1/2, values next to 1 and 1;
* ``relax`` (a phase's steps, all layers) against a from-scratch float64 reference of the
  dynamics, for depths 1-3, free and nudged (phases stacked as rows), readout, traces and counts,
  with narrow (dot product) and wide (sum of rows) reads;
* the network with ``compiled = True`` against its numpy steps (``compiled = False``): a free
  phase and several training minibatches for the learning variants, a 3-layer network and device
  synapses (float64: the same counters, weights to float rounding), one float32 case, and
  training on one and two threads (bit-identical);
* where the kernels run (``EqSpikeNetwork._kernels``) and where they must not.

Kernels compile on first use (then load from numba's disk cache), one per dtype and depth: the
cases below use float64 with depths 1, 2, 3 and float32 with depth 2 only.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from eqspike_test_nets import images, make_net
from eqspike_xbar.eqspike import kernels

# ----------------------------------------------------------------------------- helpers


def train(net, batches=4, B=5, seed=0):
    """Train ``batches`` minibatches; returns their free-phase readouts."""
    data, rng = np.random.default_rng(seed), np.random.default_rng(seed + 1)
    outs = []
    for _ in range(batches):
        x = images(data, B, net.sizes[0], net.dtype)
        outs.append(net.train_batch(x, data.integers(0, net.sizes[-1], B), rng))
    return outs


def assert_same_counters(a, b):
    """The network's counters and every synapse layer's, exactly: spike and read counts and
    per-line activities are integers; the energies (device cases) come from the same counts and
    pulse-programmed conductances."""
    assert a.counters == b.counters
    for k, (sa, sb) in enumerate(zip(a.synapses, b.synapses, strict=True)):
        assert sa.counters.keys() == sb.counters.keys()
        for name, value in sb.counters.items():
            np.testing.assert_array_equal(sa.counters[name], value, err_msg=f"{k} {name}")


def assert_close_params(a, b, tol=1e-12):
    for k, (sa, sb) in enumerate(zip(a.synapses, b.synapses, strict=True)):
        np.testing.assert_allclose(sa.weights, sb.weights, rtol=tol, atol=tol, err_msg=f"weights {k}")
        np.testing.assert_allclose(a.biases[k], b.biases[k], rtol=tol, atol=tol, err_msg=f"biases {k}")


# ----------------------------------------------------------------------------- read_input


def encode_reference(x, acc, w, steps, lookahead):
    """acc += x; s = acc >= 1; acc -= s, step by step in x's dtype; the drives in float64."""
    acc = acc.copy()
    B, n_in = x.shape
    total = steps + lookahead
    spikes = np.zeros((B, total, n_in), dtype=x.dtype)
    acc_mid = None
    for t in range(total):
        if t == steps:
            acc_mid = acc.copy()
        acc += x
        s = (acc >= 1.0).astype(x.dtype)
        acc -= s
        spikes[:, t] = s
    drives = np.einsum("bti,ij->tbj", spikes.astype(np.float64), w.astype(np.float64))
    return spikes, drives, spikes[:, :steps].sum(1), spikes[:, steps:].sum(1), acc, acc_mid


def special_inputs(dtype, n_in=50, seed=0):
    """Rows of inputs with zeros, exactly 1/2, values next to 1, exactly 1, tiny ones, an all-dark
    image, and accumulators that start at 0 and next to 1."""
    rng = np.random.default_rng(seed)
    below1 = np.nextafter(dtype(1), dtype(0))
    half = dtype(0.5)
    rows = [
        images(rng, 1, n_in, np.float64)[0],  # random, about half zeros
        np.full(n_in, 0.5),  # all exactly 1/2 (bright)
        np.where(rng.random(n_in) < 0.5, below1, 1 - 1e-6),  # just below 1
        np.where(rng.random(n_in) < 0.5, 1.0, 0.0),  # exactly 1 and 0
        np.zeros(n_in),  # a dark image
        rng.choice([0.0, 1e-6, 0.25, np.nextafter(half, dtype(0)), 0.5, np.nextafter(half, dtype(1)), 0.75, 1.0,
                    below1], n_in),
    ]
    x = np.array(rows).astype(dtype)
    acc = rng.random(x.shape).astype(dtype)
    acc[:, ::7] = 0.0
    acc[:, 3::7] = below1
    return x, acc


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("steps,lookahead", [(7, 0), (7, 4), (3, 10)])
def test_read_input_equals_plain_encoding(dtype, steps, lookahead):
    x, acc0 = special_inputs(dtype)
    n1 = 40
    w = np.random.default_rng(1).standard_normal((x.shape[1], n1)).astype(dtype)
    spikes_r, drives_r, counts_r, tail_r, acc_r, mid_r = encode_reference(x, acc0, w, steps, lookahead)
    assert 0 < spikes_r.mean() < 1 and spikes_r[3].sum() > 0 and spikes_r[4].sum() == 0

    results = []
    for threads in (1, 2):
        acc = acc0.copy()
        got = kernels.read_input(x, acc, w, steps, lookahead, threads=threads)
        results.append((acc,) + tuple(got))
    (acc, spikes, drives, counts, tail, mid) = results[0]

    assert spikes.shape == spikes_r.shape and drives.shape == drives_r.shape
    np.testing.assert_array_equal(spikes, spikes_r)
    np.testing.assert_array_equal(acc, acc_r)  # advanced by all steps, in place
    np.testing.assert_array_equal(counts, counts_r)
    np.testing.assert_array_equal(tail, tail_r)
    if lookahead:
        np.testing.assert_array_equal(mid, mid_r)
    else:
        assert mid is None
    # a drive is a sum of rows of w: compare to the size of the sums of |w|
    scale = np.abs(w.astype(np.float64)).sum(0).max()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(drives, drives_r, rtol=tol, atol=tol * scale)
    # rows are independent: two threads give the same bits
    for a, b in zip(results[0], results[1], strict=True):
        if a is None:
            assert b is None
        else:
            np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- relax


def relax_reference(h, acc, drive_in, fwd, bwd, biases, eps, beta=None, y=None, readout_from=None):
    """The sigma-delta steps written out in float64: spikes from the old states of every layer,
    then drive = forward read of the layer below (the input's drive for the first) + backward
    read of the layer above + bias [+ beta (y - h) on the last], h = clip(h + eps (drive - h), 0, 1)."""
    f = np.float64
    L, rows = len(h), h[0].shape[0]
    T, B = drive_in.shape[:2]
    h = [a.astype(f) for a in h]
    acc = [a.astype(f) for a in acc]
    din = drive_in.astype(f)[:, np.arange(rows) % B]  # row r takes drive row r mod B
    s_trace = [np.zeros((T, rows, a.shape[1])) for a in h]
    h_trace = [np.zeros((T + 1, rows, a.shape[1])) for a in h]
    counts = [np.zeros((rows, a.shape[1])) for a in h]
    out = np.zeros((rows, h[-1].shape[1]))
    for l in range(L):
        h_trace[l][0] = h[l]
    for t in range(T):
        s = []
        for l in range(L):
            acc[l] += h[l]
            sl = (acc[l] >= 1.0).astype(f)
            acc[l] -= sl
            s.append(sl)
            counts[l] += sl
            s_trace[l][t] = sl
        new = []
        for l in range(L):
            d = din[t] if l == 0 else s[l - 1] @ fwd[l - 1].astype(f)
            if l + 1 < L:
                d = d + s[l + 1] @ bwd[l].astype(f)
            d = d + biases[l].astype(f)
            if beta is not None and l == L - 1:
                d = d + np.ravel(beta)[:, None] * (y - h[l])
            new.append(np.clip(h[l] + eps * (d - h[l]), 0.0, 1.0))
        h = new
        for l in range(L):
            h_trace[l][t + 1] = h[l]
        if readout_from is not None and t >= readout_from:
            out += h[-1]
    return h, acc, counts, out, s_trace, h_trace


#: layers 1..L of the kernel-level cases: L = 1; L = 2 with a narrow read (into 10) and a wide
#: one (into 40); L = 3 with narrow and wide reads in both directions (kernels.NARROW = 32)
RELAX_SIZES = {1: [37], 2: [40, 10], 3: [12, 45, 8]}


def relax_problem(L, nudged, B=4, T=15, seed=0):
    rng = np.random.default_rng(seed)
    sizes = RELAX_SIZES[L]
    P = 2 if nudged else 1
    rows = P * B
    fwd = [rng.standard_normal((sizes[k], sizes[k + 1])) * 1.5 / np.sqrt(sizes[k]) for k in range(L - 1)]
    # backward matrices of their own (the kernel takes both; the network passes transposes)
    bwd = [rng.standard_normal((sizes[k + 1], sizes[k])) * 1.5 / np.sqrt(sizes[k + 1]) for k in range(L - 1)]
    biases = [rng.uniform(-0.2, 0.3, n) for n in sizes]
    h = [rng.uniform(0, 1, (rows, n)) for n in sizes]
    acc = [rng.random((rows, n)) for n in sizes]
    for hl, al in zip(h, acc):  # the edges: a = acc + h exactly 1 (a spike), 0, and h at the bounds
        hl[0, :4] = [0.0, 0.5, 1.0, 0.5]
        al[0, :4] = [0.0, 0.5, 0.0, 0.25]
    drive_in = rng.uniform(-0.3, 1.0, (T, B, sizes[0]))
    beta = y = None
    if nudged:
        beta = np.repeat([0.6, -0.6], B)[:, None]  # (rows, 1), as the network passes it
        y = np.zeros((rows, sizes[-1]))
        y[np.arange(rows), rng.integers(0, sizes[-1], rows)] = 1.0
    return dict(h=h, acc=acc, drive_in=drive_in, fwd=fwd, bwd=bwd, biases=biases, eps=0.25, beta=beta, y=y)


def run_relax(p, readout_from, keep_trace, threads):
    h, acc = [a.copy() for a in p["h"]], [a.copy() for a in p["acc"]]
    out = np.zeros((h[-1].shape[0], h[-1].shape[1]))
    acts, traces = kernels.relax(h, acc, p["drive_in"], p["fwd"], p["bwd"], p["biases"], p["eps"], p["beta"], p["y"],
                                 readout_from, out, keep_trace=keep_trace, threads=threads)
    return h, acc, acts, out, traces


@pytest.mark.parametrize("nudged", [False, True], ids=["free", "nudged"])
@pytest.mark.parametrize("L", [1, 2, 3])
def test_relax_equals_plain_reference(L, nudged):
    p = relax_problem(L, nudged)
    sizes = RELAX_SIZES[L]
    posts = sizes[1:] + sizes[:-1]  # the layers read into: forward, backward
    assert L == 1 or (min(posts) < kernels.NARROW <= max(posts))  # both read forms run
    readout_from = 10
    h_r, acc_r, counts_r, out_r, s_r, ht_r = relax_reference(
        p["h"], p["acc"], p["drive_in"], p["fwd"], p["bwd"], p["biases"], p["eps"], p["beta"], p["y"], readout_from)
    # the case exercises the dynamics: spikes, states inside (0, 1), and clipped ones
    for l in range(L):
        assert 0.05 < s_r[l].mean() < 0.95, l
    states = np.concatenate([a.ravel() for a in h_r])
    assert ((states > 0) & (states < 1)).mean() > 0.3
    if nudged:  # the two phases' outputs part
        B = p["drive_in"].shape[1]
        assert np.abs(h_r[-1][:B] - h_r[-1][B:]).max() > 0.05

    h, acc, acts, out, traces = run_relax(p, readout_from, keep_trace=True, threads=1)
    spikes, states_trace = traces
    tol = dict(rtol=1e-12, atol=1e-12)
    for l in range(L):
        np.testing.assert_array_equal(spikes[l], s_r[l], err_msg=f"spikes {l}")
        np.testing.assert_array_equal(acts[l], counts_r[l], err_msg=f"counts {l}")
        np.testing.assert_allclose(states_trace[l], ht_r[l], **tol, err_msg=f"state trace {l}")
        np.testing.assert_array_equal(states_trace[l][0], p["h"][l])  # trace[0]: the initial state
        np.testing.assert_array_equal(states_trace[l][-1], h[l])  # the last: the final state
        np.testing.assert_allclose(h[l], h_r[l], **tol, err_msg=f"states {l}")
        np.testing.assert_allclose(acc[l], acc_r[l], **tol, err_msg=f"accumulators {l}")
        assert spikes[l].shape == (len(p["drive_in"]), len(p["h"][l]), sizes[l])
        assert states_trace[l].shape == (len(p["drive_in"]) + 1, len(p["h"][l]), sizes[l])
    np.testing.assert_allclose(out, out_r, **tol)
    assert out.any()

    # without the trace, and on two threads: the same bits
    for keep_trace, threads in ((False, 1), (True, 2), (False, 2)):
        h2, acc2, acts2, out2, traces2 = run_relax(p, readout_from, keep_trace, threads)
        assert (traces2 is None) == (not keep_trace)
        for a, b in zip(h + acc + acts + [out], h2 + acc2 + acts2 + [out2], strict=True):
            np.testing.assert_array_equal(a, b)
        if keep_trace:
            for a, b in zip(spikes + states_trace, traces2[0] + traces2[1], strict=True):
                np.testing.assert_array_equal(a, b)


def test_relax_without_readout_leaves_out_alone():
    """No readout_from: nothing is added to ``out``; a readout from the last step adds that step only."""
    p = relax_problem(2, nudged=False)
    h, acc, acts, out, _ = run_relax(p, None, keep_trace=False, threads=1)
    assert not out.any()
    T = len(p["drive_in"])
    h2, _, _, out2, _ = run_relax(p, T - 1, keep_trace=False, threads=1)
    np.testing.assert_array_equal(out2, h2[-1])


# ----------------------------------------------------------------------------- network level

DEVICE = {"backend": "device", "device": "taox_hfox", "w_max": [0.5, 0.5]}

NET_CASES = {
    "default": ([12, 9, 4], {}, {}, None),
    "same_step_positive": ([12, 9, 4], {"pairing": "same_step", "nudging": "positive"}, {}, None),
    "ternary": ([12, 9, 4], {"post_factor": "ternary", "ternary_threshold": 0.05}, {}, None),
    "ternary_stochastic": ([12, 9, 4], {"post_factor": "ternary", "ternary_threshold": 0.05,
                                        "ternary_rounding": "stochastic"}, {}, None),
    "contrast_phase": ([12, 9, 4], {"contrast": "phase"}, {}, None),
    "contrast_neuron": ([12, 9, 4], {"contrast": "neuron"}, {}, None),
    "one_layer": ([12, 4], {}, {}, None),
    "three_layers": ([12, 9, 7, 4], {}, {}, None),
    "wide": ([40, 150, 10], {}, {}, None),  # a wide read (into 150) and a narrow one (into 10)
    "device": ([12, 9, 4], {}, {}, DEVICE),
    "continual": ([12, 9, 4], {"apply": "continual"}, {}, None),
}


def net_pair(layers, learning, network, synapses, dtype="float64"):
    fast = make_net(layers, dtype, learning=learning, network=network, synapses=synapses)
    slow = make_net(layers, dtype, learning=learning, network=network, synapses=synapses)
    slow.compiled = False
    assert fast._kernels and not slow._kernels
    return fast, slow


@pytest.mark.parametrize("case", list(NET_CASES))
def test_network_compiled_equals_numpy(case):
    layers, learning, network, synapses = NET_CASES[case]
    fast, slow = net_pair(layers, learning, network, synapses)
    w0 = [s.weights.copy() for s in fast.synapses]

    # a free phase: states, readout and every counter
    x = images(np.random.default_rng(7), 6, layers[0], np.float64)
    st_f, out_f = fast.free_phase(x, np.random.default_rng(3))
    st_s, out_s = slow.free_phase(x, np.random.default_rng(3))
    for a, b in zip(st_f.h + st_f.acc, st_s.h + st_s.acc, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(st_f.acc_in, st_s.acc_in)  # the input's encoding: exact
    np.testing.assert_allclose(out_f, out_s, rtol=1e-12, atol=1e-12)
    assert out_s.any()
    assert fast.counters["spikes"] > 0
    assert_same_counters(fast, slow)

    # a free phase with the nudged steps' input read ahead (as training reads it): the input's
    # accumulators after the free steps and after all, the tail's spikes, counts and drives
    K = fast.net.nudged_steps
    (st_f, out_f), (st_s, out_s) = (net.free_phase(x, np.random.default_rng(4), lookahead=K) for net in (fast, slow))
    np.testing.assert_allclose(out_f, out_s, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(st_f.acc_in, st_s.acc_in)
    tf, ts = st_f.tail, st_s.tail
    np.testing.assert_array_equal(tf.acc_in, ts.acc_in)
    assert not np.array_equal(tf.acc_in, st_f.acc_in)
    np.testing.assert_array_equal(tf.spikes, ts.spikes)
    np.testing.assert_array_equal(tf.activity, ts.activity)
    assert tf.n_spikes == ts.n_spikes > 0
    assert len(tf.schedule) == len(ts.schedule) == K
    np.testing.assert_allclose(tf.schedule.drives, ts.schedule.drives, rtol=1e-12, atol=1e-12)
    assert_same_counters(fast, slow)

    # training: the same weights and biases to float rounding, the same counters
    outs_f, outs_s = train(fast), train(slow)
    for a, b in zip(outs_f, outs_s, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert_close_params(fast, slow)
    assert_same_counters(fast, slow)
    assert all(np.abs(s.weights - w).max() > 1e-6 for s, w in zip(fast.synapses, w0))  # it learned


def test_nudged_phases_without_read_ahead_input():
    """A free phase without ``lookahead`` then the nudged phases: the nudged input is encoded and
    read in the compiled kernel once for both phases (repeats = 2) and counted twice."""
    fast, slow = net_pair([40, 150, 10], {}, {}, None)
    data = np.random.default_rng(2)
    x = images(data, 6, 40, np.float64)
    target = np.eye(10)[data.integers(0, 10, 6)]
    for net in (fast, slow):
        rng = np.random.default_rng(4)
        state, _ = net.free_phase(x, rng)
        assert state.tail is None
        net.nudged_phases(x, target, state, np.array([0.5, -0.5]), rng)
    assert_close_params(fast, slow)
    assert_same_counters(fast, slow)


def test_free_phase_with_a_trace(monkeypatch):
    """A free phase that keeps every step's states runs the numpy steps (on the input read by
    the compiled kernel): the relax kernel is not called, and the trace is the numpy path's."""
    fast, slow = net_pair([40, 150, 10], {}, {}, None)
    x = images(np.random.default_rng(8), 5, 40, np.float64)
    relax, read_input = kernels.relax, kernels.read_input
    called = []
    monkeypatch.setattr(kernels, "relax", lambda *a, **k: called.append("relax") or relax(*a, **k))
    monkeypatch.setattr(kernels, "read_input", lambda *a, **k: called.append("read_input") or read_input(*a, **k))
    traces = [], []
    (st_f, out_f), (st_s, out_s) = (net.free_phase(x, np.random.default_rng(3), trace=tr)
                                    for net, tr in zip((fast, slow), traces))
    assert called == ["read_input"]
    assert len(traces[0]) == len(traces[1]) == fast.net.free_steps
    for step_f, step_s in zip(*traces, strict=True):
        for a, b in zip(step_f, step_s, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out_f, out_s, rtol=1e-12, atol=1e-12)
    assert_same_counters(fast, slow)


@pytest.mark.parametrize("kind,kw,expected", [
    ("sigma_delta", {}, True),
    ("device", {"synapses": DEVICE}, True),
    ("continual", {"learning": {"apply": "continual"}}, True),
    ("stochastic", {"network": {"encoder": "stochastic"}, "learning": {"nudging": "random_sign"}}, False),
    ("rate", {"network": {"neuron": "rate"}}, False),
])
def test_where_the_kernels_run(monkeypatch, kind, kw, expected):
    net = make_net([12, 9, 4], **kw)
    assert net.compiled is True  # the default
    assert net._kernels is expected
    net.compiled = False
    assert net._kernels is False
    if not expected:  # neither kernel is called, and the results are the numpy path's to the bit
        ref = make_net([12, 9, 4], **kw)
        ref.compiled = False
        a = train(ref, batches=2)

        def never(*args, **kwargs):
            raise AssertionError("a kernel ran")

        monkeypatch.setattr(kernels, "relax", never)
        monkeypatch.setattr(kernels, "read_input", never)
        net.compiled = True
        b = train(net, batches=2)
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
        for s, t in zip(net.synapses, ref.synapses):
            np.testing.assert_array_equal(s.weights, t.weights)
        assert net.counters == ref.counters


def test_float32_compiled_close_to_numpy():
    fast, slow = net_pair([40, 150, 10], {}, {}, None, dtype="float32")
    w0 = [s.weights.copy() for s in fast.synapses]
    train(fast, batches=4, B=8)
    train(slow, batches=4, B=8)
    for s, t, w in zip(fast.synapses, slow.synapses, w0):
        assert s.weights.dtype == np.float32
        assert np.abs(t.weights - w).max() > 1e-3  # it learned
        assert np.abs(s.weights - t.weights).max() < 1e-4
    for a, b in zip(fast.biases, slow.biases):
        assert np.abs(a - b).max() < 1e-4
    x = images(np.random.default_rng(11), 60, 40, np.float32)
    p_f = fast.predict(x, np.random.default_rng(5))
    p_s = slow.predict(x, np.random.default_rng(5))
    assert len(set(p_s)) > 1  # not a constant prediction
    assert (p_f == p_s).mean() >= 0.9


def test_threads_give_the_same_bits(monkeypatch):
    """Training under a BLAS limit of 1 and of 2 threads: the kernels get that thread count, and
    the rows they run in parallel do not interact: the same weights, biases and counters."""
    seen = []
    relax, read_input = kernels.relax, kernels.read_input

    def spy_relax(*args, **kwargs):
        seen.append(("relax", kwargs["threads"]))
        return relax(*args, **kwargs)

    def spy_read_input(*args, **kwargs):
        seen.append(("read_input", kwargs["threads"]))
        return read_input(*args, **kwargs)

    monkeypatch.setattr(kernels, "relax", spy_relax)
    monkeypatch.setattr(kernels, "read_input", spy_read_input)
    nets = []
    for threads in (1, 2):
        net = make_net([40, 150, 10])
        with threadpool_limits(limits=threads, user_api="blas"):
            outs = train(net, batches=3, B=6)
        nets.append((net, outs))
        assert {t for _, t in seen} == {threads} and {k for k, _ in seen} == {"relax", "read_input"}
        seen.clear()
    (a, outs_a), (b, outs_b) = nets
    for u, v in zip(outs_a, outs_b, strict=True):
        np.testing.assert_array_equal(u, v)
    for k, (s, t) in enumerate(zip(a.synapses, b.synapses)):
        np.testing.assert_array_equal(s.weights, t.weights)
        np.testing.assert_array_equal(a.biases[k], b.biases[k])
    assert_same_counters(a, b)


def test_empty_batch_and_negative_inputs():
    """An empty minibatch gives empty results on both paths; a line below 0 never spikes and its
    accumulator moves as numpy's does."""
    for compiled in (True, False):
        net = make_net([12, 9, 4])
        net.compiled = compiled
        st, out = net.free_phase(np.zeros((0, 12)), np.random.default_rng(0))
        assert out.shape == (0, 4) and st.h[0].shape == (0, 9)
    x = np.array([[-0.3, 0.0, 0.7, 0.2]])
    acc = np.array([[0.9, 0.5, 0.1, 0.95]])
    w = np.arange(8.0).reshape(4, 2)
    spikes, drives, counts, counts_tail, _ = kernels.read_input(x, acc.copy(), w, 5)
    ref_spikes, ref_acc = [], acc.copy()
    for _ in range(5):
        ref_acc += x
        s = (ref_acc >= 1.0).astype(float)
        ref_acc -= s
        ref_spikes.append(s)
    a = acc.copy()
    kernels.read_input(x, a, w, 5)
    np.testing.assert_array_equal(a, ref_acc)
    np.testing.assert_array_equal(spikes[0], np.concatenate(ref_spikes))
    assert spikes[0, :, 0].sum() == 0


def test_relax_rejects_inconsistent_arguments():
    h = [np.zeros((3, 5)), np.zeros((3, 2))]
    acc = [np.zeros((3, 5)), np.zeros((3, 2))]
    args = (h, acc, np.zeros((4, 3, 5)), [np.zeros((5, 2))], [np.zeros((2, 5))], [np.zeros(5), np.zeros(2)], 0.5)
    with pytest.raises(ValueError, match="readout needs out"):
        kernels.relax(*args, readout_from=2)
    with pytest.raises(ValueError, match="together"):
        kernels.relax(*args, beta=np.ones(3))
    with pytest.raises(ValueError, match="together"):
        kernels.relax(*args, beta=np.ones(1), y=np.zeros((3, 2)))


def test_kernels_reject_shapes_they_would_read_past():
    h = [np.zeros((4, 6)), np.zeros((4, 3))]
    acc = [np.zeros((4, 6)), np.zeros((4, 3))]
    fwd, bwd, biases = [np.zeros((6, 3))], [np.zeros((3, 6))], [np.zeros(6), np.zeros(3)]
    with pytest.raises(ValueError, match="drive_in"):
        kernels.relax(h, acc, np.zeros((2, 4, 5)), fwd, bwd, biases, 0.5)  # narrower than layer 1
    with pytest.raises(ValueError, match="drive_in"):
        kernels.relax(h, acc, np.zeros((2, 3, 6)), fwd, bwd, biases, 0.5)  # 3 does not divide 4 rows
    with pytest.raises(ValueError, match="synapse layer 1"):
        kernels.relax(h, acc, np.zeros((2, 2, 6)), fwd, [np.zeros((40, 5))], biases, 0.5)
    with pytest.raises(ValueError, match="w must have"):
        kernels.read_input(np.zeros((2, 5)), np.zeros((2, 5)), np.zeros((4, 3)), 3)
    spikes, drives, *_ = kernels.read_input(np.zeros((2, 0)), np.zeros((2, 0)), np.zeros((0, 3)), 3)
    assert drives.shape == (3, 2, 3) and not drives.any()


def test_config_chooses_the_numpy_steps():
    assert make_net([12, 9, 4])._kernels
    net = make_net([12, 9, 4], network={"kernels": "numpy"})
    assert not net.compiled and not net._kernels
    with pytest.raises(Exception, match="kernels"):
        make_net([12, 9, 4], network={"kernels": "fast"})
