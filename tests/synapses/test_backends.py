"""The synapse backends against each other and against circuit laws."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.energy import COMPONENTS, energy_breakdown, reset_counters
from eqspike_xbar.errors import ConfigError
from eqspike_xbar.experiments.train import Trainer
from eqspike_xbar.synapses import BACKENDS, make_synapse_layer

NOISE_OFF = ["c2c", "d2d", "read_noise", "quantization", "stuck", "drift"]


def synapse_cfg(**over):
    return config_from_dict({"synapses": over}).synapses


def layer(backend, w, **over):
    return make_synapse_layer(backend, w, config=synapse_cfg(**over), rng=np.random.default_rng(7), layer=0)


def test_device_backend_with_ideal_linear_device_tracks_ideal(tmp_path):
    """Ideal linear device (1024 levels), every noise off: within 1 point of the ideal backend."""
    acc = {}
    for backend in ("ideal", "device"):
        cfg = config_from_dict({"learning": {"epochs": 5}, "network": {"layers": [64, 256, 10]},
                                "synapses": {"backend": backend, "device": "ideal", "effects_off": NOISE_OFF}})
        acc[backend] = float(Trainer(cfg, tmp_path / backend, progress=False).run().test_accuracy[-1])
    assert acc["ideal"] > 0.85
    assert abs(acc["device"] - acc["ideal"]) <= 0.01, acc


def test_device_pulses_follow_the_rule_and_bounds():
    w = np.zeros((6, 4), dtype=np.float32)
    syn = layer("device", w, device="ideal", effects_off=NOISE_OFF, w_max=[0.2])
    rows = np.eye(6, dtype=np.float32)[:2]  # rows 0 and 1 active
    cols = np.array([[1, 0, -1, 0], [0, 1, 0, 0]], dtype=np.float32)
    syn.update(rows, cols, scale=0.05)  # asks for dW = +-0.05 at (0,0), (0,2), (1,1)
    dw = syn.weights
    np.testing.assert_allclose(dw[[0, 1, 0], [0, 1, 2]], [0.05, 0.05, -0.05], atol=2 * syn.dw_pulse)
    assert np.count_nonzero(dw) == 3
    assert syn.counters["pulses"] > 0 and syn.counters["programming_J"] > 0
    for _ in range(100):  # far past the range: bounded at +-w_max
        syn.update(rows, cols, scale=0.05)
    assert np.abs(syn.weights).max() <= 0.2 + 1e-6


@pytest.mark.parametrize("pair_layout", ["separate", "interleaved"])
def test_circuit_with_zero_wire_resistance_reads_like_device(pair_layout):
    rng = np.random.default_rng(0)
    w = rng.uniform(-0.1, 0.1, (70, 30)).astype(np.float32)
    common = dict(device="taox_hfox", w_max=[0.2])
    dev = layer("device", w, **common)
    circ = layer("circuit", w, **common, circuit={"r_wordline_ohm": 0.0, "r_bitline_ohm": 0.0, "pair_layout": pair_layout,
                                                 "max_array_rows": 32, "max_array_cols": 16, "spot_checks": 0})
    x = (rng.random((5, 70)) < 0.3).astype(np.float32)
    y = rng.random((5, 30)).astype(np.float32)
    np.testing.assert_allclose(circ.forward(x), dev.forward(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(circ.backward(y), dev.backward(y), rtol=1e-5, atol=1e-6)
    # and the same after programming
    rows, cols = (rng.random((8, 70)) < 0.3).astype(np.float32), rng.normal(0, 0.01, (8, 30)).astype(np.float32)
    dev.update(rows, cols, 1.0)
    circ.update(rows, cols, 1.0)
    np.testing.assert_allclose(circ.forward(x), dev.forward(x), rtol=1e-5, atol=1e-6)


def test_circuit_with_wires_reads_less_and_is_reciprocal():
    rng = np.random.default_rng(1)
    w = rng.uniform(0.0, 0.2, (64, 64)).astype(np.float32)
    common = dict(device="taox_hfox", w_max=[0.2])
    dev = layer("device", w, **common)
    circ = layer("circuit", w, **common, circuit={"r_wordline_ohm": 5.0, "r_bitline_ohm": 5.0, "spot_checks": 0})
    x = np.ones((1, 64), dtype=np.float32)
    assert circ.stats["ir_drop"][-1] > 0.01
    assert circ.stats["asymmetry"][-1] == 0.0  # 'line' termination: W_b = W_f
    # IR drop lowers the currents of both devices of a pair; the difference keeps its sign here
    assert np.all(circ.forward(x) < dev.forward(x) + 1e-6)


def booked_read_energy(syn, direction, x):
    """Read ``x``, refresh the exact matrices (the energy split sampled from that read), read it
    again: the read energy (J) the backend books for the second read (counters stay for checks)."""
    read = syn.forward if direction == "forward" else syn.backward
    syn.reset_counters()
    read(x)
    syn.update(np.zeros((1, syn.n_pre), np.float32), np.zeros((1, syn.n_post), np.float32), 1.0)
    syn.reset_counters()
    read(x)
    syn.flush_read_energy()
    return syn.counters["device_read_J"] + syn.counters["wire_read_J"]


def test_circuit_read_energy_equals_device_plus_wire_dissipation():
    """Energy conservation: what the circuit backend books for a read equals the energy the
    sources deliver, and that is Σ G·V_cell²·t over the devices plus the wire dissipation."""
    from eqspike_xbar.crossbar.nodal import NodalModel  # noqa: F401  (the solver used below)

    rng = np.random.default_rng(2)
    w = rng.uniform(-0.2, 0.2, (40, 24)).astype(np.float32)
    syn = layer("circuit", w, device="taox_hfox", w_max=[0.2], effects_off=NOISE_OFF,
                circuit={"r_wordline_ohm": 20.0, "r_bitline_ohm": 20.0, "max_array_rows": 32,
                         "max_array_cols": 16, "refresh_every": 1, "energy_split_every": 1,
                         "spot_checks": 0})
    x = (rng.random((1, 40)) < 0.5).astype(np.float32)
    booked = booked_read_energy(syn, "forward", x)

    v = syn.read_pulse_V * x[0].astype(float)
    t = syn.read_pulse_s
    delivered = cells = wires = 0.0
    for tiled in syn._tiles(syn._g_read[0]), syn._tiles(syn._g_read[1]):
        for (rs, cs), tile in zip(tiled.slices, tiled.tiles):
            model = tile.model("forward")
            nodes = model.node_voltages(v[None, rs])
            p = model.power(nodes)
            delivered += float(p["delivered"][0]) * t
            wires += float(p["wires"][0] + p["sense"][0]) * t
            v_cell = nodes[model.lr, 0] - nodes[model.lc, 0]  # voltage across every device
            cells += float(np.sum(tile.g * v_cell**2)) * t
    assert wires > 0.001 * cells
    np.testing.assert_allclose(delivered, cells + wires, rtol=1e-9)
    np.testing.assert_allclose(booked, delivered, rtol=1e-6)
    np.testing.assert_allclose(syn.counters["device_read_J"], cells, rtol=1e-6)


def test_interleaved_pairs_read_like_the_physical_array_in_both_directions():
    """G− in the column after G+ on one array: forward = the pair's column currents subtracted;
    backward = G+ columns driven at +V and G− columns at −V, row currents as they are. Checked
    against the fast solver reading that array, with a driver resistance that swaps sides
    (non-reciprocal), and the booked backward read energy against the delivered energy."""
    from eqspike_xbar.crossbar import TiledCrossbar

    rng = np.random.default_rng(3)
    w = rng.uniform(-0.2, 0.2, (40, 12)).astype(np.float32)
    syn = layer("circuit", w, device="taox_hfox", w_max=[0.2], effects_off=NOISE_OFF,
                circuit={"r_wordline_ohm": 20.0, "r_bitline_ohm": 20.0, "r_driver_ohm": 300.0, "termination": "role",
                         "pair_layout": "interleaved", "max_array_rows": 32, "max_array_cols": 16,
                         "refresh_every": 1, "energy_split_every": 1, "spot_checks": 0})
    gp, gn = syn._g_read
    g = np.empty((40, 24))
    g[:, 0::2], g[:, 1::2] = gp, gn
    array = TiledCrossbar(g, syn.spec, (32, 16))  # a pair straddles no tile here; 3 tiles wide
    v = rng.uniform(0, 0.2, (3, 40))
    i = array.read(v, "forward")
    np.testing.assert_allclose(syn.s_per_weight * v @ syn._Wf, i[:, 0::2] - i[:, 1::2], rtol=1e-6, atol=1e-12)
    u = rng.uniform(0, 0.2, (3, 12))
    bipolar = np.stack([u, -u], axis=2).reshape(3, 24)
    np.testing.assert_allclose(syn.s_per_weight * u @ syn._Wb.T, array.read(bipolar, "backward"), rtol=1e-6, atol=1e-12)
    assert syn.stats["asymmetry"][-1] > 1e-3  # the driver resistance changes sides: W_b != W_f

    y = (rng.random((1, 12)) < 0.5).astype(np.float32)
    booked = booked_read_energy(syn, "backward", y)
    gp, gn = syn._g_read
    g[:, 0::2], g[:, 1::2] = gp, gn
    vb = syn.read_pulse_V * np.stack([y[0], -y[0]], axis=1).reshape(1, 24).astype(float)
    delivered, tiled = 0.0, TiledCrossbar(g, syn.spec, (32, 16))
    for (rs, cs), tile in zip(tiled.slices, tiled.tiles):
        model = tile.model("backward")
        delivered += float(model.power(model.node_voltages(vb[:, cs][:, ::-1]))["delivered"][0]) * syn.read_pulse_s
    np.testing.assert_allclose(booked, delivered, rtol=1e-6)


def test_energy_breakdown_counts_events(tmp_path):
    cfg = config_from_dict({"data": {"train_limit": 40}, "network": {"layers": [64, 16, 10], "free_steps": 10},
                            "learning": {"epochs": 1}, "synapses": {"backend": "device", "device": "taox_hfox"}})
    tr = Trainer(cfg, tmp_path, progress=False)
    reset_counters(tr.net)
    tr.train_epoch(0)
    e = energy_breakdown(tr.net, cfg.energy)
    # every free step updates every neuron of layers 1..L for every image (nudged phases come on top)
    assert tr.net.counters["neuron_updates"] >= 40 * 10 * (16 + 10)
    np.testing.assert_allclose(e["neurons"], tr.net.counters["neuron_updates"] * cfg.energy.neuron_update_J)
    assert e["programming"] > 0 and e["crossbar_devices"] > 0 and e["crossbar_wires"] == 0
    assert e["total"] == pytest.approx(sum(e[k] for k in COMPONENTS))
    # the default scheme's per-minibatch rule sum is a 32-bit digital word per synapse, counted
    assert e["digital_memory"] > 0 and e["scheme_reads"] == 0


@pytest.mark.parametrize("backend", sorted(BACKENDS))  # every registered backend: a new one cannot go untested
def test_resume_is_identical_for_every_backend(tmp_path, backend):
    base = {"data": {"train_limit": 120}, "network": {"layers": [64, 24, 10], "free_steps": 15},
            "synapses": {"backend": backend, "device": "taox_hfox",
                         "circuit": {"max_array_rows": 32, "refresh_every": 3, "energy_split_every": 2,
                                     "spot_checks": 0}}}
    full = Trainer(config_from_dict({**base, "learning": {"epochs": 2}}), tmp_path / "a", progress=False)
    ds_full = full.run()
    Trainer(config_from_dict({**base, "learning": {"epochs": 1}}), tmp_path / "b", progress=False).run()
    resumed = Trainer(config_from_dict({**base, "learning": {"epochs": 2}}), tmp_path / "b", progress=False)
    resumed.load_checkpoint()
    ds_res = resumed.run()
    for name in ds_full.data_vars:  # accuracies, energies and circuit diagnostics alike
        if name not in ("epoch_time_s", "eval_time_s"):
            np.testing.assert_array_equal(ds_res[name].values, ds_full[name].values, err_msg=name)
    for a, b in zip(resumed.net.synapses, full.net.synapses):
        np.testing.assert_array_equal(a.weights, b.weights)


def test_bad_backend_and_device_input():
    with pytest.raises(ConfigError, match="synapses.backend 'fpga' is unknown"):
        config_from_dict({"synapses": {"backend": "fpga"}})
    with pytest.raises(Exception, match="unknown device 'unobtainium'"):
        layer("device", np.zeros((3, 3), np.float32), device="unobtainium")
    with pytest.raises(ConfigError, match="unknown device effect"):
        layer("device", np.zeros((3, 3), np.float32), device="ideal", effects_off=["magic"])
    with pytest.raises(ConfigError, match="device_overrides"):
        layer("device", np.zeros((3, 3), np.float32), device="ideal",
              device_overrides={"conductance": {"gmin_S": 1e-3}})  # gmin above gmax
    with pytest.raises(ConfigError, match="max_array_rows"):
        config_from_dict({"synapses": {"circuit": {"max_array_rows": 0}}})


def test_half_select_disturb_reaches_row_and_column_neighbours():
    w = np.zeros((4, 5), dtype=np.float32)
    over = {"half_select": {"set_rel": 0.01, "reset_rel": 0.01, "scheme": "V/2"}}
    syn = layer("device", w, device="ideal", effects_off=NOISE_OFF, w_max=[0.2], device_overrides=over)
    gp0, gn0 = syn.conductances()
    rows = np.zeros((1, 4), np.float32)
    rows[0, 1] = 1
    cols = np.zeros((1, 5), np.float32)
    cols[0, 2] = 1
    syn.update(rows, cols, scale=0.02)  # pulses only at (1, 2)
    gp1, _ = syn.conductances()
    changed = np.abs(gp1 - gp0) > 1e-12
    expect = np.zeros((4, 5), bool)
    expect[1, :] = expect[:, 2] = True  # the selected device and its half-selected neighbours
    np.testing.assert_array_equal(changed, expect)
    assert gp1[1, 0] > gp0[1, 0]  # SET-polarity disturb raises G+ of the row neighbours


def test_drift_acts_between_programming_rounds():
    w = np.full((3, 3), 0.1, dtype=np.float32)
    over = {"drift": {"nu": 0.1, "t0_s": 1.0}}
    zeros = (np.zeros((1, 3), np.float32), np.zeros((1, 3), np.float32))
    weights = {}
    for off in ([], ["drift"]):
        syn = layer("device", w, device="ideal", effects_off=["c2c", "read_noise", "quantization"] + off,
                    w_max=[0.2], device_overrides=over, minibatch_s=10.0)
        for _ in range(3):
            syn.update(*zeros, 1.0)  # no pulses: only time passes
        weights[bool(off)] = float(syn.weights[0, 0])
    assert weights[True] == pytest.approx(0.1, rel=1e-6)  # drift switched off: unchanged
    assert weights[False] < 0.1  # G+ relaxes towards Gmin faster than G- (it sits higher)


def test_on_off_ratio_sets_gmin_from_gmax():
    syn = layer("device", np.zeros((2, 2), np.float32), device="taox_hfox", on_off_ratio=4.0)
    c = syn.params.conductance
    assert c.gmin_S == pytest.approx(c.gmax_S / 4.0)
    with pytest.raises(ConfigError, match="on_off_ratio must be > 1"):
        config_from_dict({"synapses": {"on_off_ratio": 0.5}})
