"""Every mistake the linter must catch: code, message, location and exit code."""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from archc.cli import main
from archc.core.diagnostics import render

ROOT = Path(__file__).resolve().parent.parent

HEAD = "arch m(classes = 2, length = 100, alphabet = 4) {\n"


def lint(
    tmp_path: Path, text: str, *args: str, name: str = "m.arch"
) -> tuple[int, list[dict], str]:
    path = tmp_path / name
    path.write_text(text)
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["lint", str(path), "--format", "json", *args])
    diags = json.loads(out.getvalue())
    text_out = io.StringIO()
    with redirect_stdout(text_out):
        main(["lint", str(path), *args])
    return code, diags, text_out.getvalue()


# (id, source, code, message part, culprit text, culprit's line)
CASES = [
    ("syntax-paren", HEAD + "  c = conv1d(3, 5\n}\n", "syntax", "expected `)`", "\n", 2),
    ("syntax-brace", HEAD + "  c = conv1d(3, 5)\n", "syntax", "a `}` is missing", ")", 2),
    (
        "syntax-quote",
        HEAD + "  c = conv1d(3, 5, padding = 'same')\n}\n",
        "syntax",
        "double quotes",
        "'same'",
        2,
    ),
    (
        "syntax-char",
        HEAD + "  c = conv1d(3, 5) @ relu\n}\n",
        "syntax",
        "unexpected character `@`",
        "@",
        2,
    ),
    (
        "syntax-two-steps",
        HEAD + "  c = conv1d(3, 5) relu\n}\n",
        "syntax",
        "found the name `relu`",
        "relu",
        2,
    ),
    (
        "unknown-layer",
        HEAD + "  c = conv1e(3, 5)\n}\n",
        "unknown-layer",
        "unknown layer or block `conv1e`",
        "conv1e",
        2,
    ),
    (
        "unknown-block",
        "block ResBlock(ch) { residual { c = conv1d(ch, 3, padding = 1) } }\n"
        + HEAD
        + "  r = Resblock(4)\n}\n",
        "unknown-layer",
        "unknown layer or block `Resblock`",
        "Resblock",
        3,
    ),
    (
        "misspelled-param",
        HEAD + "  c = conv1d(3, kernal_size = 5)\n}\n",
        "unknown-parameter",
        "`conv1d` has no parameter `kernal_size`",
        "kernal_size",
        2,
    ),
    (
        "missing-arg",
        HEAD + "  c = conv1d(3)\n}\n",
        "missing-argument",
        "`conv1d` needs `kernel_size`",
        "conv1d(3)",
        2,
    ),
    (
        "duplicate-arg",
        HEAD + "  c = conv1d(3, 5, kernel_size = 5)\n}\n",
        "duplicate-argument",
        "`kernel_size` of `conv1d` is given twice",
        "kernel_size = 5",
        2,
    ),
    (
        "wrong-type",
        HEAD + '  c = conv1d(3, "five")\n}\n',
        "type-error",
        "expected a whole number",
        '"five"',
        2,
    ),
    (
        "wrong-type-bool",
        HEAD + "  c = conv1d(3, 5, bias = 1)\n}\n",
        "type-error",
        "expected true or false",
        "bias = 1",
        2,
    ),
    (
        "duplicate-name",
        HEAD + "  c = conv1d(3, 5)\n  c = conv1d(3, 5)\n}\n",
        "duplicate-name",
        "layer name `c` is already used",
        "c",
        3,
    ),
    (
        "undefined-name",
        HEAD + "  flatten | fc = linear(clases)\n}\n",
        "undefined-name",
        "`clases` is not defined",
        "clases",
        2,
    ),
    (
        "recursive-block",
        "block A(n) { b = B(n) }\nblock B(n) { a = A(n) }\n" + HEAD + "  a = A(1)\n}\n",
        "recursive-block",
        "block `A` uses itself (A -> B -> A)",
        "A(n)",
        2,
    ),
    ("zero-size", HEAD + "  c = conv1d(0, 5)\n}\n", "bad-size", "must be at least 1", "0", 2),
    (
        "non-integer-size",
        HEAD + "  c = conv1d(10 / 3, 5)\n}\n",
        "bad-size",
        "expected a whole number",
        "10 / 3",
        2,
    ),
    (
        "negative-padding",
        HEAD + "  c = conv1d(8, 5, padding = -1)\n}\n",
        "bad-size",
        "must not be negative",
        "padding = -1",
        2,
    ),
    (
        "dropout-range",
        HEAD + "  dropout(1.5)\n}\n",
        "bad-probability",
        "a probability must lie in [0, 1]",
        "1.5",
        2,
    ),
    (
        "kernel-too-large",
        HEAD + "  c = conv1d(8, 200)\n}\n",
        "too-short",
        "`c` has a kernel of 200, larger than its input of 100 positions",
        "c = conv1d(8, 200)",
        2,
    ),
    (
        "length-shrinks",
        HEAD
        + "  c = conv1d(8, 5) | p = maxpool1d(10)\n  d = conv1d(8, 5) | q = maxpool1d(10)\n}\n",
        "too-short",
        "`q` has a pool window of 10, larger than its input of 5 positions",
        "q = maxpool1d(10)",
        3,
    ),
    (
        "channels-mismatch",
        HEAD + "  c = conv1d(5 -> 8, 3)\n}\n",
        "shape-mismatch",
        "`c` expects 5 input channels, but its input has 4",
        "5",
        2,
    ),
    (
        "features-mismatch",
        HEAD + "  c = conv1d(8, 11)\n  flatten\n  fc = linear(700 -> classes)\n}\n",
        "shape-mismatch",
        "`fc` expects 700 input features, but its input has 720",
        "700",
        4,
    ),
    (
        "batchnorm-mismatch",
        HEAD + "  c = conv1d(8, 3) | bn = batchnorm1d(16)\n}\n",
        "shape-mismatch",
        "`bn` expects 16 features, but its input has 8",
        "16",
        2,
    ),
    (
        "reuse-mismatch",
        HEAD + "  c = conv1d(4, 3)\n  d = conv1d(8, 1)\n  c\n}\n",
        "shape-mismatch",
        "`c` is reused with 8 input channels, but it was built for 4",
        "c",
        4,
    ),
    (
        "residual-mismatch",
        HEAD + "  residual { c = conv1d(8, 3, padding = 1) }\n}\n",
        "residual-mismatch",
        "the residual adds a (N, 8, 100) output to its (N, 4, 100) input",
        "residual",
        2,
    ),
    (
        "view-count",
        HEAD + "  view(-1, 401)\n}\n",
        "reshape-size",
        "`view(-1, 401)` does not fit: each sequence has 400 elements",
        "view(-1, 401)",
        2,
    ),
    (
        "view-fixed-batch",
        HEAD + "  view(4, 100)\n}\n",
        "reshape-size",
        "only works for one batch size",
        "view(4, 100)",
        2,
    ),
    (
        "permute-repeat",
        HEAD + "  permute(0, 2, 2)\n}\n",
        "bad-axis",
        "is not a reordering of the 3 axes",
        "permute(0, 2, 2)",
        2,
    ),
    (
        "permute-range",
        HEAD + "  permute(0, 3, 1)\n}\n",
        "bad-axis",
        "axis 3 does not exist",
        "permute(0, 3, 1)",
        2,
    ),
    (
        "needs-name",
        HEAD + "  conv1d(8, 3)\n}\n",
        "needs-name",
        "`conv1d` has weights and needs a name",
        "conv1d(8, 3)",
        2,
    ),
    (
        "wrong-rank",
        HEAD + "  flatten | c = conv1d(8, 3)\n}\n",
        "wrong-rank",
        "expects a 3-D",
        "c = conv1d(8, 3)",
        2,
    ),
    (
        "bad-name",
        HEAD + "  eval = conv1d(8, 3)\n}\n",
        "bad-name",
        "torch.nn.Module has an attribute",
        "eval",
        2,
    ),
    (
        "keyword-name",
        HEAD + "  class = conv1d(8, 3)\n}\n",
        "bad-name",
        "Python keyword",
        "class",
        2,
    ),
    (
        "seq-residual",
        HEAD + "  s = seq { residual { relu } }\n}\n",
        "misplaced",
        "`residual` cannot stand inside `seq`",
        "residual { relu }",
        2,
    ),
]


