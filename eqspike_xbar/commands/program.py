"""``eqspike-xbar program calibrate|stdp``: coincidence programming in SPICE, into a run folder.

``calibrate`` writes ``runs/<run-id>/``: ``netlists/*.cir`` (the transients run),
``measurements.nc`` (raw conductances of every cell after every event, isolated device,
calibrated model, STDP curves, disturb sweep), ``<name>.toml`` (the calibrated device for
``load_device(path)``), ``pulse_response.png``, ``disturb.png``, ``stdp.png``,
``report.txt`` and ``status.json``. ``stdp`` writes the STDP part only.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

from ..crossbar.netlist import self_contained
from ..errors import CircuitError
from ..validation import safe_identifier

log = logging.getLogger(__name__)

SCHEME_NAMES = ("V/2", "V/3")


def _file_tag(scheme: str) -> str:
    return scheme.replace("/", "")


def register(subparsers) -> None:
    p = subparsers.add_parser("program", help="coincidence programming in SPICE: calibrate the device model, STDP")
    sub = p.add_subparsers(dest="program_command", metavar="ACTION")
    sub.required = True
    for name, helptext in (("calibrate", "in-array pulse response, half-select disturb, STDP; calibrated device TOML"),
                           ("stdp", "circuit-level STDP curve (dG against the pre/post delay), both schemes")):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("--rows", type=int, default=8, help="array rows (default 8)")
        q.add_argument("--cols", type=int, default=8, help="array columns (default 8)")
        q.add_argument("--amplitude", type=float, default=1.5, help="|V| across the selected cell (V, default 1.5)")
        q.add_argument("--width", type=float, default=50e-9, help="pulse width (s, default 50e-9)")
        q.add_argument("--edge", type=float, default=1e-9, help="rise/fall time (s, default 1e-9)")
        q.add_argument("--r-wire", type=float, default=1.0, help="word/bit-line segment resistance (ohm, default 1; 0 = ideal)")
        q.add_argument("--r-driver", type=float, default=0.0, help="line driver output resistance (ohm, default 0)")
        q.add_argument("--delays-ns", type=float, nargs=3, default=(-80.0, 80.0, 17), metavar=("FROM", "TO", "N"),
                       help="pre->post delays (ns): FROM TO N points (default -80 80 17)")
        q.add_argument("--runs-dir", type=Path, default=Path("runs"), help="parent of the run folder (default runs)")
        q.add_argument("--run-id", help="run folder name (default <time>-program-<action>)")
        q.set_defaults(func=cmd_calibrate if name == "calibrate" else cmd_stdp)
        if name == "calibrate":
            q.add_argument("--scheme", choices=SCHEME_NAMES, default="V/2",
                           help="scheme whose fit and disturb go into the TOML (both are measured; default V/2)")
            q.add_argument("--pulses", type=int, nargs=2, default=(100, 100), metavar=("N_LTP", "N_LTD"),
                           help="coincidence pulses each way on the selected cell (default 100 100)")
            q.add_argument("--disturb-amplitudes", type=float, nargs="*", default=(2.0, 2.2, 2.5, 3.0, 3.3),
                           help="extra amplitudes (V) of the disturb sweep, 4+4 pulses each (default 2.0 2.2 2.5 3.0 3.3)")
            q.add_argument("--name", default="vteam_array", help="calibrated device name (default vteam_array)")


def _setup(args, action: str):
    from ..crossbar.spec import CrossbarSpec
    from ..experiments.runs import new_run_dir
    from ..programming import Scheme

    if args.rows < 1 or args.cols < 1 or args.rows * args.cols > 32 * 32:
        raise CircuitError(f"--rows/--cols must give 1..1024 cells (transients are slow), got {args.rows}x{args.cols}")
    lo, hi, n = args.delays_ns
    if n != int(n) or n < 1 or not hi >= lo:
        raise CircuitError(f"--delays-ns FROM TO N needs FROM <= TO and an integer N >= 1, got {args.delays_ns}")
    spec = CrossbarSpec(r_wordline_ohm=args.r_wire, r_bitline_ohm=args.r_wire, r_driver_ohm=args.r_driver)
    schemes = {s: Scheme(s, args.amplitude, args.width, args.edge) for s in SCHEME_NAMES}
    run_dir = new_run_dir(args.runs_dir, f"program-{action}", args.run_id)
    return run_dir, spec, schemes, np.linspace(lo, hi, int(n)) * 1e-9


def measure_stdp(shape, schemes, delays, spec, run_dir):
    """STDP curves of both schemes and polarities: (scheme, polarity, delay) ΔG in S."""
    from .. import io
    from ..programming import Event, coincidence_netlist, default_selected, stdp_curve

    out = np.empty((len(schemes), 2, len(delays)))
    for a, (name, sc) in enumerate(schemes.items()):
        text, _ = coincidence_netlist(shape, [Event(*default_selected(shape), 1, 0.0)], sc, spec,
                                      title=f"stdp example {name}")
        io.write_text(run_dir / "netlists" / f"stdp_{_file_tag(name)}_delay0.cir", self_contained(text))
        for b, pol in enumerate((1, -1)):
            out[a, b] = stdp_curve(delays, shape, sc, pol, spec=spec)
    return out


def _stdp_dataset(stdp, schemes, delays):
    import xarray as xr

    from ..programming import overlap_s

    sc = next(iter(schemes.values()))
    return xr.Dataset(
        {"stdp_dG_S": (("scheme", "polarity", "delay_s"), stdp),
         "overlap_s": (("delay_s",), overlap_s(delays, sc))},
        coords={"scheme": list(schemes), "polarity": [1, -1], "delay_s": delays})


def cmd_stdp(args) -> int:
    from .. import io
    from ..experiments.runs import write_status
    from ..figures.programming import plot_stdp

    t0 = time.perf_counter()
    run_dir, spec, schemes, delays = _setup(args, "stdp")
    write_status(run_dir, "running")
    shape = (args.rows, args.cols)
    ds = _stdp_dataset(measure_stdp(shape, schemes, delays, spec, run_dir), schemes, delays)
    ds.attrs.update(_attrs(args, shape))
    io.write_netcdf(ds, run_dir / "stdp.nc")
    plot_stdp(ds, run_dir / "stdp.png")
    text = _stdp_text(ds) + f"\nrun time {time.perf_counter() - t0:.1f} s"
    io.write_text(run_dir / "report.txt", text + "\n")
    write_status(run_dir, "finished", elapsed_s=round(time.perf_counter() - t0, 2))
    print(text)
    print(f"run folder: {run_dir}")
    return 0


def _attrs(args, shape) -> dict:
    return {"rows": shape[0], "cols": shape[1], "amplitude_V": args.amplitude, "width_s": args.width,
            "edge_s": args.edge, "r_wire_ohm": args.r_wire, "r_driver_ohm": args.r_driver,
            "device": "circuits/memristor_vteam.lib (VteamParams defaults)", "generated_by": "eqspike-xbar program"}


def _stdp_text(ds) -> str:
    lines = []
    for s in ds.scheme.values:
        for p in (1, -1):
            dg = ds.stdp_dG_S.sel(scheme=s, polarity=p).values
            nz = ds.delay_s.values[np.abs(dg) > 1e-3 * np.abs(dg).max()]
            lines.append(f"STDP {s} polarity {p:+d}: dG at delay 0 = {dg[np.argmin(np.abs(ds.delay_s.values))] * 1e6:+.4f} uS; "
                         f"nonzero for delays {nz.min() * 1e9:+.0f}..{nz.max() * 1e9:+.0f} ns" if nz.size else
                         f"STDP {s} polarity {p:+d}: no change at any delay")
    return "\n".join(lines)


def cmd_calibrate(args) -> int:
    import xarray as xr

    from .. import io
    from ..devices.library import save_device
    from ..experiments.runs import write_status
    from ..figures.programming import plot_disturb, plot_pulse_response, plot_stdp
    from ..programming import CATEGORIES, calibrate, disturb_sweep, isolated_response, pulse_response

    name = safe_identifier(args.name, "--name")
    if min(args.pulses) < 8:
        raise CircuitError(f"--pulses must be >= 8 each (the fit needs 8 points per ramp), got {args.pulses}")
    t0 = time.perf_counter()
    run_dir, spec, schemes, delays = _setup(args, "calibrate")
    write_status(run_dir, "running")
    shape = (args.rows, args.cols)
    responses = {}
    for s, sc in schemes.items():
        responses[s] = pulse_response(shape, sc, *args.pulses, spec=spec)
        io.write_text(run_dir / "netlists" / f"pulse_response_{_file_tag(s)}.cir", self_contained(responses[s].netlist))
    main = responses[args.scheme]
    g_iso = isolated_response(main.scheme, main.polarity)
    cal = calibrate(main, name, g_iso)
    amps = sorted({args.amplitude, *args.disturb_amplitudes})
    sweep = disturb_sweep(amps, SCHEME_NAMES, shape, base=main.scheme, spec=spec)
    stdp = measure_stdp(shape, schemes, delays, spec, run_dir)

    stats = ("mean", "max_abs", "rel_to_bound")
    dist = np.full((len(SCHEME_NAMES), len(amps), len(CATEGORIES), 2, len(stats)), np.nan)
    for a, s in enumerate(SCHEME_NAMES):
        for b, v in enumerate(amps):
            for (c, role), (d, direction) in ((x, y) for x in enumerate(CATEGORIES) for y in enumerate(("set", "reset"))):
                entry = sweep[(s, float(v))].get(f"{role}_{direction}")
                if entry:
                    dist[a, b, c, d] = [entry[k] for k in stats]
    ds = xr.Dataset(
        {"g_array_S": (("scheme", "event", "row", "col"), np.stack([responses[s].g for s in SCHEME_NAMES])),
         "event_polarity": (("pulse",), main.polarity),
         "g_isolated_S": (("event",), g_iso),
         "g_model_S": (("event",), cal.g_model),
         "disturb": (("scheme", "amplitude_V", "role", "direction", "stat"), dist)},
        coords={"scheme": list(SCHEME_NAMES), "event": np.arange(main.g.shape[0]), "pulse": np.arange(1, main.g.shape[0]),
                "row": np.arange(shape[0]), "col": np.arange(shape[1]), "amplitude_V": amps, "role": list(CATEGORIES),
                "direction": ["set", "reset"], "stat": list(stats)})
    ds = ds.merge(_stdp_dataset(stdp, schemes, delays))
    ds.attrs.update(_attrs(args, shape), selected_row=main.selected[0], selected_col=main.selected[1],
                    calibrated_scheme=args.scheme,
                    disturb_stats="mean: mean dG per pulse / (Gmax-Gmin); max_abs: max |dG| / (Gmax-Gmin); "
                                  "rel_to_bound: mean dG / distance to the bound of the polarity seen")
    io.write_netcdf(ds, run_dir / "measurements.nc")
    plot_pulse_response(ds, run_dir / "pulse_response.png")
    plot_disturb(ds, run_dir / "disturb.png")
    plot_stdp(ds, run_dir / "stdp.png")
    toml = save_device(cal.params, run_dir / f"{name}.toml")
    elapsed = time.perf_counter() - t0
    text = "\n".join([cal.report(), _disturb_text(ds, main), _stdp_text(ds), f"run time {elapsed:.1f} s"])
    io.write_text(run_dir / "report.txt", text + "\n")
    write_status(run_dir, "finished", elapsed_s=round(elapsed, 2), device_toml=str(toml))
    print(text)
    print(f"calibrated device: {toml}\nrun folder: {run_dir}")
    return 0


def _disturb_text(ds, main) -> str:
    lines = []
    for s in ds.scheme.values:
        g = ds.g_array_S.sel(scheme=s).values
        sel = g[:, main.selected[0], main.selected[1]]
        dg = np.diff(sel) / main.range_S
        lines.append(f"{s}: selected dG per pulse {100 * dg[main.polarity > 0].mean():+.3f} % (LTP) / "
                     f"{100 * dg[main.polarity < 0].mean():+.3f} % (LTD) of Gmax - Gmin")
        for v in ds.amplitude_V.values:
            d = ds.disturb.sel(scheme=s, amplitude_V=v, stat="rel_to_bound")
            half = float(np.nanmax(d.sel(role=["row", "col"]).values))
            uns = float(np.nanmax(np.abs(d.sel(role="unselected").values)))
            lines.append(f"  {v:g} V (half-select {v * (0.5 if s == 'V/2' else 1 / 3):.3g} V): half-selected dG per pulse "
                         f"<= {half:.3g} of the distance to the bound, unselected {uns:.3g}")
    return "\n".join(lines)
