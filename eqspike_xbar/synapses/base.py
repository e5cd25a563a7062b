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

Event-driven reads and updates: spikes are binary and sparse, so a read is computed from the
active lines only (a row of the result is the sum of the rows of the read matrix at the lines
that spiked, :func:`event_matmul`) and an update touches only the rows with events
(:func:`event_outer`). Both equal the dense products to float rounding; the counted activity
is that of the whole input, as before.

Backends register themselves in :data:`BACKENDS` (``register_backend``) and are chosen by
``[synapses] backend = ...`` in the config; the network never branches on the backend.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from ..threads import one_blas_thread

BACKENDS: dict[str, type["SynapseLayer"]] = {}

#: a read or update is computed from the active lines only when at most this fraction of
#: the lines is active (above it the gather costs more than the dense product saves) ...
EVENT_MAX_DENSITY = 0.6
#: ... and when the dense product would be at least this many multiply-accumulates (below
#: it the dense product is cheaper than finding the active lines)
EVENT_MIN_MACS = 1 << 20

#: the counters a read in each direction adds to (count_read runs ~80 times per minibatch)
_COUNTER_KEYS = {d: (f"vectors_{d}", f"activity_{d}") for d in ("forward", "backward")}


def event_matmul(x: np.ndarray, m: np.ndarray, group: int = 0, out: np.ndarray | None = None,
                 active: np.ndarray | None = None) -> np.ndarray:
    """``x @ m`` from the active lines only: row b of the result is Σ_i x[b, i]·m[i] over the
    lines i that row's group of rows drives (for binary spikes, the sum of the rows of ``m`` at
    the lines that spiked). ``group``: consecutive rows of ``x`` that share one set of active
    lines (one image's time steps, say); 0 takes all rows as one group. Equal to ``x @ m`` to
    float rounding (the inactive lines contribute exact zeros). ``out``: where the result goes,
    shaped (rows, k), or with ``group`` (rows // group, group, k) (a view that stores it in
    another order, e.g. step-major); returned. ``active`` (with ``group``): (rows // group, n),
    nonzero where a group drives a line (the caller's per-group spike counts, say), so the
    groups' lines need not be searched for."""
    rows, n = x.shape
    if rows * n * m.shape[1] < EVENT_MIN_MACS:
        return _into(x @ m, out)
    g = rows if group <= 0 else min(group, rows)
    if g == rows:
        act = np.flatnonzero(_active_lines(x))
        return _into(x @ m if act.size > EVENT_MAX_DENSITY * n else x[:, act] @ m[act], out)
    if out is None:
        out = np.empty((rows, m.shape[1]), dtype=np.result_type(x, m))
    blocks = out if out.ndim == 3 else None  # group i's rows: blocks[i], else out[i*g : (i+1)*g]
    with one_blas_thread():  # many small products: BLAS threads would only wait on each other
        for i in range(0, rows, g):
            xg = x[i : i + g]
            o = out[i : i + g] if blocks is None else blocks[i // g]
            act = np.flatnonzero(_active_lines(xg) if active is None else active[i // g])
            if act.size > EVENT_MAX_DENSITY * n:
                np.matmul(xg, m, out=o)
            else:
                np.matmul(xg[:, act], m[act], out=o)
    return out


def _into(a: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``a``, or ``out`` holding a copy of it (reshaped to ``out``'s shape)."""
    if out is None:
        return a
    out[...] = a.reshape(out.shape)
    return out


def event_outer(row_events: np.ndarray, col_events: np.ndarray):
    """The coincidence sum rowsᵀ·cols restricted to the rows with events: (index, block) with
    ``block = row_eventsᵀ[index] @ col_events``, so ΔW[index] = scale·block and every other row
    of ΔW is zero; ``index`` is None (block = the full product) when the rows are not sparse
    enough to gain. Equal to the dense product to float rounding."""
    e, n = row_events.shape
    if e * n * col_events.shape[1] >= EVENT_MIN_MACS:
        # the first rows' active lines are a subset of all rows': when they already exceed the
        # density, the rows are dense (the same decision, without scanning them all)
        if e <= 64 or np.count_nonzero(_active_lines(row_events[:64])) <= EVENT_MAX_DENSITY * n:
            act = np.flatnonzero(_active_lines(row_events))
            if act.size <= EVENT_MAX_DENSITY * n:
                return act, _outer(row_events[:, act], col_events)
    return None, _outer(row_events, col_events)


def _active_lines(x: np.ndarray) -> np.ndarray:
    """The columns of ``x`` with a nonzero entry (``x.any(0)``, in half its time for floats)."""
    return np.logical_or.reduce(x != 0, axis=0)


def _outer(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``rowsᵀ @ cols`` (C order); as ``(colsᵀ @ rows)ᵀ`` when cols is the narrower (a few output
    lines: about half the time of the transposed-operand product; the same terms, summed in
    another order, so equal to float rounding, and bit-identical in float32 on the MNIST runs
    checked but ~1e-14 apart in float64 with analog events). On one BLAS
    thread: an MNIST minibatch's products (425 x 200 x 500, 10 x 800 x 500) took 0.3 and 0.13 ms
    on two idle threads against 0.53 and 0.17 ms on one, but a median 16 ms each on two threads
    when another job kept the second core busy (the first thread waits for the second)."""
    with one_blas_thread():
        if cols.shape[1] < rows.shape[1]:
            return np.ascontiguousarray((cols.T @ rows).T)
        return rows.T @ cols


def registrar(table: dict, attribute: str, what: str):
    """A class decorator factory for a registry: ``@registrar(TABLE, "name", ...)(key)`` puts the
    class into ``table[key]`` and sets ``cls.<attribute> = key`` (backends, update schemes)."""

    def register(name: str):
        def deco(cls):
            table[name] = cls
            setattr(cls, attribute, name)
            return cls

        return deco

    register.__doc__ = f"Class decorator: make a class selectable as {what} = name."
    return register


register_backend = registrar(BACKENDS, "backend_name", "[synapses] backend")


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
        act = np.einsum("bi,bi->i", x, x)
        if times != 1:
            act *= times
        self.count_reads(x.shape[0] * times, act, direction)

    def count_reads(self, vectors: int, activity: np.ndarray, direction: str) -> None:
        """Count ``vectors`` reads in ``direction`` whose per-line activity Σ x² the caller summed
        itself (the part of :meth:`count_read` after the sum; for callers that sum many reads at
        once, on layers whose ``count_read`` is this class's)."""
        c = self.counters
        vector_key, activity_key = _COUNTER_KEYS[direction]
        c[vector_key] += vectors
        c[activity_key] += activity
        self._pending[direction] += activity

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
    def forward(self, pre: np.ndarray, group: int = 0) -> np.ndarray:
        """(B, n_pre) -> (B, n_post): drive of the post neurons (counted, then ``pre @ M_f`` from
        the active rows; ``group``: consecutive input vectors sharing their active lines, see
        :func:`event_matmul`)."""
        self.count_read(pre, "forward")
        return event_matmul(pre, self._read_matrix("forward"), group)

    def backward(self, post: np.ndarray, group: int = 0) -> np.ndarray:
        """(B, n_post) -> (B, n_pre): drive of the pre neurons through the same synapses."""
        self.count_read(post, "backward")
        return event_matmul(post, self._read_matrix("backward"), group)

    def read_matrix(self, direction: str) -> np.ndarray:
        """The matrix a read in ``direction`` multiplies by (for callers that batch reads
        themselves and count them with :meth:`count_read`)."""
        return self._read_matrix(direction)

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
