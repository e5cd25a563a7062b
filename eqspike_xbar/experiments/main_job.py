"""``eqspike-xbar run``: the main job. One data set, one seed, three fidelities.

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
from .runs import Clock, check_devices, load_experiment, new_run_dir, read_status, resume_config, write_status
from .train import Trainer

log = logging.getLogger(__name__)

FIDELITIES = ("ideal", "device", "circuit")


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
    p = sub.add_parser("run", help="main job: ideal, device and circuit fidelity from one seed, with a report")
    p.add_argument("--config", default=None, help="experiment TOML (default: configs/main_digits.toml)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--fidelities", default=",".join(FIDELITIES), help="comma-separated subset of ideal,device,circuit")
    p.add_argument("--runs-dir", default="runs")
    p.add_argument("--run-id", help="name of the run folder (default: <time>-main-<data set>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a killed main job")
    p.add_argument("--data-dir", help="folder with the IDX files (MNIST, Fashion-MNIST)")
    p.add_argument("--threads", type=int, default=1,
                   help="BLAS threads (default 1: the same float rounding, hence the same result, on every "
                        "machine; 2 made an MNIST EqSpike epoch 39 s instead of 51-68 s here)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_run)


def cmd_run(args) -> int:
    if args.threads < 1:
        raise RunFolderError(f"--threads must be >= 1, got {args.threads}")
    fidelities = [f.strip() for f in args.fidelities.split(",") if f.strip()]
    bad = [f for f in fidelities if f not in FIDELITIES]
    if bad or not fidelities:
        raise RunFolderError(f"--fidelities {args.fidelities!r}: choose from {', '.join(FIDELITIES)}")
    if args.resume:
        run_dir = Path(args.resume)
        resume_config(run_dir)  # a run folder at all?
        if "fidelities" not in read_status(run_dir):
            raise RunFolderError(f"{run_dir} is not a main-job run folder (made by 'eqspike-xbar run'): "
                                 "resume a training run with 'eqspike-xbar train --resume'")
        cfg = load_experiment(run_dir / "config.toml", args.set, data_dir=args.data_dir)
    else:
        # the base is read with the first programmed fidelity's backend, so an update scheme is valid
        programmed = next((f for f in fidelities if f != "ideal"), "ideal")
        cfg = load_experiment(args.config or default_config_path("main_digits.toml"), args.set,
                              [{"synapses": {"backend": programmed}}], args.data_dir)
        if cfg.learning.epochs < 1:
            raise RunFolderError("the main job needs learning.epochs >= 1")
    base = cfg.to_dict()
    for fid in fidelities:  # every fidelity's config, device included, must be valid before anything runs
        check_devices(config_from_dict(fidelity_dict(base, fid), f"fidelity {fid}"), f"fidelity {fid}")
    if args.resume:
        io.remove_temporaries(run_dir)
        io.write_text(run_dir / "config.toml", cfg.to_toml())
    else:
        run_dir = new_run_dir(args.runs_dir, f"main-{cfg.data.name}", args.run_id)
        io.write_text(run_dir / "config.toml", cfg.to_toml())
    clock = Clock().start(run_dir)

    def status(state, **info):
        write_status(run_dir, state, fidelities=fidelities, **clock.fields(), **info)

    status("running")
    try:
        return _main_job(args, run_dir, base, fidelities, clock, status)
    except EqSpikeXbarError as exc:
        status("failed", error=str(exc))
        raise
    except KeyboardInterrupt:
        status("interrupted")
        raise


def _main_job(args, run_dir: Path, base: dict, fidelities: list[str], clock, status) -> int:
    from threadpoolctl import threadpool_limits

    metrics, trainers, wall = {}, {}, {}
    with threadpool_limits(args.threads):
        for fid in fidelities:
            status("running", phase=f"training {fid}")
            metrics[fid], trainers[fid] = train_fidelity(base, fid, run_dir, not args.no_progress)
            wall[fid] = float(metrics[fid].attrs.get("wall_time_s", float("nan")))
        check = None
        hw = trainers.get("circuit") or trainers.get("device")
        if hw is not None:
            status("running", phase="ngspice check")
            check = ngspice_check(hw, run_dir)
        from .stdp import measure_stdp

        status("running", phase="STDP curves")
        cfg0 = next(iter(trainers.values())).cfg
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
    md, html_path = build_report(run_dir, first.cfg, len(first.data.train), metrics, conductances, wall, check,
                                 rule_stdp, spice_stdp, clock, fidelities)
    status("finished")
    accs = ", ".join(f"{f} {100 * float(ds.test_accuracy[-1]):.2f} %" for f, ds in metrics.items())
    print(f"{run_dir}: test accuracy {accs}; report: {html_path}")
    return 0
