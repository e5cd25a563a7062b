"""Experiment configuration: one TOML file, sections below, every key with its default.

Write only the keys you change; the rest take the defaults documented here. The resolved
configuration (defaults filled in) is written into every run folder as ``config.toml``.

Example (``configs/digits_eqspike.toml``)::

    [data]
    name = "digits"
    [network]
    layers = [64, 256, 10]
    [learning]
    epochs = 10
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import tomli_w

from .config_tools import from_mapping, merge, read_toml, to_mapping
from .errors import ConfigError


@dataclass
class RunConfig:
    seed: int = 0
    """Seed of everything random: data split and order, initial weights, spike-encoder phases."""
    name: str = ""
    """Short name used in the run id (``runs/<time>-<name>``); default: data set and neuron kind."""
    eval_batch_size: int = 1000
    """Images per batch when evaluating (inference only; no effect on results)."""
    dtype: Literal["float32", "float64"] = "float32"
    """Floating-point type of states and weights."""

    def __post_init__(self):
        if self.eval_batch_size < 1:
            raise ConfigError("run.eval_batch_size must be >= 1")


@dataclass
class DataConfig:
    name: Literal["digits", "mnist", "fashion_mnist"] = "digits"
    """Data set: 'digits' (scikit-learn 8x8, embedded), 'mnist', 'fashion_mnist' (IDX files)."""
    data_dir: str = ""
    """Folder holding the IDX files (empty: $EQSPIKE_XBAR_DATA, the cache, or download)."""
    validation_size: int = -1
    """Training images held out for validation (-1: 180 for digits, 5000 for (Fashion-)MNIST)."""
    test_fraction: float = 0.2
    """digits only: fraction of the 1797 images used as test set."""
    download: bool = True
    """Download missing (Fashion-)MNIST files into the cache when a network is reachable."""
    train_limit: int = 0
    """Use only the first N training images (0: all) — for quick experiments and tests."""


@dataclass
class NetworkConfig:
    layers: list[int] = field(default_factory=lambda: [64, 256, 10])
    """Layer sizes, input first, output last (any depth). The input size must match the data."""
    neuron: Literal["spiking", "rate"] = "spiking"
    """'spiking': neurons exchange binary spikes (EqSpike); 'rate': they exchange rho(state) (rate EP)."""
    encoder: Literal["sigma_delta", "stochastic"] = "sigma_delta"
    """Spike encoder (spiking neurons): deterministic sigma-delta accumulator, or Bernoulli rate code."""
    eps: float = 0.25
    """Integration step of the leaky state update h <- clip(h + eps (drive - h), 0, 1)."""
    free_steps: int = 50
    """Steps of the free phase (T)."""
    nudged_steps: int = 10
    """Steps of each nudged phase (K)."""
    readout_steps: int = 10
    """The prediction is the output state averaged over the last N free steps."""
    init_scale: float = 1.0
    """Initial weights uniform in +-init_scale/sqrt(fan_in); biases start at 0."""

    def __post_init__(self):
        if len(self.layers) < 2 or any(n < 1 for n in self.layers):
            raise ConfigError(f"network.layers must list >= 2 positive sizes, got {self.layers}")
        if not 0 < self.eps <= 1:
            raise ConfigError(f"network.eps must be in (0, 1], got {self.eps}")
        if self.free_steps < 1 or self.nudged_steps < 1:
            raise ConfigError("network.free_steps and network.nudged_steps must be >= 1")
        if not 1 <= self.readout_steps <= self.free_steps:
            raise ConfigError(
                f"network.readout_steps must be in [1, free_steps={self.free_steps}], got {self.readout_steps}"
            )
        if self.init_scale <= 0:
            raise ConfigError("network.init_scale must be > 0")


@dataclass
class LearningConfig:
    rule: Literal["two_factor", "contrastive"] = "two_factor"
    """'two_factor': sum over nudged steps of pre spike x change of post state (EqSpike);
    'contrastive': rho(pre) rho(post) at the end of the nudged phase minus the same at the
    reference (rate EP, Scellier & Bengio 2017; needs neuron = 'rate')."""
    nudging: Literal["symmetric", "positive", "random_sign"] = "symmetric"
    """'symmetric': two nudged phases (+beta, -beta) from the same saved free state;
    'positive': one phase at +beta (the naive variant); 'random_sign': one phase at +-beta."""
    beta: float = 1.0
    """Nudging strength (output cost 1/2 ||y - s_out||^2)."""
    lr: list[float] = field(default_factory=lambda: [0.1, 0.05])
    """Learning rate per weight layer (W and b), input side first; one value per layer."""
    batch_size: int = 20
    epochs: int = 40
    apply: Literal["minibatch", "continual"] = "minibatch"
    """'minibatch': apply the accumulated sums once per minibatch (stable);
    'continual': update at every nudged step (C-EP; unstable at useful rates)."""
    pairing: Literal["same_step", "causal"] = "causal"
    """Which state change a spike is paired with: 'same_step' — the change in the step the spike
    is delivered (it contains the spike's own effect, eps*W, a term that grows W);
    'causal' — the change that led to the state the spike was emitted from (before delivery)."""
    post_factor: Literal["analog", "ternary"] = "analog"
    """'ternary': the state change is replaced by ternary_scale * sign(dh) * [|dh| >= ternary_threshold],
    the +-1/0 programming event a device can apply."""
    ternary_threshold: float = 0.01
    ternary_scale: float = 0.01

    def __post_init__(self):
        if self.beta <= 0:
            raise ConfigError(f"learning.beta must be > 0, got {self.beta}")
        if self.batch_size < 1 or self.epochs < 0:
            raise ConfigError("learning.batch_size must be >= 1 and learning.epochs >= 0")
        if any(lr < 0 for lr in self.lr):
            raise ConfigError(f"learning.lr must be >= 0, got {self.lr}")
        if self.ternary_threshold < 0 or self.ternary_scale <= 0:
            raise ConfigError("learning.ternary_threshold must be >= 0 and learning.ternary_scale > 0")


@dataclass
class SynapseConfig:
    backend: str = "ideal"
    """Synapse backend: 'ideal' (float weights, exact matmul). Others register in eqspike_xbar.synapses."""


@dataclass
class ExperimentConfig:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    learning: LearningConfig = field(default_factory=LearningConfig)
    synapses: SynapseConfig = field(default_factory=SynapseConfig)

    def __post_init__(self):
        n_weights = len(self.network.layers) - 1
        if len(self.learning.lr) == 1:
            self.learning.lr = self.learning.lr * n_weights
        if len(self.learning.lr) != n_weights:
            raise ConfigError(
                f"learning.lr has {len(self.learning.lr)} values but network.layers "
                f"{self.network.layers} has {n_weights} weight layers: give one value or {n_weights}"
            )
        if self.learning.rule == "contrastive" and self.network.neuron != "rate":
            raise ConfigError("learning.rule = 'contrastive' (rate EP) needs network.neuron = 'rate'")
        from .synapses import BACKENDS

        if self.synapses.backend not in BACKENDS:
            raise ConfigError(
                f"synapses.backend {self.synapses.backend!r} is unknown; available: {', '.join(sorted(BACKENDS))}"
            )

    @property
    def run_name(self) -> str:
        return self.run.name or f"{self.data.name}-{'eqspike' if self.network.neuron == 'spiking' else 'rate-ep'}"

    def to_dict(self) -> dict:
        return to_mapping(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


def config_from_dict(d: dict, where: str = "config") -> ExperimentConfig:
    try:
        return from_mapping(ExperimentConfig, d)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_config(path=None, overrides: list[dict] | None = None) -> ExperimentConfig:
    """Read a TOML config (None: all defaults) and apply ``overrides`` (nested dicts)."""
    d = read_toml(path) if path else {}
    for o in overrides or []:
        d = merge(d, o)
    return config_from_dict(d, str(path) if path else "config")


def default_config_path(name: str) -> Path:
    """Path of a config shipped in the repository's configs/ folder."""
    return Path(__file__).resolve().parent.parent / "configs" / name
