"""``ideal`` backend: float weights, exact matmul reads, exact updates."""
from __future__ import annotations

import numpy as np

from .base import SynapseLayer, register_backend


@register_backend("ideal")
class IdealSynapses(SynapseLayer):
    def __init__(self, weights, config=None, rng=None):
        super().__init__(weights, config, rng)
        self.W = np.array(weights, copy=True)

    def forward(self, pre):
        return pre @ self.W

    def backward(self, post):
        return post @ self.W.T

    def update(self, row_events, col_events, scale):
        self.W += np.asarray(scale, dtype=self.W.dtype) * (row_events.T @ col_events)

    @property
    def weights(self):
        return self.W

    def load_state_dict(self, state):
        self.W[...] = state["weights"]
