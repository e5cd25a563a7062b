"""Update schemes: what each one programs, what it stores, what it costs, and that it learns."""
import numpy as np
import pytest

from eqspike_xbar.cli import main
from eqspike_xbar.config import config_from_dict
from eqspike_xbar.errors import ConfigError
from eqspike_xbar.experiments.train import Trainer
from eqspike_xbar.synapses import make_synapse_layer
from eqspike_xbar.synapses.schemes import SCHEMES, coincidence_counts, hardware_summary

NOISE_OFF = ["c2c", "d2d", "read_noise", "quantization", "stuck", "drift"]
TERNARY = {"post_factor": "ternary", "ternary_threshold": 0.01}


def layer(shape, update, backend="device", **over):
    cfg = config_from_dict({"learning": TERNARY,
                            "synapses": {"backend": backend, "device": "ideal", "effects_off": NOISE_OFF,
                                         "w_max": [0.2], "update": update, **over}}).synapses
    return make_synapse_layer(backend, np.zeros(shape, np.float32), config=cfg, rng=np.random.default_rng(3), layer=0)


def ternary_events(rng, e, m, n, p=0.3):
    rows = (rng.random((e, m)) < p).astype(np.float32)
    cols = (np.sign(rng.normal(size=(e, n))) * (rng.random((e, n)) < p)).astype(np.float32)
    return rows, cols


def test_coincidence_counts_match_a_slot_by_slot_count():
    rng = np.random.default_rng(0)
    rows = np.sign(rng.normal(size=(9, 5))) * (rng.random((9, 5)) < 0.5)
    cols = np.sign(rng.normal(size=(9, 4))) * (rng.random((9, 4)) < 0.5)
    plus, minus = np.zeros((5, 4), int), np.zeros((5, 4), int)
    for e in range(9):
        for i in range(5):
            for j in range(4):
                p = rows[e, i] * cols[e, j]
                plus[i, j] += p > 0
                minus[i, j] += p < 0
    got = coincidence_counts(rows.astype(np.float32), cols.astype(np.float32))
    np.testing.assert_array_equal(got[0], plus)
    np.testing.assert_array_equal(got[1], minus)


@pytest.mark.parametrize("polarity", ["pair", "single"])
def test_coincidence_fires_one_pulse_per_coincidence_and_stores_nothing(polarity):
    rng = np.random.default_rng(1)
    syn = layer((12, 7), {"scheme": "coincidence", "pulse_train": "deterministic", "polarity": polarity})
    rows, cols = ternary_events(rng, 30, 12, 7)
    plus, minus = coincidence_counts(rows, cols)
    g0 = [g.copy() for g in syn.conductances()]
    syn.update(rows, cols, scale=0.01)
    dgp, dgn = (g - g_0 for g, g_0 in zip(syn.conductances(), g0))
    step = syn.dw_pulse * syn.s_per_weight  # S per pulse of the linear ideal device
    if polarity == "pair":  # + coincidence: SET G+ and RESET G-; - coincidence: the opposite
        np.testing.assert_allclose(dgp, (plus - minus) * step, atol=1e-6 * step)
        np.testing.assert_allclose(dgn, (minus - plus) * step, atol=1e-6 * step)
        assert syn.counters["pulses"] == 2 * (plus.sum() + minus.sum())
    else:  # + coincidence: SET G+; - coincidence: SET G-
        np.testing.assert_allclose(dgp, plus * step, atol=1e-6 * step)
        np.testing.assert_allclose(dgn, minus * step, atol=1e-6 * step)
        assert syn.counters["pulses"] == plus.sum() + minus.sum()
    # nothing per synapse is carried between minibatches, and no digital memory is used
    assert syn.scheme.state_dict() == {} and syn.scheme.bits_per_synapse == 0
    assert syn.counters["digital_bit_accesses"] == 0


def test_coincidence_stochastic_pulse_trains_fire_at_the_wished_rate():
    rng = np.random.default_rng(2)
    syn = layer((40, 30), {"scheme": "coincidence"})
    rows, cols = ternary_events(rng, 50, 40, 30, p=0.5)
    plus, minus = coincidence_counts(rows, cols)
    wish = 0.25 * syn.pair_step  # each coincidence asks for a quarter of a pulse step
    syn.update(rows, cols, scale=wish)
    expected = 0.25 * 2 * (plus.sum() + minus.sum())
    assert abs(syn.counters["pulses"] - expected) < 5 * np.sqrt(expected)
    np.testing.assert_allclose(syn.weights.sum(), wish * (plus - minus).sum(), rtol=0.1)


