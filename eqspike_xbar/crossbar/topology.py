"""The crossbar circuit, described once: nodes, two-terminal branches and line ports.

The read netlist (:mod:`.netlist`), the coincidence-programming netlist
(:mod:`eqspike_xbar.programming.netlist`) and the fast solver's nodal matrices
(:mod:`.nodal`) are renderings of one :class:`Topology`, as netlist text is a rendering of
one circuit object in PySpice. A renderer only adds what sits *at* the ports (drivers,
sense, PWL sources) and what fills the cells (a resistor, a 1T1R or a memristor subcircuit).

M rows (word lines) x N columns (bit lines); node names and raw node ids:

- ``r<i>_<j>`` row node of cell (i, j), id ``i*N + j``; ``c<i>_<j>`` its column node, id
  ``M*N + i*N + j``; the cell sits between them (``a`` = row node, ``b`` = column node);
- ``rp<i>`` the port of word line i, id ``2*M*N + i``: it feeds the left end (j = 0)
  through ``r_row_end_ohm`` ohm; ``cp<j>`` the port of bit line j, id ``2*M*N + M + j``: it
  feeds the bottom end (i = M-1) through ``r_col_end_ohm`` ohm;
- word-line segments ``W<i>_<j>`` (``r<i>_<j>``--``r<i>_<j+1>``, ``r_wordline_ohm`` ohm),
  bit-line segments ``B<i>_<j>`` (``c<i>_<j>``--``c<i+1>_<j>``, ``r_bitline_ohm`` ohm),
  line ends ``Tr<i>`` (``rp<i>``--``r<i>_0``) and ``Tc<j>`` (``cp<j>``--``c<M-1>_<j>``).

A zero resistance is an exact short: written as a 0 V source, merged into one node by the
nodal solver. :meth:`Topology.rotated` is the 180°-rotated transpose: a backward read of a
topology is the forward read of its rotation (rows and columns swap roles).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..errors import CircuitError
from ..validation import check_positive_number, spice_number


@dataclass(frozen=True, eq=False)
class Branches:
    """One group of two-terminal branches of a topology (raw node ids ``a`` -- ``b``)."""

    kind: str  #: "cell", "wordline", "bitline", "row_end" or "col_end"
    a: np.ndarray  #: raw node id of each branch's first terminal
    b: np.ndarray  #: raw node id of each branch's second terminal
    r: float | None  #: resistance of every branch (ohm); None for the cells (per-device)


@dataclass(frozen=True)
class Topology:
    """An M x N crossbar's wires: segment resistances and the line-end (port) resistances."""

    shape: tuple[int, int]
    r_wordline_ohm: float  #: word-line resistance per cell segment, ohm
    r_bitline_ohm: float  #: bit-line resistance per cell segment, ohm
    r_row_end_ohm: float  #: between a word line's port rp<i> and its end r<i>_0, ohm
    r_col_end_ohm: float  #: between a bit line's port cp<j> and its end c<M-1>_<j>, ohm

    def __post_init__(self):
        M, N = self.shape
        if int(M) != M or int(N) != N or M < 1 or N < 1:
            raise CircuitError(f"crossbar shape must be (rows >= 1, columns >= 1), got {self.shape!r}")
        object.__setattr__(self, "shape", (int(M), int(N)))
        for name in ("r_wordline_ohm", "r_bitline_ohm", "r_row_end_ohm", "r_col_end_ohm"):
            object.__setattr__(self, name, check_positive_number(name, getattr(self, name), allow_zero=True,
                                                                 error=CircuitError))

    # -- nodes ----------------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        M, N = self.shape
        return 2 * M * N + M + N

    @property
    def row_nodes(self) -> np.ndarray:
        """(M, N) raw ids of the cells' row nodes ``r<i>_<j>``."""
        M, N = self.shape
        return np.arange(M * N).reshape(M, N)

    @property
    def col_nodes(self) -> np.ndarray:
        """(M, N) raw ids of the cells' column nodes ``c<i>_<j>``."""
        M, N = self.shape
        return M * N + np.arange(M * N).reshape(M, N)

    @property
    def row_ports(self) -> np.ndarray:
        """(M,) raw ids of the word lines' ports ``rp<i>``."""
        M, N = self.shape
        return 2 * M * N + np.arange(M)

    @property
    def col_ports(self) -> np.ndarray:
        """(N,) raw ids of the bit lines' ports ``cp<j>``."""
        M, N = self.shape
        return 2 * M * N + M + np.arange(N)

    @cached_property
    def node_names(self) -> list[str]:
        """SPICE name of every raw node id."""
        M, N = self.shape
        return ([f"r{i}_{j}" for i in range(M) for j in range(N)] + [f"c{i}_{j}" for i in range(M) for j in range(N)]
                + [f"rp{i}" for i in range(M)] + [f"cp{j}" for j in range(N)])

    # -- branches ---------------------------------------------------------------------------
    @cached_property
    def cells(self) -> Branches:
        """The crosspoints, row-major: cell (i, j) is branch ``i*N + j``."""
        M, N = self.shape
        return Branches("cell", self.row_nodes.ravel(), self.col_nodes.ravel(), None)

    @cached_property
    def wires(self) -> tuple[Branches, ...]:
        """Word-line segments (row by row), bit-line segments (column by column), then the
        word-line and bit-line ends; the order of the netlists' lines."""
        M, N = self.shape
        rn, cn = self.row_nodes, self.col_nodes
        return (
            Branches("wordline", rn[:, :-1].ravel(), rn[:, 1:].ravel(), self.r_wordline_ohm),
            Branches("bitline", cn[:-1, :].T.ravel(), cn[1:, :].T.ravel(), self.r_bitline_ohm),
            Branches("row_end", self.row_ports, rn[:, 0], self.r_row_end_ohm),
            Branches("col_end", self.col_ports, cn[-1, :], self.r_col_end_ohm),
        )

    def element_names(self, kind: str) -> list[str]:
        """Element names (without the type letter) of a branch group, in the group's order:
        ``<i>_<j>`` cells, ``W<i>_<j>`` / ``B<i>_<j>`` segments, ``Tr<i>`` / ``Tc<j>`` line ends."""
        M, N = self.shape
        return {"cell": lambda: [f"{i}_{j}" for i in range(M) for j in range(N)],
                "wordline": lambda: [f"W{i}_{j}" for i in range(M) for j in range(N - 1)],
                "bitline": lambda: [f"B{i}_{j}" for j in range(N) for i in range(M - 1)],
                "row_end": lambda: [f"Tr{i}" for i in range(M)],
                "col_end": lambda: [f"Tc{j}" for j in range(N)]}[kind]()

    def wire(self, kind: str) -> Branches:
        return next(w for w in self.wires if w.kind == kind)

    def rotated(self) -> "Topology":
        """The 180°-rotated transpose (N x M): its forward read is this topology's backward read."""
        M, N = self.shape
        return Topology((N, M), self.r_bitline_ohm, self.r_wordline_ohm, self.r_col_end_ohm, self.r_row_end_ohm)

    # -- renderings -------------------------------------------------------------------------
    def wire_spice_lines(self, ends: str) -> list[str]:
        """Word/bit-line segments and the line terminations as netlist lines, each block under a
        comment (``ends`` describes the terminations)."""
        return ["* word-line segments", *self.spice_lines("wordline"), "* bit-line segments",
                *self.spice_lines("bitline"), f"* {ends}", *self.spice_lines("row_end"), *self.spice_lines("col_end")]

    def spice_lines(self, kind: str) -> list[str]:
        """Netlist lines of one wire group: ``R<name> a b <ohm>``, or ``V<name> a b 0`` (a short)."""
        w = self.wire(kind)
        elem, value = ("V", "0") if w.r == 0 else ("R", spice_number(w.r, f"{kind} resistance"))
        names = self.node_names
        return [f"{elem}{n} {names[a]} {names[b]} {value}"
                for n, a, b in zip(self.element_names(kind), w.a.tolist(), w.b.tolist())]

    def cell_nodes(self) -> list[tuple[str, str, str]]:
        """(name, row node, column node) of every cell, row-major."""
        c, names = self.cells, self.node_names
        return [(n, names[a], names[b]) for n, a, b in zip(self.element_names("cell"), c.a.tolist(), c.b.tolist())]

    def merged_nodes(self) -> np.ndarray:
        """For every raw node id, the id of the node it is merged into by zero-resistance
        wires: a port if one is in its group, else the group's smallest id."""
        n = self.n_nodes
        shorts = [w for w in self.wires if w.r == 0]
        if not shorts:
            return np.arange(n)
        a = np.concatenate([w.a for w in shorts])
        b = np.concatenate([w.b for w in shorts])
        comp = components(n, a, b)
        rep = np.full(n, n)
        np.minimum.at(rep, comp, np.arange(n))
        ports = np.concatenate([self.row_ports, self.col_ports])
        rep[comp[ports]] = ports
        return rep[comp]


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of ``n`` nodes joined by the edges ``a[k]``–``b[k]``: each node's
    label is the smallest node id of its component (hooking and pointer jumping in numpy; no
    graph library to import for a read)."""
    label = np.arange(n)
    while True:
        old = label.copy()
        np.minimum.at(label, a, label[b])
        np.minimum.at(label, b, label[a])
        label = label[label]  # jump: a label's own label is in the same component and no larger
        if np.array_equal(label, old):
            return label


def read_topology(shape, spec, direction: str) -> Topology:
    """The topology of a read in ``direction``: line ends from ``spec.terminations``."""
    r_row_end_ohm, r_col_end_ohm = spec.terminations(direction)
    return Topology(tuple(shape), spec.r_wordline_ohm, spec.r_bitline_ohm, r_row_end_ohm, r_col_end_ohm)
