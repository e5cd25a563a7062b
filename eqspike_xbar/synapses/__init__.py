"""Synapse backends behind one interface (see :mod:`.base`). Importing this package
registers the built-in backends."""
from .base import BACKENDS, SynapseLayer, make_synapse_layer, register_backend
from . import ideal  # noqa: F401  (registers "ideal")

__all__ = ["BACKENDS", "SynapseLayer", "make_synapse_layer", "register_backend"]
