"""The values a statically read PyTorch file computes with: numbers, modules, tensors.

Nothing here runs user code: `torch_import_eval` builds these values by walking the
file's `ast`, and `torch_import` turns them into an archc syntax tree.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Union

from ..core.source import Source, Span
from ..syntax import tree as s


class Unsupported(Exception):
    """A construct the importer cannot lift faithfully; becomes an error diagnostic."""

    def __init__(self, code: str, message: str, span: Span, help: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.span = span
        self.help = help


class SpanMap:
    """Character spans of ast nodes (ast columns count UTF-8 bytes, spans count characters)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        # Sibling files read after the input: (first offset, file); their text follows in `source`.
        self.parts: list[tuple[int, Source]] = []

    def offset(self, line: int, col_bytes: int) -> int:
        start = self.source.offset(line, 1)
        end = self.source.text.find("\n", start)
        text = self.source.text[start : end if end >= 0 else len(self.source.text)]
        if not text.isascii():
            col_bytes = len(text.encode("utf-8")[:col_bytes].decode("utf-8", errors="replace"))
        return self.source.offset(line, col_bytes + 1)

    def of(self, node: ast.AST) -> Span:
        line = getattr(node, "lineno", None)
        if line is None:
            return Span(0, 0)
        start = self.offset(line, getattr(node, "col_offset", 0))
        end_line = getattr(node, "end_lineno", None) or line
        end_col = getattr(node, "end_col_offset", None)
        end = self.offset(end_line, end_col) if end_col is not None else start
        return Span(start, max(start, end))


# ------------------------------------------------------------------ plain values


@dataclass(frozen=True)
class Const:
    """A Python value known statically: int, float, bool, str or None."""

    value: int | float | bool | str | None
    # How the value follows the model's constructor arguments (`n_hidden * 2`), when it does:
    # written into the .arch so the layers it sizes follow `--set n_hidden=...`.
    expr: s.Expr | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Sym:
    """A number that depends on a block's constructor parameters, as a DSL expression."""

    expr: s.Expr


@dataclass(frozen=True)
class TupleV:
    """A tuple, or a list literal read as a value."""

    items: tuple[Val, ...]


@dataclass(eq=False)
class ListV:
    """A list built up in the constructor (`layers = []; layers.append(...)`)."""

    items: list[Val] = field(default_factory=list)


@dataclass(eq=False)
class DictV:
    """A dict with string keys read as a value (`{"kernel_size": 3}`, `dict(stride=2)`)."""

    items: dict[str, Val] = field(default_factory=dict)
    ordered: bool = False  # a collections.OrderedDict (what nn.Sequential takes named children in)
    spans: dict[str, Span] = field(default_factory=dict)  # where an OrderedDict's entries are written
    namespace: bool = False  # `SimpleNamespace(filters=20)`: its entries are read as attributes


@dataclass(frozen=True)
class ArgObject:
    """A constructor argument of the model read field by field: an argparse namespace or config
    object (`args.dropout`), a dict (`conv_kwargs.get("k", 3)`, `**conv_kwargs`) or `**kwargs`.

    Each field read becomes the architecture parameter `prefix + field` (`args_dropout`; the
    field's own name for `**kwargs`), so `--set args_dropout=0.3` gives it a value.
    """

    arg: str  # the argument's name
    prefix: str  # "args_"; "" for **kwargs
    is_dict: bool
    known: tuple[tuple[str, Val], ...] = ()  # a dict default's entries
    exclude: frozenset[str] = frozenset()  # the constructor's named arguments (for **kwargs)


@dataclass(frozen=True)
class AxisSize:
    """`x.size(2)`, `x.shape[-1]`: a size of an axis other than the batch, known only once shapes
    are checked. Usable as the window of a pool over that whole axis (`F.max_pool1d(x, x.size(2))`)."""

    tensor_ids: tuple[int, ...]
    dim: int
    span: Span
    rank: int = 0  # the rank an unpacking (`b, c, l = x.shape`) claims; 0 when none does


@dataclass(frozen=True)
class AxisProduct:
    """`x.size(1) * x.size(2)`: the product of sizes of axes of one tensor (a view merging them)."""

    sizes: tuple[AxisSize, ...]
    span: Span


@dataclass(frozen=True)
class AxisOffset:
    """`x.shape[-1] - 10`: an axis size plus a number (the stop of a crop's slice)."""

    size: AxisSize
    offset: Val  # a whole number, or a Sym or Const that follows a constructor argument
    span: Span


@dataclass(frozen=True)
class DrySize:
    """A size measured by running part of the model on a dummy input in the constructor
    (`self.conv(torch.zeros(1, 4, L)).numel()`): left for shape inference to give."""

    span: Span


