"""Optional: the Verilog-A model compiled with openvaf-r reproduces the ngspice subcircuit."""
import numpy as np
import pytest

from eqspike_xbar.devices.characterize import PulseTrain, VteamParams, pulse_train_netlist, read_conductances
from eqspike_xbar.devices.osdi import INSTALL_HINT, compile_va, find_openvaf, osdi_netlist, run_batch

pytestmark = [pytest.mark.ngspice,
              pytest.mark.skipif(find_openvaf() is None, reason=f"openvaf-r not found: {INSTALL_HINT}")]


def test_osdi_model_matches_subcircuit(tmp_path):
    from eqspike_xbar.spice import NgspiceRunner

    train = PulseTrain(n_ltp=30, n_ltd=30, cycles=1)
    params = VteamParams(w0=0.2)
    netlist, reads = pulse_train_netlist("memristor_vteam", params, train, 1e-9)
    ref = read_conductances(NgspiceRunner(timeout_s=120).run(netlist).vectors, reads, train.v_read)
    osdi = compile_va("memristor_vteam", tmp_path)
    t, _, i = run_batch(osdi_netlist(netlist, osdi), tmp_path)
    g = read_conductances({"time": t, "vdrive#branch": i}, reads, train.v_read)
    assert np.max(np.abs(g - ref)) / (params.gmax - params.gmin) < 1e-3
    assert g[30] > g[0] and g[-1] < g[30]  # SET raised, RESET lowered the conductance
