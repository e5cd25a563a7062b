"""The EqSpike network: neurons and encoders, free and nudged phases, learning rules,
and the rate-based EP baseline (the same network with ``neuron = 'rate'``)."""
from .network import EqSpikeNetwork, FreeState

__all__ = ["EqSpikeNetwork", "FreeState"]
