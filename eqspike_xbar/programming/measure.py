"""Coincidence-programming measurements in ngspice and the calibration of the device model.

- :func:`pulse_response`: LTP then LTD coincidence trains on one selected cell of an M×N
  VTEAM array; the conductance of *every* cell after every event, so the selected cell's ΔG
  per pulse (against its state) and the disturb of half-selected (same row / same column)
  and unselected cells come from one transient.
- :func:`isolated_response`: the same waveform on a single device (a 1×1 array with ideal
  wires), the reference. (``device characterize``'s testbench ramps each pulse up over
  gap + edge, so its ΔG per pulse is ~1 % of the range larger: not the same waveform.)
- :func:`stdp_curve`: ΔG of the selected cell after one event against the pre→post delay.
- :func:`calibrate`: fits the behavioural model's LTP/LTD curves to the in-array response
  with :func:`~eqspike_xbar.devices.pulse_fit.fit_and_replay` (ramp -> fit -> replay) and sets
  its ``half_select`` disturb from the measured half-selected cells.

Every run goes through :class:`~eqspike_xbar.spice.NgspiceRunner`; its failures arrive as
:class:`~eqspike_xbar.errors.NgspiceError` with ngspice's message.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..devices.characterize import VteamParams
from ..devices.fitting import FitResult
from ..devices.params import HalfSelect, Pulse
from ..devices.pulse_fit import fit_and_replay
from ..crossbar.spec import CrossbarSpec
from ..errors import CircuitError
from .netlist import Event, Scheme, coincidence_netlist, states

log = logging.getLogger(__name__)

CATEGORIES = ("selected", "row", "col", "unselected")  #: cell roles relative to an event


def _runner(runner):
    from ..spice import NgspiceRunner

    return runner or NgspiceRunner(timeout_s=300)


def default_selected(shape) -> tuple[int, int]:
    """Far corner from both drivers (row 0, last column): the largest IR drop."""
    return 0, int(shape[1]) - 1


@dataclass
class PulseResponse:
    """Conductances of every cell before and after each coincidence event (S)."""

    scheme: Scheme
    shape: tuple[int, int]
    selected: tuple[int, int]
    polarity: np.ndarray  #: (K,) +1 SET/LTP, −1 RESET/LTD per event
    g: np.ndarray  #: (K + 1, M, N) conductance after each event; [0] before the first (S)
    device: VteamParams
    netlist: str
    elapsed_s: float

    @property
    def range_S(self) -> float:
        return self.device.gmax - self.device.gmin

    @property
    def g_selected(self) -> np.ndarray:
        return self.g[:, self.selected[0], self.selected[1]]

    def masks(self) -> dict[str, np.ndarray]:
        """(M, N) boolean masks of the cell roles."""
        M, N = self.shape
        i, j = self.selected
        rows, cols = np.indices((M, N))
        sel = (rows == i) & (cols == j)
        row = (rows == i) & ~sel
        col = (cols == j) & ~sel
        return {"selected": sel, "row": row, "col": col, "unselected": ~(sel | row | col)}

    def disturb(self) -> dict[str, dict[str, float]]:
        """Per role and event polarity: mean and max |ΔG| per pulse (fraction of Gmax − Gmin),
        and the mean fraction of the distance to the bound of the voltage's polarity."""
        dg = np.diff(self.g, axis=0)
        gmin, gmax = self.device.gmin, self.device.gmax
        out = {}
        for role, m in self.masks().items():
            for s, label in ((1, "set"), (-1, "reset")):
                ev = self.polarity == s
                if not ev.any() or not m.any():
                    continue
                d = dg[ev][:, m]
                before = self.g[:-1][ev][:, m]
                seen = -s if (role == "unselected" and self.scheme.name == "V/3") else s
                room = (gmax - before) if seen > 0 else (before - gmin)
                rel = seen * d / np.maximum(room, 1e-30 * self.range_S)
                out[f"{role}_{label}"] = {"mean": float(d.mean() / self.range_S),
                                          "max_abs": float(np.abs(d).max() / self.range_S),
                                          "rel_to_bound": float(rel.mean())}
        return out

    def half_select(self) -> HalfSelect:
        """The behavioural model's disturb parameter from the half-selected (row, col) cells."""
        d = self.disturb()
        rel = {s: max(0.0, float(np.mean([d[f"{r}_{s}"]["rel_to_bound"] for r in ("row", "col")
                                          if f"{r}_{s}" in d] or [0.0]))) for s in ("set", "reset")}
        sc = self.scheme
        return HalfSelect(set_rel=rel["set"], reset_rel=rel["reset"], voltage_V=sc.half_select_V, scheme=sc.name,
                          source=f"ngspice transient of {self.shape[0]}x{self.shape[1]} VTEAM array, {sc.name} scheme, "
                                 f"{sc.amplitude_V:g} V, {sc.width_s:g} s pulses (eqspike-xbar program calibrate)")


