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

Error-bounded refresh (``refresh_tolerance`` > 0 in ``[synapses.circuit]``; 0 keeps the
``refresh_every`` schedule): after every update each tile predicts the error of its stale block
from the first-order change since its last exact matrix, e_t = κ·‖ΔW_t‖/‖W_t‖ (ΔW the ideal
change of the device weights on the tile, κ the largest ratio measured so far of stale error to
change, ×1.25), and only the tiles with e_t > tolerance are recomputed exactly. Between exact
matrices each entry of a tile's transfer matrix follows its device, T ∘ G/G_ref (the cell's own
IR-drop attenuation kept), which leaves ~7× less error per change than T + ΔG. So the matrices
the reads use stay within the tolerance per tile (hence per layer) while quiet tiles are not
refactored. At every tile refresh the error its stale block actually had is measured
(``stale_error``: the largest tile error of the refresh) and κ learns from it.

ngspice spot-checks: ``spot_checks`` times per run (first refresh, then every 50th), one
sub-array of ``spot_check_size``² of G+ is read with three input vectors by the fast solver
and by ngspice; the largest relative difference is recorded. An ngspice failure is recorded
(with its message) and training goes on with the fast solver.
"""
from __future__ import annotations

import logging

import numpy as np

from ..threads import one_blas_thread
from .base import register_backend
from .device import DeviceSynapses

log = logging.getLogger(__name__)

SPOT_CHECK_INTERVAL = 50  # refreshes between ngspice spot-checks
ENERGY_SAMPLES = 16  # real read vectors kept per direction for the energy split
KAPPA_START = 1.0  # error-bounded refresh: stale error per unit change assumed before any measurement
KAPPA_MARGIN = 1.25  # ... and the safety factor on the largest measured one


def _rel(a, b) -> float:
    nb = float(np.linalg.norm(b))
    return float(np.linalg.norm(a - b)) / nb if nb > 0 else 0.0


@register_backend("circuit")
class CircuitSynapses(DeviceSynapses):
    def __init__(self, weights, config=None, rng=None, layer=0):
        cc = config.circuit
        self.spec = cc.spec  # the CrossbarSpec of [synapses.circuit]: every circuit key, one default
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
        self.refresh_tolerance = float(cc.refresh_tolerance)
        self._bounded = None  # error-bounded refresh: per-array exact blocks and references
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
        self._changed = None  # the pairs this refresh reads again (None: every pair; see _reread)
        super()._refresh()  # new reads of G+, G- (read noise), ideal W and line sums
        if self.refresh_tolerance > 0:
            self._refresh_bounded(self.refresh_tolerance)
            return
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

    # ------------------------------------------------------------------ error-bounded refresh
    def _tile_regions(self, shape):
        """Per tile of the physical arrays: (array rows, array columns, weight columns)."""
        from ..crossbar import tile_slices

        out = []
        for rs, cs in tile_slices(shape, *self.max_array):
            wcs = slice(cs.start // 2, -(-cs.stop // 2)) if self.interleaved else cs
            out.append((rs, cs, wcs))
        return out

    def _reread(self, idx: np.ndarray) -> None:
        super()._reread(idx)
        self._changed = idx  # only these pairs' reads (and W) changed: the stale matrices follow there

    def _refresh_bounded(self, tol: float) -> None:
        from ..crossbar import FastCrossbar, tile_transfer_matrices

        arrays = self._arrays()
        b = self._bounded
        first = b is None
        if first:
            w_dev = self._W.astype(float)
            regions = self._tile_regions(arrays[0].shape)
            if self.interleaved and any(cs.start % 2 for _, cs, _ in regions):
                log.warning("layer %d: refresh_tolerance needs an even max_array_cols with interleaved "
                            "pairs; refreshing every %d updates instead", self.layer, self.cc.refresh_every)
                self.refresh_tolerance = 0.0
                self._refresh()
                return
            b = self._bounded = {"kappa": None, "regions": regions, "w_dev_ref": w_dev.copy(),
                                 "t_ref": {"forward": [np.zeros(a.shape) for a in arrays]},
                                 "g_ref": [a.copy() for a in arrays], "predicted": []}
            todo = list(range(len(regions)))
        else:
            live = self._live(arrays)
            w_dev, stale = live["w_dev"], live["stale"]
            kappa = KAPPA_START if b["kappa"] is None else KAPPA_MARGIN * b["kappa"]
            todo, worst = [], 0.0
            for t, (ref, change) in enumerate(live["norms"]):
                e = kappa * change / ref if ref > 0 else 0.0
                if e > tol:
                    todo.append(t)
                else:
                    worst = max(worst, e)
            b["predicted"].append(worst)  # the largest predicted error left in use
        if todo:
            jobs = [FastCrossbar(a[rs, cs], self.spec) for a in arrays for t in todo for rs, cs, _ in [b["regions"][t]]]
            if not all(j.reciprocal for j in jobs):
                b["t_ref"].setdefault("backward", [np.zeros(a.shape) for a in arrays])
            for direction, mats in b["t_ref"].items():
                blocks = iter(tile_transfer_matrices(jobs, direction))
                for mat in mats:
                    for t in todo:
                        rs, cs, _ = b["regions"][t]
                        mat[rs, cs] = next(blocks)
            wf_new = self._weights(b["t_ref"]["forward"])  # exact on the refreshed tiles
            errors = []
            for t in todo:
                rs, cs, wcs = b["regions"][t]
                if not first:  # the error the stale block had, against the exact one
                    err = float(np.linalg.norm(stale["forward"][rs, wcs] - wf_new[rs, wcs]))
                    ref = float(np.linalg.norm(wf_new[rs, wcs]))
                    errors.append(err / ref if ref > 0 else 0.0)
                    size = float(np.linalg.norm(w_dev[rs, wcs] - b["w_dev_ref"][rs, wcs]))
                    if size > 0:
                        b["kappa"] = err / size if b["kappa"] is None else max(b["kappa"], err / size)
                b["w_dev_ref"][rs, wcs] = w_dev[rs, wcs]
                for k, a in enumerate(arrays):
                    b["g_ref"][k][rs, cs] = a[rs, cs]
            if errors:
                self.stats["stale_error"].append(max(errors))
            self.stats.setdefault("tiles_refreshed", []).append(len(todo))
            self._w_dev_ref = b["w_dev_ref"]
            self._wf_ref = wf_new
            self._wb_ref = self._weights(b["t_ref"]["backward"]) if "backward" in b["t_ref"] else wf_new
            self.stats["asymmetry"].append(_rel(self._wf_ref, self._wb_ref))
            self.stats["ir_drop"].append(_rel(self._wf_ref, b["w_dev_ref"]))
            if self.refreshes % self.cc.energy_split_every == 0:
                self._measure_energy_split([self._tiles(a) for a in arrays])
            self._spot_check()
            self.refreshes += 1
            self._since_refresh = 0
            stale = {d: self._stale(d, arrays) for d in b["t_ref"]}
            b["live"] = {"w_dev": w_dev, "stale": stale, "dw": w_dev - b["w_dev_ref"], "norms": None}
        else:
            self._since_refresh += 1
            if live["changed"] is not None:  # the matrices in use follow the changed pairs only
                for m, direction in ((self._Wf, "forward"), (self._Wb, "backward")):
                    if direction in stale:
                        m.reshape(-1)[live["changed"]] = stale[direction].reshape(-1)[live["changed"]]
                return
        self._Wf = stale["forward"].astype(self.dtype)
        self._Wb = self._Wf if "backward" not in stale else stale["backward"].astype(self.dtype)

    def _live(self, arrays) -> dict:
        """The error-bounded refresh's view of the present state, kept up to date from the pairs
        read again since the last update (``self._changed``) instead of recomputed over the whole
        layer: ``w_dev`` (the device weights, float64), ``stale`` (:meth:`_stale` per direction),
        ``dw`` (w_dev − the tiles' reference weights), ``norms`` (per tile: ‖stale forward block‖,
        ‖dw block‖; recomputed only for tiles with a changed pair) and ``changed`` (the flat indices
        updated now; None: everything was recomputed). Each entry is computed by the same
        elementwise operations as over the whole layer, so the numbers are the same to the bit."""
        b = self._bounded
        live, idx = b.get("live"), self._changed
        regions = b["regions"]
        if live is None or idx is None:  # first use, a checkpoint resumed, or every pair read again
            w_dev = self._W.astype(float)
            live = b["live"] = {"w_dev": w_dev, "stale": {d: self._stale(d, arrays) for d in b["t_ref"]},
                                "dw": w_dev - b["w_dev_ref"], "norms": None}
            live["changed"] = None
        else:
            live["changed"] = idx
            if live["norms"] is not None and idx.size:
                if "tile_of" not in b:  # the tile of every weight
                    b["tile_of"] = np.empty(self._W.shape, dtype=np.intp)
                    for t, (rs, _, wcs) in enumerate(regions):
                        b["tile_of"][rs, wcs] = t
                touched = np.bincount(b["tile_of"].reshape(-1)[idx], minlength=len(regions))
                live["norms"] = [None if k else n for k, n in zip(touched, live["norms"])]
            if idx.size:
                w_dev = live["w_dev"].reshape(-1)
                w_dev[idx] = self._W.reshape(-1)[idx]
                for direction, m in live["stale"].items():
                    m.reshape(-1)[idx] = self._stale_at(direction, arrays, idx)
                live["dw"].reshape(-1)[idx] = w_dev[idx] - b["w_dev_ref"].reshape(-1)[idx]
        norms = live["norms"] or [None] * len(regions)
        fwd, dw = live["stale"]["forward"], live["dw"]
        # one BLAS thread: numpy's norm is a BLAS dot, which OpenBLAS splits over two threads above
        # 10,000 entries (a 128 x 128 tile): 56 waits for the other thread per update, 25 % of a
        # 2-thread circuit epoch on busy cores. (With 2 threads the norms' last bit then follows
        # the 1-thread sum; they only feed the refresh prediction, compared against a tolerance.)
        with one_blas_thread():
            live["norms"] = [n if n is not None else (float(np.linalg.norm(fwd[rs, wcs])), float(np.linalg.norm(dw[rs, wcs])))
                             for n, (rs, _, wcs) in zip(norms, regions)]
        return live

    def _stale(self, direction: str, arrays) -> np.ndarray:
        """W from the last exact blocks, each entry scaled by its device's relative change since:
        T ∘ G / G_ref (first order in G, with the IR-drop attenuation of each cell kept; measured
        on a 128 x 128 tile with 1 ohm segments: 0.06 of the change left as error, against 0.41
        for T + (G − G_ref))."""
        b = self._bounded
        return self._weights([t * (g / g0) for t, g, g0 in zip(b["t_ref"][direction], arrays, b["g_ref"])])

    def _stale_at(self, direction: str, arrays, idx: np.ndarray) -> np.ndarray:
        """:meth:`_stale` at the flat weight indices ``idx`` only (the same operations per entry)."""
        b = self._bounded
        if self.interleaved:  # weight (i, j): G+ at array entry (i, 2j), G− at (i, 2j + 1)
            t, g, g0 = (m.reshape(-1) for m in (b["t_ref"][direction][0], arrays[0], b["g_ref"][0]))
            gp, gn = ((t[k] * (g[k] / g0[k])) for k in (2 * idx, 2 * idx + 1))
        else:
            gp, gn = (t.reshape(-1)[idx] * (g.reshape(-1)[idx] / g0.reshape(-1)[idx])
                      for t, g, g0 in zip(b["t_ref"][direction], arrays, b["g_ref"]))
        return (gp - gn) / self.s_per_weight

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
        if self._bounded is not None:  # error-bounded refresh: tiles refactored, predicted error in use
            n_tiles = len(self._bounded["regions"])
            d.update(tiles_refreshed_share=float(np.sum(st.get("tiles_refreshed", [0]))) / max(
                1, n_tiles * (len(self._bounded["predicted"]) + 1)),
                stale_error_predicted_max=float(np.max(self._bounded["predicted"])) if self._bounded["predicted"] else 0.0)
        return d

    _STATE = ("_wf_ref", "_wb_ref", "_w_dev_ref", "_Wf", "_Wb")

    def state_dict(self):
        import json

        d = super().state_dict()
        b = self._bounded
        if b is not None:  # error-bounded refresh: the exact blocks and their references
            for direction, mats in b["t_ref"].items():
                for k, m in enumerate(mats):  # copies: a partial refresh updates them in place
                    d[f"bounded_t_{direction}_{k}"] = m.copy()
            for k, m in enumerate(b["g_ref"]):
                d[f"bounded_g_{k}"] = m.copy()
            d["bounded_json"] = np.array(json.dumps({"kappa": b["kappa"], "predicted": b["predicted"]}))
        d.update({k.lstrip("_"): np.array(getattr(self, k)) for k in self._STATE})  # copies: updated in place
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
        if self._bounded is not None:  # recompute the live state from the loaded one at the next refresh
            self._bounded.pop("live", None)
        if "bounded_json" in state:
            meta = json.loads(str(state["bounded_json"]))
            arrays = self._arrays()
            t_ref = {direction: [np.array(state[f"bounded_t_{direction}_{k}"]) for k in range(len(arrays))]
                     for direction in ("forward", "backward") if f"bounded_t_{direction}_0" in state}
            self._bounded = {"kappa": meta["kappa"], "predicted": meta["predicted"], "t_ref": t_ref,
                             "regions": self._tile_regions(arrays[0].shape), "w_dev_ref": self._w_dev_ref,
                             "g_ref": [np.array(state[f"bounded_g_{k}"]) for k in range(len(arrays))]}
            if self._wb_ref is not self._wf_ref and np.array_equal(self._wb_ref, self._wf_ref):
                self._wb_ref = self._wf_ref
