"""BLAS threads: one context for code whose products are too small for two threads to help."""
from __future__ import annotations

_BLAS = None


def one_blas_thread():
    """Context: the BLAS of numpy on one thread (measured with 2 threads on 2 busy cores: 20
    per-image products took 8.0 ms against 1.65 ms on one thread; 128 inverses of 128 x 128
    took 0.34 s of CPU against 0.07 s). threadpoolctl is imported, and its controller (which
    lists the loaded BLAS libraries) made, on first use only."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")
