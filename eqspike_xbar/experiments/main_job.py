"""``eqspike-xbar run``: the main job. One data set, three fidelities, one seed or several (``--seeds``).

    eqspike-xbar run                                   # digits, configs/main_digits.toml
    eqspike-xbar run --set synapses.device='"ag_asi"'  # another device
    eqspike-xbar run --resume runs/<run-id>            # continue a killed run

Trains the same network from the same seed with ``ideal``, ``device`` and ``circuit``
synapses (each in ``runs/<run-id>/<fidelity>/``, resumable), checks the circuit's reads of
the trained conductances against ngspice on a generated netlist (``netlists/``), measures the
STDP curves of the learning rule and of the SPICE coincidence-programming circuit, and writes
``report.md`` / ``report.html`` with accuracy and energy tables and figures.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import xarray as xr

from .. import io
from ..config import config_from_dict, default_config_path
from ..config_tools import merge
from ..errors import EqSpikeXbarError, RunFolderError
from .runs import (Clock, add_compute_options, check_devices, load_experiment_seeds, new_run_dir, read_status,
                   recording_end, resume_config, write_status)
from .train import Trainer, load_data

log = logging.getLogger(__name__)

FIDELITIES = ("ideal", "device", "circuit")
#: default epochs of the ablation runs (keeps `make demo` within 10 minutes on 2 cores)
ABLATION_EPOCHS = 10


def fidelity_dict(base: dict, fidelity: str) -> dict:
    """One fidelity's config: the base with its synapse backend; float weights have no update
    scheme, so the ideal fidelity drops ``[synapses.update]``."""
    d = merge(base, {"synapses": {"backend": fidelity}})
    if fidelity == "ideal":
        d["synapses"] = {k: v for k, v in d["synapses"].items() if k != "update"}
    return d


def train_fidelity(base: dict, fidelity: str, run_dir: Path, progress: bool) -> tuple[xr.Dataset, Trainer]:
    cfg = config_from_dict(fidelity_dict(base, fidelity), f"{run_dir / fidelity}")
    sub = run_dir / fidelity
    io.ensure_writable_dir(sub)
    trainer = Trainer(cfg, sub, progress=progress)
    if trainer.checkpoint_path.is_file():
        trainer.load_checkpoint()
        log.info("%s: resuming after epoch %d", fidelity, trainer.epoch)
    else:
        io.write_text(sub / "config.toml", cfg.to_toml())
    ds = trainer.run() if trainer.epoch < cfg.learning.epochs else trainer.metrics()
    log.info("%s: %.2f %% test accuracy (%.0f s)", fidelity, 100 * float(ds.test_accuracy[-1]),
             float(ds.attrs.get("wall_time_s", float("nan"))))
    return ds, trainer


def ngspice_check(trainer: Trainer, run_dir: Path, size: int = 32, vectors: int = 4) -> dict:
    """Read one tile of the trained W1 (G+) with the fast solver and with ngspice, both directions."""
    from ..crossbar import CrossbarSpec, read_currents, write_netlist

    syn = trainer.net.synapses[0]
    cc = trainer.cfg.synapses.circuit
    spec = getattr(syn, "spec", None) or CrossbarSpec(r_wordline_ohm=cc.r_wordline_ohm, r_bitline_ohm=cc.r_bitline_ohm,
                                                      termination=cc.termination)
    gp, _ = syn.conductances()
    m, n = min(size, gp.shape[0], cc.max_array_rows), min(size, gp.shape[1], cc.max_array_cols)
    g = gp[:m, :n]
    rng = np.random.default_rng(trainer.cfg.run.seed)
    v_read = syn.read_pulse_V
    out = {"tile": f"W1 G+ rows 0-{m - 1}, columns 0-{n - 1}", "error": ""}
    try:
        for direction, k in (("forward", m), ("backward", n)):
            v = v_read * (rng.random((vectors, k)) < 0.3)  # spike patterns: 30 % of lines pulsed
            t0 = time.perf_counter()
            fast = read_currents(g, v, spec, direction, backend="fast")
            t1 = time.perf_counter()
            spice = read_currents(g, v, spec, direction, backend="ngspice", timeout_s=120)
            t2 = time.perf_counter()
            out[f"{direction}_rel_diff"] = float(np.abs(fast - spice).max() / max(np.abs(spice).max(), 1e-30))
            out[f"{direction}_fast_s"], out[f"{direction}_ngspice_s"] = t1 - t0, t2 - t1
            write_netlist(run_dir / "netlists" / f"W1_tile0_{direction}.cir", g, v[0], spec, direction)
    except EqSpikeXbarError as exc:
        out["error"] = str(exc)
        log.warning("ngspice check failed: %s (the fast solver's results stand unchecked)", exc)
    return out


def circuit_stdp(delays_s) -> xr.Dataset | None:
    """ΔG of the selected cell of an 8x8 VTEAM array per pre/post delay, V/2 and V/3 schemes."""
    from ..programming import Scheme, stdp_curve

    schemes = ("V/2", "V/3")
    dg = np.stack([stdp_curve(delays_s, scheme=Scheme(name=s)) for s in schemes])
    return xr.Dataset({"dG_S": (("scheme", "delay_s"), dg)}, coords={"scheme": list(schemes), "delay_s": delays_s})


def register(sub) -> None:
    p = sub.add_parser("run", help="main job: ideal, device and circuit fidelity from the same seed(s), with a report")
    p.add_argument("--config", default=None, help="experiment TOML (default: configs/main_digits.toml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--fidelities", default=",".join(FIDELITIES), help="comma-separated subset of ideal,device,circuit")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--run-id", help="name of the run folder (default: <time>-main-<data set>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a killed main job")
    p.add_argument("--data-dir", help="folder with the IDX files (MNIST, Fashion-MNIST)")
    add_compute_options(p, "train every fidelity from these seeds side by side on a local Dask cluster (e.g. 0,1,2; "
                           "or [run] seeds); the report gives mean ± sd")
    p.add_argument("--ablation-epochs", type=int, default=None, metavar="N",
                   help="'which nonideality hurts most': train the runs with one effect off for N epochs "
                        f"(default: min(learning.epochs, {ABLATION_EPOCHS}); 0: no ablation)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    from .seeds import parse_seeds

    if args.threads < 1:
        raise RunFolderError(f"--threads must be >= 1, got {args.threads}")
    if args.workers is not None and args.workers < 1:
        raise RunFolderError(f"--workers must be >= 1, got {args.workers}")
    if args.ablation_epochs is not None and args.ablation_epochs < 0:
        raise RunFolderError(f"--ablation-epochs must be >= 0 (0: no ablation), got {args.ablation_epochs}")
    fidelities = [f.strip() for f in args.fidelities.split(",") if f.strip()]
    bad = [f for f in fidelities if f not in FIDELITIES]
    if bad or not fidelities:
        raise RunFolderError(f"--fidelities {args.fidelities!r}: choose from {', '.join(FIDELITIES)}")
    flag_seeds = parse_seeds(args.seeds)
    if args.resume:
        run_dir = Path(args.resume)
        resume_config(run_dir)  # a run folder at all?
        st = read_status(run_dir)
        if "fidelities" not in st:
            raise RunFolderError(f"{run_dir} is not a main-job run folder (made by 'eqspike-xbar run'): "
                                 "resume a training run with 'eqspike-xbar train --resume'")
        if flag_seeds and st.get("seeds") and flag_seeds != st["seeds"]:
            raise RunFolderError(f"--seeds {args.seeds}: {run_dir} was started with seeds {st['seeds']}; a resumed "
                                 "run keeps its seeds (start a new run for others)")
        cfg, file_seeds = load_experiment_seeds(run_dir / "config.toml", args.set, data_dir=args.data_dir)
        seeds = st.get("seeds") or flag_seeds or file_seeds
    else:
        # the base is read with the first programmed fidelity's backend (with none, the device's),
        # so an update scheme is valid; the ideal fidelity drops it (fidelity_dict)
        programmed = next((f for f in fidelities if f != "ideal"), "device")
        cfg, file_seeds = load_experiment_seeds(args.config or default_config_path("main_digits.toml"), args.set,
                                                [{"synapses": {"backend": programmed}}], args.data_dir)
        if cfg.learning.epochs < 1:
            raise RunFolderError("the main job needs learning.epochs >= 1")
        seeds = flag_seeds or file_seeds
    seeds = seeds or [cfg.run.seed]
    cfg.run.seed = seeds[0]
    base = cfg.to_dict()
    for fid in fidelities:  # every fidelity's config, device included, must be valid before anything runs
        check_devices(config_from_dict(fidelity_dict(base, fid), f"fidelity {fid}"), f"fidelity {fid}")
    load_data(cfg)  # missing data files stop here too
    ablation = plan_ablation(cfg, base, fidelities, args.ablation_epochs)
    if args.resume:
        io.remove_temporaries(run_dir)
        io.write_text(run_dir / "config.toml", cfg.to_toml())
    else:
        run_dir = new_run_dir(args.runs_dir, f"main-{cfg.data.name}", args.run_id)
        io.write_text(run_dir / "config.toml", cfg.to_toml())
    clock = Clock().start(run_dir)

    def status(state, **info):
        write_status(run_dir, state, fidelities=fidelities, seeds=seeds, **clock.fields(), **info)

    status("running")
    with recording_end(status):
        return _main_job(args, run_dir, base, fidelities, seeds, clock, status, ablation)


def plan_ablation(cfg, base: dict, fidelities: list[str], epochs: int | None):
    """(switches, absent effects, epochs) of 'which nonideality hurts most', or None (no device
    fidelity, or --ablation-epochs 0); every switch's config is validated here."""
    from ..synapses.device import resolve_device
    from .ablation import switch_config, switches

    epochs = min(cfg.learning.epochs, ABLATION_EPOCHS if epochs is None else epochs)
    if epochs < 1 or not ({"device", "circuit"} & set(fidelities)):
        return None
    params = resolve_device(cfg.synapses.device, cfg.synapses.device_overrides, cfg.synapses.on_off_ratio)
    sws, absent = switches(cfg, params, fidelities)
    for sw in sws:
        config_from_dict(switch_config(fidelity_dict(base, sw.fidelity), sw, epochs), f"ablation {sw.name}")
    return sws, absent, epochs, params


