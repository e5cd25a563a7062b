"""Behavioural device model: NeuroSim curve, bounds, levels, C2C statistics, vectorisation."""
import numpy as np
import pytest

from eqspike_xbar.devices import (D2D, Conductance, DeviceArray, DeviceParams, Drift, Effects, Faults,
                                  IV, Noise, Nonlinearity, Pulse, load_device, nl_to_b)
from eqspike_xbar.errors import DeviceModelError

# NeuroSim's getParamA table (normalised A = A/Pmax) at three labels: formula.cpp of MLP+NeuroSim.
NEUROSIM_A = {0.01: 126.268958, 0.5: 2.519877, 1.0: 1.251653, 9.0: 0.022810}


def make(nl_ltp=2.4, nl_ltd=-4.88, levels=97, levels_ltd=100, **kw):
    return DeviceParams(name="t", conductance=Conductance(gmin_S=3.0769e-9, gmax_S=3.8462e-8, levels=levels,
                                                          levels_ltd=levels_ltd),
                        nonlinearity=Nonlinearity(ltp=nl_ltp, ltd=nl_ltd), **kw)


@pytest.mark.parametrize("nl,a", sorted(NEUROSIM_A.items()))
def test_nonlinearity_label_matches_neurosim_table(nl, a):
    assert 1.0 / nl_to_b(nl) == pytest.approx(a, rel=1e-5, abs=5e-7)  # table has 6 decimals


def test_reproduces_neurosim_curve_points():
    """G_LTP(P) = B(1 − e^(−P/A)) + Gmin and G_LTD from Gmax, with A = a(NL)·Pmax."""
    p = make()
    arr = DeviceArray(p, (1,), seed=0, effects=Effects.none().only("nonlinearity", "asymmetry"))
    gmin, gmax = p.conductance.gmin_S, p.conductance.gmax_S
    ltp = [arr.conductance()[0]]
    for _ in range(97):
        arr.apply_pulses(np.array([1]))
        ltp.append(arr.conductance()[0])
    A = 97 / nl_to_b(2.4)
    B = (gmax - gmin) / (1 - np.exp(-97 / A))
    P = np.arange(98)
    np.testing.assert_allclose(ltp, B * (1 - np.exp(-P / A)) + gmin, rtol=1e-9, atol=1e-12 * gmax)
    ltd = [arr.conductance()[0]]
    for _ in range(100):
        arr.apply_pulses(np.array([-1]))
        ltd.append(arr.conductance()[0])
    A2 = 1.0 / nl_to_b(4.88) * 100  # published LTD label −4.88: saturating depression
    B2 = (gmax - gmin) / (1 - np.exp(-100 / A2))
    expected = -B2 * (1 - np.exp((np.arange(100, -1, -1) - 100) / A2)) + gmax
    np.testing.assert_allclose(ltd, expected, rtol=1e-9, atol=1e-12 * gmax)


