"""Compiled (numba) relaxation of spiking EqSpike layers: the steps of one phase, all layers,
in one call instead of ~20 numpy calls per step.

The arithmetic is that of :meth:`EqSpikeNetwork._step` with sigma-delta neurons, row by row:

    a += h;  s = [a >= 1];  a -= s                          (every layer, from the old states)
    d_l = W_lᵀ-read(s_{l-1}) + W_{l+1}-read(s_{l+1}) + b_l [+ β (y − h_L) on the output]
    h_l = clip(h_l + eps (d_l − h_l), 0, 1)

Spikes are 0 or 1, so a read into a wide layer is the sum of the read matrix's rows at the
lines that spiked (event-driven: a row's work is its spikes, not its lines); a read into a
narrow layer (fewer than NARROW neurons, e.g. 10 outputs) is a few dot products over the
lines in SIMD. The input's drive is summed as its bright lines' rows minus those that missed
a step plus the dim lines that spiked (:func:`read_input`). These are the same terms as the
numpy path's BLAS products, summed otherwise, so states agree to float rounding; a spike can
differ when an accumulator lands within a rounding step of 1 (rare; the tests compare both
paths in float64).

Rows (images, or an image's phases) do not interact while the weights are fixed, so the rows
run in parallel, and the results do not depend on the thread count. The caller passes the
BLAS thread limit in force, so ``--threads 1`` means one thread here too. On a machine whose
other core is busy, two threads wait for each other at every kernel (an MNIST minibatch took
~25 ms instead of ~6 ms on one thread): train there with ``--threads 1`` (the default). The
kernels are compiled on first use and cached on disk next to this file (numba
``cache=True``, eqspike_xbar/compiled.py): the first process pays ~2–10 s per dtype and depth,
later ones load the cache (~0.4 s).
"""
from __future__ import annotations

import numpy as np
from numba import config as numba_config, get_num_threads, prange, set_num_threads

from ..compiled import njit_cached


@njit_cached()
def _add_rows(m, spk, d, n):  # pragma: no cover - compiled
    """d[:n] += the rows of m (lines x n) at the lines that spiked (a wide read: rows of n)."""
    for i in range(m.shape[0]):
        if spk[i] != 0:
            for j in range(n):
                d[j] += m[i, j]


@njit_cached(fastmath={"reassoc"})
def _add_dots(mt, spk, d, n, zero):  # pragma: no cover - compiled
    """d[:n] += mtᵀ-read of the spikes as n dot products (a narrow read, n < NARROW: the same
    terms as :func:`_add_rows`, summed in SIMD order, in d's dtype)."""
    for j in range(n):
        a = zero
        for i in range(mt.shape[1]):
            a += mt[j, i] * spk[i]
        d[j] += a


@njit_cached()
def _read(m, mt, spk, d, n, zero):  # pragma: no cover - compiled
    if mt.shape[0] > 0:
        _add_dots(mt, spk, d, n, zero)
    else:
        _add_rows(m, spk, d, n)


@njit_cached(parallel=True)
def _sigma_delta_steps(h, acc, drive_in, fwd, bwd, fwd_t, bwd_t, bias, eps, one, beta, y, readout_from, out, act,
                       s_trace, h_trace):  # pragma: no cover - compiled (tested through relax)
    L = len(h)
    rows = h[0].shape[0]
    T = drive_in.shape[0]
    B_in = drive_in.shape[1]
    nmax = 0
    for l in range(L):
        nmax = max(nmax, h[l].shape[1])
    nudged = beta.shape[0] > 0
    keep_s = s_trace[0].shape[0] > 0
    keep_h = h_trace[0].shape[0] > 0
    zero = one - one
    for r in prange(rows):
        spk = np.zeros((L, nmax), dtype=h[0].dtype)
        d = np.empty(nmax, dtype=h[0].dtype)
        b_in = r % B_in  # phases stacked as rows share the input's drive
        if keep_h:
            for l in range(L):
                h_trace[l][0, r, :] = h[l][r, :]
        for t in range(T):
            for l in range(L):  # the spikes every layer sends from its old state
                hl, al, ac, sl = h[l], acc[l], act[l], spk[l]
                for i in range(hl.shape[1]):
                    a = al[r, i] + hl[r, i]
                    s = one if a >= one else zero
                    al[r, i] = a - s
                    sl[i] = s
                    ac[r, i] += s
                if keep_s:
                    s_trace[l][t, r, :] = sl[: hl.shape[1]]
            for l in range(L):  # the new states
                n = h[l].shape[1]
                for j in range(n):
                    d[j] = zero
                if l == 0:
                    if L > 1:  # from above, then the input's drive
                        _read(bwd[0], bwd_t[0], spk[1], d, n, zero)
                    for j in range(n):
                        d[j] += drive_in[t, b_in, j]
                else:
                    _read(fwd[l - 1], fwd_t[l - 1], spk[l - 1], d, n, zero)  # from below
                    if l + 1 < L:  # from above
                        _read(bwd[l], bwd_t[l], spk[l + 1], d, n, zero)
                bl, hl = bias[l], h[l]
                for j in range(n):
                    x = d[j] + bl[j]
                    hv = hl[r, j]
                    if nudged and l == L - 1:
                        x += (y[r, j] - hv) * beta[r]
                    x = (x - hv) * eps + hv
                    if x < zero:
                        x = zero
                    if x > one:
                        x = one
                    hl[r, j] = x
                if keep_h:
                    h_trace[l][t + 1, r, :] = hl[r, :]
            if t >= readout_from:
                o, hl = out, h[L - 1]
                for j in range(hl.shape[1]):
                    o[r, j] += hl[r, j]


