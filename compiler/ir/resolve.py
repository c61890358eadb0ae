"""Resolve a syntax tree into IR: bind parameters, compute values, look up layers and blocks."""

from __future__ import annotations

import contextlib
import json
import keyword
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.diagnostics import CompileError, Note, Reporter, did_you_mean
from ..core.pysafe import (
    BUILTIN_NAMES,
    GENERATED_GLOBALS,
    OUTPUT_KEY,
    class_name_problem,
    param_name_problem,
    suggest_name,
)
from ..core.source import Span
from ..core.sym import SymFloat, SymInt, SymStr, const, plain, recording, symbol
from ..core.values import MAX_INT, MAX_SIZE, Value, show, type_name
from ..core.values import kind as value_kind
from ..syntax import tree as s
from . import nodes as ir
from .expansion import MAX_LAYERS, MAX_NESTING, Expansion
from .layers import REQUIRED, LayerSpec, all_names, lookup, unsupported

# Calls that merge named tensors; `mean` and `max` over an axis are layers.
MERGE_NAMES = frozenset(ir.MERGES)

POISON = "<error>"  # stands in for a step that failed to resolve; checking stops there

# Attributes of torch.nn.Module: a layer of that name would be shadowed by the method.
MODULE_ATTRS = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
        # methods the emitter's options add to generated modules
        "fold_batchnorm",
        "to_channels_last",
    ]
)

# Axis names with a conventional size taken from the architecture's parameters.
AXIS_DEFAULTS = {"channels": "alphabet", "length": "length"}


@dataclass
class _Scope:
    """What one class body sees: values by name, and the attributes defined so far."""

    values: dict[str, Value]
    value_spans: dict[str, Span]
    attrs: list[ir.Attr] = field(default_factory=list)
    attr_spans: dict[str, Span] = field(default_factory=dict)
    block_stack: tuple[str, ...] = ()
    # The dataflow graph: named tensors (inputs and `:=`), which of them are read, the
    # tensor the next chain continues from when it has a name, and the outputs.
    tensors: dict[str, Span] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    current: str | None = None
    # The tensor the step being resolved reads, when it has a name (a chain's first step).
    step_input: str | None = None
    # Chains continuing a named tensor: the tensor, the chain, and the name it gives its result.
    implicit: list[tuple[str, Span, str | None]] = field(default_factory=list)
    returns: tuple[tuple[str, Span], ...] | None = None
    return_keys: tuple[str, ...] | None = None  # `return {key: name}`: the keys
    return_span: Span | None = None
    # Inside a `for` at class level: named layers are items of module lists.
    loop_depth: int = 0
    loop_tensors: set[str] = field(default_factory=set)
    lists: dict[str, list[ir.ModuleExpr]] = field(default_factory=dict)
    # The loop that fills each list: its index variable and range() bounds (for emission).
    list_ranges: dict[str, tuple[str, tuple[Value, ...]]] = field(default_factory=dict)
    loop_range: tuple[str, tuple[Value, ...]] | None = None
    list_loops: dict[str, Span | None] = field(default_factory=dict)
    # Module dicts (`heads.profile = ...`): each one's entries, by key, in order.
    dicts: dict[str, dict[str, ir.ModuleExpr]] = field(default_factory=dict)
    loop_id: Span | None = None
    in_loop: int = 0  # loops of any kind, seq ones included
    nested: int = 0  # inside a residual, an `if` or a loop: no `return` there
    in_shortcut: bool = False

    def has_attr(self, name: str) -> bool:
        return name in self.attr_spans

    def is_tensor(self, name: str) -> bool:
        return name in self.tensors and name not in self.attr_spans

    def class_attrs(self) -> tuple[ir.Attr, ...]:
        """The attributes, with every loop's module list and every module dict filled in."""

        def filled(a: ir.Attr) -> ir.Attr:
            if a.name in self.lists:
                items = tuple(self.lists[a.name])
                made = ir.ModuleList(items, a.span, *self.list_ranges.get(a.name, ("", ())))
                return ir.Attr(a.name, made, a.span)
            if a.name in self.dicts:
                entries = self.dicts[a.name]
                made = ir.ModuleList(tuple(entries.values()), a.span, keys=tuple(entries))
                return ir.Attr(a.name, made, a.span)
            return a

        return tuple(filled(a) for a in self.attrs)


