"""Fast solver: sparse nodal analysis of a :class:`~.topology.Topology` (the netlists' circuit).

A read in either direction is solved as a *forward* read of an oriented array: the backward
read of ``G`` (M x N) is the forward read of ``rot(G) = G[::-1, ::-1].T`` with word- and
bit-line roles swapped (see :func:`oriented`). Nodes joined by zero resistance are merged,
so ideal wires/drivers/sense are exact, not approximated by large conductances.

Unknown ordering: internal nodes first, then the ports (driver nodes, then sense nodes).
One factorisation per conductance state serves any number of input vectors; the Schur
complement onto the ports gives the exact effective transfer matrix.

SciPy's sparse matrices are imported when a nodal model is first built, not with this module:
a one-off linear read of a small array goes through :mod:`.lines` (numpy only) instead.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from ..errors import CircuitError
from . import linalg
from .spec import CrossbarSpec, check_direction
from .topology import Topology, read_topology


def rot(a: np.ndarray) -> np.ndarray:
    """The 180°-rotated transpose; maps backward reads onto forward reads (an involution)."""
    return np.asarray(a)[::-1, ::-1].T


@dataclass(frozen=True)
class Oriented:
    """A forward-read problem: rows driven at their ports (column 0), columns sensed at
    theirs (row M-1); ``topology`` says the wires, ``g`` the devices."""

    g: np.ndarray  #: (M, N) device conductances, S
    topology: Topology  #: the oriented circuit (its row ports drive, its column ports sense)


def oriented(g: np.ndarray, spec: CrossbarSpec, direction: str) -> Oriented:
    check_direction(direction)
    topo = read_topology(np.shape(g), spec, direction)
    if direction == "forward":
        return Oriented(g, topo)
    return Oriented(rot(g), topo.rotated())


def linear_cell_conductance(g: np.ndarray, spec: CrossbarSpec) -> np.ndarray:
    """Conductance (S) of each cell with a linear device: the device alone (1R), or in series
    with the access transistor's on-resistance (1T1R)."""
    g = np.asarray(g, dtype=float)
    return g / (1.0 + g * spec.r_access_ohm) if spec.cell == "1T1R" else g


def pattern_key(topo: Topology, sense: str) -> tuple:
    """A name of the sparsity pattern of a read's nodal matrix (free nodes): the shape, which
    wires are exact shorts (merged nodes) and whether the sense nodes are unknowns (TIA); the
    key under which :mod:`.linalg` counts the pattern's factorisations."""
    return ("crossbar read", topo.shape, tuple(w.r == 0 for w in topo.wires), sense)


@lru_cache(maxsize=32)
def _numbering(topo: Topology, sense: str, tia_input_conductance: float):
    """The unknowns of a topology's nodal equations and its wires' conductance matrix.

    Nodes joined by zero resistance are one unknown; internal nodes come first (in raw
    order), then the drive ports (row ports), then the sense ports (column ports).
    """
    import scipy.sparse as sp

    M, N = topo.shape
    merged = topo.merged_nodes()
    lr, lc = merged[topo.row_nodes], merged[topo.col_nodes]
    used = np.zeros(topo.n_nodes, dtype=bool)
    used[lr.ravel()] = True
    used[lc.ravel()] = True
    internal = np.flatnonzero(used[: 2 * M * N])
    n_int = internal.size
    remap = np.full(topo.n_nodes, -1)
    remap[internal] = np.arange(n_int)
    remap[topo.row_ports] = n_int + np.arange(M)
    remap[topo.col_ports] = n_int + M + np.arange(N)
    node_of, lr, lc = remap[merged], remap[lr], remap[lc]
    drive, sense_nodes = remap[topo.row_ports], remap[topo.col_ports]
    n = n_int + M + N
    cells = np.arange(M * N)
    inc = sp.csr_matrix((np.concatenate([np.ones(M * N), -np.ones(M * N)]),
                         (np.concatenate([lr.ravel(), lc.ravel()]), np.concatenate([cells, cells]))), shape=(n, M * N))
    # every linear two-terminal conductance except the cells: the wires of non-zero resistance
    wires = [w for w in topo.wires if w.r > 0]
    a = np.concatenate([node_of[w.a] for w in wires] or [np.zeros(0, dtype=int)])
    b = np.concatenate([node_of[w.b] for w in wires] or [np.zeros(0, dtype=int)])
    g = np.concatenate([np.full(w.a.size, 1.0 / w.r) for w in wires] or [np.zeros(0)])
    K = stamp(n, a, b, g)
    if sense == "tia":
        K = K + sp.csr_matrix((np.full(N, tia_input_conductance), (sense_nodes, sense_nodes)), shape=(n, n))
    return n_int, n, node_of, lr, lc, drive, sense_nodes, inc, K, (a, b, g)


