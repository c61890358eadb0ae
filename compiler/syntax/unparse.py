"""Write a syntax tree back as .arch text: the one printer of the importers and of `archc fmt`.

Without a source text (the importers) the layout follows from the tree alone. With one
(`syntax.fmt`), the printer also puts every comment back at its place and keeps the line
breaks the author chose between steps, arguments, entries and statements; it adds breaks
only where a line would be too long. Both paths share every layout rule, so formatting
what an importer wrote changes nothing.

Comments live in the gaps of a list: between the opener (`(`, `{`, `[`) and the first
element, between two elements, and before the closer; at file level between items. The
grammar allows a line break, hence a comment, nowhere else (a `#` ends the line, so no
comment can stand before a `\\` continuation).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.pysafe import IDENTIFIER, comment
from ..core.source import Span
from . import tree as s

# Binding strength as in the grammar: `or` < `and` < `not` < comparisons < + - < * / // % < **;
# 3 is a unary minus, 5 a primary (what `**` takes on its left and `*` as a repeat count).
_PRECEDENCE = {
    "or": -3,
    "and": -2,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), 0),
    "+": 1,
    "-": 1,
    "*": 2,
    "/": 2,
    "//": 2,
    "%": 2,
    "**": 4,
}
_COND = -3  # where it takes `cond_expr` (`let`, defaults, `if`): anything goes without parentheses
_ARITH = 1  # where the grammar takes `expr` (arguments, sizes, tuple items): no bare comparison
_UNARY = 3
_PRIMARY = 5
WIDTH = 110  # longest line the printer makes on its own (a long expression may exceed it)
INDENT = "    "
_FLOAT = re.compile(r"-?([0-9]+\.[0-9]*([eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+|\.[0-9]+([eE][-+]?[0-9]+)?)")
# A line break that ends a line (a `\`-continued line is one line for the grammar).
_BREAK = re.compile(r"(?<!\\)\r?\n")
_BLANK = re.compile(r"\n[ \t\f\r]*\n")
_ALLOW = re.compile(r"#[ \t]*archc:[ \t]*allow[ \t]*\(")  # as core.allow reads it; not allow-file


def _key(text: str) -> str:
    """A dict key of `return {...}`: bare when it reads as a name, else quoted."""
    return text if IDENTIFIER.fullmatch(text) and text not in s.KEYWORDS else quote(text)


def quote(text: str) -> str:
    """A string literal; every character that could end or break it is escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    escaped = "".join(ch if ch.isprintable() else " " for ch in escaped)
    return f'"{escaped}"'


@dataclass(frozen=True, slots=True)
class Comment:
    """A `#` comment of the source; `trailing` when code precedes it on its line."""

    start: int
    end: int
    text: str
    trailing: bool


@dataclass(frozen=True, slots=True)
class _Own:
    """A comment on a line of its own, and whether a blank line precedes it."""

    comment: Comment
    blank: bool


@dataclass(frozen=True, slots=True)
class _Gap:
    """What the source holds between two elements of a list."""

    trailing: Comment | None  # ends the line of what precedes the gap
    own: tuple[_Own, ...]  # then these, each on its own line
    blank: bool  # a blank line right before what follows
    newline: bool  # the author broke the line here

    @property
    def has_comments(self) -> bool:
        return self.trailing is not None or bool(self.own)


_EMPTY = _Gap(None, (), False, False)


def _fits(text: str, col: int, width: int = WIDTH) -> bool:
    lines = text.split("\n")
    return col + len(lines[0]) <= width and all(len(line) <= width for line in lines[1:])


def _last_col(text: str, col: int) -> int:
    """The column after `text` when it starts at `col`."""
    _, sep, tail = text.rpartition("\n")
    return len(tail) if sep else col + len(tail)


