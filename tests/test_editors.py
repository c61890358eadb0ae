"""editors/vscode: the TextMate grammar, the language configuration and the extension.

The JSON files must parse and say what VS Code needs. The grammar's regexes must compile with
Python's `re`: it keeps to the syntax both engines read alike, and uses none of Oniguruma's own
constructs (`\\h`, `\\G`, `\\A`/`\\z`, `\\p{...}`, `(?<name>...)`, `\\k<...>`, atomic
groups, possessive quantifiers), which FORBIDDEN below rejects. Oniguruma's `$` is an end of line
and Python's one before a final newline: the same thing here, as TextMate, like `tokenize`
below, matches one line at a time.

`tokenize` is a small TextMate engine (match, begin/end, captures, includes; the earliest match
wins, the first rule on a tie, an end rule before the others): with it every example, fixture
and README .arch block gets no `invalid` scope, every keyword read from grammar/archc.lark
gets a keyword scope, every catalogue layer name the layer scope, and each character is put in
the same class (keyword, layer, name, comment, ...) as by the Pygments lexer.

The extension itself runs under node with stand-ins for `vscode` and `vscode-languageclient`:
it must start `archc lsp` over stdio for the archc language, and stop it on deactivate.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from archc.backends.highlight import ArchcLexer
from archc.ir.layers import ALIASES, all_names
from archc.ir.nodes import MERGES
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text
from test_highlight import ELISION, SOURCES, grammar_keywords

ROOT = Path(__file__).resolve().parent.parent
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = json.loads((VSCODE / "syntaxes" / "archc.tmLanguage.json").read_text())
FORBIDDEN = re.compile(r"\\[hHGAzZK]|\\p\{|\\k<|\(\?<[A-Za-z]|\(\?>|[*+?}][+]")


def regexes(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("match", "begin", "end") and isinstance(value, str):
                yield value
            else:
                yield from regexes(value)
    elif isinstance(node, list):
        for item in node:
            yield from regexes(item)


# ---------------------------------------------------------------- a small TextMate engine


@dataclass
class Frame:
    rule: dict[str, Any]  # the begin/end rule (the grammar itself at the bottom)
    end: re.Pattern[str] | None


_compiled: dict[str, re.Pattern[str]] = {}


def _re(pattern: str) -> re.Pattern[str]:
    if pattern not in _compiled:
        _compiled[pattern] = re.compile(pattern)
    return _compiled[pattern]


def _rules(patterns: list[dict[str, Any]], seen: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The match and begin rules of a pattern list, includes expanded in place."""
    out: list[dict[str, Any]] = []
    for rule in patterns:
        include = rule.get("include")
        if include is None and "patterns" in rule and "begin" not in rule:
            out.extend(_rules(rule["patterns"], seen))
        elif include is None:
            out.append(rule)
        elif include in seen:
            continue
        elif include in ("$self", "$base"):
            out.extend(_rules(GRAMMAR["patterns"], seen | {include}))
        else:
            target = GRAMMAR["repository"][include.removeprefix("#")]
            out.extend(_rules([target], seen | {include}))
    return out


