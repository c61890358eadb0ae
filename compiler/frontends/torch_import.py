"""Lift a hand-written PyTorch module (.py) into an archc syntax tree, statically.

The file is read with `ast` only (never imported or run). Its constructor and forward
become an `arch` (and one `block` per helper nn.Module class) whose spans point into
the .py, so `archc lint MODEL.py` reports problems on the user's own lines. The input
length is searched for: hand-computed sizes (a Linear's in_features after flatten, a
view's fixed sizes) usually pin it, and the shape checker tells which lengths fit.
"""

from __future__ import annotations

import ast
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..checks.shapes import ShapeChecker
from ..core import sym
from ..core.diagnostics import CompileError, Diagnostic, Reporter
from ..core.pysafe import class_name_problem
from ..core.source import Source, Span
from ..core.values import Value
from ..ir import nodes as ir
from ..ir.layers import lookup
from ..ir.resolve import Resolver
from ..syntax import tree as s
from ..syntax.unparse import expr as show_expr
from ..syntax.unparse import stmt as unparse_stmt
from .files import Loaded, Options
from .torch_import_eval import MAIN_PARAM, RESERVED_PARAMS, Interp, Lifted, param_alias, var_names
from .torch_import_merge import apply_merges, find_merges
from .torch_import_package import Package
from .torch_import_values import (
    AxisProduct,
    AxisSize,
    Batch,
    BlockNode,
    Const,
    FCall,
    FInput,
    FLayer,
    FLoop,
    FMax,
    FMerge,
    FOp,
    FResidual,
    LayerNode,
    ListV,
    ModListV,
    ModNode,
    SeqNode,
    SpanMap,
    TupleV,
    Unsupported,
    Val,
    read_mark,
)

_Measured = dict[Span, list[int]]  # input sizes / element counts by the span of their layer or view
_Cache = dict[tuple[int, int], "_Measured | None"]

# Constructor arguments that say the input length.
LENGTH_NAMES = frozenset({"seq_len", "seq_length", "sequence_length", "seqlen", "input_length", "len_seq",
                          "length", "input_len", "sequence_len", "window", "window_size"})
CAP = 1_000_000  # the longest input length searched
DEFAULT_ALPHABET = 4  # DNA, when nothing in the file fixes the channels
AXIS_WARNINGS = frozenset({"axis-mix", "axis-order"})
# Steps that keep the last axis, skipped when looking for the layer that sets `classes`.
KEEPS_FEATURES = frozenset({"relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout", "contiguous",
                            "gelu", "silu", "elu", "leakyrelu", "softplus", "identity", "exp", "scale",
                            "shift", "divide", "log",
                            "selu", "celu", "relu6", "hardtanh", "mish", "softsign", "logsigmoid",
                            "hardswish", "hardsigmoid", "dropout1d", "dropout2d"})
# Steps that start a new line of the lifted .arch.
STARTS_LINE = frozenset({"conv1d", "conv2d", "linear", "lstm", "gru", "convtranspose1d",
                         "transformerencoderlayer", "embedding"})
# Steps whose arguments read best positionally: transpose(1, 2), select(1, -1).
POSITIONAL = frozenset({"transpose", "select"})
DSL_WORDS = frozenset({"arch", "block", "seq", "residual", "input", "let", "meta", "true", "false", "none"})


@dataclass(frozen=True)
class Layout:
    """One way the input tensor may be laid out."""

    axes: tuple[str, ...]  # batch, channels, length, and a unit axis for 2-D encodings
    encoding: str  # "1D" or "2D"

    @property
    def rank(self) -> int:
        return len(self.axes)

    def show(self) -> str:
        return "(" + ", ".join(f"{a}: 1" if a in ("height", "width") else a for a in self.axes) + ")"


LAYOUTS = (
    Layout(("batch", "channels", "length"), "1D"),
    Layout(("batch", "length", "channels"), "1D"),
    Layout(("batch", "channels", "height", "length"), "2D"),
    Layout(("batch", "channels", "length", "width"), "2D"),
)

# Token indices into an nn.Embedding: no channel axis.
TOKENS = Layout(("batch", "length"), "tokens")

# seqgra's encodings (docs/seqgra.md): 1D feeds (batch, alphabet, length), 2D (batch, alphabet, 1, length).
ENCODED_LAYOUT = {"1D": LAYOUTS[0], "2D": LAYOUTS[2]}


@dataclass(frozen=True)
class Pin:
    """A size written in the file that the input length or alphabet must produce."""

    kind: str  # "size": a layer's written input size; "view": a view's fixed sizes
    span: Span  # the layer's or the view's span (how it is found in the checked IR)
    param: str  # the size parameter for "size" pins
    want: int
    name: str  # for messages
    want_span: Span


@dataclass(frozen=True)
class Config:
    layout: Layout
    relax: bool = False  # drop written input sizes and loosen fixed views (length search)
    concise: bool = False  # drop sizes and defaults that checking showed to be implied
    labels: Mapping[Span, tuple[str, ...]] = field(default_factory=dict)  # view output axis labels
    alphabet: int = DEFAULT_ALPHABET
    length: int = 1000


# ------------------------------------------------------------------ entry point


def read_py(source: Source, options: Options) -> Loaded:
    """Lift the chosen nn.Module class of a .py file into a syntax tree (never runs the file)."""
    rep = Reporter(source)
    importer = _Importer(source, options, rep)
    try:
        return importer.run()
    except Unsupported as err:
        rep.error(err.code, err.message, err.span, help=err.help)
        # What the shape checks say about the steps before the refused construct.
        rep.items.extend(d for d in importer.partial_checks() if d not in rep.items)
    except RecursionError:
        rep.error("unsupported", "the file nests too deeply for archc to read", _first(source))
    except CompileError:
        pass  # already reported
    except Exception as err:  # a bug in archc must still end as a diagnostic, not a traceback
        rep.error("internal", f"archc failed to lift this file ({type(err).__name__}: {err})",
                  _first(source), help="this is a bug in archc; please report it with the file")
    return Loaded(source, None, rep)


def _first(source: Source) -> Span:
    return Span(0, min(1, len(source.text)))


class _Importer:
    def __init__(self, source: Source, options: Options, rep: Reporter) -> None:
        self.source = source
        self.options = options
        self.rep = rep
        self.spans = SpanMap(source)
        self.interp: Interp | None = None
        self.cls_name = ""

    def run(self) -> Loaded:
        module = self.parse()
        if module is None:
            return Loaded(self.source, None, self.rep)
        # Helper modules in sibling files are read only for a file on disk (not for text).
        package = Package(self.source.path) if os.path.isfile(self.source.path) else None
        try:
            interp = Interp(module, self.spans, package)
        finally:
            self.adopt_parts(self.spans)
        name = self.choose_class(interp)
        if name is None:
            return Loaded(self.source, None, self.rep)
        self.interp, self.cls_name = interp, name
        # --set values may fill constructor parameters of the model class.
        given: dict[str, Val] = {}
        for key, value in self.options.sets.items():
            const = _const(value)
            if const is not None:
                given[key] = const
        top = interp.lift(name, top=True, given=given)
        clashes = [p.name for p in top.params if p.name in top.attrs]
        if clashes:
            # The DSL keeps parameters and layers apart: such an argument is renamed.
            interp.renames = {c: param_alias(c) for c in clashes}
            for c in clashes:
                if param_alias(c) in given:
                    given[c] = given.pop(param_alias(c))
            for c in clashes:
                interp.notes.append(f"constructor argument `{c}` is the parameter `{param_alias(c)}` "
                                    f"(a layer is named `{c}`)")
            top = interp.lift(name, top=True, given=given)
        return _Search(self.source, interp, top, name, self.options, self.rep).run()

    def partial_checks(self) -> list[Diagnostic]:
        """Shape diagnostics of the model's forward up to the construct that was refused. With
        no length fixed (by --set or a size before the cut) only length-free mismatches count."""
        interp = self.interp
        if interp is None or interp.partial is None:
            return []
        search = _Search(self.source, interp, interp.partial, self.cls_name, self.options,
                         Reporter(self.source))
        try:
            return search.partial_diagnostics()
        except Exception:
            return []  # the refusal is the answer; a cut that cannot be checked adds nothing

    def adopt_parts(self, spans: SpanMap) -> None:
        """The input's source, knowing the sibling files read (their spans follow its text)."""
        parts = tuple(spans.parts)
        if parts:
            self.source = Source(self.source.path, self.source.text, parts=parts)
            self.rep.source = self.source

    def parse(self) -> ast.Module | None:
        text = self.source.text
        try:
            return ast.parse(text, filename=self.source.path)
        except SyntaxError as err:
            line = err.lineno or 1
            col = err.offset or 1
            start = self.source.offset(line, col)
            end = start + 1
            if err.end_lineno == line and err.end_offset and err.end_offset > col:
                end = self.source.offset(line, err.end_offset)
            self.rep.error(
                "syntax",
                f"this is not valid Python: {err.msg}",
                Span(start, max(start + 1, end)) if text else Span(0, 0),
                help="archc reads the file as Python source; fix the syntax error first",
            )
        except (ValueError, MemoryError) as err:
            self.rep.error("syntax", f"this is not valid Python: {err}", _first(self.source))
        except RecursionError:
            self.rep.error("unsupported", "the file nests too deeply for Python's parser",
                           _first(self.source))
        return None

    def choose_class(self, interp: Interp) -> str | None:
        classes = interp.module_classes()
        wanted = self.options.class_name
        if wanted is not None:
            if wanted in classes:
                return wanted
            listing = ", ".join(classes) or "none"
            if wanted in interp.classes:
                self.rep.error("no-class", f"class `{wanted}` is not an nn.Module subclass",
                               self.spans.of(interp.classes[wanted]),
                               help=f"nn.Module subclasses here: {listing}")
            else:
                self.rep.error("no-class", f"this file has no class `{wanted}`", _first(self.source),
                               help=f"nn.Module subclasses here: {listing}")
            return None
        if "TorchModel" in classes:
            return "TorchModel"
        if len(classes) == 1:
            return classes[0]
        if not classes:
            self.rep.error("no-class", "this file defines no nn.Module subclass", _first(self.source),
                           help="archc lifts a class like `class TorchModel(nn.Module): ...`")
            return None
        # Helper blocks are used by another class; the model itself by none.
        tops = [c for c in classes if not (interp.uses(c) & set(classes))]
        if len(tops) == 1:
            return tops[0]
        self.rep.error(
            "ambiguous-class",
            f"this file has several nn.Module classes: {', '.join(classes)}",
            self.spans.of(interp.classes[(tops or classes)[1]]),
            help="pick one with --class NAME",
        )
        return None


def _const(value: Value) -> Const | TupleV | None:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return Const(value)
    if isinstance(value, tuple):  # --set widths=[64,64]: per-layer values
        items = [_const(v) for v in value]
        return TupleV(tuple(i for i in items if i is not None)) if None not in items else None
    return None


# ------------------------------------------------------------------ ranks


def _int(value: Val, default: int) -> int:
    if isinstance(value, Const) and isinstance(value.value, int) and not isinstance(value.value, bool):
        return value.value
    return default


def _weightless(node: ModNode) -> bool:
    spec = lookup(node.kind) if isinstance(node, LayerNode) else None
    return spec is not None and not spec.stateful


