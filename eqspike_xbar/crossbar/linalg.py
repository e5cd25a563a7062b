"""Sparse SPD factorisation and Schur complements: MKL PARDISO (``pypardiso``'s library) when
importable, else SciPy's SuperLU. One MKL thread (the machine has 2 cores and several jobs). ``EQSPIKE_XBAR_LINALG=superlu``
forces SuperLU.

Cold start: loading MKL (~0.3–0.5 s) and PARDISO's symbolic analysis pay only when a pattern
is factored again and again (new conductance states of the same array). So while MKL is not
loaded, the first :data:`PARDISO_FROM_USE` − 1 factorisations of a pattern below
:data:`SMALL_UNKNOWNS` unknowns (one-off reads of a small array in both directions, e.g.
``eqspike-xbar crossbar solve``) use SuperLU, or, for a linear read that
:func:`.lines.solvable` accepts, no factorisation here at all (:func:`light_first_use`: the
line-by-line elimination in numpy, so a one-off read imports no SciPy); PARDISO takes over from
the pattern's :data:`PARDISO_FROM_USE`-th factorisation on, at once for larger systems, and for
every pattern once MKL is loaded. Schur complements (transfer matrices) always use PARDISO when
available. SciPy is imported on the first factorisation, not with this module.

``factorize(A, key=None) -> Factor`` with ``.solve(B)`` for one or many right-hand sides;
``SchurPattern(indptr, indices, m).schur(data) -> S``: the dense Schur complement of the
trailing ``m`` rows/columns, ``S = K22 - K21 K11^-1 K12``, for many matrices of one pattern
without re-analysing it (the transfer-matrix refreshes).
"""
from __future__ import annotations

import ctypes
import logging
import os
import threading
from collections import OrderedDict

import numpy as np

log = logging.getLogger(__name__)

_MKL = None  # (pardiso function, pt dtype) once loaded; False if unavailable

#: below this many unknowns (128 x 128: 33 024), a pattern's first factorisation while MKL is
#: not loaded yet uses SuperLU (measured at 32 x 32: a few ms against ~0.5 s for MKL's load
#: and analysis; at 128 x 128: ~80 ms against ~0.6 s)
SMALL_UNKNOWNS = 40_000
#: ... and from this factorisation of the same pattern on, PARDISO (its analysis is then reused)
PARDISO_FROM_USE = 3
_SEEN_PATTERNS: "OrderedDict[tuple, int]" = OrderedDict()  # pattern key -> factorisations so far
_SEEN_LOCK = threading.Lock()


def _pattern_key(indptr, indices) -> tuple:
    import hashlib  # here: a read that factors nothing (lines.py) needs no hash

    return (indptr.size - 1, indices.size,
            hashlib.sha1(np.ascontiguousarray(indptr).tobytes() + np.ascontiguousarray(indices).tobytes()).hexdigest())


def _early_use(key, count_late: bool = True) -> bool:
    """Count one factorisation of the pattern ``key``; True if it comes before its
    :data:`PARDISO_FROM_USE`-th in this process. ``count_late = False``: a later use is not
    counted (its caller hands it to :func:`factorize`, which counts it)."""
    with _SEEN_LOCK:
        n = _SEEN_PATTERNS.get(key, 0)
        early = n + 1 < PARDISO_FROM_USE
        if early or count_late:
            _SEEN_PATTERNS[key] = n + 1
            _SEEN_PATTERNS.move_to_end(key)
            while len(_SEEN_PATTERNS) > 256:
                _SEEN_PATTERNS.popitem(last=False)
    return early


def light_first_use(key, n: int) -> bool:
    """May a read of the pattern ``key`` (``n`` unknowns) skip this module's factorisations?
    True, and this use counted, for the early uses of a small pattern while MKL is not loaded
    (where :func:`factorize` would choose SuperLU): the caller then solves without SciPy (the
    line-by-line elimination of :mod:`.lines`). False otherwise, nothing counted:
    ``factorize(A, key=key)`` counts the use and picks the solver."""
    if n >= SMALL_UNKNOWNS or mkl_loaded():
        return False
    return _early_use(key, count_late=False)


def mkl_loaded() -> bool:
    """True once PARDISO's library is loaded in this process."""
    return bool(_MKL)


def _wants_pardiso(n: int, early_use: bool) -> bool:
    """PARDISO for this factorisation? Not for an early one of a small pattern while MKL is
    still unloaded (SuperLU is faster than loading it); otherwise whenever it is available."""
    if n < SMALL_UNKNOWNS and early_use and not mkl_loaded():
        return False
    return bool(_mkl())