def test_coincidence_refuses_analog_events():
    syn = layer((4, 3), {"scheme": "coincidence"})
    with pytest.raises(ConfigError, match="ternary"):
        syn.update(np.ones((2, 4), np.float32), np.full((2, 3), 0.3, np.float32), 0.01)


@pytest.mark.parametrize("bits", [0, 6])
def test_mixed_precision_loses_nothing(bits):
    """Ideal linear device: what was applied plus what the accumulator holds is what was wished."""
    rng = np.random.default_rng(4)
    syn = layer((20, 9), {"scheme": "mixed_precision", "threshold": 1.0, "accumulator_bits": bits,
                          "accumulator_range": 64.0})
    wished = np.zeros((20, 9))
    for _ in range(25):
        rows = (rng.random((6, 20)) < 0.4).astype(np.float32)
        cols = rng.normal(0, 1, (6, 9)).astype(np.float32)
        syn.update(rows, cols, scale=3e-4)
        wished += 3e-4 * rows.T.astype(float) @ cols
    held = syn.scheme.chi.value * syn.pair_step
    tol = 1e-5 if bits == 0 else 25 * syn.scheme.chi.lsb * syn.pair_step  # stochastic LSB rounding
    np.testing.assert_allclose(syn.weights + held, wished, atol=tol)
    assert syn.counters["pulses"] > 0 and syn.counters["digital_bit_accesses"] > 0
    # analog events: a b-bit χ needs a float register to sum the minibatch exactly first
    assert syn.scheme.bits_per_synapse == (bits + 32 if bits else 32)
    if bits:  # the fixed-point store never leaves its range
        assert np.abs(syn.scheme.chi.q).max() <= 2 ** (bits - 1)


def test_fixed_point_event_rounding_is_unbiased_and_rounds_every_event():
    from eqspike_xbar.synapses.schemes import FixedPoint

    acc = FixedPoint((4000,), bits=8, value_range=1000.0, rng=np.random.default_rng(5))  # LSB 7.8 steps
    n_plus, n_minus = np.full(4000, 30), np.full(4000, 10)
    acc.add_events(n_plus, n_minus, step=0.5)  # 20 net events of 0.5 steps: 10 steps, 1.28 LSB
    assert abs(acc.value.mean() - 10.0) < 0.1 * acc.lsb
    # each of the 40 events is rounded on its own: variance 40·p(1−p) LSB², not the net's 0.28·0.72
    p = 0.5 / acc.lsb
    assert np.var(acc.q) == pytest.approx(40 * p * (1 - p), rel=0.1)


@pytest.mark.parametrize("bits, theta", [(4, 4.0), (2, 1.0), (6, 3.0), (4, 61.0), (4, 115.0), (5, 123.0)])
def test_accumulator_range_threshold_puts_the_largest_code_at_theta(bits, theta):
    """'threshold': the largest code of a b-bit χ is θ, so a full χ fires and the LSB is
    θ/(2^(b−1) − 1) (4 bits: θ/7); ever more increments saturate exactly at θ."""
    syn = layer((5, 3), {"scheme": "mixed_precision", "threshold": theta, "accumulator_bits": bits,
                         "accumulator_range": "threshold", "accumulator_rounding": "event"})
    chi = syn.scheme.chi
    assert chi.lsb == pytest.approx(theta / (2 ** (bits - 1) - 1), rel=1e-12)
    chi.add(np.full((5, 3), 10 * theta))
    assert np.all(chi.value >= theta) and np.allclose(chi.value, theta, rtol=1e-12)  # a full χ reaches θ
    assert np.all(syn.scheme.chi.take_whole(theta) == int(theta))  # and a full χ fires its θ steps


@pytest.mark.parametrize("rounding", ["minibatch", "event"])
def test_mixed_precision_fixed_point_counts_what_its_rounding_needs(rounding):
    """A b-bit χ: 'event' rounds every coincidence on its own and needs b bits; 'minibatch' sums
    the minibatch's coincidences in a register first, and that register is counted."""
    rng = np.random.default_rng(6)
    syn = layer((20, 9), {"scheme": "mixed_precision", "threshold": 1.0, "accumulator_bits": 6,
                          "accumulator_range": 64.0, "accumulator_rounding": rounding})
    wished = np.zeros((20, 9))
    for _ in range(25):
        rows, cols = ternary_events(rng, 12, 20, 9, p=0.4)
        syn.update(rows, cols, scale=0.02 * syn.pair_step)
        wished += 0.02 * syn.pair_step * rows.T.astype(float) @ cols
    held = syn.scheme.chi.value * syn.pair_step
    err = syn.weights + held - wished
    assert abs(err.mean()) < 0.2 * syn.scheme.chi.lsb * syn.pair_step  # unbiased
    assert syn.scheme.linear == (rounding == "minibatch")
    # 12 slots of events of +-1: a signed register of ceil(log2(13)) + 1 = 5 bits
    assert syn.scheme.bits_per_synapse == (6 + 5 if rounding == "minibatch" else 6)
    assert hardware_summary([syn])["bits_per_synapse"] == syn.scheme.bits_per_synapse