@dataclass(frozen=True)
class LambdaV:
    """`lambda x: ...`: usable only as the function a Lambda-style helper module applies."""

    node: ast.Lambda
    globals: dict[str, Val] = field(compare=False)


@dataclass(eq=False)
class ModuleRef:
    """A sibling file of the input's package imported as a module (`from . import utils`)."""

    names: dict[str, Val]
    shown: str  # its path as shown


@dataclass(frozen=True)
class Namespace:
    """A dotted name from an import, e.g. `torch.nn` or `torch.nn.functional.relu`."""

    qualname: str


@dataclass(frozen=True)
class ClassRef:
    """An nn.Module subclass defined in the file (a block when instantiated)."""

    name: str


@dataclass(frozen=True)
class FuncRef:
    """A function of the file, or a method bound to the module being built."""

    node: ast.FunctionDef
    bound: SelfV | None = None
    closure: dict[str, Val] | None = field(default=None, compare=False)  # a def inside a def: its names


@dataclass(frozen=True)
class BuiltinRef:
    name: str


@dataclass(eq=False)
class SelfV:
    """`self`: the module being built, with its attributes in assignment order."""

    cls_name: str
    attrs: dict[str, Val] = field(default_factory=dict)
    in_forward: bool = False


@dataclass(frozen=True)
class SuperV:
    """`super()`: only `super().__init__()` is meaningful (it runs a local base's constructor)."""

    cls: str | None = None  # the class whose method calls super()
    self_v: SelfV | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Opaque:
    """A value that exists but is not usable (LSTM states, `_`); using it is an error."""

    what: str
    span: Span


@dataclass(frozen=True)
class Batch:
    """The batch size: `x.size(0)` or `x.shape[0]`."""


@dataclass(frozen=True)
class Training:
    """`self.training` inside forward."""


@dataclass(frozen=True)
class Method:
    """A method looked up on a value, e.g. `x.view` or `layers.append`."""

    target: Val
    name: str
    span: Span


# ------------------------------------------------------------------ modules


@dataclass(eq=False)
class LayerNode:
    """`nn.Conv1d(...)` etc.: a catalogue layer kind with its arguments by PyTorch name."""

    kind: str
    args: dict[str, tuple[Val, Span]]
    span: Span
    name_span: Span
    torch_name: str


@dataclass(eq=False)
class SeqNode:
    """`nn.Sequential(...)`."""

    items: list[ModNode]
    span: Span


@dataclass(eq=False)
class BlockNode:
    """An instance of a helper nn.Module class of the file."""

    cls_name: str
    args: tuple[tuple[str | None, Val, Span], ...]
    span: Span
    name_span: Span


ModNode = Union[LayerNode, SeqNode, BlockNode]


@dataclass(eq=False)
class ModListV:
    """`nn.ModuleList([ELT for VAR in range(...)])`: one module per index; the items' arguments
    follow VAR (`dilation=2 ** i` stays `2 ** i`). A list built otherwise (`nn.ModuleList()`
    and `append` in a loop, or from a Python list) has no `var`: the loop that made its items
    is found from them (RangeLoop)."""

    items: list[ModNode]
    var: str
    range_args: tuple[Val, ...]
    span: Span


@dataclass(frozen=True)
class RangeLoop:
    """`for VAR in range(...)` in a constructor that appends modules: VAR is bound to marked
    values (`mark_name`), so the arguments of the modules made in it say how they follow VAR."""

    var: str
    range_args: tuple[Val, ...]
    values: tuple[int, ...]
    span: Span


LOOP_MARK = "\x00"  # never in a Python or DSL name: a marked loop index is never written as such


def mark_name(var: str, loop: int, pos: int) -> str:
    return f"{var}{LOOP_MARK}{loop}{LOOP_MARK}{pos}"


def read_mark(name: str) -> tuple[int, int] | None:
    """(loop, position) of a marked loop index's name."""
    if LOOP_MARK not in name:
        return None
    _, loop, pos = name.split(LOOP_MARK)
    return int(loop), int(pos)


@dataclass(frozen=True)
class ModV:
    node: ModNode


# ------------------------------------------------------------------ forward steps


@dataclass(frozen=True)
class FCall:
    """`self.<name>(x)`; with `index`, item `index` of the module list `self.<name>`."""

    name: str
    span: Span
    index: int | None = None
    key: str | None = None  # an entry of the module dict `self.<name>`
    by_position: bool = False  # an item called outside a loop over its list (a branch)


@dataclass(frozen=True)
class FLayer:
    """A step without a module of its own: `F.relu(x)`, `x.view(...)`, `nn.ReLU()(x)`.

    `args` are (DSL name or None for positional, value, span); `view` and friends
    take their values positionally.
    """

    kind: str
    args: tuple[tuple[str | None, Val, Span], ...]
    span: Span


