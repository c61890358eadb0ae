"""SARIF 2.1.0 for code scanning: `archc lint --format sarif`.

One run; `tool.driver.rules` holds one rule per code that appears (sorted), its short and full
description taken from `archc explain`'s texts (core/explain.py). Each diagnostic becomes a
result with its primary span as the location and its secondary labels as related locations.

Columns: archc counts a line's characters (Python code points, 1-based, the end exclusive),
which is SARIF's `unicodeCodePoints` column kind, so the run says so; SARIF's default
(UTF-16 code units) would put every column after a non-BMP character one off.

URIs are relative to the working directory when the file is under it (with the `%SRCROOT%`
base, which a code-scanning upload resolves against the checkout), else absolute `file:` URIs.
Nothing here reads the clock or the environment, so the output is deterministic.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..core import explain
from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Source, Span

SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning"}


def artifact_location(path: str, cwd: Path) -> dict[str, str]:
    """The SARIF artifactLocation of a diagnostic's path: relative to cwd when it is under it."""
    given = Path(path)
    absolute = Path(os.path.normpath(given if given.is_absolute() else cwd / given))
    # Lexically first (the path as the user typed it), then with symlinks resolved.
    for file, base in ((absolute, Path(os.path.normpath(cwd))), (absolute.resolve(), cwd.resolve())):
        try:
            relative = file.relative_to(base)
        except ValueError:
            continue
        return {"uri": quote(relative.as_posix(), safe="/"), "uriBaseId": SRCROOT}
    return {"uri": absolute.as_uri()}


def _region(source: Source, span: Span) -> dict[str, int]:
    line, col = source.line_col(span.start)
    end_line, end_col = source.line_col(max(span.start, span.end))
    return {"startLine": line, "startColumn": col, "endLine": end_line, "endColumn": end_col}


def _physical(source: Source, span: Span, cwd: Path) -> dict[str, Any]:
    return {"artifactLocation": artifact_location(source.path, cwd), "region": _region(source, span)}


def _rule(code: str, level: str) -> dict[str, Any]:
    found = explain.lookup(code)
    if found is None:  # every code has an explanation (tests/test_explain.py); stay valid anyway
        summary, full = code, code
    else:
        summary, long_text = found
        # The long text starts with the summary; the full description is what follows it.
        full = long_text.removeprefix(summary).strip() or summary
    return {
        "id": code,
        "shortDescription": {"text": summary},
        "fullDescription": {"text": full},
        "defaultConfiguration": {"level": level},
    }


def _message(diag: Diagnostic) -> str:
    """The result's text: the message, then notes without a place and the help, as lint shows them."""
    lines = [diag.message]
    lines.extend(f"note: {n.message}" for n in diag.notes if n.span is None)
    if diag.help:
        lines.append(f"help: {diag.help}")
    return "\n".join(lines)


def _result(diag: Diagnostic, rule_index: int, cwd: Path) -> dict[str, Any]:
    location: dict[str, Any] = {"physicalLocation": _physical(diag.source, diag.span, cwd)}
    if diag.label:
        location["message"] = {"text": diag.label}
    result: dict[str, Any] = {
        "ruleId": diag.code,
        "ruleIndex": rule_index,
        "level": _LEVELS[diag.severity],
        "message": {"text": _message(diag)},
        "locations": [location],
    }
    placed = [(n.message, n.span) for n in diag.notes if n.span is not None]
    related = [
        {"id": number, "physicalLocation": _physical(diag.source, span, cwd), "message": {"text": text}}
        for number, (text, span) in enumerate(placed, start=1)
    ]
    if related:
        result["relatedLocations"] = related
    return result


def sarif_log(diagnostics: Sequence[Diagnostic], version: str, cwd: Path) -> dict[str, Any]:
    """The SARIF log (one run) of a lint's diagnostics, in the order lint reports them."""
    levels: dict[str, str] = {}
    for diag in diagnostics:
        levels.setdefault(diag.code, _LEVELS[diag.severity])
    codes = sorted(levels)
    index = {code: i for i, code in enumerate(codes)}
    driver = {
        "name": "archc",
        "version": version,
        "semanticVersion": version,
        "rules": [_rule(code, levels[code]) for code in codes],
    }
    run = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "results": [_result(d, index[d.code], cwd) for d in diagnostics],
    }
    return {"version": SARIF_VERSION, "runs": [run]}


def render_sarif(diagnostics: Sequence[Diagnostic], version: str, cwd: Path) -> str:
    """The SARIF log as indented JSON text, ending with a newline."""
    return json.dumps(sarif_log(diagnostics, version, cwd), indent=2) + "\n"
