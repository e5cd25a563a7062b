"""The crossbar read circuit, in one dataclass shared by the netlist generator and the fast solver.

Topology (M rows = word lines, N columns = bit lines; node names as in the netlists):

- crosspoint (i, j): row node ``r<i>_<j>``, column node ``c<i>_<j>``, the cell between them
  (1R: the device; 1T1R: the device in series with the access transistor's on-resistance,
  internal node ``m<i>_<j>``).
- word line i: segments of ``r_wordline_ohm`` between ``r<i>_<j>`` and ``r<i>_<j+1>``; its
  peripheral sits at the left end (j = 0), node ``rp<i>``, through a termination resistance.
- bit line j: segments of ``r_bitline_ohm`` between ``c<i>_<j>`` and ``c<i+1>_<j>``; its
  peripheral sits at the bottom end (i = M-1), node ``cp<j>``.
- a *driven* line's peripheral is an ideal voltage source ``V<peripheral>`` behind the
  driver resistance; a *sensed* line's peripheral is a virtual ground behind the sense
  resistance: either ideal (a 0 V source whose current is the output) or a transimpedance
  amplifier (op-amp of finite gain A with feedback Rf, input conductance (1+A)/Rf).
- forward read: rows driven, columns sensed, ``I_col = V_row @ W_f``;
  backward read: columns driven, rows sensed, ``I_row = W_b @ V_col`` (same devices).
  Ideal wires and sense give ``W_f = W_b = G`` (the conductance matrix, S).
- ``termination='role'``: driver and sense resistances belong to the peripheral circuits
  and swap sides with the direction; ``'line'``: word lines always end in ``r_driver_ohm`` and
  bit lines in ``r_sense_ohm``, so the circuit is reciprocal and ``W_b = W_f`` (with ideal sense).
- device read I-V: linear (``v0=None``), or ``I = G * v0 * sinh(V / v0)`` (small-signal
  conductance G, super-linear above ``v0`` volts).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import CircuitError
from ..validation import check_choice, check_positive_number

DIRECTIONS = ("forward", "backward")


@dataclass(frozen=True)
class CrossbarSpec:
    """Crossbar read-circuit parameters (resistances in ohm, voltages in V).

    Field names and defaults are those of ``[synapses.circuit]`` (``CircuitConfig``); the
    names without unit (``r_wordline=`` ...) are accepted as keywords, see :data:`OLD_NAMES`.
    """

    r_wordline_ohm: float = 1.0  #: word-line (row) wire resistance per cell segment, ohm
    r_bitline_ohm: float = 1.0  #: bit-line (column) wire resistance per cell segment, ohm
    r_driver_ohm: float = 0.0  #: output resistance of a line driver, ohm (0: ideal source)
    r_sense_ohm: float = 0.0  #: series resistance in front of the sense virtual ground, ohm
    sense: Literal["ideal", "tia"] = "ideal"  #: virtual ground: ideal, or finite-gain TIA
    tia_gain: float = 1e5  #: open-loop gain A of the TIA op-amp (dimensionless)
    tia_rf_ohm: float = 1e4  #: TIA feedback resistance, ohm (output V = -Rf * I)
    cell: Literal["1R", "1T1R"] = "1R"  #: cell type
    r_access_ohm: float = 1e3  #: on-resistance of the 1T1R access transistor, ohm
    v0: float | None = None  #: sinh read non-linearity voltage, V (None: linear device)
    termination: Literal["role", "line"] = "line"  #: see module docstring (as CircuitConfig)

    def __post_init__(self):
        for name in ("r_wordline_ohm", "r_bitline_ohm", "r_driver_ohm", "r_sense_ohm"):
            check_positive_number(name, getattr(self, name), allow_zero=True, error=CircuitError)
        check_positive_number("tia_gain", self.tia_gain, error=CircuitError)
        check_positive_number("tia_rf_ohm", self.tia_rf_ohm, error=CircuitError)
        check_positive_number("r_access_ohm", self.r_access_ohm, error=CircuitError)
        if self.v0 is not None:
            check_positive_number("v0", self.v0, error=CircuitError)
        check_choice("sense", self.sense, ("ideal", "tia"))
        check_choice("cell", self.cell, ("1R", "1T1R"))
        check_choice("termination", self.termination, ("role", "line"))

    @property
    def linear(self) -> bool:
        return self.v0 is None

    def terminations(self, direction: str) -> tuple[float, float]:
        """(word-line, bit-line) termination resistances in ohm for ``direction``."""
        check_direction(direction)
        if self.termination == "line" or direction == "forward":
            return self.r_driver_ohm, self.r_sense_ohm
        return self.r_sense_ohm, self.r_driver_ohm

    @property
    def tia_input_conductance(self) -> float:
        """Input conductance (1 + A) / Rf of the TIA virtual ground, S."""
        return (1.0 + self.tia_gain) / self.tia_rf_ohm


#: the field names before they carried their unit (and matched ``CircuitConfig``): still accepted
OLD_NAMES = {"r_wordline": "r_wordline_ohm", "r_bitline": "r_bitline_ohm", "r_driver": "r_driver_ohm",
             "r_sense": "r_sense_ohm", "r_access": "r_access_ohm", "tia_rf": "tia_rf_ohm"}
_fields_init = CrossbarSpec.__init__


def _init_with_old_names(self, *args, **kwargs):
    for old, new in OLD_NAMES.items():
        if old in kwargs:
            if new in kwargs:
                raise CircuitError(f"CrossbarSpec got both {old}= and {new}=: give {new}= only")
            kwargs[new] = kwargs.pop(old)
    _fields_init(self, *args, **kwargs)


_init_with_old_names.__doc__ = _fields_init.__doc__
CrossbarSpec.__init__ = _init_with_old_names


def check_direction(direction: str) -> str:
    return check_choice("direction", direction, DIRECTIONS)
