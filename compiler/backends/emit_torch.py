"""Emit a checked architecture as a black-formatted PyTorch module (Jinja template + black).

`EmitOptions` add speed-oriented variants: a channels-last forward for 2-D
convolutions, and a `fold_batchnorm()` method for inference. The default output
does not depend on them.
"""

from __future__ import annotations

import itertools
import keyword
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

from ..core.pysafe import (
    BUILTIN_NAMES,
    GENERATED_GLOBALS,
    GENERATED_LOCALS,
    Code,
    class_name_problem,
    comment,
    docstring,
    literal,
    message,
    suggest_name,
)
from ..core.sym import Expr, SymFloat, SymInt, SymStr, const, plain, substitute, symbol, to_text
from ..core.values import Value
from ..core.values import kind as value_kind
from ..ir import nodes as ir
from ..ir.layers import SEQ_STEPS, lookup

FUNCTIONAL = {
    "relu": "F.relu",
    "sigmoid": "torch.sigmoid",
    "tanh": "torch.tanh",
    "softmax": "F.softmax",
    "log_softmax": "F.log_softmax",
    "dropout": "F.dropout",
    "maxpool1d": "F.max_pool1d",
    "maxpool2d": "F.max_pool2d",
    "avgpool1d": "F.avg_pool1d",
    "avgpool2d": "F.avg_pool2d",
    "adaptivemaxpool1d": "F.adaptive_max_pool1d",
}

# ------------------------------------------------------------------ added layers (layers branch)
FUNCTIONAL.update(
    {
        "gelu": "F.gelu",
        "silu": "F.silu",
        "elu": "F.elu",
        "leakyrelu": "F.leaky_relu",
        "softplus": "F.softplus",
        "upsample": "F.interpolate",
        "adaptiveavgpool1d": "F.adaptive_avg_pool1d",
        "adaptiveavgpool2d": "F.adaptive_avg_pool2d",
        "adaptivemaxpool2d": "F.adaptive_max_pool2d",
    }
)
# How forward calls a module of a kind: `{out}` the result, `{mod}` the module, `{x}` the input.
DEFAULT_CALL_FORM = "{out} = {mod}({x})"
CALL_FORMS: dict[str, str] = {
    "lstm": "{out}, _ = {mod}({x})",
    "gru": "{out}, _ = {mod}({x})",
    "multiheadattention": "{out}, _ = {mod}({x}, {x}, {x}, need_weights=False)",
}
REDUCTIONS = {"mean": "mean", "sum": "sum", "max": "amax"}
# Layer arguments that are no argument of the torch module (forward applies them).
ARCHC_ONLY = frozenset({"max_norm"})
# Second batch (layers branch): activations with an F. function, the channel dropouts.
FUNCTIONAL.update(
    {
        "selu": "F.selu",
        "celu": "F.celu",
        "relu6": "F.relu6",
        "hardtanh": "F.hardtanh",
        "mish": "F.mish",
        "softsign": "F.softsign",
        "logsigmoid": "F.logsigmoid",
        "hardswish": "F.hardswish",
        "hardsigmoid": "F.hardsigmoid",
        "dropout1d": "F.dropout1d",
        "dropout2d": "F.dropout2d",
    }
)
# Dropouts: their functional form takes `training`, which the module form reads itself.
DROPOUTS = frozenset({"dropout", "dropout1d", "dropout2d"})


def functional_added(layer: ir.Layer, var: str, text: Any = literal) -> tuple[str, bool] | None:
    """The expression of an added stateless layer with no FUNCTIONAL entry, and whether it
    uses `F.`; None for other kinds."""
    kind = layer.kind
    if kind == "identity":
        return var, False
    if kind == "global_avg_pool":
        return f"{var}.mean(dim=-1)", False
    if kind in ("constantpad1d", "constantpad2d"):
        pads = layer.get("padding")
        n = 2 if kind == "constantpad1d" else 4
        pad = pads if isinstance(pads, tuple) else (pads,) * n
        return f"F.pad({var}, {text(pad)}, value={text(layer.get('value'))})", True
    if kind == "crop":
        left, right = layer.get("left") or 0, layer.get("right") or 0
        shown = text(right)
        if shown.isdigit():
            stop = f"-{shown}" if int(shown) else ""
        else:  # follows a parameter: at 0, `-0` would end the slice at its start: no stop then
            bare = shown.replace(".", "").replace("_", "").isalnum()
            stop = f"-{shown} or None" if bare else f"-({shown}) or None"
        return f"{var}[..., {text(left)}:{stop}]", False
    if kind == "flip":
        dims = layer.get("dims")
        assert isinstance(dims, tuple)
        return f"torch.flip({var}, dims={text(dims)})", False
    if kind == "exp":
        return f"torch.exp({var})", False
    if kind == "log":
        return f"torch.log({var})", False
    if kind == "scale":
        return f"{var} * {text(layer.get('factor'))}", False
    if kind == "shift":
        offset = layer.get("offset")
        if isinstance(offset, (int, float)) and not isinstance(offset, (SymInt, SymFloat)) and offset < 0:
            return f"{var} - {text(-offset)}", False  # x - 1 (the same number as x + -1)
        return f"{var} + {text(offset)}", False
    if kind == "divide":
        return f"{var} / {text(layer.get('divisor'))}", False
    if kind == "unsqueeze":
        return f"{var}.unsqueeze({text(layer.get('dim'))})", False
    if kind == "squeeze":
        dim = layer.get("dim")
        return f"{var}.squeeze({'' if dim is None else text(dim)})", False
    if kind == "repeat":
        sizes = layer.get("sizes")
        assert isinstance(sizes, tuple)
        return f"{var}.repeat({', '.join(text(v) for v in sizes)})", False
    if kind in REDUCTIONS:
        args = [f"dim={text(layer.get('dim'))}"]
        if layer.get("keepdim"):
            args.append("keepdim=True")
        return f"{var}.{REDUCTIONS[kind]}({', '.join(args)})", False
    return None


# ------------------------------------------------------------------ end of added layers

MEMORY_FORMATS = ("contiguous", "channels_last")
# A batchnorm that directly follows one of these layers can be folded into it.
FOLDS_INTO = {"conv1d": "batchnorm1d", "conv2d": "batchnorm2d", "linear": "batchnorm1d"}
# Method names the options add; a layer of that name would be shadowed by the method.
OPTION_METHODS = frozenset({"fold_batchnorm", "to_channels_last"})
CHANNELS_LAST = "x.contiguous(memory_format=torch.channels_last)"
LINE_LENGTH = 88


@dataclass(frozen=True)
class EmitOptions:
    """How to emit a module beyond its architecture (speed-oriented variants)."""

    memory_format: str = "contiguous"  # or "channels_last"
    fold_batchnorm: bool = False  # add a fold_batchnorm() method for inference
    concrete: bool = False  # literal sizes for the parameters given, no constructor arguments

    def __post_init__(self) -> None:
        if self.memory_format not in MEMORY_FORMATS:
            raise ValueError(
                f"memory_format is one of {', '.join(MEMORY_FORMATS)}, not {self.memory_format!r}"
            )

    @property
    def channels_last(self) -> bool:
        return self.memory_format == "channels_last"


