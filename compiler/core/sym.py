"""Symbolic sizes: integer expressions over an architecture's parameters, and integers that carry them.

`Expr` is a canonical polynomial with integer coefficients over atoms: parameter symbols,
floors of an expression divided by a positive constant (`%` is written with a floor), and
powers of a constant base (`2 ** i`). Canonical means equal expressions compare equal:
`floor((floor((L - 18) / 3) - 10) / 4)` is kept as `floor((L - 48) / 12)`.

`SymInt` is an `int` that also carries two expressions, as torch's SymInt carries a hint:
its value for the parameters being checked, `local` (in the names of the class being
emitted: a block's own parameters) and `root` (in the architecture's parameters). Every
shape rule is ordinary integer arithmetic, so running the rules on SymInts derives every
size symbolically at no cost to the rules. What the algebra cannot express (a division by a
symbolic size, a float) falls back to the plain value and, while a `Guards` recorder is
active, records that the result holds only where the operand keeps its value. Comparisons
record the outcome they had, so a run of the checker yields the exact conditions
(the guards) under which its verdict holds for other parameter values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

# ------------------------------------------------------------------ expressions


class Atom:
    """A non-polynomial factor: a symbol, a floor, or a power of a constant base."""

    __slots__ = ("_hash", "key")
    key: str
    _hash: int

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Atom) and other.key == self.key

    def __lt__(self, other: Atom) -> bool:
        return self.key < other.key


class Symbol(Atom):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name
        self.key = "0" + name  # symbols sort first, so `2 * length - 3` reads naturally
        self._hash = hash(self.key)


class Floor(Atom):
    """floor(num / den), den > 0."""

    __slots__ = ("den", "num")

    def __init__(self, num: Expr, den: int) -> None:
        self.num = num
        self.den = den
        self.key = f"1({num.key})//{den}"
        self._hash = hash(self.key)


class Pow(Atom):
    """base ** exp for a constant base >= 2 and a non-constant exponent."""

    __slots__ = ("base", "exp")

    def __init__(self, base: int, exp: Expr) -> None:
        self.base = base
        self.exp = exp
        self.key = f"2{base}**({exp.key})"
        self._hash = hash(self.key)


Mono = tuple[Atom, ...]  # sorted, with repetition for powers


class Expr:
    """A canonical integer polynomial over atoms: a sorted tuple of (monomial, coefficient)."""

    __slots__ = ("_hash", "key", "terms")

    def __init__(self, terms: dict[Mono, int]) -> None:
        items = sorted(((m, c) for m, c in terms.items() if c), key=lambda t: _mono_key(t[0]))
        self.terms: tuple[tuple[Mono, int], ...] = tuple(items)
        self.key = "+".join(f"{c}*{_mono_key(m)}" for m, c in self.terms)
        self._hash = hash(self.key)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, Expr) and other.key == self.key)

    def __repr__(self) -> str:
        return f"Expr({to_text(self)})"

    @property
    def const(self) -> int | None:
        """The value when the expression is a constant, else None."""
        if not self.terms:
            return 0
        if len(self.terms) == 1 and not self.terms[0][0]:
            return self.terms[0][1]
        return None

    def constant_term(self) -> int:
        return sum(c for m, c in self.terms if not m)

    def symbols(self) -> frozenset[str]:
        out: set[str] = set()
        for mono, _ in self.terms:
            for atom in mono:
                out |= _atom_symbols(atom)
        return frozenset(out)


def _mono_key(mono: Mono) -> str:
    # Higher degree first, then by atoms; the constant (empty monomial) sorts last.
    if not mono:
        return "~"
    return f"{9 - min(len(mono), 9)}" + "*".join(a.key for a in mono)


def _atom_symbols(atom: Atom) -> set[str]:
    if isinstance(atom, Symbol):
        return {atom.name}
    if isinstance(atom, Floor):
        return set(atom.num.symbols())
    assert isinstance(atom, Pow)
    return set(atom.exp.symbols())


ZERO = Expr({})


@lru_cache(maxsize=1 << 16)
def const(value: int) -> Expr:
    return Expr({(): value})


@lru_cache(maxsize=1 << 16)
def symbol(name: str) -> Expr:
    return Expr({(Symbol(name),): 1})


@lru_cache(maxsize=1 << 16)
def add(a: Expr, b: Expr) -> Expr:
    terms = dict(a.terms)
    for mono, c in b.terms:
        terms[mono] = terms.get(mono, 0) + c
    return Expr(terms)


@lru_cache(maxsize=1 << 16)
def scale(a: Expr, k: int) -> Expr:
    return Expr({m: c * k for m, c in a.terms})


@lru_cache(maxsize=1 << 16)
def sub(a: Expr, b: Expr) -> Expr:
    return add(a, scale(b, -1))


@lru_cache(maxsize=1 << 16)
def mul(a: Expr, b: Expr) -> Expr:
    ca, cb = a.const, b.const
    if cb is not None:
        return scale(a, cb)
    if ca is not None:
        return scale(b, ca)
    terms: dict[Mono, int] = {}
    for ma, x in a.terms:
        for mb, y in b.terms:
            mono = tuple(sorted(ma + mb))
            terms[mono] = terms.get(mono, 0) + x * y
    return Expr(terms)


@lru_cache(maxsize=1 << 16)
def floordiv(a: Expr, k: int) -> Expr:
    """floor(a / k) for a constant k != 0, simplified."""
    if k < 0:
        return floordiv(scale(a, -1), -k)
    if k == 1:
        return a
    c = a.const
    if c is not None:
        return const(c // k)
    # Whole multiples of k leave the floor: floor((k*q + r) / k) = q + floor(r / k).
    whole: dict[Mono, int] = {}
    rest: dict[Mono, int] = {}
    for mono, coef in a.terms:
        if mono and coef % k == 0:
            whole[mono] = coef // k
        else:
            rest[mono] = coef
    q = Expr(whole)
    r = Expr(rest)
    rc = r.const
    if rc is not None:
        return add(q, const(rc // k))
    # A common factor of the remainder and k cancels: floor(g*x / (g*m)) = floor(x / m).
    g = k
    for _, coef in r.terms:
        g = math.gcd(g, coef)
    if g > 1:
        r = Expr({m: coef // g for m, coef in r.terms})
        k //= g
        if k == 1:
            return add(q, r)
    # Nested floors merge: floor((floor(x / a) + c) / k) = floor((x + a*c) / (a*k)).
    symbolic = [(m, coef) for m, coef in r.terms if m]
    if len(symbolic) == 1 and symbolic[0][1] == 1 and len(symbolic[0][0]) == 1:
        atom = symbolic[0][0][0]
        if isinstance(atom, Floor):
            inner = add(atom.num, const(atom.den * r.constant_term()))
            return add(q, floordiv(inner, atom.den * k))
    return add(q, Expr({(Floor(r, k),): 1}))


@lru_cache(maxsize=1 << 16)
def exact_div(a: Expr, b: Expr) -> Expr | None:
    """a / b when b divides a exactly as polynomials (b a single term), else None."""
    if len(b.terms) != 1:
        return None
    ((mb, cb),) = b.terms
    out: dict[Mono, int] = {}
    for m, c in a.terms:
        rest = list(m)
        for atom in mb:
            if atom not in rest:
                return None
            rest.remove(atom)
        if c % cb:
            return None
        out[tuple(rest)] = out.get(tuple(rest), 0) + c // cb
    return Expr(out)


@lru_cache(maxsize=1 << 16)
def mod(a: Expr, k: int) -> Expr:
    """a % k as Python computes it (the sign of k), written with a floor."""
    return sub(a, scale(floordiv(a, k), k))


@lru_cache(maxsize=1 << 16)
def power(a: Expr, b: Expr) -> Expr | None:
    """a ** b when the result is an integer expression; None when the algebra cannot say."""
    cb, ca = b.const, a.const
    if cb is not None:
        if cb < 0:
            return None if ca not in (1, -1) else const(ca**cb)
        if ca is not None:
            return const(ca**cb)
        if cb > 16:
            return None
        out = const(1)
        for _ in range(cb):
            out = mul(out, a)
        return out
    if ca is not None and ca >= 2:
        return Expr({(Pow(ca, b),): 1})
    return None


def evaluate(expr: Expr, env: Mapping[str, int]) -> int:
    """The value of `expr` with each symbol replaced by its value in `env`."""
    total = 0
    for mono, coef in expr.terms:
        value = coef
        for atom in mono:
            value *= _atom_value(atom, env)
        total += value
    return total


def _atom_value(atom: Atom, env: Mapping[str, int]) -> int:
    if isinstance(atom, Symbol):
        return env[atom.name]
    if isinstance(atom, Floor):
        return evaluate(atom.num, env) // atom.den
    assert isinstance(atom, Pow)
    exp = evaluate(atom.exp, env)
    return int(atom.base**exp) if exp >= 0 else 0


def substitute(expr: Expr, env: Mapping[str, Expr]) -> Expr:
    """`expr` with symbols replaced by expressions (symbols not in `env` stay)."""
    total = ZERO
    for mono, coef in expr.terms:
        value = const(coef)
        for atom in mono:
            value = mul(value, _atom_subst(atom, env))
        total = add(total, value)
    return total


def _atom_subst(atom: Atom, env: Mapping[str, Expr]) -> Expr:
    if isinstance(atom, Symbol):
        return env.get(atom.name, Expr({(atom,): 1}))
    if isinstance(atom, Floor):
        return floordiv(substitute(atom.num, env), atom.den)
    assert isinstance(atom, Pow)
    out = power(const(atom.base), substitute(atom.exp, env))
    assert out is not None
    return out


def periods(expr: Expr, variable: str) -> int:
    """The smallest P such that expr(r + P*t) is a polynomial in t for every residue r:
    the floors' denominators along `variable`'s path (see checks/lengths)."""
    period = 1
    for mono, _ in expr.terms:
        for atom in mono:
            period = math.lcm(period, _atom_period(atom, variable))
    return period


def _atom_period(atom: Atom, variable: str) -> int:
    if isinstance(atom, Floor) and variable in atom.num.symbols():
        # If e(r + P0*t) is a polynomial in t with integer coefficients, e(r + P0*d*t) has
        # every non-constant coefficient divisible by d, so floor(e / d) is one too.
        return periods(atom.num, variable) * atom.den
    return 1


# ------------------------------------------------------------------ printing


def to_text(expr: Expr) -> str:
    """Python source for `expr` (also how diagnostics show it): `200 * ((length - 120) // 48)`."""
    if not expr.terms:
        return "0"
    absorbed = _absorb(expr)
    if absorbed is not None:
        return to_text(absorbed)
    parts: list[tuple[int, str]] = []
    for mono, coef in expr.terms:
        if not mono:
            parts.append((coef, ""))
            continue
        # A negative floor is parenthesized: `-(x) // 3` would floor the negation.
        factors = [_atom_text(a, bool(len(mono) > 1 or coef != 1)) for a in mono]
        parts.append((coef, " * ".join(factors)))
    out = ""
    for i, (coef, body) in enumerate(parts):
        mag = abs(coef)
        text = body if body and mag == 1 else (f"{mag} * {body}" if body else str(mag))
        if i == 0:
            out = text if coef > 0 else f"-{text}"
        else:
            out += f" + {text}" if coef > 0 else f" - {text}"
    return out


def _absorb(expr: Expr) -> Expr | None:
    """`a * (e // k) + c` with `a` dividing `c`, as `a * ((e + k*c/a) // k)`: the form a
    person writes for a pool's output, `(length - 19) // 3 + 1` reads `(length - 16) // 3`."""
    if len(expr.terms) != 2 or expr.terms[1][0]:
        return None
    (mono, a), (_, c) = expr.terms
    if len(mono) != 1 or not isinstance(mono[0], Floor) or c % a:
        return None
    atom = mono[0]
    inner = add(atom.num, const(atom.den * (c // a)))
    return Expr({(Floor(inner, atom.den),): a})


def _atom_text(atom: Atom, in_product: bool) -> str:
    if isinstance(atom, Symbol):
        return atom.name
    if isinstance(atom, Floor):
        num = to_text(atom.num)
        first = atom.num.terms[0] if atom.num.terms else None
        if len(atom.num.terms) > 1 or (first is not None and (first[1] != 1 or len(first[0]) > 1)):
            num = f"({num})"
        text = f"{num} // {atom.den}"
        return f"({text})" if in_product else text
    assert isinstance(atom, Pow)
    exp = to_text(atom.exp)
    if len(atom.exp.terms) > 1 or (atom.exp.const is None and atom.exp.terms[0][1] != 1):
        exp = f"({exp})"
    return f"{atom.base} ** {exp}"


# ------------------------------------------------------------------ guards


@dataclass(frozen=True, slots=True)
class Guard:
    """A comparison the checker made, with its outcome: `lhs op 0` was `holds`."""

    expr: Expr  # in the architecture's parameters (root)
    op: str  # "==", "<", "<=" (the others are normalized to these)
    holds: bool


class Guards:
    """Records the guards of one checker run (see `recording`)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], Guard] = {}

    def add(self, expr: Expr, op: str, holds: bool) -> None:
        if expr.const is not None:
            return
        key = (expr.key, op)
        if key not in self.items:
            self.items[key] = Guard(expr, op, holds)

    def __iter__(self) -> Iterator[Guard]:
        return iter(self.items.values())


_ACTIVE: list[Guards] = []


@contextmanager
def recording() -> Iterator[Guards]:
    """Record every symbolic comparison and specialization made inside the block."""
    guards = Guards()
    _ACTIVE.append(guards)
    try:
        yield guards
    finally:
        _ACTIVE.pop()


_QUIET: list[bool] = []
_SIZING: list[set[str]] = []


def sizing(value: object) -> None:
    """A size is computed at this value's number, out of the algebra (see sizing_pins)."""
    names: frozenset[str] | set[str] = set()
    if isinstance(value, SymInt):
        names = value.root.symbols()
    elif isinstance(value, SymFloat):
        names = value.roots
    for found in _SIZING:
        found |= names


@contextmanager
def sizing_pins() -> Iterator[set[str]]:
    """The parameters a size inside the block was computed at the value of, leaving the
    algebra (a division by a parameter): a class that follows them would be wrong elsewhere."""
    found: set[str] = set()
    _SIZING.append(found)
    try:
        yield found
    finally:
        _SIZING.pop()



@contextmanager
def quiet() -> Iterator[None]:
    """Comparisons inside decide only a warning, never the verdict: record none of them
    (each would split the lengths into needless regions, one per remainder)."""
    _QUIET.append(True)
    try:
        yield
    finally:
        _QUIET.pop()


def _record(expr: Expr, op: str, holds: bool) -> None:
    if _QUIET:
        return
    for guards in _ACTIVE:  # nested recorders (an `if` inside a length probe) all see it
        guards.add(expr, op, holds)


# ------------------------------------------------------------------ symbolic integers


class SymInt(int):
    """An int with its expression in the emitted class's names (`local`) and in the
    architecture's parameters (`root`)."""

    local: Expr
    root: Expr

    def __new__(cls, value: int, local: Expr, root: Expr | None = None) -> SymInt:
        self = super().__new__(cls, value)
        self.local = local
        self.root = local if root is None else root
        return self

    # --- pinning: what leaves the algebra holds only at this value
    def _pin(self) -> int:
        v = int.__int__(self)
        _record(sub(self.root, const(v)), "==", True)
        return v

    def __int__(self) -> int:
        return self._pin()

    def __index__(self) -> int:
        return self._pin()

    def __float__(self) -> float:
        return float(self._pin())

    def __bool__(self) -> bool:
        v = int.__int__(self)
        _record(self.root, "==", v == 0)
        return v != 0

    def __floor__(self) -> SymInt:
        return self

    __ceil__ = __floor__
    __trunc__ = __floor__
    __pos__ = __floor__

    def __round__(self, ndigits: int | None = None) -> int:  # type: ignore[override]
        return self if ndigits is None or ndigits >= 0 else int(round(self._pin(), ndigits))

    def __hash__(self) -> int:
        return int.__hash__(self)

    # --- comparisons record their outcome
    def _cmp(self, other: object, op: str) -> bool:
        if isinstance(other, bool) or not isinstance(other, int):
            if isinstance(other, float):
                return _compare(float(self), other, op)
            return NotImplemented  # type: ignore[no-any-return]
        a = int.__int__(self)
        b = int(int.__int__(other)) if isinstance(other, SymInt) else other
        result = _compare(a, b, op)
        diff = sub(self.root, _root(other))
        if op in ("==", "!="):
            _record(diff, "==", result if op == "==" else not result)
        elif op in ("<", ">="):
            _record(diff, "<", result if op == "<" else not result)
        else:  # "<=", ">"
            _record(diff, "<=", result if op == "<=" else not result)
        return result

    def __eq__(self, other: object) -> bool:
        return self._cmp(other, "==")

    def __ne__(self, other: object) -> bool:
        return self._cmp(other, "!=")

    def __lt__(self, other: object) -> bool:
        return self._cmp(other, "<")

    def __le__(self, other: object) -> bool:
        return self._cmp(other, "<=")

    def __gt__(self, other: object) -> bool:
        return self._cmp(other, ">")

    def __ge__(self, other: object) -> bool:
        return self._cmp(other, ">=")

    # --- arithmetic stays symbolic
    def __add__(self, other: object) -> int:
        return _binary(self, other, "+")

    def __radd__(self, other: object) -> int:
        return _binary(other, self, "+")

    def __sub__(self, other: object) -> int:
        return _binary(self, other, "-")

    def __rsub__(self, other: object) -> int:
        return _binary(other, self, "-")

    def __mul__(self, other: object) -> int:
        return _binary(self, other, "*")

    def __rmul__(self, other: object) -> int:
        return _binary(other, self, "*")

    def __floordiv__(self, other: object) -> int:
        return _binary(self, other, "//")

    def __rfloordiv__(self, other: object) -> int:
        return _binary(other, self, "//")

    def __mod__(self, other: object) -> int:
        return _binary(self, other, "%")

    def __rmod__(self, other: object) -> int:
        return _binary(other, self, "%")

    def __pow__(self, other: object) -> int:  # type: ignore[override]
        return _binary(self, other, "**")

    def __rpow__(self, other: object) -> int:  # type: ignore[override]
        return _binary(other, self, "**")

    def __neg__(self) -> int:
        return _binary(0, self, "-")

    def __abs__(self) -> int:
        return self if self >= 0 else -self  # the comparison records which sign it was

    def __divmod__(self, other: object) -> tuple[int, int]:
        return self // other, self % other

    def __rdivmod__(self, other: object) -> tuple[int, int]:
        return other // self, other % self

    # Bit operations leave the algebra: the result holds at these values only.
    def __lshift__(self, other: object) -> int:
        return _pinned(self, other, int.__lshift__)

    def __rshift__(self, other: object) -> int:
        return _pinned(self, other, int.__rshift__)

    def __and__(self, other: object) -> int:
        return _pinned(self, other, int.__and__)

    def __or__(self, other: object) -> int:
        return _pinned(self, other, int.__or__)

    def __xor__(self, other: object) -> int:
        return _pinned(self, other, int.__xor__)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self) -> int:
        return -self - 1

    def bit_length(self) -> int:
        return self._pin().bit_length()

    def __truediv__(self, other: object) -> float:
        return float(self) / (float(other) if isinstance(other, int) else other)  # type: ignore[operator]

    def __rtruediv__(self, other: object) -> float:
        return other / float(self)  # type: ignore[operator]


def _pinned(a: SymInt, b: object, fn: object) -> int:
    value_b = b._pin() if isinstance(b, SymInt) else b
    return fn(a._pin(), value_b)  # type: ignore[operator, no-any-return]


def _compare(a: float, b: float, op: str) -> bool:
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _local(v: object) -> Expr:
    return v.local if isinstance(v, SymInt) else const(int(v))  # type: ignore[call-overload]


def _root(v: object) -> Expr:
    return v.root if isinstance(v, SymInt) else const(int(v))  # type: ignore[call-overload]


def root_of(v: int) -> Expr:
    """A size in the architecture's parameters (a plain int is a constant)."""
    return _root(v)


_RING: dict[str, tuple[Callable[[Expr, Expr], Expr], Callable[[int, int], int]]] = {
    "+": (add, int.__add__),
    "-": (sub, int.__sub__),
    "*": (mul, int.__mul__),
}


def _binary(a: object, b: object, op: str) -> int:
    """a op b where at least one side is a SymInt; floats and bools leave the algebra."""
    if isinstance(a, float) or isinstance(b, float):
        fa = float(a)  # type: ignore[arg-type]
        fb = float(b)  # type: ignore[arg-type]
        return _FLOAT_OPS[op](fa, fb)  # type: ignore[no-any-return]
    if not isinstance(a, int) or not isinstance(b, int):
        return NotImplemented  # type: ignore[no-any-return]
    va = int.__int__(a)
    vb = int.__int__(b)
    if op in _RING:
        fn, py = _RING[op]
        la, lb = _local(a), _local(b)
        local = fn(la, lb)
        # Where both sides' roots are their local forms (the architecture's own class, or
        # plain numbers), so is the result's: one expression to build, not two.
        same = (not isinstance(a, SymInt) or a.root is la) and (not isinstance(b, SymInt) or b.root is lb)
        return SymInt(py(va, vb), local, None if same else fn(_root(a), _root(b)))
    if op in ("//", "%"):
        if vb == 0:
            raise ZeroDivisionError("integer division or modulo by zero")
        if not isinstance(b, SymInt) or (b.root.const is not None and b.local.const is not None):
            k = vb
            fn = floordiv if op == "//" else mod
            return SymInt(va // vb if op == "//" else va % vb, fn(_local(a), k), fn(_root(a), k))
        # A symbolic divisor: exact when the divisor divides the dividend as polynomials
        # (a view's -1: numel / product of the other sizes); else it holds here only.
        q_local, q_root = exact_div(_local(a), _local(b)), exact_div(_root(a), _root(b))
        if q_local is not None and q_root is not None:
            if op == "//":
                return SymInt(va // vb, q_local, q_root)
            return 0
        b._pin()
        if op == "//":
            sizing(b)  # the quotient is written with this divisor's value: it holds only there
        return _binary(a, vb, op)
    assert op == "**"
    value = va**vb
    if not isinstance(value, int):
        return value  # type: ignore[no-any-return]  # a negative exponent gives a float
    power_local = power(_local(a), _local(b))
    power_root = power(_root(a), _root(b))
    if power_local is None or power_root is None:
        if isinstance(a, SymInt):
            a._pin()
        if isinstance(b, SymInt):
            b._pin()
        return value
    return SymInt(value, power_local, power_root)


_FLOAT_OPS = {
    "+": lambda x, y: x + y,
    "-": lambda x, y: x - y,
    "*": lambda x, y: x * y,
    "//": lambda x, y: x // y,
    "%": lambda x, y: x % y,
    "**": lambda x, y: x**y,
}


def plain(value: int) -> int:
    """The value alone, dropping any expression (no guard: the caller knows it is safe)."""
    return int.__int__(value)


class SymFloat(float):
    """A float parameter's value that remembers the parameter's name (used as it is)."""

    name: str
    roots: frozenset[str]  # the architecture's parameters it comes from

    def __new__(cls, value: float, name: str, roots: frozenset[str] | None = None) -> SymFloat:
        self = super().__new__(cls, value)
        self.name = name
        self.roots = frozenset({name}) if roots is None else roots
        return self


class SymStr(str):
    """A string parameter's value that remembers the parameter's name (used as it is)."""

    name: str
    roots: frozenset[str]  # the architecture's parameters it comes from

    def __new__(cls, value: str, name: str, roots: frozenset[str] | None = None) -> SymStr:
        self = super().__new__(cls, value)
        self.name = name
        self.roots = frozenset({name}) if roots is None else roots
        return self