def tokenize(text: str) -> list[tuple[str, ...]]:
    """The scopes of each character of text."""
    scopes: list[tuple[str, ...]] = [()] * len(text)
    stack = [Frame(GRAMMAR, None)]
    offset = 0

    def paint(start: int, stop: int, names: tuple[str, ...]) -> None:
        for i in range(offset + start, offset + stop):
            scopes[i] = names

    def outer() -> tuple[str, ...]:
        return tuple(f.rule["name"] for f in stack if "name" in f.rule)

    def captured(match: re.Match[str], captures: dict[str, Any], base: tuple[str, ...]) -> None:
        for group, capture in sorted(captures.items(), key=lambda kv: int(kv[0])):
            if match.group(int(group)) is not None:
                paint(match.start(int(group)), match.end(int(group)), (*base, capture["name"]))

    for line in text.splitlines(keepends=True):
        pos = 0
        while pos < len(line):
            frame = stack[-1]
            best: tuple[int, int, dict[str, Any] | None, re.Match[str]] | None = None
            if frame.end is not None:
                found = frame.end.search(line, pos)
                if found:
                    best = (found.start(), -1, None, found)
            for order, rule in enumerate(_rules(frame.rule["patterns"])):
                found = _re(rule.get("match") or rule["begin"]).search(line, pos)
                if found and (best is None or (found.start(), order) < best[:2]):
                    best = (found.start(), order, rule, found)
            if best is None:
                paint(pos, len(line), outer())
                break
            start, _, rule, found = best
            paint(pos, start, outer())
            if rule is None:  # the end of the innermost begin/end rule
                paint(start, found.end(), outer())
                captured(found, frame.rule.get("endCaptures", {}), outer())
                stack.pop()
            elif "match" in rule:
                names = (*outer(), rule["name"]) if "name" in rule else outer()
                paint(start, found.end(), names)
                captured(found, rule.get("captures", {}), names)
            else:
                stack.append(Frame(rule, _re(rule["end"])))
                paint(start, found.end(), outer())
                captured(found, rule.get("beginCaptures", {}), outer())
            if found.end() == pos and rule is not None and "match" in rule:
                paint(pos, pos + 1, outer())  # an empty match: step over a character
                pos += 1
            else:
                pos = found.end()  # an empty end or begin changes the stack, so this moves on
        offset += len(line)
    return scopes


# ---------------------------------------------------------------- the files


def test_json_files_parse_and_fit_together() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text())
    config = json.loads((VSCODE / "language-configuration.json").read_text())
    (language,) = manifest["contributes"]["languages"]
    (grammar,) = manifest["contributes"]["grammars"]
    assert language["id"] == grammar["language"] == "archc"
    assert language["extensions"] == [".arch"]
    assert (VSCODE / language["configuration"]).is_file()
    assert (VSCODE / grammar["path"]).resolve() == (VSCODE / "syntaxes" / "archc.tmLanguage.json")
    assert grammar["scopeName"] == GRAMMAR["scopeName"] == "source.archc"
    assert (VSCODE / manifest["main"]).is_file()
    assert "vscode-languageclient" in manifest["dependencies"]
    assert config["comments"] == {"lineComment": "#"}
    pairs = {(p["open"], p["close"]) for p in config["autoClosingPairs"]}
    assert {("{", "}"), ("(", ")"), ("[", "]"), ('"', '"')} <= pairs
    assert {tuple(b) for b in config["brackets"]} == {("{", "}"), ("(", ")"), ("[", "]")}
    for pattern in [config["wordPattern"], *config["indentationRules"].values()]:
        re.compile(pattern)


def test_every_regex_compiles_with_python_re() -> None:
    found = list(regexes(GRAMMAR))
    assert len(found) > 20
    for pattern in found:
        re.compile(pattern)
        assert not FORBIDDEN.search(pattern), pattern
    for name, rule in GRAMMAR["repository"].items():
        assert "match" in rule or "begin" in rule or "patterns" in rule, name
    # every include names a rule that exists
    for include in re.findall(r'"include": "#([^"]+)"', json.dumps(GRAMMAR)):
        assert include in GRAMMAR["repository"]


def test_forbidden_constructs_are_caught() -> None:
    """The check above is not vacuous: each construct it names is found."""
    for construct in (r"\h+", r"\Gx", r"(?<n>a)", r"(?>ab)", r"a++", r"\p{L}", r"\k<n>", r"\Aa"):
        assert FORBIDDEN.search(construct), construct


@pytest.mark.parametrize(("where", "text"), SOURCES, ids=[where for where, _ in SOURCES])
def test_no_invalid_scope(where: str, text: str) -> None:
    if where.startswith("README"):
        text = ELISION.sub("", text)
    scopes = tokenize(text)
    bad = sorted({text[i] for i, s in enumerate(scopes) if any(n.startswith("invalid.") for n in s)})
    assert bad == [], where


