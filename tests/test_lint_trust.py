"""Lint a user can trust (issue 16): what torch refuses is a located error, batch mixing is an
error of its own, and the messages say exactly what happens."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from archc.cli import main
from test_lint import HEAD, lint

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "seqgra" / "permuting"


def _one(diags: list[dict], code: str) -> dict:
    found = [d for d in diags if d["code"] == code]
    assert len(found) == 1, diags
    return found[0]


def _column(source: str, line: int, culprit: str) -> int:
    return source.splitlines()[line - 1].index(culprit) + 1


# (id, source, code, message part, culprit text, culprit's line)
ERRORS = [
    (
        "view-folds-batch",
        HEAD + "  view(-1)\n}\n",
        "batch-mix",
        "`view(-1)` merges (batch, channels, length) = (N, 4, 100) into one axis of 400N",
        "view(-1)",
        2,
    ),
    (
        "view-splits-batch-order",
        HEAD + "  flatten | fc = linear(3) | view(3, -1)\n}\n",
        "batch-mix",
        "`view(3, -1)` merges (batch, features) = (N, 3) into (3, N)",
        "view(3, -1)",
        2,
    ),
    (
        "flatten-from-0",
        HEAD + "  flatten(0)\n}\n",
        "batch-mix",
        "`flatten` merges the batch axis with other axes (batch, channels, length)",
        "flatten(0)",
        2,
    ),
    (
        "softmax-over-batch",
        HEAD + "  flatten | softmax(0)\n}\n",
        "batch-mix",
        "`softmax` normalizes over axis 0, the batch axis",
        "0",
        2,
    ),
    (
        "select-batch",
        HEAD + "  select(0, 0)\n}\n",
        "batch-mix",
        "`select` selects one index of axis 0, the batch axis",
        "0, 0",
        2,
    ),
    (
        "linear-over-batch",
        HEAD + "  permute(2, 1, 0)\n  fc = linear(3)\n}\n",
        "batch-mix",
        "`fc` acts on the last axis, which holds the batch",
        "fc = linear(3)",
        3,
    ),
    (
        "conv-batch-not-first",
        HEAD + "  permute(1, 0, 2)\n  c = conv1d(8, 3)\n}\n",
        "batch-mix",
        "`c` takes axis 0 as the batch, but its input has the batch on axis 1: it would convolve",
        "c = conv1d(8, 3)",
        3,
    ),
    (
        "lstm-batch-as-sequence",
        HEAD + "  permute(0, 2, 1)\n  l = lstm(16)\n}\n",
        "batch-mix",
        "`l` (batch_first=false) expects (length, batch, features), but its input (batch, length, "
        "channels) has the batch on its sequence axis",
        "l = lstm(16)",
        3,
    ),
    (
        "view-of-permuted",
        HEAD + "  permute(0, 2, 1)\n  view(batch, 400)\n}\n",
        "view-stride",
        "`view(batch, 400)` cannot view its input: the input is not laid out in memory",
        "view(batch, 400)",
        3,
    ),
    (
        "view-of-lstm-output",
        HEAD + "  permute(0, 2, 1) | l = lstm(16, batch_first = true)\n  view(batch, -1)\n}\n",
        "view-stride",
        "`view(batch, -1)` cannot view its input",
        "view(batch, -1)",
        3,
    ),
    (
        "reshape-in-seq",
        HEAD + "  layer11 = seq { reshape(batch, -1) }\n}\n",
        "no-module-form",
        "`reshape` is a tensor operation with no module form: it cannot stand inside `seq`",
        "reshape(batch, -1)",
        2,
    ),
    (
        "lstm-in-seq",
        HEAD + "  permute(0, 2, 1)\n  s = seq { l = lstm(16, batch_first = true) | fc = linear(2) }\n}\n",
        "lstm-in-seq",
        "an `lstm` inside `seq` passes its whole (output, (h, c)) tuple to the next step",
        "l = lstm",
        3,
    ),
    (
        "reflect-padding-too-large",
        "arch m(classes = 2, length = 3, alphabet = 4) {\n"
        '  c = conv1d(8, 7, padding = 3, padding_mode = "reflect")\n}\n',
        "bad-padding",
        'padding_mode="reflect" pads axis 2 by 3, but reflect padding must be less than the 3 positions',
        "padding_mode",
        2,
    ),
    (
        "prelu-not-supported",
        HEAD + "  c = conv1d(8, 3) | prelu\n}\n",
        "unsupported-layer",
        "`prelu` (nn.PReLU) is not supported by archc yet",
        "prelu",
        2,
    ),
    (
        "concat-not-supported",
        HEAD + "  concat(1)\n}\n",
        "unsupported-layer",
        "`concat` (torch.cat) is not supported by archc yet",
        "concat",
        2,
    ),
    (
        "instancenorm-not-supported",
        HEAD + "  instancenorm1d\n}\n",
        "unsupported-layer",
        "`instancenorm1d` (nn.InstanceNorm1d) is not supported by archc yet",
        "instancenorm1d",
        2,
    ),
    (
        "transformer-not-supported",
        HEAD + "  t = TransformerDecoderLayer(4, 2)\n}\n",
        "unsupported-layer",
        "(nn.TransformerDecoderLayer) is not supported by archc yet",
        "TransformerDecoderLayer",
        2,
    ),
]


@pytest.mark.parametrize(
    ("source", "code", "message", "culprit", "line"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_error_is_located(tmp_path: Path, source: str, code: str, message: str, culprit: str, line: int) -> None:
    exit_code, diags, text = lint(tmp_path, source)
    assert exit_code == 1
    diag = next((d for d in diags if d["code"] == code), None)
    assert diag is not None, [d["code"] for d in diags]
    assert diag["severity"] == "error"
    assert message in diag["message"], diag["message"]
    assert (diag["line"], diag["column"]) == (line, _column(source, line, culprit)), diag
    assert f"error[{code}]" in text and f"m.arch:{line}:{diag['column']}" in text
    # compile refuses it the same way: exit 1 and no internal error.
    path = tmp_path / "m.arch"
    err = io.StringIO()
    with redirect_stderr(err), redirect_stdout(io.StringIO()):
        assert main(["compile", str(path), "-o", str(tmp_path / "out")]) == 1
    assert "internal error" not in err.getvalue()


def test_batch_mix_points_at_the_permute(tmp_path: Path) -> None:
    source = HEAD + "  permute(1, 0, 2)\n  c = conv1d(8, 3)\n}\n"
    _, diags, text = lint(tmp_path, source)
    diag = _one(diags, "batch-mix")
    assert diag["label"] == "input (4, N, 100) (channels, batch, length)"
    assert diag["notes"] == [{"message": "the batch axis moves to axis 1 here", "line": 2}]
    assert "help: move the batch axis back to the front with `permute`" in text


def test_view_stride_says_where_the_layout_changed(tmp_path: Path) -> None:
    source = HEAD + "  permute(0, 2, 1)\n  view(batch, 400)\n}\n"
    _, diags, _ = lint(tmp_path, source)
    diag = _one(diags, "view-stride")
    assert diag["label"] == "input (N, 100, 4) (batch, length, channels) lies in memory as (batch, channels, length)"
    assert diag["notes"][0]["line"] == 2 and "permuted here" in diag["notes"][0]["message"]
    assert diag["help"] == "use `reshape`, which copies when it must, or add `contiguous` before the view"


@pytest.mark.parametrize(
    "steps",
    [
        "permute(0, 2, 1) | reshape(batch, 400)",
        "permute(0, 2, 1) | contiguous | view(batch, 400)",
        "permute(0, 2, 1) | flatten",
        "permute(0, 2, 1) | view(batch, 100, 2, 2)",  # splits the channels: stride-compatible
        "permute(1, 0, 2) | permute(1, 0, 2) | view(batch, -1)",  # back to contiguous
        "permute(0, 2, 1) | l = lstm(8, batch_first = true) | select(1, -1) | view(batch, 8)",
    ],
)
def test_views_torch_runs_are_accepted(tmp_path: Path, steps: str) -> None:
    exit_code, diags, _ = lint(tmp_path, HEAD + f"  {steps}\n}}\n")
    assert exit_code == 0 and not [d for d in diags if d["severity"] == "error"], diags


def test_flatten_of_a_single_axis_is_a_no_op(tmp_path: Path) -> None:
    """torch.flatten(x, 1) of an (8, N) tensor merges nothing: the batch stays on axis 1."""
    source = HEAD + "  flatten | fc = linear(8) | permute(1, 0) | flatten\n}\n"
    exit_code, diags, _ = lint(tmp_path, source)
    assert exit_code == 0, diags


def test_residual_mismatch_points_at_the_step_that_changes_the_shape(tmp_path: Path) -> None:
    source = HEAD + "  residual {\n    c = conv1d(8, 3, padding = 1)\n    relu\n    d = conv1d(8, 3, padding = 1)\n  }\n}\n"
    exit_code, diags, text = lint(tmp_path, source)
    assert exit_code == 1
    diag = _one(diags, "residual-mismatch")
    assert diag["message"] == "the residual adds a (N, 8, 100) output to its (N, 4, 100) input"
    assert (diag["line"], diag["column"]) == (2, 3)
    assert diag["notes"] == [{"message": "the shape changes here", "line": 3}]
    assert "    c = conv1d(8, 3, padding = 1)\n  |     ----------------------------- the shape changes here" in text


def test_residual_mismatch_inside_a_seq_points_into_it(tmp_path: Path) -> None:
    source = HEAD + "  residual {\n    s = seq { relu\n      c = conv1d(8, 3)\n      relu }\n  }\n}\n"
    _, diags, _ = lint(tmp_path, source)
    diag = _one(diags, "residual-mismatch")
    assert diag["notes"] == [{"message": "the shape changes here", "line": 4}]


def test_residual_that_broadcasts_is_accepted(tmp_path: Path) -> None:
    """x + body(x) with a body of one channel broadcasts in torch to the input's shape."""
    source = HEAD + "  residual { c = conv1d(1, 3, padding = 1) }\n  flatten | fc = linear(classes)\n}\n"
    exit_code, diags, _ = lint(tmp_path, source)
    assert exit_code == 0, diags


