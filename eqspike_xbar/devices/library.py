"""Device library: ``device_models/<name>.toml`` files, loaded into :class:`DeviceParams`.

Every file is read with ``config_tools.from_mapping`` (unknown keys and wrong types are
errors naming the key); physical checks live in the section dataclasses (:mod:`.params`).
"""
from __future__ import annotations

import logging
from pathlib import Path

import tomli_w

from ..config_tools import from_mapping, merge, read_toml, to_mapping
from ..errors import ConfigError, DeviceModelError
from ..io import write_text
from ..validation import safe_identifier
from .params import DeviceParams

log = logging.getLogger(__name__)

#: The project's device library folder (``<repo>/device_models``).
DEVICE_MODELS_DIR = Path(__file__).resolve().parents[2] / "device_models"


def resolve_device(name: str, overrides: dict | None = None, on_off_ratio: float = 0.0) -> DeviceParams:
    """DeviceParams of ``name`` (library name or TOML path) with nested ``overrides`` merged in;
    ``on_off_ratio`` > 0 sets Gmin = Gmax / ratio. Called once per configuration
    (``SynapseConfig.device_params``)."""
    params = load_device(name)
    if on_off_ratio:
        gmax = (overrides or {}).get("conductance", {}).get("gmax_S", params.conductance.gmax_S)
        overrides = merge(overrides or {}, {"conductance": {"gmin_S": gmax / on_off_ratio}})
    if overrides:
        try:
            params = from_mapping(DeviceParams, merge(to_mapping(params), overrides), "", DeviceModelError)
        except DeviceModelError as exc:
            raise ConfigError(f"synapses.device_overrides: {exc}") from None
    return params


def list_devices(directory: Path | None = None) -> list[str]:
    """Names of the devices in the library (file stems of ``*.toml``)."""
    directory = Path(directory or DEVICE_MODELS_DIR)
    return sorted(p.stem for p in directory.glob("*.toml"))


def load_device(name_or_path, directory: Path | None = None) -> DeviceParams:
    """Load a device by library name (``"ag_asi"``) or from a ``.toml`` path."""
    text = str(name_or_path)
    if text.endswith(".toml"):
        path = Path(text)
    else:
        safe_identifier(text, "device name")
        path = Path(directory or DEVICE_MODELS_DIR) / f"{text}.toml"
        if not path.is_file():
            known = ", ".join(list_devices(directory)) or "none"
            raise DeviceModelError(f"unknown device {text!r}; known devices: {known} (or give a path to a .toml)")
    data = read_toml(path, error=DeviceModelError)
    try:
        params = from_mapping(DeviceParams, data, "", DeviceModelError)
    except DeviceModelError as exc:
        raise DeviceModelError(f"{path}: {exc}") from None
    return params


def device_toml(params: DeviceParams) -> str:
    """TOML text of ``params`` (the library's schema, see ``device_models/README.md``)."""
    return tomli_w.dumps(to_mapping(params))


def save_device(params: DeviceParams, path) -> Path:
    """Write ``params`` as TOML atomically; the text is checked by loading it back first."""
    text = device_toml(params)
    import tomllib

    back = from_mapping(DeviceParams, tomllib.loads(text), "", DeviceModelError)
    if back != params:  # pragma: no cover - guards the schema round trip
        raise DeviceModelError(f"device {params.name!r} does not survive a TOML round trip")
    return write_text(path, text)
