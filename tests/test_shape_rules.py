"""Golden shape pairs: one small case per line of tests/golden/shape_rules.txt."""

from __future__ import annotations

from pathlib import Path

import pytest
from archc.diagnostics import Reporter
from archc.driver import check_tree
from archc.layers import lookup
from archc.parser import parse
from archc.source import Source

GOLDEN = Path(__file__).resolve().parent / "golden" / "shape_rules.txt"
AXES = {1: ["features"], 2: ["channels", "length"], 3: ["channels", "height", "length"]}


def cases() -> list[tuple[str, str, str]]:
    out = []
    for line in GOLDEN.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            step, sizes, expected = (part.strip() for part in line.split("|"))
            out.append((step, sizes, expected))
    return out


def infer(step: str, sizes: list[int]) -> tuple[tuple[int, ...] | None, list[str]]:
    axes = ", ".join(f"{name}: {size}" for name, size in zip(AXES[len(sizes)], sizes, strict=True))
    kind = step.split("(")[0]
    spec = lookup(kind)
    named = f"l = {step}" if spec is not None and spec.torch_class is not None else step
    text = f"arch t(classes = 2, length = 10, alphabet = 4) {{\n  input (batch, {axes})\n  {named}\n}}\n"
    source = Source("t.arch", text)
    result = check_tree(source, parse(source), None, None, Reporter(source))
    codes = [d.code for d in result.diagnostics if d.is_error]
    checked = result.variants[0].checked
    if checked is None:
        return None, codes
    return tuple(d.size for d in checked.cls.out_shape if d.size is not None), codes  # type: ignore[misc]


@pytest.mark.parametrize(
    ("step", "sizes", "expected"), cases(), ids=[f"{c[0]}@{c[1]}" for c in cases()]
)
def test_shape_rule(step: str, sizes: str, expected: str) -> None:
    shape, codes = infer(step, [int(s) for s in sizes.split(",")])
    if expected.startswith("error "):
        assert shape is None
        assert expected.split()[1] in codes
    else:
        assert codes == []
        assert shape == tuple(int(s) for s in expected.split(","))


@pytest.mark.torch
def test_golden_pairs_agree_with_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    """Each passing golden case, compiled and run on zeros, gives the shape the rule claims."""
    from archc.api import build_module

    torch = torch_module
    for step, sizes_text, expected in cases():
        if expected.startswith("error"):
            continue
        sizes = [int(s) for s in sizes_text.split(",")]
        axes = ", ".join(f"{n}: {s}" for n, s in zip(AXES[len(sizes)], sizes, strict=True))
        spec = lookup(step.split("(")[0])
        named = f"l = {step}" if spec is not None and spec.torch_class is not None else step
        text = f"arch t(classes = 2, length = 10, alphabet = 4) {{\n  input (batch, {axes})\n  {named}\n}}\n"
        module = build_module(text).eval()
        with torch.no_grad():
            out = module(torch.zeros(2, *sizes))
        assert tuple(out.shape[1:]) == tuple(int(s) for s in expected.split(",")), step