def _meta_repr(value: Any) -> str:
    """Python source for metadata: only plain data, every string through repr()."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(str(k))}: {_meta_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_meta_repr(v) for v in value) + "]"
    return literal(value)


# nn.Module's own attributes: a parameter stored for forward must not shadow one.
_MODULE_NAMES = frozenset(
    {
        "training", "forward", "parameters", "buffers", "modules", "children", "state_dict",
        "load_state_dict", "eval", "train", "to", "cuda", "cpu", "half", "float", "double", "type",
        "apply", "zero_grad", "add_module", "register_buffer", "register_parameter", "extra_repr",
        "named_parameters", "named_buffers", "named_modules", "named_children", "requires_grad_",
        "get_submodule",
    }
)


@dataclass
class _Printer:
    """Writes values as Python: a size that follows the parameters as its expression in the
    class's own names (`channels // 2`), in forward through attributes (`self.length`);
    literals otherwise, and always under `--concrete`."""

    concrete: bool = False
    forward: bool = False
    env: dict[str, int] = field(default_factory=dict)  # loop indices being unrolled
    used: set[str] = field(default_factory=set)  # symbols read in __init__
    forward_used: set[str] = field(default_factory=set)  # symbols read in forward
    taken: frozenset[str] = frozenset()  # attribute names forward cannot store a value under
    # A block's input sizes forward reads from its input (`in_length = x.size(2)`): one instance
    # may be called at several lengths, so forward cannot keep the first call's.
    runtime: frozenset[str] = frozenset()
    runtime_used: set[str] = field(default_factory=set)

    def attr(self, name: str) -> str:
        """The attribute that holds a parameter forward reads."""
        return f"{name}_value" if name in self.taken or name in _MODULE_NAMES else name

    def expr(self, value: Value) -> Expr | None:
        """The value's expression when it follows a parameter, else None."""
        if self.concrete or not isinstance(value, SymInt):
            return None
        local = value.local
        if self.env and local.symbols() & self.env.keys():
            local = substitute(local, {k: const(v) for k, v in self.env.items()})
        return None if local.const is not None else local

    def __call__(self, value: Value) -> str:
        if isinstance(value, tuple):
            inner = ", ".join(self(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if not self.concrete and isinstance(value, (SymFloat, SymStr)) and value.name not in self.env:
            return self.name(value.name)
        local = self.expr(value)
        if local is None:
            return literal(plain(value) if isinstance(value, SymInt) else value)
        names = local.symbols()
        if self.forward:
            self.runtime_used |= names & self.runtime
            self.forward_used |= names - self.runtime
            return to_text(
                substitute(local, {n: symbol(f"self.{self.attr(n)}") for n in names - self.runtime})
            )
        self.used |= names
        return to_text(local)

    def name(self, name: str) -> str:
        if self.forward:
            self.forward_used.add(name)
            return f"self.{self.attr(name)}"
        self.used.add(name)
        return name


@dataclass
class _ClassCode:
    name: str
    doc: str
    init: list[str]
    forward: list[str]
    methods: list[list[str]] = field(default_factory=list)  # extra methods, one list each
    reads: list[str] = field(default_factory=list)  # forward's first lines: `in_length = x.size(2)`
    folds: bool = False  # has a _fold_batchnorm() method
    signature: str = "x: torch.Tensor"
    returns: str = "x"
    return_type: str = "torch.Tensor"
    init_signature: str = ""  # the constructor's arguments after self
    arg_names: list[str] = field(default_factory=list)  # a block class's, in order


@dataclass
class _Flow:
    """What forward emission knows about `x` at the current step (channels-last mode)."""

    rank: int
    converted: bool  # x may be channels-last (or a non-contiguous tensor derived from it)
    swapped: bool = False  # x holds (batch, channels, width, height): see _length_on_width
    var: str = "x"  # the variable that holds the current tensor


# ------------------------------------------------------------------ batchnorm folding

# A module in a class: ("attr", name) for an attribute, ("slot", attr, path) for an
# unnamed item of a Sequential attribute at an index path.
_Key = tuple[Any, ...]


def _attrs(cls: ir.ClassDef) -> dict[str, ir.Attr]:
    """The attributes of a class by name (ClassDef.attr() scans: quadratic over many steps)."""
    index: dict[str, ir.Attr] = {}
    for attr in cls.attrs:
        index.setdefault(attr.name, attr)
    return index


def _root(attrs: dict[str, ir.Attr], module: ir.ModuleExpr) -> tuple[_Key | None, ir.ModuleExpr]:
    """Follow aliases to the attribute that owns a module."""
    key: _Key | None = None
    while isinstance(module, ir.AttrRef):
        attr = attrs.get(module.name)
        if attr is None:  # pragma: no cover - resolve only makes references to earlier attributes
            return None, module
        key, module = ("attr", attr.name), attr.module
    return key, module


def _access(key: _Key) -> str:
    if key[0] == "attr":
        return f"self.{key[1]}"
    return f"self.{key[1]}" + "".join(f"[{i}]" for i in key[2])


def _sequentials(cls: ir.ClassDef) -> list[tuple[str, tuple[int, ...], ir.Sequential]]:
    """Every Sequential owned by an attribute, with its index path (nested ones too)."""
    out: list[tuple[str, tuple[int, ...], ir.Sequential]] = []

    def visit(name: str, path: tuple[int, ...], seq: ir.Sequential) -> None:
        out.append((name, path, seq))
        for i, item in enumerate(seq.items):
            if isinstance(item, ir.Sequential):
                visit(name, (*path, i), item)

    for attr in cls.attrs:
        if isinstance(attr.module, ir.Sequential):
            visit(attr.name, (), attr.module)
    return out


def _run_counts(cls: ir.ClassDef, attrs: dict[str, ir.Attr]) -> Counter[_Key]:
    """How many times forward() runs each layer of the class."""
    counts: Counter[_Key] = Counter()

    def run(module: ir.ModuleExpr, key: _Key | None) -> None:
        if isinstance(module, ir.AttrRef):
            key, module = _root(attrs, module)
        if isinstance(module, ir.Layer) and key is not None:
            counts[key] += 1
        elif isinstance(module, ir.Sequential) and key is not None:
            for i, item in enumerate(module.items):
                base = key if key[0] == "slot" else ("slot", key[1], ())
                run(item, ("slot", base[1], (*base[2], i)))

    for op in ir.walk(cls.forward):
        if isinstance(op, ir.CallAttr) and op.index is None:
            run(ir.AttrRef(op.name, op.span), None)
    return counts


def _foldable(
    first: tuple[_Key | None, ir.ModuleExpr],
    second: tuple[_Key | None, ir.ModuleExpr],
    counts: Counter[_Key],
    out_rank: int | None,
) -> bool:
    (key_a, a), (key_b, b) = first, second
    if key_a is None or key_b is None or not isinstance(a, ir.Layer):
        return False
    if not isinstance(b, ir.Layer) or FOLDS_INTO.get(a.kind) != b.kind:
        return False
    if b.get("track_running_stats") is False:  # such a batchnorm normalizes with batch statistics
        return False
    if a.get("max_norm") is not None:  # forward renorms the layer's weights: folded ones would change
        return False
    # A linear layer acts on the last axis, batchnorm on axis 1: the same axis only in 2-D.
    if a.kind == "linear" and out_rank != 2:
        return False
    return counts[key_a] == 1 and counts[key_b] == 1


def _fold_pairs(cls: ir.ClassDef) -> list[tuple[_Key, _Key]]:
    """(layer, batchnorm) pairs where the batchnorm is the only consumer of the layer."""
    attrs = _attrs(cls)
    counts = _run_counts(cls, attrs)
    pairs: list[tuple[_Key, _Key]] = []
    for name, path, seq in _sequentials(cls):
        items = [
            _root(attrs, item) if isinstance(item, ir.AttrRef) else (("slot", name, (*path, i)), item)
            for i, item in enumerate(seq.items)
        ]
        for first, second in itertools.pairwise(items):
            # Inside a Sequential the rank is unknown: only convolutions are folded there.
            if (
                isinstance(first[1], ir.Layer)
                and first[1].kind != "linear"
                and _foldable(first, second, counts, None)
            ):
                pairs.append((first[0], second[0]))  # type: ignore[arg-type]

    def ops(items: tuple[ir.Op, ...]) -> None:
        for op, following in itertools.pairwise(items):
            if (
                isinstance(op, ir.CallAttr)
                and isinstance(following, ir.CallAttr)
                and op.index is None
                and following.index is None
            ):
                first = _root(attrs, ir.AttrRef(op.name, op.span))
                second = _root(attrs, ir.AttrRef(following.name, following.span))
                if _foldable(first, second, counts, len(op.shape)):
                    pairs.append((first[0], second[0]))  # type: ignore[arg-type]
        for op in items:
            for inner in ir.nested(op):
                ops(inner)

    ops(cls.forward)
    return pairs


def _references(cls: ir.ClassDef, key: _Key) -> list[str]:
    """Every place the class holds a module: its owner, aliases and Sequential slots."""
    if key[0] == "slot":
        return [_access(key)]
    attrs = _attrs(cls)
    refs = [_access(key)]
    for attr in cls.attrs:
        if isinstance(attr.module, ir.AttrRef) and _root(attrs, attr.module)[0] == key:
            refs.append(f"self.{attr.name}")
    for name, path, seq in _sequentials(cls):
        for i, item in enumerate(seq.items):
            if isinstance(item, ir.AttrRef) and _root(attrs, item)[0] == key:
                refs.append(_access(("slot", name, (*path, i))))
    return refs


def _fold_method(cls: ir.ClassDef) -> list[str]:
    pairs = _fold_pairs(cls)
    if not pairs:
        return []
    lines = [
        "def _fold_batchnorm(self) -> None:",
        "    # Every reference to a folded batchnorm gets the same nn.Identity.",
    ]
    for layer, bn in pairs:
        targets = " = ".join(_references(cls, bn))
        lines.append(f"    {targets} = _fold_into({_access(layer)}, {_access(bn)})")
    return lines


# ------------------------------------------------------------------ length on the last axis

# 2-D convolutions over (batch, channels, length, 1) with (k, 1) kernels are 2-3x faster
# on CPU with the length on the last axis, (batch, channels, 1, length): the same
# weights, read through a transposed view. Steps that do not care which spatial axis
# is which may run in between; anything else ends the transposed stretch.
SPATIAL_2D = frozenset({"conv2d", "maxpool2d", "avgpool2d"})
HW_AGNOSTIC = SPATIAL_2D | {"batchnorm2d", "relu", "sigmoid", "tanh", "dropout", "contiguous"}
SWAPPED_PARAMS = ("kernel_size", "stride", "padding", "dilation")


def _module_ok(attrs: dict[str, ir.Attr], module: ir.ModuleExpr) -> bool:
    """Whether a module computes the same on height-width swapped input (with swapped pools)."""
    if isinstance(module, ir.AttrRef):
        module = _root(attrs, module)[1]
    if isinstance(module, ir.Layer):
        if module.kind == "conv2d" and module.get("padding_mode") != "zeros":
            return False
        return module.kind in HW_AGNOSTIC
    if isinstance(module, ir.Sequential):
        return all(_module_ok(attrs, item) for item in module.items)
    if isinstance(module, ir.BlockRef):
        block = module.cls
        return len(block.in_shape) == 4 and all(_op_ok(block, _attrs(block), op) for op in block.forward)
    return False


def _op_ok(cls: ir.ClassDef, attrs: dict[str, ir.Attr], op: ir.Op) -> bool:
    if isinstance(op, ir.CallAttr):
        return op.index is None and _module_ok(attrs, ir.AttrRef(op.name, op.span))
    if isinstance(op, ir.Functional):
        return op.layer.kind in HW_AGNOSTIC
    if isinstance(op, ir.Residual) and not op.has_shortcut:
        return all(_op_ok(cls, attrs, inner) for inner in op.body)
    return False  # the swapped layout is kept to plain chains


def _has_2d(attrs: dict[str, ir.Attr], module: ir.ModuleExpr | ir.Op) -> bool:
    """Whether a module or step runs a 2-D convolution or pool anywhere inside."""
    if isinstance(module, ir.AttrRef):
        module = _root(attrs, module)[1]
    if isinstance(module, ir.CallAttr):
        return _has_2d(attrs, ir.AttrRef(module.name, module.span))
    if isinstance(module, (ir.Layer, ir.Functional)):
        layer = module if isinstance(module, ir.Layer) else module.layer
        return layer.kind in SPATIAL_2D
    if isinstance(module, (ir.Residual, ir.Loop)):
        return any(_has_2d(attrs, op) for ops in ir.nested(module) for op in ops)
    if isinstance(module, ir.ModuleList):
        return any(_has_2d(attrs, item) for item in module.items)
    if isinstance(module, ir.Sequential):
        return any(_has_2d(attrs, item) for item in module.items)
    if isinstance(module, ir.BlockRef):
        inner = _attrs(module.cls)
        return any(_has_2d(inner, op) for op in module.cls.forward)
    return False


def _touches_4d(attrs: dict[str, ir.Attr], module: ir.ModuleExpr | ir.Op) -> bool:
    """Whether a block somewhere inside a module or step holds a 4-D tensor."""
    if isinstance(module, ir.AttrRef):
        module = _root(attrs, module)[1]
    if isinstance(module, ir.CallAttr):
        return _touches_4d(attrs, ir.AttrRef(module.name, module.span))
    if isinstance(module, (ir.Residual, ir.Loop)):
        return any(_touches_4d(attrs, op) for ops in ir.nested(module) for op in ops)
    if isinstance(module, ir.ModuleList):
        return any(_touches_4d(attrs, item) for item in module.items)
    if isinstance(module, ir.Sequential):
        return any(_touches_4d(attrs, item) for item in module.items)
    if isinstance(module, ir.BlockRef):
        block, inner = module.cls, _attrs(module.cls)
        return len(block.in_shape) == 4 or any(
            len(op.shape) == 4 or _touches_4d(inner, op) for op in block.forward
        )
    return False


def _length_on_width(arch: ir.Architecture) -> bool:
    """One 4-D stretch at the top level, width 1 on entry, every step in it swap-safe,
    and no 2-D convolution or pool, nor any block going 4-D, outside it."""
    cls = arch.cls
    attrs = _attrs(cls)
    rank = len(arch.input_shape)
    if arch.extra_inputs or cls.outputs:
        return False
    entries = [arch.input_shape] if rank == 4 else []
    inside = rank == 4
    for op in cls.forward:
        out = len(op.shape)
        if inside and out == 4:
            if not _op_ok(cls, attrs, op):
                return False
            continue
        inside = False
        if _has_2d(attrs, op) or _touches_4d(attrs, op):
            return False
        if out == 4:
            entries.append(op.shape)
            inside = True
    return len(entries) == 1 and entries[0][3].size == 1 and (entries[0][2].size or 0) > 1


def _swapped(layer: ir.Layer) -> ir.Layer:
    """A pool with its height and width parameters exchanged."""
    for name in SWAPPED_PARAMS:
        value = layer.get(name)
        if isinstance(value, tuple) and len(value) == 2:
            layer = layer.with_arg(name, (value[1], value[0]))
    return layer


def _swap_shape(shape: ir.Shape) -> ir.Shape:
    return (*shape[:2], shape[3], shape[2]) if len(shape) == 4 else shape


# ------------------------------------------------------------------ emission


@dataclass
class _Emitter:
    """Renders classes in dependency order; identical block instances share a class."""

    options: EmitOptions = field(default_factory=EmitOptions)
    classes: list[_ClassCode] = field(default_factory=list)
    by_key: dict[tuple[Any, ...], _ClassCode] = field(default_factory=dict)
    shapes_by_key: dict[tuple[Any, ...], list[list[ir.Shape]]] = field(default_factory=dict)
    names_used: dict[str, int] = field(default_factory=dict)
    # Class names that are spoken for: the module's class and every block the user named.
    reserved: set[str] = field(default_factory=set)
    taken: set[str] = field(default_factory=set)
    uses_functional: bool = False
    indexes: dict[int, tuple[ir.ClassDef, dict[str, ir.Attr]]] = field(default_factory=dict)
    swap_hw: bool = False  # the 4-D stretch runs with height and width exchanged
    # Per class while its forward is written: every tensor name, the ones read by name
    # (whose variables must not be overwritten), and how many fresh variables were made.
    tensor_names: set[str] = field(default_factory=set)
    protected: set[str] = field(default_factory=set)
    fresh_count: int = 0
    pr: _Printer = field(default_factory=_Printer)
    # Parameters of the architecture the code cannot follow after all (an unrolled loop).
    fixed: set[str] = field(default_factory=set)
    fits_note: str = ""  # appended to a pinned size's error: the input lengths that fit
    helpers: set[str] = field(default_factory=set)  # HELPER_CLASSES the file must define

    def attr_index(self, cls: ir.ClassDef) -> dict[str, ir.Attr]:
        entry = self.indexes.get(id(cls))
        if entry is None or entry[0] is not cls:
            entry = self.indexes[id(cls)] = (cls, _attrs(cls))
        return entry[1]

    # ---------------------------------------------------------------- modules

    def module_expr(self, module: ir.ModuleExpr) -> str:
        if isinstance(module, ir.AttrRef):
            return f"self.{module.name}"
        if isinstance(module, ir.Sequential):
            return "nn.Sequential(" + ", ".join(self.module_expr(m) for m in module.items) + ")"
        if isinstance(module, ir.ModuleList):
            return self.module_list(module)
        if isinstance(module, ir.Layer) and module.kind in HELPER_CLASSES:
            self.helpers.add(HELPER_CLASSES[module.kind])  # the file defines it
        if isinstance(module, ir.BlockRef):
            name, key, code = self.block_class(module.cls, module.dim_args)
            # An instance called at several shapes: its comments name each call's shape.
            for call in module.calls:
                self.shapes_by_key[key].append(self.nested_class_code(call)[1])
            given = dict((*module.args, *module.dim_args))
            args = [f"{k}={self.pr(given[k])}" for k in code.arg_names if k in given]
            return f"{name}({', '.join(args)})"
        return layer_module(module, self.swap_hw, self.pr)

    def item_key(self, attr: ir.Attr | None, index: int) -> str:
        """What indexes an item: its position in a list, its key (a literal) in a dict."""
        module = attr.module if attr is not None else None
        if isinstance(module, ir.ModuleList) and module.keys is not None:
            return literal(module.keys[index])
        return str(index)

    def module_list(self, module: ir.ModuleList) -> str:
        """A comprehension over the loop's range() when every item reads the same with the
        index as a name; else the items one by one, the index written as its value."""
        texts = [self.module_expr(m) for m in module.items]
        if module.keys is not None:  # keys are checked names: `heads.profile`
            pairs = zip(module.keys, texts, strict=True)
            return "nn.ModuleDict({" + ", ".join(f"{literal(k)}: {v}" for k, v in pairs) + "})"
        if module.var and texts and len(set(texts)) == 1 and not self.pr.concrete:
            bounds = ", ".join(self.pr(b) for b in module.bounds)
            if len(range(*(plain(b) for b in module.bounds))) == len(texts):  # type: ignore[arg-type]
                return f"nn.ModuleList([{texts[0]} for {module.var} in range({bounds})])"
        if module.var:
            self.fixed |= _bound_symbols(module.bounds)
            indices = list(range(*(plain(b) for b in module.bounds)))  # type: ignore[arg-type]
            texts = []
            for index, item in zip(indices, module.items, strict=False):
                self.pr.env[module.var] = index
                texts.append(self.module_expr(item))
            self.pr.env.pop(module.var, None)
        return "nn.ModuleList([" + ", ".join(texts) + "])"

    def block_class(
        self, cls: ir.ClassDef, dim_args: tuple[tuple[str, Value], ...] = ()
    ) -> tuple[str, tuple[Any, ...], _ClassCode]:
        """The class name of a block instance (made on first use), its key and its code."""
        code, shapes = self.nested_class_code(cls, dim_args)
        key = (
            cls.name,
            code.init_signature,
            tuple(code.init),
            tuple(code.forward),
            tuple(code.reads),
            tuple(map(tuple, code.methods)),
        )
        if key in self.by_key:
            self.shapes_by_key[key].append(shapes)
            return self.by_key[key].name, key, self.by_key[key]
        count = self.names_used.get(cls.name, 0) + 1
        self.names_used[cls.name] = count
        if count == 1:
            code.name = cls.name
        else:
            # The k-th distinct instance of block B is B_k, unless the user named a
            # block (or the module class) that: then the next free number.
            while f"{cls.name}_{count}" in self.reserved or f"{cls.name}_{count}" in self.taken:
                count += 1
            self.names_used[cls.name] = count
            code.name = f"{cls.name}_{count}"
        self.taken.add(code.name)
        if self.pr.concrete or not code.arg_names:
            args = ", ".join(f"{k}={literal(v)}" for k, v in cls.params)
            code.doc = f"Block `{cls.name}`" + (f" with {args}" if args else "") + "."
        else:
            code.doc = f"Block `{cls.name}`."
        self.by_key[key] = code
        self.shapes_by_key[key] = [shapes]
        self.classes.append(code)
        return code.name, key, code

    # ---------------------------------------------------------------- classes

    def nested_class_code(
        self, cls: ir.ClassDef, dim_args: tuple[tuple[str, Value], ...] = ()
    ) -> tuple[_ClassCode, list[ir.Shape]]:
        """A block's class code, written while the class that holds it is being written: with
        a printer of its own, so the names it reads are not stored by the outer class."""
        outer = self.pr
        self.pr = _Printer(concrete=outer.concrete)
        try:
            return self.class_code(cls, cls.name, dim_args)
        finally:
            self.pr = outer

    def class_code(
        self, cls: ir.ClassDef, name: str, dim_args: tuple[tuple[str, Value], ...] = ()
    ) -> tuple[_ClassCode, list[ir.Shape]]:
        self.pr.forward = False
        self.pr.used, self.pr.forward_used = set(), set()
        self.pr.taken = frozenset(a.name for a in cls.attrs)
        init: list[str] = []
        for attr in cls.attrs:
            if attr.name in OPTION_METHODS and self.options != EmitOptions():
                raise ValueError(
                    f"layer `{attr.name}` would hide the {attr.name}() method the emit "
                    "options add; rename the layer"
                )
            if isinstance(attr.module, ir.Layer):
                init.extend(self.pin_checks(attr.name, attr.module))
            text = self.module_expr(attr.module)
            if isinstance(attr.module, ir.Layer) and attr.module.comment:
                init.append(f"# {comment(self.size_comment(attr.module))}")
            init.append(f"self.{attr.name} = {text}")
        forward: list[str] = []
        shapes: list[ir.Shape] = []
        # Under swap_hw only blocks inside the transposed stretch take 4-D input.
        flow = _Flow(len(cls.in_shape), False, self.swap_hw and len(cls.in_shape) == 4)
        if self.options.channels_last and not cls.is_block and flow.rank == 4:
            self.enter_4d(forward, shapes, cls.in_shape, flow)
        flow.var = cls.inputs[0] if cls.inputs else "x"
        self.tensor_names = _tensor_names(cls)
        self.protected = _read_names(cls)
        self.fresh_count = 0
        reads = self.runtime_sizes(cls, flow)
        self.pr.runtime, self.pr.runtime_used = frozenset(reads), set()
        self.pr.forward = True
        for access, limit in _max_norms(cls):
            # As the original model: the constraint holds at every call, before any step.
            forward.append(f"{access}.weight.data.renorm_(2, 0, {self.pr(limit)})  # max_norm")
            shapes.append(())
        self.forward_ops(cls, cls.forward, forward, shapes, 0, flow)
        self.pr.forward = False
        used_reads = [f"{n} = {reads[n]}" for n in sorted(self.pr.runtime_used)]
        self.pr.runtime = frozenset()
        if flow.swapped and not cls.is_block:
            forward.append("x = x.transpose(2, 3)")
            shapes.append(cls.out_shape)
        stored = [f"self.{self.pr.attr(n)} = {n}" for n in sorted(self.pr.forward_used)]
        code = _ClassCode(name, "", [*stored, *init], forward, reads=used_reads)
        if not self.pr.concrete and cls.is_block:
            used = self.pr.used | self.pr.forward_used
            # Input sizes first (`in_channels`), then the block's own parameters.
            dims = [k for k, _ in dim_args if k in used]
            code.arg_names = [*dims, *(k for k, _ in cls.params)]
            given = dict(cls.params)
            defaults = dict(cls.param_defaults)
            texts = [f"{k}: int" for k in dims]
            seen_default = False
            for k, _ in cls.params:
                texts.append(_param_text(k, given[k], k in defaults, defaults.get(k)))
                if seen_default and k not in defaults:
                    texts.insert(0, "*")  # a required one after a default: keywords only
                    seen_default = False
                seen_default = seen_default or k in defaults
            code.init_signature = ", ".join(dict.fromkeys(texts))
        if len(cls.inputs) > 1:
            code.signature = ", ".join(f"{n}: torch.Tensor" for n in cls.inputs)
        elif cls.inputs and cls.inputs[0] != "x":  # pragma: no cover - blocks read `x`
            code.signature = f"{cls.inputs[0]}: torch.Tensor"
        if cls.output_keys is not None:
            pairs = zip(cls.output_keys, cls.outputs, strict=True)
            code.returns = "{" + ", ".join(f"{literal(k)}: {n}" for k, n in pairs) + "}"
            code.return_type = "dict[str, torch.Tensor]"
        elif len(cls.outputs) > 1:
            code.returns = ", ".join(cls.outputs)
            code.return_type = "tuple[" + ", ".join("torch.Tensor" for _ in cls.outputs) + "]"
        else:
            code.returns = cls.outputs[0] if cls.outputs else flow.var
        if self.options.fold_batchnorm:
            method = _fold_method(cls)
            if method:
                code.methods.append(method)
                code.folds = True
        return code, shapes

    def runtime_sizes(self, cls: ir.ClassDef, flow: _Flow) -> dict[str, str]:
        """How a block's forward reads each input size it needs from its input tensor."""
        if not cls.is_block or self.pr.concrete:
            return {}
        params = {k for k, _ in cls.params}
        reads = {}
        for axis, dim in enumerate(cls.in_shape):
            if not isinstance(dim.size, SymInt):
                continue
            names = dim.size.local.symbols()
            name = next(iter(names)) if len(names) == 1 else ""
            if not name or name in params or dim.size.local != symbol(name):
                continue  # (a size the block's parameters give)
            if name in self.tensor_names or name in self.protected:
                continue  # (a tensor of that name: forward keeps the constructor's value)
            if flow.swapped and axis in (2, 3):
                axis = 5 - axis  # x holds (batch, channels, width, height)
            reads[name] = f"{flow.var}.size({axis})"
        return reads

    def pin_checks(self, attr: str, layer: ir.Layer) -> list[str]:
        """A written input size that the parameters could change: the constructor checks it."""
        lines = []
        for param, size in layer.pinned:
            local = self.pr.expr(size)
            if local is None:
                continue
            written = plain(layer.get(param))  # type: ignore[arg-type]
            what = param.replace("_", " ").replace("in ", "input ")
            expr = to_text(local)
            self.pr.used |= local.symbols()
            head = f"{attr} takes {written} {what}"
            plain_text: list[str | Code] = [f"{head} (written in the .arch), not ", Code(expr)]
            # The lengths that fit are named when it is the length that the size follows.
            note = self.fits_note if "length" in size.root.symbols() else ""  # type: ignore[union-attr]
            with_note: list[str | Code] = [f"{head}{note}"]
            texts = [with_note] if note else [plain_text]
            if len(message(*texts[0])) + 16 > 110:  # the generated code keeps to ruff's line length
                only_note: list[str | Code] = [note]
                texts = [plain_text, only_note] if note else [plain_text]
            strings = [f"        {message(*t)}" for t in texts]
            lines += [f"if {expr} != {written}:", "    raise ValueError(", *strings, "    )"]
        return lines

    def size_comment(self, layer: ir.Layer) -> str:
        """The derivation of an inferred size, at the defaults when it follows the parameters."""
        spec = lookup(layer.kind)
        if spec is None or spec.size_in is None or self.pr.expr(layer.get(spec.size_in)) is None:
            return layer.comment
        return f"{layer.comment} at the defaults"

    def forward_ops(
        self,
        cls: ir.ClassDef,
        ops: tuple[ir.Op, ...],
        lines: list[str],
        shapes: list[ir.Shape],
        depth: int,
        flow: _Flow | None = None,
        shape: ir.Shape | None = None,
    ) -> None:
        flow = flow or _Flow(len(cls.in_shape), False)
        attrs = self.attr_index(cls)
        current = cls.in_shape if shape is None else shape  # the input of the next op
        # For each step, the name its chain gives its result (a Store after only layers).
        bound: list[str | None] = [None] * len(ops)
        name: str | None = None
        for k in range(len(ops) - 1, -1, -1):
            bound[k] = name
            later = ops[k]
            if isinstance(later, ir.Store):
                name = later.name
            elif not isinstance(later, (ir.CallAttr, ir.Functional)):
                name = None
        for index, op in enumerate(ops):
            rank_in = flow.rank
            if flow.swapped and not cls.is_block and len(op.shape) != 4:
                lines.append("x = x.transpose(2, 3)")  # back to (batch, channels, height, width)
                shapes.append(())
                flow.swapped = False
            if isinstance(op, ir.Load):
                flow.var = op.name
                current = op.shape or current
                flow.rank = len(op.shape) if op.shape else flow.rank
                continue
            if isinstance(op, ir.Store):
                if flow.var != op.name:
                    lines.append(f"{op.name} = {flow.var}")
                    shapes.append(())
                    flow.var = op.name
                continue
            if isinstance(op, ir.Loop) and op.merge is None:
                if flow.var in self.protected:
                    # The loop carries its tensor in one variable; the one read by name stays.
                    carried = self.target(bound[index], flow)
                    lines.append(f"{carried} = {flow.var}")
                    shapes.append(())
                    flow.var = carried
                self.loop(cls, op, lines, shapes, depth, flow, current)
                current = op.shape or current
                flow.rank = len(op.shape) if op.shape else flow.rank
                continue
            source = flow.var
            if isinstance(op, ir.CallAttr):
                attr = attrs.get(op.name)
                module = attr.module if attr is not None else None
                if isinstance(module, ir.ModuleList) and op.index is not None:
                    module = module.items[op.index]
                while isinstance(module, (ir.AttrRef, ir.Sequential)):
                    # an alias of an LSTM returns a tuple too, and so does a seq ending in one
                    if isinstance(module, ir.Sequential):
                        module = module.items[-1] if module.items else None
                        continue
                    aliased = attrs.get(module.name)
                    module = aliased.module if aliased is not None else None
                kind = module.kind if isinstance(module, ir.Layer) else ""
                call = f"self.{op.name}"
                if op.index is not None:
                    call += f"[{self.item_key(attr, op.index)}]"
                target = self.target(bound[index], flow)
                form = CALL_FORMS.get(kind, DEFAULT_CALL_FORM)
                lines.append(form.format(out=target, mod=call, x=source))
            elif isinstance(op, ir.Functional):
                batch = next((i for i, d in enumerate(current) if d.size is None), 0)
                target = self.target(bound[index], flow)
                lines.append(f"{target} = {self.functional(op.layer, cls, flow, batch, var=source)}")
            elif isinstance(op, ir.Merge):
                target = self.target(bound[index], flow)
                lines.append(f"{target} = {_merge_expr(op, source)}")
            elif isinstance(op, ir.Loop):
                merged = self.gather(cls, op, lines, shapes, depth, flow, current)
                flow.var = source
                target = self.target(bound[index], flow)
                lines.append(f"{target} = {merged}")
            elif self.compact_residual(cls, op, lines, shapes, depth, flow, current, source):
                target = flow.var
            else:
                var = "identity" if depth == 0 else f"identity{depth}"
                lines.append(f"{var} = {source}")
                shapes.append(())
                self.forward_ops(cls, op.body, lines, shapes, depth + 1, flow, current)
                body = flow.var
                skip = var
                if op.shortcut:
                    flow.var = var
                    self.forward_ops(cls, op.shortcut, lines, shapes, depth + 1, flow, current)
                    skip = flow.var
                flow.var = body
                target = self.target(bound[index], flow)
                lines.append(f"{target} = {body} + {skip}")
            flow.var = target
            current = op.shape or current
            shapes.append(_swap_shape(op.shape) if flow.swapped else op.shape)
            flow.rank = len(op.shape) if op.shape else flow.rank
            if self.options.channels_last and flow.rank == 4 and rank_in != 4:
                self.enter_4d(lines, shapes, op.shape, flow, swap=not cls.is_block)

    def compact_residual(
        self,
        cls: ir.ClassDef,
        op: ir.Residual,
        lines: list[str],
        shapes: list[ir.Shape],
        depth: int,
        flow: _Flow,
        current: ir.Shape,
        source: str,
    ) -> bool:
        """`x = self.layer(x) + x` for a residual whose body is one step that cannot change
        its input in place; False (nothing written) otherwise."""
        if op.shortcut or len(op.body) != 1 or not isinstance(op.body[0], ir.CallAttr):
            return False
        if not _allocates_first(cls, op.body[0]) or source in self.protected:
            return False
        body_lines: list[str] = []
        body_shapes: list[ir.Shape] = []
        inner = replace(flow)
        self.forward_ops(cls, op.body, body_lines, body_shapes, depth + 1, inner, current)
        prefix = f"{inner.var} = "
        if len(body_lines) != 1 or inner.var != source or not body_lines[0].startswith(prefix):
            return False
        lines.append(f"{body_lines[0]} + {source}")
        return True

    def target(self, bound: str | None, flow: _Flow) -> str:
        """The variable a step writes: the name its chain gives its result, else the current
        variable unless a later step reads that tensor by name, else a fresh variable."""
        if bound is not None:
            return bound
        if flow.var not in self.protected:
            return flow.var
        while True:
            self.fresh_count += 1
            name = "h" if self.fresh_count == 1 else f"h{self.fresh_count}"
            if name not in self.tensor_names:
                self.protected.discard(name)
                return name

    def loop(
        self,
        cls: ir.ClassDef,
        op: ir.Loop,
        lines: list[str],
        shapes: list[ir.Shape],
        depth: int,
        flow: _Flow,
        current: ir.Shape,
    ) -> None:
        """A Python loop over the module lists when every iteration reads the same; else
        the iterations one after another."""
        rendered: list[tuple[list[str], list[ir.Shape], _Flow]] = []
        state = (flow.var, self.fresh_count)
        for index, iteration in zip(op.indices, op.iterations, strict=True):
            rendered.append(self.iteration(cls, op, index, iteration, depth, flow, current))
            flow.var = rendered[-1][2].var
            current = iteration[-1].shape if iteration and iteration[-1].shape else current
        lists = _loop_lists(op, self.attr_index(cls))
        template = None if lists is None else _loop_template(rendered, lists, flow, state[0])
        if lists is None or template is None or len(op.iterations) < 2 or not lists:
            # The number of steps is written out: the loop's range is fixed.
            self.fixed |= _bound_symbols(op.bounds)
        if lists is None or template is None or len(op.iterations) < 2:
            for body_lines, body_shapes, inner in rendered:
                lines.extend(body_lines)
                shapes.extend(body_shapes)
                flow.var, flow.rank = inner.var, inner.rank
            return
        body_lines, body_shapes = template
        names = _loop_names(lists, self.tensor_names)
        lines.append(_loop_head(lists, names, len(op.iterations)) + ":")
        shapes.append(())
        for line in body_lines:
            for name, var in zip(lists, names, strict=True):
                line = line.replace(f"self.{name}[@]", var)
            lines.append("    " + line)
        shapes.extend(body_shapes)
        flow.rank = rendered[-1][2].rank

    def gather(
        self,
        cls: ir.ClassDef,
        op: ir.Loop,
        lines: list[str],
        shapes: list[ir.Shape],
        depth: int,
        flow: _Flow,
        current: ir.Shape,
    ) -> str:
        """`cat(for ...)`: writes the iterations, each reading the loop's input, and gives
        the expression that merges their outputs: one comprehension or loop over the module
        lists when every iteration reads the same, else the iterations one by one."""
        assert op.merge is not None
        entry = flow.var
        kept = entry in self.protected
        self.protected.add(entry)  # every iteration reads it: none may overwrite it
        start = self.fresh_count
        rendered: list[tuple[list[str], list[ir.Shape], _Flow]] = []
        for index, iteration in zip(op.indices, op.iterations, strict=True):
            self.fresh_count = start  # each iteration names its variables alike
            rendered.append(self.iteration(cls, op, index, iteration, depth, flow, current))
        lists = _loop_lists(op, self.attr_index(cls))
        result = rendered[0][2].var
        template = None
        if lists is not None and len(op.iterations) >= 2:
            template = _loop_template(rendered, lists, flow, result)
        if template is None or not lists or not _joined_follows(op):
            self.fixed |= _bound_symbols(op.bounds)  # the count is written out
        if template is None or lists is None:
            self.fresh_count = start
            results: list[str] = []
            for index, iteration in zip(op.indices, op.iterations, strict=True):
                body_lines, body_shapes, inner = self.iteration(
                    cls, op, index, iteration, depth, flow, current
                )
                lines.extend(body_lines)
                shapes.extend(body_shapes)
                results.append(inner.var)
                self.protected.add(inner.var)  # the later iterations keep it
            self.protected.difference_update(r for r in results if r not in self.tensor_names or r == entry)
            if kept:
                self.protected.add(entry)
            return _merge_expr(replace(op.merge, operands=tuple(results)), entry)
        if not kept:
            self.protected.discard(entry)
        body_lines, body_shapes = template
        names = _loop_names(lists, self.tensor_names)
        head = _loop_head(lists, names, len(op.iterations))

        def items(line: str) -> str:
            for name, var in zip(lists, names, strict=True):
                line = line.replace(f"self.{name}[@]", var)
            return line

        single = len(body_lines) == 1 and body_lines[0].startswith(f"{result} = ")
        if single and not re.search(rf"\b{re.escape(result)}\b", body_lines[0][len(result) + 3 :]):
            return _gather_expr(op.merge, f"[{items(body_lines[0][len(result) + 3 :])} {head}]")
        outs = next(
            n for n in itertools.chain(("branches",), (f"branches{k}" for k in itertools.count(2)))
            if _loop_name_free(n, self.tensor_names, names)
        )
        lines.append(f"{outs} = []")
        lines.append(f"{head}:")
        shapes.extend([(), ()])
        lines.extend("    " + items(line) for line in body_lines)
        shapes.extend(body_shapes)
        lines.append(f"    {outs}.append({result})")
        shapes.append(())
        return _gather_expr(op.merge, outs)

    def iteration(
        self,
        cls: ir.ClassDef,
        op: ir.Loop,
        index: int,
        iteration: tuple[ir.Op, ...],
        depth: int,
        flow: _Flow,
        current: ir.Shape,
    ) -> tuple[list[str], list[ir.Shape], _Flow]:
        """The lines of one iteration of a loop, from the loop's input."""
        body_lines: list[str] = []
        body_shapes: list[ir.Shape] = []
        inner = replace(flow)
        self.pr.env[op.var] = index
        self.forward_ops(cls, iteration, body_lines, body_shapes, depth, inner, current)
        self.pr.env.pop(op.var, None)
        return body_lines, body_shapes, inner

    def enter_4d(
        self, lines: list[str], shapes: list[ir.Shape], shape: ir.Shape, flow: _Flow, swap: bool = True
    ) -> None:
        """Entering 4-D: 2-D convolutions run fastest channels-last on CPU."""
        if self.swap_hw and swap:
            lines.append("x = x.transpose(2, 3)  # length on the last axis: see _Conv2dT")
            shapes.append(())
            flow.swapped = True
            shape = _swap_shape(shape)
        lines.append(f"x = {CHANNELS_LAST}")
        shapes.append(shape)
        flow.converted = True

    def functional(
        self, layer: ir.Layer, cls: ir.ClassDef, flow: _Flow, batch: int = 0, var: str = "x"
    ) -> str:
        """The expression of a step with no module; `batch` is the input's batch axis and
        `var` the input's variable."""
        kind = layer.kind
        if flow.swapped and kind in SPATIAL_2D:
            layer = _swapped(layer)
        if kind in FUNCTIONAL:
            self.uses_functional = self.uses_functional or FUNCTIONAL[kind].startswith("F.")
            args = [var, *_kwargs(layer, self.pr)]
            if kind in DROPOUTS:
                args.append("training=self.training")
            return f"{FUNCTIONAL[kind]}({', '.join(args)})"
        if kind == "flatten":
            return f"torch.flatten({', '.join([var, *_flatten_args(layer, self.pr)])})"
        if kind in ("view", "reshape", "permute"):
            values = layer.get("shape" if kind != "permute" else "dims")
            assert isinstance(values, tuple)
            items = [f"{var}.size({batch})" if v == "batch" else self.pr(v) for v in values]
            method = kind
            if kind == "view" and self.options.channels_last and (flow.converted or cls.is_block):
                # A channels-last tensor is not contiguous: view() could refuse it.
                method = "reshape"
            return f"{var}.{method}({', '.join(items)})"
        if kind == "transpose":
            return f"{var}.transpose({self.pr(layer.get('dim0'))}, {self.pr(layer.get('dim1'))})"
        if kind == "select":
            return f"{var}.select({self.pr(layer.get('dim'))}, {self.pr(layer.get('index'))})"
        if kind == "contiguous":
            if self.options.channels_last and flow.rank == 4:
                return CHANNELS_LAST if var == "x" else var + CHANNELS_LAST[1:]
            return f"{var}.contiguous()"
        if kind == "global_max_pool":
            return f"{var}.amax(dim=-1)"
        added = functional_added(layer, var, self.pr)  # added layers (layers branch)
        if added is not None:
            self.uses_functional = self.uses_functional or added[1]
            return added[0]
        raise AssertionError(f"no functional form for {kind}")  # pragma: no cover


# Layers whose output is a new tensor: after one of them, an in-place layer cannot touch
# the residual's input.
_ALLOCATING = ("conv", "linear", "batchnorm", "maxpool", "avgpool", "lstm", "gru", "embedding", "layernorm")


def _max_norms(cls: ir.ClassDef) -> list[tuple[str, Value]]:
    """The layers of a class with a max-norm constraint: how forward reaches each, and its limit
    (a block's own layers are constrained in the block's forward)."""
    out: list[tuple[str, Value]] = []

    def visit(access: str, module: ir.ModuleExpr) -> None:
        if isinstance(module, ir.Layer):
            limit = module.get("max_norm")
            if limit is not None:
                out.append((access, limit))
        elif isinstance(module, (ir.Sequential, ir.ModuleList)):
            for i, item in enumerate(module.items):
                visit(f"{access}[{i}]", item)

    for attr in cls.attrs:
        visit(f"self.{attr.name}", attr.module)
    return out


def _allocates_first(cls: ir.ClassDef, op: ir.CallAttr) -> bool:
    """Whether the module a step calls makes a new tensor before any in-place layer."""
    attr = cls.attr(op.name)
    stack: list[Any] = [attr.module] if attr is not None else []
    while stack:
        module = stack.pop(0)
        if isinstance(module, ir.AttrRef):
            ref = cls.attr(module.name)
            if ref is None:
                return False
            module = ref.module
        if isinstance(module, ir.Sequential):
            stack = [*module.items, *stack]
            continue
        if not isinstance(module, ir.Layer):
            return False
        if module.kind.startswith(_ALLOCATING):
            return True
        if module.get("inplace"):
            return False
    return False


def _merge_expr(op: ir.Merge, current: str) -> str:
    names = [current if name == "" else name for name in op.operands]
    if op.kind in ("cat", "stack"):
        return f"torch.{op.kind}([{', '.join(names)}], dim={op.dim})"
    if op.kind == "add":
        return " + ".join(names)
    if op.kind == "mul":
        return " * ".join(names)
    if op.kind == "matmul":
        return f"torch.matmul({names[0]}, {names[1]})"
    if op.kind == "mean":
        return f"({' + '.join(names)}) / {len(names)}"
    text = names[0]
    for name in names[1:]:
        text = f"torch.maximum({text}, {name})"
    return text


# A loop's outputs, stacked on a new first axis, reduced element-wise.
_REDUCE = {"add": "sum", "mul": "prod", "mean": "mean", "max": "amax"}


def _joined_follows(op: ir.Loop) -> bool:
    """Whether the size a gather loop joins into follows its range() (`4 * n` channels)."""
    assert op.merge is not None
    if op.merge.kind not in ("cat", "stack") or not isinstance(op.merge.dim, int) or not op.shape:
        return True
    size = op.shape[op.merge.dim].size
    wanted = _bound_symbols(op.bounds)
    return not wanted or (isinstance(size, SymInt) and wanted <= size.root.symbols())


def _gather_expr(merge: ir.Merge, items: str) -> str:
    """The merge of a list of tensors: `torch.cat([...], dim=1)`, `torch.stack(outs).sum(dim=0)`."""
    if merge.kind in ("cat", "stack"):
        return f"torch.{merge.kind}({items}, dim={merge.dim})"
    return f"torch.stack({items}).{_REDUCE[merge.kind]}(dim=0)"


def _tensor_names(cls: ir.ClassDef) -> set[str]:
    names = set(cls.inputs)
    names.update(op.name for op in ir.walk(cls.forward) if isinstance(op, ir.Store))
    return names


def _read_names(cls: ir.ClassDef) -> set[str]:
    """Tensors read by name (not only by continuing a chain): their variables stay."""
    names = set(cls.outputs)
    for op in ir.walk(cls.forward):
        if isinstance(op, ir.Load):
            names.add(op.name)
        elif isinstance(op, ir.Merge):
            names.update(n for n in op.operands if n)
    return names


def _loop_lists(op: ir.Loop, attrs: dict[str, ir.Attr]) -> list[str] | None:
    """The module lists a loop's iterations index, if each iteration k calls item k of each
    list once and the lists have one item per iteration (the loop can then iterate over
    them); else None."""
    lists: list[str] | None = None
    for k, iteration in enumerate(op.iterations):
        calls = [o for o in ir.walk(iteration) if isinstance(o, ir.CallAttr) and o.index is not None]
        names = [c.name for c in calls]
        if len(set(names)) != len(names) or any(c.index != k for c in calls):
            return None
        if lists is None:
            lists = names
        elif names != lists:
            return None
    for name in lists or []:
        attr = attrs.get(name)
        module = attr.module if attr is not None else None
        if not isinstance(module, ir.ModuleList) or len(module.items) != len(op.iterations):
            return None  # e.g. an inner loop of a nested pair: its list spans every outer turn
    return lists or []


def _loop_template(
    rendered: list[tuple[list[str], list[ir.Shape], _Flow]],
    lists: list[str],
    flow: _Flow,
    entry_var: str,
) -> tuple[list[str], list[ir.Shape]] | None:
    """One body for every iteration, with `self.<list>[@]` for the indexed items."""
    template: list[str] | None = None
    template_shapes: list[ir.Shape] = []
    for k, (lines, shapes, inner) in enumerate(rendered):
        if inner.var != entry_var:
            return None  # the loop must carry its tensor in one variable
        body = list(lines)
        for name in lists:
            body = [line.replace(f"self.{name}[{k}]", f"self.{name}[@]") for line in body]
        if any(re.search(r"self\.\w+\[\d+\]", line) for line in body):
            return None
        if template is None:
            template, template_shapes = body, list(shapes)
        elif body != template:
            return None
        else:
            template_shapes = [
                a if a == b else () for a, b in zip(template_shapes, shapes, strict=True)
            ]
    if template is None:
        return None
    return template, template_shapes


_EMITTER_VARS = re.compile(r"(h|identity)[0-9]*")  # fresh variables and residual inputs


def _loop_head(lists: list[str], names: list[str], count: int) -> str:
    """`for conv in self.convs`, over several lists with zip, or `for _ in range(n)`."""
    if not lists:
        return f"for _ in range({count})"
    if len(lists) == 1:
        return f"for {names[0]} in self.{lists[0]}"
    return f"for {', '.join(names)} in zip({', '.join(f'self.{n}' for n in lists)})"


def _loop_name_free(name: str, taken: set[str], chosen: list[str]) -> bool:
    """Whether a loop variable may be called `name`: not a keyword, builtin or name the
    module uses (`torch`, `nn`, `F`, ...), no tensor and none of the emitter's variables."""
    return not (
        keyword.iskeyword(name)
        or name in BUILTIN_NAMES
        or name in GENERATED_GLOBALS
        or name in GENERATED_LOCALS
        or name in taken
        or name in chosen
        or _EMITTER_VARS.fullmatch(name)
    )


def _loop_names(lists: list[str], taken: set[str]) -> list[str]:
    """`for conv in self.convs`: each list's item variable, from the list's name."""
    names: list[str] = []
    for name in lists:
        base = name[:-1] if name.endswith("s") and len(name) > 1 else f"{name}_item"
        candidates = itertools.chain((base, f"{base}_item"), (f"{base}_item{n}" for n in itertools.count(2)))
        names.append(next(c for c in candidates if _loop_name_free(c, taken, names)))
    return names


def _is_default(layer: ir.Layer, name: str, value: Value, text: Any = literal) -> bool:
    spec = lookup(layer.kind)
    assert spec is not None
    pspec = spec.param(name)
    if text is not literal and text(value) != literal(value):
        return False  # follows a parameter: its default value is a coincidence
    return pspec is not None and pspec.default == value and type(pspec.default) is value_kind(value)


def _kwargs(layer: ir.Layer, text: Any = literal) -> list[str]:
    spec = lookup(layer.kind)
    assert spec is not None
    out = []
    for name, value in layer.args:
        if name in (spec.size_in, spec.size_out) or name in ARCHC_ONLY:
            continue
        if _is_default(layer, name, value, text) and name not in layer.explicit:
            continue
        out.append(f"{name}={text(value)}")
    return out


def _param_text(name: str, value: Value, has_default: bool = True, default: Value = None) -> str:
    """A constructor argument with its type and default: `classes: int = 50`."""
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, int):
        kind = "int"
    elif isinstance(value, float):
        kind = "float"
    elif isinstance(value, str):
        kind = "str"
    elif isinstance(value, tuple):
        kind = "tuple"
    else:
        kind = "object"
    if not has_default:
        return f"{name}: {kind}"
    if default is not None:
        value = default
    shown = literal(plain(value) if isinstance(value, SymInt) else value)
    return f"{name}: {kind} = {shown}"


def _fixed_checks(arch: ir.Architecture, fixed: set[str] | frozenset[str]) -> list[str]:
    """Parameters the module's structure was built for: other values are refused."""
    lines = []
    for name, value in arch.params:
        if name not in fixed:
            continue
        shown = literal(plain(value) if isinstance(value, SymInt) else value)
        given = Code(f"{name}!r")
        first = message(f"{name}=", given, f": this module was generated for {name}={shown}, which ")
        lines += [
            f"if {name} != {shown}:",
            "    raise ValueError(",
            f"        {first}",
            f"        {message(f'fixes its structure; compile the .arch with --set {name}=VALUE')}",
            "    )",
        ]
    return lines


def _bound_symbols(bounds: tuple[Value, ...]) -> set[str]:
    return {n for b in bounds if isinstance(b, SymInt) for n in b.root.symbols()}


def _flatten_args(layer: ir.Layer, text: Any = literal) -> list[str]:
    start, end = layer.get("start_dim"), layer.get("end_dim")
    if end != -1:
        return [text(start), text(end)]
    return [text(start)]


def layer_module(layer: ir.Layer, swap_hw: bool = False, text: Any = literal) -> str:
    """The constructor call of a layer's module form, e.g. `nn.Conv1d(4, 320, kernel_size=8)`.

    With `swap_hw` the module runs on height-width swapped input: a 2-D pool gets its
    parameters exchanged, a 2-D convolution keeps them (and its weights) and becomes
    `_Conv2dT`, which reads its weight transposed.
    """
    spec = lookup(layer.kind)
    assert spec is not None
    if spec.torch_class is None:
        return _helper_module(layer, text)
    cls = f"nn.{spec.torch_class}"
    if swap_hw and layer.kind == "conv2d":
        cls = "_Conv2dT"
    elif swap_hw and layer.kind in SPATIAL_2D:
        layer = _swapped(layer)
    args = [text(layer.get(n)) for n in (spec.size_in, spec.size_out) if n is not None]
    return f"{cls}({', '.join([*args, *_kwargs(layer, text)])})"


# The module the generated file defines for each SEQ_STEPS kind (templates/torch_module.py.jinja).
HELPER_CLASSES = {
    "permute": "_Permute",
    "transpose": "_Transpose",
    "mean": "_Mean",
    "max": "_Amax",
    "global_avg_pool": "_Mean",
    "global_max_pool": "_Amax",
}
assert HELPER_CLASSES.keys() == SEQ_STEPS


def _helper_module(layer: ir.Layer, text: Any) -> str:
    """A tensor operation as a module of the generated file, e.g. `_Permute(0, 2, 1)`."""
    cls = HELPER_CLASSES[layer.kind]
    if layer.kind == "permute":
        dims = layer.get("dims")
        assert isinstance(dims, tuple)
        return f"{cls}({', '.join(text(d) for d in dims)})"
    if layer.kind == "transpose":
        return f"{cls}({text(layer.get('dim0'))}, {text(layer.get('dim1'))})"
    if layer.kind in ("global_avg_pool", "global_max_pool"):
        return f"{cls}(-1)"
    keep = ", keepdim=True" if layer.get("keepdim") else ""
    return f"{cls}({text(layer.get('dim'))}{keep})"


def _merge_shapes(instances: list[list[ir.Shape]]) -> list[str]:
    """Shape comments for a class used at several sizes: differing axes show their name,
    differing ranks every shape seen."""
    merged = []
    for step in zip(*instances, strict=True):
        first = step[0]
        if not first or not all(step):
            merged.append("")  # an instance that does not know its shape here: no comment
            continue
        if len({len(s) for s in step}) > 1:
            # Instances of different rank share the class: name each shape it sees.
            shown = list(dict.fromkeys(ir.show_shape(s) for s in step))
            merged.append(" or ".join(shown))
            continue
        dims = []
        for i, dim in enumerate(first):
            sizes = {s[i].size for s in step}
            dims.append(dim.show() if len(sizes) == 1 else dim.label)
        merged.append("(" + ", ".join(dims) + ")")
    return merged


def _inputs_text(arch: ir.Architecture) -> str:
    return ", ".join(ir.input_texts(arch))


def _outputs_text(arch: ir.Architecture) -> str:
    return ", ".join(ir.output_texts(arch))


def _io_lines(arch: ir.Architecture) -> list[str]:
    """The header's input and output lines, wrapped for black's line length."""
    text = f"Input {_inputs_text(arch)} -> output {_outputs_text(arch)}"
    if len(text) + 2 <= LINE_LENGTH:
        return [text]
    inputs, outputs = ir.input_texts(arch), ir.output_texts(arch)
    lines: list[str] = []
    labels = ("Inputs:" if len(inputs) > 1 else "Input:", "Outputs:" if len(outputs) > 1 else "Output:")
    for label, items in zip(labels, (inputs, outputs), strict=True):
        line = label
        for k, item in enumerate(items):
            piece = item + ("," if k < len(items) - 1 else "")
            if len(line) + 1 + len(piece) + 2 > LINE_LENGTH and line.strip() != label:
                lines.append(line)
                line = " "
            line = f"{line} {piece}"
        lines.append(line)
    return lines


def _class_doc(arch: ir.Architecture) -> str:
    """One line: the shapes for a single input and output (as always), or when they fit;
    else the names of the inputs and outputs."""
    cls = arch.cls
    doc = f"Architecture `{arch.name}`: input {_inputs_text(arch)}, output {_outputs_text(arch)}."
    if (len(cls.inputs) <= 1 and len(cls.outputs) <= 1) or len(doc) + 11 <= LINE_LENGTH:
        return doc
    inputs = ", ".join(cls.inputs) if len(cls.inputs) > 1 else _inputs_text(arch)
    outputs = ", ".join(cls.outputs) if len(cls.outputs) > 1 else ir.show_shape(cls.out_shape)
    doc = f"Architecture `{arch.name}`: inputs {inputs}; outputs {outputs} (shapes above)."
    return doc if len(doc) + 11 <= LINE_LENGTH else f"Architecture `{arch.name}` (shapes above)."


def _with_comments(lines: list[str], comments: list[str]) -> list[str]:
    return [f"{line}  # {comment(c)}" if c else line for line, c in zip(lines, comments, strict=True)]


def _top_methods(emitter: _Emitter, top: _ClassCode) -> list[list[str]]:
    """The methods the options add to the architecture's class."""
    methods: list[list[str]] = []
    options = emitter.options
    if options.channels_last and emitter.swap_hw:
        methods.append(
            [
                "def to_channels_last(self) -> nn.Module:",
                "    # Inputs are converted in forward(). The (k, 1) convolutions read their weights",
                "    # transposed (_Conv2dT), where the default layout measured faster: kept as is.",
                "    return self",
            ]
        )
    elif options.channels_last:
        methods.append(
            [
                "def to_channels_last(self) -> nn.Module:",
                "    # Inputs are converted in forward(); this stores 4-D weights the same way.",
                "    return self.to(memory_format=torch.channels_last)",
            ]
        )
    if options.fold_batchnorm:
        folding = [c.name for c in [*emitter.classes, top] if c.folds]
        body = [
            "def fold_batchnorm(self) -> nn.Module:",
            "    # For inference: load the trained weights first, then fold. The module",
            "    # then has no batchnorm left and refuses to go back to training mode.",
            "    if not self._folded:",
            "        self.eval()",
        ]
        if folding:
            kinds = folding[0] if len(folding) == 1 else f"({', '.join(folding)})"
            body += [
                "        for module in list(self.modules()):",
                f"            if isinstance(module, {kinds}):",
                "                module._fold_batchnorm()",
            ]
        body += ["        self._folded = True", "    return self"]
        methods.append(body)
        methods.append(
            [
                "def train(self, mode: bool = True) -> nn.Module:",
                "    if mode and self._folded:",
                '        raise RuntimeError("batchnorm was folded into this module for inference")',
                "    return super().train(mode)",
            ]
        )
    return methods


@lru_cache(maxsize=1)
def _template() -> Any:
    from importlib import resources

    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("archc.templates").joinpath(name).read_text(encoding="utf-8")
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,  # the output is Python: user text goes through the filters below
    )
    # Every piece of user text in the template passes one of these (compiler/pysafe.py).
    env.filters["comment"] = comment
    env.filters["docstring"] = docstring
    return env.get_template("torch_module.py.jinja")


