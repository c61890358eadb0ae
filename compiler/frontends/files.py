"""What every front end shares: reading a file safely, the options and the result.

The importers (`seqgra_import`, `torch_import`) import this module, and `load`
(which dispatches to them by suffix) imports them, so neither imports `load`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from ..core.diagnostics import Diagnostic, Reporter, Severity
from ..core.source import Source, Span
from ..core.values import Value
from ..syntax import tree as s


class UsageError(Exception):
    """A mistake in how archc was called (exit code 2)."""


@dataclass(frozen=True)
class Options:
    """What an importer may need beyond the file: chosen class, input layout, parameter values."""

    class_name: str | None = None  # the nn.Module subclass to lift from a .py file
    layout: str | None = None  # "1D" or "2D" (seqgra's inputencoding) for .py files
    sets: dict[str, Value] = field(default_factory=dict)  # single --set values (e.g. length)
    # Keep every size a lifted .py writes (lint, compile, summary); `archc import` drops the
    # ones archc can infer, for an .arch that follows --set length.
    keep_sizes: bool = False


@dataclass
class Loaded:
    """A file read by a front end: the source its spans point into, and the tree if any."""

    source: Source
    tree: s.File | None
    reporter: Reporter
    header: list[str] = field(default_factory=list)  # comment lines for an imported .arch
    consumed: frozenset[str] = frozenset()  # --set names the front end used up (a lifted list)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.reporter.items


SUFFIXES = (".arch", ".xml", ".py")


# Every input is read up to this many bytes and refused beyond: real architecture
# files are a few kB, and the 10,000-layer benchmark chain is 0.3 MB; parsing a file at
# the cap takes about 10 s (bench/limits.py).
MAX_INPUT_BYTES = 524_288


def read_source(path: str) -> Source | Diagnostic:
    """The file as text, or a diagnostic when it is not UTF-8 or too large; UsageError
    when it cannot be read or is not a regular file (a device or a pipe is never read)."""
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{path}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path}: is not a regular file (archc reads only files)")
        # O_NONBLOCK: should the path be swapped for a pipe after the check, open() does
        # not wait for a writer; the read below stops at the cap either way.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise UsageError(f"{path}: is not a regular file (archc reads only files)")
            data = handle.read(MAX_INPUT_BYTES + 1)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory") from None
    except OSError as err:
        raise UsageError(f"{path}: cannot read it ({err.strerror})") from None
    if len(data) > MAX_INPUT_BYTES:
        head = data[:4096].decode("utf-8", errors="replace")
        return Diagnostic(
            Severity.ERROR,
            "too-large",
            f"the file is larger than {MAX_INPUT_BYTES:,} bytes, the most archc reads",
            Source(path, head),
            Span(0, min(1, len(head))),
            help="architecture files are a few kilobytes; split generated inputs or use blocks and repeats",
        )
    try:
        # A byte-order mark (some Windows editors write one) is not part of the text.
        return Source(path, data.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as err:
        src = Source(path, data.decode("utf-8", errors="replace"))
        return Diagnostic(
            Severity.ERROR,
            "encoding",
            "the file is not UTF-8 text",
            src,
            Span(err.start, err.start + 1),
            help="save the file as UTF-8",
        )
