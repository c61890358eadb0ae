"""The Pygments lexer (archc.backends.highlight): real sources lex cleanly and exactly.

Sources: every .arch block of README.md (a block whose first line of code declares an `arch`
or a `block`), every examples/**/*.arch and every tests/fixtures/**/*.arch. None may give an
Error token, and joining the tokens gives the text back. The grammar's keywords are read from
grammar/archc.lark here, so a new keyword the lexer does not know fails this test; the layer
names come from the catalogue. `pygmentize -l archc` runs as a subprocess through the entry
point, and a probe checks that lint never imports pygments.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from archc.backends.highlight import ArchcLexer
from archc.ir.layers import ALIASES, all_names
from archc.ir.nodes import MERGES
from hypothesis import given, settings
from hypothesis import strategies as st
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import Error, Keyword, Name, Number, Operator, String, Token, _TokenType

ROOT = Path(__file__).resolve().parent.parent
GRAMMAR = ROOT / "grammar" / "archc.lark"
FILES = sorted([*(ROOT / "examples").rglob("*.arch"), *(ROOT / "tests" / "fixtures").rglob("*.arch")])
CODE_START = re.compile(r"\s*(arch|block)\s+\w+\s*\(")
# The README's excerpts leave lines out with a line `...` (not archc syntax).
ELISION = re.compile(r"^[ \t]*\.\.\.[ \t]*$", re.M)


def readme_blocks() -> list[tuple[int, str]]:
    """(line number, text) of each fenced block of README.md that holds .arch code."""
    lines = (ROOT / "README.md").read_text().splitlines()
    blocks = []
    start = None
    for number, line in enumerate(lines, start=1):
        if line.startswith("```"):
            if start is None:
                start = number
                continue
            body = lines[start : number - 1]
            code = [text for text in body if text.strip() and not text.lstrip().startswith("#")]
            if code and CODE_START.match(code[0]):
                blocks.append((start, "\n".join(body) + "\n"))
            start = None
    return blocks


def grammar_keywords() -> set[str]:
    """Every word literal of the grammar: `"arch"`, `"residual"`, `"and"`, ..."""
    text = re.sub(r"//[^\n]*", "", GRAMMAR.read_text())
    return set(re.findall(r'"([a-z_]+)"', text))


def tokens(text: str) -> list[tuple[_TokenType, str]]:
    return list(ArchcLexer().get_tokens(text))


def kinds(text: str) -> dict[str, _TokenType]:
    """Token type by text (the last one wins) of the non-blank tokens."""
    return {value: kind for kind, value in tokens(text) if value.strip()}


SOURCES = [(str(p.relative_to(ROOT)), p.read_text()) for p in FILES] + [
    (f"README.md:{line}", text) for line, text in readme_blocks()
]


def test_sources_were_found() -> None:
    assert len(readme_blocks()) >= 4
    assert len(FILES) >= 15


@pytest.mark.parametrize(("where", "text"), SOURCES, ids=[where for where, _ in SOURCES])
def test_no_error_tokens_and_exact_round_trip(where: str, text: str) -> None:
    if where.startswith("README"):
        text = ELISION.sub("", text)
    lexed = tokens(text)
    errors = [value for kind, value in lexed if kind in Error]
    assert errors == [], f"{where}: {errors}"
    assert "".join(value for _, value in lexed) == text
    assert any(kind in Name.Builtin for kind, _ in lexed)


@pytest.mark.parametrize(
    "text",
    [
        "\n\narch m() {\n  relu\n}\n\n\n",  # leading and trailing blank lines are kept
        "arch m() { relu }",  # no final newline
        "arch m(classes = 2) {\r\n  relu @ ; ` é\r\n}\r\n",  # CRLF and characters archc lacks
        'arch m() { meta { s = "unterminated\n  relu }\n',
        "block B(\n  a,\n  b = (1, 2\n) {\n  conv1d(a)  \\\n  | relu\n}\n",
        "",
    ],
)
def test_any_text_round_trips(text: str) -> None:
    """Exactly, even broken text; Pygments' get_tokens turns CRLF into LF, the raw lexer keeps it."""
    raw = "".join(value for _, _, value in ArchcLexer().get_tokens_unprocessed(text))
    assert raw == text
    assert "".join(value for _, value in tokens(text)) == text.replace("\r\n", "\n")


