"""Seeds as a dimension of an experiment: several trainings of one config side by side on the
local Dask cluster of ``sweep`` (or in this process when there is one), gathered into one
metrics Dataset with a ``seed`` dimension.

A seed changes everything random: data split and order, initial weights, encoder phases,
device spread and noise. Each job trains into its own ``train`` run folder (checkpoints,
``metrics.nc``), so a killed run resumes per job. :func:`combine` stacks the per-seed metrics
(a seed that stopped early is padded with NaN); :func:`summary` gives mean ± sd.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import xarray as xr

from ..config_tools import merge
from ..errors import ConfigError, EqSpikeXbarError

log = logging.getLogger(__name__)


class JobsFailed(EqSpikeXbarError):
    """One or more jobs of a multi-job run failed (the others are kept)."""


def parse_seeds(text: str | None, flag: str = "--seeds") -> list[int] | None:
    """``"0,1,2"`` -> [0, 1, 2]; None stays None."""
    if text is None:
        return None
    try:
        seeds = [int(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: give comma-separated whole numbers, e.g. {flag} 0,1,2") from None
    return check_seeds(seeds, f"{flag} {text!r}")


def check_seeds(seeds, where: str) -> list[int]:
    if not isinstance(seeds, (list, tuple)) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"{where}: seeds must be a non-empty list of whole numbers, got {seeds!r}")
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: seeds must be distinct and >= 0, got {list(seeds)}")
    return list(seeds)


def with_seed(config: dict, seed: int) -> dict:
    return merge(config, {"run": {"seed": int(seed)}})


@dataclasses.dataclass
class Job:
    """One training: a key naming it in messages, its full config, its run folder."""

    key: str
    config: dict
    folder: Path


def run_jobs(jobs: list[Job], workers: int | None = None, progress: bool = True, on_done=None) -> dict[str, xr.Dataset]:
    """Train every job (continuing from its checkpoint); {key: its metrics Dataset}.

    More than one job: side by side on a local Dask cluster (one single-threaded worker per
    core, as for sweeps). A job that fails is reported with the others' results kept:
    :class:`JobsFailed` names it after all have finished. ``on_done(key, result, done, total)``
    is called as each job ends (e.g. to keep the run's status.json current)."""
    from .sweep import dask_client, run_point

    results: dict[str, dict] = {}
    if len(jobs) == 1:
        (job,) = jobs
        results[job.key] = run_point(job.config, str(job.folder))
    else:
        from distributed import as_completed
        from tqdm import tqdm

        with dask_client(None, workers) as client:
            futures = {client.submit(run_point, j.config, str(Path(j.folder).resolve()), pure=False): j for j in jobs}
            bar = tqdm(total=len(jobs), desc="trainings", unit="run", disable=None if progress else True)
            try:
                for fut in as_completed(futures):
                    j = futures[fut]
                    try:
                        results[j.key] = fut.result()
                    except Exception as exc:  # a worker died
                        results[j.key] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                    r = results[j.key]
                    if r["status"] == "ok":
                        log.info("%s: %.2f %% test accuracy (%.0f s)", j.key,
                                 100 * r["metrics"].get("test_accuracy", float("nan")), r.get("wall_time_s", 0))
                    bar.update(1)
                    if on_done is not None:
                        on_done(j.key, r, len(results), len(jobs))
            except BaseException:
                client.cancel(list(futures))
                raise
            finally:
                bar.close()
    failed = {k: r["error"] for k, r in results.items() if r["status"] != "ok"}
    out = {}
    for j in jobs:
        if j.key in failed:
            continue
        out[j.key] = xr.load_dataset(Path(j.folder) / "metrics.nc")
    if failed:
        first = next(iter(failed))
        raise JobsFailed(f"{len(failed)} of {len(jobs)} trainings failed ({', '.join(failed)}); {first}: "
                         f"{failed[first]} — the others are kept, resume to run the failed ones again")
    return out


def combine(per_seed: dict[int, xr.Dataset]) -> xr.Dataset:
    """One Dataset with a ``seed`` dimension; a seed with fewer epochs is padded with NaN.
    Attributes come from the first seed; ``wall_time_s`` becomes a per-seed variable."""
    seeds = list(per_seed)
    dss = []
    for s in seeds:
        ds = per_seed[s].copy()
        ds["wall_time_s"] = float(ds.attrs.get("wall_time_s", np.nan))
        dss.append(ds)
    out = xr.concat(dss, dim=xr.DataArray(seeds, dims="seed", name="seed"), join="outer", combine_attrs="override",
                    coords="minimal", compat="override")
    out["wall_time_s"].attrs["units"] = "s"
    out.attrs = {k: v for k, v in dss[0].attrs.items() if k not in ("wall_time_s", "stretches")}
    out.attrs["seeds"] = " ".join(map(str, seeds))
    out.attrs["wall_time_s"] = float(np.nansum(out["wall_time_s"].values))  # compute time, summed over seeds
    return out


def seeds_of(ds: xr.Dataset) -> int:
    return int(ds.sizes.get("seed", 1))


def summary(values) -> tuple[float, float, int]:
    """Mean, sample standard deviation (0 for one value) and count of the finite values."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size)


def fmt_pct(values, one_seed: bool = False, count: bool = True) -> str:
    """``95.12 ± 0.40 % (3 seeds)`` or ``95.12 %`` for one value (``95.12 % (one seed)`` with
    ``one_seed``); ``count = False`` leaves out the number of seeds."""
    m, sd, n = summary(values)
    if n == 0:
        return "–"
    if n == 1:
        return f"{100 * m:.2f} %" + (" (one seed)" if one_seed else "")
    return f"{100 * m:.2f} ± {100 * sd:.2f} %" + (f" ({n} seeds)" if count else "")


def final(ds: xr.Dataset, var: str):
    """The last epoch's values of ``var`` per seed (the last finite one of each seed)."""
    da = ds[var]
    if "seed" not in da.dims:
        return np.array([float(da.isel(epoch=-1))])
    return np.array([float(da.sel(seed=s).dropna("epoch").isel(epoch=-1)) if da.sel(seed=s).notnull().any()
                     else np.nan for s in ds.seed.values])


def seed_mean(ds: xr.Dataset) -> xr.Dataset:
    """The Dataset averaged over seeds (for energies and diagnostics); ``<var>_sd`` beside the
    energies. A Dataset without seeds comes back as it is."""
    if "seed" not in ds.dims:
        return ds
    out = ds.mean("seed", keep_attrs=True)
    for v in ds.data_vars:
        if v.startswith("energy_") and "component" in ds[v].dims:
            out[f"{v}_sd"] = ds[v].std("seed", ddof=1) if ds.sizes["seed"] > 1 else xr.zeros_like(out[v])
    return out
