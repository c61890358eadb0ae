"""Random dataflow graphs: archc's verdict and shapes against torch's (tests/randgraph.py).

Every generated graph is checked by archc and built by the independent torch reference.
Where torch raises, archc must report an error; where torch runs, archc must accept the
graph with the same output shapes, and its compiled module must produce them.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from archc.core.diagnostics import Reporter
from archc.core.source import Source
from archc.driver import check_tree
from archc.syntax.parser import parse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from randgraph import generate, generate_gathers, reference, render

pytestmark = pytest.mark.torch
CASES = int(os.environ.get("ARCHC_RANDOM_GRAPHS", "400"))


def archc_shapes(text: str) -> tuple[tuple[int | None, ...], ...] | list[str]:
    source = Source("g.arch", text)
    result = check_tree(source, parse(source), None, None, Reporter(source))
    errors = [f"{d.code}: {d.message}" for d in result.diagnostics if d.is_error]
    checked = result.variants[0].checked
    if errors or checked is None:
        return errors or ["no checked architecture"]
    return tuple(tuple(d.size for d in shape) for shape in checked.cls.out_shapes)


@pytest.mark.parametrize(
    ("seed", "make"), [(20261202, generate), (20261203, generate_gathers)], ids=["graphs", "gathers"]
)
def test_random_graphs_agree_with_torch(seed: int, make: Any) -> None:
    import archc
    import torch

    rng = random.Random(seed)
    disagreements: list[str] = []
    kinds = {"ok": 0, "error": 0}
    for case in range(CASES):
        graph = make(rng)
        text = render(graph)
        torch.manual_seed(case)
        want = reference(graph)
        got = archc_shapes(text)
        if isinstance(want, str):
            kinds["error"] += 1
            if not isinstance(got, list):
                disagreements.append(f"case {case}: torch raises ({want}) but archc accepts\n{text}")
            continue
        kinds["ok"] += 1
        if isinstance(got, list):
            disagreements.append(f"case {case}: torch runs but archc says {got[:2]}\n{text}")
            continue
        expected = tuple(tuple(None if i == 0 else n for i, n in enumerate(s)) for s in want)
        if got != expected:
            disagreements.append(f"case {case}: archc {got}, torch {want}\n{text}")
            continue
        module = archc.build_module(text).eval()
        with torch.no_grad():
            out = module(torch.randn(2, graph.channels, graph.length))
        outs = out if isinstance(out, tuple) else (out,)
        if tuple(tuple(o.shape) for o in outs) != want:
            disagreements.append(f"case {case}: the compiled module gives {[o.shape for o in outs]}\n{text}")
    assert not disagreements, "\n\n".join(disagreements[:5])
    # Both verdicts occur often enough for the comparison to mean something.
    assert kinds["ok"] >= CASES // 5 and kinds["error"] >= CASES // 10, kinds
