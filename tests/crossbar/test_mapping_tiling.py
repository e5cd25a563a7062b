"""Weight mapping round trips within one level; a tiled layer is the sum of its tiles."""
import numpy as np
import pytest

from eqspike_xbar.crossbar import (ConductanceMapping, CrossbarSpec, FastCrossbar, TiledCrossbar,
                                   effective_weights, tile_slices)
from eqspike_xbar.errors import CircuitError


@pytest.mark.parametrize("levels", [None, 2, 16, 128])
def test_round_trip_within_one_level(levels):
    rng = np.random.default_rng(0)
    m = ConductanceMapping(g_min=1e-6, g_max=1e-4, w_max=0.5, levels=levels)
    w = rng.uniform(-0.5, 0.5, (30, 20))
    g_pos, g_neg = m.to_conductances(w)
    assert g_pos.min() >= m.g_min and g_pos.max() <= m.g_max and g_neg.max() <= m.g_max
    err = np.abs(m.to_weights(g_pos, g_neg) - w)
    assert err.max() <= (m.weight_step if levels else 1e-12) + 1e-12
    if levels:  # nearest rounding: within half a level
        assert err.max() <= 0.5 * m.weight_step + 1e-12
        steps = (np.concatenate([g_pos, g_neg]) - m.g_min) / (m.g_max - m.g_min) * (levels - 1)
        np.testing.assert_allclose(steps, np.rint(steps), atol=1e-9)


def test_stochastic_rounding_is_unbiased_and_within_one_level():
    m = ConductanceMapping(levels=8)
    w = np.full(20000, 0.3)
    rng = np.random.default_rng(1)
    back = m.to_weights(*m.to_conductances(w, rng=rng))
    assert np.abs(back - w).max() <= m.weight_step + 1e-12
    assert abs(back.mean() - 0.3) < 0.01 * m.weight_step * 10


def test_weights_beyond_range_are_clipped_and_bad_ranges_rejected():
    m = ConductanceMapping(w_max=1.0)
    g_pos, g_neg = m.to_conductances([[3.0, -3.0]])
    np.testing.assert_allclose(m.to_weights(g_pos, g_neg), [[1.0, -1.0]])
    with pytest.raises(CircuitError, match="g_max"):
        ConductanceMapping(g_min=1e-4, g_max=1e-5)
    with pytest.raises(CircuitError, match="levels"):
        ConductanceMapping(levels=1)
    with pytest.raises(CircuitError, match="shape"):
        m.to_weights(np.zeros((2, 2)), np.zeros((2, 3)))


def test_tile_slices_cover_the_layer_once():
    slices = tile_slices((300, 130), 128, 128)
    cover = np.zeros((300, 130), int)
    for rs, cs in slices:
        cover[rs, cs] += 1
        assert rs.stop - rs.start <= 128 and cs.stop - cs.start <= 128
    assert len(slices) == 6 and np.all(cover == 1)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_tiled_layer_equals_the_sum_of_its_tiles(direction):
    rng = np.random.default_rng(2)
    g = rng.uniform(1e-6, 1e-4, (23, 17))
    spec = CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=2.0, r_driver_ohm=10.0, termination="role")
    v = rng.uniform(0, 0.2, (2, 23 if direction == "forward" else 17))
    tiled = TiledCrossbar(g, spec, max_array=(10, 8))
    expected = np.zeros((2, 17 if direction == "forward" else 23))
    for rs, cs in tile_slices(g.shape, 10, 8):
        part = FastCrossbar(g[rs, cs], spec)
        if direction == "forward":
            expected[:, cs] += part.read(v[:, rs], direction)
        else:
            expected[:, rs] += part.read(v[:, cs], direction)
    np.testing.assert_allclose(tiled.read(v, direction), expected, rtol=1e-12, atol=1e-18)
    w = tiled.transfer_matrix(direction)
    np.testing.assert_allclose(v @ w if direction == "forward" else v @ w.T, expected, rtol=1e-10, atol=1e-16)
    # shorter wires: the tiled circuit is closer to the ideal matmul than one big array
    ideal = v @ g if direction == "forward" else v @ g.T
    whole = FastCrossbar(g, spec).read(v, direction)
    assert np.linalg.norm(expected - ideal) < np.linalg.norm(whole - ideal)


def test_effective_weights_of_an_ideal_circuit_are_the_quantised_weights():
    rng = np.random.default_rng(3)
    m = ConductanceMapping(w_max=0.5, levels=64)
    w = rng.uniform(-0.5, 0.5, (20, 12))
    g_pos, g_neg = m.to_conductances(w)
    ideal = CrossbarSpec(r_wordline_ohm=0.0, r_bitline_ohm=0.0)
    np.testing.assert_allclose(effective_weights(g_pos, g_neg, m, ideal, "forward", (8, 8)),
                               m.to_weights(g_pos, g_neg), rtol=1e-12, atol=1e-12)
    with_wires = effective_weights(g_pos, g_neg, m, CrossbarSpec(r_wordline_ohm=5, r_bitline_ohm=5), "backward")
    assert 1e-4 < np.abs(with_wires - m.to_weights(g_pos, g_neg)).max() < 0.1
