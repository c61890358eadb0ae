"""The dataflow-graph language: named tensors, merges, several inputs and outputs, loops, `if`.

Shapes archc infers are compared with what torch computes; forwards are recomputed by hand
from the generated module's own submodules; generated code, diagnostics (code, severity,
message, location, secondary labels, exit code), summaries and diagrams are checked.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import subprocess
import sys
import types
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from archc.api import compile_source
from archc.cli import main
from archc.core.source import Source
from archc.driver import run

ROOT = Path(__file__).resolve().parent.parent
HEAD = "arch m(length = 20, alphabet = 4) {\n"
TWO_INPUTS = HEAD + "  input (batch, channels, length)\n  input feats (batch, features: 10)\n"


def arch(body: str, head: str = HEAD) -> str:
    return head + body.strip("\n") + "\n}\n"


def check(text: str, **params: Any) -> Any:
    result = run(Source("m.arch", text), {k: [v] for k, v in params.items()})
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    return result


def checked(text: str, **params: Any) -> Any:
    return check(text, **params).variants[0].checked


def warnings_of(text: str, **params: Any) -> list[str]:
    return [d.code for d in check(text, **params).diagnostics]


def sizes(shape: Any, batch: int | None = None) -> tuple[int | None, ...]:
    return tuple(batch if d.size is None else d.size for d in shape)


def out_shapes(arch_ir: Any, batch: int | None = None) -> list[tuple[int | None, ...]]:
    shapes = arch_ir.cls.out_shapes if arch_ir.cls.outputs else (arch_ir.cls.out_shape,)
    return [sizes(s, batch) for s in shapes]


def in_shapes(arch_ir: Any, batch: int) -> list[tuple[int | None, ...]]:
    return [sizes(arch_ir.input_shape, batch)] + [sizes(shape, batch) for _, shape, _ in arch_ir.extra_inputs]


def build(text: str, **params: Any) -> Any:
    """The generated module (eval mode) and its source."""
    code = compile_source(text, params)
    namespace = types.ModuleType("graph_lang")
    exec(compile(code, "<graph_lang>", "exec"), namespace.__dict__)
    return namespace.TorchModel().eval(), code


def as_tuple(out: Any) -> tuple[Any, ...]:
    return out if isinstance(out, tuple) else (out,)


def inputs_for(arch_ir: Any, torch: Any, batch: int, seed: int = 0) -> list[Any]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=gen) for shape in in_shapes(arch_ir, batch)]


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def lint(tmp_path: Path, text: str) -> tuple[int, list[dict[str, Any]], str]:
    path = tmp_path / "m.arch"
    path.write_text(text)
    code, out, _ = cli("lint", str(path), "--format", "json")
    text_code, rendered, _ = cli("lint", str(path))
    assert text_code == code
    return code, json.loads(out), rendered


def forward_of(code: str, class_name: str = "TorchModel") -> ast.FunctionDef:
    tree = ast.parse(code)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    return next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "forward")


def forward_text(code: str) -> str:
    return ast.unparse(forward_of(code))


# ------------------------------------------------------------------ 1. shapes against torch

A_B = "  a := c1 = conv1d(8, 3, padding = 1)\n  b := x | c2 = conv1d(8, 5, padding = 2)\n"

# (id, source, inferred output sizes with N = None, warning codes)
MERGES = [
    ("cat-axis-channels", arch(A_B + "  cat(a, b, axis = channels)"), [(None, 16, 20)], []),
    ("cat-dim-1", arch(A_B + "  cat(a, b, dim = 1)"), [(None, 16, 20)], []),
    # An axis name found in any operand: (batch, channels) joined with (batch, features).
    (
        "cat-axis-in-second",
        "arch m(length = 20, alphabet = 4) {\n  input (batch, channels, length)\n"
        "  input feats (batch, features: 10)\n  p := c = conv1d(8, 3) | global_max_pool\n"
        "  cat(p, feats, axis = features)\n}\n",
        [(None, 18)],
        [],
    ),
    (
        "cat-length",
        arch("  a := c1 = conv1d(8, 3, padding = 1)\n  b := x | c2 = conv1d(8, 3)\n  cat(a, b, dim = 2)"),
        [(None, 8, 38)],
        [],
    ),
    (
        "cat-axis-length",
        arch(
            "  a := c1 = conv1d(8, 3, padding = 1)\n  b := x | c2 = conv1d(8, 3)\n  cat(a, b, axis = length)"
        ),
        [(None, 8, 38)],
        [],
    ),
    ("cat-negative-dim", arch(A_B + "  cat(a, b, dim = -1)"), [(None, 8, 40)], []),
    ("cat-negative-dim-2", arch(A_B + "  cat(a, b, a, dim = -2)"), [(None, 24, 20)], []),
    ("stack-dim-1", arch(A_B + "  stack(a, b, dim = 1)"), [(None, 2, 8, 20)], []),
    ("stack-negative-dim", arch(A_B + "  stack(a, b, dim = -1)"), [(None, 8, 20, 2)], []),
    ("stack-dim-minus-2", arch(A_B + "  stack(a, b, a, dim = -2)"), [(None, 8, 3, 20)], []),
    ("add", arch(A_B + "  add(a, b)"), [(None, 8, 20)], []),
    ("add-three", arch(A_B + "  add(a, b, a)"), [(None, 8, 20)], []),
    ("mul", arch(A_B + "  mul(a, b)"), [(None, 8, 20)], []),
    ("mean", arch(A_B + "  mean(a, b)"), [(None, 8, 20)], []),
    ("max", arch(A_B + "  max(a, b)"), [(None, 8, 20)], []),
    ("pipe-add", arch(A_B + "  a | relu | add(b) | sigmoid"), [(None, 8, 20)], []),
    (
        "broadcast-add-channels",
        arch("  a := c1 = conv1d(8, 3, padding = 1)\n  g := x | c3 = conv1d(1, 3, padding = 1)\n  add(a, g)"),
        [(None, 8, 20)],
        ["merge-broadcast"],
    ),
    (
        "broadcast-mul-length",
        arch("  a := c1 = conv1d(8, 3, padding = 1)\n  p := a | adaptivemaxpool1d(1)\n  mul(a, p)"),
        [(None, 8, 20)],
        ["merge-broadcast"],
    ),
    (
        "broadcast-max-mean",
        arch(
            "  a := c1 = conv1d(8, 3, padding = 1)\n  p := a | adaptivemaxpool1d(1)\n"
            "  m1 := max(p, a)\n  m2 := mean(a, p)\n  return m1, m2"
        ),
        [(None, 8, 20), (None, 8, 20)],
        ["merge-broadcast", "merge-broadcast"],
    ),
    (
        "two-inputs",
        arch(
            "  a := c1 = conv1d(8, 3) | global_max_pool\n  f := feats | fl = linear(8)\n  cat(a, f, dim = 1)",
            TWO_INPUTS,
        ),
        [(None, 16)],
        [],
    ),
    (
        "two-inputs-add",
        arch(
            "  a := c1 = conv1d(8, 3) | global_max_pool\n  f := feats | fl = linear(8)\n"
            "  add(a, f) | out = linear(2)",
            TWO_INPUTS,
        ),
        [(None, 2)],
        [],
    ),
    (
        "several-outputs",
        arch(
            A_B + "  c := cat(a, b, axis = channels)\n  s := stack(a, b, dim = 1)\n"
            "  p := a | flatten | fc = linear(3)\n  return c, s, p, b"
        ),
        [(None, 16, 20), (None, 2, 8, 20), (None, 3), (None, 8, 20)],
        [],
    ),
    (
        "tensor-read-twice",
        arch(
            A_B + "  twice := cat(a, a, axis = channels)\n  total := add(a, b)\n"
            "  t := a | relu\n  return twice, total, t"
        ),
        [(None, 16, 20), (None, 8, 20), (None, 8, 20)],
        [],
    ),
    (
        "length-last-layout",
        arch(
            "  input (batch, length, channels)\n"
            "  a := permute(0, 2, 1) | c1 = conv1d(8, 3, padding = 1) | permute(0, 2, 1)\n"
            "  b := x | l1 = linear(6)\n  cat(a, b, axis = channels)"
        ),
        [(None, 20, 14)],
        [],
    ),
    (
        "input-returned",
        arch("  a := c1 = conv1d(8, 3, padding = 1)\n  return a, x"),
        [(None, 8, 20), (None, 4, 20)],
        [],
    ),
    (
        "residual-shortcut",
        arch("  residual { c1 = conv1d(8, 3, padding = 1) | relu } shortcut { sc = conv1d(8, 1) }"),
        [(None, 8, 20)],
        [],
    ),
    (
        "matmul-attention",
        arch(
            "  h := q = conv1d(8, 3, padding = 1) | transpose(1, 2)\n  k := h | kp = linear(8) | transpose(1, 2)\n"
            "  s := matmul(h, k) | divide(2.0) | softmax(dim = -1)\n  o := s | matmul(h)\n  return s, o"
        ),
        [(None, 20, 20), (None, 20, 8)],
        [],
    ),
    (
        "residual-reads-outer-tensor",
        arch("  a := c1 = conv1d(4, 3, padding = 1)\n  residual { c2 = conv1d(4, 1) | add(a) }"),
        [(None, 4, 20)],
        [],
    ),
]


@pytest.mark.torch
@pytest.mark.parametrize(
    ("source", "expected", "warnings"), [m[1:] for m in MERGES], ids=[m[0] for m in MERGES]
)
def test_merge_shapes_match_torch(
    source: str, expected: list[tuple[int | None, ...]], warnings: list[str], torch_module: Any
) -> None:
    torch = torch_module
    assert warnings_of(source) == warnings
    arch_ir = checked(source)
    assert out_shapes(arch_ir) == expected
    module, _ = build(source)
    for batch in (1, 3):
        with torch.no_grad():
            outs = as_tuple(module(*inputs_for(arch_ir, torch, batch)))
        assert [tuple(o.shape) for o in outs] == out_shapes(arch_ir, batch)


@pytest.mark.parametrize("case", ["several-outputs", "two-inputs", "tensor-read-twice"])
def test_summary_json_agrees_with_the_checked_shapes(case: str, tmp_path: Path) -> None:
    source = next(m[1] for m in MERGES if m[0] == case)
    arch_ir = checked(source)
    path = tmp_path / "m.arch"
    path.write_text(source)
    code, out, _ = cli("summary", str(path), "--format", "json")
    assert code == 0
    summary = json.loads(out)
    names = list(arch_ir.cls.outputs) or [None]
    if arch_ir.cls.outputs:
        assert [o["name"] for o in summary["outputs"]] == names
    assert [tuple(o["sizes"]) for o in summary["outputs"]] == out_shapes(arch_ir)
    assert [tuple(i["sizes"]) for i in summary["inputs"]] == [
        sizes(arch_ir.input_shape),
        *(sizes(s) for _, s, _ in arch_ir.extra_inputs),
    ]
    assert [i["name"] for i in summary["inputs"]] == list(arch_ir.cls.inputs)


# ------------------------------------------------------------------ 2. numerical semantics


def _relu(torch: Any, t: Any) -> Any:
    return torch.nn.functional.relu(t)


# (id, source, hand-written forward from the module's own submodules)
HAND = [
    (
        "cat-stack-mean-max-mul",
        arch(
            "  a := c1 = conv1d(8, 3, padding = 1) | relu\n  b := x | c2 = conv1d(8, 5, padding = 2)\n"
            "  c := cat(a, b, axis = channels)\n  s := stack(b, a, dim = -1)\n  me := mean(a, b)\n"
            "  mx := max(a, b)\n  mu := mul(a, b)\n  return c, s, me, mx, mu"
        ),
        lambda torch, m, x: (
            torch.cat([_relu(torch, m.c1(x)), m.c2(x)], dim=1),
            torch.stack([m.c2(x), _relu(torch, m.c1(x))], dim=-1),
            (_relu(torch, m.c1(x)) + m.c2(x)) / 2,
            torch.maximum(_relu(torch, m.c1(x)), m.c2(x)),
            _relu(torch, m.c1(x)) * m.c2(x),
        ),
    ),
    (
        "pipe-merges",
        arch(
            "  a := c1 = conv1d(8, 3, padding = 1)\n  g := x | c3 = conv1d(1, 3, padding = 1)\n"
            "  a | add(g) | relu | mul(a)"
        ),
        lambda torch, m, x: (_relu(torch, m.c1(x) + m.c3(x)) * m.c1(x),),
    ),
    (
        "residual-shortcut",
        arch("  residual { c1 = conv1d(8, 3, padding = 1) | relu } shortcut { sc = conv1d(8, 1) }"),
        lambda torch, m, x: (_relu(torch, m.c1(x)) + m.sc(x),),
    ),
    (
        "residual-identity-on-tensor",
        arch(
            "  h := c0 = conv1d(8, 1)\n  r := h | residual { rr = conv1d(8, 3, padding = 1) }\n  return r, h"
        ),
        lambda torch, m, x: (m.rr(m.c0(x)) + m.c0(x), m.c0(x)),
    ),
    (
        "uniform-loop",
        arch("  for i in range(0, 3) { convs = conv1d(8, 3, padding = 1) | relu }"),
        lambda torch, m, x: (
            _relu(torch, m.convs[2](_relu(torch, m.convs[1](_relu(torch, m.convs[0](x)))))),
        ),
    ),
    (
        "non-uniform-loop",
        arch(
            "  for i in range(0, 3) {\n    convs = conv1d(8, 3, padding = 1)\n"
            "    if i == 1 { relu } else { sigmoid }\n  }"
        ),
        lambda torch, m, x: (
            torch.sigmoid(m.convs[2](_relu(torch, m.convs[1](torch.sigmoid(m.convs[0](x)))))),
        ),
    ),
    (
        "loop-in-named-chain",
        arch(
            "  h := c0 = conv1d(8, 1)\n"
            "  t := h | for i in range(0, 2) { more = conv1d(8, 3, padding = 1) | add(h) }\n"
            "  return t"
        ),
        lambda torch, m, x: (m.more[1](m.more[0](m.c0(x)) + m.c0(x)) + m.c0(x),),
    ),
    (
        "shared-module-in-loop",
        arch("  sh = conv1d(4, 1)\n  for i in range(0, 2) { sh | relu }"),
        lambda torch, m, x: (_relu(torch, m.sh(_relu(torch, m.sh(m.sh(x))))),),
    ),
    (
        "loop-with-step-and-bool-ops",
        arch(
            "  c0 = conv1d(8, 1)\n"
            "  for i in range(0, 6, 2) { if i > 0 and not (i == 4) { relu } else { sigmoid } }"
        ),
        lambda torch, m, x: (torch.sigmoid(_relu(torch, torch.sigmoid(m.c0(x)))),),
    ),
    (
        "nested-loop",
        arch("  for i in range(0, 2) { for j in range(0, 2) { cc = conv1d(4, 1) } }"),
        lambda torch, m, x: (m.cc[3](m.cc[2](m.cc[1](m.cc[0](x)))),),
    ),
]


@pytest.mark.torch
@pytest.mark.parametrize(
    ("source", "by_hand"),
    [pytest.param(*h[1:], id=h[0]) for h in HAND],
)
def test_forward_equals_the_hand_computation(source: str, by_hand: Any, torch_module: Any) -> None:
    torch = torch_module
    arch_ir = checked(source)
    module, _ = build(source)
    (x,) = inputs_for(arch_ir, torch, 3, seed=1)
    with torch.no_grad():
        got = as_tuple(module(x))
        want = by_hand(torch, module, x)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert torch.equal(g, w)


@pytest.mark.torch
def test_nested_loop_applies_each_layer_once(torch_module: Any) -> None:
    """Shape-neutral double application: counted with hooks (the bug above, from another side)."""
    source = arch("  for i in range(0, 2) { for j in range(0, 2) { cc = conv1d(4, 1) } }")
    module, _ = build(source)
    calls: list[int] = []
    for k, conv in enumerate(module.cc):
        conv.register_forward_hook(lambda mod, i, o, k=k: calls.append(k))
    with torch_module.no_grad():
        module(torch_module.zeros(1, 4, 20))
    assert calls == [0, 1, 2, 3]


@pytest.mark.torch
def test_two_inputs_by_hand(torch_module: Any) -> None:
    torch = torch_module
    source = arch(
        "  a := c1 = conv1d(8, 3) | global_max_pool\n  f := feats | fl = linear(8) | relu\n"
        "  joint := cat(a, f, dim = -1) | head = linear(2)\n  return joint, f",
        TWO_INPUTS,
    )
    arch_ir = checked(source)
    module, _ = build(source)
    x, feats = inputs_for(arch_ir, torch, 4, seed=2)
    with torch.no_grad():
        joint, f = module(x, feats)
        want_f = _relu(torch, module.fl(feats))
        want = module.head(torch.cat([module.c1(x).amax(dim=-1), want_f], dim=1))
    assert torch.equal(f, want_f)
    assert torch.equal(joint, want)


SIAMESE = arch(
    "  fwd := x | trunk = seq { conv1d(8, 3) | relu }\n  rev := x | trunk\n"
    "  both := mean(fwd, rev)\n  return both, fwd, rev"
)


@pytest.mark.torch
def test_shared_weights_siamese(torch_module: Any) -> None:
    torch = torch_module
    module, code = build(SIAMESE)
    trunk = module.trunk
    assert sum(p.numel() for p in module.parameters()) == sum(p.numel() for p in trunk.parameters())
    assert sum(p.numel() for p in module.parameters()) == 4 * 8 * 3 + 8
    assert sorted(module.state_dict()) == ["trunk.0.bias", "trunk.0.weight"]
    assert code.count("nn.Conv1d(") == 1
    x = torch.randn(3, 4, 20)
    with torch.no_grad():
        both, fwd, rev = module(x)
        ref = trunk(x)
    assert torch.equal(fwd, ref) and torch.equal(rev, ref)
    assert torch.equal(both, (ref + ref) / 2)


def test_shared_weights_counted_once_in_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "m.arch"
    path.write_text(SIAMESE)
    _, out, _ = cli("summary", str(path), "--format", "json")
    summary = json.loads(out)
    assert summary["totals"]["trainable_params"] == 4 * 8 * 3 + 8
    shared = [r for r in summary["layers"] if r["shared"]]
    assert [r["path"] for r in shared] == ["trunk.0"]


# ------------------------------------------------------------------ 3. generated code


def test_forward_signature_and_tuple_return() -> None:
    source = arch(
        "  input other (batch, features: 3)\n  a := c1 = conv1d(8, 3) | global_max_pool\n"
        "  f := feats | fl = linear(8)\n  o := other | ol = linear(8)\n"
        "  first_out := add(a, f, o)\n  return o, first_out, f",
        TWO_INPUTS,
    )
    code = compile_source(source)
    forward = forward_of(code)
    assert [a.arg for a in forward.args.args] == ["self", "x", "feats", "other"]
    assert ast.unparse(forward.returns) == "tuple[torch.Tensor, torch.Tensor, torch.Tensor]"
    ret = forward.body[-1]
    assert isinstance(ret, ast.Return) and isinstance(ret.value, ast.Tuple)
    assert [ast.unparse(e) for e in ret.value.elts] == ["o", "first_out", "f"]
    assigned = {
        t.id
        for n in ast.walk(forward)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    assert {"a", "f", "o", "first_out"} <= assigned
    assert "first_out = a + f + o" in forward_text(code)
    # The header names every input and output with its shape (wrapped for line length).
    assert "x (N, 4, 20) (batch, channels, length)," in code and "feats (N, 10)" in code
    assert "o (N, 8), first_out (N, 8), f (N, 8)" in code


def test_uniform_loop_iterates_the_module_list() -> None:
    code = compile_source(arch("  for i in range(0, 3) { convs = conv1d(8, 3, padding = 1) | relu }"))
    text = forward_text(code)
    assert "for conv in self.convs:" in text
    assert "self.convs[" not in text
    assert "self.convs = nn.ModuleList(" in code


def test_zipped_loop_over_two_lists() -> None:
    code = compile_source(arch("  for i in range(0, 2) { a = conv1d(8, 1) | b = conv1d(8, 1) }"))
    assert "for a_item, b_item in zip(self.a, self.b):" in forward_text(code)


def test_non_uniform_loop_is_unrolled() -> None:
    code = compile_source(
        arch(
            "  for i in range(0, 3) {\n    convs = conv1d(8, 3, padding = 1)\n"
            "    if i == 1 { relu } else { sigmoid }\n  }"
        )
    )
    text = forward_text(code)
    assert "for " not in text
    assert [f"self.convs[{k}]" in text for k in range(3)] == [True] * 3
    assert text.count("torch.sigmoid") == 2 and text.count("F.relu") == 1


@pytest.mark.torch
@pytest.mark.parametrize("layers", [1, 2, 5])
def test_loop_bound_parameter_sets_the_layers(layers: int, torch_module: Any) -> None:
    source = arch(
        "  for i in range(0, layers) { convs = conv1d(8, 3, padding = 1) | relu }",
        "arch m(length = 20, alphabet = 4, layers = 3) {\n",
    )
    module, _ = build(source, layers=layers)
    keys = sorted(module.state_dict())
    assert keys == sorted(f"convs.{k}.{p}" for k in range(layers) for p in ("weight", "bias"))
    assert len(module.convs) == layers


REPEAT = (
    "block B(c) {\n  h := c1 = conv1d(c, 3, padding = 1) | relu\n  return h\n}\n"
    "arch m(length = 20, alphabet = 4, n = 2) {\n  blocks = seq { B(8) * n }\n}\n"
)


@pytest.mark.torch
@pytest.mark.parametrize("n", [1, 3])
def test_repeat_count_parameter(n: int, torch_module: Any) -> None:
    module, code = build(REPEAT, n=n)
    assert sorted(module.state_dict()) == sorted(
        f"blocks.{k}.c1.{p}" for k in range(n) for p in ("weight", "bias")
    )
    block_forward = ast.unparse(forward_of(code, "B"))
    assert "h = self.c1(x)" in block_forward and block_forward.rstrip().endswith("return h")


def test_set_on_the_command_line_changes_the_layers(tmp_path: Path) -> None:
    src = tmp_path / "rep.arch"
    src.write_text(REPEAT)
    code, _, err = cli("compile", str(src), "--set", "n=5", "-o", str(tmp_path / "out"))
    assert code == 0, err
    text = (tmp_path / "out" / "rep.py").read_text()
    # One class B for every call: 4 -> 8, then 8 -> 8; the repeat count is fixed at 5.
    assert "B(in_channels=alphabet, c=8),\n" + "            B(in_channels=8, c=8),\n" * 4 in text
    assert text.count("class B(") == 1
    assert "if n != 5:" in text
    assert "n=5" in text


@pytest.mark.parametrize(("use_bn", "has_bn"), [(False, False), (True, True)])
def test_if_parameter_changes_the_keys(use_bn: bool, has_bn: bool) -> None:
    source = arch(
        "  c = conv1d(8, 3)\n  if use_bn { bn = batchnorm1d } else { relu }",
        "arch m(length = 20, alphabet = 4, use_bn = false) {\n",
    )
    code = compile_source(source, {"use_bn": use_bn})
    assert ("self.bn = nn.BatchNorm1d(8)" in code) is has_bn
    assert ("F.relu(x)" in forward_text(code)) is not has_bn


@pytest.mark.torch
def test_if_parameter_state_dict(torch_module: Any) -> None:
    source = arch(
        "  c = conv1d(8, 3)\n  if use_bn { bn = batchnorm1d } else { relu }",
        "arch m(length = 20, alphabet = 4, use_bn = false) {\n",
    )
    off, _ = build(source, use_bn=False)
    on, _ = build(source, use_bn=True)
    assert sorted(off.state_dict()) == ["c.bias", "c.weight"]
    assert {"bn.weight", "bn.running_mean"} <= set(on.state_dict())


GRAPH_FILE = arch(
    "  trunk := c1 = conv1d(8, 3) | relu | global_max_pool\n  dev := trunk | a = linear(1)\n"
    "  hk := trunk | b = linear(1)\n  g := feats | fl = linear(8)\n  both := add(trunk, g)\n"
    "  return dev, hk, both",
    TWO_INPUTS,
)


def test_compile_is_deterministic(tmp_path: Path) -> None:
    assert compile_source(GRAPH_FILE) == compile_source(GRAPH_FILE)
    src = tmp_path / "g.arch"
    src.write_text(GRAPH_FILE)
    outputs = []
    for seed in ("0", "4242"):
        out = tmp_path / seed
        proc = subprocess.run(
            [sys.executable, "-m", "archc", "compile", str(src), "-o", str(out)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append((out / "g.py").read_bytes())
    assert outputs[0] == outputs[1] == compile_source(GRAPH_FILE, path=str(src)).encode()


def _ruff(tmp_path: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "g.py"
    out.write_text(code)
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *args, str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_generated_graph_code_passes_ruff_apart_from_line_length(tmp_path: Path) -> None:
    proc = _ruff(tmp_path, compile_source(GRAPH_FILE), "--extend-ignore", "E501")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_generated_graph_code_passes_ruff(tmp_path: Path) -> None:
    proc = _ruff(tmp_path, compile_source(GRAPH_FILE))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_emitter_temporaries_do_not_clash_with_tensor_names() -> None:
    """Tensors named like the emitter's own temporaries (`h`, `conv`, `*_item`)."""
    source = arch(
        "  h := c0 = conv1d(8, 3, padding = 1)\n  g := x | c3 = conv1d(8, 3, padding = 1)\n"
        "  conv := h | for i in range(0, 2) { convs = conv1d(8, 3, padding = 1) | add(g) }\n"
        "  conv_item := conv | add(h) | relu | add(g)\n  r := h | residual { rr = conv1d(8, 1) }\n"
        "  return conv_item, r, conv, h"
    )
    module_code = compile_source(source)
    text = forward_text(module_code)
    assert text.rstrip().endswith("return (conv_item, r, conv, h)")
    # h is never reassigned after its definition
    assigns = [ast.unparse(n) for n in ast.walk(forward_of(module_code)) if isinstance(n, ast.Assign)]
    assert [a for a in assigns if a.startswith("h =")] == ["h = self.c0(x)"]