def pulse_events(selected, n_ltp: int, n_ltd: int) -> list[Event]:
    if min(n_ltp, n_ltd) < 0 or n_ltp + n_ltd < 1:
        raise CircuitError(f"pulse counts must be >= 0 with at least one pulse, got {n_ltp}, {n_ltd}")
    return [Event(*selected, 1)] * n_ltp + [Event(*selected, -1)] * n_ltd


def pulse_response(shape=(8, 8), scheme: Scheme = Scheme(), n_ltp: int = 40, n_ltd: int = 40, selected=None,
                   spec: CrossbarSpec = CrossbarSpec(), device: VteamParams = VteamParams(),
                   w0_selected: float = 0.0, w0_others: float = 0.5, max_step_s: float = 2e-9,
                   runner=None) -> PulseResponse:
    """LTP then LTD trains on ``selected`` (default: far corner); all cells read after each event."""
    M, N = shape
    selected = tuple(selected or default_selected(shape))
    events = pulse_events(selected, n_ltp, n_ltd)
    w0 = np.full((M, N), float(w0_others))
    if not (0 <= selected[0] < M and 0 <= selected[1] < N):
        raise CircuitError(f"selected cell {selected} is outside the {M}x{N} array")
    w0[selected] = w0_selected
    text, samples = coincidence_netlist((M, N), events, scheme, spec, device, w0, max_step_s,
                                        title=f"pulse response {scheme.name}")
    res = _runner(runner).run(text)
    w = np.clip(states(res.vectors, samples, (M, N)), 0.0, 1.0)
    g = device.gmin + (device.gmax - device.gmin) * w
    pol = np.array([e.polarity for e in events])
    return PulseResponse(scheme, (M, N), selected, pol, g, device, text, res.elapsed_s)


def isolated_response(scheme: Scheme, polarity, device: VteamParams = VteamParams(), w0: float = 0.0,
                      max_step_s: float = 2e-9, runner=None) -> np.ndarray:
    """Conductance (S) of one isolated device (a 1×1 array, ideal wires and drivers) before
    and after each event of ``polarity``: the same waveform as the selected cell sees."""
    pol = np.asarray(polarity)
    if pol.ndim != 1 or pol.size == 0 or not np.all(np.isin(pol, (1, -1))):
        raise CircuitError("polarity must be a non-empty sequence of +1 (SET/LTP) and -1 (RESET/LTD)")
    ideal = CrossbarSpec(r_wordline_ohm=0.0, r_bitline_ohm=0.0, r_driver_ohm=0.0)
    events = [Event(0, 0, int(s)) for s in pol]
    text, samples = coincidence_netlist((1, 1), events, scheme, ideal, device, w0, max_step_s, title="isolated device")
    res = _runner(runner).run(text)
    w = np.clip(states(res.vectors, samples, (1, 1))[:, 0, 0], 0.0, 1.0)
    return device.gmin + (device.gmax - device.gmin) * w


def stdp_curve(delays_s, shape=(8, 8), scheme: Scheme = Scheme(), polarity: int = 1, w0: float = 0.5,
               spec: CrossbarSpec = CrossbarSpec(), device: VteamParams = VteamParams(), selected=None,
               max_step_s: float = 2e-9, runner=None) -> np.ndarray:
    """ΔG (S) of the selected cell after one coincidence event, per pre→post delay (s)."""
    delays = np.atleast_1d(np.asarray(delays_s, dtype=float))
    if delays.ndim != 1 or delays.size == 0 or not np.all(np.isfinite(delays)):
        raise CircuitError("delays_s must be a non-empty list of finite delays (s)")
    selected = tuple(selected or default_selected(shape))
    runner = _runner(runner)
    out = np.empty(delays.size)
    for k, dt in enumerate(delays):
        text, samples = coincidence_netlist(shape, [Event(*selected, polarity, float(dt))], scheme, spec, device, w0,
                                            max_step_s, title=f"stdp {scheme.name}")
        res = runner.run(text)
        w = states(res.vectors, samples, shape)[:, selected[0], selected[1]]
        out[k] = (device.gmax - device.gmin) * (np.clip(w[-1], 0, 1) - np.clip(w[0], 0, 1))
    return out


