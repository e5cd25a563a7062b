"""``eqspike-xbar sweep``: train every point of a parameter grid on Dask, into one xarray Dataset.

    eqspike-xbar sweep configs/sweep_digits_example.toml            # local Dask cluster
    eqspike-xbar sweep SWEEP.toml --scheduler tcp://host:8786       # an existing cluster
    eqspike-xbar sweep --resume runs/<sweep-id> [--retry-failed]

The sweep file (schema in :mod:`.sweep_spec`) names a base config and axes of config keys.
Writes ``runs/<sweep-id>/``: ``sweep.toml`` (the resolved sweep, what ``--resume`` reads),
``points/<point-id>/`` (one ``train`` run folder per point, with checkpoints), ``sweep.nc``
(rewritten atomically after every finished point), ``status.json`` and plots.

``sweep.nc`` has one dimension per axis (``learning.beta`` -> ``learning_beta``, the config
keys in the coordinate's ``config_keys`` attribute), one variable per metric the trainer
reports per epoch (its final-epoch value; per-layer circuit diagnostics as ``diag_*_W1`` ...), and per point ``status`` (ok / failed / pending),
``error``, ``point_id`` and ``wall_time_s``. A point that raises is recorded with its error;
``--resume`` runs the pending points only (an interrupted point continues from its
checkpoint), and the failed ones again with ``--retry-failed``.

An existing cluster's workers need this package installed and the run folder on a shared
file system (points write their folders on the worker).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import traceback
from pathlib import Path

import numpy as np
import xarray as xr

from .. import io
from ..config_tools import parse_override, read_toml
from ..errors import EqSpikeXbarError, RunFolderError
from .runs import check_run_id, new_run_dir, write_status
from .sweep_spec import Point, SweepSpec, parse_sweep, load_sweep

log = logging.getLogger(__name__)

SWEEP_TOML, SWEEP_NC = "sweep.toml", "sweep.nc"
_BLAS_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


class SchedulerUnreachable(EqSpikeXbarError):
    """The Dask scheduler given with --scheduler cannot be reached."""


# ------------------------------------------------------------------ one point (runs on a worker)
def run_point(config: dict, point_dir: str) -> dict:
    """Train one point into ``point_dir`` (continuing from its checkpoint if there is one).

    Returns ``{"status": "ok", "metrics": {name: final value}, "units": {...}, "wall_time_s"}``
    or ``{"status": "failed", "error": "Type: message"}``; never raises for a bad point.
    """
    from threadpoolctl import threadpool_limits

    from ..config import config_from_dict
    from .train import Trainer

    t0 = time.perf_counter()
    run_dir = Path(point_dir)
    try:
        cfg = config_from_dict(config, str(run_dir / "config.toml"))
        io.write_text(run_dir / "config.toml", cfg.to_toml())
        with threadpool_limits(1), local_dask():
            trainer = Trainer(cfg, run_dir, progress=False)
            if trainer.checkpoint_path.is_file():
                trainer.load_checkpoint()
            ds = trainer.run()
        metrics, units = final_epoch_metrics(ds)
        return {"status": "ok", "metrics": metrics, "units": units, "wall_time_s": time.perf_counter() - t0}
    except Exception as exc:  # recorded in the sweep, never fatal for the others
        with contextlib.suppress(EqSpikeXbarError):
            io.write_text(run_dir / "traceback.txt", traceback.format_exc())
        return failed(exc, time.perf_counter() - t0)


def local_dask():
    """Keep xarray's file writes off the cluster: inside a Client, xarray would otherwise take
    a cluster-wide lock (a scheduler round trip, and a worker-side Client) for every file."""
    import dask

    return dask.config.set(scheduler="synchronous")


def failed(exc: BaseException, wall_time_s: float = float("nan")) -> dict:
    return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "wall_time_s": wall_time_s}


def final_epoch_metrics(ds: xr.Dataset) -> tuple[dict, dict]:
    """Final-epoch value of every variable whose only dimension is ``epoch`` (NaN if no epoch
    ran), and of every per-layer one (the circuit diagnostics: IR drop, asymmetry, stale error,
    ...) as ``<name>_<layer>``, e.g. ``diag_ir_drop_W1``."""
    metrics, units = {}, {}
    for name, var in ds.data_vars.items():
        if var.dims == ("epoch",):
            values = {name: var.values[-1] if var.size else np.nan}
        elif var.dims == ("epoch", "layer") and var.dtype.kind == "f":
            values = {f"{name}_{layer}": var.values[-1, k] if var.sizes["epoch"] else np.nan
                      for k, layer in enumerate(ds.layer.values)}
        else:
            continue
        for key, value in values.items():
            metrics[key] = float(value)
            if "units" in var.attrs:
                units[key] = str(var.attrs["units"])
    return metrics, units


# ------------------------------------------------------------------ the sweep folder
class Sweep:
    """A sweep folder: its spec, its points and their results; writes ``sweep.nc``."""

    def __init__(self, spec: SweepSpec, path: Path):
        self.spec, self.path = spec, Path(path)
        self.points = spec.points()
        self.results: dict[str, dict] = {p.pid: {"status": "pending"} for p in self.points}
        self.units: dict[str, str] = {}
        self.metric_names: list[str] = []

    @classmethod
    def create(cls, spec: SweepSpec, runs_dir="runs", sweep_id: str | None = None) -> "Sweep":
        path = new_run_dir(runs_dir, f"sweep-{spec.name}" if spec.name else "sweep", sweep_id)
        io.write_text(path / SWEEP_TOML, spec.to_toml())
        sweep = cls(spec, path)
        sweep.save()
        return sweep

    @classmethod
    def open(cls, path) -> "Sweep":
        path = Path(path)
        if not (path / SWEEP_TOML).is_file():
            raise RunFolderError(f"{path} is not a sweep folder (no {SWEEP_TOML}): nothing to resume")
        spec = parse_sweep(read_toml(path / SWEEP_TOML, error=RunFolderError), str(path / SWEEP_TOML))
        sweep = cls(spec, path)
        if (path / SWEEP_NC).is_file():
            sweep._load_results(path / SWEEP_NC)
        return sweep

    def _load_results(self, nc: Path) -> None:
        try:
            ds = xr.load_dataset(nc)
        except (OSError, ValueError) as exc:
            raise RunFolderError(f"cannot read {nc}: {exc}; move it away to rerun every point") from None
        if tuple(ds.status.dims) != self.spec.dims or ds.status.shape != self.spec.shape:
            raise RunFolderError(f"{nc} does not match {self.path / SWEEP_TOML} (dims {ds.status.dims})")
        self.metric_names = [v for v in ds.data_vars if v not in ("status", "error", "point_id", "wall_time_s")]
        self.units = {v: ds[v].attrs["units"] for v in self.metric_names if "units" in ds[v].attrs}
        for p in self.points:
            at = ds.isel(dict(zip(self.spec.dims, p.index)))
            status = str(at.status.values)
            if status == "pending":
                continue
            self.results[p.pid] = {
                "status": status,
                "error": str(at.error.values),
                "wall_time_s": float(at.wall_time_s),
                "metrics": {m: float(at[m]) for m in self.metric_names},
            }

    def point_dir(self, p: Point) -> Path:
        return self.path / "points" / p.pid

    def todo(self, retry_failed: bool = False) -> list[Point]:
        want = ("pending", "failed") if retry_failed else ("pending",)
        return [p for p in self.points if self.results[p.pid]["status"] in want]

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "failed": 0, "pending": 0}
        for r in self.results.values():
            out[r["status"]] += 1
        return out

    def record(self, p: Point, result: dict) -> None:
        self.results[p.pid] = result
        for m in result.get("metrics", {}):
            if m not in self.metric_names:
                self.metric_names.append(m)
        self.units.update(result.get("units", {}))
        self.save()

    def dataset(self) -> xr.Dataset:
        spec = self.spec
        shape, dims = spec.shape, spec.dims
        status = np.full(shape, "pending", dtype=object)
        error = np.full(shape, "", dtype=object)
        pids = np.full(shape, "", dtype=object)
        wall = np.full(shape, np.nan)
        metrics = {m: np.full(shape, np.nan) for m in self.metric_names}
        for p in self.points:
            r = self.results[p.pid]
            status[p.index], error[p.index], pids[p.index] = r["status"], r.get("error", ""), p.pid
            wall[p.index] = r.get("wall_time_s", np.nan)
            for m, v in r.get("metrics", {}).items():
                metrics[m][p.index] = v
        data = {m: (dims, v) for m, v in metrics.items()}
        data.update(status=(dims, status), error=(dims, error), point_id=(dims, pids), wall_time_s=(dims, wall))
        ds = xr.Dataset(data, coords={a.dim: (a.dim, a.coordinate()) for a in spec.axes})
        for a in spec.axes:
            ds[a.dim].attrs.update(axis=a.name, config_keys=" ".join(a.keys))
        for m, u in self.units.items():
            if m in ds:
                ds[m].attrs["units"] = u
        ds["wall_time_s"].attrs["units"] = "s"
        ds["status"].attrs["description"] = "ok / failed / pending"
        ds.attrs.update(
            sweep_id=self.path.name,
            description="final-epoch metrics of one training run per grid point",
            sweep_toml=spec.to_toml(),
            metrics=" ".join(self.metric_names),
        )
        return ds

    def save(self) -> None:
        with local_dask():
            io.write_netcdf(self.dataset(), self.path / SWEEP_NC)

    # -------------------------------------------------------------- running
    def run(self, client, retry_failed: bool = False, progress: bool = True, on_result=None) -> xr.Dataset:
        """Submit the points still to do to ``client``; record each result as it arrives."""
        from distributed import as_completed
        from tqdm import tqdm

        todo = self.todo(retry_failed)
        if not todo:
            write_status(self.path, "finished", **self.counts())
            return self.dataset()
        write_status(self.path, "running", **self.counts())
        # in grid order (Dask would otherwise start the last submitted first): a sweep stopped part-way has
        # its first axis values done, as the sweep files promise
        futures = {client.submit(run_point, p.config, str(self.point_dir(p).resolve()), pure=False,
                                 key=f"{self.path.name}/{p.pid}-{time.time_ns()}", priority=len(todo) - i): p
                   for i, p in enumerate(todo)}
        bar = tqdm(total=len(todo), desc=f"sweep {self.path.name}", unit="point", disable=None if progress else True)
        try:
            for fut in as_completed(futures):
                p = futures.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:  # the worker died, the task was lost, ...
                    result = failed(exc)
                self.record(p, result)
                if result["status"] == "failed":
                    log.warning("point %s (%s) failed: %s", p.pid, p.label, result["error"])
                bar.update(1)
                bar.set_postfix(self.counts())
                if on_result is not None:
                    on_result(p, result)
        except BaseException:
            client.cancel(list(futures))
            write_status(self.path, "interrupted", **self.counts())
            raise
        finally:
            bar.close()
        write_status(self.path, "finished", **self.counts())
        return self.dataset()


# ------------------------------------------------------------------ Dask
@contextlib.contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None, connect_timeout: float = 5.0):
    """A distributed Client: on ``scheduler`` (checked first, within ``connect_timeout``), or on a
    new LocalCluster of ``n_workers`` single-threaded processes (default: one per core)."""
    from distributed import Client, LocalCluster

    if scheduler:
        info = probe_scheduler(scheduler, connect_timeout)
        if not info.get("n_workers"):
            log.warning("Dask scheduler %s has no workers yet: points wait until one joins", scheduler)
        with Client(scheduler, timeout=connect_timeout) as client:
            yield client
        return
    if not log.isEnabledFor(logging.DEBUG):  # the scheduler runs in this process: keep its chatter out
        logging.getLogger("distributed").setLevel(logging.WARNING)
    n = n_workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR, env=dict(_BLAS_ENV)) as cluster, Client(cluster) as client:
        log.info("local Dask cluster: %d workers, dashboard %s", n, client.dashboard_link)
        yield client


def probe_scheduler(address: str, timeout: float) -> dict:
    """Ask ``address`` who it is; SchedulerUnreachable unless a Dask scheduler answers in time."""
    from distributed.comm import connect

    async def identity():
        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), timeout)
        finally:
            comm.abort()

    hint = "start one with `dask scheduler` (and `dask worker ADDRESS`) or omit --scheduler for a local cluster"
    try:
        info = asyncio.run(identity())
    except BaseException as exc:  # refused, timed out, bad address, not speaking Dask's protocol
        if isinstance(exc, KeyboardInterrupt):
            raise
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SchedulerUnreachable(f"cannot reach Dask scheduler {address}: {reason}; {hint}") from None
    if not isinstance(info, dict) or info.get("type") != "Scheduler":
        kind = info.get("type") if isinstance(info, dict) else type(info).__name__
        raise SchedulerUnreachable(f"{address} is not a Dask scheduler (it answers as {kind}); {hint}")
    return info


# ------------------------------------------------------------------ command line
def register(sub) -> None:
    p = sub.add_parser("sweep", help="train a grid of configs (nonidealities x seeds) on Dask; writes runs/<sweep-id>/")
    p.add_argument("sweep_file", nargs="?", help="sweep TOML: base config, [set], [axes] (see configs/sweep_*.toml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a base-config key for every point, e.g. --set learning.epochs=2 (repeatable)")
    p.add_argument("--resume", metavar="SWEEP_DIR", help="run the pending points of an interrupted sweep")
    p.add_argument("--retry-failed", action="store_true", help="with --resume: run the failed points again too")
    p.add_argument("--scheduler", metavar="ADDRESS", help="existing Dask scheduler, e.g. tcp://host:8786 "
                   "(default: a local cluster)")
    p.add_argument("--connect-timeout", type=float, default=5.0, metavar="SECONDS",
                   help="give up on --scheduler after this long (default: 5)")
    p.add_argument("--workers", type=int, help="local cluster: worker processes (default: one per core)")
    p.add_argument("--runs-dir", default="runs", help="parent folder of run folders (default: runs)")
    p.add_argument("--run-id", "--sweep-id", dest="run_id",
                   help="name of the sweep folder (default: <time>-sweep-<name>); --sweep-id is the old spelling")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    from ..errors import ConfigError

    if bool(args.sweep_file) == bool(args.resume):
        raise ConfigError("give a sweep file, or --resume SWEEP_DIR (not both)")
    if args.resume and args.set:
        raise ConfigError("--set cannot change a sweep being resumed: its finished points used the stored config")
    if args.retry_failed and not args.resume:
        raise ConfigError("--retry-failed goes with --resume SWEEP_DIR")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    # Everything is validated, and the cluster reached, before the sweep folder is touched.
    if args.run_id is not None and not args.resume:
        check_run_id(args.run_id)
        if (Path(args.runs_dir) / args.run_id).exists():
            raise RunFolderError(f"run folder {Path(args.runs_dir) / args.run_id} exists already: choose another "
                                 "--run-id, or --resume it")
    if args.resume:
        sweep = Sweep.open(args.resume)
        io.remove_temporaries(sweep.path)
    else:
        spec = load_sweep_blaming_set(args.sweep_file, args.set)
        spec.points()
    t0 = time.perf_counter()
    nothing_to_do = args.resume and not sweep.todo(args.retry_failed)
    with contextlib.nullcontext() if nothing_to_do else dask_client(args.scheduler, args.workers,
                                                                       args.connect_timeout) as client:
        if not args.resume:
            sweep = Sweep.create(spec, args.runs_dir, args.run_id)
        log.info("sweep folder: %s (%d points, %d to run)", sweep.path, len(sweep.points),
                 len(sweep.todo(args.retry_failed)))
        try:
            ds = sweep.run(client, retry_failed=args.retry_failed, progress=not args.no_progress)
        finally:
            plot_paths = _plot(sweep)
    c = sweep.counts()
    print(f"{sweep.path}: {len(sweep.points)} points ({c['ok']} ok, {c['failed']} failed), "
          f"{time.perf_counter() - t0:.1f} s; {sweep.path / SWEEP_NC}"
          + (f"; plots: {', '.join(p.name for p in plot_paths)}" if plot_paths else ""))
    if "test_accuracy" in ds and c["ok"]:
        best = ds.test_accuracy.where(ds.status == "ok")
        at = best.where(best == best.max(), drop=True)
        where = ", ".join(f"{d}={at[d].values[0]}" for d in at.dims)
        print(f"best test accuracy {100 * float(best.max()):.2f} % at {where}")
    if c["failed"]:
        print(f"{c['failed']} point(s) failed (see 'error' in sweep.nc); "
              f"rerun them with: eqspike-xbar sweep --resume {sweep.path} --retry-failed")
    return 0


def load_sweep_blaming_set(path, set_texts) -> SweepSpec:
    """:func:`load_sweep` with ``--set`` overrides; a bad value a flag set is blamed on the flag."""
    from ..errors import ConfigError

    try:
        return load_sweep(path, [parse_override(s) for s in set_texts])
    except ConfigError as exc:
        if not set_texts:
            raise
        load_sweep(path)  # the file alone is wrong: its own error names it
        msg = str(exc)
        for prefix in (f"{path} (base config): ", f"{path}: "):
            msg = msg[len(prefix):] if msg.startswith(prefix) else msg
        named = [t for t in set_texts if t.split("=", 1)[0].strip() in msg] or list(set_texts)
        raise ConfigError(f"{' '.join('--set ' + t for t in named)}: {msg}") from None


def _plot(sweep: Sweep) -> list[Path]:
    if not sweep.counts()["ok"]:
        return []
    from ..figures.sweep import plot_sweep

    return plot_sweep(sweep.dataset(), sweep.path)
