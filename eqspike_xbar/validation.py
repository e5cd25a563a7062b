"""All input checks in one place: small named checks whose messages name the argument.

Netlist safety: text from files or flags reaches a netlist only as an identifier checked by
:func:`safe_identifier` or as a number formatted by :func:`spice_number`; every generated
netlist passes :func:`check_netlist` before it is written or run, so it can never carry
commands ngspice would execute (``.control``, ``shell``, ...).
"""
from __future__ import annotations

import math
import re

import numpy as np

from .errors import CircuitError, ConfigError, NetlistSafetyError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

# Lines (after optional whitespace) that would make ngspice execute something or read
# files we did not write. Generated netlists only ever use .include for files under the
# project's circuits/ folder, added by the generator itself (allowed via `allow_include`).
_FORBIDDEN_LINE = re.compile(
    r"^\s*(\.control|\.endc|\.exec|\.python|shell\b|\.shell\b|system\b|source\b|\.lib\b|\.inc(lude)?\b|pre_osdi\b|\.osdi\b)",
    re.IGNORECASE,
)


def safe_identifier(value: object, what: str) -> str:
    """Return ``value`` if it is a safe SPICE/file identifier, else raise NetlistSafetyError."""
    if not isinstance(value, str) or not _IDENT.match(value):
        raise NetlistSafetyError(
            f"{what} {value!r} is not a safe identifier: use 1-64 characters from "
            "A-Z a-z 0-9 _ , starting with a letter or _"
        )
    return value


def spice_number(value: float, what: str) -> str:
    """Format a finite float for a netlist (full precision, no unit suffix)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise NetlistSafetyError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(v):
        raise NetlistSafetyError(f"{what} must be finite, got {value!r}")
    return repr(v)


def check_netlist(text: str, allowed_includes: tuple[str, ...] = ()) -> str:
    """Reject netlist text containing executable control constructs.

    ``.include``/``.lib`` lines are allowed only when they name exactly one of
    ``allowed_includes`` (absolute paths the generator itself inserted).
    """
    for lineno, line in enumerate(text.splitlines(), 1):
        if "`" in line:
            raise NetlistSafetyError(f"netlist line {lineno} contains a backquote: {line.strip()!r}")
        if _FORBIDDEN_LINE.match(line):
            stripped = line.strip()
            parts = stripped.split(None, 1)
            if (
                parts[0].lower() in (".include", ".inc", ".lib")
                and len(parts) == 2
                and parts[1].strip().strip('"') in allowed_includes
            ):
                continue
            raise NetlistSafetyError(
                f"netlist line {lineno} would make ngspice execute or read something: {stripped!r}"
            )
    return text


def check_finite(name: str, array) -> np.ndarray:
    a = np.asarray(array, dtype=float)
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        raise CircuitError(f"{name} has {bad} non-finite value(s) (NaN or inf); all values must be finite")
    return a


def check_nonnegative(name: str, array) -> np.ndarray:
    a = check_finite(name, array)
    if np.any(a < 0):
        raise CircuitError(f"{name} has negative values (min {a.min():.3g}); conductances must be >= 0 S")
    return a


def check_positive_number(name: str, value, allow_zero: bool = False, error=ConfigError) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise error(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise error(f"{name} must be {'>= 0' if allow_zero else '> 0'} and finite, got {value!r}")
    return v


def _numeric(name: str, a) -> np.ndarray:
    try:
        return np.asarray(a, dtype=float)
    except (TypeError, ValueError):
        raise CircuitError(f"{name} must be numbers, got {np.asarray(a, dtype=object).ravel()[:3]!r}...") from None


def check_conductances(g, name: str = "conductances") -> np.ndarray:
    g = check_nonnegative(name, _numeric(name, g))
    if g.ndim != 2 or 0 in g.shape:
        raise CircuitError(f"{name} must be a non-empty 2-D (rows x columns) array, got shape {g.shape}")
    return g


def check_inputs(v, n: int, name: str = "input voltages") -> np.ndarray:
    v = check_finite(name, _numeric(name, v))
    v2 = np.atleast_2d(v)
    if v2.ndim != 2 or v2.shape[1] != n:
        raise CircuitError(f"{name} has shape {v.shape}, expected ({n},) or (batch, {n}) for this direction")
    return v2


def check_choice(name: str, value, allowed, error=CircuitError):
    """``value`` if it is one of ``allowed``, else one error naming the choices."""
    if value not in allowed:
        raise error(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value
