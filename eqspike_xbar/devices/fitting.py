"""Fitting the behavioural model to measured (or simulated) conductance-vs-pulse ramps.

Per device, one least-squares fit over all its ramps: shared Gmin, Gmax, curvature b and
pulses-per-sweep P for each direction, plus a free starting pulse position per ramp. The
free start absorbs what real data does between ramps — a drop between LTP and LTD, partial
cycles, slow drift of the starting level — without biasing the curve shape. Noise is then
split from the one-step-ahead residuals (each point predicted from the one before):
cycle-to-cycle noise is a random walk (uncorrelated one-step residuals), read noise makes
consecutive residuals anti-correlated (lag-1 covariance −σ_read²). When the random-walk
noise per pulse exceeds 0.3 of a deterministic step, the shared parameters are refitted by
one-step-ahead prediction (the multi-step fit of a random walk is biased), then the starts.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares
from scipy.sparse import lil_matrix

from ..errors import DeviceModelError
from .measurements import MIN_RAMP_POINTS, Ramp, usable
from .params import (D2D, NL_MAX, Conductance, DeviceParams, Noise, Nonlinearity, b_to_nl,
                     inverse_shape, nl_to_b, shape)

log = logging.getLogger(__name__)

_B_MAX = float(nl_to_b(NL_MAX))


@dataclass
class RampFit:
    """One fitted ramp: data, model and residuals (S), and the pulse positions (pulses)."""

    ramp: Ramp
    g_fit: np.ndarray
    position: np.ndarray  #: model pulse position x of each point on its direction's curve
    onestep: np.ndarray  #: one-step-ahead residuals (S) where the model is not saturated

    @property
    def residual(self) -> np.ndarray:
        return self.ramp.g - self.g_fit


@dataclass
class DeviceFit:
    device: str
    gmin_S: float
    gmax_S: float
    b_ltp: float
    b_ltd: float
    p_ltp: float
    p_ltd: float
    c2c_sigma: float  #: fraction of range per √pulse
    read_sigma_S: float
    ramps: list[RampFit]

    @property
    def range_S(self) -> float:
        return self.gmax_S - self.gmin_S

    def rms_residual(self, direction: int | None = None) -> float:
        """RMS of the residuals as a fraction of Gmax − Gmin."""
        r = np.concatenate([f.residual for f in self.ramps if direction in (None, f.ramp.direction)])
        return float(np.sqrt(np.mean(r**2)) / self.range_S)

    def drift_per_cycle(self) -> float:
        """Slope of each ramp's mean residual against its cycle index (fraction of range/cycle)."""
        cyc = np.array([f.ramp.cycle for f in self.ramps], dtype=float)
        mean = np.array([f.residual.mean() for f in self.ramps]) / self.range_S
        return float(np.polyfit(cyc, mean, 1)[0]) if np.ptp(cyc) > 0 else 0.0


@dataclass
class FitResult:
    params: DeviceParams
    devices: list[DeviceFit]
    discarded: int = 0  #: ramps too short to use
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        p = self.params
        lines = [f"fitted {p.name}: Gmin {p.conductance.gmin_S:.4g} S, Gmax {p.conductance.gmax_S:.4g} S, "
                 f"levels {p.conductance.levels}/{p.conductance.pulses_ltd} (LTP/LTD), NL {p.nonlinearity.ltp:.3g}/"
                 f"{p.nonlinearity.ltd:.3g}, C2C sigma {p.noise.c2c_sigma:.4g}, read sigma {p.noise.read_sigma:.4g}"]
        return "\n".join(lines + self.notes)


def fit_ramps(ramps: list[Ramp], name: str, source: str = "", min_points: int = MIN_RAMP_POINTS) -> FitResult:
    """Fit ``ramps`` (several devices allowed: D2D spread from their spread) to DeviceParams."""
    keep = usable(ramps, min_points)
    by_device: dict[str, list[Ramp]] = {}
    for r in keep:
        by_device.setdefault(r.device, []).append(r)
    fits = []
    for device, rs in by_device.items():
        try:
            fits.append(fit_device(rs, device))
        except DeviceModelError as exc:
            if len(by_device) == 1:
                raise
            log.warning("device %s skipped: %s", device, exc)
    if not fits:
        raise DeviceModelError("no device could be fitted (see the warnings above)")
    return _combine(fits, name, source, discarded=len(ramps) - len(keep))


