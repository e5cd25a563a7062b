"""``eqspike-xbar device list|show|fit|characterize``."""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import DeviceModelError
from ..validation import safe_identifier

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    p = subparsers.add_parser("device", help="device models: list, show, fit measured data, characterise SPICE models")
    sub = p.add_subparsers(dest="device_command", metavar="ACTION")
    sub.required = True

    q = sub.add_parser("list", help="list the device library (device_models/*.toml)")
    q.set_defaults(func=cmd_list)

    q = sub.add_parser("show", help="print a device's parameters and plot its LTP/LTD curves with variability band")
    q.add_argument("name", help="library name (see 'device list') or path to a .toml")
    q.add_argument("--plot", type=Path, help="figure path (default runs/devices/NAME_ltp_ltd.png)")
    q.add_argument("--devices", type=int, default=200, help="devices in the variability band (default 200)")
    q.set_defaults(func=cmd_show)

    q = sub.add_parser("fit", help="fit a device model to measured conductance-vs-pulse data")
    q.add_argument("data", type=Path, help="CSV (layout: see --layout)")
    q.add_argument("--layout", choices=("long", "columns", "updown"), default="long",
                   help="long: columns direction,conductance_S[,device,cycle,pulse]; columns: one ramp per "
                        "column (give --ltd); updown: two columns up,down without header")
    q.add_argument("--ltd", type=Path, help="depression ramps file for --layout columns")
    q.add_argument("--scale", type=float, default=1.0, help="multiply values by this to get S (e.g. 10 for A at 0.1 V)")
    q.add_argument("--offset", type=float, default=0.0, help="then add this (S), for normalised data")
    q.add_argument("--name", required=True, help="device name (letters, digits, _)")
    q.add_argument("--out", type=Path, help="TOML to write (default device_models/NAME.toml)")
    q.add_argument("--plots", type=Path, help="folder for fit/residual figures (default runs/devices)")
    q.add_argument("--force", action="store_true", help="overwrite an existing TOML")
    q.set_defaults(func=cmd_fit)

    q = sub.add_parser("characterize", help="run pulse trains on a SPICE compact model, fit and compare")
    q.add_argument("model", help="compact model (memristor_vteam)")
    q.add_argument("--pulses", type=int, nargs=2, default=(120, 120), metavar=("N_LTP", "N_LTD"))
    q.add_argument("--cycles", type=int, default=2)
    q.add_argument("--max-step", type=float, default=1e-9, help="transient max time step (s)")
    q.add_argument("--out", type=Path, help="write the fitted device TOML here")
    q.add_argument("--plots", type=Path, help="folder for the comparison figure (default runs/devices)")
    q.set_defaults(func=cmd_characterize)


def cmd_list(args) -> int:
    from ..devices.library import list_devices, load_device

    rows = []
    for name in list_devices():
        p = load_device(name)
        c = p.conductance
        rows.append([name, f"{c.gmin_S:.3g}-{c.gmax_S:.3g} S", f"{c.levels}/{c.pulses_ltd}",
                     f"{p.nonlinearity.ltp:+.2f}/{p.nonlinearity.ltd:+.2f}", f"{p.noise.c2c_sigma:.3f}", p.description])
    header = ["name", "conductance", "levels LTP/LTD", "NL LTP/LTD", "C2C", "description"]
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header) - 1)]
    for r in [header, *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)) + "  " + r[-1])
    return 0


def cmd_show(args) -> int:
    from ..devices.library import device_toml, load_device
    from ..figures.devices import plot_device

    p = load_device(args.name)
    print(device_toml(p))
    if args.devices < 1:
        raise DeviceModelError(f"--devices must be >= 1, got {args.devices}")
    path = args.plot or Path("runs/devices") / f"{p.name}_ltp_ltd.png"
    plot_device(p, path, n_devices=args.devices)
    print(f"plot: {path}")
    return 0


def cmd_fit(args) -> int:
    from ..devices.fitting import fit_ramps
    from ..devices.library import DEVICE_MODELS_DIR, save_device
    from ..devices.measurements import read_measurements
    from ..figures.devices import plot_fit

    name = safe_identifier(args.name, "--name")
    out = args.out or DEVICE_MODELS_DIR / f"{name}.toml"
    if out.exists() and not args.force:
        raise DeviceModelError(f"{out} exists: choose another --name/--out or pass --force")
    ramps = read_measurements(args.data, args.layout, args.ltd, args.scale, args.offset)
    source = f"{args.data}" + (f" + {args.ltd}" if args.ltd else "") + (
        f" (scale {args.scale:g}, offset {args.offset:g} S)" if (args.scale, args.offset) != (1.0, 0.0) else "")
    result = fit_ramps(ramps, name, source)
    plots = args.plots or Path("runs/devices")
    fig1 = plot_fit(result, plots / f"{name}_fit.png", plots / f"{name}_residuals.png")
    save_device(result.params, out)  # last: nothing is written if anything above failed
    print(result.summary())
    print(f"wrote {out}; figures {plots / f'{name}_fit.png'}, {fig1}")
    return 0


def cmd_characterize(args) -> int:
    from ..devices.characterize import COMPACT_MODELS, PulseTrain, characterize
    from ..devices.library import save_device
    from ..figures.devices import plot_characterisation

    model = safe_identifier(args.model, "compact model")
    if model not in COMPACT_MODELS:
        raise DeviceModelError(f"unknown compact model {model!r}; known: {', '.join(COMPACT_MODELS)}")
    if min(args.pulses) < 8 or args.cycles < 1:
        raise DeviceModelError("--pulses must be >= 8 each and --cycles >= 1")
    train = PulseTrain(n_ltp=args.pulses[0], n_ltd=args.pulses[1], cycles=args.cycles)
    result = characterize(model, train=train, max_step_s=args.max_step)
    print(result.report())
    plots = args.plots or Path("runs/devices")
    plot_characterisation(result, plots / f"{model}_characterisation.png")
    print(f"figure: {plots / f'{model}_characterisation.png'}")
    if args.out:
        save_device(result.fit.params, args.out)
        print(f"wrote {args.out}")
    return 0
