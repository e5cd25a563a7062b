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

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import tomli_w

from .config_tools import from_mapping, merge, read_toml, to_mapping
from .crossbar.spec import CrossbarSpec
from .errors import CircuitError, ConfigError, DeviceModelError, EqSpikeXbarError


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
    seeds: list[int] = field(default_factory=list)
    """Seeds trained side by side (train/run --seeds); empty: run.seed alone."""

    def __post_init__(self):
        if self.eval_batch_size < 1:
            raise ConfigError("run.eval_batch_size must be >= 1")
        if self.seeds and (any(s < 0 for s in self.seeds) or len(set(self.seeds)) != len(self.seeds)):
            raise ConfigError(f"run.seeds must be distinct and >= 0, got {self.seeds}")
        if self.name:
            from .validation import safe_identifier

            try:
                safe_identifier(self.name.replace("-", "_"), "run.name")
            except Exception as exc:
                raise ConfigError(str(exc).replace("A-Z a-z 0-9 _", "A-Z a-z 0-9 _ -")) from None


@dataclass
class DataConfig:
    name: Literal["digits", "mnist", "mnist20", "fashion_mnist"] = "digits"
    """Data set: 'digits' (scikit-learn 8x8, embedded), 'mnist', 'fashion_mnist' (IDX files);
    'mnist20': MNIST's central 20x20 pixels (400 inputs, as Renner et al. 2024)."""
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

    def __post_init__(self):
        if self.train_limit < 0:
            raise ConfigError(f"data.train_limit must be >= 0 (0: all images), got {self.train_limit}")
        if not 0 < self.test_fraction < 1:
            raise ConfigError(f"data.test_fraction must be in (0, 1), got {self.test_fraction}")


@dataclass
class NetworkConfig:
    layers: list[int] = field(default_factory=lambda: [64, 512, 10])
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
    kernels: Literal["compiled", "numpy"] = "compiled"
    """How the spiking phases run: 'compiled' kernels (eqspike/kernels.py; sigma-delta neurons on
    ideal or device synapses, elsewhere numpy anyway) or the 'numpy' steps, the reference (the
    same arithmetic, summed in another order: float rounding apart)."""

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
    algorithm: str = ""
    """On-chip learning algorithm: 'eqspike', 'rate_ep' or 'spiking_bp' (eqspike_xbar.algorithms);
    empty: from network.neuron ('spiking': eqspike, 'rate': rate_ep)."""
    rule: Literal["two_factor", "contrastive"] = "two_factor"
    """'two_factor': sum over nudged steps of pre spike x change of post state (EqSpike);
    'contrastive': rho(pre) rho(post) at the end of the nudged phase minus the same at the
    reference (rate EP, Scellier & Bengio 2017; needs neuron = 'rate')."""
    nudging: Literal["symmetric", "positive", "random_sign"] = "symmetric"
    """'symmetric': two nudged phases (+beta, -beta) from the same saved free state;
    'positive': one phase at +beta (the naive variant); 'random_sign': one phase at +-beta."""
    beta: float = 1.0
    """Nudging strength (output cost 1/2 ||y - s_out||^2)."""
    lr: list[float] = field(default_factory=list)
    """Learning rate per weight layer (W and b), input side first; one value per layer (or one
    for all). Empty: the algorithm's default (EP: 0.1, 0.05; spiking_bp: 2/1024 per coincidence)."""
    lr_decay: float = 1.0
    """Learning rates are multiplied by lr_decay**epoch (epoch counted from 0); 1: constant."""
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
    ternary_rounding: Literal["threshold", "stochastic"] = "threshold"
    """Ternary post factor: 'threshold' — a pulse when |Δh| >= ternary_threshold; 'stochastic' —
    a pulse with probability min(1, |Δh| / ternary_threshold) (a stochastic pulse train of the
    post neuron; unbiased when ternary_scale = ternary_threshold)."""
    contrast: Literal["synapse", "neuron", "phase"] = "synapse"
    """Where the +β and −β nudged phases are subtracted (two_factor rule, symmetric nudging):
    'synapse' — each phase's coincidences reach the synapses with the phase's sign (a device
    sees both and they cancel only on average); 'neuron' — each neuron keeps its +β phase's
    spikes and state changes (K steps, a per-neuron buffer) and the synapses see only where the
    two phases differ (post factor q(Δh⁺ − Δh⁻)); equal to 'synapse' with the analog post factor;
    'phase' — each neuron keeps only h⁺(K) and contrasts its whole change over the phases,
    d = h⁺(K) − h⁻(K); after the phases the pre neurons replay their +β spikes while the post
    neurons send q(d/K) (network.EqSpikeNetwork._phase_contrast_events; learning.pairing is not used).
    The per-neuron buffers ('neuron': K spikes and K state changes; 'phase': h⁺(K)) are neuron
    state, not per-synapse memory."""

    def __post_init__(self):
        if self.beta <= 0:
            raise ConfigError(f"learning.beta must be > 0, got {self.beta}")
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"learning.lr_decay must be in (0, 1], got {self.lr_decay}")
        if self.batch_size < 1:
            raise ConfigError(f"learning.batch_size must be >= 1, got {self.batch_size}")
        if self.epochs < 0:
            raise ConfigError(f"learning.epochs must be >= 0, got {self.epochs}")
        if any(lr < 0 for lr in self.lr):
            raise ConfigError(f"learning.lr must be >= 0, got {self.lr}")
        if self.contrast == "phase" and self.apply == "continual":
            raise ConfigError("learning.contrast = 'phase' programs once after both nudged phases: "
                              "it needs learning.apply = 'minibatch'")
        if self.contrast != "synapse" and (self.nudging != "symmetric" or self.rule != "two_factor"):
            raise ConfigError(f"learning.contrast = {self.contrast!r} needs learning.nudging = 'symmetric' and "
                              "learning.rule = 'two_factor' (it subtracts the +beta and -beta phases in each neuron)")
        if self.ternary_threshold < 0 or self.ternary_scale <= 0:
            raise ConfigError("learning.ternary_threshold must be >= 0 and learning.ternary_scale > 0")
        if self.ternary_rounding == "stochastic" and self.ternary_threshold <= 0:
            raise ConfigError("learning.ternary_rounding = 'stochastic' needs learning.ternary_threshold > 0")


