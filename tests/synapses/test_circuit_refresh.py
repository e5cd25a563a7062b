"""Error-bounded refresh of the circuit backend's transfer matrices: on a small digits circuit
run, the matrices the reads use never differ from the exact ones by more than the tolerance."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.crossbar import transfer_matrices
from eqspike_xbar.experiments.train import build_network, load_data


def run(tol, batches=30, layout="separate"):
    cfg = config_from_dict({"network": {"layers": [64, 96, 10]},
                            "synapses": {"backend": "circuit", "device": "taox_hfox", "w_max": [0.2, 0.4],
                                         "circuit": {"max_array_rows": 32, "max_array_cols": 32, "pair_layout": layout,
                                                     "spot_checks": 0, "energy_split_every": 5}}})
    cfg.synapses.circuit.refresh_tolerance = tol  # [synapses.circuit] refresh_tolerance
    ds, net, rng = load_data(cfg), build_network(cfg), np.random.default_rng(0)
    B, worst = cfg.learning.batch_size, 0.0
    for i in range(batches):
        net.train_batch(ds.train.x[i * B:(i + 1) * B], ds.train.y[i * B:(i + 1) * B], rng)
        for syn in net.synapses:  # exact matrices of the state the next reads use
            exact = syn._weights(transfer_matrices([syn._tiles(g) for g in syn._arrays()], "forward"))
            worst = max(worst, float(np.linalg.norm(syn._Wf - exact) / np.linalg.norm(exact)))
    return net, worst


@pytest.mark.parametrize("tol,layout", [(3e-4, "separate"), (1e-3, "interleaved")])
def test_bounded_refresh_keeps_the_stale_error_within_tolerance(tol, layout):
    net, worst = run(tol, layout=layout)
    assert worst <= tol
    d = [syn.diagnostics() for syn in net.synapses]
    assert all(x["refreshes"] > 1 for x in d)  # it did refresh after the first exact matrices ...
    assert min(x["tiles_refreshed_share"] for x in d) < 1.0  # ... but not every tile every time
    assert all(0 < x["stale_error_max"] < 3 * tol for x in d)  # measured at the refreshes, reported
    assert all(x["stale_error_predicted_max"] <= tol for x in d)


def test_bounded_refresh_resumes_identically():
    net, _ = run(1e-3, batches=6)
    state = net.state_dict()
    syn = net.synapses[1]
    other, _ = run(1e-3, batches=1)
    other.load_state_dict(state)
    s2 = other.synapses[1]
    np.testing.assert_array_equal(s2._Wf, syn._Wf)
    assert s2._bounded["kappa"] == syn._bounded["kappa"]
    for a, b in zip(s2._bounded["t_ref"]["forward"], syn._bounded["t_ref"]["forward"]):
        np.testing.assert_array_equal(a, b)