def test_mixed_precision_fires_only_past_the_threshold_and_verify_reads_are_counted():
    syn = layer((3, 2), {"scheme": "mixed_precision", "threshold": 4.0, "verify": True})
    rows, cols = np.array([[1, 0, 0]], np.float32), np.array([[1, 0]], np.float32)
    for k in range(3):  # 3 x 1.2 steps: below the threshold of 4, nothing fires
        syn.update(rows, cols, scale=1.2 * syn.pair_step)
    assert syn.counters["pulses"] == 0 and np.all(syn.weights == 0)
    syn.update(rows, cols, scale=1.2 * syn.pair_step)  # 4.8 steps: 4 fire, 0.8 stay
    np.testing.assert_allclose(syn.weights[0, 0], 4 * syn.pair_step, rtol=1e-6)
    assert syn.scheme.chi.value[0, 0] == pytest.approx(0.8, abs=1e-5)
    assert syn.counters["scheme_line_reads"] == 2 * 2  # both devices of the pair, before and after
    assert syn.counters["scheme_read_J"] > 0


@pytest.mark.parametrize("device, theta", [("taox_hfox", 4), ("ag_asi", 3), ("alox_hfo2", 2), ("epiram", 1),
                                           ("hzo_fefet", 1), ("vteam_array", 1), ("gong2018_hfo2", 24)])
def test_auto_threshold_is_one_pulse_pairs_c2c_noise_in_pair_steps(device, theta):
    # 'auto' = ceil(σ of a pulse pair's C2C change / pair step); check it against the σ measured
    # by firing one pulse pair on many mid-range pairs of the device (C2C alone switched on)
    syn = layer((200, 100), {"scheme": "mixed_precision", "threshold": "auto"}, device=device,
                effects_off=["d2d", "read_noise", "quantization", "stuck", "drift"])
    assert syn.scheme.threshold == theta
    ones = np.ones((200, 100), np.int64)
    w0 = syn.read_pairs().copy()
    syn.program([(ones, -ones)])
    steps = ((syn.read_pairs() - w0) / syn.pair_step).ravel()
    sigma = steps.std()
    assert max(1, np.ceil(sigma * 0.93)) <= theta <= max(1, np.ceil(sigma * 1.07)), sigma
    off = layer((2, 2), {"scheme": "mixed_precision", "threshold": "auto"}, device=device, effects_off=["c2c"])
    assert off.scheme.threshold == 1
    # what a run records (metrics attrs, report): the threshold as used; none for a scheme without one
    assert hardware_summary([syn])["threshold_steps"] == theta
    assert hardware_summary([layer((2, 2), {"scheme": "minibatch_sum"}, device=device)])["threshold_steps"] == 0


@pytest.mark.parametrize("buffer", ["digital", "none"])
def test_tiki_taka_transfers_what_was_accumulated_through_counted_reads(buffer):
    """Symmetric noiseless device: after every column was transferred, the weights equal the
    accumulated wish within one pulse step, and each transfer read a column of A; what is not
    transferred stays in H (digital buffer) or in A (no buffer)."""
    rng = np.random.default_rng(5)
    m, n = 10, 6
    syn = layer((m, n), {"scheme": "tiki_taka", "pulse_train": "deterministic", "transfer_every": 1,
                         "transfer_columns": n, "buffer": buffer, "threshold": 1.0})
    rows, cols = ternary_events(rng, 20, m, n, p=0.4)
    plus, minus = coincidence_counts(rows, cols)
    A = syn.scheme.A
    syn.update(rows, cols, scale=A.pair_step)  # deterministic: one A step per coincidence
    wished = (plus - minus) * A.pair_step
    assert A.counters["vectors_backward"] == n  # one backward read of A per transferred column
    assert np.abs(syn.weights - wished).max() <= syn.pair_step * (1 + 1e-6)
    held = syn.scheme.H.value * syn.pair_step if buffer == "digital" else 0.0
    np.testing.assert_allclose(syn.weights + held + A.weights, wished, atol=1e-6)
    assert syn.scheme.extra_devices_per_synapse == 2
    assert syn.scheme.bits_per_synapse == (32 if buffer == "digital" else 0)


