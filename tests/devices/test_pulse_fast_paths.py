"""apply_pulses' fast paths against the plain computation: a caller-given nonzero index, and
direction constants taken from [LTD, LTP] instead of np.where, give the same devices to the bit."""
import numpy as np
import pytest

from eqspike_xbar.devices import D2D, DeviceArray, Effects, load_device


def pulses(shape, seed, density=0.2):
    rng = np.random.default_rng(seed)
    return (rng.integers(-3, 4, size=shape) * (rng.random(shape) < density)).astype(np.int64)


def state(arr):
    return arr._g.copy(), arr.energy_J, arr.pulses, arr.last_index.copy(), arr.rng.random(4)


def assert_same(a, b):
    for x, y in zip(state(a), state(b)):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("d2d", [False, True])
def test_given_index_equals_searched_index(d2d):
    p = load_device("taox_hfox")
    if d2d:  # per-device constants: the np.where path
        p = p.with_(d2d=D2D(gmin_rel=0.05, gmax_rel=0.05, nl_abs=0.2, levels_rel=0.1, c2c_rel=0.1))
    a, b = (DeviceArray(p, (40, 30), seed=3, g_init="mid") for _ in range(2))
    for k in range(5):
        n = pulses(a.shape, k)
        assert a.apply_pulses(n) == b.apply_pulses(n, np.flatnonzero(n))
    assert_same(a, b)


def test_direction_constants_taken_equal_np_where():
    p = load_device("taox_hfox")  # no D2D spread: LTP and LTD constants are one number each
    a, b = (DeviceArray(p, (50, 20), seed=1, g_init="mid", effects=Effects(stuck=False)) for _ in range(2))
    assert a._by_direction
    b._by_direction = {}  # the plain np.where of 0-d operands
    for k in range(5):
        n = pulses(a.shape, 10 + k)
        assert a.apply_pulses(n) == b.apply_pulses(n)
    assert_same(a, b)
