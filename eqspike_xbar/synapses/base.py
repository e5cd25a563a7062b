"""The one synapse interface the network talks to.

A *synapse layer* connects ``n_pre`` neurons (crossbar rows) to ``n_post`` neurons
(crossbar columns). EqSpike needs three operations on the same synapses:

* ``forward(pre)``  : (B, n_pre) -> (B, n_post), the drive of the post layer, ``pre @ W``
  (rows driven, columns sensed);
* ``backward(post)``: (B, n_post) -> (B, n_pre), the drive of the pre layer, ``post @ W.T``
  (columns driven, rows sensed);
* ``update(row_events, col_events, scale)``: a coincidence update. ``row_events`` (E, n_pre)
  and ``col_events`` (E, n_post) list E time slots; in each slot the devices at the
  intersection of an active row and an active column change by ``scale * row * col``:
  ΔW = scale * row_eventsᵀ @ col_events. In EqSpike one factor is a spike (0/1) and the
  other the (possibly ternarised) post update signal, so this is exactly where a device
  sees a pre pulse coinciding with a post pulse of one polarity.

Backends register themselves in :data:`BACKENDS` (``register_backend``) and are chosen by
``[synapses] backend = ...`` in the config; the network never branches on the backend.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

BACKENDS: dict[str, type["SynapseLayer"]] = {}


def register_backend(name: str):
    """Class decorator: make a SynapseLayer subclass selectable as ``backend = name``."""

    def deco(cls):
        BACKENDS[name] = cls
        cls.backend_name = name
        return cls

    return deco


class SynapseLayer(ABC):
    backend_name = "?"

    def __init__(self, weights: np.ndarray, config=None, rng: np.random.Generator | None = None):
        self.n_pre, self.n_post = weights.shape

    @abstractmethod
    def forward(self, pre: np.ndarray) -> np.ndarray:
        """(B, n_pre) -> (B, n_post): drive of the post neurons."""

    @abstractmethod
    def backward(self, post: np.ndarray) -> np.ndarray:
        """(B, n_post) -> (B, n_pre): drive of the pre neurons through the same synapses."""

    @abstractmethod
    def update(self, row_events: np.ndarray, col_events: np.ndarray, scale: float) -> None:
        """Coincidence update ΔW = scale * row_eventsᵀ @ col_events."""

    @property
    @abstractmethod
    def weights(self) -> np.ndarray:
        """The effective weight matrix (n_pre, n_post) in network units (for checkpoints and plots)."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays that fully describe the layer's state (saved in checkpoints)."""
        return {"weights": self.weights}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError


def make_synapse_layer(backend: str, weights: np.ndarray, config=None, rng=None) -> SynapseLayer:
    from ..errors import ConfigError

    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise ConfigError(f"synapse backend {backend!r} is unknown; available: {', '.join(sorted(BACKENDS))}") from None
    return cls(weights, config=config, rng=rng)
