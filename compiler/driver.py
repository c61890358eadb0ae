"""The pipeline for one source: parse -> resolve -> check, per architecture and --set values.

The driver is the last stage but the command line: it imports every stage before it
(`checks.lengths` too, for the --lengths report and too-short hints), and none of
them imports it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .checks.bounds import check_bounds
from .checks.shapes import ShapeChecker
from .core.allow import apply_allows
from .core.diagnostics import CompileError, Diagnostic, Note, Reporter
from .core.source import Source, Span
from .core.sym import sizing_pins
from .core.values import MAX_SIZE, Value
from .frontends.files import Loaded, Options, UsageError
from .frontends.load import load
from .ir import nodes as ir
from .ir.resolve import Resolver
from .syntax import tree as s
from .syntax.parser import parse


@dataclass(frozen=True)
class Variant:
    """One architecture at one set of parameter values."""

    arch_name: str
    overrides: tuple[tuple[str, Value], ...]
    checked: ir.Architecture | None  # None when errors stopped it


@dataclass
class Result:
    source: Source
    variants: list[Variant] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    tree: s.File | None = None

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics) and all(
            v.checked is not None for v in self.variants
        )


MAX_SET_CHARS = 1000  # a --set value is a number, a word or a short string
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][+-]?[0-9]+)?")


def _split_top(text: str) -> list[str]:
    """`text` split at the commas outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def parse_value(text: str) -> Value:
    """A --set value: a number, true/false, none, a string (quotes optional), or a list or
    tuple of values (`[64,64,128]`, `(3,3)`: per-layer widths), read as a tuple."""
    text = text.strip()
    if len(text) >= 2 and (text[0], text[-1]) in (("[", "]"), ("(", ")")):
        inner = text[1:-1].strip()
        if not inner:
            return ()
        items = _split_top(inner)
        if items[-1].strip() == "":
            items.pop()  # a trailing comma: (3,)
        if any(not item.strip() for item in items):
            raise UsageError(f"--set value {text[:40]} has an empty item")
        return tuple(parse_value(item) for item in items)
    if _INT.fullmatch(text):
        # Python refuses to convert more than 4,300 digits; no size has more than 19.
        if len(text.lstrip("+-").lstrip("0")) > 19:
            raise UsageError(
                f"--set value {text[:20]}... ({len(text)} characters) is too large: "
                f"sizes are at most {MAX_SIZE:,}"
            )
        return int(text)
    if _FLOAT.fullmatch(text):
        value = float(text)
        if not math.isfinite(value):
            raise UsageError(f"--set value {text[:40]} is not a finite number")
        return value
    if text in ("true", "True"):
        return True
    if text in ("false", "False"):
        return False
    if text in ("none", "None"):
        return None
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_sets(items: Sequence[str]) -> dict[str, list[Value]]:
    """`--set NAME=V1,V2` items as lists of values per name."""
    out: dict[str, list[Value]] = {}
    for item in items:
        name, eq, values = item.partition("=")
        name = name.strip()
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or not values.strip():
            raise UsageError(f"--set expects NAME=VALUE[,VALUE...], got {item!r}")
        if name in out:
            raise UsageError(f"--set {name} is given twice; list several values as {name}=A,B")
        if len(values) > MAX_SET_CHARS:
            raise UsageError(
                f"--set {name}: the value is {len(values):,} characters long; at most "
                f"{MAX_SET_CHARS:,} are read"
            )
        if values.count("[") != values.count("]") or values.count("(") != values.count(")"):
            raise UsageError(f"--set {name}: the brackets of {values[:40]!r} do not match")
        out[name] = [parse_value(v) for v in _split_top(values)]
    return out


def combinations(sets: Mapping[str, list[Value]]) -> list[tuple[tuple[str, Value], ...]]:
    names = list(sets)
    return [
        tuple(zip(names, combo, strict=True))
        for combo in itertools.product(*(sets[n] for n in names))
    ]


