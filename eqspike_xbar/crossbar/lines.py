"""Line-by-line elimination: an exact direct solver of a linear crossbar read in numpy alone.

A one-off read of a small array (``eqspike-xbar crossbar solve``, the first states of a
pattern, see :mod:`.linalg`) should not pay for importing SciPy's sparse solvers or loading MKL:
that costs a new process more than the read itself (measured: ``import scipy.sparse`` and
``scipy.sparse.linalg`` 0.26 s of CPU on top of numpy's 0.13 s). The nodal equations of a
crossbar are block tridiagonal along its driven lines, so a direct solve needs only dense
blocks of one line's size:

- word line i (a *layer*) holds its row nodes ``r<i>_<j>`` and column nodes ``c<i>_<j>``;
  row nodes connect only inside the layer (word-line segments, the cells, the line's port),
  column nodes also to the column nodes of layers i ± 1 (bit-line segments, 1 / r_bitline);
- the row nodes of every layer are eliminated first (a tridiagonal solve per layer,
  vectorised over the layers), leaving an N x N block per layer on the column nodes;
- the column blocks are eliminated from the open end of the bit lines (layer 0) towards the
  sense end (layer M-1): ``S_0 = H_0``, ``S_i = H_i - b² S_{i-1}^-1`` (block Cholesky of an SPD
  matrix, no pivoting needed), and the sense currents need only the last layer's column
  voltages, so there is no back substitution.

Exactness: a direct elimination of the same nodal equations as :mod:`.nodal` (zero-ohm
ports merged into the line ends, a sense resistance in series with a TIA's input folded into
one conductance), equal to the sparse solvers to rounding (tests/crossbar/test_cold_lines.py:
1e-10 relative over a grid of 128 linear specs × 6 shapes, both directions). It applies to linear cells (1R, 1T1R)
with non-zero word- and bit-line segments of the oriented read (:func:`solvable`); its cost
is ~M·N³ (one N x N inverse per word line), so it is used up to :data:`MAX_COST` only.
"""
from __future__ import annotations

import numpy as np

from .spec import CrossbarSpec
from .topology import Topology

#: largest M·max(N, 32)³ (oriented: M driven lines, N sensed lines) solved line by line: 128 x
#: 128 (measured ~70 ms of CPU for its 127 inverses of 128 x 128 on one thread; a line costs at
#: least ~15 µs of numpy calls, as much as a 32 x 32 inverse); larger arrays use the sparse
#: solvers, whose cost grows more slowly
MAX_COST = 128 ** 4
#: shortest wire segment solved line by line (the elimination squares 1/r: below ~1e-154 ohm that
#: overflows to inf; such a wire is a short, which the sparse model merges into one node)
MIN_SEGMENT_OHM = 1e-100
#: most driven lines solved line by line (a read loops over them in Python: 8192 x 1 took 20 ms
#: against 0.32 ms for the sparse solve)
MAX_LINES = 1024
#: from this line size on the dense blocks run on one BLAS thread: two OpenBLAS threads on the
#: shared 2-core machine took 0.34 s of CPU (0.53 s wall) for 128 inverses of 128 x 128 against
#: 0.07 s on one; below, OpenBLAS does not start its threads (measured at 32 and 64)
ONE_THREAD_FROM = 96


def solvable(topology: Topology, spec: CrossbarSpec) -> bool:
    """True if the forward read of the oriented ``topology`` can be solved line by line:
    linear cells, non-zero word- and bit-line segments (no line merged into one node), and
    M·max(N, 32)³ within :data:`MAX_COST`, at most :data:`MAX_LINES` driven lines, segments of at
    least :data:`MIN_SEGMENT_OHM`."""
    M, N = topology.shape
    return (spec.linear and min(topology.r_wordline_ohm, topology.r_bitline_ohm) >= MIN_SEGMENT_OHM
            and M <= MAX_LINES and M * max(N, 32) ** 3 <= MAX_COST)


def _tridiagonal_inverses(d: np.ndarray, a: float) -> np.ndarray:
    """Inverses of the symmetric tridiagonal matrices with diagonals ``d`` (L, n) and
    off-diagonal entries ``-a``, as an (n, L, n) array (``[:, l, :]`` is the l-th inverse):
    Thomas' elimination on the identity, vectorised over the L matrices (diagonally dominant:
    no pivoting)."""
    L, n = d.shape
    x = np.zeros((n, L, n))  # row k of every inverse is one contiguous (L, n) block
    m = np.empty((n, L, 1))  # pivots
    m[0, :, 0] = d[:, 0]
    x[0, :, 0] = 1.0
    x[0] /= m[0]
    for k in range(1, n):  # forward: row k of the eliminated identity, divided by its pivot
        m[k, :, 0] = d[:, k] - (a * a) / m[k - 1, :, 0]
        np.multiply(x[k - 1], a, out=x[k])
        x[k, :, k] += 1.0
        x[k] /= m[k]
    r = a / m
    for k in range(n - 2, -1, -1):  # backward: x_k += (a / m_k) x_{k+1}
        x[k] += r[k] * x[k + 1]
    return x


