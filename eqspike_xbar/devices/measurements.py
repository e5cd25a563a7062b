"""Reading measured conductance-vs-pulse data into *ramps* (one direction, identical pulses).

Three layouts (all CSV; values are multiplied by ``scale`` and shifted by ``offset_S`` to
give conductances in S):

``long`` (the native format, with a header)
    ``direction,conductance_S`` required; ``device``, ``cycle``, ``pulse`` optional.
    ``direction`` is ``ltp``/``set``/``up``/``+1`` or ``ltd``/``reset``/``down``/``-1``. Rows of
    one device are in time order (or sorted by ``pulse`` within a ramp); a ramp is one
    (device, cycle, direction), or, without ``cycle``, a run of rows of one direction.
``columns`` (e.g. CrossSim's ``set.csv``/``reset.csv``)
    one header row, then one column per ramp; trailing blanks, NaN or 0 mean "no data".
``updown`` (e.g. aihwkit's Gong et al. file)
    no header, two columns: response to consecutive up pulses, to consecutive down pulses.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DeviceModelError

#: Fewest points a ramp needs to be used by the fit.
MIN_RAMP_POINTS = 8

_DIRECTIONS = {"ltp": 1, "set": 1, "up": 1, "+1": 1, "1": 1, "pot": 1,
               "ltd": -1, "reset": -1, "down": -1, "-1": -1, "dep": -1}
_LONG_COLUMNS = ("device", "cycle", "pulse", "direction", "conductance_S")


@dataclass
class Ramp:
    """Conductances (S) read after successive identical pulses of one direction."""

    direction: int  #: +1 potentiation (LTP/SET), −1 depression (LTD/RESET)
    g: np.ndarray  #: conductance after each pulse (S)
    device: str = "0"
    cycle: int = 0


def _rows(path: Path) -> list[list[str]]:
    try:
        with open(path, newline="") as fh:
            rows = [row for row in csv.reader(fh) if any(c.strip() for c in row)]
    except FileNotFoundError:
        raise DeviceModelError(f"measurement file not found: {path}") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DeviceModelError(f"cannot read {path} as CSV: {exc}") from None
    if not rows:
        raise DeviceModelError(f"{path} is empty: expected conductance-vs-pulse data")
    return rows


def _number(text: str, path: Path, line: int, column: str) -> float:
    text = text.strip()
    if text == "" or text.lower() == "nan":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise DeviceModelError(f"{path} line {line}, column {column!r}: {text!r} is not a number") from None


def _to_siemens(values, path: Path, scale: float, offset_S: float) -> np.ndarray:
    g = np.asarray(values, dtype=float) * scale + offset_S
    finite = g[np.isfinite(g)]
    if finite.size and finite.min() < 0:
        raise DeviceModelError(
            f"{path}: negative conductance ({finite.min():.3g} S) after scale {scale:g} and offset "
            f"{offset_S:g} S: give --scale/--offset that map the data to conductances >= 0 S")
    return g


def _trim(g: np.ndarray) -> np.ndarray:
    """Keep the leading run of finite, positive values (a partial ramp ends at its first gap)."""
    bad = ~np.isfinite(g) | (g <= 0)
    return g[: int(np.argmax(bad))] if bad.any() else g


def read_long(path, scale: float = 1.0, offset_S: float = 0.0) -> list[Ramp]:
    path = Path(path)
    rows = _rows(path)
    header = [h.strip() for h in rows[0]]
    unknown = [h for h in header if h not in _LONG_COLUMNS]
    missing = [h for h in ("direction", "conductance_S") if h not in header]
    if unknown or missing:
        raise DeviceModelError(
            f"{path}: header {','.join(header)!r} does not fit --layout long: "
            + "; ".join(([f"unknown column(s) {', '.join(map(repr, unknown))}"] if unknown else [])
                        + ([f"required column(s) {', '.join(map(repr, missing))} missing"] if missing else []))
            + f" (known columns: {', '.join(_LONG_COLUMNS)}; direction and conductance_S are required); "
            "for one ramp per column use --layout columns, for two headerless columns up,down --layout updown")
    col = {h: i for i, h in enumerate(header)}
    records = []
    for line, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            raise DeviceModelError(f"{path} line {line}: {len(row)} fields, header has {len(header)}")
        word = row[col["direction"]].strip().lower()
        if word not in _DIRECTIONS:
            raise DeviceModelError(f"{path} line {line}: direction {word!r} is not ltp/set/up/+1 or ltd/reset/down/-1")
        device = row[col["device"]].strip() if "device" in col else "0"
        cycle = _number(row[col["cycle"]], path, line, "cycle") if "cycle" in col else math.nan
        pulse = _number(row[col["pulse"]], path, line, "pulse") if "pulse" in col else float(line)
        g = _number(row[col["conductance_S"]], path, line, "conductance_S")
        records.append((device, cycle, _DIRECTIONS[word], pulse, g))
    if not records:
        raise DeviceModelError(f"{path} has a header but no data rows")
    groups: dict = {}  # (device, direction, cycle or run number) -> [(pulse, g)], in file order
    run, seen = {}, {}
    for device, cycle, direction, pulse, g in records:
        if "cycle" in col:
            key = (device, direction, cycle)
        else:  # a new ramp whenever the direction of this device's rows changes
            if seen.get(device) != direction:
                run[(device, direction)] = run.get((device, direction), -1) + 1
                seen[device] = direction
            key = (device, direction, run[(device, direction)])
        groups.setdefault(key, []).append((pulse, g))
    ramps = []
    for (device, direction, cycle), values in groups.items():
        values.sort(key=lambda t: t[0])
        g = _to_siemens([v for _, v in values], path, scale, offset_S)
        ramps.append(Ramp(direction, g, device, int(cycle) if math.isfinite(cycle) else 0))
    return [Ramp(r.direction, _trim(r.g), r.device, r.cycle) for r in ramps]


def read_columns(path, direction: int, scale: float = 1.0, offset_S: float = 0.0) -> list[Ramp]:
    """One ramp per column (header = ramp names); trailing blanks/NaN/0 are 'no data'."""
    path = Path(path)
    rows = _rows(path)
    header = rows[0]
    width = len(header)
    data = np.full((len(rows) - 1, width), np.nan)
    for line, row in enumerate(rows[1:], 2):
        if len(row) > width:
            raise DeviceModelError(f"{path} line {line}: {len(row)} fields, header has {width}")
        for j, text in enumerate(row):
            data[line - 2, j] = _number(text, path, line, header[j].strip())
    g = _to_siemens(data, path, scale, offset_S)
    return [Ramp(direction, _trim(g[:, j]), "0", j) for j in range(width)]


def read_updown(path, scale: float = 1.0, offset_S: float = 0.0) -> list[Ramp]:
    """Two columns without header: consecutive up pulses, consecutive down pulses."""
    path = Path(path)
    rows = _rows(path)
    data = np.full((len(rows), 2), np.nan)
    for line, row in enumerate(rows, 1):
        if len(row) != 2:
            raise DeviceModelError(f"{path} line {line}: expected 2 columns (up, down), got {len(row)}")
        data[line - 1] = [_number(t, path, line, name) for t, name in zip(row, ("up", "down"))]
    g = _to_siemens(data, path, scale, offset_S)
    return [Ramp(1, _trim(g[:, 0]), "0", 0), Ramp(-1, _trim(g[:, 1]), "0", 0)]


def read_measurements(path, layout: str = "long", ltd_path=None, scale: float = 1.0,
                      offset_S: float = 0.0) -> list[Ramp]:
    """Read ramps in ``layout`` (``long``, ``columns`` with ``ltd_path``, ``updown``)."""
    if not (math.isfinite(scale) and scale > 0 and math.isfinite(offset_S)):
        raise DeviceModelError(f"scale ({scale!r}) must be > 0 and offset ({offset_S!r} S) finite")
    if layout == "long":
        return read_long(path, scale, offset_S)
    if layout == "updown":
        return read_updown(path, scale, offset_S)
    if layout == "columns":
        if ltd_path is None:
            raise DeviceModelError("layout 'columns' needs the depression file too (--ltd RESET.csv)")
        up = read_columns(path, 1, scale, offset_S)
        down = read_columns(ltd_path, -1, scale, offset_S)
        # measured alternately: SET ramp k, then RESET ramp k
        out = []
        for k in range(max(len(up), len(down))):
            out += [r for r in (up[k] if k < len(up) else None, down[k] if k < len(down) else None) if r]
        return out
    raise DeviceModelError(f"layout {layout!r} is not one of long, columns, updown")


def usable(ramps: list[Ramp], min_points: int = MIN_RAMP_POINTS) -> list[Ramp]:
    """Ramps long enough to fit; raises if no LTP or no LTD ramp is left."""
    keep = [r for r in ramps if r.g.size >= min_points]
    for d, name in ((1, "potentiation (LTP/SET)"), (-1, "depression (LTD/RESET)")):
        if not any(r.direction == d for r in keep):
            raise DeviceModelError(
                f"no usable {name} ramp: need at least one ramp of >= {min_points} finite, positive "
                f"conductances ({len(ramps)} ramp(s) read, {len(keep)} long enough)")
    return keep