def fidelity_folder(run_dir: Path, fidelity: str, seed: int, seeds: list[int]) -> Path:
    """``<fidelity>/`` for one seed (as before seeds were a dimension), ``<fidelity>/seed<k>/`` for several."""
    return run_dir / fidelity if len(seeds) == 1 else run_dir / fidelity / f"seed{seed}"


def all_fidelities(metrics: dict) -> xr.Dataset:
    """Every fidelity's metrics in one Dataset with a ``fidelity`` dimension (and ``seed`` with
    several seeds); a variable one fidelity lacks (circuit diagnostics) is NaN for the others."""
    dss = []
    for fid, ds in metrics.items():
        ds = ds.copy()
        ds["wall_time_s"] = float(ds.attrs.get("wall_time_s", np.nan)) if "wall_time_s" not in ds else ds["wall_time_s"]
        dss.append(ds)
    out = xr.concat(dss, dim=xr.DataArray(list(metrics), dims="fidelity", name="fidelity"), join="outer",
                    combine_attrs="drop_conflicts", coords="minimal", compat="override")
    out.attrs.pop("config_toml", None)
    out.attrs["description"] = "per-epoch metrics of every fidelity (the fidelity folders hold each run)"
    return out


def ablation_dataset(rows: list[dict], seeds: list[int]) -> xr.Dataset:
    """The ranking as data: accuracy with the switch off, its reference and the recovery, per seed."""
    names = [r["switch"].name for r in rows]
    data = {k: (("switch", "seed"), np.array([np.asarray(r[k], dtype=float) for r in rows]).reshape(len(rows), len(seeds)))
            for k in ("accuracy", "reference", "recovered")}
    ds = xr.Dataset(data, coords={"switch": names, "seed": list(seeds),
                                  "label": ("switch", [r["switch"].label for r in rows]),
                                  "fidelity": ("switch", [r["switch"].fidelity for r in rows]),
                                  "effects_off": ("switch", [" ".join(r["switch"].effects_off) for r in rows])})
    ds.attrs["description"] = "test accuracy with one nonideality switched off, ranked by accuracy recovered"
    return ds