def _mkl():
    global _MKL
    if _MKL is None and os.environ.get("EQSPIKE_XBAR_LINALG", "").lower() == "superlu":
        _MKL = False
    if _MKL is None:
        try:
            from pypardiso import PyPardisoSolver

            solver = PyPardisoSolver()
            lib = solver.libmkl
            try:
                lib.MKL_Set_Num_Threads(ctypes.c_int(1))
            except AttributeError:  # pragma: no cover
                pass
            _MKL = (solver._mkl_pardiso, solver._pt_type)
        except Exception as exc:  # ImportError, OSError: no MKL on this machine
            log.debug("pypardiso not usable (%s); using SciPy SuperLU", exc)
            _MKL = False
    return _MKL


def backend_name() -> str:
    return "pardiso" if _mkl() else "superlu"


class _Handle:
    """One PARDISO instance (real SPD, mtype 2) holding the symbolic analysis of a pattern.

    The analysis (ordering, ~70 ms at 128 x 128) depends only on the sparsity pattern, so it
    is cached and reused for every new conductance state; each state costs one numerical
    factorisation (phase 22). Factor objects sharing a handle refactor when another used it.
    """

    def __init__(self, indptr, indices, data, schur_size: int):
        func, (ctype, nptype) = _mkl()
        self._func, self._ctype = func, ctype
        self.n = indptr.size - 1
        self._ia, self._ja = indptr, indices
        self.pt = np.zeros(64, dtype=nptype)
        self.iparm = ip = np.zeros(64, dtype=np.int32)
        ip[0] = 1  # user-set iparm
        ip[1] = 2  # nested dissection (METIS)
        ip[9] = 8  # pivot perturbation 1e-8
        ip[23] = 1  # two-level factorisation: measured 17.6 vs 24.6 ms per 128² Schur complement
        ip[34] = 1  # zero-based indexing
        self.perm = np.zeros(self.n, dtype=np.int32)
        self.schur_size = schur_size
        if schur_size:
            ip[35] = 1  # Schur complement of the rows marked in perm, returned dense in x
            self.perm[self.n - schur_size:] = 1
        self.owner = None
        self.call(11, data, np.zeros(self.n), np.zeros(max(self.n, schur_size * schur_size)))

    def call(self, phase, data, b, x, nrhs=1):
        err = ctypes.c_int32(0)
        i32 = ctypes.POINTER(ctypes.c_int32)
        f64 = ctypes.POINTER(ctypes.c_double)
        one = ctypes.c_int32(1)
        self._func(
            self.pt.ctypes.data_as(ctypes.POINTER(self._ctype)), ctypes.byref(one), ctypes.byref(one),
            ctypes.byref(ctypes.c_int32(2)), ctypes.byref(ctypes.c_int32(phase)),
            ctypes.byref(ctypes.c_int32(self.n)), data.ctypes.data_as(f64),
            self._ia.ctypes.data_as(i32), self._ja.ctypes.data_as(i32), self.perm.ctypes.data_as(i32),
            ctypes.byref(ctypes.c_int32(nrhs)), self.iparm.ctypes.data_as(i32),
            ctypes.byref(ctypes.c_int32(0)), b.ctypes.data_as(f64), x.ctypes.data_as(f64), ctypes.byref(err))
        if err.value != 0:
            raise np.linalg.LinAlgError(f"PARDISO error {err.value} in phase {phase}")

    def __del__(self):
        try:
            self.call(-1, np.zeros(1), np.zeros(1), np.zeros(1))
        except Exception:
            pass


_HANDLES: "OrderedDict[tuple, _Handle]" = OrderedDict()
_MAX_HANDLES = 16


def _handle(U) -> _Handle:
    import hashlib

    # one PARDISO instance per thread: tiles may be factored by several threads at once
    key = (threading.get_ident(), U.shape[0],
           hashlib.sha1(U.indptr.tobytes() + U.indices.tobytes()).hexdigest())
    h = _HANDLES.get(key)
    if h is None:
        h = _HANDLES[key] = _Handle(U.indptr.astype(np.int32), U.indices.astype(np.int32),
                                    np.ascontiguousarray(U.data, dtype=np.float64), 0)
        while len(_HANDLES) > _MAX_HANDLES:
            _HANDLES.popitem(last=False)
    _HANDLES.move_to_end(key)
    return h


