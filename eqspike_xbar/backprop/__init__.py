"""Spiking backpropagation (Renner et al., Nat. Commun. 15:9691, 2024) on the synapse backends."""
from .network import SpikingBPNetwork

__all__ = ["SpikingBPNetwork"]
