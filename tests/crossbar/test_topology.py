"""One topology, three renderings: the read netlist, the programming netlist and the nodal matrices."""
import numpy as np
import pytest

from eqspike_xbar.crossbar import CrossbarSpec, Topology, crossbar_netlist, read_topology
from eqspike_xbar.crossbar.nodal import NodalModel, oriented
from eqspike_xbar.errors import CircuitError
from eqspike_xbar.programming import Event, coincidence_netlist


def _branches(text):
    """{element name: (node a, node b)} of the two-terminal wire elements of a netlist."""
    out = {}
    for line in text.splitlines():
        w = line.split()
        if w and w[0][:2] in ("RW", "VW", "RB", "VB", "RT", "VT"):
            out[w[0][1:]] = (w[1], w[2])
    return out


def test_both_netlists_render_the_same_wires():
    spec = CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=0.0, r_driver_ohm=5.0, r_sense_ohm=5.0)
    read = crossbar_netlist(np.full((3, 4), 1e-5), np.zeros(3), spec, include_path="/x.lib")
    prog, _ = coincidence_netlist((3, 4), [Event(0, 3, 1)], spec=spec, include_path="/y.lib")
    topo = read_topology((3, 4), spec, "forward")
    expected = {}
    for w in topo.wires:
        for name, a, b in zip(topo.element_names(w.kind), w.a, w.b):
            expected[name] = (topo.node_names[a], topo.node_names[b])
    assert _branches(read) == expected == _branches(prog)
    assert len(expected) == 3 * 3 + 4 * 2 + 3 + 4


def test_nodal_unknowns_merge_shorted_nodes_and_number_ports_last():
    g = np.full((2, 3), 1e-5)
    model = NodalModel(oriented(g, CrossbarSpec(r_wordline_ohm=0.0, r_bitline_ohm=1.0), "forward"),
                       CrossbarSpec(r_wordline_ohm=0.0, r_bitline_ohm=1.0))
    # word lines shorted and driven ideally: every row node is its driver port
    assert (model.lr == model.drive[:, None]).all()
    assert model.n_int == 2 * 3 - 3  # column nodes, less the three merged into their sense ports
    assert list(model.drive) == [3, 4] and list(model.sense) == [5, 6, 7]


def test_rotation_swaps_rows_and_columns():
    t = Topology((2, 5), 1.0, 2.0, 3.0, 4.0)
    assert t.rotated() == Topology((5, 2), 2.0, 1.0, 4.0, 3.0) and t.rotated().rotated() == t


def test_bad_topology_is_one_clear_error():
    with pytest.raises(CircuitError, match="shape"):
        Topology((0, 3), 1.0, 1.0, 0.0, 0.0)
    with pytest.raises(CircuitError, match="r_bitline_ohm"):
        Topology((2, 3), 1.0, -1.0, 0.0, 0.0)


def test_old_field_names_are_still_accepted():
    assert CrossbarSpec(r_wordline=2.0, r_driver=3.0, tia_rf=5e3) == CrossbarSpec(r_wordline_ohm=2.0, r_driver_ohm=3.0,
                                                                                 tia_rf_ohm=5e3)
    with pytest.raises(CircuitError, match="both"):
        CrossbarSpec(r_wordline=2.0, r_wordline_ohm=2.0)
    assert CrossbarSpec().termination == "line"  # as the config's [synapses.circuit]
