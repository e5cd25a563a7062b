"""Synapse device models: behavioural pulse response, library, fitting, SPICE characterisation.

Public API (what the training code uses)::

    from eqspike_xbar.devices import DeviceArray, Effects, load_device
    params = load_device("ag_asi")                      # device_models/ag_asi.toml
    gp = DeviceArray(params, shape=(784, 500), seed=1)  # D2D spread/faults fixed by seed
    energy_J = gp.apply_pulses(n)                       # n: signed ints, + LTP, − LTD
    g_S = gp.conductance(); g_read_S = gp.read()
"""
from .library import DEVICE_MODELS_DIR, device_toml, list_devices, load_device, resolve_device, save_device
from .model import DeviceArray
from .params import (D2D, IV, Conductance, DeviceParams, Drift, Effects, Faults, Noise,
                     Nonlinearity, Pulse, b_to_nl, nl_to_b)

__all__ = [
    "D2D", "DEVICE_MODELS_DIR", "Conductance", "DeviceArray", "DeviceParams", "Drift", "Effects",
    "Faults", "IV", "Noise", "Nonlinearity", "Pulse", "b_to_nl", "device_toml", "list_devices",
    "load_device", "nl_to_b", "resolve_device", "save_device",
]
