"""Finding libngspice and the project's ``circuits/`` folder.

The shared library is looked up, in order, in ``$NGSPICE_LIBRARY_PATH``, through
``ctypes.util.find_library("ngspice")`` (ldconfig) and in common install paths. A missing
library raises :class:`~eqspike_xbar.errors.NgspiceError` naming the install command.
"""
from __future__ import annotations

import ctypes.util
import os
import re
from pathlib import Path

from ..errors import NgspiceError, NetlistSafetyError

INSTALL_HINT = (
    "run scripts/setup.sh, or as root: apt-get install -t bookworm-backports ngspice libngspice0 "
    "(ngspice >= 46 compiled with KLU)"
)

_COMMON_PATHS = (
    "/usr/lib/x86_64-linux-gnu/libngspice.so.0",
    "/usr/lib/aarch64-linux-gnu/libngspice.so.0",
    "/usr/lib64/libngspice.so.0",
    "/usr/lib/libngspice.so.0",
    "/usr/local/lib/libngspice.so.0",
    "/usr/local/lib/libngspice.so",
    "/opt/homebrew/lib/libngspice.dylib",
)

#: The project's SPICE subcircuit library folder (``<repo>/circuits``).
CIRCUITS_DIR = Path(__file__).resolve().parents[2] / "circuits"

_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")


def find_library() -> str:
    """Return the path (or soname) of libngspice, or raise NgspiceError with the install hint."""
    env = os.environ.get("NGSPICE_LIBRARY_PATH")
    if env:
        if Path(env).is_file():
            return env
        raise NgspiceError(f"NGSPICE_LIBRARY_PATH={env!r} is not a file: unset it or {INSTALL_HINT}")
    for path in _COMMON_PATHS:
        if Path(path).is_file():
            return path
    found = ctypes.util.find_library("ngspice")
    if found:
        return found
    raise NgspiceError(f"libngspice (ngspice shared library) not found: {INSTALL_HINT}")


def circuit_file(name: str) -> Path:
    """Absolute path of ``circuits/<name>``; the name must be a plain existing file name."""
    if not isinstance(name, str) or not _FILE_NAME.match(name) or ".." in name:
        raise NetlistSafetyError(f"circuit library name {name!r} must be a plain file name inside circuits/")
    path = CIRCUITS_DIR / name
    if not path.is_file():
        available = ", ".join(sorted(p.name for p in CIRCUITS_DIR.glob("*") if p.is_file())) or "none"
        raise NgspiceError(f"circuit library circuits/{name} not found (available: {available})")
    return path


def include_line(name: str) -> tuple[str, str]:
    """``(line, path)``: the ``.include`` line for ``circuits/<name>`` and the absolute path.

    Pass ``path`` in ``allowed_includes`` of :func:`~eqspike_xbar.validation.check_netlist`
    (the runner allows every file in ``circuits/`` already).
    """
    path = str(circuit_file(name))
    return f'.include "{path}"', path


def allowed_includes() -> tuple[str, ...]:
    """Absolute paths of every file in ``circuits/`` (the only files a netlist may include)."""
    if not CIRCUITS_DIR.is_dir():
        return ()
    return tuple(str(p) for p in sorted(CIRCUITS_DIR.iterdir()) if p.is_file())