def _norm_axis(dim: int, rank: int, span: Span) -> int:
    if not -rank <= dim < rank:
        raise Unsupported("unsupported", f"axis {dim} of a {rank}-D tensor does not exist", span)
    return dim % rank


def _layer_rank(kind: str, args: Mapping[str, Val], positional: list[Val], rank: int) -> int:
    if kind == "flatten":
        start = _int(args.get("start_dim", Const(1)), 1)
        end = _int(args.get("end_dim", Const(-1)), -1)
        if rank <= 0:
            return rank
        return rank - ((end % rank) - (start % rank))
    if kind in ("view", "reshape"):
        return len(positional)
    if kind == "unsqueeze":
        return rank + 1
    if kind == "squeeze":  # a named axis of size 1 (else the check warns: squeeze-noop)
        return rank - 1 if positional or "dim" in args else rank
    if kind == "repeat":
        return max(rank, len(positional))
    if kind in ("select", "global_max_pool", "global_avg_pool"):
        return rank - 1
    if kind in ("mean", "sum", "max"):
        if args.get("keepdim") == Const(True):
            return rank
        dim = args.get("dim", positional[0] if positional else Const(0))
        return rank - (len(dim.items) if isinstance(dim, (TupleV, ListV)) else 1)
    if kind == "embedding":
        return rank + 1
    return rank


# ------------------------------------------------------------------ building the tree


class _Builder:
    """Writes the lifted classes as a syntax tree under one configuration."""

    def __init__(self, imp: _Search, cfg: Config) -> None:
        self.imp = imp
        self.cfg = cfg
        self.pins: list[Pin] = []
        self.block_rank: dict[str, int] = {}
        self.final = imp.final
        # Inside a DSL loop the items' input sizes are not written (they may differ per item,
        # `in_ch = out_ch` carried along); each item's is checked against the checked IR instead.
        self.in_loop = 0
        self.item_sizes: list[tuple[Span, list[int], str, Span]] = []
        # forward's further inputs: their names in the .arch and their ranks
        self.input_names: dict[str, str] = {}
        self.input_ranks: dict[str, int] = {}

    # ---------------------------------------------------------------- ranks

    def rank_ops(self, ops: tuple[FOp, ...], lifted: Lifted, rank: int) -> int:
        for op in ops:
            if isinstance(op, FCall):
                rank = self.rank_node(_node_of(lifted, op), rank)
            elif isinstance(op, FLoop):
                for ops_ in op.iterations:
                    rank = self.rank_ops(ops_, lifted, rank)
            elif isinstance(op, FLayer):
                named = {n: v for n, v, _ in op.args if n is not None}
                rank = _layer_rank(op.kind, named, [v for n, v, _ in op.args if n is None], rank)
            elif isinstance(op, FMax):
                rank -= 1
            elif isinstance(op, FMerge) and op.kind != "return":
                rank = self.rank_ops(op.branches[0], lifted, rank) + (op.kind == "stack")
            elif isinstance(op, FInput):
                rank = self.input_ranks[op.name]
        return rank

    def rank_node(self, node: ModNode, rank: int) -> int:
        if isinstance(node, LayerNode):
            return _layer_rank(node.kind, {k: v for k, (v, _) in node.args.items()}, [], rank)
        if isinstance(node, SeqNode):
            for item in node.items:
                rank = self.rank_node(item, rank)
            return rank
        block = self.imp.interp.lifted[node.cls_name]
        return self.rank_ops(block.forward, block, rank)

    # ---------------------------------------------------------------- file

    def file(self) -> s.File:
        imp = self.imp
        top = imp.top
        em = _ClassEmitter(self, top)
        body: list[s.Stmt] = []
        layout = self.cfg.layout
        extras = [self.extra_input_stmt(extra, em) for extra in top.extra_inputs]
        if layout != LAYOUTS[0] or imp.explicit_axes or extras:
            body.append(self.input_stmt())
        body.extend(extras)
        body.extend(em.body(layout.rank))
        blocks: list[s.BlockDef] = []
        done: set[str] = set()
        while len(done) < len(self.block_rank):
            for name in [n for n in self.block_rank if n not in done]:
                done.add(name)
                lifted = imp.interp.lifted[name]
                block_body = _ClassEmitter(self, lifted).body(self.block_rank[name])
                span = self.imp.spans.of(lifted.node)
                blocks.append(s.BlockDef(imp.block_names[name], lifted.params, tuple(block_body), span,
                                         imp.class_name_span(lifted.node)))
        order = {name: i for i, name in enumerate(imp.interp.lifted)}
        blocks.sort(key=lambda b: order.get(imp.py_names.get(b.name, ""), 0))
        span = imp.spans.of(top.node)
        arch = s.ArchDef(imp.arch_name, tuple(imp.params(self.cfg)), tuple(body), span,
                         imp.class_name_span(top.node))
        return s.File((arch,), tuple(blocks))

    def input_stmt(self) -> s.InputStmt:
        span = self.imp.top.input_span
        axes = []
        for name in self.cfg.layout.axes:
            size: s.Expr | None = None
            if name in ("height", "width"):
                size = s.Int(1, span)
            elif name == "channels" and "alphabet" in self.imp.explicit_axes:
                size = s.Int(self.cfg.alphabet, span)
            elif name == "length" and "length" in self.imp.explicit_axes:
                size = s.Int(self.cfg.length, span)
            axes.append(s.Axis(name, size, span))
        return s.InputStmt(tuple(axes), span)

    def extra_input_stmt(self, extra: FInput, em: _ClassEmitter) -> s.InputStmt:
        """`input tracks (batch, channels: n_tracks, length)`: an input after the first, sized
        by the layer it first feeds (a length axis is the first input's length)."""
        use = _first_use(self.imp.top.forward, extra)
        node: ModNode | None = _node_of(self.imp.top, use) if isinstance(use, FCall) else None
        while isinstance(node, SeqNode) and node.items:
            node = node.items[0]
        span = extra.span
        axes: list[s.Axis] | None = None
        if isinstance(node, LayerNode) and node.kind == "conv1d" and "in_channels" in node.args:
            value, _ = node.args["in_channels"]
            axes = [s.Axis("batch", None, span), s.Axis("channels", self.expr(value, span), span),
                    s.Axis("length", None, span)]
        elif isinstance(node, LayerNode) and node.kind == "linear" and "in_features" in node.args:
            value, _ = node.args["in_features"]
            axes = [s.Axis("batch", None, span), s.Axis("features", self.expr(value, span), span)]
        if axes is None:
            first = "nothing" if use is None else f"`{_describe_op(use)}`"
            raise Unsupported(
                "unsupported",
                f"forward's input `{extra.name}` first feeds {first}; archc sizes an input after the "
                "first from the nn.Conv1d or nn.Linear it first feeds",
                span,
                help="call a Conv1d or Linear on it first, or keep this part in PyTorch",
            )
        name = em.tensor_name(extra.name if extra.name not in em.taken_names() else f"{extra.name}_in")
        self.input_names[extra.name] = name
        self.input_ranks[extra.name] = len(axes)
        stmt = s.InputStmt(tuple(axes), span, name, span)
        assert isinstance(use, FCall)
        what = "channels" if len(axes) == 3 else "features"
        self.imp.input_notes[extra.name] = (
            f"{unparse_stmt(stmt, '')}: the input {what} of `{use.name}`"
            + ("" if name == extra.name else f" (forward's `{extra.name}`)")
        )
        return stmt

    # ---------------------------------------------------------------- terms

    def expr(self, value: Val, span: Span) -> s.Expr:
        return self.imp.interp.to_expr(value, span)

    def layer_term(self, node: LayerNode, name: str) -> s.Term:
        spec = lookup(node.kind)
        assert spec is not None
        positional: list[s.Arg] = []
        keywords: list[s.Arg] = []
        size_in = node.args.get(spec.size_in) if spec.size_in else None
        keep_in = size_in is not None and not (self.cfg.relax or self.cfg.concise or self.in_loop)
        if size_in is not None and spec.size_in and isinstance(size_in[0], Const):
            want = size_in[0].value
            if isinstance(want, int) and not isinstance(want, bool):
                self.pins.append(Pin("size", node.span, spec.size_in, want, name, size_in[1]))
        if spec.size_out:
            if spec.size_out not in node.args:
                raise Unsupported("missing-argument", f"nn.{node.torch_name} needs `{spec.size_out}`",
                                  node.span)
            value, span = node.args[spec.size_out]
            out = s.Var("classes", span) if node is self.final else self.expr(value, span)
            in_expr = self.expr(size_in[0], size_in[1]) if keep_in and size_in else None
            positional.append(s.Arg(None, out, span, in_expr))
        elif keep_in and size_in is not None:
            positional.append(s.Arg(None, self.expr(size_in[0], size_in[1]), size_in[1]))
        for key, (value, span) in node.args.items():
            if key in (spec.size_in, spec.size_out):
                continue
            if key == spec.varargs and isinstance(value, (TupleV, ListV)):
                positional.extend(s.Arg(None, self.expr(v, span), span) for v in value.items)  # permute
                continue
            if self.cfg.concise and key != "p" and _is_default(node.kind, key, value, bool(self.in_loop)):
                continue
            arg = s.Arg(None if key in MAIN_PARAM else key, self.expr(value, span), span)
            (positional if arg.name is None else keywords).append(arg)
        args = (*positional, *keywords)
        pinned = self.imp.interp.flatten_pins.get(node.span)
        if pinned is not None:  # the element count a Lambda's reshape wrote
            self.pins.append(Pin("view", node.span, "", pinned, "reshape", node.span))
        if not args:
            return s.Ref(node.kind, node.span)
        return s.Call(node.kind, args, node.span, node.name_span)

    def block_term(self, node: BlockNode, rank: int) -> s.Term:
        self.block_rank.setdefault(node.cls_name, rank)
        name = self.imp.block_names[node.cls_name]
        renames = self.imp.interp.block_renames.get(node.cls_name, {})
        args = tuple(s.Arg(renames.get(key, key) if key else key, self.expr(value, span), span)
                     for key, value, span in node.args)
        if not args:
            return s.Ref(name, node.span)
        return s.Call(name, args, node.span, node.name_span)

    def flayer_steps(self, op: FLayer | FMax, rank: int) -> list[s.Step]:
        if isinstance(op, FMax):
            dim = op.dim + rank if op.dim < 0 else op.dim
            if not 0 < dim < rank:
                raise Unsupported("unsupported", f"max over axis {op.dim} of a {rank}-D tensor is not "
                                  "supported (archc takes the maximum over a feature or length axis)",
                                  op.span)
            steps = []
            if dim != rank - 1:
                order = [i for i in range(rank) if i != dim] + [dim]
                args = tuple(s.Arg(None, s.Int(i, op.span), op.span) for i in order)
                steps.append(s.Step(None, s.Call("permute", args, op.span, op.span), op.span))
            steps.append(s.Step(None, s.Ref("global_max_pool", op.span), op.span))
            return steps
        if op.kind == "slice":
            return self.slice_steps(op, rank)
        if op.kind == "pad":
            pads = op.args[0][1]
            assert isinstance(pads, TupleV)
            # F.pad of a 4-D tensor by two values pads its last axis only.
            items = pads.items if len(pads.items) == 4 else (*pads.items, Const(0), Const(0))
            kind = "constantpad1d" if rank == 3 and len(pads.items) == 2 else "constantpad2d"
            if rank not in (3, 4) or (rank == 3 and len(pads.items) == 4):
                raise Unsupported("unsupported", f"F.pad of a {rank}-D tensor is not supported (3-D: the "
                                  "last axis; 4-D: the last two)", op.span)
            padding = pads.items if kind == "constantpad1d" else items
            args = (s.Arg(None, self.expr(TupleV(tuple(padding)), op.span), op.span),
                    s.Arg("value", self.expr(op.args[1][1], op.span), op.span))
            return [s.Step(None, s.Call(kind, args, op.span, op.span), op.span)]
        axis_sized = any(isinstance(v, (AxisSize, AxisProduct)) for _, v, _ in op.args)
        if op.kind in ("view", "reshape") and axis_sized:
            return self.axis_view_steps(op, rank)
        if op.kind in ("view", "reshape"):
            return [s.Step(None, self.view_term(op), op.span)]
        positional: list[s.Arg] = []
        keywords: list[s.Arg] = []
        for key, value, span in op.args:
            if self.cfg.concise and key not in (None, "p", "start_dim") and _is_default(op.kind, key, value):
                continue
            arg = s.Arg(key, self.expr(value, span), span)
            (positional if key is None else keywords).append(arg)
        if op.kind in POSITIONAL:
            positional, keywords = [replace(a, name=None) for a in (*positional, *keywords)], []
        if op.kind == "flatten" and self.cfg.concise and [(k, v) for k, v, _ in op.args] == [
            ("start_dim", Const(1))
        ]:
            positional, keywords = [], []  # the DSL's flatten starts at axis 1
        args = (*positional, *keywords)
        term: s.Term = s.Call(op.kind, args, op.span, op.span) if args else s.Ref(op.kind, op.span)
        return [s.Step(None, term, op.span)]

    def slice_steps(self, op: FLayer, rank: int) -> list[s.Step]:
        """`x[:, :, a:-b]` as crop(a, b), between two permutes when the axis is not the last."""
        args = {key: value for key, value, _ in op.args}
        span = op.span
        dim = _norm_axis(_int(args["dim"], 0), rank, span)
        axis = args["axis"]
        if isinstance(axis, Const) and isinstance(axis.value, int) and (
            _norm_axis(axis.value, rank, span) != dim
        ):
            raise Unsupported("unsupported", f"the slice stops at the size of axis {axis.value}, not of "
                              "the axis it slices", span)
        if dim == 0:
            raise Unsupported("unsupported", "this slice drops samples of the batch", span)
        bounds = (s.Arg(None, self.expr(args["left"], span), span),
                  s.Arg(None, self.expr(args["right"], span), span))
        crop = s.Step(None, s.Call("crop", bounds, span, span), span)
        if dim == rank - 1:
            return [crop]
        order = list(range(rank))
        order[dim], order[-1] = order[-1], order[dim]
        perm = s.Call("permute", tuple(s.Arg(None, s.Int(i, span), span) for i in order), span, span)
        return [s.Step(None, perm, span), crop, s.Step(None, perm, span)]

    def axis_view_steps(self, op: FLayer, rank: int) -> list[s.Step]:
        """`x.view(b, c * l)`, `x.reshape(b, c, -1)` sized by the tensor's own axes: the axes it
        merges, as flatten steps (a view that keeps every axis is no step)."""
        span = op.span
        groups: list[tuple[int, ...] | None] = []  # None: the -1
        for _, value, item_span in op.args:
            if isinstance(value, Batch):
                groups.append((0,))
            elif isinstance(value, (AxisSize, AxisProduct)):
                sizes = (value,) if isinstance(value, AxisSize) else value.sizes
                for size in sizes:
                    if size.rank and size.rank != rank:
                        raise Unsupported("unsupported", f"{size.rank} sizes are unpacked from a "
                                          f"{rank}-D tensor", size.span)
                groups.append(tuple(_norm_axis(z.dim, rank, z.span) for z in sizes))
            elif value == Const(-1) and None not in groups:
                groups.append(None)
            else:
                raise Unsupported("unsupported", f"this {op.kind} mixes sizes of the tensor's axes with "
                                  "other numbers; archc lifts views that merge whole axes", item_span)
        covered = sum(len(g) for g in groups if g is not None)
        filled: list[tuple[int, ...]] = []
        nxt = 0
        for g in groups:
            if g is None:
                width = rank - covered
                if width < 1:
                    raise Unsupported("unsupported", f"the -1 of this {op.kind} stands for no axis", span)
                g = tuple(range(nxt, nxt + width))
            if list(g) != list(range(nxt, nxt + len(g))):
                raise Unsupported("unsupported", f"this {op.kind} reorders or repeats axes; archc lifts "
                                  "views that merge neighbouring axes in order", span)
            filled.append(g)
            nxt += len(g)
        if nxt != rank:
            raise Unsupported("unsupported", f"this {op.kind} names {nxt} of the {rank} axes", span)
        if op.kind == "view" and len(filled) == 2 and filled[0] == (0,) and len(filled[1]) > 1:
            # kept a view, so that a view of a non-contiguous tensor is still reported
            args = (s.Arg(None, s.Var("batch", span), span), s.Arg(None, s.Neg(s.Int(1, span), span), span))
            return [s.Step(None, s.Call("view", args, span, span), span)]
        steps = []
        for g in reversed(filled):  # from the last, so earlier axis numbers stay put
            if len(g) > 1 and g == (1, rank - 1):
                steps.append(s.Step(None, s.Ref("flatten", span), span))  # the DSL's flatten: axis 1 on
            elif len(g) > 1:
                args = (s.Arg(None, s.Int(g[0], span), span), s.Arg(None, s.Int(g[-1], span), span))
                steps.append(s.Step(None, s.Call("flatten", args, span, span), span))
        return steps

    def view_term(self, op: FLayer) -> s.Term:
        values = [v for _, v, _ in op.args]
        spans = [sp for _, _, sp in op.args]
        free = [i for i, v in enumerate(values) if isinstance(v, Batch) or v == Const(-1)]
        fixed = [i for i in range(len(values)) if i not in free]
        plain = all(isinstance(values[i], Const) for i in fixed)
        if len(free) == 1 and fixed and plain:
            want = math.prod(_int(values[i], 1) for i in fixed)
            self.pins.append(Pin("view", op.span, "", want, f"{op.kind}", op.span))
            if self.cfg.relax:
                values = list(values)
                largest = max(fixed, key=lambda i: _int(values[i], 0))
                values[free[0]] = Batch()
                values[largest] = Const(-1)
        if self.cfg.concise and len(values) == 2 and len(free) >= 1 and free[0] == 0:
            return s.Ref("flatten", op.span)  # checked: the fixed size is the whole sample
        labels = self.cfg.labels.get(op.span, ())
        args = []
        for i, (value, span) in enumerate(zip(values, spans, strict=True)):
            expr = self.expr(value, span)
            if self.cfg.concise and i < len(labels) and isinstance(value, Const):
                free_length = "length" not in self.imp.explicit_axes
                if labels[i] == "length" and value.value == self.cfg.length and free_length:
                    expr = s.Var("length", span)
                elif labels[i] == "channels" and value.value == self.cfg.alphabet and (
                    "alphabet" not in self.imp.explicit_axes
                ):
                    expr = s.Var("alphabet", span)
            args.append(s.Arg(None, expr, span))
        return s.Call(op.kind, tuple(args), op.span, op.span)


