"""Device library: every preset loads and cites sources; bad parameters fail with one clear error."""
import math

import pytest

from eqspike_xbar.devices import DeviceArray, list_devices, load_device
from eqspike_xbar.devices.library import DEVICE_MODELS_DIR, save_device
from eqspike_xbar.errors import DeviceModelError, NetlistSafetyError

REQUIRED = {"ideal", "ag_asi", "taox_hfox", "pcmo", "alox_hfo2", "epiram", "hzo_fefet"}

# NeuroSim V3.0 table (DESIGN.md): levels, NL LTP/LTD, R_on (Ω), on/off, C2C σ.
TABLE = {
    "ag_asi": (97, 2.4, -4.88, 26e6, 12.5, 0.035),
    "taox_hfox": (128, 0.04, -0.63, 100e3, 10, 0.037),
    "pcmo": (50, 3.68, -6.76, 23e6, 6.84, 0.01),
    "alox_hfo2": (40, 1.94, -0.61, 16.9e3, 4.43, 0.05),
    "epiram": (64, 0.5, -0.5, 81e3, 50.2, 0.02),
    "hzo_fefet": (32, 1.75, 1.46, 559e3, 45, 0.005),
}


def test_library_has_the_required_devices():
    assert REQUIRED <= set(list_devices())


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_section_cites_a_source(name):
    p = load_device(name)
    assert p.name == name and p.sources
    for section in ("conductance", "nonlinearity", "pulse"):
        assert getattr(p, section).source, f"{name}: [{section}] has no source"
    DeviceArray(p, (4, 3), seed=0).apply_pulses([[1, -1, 0]] * 4)


@pytest.mark.parametrize("name,row", sorted(TABLE.items()))
def test_presets_match_the_published_table(name, row):
    levels, nl1, nl2, r_on, onoff, c2c = row
    p = load_device(name)
    assert p.conductance.levels == levels
    assert (p.nonlinearity.ltp, p.nonlinearity.ltd) == (nl1, nl2)
    assert p.conductance.gmax_S == pytest.approx(1 / r_on, rel=1e-3)
    assert p.conductance.gmax_S / p.conductance.gmin_S == pytest.approx(onoff, rel=1e-3)
    assert p.noise.c2c_sigma == c2c


def test_round_trip(tmp_path):
    p = load_device("ag_asi")
    save_device(p, tmp_path / "x.toml")
    assert load_device(tmp_path / "x.toml") == p


BASE = (DEVICE_MODELS_DIR / "ag_asi.toml").read_text()


@pytest.mark.parametrize("old,new,match", [
    ("gmin_S = 3.0769e-9", "gmin_S = 5e-8", "must be < gmax_S"),
    ("gmin_S = 3.0769e-9", "gmin_S = -1e-9", "negative conductance"),
    ("levels = 97", "levels = 1", "levels must be >= 2"),
    ("levels = 97", "levels = 97.5", "must be an integer"),
    ("ltp = 2.4", "ltp = nan", "finite"),
    ("ltp = 2.4", "ltp = 12.0", "outside"),
    ("c2c_sigma = 0.035", "c2c_sigma = -0.1", ">= 0"),
    ("c2c_sigma = 0.035", "c2c_sigmaa = 0.035", "unknown key noise.c2c_sigmaa"),
    ('name = "ag_asi"', 'name = "ag asi; .control"', "not a safe identifier"),
    ("width_s = 3e-4", "width_s = 0", "width_s must be > 0"),
])
def test_unphysical_parameters_fail_with_one_clear_error(tmp_path, old, new, match):
    assert old in BASE
    path = tmp_path / "bad.toml"
    path.write_text(BASE.replace(old, new))
    with pytest.raises((DeviceModelError, NetlistSafetyError), match=match) as info:
        load_device(path)
    assert "\n" not in str(info.value)


def test_unknown_and_unsafe_device_names(tmp_path):
    with pytest.raises(DeviceModelError, match="unknown device 'nope'.*ag_asi"):
        load_device("nope")
    with pytest.raises(NetlistSafetyError):
        load_device("../etc/passwd")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ")
    with pytest.raises(DeviceModelError, match="not valid TOML"):
        load_device(bad)
    assert math.isfinite(load_device("ideal").conductance.gmax_S)