def test_tiki_taka_reads_its_auxiliary_array_through_the_circuit():
    syn = layer((8, 5), {"scheme": "tiki_taka"}, backend="circuit",
                circuit={"r_wordline_ohm": 2.0, "r_bitline_ohm": 2.0, "spot_checks": 0})
    assert type(syn.scheme.A) is type(syn)  # A sits in crossbar circuits too: IR drop on its reads
    assert syn.aux_layers() == [syn.scheme.A]


_IDEAL_RUNS = {}  # (learning, seed) -> the ideal run's accuracy, shared by the schemes that learn alike


def _digits_accuracy(tmp_path, backend, learning, update, seed, monkeypatch=None):
    """Test accuracy on digits averaged over the last 3 of the run's epochs (one epoch's figure
    moves by ±3 points from epoch to epoch: spike trains amplify float rounding). The float
    weights (``ideal``) are bounded as the device's are: clipped to the default ±w_max (0.2 for
    W1, 0.3 for W2) after every update."""
    key = (repr(sorted(learning.items())), seed)
    if backend == "ideal" and key in _IDEAL_RUNS:
        return _IDEAL_RUNS[key]
    if backend == "ideal":
        from eqspike_xbar.synapses.ideal import IdealSynapses

        unbounded = IdealSynapses.update

        def bounded(self, rows, cols, scale):
            unbounded(self, rows, cols, scale)
            bound = 0.2 if self.layer == 0 else 0.3
            np.clip(self.W, -bound, bound, out=self.W)

        monkeypatch.setattr(IdealSynapses, "update", bounded)
    cfg = config_from_dict({"run": {"seed": seed}, "network": {"layers": [64, 256, 10]}, "learning": learning,
                            "synapses": {"backend": backend, "device": "ideal", "effects_off": NOISE_OFF,
                                         **({"update": update} if backend == "device" else {})}})
    acc = float(Trainer(cfg, tmp_path / f"{backend}{seed}", progress=False).run().test_accuracy[-3:].mean())
    if backend == "ideal":
        _IDEAL_RUNS[key] = acc
    return acc


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_each_scheme_with_an_ideal_linear_device_tracks_ideal(tmp_path, monkeypatch, scheme):
    """Every effect off, 1024 levels: within 1 point of float weights with the device's bounds on
    digits (the mean of seeds 0 and 1, each the mean of its last 3 epochs). The coincidence
    schemes learn with the ternary rule on both sides, one pulse pair per coincidence; the others
    with the analog rule."""
    learning = {"epochs": 5, "lr": [0.1, 0.05]}
    update = {"scheme": scheme}
    if SCHEMES[scheme].needs_ternary_events:
        # one pulse pair per coincidence sets the device's rate, so the float rule's step per
        # coincidence, lr * ternary_scale / (B * beta * 2), is each layer's pulse pair step:
        # 2 w_max / 1024 = 3.906e-4 (W1, w_max 0.2) and 5.859e-4 (W2, w_max 0.3), i.e. lr 0.1 and
        # 0.15. With lr 0.05 for W2 the device learned W2 3x faster than the float rule and came
        # out 1.2-1.6 points above it; bounds and rate matched: 92.46 vs 92.69 % on seeds 0-3.
        learning.update(TERNARY, ternary_scale=2 * 20 * 0.390625e-3 / 0.1 * 1.0, lr=[0.1, 0.15])
        update.update(pulse_train="deterministic", transfer_columns=256)
    acc = {b: np.mean([_digits_accuracy(tmp_path, b, learning, update, s, monkeypatch) for s in (0, 1)])
           for b in ("ideal", "device")}
    assert acc["ideal"] > 0.85, acc
    # measured here: coincidence +0.37, minibatch_sum -0.05, mixed_precision -0.23, tiki_taka +0.84
    # points; tiki_taka, whose updates reach W only through its auxiliary array A, gets 1.5
    tolerance = 0.015 if scheme == "tiki_taka" else 0.01
    assert abs(acc["device"] - acc["ideal"]) <= tolerance, acc


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_resume_is_identical_for_every_scheme(tmp_path, scheme):
    base = {"data": {"train_limit": 100}, "network": {"layers": [64, 20, 10], "free_steps": 12},
            "synapses": {"backend": "device", "device": "taox_hfox",
                         "update": {"scheme": scheme, "accumulator_bits": 4, "chopper_every": 1}}}
    if SCHEMES[scheme].needs_ternary_events:
        base["learning"] = dict(TERNARY, ternary_scale=0.05)

    def cfg(epochs):
        return config_from_dict({**base, "learning": {**base.get("learning", {}), "epochs": epochs}})

    ds_full = Trainer(cfg(2), tmp_path / "a", progress=False).run()
    Trainer(cfg(1), tmp_path / "b", progress=False).run()
    resumed = Trainer(cfg(2), tmp_path / "b", progress=False)
    resumed.load_checkpoint()
    ds_res = resumed.run()
    for name in ds_full.data_vars:
        if name not in ("epoch_time_s", "eval_time_s"):
            np.testing.assert_array_equal(ds_res[name].values, ds_full[name].values, err_msg=name)


