"""ngspice runner: the one place that talks to libngspice (PySpice 1.5 shared-library mode).

API
---
``NgspiceRunner(timeout_s=120.0, retry_convergence=True)``
    ``.run(netlist_text, timeout_s=None) -> NgspiceResult``
        Checks the text with ``validation.check_netlist`` (``.include`` allowed only for files
        in ``circuits/``), loads it and runs whatever analysis it holds (``.op``, ``.tran``,
        ``.dc`` ...). The netlist should say ``.options klu``.
    ``.alter({"r1": 1e3, "v2": 0.1}, param=None)``
        Changes element values (or ``param``) of the circuit loaded by the last ``run``;
        then ``.rerun()`` simulates again without reloading (ms instead of a reload).
    ``.rerun(timeout_s=None) -> NgspiceResult``
    ``.has_klu``, ``.version``
``NgspiceResult``: ``.analysis`` ('op', 'tran', ...), ``.plot``, ``.vectors`` (dict of
    lower-case name -> numpy array: node voltages in V such as ``'n1'``, branch currents in
    A such as ``'v1#branch'``, ``'time'`` in s for transients), ``.elapsed_s``, ``.log``;
    ``result["v1#branch"]`` raises ``NgspiceError`` naming what exists.
``HEADER`` (first words of a generated netlist), ``wrap_continuation(words)`` (``+`` lines).
``include_line(name) -> (line, path)``: ``.include "<repo>/circuits/<name>"`` and its path.
``circuit_file(name) -> Path``, ``CIRCUITS_DIR``, ``find_library() -> str``,
``classify_message(stream, text) -> 'info'|'warning'|'error'``, ``INSTALL_HINT``.

Behaviour
---------
- Library: ``$NGSPICE_LIBRARY_PATH``, common paths, then ``ctypes.util.find_library``;
  missing -> ``NgspiceError`` naming ``scripts/setup.sh`` / ``apt-get install -t
  bookworm-backports ngspice libngspice0``. A library without KLU works but warns once.
- ``set num_threads=1`` in every process: one ngspice thread per instance.
- Convergence failures are retried with gmin stepping, then source stepping
  (``RETRY_OPTIONS``); otherwise ``NgspiceError`` says so. Every run has a time limit
  (``bg_run`` + ``bg_halt``), exceeded -> ``NgspiceError``.
- The stderr/stdout lines of libngspice are classified in one function
  (``classify_message``); newer libngspice's solver lines on stderr are not errors.
"""
from .library import CIRCUITS_DIR, INSTALL_HINT, allowed_includes, circuit_file, find_library, include_line
from .runner import NgspiceResult, NgspiceRunner, classify_message
from .text import HEADER, wrap_continuation

__all__ = [
    "CIRCUITS_DIR", "HEADER", "INSTALL_HINT", "NgspiceResult", "NgspiceRunner", "allowed_includes",
    "circuit_file", "classify_message", "find_library", "include_line",
    "wrap_continuation",
]
