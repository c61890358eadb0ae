"""The exact length analysis (`archc lint --lengths`) against checking lengths one by one.

For each example: the analysis's wall time and checker runs, and the time to check every
length from 1 to N one by one (what tests/test_symbolic.py compares it with), median of
`rounds` for the analysis.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def measure(rounds: int, upto: int) -> dict[str, Any]:
    from archc.checks.lengths import LengthProbe, analyse
    from archc.checks.shapes import ShapeChecker
    from archc.core.diagnostics import CompileError, Reporter
    from archc.frontends.load import load
    from archc.ir.resolve import Resolver

    rows = []
    for path in sorted((ROOT / "examples").glob("*.arch")):
        loaded = load(str(path))
        assert loaded.tree is not None
        arch = loaded.tree.archs[0]
        times = []
        info = None
        for _ in range(rounds):
            start = time.perf_counter()
            info = analyse(LengthProbe(loaded.source, loaded.tree, arch, {}), 1000)
            times.append(time.perf_counter() - start)
        assert info is not None and info.valid is not None
        start = time.perf_counter()
        for length in range(1, upto + 1):
            rep = Reporter(loaded.source)
            try:
                resolved = Resolver(loaded.tree, rep).arch(arch, {"length": length})
                if not rep.has_errors:
                    ShapeChecker(rep).check(resolved)
            except CompileError:
                pass
        one_by_one = time.perf_counter() - start
        rows.append(
            {
                "example": path.stem,
                "valid": info.valid.describe(),
                "runs": info.runs,
                "analysis_ms": statistics.median(times) * 1000,
                "one_by_one_s": one_by_one,
            }
        )
    return {"upto": upto, "rows": rows}


def markdown(result: dict[str, Any]) -> list[str]:
    lines = [
        "| example | valid lengths | checker runs | analysis (median) "
        f"| lengths 1..{result['upto']:,} one by one |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['example']} | {r['valid']} | {r['runs']} | {r['analysis_ms']:.0f} ms "
            f"| {r['one_by_one_s']:.1f} s |"
        )
    return lines
