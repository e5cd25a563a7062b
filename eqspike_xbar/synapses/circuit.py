"""``circuit`` backend: the device backend's conductances placed in crossbar circuits.

Each layer's G+ and G− arrays sit on tiles of at most ``max_array_rows`` x ``max_array_cols``
(each tile its own circuit, partial outputs summed). Reads go through the circuit's exact
effective matrices (fast nodal solver, Schur complement onto the ports; see crossbar/):
forward ``y = x @ W_f``, backward ``y = x @ W_bᵀ`` with W = (T(G+) − T(G−)) / s_per_weight (G− on its
own arrays, or interleaved with G+ column by column: ``pair_layout``). The
matrices are recomputed exactly every ``refresh_every`` minibatch updates; in between they are
the last exact ones plus the ideal change of the conductances since (first-order). At each
refresh the backend records

* the stale-matrix error: ‖W_exact − W_stale‖ / ‖W_exact‖, W_stale = the last exact matrices plus
  the ideal change since, evaluated for the state the refresh replaces them in;
* the forward/backward asymmetry ‖W_f − W_b‖ / ‖W_f‖ (EP assumes symmetric weights);
* the IR-drop deviation ‖W_f − W_devices‖ / ‖W_devices‖ against the ideal matmul of the same G;
* the read-energy split (every ``energy_split_every``-th refresh): nodal solutions of a sample
  of the real read vectors since the previous split (both directions) give the power in the
  cells and in the wires/drivers/sense resistors relative to V²·Σ G of the ideal read; the
  reads until the next split are booked with these factors.

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
ENERGY_SAMPLES = 16  # real read vectors kept per direction for the energy split


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
        # (cells, wires) power relative to the ideal read, per direction; sampled read vectors
        self._energy_factors = {"forward": (1.0, 0.0), "backward": (1.0, 0.0)}
        self._samples = {"forward": [], "backward": []}
        super().__init__(weights, config, rng, layer)

    # ------------------------------------------------------------------ exact matrices
    def _tiles(self, g):
        from ..crossbar import TiledCrossbar

        return TiledCrossbar(g, self.spec, self.max_array)

    @property
    def interleaved(self) -> bool:
        return self.cc.pair_layout == "interleaved"

    def _arrays(self) -> list[np.ndarray]:
        """The physical arrays' conductances: [G+, G−], or one array with G− in the column
        after its G+ (interleaved)."""
        gp, gn = self._g_read
        if not self.interleaved:
            return [gp, gn]
        g = np.empty((gp.shape[0], 2 * gp.shape[1]))
        g[:, 0::2], g[:, 1::2] = gp, gn
        return [g]

    def _weights(self, blocks: list[np.ndarray]) -> np.ndarray:
        """W = (T(G+) − T(G−)) / s_per_weight from the arrays' transfer matrices (forward and backward
        alike: a backward read drives G− with −V in the interleaved layout)."""
        if self.interleaved:
            return (blocks[0][:, 0::2] - blocks[0][:, 1::2]) / self.s_per_weight
        return (blocks[0] - blocks[1]) / self.s_per_weight

    def _exact(self):
        from ..crossbar import transfer_matrices

        tiles = [self._tiles(g) for g in self._arrays()]
        wf = self._weights(transfer_matrices(tiles, "forward"))
        if all(t.reciprocal for t in tiles[0].tiles):
            wb = wf
        else:
            wb = self._weights(transfer_matrices(tiles, "backward"))
        return wf, wb, tiles

    def _refresh(self) -> None:
        super()._refresh()  # new reads of G+, G- (read noise), ideal W and line sums
        w_dev = self._W.astype(float)
        if self._since_refresh is not None and self._since_refresh + 1 < self.cc.refresh_every:
            self._since_refresh += 1
            delta = w_dev - self._w_dev_ref
            self._Wf = (self._wf_ref + delta).astype(self.dtype)
            self._Wb = self._Wf if self._wb_ref is self._wf_ref else (self._wb_ref + delta).astype(self.dtype)
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
        self._Wf = wf.astype(self.dtype)
        self._Wb = self._Wf if wb is wf else wb.astype(self.dtype)
        self._since_refresh = 0
        self.refreshes += 1

    # ------------------------------------------------------------------ reads
    def _read_matrix(self, direction):
        return self._Wf if direction == "forward" else self._Wb.T

    def count_read(self, x, direction, times=1):
        super().count_read(x, direction, times)
        if times >= 1:  # every counted read is also a candidate for the energy split's sample
            self._sample(x, direction)

    def _sample(self, x, direction: str) -> None:
        """Keep a few of the real read vectors (every k-th row of each read) for the energy split."""
        buf = self._samples[direction]
        buf.extend(x[:: max(1, x.shape[0] // 4)])
        del buf[: max(0, len(buf) - ENERGY_SAMPLES)]

    def _book_read_energy(self, forward_J: float, backward_J: float) -> None:
        for direction, ideal in (("forward", forward_J), ("backward", backward_J)):
            f_cells, f_wires = self._energy_factors[direction]
            self.counters["device_read_J"] += f_cells * ideal
            self.counters["wire_read_J"] += f_wires * ideal

    def _measure_energy_split(self, tiles) -> None:
        """Power in the cells and in wires/drivers/sense of the sampled real read vectors, relative
        to V²·ΣG of the ideal read, per direction (nodal solution of every tile). Power is a
        quadratic form of the inputs, so real vectors are used, not an average pattern."""
        for direction in ("forward", "backward"):
            if not self._samples[direction]:
                continue
            v = self.read_pulse_V * np.asarray(self._samples[direction], dtype=float)  # (k, n_in)
            if direction == "backward" and self.interleaved:  # G+ columns at +V, G− columns at −V
                v = np.stack([v, -v], axis=2).reshape(v.shape[0], -1)
            cells = wires = ideal = 0.0
            for tiled in tiles:
                g = tiled.g
                for (rs, cs), tile in zip(tiled.slices, tiled.tiles):
                    lines = rs if direction == "forward" else cs
                    vt = v[:, lines]
                    model = tile.model(direction)
                    p = model.power(model.node_voltages(vt if direction == "forward" else vt[:, ::-1]))
                    cells += float(p["cells"].sum())
                    wires += float(p["wires"].sum() + p["sense"].sum())
                    gs = g[rs, cs].sum(1) if direction == "forward" else g[rs, cs].sum(0)
                    ideal += float(np.sum(vt**2 @ gs))
            if ideal > 0:
                self._energy_factors[direction] = (cells / ideal, wires / ideal)
                if direction == "forward":
                    self.stats["wire_share"].append(wires / (cells + wires))
            self._samples[direction] = []

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
        import json

        d = super().state_dict()
        d.update({k.lstrip("_"): getattr(self, k) for k in self._STATE})
        d["since_refresh"] = np.array(self._since_refresh)
        d["refreshes"] = np.array(self.refreshes)
        d["circuit_json"] = np.array(json.dumps({
            "energy_factors": self._energy_factors, "stats": self.stats,
            "spot_check_errors": self.spot_check_errors,
            "samples": {k: np.asarray(v).tolist() for k, v in self._samples.items()}}))
        return d

    def load_state_dict(self, state):
        import json

        super().load_state_dict(state)
        for k in self._STATE:
            setattr(self, k, np.array(state[k.lstrip("_")]))
        self._since_refresh = int(state["since_refresh"])
        self.refreshes = int(state["refreshes"])
        extra = json.loads(str(state["circuit_json"]))
        self._energy_factors = {k: tuple(v) for k, v in extra["energy_factors"].items()}
        self.stats = extra["stats"]
        self.spot_check_errors = extra["spot_check_errors"]
        self._samples = {k: [np.asarray(r, dtype=self.dtype) for r in v] for k, v in extra["samples"].items()}
