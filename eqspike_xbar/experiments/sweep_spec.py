"""Sweep files: a base experiment config plus named axes, expanded into validated grid points.

A sweep file (TOML)::

    name = "digits-lr"                      # optional: run-id suffix (default: the file's stem)
    base = "digits_eqspike.toml"            # optional: experiment config, relative to this file or cwd
    [set]                                   # optional: overrides of the base for every point
    "learning.epochs" = 3                   # dotted keys or nested tables
    [axes]                                  # required, >= 1 axis, each a non-empty list
    "learning.beta" = [0.5, 1.0]            # any config key ...
    seeds = [0, 1]                          # ... or an alias (ALIASES): seeds -> run.seed

The grid is the Cartesian product of the axes, in the order written. Every point's config
is built and validated (``config_from_dict``) before anything runs, so an unknown key or a
bad value fails at once with one line naming it.

An axis over ``synapses.effects_off`` measures what switching effects off does: an update
scheme's ``threshold = "auto"`` is held at the θ of the point's device with the base's effects
(as the main job's ablation does), not re-derived with C2C off (θ = 1).
"""
from __future__ import annotations

import dataclasses
import itertools
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from ..config import ExperimentConfig, config_from_dict
from ..config_tools import merge, read_toml
from ..errors import ConfigError, EqSpikeXbarError

# Short names for the usual nonidealities, each setting one or more config keys at once.
# Only aliases whose targets exist belong here (a test checks them against ExperimentConfig
# and the device-model schema). Not expressible as an alias: the on/off ratio (sweep
# synapses.device_overrides.conductance.gmin_S or gmax_S directly).
_DEV = "synapses.device_overrides."
ALIASES: dict[str, tuple[str, ...]] = {
    "seeds": ("run.seed",),
    "wire_resistance_ohm": ("synapses.circuit.r_wordline_ohm", "synapses.circuit.r_bitline_ohm"),
    "array_size": ("synapses.circuit.max_array_rows", "synapses.circuit.max_array_cols"),
    "levels": (_DEV + "conductance.levels", _DEV + "conductance.levels_ltd"),
    "c2c_sigma": (_DEV + "noise.c2c_sigma",),
    "read_noise_sigma": (_DEV + "noise.read_sigma",),
    "d2d_g_rel": (_DEV + "d2d.gmin_rel", _DEV + "d2d.gmax_rel"),
    "stuck_at_rate": (_DEV + "faults.stuck_gmin_rate", _DEV + "faults.stuck_gmax_rate"),  # each kind
    "on_off_ratio": ("synapses.on_off_ratio",),
}

#: the key of an axis that switches device effects off (a scheme's 'auto' θ is held there)
OFF = "synapses.effects_off"

# Dimension names that differ from the axis name made NetCDF-safe.
_DIM_NAMES = {"seeds": "seed"}
# Per-point variables of the sweep Dataset; an axis may not take these names.
RESERVED = ("status", "error", "point_id", "wall_time_s")
_TOP_KEYS = ("name", "base", "set", "axes")


@dataclass(frozen=True)
class Axis:
    name: str  # as written in the sweep file (a dotted key or an alias)
    keys: tuple[str, ...]  # config keys it sets
    values: tuple  # TOML values, one per grid position
    dim: str  # NetCDF-safe dimension name

    def coordinate(self) -> np.ndarray:
        """Coordinate values: numbers, strings or booleans as they are; lists/tables as TOML text."""
        vals = list(self.values)
        if all(isinstance(v, bool) for v in vals):
            return np.array(vals, dtype=bool)
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return np.array(vals)
        if all(isinstance(v, str) for v in vals):
            return np.array(vals, dtype=object)
        return np.array([toml_value(v) for v in vals], dtype=object)


@dataclass(frozen=True)
class Point:
    index: tuple[int, ...]  # position on each axis
    pid: str  # folder name under points/
    label: str  # "learning_beta=0.5, seed=0"
    config: dict  # resolved experiment config (plain mapping, picklable)


