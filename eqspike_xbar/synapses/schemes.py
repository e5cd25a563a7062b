"""Update schemes: how the learning rule's coincidences become programming pulses.

The network hands every synapse layer the rule's coincidence events (``update(rows, cols,
scale)``: ΔW = scale·rowsᵀ·cols, one row per time slot). With float weights that is the update.
With programmed devices (``device`` and ``circuit`` backends) *something* has to turn the events
into pulses, and that something is hardware: it decides how many pulses fire, how much noise
they add, and what memory the chip needs beside the crossbar. The scheme is chosen by
``[synapses.update] scheme`` (a registry, like the backends); the network does not change.

Units: a *pulse step* is the nominal weight change of one pulse pair (SET on one device of the
differential pair, RESET on the other): ``layer.pair_step`` = 2·(Gmax − Gmin)/levels/scale.

=======================  =========================================================  ===============
scheme                   what the chip does                                         memory/synapse
=======================  =========================================================  ===============
minibatch_sum            sums the minibatch's rule per synapse (digital), rounds     32 bit, reset
                         it stochastically to pulse counts, fires them              every minibatch
coincidence              a pre spike on a row meets a ternary post pulse on a        0
                         column: one pulse pair at that device (stochastic pulse
                         trains give fractional rates); nothing is stored
mixed_precision          per-synapse accumulator χ across minibatches; a pair is     accumulator_bits
                         pulsed when |χ| >= threshold steps, χ keeps the rest        (0 = float32)
                         (a b-bit χ gets each coincidence rounded on its own, or     + the minibatch
                         the minibatch's exact sum through a counted register)       register
                         (Nandakumar et al., Front. Neurosci. 14:406, 2020);
                         verify: program-and-verify; 'bounded': targets kept in
                         the pair's range ±w_max (χ drops what it cannot hold)
tiki_taka                coincidences on an auxiliary pair array A; every n updates  buffer bits (0
                         one column of A is read and transferred to the weights      with no buffer)
                         through a digital buffer H (TTv2) or directly (TTv1)        + 2 devices (A)
                         (Gokmen & Haensch 2020; Gokmen 2021; Rasch et al. 2024)
=======================  =========================================================  ===============

Every scheme counts its hardware: pulses (the layer's ``pulses``), bit-accesses of digital
per-synapse memory (``digital_bit_accesses``: a read-modify-write of a b-bit word is 2·b),
extra reads (``scheme_read_J`` in the devices, ``scheme_line_reads`` sense conversions) and
the auxiliary array's own counters (``aux_layers``); :mod:`eqspike_xbar.energy` turns them into
joules. Scheme state (accumulators, buffers, A) is part of the layer's checkpoint.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import replace

import numpy as np

from ..compiled import compiled
from .base import registrar

SCHEMES: dict[str, type["UpdateScheme"]] = {}


register_scheme = registrar(SCHEMES, "name", "[synapses.update] scheme")


class UpdateScheme(ABC):
    """Turns one minibatch's coincidence events into pulses on ``layer`` (a DeviceSynapses)."""

    name = "?"
    linear = True
    """True when the scheme only needs the sum rowsᵀ·cols (the network may merge time slots
    whose rows are identical); False when every slot is a physical coincidence."""
    needs_ternary_events = False
    """True when every event must be a pulse: rows and columns in {−1, 0, +1}."""
    uses_threshold = False
    """True when ``threshold`` (pulse steps held before a pair fires) shapes the updates."""

    def __init__(self, layer, cfg):
        self.layer, self.cfg = layer, cfg
        self._checked = False  # the events were checked to be ternary (_signed_counts)
        self.threshold = threshold_steps(layer.config, cfg)
        """Firing threshold in pulse steps (mixed_precision, tiki_taka's buffer): the configured
        one, or for 'auto' the device's C2C σ of one pulse pair in pair steps, rounded up (>= 1)."""

    @abstractmethod
    def apply(self, rows: np.ndarray, cols: np.ndarray, scale: float) -> None:
        """Program ``layer`` for the events of one minibatch (ΔW wished = scale·rowsᵀ·cols)."""

    @property
    def bits_per_synapse(self) -> float:
        """Digital memory per synapse that the scheme needs (bits)."""
        return 0.0

    @property
    def extra_devices_per_synapse(self) -> int:
        """Devices per synapse beside the weight's own pair."""
        return 0

    def aux_layers(self) -> list:
        """Auxiliary synapse layers (arrays) the scheme programs and reads."""
        return []

    def state_dict(self) -> dict[str, np.ndarray]:
        return {}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        pass

    def diagnostics(self) -> dict[str, float]:
        return {}

    def _signed_counts(self, rows, cols, scale) -> tuple[np.ndarray, np.ndarray]:
        """(n_plus, n_minus): per device, the coincidences that ask for a + and a − change once
        the sign of ``scale`` is applied; the events are checked to be ternary on the first call."""
        if not self._checked:
            _check_ternary(rows, "row")
            _check_ternary(cols, "column")
            self._checked = True
        n_plus, n_minus = coincidence_counts(rows, cols)
        return (n_minus, n_plus) if scale < 0 else (n_plus, n_minus)

    def _book_memory(self, words: float, bits: float) -> None:
        """Count ``words`` accesses of ``bits``-bit words of per-synapse digital memory."""
        self.layer.counters["digital_bit_accesses"] += float(words) * bits

    def _book_rule_sum(self, rows, cols, bits: float) -> None:
        """A digital per-synapse sum of the rule: one read-modify-write per coincidence (the
        periphery adds each event) and one scan of every word per minibatch."""
        self._book_memory(2 * _coincidences(rows, cols) + self.layer.n_pre * self.layer.n_post, bits)


