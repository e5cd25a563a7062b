"""Event-driven reads and updates equal the dense computation to float tolerance, for every
registered backend, in both read directions, and count the same read activity."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.synapses import BACKENDS, make_synapse_layer
from eqspike_xbar.synapses import base
from eqspike_xbar.synapses.base import event_matmul, event_outer

N_PRE, N_POST = 300, 200  # large enough that the event path is taken (>= EVENT_MIN_MACS per read)


def make_layer(backend):
    w = np.random.default_rng(3).uniform(-0.1, 0.1, (N_PRE, N_POST)).astype(np.float32)
    cfg = config_from_dict({"synapses": {"backend": backend, "device": "taox_hfox", "w_max": [0.2],
                                         "circuit": {"max_array_rows": 128, "max_array_cols": 128,
                                                     "spot_checks": 0}}}).synapses
    return make_synapse_layer(backend, w, config=cfg, rng=np.random.default_rng(7), layer=0)


def spikes(rng, rows, n, density):
    return (rng.random((rows, n)) < density).astype(np.float32)


@pytest.mark.parametrize("backend", sorted(BACKENDS))
@pytest.mark.parametrize("density", [0.02, 0.13, 0.9])
def test_event_reads_equal_dense_reads_both_directions(backend, density):
    syn = make_layer(backend)
    rng = np.random.default_rng(int(density * 100))
    for direction, n_in in (("forward", N_PRE), ("backward", N_POST)):
        x = spikes(rng, 60, n_in, density)
        x[:, rng.random(n_in) < 0.5] = 0.0  # many lines silent in the whole read, as in a minibatch
        read = getattr(syn, direction)
        m = syn._read_matrix(direction)
        dense = x.astype(np.float64) @ m.astype(np.float64)
        for group in (0, 10, 7):  # all rows share their active lines / groups of 10 / uneven groups
            got = read(x, group=group)
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, dense, rtol=1e-5, atol=1e-5 * np.abs(m).max())
        # the activity counted is that of the whole input, whatever the path: x^2 per line
        np.testing.assert_array_equal(syn.counters[f"activity_{direction}"], 3 * np.einsum("bi,bi->i", x, x))
        assert syn.counters[f"vectors_{direction}"] == 3 * 60


def test_event_read_takes_the_event_path_and_matches_per_row_sums():
    """A read of binary spikes is the sum of the rows of the active lines, row by row."""
    rng = np.random.default_rng(5)
    m = rng.standard_normal((784, 500)).astype(np.float32)
    x = spikes(rng, 40, 784, 0.1)
    x[:, 300:] = 0.0
    got = event_matmul(x, m, group=20)
    for b in range(len(x)):
        ref = m[np.flatnonzero(x[b])].astype(np.float64).sum(0)
        np.testing.assert_allclose(got[b], ref, rtol=1e-5, atol=1e-4)
    assert 40 * 784 * 500 >= base.EVENT_MIN_MACS


@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 1.0])
def test_event_outer_equals_dense_outer(density):
    rng = np.random.default_rng(9)
    rows = spikes(rng, 200, 784, density)
    rows[:, 400:] = 0.0
    cols = rng.choice([-1.0, 0.0, 1.0], size=(200, 500)).astype(np.float32)
    index, block = event_outer(rows, cols)
    dense = rows.astype(np.float64).T @ cols.astype(np.float64)
    full = np.zeros_like(dense)
    if index is None:
        full[...] = block
    else:
        full[index] = block
        assert np.all(dense[np.setdiff1d(np.arange(784), index)] == 0)
    np.testing.assert_allclose(full, dense, atol=1e-4)


@pytest.mark.parametrize("density", [0.02, 0.13, 0.9])
def test_ideal_event_update_equals_dense_update(density):
    syn = make_layer("ideal")
    w0 = syn.weights.copy()
    rng = np.random.default_rng(11)
    rows = spikes(rng, 200, N_PRE, density)
    rows[:, rng.random(N_PRE) < 0.5] = 0.0
    cols = rng.choice([-1.0, 0.0, 1.0], size=(200, N_POST)).astype(np.float32)
    syn.update(rows, cols, np.float32(0.01))
    ref = w0.astype(np.float64) + 0.01 * (rows.astype(np.float64).T @ cols.astype(np.float64))
    assert syn.weights.dtype == np.float32
    np.testing.assert_allclose(syn.weights, ref, rtol=1e-5, atol=1e-6)
    assert syn.counters["update_events"] == 200 and syn.counters["updates"] == 1


@pytest.mark.parametrize("scheme", ["minibatch_sum", "mixed_precision", "coincidence"])
def test_device_reads_only_what_was_programmed_and_gives_the_full_read(scheme):
    """Exact reads (no read noise, no drift): after each update only the programmed pairs are
    read again, and the cached reads and W equal a full read of both arrays bit for bit (the line
    sums, used for the read energy only, to summation-order rounding)."""
    cfg = config_from_dict({"network": {"neuron": "spiking"}, "learning": {"post_factor": "ternary"},
                            "synapses": {"backend": "device", "device": "taox_hfox", "w_max": [0.2],
                                         "update": {"scheme": scheme}}}).synapses
    w = np.random.default_rng(3).uniform(-0.1, 0.1, (N_PRE, N_POST)).astype(np.float32)
    syn = make_synapse_layer("device", w, config=cfg, rng=np.random.default_rng(7), layer=0)
    assert syn.incremental_reads and syn._exact_reads()
    rng = np.random.default_rng(1)
    for step in range(6):
        rows = spikes(rng, 20, N_PRE, 0.1)
        cols = np.sign(rng.standard_normal((20, N_POST))).astype(np.float32) * (rng.random((20, N_POST)) < 0.2)
        syn.update(rows, cols, 0.05)
        if step == 0:
            assert syn.counters["pulses"] > 0
        cached = (syn._g_read[0].copy(), syn._g_read[1].copy(), syn._W.copy(), syn._line_sums[0].copy(),
                  syn._line_sums[1].copy())
        syn._g_read = (syn.gp.read(), syn.gn.read())
        syn._derive()
        full = (syn._g_read[0], syn._g_read[1], syn._W, *syn._line_sums)
        for a, b in zip(cached[:3], full[:3]):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(cached[3:], full[3:]):
            np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("scheme", ["tiki_taka", "mixed_precision"])
def test_device_resume_reads_the_pairs_still_to_be_read(scheme):
    """A checkpoint taken while pairs wait to be read again (Tiki-Taka drains A after its update)
    resumes to the same weights as the run that went on, when later events leave those rows silent."""
    cfg = config_from_dict({"network": {"neuron": "spiking"}, "learning": {"post_factor": "ternary"},
                            "synapses": {"backend": "device", "device": "taox_hfox", "w_max": [0.2],
                                         "update": {"scheme": scheme, "buffer": "none", "transfer_every": 1,
                                                    "transfer_columns": 10, "a_drain": True}}}).synapses
    w = np.random.default_rng(3).uniform(-0.1, 0.1, (40, 30)).astype(np.float32)

    def layer():
        return make_synapse_layer("device", w, config=cfg, rng=np.random.default_rng(7), layer=0)

    def events(rng, rows_on):
        rows = (rng.random((20, 40)) < 0.5).astype(np.float32) * rows_on
        cols = np.sign(rng.standard_normal((20, 30))).astype(np.float32)
        return rows, cols

    a, rng = layer(), np.random.default_rng(1)
    for _ in range(6):
        a.update(*events(rng, 1.0), 0.2)
    state = {k: np.array(v, copy=True) for k, v in a.state_dict().items()}
    rng_state = rng.bit_generator.state
    b = layer()
    b.load_state_dict(state)
    rng_b = np.random.default_rng(1)
    rng_b.bit_generator.state = rng_state
    silent = (np.arange(40) < 10).astype(np.float32)  # rows 10.. fall silent
    for _ in range(10):
        a.update(*events(rng, silent), 0.2)
        b.update(*events(rng_b, silent), 0.2)
    np.testing.assert_array_equal(a.read_matrix("forward"), b.read_matrix("forward"))
    np.testing.assert_array_equal(a.weights, b.weights)