@pytest.mark.torch
def test_broadcasting_residual_runs_in_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    from archc.api import build_module

    source = HEAD + "  residual { c = conv1d(1, 3, padding = 1) }\n  flatten | fc = linear(classes)\n}\n"
    module = build_module(source)
    assert tuple(module(torch_module.zeros(3, 4, 100)).shape) == (3, 2)
    assert module.fc.in_features == 400


def test_pool_drops_counts_the_padding(tmp_path: Path) -> None:
    exit_code, diags, _ = lint(tmp_path, HEAD + "  p = maxpool1d(3, stride = 2, padding = 1)\n}\n")
    assert (exit_code, diags) == (0, [])
    source = HEAD + "  p = maxpool1d(4, stride = 3, padding = 1)\n}\n"
    _, diags, _ = lint(tmp_path, source)
    diag = _one(diags, "pool-drops")
    # windows start at -1, 2, ..., 95 (33 windows of 4): the last covers 95..98, position 99 is left
    assert diag["message"] == (
        "`p` drops the last 1 of 100 positions on axis 2: no window of 4 with stride 3 and "
        "padding 1 covers them"
    )
    assert (diag["line"], diag["column"]) == (2, 3)


def test_even_kernel_padding_help(tmp_path: Path) -> None:
    source = HEAD + "  c = conv1d(8, 24, padding = 12)\n}\n"
    exit_code, diags, _ = lint(tmp_path, source)
    diag = _one(diags, "padding-too-large")
    assert exit_code == 0
    assert diag["message"] == (
        "`c` pads by 12 on axis 2, more than (kernel - 1) / 2 = 11.5: the output grows by 1 positions"
    )
    assert diag["help"] == (
        'an even kernel (24) cannot keep the length with the same padding on both sides: use padding = "same" '
        "(torch pads 11 left, 12 right) or an odd kernel"
    )
    assert (diag["line"], diag["column"]) == (2, _column(source, 2, "padding = 12"))
    _, diags, _ = lint(tmp_path, HEAD + "  c = conv1d(8, 5, padding = 3)\n}\n")
    assert _one(diags, "padding-too-large")["help"] == "for a same-length output use padding 2"