def stamp(n: int, a, b, g):
    """The (n, n) nodal matrix (``scipy.sparse.csr_matrix``) of conductances ``g`` between nodes
    ``a`` and ``b``."""
    import scipy.sparse as sp

    rows = np.concatenate([a, b, a, b])
    cols = np.concatenate([a, b, b, a])
    vals = np.concatenate([g, g, -g, -g])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n))


class NodalModel:
    """Nodal equations of one oriented crossbar (M driven lines x N sensed lines)."""

    def __init__(self, problem: Oriented, spec: CrossbarSpec):
        self.p, self.spec = problem, spec
        M, N = problem.g.shape
        self.shape = (M, N)
        # the numbering and the wires' matrix depend on the topology only: shared, never mutated
        (self.n_int, self.n, self.node_of, self.lr, self.lc, self.drive, self.sense, self.inc,
         self.K_wires, self._wire_edges) = _numbering(problem.topology, spec.sense, spec.tia_input_conductance)
        self.pattern_key = pattern_key(problem.topology, spec.sense)
        self._linear_factor = None

    # -- the cells --------------------------------------------------------------------
    def cell_current(self, v_cell: np.ndarray):
        """(current A, small-signal conductance S) of every cell at cell voltage ``v_cell``."""
        g, spec = self.p.g, self.spec
        if spec.linear:
            geff = linear_cell_conductance(g, spec)
            return geff * v_cell, geff
        v0 = spec.v0
        if spec.cell == "1R":
            return g * v0 * np.sinh(v_cell / v0), g * np.cosh(v_cell / v0)
        # 1T1R: device voltage vd with vd + r_access_ohm * I(vd) = v_cell (monotone; Newton)
        r = spec.r_access_ohm
        vd = v_cell / (1.0 + r * g)
        for _ in range(100):
            i_d, gd = g * v0 * np.sinh(vd / v0), g * np.cosh(vd / v0)
            step = (vd + r * i_d - v_cell) / (1.0 + r * gd)
            vd = vd - step
            if np.all(np.abs(step) <= 1e-15 + 1e-13 * np.abs(v_cell)):
                break
        i_d, gd = g * v0 * np.sinh(vd / v0), g * np.cosh(vd / v0)
        return i_d, gd / (1.0 + r * gd)

    def matrix(self, g_cell: np.ndarray):
        return self.K_wires + stamp(self.n, self.lr.ravel(), self.lc.ravel(), np.ravel(g_cell))

    @property
    def fixed(self) -> np.ndarray:
        """Indices of nodes with imposed voltages: drivers, and ideal virtual grounds."""
        return self.drive if self.spec.sense == "tia" else np.concatenate([self.drive, self.sense])

    @cached_property
    def free(self) -> np.ndarray:
        """Indices of the nodes solved for (all but :attr:`fixed`)."""
        return np.setdiff1d(np.arange(self.n), self.fixed)

    # -- solutions ----------------------------------------------------------------------
    def node_voltages(self, v_in: np.ndarray, tol_v: float = 1e-13, max_iter: int = 50) -> np.ndarray:
        """Node voltages (V), shape (n, B), for driver voltages ``v_in`` of shape (B, M)."""
        v_in = np.atleast_2d(v_in)
        free = self.free
        # ports are numbered last: with ideal sense the free nodes are exactly 0 .. n_int-1
        rows = slice(0, self.n_int) if free.size == self.n_int else free
        if self._linear_factor is None:  # one factorisation per conductance state
            _, g_lin = self.cell_current(np.zeros(self.shape))
            K = self.matrix(g_lin)
            self._linear_factor = (linalg.factorize(K[free][:, free], self.pattern_key), K[free][:, self.drive])
        factor, K_drive = self._linear_factor
        v = np.zeros((self.n, v_in.shape[0]))
        v[self.drive] = v_in.T  # the other fixed nodes (ideal virtual grounds) are at 0 V
        v[rows] = factor.solve(-(K_drive @ v_in.T)).reshape(free.size, v_in.shape[0])
        if self.spec.linear or free.size == 0:  # no free node: every voltage is imposed
            return v
        for k in range(v.shape[1]):  # Newton, one input vector at a time
            v[:, k] = self._newton(v[:, k], free, tol_v, max_iter)
        return v

    def _newton(self, v, free, tol_v, max_iter):
        scale = max(np.abs(v).max(), 1e-3)
        for _ in range(max_iter):
            i_cell, g_cell = self.cell_current(v[self.lr] - v[self.lc])
            resid = self.K_wires @ v + self._cell_injection(i_cell)
            J = self.matrix(g_cell)
            dv = linalg.factorize(J[free][:, free], self.pattern_key).solve(-resid[free])
            step = np.max(np.abs(dv))
            v[free] += dv * min(1.0, self.spec.v0 / step) if step > 0 else dv  # damped: ≤ v0 per step
            if step <= tol_v * scale:
                return v
        raise CircuitError(f"fast solver: Newton did not converge in {max_iter} iterations "
                           "(device non-linearity v0 too small for these read voltages?)")

    def _cell_injection(self, i_cell):
        """Current (A) leaving each node through the cells; ``i_cell`` (M, N) or (B, M, N)."""
        i = np.asarray(i_cell)
        flat = i.reshape(-1, self.shape[0] * self.shape[1]).T
        out = self.inc @ flat
        return out[:, 0] if i.ndim == 2 else out

    def _port_currents(self, v: np.ndarray, nodes: np.ndarray) -> np.ndarray:
        """Current (A) flowing from ``nodes`` into the circuit, shape (B, len(nodes))."""
        i_cell, _ = self.cell_current(np.moveaxis(v[self.lr] - v[self.lc], -1, 0))
        return (self.K_wires[nodes] @ v + self._cell_injection(i_cell)[nodes]).T

    def sense_currents(self, v: np.ndarray) -> np.ndarray:
        """Currents (A) into the sense virtual grounds, shape (B, N), from node voltages (n, B)."""
        if self.spec.sense == "tia":
            return (self.spec.tia_input_conductance * v[self.sense]).T
        return -self._port_currents(v, self.sense)

    def drive_currents(self, v: np.ndarray) -> np.ndarray:
        """Currents (A) delivered by the driver sources, shape (B, M)."""
        return self._port_currents(v, self.drive)

    def power(self, v: np.ndarray) -> dict[str, np.ndarray]:
        """Power (W) per input column: delivered by drivers, dissipated in cells, wires
        (incl. driver/sense resistances) and the TIA inputs."""
        v_in = v[self.drive].T
        delivered = np.sum(v_in * self.drive_currents(v), axis=1)
        vc = np.moveaxis(v[self.lr] - v[self.lc], -1, 0)
        i_cell, _ = self.cell_current(vc)
        a, b, g = self._wire_edges
        wires = np.sum(g[:, None] * (v[a] - v[b]) ** 2, axis=0)
        tia = (self.spec.tia_input_conductance * np.sum(v[self.sense] ** 2, axis=0)
               if self.spec.sense == "tia" else np.zeros(v.shape[1]))
        return {"delivered": delivered, "cells": np.sum(i_cell * vc, axis=(1, 2)), "wires": wires, "sense": tia}

    def transfer_matrix(self) -> np.ndarray:
        """Exact W with ``I_sense = V_drive @ W`` (linear devices), from the Schur complement."""
        return transfer_matrix(self.p, self.spec)