@pytest.mark.torch
def test_emitter_temporaries_compute_right(torch_module: Any) -> None:
    torch = torch_module
    source = arch(
        "  h := c0 = conv1d(8, 3, padding = 1)\n  g := x | c3 = conv1d(8, 3, padding = 1)\n"
        "  conv := h | for i in range(0, 2) { convs = conv1d(8, 3, padding = 1) | add(g) }\n"
        "  q := conv | add(h) | relu | add(g)\n  return q, conv, h"
    )
    module, _ = build(source)
    x = torch.randn(2, 4, 20)
    with torch.no_grad():
        q, conv, h = module(x)
        want_h = module.c0(x)
        g = module.c3(x)
        want_conv = module.convs[1](module.convs[0](want_h) + g) + g
        want_q = _relu(torch, want_conv + want_h) + g
    assert torch.equal(h, want_h) and torch.equal(conv, want_conv) and torch.equal(q, want_q)


# ------------------------------------------------------------------ 4. torch.compile and export


DICT_RETURN = arch(
    "  trunk := c1 = conv1d(8, 3, padding = 1) | relu\n"
    "  profile := trunk | pconv = conv1d(2, 1)\n"
    "  counts := trunk | global_avg_pool | fc = linear(1)\n"
    '  return {profile: profile, "log-counts": counts, again: counts}'
)