def test_linear_on_the_length_axis_warns(tmp_path: Path) -> None:
    source = HEAD + "  fc = linear(10)\n}\n"
    exit_code, diags, _ = lint(tmp_path, source)
    diag = _one(diags, "axis-order")
    assert exit_code == 0 and diag["severity"] == "warning"
    assert diag["message"] == (
        "`fc` acts on the last axis, but that axis holds the length: its input is (batch, channels, length)"
    )
    assert (diag["line"], diag["column"]) == (2, 3)
    assert "`flatten` first" in diag["help"]
    assert lint(tmp_path, source, "--strict")[0] == 1


@pytest.mark.parametrize(
    ("word", "suggestion"),
    [("conv1e", "conv1d"), ("Linaer", "linear"), ("droput", "dropout"), ("flaten", "flatten"), ("maxpool", "maxpool1d")],
)
def test_did_you_mean_suggests_near_misspellings(tmp_path: Path, word: str, suggestion: str) -> None:
    _, diags, _ = lint(tmp_path, HEAD + f"  x1 = {word}(3)\n}}\n")
    diag = _one(diags, "unknown-layer")
    assert diag["help"] == f"did you mean `{suggestion}`?"


@pytest.mark.parametrize("word", ["foo", "convolution", "sigmoids_all", "lin"])
def test_did_you_mean_stays_quiet_for_other_words(tmp_path: Path, word: str) -> None:
    _, diags, _ = lint(tmp_path, HEAD + f"  {word}\n}}\n")
    diag = _one(diags, "unknown-layer")
    assert diag["help"].startswith("layers: "), diag