#: a read into a layer narrower than this is computed as dot products over the pre lines
#: (SIMD), a wider one as the sum of the rows at the lines that spiked
NARROW = 32


def _use_threads(n: int) -> None:
    """Run the next kernel on ``n`` threads (at least 1, at most numba's pool)."""
    n = max(1, min(n, numba_config.NUMBA_NUM_THREADS))
    if get_num_threads() != n:
        set_num_threads(n)


def relax(h, acc, drive_in, fwd, bwd, biases, eps, beta=None, y=None, readout_from=None, out=None,
          keep_trace=False, threads=1):
    """Run ``len(drive_in)`` steps of sigma-delta EqSpike layers in place.

    ``h``, ``acc``: the states and encoder accumulators of layers 1..L, each (rows, n_l) C-order
    (updated in place); ``drive_in``: the input's drive of layer 1 per step, (T, B, n_1) with
    rows = P·B (row r takes drive row r mod B); ``fwd[k-1]``, ``bwd[k-1]``: synapse layer k's
    forward (n_{k-1}, n_k) and backward (n_k, n_{k-1}) read matrices, k = 1..L-1; ``biases``
    (n_l each); ``beta`` (rows,) and ``y`` (rows, n_L): the output's nudging, None for a free
    phase; ``out`` (rows, n_L): the output states of the steps from ``readout_from`` on are added
    to it; ``keep_trace``: also return every step's spikes (T, rows, n_l) and the states before
    and after every step (T + 1, rows, n_l).

    Returns (the spikes of each row and line, [(rows, n_l)] per layer; the traces (spikes,
    states) or None)."""
    L = len(h)
    dt = h[0].dtype
    rows = h[0].shape[0]
    T = drive_in.shape[0]
    c = np.ascontiguousarray
    h, acc = tuple(h), tuple(acc)
    # empty placeholders keep the argument types fixed (numba compiles one kernel per type tuple)
    none = np.zeros((0, 0), dtype=dt)
    if L > 1:
        fwd, bwd = tuple(c(m, dtype=dt) for m in fwd), tuple(c(m, dtype=dt) for m in bwd)
        # narrow reads as dot products: the matrix transposed (lines of the post layer first)
        fwd_t = tuple(c(m.T) if m.shape[1] < NARROW else none for m in fwd)
        bwd_t = tuple(c(m.T) if m.shape[1] < NARROW else none for m in bwd)
    else:
        fwd = bwd = fwd_t = bwd_t = (none,)
    bias = tuple(c(b, dtype=dt) for b in biases)
    beta = np.zeros(0, dtype=dt) if beta is None else c(np.ravel(beta), dtype=dt)
    y = np.zeros((0, 0), dtype=dt) if y is None else c(y, dtype=dt)
    out = np.zeros((0, h[-1].shape[1]), dtype=dt) if out is None else out
    readout_from = T if readout_from is None else readout_from
    n1 = h[0].shape[1]
    if drive_in.ndim != 3 or drive_in.shape[2] != n1 or (rows and (drive_in.shape[1] == 0 or rows % drive_in.shape[1])):
        raise ValueError(f"relax: drive_in must be (steps, B, {n1}) with B dividing the {rows} rows, got {drive_in.shape}")
    for k in range(1, L):
        pre, post = h[k - 1].shape[1], h[k].shape[1]
        if fwd[k - 1].shape != (pre, post) or bwd[k - 1].shape != (post, pre):
            raise ValueError(f"relax: synapse layer {k} needs forward ({pre}, {post}) and backward ({post}, {pre}) "
                             f"matrices, got {fwd[k - 1].shape} and {bwd[k - 1].shape}")
    if (beta.size == 0) != (y.size == 0) or beta.size not in (0, rows) or y.shape not in ((0, 0), h[-1].shape):
        raise ValueError(f"relax: beta needs {rows} rows and y the output's shape {h[-1].shape}, together")
    if readout_from < T and out.shape != h[-1].shape:
        raise ValueError(f"relax: a readout needs out shaped {h[-1].shape}")
    act = tuple(np.zeros_like(hl) for hl in h)
    n_t, n_h = (T, T + 1) if keep_trace else (0, 0)
    s_trace = tuple(np.empty((n_t, rows, hl.shape[1]), dtype=dt) for hl in h)
    h_trace = tuple(np.empty((n_h, rows, hl.shape[1]), dtype=dt) for hl in h)
    if rows == 0:
        return list(act), ((list(s_trace), list(h_trace)) if keep_trace else None)
    _use_threads(min(threads, rows))
    _sigma_delta_steps(h, acc, c(drive_in, dtype=dt), fwd, bwd, fwd_t, bwd_t, bias, dt.type(eps), dt.type(1), beta, y,
                       readout_from, out, act, s_trace, h_trace)
    return list(act), ((list(s_trace), list(h_trace)) if keep_trace else None)


