"""An old libngspice without KLU (Debian bookworm's 39.3, unpacked by scripts/fetch_old_ngspice.sh,
which `make test` runs) still runs the generated crossbar netlists, gives the fast solver's
currents, and the runner warns exactly once, naming the install command for a KLU build.
Runs in a subprocess: libngspice is loaded once per process."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD = sorted((ROOT / ".cache" / "ngspice-39").glob("usr/lib/*/libngspice.so.0"))

pytestmark = [pytest.mark.ngspice,
              pytest.mark.skipif(not OLD, reason="old libngspice not unpacked: run scripts/fetch_old_ngspice.sh")]

CHILD = r"""
import json, logging, numpy as np
records = []
class Keep(logging.Handler):
    def emit(self, record):
        records.append((record.levelname, record.getMessage()))
logging.getLogger("eqspike_xbar").addHandler(Keep())
logging.getLogger("eqspike_xbar").setLevel(logging.WARNING)
from eqspike_xbar.crossbar import CrossbarSpec, read_currents
from eqspike_xbar.spice import NgspiceRunner
rng = np.random.default_rng(3)
g = rng.uniform(1e-6, 1e-4, (6, 5))
v = rng.uniform(0, 0.2, (2, 6))
spec = CrossbarSpec(r_wordline_ohm=2.0, r_bitline_ohm=3.0, r_driver_ohm=5.0, termination="line")
runner = NgspiceRunner(timeout_s=30)
spice = read_currents(g, v, spec, "forward", backend="ngspice", runner=runner)
spice2 = read_currents(g, v[:, :5], spec, "backward", backend="ngspice", runner=NgspiceRunner(timeout_s=30))
fast = read_currents(g, v, spec, "forward", backend="fast")
fast2 = read_currents(g, v[:, :5], spec, "backward", backend="fast")
err = max(float(np.abs(spice - fast).max() / np.abs(fast).max()),
          float(np.abs(spice2 - fast2).max() / np.abs(fast2).max()))
print(json.dumps({"version": runner.version, "klu": runner.has_klu, "err": err, "records": records}))
"""


def test_old_ngspice_without_klu_runs_crossbars_and_warns_once():
    env = dict(os.environ, NGSPICE_LIBRARY_PATH=str(OLD[0]))
    proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["version"] == 39 and out["klu"] is False
    assert out["err"] < 1e-9  # same circuit, same answer, only slower
    warnings = [msg for level, msg in out["records"] if level == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "no KLU" in warnings[0] and "apt-get install -t bookworm-backports ngspice libngspice0" in warnings[0]
