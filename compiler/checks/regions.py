"""Sets of input lengths, and the lengths at which recorded guards keep their outcomes.

A guard (core/sym) is a comparison on a size that follows the length, with the outcome
the checker saw. The guards are quasi-affine in the length (floors of divisions by
constants), so with L = r + P*t for the right period P each is a polynomial in t for
every residue r, and the lengths where it holds are found exactly.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..core.sym import Expr, Guard, evaluate, periods

MAX_LENGTH = 1 << 24  # lengths beyond are not analysed (16M positions)
MAX_PERIOD = 1 << 16
# Guard-by-residue solutions one region may take (about 20 us each): beyond, the algebra
# gives up and the caller decides a single length (16 stride-2 pools: period 65,536).
MAX_WORK = 1 << 15
LENGTH = "length"


# ------------------------------------------------------------------ sets of lengths


@dataclass(frozen=True)
class LengthSet:
    """A set of lengths >= 1: explicit up to `limit`, periodic beyond (L % period in tail)."""

    limit: int
    bits: bytes  # bits[L] for 0 <= L <= limit (bits[0] is always 0)
    period: int
    tail: frozenset[int]

    def __contains__(self, length: object) -> bool:
        if not isinstance(length, int) or length < 1:
            return False
        if length <= self.limit:
            return bool(self.bits[length])
        return length % self.period in self.tail

    @staticmethod
    def empty() -> LengthSet:
        return LengthSet(0, b"\0", 1, frozenset())

    @staticmethod
    def everything() -> LengthSet:
        return LengthSet(0, b"\0", 1, frozenset({0}))

    def aligned(self, limit: int, period: int) -> LengthSet:
        """The same set, explicit up to `limit` and periodic with `period` beyond."""
        limit = max(limit, self.limit)
        period = math.lcm(period, self.period)
        # The periodic part, one period at a time (bytes work in C: sets reach millions).
        pattern = bytes(r in self.tail for r in range(self.period))
        start = self.limit + 1
        count = limit + 1 - start
        shift = start % self.period
        repeated = (pattern[shift:] + pattern * (count // self.period + 1))[:count]
        tail = frozenset(r for r in range(period) if r % self.period in self.tail)
        return LengthSet(limit, self.bits + repeated, period, tail)

    def combine(self, other: LengthSet, op: str) -> LengthSet:
        limit, period = max(self.limit, other.limit), math.lcm(self.period, other.period)
        a, b = self.aligned(limit, period), other.aligned(limit, period)
        # Every byte is 0 or 1, so whole-number bit operations act on each byte alone.
        x, y = int.from_bytes(a.bits, "big"), int.from_bytes(b.bits, "big")
        if op == "|":
            z, tail = x | y, a.tail | b.tail
        elif op == "&":
            z, tail = x & y, a.tail & b.tail
        else:  # "-"
            z, tail = x & ~y, a.tail - b.tail
        return LengthSet(limit, z.to_bytes(limit + 1, "big"), period, tail)

    def first(self) -> int | None:
        """The smallest member, or None when the set is empty."""
        index = self.bits.find(1, 1)
        if index != -1:
            return index
        if not self.tail:
            return None
        base = self.limit + 1
        return min(base + (r - base) % self.period for r in self.tail)

    def is_empty(self) -> bool:
        return self.first() is None

    def ranges(self, upto: int) -> list[tuple[int, int]]:
        """Maximal runs of members up to `upto`."""
        out: list[tuple[int, int]] = []
        start = None
        for n in range(1, upto + 1):
            if n in self:
                if start is None:
                    start = n
            elif start is not None:
                out.append((start, n - 1))
                start = None
        if start is not None:
            out.append((start, upto))
        return out

    def describe(self) -> str:
        """`984 to 1031`, `any length >= 120`, `163, 167, 171, ... (length % 4 == 3), from 163`."""
        if self.is_empty():
            return "none"
        tail = sorted(self.tail)
        step = _step(tail, self.period)
        finite = self.ranges(self.limit)
        if not tail:
            return _ranges_text(finite)
        if step == 1:
            # Everything from some point on: merge the last finite run into the tail.
            start = self.limit + 1
            while start - 1 >= 1 and (start - 1) in self:
                start -= 1
            head = [r for r in finite if r[1] < start - 1]
            text = f"any length >= {start}"
            return f"{_ranges_text(head)}, and {text}" if head else text
        if step is not None:
            residue = tail[0] % step
            start = next(n for n in range(1, self.limit + step + 1) if n in self and n % step == residue)
            while start - step >= 1 and (start - step) in self:
                start -= step
            rest = [r for r in finite if not (r[0] == r[1] and r[0] % step == residue and r[0] >= start)]
            text = f"every length >= {start} with length % {step} == {residue}"
            return f"{_ranges_text(rest)}, and {text}" if rest else text
        return (
            f"{_ranges_text(finite)}, and beyond {self.limit} the lengths L with L % {self.period} in {tail}"
        )


def _step(tail: list[int], period: int) -> int | None:
    """d when the tail residues are exactly one class mod d (d divides the period)."""
    if not tail:
        return None
    for d in range(1, period + 1):
        if period % d == 0 and len(tail) == period // d and all((r - tail[0]) % d == 0 for r in tail):
            return d
    return None


def _ranges_text(ranges: list[tuple[int, int]]) -> str:
    parts = [f"{a}" if a == b else f"{a} to {b}" for a, b in ranges[:12]]
    if len(ranges) > 12:
        parts.append(f"... ({len(ranges)} runs)")
    return ", ".join(parts)


# ------------------------------------------------------------------ solving guards


def region(guards: Iterable[Guard], max_work: int = MAX_WORK) -> LengthSet | None:
    """The lengths at which every guard has its recorded outcome; None when the algebra
    cannot decide it (a period or a threshold beyond the analysed range, or more than
    `max_work` guards times residues to solve)."""
    return solve(list(guards), max_work)[0]


def solve(items: Sequence[Guard], max_work: int = MAX_WORK) -> tuple[LengthSet | None, int]:
    """`region`, and the work it took (guards times residues; 0 when it gave up at once),
    for a caller's budget."""
    period = _period(items, max_work)
    if period is None:
        return None, 0
    return _residues(items, period), period * len(items)


