"""``circuit`` backend: the device backend's conductances placed in crossbar circuits.

Each layer's G+ and G− arrays sit on tiles of at most ``max_array_rows`` x ``max_array_cols``
(each tile its own circuit, partial outputs summed). Reads go through the circuit's exact
effective matrices (fast nodal solver, Schur complement onto the ports; see crossbar/):
forward ``y = x @ W_f``, backward ``y = x @ W_bᵀ`` with W = (T(G+) − T(G−)) / scale. The
matrices are recomputed exactly every ``refresh_every`` minibatch updates; in between they are
the last exact ones plus the ideal change of the conductances since (first-order). At each
refresh the backend records

* the stale-matrix error: ‖W_exact − W_stale‖ / ‖W_exact‖, W_stale = the last exact matrices plus
  the ideal change since, evaluated for the state the refresh replaces them in;
* the forward/backward asymmetry ‖W_f − W_b‖ / ‖W_f‖ (EP assumes symmetric weights);
* the IR-drop deviation ‖W_f − W_devices‖ / ‖W_devices‖ against the ideal matmul of the same G;
* the read-energy split (every ``energy_split_every``-th refresh): a nodal solve of the rms
  input pattern read so far gives the power in the cells and in the wires/drivers/sense
  resistors relative to V²·Σ G of the ideal read; later reads are booked with these factors.

ngspice spot-checks: ``spot_checks`` times per run (first refresh, then every 50th), one
sub-array of ``spot_check_size``² of G+ is read with three input vectors by the fast solver
and by ngspice; the largest relative difference is recorded. An ngspice failure is recorded
(with its message) and training goes on with the fast solver.
"""
from __future__ import annotations

import logging

import numpy as np

from .base import register_backend
from .device import DeviceSynapses

log = logging.getLogger(__name__)

SPOT_CHECK_INTERVAL = 50  # refreshes between ngspice spot-checks


def _rel(a, b) -> float:
    nb = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / nb if nb > 0 else 0.0