class EmitError(ValueError):
    """The module cannot be emitted as asked (a class name that cannot work)."""


def _block_names(cls: ir.ClassDef) -> set[str]:
    """The names of every block class used anywhere inside `cls` (without recursion)."""
    names: set[str] = set()
    stack: list[Any] = [*(a.module for a in cls.attrs)]
    while stack:
        module = stack.pop()
        if isinstance(module, (ir.Sequential, ir.ModuleList)):
            stack.extend(module.items)
        elif isinstance(module, ir.BlockRef):
            names.add(module.cls.name)
            stack.extend(a.module for a in module.cls.attrs)
    return names


def render_python(
    arch: ir.Architecture,
    source_name: str,
    class_name: str = "TorchModel",
    options: EmitOptions | None = None,
) -> str:
    """The module source before formatting."""
    options = options or EmitOptions()
    problem = class_name_problem(class_name)
    if problem is not None:
        raise EmitError(f"`{class_name}` cannot name the module class: {problem}")
    blocks = _block_names(arch.cls)
    if class_name in blocks:
        raise EmitError(
            f"the module class `{class_name}` would have the name of block `{class_name}`; "
            f"choose another class name, e.g. {suggest_name(class_name, blocks)}"
        )
    em = _Emitter(options, swap_hw=options.channels_last and _length_on_width(arch))
    em.reserved = {*blocks, class_name}
    em.uses_functional = em.swap_hw  # _Conv2dT calls F.conv2d
    em.pr = _Printer(concrete=options.concrete)
    if arch.fits:
        em.fits_note = f": at the other defaults, length must be {arch.fits}"
    top, top_shapes = em.class_code(arch.cls, class_name)
    if not options.concrete:
        top.init_signature = ", ".join(_param_text(k, v) for k, v in arch.params)
        top.init = [*_fixed_checks(arch, arch.fixed | em.fixed), *top.init]
    for key, code in em.by_key.items():
        code.forward = [*code.reads, *_with_comments(code.forward, _merge_shapes(em.shapes_by_key[key]))]
    top.forward = _with_comments(top.forward, [ir.show_shape(s) if s else "" for s in top_shapes])
    top.methods = [*top.methods, *_top_methods(em, top)]
    if options.fold_batchnorm:
        top.init.append("self._folded = False  # set by fold_batchnorm()")
    top.doc = _class_doc(arch)
    imports = ["import torch"]
    if em.uses_functional:
        imports.append("import torch.nn.functional as F")
    imports.append("from torch import nn")
    flags = []
    if options.channels_last:
        flags.append("--memory-format channels_last")
    if options.fold_batchnorm:
        flags.append("--fold-batchnorm")
    if options.concrete:
        flags.append("--concrete")
    return str(
        _template().render(
            source=source_name,
            arch=arch.name,
            params=", ".join(f"{k}={literal(v)}" for k, v in arch.params) or "none",
            io_lines=_io_lines(arch),
            imports=imports,
            metadata=_meta_repr(arch.meta) if arch.meta else "",
            variant=" ".join(flags),
            fold_helper=options.fold_batchnorm,
            conv_t_helper=em.swap_hw,
            seq_helpers=sorted(em.helpers),
            classes=[*em.classes, top],
        )
    )


