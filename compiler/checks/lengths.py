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
from ..core.sym import Expr, Guard, SymInt, const, evaluate, recording, substitute, symbol, to_text
from ..core.values import Value
from ..ir import nodes as ir
from ..ir.resolve import Resolver, names_in
from ..syntax import tree as s
from .regions import LENGTH, MAX_LENGTH, MAX_WORK, LengthSet, region, solve
from .shapes import ShapeChecker

MAX_RUNS = 400  # checker runs per analysis; beyond, the report says what is undecided
MAX_ALGEBRA = 1 << 17  # region work per analysis (see regions.MAX_WORK): about a second at most


# ------------------------------------------------------------------ probing


@dataclass(frozen=True)
class Probe:
    """The outcome of checking one input length."""

    ok: bool
    too_short: bool
    guards: tuple[Guard, ...]  # in the length alone
    checked: ir.Architecture | None
    # What is built follows the length (a loop's count, an `if`): the sizes are then no
    # longer monotone in the length, and formulas in the length hold near it only.
    structural: bool = False
    # The guards say all the run decided: false when a parameter follows the length in a
    # way the algebra cannot carry (a float), so that this length is decided alone.
    exact: bool = True


class LengthProbe:
    """Checks one architecture at any input length, quietly, recording its guards."""

    def __init__(self, source: Source, tree: s.File, arch: s.ArchDef, overrides: Mapping[str, Value]):
        self.source = source
        self.tree = tree
        self.arch = arch
        self.overrides = dict(overrides)
        self.cache: dict[int, Probe] = {}
        # Parameters whose defaults follow the length (`pools = length // 4`): each is a
        # symbol of its own in a run, replaced in its guards by its formula in the length.
        self.derived = _follow_length(arch, overrides)

    def __call__(self, length: int) -> Probe:
        if length not in self.cache:
            self.cache[length] = self._probe(length)
        return self.cache[length]

    def _probe(self, length: int) -> Probe:
        rep = Reporter(self.source)
        checked = None
        resolver = Resolver(self.tree, rep)
        formulas: dict[str, Expr] | None = {}
        with recording() as guards:
            try:
                formulas = self._formulas(length)
                resolved = resolver.arch(self.arch, {**self.overrides, LENGTH: length})
                if not rep.has_errors:
                    checked = ShapeChecker(rep).check(resolved)
                    env = {k: const(int(v)) for k, v in resolved.params if _whole(v) and k != LENGTH}  # type: ignore[arg-type]
            except CompileError:
                checked = None
        if checked is None or rep.has_errors:
            env = {k: const(int(v)) for k, v in self._defaults() if _whole(v) and k != LENGTH}  # type: ignore[arg-type]
        env.update(formulas or {})
        in_length = tuple(
            Guard(e, g.op, g.holds)
            for g in guards
            if (e := substitute(g.expr, env)).const is None and e.symbols() <= {LENGTH}
        )
        structural = bool(resolver.shaping & {LENGTH, *self.derived})
        errors = [d for d in rep.items if d.is_error]
        return Probe(
            checked is not None and not errors,
            any(d.code == "too-short" for d in errors),
            in_length,
            checked,
            structural,
            formulas is not None,
        )

    def _formulas(self, length: int) -> dict[str, Expr] | None:
        """Each derived parameter as an expression in the length (None when one is not a
        whole number the algebra carries). Run inside the probe's recording, so that what
        its default decides (a pinned value) is among the guards."""
        if not self.derived:
            return {}
        # Not `bind_params`: it takes a --set value of a default's exact type only, and
        # here the length is a symbol.
        resolver = Resolver(self.tree, Reporter(self.source))
        values: dict[str, Value] = {}
        out: dict[str, Expr] = {}
        for param in self.arch.params:
            if param.name == LENGTH:
                values[LENGTH] = SymInt(length, symbol(LENGTH))
            elif param.name in self.overrides:
                values[param.name] = self.overrides[param.name]
            elif param.default is not None:
                try:
                    values[param.name] = value = resolver.eval(param.default, values)
                except CompileError:
                    return None
                if param.name in self.derived:
                    if not isinstance(value, SymInt):
                        return None
                    out[param.name] = value.root
        return out

    def _defaults(self) -> list[tuple[str, Value]]:
        rep = Reporter(self.source)
        with_values, _ = Resolver(self.tree, rep).bind_params(self.arch, self.overrides, {})
        return list(with_values.items())