class _ClassEmitter:
    """The body of one class: forward steps in order, each module defined where first used."""

    def __init__(self, builder: _Builder, lifted: Lifted) -> None:
        self.b = builder
        self.lifted = lifted
        self.emitted: dict[int, str] = {}  # module -> the attribute name it was defined under
        self.done: set[str] = set()
        self.unnamed: set[int] = set()
        self.attr_of: dict[int, list[str]] = {}
        self.tensors: set[str] = set()  # names given to tensors (`fork := ...`)
        self.lets: list[s.LetStmt] = []  # tuples loops read their items' numbers from
        self.let_values: dict[tuple[Value, ...], str] = {}  # their numbers -> their names
        for name, node in lifted.attrs.items():
            self.attr_of.setdefault(id(node), []).append(name)

    def body(self, rank: int) -> list[s.Stmt]:
        lines, _ = self.ops(self.lifted.forward, rank, top=True)
        for name, node in [*self.lifted.attrs.items(),
                           *((k, v.items[0]) for k, v in self.lifted.lists.items())]:
            if name in self.lifted.lists and all(_weightless(i) for i in self.lifted.lists[name].items):
                continue  # a list of ReLUs indexed in forward: its items are steps, it holds no weights
            if name not in self.done and not self.lifted.partial and not (
                name in self.lifted.attrs and self.b.imp.interp.weightless(node)
            ):  # (an unused module without weights loses nothing: `self.act = GELU()` kept for later)
                twin = self.registered_twice(name)
                if twin is not None:
                    raise Unsupported(
                        "unsupported",
                        f"`{name}` holds the modules of `{twin}` again (each is registered twice, so the "
                        f"state_dict has both `{name}.*` and `{twin}.*` keys); archc registers a module once",
                        self.lifted.lists[name].span if name in self.lifted.lists else node.span,
                        help=f"drop `self.{name}` (a checkpoint then loads with strict=False, or without "
                        f"its `{name}.` keys)",
                    )
                raise Unsupported(
                    "unsupported",
                    f"module `{name}` is never used by forward; archc registers a module where it is "
                    "used, so its weights would be lost",
                    node.span,
                    help="remove it from the model, or use it in forward",
                )
        for name, entries in self.lifted.dicts.items():
            for key, node in entries.items.items():
                if f"{name}.{key}" not in self.done and not self.lifted.partial:
                    raise Unsupported(
                        "unsupported",
                        f"module `{name}[{key!r}]` is never used by forward; archc registers a module "
                        "where it is used, so its weights would be lost",
                        node.span,
                        help="remove it from the model, or use it in forward",
                    )
        return [*self.lets, *_unshadow([_stmt(line) for line in lines])]

    def registered_twice(self, name: str) -> str | None:
        """The module (used by forward) that holds every item of the unused `name` too
        (`self.seq = nn.Sequential(*self.layers)`)."""
        unused = self.lifted.lists.get(name)
        items = list(unused.items) if unused is not None else [self.lifted.attrs[name]]

        def inside(node: ModNode) -> set[int]:
            found = {id(node)}
            for item in node.items if isinstance(node, SeqNode) else ():
                found |= inside(item)
            return found

        for other, node in self.lifted.attrs.items():
            if other != name and other in self.done and all(id(i) in inside(node) for i in items):
                return other
        return None

    def ops(self, ops: tuple[FOp, ...], rank: int, top: bool = False,
            start: tuple[str, Span] | None = None) -> tuple[list[_Line], int]:
        """The lines of some steps. `top`: statements may stand among them (joins of branches);
        `start`: a branch of the graph, whose first chain reads that tensor."""
        lines: list[_Line] = []
        cur: list[s.Step] = [] if start is None else [s.Step(None, s.Ref(start[0], start[1]), start[1])]
        ops = self.whole_loops(ops)

        def flush() -> None:
            nonlocal cur
            if cur:
                lines.append(cur)
                cur = []

        for op in ops:
            if isinstance(op, FLoop):
                flush()
                lines.append([self.loop_step(op, rank)])
                rank = self.b.rank_ops((op,), self.lifted, rank)
            elif isinstance(op, FCall):
                node = _node_of(self.lifted, op)
                step = self.call_step(op, node, rank)
                if step.name is not None and _starts_line(node) and (
                    any(_starter(st) for st in cur) or isinstance(step.term, s.Seq)
                ):
                    flush()
                cur.append(step)
                rank = self.b.rank_node(node, rank)
            elif isinstance(op, (FLayer, FMax)):
                cur.extend(self.b.flayer_steps(op, rank))
                rank = self.b.rank_ops((op,), self.lifted, rank)
            elif isinstance(op, FInput):  # what forward returns comes from another input only
                flush()
                cur.append(s.Step(None, s.Ref(self.b.input_names[op.name], op.span), op.span))
                rank = self.b.input_ranks[op.name]
            elif isinstance(op, FMerge):
                if not (top or start is not None):
                    raise Unsupported("unsupported", "a join inside a residual or a branch is not "
                                      "supported yet", op.span, help="archc lifts joins of branches of "
                                      "forward's main chain")
                flush()
                rank = self.merge(op, lines, rank, start[0] if start else "x")
                if op.kind != "return":
                    joined = lines.pop()  # the join starts the chain that continues
                    assert isinstance(joined, list)
                    cur = joined
            else:
                inner, _ = self.ops(op.body, rank)
                shortcut = None
                if op.shortcut is not None:
                    inner_sc, _ = self.ops(op.shortcut, rank)
                    shortcut = tuple(_stmt(line) for line in inner_sc)
                flush()
                lines.append([s.Step(None, s.Residual(tuple(_stmt(line) for line in inner), op.span,
                                                      shortcut), op.span)])
            if len(cur) >= 6:
                flush()
        flush()
        return lines, rank

    def whole_loops(self, ops: tuple[FOp, ...]) -> tuple[FOp, ...]:
        """`x = self.layers[0](x)` then `for layer in self.layers[1:]: ...` (or a loop over
        `[:-1]` then the last item): one loop over every item, its first (or last) iteration
        the item called by itself with the steps between them."""
        out = list(ops)
        k = 0
        while k < len(out):
            op = out[k]
            if isinstance(op, FCall) and op.by_position and op.index == 0:
                end = k + 1
                while end < len(out) and isinstance(out[end], (FLayer, FMax)):
                    end += 1
                loop = out[end] if end < len(out) else None
                n = len(self.lifted.lists[op.name].items)
                if isinstance(loop, FLoop) and loop.name == op.name and loop.indices == tuple(range(1, n)):
                    first = tuple(out[k:end])
                    out[k:end + 1] = [FLoop(op.name, (first, *loop.iterations), loop.span)]
            elif isinstance(op, FLoop) and op.indices is not None:
                n = len(self.lifted.lists[op.name].items)
                end = k + 1
                while end < len(out) and isinstance(out[end], (FLayer, FMax)):
                    end += 1
                last = out[end] if end < len(out) else None
                if (op.indices == tuple(range(n - 1)) and isinstance(last, FCall) and last.by_position
                        and last.name == op.name and last.index == n - 1):
                    final = tuple(out[k + 1:end + 1])
                    out[k:end + 1] = [FLoop(op.name, (*op.iterations, final), op.span)]
            k += 1
        return tuple(out)

    def loop_step(self, op: FLoop, rank: int, gather: bool = False) -> s.Step:
        """`for i in range(...) { ... }`: the first iteration's steps, written in terms of `i`;
        every other iteration, written the same way for its item, must give the same steps
        (`gather`: the iterations are branches of one merge, each from the loop's input). A
        first or last iteration with steps of its own (`self.layers[0](x)` before a loop over
        `self.layers[1:]`) is the `if` of the body: `if i == 0 { ... } else { ... }`."""
        mods = self.lifted.lists[op.name]
        if op.indices is not None:
            raise Unsupported(
                "unsupported", f"this loop runs over a slice of `self.{op.name}`; archc lifts a slice "
                f"with the items it leaves out called by themselves next to it: `self.{op.name}[0](x)` "
                f"then `for m in self.{op.name}[1:]`, or `for m in self.{op.name}[:-1]` then "
                f"`self.{op.name}[-1](x)`", op.span)
        n = len(op.iterations)
        shapes = [_loop_shape(it) for it in op.iterations]
        segments: list[tuple[int, int]] = []
        for k, shape in enumerate(shapes):
            if segments and shapes[segments[-1][0]] == shape:
                segments[-1] = (segments[-1][0], k + 1)
            else:
                segments.append((k, k + 1))
        if n != len(mods.items) or len(segments) > 2 or (
            len(segments) == 2 and segments[0] != (0, 1) and segments[1] != (n - 1, n)
        ):
            raise Unsupported("unsupported", "the iterations of this loop do different steps; archc lifts "
                              "loops whose body is the same for every item (but the first or the last)",
                              op.span)
        for it in op.iterations:
            calls = [o for o in _flat_ops(it) if isinstance(o, FCall) and o.index is not None]
            if [o.name for o in calls] != [op.name]:
                raise Unsupported("unsupported", f"the loop body must call its item of `{op.name}` once",
                                  op.span)
        var, range_args_v, loop = self.loop_form(mods)
        interp = self.b.imp.interp
        chain = not gather and len(segments) == 1 and all(
            len(it) == 1 and isinstance(it[0], FCall) and it[0].index == k
            for k, it in enumerate(op.iterations)
        )
        before = self.state()
        bodies: list[list[_Line]] = []
        self.b.in_loop += 1
        try:
            for a, b in segments:
                start = self.state()
                if loop is not None:
                    interp.loop_at[loop] = (var, a)
                inner, _ = self.ops(op.iterations[a], rank)
                after = self.state()
                renders = [inner]
                for k in range(a + 1, b):
                    self.restore(start)
                    if loop is not None:
                        interp.loop_at[loop] = (var, k)
                    other, _ = self.ops(op.iterations[k], rank)
                    if other != inner and chain:
                        # `for layer in self.layers: x = layer(x)` over different items: an nn.Sequential
                        # of them has the same state_dict keys (`layers.0.weight`, `layers.2.weight`).
                        self.restore(before)
                        self.done.add(op.name)
                        self.b.in_loop -= 1
                        try:
                            seq = self.term(SeqNode(list(mods.items), mods.span), rank, op.name)
                        finally:
                            self.b.in_loop += 1
                        return s.Step(op.name, seq, op.span, op.span)
                    renders.append(other)
                if any(r != inner for r in renders):
                    # Items that differ only by numbers read them from tuples by the index.
                    unified = self.unify(op.name, var, renders, a)
                    if unified is None:
                        k = a + next(j for j, r in enumerate(renders) if r != inner)
                        how = (f"(in terms of the loop's index `{var}`)" if loop is not None or mods.var
                               else "(the list is not built by a loop over range())")
                        raise Unsupported(
                            "unsupported", f"item {k} of `self.{op.name}` is not built the way item {a} is "
                            f"{how}; archc writes a loop whose items differ only by its index or by numbers",
                            mods.items[k].span,
                            help="build every item from the loop's index (`dilation=2 ** i`), or write the "
                            "items as separate attributes")
                    inner = unified
                self.restore(after)
                bodies.append(inner)
        finally:
            self.b.in_loop -= 1
            if loop is not None:
                interp.loop_at.pop(loop, None)
        for it in op.iterations:
            for o in _flat_ops(it):
                if isinstance(o, FCall) and o.index is not None:
                    self.done.add(o.name)
        self.item_sizes(op.name, mods)
        span = op.span
        range_args = tuple(self.b.expr(v, mods.span) for v in range_args_v)
        body = tuple(_stmt(line) for line in bodies[0])
        if len(segments) == 2:
            # The iteration with steps of its own is the `if`; the others the `else`.
            index: s.Expr
            if segments[0] == (0, 1):
                index = range_args[0] if len(range_args) >= 2 else s.Int(0, span)
                alone, rest = bodies
            else:
                # the last index: `stop - 1` of a range with step 1 from 0, else its number
                stop = range_args[-1] if len(range_args) == 1 else None
                index = (s.BinOp("-", stop, s.Int(1, span), span) if stop is not None
                         and not isinstance(stop, s.Int) else s.Int(n - 1, span))
                rest, alone = bodies
            cond = s.Cond(s.BinOp("==", s.Var(var, span), index, span),
                          tuple(_stmt(line) for line in alone), tuple(_stmt(line) for line in rest), span)
            body = (s.Chain((s.Step(None, cond, span),), span),)
        return s.Step(None, s.For(var, mods.span, range_args, body, span), span)

    def unify(self, name: str, var: str, renders: list[list[_Line]], first: int = 0) -> list[_Line] | None:
        """One loop body for iterations written alike but for numbers: each number that
        differs becomes an item of a tuple (`let branches_kernel_size = (9, 15, 21)`) read by
        the loop's index, so every iteration computes exactly what it was written with; None
        when they differ otherwise."""
        found: list[tuple[tuple[Value, ...], str, Span]] = []
        template = _unify_trees(renders, found, name, "")
        if template is None:
            return None
        taken = self.taken_names() | {let.name for let in self.lets}
        names: dict[tuple[Value, ...], str] = {}
        for values, hint, span in found:
            if values in names:
                continue
            existing = self.let_values.get(values)  # the same numbers in another loop: one tuple
            # named after the constructor argument that holds these numbers, else the layer argument
            base = existing or self.b.imp.interp.list_args.get(values) or re.sub(r"[^A-Za-z0-9_]", "_", hint)
            chosen, n = base, 2
            while existing is None and chosen in taken:
                chosen, n = f"{base}_{n}", n + 1
            taken.add(chosen)
            names[values] = chosen
            if existing is None:
                self.lets.append(s.LetStmt(chosen, _tuple_expr(values, span), span, span))
                self.let_values[values] = chosen
        return _fill_index(template, names, var, first)  # type: ignore[no-any-return]

    def loop_form(self, mods: ModListV) -> tuple[str, tuple[Val, ...], int | None]:
        """The DSL loop of a module list: its index and range() arguments, and the constructor
        loop that made its items (RangeLoop), when one did."""
        if mods.var:
            return mods.var, mods.range_args, None
        interp = self.b.imp.interp
        origins = [interp.origin.get(item) for item in mods.items]
        loop = origins[0][0] if origins and origins[0] is not None else None
        if loop is not None and origins == [(loop, k) for k in range(len(mods.items))] and len(
            interp.range_loops[loop].values
        ) == len(mods.items):
            info = interp.range_loops[loop]
            var = info.var if _plain_index(info.var) else "i"
            return var, info.range_args, loop
        return "i", (Const(len(mods.items)),), None

    def state(self) -> tuple[object, ...]:
        return (set(self.done), dict(self.emitted), set(self.unnamed), set(self.tensors),
                list(self.b.pins), dict(self.b.block_rank))

    def restore(self, state: tuple[object, ...]) -> None:
        done, emitted, unnamed, tensors, pins, block_rank = state
        self.done, self.emitted, self.unnamed = set(done), dict(emitted), set(unnamed)  # type: ignore
        self.tensors, self.b.pins, self.b.block_rank = set(tensors), list(pins), dict(block_rank)  # type: ignore

    def item_sizes(self, name: str, mods: ModListV) -> None:
        """The input size each item's layers were built for, checked against the checked IR
        (the loop does not write them: they may differ per item)."""
        found: dict[Span, tuple[list[int], Span]] = {}

        def walk(node: ModNode) -> None:
            if isinstance(node, SeqNode):
                for item in node.items:
                    walk(item)
            elif isinstance(node, LayerNode):
                spec = lookup(node.kind)
                size = node.args.get(spec.size_in) if spec is not None and spec.size_in else None
                if size is not None and isinstance(size[0], Const) and isinstance(size[0].value, int):
                    found.setdefault(node.span, ([], size[1]))[0].append(size[0].value)

        for item in mods.items:
            walk(item)
        self.b.item_sizes.extend((span, wants, f"self.{name}", want_span)
                                 for span, (wants, want_span) in found.items()
                                 if len(wants) == len(mods.items))

    def gather_list(self, op: FMerge) -> str | None:
        """The module list whose items the branches of a join call, branch k item k, each
        branch its own steps from the fork (`torch.cat([m(x) for m in self.heads], 1)`)."""
        if op.kind == "return" or not op.branches or not all(op.branches):
            return None
        names: set[str] = set()
        for k, branch in enumerate(op.branches):
            calls = [o for o in _flat_ops(branch) if isinstance(o, FCall) and o.index is not None]
            if not calls or any(c.index != k or c.key is not None for c in calls):
                return None
            names.update(c.name for c in calls)
        if len(names) != 1:
            return None
        name = names.pop()
        mods = self.lifted.lists.get(name)
        if mods is None or len(mods.items) != len(op.branches):
            return None
        if any(b[0] is op.branches[0][0] for b in op.branches[1:]):
            return None  # the branches share a first step: written as branches
        return name

    def gather(self, op: FMerge, name: str, lines: list[_Line], rank: int) -> int:
        """`cat(for i in range(n) { heads = ... }, dim = 1)`: one iteration per item."""
        span = op.span
        loop = self.loop_step(FLoop(name, op.branches, span), rank, gather=True).term
        assert isinstance(loop, s.For)
        args = []
        if op.kind in ("cat", "stack"):
            args.append(s.Arg("dim", s.Int(op.dim or 0, span) if (op.dim or 0) >= 0 else
                              s.Neg(s.Int(-(op.dim or 0), span), span), span))
        step = s.Step(None, s.Call(op.kind, tuple(args), span, span, over=loop), span)
        if lines and isinstance(lines[-1], list):
            lines[-1].append(step)  # the chain that gives the fork goes on into the loop
        else:
            lines.append([step])
        return self.b.rank_ops(op.branches[0], self.lifted, rank) + (op.kind == "stack")

    def merge(self, op: FMerge, lines: list[_Line], rank: int, start: str = "x") -> int:
        """Name the fork, bind each branch from it, then the join (or `return`)."""
        span = op.span
        listed = self.gather_list(op)
        if listed is not None:
            return self.gather(op, listed, lines, rank)
        fork = start
        if lines:
            last = lines[-1]
            if not isinstance(last, list):
                raise Unsupported("unsupported", "two joins of branches in a row are not supported yet",
                                  span)
            if len(last) == 1 and isinstance(last[0].term, s.Ref) and last[0].term.name == start:
                lines.pop()  # the branch forks where it starts
            else:
                fork = self.tensor_name(op.fork)
                lines[-1] = s.BindStmt(fork, _chain(last), _chain(last).span, _chain(last).span)
        names, out_rank = self.branches(fork, op.branches, op.names, rank, lines, span)
        if op.kind == "return":
            keys = None if op.keys is None else tuple((k, span) for k in op.keys)
            lines.append(s.ReturnStmt(tuple((n, span) for n in names), span, keys))
            return out_rank
        args = [s.Arg(None, s.Var(n, span), span) for n in names]
        if op.kind in ("cat", "stack"):  # add, mul and max join elementwise: no axis
            args.append(s.Arg("dim", s.Int(op.dim or 0, span) if (op.dim or 0) >= 0 else
                              s.Neg(s.Int(-(op.dim or 0), span), span), span))
        lines.append([s.Step(None, s.Call(op.kind, tuple(args), span, span), span)])
        return out_rank + (op.kind == "stack")

    def branches(
        self, fork: str, branches: tuple[tuple[FOp, ...], ...], py_names: tuple[str | None, ...], rank: int,
        lines: list[_Line], span: Span,
    ) -> tuple[list[str], int]:
        """Bind each branch from `fork`. Steps that several branches share (the same Python
        tensor) are bound once and the branches go on from it, so nothing is computed twice."""
        names: list[str | None] = [None] * len(branches)
        ranks: list[int] = [rank] * len(branches)
        done: set[int] = set()
        for i, branch in enumerate(branches):
            if i in done:
                continue
            if not branch:
                names[i] = fork
                continue
            if len(branch) == 1 and isinstance(branch[0], FInput):  # another input, as it is
                names[i] = self.b.input_names[branch[0].name]
                ranks[i] = self.b.input_ranks[branch[0].name]
                continue
            group = [j for j in range(i, len(branches)) if branches[j] and branches[j][0] is branch[0]]
            if len(group) > 1:
                depth = 1
                while all(len(branches[j]) > depth and branches[j][depth] is branch[depth] for j in group):
                    depth += 1
                shared = self.tensor_name(None)
                inner_rank = self.bind(shared, fork, branch[:depth], lines, span, rank)
                sub, _ = self.branches(shared, tuple(branches[j][depth:] for j in group),
                                       tuple(py_names[j] for j in group), inner_rank, lines, span)
                for j, name in zip(group, sub, strict=True):
                    names[j] = name
                    ranks[j] = self.b.rank_ops(branches[j], self.lifted, rank)
                done.update(group)
                continue
            name = self.tensor_name(py_names[i])
            ranks[i] = self.bind(name, fork, branch, lines, span, rank)
            names[i] = name
        return [n for n in names if n is not None], ranks[0]

    def bind(self, name: str, fork: str, ops: tuple[FOp, ...], lines: list[_Line], span: Span,
             rank: int) -> int:
        if ops and isinstance(ops[0], FInput):  # a branch of another input reads that input
            fork, rank, ops = self.b.input_names[ops[0].name], self.b.input_ranks[ops[0].name], ops[1:]
        inner, out_rank = self.ops(ops, rank, start=(fork, span))
        # A join inside the branch: its statements stand first, the chains after them are the branch.
        last_stmt = max((k for k, line in enumerate(inner) if not isinstance(line, list)), default=-1)
        lines.extend(line for line in inner[: last_stmt + 1])
        steps: list[s.Step] = []
        for line in inner[last_stmt + 1:]:
            assert isinstance(line, list)
            steps.extend(line)
        lines.append(s.BindStmt(name, _chain(steps), _chain(steps).span, span))
        return out_rank

    def tensor_name(self, wanted: str | None) -> str:
        """A name for a tensor: its Python variable's when free, else h, h2, ..."""
        taken = self.taken_names()
        # A catalogue kind (`mean`, `max`, `cat`) cannot name a tensor in the DSL.
        free = wanted is not None and wanted not in taken and lookup(wanted) is None
        if wanted and free and _NAME.fullmatch(wanted) and wanted != "x":
            self.tensors.add(wanted)
            return wanted
        base = "h"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}{n}", n + 1
        self.tensors.add(name)
        return name

    def taken_names(self) -> set[str]:
        params = {p.name for p in self.lifted.params} | {p.name for p in self.b.imp.params(self.b.cfg)}
        return (set(self.lifted.attrs) | set(self.lifted.dicts) | params | self.tensors | DSL_WORDS
                | {"x", "batch", "length", "alphabet", "classes"} | set(self.b.imp.block_names.values()))

    def call_step(self, op: FCall, node: ModNode, rank: int) -> s.Step:
        _check_name(op.name, node.span)
        if op.key is not None:  # an entry of a module dict: `heads.profile = ...`, then `heads.profile`
            entry = f"{op.name}.{op.key}"
            self.done.add(op.name)
            if entry in self.done:
                return s.Step(None, s.Ref(entry, op.span), op.span)
            self.done.add(entry)
            return s.Step(entry, self.term(node, rank, entry), op.span, op.span)
        if op.index is not None and op.by_position and not self.b.in_loop:
            raise Unsupported(
                "unsupported",
                f"an item of the nn.ModuleList `{op.name}` is called by itself (by a fixed index, or in a "
                "branch that is not one of a merge of every item's output); archc lifts "
                "`for m in self.LIST:` loops that update one tensor and merges of every item's output "
                "(`torch.cat([m(x) for m in self.LIST], 1)`)",
                op.span, help="use an nn.ModuleDict for heads with outputs of their own")
        if op.index is not None:  # an item of a module list, inside its loop
            self.done.add(op.name)
            return s.Step(op.name, self.term(node, rank, f"{op.name}[{op.index}]"), op.span, op.span)
        if op.name in self.done:
            return s.Step(None, s.Ref(op.name, op.span), op.span)
        self.done.add(op.name)
        if id(node) in self.emitted:
            return s.Step(op.name, s.Ref(self.emitted[id(node)], op.span), op.span, op.span)
        self.emitted[id(node)] = op.name
        term = self.term(node, rank, op.name)
        return s.Step(op.name, term, op.span, op.span)

    def term(self, node: ModNode, rank: int, name: str) -> s.Term:
        if isinstance(node, LayerNode):
            return self.b.layer_term(node, name)
        if isinstance(node, BlockNode):
            return self.b.block_term(node, rank)
        lines: list[list[s.Step]] = []
        cur: list[s.Step] = []
        items = list(node.items)
        i = 0
        while i < len(items):
            item = items[i]
            names = self.attr_of.get(id(item))
            count = 1
            if names:
                if id(item) in self.emitted:
                    step = s.Step(None, s.Ref(self.emitted[id(item)], item.span), item.span)
                else:
                    item_name = next((n for n in names if n not in self.done), names[0])
                    _check_name(item_name, item.span)
                    self.emitted[id(item)] = item_name
                    self.done.add(item_name)
                    step = s.Step(item_name, self.term(item, rank, item_name), item.span, item.span)
            else:
                if id(item) in self.unnamed:
                    raise Unsupported("unsupported", "this module is used in two places without being "
                                      "an attribute of self; archc cannot share it", item.span,
                                      help="assign it to self first")
                self.unnamed.add(id(item))
                while (
                    isinstance(item, BlockNode)
                    and i + count < len(items)
                    and _same_block(item, items[i + count])
                    and id(items[i + count]) not in self.attr_of
                ):
                    self.unnamed.add(id(items[i + count]))
                    count += 1
                term = self.term(item, rank, f"{name}[{i}]")
                if count > 1:
                    term = s.Repeat(term, s.Int(count, item.span), item.span, item.span)
                step = s.Step(None, term, item.span)
            if _starts_line(item) and any(_starter(st) for st in cur):
                lines.append(cur)
                cur = []
            cur.append(step)
            for _ in range(count):
                rank = self.b.rank_node(item, rank)
            i += count
        if cur:
            lines.append(cur)
        return s.Seq(tuple(_chain(line) for line in lines), node.span)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _unshadow(body: list[s.Stmt]) -> list[s.Stmt]:
    """A layer kind called with arguments after a module of the class took its name
    (`self.linear = nn.Sequential(...)`, then `nn.Linear(...)`) is written by its PyTorch name
    (`Linear(...)`): the DSL reads `linear(...)` there as a reuse of the module `linear`."""
    defined: set[str] = set()

    def fix(item: Any) -> Any:
        if isinstance(item, (tuple, list)):
            fixed = [fix(i) for i in item]  # in order: a name counts from its definition on
            return item if all(a is b for a, b in zip(fixed, item, strict=True)) else type(item)(fixed)
        if isinstance(item, s.Call) and item.name in defined and item.args:
            spec = lookup(item.name)
            if spec is not None:
                item = replace(item, name=spec.torch_class or item.name.upper())
        if hasattr(item, "__dataclass_fields__") and not isinstance(item, Span):
            changes = {f: fix(getattr(item, f)) for f in item.__dataclass_fields__}
            if isinstance(item, s.Step) and item.name is not None:
                defined.add(item.name)
            if any(changes[f] is not getattr(item, f) for f in changes):
                return replace(item, **changes)
        return item

    return [fix(stmt) for stmt in body]