@register_backend("circuit")
class CircuitSynapses(DeviceSynapses):
    def __init__(self, weights, config=None, rng=None, layer=0):
        from ..crossbar import CrossbarSpec

        cc = config.circuit
        self.spec = CrossbarSpec(
            r_wordline=cc.r_wordline_ohm, r_bitline=cc.r_bitline_ohm, r_driver=cc.r_driver_ohm,
            r_sense=cc.r_sense_ohm, sense=cc.sense, cell=cc.cell, r_access=cc.r_access_ohm,
            termination=cc.termination,
        )
        self.cc = cc
        self.max_array = (cc.max_array_rows, cc.max_array_cols)
        self._since_refresh = None  # None: no exact matrices yet
        self.refreshes = 0
        self.stats = {"stale_error": [], "asymmetry": [], "ir_drop": [], "wire_share": [],
                      "spot_check_rel_diff": [], "spot_check_failures": 0}
        self.spot_check_errors: list[str] = []
        self._energy_factors = (1.0, 0.0)  # (cells, wires) power relative to the ideal read
        super().__init__(weights, config, rng, layer)

    # ------------------------------------------------------------------ exact matrices
    def _tiles(self, g):
        from ..crossbar import TiledCrossbar

        return TiledCrossbar(g, self.spec, self.max_array)

    def _exact(self):
        tp, tn = self._tiles(self._g_read[0]), self._tiles(self._g_read[1])
        wf = (tp.transfer_matrix("forward") - tn.transfer_matrix("forward")) / self.scale
        reciprocal = all(t.reciprocal for t in tp.tiles)
        wb = wf if reciprocal else (tp.transfer_matrix("backward") - tn.transfer_matrix("backward")) / self.scale
        return wf, wb, (tp, tn)

    def _refresh(self) -> None:
        super()._refresh()  # new reads of G+, G- (read noise), ideal W and line sums
        w_dev = self._W.astype(float)
        if self._since_refresh is not None and self._since_refresh + 1 < self.cc.refresh_every:
            self._since_refresh += 1
            delta = w_dev - self._w_dev_ref
            self._Wf = (self._wf_ref + delta).astype(self.dtype)
            self._Wb = (self._wb_ref + delta).astype(self.dtype)
            return
        wf, wb, tiles = self._exact()
        if self._since_refresh is not None:  # what the stale matrices would have given now
            self.stats["stale_error"].append(_rel(self._wf_ref + (w_dev - self._w_dev_ref), wf))
        self.stats["asymmetry"].append(_rel(wf, wb))
        self.stats["ir_drop"].append(_rel(wf, w_dev))
        if self.refreshes % self.cc.energy_split_every == 0:
            self._measure_energy_split(tiles)
        self._spot_check()
        self._wf_ref, self._wb_ref, self._w_dev_ref = wf, wb, w_dev
        self._Wf, self._Wb = wf.astype(self.dtype), wb.astype(self.dtype)
        self._since_refresh = 0
        self.refreshes += 1

    # ------------------------------------------------------------------ reads
    def forward(self, pre):
        self._count_read(pre, "forward")
        return pre @ self._Wf

    def backward(self, post):
        self._count_read(post, "backward")
        return post @ self._Wb.T

    def flush_read_energy(self) -> None:
        before = self.counters["device_read_J"]
        super().flush_read_energy()  # ideal V²·t·ΣG of the reads since the last flush
        ideal = self.counters["device_read_J"] - before
        f_cells, f_wires = self._energy_factors
        self.counters["device_read_J"] = before + f_cells * ideal
        self.counters["wire_read_J"] += f_wires * ideal

    def _measure_energy_split(self, tiles) -> None:
        """Cells and wire power of the rms input pattern, relative to V²·ΣG (forward reads)."""
        c = self.counters
        n = max(c["vectors_forward"], 1)
        v = self.read_pulse_V * np.sqrt(c["activity_forward"] / n) if c["vectors_forward"] else \
            np.full(self.n_pre, 0.5 * self.read_pulse_V)
        cells = wires = ideal = 0.0
        for tiled, g in zip(tiles, self._g_read):
            for (rs, cs), tile in zip(tiled.slices, tiled.tiles):
                model = tile.model("forward")
                p = model.power(model.node_voltages(v[None, rs]))
                cells += float(p["cells"][0])
                wires += float(p["wires"][0] + p["sense"][0])
                ideal += float(v[rs] ** 2 @ g[rs, cs].sum(1))
        if ideal > 0:
            self._energy_factors = (cells / ideal, wires / ideal)
            self.stats["wire_share"].append(wires / (cells + wires))

    # ------------------------------------------------------------------ ngspice spot-checks
    def _spot_check(self) -> None:
        if self.stats["spot_check_failures"] + len(self.stats["spot_check_rel_diff"]) >= self.cc.spot_checks:
            return
        if self.refreshes % SPOT_CHECK_INTERVAL:
            return
        from ..crossbar import read_currents
        from ..errors import EqSpikeXbarError

        s = min(self.cc.spot_check_size, self.n_pre, self.n_post, *self.max_array)
        g = self._g_read[0][:s, :s]
        v = np.random.default_rng(self.refreshes).uniform(0, self.read_pulse_V, (3, s))
        try:
            fast = read_currents(g, v, self.spec, "forward", backend="fast")
            spice = read_currents(g, v, self.spec, "forward", backend="ngspice", timeout_s=60)
            diff = float(np.abs(fast - spice).max() / max(np.abs(spice).max(), 1e-30))
            self.stats["spot_check_rel_diff"].append(diff)
            log.info("layer %d: ngspice spot-check of a %dx%d tile: max relative difference %.2e", self.layer, s, s, diff)
        except EqSpikeXbarError as exc:  # recorded; training continues with the fast solver
            self.stats["spot_check_failures"] += 1
            self.spot_check_errors.append(str(exc))
            log.warning("layer %d: ngspice spot-check failed (%s); continuing with the fast solver", self.layer, exc)

    # ------------------------------------------------------------------ inspection
    def diagnostics(self):
        d = super().diagnostics()
        st = self.stats
        last = lambda k: float(st[k][-1]) if st[k] else float("nan")  # noqa: E731
        d.update(
            stale_error_mean=float(np.mean(st["stale_error"])) if st["stale_error"] else float("nan"),
            stale_error_max=float(np.max(st["stale_error"])) if st["stale_error"] else float("nan"),
            asymmetry=last("asymmetry"), ir_drop=last("ir_drop"), wire_share=last("wire_share"),
            spot_check_rel_diff=float(np.max(st["spot_check_rel_diff"])) if st["spot_check_rel_diff"] else float("nan"),
            spot_check_failures=float(st["spot_check_failures"]), refreshes=float(self.refreshes),
        )
        return d

    _STATE = ("_wf_ref", "_wb_ref", "_w_dev_ref", "_Wf", "_Wb")

    def state_dict(self):
        d = super().state_dict()
        d.update({k.lstrip("_"): getattr(self, k) for k in self._STATE})
        d["since_refresh"] = np.array(self._since_refresh)
        d["refreshes"] = np.array(self.refreshes)
        return d

    def load_state_dict(self, state):
        super().load_state_dict(state)
        for k in self._STATE:
            setattr(self, k, np.array(state[k.lstrip("_")]))
        self._since_refresh = int(state["since_refresh"])
        self.refreshes = int(state["refreshes"])
