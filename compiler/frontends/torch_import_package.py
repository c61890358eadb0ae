"""The input's own package: helper modules a model file imports from its sibling files.

`from .layers import ConvBlock`, `from . import utils` and `from mypkg.blocks import X` (when
`mypkg` is the package the input lives in, or the directory of an input with no __init__.py
that holds `blocks.py`) are resolved against the input's directory and read
as text for `ast`; nothing is imported or run. Bounded: at most MAX_FILES files, import chains
at most MAX_DEPTH deep, each file under the input size cap, and never a file outside the
package root (a symlink is followed only when its target stays inside).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.diagnostics import Diagnostic
from ..core.source import Source
from .files import UsageError, read_source

MAX_FILES = 32  # sibling files read for one input
MAX_DEPTH = 4  # a sibling importing a sibling ... at most this deep


@dataclass(frozen=True)
class Found:
    """A sibling file: where it is, and its path as shown in diagnostics."""

    path: Path  # resolved
    shown: str


class Package:
    """Where the input file's package starts, and how its imports map to files."""

    def __init__(self, input_path: str) -> None:
        self.input_dir = Path(input_path).parent
        self.input = Path(input_path).resolve()
        self.start = self.input_dir.resolve()
        root = self.start
        # The package root: the highest directory of an unbroken chain of __init__.py files.
        while (root / "__init__.py").is_file() and (root.parent / "__init__.py").is_file() and (
            root.parent != root
        ):
            root = root.parent
        self.root = root
        self.name = root.name if (root / "__init__.py").is_file() else None
        # Without __init__.py the directory may still be imported by its name (a namespace
        # package: `from scbasset.layers import X` in scbasset/model.py), when such a file is there.
        self.guessed = root.name if self.name is None else None

    def find(self, here: Path, level: int, module: str | None) -> Found | str | None:
        """The file of `from {'.' * level}{module} import ...` written in a file of directory
        `here`: a Found, a problem (str), or None when the import is not of this package."""
        parts = module.split(".") if module else []
        if level:
            base = here
            for _ in range(level - 1):
                base = base.parent
            if not _inside(base, self.root):
                return f"`{'.' * level}{module or ''}` reaches above the package root {self.root.name}/"
        elif parts and self.name is not None and parts[0] == self.name:
            base = self.root
            parts = parts[1:]
        elif len(parts) > 1 and parts[0] == self.guessed:
            target = self.root.joinpath(*parts[1:])
            if not (target.with_name(target.name + ".py").is_file() or (target / "__init__.py").is_file()):
                return None  # not this directory: some installed package of that name
            base = self.root
            parts = parts[1:]
        else:
            return None
        target = base.joinpath(*parts)
        for candidate in ((target.with_name(target.name + ".py"),) if parts else ()) + (
            target / "__init__.py",
        ):
            if not candidate.exists() and not candidate.is_symlink():
                continue
            resolved = candidate.resolve()
            if not _inside(resolved, self.root):
                return f"`{candidate.name}` links outside the package ({self.root.name}/)"
            shown = os.path.normpath(os.path.join(self.input_dir, os.path.relpath(resolved, self.start)))
            return Found(resolved, shown)
        return f"no file `{os.path.relpath(target, self.start)}.py` next to the model"

    @staticmethod
    def read(found: Found) -> Source | str:
        """The file's text (under the input cap, UTF-8, a regular file), or the problem."""
        try:
            got = read_source(str(found.path))
        except UsageError as err:
            return str(err).replace(str(found.path), found.shown)
        if isinstance(got, Diagnostic):
            return f"{found.shown}: {got.message}"
        return Source(found.shown, got.text)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