def _plain_index(name: str) -> bool:
    """A loop index the DSL can name as the Python does."""
    return (name.isascii() and name.isidentifier() and not name.startswith("_") and name not in DSL_WORDS
            and name not in RESERVED_PARAMS)


def _check_name(name: str, span: Span) -> None:
    """archc names are ASCII identifiers; Python also allows others."""
    if not _NAME.fullmatch(name):
        raise Unsupported("bad-name", f"`{name}` is not an ASCII identifier, which archc names must be",
                          span, help="rename the attribute (its state_dict key changes with it)")


def _starts_line(node: ModNode) -> bool:
    return not isinstance(node, LayerNode) or node.kind in STARTS_LINE


def _starter(step: s.Step) -> bool:
    term = step.term
    if isinstance(term, s.Repeat):
        return True
    name = term.name if isinstance(term, (s.Call, s.Ref)) else ""
    return isinstance(term, s.Seq) or name in STARTS_LINE or (
        bool(name) and lookup(name) is None and name[:1].isupper()
    )


def _node_of(lifted: Lifted, op: FCall) -> ModNode:
    if op.key is not None:
        return lifted.dicts[op.name].items[op.key]
    if op.index is not None:
        return lifted.lists[op.name].items[op.index]
    return lifted.attrs[op.name]


