"""Sections and figures of the main job's report (see eqspike_xbar/report.py for the writer).

Plain data in: the resolved config, per-fidelity metrics Datasets and final conductances,
the ngspice check's dict and the STDP Datasets; no trainer or network objects."""
from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from .. import report as R
from ..report import fmt_seconds
from ..algorithms import ALGORITHMS
from ..energy import COMPONENTS
from .seeds import final, fmt_pct, seed_mean, summary
from ..figures import report as F


def is_ep(cfg) -> bool:
    """Equilibrium propagation (eqspike, rate_ep): the network the EP-specific text describes."""
    return cfg.learning.algorithm in ("eqspike", "rate_ep")


def build_report(run_dir: Path, cfg, n_train: int, metrics: dict, conductances: dict, wall: dict, check, rule_stdp,
                 spice_stdp, clock, fidelities=("ideal", "device", "circuit"), seeds=None, extra_sections=()):
    """``cfg``: the resolved config; ``n_train``: training images; ``metrics``: {fidelity: metrics
    Dataset}; ``conductances``: {fidelity: [(G+, G-) per layer]} in S (fidelities with devices);
    ``wall``: {fidelity: s, summed over resumed stretches}; ``clock``: the main job's
    :class:`~.runs.Clock` (or its total seconds); ``check``: :func:`~.main_job.ngspice_check`'s dict or None;
    ``seeds``: the seeds (metrics then have a ``seed`` dimension when there are several);
    ``extra_sections``: (heading, markdown, {file: figure}) placed after the accuracy."""
    seeds = list(seeds) if seeds else [cfg.run.seed]
    many = len(seeds) > 1
    per_seed = metrics
    metrics = {f: seed_mean(ds) for f, ds in per_seed.items()}  # energies and diagnostics: mean over seeds
    total_s = clock.elapsed_s() if hasattr(clock, "elapsed_s") else float(clock)
    stretches = getattr(clock, "stretch", 1)
    sections = []
    ep = is_ep(cfg)
    what = (f"{cfg.network.neuron} neurons, rule `{cfg.learning.rule}` ({cfg.learning.nudging} nudging, "
            f"{cfg.learning.pairing} pairing)" if ep else
            f"learning algorithm `{cfg.learning.algorithm}` ({ALGORITHMS[cfg.learning.algorithm].summary})")
    sections.append(("Run", "\n".join([
        f"Data set `{cfg.data.name}` ({n_train} training images), network "
        f"{'-'.join(map(str, cfg.network.layers))}, {what}, "
        + (f"seeds {', '.join(map(str, seeds))} (accuracies: mean ± sample sd over seeds; energies: mean), " if many
           else f"seed {seeds[0]}, ")
        + f"{cfg.learning.epochs} epochs; device `{cfg.synapses.device}`, w_max {cfg.synapses.w_max}.",
        "",
        f"Reproduce: `eqspike-xbar run --config {run_dir / 'config.toml'} --fidelities {','.join(fidelities)}"
        f"{' --seeds ' + ','.join(map(str, seeds)) if many else ''}` "
        f"(written {time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, {total_s:.0f} s in all"
        + (f", summed over {stretches} stretches: the run was resumed {stretches - 1} time(s))." if stretches > 1
           else ")."),
    ])))

    rows = []
    for fid, ds in per_seed.items():
        best = ds.test_accuracy.max("epoch").values
        rows.append([fid, fmt_pct(final(ds, "test_accuracy")), fmt_pct(best), fmt_pct(final(ds, "validation_accuracy")),
                     str(len(ds.epoch)), f"{float(ds.epoch_time_s.mean()):.1f} s", f"{wall.get(fid, float('nan')):.0f} s"])
    acc_md = R.table(["fidelity", "test (final)", "test (best epoch)", "validation", "epochs", "s per epoch",
                       "wall time" + (" (all seeds)" if many else "")], rows)
    if "ideal" in per_seed:
        ref = final(per_seed["ideal"], "test_accuracy")
        diffs = []
        for f, ds in per_seed.items():
            if f == "ideal":
                continue
            acc = final(ds, "test_accuracy")
            m, sd, n = summary(acc - ref if len(ref) == len(acc) else [np.nanmean(acc) - np.nanmean(ref)])
            diffs.append(f"{f}: {100 * m:+.2f}" + (f" ± {100 * sd:.2f}" if n > 1 else "") + " points against ideal")
        acc_md += "\n\n" + "; ".join(diffs) + (" (paired by seed)" if many else "")
    if many:
        acc_md += ("\n\nSame machine, same seeds, same `--threads`: the numbers repeat exactly. Another machine "
                   "gives other numbers within about the spread shown (BLAS kernels round differently and the spiking "
                   "dynamics amplify it): compare mean ± sd, not single runs.")
    sections.append(("Accuracy", acc_md + "\n\n![learning curves](learning_curves.png)"))
    sections.append(("Learning algorithm", algorithm_section(cfg, per_seed)))
    if {"device", "circuit"} & set(per_seed):
        sections.append(("Device parameters", device_table(cfg, cfg.synapses.device_params)))
        sections.append(("Learning scheme and its hardware", scheme_section(cfg, metrics)))
    extra_figures = {}
    for heading, body, figs in extra_sections:
        sections.append((heading, body))
        extra_figures.update(figs)

    fids = list(metrics)
    energy_md = "Training, per image (last epoch):\n\n" + R.table(["component"] + fids, R.energy_rows(metrics, "energy_train"))
    inference_steps = "free phase only" if ep else "forward pass only"
    energy_md += f"\n\nInference, per test image ({inference_steps}):\n\n" + R.table(
        ["component"] + fids, R.energy_rows(metrics, "energy_inference"))
    energy_md += "\n\n" + R.reduction_statement(metrics)
    e = cfg.energy
    energy_md += (f"\n\nConstants: neuron update {R.fmt_joules(e.neuron_update_J)}, spike {R.fmt_joules(e.spike_J)}, "
                  f"sense {R.fmt_joules(e.sense_J)} per line read, GPU {R.fmt_joules(e.gpu_J_per_mac)} per MAC, read pulse "
                  f"{cfg.synapses.read_pulse_s:g} s (sources: eqspike_xbar/config.py, EnergyConfig). The `ideal` column's "
                  "crossbar energy is the analytic estimate for its weights on the same device.")
    sections.append(("Energy", energy_md + "\n\n![training energy](energy_train.png)\n\n![inference energy](energy_inference.png)"))

    figures = {
        "learning_curves.png": F.plot_learning_curves(per_seed),
        **extra_figures,
        "energy_train.png": F.plot_energy(metrics, "energy_train"),
        "energy_inference.png": F.plot_energy(metrics, "energy_inference"),
    }
    if conductances:
        figures["conductances.png"] = F.plot_conductances(conductances)
        sections.append(("Conductances", "Final G+ and G− of every layer.\n\n![conductances](conductances.png)"))

    if "circuit" in metrics:
        ds = metrics["circuit"]
        cc = cfg.synapses.circuit
        last = ds.isel(epoch=-1)
        rows = []
        for layer in ds.layer.values:
            d = last.sel(layer=layer)
            rows.append([str(layer), f"{float(d.diag_asymmetry):.2e}", f"{float(d.diag_ir_drop):.3g}",
                         f"{float(d.diag_stale_error_mean):.2e} / {float(d.diag_stale_error_max):.2e}",
                         f"{float(d.diag_wire_share):.3g}", f"{int(d.diag_refreshes)}",
                         f"{float(d.diag_spot_check_rel_diff):.1e}", f"{int(d.diag_spot_check_failures)}"])
        circ = (f"Tiles of at most {cc.max_array_rows}×{cc.max_array_cols}, wire segments {cc.r_wordline_ohm:g} / "
                f"{cc.r_bitline_ohm:g} Ω (word / bit line), driver {cc.r_driver_ohm:g} Ω, sense {cc.r_sense_ohm:g} Ω "
                f"({cc.sense}), termination `{cc.termination}`, G+/G− pairs `{cc.pair_layout}`; exact transfer "
                "matrices refreshed every "
                f"{cc.refresh_every} minibatch updates.\n\n")
        circ += R.table(["layer", "fwd/bwd asymmetry", "IR drop ‖W_f − W_G‖/‖W_G‖", "stale error mean / max",
                          "wire share of read energy", "refreshes", "ngspice spot-check rel. diff", "spot-check failures"], rows)
        asym = float(np.nanmax(np.abs(last.diag_asymmetry.values))) if last.diag_asymmetry.size else float("nan")
        if asym == 0.0:
            circ += ("\n\nThe forward/backward asymmetry is exactly 0: with every line keeping its own termination "
                     "in both read directions and an ideal virtual-ground sense the circuit is reciprocal, so "
                     "W_b = W_f and EP's symmetric-weight assumption holds despite the IR drop. Driver and sense "
                     "resistances that swap sides with the direction (`termination = \"role\"`) or a finite-gain "
                     "TIA sense break it.")
        elif np.isfinite(asym):
            circ += (f"\n\nEP assumes symmetric weights; here the backward matrix differs from the forward one by "
                     f"up to {100 * asym:.2g} % (‖W_f − W_b‖/‖W_f‖): the learning signal the backward reads carry "
                     "is that much off the gradient of the forward network.")
        if check is not None:
            if check["error"]:
                circ += f"\n\nngspice check of the trained conductances **failed**: {check['error']} — the fast solver's reads stand unchecked."
            else:
                circ += (f"\n\nngspice check of the trained conductances ({check['tile']}, spike-pattern inputs): "
                         f"max relative difference {check['forward_rel_diff']:.1e} forward, "
                         f"{check['backward_rel_diff']:.1e} backward (fast {check['forward_fast_s'] * 1e3:.0f} ms, "
                         f"ngspice {check['forward_ngspice_s']:.2f} s). Netlists: `netlists/W1_tile0_*.cir` "
                         "(run them with `ngspice -b`).")
        sections.append(("Circuit", circ + "\n\n![circuit diagnostics](circuit_diagnostics.png)"))
        figures["circuit_diagnostics.png"] = F.plot_circuit_diagnostics(ds)

    if rule_stdp is not None:
        figures["stdp.png"] = F.plot_stdp_curves(rule_stdp, spice_stdp)
        stdp_md = ("Left: Δw of the learning rule against the measured spike-time difference (pairing protocol, "
                   "`eqspike-xbar stdp`). ")
    elif cfg.learning.algorithm == "spiking_bp":  # the update is one gated coincidence, no timing window
        stdp_md = ("`spiking_bp` has no STDP curve of its own: its update is the coincidence, in one gated time "
                   "step, of a binary presynaptic spike and a ternary error pulse. ")
    else:  # rate_ep: rate neurons, no spike timing
        stdp_md = (f"`{cfg.learning.algorithm}` has no STDP curve: its neurons are rates, without spike times; its "
                   "update is the contrast of the two phases' rate products. ")
    if spice_stdp is not None:
        dg = spice_stdp.dG_S.sel(scheme=spice_stdp.scheme.values[0]).values
        delays = spice_stdp.delay_s.values
        zero = delays[np.abs(dg) <= 1e-3 * np.abs(dg).max()] if np.abs(dg).max() > 0 else delays
        stdp_md += (f"{'Right' if rule_stdp is not None else 'The programming circuit (`stdp_circuit.nc`)'}: ΔG of the selected VTEAM device in an 8×8 array for one coincidence event against the "
                    f"delay between the pre (row) and post (column) pulses, from ngspice transients: largest |ΔG| "
                    f"{np.abs(dg).max() * 1e6:.3g} µS at a delay of {delays[np.argmax(np.abs(dg))] * 1e9:.0f} ns; "
                    + (f"below 0.1 % of that for |delay| ≥ {np.abs(zero).min() * 1e9:.0f} ns." if zero.size else
                       "non-zero at every delay measured."))
    else:
        stdp_md += "The circuit-level curve could not be measured (see the log)."
    sections.append(("STDP", stdp_md + ("\n\n![STDP](stdp.png)" if "stdp.png" in figures else "")))
    return R.write_report(run_dir, f"eqspike-xbar main job: {run_dir.name}", sections, figures)


