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


def test_the_4bit_config_is_four_bits_with_its_largest_code_at_theta():
    from eqspike_xbar.synapses.schemes import accumulator_range_steps, threshold_steps

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "mnist_device_4bit.toml")
    u = cfg.synapses.update
    theta = threshold_steps(cfg.synapses)
    assert (u.accumulator_bits, u.accumulator_rounding, theta) == (4, "event", 4.0)
    assert accumulator_range_steps(u, theta) * 7 / 8 == pytest.approx(theta)
