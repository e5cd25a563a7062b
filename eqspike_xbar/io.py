"""Atomic writes: a file is either its old version or its complete new one, never half.

Everything the package writes into a run folder goes through these functions (write to a
temporary file in the same folder, fsync, ``os.replace``).

A stop request (Ctrl-C, ``kill``) that arrives while a file is being written waits until the
write is done: an exception raised inside a NetCDF/HDF5 call can leave the library's global
lock held (the next write hangs) or a half-closed file that crashes the interpreter at exit.
``cli.main`` installs :func:`interrupt` as the SIGINT/SIGTERM handler.
"""
from __future__ import annotations

import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path

from .errors import RunFolderError


_WRITING = 0            # depth of writes in progress in this process
_PENDING = False        # a stop request arrived during one of them


def interrupt(signum=None, frame=None):
    """Signal handler: raise KeyboardInterrupt now, or at the end of the write in progress."""
    global _PENDING
    if _WRITING:
        _PENDING = True
    else:
        raise KeyboardInterrupt


@contextmanager
def uninterrupted():
    """Run the block to its end before a stop request that arrives inside it is honoured.
    Only the main thread's blocks count: signal handlers run there, and so must the interrupt."""
    global _WRITING, _PENDING
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _WRITING += 1
    try:
        yield
    finally:
        _WRITING -= 1
        if not _WRITING and _PENDING:
            _PENDING = False
            raise KeyboardInterrupt


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically."""
    import tempfile  # here, not at import: the command line loads this module for every command

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise RunFolderError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with uninterrupted():
            yield Path(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise RunFolderError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(p):
    try:
        os.unlink(p)
    except OSError:
        pass


def write_text(path, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_bytes(path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_netcdf(dataset, path) -> Path:
    """Write an xarray Dataset to NetCDF atomically."""
    with atomic_path(path, suffix=".nc") as tmp:
        dataset.to_netcdf(tmp)
    return Path(path)


def save_figure(fig, path, dpi: int = 120) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=Path(path).suffix) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def save_npz(path, **arrays) -> Path:
    import numpy as np

    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    return Path(path)


def ensure_writable_dir(path, what: str = "run folder", hint: str = "choose another with --runs-dir") -> Path:
    """Create ``path`` (and parents) and check that files can be written in it."""
    import tempfile

    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe.", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise RunFolderError(
            f"{what} {path} is not writable ({exc.strerror or exc}): {hint}"
        ) from None
    return path


# mkstemp's random part: 8 characters of [a-z0-9_]
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}(?P<suffix>\.[^./]*)?")


def temporaries(folder) -> list[Path]:
    """Temporary files :func:`atomic_path` leaves when its process is killed mid-write
    (``.<name>.<random><suffix>``) in ``folder`` and its sub-folders."""
    out = []
    folder = Path(folder)
    if not folder.is_dir():
        return out
    for p in folder.rglob(".*"):
        m = _TEMPORARY.fullmatch(p.name)
        if m and p.is_file() and (m["suffix"] or "") == Path(m["name"]).suffix:
            out.append(p)
    return out


def remove_temporaries(folder) -> int:
    """Delete :func:`temporaries` (call it when resuming: no writer is alive); returns how many."""
    n = 0
    for p in temporaries(folder):
        _unlink(p)
        n += 1
    return n
