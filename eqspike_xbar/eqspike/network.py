"""The layered EqSpike network (any depth), batched over a minibatch in numpy.

Layer 0 is the input (its state clamped to the pixels), layers 1..L are neurons whose state
h in [0, 1] integrates weighted incoming spikes from the layers below and above::

    spikes s_l(t) = encoder(h_l(t-1))                      (all layers, input included)
    h_l(t) = clip(h_l + eps (W_{l-1}ᵀ-read(s_{l-1}) + W_l-read(s_{l+1}) + b_l - h_l
                              [+ beta (y - h_L) on the output]), 0, 1)

All reads go through the synapse layers (``forward``: pre->post, ``backward``: post->pre),
all weight changes through their ``update`` (coincidence events), so the backend (ideal,
device, circuit) never shows up here.

One minibatch: a free phase of T steps from h = 0 (prediction = output state averaged over
the last ``readout_steps`` steps), then the nudged phase(s) from the saved free state
(accumulators included), all phases run side by side as one stacked batch of P*B rows.
With the deterministic sigma-delta encoder the clamped input spikes are identical in every
phase, so the input layer is encoded once and its events are merged across phases (exact).
Its spike trains do not depend on the network either, so a training minibatch encodes and
reads the input of the free and the nudged steps at once (the weights change only after the
nudged phases): one event-driven read per image (synapses/base.py) instead of one per step.

Rate neurons (rate EP) send their states: the input's drive of layer 1 is read once per
minibatch and serves the free and the nudged phases, and a phase's steps run in
:meth:`EqSpikeNetwork._relax_rate`, the arithmetic of :meth:`EqSpikeNetwork._step` with the
states written into preallocated blocks and the reads of a block's steps counted at once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layered import LayeredState
from ..synapses import make_synapse_layer
from ..synapses.base import EVENT_MIN_MACS, SynapseLayer, event_matmul
from ..threads import blas_threads, one_blas_thread
from .neurons import SigmaDelta, leaky_step, make_encoder
from .rules import nudging_betas, post_factor


#: the rate relaxation's state blocks hold at most this many bytes (their steps' reads are
#: counted when a block is full; a 20-row MNIST minibatch fits 20 steps in one block)
RATE_BLOCK_BYTES = 8 << 20


class Schedule(list):
    """What the input sends at each step of a phase: a list of (s_in, drive), the drives also
    kept as one (steps, B, n_1) block (``drives``; None when there is none), which the compiled
    steps read."""

    def __init__(self, items=(), drives: np.ndarray | None = None):
        super().__init__(items)
        self.drives = drives


@dataclass
class InputTail:
    """The input's next steps after a free phase, encoded and read ahead (uncounted yet)."""
    schedule: "Schedule"  # (s_in, drive) per step
    spikes: np.ndarray  # (B, steps, n_in); rate neurons: the input states (B, n_in), sent at every step
    acc_in: np.ndarray | None  # input accumulators after these steps (None for rate neurons)
    n_spikes: int  # spikes sent in these steps
    activity: np.ndarray | None = None  # spikes per input line in these steps (spiking neurons)


@dataclass
class FreeState:
    h: list  # states of layers 1..L, each (B, n_l)
    acc: list  # encoder accumulators of layers 1..L (None for rate neurons)
    acc_in: np.ndarray | None  # input-layer accumulators
    tail: InputTail | None = None  # the nudged phases' input, read ahead with the free phase's


#: deferred read counting (:class:`PhaseReads`) writes the spikes of at most this many neuron
#: steps into one block before counting them (the predictions' 1000-row batches of 784-500-10
#: count every 2 steps; a 20-row MNIST phase fits in one block)
COUNT_BLOCK_VALUES = 1 << 20


