"""`archc fmt`: layout, comments kept, idempotence, meaning kept, the command line, import output.

The properties are checked on every example, every `.arch` under tests/, random programs of
tests/randarch.py and tests/randgraph.py, and variants of the examples with a comment added
at every line (own-line and trailing) and with odd spacing. Meaning is compared through what
archc itself makes of a file: the generated PyTorch code byte for byte, and the JSON lint
diagnostics without their positions.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from archc.cli import main
from archc.core.source import Source
from archc.syntax.fmt import FormatError, comments, format_source
from archc.syntax.parser import parse
from archc.syntax.unparse import unparse

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(ROOT.glob("examples/**/*.arch"))
TEST_ARCH = sorted((ROOT / "tests").glob("**/*.arch"))
CORPUS = EXAMPLES + TEST_ARCH
POSITION_KEYS = {"line", "column", "end_line", "end_column", "path"}


def run_cli(*argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    """archc in-process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def _unpositioned(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unpositioned(v) for k, v in value.items() if k not in POSITION_KEYS}
    if isinstance(value, list):
        return [_unpositioned(v) for v in value]
    return value


def lint_json(path: Path) -> Any:
    code, out, _ = run_cli("lint", "--format", "json", str(path))
    return code, _unpositioned(json.loads(out))


def compiled(path: Path, out_dir: Path) -> dict[str, bytes]:
    code, _, _err = run_cli("compile", str(path), "-o", str(out_dir))
    files = {p.name: p.read_bytes() for p in sorted(out_dir.glob("*"))} if out_dir.exists() else {}
    return {"exit": str(code).encode(), **files}


def same_meaning(text: str, formatted: str, tmp_path: Path, name: str, compile_too: bool = True) -> None:
    """The formatted text lints (and compiles) to what the original does."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(parents=True, exist_ok=True)
    b.mkdir(parents=True, exist_ok=True)
    (a / name).write_text(text, encoding="utf-8")
    (b / name).write_text(formatted, encoding="utf-8")
    assert lint_json(a / name) == lint_json(b / name)
    if compile_too:
        assert compiled(a / name, a / "out") == compiled(b / name, b / "out")


def tree_shape(text: str) -> Any:
    """The syntax tree without positions, definitions in source order."""
    from archc.syntax.fmt import _ordered

    return _ordered(parse(Source("t.arch", text)))


def comment_texts(text: str) -> list[str]:
    return [c.text for c in comments(text)]


# ------------------------------------------------------------------ layout


MESSY = """\
# header line one
#   header line two


block B(c,k=3){conv1d( c , k )|relu}
arch   demo( classes=2 ,length = 100,  # the length
    alphabet=4 ) {  # opens the body
  # before the first step


  conv = conv1d(8,3)|relu   # trailing on a step
  # between statements
  pool = seq {
    # inside seq
    maxpool1d(2)  # in seq
    # before the closing brace
  }
  residual { conv1d(8, 3, padding=1) } shortcut {
      # in the shortcut
      conv1d(8,1)
  }
  b = B(8) |  # after a pipe
      # own line between steps
      relu
  flatten
  fc = linear(
     classes,  # the classes
     # before the closing paren
  )
  meta { source = "x # not a comment" ,  tags = [1,  # one
       2] }
  # last in the body
}
# after everything
"""

MESSY_FORMATTED = """\
# header line one
#   header line two

block B(c, k = 3) { conv1d(c, k) | relu }

