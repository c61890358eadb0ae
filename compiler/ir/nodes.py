"""The intermediate representation: resolved layers, module classes and forward steps.

`resolve` builds it from the syntax tree with every value computed; `shapes`
returns the checked form, the same classes with inferred sizes and shapes filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from ..core.source import NO_SPAN, Span
from ..core.values import Value


@dataclass(frozen=True, slots=True)
class Dim:
    """One axis of a tensor: its size (None for the batch), meaning and provenance."""

    size: int | None
    label: str
    why: str = ""  # how the size came about, e.g. "200 channels x 18 positions after layer3"
    origin: Span | None = None  # the step whose output set the size
    varies: bool = False  # the size follows the input length
    origin_note: str = ""  # what to say at `origin`, when not "<size> <label> set here"

    def show(self) -> str:
        return "N" if self.size is None else str(self.size)


Shape = tuple[Dim, ...]


def show_shape(shape: Shape) -> str:
    return "(" + ", ".join(d.show() for d in shape) + ")"


def show_axes(shape: Shape) -> str:
    return "(" + ", ".join(d.label for d in shape) + ")"


@dataclass(frozen=True, slots=True)
class Layer:
    """One layer: its kind, its arguments by PyTorch name, and where it was written."""

    kind: str
    args: tuple[tuple[str, Value], ...]
    span: Span
    arg_spans: tuple[tuple[str, Span], ...] = ()
    explicit: frozenset[str] = frozenset()
    comment: str = ""  # filled by shape checking: the derivation of an inferred size
    # Filled by shape checking: written input sizes that depend on the parameters through the
    # input (param name, the inferred symbolic size); the generic class checks them.
    pinned: tuple[tuple[str, Value], ...] = ()

    def get(self, name: str, default: Value = None) -> Value:
        for key, value in self.args:
            if key == name:
                return value
        return default

    def arg_span(self, name: str) -> Span:
        for key, span in self.arg_spans:
            if key == name:
                return span
        return self.span

    def with_arg(self, name: str, value: Value) -> Layer:
        args = tuple((k, value if k == name else v) for k, v in self.args)
        if all(k != name for k, _ in self.args):
            args = (*args, (name, value))
        return Layer(self.kind, args, self.span, self.arg_spans, self.explicit, self.comment, self.pinned)


@dataclass(frozen=True, slots=True)
class AttrRef:
    """A module registered earlier under this attribute name (an alias)."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Sequential:
    items: tuple[SeqItem, ...]
    span: Span
    shapes: tuple[Shape, ...] = ()  # filled by checking: the output shape of each item


@dataclass(frozen=True, slots=True)
class BlockRef:
    """An instance of a block: a module class of its own."""

    cls: ClassDef
    span: Span
    # Set by checking when the instance is called at several input shapes: `cls` then
    # holds the sizes of one call only, and the emitter must not print them as the rule.
    varies: bool = False
    calls: tuple[ClassDef, ...] = ()  # the checked class of every later call at another shape
    args: tuple[tuple[str, Value], ...] = ()  # the block's arguments, in the caller's terms
    # Set by checking: input sizes the class takes as constructor arguments (`in_channels`).
    dim_args: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, slots=True)
class ModuleList:
    """`nn.ModuleList`: the layers one name takes in the iterations of a loop; with `keys`,
    an `nn.ModuleDict` of the entries `name.key` (called by position, like a list's items)."""

    items: tuple[ModuleExpr, ...]
    span: Span
    var: str = ""  # the loop that made the items: its index, and its range() bounds
    bounds: tuple[Value, ...] = ()
    keys: tuple[str, ...] | None = None

    def key(self, index: int) -> str:
        """An item's name in the state_dict: its position, or its key in a dict."""
        return str(index) if self.keys is None else self.keys[index]

    def item_name(self, name: str, index: int) -> str:
        """How users see one item: `convs[2]`, or `heads.profile` in a dict."""
        return f"{name}[{index}]" if self.keys is None else f"{name}.{self.keys[index]}"


ModuleExpr = Union[Layer, Sequential, BlockRef, AttrRef, ModuleList]
SeqItem = ModuleExpr


@dataclass(frozen=True, slots=True)
class Attr:
    """`self.<name> = <module>` in the constructor."""

    name: str
    module: ModuleExpr
    span: Span


@dataclass(frozen=True, slots=True)
class CallAttr:
    """`x = self.<name>(x)`, or `self.<name>[index](x)` for an item of a loop's list."""

    name: str
    span: Span
    shape: Shape = ()
    index: int | None = None


@dataclass(frozen=True, slots=True)
class Functional:
    """A step with no module: `x = F.relu(x)`, `x = x.reshape(...)`."""

    layer: Layer
    span: Span
    shape: Shape = ()


@dataclass(frozen=True, slots=True)
class Residual:
    """`x = body(x) + x`, or `body(x) + shortcut(x)` when the shortcut has steps."""

    body: tuple[Op, ...]
    span: Span
    shape: Shape = ()
    shortcut: tuple[Op, ...] = ()
    has_shortcut: bool = False  # written with `shortcut { ... }` (possibly empty)