def run_path(
    path: str,
    sets: Mapping[str, list[Value]] | None = None,
    arch_name: str | None = None,
    options: Options | None = None,
) -> tuple[Loaded, Result]:
    """Read any supported file and check it."""
    single = {k: v[0] for k, v in (sets or {}).items() if len(v) == 1}
    options = options or Options()
    if single and not options.sets:
        options = Options(options.class_name, options.layout, single, options.keep_sizes)
    loaded = load(path, options)
    if loaded.tree is None:
        return loaded, Result(
            loaded.source, [], apply_allows(list(loaded.diagnostics), loaded.source)
        )
    if sets and loaded.consumed:
        sets = {k: v for k, v in sets.items() if k not in loaded.consumed}
    result = check_tree(loaded.source, loaded.tree, sets, arch_name, loaded.reporter)
    return loaded, result


def run(
    source: Source,
    sets: Mapping[str, list[Value]] | None = None,
    arch_name: str | None = None,
) -> Result:
    """Check every architecture of an .arch source at every --set combination."""
    try:
        tree = parse(source)
    except CompileError as err:
        return Result(source, [], [err.diagnostic])
    return check_tree(source, tree, sets, arch_name)


def check_tree(
    source: Source,
    tree: s.File,
    sets: Mapping[str, list[Value]] | None = None,
    arch_name: str | None = None,
    reporter: Reporter | None = None,
    shortest: bool = True,
) -> Result:
    """Resolve and check a syntax tree, whatever it was read from (.arch, seqgra XML, .py).

    Spans in `tree` are offsets into `source`, so diagnostics point into the original file.
    A `reporter` already holding the importer's own diagnostics may be passed in. Without
    `shortest`, a too-short error's help does not name the shortest length that works
    (finding it takes a few dozen more checks; the language server adds it afterwards).
    """
    result = Result(source, tree=tree)
    rep = reporter or Reporter(source)
    archs = tree.archs
    if arch_name is not None:
        archs = tuple(a for a in archs if a.name == arch_name)
        if not archs:
            names = ", ".join(a.name for a in tree.archs) or "none"
            raise UsageError(f"{source.path} has no architecture `{arch_name}` (it has: {names})")
    if not tree.archs:
        rep.error(
            "empty",
            "this file defines no architecture",
            Span(0, min(len(source.text), 1)),
            help="start one with `arch NAME(classes = 2, length = 1000, alphabet = 4) { ... }`",
        )
    seen: dict[str, Span] = {}
    for arch in tree.archs:
        if arch.name in seen:
            rep.error(
                "duplicate-name", f"architecture `{arch.name}` is defined twice", arch.name_span
            )
        seen[arch.name] = arch.name_span
    resolver = Resolver(tree, rep)
    checker = ShapeChecker(rep)
    declared = {p.name for a in archs for p in a.params}
    combos = combinations(sets or {})
    varying = [name for name, values in (sets or {}).items() if len(values) > 1]
    for arch in archs:
        found: list[tuple[Diagnostic, list[str]]] = []  # each problem, with the combinations it has
        by_diag: dict[Diagnostic, tuple[Diagnostic, list[str]]] = {}
        for combo in combos:
            # Each combination reports into a list of its own, merged (and annotated) below.
            outer, rep.items = rep.items, []
            try:
                _check_combo(
                    result, resolver, checker, source, tree, arch, combo, declared, rep, shortest
                )
            finally:
                label = ", ".join(f"{k}={v}" for k, v in combo if k in varying)
                for diag in rep.items:
                    entry = by_diag.get(diag)
                    if entry is None:
                        entry = by_diag[diag] = (diag, [label])
                        found.append(entry)
                    elif label not in entry[1]:
                        entry[1].append(label)
                rep.items = outer
        for diag, labels in found:
            if len(labels) < len(combos) and all(labels):
                # The problem belongs to some --set combinations only: say which.
                note = Note("with " + "; with ".join(labels))
                diag = replace(diag, notes=(*diag.notes, note))
            rep.items.append(diag)  # found holds each problem once
    result.diagnostics = apply_allows(list(rep.items), source)
    return result