# ------------------------------------------------------------------ formatting

# A physical line black leaves alone: short, no strings, no trailing-comma or comment tricks.
_SETTLED_CODE = re.compile(r" *[A-Za-z_@][^'\"\\#;\t]*?(  # [^\t\\]*)?")
_SETTLED_DOC = re.compile(r' *"""[^"\\\s]([^"\\]*[^"\\\s])?"""')
_SETTLED_COMMENT = re.compile(r" *# [^\t\\]*")
_MAGIC_COMMA = re.compile(r",\s*[)\]}]")


# The constructor's checks: `raise ValueError(` a line, then one plain string literal (too
# long for black to join the three lines), then `)`.
_SETTLED_STRING = re.compile(r' *f?"[^"\\]*"')
_SETTLED_CLOSE = re.compile(r" *\)")


def _settled(line: str) -> bool:
    if not line:
        return True
    if _SETTLED_STRING.fullmatch(line) or _SETTLED_CLOSE.fullmatch(line):
        return True  # black never splits a string, however long
    if line != line.rstrip():
        return False
    if _SETTLED_DOC.fullmatch(line) or _SETTLED_COMMENT.fullmatch(line):
        return True  # black never rewraps a one-line docstring or a comment
    code = line.split("  # ", 1)[0]
    if len(line) > LINE_LENGTH or _MAGIC_COMMA.search(code) or "  " in code.strip():
        return False
    return _SETTLED_CODE.fullmatch(line) is not None