@pytest.mark.parametrize(
    ("source", "code", "message", "culprit", "line"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_error_is_reported_where_it_is(
    tmp_path: Path, source: str, code: str, message: str, culprit: str, line: int
) -> None:
    exit_code, diags, text = lint(tmp_path, source)
    assert exit_code == 1
    errors = [d for d in diags if d["severity"] == "error"]
    assert errors, diags
    diag = next((d for d in errors if d["code"] == code), None)
    assert diag is not None, f"no {code} among {[d['code'] for d in errors]}"
    assert message in diag["message"]
    assert diag["line"] == line
    line_text = source.splitlines()[line - 1] if line <= len(source.splitlines()) else ""
    if culprit == "\n":
        assert diag["column"] == len(line_text) + 1
    else:
        assert diag["column"] == line_text.index(culprit) + 1, (diag, line_text)
    assert diag["path"].endswith("m.arch")
    assert f"error[{code}]" in text
    assert f"m.arch:{line}:{diag['column']}" in text
    assert "Traceback" not in text


WARNINGS = [
    (
        "padding-too-large",
        HEAD + "  c = conv1d(8, 3, padding = 2)\n}\n",
        "more than (kernel - 1) / 2 = 1",
        "padding = 2",
        2,
    ),
    (
        "padding-1x1",
        HEAD + "  c = conv1d(8, 1, padding = 1)\n}\n",
        "pads a kernel of size 1",
        "padding = 1",
        2,
    ),
    (
        "pool-drops",
        HEAD + "  p = maxpool1d(3)\n}\n",
        "drops the last 1 of 100 positions",
        "p = maxpool1d(3)",
        2,
    ),
    (
        "length-pinned",
        HEAD + "  flatten | fc = linear(400 -> classes)\n}\n",
        "depends on the input length",
        "400",
        2,
    ),
    (
        "axis-mix",
        HEAD + "  permute(0, 2, 1) | reshape(-1, 4, 100)\n}\n",
        "mixes the axes length (100) and channels (4)",
        "reshape(-1, 4, 100)",
        2,
    ),
    (
        "axis-order",
        "arch m(classes = 2, length = 100, alphabet = 4) {\n  input (batch, length, channels)\n"
        "  c = conv1d(8, 3)\n}\n",
        "its input is (batch, length, channels)",
        "c = conv1d(8, 3)",
        3,
    ),
]


@pytest.mark.parametrize(
    ("code", "source", "message", "culprit", "line"), WARNINGS, ids=[w[0] for w in WARNINGS]
)
def test_warning_is_reported_and_strict_fails(
    tmp_path: Path, code: str, source: str, message: str, culprit: str, line: int
) -> None:
    exit_code, diags, text = lint(tmp_path, source)
    diag = next((d for d in diags if d["code"] == code), None)
    assert diag is not None, diags
    assert diag["severity"] == "warning"
    assert message in diag["message"]
    assert diag["line"] == line
    assert diag["column"] == source.splitlines()[line - 1].index(culprit) + 1
    assert exit_code == 0
    strict_code, _, _ = lint(tmp_path, source, "--strict")
    assert strict_code == 1
    assert f"warning[{code}]" in text


def test_set_of_unknown_parameter(tmp_path: Path) -> None:
    exit_code, diags, _ = lint(
        tmp_path, HEAD + "  flatten | fc = linear(classes)\n}\n", "--set", "clases=3"
    )
    assert exit_code == 1
    assert diags[0]["code"] == "bad-set"
    assert "has no parameter `clases`" in diags[0]["message"]
    assert diags[0]["help"] == "did you mean `classes`?"
    assert diags[0]["line"] == 1


def test_set_of_wrong_type(tmp_path: Path) -> None:
    exit_code, diags, _ = lint(
        tmp_path, HEAD + "  flatten | fc = linear(classes)\n}\n", "--set", "classes=abc"
    )
    assert exit_code == 1
    assert diags[0]["code"] == "bad-set"
    assert "takes a whole number, not a string" in diags[0]["message"]


def test_mismatch_explains_the_derivation(tmp_path: Path) -> None:
    """The Basset 3600 class of mistake, rendered like rustc with the fix."""
    text = (ROOT / "examples" / "basset.arch").read_text().replace("3600 -> 1000", "3500 -> 1000")
    exit_code, diags, rendered = lint(tmp_path, text, name="basset.arch")
    assert exit_code == 1
    (diag,) = [d for d in diags if d["severity"] == "error"]
    assert diag["code"] == "shape-mismatch"
    assert diag["message"] == "`fc1` expects 3500 input features, but its input has 3600"
    assert diag["label"] == "3600 = 200 channels x 18 positions after layer3"
    assert diag["help"] == "write 3600, or leave the input size out and archc infers it"
    assert (diag["line"], diag["column"]) == (7, 18)
    assert "^^^^ 3600 = 200 channels x 18 positions after layer3" in rendered
    assert "18 positions set here" in rendered  # the secondary label at layer3


def test_too_short_says_the_minimum_length(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "deepsea.arch").read_text()
    exit_code, diags, _rendered = lint(tmp_path, text, "--set", "length=100", name="deepsea.arch")
    assert exit_code == 1
    diag = next(d for d in diags if d["code"] == "too-short")
    assert "`conv3` has a kernel of 8, larger than its input of 4 positions" in diag["message"]
    assert diag["help"].startswith(
        "the shortest input that works is 163 positions (--set length=163)"
    )


def test_all_independent_problems_are_reported(tmp_path: Path) -> None:
    source = (
        HEAD
        + "  c = conv1d(8, kernal_size = 3)\n"
        + "  d = conv1e(8, 3)\n"
        + "}\n"
        + "arch n(classes = 2, length = 100, alphabet = 4) {\n"
        + "  flatten | fc = linear(399 -> classes)\n"
        + "}\n"
    )
    exit_code, diags, _ = lint(tmp_path, source)
    assert exit_code == 1
    assert [(d["code"], d["line"]) for d in diags if d["severity"] == "error"] == [
        ("unknown-parameter", 2),
        ("unknown-layer", 3),
        ("shape-mismatch", 6),
    ]


def test_json_has_every_field(tmp_path: Path) -> None:
    _, diags, _ = lint(tmp_path, HEAD + "  c = conv1d(5 -> 8, 3)\n}\n")
    assert set(diags[0]) >= {
        "code",
        "severity",
        "message",
        "path",
        "line",
        "column",
        "end_line",
        "end_column",
        "help",
    }
    assert (diags[0]["line"], diags[0]["column"]) == (2, 14)
    assert (diags[0]["end_line"], diags[0]["end_column"]) == (2, 15)


def test_clean_file_exits_zero(tmp_path: Path) -> None:
    exit_code, diags, text = lint(
        tmp_path, HEAD + "  c = conv1d(8, 5) | relu | global_max_pool\n  fc = linear(classes)\n}\n"
    )
    assert (exit_code, diags) == (0, [])
    assert text.strip() == "no problems in 1 file"


def test_lengths_report(tmp_path: Path) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["lint", "--lengths", str(ROOT / "examples" / "basset.arch")]) == 0
    report = out.getvalue()
    assert "shortest length the convolutions and pools allow: 168" in report
    assert "valid lengths: 984 to 1031\n" in report
    assert "total downsampling: 48x along the length" in report
    assert "    layer3   (N, 200, (length - 120) // 48)\n" in report
    source = (
        HEAD
        + "  c = conv1d(8, 5) | relu | p = maxpool1d(4)\n  global_max_pool | fc = linear(classes)\n}\n"
    )
    (tmp_path / "free.arch").write_text(source)
    out = io.StringIO()
    with redirect_stdout(out):
        main(["lint", "--lengths", str(tmp_path / "free.arch")])
    assert "valid lengths: any length >= 8" in out.getvalue()
    assert "total downsampling: 4x" in out.getvalue()


def test_lengths_only_one(tmp_path: Path) -> None:
    source = HEAD + "  flatten | fc = linear(400 -> classes)\n}\n"
    (tmp_path / "one.arch").write_text(source)
    out = io.StringIO()
    with redirect_stdout(out):
        main(["lint", "--lengths", str(tmp_path / "one.arch")])
    assert "valid lengths: 100\n" in out.getvalue()
    assert "    flatten  (N, 4 * length)\n" in out.getvalue()


def test_no_colour_when_not_a_terminal(tmp_path: Path) -> None:
    _, _, text = lint(tmp_path, HEAD + "  c = conv1e(3, 5)\n}\n")
    assert "\x1b[" not in text


def test_colour_on_request() -> None:
    from archc.core.diagnostics import Diagnostic, Severity
    from archc.core.source import Source, Span

    diag = Diagnostic(Severity.ERROR, "x", "msg", Source("f", "abc\n"), Span(0, 1))
    assert "\x1b[1;31m" in render(diag, color=True)
    assert re.search(r"\x1b", render(diag, color=False)) is None


def test_lint_examples_have_no_errors() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["lint", *(str(p) for p in sorted((ROOT / "examples").glob("*.arch")))])
    assert code == 0
    assert "error[" not in out.getvalue()