@dataclass(frozen=True)
class FMax:
    """`torch.max(x, dim=d)[0]`: becomes global_max_pool once the rank is known."""

    dim: int
    span: Span


@dataclass(frozen=True)
class FResidual:
    body: tuple[FOp, ...]
    span: Span
    shortcut: tuple[FOp, ...] | None = None  # `a + b` of two branches: body(x) + shortcut(x)


@dataclass(frozen=True)
class FMerge:
    """Branches from one tensor joined (`torch.cat([a, b], dim=1)`) or returned together."""

    kind: str  # "cat", "stack" or "return"
    branches: tuple[tuple[FOp, ...], ...]
    names: tuple[str | None, ...]  # the Python variables the branches were assigned to
    dim: int | None
    span: Span
    fork: str | None = None  # the Python variable of the tensor the branches start from
    keys: tuple[str, ...] | None = None  # a returned dict: the key of each branch


@dataclass(frozen=True)
class FLoop:
    """`for m in self.<name>: x = ...m(x)...`: the steps of each iteration, in order; over a
    slice (`self.<name>[1:]`), `indices` are the items it runs over."""

    name: str
    iterations: tuple[tuple[FOp, ...], ...]
    span: Span
    indices: tuple[int, ...] | None = None


@dataclass(frozen=True, eq=False)
class FInput:
    """The start of a branch read from another forward argument: `def forward(self, x, tracks)`.
    It only ever stands first in a branch of a merge (or of what forward returns)."""

    name: str  # the Python argument
    span: Span


FOp = Union[FCall, FLayer, FMax, FResidual, FMerge, FLoop, FInput]


@dataclass(frozen=True)
class Tensor:
    """A tensor in forward: the steps from the input, with an identity per intermediate value."""

    ops: tuple[FOp, ...]
    ids: tuple[int, ...]


@dataclass(frozen=True)
class LstmStates:
    """The `(h, c)` an nn.LSTM call returns, or the `h` of an nn.GRU (or `h` or `c` alone):
    `h[-1]` and the like are read from its output sequence, which holds them."""

    out: Tensor  # the LSTM's output sequence
    layer: LayerNode
    which: str  # "hc", "h" or "c"


@dataclass(frozen=True)
class Pair:
    """What LSTM calls and torch.max return: a tensor and something unusable."""

    first: Val
    second: Val
    second_name: str = ""  # "indices" for torch.max


@dataclass(frozen=True)
class ModDictV:
    """`nn.ModuleDict({...})`: modules by key, in order; forward calls them by key."""

    items: dict[str, ModNode]
    span: Span


@dataclass(frozen=True)
class RawParam:
    """`nn.Parameter(torch.empty(out, in, k))` in a helper module that is one functional layer
    (`F.conv1d(x, self.weight, self.bias)`): the weight's shape, as written."""

    shape: tuple[Val, ...]
    span: Span


Val = Union[
    Const, Sym, TupleV, ListV, DictV, ArgObject, ModuleRef, LambdaV, DrySize, AxisSize, AxisProduct,
    AxisOffset, Namespace, ClassRef, FuncRef, BuiltinRef, SelfV, SuperV, Opaque, Batch, Training, Method,
    ModV, Tensor, Pair, ModListV, ModDictV, RawParam, LstmStates,
]


def describe(v: Val) -> str:
    """A short user-facing name of a value's kind."""
    if isinstance(v, Const):
        return "None" if v.value is None else type(v.value).__name__
    if isinstance(v, ModV):
        if isinstance(v.node, LayerNode):
            return f"nn.{v.node.torch_name} module"
        return "nn.Sequential" if isinstance(v.node, SeqNode) else f"{v.node.cls_name} module"
    names = {
        Sym: "number computed from a block parameter", TupleV: "tuple", ListV: "list", DictV: "dict",
        Namespace: "module or function", ClassRef: "class", FuncRef: "function",
        BuiltinRef: "built-in function", SelfV: "self", SuperV: "super()", Batch: "batch size",
        Training: "self.training", Method: "method", Tensor: "tensor", Pair: "tuple",
        ModListV: "nn.ModuleList", ModDictV: "nn.ModuleDict",
        ModuleRef: "module of the package", LambdaV: "lambda",
        DrySize: "size measured by a dry run", AxisSize: "size of an axis other than the batch",
        AxisProduct: "product of axis sizes", AxisOffset: "axis size plus a number",
        RawParam: "raw parameter (nn.Parameter)", LstmStates: "LSTM state",
    }
    if isinstance(v, Opaque):
        return v.what
    if isinstance(v, ArgObject):
        return f"the constructor argument `{v.arg}` (read field by field)"
    return names.get(type(v), type(v).__name__)
