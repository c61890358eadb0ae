"""What the language server knows about one document, computed without pygls.

`check_text` runs the same pipeline as `archc lint` on an in-memory text (parse, then the
driver's `check_tree`, with `# archc: allow(...)` applied by the driver's own
`apply_allows`), and keeps the syntax tree and the checked IR. Hover, definitions,
references and document symbols read them; nothing here re-implements a check.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

from ..checks.shapes import pool_output
from ..core.allow import apply_allows
from ..core.diagnostics import CompileError, Diagnostic, Severity
from ..core.source import Source, Span
from ..core.values import show
from ..driver import Result, check_tree
from ..frontends.files import MAX_INPUT_BYTES, UsageError, read_source
from ..ir import nodes as ir
from ..ir.layers import REQUIRED, LayerSpec, all_names, lookup
from ..syntax import tree as s
from ..syntax.parser import parse


@dataclass(frozen=True)
class Analysis:
    """One version of a document, checked."""

    source: Source
    diagnostics: tuple[Diagnostic, ...]
    tree: s.File | None
    result: Result | None

    @cached_property
    def hovers(self) -> tuple[HoverEntry, ...]:
        """Every step of every checked variant, with its shapes (built on the first hover)."""
        if self.result is None:
            return ()
        out: list[HoverEntry] = []
        names = {a.name: a.name_span for a in self.tree.archs} if self.tree is not None else {}
        for variant in self.result.variants:
            checked = variant.checked
            if checked is None:
                continue
            # The architecture's name and its input statement: what goes in and comes out.
            params = ", ".join(f"{k}={show(v)}" for k, v in checked.params)
            lines = (
                *(f"input {_code(text)}" for text in ir.input_texts(checked)),
                *(f"output {_code(text)}" for text in ir.output_texts(checked)),
            )
            title = f"arch {checked.name}({params})"
            for span in (names.get(checked.name), checked.input_span):
                if span is not None:
                    out.append(HoverEntry(span, title, (), (), None, "", lines))
            arch = next((a for a in self.tree.archs if a.name == checked.name), None) if self.tree else None
            values = dict(checked.params)
            for param in arch.params if arch is not None else ():
                if param.name in values:
                    span = Span(param.span.start, param.span.start + len(param.name))
                    value = _code(f"{param.name} = {show(values[param.name])}")
                    out.append(
                        HoverEntry(span, f"parameter {param.name}", (), (), None, checked.name, (value,))
                    )
            _class_entries(checked.cls, out, variant.arch_name)
        return tuple(out)

    @cached_property
    def symbols(self) -> SymbolIndex:
        return SymbolIndex.build(self.tree) if self.tree is not None else SymbolIndex()


def check_text(path: str, text: str, shortest: bool = True) -> Analysis:
    """Check a document's text as `archc lint PATH` checks the file (without `shortest`, a
    too-short error's help does not yet name the shortest length that works)."""
    if len(text) * 4 > MAX_INPUT_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        # The same cap as for files on disk: a document this large is refused, not parsed.
        source = Source(path, text[:4096])
        diag = Diagnostic(
            Severity.ERROR,
            "too-large",
            f"the file is larger than {MAX_INPUT_BYTES:,} bytes, the most archc reads",
            source,
            Span(0, min(1, len(source.text))),
            help="architecture files are a few kilobytes; split generated inputs or use blocks and repeats",
        )
        return Analysis(Source(path, text), (diag,), None, None)
    # A byte-order mark is not part of the text (read_source drops it); a space in its
    # place keeps every offset where the editor has it.
    source = Source(path, " " + text[1:] if text.startswith("\ufeff") else text)
    try:
        tree = parse(source)
    except CompileError as err:
        # As run_path does for a file that does not parse: allowances are still applied,
        # so an acknowledgement on a broken file is reported the same way.
        return Analysis(source, tuple(apply_allows([err.diagnostic], source)), None, None)
    result = check_tree(source, tree, shortest=shortest)  # every architecture: no --arch, so no UsageError
    return Analysis(source, tuple(result.diagnostics), tree, result)


# ------------------------------------------------------------------ hover


