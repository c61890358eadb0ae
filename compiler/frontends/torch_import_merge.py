"""Merge lifted blocks that differ only in numbers into one block with parameters.

Hand-written PyTorch often copies a helper class per stage (ChromDragoNN's L1Block,
L2Block and L4Block differ only in channels and kernel sizes); a hand-written .arch
writes one block and passes the numbers. Equal numbers stay literals, differing ones
become parameters named after the layer argument they fill.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ..ir.layers import lookup
from ..syntax import tree as s
from ..syntax.unparse import expr as show_expr
from ..syntax.unparse import params as show_params
from ..syntax.unparse import stmt as show_stmt

_RENAME = {"out_channels": "channels", "out_features": "features", "hidden_size": "hidden",
           "num_features": "features", "in_channels": "in_channels"}
_RESERVED = frozenset({"arch", "block", "seq", "residual", "input", "let", "meta", "true", "false", "none",
                       "batch", "x", "self", "identity"})


@dataclass(frozen=True)
class _Hole:
    literal: s.Expr
    hint: str


@dataclass(frozen=True)
class Merge:
    """One merged block: its definition, and how each former block is now called."""

    block: s.BlockDef
    members: dict[str, list[s.Expr]]  # former block name -> values of the new parameters
    new_params: list[str]


def _literal(e: s.Expr) -> bool:
    if isinstance(e, (s.Int, s.Float)):
        return True
    if isinstance(e, s.Neg):
        return _literal(e.operand)
    return isinstance(e, s.TupleExpr) and bool(e.items) and all(_literal(i) for i in e.items)


def _positional_names(kind: str) -> list[str]:
    spec = lookup(kind)
    if spec is None:
        return []
    first = spec.size_out or spec.size_in
    rest = [p.name for p in spec.params if p.name not in (spec.size_in, spec.size_out)]
    return ([first] if first else []) + rest


def _map_stmts(stmts: Sequence[s.Stmt], fn: Callable[[s.Call], s.Term]) -> tuple[s.Stmt, ...]:
    """Rewrite every call (and bare reference, as a call without arguments) in statements."""

    def term(t: s.Term) -> s.Term:
        if isinstance(t, s.Call):
            return fn(t)
        if isinstance(t, s.Ref):
            got = fn(s.Call(t.name, (), t.span, t.span))
            return t if isinstance(got, s.Call) and got.name == t.name and not got.args else got
        if isinstance(t, s.Repeat):
            return replace(t, term=term(t.term))
        if isinstance(t, s.For):
            return replace(t, body=_map_stmts(t.body, fn))
        if isinstance(t, s.Cond):
            return replace(
                t,
                then=_map_stmts(t.then, fn),
                orelse=None if t.orelse is None else _map_stmts(t.orelse, fn),
            )
        if isinstance(t, s.Residual):
            return replace(
                t,
                body=_map_stmts(t.body, fn),
                shortcut=None if t.shortcut is None else _map_stmts(t.shortcut, fn),
            )
        return replace(t, body=_map_stmts(t.body, fn))

    out: list[s.Stmt] = []
    for st in stmts:
        if isinstance(st, s.Chain):
            out.append(replace(st, steps=tuple(replace(step, term=term(step.term)) for step in st.steps)))
        elif isinstance(st, s.BindStmt):
            chain = st.chain
            out.append(replace(st, chain=replace(
                chain, steps=tuple(replace(step, term=term(step.term)) for step in chain.steps))))
        else:
            out.append(st)
    return tuple(out)


def _holes(block: s.BlockDef) -> tuple[str, list[_Hole]]:
    """The block with every literal layer argument replaced by a numbered hole, and the holes."""
    holes: list[_Hole] = []

    def call(c: s.Call) -> s.Term:
        names = _positional_names(c.name)
        args = []
        pos = 0
        for arg in c.args:
            hint = arg.name or (names[pos] if pos < len(names) else "arg")
            if arg.name is None:
                pos += 1
            value, size_in = arg.value, arg.size_in
            if _literal(value):
                holes.append(_Hole(value, _RENAME.get(hint, hint)))
                value = s.Var(f"__hole{len(holes)}__", value.span)
            if size_in is not None and _literal(size_in):
                holes.append(_Hole(size_in, "in_" + _RENAME.get(hint, hint)))
                size_in = s.Var(f"__hole{len(holes)}__", size_in.span)
            args.append(replace(arg, value=value, size_in=size_in))
        return replace(c, args=tuple(args))

    body = _map_stmts(block.body, call)
    key = show_params(block.params) + "{" + "\n".join(show_stmt(st, "") for st in body) + "}"
    return key, holes


def find_merges(file: s.File) -> list[Merge]:
    """Groups of two or more blocks equal up to their numbers, as merged blocks."""
    groups: dict[str, list[tuple[s.BlockDef, list[_Hole]]]] = {}
    for block in file.blocks:
        if any(not isinstance(st, s.Chain) for st in block.body):
            continue  # named tensors and merges: kept as they are
        key, holes = _holes(block)
        groups.setdefault(key, []).append((block, holes))
    taken = {b.name for b in file.blocks}
    merges = []
    for members in groups.values():
        if len(members) < 2:
            continue
        first, first_holes = members[0]
        vectors = [tuple(show_expr(h[i].literal) for _, h in members) for i in range(len(first_holes))]
        used = {p.name for p in first.params} | _step_names(first.body) | _RESERVED
        param_of: dict[tuple[str, ...], str] = {}
        for i, vector in enumerate(vectors):
            if len(set(vector)) > 1 and vector not in param_of:
                name, n = first_holes[i].hint, 2
                while name in used:
                    name, n = f"{first_holes[i].hint}{n}", n + 1
                used.add(name)
                param_of[vector] = name

        def fill(c: s.Call, vectors: list[tuple[str, ...]] = vectors,
                 param_of: dict[tuple[str, ...], str] = param_of, holes: list[_Hole] = first_holes) -> s.Term:
            args = []
            for arg in c.args:
                args.append(replace(arg, value=_plug(arg.value, vectors, param_of, holes),
                                    size_in=_plug(arg.size_in, vectors, param_of, holes)
                                    if arg.size_in is not None else None))
            return replace(c, args=tuple(args))

        hollow = _hollow(first)
        body = _map_stmts(hollow.body, fill)
        new_params = list(param_of.values())
        params = first.params + tuple(s.Param(p, None, first.name_span) for p in new_params)
        stripped = re.sub(r"\d+", "", first.name)
        names = {re.sub(r"\d+", "", b.name) for b, _ in members}
        name = stripped if len(names) == 1 and stripped and stripped not in taken and (
            lookup(stripped) is None) else first.name
        taken.add(name)
        values: dict[str, list[s.Expr]] = {}
        for block, holes in members:
            chosen = {}
            for i, vector in enumerate(vectors):
                if vector in param_of and param_of[vector] not in chosen:
                    chosen[param_of[vector]] = holes[i].literal
            values[block.name] = [chosen[p] for p in new_params]
        merges.append(Merge(replace(first, name=name, params=params, body=body), values, new_params))
    return merges


def _hollow(block: s.BlockDef) -> s.BlockDef:
    counter = iter(range(1, 1_000_000))

    def call(c: s.Call) -> s.Term:
        args = []
        for arg in c.args:
            value, size_in = arg.value, arg.size_in
            if _literal(value):
                value = s.Var(f"__hole{next(counter)}__", value.span)
            if size_in is not None and _literal(size_in):
                size_in = s.Var(f"__hole{next(counter)}__", size_in.span)
            args.append(replace(arg, value=value, size_in=size_in))
        return replace(c, args=tuple(args))

    return replace(block, body=_map_stmts(block.body, call))


def _plug(e: s.Expr | None, vectors: list[tuple[str, ...]], param_of: dict[tuple[str, ...], str],
          holes: list[_Hole]) -> s.Expr:
    assert e is not None
    if isinstance(e, s.Var) and e.name.startswith("__hole"):
        i = int(e.name[6:-2]) - 1
        vector = vectors[i]
        if vector in param_of:
            return s.Var(param_of[vector], e.span)
        return holes[i].literal
    return e


def _step_names(stmts: Sequence[s.Stmt]) -> set[str]:
    out: set[str] = set()
    for st in stmts:
        if isinstance(st, s.Chain):
            for step in st.steps:
                if step.name:
                    out.add(step.name)
                if isinstance(step.term, (s.Seq, s.Residual)):
                    out |= _step_names(step.term.body)
    return out


def apply_merges(file: s.File, merges: list[Merge]) -> s.File:
    """The file with each group of blocks replaced by its merged block, and calls rewritten."""
    if not merges:
        return file
    calls: dict[str, tuple[Merge, list[s.Expr]]] = {}
    for merge in merges:
        for name, values in merge.members.items():
            calls[name] = (merge, values)

    def call(c: s.Call) -> s.Term:
        if c.name not in calls:
            return c
        merge, values = calls[c.name]
        keyword = any(a.name is not None for a in c.args)
        extra = tuple(
            s.Arg(p if keyword else None, v, c.span)
            for p, v in zip(merge.new_params, values, strict=True)
        )
        return s.Call(merge.block.name, c.args + extra, c.span, c.name_span)

    merged_names = {n for m in merges for n in m.members}
    firsts = {next(iter(m.members)): m.block for m in merges}
    blocks = []
    for block in file.blocks:
        if block.name in firsts:
            merged = firsts[block.name]
            blocks.append(replace(merged, body=_map_stmts(merged.body, call)))
        elif block.name not in merged_names:
            blocks.append(replace(block, body=_map_stmts(block.body, call)))
    archs = tuple(replace(a, body=_map_stmts(a.body, call)) for a in file.archs)
    return s.File(archs, tuple(blocks))