def _follow_length(arch: s.ArchDef, overrides: Mapping[str, Value]) -> frozenset[str]:
    follows = {LENGTH}
    for param in arch.params:
        if param.name in follows or param.name in overrides or param.default is None:
            continue
        if names_in(param.default) & follows:
            follows.add(param.name)
    return frozenset(follows - {LENGTH})


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
    follows: str | None = None  # what makes the layers themselves follow the length
    below: LengthSet | None = None  # when undecided: the valid lengths below `undecided`


def analyse(probe: LengthProbe, current: int) -> LengthInfo:
    """Decide every length, starting at the current one."""
    undecided = LengthSet.everything()
    valid = LengthSet.empty()
    short = LengthSet.empty()
    runs = 0
    algebra = MAX_ALGEBRA
    length: int | None = current if current >= 1 else 1
    while length is not None:
        if runs >= MAX_RUNS:
            below = LengthSet(length - 1, b"\0" + b"\1" * (length - 1), 1, frozenset())
            return LengthInfo(
                None,
                None,
                runs,
                length,
                *_shape_facts(probe, current)[:1],
                follows=_follows(probe, current),
                below=valid.combine(below, "&"),
            )
        result = probe(length)
        runs += 1
        where = None
        if result.exact:  # else the guards miss what a parameter decides
            where, work = solve(result.guards, min(MAX_WORK, algebra))
            algebra -= work
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
    return LengthInfo(valid, fine.first(), runs, None, *_shape_facts(probe, shown), _follows(probe, current))


def _follows(probe: LengthProbe, current: int) -> str | None:
    if probe.derived:
        return "parameter " + ", ".join(f"`{n}`" for n in sorted(probe.derived)) + " follows the length"
    if probe(current).structural:
        return "what is built (a loop's count, a repetition, an `if`) follows the length"
    return None


def _shape_facts(probe: LengthProbe, current: int) -> tuple[tuple[tuple[str, str], ...], int | None]:
    """The output shape of every top-level step whose sizes follow the length, in the
    length, and the total downsampling (the slope of the last length-dependent size)."""
    result = probe(current)
    if result.checked is None or probe.derived or result.structural:
        return (), None  # formulas in the length alone would hold near this length only
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
        if info.below is not None and info.undecided is not None and info.undecided > 1:
            lines.append(f"  valid lengths below {info.undecided}: {info.below.describe()}")
    else:
        lines.append(f"  valid lengths: {info.valid.describe()}")
        if info.minimum is not None:
            lines.append(f"  shortest length the convolutions and pools allow: {info.minimum}")
        if current not in info.valid:
            lines.append(f"  the current length {current} is not valid")
    if info.follows:
        lines.append(f"  {info.follows}: each length is checked with the layers built at that length")
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
    """The shortest input length with no too-short error, or None."""
    return _shortest(LengthProbe(source, tree, arch, overrides))


def too_short_help(
    source: Source, tree: s.File, arch: s.ArchDef, overrides: Mapping[str, Value]
) -> str | None:
    """The help of a too-short error: the shortest length that works, or why there is none
    to give (None when neither is known)."""
    probe = LengthProbe(source, tree, arch, overrides)
    if (why := _follows(probe, 1)) is not None:
        return (
            f"{why}, so a longer input also builds more layers (see `archc lint --lengths`); "
            "or use a smaller kernel, stride or pool"
        )
    shortest = _shortest(probe)
    if shortest is None:
        return None
    return (
        f"the shortest input that works is {shortest} positions (--set length={shortest}); "
        "or use a smaller kernel, stride or pool"
    )


def _shortest(probe: LengthProbe) -> int | None:
    """Output lengths of convolutions and pools never shrink as the input grows, so a binary
    search finds it in a few dozen checks; `analyse` decides every length but costs more.
    When what is built follows the length (`for i in range(length)`), or parameters do,
    that does not hold (and a probe at a long length would build that many layers): no
    answer then."""
    if probe.derived or probe(1).structural or probe(MAX_LENGTH).too_short:
        return None
    lo, hi = 1, MAX_LENGTH
    while lo < hi:
        mid = (lo + hi) // 2
        if probe(mid).too_short:
            lo = mid + 1
        else:
            hi = mid
    return lo


__all__ = [
    "LengthInfo",
    "LengthProbe",
    "LengthSet",
    "analyse",
    "describe",
    "minimum_length",
    "region",
    "too_short_help",
]
