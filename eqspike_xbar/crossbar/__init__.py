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
from importlib import import_module

#: public name -> submodule; loaded on first use, so a read imports neither the netlists nor
#: the tiling's thread pool (cold start of ``eqspike-xbar crossbar solve``)
_EXPORTS = {
    "ConductanceMapping": "mapping", "crossbar_netlist": "netlist", "write_netlist": "netlist",
    "SOLVERS": "solver", "FastCrossbar": "solver", "ideal_currents": "solver", "read_currents": "solver",
    "register_solver": "solver", "CrossbarSpec": "spec", "Topology": "topology", "read_topology": "topology",
    "MAX_ARRAY": "tiling", "TiledCrossbar": "tiling", "effective_weights": "tiling", "tile_slices": "tiling",
    "transfer_matrices": "tiling", "tile_transfer_matrices": "tiling",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS))