@dataclass(frozen=True)
class HoverEntry:
    """One step as the checker saw it: where it is written, what goes in and out."""

    span: Span
    title: str
    in_shape: ir.Shape
    out_shape: ir.Shape
    layer: ir.Layer | None = None
    where: str = ""  # the architecture or block instance
    lines: tuple[str, ...] = ()  # shown instead of the shapes, when given


def _class_entries(cls: ir.ClassDef, out: list[HoverEntry], where: str) -> None:
    _ops(cls, cls.forward, cls.in_shape, out, where)


def _module_entries(
    module: ir.ModuleExpr,
    cls: ir.ClassDef,
    shape: ir.Shape,
    result: ir.Shape,
    out: list[HoverEntry],
    where: str,
) -> None:
    """The steps inside a module called at `shape` (a seq's items, a block's forward)."""
    if isinstance(module, ir.Layer):
        out.append(HoverEntry(module.span, module.kind, shape, result, module, where))
    elif isinstance(module, ir.Sequential):
        current = shape
        for item, after in zip(module.items, module.shapes, strict=False):
            _module_entries(item, cls, current, after, out, where)
            current = after
    elif isinstance(module, ir.BlockRef):
        out.append(HoverEntry(module.span, f"block {module.cls.name}", shape, result, None, where))
        for checked in (module.cls, *module.calls):
            args = ", ".join(f"{k}={show(v)}" for k, v in checked.params)
            _class_entries(checked, out, f"{checked.name}({args})")
    elif isinstance(module, ir.AttrRef):
        target = cls.attr(module.name)
        if target is not None:
            _module_entries(target.module, cls, shape, result, out, where)


def _ops(
    cls: ir.ClassDef, ops: tuple[ir.Op, ...], shape: ir.Shape, out: list[HoverEntry], where: str
) -> ir.Shape:
    for op in ops:
        if isinstance(op, ir.CallAttr):
            attr = cls.attr(op.name)
            module: ir.ModuleExpr | None = attr.module if attr else None
            if isinstance(module, ir.ModuleList) and op.index is not None and op.index < len(module.items):
                module = module.items[op.index]
            layer = module if isinstance(module, ir.Layer) else None
            title = op.name if layer is None else f"{op.name} ({layer.kind})"
            out.append(HoverEntry(op.span, title, shape, op.shape, layer, where))
            if module is not None and not isinstance(module, ir.ModuleList):
                _module_entries(module, cls, shape, op.shape, out, where)
            shape = op.shape
        elif isinstance(op, ir.Functional):
            out.append(HoverEntry(op.span, op.layer.kind, shape, op.shape, op.layer, where))
            shape = op.shape
        elif isinstance(op, ir.Load):
            out.append(HoverEntry(op.span, f"tensor `{op.name}`", op.shape, op.shape, None, where))
            shape = op.shape
        elif isinstance(op, ir.Store):
            out.append(HoverEntry(op.span, f"tensor `{op.name}`", op.shape, op.shape, None, where))
        elif isinstance(op, ir.Merge):
            out.append(HoverEntry(op.span, op.kind, shape, op.shape, None, where))
            shape = op.shape
        elif isinstance(op, ir.Loop):
            start = shape
            for index, iteration in zip(op.indices, op.iterations, strict=False):
                # a gather loop's iterations each read its input
                entry = start if op.merge is not None else shape
                shape = _ops(cls, iteration, entry, out, f"{where}, {op.var}={index}")
            out.append(HoverEntry(op.span, f"for {op.var}", start, op.shape, None, where))
            if op.merge is not None:  # `cat(for ...)`: the merge of the iterations' outputs
                title = f"{op.merge.kind} of for {op.var}"
                out.append(HoverEntry(op.merge.span, title, start, op.shape, None, where))
            shape = op.shape
        else:  # Residual
            _ops(cls, op.body, shape, out, where)
            _ops(cls, op.shortcut, shape, out, where)
            out.append(HoverEntry(op.span, "residual", shape, op.shape, None, where))
            shape = op.shape
    return shape


