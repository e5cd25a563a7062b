"""ngspice in shared-library mode (through PySpice 1.5): load, run, alter, read vectors.

This is the only module that talks to libngspice. ngspice keeps global state, so one
process holds one library instance; :class:`NgspiceRunner` objects share it under a lock
(parallel simulations need one process each, as the sweep's workers are).
"""
from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from ..errors import NgspiceError, NetlistSafetyError
from ..validation import check_netlist, spice_number
from .library import INSTALL_HINT, allowed_includes, find_library

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Messages from libngspice: the one place that decides what a stdout/stderr line means.
# Newer libngspice print solver and progress lines on stderr ("Using KLU as Direct Linear
# Solver", "Note: ...", "Trying gmin stepping"); those are not errors.
_BENIGN = re.compile(
    r"^\s*(using (klu|sparse)|note:|warning:|trying |gmin stepping|source stepping|supplies reduced|"
    r"doing analysis|no\. of data rows|circuit:|reference value|initial transient|\*\*|$|"
    r"transient solution|total analysis time|binary raw file|ascii raw file|"
    r"reducing trtol|finished|simulation interrupted|background thread)",
    re.IGNORECASE,
)
_FAILURE = re.compile(
    r"(error|singular matrix|iteration limit|timestep too small|aborted|failed|"
    r"could not find|unknown (device|model|subckt|parameter)|no such|not converge|nonconvergence)",
    re.IGNORECASE,
)
_CONVERGENCE = re.compile(
    r"(iteration limit|timestep too small|gmin stepping failed|source stepping failed|"
    r"not converge|nonconvergence|too many iterations)",
    re.IGNORECASE,
)
_DEVICE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{0,127}$")

#: Option sets tried, in order, after a convergence failure (gmin then source stepping).
RETRY_OPTIONS = (
    "itl1=500 gminsteps=100 srcsteps=0",
    "itl1=1000 itl4=100 gminsteps=0 srcsteps=100",
)


def classify_message(stream: str, text: str) -> str:
    """``'info'``, ``'warning'`` or ``'error'`` for one line ngspice printed on ``stream``."""
    stripped = text.strip()
    if stripped.lower().startswith("warning"):
        return "warning"
    if _BENIGN.match(stripped) and not _CONVERGENCE.search(stripped):
        return "info"
    if stream == "stderr" or _FAILURE.search(stripped):
        return "error"
    return "info"


@dataclass
class NgspiceResult:
    """Vectors of one analysis: node voltages (V), branch currents (A), ``time`` (s)."""

    analysis: str  #: plot type: 'op', 'tran', 'dc', 'ac', ...
    plot: str  #: ngspice plot name, e.g. 'op3'
    vectors: dict[str, np.ndarray]  #: lower-case names: 'n1', 'v1#branch', 'time', ...
    elapsed_s: float  #: wall time of the run (s), excluding loading
    log: list[str] = field(default_factory=list)  #: ngspice output lines of the run

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.vectors[name.lower()]
        except KeyError:
            raise NgspiceError(f"ngspice result has no vector {name!r} (have {len(self.vectors)}: "
                               f"{', '.join(sorted(self.vectors)[:8])}...)") from None


class _Library:
    """The process-wide libngspice instance (PySpice NgSpiceShared subclass, created lazily)."""

    lock = threading.RLock()
    _shared = None
    _klu_warned = False
    has_klu = False
    version = None

    @classmethod
    def get(cls):
        with cls.lock:
            if cls._shared is None:
                cls._shared = cls._create()
            return cls._shared

    @classmethod
    def _create(cls):
        path = find_library()
        try:
            from PySpice.Spice.NgSpice.Shared import NgSpiceShared, ffi
        except ImportError as exc:  # pragma: no cover - PySpice is a dependency
            raise NgspiceError(f"PySpice is not importable ({exc}): reinstall with scripts/setup.sh") from None

        class _Shared(NgSpiceShared):
            lines: list = []

            @staticmethod
            def _send_char(message_c, ngspice_id, user_data):
                self = ffi.from_handle(user_data)
                raw = ffi.string(message_c).decode("utf-8", "replace")
                stream, _, text = raw.partition(" ")
                kind = classify_message(stream, text)
                self.lines.append((kind, text))
                if kind == "warning":
                    log.debug("ngspice: %s", text)
                return 0

            @staticmethod
            def _background_thread_running(not_running, ngspice_id, user_data):
                # ngspice calls this with True when its background thread has ended
                self = ffi.from_handle(user_data)
                (self.bg_done.set if not_running else self.bg_done.clear)()
                return 0

            def _get_version(self):  # parsed from our own line log in _create
                self._ngspice_version = None

        NgSpiceShared.LIBRARY_PATH = path
        pyspice_log = logging.getLogger("PySpice")
        old = pyspice_log.level
        pyspice_log.setLevel(logging.ERROR)  # "Unsupported Ngspice version 46" is harmless
        try:
            shared = _Shared(ngspice_id=0, send_data=False)
        except OSError as exc:
            raise NgspiceError(f"cannot load libngspice from {path} ({exc}): {INSTALL_HINT}") from None
        finally:
            pyspice_log.setLevel(old)
        shared.ffi = ffi
        shared.lines = []
        shared.bg_done = threading.Event()
        _command(shared, "version -f")
        banner = " ".join(text for _, text in shared.lines)
        match = re.search(r"ngspice-(\d+)", banner)
        cls.version = int(match.group(1)) if match else None
        cls.has_klu = "KLU" in banner
        _command(shared, "set num_threads=1")
        if not cls.has_klu and not cls._klu_warned:
            cls._klu_warned = True
            log.warning(
                "libngspice %s (ngspice-%s) has no KLU solver: crossbar simulations will be 10-100x "
                "slower; %s", path, cls.version, INSTALL_HINT)
        return shared