@pytest.mark.torch
def test_dict_return_is_a_dict_of_the_checked_shapes(torch_module: Any) -> None:
    torch = torch_module
    arch_ir = checked(DICT_RETURN)
    assert arch_ir.cls.output_keys == ("profile", "log-counts", "again")
    module, code = build(DICT_RETURN)
    forward = forward_of(code)
    assert ast.unparse(forward.returns) == "dict[str, torch.Tensor]"
    assert forward_text(code).endswith("return {'profile': profile, 'log-counts': counts, 'again': counts}")
    assert "# Outputs: profile (N, 2, 20), log-counts (N, 1), again (N, 1)" in code
    x = torch.randn(3, 4, 20)
    with torch.no_grad():
        out = module(x)
    assert isinstance(out, dict) and list(out) == ["profile", "log-counts", "again"]
    assert [tuple(v.shape) for v in out.values()] == out_shapes(arch_ir, 3)
    assert torch.equal(out["log-counts"], out["again"])
    with torch.no_grad():  # torch.compile traces the dict as it is
        got = torch.compile(module, fullgraph=True, backend="eager")(x)
    assert all(torch.equal(got[k], out[k]) for k in out)


MODULE_DICT = arch(
    "  trunk := c1 = conv1d(8, 3, padding = 1) | relu\n"
    "  p := trunk | heads.profile = conv1d(2, 1)\n"
    "  c := trunk | global_avg_pool | heads.counts = linear(1)\n"
    "  again := p | relu | c2 = conv1d(8, 1) | heads.profile\n"
    "  return p, c, again"
)