def _md_shape(shape: ir.Shape) -> str:
    return f"{_code(ir.show_shape(shape))} {ir.show_axes(shape)}" if shape else "?"


def _code(text: str) -> str:
    """A Markdown code span: nothing in it is read as emphasis (`2*0 - 1*(19 - 1)`)."""
    return "`" + text.replace("`", "'") + "`"


def derivation(entry: HoverEntry) -> list[str]:
    """How the sizes of one step came about, as the checker recorded them."""
    lines: list[str] = []
    layer = entry.layer
    if layer is not None:
        spec = lookup(layer.kind)
        if layer.comment:
            lines.append(layer.comment)
        if spec is not None and spec.size_in and spec.size_in not in layer.explicit:
            value = layer.get(spec.size_in)
            if value is not None and not layer.comment:
                lines.append(
                    f"{spec.size_in} = {show(value)}: inferred from the input {ir.show_shape(entry.in_shape)}"
                )
        if spec is not None and spec.spatial:
            lines.extend(_window_lines(layer, spec, entry.in_shape, entry.out_shape))
    for dim in entry.out_shape:
        # A merged size (`3600 = 200 channels x 18 positions`), unless the layer said it already.
        if dim.size is not None and " x " in dim.why and (layer is None or dim.why not in layer.comment):
            lines.append(f"{dim.label} {dim.size} = {dim.why}")
    return lines


