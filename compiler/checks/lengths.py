"""Which input lengths an architecture accepts, derived from the size formulas.

Every size is an expression in the parameters (core/sym), and a run of the checker at one
length records each comparison it made on a length-dependent size and its outcome (the
guards). Every length that gives the same outcomes takes the same path through the checker
and gets the same verdict, so one run decides a whole region of lengths at once. The guards
are quasi-affine in the length (floors of divisions by constants), so with L = r + P*t for
the right period P each is a polynomial in t for every residue r, and its region is solved
exactly. Runs at the smallest undecided length continue until every length is decided:
the result holds for every length, not for a sample.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..core.diagnostics import CompileError, Reporter
from ..core.source import Source
from ..core.sym import Expr, Guard, SymInt, const, evaluate, recording, substitute, to_text
from ..core.values import Value
from ..ir import nodes as ir
from ..ir.resolve import Resolver
from ..syntax import tree as s
from .regions import LENGTH, MAX_LENGTH, LengthSet, region
from .shapes import ShapeChecker

MAX_RUNS = 400  # checker runs per analysis; beyond, the report says what is undecided


# ------------------------------------------------------------------ probing


@dataclass(frozen=True)
class Probe:
    """The outcome of checking one input length."""

    ok: bool
    too_short: bool
    guards: tuple[Guard, ...]  # in the length alone
    checked: ir.Architecture | None


class LengthProbe:
    """Checks one architecture at any input length, quietly, recording its guards."""

    def __init__(self, source: Source, tree: s.File, arch: s.ArchDef, overrides: Mapping[str, Value]):
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
        checked = None
        with recording() as guards:
            try:
                resolver = Resolver(self.tree, rep)
                resolved = resolver.arch(self.arch, {**self.overrides, LENGTH: length})
                if not rep.has_errors:
                    checked = ShapeChecker(rep).check(resolved)
                    env = {k: const(int(v)) for k, v in resolved.params if _whole(v) and k != LENGTH}  # type: ignore[arg-type]
            except CompileError:
                checked = None
        if checked is None or rep.has_errors:
            env = {k: const(int(v)) for k, v in self._defaults() if _whole(v) and k != LENGTH}  # type: ignore[arg-type]
        in_length = tuple(
            Guard(e, g.op, g.holds)
            for g in guards
            if (e := substitute(g.expr, env)).const is None and e.symbols() <= {LENGTH}
        )
        errors = [d for d in rep.items if d.is_error]
        return Probe(
            checked is not None and not errors,
            any(d.code == "too-short" for d in errors),
            in_length,
            checked,
        )

    def _defaults(self) -> list[tuple[str, Value]]:
        rep = Reporter(self.source)
        with_values, _ = Resolver(self.tree, rep).bind_params(self.arch, self.overrides, {})
        return list(with_values.items())


def _whole(value: Value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------ the analysis


@dataclass(frozen=True)
class LengthInfo:
    valid: LengthSet | None  # None: not decided (see `undecided`)
    minimum: int | None  # the shortest length with no too-short error
    runs: int
    undecided: int | None = None  # the first length left undecided, when the analysis gave up
    formulas: tuple[tuple[str, str], ...] = ()  # (step, output shape) at the current length
    downsampling: int | None = None


def analyse(probe: LengthProbe, current: int) -> LengthInfo:
    """Decide every length, starting at the current one."""
    undecided = LengthSet.everything()
    valid = LengthSet.empty()
    short = LengthSet.empty()
    runs = 0
    length: int | None = current if current >= 1 else 1
    while length is not None:
        if runs >= MAX_RUNS:
            return LengthInfo(None, None, runs, length, _shape_facts(probe, current)[0])
        result = probe(length)
        runs += 1
        where = region(result.guards)
        if where is None or length not in where:
            # The algebra cannot decide this path: this length alone is decided.
            where = LengthSet(length, bytes(length) + b"\1", 1, frozenset())
        where = where.combine(undecided, "&")
        if result.ok:
            valid = valid.combine(where, "|")
        if result.too_short:
            short = short.combine(where, "|")
        undecided = undecided.combine(where, "-")
        length = undecided.first()
        if length is not None and length > MAX_LENGTH:
            break
    fine = LengthSet.everything().combine(short, "-")
    # The formulas are read off a checked run: the current length, or a valid one.
    shown = current if current in valid else (valid.first() or current)
    return LengthInfo(valid, fine.first(), runs, None, *_shape_facts(probe, shown))


def _shape_facts(probe: LengthProbe, current: int) -> tuple[tuple[tuple[str, str], ...], int | None]:
    """The output shape of every top-level step whose sizes follow the length, in the
    length, and the total downsampling (the slope of the last length-dependent size)."""
    result = probe(current)
    if result.checked is None:
        return (), None
    env = {k: const(int(v)) for k, v in result.checked.params if _whole(v) and k != LENGTH}  # type: ignore[arg-type]
    rows: list[tuple[str, str]] = []
    last: Expr | None = None
    for op in result.checked.cls.forward:
        shape = op.shape
        texts = []
        follows = False
        for dim in shape:
            if dim.size is None:
                texts.append("N")
                continue
            root = substitute(dim.size.root, env) if isinstance(dim.size, SymInt) else const(dim.size)
            if LENGTH in root.symbols():
                follows = True
                texts.append(to_text(root))
                if dim.label not in ("features", "mixed"):
                    last = root
            else:
                texts.append(str(int(dim.size)))
        if follows:
            rows.append((_step_name(op), "(" + ", ".join(texts) + ")"))
    slope = None
    if last is not None:
        a = evaluate(last, {LENGTH: current + (1 << 20)}) - evaluate(last, {LENGTH: current})
        slope = round((1 << 20) / a) if a > 0 else None
    return tuple(rows), slope


def _step_name(op: ir.Op) -> str:
    if isinstance(op, ir.CallAttr):
        return op.name
    if isinstance(op, ir.Functional):
        return op.layer.kind
    if isinstance(op, (ir.Load, ir.Store)):
        return op.name
    if isinstance(op, ir.Merge):
        return op.kind
    if isinstance(op, ir.Loop):
        return f"for {op.var}"
    return "residual"


def describe(name: str, info: LengthInfo, current: int) -> list[str]:
    lines = [f"{name}:"]
    if info.valid is None:
        lines.append(
            f"  valid lengths: not decided beyond {info.undecided} (the analysis stopped after "
            f"{info.runs} checks)"
        )
    else:
        lines.append(f"  valid lengths: {info.valid.describe()}")
        if info.minimum is not None:
            lines.append(f"  shortest length the convolutions and pools allow: {info.minimum}")
        if current not in info.valid:
            lines.append(f"  the current length {current} is not valid")
    if info.downsampling and info.downsampling > 1:
        lines.append(f"  total downsampling: {info.downsampling}x along the length")
    if info.formulas:
        lines.append("  sizes that follow the length:")
        width = max(len(n) for n, _ in info.formulas)
        lines += [f"    {n.ljust(width)}  {shape}" for n, shape in info.formulas]
    return lines


def minimum_length(
    source: Source, tree: s.File, arch: s.ArchDef, overrides: Mapping[str, Value]
) -> int | None:
    """The shortest input length with no too-short error, or None (for a diagnostic's help).

    Output lengths of convolutions and pools never shrink as the input grows, so a binary
    search finds it in a few dozen checks; `analyse` decides every length but costs more.
    """
    probe = LengthProbe(source, tree, arch, overrides)
    if probe(MAX_LENGTH).too_short:
        return None
    lo, hi = 1, MAX_LENGTH
    while lo < hi:
        mid = (lo + hi) // 2
        if probe(mid).too_short:
            lo = mid + 1
        else:
            hi = mid
    return lo


__all__ = ["LengthInfo", "LengthProbe", "LengthSet", "analyse", "describe", "minimum_length", "region"]
