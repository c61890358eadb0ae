"""In-process time of each compiler stage per example, and one-time costs (imports, grammar)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import EXAMPLES, MODELS, ROOT, median, spread


def _time(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def stage_times(text: str, name: str, repeat: int) -> dict[str, list[float]]:
    """parse, resolve, check, render, format (fast path) and black on the whole file."""
    import black
    from archc.backends.emit_torch import LINE_LENGTH, format_python, render_python
    from archc.checks.shapes import ShapeChecker
    from archc.core.diagnostics import Reporter
    from archc.core.source import Source
    from archc.ir.resolve import Resolver
    from archc.syntax.parser import parse

    source = Source(name, text)
    out: dict[str, list[float]] = {}
    out["parse"], tree = _time(lambda: parse(source), repeat)
    arch_def = tree.archs[0]

    def resolve() -> Any:
        return Resolver(tree, Reporter(source)).arch(arch_def)

    out["resolve"], resolved = _time(resolve, repeat)
    out["shape check"], checked = _time(lambda: ShapeChecker(Reporter(source)).check(resolved), repeat)
    if checked is None:
        raise RuntimeError(f"{name} does not check")
    out["render"], code = _time(lambda: render_python(checked, name), repeat)
    out["format"], _ = _time(lambda: format_python(code), repeat)
    mode = black.Mode(line_length=LINE_LENGTH)
    out["black, whole file"], _ = _time(lambda: black.format_str(code, mode=mode), repeat)
    return out


def import_costs(repeat: int) -> dict[str, list[float]]:
    """Extra wall time of a process that imports a module, over `python -c pass`."""
    mods = {
        "python -c pass": "pass",
        "import archc.driver (lint path)": "import archc.driver",
        "import archc.driver + emit_torch": "import archc.driver, archc.backends.emit_torch",
        "import jinja2": "import jinja2",
        "import black": "import black",
        "import lark": "import lark",
    }
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as tmp:
        env["PYTHONPYCACHEPREFIX"] = tmp
        times: dict[str, list[float]] = {k: [] for k in mods}
        for code in mods.values():  # warm the bytecode cache
            subprocess.run([sys.executable, "-c", code], env=env, check=True)
        for _ in range(repeat):
            for label, code in mods.items():
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", code], env=env, check=True)
                times[label].append(time.perf_counter() - start)
    return times


def grammar_costs(repeat: int) -> dict[str, list[float]]:
    """Building the LALR tables (empty cache) against loading them from the cache."""
    from archc.syntax import parser

    old = os.environ.get("XDG_CACHE_HOME")
    out: dict[str, list[float]] = {"build (empty cache)": [], "load (cached)": []}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(repeat):
                os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / f"c{i}")
                parser._parser.cache_clear()
                start = time.perf_counter()
                parser._parser()
                out["build (empty cache)"].append(time.perf_counter() - start)
                parser._parser.cache_clear()
                start = time.perf_counter()
                parser._parser()
                out["load (cached)"].append(time.perf_counter() - start)
    finally:
        if old is None:
            os.environ.pop("XDG_CACHE_HOME", None)
        else:
            os.environ["XDG_CACHE_HOME"] = old
        parser._parser.cache_clear()
    return out


def measure(repeat: int) -> dict[str, Any]:
    per_example = {}
    for model in MODELS:
        path = EXAMPLES / f"{model}.arch"
        per_example[model] = stage_times(path.read_text(encoding="utf-8"), path.name, repeat)
    return {
        "repeat": repeat,
        "stages": per_example,
        "imports": import_costs(max(3, repeat // 3)),
        "grammar": grammar_costs(max(3, repeat // 3)),
        "root": str(ROOT),
    }


def markdown(res: dict[str, Any]) -> list[str]:
    stages = list(next(iter(res["stages"].values())))
    out = [
        f"In-process, after a warm-up call; median of {res['repeat']} runs, in ms. `format` is "
        "archc's formatter (black only on the lines that need it, the same bytes as black on "
        "the whole file, which is shown for comparison).",
        "",
        "| example | " + " | ".join(stages) + " |",
        "|---|" + "---:|" * len(stages),
    ]
    for model, times in res["stages"].items():
        cells = [f"{median(times[s][1:] or times[s]) * 1000:.2f}" for s in stages]
        out.append(f"| {model} | " + " | ".join(cells) + " |")
    base = median(res["imports"]["python -c pass"])
    out += ["", "Import cost (fresh process, bytecode cached), ms over `python -c pass`:", ""]
    out += ["| import | median ms | extra ms |", "|---|---:|---:|"]
    for label, times in res["imports"].items():
        out.append(f"| `{label}` | {median(times) * 1000:.0f} | {(median(times) - base) * 1000:.0f} |")
    out += ["", "Lark LALR tables (`archc.syntax.parser._parser()`), ms:", ""]
    out += ["| grammar | median ms | range ms |", "|---|---:|---:|"]
    for label, times in res["grammar"].items():
        lo, hi = spread(times)
        out.append(f"| {label} | {median(times) * 1000:.1f} | {lo * 1000:.1f}-{hi * 1000:.1f} |")
    out.append("")
    return out