class Resolver:
    """Turns one file's definitions into IR, reporting every problem it can find."""

    def __init__(self, file: s.File, reporter: Reporter, symbolic: bool = True) -> None:
        self.file = file
        # Without symbols every value is a plain number: the same checks, no expressions
        # (tests check the length analysis against this, one length at a time).
        self.symbolic = symbolic
        self.rep = reporter
        self.blocks: dict[str, s.BlockDef] = {}
        for block in file.blocks:
            if block.name in self.blocks:
                self.rep.error(
                    "duplicate-name",
                    f"block `{block.name}` is defined twice",
                    block.name_span,
                    notes=[Note("first defined here", self.blocks[block.name].name_span)],
                )
                continue
            problem = class_name_problem(block.name)
            if problem is not None:
                self.rep.error(
                    "bad-name",
                    f"`{block.name}` cannot name a block: {problem}",
                    block.name_span,
                    help=f"a block becomes a Python class; call it e.g. "
                    f"`{suggest_name(block.name, {b.name for b in file.blocks})}`",
                )
            if lookup(block.name) is not None:
                self.rep.error(
                    "duplicate-name",
                    f"block `{block.name}` has the name of a built-in layer",
                    block.name_span,
                    help="choose another name for the block",
                )
            for param in block.params:
                self.check_param_name(param)
            self.blocks[block.name] = block
        self.expansion = Expansion(self.blocks)
        # The architecture's parameters the module's structure depends on (repeat counts,
        # `if` conditions) or that are used other than as they are (a float in arithmetic):
        # the generic class cannot follow them and refuses other values (emit_torch).
        self.fixed: set[str] = set()
        # The parameters that decide what is built (loop bounds, repeat counts, `if`
        # conditions): a length probe cannot treat sizes as monotone in these.
        self.shaping: set[str] = set()
        self.top_env: Mapping[str, Value] | None = None

    # ------------------------------------------------------------ parameters

    def check_param_name(self, param: s.Param) -> None:
        """Parameters become constructor arguments of the generated classes."""
        problem = param_name_problem(param.name)
        if problem is not None:
            self.rep.error(
                "bad-name",
                f"`{param.name}` cannot name a parameter: {problem}",
                param.span,
                help=f"call it e.g. `{param.name}_`",
            )

    def bind_params(
        self, arch: s.ArchDef, overrides: Mapping[str, Value], override_spans: Mapping[str, Span]
    ) -> tuple[dict[str, Value], dict[str, Span]]:
        """Parameter values: defaults, replaced by --set values of a matching type."""
        values: dict[str, Value] = {}
        spans: dict[str, Span] = {}
        for param in arch.params:
            if param.name in values:
                self.rep.error(
                    "duplicate-name",
                    f"parameter `{param.name}` is declared twice",
                    param.span,
                    notes=[Note("first declared here", spans[param.name])],
                )
                continue
            spans[param.name] = param.span
            self.check_param_name(param)
            default: Value = None
            if param.default is not None:
                try:
                    default = self.eval(param.default, values)
                except CompileError:
                    continue
            if param.name in overrides:
                given = overrides[param.name]
                if param.default is not None and not _same_type(default, given):
                    self.rep.error(
                        "bad-set",
                        f"--set {param.name}={show(given)}: `{param.name}` takes a "
                        f"{type_name(default)}, not a {type_name(given)}",
                        param.span,
                        label=f"declared here with default {show(default)}",
                    )
                    values[param.name] = default
                else:
                    values[param.name] = (
                        float(given)
                        if isinstance(default, float)
                        and isinstance(given, int)
                        and not isinstance(given, bool)
                        else given
                    )
            elif param.default is None:
                self.rep.error(
                    "missing-argument",
                    f"parameter `{param.name}` has no default and no value was given",
                    param.span,
                    help=f"give it a default (`{param.name} = ...`) or pass --set {param.name}=VALUE",
                )
            else:
                values[param.name] = default
        for name in overrides:
            if name not in spans:
                suggestion = did_you_mean(name, [p.name for p in arch.params])
                self.rep.error(
                    "bad-set",
                    f"--set {name}: architecture `{arch.name}` has no parameter `{name}`",
                    override_spans.get(name, arch.name_span),
                    label="parameters are declared here",
                    help=(
                        f"did you mean `{suggestion}`?"
                        if suggestion
                        else "parameters: " + ", ".join(p.name for p in arch.params)
                    ),
                )
        return values, spans

    # ------------------------------------------------------------ expressions

    def item(self, expr: s.Index, env: Mapping[str, Value]) -> Value:
        """`kernels[i]`: a tuple's item, by a whole number from its start (or, negative, its end)."""
        value = self.eval(expr.value, env)
        if not isinstance(value, tuple):
            raise self.rep.fatal(
                "type-error",
                f"only a tuple can be indexed, not {show(value)} ({type_name(value)})",
                expr.value.span,
            )
        index = self.eval(expr.index, env)
        if isinstance(index, bool) or not isinstance(index, int):
            raise self.rep.fatal(
                "type-error",
                f"a tuple index is a whole number, got {show(index)} ({type_name(index)})",
                expr.index.span,
            )
        if not -len(value) <= index < len(value):
            raise self.rep.fatal(
                "bad-value",
                f"index {index} is out of range: {show(value)} has {len(value)} items",
                expr.index.span,
                help=f"the index runs from 0 to {len(value) - 1}" if value else "the tuple is empty",
            )
        return value[int(index)]

    def eval(self, expr: s.Expr, env: Mapping[str, Value]) -> Value:
        """Compute an expression; integer division that leaves a remainder gives a float."""
        if isinstance(expr, (s.Int, s.Float, s.Str, s.Bool)):
            return expr.value
        if isinstance(expr, s.NoneLit):
            return None
        if isinstance(expr, s.Var):
            if expr.name in env:
                value = env[expr.name]
                if env is self.top_env and (isinstance(value, (bool, tuple)) or value is None):
                    self.fixed.add(expr.name)  # no symbol for these: the literal is emitted
                return value
            suggestion = did_you_mean(expr.name, list(env))
            raise self.rep.fatal(
                "undefined-name",
                f"`{expr.name}` is not defined",
                expr.span,
                help=(
                    f"did you mean `{suggestion}`?"
                    if suggestion
                    else ("names in scope: " + ", ".join(sorted(env)) if env else "declare it as a parameter")
                ),
            )
        if isinstance(expr, s.TupleExpr):
            return tuple(self.eval(item, env) for item in expr.items)
        if isinstance(expr, s.Index):
            return self.item(expr, env)
        if isinstance(expr, s.Not):
            v = self.eval(expr.operand, env)
            if not isinstance(v, bool):
                raise self.rep.fatal(
                    "type-error", f"`not` needs true or false, got a {type_name(v)}", expr.span
                )
            return not v
        if isinstance(expr, s.BinOp) and expr.op in ("and", "or"):
            left_v = self.eval(expr.left, env)
            right_v = self.eval(expr.right, env)
            for v in (left_v, right_v):
                if not isinstance(v, bool):
                    raise self.rep.fatal(
                        "type-error", f"`{expr.op}` needs true or false, got a {type_name(v)}", expr.span
                    )
            return (left_v and right_v) if expr.op == "and" else (left_v or right_v)
        if isinstance(expr, s.BinOp) and expr.op in _COMPARISONS:
            left_v = self.eval(expr.left, env)
            right_v = self.eval(expr.right, env)
            for v in (left_v, right_v):
                if isinstance(v, (SymFloat, SymStr)):
                    self.fixed |= v.roots  # the outcome decides what is built
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left_v, right_v))
            if expr.op in ("==", "!="):
                if not numbers and value_kind(left_v) is not value_kind(right_v):
                    raise self.rep.fatal(
                        "type-error",
                        f"`{expr.op}` compares a {type_name(left_v)} with a {type_name(right_v)}",
                        expr.span,
                    )
                return (left_v == right_v) == (expr.op == "==")
            if not numbers:
                raise self.rep.fatal("type-error", f"`{expr.op}` compares numbers", expr.span)
            return bool(_COMPARISONS[expr.op](left_v, right_v))
        if isinstance(expr, s.Neg):
            v = self.eval(expr.operand, env)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.rep.fatal("type-error", f"cannot negate a {type_name(v)}", expr.span)
            return -v
        left = self.eval(expr.left, env)
        right = self.eval(expr.right, env)
        for v in (left, right):
            if isinstance(v, (SymFloat, SymStr)):
                # Arithmetic on it gives a plain number, which the code writes as a literal.
                self.fixed |= v.roots
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise self.rep.fatal(
                    "type-error", f"`{expr.op}` needs numbers, got a {type_name(v)}", expr.span
                )
        assert isinstance(left, (int, float)) and isinstance(right, (int, float))
        if expr.op in ("/", "//", "%") and right == 0:
            raise self.rep.fatal("type-error", "division by zero", expr.span)
        if expr.op == "**":
            if isinstance(left, int) and isinstance(right, int) and right < 0:
                raise self.rep.fatal(
                    "type-error", "a whole number to a negative power is not whole", expr.span
                )
            if abs(left) > 1 and abs(right) > 64:
                # Checked before computing it: 2 ** 10 ** 9 would take Python minutes.
                raise self.rep.fatal(
                    "bad-value",
                    "this power does not fit in a 64-bit integer",
                    expr.span,
                    help=f"sizes are at most {MAX_SIZE:,}",
                )
        value = _arith(expr.op, left, right)
        if isinstance(value, float) and not isinstance(value, SymFloat):
            for v in (left, right):
                if isinstance(v, SymInt):
                    self.fixed |= v.root.symbols()  # a float of a parameter is written as its number
        return self._bounded(value, expr.span)

    def _bounded(self, value: int | float, span: Span) -> int | float:
        """Arithmetic stays within 64-bit integers and finite floats, as torch's sizes do;
        bounding every step also keeps Python from computing numbers of a million digits."""
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise self.rep.fatal(
                "bad-value",
                "this value does not fit in a 64-bit integer",
                span,
                help=f"sizes are at most {MAX_SIZE:,}",
            )
        if isinstance(value, float) and not math.isfinite(value):
            raise self.rep.fatal("bad-value", f"this computes {value}, not a finite number", span)
        return value

    # ------------------------------------------------------------ architectures

    def arch(
        self,
        arch: s.ArchDef,
        overrides: Mapping[str, Value] | None = None,
        override_spans: Mapping[str, Span] | None = None,
    ) -> ir.Architecture:
        excess = self.expansion.check(arch)
        if excess is not None:
            if excess.what == "layers":
                shown = f"{excess.amount:,}" if excess.amount <= MAX_LAYERS else f"more than {MAX_LAYERS:,}"
                raise self.rep.fatal(
                    "too-large",
                    f"architecture `{arch.name}` expands to {shown} layers; archc builds at most "
                    f"{MAX_LAYERS:,}",
                    excess.span,
                    label="most of them come from here",
                    help="use fewer repetitions; real architectures have thousands of layers at most",
                )
            raise self.rep.fatal(
                "too-deep",
                f"blocks and groups nest {excess.amount} levels deep in `{arch.name}`; archc handles "
                f"at most {MAX_NESTING}",
                excess.span,
                label="the deepest nesting starts here",
                help="nest fewer blocks inside one another",
            )
        params, param_spans = self.bind_params(arch, overrides or {}, override_spans or {})
        # Whole-number parameters are symbols: every size derived from them carries its
        # expression (core/sym), which the emitter writes and the length analysis solves.
        if self.symbolic:
            params = {k: symbolic(k, v, top=True) for k, v in params.items()}
        scope = _Scope(dict(params), dict(param_spans))
        self.top_env = scope.values
        self.fixed = set()
        self.shaping = set()
        meta: dict[str, Any] = {}
        input_stmts: list[s.InputStmt] = []
        ops: list[ir.Op] = []
        if not any(isinstance(stmt, s.InputStmt) for stmt in arch.body):
            self.declare_tensor("x", arch.name_span, scope, is_input=True)
        for stmt in arch.body:
            if isinstance(stmt, s.InputStmt):
                if ops:
                    self.rep.error("input-order", "`input` must come before the first step", stmt.span)
                name = stmt.name or ("x" if not input_stmts else None)
                if name is None:
                    self.rep.error(
                        "missing-argument",
                        "only the first input may go without a name",
                        stmt.span,
                        help="name it after `input`, e.g. `input features (batch, features: 10)`",
                    )
                else:
                    with contextlib.suppress(CompileError):
                        self.declare_tensor(name, stmt.name_span or stmt.span, scope, is_input=True)
                input_stmts.append(stmt)
            elif isinstance(stmt, s.MetaStmt):
                meta.update(self.meta(stmt.mapping, scope.values))
            else:
                ops.extend(self.stmt(stmt, scope, in_seq=False))
        self.finish_graph(scope, arch.span)
        first = input_stmts[0] if input_stmts else None
        input_shape = self.input_shape(arch, first, scope.values)
        extra: list[tuple[str, ir.Shape, Span]] = []
        for stmt in input_stmts[1:]:
            shape = self.input_shape(arch, stmt, scope.values)
            if stmt.name is not None and shape:
                extra.append((stmt.name, shape, stmt.span))
        cls = ir.ClassDef(
            "TorchModel",
            scope.class_attrs(),
            tuple(ops),
            arch.span,
            inputs=tuple(scope.inputs),
            outputs=tuple(name for name, _ in scope.returns or ()),
            output_keys=scope.return_keys,
        )
        return ir.Architecture(
            arch.name,
            tuple(params.items()),
            cls,
            input_shape,
            meta,
            arch.span,
            first.span if first else None,
            tuple(extra),
            frozenset(self.fixed),
        )

    # ------------------------------------------------------------ the dataflow graph

    def declare_tensor(self, name: str, span: Span, scope: _Scope, is_input: bool = False) -> None:
        """A new named tensor: an input, or `name := ...`."""
        problem = _tensor_name_problem(name)
        if problem is None and (name in scope.attr_spans or name in self.blocks or lookup(name)):
            problem = "a layer or block has that name"
        if problem is None and name in scope.values:
            problem = "a parameter has that name"
        if problem is not None:
            raise self.rep.fatal(
                "bad-name",
                f"`{name}` cannot name a tensor: {problem}",
                span,
                help=f"choose another name, e.g. `{name.strip('_')}_out`",
            )
        if name in scope.tensors and not (scope.loop_depth and name in scope.loop_tensors):
            raise self.rep.fatal(
                "duplicate-name",
                f"tensor `{name}` is already defined",
                span,
                notes=[Note("first defined here", scope.tensors[name])],
                help="give each named tensor its own name",
            )
        if scope.loop_depth:
            scope.loop_tensors.add(name)
        scope.tensors.setdefault(name, span)
        if is_input:
            scope.inputs.append(name)
            if len(scope.inputs) == 1:
                scope.current = name

    def read_tensor(self, name: str, span: Span, scope: _Scope) -> None:
        if name not in scope.tensors or name in scope.attr_spans:
            suggestion = did_you_mean(name, [t for t in scope.tensors if t not in scope.attr_spans])
            raise self.rep.fatal(
                "undefined-tensor",
                f"no tensor is called `{name}`",
                span,
                help=(
                    f"did you mean `{suggestion}`?"
                    if suggestion
                    else "name a tensor with `name := ...` before reading it"
                    + (" (tensors: " + ", ".join(scope.tensors) + ")" if scope.tensors else "")
                ),
            )
        scope.used.add(name)

    def finish_graph(self, scope: _Scope, span: Span) -> None:
        """Diagnostics of the whole graph: unread tensors and outputs fed into another chain."""
        outputs = {name for name, _ in scope.returns or ()}
        if scope.returns is None and scope.current is not None:
            outputs.add(scope.current)  # `y := ...` last: y is what forward returns
        for name, where, bound in scope.implicit:
            if name in outputs:
                result = f"`{bound}`" if bound else "its result"
                self.rep.warning(
                    "chained-output",
                    f"this chain continues from `{name}`, which is also returned: {result} is "
                    f"computed from `{name}`, not from what `{name}` was computed from",
                    where,
                    help="start the chain with the tensor it should read, e.g. `head := trunk | ...`",
                )
        for name, where in scope.tensors.items():
            if name in scope.used or name in outputs:
                continue
            if name in scope.inputs:
                if name != scope.inputs[0]:
                    self.rep.warning(
                        "unused-input",
                        f"input `{name}` is never read",
                        where,
                        help=f"read it in a chain (`{name} | ...`) or remove it",
                    )
                continue
            self.rep.warning(
                "unused-tensor",
                f"tensor `{name}` is never read",
                where,
                help=f"read it in a chain (`{name} | ...`), return it, or drop the `{name} :=`",
            )

    def input_shape(self, arch: s.ArchDef, stmt: s.InputStmt | None, env: Mapping[str, Value]) -> ir.Shape:
        axes: Sequence[s.Axis]
        span = stmt.span if stmt else arch.name_span
        if stmt is None:
            axes = (
                s.Axis("batch", None, span),
                s.Axis("channels", None, span),
                s.Axis("length", None, span),
            )
        else:
            axes = stmt.axes
        dims: list[ir.Dim] = []
        seen: set[str] = set()
        for axis in axes:
            if axis.name in seen:
                self.rep.error("duplicate-name", f"axis `{axis.name}` appears twice", axis.span)
            seen.add(axis.name)
            if axis.name == "batch":
                if axis.size is not None:
                    self.rep.error("type-error", "the batch axis takes no size", axis.span)
                dims.append(ir.Dim(None, "batch", "", axis.span))
                continue
            if axis.size is not None:
                try:
                    size = self.eval(axis.size, env)
                except CompileError:
                    return ()
            elif axis.name in AXIS_DEFAULTS and AXIS_DEFAULTS[axis.name] in env:
                size = env[AXIS_DEFAULTS[axis.name]]
            else:
                hint = AXIS_DEFAULTS.get(axis.name)
                self.rep.error(
                    "missing-argument",
                    f"input axis `{axis.name}` has no size",
                    axis.span,
                    help=f"write `{axis.name}: SIZE`"
                    + (f" or declare the parameter `{hint}`" if hint else ""),
                )
                return ()
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_SIZE:
                self.rep.error(
                    "bad-size",
                    f"input axis `{axis.name}` must have a whole size from 1 to {MAX_SIZE:,}, "
                    f"got {show(size)}",
                    axis.span,
                )
                return ()
            why = f"input {axis.name}"
            # Only the length axis follows the `length` parameter, whatever its size expression.
            varies = axis.name == "length" or (axis.size is not None and "length" in names_in(axis.size))
            dims.append(ir.Dim(size, axis.name, why, axis.span, varies))
        if not any(d.size is None for d in dims):
            self.rep.error(
                "missing-argument",
                "the input has no batch axis",
                span,
                help="add `batch` to the input axes, e.g. input (batch, channels, length)",
            )
            return ()
        return tuple(dims)

    # ------------------------------------------------------------ metadata

    def meta(self, mapping: s.MetaMap, env: Mapping[str, Value]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for entry in mapping.entries:
            if entry.key in out:
                self.rep.error("duplicate-argument", f"meta key `{entry.key}` appears twice", entry.span)
            with contextlib.suppress(CompileError):
                out[entry.key] = self.meta_value(entry.value, env)
        return out

    def meta_value(self, value: s.MetaValue, env: Mapping[str, Value]) -> Any:
        if isinstance(value, s.MetaMap):
            return self.meta(value, env)
        if isinstance(value, s.MetaList):
            return [self.meta_value(v, env) for v in value.items]
        return self.eval(value, env)

    # ------------------------------------------------------------ statements

    def body(self, stmts: Sequence[s.Stmt], scope: _Scope, in_seq: bool) -> list[Any]:
        out: list[Any] = []
        for stmt in stmts:
            if isinstance(stmt, s.InputStmt):
                self.rep.error(
                    "misplaced",
                    "`input` is declared once, at the top of an `arch`",
                    stmt.span,
                    help="a block takes its input shape from where it is used",
                )
            elif isinstance(stmt, s.MetaStmt):
                self.rep.error("misplaced", "`meta` belongs at the top of an `arch`", stmt.span)
            else:
                out.extend(self.stmt(stmt, scope, in_seq))
        return out

    def stmt(self, stmt: s.Stmt, scope: _Scope, in_seq: bool) -> list[Any]:
        if isinstance(stmt, s.LetStmt):
            if stmt.name in scope.values:
                self.rep.error(
                    "duplicate-name",
                    f"`{stmt.name}` is already defined",
                    stmt.name_span,
                    notes=[Note("defined here", scope.value_spans[stmt.name])],
                )
            try:
                scope.values[stmt.name] = self.eval(stmt.value, scope.values)
                scope.value_spans[stmt.name] = stmt.name_span
            except CompileError:
                pass
            return []
        if scope.return_span is not None and not isinstance(stmt, (s.InputStmt, s.MetaStmt)):
            raise self.rep.fatal(
                "misplaced",
                "nothing can follow `return`",
                stmt.span,
                notes=[Note("the outputs are returned here", scope.return_span)],
                help="move `return` to the end",
            )
        if isinstance(stmt, s.BindStmt):
            if in_seq:
                raise self.rep.fatal(
                    "misplaced",
                    "`:=` names a tensor and cannot stand inside `seq`, which holds layers",
                    stmt.span,
                    help="name the tensor after the seq: `name := group`",
                )
            ops = self.chain(stmt.chain, scope, in_seq)
            if scope.implicit and scope.implicit[-1][1] == stmt.chain.span:
                scope.implicit[-1] = (*scope.implicit[-1][:2], stmt.name)
            self.declare_tensor(stmt.name, stmt.name_span, scope)
            scope.current = stmt.name
            return [*ops, ir.Store(stmt.name, stmt.name_span)]
        if isinstance(stmt, s.ReturnStmt):
            if in_seq or scope.nested:
                raise self.rep.fatal(
                    "misplaced",
                    "`return` belongs at the end of an `arch` or a `block`",
                    stmt.span,
                )
            for name, span in stmt.names:
                self.read_tensor(name, span, scope)
            seen: dict[str, Span] = {}
            keyed = stmt.keys is not None
            if stmt.keys is not None:
                self.check_keys(stmt.keys)
            for name, span in stmt.names:
                if name in seen and not keyed:  # a dict may give one tensor two keys
                    self.rep.warning(
                        "duplicate-output",
                        f"`{name}` is returned twice",
                        span,
                        notes=[Note("returned first here", seen[name])],
                    )
                seen.setdefault(name, span)
            if scope.block_stack and keyed:
                raise self.rep.fatal(
                    "misplaced",
                    "a block returns one tensor, not a dict",
                    stmt.span,
                    help="return the dict from the `arch`; a block is one step of a chain",
                )
            if scope.block_stack and len(stmt.names) > 1:
                raise self.rep.fatal(
                    "misplaced",
                    "a block returns one tensor",
                    stmt.span,
                    help="return several tensors from the `arch`; a block is one step of a chain",
                )
            scope.returns = stmt.names
            scope.return_keys = None if stmt.keys is None else tuple(k for k, _ in stmt.keys)
            scope.return_span = stmt.span
            return []
        if not isinstance(stmt, s.Chain):  # input/meta at the wrong depth
            return self.body([stmt], scope, in_seq)
        return self.chain(stmt, scope, in_seq)

    def check_keys(self, keys: tuple[tuple[str, Span], ...]) -> None:
        """Dict keys are short plain text, each once: they reach the emitted code, its
        comments and the diagrams."""
        seen: dict[str, Span] = {}
        for key, span in keys:
            if not OUTPUT_KEY.fullmatch(key):
                raise self.rep.fatal(
                    "bad-key",
                    f"the output key {json.dumps(key)} is not plain text",
                    span,
                    help="a key is 1 to 64 letters, digits, `_`, `-` and `.`, e.g. `profile`",
                )
            if key in seen:
                raise self.rep.fatal(
                    "bad-key",
                    f"the output key {json.dumps(key)} is given twice",
                    span,
                    notes=[Note("given first here", seen[key])],
                )
            seen[key] = span

    def chain(self, chain: s.Chain, scope: _Scope, in_seq: bool) -> list[Any]:
        """The ops of one chain; a chain that starts with a tensor's name reads it, any
        other continues from the current tensor."""
        out: list[Any] = []
        previous: str | None = None
        steps = chain.steps
        first = steps[0]
        start: str | None = None
        if not in_seq and isinstance(first.term, s.Ref) and scope.is_tensor(first.term.name):
            start = first.term.name
            if first.name is not None:
                raise self.rep.fatal(
                    "misplaced",
                    f"`{first.name} = {start}` names a tensor with `=`, which names layers",
                    first.span,
                    help=f"name a tensor with `:=`: `{first.name} := {start}`",
                )
            self.read_tensor(start, first.term.span, scope)
            out.append(ir.Load(start, first.term.span))
            steps = steps[1:]
        elif not in_seq and not self.is_merge(first.term, scope) and scope.current is not None:
            scope.used.add(scope.current)
            if scope.current not in scope.inputs[:1]:
                scope.implicit.append((scope.current, chain.span, None))
        for k, step in enumerate(steps):
            scope.step_input = (start if start is not None else scope.current) if k == 0 else None
            try:
                out.extend(self.step(step, scope, in_seq, previous, first=step is first))
                previous = step.name
            except CompileError:
                if not in_seq:
                    out.append(ir.Functional(ir.Layer(POISON, (), step.span), step.span))
        if not in_seq:
            scope.current = start if start is not None and not steps else None
        return out

    def for_loop(self, stmt: s.For, scope: _Scope, in_seq: bool, gather: bool = False) -> list[Any]:
        """A loop, unrolled: at class level an ir.Loop, inside a seq its items in order.
        With `gather`, every iteration starts from the tensor the loop is given."""
        if stmt.var in scope.values or stmt.var in scope.tensors or keyword.iskeyword(stmt.var):
            raise self.rep.fatal(
                "duplicate-name",
                f"`{stmt.var}` is already defined and cannot be the loop index",
                stmt.var_span,
                help="choose another name for the index, e.g. `i`",
            )
        bounds: list[int] = []
        for expr in stmt.range_args:
            value = self.eval(expr, scope.values)
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.rep.fatal(
                    "type-error",
                    f"range() takes whole numbers, got {show(value)} ({type_name(value)})",
                    expr.span,
                )
            bounds.append(value)
            if isinstance(value, SymInt):
                self.shaping |= value.root.symbols()
        if len(bounds) == 3 and bounds[2] == 0:
            raise self.rep.fatal("bad-value", "the step of range() cannot be 0", stmt.range_args[2].span)
        indices = range(*(int(b) for b in bounds))  # int(): a length probe records the count
        if len(indices) > MAX_LAYERS:
            raise self.rep.fatal(
                "too-large",
                f"this loop runs {len(indices):,} times; archc builds at most {MAX_LAYERS:,} layers",
                stmt.span,
            )
        iterations: list[tuple[Any, ...]] = []
        entry = scope.current
        nested_loops = scope.in_loop > 0 or _holds_loop(stmt.body)
        outer_loop = scope.loop_id
        outer_range = scope.loop_range
        scope.loop_id = stmt.span
        scope.loop_range = (stmt.var, tuple(bounds))
        scope.in_loop += 1
        scope.nested += 1
        if not in_seq:
            scope.loop_depth += 1
        try:
            for index in indices:
                # The index is a symbol of its own: a loop body that reads it the same way in
                # every iteration can be emitted as one comprehension over range().
                # (Inside a seq the items are written out one by one: the index is a number.)
                # A loop with a loop inside is written out item by item (its lists cannot be one
                # comprehension), so its index, and the inner one, are plain numbers.
                symbolic_index = not in_seq and self.symbolic and not nested_loops
                index_value: Value = index
                if symbolic_index:
                    index_value = SymInt(index, symbol(stmt.var), const(index))
                scope.values[stmt.var] = index_value
                scope.value_spans[stmt.var] = stmt.var_span
                if gather:
                    scope.current = entry
                iterations.append(tuple(self.body(stmt.body, scope, in_seq)))
        finally:
            scope.values.pop(stmt.var, None)
            scope.value_spans.pop(stmt.var, None)
            scope.loop_id = outer_loop
            scope.loop_range = outer_range
            scope.in_loop -= 1
            scope.nested -= 1
            if not in_seq:
                scope.loop_depth -= 1
                if not scope.loop_depth:
                    scope.loop_tensors.clear()
        if in_seq:
            # Items of one nn.Sequential, written out: the range's parameters are fixed.
            self.fixed |= {n for b in bounds if isinstance(b, SymInt) for n in b.root.symbols()}
            return [item for iteration in iterations for item in iteration]
        return [ir.Loop(stmt.var, tuple(indices), tuple(iterations), stmt.span, bounds=tuple(bounds))]

    def is_merge(self, term: s.Term, scope: _Scope) -> bool:
        """`cat(a, b, dim = 1)`, `add(a, b)`, ...; `mean(dim = 2)` is a layer."""
        if not isinstance(term, s.Call) or term.name not in MERGE_NAMES or term.over is not None:
            return False
        if term.name not in ("mean", "max"):
            return True
        return any(
            a.name is None and isinstance(a.value, s.Var) and scope.is_tensor(a.value.name) for a in term.args
        )

    def merge(self, term: s.Call, scope: _Scope, first: bool) -> ir.Merge:
        kind = term.name
        operands: list[str] = [] if first else [""]
        spans: list[Span] = [] if first else [term.name_span]
        dim: int | str | None = None
        joins = kind in ("cat", "stack")
        for arg in term.args:
            if arg.size_in is not None:
                raise self.rep.fatal("type-error", "`->` is for layer sizes", arg.span)
            if arg.name is None:
                if not isinstance(arg.value, s.Var):
                    raise self.rep.fatal(
                        "type-error",
                        f"`{kind}` merges tensors: write the names of the tensors",
                        arg.span,
                        help=f"e.g. `{kind}(a, b{', dim = 1' if joins else ''})`",
                    )
                self.read_tensor(arg.value.name, arg.value.span, scope)
                operands.append(arg.value.name)
                spans.append(arg.value.span)
            else:
                dim = self.merge_axis(kind, arg, scope)
        if joins and dim is None:
            raise self.rep.fatal(
                "missing-argument",
                f"`{kind}` needs the axis to join on",
                term.span,
                help="add `dim = 1` (an index) or `axis = channels` (an axis name)",
            )
        if kind == "matmul" and len(operands) > 2:
            raise self.rep.fatal(
                "type-error",
                f"`matmul` multiplies two tensors; it has {len(operands)}",
                term.span,
                help="multiply them two at a time: `ab := matmul(a, b)`, then `matmul(ab, c)`",
            )
        if len(operands) < 2:
            raise self.rep.fatal(
                "missing-argument",
                f"`{kind}` merges two or more tensors; it has {len(operands)}",
                term.span,
                help=(
                    f"name the tensors, e.g. `{kind}(a, b)`"
                    if first
                    else f"after `|`, `{kind}(b)` merges the current tensor with `b`"
                ),
            )
        return ir.Merge(kind, tuple(operands), tuple(spans), term.span, dim)

    def merge_axis(self, kind: str, arg: s.Arg, scope: _Scope) -> int | str:
        """A merge's keyword argument: `dim = 1` (an index) or `axis = channels` (a name)."""
        joins = kind in ("cat", "stack")
        if joins and arg.name == "dim":
            value = self.eval(arg.value, scope.values)
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.rep.fatal("type-error", f"`dim` is an axis index, got {show(value)}", arg.span)
            return value
        if joins and arg.name == "axis":
            if not isinstance(arg.value, s.Var):
                raise self.rep.fatal(
                    "type-error",
                    "`axis` is an axis name, such as `channels`; `dim` takes an index",
                    arg.span,
                )
            return arg.value.name
        raise self.rep.fatal(
            "unknown-parameter",
            f"`{kind}` has no parameter `{arg.name}`",
            arg.span,
            help="it takes the tensors it merges"
            + (" and `dim` (an index) or `axis` (a name)" if joins else ""),
        )

    def gather(self, term: s.Call, scope: _Scope) -> ir.Loop:
        """`cat(for i in range(n) { ... }, dim = 1)`: every iteration runs on the current
        tensor, and their outputs are merged."""
        assert term.over is not None
        kind = term.name
        if kind == "matmul":
            raise self.rep.fatal(
                "misplaced",
                "`matmul` multiplies two tensors, not the outputs of a loop",
                term.name_span,
                help="merge a loop's outputs with cat, stack, add, mul, mean or max",
            )
        dim: int | str | None = None
        for arg in term.args:
            if arg.size_in is not None:
                raise self.rep.fatal("type-error", "`->` is for layer sizes", arg.span)
            if arg.name is None:
                raise self.rep.fatal(
                    "type-error",
                    f"`{kind}` of a loop merges the outputs of its iterations and takes no other tensors",
                    arg.span,
                    help=f"name the loop's result (`h := {kind}(for ...)`) and merge it in a step of its own",
                )
            dim = self.merge_axis(kind, arg, scope)
        if kind in ("cat", "stack") and dim is None:
            raise self.rep.fatal(
                "missing-argument",
                f"`{kind}` needs the axis to join on",
                term.span,
                help="add `dim = 1` (an index) or `axis = channels` (an axis name)",
            )
        scope.current = scope.step_input  # what each iteration reads, when it has a name
        (loop,) = self.for_loop(term.over, scope, in_seq=False, gather=True)
        assert isinstance(loop, ir.Loop)
        if not loop.iterations:
            raise self.rep.fatal(
                "bad-value",
                f"this loop runs no iterations, so `{kind}` has nothing to merge",
                term.over.span,
                help="its range() must hold at least one index",
            )
        return replace(loop, merge=ir.Merge(kind, (), (), term.span, dim))

    def step(
        self,
        step: s.Step,
        scope: _Scope,
        in_seq: bool,
        previous: str | None = None,
        first: bool = False,
    ) -> list[Any]:
        """Resolve one step: forward ops at class level, Sequential items inside seq."""
        term = step.term
        in_list = bool(step.name is not None and scope.loop_depth and not in_seq and step.name in scope.lists)
        if step.name is not None and in_seq and scope.in_loop:
            raise self.rep.fatal(
                "misplaced",
                "a layer inside a `seq` in a loop cannot be named: the seq numbers its layers",
                step.name_span or step.span,
                help="drop the name, or name the whole seq",
            )
        entry = step.name if step.name is not None and "." in step.name else None
        if entry is not None:
            self.check_new_entry(entry, step.name_span or step.span, scope, in_seq, term)
        elif step.name is not None and not in_list:
            self.check_new_attr(step.name, step.name_span or step.span, scope)
        if isinstance(term, s.Ref) and "." in term.name:
            return [self.entry_call(term, step, scope, in_seq)]
        if isinstance(term, s.Ref) and scope.is_tensor(term.name):
            raise self.rep.fatal(
                "misplaced",
                f"`{term.name}` is a tensor: only the first step of a chain reads a tensor",
                term.span,
                help=f"start a new line with `{term.name} | ...`, or merge it here, e.g. `add({term.name})`",
            )
        gathers = isinstance(term, s.Call) and term.over is not None
        if isinstance(term, s.Call) and term.over is not None and term.name not in MERGE_NAMES:
            raise self.rep.fatal(
                "misplaced",
                f"`{term.name}` cannot take a loop: only a merge of its iterations' outputs can",
                term.over.span,
                help="write `cat(for ..., dim = 1)`, `stack(...)`, `add`, `mul`, `mean` or `max`, "
                "or the loop as a step of its own",
            )
        if gathers or self.is_merge(term, scope):
            assert isinstance(term, s.Call)
            if in_seq:
                raise self.rep.fatal(
                    "misplaced",
                    f"`{term.name}` merges tensors and cannot stand inside `seq`, which holds layers",
                    term.span,
                )
            if step.name is not None:
                raise self.rep.fatal(
                    "misplaced",
                    f"`{term.name}` is not a module and cannot be named with `=`",
                    step.name_span or step.span,
                    help="name its result instead: `name := ...`",
                )
            return [self.gather(term, scope) if gathers else self.merge(term, scope, first)]
        if isinstance(term, s.Ref) and term.name in MERGE_NAMES and term.name not in ("mean", "max"):
            raise self.rep.fatal(
                "missing-argument",
                f"`{term.name}` needs the tensors it merges",
                term.span,
                help=f"e.g. `{term.name}(a, b)`, or `{term.name}(b)` after `|`",
            )
        if isinstance(term, s.For):
            if step.name is not None:
                raise self.rep.fatal(
                    "misplaced",
                    "a loop is not a module and cannot be named with `=`",
                    step.name_span or step.span,
                    help="name the layers inside it (they become lists), or its result with `:=`",
                )
            return self.for_loop(term, scope, in_seq)
        if isinstance(term, s.Cond):
            if step.name is not None:
                raise self.rep.fatal(
                    "misplaced",
                    "an `if` is not a module and cannot be named",
                    step.name_span or step.span,
                    help="name the layers inside it instead",
                )
            chosen = self.condition(term.cond, scope)
            scope.nested += 1
            try:
                return self.body(term.then if chosen else term.orelse or (), scope, in_seq)
            finally:
                scope.nested -= 1
        if (
            scope.in_shortcut
            and not in_seq
            and step.name is None
            and (
                (isinstance(term, s.Ref) and term.name == "crop")
                or (isinstance(term, s.Call) and term.name == "crop" and not term.args)
            )
        ):
            # In a shortcut, a bare `crop` crops to the length of the residual's body.
            layer = ir.Layer("crop", (("left", None), ("right", None), ("to", None)), term.span)
            return [ir.Functional(layer, term.span)]
        if isinstance(term, s.Ref) and term.name in scope.dicts:
            raise self.rep.fatal(
                "misplaced",
                f"`{term.name}` is a dict of layers; call one of its entries",
                term.span,
                help="e.g. `" + ", ".join(f"{term.name}.{k}" for k in scope.dicts[term.name]) + "`",
            )
        if isinstance(term, s.Ref) and term.name in scope.lists:
            raise self.rep.fatal(
                "misplaced",
                f"`{term.name}` is a list of layers, one per iteration of its loop",
                term.span,
                help="use it inside its loop, where the name stands for this iteration's layer",
            )
        # A bare name that was defined before is a reuse of that module.
        if isinstance(term, s.Ref) and scope.has_attr(term.name):
            if step.name is not None:
                self.register(scope, step.name, ir.AttrRef(term.name, term.span), step.span)
                return [ir.AttrRef(step.name, step.span)] if in_seq else [ir.CallAttr(step.name, step.span)]
            return [ir.AttrRef(term.name, term.span)] if in_seq else [ir.CallAttr(term.name, term.span)]

        if isinstance(term, s.Residual):
            if in_seq:
                raise self.rep.fatal(
                    "misplaced",
                    "`residual` cannot stand inside `seq`: nn.Sequential cannot add its input",
                    term.span,
                    help="move the residual into a block, and put the block in the seq",
                )
            if step.name is not None:
                raise self.rep.fatal(
                    "misplaced",
                    "a residual is not a module and cannot be named",
                    step.name_span or step.span,
                    help="name the layers inside it instead",
                )
            entry, outer_shortcut = scope.current, scope.in_shortcut
            scope.nested += 1
            try:
                scope.in_shortcut = False
                body = self.body(term.body, scope, in_seq=False)
                shortcut: list[Any] = []
                if term.shortcut is not None:
                    scope.current, scope.in_shortcut = entry, True
                    shortcut = self.body(term.shortcut, scope, in_seq=False)
            finally:
                scope.nested -= 1
                scope.in_shortcut = outer_shortcut
            scope.current = None
            return [
                ir.Residual(
                    tuple(body),
                    term.span,
                    shortcut=tuple(shortcut),
                    has_shortcut=term.shortcut is not None,
                )
            ]

        modules = self.modules(term, scope)
        if in_seq:
            if step.name is not None:
                if len(modules) != 1:
                    module: ir.ModuleExpr = ir.Sequential(tuple(modules), term.span)
                else:
                    module = modules[0]
                self.register(scope, step.name, module, step.span)
                return [ir.AttrRef(step.name, step.name_span or step.span)]
            return list(modules)
        # At class level.
        if step.name is not None:
            module = ir.Sequential(tuple(modules), term.span) if len(modules) != 1 else modules[0]
            if isinstance(module, ir.Layer) and lookup(module.kind).functional_only:  # type: ignore[union-attr]
                raise self.rep.fatal(
                    "no-module-form",
                    f"`{module.kind}` has no module form and cannot be named",
                    step.name_span or step.span,
                    help=f"write `{module.kind}(...)` as an unnamed step",
                )
            if entry is not None:
                dict_name, key = entry.split(".", 1)
                if dict_name not in scope.dicts:
                    scope.dicts[dict_name] = {}
                    self.register(scope, dict_name, ir.ModuleList((), step.span, keys=()), step.span)
                scope.dicts[dict_name][key] = module
                index = len(scope.dicts[dict_name]) - 1
                return [ir.CallAttr(dict_name, step.name_span or step.span, index=index)]
            if scope.loop_depth:
                index = self.register_item(scope, step.name, module, step.span)
                return [ir.CallAttr(step.name, step.span, index=index)]
            self.register(scope, step.name, module, step.span)
            return [ir.CallAttr(step.name, step.span)]
        ops: list[ir.Op] = []
        for module in modules:
            if isinstance(module, ir.Layer) and not lookup(module.kind).stateful:  # type: ignore[union-attr]
                ops.append(ir.Functional(module, module.span))
                continue
            what = _describe_module(module)
            hint = (
                f"a name names one step: `{previous} = ...` named only the step before;"
                f" write `... | name = {_source_name(term)}(...)`"
                if previous
                else "name it, e.g. `conv1 = ...`: the name becomes the module attribute"
                " and the key in the state_dict"
            )
            raise self.rep.fatal(
                "needs-name", f"{what} has weights and needs a name here", term.span, help=hint
            )
        return ops

    def check_new_entry(self, name: str, span: Span, scope: _Scope, in_seq: bool, term: s.Term) -> None:
        """`heads.profile = ...`: a new entry of a module dict, named at class level."""
        dict_name, key = name.split(".", 1)
        if in_seq or scope.in_loop or scope.nested:
            raise self.rep.fatal(
                "misplaced",
                f"the dict entry `{name}` cannot be defined inside a `seq`, a loop, a residual "
                "or an `if`",
                span,
                help="define it in a chain of its own at the top of the arch or block",
            )
        if not isinstance(term, s.Call) or (lookup(term.name) is None and term.name not in self.blocks):
            raise self.rep.fatal(
                "misplaced",
                f"the dict entry `{name}` holds one new layer or block, e.g. `{name} = conv1d(2, 1)`",
                term.span,
            )
        if dict_name in scope.dicts:
            if key in scope.dicts[dict_name]:
                raise self.rep.fatal(
                    "duplicate-name",
                    f"layer name `{name}` is already used in this "
                    + ("block" if scope.block_stack else "architecture"),
                    span,
                    help=f"write the bare `{name}` to reuse that layer",
                )
        else:
            self.check_new_attr(dict_name, span, scope)
        if keyword.iskeyword(key) or key in s.KEYWORDS:
            raise self.rep.fatal(
                "bad-name", f"`{key}` cannot be a key of `{dict_name}`: it is a keyword", span
            )

    def entry_call(self, term: s.Ref, step: s.Step, scope: _Scope, in_seq: bool) -> ir.CallAttr:
        """`heads.profile`, bare: the entry applied again."""
        dict_name, key = term.name.split(".", 1)
        entries = scope.dicts.get(dict_name, {})
        if key not in entries:
            known = [f"{d}.{k}" for d, ks in scope.dicts.items() for k in ks]
            raise self.rep.fatal(
                "unknown-layer",
                f"no layer is called `{term.name}`",
                term.span,
                help=did_you_mean(term.name, known) or "define it first: `NAME.KEY = layer(...)`",
            )
        if in_seq or step.name is not None:
            raise self.rep.fatal(
                "misplaced",
                f"the dict entry `{term.name}` is applied as a step of its own, outside `seq`, unnamed",
                term.span,
            )
        return ir.CallAttr(dict_name, term.span, index=list(entries).index(key))

    def check_new_attr(self, name: str, span: Span, scope: _Scope) -> None:
        if name in scope.attr_spans:
            raise self.rep.fatal(
                "duplicate-name",
                f"layer name `{name}` is already used in this "
                + ("block" if scope.block_stack else "architecture"),
                span,
                notes=[Note("first defined here", scope.attr_spans[name])],
                help="choose another name, or write the bare name to reuse that layer",
            )
        if (
            name in MODULE_ATTRS
            or keyword.iskeyword(name)
            or name in ("self", "x", "identity")
            or (name.startswith("_"))
        ):
            why = (
                "it is a Python keyword"
                if keyword.iskeyword(name)
                else (
                    "torch.nn.Module has an attribute of that name"
                    if name in MODULE_ATTRS
                    else (
                        "names starting with `_` are private in PyTorch"
                        if name.startswith("_")
                        else "the generated forward() uses it"
                    )
                )
            )
            raise self.rep.fatal(
                "bad-name",
                f"`{name}` cannot be used as a layer name: {why}",
                span,
                help=f"choose another name, e.g. `{name.strip('_')}_layer`",
            )
        if name in scope.values:
            raise self.rep.fatal(
                "duplicate-name",
                f"`{name}` is a parameter and cannot also name a layer",
                span,
                notes=[Note("the parameter", scope.value_spans[name])],
            )
        if name in scope.tensors:
            raise self.rep.fatal(
                "duplicate-name",
                f"`{name}` is a tensor and cannot also name a layer",
                span,
                notes=[Note("the tensor", scope.tensors[name])],
            )

    def register(self, scope: _Scope, name: str, module: ir.ModuleExpr, span: Span) -> None:
        scope.attrs.append(ir.Attr(name, module, span))
        scope.attr_spans[name] = span

    def register_item(self, scope: _Scope, name: str, module: ir.ModuleExpr, span: Span) -> int:
        """A named layer in a loop: the next item of the module list of that name."""
        items = scope.lists.get(name)
        if items is None:
            items = scope.lists[name] = []
            scope.list_loops[name] = scope.loop_id
            if scope.loop_range is not None and scope.loop_depth == 1 and scope.in_loop == 1:
                scope.list_ranges[name] = scope.loop_range
            self.register(scope, name, ir.ModuleList((), span), span)
        elif scope.list_loops.get(name) != scope.loop_id:
            raise self.rep.fatal(
                "duplicate-name",
                f"layer name `{name}` is already used by another loop",
                span,
                notes=[Note("first defined here", scope.attr_spans[name])],
            )
        items.append(module)
        return len(items) - 1

    def condition(self, expr: s.Expr, scope: _Scope) -> bool:
        with recording() as guards:
            value = self.eval(expr, scope.values)
        for guard in guards:
            self.fixed |= guard.expr.symbols()
            self.shaping |= guard.expr.symbols()
        if not isinstance(value, bool):
            raise self.rep.fatal(
                "type-error",
                f"`if` needs true or false, got {show(value)} ({type_name(value)})",
                expr.span,
                help="compare it, e.g. `if layers > 0 { ... }`, or pass a boolean parameter",
            )
        return value

    def modules(self, term: s.Term, scope: _Scope) -> list[ir.ModuleExpr]:
        """Module expressions for a term (several for a repetition)."""
        if isinstance(term, s.Repeat):
            count = self.eval(term.count, scope.values)
            if isinstance(count, SymInt):
                self.fixed |= count.root.symbols()
                self.shaping |= count.root.symbols()
            if isinstance(count, bool) or not isinstance(count, int):
                raise self.rep.fatal(
                    "type-error",
                    f"a repetition count is a whole number, got {show(count)} ({type_name(count)})",
                    term.count_span,
                )
            if count < 0:
                # `Block(c) * (blocks - 1)` at blocks = 1 repeats nothing, as Python's [b] * 0.
                raise self.rep.fatal("bad-size", "a repetition count cannot be negative", term.count_span)
            if count > MAX_LAYERS:
                raise self.rep.fatal(
                    "too-large",
                    f"this repeats {count:,} times; archc builds at most {MAX_LAYERS:,} layers",
                    term.span,
                )
            out: list[ir.ModuleExpr] = []
            for _ in range(count):
                out.extend(self.modules(term.term, scope))
            return out
        if isinstance(term, (s.Cond, s.For)):
            raise self.rep.fatal(
                "misplaced",
                "an `if` or a loop cannot be repeated or grouped here",
                term.span,
                help="put the repetition inside the `if`",
            )
        if isinstance(term, s.Seq):
            items = self.body(term.body, scope, in_seq=True)
            if not term.body:  # written empty; one emptied by `* 0` or a loop is allowed
                raise self.rep.fatal("empty", "this seq has no steps", term.span)
            return [ir.Sequential(tuple(items), term.span)]
        if isinstance(term, s.Residual):
            raise self.rep.fatal(
                "misplaced",
                "a residual cannot be repeated or grouped here",
                term.span,
                help="move the residual into a block",
            )
        name = term.name
        call_args: tuple[s.Arg, ...] = term.args if isinstance(term, s.Call) else ()
        name_span = term.name_span if isinstance(term, s.Call) else term.span
        if scope.has_attr(name):
            if isinstance(term, s.Call):
                raise self.rep.fatal(
                    "duplicate-name",
                    f"`{name}` is a layer defined earlier; it is reused by its bare name, without arguments",
                    term.span,
                    notes=[Note("defined here", scope.attr_spans[name])],
                )
            return [ir.AttrRef(name, term.span)]
        if name in self.blocks:
            return [self.instantiate(self.blocks[name], call_args, term.span, scope)]
        spec = lookup(name)
        if spec is None:
            tensors = [t for t in scope.tensors if t not in scope.attr_spans]
            choices = all_names() + list(self.blocks) + [a.name for a in scope.attrs] + tensors
            suggestion = did_you_mean(name, choices)
            torch_name = unsupported(name)
            if torch_name is not None:
                # A real PyTorch layer, not a typo: say so rather than suggest a look-alike.
                raise self.rep.fatal(
                    "unsupported-layer",
                    f"`{name}` ({torch_name}) is not supported by archc yet",
                    name_span,
                    help="archc has: "
                    + ", ".join(all_names())
                    + "; or write a block from these, or keep this part in PyTorch",
                )
            raise self.rep.fatal(
                "unknown-layer",
                f"unknown layer or block `{name}`",
                name_span,
                help=(f"did you mean `{suggestion}`?" if suggestion else "layers: " + ", ".join(all_names())),
            )
        return [self.layer(spec, call_args, term.span, scope.values)]

    # ------------------------------------------------------------ layers

    def layer(self, spec: LayerSpec, args: Sequence[s.Arg], span: Span, env: Mapping[str, Value]) -> ir.Layer:
        bound: dict[str, Value] = {}
        spans: dict[str, Span] = {}
        failed = False
        first_size = spec.size_out or spec.size_in
        positional = ([first_size] if first_size else []) + [
            p.name for p in spec.params if p.name not in (spec.size_in, spec.size_out) and not p.keyword_only
        ]
        pos_index = 0
        varargs: list[Value] = []
        seen_keyword = False
        for arg in args:
            try:
                if arg.name is not None:
                    seen_keyword = True
                    pspec = spec.param(arg.name)
                    if pspec is None:
                        suggestion = did_you_mean(arg.name, [p.name for p in spec.params])
                        self.rep.error(
                            "unknown-parameter",
                            f"`{spec.name}` has no parameter `{arg.name}`",
                            Span(arg.span.start, arg.span.start + len(arg.name)),
                            help=(
                                f"did you mean `{suggestion}`?"
                                if suggestion
                                else (
                                    "it takes: " + ", ".join(p.name for p in spec.params)
                                    if spec.params
                                    else "it takes no parameters"
                                )
                            ),
                        )
                        failed = True
                        continue
                    self._bind(spec, bound, spans, arg.name, self.eval(arg.value, env), arg.span)
                    continue
                if seen_keyword:
                    self.rep.error(
                        "syntax", "a positional argument cannot follow a keyword argument", arg.span
                    )
                    failed = True
                    continue
                if spec.varargs:
                    if arg.size_in is not None:
                        raise self.rep.fatal("type-error", "`->` is for layer sizes", arg.span)
                    varargs.append(self._vararg(arg.value, env))
                    continue
                if arg.size_in is not None:
                    if pos_index != 0 or spec.size_in is None or spec.size_out is None:
                        raise self.rep.fatal(
                            "type-error",
                            f"`in -> out` is written as the first argument of a layer with an"
                            f" input and an output size; `{spec.name}` "
                            + (
                                "takes no size"
                                if spec.size_out is None and spec.size_in is None
                                else "takes only its input size"
                            ),
                            arg.span,
                        )
                    in_value = self.eval(arg.size_in, env)
                    self._bind(spec, bound, spans, spec.size_in, in_value, arg.size_in.span)
                    self._bind(spec, bound, spans, spec.size_out, self.eval(arg.value, env), arg.value.span)
                    pos_index += 1
                    continue
                if pos_index >= len(positional):
                    raise self.rep.fatal(
                        "too-many-arguments",
                        f"`{spec.name}` takes at most {len(positional)} positional argument"
                        f"{'s' if len(positional) != 1 else ''}",
                        arg.span,
                        help=_usage(spec),
                    )
                name = positional[pos_index]
                pos_index += 1  # taken even if the value is refused: the next goes to the next slot
                self._bind(spec, bound, spans, name, self.eval(arg.value, env), arg.span)
            except CompileError as err:
                failed = True
                if err.diagnostic.code == "too-many-arguments":
                    break  # one report, not one per surplus argument
        if spec.varargs:
            bound[spec.varargs] = tuple(varargs)
            spans[spec.varargs] = span
        for pspec in spec.params:
            if pspec.name not in bound:
                # After a misspelled keyword, "missing" would only repeat the same mistake.
                if pspec.default is REQUIRED and not failed:
                    self.rep.error(
                        "missing-argument",
                        f"`{spec.name}` needs `{pspec.name}`",
                        span,
                        help=_usage(spec),
                    )
                    failed = True
                elif pspec.default is not REQUIRED:
                    bound[pspec.name] = pspec.default  # type: ignore[assignment]
        if failed:
            raise CompileError(self.rep.items[-1])
        order = [p.name for p in spec.params] + ([spec.varargs] if spec.varargs else [])
        return ir.Layer(
            spec.name,
            tuple((n, bound[n]) for n in order),
            span,
            tuple(spans.items()),
            frozenset(spans),
        )

    def _vararg(self, expr: s.Expr, env: Mapping[str, Value]) -> Value:
        # `batch` inside view/reshape stands for the batch size of the input.
        if isinstance(expr, s.Var) and expr.name == "batch" and "batch" not in env:
            return "batch"
        value = self.eval(expr, env)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.rep.fatal(
                "type-error",
                f"expected a whole number, got {show(value)} ({type_name(value)})",
                expr.span,
            )
        if abs(value) > MAX_SIZE:
            raise self.rep.fatal("bad-size", f"sizes are at most {MAX_SIZE:,}, got {show(value)}", expr.span)
        return value

    def _bind(
        self,
        spec: LayerSpec,
        bound: dict[str, Value],
        spans: dict[str, Span],
        name: str,
        value: Value,
        span: Span,
    ) -> None:
        if name in bound:
            raise self.rep.fatal(
                "duplicate-argument",
                f"`{name}` of `{spec.name}` is given twice",
                span,
                notes=[Note("first given here", spans[name])],
            )
        pspec = spec.param(name)
        assert pspec is not None
        err = pspec.check(value)
        if err is not None:
            if "probability" in err:
                code = "bad-probability"
            elif (
                "at least" in err
                or "at most" in err
                or "negative" in err
                or ("whole number" in err and isinstance(value, float))
            ):
                code = "bad-size"
            elif "finite" in err or "greater than" in err or "must lie in" in err:
                code = "bad-value"
            else:
                code = "type-error"
            raise self.rep.fatal(code, f"`{name}` of `{spec.name}`: {err}", span)
        bound[name] = value
        spans[name] = span

    # ------------------------------------------------------------ blocks

    def instantiate(self, block: s.BlockDef, args: Sequence[s.Arg], span: Span, outer: _Scope) -> ir.BlockRef:
        if block.name in outer.block_stack:
            cycle = " -> ".join((*outer.block_stack[outer.block_stack.index(block.name) :], block.name))
            raise self.rep.fatal(
                "recursive-block",
                f"block `{block.name}` uses itself ({cycle})",
                span,
                notes=[Note(f"`{block.name}` is defined here", block.name_span)],
                help="a block cannot contain itself; repeat it with `* N` instead",
            )
        values: dict[str, Value] = {}
        value_spans: dict[str, Span] = {}
        params = {p.name: p for p in block.params}
        positional = [p.name for p in block.params]
        index = 0
        for arg in args:
            if arg.size_in is not None:
                raise self.rep.fatal("type-error", "`->` is for layer sizes, not block arguments", arg.span)
            if arg.name is None:
                if index >= len(positional):
                    raise self.rep.fatal(
                        "too-many-arguments",
                        f"block `{block.name}` takes {len(positional)} argument"
                        f"{'s' if len(positional) != 1 else ''}",
                        arg.span,
                    )
                name = positional[index]
                index += 1
            else:
                name = arg.name
                if name not in params:
                    suggestion = did_you_mean(name, list(params))
                    raise self.rep.fatal(
                        "unknown-parameter",
                        f"block `{block.name}` has no parameter `{name}`",
                        arg.span,
                        help=(
                            f"did you mean `{suggestion}`?"
                            if suggestion
                            else "it takes: " + ", ".join(params)
                        ),
                    )
            if name in values:
                raise self.rep.fatal(
                    "duplicate-argument",
                    f"`{name}` of block `{block.name}` is given twice",
                    arg.span,
                )
            values[name] = self.eval(arg.value, outer.values)
            value_spans[name] = arg.span
        for param in block.params:
            if param.name not in values:
                if param.default is None:
                    raise self.rep.fatal(
                        "missing-argument",
                        f"block `{block.name}` needs `{param.name}`",
                        span,
                        notes=[Note("declared here", param.span)],
                    )
                values[param.name] = self.eval(param.default, values)
                value_spans[param.name] = param.span
        # Inside the block its parameters are its own symbols (its class's constructor
        # arguments); `args` keeps the values in the caller's terms, for the call.
        given: tuple[tuple[str, Value], ...] = tuple(values.items())
        if self.symbolic:
            values = {k: symbolic(k, v) for k, v in values.items()}
        scope = _Scope(values, value_spans, block_stack=(*outer.block_stack, block.name))
        scope.tensors["x"] = block.name_span
        scope.inputs.append("x")
        scope.current = "x"
        before = len(self.rep.items)
        ops = self.body(block.body, scope, in_seq=False)
        self.finish_graph(scope, block.span)
        if len(self.rep.items) > before and any(d.is_error for d in self.rep.items[before:]):
            raise CompileError(self.rep.items[-1])
        cls = ir.ClassDef(
            block.name,
            scope.class_attrs(),
            tuple(ops),
            block.span,
            True,
            tuple(values.items()),
            outputs=tuple(name for name, _ in scope.returns or ()),
            param_defaults=self.constant_defaults(block),
        )
        return ir.BlockRef(cls, span, args=given)

    def constant_defaults(self, block: s.BlockDef) -> tuple[tuple[str, Value], ...]:
        """The block's parameters whose declared default is a constant (the class's defaults)."""
        out = []
        for param in block.params:
            if param.default is not None and not names_in(param.default):
                with contextlib.suppress(CompileError):
                    out.append((param.name, _quiet_eval(self, param.default)))
        return tuple(out)


_COMPARISONS: dict[str, Any] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _quiet_eval(resolver: Resolver, expr: s.Expr) -> Value:
    """A constant expression's value, reporting nothing (it was checked at its use)."""
    saved = resolver.rep.items[:]
    try:
        return resolver.eval(expr, {})
    finally:
        resolver.rep.items[:] = saved


def symbolic(name: str, value: Value, top: bool = False) -> Value:
    """A whole-number value as the symbol `name`: an architecture's parameter (`top`), or a
    block's, which keeps its expression in the architecture's parameters as its root. Floats
    and strings remember the name, for a use of the parameter as it is."""
    if isinstance(value, (float, str)):
        roots: frozenset[str] | None = None if top else frozenset()
        if isinstance(value, (SymFloat, SymStr)) and not top:
            roots = value.roots
        return SymFloat(value, name, roots) if isinstance(value, float) else SymStr(value, name, roots)
    if isinstance(value, bool) or not isinstance(value, int):
        return value
    if top:
        return SymInt(plain(value), symbol(name))
    return SymInt(plain(value), symbol(name), value.root if isinstance(value, SymInt) else const(value))


def _tensor_name_problem(name: str) -> str | None:
    if keyword.iskeyword(name):
        return "it is a Python keyword"
    if name in GENERATED_GLOBALS or name == "self" or name in BUILTIN_NAMES:
        return "the generated module needs that name"
    if name.startswith("_") or name.startswith("identity"):
        return "archc's generated forward() uses names like it"
    return None


def _arith(op: str, left: int | float, right: int | float) -> int | float:
    if op == "**":
        try:
            return left**right
        except (OverflowError, ZeroDivisionError):
            return math.inf
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "//":
        return left // right
    if op == "%":
        return left % right
    if isinstance(left, int) and isinstance(right, int) and left % right == 0:
        return left // right
    try:
        return left / right
    except OverflowError:  # int / int beyond the float range
        return math.inf


def names_in(expr: s.Expr) -> set[str]:
    """The variable names an expression reads."""
    if isinstance(expr, s.Var):
        return {expr.name}
    if isinstance(expr, s.BinOp):
        return names_in(expr.left) | names_in(expr.right)
    if isinstance(expr, (s.Neg, s.Not)):
        return names_in(expr.operand)
    if isinstance(expr, s.TupleExpr):
        return set().union(*(names_in(i) for i in expr.items)) if expr.items else set()
    if isinstance(expr, s.Index):
        return names_in(expr.value) | names_in(expr.index)
    return set()


def _same_type(default: Value, given: Value) -> bool:
    if isinstance(default, bool) or isinstance(given, bool):
        return isinstance(default, bool) and isinstance(given, bool)
    if isinstance(default, float):
        return isinstance(given, (int, float))
    return type(default) is type(given)


def _source_name(term: s.Term) -> str:
    return term.name if isinstance(term, (s.Ref, s.Call)) else "seq"


def _describe_module(module: ir.ModuleExpr) -> str:
    if isinstance(module, ir.Layer):
        return f"`{module.kind}`"
    if isinstance(module, ir.BlockRef):
        return f"block `{module.cls.name}`"
    if isinstance(module, ir.Sequential):
        return "a seq group"
    return "this module"


def _usage(spec: LayerSpec) -> str:
    parts = []
    if spec.size_out:
        parts.append(f"{spec.size_out}" if not spec.size_in else f"[{spec.size_in} ->] {spec.size_out}")
    elif spec.size_in:
        parts.append(f"[{spec.size_in}]")
    for p in spec.params:
        if p.name in (spec.size_in, spec.size_out):
            continue
        if p.keyword_only and "*" not in parts:
            parts.append("*")
        parts.append(p.name if p.default is REQUIRED else f"{p.name}={show(p.default)}")  # type: ignore[arg-type]
    return f"usage: {spec.name}({', '.join(parts)})"


def _holds_loop(node: object) -> bool:
    """Whether a loop stands anywhere in these statements."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, s.For):
            return True
        if isinstance(item, (tuple, list)):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__") and not isinstance(item, Span):
            stack.extend(getattr(item, f) for f in item.__dataclass_fields__)
    return False
