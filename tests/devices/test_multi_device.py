"""Several device pairs per weight (synapses.devices_per_weight): a compound device whose pulses
move it 1/n as far and whose C2C noise, for the same change of the weight, is 1/√n as large."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.devices import DeviceArray, Effects, load_device
from eqspike_xbar.errors import ConfigError
from eqspike_xbar.synapses import make_synapse_layer
from eqspike_xbar.synapses.schemes import hardware_summary


def _relative_change(params, pulses, n_devices=20000, seed=0):
    """(G after `pulses` SET pulses − G at mid-range) / (Gmax − Gmin), one value per device."""
    arr = DeviceArray(params, (n_devices,), seed=seed, effects=Effects().only("c2c"))
    c = params.conductance
    g0 = 0.5 * (c.gmin_S + c.gmax_S)
    arr.set_conductance(np.full(n_devices, g0))
    arr.apply_pulses(np.full(n_devices, pulses))
    return (arr.conductance() - g0) / (c.gmax_S - c.gmin_S)


@pytest.mark.parametrize("n", [4, 9])
def test_n_devices_in_parallel_move_as_far_with_n_times_the_pulses_and_one_over_sqrt_n_the_noise(n):
    single = load_device("taox_hfox")
    compound = single.parallel(n)
    one = _relative_change(single, 10)
    many = _relative_change(compound, 10 * n)
    assert many.mean() == pytest.approx(one.mean(), rel=0.02)  # the same weight change
    assert many.std() == pytest.approx(one.std() / np.sqrt(n), rel=0.05)  # SNR grows as √n
    c1, cn = single.conductance, compound.conductance
    assert (cn.gmin_S, cn.gmax_S, cn.levels) == pytest.approx((n * c1.gmin_S, n * c1.gmax_S, n * c1.levels))
    assert single.parallel(1) is single


def test_a_compound_matches_n_separate_devices_pulsed_in_turn():
    """The reference: n devices of their own, k pulses each (n·k pulses in turn), summed; against
    the compound taking the n·k pulses: the same mean change, spread and programming energy."""
    n, k, m = 4, 12, 20000
    single = load_device("gong2018_hfo2")  # C2C and read noise both > 0
    c = single.conductance
    g0 = 0.5 * (c.gmin_S + c.gmax_S)
    sep = DeviceArray(single, (m, n), seed=1, effects=Effects().only("c2c"))
    sep.set_conductance(np.full((m, n), g0))
    e_sep = sep.apply_pulses(np.full((m, n), k))
    d_sep = sep.conductance().sum(1) - n * g0
    comp = DeviceArray(single.parallel(n), (m,), seed=2, effects=Effects().only("c2c"))
    comp.set_conductance(np.full(m, n * g0))
    e_comp = comp.apply_pulses(np.full(m, n * k))
    d_comp = comp.conductance() - n * g0
    se = np.hypot(d_comp.std(), d_sep.std()) / np.sqrt(m)  # the noise is ~5x the mean step here
    assert abs(d_comp.mean() - d_sep.mean()) < 4 * se
    assert d_comp.std() == pytest.approx(d_sep.std(), rel=0.06)
    assert e_comp == pytest.approx(e_sep, rel=0.02)  # a pulse reaches one device, not n
    # read noise of a sum of n independent reads: relative σ/√n
    reads = DeviceArray(single.parallel(n), (m,), seed=3, effects=Effects().only("read_noise"))
    reads.set_conductance(np.full(m, n * g0))
    assert reads.read().std() / (n * g0) == pytest.approx(single.noise.read_sigma / np.sqrt(n), rel=0.05)


def test_devices_per_weight_is_counted_as_extra_devices():
    cfg = config_from_dict({"synapses": {"backend": "device", "device": "taox_hfox", "w_max": [0.2],
                                         "devices_per_weight": 3, "update": {"scheme": "mixed_precision"}}})
    assert cfg.synapses.device_params.conductance.levels == 3 * load_device("taox_hfox").conductance.levels
    syn = make_synapse_layer("device", np.zeros((4, 3), np.float32), config=cfg.synapses,
                             rng=np.random.default_rng(0), layer=0)
    summary = hardware_summary([syn])
    assert summary["devices_per_weight"] == 3 and summary["extra_devices_per_synapse"] == 4
    # Tiki-Taka's A is one pair per weight, whatever the weight has: 2 + 4 extra devices
    tt = config_from_dict({"learning": {"post_factor": "ternary"},
                           "synapses": {"backend": "device", "device": "taox_hfox", "w_max": [0.2],
                                        "devices_per_weight": 3, "update": {"scheme": "tiki_taka"}}})
    syn = make_synapse_layer("device", np.zeros((4, 3), np.float32), config=tt.synapses,
                             rng=np.random.default_rng(0), layer=0)
    assert syn.scheme.A.params.parallel_devices == 1 and syn.params.parallel_devices == 3
    assert hardware_summary([syn])["extra_devices_per_synapse"] == 2 + 4
    # the 'auto' threshold is the same number of (compound) pulse steps: σ/n per pulse, n× the levels
    single = config_from_dict({"synapses": {"backend": "device", "device": "taox_hfox",
                                            "update": {"scheme": "mixed_precision", "threshold": "auto"}}})
    many = config_from_dict({"synapses": {"backend": "device", "device": "taox_hfox", "devices_per_weight": 3,
                                          "update": {"scheme": "mixed_precision", "threshold": "auto"}}})
    from eqspike_xbar.synapses.schemes import threshold_steps

    assert threshold_steps(many.synapses) == threshold_steps(single.synapses)


@pytest.mark.parametrize("over, message", [
    ({"devices_per_weight": 0}, "synapses.devices_per_weight must be an integer in [1, 64], got 0"),
    ({"devices_per_weight": 2, "backend": "circuit"}, "is modelled at 'device' fidelity only"),
])
def test_devices_per_weight_bad_input(over, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        config_from_dict({"synapses": {"backend": "device", "device": "taox_hfox", **over}})