# ------------------------------------------------------------------ device parameters, ablation
def scheme_section(cfg, metrics: dict) -> str:
    """What the update scheme asks of the chip and what it cost, per programmed fidelity."""
    rows = []
    for fid, ds in metrics.items():
        if ds.attrs.get("update_scheme", "none").startswith("none"):
            continue
        e = ds.energy_train.isel(epoch=-1)
        pulses = float(ds.pulses_train_per_image.isel(epoch=-1)) if "pulses_train_per_image" in ds else float("nan")
        bits = float(ds.attrs.get("update_bits_per_synapse", 0))
        theta = float(ds.attrs.get("update_threshold_steps", 0) or 0)
        pairs = int(ds.attrs.get("update_devices_per_weight", 1))
        rows.append([fid, f"`{ds.attrs['update_scheme']}`" + (f", θ = {theta:g} pulse steps" if theta else "")
                     + (f", {pairs} device pairs per weight" if pairs > 1 else ""),
                     f"{bits:g} bits ({float(ds.attrs.get('update_digital_memory_bits', 0)) / 8e6:.3g} MB)" if bits else
                     "none", str(int(ds.attrs.get("update_extra_devices_per_synapse", 0))), f"{pulses:,.1f}",
                     R.fmt_joules(float(e.sel(component="programming"))),
                     R.fmt_joules(float(e.sel(component="scheme_reads"))),
                     R.fmt_joules(float(e.sel(component="digital_memory")))])
    if not rows:
        return "No programmed synapses in this run."
    md = R.table(["fidelity", "scheme", "digital memory per synapse (all layers)", "extra devices per synapse",
                  "pulses per training image (last epoch)", "programming / image", "scheme's extra reads / image",
                  "digital memory accesses / image"], rows)
    md += (f"\n\nSettings: `[synapses.update]` of each fidelity's config.toml (see README, On-chip learning "
           "schemes). Digital memory is "
           f"charged at {R.fmt_joules(cfg.energy.digital_J_per_bit)} per bit accessed (a read-modify-write is two "
           "accesses; energy.digital_J_per_bit and its source in eqspike_xbar/config.py). A scheme with digital "
           "memory per synapse is a digital periphery beside the crossbar, not an in-memory operation; "
           "`coincidence` (and `tiki_taka` without a buffer) store nothing per synapse.")
    return md


