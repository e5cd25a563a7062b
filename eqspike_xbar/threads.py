"""BLAS threads: one context for code whose products are too small for two threads to help,
and the thread count in force for compiled kernels."""
from __future__ import annotations

_BLAS = None


def _controller():
    """threadpoolctl's controller (it lists the loaded BLAS libraries), imported and made on
    first use only."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS


def one_blas_thread():
    """Context: the BLAS of numpy on one thread (measured with 2 threads on 2 busy cores: 20
    per-image products took 8.0 ms against 1.65 ms on one thread; 128 inverses of 128 x 128
    took 0.34 s of CPU against 0.07 s)."""
    return _controller().limit(limits=1, user_api="blas")


def blas_threads() -> int:
    """The thread count the BLAS of numpy may use now (the smallest over the loaded BLAS
    libraries; 1 when none is found): compiled kernels use as many, so ``--threads N`` holds
    for them too (~3 µs per call)."""
    counts = [lib.num_threads for lib in _controller().select(user_api="blas").lib_controllers]
    return max(1, min(counts)) if counts else 1
