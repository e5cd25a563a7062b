"""Energy accounting: turn what the network and its synapse layers counted into joules.

Components (J, summed over what was counted since the counters were reset):

* ``crossbar_devices`` — read energy dissipated in the devices: every read pulse of amplitude
  V_read·x and width t on a line dissipates V²·t·Σ G over that line's cells (device and circuit
  backends: the actual conductances; the circuit backend splits cells and wires with its nodal
  solution; the ideal backend: the analytic estimate for its weights mapped onto the configured
  device, G± = (Gmin + Gmax)/2 ± scale·w/2);
* ``crossbar_wires`` — read energy in word/bit-line segments, driver and sense resistances (circuit);
* ``programming`` — programming pulses from the device model, |V|·I(V)·width per pulse (the
  update scheme's auxiliary arrays included, e.g. Tiki-Taka's A);
* ``scheme_reads`` — reads the update scheme adds: its auxiliary arrays' reads (devices, wires
  and sense conversions) and program-and-verify reads;
* ``digital_memory`` — accesses to per-synapse digital memory the update scheme needs
  (accumulators, buffers; the minibatch sum of ``minibatch_sum``) × ``energy.digital_J_per_bit``;
* ``neurons`` — neuron state updates × ``energy.neuron_update_J``;
* ``spikes`` — spikes sent (input layer included) × ``energy.spike_J``;
* ``sense`` — line reads (one per sensed line and read vector) × ``energy.sense_J``.

``gpu`` is the comparison: the multiply-accumulates of the same computation done densely
(every read a matrix-vector product, every update an outer-product accumulation) ×
``energy.gpu_J_per_mac``. The constants and their public sources are in config.EnergyConfig.
"""
from __future__ import annotations

COMPONENTS = ("crossbar_devices", "crossbar_wires", "programming", "scheme_reads", "digital_memory",
              "neurons", "spikes", "sense")


def _line_reads(syn) -> float:
    c = syn.counters
    return c["vectors_forward"] * syn.n_post + c["vectors_backward"] * syn.n_pre


def energy_breakdown(net, energy_cfg) -> dict[str, float]:
    """Energy (J) per component since the counters were last reset, plus ``total`` and ``gpu``,
    the GPU's multiply-accumulates (``macs``) and the programming pulses (``pulses``)."""
    out = dict.fromkeys(COMPONENTS, 0.0)
    macs = 0.0
    line_reads = 0.0
    pulses = 0
    for syn in net.synapses:
        syn.flush_read_energy()
        c = syn.counters
        out["crossbar_devices"] += c["device_read_J"]
        out["crossbar_wires"] += c["wire_read_J"]
        out["programming"] += c["programming_J"]
        out["scheme_reads"] += c["scheme_read_J"] + c["scheme_line_reads"] * energy_cfg.sense_J
        out["digital_memory"] += c["digital_bit_accesses"] * energy_cfg.digital_J_per_bit
        pulses += c["pulses"]
        cells = syn.n_pre * syn.n_post
        macs += (c["vectors_forward"] + c["vectors_backward"] + c["update_events"]) * cells
        line_reads += _line_reads(syn)
        for aux in syn.aux_layers():  # the scheme's own arrays: their programming and reads
            aux.flush_read_energy()
            a = aux.counters
            out["programming"] += a["programming_J"]
            out["scheme_reads"] += a["device_read_J"] + a["wire_read_J"] + _line_reads(aux) * energy_cfg.sense_J
            pulses += a["pulses"]
    out["neurons"] = net.counters["neuron_updates"] * energy_cfg.neuron_update_J
    out["spikes"] = net.counters["spikes"] * energy_cfg.spike_J
    out["sense"] = line_reads * energy_cfg.sense_J
    out["total"] = sum(out[k] for k in COMPONENTS)
    out["gpu"] = macs * energy_cfg.gpu_J_per_mac
    out["macs"] = macs
    out["pulses"] = float(pulses)
    return out


def reset_counters(net) -> None:
    for syn in net.synapses:
        for layer in [syn, *syn.aux_layers()]:
            layer.flush_read_energy()
            layer.reset_counters()
    net.reset_counters()