def device_table(cfg, params) -> str:
    """Every parameter of the device used (after overrides), each with its source."""
    import dataclasses

    overrides = cfg.synapses.device_overrides or {}
    rows = []
    for section in dataclasses.fields(params):
        value = getattr(params, section.name)
        if not dataclasses.is_dataclass(value):
            continue
        src = getattr(value, "source", "") or "default of the model (the device file does not set this section)"
        for f in dataclasses.fields(value):
            if f.name == "source":
                continue
            v = getattr(value, f.name)
            where = src
            if f.name in (overrides.get(section.name) or {}):
                where = f"this run: synapses.device_overrides.{section.name}.{f.name}"
            elif section.name == "conductance" and f.name == "gmin_S" and cfg.synapses.on_off_ratio:
                where = f"this run: synapses.on_off_ratio = {cfg.synapses.on_off_ratio:g} (Gmin = Gmax / ratio)"
            rows.append([f"{section.name}.{f.name}", f"{v:.4g}" if isinstance(v, float) else str(v), where])
    head = (f"Device `{params.name}` ({params.description}) as used by the `device` and `circuit` fidelities"
            + (f", switched off by the config: {', '.join(cfg.synapses.effects_off)}" if cfg.synapses.effects_off else "")
            + ".\n\n")
    refs = "".join(f"\n- {s}" for s in params.sources)
    notes = "".join(f"\n- {s}" for s in params.notes)
    return (head + R.table(["parameter", "value", "source"], rows)
            + (f"\n\nReferences:{refs}" if refs else "") + (f"\n\nNotes of the device file:{notes}" if notes else ""))


