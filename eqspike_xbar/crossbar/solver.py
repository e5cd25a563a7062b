"""Reading a crossbar: the ``fast`` and ``ngspice`` solvers behind one registry, :data:`SOLVERS`.

``read_currents(g, v, spec, direction, backend)`` is what callers use; ``FastCrossbar``
keeps one factorisation and the transfer matrices of a conductance state for many reads. A
state's read of a few inputs is solved by the line-by-line elimination of :mod:`.lines`
(numpy only) while its pattern is new and small (see :mod:`.linalg`, cold start), else by the
sparse nodal model of :mod:`.nodal`.
Conventions (M rows x N columns, currents in A, voltages in V, conductances in S):
forward ``I_col = V_row @ W_f``; backward ``I_row = W_b @ V_col``; ideal: W_f = W_b = G.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import numpy as np

from ..errors import CircuitError
from ..validation import check_conductances, check_inputs
from . import linalg, lines
from .nodal import NodalModel, linear_cell_conductance, oriented, pattern_key, rot, transfer_matrix
from .spec import CrossbarSpec, check_direction

log = logging.getLogger(__name__)

SOLVERS: dict[str, Callable] = {}  #: circuit solvers by name (``read_currents(..., backend=name)``)

#: batches at least this large are read through the exact transfer matrix (one Schur
#: complement, then a matmul per input) instead of one triangular solve per input
BATCH_FOR_TRANSFER = 12

#: measured: ngspice 46 + KLU, 128 x 128 operating point in 0.36 s, time ~ cells^1.6
NGSPICE_SECONDS_128 = 0.36


def register_solver(name: str):
    def deco(func):
        SOLVERS[name] = func
        return func
    return deco


def ideal_currents(g, v, direction: str = "forward") -> np.ndarray:
    """Ideal matmul: forward ``V @ G`` (B, N); backward ``(G @ V.T).T`` (B, M)."""
    g = np.asarray(g, dtype=float)
    v = np.atleast_2d(v)
    return v @ g if check_direction(direction) == "forward" else v @ g.T


class FastCrossbar:
    """Fast nodal solver for one conductance state ``g`` (M x N, S)."""

    def __init__(self, g, spec: CrossbarSpec = CrossbarSpec()):
        self.g = check_conductances(g)
        self.spec = spec
        self._models: dict[str, NodalModel] = {}
        self._lines: dict[str, lines.LineFactor] = {}
        self._transfer: dict[str, np.ndarray] = {}

    @property
    def reciprocal(self) -> bool:
        """True when W_b = W_f exactly (each line keeps its termination, ideal sense)."""
        s = self.spec
        return s.linear and s.sense == "ideal" and (s.termination == "line" or s.r_driver_ohm == s.r_sense_ohm)

    def model(self, direction: str) -> NodalModel:
        if direction not in self._models:
            self._models[direction] = NodalModel(oriented(self.g, self.spec, direction), self.spec)
        return self._models[direction]

    def read(self, v, direction: str = "forward") -> np.ndarray:
        """Output currents (A), shape (B, N) forward or (B, M) backward, for inputs (B, M|N)."""
        check_direction(direction)
        M, N = self.g.shape
        v = check_inputs(v, M if direction == "forward" else N)
        if direction in self._transfer or (self.spec.linear and v.shape[0] >= BATCH_FOR_TRANSFER):
            return self._apply(self.transfer_matrix(direction), v, direction)
        line = self._lines.get(direction) or (None if direction in self._models else self._line_factor(direction))
        if line is not None:
            return line.sense_currents(v) if direction == "forward" else line.sense_currents(v[:, ::-1])[:, ::-1]
        model = self.model(direction)
        if direction == "forward":
            return model.sense_currents(model.node_voltages(v))
        return model.sense_currents(model.node_voltages(v[:, ::-1]))[:, ::-1]

    def _line_factor(self, direction: str) -> lines.LineFactor | None:
        """The line-by-line elimination of this state's read in ``direction`` if the circuit
        allows it (:func:`.lines.solvable`) and its pattern is still new (counted as one of its
        factorisations, :func:`.linalg.light_first_use`), else None."""
        p = oriented(self.g, self.spec, direction)
        M, N = self.g.shape
        if not (lines.solvable(p.topology, self.spec)
                and linalg.light_first_use(pattern_key(p.topology, self.spec.sense), 2 * M * N)):
            return None
        line = self._lines[direction] = lines.factor(linear_cell_conductance(p.g, self.spec), p.topology, self.spec)
        return line

    def transfer_matrix(self, direction: str = "forward") -> np.ndarray:
        """Exact effective conductance matrix (M, N) in S (linear devices)."""
        check_direction(direction)
        if direction not in self._transfer:
            if direction == "backward" and self.reciprocal:
                self._transfer[direction] = self.transfer_matrix("forward")
            else:
                w = transfer_matrix(oriented(self.g, self.spec, direction), self.spec)
                self._transfer[direction] = w if direction == "forward" else rot(w)
        return self._transfer[direction]

    @staticmethod
    def _apply(w, v, direction):
        return v @ w if direction == "forward" else v @ w.T


@register_solver("fast")
def _fast(g, v, spec, direction, **_):
    return FastCrossbar(g, spec).read(v, direction)


def ngspice_estimate_s(shape) -> float:
    """Rough ngspice 46 + KLU operating-point time (s) for an M x N crossbar."""
    return NGSPICE_SECONDS_128 * (shape[0] * shape[1] / 16384.0) ** 1.6


@register_solver("ngspice")
def _ngspice(g, v, spec, direction, timeout_s: float = 120.0, runner=None, **_):
    from ..spice import NgspiceRunner
    from .netlist import crossbar_netlist, driver_names, sense_names

    g = check_conductances(g)
    M, N = g.shape
    v = check_inputs(v, M if direction == "forward" else N)
    estimate = ngspice_estimate_s(g.shape)
    if estimate > timeout_s:
        raise CircuitError(
            f"a {M}x{N} crossbar would take about {estimate:.0f} s per ngspice run (time limit "
            f"{timeout_s:g} s): use backend 'fast', or tile the layer into smaller arrays")
    runner = runner or NgspiceRunner(timeout_s=timeout_s)
    names, sources = sense_names(g.shape, direction), driver_names(g.shape, direction)
    out = np.empty((v.shape[0], len(names)))
    t0 = time.perf_counter()
    for k, row in enumerate(v):
        if k == 0:
            res = runner.run(crossbar_netlist(g, row, spec, direction), vectors=names)
        else:  # same circuit, new inputs: alter the driver sources instead of reloading
            runner.alter(dict(zip(sources, map(float, row))))
            res = runner.rerun(vectors=names)
        out[k] = [res[name][0] for name in names]
    log.debug("ngspice: %d read(s) of %dx%d in %.3f s", v.shape[0], M, N, time.perf_counter() - t0)
    return out


def read_currents(g, v, spec: CrossbarSpec = CrossbarSpec(), direction: str = "forward",
                  backend: str = "fast", **options) -> np.ndarray:
    """Output currents (A), shape (B, outputs), of reads with inputs ``v`` (B, inputs) in V."""
    check_direction(direction)
    try:
        func = SOLVERS[backend]
    except KeyError:
        raise CircuitError(f"backend must be one of {', '.join(sorted(SOLVERS))}, got {backend!r}") from None
    return func(g, v, spec, direction, **options)