_DEF = re.compile(r"( *)(def [A-Za-z_][A-Za-z0-9_]*)\((.*)\)( -> [A-Za-z_.\[\], ]+)?:")


def _split_def(line: str) -> str | None:
    """black's split of a long `def name(args) -> T:` line, else None (left to black)."""
    match = _DEF.fullmatch(line)
    if match is None:
        return None
    indent, head, body, returns = match.groups()
    returns = returns or ""
    if any(ch in body for ch in "'\"\\#"):
        return None
    args = _top_level_args(body)
    if not args or "" in args:
        return None
    inner = indent + "    "
    if len(inner) + len(body) <= LINE_LENGTH:
        return f"{indent}{head}(\n{inner}{body}\n{indent}){returns}:\n"
    if any(len(inner) + len(arg) + 1 > LINE_LENGTH for arg in args):
        return None
    return f"{indent}{head}(\n" + "".join(f"{inner}{arg},\n" for arg in args) + f"{indent}){returns}:\n"


_CALL_STATEMENT = re.compile(r"( *)([A-Za-z_][A-Za-z0-9_.]* = [A-Za-z_][A-Za-z0-9_.]*)\((.*)\)")


def _top_level_args(body: str) -> list[str] | None:
    """Split call arguments at the commas outside brackets; None if the brackets are off."""
    args, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                return None
        elif ch == "," and depth == 0:
            args.append(body[start:i].strip())
            start = i + 1
    if depth != 0:
        return None
    args.append(body[start:].strip())
    return args