def ablation_section(rows: list[dict], absent: list[str], epochs: int, main_epochs: int, seeds, device: str):
    """Markdown and figure of 'which nonideality hurts most?' (rows from :func:`.ablation.ranking`)."""
    from ..figures.report import plot_ablation

    n = len(seeds)
    body = [f"Device `{device}`: each effect it has is switched off in turn (`synapses.effects_off`), at `device` "
            "fidelity, and the wires' resistance at `circuit` fidelity; every row trains from the same "
            f"seed{'s' if n > 1 else ''} ({', '.join(map(str, seeds))}) as the main runs. Ranked by the test "
            "accuracy the switch recovers against the same fidelity with everything on"
            + (", paired by seed (mean ± sd)." if n > 1 else " (one seed: no spread; use --seeds for mean ± sd).")]
    from .ablation import window

    w = window(epochs)
    body.append(f"Accuracies are the test accuracy averaged over epochs {w.start}–{w.stop - 1}"
                if len(w) > 1 else f"Accuracies are the test accuracy after epoch {epochs}")
    body[-1] += " (a device run's accuracy jumps by points from one epoch to the next)."
    if epochs < main_epochs:
        body.append(f"**Fewer epochs:** these runs train {epochs} epochs instead of {main_epochs} (to keep the job "
                    f"short); the reference is the main runs' accuracy over the same epochs (a run's first "
                    f"{epochs} epochs do not depend on how many follow), so the ranking is for {epochs} epochs.")
    table_rows = []
    for k, r in enumerate(rows, 1):
        sw = r["switch"]
        table_rows.append([str(k), sw.label, f"`{sw.fidelity}`", fmt_pct(r["reference"]), fmt_pct(r["accuracy"]),
                           _points(r["recovered"])])
    body.append(R.table(["rank", "switched off", "fidelity", "accuracy, all on", "accuracy, this off",
                         "recovered (points)"], table_rows))
    if rows:
        body.append(_verdict(rows[0]))
    if absent:
        body.append("Not run, the device does not have them (or the config already switches them off): "
                    + ", ".join(absent) + ".")
    body.append("![which nonideality hurts most](ablation.png)")
    return "\n\n".join(body), {"ablation.png": plot_ablation(rows)}