def test_invalid_characters_are_marked() -> None:
    text = "arch m() {\n  relu @ x\n}\n"
    scopes = tokenize(text)
    assert "invalid.illegal.character.archc" in scopes[text.index("@")]
    text = 'arch m() {\n  relu )\n  f("a\\q")\n}\n'
    scopes = tokenize(text)
    assert "invalid.illegal.character.archc" in scopes[text.index(" )") + 1]
    assert "invalid.illegal.escape.archc" in scopes[text.index("\\q")]


KEYWORD_SCOPES = ("keyword.", "constant.language.")


def test_every_grammar_keyword_has_a_keyword_scope() -> None:
    missing = []
    for word in sorted(grammar_keywords()):
        scopes = tokenize(f"{word} x\n")
        if not all(any(n.startswith(KEYWORD_SCOPES) for n in scopes[i]) for i in range(len(word))):
            missing.append((word, scopes[0]))
    assert missing == []


def test_layer_names_are_the_catalogue() -> None:
    names = {*all_names(), *ALIASES, *MERGES}
    listed = re.fullmatch(
        r"\\b\(\?i:([a-z0-9_|]+)\)\(\?!\[A-Za-z0-9_\]\)", GRAMMAR["repository"]["layers"]["match"]
    )
    assert listed is not None
    assert set(listed.group(1).split("|")) == names
    for name in sorted(names):
        for spelling in (name, name.upper()):
            scopes = tokenize(f"  {spelling}(1)\n")
            assert "support.function.layer.archc" in scopes[2], spelling
    assert "support.function.layer.archc" not in tokenize("  conv1d2\n")[2]


def _pygments_class(kind: Any) -> str:
    for parent, name in (
        (Comment, "comment"),
        (String, "string"),
        (Number, "number"),
        (Keyword, "keyword"),
        (Operator.Word, "keyword"),
        (Operator, "operator"),
        (Punctuation, "punctuation"),
        (Name.Builtin, "layer"),
        (Name.Class, "definition"),
        (Name.Function, "call"),
        (Name.Attribute, "argument"),
        (Name.Variable, "binding"),
        (Name, "name"),
        (Text, "punctuation"),  # the `\` of a line continuation
    ):
        if kind in parent:
            return name
    return str(kind)


def _textmate_class(scopes: tuple[str, ...]) -> str:
    for prefix, name in (
        ("comment.", "comment"),
        ("string.", "string"),
        ("constant.numeric.", "number"),
        ("keyword.operator.logical.", "keyword"),
        ("keyword.operator.", "operator"),
        ("keyword.", "keyword"),
        ("constant.language.", "keyword"),
        ("punctuation.", "punctuation"),
        ("support.function.layer.", "layer"),
        ("entity.name.type.", "definition"),
        ("entity.name.function.", "call"),
        ("variable.parameter.", "argument"),
        ("variable.other.tensor.", "binding"),
        ("variable.other.layer.", "binding"),
        ("variable.other.", "name"),
    ):
        # the outermost scope decides (a directive inside a comment is a comment)
        for scope in scopes:
            if scope.startswith(prefix):
                return name
    return "/".join(scopes)


@pytest.mark.parametrize(("where", "text"), SOURCES, ids=[where for where, _ in SOURCES])
def test_textmate_agrees_with_pygments(where: str, text: str) -> None:
    if where.startswith("README"):
        text = ELISION.sub("", text)
    scopes = tokenize(text)
    pygments_classes: list[str] = []
    for _, kind, value in ArchcLexer().get_tokens_unprocessed(text):
        pygments_classes.extend([_pygments_class(kind)] * len(value))
    differ = [
        (text.count("\n", 0, i) + 1, text[i], pygments_classes[i], _textmate_class(scopes[i]))
        for i in range(len(text))
        if not text[i].isspace() and pygments_classes[i] != _textmate_class(scopes[i])
    ]
    assert differ[:5] == [], where