def test_did_you_mean_unit() -> None:
    from archc.core.diagnostics import did_you_mean
    from archc.ir.layers import all_names

    names = all_names()
    assert did_you_mean("pixelshuffle", names) is None
    assert did_you_mean("concat", names) is None
    assert did_you_mean("instancenorm1d", names) is None
    assert did_you_mean("GlobalMaxPool", names) == "global_max_pool"
    assert did_you_mean("kernal_size", ["kernel_size", "stride"]) == "kernel_size"
    assert did_you_mean("filter", ["filters", "kernel_size"]) == "filters"
    assert did_you_mean("kernel", ["kernel_size", "stride"]) == "kernel_size"


def test_set_combination_is_named(tmp_path: Path) -> None:
    source = HEAD + "  c = conv1d(8, 60) | p = maxpool1d(4)\n  flatten | fc = linear(classes)\n}\n"
    args = ("--set", "classes=2,3", "--set", "length=50,1000")
    exit_code, diags, text = lint(tmp_path, source, *args)
    assert exit_code == 1
    short = _one(diags, "too-short")
    assert short["notes"][-1] == {"message": "with classes=2, length=50; with classes=3, length=50", "line": None}
    drops = _one(diags, "pool-drops")
    assert drops["notes"][-1]["message"] == "with classes=2, length=1000; with classes=3, length=1000"
    assert "= note: with classes=2, length=50; with classes=3, length=50" in text
    # A problem of every combination needs no note.
    _, diags, _ = lint(tmp_path, HEAD + "  c = conv1e(8, 3)\n}\n", *args)
    assert [d["notes"] for d in diags] == [[]]


def test_receptive_field_larger_than_the_input_says_it_counts_padding(tmp_path: Path) -> None:
    path = tmp_path / "rf.arch"
    path.write_text(
        HEAD + "  c1 = conv1d(8, 51, padding = 25) | c2 = conv1d(8, 51, padding = 25)\n  global_max_pool\n}\n"
    )
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["summary", str(path)]) == 0
    assert (
        "receptive field   101 bp, jump 1 bp (at `c2`), more than the 100 bp input: it counts the "
        "padding positions, so one output sees at most the whole input"
    ) in out.getvalue()


def test_summary_json_of_several_architectures_is_one_document() -> None:
    from archc.backends.summary import render_summaries
    from archc.core.source import Source
    from archc.driver import run

    text = HEAD + "  c = conv1d(8, 3)\n}\n" + HEAD.replace("arch m", "arch n") + "  d = conv1d(4, 5)\n}\n"
    result = run(Source("two.arch", text))
    archs = [v.checked for v in result.variants if v.checked is not None]
    assert len(archs) == 2
    doc = json.loads(render_summaries(archs, "json"))
    assert [d["arch"] for d in doc] == ["m", "n"]
    single = json.loads(render_summaries(archs[:1], "json"))
    assert single["arch"] == "m"  # one architecture: the object, as before


def test_seqgra_encoding_is_the_input_layout(tmp_path: Path) -> None:
    """The definition says 1D: seqgra feeds (batch, alphabet, length), and the module's own
    permute makes its conv read the length as channels, as torch would."""
    xml = FIXTURES / "torch-mc2-dna150-permute-first-s1.xml"
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["lint", str(xml), "--format", "json"])
    diags = json.loads(out.getvalue())
    assert code == 1
    py = (FIXTURES / "permute_first.py").read_text().splitlines()
    conv_line = next(i for i, line in enumerate(py, 1) if "x = self.conv1(x)" in line)
    order = _one(diags, "axis-order")
    assert order["message"] == (
        "`conv1` convolves over axis 2, but that axis holds the channels: its input is (batch, length, channels)"
    )
    assert order["path"].endswith("permute_first.py") and order["line"] == conv_line
    mismatch = _one(diags, "shape-mismatch")
    assert mismatch["message"] == "`conv1` expects 4 input channels, but its input has 150"
    # The same file alone (no definition) is lifted with the layout its permute implies.
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["lint", str(FIXTURES / "permute_first.py"), "--format", "json"]) == 0


