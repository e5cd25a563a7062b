"""The main job's report writer: Markdown + HTML with tables and the figures beside them.

Inputs are plain data (per-fidelity metrics Datasets, conductances, STDP Datasets, check
results), so the report can be rebuilt from a run folder without retraining; its figures
are drawn by :mod:`eqspike_xbar.figures.report`.
"""
from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np

from . import io
from .energy import COMPONENTS


#: SI prefixes from 1 down to femto (the range of this project's energies and times)
PREFIXES = (("", 1.0), ("m", 1e-3), ("µ", 1e-6), ("n", 1e-9), ("p", 1e-12), ("f", 1e-15))


def si_prefix(x: float, smallest: float = 1e-15) -> tuple[str, float] | None:
    """(prefix, scale) of the largest prefix down to ``smallest`` with |x| >= scale; None below."""
    for prefix, scale in PREFIXES:
        if scale < smallest:
            break
        if abs(x) >= scale:
            return prefix, scale
    return None


def fmt_si(x: float, unit: str, smallest: float = 1e-15) -> str:
    """``x`` with an SI prefix, 3 significant digits (unprefixed below ``smallest``)."""
    ps = si_prefix(x, smallest)
    return f"{x:.3g} {unit}" if ps is None else f"{x / ps[1]:.3g} {ps[0]}{unit}"


def fmt_joules(x: float) -> str:
    if x == 0:
        return "0"
    if not math.isfinite(x):
        return "–"
    return fmt_si(x, "J")


def fmt_seconds(x: float) -> str:
    if not math.isfinite(x):
        return "–"
    return fmt_si(x, "s", smallest=1e-9)


def table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


# ------------------------------------------------------------------ text
def energy_rows(metrics: dict, which: str) -> list[list[str]]:
    rows = []
    for comp in COMPONENTS + ("total", "gpu"):
        rows.append([comp if comp != "gpu" else "GPU estimate (same operations)"]
                    + [fmt_joules(float(ds[which].isel(epoch=-1).sel(component=comp))) for ds in metrics.values()])
    ratio = []
    for ds in metrics.values():
        e = ds[which].isel(epoch=-1)
        tot = float(e.sel(component="total"))
        ratio.append(f"{float(e.sel(component='gpu')) / tot:.3g}×" if tot > 0 else "–")
    rows.append(["GPU / crossbar"] + ratio)
    return rows


def reduction_statement(metrics: dict) -> str:
    ds = metrics.get("circuit") or metrics.get("device") or next(iter(metrics.values()))
    fid = ds.attrs.get("synapse_backend", "?")
    r_inf = float(ds.energy_inference.isel(epoch=-1).sel(component="gpu") / ds.energy_inference.isel(epoch=-1).sel(component="total"))
    r_train = float(ds.energy_train.isel(epoch=-1).sel(component="gpu") / ds.energy_train.isel(epoch=-1).sel(component="total"))
    verdict = lambda r, target: "reproduced" if r >= target else "not reproduced"  # noqa: E731
    return (
        f"At `{fid}` fidelity the GPU estimate needs {r_inf:.3g}× the energy of the crossbar system per inference "
        f"and {r_train:.3g}× per training image. The published 10³ (inference) reduction is "
        f"**{verdict(r_inf, 1e3)}** and the 10² (training) reduction **{verdict(r_train, 1e2)}** under these "
        "assumptions: GPU at its datasheet peak efficiency (a lower bound for the GPU), every simulated step "
        "a dense matrix-vector product on the GPU, the per-event energies of the [energy] config section "
        "(neuron update, spike, one sense conversion per line read), read pulses of the configured width."
    )


def write_report(run_dir: Path, title: str, sections: list[tuple[str, str]], figures: dict) -> tuple[Path, Path]:
    """Write report.md and report.html; ``sections``: (heading, markdown body); ``figures``:
    {file name: matplotlib figure} saved beside them."""
    run_dir = Path(run_dir)
    for name, fig in figures.items():
        io.save_figure(fig, run_dir / name)
    md = [f"# {title}", ""]
    for heading, body in sections:
        md += [f"## {heading}", "", body, ""]
    io.write_text(run_dir / "report.md", "\n".join(md))
    io.write_text(run_dir / "report.html", _markdown_to_html(title, sections))
    return run_dir / "report.md", run_dir / "report.html"


def _inline(text: str) -> str:
    import re

    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", t)
    t = re.sub(r"`(.+?)`", r"<code>\1</code>", t)
    return t


def _markdown_to_html(title: str, sections) -> str:
    """Tiny converter for what this report uses: tables, images, paragraphs, code blocks."""
    out = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + html.escape(title) + "</title>",
           "<style>body{font-family:sans-serif;max-width:1000px;margin:2em auto;line-height:1.4}"
           "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}"
           "td:first-child{text-align:left}img{max-width:100%}code,pre{background:#f4f4f4}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>"]
    for heading, body in sections:
        out.append(f"<h2>{html.escape(heading)}</h2>")
        lines = body.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if line.startswith("|"):
                rows = []
                while i < len(lines) and lines[i].startswith("|"):
                    if not set(lines[i].replace("|", "").strip()) <= set("-: "):
                        rows.append([c.strip() for c in lines[i].strip("|").split("|")])
                    i += 1
                out.append("<table>" + "".join(
                    "<tr>" + "".join(f"<{'th' if r == 0 else 'td'}>{_inline(c)}</{'th' if r == 0 else 'td'}>" for c in row) + "</tr>"
                    for r, row in enumerate(rows)) + "</table>")
                continue
            if line.startswith("```"):
                block = []
                i += 1
                while i < len(lines) and not lines[i].startswith("```"):
                    block.append(lines[i])
                    i += 1
                out.append("<pre>" + html.escape("\n".join(block)) + "</pre>")
            elif line.startswith("!["):
                src = line[line.index("(") + 1: line.rindex(")")]
                out.append(f"<p><img src='{html.escape(src)}'></p>")
            elif line.strip():
                out.append(f"<p>{_inline(line)}</p>")
            i += 1
    out.append("</body></html>")
    return "\n".join(out)