@njit_cached(parallel=True)
def _sigma_delta_input(x, acc, w, steps, spikes, drives, counts, counts_tail, acc_mid, one):  # pragma: no cover
    B, n_in = x.shape
    total = spikes.shape[1]
    n = w.shape[1]
    zero = one - one
    for b in prange(B):
        # a line at x >= 1/2 misses fewer steps than it spikes: the drive is read as the sum of the
        # bright lines' rows minus those that missed this step, plus the dim lines that spiked
        bright = np.empty(n_in, dtype=np.int64)
        dim = np.empty(n_in, dtype=np.int64)
        nb = nd = 0
        for i in range(n_in):
            if x[b, i] >= 0.5:
                bright[nb] = i
                nb += 1
            elif x[b, i] != 0:  # (x < 0 never spikes; its accumulator still moves, as numpy's)
                dim[nd] = i
                nd += 1
        base = np.zeros(n, dtype=w.dtype)
        for k in range(nb):
            i = bright[k]
            for j in range(n):
                base[j] += w[i, j]
        for t in range(total):
            if t == steps and acc_mid.shape[0] > 0:
                for i in range(n_in):
                    acc_mid[b, i] = acc[b, i]
            c = counts if t < steps else counts_tail
            for part in range(2):  # the encoder's step on the lit lines (x = 0 never reaches 1:
                lines, m = (bright, nb) if part == 0 else (dim, nd)  # its spikes stay 0, acc as is)
                for k in range(m):
                    i = lines[k]
                    a = acc[b, i] + x[b, i]
                    s = one if a >= one else zero
                    acc[b, i] = a - s
                    spikes[b, t, i] = s
                    c[b, i] += s
            for j in range(n):
                drives[t, b, j] = base[j]
        # line by line, so that a row of w is fetched once per image (w rarely fits in L2)
        for k in range(nb):
            i = bright[k]
            for t in range(total):
                if spikes[b, t, i] == zero:
                    d = drives[t, b]
                    for j in range(n):
                        d[j] -= w[i, j]
        for k in range(nd):
            i = dim[k]
            for t in range(total):
                if spikes[b, t, i] != zero:
                    d = drives[t, b]
                    for j in range(n):
                        d[j] += w[i, j]


def read_input(x, acc, w, steps: int, lookahead: int = 0, threads: int = 1):
    """Encode the clamped input with sigma-delta neurons for ``steps + lookahead`` steps and read
    each step's spikes through ``w`` (n_in, n_1), event by event: per image, the rows of its
    bright lines (x >= 1/2) summed once, and at each step the rows of the bright lines that did
    not spike taken off and those of the dim lines that did added (MNIST: ~20 rows per image
    and step instead of ~100 spikes).

    ``acc`` (B, n_in) is advanced in place by all the steps. Returns (spikes (B, steps +
    lookahead, n_in), drives (steps + lookahead, B, n_1), spikes per image and line in the first
    ``steps`` steps and in the rest (B, n_in), the accumulators after ``steps`` steps or None
    without ``lookahead``)."""
    dt = x.dtype
    B, n_in = x.shape
    total = steps + lookahead
    spikes = np.zeros((B, total, n_in), dtype=dt)  # (the kernel writes the lit lines only)
    if w.shape[0] != n_in:
        raise ValueError(f"read_input: w must have {n_in} rows (one per input line), got {w.shape}")
    drives = np.empty((total, B, w.shape[1]), dtype=np.result_type(dt, w.dtype))
    if n_in == 0:  # no line: no drive
        drives[...] = 0
    counts, counts_tail = np.zeros((B, n_in), dtype=dt), np.zeros((B, n_in), dtype=dt)
    acc_mid = np.empty((B if lookahead else 0, n_in), dtype=dt)
    w = np.ascontiguousarray(w, dtype=drives.dtype)
    _use_threads(min(threads, B))
    if B and n_in:
        _sigma_delta_input(np.ascontiguousarray(x), acc, w, steps, spikes, drives, counts, counts_tail, acc_mid,
                           dt.type(1))
    return spikes, drives, counts, counts_tail, (acc_mid if lookahead else None)
