"""Device parameters (one TOML file per technology), effect switches, and the NeuroSim
nonlinearity label.

Pulse response (NeuroSim form, one curve per direction d ∈ {LTP, LTD})::

    G_d(x) = Gmin + (Gmax − Gmin) · f(x / P_d; b_d),   f(u; b) = (1 − e^(−b·u)) / (1 − e^(−b)),

``x`` the pulse position (0 … P_d), ``P_d`` the pulses for a full sweep (``levels``),
``b_d = P_d / A_d`` the curvature (NeuroSim's A in units of P, inverted; b = 0 is linear).
A potentiation pulse moves x up the LTP curve by one, a depression pulse down the LTD
curve; switching direction re-reads x from the conductance (as NeuroSim's
``InvNonlinearWeight``). The *nonlinearity label* NL is NeuroSim's: ``max_u (f(u) − u) =
0.07·√2·NL`` (this reproduces NeuroSim's ``getParamA`` table), signed as b: positive LTP
NL saturates towards Gmax, negative LTD NL saturates towards Gmin (the published signs).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import DeviceModelError

#: max_u (f(u) − u) per unit of NeuroSim's nonlinearity label (0.07·√2).
NL_DEVIATION_PER_LABEL = 0.07 * math.sqrt(2.0)
#: Largest |NL| accepted (NL → 10.1 as b → ∞).
NL_MAX = 9.5

_B_GRID = np.concatenate([[0.0], np.geomspace(1e-6, 400.0, 40000)])


def _max_deviation(b: np.ndarray) -> np.ndarray:
    """max_u (f(u; b) − u) for b > 0 (closed form; the maximum is where f'(u) = 1)."""
    b = np.asarray(b, dtype=float)
    out = np.zeros_like(b)
    m = b > 1e-6
    bb = b[m]
    one_m = -np.expm1(-bb)  # 1 − e^(−b)
    u_star = -np.log(one_m / bb) / bb
    out[m] = 1.0 / one_m - 1.0 / bb - u_star
    out[~m] = b[~m] / 8.0  # small-b limit
    return out


_NL_GRID = _max_deviation(_B_GRID) / NL_DEVIATION_PER_LABEL


def nl_to_b(nl) -> np.ndarray:
    """NeuroSim nonlinearity label → curvature b = P/A (signed like NL; vectorised)."""
    nl = np.asarray(nl, dtype=float)
    return np.sign(nl) * np.interp(np.abs(nl), _NL_GRID, _B_GRID)


def b_to_nl(b) -> np.ndarray:
    """Curvature b = P/A → NeuroSim nonlinearity label (vectorised)."""
    b = np.asarray(b, dtype=float)
    return np.sign(b) * _max_deviation(np.abs(b)) / NL_DEVIATION_PER_LABEL


def shape(u, b):
    """f(u; b) = (1 − e^(−b·u)) / (1 − e^(−b)); b → 0 is the line f = u."""
    b = _nonzero(b)
    return np.expm1(-b * u) / np.expm1(-b)


def inverse_shape(f, b):
    """u with shape(u, b) = f."""
    b = _nonzero(b)
    return -np.log1p(f * np.expm1(-b)) / b


def _nonzero(b):
    b = np.asarray(b, dtype=float)
    return np.where(np.abs(b) < 1e-7, 1e-7, b)


# --------------------------------------------------------------------------------------
# TOML sections. Every section has a `source`: paper + table/figure for its numbers.


def _fail(where: str, message: str):
    raise DeviceModelError(f"device parameter {where} {message}")


def _finite(where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(where, f"must be a finite number, got {value!r}")
    return float(value)


def _nonneg(where: str, value) -> float:
    v = _finite(where, value)
    if v < 0:
        _fail(where, f"must be >= 0, got {value!r}")
    return v


@dataclass(frozen=True)
class Conductance:
    """Conductance range and pulse resolution."""

    gmin_S: float  #: lowest conductance (S), at the read voltage
    gmax_S: float  #: highest conductance (S)
    levels: int  #: identical LTP pulses for a full Gmin→Gmax sweep (NeuroSim maxNumLevelLTP)
    levels_ltd: int = 0  #: LTD pulses for a full Gmax→Gmin sweep; 0 = same as ``levels``
    source: str = ""

    def __post_init__(self):
        gmin = _finite("conductance.gmin_S", self.gmin_S)
        gmax = _finite("conductance.gmax_S", self.gmax_S)
        if gmin < 0 or gmax < 0:
            _fail("conductance.gmin_S/gmax_S", f"must be >= 0 S (no negative conductance), got {gmin!r}, {gmax!r}")
        if gmin >= gmax:
            _fail("conductance.gmin_S", f"({gmin:g} S) must be < gmax_S ({gmax:g} S): swap or fix them")
        for name in ("levels", "levels_ltd"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                _fail(f"conductance.{name}", f"must be an integer, got {v!r}")
        if self.levels < 2:
            _fail("conductance.levels", f"must be >= 2 (pulses for a full sweep), got {self.levels}")
        if self.levels_ltd != 0 and self.levels_ltd < 2:
            _fail("conductance.levels_ltd", f"must be >= 2, or 0 for 'same as levels', got {self.levels_ltd}")

    @property
    def pulses_ltd(self) -> int:
        return self.levels_ltd or self.levels


@dataclass(frozen=True)
class Nonlinearity:
    """NeuroSim nonlinearity labels (published signs: LTP > 0 and LTD < 0 saturate)."""

    ltp: float = 0.0
    ltd: float = 0.0
    source: str = ""

    def __post_init__(self):
        for name in ("ltp", "ltd"):
            v = _finite(f"nonlinearity.{name}", getattr(self, name))
            if abs(v) > NL_MAX:
                _fail(f"nonlinearity.{name}", f"= {v} is outside ±{NL_MAX} (NeuroSim labels reach ~10 only as A → 0)")


@dataclass(frozen=True)
class Noise:
    c2c_sigma: float = 0.0  #: cycle-to-cycle σ per √pulse, fraction of (Gmax − Gmin)
    read_sigma: float = 0.0  #: read noise σ, fraction of the conductance read
    source: str = ""

    def __post_init__(self):
        _nonneg("noise.c2c_sigma", self.c2c_sigma)
        _nonneg("noise.read_sigma", self.read_sigma)


@dataclass(frozen=True)
class D2D:
    """Device-to-device spread (σ), drawn once per device at creation from the seed."""

    gmin_rel: float = 0.0  #: σ of ln(Gmin)
    gmax_rel: float = 0.0  #: σ of ln(Gmax)
    nl_abs: float = 0.0  #: σ of the NL labels (NeuroSim sigmaDtoD)
    levels_rel: float = 0.0  #: σ of ln(levels)
    c2c_rel: float = 0.0  #: σ of ln(c2c_sigma)
    drift_rel: float = 0.0  #: σ of ln(drift nu)
    source: str = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.name != "source":
                _nonneg(f"d2d.{f.name}", getattr(self, f.name))


@dataclass(frozen=True)
class Faults:
    stuck_gmin_rate: float = 0.0  #: fraction of devices stuck at Gmin
    stuck_gmax_rate: float = 0.0  #: fraction of devices stuck at Gmax
    source: str = ""

    def __post_init__(self):
        a = _nonneg("faults.stuck_gmin_rate", self.stuck_gmin_rate)
        b = _nonneg("faults.stuck_gmax_rate", self.stuck_gmax_rate)
        if a + b > 1:
            _fail("faults.stuck_*_rate", f"rates add up to {a + b:g} > 1")


@dataclass(frozen=True)
class Drift:
    """Retention: G − Gmin relaxes as ((t + t0)/t0)^(−nu) after the last programming pulse."""

    nu: float = 0.0  #: drift exponent (dimensionless)
    t0_s: float = 1.0  #: reference time (s)
    source: str = ""

    def __post_init__(self):
        _nonneg("drift.nu", self.nu)
        if _finite("drift.t0_s", self.t0_s) <= 0:
            _fail("drift.t0_s", f"must be > 0 s, got {self.t0_s!r}")


@dataclass(frozen=True)
class IV:
    """Read I–V: I(V) = G·V_read·sinh(V/v0)/sinh(V_read/v0); v0 = 0 means Ohmic."""

    v_read_V: float = 0.1  #: read voltage at which G is defined (V)
    v0_V: float = 0.0  #: sinh voltage scale (V); 0 = linear I–V
    source: str = ""

    def __post_init__(self):
        if _finite("iv.v_read_V", self.v_read_V) <= 0:
            _fail("iv.v_read_V", f"must be > 0 V, got {self.v_read_V!r}")
        _nonneg("iv.v0_V", self.v0_V)


@dataclass(frozen=True)
class Pulse:
    """Programming pulse; energy per pulse = |V|·I(V)·width."""

    ltp_V: float = 1.0  #: potentiation (SET) pulse amplitude (V)
    ltd_V: float = -1.0  #: depression (RESET) pulse amplitude (V), usually negative
    width_s: float = 1e-7  #: pulse width (s)
    source: str = ""

    def __post_init__(self):
        _finite("pulse.ltp_V", self.ltp_V)
        _finite("pulse.ltd_V", self.ltd_V)
        if _finite("pulse.width_s", self.width_s) <= 0:
            _fail("pulse.width_s", f"must be > 0 s, got {self.width_s!r}")


@dataclass(frozen=True)
class HalfSelect:
    """Disturb of half-selected devices during coincidence programming (V/2 or V/3 scheme).

    Each half-selected pulse moves a device's conductance a fraction of the way to the bound
    of the pulse's polarity (the soft-bound window of a threshold memristor)::

        SET-polarity:   G ← G + set_rel·(Gmax − G)        RESET-polarity: G ← G − reset_rel·(G − Gmin)

    0 (the default) means no disturb. Applied by ``DeviceArray.apply_half_select``; counts
    per device come from ``devices.model.half_select_counts``. Calibrated by
    ``eqspike-xbar program calibrate`` (SPICE transients of the programming scheme).
    """

    set_rel: float = 0.0  #: fraction of (Gmax − G) per SET-polarity half-selected pulse
    reset_rel: float = 0.0  #: fraction of (G − Gmin) per RESET-polarity half-selected pulse
    voltage_V: float = 0.0  #: |V| across a half-selected cell, for its energy |V|·I(V)·width (0: not counted)
    scheme: str = ""  #: programming scheme the numbers belong to ("V/2", "V/3"; informational)
    source: str = ""

    def __post_init__(self):
        for name in ("set_rel", "reset_rel"):
            if _nonneg(f"half_select.{name}", getattr(self, name)) >= 1:
                _fail(f"half_select.{name}", f"must be < 1 (a fraction of the distance to the bound), got {getattr(self, name)!r}")
        _nonneg("half_select.voltage_V", self.voltage_V)
        if self.scheme not in ("", "V/2", "V/3"):
            _fail("half_select.scheme", f"must be '', 'V/2' or 'V/3', got {self.scheme!r}")


@dataclass(frozen=True)
class DeviceParams:
    """One synapse technology. Load with :func:`eqspike_xbar.devices.load_device`."""

    name: str
    conductance: Conductance
    description: str = ""
    sources: list[str] = field(default_factory=list)  #: full references used by the sections
    notes: list[str] = field(default_factory=list)  #: assumptions, fit quality, caveats
    nonlinearity: Nonlinearity = Nonlinearity()
    noise: Noise = Noise()
    d2d: D2D = D2D()
    faults: Faults = Faults()
    drift: Drift = Drift()
    iv: IV = IV()
    pulse: Pulse = Pulse()
    half_select: HalfSelect = HalfSelect()
    parallel_devices: int = 1
    """Devices this (compound) device stands for (:meth:`parallel`): a pulse reaches one of them,
    so its energy is that of 1/parallel_devices of the compound's conductance."""

    def __post_init__(self):
        from ..validation import safe_identifier

        safe_identifier(self.name, "device name")

    def with_(self, **sections) -> "DeviceParams":
        """Copy with sections or fields replaced, e.g. ``p.with_(noise=Noise(c2c_sigma=0))``."""
        return dataclasses.replace(self, **sections)

    def parallel(self, n: int) -> "DeviceParams":
        """``n`` of these devices in parallel as one compound device (a multi-memristive synapse,
        Boybat et al., Nat. Commun. 9:2514, 2018): every pulse goes to one of the ``n``, chosen
        in turn by a counter shared by the array, and a read senses their sum. In units of the
        compound: n× the conductance range and n× the pulses for a full sweep (one pulse moves
        1/n as far), the same nonlinearity labels (the ``n`` devices advance in step); the C2C
        noise of one pulse is 1/n of the compound's range, read noise and D2D spread of
        independent devices average to 1/√n, a half-selected device is 1/n of its compound.
        A pulse's energy is one device's (``parallel_devices``). Approximations: the sum is
        moved as one device on one curve, so devices that drift apart by C2C noise, and one
        device reaching its bound before the others, are not modelled; D2D spread averages as
        1/√n only for independent devices; one pulse restarts the whole compound's retention
        clock; stuck devices keep their rate per compound (pessimistic: one stuck device pins
        only 1/n of a real compound)."""
        if n == 1:
            return self
        c, d, r = self.conductance, self.d2d, 1.0 / math.sqrt(n)
        return self.with_(
            name=f"{self.name}_x{n}",
            description=f"{n} x ({self.description or self.name}) in parallel, one pulse to one device in turn",
            conductance=dataclasses.replace(c, gmin_S=n * c.gmin_S, gmax_S=n * c.gmax_S, levels=n * c.levels,
                                            levels_ltd=n * c.levels_ltd),
            noise=dataclasses.replace(self.noise, c2c_sigma=self.noise.c2c_sigma / n,
                                      read_sigma=self.noise.read_sigma * r),
            d2d=dataclasses.replace(d, **{f.name: getattr(d, f.name) * r for f in dataclasses.fields(d)
                                          if f.name != "source"}),
            half_select=dataclasses.replace(self.half_select, set_rel=self.half_select.set_rel / n,
                                            reset_rel=self.half_select.reset_rel / n),
            parallel_devices=n * self.parallel_devices)


@dataclass(frozen=True)
class Effects:
    """Switch each non-ideal effect on or off on its own (for sweeps that isolate effects).

    ``nonlinearity`` off makes both curves linear; ``asymmetry`` off makes LTD the mirror of
    LTP (NL_LTD = −NL_LTP, same levels); ``quantization`` off keeps the pulse position
    continuous after a direction switch (on: stochastically rounded to the pulse grid).
    """

    nonlinearity: bool = True
    asymmetry: bool = True
    quantization: bool = True
    c2c: bool = True
    d2d: bool = True
    stuck: bool = True
    read_noise: bool = True
    drift: bool = True
    iv_nonlinearity: bool = True
    half_select: bool = True

    @classmethod
    def none(cls) -> "Effects":
        """Every effect off: a bounded linear device with `levels` steps."""
        return cls(**{f.name: False for f in dataclasses.fields(cls)})

    def without(self, *names: str) -> "Effects":
        return dataclasses.replace(self, **{_effect(n): False for n in names})

    def only(self, *names: str) -> "Effects":
        on = {_effect(n) for n in names}
        return Effects(**{f.name: f.name in on for f in dataclasses.fields(self)})


def _effect(name: str) -> str:
    names = [f.name for f in dataclasses.fields(Effects)]
    if name not in names:
        raise DeviceModelError(f"unknown device effect {name!r}; known: {', '.join(names)}")
    return name