def overlap_s(delays_s, scheme: Scheme) -> np.ndarray:
    """Overlap (s) of the pre and post pulses at half height: max(0, width + edge − |delay|)."""
    return np.maximum(0.0, scheme.width_s + scheme.edge_s - np.abs(np.asarray(delays_s, dtype=float)))


@dataclass
class Calibration:
    response: PulseResponse  #: the in-array measurement the model is fitted to
    fit: FitResult
    g_model: np.ndarray  #: calibrated model replaying the same pulses (S)
    g_isolated: np.ndarray | None = None  #: the isolated device under the same pulses (S)
    notes: list[str] = field(default_factory=list)

    @property
    def params(self):
        return self.fit.params

    def error_frac(self, reference: str = "array") -> np.ndarray:
        """|model − reference| per pulse as a fraction of the compact model's Gmax − Gmin."""
        ref = self.response.g_selected if reference == "array" else self.g_isolated
        return np.abs(self.g_model - ref) / self.response.range_S

    def report(self) -> str:
        p, hs = self.params, self.params.half_select
        e = self.error_frac()
        lines = [f"calibrated {p.name}: levels {p.conductance.levels}/{p.conductance.pulses_ltd}, NL "
                 f"{p.nonlinearity.ltp:.3g}/{p.nonlinearity.ltd:.3g}, Gmin {p.conductance.gmin_S:.4g} S, Gmax "
                 f"{p.conductance.gmax_S:.4g} S; half-select ({hs.scheme}, {hs.voltage_V:g} V) set_rel "
                 f"{hs.set_rel:.3g}, reset_rel {hs.reset_rel:.3g} per pulse",
                 f"model vs in-array selected cell: max {100 * e.max():.3f} %, RMS {100 * np.sqrt(np.mean(e**2)):.3f} % "
                 "of Gmax - Gmin"]
        if self.g_isolated is not None:
            a = np.abs(self.response.g_selected - self.g_isolated) / self.response.range_S
            lines.append(f"in-array vs isolated device: max {100 * a.max():.3f} % of Gmax - Gmin")
        return "\n".join(lines + self.notes)


def calibrate(response: PulseResponse, name: str = "vteam_array", g_isolated=None) -> Calibration:
    """Fit the behavioural model to ``response``'s selected cell; disturb from its half-selected cells."""
    g, pol = response.g_selected, response.polarity
    sc = response.scheme
    src = (f"ngspice coincidence transient, {response.shape[0]}x{response.shape[1]} array of circuits/memristor_vteam.lib, "
           f"{sc.name} scheme, {sc.amplitude_V:g} V / {sc.width_s:g} s, cell {response.selected}")
    pulse = Pulse(ltp_V=sc.amplitude_V, ltd_V=-sc.amplitude_V, width_s=sc.width_s, source=src)
    fit, g_model = fit_and_replay(g, pol, name, src, half_select=response.half_select(), pulse=pulse,
                                  description=f"VTEAM compact model calibrated in a crossbar ({sc.name} scheme)")
    return Calibration(response, fit, g_model, None if g_isolated is None else np.asarray(g_isolated))


def disturb_sweep(amplitudes_V, schemes=("V/2", "V/3"), shape=(8, 8), n_pulses: int = 4, base: Scheme = Scheme(),
                  spec: CrossbarSpec = CrossbarSpec(), device: VteamParams = VteamParams(), runner=None):
    """Disturb per pulse at each amplitude: dict (scheme, amplitude) -> PulseResponse.disturb()."""
    runner = _runner(runner)
    out, t0 = {}, time.perf_counter()
    for name in schemes:
        for v in amplitudes_V:
            sc = Scheme(name, float(v), base.width_s, base.edge_s, base.gap_s)
            r = pulse_response(shape, sc, n_pulses, n_pulses, spec=spec, device=device, w0_selected=0.5, runner=runner)
            out[(name, float(v))] = r.disturb()
    log.info("disturb sweep: %d transients in %.1f s", len(out), time.perf_counter() - t0)
    return out
