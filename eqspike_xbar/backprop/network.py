"""Spiking backpropagation (sBP) on the synapse backends, after Renner, Sheldon, Zlotnik, Tao &
Sornborger, "The backpropagation algorithm implemented on spiking neuromorphic hardware",
Nat. Commun. 15:9691 (2024), arXiv 2106.07030, and the authors' code (github.com/lanl/spikingBackprop:
``network_topology_2layer.py`` = the gated circuit run on Loihi, ``numpy_simulation.py`` = their
reference simulation of the same binary network, ``network_parameters_2layer_MNIST.py``,
``weight_init.py``, ``input_data.py``). References below: [T] topology, [N] numpy simulation,
[P] parameters, [W] weight init, [I] input data.

Neurons are binary and run in discrete time steps. A synfire-gated chain of 12 gating
populations (g00..g11 [T]; inference: 4, g00..g03) switches populations on one time step at a
time: a gate lifts its neurons to half their threshold, so a neuron spikes when its input
z > threshold (``spiking_bp.threshold``, 512 of Loihi's 1024 [P]; weights here are in units of
1024). One training sample:

====  =====================================================================================
step  what is gated on (and what this module computes)
====  =====================================================================================
g00   reset (output populations inhibited)
g01   input x: a pixel spikes when its value > ``input_threshold`` (0.5 [I])
g02   hidden h = [x·W1 > θ]; two copies of h with the threshold shifted by ∓θ by the gate
      ([T] ``gm05``/``gp05``) spike when z > 0 and z > 2θ: their difference is the derivative
      gate g_h = [0 < z < 2θ] of the truncated ReLU that the binary neuron rounds ([N] ``b_h``)
g03   output o = [h·W2 > θ] and its two copies (g_o), target t; h is held in a memory population
g04   error populations d+ = t·(1−o)·[z>0], d− = o·(1−t)·[z<2θ], i.e. d = d+ − d− =
      (t − o)·g_o, ternary ([N] ``d_2p``, ``d_2m``)
g05   W2 potentiation: coincidence of the replayed h and d+ ([P] rule ``y0*x0*r1*4 − y0*x0*2``
      with reward r1 = 1: +2 of 1024 per coincidence)
g06   backward pass (potentiation half): d+ through +W2ᵀ and d− through −W2ᵀ into a hidden
      error population gated to spike at input > 0 and conditioned on g_h: d_h+ = [d·W2ᵀ > 0]·g_h
g07   W1 potentiation: coincidence of the replayed x and d_h+
g08   (hidden populations inhibited)
g09   W2 depression: h and d− (r1 = 0: −2 per coincidence)
g10   backward pass (depression half): d_h− = [−d·W2ᵀ > 0]·g_h
g11   W1 depression: x and d_h−
====  =====================================================================================

So per sample ΔW2 = η·hᵀ·d, d_h = sign(d·W2ᵀ)·g_h, ΔW1 = η·xᵀ·d_h, η = 2/1024 ([N] ``mu = 2``;
[N] updates W2 before the backward pass reads it, steps 5 -> 6, and so does this module);
loss: squared error of the output spikes against the one-hot target. No biases ([N]
``add_bias=False``). Initial weights normal(0, sqrt(2/(fan_in + fan_out))) clipped to
±240/1024 ([W] ``rand_He``). Batch size 1 ([N], [T]: one sample per gating cycle).

Not in the paper, off by default: ``spiking_bp.output_gate_low`` = c opens the output neurons'
gate at z > −c instead of z > 0 (d+ = t·(1−o)·[z > −c]; d− needs o = 1, z > θ, and is unchanged),
one more threshold shift of the comparator copy that makes the gate. With the paper's gate an
output neuron whose z has fallen below 0 on every sample of its class receives no error again
(configs/mnist784_spiking_bp.toml sets c = θ: 784-500-10 seed 2 lost digit 2's neuron that way).

What this project's crossbar changes (the algorithm stays the same):

* One array per weight matrix, read both ways. Loihi holds W1 three times (h and its two
  derivative copies each have their synapses) and W2 five times (o and two copies, and the
  transposed +W2ᵀ, −W2ᵀ for the backward pass) [T]. Here the forward pass is one
  ``syn.forward`` read whose column currents feed the neuron and both threshold-shifted
  comparators, and the backward pass is one ``syn.backward`` read of the same array (columns
  driven, rows sensed) with the signed error (columns at +V_read for d+, −V_read for d−),
  which gives d_h+ and d_h− at once (their signs). No transposed copy exists; the circuit
  backend reads it through its own backward transfer (IR drop, termination).
* The potentiation and depression phases of one weight layer are one ``syn.update(rows,
  cols, η)`` with ternary columns (pre spike × signed error: a row pulse coinciding with a
  column pulse of either polarity); the backend turns it into SET/RESET pulses. The time-step
  count stays the paper's 12 per training sample and 4 per inference sample.
* Memristive instead of SRAM synapses: with the device/circuit backends the update goes
  through the device model (bounded, nonlinear, finite levels, noise) instead of Loihi's 8-bit
  weights (±254/1024 in steps of 2/1024 [N]). The ideal backend keeps float weights, clipped
  to ±``spiking_bp.weight_clip`` (254/1024) after every update as in [N] (0: unbounded); with
  ``spiking_bp.init_grid`` = 2/1024 its initial weights are rounded toward zero onto Loihi's
  grid ([W] ``weights2loihi``), so that with lr = 2/1024 it computes Loihi's integer weights.
* With ``learning.batch_size`` B > 1 the B samples run side by side and their coincidences are
  summed into one update per minibatch (the paper: B = 1). A sample without error spikes
  programs nothing and reads nothing backwards (no pulses, no update round).

Counts for the energy model (per sample; the authors' topology [T], per population size n):
a training sample updates 4·n_in + 11·n_hidden + 14·n_out neurons (every gated population
of every step: h with its copies, memories, error and transposed-error populations) plus the
one gate neuron per step; spikes are the spikes these populations send (each replay of x and
h counted). Inference: n_in + n_hidden + n_out neuron updates and 4 gate steps. For other
depths the same per-layer counts and 4·L + 4 / L + 2 steps (L weight layers) are used.
"""
from __future__ import annotations