def _first_use(ops: tuple[FOp, ...], target: FInput) -> FOp | None:
    """The step that first reads another forward input (None: it is used as it is)."""
    for k, op in enumerate(ops):
        if op is target:
            return ops[k + 1] if k + 1 < len(ops) else None
        inner: tuple[tuple[FOp, ...], ...] = ()
        if isinstance(op, FMerge):
            inner = op.branches
        elif isinstance(op, FResidual):
            inner = (op.body, op.shortcut or ())
        elif isinstance(op, FLoop):
            inner = op.iterations
        for branch in inner:
            if branch and branch[0] is target:
                return branch[1] if len(branch) > 1 else None
            found = _first_use(branch, target)
            if found is not None:
                return found
    return None


def _describe_op(op: FOp) -> str:
    if isinstance(op, FCall):
        return f"self.{op.name}"
    if isinstance(op, FLayer):
        return op.kind
    return type(op).__name__[1:].lower()


def _flat_ops(ops: tuple[FOp, ...]) -> Iterator[FOp]:
    for op in ops:
        yield op
        if isinstance(op, FResidual):
            yield from _flat_ops(op.body)
            yield from _flat_ops(op.shortcut or ())


class _Hole:
    """Where the iterations of a loop wrote different numbers: `values[k]` in iteration k."""

    def __init__(self, values: tuple[Value, ...], span: Span) -> None:
        self.values = values
        self.span = span


