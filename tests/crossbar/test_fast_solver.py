"""Fast nodal solver against analytic limits, Kirchhoff's laws and energy balance."""
import numpy as np
import pytest

from eqspike_xbar.crossbar import CrossbarSpec, FastCrossbar, ideal_currents

RTOL, ATOL = 1e-10, 1e-15  # relative, and A (currents are µA here)

SPECS = {
    "wires": CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=3.0, r_driver_ohm=50.0, r_sense_ohm=20.0, termination="role"),
    "tia_1t1r": CrossbarSpec(r_wordline_ohm=5.0, r_bitline_ohm=5.0, sense="tia", cell="1T1R", r_access_ohm=2e3),
    "sinh": CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=2.0, r_driver_ohm=10.0, v0=0.15, termination="role"),
    "sinh_1t1r": CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=0.0, r_sense_ohm=5.0, v0=0.15, cell="1T1R", termination="role"),
}


def random_case(rng, m, n):
    return rng.uniform(1e-6, 1e-4, (m, n))


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_zero_wires_and_ideal_sense_give_the_ideal_matmul(direction):
    rng = np.random.default_rng(1)
    g = random_case(rng, 7, 5)
    spec = CrossbarSpec(r_wordline_ohm=0.0, r_bitline_ohm=0.0, r_driver_ohm=0.0, r_sense_ohm=0.0)
    v = rng.uniform(-0.3, 0.3, (4, 7 if direction == "forward" else 5))
    xbar = FastCrossbar(g, spec)
    np.testing.assert_allclose(xbar.read(v, direction), ideal_currents(g, v, direction), rtol=1e-13, atol=1e-18)
    np.testing.assert_allclose(xbar.transfer_matrix(direction), g, rtol=1e-13, atol=1e-18)


def test_single_cell_is_a_series_circuit():
    spec = CrossbarSpec(r_wordline_ohm=7.0, r_bitline_ohm=9.0, r_driver_ohm=100.0, r_sense_ohm=50.0, cell="1T1R", r_access_ohm=1e3, termination="role")
    g = np.array([[1e-4]])
    i = FastCrossbar(g, spec).read([0.3])
    np.testing.assert_allclose(i, [[0.3 / (100.0 + 1e4 + 1e3 + 50.0)]], rtol=1e-13)


def test_tia_virtual_ground_has_input_resistance_rf_over_1_plus_gain():
    spec = CrossbarSpec(r_wordline_ohm=0.0, r_bitline_ohm=0.0, sense="tia", tia_gain=100.0, tia_rf_ohm=1e5)
    i = FastCrossbar(np.array([[1e-4]]), spec).read([0.2])
    np.testing.assert_allclose(i, [[0.2 / (1e4 + 1e5 / 101.0)]], rtol=1e-13)


def test_wire_resistance_lowers_every_output_current():
    rng = np.random.default_rng(2)
    g = random_case(rng, 16, 16)
    v = rng.uniform(0.05, 0.2, (1, 16))
    i = FastCrossbar(g, SPECS["wires"]).read(v)
    assert np.all(i < ideal_currents(g, v)) and np.all(i > 0)


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_kirchhoff_current_in_equals_out_and_power_balances(name, direction):
    rng = np.random.default_rng(3)
    spec = SPECS[name]
    g = random_case(rng, 6, 9)
    xbar = FastCrossbar(g, spec)
    model = xbar.model(direction)
    v = rng.uniform(0.0, 0.4, (3, model.shape[0]))
    nodes = model.node_voltages(v)
    i_in, i_out = model.drive_currents(nodes), model.sense_currents(nodes)
    np.testing.assert_allclose(i_in.sum(axis=1), i_out.sum(axis=1), rtol=RTOL, atol=ATOL)
    p = model.power(nodes)
    np.testing.assert_allclose(p["delivered"], p["cells"] + p["wires"] + p["sense"], rtol=1e-9, atol=1e-16)
    assert np.all(p["wires"] > 0) and np.all(p["cells"] > 0)