class LineFactor:
    """The eliminated nodal equations of one oriented forward read (rows driven at column 0,
    columns sensed at row M-1) of linear cells ``g_cell`` (M x N, S, the cells' own
    conductances: 1T1R access resistance included); ``.sense_currents(v)`` for any inputs."""

    def __init__(self, g_cell: np.ndarray, topology: Topology, spec: CrossbarSpec):
        g = np.asarray(g_cell, dtype=float)
        M, N = self.shape = g.shape
        a, b = 1.0 / topology.r_wordline_ohm, 1.0 / topology.r_bitline_ohm
        r_d, r_s = topology.r_row_end_ohm, topology.r_col_end_ohm
        if spec.sense == "tia":  # the sense resistance in series with the TIA's input conductance
            gt = spec.tia_input_conductance
            g_end = gt / (1.0 + r_s * gt)
        else:
            g_end = np.inf if r_s == 0 else 1.0 / r_s
        self.b, self.g_end = b, g_end
        self.grounded = bool(np.isinf(g_end))  # ideal sense without resistance: c<M-1>_<j> at 0 V
        # row nodes: with an ideal driver r<i>_0 is the port (fixed), the unknowns start at j0 = 1
        j0 = 1 if r_d == 0 else 0
        j = np.arange(N)
        d_row = g + a * ((j > 0).astype(float) + (j < N - 1))
        if r_d > 0:
            d_row[:, 0] += 1.0 / r_d
        w = np.ones((M, N))  # row voltages per volt of the line's input, with every column node at 0 V
        if N > j0:
            x = _tridiagonal_inverses(d_row[:, j0:], a)  # (N-j0, M, N-j0)
            w[:, j0:] = (a if r_d == 0 else 1.0 / r_d) * x[:, :, 0].T
        self.h = g * w  # current into each column node per volt of its layer's input
        L = M - 1 if self.grounded else M  # layers with unknown column nodes
        diag = g + b * ((np.arange(M) > 0).astype(float) + (np.arange(M) < M - 1))[:, None]
        if not self.grounded:
            diag[M - 1] += g_end
        gj = g[:, j0:]
        self.P: list[np.ndarray] = []  # S_i^-1 of each layer
        for i in range(L):  # S_i = H_i - b^2 S_{i-1}^-1, H_i: the layer's column block after its row nodes
            S = (-(b * b)) * self.P[-1] if i else np.zeros((N, N))
            if N > j0:
                S[j0:, j0:] -= gj[i][:, None] * x[:, i, :] * gj[i]
            S[j, j] += diag[i]
            self.P.append(np.linalg.inv(S))

    def sense_currents(self, v_in: np.ndarray) -> np.ndarray:
        """Currents (A) into the sense virtual grounds, (B, N), for driver voltages (B, M) in V."""
        v = np.atleast_2d(np.asarray(v_in, dtype=float))
        M = self.shape[0]
        z = None
        for i in range(len(self.P)):  # forward sweep: z_i = y_i + b S_{i-1}^-1 z_{i-1}
            y = self.h[i][:, None] * v[:, i]
            z = y if i == 0 else y + self.b * (self.P[i - 1] @ z)
        x_last = self.P[-1] @ z if self.P else None  # column voltages of the last unknown layer (N, B)
        if self.grounded:
            out = (self.h[M - 1][:, None] * v[:, M - 1])  # cells of the last word line
            if x_last is not None:
                out = out + self.b * x_last  # bit-line segments into the grounded ends
            return out.T
        return (self.g_end * x_last).T


def _blas_one_thread(n: int):
    """A context running numpy's BLAS on one thread when its blocks are ``n`` x ``n`` with
    n >= :data:`ONE_THREAD_FROM`, else nothing."""
    if n < ONE_THREAD_FROM:
        from contextlib import nullcontext

        return nullcontext()
    from ..threads import one_blas_thread

    return one_blas_thread()


def factor(g_cell: np.ndarray, topology: Topology, spec: CrossbarSpec) -> LineFactor:
    """:class:`LineFactor` of linear cell conductances ``g_cell`` (oriented), its dense blocks on
    one BLAS thread when they are large enough for OpenBLAS to start its threads."""
    with _blas_one_thread(topology.shape[1]):
        return LineFactor(g_cell, topology, spec)
