"""Neurons: a state h in [0, 1] (rho(h) = h, the hard sigmoid), integrated by a leaky step,
and an encoder that turns the state into what the neuron sends to its synapses.

Encoders (chosen by ``network.encoder`` / ``network.neuron``):

* ``sigma_delta`` — deterministic accumulator: a += h; spike and a -= 1 when a >= 1.
  Accumulators start uniform in [0, 1). Over T steps the spike count is within 1 of sum(h).
* ``stochastic``  — Bernoulli rate code: spike with probability h at every step.
* ``rate``        — no spikes: the neuron sends rho(h) = h itself (rate-based EP).
"""
from __future__ import annotations

import numpy as np


class _SpikingEncoder:
    def step_counted(self, h, acc, rng):
        """(spikes, number of spikes) of one step: ``step``'s spikes, counted."""
        spikes = self.step(h, acc, rng)
        return spikes, int(np.count_nonzero(spikes))


class SigmaDelta(_SpikingEncoder):
    deterministic = True
    sends_state = False

    def init(self, shape, rng: np.random.Generator, dtype) -> np.ndarray:
        return rng.random(shape, dtype=dtype)

    def step(self, h: np.ndarray, acc: np.ndarray, rng, out: np.ndarray | None = None) -> np.ndarray:
        """The spikes of one step (0/1 in h's dtype; into ``out`` when given), not counted."""
        acc += h
        fired = acc >= 1.0
        if out is None:
            out = fired.astype(h.dtype)
        else:  # (a comparison written straight into a float array took longer)
            np.copyto(out, fired)
        acc -= out
        return out


class Stochastic(_SpikingEncoder):
    deterministic = False
    sends_state = False

    def init(self, shape, rng, dtype):
        return None

    def step(self, h, acc, rng, out=None):
        fired = rng.random(h.shape, dtype=h.dtype) < h
        if out is None:
            return fired.astype(h.dtype)
        np.copyto(out, fired)
        return out


class Rate:
    deterministic = True
    sends_state = True  # what a neuron sends is its rho(state) itself

    def init(self, shape, rng, dtype):
        return None

    def step(self, h, acc, rng, out=None):
        return h

    def step_counted(self, h, acc, rng):
        return h, 0  # states are not spikes: nothing counted


ENCODERS = {"sigma_delta": SigmaDelta, "stochastic": Stochastic, "rate": Rate}


def make_encoder(neuron: str, encoder: str):
    return Rate() if neuron == "rate" else ENCODERS[encoder]()


def leaky_step(h: np.ndarray, drive: np.ndarray, eps: float, lo=0.0, hi=1.0) -> np.ndarray:
    """h <- clip(h + eps (drive - h), 0, 1); ``drive`` is overwritten and returned. ``lo``, ``hi``:
    the bounds 0 and 1, or arrays of them shaped like ``drive`` (the same values; a maximum or
    minimum of two arrays took half the time of one with a scalar, 20 x 500 float32)."""
    drive -= h
    drive *= eps
    drive += h
    np.maximum(drive, lo, out=drive)  # clip to [0, 1] (two ufuncs: cheaper than np.clip)
    np.minimum(drive, hi, out=drive)
    return drive
