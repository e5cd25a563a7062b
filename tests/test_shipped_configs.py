"""Every config the repository ships loads and validates (each sweep's every point), so a
documented command never starts with a config error."""
import tomllib
from pathlib import Path

import pytest

from eqspike_xbar.config import config_from_dict, load_config
from eqspike_xbar.experiments.sweep_spec import load_sweep

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_validates(path):
    if "axes" in tomllib.loads(path.read_text()):
        spec = load_sweep(path)
        for point in spec.points():
            config_from_dict(point.config, f"{path.name} {point.label}")
    else:
        load_config(path)

