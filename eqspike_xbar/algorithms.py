"""On-chip learning algorithms, chosen by ``[learning] algorithm = "..."`` (one line).

Every algorithm builds a network object with one surface, the one the trainer, the energy
accounting and the checkpoints use: ``synapses`` (SynapseLayer list, any backend), ``biases``,
``train_batch(x, y, rng)`` -> readout (B, n_out), ``predict(x, rng, batch_size)``, ``counters``
(``neuron_updates``, ``spikes``) and ``reset_counters()``, ``lr_factor``,
``state_dict()``/``load_state_dict()``, ``first_nonfinite_layer()``, and the attributes
``steps_per_train_sample`` / ``steps_per_inference_sample`` (time steps of the network's clock
per training / inference sample, for the latency at a given clock).

Registered here:

* ``eqspike``    — spike-driven equilibrium propagation (:mod:`eqspike_xbar.eqspike`), needs
  ``network.neuron = 'spiking'``;
* ``rate_ep``    — rate-based EP, the same network with ``network.neuron = 'rate'`` (and, unless
  given, ``learning.rule = 'contrastive'``, Scellier & Bengio 2017);
* ``spiking_bp`` — spiking backpropagation (Renner et al., Nat. Commun. 15:9691, 2024),
  :mod:`eqspike_xbar.backprop`, options in ``[spiking_bp]``.

Without ``learning.algorithm`` the algorithm follows ``network.neuron`` (spiking: eqspike, rate:
rate_ep), so configs written before the key existed mean what they meant. Options that belong
to one family only (``OPTIONS``) are rejected, one line, when given for another algorithm,
e.g. ``learning.beta`` for ``spiking_bp``; the resolved config of a run folder holds only the
options of its algorithm. New algorithms: ``register_algorithm``; the tests iterate over
:data:`ALGORITHMS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import ConfigError

# options (dotted keys, or a whole section) used by the equilibrium-propagation network only
EP_OPTIONS = frozenset({
    "network.neuron", "network.encoder", "network.eps", "network.free_steps", "network.nudged_steps",
    "network.readout_steps", "network.init_scale",
    "learning.rule", "learning.nudging", "learning.beta", "learning.apply", "learning.pairing",
    "learning.post_factor", "learning.ternary_threshold", "learning.ternary_scale", "learning.ternary_rounding",
    "learning.contrast",
})
SBP_OPTIONS = frozenset({"spiking_bp"})


@dataclass(frozen=True)
class Published:
    """An algorithm's published hardware figures, shown beside ours (report, algorithm table)."""

    hardware: str
    source: str
    task: str
    accuracy: float  # test accuracy (fraction)
    accuracy_note: str
    train_J: float  # energy per training sample (J)
    train_s: float  # time per training sample (s)
    inference_J: float
    inference_s: float
    steps_train: int  # time steps per sample on that hardware
    steps_inference: int
    note: str = ""  # what differs on the crossbars (report text)


@dataclass(frozen=True)
class Algorithm:
    name: str
    build: Callable  # (ExperimentConfig) -> network
    options: frozenset  # options only this algorithm's family uses
    requires: dict = field(default_factory=dict)  # dotted key: value the algorithm needs (set when absent)
    defaults: dict = field(default_factory=dict)  # dotted key: value used when the key is absent
    lr: Callable = None  # n_weights -> default learning rates
    summary: str = ""
    published: Published | None = None


ALGORITHMS: dict[str, Algorithm] = {}


def register_algorithm(name: str, options, requires=None, defaults=None, lr=None, summary: str = "",
                       published: Published | None = None):
    """Decorator for a builder ``build(cfg) -> network``: make it ``learning.algorithm = name``."""

    def deco(build):
        ALGORITHMS[name] = Algorithm(name, build, frozenset(options), dict(requires or {}), dict(defaults or {}),
                                     lr, summary, published)
        return build

    return deco


def _get(d: dict, key: str):
    section, _, name = key.partition(".")
    sec = d.get(section)
    if not name:
        return sec
    return sec.get(name) if isinstance(sec, dict) else None


def _has(d: dict, key: str) -> bool:
    section, _, name = key.partition(".")
    if not name:
        return section in d
    return isinstance(d.get(section), dict) and name in d[section]


def _set(d: dict, key: str, value) -> None:
    section, _, name = key.partition(".")
    d[section] = {**d.get(section, {}), name: value}


def algorithm_of(d: dict) -> str:
    """The algorithm a config mapping asks for (explicit, or from ``network.neuron``)."""
    name = _get(d, "learning.algorithm")
    if name:
        return name
    return "rate_ep" if _get(d, "network.neuron") == "rate" else "eqspike"