def test_fixed_point_fires_what_it_was_given_when_the_lsb_does_not_divide_a_step():
    from eqspike_xbar.synapses.schemes import FixedPoint

    acc = FixedPoint((200,), bits=3, value_range=3.0, rng=np.random.default_rng(0))  # LSB 0.75 steps
    fired = 0
    for _ in range(50):
        acc.add(np.full(200, 0.1))
        fired += int(acc.take_whole(1.0).sum())
    held = float(acc.value.sum())
    assert abs(fired + held - 50 * 200 * 0.1) < 0.05 * 1000  # unbiased: 1000 steps wished, fired or held


@pytest.mark.parametrize("sets, message", [
    (['synapses.update.scheme="magic"'], "synapses.update.scheme 'magic' is unknown; available: coincidence"),
    (['synapses.update.scheme="mixed_precision"'], "needs programmed devices"),  # on the ideal backend
    (['synapses.backend="device"', 'synapses.update.scheme="mixed_precision"', "synapses.update.accumulator_bits=4",
      'synapses.update.accumulator_rounding="event"'], "accumulator_rounding = 'event' adds every coincidence"),
    (['synapses.backend="device"', 'synapses.update.scheme="mixed_precision"',
      'synapses.update.accumulator_rounding="often"'], "accumulator_rounding = 'often' is not one of"),
    (['synapses.backend="device"', 'synapses.update.scheme="minibatch_sum"',
      'synapses.update.accumulator_rounding="event"'],
     "synapses.update.accumulator_rounding is an option of the 'mixed_precision' scheme, not of 'minibatch_sum'"),
    (['synapses.backend="device"', 'synapses.update.scheme="mixed_precision"', "synapses.update.threshold=0"],
     "synapses.update.threshold must be >= 1 pulse step (whole steps fire) or 'auto', got 0"),
    (['synapses.backend="device"', 'synapses.update.scheme="minibatch_sum"', 'synapses.update.verify="bounded"'],
     "synapses.update.verify is an option of the 'mixed_precision' scheme, not of 'minibatch_sum'"),
    (['synapses.backend="device"', 'synapses.update.scheme="mixed_precision"', 'synapses.update.threshold="often"'],
     "synapses.update.threshold must be a finite number or one of 'auto', got 'often'"),
    (['synapses.backend="device"', 'synapses.device="taox_hfox"', 'synapses.update.scheme="mixed_precision"',
      'synapses.update.threshold="auto"', "synapses.update.accumulator_bits=4", "synapses.update.accumulator_range=3"],
     "('auto': 4 pulse steps on taox_hfox)"),
    (['synapses.backend="device"', 'synapses.update.scheme="tiki_taka"', "synapses.update.transfer_every=0"],
     "synapses.update.transfer_every must be >= 1"),
    (['synapses.backend="device"', 'synapses.update.scheme="tiki_taka"', 'learning.post_factor="ternary"',
      'synapses.update.a_device="unobtainium"'], "synapses.update.a_device: unknown device 'unobtainium'"),
    (['synapses.backend="device"', 'synapses.update.scheme="coincidence"'], "learning.post_factor = 'ternary'"),
    (['synapses.backend="device"', 'synapses.update.scheme="mixed_precision"', "synapses.update.threshold=0.5"],
     "synapses.update.threshold must be >= 1 pulse step"),
    (['synapses.backend="device"', 'synapses.update.scheme="mixed_precision"', "synapses.update.accumulator_bits=4",
      "synapses.update.accumulator_range=0.5"], "must exceed the threshold"),
    (['synapses.backend="device"', 'synapses.update.scheme="mixed_precision"', "synapses.update.accumulator_bits=4",
      'synapses.update.accumulator_range="theta"'], "synapses.update.accumulator_range must be a finite number or one of 'threshold', got 'theta'"),
])
def test_bad_scheme_input_is_one_line_and_writes_nothing(tmp_path, capsys, sets, message):
    args = ["train", "--runs-dir", str(tmp_path / "runs")]
    for s in sets:
        args += ["--set", s]
    code = main(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert message in err[0], err[0]
    assert not (tmp_path / "runs").exists()
