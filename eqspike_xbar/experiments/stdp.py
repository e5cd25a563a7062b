"""``eqspike-xbar stdp``: the STDP curve of the EqSpike learning rule, measured from the rule.

Protocol (a pairing experiment, as in a lab): a pre neuron i and a post neuron j, coupled by
a weight w (default 0, so no spike causes the other neuron's state change), each receive one
rectangular input pulse (``amplitude`` for ``width`` steps) from rest (h = 0, sigma-delta
accumulator at ``phase``); phase + amplitude x width in [1, 2) makes the encoder fire exactly
one spike, during the rise of the state when the pulse is strong enough. The onset of the post neuron's pulse is
shifted against the pre neuron's. Both neurons run the network's own neuron code
(``leaky_step``, the configured encoder) and the synapse change is the network's own
two-factor rule with the configured post factor:

    dw = sum_t  s_i(t) q(dh_j(t))   [pre spike x post state change]
       + sum_t  q(dh_i(t)) s_j(t)   [post spike x pre state change; the shared-weight term]

Spikes are paired with state changes as in training (``learning.pairing``). The x axis is
the *measured* spike-time difference t_post - t_pre (first spikes), in steps
and in seconds (``--dt``, the duration of one network step). Pairings in which a neuron
fired no spike or more than one are dropped and counted.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import xarray as xr

from .. import io
from ..config import load_config
from ..errors import ConfigError
from ..eqspike.neurons import leaky_step, make_encoder
from ..eqspike.rules import post_factor
from .runs import new_run_dir, overrides_from_args, write_status

log = logging.getLogger(__name__)


def measure_stdp(cfg, window: int = 15, width: int = 4, amplitude: float = 0.3, weight: float = 0.0,
                 dt_s: float = 1e-6, phase: float = 0.5, seed: int = 0) -> xr.Dataset:
    """Run the pairing protocol for onset offsets -window..window; return the curve."""
    if cfg.network.neuron != "spiking":
        raise ConfigError("the STDP curve needs spiking neurons (network.neuron = 'spiking')")
    if width < 1 or amplitude <= 0 or window < 1:
        raise ConfigError("stdp: --width and --window must be >= 1 and --amplitude > 0")
    if not 0 <= phase < 1 or dt_s <= 0:
        raise ConfigError(f"stdp: --phase must be in [0, 1) and --dt > 0 s, got {phase} and {dt_s}")
    eps, lc = cfg.network.eps, cfg.learning
    enc = make_encoder("spiking", cfg.network.encoder)
    rng = np.random.default_rng(seed)
    offsets = np.arange(-window, window + 1)
    B = len(offsets)
    lead = window + 2
    T = 2 * window + width + int(np.ceil(8 / eps)) + 10
    on_pre = np.full(B, lead)
    on_post = lead + offsets
    t = np.arange(T)[:, None]
    drive_pre = amplitude * ((t >= on_pre) & (t < on_pre + width))  # (T, B)
    drive_post = amplitude * ((t >= on_post) & (t < on_post + width))

    h = np.zeros((2, B))  # states of (pre, post)
    acc = np.full((2, B), phase) if enc.init((2, B), rng, np.float64) is not None else None
    spikes = np.zeros((T + 1, 2, B))
    q = np.zeros((T, 2, B))  # post factor of each step's state change
    for k in range(T):
        s = enc.step(h, acc, rng)
        spikes[k] = s
        drive = np.stack([drive_pre[k] + weight * s[1], drive_post[k] + weight * s[0]])
        h_new = leaky_step(h, drive, eps)
        q[k] = post_factor(h_new - h, lc.post_factor, lc.ternary_threshold, lc.ternary_scale)
        h = h_new
    spikes[T] = enc.step(h, acc, rng)
    # the network's pairing: a spike with the change of the step it is delivered in
    # ('same_step'), or with the change that led to the state it was emitted from ('causal')
    paired = spikes[1:] if lc.pairing == "causal" else spikes[:T]
    dw_a = np.sum(paired[:, 0] * q[:, 1], axis=0)  # pre spike x post change
    dw_b = np.sum(q[:, 0] * paired[:, 1], axis=0)  # post spike x pre change
    spikes = spikes[:T]

    n_spikes = spikes.sum(0)  # (2, B)
    ok = (n_spikes == 1).all(0)
    t_first = spikes.argmax(0)  # first spike time of each neuron
    dt_steps = (t_first[1] - t_first[0]).astype(int)
    keep = np.flatnonzero(ok)
    if keep.size == 0:
        raise ConfigError("stdp: no pairing fired exactly one spike per neuron: choose --amplitude, --width "
                          "and --phase with phase + amplitude x width in [1, 2)")
    # several onset offsets can give the same spike-time difference: average them
    uniq = np.unique(dt_steps[keep])
    def per_dt(v):
        return np.array([v[keep][dt_steps[keep] == d].mean() for d in uniq])
    ds = xr.Dataset(
        {
            "dw_pre_post": ("delta_t", per_dt(dw_a)),
            "dw_post_pre": ("delta_t", per_dt(dw_b)),
            "dw_total": ("delta_t", per_dt(dw_a + dw_b)),
        },
        coords={"delta_t": uniq, "delta_t_s": ("delta_t", uniq * dt_s)},
    )
    ds.delta_t.attrs.update(units="steps", long_name="t_post - t_pre (first spikes)")
    ds.delta_t_s.attrs.update(units="s")
    for v in ("dw_pre_post", "dw_post_pre", "dw_total"):
        ds[v].attrs["units"] = "weight change before the learning-rate factor lr/(B beta P)"
    ds.attrs.update(
        protocol="one rectangular input pulse per neuron, post onset shifted against pre",
        eps=eps, encoder=cfg.network.encoder, post_factor=lc.post_factor, pairing=lc.pairing,
        ternary_threshold=lc.ternary_threshold, ternary_scale=lc.ternary_scale,
        pulse_amplitude=amplitude, pulse_width_steps=width, accumulator_phase=phase, coupling_weight=weight, dt_s=dt_s,
        pairings=B, pairings_dropped=int(B - len(keep)),
    )
    return ds


def register(sub) -> None:
    p = sub.add_parser("stdp", help="measure the STDP curve (dw vs t_post - t_pre) of the learning rule")
    p.add_argument("--config", help="experiment TOML (neuron, encoder, eps, post factor); default: defaults")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key")
    p.add_argument("--window", type=int, default=15, help="largest onset offset, steps (default 15)")
    p.add_argument("--width", type=int, default=4, help="input pulse width, steps (default 4)")
    p.add_argument("--amplitude", type=float, default=0.3, help="input pulse amplitude (default 0.3)")
    p.add_argument("--phase", type=float, default=0.5, help="initial sigma-delta accumulator in [0, 1) (default 0.5)")
    p.add_argument("--weight", type=float, default=0.0, help="coupling weight w between the two neurons")
    p.add_argument("--dt", type=float, default=1e-6, help="duration of one network step, s (default 1e-6)")
    p.add_argument("--runs-dir", default="runs")
    p.set_defaults(func=cmd_stdp)


def cmd_stdp(args) -> int:
    cfg = load_config(args.config, overrides_from_args(args))
    ds = measure_stdp(cfg, args.window, args.width, args.amplitude, args.weight, args.dt, args.phase, cfg.run.seed)
    run_dir = new_run_dir(args.runs_dir, "stdp")
    io.write_text(run_dir / "config.toml", cfg.to_toml())
    io.write_netcdf(ds, run_dir / "stdp.nc")
    from ..figures.stdp import plot_rule_stdp

    io.save_figure(plot_rule_stdp(ds), run_dir / "stdp.png")
    write_status(run_dir, "finished")
    print(f"{Path(run_dir)}: STDP curve over {len(ds.delta_t)} spike-time differences "
          f"({ds.attrs['pairings_dropped']} of {ds.attrs['pairings']} pairings dropped) -> stdp.nc, stdp.png")
    return 0
