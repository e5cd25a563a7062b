"""One exception hierarchy for the whole package.

Every error a user can cause derives from :class:`EqSpikeXbarError`; the command line
prints its message as one line (``eqspike-xbar: error: ...``) and exits with status 2.
Messages name the argument or file at fault and say what to do about it.
"""


class EqSpikeXbarError(Exception):
    """Base class: a user-facing error with a one-line message."""


class ConfigError(EqSpikeXbarError):
    """Malformed, unknown or out-of-range configuration value."""


class DataError(EqSpikeXbarError):
    """A data set is missing, corrupt (md5) or unknown."""


class TrainingDiverged(EqSpikeXbarError):
    """Non-finite values appeared during training; the last good checkpoint is kept."""


class RunFolderError(EqSpikeXbarError):
    """The run folder cannot be created, written or resumed."""


class DeviceModelError(EqSpikeXbarError):
    """Unphysical or missing device-model parameters, unknown device, bad measurement file."""


class CircuitError(EqSpikeXbarError):
    """Bad crossbar/circuit input (shapes, non-finite or negative conductances, sizes)."""


class NetlistSafetyError(CircuitError):
    """Text that would reach a netlist is not a safe identifier or number."""


class NgspiceError(CircuitError):
    """ngspice is missing, failed to converge, or timed out."""
