"""Vectorised behavioural device model: an array of devices, each with its own parameters.

    arr = DeviceArray(load_device("ag_asi"), shape=(784, 500), seed=1)
    energy_J = arr.apply_pulses(n)      # n: signed int array, + = LTP/SET, − = LTD/RESET
    g_S = arr.conductance()             # noiseless (drift applied)
    g_S = arr.read()                    # with read noise
    i_A = arr.current(v_V)              # with the read I–V nonlinearity

The state of each device is its conductance (S); before each update it is turned into the
pulse position on the curve of the pulse's direction (NeuroSim's inverse), moved by the
pulse count and turned back, so repeated pulses follow the nonlinear curve and a direction
switch continues from the present conductance. See :mod:`.params` for the equations.
"""
from __future__ import annotations

import logging

import numpy as np

from ..compiled import compiled
from ..errors import DeviceModelError
from .params import DeviceParams, Effects, nl_to_b, shape

log = logging.getLogger(__name__)



#: pulses on fewer devices than this run the numpy steps (the same numbers): a pulse sweep of a
#: few devices (``eqspike-xbar device show``, fits) need not load numba (0.4 s, 1.4 s compiling)
COMPILED_MIN_DEVICES = 1024


class DeviceArray:
    """``shape`` devices of one technology; D2D parameters and faults fixed by ``seed``.

    ``g_init``: ``"gmin"``, ``"gmax"``, ``"mid"`` (pulse position half-way up LTP) or an
    array of conductances (S). Stuck devices sit at Gmin/Gmax whatever ``g_init`` says.
    """

    def __init__(self, params: DeviceParams, shape=(1,), seed=None, effects: Effects | None = None,
                 g_init="gmin"):
        if not isinstance(params, DeviceParams):
            raise DeviceModelError(f"params must be a DeviceParams (use load_device), got {type(params).__name__}")
        self.params = params
        self.effects = effects or Effects()
        self.shape = tuple(int(s) for s in np.atleast_1d(shape))
        if any(s < 1 for s in self.shape):
            raise DeviceModelError(f"device array shape {self.shape} must have sizes >= 1")
        d2d_ss, fault_ss, noise_ss = np.random.SeedSequence(seed).spawn(3)
        self.rng = np.random.default_rng(noise_ss)
        self._dev = self._sample_devices(np.random.default_rng(d2d_ss), np.random.default_rng(fault_ss))
        self._finish_init(g_init)

    # -- construction ------------------------------------------------------------------
    def _sample_devices(self, rng, fault_rng) -> dict:
        p, e, shp = self.params, self.effects, self.shape
        c, s = p.conductance, p.d2d
        nl_ltp = p.nonlinearity.ltp if e.nonlinearity else 0.0
        nl_ltd = p.nonlinearity.ltd if e.nonlinearity else 0.0
        lev_ltd = c.pulses_ltd
        if not e.asymmetry:
            nl_ltd, lev_ltd = -nl_ltp, c.levels
        # Draw every spread (fixed order) even when D2D is off, so streams do not shift.
        z = rng.standard_normal((7,) + shp)
        k = 1.0 if e.d2d else 0.0
        gmin = c.gmin_S * np.exp(k * s.gmin_rel * z[0])
        gmax = np.maximum(c.gmax_S * np.exp(k * s.gmax_rel * z[1]), gmin * 1.001 + 1e-30)
        nl1 = np.clip(nl_ltp + k * s.nl_abs * z[2], -9.5, 9.5) if e.nonlinearity else np.zeros(shp)
        nl2 = np.clip(nl_ltd + k * s.nl_abs * z[3], -9.5, 9.5) if e.nonlinearity else np.zeros(shp)
        scale_lev = np.exp(k * s.levels_rel * z[4])
        c2c = p.noise.c2c_sigma * np.exp(k * s.c2c_rel * z[5]) if e.c2c else np.zeros(shp)
        nu = p.drift.nu * np.exp(k * s.drift_rel * z[6]) if e.drift else np.zeros(shp)
        u = fault_rng.random(shp)
        f = p.faults
        stuck_lo = (u < f.stuck_gmin_rate) & e.stuck
        stuck_hi = (u >= f.stuck_gmin_rate) & (u < f.stuck_gmin_rate + f.stuck_gmax_rate) & e.stuck
        return {
            "gmin": gmin, "gmax": gmax,
            "b_ltp": nl_to_b(nl1), "b_ltd": nl_to_b(nl2),
            "p_ltp": np.maximum(np.rint(c.levels * scale_lev), 2.0),
            "p_ltd": np.maximum(np.rint(lev_ltd * scale_lev), 2.0),
            "c2c": c2c * (gmax - gmin),  # absolute σ per √pulse (S)
            "nu": nu,
            "stuck": stuck_lo | stuck_hi,
            "stuck_g": np.where(stuck_hi, gmax, gmin),
        }

    def _finish_init(self, g_init) -> None:
        d = self._dev
        self._movable = ~d["stuck"]
        self._dg = d["gmax"] - d["gmin"]
        # Per-direction constants of the update (b clamped away from 0: |b| < 1e-6 is linear
        # to 1e-7 of the range): x = c·ln(1 + f·em), G = Gmin + s·(exp(k·x) − 1).
        self._dir = {}
        for name in ("ltp", "ltd"):
            b, p = d[f"b_{name}"], d[f"p_{name}"]
            bs = np.where(np.abs(b) < 1e-6, 1e-6, b)
            em = np.expm1(-bs)
            self._dir[name] = {"em": em, "c": -p / bs, "k": -bs / p, "s": self._dg / em, "p": p}
        # what apply_pulses gathers per pulsed device; a constant without D2D spread is kept as
        # one number (gathering 18 full arrays per call was a quarter of a device epoch)
        self._per_device = {k: _compact(v) for k, v in (
            ("gmin", d["gmin"]), ("gmax", d["gmax"]), ("nu", d["nu"]), ("c2c", d["c2c"]),
            ("dg", self._dg), ("movable", self._movable))}
        for name in ("ltp", "ltd"):
            self._per_device.update({f"{name}_{k}": _compact(v) for k, v in self._dir[name].items()})
        # a direction's constant that is one number each way: [LTD, LTP], picked per pulsed device
        # by its direction (a take from two numbers: 5x faster than np.where with 0-d operands)
        self._by_direction = {k: np.array([self._per_device[f"ltd_{k}"], self._per_device[f"ltp_{k}"]])
                              for k in self._dir["ltp"] if self._per_device[f"ltp_{k}"].ndim == 0
                              and self._per_device[f"ltd_{k}"].ndim == 0}
        # the same constants flat for the compiled steps (one entry: the same for every device);
        # a direction's constant as rows [LTD, LTP] (a pulsed device's row: its direction)
        self._flat = {k: np.ascontiguousarray(v).reshape(-1) for k, v in self._per_device.items()}
        for k in self._dir["ltp"]:
            ltd, ltp = self._flat.pop(f"ltd_{k}"), self._flat.pop(f"ltp_{k}")
            self._flat[k] = np.ascontiguousarray(np.stack(np.broadcast_arrays(ltd, ltp)))
        self._t = np.zeros(self.shape)  # time since last programming (s)
        self._t_any = False
        self.energy_J = 0.0  # programming energy spent so far (J)
        self.pulses = 0  # programming pulses applied so far
        self.last_index = np.zeros(0, dtype=np.intp)  # flat indices pulsed by the last apply_pulses
        pv = self.params.pulse
        # a pulse reaches one of the compound's parallel_devices devices: its energy is V·I(V)·width
        # on 1/parallel_devices of the compound's conductance (programming and half-select alike)
        self._width_per_device_s = pv.width_s / self.params.parallel_devices
        self._e_ltp = abs(pv.ltp_V) * self._iv_factor(abs(pv.ltp_V)) * self._width_per_device_s  # J per S
        self._e_ltd = abs(pv.ltd_V) * self._iv_factor(abs(pv.ltd_V)) * self._width_per_device_s
        self.set_conductance(g_init)

    def _iv_factor(self, v):
        """I(V)/G (V): V for an Ohmic device, V_read·sinh(V/v0)/sinh(V_read/v0) otherwise."""
        iv = self.params.iv
        if not self.effects.iv_nonlinearity or iv.v0_V == 0:
            return v
        return iv.v_read_V * np.sinh(v / iv.v0_V) / np.sinh(iv.v_read_V / iv.v0_V)

    def set_conductance(self, g) -> None:
        """Program conductances directly (S), clipped to each device's range; resets drift time."""
        d = self._dev
        if isinstance(g, str):
            if g == "gmin":
                g = d["gmin"]
            elif g == "gmax":
                g = d["gmax"]
            elif g == "mid":
                g = d["gmin"] + self._dg * shape(0.5, d["b_ltp"])
            else:
                raise DeviceModelError(f"g_init {g!r} must be 'gmin', 'gmax', 'mid' or an array of conductances (S)")
        g = np.broadcast_to(np.asarray(g, dtype=float), self.shape)
        if not np.all(np.isfinite(g)) or np.any(g < 0):
            raise DeviceModelError("initial conductances must be finite and >= 0 S")
        self._g = np.where(d["stuck"], d["stuck_g"], np.clip(g, d["gmin"], d["gmax"]))
        self._t[...] = 0.0
        self._t_any = False

    # -- programming -------------------------------------------------------------------
    def apply_pulses(self, n, index=None) -> float:
        """Apply ``n`` identical pulses per device (signed ints; + LTP/SET, − LTD/RESET).

        Returns the programming energy of these pulses (J): per pulse |V|·I(V)·width at the
        mean of the conductance before and after (stuck devices take the pulses too). Only
        the devices with n != 0 are computed (training pulses a few % of an array at a time).
        ``index``: the flat indices of the nonzero entries of ``n`` in ascending order
        (``np.flatnonzero(n)``) when the caller has them; they are then not searched again.
        """
        n = np.asarray(n)
        if n.shape != self.shape:
            raise DeviceModelError(f"pulse array has shape {n.shape}, expected {self.shape}")
        if n.dtype.kind not in "iu":
            if n.dtype.kind != "f" or not np.all(np.isfinite(n)) or np.any(n != np.rint(n)):
                raise DeviceModelError("pulse counts must be integers (signed: + LTP, − LTD)")
        # the flat indices of the devices pulsed now (a boolean mask first: numpy's nonzero of a
        # boolean array is ~3x faster than of an int64 one, the indices are the same)
        idx = np.flatnonzero(n != 0) if index is None else index
        return self.apply_pulses_at(idx, n.reshape(-1)[idx])

    def apply_pulses_at(self, index, counts) -> float:
        """:meth:`apply_pulses` of the pulse counts given only where they are nonzero:
        ``counts[i]`` pulses (signed integers, nonzero) on the device at flat ``index[i]``,
        ``index`` ascending and distinct (``np.flatnonzero(n)`` and ``n.reshape(-1)[index]`` of
        the whole array ``n``). The same devices, energy and random draws as :meth:`apply_pulses`
        of the whole array, without building or searching it. Not checked (callers' own counts)."""
        idx = self.last_index = index
        if idx.size == 0:
            return 0.0
        if not self._t_any and idx.size >= COMPILED_MIN_DEVICES:
            return self._apply_compiled(idx, counts)
        return self._apply_numpy(idx, np.asarray(counts).astype(float))

    def _apply_numpy(self, idx, nf) -> float:
        """The pulses ``nf`` (float) at flat ``idx``, in numpy (any state, drift included)."""
        e = self.effects
        pos = nf > 0

        c = self._per_device

        def take(a):
            return a if a.ndim == 0 else a.reshape(-1)[idx]

        def pick(key):  # per-device constant of each pulsed device's direction
            ltp, ltd = c[f"ltp_{key}"], c[f"ltd_{key}"]
            if key in self._by_direction:
                return ltp if ltp == ltd else self._by_direction[key].take(pos.view(np.uint8))
            return np.where(pos, take(ltp), take(ltd))

        g_flat = self._g.reshape(-1)  # a view: the state is updated in place
        g0 = g_flat[idx]
        movable = take(c["movable"])
        if self._t_any:  # commit the drift of the devices about to be programmed
            g0 = np.where(movable, self._drifted(g0, take(self._t), take(c["gmin"]), take(c["nu"])), g0)
            self._t.reshape(-1)[idx] = 0.0
        gmin = take(c["gmin"])
        x = np.clip((g0 - gmin) / take(c["dg"]), 0.0, 1.0)
        x = pick("c") * np.log1p(x * pick("em"))  # pulse position on this direction's curve
        if e.quantization:
            x = self._stochastic_round(x)
        x = np.clip(x + nf, 0.0, pick("p"))
        g1 = gmin + pick("s") * np.expm1(x * pick("k"))
        if e.c2c:
            g1 += self.rng.standard_normal(idx.size) * np.sqrt(np.abs(nf)) * take(c["c2c"])
        if not (movable.ndim == 0 and movable):  # (no stuck device: nothing to keep)
            g1 = np.where(movable, g1, g0)
        g1 = np.clip(g1, gmin, take(c["gmax"]))
        per_pulse = nf * (g0 + g1)  # for the energy: pulses x (G before + after)
        up, down = float(np.sum(per_pulse[pos])), float(-np.sum(per_pulse[~pos]))
        energy = 0.5 * (self._e_ltp * up + self._e_ltd * down)
        g_flat[idx] = g1
        self.energy_J += energy
        self.pulses += int(np.abs(nf).sum())
        return energy

    def _apply_compiled(self, idx, counts) -> float:
        """:meth:`_apply_numpy` without drift, its element-wise steps in four compiled loops over
        the pulsed devices (each a single pass instead of ~30 numpy temporaries). The numbers
        are the same to the bit: the loops do the same IEEE operations in the same order on
        each device (clips as numpy's, NaN kept) and draw with numba's Generator methods (numpy's
        algorithms on the same bit generator: the same numbers in the same order), while log1p,
        expm1 and the energy's two sums (numpy's pairwise summation) stay numpy's."""
        e, f = self.effects, self._flat
        n = idx.size
        idx = np.ascontiguousarray(idx, dtype=np.intp)
        counts = np.ascontiguousarray(counts)
        g_flat = self._g.reshape(-1)  # a view: the state is updated in place
        nf, g0, tmp = np.empty(n), np.empty(n), np.empty(n)
        compiled(_k_start)(idx, counts, g_flat, f["gmin"], f["dg"], f["em"], nf, g0, tmp)
        log = np.log1p(tmp)  # x·em -> ln(1 + x·em)
        frac = np.empty(n) if e.quantization else tmp
        draw = compiled(_k_position)(idx, nf, log, f["c"], e.quantization, tmp, frac)
        # the rounding draw (rng.random(n)) and the C2C draw (rng.standard_normal(n)) are made in
        # the loops, one number per device in order: numba's Generator methods are numpy's
        # algorithms on the same bit generator state (the same numbers; the normals 3x faster)
        compiled(_k_target)(idx, nf, tmp, self.rng, frac, draw, f["p"], f["k"])
        ex = np.expm1(tmp)
        pp_pos, pp_neg = np.empty(n), np.empty(n)
        n_pos, n_neg, pulses = compiled(_k_finish)(
            idx, nf, g0, ex, self.rng, e.c2c, f["gmin"], f["s"], f["c2c"], f["movable"], f["gmax"], g_flat, pp_pos,
            pp_neg)
        up, down = float(np.sum(pp_pos[:n_pos])), float(-np.sum(pp_neg[:n_neg]))
        energy = 0.5 * (self._e_ltp * up + self._e_ltd * down)
        self.energy_J += energy
        self.pulses += int(pulses)
        return energy

    def apply_half_select(self, n_set, n_reset) -> float:
        """Half-select disturb: ``n_set`` / ``n_reset`` half-selected pulses of SET / RESET
        polarity per device (non-negative ints, shape of the array; see
        :func:`half_select_counts`). Each moves G by ``params.half_select.set_rel`` of
        (Gmax − G), resp. ``reset_rel`` of (G − Gmin); SET-polarity pulses are applied first.
        Returns their energy (J) when ``half_select.voltage_V`` > 0: every half-selected pulse
        puts that voltage across the device for the pulse width, whether it disturbs or not
        (stuck devices conduct too). No conductance changes when both fractions are 0 (the
        default) or with ``Effects(half_select=False)``.
        """
        counts = []
        for name, n in (("n_set", n_set), ("n_reset", n_reset)):
            n = np.asarray(n)
            if n.shape != self.shape:
                raise DeviceModelError(f"{name} has shape {n.shape}, expected {self.shape}")
            if n.dtype.kind not in "iu" and not (n.dtype.kind == "f" and np.all(n == np.rint(n))) or np.any(n < 0):
                raise DeviceModelError(f"{name} must hold non-negative integer pulse counts")
            counts.append(n.astype(float))
        hs, d = self.params.half_select, self._dev
        disturb = self.effects.half_select and (hs.set_rel > 0 or hs.reset_rel > 0)
        if not disturb and hs.voltage_V <= 0:
            return 0.0
        g0 = self.conductance() if self._t_any else self._g
        g = g0
        if disturb:
            touched = ((counts[0] > 0) | (counts[1] > 0)) & self._movable
            g = d["gmax"] - (d["gmax"] - g0) * (1.0 - hs.set_rel) ** counts[0]
            g = d["gmin"] + (g - d["gmin"]) * (1.0 - hs.reset_rel) ** counts[1]
            g = np.where(touched, g, g0)
        energy = 0.0
        if hs.voltage_V > 0:
            v = hs.voltage_V
            energy = float(v * self._iv_factor(v) * self._width_per_device_s
                           * np.sum((counts[0] + counts[1]) * 0.5 * (g0 + g)))
        if disturb:
            self._g = np.asarray(np.where(touched, g, self._g), dtype=float)
            if self._t_any:
                self._t[touched] = 0.0
        self.energy_J += energy
        return energy

    def _stochastic_round(self, x: np.ndarray) -> np.ndarray:
        """The pulse positions rounded to the integer grid, up with probability = fraction."""
        low = np.floor(x + 1e-9)
        frac = x - low
        frac[frac < 1e-9] = 0.0
        if frac.max(initial=0.0) > 0.0:
            low += self.rng.random(x.shape) < frac
        return low

    # -- time and reads ----------------------------------------------------------------
    def advance_time(self, dt_s: float) -> None:
        """Let ``dt_s`` seconds pass (conductance drift/retention)."""
        if not np.isfinite(dt_s) or dt_s < 0:
            raise DeviceModelError(f"dt_s must be finite and >= 0 s, got {dt_s!r}")
        if not (self.effects.drift and self.params.drift.nu > 0):
            return  # nothing depends on the time without drift
        self._t += dt_s
        self._t_any = self._t_any or dt_s > 0

    def conductance(self) -> np.ndarray:
        """Noiseless conductance (S) at the read voltage, drift included."""
        if not (self._t_any and self.effects.drift and self.params.drift.nu > 0):
            return self._g.copy()
        d = self._dev
        return np.where(d["stuck"], self._g, self._drifted(self._g, self._t, d["gmin"], d["nu"]))

    def conductance_at(self, index) -> np.ndarray:
        """:meth:`conductance` of the devices at flat ``index`` only (no copy of the whole array
        when nothing drifts)."""
        if not (self._t_any and self.effects.drift and self.params.drift.nu > 0):
            return self._g.reshape(-1)[index]
        return self.conductance().reshape(-1)[index]

    def _drifted(self, g, t, gmin, nu):
        """G − Gmin relaxed by ((t + t0)/t0)^(−nu) after t seconds (no drift when switched off)."""
        if not (self.effects.drift and self.params.drift.nu > 0):
            return g
        t0 = self.params.drift.t0_s
        return gmin + (g - gmin) * ((t + t0) / t0) ** (-nu)

    def read(self) -> np.ndarray:
        """Conductance (S) as read once: relative Gaussian read noise when enabled."""
        g = self.conductance()
        sigma = self.params.noise.read_sigma
        if self.effects.read_noise and sigma > 0:
            g = np.maximum(g * (1.0 + sigma * self.rng.standard_normal(self.shape)), 0.0)
        return g

    def current(self, v_V, noisy: bool = True) -> np.ndarray:
        """Device current (A) at voltage ``v_V`` (broadcast), with the I–V nonlinearity."""
        g = self.read() if noisy else self.conductance()
        v = np.asarray(v_V, dtype=float)
        return g * np.sign(v) * self._iv_factor(np.abs(v))

    # -- inspection --------------------------------------------------------------------
    @property
    def gmin(self) -> np.ndarray:
        return self._dev["gmin"]

    @property
    def gmax(self) -> np.ndarray:
        return self._dev["gmax"]

    @property
    def stuck(self) -> np.ndarray:
        return self._dev["stuck"]

    def device_parameters(self) -> dict[str, np.ndarray]:
        """Per-device parameter arrays (gmin, gmax, b_ltp, b_ltd, p_ltp, p_ltd, c2c, nu, stuck...)."""
        return {k: v.copy() for k, v in self._dev.items()}

    def subset(self, index) -> "DeviceArray":
        """A new array holding the devices ``self[index]`` (same parameters, fresh noise stream)."""
        new = object.__new__(DeviceArray)
        new.params, new.effects = self.params, self.effects
        new._dev = {k: np.atleast_1d(np.asarray(v[index])) for k, v in self._dev.items()}
        new.shape = new._dev["gmin"].shape
        new.rng = np.random.default_rng(self.rng.integers(2**63))
        new._finish_init(np.atleast_1d(self._g[index]).copy())
        return new

    def state_dict(self) -> dict[str, np.ndarray]:
        """The mutable state (conductances, drift clocks, noise stream, energy and pulse totals);
        per-device parameters are not included: they follow from params, effects and seed."""
        import json

        return {"g": self._g.copy(), "t": self._t.copy(), "t_any": np.array(self._t_any),
                "rng": np.array(json.dumps(self.rng.bit_generator.state)),
                "energy_J": np.array(self.energy_J), "pulses": np.array(self.pulses)}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` saved (same params, effects, seed and shape)."""
        import json

        if state["g"].shape != self.shape:
            raise DeviceModelError(f"saved device state has shape {state['g'].shape}, expected {self.shape}")
        self._g = np.array(state["g"], dtype=float)
        self._t = np.array(state["t"], dtype=float)
        self._t_any = bool(state["t_any"])
        self.rng.bit_generator.state = json.loads(str(state["rng"]))
        self.energy_J = float(state["energy_J"])
        self.pulses = int(state["pulses"])

    def __repr__(self) -> str:
        return f"DeviceArray({self.params.name!r}, shape={self.shape}, stuck={int(self.stuck.sum())})"


def half_select_counts(n, scheme: str = "V/2") -> tuple[np.ndarray, np.ndarray]:
    """Half-selected pulses per device ``(n_set, n_reset)`` when the signed pulse counts ``n``
    (M, N) are applied one coincidence at a time: device (i, j) is half-selected by every
    pulse in row i or column j at another device (same polarity as that pulse). In the V/3
    scheme the other, unselected devices see −V/3: counted as pulses of the opposite polarity.
    """
    n = np.asarray(n)
    if n.ndim != 2 or n.dtype.kind not in "iuf" or not np.all(n == np.rint(n)):
        raise DeviceModelError("n must be a 2-D array of signed integer pulse counts (rows x columns)")
    if scheme not in ("V/2", "V/3"):
        raise DeviceModelError(f"scheme must be 'V/2' or 'V/3', got {scheme!r}")
    out = []
    for part in (np.maximum(n, 0), np.maximum(-n, 0)):
        part = part.astype(np.int64)
        row, col, total = part.sum(1, keepdims=True), part.sum(0, keepdims=True), int(part.sum())
        half = row + col - 2 * part
        out.append((half, total - row - col + part))
    (set_half, set_uns), (reset_half, reset_uns) = out
    if scheme == "V/3":
        return set_half + reset_uns, reset_half + set_uns
    return set_half, reset_half


def _compact(a) -> np.ndarray:
    """``a`` as a 0-d array when all its entries are equal (no device-to-device spread)."""
    a = np.asarray(a)
    if a.size and np.all(a == a.reshape(-1)[0]):
        return np.array(a.reshape(-1)[0])
    return a


def ltp_ltd_sweep(params: DeviceParams, n_devices: int = 1, seed=0, effects: Effects | None = None,
                  cycles: int = 1) -> np.ndarray:
    """Conductance (S) of ``n_devices`` over full LTP then LTD sweeps (10 % more pulses than
    the levels each way): shape (pulses + 1, n_devices)."""
    arr = DeviceArray(params, (n_devices,), seed=seed, effects=effects or Effects(read_noise=False))
    out = [arr.conductance()]
    n_up = int(params.conductance.levels * 1.1)
    n_down = int(params.conductance.pulses_ltd * 1.1)
    for _ in range(cycles):
        for d, n in ((1, n_up), (-1, n_down)):
            step = np.full(n_devices, d)
            for _ in range(n):
                arr.apply_pulses(step)
                out.append(arr.conductance())
    return np.array(out)


# ------------------------------------------------------------------ compiled steps of apply_pulses
# Plain functions compiled by numba on first use (eqspike_xbar/compiled.py). A per-device
# constant comes as a flat array of every device's value or of one value shared by all
# (``DeviceArray._flat``). Clips are written as numpy's (max(x, lo) then min(·, hi), comparisons
# that keep a NaN) so that every device gets the same numbers as the numpy steps of
# ``DeviceArray._apply_numpy``.


def _k_start(idx, counts, g, gmin, dg, em, nf, g0, out):  # pragma: no cover - compiled
    """nf = counts as floats, g0 = G before, out = clip((G − Gmin)/ΔG, 0, 1)·em of the direction."""
    one = em.shape[1] > 1
    for i in range(idx.size):
        j = idx[i]
        v = np.float64(counts[i])
        nf[i] = v
        gi = g[j]
        g0[i] = gi
        x = (gi - gmin[j if gmin.size > 1 else 0]) / dg[j if dg.size > 1 else 0]
        if not (x > 0.0 or x != x):
            x = 0.0
        if not (x < 1.0 or x != x):
            x = 1.0
        out[i] = x * em[1 if v > 0 else 0, j if one else 0]  # (a row picked, not a branch)


def _k_position(idx, nf, log, c, quantize, x, frac):  # pragma: no cover - compiled
    """x = c·log (the pulse position); quantized: x = floor(x + 1e-9) and frac = the rest (0 below
    1e-9). Returns whether a rounding draw is due (frac.max(initial=0) > 0, a NaN: no)."""
    some, nan = False, False
    one = c.shape[1] > 1
    for i in range(idx.size):
        xi = c[1 if nf[i] > 0 else 0, idx[i] if one else 0] * log[i]
        if quantize:
            low = np.floor(xi + 1e-9)
            r = xi - low
            if r < 1e-9:
                r = 0.0
            some |= r > 0.0
            nan |= r != r
            x[i] = low
            frac[i] = r
        else:
            x[i] = xi
    return some and not nan


def _k_target(idx, nf, x, rng, frac, rounded, p, k):  # pragma: no cover - compiled
    """x (in place) = clip(x [+ (u < frac)] + n, 0, p)·k of the direction: expm1's argument
    (rounded: u = rng.random(), one per device in order: rng.random(idx.size))."""
    one = p.shape[1] > 1 or k.shape[1] > 1
    for i in range(idx.size):
        j = idx[i] if one else 0
        d = 1 if nf[i] > 0 else 0
        xi = x[i]
        if rounded:
            xi = xi + (1.0 if rng.random() < frac[i] else 0.0)
        xi = xi + nf[i]
        top = p[d, j if p.shape[1] > 1 else 0]
        if not (xi > 0.0 or xi != xi):
            xi = 0.0
        if not (xi < top or xi != xi):
            xi = top
        x[i] = xi * k[d, j if k.shape[1] > 1 else 0]


def _k_finish(idx, nf, g0, ex, rng, noisy, gmin, s, c2c, movable, gmax, g, pp_pos,
              pp_neg):  # pragma: no cover - compiled
    """G after = clip(Gmin + s·ex [+ z·√|n|·σ] (stuck: G before), Gmin, Gmax), stored in g
    (noisy: z = rng.standard_normal(), one per device in order: rng.standard_normal(idx.size));
    n·(G before + after) of the SET and of the RESET pulses, packed in order into pp_pos /
    pp_neg. Returns their counts and the number of pulses."""
    n_pos, n_neg, pulses = 0, 0, 0
    one = s.shape[1] > 1
    for i in range(idx.size):
        j = idx[i]
        v = nf[i]
        d = 1 if v > 0 else 0
        lo = gmin[j if gmin.size > 1 else 0]
        g1 = lo + s[d, j if one else 0] * ex[i]
        if noisy:
            g1 = g1 + rng.standard_normal() * np.sqrt(np.abs(v)) * c2c[j if c2c.size > 1 else 0]
        if not movable[j if movable.size > 1 else 0]:
            g1 = g0[i]
        if not (g1 > lo or g1 != g1):
            g1 = lo
        hi = gmax[j if gmax.size > 1 else 0]
        if not (g1 < hi or g1 != g1):
            g1 = hi
        pp = v * (g0[i] + g1)
        pp_pos[n_pos] = pp  # written to both, kept by the count that moves on (no branch)
        pp_neg[n_neg] = pp
        n_pos += d
        n_neg += 1 - d
        g[j] = g1
        pulses += np.int64(np.abs(v))
    return n_pos, n_neg, pulses
