"""``eqspike-xbar train``: train an EqSpike (or rate-EP) network and write a run folder.

    eqspike-xbar train --config configs/digits_eqspike.toml
    eqspike-xbar train --config configs/mnist_eqspike.toml --set learning.epochs=3
    eqspike-xbar train --resume runs/20261122-101500-mnist-eqspike

Writes ``runs/<run-id>/``: ``config.toml`` (resolved), ``metrics.nc`` (per-epoch metrics as
an xarray Dataset), ``checkpoints/last.npz`` (after every epoch), ``learning_curve.png``,
``status.json``. ``--resume`` continues from the last checkpoint and gives the same result
as an uninterrupted run on the same seed: every epoch draws its random numbers from a
generator seeded by (seed, epoch), so nothing but the weights needs restoring.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import xarray as xr

from .. import io
from ..config import ExperimentConfig, config_from_dict
from ..data import load_dataset
from ..synapses.schemes import hardware_summary
from ..energy import COMPONENTS, energy_breakdown, reset_counters
from ..algorithms import ALGORITHMS
from ..errors import ConfigError, RunFolderError, TrainingDiverged
from .runs import (Clock, add_compute_options, load_experiment_seeds, new_run_dir, read_status, recording_end,
                   resume_config, write_status)

log = logging.getLogger(__name__)

ENERGY_ROWS = COMPONENTS + ("total", "gpu")
_METRICS = ("train_accuracy", "train_cost", "validation_accuracy", "test_accuracy", "epoch_time_s", "eval_time_s")


def build_network(cfg: ExperimentConfig):
    """The network of ``learning.algorithm`` (eqspike_xbar.algorithms registry)."""
    return ALGORITHMS[cfg.learning.algorithm].build(cfg)


def load_data(cfg: ExperimentConfig):
    ds = load_dataset(
        cfg.data.name,
        seed=cfg.run.seed,
        data_dir=cfg.data.data_dir or None,
        validation_size=None if cfg.data.validation_size < 0 else cfg.data.validation_size,
        test_fraction=cfg.data.test_fraction,
        download=cfg.data.download,
    )
    if cfg.data.train_limit > 0:
        ds.train.x, ds.train.y = ds.train.x[: cfg.data.train_limit], ds.train.y[: cfg.data.train_limit]
    if ds.n_inputs != cfg.network.layers[0] or ds.n_classes != cfg.network.layers[-1]:
        raise ConfigError(
            f"network.layers {cfg.network.layers} does not fit {cfg.data.name}: the first size must be "
            f"{ds.n_inputs} (pixels) and the last {ds.n_classes} (classes)"
        )
    return ds


def accuracy(net, split, rng, batch_size: int) -> float:
    if len(split) == 0:
        return float("nan")
    return float((net.predict(split.x, rng, batch_size) == split.y).mean())


class Trainer:
    """Epoch loop with checkpoints, metrics and plots in ``run_dir``."""

    def __init__(self, cfg: ExperimentConfig, run_dir: Path, progress: bool = True):
        self.cfg, self.run_dir, self.progress = cfg, Path(run_dir), progress
        self.data = load_data(cfg)
        self.net = build_network(cfg)
        self.history: dict[str, list] = {k: [] for k in _METRICS}
        self.epoch = 0  # epochs completed
        self.clock = Clock()  # wall time summed over every stretch of this run folder
        self.status_every_s = 15.0  # status.json heartbeat within an epoch

    def status(self, state: str, **info) -> None:
        """Write status.json: state, epochs done / to do, wall time so far (all stretches)."""
        if not self.clock.started:
            self.clock.start(self.run_dir)
        write_status(self.run_dir, state, epoch=self.epoch, epochs=self.cfg.learning.epochs, **self.clock.fields(),
                     **info)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoints" / "last.npz"

    # --------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> None:
        arrays = {f"net_{k}": v for k, v in self.net.state_dict().items()}
        arrays.update({f"hist_{k}": np.asarray(v, dtype=float) for k, v in self.history.items()})
        arrays["epoch"] = np.array(self.epoch)
        io.save_npz(self.checkpoint_path, **arrays)

    def load_checkpoint(self) -> None:
        try:
            with np.load(self.checkpoint_path) as z:
                self.net.load_state_dict({k[4:]: z[k] for k in z.files if k.startswith("net_")})
                self.epoch = int(z["epoch"])
                self.history = {k[5:]: [np.asarray(r) if np.ndim(r) else float(r) for r in z[k]]
                                for k in z.files if k.startswith("hist_")}
        except (OSError, KeyError, ValueError) as exc:
            raise RunFolderError(f"cannot resume from {self.checkpoint_path}: {exc}") from None

    # --------------------------------------------------------------- training
    def train_epoch(self, epoch: int):
        cfg, net, train = self.cfg, self.net, self.data.train
        rng = np.random.default_rng([cfg.run.seed, 2, epoch])
        net.lr_factor = cfg.learning.lr_decay**epoch
        perm = rng.permutation(len(train))
        B = cfg.learning.batch_size
        correct, cost = 0, 0.0
        batches = range(0, len(perm), B)
        n_batches = len(batches)
        bar, beat = None, time.perf_counter()
        if self.progress:
            from tqdm import tqdm

            bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.learning.epochs}", unit="batch", leave=False, disable=None)
            batches = bar
        for i in batches:
            idx = perm[i : i + B]
            out = net.train_batch(train.x[idx], train.y[idx], rng)
            bad = net.first_nonfinite_layer()
            if bad is not None or not np.isfinite(out).all():
                raise TrainingDiverged(
                    f"non-finite values in {bad or 'the network state'} in epoch {epoch + 1} (minibatch {i // B + 1}); "
                    f"the last good checkpoint ({self.checkpoint_path}, epoch {self.epoch}) is kept. "
                    "Lower learning.lr or learning.beta."
                )
            correct += int((out.argmax(1) == train.y[idx]).sum())
            onehot = np.eye(out.shape[1], dtype=out.dtype)[train.y[idx]]
            cost += float(0.5 * ((out - onehot) ** 2).sum())
            if time.perf_counter() - beat >= self.status_every_s:
                self.status("running", minibatch=f"{i // B + 1}/{n_batches}")
                beat = time.perf_counter()
            if bar is not None and (i // B) % 20 == 0:
                bar.set_postfix(train_acc=f"{correct / min(i + B, len(perm)):.3f}")
        if bar is not None:
            bar.close()
        return correct / len(perm), cost / len(perm)

    def evaluate(self, epoch: int):
        """Validation and test accuracy, and the energy of inference on the test set (J per image)."""
        rng = np.random.default_rng([self.cfg.run.seed, 3, epoch])
        bs = self.cfg.run.eval_batch_size
        val = accuracy(self.net, self.data.validation, rng, bs)
        reset_counters(self.net)
        if hasattr(self.net, "predict_readouts") and len(self.data.test):
            # every readout from one inference pass; test_accuracy is the configured one's
            by = {k: float((p == self.data.test.y).mean())
                  for k, p in self.net.predict_readouts(self.data.test.x, rng, bs).items()}
            self._record({f"test_accuracy_{k}": v for k, v in by.items()})
            test = by[self.net.sbp.readout]
        else:
            test = accuracy(self.net, self.data.test, rng, bs)
        e = energy_breakdown(self.net, self.cfg.energy)
        return val, test, {k: v / max(len(self.data.test), 1) for k, v in e.items()}

    def _record(self, values: dict) -> None:
        for k, v in values.items():
            self.history.setdefault(k, []).append(v)

    def check_writable(self) -> None:
        """Before an epoch is computed: leftovers of a killed write go, and checkpoints can be written."""
        io.remove_temporaries(self.run_dir)
        io.ensure_writable_dir(self.checkpoint_path.parent, "checkpoint folder",
                               "make it writable (or move it away) and resume")

    def run(self) -> xr.Dataset:
        cfg = self.cfg
        self.check_writable()
        self.clock.start(self.run_dir)
        self.status("running")
        try:
            if self.epoch >= cfg.learning.epochs and self.history.get("train_accuracy"):
                # resumed after its last epoch (e.g. killed between the checkpoint and metrics.nc)
                self.write_metrics()
            for epoch in range(self.epoch, cfg.learning.epochs):
                reset_counters(self.net)
                t0 = time.perf_counter()
                train_acc, train_cost = self.train_epoch(epoch)
                t1 = time.perf_counter()
                e_train = energy_breakdown(self.net, cfg.energy)
                e_train = {k: v / len(self.data.train) for k, v in e_train.items()}
                val_acc, test_acc, e_test = self.evaluate(epoch)
                t2 = time.perf_counter()
                self._record(dict(zip(_METRICS, (train_acc, train_cost, val_acc, test_acc, t1 - t0, t2 - t1))))
                self._record({
                    "weight_abs_p999": np.array([np.percentile(np.abs(s.weights), 99.9) for s in self.net.synapses]),
                    "energy_train": np.array([e_train[c] for c in ENERGY_ROWS]),
                    "energy_inference": np.array([e_test[c] for c in ENERGY_ROWS]),
                    "energy_train_total_J": e_train["total"], "energy_train_gpu_J": e_train["gpu"],
                    "energy_inference_total_J": e_test["total"], "energy_inference_gpu_J": e_test["gpu"],
                    "pulses_train_per_image": e_train["pulses"],
                })
                diags = [s.diagnostics() for s in self.net.synapses]
                for name in diags[0]:
                    self._record({f"diag_{name}": np.array([d[name] for d in diags])})
                self.epoch = epoch + 1
                self.save_checkpoint()
                self.status("running")
                ds = self.write_metrics()
                log.info(
                    "epoch %d/%d: train %.2f %%, validation %.2f %%, test %.2f %% (%.1f s train, %.1f s eval); "
                    "energy per training image %.3g J (GPU %.3g J)",
                    epoch + 1, cfg.learning.epochs, 100 * train_acc, 100 * val_acc, 100 * test_acc, t1 - t0, t2 - t1,
                    e_train["total"], e_train["gpu"],
                )
        except TrainingDiverged as exc:
            self.status("failed", error=str(exc))
            raise
        except KeyboardInterrupt:
            self.status("interrupted")
            raise
        self.status("finished")
        return self.metrics()

    def write_metrics(self) -> xr.Dataset:
        """metrics.nc and learning_curve.png of the epochs so far, each written atomically."""
        from ..figures.training import plot_learning_curve

        ds = self.metrics()
        io.write_netcdf(ds, self.run_dir / "metrics.nc")
        io.save_figure(plot_learning_curve(ds), self.run_dir / "learning_curve.png")
        return ds

    def metrics(self) -> xr.Dataset:
        n = len(self.history["train_accuracy"])
        n_layers = len(self.net.synapses)
        ds = xr.Dataset(coords={"epoch": np.arange(1, n + 1), "layer": [f"W{k + 1}" for k in range(n_layers)],
                                "component": list(ENERGY_ROWS)})
        for k, values in self.history.items():
            if len(values) != n:  # a diagnostic only an older build recorded (a run resumed across builds)
                continue
            arr = np.asarray(values, dtype=float)
            if arr.ndim == 1:
                ds[k] = ("epoch", arr)
            elif k.startswith("energy_"):
                ds[k] = (("epoch", "component"), arr.reshape(n, len(ENERGY_ROWS)))
            else:
                ds[k] = (("epoch", "layer"), arr.reshape(n, n_layers))
        units = {"epoch_time_s": "s", "eval_time_s": "s", "train_cost": "1/2 ||y - s_out||^2 per example",
                 "energy_train": "J per training image", "energy_inference": "J per test image",
                 "energy_train_total_J": "J per training image", "energy_train_gpu_J": "J per training image",
                 "energy_inference_total_J": "J per test image", "energy_inference_gpu_J": "J per test image"}
        for k, u in units.items():
            if k in ds:
                ds[k].attrs["units"] = u
        # wall time: this process's clock, or what status.json recorded (a finished run loaded back)
        st = {} if self.clock.started else read_status(self.run_dir)
        ds.attrs.update(
            run_id=self.run_dir.name,
            dataset=self.cfg.data.name,
            n_train=len(self.data.train),
            n_validation=len(self.data.validation),
            n_test=len(self.data.test),
            algorithm=self.cfg.learning.algorithm,
            steps_per_train_sample=int(self.net.steps_per_train_sample),
            steps_per_inference_sample=int(self.net.steps_per_inference_sample),
            **({"neuron": self.cfg.network.neuron, "rule": self.cfg.learning.rule}
               if self.cfg.learning.algorithm != "spiking_bp" else {}),
            synapse_backend=self.cfg.synapses.backend,
            device=self.cfg.synapses.device,
            **{f"update_{k}": (int(v) if isinstance(v, bool) else v)
               for k, v in hardware_summary(self.net.synapses).items()},
            config_toml=self.cfg.to_toml(),
            wall_time_s=self.clock.elapsed_s() if self.clock.started else float(st.get("elapsed_s", float("nan"))),
            stretches=self.clock.stretch if self.clock.started else int(st.get("stretches", 0)),
        )
        ds.attrs["wall_time_s_description"] = "wall time of the run folder, summed over every (resumed) stretch"
        return ds


# ------------------------------------------------------------------ command line
def register(sub) -> None:
    p = sub.add_parser("train", help="train an EqSpike / rate-EP / spiking-backprop network; writes runs/<run-id>/")
    p.add_argument("--config", help="experiment TOML (see configs/); default: all defaults (digits)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key, e.g. --set learning.epochs=3 (repeatable)")
    p.add_argument("--data-dir", help="folder with the IDX files (MNIST, Fashion-MNIST)")
    p.add_argument("--runs-dir", default="runs", help="parent folder of run folders (default: runs)")
    p.add_argument("--run-id", help="name of the run folder (default: <time>-<name>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a run from its last checkpoint")
    add_compute_options(p, "train these seeds side by side on a local Dask cluster (e.g. 0,1,2; or [run] seeds): "
                           "one metrics.nc with a seed dimension, accuracies as mean ± sd")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from threadpoolctl import threadpool_limits

    from .seeds import parse_seeds

    flag_seeds = parse_seeds(args.seeds)
    overrides = bool(args.set or args.data_dir)
    if args.resume:
        run_dir = Path(args.resume)
        resume_config(run_dir)  # a run folder at all?
        cfg, file_seeds = load_experiment_seeds(run_dir / "config.toml", args.set, data_dir=args.data_dir)
        stored = read_status(run_dir).get("seeds")
        if flag_seeds and stored and flag_seeds != stored:
            raise ConfigError(f"--seeds {args.seeds}: {run_dir} was started with seeds {stored}; a resumed run "
                              "keeps its seeds (start a new run for others)")
        seeds = stored or flag_seeds or file_seeds
    else:
        cfg, file_seeds = load_experiment_seeds(args.config, args.set, data_dir=args.data_dir)
        seeds = flag_seeds or file_seeds
        run_dir = None
    if args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    if seeds:
        cfg.run.seed = seeds[0]
    if seeds and len(seeds) > 1:
        return _train_seeds(args, cfg, seeds, run_dir)
    with threadpool_limits(args.threads):
        # data and synapses are built first: bad input stops here, before a run folder exists
        trainer = Trainer(cfg, run_dir or Path(args.runs_dir), progress=not args.no_progress)
        if run_dir is None:
            run_dir = trainer.run_dir = new_run_dir(args.runs_dir, cfg.run_name, args.run_id)
            io.write_text(run_dir / "config.toml", cfg.to_toml())
        if args.resume:
            if trainer.checkpoint_path.is_file():
                trainer.load_checkpoint()
            log.info("resuming %s after epoch %d (status: %s)", run_dir, trainer.epoch,
                     read_status(run_dir).get("state", "unknown"))
            if overrides:  # e.g. more epochs: keep the resolved config in step
                io.write_text(run_dir / "config.toml", cfg.to_toml())
        log.info("run folder: %s", run_dir)
        ds = trainer.run()
    if len(ds.epoch):
        last = ds.isel(epoch=-1)
        print(
            f"{run_dir}: {cfg.data.name}, {len(ds.epoch)} epochs, test accuracy "
            f"{100 * float(last.test_accuracy):.2f} %, validation {100 * float(last.validation_accuracy):.2f} %, "
            f"{float(ds.epoch_time_s.mean()):.1f} s per training epoch"
        )
    return 0


def _train_seeds(args, cfg: ExperimentConfig, seeds: list[int], run_dir: Path | None) -> int:
    """Several seeds side by side on the local Dask cluster, each in ``seeds/seed<k>/`` (a train
    run folder); ``metrics.nc`` with a ``seed`` dimension and the learning curves as a band."""
    from threadpoolctl import threadpool_limits

    from ..figures.training import plot_learning_curve
    from .runs import check_devices
    from .seeds import Job, combine, final, fmt_pct, run_jobs, with_seed

    base = cfg.to_dict()
    for s in seeds:  # every seed's config, device included, before anything is written
        check_devices(config_from_dict(with_seed(base, s), f"seed {s}"), f"seed {s}")
    with threadpool_limits(1):
        Trainer(cfg, Path(args.runs_dir), progress=False)  # data and network: bad input stops here
    if run_dir is None:
        run_dir = new_run_dir(args.runs_dir, cfg.run_name, args.run_id)
    else:
        io.remove_temporaries(run_dir)
    io.write_text(run_dir / "config.toml", cfg.to_toml())
    clock = Clock().start(run_dir)

    def status(state, **info):
        write_status(run_dir, state, seeds=seeds, epochs=cfg.learning.epochs, **clock.fields(), **info)

    status("running")
    log.info("run folder: %s (seeds %s side by side)", run_dir, ", ".join(map(str, seeds)))
    jobs = [Job(f"seed {s}", with_seed(base, s), run_dir / "seeds" / f"seed{s}") for s in seeds]
    with recording_end(status):
        per = run_jobs(jobs, args.workers, progress=not args.no_progress,
                       on_done=lambda key, r, done, total: status("running", done=f"{done}/{total}",
                                                                  last=f"{key}: {r['status']}"))
    ds = combine({s: per[f"seed {s}"] for s in seeds})
    ds.attrs.update(run_id=run_dir.name, elapsed_s=clock.elapsed_s())
    io.write_netcdf(ds, run_dir / "metrics.nc")
    io.save_figure(plot_learning_curve(ds), run_dir / "learning_curve.png")
    status("finished")
    print(f"{run_dir}: {cfg.data.name}, {len(ds.epoch)} epochs, {len(seeds)} seeds, test accuracy "
          f"{fmt_pct(final(ds, 'test_accuracy'))}, validation {fmt_pct(final(ds, 'validation_accuracy'))} "
          f"(mean ± sd over seeds; per seed in {run_dir / 'metrics.nc'})")
    return 0