def test_bounds_hold_under_many_pulses_with_noise():
    p = make(noise=Noise(c2c_sigma=0.2), d2d=D2D(gmin_rel=0.2, gmax_rel=0.2, nl_abs=1.0))
    arr = DeviceArray(p, (50, 40), seed=3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        arr.apply_pulses(rng.integers(-30, 31, size=(50, 40)))
        g = arr.conductance()
        assert np.all(g >= arr.gmin) and np.all(g <= arr.gmax)
    arr.apply_pulses(np.full((50, 40), 10**6))
    assert np.all(arr.conductance() <= arr.gmax)


def test_levels_quantise():
    """Without noise each state is one of the levels+1 points of the last pulse's curve."""
    p = make(nl_ltp=2.4, nl_ltd=-1.0, levels=20, levels_ltd=16)
    arr = DeviceArray(p, (200,), seed=1, effects=Effects(c2c=False, read_noise=False))
    c = p.conductance

    def grid(nl, levels):
        k = np.arange(levels + 1) / levels
        return c.gmin_S + (c.gmax_S - c.gmin_S) * np.expm1(-nl_to_b(nl) * k) / np.expm1(-nl_to_b(nl))

    grids = {1: grid(2.4, 20), -1: grid(-1.0, 16)}
    rng = np.random.default_rng(2)
    last = np.zeros(200, int)
    for _ in range(30):
        n = rng.integers(-4, 5, size=200)
        arr.apply_pulses(n)
        last = np.where(n != 0, np.sign(n), last)
        g = arr.conductance()
        for d in (1, -1):
            dist = np.min(np.abs(g[last == d, None] - grids[d][None, :]), axis=1)
            assert dist.max() < 1e-9 * c.gmax_S
    arr.apply_pulses(np.full(200, 25))
    np.testing.assert_allclose(arr.conductance(), p.conductance.gmax_S)


def test_c2c_spread_scales_with_sqrt_pulses():
    """Linear device far from its bounds: σ(G) after n single pulses = σ·ΔG·√n (sampling error)."""
    sigma = 0.002
    p = DeviceParams(name="lin", conductance=Conductance(gmin_S=1e-6, gmax_S=2e-6, levels=10000),
                     noise=Noise(c2c_sigma=sigma))
    m = 20000
    arr = DeviceArray(p, (m,), seed=5, effects=Effects(quantization=False), g_init="mid")
    g0 = arr.conductance()
    spreads = {}
    for n in range(1, 65):
        arr.apply_pulses(np.ones(m, dtype=int))
        if n in (1, 4, 16, 64):
            spreads[n] = np.std(arr.conductance() - g0 - n * 1e-6 / 10000)
    for n, s in spreads.items():
        expected = sigma * 1e-6 * np.sqrt(n)
        assert s == pytest.approx(expected, rel=4 / np.sqrt(2 * m) * 3), n  # ~3 % at 3 sigma
    # and in one call of n pulses
    arr2 = DeviceArray(p, (m,), seed=6, effects=Effects(quantization=False), g_init="mid")
    g0 = arr2.conductance()
    arr2.apply_pulses(np.full(m, 16))
    assert np.std(arr2.conductance() - g0) == pytest.approx(sigma * 1e-6 * 4, rel=0.03)


@pytest.mark.parametrize("quantization", [False, True])
def test_vectorised_update_equals_per_device_updates(quantization):
    p = make(d2d=D2D(gmin_rel=0.1, gmax_rel=0.1, nl_abs=0.8, levels_rel=0.1), faults=Faults(stuck_gmin_rate=0.1,
                                                                                              stuck_gmax_rate=0.1))
    eff = Effects(c2c=False, read_noise=False, quantization=quantization)
    arr = DeviceArray(p, (6, 5), seed=11, effects=eff, g_init="gmin" if quantization else "mid")
    singles = [arr.subset(np.unravel_index(i, (6, 5))) for i in range(30)]
    rng = np.random.default_rng(4)
    for _ in range(25):
        # with quantization, a direction switch rounds stochastically: compare LTP-only updates
        n = rng.integers(0, 3, size=(6, 5)) * (1 if quantization else rng.choice([-1, 1], size=(6, 5)))
        e_all = arr.apply_pulses(n)
        e_single = sum(s.apply_pulses(np.array([n.flat[i]])) for i, s in enumerate(singles))
        np.testing.assert_allclose(arr.conductance().ravel(), [s.conductance()[0] for s in singles], rtol=1e-12)
        assert e_all == pytest.approx(e_single, rel=1e-12)


def test_stuck_devices_never_move_and_d2d_fixed_by_seed():
    p = make(faults=Faults(stuck_gmin_rate=0.05, stuck_gmax_rate=0.05), d2d=D2D(nl_abs=0.5, gmax_rel=0.1),
             noise=Noise(c2c_sigma=0.03))
    a = DeviceArray(p, (100, 100), seed=7, g_init="mid")
    b = DeviceArray(p, (100, 100), seed=7, g_init="mid")
    c = DeviceArray(p, (100, 100), seed=8, g_init="mid")
    for k in a.device_parameters():
        np.testing.assert_array_equal(a.device_parameters()[k], b.device_parameters()[k])
    assert not np.array_equal(a.gmax, c.gmax)
    stuck = a.stuck
    assert 0.07 < stuck.mean() < 0.13
    before = a.conductance()[stuck]
    rng = np.random.default_rng(0)
    for _ in range(10):
        a.apply_pulses(rng.integers(-5, 6, size=(100, 100)))
    np.testing.assert_array_equal(a.conductance()[stuck], before)
    assert set(np.unique(before)) <= set(np.unique(np.r_[a.gmin[stuck], a.gmax[stuck]]))


def test_energy_per_pulse_is_v_times_i_times_width():
    p = make(pulse=Pulse(ltp_V=3.2, ltd_V=-2.8, width_s=3e-4), iv=IV(v_read_V=0.5, v0_V=0.5))
    lin = DeviceArray(p, (1,), seed=0, effects=Effects.none(), g_init="gmax")
    assert lin.apply_pulses(np.array([-1])) == pytest.approx(
        2.8**2 * 3e-4 * 0.5 * (p.conductance.gmax_S + lin.conductance()[0]), rel=1e-12)
    nonlin = DeviceArray(p, (1,), seed=0, effects=Effects.none().only("iv_nonlinearity"), g_init="gmin")
    g = nonlin.conductance()[0]
    np.testing.assert_allclose(nonlin.current(0.5, noisy=False), g * 0.5)  # G is defined at V_read
    assert nonlin.current(1.0, noisy=False)[0] == pytest.approx(g * 0.5 * np.sinh(2) / np.sinh(1))
    assert DeviceArray(p, (3,), seed=0).apply_pulses(np.zeros(3, int)) == 0.0


def test_read_noise_and_drift():
    p = make(noise=Noise(read_sigma=0.05), drift=Drift(nu=0.1, t0_s=1.0))
    arr = DeviceArray(p, (20000,), seed=0, g_init="gmax")
    g = arr.conductance()
    assert np.std(arr.read() / g) == pytest.approx(0.05, rel=0.05)
    arr.advance_time(99.0)
    gd = arr.conductance()
    expected = arr.gmin + (g - arr.gmin) * 100.0 ** -0.1
    np.testing.assert_allclose(gd, expected, rtol=1e-12)
    off = DeviceArray(p, (5,), seed=0, g_init="gmax", effects=Effects(drift=False, read_noise=False))
    off.advance_time(1e6)
    np.testing.assert_array_equal(off.read(), off.gmax)


def test_effects_switch_individually():
    p = load_device("ag_asi")
    lin = DeviceArray(p, (1,), seed=0, effects=Effects.none())
    lin.apply_pulses(np.array([48]))
    frac = (lin.conductance()[0] - p.conductance.gmin_S) / (p.conductance.gmax_S - p.conductance.gmin_S)
    assert frac == pytest.approx(48 / 97)
    assert Effects().without("c2c").c2c is False and Effects().without("c2c").d2d is True
    with pytest.raises(DeviceModelError, match="unknown device effect"):
        Effects().without("bogus")


@pytest.mark.parametrize("bad", [np.array([0.5, 1.0]), np.array([np.nan, 1.0]), np.zeros(3, int)])
def test_bad_pulse_arrays(bad):
    arr = DeviceArray(make(), (2,), seed=0)
    with pytest.raises(DeviceModelError):
        arr.apply_pulses(bad)
