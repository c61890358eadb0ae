"""Source files and spans: offsets into a text, resolved to lines only when shown."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range [start, end) of character offsets in one source."""

    start: int
    end: int

    def cover(self, other: Span) -> Span:
        """The smallest span holding both."""
        return Span(min(self.start, other.start), max(self.end, other.end))


NO_SPAN = Span(0, 0)


@dataclass(frozen=True)
class Source:
    """A named text; line starts are computed once for rendering."""

    path: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    # Other files whose spans continue this one's offsets: (first offset, file), in order. A
    # front end that reads several files (a .py and the helper modules it imports) gives
    # their nodes offsets after this text; `locate` maps them back.
    parts: tuple[tuple[int, Source], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        object.__setattr__(self, "_line_starts", tuple(starts))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of an offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")

    def locate(self, span: Span) -> tuple[Source, Span]:
        """The file a span lies in and the span within it (itself unless it lies in a part)."""
        if not self.parts or span.start <= len(self.text):
            return self, span
        for first, part in reversed(self.parts):
            if span.start >= first:
                return part, Span(span.start - first, max(span.start, span.end) - first)
        return self, span

    def offset(self, line: int, col: int) -> int:
        """Offset of a 1-based line and column (clamped to the text)."""
        line = max(1, min(line, len(self._line_starts)))
        return min(self._line_starts[line - 1] + max(col, 1) - 1, len(self.text))
