"""Learning rules: what each synapse receives during the nudged phase(s).

Two-factor rule (EqSpike): for a synapse between pre neuron i and post neuron j,

    S_ij = sum over nudged steps t of  s_i(t) * q(dh_j(t))  +  q(dh_i(t)) * s_j(t)

(pre spike x change of the post state, in both directions because the weight is shared;
the second term vanishes for the clamped input layer). ``q`` is the post factor: the state
change itself (``analog``) or its ternarised version (``ternary``), the +-1/0 programming
event a device can apply. Biases get sum_t q(dh_j(t)) (pre = 1).

Contrastive rule (rate EP, Scellier & Bengio 2017): S_ij = rho_i rho_j at the end of the
nudged phase minus the same at the reference state.

With nudging phases p of strength beta_p (sign sigma_p = sign(beta_p)), the update is
dW = lr / (B * |beta| * P) * sum_p sigma_p S^p, applied once per minibatch (or, with
``apply = 'continual'``, the per-step terms right away).
"""
from __future__ import annotations

import numpy as np


def post_factor(dh: np.ndarray, kind: str, threshold: float, scale: float,
                rng: np.random.Generator | None = None) -> np.ndarray:
    """The update signal carried by a neuron whose state changed by ``dh`` in one step.

    ternary: scale·sign(dh)·[|dh| >= threshold]; with ``rng`` (stochastic ternary) instead
    scale·sign(dh)·Bernoulli(min(1, |dh|/threshold)): a pulse with probability proportional to
    the change, unbiased (E = dh for |dh| <= threshold) when scale = threshold."""
    if kind == "analog":
        return dh
    q = np.sign(dh)
    if rng is None:
        q[np.abs(dh) < threshold] = 0.0
    else:
        q[rng.random(dh.shape, dtype=np.float32) >= np.abs(dh) / threshold] = 0.0
    q *= scale
    return q


def nudging_betas(kind: str, beta: float, rng: np.random.Generator) -> np.ndarray:
    """The beta of each nudged phase for one minibatch."""
    if kind == "symmetric":
        return np.array([beta, -beta])
    if kind == "positive":
        return np.array([beta])
    return np.array([beta if rng.random() < 0.5 else -beta])  # random_sign
