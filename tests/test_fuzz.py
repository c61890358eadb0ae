"""No traceback, ever: random text and mutated examples through lint and compile.

Every run must end with exit code 0, 1 or 2; JSON diagnostics must be well formed;
a run that reports an error writes nothing and leaves an existing output untouched.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from archc.cli import main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {p.stem: p.read_text() for p in sorted((ROOT / "examples").glob("*.arch"))}
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|->|//|\S|\s+")
FIELDS = {"code", "severity", "message", "path", "line", "column", "end_line", "end_column", "help"}
SENTINEL = "# an existing file that a failed run must not touch\n"

FUZZ = settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def check_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "fuzz.arch"
        src.write_text(text, encoding="utf-8")
        code, out, err = run(["lint", str(src), "--format", "json"])
        assert code in (0, 1, 2), (code, err)
        diags = json.loads(out)
        for diag in diags:
            assert set(diag) >= FIELDS
            assert diag["severity"] in ("error", "warning")
            assert diag["line"] >= 1 and diag["column"] >= 1
            assert re.fullmatch(r"[a-z0-9-]+", diag["code"])
        lint_failed = any(d["severity"] == "error" for d in diags)
        assert (code == 1) == lint_failed

        out_dir = Path(tmp) / "out"
        out_dir.mkdir()
        (out_dir / "fuzz.py").write_text(SENTINEL)
        code, out, err = run(["compile", str(src), "-o", str(out_dir)])
        assert code in (0, 1, 2), (code, err)
        assert "Traceback" not in err
        written = sorted(p.name for p in out_dir.iterdir())
        if code != 0:
            assert written == ["fuzz.py"]
            assert (out_dir / "fuzz.py").read_text() == SENTINEL
            assert (code == 1 and lint_failed) or code == 2
        else:
            assert not lint_failed
            for name in written:
                ast.parse((out_dir / name).read_text())


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    text = EXAMPLES[draw(st.sampled_from(sorted(EXAMPLES)))]
    tokens = TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 4))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        kind = draw(st.sampled_from(["delete", "duplicate", "swap", "number", "insert"]))
        if kind == "delete":
            del tokens[i]
        elif kind == "duplicate":
            tokens.insert(i, tokens[i])
        elif kind == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif kind == "number":
            numbers = [k for k, t in enumerate(tokens) if t.isdigit()]
            if numbers:
                k = draw(st.sampled_from(numbers))
                tokens[k] = str(draw(st.sampled_from([0, 1, 2, 3, 7, 100, 999, 5000, 10**6])))
        else:
            tokens.insert(
                i,
                draw(
                    st.sampled_from(
                        ["(", ")", "{", "}", "|", "=", ",", "->", "*", "-1", "x", '"s"', "\n"]
                    )
                ),
            )
    return "".join(tokens)


@FUZZ
@given(mutated_example())
def test_mutated_examples_never_crash(text: str) -> None:
    check_text(text)


@settings(FUZZ, max_examples=800)
@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=200))
def test_random_text_never_crashes(text: str) -> None:
    check_text(text)


@settings(FUZZ, max_examples=700)
@given(
    st.lists(
        st.sampled_from(
            [
                "arch",
                "block",
                "a",
                "(",
                ")",
                "{",
                "}",
                "=",
                "|",
                ",",
                "seq",
                "residual",
                "input",
                "conv1d",
                "linear",
                "relu",
                "1",
                "4",
                "-",
                "*",
                "->",
                "\n",
                "classes",
                "length",
                "batch",
                ":",
                "meta",
                "[",
                "]",
                '"x"',
                "1.5",
                "true",
                "none",
                "let",
                "flatten",
                "view",
                "permute",
                "0",
                "//",
            ]
        ),
        max_size=40,
    )
)
def test_random_token_soup_never_crashes(tokens: list[str]) -> None:
    check_text(" ".join(tokens))


@pytest.mark.parametrize(
    "body",
    [
        "  flatten | fc = linear(" + "(" * 5000 + "2" + ")" * 5000 + ")",
        "  flatten | fc = linear(" + "-" * 5000 + "2)",
        "  s = " + "seq { " * 3000 + "relu" + " }" * 3000,
        "  residual { " * 3000 + "relu" + " }" * 3000,
    ],
    ids=["parens", "negations", "seq", "residual"],
)
def test_deep_nesting_never_crashes(tmp_path: Path, body: str) -> None:
    src = tmp_path / "deep.arch"
    src.write_text("arch m(classes = 2, length = 10, alphabet = 4) {\n" + body + "\n}\n")
    code, out, _err = run(["lint", str(src), "--format", "json"])
    assert code in (0, 1)
    diags = json.loads(out)
    assert code == 0 or any(d["code"] == "too-deep" for d in diags)
