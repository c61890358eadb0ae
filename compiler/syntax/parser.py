"""Parse .arch text with the Lark grammar into the syntax tree, with friendly syntax errors."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import sys
import tempfile
from functools import lru_cache
from importlib import resources
from typing import Any

import lark
from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..core.diagnostics import CompileError, Diagnostic, Note, Severity
from ..core.source import Source, Span
from ..core.values import MAX_INT, MAX_SIZE
from . import tree as s

KEYWORDS = s.KEYWORDS


def _grammar_text() -> str:
    return resources.files("archc.grammar").joinpath("archc.lark").read_text(encoding="utf-8")


TABLES_FILE = "archc.tables.json"  # the grammar's parse tables, shipped beside it


def tables_key(text: str) -> dict[str, Any]:
    """What shipped tables must match: the grammar, the options and Lark's version."""
    return {
        "grammar_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "options": sorted(_LARK_OPTIONS.items()),
        "lark": lark.__version__,
    }


def _encode(value: Any) -> Any:
    """JSON for Lark's serialized tables: dicts with non-string keys become item lists."""
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _encode(v) for k, v in value.items()}
        return {"__items__": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "__items__" in value:
            return {_decode(k): _decode(v) for k, v in value["__items__"]}
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def tables_json(parser: Lark, text: str) -> str:
    """The shipped form of a parser's tables (scripts/build_tables.py writes it)."""
    from lark.grammar import Rule
    from lark.lexer import TerminalDef

    data, memo = parser.memo_serialize([TerminalDef, Rule])
    return json.dumps({"key": tables_key(text), "tables": _encode({"data": data, "memo": memo})}) + "\n"


def _shipped(text: str) -> Lark | None:
    """The parser from the shipped tables, if they were built from this grammar by this Lark.

    They spare a first run (or a run without a cache directory) building the tables, which
    costs about twice as much as loading them. The file is JSON, not a pickle: it is read
    as data only.
    """
    try:
        shipped = json.loads(resources.files("archc.grammar").joinpath(TABLES_FILE).read_text("utf-8"))
        if shipped.get("key") != json.loads(json.dumps(tables_key(text))):
            return None
        return Lark.load(_decode(shipped["tables"]))
    except Exception:  # missing, stale or unreadable: build the tables instead
        return None


_LARK_OPTIONS: dict[str, Any] = {"parser": "lalr", "propagate_positions": True, "maybe_placeholders": True}


def _cache_dir() -> str | None:
    """A private per-user directory for the parse tables, or None.

    The tables are a pickle: they are only read from a directory this user owns
    and nobody else can write to.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "archc")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.stat(path)
    except OSError:
        return None
    private = info.st_uid == os.getuid() and not info.st_mode & 0o022
    return path if private and os.access(path, os.W_OK) else None


@lru_cache(maxsize=1)
def _parser() -> Lark:
    """The LALR parser; its tables are built once per grammar, then loaded from a cache.

    Building them costs ~100 ms, loading ~10-30 ms. The cache file is keyed by the
    grammar, the options and the Lark and Python versions, and written atomically
    (a temporary file renamed into place), so concurrent runs never read half a file.
    Without a cache, the tables shipped with the grammar are loaded when they match it;
    only when neither fits are they built.
    """
    text = _grammar_text()
    key = repr((text, sorted(_LARK_OPTIONS.items()), lark.__version__, sys.version_info[:2]))
    directory = _cache_dir()
    path = None
    if directory is not None:
        digest = hashlib.sha256(key.encode()).hexdigest()[:20]
        path = os.path.join(directory, f"grammar-{digest}.pickle")
        try:
            with open(path, "rb") as handle:
                return Lark.load(handle)
        except Exception:  # a missing or damaged cache is rebuilt, never fatal
            pass
    parser = _shipped(text) or Lark(text, **_LARK_OPTIONS)
    if path is not None:
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".grammar-", dir=os.path.dirname(path))
            with os.fdopen(fd, "wb") as handle:
                parser.save(handle)
            os.replace(tmp, path)
        except OSError:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
    return parser


_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t"}


def unescape(text: str) -> str:
    """Undo the escapes a string literal may hold: \\ \" \n \t."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append(_ESCAPES.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _span(meta: Any) -> Span:
    if getattr(meta, "empty", False):
        return Span(0, 0)
    return Span(meta.start_pos, meta.end_pos)


def _tspan(tok: Token) -> Span:
    start = tok.start_pos or 0
    end = tok.end_pos if tok.end_pos is not None else start + len(tok)
    return Span(start, end)


class _LiteralError(Exception):
    """A literal no later stage can hold (raised while building the tree)."""

    def __init__(self, span: Span, message: str, help: str | None = None) -> None:
        super().__init__(message)
        self.span, self.message, self.help = span, message, help


# Control characters other than tab: XML cannot carry them, and no model needs them.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _whole(tok: Token) -> int:
    text = str(tok)
    # Checked before int(): Python refuses to convert more than 4,300 digits.
    if len(text.lstrip("0")) > 19 or int(text) > MAX_INT:
        raise _LiteralError(
            _tspan(tok),
            "this number does not fit in a 64-bit integer",
            f"sizes are at most {MAX_SIZE:,}",
        )
    return int(text)


def _bin(op: str) -> Any:
    """A transformer method for one binary operator."""

    def rule(self: Any, meta: Any, c: list[Any]) -> s.BinOp:
        return s.BinOp(op, c[0], c[1], _span(meta))

    return rule


@v_args(meta=True)
class _ToSyntax(Transformer[Token, Any]):
    """One grammar rule, one syntax node."""

    # expressions
    def int(self, meta: Any, c: list[Token]) -> s.Int:
        return s.Int(_whole(c[0]), _tspan(c[0]))

    def float(self, meta: Any, c: list[Token]) -> s.Float:
        value = float(c[0])
        if not math.isfinite(value):
            raise _LiteralError(_tspan(c[0]), "this number is too large for a 64-bit float")
        return s.Float(value, _tspan(c[0]))

    def string(self, meta: Any, c: list[Token]) -> s.Str:
        text = str(c[0])
        bad = _CONTROL.search(text)
        if bad is not None:
            start = _tspan(c[0]).start + bad.start()
            raise _LiteralError(
                Span(start, start + 1),
                f"a string cannot hold the control character U+{ord(bad.group()):04X}",
                'write \\n for a new line and \\t for a tab; other control characters are refused',
            )
        return s.Str(unescape(text[1:-1]), _tspan(c[0]))

    def true(self, meta: Any, c: list[Any]) -> s.Bool:
        return s.Bool(True, _span(meta))

    def false(self, meta: Any, c: list[Any]) -> s.Bool:
        return s.Bool(False, _span(meta))

    def none(self, meta: Any, c: list[Any]) -> s.NoneLit:
        return s.NoneLit(_span(meta))

    def var(self, meta: Any, c: list[Token]) -> s.Var:
        return s.Var(str(c[0]), _tspan(c[0]))

    add = _bin("+")
    sub = _bin("-")
    mul = _bin("*")
    div = _bin("/")
    floordiv = _bin("//")
    mod = _bin("%")
    pow = _bin("**")
    and_ = _bin("and")
    or_ = _bin("or")

    def compare(self, meta: Any, c: list[Any]) -> s.BinOp:
        return s.BinOp(str(c[1]), c[0], c[2], _span(meta))

    def not_(self, meta: Any, c: list[Any]) -> s.Not:
        return s.Not(c[0], _span(meta))

    def neg(self, meta: Any, c: list[Any]) -> s.Expr:
        if isinstance(c[0], s.Int):
            return s.Int(-c[0].value, _span(meta))
        if isinstance(c[0], s.Float):
            return s.Float(-c[0].value, _span(meta))
        return s.Neg(c[0], _span(meta))

    def index(self, meta: Any, c: list[Any]) -> s.Index:
        return s.Index(c[0], c[1], _span(meta))

    def tuple_expr(self, meta: Any, c: list[Any]) -> s.TupleExpr:
        return s.TupleExpr(tuple(x for x in c if x is not None), _span(meta))

    # metadata
    def entry(self, meta: Any, c: list[Any]) -> s.MetaEntry:
        return s.MetaEntry(str(c[0]), c[1], _span(meta))

    def mapping(self, meta: Any, c: list[Any]) -> s.MetaMap:
        return s.MetaMap(tuple(x for x in c if isinstance(x, s.MetaEntry)), _span(meta))

    def mlist(self, meta: Any, c: list[Any]) -> s.MetaList:
        return s.MetaList(tuple(x for x in c if x is not None), _span(meta))

    def meta_stmt(self, meta: Any, c: list[Any]) -> s.MetaStmt:
        return s.MetaStmt(c[0], _span(meta))

    # statements
    def kwarg(self, meta: Any, c: list[Any]) -> s.Arg:
        return s.Arg(str(c[0]), c[1], _span(meta))

    def sizearg(self, meta: Any, c: list[Any]) -> s.Arg:
        return s.Arg(None, c[1], _span(meta), size_in=c[0])

    def posarg(self, meta: Any, c: list[Any]) -> s.Arg:
        return s.Arg(None, c[0], _span(meta))

    def args(self, meta: Any, c: list[Any]) -> tuple[s.Arg, ...]:
        return tuple(x for x in c if x is not None)

    def ref(self, meta: Any, c: list[Token]) -> s.Ref:
        return s.Ref(str(c[0]), _tspan(c[0]))

    def entry_ref(self, meta: Any, c: list[Token]) -> s.Ref:
        return s.Ref(f"{c[0]}.{c[1]}", _tspan(c[0]).cover(_tspan(c[1])))

    def call(self, meta: Any, c: list[Any]) -> s.Call:
        return s.Call(str(c[0]), c[1] or (), _span(meta), _tspan(c[0]))

    def gather(self, meta: Any, c: list[Any]) -> s.Call:
        return s.Call(str(c[0]), c[2] or (), _span(meta), _tspan(c[0]), over=c[1])

    def seq(self, meta: Any, c: list[Any]) -> s.Seq:
        return s.Seq(c[0], _span(meta))

    def residual(self, meta: Any, c: list[Any]) -> s.Residual:
        return s.Residual(c[0], _span(meta), c[1])

    def cond(self, meta: Any, c: list[Any]) -> s.Cond:
        return s.Cond(c[0], c[1], c[2], _span(meta))

    def repeat(self, meta: Any, c: list[Any]) -> s.Repeat:
        return s.Repeat(c[0], c[1], _span(meta), c[1].span)

    def named(self, meta: Any, c: list[Any]) -> s.Step:
        return s.Step(str(c[0]), c[1], _span(meta), _tspan(c[0]))

    def named_entry(self, meta: Any, c: list[Any]) -> s.Step:
        span = _tspan(c[0]).cover(_tspan(c[1]))
        return s.Step(f"{c[0]}.{c[1]}", c[2], _span(meta), span)

    def unnamed(self, meta: Any, c: list[Any]) -> s.Step:
        return s.Step(None, c[0], _span(meta))

    def chain(self, meta: Any, c: list[Any]) -> s.Chain:
        return s.Chain(tuple(x for x in c if isinstance(x, s.Step)), _span(meta))

    def axis(self, meta: Any, c: list[Any]) -> s.Axis:
        return s.Axis(str(c[0]), c[1], _span(meta))

    def input_stmt(self, meta: Any, c: list[Any]) -> s.InputStmt:
        name = c[0]
        return s.InputStmt(
            tuple(x for x in c[1:] if isinstance(x, s.Axis)),
            _span(meta),
            None if name is None else str(name),
            None if name is None else _tspan(name),
        )

    def bind_stmt(self, meta: Any, c: list[Any]) -> s.BindStmt:
        return s.BindStmt(str(c[0]), c[1], _span(meta), _tspan(c[0]))

    def return_stmt(self, meta: Any, c: list[Any]) -> s.ReturnStmt:
        names = tuple((str(tok), _tspan(tok)) for tok in c if tok is not None)
        return s.ReturnStmt(names, _span(meta))

    def return_dict(self, meta: Any, c: list[Any]) -> s.ReturnStmt:
        entries = [e for e in c if e is not None]
        return s.ReturnStmt(tuple(n for _, n in entries), _span(meta), tuple(k for k, _ in entries))

    def out_entry(self, meta: Any, c: list[Token]) -> tuple[tuple[str, Span], tuple[str, Span]]:
        key, name = c
        text = self.string(meta, [key]).value if key.type == "STRING" else str(key)
        return (text, _tspan(key)), (str(name), _tspan(name))

    def loop(self, meta: Any, c: list[Any]) -> s.For:
        bounds = tuple(x for x in c[1:-1] if x is not None)
        return s.For(str(c[0]), _tspan(c[0]), bounds, c[-1], _span(meta))

    def let_stmt(self, meta: Any, c: list[Any]) -> s.LetStmt:
        return s.LetStmt(str(c[0]), c[1], _span(meta), _tspan(c[0]))

    def body(self, meta: Any, c: list[Any]) -> tuple[s.Stmt, ...]:
        return tuple(x for x in c if x is not None)

    def param(self, meta: Any, c: list[Any]) -> s.Param:
        return s.Param(str(c[0]), c[1], _span(meta))

    def params(self, meta: Any, c: list[Any]) -> tuple[s.Param, ...]:
        return tuple(x for x in c if x is not None)

    def arch(self, meta: Any, c: list[Any]) -> s.ArchDef:
        return s.ArchDef(str(c[0]), c[1] or (), c[2], _span(meta), _tspan(c[0]))

    def block(self, meta: Any, c: list[Any]) -> s.BlockDef:
        return s.BlockDef(str(c[0]), c[1] or (), c[2], _span(meta), _tspan(c[0]))

    def start(self, meta: Any, c: list[Any]) -> s.File:
        items = [x for x in c if x is not None]
        return s.File(
            tuple(x for x in items if isinstance(x, s.ArchDef)),
            tuple(x for x in items if isinstance(x, s.BlockDef)),
        )


# ------------------------------------------------------------------ syntax errors

_TOKEN_WORDS = {
    "NAME": "a name",
    "INT": "a whole number",
    "FLOAT": "a number",
    "STRING": 'a string in "double quotes"',
    "_NL": "a new line",
    "PIPE": "`|`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "EQUAL": "`=`",
    "COLON": "`:`",
    "STAR": "`*`",
    "SLASH": "`/`",
    "PLUS": "`+`",
    "MINUS": "`-`",
    "PERCENT": "`%`",
    "$END": "the end of the file",
}


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "_NL":
        return "the end of the line"
    if tok.type == "PIPE":
        return "`|`"
    if tok.type == "NAME":
        return f"the name `{tok}`"
    if tok.type in ("INT", "FLOAT"):
        return f"the number `{tok}`"
    if tok.type == "STRING":
        return f"the string {tok}"
    return f"`{tok}`"


def _describe_expected(names: set[str], parser: Lark) -> str:
    words: list[str] = []
    for name in sorted(names):
        if name in _TOKEN_WORDS:
            word = _TOKEN_WORDS[name]
        else:
            try:
                pattern = parser.get_terminal(name).pattern
                word = f"`{pattern.value}`" if pattern.type == "str" else name.lower()
            except KeyError:
                word = name.lower()
        if word not in words:
            words.append(word)
    # Keywords are listed last; punctuation and names first read better.
    words.sort(key=lambda w: (w.startswith("`") and w[1:-1].isalpha(), w))
    if len(words) > 6:
        words = [*words[:6], "..."]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _syntax_error(src: Source, err: UnexpectedInput, parser: Lark) -> Diagnostic:
    help_text: str | None = None
    notes: list[Note] = []
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        ch = src.text[pos] if pos < len(src.text) else ""
        span = Span(pos, pos + 1)
        if ch == '"':
            message = "this string is not closed on its line"
            help_text = 'strings are written in double quotes on one line: "same"'
        elif ch == "'":
            message = "strings take double quotes, not single quotes"
            help_text = "write \"...\" instead of '...'"
        else:
            message = f"unexpected character `{ch}`"
            if err.allowed:
                help_text = f"expected {_describe_expected(set(err.allowed), parser)} here"
        return Diagnostic(
            Severity.ERROR, "syntax", message, src, span, "not valid here", (), help_text
        )
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END":
            pos = len(src.text.rstrip())
            span = Span(max(0, pos - 1), pos)
        else:
            span = _tspan(tok)
            if tok.type in ("_NL", "PIPE") and src.text[span.start : span.end].strip() == "":
                span = Span(span.start, span.start + 1)
        expected = set(err.accepts or err.expected)
        found = _describe_token(tok)
        if tok.type == "$END" and "RBRACE" in expected:
            message = "the file ends inside a `{ ... }`: a `}` is missing"
            opening = _unclosed_brace(src.text)
            if opening is not None:
                notes.append(Note("this `{` is never closed", Span(opening, opening + 1)))
            help_text = "add the missing `}`"
        elif tok.type == "NAME" and str(tok) in KEYWORDS:
            message = f"`{tok}` is a reserved word and cannot stand here"
            help_text = f"expected {_describe_expected(expected, parser)}"
        elif tok.type == "RBRACE" and "RBRACE" not in expected:
            message = "unexpected `}`"
            help_text = f"expected {_describe_expected(expected, parser)} before it"
        else:
            message = f"expected {_describe_expected(expected, parser)}, found {found}"
        if tok.type == "NAME" and "_NL" in expected and "PIPE" in expected:
            help_text = "put each step on its own line, or join steps with `|`"
        if tok.type == "EQUAL" and "RPAR" in expected:
            help_text = "keyword arguments are written `name = value` after the name of a parameter"
        return Diagnostic(Severity.ERROR, "syntax", message, src, span, "", tuple(notes), help_text)
    if isinstance(err, UnexpectedEOF):
        pos = len(src.text)
        return Diagnostic(
            Severity.ERROR, "syntax", "unexpected end of file", src, Span(max(0, pos - 1), pos)
        )
    raise err  # pragma: no cover - Lark has no other kinds


def _unclosed_brace(text: str) -> int | None:
    stack: list[int] = []
    in_comment = in_string = False
    for i, ch in enumerate(text):
        if in_comment:
            in_comment = ch != "\n"
        elif in_string:
            in_string = ch not in '"\n'
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch == "{":
            stack.append(i)
        elif ch == "}" and stack:
            stack.pop()
    return stack[-1] if stack else None


def parse(src: Source) -> s.File:
    """Parse a source into its syntax tree; a syntax error raises CompileError."""
    parser = _parser()
    try:
        tree = parser.parse(src.text)
    except UnexpectedInput as err:
        raise CompileError(_syntax_error(src, err, parser)) from None
    _check_depth(src, tree)
    try:
        result: s.File = _to_syntax(tree)
    except _LiteralError as err:
        raise CompileError(
            Diagnostic(Severity.ERROR, "bad-value", err.message, src, err.span, "", (), err.help)
        ) from None
    return result


def _to_syntax(tree: Tree[Token]) -> Any:
    """`_ToSyntax().transform(tree)` without Lark's per-node method wrapping, which costs
    half the time of a transform (0.7 s for a 10,000-layer chain). _check_depth bounds
    the recursion."""
    rules = _ToSyntax()
    own = vars(_ToSyntax)
    methods: dict[str, Any] = {}

    def visit(node: Any) -> Any:
        if not isinstance(node, Tree):
            return node
        children = [visit(child) for child in node.children]
        if node.data not in own:
            return Tree(node.data, children, node.meta)
        method = methods.get(node.data)
        if method is None:
            method = methods[node.data] = getattr(rules, node.data)  # v_args(meta=True)
        return method(node.meta, children)

    return visit(tree)


MAX_DEPTH = 100  # far beyond real architectures; keeps every later recursive pass safe


def _check_depth(src: Source, tree: Tree[Token]) -> None:
    """Refuse absurdly deep nesting before any recursive pass sees it."""
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            start = 0 if getattr(meta, "empty", True) else int(getattr(meta, "start_pos", 0) or 0)
            raise CompileError(
                Diagnostic(
                    Severity.ERROR,
                    "too-deep",
                    f"nesting is deeper than {MAX_DEPTH} levels",
                    src,
                    Span(start, start + 1),
                    help="flatten the expression or the groups",
                )
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
