"""Writing outputs: all or nothing, each file replaced atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path


class OutputError(Exception):
    """An output could not be written."""


def write_all(files: Mapping[Path, str | bytes]) -> None:
    """Write every file atomically: all are staged in full before any is replaced.

    Each file is first written to a temporary file beside it and then renamed over
    the target, so a reader never sees a half-written file, and a failure while
    staging leaves every existing file untouched.
    """
    staged: list[tuple[str, Path]] = []
    # mkstemp creates files private (0600); give outputs the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            if isinstance(content, bytes):
                with os.fdopen(fd, "wb") as handle:
                    handle.write(content)
            else:
                with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(content)
        for tmp, path in staged:
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, path)
        staged.clear()
    except OSError as err:
        target = err.filename or "the output"
        raise OutputError(f"cannot write {target}: {err.strerror or err}") from None
    finally:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