class TransferPlan:
    """What the Schur complement of one oriented crossbar needs besides the conductances: the
    node numbering, the upper triangle's sparsity pattern (PARDISO's analysis of it is cached),
    the wires' entries, and where each cell's conductance lands. Built once per shape, wires
    and spec; a new conductance state then costs one scatter and one numerical factorisation.
    """

    def __init__(self, problem: Oriented, spec: CrossbarSpec):
        import scipy.sparse as sp

        self.spec = spec
        model = NodalModel(problem, spec)
        self.shape, self.n_int = model.shape, model.n_int
        U = sp.triu(model.matrix(np.ones(model.shape)), format="csr")  # wires + every cell
        U.sum_duplicates()
        U.sort_indices()
        n = U.shape[0]
        keys = np.repeat(np.arange(n, dtype=np.int64), np.diff(U.indptr)) * n + U.indices

        def where(r, c):
            lo, hi = np.minimum(r, c).astype(np.int64), np.maximum(r, c)
            target = lo * n + hi
            pos = np.searchsorted(keys, target)
            if not np.array_equal(keys[np.minimum(pos, keys.size - 1)], target):  # pragma: no cover
                raise CircuitError("internal: a circuit element has no entry in the nodal pattern")
            return pos

        W = sp.triu(model.K_wires, format="coo")
        self.base = np.zeros(U.nnz)
        np.add.at(self.base, where(W.row, W.col), W.data)
        a, b = model.lr.ravel(), model.lc.ravel()
        cells = np.arange(a.size)
        self.scatter = sp.csr_matrix(
            (np.concatenate([np.ones(2 * a.size), -np.ones(a.size)]),
             (np.concatenate([where(a, a), where(b, b), where(a, b)]), np.concatenate([cells] * 3))),
            shape=(U.nnz, a.size))
        self.pattern = linalg.SchurPattern(U.indptr, U.indices, n - self.n_int)

    def transfer(self, g: np.ndarray) -> np.ndarray:
        """W (M, N) in S with ``I_sense = V_drive @ W`` for oriented device conductances ``g``."""
        spec = self.spec
        S = self.pattern.schur(self.base + self.scatter @ linear_cell_conductance(g, spec).ravel())
        M = self.shape[0]
        S_ds, S_ss = S[:M, M:], S[M:, M:]
        if spec.sense == "ideal":
            return -S_ds
        return -np.linalg.solve(S_ss, S_ds.T).T * spec.tia_input_conductance


_PLANS: "OrderedDict[tuple, TransferPlan]" = OrderedDict()
_PLANS_LOCK = threading.Lock()


def transfer_matrix(problem: Oriented, spec: CrossbarSpec) -> np.ndarray:
    """Exact W with ``I_sense = V_drive @ W`` of an oriented problem (linear devices)."""
    if not spec.linear:
        raise CircuitError("transfer matrices need linear devices (v0=None): with a non-linear "
                           "read I-V use solve() per input vector")
    return transfer_plan(problem, spec).transfer(problem.g)


def transfer_plan(problem: Oriented, spec: CrossbarSpec) -> TransferPlan:
    """The cached :class:`TransferPlan` for this problem's shape, wires and spec."""
    key = (problem.topology, spec)
    with _PLANS_LOCK:  # least recently used plans go first
        plan = _PLANS.get(key)
        if plan is None:
            if len(_PLANS) >= 16:
                _PLANS.popitem(last=False)
            plan = _PLANS[key] = TransferPlan(problem, spec)
        _PLANS.move_to_end(key)
    return plan
