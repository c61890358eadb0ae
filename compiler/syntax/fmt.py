"""`archc fmt`: the canonical layout of .arch text, every comment kept where it belongs.

The grammar ignores comments, so they are collected by a scan of the text (a `#` outside
a string starts one) and printed back into the gaps of the syntax tree they fall in (see
`unparse`). Spacing, indentation (4 spaces) and blank lines (at most one) are canonical;
the line breaks the author made between steps, arguments and statements are kept, and
more are added where a line would grow past `unparse.WIDTH`, except in a statement an
`# archc: allow(...)` comment covers: allow comments work by line, so such a statement keeps
its lines as they are.

Formatting checks its own result before giving it back: the output must parse to the
same syntax tree (positions aside) and hold the same comments in the same order, so a
formatter bug can never change the meaning of a file or lose a comment.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..core.diagnostics import CompileError, Diagnostic
from ..core.source import Source, Span
from . import tree as s
from .parser import parse
from .unparse import Comment, Printer


class FormatError(Exception):
    """The text does not parse (or, a bug, would not survive formatting); `diagnostics` say why."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...], message: str = "") -> None:
        super().__init__(message or (diagnostics[0].message if diagnostics else "cannot format"))
        self.diagnostics = diagnostics


def comments(text: str) -> list[Comment]:
    """Every `#` comment of a text that parses, in order."""
    found: list[Comment] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':  # a string literal stays on its line; skip it with its escapes
            i += 1
            while i < n and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif ch == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
            line_start = text.rfind("\n", 0, i) + 1
            trailing = bool(text[line_start:i].strip())
            found.append(Comment(i, end, text[i:end].rstrip(), trailing))
            i = end
        i += 1
    return found


def _shape(node: Any) -> Any:
    """A syntax node without its positions, for comparing two trees."""
    if isinstance(node, Span):
        return None
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return (type(node).__name__, *(_shape(getattr(node, f.name)) for f in dataclasses.fields(node)))
    if isinstance(node, tuple):
        return tuple(_shape(x) for x in node)
    return node


def _ordered(f: s.File) -> Any:
    """The definitions of a file in source order, without positions."""
    items: list[s.ArchDef | s.BlockDef] = sorted([*f.archs, *f.blocks], key=lambda d: d.span.start)
    return _shape(tuple(items))


def format_source(text: str, path: str = "<stdin>") -> str:
    """The canonical text of an .arch source; FormatError when it does not parse."""
    text = text.replace("\r\n", "\n")
    try:
        tree = parse(Source(path, text))
    except CompileError as err:
        raise FormatError((err.diagnostic,)) from None
    found = comments(text)
    printer = Printer(text, found)
    out = printer.file(tree)
    _verify(text, tree, found, printer, out, path)
    return out


def _verify(text: str, tree: s.File, found: list[Comment], printer: Printer, out: str, path: str) -> None:
    """Refuse a result that lost a comment or would parse to another tree."""
    lost = [c for c in found if c.start not in printer.used]
    problem = ""
    if lost:
        line = text.count("\n", 0, lost[0].start) + 1
        problem = f"the comment on line {line} has no place in the formatted text"
    else:
        try:
            again = parse(Source(path, out))
        except CompileError as err:
            problem = f"the formatted text does not parse: {err.diagnostic.message}"
        else:
            if _ordered(again) != _ordered(tree):
                problem = "the formatted text parses to another syntax tree"
            elif [c.text for c in comments(out)] != [c.text for c in found]:
                problem = "the formatted text does not hold the same comments"
    if problem:
        raise FormatError((), f"{path}: cannot format this file safely ({problem}); please report it")
