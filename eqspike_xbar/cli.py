"""Command line: ``eqspike-xbar <command> ...``.

Each command registers itself through a ``register(subparsers)`` function: the experiments'
commands in ``experiments/`` (run, train, stdp, sweep), the domain packages' commands in
``commands/`` (crossbar, device, program); this file only lists those modules and turns
user-caused errors into one line and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys

from . import __version__, io
from .errors import EqSpikeXbarError

# Modules providing `register(subparsers)`; each adds one or more sub-commands.
COMMAND_MODULES = [
    "eqspike_xbar.experiments.main_job",
    "eqspike_xbar.experiments.train",
    "eqspike_xbar.experiments.stdp",
    "eqspike_xbar.commands.crossbar",
    "eqspike_xbar.commands.device",
    "eqspike_xbar.commands.program",
    "eqspike_xbar.experiments.sweep",
]
#: commands whose module is known without importing the others: ``eqspike-xbar crossbar ...``
#: then loads only what a crossbar read needs (cold start: no xarray, pandas, matplotlib)
COMMAND_OWNERS = {"crossbar": "eqspike_xbar.commands.crossbar"}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or only of the commands of the module ``only``."""
    parser = argparse.ArgumentParser(
        prog="eqspike-xbar",
        description="EqSpike (spike-driven equilibrium propagation) on memristive crossbars.",
    )
    parser.add_argument("--version", action="version", version=f"eqspike-xbar {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in [only] if only else COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(COMMAND_OWNERS.get(command))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # `kill` (SIGTERM) unwinds like Ctrl-C, after the file being written (if any) is complete:
    # the status says "interrupted"; only `kill -9` leaves temporaries (removed on --resume)
    previous = {s: signal.signal(s, io.interrupt) for s in (signal.SIGINT, signal.SIGTERM)} if _main_thread() else {}
    try:
        return int(args.func(args) or 0)
    except EqSpikeXbarError as exc:
        print(f"eqspike-xbar: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("eqspike-xbar: interrupted; results written so far are kept", file=sys.stderr)
        return 130
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
