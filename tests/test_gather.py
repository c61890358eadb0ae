"""Merges of a loop's iterations, `cat(for i in range(n) { ... }, dim = 1)`, and tuple items
(`kernels[i]`): the language, the shapes, the generated code (recomputed by hand from the
module's own submodules), the generic class at other counts, the summary, the formatter,
diagnostics, and their lift from PyTorch code (`torch.cat([m(x) for m in self.heads], 1)`)."""

from __future__ import annotations

import io
import json
import types
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from archc.api import compile_source
from archc.cli import main
from archc.core.source import Source
from archc.driver import run
from archc.syntax.fmt import format_source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_helpers import assert_lift_equivalent

MORE = Path(__file__).resolve().parent / "fixtures" / "torch" / "more"
BRANCHES = MORE / "parallel_branches.py"

BANK = """arch bank(length = 60, alphabet = 4, n = 3, width = 4, kernels = (3, 5, 7)) {
    h := cat(for i in range(n) {
        convs = seq { conv1d(width, 2 * i + 1, padding = i) | relu }
    }, dim = 1)
    s := h | add(for j in range(2) { mix = conv1d(8, 1) | relu })
    k := x | stack(for i in range(3) { sized = conv1d(2, kernels[i], padding = kernels[i] // 2) }, dim = 1)
    m := s | max(for i in range(2) { c = conv1d(8, 3, padding = 1) | bn = batchnorm1d })
    a := s | mean(for i in range(2) { pool = conv1d(8, 1) })
    return h, s, k, m, a
}
"""


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def checked(text: str, **params: Any) -> Any:
    result = run(Source("m.arch", text), {k: [v] for k, v in params.items()})
    assert result.ok, [(d.code, d.message) for d in result.diagnostics]
    return result.variants[0].checked


def build(text: str, **params: Any) -> tuple[Any, str]:
    code = compile_source(text)
    namespace = types.ModuleType("gather")
    exec(compile(code, "<gather>", "exec"), namespace.__dict__)
    return namespace.TorchModel(**params).eval(), code


def sizes(shape: Any, batch: int) -> tuple[int, ...]:
    return tuple(batch if d.size is None else d.size for d in shape)