def coincidence_counts(rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_plus, n_minus): per device, how many time slots put a row pulse and a column pulse of
    equal (+) or opposite (−) sign on it. ``rows`` (E, M), ``cols`` (E, N) in {−1, 0, +1}."""
    dt = np.float32 if max(rows.shape[0], 1) < 2**24 else np.float64
    r = rows.astype(dt, copy=False)
    c = cols.astype(dt, copy=False)
    if r.min(initial=0) >= 0:  # spikes only on the rows: |r| = r, one product gives both sums
        both = r.T @ np.concatenate([np.abs(c), c], axis=1)
        total, net = both[:, : c.shape[1]], both[:, c.shape[1]:]
    else:
        total, net = np.abs(r).T @ np.abs(c), r.T @ c
    n_plus = np.rint(0.5 * (total + net)).astype(np.int64)
    n_minus = np.rint(0.5 * (total - net)).astype(np.int64)
    return n_plus, n_minus


def _check_ternary(a: np.ndarray, what: str) -> None:
    from ..errors import ConfigError

    if not np.all((a == 0) | (np.abs(a) == 1)):
        raise ConfigError(f"the coincidence schemes need ternary {what} events (-1, 0, +1): use "
                          "learning.post_factor = 'ternary' with spiking neurons")


class FixedPoint:
    """A signed, saturating fixed-point store in units of pulse steps (``bits`` = 0: float32).
    Increments are rounded stochastically to the LSB (an LFSR's job in hardware)."""

    def __init__(self, shape, bits: int, value_range: float, rng: np.random.Generator):
        self.bits = int(bits)
        self.rng = rng
        if self.bits:
            self.lsb = value_range / 2 ** (self.bits - 1)
            self.lo, self.hi = -(2 ** (self.bits - 1)), 2 ** (self.bits - 1) - 1
            self.q = np.zeros(shape, dtype=np.int64)  # value = q · lsb
        else:
            self.lsb = 0.0
            self.q = np.zeros(shape, dtype=np.float32)

    @property
    def word_bits(self) -> int:
        return self.bits or 32

    @property
    def value(self) -> np.ndarray:
        return self.q * self.lsb if self.bits else self.q

    def add(self, x: np.ndarray, index=...) -> None:
        """value[index] += x (pulse steps), rounded to the LSB and saturated."""
        if not self.bits:
            self.q[index] += x.astype(np.float32, copy=False)
            return
        y = x / self.lsb
        n = np.floor(y)
        n += self.rng.random(y.shape) < (y - n)
        self.q[index] = np.clip(self.q[index] + n.astype(np.int64), self.lo, self.hi)

    def add_events(self, n_plus: np.ndarray, n_minus: np.ndarray, step: float) -> None:
        """Add ``n_plus`` events of +``step`` and ``n_minus`` of −``step`` pulse steps, each one
        rounded to the LSB on its own (stochastically: a Binomial count of the LSBs the events
        carried over). Saturation is applied to the net of all of them (the order of the events
        within one call is not modelled)."""
        if not self.bits:
            self.q += (step * (n_plus - n_minus)).astype(np.float32)
            return
        y = step / self.lsb
        whole, frac = math.floor(y), y - math.floor(y)
        net = whole * (n_plus - n_minus)
        if frac > 0:
            for n, sign in ((n_plus, 1), (n_minus, -1)):
                nz = np.flatnonzero(n)
                net.reshape(-1)[nz] += sign * self.rng.binomial(n.reshape(-1)[nz], frac)
        self.q[...] = np.clip(self.q + net, self.lo, self.hi)

    def take_whole(self, threshold: float, index=...) -> np.ndarray:
        """Whole pulse steps of the entries whose |value| >= ``threshold``; subtracted from the
        store (the remainder stays). Returns signed int counts."""
        if not self.bits and index is Ellipsis:  # float32: only the entries that fire are touched
            q = self.q.reshape(-1)
            hit = np.flatnonzero(np.abs(q) >= threshold)
            fired = np.trunc(q[hit])
            q[hit] -= fired
            n = np.zeros(self.q.shape, dtype=np.int64)
            n.reshape(-1)[hit] = fired.astype(np.int64)
            return n
        v = self.value[index]
        n = np.where(np.abs(v) >= threshold, np.trunc(v), 0.0).astype(np.int64)
        if self.bits:  # in LSBs; an LSB that does not divide a step: rounded stochastically (unbiased)
            self.q[index] -= np.floor(n / self.lsb + self.rng.random(np.shape(n))).astype(np.int64)
        else:
            self.q[index] -= n.astype(np.float32)
        return n

    def subtract(self, x: np.ndarray, index=...) -> None:
        self.add(-np.asarray(x, dtype=float), index)

    def add_rule_sum(self, index, block, scale, step) -> None:
        """``add(_rule_sum(rows, cols, scale) / np.float32(step))`` of a float32 store, given
        ``event_outer(rows, cols)`` = (index, block): the same float operations on the rows with
        events (the other rows' sum is 0, and adding 0 leaves a store that is never −0 as it
        is), in one compiled pass instead of the dense sum, division and add."""
        assert not self.bits
        block = np.ascontiguousarray(block)
        t = block.dtype.type  # numpy: dw / float32(step) in the dtype of dw, then cast to float32
        rows = np.arange(self.q.shape[0], dtype=np.intp) if index is None else np.ascontiguousarray(index, dtype=np.intp)
        compiled(_add_rows_loop)(self.q, rows, block, t(scale), t(np.float32(step)))

    def take_whole_at(self, threshold: float) -> tuple[np.ndarray, np.ndarray]:
        """``take_whole(threshold)`` of a float32 store, as the nonzero counts: (flat indices
        ascending, int64 counts); the same entries fire, by as much, in one compiled pass."""
        assert not self.bits
        q = self.q.reshape(-1)
        flat, counts = np.empty(q.size, dtype=np.intp), np.empty(q.size, dtype=np.int64)
        k = compiled(_take_whole_loop)(q, np.float32(threshold), flat, counts)
        return flat[:k], counts[:k]


# ---------------------------------------------------------------------------------- schemes
@register_scheme("minibatch_sum")
class MinibatchSum(UpdateScheme):
    """The minibatch's rule sum per synapse, stochastically rounded to whole pulse steps and
    fired at the end of the minibatch. The sum lives in a per-synapse float32 accumulator for
    one minibatch (a hidden digital memory: 32 bits per synapse, reset every minibatch); every
    rounded wish fires, whatever its size or sign."""

    @property
    def bits_per_synapse(self):
        return 32.0

    def apply(self, rows, cols, scale):
        from .base import event_outer

        layer = self.layer
        # = pulse_counts(_rule_sum(rows, cols, scale)) and program([(n, -n)]): the same draws,
        # counts and pulses, without the dense dw and n (the rows without events pulse nothing)
        index, block = event_outer(rows, cols)
        self._book_rule_sum(rows, cols, 32)
        layer.program_pairs(*layer.pulse_counts_at(index, block, scale))


def threshold_steps(syn_cfg, update=None) -> float:
    """The firing threshold in pulse steps of ``update`` (default ``syn_cfg.update``) on the
    synapses of ``syn_cfg`` (a SynapseConfig): the number given, or for 'auto' the device's
    cycle-to-cycle σ of one pulse pair (SET + RESET, independent) in pair steps,
    √2·c2c_sigma·(Gmax − Gmin) / (2·(Gmax − Gmin)/levels) = c2c_sigma·levels/√2, rounded up,
    at least 1 (1 with C2C switched off)."""
    u = update or syn_cfg.update
    if u.threshold != "auto":
        return float(u.threshold)
    p = syn_cfg.device_params
    sigma = p.noise.c2c_sigma * p.conductance.levels / math.sqrt(2.0) if "c2c" not in syn_cfg.effects_off else 0.0
    return float(max(1, math.ceil(sigma - 1e-9)))


def held_auto_threshold(config: dict) -> dict:
    """Overrides that pin ``[synapses.update] threshold = "auto"`` of the experiment config
    ``config`` (a plain mapping) to the θ it resolves to there: {"synapses": {"update":
    {"threshold": θ}}}, or {} when θ is given as a number (or there is no device). Runs that
    switch effects off keep the θ of the device as configured (with C2C off, 'auto' would fall
    to 1 and change the firing threshold together with the noise)."""
    if config.get("synapses", {}).get("update", {}).get("threshold") != "auto":
        return {}
    from ..config import config_from_dict

    syn = config_from_dict(config).synapses
    if getattr(syn, "device_params", None) is None:
        return {}
    return {"synapses": {"update": {"threshold": threshold_steps(syn)}}}


def accumulator_range_steps(cfg, threshold: float) -> float:
    """The fixed-point accumulator's range in pulse steps (``cfg``: an UpdateConfig):
    ``accumulator_range`` as given, 0: 2·threshold, 'threshold': the range whose largest code,
    (2^(bits−1) − 1) LSBs, is the threshold itself."""
    if cfg.accumulator_range == "threshold":
        half = 2 ** (max(cfg.accumulator_bits, 2) - 1)
        r = threshold * half / (half - 1)
        while (half - 1) * (r / half) < threshold:  # float rounding must not leave a full χ below θ
            r = math.nextafter(r, math.inf)
        return r
    return cfg.accumulator_range or 2.0 * threshold


def _accumulator(layer, cfg, threshold: float) -> FixedPoint:
    """A per-synapse store of ``accumulator_bits`` over ``accumulator_range_steps``."""
    return FixedPoint((layer.n_pre, layer.n_post), cfg.accumulator_bits,
                      accumulator_range_steps(cfg, threshold), layer._rng)


def _rule_sum(rows, cols, scale) -> np.ndarray:
    """scale·rowsᵀ·cols, computed on the rows with events only (synapses.base.event_outer)."""
    from .base import event_outer

    index, block = event_outer(rows, cols)
    if index is None:
        block *= np.asarray(scale, dtype=block.dtype)
        return block
    out = np.zeros((rows.shape[1], cols.shape[1]), dtype=block.dtype)
    out[index] = block * np.asarray(scale, dtype=block.dtype)
    return out


def _register_bits(rows, cols) -> int:
    """Bits of a signed register that holds the sum of one minibatch's coincidences per synapse:
    enough for the largest count these events can give (rows·cols integral), else 32 (float)."""
    if not (np.array_equal(rows, np.rint(rows)) and np.array_equal(cols, np.rint(cols))):
        return 32
    most = rows.shape[0] * float(np.abs(rows).max(initial=0)) * float(np.abs(cols).max(initial=0))
    return min(32, math.ceil(math.log2(most + 1)) + 1)


def _coincidences(rows, cols) -> float:
    """Number of (row event, column event) pairs: one digital increment each (the nonzeros
    per time slot counted by a compiled loop: np.count_nonzero(·, axis=1)'s integers, in a
    fifth of its time on a minibatch's events)."""
    return float(_nonzeros_per_row(rows) @ _nonzeros_per_row(cols))


def _nonzeros_per_row(a) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim != 2 or a.dtype.kind not in "fiub":
        return np.count_nonzero(a, axis=1)
    out = np.zeros(a.shape[0], dtype=np.intp)
    compiled(_count_rows_loop)(a, out)
    return out


def _add_rows_loop(q, rows, block, scale, step):  # pragma: no cover - compiled
    """q[rows[r], j] += float32((block[r, j]·scale)/step) (block's dtype until the cast)."""
    for r in range(block.shape[0]):
        row = rows[r]
        for j in range(block.shape[1]):
            q[row, j] += np.float32((block[r, j] * scale) / step)


def _take_whole_loop(q, threshold, flat, counts):  # pragma: no cover - compiled
    """FixedPoint.take_whole of a float32 store: every |q| >= threshold (float32) fires
    trunc(q), subtracted from q; the nonzero counts and their flat indices in order."""
    k = 0
    for i in range(q.size):
        v = q[i]
        if np.abs(v) >= threshold:
            fired = np.trunc(v)
            q[i] = v - fired
            n = np.int64(fired)
            if n != 0:
                flat[k] = i
                counts[k] = n
                k += 1
    return k


def _count_rows_loop(a, out):  # pragma: no cover - compiled
    for i in range(a.shape[0]):
        k = 0
        for j in range(a.shape[1]):
            k += a[i, j] != 0
        out[i] = k


@register_scheme("coincidence")
class Coincidence(UpdateScheme):
    """Fully in-memory: in each time slot a row pulse (pre spike, or the pre neuron's ternary
    update pulse) and a column pulse (the post neuron's ternary update pulse, or its spike)
    overlap at one device, which is programmed by one pulse of the product's polarity. Nothing
    is stored per synapse; nothing is summed before it fires.

    ``pulse_train = 'stochastic'``: each coincidence fires with probability p = (scale of one
    coincidence) / pulse step, as with stochastic row and column pulse trains (Gokmen &
    Vlasov 2016; p = p_row·p_col); a device's count over the minibatch is Binomial(N, p) — the
    per-device statistics are exact, the correlation between devices that share a line is not
    modelled. p > 1 fires ⌊p⌋ pulses for sure and one more with probability p − ⌊p⌋.
    ``'deterministic'``: one pulse pair per coincidence (the device step sets the rate)."""

    linear = False
    needs_ternary_events = True

    def __init__(self, layer, cfg):
        super().__init__(layer, cfg)
        self.gain = 1.0  # wish multiplier (Tiki-Taka's A: a_gain)

    def fired(self, rows, cols, scale) -> tuple[np.ndarray, np.ndarray]:
        """Pulses fired per device for + and − coincidences (non-negative ints)."""
        n_plus, n_minus = self._signed_counts(rows, cols, scale)
        if self.cfg.pulse_train == "deterministic":
            return n_plus, n_minus
        p = self.gain * abs(float(scale)) / self.layer.pulse_step(self.cfg.polarity)
        whole, frac = int(np.floor(p)), p - np.floor(p)
        rng = self.layer._rng
        out = []
        for n in (n_plus, n_minus):
            k = whole * n
            if frac > 0:
                nz = np.flatnonzero(n)
                k.reshape(-1)[nz] += rng.binomial(n.reshape(-1)[nz], frac)
            out.append(k)
        return out[0], out[1]

    def apply(self, rows, cols, scale):
        fp, fm = self.fired(rows, cols, scale)
        layer = self.layer
        if self.cfg.polarity == "single":  # + on G+ (SET), − on G− (SET)
            layer.program([(fp, fm)])
        else:  # both devices of the pair, in a random order of the two polarities
            rounds = [(fp, -fp), (-fm, fm)]
            if layer._rng.random() < 0.5:
                rounds.reverse()
            layer.program(rounds)


@register_scheme("mixed_precision")
class MixedPrecision(UpdateScheme):
    """A digital accumulator χ per synapse (pulse steps) collects the rule's wish across
    minibatches; a pair is programmed only when |χ| >= threshold: its whole steps are fired and
    subtracted, the remainder stays (Nandakumar et al. 2020). Random-sign wishes cancel in χ
    before they cost a pulse. ``verify``: read the pulsed pairs after programming and subtract
    what they really moved instead of the nominal steps (program-and-verify; reads counted);
    ``verify = 'bounded'``: the same, with targets kept inside ±w_max (``_after_verify``)."""

    uses_threshold = True

    def __init__(self, layer, cfg):
        super().__init__(layer, cfg)
        self.chi = _accumulator(layer, cfg, self.threshold)
        self.event_rounding = bool(self.chi.bits) and cfg.accumulator_rounding == "event"
        self.linear = not self.event_rounding  # per-event rounding: every slot's coincidences count
        self.register_bits = 0
        """Fixed-point χ with 'minibatch' rounding: bits of the per-synapse register that sums a
        minibatch's coincidences before χ gets them (enough for the largest count the minibatch's
        slots could give; 32 for analog events); 0 otherwise."""

    @property
    def bits_per_synapse(self):
        return float(self.chi.word_bits + self.register_bits)

    def apply(self, rows, cols, scale):
        layer, chi = self.layer, self.chi
        if not chi.bits and not self.cfg.verify and hasattr(layer, "program_pairs"):
            # float32 χ, no verify: the steps below without the dense sum and pulse arrays (the
            # same χ, counts, pulses and counters)
            from .base import event_outer

            chi.add_rule_sum(*event_outer(rows, cols), scale, layer.pair_step)
            self._book_rule_sum(rows, cols, chi.word_bits)
            layer.program_pairs(*chi.take_whole_at(self.threshold))
            return
        if self.event_rounding:  # each coincidence is one rounded add to χ
            n_plus, n_minus = self._signed_counts(rows, cols, scale)
            chi.add_events(n_plus, n_minus, abs(float(scale)) / layer.pair_step)
            self._book_rule_sum(rows, cols, chi.word_bits)
        else:  # the minibatch's exact rule sum, one add to χ per synapse
            chi.add(_rule_sum(rows, cols, scale) / np.float32(layer.pair_step))
            if chi.bits:  # fixed point: a register summed the minibatch first, one rounded add
                self.register_bits = max(self.register_bits, _register_bits(rows, cols))
                self._book_rule_sum(rows, cols, self.register_bits)
                self._book_memory(2 * layer.n_pre * layer.n_post, chi.word_bits)
            else:  # float32 χ: every coincidence is added to it (float sums: no rounding to speak of)
                self._book_rule_sum(rows, cols, chi.word_bits)
        if self.cfg.verify:
            w_before = layer.read_pairs()
        n = chi.take_whole(self.threshold)
        layer.program([(n, -n)])
        if self.cfg.verify:  # read the pulsed pairs before and after; keep the shortfall in χ
            idx = np.flatnonzero(n)
            w_after = layer.read_pairs().reshape(-1)[idx]
            moved = (w_after - w_before.reshape(-1)[idx]) / layer.pair_step
            layer.book_pair_reads(idx, times=2)
            index = np.unravel_index(idx, n.shape)
            chi.add(n.reshape(-1)[idx] - moved, index)
            self._book_memory(2 * idx.size, chi.word_bits)
            self._after_verify(w_after, index)

    def _after_verify(self, w_after: np.ndarray, index) -> None:
        """``verify = 'bounded'``: the targets stay inside the pair's range. After a pulsed pair
        is read (weight w), its accumulator keeps at most what would take it to ±w_max,
        χ ← clip(χ, (−w_max − w)/step, (w_max − w)/step): the wish the devices cannot hold is
        dropped, as the ideal backend's weight clip drops it. With plain verify a pair driven
        against its bound moves by less than it was asked (the devices saturate), χ keeps the
        shortfall and the pair is pulsed again on every later minibatch until the rule's wish
        has cancelled it (spiking_bp on TaOx/HfOx, w_max 0.125, threshold 4, one seed: 33,000
        pulses per training sample against 2,700 bounded)."""
        if self.cfg.verify != "bounded":
            return
        layer, chi = self.layer, self.chi
        step, w_max = layer.pair_step, layer.w_max
        v = chi.value[index]
        # the bounds only ever shrink |χ|: a pair read beyond ±w_max (D2D spread of Gmax, read
        # noise) is not pulled back by a wish the rule never made
        lo = np.minimum((-w_max - w_after) / step, 0.0)
        hi = np.maximum((w_max - w_after) / step, 0.0)
        excess = v - np.clip(v, lo, hi)
        hit = excess != 0
        if np.any(hit):
            chi.subtract(excess[hit], tuple(i[hit] for i in index))

    def state_dict(self):
        return {"chi": self.chi.q.copy(), "register_bits": np.array(self.register_bits)}

    def load_state_dict(self, state):
        self.chi.q[...] = state["chi"]
        self.register_bits = int(state.get("register_bits", 0))

    def diagnostics(self):
        v = self.chi.value
        return {"accumulator_abs_mean_steps": float(np.abs(v).mean())}


@register_scheme("tiki_taka")
class TikiTaka(UpdateScheme):
    """Coincidences go in memory to an auxiliary array A (a pair array of the same backend,
    device ``a_device``); every ``transfer_every`` updates ``transfer_columns`` columns of A are
    read through the backend (a real read: IR drop and read noise at circuit fidelity; counted)
    and moved to the weight array C: through a per-synapse digital buffer H that fires whole
    pulse steps when |H| >= threshold (TTv2, Gokmen 2021), or directly (``buffer = 'none'``,
    no per-synapse digital memory): the whole pulse steps of the read (|·| >= threshold) fire on
    the weights. ``a_drain``: A is programmed back by what left it — all of the read (into H),
    or with no buffer only what was fired, so that A keeps the remainder like an analog
    accumulator; without it A keeps its state and decays only through its devices' asymmetry
    (TTv1, Gokmen & Haensch 2020). ``chopper_every`` > 0 flips the sign of A's input and of its
    read-out every so many transfers (c-TTv2, Rasch et al. 2024)."""

    linear = False
    needs_ternary_events = True
    uses_threshold = True

    def __init__(self, layer, cfg):
        super().__init__(layer, cfg)
        syn_cfg = layer.config
        # A is its own device: the weight device's overrides do not carry over to another a_device
        a_dev = {} if not cfg.a_device else {"device": cfg.a_device, "device_overrides": {}, "on_off_ratio": 0.0}
        # A is one pair per weight (the weight's devices_per_weight is not A's; counted as 2 devices)
        a_cfg = replace(syn_cfg, **a_dev, update=replace(cfg, scheme="coincidence"), init="weights",
                        devices_per_weight=1)
        rng = np.random.default_rng(layer._rng.integers(2**63))
        self.A = type(layer)(np.zeros(layer.weights.shape, dtype=layer.dtype), config=a_cfg, rng=rng,
                             layer=layer.layer)
        self.A.scheme.gain = cfg.a_gain
        self.H = _accumulator(layer, cfg, self.threshold) if cfg.buffer == "digital" else None
        self.updates = 0
        self.transfers = 0
        self.column = 0
        self.chopper = 1

    @property
    def bits_per_synapse(self):
        return float(self.H.word_bits) if self.H is not None else 0.0

    @property
    def extra_devices_per_synapse(self):
        return 2

    def aux_layers(self):
        return [self.A]

    def apply(self, rows, cols, scale):
        self.A.update(rows, cols, self.chopper * scale)
        self.updates += 1
        if self.updates % self.cfg.transfer_every:
            return
        n_post, k = self.layer.n_post, min(self.cfg.transfer_columns, self.layer.n_post)
        self._transfer((self.column + np.arange(k)) % n_post)
        self.column = (self.column + k) % n_post
        for _ in range(k):
            self.transfers += 1
            if self.cfg.chopper_every and self.transfers % (self.cfg.chopper_every * n_post) == 0:
                self.chopper = -self.chopper

    def _transfer(self, columns: np.ndarray) -> None:
        """Read ``columns`` of A (one backward read per column: drive it, sense the rows) and move
        what they hold to the same columns of the weights."""
        layer, cfg = self.layer, self.cfg
        onehot = np.zeros((len(columns), layer.n_post), dtype=layer.dtype)
        onehot[np.arange(len(columns)), columns] = 1.0
        a = self.A.backward(onehot).T.astype(float)  # (n_pre, k): the columns of A as read
        steps = self.chopper * cfg.transfer_lr * a / layer.pair_step
        n = np.zeros(layer.weights.shape, dtype=np.int64)
        drain = None  # what leaves A, in weight units
        if self.H is not None:  # TTv2: all of the read goes into the buffer
            self.H.add(steps, (slice(None), columns))
            n[:, columns] = self.H.take_whole(self.threshold, (slice(None), columns))
            self._book_memory(2 * a.size, self.H.word_bits)
            drain = a
        else:  # in memory: the whole steps of the read (|steps| >= threshold) fire on the weights,
            # and only what was moved leaves A (A keeps the remainder: an analog accumulator)
            whole = np.where(np.abs(steps) >= self.threshold, np.trunc(steps), 0.0)
            n[:, columns] = whole.astype(np.int64)
            drain = self.chopper * whole * layer.pair_step / cfg.transfer_lr
        if cfg.a_drain:  # program those columns of A back (pulse trains on A's rows)
            m = np.zeros(layer.weights.shape, dtype=np.int64)
            m[:, columns] = self.A.pulse_counts(-drain)
            self.A.program([(m, -m)])
        layer.program([(n, -n)])

    def state_dict(self):
        d = {f"A_{k}": v for k, v in self.A.state_dict().items()}
        d["counters"] = np.array([self.updates, self.transfers, self.column, self.chopper])
        if self.H is not None:
            d["H"] = self.H.q.copy()
        return d

    def load_state_dict(self, state):
        self.A.load_state_dict({k[2:]: v for k, v in state.items() if k.startswith("A_")})
        self.updates, self.transfers, self.column, self.chopper = (int(v) for v in state["counters"])
        if self.H is not None:
            self.H.q[...] = state["H"]

    def diagnostics(self):
        return {"aux_weight_abs_mean": float(np.abs(self.A.weights).mean())}


def make_scheme(layer, cfg) -> UpdateScheme:
    from ..errors import ConfigError

    try:
        cls = SCHEMES[cfg.scheme]
    except KeyError:
        raise ConfigError(f"synapses.update.scheme {cfg.scheme!r} is unknown; available: "
                          f"{', '.join(sorted(SCHEMES))}") from None
    return cls(layer, cfg)


def hardware_summary(synapses) -> dict:
    """What the update scheme of a network's synapse layers asks of the chip, as plain data:
    scheme name, digital memory per synapse (bits) and in all (bits), extra devices per synapse,
    whether anything is stored per synapse. Float-weight layers report no scheme."""
    layers = [s for s in synapses if getattr(s, "programmed", False)]
    if not layers:
        return {"scheme": "none (float weights)", "bits_per_synapse": 0.0, "digital_memory_bits": 0.0,
                "extra_devices_per_synapse": 0, "devices_per_weight": 1, "per_synapse_memory": False, "threshold_steps": 0.0,
                "verify": "false"}
    sch = layers[0].scheme
    pairs = int(getattr(layers[0].config, "devices_per_weight", 1))  # more pairs per weight: more devices
    extra = sch.extra_devices_per_synapse + 2 * (pairs - 1)
    # layers may need different registers (a hidden layer's events have twice the slots): the
    # largest per synapse, and the sum over the layers in all
    bits = max(s.scheme.bits_per_synapse for s in layers)
    return {"scheme": sch.name, "bits_per_synapse": bits,
            "digital_memory_bits": sum(s.scheme.bits_per_synapse * s.n_pre * s.n_post for s in layers),
            "extra_devices_per_synapse": extra, "devices_per_weight": pairs,
            # memory beside the weight: digital bits or the scheme's own devices (the weight's
            # extra pairs store the weight itself)
            "per_synapse_memory": bool(bits > 0 or sch.extra_devices_per_synapse > 0),
            # the firing threshold (pulse steps) as used: 'auto' resolved per device; 0: none
            "threshold_steps": sch.threshold if sch.uses_threshold else 0.0,
            "verify": str(sch.cfg.verify).lower() if sch.name == "mixed_precision" else "false"}