def _residues(items: Sequence[Guard], period: int) -> LengthSet | None:
    limit = 0
    allowed: list[list[tuple[int, float]]] = []  # per residue r (L = r + P*t): t-intervals
    for r in range(1, period + 1):
        intervals: list[tuple[int, float]] = [(0, math.inf)]
        for guard in items:
            sol = _solve(guard, r, period)
            if sol is None:
                return None
            intervals = _intersect(intervals, sol)
            if not intervals:
                break
        allowed.append(intervals)
        # Lengths beyond MAX_LENGTH are not analysed: an interval reaching past it counts
        # as unbounded (the report says so), and one starting past it as empty.
        cap = (MAX_LENGTH - r) // period
        intervals = [(lo, math.inf if hi > cap else hi) for lo, hi in intervals if lo <= cap]
        allowed[-1] = intervals
        for lo, hi in intervals:
            end = hi if hi != math.inf else lo
            limit = max(limit, r + period * int(end))
    limit += period
    if limit > MAX_LENGTH:
        return None
    bits = bytearray(limit + 1)
    tail = set()
    for r, intervals in zip(range(1, period + 1), allowed, strict=True):
        for lo, hi in intervals:
            t = lo
            while r + period * t <= limit and t <= hi:
                bits[r + period * t] = 1
                t += 1
            if hi == math.inf:
                tail.add(r % period)
    return LengthSet(limit, bytes(bits), period, frozenset(tail))


def _period(guards: Sequence[Guard], max_work: int) -> int | None:
    period = 1
    for guard in guards:
        period = math.lcm(period, periods(guard.expr, LENGTH))
        if period > MAX_PERIOD or period * len(guards) > max_work:
            return None
    return period