@pytest.mark.torch
def test_module_dict_entries(torch_module: Any, tmp_path: Path) -> None:
    torch = torch_module
    arch_ir = checked(MODULE_DICT)
    module, code = build(MODULE_DICT)
    assert isinstance(module.heads, torch.nn.ModuleDict) and list(module.heads) == ["profile", "counts"]
    assert set(module.state_dict()) == {
        "c1.weight", "c1.bias", "c2.weight", "c2.bias",
        "heads.profile.weight", "heads.profile.bias", "heads.counts.weight", "heads.counts.bias",
    }
    assert "p = self.heads['profile'](trunk)" in forward_text(code)
    x = torch.randn(3, 4, 20)
    with torch.no_grad():
        p, c, again = module(x)
        trunk = torch.relu(module.c1(x))
        assert torch.equal(p, module.heads["profile"](trunk))
        assert torch.equal(c, module.heads["counts"](trunk.mean(dim=-1)))
        assert torch.equal(again, module.heads["profile"](module.c2(torch.relu(p))))
    assert [tuple(o.shape) for o in (p, c, again)] == out_shapes(arch_ir, 3)
    src = tmp_path / "m.arch"
    src.write_text(MODULE_DICT)
    _, out, _ = cli("summary", str(src))
    assert "heads.profile" in out and "heads.counts" in out