def test_textmate_classes_of_a_sample() -> None:
    text = 'block B(c, k = 3) {  # archc: allow(pool-drops)\n  t := conv = Conv1d(c, k) | Other(1e-5) | cat(t, t, axis = c)\n  meta { s = "a\\"b" }\n}\n'
    scopes = tokenize(text)

    def at(fragment: str, nth: int = 0) -> str:
        index = -1
        for _ in range(nth + 1):
            index = text.index(fragment, index + 1)
        return _textmate_class(scopes[index])

    assert at("block") == "keyword"
    assert at("B") == "definition"
    assert at("k =") == "argument"
    assert at("archc:") == "comment"
    assert "keyword.other.directive.allow.archc" in scopes[text.index("archc:")]
    assert at("t :=") == "binding"
    assert at("conv =") == "binding"
    assert at("Conv1d") == "layer"
    assert at("Other") == "call"
    assert at("1e-5") == "number"
    assert at("cat") == "layer"
    assert at("axis") == "argument"
    assert at("|") == "operator"
    assert "constant.character.escape.archc" in scopes[text.index('\\"')]
    assert at("}") == "punctuation"


def test_a_loop_inside_a_merge_holds_statements() -> None:
    """`cat(for i in range(n) { convs = conv1d(...) }, dim = 1)`: in the loop's body, `name =`
    names a layer again (it is an argument only directly in the parentheses)."""
    text = "arch a(n = 2) {\n  cat(for i in range(n) { convs = conv1d(4, k[i], padding = 1) }, dim = 1)\n}\n"
    scopes = tokenize(text)
    pygments = [_pygments_class(kind) for _, kind, value in ArchcLexer().get_tokens_unprocessed(text)
                for _ in value]
    for fragment, wanted in [("convs", "binding"), ("padding", "argument"), ("dim", "argument"),
                             ("for", "keyword"), ("k[", "name"), ("[i", "punctuation")]:
        index = text.index(fragment)
        assert _textmate_class(scopes[index]) == wanted, fragment
        assert pygments[index] == wanted, fragment


# ---------------------------------------------------------------- the extension under node

HARNESS = r"""
const Module = require("module");
const calls = [];
class LanguageClient {
  constructor(id, name, server, client) { calls.push({ made: { id, name, server, client } }); }
  start() { calls.push("start"); return Promise.resolve(); }
  stop() { calls.push("stop"); return Promise.resolve(); }
  dispose() {}
}
const fakes = {
  vscode: { workspace: { getConfiguration: (section) => ({ get: (key) => (section === "archc" && key === "command" ? process.argv[3] : undefined) }) } },
  "vscode-languageclient/node": { LanguageClient, TransportKind: { stdio: 0, ipc: 1 } },
};
const load = Module._load;
Module._load = function (request, ...rest) { return request in fakes ? fakes[request] : load.call(this, request, ...rest); };
const extension = require(process.argv[2]);
const context = { subscriptions: [] };
Promise.resolve(extension.activate(context))
  .then(() => extension.deactivate())
  .then(() => console.log(JSON.stringify({ calls, subscriptions: context.subscriptions.length })));
"""


@pytest.mark.parametrize(("configured", "command"), [("", "archc"), (".venv/bin/archc", ".venv/bin/archc")])
def test_extension_starts_archc_lsp_over_stdio(tmp_path: Path, configured: str, command: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the extension was not run")
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS)
    done = subprocess.run(
        [node, str(harness), str(VSCODE / "extension.js"), configured],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    made, *rest = report["calls"]
    assert made["made"]["server"] == {"command": command, "args": ["lsp"], "transport": 0}
    assert {"scheme": "file", "language": "archc"} in made["made"]["client"]["documentSelector"]
    assert rest == ["start", "stop"]
    assert report["subscriptions"] == 1