def _unify_trees(trees: list[Any], found: list[tuple[tuple[Value, ...], str, Span]], hint: str,
                 arg: str) -> Any:
    """The first tree with a _Hole wherever the trees hold different numbers (ints or floats,
    recorded in `found` with a name hint from the argument they stand for), or None when they
    differ in anything else. Spans are not compared: each item has its own source text."""
    first = trees[0]
    if all(isinstance(t, (s.Int, s.Float)) for t in trees) and len({type(t) for t in trees}) == 1:
        values = tuple(t.value for t in trees)
        if len(set(values)) == 1:
            return first
        found.append((values, f"{hint}_{arg}" if arg else hint, first.span))
        return _Hole(values, first.span)
    if isinstance(first, Span):
        return first
    if isinstance(first, (list, tuple)):
        if any(type(t) is not type(first) or len(t) != len(first) for t in trees):
            return None
        items = []
        for k in range(len(first)):
            item = _unify_trees([t[k] for t in trees], found, hint, f"{arg}{k}" if arg.endswith("_") else arg)
            if item is None and first[k] is not None:
                return None
            items.append(item)
        return type(first)(items)
    if hasattr(first, "__dataclass_fields__"):
        if any(type(t) is not type(first) for t in trees):
            return None
        fields: dict[str, Any] = {}
        for f in first.__dataclass_fields__:
            sub_arg = arg
            if isinstance(first, s.Arg) and f == "value":
                sub_arg = first.name or arg
            if isinstance(first, s.Call) and f == "args":
                if any(len(t.args) != len(first.args) for t in trees):
                    return None
                positional = _positional_names(first.name)
                args = []
                for k, a in enumerate(first.args):
                    what = a.name or (positional[k] if k < len(positional) else f"arg{k}")
                    item = _unify_trees([t.args[k] for t in trees], found, hint, what)
                    if item is None:
                        return None
                    args.append(item)
                fields[f] = tuple(args)
                continue
            value = _unify_trees([getattr(t, f) for t in trees], found, hint, sub_arg)
            if value is None and getattr(first, f) is not None:
                return None
            fields[f] = value
        return type(first)(**fields)
    return first if all(t == first for t in trees) else None


def _positional_names(kind: str) -> list[str]:
    """A layer's arguments in the order the DSL takes them positionally."""
    spec = lookup(kind)
    if spec is None:
        return []
    sizes = (spec.size_in, spec.size_out)
    return ([spec.size_out] if spec.size_out else []) + [p.name for p in spec.params if p.name not in sizes]


def _fill_index(tree: Any, names: dict[tuple[Value, ...], str], var: str, first: int = 0) -> Any:
    """The tree with each _Hole as `tuple_name[var]` (`[var - first]` when the iterations
    it stands for start at index `first`)."""
    if isinstance(tree, _Hole):
        index: s.Expr = s.Var(var, tree.span)
        if first:
            index = s.BinOp("-", index, s.Int(first, tree.span), tree.span)
        return s.Index(s.Var(names[tree.values], tree.span), index, tree.span)
    if isinstance(tree, (list, tuple)):
        return type(tree)(_fill_index(t, names, var, first) for t in tree)
    if hasattr(tree, "__dataclass_fields__") and not isinstance(tree, Span):
        fields = {f: _fill_index(getattr(tree, f), names, var, first) for f in tree.__dataclass_fields__}
        return type(tree)(**fields)
    return tree


def _tuple_expr(values: tuple[Value, ...], span: Span) -> s.TupleExpr:
    items: list[s.Expr] = []
    for v in values:
        leaf: s.Expr = s.Float(abs(v), span) if isinstance(v, float) else s.Int(abs(v), span)  # type: ignore[arg-type]
        items.append(s.Neg(leaf, span) if v < 0 else leaf)  # type: ignore[operator]
    return s.TupleExpr(tuple(items), span)


def _loop_shape(ops: tuple[FOp, ...]) -> list[object]:
    """What an iteration does, up to which item of a module list it calls."""
    out: list[object] = []
    for op in _flat_ops(ops):
        if isinstance(op, FCall):
            out.append(("call", op.name))
        elif isinstance(op, FLayer):
            out.append(("layer", op.kind, tuple((k, v) for k, v, _ in op.args)))
        elif isinstance(op, FResidual):
            out.append(("residual", len(op.body), op.shortcut is not None))
        else:
            out.append(type(op).__name__)
    return out


_Line = list[s.Step] | s.Stmt  # a chain still being written, or a finished statement


def _stmt(line: _Line) -> s.Stmt:
    return _chain(line) if isinstance(line, list) else line


def _chain(steps: list[s.Step]) -> s.Chain:
    span = steps[0].span
    for st in steps[1:]:
        span = span.cover(st.span)
    return s.Chain(tuple(steps), span)


def _same_block(a: ModNode, b: ModNode) -> bool:
    if not (isinstance(a, BlockNode) and isinstance(b, BlockNode)) or a.cls_name != b.cls_name:
        return False
    def key(v: Val) -> object:
        # Equal numbers that follow different constructor arguments are different blocks.
        return (v, show_expr(v.expr)) if isinstance(v, Const) and v.expr is not None else v

    return [(k, key(v)) for k, v, _ in a.args] == [(k, key(v)) for k, v, _ in b.args]


def _is_default(kind: str, name: str, value: Val, in_loop: bool = False) -> bool:
    spec = lookup(kind)
    pspec = spec.param(name) if spec else None
    if pspec is None or (not isinstance(value, Const) and not _all_const(value)):
        return False
    if isinstance(value, Const) and value.expr is not None and (
        in_loop or any(read_mark(n) is None for n in var_names(value.expr))
    ):
        return False  # it follows a constructor argument (or, in a DSL loop, its index)
    default = pspec.default
    items = _plain(value)
    if isinstance(items, tuple):
        return bool(items) and all(type(i) is type(default) and i == default for i in items)
    return type(items) is type(default) and items == default


def _all_const(value: Val) -> bool:
    return isinstance(value, (TupleV, ListV)) and all(isinstance(i, Const) for i in value.items)


def _plain(value: Val) -> object:
    if isinstance(value, Const):
        return value.value
    return tuple(_plain(i) for i in getattr(value, "items", ()))


# ------------------------------------------------------------------ checking and searching


@dataclass
class _Outcome:
    layout: Layout
    alphabet: int
    alphabet_pin: Pin | None
    length: int | None
    length_note: str
    length_pin: Pin | None
    failure: Unsupported | None  # no length fits a pin
    checked: ir.Architecture | None = None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lowest: int = 1  # the shortest length the loosened model accepts

    @property
    def ok(self) -> bool:
        return self.checked is not None and not any(d.is_error for d in self.diagnostics)

    @property
    def clean(self) -> bool:
        return self.ok and not any(d.code in AXIS_WARNINGS for d in self.diagnostics)