@dataclass
class SweepSpec:
    name: str
    base: dict  # resolved base config (defaults filled in, [set] applied)
    axes: list[Axis]
    source: str = ""

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(a.dim for a in self.axes)

    def points(self) -> list[Point]:
        """Every grid point with its validated config (raises ConfigError on the first bad one)."""
        out, checked = [], set()
        width = max(4, len(str(int(np.prod(self.shape)) - 1)))
        hold = any(OFF in axis.keys for axis in self.axes)
        for flat, index in enumerate(itertools.product(*(range(n) for n in self.shape))):
            d = self.base
            parts = []
            for axis, i in zip(self.axes, index):
                value = axis.values[i]
                for key in axis.keys:
                    d = merge(d, nested(key, value))
                parts.append(f"{axis.dim}={toml_value(value)}")
            label = ", ".join(parts)
            where = f"{self.source or 'sweep'}: point {label}"
            if hold:  # θ 'auto' of this point's device with the base's effects (see the module doc)
                from ..synapses.schemes import held_auto_threshold

                config_from_dict(d, where)  # (a bad point fails here, with its name)
                d = merge(d, held_auto_threshold(merge(d, nested(OFF, self.base["synapses"]["effects_off"]))))
            cfg = config_from_dict(d, where)
            _check_device(cfg, where, checked)
            out.append(Point(index, f"p{flat:0{width}d}", label, cfg.to_dict()))
        return out

    def to_toml(self) -> str:
        """The resolved sweep (what ``--resume`` reads): the full base config as [set], and the axes."""
        return tomli_w.dumps({"name": self.name, "set": self.base, "axes": {a.name: list(a.values) for a in self.axes}})


# ------------------------------------------------------------------ helpers
def _check_device(cfg, where: str, checked: set) -> None:
    """Build each distinct device of a programmed backend now (library name or TOML, overrides,
    on/off ratio, effects switched off), not in a worker after the cluster has started."""
    syn = cfg.synapses
    key = (syn.backend, syn.device, toml_value(syn.device_overrides or {}), syn.on_off_ratio, tuple(syn.effects_off))
    if key in checked:
        return
    from .runs import check_devices

    check_devices(cfg, where)
    checked.add(key)


def toml_value(v: Any) -> str:
    """A value as one line of TOML (``0.5``, ``"x"``, ``[64, 16, 10]``, ``{a = 1}``)."""
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{tomli_w.dumps({k: 0})[:-5]} = {toml_value(x)}" for k, x in v.items()) + "}"
    return tomli_w.dumps({"v": v})[4:].strip()


def nested(dotted: str, value: Any) -> dict:
    out: Any = value
    for p in reversed(dotted.split(".")):
        out = {p: out}
    return out


def netcdf_name(name: str) -> str:
    """A NetCDF/xarray-safe dimension name: ``learning.beta`` -> ``learning_beta``."""
    if name in _DIM_NAMES:
        return _DIM_NAMES[name]
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if re.match(r"[A-Za-z_]", s) else f"_{s}"


def key_error(dotted: str) -> str | None:
    """Why ``dotted`` is not a key of ExperimentConfig (None if it is). Keys below a free-form
    table (a dict-typed field) are accepted here and checked when the point's config is built."""
    tp: Any = ExperimentConfig
    parts = dotted.split(".")
    if not all(parts):
        return f"{dotted!r} is not a dotted config key (e.g. learning.beta)"
    for i, part in enumerate(parts):
        section = _dataclass_in(tp)
        if section is None:  # below a free-form table (checked later) or below a plain value
            return None if _is_table(tp) else f"{'.'.join(parts[:i])} is a value, not a table"
        names = [f.name for f in dataclasses.fields(section) if f.init]
        if part not in names:
            where = ".".join(parts[:i])
            return (f"unknown key {'.'.join(parts[: i + 1])}; known keys in "
                    f"[{where or 'top level'}]: {', '.join(sorted(names))}")
        tp = typing.get_type_hints(section)[part]
    return None


def _dataclass_in(tp):
    if dataclasses.is_dataclass(tp):
        return tp
    for a in typing.get_args(tp):  # Optional[Section] and the like
        if dataclasses.is_dataclass(a):
            return a
    return None


def _is_table(tp) -> bool:
    if tp is Any:
        return True
    origin = typing.get_origin(tp) or tp
    try:
        return issubclass(origin, typing.Mapping)
    except TypeError:
        return any(_is_table(a) for a in typing.get_args(tp))


def resolve_key(name: str, where: str) -> tuple[str, ...]:
    """Config keys an axis or [set] name stands for (an alias or the dotted key itself)."""
    keys = ALIASES.get(name, (name,))
    for k in keys:
        err = key_error(k)
        if err:
            hint = f" (aliases: {', '.join(sorted(ALIASES))})" if name not in ALIASES else ""
            raise ConfigError(f"{where}: {name!r} is not a config key: {err}{hint}")
    return keys


