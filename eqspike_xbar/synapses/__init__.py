"""Synapse backends behind one interface (see :mod:`.base`). Importing this package
registers the built-in backends."""
from .base import BACKENDS, SynapseLayer, make_synapse_layer, register_backend
from . import circuit, device, ideal  # noqa: F401  (register "circuit", "device", "ideal")

__all__ = ["BACKENDS", "SynapseLayer", "make_synapse_layer", "register_backend"]
