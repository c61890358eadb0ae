"""Warnings kept on purpose: `# archc: allow(code, ...)` comments.

A faithful model of a published architecture keeps what the paper did, pool that drops a
position included; an acknowledgement says so where it happens, and `--strict` then passes.

- `... # archc: allow(pool-drops)` at the end of a line covers the warnings of that line;
- `# archc: allow(pool-drops)` alone on a line covers the next line that holds code;
- `# archc: allow-file(pool-drops, axis-mix)` covers the whole file.

The comment is read from the source text the diagnostics point into, so the same comment
works in an `.arch` file and in a lifted PyTorch `.py`. Only warnings can be allowed. An
acknowledgement that matches no warning is itself reported (`unused-allow`), so none
outlives the warning it was written for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .diagnostics import Diagnostic, Severity, did_you_mean
from .source import Source, Span

_ALLOW = re.compile(r"#[ \t]*archc:[ \t]*(allow|allow-file)[ \t]*\(([^)\n]*)\)")
_CODE = re.compile(r"[a-z][a-z0-9-]*")


@dataclass
class _Allow:
    codes: dict[str, Span]  # each code with where it is written
    line: int | None  # the line covered; None for the whole file
    used: set[str]


def _allows(source: Source) -> list[_Allow]:
    text = source.text
    if "archc:" not in text:  # the common case costs one scan
        return []
    found: list[_Allow] = []
    for match in _ALLOW.finditer(text):
        line, _ = source.line_col(match.start())
        codes: dict[str, Span] = {}
        base = match.start(2)
        for code in _CODE.finditer(match.group(2)):
            codes.setdefault(code.group(), Span(base + code.start(), base + code.end()))
        if not codes:
            codes[""] = Span(match.start(), match.end())
        target: int | None = None
        if match.group(1) == "allow":
            before = source.line_text(line)[: source.line_col(match.start())[1] - 1]
            target = line
            if not before.strip():  # a comment line of its own: the next line with code
                last = source.line_col(len(text))[0]
                target = line + 1
                while target < last and (
                    not source.line_text(target).strip() or source.line_text(target).lstrip().startswith("#")
                ):
                    target += 1
        found.append(_Allow(codes, target, set()))
    return found


def apply_allows(diagnostics: list[Diagnostic], checked: Source) -> list[Diagnostic]:
    """The diagnostics without the allowed warnings, plus one for each unused allowance
    (of the checked source, and of any other source a diagnostic points into)."""
    sources: dict[int, Source] = {id(checked): checked}
    for d in diagnostics:
        sources.setdefault(id(d.source), d.source)
    by_source = {key: _allows(src) for key, src in sources.items()}
    if not any(by_source.values()):
        return diagnostics
    kept: list[Diagnostic] = []
    for d in diagnostics:
        allows = by_source.get(id(d.source), [])
        line = d.source.line_col(d.span.start)[0]
        covering = [a for a in allows if d.code in a.codes and (a.line is None or a.line == line)]
        if covering and d.severity is Severity.WARNING:
            for a in covering:
                a.used.add(d.code)
            continue
        kept.append(d)
    for key, allows in by_source.items():
        source = sources[key]
        for a in allows:
            for code, span in a.codes.items():
                if code not in a.used:
                    kept.append(_unused(source, code, span, a.line, diagnostics))
    return kept


def _unused(
    source: Source, code: str, span: Span, line: int | None, diagnostics: list[Diagnostic]
) -> Diagnostic:
    from .explain import EXPLANATIONS  # only when an allowance is written

    where = "in this file" if line is None else f"on line {line}"
    errors = [d for d in diagnostics if d.code == code and d.is_error]
    if not code:
        message = "`archc: allow()` names no code"
        help_text = "write the codes to allow, e.g. `allow(pool-drops)`"
    elif code not in EXPLANATIONS:
        suggestion = did_you_mean(code, list(EXPLANATIONS))
        message = f"`{code}` is not a diagnostic code"
        help_text = f"did you mean `{suggestion}`?" if suggestion else "`archc explain` lists the codes"
    elif errors:
        message = f"`{code}` is an error here, and errors cannot be allowed"
        help_text = "fix the error; only warnings can be kept on purpose"
    else:
        message = f"`allow({code})` matches no warning {where}"
        help_text = "remove it: the warning it was written for is gone"
    return Diagnostic(Severity.WARNING, "unused-allow", message, source, span, "", (), help_text)
