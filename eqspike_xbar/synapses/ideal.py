"""``ideal`` backend: float weights, exact matmul reads, exact updates.

Its read energy is the analytic estimate for the same weights mapped onto the configured
device (``synapses.device``, ``synapses.w_max``) as the device backend maps them, G± =
(Gmin + Gmax)/2 ± scale·w/2: then G+ + G− = Gmin + Gmax for every pair, and a read pulse on
a line dissipates V_read²·t·n·(Gmin + Gmax), whatever the weights.
"""
from __future__ import annotations

import numpy as np

from .base import SynapseLayer, event_outer, register_backend


@register_backend("ideal")
class IdealSynapses(SynapseLayer):
    def __init__(self, weights, config=None, rng=None, layer=0):
        super().__init__(weights, config, rng, layer)
        self.W = np.array(weights, copy=True)
        if config is not None and getattr(config, "device", None):
            p = config.device_params  # resolved once, when the config was built
            self.read_pulse_V = p.iv.v_read_V
            pair = p.conductance.gmin_S + p.conductance.gmax_S
            self._line_sums = (np.full(self.n_pre, pair * self.n_post), np.full(self.n_post, pair * self.n_pre))

    def _read_matrix(self, direction):
        return self.W if direction == "forward" else self.W.T

    def update(self, row_events, col_events, scale):
        self._count_update(row_events)
        index, block = event_outer(row_events, col_events)  # only the rows with events change
        block *= np.asarray(scale, dtype=self.W.dtype)
        if index is None:
            self.W += block
        else:
            self.W[index] += block

    @property
    def weights(self):
        return self.W

    def load_state_dict(self, state):
        self.W[...] = state["weights"]
