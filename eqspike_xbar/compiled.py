"""Functions compiled by numba: the one place that says how (numba is imported only when a
compiled function is first needed, so commands that never train do not load it).

Compiled code is cached on disk next to its source (numba ``cache=True``: once per machine and
source version). Where no cache folder is writable (a read-only install with a read-only
home), numba refuses to cache; the function is then compiled in memory for this process, and
a warning says so once (set ``NUMBA_CACHE_DIR`` to a writable folder to keep the cache)."""
from __future__ import annotations

import logging

log = logging.getLogger(__name__)

_COMPILED: dict = {}
_warned = False


def njit_cached(**options):
    """Decorator: ``numba.njit(cache=True, **options)``, compiled in memory where the cache
    cannot be written. For modules that import numba anyway (eqspike/kernels.py)."""
    from numba import njit

    def deco(fn):
        global _warned
        try:
            return njit(cache=True, **options)(fn)
        except RuntimeError as err:  # "cannot cache function ...: no locator available for file ..."
            if not _warned:
                log.warning("numba cannot cache compiled code here (%s): compiling in memory for this process; "
                            "set NUMBA_CACHE_DIR to a writable folder to keep it", err)
                _warned = True
            return njit(**options)(fn)

    return deco


def compiled(fn, **options):
    """``fn`` compiled by :func:`njit_cached` on its first use (then remembered), for modules that
    must not import numba when they are imported (devices/, synapses/)."""
    key = (fn, tuple(sorted(options.items())))
    k = _COMPILED.get(key)
    if k is None:
        k = _COMPILED[key] = njit_cached(**options)(fn)
    return k
