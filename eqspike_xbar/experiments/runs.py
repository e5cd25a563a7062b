"""Run folders: every command writes into its own ``runs/<run-id>/``.

The run id is ``<YYYYmmdd-HHMMSS>-<name>`` (a numeric suffix if taken). A run folder holds
``config.toml`` (resolved), ``status.json`` (running / finished / failed with the message),
``metrics.nc`` and plots; ``checkpoints/last.npz`` for resumable runs.
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

from .. import io
from ..config_tools import merge, parse_override, read_toml
from ..errors import RunFolderError
from ..validation import safe_identifier


def new_run_dir(runs_dir, name: str, run_id: str | None = None) -> Path:
    """Create ``runs_dir/<time>-<name>`` (or ``runs_dir/<run_id>``); names never leave runs_dir."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}", name) or ".." in name:
        raise RunFolderError(f"run name {name!r} may only use A-Z a-z 0-9 _ . - (it names a folder under {runs_dir})")
    runs_dir = io.ensure_writable_dir(runs_dir)
    if run_id:
        safe_identifier(run_id.replace("-", "_").replace(".", "_"), "--run-id")
        path = runs_dir / run_id
        if path.exists():
            raise RunFolderError(f"run folder {path} exists already: choose another --run-id, or --resume it")
    else:
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
        path, n = runs_dir / stem, 1
        while path.exists():
            n += 1
            path = runs_dir / f"{stem}-{n}"
    try:
        path.mkdir(parents=True)
    except OSError as exc:
        raise RunFolderError(f"cannot create run folder {path}: {exc.strerror or exc}") from None
    return path


def write_status(run_dir, state: str, **info) -> None:
    io.write_text(Path(run_dir) / "status.json", json.dumps({"state": state, **info}, indent=2) + "\n")


def read_status(run_dir) -> dict:
    p = Path(run_dir) / "status.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}


def overrides_from_args(args) -> list[dict]:
    """The ``--set KEY=VALUE`` (and ``--data-dir``) options of a command as config overrides."""
    out = [parse_override(s) for s in getattr(args, "set", [])]
    if getattr(args, "data_dir", None):
        out.append({"data": {"data_dir": args.data_dir}})
    return out


def resume_config(run_dir, overrides: list[dict] = ()) -> dict:
    """The resolved config of an existing run folder, with ``overrides`` merged in."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no config.toml): nothing to resume")
    base = read_toml(run_dir / "config.toml", error=RunFolderError)
    for o in overrides:
        base = merge(base, o)
    return base
