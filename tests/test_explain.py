"""`archc explain CODE`: every diagnostic code has an accurate long explanation.

The codes are found by scanning compiler/ for the places that raise them (a literal code as
the first argument of `.error(`, `.warning(`, `.fatal(`, `Diagnostic(Severity.X, `,
`Unsupported(`, or a `code = "..."` / `code="..."`); the README's table of codes must be
covered too. Each explanation's `Wrong:` example is linted and must report its code, and
the `Right:` example must not.
"""

from __future__ import annotations

import io
import json
import re
import textwrap
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from archc.cli import main
from archc.core.explain import EXPLANATIONS, WIDTH, lookup, normalize

ROOT = Path(__file__).resolve().parent.parent

# A raise site: a literal code as first argument (a conditional `"a" if ... else "b"` too).
RAISE = re.compile(
    r"(?:\.(?:error|warning|fatal)\(|Diagnostic\(\s*Severity\.\w+,|Unsupported\(|\bcode\s*=)"
    r'\s*"([a-z][a-z0-9-]*)"(?:\s+if\s+[^\n]+?\s+else\s+"([a-z][a-z0-9-]*)")?',
    re.S,
)

# Codes whose explanation has no .arch example, and why (keep this small):
NO_ARCH_EXAMPLE = {
    # only from lifting a PyTorch .py
    "internal", "no-class", "ambiguous-class", "no-length", "length-unknown",
    # only from importing a PyTorch .py or a seqgra .xml
    "unsupported",
    # only from reading a seqgra .xml
    "xml-syntax", "xml-too-deep", "xml-too-large", "xml-unsafe", "unknown-element",
    "unknown-attribute", "missing-element", "missing-attribute", "duplicate-element",
    "element-order", "unexpected-text", "unknown-operation", "bad-shape", "missing-file",
    "not-available", "ignored-attribute", "label-count", "library", "softmax-dropped",
    "metadata-lossy",
    # the command line (`--set`), the file's bytes (not UTF-8)
    "bad-set", "encoding",
    # needs over 100 nested levels: no small example
    "too-deep",
    # a safeguard .arch source does not reach (a layer is defined where it is used)
    "unused-layer",
}  # fmt: skip


def raised_codes() -> set[str]:
    codes: set[str] = set()
    for path in (ROOT / "compiler").rglob("*.py"):
        if path.name == "explain.py":
            continue
        for match in RAISE.finditer(path.read_text(encoding="utf-8")):
            codes.update(g for g in match.groups() if g)
    return codes


def readme_codes() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("| code | problem |") :]
    table = table[: table.index("\n\n")]
    codes: set[str] = set()
    for row in table.splitlines()[2:]:
        first = row.split("|")[1]
        codes.update(re.findall(r"`([a-z][a-z0-9-]*)`", first))
    return codes


def examples(text: str) -> dict[str, str]:
    """The indented blocks after `Wrong:` and `Right:` lines, dedented."""
    out: dict[str, str] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line in ("Wrong:", "Right:"):
            block: list[str] = []
            for nxt in lines[i + 1 :]:
                if nxt and not nxt.startswith("    "):
                    break
                block.append(nxt)
            assert line not in out, f"two {line} examples"
            out[line[:-1]] = textwrap.dedent("\n".join(block)).strip("\n") + "\n"
    return out


def lint_codes(tmp_path: Path, source: str) -> list[str]:
    path = tmp_path / "m.arch"
    path.write_text(source, encoding="utf-8")
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        main(["lint", str(path), "--format", "json"])
    return [d["code"] for d in json.loads(out.getvalue())]


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["explain", *args])
    return code, out.getvalue(), err.getvalue()


def test_scan_finds_the_codes() -> None:
    # The scan itself works: a few codes from each kind of raise site.
    codes = raised_codes()
    assert {"merge-mismatch", "syntax", "too-large", "bad-probability", "no-length"} <= codes
    assert {"xml-syntax", "unknown-layer", "undefined-name", "encoding"} <= codes


