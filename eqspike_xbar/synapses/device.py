"""``device`` backend: each weight is a differential pair of devices, W = (G+ − G−) / s_per_weight.

Mapping: ``s_per_weight = (Gmax − Gmin) / w_max`` (S per unit weight, nominal device range),
so W spans [−w_max, w_max]. The initial float weights are programmed as a pair centred on the
middle of the range, G± = (Gmin + Gmax)/2 ± s_per_weight·w/2 (``init = 'weights'``: then both
devices of a pair can move both ways; a pair with one device at Gmin would move only half
as far in one direction), or every device starts at Gmin (``init = 'gmin'``).

Updates are programming pulses. How the rule's coincidence events of one minibatch
(ΔW = scale · rowsᵀ·cols: pre spikes × post update signals, see synapses/base.py) become
pulses is the update scheme (``[synapses.update] scheme``, synapses/schemes.py): the default
``minibatch_sum`` turns the minibatch's sum into a signed pulse count per pair,
n = stochastic_round(ΔW / pair_step), pair_step = 2·(Gmax − Gmin)/levels/s_per_weight the
nominal weight step of one pulse pair: n > 0 fires n SET pulses on G+ and n RESET pulses on
G− (n < 0 the opposite). Every scheme programs through :meth:`DeviceSynapses.program`; the
devices respond as the device model says (nonlinear, asymmetric, bounded, C2C noise, stuck
devices, ...), so the weight actually applied differs from the wish exactly where the device
is not ideal.

Half-select disturb (``[half_select]`` of the device TOML, calibrated by ``eqspike-xbar program
calibrate``): every pulse also disturbs the other devices of its row and column as if the
pulses were applied one coincidence at a time (devices.model.half_select_counts).

Reads use conductances read with read noise, sampled once per minibatch (the state a whole
relaxation sees); the device read energy is V_read²·t·Σ G over the cells of every read pulse.
"""
from __future__ import annotations

import json

import numpy as np

from ..devices import resolve_device  # noqa: F401  (re-exported: where the synapse layers take it from)
from ..compiled import compiled
from ..errors import ConfigError, DeviceModelError
from .base import SynapseLayer, register_backend
from .schemes import make_scheme


def _rng_state(rng: np.random.Generator) -> np.ndarray:
    return np.array(json.dumps(rng.bit_generator.state))


def _set_rng_state(rng: np.random.Generator, state) -> None:
    rng.bit_generator.state = json.loads(str(state))


def _same_nonzeros(n, index: np.ndarray) -> np.ndarray | None:
    """``index`` if it lists exactly the nonzero entries of ``n`` (flat, ascending), else None.
    Most schemes program a pair as (n, −n): counting the nonzeros of the second array and
    checking them at ``index`` costs less than searching them again."""
    n = np.asarray(n)
    if n.size <= (index[-1] if index.size else -1) or np.count_nonzero(n) != index.size:
        return None
    return index if np.all(n.reshape(-1)[index] != 0) else None


def _union(index_lists, size: int) -> np.ndarray:
    """The sorted distinct flat indices (< ``size``) of all arrays in ``index_lists``, as
    ``np.unique(np.concatenate(index_lists))``: through a boolean mask of the whole array unless
    the lists are short (measured on 784 x 500 pairs: np.unique took 0.34 ms for 2 x 2,000
    indices against 0.18 ms for the mask, 13 ms for 2 x 48,000 against 0.7 ms)."""
    if not index_lists:
        return np.zeros(0, dtype=np.intp)
    index_lists = list({id(a): a for a in index_lists}.values())  # (G+ and G- share one index)
    if len(index_lists) == 1 and _ascending(index_lists[0]):
        return index_lists[0]
    total = sum(a.size for a in index_lists)
    if total * 256 < size:
        return np.unique(np.concatenate(index_lists))
    mask = np.zeros(size, dtype=bool)
    for a in index_lists:
        mask[a] = True
    return np.flatnonzero(mask)


def _ascending(a: np.ndarray) -> bool:
    """Strictly ascending (so sorted and distinct: its own np.unique)."""
    return a.ndim == 1 and bool(np.all(a[1:] > a[:-1]))


