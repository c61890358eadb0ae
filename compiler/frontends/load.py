"""Front ends: read .arch, seqgra .xml or PyTorch .py files into one syntax tree.

Every front end returns a `syntax.tree.File` whose spans point into the file it read,
so diagnostics from checking it land on the user's own lines.

This module dispatches by suffix; the importers are imported only when a file
needs them (they are heavy), and they import `files`, never this module.
"""

from __future__ import annotations

from pathlib import Path

from ..core.diagnostics import CompileError, Diagnostic, Reporter
from ..syntax.parser import parse
from .files import SUFFIXES, Loaded, Options, UsageError, read_source


def load(path: str, options: Options | None = None) -> Loaded:
    """Read any supported file into a syntax tree."""
    options = options or Options()
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"{path}: archc reads .arch, seqgra .xml and PyTorch .py files")
    got = read_source(path)
    if isinstance(got, Diagnostic):
        rep = Reporter(got.source)
        rep.items.append(got)
        return Loaded(got.source, None, rep)
    source = got
    if suffix == ".arch":
        rep = Reporter(source)
        try:
            return Loaded(source, parse(source), rep)
        except CompileError as err:
            rep.items.append(err.diagnostic)
            return Loaded(source, None, rep)
    if suffix == ".xml":
        from .seqgra_import import read_xml

        return read_xml(source, options)
    from .torch_import import read_py

    return read_py(source, options)