def fit_device(ramps: list[Ramp], device: str = "0") -> DeviceFit:
    """Least-squares fit of one device's ramps (see the module docstring)."""
    g_all = np.concatenate([r.g for r in ramps])
    lo, hi = np.percentile(g_all, [1, 99])
    scale = hi - lo
    if not scale > 0:
        raise DeviceModelError(f"device {device}: the conductance does not change (no usable cycle)")
    ys = [(r.g - lo) / scale for r in ramps]
    d = np.concatenate([np.full(r.g.size, r.direction) for r in ramps])
    k = np.concatenate([np.arange(r.g.size, dtype=float) for r in ramps])
    idx = np.concatenate([np.full(r.g.size, i) for i, r in enumerate(ramps)])
    y = np.concatenate(ys)
    up = d > 0
    noise = max(1.4826 * np.median(np.abs(np.diff(y) - np.median(np.diff(y)))) / np.sqrt(2), 1e-3)

    def unpack(theta):
        ymin, ymax, b1, b2, lp1, lp2 = theta[:6]
        p = np.where(up, np.exp(lp1), np.exp(lp2))
        b = np.where(up, b1, b2)
        u = np.clip(theta[6:][idx] + d * k / p, 0.0, 1.0)
        return ymin, ymax, b, p, u

    def model(theta):
        ymin, ymax, b, _, u = unpack(theta)
        return ymin + (ymax - ymin) * shape(u, b)

    p0 = []
    for sign in (1, -1):
        est = [r.g.size / max(abs(_ends(yy)[1] - _ends(yy)[0]), 0.05) for yy, r in zip(ys, ramps) if r.direction == sign]
        p0.append(float(np.clip(np.median(est), 2.0, 1e5)))
    u0 = np.clip([_ends(yy)[0] for yy in ys], 0.0, 1.0)
    n_r = len(ramps)
    sparsity = lil_matrix((y.size, 6 + n_r), dtype=int)
    sparsity[:, :6] = 1
    sparsity[np.arange(y.size), 6 + idx] = 1
    lower = np.r_[-0.5, 0.5, -_B_MAX, -_B_MAX, np.log(2.0), np.log(2.0), np.zeros(n_r)]
    upper = np.r_[0.5, 1.5, _B_MAX, _B_MAX, np.log(1e6), np.log(1e6), np.ones(n_r)]
    best = None
    for b1, b2 in ((0.0, 0.0), (2.0, -2.0), (-2.0, 2.0)):
        theta0 = np.r_[0.0, 1.0, b1, b2, np.log(p0[0]), np.log(p0[1]), u0]
        for _ in range(2):  # refit once from the first solution: free starts settle better
            res = least_squares(lambda t: model(t) - y, theta0, bounds=(lower, upper), jac_sparsity=sparsity,
                                loss="soft_l1", f_scale=noise, x_scale="jac", max_nfev=300)
            theta0 = res.x
        if best is None or res.cost < best.cost:
            best = res
    theta = best.x
    ymin, ymax, b, p, u = unpack(theta)
    c2c, read = _split_noise([_onestep(yy, u[idx == i], ymin, ymax, b[idx == i][0], p[idx == i][0], r.direction)
                              for i, (yy, r) in enumerate(zip(ys, ramps))])
    step = 1.0 / min(np.exp(theta[4]), np.exp(theta[5]))  # deterministic step per pulse (of the range)
    if c2c > read and c2c / (ymax - ymin) > 0.3 * step:
        # random-walk noise comparable to a step: the multi-step fit is biased, the Markov
        # (one-step-ahead) fit is not. Clean data keep the multi-step fit (systematic shape).
        theta[:6] = _fit_onestep(ys, ramps, theta[:6], lower[:6], upper[:6], noise)
        shared = theta[:6].copy()  # then place each ramp's start on the refitted curves
        res = least_squares(lambda t: model(np.r_[shared, t]) - y, theta[6:], bounds=(lower[6:], upper[6:]),
                            jac_sparsity=sparsity[:, 6:], loss="soft_l1", f_scale=noise, x_scale="jac")
        theta[6:] = res.x
        ymin, ymax, b, p, u = unpack(theta)
    fit = ymin + (ymax - ymin) * shape(u, b)
    gmin, gmax = lo + scale * ymin, lo + scale * ymax
    if gmin < 0:
        log.warning("device %s: fitted Gmin %.3g S < 0 clipped to 0", device, gmin)
        gmin = 0.0
    rfits, start = [], 0
    for i, r in enumerate(ramps):
        sl = slice(start, start + r.g.size)
        start += r.g.size
        step = _onestep(ys[i], u[sl], ymin, ymax, b[sl][0], p[sl][0], r.direction) * scale
        rfits.append(RampFit(r, lo + scale * fit[sl], u[sl] * p[sl][0], step))
    c2c, read = _split_noise([f.onestep for f in rfits])
    return DeviceFit(device, float(gmin), float(gmax), float(theta[2]), float(theta[3]), float(np.exp(theta[4])),
                     float(np.exp(theta[5])), c2c / (gmax - gmin), read, rfits)