@register_backend("device")
class DeviceSynapses(SynapseLayer):
    programmed = True  # weights are device conductances moved by pulses: update schemes apply

    def __init__(self, weights, config=None, rng=None, layer=0):
        super().__init__(weights, config, rng, layer)
        if config is None:
            raise ConfigError("the 'device' backend needs the [synapses] config section (device, w_max)")
        from ..devices import DeviceArray, Effects

        self.dtype = weights.dtype
        self.params = config.device_params  # resolved and checked once, when the config was built
        try:
            effects = Effects().without(*config.effects_off)
        except DeviceModelError as exc:
            raise ConfigError(f"synapses.effects_off: {exc}") from None
        c = self.params.conductance
        self.w_max = float(config.w_max[layer])
        self.config = config
        self.s_per_weight = (c.gmax_S - c.gmin_S) / self.w_max  # S per unit weight
        self.dw_pulse = (c.gmax_S - c.gmin_S) / c.levels / self.s_per_weight  # nominal weight step per pulse
        self.read_pulse_V = self.params.iv.v_read_V
        self.minibatch_s = float(config.minibatch_s)
        rng = rng if rng is not None else np.random.default_rng(layer)
        seeds = rng.integers(2**63, size=3)
        shape = weights.shape
        self.gp = DeviceArray(self.params, shape, seed=int(seeds[0]), effects=effects)
        self.gn = DeviceArray(self.params, shape, seed=int(seeds[1]), effects=effects)
        self._rng = np.random.default_rng(int(seeds[2]))  # stochastic rounding of pulse counts
        if config.init == "weights":  # centred on mid-range, so both devices can move both ways
            w = np.clip(np.asarray(weights, dtype=float), -self.w_max, self.w_max)
            g_mid = 0.5 * (c.gmin_S + c.gmax_S)
            self.gp.set_conductance(g_mid + 0.5 * self.s_per_weight * w)
            self.gn.set_conductance(g_mid - 0.5 * self.s_per_weight * w)
        self._programmed = None  # flat indices of the pairs programmed since the last read (None: all)
        self.scheme = make_scheme(self, config.update)
        self._refresh()

    # ------------------------------------------------------------------ state -> reads
    #: True: when a read is exact (no read noise, no drift) only the pairs programmed since the
    #: last read are read again (the others read what they read before, bit for bit); the
    #: circuit backend builds its matrices from these reads as before.
    incremental_reads = True

    def _exact_reads(self) -> bool:
        """A read returns the stored conductance itself: no read noise, no drift."""
        p, e = self.params, self.gp.effects
        return not ((e.read_noise and p.noise.read_sigma > 0) or (e.drift and p.drift.nu > 0))

    def _refresh(self) -> None:
        """New minibatch: read both arrays once (read noise) and cache what reads need."""
        idx, self._programmed = self._to_reread(), []
        if idx is not None and self.incremental_reads and self._exact_reads():
            self._reread(idx)
            return
        self._g_read = (self.gp.read(), self.gn.read())
        self._derive()

    def _to_reread(self) -> np.ndarray | None:
        """Flat indices of the pairs programmed since the last read (None: every pair)."""
        if self._programmed is None:
            return None
        return _union(self._programmed, self.n_pre * self.n_post)

    def _reread(self, idx: np.ndarray) -> None:
        """Exact reads, only the pairs at flat ``idx`` changed: update the cached reads and W there
        (the same arithmetic as :meth:`_derive`, so the same numbers) and the line sums by the
        change (equal to a full sum up to summation order; they weigh the read energy only)."""
        if idx.size == 0:
            return
        n_cols = self._W.shape[1]
        arrays = (*self._g_read, self._W, *self._line_sums, self.gp._g, self.gn._g)
        if not (self.gp._t_any or self.gn._t_any) and all(a.flags.c_contiguous for a in arrays):
            # one compiled pass: the same numbers (bincount adds the changes in idx order to 0.0)
            rows, cols = np.zeros(self._W.shape[0]), np.zeros(n_cols)
            compiled(_reread_pairs)(np.ascontiguousarray(idx, dtype=np.intp), self.gp._g.reshape(-1),
                             self.gn._g.reshape(-1), self._g_read[0].reshape(-1), self._g_read[1].reshape(-1),
                             self._W.reshape(-1), self.s_per_weight, n_cols, rows, cols)
            self._line_sums[0][...] += rows
            self._line_sums[1][...] += cols
            return
        old = self._g_read[0].reshape(-1)[idx] + self._g_read[1].reshape(-1)[idx]
        gp, gn = self.gp.conductance_at(idx), self.gn.conductance_at(idx)
        for read, g in zip(self._g_read, (gp, gn)):
            read.reshape(-1)[idx] = g
        self._W.reshape(-1)[idx] = ((gp - gn) / self.s_per_weight).astype(self.dtype)
        change = (gp + gn) - old
        rows, cols = np.divmod(idx, n_cols)
        self._line_sums[0][...] += np.bincount(rows, change, minlength=self._W.shape[0])
        self._line_sums[1][...] += np.bincount(cols, change, minlength=n_cols)

    def _derive(self) -> None:
        self._W = ((self._g_read[0] - self._g_read[1]) / self.s_per_weight).astype(self.dtype)
        g = self._g_read[0] + self._g_read[1]
        self._line_sums = (g.sum(1), g.sum(0))

    def _read_matrix(self, direction):
        return self._W if direction == "forward" else self._W.T

    # ------------------------------------------------------------------ programming
    @property
    def pair_step(self) -> float:
        """Nominal weight change of one pulse pair (SET on one device, RESET on the other)."""
        return 2.0 * self.dw_pulse

    def pulse_step(self, polarity: str = "pair") -> float:
        """Nominal weight change of one programming event: a pulse pair, or one device ('single')."""
        return self.pair_step if polarity == "pair" else self.dw_pulse

    @property
    def linear_update(self) -> bool:
        """True when the update scheme needs only the sum rowsᵀ·cols (time slots may be merged)."""
        return self.scheme.linear

    def pulse_counts(self, dw: np.ndarray) -> np.ndarray:
        """Signed pulse count per pair asked for by the weight change ``dw`` (unbiased rounding)."""
        x = dw / self.pair_step
        n = np.floor(x)
        x -= n  # the fraction (x is our own array)
        n += self._rng.random(x.shape, dtype=np.float32) < x
        return n.astype(np.int32)

    def pulse_counts_at(self, index, block, scale) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`pulse_counts` of dw = scale·block placed at the rows ``index`` of a zero matrix
        (all rows: ``index`` None; ``synapses.base.event_outer``'s form of the rule's sum), as its
        nonzero counts: (flat indices ascending, int32 counts). The same draws and the same
        counts as ``pulse_counts`` of the whole dw: one uniform number per pair is drawn for
        every pair (the rows without events too, whose count is 0 whatever it draws), and each
        count is computed with the same float operations, in one compiled pass."""
        n_rows, n_cols = self.n_pre, self.n_post
        block = np.ascontiguousarray(block)
        t = block.dtype.type  # dw / pair_step in the dtype of dw, as numpy computes it
        u = self._rng.random(n_rows * n_cols, dtype=np.float32)  # = random((n_pre, n_post)), flat
        rows = np.arange(n_rows, dtype=np.intp) if index is None else np.ascontiguousarray(index, dtype=np.intp)
        flat, counts = np.empty(block.size, dtype=np.intp), np.empty(block.size, dtype=np.int32)
        k = compiled(_pulse_counts)(rows, block, t(scale), t(self.pair_step), t(1), u, n_cols, flat, counts)
        return flat[:k], counts[:k]

    def program_pairs(self, index, counts) -> None:
        """``program([(n, −n)])`` of the counts ``n`` given where they are nonzero: ``counts[i]``
        at flat ``index[i]`` (ascending, distinct; :meth:`pulse_counts_at`). The same devices,
        energy, counters and draws; the whole arrays are built only for half-select disturb."""
        if self._half_selects():
            n = np.zeros(self.n_pre * self.n_post, dtype=counts.dtype)
            n[index] = counts
            n = n.reshape(self.n_pre, self.n_post)
            self.program([(n, -n)])
            return
        before = self._pulses_so_far()
        e = self.gp.apply_pulses_at(index, counts) + self.gn.apply_pulses_at(index, -counts)
        self._book_round(before)
        self.counters["programming_J"] += e

    def _half_selects(self) -> bool:
        """Whether a pulse half-selects the other devices of its row and column (disturb or energy)."""
        hs = self.params.half_select
        return hs.set_rel > 0 or hs.reset_rel > 0 or hs.voltage_V > 0

    def _pulses_so_far(self) -> int:
        return self.gp.pulses + self.gn.pulses

    def _book_round(self, before: int) -> None:
        """After a round that pulsed G+ and G−: count its pulses (``before``: :meth:`_pulses_so_far`
        when it began) and keep the pairs it pulsed to be read again."""
        self.counters["pulses"] += self._pulses_so_far() - before
        if self._programmed is not None:  # the pairs to read again (None: every pair)
            self._programmed += [self.gp.last_index, self.gn.last_index]

    def program(self, rounds) -> None:
        """Fire programming pulses: ``rounds`` is a list of (n_plus, n_minus), signed pulse counts
        per device of G+ and of G− (+ SET, − RESET), applied round after round. Every pulse
        half-selects the other devices of its row and column (``[half_select]`` of the device).
        Books energy and pulses."""
        hs = self.params.half_select
        half = self._half_selects()
        # disturbed devices all over the pulsed rows and columns: the next read reads every pair
        disturbs = self.gp.effects.half_select and (hs.set_rel > 0 or hs.reset_rel > 0)
        e = 0.0
        for n_plus, n_minus in rounds:
            before = self._pulses_so_far()
            index = np.flatnonzero(np.asarray(n_plus) != 0)
            e += self.gp.apply_pulses(n_plus, index) + self.gn.apply_pulses(n_minus, _same_nonzeros(n_minus, index))
            self._book_round(before)
            if disturbs:
                self._programmed = None
            if half:  # half-selected devices of every pulse
                from ..devices.model import half_select_counts

                for arr, n in ((self.gp, n_plus), (self.gn, n_minus)):
                    e += arr.apply_half_select(*half_select_counts(n, hs.scheme or "V/2"))
        self.counters["programming_J"] += e

    def read_pairs(self) -> np.ndarray:
        """Weights read from both arrays now, with read noise (a verify read; book it with
        :meth:`book_pair_reads`)."""
        return (self.gp.read() - self.gn.read()) / self.s_per_weight

    def book_pair_reads(self, index, times: int = 1) -> None:
        """Count ``times`` single-device reads of both devices of the pairs at flat ``index``:
        V_read²·t·(G+ + G−) in the devices and one sense conversion per device read."""
        g = self.gp.conductance().reshape(-1)[index] + self.gn.conductance().reshape(-1)[index]
        self.counters["scheme_read_J"] += times * self.read_pulse_V**2 * self.read_pulse_s * float(np.sum(g))
        self.counters["scheme_line_reads"] += times * 2 * int(np.size(index))

    def update(self, row_events, col_events, scale):
        self.flush_read_energy()
        self._count_update(row_events)
        for arr in (self.gp, self.gn):  # retention: one minibatch passes, whether or not anything is pulsed
            arr.advance_time(self.minibatch_s)
        self.scheme.apply(row_events, col_events, scale)
        self._refresh()

    def aux_layers(self):
        return self.scheme.aux_layers()

    # ------------------------------------------------------------------ inspection / state
    @property
    def weights(self):
        """Noiseless effective weights (G+ − G−) / s_per_weight."""
        return ((self.gp.conductance() - self.gn.conductance()) / self.s_per_weight).astype(self.dtype)

    def conductances(self):
        """(G+, G−) in S, noiseless."""
        return self.gp.conductance(), self.gn.conductance()

    def state_dict(self):
        d = {"weights": self.weights, "rng": _rng_state(self._rng),
             "gp_read": self._g_read[0].copy(), "gn_read": self._g_read[1].copy(),
             "line_sums_rows": self._line_sums[0].copy(), "line_sums_cols": self._line_sums[1].copy(),
             # pairs programmed since the last read (e.g. a Tiki-Taka drain after its update): read at the next
             "programmed_all": np.array(self._programmed is None),
             "programmed": np.zeros(0, dtype=np.intp) if self._programmed is None else self._to_reread()}
        for name, arr in (("gp", self.gp), ("gn", self.gn)):
            for k, v in arr.state_dict().items():
                d[f"{name}_{k}"] = v
        d.update({f"scheme_{k}": v for k, v in self.scheme.state_dict().items()})
        return d

    def load_state_dict(self, state):
        for name, arr in (("gp", self.gp), ("gn", self.gn)):
            arr.load_state_dict({k[len(name) + 1:]: v for k, v in state.items()
                                 if k.startswith(name + "_") and k != name + "_read"})
        self.scheme.load_state_dict({k[7:]: v for k, v in state.items() if k.startswith("scheme_")})
        _set_rng_state(self._rng, state["rng"])
        self._g_read = (np.array(state["gp_read"]), np.array(state["gn_read"]))
        self._derive()  # the reads the saved state had, without drawing new read noise
        if "line_sums_rows" in state:  # kept up to date by changes (_reread): resume with the same sums
            self._line_sums = (np.array(state["line_sums_rows"]), np.array(state["line_sums_cols"]))
        if "programmed" in state and not bool(state["programmed_all"]):
            self._programmed = [np.asarray(state["programmed"], dtype=np.intp)]
        else:  # a checkpoint without the list: read everything at the next refresh
            self._programmed = None

    def diagnostics(self):
        gp, gn = self.conductances()
        lo, hi = self.gp.gmin, self.gp.gmax
        at_bound = np.mean((gp <= lo * 1.0001) | (gp >= hi * 0.9999)) / 2 + np.mean(
            (gn <= lo * 1.0001) | (gn >= hi * 0.9999)) / 2
        return {"devices_at_bounds": float(at_bound), "stuck_devices": float((self.gp.stuck.mean() + self.gn.stuck.mean()) / 2),
                **self.scheme.diagnostics()}


# ------------------------------------------------------------------ compiled loops
# compiled by numba on first use (eqspike_xbar/compiled.py)


def _pulse_counts(rows, block, scale, step, one, u, n_cols, flat, counts):  # pragma: no cover - compiled
    """For every entry of block (row r: matrix row rows[r]): x = (block·scale)/step in the
    block's dtype (scale, step and one of that dtype: no float64 step in between), n = floor(x)
    + (u < x − floor(x)) (u: the flat uniform draws of the whole matrix); the nonzero n and
    their flat indices are written to counts / flat in order. Returns how many. Row by row in
    two passes: the counts (a loop without stores that depend on the data: vectorised, 2.6x
    faster than one pass), then the nonzeros packed."""
    k = 0
    zero = one - one
    row_n = np.empty(n_cols, dtype=np.int32)
    for r in range(block.shape[0]):
        base = rows[r] * n_cols
        ur = u[base:base + n_cols]
        br = block[r]
        for j in range(n_cols):
            x = (br[j] * scale) / step
            n = np.floor(x)
            row_n[j] = np.int32(n + (one if ur[j] < x - n else zero))
        for j in range(n_cols):
            flat[k] = base + j  # written always, kept when k moves on (no branch)
            counts[k] = row_n[j]
            k += row_n[j] != 0
    return k


def _reread_pairs(idx, gp, gn, read_p, read_n, w, s_per_weight, n_cols, rows, cols):  # pragma: no cover - compiled
    """DeviceSynapses._reread's numpy steps in one pass over idx (no drift: a read is G itself)."""
    for i in range(idx.size):
        j = idx[i]
        old = read_p[j] + read_n[j]
        a, b = gp[j], gn[j]
        read_p[j] = a
        read_n[j] = b
        w[j] = (a - b) / s_per_weight
        change = (a + b) - old
        rows[j // n_cols] += change
        cols[j % n_cols] += change