def _poly(expr: Expr, r: int, period: int) -> list[int] | None:
    """Coefficients (low first) of t -> expr(r + P*t), of degree at most 3; None beyond."""
    points = [evaluate(expr, {LENGTH: r + period * t}) for t in range(6)]
    # Newton's forward differences give the degree and, exactly, the coefficients.
    diffs = [points]
    while len(diffs) <= 4 and any(diffs[-1]):
        row = diffs[-1]
        diffs.append([b - a for a, b in itertools.pairwise(row)])
    if any(diffs[-1]):
        return None
    degree = len(diffs) - 2
    coeffs = [Fraction(0)] * 4
    for k in range(max(degree, 0) + 1):
        for i, c in enumerate(_BINOMIALS[k]):
            coeffs[i] += diffs[k][0] * c
    if any(c.denominator != 1 for c in coeffs):
        return None  # not integral in t
    out = [int(c) for c in coeffs[: max(degree, 0) + 1]]
    check = 11
    if sum(c * check**i for i, c in enumerate(out)) != evaluate(expr, {LENGTH: r + period * check}):
        return None
    return out


# C(t, k) as a polynomial in t, low coefficients first.
_BINOMIALS = {
    0: [Fraction(1)],
    1: [Fraction(0), Fraction(1)],
    2: [Fraction(0), Fraction(-1, 2), Fraction(1, 2)],
    3: [Fraction(0), Fraction(1, 3), Fraction(-1, 2), Fraction(1, 6)],
}


def _solve(guard: Guard, r: int, period: int) -> list[tuple[int, float]] | None:
    """The t >= 0 at which the guard has its outcome, as sorted disjoint intervals."""
    coeffs = _poly(guard.expr, r, period)
    if coeffs is None:
        return None

    def holds(t: int) -> bool:
        value = sum(c * t**i for i, c in enumerate(coeffs))
        if guard.op == "==":
            result = value == 0
        elif guard.op == "<":
            result = value < 0
        else:
            result = value <= 0
        return bool(result == guard.holds)

    # Beyond the Cauchy bound of its roots the polynomial keeps the sign of its leading term.
    lead = next((c for c in reversed(coeffs) if c), 0)
    degree = max((i for i, c in enumerate(coeffs) if c), default=0)
    bound = 0 if degree == 0 else 1 + max(abs(c) for c in coeffs[:degree]) // abs(lead) + 1
    if degree == 1:
        return _linear(coeffs[1], coeffs[0], guard)
    if bound > MAX_LENGTH:
        return None
    out: list[tuple[int, float]] = []
    start = None
    for t in range(int(bound) + 1):
        if holds(t):
            if start is None:
                start = t
        elif start is not None:
            out.append((start, t - 1))
            start = None
    if holds(int(bound) + 1):
        out.append((start if start is not None else int(bound) + 1, math.inf))
    elif start is not None:
        out.append((start, int(bound)))
    return out


def _linear(a: int, b: int, guard: Guard) -> list[tuple[int, float]]:
    """Solve a*t + b (op) 0 == holds over t >= 0, exactly (a != 0)."""
    if guard.op == "==":
        root = -b // a if (-b) % a == 0 else None
        if guard.holds:
            return [(root, root)] if root is not None and root >= 0 else []
        if root is None or root < 0:
            return [(0, math.inf)]
        return [iv for iv in ((0, root - 1), (root + 1, math.inf)) if iv[1] >= iv[0]]
    # value < 0  (or <= 0): a*t < -b  (or <=)
    strict = guard.op == "<"
    if not guard.holds:  # the negation: value >= 0 (or > 0), i.e. -value <= 0 (or < 0)
        a, b, strict = -a, -b, not strict
    # a*t + b < 0 (strict) or <= 0.
    if a > 0:
        hi = (-b - 1) // a if strict else (-b) // a  # largest t
        return [(0, hi)] if hi >= 0 else []
    # a < 0: t > b / -a (strict) or >=.
    na = -a
    lo = b // na + 1 if strict else -((-b) // na)
    return [(max(lo, 0), math.inf)]


def _intersect(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> list[tuple[int, float]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return sorted(out)