class _Search:
    """Chooses the input layout, alphabet and length, then writes the final tree."""

    def __init__(self, source: Source, interp: Interp, top: Lifted, cls_name: str, options: Options,
                 rep: Reporter) -> None:
        self.source = source
        self.interp = interp
        self.top = top
        self.cls_name = cls_name
        self.options = options
        self.rep = rep
        self.spans = interp.spans
        self.arch_name = _arch_name(source.path)
        self.final, self.final_value = self.find_final()
        self.block_names, self.py_names = self.name_blocks()
        self.input_notes: dict[str, str] = {}  # the header's line for each input after the first
        taken = set(top.attrs)
        self.explicit_axes = {p for p in ("alphabet", "length") if p in taken}
        if "classes" in taken or "classes" in {p.name for p in top.params}:
            self.final = None
        out_value = self.final.args["out_features"][0] if self.final is not None else None
        if isinstance(out_value, Const) and out_value.expr is not None:
            self.final = None  # its size follows a constructor argument, which stays its parameter

    # ---------------------------------------------------------------- names

    def name_blocks(self) -> tuple[dict[str, str], dict[str, str]]:
        names: dict[str, str] = {}
        used: set[str] = set()
        for py in self.interp.lifted:
            name = py.lstrip("_") or "Block"
            if not _NAME.fullmatch(name):
                name = "Block"
            for param in self.interp.lifted[py].params:
                _check_name(param.name, param.span)
            if (
                lookup(name) is not None
                or class_name_problem(name) is not None
                or name in ("TorchModel", "Tensor")
                or name in DSL_WORDS
            ):
                name += "Block"
            base, n = name, 2
            while name in used:
                name, n = f"{base}{n}", n + 1
            used.add(name)
            names[py] = name
        return names, {v: k for k, v in names.items()}

    def class_name_span(self, node: ast.ClassDef) -> Span:
        span = self.spans.of(node)
        text = self.source.text
        found = re.compile(r"class\s+" + re.escape(node.name)).search(text, span.start)
        if found and found.start() < span.end:
            return Span(found.end() - len(node.name), found.end())
        return span

    def uses_embedding(self) -> bool:
        def walk(node: ModNode) -> bool:
            if isinstance(node, LayerNode):
                return node.kind == "embedding"
            if isinstance(node, SeqNode):
                return any(walk(i) for i in node.items)
            return False

        return any(walk(node) for node in self.top.attrs.values())

    def find_final(self) -> tuple[LayerNode | None, int]:
        """The Linear whose output size is the model's output size (it becomes `classes`)."""

        def last(node: ModNode) -> LayerNode | bool | None:
            if isinstance(node, LayerNode):
                if node.kind == "linear":
                    return node
                return True if node.kind in KEEPS_FEATURES else None
            if isinstance(node, SeqNode):
                for item in reversed(node.items):
                    found = last(item)
                    if found is not True:
                        return found
                return True
            return None

        for op in reversed(self.top.forward):
            if isinstance(op, FLayer) and op.kind in KEEPS_FEATURES:
                continue
            if isinstance(op, FCall):
                found = last(_node_of(self.top, op))
                if found is True:
                    continue
                if isinstance(found, LayerNode):
                    out = found.args.get("out_features")
                    if out is not None and isinstance(out[0], Const) and isinstance(out[0].value, int):
                        return found, out[0].value
            break
        return None, 0

    def params(self, cfg: Config) -> list[s.Param]:
        out = [p for p in self.top.params if p.name not in ("classes", "length", "alphabet")
               or p.name == "classes"]
        if self.final is not None:
            span = self.final.args["out_features"][1]
            classes = self.options.sets.get("classes", self.final_value)
            out.append(s.Param("classes", s.Int(int(classes), span) if isinstance(classes, int) else
                               s.Int(self.final_value, span), span))
        span = self.top.input_span
        if "length" not in self.explicit_axes:
            out.append(s.Param("length", s.Int(cfg.length, span), span))
        if "alphabet" not in self.explicit_axes:
            out.append(s.Param("alphabet", s.Int(cfg.alphabet, span), span))
        return out

    # ---------------------------------------------------------------- checking

    def check(
        self, tree: s.File, alphabet: int, length: int
    ) -> tuple[ir.Architecture | None, list[Diagnostic]]:
        rep = Reporter(self.source)
        overrides: dict[str, Value] = {}
        names = {p.name for p in tree.archs[0].params}
        if "alphabet" in names:
            overrides["alphabet"] = alphabet
        if "length" in names:
            overrides["length"] = length
        if "classes" in names and "classes" in self.options.sets:
            overrides["classes"] = self.options.sets["classes"]
        try:
            resolved = Resolver(tree, rep).arch(tree.archs[0], overrides)
        except CompileError:
            return None, rep.items
        if rep.has_errors:
            return None, rep.items
        return ShapeChecker(rep).check(resolved), rep.items

    def build(self, cfg: Config) -> tuple[s.File, list[Pin]]:
        builder = _Builder(self, cfg)
        tree = builder.file()
        self.item_sizes = builder.item_sizes
        return tree, builder.pins

    # ---------------------------------------------------------------- search

    def run(self) -> Loaded:
        given_layout = self.options.layout
        # A seqgra encoding (from the XML or --layout) says exactly how the module is fed:
        # lint then reports what the module's own steps do with that input. Only without
        # one does the file itself decide (ChromDragoNN's leading permute).
        layouts = list(LAYOUTS) if given_layout is None else [ENCODED_LAYOUT[given_layout.upper()]]
        if given_layout is None and self.uses_embedding():
            layouts.append(TOKENS)  # integer tokens (batch, length) into an nn.Embedding
        outcomes: list[_Outcome] = []
        chosen: _Outcome | None = None
        for layout in layouts:
            outcome = self.evaluate(layout)
            outcomes.append(outcome)
            if outcome.clean and outcome.failure is None:
                chosen = outcome
                break
        if chosen is None:
            chosen = next((o for o in outcomes if o.ok and o.failure is None), outcomes[0])
        if chosen.failure is not None:
            err = chosen.failure
            self.rep.error(err.code, err.message, err.span, help=err.help)
            return Loaded(self.source, None, self.rep)
        return self.finish(chosen)

    def dry_input(self, layout: Layout) -> tuple[int, int, Span] | None:
        """(channels, length, span) of the dry runs that sized layers, read in this layout."""
        if not self.interp.dry_used:
            return None
        shapes = {shape for shape, _ in self.interp.dry.values()}
        if len(shapes) != 1:
            raise Unsupported("unsupported", "dry runs on inputs of different shapes size the layers",
                              self.interp.dry_used[0])
        shape = shapes.pop()
        span = next(sp for _, sp in self.interp.dry.values())
        if len(shape) != layout.rank or shape[0] != 1:
            return None
        return shape[layout.axes.index("channels")], shape[layout.axes.index("length")], span

    def partial_diagnostics(self) -> list[Diagnostic]:
        """The checks of a forward cut short (Lifted.partial): first layout that checks."""
        given = self.options.layout
        layouts = list(LAYOUTS) if given is None else [ENCODED_LAYOUT[given.upper()]]
        outcomes = [self.evaluate(layout) for layout in layouts]
        # As `run` chooses: a layout that checks cleanly, else one that checks, else the first.
        chosen = next((o for o in outcomes if o.clean and o.failure is None),
                      next((o for o in outcomes if o.ok and o.failure is None), outcomes[0]))
        if chosen.failure is not None:
            return []
        fixed = chosen.length is not None
        return [d for d in chosen.diagnostics if d.code != "length-unknown"
                and (fixed or (d.is_error and d.code == "shape-mismatch"))]

    def evaluate(self, layout: Layout) -> _Outcome:
        try:
            return self.evaluate_in(layout)
        except Unsupported as err:
            if layout is LAYOUTS[0] or self.options.layout is not None:
                raise  # the first layout's refusal is the one reported
            # Some steps hold in one rank only (x[:, :, a : x.shape[-1] - b]): this layout fails.
            return _Outcome(layout, DEFAULT_ALPHABET, None, None, "", None, err)

    def evaluate_in(self, layout: Layout) -> _Outcome:
        relaxed, pins = self.build(Config(layout, relax=True))
        sets = self.options.sets
        alphabet, alphabet_pin = self.find_alphabet(relaxed, pins)
        given_length = sets.get("length")
        outcome = _Outcome(layout, alphabet, alphabet_pin, None, "", None, None)
        dry = self.dry_input(layout)
        if isinstance(given_length, int) and not isinstance(given_length, bool):
            outcome.length = given_length
            outcome.length_note = "from --set length"
        elif dry is not None:
            # The dry run sized layers at its input's length: the lift holds at that length.
            outcome.length, where = dry[1], dry[2]
            line = self.source.locate(where)[0].line_col(self.source.locate(where)[1].start)[0]
            outcome.length_note = f"the dry run's input at line {line}"
        else:
            self.find_length(relaxed, [p for p in pins if p is not alphabet_pin], outcome)
        length = outcome.length if outcome.length is not None else outcome_default(outcome)
        faithful, _ = self.build(Config(layout, alphabet=alphabet, length=length))
        item_sizes = self.item_sizes
        outcome.checked, outcome.diagnostics = self.check(faithful, alphabet, length)
        if outcome.checked is not None and self.interp.input_crops and outcome.failure is None:
            outcome.failure = self.input_crop_problem(outcome.checked, layout)
        if outcome.checked is not None and item_sizes and outcome.failure is None:
            outcome.failure = self.item_size_problem(outcome.checked, item_sizes)
        return outcome

    def item_size_problem(
        self, checked: ir.Architecture, item_sizes: list[tuple[Span, list[int], str, Span]]
    ) -> Unsupported | None:
        """A module-list item built for an input size its place in the loop does not give."""
        measured = _measure(checked)
        for span, wants, name, want_span in item_sizes:
            got = measured.get(span)
            if got is None or len(got) != len(wants):
                continue  # not reached at this length (the check says why)
            for k, (want, size) in enumerate(zip(wants, got, strict=True)):
                if want != size:
                    return Unsupported(
                        "shape-mismatch", f"item {k} of `{name}` is built for {want} input features or "
                        f"channels, but receives {size} there", want_span,
                        help="build each item for the size the item before it gives")
        return None

    def input_crop_problem(self, checked: ir.Architecture, layout: Layout) -> Unsupported | None:
        """A slice stopping at `X.shape[2] - t` of the input, lifted as a crop: right only where
        the sliced tensor is as long as the input, for every length (compared symbolically)."""
        for item in _walk_class(checked.cls):
            if not (isinstance(item, ir.Functional) and item.layer.kind == "crop"):
                continue
            where = self.interp.input_crops.get(item.layer.span)
            if where is None or not item.shape:
                continue
            dim, shown = where
            left, right = item.layer.get("left") or 0, item.layer.get("right") or 0
            axis = layout.axes[dim] if -len(layout.axes) <= dim < len(layout.axes) else "?"
            param = {"length": "length", "channels": "alphabet"}.get(axis)
            size = item.shape[-1].size
            assert isinstance(left, int) and isinstance(right, int)
            if param is not None and size is not None:
                sliced = sym.add(sym.add(sym.root_of(size), sym.root_of(left)), sym.root_of(right))
                if sliced == sym.symbol(param):
                    continue
            return Unsupported(
                "unsupported", f"the slice `{shown}` stops at a size of the input, but the tensor it slices "
                f"is not as long as the input's axis {dim} ({axis}) at every length; archc lifts such a "
                "slice where the two are equal", item.layer.span,
                help="count the stop from the end of the tensor sliced (`y.shape[-1] - t`)")
        return None

    def probe(self, tree: s.File, alphabet: int, length: int, cache: _Cache) -> _Measured | None:
        """Sizes measured in the loosened model at one alphabet and length (None: it does not check)."""
        key = (alphabet, length)
        if key not in cache:
            checked, _ = self.check(tree, alphabet, length)
            cache[key] = None if checked is None else _measure(checked)
        return cache[key]

    def find_alphabet(self, relaxed: s.File, pins: list[Pin]) -> tuple[int, Pin | None]:
        given = self.options.sets.get("alphabet")
        if isinstance(given, int) and not isinstance(given, bool):
            return given, None
        sizes = [p for p in pins if p.kind == "size"]
        if not sizes:
            return DEFAULT_ALPHABET, None
        cache: _Cache = {}
        length = self.options.sets.get("length")
        lengths = [length] if isinstance(length, int) and not isinstance(length, bool) else [
            1000, 10_000, 100_000]
        for probe_length in lengths:
            a = self.probe(relaxed, 7, probe_length, cache)
            b = self.probe(relaxed, 11, probe_length, cache)
            if a is None or b is None:
                continue
            for pin in sizes:
                if a.get(pin.span, [0])[0] == 7 and b.get(pin.span, [0])[0] == 11:
                    return pin.want, pin
            break
        return DEFAULT_ALPHABET, None

    def find_length(self, relaxed: s.File, pins: list[Pin], outcome: _Outcome) -> None:
        cache: _Cache = {}
        alphabet = outcome.alphabet

        def value(pin: Pin, length: int) -> int | None:
            got = self.probe(relaxed, alphabet, length, cache)
            if got is None or pin.span not in got:
                return None
            return got[pin.span][0]

        if self.probe(relaxed, alphabet, CAP, cache) is None:
            return  # no length makes even the loosened model check: the real check will say why
        lo = _first_true(1, CAP, lambda n: self.probe(relaxed, alphabet, n, cache) is not None)
        outcome.lowest = lo
        hi = CAP
        bounding: Pin | None = None
        for pin in pins:
            v_lo, v_hi = value(pin, lo), value(pin, hi)
            if v_lo is None or v_hi is None or v_lo >= v_hi:
                continue  # does not grow with the length
            if not v_lo <= pin.want <= v_hi:
                near = v_lo if pin.want < v_lo else v_hi
                at = lo if pin.want < v_lo else hi
                outcome.failure = self.no_length(pin, [(at, near)])
                return
            def reaches(n: int, pin: Pin = pin) -> bool:
                return (value(pin, n) or 0) >= pin.want

            def passes(n: int, pin: Pin = pin) -> bool:
                return (value(pin, n) or 0) > pin.want

            a = _first_true(lo, hi, reaches)
            got = value(pin, a)
            if got != pin.want:
                below = a - 1 if a > lo else a
                outcome.failure = self.no_length(pin, [(below, value(pin, below) or 0), (a, got or 0)])
                return
            b = _first_true(a, hi, passes)
            lo, hi, bounding = a, b - 1, pin
        if bounding is None or hi >= CAP:
            outcome.length_note = "nothing in the file fixes it"
            outcome.lowest = lo
            stated = self.stated_length(lo, CAP)
            if stated is not None:
                outcome.length = stated[1]
                outcome.length_note = f"the constructor's `{stated[0]}`"
            return
        outcome.length = _roundest(lo, hi)
        stated = self.stated_length(lo, hi)
        if stated is not None:
            outcome.length = stated[1]
        outcome.length_pin = bounding
        what = (
            f"fixed by the {bounding.want} input features of `{bounding.name}`"
            if bounding.kind == "size"
            else f"fixed by the {bounding.want} elements per sample of a {bounding.name}"
        )
        spread = f"; lengths {lo}..{hi} all fit" if hi > lo else ""
        outcome.length_note = f"{what}{spread}"
        if stated is not None:
            outcome.length_note += f"; {stated[1]} is the constructor's `{stated[0]}`"

    def stated_length(self, lo: int, hi: int) -> tuple[str, int] | None:
        """A constructor argument that names the input length (`seq_len=249`), when it fits."""
        for param in self.top.params:
            default = param.default
            # `seq_len`, or the field `args.seq_len` of an object argument (`args_seq_len`)
            named = param.name.lower() in LENGTH_NAMES or any(
                param.name.lower().endswith("_" + n) for n in LENGTH_NAMES)
            if named and isinstance(default, s.Int) and (
                lo <= default.value <= hi
            ):
                return param.name, default.value
        return None

    def no_length(self, pin: Pin, near: list[tuple[int, int]]) -> Unsupported:
        what = f"the {pin.want} input features `{pin.name}` expects" if pin.kind == "size" else (
            f"the {pin.want} elements per sample this {pin.name} expects")
        nearest = ", ".join(f"length {n} gives {v}" for n, v in near)
        return Unsupported(
            "no-length",
            f"no input length gives {what}",
            pin.want_span,
            help=f"the nearest: {nearest}; correct the size, or pass --set length=N to see the "
            "mismatch at one length",
        )

    # ---------------------------------------------------------------- result

    def finish(self, chosen: _Outcome) -> Loaded:
        layout, alphabet = chosen.layout, chosen.alphabet
        length = chosen.length if chosen.length is not None else outcome_default(chosen)
        cfg = Config(layout, alphabet=alphabet, length=length)
        tree, _ = self.build(cfg)
        if chosen.ok and chosen.checked is not None and not self.options.keep_sizes:
            labels = dict(_view_labels(chosen.checked))
            concise, _ = self.build(replace(cfg, concise=True, labels=labels))
            checked, diags = self.check(concise, alphabet, length)
            if checked is not None and not any(d.is_error for d in diags):
                tree = concise
                merges = find_merges(concise)
                if merges:
                    merged = apply_merges(concise, merges)
                    checked, merged_diags = self.check(merged, alphabet, length)
                    # Only when no diagnostic moves: each must still point at its own class's lines.
                    if checked is not None and merged_diags == diags:
                        tree = merged
        if chosen.length is None:
            lo = chosen.lowest
            self.rep.warning(
                "length-unknown",
                f"nothing in this file fixes the input length; archc assumes {length}",
                self.top.input_span,
                help="pass --set length=N for the real length"
                + (f" (lengths from {lo} work)" if lo > 1 else ""),
            )
        where = Path(self.source.path).name
        header = [f"lifted from {where} (class {self.cls_name}) by archc import"]
        pin = chosen.alphabet_pin
        alpha_note = (
            f"the input channels of `{pin.name}`" if pin else
            ("from --set alphabet" if "alphabet" in self.options.sets else "nothing fixes it: DNA assumed")
        )
        header.append(f"input {layout.show()}")
        if layout == TOKENS:
            alpha_note = "unused: the input holds token indices"
        header.append(f"alphabet {alphabet}: {alpha_note}")
        header.append(f"length {length}: {chosen.length_note or 'assumed'}")
        header.extend(self.input_notes[extra.name] for extra in self.top.extra_inputs)
        header.extend(self.interp.notes)
        used = var_names(tree)
        fixed = [p.name for p in self.top.params if p.name not in used]
        if fixed:
            header.append(f"read when lifting, not followed by the .arch: {', '.join(fixed)} (lift "
                          "again with --set NAME=VALUE to change them)")
        return Loaded(self.source, tree, self.rep, header, frozenset(self.interp.consumed))


