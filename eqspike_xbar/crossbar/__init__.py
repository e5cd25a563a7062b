"""Crossbar circuits: mapping, tiling, netlists, and two solvers (fast nodal, ngspice).

Conventions: M rows (word lines) x N columns (bit lines); conductances in S, voltages in
V, currents in A. Forward read (rows driven, columns sensed): ``I = V @ W_f``; backward
(columns driven, rows sensed): ``I = W_b @ V``; ideal wires and sense: W_f = W_b = G.

API
---
``CrossbarSpec(r_wordline_ohm, r_bitline_ohm, r_driver_ohm, r_sense_ohm, sense, tia_gain, tia_rf_ohm, cell,
r_access_ohm, v0, termination)`` circuit parameters (ohm, V), see :mod:`.spec`.
``ConductanceMapping(g_min, g_max, w_max, levels)``: ``.to_conductances(w, rng=None) ->
(G+, G-)``, ``.to_weights(G+, G-)``, ``.quantize(g, rng=None)``, ``.scale`` (S per weight).
``FastCrossbar(g, spec)``: ``.read(v, direction) -> (B, out) A``,
``.transfer_matrix(direction) -> (M, N) S`` (exact, Schur complement; backward reuses
forward when ``.reciprocal``).
``read_currents(g, v, spec, direction, backend="fast"|"ngspice", **options) -> (B, out)``,
``ideal_currents(g, v, direction)``, solver registry ``SOLVERS`` / ``register_solver``.
``TiledCrossbar(g, spec, max_array=(128, 128))``: ``.read``, ``.transfer_matrix``;
``tile_slices(shape, max_rows, max_cols)``; ``transfer_matrices([tiled, ...], direction)``
(all tiles of several layers/arrays on one thread pool);
``effective_weights(g_pos, g_neg, mapping, spec, direction, max_array) -> (M, N)``.
``Topology(shape, r_wordline_ohm, r_bitline_ohm, r_row_end_ohm, r_col_end_ohm)``: the circuit
described once (nodes, wire segments, line ends, cells); ``read_topology(shape, spec, direction)``;
the netlists and the nodal matrices are renderings of it, see :mod:`.topology`.
``crossbar_netlist(g, v_in, spec, direction) -> str`` (pure; ``.options klu``, checked),
``write_netlist(path, g, v_in, spec, direction) -> Path`` (atomic).
"""
from .mapping import ConductanceMapping
from .netlist import crossbar_netlist, write_netlist
from .solver import SOLVERS, FastCrossbar, ideal_currents, read_currents, register_solver
from .spec import CrossbarSpec
from .topology import Topology, read_topology
from .tiling import MAX_ARRAY, TiledCrossbar, effective_weights, tile_slices, transfer_matrices

__all__ = [
    "SOLVERS", "ConductanceMapping", "CrossbarSpec", "FastCrossbar", "MAX_ARRAY", "TiledCrossbar",
    "crossbar_netlist", "effective_weights", "ideal_currents", "read_currents", "register_solver",
    "Topology", "read_topology", "tile_slices", "transfer_matrices", "write_netlist",
]