def _verdict(top: dict) -> str:
    """The ranking's sentence: the top switch hurts only if its mean recovery is positive and, with
    several seeds, larger than its spread over them (sd of the paired differences)."""
    m, sd, n = summary(top["recovered"])
    label, pts = top["switch"].label, _points(top["recovered"])
    if n and m > 0 and (n < 2 or m > sd):
        return f"**{label}** hurts most here: switching it off recovers {pts} points."
    if n and m > 0:
        return (f"No switch recovers more than its spread over the seeds (the largest mean: {label}, {pts} "
                "points): with this update scheme, none of the device's effects costs measurable accuracy at "
                "this length of training.")
    return "No switch recovers accuracy here: the device's effects cost nothing measurable at this length of training."


def _points(values) -> str:
    m, sd, n = summary(values)
    if n == 0:
        return "–"
    return f"{100 * m:+.2f}" + (f" ± {100 * sd:.2f}" if n > 1 else "")


# ------------------------------------------------------------------ learning algorithm
def algorithm_summary(ds, time_step_s: float) -> dict:
    """The learning-algorithm figures of one run (one fidelity; with or without a ``seed``
    dimension): final test accuracy per seed, energy per training / inference sample (mean over
    seeds, last epoch) in total and by component, programming pulses per training sample, time
    steps per sample and the latency at ``time_step_s`` per step."""
    m = seed_mean(ds)
    e_t, e_i = m.energy_train.isel(epoch=-1), m.energy_inference.isel(epoch=-1)
    st, si = int(ds.attrs["steps_per_train_sample"]), int(ds.attrs["steps_per_inference_sample"])
    pulses = float(m.pulses_train_per_image.isel(epoch=-1)) if "pulses_train_per_image" in m else float("nan")
    comps = [c for c in COMPONENTS if c in m.component.values]  # run folders of older builds have fewer
    return {
        "algorithm": str(ds.attrs.get("algorithm", "?")),
        "accuracy": final(ds, "test_accuracy"),
        "epochs": int(len(ds.epoch)),
        "train_J": float(e_t.sel(component="total")),
        "inference_J": float(e_i.sel(component="total")),
        "train_components": {c: float(e_t.sel(component=c)) for c in comps},
        "inference_components": {c: float(e_i.sel(component=c)) for c in comps},
        "pulses_train": pulses,
        "steps_train": st,
        "steps_inference": si,
        "latency_train_s": st * time_step_s,
        "latency_inference_s": si * time_step_s,
    }


