"""`archc summary`: numbers checked against the compiled module, fields by hand, golden files."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from archc.api import build_module
from archc.backends.summary import Reach, Row, Summary, render_summary, summarize
from archc.cli import main
from archc.core.source import Source
from archc.driver import run, run_path
from archc.ir import nodes as ir
from seeds import MODELS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = ROOT / "tests" / "golden" / "summary"
SUFFIX = {"text": "txt", "markdown": "md", "json": "json"}

# The examples pin their seed's flattened size; dropping it lets archc infer it at any length.
PINNED = {"basset": "3600 -> ", "deepsea": "53 * 960 -> ", "chromdragonn": "4200 -> "}

# (model, --set values): the examples as written, other class counts and other lengths.
VARIANTS: list[tuple[str, dict[str, Any]]] = [
    *((m, {}) for m in MODELS),
    ("basset", {"classes": 10}),
    ("deepsea", {"classes": 10}),
    ("chromdragonn", {"classes": 10}),
    ("basset", {"length": 500}),
    ("deepsea", {"length": 500}),
    ("chromdragonn", {"length": 600, "classes": 2}),
]


def example_text(model: str, params: dict[str, Any]) -> str:
    text = (EXAMPLES / f"{model}.arch").read_text(encoding="utf-8")
    if "length" in params:
        assert PINNED[model] in text
        text = text.replace(PINNED[model], "")
    return text


def checked_text(text: str, params: dict[str, Any] | None = None) -> ir.Architecture:
    result = run(Source("test.arch", text), {k: [v] for k, v in (params or {}).items()})
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    checked = result.variants[0].checked
    assert checked is not None
    return checked


def variant(model: str, params: dict[str, Any]) -> tuple[ir.Architecture, str]:
    text = example_text(model, params)
    return checked_text(text, params), text


def concrete(shape: ir.Shape, batch: int) -> tuple[int, ...]:
    return tuple(batch if d.size is None else d.size for d in shape)


def module_rows(summary: Summary) -> list[Row]:
    """Rows that stand for one call of a module of the compiled network."""
    return [r for r in summary.walk() if r.path is not None]


def record_calls(torch: Any, module: Any, paths: set[str]) -> dict[str, list[Any]]:
    """Forward hooks on the named modules: (input, output) of every call, in call order."""
    calls: dict[str, list[Any]] = {p: [] for p in paths}
    named = dict(module.named_modules())
    for path in paths:
        assert path in named, f"the summary names `{path}`, the module has no such submodule"

        def hook(mod: Any, inputs: Any, output: Any, path: str = path) -> None:
            out = output[0] if isinstance(output, tuple) else output
            calls[path].append((inputs[0].shape, tuple(out.shape), mod))

        named[path].register_forward_hook(hook)
    return calls


# ------------------------------------------------------------------ against the compiled module


@pytest.mark.torch
@pytest.mark.parametrize(("model", "params"), VARIANTS, ids=lambda v: str(v))
def test_totals_match_the_compiled_module(
    model: str, params: dict[str, Any], torch_module: Any
) -> None:
    arch, text = variant(model, params)
    summary = summarize(arch)
    module = build_module(text, params)
    assert summary.totals.params == sum(p.numel() for p in module.parameters())
    assert summary.totals.buffers == sum(b.numel() for b in module.buffers())
    assert summary.totals.param_bytes == sum(
        p.numel() * p.element_size() for p in module.parameters()
    )
    assert summary.totals.buffer_bytes == sum(
        b.numel() * b.element_size() for b in module.buffers()
    )
    assert summary.totals.unused == ()
    # Per-layer counts add up to the total: every module is counted exactly once.
    leaves = [r for r in summary.walk() if r.group is None]
    assert sum(r.params for r in leaves) == summary.totals.params


@pytest.mark.torch
@pytest.mark.parametrize(("model", "params"), VARIANTS, ids=lambda v: str(v))
def test_shapes_parameters_and_macs_of_every_layer(
    model: str, params: dict[str, Any], torch_module: Any
) -> None:
    """Every row with a module path: its output shape per call, its own parameters, and its MACs."""
    torch = torch_module
    arch, text = variant(model, params)
    summary = summarize(arch)
    module = build_module(text, params).eval()
    rows = module_rows(summary)
    calls = record_calls(torch, module, {r.path for r in rows if r.path})
    batch = 3
    with torch.no_grad():
        out = module(torch.zeros(concrete(arch.input_shape, batch)))
    assert tuple(out.shape) == concrete(arch.cls.out_shape, batch)

    expected: dict[str, list[tuple[int, ...]]] = {}
    for row in rows:
        assert row.path is not None
        expected.setdefault(row.path, []).append(concrete(row.shape, batch))
    assert {p: [c[1] for c in calls[p]] for p in expected} == expected

    named = dict(module.named_modules())
    seen_leaves: set[str] = set()
    for row in rows:
        assert row.path is not None
        if row.group is not None:
            continue
        own = sum(p.numel() for p in named[row.path].parameters())
        if row.path in seen_leaves:
            assert row.params == 0
            assert row.shared == (own > 0)
        else:
            assert row.params == own, row.path
        seen_leaves.add(row.path)

    # MACs, independently: every output element of a convolution costs one weight filter
    # (weight[0].numel() multiply-adds); of a linear layer, in_features of them.
    def independent(mod: Any, out_shape: tuple[int, ...]) -> int:
        per_sequence = math.prod(out_shape) // batch
        if isinstance(mod, (torch.nn.Conv1d, torch.nn.Conv2d)):
            return per_sequence * mod.weight[0].numel()
        if isinstance(mod, torch.nn.Linear):
            return per_sequence * mod.in_features
        return 0

    for path, got in calls.items():
        rows_here = [r for r in rows if r.path == path and r.group is None]
        if not rows_here:
            continue
        assert [r.macs for r in rows_here] == [independent(m, o) for _, o, m in got], path
    leaf_macs = sum(r.macs for r in summary.walk() if r.group is None)
    assert summary.totals.macs == leaf_macs > 0


def test_macs_by_hand() -> None:
    """A few layers worked out on paper."""
    deepsea = summarize(variant("deepsea", {})[0])
    rows = {r.name: r for r in deepsea.walk() if r.group is None and r.macs}
    # conv1: 320 filters of 4 x 8 weights at 993 positions.
    assert rows["conv1"].macs == 320 * 993 * 4 * 8
    # conv2: 480 filters of 320 x 8 at 241 positions.
    assert rows["conv2"].macs == 480 * 241 * 320 * 8
    # linear1: 53 * 960 inputs to each of 925 outputs.
    assert rows["linear1"].macs == 53 * 960 * 925
    basset = summarize(variant("basset", {})[0])
    rows = {r.name: r for r in basset.walk() if r.group is None}
    assert rows["layer1.0"].macs == 300 * 982 * 4 * 19
    assert rows["layer1.1"].macs == 0  # batchnorm folds into the convolution before it
    assert rows["layer1.1"].params == 2 * 300
    assert rows["layer1.1"].buffers == 2 * 300 + 1


def test_activation_memory_by_hand() -> None:
    """Every new tensor counts once; views (flatten) and in-place steps add nothing."""
    summary = summarize(variant("deepsea", {})[0])
    elements = (
        2 * 320 * 993  # conv1, relu
        + 2 * 320 * 248  # maxpool, drop1
        + 2 * 480 * 241  # conv2, relu
        + 2 * 480 * 60  # maxpool, drop1
        + 3 * 960 * 53  # conv3, relu, drop2 (flatten is a view)
        + 2 * 925  # linear1, relu
        + 50  # linear2
    )
    assert summary.totals.activation_bytes == 4 * elements
    # The largest input + output pair alive at once: conv1's output going through relu.
    assert summary.totals.peak_activation_bytes == 4 * 2 * 320 * 993
    chrom = summarize(variant("chromdragonn", {})[0])
    rows = {r.name: r for r in chrom.walk() if r.group is None}
    assert rows["prelayer.2"].activation_bytes == 0  # relu(inplace = true)
    assert rows["conv1"].activation_bytes == 4 * 48 * 1000
    assert rows["permute"].activation_bytes == 0  # a view
    assert rows["contiguous"].activation_bytes == 4 * 4 * 1000  # copies the permuted view
    adds = [r for r in chrom.walk() if r.kind == "add"]
    assert [a.activation_bytes for a in adds[:2]] == [4 * 64 * 1000] * 2


# ------------------------------------------------------------------ receptive field


def fields(summary: Summary) -> list[tuple[str, int | str, int | None]]:
    out: list[tuple[str, int | str, int | None]] = []
    for r in summary.walk():
        if r.group is None and r.reach is not None:
            out.append(
                (
                    r.name,
                    "all" if r.reach.whole else r.reach.size,
                    None if r.reach.whole else r.reach.jump,
                )
            )
    return out


def test_receptive_field_deepsea_by_hand() -> None:
    # conv 8: 8; pool 4/4: 8 + 3 = 11, jump 4; conv 8: 11 + 7 * 4 = 39;
    # pool 4/4: 39 + 3 * 4 = 51, jump 16; conv 8: 51 + 7 * 16 = 163.
    summary = summarize(variant("deepsea", {})[0])
    assert fields(summary) == [
        ("conv1", 8, 1),
        ("relu", 8, 1),
        ("maxpool", 11, 4),
        ("drop1", 11, 4),
        ("conv2", 39, 4),
        ("relu", 39, 4),
        ("maxpool", 51, 16),
        ("drop1", 51, 16),
        ("conv3", 163, 16),
        ("relu", 163, 16),
        ("drop2", 163, 16),
        ("flatten", 163, 16),
        ("linear1", "all", None),
        ("relu", "all", None),
        ("linear2", "all", None),
    ]
    assert summary.totals.local_reach == Reach(16, 0, 162)
    assert summary.totals.local_at == "flatten"
    assert summary.totals.reach is not None and summary.totals.reach.whole


def test_receptive_field_basset_by_hand() -> None:
    # conv 19: 19; pool 3: 19 + 2 = 21, jump 3; conv 11: 21 + 10 * 3 = 51; pool 4: 51 + 3 * 3 = 60,
    # jump 12; conv 7: 60 + 6 * 12 = 132; pool 4: 132 + 3 * 12 = 168, jump 48.
    summary = summarize(variant("basset", {})[0])
    convs = [(n, rf, j) for n, rf, j in fields(summary) if n.endswith((".0", ".3"))]
    assert convs == [
        ("layer1.0", 19, 1),
        ("layer1.3", 21, 3),
        ("layer2.0", 51, 3),
        ("layer2.3", 60, 12),
        ("layer3.0", 132, 12),
        ("layer3.3", 168, 48),
    ]
    assert summary.totals.local_reach == Reach(48, 0, 167)


def test_receptive_field_of_residual_is_the_union_of_both_paths() -> None:
    # A skip around a 5-wide convolution: the body sees 5 positions, the skip 1; the sum 5.
    # A padded 1-wide convolution shifts what position i sees, it does not widen it.
    arch = checked_text(
        "block R() { residual { c = conv1d(8, 5, padding = 2) } }\n"
        "arch t(length = 100, alphabet = 4) {\n"
        "  c0 = conv1d(8, 1, padding = 1)\n"
        "  r = R()\n"
        "}\n"
    )
    summary = summarize(arch)
    assert summary.totals.reach == Reach(1, -3, 1)  # position i sees i - 3 .. i + 1
    add = [r for r in summary.walk() if r.kind == "add"]
    assert len(add) == 1 and add[0].reach == Reach(1, -3, 1)


GRADIENT_CASES = {
    **{m: example_text(m, {}) for m in MODELS},
    # stride with padding, dilation, overlapping average pooling, "same" with an even kernel
    "strided": "arch t(length = 300, alphabet = 4) {\n"
    "  c1 = conv1d(8, 9, stride = 2, padding = 4) | relu\n"
    "  c2 = conv1d(8, 5, dilation = 2) | p = avgpool1d(4, stride = 2)\n"
    '  c3 = conv1d(8, 4, padding = "same") | relu\n'
    "  flatten | fc = linear(2)\n}\n",
    # the length on the last axis of a 2-D input
    "2d": "arch t(length = 150, alphabet = 4) {\n"
    "  input (batch, channels, unit: 1, length)\n"
    "  c1 = conv2d(10, (1, 11), stride = (1, 2)) | p = maxpool2d((1, 4), stride = (1, 3))\n"
    "  c2 = conv2d(6, (1, 3), dilation = (1, 3), padding = (0, 2))\n"
    "  flatten | fc = linear(2)\n}\n",
}


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("case", sorted(GRADIENT_CASES))
def test_receptive_field_by_gradient(case: str, torch_module: Any) -> None:
    """The input positions with a nonzero gradient for one output position are exactly the field.

    Max pooling passes the gradient to one position per window, so it is swapped for
    average pooling of the same geometry; positive weights and inputs keep every path open.
    """
    torch = torch_module
    text = GRADIENT_CASES[case]
    arch = checked_text(text)
    summary = summarize(arch)
    target = [
        r for r in summary.walk() if r.group is None and r.path and r.reach and not r.reach.whole
    ][-1]
    assert target.reach is not None and target.path is not None
    module = build_module(text).double().eval()
    swapped: dict[int, Any] = {}  # one replacement per module, so aliases stay aliases
    for parent in list(module.modules()):
        for key, sub in list(parent._modules.items()):
            if isinstance(sub, (torch.nn.MaxPool1d, torch.nn.MaxPool2d)):
                avg = (
                    torch.nn.AvgPool1d
                    if isinstance(sub, torch.nn.MaxPool1d)
                    else torch.nn.AvgPool2d
                )
                if id(sub) not in swapped:
                    swapped[id(sub)] = avg(sub.kernel_size, sub.stride, sub.padding, sub.ceil_mode)
                parent._modules[key] = swapped[id(sub)]
    with torch.no_grad():
        for p in module.parameters():
            # Weights averaging their inputs keep activations near 1 through every layer.
            p.fill_(1.0 / p[0].numel() if p.dim() > 1 else 0.01)
    captured: list[Any] = []
    dict(module.named_modules())[target.path].register_forward_hook(
        lambda m, i, o: captured.append(o)
    )
    length = next(d.size for d in arch.input_shape if d.label == "length")
    axis_in = next(i for i, d in enumerate(arch.input_shape) if d.label == "length")
    axis_out = next(i for i, d in enumerate(target.shape) if d.label == "length")
    x = torch.rand(
        concrete(arch.input_shape, 1),
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(0),
    )
    x = (x + 0.5).requires_grad_()
    module(x)
    out = captured[-1]
    reach = target.reach
    positions = range(out.shape[axis_out])
    inside = [
        p
        for p in positions
        if p * reach.jump + reach.lo >= 0 and p * reach.jump + reach.hi < length
    ]
    assert inside, "every output position's field reaches past the input"
    pos = inside[len(inside) // 2]
    out.select(axis_out, pos).sum().backward()
    grad = x.grad.abs().sum(dim=[d for d in range(x.dim()) if d != axis_in])
    nonzero = [i for i in range(length) if grad[i] > 0]
    first, last = pos * reach.jump + reach.lo, pos * reach.jump + reach.hi
    assert (nonzero[0], nonzero[-1]) == (first, last)
    if case == "2d":
        # Dilation 3 over pooled positions 6 bp apart: taps 18 bp apart, each seeing 17 bp,
        # leave one unseen position between taps. The field is the span, holes included.
        holes = [i for i in range(first, last + 1) if i not in nonzero]
        assert holes == [first + 17, first + 35]
    else:
        assert nonzero == list(range(first, last + 1))


# ------------------------------------------------------------------ other layers and aliases


@pytest.mark.torch
def test_gru_counts(torch_module: Any) -> None:
    text = (
        "arch t(length = 20, alphabet = 4) {\n"
        "  input (batch, length, channels)\n"
        "  r = gru(8, num_layers = 2, bidirectional = true, batch_first = true)\n"
        "  r2 = gru(5, batch_first = true, bias = false)\n"
        "}\n"
    )
    summary = summarize(checked_text(text))
    assert summary.totals.params == sum(p.numel() for p in build_module(text).parameters())
    r2 = next(r for r in summary.walk() if r.name == "r2")
    # Per step: 3 gates x hidden x (input + hidden).
    assert r2.macs == 20 * 3 * 5 * (16 + 5)
    assert r2.reach is not None and r2.reach.whole


def test_reused_layer_counts_once_and_lstm_counts(torch_module: Any) -> None:
    text = (
        "arch t(length = 40, alphabet = 4) {\n"
        "  conv = conv1d(4 -> 4, 3, padding = 1) | relu | conv | bn = batchnorm1d(affine = false)\n"
        "  permute(0, 2, 1)\n"
        "  rnn = lstm(6, num_layers = 2, bidirectional = true, batch_first = true)\n"
        "  select(1, -1)\n"
        "  fc = linear(3)\n"
        "}\n"
    )
    summary = summarize(checked_text(text))
    module = build_module(text)
    assert summary.totals.params == sum(p.numel() for p in module.parameters())
    assert summary.totals.buffers == sum(b.numel() for b in module.buffers())
    convs = [r for r in summary.walk() if r.name == "conv"]
    assert [r.params for r in convs] == [4 * 4 * 3 + 4, 0]
    assert [r.shared for r in convs] == [False, True]
    assert [r.macs for r in convs] == [40 * 4 * 4 * 3] * 2  # each call computes
    rnn = next(r for r in summary.walk() if r.name == "rnn")
    # Per step and direction: 4 gates x hidden x (input + hidden); layer 2 reads both directions.
    assert rnn.macs == 40 * 2 * (4 * 6 * (4 + 6) + 4 * 6 * (12 + 6))
    assert rnn.reach is not None and rnn.reach.whole
    bn = next(r for r in summary.walk() if r.name == "bn")
    assert bn.params == 0 and bn.buffers == 2 * 4 + 1


def test_no_length_axis_has_no_receptive_field() -> None:
    summary = summarize(
        checked_text("arch t(n = 10) {\n  input (batch, features: n)\n  fc = linear(2)\n}\n")
    )
    assert summary.totals.reach is None
    assert all(r.reach is None for r in summary.walk())
    assert "no `length` axis" in render_summary(summary.arch, "text")


def test_2d_layout_field_follows_the_length_axis() -> None:
    arch = checked_text(
        "arch t(length = 150, alphabet = 4) {\n"
        "  input (batch, channels, unit: 1, length)\n"
        "  conv = conv2d(10, (1, 11)) | pool = maxpool2d((1, 4))\n"
        "  flatten | fc = linear(2)\n"
        "}\n"
    )
    summary = summarize(arch)
    assert summary.totals.local_reach == Reach(4, 0, 13)  # 11 + 3, jump 4
    assert summary.totals.local_at == "flatten"


# ------------------------------------------------------------------ output formats


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
@pytest.mark.parametrize("model", MODELS)
def test_golden(
    model: str, fmt: str, update_golden: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """`archc summary` output, compared with tests/golden/summary (rewrite with --update-golden)."""
    assert main(["summary", str(EXAMPLES / f"{model}.arch"), "--format", fmt]) == 0
    got = capsys.readouterr().out
    golden = GOLDEN / f"{model}.{SUFFIX[fmt]}"
    if update_golden:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(got, encoding="utf-8")
    assert (
        golden.read_text(encoding="utf-8") == got
    ), "run pytest --update-golden after intended changes"


@pytest.mark.parametrize("model", MODELS)
def test_formats_carry_the_same_numbers(model: str) -> None:
    arch = variant(model, {})[0]
    summary = summarize(arch)
    data = json.loads(render_summary(arch, "json"))
    totals = data["totals"]
    assert totals["trainable_params"] == summary.totals.params
    assert totals["macs_per_sequence"] == summary.totals.macs
    assert totals["buffers"] == summary.totals.buffers
    rows = list(summary.walk())
    assert [layer["name"] for layer in data["layers"]] == [r.name for r in rows]
    assert [layer["params"] for layer in data["layers"]] == [r.params for r in rows]
    assert [layer["output"]["sizes"] for layer in data["layers"]] == [
        [d.size for d in r.shape] for r in rows
    ]
    text = render_summary(arch, "text")
    markdown = render_summary(arch, "markdown")
    for out in (text, markdown):
        assert f"{summary.totals.params:,} trainable" in out
        assert f"{summary.totals.macs:,} per sequence" in out
        for row in rows:
            if row.params:
                assert f"{row.params:,}" in out
    # The text table is aligned: every table line is as wide as its rule, or narrower.
    lines = text.splitlines()
    rule = next(line for line in lines if set(line) == {"-"})
    table = lines[lines.index(rule) - 1 : len(lines) - lines[::-1].index(rule)]
    assert all(len(line) <= len(rule) for line in table)
    header = table[0]
    # Right-aligned numbers end where their heading ends.
    end = header.index("params") + len("params")
    for line in table[3:-1]:  # below the rule and the input row
        cell = line[:end].rsplit(" ", 1)[-1]
        assert re.fullmatch(r"[0-9,]+|-|shared", cell), line


def test_markdown_is_a_table() -> None:
    out = render_summary(variant("chromdragonn", {})[0], "markdown")
    rows = [line for line in out.splitlines() if line.startswith("|")]
    assert len({line.count(" | ") for line in rows if not line.startswith("|-")}) == 1
    assert "| " + "&nbsp;" * 8 + "`layer1.0.conv1`" in out


def test_set_values_change_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["summary", str(EXAMPLES / "deepsea.arch"), "--set", "classes=10", "--format", "json"])
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert data["params"]["classes"] == 10
    assert data["output"]["sizes"] == [None, 10]
    assert data["layers"][-1]["params"] == 925 * 10 + 10


def test_several_values_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(EXAMPLES / "deepsea.arch"), "--set", "classes=2,3"]) == 2
    assert "one value" in capsys.readouterr().err


def test_shape_error_exits_1_with_the_diagnostic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.arch"
    bad.write_text(
        "arch bad(length = 100, alphabet = 4) {\n  conv = conv1d(8, 5)\n  flatten\n"
        "  fc = linear(700 -> 2)\n}\n",
        encoding="utf-8",
    )
    assert main(["summary", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error" in captured.err and "bad.arch:4:" in captured.err
    assert "768" in captured.err  # 8 channels x 96 positions
    assert "no summary" in captured.err


def test_summary_runs_on_every_checked_variant() -> None:
    for model in MODELS:
        _, result = run_path(str(EXAMPLES / f"{model}.arch"))
        assert result.ok
        for v in result.variants:
            assert v.checked is not None
            for fmt in ("text", "json", "markdown"):
                assert render_summary(v.checked, fmt).endswith("\n")


# ------------------------------------------------------------------ other front ends


FIXTURES = ROOT / "tests" / "fixtures" / "torch"
LIFTABLE = [
    e["file"]
    for e in json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
    if e["expect"] == "ok"
]


@pytest.mark.torch
@pytest.mark.parametrize("name", LIFTABLE)
def test_lifted_python_is_summarized_like_arch(name: str, torch_module: Any) -> None:
    """A .py goes through the same checked IR; its totals match the fixture module itself."""
    pytest.importorskip(
        "archc.frontends.torch_import", reason="the PyTorch importer is not in this checkout yet"
    )
    import types

    fixture = FIXTURES / name
    _, result = run_path(str(fixture))
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    checked = result.variants[0].checked
    assert checked is not None
    summary = summarize(checked)
    namespace = types.ModuleType("fixture")  # test data, run only by the test
    exec(compile(fixture.read_text(encoding="utf-8"), str(fixture), "exec"), namespace.__dict__)
    module = namespace.TorchModel()
    assert summary.totals.params == sum(p.numel() for p in module.parameters())
    assert summary.totals.buffers == sum(b.numel() for b in module.buffers())
    assert summary.totals.unused == ()


@pytest.mark.usefixtures("seed_available")
@pytest.mark.parametrize("model", MODELS)
def test_seqgra_xml_and_seed_python_are_summarized_like_arch(model: str, tmp_path: Path) -> None:
    """The seed's XML names the seed's PyTorch module; both read as the network of the .arch."""
    pytest.importorskip(
        "archc.frontends.torch_import", reason="the PyTorch importer is not in this checkout yet"
    )
    pytest.importorskip(
        "archc.frontends.seqgra_import", reason="the seqgra importer is not in this checkout yet"
    )
    from seeds import seed_python, seed_xml

    xml = tmp_path / f"{model}.xml"
    xml.write_text(seed_xml(model), encoding="utf-8")
    module = tmp_path / "PyTorch" / f"o50-dna1000-{model}.py"
    module.parent.mkdir()
    module.write_text(seed_python(model), encoding="utf-8")
    want = summarize(variant(model, {})[0]).totals
    for path in (xml, module):
        _, result = run_path(str(path))
        assert result.ok, [d.message for d in result.diagnostics if d.is_error]
        checked = result.variants[0].checked
        assert checked is not None
        got = summarize(checked).totals
        assert (got.params, got.buffers, got.macs) == (want.params, want.buffers, want.macs), path
        if model == "chromdragonn" and path == xml:
            # The definition says inputencoding 1D, so seqgra feeds (batch, 4, 1000); the seed
            # permutes it as if it were (batch, 1000, 4) and its view then mixes the axes:
            # there is no receptive field along the sequence to compare.
            assert "axis-mix" in [d.code for d in result.diagnostics]
            continue
        assert got.local_reach == want.local_reach, path


def test_docs_show_the_current_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(EXAMPLES / "deepsea.arch")]) == 0
    shown = capsys.readouterr().out
    assert f"$ archc summary examples/deepsea.arch\n{shown}```" in (
        ROOT / "docs" / "summary.md"
    ).read_text(encoding="utf-8")