def resolve_mapping(d: dict) -> dict:
    """Check a config mapping against its algorithm: unknown algorithm, options of another
    algorithm, a conflicting required setting -> ConfigError (one line). Returns the mapping
    with the algorithm's required/default settings filled in where absent."""
    if not isinstance(d.get("learning", {}), dict) or not isinstance(d.get("network", {}), dict):
        return d  # the typed parser reports the malformed section
    name = algorithm_of(d)
    if not isinstance(name, str) or name not in ALGORITHMS:
        raise ConfigError(f"learning.algorithm {name!r} is unknown; available: {', '.join(sorted(ALGORITHMS))}")
    algo = ALGORITHMS[name]
    foreign = sorted({k for a in ALGORITHMS.values() for k in a.options} - algo.options)
    for key in foreign:
        if _has(d, key):
            owners = ", ".join(sorted(a.name for a in ALGORITHMS.values() if key in a.options))
            what = f"section [{key}]" if "." not in key else key
            raise ConfigError(f"{what} belongs to learning.algorithm = {owners}, not {name!r}: remove it")
    out = dict(d)
    if not _get(d, "learning.algorithm"):  # follows network.neuron: the config means what it always meant
        return out
    for key, value in algo.requires.items():
        if _has(out, key) and _get(out, key) != value:
            raise ConfigError(f"learning.algorithm = {name!r} needs {key} = {value!r}, got {_get(out, key)!r}")
        _set(out, key, value)
    for key, value in algo.defaults.items():
        if not _has(out, key):
            _set(out, key, value)
    return out


def drop_foreign(d: dict, name: str) -> dict:
    """The mapping without the options of other algorithms (for the resolved config)."""
    algo = ALGORITHMS[name]
    foreign = {k for a in ALGORITHMS.values() for k in a.options} - algo.options
    out = {s: (dict(v) if isinstance(v, dict) else v) for s, v in d.items()}
    for key in foreign:
        section, _, opt = key.partition(".")
        if not opt:
            out.pop(section, None)
        elif isinstance(out.get(section), dict):
            out[section].pop(opt, None)
    return out


def _ep_network(cfg):
    from .eqspike import EqSpikeNetwork

    net = EqSpikeNetwork(cfg.network, cfg.learning, cfg.synapses, dtype=cfg.run.dtype,
                         rng=np.random.default_rng([cfg.run.seed, 1]))
    n, lc = cfg.network, cfg.learning
    phases = 2 if lc.nudging == "symmetric" else 1
    # free phase, then the nudged phases one after the other (run side by side in the simulation;
    # one chip runs them in sequence); causal pairing needs one more step to emit the last spikes
    net.steps_per_train_sample = n.free_steps + phases * (n.nudged_steps + (lc.pairing == "causal"))
    if lc.contrast == "phase":  # the programming window after the phases replays K steps
        net.steps_per_train_sample = n.free_steps + phases * n.nudged_steps + n.nudged_steps
    net.steps_per_inference_sample = n.free_steps
    return net


register_algorithm("eqspike", EP_OPTIONS, requires={"network.neuron": "spiking"}, lr=lambda n: [0.1, 0.05],
                   summary="spike-driven equilibrium propagation (EqSpike)")(_ep_network)
register_algorithm("rate_ep", EP_OPTIONS, requires={"network.neuron": "rate"},
                   defaults={"learning.rule": "contrastive"}, lr=lambda n: [0.1, 0.05],
                   summary="rate-based equilibrium propagation (Scellier & Bengio 2017)")(_ep_network)


LOIHI_SBP = Published(
    hardware="Loihi", source="Renner et al., Nat. Commun. 15:9691 (2024)",
    task="MNIST 20x20, 400-400-10", accuracy=0.963,
    accuracy_note="mean of 3 runs, output spikes; 97.5 % from the output potential",
    train_J=0.59e-3, train_s=1.5e-3, inference_J=2.5e-6, inference_s=0.17e-3, steps_train=12, steps_inference=4,
    note="Loihi stores W1 three times and W2 five times (derivative copies, transposed copies for the backward "
         "pass) in 8-bit SRAM; on the crossbars each weight matrix is one array of memristive pairs, and the backward "
         "pass reads it in the other direction.")


@register_algorithm("spiking_bp", SBP_OPTIONS, lr=lambda n: [2.0 / 1024] * n,
                    summary="spiking backpropagation (Renner et al., Nat. Commun. 15:9691, 2024)",
                    published=LOIHI_SBP)
def _spiking_bp_network(cfg):
    from .backprop import SpikingBPNetwork

    return SpikingBPNetwork(cfg.network, cfg.learning, cfg.spiking_bp, cfg.synapses, dtype=cfg.run.dtype,
                            rng=np.random.default_rng([cfg.run.seed, 1]))
