"""What every learning algorithm's network shares: weight layers behind the synapse interface
and biases, saved and restored as one flat dict of arrays (checkpoints), and the check for
non-finite values the trainer runs after every minibatch."""
from __future__ import annotations

import numpy as np


class LayeredState:
    """Mixin: needs ``self.synapses`` (SynapseLayer list), ``self.biases`` and ``self.sizes``."""

    def state_dict(self) -> dict[str, np.ndarray]:
        d = {}
        for k, syn in enumerate(self.synapses):
            for name, arr in syn.state_dict().items():
                d[f"synapses_{k}_{name}"] = arr
        for k, b in enumerate(self.biases):
            d[f"bias_{k}"] = b
        return d

    def load_state_dict(self, d: dict[str, np.ndarray]) -> None:
        for k, syn in enumerate(self.synapses):
            prefix = f"synapses_{k}_"
            syn.load_state_dict({n[len(prefix):]: v for n, v in d.items() if n.startswith(prefix)})
        for k in range(len(self.biases)):
            self.biases[k][...] = d[f"bias_{k}"]

    def first_nonfinite_layer(self) -> str | None:
        """Name of the first weight/bias layer holding NaN or inf, or None."""
        for k, syn in enumerate(self.synapses):
            if not np.isfinite(syn.weights.sum()):
                return f"W{k + 1} ({self.sizes[k]}x{self.sizes[k + 1]})"
            if not np.isfinite(self.biases[k].sum()):
                return f"b{k + 1}"
        return None