def test_independent_shape_errors_in_one_architecture(tmp_path: Path) -> None:
    """A wrong written size does not hide the mistakes after it."""
    source = (
        HEAD
        + "  c = conv1d(5 -> 8, 3)\n"
        + "  residual { d = conv1d(16, 3, padding = 1) }\n"
        + "  flatten\n"
        + "  fc = linear(700 -> 10)\n"
        + "  fc2 = linear(11 -> classes)\n"
        + "}\n"
    )
    exit_code, diags, _ = lint(tmp_path, source)
    assert exit_code == 1
    assert [(d["code"], d["line"]) for d in diags] == [
        ("shape-mismatch", 2),
        ("residual-mismatch", 3),
        ("shape-mismatch", 5),
        ("shape-mismatch", 6),
    ]
    assert "but its input has 1568" in diags[2]["message"]


def test_lengths_report_says_when_the_analysis_stops(tmp_path: Path) -> None:
    """A scale of 0.3 leaves the algebra (a float): each length is then its own case, and
    the report says how far it decided instead of guessing the rest."""
    source = HEAD + "  c = conv1d(8, 3) | upsample(scale_factor = 0.3)\n  flatten | fc = linear(classes)\n}\n"
    (tmp_path / "up.arch").write_text(source)
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["lint", "--lengths", str(tmp_path / "up.arch")]) == 0
    assert "valid lengths: not decided beyond 402 (the analysis stopped after 400 checks)" in out.getvalue()
    assert "    c  (N, 8, length - 2)\n" in out.getvalue()