def _check_combo(
    result: Result,
    resolver: Resolver,
    checker: ShapeChecker,
    source: Source,
    tree: s.File,
    arch: s.ArchDef,
    combo: tuple[tuple[str, Value], ...],
    declared: set[str],
    rep: Reporter,
    shortest: bool = True,
) -> None:
    """Resolve and check one architecture at one --set combination."""
    overrides = dict(combo)
    # Each --set value is only meaningful for architectures that declare it.
    params = {p.name for p in arch.params}
    applicable = {k: v for k, v in overrides.items() if k in params or k not in declared}
    before = len(rep.items)
    try:
        with sizing_pins() as pinned_early:
            resolved = resolver.arch(arch, applicable)
    except CompileError:
        result.variants.append(Variant(arch.name, combo, None))
        return
    if any(d.is_error for d in rep.items[before:]):
        # Resolution errors are reported; checking shapes still finds the independent ones.
        checker.check(resolved)
        result.variants.append(Variant(arch.name, combo, None))
        return
    with sizing_pins() as pinned:
        checked = checker.check(resolved)
    if checked is not None:
        # A size the algebra could not keep symbolic (a division by a parameter) holds at
        # this parameter's value only: the generic class is built for that value. (The input
        # length has its own analysis: the lengths that fit.)
        pinned = (pinned | pinned_early) - {"length"}
        pinned &= {name for name, _ in checked.params}
        if pinned - checked.fixed:
            checked = replace(checked, fixed=checked.fixed | pinned)
    if checked is not None and not check_bounds(checked, rep):
        checked = None
    result.variants.append(Variant(arch.name, combo, checked))
    if checked is None and shortest:
        _explain_too_short(source, tree, arch, applicable, rep, before)


def _explain_too_short(
    source: Source,
    tree: s.File,
    arch: s.ArchDef,
    overrides: Mapping[str, Value],
    rep: Reporter,
    start: int,
) -> None:
    """Tell a too-short error which input length is the shortest that works."""
    from .checks.lengths import too_short_help

    if "length" not in {p.name for p in arch.params}:
        return
    help_text: str | None = None
    searched = False  # once for all the errors of this check: the search probes many lengths
    for index in range(start, len(rep.items)):
        diag = rep.items[index]
        if diag.code != "too-short":
            continue
        if not searched:
            help_text, searched = too_short_help(source, tree, arch, overrides), True
        if help_text is not None:
            rep.items[index] = replace(diag, help=help_text)


def _has_pins(cls: ir.ClassDef) -> bool:
    stack: list[object] = [a.module for a in cls.attrs]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.Layer) and node.pinned:
            return True
        if isinstance(node, (ir.Sequential, ir.ModuleList)):
            stack.extend(node.items)
        elif isinstance(node, ir.BlockRef):
            stack.extend(a.module for a in node.cls.attrs)
    return False


def for_emit(result: Result, variant: Variant) -> ir.Architecture:
    """The checked architecture to emit: when a written size pins the input length, it
    carries the lengths that fit, for the constructor's error message."""
    checked = variant.checked
    assert checked is not None
    if result.tree is None or not _has_pins(checked.cls):
        return checked
    from .checks.lengths import LengthProbe, analyse

    arch = next(a for a in result.tree.archs if a.name == variant.arch_name)
    if "length" not in {p.name for p in arch.params}:
        return checked
    current = dict(checked.params).get("length")
    probe = LengthProbe(result.source, result.tree, arch, dict(variant.overrides))
    info = analyse(probe, int(current) if isinstance(current, int) else 1000)
    if info.valid is None:
        return checked
    return replace(checked, fits=info.valid.describe())


def length_report(result: Result) -> list[str]:
    """The --lengths report for every architecture of a checked result."""
    from .checks.lengths import LengthProbe, analyse, describe

    if result.tree is None:
        return []
    out: list[str] = []
    for variant in result.variants:
        arch = next(a for a in result.tree.archs if a.name == variant.arch_name)
        if "length" not in {p.name for p in arch.params}:
            out.append(f"{arch.name}: has no `length` parameter")
            continue
        probe = LengthProbe(result.source, result.tree, arch, dict(variant.overrides))
        current = dict(variant.checked.params).get("length") if variant.checked else None
        if not isinstance(current, int):
            given = dict(variant.overrides).get("length")
            current = given if isinstance(given, int) else 1000
        out.extend(describe(arch.name, analyse(probe, int(current)), int(current)))
    return out