def test_every_raised_code_is_explained_and_no_entry_is_stale() -> None:
    codes = raised_codes()
    assert sorted(codes - set(EXPLANATIONS)) == [], "codes without an explanation"
    assert sorted(set(EXPLANATIONS) - codes) == [], "explanations of codes never raised"


def test_every_readme_code_is_explained() -> None:
    codes = readme_codes()
    assert len(codes) > 40
    assert sorted(codes - set(EXPLANATIONS)) == []


def test_explanations_are_plain_wrapped_text() -> None:
    for code, (summary, text) in EXPLANATIONS.items():
        assert summary and "\n" not in summary and len(summary) <= WIDTH, code
        assert text.startswith(summary + "\n\n"), code
        assert all(len(line) <= WIDTH for line in text.splitlines()), code
        assert text.isascii(), code


def test_warning_explanations_say_how_to_keep_them() -> None:
    note = "a warning can be kept: archc lint still exits 0; `--strict` makes warnings fail"
    warnings = {"pool-drops", "axis-mix", "length-pinned", "softmax-dropped", "unused-layer"}
    for code, (_, text) in EXPLANATIONS.items():
        if code in warnings or "This is a warning." in text:
            assert note in " ".join(text.split()).lower(), code


def test_examples_exist_exactly_where_expected() -> None:
    assert set(EXPLANATIONS) >= NO_ARCH_EXAMPLE
    for code, (_, text) in EXPLANATIONS.items():
        found = examples(text)
        if code in NO_ARCH_EXAMPLE:
            assert found == {}, code
        else:
            assert set(found) == {"Wrong", "Right"}, code


@pytest.mark.parametrize("code", sorted(set(EXPLANATIONS) - NO_ARCH_EXAMPLE))
def test_wrong_example_reports_the_code_and_right_does_not(tmp_path: Path, code: str) -> None:
    found = examples(EXPLANATIONS[code][1])
    wrong = lint_codes(tmp_path, found["Wrong"])
    assert code in wrong, (code, wrong, found["Wrong"])
    right = lint_codes(tmp_path, found["Right"])
    assert code not in right, (code, right, found["Right"])


@pytest.mark.parametrize("spelling", ["merge-mismatch", "error[merge-mismatch]", "Merge-Mismatch"])
def test_cli_explains_a_code(spelling: str) -> None:
    code, out, err = run(spelling)
    assert code == 0 and err == ""
    assert out.startswith(EXPLANATIONS["merge-mismatch"][0] + "\n")
    assert "Wrong:" in out and "Right:" in out


def test_normalize_accepts_the_printed_forms() -> None:
    assert normalize(" warning[Pool-Drops] ") == "pool-drops"
    assert lookup("POOL_DROPS") == EXPLANATIONS["pool-drops"]
    assert lookup("no-such-code") is None


def test_cli_unknown_code_suggests_and_lists() -> None:
    code, out, err = run("merge-mismach")
    assert code == 2 and out == ""
    assert "`merge-mismach`" in err and "did you mean `merge-mismatch`?" in err
    assert "shape-mismatch" in err and "xml-unsafe" in err


def test_cli_unknown_code_without_near_miss() -> None:
    code, _, err = run("frobnicate")
    assert code == 2 and "did you mean" not in err and "codes: " in err


@pytest.mark.parametrize("args", [(), ("--list",)])
def test_cli_lists_every_code(args: tuple[str, ...]) -> None:
    code, out, _ = run(*args)
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == sorted(EXPLANATIONS)
    for line in lines:
        name = line.split()[0]
        assert line.endswith(EXPLANATIONS[name][0])


def test_explain_imports_only_core() -> None:
    source = (ROOT / "compiler" / "core" / "explain.py").read_text(encoding="utf-8")
    imports = re.findall(r"^\s*(?:from|import)\s+(\S+)", source, re.M)
    assert set(imports) <= {"__future__", "textwrap", ".diagnostics"}, imports