arch demo(
    classes = 2,
    length = 100,  # the length
    alphabet = 4,
) {  # opens the body
    # before the first step

    conv = conv1d(8, 3) | relu  # trailing on a step
    # between statements
    pool = seq {
        # inside seq
        maxpool1d(2)  # in seq
        # before the closing brace
    }
    residual { conv1d(8, 3, padding = 1) } shortcut {
        # in the shortcut
        conv1d(8, 1)
    }
    b = B(8) |  # after a pipe
        # own line between steps
        relu
    flatten
    fc = linear(
        classes,  # the classes
        # before the closing paren
    )
    meta {
        source = "x # not a comment"
        tags = [
            1,  # one
            2,
        ]
    }
    # last in the body
}
# after everything
"""


def test_messy_file_gets_the_canonical_layout_with_every_comment_in_place() -> None:
    assert format_source(MESSY) == MESSY_FORMATTED
    assert format_source(MESSY_FORMATTED) == MESSY_FORMATTED
    assert tree_shape(MESSY) == tree_shape(MESSY_FORMATTED)


@pytest.mark.parametrize(
    ("source", "formatted"),
    [
        # a long chain breaks before the step that does not fit, with `|` leading the line
        (
            "arch a() {\n  " + " | ".join(f"conv{i} = conv1d({i + 8}, 3)" for i in range(8)) + "\n}\n",
            "arch a() {\n"
            "    conv0 = conv1d(8, 3) | conv1 = conv1d(9, 3) | conv2 = conv1d(10, 3) | conv3 = conv1d(11, 3)\n"
            "        | conv4 = conv1d(12, 3) | conv5 = conv1d(13, 3) | conv6 = conv1d(14, 3) | conv7 = conv1d(15, 3)\n"
            "}\n",
        ),
        # the author's line breaks between steps are kept; spacing is not
        ("arch a() {\n  conv1d(8,3)\n   |relu\n}\n", "arch a() {\n    conv1d(8, 3)\n        | relu\n}\n"),
        # a multi-line body stays multi-line; a one-line body stays on one line
        ("block b() { seq {\n relu } }\n", "block b() {\n    seq {\n        relu\n    }\n}\n"),
        ("block b() { seq { relu | relu } }\n", "block b() { seq { relu | relu } }\n"),
        # at most one blank line between statements, none after `{` or before `}`
        ("arch a() {\n\n  relu\n\n\n\n  relu\n\n}\n", "arch a() {\n    relu\n\n    relu\n}\n"),
        # parentheses only where they are needed; conditions keep theirs in arguments
        (
            "arch a(n = (2)) {\n  let m = ((n + 1) * 2)\n  if (n > 1 and (m < 3)) { linear((n) ** (2)) }\n}\n",
            "arch a(n = 2) {\n    let m = (n + 1) * 2\n    if n > 1 and m < 3 { linear(n ** 2) }\n}\n",
        ),
        # literals are written as the author spelt them (floats, strings), whole numbers plainly
        (
            'arch a() {\n  dropout(1e-3) | linear(007) | view(-1, "a\\tb")\n}\n',
            'arch a() {\n    dropout(1e-3) | linear(7) | view(-1, "a\\tb")\n}\n',
        ),
        # a repeat count that is not a primary gets parentheses
        ("arch a() {\n  seq { relu } * (2)\n}\n", "arch a() {\n    seq { relu } * 2\n}\n"),
        # a `\\`-continued line is one line: the continuation goes, no break is kept
        (
            "arch a() {\n  linear(\\\n    3)\n  input (batch, \\\n  channels)\n}\n",
            "arch a() {\n    linear(3)\n    input (batch, channels)\n}\n",
        ),
        # CRLF line ends and tabs become LF and spaces
        ("arch a() {\r\n\trelu\r\n}\r\n", "arch a() {\n    relu\n}\n"),
    ],
)
def test_layout_rules(source: str, formatted: str) -> None:
    assert format_source(source) == formatted
    assert format_source(formatted) == formatted


def test_allow_comments_stay_on_the_line_they_acknowledge(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "deepstarr.arch").read_text(encoding="utf-8")
    for old in ("bn1 = batchnorm1d | relu | maxpool1d(2)", "bn4 = batchnorm1d | relu | maxpool1d(2)"):
        assert text.count(old) == 1
        text = text.replace(old, old.replace(" | ", "|") + "  #archc: allow(pool-drops)")
    text = text.replace("    flatten\n", "  # archc: allow(pool-drops)\n      flatten\n")
    formatted = format_source(text)
    assert formatted != text
    code, diags = lint_json_text(text, tmp_path / "a")
    assert code == 0 and any(d["code"] == "unused-allow" for d in diags)
    assert lint_json_text(formatted, tmp_path / "b") == (code, diags)
    assert "maxpool1d(2)  #archc: allow(pool-drops)\n" in formatted


def lint_json_text(text: str, where: Path) -> Any:
    where.mkdir()
    (where / "x.arch").write_text(text, encoding="utf-8")
    return lint_json(where / "x.arch")


def test_a_file_that_does_not_parse_raises_with_the_parser_diagnostic() -> None:
    with pytest.raises(FormatError) as info:
        format_source("arch a() {\n  conv1d(8, 3\n}\n", "bad.arch")
    (diag,) = info.value.diagnostics
    assert diag.code == "syntax"
    assert diag.to_json()["line"] == 2 and diag.source.path == "bad.arch"


# ------------------------------------------------------------------ properties on the corpus


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(ROOT)))
def test_corpus_is_idempotent_and_keeps_meaning(path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    formatted = format_source(text)
    assert format_source(formatted) == formatted
    assert comment_texts(formatted) == comment_texts(text)
    same_meaning(text, formatted, tmp_path, path.name)


def test_examples_are_formatted_and_still_compile_to_generated(tmp_path: Path) -> None:
    code, _, err = run_cli("fmt", "--check", str(ROOT / "examples"))
    assert code == 0, err
    # the (formatted) examples compile to the shipped generated/ files, byte for byte
    shipped = sorted(str(p) for p in ROOT.glob("examples/*.arch"))
    assert run_cli("compile", *shipped, "-o", str(tmp_path))[0] == 0
    fresh = {p.name: p.read_bytes() for p in sorted(tmp_path.iterdir())}
    golden = {p.name: p.read_bytes() for p in sorted((ROOT / "generated").iterdir()) if p.name in fresh}
    assert len(fresh) >= len(shipped) and fresh == golden


def _random_texts() -> list[tuple[str, str]]:
    import randarch
    import randgraph

    texts = [(f"randarch{seed}", randarch.generate(seed).text) for seed in range(30)]
    texts += [
        (f"randgraph{seed}", randgraph.render(randgraph.generate(random.Random(seed)))) for seed in range(30)
    ]
    return texts


def test_random_programs_are_idempotent_and_keep_meaning(tmp_path: Path) -> None:
    for i, (name, text) in enumerate(_random_texts()):
        formatted = format_source(text)
        assert format_source(formatted) == formatted, name
        assert tree_shape(formatted) == tree_shape(text), name
        same_meaning(text, formatted, tmp_path / str(i), f"{name}.arch", compile_too=True)


# ------------------------------------------------------------------ variants with comments and spacing


def _comment_variants(text: str) -> list[tuple[str, str]]:
    """The text with one comment added: before each line, and at the end of each line."""
    lines = text.split("\n")
    out = []
    for i, line in enumerate(lines[:-1]):
        pad = " " * (i % 5)
        out.append(("own", "\n".join([*lines[:i], f"{pad}# note {i}", *lines[i:]])))
        if not line.rstrip().endswith("\\"):
            out.append(("tail", "\n".join([*lines[:i], f"{line}   #tail {i}", *lines[i + 1 :]])))
    return out


def _parses(text: str) -> bool:
    try:
        parse(Source("v.arch", text))
    except Exception:
        return False
    return True


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_a_comment_at_any_line_survives_in_order(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    variants = [(kind, v) for kind, v in _comment_variants(text) if _parses(v)]
    # every line can take a trailing comment; an own-line comment only fails before a `| step` line
    assert len(variants) >= 2 * text.count("\n") - text.count("\n    |") - text.count("\n        |")
    everything = text
    for kind, variant in variants:
        formatted = format_source(variant)
        assert comment_texts(formatted) == comment_texts(variant), (kind, variant)
        assert format_source(formatted) == formatted, variant
        assert tree_shape(formatted) == tree_shape(text)
        # the same comment added to a text that already holds all the earlier ones
        (new,) = set(comment_texts(variant)) - set(comment_texts(text))
        candidate = _with_comment(everything, variant, new)
        if candidate is not None and _parses(candidate):
            everything = candidate
    formatted = format_source(everything)
    assert comment_texts(formatted) == comment_texts(everything)
    assert len(comment_texts(everything)) > len(variants) // 2
    assert format_source(formatted) == formatted
    assert tree_shape(formatted) == tree_shape(text)


def _with_comment(base: str, variant: str, new: str) -> str | None:
    """`base` with the comment `new` put where `variant` has it (relative to the code line)."""
    if new.startswith("# note "):
        i = int(new.split()[-1])
        lines = base.split("\n")
        target = _code_line_index(base, i)
        if target is None:
            return None
        return "\n".join([*lines[:target], new, *lines[target:]])
    i = int(new.split()[-1])
    target = _code_line_index(base, i)
    if target is None:
        return None
    lines = base.split("\n")
    if "#" in lines[target]:
        return None
    lines[target] += "  " + new
    return "\n".join(lines)


def _code_line_index(base: str, original: int) -> int | None:
    """Where line `original` of the unannotated text is in `base` (own-line notes shift it)."""
    lines = base.split("\n")
    seen = -1
    for k, line in enumerate(lines):
        if re.fullmatch(r"\s*# note \d+", line):
            continue
        seen += 1
        if seen == original:
            return k
    return None


def _oddly_spaced(text: str, rng: random.Random) -> str:
    """The same program with random spacing: indentation, spaces around punctuation, blank lines."""
    out_lines = []
    for line in text.split("\n"):
        code, sep, rest = _split_comment(line)
        parts = re.split(r'("(?:\\.|[^"\\])*")', code)
        for j in range(0, len(parts), 2):  # outside strings only
            parts[j] = re.sub(
                r"\s*(:=|->|\*\*|==|!=|<=|>=|[=,|(){}:*])\s*",
                lambda m: rng.choice(["", " ", "  "]) + m.group(1) + rng.choice(["", " ", "\t"]),
                parts[j],
            )
        code = "".join(parts).strip()
        if code or sep:
            indent = rng.choice(["", " ", "\t", "        "])
            out_lines.append(indent + code + (rng.choice(["", "   "]) + sep + rest if sep else ""))
        else:  # a blank line may become several; none is added where there was none
            out_lines.extend(rng.choice(["", "   ", "\t"]) for _ in range(rng.randint(1, 3)))
    return "\n".join(out_lines)


def _split_comment(line: str) -> tuple[str, str, str]:
    in_string = False
    for k, ch in enumerate(line):
        if ch == '"' and (k == 0 or line[k - 1] != "\\"):
            in_string = not in_string
        elif ch == "#" and not in_string:
            return line[:k], "#", line[k + 1 :]
    return line, "", ""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_odd_spacing_formats_to_the_same_text(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    canonical = format_source(text)
    rng = random.Random(path.name)
    tried = 0
    for _ in range(6):
        variant = _oddly_spaced(text, rng)
        if not _parses(variant):  # e.g. `: =` is no longer `:=`
            continue
        tried += 1
        assert variant != text
        assert format_source(variant) == canonical, variant
    assert tried >= 3


# ------------------------------------------------------------------ the command line


def _messy_file(tmp_path: Path, name: str = "m.arch") -> Path:
    path = tmp_path / name
    path.write_text("arch a(){\n  conv1d(8,3)|relu  # keep me\n}\n", encoding="utf-8")
    return path


def test_cli_rewrites_in_place_only_what_changes(tmp_path: Path) -> None:
    messy = _messy_file(tmp_path)
    clean = tmp_path / "c.arch"
    clean.write_text("arch c() {\n    relu\n}\n", encoding="utf-8")
    inode = clean.stat().st_ino
    code, out, err = run_cli("fmt", str(messy), str(clean))
    assert (code, out) == (0, "")
    assert err == f"reformatted {messy}\n"
    assert messy.read_text() == "arch a() {\n    conv1d(8, 3) | relu  # keep me\n}\n"
    assert clean.stat().st_ino == inode  # never rewritten: the same file, not a new one
    assert run_cli("fmt", "--check", str(messy), str(clean))[0] == 0


def test_cli_check_lists_and_writes_nothing(tmp_path: Path) -> None:
    messy = _messy_file(tmp_path)
    before = messy.read_text()
    code, out, err = run_cli("fmt", "--check", str(tmp_path))
    assert (code, out, err) == (1, "", f"would reformat {messy}\n")
    assert messy.read_text() == before


def test_cli_diff_prints_a_unified_diff_and_writes_nothing(tmp_path: Path) -> None:
    messy = _messy_file(tmp_path)
    before = messy.read_text()
    code, out, _ = run_cli("fmt", "--diff", str(messy))
    assert code == 1
    assert out.splitlines()[:3] == [f"--- {messy}", f"+++ {messy}", "@@ -1,3 +1,3 @@"]
    assert out.splitlines()[3:] == [
        "-arch a(){",
        "-  conv1d(8,3)|relu  # keep me",
        "+arch a() {",
        "+    conv1d(8, 3) | relu  # keep me",
        " }",
    ]
    assert messy.read_text() == before


def test_cli_stdin_to_stdout() -> None:
    code, out, err = run_cli("fmt", "-", stdin="arch a(){relu}\n")
    assert (code, out, err) == (0, "arch a() {\n    relu\n}\n", "")
    assert run_cli("fmt", "--check", "-", stdin="arch a(){relu}\n")[:2] == (1, "")


def test_cli_directories_are_searched_in_sorted_order(tmp_path: Path) -> None:
    for name in ("b/z.arch", "a.arch", "b/a.arch"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        _messy_file(tmp_path, name)
    (tmp_path / "b" / "notes.txt").write_text("not arch {")
    code, _, err = run_cli("fmt", "--check", str(tmp_path))
    assert code == 1
    assert err.splitlines() == [f"would reformat {tmp_path / n}" for n in ("a.arch", "b/a.arch", "b/z.arch")]


def test_cli_parse_error_is_a_located_diagnostic_with_exit_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.arch"
    bad.write_text("arch a() {\n  conv1d(8, 3\n}\n")
    good = _messy_file(tmp_path)
    code, _out, err = run_cli("fmt", str(bad), str(good))
    assert code == 1
    assert f"--> {bad}:2:" in err and "Traceback" not in err
    assert bad.read_text() == "arch a() {\n  conv1d(8, 3\n}\n"
    assert "    conv1d(8, 3) | relu" in good.read_text()  # the other file is still formatted


def test_cli_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run_cli("fmt", str(tmp_path / "nope.arch"))
    assert code == 2
    assert "no such file or directory" in err


def test_cli_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.arch"
    path.write_bytes(b"# caf\xe9\narch a() { relu }\n")
    code, _, err = run_cli("fmt", str(path))
    assert code == 1 and f"{path}:1:1: error: not UTF-8" in err


# ------------------------------------------------------------------ importers write formatted text


def _import_jobs(tmp_path: Path) -> list[tuple[str, list[str]]]:
    from seeds import MODELS, SEED_FILE, seed_python

    manifest = {e["file"]: e for e in json.loads((ROOT / "tests/fixtures/torch/manifest.json").read_text())}
    jobs: list[tuple[str, list[str]]] = []
    if SEED_FILE.exists():
        for model in MODELS:
            path = tmp_path / f"{model}.py"
            path.write_text(seed_python(model), encoding="utf-8")
            jobs.append((str(path), []))
    for path in sorted((ROOT / "tests/fixtures").glob("**/*.py")) + sorted(
        (ROOT / "tests/fixtures").glob("**/*.xml")
    ):
        entry = manifest.get(path.name)
        extra = ["--class", entry["class"]] if entry else []
        if entry and entry.get("layout"):
            extra += ["--layout", entry["layout"]]
        jobs.append((str(path), extra))
    shared = ROOT.parent / "shared" / "seqgra" / "md"
    jobs += [(str(p), []) for p in sorted(shared.glob("*.xml"))]
    return jobs


def test_import_output_is_formatted(tmp_path: Path) -> None:
    handled = 0
    for path, extra in _import_jobs(tmp_path):
        code, out, _ = run_cli("import", path, *extra)
        if code != 0:  # fixtures of what import refuses
            continue
        handled += 1
        assert format_source(out) == out, path
    assert handled >= 25


def test_unparse_without_source_puts_parentheses_where_the_grammar_needs_them() -> None:
    # trees an importer may build that no parse gives: a comparison as an argument, a
    # negative base of `**`, a power as a repeat count
    text = "arch a(n = 2) {\n  linear((n < 3)) | linear((-n) ** 2) | seq { relu } * (n ** 2) | linear((-2) ** n)\n}\n"
    tree = parse(Source("t.arch", text))
    again = unparse(tree)
    assert tree_shape(again) == tree_shape(text)
    assert "linear((n < 3)) | linear((-n) ** 2) | seq { relu } * (n ** 2) | linear((-2) ** n)" in again


def test_the_meaning_check_tells_programs_apart(tmp_path: Path) -> None:
    text = (ROOT / "examples" / "basset.arch").read_text(encoding="utf-8")
    with pytest.raises(AssertionError):
        same_meaning(text, text.replace("dropout(0.3)", "dropout(0.4)", 1), tmp_path / "1", "basset.arch")
    with pytest.raises(AssertionError):  # the lint half alone: a warning more
        same_meaning(text, text.replace("maxpool1d(3)", "maxpool1d(7)"), tmp_path / "2", "basset.arch", False)


def test_cli_diff_marks_a_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "n.arch"
    path.write_text("arch a(){relu}")
    code, out, _ = run_cli("fmt", "--diff", str(path))
    assert code == 1
    assert out.splitlines()[3:] == [
        "-arch a(){relu}",
        "\\ No newline at end of file",
        "+arch a() {",
        "+    relu",
        "+}",
    ]


def test_deep_nesting_and_long_files_format_in_one_pass() -> None:
    # each level is printed once (a formatter trying both layouts at every level would
    # take 2**depth steps); the results are checked, not the time
    deep = "arch a() {\n" + "seq { " * 20 + "relu" + " }" * 20 + "\n}\n"
    out = format_source(deep)
    assert out.count("seq {") == 20 and format_source(out) == out
    long = "arch a() {\n" + " | ".join(f"l{i} = conv1d(4, 3)" for i in range(300)) + "\n}\n"
    out = format_source(long)
    assert max(len(line) for line in out.splitlines()) <= 110
    assert tree_shape(out) == tree_shape(long) and format_source(out) == out


@pytest.mark.parametrize("where", ["trailing", "own-line"])
def test_a_statement_an_allow_comment_covers_is_not_broken(where: str, tmp_path: Path) -> None:
    # The pool that drops a position stands early in a line too long for the width: a break
    # added after it would leave the warning on a line the comment no longer covers.
    text = (ROOT / "examples" / "deepstarr.arch").read_text(encoding="utf-8")
    old = "    conv1 = conv1d(256, 7, padding = 3) | bn1 = batchnorm1d | relu | maxpool1d(2)\n"
    long = old.rstrip("\n") + " | relu" * 6
    new = (
        long + "  # archc: allow(pool-drops)\n"
        if where == "trailing"
        else f"    # archc: allow(pool-drops)\n{long}\n"
    )
    assert text.count(old) == 1 and len(long) > 110
    text = text.replace(old, new.replace(" | ", "|"))
    formatted = format_source(text)
    assert long + ("  # archc: allow(pool-drops)" if where == "trailing" else "") in formatted.splitlines()
    code, diags = lint_json_text(text, tmp_path / "a")
    assert [d["code"] for d in diags] == ["pool-drops"]  # conv4's pool; conv1's is acknowledged
    assert lint_json_text(formatted, tmp_path / "b") == (code, diags)


META = (
    "arch m(classes = 2, length = 10, alphabet = 4) {\n"
    '  meta { a = 1, b = [1, 2, 3], c = { d = "x, {y}", e = [{ f = 1 }] } }\n'
    "  fc = linear(classes)\n}\n"
)


@pytest.mark.parametrize("name", [p.name for p in EXAMPLES if p.parent.name == "examples"] + ["meta"])
def test_a_comment_after_every_opener_comma_and_pipe_survives(name: str) -> None:
    # inside argument and parameter lists, mappings, lists and chains: where the grammar
    # allows a line break after `(`, `,`, `{`, `[` or `|`
    text = META if name == "meta" else (ROOT / "examples" / name).read_text(encoding="utf-8")
    tried = 0
    for match in re.finditer(r"[(,{|\[]", text):
        variant = text[: match.end()] + f"  # after {match.end()}\n" + text[match.end() :]
        if not _parses(variant):  # e.g. inside `input (...)`, which stays on one line
            continue
        tried += 1
        formatted = format_source(variant)
        assert comment_texts(formatted) == comment_texts(variant), variant
        assert format_source(formatted) == formatted, variant
        # (against the variant: a line break may change a program, `return a,` + `b`)
        assert tree_shape(formatted) == tree_shape(variant)
    assert tried >= 5


def test_cli_refuses_importer_inputs(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text("import torch\n")
    code, _, err = run_cli("fmt", str(path))
    assert code == 2 and "archc fmt formats .arch files" in err
    assert path.read_text() == "import torch\n"


def test_cli_rewrites_the_target_of_a_link_and_keeps_its_mode(tmp_path: Path) -> None:
    real = _messy_file(tmp_path, "real.arch")
    real.chmod(0o640)
    link = tmp_path / "link.arch"
    link.symlink_to(real)
    assert run_cli("fmt", str(link))[0] == 0
    assert link.is_symlink() and "    conv1d(8, 3) | relu" in real.read_text()
    assert real.stat().st_mode & 0o777 == 0o640


def test_cli_unreadable_file_is_an_error_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _messy_file(tmp_path)
    other = _messy_file(tmp_path, "other.arch")

    def refuse(self: Path) -> bytes:  # the tests run as root, who may read any file
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        with open(self, "rb") as handle:
            return handle.read()

    monkeypatch.setattr(Path, "read_bytes", refuse)
    code, _, err = run_cli("fmt", str(path), str(other))
    assert code == 1
    assert f"archc: error: cannot read {path}: Permission denied" in err and "Traceback" not in err
    assert "    conv1d(8, 3) | relu" in other.read_text()


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda out: out.replace("  # keep me", ""), "has no place"),  # a comment lost
        (lambda out: out.replace("conv1d(8, 3)", "conv1d(8, 4)"), "another syntax tree"),
        (lambda out: out.replace("relu", "relu("), "does not parse"),
        (lambda out: out.replace("# keep me", "# kept"), "same comments"),
    ],
)
def test_a_printer_bug_is_refused_not_written(
    damage: Any, problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import archc.syntax.fmt as fmt

    class Broken(fmt.Printer):
        def file(self, f: Any, header: Any = ()) -> str:
            out = damage(super().file(f, header))
            if problem == "has no place":
                self.used.clear()
            return str(out)

    monkeypatch.setattr(fmt, "Printer", Broken)
    path = _messy_file(tmp_path)
    before = path.read_text()
    code, _, err = run_cli("fmt", str(path))
    assert code == 1 and problem in err and "please report it" in err
    assert path.read_text() == before
