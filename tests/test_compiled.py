"""eqspike_xbar/compiled.py: numba-compiled functions, with a disk cache where one can be written."""
import logging

import numba

from eqspike_xbar import compiled as compiled_mod


def test_compiles_in_memory_where_the_cache_cannot_be_written(monkeypatch, caplog):
    real = numba.njit

    def refusing_cache(*args, cache=False, **kw):
        if cache:  # what numba raises when neither the source folder nor a user cache folder is writable
            raise RuntimeError("cannot cache function 'f': no locator available for file '/ro/f.py'")
        return real(*args, **kw)

    monkeypatch.setattr(numba, "njit", refusing_cache)
    monkeypatch.setattr(compiled_mod, "_warned", False)

    def add_one(x):
        return x + 1

    with caplog.at_level(logging.WARNING):
        f = compiled_mod.compiled(add_one)
        assert f(41) == 42
        assert compiled_mod.compiled(add_one) is f  # compiled once
    assert "NUMBA_CACHE_DIR" in caplog.text


def test_compiled_functions_are_remembered_per_options():
    def twice(x):
        return 2 * x

    a, b = compiled_mod.compiled(twice), compiled_mod.compiled(twice, fastmath=True)
    assert a(3) == b(3) == 6
    assert a is compiled_mod.compiled(twice) and a is not b
