"""Typed TOML sections: build a dataclass from a mapping, rejecting unknown keys and bad types.

Used by the experiment config (``config.py``) and by device-model files alike, so every
TOML the package reads fails the same way: one line naming the key, the file and the fix.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError


def read_toml(path, error=ConfigError) -> dict:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise error(f"file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None


#: how an error names a simple type among a union's alternatives
_WANTS = {float: "a finite number", int: "an integer", bool: "true or false", str: "a string"}


def _coerce(value: Any, tp: Any, where: str, error) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if value is None and type(None) in args:
            return None
        last = None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where, error)
            except ConfigError as exc:  # try the next alternative
                last = exc
        wants = [_WANTS.get(a) or (f"one of {', '.join(repr(v) for v in typing.get_args(a))}"
                                   if typing.get_origin(a) is typing.Literal else None)
                 for a in args if a is not type(None)]
        if last is not None and all(wants):  # simple alternatives: name them all
            raise error(f"{where} must be {' or '.join(wants)}, got {value!r}")
        raise last or error(f"{where}: bad value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise error(f"{where} = {value!r} is not one of {', '.join(repr(a) for a in args)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise error(f"{where} must be a list, got {value!r}")
        inner = args[0] if args else Any
        out = [_coerce(v, inner, f"{where}[{i}]", error) for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise error(f"{where} must be a table, got {value!r}")
        return from_mapping(tp, value, where, error)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise error(f"{where} must be true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise error(f"{where} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise error(f"{where} must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise error(f"{where} must be finite, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise error(f"{where} must be a string, got {value!r}")
        return value
    return value


def from_mapping(cls, mapping: Mapping, where: str = "", error=ConfigError):
    """Build dataclass ``cls`` from ``mapping``; unknown keys and wrong types raise ``error``."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        prefix = f"{where}." if where else ""
        raise error(
            f"unknown key {prefix}{unknown[0]!s}"
            + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
            + f"; known keys{' in [' + where + ']' if where else ''}: {', '.join(sorted(fields))}"
        )
    kwargs = {}
    for name, value in mapping.items():
        key = f"{where}.{name}" if where else name
        kwargs[name] = _coerce(value, hints[name], key, error)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # missing required field
        raise error(f"[{where or cls.__name__}]: {exc}") from None


def to_mapping(obj) -> dict:
    """Dataclass → plain dict for TOML (drops None values, which TOML cannot hold)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            continue
        if dataclasses.is_dataclass(v):
            v = to_mapping(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def merge(base: dict, override: Mapping) -> dict:
    """Recursive dict merge (override wins), used for --set style overrides."""
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def dotted(table: Mapping, prefix: str = "") -> dict:
    """{"learning": {"lr": [..]}} -> {"learning.lr": [..]}: every nested table of a resolved
    config (e.g. a run folder's config.toml) as dotted keys, leaves unchanged."""
    out = {}
    for k, v in table.items():
        if isinstance(v, Mapping):
            out.update(dotted(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def parse_override(text: str) -> dict:
    """Parse ``section.key=value`` (value in TOML syntax) into a nested dict."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected section.key=value, e.g. --set learning.beta=0.2")
    key, raw = text.split("=", 1)
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # bare string
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {text!r}: empty key")
    out: dict = value
    for p in reversed(parts):
        out = {p: out}
    return out
