"""Coincidence programming of a memristor crossbar in SPICE: netlists, measurements, calibration.

API
---
``Scheme(name="V/2"|"V/3", amplitude_V, width_s, edge_s, gap_s)``, ``Event(row, col,
polarity, delay_s)``; ``coincidence_netlist(shape, events, scheme, spec, device, w0, ...)
-> (text, sample_times_s)`` (pure; the crossbar's :class:`~eqspike_xbar.crossbar.Topology`
with VTEAM cells and PWL drivers), ``states(vectors, samples, shape)``,
``cell_voltages(vectors, shape)``, ``event_timing(event, scheme, t0)``.
``pulse_response(shape, scheme, n_ltp, n_ltd, ...) -> PulseResponse`` (``.disturb()``,
``.half_select()``), ``isolated_response``, ``stdp_curve(delays_s, ...)``, ``overlap_s``,
``calibrate(response, name, g_isolated) -> Calibration`` (``.params``, ``.report()``),
``disturb_sweep(amplitudes_V, schemes, ...)``.
"""
from .measure import (CATEGORIES, Calibration, PulseResponse, calibrate, default_selected, disturb_sweep,
                      isolated_response, overlap_s, pulse_events, pulse_response, stdp_curve)
from .netlist import SCHEMES, Event, Scheme, cell_voltages, coincidence_netlist, event_timing, states

__all__ = [
    "CATEGORIES", "Calibration", "Event", "PulseResponse", "SCHEMES", "Scheme", "calibrate", "cell_voltages",
    "coincidence_netlist", "default_selected", "disturb_sweep", "event_timing", "isolated_response", "overlap_s",
    "pulse_events", "pulse_response", "states", "stdp_curve",
]
