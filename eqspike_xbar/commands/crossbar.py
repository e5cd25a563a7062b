"""``eqspike-xbar crossbar solve`` and ``eqspike-xbar crossbar netlist``."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..crossbar.mapping import ConductanceMapping
from ..crossbar.solver import SOLVERS, ideal_currents, read_currents
from ..crossbar.spec import DIRECTIONS, CrossbarSpec
from ..errors import CircuitError
from ..validation import check_conductances, check_positive_number

#: defaults of the random conductances and read voltage when neither a flag nor --device gives them
G_MIN_S, G_MAX_S, V_READ_V = 1e-6, 1e-4, 0.2


def _add_spec_args(p):
    p.add_argument("--r-wordline", type=float, default=1.0, help="word-line segment resistance, ohm (1)")
    p.add_argument("--r-bitline", type=float, default=1.0, help="bit-line segment resistance, ohm (1)")
    p.add_argument("--r-driver", type=float, default=0.0, help="driver output resistance, ohm (0)")
    p.add_argument("--r-sense", type=float, default=0.0, help="sense series resistance, ohm (0)")
    p.add_argument("--sense", choices=("ideal", "tia"), default="ideal")
    p.add_argument("--tia-gain", type=float, default=1e5)
    p.add_argument("--tia-rf", type=float, default=1e4, help="TIA feedback resistance, ohm")
    p.add_argument("--cell", choices=("1R", "1T1R"), default="1R")
    p.add_argument("--r-access", type=float, default=1e3, help="1T1R access on-resistance, ohm")
    p.add_argument("--v0", type=float, default=None,
                   help="sinh read non-linearity voltage, V (default: --device's iv.v0_V, else linear)")
    p.add_argument("--termination", choices=("role", "line"), default="line",
                   help="'line' (default, as in training: reciprocal) or 'role' (peripherals swap with direction)")
    p.add_argument("--conductances", type=Path, help="conductance file (.npy or .csv, M x N, S)")
    p.add_argument("--device", metavar="NAME_OR_TOML",
                   help="device library name (see 'device list') or .toml: its Gmin/Gmax, read voltage "
                        "and read non-linearity are the defaults of --g-min/--g-max/--v-read/--v0")
    p.add_argument("--g-min", type=float, default=None, help=f"random conductances: lowest, S ({G_MIN_S:g})")
    p.add_argument("--g-max", type=float, default=None, help=f"random conductances: highest, S ({G_MAX_S:g})")
    p.add_argument("--v-read", type=float, default=None, help=f"input voltages drawn in [0, v-read], V ({V_READ_V:g})")
    p.add_argument("--seed", type=int, default=0)


def _resolve_device(args) -> None:
    """Fill the flags not given from --device (library name or TOML), else the defaults; check
    the read voltage (finite, > 0) so a bad value ends in one line, not a traceback."""
    g_min, g_max, v_read, v0 = G_MIN_S, G_MAX_S, V_READ_V, None
    if getattr(args, "device", None):
        from ..devices.library import load_device  # only when asked: the device package is not light

        p = load_device(args.device)
        g_min, g_max, v_read = p.conductance.gmin_S, p.conductance.gmax_S, p.iv.v_read_V
        v0 = p.iv.v0_V or None
    args.g_min = g_min if args.g_min is None else args.g_min
    args.g_max = g_max if args.g_max is None else args.g_max
    args.v_read = v_read if args.v_read is None else args.v_read
    args.v0 = v0 if args.v0 is None else args.v0
    check_positive_number("--v-read", args.v_read, error=CircuitError)
    if args.v0 is not None:
        check_positive_number("--v0", args.v0, error=CircuitError)


def _spec(args) -> CrossbarSpec:
    _resolve_device(args)
    return CrossbarSpec(
        r_wordline_ohm=args.r_wordline, r_bitline_ohm=args.r_bitline, r_driver_ohm=args.r_driver,
        r_sense_ohm=args.r_sense, sense=args.sense, tia_gain=args.tia_gain, tia_rf_ohm=args.tia_rf,
        cell=args.cell, r_access_ohm=args.r_access, v0=args.v0, termination=args.termination)


def load_conductances(path: Path) -> np.ndarray:
    """An M x N conductance array (S) from .npy or .csv (comma separated)."""
    if not path.is_file():
        raise CircuitError(f"conductance file {path} not found")
    try:
        g = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, delimiter=",", ndmin=2)
    except (ValueError, OSError) as exc:
        raise CircuitError(f"cannot read conductance file {path}: {exc}; expected .npy or comma-separated .csv") from None
    return check_conductances(g, f"conductances in {path}")


def _conductances(args, rows, cols, rng):
    for name, value in (("--rows", rows), ("--cols", cols), ("--batch", getattr(args, "batch", 1))):
        if value < 1:
            raise CircuitError(f"{name} must be >= 1, got {value}")
    if args.conductances is not None:
        return load_conductances(args.conductances)
    mapping = ConductanceMapping(g_min=args.g_min, g_max=args.g_max)  # validates the range
    return rng.uniform(mapping.g_min, mapping.g_max, (rows, cols))


def cmd_solve(args) -> int:
    rng = np.random.default_rng(args.seed)
    spec = _spec(args)
    g = _conductances(args, args.rows, args.cols or args.rows, rng)
    directions = DIRECTIONS if args.direction == "both" else (args.direction,)
    print(f"crossbar {g.shape[0]}x{g.shape[1]}, backend {args.backend}, wires {spec.r_wordline_ohm:g}/"
          f"{spec.r_bitline_ohm:g} ohm, driver {spec.r_driver_ohm:g} ohm, sense {spec.sense} ({spec.r_sense_ohm:g} ohm), "
          f"cell {spec.cell}, {'linear' if spec.linear else f'sinh v0={spec.v0:g} V'}")
    for direction in directions:
        n_in = g.shape[0] if direction == "forward" else g.shape[1]
        v = rng.uniform(0.0, args.v_read, (args.batch, n_in))
        t0 = time.perf_counter()
        i = read_currents(g, v, spec, direction, args.backend, timeout_s=args.timeout)
        elapsed = time.perf_counter() - t0
        ideal = ideal_currents(g, v, direction)
        rel = np.linalg.norm(i - ideal) / np.linalg.norm(ideal)
        shown = ", ".join(f"{x * 1e6:.4g}" for x in i[0, :8]) + (" ..." if i.shape[1] > 8 else "")
        print(f"{direction}: {args.batch} read(s) in {elapsed:.3f} s")
        print(f"  output currents (uA, first read): {shown}")
        print(f"  relative error vs ideal matmul: {rel:.4e} (max |dI| {np.abs(i - ideal).max() * 1e6:.4g} uA)")
    return 0


def cmd_netlist(args) -> int:
    from ..crossbar.netlist import write_netlist

    spec = _spec(args)
    rng = np.random.default_rng(args.seed)
    g = _conductances(args, args.rows, args.cols or args.rows, rng)
    n_in = g.shape[0] if args.direction == "forward" else g.shape[1]
    v = np.full(n_in, args.v_read) if args.inputs is None else np.array(args.inputs, dtype=float)
    path = write_netlist(args.out, g, v, spec, args.direction)
    print(f"wrote {path} ({g.shape[0]}x{g.shape[1]}, {args.direction} read); run it with: ngspice -b {path}")
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("crossbar", help="crossbar circuits: solve reads, write netlists")
    sub = p.add_subparsers(dest="crossbar_command", metavar="SUBCOMMAND")
    sub.required = True

    s = sub.add_parser("solve", help="read a crossbar with the fast solver or ngspice; error vs ideal matmul")
    s.add_argument("--rows", type=int, default=64)
    s.add_argument("--cols", type=int, default=None, help="default: --rows")
    s.add_argument("--backend", choices=sorted(SOLVERS), default="fast")
    s.add_argument("--direction", choices=("forward", "backward", "both"), default="both")
    s.add_argument("--batch", type=int, default=1, help="number of random input vectors")
    s.add_argument("--timeout", type=float, default=120.0, help="ngspice time limit per simulation, s")
    _add_spec_args(s)
    s.set_defaults(func=cmd_solve)

    n = sub.add_parser("netlist", help="write the read netlist of a conductance file (runs with ngspice -b)")
    n.add_argument("--out", type=Path, required=True, help="netlist path, e.g. runs/<run-id>/xbar.cir")
    n.add_argument("--rows", type=int, default=4, help="random conductances when no --conductances")
    n.add_argument("--cols", type=int, default=None)
    n.add_argument("--direction", choices=DIRECTIONS, default="forward")
    n.add_argument("--inputs", type=float, nargs="+", help="driver voltages, V (default: all --v-read)")
    _add_spec_args(n)
    n.set_defaults(func=cmd_netlist)