@pytest.mark.torch
def test_dict_return_of_one_output_stays_a_dict(torch_module: Any) -> None:
    module, _ = build(arch("  c1 = conv1d(8, 3)\n  y := global_max_pool\n  return {logits: y}"))
    with torch_module.no_grad():
        out = module(torch_module.randn(2, 4, 20))
    assert isinstance(out, dict) and list(out) == ["logits"] and tuple(out["logits"].shape) == (2, 8)


def test_dict_return_round_trips_through_fmt(tmp_path: Path) -> None:
    from archc.syntax.fmt import format_source as format_text

    text = DICT_RETURN.replace("{profile: profile", "{\n    profile: profile")
    formatted = format_text(text)
    assert '  return {profile: profile, "log-counts": counts, again: counts}' in formatted.replace("    ", "  ")
    assert format_text(formatted) == formatted


@pytest.mark.torch
def test_compile_and_export_multi_input_multi_output(torch_module: Any) -> None:
    torch = torch_module
    arch_ir = checked(GRAPH_FILE)
    module, _ = build(GRAPH_FILE)
    x, feats = inputs_for(arch_ir, torch, 3, seed=5)
    with torch.no_grad():
        want = module(x, feats)
        compiled = torch.compile(module, fullgraph=True, backend="eager")
        got = compiled(x, feats)
    assert len(got) == len(want) == 3
    assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True))

    batch = torch.export.Dim("batch", min=2, max=64)
    exported = torch.export.export(module, (x, feats), dynamic_shapes={"x": {0: batch}, "feats": {0: batch}})
    x7, feats7 = inputs_for(arch_ir, torch, 7, seed=6)
    with torch.no_grad():
        got7 = exported.module()(x7, feats7)
        want7 = module(x7, feats7)
    assert [tuple(t.shape) for t in got7] == out_shapes(arch_ir, 7)
    assert all(torch.allclose(g, w, atol=1e-6) for g, w in zip(got7, want7, strict=True))


# ------------------------------------------------------------------ 5. diagnostics

MM = "  a := c1 = conv1d(8, 3)\n  b := x | c2 = conv1d(6, 3, padding = 1)\n"

