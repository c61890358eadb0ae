"""Whole-process wall time and peak memory of `archc lint` / `archc compile`, against `python -c pass`.

Commands run interleaved (one of each per round, in a shuffled order) so that a
burst of load on the shared machine hits every command alike.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import EXAMPLES, MODELS, ROOT, median, spread


def archc_command() -> list[str]:
    script = Path(sys.executable).with_name("archc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "archc"]


def run_once(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int, int]:
    """Wall time (s), peak RSS (KiB) and exit code of one process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss, proc.returncode


def conditions(tmp: Path) -> dict[str, tuple[dict[str, str], bool]]:
    """Cache conditions: (environment, whether every run gets a fresh grammar cache)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("PYTHONPYCACHEPREFIX")}
    base["NO_COLOR"] = "1"
    nobyte = {**base, "PYTHONDONTWRITEBYTECODE": "1", "XDG_CACHE_HOME": str(tmp / "xdg-warm")}
    warm = {k: v for k, v in nobyte.items() if k != "PYTHONDONTWRITEBYTECODE"}
    warm["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return {
        "cold": (dict(nobyte), True),
        "warm grammar, no bytecode": (nobyte, False),
        "warm": (warm, False),
    }


def commands(out_dir: Path) -> dict[str, list[str]]:
    archc = archc_command()
    cmds = {"python -c pass": [sys.executable, "-c", "pass"]}
    for model in MODELS:
        path = str(EXAMPLES / f"{model}.arch")
        cmds[f"lint {model}"] = [*archc, "lint", path]
        cmds[f"compile {model}"] = [*archc, "compile", path, "-o", str(out_dir)]
    # The largest example (by text) stands for the graph examples' cold lint.
    largest = max(EXAMPLES.glob("*.arch"), key=lambda p: (p.stat().st_size, p.name))
    if largest.stem not in MODELS:
        cmds[f"lint {largest.stem}"] = [*archc, "lint", str(largest)]
    return cmds


def measure(rounds: int) -> dict[str, Any]:
    results: dict[str, Any] = {"rounds": rounds, "conditions": {}}
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="archc-bench-") as tmp_name:
        tmp = Path(tmp_name)
        cmds = commands(tmp / "out")
        for label, (env, fresh) in conditions(tmp).items():
            for cmd in cmds.values():  # warm-up: fills the grammar and bytecode caches
                run_once(cmd, env, ROOT)
            times: dict[str, list[float]] = {name: [] for name in cmds}
            rss: dict[str, list[int]] = {name: [] for name in cmds}
            for _ in range(rounds):
                order = list(cmds)
                rng.shuffle(order)
                for name in order:
                    run_env = env
                    if fresh:
                        cache = tmp / "xdg-cold"
                        shutil.rmtree(cache, ignore_errors=True)
                        run_env = {**env, "XDG_CACHE_HOME": str(cache)}
                    elapsed, peak, code = run_once(cmds[name], run_env, ROOT)
                    if code != 0:
                        raise RuntimeError(f"{name} exited with {code}")
                    times[name].append(elapsed)
                    rss[name].append(peak)
            base = median(times["python -c pass"])
            rows = {}
            for name in cmds:
                ratios = [t / b for t, b in zip(times[name], times["python -c pass"], strict=True)]
                rows[name] = {
                    "median_s": median(times[name]),
                    "spread_s": spread(times[name]),
                    "ratio": median(times[name]) / base,
                    "ratio_paired": median(ratios),
                    "max_rss_kib": max(rss[name]),
                }
            results["conditions"][label] = rows
    return results


def markdown(res: dict[str, Any]) -> list[str]:
    out = [
        f"Rounds: {res['rounds']} per command and condition, interleaved. Times in ms: median "
        "(interquartile range); ratio = median / median of `python -c pass` in the same condition.",
        "",
    ]
    for label, rows in res["conditions"].items():
        out += [f"**{label}**", "", "| command | median ms | IQR ms | x python -c pass | max RSS MiB |"]
        out.append("|---|---:|---:|---:|---:|")
        for name, row in rows.items():
            lo, hi = row["spread_s"]
            out.append(
                f"| `{name}` | {row['median_s'] * 1000:.0f} | {lo * 1000:.0f}-{hi * 1000:.0f} | "
                f"{row['ratio']:.1f} | {row['max_rss_kib'] / 1024:.1f} |"
            )
        out.append("")
    return out
