import numpy as np
import pytest

from eqspike_xbar.config import config_from_dict


@pytest.fixture
def make_cfg():
    """Build an ExperimentConfig from nested dict overrides of the defaults."""

    def make(**sections):
        return config_from_dict(sections)

    return make


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