def _command(shared, command: str) -> None:
    if len(command) > 1023:
        raise NgspiceError(f"ngspice command longer than 1023 characters: {command[:40]!r}...")
    rc = shared._ngspice_shared.ngSpice_Command(command.encode("ascii"))
    if rc:
        raise NgspiceError(f"ngspice command {command.split()[0]!r} failed (return code {rc})")


class NgspiceRunner:
    """Run netlists in libngspice. ``timeout_s``: time limit per simulation (s)."""

    def __init__(self, timeout_s: float = 120.0, retry_convergence: bool = True):
        self.timeout_s = float(timeout_s)
        self.retry_convergence = bool(retry_convergence)
        self._shared = _Library.get()
        self._token = None

    # -- public API --------------------------------------------------------------------
    @property
    def has_klu(self) -> bool:
        return _Library.has_klu

    @property
    def version(self):
        return _Library.version

    def run(self, netlist: str, timeout_s: float | None = None,
            vectors: Iterable[str] | None = None) -> NgspiceResult:
        """Load ``netlist`` (checked by ``check_netlist``) and run the analysis it holds.
        ``vectors``: the names to read back (default: all; a 128x128 crossbar has 33,000
        vectors, and reading them all costs a quarter of a second)."""
        check_netlist(netlist, allowed_includes())
        vectors = _vector_names(vectors)
        with _Library.lock:
            self._load(netlist)
            return self._run_loaded(timeout_s, vectors)

    def rerun(self, timeout_s: float | None = None, vectors: Iterable[str] | None = None) -> NgspiceResult:
        """Run the circuit loaded by this runner's last :meth:`run` again (after :meth:`alter`)."""
        vectors = _vector_names(vectors)
        with _Library.lock:
            self._check_loaded()
            return self._run_loaded(timeout_s, vectors)

    def alter(self, values: Mapping[str, float] | Iterable[tuple[str, float]], param: str | None = None) -> None:
        """Change element values of the loaded circuit: ``{"r1": 1e3, "v2": 0.1}``.

        With ``param``, sets that parameter instead of the element value
        (``alter r1 param = value``). Commands are batched (';'-joined, ≤ 1023 chars).
        """
        items = values.items() if isinstance(values, Mapping) else values
        if param is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$", str(param)):
            raise NetlistSafetyError(f"alter parameter {param!r} is not a safe identifier")
        suffix = f" {param}" if param else ""
        with _Library.lock:
            self._check_loaded()
            batch, length = [], 0
            for name, value in items:
                if not isinstance(name, str) or not _DEVICE_NAME.match(name):
                    raise NetlistSafetyError(f"alter element name {name!r} is not a safe SPICE element name")
                cmd = f"alter {name.lower()}{suffix} = {spice_number(value, f'alter value for {name}')}"
                if length + len(cmd) + 1 > 1023:
                    _command(self._shared, ";".join(batch))
                    batch, length = [], 0
                batch.append(cmd)
                length += len(cmd) + 1
            if batch:
                _command(self._shared, ";".join(batch))
            self._raise_on_errors("alter")

    # -- internals ---------------------------------------------------------------------
    def _check_loaded(self):
        if self._token is None or getattr(_Library, "_loaded_token", None) is not self._token:
            raise NgspiceError("no circuit of this runner is loaded in ngspice: call run(netlist) first")

    def _load(self, netlist: str) -> None:
        shared = self._shared
        shared.lines.clear()
        _command(shared, "destroy all")
        if getattr(_Library, "_loaded_token", None) is not None:
            _command(shared, "remcirc")
        _Library._loaded_token = None
        lines = [line for line in netlist.splitlines() if line.strip()]
        if not lines or not lines[-1].strip().lower() == ".end":
            lines.append(".end")
        # one NUL-separated buffer and an array of pointers into it (49,000 lines at 128x128)
        ffi = shared.ffi
        raw = "\0".join(lines).encode("utf-8") + b"\0"
        buf = ffi.new("char[]", raw)
        ends = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8) == 0)
        starts = np.concatenate([[0], ends[:-1] + 1])
        addrs = np.zeros(len(lines) + 1, dtype=np.uintp)  # NULL-terminated, pointer-sized
        addrs[:-1] = starts.astype(np.uintp) + np.uintp(int(ffi.cast("uintptr_t", buf)))
        rc = shared._ngspice_shared.ngSpice_Circ(ffi.cast("char **", ffi.from_buffer(addrs)))
        del buf, addrs
        if rc:
            raise NgspiceError(f"ngspice could not load the netlist (return code {rc})")
        self._raise_on_errors("loading the netlist")
        self._token = object()
        _Library._loaded_token = self._token

    def _raise_on_errors(self, what: str) -> None:
        errors = [text for kind, text in self._shared.lines if kind == "error"]
        if errors:
            raise NgspiceError(f"ngspice reported an error while {what}: {' | '.join(errors[:3])}")

    def _run_loaded(self, timeout_s: float | None, vectors: Iterable[str] | None = None) -> NgspiceResult:
        shared = self._shared
        timeout = self.timeout_s if timeout_s is None else float(timeout_s)
        attempts = (None,) + (RETRY_OPTIONS if self.retry_convergence else ())
        for attempt, options in enumerate(attempts):
            if options:
                log.info("ngspice did not converge; retrying with options %s", options)
                _command(shared, f"option {options}")
            shared.lines.clear()
            before = _current_plot(shared)
            t0 = time.perf_counter()
            self._background_run(timeout)
            elapsed = time.perf_counter() - t0
            errors = [text for kind, text in shared.lines if kind == "error"]
            plot = _current_plot(shared)
            if not errors and plot and plot != before:
                try:
                    return NgspiceResult(
                        analysis=re.sub(r"\d+$", "", plot), plot=plot,
                        vectors=_read_vectors(shared, plot, vectors), elapsed_s=elapsed,
                        log=[text for _, text in shared.lines])
                finally:
                    _command(shared, f"destroy {plot}")
            if plot and plot != before:
                _command(shared, f"destroy {plot}")
            convergence = any(_CONVERGENCE.search(e) for e in errors)
            if not convergence:
                detail = " | ".join(errors[:3]) or "no analysis produced (does the netlist hold .op or .tran?)"
                raise NgspiceError(f"ngspice simulation failed: {detail}")
        raise NgspiceError(
            "ngspice did not converge, also not with gmin and source stepping "
            f"({' | '.join(errors[:2])}): check for floating nodes or unphysical device values")

    def _background_run(self, timeout: float) -> None:
        shared = self._shared
        lib = shared._ngspice_shared
        shared.bg_done.clear()
        _command(shared, "bg_run")
        deadline = time.perf_counter() + timeout
        delay = 1e-4
        started = time.perf_counter()
        while not shared.bg_done.is_set() or lib.ngSpice_running():
            if not lib.ngSpice_running() and time.perf_counter() - started > 1.0:
                break  # the thread never started (nothing to run); errors are in the log
            if time.perf_counter() > deadline:
                _command(shared, "bg_halt")
                grace = time.perf_counter() + 10.0
                while lib.ngSpice_running() and time.perf_counter() < grace:
                    time.sleep(0.01)
                raise NgspiceError(
                    f"ngspice simulation exceeded the time limit of {timeout:g} s and was halted: "
                    "use the fast solver (backend 'fast'), smaller tiles, or a larger timeout_s")
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01)