# (id, body, head, code, severity, message part, culprit text, culprit line (1-based in the
#  whole source), occurrence of the culprit in the line, note fragments, help fragment)
DIAGNOSTICS = [
    (
        "undefined-tensor",
        "  trunk := c1 = conv1d(8, 3)\n  return trnk",
        HEAD,
        "undefined-tensor",
        "error",
        "no tensor is called `trnk`",
        "trnk",
        3,
        0,
        [],
        "did you mean `trunk`?",
    ),
    (
        "undefined-tensor-in-merge",
        "  trunk := c1 = conv1d(8, 3)\n  other := x | c2 = conv1d(8, 3)\n  add(trunk, othr)",
        HEAD,
        "undefined-tensor",
        "error",
        "no tensor is called `othr`",
        "othr",
        4,
        0,
        [],
        "did you mean `other`?",
    ),
    (
        "undefined-tensor-after-pipe",
        "  trunk := c1 = conv1d(8, 3)\n  other := x | c2 = conv1d(8, 3)\n  trunk | add(othe)",
        HEAD,
        "undefined-tensor",
        "error",
        "no tensor is called `othe`",
        "othe",
        4,
        0,
        [],
        "did you mean `other`?",
    ),
    (
        "unused-tensor",
        "  a := c1 = conv1d(8, 3)\n  b := x | c2 = conv1d(8, 3)\n  return a",
        HEAD,
        "unused-tensor",
        "warning",
        "tensor `b` is never read",
        "b",
        3,
        0,
        [],
        "drop the `b :=`",
    ),
    (
        "unused-input",
        "  c1 = conv1d(8, 3)",
        TWO_INPUTS,
        "unused-input",
        "warning",
        "input `feats` is never read",
        "feats",
        3,
        0,
        [],
        "read it in a chain (`feats | ...`)",
    ),
    (
        "chained-output",
        "  flatten\n  trunk := f = linear(8)\n  dev := trunk | a = linear(1)\n  hk := b = linear(1)\n"
        "  return dev, hk",
        HEAD,
        "chained-output",
        "warning",
        "continues from `dev`, which is also returned",
        "b = linear(1)",
        5,
        0,
        [],
        "head := trunk | ...",
    ),
    (
        "chained-output-unnamed",
        "  a := c1 = conv1d(8, 3)\n  b := x | c2 = conv1d(8, 3)\n  both := add(a, b)\n"
        "  c3 = conv1d(8, 1)\n  return both, a",
        HEAD,
        "chained-output",
        "warning",
        "continues from `both`",
        "c3 = conv1d(8, 1)",
        5,
        0,
        [],
        None,
    ),
    (
        "merge-mismatch",
        MM + "  add(a, b)",
        HEAD,
        "merge-mismatch",
        "error",
        "`add` needs shapes that match or broadcast: `a` is (N, 8, 18) and `b` is (N, 6, 20)",
        "add(a, b)",
        4,
        0,
        [("`a` is (N, 8, 18)", 2), ("`b` is (N, 6, 20)", 3)],
        "check the step that sets the size",
    ),
    (
        "merge-mismatch-channels",
        "  a := c1 = conv1d(8, 3, padding = 1)\n  b := x | c2 = conv1d(6, 3, padding = 1)\n"
        "  cat(a, b, dim = 2)",
        HEAD,
        "merge-mismatch",
        "error",
        "`cat`",
        "cat(a, b, dim = 2)",
        4,
        0,
        [("8 channels set here", 2), ("6 channels set here", 3)],
        None,
    ),
    (
        "merge-broadcast",
        "  a := c1 = conv1d(8, 3, padding = 1)\n  g := x | c3 = conv1d(1, 3, padding = 1)\n  add(a, g)",
        HEAD,
        "merge-broadcast",
        "warning",
        "`add` broadcasts (N, 8, 20) and (N, 1, 20) to (N, 8, 20)",
        "add(a, g)",
        4,
        0,
        [],
        "rarely meant",
    ),
    (
        "bad-axis-index",
        MM.replace("6, 3, padding = 1", "8, 3") + "  cat(a, b, dim = 3)",
        HEAD,
        "bad-axis",
        "error",
        "`cat` at dim 3: the tensors have 3 axes",
        "cat(a, b, dim = 3)",
        4,
        0,
        [],
        "dim is from -3 to 2",
    ),
    (
        "bad-axis-name",
        MM.replace("6, 3, padding = 1", "8, 3") + "  cat(a, b, axis = height)",
        HEAD,
        "bad-axis",
        "error",
        "no axis of that name",
        "cat(a, b, axis = height)",
        4,
        0,
        [],
        "(batch, channels, length)",
    ),
    (
        "batch-mix",
        MM.replace("6, 3, padding = 1", "8, 3") + "  cat(a, b, dim = 0)",
        HEAD,
        "batch-mix",
        "error",
        "along the batch axis",
        "cat(a, b, dim = 0)",
        4,
        0,
        [],
        "axis = channels",
    ),
    (
        "batch-mix-negative",
        MM.replace("6, 3, padding = 1", "8, 3") + "  cat(a, b, dim = -3)",
        HEAD,
        "batch-mix",
        "error",
        "along the batch axis",
        "cat(a, b, dim = -3)",
        4,
        0,
        [],
        None,
    ),
    (
        "missing-axis",
        MM.replace("6, 3, padding = 1", "8, 3") + "  cat(a, b)",
        HEAD,
        "missing-argument",
        "error",
        "`cat` needs the axis to join on",
        "cat(a, b)",
        4,
        0,
        [],
        "`dim = 1`",
    ),
    (
        "missing-stack-axis",
        MM.replace("6, 3, padding = 1", "8, 3") + "  stack(a, b)",
        HEAD,
        "missing-argument",
        "error",
        "`stack` needs the axis",
        "stack(a, b)",
        4,
        0,
        [],
        None,
    ),
    (
        "one-operand",
        "  a := c1 = conv1d(8, 3)\n  add(a)",
        HEAD,
        "missing-argument",
        "error",
        "`add` merges two or more tensors; it has 1",
        "add(a)",
        3,
        0,
        [],
        "add(a, b)",
    ),
    (
        "tensor-in-seq",
        "  s = seq { a := c1 = conv1d(8, 3) }",
        HEAD,
        "misplaced",
        "error",
        "`:=` names a tensor and cannot stand inside `seq`",
        "a := c1 = conv1d(8, 3)",
        2,
        0,
        [],
        None,
    ),
    (
        "merge-in-seq",
        "  a := c1 = conv1d(8, 3)\n  s = seq { relu | add(a) }",
        HEAD,
        "misplaced",
        "error",
        "`add` merges tensors and cannot stand inside `seq`",
        "add(a)",
        3,
        0,
        [],
        None,
    ),
    (
        "return-not-last",
        "  a := c1 = conv1d(8, 3)\n  return a\n  relu",
        HEAD,
        "misplaced",
        "error",
        "nothing can follow `return`",
        "relu",
        4,
        0,
        [("the outputs are returned here", 3)],
        "move `return` to the end",
    ),
    (
        "return-in-residual",
        "  a := c1 = conv1d(8, 3)\n  residual { return a }",
        HEAD,
        "misplaced",
        "error",
        "`return` belongs at the end",
        "return a",
        3,
        0,
        [],
        None,
    ),
    (
        "return-in-loop",
        "  a := c1 = conv1d(8, 3)\n  for i in range(0, 2) { return a }",
        HEAD,
        "misplaced",
        "error",
        "`return` belongs at the end",
        "return a",
        3,
        0,
        [],
        None,
    ),
    (
        "named-loop",
        "  l = for i in range(0, 2) { c = conv1d(8, 3, padding = 1) }",
        HEAD,
        "misplaced",
        "error",
        "a loop is not a module and cannot be named with `=`",
        "l",
        2,
        0,
        [],
        "with `:=`",
    ),
    (
        "block-two-returns",
        "  b = B(4)",
        "block B(c) {\n  a := c1 = conv1d(c, 1)\n  b := x | c2 = conv1d(c, 1)\n  return a, b\n}\n" + HEAD,
        "misplaced",
        "error",
        "a block returns one tensor",
        "return a, b",
        4,
        0,
        [],
        None,
    ),
    (
        "tensor-twice",
        "  a := c1 = conv1d(8, 3)\n  a := x | c2 = conv1d(8, 3)\n  add(a, a)",
        HEAD,
        "duplicate-name",
        "error",
        "tensor `a` is already defined",
        "a",
        3,
        0,
        [("first defined here", 2)],
        None,
    ),
    (
        "layer-named-like-tensor",
        "  a := c1 = conv1d(8, 3)\n  a = conv1d(8, 3)\n  add(a, a)",
        HEAD,
        "duplicate-name",
        "error",
        "`a` is a tensor and cannot also name a layer",
        "a",
        3,
        0,
        [("the tensor", 2)],
        None,
    ),
    (
        "input-redefined",
        "  x := c1 = conv1d(8, 3)",
        HEAD,
        "duplicate-name",
        "error",
        "tensor `x` is already defined",
        "x",
        2,
        0,
        [],
        None,
    ),
    (
        "keyword-tensor",
        "  class := c1 = conv1d(8, 3)",
        HEAD,
        "bad-name",
        "error",
        "`class` cannot name a tensor: it is a Python keyword",
        "class",
        2,
        0,
        [],
        "class_out",
    ),
    (
        "identity-tensor",
        "  identity := c1 = conv1d(8, 3)",
        HEAD,
        "bad-name",
        "error",
        "`identity` cannot name a tensor",
        "identity",
        2,
        0,
        [],
        None,
    ),
    (
        "builtin-tensor",
        "  len := c1 = conv1d(8, 3)",
        HEAD,
        "bad-name",
        "error",
        "`len` cannot name a tensor",
        "len",
        2,
        0,
        [],
        None,
    ),
    (
        "if-not-bool",
        "  if 3 { relu }",
        HEAD,
        "type-error",
        "error",
        "`if` needs true or false, got 3",
        "3",
        2,
        0,
        [],
        None,
    ),
    (
        "range-float",
        "  for i in range(0, 2.5) { relu }",
        HEAD,
        "type-error",
        "error",
        "range() takes whole numbers, got 2.5",
        "2.5",
        2,
        0,
        [],
        None,
    ),
    (
        "huge-loop",
        "  for i in range(0, 10 ** 9) { relu }",
        HEAD,
        "too-large",
        "error",
        "this loop runs 1,000,000,000 times",
        "for",
        2,
        0,
        [],
        None,
    ),
    (
        "huge-power",
        "  c = conv1d(2 ** 100000, 3)",
        HEAD,
        "bad-value",
        "error",
        "does not fit in a 64-bit integer",
        "2 ** 100000",
        2,
        0,
        [],
        "2,147,483,647",
    ),
    (
        "residual-mismatch",
        "  residual { c = conv1d(8, 3, padding = 1) } shortcut { sc = conv1d(6, 1) }",
        HEAD,
        "residual-mismatch",
        "error",
        "shortcut",
        "residual",
        2,
        0,
        [("the shape changes here", 2)],
        None,
    ),
    (
        "mean-with-dim",
        MM.replace("6, 3, padding = 1", "8, 3") + "  mean(a, b, dim = 1)",
        HEAD,
        "unknown-parameter",
        "error",
        "`mean` has no parameter `dim`",
        "dim = 1",
        4,
        0,
        [],
        None,
    ),
    (
        "duplicate-output",
        "  a := c1 = conv1d(8, 3)\n  b := x | c2 = conv1d(8, 3)\n  return a, b, a",
        HEAD,
        "duplicate-output",
        "warning",
        "`a` is returned twice",
        "a",
        4,
        1,
        [("returned first here", 4)],
        None,
    ),
    (
        "dict-entry-twice",
        "  a := c1 = conv1d(8, 3)\n  b := a | heads.p = conv1d(2, 1)\n  c := a | heads.p = conv1d(2, 1)\n"
        "  return b, c",
        HEAD,
        "duplicate-name",
        "error",
        "layer name `heads.p` is already used",
        "heads.p",
        4,
        0,
        [],
        "bare `heads.p`",
    ),
    (
        "dict-entry-undefined",
        "  a := c1 = conv1d(8, 3)\n  b := a | heads.p = conv1d(2, 1)\n  c := a | heads.q\n  return b, c",
        HEAD,
        "unknown-layer",
        "error",
        "no layer is called `heads.q`",
        "heads.q",
        4,
        0,
        [],
        None,
    ),
    (
        "dict-entry-in-seq",
        "  s = seq { heads.p = conv1d(2, 1) }",
        HEAD,
        "misplaced",
        "error",
        "the dict entry `heads.p` cannot be defined inside a `seq`",
        "heads.p",
        2,
        0,
        [],
        None,
    ),
    (
        "dict-called-whole",
        "  a := c1 = conv1d(8, 3)\n  b := a | heads.p = conv1d(2, 1)\n  c := a | heads\n  return b, c",
        HEAD,
        "misplaced",
        "error",
        "`heads` is a dict of layers; call one of its entries",
        "heads",
        4,
        0,
        [],
        "heads.p",
    ),
    (
        "dict-name-taken",
        "  heads = conv1d(8, 3)\n  heads.p = conv1d(2, 1)",
        HEAD,
        "duplicate-name",
        "error",
        "layer name `heads` is already used",
        "heads.p",
        3,
        0,
        [],
        None,
    ),
    (
        "dict-key-twice",
        "  a := c1 = conv1d(8, 3)\n  b := x | c2 = conv1d(8, 3)\n  return {out: a, \"out\": b}",
        HEAD,
        "bad-key",
        "error",
        'the output key "out" is given twice',
        '"out"',
        4,
        0,
        [("given first here", 4)],
        None,
    ),
    (
        "dict-key-not-plain",
        '  a := c1 = conv1d(8, 3)\n  return {"a b": a}',
        HEAD,
        "bad-key",
        "error",
        'the output key "a b" is not plain text',
        '"a b"',
        3,
        0,
        [],
        "letters, digits",
    ),
    (
        "dict-return-from-block",
        "  b1 = B\n}\nblock B() {\n  a := c = conv1d(8, 3)\n  return {a: a}",
        HEAD,
        "misplaced",
        "error",
        "a block returns one tensor, not a dict",
        "return",
        6,
        0,
        [],
        None,
    ),
]