def _fit_onestep(ys, ramps, theta6, lower, upper, noise) -> np.ndarray:
    """Refit the shared parameters by predicting every point from the previous one."""
    prev = np.concatenate([yy[:-1] for yy in ys])
    nxt = np.concatenate([yy[1:] for yy in ys])
    d = np.concatenate([np.full(yy.size - 1, r.direction) for yy, r in zip(ys, ramps)])
    up = d > 0

    def resid(t):
        ymin, ymax, b1, b2, lp1, lp2 = t
        b = np.where(up, b1, b2)
        f = np.clip((prev - ymin) / (ymax - ymin), 0.0, 1.0)
        u = np.clip(inverse_shape(f, b) + d / np.where(up, np.exp(lp1), np.exp(lp2)), 0.0, 1.0)
        return ymin + (ymax - ymin) * shape(u, b) - nxt

    res = least_squares(resid, theta6, bounds=(lower, upper), loss="soft_l1", f_scale=noise, x_scale="jac")
    return res.x


def _ends(y: np.ndarray) -> tuple[float, float]:
    m = max(1, min(5, y.size // 4))
    return float(np.median(y[:m])), float(np.median(y[-m:]))


def _onestep(y, u, ymin, ymax, b, p, direction) -> np.ndarray:
    """Residuals of predicting each point from the one before (NaN where saturated)."""
    f = np.clip((y[:-1] - ymin) / (ymax - ymin), 0.0, 1.0)
    nxt = np.clip(inverse_shape(f, b) + direction / p, 0.0, 1.0)
    e = y[1:] - (ymin + (ymax - ymin) * shape(nxt, b))
    ok = (u[:-1] > 0) & (u[:-1] < 1) & (u[1:] > 0) & (u[1:] < 1)
    return np.where(ok, e, np.nan)


def _split_noise(residuals: list[np.ndarray]) -> tuple[float, float]:
    """(σ_c2c, σ_read) in S from one-step residuals: var = σc² + 2σr², lag-1 cov = −σr²."""
    e = np.concatenate([r for r in residuals])
    e = e[np.isfinite(e)]
    if e.size < 4:
        return 0.0, 0.0
    mean = e.mean()
    var = float(np.mean((e - mean) ** 2))
    pairs = [(r[:-1] - mean) * (r[1:] - mean) for r in residuals if r.size > 1]
    prod = np.concatenate(pairs)
    prod = prod[np.isfinite(prod)]
    cov1 = float(prod.mean()) if prod.size else 0.0
    read2 = min(max(-cov1, 0.0), var / 2)
    return float(np.sqrt(max(var - 2 * read2, 0.0))), float(np.sqrt(read2))


def _combine(fits: list[DeviceFit], name: str, source: str, discarded: int) -> FitResult:
    def med(attr):
        return float(np.median([getattr(f, attr) for f in fits]))

    gmin, gmax = med("gmin_S"), med("gmax_S")
    b1, b2 = med("b_ltp"), med("b_ltd")
    mean_g = float(np.mean(np.concatenate([f.ramps[0].ramp.g for f in fits])))
    read_rel = med("read_sigma_S") / mean_g if mean_g > 0 else 0.0
    d2d = D2D(source=f"single device in {source}: no D2D spread identifiable" if len(fits) == 1 else
              f"spread of {len(fits)} per-device fits of {source}")
    if len(fits) > 1:
        def lsd(attr):
            v = np.array([getattr(f, attr) for f in fits])
            return float(np.std(np.log(np.maximum(v, 1e-300)), ddof=1))

        nl = np.array([[b_to_nl(f.b_ltp), b_to_nl(f.b_ltd)] for f in fits])
        d2d = D2D(gmin_rel=lsd("gmin_S"), gmax_rel=lsd("gmax_S"), nl_abs=float(np.mean(np.std(nl, axis=0, ddof=1))),
                  levels_rel=lsd("p_ltp"), c2c_rel=lsd("c2c_sigma") if min(f.c2c_sigma for f in fits) > 0 else 0.0,
                  source=d2d.source)
    notes = []
    for f in fits:
        notes.append(
            f"device {f.device}: {len(f.ramps)} ramps, RMS residual {100 * f.rms_residual(1):.2f} % (LTP) / "
            f"{100 * f.rms_residual(-1):.2f} % (LTD) of the range, drift of ramp mean residual "
            f"{100 * f.drift_per_cycle():+.3f} % of range per cycle")
    if discarded:
        notes.append(f"{discarded} ramp(s) shorter than {MIN_RAMP_POINTS} points were not used")
    fit_src = f"least-squares fit (eqspike-xbar device fit) of {source}"
    params = DeviceParams(
        name=name,
        description=f"fitted to measured pulse data: {source}",
        sources=[source] if source else [],
        notes=notes,
        conductance=Conductance(gmin_S=gmin, gmax_S=gmax, levels=max(int(round(med("p_ltp"))), 2),
                                levels_ltd=max(int(round(med("p_ltd"))), 2), source=fit_src),
        nonlinearity=Nonlinearity(ltp=round(float(b_to_nl(b1)), 4), ltd=round(float(b_to_nl(b2)), 4), source=fit_src),
        noise=Noise(c2c_sigma=med("c2c_sigma"), read_sigma=read_rel,
                    source=fit_src + " (noise split from one-step-ahead residuals)"),
        d2d=d2d,
    )
    return FitResult(params, fits, discarded, notes)