def _flatten(table: dict, prefix: str = "") -> dict:
    """{"learning": {"beta": [..]}} -> {"learning.beta": [..]}: nested tables of config sections
    become dotted keys; dotted keys and free-form tables are kept as they are."""
    out = {}
    for k, v in table.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key not in ALIASES and _is_section(key):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _is_section(dotted: str) -> bool:
    tp: Any = ExperimentConfig
    for part in dotted.split("."):
        tp = _dataclass_in(tp)
        if tp is None or part not in {f.name for f in dataclasses.fields(tp)}:
            return False
        tp = typing.get_type_hints(tp)[part]
    return _dataclass_in(tp) is not None


# ------------------------------------------------------------------ loading
def parse_sweep(doc: dict, where: str, base_dir: Path | None = None, overrides: list[dict] | None = None) -> SweepSpec:
    """Build a SweepSpec from a parsed sweep TOML (``where`` names it in errors)."""
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a TOML table")
    unknown = sorted(set(doc) - set(_TOP_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; a sweep file has {', '.join(_TOP_KEYS)}")
    name = doc.get("name", "")
    if not isinstance(name, str):
        raise ConfigError(f"{where}: name must be a string, got {name!r}")

    base: dict = {}
    if "base" in doc:
        if not isinstance(doc["base"], str) or not doc["base"]:
            raise ConfigError(f"{where}: base must be the path of an experiment config, got {doc['base']!r}")
        base = read_toml(_find_base(doc["base"], base_dir, where))
    sets = doc.get("set", {})
    if not isinstance(sets, dict):
        raise ConfigError(f"{where}: [set] must be a table of config keys, got {sets!r}")
    for key, value in _flatten(sets).items():
        for k in resolve_key(key, f"{where} [set]"):
            base = merge(base, nested(k, value))
    for o in overrides or []:
        base = merge(base, o)
    from .runs import pop_seeds

    base, _ = pop_seeds(base)  # a base's [run] seeds: a sweep's seeds are its `seeds` axis
    base = config_from_dict(base, f"{where} (base config)").to_dict()

    axes_doc = doc.get("axes")
    if axes_doc is None:
        raise ConfigError(f"{where}: no [axes] table: give at least one axis, e.g. seeds = [0, 1]")
    if not isinstance(axes_doc, dict):
        raise ConfigError(f"{where}: [axes] must be a table of key = [values], got {axes_doc!r}")
    axes_doc = _flatten(axes_doc)
    if not axes_doc:
        raise ConfigError(f"{where}: [axes] is empty: the grid has no points; give e.g. seeds = [0, 1]")
    axes: list[Axis] = []
    seen_keys: dict[str, str] = {}
    for axis_name, values in axes_doc.items():
        keys = resolve_key(axis_name, f"{where} [axes]")
        if not isinstance(values, list):
            raise ConfigError(f"{where} [axes]: {axis_name} must be a list of values, got {values!r}")
        if not values:
            raise ConfigError(f"{where} [axes]: {axis_name} = [] is empty: the grid has no points")
        texts = [toml_value(v) for v in values]
        dup = next((t for i, t in enumerate(texts) if t in texts[:i]), None)
        if dup is not None:
            raise ConfigError(f"{where} [axes]: {axis_name} lists {dup} twice")
        for k in keys:
            if k in seen_keys:
                raise ConfigError(f"{where} [axes]: {axis_name} and {seen_keys[k]} both set {k}")
            seen_keys[k] = axis_name
        dim = netcdf_name(axis_name)
        if dim in RESERVED or dim in (a.dim for a in axes):
            raise ConfigError(f"{where} [axes]: axis {axis_name} would be named {dim!r}, which is taken")
        axes.append(Axis(axis_name, keys, tuple(values), dim))
    return SweepSpec(name=name, base=base, axes=axes, source=where)


def load_sweep(path, overrides: list[dict] | None = None) -> SweepSpec:
    path = Path(path)
    spec = parse_sweep(read_toml(path), str(path), path.parent, overrides)
    spec.name = spec.name or path.stem
    return spec


def _find_base(base: str, base_dir: Path | None, where: str) -> Path:
    candidates = [base_dir / base] if base_dir is not None and not Path(base).is_absolute() else []
    candidates.append(Path(base))
    for c in candidates:
        if c.is_file():
            return c
    raise ConfigError(f"{where}: base config {base!r} not found (looked in {', '.join(str(c) for c in candidates)})")