@pytest.mark.torch
def test_gathers_equal_the_hand_computation(torch_module: Any) -> None:
    torch = torch_module
    module, code = build(BANK)
    x = torch.randn(3, 4, 60, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        for bn in module.bn:
            bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
        got = module(x)
        h = torch.cat([torch.relu(conv[0](x)) for conv in module.convs], dim=1)
        s = torch.relu(module.mix[0](h)) + torch.relu(module.mix[1](h))
        k = torch.stack([conv(x) for conv in module.sized], dim=1)
        m = torch.maximum(module.bn[0](module.c[0](s)), module.bn[1](module.c[1](s)))
        a = (module.pool[0](s) + module.pool[1](s)) / 2
    for g, w in zip(got, (h, s, k, m, a), strict=True):
        assert g.shape == w.shape
        assert (g - w).abs().max().item() <= 1e-6
    arch_ir = checked(BANK)
    assert [sizes(sh, 3) for sh in arch_ir.cls.out_shapes] == [tuple(t.shape) for t in got]
    # Every iteration reads the loop's input; one comprehension over the list when the body is one call.
    assert "h = torch.cat([conv(x) for conv in self.convs], dim=1)" in code
    assert "torch.stack(branches).sum(dim=0)" in code
    # The kernels differ by a tuple's item: those items are written one by one.
    assert "nn.Conv1d(alphabet, 2, kernel_size=7, padding=3)" in code


@pytest.mark.torch
@pytest.mark.parametrize("n", [1, 2, 5])
def test_the_generic_class_follows_the_count(n: int, torch_module: Any) -> None:
    """`cat` of n iterations of `width` channels is `width * n` channels: the class follows n."""
    module, code = build(BANK, n=n)
    assert "nn.Conv1d(n * width, 8, kernel_size=1)" in code
    outs = module(torch_module.zeros(2, 4, 60))
    assert tuple(outs[0].shape) == (2, 4 * n, 60)
    arch_ir = checked(BANK, n=n)
    assert sizes(arch_ir.cls.out_shapes[0], 2) == (2, 4 * n, 60)
    _, out, _ = 0, *cli_summary(BANK, n)
    assert json.loads(out)["totals"]["trainable_params"] == sum(p.numel() for p in module.parameters())


def cli_summary(text: str, n: int) -> tuple[str, str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bank.arch"
        path.write_text(text)
        code, out, err = cli("summary", str(path), "--format", "json", "--set", f"n={n}")
    assert code == 0, err
    return out, err


def test_a_joined_size_that_does_not_follow_the_count_fixes_it() -> None:
    """Iterations of different widths: the total is a number, so the class is fixed to that n."""
    text = "arch a(length = 20, alphabet = 4, n = 2) {\n    cat(for i in range(n) { c = conv1d(4 + i, 1) }, dim = 1)\n    d = conv1d(2, 1)\n}\n"
    code = compile_source(text)
    assert "if n != 2:" in code
    assert "nn.Conv1d(9, 2, kernel_size=1)" in code


def test_summary_shows_each_iteration_from_the_loop_input(tmp_path: Path) -> None:
    path = tmp_path / "bank.arch"
    path.write_text(BANK)
    code, out, _ = cli("summary", str(path))
    assert code == 0
    lines = out.splitlines()
    row = next(k for k, line in enumerate(lines) if line.startswith("for i ") and "gather" in line)
    assert lines[row].split()[2:6] == ["gather", "(N,", "12,", "60)"]
    assert lines[row + 1].split()[:4] == ["i", "=", "0", "iteration"]
    assert lines[row + 2].split()[:2] == ["convs.0", "seq"]
    merge = next(k for k, line in enumerate(lines) if k > row and line.split()[:2] == ["cat", "cat"])
    assert lines[merge].startswith("  cat ")  # inside the loop's group, after its iterations
    assert sum(line.split()[3:4] == ["iteration"] for line in lines[row:merge]) == 3
    dot_path = tmp_path / "bank.dot"
    code, _, err = cli("graph", str(path), "-o", str(dot_path))
    assert code == 0, err
    dot = dot_path.read_text()
    assert 'graph [label="for i", style="rounded,dashed"]' in dot and 'label="cat", shape="ellipse"' in dot


def test_format_keeps_a_gather_and_its_comments() -> None:
    text = (
        "arch a(length = 20, alphabet = 4) {\n    cat(for i in range(2) {  # branches\n"
        "        c = conv1d(4, 1)  # one per branch\n    },  # joined\n    dim = 1)\n}\n"
    )
    formatted = format_source(text)
    assert formatted == (
        "arch a(length = 20, alphabet = 4) {\n    cat(\n        for i in range(2) {  # branches\n"
        "            c = conv1d(4, 1)  # one per branch\n        },  # joined\n        dim = 1,\n    )\n}\n"
    )
    assert format_source(formatted) == formatted
    assert format_source(BANK) == BANK


NESTED = """arch g(length = 30, alphabet = 4) {
    h := cat(for i in range(2) { for j in range(3) { c = conv1d(4, 3, padding = 1) | relu } }, dim = 1)
    s := x | add(for i in range(2) {
        t := residual { r = conv1d(4, 3, padding = 1) } | relu
        cat(t, x, dim = 1)
    })
    k := x | cat(for i in range(2) { mean(for j in range(3) { q = conv1d(2, 1) }) }, dim = 1)
    return h, s, k
}
"""


@pytest.mark.torch
def test_loops_and_gathers_inside_gathers(torch_module: Any, tmp_path: Path) -> None:
    """Each iteration reads the tensor its chain names (`x`), not the tensor named before: no
    `chained-output` warning; nested loops and gathers are written out and give torch's shapes."""
    path = tmp_path / "g.arch"
    path.write_text(NESTED)
    code, out, _ = cli("lint", str(path))
    assert code == 0 and out.startswith("no problems"), out
    module, _ = build(NESTED)
    x = torch_module.randn(2, 4, 30)
    with torch_module.no_grad():
        h, s, k = module(x)
        want_h = torch_module.cat([module.c[2](torch_module.relu(module.c[1](torch_module.relu(module.c[0](x)))))
                                   .relu(), module.c[5](torch_module.relu(module.c[4](torch_module.relu(
                                       module.c[3](x))))).relu()], dim=1)
        want_k = torch_module.cat([(module.q[0](x) + module.q[1](x) + module.q[2](x)) / 3,
                                   (module.q[3](x) + module.q[4](x) + module.q[5](x)) / 3], dim=1)
    assert (h - want_h).abs().max().item() <= 1e-6
    assert (k - want_k).abs().max().item() <= 1e-6
    assert tuple(s.shape) == (2, 8, 30)


HEAD = "arch m(length = 20, alphabet = 4, ks = (3, 5)) {\n"


@pytest.mark.parametrize(("body", "code", "message", "culprit"), [
    ("    cat(for i in range(2) { c = conv1d(4, 2 * i + 1) }, dim = 1)", "merge-mismatch",
     "`cat` joins on channels, but the length differs: 20 in iteration i = 0 and 18 in iteration i = 1",
     "cat(for"),
    ("    add(for i in range(2) { c = conv1d(4 * i + 1, 1) })", "merge-mismatch",
     "`add` of a loop needs one shape from every iteration: iteration i = 0 gives (N, 1, 20) and "
     "iteration i = 1 gives (N, 5, 20)", "add(for"),
    ("    relu(for i in range(2) { c = conv1d(4, 1) })", "misplaced",
     "`relu` cannot take a loop: only a merge of its iterations' outputs can", "for i"),
    ("    cat(for i in range(0) { c = conv1d(4, 1) }, dim = 1)", "bad-value",
     "this loop runs no iterations, so `cat` has nothing to merge", "for i"),
    ("    cat(for i in range(2) { c = conv1d(4, 1) })", "missing-argument", "`cat` needs the axis to join on",
     "cat(for"),
    ("    a := c0 = conv1d(4, 1)\n    cat(for i in range(2) { c = conv1d(4, 1) }, a, dim = 1)", "type-error",
     "`cat` of a loop merges the outputs of its iterations and takes no other tensors", "a, dim"),
    ("    j = cat(for i in range(2) { c = conv1d(4, 1) }, dim = 1)", "misplaced",
     "`cat` is not a module and cannot be named with `=`", "j ="),
    ("    s = seq { cat(for i in range(2) { c = conv1d(4, 1) }, dim = 1) }", "misplaced",
     "`cat` merges tensors and cannot stand inside `seq`", "cat(for"),
    ("    c = conv1d(4, ks[2])", "bad-value", "index 2 is out of range: (3, 5) has 2 items", "2]"),
    ("    a := flatten\n    matmul(a, a)", "batch-mix",
     "`matmul` multiplies `a` (N, 80) (batch, features) as matrices of its last two axes", "matmul(a"),
    ("    a := c0 = conv1d(4, 1)\n    b := x | c1 = conv1d(6, 1)\n    matmul(a, b)", "merge-mismatch",
     "`matmul` needs the last axis of `a` (20 length) to equal the second-to-last of `b` (6 channels)", "matmul(a"),
    ("    a := c0 = conv1d(4, 1)\n    matmul(a, a, a)", "type-error", "`matmul` multiplies two tensors; it has 3",
     "matmul(a"),
    ("    matmul(for i in range(2) { c = conv1d(4, 1) })", "misplaced",
     "`matmul` multiplies two tensors, not the outputs of a loop", "matmul"),
    ("    a := permute(2, 1, 0)\n    matmul(x, a)", "batch-mix", "multiplies `a`", "matmul(x"),
    ("    c = conv1d(4, length[0])", "type-error", "only a tuple can be indexed, not 20 (whole number)", "length["),
    ("    c = conv1d(4, ks[1.5])", "type-error", "a tuple index is a whole number, got 1.5", "1.5"),
])
def test_gather_and_index_diagnostics(tmp_path: Path, body: str, code: str, message: str, culprit: str) -> None:
    text = HEAD + body + "\n}\n"
    path = tmp_path / "m.arch"
    path.write_text(text)
    exit_code, out, _ = cli("lint", str(path), "--format", "json")
    assert exit_code == 1
    diags = json.loads(out)
    diag = next((d for d in diags if d["code"] == code), None)
    assert diag is not None, [(d["code"], d["message"]) for d in diags]
    assert message in diag["message"], diag["message"]
    line = next(k for k, t in enumerate(text.splitlines(), 1) if culprit in t)
    assert (diag["line"], diag["column"]) == (line, text.splitlines()[line - 1].index(culprit) + 1)
    exit_code, rendered, _ = cli("lint", str(path))
    assert "Traceback" not in rendered


# ------------------------------------------------------------------ lifting PyTorch code


def lift(path: Path, *argv: str) -> tuple[int, str, str]:
    return cli("import", str(path), *argv)


def original(cls: str, **kwargs: Any) -> Any:
    namespace = types.ModuleType("parallel_branches")
    exec(compile(BRANCHES.read_text(), str(BRANCHES), "exec"), namespace.__dict__)
    return getattr(namespace, cls)(**kwargs)


@pytest.mark.torch
@pytest.mark.parametrize(("cls", "kwargs", "line"), [
    ("TaskHeads", {}, "| cat(for i in range(n_tasks) { heads = linear(1) }, dim = 1)"),
    ("TaskHeads", {"n_tasks": 2}, "| cat(for i in range(n_tasks) { heads = linear(1) }, dim = 1)"),
    ("StackedMembers", {}, "stack(for i in range(n_members) {"),
    ("StackedMembers", {"n_members": 1, "width": 3}, "stack(for i in range(n_members) {"),
    ("DilationBank", {}, "cat(for i in range(n_rates) { rates = conv1d(width, 3, padding = 2 ** i, "
                         "dilation = 2 ** i) | relu }, dim = 1)"),
    ("DilationBank", {"n_rates": 5}, "cat(for i in range(n_rates) {"),
])
def test_parallel_branches_lift_to_an_equivalent_module(
    cls: str, kwargs: dict[str, int], line: str, torch_module: Any
) -> None:
    code, text, err = lift(BRANCHES, "--class", cls, "--set", "length=200")
    assert code == 0, err
    assert line in text, text
    # The .arch follows the constructor's arguments: built at other values, it is the original built so.
    assert_lift_equivalent(original(cls, **kwargs), text, [(4, 200)], torch_module, **kwargs)


@pytest.mark.torch
def test_items_that_differ_by_numbers_read_them_from_tuples(torch_module: Any) -> None:
    """`for k in kernel_sizes: self.branches.append(...)`: each number that differs between the
    items is a tuple read by the loop's index, named after the argument that holds it."""
    code, text, err = lift(BRANCHES, "--class", "MultiKernelBank", "--set", "length=200")
    assert code == 0, err
    assert "let kernel_sizes = (9, 15, 21)\n    let branches_padding = (4, 7, 10)\n" in text
    assert "conv1d(n_filters, kernel_sizes[i], padding = branches_padding[i])" in text
    assert_lift_equivalent(original("MultiKernelBank"), text, [(4, 200)], torch_module)
    code, text, err = lift(BRANCHES, "--class", "MultiKernelBank", "--set", "length=200",
                           "--set", "kernel_sizes=[5, 11]")
    assert code == 0, err
    assert "let kernel_sizes = (5, 11)" in text
    assert_lift_equivalent(original("MultiKernelBank", kernel_sizes=[5, 11]), text, [(4, 200)], torch_module)


def test_items_that_differ_by_more_than_numbers_are_refused_at_the_item(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.convs = nn.ModuleList()\n"
        "        for act in (nn.ReLU(), nn.GELU()):\n"
        "            self.convs.append(nn.Sequential(nn.Conv1d(4, 4, 3, padding=1), act))\n\n"
        "    def forward(self, x):\n        return torch.cat([conv(x) for conv in self.convs], dim=1)\n"
    )
    code, out, err = lift(path, "--set", "length=50")
    assert code == 1 and out == ""
    assert "item 1 of `self.convs` is not built the way item 0 is" in err
    assert "m.py:10:31" in err


def test_an_item_called_alone_is_refused_at_the_call(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.heads = nn.ModuleList([nn.Conv1d(4, 2, 1) for _ in range(3)])\n\n"
        "    def forward(self, x):\n        return torch.cat([self.heads[0](x), self.heads[2](x)], dim=1)\n"
    )
    code, out, err = lift(path, "--set", "length=50")
    assert code == 1 and out == ""
    assert "an item of the nn.ModuleList `heads` is called by itself" in err
    assert "m.py:11:27" in err
    assert "Traceback" not in err


@pytest.mark.torch
def test_block_arguments_read_from_a_list_by_index(torch_module: Any, tmp_path: Path) -> None:
    """`ConvBlock(c, c, dilation=[1, 2, 5][i])` in a constructor loop: the block's argument is a
    tuple's item in the DSL loop."""
    source = (MORE / "appended_lists.py").read_text()
    old = "self.dilated.append(ConvBlock(channels, channels, dilation=2 ** i))"
    assert old in source
    path = tmp_path / "appended.py"
    path.write_text(source.replace(old, old.replace("2 ** i", "[1, 2, 5][i]")))
    code, text, err = lift(path, "--set", "length=200")
    assert code == 0, err
    assert "let dilated_dilation = (1, 2, 5)" in text
    assert "dilated = ConvBlock(n_filters * 4, n_filters * 4, dilation = dilated_dilation[i])" in text
    namespace = types.ModuleType("appended")
    exec(compile(path.read_text(), str(path), "exec"), namespace.__dict__)
    assert_lift_equivalent(namespace.TorchModel(), text, [(4, 200)], torch_module)


@pytest.mark.torch
@pytest.mark.parametrize(("cls", "kwargs", "lines"), [
    ("StemAndTower", {}, ["let convlayers_padding = (2, 4, 8, 16)", "for i in range(5) {\n        if i == 0 {",
                          "padding = convlayers_padding[i - 1]"]),
    ("HiddenThenOut", {}, ["let layers_out_features = (32, 16)", "if i == 2 { layers = linear(classes) } else {",
                           "layers = linear(layers_out_features[i]) | relu | drop = dropout(dropout)"]),
])
def test_a_list_item_called_alone_next_to_a_loop_over_the_rest(
    cls: str, kwargs: dict[str, Any], lines: list[str], torch_module: Any
) -> None:
    """`self.layers[0](x)` then `for layer in self.layers[1:]`, or a loop over `[:-1]` then
    `self.layers[-1](x)`: one DSL loop over every item, the item alone in its `if`."""
    code, text, err = lift(BRANCHES, "--class", cls, "--set", "length=100")
    assert code == 0, err
    for line in lines:
        assert line in text, text
    assert_lift_equivalent(original(cls, **kwargs), text, [(4, 100)], torch_module)
    # Another configuration, lifted again: the items follow it.
    if cls == "StemAndTower":
        code, text, err = lift(BRANCHES, "--class", cls, "--set", "length=100", "--set", "n_conv=3")
        assert code == 0, err
        assert_lift_equivalent(original(cls, n_conv=3), text, [(4, 100)], torch_module, n_conv=3)


@pytest.mark.parametrize(("forward", "words"), [
    ("for layer in self.layers[2:]:\n            x = layer(x)",
     "this loop runs over a slice of `self.layers`; archc lifts a slice with the items it leaves out"),
    ("x = self.layers[1](x)\n        for layer in self.layers[2:]:\n            x = layer(x)",
     "an item of the nn.ModuleList `layers` is called by itself"),
    ("for layer in self.layers[::2]:\n            x = layer(x)", "this loop runs over a slice of `self.layers`"),
    ("for layer in self.layers[:x.shape[0]]:\n            x = layer(x)",
     "a slice of a list takes whole numbers known statically"),
])
def test_other_slices_of_a_module_list_are_refused(tmp_path: Path, forward: str, words: str) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.layers = nn.ModuleList([nn.Conv1d(4, 4, 3, padding=1) for _ in range(4)])\n\n"
        f"    def forward(self, x, n=2):\n        {forward}\n        return x\n"
    )
    code, out, err = lift(path, "--set", "length=50")
    assert code == 1 and out == "", out
    assert words in err, err
    assert "m.py:1" in err and "Traceback" not in err


# ------------------------------------------------------------------ hostile and random programs

MERGE_WORDS = ["cat", "stack", "add", "mul", "mean", "max", "relu", "conv1d", "seq"]
BODIES = [
    "c = conv1d(4, k[i])", "c = conv1d(4 + i, 1)", "relu", "for j in range(2) { d = conv1d(4, 1) }",
    "t := relu", "residual { r = conv1d(4, 3, padding = 1) }", "x | e = conv1d(2, 1)",
    "cat(for j in range(i + 1) { g = conv1d(2, 1) }, dim = 1)", "if i == 0 { relu } else { sigmoid }",
    "c = conv1d(4, k[i - 5])", "flatten", "s = seq { conv1d(4, 1) | relu }", "",
]


@st.composite
def gather_program(draw: st.DrawFn) -> str:
    word = draw(st.sampled_from(MERGE_WORDS))
    body = draw(st.sampled_from(BODIES))
    bounds = draw(st.sampled_from(["3", "n", "0", "1, 3", "n - 1", "0, 4, 2", "k[0]", "-1"]))
    extra = draw(st.sampled_from(["", ", dim = 1", ", dim = -1", ", dim = 0", ", axis = channels", ", x",
                                  ", dim = 1, dim = 2", ", dim = k", ", dim = 1.5"]))
    head = draw(st.sampled_from(["", "x | ", "h := ", "h := x | ", "c0 = conv1d(4, 1) | "]))
    return (
        f"arch a(length = 12, alphabet = 4, n = 2, k = (1, 3, 5)) {{\n"
        f"    {head}{word}(for i in range({bounds}) {{ {body} }}{extra})\n}}\n"
    )


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(gather_program())
def test_random_gathers_give_a_verdict_not_a_crash(text: str) -> None:
    """Every combination compiles or gets a located diagnostic (exit 1), never an internal
    error; a program that compiles formats to a fixed point."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "g.arch"
        path.write_text(text)
        code, out, err = cli("lint", str(path))
    assert code in (0, 1), (code, err)
    assert "Traceback" not in out + err and "internal error" not in out + err
    if code == 1:
        assert "g.arch:" in out
    else:
        formatted = format_source(text)
        assert format_source(formatted) == formatted


# ------------------------------------------------------------------ matmul against torch


@pytest.mark.torch
def test_matmul_shapes_agree_with_torch(torch_module: Any) -> None:
    """Random pairs of tensors (batch first, 2 or 3 more axes): archc's verdict and shape for
    `matmul(x, y)` are torch's, under the documented rule that tensors of different ranks would
    line up the batch of one with another axis of the other (refused)."""
    import random

    torch = torch_module
    rng = random.Random(20261203)
    outcomes = {"ok": 0, "error": 0}
    for case in range(300):
        a = [rng.choice((1, 2, 3)) for _ in range(rng.choice((2, 3)))]
        b = [rng.choice((1, 2, 3)) for _ in range(rng.choice((2, 3)))]
        if rng.random() < 0.6:
            b[-2] = a[-1]  # usually multipliable
        axes = lambda sizes: ", ".join(f"d{k}: {s}" for k, s in enumerate(sizes))  # noqa: E731
        text = (f"arch m(length = 4, alphabet = 4) {{\n    input (batch, {axes(a)})\n    input y (batch, {axes(b)})\n"
                "    matmul(x, y)\n}\n")
        try:
            want: Any = tuple(torch.matmul(torch.randn(2, *a), torch.randn(2, *b)).shape)
            if len(a) != len(b):
                want = None  # the batch of one lines up with another axis of the other
        except RuntimeError:
            want = None
        result = run(Source("m.arch", text), {})
        got = None
        if result.ok:
            shape = result.variants[0].checked.cls.out_shape
            got = tuple(2 if d.size is None else d.size for d in shape)
        assert got == want, (case, text, got, want)
        outcomes["ok" if want else "error"] += 1
    assert min(outcomes.values()) >= 60, outcomes