def _split_call(line: str) -> str | None:
    """black's split of `name = callee(args)` when the arguments fit one a line, else None.

    black puts the arguments on one indented line if they fit there, otherwise one
    per line with a trailing comma. Anything with strings, comments or an argument
    that would itself need splitting is left to black.
    """
    match = _CALL_STATEMENT.fullmatch(line)
    if match is None:
        return None
    indent, head, body = match.groups()
    if any(ch in body for ch in "'\"\\#"):
        return None
    args = _top_level_args(body)
    if not args or "" in args or len(indent) + len(head) + 1 > LINE_LENGTH:
        return None
    inner = indent + "    "
    if len(inner) + len(body) <= LINE_LENGTH:
        return f"{indent}{head}(\n{inner}{body}\n{indent})\n"
    if any(len(inner) + len(arg) + 1 > LINE_LENGTH for arg in args):
        return None
    return f"{indent}{head}(\n" + "".join(f"{inner}{arg},\n" for arg in args) + f"{indent})\n"


@lru_cache(maxsize=4096)
def _black_statement(statement: str, indent: int) -> str:
    """black's output for one simple statement standing at `indent` spaces."""
    import black

    mode = black.Mode(line_length=LINE_LENGTH - indent)
    formatted = black.format_str(statement, mode=mode)
    pad = " " * indent
    return "".join(pad + line if line.strip() else line for line in formatted.splitlines(True))


