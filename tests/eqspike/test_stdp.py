"""The STDP curve measured from the learning rule (pairing protocol)."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.experiments.stdp import measure_stdp


@pytest.mark.parametrize("pairing, shift", [("causal", 0), ("same_step", 1)])
def test_pre_before_post_potentiates_pre_after_post_depresses(pairing, shift):
    """Same-step pairing sees the post change one step later than causal pairing."""
    ds = measure_stdp(config_from_dict({"learning": {"pairing": pairing}}), window=12, width=4, amplitude=0.3)
    assert ds.attrs["pairing"] == pairing
    assert ds.attrs["pairings_dropped"] == 0  # every pairing fired exactly one spike per neuron
    dt = ds.delta_t.values
    a = ds.dw_pre_post.values
    # pre spike while the post state rises (post fires a few steps later): potentiation
    assert (a[(dt >= shift) & (dt <= 3 + shift)] > 0).all()
    # pre spike after the post spike, while the post state decays: depression fading with |dt|
    late = a[(dt <= shift - 1) & (dt >= -8)]
    assert (late < 0).all()
    assert np.all(np.diff(np.abs(late)) > 0)  # |dw| grows towards dt = 0
    # pre spike before the post neuron's input even starts: no change at all
    assert np.abs(a[dt >= 6]).max() == 0.0
    # the shared-weight rule is symmetric under swapping pre and post
    tot = dict(zip(dt, ds.dw_total.values))
    for d in dt:
        if -d in tot:
            assert np.isclose(tot[d], tot[-d], atol=1e-12)


def test_impossible_protocol_is_an_error():
    from eqspike_xbar.errors import ConfigError

    with pytest.raises(ConfigError, match="phase"):
        measure_stdp(config_from_dict({}), phase=1.5)
    with pytest.raises(ConfigError, match="no pairing fired exactly one spike"):
        measure_stdp(config_from_dict({}), amplitude=0.05)


def test_ternary_post_factor_gives_quantised_steps():
    cfg = config_from_dict({"learning": {"post_factor": "ternary", "ternary_threshold": 0.01, "ternary_scale": 0.05}})
    ds = measure_stdp(cfg)
    vals = np.unique(np.round(ds.dw_pre_post.values / 0.05, 9))
    assert set(vals) <= {-1.0, 0.0, 1.0}