def outcome_default(outcome: _Outcome) -> int:
    """The length checked when nothing fixes it: 1000, or the shortest that fits if longer."""
    lo = outcome.lowest
    return 1000 if lo <= 1000 else -(-lo // 100) * 100


def _first_true(lo: int, hi: int, pred: Callable[[int], bool]) -> int:
    """The smallest n in [lo, hi] with pred(n), assuming pred is monotone (hi + 1 if none)."""
    if not pred(hi):
        return hi + 1
    while lo < hi:
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _roundest(lo: int, hi: int) -> int:
    """The roundest length in [lo, hi]: most trailing zeros, then a multiple of 5, then the smallest."""
    best = lo
    for zeros in range(len(str(hi)), -1, -1):
        step = 10**zeros
        first = -(-lo // step) * step
        if first <= hi and first > 0:
            best = first
            break
    if best % 10:
        first5 = -(-lo // 5) * 5
        if first5 <= hi:
            best = first5
    return best


def _sequentials(cls: ir.ClassDef) -> Iterator[ir.Sequential]:
    def module(m: ir.ModuleExpr) -> Iterator[ir.Sequential]:
        if isinstance(m, ir.Sequential):
            yield m
            for item in m.items:
                yield from module(item)
        elif isinstance(m, ir.BlockRef):
            yield from _sequentials(m.cls)

    for attr in cls.attrs:
        yield from module(attr.module)


def _walk_class(cls: ir.ClassDef) -> Iterator[ir.Layer | ir.Functional]:
    def module(m: ir.ModuleExpr) -> Iterator[ir.Layer | ir.Functional]:
        if isinstance(m, ir.Layer):
            yield m
        elif isinstance(m, (ir.Sequential, ir.ModuleList)):
            for item in m.items:
                yield from module(item)
        elif isinstance(m, ir.BlockRef):
            yield from _walk_class(m.cls)

    def ops(items: tuple[ir.Op, ...]) -> Iterator[ir.Layer | ir.Functional]:
        for op in items:
            if isinstance(op, ir.Functional):
                yield op
            elif isinstance(op, ir.Residual):
                yield from ops(op.body)
                yield from ops(op.shortcut)
            elif isinstance(op, ir.Loop):
                for body in op.iterations:
                    yield from ops(body)

    for attr in cls.attrs:
        yield from module(attr.module)
    yield from ops(cls.forward)


def _measure(arch: ir.Architecture) -> dict[Span, list[int]]:
    """Each layer's input size and each view's element count, by span."""
    out: dict[Span, list[int]] = {}
    for seq in _sequentials(arch.cls):  # a flatten in an nn.Sequential: its element count
        for member, shape in zip(seq.items, seq.shapes, strict=False):
            if isinstance(member, ir.Layer) and member.kind == "flatten":
                out.setdefault(member.span, []).append(math.prod(d.size for d in shape if d.size is not None))
    for item in _walk_class(arch.cls):
        if isinstance(item, ir.Layer):
            spec = lookup(item.kind)
            if spec is not None and spec.size_in:
                value = item.get(spec.size_in)
                if isinstance(value, int):
                    out.setdefault(item.span, []).append(value)
        elif item.layer.kind in ("view", "reshape"):
            out.setdefault(item.layer.span, []).append(
                math.prod(d.size for d in item.shape if d.size is not None)
            )
    return out


def _view_labels(arch: ir.Architecture) -> Iterator[tuple[Span, tuple[str, ...]]]:
    for item in _walk_class(arch.cls):
        if isinstance(item, ir.Functional) and item.layer.kind in ("view", "reshape"):
            yield item.layer.span, tuple(d.label for d in item.shape)


def _arch_name(path: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_]", "_", Path(path).stem) or "model"
    if stem[0].isdigit():
        stem = "m_" + stem
    if stem in DSL_WORDS:
        stem += "_model"
    return stem


__all__ = ["read_py"]