def load_trainer(config: dict, folder: Path) -> Trainer:
    """A trained network back from its run folder's checkpoint (for the checks and figures)."""
    trainer = Trainer(config_from_dict(config, str(folder / "config.toml")), folder, progress=False)
    trainer.load_checkpoint()
    return trainer


def train_side_by_side(args, run_dir: Path, base: dict, fidelities: list[str], seeds: list[int], status,
                       ablation=None):
    """Every (fidelity, seed) and every ablation (switch, seed) on the local Dask cluster;
    {fidelity: metrics with a seed dimension (several seeds) or without (one)}, the first
    seed's trainers and {Switch: metrics}."""
    from .ablation import folder, switch_config
    from .seeds import Job, combine, run_jobs, with_seed

    jobs = [Job(f"{fid} seed {s}", with_seed(fidelity_dict(base, fid), s), fidelity_folder(run_dir, fid, s, seeds))
            for fid in fidelities for s in seeds]
    if ablation:
        sws, _, epochs, _ = ablation
        jobs += [Job(f"ablation {sw.name} seed {s}", with_seed(switch_config(fidelity_dict(base, sw.fidelity), sw,
                                                                               epochs), s), folder(run_dir, sw, s))
                 for sw in sws for s in seeds]
    phase = f"training {len(jobs)} runs side by side"
    status("running", phase=phase, done=f"0/{len(jobs)}")
    per = run_jobs(jobs, args.workers, progress=not args.no_progress,
                   on_done=lambda key, r, done, total: status("running", phase=phase, done=f"{done}/{total}",
                                                              last=f"{key}: {r['status']}"))

    def gathered(prefix):
        by_seed = {s: per[f"{prefix} seed {s}"] for s in seeds}
        return combine(by_seed) if len(seeds) > 1 else by_seed[seeds[0]]

    metrics, trainers = {}, {}
    for fid in fidelities:
        metrics[fid] = gathered(fid)
        first = next(j for j in jobs if j.key == f"{fid} seed {seeds[0]}")
        trainers[fid] = load_trainer(first.config, first.folder)
    switched = {sw: gathered(f"ablation {sw.name}") for sw in (ablation[0] if ablation else [])}
    return metrics, trainers, switched


