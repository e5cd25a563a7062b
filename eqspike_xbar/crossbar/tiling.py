"""Tiling a layer larger than the maximum array size into crossbars whose partial outputs add.

Each tile is its own circuit with its own (shorter) wires: tiling is a hardware choice
(``max_rows`` x ``max_cols``, default 128 x 128), not a numerical shortcut. Tile (a, b)
holds rows ``a*max_rows ...`` and columns ``b*max_cols ...``; forward, column block b sums
the partial currents of the tiles (·, b); backward, row block a sums those of (a, ·).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import CircuitError
from ..validation import check_conductances, check_inputs
from .solver import FastCrossbar, read_currents
from .spec import CrossbarSpec, check_direction

MAX_ARRAY = (128, 128)


def tile_slices(shape: tuple[int, int], max_rows: int = MAX_ARRAY[0], max_cols: int = MAX_ARRAY[1]):
    """List of (row slice, column slice) covering an M x N layer with tiles ≤ max_rows x max_cols."""
    if int(max_rows) < 1 or int(max_cols) < 1:
        raise CircuitError(f"maximum array size must be >= 1 x 1, got {max_rows} x {max_cols}")
    M, N = shape
    return [(slice(r, min(r + max_rows, M)), slice(c, min(c + max_cols, N)))
            for r in range(0, M, max_rows) for c in range(0, N, max_cols)]


class TiledCrossbar:
    """A layer of conductances ``g`` (M x N, S) on tiles of at most ``max_array`` cells."""

    def __init__(self, g, spec: CrossbarSpec = CrossbarSpec(), max_array=MAX_ARRAY):
        self.g = check_conductances(g)
        self.spec = spec
        self.slices = tile_slices(self.g.shape, *max_array)
        self.tiles = [FastCrossbar(self.g[rs, cs], spec) for rs, cs in self.slices]

    def read(self, v, direction: str = "forward", backend: str = "fast", **options) -> np.ndarray:
        """Summed tile outputs (A), (B, N) forward / (B, M) backward; inputs (B, M | N) in V."""
        check_direction(direction)
        M, N = self.g.shape
        v = check_inputs(v, M if direction == "forward" else N)
        out = np.zeros((v.shape[0], N if direction == "forward" else M))
        for (rs, cs), tile in zip(self.slices, self.tiles):
            vin, dst = (rs, cs) if direction == "forward" else (cs, rs)
            if backend == "fast":
                out[:, dst] += tile.read(v[:, vin], direction)
            else:
                out[:, dst] += read_currents(tile.g, v[:, vin], self.spec, direction, backend, **options)
        return out

    def transfer_matrix(self, direction: str = "forward", workers: int | None = None) -> np.ndarray:
        """Block matrix (M, N) of the tiles' effective conductances (S); see :func:`transfer_matrices`."""
        return transfer_matrices([self], direction, workers)[0]


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def transfer_matrices(crossbars, direction: str = "forward", workers: int | None = None) -> list[np.ndarray]:
    """The transfer matrices of several tiled crossbars (e.g. a layer's G+ and G− arrays).
    Tiles are independent circuits: all tiles of all crossbars are factored on ``workers``
    threads of a persistent pool (default: one per core; the sparse factorisation releases
    the GIL, and each worker keeps its solver's analysis of the tile pattern)."""
    blocks = iter(tile_transfer_matrices([t for xb in crossbars for t in xb.tiles], direction, workers))
    out = []
    for xb in crossbars:
        w = np.zeros(xb.g.shape)
        for rs, cs in xb.slices:
            w[rs, cs] = next(blocks)
        out.append(w)
    return out


def tile_transfer_matrices(tiles, direction: str = "forward", workers: int | None = None) -> list[np.ndarray]:
    """The transfer matrices of independent tiles (:class:`FastCrossbar`), in order, on
    ``workers`` threads of a persistent pool (default: one per core)."""
    workers = workers or min(len(tiles), os.cpu_count() or 1)
    if workers > 1 and len(tiles) > 1:
        key = (os.getpid(), workers)  # a forked child must not use its parent's (dead) threads
        pool = _POOLS.get(key) or _POOLS.setdefault(key, ThreadPoolExecutor(workers, "tile"))
        return list(pool.map(lambda t: t.transfer_matrix(direction), tiles))
    return [t.transfer_matrix(direction) for t in tiles]


def effective_weights(g_pos, g_neg, mapping, spec: CrossbarSpec = CrossbarSpec(),
                      direction: str = "forward", max_array=MAX_ARRAY) -> np.ndarray:
    """Weights the circuit actually applies: (W(G+) − W(G−)) / scale, tiled; forward
    ``y = x @ W``, backward ``y = W @ x`` (x in units of the read voltage)."""
    pos, neg = transfer_matrices([TiledCrossbar(g_pos, spec, max_array), TiledCrossbar(g_neg, spec, max_array)],
                                 direction)
    return (pos - neg) / mapping.scale