@pytest.mark.parametrize(
    "source",
    [
        "arch m(classes = 2, length = 100, alphabet = 4) {\n  input (batch, channels, length)\n"
        "  layer11 = seq { reshape(batch, -1) }\n}\n",
        "arch m(classes = 2, length = 100, alphabet = 4) {\n  input (length, batch, channels)\n"
        "  permute(1, 0, 2) | Flatten | layer3 = seq { fc2 = Linear(3) | view(3, -1) }\n}\n",
    ],
)
def test_former_internal_errors_are_diagnostics(tmp_path: Path, source: str) -> None:
    path = tmp_path / "m.arch"
    path.write_text(source)
    for command in (["lint", str(path)], ["compile", str(path), "-o", str(tmp_path / "out")]):
        err = io.StringIO()
        with redirect_stderr(err), redirect_stdout(io.StringIO()):
            assert main(command) == 1
        assert "internal error" not in err.getvalue()


def test_lstm_along_the_channels_warns(tmp_path: Path) -> None:
    source = HEAD + "  l = lstm(8, batch_first = true)\n}\n"
    exit_code, diags, _ = lint(tmp_path, source)
    diag = _one(diags, "axis-order")
    assert exit_code == 0
    assert diag["message"] == (
        "`l` runs along axis 1, but that axis holds the channels: its input is (batch, channels, length)"
    )
    assert (diag["line"], diag["column"]) == (2, 3)


def test_residual_broadcast_is_a_warning(tmp_path: Path) -> None:
    source = HEAD + "  residual {\n    c = conv1d(1, 3, padding = 1)\n  }\n}\n"
    exit_code, diags, _ = lint(tmp_path, source)
    diag = _one(diags, "residual-broadcast")
    assert exit_code == 0 and diag["severity"] == "warning"
    assert diag["message"] == (
        "the residual body gives (N, 1, 100), which torch broadcasts to (N, 4, 100) to add it to "
        "its (N, 4, 100) input"
    )
    assert (diag["line"], diag["column"]) == (2, 3)
    assert diag["notes"] == [{"message": "the shape changes here", "line": 3}]


def test_batchnorm_without_running_stats_mixes_samples(tmp_path: Path) -> None:
    source = HEAD + "  bn = batchnorm1d(track_running_stats = false)\n}\n"
    exit_code, diags, _ = lint(tmp_path, source)
    diag = _one(diags, "batch-mix")
    assert exit_code == 1 and diag["severity"] == "error"
    assert "normalizes with the statistics of the current batch in eval mode too" in diag["message"]
    assert (diag["line"], diag["column"]) == (2, _column(source, 2, "track_running_stats"))


@pytest.mark.torch
def test_batchnorm_without_running_stats_mixes_in_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    torch = torch_module
    bn = torch.nn.BatchNorm1d(4, track_running_stats=False).eval()
    x = torch.randn(3, 4, 10)
    assert not torch.allclose(bn(x)[:1], bn(x[:1]))


def test_summary_command_prints_one_json_document(tmp_path: Path) -> None:
    import inspect

    from archc import cli

    if "render_summaries" not in inspect.getsource(cli.cmd_summary):
        pytest.skip("cmd_summary does not call summary.render_summaries yet (cli.py change pending)")
    path = tmp_path / "two.arch"
    path.write_text(HEAD + "  c = conv1d(8, 3)\n}\n" + HEAD.replace("arch m", "arch n") + "  d = conv1d(4, 5)\n}\n")
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["summary", str(path), "--format", "json"]) == 0
    assert [d["arch"] for d in json.loads(out.getvalue())] == ["m", "n"]


@pytest.mark.torch
def test_batch_in_a_view_is_the_batch_size_wherever_the_batch_axis_is(torch_module) -> None:  # type: ignore[no-untyped-def]
    torch = torch_module
    from archc.api import compile_source

    code = compile_source(
        "arch m(classes = 2, length = 64, alphabet = 3) {\n  input (length, batch, channels)\n"
        "  view(64, batch, -1)\n}\n"
    )
    assert "x.view(64, x.size(1), -1)" in code
    namespace: dict[str, object] = {}
    exec(compile(code, "m.py", "exec"), namespace)
    model = namespace["TorchModel"]()  # type: ignore[operator]
    assert tuple(model(torch.zeros(64, 5, 3)).shape) == (64, 5, 3)