class _Pardiso:
    """Factor of a sparse SPD matrix through a cached PARDISO analysis (upper triangle)."""

    def __init__(self, A):
        import scipy.sparse as sp

        U = sp.triu(A, format="csr")
        U.sort_indices()
        self._a = np.ascontiguousarray(U.data, dtype=np.float64)
        self._h = _handle(U)
        self._factor()

    def _factor(self):
        h = self._h
        h.call(22, self._a, np.zeros(h.n), np.zeros(h.n))
        h.owner = self

    def solve(self, B: np.ndarray) -> np.ndarray:
        if self._h.owner is not self:
            self._factor()
        b = np.asfortranarray(np.asarray(B, dtype=np.float64))
        x = np.empty_like(b, order="F")
        self._h.call(33, self._a, b, x, nrhs=1 if b.ndim == 1 else b.shape[1])
        return x


class _SuperLU:
    def __init__(self, A):
        import scipy.sparse as sp
        from scipy.sparse.linalg import splu

        self._lu = splu(sp.csc_matrix(A), permc_spec="MMD_AT_PLUS_A",
                        options={"SymmetricMode": True}, diag_pivot_thresh=0.0)

    def solve(self, B):
        return self._lu.solve(np.asarray(B, dtype=np.float64))


def factorize(A, key=None):
    """Factor a sparse SPD matrix once; ``.solve(B)`` for any number of right-hand sides.
    ``key``: a hashable name of A's sparsity pattern under which its factorisations are counted
    (default: a hash of the pattern itself)."""
    if A.shape[0] == 0:
        return _Empty()
    n = A.shape[0]
    if n < SMALL_UNKNOWNS and not mkl_loaded():  # is it worth loading MKL for this pattern?
        import scipy.sparse as sp

        A = sp.csr_matrix(A)
        if not _wants_pardiso(n, _early_use(_pattern_key(A.indptr, A.indices) if key is None else key)):
            return _SuperLU(A)
    if _mkl():
        return _Pardiso(A)
    return _SuperLU(A)


class _Empty:
    def solve(self, B):
        return np.zeros_like(np.asarray(B, dtype=np.float64))


class SchurPattern:
    """Schur complements of many SPD matrices sharing one sparsity pattern (upper triangle, CSR,
    sorted, ports last): the PARDISO analysis is done once per pattern and worker, each new set
    of values costs one numerical factorisation. Thread-safe: concurrent callers each take a
    free PARDISO instance from the pattern's pool; at most ``max_handles`` (default: one per
    core) exist, further callers wait (8.5 MB of factor per 128x128 instance).
    """

    def __init__(self, indptr, indices, schur_size: int, max_handles: int | None = None):
        self.indptr = np.ascontiguousarray(indptr, dtype=np.int32)
        self.indices = np.ascontiguousarray(indices, dtype=np.int32)
        self.n = self.indptr.size - 1
        self.schur_size = int(schur_size)
        self._free: list[_Handle] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max(1, max_handles or os.cpu_count() or 1))

    def _full(self, data):
        import scipy.sparse as sp

        U = sp.csr_matrix((data, self.indices, self.indptr), shape=(self.n, self.n))
        return (U + sp.triu(U, k=1).T).tocsr()

    def schur(self, data) -> np.ndarray:
        """Dense Schur complement onto the last ``schur_size`` unknowns for values ``data``
        (the upper triangle's entries in pattern order)."""
        m, n_int = self.schur_size, self.n - self.schur_size
        data = np.ascontiguousarray(data, dtype=np.float64)
        if n_int == 0 or m == 0:
            return self._full(data).toarray()[n_int:, n_int:]
        if not _mkl():
            K = self._full(data)
            K12 = K[:n_int, n_int:].toarray()
            X = _SuperLU(K[:n_int, :n_int]).solve(K12)
            return K[n_int:, n_int:].toarray() - K12.T @ X
        with self._slots:  # at most max_handles instances, each used by one thread at a time
            with self._lock:
                h = self._free.pop() if self._free else None
            try:
                if h is None:
                    h = _Handle(self.indptr, self.indices, data, m)
                x = np.zeros(max(self.n, m * m))
                h.call(22, data, np.zeros(self.n), x)
            finally:
                if h is not None:
                    with self._lock:
                        self._free.append(h)
        S = x[: m * m].reshape(m, m)
        return 0.5 * (S + S.T)  # PARDISO returns the full symmetric block; remove rounding asymmetry
