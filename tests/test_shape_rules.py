"""Golden shape pairs: one small case per line of tests/golden/shape_rules.txt."""

from __future__ import annotations

from pathlib import Path

import pytest
from archc.core.diagnostics import Reporter
from archc.core.source import Source
from archc.driver import check_tree
from archc.ir.layers import lookup
from archc.syntax.parser import parse

GOLDEN = Path(__file__).resolve().parent / "golden" / "shape_rules.txt"
AXES = {
    1: ["features"],
    2: ["channels", "length"],
    3: ["channels", "height", "length"],
    4: ["channels", "depth", "height", "length"],
}


def cases() -> list[tuple[str, str, str]]:
    out = []
    for line in GOLDEN.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            # Steps may be joined by " | "; the last two fields are sizes and the result.
            *steps, sizes, expected = (part.strip() for part in line.split("|"))
            step = " | ".join(steps)
            out.append((step, sizes, expected))
    return out


def arch_text(step: str, sizes: list[int]) -> str:
    """A one-line architecture around `step` (several steps joined by `|`, each layer with
    weights named l0, l1, ...)."""
    axes = ", ".join(f"{name}: {size}" for name, size in zip(AXES[len(sizes)], sizes, strict=True))
    parts = []
    for n, part in enumerate(p.strip() for p in step.split(" | ")):
        spec = lookup(part.split("(")[0])
        parts.append(f"l{n} = {part}" if spec is not None and spec.torch_class is not None else part)
    return (
        f"arch t(classes = 2, length = 10, alphabet = 4) {{\n  input (batch, {axes})\n"
        f"  {' | '.join(parts)}\n}}\n"
    )


def checked_shape(step: str, sizes: list[int]) -> tuple[tuple[int | None, ...] | None, list[str]]:
    source = Source("t.arch", arch_text(step, sizes))
    result = check_tree(source, parse(source), None, None, Reporter(source))
    codes = [d.code for d in result.diagnostics if d.is_error]
    checked = result.variants[0].checked
    if checked is None:
        return None, codes
    return tuple(d.size for d in checked.cls.out_shape), codes


def infer(step: str, sizes: list[int]) -> tuple[tuple[int, ...] | None, list[str]]:
    shape, codes = checked_shape(step, sizes)
    if shape is None:
        return None, codes
    return tuple(d for d in shape if d is not None), codes


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
    """Each passing golden case, compiled and run in torch (train and eval mode), gives the
    shape the rule claims, with the batch on the axis where archc puts it.

    The failing cases are run in torch in tests/test_torch_agreement.py."""
    from archc.api import build_module

    torch = torch_module
    batch = 3
    for step, sizes_text, expected in cases():
        sizes = [int(s) for s in sizes_text.split(",")]
        if expected.startswith("error"):
            continue
        shape, _ = checked_shape(step, sizes)
        assert shape is not None, step
        module = build_module(arch_text(step, sizes))
        # An embedding takes integer indices (zeros are valid for any num_embeddings).
        indices = step.split("(")[0].strip() == "embedding"
        x = torch.zeros(batch, *sizes, dtype=torch.long) if indices else torch.randn(batch, *sizes)
        for train in (True, False):
            module.train(train)
            with torch.no_grad():
                out = module(x)
            want = tuple(batch if d is None else d for d in shape)
            assert tuple(out.shape) == want, (step, sizes)
            assert tuple(int(s) for s in expected.split(",")) == tuple(d for d in shape if d is not None)
