"""Weights <-> differential conductance pairs (w ∝ G+ − G−), quantised to device levels.

Scaling: ``scale = (g_max − g_min) / w_max`` siemens per unit weight. A weight w ≥ 0 maps to
``G+ = g_min + scale·w, G− = g_min``; w < 0 to ``G+ = g_min, G− = g_min + scale·|w|``;
so ``w = (G+ − G−) / scale`` and ±w_max reach g_max. Weights beyond ±w_max are clipped.
With ``levels`` set, conductances sit on ``levels`` equally spaced values in
[g_min, g_max] (nearest, or stochastic rounding which is unbiased); a round trip then
stays within one level, ``(g_max − g_min) / (levels − 1) / scale`` in weight units.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from ..errors import CircuitError
from ..validation import check_finite, check_positive_number

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConductanceMapping:
    g_min: float = 1e-6  #: lowest device conductance, S
    g_max: float = 1e-4  #: highest device conductance, S
    w_max: float = 1.0  #: weight magnitude mapped onto the full range g_max − g_min
    levels: int | None = None  #: number of device conductance levels (None: continuous)

    def __post_init__(self):
        check_positive_number("g_min", self.g_min, allow_zero=True, error=CircuitError)
        check_positive_number("g_max", self.g_max, error=CircuitError)
        check_positive_number("w_max", self.w_max, error=CircuitError)
        if self.g_max <= self.g_min:
            raise CircuitError(f"g_max ({self.g_max:g} S) must exceed g_min ({self.g_min:g} S)")
        if self.levels is not None and (not isinstance(self.levels, int) or self.levels < 2):
            raise CircuitError(f"levels must be an integer >= 2 or None, got {self.levels!r}")

    @property
    def scale(self) -> float:
        """Siemens per unit weight."""
        return (self.g_max - self.g_min) / self.w_max

    @property
    def weight_step(self) -> float:
        """One conductance level in weight units (0 when continuous)."""
        return 0.0 if self.levels is None else (self.g_max - self.g_min) / (self.levels - 1) / self.scale

    def quantize(self, g, rng: np.random.Generator | None = None) -> np.ndarray:
        """Conductances on the device levels (clipped to [g_min, g_max]); stochastic if ``rng``."""
        g = np.clip(check_finite("conductances", g), self.g_min, self.g_max)
        if self.levels is None:
            return g
        x = (g - self.g_min) / (self.g_max - self.g_min) * (self.levels - 1)
        x = np.floor(x + rng.random(x.shape)) if rng is not None else np.rint(x)
        return self.g_min + np.clip(x, 0, self.levels - 1) * (self.g_max - self.g_min) / (self.levels - 1)

    def to_conductances(self, w, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(G+, G−) in S for weights ``w``; quantised when ``levels`` is set."""
        w = check_finite("weights", w)
        clipped = np.abs(w) > self.w_max
        if np.any(clipped):
            log.info("%d weight(s) beyond ±w_max=%g clipped", int(clipped.sum()), self.w_max)
        w = np.clip(w, -self.w_max, self.w_max)
        g_pos = self.g_min + self.scale * np.maximum(w, 0.0)
        g_neg = self.g_min + self.scale * np.maximum(-w, 0.0)
        return self.quantize(g_pos, rng), self.quantize(g_neg, rng)

    def to_weights(self, g_pos, g_neg) -> np.ndarray:
        """Weights ``(G+ − G−) / scale``; also maps effective (IR-drop) matrices to weights."""
        g_pos, g_neg = check_finite("g_pos", g_pos), check_finite("g_neg", g_neg)
        if g_pos.shape != g_neg.shape:
            raise CircuitError(f"g_pos has shape {g_pos.shape} but g_neg has {g_neg.shape}; they must match")
        return (g_pos - g_neg) / self.scale
