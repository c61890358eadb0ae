"""Loops whose layer sizes follow the loop index: each iteration receives what the one before
made, at that iteration's index (a generic module once wrote item 1's input size with item 1's
own index). Every case is built at its defaults and at moved parameters and run in torch."""

from __future__ import annotations

from typing import Any

import pytest

CASES = {
    # widths growing with the index: item k receives item k-1's width
    "growing": ("arch a(f = 8, classes = 2, length = 64, alphabet = 4) {\n"
                "    for i in range(3) { c = conv1d(f * (i + 1), 3) }\n"
                "    flatten | fc = linear(classes)\n}\n", [{}, {"f": 5}]),
    "powers": ("arch a(f = 4, n = 3, classes = 2, length = 64, alphabet = 4) {\n"
               "    for i in range(n) { c = conv1d(f * 2 ** i, 3, padding = 1) | relu | maxpool1d(2) }\n"
               "    flatten | fc = linear(classes)\n}\n", [{}, {"f": 3, "n": 4}, {"n": 1}]),
    # a range with a start and a step
    "stepped": ("arch a(f = 4, classes = 2, length = 64, alphabet = 4) {\n"
                "    for i in range(1, 7, 2) { c = conv1d(f * i, 3) }\n"
                "    flatten | fc = linear(classes)\n}\n", [{}, {"f": 6}]),
    # nested loops: the inner index and the outer one both size the layers
    "nested": ("arch a(f = 4, classes = 2, length = 64, alphabet = 4) {\n"
               "    for i in range(2) { for j in range(2) { c = conv1d(f * (i + 1) + j, 3) } }\n"
               "    flatten | fc = linear(classes)\n}\n", [{}, {"f": 7}]),
    # a block instance per index, its width from the index
    "blocks": ("block B(w) { conv = conv1d(w, 3, padding = 1) | norm = batchnorm1d | relu }\n"
               "arch a(f = 4, n = 3, classes = 2, length = 32, alphabet = 4) {\n"
               "    for i in range(n) { b = B(f + i) }\n"
               "    flatten | fc = linear(classes)\n}\n", [{}, {"f": 9, "n": 2}]),
    # an lstm whose hidden size follows the index, then a linear on its features
    "linear tower": ("arch a(h = 16, classes = 2, length = 10, alphabet = 4) {\n"
                     "    flatten\n"
                     "    for i in range(3) { fc = linear(h // (i + 1)) | relu }\n"
                     "    out = linear(classes)\n}\n", [{}, {"h": 30}]),
}


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(CASES))
def test_loop_sizes_follow_each_iteration(case: str, torch_module: Any) -> None:
    from archc.api import build_module
    from archc.backends.emit_torch import EmitOptions

    text, moves = CASES[case]
    for params in moves:
        module = build_module(text, **params)  # the generic class, its sizes in the parameters
        fixed = build_module(text, options=EmitOptions(concrete=True), **params)  # literal sizes
        assert {k: tuple(v.shape) for k, v in module.state_dict().items()} == {
            k: tuple(v.shape) for k, v in fixed.state_dict().items()
        }
        length = 64 if "length = 64" in text else 32 if "length = 32" in text else 10
        x = torch_module.randn(2, 4, length)
        module.eval()
        with torch_module.no_grad():
            out = module(x)  # torch raises if any layer's input size is wrong
        assert tuple(out.shape) == (2, 2)