def _simple_statement(text: str) -> bool:
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:
        return False
    simple = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Return, ast.Raise)
    return len(tree.body) == 1 and isinstance(tree.body[0], simple)


def format_python(code: str, fast: bool = True) -> str:
    """black-format generated code (black is imported only here, when emitting).

    The result is black's output for the whole file. With `fast`, lines black would
    leave unchanged are kept as they are, long `name = call(...)` lines are split the
    way black splits them, and only the other simple statements go through black,
    each at its indentation: the cost grows with the lines that need formatting, not
    with the file. Anything else falls back to black on the whole file.
    """
    if fast:
        out: list[str] = []
        for line in code.split("\n"):
            if _settled(line):
                out.append(line + "\n")
                continue
            split = _split_call(line) or _split_def(line)
            if split is not None:
                out.append(split)
                continue
            stripped = line.lstrip(" ")
            if not _simple_statement(stripped):
                break
            out.append(_black_statement(stripped, len(line) - len(stripped)))
        else:
            text = "".join(out)
            return text[:-1]  # split() gave one more piece than there were newlines
    import black

    return black.format_str(code, mode=black.Mode(line_length=LINE_LENGTH))


def emit(
    arch: ir.Architecture,
    source_name: str,
    class_name: str = "TorchModel",
    options: EmitOptions | None = None,
) -> str:
    """The final, formatted module source."""
    return format_python(render_python(arch, source_name, class_name, options))