_VECTOR_NAME = re.compile(r"^[a-z0-9_#.:\[\]-]{1,128}$")


def _vector_names(vectors: Iterable[str] | None) -> list[str] | None:
    """Lower-case vector names to read back, checked before anything runs (None: all)."""
    if vectors is None:
        return None
    names = [str(name).lower() for name in vectors]
    for name in names:
        if not _VECTOR_NAME.match(name):
            raise NetlistSafetyError(f"vector name {name!r} is not a plain ngspice vector name "
                                     "(letters, digits and _ # . : [ ] -)")
    return names


def _current_plot(shared) -> str:
    ptr = shared._ngspice_shared.ngSpice_CurPlot()
    if ptr == shared.ffi.NULL:
        return ""
    name = shared.ffi.string(ptr).decode()
    return "" if name == "const" else name


def _read_vectors(shared, plot: str, wanted: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    ffi, lib = shared.ffi, shared._ngspice_shared
    if wanted is None:
        names, i, all_names = lib.ngSpice_AllVecs(plot.encode()), 0, []
        while names[i] != ffi.NULL:
            all_names.append(ffi.string(names[i]).decode())
            i += 1
    else:
        all_names = list(wanted)
    out = {}
    for name in all_names:
        info = lib.ngGet_Vec_Info(f"{plot}.{name}".encode())
        if info == ffi.NULL:
            if wanted is not None:
                raise NgspiceError(f"ngspice result has no vector {name!r} (plot {plot})")
            continue
        n = info.v_length
        if info.v_compdata == ffi.NULL:
            data = np.frombuffer(ffi.buffer(info.v_realdata, n * 8), dtype=np.float64).copy()
        else:
            raw = np.frombuffer(ffi.buffer(info.v_compdata, n * 16), dtype=np.float64)
            data = raw[0::2] + 1j * raw[1::2]
        out[name.lower()] = data
    return out
