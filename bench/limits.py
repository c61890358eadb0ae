"""Bounded work: `archc lint` as a process on models up to the layer limit, and on hostile inputs.

The resolver refuses a model whose expansion exceeds expansion.MAX_LAYERS before
expanding it; below the limit, time and memory should grow linearly. This measures
both, plus the worst input file under the size cap (a one-line chain).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from cli_timing import archc_command, run_once
from common import ROOT, growth_exponent


def repeat_arch(layers: int) -> str:
    """`layers` relus: a block of 100, repeated."""
    body = " | ".join(["relu"] * 100)
    return (
        f"block B() {{\n  {body}\n}}\n"
        "arch a(classes = 2, length = 10, alphabet = 4) {\n"
        f"  s = seq {{ B() * {max(1, layers // 100)} }}\n  flatten\n  fc = linear(classes)\n}}\n"
    )


def hostile() -> dict[str, str]:
    doubling = "\n".join(
        ["block B0() { relu }"] + [f"block B{i}() {{ B{i - 1}() * 2 }}" for i in range(1, 41)]
    )
    chain = "\n".join(["block C0() { relu }"] + [f"block C{i}() {{ c = C{i - 1}() }}" for i in range(1, 200)])
    head = "arch a(classes = 2, length = 10, alphabet = 4) {\n"
    tail = "  flatten\n  fc = linear(classes)\n}\n"
    from archc.frontends.files import MAX_INPUT_BYTES

    steps = (MAX_INPUT_BYTES - 200) // len("relu | ")
    return {
        "`B() * 1000000000`": "block B() { relu }\n" + head + "  s = seq { B() * 1000000000 }\n" + tail,
        "40 doubling blocks (2^40 layers)": doubling + "\n" + head + "  s = seq { B40() }\n" + tail,
        "200 blocks, each using the next": chain + "\n" + head + "  c = C199()\n" + tail,
        f"one-line chain of {steps:,} steps (a file at the size cap)": head
        + "  "
        + " | ".join(["relu"] * steps)
        + "\n"
        + tail,
    }


def measure(sizes: list[int]) -> dict[str, Any]:
    env = {**os.environ, "NO_COLOR": "1"}
    out: dict[str, Any] = {"sizes": sizes, "rows": {}, "hostile": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = Path(tmp) / f"r{n}.arch"
            path.write_text(repeat_arch(n))
            elapsed, rss, code = run_once([*archc_command(), "lint", str(path)], env, ROOT)
            out["rows"][n] = {"wall_s": elapsed, "max_rss_kib": rss, "exit": code}
        for label, text in hostile().items():
            path = Path(tmp) / "h.arch"
            path.write_text(text)
            elapsed, rss, code = run_once([*archc_command(), "lint", str(path)], env, ROOT)
            out["hostile"][label] = {"wall_s": elapsed, "max_rss_kib": rss, "exit": code}
    return out


def markdown(res: dict[str, Any]) -> list[str]:
    from archc.ir.expansion import MAX_LAYERS

    sizes = res["sizes"]
    rows = {int(k): v for k, v in res["rows"].items()}
    out = [
        f"`archc lint` as a process on a block of 100 layers repeated, up to the limit of "
        f"{MAX_LAYERS:,} expanded layers (one run each).",
        "",
        "| layers | exit | wall s | max RSS MiB |",
        "|---:|---:|---:|---:|",
    ]
    for n in sizes:
        r = rows[n]
        out.append(f"| {n:,} | {r['exit']} | {r['wall_s']:.2f} | {r['max_rss_kib'] / 1024:.0f} |")
    exp = growth_exponent(sizes, [rows[n]["wall_s"] for n in sizes])
    out += ["", f"Growth exponent of wall time: {exp:.2f} (1 = linear).", ""]
    out += ["Hostile inputs (exit 1: refused with a diagnostic):", ""]
    out += ["| input | exit | wall s | max RSS MiB |", "|---|---:|---:|---:|"]
    for label, r in res["hostile"].items():
        out.append(f"| {label} | {r['exit']} | {r['wall_s']:.2f} | {r['max_rss_kib'] / 1024:.0f} |")
    out.append("")
    return out


if __name__ == "__main__":  # pragma: no cover - quick manual check
    print("\n".join(markdown(measure([25_000, 50_000, 100_000, 199_900]))))
