"""Writing outputs: all or nothing, each file replaced atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


def write_all(files: Mapping[Path, str]) -> None:
    """Write every file atomically; on any failure, files already replaced stay whole.

    Each file is first written in full to a temporary file beside it, so a reader
    never sees a half-written file and an error never leaves one behind.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            staged.append((tmp, path))
        for tmp, path in staged:
            os.replace(tmp, path)
        staged.clear()
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
