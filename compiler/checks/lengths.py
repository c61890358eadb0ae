"""Which input lengths an architecture accepts: minimum, valid range, total downsampling.

Output lengths of convolutions and pools never decrease as the input grows, so a
binary search over the `length` parameter finds the shortest input that works and,
when a written size pins the length, the (contiguous) range of lengths that fit it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from ..core.diagnostics import Reporter
from ..core.source import Source, Span
from ..core.values import Value
from ..ir import nodes as ir
from ..ir.layers import lookup
from ..ir.resolve import Resolver
from ..syntax import tree as s
from .shapes import ShapeChecker

MAX_LENGTH = 1 << 24


@dataclass(frozen=True)
class Probe:
    """The outcome of checking one input length."""

    too_short: bool
    ok: bool
    pinned: tuple[tuple[int, int], ...]  # (written, inferred) for each written input size


def _strip(cls: ir.ClassDef) -> tuple[ir.ClassDef, dict[tuple[int, int, str], int]]:
    """The class with every written input size removed (so it is inferred), and those sizes."""
    written: dict[tuple[int, int, str], int] = {}

    def layer(node: ir.Layer) -> ir.Layer:
        spec = lookup(node.kind)
        if spec is None or spec.size_in is None or spec.size_in not in node.explicit:
            return node
        value = node.get(spec.size_in)
        if isinstance(value, int):
            written[(node.span.start, node.span.end, spec.size_in)] = value
        stripped = node.with_arg(spec.size_in, None)
        return replace(stripped, explicit=node.explicit - {spec.size_in})

    def module(node: ir.ModuleExpr) -> ir.ModuleExpr:
        if isinstance(node, ir.Layer):
            return layer(node)
        if isinstance(node, ir.Sequential):
            return replace(node, items=tuple(module(i) for i in node.items))
        if isinstance(node, ir.BlockRef):
            return replace(node, cls=walk(node.cls))
        if isinstance(node, ir.ModuleList):
            return replace(node, items=tuple(module(i) for i in node.items))
        return node

    def op(node: ir.Op) -> ir.Op:
        if isinstance(node, ir.Functional):
            return replace(node, layer=layer(node.layer))
        if isinstance(node, ir.Residual):
            return replace(
                node,
                body=tuple(op(o) for o in node.body),
                shortcut=tuple(op(o) for o in node.shortcut),
            )
        if isinstance(node, ir.Loop):
            return replace(node, iterations=tuple(tuple(op(o) for o in it) for it in node.iterations))
        return node

    def walk(c: ir.ClassDef) -> ir.ClassDef:
        return replace(
            c,
            attrs=tuple(replace(a, module=module(a.module)) for a in c.attrs),
            forward=tuple(op(o) for o in c.forward),
        )

    return walk(cls), written


def layers(cls: ir.ClassDef) -> Iterator[ir.Layer]:
    """Every layer of a class and its blocks (each module once per place it is written)."""

    def module(node: ir.ModuleExpr) -> Iterator[ir.Layer]:
        if isinstance(node, ir.Layer):
            yield node
        elif isinstance(node, ir.Sequential):
            for item in node.items:
                yield from module(item)
        elif isinstance(node, ir.BlockRef):
            yield from layers(node.cls)
        elif isinstance(node, ir.ModuleList):
            for item in node.items:
                yield from module(item)

    for attr in cls.attrs:
        yield from module(attr.module)
    for o in ir.walk(cls.forward):
        if isinstance(o, ir.Functional):
            yield o.layer


class LengthProbe:
    """Checks one architecture at any input length, quietly."""

    def __init__(
        self, source: Source, tree: s.File, arch: s.ArchDef, overrides: Mapping[str, Value]
    ):
        self.source = source
        self.tree = tree
        self.arch = arch
        self.overrides = dict(overrides)
        self.cache: dict[int, Probe] = {}

    def __call__(self, length: int) -> Probe:
        if length not in self.cache:
            self.cache[length] = self._probe(length)
        return self.cache[length]

    def _probe(self, length: int) -> Probe:
        rep = Reporter(self.source)
        resolver = Resolver(self.tree, rep)
        try:
            resolved = resolver.arch(self.arch, {**self.overrides, "length": length})
        except Exception:
            return Probe(False, False, ())
        if rep.has_errors:
            return Probe(False, False, ())
        stripped, written = _strip(resolved.cls)
        checked = ShapeChecker(rep).check(replace(resolved, cls=stripped))
        too_short = any(d.code == "too-short" for d in rep.items)
        if checked is None or rep.has_errors:
            return Probe(too_short, False, ())
        inferred = {}
        for node in layers(checked.cls):
            spec = lookup(node.kind)
            if spec is not None and spec.size_in:
                key = (node.span.start, node.span.end, spec.size_in)
                if key in written:
                    inferred[key] = node.get(spec.size_in)
        pinned = tuple((written[k], int(inferred[k])) for k in sorted(written) if k in inferred)  # type: ignore[arg-type]
        return Probe(False, all(w == i for w, i in pinned), pinned)


def _first(lo: int, hi: int, pred: object) -> int | None:
    """The smallest n in [lo, hi] with pred(n), for a monotone pred; None if none."""
    check = pred
    if not check(hi):  # type: ignore[operator]
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if check(mid):  # type: ignore[operator]
            hi = mid
        else:
            lo = mid + 1
    return lo


@dataclass(frozen=True)
class LengthInfo:
    minimum: int | None  # the shortest length with no too-short error
    valid: tuple[int, int] | None  # inclusive range of lengths that check; hi None = unbounded
    unbounded: bool
    downsampling: int | None


def analyse(probe: LengthProbe) -> LengthInfo:
    minimum = _first(1, MAX_LENGTH, lambda n: not probe(n).too_short)
    if minimum is None:
        return LengthInfo(None, None, False, None)
    base = probe(minimum)
    pinned_lengths = [w for w, _ in base.pinned]
    if not pinned_lengths:
        ok = _first(minimum, MAX_LENGTH, lambda n: probe(n).ok)
        return LengthInfo(
            minimum, (ok, MAX_LENGTH) if ok else None, ok is not None, downsampling(probe, ok)
        )

    # A written size depending on the length is matched by one contiguous range of lengths.
    def reached(n: int) -> bool:
        p = probe(n)
        return bool(p.pinned) and all(i >= w for w, i in p.pinned)

    def passed(n: int) -> bool:
        p = probe(n)
        return bool(p.pinned) and any(i > w for w, i in p.pinned)

    lo = _first(minimum, MAX_LENGTH, reached)
    if lo is None or not probe(lo).ok:
        return LengthInfo(minimum, None, False, downsampling(probe, minimum))
    beyond = _first(lo, MAX_LENGTH, passed)
    hi = (beyond - 1) if beyond is not None else MAX_LENGTH
    return LengthInfo(minimum, (lo, hi), beyond is None, downsampling(probe, lo))


def downsampling(probe: LengthProbe, length: int | None) -> int | None:
    """How many input positions make one more position at the end of the length axis."""
    if length is None:
        return None
    sizes = []
    for n in (length + 4096, length + 8192):
        checked = _final_length(probe, n)
        if checked is None:
            return None
        sizes.append(checked)
    if sizes[1] == sizes[0]:
        return None
    return round(4096 / (sizes[1] - sizes[0]))


def _final_length(probe: LengthProbe, length: int) -> int | None:
    rep = Reporter(probe.source)
    try:
        resolved = Resolver(probe.tree, rep).arch(probe.arch, {**probe.overrides, "length": length})
    except Exception:
        return None
    stripped, _ = _strip(resolved.cls)
    checked = ShapeChecker(rep).check(replace(resolved, cls=stripped))
    if checked is None:
        return None
    last = None
    for op in checked.cls.forward:
        for dim in op.shape:
            if dim.varies and dim.label not in ("features", "mixed"):
                last = dim.size
    return last


def describe(name: str, info: LengthInfo, current: int) -> list[str]:
    lines = [f"{name}:"]
    if info.minimum is None:
        lines.append("  no input length works")
        return lines
    lines.append(f"  minimum input length: {info.minimum}")
    if info.valid is None:
        lines.append("  valid lengths: none (a written size never fits)")
    elif info.unbounded:
        lines.append(f"  valid lengths: any length >= {info.valid[0]}")
    elif info.valid[0] == info.valid[1]:
        lines.append(f"  valid lengths: only {info.valid[0]} (a written input size pins it)")
    else:
        lines.append(
            f"  valid lengths: {info.valid[0]} to {info.valid[1]} (a written input size pins them)"
        )
    if info.downsampling:
        lines.append(f"  total downsampling: {info.downsampling}x along the length")
    if info.valid and not info.valid[0] <= current <= info.valid[1]:
        lines.append(f"  the current length {current} is not valid")
    return lines


def minimum_length(
    source: Source, tree: s.File, arch: s.ArchDef, overrides: Mapping[str, Value]
) -> int | None:
    """The shortest input length with no too-short error, or None."""
    probe = LengthProbe(source, tree, arch, overrides)
    return _first(1, MAX_LENGTH, lambda n: not probe(n).too_short)


__all__ = ["LengthInfo", "LengthProbe", "Span", "analyse", "describe", "minimum_length"]
