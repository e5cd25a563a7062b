"""Run folders: every command writes into its own ``runs/<run-id>/``.

The run id is ``<YYYYmmdd-HHMMSS>-<name>`` (a numeric suffix if taken). A run folder holds
``config.toml`` (resolved), ``status.json`` (running / finished / failed with the message),
``metrics.nc`` and plots; ``checkpoints/last.npz`` for resumable runs.
"""
from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from pathlib import Path

from .. import io
from ..config_tools import merge, parse_override, read_toml
from ..errors import ConfigError, EqSpikeXbarError, RunFolderError

_RUN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}")


def new_run_dir(runs_dir, name: str, run_id: str | None = None) -> Path:
    """Create ``runs_dir/<time>-<name>`` (or ``runs_dir/<run_id>``); names never leave runs_dir."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}", name) or ".." in name:
        raise RunFolderError(f"run name {name!r} may only use A-Z a-z 0-9 _ . - (it names a folder under {runs_dir})")
    runs_dir = io.ensure_writable_dir(runs_dir)
    if run_id is not None:
        check_run_id(run_id)
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


def check_run_id(run_id: str, flag: str = "--run-id") -> str:
    """A run id names one folder directly under the runs folder: no separators, no '..'."""
    if not _RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise RunFolderError(f"{flag} {run_id!r} must be 1-80 characters from A-Z a-z 0-9 _ . - "
                             "(not starting with . or -, no '..'): it names one folder under the runs folder")
    return run_id


def write_status(run_dir, state: str, **info) -> None:
    io.write_text(Path(run_dir) / "status.json", json.dumps({"state": state, **info}, indent=2) + "\n")


class Clock:
    """Wall time of a run folder summed over every stretch that worked on it (a killed and
    resumed run has several): the seconds recorded in its ``status.json`` by earlier stretches
    plus this one's. Starts when first asked."""

    def __init__(self):
        self.prior_s, self.stretch, self._t0 = 0.0, 1, None

    def start(self, run_dir) -> "Clock":
        st = read_status(run_dir)
        self.prior_s = float(st.get("elapsed_s", 0.0) or 0.0)
        self.stretch = int(st.get("stretches", 0) or 0) + 1
        self._t0 = time.perf_counter()
        return self

    @property
    def started(self) -> bool:
        return self._t0 is not None

    def elapsed_s(self) -> float:
        return self.prior_s + (time.perf_counter() - self._t0 if self._t0 is not None else 0.0)

    def fields(self) -> dict:
        """What status.json records: summed seconds, stretches so far, wall-clock time of writing."""
        return {"elapsed_s": round(self.elapsed_s(), 2), "stretches": self.stretch,
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


@contextmanager
def recording_end(status):
    """Inside: a user-caused error marks the run ``failed`` (with the message) and Ctrl-C or
    SIGTERM ``interrupted``, through ``status(state, **info)``, before it propagates."""
    try:
        yield
    except EqSpikeXbarError as exc:
        status("failed", error=str(exc))
        raise
    except KeyboardInterrupt:
        status("interrupted")
        raise


def add_compute_options(p, seeds_help: str) -> None:
    """--threads, --seeds and --workers, shared by the training commands."""
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default 1: a run repeats exactly on the same machine with the same thread "
                        "count; other CPUs round differently, see --seeds; 2 made an MNIST EqSpike epoch 39 s "
                        "instead of 51-68 s here)")
    p.add_argument("--seeds", metavar="S,S,...", help=seeds_help)
    p.add_argument("--workers", type=int, help="with several runs: local Dask worker processes (default: one per core)")


def read_status(run_dir) -> dict:
    p = Path(run_dir) / "status.json"
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return {}


def pop_seeds(d: dict):
    """(the config mapping without ``[run] seeds``, those seeds or None)."""
    run = d.get("run")
    if not isinstance(run, dict) or "seeds" not in run:
        return d, None
    run = dict(run)
    seeds = run.pop("seeds")
    return {**d, "run": run}, seeds


def load_experiment_seeds(path, set_texts=(), extra: list[dict] = (), data_dir: str | None = None):
    """The experiment config of ``path`` (None: defaults) with ``--set`` texts and ``extra``
    overrides, and the seeds it asks for (``[run] seeds``, or None); a bad value is blamed on
    the flag that set it (``--set KEY=VALUE: ...``), or on the file when the file alone is
    already wrong."""
    from ..config import experiment_from_mapping

    base = read_toml(path) if path else {}
    sets = [(t, parse_override(t)) for t in set_texts]
    fixed = list(extra) + ([{"data": {"data_dir": data_dir}}] if data_dir else [])
    full = base
    for o in [o for _, o in sets] + fixed:
        full = merge(full, o)
    try:
        cfg = experiment_from_mapping(full)
        return cfg, list(cfg.run.seeds) or None
    except ConfigError as exc:
        msg = str(exc)
        source = str(path) if path else "config"
        if sets:
            with_base = base
            for o in fixed:
                with_base = merge(with_base, o)
            try:
                experiment_from_mapping(with_base)
            except ConfigError:
                pass  # the file (or the defaults) is wrong on its own: name it
            else:
                named = [t for t, _ in sets if t.split("=", 1)[0].strip() in msg]
                source = " ".join(f"--set {t}" for t in (named or [t for t, _ in sets]))
        raise ConfigError(f"{source}: {msg}") from None


def check_devices(cfg, where: str = "config") -> None:
    """Build what a programmed backend builds from the config before anything runs: the device
    parameters (library name or TOML, overrides, on/off ratio) and the switched-off effects.
    Device overrides are checked with any backend (a sweep may set them on an ideal one)."""
    from ..devices import Effects
    from ..synapses import BACKENDS
    from ..synapses.device import resolve_device

    s = cfg.synapses
    if not (getattr(BACKENDS.get(s.backend), "programmed", False) or s.device_overrides or s.on_off_ratio):
        return
    try:
        resolve_device(s.device, s.device_overrides, s.on_off_ratio)
        Effects().without(*s.effects_off)
    except EqSpikeXbarError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def overrides_from_args(args) -> list[dict]:
    """The ``--set KEY=VALUE`` (and ``--data-dir``) options of a command as config overrides."""
    out = [parse_override(s) for s in getattr(args, "set", [])]
    if getattr(args, "data_dir", None):
        out.append({"data": {"data_dir": args.data_dir}})
    return out


def resume_config(run_dir) -> dict:
    """The resolved config of an existing run folder (a RunFolderError when it is none)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise RunFolderError(f"{run_dir} is not a run folder (no config.toml): nothing to resume")
    return read_toml(run_dir / "config.toml", error=RunFolderError)