class PhaseReads:
    """The reads of the steps of one phase whose weights and biases stay fixed: the read
    matrices and the biases tiled to the states' shape (fetched once), and, when ``deferred``,
    the spikes of every step written into preallocated blocks and counted in one sum per layer
    (:meth:`flush`) instead of one count per step, layer and direction. Spikes are 0 or 1, so
    the counts (vectors, per-line activity Σ x², spikes sent) are the same integers."""

    def __init__(self, net: "EqSpikeNetwork", rows: int, steps: int, deferred: bool):
        self.net, self.rows, self.deferred = net, rows, deferred
        syn = net.synapses
        # only the deferred path reads through the matrices (others read through the backend)
        self.matrices = [None] + [{d: syn[k].read_matrix(d) for d in ("forward", "backward")} if deferred else None
                                  for k in range(1, net.L)]
        # reads that event_matmul computes as the plain product (too small to gain from events)
        self.dense = [None] + [rows * syn[k].n_pre * syn[k].n_post < EVENT_MIN_MACS for k in range(1, net.L)]
        # an operand of the states' shape: the same sums, and half the time of a broadcast one
        self.biases = [np.tile(b, (rows, 1)) for b in net.biases]
        self.bounds = [net._clip_bounds(rows, n) for n in net.sizes[1:]]
        self.capacity = max(1, min(steps, COUNT_BLOCK_VALUES // max(1, rows * net._neurons_per_row)))
        self.blocks, self.j = None, 0

    def read(self, k: int, direction: str, x: np.ndarray) -> np.ndarray:
        """Read ``x`` through synapse layer ``k`` as its ``forward``/``backward`` would (counted
        now unless deferred)."""
        if not self.deferred:
            return self.net._read(k, direction, x)
        return x @ self.matrices[k][direction] if self.dense[k] else event_matmul(x, self.matrices[k][direction])

    def slots(self) -> list:
        """Where this step's spikes of layers 1..L go (a new block when the last one is full: the
        spikes a caller keeps are never overwritten)."""
        if self.blocks is None or self.j == self.capacity:
            self.flush()
            dt = self.net.dtype
            self.blocks = [np.empty((self.capacity, self.rows, n), dtype=dt) for n in self.net.sizes[1:]]
        self.j += 1
        return [b[self.j - 1] for b in self.blocks]

    def flush(self) -> None:
        """Count the spikes written so far: each layer's spikes sent, and the reads of every
        synapse layer k >= 1 (layer k's spikes read forward, layer k+1's backward), as the steps
        would have counted them."""
        if self.blocks is None or self.j == 0:
            return
        j = self.j
        acts = [np.einsum("tbi,tbi->i", b[:j], b[:j]) for b in self.blocks]  # spikes per line (exact)
        self.net._count_spikes_read(j * self.rows, acts)
        self.blocks, self.j = None, 0


class EqSpikeNetwork(LayeredState):
    def __init__(self, network, learning, synapses=None, dtype="float32", rng=None):
        """``network``, ``learning``, ``synapses``: the config sections (see config.py)."""
        rng = rng if rng is not None else np.random.default_rng(0)
        self.net, self.learn = network, learning
        self.dtype = np.dtype(dtype)
        self.sizes = list(network.layers)
        self.L = len(self.sizes) - 1
        self.eps = self.dtype.type(network.eps)
        self.encoder = make_encoder(network.neuron, network.encoder)
        backend = synapses.backend if synapses is not None else "ideal"
        init = []
        for k in range(self.L):
            bound = network.init_scale / np.sqrt(self.sizes[k])
            init.append(rng.uniform(-bound, bound, size=(self.sizes[k], self.sizes[k + 1])).astype(self.dtype))
        # the backends' own randomness (device spread, noise) comes after the weights, so every
        # backend starts from the same initial weights for the same seed
        entropy = int(rng.integers(2**63))
        offset = getattr(synapses, "seed_offset", 0)
        self.synapses = [
            make_synapse_layer(backend, w, config=synapses, rng=np.random.default_rng([entropy, k, offset]), layer=k)
            for k, w in enumerate(init)
        ]
        self.biases = [np.zeros(n, dtype=self.dtype) for n in self.sizes[1:]]
        self._neurons_per_row = sum(self.sizes[1:])
        # synapses that read and count as the base class does can be counted in batches: rate
        # neurons' phases run in _relax_rate (counts per block of steps), spiking neurons' reads
        # and spikes are counted at a phase's end (PhaseReads)
        base = (SynapseLayer.forward, SynapseLayer.backward, SynapseLayer.count_read)
        plain = all((type(s).forward, type(s).backward, type(s).count_read) == base for s in self.synapses)
        self._rate_blocks = self.encoder.sends_state and plain
        self._deferred_counts = not self.encoder.sends_state and plain
        self.compiled = getattr(network, "kernels", "compiled") == "compiled"
        """Run the steps of a phase with fixed weights, and the input's read, in the compiled
        kernels (eqspike/kernels.py) where they apply (sigma-delta neurons on synapses that read
        as the base class does); False: numpy steps (:meth:`_step`, the reference; the two agree
        to float rounding)."""
        self.lr_factor = 1.0  # learning-rate schedule factor, set per epoch by the trainer
        self._rounding_rng = None  # stochastic ternary post factor: the minibatch generator
        self._bounds = {}  # (rows, n) -> clip bounds of the rate relaxation (_clip_bounds)
        self.reset_counters()

    def reset_counters(self) -> None:
        """Neuron-side event counts (for the energy accounting): state updates and spikes sent."""
        self.counters = {"neuron_updates": 0, "spikes": 0}

    # ------------------------------------------------------------------ dynamics
    def _step(self, h, acc, s_in, in_drive, reps, beta_col, y, rng, reads: "PhaseReads | None" = None):
        """One synchronous step. ``in_drive`` is the input layer's drive of layer 1 for this step
        (B rows; tiled when the states have reps*B rows); ``s_in`` what the input sent.
        ``reads`` (:meth:`_phase_reads`): the phase's read matrices and tiled biases, and the
        spikes kept to be counted at once (:meth:`PhaseReads.flush`); None: counted now.

        Returns (spikes of layers 1..L, new states of layers 1..L)."""
        enc = self.encoder
        rows = len(h[0])
        if reads is not None and reads.deferred:  # counted with the phase's other steps
            spikes = [enc.step(h[l], None if acc is None else acc[l], rng, out) for l, out in enumerate(reads.slots())]
        else:
            spikes = []
            for l in range(self.L):
                sp, n = enc.step_counted(h[l], None if acc is None else acc[l], rng)
                spikes.append(sp)
                self.counters["spikes"] += n
        self.counters["neuron_updates"] += self._neurons_per_row * rows
        read = self._read if reads is None else reads.read
        biases = self.biases if reads is None else reads.biases
        bounds = [self._clip_bounds(rows, n) for n in self.sizes[1:]] if reads is None else reads.bounds
        new_h = []
        for l in range(self.L):
            if l == 0:
                if self.L > 1:  # the read from above plus the input's drive (tiled for the phases):
                    drive = np.ascontiguousarray(read(1, "backward", spikes[1]))  # the same sums as
                    if reps == 1:  # drive = input; drive += read
                        drive += in_drive
                    else:
                        phases = drive.reshape(reps, -1, drive.shape[1])
                        phases += in_drive  # (a view: drive's rows, phase by phase)
                else:
                    drive = np.tile(in_drive, (reps, 1)) if reps > 1 else in_drive.copy()
            else:
                drive = read(l, "forward", spikes[l - 1])
                if l + 1 < self.L:
                    drive += read(l + 1, "backward", spikes[l + 1])
            drive += biases[l]
            if l == self.L - 1 and beta_col is not None:
                nudge = np.subtract(y, h[l])
                nudge *= beta_col
                drive += nudge
            new_h.append(leaky_step(h[l], drive, self.eps, *bounds[l]))
        return spikes, new_h

    @property
    def _kernels(self) -> bool:
        """Whether the compiled kernels run this network's spiking phases (:attr:`compiled`)."""
        return self.compiled and self._deferred_counts and isinstance(self.encoder, SigmaDelta)

    def _relax_compiled(self, h, acc, drives, beta_col=None, y=None, readout_from=None, out=None,
                        keep_trace=False):
        """The steps of one phase with fixed weights in the compiled kernel (:func:`kernels.relax`:
        ``h`` and ``acc`` updated in place, the readout added to ``out``), counted as
        :class:`PhaseReads` counts them. Returns the traces (spikes, states) when ``keep_trace``."""
        from . import kernels  # numba is imported (and the kernel compiled or loaded) on first use

        syn, rows, steps = self.synapses, len(h[0]), len(drives)
        fwd = [syn[k].read_matrix("forward") for k in range(1, self.L)]
        bwd = [syn[k].read_matrix("backward") for k in range(1, self.L)]
        acts, traces = kernels.relax(h, acc, drives, fwd, bwd, self.biases, self.eps, beta_col, y, readout_from, out,
                                     keep_trace, threads=blas_threads())
        self._count_spikes_read(steps * rows, [a.sum(0) for a in acts])
        self.counters["neuron_updates"] += self._neurons_per_row * rows * steps
        return traces

    def _count_spikes_read(self, vectors: int, acts) -> None:
        """Count the spikes of layers 1..L whose per-line sums over ``vectors`` neuron steps are
        ``acts``, and the reads they made: synapse layer k >= 1 reads layer k's spikes forward
        and layer k+1's backward (as a count per step would count them)."""
        self.counters["spikes"] += sum(int(a.sum(dtype=np.float64)) for a in acts)
        for k in range(1, self.L):
            self.synapses[k].count_reads(vectors, acts[k - 1], "forward")
            self.synapses[k].count_reads(vectors, acts[k], "backward")

    def _nudged_steps(self, h, acc, schedule, reps, beta_col, y, rng, continual):
        """The nudged phases' steps: yields (s_in, spikes of layers 1..L, states before, states
        after) per step, computed by the compiled kernel when it applies, else step by step."""
        if self._kernels and not continual and getattr(schedule, "drives", None) is not None and len(schedule):
            spikes, states = self._relax_compiled(h, acc, schedule.drives, beta_col, y, keep_trace=True)
            for t, (s_in, _) in enumerate(schedule):
                yield s_in, [s[t] for s in spikes], [s[t] for s in states], [s[t + 1] for s in states]
            return
        # weights fixed until the phases end: their reads counted at the end (continual: now)
        reads = None if continual else self._phase_reads(len(h[0]), len(schedule))
        for s_in, d_in in schedule:
            if d_in is None:  # continual updates: read the input through the current weights
                d_in = self.synapses[0].forward(s_in)
                self.synapses[0].count_read(s_in, "forward", times=reps - 1)  # every phase reads it
            spikes, h_new = self._step(h, acc, s_in, d_in, reps, beta_col, y, rng, reads)
            yield s_in, spikes, h, h_new
            h = h_new
        if reads is not None:
            reads.flush()

    def _read(self, k: int, direction: str, x: np.ndarray) -> np.ndarray:
        """Read ``x`` through synapse layer ``k`` in ``direction``, counted now."""
        syn = self.synapses[k]
        return syn.forward(x) if direction == "forward" else syn.backward(x)

    def _phase_reads(self, rows: int, steps: int) -> "PhaseReads":
        """What the ``steps`` steps of one phase with fixed weights and biases share
        (:class:`PhaseReads`): its reads and spikes are counted at the end when the synapses
        count reads as the base class does and the neurons send spikes (else each step counts
        its own)."""
        return PhaseReads(self, rows, steps, self._deferred_counts)

    def _relax_rate(self, h, d_in, steps: int, reps: int = 1, beta_col=None, y=None, readout: int = 0,
                    trace: list | None = None):
        """``steps`` steps of :meth:`_step` for rate neurons with the input's drive of layer 1 fixed
        (``d_in``, B rows, tiled for ``reps`` phases): the same operations on the same values (the
        states equal to the last bit), each step's states written into a preallocated block, and
        the reads of a block's steps counted in one call per synapse layer and direction (the
        counts equal to float rounding). Returns (final states, sum of the output states over the
        last ``readout`` steps, or None)."""
        L, syn, eps, dt = self.L, self.synapses, self.eps, self.dtype
        rows = len(h[0])
        fwd = [None] + [syn[k].read_matrix("forward") for k in range(1, L)]
        bwd = [None] + [syn[k].read_matrix("backward") for k in range(1, L)]
        # the biases tiled to the states' shape for the phase, like the clip bounds: the same
        # sums, and an operand of the same shape took half the time of a broadcast one
        bias = [np.tile(b, (rows, 1)) for b in self.biases]
        bounds = [self._clip_bounds(rows, n) for n in self.sizes[1:]]
        base = np.tile(d_in, (reps, 1)) if reps > 1 else d_in
        chunk = max(1, min(steps, RATE_BLOCK_BYTES // max(1, rows * self._neurons_per_row * dt.itemsize)))
        blocks = [np.empty((chunk + 1, rows, n), dtype=dt) for n in self.sizes[1:]]
        for b, hl in zip(blocks, h):
            b[0] = hl
        slots = list(zip(*blocks))  # slots[j][l]: layer l's states at block position j
        # reads small enough for event_matmul's dense product go straight into the states
        small = [None] + [rows * syn[k].n_pre * syn[k].n_post < EVENT_MIN_MACS for k in range(1, L)]
        out = np.zeros((rows, self.sizes[-1]), dtype=dt) if readout else None
        nudge = None if beta_col is None else np.empty((rows, self.sizes[-1]), dtype=dt)
        j = 0  # the present states are slots[j]
        for t in range(steps):
            if j == chunk:  # block full: count its steps' reads, go on from its last states
                self._count_rate_reads(blocks, j)
                for b in blocks:
                    b[0] = b[j]
                j = 0
            cur, new = slots[j], slots[j + 1]
            for l in range(L):  # drive = (from below + from above) + bias [+ nudge], as in _step
                drive = new[l]
                if l == 0:
                    if L > 1:
                        if small[1]:
                            np.matmul(cur[1], bwd[1], out=drive)
                        else:
                            drive[...] = event_matmul(cur[1], bwd[1])
                        drive += base  # (an addition commutes exactly)
                    else:
                        drive[...] = base
                else:
                    if small[l]:
                        np.matmul(cur[l - 1], fwd[l], out=drive)
                    else:
                        drive[...] = event_matmul(cur[l - 1], fwd[l])
                    if l + 1 < L:
                        drive += event_matmul(cur[l + 1], bwd[l + 1])
                drive += bias[l]
                if l == L - 1 and beta_col is not None:
                    np.subtract(y, cur[l], out=nudge)
                    nudge *= beta_col
                    drive += nudge
                leaky_step(cur[l], drive, eps, *bounds[l])
            j += 1
            if readout and t >= steps - readout:
                out += new[-1]
            if trace is not None:
                trace.append([hl.copy() for hl in new])
        self._count_rate_reads(blocks, j)
        self.counters["neuron_updates"] += self._neurons_per_row * rows * steps
        return [b[j].copy() for b in blocks], out  # copies: a state must not keep its whole block alive

    def _clip_bounds(self, rows: int, n: int):
        """Arrays of 0 and 1 shaped (rows, n), made once per shape (read only)."""
        cache = self._bounds
        if (rows, n) not in cache:
            cache[(rows, n)] = (np.zeros((rows, n), dtype=self.dtype), np.ones((rows, n), dtype=self.dtype))
        return cache[(rows, n)]

    def _count_rate_reads(self, blocks, j: int) -> None:
        """Count the reads of the states blocks[.][:j] (rate neurons send their states): synapse
        layer k read layer k's states forward and layer k+1's backward at every step."""
        if j == 0:
            return
        for k in range(1, self.L):
            for direction, b in (("forward", blocks[k - 1]), ("backward", blocks[k])):
                self.synapses[k].count_read(b[:j].reshape(-1, b.shape[2]), direction)

    def _input_schedule(self, x, acc_in, steps: int, rng, weights_fixed: bool = True, repeats: int = 1,
                        lookahead: int = 0):
        """What the clamped input layer sends at each of ``steps`` steps, and the drive it gives
        layer 1: a list of (s_in, drive). The input spike trains do not depend on the network, so
        while the weights stay fixed (updates once per minibatch) all steps are read at once.
        ``repeats``: phases that replay the same input (counted as reads and spikes that many times).
        ``lookahead`` (weights fixed): also encode and read that many further steps in the same
        read; returns (schedule, InputTail), the tail counted by whoever replays it."""
        syn0 = self.synapses[0]
        if self.encoder.sends_state:  # rate neurons: rho(x) = x at every step, read once
            if not weights_fixed:
                return [(x, None)] * steps
            d = syn0.forward(x)
            syn0.count_read(x, "forward", times=steps * repeats - 1)  # physically read at every step
            if lookahead:  # the same drive serves the nudged steps
                return [(x, d)] * steps, InputTail([(x, d)] * lookahead, x, None, 0)
            return [(x, d)] * steps
        # image-major (B, steps, n_in): one image's steps share its few active lines, so the
        # event-driven read gathers each image's rows of W once for all its steps
        total, (B, n_in) = steps + lookahead, x.shape
        drives = None
        if self._kernels and weights_fixed:  # encoded and read in the compiled kernel
            from . import kernels

            spikes, drives, per_image, per_image_tail, acc_after = kernels.read_input(
                x, acc_in, syn0.read_matrix("forward"), steps, lookahead, threads=blas_threads())
        else:
            spikes = np.empty((B, total, n_in), dtype=x.dtype)
            for t in range(total):
                if t == steps and lookahead:
                    acc_after = acc_in.copy()
                self.encoder.step(x, acc_in, rng, spikes[:, t])
            per_image = self._spikes_per_image(spikes[:, :steps])  # (B, n_in)
        per_step = [spikes[:, t] for t in range(total)]
        free = spikes[:, :steps]
        act = per_image.sum(0)  # spikes per line: the activity Σ x² of their reads
        self.counters["spikes"] += int(act.sum(dtype=np.float64)) * repeats
        if not weights_fixed:
            return [(st, None) for st in per_step]
        rest = spikes[:, steps:]
        if drives is None:
            per_image_tail = self._spikes_per_image(rest) if lookahead else None
        flat = spikes.reshape(-1, n_in)
        if drives is not None:
            self._count_input_reads(free, act, repeats)
        elif lookahead or self._deferred_counts:  # the tail's rows are counted when replayed
            W = syn0.read_matrix("forward")  # read image by image, stored step-major: a step's
            drives = np.empty((total, B, W.shape[1]), dtype=np.result_type(flat, W))  # drive is
            lines = per_image if per_image_tail is None else per_image + per_image_tail  # contiguous
            event_matmul(flat, W, total, out=drives.transpose(1, 0, 2), active=lines)
            self._count_input_reads(free, act, repeats)
        else:  # counted as one read and its replays (a backend sampling what it reads sees both)
            drives = syn0.forward(flat, group=total).reshape(B, total, -1).transpose(1, 0, 2)
            syn0.count_read(flat, "forward", times=repeats - 1)
        schedule = [(st, drives[t]) for t, st in enumerate(per_step)]
        if not lookahead:
            return Schedule(schedule, drives)
        act_tail = per_image_tail.sum(0)
        tail = InputTail(Schedule(schedule[steps:], drives[steps:]), rest, acc_in.copy(),
                         int(act_tail.sum(dtype=np.float64)), act_tail)
        acc_in[...] = acc_after  # the caller's accumulators stand after ``steps`` steps
        return Schedule(schedule[:steps], drives[:steps]), tail

    @staticmethod
    def _spikes_per_image(spikes: np.ndarray) -> np.ndarray:
        """Spikes (0/1, shaped (B, steps, n)) summed over the steps: (B, n), exact integers (a
        reduction over the steps took half the time of the einsum over both)."""
        return np.add.reduce(spikes, axis=1)

    def _count_input_reads(self, spikes: np.ndarray, act: np.ndarray, repeats: int) -> None:
        """Count ``repeats`` reads of the input spikes (B, steps, n_in) by synapse layer 0, whose
        per-line sums are ``act``."""
        syn0 = self.synapses[0]
        if self._deferred_counts:  # the sums already made, as count_read would make them
            syn0.count_reads(spikes.shape[0] * spikes.shape[1] * repeats, act * repeats if repeats != 1 else act, "forward")
        else:
            syn0.count_read(spikes.reshape(-1, spikes.shape[2]), "forward", times=repeats)

    def _replay_tail(self, tail: InputTail, repeats: int) -> list:
        """Count the input steps read ahead with the free phase as ``repeats`` phases' reads."""
        syn0 = self.synapses[0]
        if self.encoder.sends_state:  # the input states, read at every step of every phase
            syn0.count_read(tail.spikes, "forward")  # counted as a read of its own would be
            syn0.count_read(tail.spikes, "forward", times=len(tail.schedule) * repeats - 1)
            return tail.schedule
        self.counters["spikes"] += tail.n_spikes * repeats
        self._count_input_reads(tail.spikes, tail.activity, repeats)
        return tail.schedule

    def _init_state(self, x, rng) -> FreeState:
        B = len(x)
        enc = self.encoder
        acc_in = enc.init(x.shape, rng, self.dtype)
        h = [np.zeros((B, n), dtype=self.dtype) for n in self.sizes[1:]]
        acc = [enc.init((B, n), rng, self.dtype) for n in self.sizes[1:]]
        return FreeState(h, None if acc[0] is None else acc, acc_in)

    def free_phase(self, x, rng, steps: int | None = None, trace: list | None = None, lookahead: int = 0):
        """Relax from h = 0 for T steps. Returns (saved free state, prediction readout (B, n_out)).
        ``lookahead``: nudged steps whose input is read ahead with this phase's (``state.tail``;
        only for a deterministic input with the weights fixed until the nudged phases end)."""
        x = np.asarray(x, dtype=self.dtype)
        st = self._init_state(x, rng)
        T = steps or self.net.free_steps
        R = min(self.net.readout_steps, T)
        h, out = st.h, np.zeros((len(x), self.sizes[-1]), dtype=self.dtype)
        schedule = self._input_schedule(x, st.acc_in, T, rng, lookahead=lookahead)
        if lookahead:
            schedule, st.tail = schedule
        if self._rate_blocks:
            st.h, out = self._relax_rate(h, schedule[0][1], T, readout=R, trace=trace)
            return st, out / R
        if self._kernels and trace is None and schedule.drives is not None:
            self._relax_compiled(h, st.acc, schedule.drives, readout_from=T - R, out=out)
            return st, out / R
        reads = self._phase_reads(len(x), T)
        with one_blas_thread():  # a step's products are small (1000-row predictions: 5M MACs)
            for t, (s_in, d_in) in enumerate(schedule):
                _, h = self._step(h, st.acc, s_in, d_in, 1, None, None, rng, reads)
                if t >= T - R:
                    out += h[-1]
                if trace is not None:
                    trace.append([hl.copy() for hl in h])
        reads.flush()
        st.h = h
        return st, out / R

    def predict(self, x, rng, batch_size: int = 1000) -> np.ndarray:
        """Class predictions (argmax of the free-phase readout), batched."""
        preds = []
        for i in range(0, len(x), batch_size):
            _, out = self.free_phase(x[i : i + batch_size], rng)
            preds.append(out.argmax(1))
        return np.concatenate(preds) if preds else np.zeros(0, dtype=int)

    def energy(self, x, h) -> np.ndarray:
        """Hopfield-like energy of each example (rate EP, rho(s) = s in [0, 1]):
        E = 1/2 sum_l |s_l|^2 - sum_k rho_kᵀ W_k rho_{k+1} - sum_l b_lᵀ rho_l (input clamped)."""
        states = [np.asarray(x, dtype=self.dtype)] + list(h)
        e = sum(0.5 * (s**2).sum(1) for s in h)
        for k, syn in enumerate(self.synapses):
            e = e - (syn.forward(states[k]) * states[k + 1]).sum(1) - states[k + 1] @ self.biases[k]
        return e

    # ------------------------------------------------------------------ learning
    def train_batch(self, x, y, rng):
        """One minibatch: free phase, nudged phase(s), update. Returns the free readout (B, n_out)."""
        x = np.asarray(x, dtype=self.dtype)
        target = np.zeros((len(x), self.sizes[-1]), dtype=self.dtype)
        target[np.arange(len(x)), y] = 1.0
        enc = self.encoder
        ahead = enc.deterministic and not (self.learn.apply == "continual" and self.learn.rule != "contrastive")
        state, out = self.free_phase(x, rng, lookahead=self.net.nudged_steps if ahead else 0)
        betas = nudging_betas(self.learn.nudging, self.learn.beta, rng)
        self.nudged_phases(x, target, state, betas, rng)
        return out

    def _scales(self, B, P):
        # a ternary post factor travels as a unit pulse (-1, 0, +1); its size is part of the scale
        unit = self.learn.ternary_scale if self.learn.post_factor == "ternary" and self.learn.rule == "two_factor" else 1.0
        return [self.dtype.type(self.lr_factor * lr * unit / (B * self.learn.beta * P)) for lr in self.learn.lr]

    def nudged_phases(self, x, target, state: FreeState, betas, rng):
        """Run the P nudged phases side by side from ``state`` and apply the learning rule."""
        B, P, L = len(x), len(betas), self.L
        # stochastic ternary post factor: the neurons' own random pulses (drawn from this minibatch's stream)
        self._rounding_rng = rng if self.learn.ternary_rounding == "stochastic" else None
        rep = (lambda a: None if a is None else np.tile(a, (P, 1))) if P > 1 else (lambda a: None if a is None else a.copy())
        h = [rep(hl) for hl in state.h]
        acc = None if state.acc is None else [rep(a) for a in state.acc]
        if self.encoder.deterministic:  # identical input spikes in every phase: encode once
            x_in, acc_in, reps = x, None if state.acc_in is None else state.acc_in.copy(), P
        else:
            x_in, acc_in, reps = (np.tile(x, (P, 1)) if P > 1 else x), rep(state.acc_in), 1
        sigma = np.repeat(np.sign(betas), B).astype(self.dtype)[:, None]
        beta_col = np.repeat(betas, B).astype(self.dtype)[:, None]
        y = np.tile(target, (P, 1)) if P > 1 else target
        scales = self._scales(B, P)
        contrastive = self.learn.rule == "contrastive"
        continual = self.learn.apply == "continual" and not contrastive
        events = [([], []) for _ in range(L)]
        bias_sums = [np.zeros(n, dtype=self.dtype) for n in self.sizes[1:]]

        causal = self.learn.pairing == "causal"
        pending = None  # causal pairing: the state change waiting for the next spikes
        phase_total = self.learn.contrast == "phase" and not contrastive
        trace = []  # contrast = 'phase': the spikes of every nudged step

        def record(step_events):
            if continual:
                self._apply(step_events, scales)
                return
            for k, (rows, cols, db) in enumerate(step_events):
                events[k][0].append(rows)
                events[k][1].append(cols)
                bias_sums[k] += db

        K = self.net.nudged_steps
        tail = state.tail
        if tail is not None and self.encoder.deterministic and not continual and len(tail.schedule) == K:
            schedule = self._replay_tail(tail, reps)  # read ahead with the free phase
            acc_in = None if tail.acc_in is None else tail.acc_in.copy()
        else:
            schedule = self._input_schedule(x_in, acc_in, K, rng, weights_fixed=not continual, repeats=reps)
        if contrastive and self._rate_blocks and K:  # no per-step events: only the end states count
            h, _ = self._relax_rate(h, schedule[0][1], K, reps, beta_col, y)
            schedule = []
        if (self._kernels and K and not continual and self.learn.rule == "two_factor" and self.learn.contrast == "synapse"
                and self._rounding_rng is None and getattr(schedule, "drives", None) is not None):
            h, step_events = self._trace_events(schedule, h, acc, x_in, acc_in, reps, beta_col, y, sigma, causal, rng)
            self._apply(step_events, scales)
            return h
        for s_in, spikes, h_old, h_new in self._nudged_steps(h, acc, schedule, reps, beta_col, y, rng, continual):
            h = h_old  # (the compiled steps' states come from their trace)
            if phase_total:  # the synapses see nothing until both phases are over
                trace.append((s_in, spikes))
            elif not contrastive:
                if not causal:
                    record(self._step_events(s_in, spikes, h, h_new, sigma, reps))
                else:
                    if pending is not None:
                        record(self._step_events(s_in, spikes, *pending, sigma, reps))
                    pending = (h, h_new)
            h = h_new
        if pending is not None:  # the spikes emitted from the final state carry the last change
            record(self._step_events(*self._final_spikes(x_in, acc_in, h, acc, reps, rng), *pending, sigma, reps))

        if phase_total:
            self._apply(self._phase_contrast_events(trace, h, B), scales)
        elif contrastive:
            self._apply(self._contrastive_events(x, state, h, sigma, P), scales)
        elif not continual:
            self._apply(
                [(np.concatenate(r), np.concatenate(c), db) for (r, c), db in zip(events, bias_sums)], scales
            )
        return h

    def _post_factor(self, dh):
        """The update signal of a state change ``dh``: analog, or a unit ternary pulse (its size
        ternary_scale is part of the scale), stochastic when learning.ternary_rounding says so."""
        lc = self.learn
        return post_factor(dh, lc.post_factor, lc.ternary_threshold, 1.0, self._rounding_rng)

    def _final_spikes(self, x_in, acc_in, h, acc, reps, rng):
        """Causal pairing: what the input and every layer send from the final nudged state (one
        more encoder step, counted as spikes, not read). Returns (s_in, spikes of layers 1..L)."""
        enc = self.encoder
        s_in = x_in if enc.sends_state else enc.step(x_in, acc_in, rng)
        spikes = [enc.step(h[l], None if acc is None else acc[l], rng) for l in range(self.L)]
        if not enc.sends_state:
            self.counters["spikes"] += int(np.count_nonzero(s_in)) * reps + sum(int(np.count_nonzero(s)) for s in spikes)
        return s_in, spikes

    def _step_events(self, s_in, spikes, h_old, h_new, sigma, reps):
        """One step's events: contrast 'neuron', or the two-factor rule of a single step."""
        if self.learn.contrast == "neuron":
            return self._neuron_contrast_events(s_in, spikes, h_old, h_new)
        one = [[a[None] for a in arrays] for arrays in (spikes, h_old, h_new)]
        return self._two_factor_events(s_in[None], *one, sigma, reps)

    def _two_factor_events(self, s_in, spikes, h_old, h_new, sigma, reps):
        """Per weight layer: (row events, column events, bias sum) pairing the given spikes with
        the state change h_old -> h_new, for K steps at once: every array has a leading step axis
        (s_in (K, B, n_in); the others (K, rows, n_l)), and the events come in step order."""
        q = [self._post_factor(hn - ho) * sigma for hn, ho in zip(h_new, h_old)]  # (K, rows, n_l)
        K = s_in.shape[0]
        out = []
        for k in range(self.L):
            n = self.sizes[k + 1]
            if k == 0:
                if reps > 1 and self.synapses[0].linear_update:  # identical input rows: sum the phases
                    cols, rows = q[0].reshape(K, reps, -1, n).sum(1), s_in
                else:  # every phase's coincidences are physical events of their own
                    cols, rows = q[0], (np.tile(s_in, (1, reps, 1)) if reps > 1 else s_in)
            else:  # per step: pre spikes x post change, then post spikes x pre change (shared weight)
                rows, cols = np.stack([spikes[k - 1], q[k - 1]], axis=1), np.stack([q[k], spikes[k]], axis=1)
            db = np.zeros(n, dtype=self.dtype)
            for qt in q[k]:  # (step by step, as the bias sums add up)
                db += qt.sum(0)
            out.append((rows.reshape(-1, rows.shape[-1]), cols.reshape(-1, n), db))
        return out

    def _trace_events(self, schedule, h, acc, x_in, acc_in, reps, beta_col, y, sigma, causal, rng):
        """The nudged steps in the compiled kernel and their two-factor events from its traces,
        all steps at once (the same events in the same order as step by step; contrast
        'synapse', a post factor that draws nothing). Returns (final states, per weight layer
        (row events, column events, bias sum))."""
        spikes, states = self._relax_compiled(h, acc, schedule.drives, beta_col, y, keep_trace=True)
        K = len(schedule)
        s_in = np.stack([s for s, _ in schedule])  # (K, B, n_in)
        if causal:  # step t's spikes carry the change of step t - 1; the final state's spikes the last
            last_in, last = self._final_spikes(x_in, acc_in, [st[K] for st in states], acc, reps, rng)
            s_in = np.concatenate([s_in[1:], last_in[None]])
            spikes = [np.concatenate([s[1:], e[None]]) for s, e in zip(spikes, last)]
        events = self._two_factor_events(s_in, spikes, [st[:-1] for st in states], [st[1:] for st in states], sigma, reps)
        return [st[K] for st in states], events

    def _neuron_contrast_events(self, s_in, spikes, h_old, h_new):
        """``contrast = 'neuron'``: the +β and −β phases (rows [:B] and [B:]) are contrasted in
        each neuron, not in each synapse. With x⁺y⁺ − x⁻y⁻ = x⁺(y⁺ − y⁻) + (x⁺ − x⁻)y⁻ for every
        pre/post pair, a synapse sees a pulse only where a neuron's two phases differ: the post
        factor is q(Δh⁺ − Δh⁻) (paired with the +β spike), and a spike that differs between the
        phases (±1) is paired with the −β phase's q(Δh⁻). Each neuron keeps its +β phase's K
        spikes and state changes (a per-neuron buffer, nothing per synapse); with the analog post
        factor the weight change equals the per-synapse contrast exactly."""
        B = h_new[0].shape[0] // 2
        q = self._post_factor
        dh = [hn - ho for hn, ho in zip(h_new, h_old)]
        qd = [q(d[:B] - d[B:]) for d in dh]  # contrast of the state change
        qm = [q(d[B:]) for d in dh]  # the −β phase's own post factor
        out = []
        for k in range(self.L):
            a = s_in if k == 0 else spikes[k - 1]
            if a.shape[0] == B:  # identical in both phases (the clamped, deterministic input)
                rows, cols = a, qd[k]
            else:
                rows, cols = [a[:B], a[:B] - a[B:]], [qd[k], qm[k]]
                if k > 0:  # the shared weight: post spike x pre change
                    b = spikes[k]
                    rows += [qd[k - 1], qm[k - 1]]
                    cols += [b[:B], b[:B] - b[B:]]
                rows, cols = np.concatenate(rows), np.concatenate(cols)
            out.append((rows, cols, qd[k].sum(0)))
        return out

    def _phase_contrast_events(self, trace, h_end, B):
        """``contrast = 'phase'``: every neuron contrasts its whole state change over the two
        nudged phases, d = h⁺(K) − h⁻(K) (both start from the same free state; one value kept per
        neuron), and the synapses are programmed in one window after the phases: for each of the
        K steps the pre neurons replay their +β spikes on the rows while the post neurons send
        post factors of d/K on the columns (stochastic ternary: a pulse with probability
        |d|/(K·threshold)), and the shared weight likewise the other way round. Per step, the
        spike-timing jitter between the phases no longer reaches the devices; only the net change
        does. Σ_t s_i(t)·d_j/K equals the per-step rule Σ_t s_i(t)·Δh_j(t) when the pre neuron
        spikes at a constant rate."""
        K = len(trace)
        q = self._post_factor
        d = [(hl[:B] - hl[B:]) / K for hl in h_end]
        qs = [[q(dk) for _ in range(K)] for dk in d]  # each neuron's K update pulses, used for all its synapses
        self.counters["spikes"] += sum(int(np.count_nonzero(s_in[:B])) for s_in, _ in trace) + sum(
            int(np.count_nonzero(sp[k][:B])) for _, sp in trace for k in range(self.L))  # the replayed spikes
        out = []
        for k in range(self.L):
            pre = [(s_in if k == 0 else sp[k - 1])[:B] for s_in, sp in trace]
            rows, cols = pre, qs[k]
            if k > 0:  # the shared weight: post spikes x pre change
                rows = rows + qs[k - 1]
                cols = cols + [sp[k][:B] for _, sp in trace]
            out.append((np.concatenate(rows), np.concatenate(cols), sum(p.sum(0) for p in qs[k])))
        return out

    def _contrastive_events(self, x, state, h_end, sigma, P):
        """rho(pre) rho(post) at the end of each nudged phase minus the same at the free state."""
        tile = (lambda a: np.tile(a, (P, 1))) if P > 1 else (lambda a: a)
        out = []
        for k in range(self.L):
            pre_end = tile(x) if k == 0 else h_end[k - 1]
            pre_ref = tile(x) if k == 0 else tile(state.h[k - 1])
            post_end, post_ref = sigma * h_end[k], sigma * tile(state.h[k])
            rows = np.concatenate([pre_end, pre_ref])
            cols = np.concatenate([post_end, -post_ref])
            out.append((rows, cols, (post_end - post_ref).sum(0)))
        return out

    def _apply(self, layer_events, scales):
        """Update every layer with its (row events, column events, bias sum); events given as a
        list of blocks are stacked in order."""
        for k, (rows, cols, db) in enumerate(layer_events):
            rows, cols = (np.concatenate(a) if isinstance(a, list) else a for a in (rows, cols))
            self.synapses[k].update(rows, cols, scales[k])
            self.biases[k] += scales[k] * db