@pytest.mark.parametrize("name", ["wires", "tia_1t1r"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_transfer_matrix_reproduces_direct_solves(name, direction):
    rng = np.random.default_rng(4)
    g = random_case(rng, 8, 5)
    xbar = FastCrossbar(g, SPECS[name])
    v = rng.uniform(-0.2, 0.2, (3, 8 if direction == "forward" else 5))
    direct = xbar.read(v, direction)
    w = xbar.transfer_matrix(direction)
    via_w = v @ w if direction == "forward" else v @ w.T
    np.testing.assert_allclose(via_w, direct, rtol=RTOL, atol=ATOL)


def test_reciprocity_each_line_keeping_its_termination():
    rng = np.random.default_rng(5)
    g = random_case(rng, 9, 6)
    spec = CrossbarSpec(r_wordline_ohm=3.0, r_bitline_ohm=2.0, r_driver_ohm=40.0, r_sense_ohm=10.0, termination="line")
    xbar = FastCrossbar(g, spec)
    assert xbar.reciprocal
    w_b_solved = np.flip(xbar.model("backward").transfer_matrix()).T  # not the shortcut
    np.testing.assert_allclose(w_b_solved, xbar.transfer_matrix("forward"), rtol=1e-10, atol=1e-16)


def test_terminations_that_swap_with_direction_break_symmetry():
    rng = np.random.default_rng(5)
    g = random_case(rng, 9, 6)
    xbar = FastCrossbar(g, CrossbarSpec(r_wordline_ohm=3.0, r_bitline_ohm=2.0, r_driver_ohm=400.0, r_sense_ohm=0.0, termination="role"))
    assert not xbar.reciprocal
    w_f, w_b = xbar.transfer_matrix("forward"), xbar.transfer_matrix("backward")
    assert np.linalg.norm(w_f - w_b) / np.linalg.norm(w_f) > 1e-3


def test_large_batches_use_the_transfer_matrix_and_agree_with_single_reads():
    rng = np.random.default_rng(6)
    g = random_case(rng, 10, 10)
    v = rng.uniform(0, 0.2, (20, 10))
    batched = FastCrossbar(g, SPECS["wires"]).read(v)
    single = np.vstack([FastCrossbar(g, SPECS["wires"]).read(row) for row in v[:3]])
    np.testing.assert_allclose(batched[:3], single, rtol=RTOL, atol=ATOL)


def test_sinh_device_is_linear_for_small_and_superlinear_for_large_voltages():
    g = np.full((3, 3), 5e-5)
    lin, nl = CrossbarSpec(r_wordline_ohm=1.0, r_bitline_ohm=1.0), CrossbarSpec(r_wordline_ohm=1.0, r_bitline_ohm=1.0, v0=0.2)
    small = np.full((1, 3), 1e-4)
    np.testing.assert_allclose(FastCrossbar(g, nl).read(small), FastCrossbar(g, lin).read(small), rtol=1e-6)
    big = np.full((1, 3), 0.5)
    assert np.all(FastCrossbar(g, nl).read(big) > 2 * FastCrossbar(g, lin).read(big))


def _dense_transfer(g, spec):
    """W_f from a dense Schur complement of a freshly assembled nodal matrix (no caches)."""
    from eqspike_xbar.crossbar.nodal import NodalModel, oriented

    model = NodalModel(oriented(g, spec, "forward"), spec)
    _, g_lin = model.cell_current(np.zeros(g.shape))  # 1T1R: device in series with the access
    K = model.matrix(g_lin).toarray()
    k, M = model.n_int, g.shape[0]
    S = K[k:, k:] - K[k:, :k] @ np.linalg.solve(K[:k, :k], K[:k, k:])
    if spec.sense == "ideal":
        return -S[:M, M:]
    return -np.linalg.solve(S[M:, M:], S[:M, M:].T).T * spec.tia_input_conductance


def test_cached_transfer_plan_serves_new_states_and_concurrent_tiles():
    from concurrent.futures import ThreadPoolExecutor

    from eqspike_xbar.crossbar import TiledCrossbar, transfer_matrices
    from eqspike_xbar.crossbar.nodal import oriented, transfer_plan

    rng = np.random.default_rng(7)
    spec = CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=3.0, r_driver_ohm=4.0, sense="tia", cell="1T1R", termination="role")
    states = [random_case(rng, 9, 6) for _ in range(4)]
    plan = transfer_plan(oriented(states[0], spec, "forward"), spec)
    for g in states:  # one plan (pattern, PARDISO analysis) for every state of this shape
        assert transfer_plan(oriented(g, spec, "forward"), spec) is plan
        np.testing.assert_allclose(FastCrossbar(g, spec).transfer_matrix(), _dense_transfer(g, spec), rtol=1e-10)
    big = [random_case(rng, 64, 64) for _ in range(3)]  # ms-long factorisations: calls overlap
    ref = [FastCrossbar(g, spec).transfer_matrix() for g in big]
    with ThreadPoolExecutor(4) as pool:  # four threads share one plan with at most one handle per core
        results = list(pool.map(lambda g: FastCrossbar(g, spec).transfer_matrix(), big * 4))
    for k, w in enumerate(results):
        np.testing.assert_array_equal(w, ref[k % 3])
    import os
    assert len(transfer_plan(oriented(big[0], spec, "forward"), spec).pattern._free) <= (os.cpu_count() or 1)
    layer = np.vstack(states)  # a 36 x 6 layer on 9 x 6 tiles; both arrays' tiles on 2 workers
    w_pos, w_neg = transfer_matrices([TiledCrossbar(layer, spec, (9, 6)), TiledCrossbar(layer[::-1], spec, (9, 6))],
                                     workers=2)
    np.testing.assert_allclose(w_pos, np.vstack([_dense_transfer(g, spec) for g in states]), rtol=1e-10)
    flipped = layer[::-1]
    np.testing.assert_allclose(w_neg, np.vstack([_dense_transfer(flipped[9 * k: 9 * k + 9], spec) for k in range(4)]),
                               rtol=1e-10)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_superlu_fallback_gives_the_same_answers(monkeypatch, direction):
    """Without MKL (EQSPIKE_XBAR_LINALG=superlu, or no pypardiso) SciPy's SuperLU takes over."""
    from eqspike_xbar.crossbar import linalg

    rng = np.random.default_rng(11)
    g = random_case(rng, 12, 9)
    v = rng.uniform(0, 0.2, (3, 12 if direction == "forward" else 9))
    spec = SPECS["wires"]
    ref_w, ref_i = FastCrossbar(g, spec).transfer_matrix(direction), FastCrossbar(g, spec).read(v, direction)
    monkeypatch.setattr(linalg, "_MKL", False)
    assert linalg.backend_name() == "superlu"
    np.testing.assert_allclose(FastCrossbar(g, spec).transfer_matrix(direction), ref_w, rtol=1e-10)
    np.testing.assert_allclose(FastCrossbar(g, spec).read(v, direction), ref_i, rtol=1e-10)