# Text built from the language's own pieces and a few characters it lacks.
PIECES = st.sampled_from(
    [
        "arch",
        "block",
        "conv1d",
        "x",
        ":=",
        "=",
        "(",
        ")",
        "{",
        "}",
        "|",
        '"',
        "\\",
        "#",
        "1.5",
        "\n",
        "\r\n",
        " ",
        "@",
        "é",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(PIECES, max_size=40).map("".join) | st.text(max_size=60))
def test_random_text_round_trips(text: str) -> None:
    raw = "".join(value for _, _, value in ArchcLexer().get_tokens_unprocessed(text))
    assert raw == text


def test_token_classes() -> None:
    text = (
        "# a comment\n"
        "block Tower(c, k = 3) {  # archc: allow(pool-drops)\n"
        "  t := conv = Conv1d(c, kernel_size = k, padding = k // 2) | relu\n"
        "  residual = seq { dropout(p = 0.5) }\n"
        '  meta { note = "a\\"b" }\n'
        "  x := cat(t, t, axis = channels) | Other(1e-5, .5, 2.) | prelu\n"
        "  if not (k >= 3 and true) { flatten } else { identity }\n"
        "}\n"
    )
    got = kinds(text)
    expected = {
        "# a comment": Token.Comment.Single,
        "# archc: allow(pool-drops)": Token.Comment.Special,
        "block": Keyword.Declaration,
        "Tower": Name.Class,
        "t": Name,  # last seen as an operand of cat
        "conv": Name.Variable,
        ":=": Operator,
        "Conv1d": Name.Builtin,  # the catalogue is case-insensitive
        "kernel_size": Name.Attribute,
        "padding": Name.Attribute,
        "//": Operator,
        "relu": Name.Builtin,
        "residual": Name.Variable,  # a keyword used as a layer name
        "seq": Keyword,
        "p": Name.Attribute,
        "0.5": Number.Float,
        "3": Number.Integer,
        "meta": Keyword,
        "note": Name.Variable,
        '\\"': String.Escape,
        "cat": Name.Builtin,
        "axis": Name.Attribute,
        "Other": Name.Function,
        "1e-5": Number.Float,
        ".5": Number.Float,
        "2.": Number.Float,
        "prelu": Name,  # not in the catalogue
        "not": Operator.Word,
        "and": Operator.Word,
        ">=": Operator,
        "true": Keyword.Constant,
        "if": Keyword,
        "else": Keyword,
        "flatten": Name.Builtin,
        "identity": Name.Builtin,
        "|": Operator,
    }
    assert {value: got.get(value) for value in expected} == expected


def test_characters_archc_lacks_are_errors() -> None:
    for text in ("  relu @ x\n", "  relu ; x\n", "  relu )\n", "  x1 .y\n", "  x1. y\n", '  f("a\\q")\n'):
        assert any(kind in Error for kind, _ in tokens(text)), text


def test_every_grammar_keyword_is_a_keyword() -> None:
    words = grammar_keywords()
    assert {"arch", "block", "residual", "for", "range", "none"} <= words
    missing = []
    for word in sorted(words):
        kind = tokens(f"{word} x\n")[0]
        if kind[1] != word or not (kind[0] in Keyword or kind[0] in Operator.Word):
            missing.append((word, kind))
    assert missing == []


def test_every_layer_name_is_a_builtin() -> None:
    names = sorted({*all_names(), *ALIASES, *MERGES})
    assert len(names) > 50
    for name in names:
        for spelling in (name, name.upper()):
            assert tokens(f"  {spelling}(1)\n")[1] == (Name.Builtin, spelling)
    # A prefix of a layer name is not one, nor a name that only starts like one.
    assert tokens("  conv1d2\n")[1] == (Name, "conv1d2")
    assert tokens("  relu_x\n")[1] == (Name, "relu_x")


def test_found_through_pygments() -> None:
    """The entry point (pip install -e .) registers the lexer under its name and *.arch."""
    assert type(get_lexer_by_name("archc")) is ArchcLexer
    assert type(get_lexer_for_filename("model.arch")) is ArchcLexer


def pygmentize() -> list[str]:
    script = Path(sys.executable).parent / "pygmentize"
    return [str(script)] if script.exists() else [sys.executable, "-m", "pygments"]


def test_pygmentize_command(tmp_path: Path) -> None:
    example = ROOT / "examples" / "deepsea.arch"
    raw = subprocess.run(
        [*pygmentize(), "-l", "archc", "-f", "raw", str(example)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Token.Error" not in raw
    assert "Token.Name.Builtin\t'conv1d'" in raw
    assert "Token.Keyword.Declaration\t'arch'" in raw
    html = tmp_path / "deepsea.html"
    subprocess.run([*pygmentize(), "-f", "html", "-O", "full", "-o", str(html), str(example)], check=True)
    assert '<span class="nb">maxpool1d</span>' in html.read_text()  # found by the file name
    name = subprocess.run(
        [*pygmentize(), "-N", "model.arch"], capture_output=True, text=True, check=True
    ).stdout
    assert name.strip() == "archc"


PROBE = """
import json, sys
from archc.cli import main
codes = [main(["lint", *sys.argv[1:]]), main(["lint", "--format", "sarif", *sys.argv[1:]])]
print(json.dumps({"codes": codes, "pygments": any(m.split(".")[0] == "pygments" for m in sys.modules)}))
"""


def test_lint_does_not_import_pygments() -> None:
    examples = [str(p) for p in sorted((ROOT / "examples").glob("*.arch"))]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *examples], capture_output=True, text=True, check=True, cwd=ROOT
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"codes": [0, 0], "pygments": False}


def readme_section(title: str) -> list[str]:
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(title)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith(("## ", "### ")))
    return lines[start:end]


def fenced(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(info string, body lines) of each fenced block."""
    blocks, start = [], None
    for i, line in enumerate(lines):
        if line.startswith("```"):
            if start is None:
                start = i
            else:
                blocks.append((lines[start][3:], lines[start + 1 : i]))
                start = None
    return blocks


def test_readme_highlighting_section(tmp_path: Path) -> None:
    """The commands the README shows work, and the token listing it shows is the real one."""
    blocks = fenced(readme_section("### Highlighting"))
    (commands,) = [body for info, body in blocks if info == "sh"]
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for line in commands:
        words = shlex.split(line, comments=True)
        assert words[0] == "pygmentize", line
        subprocess.run([*pygmentize(), *words[1:]], cwd=tmp_path, check=True, capture_output=True)
    assert '<span class="nb">conv1d</span>' in (tmp_path / "deepsea.html").read_text()
    (shown,) = [body for _, body in blocks if body and body[0].startswith("Token.")]
    text = "".join(ast.literal_eval(line.split("\t", 1)[1]) for line in shown)
    assert text.rstrip("\n") in (ROOT / "examples" / "bpnet.arch").read_text().splitlines()
    (tmp_path / "line.arch").write_text(text)
    raw = subprocess.run(
        [*pygmentize(), "-l", "archc", "-f", "raw", "line.arch"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert raw.splitlines() == shown