def _ints(value: object, n: int) -> tuple[int, ...] | None:
    if isinstance(value, tuple) and len(value) == n and all(isinstance(v, int) for v in value):
        return tuple(int(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    return None


def _window_lines(layer: ir.Layer, spec: LayerSpec, before: ir.Shape, after: ir.Shape) -> list[str]:
    """The output-size formula of a convolution or pool, per spatial axis, with its values.

    It is shown only when its value is the checker's size, so a formula on screen never
    disagrees with the shape above it.
    """
    n = spec.spatial
    if spec.name.startswith(("adaptive", "convtranspose")) or len(before) != len(after) or len(before) < n:
        return []
    kernel = _ints(layer.get("kernel_size"), n)
    stride_value = layer.get("stride")
    stride = kernel if stride_value is None else _ints(stride_value, n)
    pad_value = layer.get("padding", 0)
    dilation = _ints(layer.get("dilation", 1), n)
    if kernel is None or stride is None or dilation is None or isinstance(pad_value, str):
        return []
    pad = _ints(pad_value, n)
    if pad is None:
        return []
    ceil = bool(layer.get("ceil_mode", False))
    lines = []
    for i in range(n):
        axis_in, axis_out = before[len(before) - n + i], after[len(after) - n + i]
        size = axis_in.size
        if size is None or axis_out.size is None:
            continue
        # The formula as shown, evaluated: PyTorch's, but for ceil mode's rule that the
        # last window starts inside the input (shapes.pool_output), which it then omits.
        numerator = size + 2 * pad[i] - dilation[i] * (kernel[i] - 1) - 1
        got = (-(-numerator // stride[i]) if ceil else numerator // stride[i]) + 1
        if got != axis_out.size or got != pool_output(size, kernel[i], stride[i], pad[i], dilation[i], ceil):
            continue
        if (kernel[i], stride[i], pad[i], dilation[i]) == (1, 1, 0, 1):
            continue  # a pointwise step keeps the size: no formula to show
        div = "ceil" if ceil else "floor"
        lines.append(
            f"{axis_out.label} {got} = {div}(({size} + 2*{pad[i]} - {dilation[i]}*({kernel[i]} - 1) - 1)"
            f" / {stride[i]}) + 1"
        )
    return lines


def hover_text(analysis: Analysis, offset: int) -> tuple[str, Span] | None:
    """Markdown for the innermost step at `offset`, with the span it covers."""
    best: Span | None = None
    for entry in analysis.hovers:
        if entry.span.start <= offset < max(entry.span.end, entry.span.start + 1) and (
            best is None or entry.span.end - entry.span.start < best.end - best.start
        ):
            best = entry.span
    if best is None:
        return None
    # The same step in several block instances or loop iterations: one text per distinct
    # result, with every place it was checked in.
    found: dict[tuple[str, str], list[str]] = {}
    for entry in analysis.hovers:
        if entry.span != best:
            continue
        # Markdown without fences: shapes and derivations as code spans, one list item each.
        if entry.lines:
            lines = list(entry.lines)
        elif entry.title.startswith("tensor "):
            lines = [f"shape {_md_shape(entry.out_shape)}"]
        else:
            lines = [f"input {_md_shape(entry.in_shape)}", f"output {_md_shape(entry.out_shape)}"]
        lines.extend(_code(line) for line in derivation(entry))
        wheres = found.setdefault((entry.title, "\n".join(f"- {line}" for line in lines)), [])
        if entry.where not in wheres:
            wheres.append(entry.where)
    parts = []
    for (title, body), wheres in found.items():
        places = ", ".join(_code(w) for w in wheres[:MAX_HOVER_CALLS] if w)
        if len(wheres) > MAX_HOVER_CALLS:
            places += f" and {len(wheres) - MAX_HOVER_CALLS} more"
        parts.append(f"**{title}**{' in ' + places if places else ''}\n\n{body}")
    shown = parts[:MAX_HOVER_CALLS]
    if len(parts) > len(shown):
        shown.append(f"... and {len(parts) - len(shown)} more, with other sizes")
    return "\n\n".join(shown), best


MAX_HOVER_CALLS = 4  # a step in a loop or a reused block: its first few distinct calls

_WHERE = re.compile(r"(.+):([0-9]{1,9}):([0-9]{1,9})")


def hover_at_path(where: str) -> str | list[Diagnostic] | None:
    """`archc lsp --hover FILE:LINE:COL` (1-based): the hover text the server gives there,
    the file's errors when it cannot be read, or None when no step is there."""
    match = _WHERE.fullmatch(where)
    if match is None:
        raise UsageError(f"--hover expects FILE.arch:LINE:COLUMN, got {where!r}")
    path, line, col = match.group(1), int(match.group(2)), int(match.group(3))
    if not path.lower().endswith(".arch"):
        raise UsageError(f"{path}: --hover reads .arch files")
    got = read_source(path)
    if isinstance(got, Diagnostic):
        return [got]
    analysis = check_text(path, got.text)
    if line < 1 or line > got.line_col(len(got.text))[0] or col < 1:
        raise UsageError(f"{path} has no line {line}, column {col}")
    found = hover_text(analysis, got.offset(line, col))
    return found[0] if found is not None else None


# ------------------------------------------------------------------ symbols


@dataclass(frozen=True)
class Symbol:
    """A name defined in a document: a block, a layer, a tensor, a parameter, a let, a loop index."""

    kind: str  # "block", "layer", "tensor", "param", "let", "index", or "input" (an implicit `x`)
    name: str
    scope: int  # index of the arch or block it belongs to (-1 for blocks and archs)
    span: Span  # the name where it is defined


@dataclass
class SymbolIndex:
    """Every definition and every use of a name, each use tied to its definition."""

    definitions: list[Symbol] = field(default_factory=list)
    uses: list[tuple[Span, Symbol]] = field(default_factory=list)
    outline: list[Outline] = field(default_factory=list)

    @staticmethod
    def build(tree: s.File) -> SymbolIndex:
        index = SymbolIndex()
        blocks: dict[str, Symbol] = {}
        for b in tree.blocks:
            blocks.setdefault(b.name, Symbol("block", b.name, -1, b.name_span))
        index.definitions.extend(blocks.values())
        scopes: list[s.ArchDef | s.BlockDef] = [*tree.archs, *tree.blocks]
        for number, scope in enumerate(scopes):
            _Scope(index, blocks, number).run(scope)
        return index

    def at(self, offset: int) -> Symbol | None:
        """The symbol whose definition or use covers `offset`."""
        for sym in self.definitions:
            if sym.span.start <= offset <= sym.span.end:
                return sym
        for span, sym in self.uses:
            if span.start <= offset <= span.end:
                return sym
        return None

    def references(self, sym: Symbol, include_definition: bool) -> list[Span]:
        found = [span for span, other in self.uses if other == sym]
        return [sym.span, *found] if include_definition else found


@dataclass(frozen=True)
class Outline:
    """A document-symbol tree node."""

    kind: str  # "arch", "block", "param", "layer", "tensor", "let", "input"
    name: str
    span: Span
    name_span: Span
    children: tuple[Outline, ...] = ()


def _name_span(span: Span, name: str) -> Span:
    return Span(span.start, span.start + len(name))


class _Scope:
    """Walks one arch or block, recording its names and their uses."""

    def __init__(self, index: SymbolIndex, blocks: dict[str, Symbol], number: int) -> None:
        self.index = index
        self.blocks = blocks
        self.number = number
        self.names: dict[str, Symbol] = {}
        self.children: list[Outline] = []

    def define(self, kind: str, name: str, span: Span, whole: Span | None = None) -> None:
        if name in self.names:
            return  # a second definition is the checker's error; the first one stays the target
        sym = Symbol(kind, name, self.number, span)
        self.names[name] = sym
        self.index.definitions.append(sym)
        if kind not in ("index", "input"):
            self.children.append(Outline(kind, name, whole or span, span))

    def use(self, name: str, span: Span, kinds: tuple[str, ...]) -> None:
        sym = self.names.get(name)
        if sym is not None and sym.kind in kinds:
            self.index.uses.append((span, sym))
        elif sym is None and "block" in kinds and name in self.blocks:
            self.index.uses.append((span, self.blocks[name]))

    def run(self, scope: s.ArchDef | s.BlockDef) -> None:
        for p in scope.params:
            self.define("param", p.name, _name_span(p.span, p.name), p.span)
        # Names are collected first: a tensor may be returned, a layer reused, before the
        # walk reaches a later use (and uses before the definition are the checker's business).
        for stmt in scope.body:
            self.collect(stmt)
        if "x" not in self.names:
            # No `input` statement: `x`, the input, is the architecture's (or block's) own.
            self.define("input", "x", scope.name_span)
        for stmt in scope.body:
            self.stmt(stmt)
        kind = "arch" if isinstance(scope, s.ArchDef) else "block"
        self.index.outline.append(
            Outline(kind, scope.name, scope.span, scope.name_span, tuple(self.children))
        )

    # -- definitions

    def collect(self, stmt: s.Stmt) -> None:
        if isinstance(stmt, s.InputStmt):
            name = stmt.name or "x"
            self.define("tensor", name, stmt.name_span or stmt.span, stmt.span)
        elif isinstance(stmt, s.LetStmt):
            self.define("let", stmt.name, stmt.name_span, stmt.span)
        elif isinstance(stmt, s.BindStmt):
            self.define("tensor", stmt.name, stmt.name_span, stmt.span)
            self.collect_chain(stmt.chain)
        elif isinstance(stmt, s.Chain):
            self.collect_chain(stmt)

    def collect_chain(self, chain: s.Chain) -> None:
        for step in chain.steps:
            if step.name is not None and step.name_span is not None:
                self.define("layer", step.name, step.name_span, step.span)
            for body in _bodies(step.term):
                for stmt in body:
                    self.collect(stmt)
            loop = step.term.over if isinstance(step.term, s.Call) else step.term
            if isinstance(loop, s.For):
                self.define("index", loop.var, loop.var_span)

    # -- uses

    def stmt(self, stmt: s.Stmt) -> None:
        if isinstance(stmt, s.InputStmt):
            for axis in stmt.axes:
                if axis.size is not None:
                    self.expr(axis.size)
        elif isinstance(stmt, s.LetStmt):
            self.expr(stmt.value)
        elif isinstance(stmt, s.BindStmt):
            self.chain(stmt.chain)
        elif isinstance(stmt, s.Chain):
            self.chain(stmt)
        elif isinstance(stmt, s.ReturnStmt):
            for name, span in stmt.names:
                self.use(name, span, ("tensor",))

    def chain(self, chain: s.Chain) -> None:
        for step in chain.steps:
            self.term(step.term)

    def term(self, term: s.Term) -> None:
        if isinstance(term, s.Ref):
            self.use(term.name, term.span, ("tensor", "input", "layer", "block"))
        elif isinstance(term, s.Call):
            self.use(term.name, term.name_span, ("block",))
            for arg in term.args:
                self.expr(arg.value)
                if arg.size_in is not None:
                    self.expr(arg.size_in)
            if term.over is not None:  # its body is one of the term's bodies
                for e in term.over.range_args:
                    self.expr(e)
        elif isinstance(term, s.Cond):
            self.expr(term.cond)
        elif isinstance(term, s.For):
            for e in term.range_args:
                self.expr(e)
        elif isinstance(term, s.Repeat):
            self.term(term.term)
            self.expr(term.count)
        for body in _bodies(term):
            for stmt in body:
                self.stmt(stmt)

    def expr(self, expr: s.Expr) -> None:
        stack: list[s.Expr] = [expr]
        while stack:
            e = stack.pop()
            if isinstance(e, s.Var):
                self.use(e.name, e.span, ("tensor", "input", "param", "let", "index"))
            elif isinstance(e, s.BinOp):
                stack.extend((e.left, e.right))
            elif isinstance(e, (s.Neg, s.Not)):
                stack.append(e.operand)
            elif isinstance(e, s.Index):
                stack.extend((e.value, e.index))
            elif isinstance(e, s.TupleExpr):
                stack.extend(e.items)


def _bodies(term: s.Term) -> Iterator[tuple[s.Stmt, ...]]:
    """The statement lists nested in a step."""
    if isinstance(term, (s.Seq, s.For)):
        yield term.body
    elif isinstance(term, s.Residual):
        yield term.body
        if term.shortcut is not None:
            yield term.shortcut
    elif isinstance(term, s.Cond):
        yield term.then
        if term.orelse is not None:
            yield term.orelse
    elif isinstance(term, s.Repeat):
        yield from _bodies(term.term)
    elif isinstance(term, s.Call) and term.over is not None:
        yield term.over.body


# ------------------------------------------------------------------ completion


@dataclass(frozen=True)
class LayerItem:
    """A layer kind to complete, with its parameters and PyTorch's defaults."""

    name: str
    signature: str
    doc: str


def _param_text(name: str, default: object, spec: LayerSpec) -> str:
    """`stride = 1`: a parameter with PyTorch's default, in the DSL's spelling."""
    if default is REQUIRED:
        return name
    if name == spec.size_in and default is None:
        return f"{name} = inferred"
    return f"{name} = {show(default)}"  # type: ignore[arg-type]


def layer_items() -> list[LayerItem]:
    """Every layer of the catalogue (compiler/ir/layers.py)."""
    items = []
    for name in all_names():
        spec = lookup(name)
        assert spec is not None
        params = ", ".join(_param_text(p.name, p.default, spec) for p in spec.params)
        if spec.varargs:
            params = f"*{spec.varargs}"
        torch = f"nn.{spec.torch_class}" if spec.torch_class else "a tensor operation"
        doc = f"{spec.doc or name} ({torch})"
        if spec.size_in:
            doc += f"; `{spec.size_in}` is inferred from the input when left out"
        items.append(LayerItem(name, f"{name}({params})", doc))
    return items


_CALL_OPEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\($")
LOOKBACK = 2000  # characters scanned back for an open call: more than any argument list


def open_call(text: str, offset: int) -> str | None:
    """The layer whose argument list holds `offset` (`conv1d(300, |`), or None."""
    depth = 0
    start = max(0, offset - LOOKBACK)
    for i in range(offset - 1, start - 1, -1):
        ch = text[i]
        if ch in "{}|":  # a statement or step boundary: not inside an argument list
            return None
        if ch == ")":
            depth += 1
        elif ch == "(":
            if depth == 0:
                match = _CALL_OPEN.search(text[max(start, i - 80) : i + 1])
                return match.group(1) if match else None
            depth -= 1
    return None


def param_items(layer: str) -> list[tuple[str, str]]:
    """The parameters of a layer kind, each with its default as shown."""
    spec = lookup(layer)
    if spec is None:
        return []
    return [(p.name, _param_text(p.name, p.default, spec)) for p in spec.params]
