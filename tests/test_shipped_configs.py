"""Every config the repository ships loads and validates (each sweep's every point), so a
documented command never starts with a config error."""
import tomllib
from pathlib import Path

import pytest

from eqspike_xbar.config import load_config
from eqspike_xbar.experiments.sweep_spec import load_sweep

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.toml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_validates(path):
    if "axes" in tomllib.loads(path.read_text()):
        assert load_sweep(path).points()  # builds and validates every point's config and device
    else:
        load_config(path)

