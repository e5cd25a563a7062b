"""Regenerate netlists/coincidence_8x8.cir (the stand-alone coincidence testbench).

    .venv/bin/python tests/programming/make_reference_netlist.py
"""
from pathlib import Path

from eqspike_xbar.programming.netlist import Event, Scheme, coincidence_netlist
from eqspike_xbar.crossbar.spec import CrossbarSpec

ROOT = Path(__file__).resolve().parents[2]
PATH = ROOT / "netlists" / "coincidence_8x8.cir"
USAGE = ("* Run as it is: ngspice -b netlists/coincidence_8x8.cir (prints w_<cell>_<k>: state after event k;\n"
         "* sel = selected cell (0,7), row = (0,0) same row, col = (1,7) same column, uns = (1,0) unselected)")


def reference_text() -> str:
    text, _ = coincidence_netlist((8, 8), [Event(0, 7, 1), Event(0, 7, -1)], Scheme("V/2", 1.5), CrossbarSpec(),
                                  w0=0.5, include_path="../circuits/memristor_vteam.lib",
                                  title="reference testbench", measure=True)
    head, rest = text.split("\n", 1)
    return f"{head}\n{USAGE}\n{rest}"


if __name__ == "__main__":
    PATH.write_text(reference_text())
    print(f"wrote {PATH}")