def _main_job(args, run_dir: Path, base: dict, fidelities: list[str], seeds: list[int], clock, status,
              ablation=None) -> int:
    from threadpoolctl import threadpool_limits

    switched = {}
    with threadpool_limits(args.threads):
        if len(seeds) > 1 or ablation:
            metrics, trainers, switched = train_side_by_side(args, run_dir, base, fidelities, seeds, status, ablation)
        else:
            metrics, trainers = {}, {}
            for fid in fidelities:
                status("running", phase=f"training {fid}")
                metrics[fid], trainers[fid] = train_fidelity(base, fid, run_dir, not args.no_progress)
        wall = {fid: float(ds.attrs.get("wall_time_s", float("nan"))) for fid, ds in metrics.items()}
        check = None
        hw = trainers.get("circuit") or trainers.get("device")
        if hw is not None:
            status("running", phase="ngspice check")
            check = ngspice_check(hw, run_dir)
        from .stdp import measure_stdp

        status("running", phase="STDP curves")
        cfg0 = next(iter(trainers.values())).cfg
        rule_stdp = None  # spiking_bp's update is one gated coincidence: no timing curve of its own
        if cfg0.learning.algorithm == "eqspike":
            rule_stdp = measure_stdp(cfg0)
            io.write_netcdf(rule_stdp, run_dir / "stdp_rule.nc")
        try:
            spice_stdp = circuit_stdp(np.linspace(-60e-9, 60e-9, 13))
            io.write_netcdf(spice_stdp, run_dir / "stdp_circuit.nc")
        except EqSpikeXbarError as exc:
            log.warning("circuit STDP not measured: %s", exc)
            spice_stdp = None
    from .main_report import build_report

    status("running", phase="report")
    first = next(iter(trainers.values()))
    conductances = {f: [s.conductances() for s in t.net.synapses] for f, t in trainers.items()
                    if hasattr(t.net.synapses[0], "conductances")}
    io.write_netcdf(all_fidelities(metrics), run_dir / "metrics.nc")
    extra = []
    if ablation:
        from .ablation import ranking
        from .main_report import ablation_section

        sws, absent, epochs, params = ablation
        rows = ranking(switched, metrics, epochs)
        io.write_netcdf(ablation_dataset(rows, seeds), run_dir / "ablation.nc")
        body, figs = ablation_section(rows, absent, epochs, first.cfg.learning.epochs, seeds, params.name)
        extra.append(("Which nonideality hurts most?", body, figs))
    md, html_path = build_report(run_dir, first.cfg, len(first.data.train), metrics, conductances, wall, check,
                                 rule_stdp, spice_stdp, clock, fidelities, seeds, extra)
    status("finished")
    from .seeds import final, fmt_pct

    accs = ", ".join(f"{f} {fmt_pct(final(ds, 'test_accuracy'))}" for f, ds in metrics.items())
    print(f"{run_dir}: test accuracy {accs}; report: {html_path}")
    return 0