def _column(line_text: str, culprit: str, occurrence: int) -> int:
    if len(culprit) == 1 and culprit.isalpha():
        # a one-letter culprit: the n-th whole-word occurrence
        starts = [m.start() for m in re.finditer(rf"\b{culprit}\b", line_text)]
        return starts[occurrence] + 1
    index = -1
    for _ in range(occurrence + 1):
        index = line_text.index(culprit, index + 1)
    return index + 1


@pytest.mark.parametrize(
    ("body", "head", "code", "severity", "message", "culprit", "line", "occurrence", "notes", "help_part"),
    [d[1:] for d in DIAGNOSTICS],
    ids=[d[0] for d in DIAGNOSTICS],
)
def test_diagnostic(
    tmp_path: Path,
    body: str,
    head: str,
    code: str,
    severity: str,
    message: str,
    culprit: str,
    line: int,
    occurrence: int,
    notes: list[tuple[str, int]],
    help_part: str | None,
) -> None:
    source = arch(body, head)
    exit_code, diags, rendered = lint(tmp_path, source)
    diag = next((d for d in diags if d["code"] == code), None)
    assert diag is not None, [(d["code"], d["message"]) for d in diags]
    assert diag["severity"] == severity
    assert message in diag["message"], diag["message"]
    assert diag["line"] == line, diag
    line_text = source.splitlines()[line - 1]
    assert diag["column"] == _column(line_text, culprit, occurrence), (diag, line_text)
    for fragment, note_line in notes:
        assert any(fragment in n["message"] and n["line"] == note_line for n in diag["notes"]), (
            fragment,
            diag["notes"] + [{"label": diag["label"]}],
        )
    if help_part is not None:
        assert diag["help"] is not None and help_part in diag["help"], diag["help"]
    has_error = any(d["severity"] == "error" for d in diags)
    assert exit_code == (1 if has_error else 0)
    assert (severity == "error") <= has_error
    assert f"{severity}[{code}]" in rendered
    assert f"m.arch:{line}:{diag['column']}" in rendered
    assert "Traceback" not in rendered


def test_warnings_only_exit_zero_and_strict_fails(tmp_path: Path) -> None:
    source = arch("  a := c1 = conv1d(8, 3)\n  b := x | c2 = conv1d(8, 3)\n  return a")
    exit_code, diags, _ = lint(tmp_path, source)
    assert exit_code == 0 and [d["severity"] for d in diags] == ["warning"]
    code, _, _ = cli("lint", str(tmp_path / "m.arch"), "--strict")
    assert code == 1


def test_merge_mismatch_labels_each_operand_in_the_rendering(tmp_path: Path) -> None:
    _, _, rendered = lint(tmp_path, arch(MM + "  add(a, b)"))
    assert "`a` is (N, 8, 18) (batch, channels, length): 18 length set here" in rendered
    assert "`b` is (N, 6, 20) (batch, channels, length): 20 length set here" in rendered
    assert "^^^^^^^^^ `add` is here" in rendered