@dataclass(frozen=True, slots=True)
class Load:
    """The next steps read the named tensor (an input or one named with `:=`)."""

    name: str
    span: Span
    shape: Shape = ()


@dataclass(frozen=True, slots=True)
class Store:
    """`name := ...`: the current tensor gets a name, to be read later."""

    name: str
    span: Span
    shape: Shape = ()


MERGES = ("cat", "stack", "add", "mul", "mean", "max", "matmul")


@dataclass(frozen=True, slots=True)
class Merge:
    """Several tensors into one: concatenation, stacking, an element-wise add, product,
    mean or maximum, or the matrix product of two. An operand "" is the current tensor."""

    kind: str
    operands: tuple[str, ...]
    operand_spans: tuple[Span, ...]
    span: Span
    dim: int | str | None = None  # cat and stack: an axis index or an axis name
    shape: Shape = ()


@dataclass(frozen=True, slots=True)
class Loop:
    """`for i in range(...)`: the body once per index, unrolled; named layers in the body
    are items of module lists (`CallAttr.index`). Each iteration continues from the one
    before, or, with `merge`, starts from the loop's input."""

    var: str
    indices: tuple[int, ...]
    iterations: tuple[tuple[Op, ...], ...]
    span: Span
    shape: Shape = ()
    bounds: tuple[Value, ...] = ()  # range()'s arguments
    # `cat(for ...)`: every iteration runs on the loop's input, and this merges their outputs.
    merge: Merge | None = None


Op = Union[CallAttr, Functional, Residual, Load, Store, Merge, Loop]


@dataclass(frozen=True, slots=True)
class ClassDef:
    """A module class: the architecture itself or one instance of a block."""

    name: str
    attrs: tuple[Attr, ...]
    forward: tuple[Op, ...]
    span: Span
    is_block: bool = False
    params: tuple[tuple[str, Value], ...] = ()
    in_shape: Shape = ()
    out_shape: Shape = ()
    inputs: tuple[str, ...] = ("x",)  # forward's arguments; the first is the starting tensor
    outputs: tuple[str, ...] = ()  # returned tensors in order; () returns the current one
    output_keys: tuple[str, ...] | None = None  # a dict return: the key of each output
    out_shapes: tuple[Shape, ...] = ()  # filled by checking: the shape of every output
    param_defaults: tuple[tuple[str, Value], ...] = ()  # a block's constant defaults
    # Attributes by name: every forward step looks its module up, so a scan would be quadratic.
    _by_name: dict[str, Attr] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {a.name: a for a in self.attrs})

    def attr(self, name: str) -> Attr | None:
        return self._by_name.get(name)


def input_texts(arch: Architecture) -> list[str]:
    """Each input as shown to users: `(N, 4, 1000) (batch, channels, length)`, with its name
    when there are several."""
    first = f"{show_shape(arch.input_shape)} {show_axes(arch.input_shape)}"
    if not arch.extra_inputs:
        return [first]
    name = arch.cls.inputs[0] if arch.cls.inputs else "x"
    return [f"{name} {first}", *(f"{n} {show_shape(s)} {show_axes(s)}" for n, s, _ in arch.extra_inputs)]


def output_texts(arch: Architecture) -> list[str]:
    """Each output as shown to users: its shape, with its name when there are several."""
    cls = arch.cls
    if cls.output_keys is not None:
        return [f"{k} {show_shape(s)}" for k, s in zip(cls.output_keys, cls.out_shapes, strict=True)]
    if len(cls.outputs) <= 1:
        return [show_shape(cls.out_shape)]
    return [f"{n} {show_shape(s)}" for n, s in zip(cls.outputs, cls.out_shapes, strict=True)]


@dataclass(frozen=True)
class Architecture:
    """One `arch` with its parameters bound: the unit that compiles to one module."""

    name: str
    params: tuple[tuple[str, Value], ...]
    cls: ClassDef
    input_shape: Shape
    meta: dict[str, Any] = field(default_factory=dict)
    span: Span = NO_SPAN
    input_span: Span | None = None
    # Every input after the first, with its shape and where it is declared.
    extra_inputs: tuple[tuple[str, Shape, Span], ...] = ()
    # Parameters the generic module cannot follow (see Resolver.fixed).
    fixed: frozenset[str] = frozenset()
    # Set for emission when a written size pins the input length: the lengths that fit.
    fits: str = ""


def nested(op: Op) -> tuple[tuple[Op, ...], ...]:
    """The op sequences inside a step: a residual's body and shortcut, a loop's iterations."""
    if isinstance(op, Residual):
        return (op.body, op.shortcut)
    if isinstance(op, Loop):
        return op.iterations
    return ()


def walk(ops: tuple[Op, ...]) -> list[Op]:
    """Every op, nested ones included, in order (an explicit stack: no recursion)."""
    out: list[Op] = []
    stack: list[Op] = list(reversed(ops))
    while stack:
        op = stack.pop()
        out.append(op)
        for inner in reversed(nested(op)):
            stack.extend(reversed(inner))
    return out