def largest_share(components: dict) -> str:
    total = sum(components.values())
    if total <= 0:
        return "–"
    name = max(components, key=components.get)
    return f"{name} ({100 * components[name] / total:.0f} %)"


def published_row(pub, label: str | None = None) -> list[str]:
    """The table row of an algorithm's published hardware figures (same columns as the fidelities)."""
    return [label or f"{pub.hardware} (published)", f"{100 * pub.accuracy:.1f} % ({pub.accuracy_note})",
            R.fmt_joules(pub.train_J), R.fmt_joules(pub.inference_J), "–", "– (SRAM weights)",
            f"{pub.steps_train} / {pub.steps_inference}",
            f"{fmt_seconds(pub.train_s)} / {fmt_seconds(pub.inference_s)}"]


def algorithm_section(cfg, per_seed: dict) -> str:
    """What the learning algorithm costs per sample, per fidelity: accuracy, energy (total and by
    component), programming pulses, time steps and latency at ``energy.time_step_s``; with the
    algorithm's published hardware figures beside (spiking_bp: Loihi)."""
    algo = ALGORITHMS[cfg.learning.algorithm]
    dt = cfg.energy.time_step_s
    sums = {fid: algorithm_summary(ds, dt) for fid, ds in per_seed.items()}
    first = next(iter(sums.values()))
    md = [f"`{algo.name}`: {algo.summary}. Time steps of the network's clock: **{first['steps_train']} per training "
          f"sample** and **{first['steps_inference']} per inference sample**; at `energy.time_step_s` = "
          f"{fmt_seconds(dt)} per step (a config key; an assumed clock, not a measurement: one read pulse of "
          f"{fmt_seconds(cfg.synapses.read_pulse_s)} per array, the neuron updates and the spike routing) that is a "
          f"latency of {fmt_seconds(first['latency_train_s'])} per training and "
          f"{fmt_seconds(first['latency_inference_s'])} per inference sample."]
    rows = []
    for fid, s in sums.items():
        pulses = "0 (float weights)" if fid == "ideal" else f"{s['pulses_train']:,.1f}"
        rows.append([f"`{fid}` (this run)", fmt_pct(s["accuracy"]), R.fmt_joules(s["train_J"]),
                     R.fmt_joules(s["inference_J"]), largest_share(s["train_components"]), pulses,
                     f"{s['steps_train']} / {s['steps_inference']}",
                     f"{fmt_seconds(s['latency_train_s'])} / {fmt_seconds(s['latency_inference_s'])}"])
    if algo.published is not None:
        rows.append(published_row(algo.published, f"{algo.published.hardware} ({algo.published.source})"))
    n_ep = first["epochs"]
    md.append(R.table(["", f"test accuracy (after {n_ep} epoch{'s' if n_ep != 1 else ''})", "energy / training sample",
                       "energy / inference sample", "largest share of the training energy",
                       "programming pulses / training sample", "time steps (training / inference)",
                       "latency (training / inference)"], rows))
    from ..backprop.network import SpikingBPNetwork

    readouts = [k for k in SpikingBPNetwork.READOUTS if any(f"test_accuracy_{k}" in ds for ds in per_seed.values())]
    if readouts:  # spiking_bp: the authors' three test criteria, recorded every epoch
        words = {"spikes": "output spikes exactly the one-hot target", "spikes_argmax": "argmax of the output spikes",
                 "potential": "argmax of the output potential"}
        crit = [[f"`{fid}`"] + [fmt_pct(final(ds, f"test_accuracy_{k}")) if f"test_accuracy_{k}" in ds else "–"
                                for k in readouts]  # "–": a fidelity run by an older build
                for fid, ds in per_seed.items()]
        md.append(f"Test accuracy by each criterion of the authors' code (last epoch; `test_accuracy` above is "
                  f"`spiking_bp.readout` = '{cfg.spiking_bp.readout}'):\n\n"
                  + R.table(["fidelity"] + [f"{words[k]} (`{k}`)" for k in readouts], crit))
    head = ["component"] + [f"{fid}: {w}" for fid in sums for w in ("training", "inference")]
    comp_rows = [[c] + [R.fmt_joules(s[f"{w}_components"][c]) for s in sums.values() for w in ("train", "inference")]
                 for c in first["train_components"]]
    comp_rows.append(["total"] + [R.fmt_joules(s[f"{w}_J"]) for s in sums.values() for w in ("train", "inference")])
    md.append("Energy per sample by component (last epoch; mean over seeds):\n\n" + R.table(head, comp_rows))
    pub = algo.published
    if pub is not None:
        ref_fid = next((f for f in ("circuit", "device") if f in sums), next(iter(sums)))
        ref = sums[ref_fid]
        md.append(
            f"{pub.hardware}'s figures are measured on the chip for {pub.task} ({pub.source}); this run's are the "
            f"sum of the per-event energies of the `[energy]` section and the simulated crossbar reads and "
            f"programming, for {'-'.join(map(str, cfg.network.layers))} on `{cfg.data.name}`. At `{ref_fid}` fidelity "
            f"{pub.hardware} needs {pub.train_J / ref['train_J']:.3g}× the energy per training sample and "
            f"{pub.inference_J / ref['inference_J']:.3g}× per inference sample; its clock ran at "
            f"{fmt_seconds(pub.train_s / pub.steps_train)} per training step "
            f"({fmt_seconds(pub.train_s)} for {pub.steps_train} steps), where this report assumes "
            f"{fmt_seconds(dt)}. {pub.note}")
        attrs = per_seed[ref_fid].attrs
        bits = float(attrs.get("update_bits_per_synapse", 0) or 0)
        if ref_fid == "ideal":
            md.append("At `ideal` fidelity the weights are floats: no programming energy, and the reads are the "
                      "analytic estimate for the configured device.")
        elif bits > 0:
            md.append(f"The update scheme of this run, `{attrs.get('update_scheme', '?')}`, keeps {bits:g} bits of "
                      "digital memory per synapse beside the arrays (counted under `digital_memory`): the crossbar "
                      "chip is then not purely in-memory either.")
    return "\n\n".join(md)

