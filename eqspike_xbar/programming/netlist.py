"""Coincidence programming of a memristor crossbar: transient netlists (a pure function).

Circuit: the crossbar's :class:`~eqspike_xbar.crossbar.topology.Topology` (M rows = word
lines, N columns = bit lines, its node and element names) with memristors in the cells and
a PWL driver at every line's port:

- cell (i, j): ``X<i>_<j>`` = ``circuits/memristor_vteam.lib`` between row node ``r<i>_<j>``
  (pin p) and column node ``c<i>_<j>`` (pin n): a positive cell voltage v(r) − v(c) is
  SET/LTP, a negative one RESET/LTD. Its state (0…1) is the node ``x<i>_<j>.w``;
  G = gmin + (gmax − gmin)·w (S), exactly what a sub-threshold Ohmic read gives.
- word line i: segments ``RW<i>_<j>`` of ``spec.r_wordline_ohm`` Ω; its driver ``VR<i>`` (PWL)
  at node ``rp<i>`` feeds the left end (j = 0) through ``RTr<i>`` = ``spec.r_driver_ohm`` Ω.
- bit line j: segments ``RB<i>_<j>`` of ``spec.r_bitline_ohm`` Ω; its driver ``VC<j>`` at node
  ``cp<j>`` feeds the bottom end (i = M − 1) through ``RTc<j>``. A zero resistance is an
  exact short (a 0 V source), so ``CrossbarSpec(r_wordline_ohm=0, r_bitline_ohm=0)`` is ideal wires.

Scheme (lines idle at 0 V; V = ``amplitude_V`` across the selected cell; s = ±1 the
event's polarity, + SET/LTP)::

    selected (pre) row        +s·V/2  during the pre pulse  (width_s, edges edge_s)
    selected (post) column    −s·V/2  during the post pulse, delay_s after the pre pulse
    V/2: every other line stays at 0 V: half-selected cells (same row or column) see s·V/2,
         the others 0 V.
    V/3: during the event window every line not pulsing sits at −s·V/6 (rows) / +s·V/6
         (columns): half-selected cells see s·V/3, unselected cells −s·V/3.

In V/3 the bias is set ``gap_s`` before the first pulse and released ``gap_s`` after the
last, so outside its own lines' pulses every cell sees −s·V/3 for the event window.
Only the overlap of the two pulses puts s·V across the selected cell; outside it the cell
sees a half-select voltage (V/2 or V/3), so ΔG depends on the overlap (the circuit-level
STDP curve). The row pulse's sign follows the polarity because with a fixed +V/2 row pulse
an LTD coincidence would need the column at +3V/2, putting −3V/2 on every half-selected cell
of that column: in both schemes the selected row and column move in opposite directions.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import re

import numpy as np

from ..crossbar.spec import CrossbarSpec
from ..crossbar.topology import Topology
from ..devices.characterize import VteamParams
from ..errors import CircuitError
from ..spice.text import HEADER, wrap_continuation
from ..validation import check_netlist, spice_number

LIBRARY = "memristor_vteam.lib"
SUBCKT = "memristor_vteam"
_TITLE = re.compile(r"^[A-Za-z0-9_ ./=+\-]{0,80}$")
SCHEMES = {"V/2": 0.0, "V/3": 1.0 / 6.0}  #: scheme -> bias of non-pulsing lines in units of s·V


@dataclass(frozen=True)
class Scheme:
    """Programming waveform: scheme, amplitude (V) across the selected cell, timing (s)."""

    name: str = "V/2"  #: "V/2" or "V/3"
    amplitude_V: float = 1.5  #: |V| across the selected cell during the overlap
    width_s: float = 50e-9  #: pre and post pulse width (plateau)
    edge_s: float = 1e-9  #: rise and fall time of every pulse
    gap_s: float = 10e-9  #: settling time around each event (V/3 bias before/after the pulses)

    def __post_init__(self):
        if self.name not in SCHEMES:
            raise CircuitError(f"scheme {self.name!r} is unknown: use one of {', '.join(SCHEMES)}")
        for f in ("amplitude_V", "width_s", "edge_s", "gap_s"):
            v = getattr(self, f)
            if not isinstance(v, (int, float)) or not np.isfinite(v) or v <= 0:
                raise CircuitError(f"{f} must be a finite number > 0, got {v!r}")
        if self.edge_s > min(self.width_s, self.gap_s):
            raise CircuitError(f"edge_s ({self.edge_s:g} s) must be <= width_s and gap_s: shorten the edges")

    @property
    def half_select_V(self) -> float:
        """|V| across half-selected cells (V/2 or V/3 of the amplitude)."""
        return self.amplitude_V * (0.5 - SCHEMES[self.name])

    def levels(self, polarity: int) -> dict[str, float]:
        """Line voltages (V) of an event: pre/post pulse levels and the bias of other lines."""
        s, v, k = polarity, self.amplitude_V, SCHEMES[self.name]
        return {"pre": s * v / 2, "post": -s * v / 2, "row_bias": -s * k * v, "col_bias": s * k * v}


@dataclass(frozen=True)
class Event:
    """One coincidence: pre row ``row`` and post column ``col`` pulse; ``delay_s`` = t_post − t_pre."""

    row: int
    col: int
    polarity: int  #: +1 SET/LTP, −1 RESET/LTD
    delay_s: float = 0.0


def _check_events(events, shape) -> list[Event]:
    M, N = shape
    out = []
    for k, e in enumerate(events):
        if not isinstance(e, Event):
            raise CircuitError(f"events[{k}] must be an Event(row, col, polarity, delay_s), got {e!r}")
        if not (0 <= e.row < M and 0 <= e.col < N):
            raise CircuitError(f"events[{k}] selects cell ({e.row}, {e.col}) outside the {M}x{N} array")
        if e.polarity not in (1, -1):
            raise CircuitError(f"events[{k}].polarity must be +1 (SET/LTP) or -1 (RESET/LTD), got {e.polarity!r}")
        if not np.isfinite(e.delay_s):
            raise CircuitError(f"events[{k}].delay_s must be finite, got {e.delay_s!r}")
        out.append(e)
    if not out:
        raise CircuitError("events is empty: give at least one coincidence Event")
    return out


def event_timing(event: Event, scheme: Scheme, t0: float) -> dict[str, float]:
    """Times (s) of one event slot starting at ``t0``: pulse starts, window, end, sample."""
    e, g, w = scheme.edge_s, scheme.gap_s, scheme.width_s
    first = t0 + e + g
    pre = first + max(0.0, -event.delay_s)
    post = pre + event.delay_s
    last_end = max(pre, post) + w + 2 * e
    close = last_end + g
    end = close + e + g
    return {"open": t0, "pre": pre, "post": post, "close": close, "end": end, "sample": end - g / 2}


def _pwl(changes: list[tuple[float, float]], edge: float, name: str) -> str:
    """PWL text from (time, new level) changes, each a ramp of ``edge`` s from the old level."""
    pts, level = [(0.0, 0.0)], 0.0
    for t, new in changes:
        if new == level:
            continue
        if t < pts[-1][0]:
            raise CircuitError(f"overlapping level changes on {name}: increase gap_s or width_s")
        pts += [(t, level), (t + edge, new)]
        level = new
    words = " ".join(f"{spice_number(a, 'time')} {spice_number(b, 'voltage')}" for a, b in pts)
    return f"PWL({wrap_continuation(words)})"


def coincidence_netlist(shape, events, scheme: Scheme = Scheme(), spec: CrossbarSpec = CrossbarSpec(),
                        device: VteamParams = VteamParams(), w0=0.0, max_step_s: float = 2e-9,
                        include_path: str | None = None, title: str = "", measure: bool = False):
    """Transient netlist of coincidence events on an M×N VTEAM array; ``(text, sample_times_s)``.

    ``events``: list of :class:`Event`, one per time slot, in order; ``w0``: initial state per
    cell (scalar or (M, N), 0…1); ``sample_times_s[k]`` lies after event k (``[0]`` = before
    the first), where every state is constant. ``measure`` adds ``.meas`` lines printing
    the state of the first event's selected cell, a half-selected cell of its row and of its
    column and an unselected cell after every event (for stand-alone ``ngspice -b``).
    Only ``spec``'s wire and driver resistances are used (cells are the memristor).
    """
    try:
        M, N = (int(shape[0]), int(shape[1]))
    except (TypeError, ValueError, IndexError):
        raise CircuitError(f"shape must be (rows, columns), got {shape!r}") from None
    if M < 1 or N < 1 or M * N > 64 * 64:
        raise CircuitError(f"array {M}x{N} must have 1..4096 cells: transients of larger arrays take minutes")
    events = _check_events(events, (M, N))
    if not isinstance(scheme, Scheme) or not isinstance(spec, CrossbarSpec) or not isinstance(device, VteamParams):
        raise CircuitError("scheme, spec and device must be Scheme, CrossbarSpec and VteamParams objects")
    w0 = np.broadcast_to(np.asarray(w0, dtype=float), (M, N))
    if not np.all((w0 >= 0) & (w0 <= 1)):
        raise CircuitError("w0 (initial device states) must lie in [0, 1]")
    if not (np.isfinite(max_step_s) and 0 < max_step_s <= scheme.width_s):
        raise CircuitError(f"max_step_s must be in (0, width_s], got {max_step_s!r}")
    if not isinstance(title, str) or not _TITLE.match(title):
        raise CircuitError(f"netlist title {title!r} may hold only letters, digits, spaces and _ . / = + - (max 80)")
    if include_path is None:
        from ..spice import include_line

        include, include_path = include_line(LIBRARY)
    else:
        include = f'.include "{include_path}"'

    rows = {i: [] for i in range(M)}
    cols = {j: [] for j in range(N)}
    samples, t = [scheme.gap_s / 2], 0.0
    for ev in events:
        tm, lv = event_timing(ev, scheme, t), scheme.levels(ev.polarity)
        for i in range(M):
            rows[i] += [(tm["open"], lv["row_bias"]), (tm["close"], 0.0)]
        for j in range(N):
            cols[j] += [(tm["open"], lv["col_bias"]), (tm["close"], 0.0)]
        w = scheme.width_s + scheme.edge_s
        rows[ev.row][-1:-1] = [(tm["pre"], lv["pre"]), (tm["pre"] + w, lv["row_bias"])]
        cols[ev.col][-1:-1] = [(tm["post"], lv["post"]), (tm["post"] + w, lv["col_bias"])]
        samples.append(tm["sample"])
        t = tm["end"]
    for lines in (rows, cols):
        for k in lines:
            lines[k].sort(key=lambda c: c[0])

    dev = " ".join(f"{f.name}={spice_number(getattr(device, f.name), f.name)}"
                   for f in dataclasses.fields(device) if f.name != "w0")
    out = [
        f"{HEADER}: {M}x{N} coincidence programming, scheme {scheme.name}, {len(events)} event(s)"
        + (f" ({title})" if title else ""),
        f"* amplitude {spice_number(scheme.amplitude_V, 'amplitude')} V across the selected cell, half-select "
        f"{spice_number(scheme.half_select_V, 'half-select')} V; pulse width {spice_number(scheme.width_s, 'w')} s, "
        f"edges {spice_number(scheme.edge_s, 'edge')} s",
        f"* wires {spice_number(spec.r_wordline_ohm, 'r_wordline_ohm')} / {spice_number(spec.r_bitline_ohm, 'r_bitline_ohm')} ohm "
        f"per segment, drivers {spice_number(spec.r_driver_ohm, 'r_driver_ohm')} ohm; nodes r<i>_<j>, c<i>_<j>, "
        "drivers rp<i>, cp<j>; state of cell (i,j): x<i>_<j>.w",
        ".options klu",
        include,
        "* cells: VTEAM threshold memristors (p = row, n = column)",
    ]
    topo = Topology((M, N), spec.r_wordline_ohm, spec.r_bitline_ohm, spec.r_driver_ohm, spec.r_driver_ohm)
    w0_list = w0.ravel().tolist()
    out += [f"X{name} {a} {b} {SUBCKT} {dev} w0={spice_number(w, 'w0')}"
            for (name, a, b), w in zip(topo.cell_nodes(), w0_list)]
    out += topo.wire_spice_lines("driver resistances (word lines at column 0, bit lines at the last row)")
    out.append("* row (pre) and column (post) drivers")
    for prefix, lines, node in (("VR", rows, "rp"), ("VC", cols, "cp")):
        for k, changes in lines.items():
            src = _pwl(changes, scheme.edge_s, f"{prefix}{k}")
            out.append(f"{prefix}{k} {node}{k} 0 {src if src.count(' ') > 2 else '0'}")
    step = spice_number(max_step_s, "max_step_s")
    out.append(f".tran {step} {spice_number(t, 'stop time')} 0 {step} uic")
    if measure:
        out += _meas_lines(events[0], (M, N), samples)
    out += [".end", ""]
    return check_netlist("\n".join(out), (include_path,)), np.array(samples)


def _meas_lines(ev: Event, shape, samples) -> list[str]:
    M, N = shape
    cells = {"sel": (ev.row, ev.col), "row": (ev.row, (ev.col + 1) % N), "col": ((ev.row + 1) % M, ev.col),
             "uns": ((ev.row + 1) % M, (ev.col + 1) % N)}
    out = []
    for k, t in enumerate(samples):
        for label, (i, j) in cells.items():
            out.append(f".meas tran w_{label}_{k} FIND v(x{i}_{j}.w) AT={spice_number(t, 'time')}")
    return out


def states(vectors: dict, samples, shape) -> np.ndarray:
    """Device states w (0…1) at the sample times: (len(samples), M, N) from a transient result."""
    M, N = shape
    time = np.real(vectors["time"])
    out = np.empty((len(samples), M, N))
    for i in range(M):
        for j in range(N):
            out[:, i, j] = np.interp(samples, time, np.real(vectors[f"x{i}_{j}.w"]))
    return out


def cell_voltages(vectors: dict, shape) -> np.ndarray:
    """Cell voltages v(r<i>_<j>) − v(c<i>_<j>) (V) at every time point: (T, M, N)."""
    M, N = shape
    return np.stack([np.stack([np.real(vectors[f"r{i}_{j}"]) - np.real(vectors[f"c{i}_{j}"]) for j in range(N)], -1)
                     for i in range(M)], -2)
