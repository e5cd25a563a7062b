"""mixed_precision with verify = 'bounded': program-and-verify whose targets stay inside the pair's range.

A pair that the rule keeps pushing against its bound: plain verify keeps the devices' shortfall
in the accumulator and pulses the pair on every update; the bounded scheme drops the wish beyond
±w_max and stops pulsing once the pair is at its bound. Inside the range both are the same."""
import numpy as np

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.synapses import make_synapse_layer

NOISE_OFF = ["c2c", "d2d", "read_noise", "quantization", "stuck", "drift"]


def layer(verify, w0=0.0):
    cfg = config_from_dict({"synapses": {"backend": "device", "device": "ideal", "effects_off": NOISE_OFF,
                                         "w_max": [0.2], "update": {"scheme": "mixed_precision", "threshold": 4.0,
                                                                     "verify": verify}}}).synapses
    w = np.full((3, 2), w0, np.float32)
    return make_synapse_layer("device", w, config=cfg, rng=np.random.default_rng(3), layer=0)


def push(syn, steps, times):
    rows, cols = np.array([[1, 0, 0]], np.float32), np.array([[1, 0]], np.float32)
    for _ in range(times):
        syn.update(rows, cols, scale=steps * syn.pair_step)


def test_a_pair_pushed_against_its_bound_stops_firing_and_keeps_no_unreachable_wish():
    plain, bounded = layer(True, 0.15), layer("bounded", 0.15)
    room = (plain.w_max - 0.15) / plain.pair_step  # 128 pulse steps up to +w_max
    for syn in (plain, bounded):
        push(syn, 5.0, 40)  # 200 steps outward
        np.testing.assert_allclose(syn.weights[0, 0], syn.w_max, rtol=1e-5)  # both reach the bound
        assert np.all(syn.weights.reshape(-1)[1:] == np.float32(0.15))  # nothing else was pulsed
    # plain verify keeps the unreachable 200 - 128 steps; the bounded scheme keeps none of them
    assert abs(plain.scheme.chi.value[0, 0] - (200 - room)) < 1e-3
    assert abs(bounded.scheme.chi.value[0, 0]) < 1e-3
    # without any further wish the plain pair keeps firing (nothing moves), the bounded one does not
    p_plain, p_bounded = plain.counters["pulses"], bounded.counters["pulses"]
    push(plain, 0.0, 3)
    push(bounded, 0.0, 3)
    assert plain.counters["pulses"] - p_plain == 3 * 2 * round(200 - room)
    assert bounded.counters["pulses"] == p_bounded
    assert plain.counters["scheme_line_reads"] > bounded.counters["scheme_line_reads"]


def test_inside_the_range_bounded_and_plain_verify_program_the_same():
    rng = np.random.default_rng(0)
    plain, bounded = layer(True), layer("bounded")
    rows = (rng.random((30, 3)) < 0.5).astype(np.float32)
    cols = np.sign(rng.normal(size=(30, 2))).astype(np.float32)
    for syn in (plain, bounded):
        for e in range(30):
            syn.update(rows[e:e + 1], cols[e:e + 1], scale=1.5 * syn.pair_step)
    assert np.abs(plain.weights).max() < plain.w_max
    np.testing.assert_array_equal(plain.weights, bounded.weights)
    np.testing.assert_array_equal(plain.scheme.chi.value, bounded.scheme.chi.value)
    assert plain.counters["pulses"] == bounded.counters["pulses"] > 0


def test_bounded_verify_only_drops_wishes_when_a_pair_reads_beyond_its_range():
    # with read noise or a D2D spread of Gmax a pair at its bound can read beyond ±w_max: the bound
    # then only shrinks the accumulator, it never wishes the pair back inward
    syn = layer("bounded")
    step, w_max = syn.pair_step, syn.w_max
    chi = syn.scheme.chi
    w_after = np.array([w_max + 3 * step, w_max + 3 * step, -w_max - 2 * step, 0.0, w_max - step], np.float32)
    wish = np.array([2.0, -1.5, 0.5, 2.5, 3.0], np.float32)  # pulse steps
    index = (np.array([0, 0, 1, 1, 2]), np.array([0, 1, 0, 1, 0]))
    chi.add(wish, index)
    syn.scheme._after_verify(w_after, index)
    after = chi.value[index]
    # outward wishes of pairs beyond the range: dropped; inward ones and pairs inside it: kept,
    # up to the room left (the last pair has one step of room)
    np.testing.assert_allclose(after, [0.0, -1.5, 0.5, 2.5, 1.0], atol=1e-4)
    assert np.all(np.abs(after) <= np.abs(wish) + 1e-6) and np.all(after * wish >= 0)
