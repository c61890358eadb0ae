"""Diagnostics: collected, never raised past the CLI, rendered like rustc or as JSON."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from .pysafe import comment
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
    # A set beside `items` keeps the duplicate check constant-time: a file with thousands
    # of errors stays linear. It is rebuilt whenever `items` was replaced or changed.
    _index: set[Diagnostic] = field(default_factory=set, repr=False, compare=False)
    _indexed: tuple[int, int] = field(default=(0, -1), repr=False, compare=False)

    def _seen(self, diag: Diagnostic) -> bool:
        if self._indexed != (id(self.items), len(self.items)):
            self._index = set(self.items)
        return diag in self._index

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
        source, span = self.source.locate(span)
        if self.source.parts:
            notes = [self._note_in(n, source) for n in notes]
        diag = Diagnostic(severity, code, message, source, span, label, tuple(notes), help)
        # The same problem reached twice (a reused layer, a repeated block) is shown once.
        if not self._seen(diag):
            self.items.append(diag)
            self._index.add(diag)
        self._indexed = (id(self.items), len(self.items))
        return diag

    def _note_in(self, note: Note, source: Source) -> Note:
        """A note of a multi-file input: located when it lies in the diagnostic's file."""
        if note.span is None:
            return note
        where, span = self.source.locate(note.span)
        return Note(note.message, span) if where is source else Note(note.message)

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


def _distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[-1]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean' suggestion for a misspelled name, or None.

    Only a near-miss spelling of the same name counts: case and underscores aside, one
    typo (a wrong, missing, extra or swapped character) in a short name, two in a name of
    eight characters or more, or the name cut short (`kernel` for `kernel_size`). A
    different word that happens to look alike (`gelu` and `relu`, `concat` and `conv`) is
    no suggestion.
    """

    def norm(text: str) -> str:
        return text.lower().replace("_", "")

    choices = list(choices)
    key = norm(word)
    best: tuple[int, str] | None = None
    for choice in choices:
        if choice.lower() == word.lower() or norm(choice) == key:
            return choice
        other = norm(choice)
        if len(key) >= 4 and other.startswith(key):
            # The name cut short (`kernel` for kernel_size, `maxpool` for maxpool1d).
            distance = len(other) - len(key)
            if best is None or distance < best[0]:
                best = (distance, choice)
            continue
        limit = 2 if min(len(key), len(other)) >= 8 else 1
        if len(key) <= 3 or abs(len(key) - len(other)) > limit:
            continue
        distance = _distance(key, other)
        if distance > limit:
            continue
        # In a short name a changed first letter makes another word (`gelu`, `relu`).
        if len(key) < 8 and key[0] != other[0]:
            continue
        if best is None or distance < best[0]:
            best = (distance, choice)
    return best[1] if best else None


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
        + paint(f": {_text(diag.message)}", "bold"),
        f"{pad}{paint('-->', 'blue')} {comment(src.path)}:{line}:{col}",
        f"{pad} {paint('|', 'blue')}",
    ]

    last: list[tuple[int, str] | None] = [None]  # the source line printed last

    def snippet(span: Span, label: str, marker: str, style: str) -> None:
        ln, c = src.line_col(span.start)
        eln, ec = src.line_col(max(span.start, span.end))
        text = src.line_text(ln)
        stop = ec if eln == ln else len(text) + 1
        text, c, stop = _window(text, c, stop)
        carets = marker * max(1, stop - c)
        # Labels on one line share it, as in rustc (unless the line was cut differently).
        if last[0] != (ln, text):
            out.append(f"{str(ln).rjust(width)} {paint('|', 'blue')} {text}")
        last[0] = (ln, text)
        out.append(
            f"{pad} {paint('|', 'blue')} {' ' * (c - 1)}{paint(carets, style)}"
            + (f" {paint(_text(label), style)}" if label else "")
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
            out.append(f"{pad} {paint('=', 'blue')} note: {_text(note.message)}")
    if diag.help:
        out.append(f"{paint('help', 'bold')}: {_text(diag.help)}")
    return "\n".join(out)


SHOWN_LINE = 120  # longer source lines are cut around the caret
SHOWN_TEXT = 400  # longer messages (that quote a huge tuple, say) are cut in the middle


def _text(text: str) -> str:
    """Message text as printed: escaped (no terminal control), and of bounded length."""
    if len(text) > SHOWN_TEXT:
        text = text[: SHOWN_TEXT // 2] + " ... " + text[-SHOWN_TEXT // 4 :]
    return comment(text)


def _window(text: str, start: int, stop: int) -> tuple[str, int, int]:
    """A source line as shown: each character one column (tabs and control characters
    become one visible character, so no terminal escape is ever printed), and a long
    line cut around the marked columns [start, stop) (1-based)."""
    def visible(part: str) -> str:
        return "".join(" " if ch == "\t" else (ch if ch.isprintable() else "\ufffd") for ch in part)

    if len(text) <= SHOWN_LINE:
        return visible(text), start, stop
    lo = max(0, start - 1 - 40)
    hi = min(len(text), max(stop - 1, start) + 40, lo + SHOWN_LINE)
    head = "..." if lo > 0 else ""
    tail = "..." if hi < len(text) else ""
    shift = len(head) - lo
    new_start = start + shift
    new_stop = min(stop + shift, hi + shift + 1)
    return head + visible(text[lo:hi]) + tail, new_start, max(new_stop, new_start + 1)


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
