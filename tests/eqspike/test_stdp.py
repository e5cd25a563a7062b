"""The STDP curve measured from the learning rule (pairing protocol)."""
import numpy as np

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.experiments.stdp import measure_stdp


def test_pre_before_post_potentiates_pre_after_post_depresses():
    ds = measure_stdp(config_from_dict({}), window=12, width=4, amplitude=0.3)
    assert ds.attrs["pairings_dropped"] == 0  # every pairing fired exactly one spike per neuron
    dt = ds.delta_t.values
    a = ds.dw_pre_post.values
    # pre spike while the post state rises (post fires 1..4 steps later): potentiation
    assert (a[(dt >= 1) & (dt <= 4)] > 0).all()
    # pre spike at or after the post spike, while the post state decays: depression fading with |dt|
    late = a[(dt <= 0) & (dt >= -8)]
    assert (late < 0).all()
    assert np.all(np.diff(np.abs(late)) > 0)  # |dw| grows towards dt = 0
    # pre spike before the post neuron's input even starts: no change at all
    assert np.abs(a[dt >= 6]).max() == 0.0
    # the shared-weight rule is symmetric under swapping pre and post
    tot = dict(zip(dt, ds.dw_total.values))
    for d in dt:
        if -d in tot:
            assert np.isclose(tot[d], tot[-d], atol=1e-12)


def test_ternary_post_factor_gives_quantised_steps():
    cfg = config_from_dict({"learning": {"post_factor": "ternary", "ternary_threshold": 0.01, "ternary_scale": 0.05}})
    ds = measure_stdp(cfg)
    vals = np.unique(np.round(ds.dw_pre_post.values / 0.05, 9))
    assert set(vals) <= {-1.0, 0.0, 1.0}