def test_misspelled_tensor_at_chain_start_suggests_the_tensor(tmp_path: Path) -> None:
    source = arch("  trunk := c1 = conv1d(8, 3)\n  head := trunc | c2 = conv1d(8, 3)\n  return head")
    exit_code, diags, _ = lint(tmp_path, source)
    assert exit_code == 1
    (diag,) = [d for d in diags if d["severity"] == "error"]
    assert (diag["line"], diag["column"]) == (3, 11)
    assert "trunk" in (diag["help"] or "")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (SIAMESE, "returns 3 outputs (both, fwd, rev)"),
        (
            arch(
                "  a := c1 = conv1d(8, 3) | global_max_pool\n  f := feats | fl = linear(8)\n  add(a, f)",
                TWO_INPUTS,
            ),
            "takes 2 inputs",
        ),
    ],
    ids=["outputs", "inputs"],
)
def test_seqgra_export_of_graphs_is_refused(tmp_path: Path, source: str, message: str) -> None:
    src = tmp_path / "g.arch"
    src.write_text(source)
    out = tmp_path / "sq"
    code, _, err = cli("compile", str(src), "--emit", "seqgra", "-o", str(out))
    assert code == 2
    assert "seqgra" in err and message in err
    assert "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


# ------------------------------------------------------------------ 6. chain examples


def test_golden_chain_examples_are_covered_elsewhere() -> None:
    """tests/test_compile.py compares examples/{basset,deepsea,chromdragonn}.arch with generated/."""
    from seeds import MODELS

    assert set(MODELS) == {"basset", "deepsea", "chromdragonn"}
    text = (ROOT / "tests" / "test_compile.py").read_text()
    assert "def test_generated_files_are_up_to_date(" in text
    assert 'GENERATED / f"{model}.py"' in text
    for model in MODELS:
        assert (ROOT / "generated" / f"{model}.py").exists()


# ------------------------------------------------------------------ 7. summary and diagram

TWO_HEADS = arch(
    "  c1 = conv1d(8, 3) | relu | flatten\n  trunk := fc = linear(16) | relu\n"
    "  dev_out := trunk | dev = linear(1)\n  hk_out := trunk | hk = linear(2)\n"
    "  joint := cat(dev_out, hk_out, axis = features)\n  return dev_out, joint"
)


def test_summary_of_a_two_output_model(tmp_path: Path) -> None:
    src = tmp_path / "m.arch"
    src.write_text(TWO_HEADS)
    code, out, _ = cli("summary", str(src), "--format", "json")
    assert code == 0
    summary = json.loads(out)
    assert summary["outputs"] == [
        {"name": "dev_out", "sizes": [None, 1], "axes": ["batch", "features"]},
        {"name": "joint", "sizes": [None, 3], "axes": ["batch", "features"]},
    ]
    assert [i["name"] for i in summary["inputs"]] == ["x"]
    rows = {(r["name"], r["kind"]) for r in summary["layers"]}
    assert {("trunk :=", "tensor"), ("trunk |", "read"), ("cat", "cat"), ("joint :=", "tensor")} <= rows
    code, text, _ = cli("summary", str(src))
    assert code == 0
    assert "outputs dev_out (N, 1), joint (N, 3)" in text.splitlines()[1]


def test_summary_groups_loops_and_shortcuts(tmp_path: Path) -> None:
    src = tmp_path / "m.arch"
    src.write_text(
        arch(
            "  residual { c1 = conv1d(8, 3, padding = 1) } shortcut { sc = conv1d(8, 1) }\n"
            "  for i in range(0, 2) { convs = conv1d(8, 3, padding = 1) | relu }"
        )
    )
    _, out, _ = cli("summary", str(src), "--format", "json")
    layers = json.loads(out)["layers"]
    kinds = [(r["name"], r["kind"], r["depth"]) for r in layers]
    assert ("shortcut", "shortcut", 1) in kinds
    assert ("sc", "conv1d", 2) in kinds
    assert ("for i", "loop", 0) in kinds
    assert [r["path"] for r in layers if r["kind"] == "conv1d"][-2:] == ["convs.0", "convs.1"]


def test_summary_receptive_field_with_two_inputs(tmp_path: Path) -> None:
    src = tmp_path / "m.arch"
    src.write_text(arch("  a := c1 = conv1d(8, 3)\n  f := feats | fl = linear(8)\n  return a, f", TWO_INPUTS))
    _, text, _ = cli("summary", str(src))
    assert "the input has no `length` axis" not in text


def test_dot_has_merge_and_one_node_per_output(tmp_path: Path) -> None:
    src = tmp_path / "m.arch"
    src.write_text(TWO_HEADS)
    dot = tmp_path / "m.dot"
    code, _, err = cli("graph", str(src), "-o", str(dot))
    assert code == 0, err
    text = dot.read_text()
    assert text.startswith('digraph "m"')
    assert text.count('label="output ') == 2
    assert 'label="output dev_out"' in text and 'label="output joint"' in text
    assert 'label="cat"' in text
    cat_node = next(line.split()[0] for line in text.splitlines() if 'label="cat"' in line)
    into_cat = [line for line in text.splitlines() if f"-> {cat_node} " in line]
    assert len(into_cat) == 2  # both operands
    assert '[label="(N, 3)"]' in text  # the joint output edge carries its shape


@pytest.mark.torch
@pytest.mark.parametrize("case", [h[0] for h in HAND] + ["siamese", "graph-file"])
def test_summary_parameter_total_matches_the_module(case: str, tmp_path: Path, torch_module: Any) -> None:
    source = {"siamese": SIAMESE, "graph-file": GRAPH_FILE}.get(case) or next(
        h[1] for h in HAND if h[0] == case
    )
    src = tmp_path / "m.arch"
    src.write_text(source)
    code, out, _ = cli("summary", str(src), "--format", "json")
    assert code == 0
    module, _ = build(source)
    assert json.loads(out)["totals"]["trainable_params"] == sum(p.numel() for p in module.parameters())


@pytest.mark.torch
@pytest.mark.parametrize("name", ["ifs", "Fs", "nns", "torchs", "selfs", "identitys", "hs", "zips", "xs"])
def test_loop_variables_never_shadow_what_forward_uses(name: str, torch_module: Any) -> None:
    """`for <item> in self.<list>`: the item's name is never a keyword, a module global
    (`F`, `nn`, `torch`), `self`, or a variable the forward already uses."""
    source = arch(f"  h := x | relu\n  for i in range(0, 2) {{ {name} = conv1d(4, 1) | relu }} | add(h)")
    module, code = build(source)
    assert f"in self.{name}:" in code
    x = torch_module.randn(2, 4, 20)
    assert module(x).shape == (2, 4, 20)


def test_a_graph_error_leaves_existing_output_untouched(tmp_path: Path) -> None:
    """`archc compile` of a graph whose merge does not fit: exit 1, the error located at the
    merge, and the module written before (by a good version of the file) stays as it was."""
    src = tmp_path / "g.arch"
    out = tmp_path / "out"
    good = arch(A_B + "  cat(a, b, axis = channels)")
    src.write_text(good)
    assert cli("compile", str(src), "-o", str(out))[0] == 0
    written = (out / "g.py").read_bytes()
    src.write_text(good.replace("c2 = conv1d(8, 5, padding = 2)", "c2 = conv1d(8, 5)"))
    code, _, err = cli("compile", str(src), "-o", str(out))
    assert code == 1
    assert "error[merge-mismatch]" in err and "g.arch:4:3" in err
    assert "nothing was written" in err
    assert (out / "g.py").read_bytes() == written
    assert sorted(p.name for p in out.iterdir()) == ["g.py"]  # no temporary file left
