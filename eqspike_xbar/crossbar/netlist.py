"""Crossbar read netlists: a pure function of (conductances, inputs, spec, direction).

Node names (see :mod:`.spec`): ``r<i>_<j>`` / ``c<i>_<j>`` row / column node of cell (i, j),
``rp<i>`` / ``cp<j>`` peripheral node of word line i / bit line j. Elements: ``X<i>_<j>``
cells (subcircuits of ``circuits/crossbar_cells.lib``; linear 1R cells are written as the
plain resistor ``R<i>_<j>`` that ``xbar_1r`` holds, which ngspice loads ~2x faster), ``RW``/``RB`` word/bit-line wire
segments, ``RT`` terminations, ``VIN<line>`` driver sources, ``VS<line>`` 0 V sense sources
whose branch current (A) is the output (``vsc<j>#branch`` forward, ``vsr<i>#branch``
backward), ``XT<line>`` TIAs. A zero resistance is written as a 0 V source (an exact short).
Devices of zero conductance are left out (open).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import CircuitError, NetlistSafetyError
from ..spice.text import HEADER
from ..validation import check_conductances, check_inputs, check_netlist, spice_number
from .spec import CrossbarSpec, check_direction
from .topology import read_topology

LIBRARY = "crossbar_cells.lib"


def sense_names(shape: tuple[int, int], direction: str) -> list[str]:
    """Vector names (lower case) of the output currents in ngspice results."""
    M, N = shape
    return [f"vsc{j}#branch" for j in range(N)] if direction == "forward" else [f"vsr{i}#branch" for i in range(M)]


def driver_names(shape: tuple[int, int], direction: str) -> list[str]:
    M, N = shape
    return [f"VINr{i}" for i in range(M)] if direction == "forward" else [f"VINc{j}" for j in range(N)]


def _cell_line(name: str, row: str, col: str, g: float, spec: CrossbarSpec) -> str:
    sub = {"1R": "xbar_1r", "1T1R": "xbar_1t1r"}[spec.cell] + ("" if spec.linear else "_sinh")
    params = f"r={spice_number(1.0 / g, 'device resistance')}"
    if not spec.linear:
        params += f" v0={spice_number(spec.v0, 'v0')}"
    if spec.cell == "1T1R":
        params += f" racc={spice_number(spec.r_access_ohm, 'r_access_ohm')}"
    return f"X{name} {row} {col} {sub} {params}"


def crossbar_netlist(g, v_in, spec: CrossbarSpec = CrossbarSpec(), direction: str = "forward",
                     include_path: str | None = None, title: str = "") -> str:
    """SPICE text of one crossbar read (``.op``), checked by ``check_netlist``.

    ``g``: (M, N) conductances (S); ``v_in``: driver voltages (V), M values forward (rows),
    N backward (columns); ``include_path``: absolute path of ``circuits/crossbar_cells.lib``
    (default: the project's).
    """
    g = check_conductances(g)
    check_direction(direction)
    M, N = g.shape
    v = check_inputs(v_in, M if direction == "forward" else N)
    if v.shape[0] != 1:
        raise CircuitError(f"a netlist holds one input vector, got {v.shape[0]}: use the runner's alter for more")
    v = v[0]
    if include_path is None:
        from ..spice import include_line

        include, include_path = include_line(LIBRARY)
    else:
        include = f'.include "{include_path}"'
    topo = read_topology((M, N), spec, direction)
    lines = [
        f"{HEADER}: {M}x{N} crossbar, {direction} read, {spec.cell} cells, sense {spec.sense}"
        + (f" ({title})" if title else ""),
        f"* wires {spice_number(spec.r_wordline_ohm, 'r_wordline_ohm')} / {spice_number(spec.r_bitline_ohm, 'r_bitline_ohm')} "
        "ohm per segment (word / bit line); nodes r<i>_<j>, c<i>_<j>; peripherals rp<i>, cp<j>",
        ".options klu",
        include,
        "* cells",
    ]
    present = (g > 0).ravel().tolist()
    cells = [c for c, on in zip(topo.cell_nodes(), present) if on]
    if spec.cell == "1R" and spec.linear:  # = xbar_1r; a plain R loads ~2x faster in ngspice
        with np.errstate(divide="ignore", over="ignore"):  # g is checked finite and >= 0
            r_all = 1.0 / g
        if not np.all(np.isfinite(r_all[g > 0])):
            raise NetlistSafetyError("device resistance must be finite: a conductance is too small "
                                     f"(min non-zero G {g[g > 0].min()!r} S); use 0 for an absent cell")
        r = r_all[g > 0].tolist()  # finite floats: repr is a safe number
        lines += [f"R{name} {a} {b} {rk!r}" for (name, a, b), rk in zip(cells, r)]
    else:
        values = g[g > 0].tolist()
        lines += [_cell_line(name, a, b, gk, spec) for (name, a, b), gk in zip(cells, values)]
    lines += topo.wire_spice_lines("terminations (word lines at column 0, bit lines at the last row)")
    names = topo.node_names
    driven, sensed = ((topo.row_ports, "r"), (topo.col_ports, "c"))[::1 if direction == "forward" else -1]
    lines.append("* drivers")
    lines += [f"VIN{driven[1]}{k} {names[p]} 0 {spice_number(v[k], 'input voltage')}"
              for k, p in enumerate(driven[0].tolist())]
    lines.append("* sense: virtual grounds; the current through VS<line> is the output")
    for k, p in enumerate(sensed[0].tolist()):
        line = f"{sensed[1]}{k}"
        if spec.sense == "ideal":
            lines.append(f"VS{line} {names[p]} 0 0")
        else:
            lines.append(f"VS{line} {names[p]} tin{line} 0")
            lines.append(f"XT{line} tin{line} tout{line} xbar_tia "
                         f"gain={spice_number(spec.tia_gain, 'tia_gain')} rf={spice_number(spec.tia_rf_ohm, 'tia_rf_ohm')}")
    lines += [".op", ".end", ""]
    return check_netlist("\n".join(lines), allowed_includes=(include_path,))


def self_contained(text: str) -> str:
    """The netlist with every ``.include`` of a ``circuits/`` library replaced by the library's
    text, so a written netlist runs with ``ngspice -b`` wherever it is copied or moved."""
    from ..spice import allowed_includes

    libraries = set(allowed_includes())
    out = []
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and parts[0].lower() in (".include", ".inc") and parts[1].strip('"') in libraries:
            path = Path(parts[1].strip('"'))
            out += [f"* ---- begin {path.name} (inlined from circuits/{path.name})",
                    *path.read_text().splitlines(), f"* ---- end {path.name}"]
        else:
            out.append(line)
    return check_netlist("\n".join(out) + ("\n" if text.endswith("\n") else ""))


def write_netlist(path, g, v_in, spec: CrossbarSpec = CrossbarSpec(), direction: str = "forward"):
    """Generate, check and atomically write a self-contained crossbar netlist (the cell
    library inlined); nothing is written on error."""
    from ..io import write_text

    return write_text(path, self_contained(crossbar_netlist(g, v_in, spec, direction)))
