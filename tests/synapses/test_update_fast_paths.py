"""The device and circuit backends' incremental update paths against the plain computation:
the reread union against np.unique, the shared nonzero index of a pair's two pulse arrays, and
the circuit's error-bounded refresh kept up to date at the re-read pairs against recomputing it
over the whole layer at every update (the same matrices, statistics and predictions to the bit)."""
import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.experiments.train import build_network, load_data
from eqspike_xbar.synapses.circuit import CircuitSynapses
from eqspike_xbar.synapses.device import _same_nonzeros, _union


@pytest.mark.parametrize("sizes", [(0,), (3,), (5, 0, 7), (4000, 4000), (30000, 20000, 10)])
def test_union_equals_unique(sizes):
    rng = np.random.default_rng(sum(sizes))
    lists = [np.sort(rng.choice(100_000, k, replace=False)) for k in sizes]
    expected = np.unique(np.concatenate(lists))
    got = _union(lists, 100_000)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    assert _union([], 10).size == 0


def test_same_nonzeros():
    rng = np.random.default_rng(0)
    n = rng.integers(-2, 3, size=(30, 20)) * (rng.random((30, 20)) < 0.1)
    index = np.flatnonzero(n)
    assert _same_nonzeros(-n, index) is index
    moved = np.roll(-n, 1)  # as many nonzeros, elsewhere
    assert _same_nonzeros(moved, index) is None or np.array_equal(np.flatnonzero(moved), index)
    fewer = -n.copy()
    fewer.reshape(-1)[index[0]] = 0
    assert _same_nonzeros(fewer, index) is None
    assert _same_nonzeros(np.zeros(3, dtype=int), index) is None  # too small for the index
    assert _same_nonzeros(np.zeros_like(n), np.zeros(0, dtype=np.intp)).size == 0


def run(layout, batches=12):
    cfg = config_from_dict({"network": {"layers": [64, 96, 10]},
                            "synapses": {"backend": "circuit", "device": "taox_hfox", "w_max": [0.2, 0.4],
                                         "circuit": {"max_array_rows": 32, "max_array_cols": 32, "pair_layout": layout,
                                                     "spot_checks": 0, "energy_split_every": 5}}})
    cfg.synapses.circuit.refresh_tolerance = 1e-3
    ds, net, rng = load_data(cfg), build_network(cfg), np.random.default_rng(0)
    B = cfg.learning.batch_size
    for i in range(batches):
        net.train_batch(ds.train.x[i * B:(i + 1) * B], ds.train.y[i * B:(i + 1) * B], rng)
    return net


@pytest.mark.parametrize("layout", ["separate", "interleaved"])
def test_bounded_refresh_live_state_equals_full_recomputation(layout, monkeypatch):
    live = run(layout)
    plain = CircuitSynapses._reread

    def reread_all(self, idx):  # the pairs are re-read as before, but every update recomputes all
        plain(self, idx)
        self._changed = None

    monkeypatch.setattr(CircuitSynapses, "_reread", reread_all)
    full = run(layout)
    for a, b in zip(live.synapses, full.synapses):
        assert a.refreshes > 1 and a._bounded["predicted"]
        np.testing.assert_array_equal(a._Wf, b._Wf)
        np.testing.assert_array_equal(a._Wb, b._Wb)
        assert a.stats == b.stats
        assert a._bounded["predicted"] == b._bounded["predicted"]
        assert a._bounded["kappa"] == b._bounded["kappa"]
        for k in ("w_dev", "dw"):
            np.testing.assert_array_equal(a._bounded["live"][k], b._bounded["live"][k])
        np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(live.biases[0], full.biases[0])
