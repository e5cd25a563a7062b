"""Small EqSpike networks and inputs shared by the tests of the relaxation paths (on the
pytest path through ``pythonpath`` in pyproject.toml; not a test module)."""
import numpy as np

from eqspike_xbar.config import config_from_dict
from eqspike_xbar.eqspike import EqSpikeNetwork


def make_net(layers, dtype="float64", seed=5, learning=None, network=None, synapses=None):
    cfg = config_from_dict({
        "network": {"layers": layers, "free_steps": 9, "nudged_steps": 4, "readout_steps": 3, "init_scale": 2.0,
                    **(network or {})},
        "learning": {"lr": [0.1] * (len(layers) - 1), **(learning or {})},
        **({"synapses": synapses} if synapses else {}),
    })
    return EqSpikeNetwork(cfg.network, cfg.learning, cfg.synapses, dtype=dtype, rng=np.random.default_rng(seed))


def images(rng, B, n, dtype):
    """B inputs of n lines: uniform in [0, 1) on about half the lines, 0 elsewhere."""
    return (rng.uniform(0, 1, (B, n)) * (rng.random((B, n)) < 0.5)).astype(dtype)
