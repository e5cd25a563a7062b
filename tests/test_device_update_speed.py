"""The device update's compiled paths against the numpy computation they replace, to the bit:
DeviceArray.apply_pulses_at (compiled loops, numba's draws) against its numpy steps; the
minibatch_sum pulse counts and pair programming from event_outer's rows against
pulse_counts(_rule_sum(...)) and program([(n, -n)]); the compiled exact reread against the
numpy one; the compiled coincidence count against count_nonzero."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.devices import D2D, DeviceArray, Effects, load_device, model
from eqspike_xbar.synapses import make_synapse_layer
from eqspike_xbar.synapses.base import event_outer
from eqspike_xbar.synapses.device import _union
from eqspike_xbar.synapses.schemes import _coincidences, _nonzeros_per_row, _rule_sum


def counts_at(shape, seed, density=0.1, top=4):
    rng = np.random.default_rng(seed)
    n = rng.integers(-top, top + 1, size=shape) * (rng.random(shape) < density)
    idx = np.flatnonzero(n)
    return idx, n.reshape(-1)[idx].astype(np.int32)


def array_state(arr):
    return (arr._g.copy(), np.array(arr.energy_J), np.array(arr.pulses), arr.last_index.copy(),
            arr.rng.random(4), arr.rng.standard_normal(4))


@pytest.fixture(autouse=True)
def compile_every_size(monkeypatch):
    """The compiled loops for every pulse, however few devices (the arrays here are small)."""
    monkeypatch.setattr(model, "COMPILED_MIN_DEVICES", 0)


def test_few_devices_take_the_numpy_steps(monkeypatch):
    monkeypatch.setattr(model, "COMPILED_MIN_DEVICES", 1024)
    a = DeviceArray(load_device("taox_hfox"), (40, 30), seed=7, g_init="mid")
    monkeypatch.setattr(a, "_apply_compiled", lambda *args: pytest.fail("compiled for 120 devices"))
    idx, n = counts_at(a.shape, 0)
    assert a.apply_pulses_at(idx, n) > 0


def assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


DEVICES = {
    "taox": (load_device("taox_hfox"), Effects()),
    "taox_d2d_stuck": (load_device("taox_hfox").with_(d2d=D2D(gmin_rel=0.05, gmax_rel=0.05, nl_abs=0.2,
                                                               levels_rel=0.1, c2c_rel=0.1)), Effects()),
    "taox_no_quantization_no_c2c": (load_device("taox_hfox"), Effects(quantization=False, c2c=False)),
    "ag_asi": (load_device("ag_asi"), Effects()),
    "ideal_linear": (load_device("ideal"), Effects.none()),
}


@pytest.mark.parametrize("name", sorted(DEVICES))
def test_compiled_pulses_equal_numpy_steps(name):
    p, eff = DEVICES[name]
    if name == "taox_d2d_stuck":
        p = p.with_(faults=type(p.faults)(stuck_gmin_rate=0.05, stuck_gmax_rate=0.05))
    a, b = (DeviceArray(p, (40, 30), seed=7, g_init="mid", effects=eff) for _ in range(2))
    assert not a._t_any
    for k in range(6):
        idx, n = counts_at(a.shape, k, top=1 + 40 * (k == 3))  # one round drives devices to their bounds
        ea = a.apply_pulses_at(idx, n)
        b.last_index = idx
        eb = b._apply_numpy(idx, n.astype(float))
        assert ea == eb
    assert_same(array_state(a), array_state(b))


def test_apply_pulses_takes_the_compiled_path_with_the_same_devices_as_before():
    p = load_device("taox_hfox")
    a, b = (DeviceArray(p, (50, 20), seed=1, g_init="mid") for _ in range(2))
    for k in range(4):
        n = np.zeros(a.shape, dtype=np.int64)
        idx, c = counts_at(a.shape, 20 + k)
        n.reshape(-1)[idx] = c
        assert a.apply_pulses(n) == b._apply_numpy(idx, c.astype(float))
        b.last_index = idx
    assert_same(array_state(a), array_state(b))


def device_layer(shape, dtype=np.float32, **over):
    cfg = config_from_dict({"synapses": {"backend": "device", "device": "taox_hfox", "w_max": [0.1], **over}}).synapses
    w = np.random.default_rng(5).normal(0, 0.03, shape).astype(dtype)
    return make_synapse_layer("device", w, config=cfg, rng=np.random.default_rng(11), layer=0)


def events(seed, e, m, n, dtype=np.float32, active=0.5):
    rng = np.random.default_rng(seed)
    rows = ((rng.random((e, m)) < 0.1) * (rng.random(m) < active)).astype(dtype)
    cols = (rng.normal(0, 0.5, (e, n)) * (rng.random((e, n)) < 0.5)).astype(dtype)
    return rows, cols


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("active", [0.3, 1.0])
def test_pulse_counts_at_equal_pulse_counts_of_the_rule_sum(dtype, active):
    a, b = device_layer((60, 24), dtype), device_layer((60, 24), dtype)
    for k in range(4):
        rows, cols = events(k, 40, 60, 24, dtype, active)
        scale = 0.05 * (1 + k)
        idx, counts = a.pulse_counts_at(*event_outer(rows, cols), scale)
        n = b.pulse_counts(_rule_sum(rows, cols, scale))
        np.testing.assert_array_equal(idx, np.flatnonzero(n))
        np.testing.assert_array_equal(counts, n.reshape(-1)[idx])
        assert counts.dtype == n.dtype
    assert a._rng.bit_generator.state == b._rng.bit_generator.state


def layer_state(s):
    out = [s._W, *s._g_read, *s._line_sums, *s.conductances(), s.weights, s._rng.random(3),
           np.array([s.gp.energy_J, s.gn.energy_J, s.gp.pulses, s.gn.pulses])]
    out += [np.array(v) for _, v in sorted(s.counters.items())]
    return out


@pytest.mark.parametrize("over", [{}, {"device_overrides": {"half_select": {"set_rel": 0.001, "voltage_V": 1.0}}}],
                         ids=["plain", "half_select"])
def test_minibatch_sum_equals_the_dense_rule_sum_counts_and_program(over):
    a, b = device_layer((60, 24), **over), device_layer((60, 24), **over)
    assert a.scheme.name == "minibatch_sum"
    for k in range(5):
        rows, cols = events(k, 40, 60, 24)
        scale = 0.05
        a.update(rows, cols, scale)
        # the dense computation minibatch_sum did before the compiled paths
        b.flush_read_energy()
        b._count_update(rows)
        for arr in (b.gp, b.gn):
            arr.advance_time(b.minibatch_s)
        n = b.pulse_counts(_rule_sum(rows, cols, scale))
        b.scheme._book_rule_sum(rows, cols, 32)
        b.program([(n, -n)])
        b._refresh()
    for x, y in zip(layer_state(a), layer_state(b)):
        np.testing.assert_array_equal(x, y)


def test_compiled_reread_equals_numpy_reread():
    a, b = device_layer((50, 30)), device_layer((50, 30))
    for s in (a, b):
        idx, c = counts_at((50, 30), 3, density=0.2)
        s.program_pairs(idx, c)
    idx = _union(a._programmed, 50 * 30)
    a._reread(idx)
    b.gp._t_any = b.gn._t_any = True  # no drift in these devices: the numpy reread, same reads
    b._reread(idx)
    for x, y in zip(layer_state(a), layer_state(b)):
        np.testing.assert_array_equal(x, y)


def test_union_of_one_shared_index():
    idx = np.array([1, 4, 9], dtype=np.intp)
    assert _union([idx, idx], 10) is idx
    np.testing.assert_array_equal(_union([np.array([4, 1]), np.array([4, 1])], 10), [1, 4])  # not ascending


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, bool])
def test_coincidences_count_the_nonzeros(dtype):
    rng = np.random.default_rng(0)
    rows = (rng.random((30, 70)) < 0.2) * rng.normal(size=(30, 70))
    cols = (rng.random((30, 9)) < 0.4) * np.sign(rng.normal(size=(30, 9)))
    rows, cols = rows.astype(dtype), cols.astype(dtype)
    assert _coincidences(rows, cols) == float(np.count_nonzero(rows, axis=1) @ np.count_nonzero(cols, axis=1))
    np.testing.assert_array_equal(_nonzeros_per_row(rows[:, ::3]), np.count_nonzero(rows[:, ::3], axis=1))
    np.testing.assert_array_equal(_nonzeros_per_row(np.full((2, 3), np.nan)), [3, 3])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threshold", [4.0, 0.5, 1.0000001])
def test_float32_accumulator_compiled_add_and_take_equal_the_dense_steps(dtype, threshold):
    from eqspike_xbar.synapses.schemes import FixedPoint

    step = 0.0015625
    a, b = (FixedPoint((60, 24), 0, 2 * threshold, np.random.default_rng(0)) for _ in range(2))
    a.q[...] = b.q[...] = np.random.default_rng(1).normal(0, 2, (60, 24)).astype(np.float32)  # fires off the event rows too
    for k in range(4):
        rows, cols = events(k, 40, 60, 24, dtype, active=0.4)
        scale = 0.03 * (k - 1.5)
        a.add_rule_sum(*event_outer(rows, cols), scale, step)
        b.add(_rule_sum(rows, cols, scale) / np.float32(step))
        np.testing.assert_array_equal(a.q, b.q)
        idx, counts = a.take_whole_at(threshold)
        n = b.take_whole(threshold)
        np.testing.assert_array_equal(idx, np.flatnonzero(n))
        np.testing.assert_array_equal(counts, n.reshape(-1)[idx])
        np.testing.assert_array_equal(a.q, b.q)


def test_mixed_precision_equals_its_dense_steps():
    over = {"update": {"scheme": "mixed_precision", "threshold": 2}}
    a, b = device_layer((60, 24), **over), device_layer((60, 24), **over)
    for k in range(6):
        rows, cols = events(k, 40, 60, 24)
        a.update(rows, cols, 0.05)
        b.flush_read_energy()
        b._count_update(rows)
        chi = b.scheme.chi
        chi.add(_rule_sum(rows, cols, 0.05) / np.float32(b.pair_step))
        b.scheme._book_rule_sum(rows, cols, chi.word_bits)
        n = chi.take_whole(b.scheme.threshold)
        b.program([(n, -n)])
        b._refresh()
    assert a.counters["pulses"] > 0
    for x, y in zip(layer_state(a) + [a.scheme.chi.q], layer_state(b) + [b.scheme.chi.q]):
        np.testing.assert_array_equal(x, y)
