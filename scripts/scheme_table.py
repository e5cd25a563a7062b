#!/usr/bin/env python3
"""Device x update-scheme table (markdown) from a finished or partial `sweep_schemes` sweep.

    .venv/bin/python scripts/scheme_table.py runs/<sweep-id>

Prints test accuracy after the sweep's epoch, pulses and energy per training image per cell,
with NeuroSim V3's published online-training accuracy (MLP 400-100-10, SGD; DESIGN.md) beside
each device. Cells still pending print as "…"; failed ones as "failed".
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr

NEUROSIM_V3 = {"ag_asi": "~72 %", "taox_hfox": "~80 %", "pcmo": "~33 %", "alox_hfo2": "~20 %",
               "epiram": "~92 %", "hzo_fefet": "~88 %"}


def _scheme_cost(point: Path) -> str:
    """The scheme's own energy per training image (programming + extra reads + digital memory)
    and its memory per synapse, from the point's metrics.nc."""
    m = xr.load_dataset(point / "metrics.nc")
    e = m.energy_train.isel(epoch=-1)
    own = sum(float(e.sel(component=c)) for c in ("programming", "scheme_reads", "digital_memory"))
    bits = float(m.attrs.get("update_bits_per_synapse", float("nan")))
    extra = int(m.attrs.get("update_extra_devices_per_synapse", 0))
    return f"{own * 1e9:,.1f} nJ, {bits:g} b" + (f" + {extra} dev" if extra else "")


def main(folder: str) -> int:
    ds = xr.load_dataset(Path(folder) / "sweep.nc")
    schemes = [str(v) for v in ds["synapses_update"].values]
    names = [s.split('"')[1] for s in schemes]
    print("Each cell: test accuracy after the epoch (pulses per training image; the scheme's own energy per "
          "training image = programming + extra reads + digital memory; memory per synapse in bits, + extra devices)\n")
    print("| device | " + " | ".join(names) + " | NeuroSim V3 online training |")
    print("|---" * (len(names) + 2) + "|")
    for dev in ds["synapses_device"].values:
        cells = []
        for sch in schemes:
            p = ds.sel(synapses_update=sch, synapses_device=dev)
            status = str(p["status"].values)
            if status != "ok":
                cells.append("…" if status == "pending" else status)
                continue
            acc = float(np.asarray(p["test_accuracy"]).ravel()[0])
            pulses = float(np.asarray(p["pulses_train_per_image"]).ravel()[0]) if "pulses_train_per_image" in p else float("nan")
            cost = _scheme_cost(Path(folder) / "points" / str(p["point_id"].values))
            cells.append(f"{100 * acc:.2f} % ({pulses:,.0f} pulses; {cost})")
        print(f"| {dev} | " + " | ".join(cells) + f" | {NEUROSIM_V3.get(str(dev), 'n/a')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