class Printer:
    """Prints syntax trees; with `text` and `comments`, those of the source they came from."""

    def __init__(self, text: str | None = None, comments: Sequence[Comment] = ()) -> None:
        self.text = text
        self.comments = tuple(comments)
        self._starts = [c.start for c in self.comments]
        self.used: set[int] = set()  # starts of the comments printed so far
        self._flat_memo: dict[int, str | None] = {}
        self.width = WIDTH  # unbounded while printing a statement an allow comment covers

    def _fits(self, text: str, col: int) -> bool:
        return _fits(text, col, self.width)

    # ------------------------------------------------------------ source positions

    def _find(self, pos: int, ch: str) -> int:
        """The next `ch` at or after `pos` outside strings and comments."""
        assert self.text is not None
        text, i = self.text, pos
        while i < len(text):
            c = text[i]
            if c == ch:
                return i
            if c == "#":
                i = text.find("\n", i)
                if i < 0:
                    break
            elif c == '"':
                i += 1
                while i < len(text) and text[i] != '"':
                    i += 2 if text[i] == "\\" else 1
            i += 1
        raise ValueError(f"no {ch!r} after offset {pos}")  # the tree and the text disagree

    def _gaps(self, lo: int, spans: Sequence[Span], hi: int) -> list[_Gap]:
        """The gaps of a list from `lo` (after its opener) to `hi` (its closer): one before
        each element and one after the last."""
        if self.text is None:
            return [_EMPTY] * (len(spans) + 1)
        bounds = [lo, *(x for sp in spans for x in (sp.start, sp.end)), hi]
        return [self._gap(bounds[2 * i], bounds[2 * i + 1]) for i in range(len(spans) + 1)]

    def _gap(self, a: int, b: int) -> _Gap:
        assert self.text is not None
        first = bisect.bisect_left(self._starts, a)
        last = bisect.bisect_left(self._starts, b)
        found = self.comments[first:last]
        trailing = None
        own: list[_Own] = []
        prev = a
        for c in found:
            self.used.add(c.start)
            if c.trailing and trailing is None and not own:
                trailing = c
            else:
                own.append(_Own(c, bool(_BLANK.search(self.text, prev, c.start))))
            prev = c.end
        return _Gap(
            trailing,
            tuple(own),
            bool(_BLANK.search(self.text, prev, b)),
            bool(_BREAK.search(self.text[a:b])),
        )

    # ------------------------------------------------------------ expressions

    def expr(self, e: s.Expr, parent: int = 0) -> str:
        """An expression, in parentheses where the place it stands binds tighter."""
        if isinstance(e, s.Int):
            return f"({e.value})" if e.value < 0 and parent > _UNARY else str(e.value)
        if isinstance(e, s.Float):
            text = repr(e.value)
            if self.text is not None:  # keep the author's spelling: 1e-3 stays 1e-3
                raw = re.sub(r"\s+", "", self.text[e.span.start : e.span.end])
                if _FLOAT.fullmatch(raw) and float(raw) == e.value:
                    text = raw
            return f"({text})" if text.startswith("-") and parent > _UNARY else text
        if isinstance(e, s.Str):
            if self.text is not None:  # the literal exactly as written
                return self.text[e.span.start : e.span.end]
            return quote(e.value)
        if isinstance(e, s.Bool):
            return "true" if e.value else "false"
        if isinstance(e, s.NoneLit):
            return "none"
        if isinstance(e, s.Var):
            return e.name
        if isinstance(e, s.Neg):
            text = f"-{self.expr(e.operand, _UNARY)}"
            return f"({text})" if parent > _UNARY else text
        if isinstance(e, s.Not):
            text = f"not {self.expr(e.operand, -1)}"
            return f"({text})" if parent > -1 else text
        if isinstance(e, s.Index):
            return f"{self.expr(e.value, _PRIMARY)}[{self.expr(e.index, _ARITH)}]"
        if isinstance(e, s.TupleExpr):
            inner = ", ".join(self.expr(i, _ARITH) for i in e.items)
            return f"({inner},)" if len(e.items) == 1 else f"({inner})"
        prec = _PRECEDENCE[e.op]
        if e.op == "**":  # right-associative; its left operand is a primary
            text = f"{self.expr(e.left, _PRIMARY)} ** {self.expr(e.right, _UNARY)}"
        elif prec == 0:  # comparisons do not chain
            text = f"{self.expr(e.left, 1)} {e.op} {self.expr(e.right, 1)}"
        else:
            text = f"{self.expr(e.left, prec)} {e.op} {self.expr(e.right, prec + 1)}"
        return f"({text})" if prec < parent else text

    # ------------------------------------------------------------ lists with comments

    def _listing(
        self,
        opener: str,
        items: Sequence[tuple[Span, str]],
        gaps: Sequence[_Gap],
        indent: str,
        closer: str,
        sep: str,
    ) -> str:
        """One element a line between `opener` and `closer`, comments where they were."""
        inner = indent + INDENT
        out = [opener + self._trail(gaps[0])]
        for i, (_, text) in enumerate(items):
            out.extend(self._own(gaps[i], inner, keep_blank=False))
            out.append(inner + text + sep + self._trail(gaps[i + 1]))
        out.extend(self._own(gaps[-1], inner, keep_blank=False))
        out.append(indent + closer)
        return "\n".join(out)

    def _trail(self, gap: _Gap) -> str:
        return "" if gap.trailing is None else "  " + gap.trailing.text

    def _own(self, gap: _Gap, indent: str, keep_blank: bool, first: bool = False) -> list[str]:
        out: list[str] = []
        for k, own in enumerate(gap.own):
            if keep_blank and own.blank and not (first and k == 0):
                out.append("")
            out.append(indent + own.comment.text)
        return out

    # ------------------------------------------------------------ metadata

    def meta_value(self, v: s.MetaValue, indent: str, col: int) -> str:
        if isinstance(v, s.MetaMap):
            return self.mapping(v, indent, col)
        if isinstance(v, s.MetaList):
            return self.mlist(v, indent, col)
        return self.expr(v, _ARITH)

    def mapping(self, m: s.MetaMap, indent: str, col: int) -> str:
        gaps = self._gaps(m.span.start + 1, [e.span for e in m.entries], m.span.end - 1)
        inner = indent + INDENT
        flat = self._flat_meta(m)
        if flat is not None and self._fits(flat, col):
            return flat
        items = []
        for e in m.entries:
            head = f"{e.key} = "
            items.append((e.span, head + self.meta_value(e.value, inner, len(inner) + len(head))))
        return self._listing("{", items, gaps, indent, "}", "")

    def mlist(self, v: s.MetaList, indent: str, col: int) -> str:
        spans = [_value_span(i) for i in v.items]
        gaps = self._gaps(v.span.start + 1, spans, v.span.end - 1)
        inner = indent + INDENT
        flat = self._flat_meta(v)
        if flat is not None and self._fits(flat, col):
            return flat
        items = [(sp, self.meta_value(i, inner, len(inner))) for sp, i in zip(spans, v.items, strict=True)]
        return self._listing("[", items, gaps, indent, "]", ",")

    # ------------------------------------------------------------ one-line forms

    # What a construct looks like on one line, or None when it must break whatever the
    # width: a comment or an author's line break inside it, several statements in a body,
    # a mapping holding a mapping. Layout asks these first, so each node is printed in
    # full only once (trying both layouts at every level would be exponential in depth).

    def _broken(self, gaps: Sequence[_Gap]) -> bool:
        return any(g.has_comments or g.newline for g in gaps)

    def _flat_meta(self, v: s.MetaValue) -> str | None:
        if isinstance(v, s.MetaMap):
            gaps = self._gaps(v.span.start + 1, [e.span for e in v.entries], v.span.end - 1)
            if self._broken(gaps) or any(isinstance(e.value, s.MetaMap) for e in v.entries):
                return None
            parts = []
            for e in v.entries:
                value = self._flat_meta(e.value)
                if value is None:
                    return None
                parts.append(f"{e.key} = {value}")
            return "{ " + ", ".join(parts) + " }" if parts else "{}"
        if isinstance(v, s.MetaList):
            if self._broken(self._gaps(v.span.start + 1, [_value_span(i) for i in v.items], v.span.end - 1)):
                return None
            items = [self._flat_meta(i) for i in v.items]
            if any(i is None for i in items):
                return None
            return "[" + ", ".join(i for i in items if i is not None) + "]"
        return self.expr(v, _ARITH)

    def _flat_body(self, stmts: Sequence[s.Stmt], lo: int, hi: int) -> str | None:
        gaps = self._gaps(lo + 1, [x.span for x in stmts], hi)
        if any(g.has_comments for g in gaps):
            return None
        if not stmts:
            return "{}"
        if len(stmts) != 1 or not isinstance(stmts[0], s.Chain) or gaps[0].newline or gaps[1].newline:
            return None
        inner = self._flat_chain(stmts[0])
        return None if inner is None else "{ " + inner + " }"

    def _flat_chain(self, c: s.Chain) -> str | None:
        steps = c.steps
        if self._broken(self._gaps(steps[0].span.end, [x.span for x in steps[1:]], steps[-1].span.end)[:-1]):
            return None
        parts = [self._flat_step(st) for st in steps]
        if any(p is None for p in parts):
            return None
        return " | ".join(p for p in parts if p is not None)

    def _flat_step(self, st: s.Step) -> str | None:
        key = id(st)
        if key not in self._flat_memo:
            term = self._flat_term(st.term)
            self._flat_memo[key] = None if term is None else (f"{st.name} = " if st.name else "") + term
        return self._flat_memo[key]

    def _flat_term(self, t: s.Term) -> str | None:
        if isinstance(t, s.Ref):
            return t.name
        if isinstance(t, s.Call) and t.over is not None:
            loop = self._flat_term(t.over)
            if loop is None:
                return None
            return f"{t.name}({', '.join([loop, *(self.arg(a) for a in t.args)])})"
        if isinstance(t, s.Call):
            lo = self._find(t.name_span.end, "(") + 1 if self.text is not None else 0
            if self._broken(self._gaps(lo, [a.span for a in t.args], t.span.end - 1)):
                return None
            return f"{t.name}({', '.join(self.arg(a) for a in t.args)})"
        if isinstance(t, s.Repeat):
            inner = self._flat_term(t.term)
            return None if inner is None else f"{inner} * {self.expr(t.count, _PRIMARY)}"
        bodies = self._bodies(t)
        flats = [self._flat_body(stmts, lo, hi) for stmts, lo, hi in bodies]
        if any(f is None for f in flats):
            return None
        if isinstance(t, s.Cond):
            text = f"if {self.expr(t.cond, _COND)} {flats[0]}"
            return text if len(flats) == 1 else f"{text} else {flats[1]}"
        if isinstance(t, s.For):
            bounds = ", ".join(self.expr(b, _ARITH) for b in t.range_args)
            return f"for {t.var} in range({bounds}) {flats[0]}"
        if isinstance(t, s.Residual):
            text = f"residual {flats[0]}"
            return text if len(flats) == 1 else f"{text} shortcut {flats[1]}"
        return f"seq {flats[0]}"

    def _bodies(self, t: s.Cond | s.For | s.Residual | s.Seq) -> list[tuple[tuple[s.Stmt, ...], int, int]]:
        """The bodies of a term, each with the offsets of its `{` and `}`."""
        if isinstance(t, s.Cond):
            lo = self._open(t.cond.span.end)
            if t.orelse is None:
                return [(t.then, lo, t.span.end - 1)]
            end = self._body_end(t.then, lo)
            return [(t.then, lo, end), (t.orelse, self._open(end + 1), t.span.end - 1)]
        if isinstance(t, s.For):
            return [(t.body, self._open(t.range_args[-1].span.end), t.span.end - 1)]
        if isinstance(t, s.Residual):
            lo = self._open(t.span.start + len("residual"))
            if t.shortcut is None:
                return [(t.body, lo, t.span.end - 1)]
            end = self._body_end(t.body, lo)
            return [(t.body, lo, end), (t.shortcut, self._open(end + 1), t.span.end - 1)]
        return [(t.body, self._open(t.span.start + len("seq")), t.span.end - 1)]

    # ------------------------------------------------------------ steps and statements

    def arg(self, a: s.Arg) -> str:
        value = self.expr(a.value, _ARITH)
        if a.size_in is not None:
            value = f"{self.expr(a.size_in, _ARITH)} -> {value}"
        return f"{a.name} = {value}" if a.name else value

    def _call_list(
        self,
        head: str,
        opener_end: int,
        spans: Sequence[Span],
        texts: Sequence[str],
        closer: int,
        indent: str,
        col: int,
        tail: str = "",
    ) -> str:
        """`head(a, b)tail` on one line when it fits and the author kept it on one, else
        one element a line with a trailing comma (the grammar's rule for a broken list)."""
        gaps = self._gaps(opener_end, spans, closer)
        flat = f"{head}({', '.join(texts)})"
        if not any(g.has_comments or g.newline for g in gaps) and self._fits(flat + tail, col):
            return flat
        if not texts and not any(g.has_comments for g in gaps):
            return flat
        return self._listing(head + "(", list(zip(spans, texts, strict=True)), gaps, indent, ")", ",")

    def body(
        self,
        stmts: Sequence[s.Stmt],
        lo: int,
        hi: int,
        indent: str,
        col: int,
        multi: bool = False,
        tail: str = "",
    ) -> str:
        """`{ chain }` when the body is one short chain written on one line (with `tail`, what
        follows it on that line), else one statement a line. `lo` is the offset of `{`, `hi`
        that of `}`."""
        gaps = self._gaps(lo + 1, [x.span for x in stmts], hi)
        if not multi:
            flat = self._flat_body(stmts, lo, hi)
            if flat is not None and self._fits(flat + tail, col):
                return flat
        inner = indent + INDENT
        out = ["{" + self._trail(gaps[0])]
        for i, x in enumerate(stmts):
            out.extend(self._own(gaps[i], inner, keep_blank=True, first=i == 0))
            if gaps[i].blank and (i > 0 or gaps[i].own):
                out.append("")
            out.append(inner + self._covered_stmt(x, gaps[i], gaps[i + 1], inner) + self._trail(gaps[i + 1]))
        out.extend(self._own(gaps[-1], inner, keep_blank=True, first=not stmts))
        out.append(indent + "}")
        return "\n".join(out)

    def _covered_stmt(self, x: s.Stmt, before: _Gap, after: _Gap, indent: str) -> str:
        """A statement; one an `# archc: allow(...)` covers gets no line break of the printer's
        own, so each of its lines keeps the code it had and the comment the warnings it covers
        (it covers its own line, or the next line when it stands alone)."""
        near = [o.comment.text for o in before.own]
        if after.trailing is not None:
            near.append(after.trailing.text)
        if self.text is not None:
            first = bisect.bisect_left(self._starts, x.span.start)
            near += [c.text for c in self.comments[first : bisect.bisect_left(self._starts, x.span.end)]]
        if not any(_ALLOW.search(text) for text in near):
            return self.stmt(x, indent, len(indent))
        width, self.width = self.width, 1 << 30
        try:
            return self.stmt(x, indent, len(indent))
        finally:
            self.width = width

    def _body_end(self, stmts: Sequence[s.Stmt], lo: int) -> int:
        """The offset of the `}` that closes a body opened at `lo`."""
        if self.text is None:
            return lo
        return self._find(stmts[-1].span.end if stmts else lo + 1, "}")

    def _open(self, pos: int) -> int:
        return self._find(pos, "{") if self.text is not None else pos

    def term(self, t: s.Term, indent: str, col: int) -> str:
        if isinstance(t, s.Ref):
            return t.name
        if isinstance(t, s.Call) and t.over is not None:
            lo = self._find(t.name_span.end, "(") + 1 if self.text is not None else 0
            spans = [t.over.span, *(a.span for a in t.args)]
            gaps = self._gaps(lo, spans, t.span.end - 1)
            if any(g.has_comments for g in gaps):  # one element a line, comments kept
                loop = self.term(t.over, indent + INDENT, len(indent + INDENT))
                texts = [loop, *(self.arg(a) for a in t.args)]
                items = list(zip(spans, texts, strict=True))
                return self._listing(f"{t.name}(", items, gaps, indent, ")", ",")
            # The loop's body breaks as any body does; the merge's own arguments follow it.
            text = f"{t.name}(" + self.term(t.over, indent, col + len(t.name) + 1)
            return text + "".join(f", {self.arg(a)}" for a in t.args) + ")"
        if isinstance(t, s.Call):
            lo = self._find(t.name_span.end, "(") + 1 if self.text is not None else 0
            hi = t.span.end - 1
            return self._call_list(
                t.name, lo, [a.span for a in t.args], [self.arg(a) for a in t.args], hi, indent, col
            )
        if isinstance(t, s.Repeat):
            text = self.term(t.term, indent, col)
            return f"{text} * {self.expr(t.count, _PRIMARY)}"
        bodies = self._bodies(t)
        if isinstance(t, s.Cond):
            text = f"if {self.expr(t.cond, _COND)} "
        elif isinstance(t, s.For):
            text = f"for {t.var} in range({', '.join(self.expr(b, _ARITH) for b in t.range_args)}) "
        elif isinstance(t, s.Residual):
            text = "residual "
        else:
            text = "seq "
        second = "else " if isinstance(t, s.Cond) else "shortcut "
        for k, (stmts, lo, hi) in enumerate(bodies):
            if k:
                text += " " + second
            tail = f" {second}{{" if k + 1 < len(bodies) else ""
            text += self.body(stmts, lo, hi, indent, _last_col(text, col), tail=tail)
        return text

    def step(self, st: s.Step, indent: str, col: int) -> str:
        head = f"{st.name} = " if st.name else ""
        return head + self.term(st.term, indent, col + len(head))

    def chain(self, c: s.Chain, indent: str, col: int) -> str:
        """Steps joined by ` | `; a broken chain goes on with `| step` lines one level in.

        A line is broken where the author broke it, where a comment stands and where the
        next step would not fit. Before a comment on a line of its own the `|` ends the
        line instead (the grammar allows no comment line before a leading `|`)."""
        steps = c.steps
        gaps = self._gaps(steps[0].span.end, [x.span for x in steps[1:]], steps[-1].span.end)[:-1]
        cont = indent + INDENT
        text = self.step(steps[0], indent, col)
        at = _last_col(text, col)
        line_indent = indent  # the indentation of the line `text` ends on
        for st, gap in zip(steps[1:], gaps, strict=True):
            if not gap.has_comments and not gap.newline:
                flat = self._flat_step(st)
                if flat is None:  # breaks anyway (a body written over lines): stays on this line
                    part = self.step(st, line_indent, at + 3)
                    text += " | " + part
                    at = _last_col(part, at + 3)
                    continue
                if self._fits(flat, at + 3):
                    text += " | " + flat
                    at += 3 + len(flat)
                    continue
            line_indent = cont
            if gap.own:
                lines = [text + " |" + self._trail(gap)]
                lines.extend(cont + o.comment.text for o in gap.own)
                part = self.step(st, cont, len(cont))
                text = "\n".join(lines) + "\n" + cont + part
                at = _last_col(part, len(cont))
            else:
                part = self.step(st, cont, len(cont) + 2)
                text += self._trail(gap) + "\n" + cont + "| " + part
                at = _last_col(part, len(cont) + 2)
        return text

    def stmt(self, x: s.Stmt, indent: str, col: int = 0) -> str:
        if isinstance(x, s.Chain):
            return self.chain(x, indent, col)
        if isinstance(x, s.InputStmt):
            axes = ", ".join(
                a.name if a.size is None else f"{a.name}: {self.expr(a.size, _ARITH)}" for a in x.axes
            )
            return f"input {x.name} ({axes})" if x.name else f"input ({axes})"
        if isinstance(x, s.LetStmt):
            return f"let {x.name} = {self.expr(x.value, _COND)}"
        if isinstance(x, s.BindStmt):
            head = f"{x.name} := "
            return head + self.chain(x.chain, indent, col + len(head))
        if isinstance(x, s.ReturnStmt):
            if x.keys is not None:
                pairs = zip(x.keys, x.names, strict=True)
                entries = (f"{_key(key)}: {name}" for (key, _), (name, _) in pairs)
                return "return {" + ", ".join(entries) + "}"
            return "return " + ", ".join(name for name, _ in x.names)
        return "meta " + self.mapping(x.mapping, indent, col + 5)

    def param(self, p: s.Param) -> str:
        return p.name if p.default is None else f"{p.name} = {self.expr(p.default, _COND)}"

    def definition(self, d: s.ArchDef | s.BlockDef) -> str:
        """`arch name(params) { ... }` or `block ...`; an architecture's body is never one line."""
        kind = "arch" if isinstance(d, s.ArchDef) else "block"
        lo = hi = body_lo = 0
        if self.text is not None:
            lo = self._find(d.name_span.end, "(") + 1
            hi = self._find(d.params[-1].span.end if d.params else lo, ")")
            body_lo = self._find(hi, "{")
        head = self._call_list(
            f"{kind} {d.name}",
            lo,
            [p.span for p in d.params],
            [self.param(p) for p in d.params],
            hi,
            "",
            0,
            " {",
        )
        col = _last_col(head, 0) + 1
        return f"{head} " + self.body(d.body, body_lo, d.span.end - 1, "", col, multi=kind == "arch")

    def file(self, f: s.File, header: Sequence[str] = ()) -> str:
        """A whole file: header lines, then the definitions in source order, one blank line apart."""
        items: list[s.ArchDef | s.BlockDef] = [*f.blocks, *f.archs]
        if self.text is not None:
            items.sort(key=lambda d: d.span.start)
        out: list[str] = list(header)
        end = len(self.text) if self.text is not None else 0
        gaps = self._gaps(0, [d.span for d in items], end)
        for i, d in enumerate(items):
            gap = gaps[i]
            if i > 0 or (out and not gap.own):
                out.append("")
            out.extend(self._own(gap, "", keep_blank=True, first=True))
            if gap.own and gap.blank:
                out.append("")
            out.append(self.definition(d) + self._trail(gaps[i + 1]))
        tail = self._own(gaps[-1], "", keep_blank=True, first=not items)
        if items and tail and gaps[-1].own[0].blank:
            out.append("")
        out.extend(tail)
        return "\n".join(out).strip("\n") + "\n" if out else ""


def _value_span(v: s.MetaValue) -> Span:
    return v.span


_PLAIN = Printer()  # for expressions and parameters only, which hold no memo


def expr(e: s.Expr, parent: int = 0) -> str:
    """An expression as .arch text."""
    return _PLAIN.expr(e, parent)


def stmt(x: s.Stmt, indent: str) -> str:
    """A statement as .arch text, its inner lines indented from `indent`."""
    return Printer().stmt(x, indent, len(indent))  # a fresh printer: its memo is keyed by node ids


def params(ps: Sequence[s.Param]) -> str:
    """A parameter list without its parentheses."""
    return ", ".join(_PLAIN.param(p) for p in ps)


def unparse(file: s.File, header: Sequence[str] = ()) -> str:
    """The .arch text of a syntax tree: header comment lines, blocks, then architectures."""
    # Header lines name input files: escaped, so a file name cannot start a line of its own.
    return Printer().file(file, [f"# {comment(line)}".rstrip() for line in header])