import numpy as np

from ..layered import LayeredState
from ..synapses import make_synapse_layer

STEPS_TRAIN_3LAYER = 12  # gating chain g00..g11 of the training network [T]
STEPS_INFER_3LAYER = 4  # g00..g03 of the inference network [T]
UPDATES_PER_INPUT, UPDATES_PER_HIDDEN, UPDATES_PER_OUTPUT = 4, 11, 14  # gated populations per neuron [T]


class SpikingBPNetwork(LayeredState):
    def __init__(self, network, learning, sbp, synapses=None, dtype="float32", rng=None):
        """``network`` (layers), ``learning`` (lr, batch), ``sbp`` ([spiking_bp]), ``synapses``:
        the config sections (see config.py)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        self.net, self.learn, self.sbp = network, learning, sbp
        self.dtype = np.dtype(dtype)
        self.sizes = list(network.layers)
        self.L = len(self.sizes) - 1
        self.threshold = self.dtype.type(sbp.threshold)
        init = []
        for k in range(self.L):
            std = np.sqrt(2.0 / (self.sizes[k] + self.sizes[k + 1]))
            w = np.clip(rng.normal(0.0, std, (self.sizes[k], self.sizes[k + 1])), -sbp.init_clip, sbp.init_clip)
            if sbp.init_grid:  # toward zero onto Loihi's grid [W] (weights2loihi)
                w = np.trunc(w / sbp.init_grid) * sbp.init_grid
            init.append(w.astype(self.dtype))
        # as EqSpikeNetwork: the backends' own randomness comes after the weights
        backend = synapses.backend if synapses is not None else "ideal"
        entropy = int(rng.integers(2**63))
        offset = getattr(synapses, "seed_offset", 0)
        self.synapses = [
            make_synapse_layer(backend, w, config=synapses, rng=np.random.default_rng([entropy, k, offset]), layer=k)
            for k, w in enumerate(init)
        ]
        self.biases = [np.zeros(n, dtype=self.dtype) for n in self.sizes[1:]]  # the paper has none; kept at 0
        self.lr_factor = 1.0
        self.steps_per_train_sample = 4 * self.L + 4  # 12 for the paper's 3 layers
        self.steps_per_inference_sample = self.L + 2  # 4
        hidden = sum(self.sizes[1:-1])
        self._updates_train = (UPDATES_PER_INPUT * self.sizes[0] + UPDATES_PER_HIDDEN * hidden
                               + UPDATES_PER_OUTPUT * self.sizes[-1] + self.steps_per_train_sample)
        self._updates_infer = sum(self.sizes) + self.steps_per_inference_sample
        self.reset_counters()

    def reset_counters(self) -> None:
        """Neuron-side events (energy accounting), time steps and samples since the last reset."""
        self.counters = {"neuron_updates": 0, "spikes": 0, "time_steps": 0, "samples": 0}

    # ------------------------------------------------------------------ phases
    def encode(self, x) -> np.ndarray:
        """Input spikes: one per pixel brighter than ``input_threshold`` (step g01)."""
        return (np.asarray(x) > self.sbp.input_threshold).astype(self.dtype)

    def gate_low(self, k: int):
        """Lower edge of layer k's derivative gate: 0 (the paper), −``output_gate_low`` for the output."""
        return -self.dtype.type(self.sbp.output_gate_low) if k == self.L - 1 else self.dtype.type(0)

    def forward(self, s):
        """Forward pass (steps g02, g03): per weight layer the input z of the post layer, its
        spikes [z > θ] and derivative gate [0 < z < 2θ] (output layer: [−``output_gate_low`` < z
        < 2θ]). Returns (spikes incl. input, z, gates)."""
        acts, zs, gates = [s], [], []
        two_theta = 2 * self.threshold
        for k, syn in enumerate(self.synapses):
            z = syn.forward(acts[-1])
            zs.append(z)
            acts.append((z > self.threshold).astype(self.dtype))
            gates.append(((z > self.gate_low(k)) & (z < two_theta)).astype(self.dtype))
        return acts, zs, gates

    def _readout(self, acts, zs):
        return zs[-1] if self.sbp.readout == "potential" else acts[-1]

    # ------------------------------------------------------------------ learning
    def train_batch(self, x, y, rng):
        """One gating cycle per sample (the B samples side by side). Returns the readout (B, n_out):
        the output spikes, or their input z with ``readout = 'potential'``."""
        s = self.encode(x)
        B = len(s)
        acts, zs, gates = self.forward(s)
        target = np.zeros((B, self.sizes[-1]), dtype=self.dtype)
        target[np.arange(B), y] = 1.0
        d = (target - acts[-1]) * gates[-1]  # g04: d+ − d−, ternary
        errors = [None] * self.L
        errors[-1] = d
        for k in reversed(range(self.L)):
            if not d.any():  # no error spikes: nothing to program, nothing to send back
                break
            syn = self.synapses[k]
            syn.update(acts[k], d, self.dtype.type(self.lr_factor * self.learn.lr[k]))  # g05/g09, g07/g11
            self._clip(syn, acts[k])
            if k:
                d = np.sign(syn.backward(d)) * gates[k - 1]  # g06/g10, through the updated array
                errors[k - 1] = d
        self._count_train(B, acts, zs, errors)
        return self._readout(acts, zs)

    def _clip(self, syn, rows) -> None:
        """Loihi's weight bound on float weights ([N]: np.clip after every update), on the rows
        the update touched. Programmed backends keep the bounds of their devices."""
        c = self.sbp.weight_clip
        if not c or syn.programmed:
            return
        w = syn.weights  # the ideal backend's own array
        index = np.flatnonzero(rows.any(0))
        w[index] = np.clip(w[index], -c, c)

    def _count_train(self, B, acts, zs, errors) -> None:
        c = self.counters
        c["neuron_updates"] += B * self._updates_train
        c["time_steps"] += B * self.steps_per_train_sample
        c["samples"] += B
        spikes = 4 * np.count_nonzero(acts[0]) + B * (self.steps_per_train_sample + 1)  # x replays, gates, t
        two_theta = 2 * self.threshold
        for k, z in enumerate(zs):
            a = np.count_nonzero(acts[k + 1])
            copies = np.count_nonzero(z > self.gate_low(k)) + np.count_nonzero(z >= two_theta)
            n_err = 0 if errors[k] is None else np.count_nonzero(errors[k])
            hidden = k + 1 < self.L
            spikes += (4 * a if hidden else a) + copies + (n_err if hidden else 3 * n_err)
        c["spikes"] += int(spikes)

    # ------------------------------------------------------------------ inference
    #: the readouts a run records every epoch (config.SpikingBPConfig.readout)
    READOUTS = ("spikes", "spikes_argmax", "potential")

    def predict(self, x, rng, batch_size: int = 1000) -> np.ndarray:
        """Classes under the configured readout (steps g00..g03 of the inference chain)."""
        return self.predict_readouts(x, rng, batch_size)[self.sbp.readout]

    def predict_readouts(self, x, rng, batch_size: int = 1000) -> dict:
        """Classes under every readout of one inference pass: 'spikes' counts a sample as class k
        only when exactly output neuron k spikes (else -1, never correct); 'spikes_argmax' is the
        first spiking neuron (0 when none spikes); 'potential' the argmax of the output input z."""
        preds = {name: [] for name in self.READOUTS}
        for i in range(0, len(x), batch_size):
            s = self.encode(x[i : i + batch_size])
            acts, zs = [s], []
            for syn in self.synapses:
                zs.append(syn.forward(acts[-1]))
                acts.append((zs[-1] > self.threshold).astype(self.dtype))
            B = len(s)
            c = self.counters
            c["neuron_updates"] += B * self._updates_infer
            c["time_steps"] += B * self.steps_per_inference_sample
            c["samples"] += B
            c["spikes"] += int(sum(np.count_nonzero(a) for a in acts)) + B * self.steps_per_inference_sample
            out = acts[-1]
            preds["potential"].append(zs[-1].argmax(1))
            preds["spikes_argmax"].append(out.argmax(1))
            preds["spikes"].append(np.where(out.sum(1) == 1, out.argmax(1), -1))
        return {k: np.concatenate(v) if v else np.zeros(0, dtype=int) for k, v in preds.items()}
