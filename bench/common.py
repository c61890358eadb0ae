"""Shared helpers for the benchmarks: statistics, machine description, synthetic architectures."""

from __future__ import annotations

import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MODELS = ("basset", "chromdragonn", "deepsea")


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def spread(xs: Sequence[float]) -> tuple[float, float]:
    """The interquartile range (25th, 75th percentile); min and max for fewer than 4 values."""
    if len(xs) < 4:
        return min(xs), max(xs)
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def paired(fns: dict[str, Callable[[], Any]], rounds: int, rng: random.Random) -> dict[str, list[float]]:
    """Each function once per round, in a shuffled order: times by name, paired by round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        order = list(fns)
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - start)
    return times


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def fmt_spread(xs: Sequence[float], scale: float = 1000.0, digits: int = 1) -> str:
    lo, hi = spread(xs)
    return f"{lo * scale:.{digits}f}-{hi * scale:.{digits}f}"


def growth_exponent(sizes: Sequence[int], times: Sequence[float]) -> float:
    """Least-squares slope of log(time) against log(size): 1 is linear, 2 quadratic."""
    lx = [math.log(s) for s in sizes]
    ly = [math.log(max(t, 1e-9)) for t in times]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    num = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    den = sum((a - mx) ** 2 for a in lx)
    return num / den


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    info = {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        info["commit"] = rev + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        pass
    return info


# ------------------------------------------------------------------ synthetic architectures


def chain_arch(layers: int) -> str:
    """A long chain: `layers` steps, alternately a named convolution and a relu."""
    lines = ["arch chain(classes = 2, length = 64, alphabet = 4) {"]
    pairs = max(1, layers // 2)
    for i in range(pairs):
        lines.append(f"  conv{i} = conv1d(8, kernel_size = 3, padding = 1) | relu")
    lines += ["  flatten", "  fc = linear(classes)", "}"]
    return "\n".join(lines) + "\n"


def branch_arch(layers: int) -> str:
    """A graph of branches: units of two parallel convolutions (one with a relu) read from one
    named tensor and merged by `add` (4 steps a unit), then `cat` of the last two tensors."""
    units = max(1, layers // 4)
    lines = [
        "arch branches(classes = 2, length = 64, alphabet = 4) {",
        "  t0 := stem = conv1d(8, 3, padding = 1)",
    ]
    for i in range(units):
        lines.append(f"  a{i} := t{i} | ca{i} = conv1d(8, 3, padding = 1) | relu")
        lines.append(f"  b{i} := t{i} | cb{i} = conv1d(8, 1)")
        lines.append(f"  t{i + 1} := add(a{i}, b{i})")
    lines += [f"  cat(t{units - 1}, t{units}, axis = channels) | flatten", "  fc = linear(classes)", "}"]
    return "\n".join(lines) + "\n"


RES_BLOCK = """block Res(channels) {
  residual {
    layer = seq { conv1 = conv2d(channels, (3, 1), padding = (1, 0)) | bn1 = batchnorm2d | relu }
  }
  relu
}
"""


def residual_arch(layers: int) -> str:
    """A deep residual stack: blocks of 4 layers (conv, batchnorm, relu, relu) in one seq."""
    blocks = max(1, layers // 4)
    return RES_BLOCK + (
        "arch resstack(classes = 2, length = 64, alphabet = 4) {\n"
        "  input (batch, channels, length)\n"
        "  view(batch, alphabet, length, 1)\n"
        "  stem = conv2d(8, (3, 1), padding = (1, 0))\n"
        f"  body = seq {{ Res(8) * {blocks} }}\n"
        "  flatten\n"
        "  fc = linear(classes)\n"
        "}\n"
    )
