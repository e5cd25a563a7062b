"""Ramp -> fit -> replay: a measured pulse response becomes a behavioural model, checked pulse by pulse.

The one sequence behind ``device characterize`` (a single device's pulse trains) and
``program calibrate`` (the selected cell of a crossbar under coincidence programming):
the conductances read before and after every pulse are cut into LTP/LTD ramps, fitted by
:func:`~eqspike_xbar.devices.fitting.fit_ramps`, and the fitted model replays the same
pulses from the same start (noise off), so the two can be compared pulse by pulse.
"""
from __future__ import annotations

import numpy as np

from ..errors import DeviceModelError
from .fitting import FitResult, fit_ramps
from .measurements import Ramp
from .model import DeviceArray
from .params import Effects


def ramps_from_sequence(g, sequence) -> list[Ramp]:
    """One :class:`Ramp` per run of equal pulses. ``g[0]`` is read before the first pulse and
    ``g[k]`` after pulse k of ``sequence`` (+1 LTP, -1 LTD); a new cycle starts with every
    run of the first run's direction."""
    g, seq = np.asarray(g, dtype=float), np.asarray(sequence, dtype=int)
    if seq.ndim != 1 or seq.size == 0 or g.shape != (seq.size + 1,):
        raise DeviceModelError(f"a pulse response needs one reading more than pulses, got {g.shape} readings "
                               f"for {seq.shape} pulses")
    starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
    ends = np.r_[starts[1:], seq.size]
    ramps, cycle = [], -1
    for a, b in zip(starts.tolist(), ends.tolist()):
        cycle += int(seq[a] == seq[0])
        ramps.append(Ramp(int(seq[a]), g[1 + a:1 + b], "0", cycle))
    return ramps


def replay(params, g0: float, sequence) -> np.ndarray:
    """The behavioural model's conductance (S) before and after each signed pulse (noise off)."""
    arr = DeviceArray(params, (1,), seed=0, effects=Effects.none().only("nonlinearity", "asymmetry"),
                      g_init=np.array([g0]))
    out = [arr.conductance()[0]]
    for s in sequence:
        arr.apply_pulses(np.array([int(s)]))
        out.append(arr.conductance()[0])
    return np.array(out)


def fit_and_replay(g, sequence, name: str, source: str, **changes) -> tuple[FitResult, np.ndarray]:
    """Fit the behavioural model to a pulse response and replay the pulses on it.

    ``changes`` (e.g. ``half_select=``, ``pulse=``) are applied to the fitted parameters
    before the replay and kept in the returned fit. Returns (fit, model conductances (S),
    the same shape as ``g``)."""
    g = np.asarray(g, dtype=float)
    fit = fit_ramps(ramps_from_sequence(g, sequence), name, source=source)
    if changes:
        fit.params = fit.params.with_(**changes)
    return fit, replay(fit.params, g[0], sequence)
