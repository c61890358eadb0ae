"""Write a syntax tree back as .arch text (used by the importers), readable and re-parseable."""

from __future__ import annotations

from collections.abc import Sequence

from ..core.pysafe import comment
from . import tree as s

# Binding strength as in the grammar: `or` < `and` < `not` < comparisons < + - < * / // % < **.
_PRECEDENCE = {
    "or": -3,
    "and": -2,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">="), 0),
    "+": 1,
    "-": 1,
    "*": 2,
    "/": 2,
    "//": 2,
    "%": 2,
    "**": 4,
}
WIDTH = 96


def quote(text: str) -> str:
    """A string literal; every character that could end or break it is escaped."""
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    )
    escaped = "".join(ch if ch.isprintable() else " " for ch in escaped)
    return f'"{escaped}"'


def expr(e: s.Expr, parent: int = 0) -> str:
    if isinstance(e, s.Int):
        return str(e.value)
    if isinstance(e, s.Float):
        text = repr(e.value)
        return text
    if isinstance(e, s.Str):
        return quote(e.value)
    if isinstance(e, s.Bool):
        return "true" if e.value else "false"
    if isinstance(e, s.NoneLit):
        return "none"
    if isinstance(e, s.Var):
        return e.name
    if isinstance(e, s.Neg):
        return f"-{expr(e.operand, 3)}"
    if isinstance(e, s.Not):
        text = f"not {expr(e.operand, -1)}"
        return f"({text})" if parent > -1 else text
    if isinstance(e, s.TupleExpr):
        inner = ", ".join(expr(i) for i in e.items)
        return f"({inner},)" if len(e.items) == 1 else f"({inner})"
    prec = _PRECEDENCE[e.op]
    if e.op == "**":  # right-associative; its left operand is a primary
        text = f"{expr(e.left, prec + 1)} ** {expr(e.right, 3)}"
    elif prec == 0:  # comparisons do not chain
        text = f"{expr(e.left, 1)} {e.op} {expr(e.right, 1)}"
    else:
        text = f"{expr(e.left, prec)} {e.op} {expr(e.right, prec + 1)}"
    return f"({text})" if prec < parent else text


def meta_value(v: s.MetaValue, indent: str) -> str:
    if isinstance(v, s.MetaMap):
        return mapping(v, indent)
    if isinstance(v, s.MetaList):
        return "[" + ", ".join(meta_value(i, indent) for i in v.items) + "]"
    return expr(v)


def mapping(m: s.MetaMap, indent: str) -> str:
    flat = "{ " + ", ".join(f"{e.key} = {meta_value(e.value, indent)}" for e in m.entries) + " }"
    if len(flat) + len(indent) < WIDTH and not any(
        isinstance(e.value, s.MetaMap) for e in m.entries
    ):
        return flat if m.entries else "{}"
    inner = indent + "  "
    lines = [f"{inner}{e.key} = {meta_value(e.value, inner)}" for e in m.entries]
    return "{\n" + "\n".join(lines) + f"\n{indent}}}"


def arg(a: s.Arg) -> str:
    value = expr(a.value)
    if a.size_in is not None:
        value = f"{expr(a.size_in)} -> {value}"
    return f"{a.name} = {value}" if a.name else value


def term(t: s.Term, indent: str) -> str:
    if isinstance(t, s.Ref):
        return t.name
    if isinstance(t, s.Call):
        return f"{t.name}({', '.join(arg(a) for a in t.args)})"
    if isinstance(t, s.Repeat):
        return f"{term(t.term, indent)} * {expr(t.count, 3)}"
    if isinstance(t, s.Cond):
        text = f"if {expr(t.cond)} {body(t.then, indent, force=True)}"
        return text if t.orelse is None else f"{text} else {body(t.orelse, indent, force=True)}"
    if isinstance(t, s.For):
        bounds = ", ".join(expr(b) for b in t.range_args)
        return f"for {t.var} in range({bounds}) {body(t.body, indent, force=True)}"
    if isinstance(t, s.Residual):
        text = f"residual {body(t.body, indent)}"
        return text if t.shortcut is None else f"{text} shortcut {body(t.shortcut, indent)}"
    return f"seq {body(t.body, indent)}"


def body(stmts: Sequence[s.Stmt], indent: str, force: bool = False) -> str:
    """`{ ... }` on one line when it is short and simple, else one statement a line.

    One line joins chains with `|`; `force` keeps statements apart (an `if` body may hold
    several chains, and joining them would make one)."""
    inner = indent + "  "
    lines = [stmt(x, inner) for x in stmts]
    one_line = "{ " + " | ".join(lines) + " }" if lines else "{}"
    if (
        (not force or len(stmts) <= 1)
        and all(isinstance(x, s.Chain) for x in stmts)
        and all("\n" not in line for line in lines)
        and len(one_line) + len(indent) < WIDTH - 20
    ):
        return one_line
    return "{\n" + "\n".join(inner + line for line in lines) + f"\n{indent}}}"


def step(st: s.Step, indent: str) -> str:
    text = term(st.term, indent)
    return f"{st.name} = {text}" if st.name else text


def stmt(x: s.Stmt, indent: str) -> str:
    if isinstance(x, s.Chain):
        return " | ".join(step(st, indent) for st in x.steps)
    if isinstance(x, s.InputStmt):
        axes = ", ".join(a.name if a.size is None else f"{a.name}: {expr(a.size)}" for a in x.axes)
        return f"input {x.name} ({axes})" if x.name else f"input ({axes})"
    if isinstance(x, s.LetStmt):
        return f"let {x.name} = {expr(x.value)}"
    if isinstance(x, s.BindStmt):
        return f"{x.name} := {stmt(x.chain, indent)}"
    if isinstance(x, s.ReturnStmt):
        return "return " + ", ".join(name for name, _ in x.names)
    return f"meta {mapping(x.mapping, indent)}"


def params(ps: Sequence[s.Param]) -> str:
    return ", ".join(p.name if p.default is None else f"{p.name} = {expr(p.default)}" for p in ps)


def unparse(file: s.File, header: Sequence[str] = ()) -> str:
    """The .arch text of a syntax tree: header comment lines, blocks, then architectures."""
    # Header lines name input files: escaped, so a file name cannot start a line of its own.
    out: list[str] = [f"# {comment(line)}".rstrip() for line in header]
    if out:
        out.append("")
    for block in file.blocks:
        out.append(f"block {block.name}({params(block.params)}) {body(block.body, '')}")
        out.append("")
    for arch in file.archs:
        text = body(arch.body, "")
        if not text.startswith("{\n"):
            text = "{\n" + "\n".join("  " + stmt(x, "  ") for x in arch.body) + "\n}"
        out.append(f"arch {arch.name}({params(arch.params)}) {text}")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"
