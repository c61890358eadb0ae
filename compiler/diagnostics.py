"""Diagnostics: collected, never raised past the CLI, rendered like rustc or as JSON."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .source import Source, Span


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Note:
    """A secondary label: another place that explains the primary one."""

    message: str
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in a source, with a stable code and an optional fix."""

    severity: Severity
    code: str
    message: str
    source: Source
    span: Span
    label: str = ""
    notes: tuple[Note, ...] = ()
    help: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> tuple[int, int, int, int]:
        """Start line, start column, end line, end column (1-based)."""
        line, col = self.source.line_col(self.span.start)
        end_line, end_col = self.source.line_col(max(self.span.start, self.span.end))
        return line, col, end_line, end_col

    def to_json(self) -> dict[str, Any]:
        line, col, end_line, end_col = self.location()
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.source.path,
            "line": line,
            "column": col,
            "end_line": end_line,
            "end_column": end_col,
            "label": self.label or None,
            "notes": [
                {
                    "message": n.message,
                    "line": self.source.line_col(n.span.start)[0] if n.span else None,
                }
                for n in self.notes
            ],
            "help": self.help,
        }


class CompileError(Exception):
    """Raised inside a pass to stop at a problem that blocks everything after it."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


@dataclass
class Reporter:
    """Collects the diagnostics of one source; passes add to it and go on."""

    source: Source
    items: list[Diagnostic] = field(default_factory=list)

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        span: Span,
        *,
        label: str = "",
        notes: Sequence[Note] = (),
        help: str | None = None,
    ) -> Diagnostic:
        diag = Diagnostic(severity, code, message, self.source, span, label, tuple(notes), help)
        # The same problem reached twice (a reused layer, a repeated block) is shown once.
        if diag not in self.items:
            self.items.append(diag)
        return diag

    def error(self, code: str, message: str, span: Span, **kw: Any) -> Diagnostic:
        return self.add(Severity.ERROR, code, message, span, **kw)

    def warning(self, code: str, message: str, span: Span, **kw: Any) -> Diagnostic:
        return self.add(Severity.WARNING, code, message, span, **kw)

    def fatal(self, code: str, message: str, span: Span, **kw: Any) -> CompileError:
        """Record an error and return an exception that stops the current pass."""
        return CompileError(self.error(code, message, span, **kw))

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' suggestion for a misspelled name, or None."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
        close = [lowered[c] for c in close]
    return close[0] if close else None


# ---------------------------------------------------------------- rendering

_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "blue": "\x1b[1;34m", "bold": "\x1b[1m"}
_RESET = "\x1b[0m"


def render(diag: Diagnostic, color: bool = False) -> str:
    """Render one diagnostic the way rustc does."""

    def paint(text: str, style: str) -> str:
        return f"{_COLORS[style]}{text}{_RESET}" if color else text

    src = diag.source
    line, col, _end_line, _end_col = diag.location()
    gutter_lines = [line] + [src.line_col(n.span.start)[0] for n in diag.notes if n.span]
    width = len(str(max(gutter_lines)))
    pad = " " * width
    out = [
        paint(f"{diag.severity.value}[{diag.code}]", diag.severity.value)
        + paint(f": {diag.message}", "bold"),
        f"{pad}{paint('-->', 'blue')} {src.path}:{line}:{col}",
        f"{pad} {paint('|', 'blue')}",
    ]

    def snippet(span: Span, label: str, marker: str, style: str) -> None:
        ln, c = src.line_col(span.start)
        eln, ec = src.line_col(max(span.start, span.end))
        # A tab is one character wide for the caret: show it as one space.
        text = src.line_text(ln).replace("\t", " ")
        stop = ec if eln == ln else len(text) + 1
        carets = marker * max(1, stop - c)
        out.append(f"{str(ln).rjust(width)} {paint('|', 'blue')} {text}")
        out.append(
            f"{pad} {paint('|', 'blue')} {' ' * (c - 1)}{paint(carets, style)}"
            + (f" {paint(label, style)}" if label else "")
        )

    # Labels are shown in source order, the primary one marked with ^.
    labels = [(diag.span, diag.label, "^", diag.severity.value)] + [
        (n.span, n.message, "-", "blue") for n in diag.notes if n.span is not None
    ]
    for span, text, marker, style in sorted(
        labels, key=lambda item: (item[0].start, item[2] != "^")
    ):
        snippet(span, text, marker, style)
    for note in diag.notes:
        if note.span is None:
            out.append(f"{pad} {paint('=', 'blue')} note: {note.message}")
    if diag.help:
        out.append(f"{paint('help', 'bold')}: {diag.help}")
    return "\n".join(out)


def summary_line(diags: Sequence[Diagnostic]) -> str:
    """'2 errors, 1 warning' style tally."""
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' if errors != 1 else ''}")
    if warnings:
        parts.append(f"{warnings} warning{'s' if warnings != 1 else ''}")
    return ", ".join(parts) if parts else "no problems"
