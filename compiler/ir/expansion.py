"""How big and how deep an architecture becomes once expanded, computed before expanding it.

`B() * 1000000000`, or forty blocks each repeating the one before twice, are a few
lines of text that expand to more layers than any machine holds. The resolver asks
here first, and refuses an architecture over the limits with a diagnostic, so its
work stays linear in what it is allowed to build. The walk over blocks uses an
explicit stack: a chain of thousands of blocks costs no Python recursion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.source import Span
from ..syntax import tree as s

MAX_LAYERS = 200_000  # layers (and reuses of layers) of one expanded architecture
MAX_NESTING = 100  # blocks, seq groups and residuals nested inside one another
_CAP = MAX_LAYERS + 1  # counts saturate here: 2**1000 layers is no more refused than 2**18


@dataclass
class _Local:
    """What one body holds by itself, and the blocks it uses."""

    layers: int = 0
    depth: int = 0  # nesting of seq/residual groups within the body
    # (block name, times used, group nesting at the use, span of the use)
    uses: list[tuple[str, int, int, Span]] = field(default_factory=list)
    biggest: tuple[int, Span | None] = (0, None)  # the most repeated single layer


@dataclass(frozen=True)
class Size:
    """An expanded architecture (or block): its layers and its nesting depth."""

    layers: int
    depth: int


@dataclass(frozen=True)
class Excess:
    """Where an architecture goes over a limit: the use to point at, and by how much."""

    what: str  # "layers" or "depth"
    amount: int
    span: Span


def _saturating(n: int) -> int:
    return min(n, _CAP)


def _count(expr: s.Expr) -> int:
    """A repetition count written as a number; one written with parameters is known only
    once they are bound, and the resolver bounds it then."""
    return max(expr.value, 0) if isinstance(expr, s.Int) else 1


def _walk_body(stmts: tuple[s.Stmt, ...], local: _Local, times: int, depth: int, blocks: set[str]) -> None:
    for stmt in stmts:
        if isinstance(stmt, s.BindStmt):
            stmt = stmt.chain
        if isinstance(stmt, s.Chain):
            for step in stmt.steps:
                _walk_term(step.term, local, times, depth, blocks, None)


def _walk_term(
    term: s.Term, local: _Local, times: int, depth: int, blocks: set[str], repeat: Span | None
) -> None:
    # Recursion here follows the syntax tree, whose depth the parser caps. A diagnostic
    # points at the outermost repetition of what it counts (`B() * 1000`).
    if isinstance(term, s.Repeat):
        count = _saturating(times * _count(term.count))
        _walk_term(term.term, local, count, depth, blocks, repeat or term.span)
    elif isinstance(term, (s.Seq, s.Residual)):
        local.depth = max(local.depth, depth + 1)
        _walk_body(term.body, local, times, depth + 1, blocks)
        if isinstance(term, s.Residual) and term.shortcut:
            _walk_body(term.shortcut, local, times, depth + 1, blocks)
    elif isinstance(term, s.For):
        bounds = [b.value if isinstance(b, s.Int) else None for b in term.range_args]
        n = 1
        if all(b is not None for b in bounds):
            n = len(range(*[b for b in bounds if b is not None])) if bounds[-1] != 0 else 0
        _walk_body(term.body, local, _saturating(times * n), depth, blocks)
    elif isinstance(term, s.Cond):
        _walk_body(term.then, local, times, depth, blocks)
        _walk_body(term.orelse or (), local, times, depth, blocks)
    elif isinstance(term, s.Call) and term.over is not None:
        _walk_term(term.over, local, times, depth, blocks, repeat)
    elif term.name in blocks:
        local.uses.append((term.name, times, depth, repeat or term.span))
    else:
        local.layers = _saturating(local.layers + times)
        if times > local.biggest[0]:
            local.biggest = (times, repeat or term.span)


class Expansion:
    """Sizes of every block of a file, computed once."""

    def __init__(self, blocks: dict[str, s.BlockDef]) -> None:
        names = set(blocks)
        self.local = {}
        for name, block in blocks.items():
            local = _Local()
            _walk_body(block.body, local, 1, 0, names)
            self.local[name] = local
        self.names = names
        self.sizes: dict[str, Size] = {}
        self._compute()

    def _compute(self) -> None:
        """Post-order over the block graph with an explicit stack; a cycle (reported by
        the resolver as a recursive block) counts its back edge as nothing."""
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        for root in sorted(self.local):
            if state.get(root):
                continue
            stack: list[tuple[str, int]] = [(root, 0)]
            state[root] = 1
            while stack:
                name, index = stack.pop()
                uses = self.local[name].uses
                if index < len(uses):
                    stack.append((name, index + 1))
                    callee = uses[index][0]
                    if not state.get(callee):
                        state[callee] = 1
                        stack.append((callee, 0))
                    continue
                self.sizes[name] = self._size(self.local[name])
                state[name] = 2

    def _size(self, local: _Local) -> Size:
        layers, depth = local.layers, local.depth
        for callee, times, at, _ in local.uses:
            inner = self.sizes.get(callee, Size(0, 0))  # absent: a cycle's back edge
            layers = _saturating(layers + times * inner.layers)
            depth = max(depth, at + 1 + inner.depth)
        return Size(layers, depth)

    def check(self, arch: s.ArchDef) -> Excess | None:
        """The first limit `arch` goes over, located at the use that goes over it."""
        local = _Local()
        _walk_body(arch.body, local, 1, 0, self.names)
        size = self._size(local)
        if size.layers > MAX_LAYERS:
            worst = max(
                local.uses,
                key=lambda use: use[1] * self.sizes.get(use[0], Size(0, 0)).layers,
                default=None,
            )
            span = arch.name_span
            worst_layers = 0 if worst is None else worst[1] * self.sizes.get(worst[0], Size(0, 0)).layers
            if worst is not None and worst_layers >= local.biggest[0]:
                span = worst[3]
            elif local.biggest[1] is not None:
                span = local.biggest[1]
            return Excess("layers", size.layers, span)
        if size.depth > MAX_NESTING:
            for callee, _, at, span in local.uses:
                if at + 1 + self.sizes.get(callee, Size(0, 0)).depth == size.depth:
                    return Excess("depth", size.depth, span)
            return Excess("depth", size.depth, arch.name_span)
        return None
