"""How parse, check and compile grow with the number of layers (a chain and a residual stack)."""

from __future__ import annotations

import gc
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cli_timing import archc_command, run_once
from common import ROOT, branch_arch, chain_arch, growth_exponent, median, residual_arch

SHAPES = {"chain": chain_arch, "residual stack": residual_arch, "branches": branch_arch}


def one(text: str, name: str) -> dict[str, float]:
    from archc.backends.emit_torch import emit
    from archc.core.source import Source
    from archc.driver import check_tree
    from archc.syntax.parser import parse

    gc.collect()
    source = Source(name, text)
    t0 = time.perf_counter()
    tree = parse(source)
    t1 = time.perf_counter()
    result = check_tree(source, tree)
    t2 = time.perf_counter()
    checked = result.variants[0].checked
    if checked is None:
        raise RuntimeError(f"{name} does not check: {result.diagnostics[:1]}")
    emit(checked, name)
    t3 = time.perf_counter()
    return {"parse": t1 - t0, "check": t2 - t1, "emit": t3 - t2, "compile": t3 - t0}


def measure(sizes: list[int], repeat: int) -> dict[str, Any]:
    out: dict[str, Any] = {"sizes": sizes, "shapes": {}}
    one(chain_arch(10), "warmup.arch")  # grammar and template loading are measured elsewhere
    for label, make in SHAPES.items():
        rows = {}
        for n in sizes:
            text = make(n)
            runs = [one(text, f"{n}.arch") for _ in range(repeat if n < 10_000 else 1)]
            rows[n] = {k: median([r[k] for r in runs]) for k in runs[0]}
        out["shapes"][label] = rows
    # The largest case through the command line: wall time and peak memory of the process.
    env = {**os.environ, "NO_COLOR": "1"}
    process: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, make in SHAPES.items():
            path = Path(tmp) / f"{label.replace(' ', '_')}.arch"
            path.write_text(make(sizes[-1]), encoding="utf-8")
            cmd = [*archc_command(), "compile", str(path), "-o", str(Path(tmp) / "out")]
            run_once(cmd, env, ROOT)
            elapsed, rss, code = run_once(cmd, env, ROOT)
            if code != 0:
                raise RuntimeError(f"archc compile failed on the {label} of {sizes[-1]} layers")
            process[label] = {"wall_s": elapsed, "max_rss_kib": rss}
    out["process"] = process
    return out


def markdown(res: dict[str, Any]) -> list[str]:
    sizes = res["sizes"]
    out = [
        "In-process, after a warm-up; median of several runs (one at the largest size). `check` = "
        "resolve + shape check, `emit` = render + format, `compile` = all three. "
        "Exponent: slope of log(time) over log(layers) from 100 layers up (1 = linear).",
        "",
    ]
    for label, rows in res["shapes"].items():
        out += [f"**{label}**", ""]
        out += ["| layers | parse ms | check ms | emit ms | compile ms | µs / layer |"]
        out.append("|---:|---:|---:|---:|---:|---:|")
        for n in sizes:
            r = rows[n] if n in rows else rows[str(n)]
            out.append(
                f"| {n:,} | {r['parse'] * 1000:.1f} | {r['check'] * 1000:.1f} | {r['emit'] * 1000:.1f} "
                f"| {r['compile'] * 1000:.1f} | {r['compile'] / n * 1e6:.0f} |"
            )
        fit = [n for n in sizes if n >= 100]
        exps = {
            k: growth_exponent(fit, [(rows[n] if n in rows else rows[str(n)])[k] for n in fit])
            for k in ("parse", "check", "emit", "compile")
        }
        out += ["", "Growth exponent: " + ", ".join(f"{k} {v:.2f}" for k, v in exps.items()), ""]
    out += ["`archc compile` as a process at the largest size:", ""]
    out += ["| architecture | wall s | max RSS MiB |", "|---|---:|---:|"]
    for label, row in res["process"].items():
        out.append(
            f"| {label}, {sizes[-1]:,} layers | {row['wall_s']:.2f} | {row['max_rss_kib'] / 1024:.0f} |"
        )
    out.append("")
    return out


if __name__ == "__main__":  # pragma: no cover - quick manual check
    print("\n".join(markdown(measure([int(a) for a in sys.argv[1:]] or [10, 100, 1000], 3))))
