"""The syntax tree of an .arch file: what the user wrote, with a span on every node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..core.source import Span

# ------------------------------------------------------------------ expressions


# The language's reserved words: never a name.
KEYWORDS = frozenset(
    {
        "arch", "block", "seq", "residual", "shortcut", "input", "meta", "let", "true", "false",
        "none", "for", "in", "if", "else", "return", "and", "or", "not",
    }
)


@dataclass(frozen=True, slots=True)
class Int:
    value: int
    span: Span


@dataclass(frozen=True, slots=True)
class Float:
    value: float
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True, slots=True)
class NoneLit:
    span: Span


@dataclass(frozen=True, slots=True)
class Var:
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class BinOp:
    op: str  # one of + - * / // % ** == != < <= > >= and or
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class TupleExpr:
    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    """`kernels[i]`: an item of a tuple."""

    value: Expr
    index: Expr
    span: Span


Expr = Union[Int, Float, Str, Bool, NoneLit, Var, BinOp, Neg, Not, TupleExpr, Index]

# ------------------------------------------------------------------ metadata


@dataclass(frozen=True, slots=True)
class MetaEntry:
    key: str
    value: MetaValue
    span: Span


@dataclass(frozen=True, slots=True)
class MetaMap:
    entries: tuple[MetaEntry, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class MetaList:
    items: tuple[MetaValue, ...]
    span: Span


MetaValue = Union[Expr, MetaMap, MetaList]

# ------------------------------------------------------------------ statements


@dataclass(frozen=True, slots=True)
class Arg:
    """`value`, `name = value`, or the size form `in -> out`."""

    name: str | None
    value: Expr
    span: Span
    size_in: Expr | None = None


@dataclass(frozen=True, slots=True)
class Ref:
    """A bare name: a layer defined earlier, a block, or a layer kind with defaults."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """`name(args)`; with `over`, a merge of a loop's outputs: `cat(for i in range(n) { ... }, dim = 1)`."""

    name: str
    args: tuple[Arg, ...]
    span: Span
    name_span: Span
    over: For | None = None


@dataclass(frozen=True, slots=True)
class Seq:
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Residual:
    """`residual { body }`: body(x) + x; with `shortcut { ... }`, body(x) + shortcut(x)."""

    body: tuple[Stmt, ...]
    span: Span
    shortcut: tuple[Stmt, ...] | None = None


@dataclass(frozen=True, slots=True)
class Cond:
    """`if cond { ... } else { ... }`: the steps of the branch the parameters choose."""

    cond: Expr
    then: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...] | None
    span: Span


@dataclass(frozen=True, slots=True)
class For:
    """`for i in range(start, stop, step) { ... }`: the body once per index."""

    var: str
    var_span: Span
    range_args: tuple[Expr, ...]
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Repeat:
    term: Term
    count: Expr
    span: Span
    count_span: Span


Term = Union[Ref, Call, Seq, Residual, Cond, For, Repeat]


@dataclass(frozen=True, slots=True)
class Step:
    name: str | None
    term: Term
    span: Span
    name_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Chain:
    steps: tuple[Step, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Axis:
    name: str
    size: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class InputStmt:
    axes: tuple[Axis, ...]
    span: Span
    name: str | None = None  # `input seq (...)`; the first input is `x` when unnamed
    name_span: Span | None = None


@dataclass(frozen=True, slots=True)
class LetStmt:
    name: str
    value: Expr
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class MetaStmt:
    mapping: MetaMap
    span: Span


@dataclass(frozen=True, slots=True)
class BindStmt:
    """`name := chain`: the chain's result is a tensor called `name`."""

    name: str
    chain: Chain
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class ReturnStmt:
    """`return a, b`: the outputs, in order; `return {key: a, ...}` gives them keys."""

    names: tuple[tuple[str, Span], ...]
    span: Span
    keys: tuple[tuple[str, Span], ...] | None = None  # a dict return: one key per output


Stmt = Union[Chain, InputStmt, LetStmt, MetaStmt, BindStmt, ReturnStmt]

# ------------------------------------------------------------------ definitions


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    default: Expr | None
    span: Span


@dataclass(frozen=True, slots=True)
class ArchDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class BlockDef:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span
    name_span: Span


@dataclass(frozen=True, slots=True)
class File:
    archs: tuple[ArchDef, ...]
    blocks: tuple[BlockDef, ...]
