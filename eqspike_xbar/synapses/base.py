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

Inputs are in units of the read pulse: a spike (1) is one read pulse of ``v_read_V`` on its
line, a rate x a pulse of x * v_read_V. Every layer counts what it is asked to do (vectors
read, per-line activity, update events) in ``self.counters``; the energy accounting
(:mod:`eqspike_xbar.energy`) turns the counts into joules.

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
    programmed = False
    """True for backends whose weights are devices moved by programming pulses: the update
    schemes ([synapses.update], synapses/schemes.py) apply to them."""
    linear_update = True
    """True when ``update`` depends only on the sum rowsᵀ·cols, so the network may merge time
    slots whose row events are identical; False when every slot is a physical coincidence."""

    def __init__(self, weights: np.ndarray, config=None, rng: np.random.Generator | None = None, layer: int = 0):
        self.n_pre, self.n_post = weights.shape
        self.layer = layer
        self.read_pulse_V = 0.0  # amplitude of one read pulse (V); set by backends that know a device
        self.read_pulse_s = getattr(config, "read_pulse_s", 1e-8)  # width of one read pulse (s)
        self._line_sums = None  # (row, column) sums of G+ + G- (S), set by backends with conductances
        self.reset_counters()

    # ------------------------------------------------------------------ counting
    def reset_counters(self) -> None:
        self.counters = {
            "vectors_forward": 0,  # input vectors read rows -> columns
            "vectors_backward": 0,  # input vectors read columns -> rows
            "activity_forward": np.zeros(self.n_pre),  # sum over reads of input^2 per row
            "activity_backward": np.zeros(self.n_post),  # the same per column
            "update_events": 0,  # time slots given to update()
            "updates": 0,  # update() calls (programming rounds)
            "pulses": 0,  # programming pulses (device/circuit)
            "programming_J": 0.0,  # programming energy (device/circuit)
            "device_read_J": 0.0,  # read energy dissipated in the devices (device/circuit)
            "wire_read_J": 0.0,  # read energy dissipated in wires/drivers/sense resistors (circuit)
            "digital_bit_accesses": 0.0,  # bits read or written in per-synapse digital memory (update scheme)
            "scheme_read_J": 0.0,  # device energy of the update scheme's own reads (program-and-verify)
            "scheme_line_reads": 0,  # sense conversions of those reads
        }
        self._pending = {"forward": np.zeros(self.n_pre), "backward": np.zeros(self.n_post)}

    def count_read(self, x: np.ndarray, direction: str, times: int = 1) -> None:
        """Count ``times`` reads of the input vectors ``x`` (B, lines) in ``direction`` (energy
        accounting); the network also calls it for reads it shares between phases or steps."""
        if times < 1:
            return
        c = self.counters
        c[f"vectors_{direction}"] += x.shape[0] * times
        act = np.einsum("bi,bi->i", x, x)
        if times != 1:
            act *= times
        c[f"activity_{direction}"] += act
        self._pending[direction] += act

    def line_conductance_sums(self):
        """(row sums, column sums) of G+ + G− (S) of the present state, or None when the backend
        has no conductances. Used for the device read energy V²·t·Σ G of every read pulse."""
        return self._line_sums

    def flush_read_energy(self) -> None:
        """Turn the line activity read since the last call into device read energy (J), with the
        conductances of the present state (called before every update and before reporting)."""
        sums = self.line_conductance_sums()
        if sums is not None:
            rows, cols = sums
            k = self.read_pulse_V**2 * self.read_pulse_s
            self._book_read_energy(k * float(self._pending["forward"] @ rows), k * float(self._pending["backward"] @ cols))
        self._pending = {"forward": np.zeros(self.n_pre), "backward": np.zeros(self.n_post)}

    def _book_read_energy(self, forward_J: float, backward_J: float) -> None:
        """Book the ideal read energy V²·t·ΣG of the reads since the last flush, per direction."""
        self.counters["device_read_J"] += forward_J + backward_J

    def _count_update(self, row_events: np.ndarray) -> None:
        self.counters["update_events"] += row_events.shape[0]
        self.counters["updates"] += 1

    # ------------------------------------------------------------------ interface
    def forward(self, pre: np.ndarray) -> np.ndarray:
        """(B, n_pre) -> (B, n_post): drive of the post neurons (counted, then ``pre @ M_f``)."""
        self.count_read(pre, "forward")
        return pre @ self._read_matrix("forward")

    def backward(self, post: np.ndarray) -> np.ndarray:
        """(B, n_post) -> (B, n_pre): drive of the pre neurons through the same synapses."""
        self.count_read(post, "backward")
        return post @ self._read_matrix("backward")

    @abstractmethod
    def _read_matrix(self, direction: str) -> np.ndarray:
        """The matrix a read multiplies by: (n_pre, n_post) forward, (n_post, n_pre) backward.
        Backends whose reads are not a matrix product override forward/backward instead."""

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

    def diagnostics(self) -> dict[str, float]:
        """Scalar figures worth logging per epoch (backend specific)."""
        return {}

    def aux_layers(self) -> list["SynapseLayer"]:
        """Extra arrays this layer's update scheme programs and reads (e.g. Tiki-Taka's A);
        their counters belong to the layer's energy."""
        return []


def make_synapse_layer(backend: str, weights: np.ndarray, config=None, rng=None, layer: int = 0) -> SynapseLayer:
    from ..errors import ConfigError

    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise ConfigError(f"synapse backend {backend!r} is unknown; available: {', '.join(sorted(BACKENDS))}") from None
    return cls(weights, config=config, rng=rng, layer=layer)