@dataclass
class SpikingBPConfig:
    """[spiking_bp]: spiking backpropagation (learning.algorithm = 'spiking_bp'; see
    eqspike_xbar/backprop). Weights are in units of the neuron input; defaults: Renner et al. 2024
    and their code (Loihi threshold 1024 = 1 weight unit)."""

    threshold: float = 0.5
    """A binary neuron spikes when its input z > threshold (Loihi: the gate brings the neuron to
    half of its threshold, 512 of 1024). Its derivative gate is 0 < z < 2*threshold."""
    input_threshold: float = 0.5
    """Input encoding: a pixel (in [0, 1]) sends one spike when its value > input_threshold."""
    init_clip: float = 0.234375
    """Initial weights normal(0, sqrt(2 / (fan_in + fan_out))) clipped to +-init_clip (240/1024)."""
    readout: Literal["spikes", "spikes_argmax", "potential"] = "spikes"
    """Prediction (test_accuracy): 'spikes' — correct only when the output spikes are exactly the
    one-hot target (the authors' ``val_acc``); 'spikes_argmax' — the first spiking output neuron,
    neuron 0 when none spikes (np.argmax of the binary output: the authors' ``val_acc_argmax``,
    their code's "classification rate"); 'potential' — argmax of the output neurons' input (the
    paper's 97.5 %). The paper's 96.3 % is "calculated using the last layer's spikes" without
    saying which of the two spike criteria; a run records all three every epoch
    (test_accuracy_<readout>)."""
    weight_clip: float = 0.248046875
    """Float weights (the ideal backend) are clipped to +-weight_clip after every update (Loihi's
    8-bit bound, 254/1024, as in the authors' numpy simulation); 0: unbounded. Programmed
    backends are bounded by their devices (synapses.w_max) instead."""
    init_grid: float = 0.0
    """Initial weights rounded toward zero onto multiples of init_grid (Loihi: 2/1024, so that with
    lr = 2/1024 the weights stay on Loihi's integer grid); 0: float initial weights."""
    output_gate_low: float = 0.0
    """The output neurons' derivative gate opens at z > -output_gate_low instead of z > 0 (the
    paper's [0 < z < 2*threshold], default 0): a target output neuron below 0 is still potentiated,
    so it cannot be shut out of learning for good (the 784-500-10 config: 0.5 = threshold). One
    more threshold shift of the comparator copy that makes the gate; hidden neurons keep the
    paper's gate. Not in the paper: a wider, surrogate derivative window for the output layer."""

    def __post_init__(self):
        if self.threshold <= 0 or self.init_clip <= 0:
            raise ConfigError("spiking_bp.threshold and spiking_bp.init_clip must be > 0")
        for name in ("weight_clip", "init_grid", "output_gate_low"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ConfigError(f"spiking_bp.{name} must be finite and >= 0 (0: off), got {v}")
        if self.init_grid and self.init_grid >= self.init_clip:
            raise ConfigError(f"spiking_bp.init_grid ({self.init_grid:g}) must be below spiking_bp.init_clip "
                              f"({self.init_clip:g}): every initial weight would round to 0")
        if self.weight_clip and self.init_clip > self.weight_clip:
            raise ConfigError(f"spiking_bp.init_clip ({self.init_clip:g}) must not exceed spiking_bp.weight_clip "
                              f"({self.weight_clip:g}): the initial weights would start outside the bound")


@dataclass
class CircuitConfig:
    """[synapses.circuit]: the crossbar read circuit of the 'circuit' backend. The circuit keys
    are :class:`~eqspike_xbar.crossbar.CrossbarSpec`'s fields, with its defaults (one set of
    names, one default); ``spec`` is that CrossbarSpec. The other keys are the backend's."""

    r_wordline_ohm: float = CrossbarSpec.r_wordline_ohm
    """Word-line (row) wire resistance per cell segment, ohm."""
    r_bitline_ohm: float = CrossbarSpec.r_bitline_ohm
    """Bit-line (column) wire resistance per cell segment, ohm."""
    r_driver_ohm: float = CrossbarSpec.r_driver_ohm
    """Line driver output resistance, ohm (0: ideal source)."""
    r_sense_ohm: float = CrossbarSpec.r_sense_ohm
    """Series resistance in front of the sense virtual ground, ohm."""
    sense: Literal["ideal", "tia"] = CrossbarSpec.sense
    """Virtual ground: ideal, or a finite-gain transimpedance amplifier."""
    tia_gain: float = CrossbarSpec.tia_gain
    """Open-loop gain of the TIA's op-amp (sense = 'tia')."""
    tia_rf_ohm: float = CrossbarSpec.tia_rf_ohm
    """TIA feedback resistance, ohm (sense = 'tia')."""
    cell: Literal["1R", "1T1R"] = CrossbarSpec.cell
    r_access_ohm: float = CrossbarSpec.r_access_ohm
    """On-resistance of the 1T1R access transistor, ohm."""
    termination: Literal["role", "line"] = CrossbarSpec.termination
    """'line': word lines always end in the driver, bit lines in the sense resistance
    (reciprocal: backward matrix = forward matrix transposed); 'role': the peripherals swap
    sides with the read direction (forward and backward matrices differ)."""
    pair_layout: Literal["separate", "interleaved"] = "separate"
    """Where a weight's G− device sits: 'separate' — on its own array of the same shape as G+
    (outputs subtracted in the periphery); 'interleaved' — in the column next to G+ on the same
    array (columns G+₀ G−₀ G+₁ G−₁ …; forward reads subtract the pair's column currents,
    backward reads drive the G− column with −V so the row wire carries the difference)."""
    max_array_rows: int = 128
    """Largest crossbar (tile) size; larger layers are tiled, partial outputs summed."""
    max_array_cols: int = 128
    refresh_tolerance: float = 0.0
    """Error-bounded refresh: recompute a tile's exact transfer matrices when its predicted
    stale-matrix error exceeds this relative error (e.g. 0.005); 0 keeps the refresh_every schedule."""
    refresh_every: int = 10
    """Minibatch updates between refreshes of the exact forward/backward transfer matrices
    (between refreshes, the stale matrices plus the ideal change of the updates are used)."""
    energy_split_every: int = 50
    """Exact refreshes between nodal solves that split the read energy into cells and wires
    (a solve per tile costs about as much as its transfer matrix)."""
    spot_checks: int = 2
    """ngspice spot-checks of the fast solver per run (one tile, a few input vectors); 0: none."""
    spot_check_size: int = 32
    """Tile size (rows and columns) of an ngspice spot-check."""

    @property
    def spec(self) -> CrossbarSpec:
        """The crossbar read circuit these keys describe."""
        return CrossbarSpec(**{f.name: getattr(self, f.name) for f in dataclasses.fields(CrossbarSpec)
                               if hasattr(self, f.name)})

    def __post_init__(self):
        try:
            self.spec
        except CircuitError as exc:
            raise ConfigError(f"synapses.circuit: {exc}") from None
        if not (math.isfinite(self.refresh_tolerance) and 0 <= self.refresh_tolerance < 1):
            raise ConfigError(f"synapses.circuit.refresh_tolerance must be in [0, 1) (0: every refresh_every "
                              f"updates), got {self.refresh_tolerance}")
        if self.max_array_rows < 1 or self.max_array_cols < 1:
            raise ConfigError("synapses.circuit.max_array_rows/cols must be >= 1")
        if self.refresh_every < 1 or self.energy_split_every < 1 or self.spot_checks < 0 or self.spot_check_size < 2:
            raise ConfigError("synapses.circuit.refresh_every and energy_split_every must be >= 1, "
                              "spot_checks >= 0, spot_check_size >= 2")


@dataclass
class UpdateConfig:
    """[synapses.update]: how the learning rule's coincidences become programming pulses on the
    devices (``device`` and ``circuit`` backends; see synapses/schemes.py). Pulse-step units:
    one *pulse step* is the nominal weight change of one programming pulse pair (both
    devices of a pair pulsed: 2·(Gmax − Gmin)/levels/scale, in weight units)."""

    scheme: str = "minibatch_sum"
    """'minibatch_sum' — the minibatch's rule sum, stochastically rounded to pulse counts (a
    per-synapse float32 accumulator for one minibatch); 'coincidence' — fully in-memory: each
    pre spike meeting a ternary post pulse fires a pulse at that device, nothing is stored per
    synapse; 'mixed_precision' — a per-synapse digital accumulator across minibatches, a pair
    is pulsed when it holds >= threshold pulse steps (Nandakumar et al. 2020); 'tiki_taka' —
    coincidences on an auxiliary array A, columns of A read and transferred to the weights
    (Gokmen & Haensch 2020; TTv2 with a digital buffer). Others register in synapses.schemes."""
    pulse_train: Literal["stochastic", "deterministic"] = "stochastic"
    """coincidence / tiki_taka's A: 'stochastic' — each coincidence fires a pulse pair with
    probability (rule's wish per coincidence) / (pulse step) (stochastic pulse trains on the row
    and column, Gokmen-style; wishes > 1 step fire the whole steps for sure); 'deterministic' —
    every coincidence fires exactly one pulse pair (the learning rate is then the device step)."""
    polarity: Literal["pair", "single"] = "pair"
    """coincidence: 'pair' — a + coincidence fires SET on G+ and RESET on G− (− the opposite);
    'single' — a + coincidence fires SET on G+ only, a − coincidence SET on G− only."""
    threshold: float | Literal["auto"] = 1.0
    """mixed_precision: pulse steps the accumulator must hold before its pair is pulsed (its
    whole steps are fired, the remainder kept); tiki_taka with a digital buffer: the same for H.
    'auto': the device's cycle-to-cycle σ of one pulse pair in pair steps, c2c_sigma·levels/√2,
    rounded up, at least 1 (TaOx/HfOx 4, Ag:a-Si 3, AlOx/HfO2 2, Gong fit 24, the others 1): a
    pair fires once its wish is as large as one firing's noise. Measured on MNIST (README)."""
    accumulator_bits: int = 0
    """mixed_precision (and tiki_taka's buffer): bits per synapse of the accumulator, signed
    fixed point, saturating, increments stochastically rounded to its LSB; 0: float32 (32 bits)."""
    accumulator_range: float | Literal["threshold"] = 0.0
    """Range of the fixed-point accumulator, pulse steps (LSB = range / 2^(bits−1)); 0: 2·threshold.
    'threshold': its largest code is the threshold θ, LSB = θ / (2^(bits−1) − 1) (4 bits: θ/7
    instead of 2θ's θ/4; χ never needs to hold more than θ, where its pair fires), whatever θ
    'auto' gives on the device."""
    accumulator_rounding: Literal["minibatch", "event"] = "minibatch"
    """mixed_precision with a fixed-point accumulator (accumulator_bits > 0): how the rule's
    coincidences reach it. 'minibatch': a per-synapse register sums the minibatch's coincidences
    exactly, then one stochastically rounded add to χ per minibatch; the register is hardware and
    is counted (a signed counter of the minibatch's largest possible count, or 32 bits for analog
    events). 'event': every coincidence is added to χ on its own and rounded to the LSB (what a
    b-bit χ alone can do: b bits per synapse, nothing else); needs ternary events. Either has no
    effect on a float32 χ (accumulator_bits = 0)."""
    verify: bool | Literal["bounded"] = False
    """mixed_precision: program-and-verify — read each pulsed pair after programming and keep
    (wish − what the devices really moved) in the accumulator; the reads are counted. 'bounded':
    the same, and the accumulator drops what would take the pair beyond ±w_max (without it a
    pair pushed against its bound is pulsed again on every update: spiking_bp on TaOx/HfOx)."""
    transfer_every: int = 1
    """tiki_taka: minibatch updates between transfers (each transfer reads columns of A)."""
    transfer_columns: int = 1
    """tiki_taka: columns of A read and transferred to the weights per transfer (cyclic)."""
    transfer_lr: float = 1.0
    """tiki_taka: weight change per unit of A read (C += transfer_lr · A[:, j])."""
    a_gain: float = 1.0
    """tiki_taka: A's update = a_gain × the rule's wish (A is the fast, in-memory array)."""
    buffer: Literal["digital", "none"] = "digital"
    """tiki_taka: 'digital' — TTv2's per-synapse buffer H between A and the weights (threshold,
    accumulator_bits); 'none' — no per-synapse digital memory: the whole pulse steps of the
    read column (|·| >= threshold) fire on the weights directly."""
    a_drain: bool = True
    """tiki_taka: after a column of A is read, program it back (pulse trains on A's rows: in
    memory) by what left it — all of the read with the digital buffer, only the fired steps
    without it — so A holds only what is not yet transferred; false: A keeps its state and
    decays only by its devices' asymmetry (TTv1)."""
    chopper_every: int = 0
    """tiki_taka: flip the sign of A's input (and of its read-out) every N transfers over all
    columns (c-TTv2 chopper; cancels A's offset); 0: no chopper."""
    a_device: str = ""
    """tiki_taka: device of the auxiliary array A (library name or TOML path); empty: the same device."""

    def __post_init__(self):
        from .synapses.schemes import SCHEMES

        if self.scheme not in SCHEMES:
            raise ConfigError(
                f"synapses.update.scheme {self.scheme!r} is unknown; available: {', '.join(sorted(SCHEMES))}")
        for k in ("transfer_lr", "a_gain"):
            v = getattr(self, k)
            if not math.isfinite(v) or v <= 0:
                raise ConfigError(f"synapses.update.{k} must be > 0, got {v}")
        if self.verify and self.scheme != "mixed_precision":
            raise ConfigError(f"synapses.update.verify is an option of the 'mixed_precision' scheme, not of "
                              f"{self.scheme!r}: remove it or set scheme = 'mixed_precision'")
        if self.threshold != "auto" and self.threshold < 1:
            raise ConfigError(f"synapses.update.threshold must be >= 1 pulse step (whole steps fire) or 'auto', "
                              f"got {self.threshold}")
        for k in ("transfer_every", "transfer_columns"):
            if getattr(self, k) < 1:
                raise ConfigError(f"synapses.update.{k} must be >= 1, got {getattr(self, k)}")
        if self.chopper_every < 0:
            raise ConfigError(f"synapses.update.chopper_every must be >= 0 (0: no chopper), got {self.chopper_every}")
        if self.accumulator_bits != 0 and not 2 <= self.accumulator_bits <= 32:
            raise ConfigError(
                f"synapses.update.accumulator_bits must be in [2, 32] (0: float32), got {self.accumulator_bits}")
        if self.accumulator_rounding == "event" and self.scheme != "mixed_precision":
            # (with accumulator_bits = 0 it is allowed: a float32 χ rounds nothing; sweeps put 0 beside b bits)
            raise ConfigError(f"synapses.update.accumulator_rounding is an option of the 'mixed_precision' scheme, "
                              f"not of {self.scheme!r}: remove it or set scheme = 'mixed_precision'")
        if self.accumulator_range != "threshold" and (not math.isfinite(self.accumulator_range)
                                                      or self.accumulator_range < 0):
            raise ConfigError(f"synapses.update.accumulator_range must be >= 0 pulse steps (0: 2·threshold) "
                              f"or 'threshold', got {self.accumulator_range}")


@dataclass
class SynapseConfig:
    backend: str = "ideal"
    """'ideal' (float weights), 'device' (conductance pairs of a device model), 'circuit'
    (the same conductances read through crossbar circuits). Others register in eqspike_xbar.synapses."""
    device: str = "ideal"
    """Device model: a name in device_models/ (eqspike-xbar device list) or a TOML path. The
    'ideal' backend uses it only for its analytic read-energy estimate."""
    device_overrides: dict = field(default_factory=dict)
    """Tables merged onto the device TOML, e.g. {noise = {c2c_sigma = 0.02}, conductance = {levels = 64}}."""
    on_off_ratio: float = 0.0
    """Gmax/Gmin of the device (Gmin = Gmax / ratio, Gmax kept); 0: the device file's own."""
    devices_per_weight: int = 1
    """Device pairs per weight (a multi-memristive synapse, Boybat et al. 2018): each pulse goes to
    one pair in turn, a read senses their sum, so a pulse moves the weight 1/n as far and its
    C2C noise averages over n× the pulses (the weight's SNR grows as √n, n× the devices and
    pulses). Modelled as one compound device (devices.DeviceParams.parallel); ``device``
    fidelity only."""
    effects_off: list[str] = field(default_factory=list)
    """Device effects switched off, e.g. ["c2c", "d2d", "read_noise"] (see devices.Effects)."""
    w_max: list[float] = field(default_factory=list)
    """Weight mapped onto the full conductance range Gmax - Gmin, per weight layer (one value:
    all layers). Put it near the float run's 99.9th percentile of |W| (measured: digits
    0.17 / 0.24, MNIST 0.10 / 0.27). Empty: 0.2 for W1 and 0.3 for every other layer."""
    init: Literal["weights", "gmin"] = "weights"
    """Initial conductances: program the initial float weights ('weights'), or all at Gmin."""
    read_pulse_s: float = 1e-8
    """Width of one read pulse (one spike on a line), s."""
    minibatch_s: float = 1e-4
    """Time between two programming rounds (one minibatch: free and nudged phases), s; the
    devices drift (retention) for this long before every update."""
    seed_offset: int = 0
    """Added to run.seed for the devices' D2D spread and faults (vary devices, keep the rest)."""
    circuit: CircuitConfig = field(default_factory=CircuitConfig)
    update: UpdateConfig = field(default_factory=UpdateConfig)

    @property
    def device_params(self):
        """The device model (DeviceParams) of ``device`` with ``device_overrides`` and
        ``on_off_ratio`` applied: loaded and checked once, when the config is built."""
        return self._device_params

    def __post_init__(self):
        if self.on_off_ratio != 0 and self.on_off_ratio <= 1:
            raise ConfigError(f"synapses.on_off_ratio must be > 1 (or 0: the device's own), got {self.on_off_ratio}")
        if any(w <= 0 for w in self.w_max):
            raise ConfigError(f"synapses.w_max must be > 0, got {self.w_max}")
        if self.read_pulse_s <= 0 or self.minibatch_s < 0:
            raise ConfigError("synapses.read_pulse_s must be > 0 s and synapses.minibatch_s >= 0 s")
        if isinstance(self.devices_per_weight, bool) or not 1 <= self.devices_per_weight <= 64:
            raise ConfigError(f"synapses.devices_per_weight must be an integer in [1, 64], got {self.devices_per_weight}")
        if self.devices_per_weight > 1 and self.backend != "device":
            raise ConfigError(f"synapses.devices_per_weight = {self.devices_per_weight} is modelled at 'device' fidelity "
                              f"only (the crossbar layout of several pairs per weight is not built): set "
                              f"synapses.backend = 'device' or devices_per_weight = 1")
        from .devices import resolve_device

        try:
            self._device_params = resolve_device(self.device, self.device_overrides, self.on_off_ratio).parallel(
                self.devices_per_weight)
        except DeviceModelError as exc:
            raise ConfigError(f"synapses.device: {exc}") from None
        u = self.update  # the threshold in pulse steps needs the device for 'auto'
        if u.accumulator_bits and u.accumulator_range and u.accumulator_range != "threshold":
            from .synapses.schemes import threshold_steps

            theta = threshold_steps(self)
            if u.accumulator_range <= theta:
                what = f"'auto': {theta:g} pulse steps on {self.device}" if u.threshold == "auto" else f"{u.threshold}"
                raise ConfigError(f"synapses.update.accumulator_range ({u.accumulator_range}) must exceed the threshold "
                                  f"({what}): a saturated accumulator below it never fires")


@dataclass
class EnergyConfig:
    """[energy]: energy per event of the parts that are not simulated as circuits."""

    neuron_update_J: float = 52e-12
    """Energy of one neuron state update (J). Default: Loihi's neuron update, 52 pJ
    (M. Davies et al., "Loihi", IEEE Micro 38(1):82-99, 2018, Table 1)."""
    spike_J: float = 1.7e-12
    """Energy of sending one spike to its lines (J). Default: Loihi's within-tile spike energy,
    1.7 pJ (Davies et al. 2018, Table 1)."""
    sense_J: float = 12.5e-12
    """Peripheral sense energy per line read (J), e.g. one conversion of the summed current.
    Default: ISAAC's 8-bit ADC, 16 mW at 1.28 GS/s = 12.5 pJ per sample (A. Shafiee et al.,
    ISCA 2016, Table 2) — conservative for a spiking neuron that integrates the current itself."""
    gpu_J_per_mac: float = 38.2e-12
    """GPU energy per multiply-accumulate for the comparison (J). Default: NVIDIA V100 SXM2
    datasheet, 300 W at 15.7 TFLOP/s FP32 = 19.1 pJ/FLOP = 38.2 pJ/MAC at full utilisation
    (a lower bound for the GPU: memory traffic and idle time only add)."""

    digital_J_per_bit: float = 0.16e-12
    """Energy of one bit of a digital per-synapse memory access (J; a read-modify-write is two
    accesses). Default: a 64-bit access to an 8 KB SRAM bank, 10 pJ in 45 nm = 0.16 pJ per bit
    (M. Horowitz, "Computing's energy problem", ISSCC 2014, Fig. 1.1.9). Large, unbanked
    arrays cost more (1 MB: 100 pJ per 64 bits)."""
    time_step_s: float = 1e-6
    """Duration of one time step of the network's clock (s), for the latency per sample reported
    beside the energy: latency = steps per sample x time_step_s (the algorithm's
    steps_per_train_sample / steps_per_inference_sample). Default 1 µs, an assumption, not a
    measurement: a step holds one read pulse per array (read_pulse_s, 10 ns), the neuron updates
    and the spike routing. Loihi ran spiking backprop at 125 µs per step (1.5 ms per 12-step
    training sample, Renner et al. 2024)."""

    def __post_init__(self):
        for k in ("neuron_update_J", "spike_J", "sense_J", "gpu_J_per_mac", "digital_J_per_bit"):
            if getattr(self, k) < 0:
                raise ConfigError(f"energy.{k} must be >= 0 J")
        if not (math.isfinite(self.time_step_s) and self.time_step_s > 0):
            raise ConfigError(f"energy.time_step_s must be > 0 s, got {self.time_step_s}")


@dataclass
class ExperimentConfig:
    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    learning: LearningConfig = field(default_factory=LearningConfig)
    synapses: SynapseConfig = field(default_factory=SynapseConfig)
    energy: EnergyConfig = field(default_factory=EnergyConfig)
    spiking_bp: SpikingBPConfig = field(default_factory=SpikingBPConfig)

    def __post_init__(self):
        from .algorithms import ALGORITHMS

        n_weights = len(self.network.layers) - 1
        if not self.learning.algorithm:
            self.learning.algorithm = "rate_ep" if self.network.neuron == "rate" else "eqspike"
        if self.learning.algorithm not in ALGORITHMS:
            raise ConfigError(f"learning.algorithm {self.learning.algorithm!r} is unknown; "
                              f"available: {', '.join(sorted(ALGORITHMS))}")
        if not self.learning.lr:
            self.learning.lr = list(ALGORITHMS[self.learning.algorithm].lr(n_weights))
        if len(self.learning.lr) == 1:
            self.learning.lr = self.learning.lr * n_weights
        if len(self.learning.lr) != n_weights:
            raise ConfigError(
                f"learning.lr has {len(self.learning.lr)} values but network.layers "
                f"{self.network.layers} has {n_weights} weight layers: give one value or {n_weights}"
            )
        if not self.synapses.w_max:
            self.synapses.w_max = [0.2] + [0.3] * (n_weights - 1)
        if len(self.synapses.w_max) == 1:
            self.synapses.w_max = self.synapses.w_max * n_weights
        if len(self.synapses.w_max) != n_weights:
            raise ConfigError(
                f"synapses.w_max has {len(self.synapses.w_max)} values but the network has {n_weights} weight layers"
            )
        if self.learning.rule == "contrastive" and self.network.neuron != "rate":
            raise ConfigError("learning.rule = 'contrastive' (rate EP) needs network.neuron = 'rate'")
        from .synapses import BACKENDS
        from .synapses.schemes import SCHEMES

        if self.synapses.backend not in BACKENDS:
            raise ConfigError(
                f"synapses.backend {self.synapses.backend!r} is unknown; available: {', '.join(sorted(BACKENDS))}"
            )
        up = self.synapses.update
        if up.scheme != UpdateConfig.scheme and not getattr(BACKENDS[self.synapses.backend], "programmed", False):
            raise ConfigError(
                f"synapses.update.scheme = {up.scheme!r} needs programmed devices, but synapses.backend = "
                f"{self.synapses.backend!r} has float weights: use backend 'device' or 'circuit', or drop the scheme")
        ternary_events = self.learning.algorithm == "spiking_bp" or (  # binary activity x signed error
            self.network.neuron == "spiking" and self.learning.post_factor == "ternary")
        if (up.scheme == "mixed_precision" and up.accumulator_bits and up.accumulator_rounding == "event"
                and not ternary_events):
            raise ConfigError(
                "synapses.update.accumulator_rounding = 'event' adds every coincidence of a pre spike and a ternary "
                "post pulse to the accumulator: set network.neuron = 'spiking' and learning.post_factor = 'ternary'")
        if SCHEMES[up.scheme].needs_ternary_events and not ternary_events:
            raise ConfigError(
                f"synapses.update.scheme = {up.scheme!r} programs one pulse per coincidence of a pre spike and a "
                "ternary post pulse: set network.neuron = 'spiking' and learning.post_factor = 'ternary'")
        if up.a_device:
            from .devices import load_device

            try:
                load_device(up.a_device)
            except EqSpikeXbarError as exc:
                raise ConfigError(f"synapses.update.a_device: {exc}") from None

    @property
    def run_name(self) -> str:
        return self.run.name or f"{self.data.name}-{self.learning.algorithm.replace('_', '-')}"

    def to_dict(self) -> dict:
        """The resolved config, without the options of other learning algorithms."""
        from .algorithms import drop_foreign

        return drop_foreign(to_mapping(self), self.learning.algorithm)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


def experiment_from_mapping(d: dict) -> ExperimentConfig:
    """The typed config of a plain mapping, checked against its learning algorithm first
    (options of another algorithm, unknown algorithm): errors name the key, not a file."""
    from .algorithms import resolve_mapping

    return from_mapping(ExperimentConfig, resolve_mapping(d))


def config_from_dict(d: dict, where: str = "config") -> ExperimentConfig:
    try:
        return experiment_from_mapping(d)
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
