"""Read a PyTorch model file statically: walk its `ast`, never import or run it.

`Interp` follows the constructor of an nn.Module subclass to learn which modules it
registers (and with which sizes), and its `forward` to learn the order they run in.
Module-level constants, local variables, integer arithmetic, `math.floor`, helper
methods and helper functions are followed; anything else stops with `Unsupported`.
"""

from __future__ import annotations

import ast
import contextlib
import keyword
import math
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..core.pysafe import OUTPUT_KEY
from ..core.source import NO_SPAN, Source, Span
from ..core.values import Value
from ..ir.layers import REQUIRED, lookup
from ..syntax import tree as s
from .torch_import_package import MAX_DEPTH as MAX_IMPORT_DEPTH
from .torch_import_package import MAX_FILES, Found, Package
from .torch_import_values import (
    ArgObject,
    AxisOffset,
    AxisProduct,
    AxisSize,
    Batch,
    BlockNode,
    BuiltinRef,
    ClassRef,
    Const,
    DictV,
    DrySize,
    FCall,
    FInput,
    FLayer,
    FLoop,
    FMax,
    FMerge,
    FOp,
    FResidual,
    FuncRef,
    LambdaV,
    LayerNode,
    ListV,
    LstmStates,
    Method,
    ModDictV,
    ModListV,
    ModNode,
    ModuleRef,
    ModV,
    Namespace,
    Opaque,
    Pair,
    RangeLoop,
    RawParam,
    SelfV,
    SeqNode,
    SpanMap,
    SuperV,
    Sym,
    Tensor,
    Training,
    TupleV,
    Unsupported,
    Val,
    describe,
    mark_name,
    read_mark,
)

# nn classes archc knows: DSL kind, and PyTorch's positional parameter order.
_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
         "bias", "padding_mode")
_BN = ("num_features", "eps", "momentum", "affine", "track_running_stats")
_MAXPOOL = ("kernel_size", "stride", "padding", "dilation", "return_indices", "ceil_mode")
_AVGPOOL = ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad")
TORCH_LAYERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Conv1d": ("conv1d", _CONV),
    "Conv2d": ("conv2d", _CONV),
    "BatchNorm1d": ("batchnorm1d", _BN),
    "BatchNorm2d": ("batchnorm2d", _BN),
    "MaxPool1d": ("maxpool1d", _MAXPOOL),
    "MaxPool2d": ("maxpool2d", _MAXPOOL),
    "AvgPool1d": ("avgpool1d", _AVGPOOL),
    "AvgPool2d": ("avgpool2d", (*_AVGPOOL, "divisor_override")),
    "AdaptiveMaxPool1d": ("adaptivemaxpool1d", ("output_size", "return_indices")),
    "Linear": ("linear", ("in_features", "out_features", "bias")),
    "LSTM": ("lstm", ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                      "bidirectional", "proj_size")),
    "GRU": ("gru", ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                    "bidirectional")),
    "ReLU": ("relu", ("inplace",)),
    "Sigmoid": ("sigmoid", ()),
    "Tanh": ("tanh", ()),
    "Softmax": ("softmax", ("dim",)),
    "LogSoftmax": ("log_softmax", ("dim",)),
    "Dropout": ("dropout", ("p", "inplace")),
    "Flatten": ("flatten", ("start_dim", "end_dim")),
    "GELU": ("gelu", ("approximate",)),
    "SiLU": ("silu", ("inplace",)),
    "ELU": ("elu", ("alpha", "inplace")),
    "LeakyReLU": ("leakyrelu", ("negative_slope", "inplace")),
    "Softplus": ("softplus", ("beta", "threshold")),
    "Identity": ("identity", ()),
    "SELU": ("selu", ("inplace",)),
    "CELU": ("celu", ("alpha", "inplace")),
    "ReLU6": ("relu6", ("inplace",)),
    "Hardtanh": ("hardtanh", ("min_val", "max_val", "inplace")),
    "Mish": ("mish", ("inplace",)),
    "Softsign": ("softsign", ()),
    "LogSigmoid": ("logsigmoid", ()),
    "Hardswish": ("hardswish", ("inplace",)),
    "Hardsigmoid": ("hardsigmoid", ("inplace",)),
    "Dropout1d": ("dropout1d", ("p", "inplace")),
    "Dropout2d": ("dropout2d", ("p", "inplace")),
    "LayerNorm": ("layernorm", ("normalized_shape", "eps", "elementwise_affine", "bias", "device", "dtype")),
    "GroupNorm": ("groupnorm", ("num_groups", "num_channels", "eps", "affine", "device", "dtype")),
    "Embedding": ("embedding", ("num_embeddings", "embedding_dim", "padding_idx", "max_norm", "norm_type",
                                "scale_grad_by_freq", "sparse", "_weight", "_freeze")),
    "ConvTranspose1d": ("convtranspose1d", ("in_channels", "out_channels", "kernel_size", "stride",
                                            "padding", "output_padding", "groups", "bias", "dilation")),
    "Upsample": ("upsample", ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")),
    "AdaptiveAvgPool1d": ("adaptiveavgpool1d", ("output_size",)),
    "AdaptiveAvgPool2d": ("adaptiveavgpool2d", ("output_size",)),
    "AdaptiveMaxPool2d": ("adaptivemaxpool2d", ("output_size", "return_indices")),
    "BatchNorm3d": ("batchnorm3d", _BN),
    "ConvTranspose2d": ("convtranspose2d", ("in_channels", "out_channels", "kernel_size", "stride",
                                            "padding", "output_padding", "groups", "bias", "dilation")),
    "ConstantPad1d": ("constantpad1d", ("padding", "value")),
    "ConstantPad2d": ("constantpad2d", ("padding", "value")),
    # nn.ZeroPad1d/2d are constant pads with value 0 (the value is filled in below)
    "ZeroPad1d": ("constantpad1d", ("padding",)),
    "ZeroPad2d": ("constantpad2d", ("padding",)),
    "TransformerEncoderLayer": ("transformerencoderlayer", (
        "d_model", "nhead", "dim_feedforward", "dropout", "activation", "layer_norm_eps", "batch_first",
        "norm_first", "bias", "device", "dtype")),
}
# Arguments that only say whether to overwrite the input: archc's step is not in-place, which
# gives the same outputs when the input is not used again; inplace=True is refused.
NOT_INPLACE = frozenset({"silu", "elu", "leakyrelu"})
# PyTorch arguments archc has no use for: accepted only at these (default) values.
DROPPABLE: dict[str, object] = {
    "return_indices": False, "proj_size": 0, "divisor_override": None, "device": None,
    "dtype": None, "_stacklevel": 3, "max_norm": None, "norm_type": 2.0, "scale_grad_by_freq": False,
    "sparse": False, "_weight": None, "_freeze": False, "recompute_scale_factor": None,
}
# Functional forms: torch.nn.functional name -> DSL kind and the parameters after the input.
FUNCTIONAL: dict[str, tuple[str, tuple[str, ...]]] = {
    "relu": ("relu", ("inplace",)),
    "sigmoid": ("sigmoid", ()),
    "tanh": ("tanh", ()),
    "softmax": ("softmax", ("dim", "_stacklevel", "dtype")),
    "log_softmax": ("log_softmax", ("dim", "_stacklevel", "dtype")),
    "max_pool1d": ("maxpool1d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                                 "return_indices")),
    "max_pool2d": ("maxpool2d", ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                                 "return_indices")),
    "avg_pool1d": ("avgpool1d", _AVGPOOL),
    "avg_pool2d": ("avgpool2d", (*_AVGPOOL, "divisor_override")),
    "adaptive_max_pool1d": ("adaptivemaxpool1d", ("output_size", "return_indices")),
    "adaptive_avg_pool1d": ("adaptiveavgpool1d", ("output_size",)),
    "gelu": ("gelu", ("approximate",)),
    "silu": ("silu", ("inplace",)),
    "elu": ("elu", ("alpha", "inplace")),
    "leaky_relu": ("leakyrelu", ("negative_slope", "inplace")),
    "softplus": ("softplus", ("beta", "threshold")),
    "selu": ("selu", ("inplace",)),
    "celu": ("celu", ("alpha", "inplace")),
    "relu6": ("relu6", ("inplace",)),
    "hardtanh": ("hardtanh", ("min_val", "max_val", "inplace")),
    "mish": ("mish", ("inplace",)),
    "softsign": ("softsign", ()),
    "logsigmoid": ("logsigmoid", ()),
    "hardswish": ("hardswish", ("inplace",)),
    "hardsigmoid": ("hardsigmoid", ("inplace",)),
}
# The parameter written positionally in the DSL (the others become keywords).
MAIN_PARAM = {"kernel_size", "p", "output_size"}
# Tensor methods and torch functions that mean one DSL step.
_ACTIVATIONS = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "exp": "exp", "log": "log"}
# torch functions that are tensor methods too.
_TENSOR_FUNCS = ("max", "amax", "transpose", "permute", "reshape", "flip", "mean", "sum", "unsqueeze",
                 "squeeze", "exp", "log")
_JOINS = {"cat", "concat", "concatenate", "stack", "hstack", "vstack", "add", "mul", "matmul", "bmm",
          "einsum"}
BUILTINS = frozenset({"range", "int", "float", "len", "max", "min", "abs", "round", "sum", "list",
                      "tuple", "super", "print", "bool", "setattr", "getattr", "hasattr", "dict", "zip",
                      "enumerate", "reversed", "isinstance"})
# torch calls made for their effect on the process, never on the model.
_TORCH_EFFECTS = frozenset({
    "torch.manual_seed", "torch.seed", "torch.set_num_threads", "torch.set_default_dtype",
    "torch.set_printoptions", "torch.use_deterministic_algorithms", "torch.set_grad_enabled",
    "torch.autograd.set_detect_anomaly", "torch.set_float32_matmul_precision",
})
# Constructor arguments that cannot become architecture parameters of the same name.
RESERVED_PARAMS = frozenset({"length", "alphabet", "batch", "arch", "block", "seq", "residual",
                             "shortcut", "input", "let", "meta", "true", "false", "none", "for",
                             "in", "range", "if", "else", "return"})
_RAW_PARAMETERS = frozenset({"torch.nn.Parameter", "torch.nn.parameter.Parameter", "torch.Parameter"})
_MODULE_API = {
    "register_buffer": "registered buffers (register_buffer) are not supported yet",
    "register_parameter": "raw parameters (register_parameter) are not supported yet",
}
# Steps a Lambda helper module's lambda may be (it becomes that step as a module).
_LAMBDA_STEPS = frozenset({"view", "reshape", "flatten", "transpose", "permute", "relu", "sigmoid", "tanh",
                           "softmax", "log_softmax", "gelu", "silu", "elu", "leakyrelu", "softplus", "exp",
                           "log"})
# A helper module whose forward is one of these calls on its own nn.Parameter weight is that layer.
_RAW_LAYERS = {
    "torch.nn.functional.conv1d": "Conv1d", "torch.conv1d": "Conv1d",
    "torch.nn.functional.conv2d": "Conv2d", "torch.conv2d": "Conv2d",
    "torch.nn.functional.linear": "Linear",
}
_RAW_CALL_PARAMS = {
    "Conv1d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "Conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "Linear": ("input", "weight", "bias"),
}
_RAW_RANK = {"Conv1d": 3, "Conv2d": 4, "Linear": 2}
_RAW_CTORS = frozenset({"torch.empty", "torch.zeros", "torch.ones", "torch.randn", "torch.rand",
                        "torch.Tensor", "torch.FloatTensor"})
_FREEZE_NOTE = ("freezing parameters (requires_grad) is training state, not kept: the lifted module "
                "trains every weight unless the training code freezes it")
_NO_GRAD = frozenset({"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad"})
_DUMMIES = frozenset({"zeros", "ones", "randn", "rand", "empty"})
MAX_STEPS = 200_000
MAX_DEPTH = 40
MAX_INT = 10**30


class _Return(Exception):
    def __init__(self, value: Val, node: ast.AST) -> None:
        super().__init__("return")
        self.value = value
        self.node = node


@dataclass
class Frame:
    """Local variables of one function being followed."""

    names: dict[str, Val]
    self_v: SelfV | None
    depth: int = 0
    cls: str | None = None  # the class that defines the function (for super())
    globals: dict[str, Val] | None = None  # its file's names (None: the input file's)


@dataclass
class Lifted:
    """One nn.Module class of the file, as modules and forward steps."""

    py_name: str
    node: ast.ClassDef
    is_block: bool
    params: tuple[s.Param, ...] = ()
    attrs: dict[str, ModNode] = field(default_factory=dict)
    lists: dict[str, ModListV] = field(default_factory=dict)  # nn.ModuleList attributes
    dicts: dict[str, ModDictV] = field(default_factory=dict)  # nn.ModuleDict attributes
    forward: tuple[FOp, ...] = ()
    input_span: Span = NO_SPAN
    # forward's required arguments after the first (`def forward(self, x, tracks)`), in order.
    extra_inputs: tuple[FInput, ...] = ()
    # The steps forward took before a construct archc cannot lift (lint still checks them).
    partial: bool = False


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# math functions of a number archc computes when lifting (the result is written as its value).
_FLOAT_MATH: dict[str, Callable[[float], float]] = {
    "sqrt": math.sqrt, "log": math.log, "exp": math.exp, "log2": math.log2, "log10": math.log10,
}


class Interp:
    """Follows one file's classes; every value comes from the file's text, nothing is executed."""

    def __init__(self, tree: ast.Module, spans: SpanMap, package: Package | None = None) -> None:
        self.tree = tree
        self.spans = spans
        self.globals: dict[str, Val] = {}
        self.classes: dict[str, ast.ClassDef] = {}
        self.main_classes: list[str] = []  # the input file's own classes (one is the model)
        # Sibling files of the input's package: their names, the files their nodes come from
        # (nodes of the input itself are not listed), and where their text starts in the
        # offsets the spans use (after the input's text: see Source.parts).
        self.package = package
        self.files: dict[Path, dict[str, Val]] = {}
        self.homes: dict[int, dict[str, Val]] = {}
        self.lifted: dict[str, Lifted] = {}
        self.lifting: list[str] = []
        self.steps = 0
        self.ids = 0
        self.notes: list[str] = []  # header lines: bases read as nn.Module
        # Constructor arguments of the model whose names a layer takes: their parameter names.
        self.renames: dict[str, str] = {}
        self.block_renames: dict[str, dict[str, str]] = {}  # the same, per helper class
        # Helpers that branch on a constructor argument (`if batch_norm:`) are lifted once per
        # value of those arguments: the arguments each class fixes, the value each variant
        # was lifted at, and the parameters the last undecidable condition read.
        self.fixed_args: dict[str, frozenset[str]] = {}
        self.variant_values: dict[str, dict[str, Val]] = {}
        self.variant_names: dict[tuple[str, str], str] = {}
        self.sym_condition: set[str] = set()
        self.unnamed: set[str] = set()  # blocks of named nn.Sequentials not yet assigned to self
        self.synthetic: set[str] = set()  # every block made for a named nn.Sequential
        self.tensor_names: dict[int, str] = {}  # a forward tensor's id -> its Python variable
        self.current_item: dict[int, tuple[str, int]] = {}  # module-list item -> (list, index)
        # Slices of module lists (`self.layers[1:]`): the list they are of, and its items' indices.
        self.list_views: dict[int, tuple[ModListV, tuple[int, ...]]] = {}
        self.keep: list[object] = []
        # Numbers of list arguments (`kernel_sizes=(9, 15, 21)`) -> the argument's name.
        self.list_args: dict[tuple[Value, ...], str] = {}
        self.owner: dict[int, str] = {}  # id of a method's FunctionDef -> its class
        # --set values for the model class, and the parameters its object arguments' fields become.
        self.given: dict[str, Val] = {}
        self.consumed: set[str] = set()  # --set lists read by the constructor (no DSL parameter)
        self.floats: set[str] = set()  # parameters whose values are floats
        self.flatten_pins: dict[Span, int] = {}  # Lambda reshapes to (batch, N), lifted as flatten
        # crops whose stop counts from the end of the input: span -> (input axis, the slice shown)
        self.input_crops: dict[Span, tuple[int, str]] = {}
        self.unfollowed: set[str] = set()  # parameters a size written as its number came from
        self.field_params: dict[str, s.Param] = {}
        self.parser_defaults = _argparse_defaults(tree)  # `--name` options the file declares, by dest
        self.option_fields: dict[str, dict[str, Const]] = {}  # fields read at those defaults
        # The model's forward cut where it stopped being liftable: its steps so far.
        self.last_top: Tensor | None = None
        self.top_start = -1
        # Dummy inputs built in a constructor to measure sizes (`torch.zeros(1, 4, L)`): by
        # the id they start from, their shape and where they are written.
        self.dry: dict[int, tuple[tuple[int, ...], Span]] = {}
        self.dry_used: list[Span] = []  # layer input sizes a dry run gave
        self.forwarding = False  # following a forward (no dry runs there)
        self.in_loop = 0  # inside a loop over a ModuleList (its body's steps are no forward of their own)
        self.raw_mode = 0  # following the constructor of a helper that is one functional layer
        self.partial: Lifted | None = None
        # Constructor loops `for i in range(...)` that append modules: their index is marked,
        # each module made in one remembers (loop, position), and `loop_at` says how the builder
        # writes a marked index (unset: as its number).
        self.range_loops: list[RangeLoop] = []
        self.loop_stack: list[tuple[int, int]] = []
        self.origin: dict[ModNode, tuple[int, int]] = {}
        self.loop_at: dict[int, tuple[str, int]] = {}  # loop -> (DSL index name, item position)
        here = package.start if package is not None else None
        self.module_scan(tree, self.globals, here, 0)
        self.main_classes = [n for n in self.classes if self.home(self.classes[n]) is self.globals]

    # ------------------------------------------------------------ helpers

    def span(self, node: ast.AST) -> Span:
        return self.spans.of(node)

    def fail(self, message: str, node: ast.AST | Span, help: str | None = None,
             code: str = "unsupported") -> Unsupported:
        span = node if isinstance(node, Span) else self.span(node)
        return Unsupported(code, message, span, help)

    def tick(self, node: ast.AST) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise self.fail("this file needs more computation than archc follows statically", node)

    def fresh(self) -> int:
        self.ids += 1
        return self.ids

    # ------------------------------------------------------------ module level

    def home(self, node: ast.AST) -> dict[str, Val]:
        """The names of the file a node comes from."""
        return self.homes.get(id(node), self.globals)

    def names_of(self, frame: Frame) -> dict[str, Val]:
        return frame.globals if frame.globals is not None else self.globals

    def module_scan(self, tree: ast.Module, names: dict[str, Val], here: Path | None, depth: int) -> None:
        """Imports, classes, functions and constants of a file, in order (nothing runs)."""
        frame = Frame({}, None, globals=names)
        for stmt in tree.body:
            if isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        names[alias.asname] = Namespace(alias.name)
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = Namespace(top)
            elif isinstance(stmt, ast.ImportFrom):
                if self.import_local(stmt, names, here, depth):
                    continue
                if stmt.level or not stmt.module:
                    for alias in stmt.names:
                        names[alias.asname or alias.name] = Opaque(
                            f"`{alias.asname or alias.name}` (a relative import)", self.span(stmt)
                        )
                    continue
                for alias in stmt.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = Namespace(f"{stmt.module}.{alias.name}")
            elif isinstance(stmt, ast.ClassDef):
                if stmt.name in self.classes and self.classes[stmt.name] is not stmt:
                    raise self.fail(f"class `{stmt.name}` is defined in two files of the package; archc "
                                    "needs class names that are unique across the files it reads", stmt)
                self.classes[stmt.name] = stmt
                names[stmt.name] = ClassRef(stmt.name)
                for item in stmt.body:
                    if isinstance(item, ast.FunctionDef):
                        self.owner[id(item)] = stmt.name
            elif isinstance(stmt, ast.FunctionDef):
                names[stmt.name] = FuncRef(stmt)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                try:
                    self.exec_stmt(stmt, frame)
                except (Unsupported, RecursionError):
                    for name in _assigned_names(stmt):
                        frame.names[name] = Opaque(f"`{name}` (not a constant archc can read)",
                                                   self.span(stmt))
                names.update(frame.names)
                frame.names.clear()

    def import_local(self, stmt: ast.ImportFrom, names: dict[str, Val], here: Path | None,
                     depth: int) -> bool:
        """`from .layers import Block`, `from . import utils`, `from mypkg.x import y`: read the
        sibling file (never import it). False when the import is not of the input's package."""
        if self.package is None or here is None:
            return False
        found = self.package.find(here, stmt.level, stmt.module)
        if found is None:
            return False
        if stmt.module is None:
            # `from . import utils`: each name is a module of the package (its directory's file,
            # with or without an __init__.py).
            for alias in stmt.names:
                sub = self.package.find(here, stmt.level, alias.name)
                shown = alias.asname or alias.name
                if isinstance(sub, Found):
                    names[shown] = ModuleRef(self.read_file(sub, stmt, depth), sub.shown)
                elif isinstance(found, Found):
                    raise self.fail(f"cannot read `{alias.name}` of this import: {sub}", stmt)
                else:
                    names[shown] = Opaque(f"`{shown}` (its helper module cannot be read: {sub})",
                                          self.span(stmt))
            return True
        if isinstance(found, str):
            # Only a name the model uses matters (a loss or a training helper often is not): each
            # is an error where it is used, naming the file that is missing.
            for alias in stmt.names:
                shown = alias.asname or alias.name
                names[shown] = Opaque(f"`{shown}` (its helper module cannot be read: {found})",
                                      self.span(stmt))
            return True
        module = self.read_file(found, stmt, depth)
        for alias in stmt.names:
            if alias.name == "*":
                names.update({k: v for k, v in module.items() if not k.startswith("_")})
                continue
            if alias.name in module:
                names[alias.asname or alias.name] = module[alias.name]
                continue
            sub = self.package.find(found.path.parent, 1, alias.name) if found.path.name == (
                "__init__.py") else None
            if isinstance(sub, Found):
                names[alias.asname or alias.name] = ModuleRef(self.read_file(sub, stmt, depth), sub.shown)
                continue
            names[alias.asname or alias.name] = Opaque(
                f"`{alias.asname or alias.name}` (not defined in {found.shown})", self.span(stmt))
        return True

    def read_file(self, found: Found, stmt: ast.stmt, depth: int) -> dict[str, Val]:
        """A sibling file's names, reading it the first time (its nodes get offsets after the text
        read so far, so their spans point into it)."""
        if found.path in self.files:
            return self.files[found.path]  # read already (or being read: an import cycle)
        if self.package is not None and found.path == self.package.input:
            return self.globals  # a helper importing from the model's own file
        if depth + 1 > MAX_IMPORT_DEPTH:
            raise self.fail(f"helper modules import each other more than {MAX_IMPORT_DEPTH} files deep",
                            stmt)
        if len(self.files) >= MAX_FILES:
            raise self.fail(f"the model needs more than {MAX_FILES} helper files", stmt)
        text = self.package.read(found) if self.package is not None else "no package"
        if isinstance(text, str):
            raise self.fail(f"cannot read the helper module of this import: {text}", stmt)
        combined = self.spans.source.text
        start = len(combined) + 1
        lines_before = combined.count("\n") + 1
        self.spans.source = Source(self.spans.source.path, combined + "\n" + text.text)
        self.spans.parts.append((start, text))
        names: dict[str, Val] = {}
        self.files[found.path] = names
        try:
            tree = ast.parse(text.text, filename=found.shown)
        except SyntaxError as err:
            line = (err.lineno or 1) + lines_before
            offset = self.spans.source.offset(line, err.offset or 1)
            raise self.fail(f"this is not valid Python: {err.msg}", Span(offset, offset + 1),
                            code="syntax") from None
        except (ValueError, MemoryError, RecursionError) as err:
            raise self.fail(f"cannot read {found.shown}: {err}", stmt) from None
        ast.increment_lineno(tree, lines_before)
        for node in ast.walk(tree):
            self.homes[id(node)] = names
        self.module_scan(tree, names, found.path.parent, depth + 1)
        return names

    def module_classes(self) -> list[str]:
        """The nn.Module subclasses of the input file, in order."""
        return [name for name in self.main_classes if self.is_module_class(name)]

    def is_module_class(self, name: str) -> bool:
        """An nn.Module subclass, directly or through a local base; or a class of an unknown
        package's base (pl.LightningModule, transformers.PreTrainedModel) with its own
        constructor and forward."""
        node = self.classes[name]
        if any(self.is_module_base(b) for b in node.bases):
            return True
        return any(self.foreign_base(b) for b in node.bases) and all(
            self.find_method(name, m) is not None for m in ("__init__", "forward"))

    def foreign_base(self, base: ast.expr) -> bool:
        """A base imported from a package archc does not know (not torch, not local)."""
        try:
            value = self.eval(base, Frame({}, None, globals=self.home(base)))
        except (Unsupported, RecursionError):
            return False
        return isinstance(value, Namespace) and value.qualname.split(".")[0] not in ("torch", "builtins")

    def local_base(self, name: str) -> str | None:
        """The local module class `name` derives from, if any."""
        for base in self.classes[name].bases:
            try:
                value = self.eval(base, Frame({}, None, globals=self.home(base)))
            except (Unsupported, RecursionError):
                continue
            if isinstance(value, ClassRef) and value.name in self.classes and value.name != name:
                return value.name
        return None

    def find_method(self, name: str, method: str) -> ast.FunctionDef | None:
        """A method of the class or of its local bases (the first that defines it)."""
        seen: set[str] = set()
        cls: str | None = name
        while cls is not None and cls not in seen:
            seen.add(cls)
            found = _method(self.classes[cls], method)
            if found is not None:
                return found
            cls = self.local_base(cls)
        return None

    def is_module_base(self, base: ast.expr, seen: frozenset[str] = frozenset()) -> bool:
        try:
            value = self.eval(base, Frame({}, None, globals=self.home(base)))
        except (Unsupported, RecursionError):
            return False
        if isinstance(value, Namespace):
            return value.qualname in ("torch.nn.Module", "torch.nn.modules.module.Module")
        if isinstance(value, ClassRef) and value.name in self.classes and value.name not in seen:
            inner = seen | {value.name}
            return any(self.is_module_base(b, inner) for b in self.classes[value.name].bases)
        return False

    def uses(self, name: str) -> set[str]:
        """Module classes whose source mentions `name` (to find the top class)."""
        out = set()
        for other, node in self.classes.items():
            if other != name and any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)):
                out.add(other)
        return out

    # ------------------------------------------------------------ classes

    def lift(self, name: str, top: bool, given: dict[str, Val] | None = None) -> Lifted:
        """Follow a class's constructor and forward."""
        if not top and name in self.lifted:
            return self.lifted[name]
        node = self.classes[name]
        if name in self.lifting:
            raise self.fail(f"class `{name}` builds an instance of itself", node)
        for base in node.bases:
            value = self.eval(base, Frame({}, None, globals=self.home(base)))
            if isinstance(value, Namespace) and value.qualname.startswith("torch.") and (
                value.qualname.endswith("Module")
            ):
                continue
            if isinstance(value, ClassRef) and value.name in self.classes and self.is_module_class(
                value.name
            ):
                continue
            if self.foreign_base(base) and self.is_module_class(name):
                note = (f"base {ast.unparse(base)} of `{name}`: read as nn.Module (archc lifts the "
                        "class's own __init__ and forward)")
                if note not in self.notes:
                    self.notes.append(note)
                continue
            raise self.fail(
                f"class `{name}` inherits from `{ast.unparse(base)}`; archc lifts classes that "
                "subclass nn.Module (directly or through a class of this file)",
                base,
            )
        for method_name in ("__init__", "forward"):
            item = self.find_method(name, method_name)
            if item is not None and item.decorator_list:
                raise self.fail(f"a decorated `{item.name}` is not supported", item.decorator_list[0])
        self.lifting.append(name)
        try:
            lifted = Lifted(name, node, not top)
            self_v = SelfV(name)
            for cls in reversed(self.base_chain(name)):
                self.class_constants(self.classes[cls], self_v)
            if top:
                self.given = dict(given or {})
                self.field_params = {}
                self.option_fields = {}
            init = self.find_method(name, "__init__")
            if init is not None:
                frame = Frame({}, self_v, cls=self.owner.get(id(init)), globals=self.home(init))
                lifted.params = self.bind_ctor(init, frame, top, given or {})
                with contextlib.suppress(_Return):
                    self.exec_body(init.body, frame)
            forward = self.find_method(name, "forward")
            if forward is None:
                raise self.fail(f"class `{name}` has no forward method", node)
            lifted.attrs = {k: v.node for k, v in self_v.attrs.items() if isinstance(v, ModV)}
            lifted.lists = {k: v for k, v in self_v.attrs.items() if isinstance(v, ModListV)}
            lifted.dicts = {k: v for k, v in self_v.attrs.items() if isinstance(v, ModDictV)}
            try:
                lifted.forward, lifted.input_span, lifted.extra_inputs = self.lift_forward(forward, self_v)
            except Unsupported:
                last = self.last_top
                if top and last is not None and len(forward.args.args) >= 2:
                    lifted.attrs = {k: v.node for k, v in self_v.attrs.items() if isinstance(v, ModV)}
                    lifted.lists = {k: v for k, v in self_v.attrs.items() if isinstance(v, ModListV)}
                    self.partial = Lifted(name, node, False, lifted.params, lifted.attrs, lifted.lists,
                                          lifted.dicts, last.ops, self.span(forward.args.args[1]),
                                          partial=True)
                raise
            if top:
                # Fields read from object arguments (`args.dropout`) follow the named arguments.
                named = {p.name for p in lifted.params}
                lifted.params = (*lifted.params,
                                 *(p for p in self.field_params.values() if p.name not in named))
                for arg, fields in self.option_fields.items():
                    shown = ", ".join(f"{k} {v.value!r}" for k, v in fields.items())
                    note = f"fields of `{arg}` at the defaults of the file's argparse options: {shown}"
                    if note not in self.notes:
                        self.notes.append(note)
        finally:
            self.lifting.pop()
        if not top:
            self.lifted[name] = lifted
        return lifted

    def base_chain(self, name: str) -> list[str]:
        """The class and its local bases, most derived first."""
        out: list[str] = []
        cls: str | None = name
        while cls is not None and cls not in out:
            out.append(cls)
            cls = self.local_base(cls)
        return out

    def class_constants(self, node: ast.ClassDef, self_v: SelfV) -> None:
        """Class-level constants (`HIDDEN = 32` in the class body), read as `self.HIDDEN`."""
        frame = Frame({}, None, globals=self.home(node))
        for stmt in node.body:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                try:
                    self.exec_stmt(stmt, frame)
                except (Unsupported, RecursionError):
                    for name in _assigned_names(stmt):
                        frame.names[name] = Opaque(f"`{name}` (not a constant archc can read)",
                                                   self.span(stmt))
        for key, value in frame.names.items():
            if isinstance(value, ModV):
                raise self.fail("a module built in the class body is shared by every instance; "
                                "archc lifts modules built in __init__", node)
            self_v.attrs[key] = value

    def annotated_module(self, arg: ast.arg) -> Val | None:
        """A required module argument annotated with a module class of the file or its package
        (`trunk: Trunk`, `Optional[Trunk]`, `Trunk | None`): that class built at its defaults,
        as a caller fine-tuning a trunk would pass it. None when the annotation names none."""
        node = arg.annotation
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("Optional", "typing.Optional"):
            node = node.slice
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = [n for n in (node.left, node.right)
                     if not (isinstance(n, ast.Constant) and n.value is None)]
            node = sides[0] if len(sides) == 1 else None
        if node is None or not isinstance(node, (ast.Name, ast.Attribute)):
            return None
        try:
            cls = self.eval(node, Frame({}, None, globals=self.home(node)))
        except Unsupported:
            return None
        if not isinstance(cls, ClassRef):
            return None
        call = ast.copy_location(ast.Call(func=node, args=[], keywords=[]), node)
        value = self.eval(call, Frame({}, None, globals=self.home(node)))
        note = (f"constructor argument `{arg.arg}` is built as `{cls.name}()`, the class its "
                "annotation names, at that class's defaults")
        if note not in self.notes:
            self.notes.append(note)
        return value

    def bind_ctor(
        self, init: ast.FunctionDef, frame: Frame, top: bool, given: dict[str, Val]
    ) -> tuple[s.Param, ...]:
        args = init.args
        if args.vararg:
            raise self.fail("a constructor with *args is not supported", args.vararg,
                            help="name the arguments the module takes")
        positional = [*args.posonlyargs, *args.args]
        if not positional:
            raise self.fail("the constructor takes no `self`", init)
        frame.names[positional[0].arg] = frame.self_v  # type: ignore[assignment]
        params = positional[1:] + list(args.kwonlyargs)
        defaults: dict[str, ast.expr] = {}
        for arg, default_expr in zip(reversed(positional), reversed(args.defaults), strict=False):
            defaults[arg.arg] = default_expr
        for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
            if kw_default is not None:
                defaults[arg.arg] = kw_default
        out: list[s.Param] = []
        named = frozenset(a.arg for a in params)
        if args.kwarg and top:
            # `**kwargs` of the model: each key read is a parameter of its own name.
            frame.names[args.kwarg.arg] = ArgObject(args.kwarg.arg, "", True, exclude=named)
        elif args.kwarg:
            # A helper's `**kwargs`: what this variant's calls pass into it (lift_helper), or empty.
            extras = self.variant_values.get(self.lifting[-1], {}).get("**")
            frame.names[args.kwarg.arg] = extras if isinstance(extras, DictV) else DictV({})
        fixed = self.variant_values.get(self.lifting[-1], {}) if not top else {}
        for arg in params:
            if arg.arg in fixed:  # this variant of the helper is lifted at the call's value
                frame.names[arg.arg] = fixed[arg.arg]
                continue
            span = self.span(arg)
            default_node = defaults.get(arg.arg)
            default = (self.eval(default_node, Frame({}, None, globals=self.home(default_node)))
                       if default_node is not None else None)
            if top:
                use = _field_use([self.classes[c] for c in self.base_chain(self.lifting[-1])], init, arg.arg)
                prefix = f"{arg.arg}_"
                built = (self.annotated_module(arg)
                         if arg.arg not in given and default_node is None else None)
                if built is None and arg.arg not in given and use is not None and (
                    (default is None and default_node is None)
                    or isinstance(default, DictV)
                    or (default == Const(None) and any(k.startswith(prefix) for k in given))
                ):
                    # An argparse namespace, a config object or a dict: its fields are parameters.
                    known = tuple(default.items.items()) if isinstance(default, DictV) else ()
                    as_dict = use == "dict" or (bool(known) and not getattr(default, "namespace", False))
                    frame.names[arg.arg] = ArgObject(arg.arg, prefix, as_dict, known)
                    continue
                if arg.arg in given:
                    value = given[arg.arg]
                elif default is not None:
                    value = default
                elif built is not None:
                    value = built
                else:
                    pname = self.renames.get(arg.arg, arg.arg)
                    if pname == arg.arg and arg.arg in _module_attrs(init):
                        pname = param_alias(arg.arg)
                    hint = f"give `{arg.arg}` a default, or pass --set {pname}=VALUE"
                    if arg.annotation is not None and "Module" in ast.unparse(arg.annotation):
                        hint = (f"annotate `{arg.arg}` with the class of the module passed in "
                                f"(`{arg.arg}: ClassName`) so archc can build it at its defaults")
                    raise self.fail(
                        f"the constructor needs `{arg.arg}`; archc builds the class without arguments",
                        arg,
                        help=hint,
                    )
                if (
                    isinstance(value, Const)
                    and value.value is not None
                    and arg.arg not in RESERVED_PARAMS
                ):
                    # The argument becomes an architecture parameter of the same name (renamed
                    # when a layer has that name: `self.pool = nn.MaxPool1d(pool)`).
                    pname = self.renames.get(arg.arg, arg.arg)
                    if isinstance(value.value, float):
                        self.floats.add(pname)
                    value = Const(value.value, s.Var(pname, span))
                    out.append(s.Param(pname, self.to_expr(Const(value.value), span), span))
                if isinstance(value, (ListV, TupleV)) and (default_node is not None or arg.arg in given):
                    if all(isinstance(v, Const) for v in value.items) and _PLAIN_NAME.fullmatch(arg.arg):
                        numbers = tuple(v.value for v in value.items)  # type: ignore[union-attr]
                        self.list_args.setdefault(numbers, arg.arg)  # what loops read by index
                    # A list is read at one value when lifting.
                    if arg.arg in given:
                        self.consumed.add(arg.arg)
                    at = (f"--set {self.show_value(value)}" if arg.arg in given
                          else f"its default {_short(default_node)}" if default_node is not None else "")
                    note = (f"constructor argument `{arg.arg}` is read at {at}: not a parameter (lift "
                            f"again with --set {arg.arg}=[...] for other values)")
                    if note not in self.notes:
                        self.notes.append(note)
                frame.names[arg.arg] = value
                continue
            if isinstance(default, DictV):
                frame.names[arg.arg] = default  # read at its default (a dict is no DSL value)
                continue
            pname = arg.arg
            if pname in _module_attrs(init) and frame.self_v is not None:
                # `self.pool = nn.MaxPool1d(pool)`: the DSL keeps parameters and layers apart
                pname = param_alias(pname)
                self.block_renames.setdefault(frame.self_v.cls_name, {})[arg.arg] = pname
            frame.names[arg.arg] = Sym(s.Var(pname, span))
            expr = None
            if default is not None:
                assert default_node is not None
                expr = self.to_expr(default, self.span(default_node))
            out.append(s.Param(pname, expr, span))
        return tuple(out)

    def field_of(self, obj: ArgObject, key: str, default: Val | None, node: ast.AST) -> Val:
        """Field `key` of an object argument: the architecture parameter `prefix + key`, valued
        by --set, else by the dict default's entry, else by the default the code gives."""
        span = self.span(node)
        pname = obj.prefix + key
        known = dict(obj.known)
        if pname in self.given:
            value = self.given[pname]
            if isinstance(value, (TupleV, ListV)):
                self.consumed.add(pname)  # a list field is read when lifting (no DSL parameter)
        elif key in known:
            value = known[key]
        elif default is not None:
            value = default
        elif not obj.is_dict and key in self.parser_defaults:
            # The file's own argparse option says what the field holds by default.
            value = self.parser_defaults[key]
            self.option_fields.setdefault(obj.arg, {})[key] = value
        else:
            reads = [f for f in self.field_reads(obj) if obj.prefix + f not in self.given]
            more = "".join(f" --set {obj.prefix}{f}=VALUE" for f in reads if f != key)
            shown = f"`{obj.arg}[{key!r}]`" if obj.is_dict else f"`{obj.arg}.{key}`"
            if not obj.prefix:
                shown += f" (of **{obj.arg})"
            raise self.fail(
                f"{shown} is read from a constructor argument; archc builds the class without arguments",
                node,
                help=f"pass --set {self.renames.get(pname, pname)}=VALUE" + (f" (and{more})" if more else ""),
            )
        if isinstance(value, Const) and value.value is not None and len(self.lifting) > 1:
            # An object handed to a helper: its fields are read when lifting (the helper's
            # block cannot see the model's parameters).
            self.consumed.add(self.renames.get(pname, pname))
            return Const(value.value)
        if (
            isinstance(value, Const)
            and value.value is not None
            and value.expr is None
            and _plain_name(pname)
            and pname not in RESERVED_PARAMS
        ):
            pname = self.renames.get(pname, pname)
            self.field_params.setdefault(pname, s.Param(pname, self.to_expr(value, span), span))
            return Const(value.value, s.Var(pname, span))
        return value

    def field_reads(self, obj: ArgObject) -> list[str]:
        """The fields the model's classes read from an object argument by name, in order."""
        out: list[str] = []
        for cls in reversed(self.base_chain(self.lifting[0])):
            nodes = sorted(ast.walk(self.classes[cls]), key=lambda n: (getattr(n, "lineno", 0),
                                                                      getattr(n, "col_offset", 0)))
            for node in nodes:
                key: str | None = None
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (
                    node.value.id == obj.arg
                ):
                    key = node.attr
                elif isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and (
                    node.value.id == obj.arg and isinstance(node.slice, ast.Constant)
                ):
                    key = str(node.slice.value)
                if key is not None and key not in out and key not in ("get", "pop") and _plain_name(key) and (
                    key not in self.parser_defaults
                ):
                    out.append(key)
        return out

    def lift_forward(
        self, fn: ast.FunctionDef, self_v: SelfV
    ) -> tuple[tuple[FOp, ...], Span, tuple[FInput, ...]]:
        """The steps of forward, where its input is written, and its further inputs."""
        args = fn.args
        positional = [*args.posonlyargs, *args.args]
        if args.vararg or len(positional) < 2:
            raise self.fail("forward must take its input tensors by position: `def forward(self, x)`", fn)
        required = len(positional) - len(args.defaults)
        if any(d is None for d in args.kw_defaults):
            raise self.fail("forward takes a keyword-only input; archc lifts inputs passed by position", fn)
        if required > 2 and len(self.lifting) > 1:
            raise self.fail("a helper block's forward takes more than one input; archc lifts blocks "
                            "that take one tensor", fn)
        start = Tensor((), (self.fresh(),))
        self.last_top = None
        self.top_start = start.ids[0] if len(self.lifting) == 1 else -1
        frame = Frame({positional[0].arg: self_v, positional[1].arg: start}, self_v,
                      globals=self.home(fn))
        if args.kwarg is not None:
            frame.names[args.kwarg.arg] = DictV({})  # `forward(self, x, **kwargs)` called as m(x)
        # Each further required argument is another input: its tensors are branches of the
        # first input's graph that start by reading it.
        extra_inputs = tuple(FInput(a.arg, self.span(a)) for a in positional[2:required])
        for extra_input in extra_inputs:
            frame.names[extra_input.name] = Tensor((extra_input,), (start.ids[0], self.fresh()))
        # Called as model(x), the other arguments take their defaults (`alpha=0`, `embeddings=False`).
        defaults: list[ast.expr | None] = [*([None] * (len(positional) - len(args.defaults))), *args.defaults]
        pairs = [*zip(positional, defaults, strict=True),
                 *zip(args.kwonlyargs, args.kw_defaults, strict=True)]
        for extra, default in pairs[max(2, required):] if len(positional) >= 2 else []:
            value: Val = Opaque(f"the extra forward argument `{extra.arg}`", self.span(extra))
            if default is not None:
                with contextlib.suppress(Unsupported):
                    got = self.eval(default, Frame({}, None, globals=self.home(fn)))
                    if isinstance(got, (Const, TupleV)):
                        value = got
            frame.names[extra.arg] = value
        self_v.in_forward = True
        self.forwarding = True
        result: Val = Const(None)
        where: ast.AST = fn
        try:
            self.exec_body(fn.body, frame)
        except _Return as ret:
            result, where = ret.value, ret.node
        finally:
            self_v.in_forward = False
            self.forwarding = False
        if isinstance(result, DictV) and result.items and all(
            isinstance(i, Tensor) and i.ids[0] == start.ids[0] for i in result.items.values()
        ):
            if self.lifting[-1] != self.lifting[0]:
                raise self.fail("a helper block returns a dict; archc lifts blocks that return one tensor",
                                where)
            bad = next((k for k in result.items if not OUTPUT_KEY.fullmatch(k)), None)
            if bad is not None:
                raise self.fail(f"the output key {bad!r} is not plain text (1 to 64 letters, digits, `_`, "
                                "`-` and `.`)", where)
            tensors = [i for i in result.items.values() if isinstance(i, Tensor)]
            result = self.join("return", tensors, None, where, tuple(result.items))
        top = self.lifting[-1] == self.lifting[0]
        if isinstance(result, ListV) and len(result.items) > 1 and top and all(
            isinstance(i, Tensor) and i.ids[0] == start.ids[0] for i in result.items
        ):
            self.note_once("forward returns a list: the lifted module returns a tuple of the same tensors "
                           "(indexing and unpacking read it alike)")
            result = TupleV(tuple(result.items))
        if isinstance(result, TupleV) and len(result.items) > 1 and all(
            isinstance(i, Tensor) and i.ids[0] == start.ids[0] for i in result.items
        ):
            if self.lifting[-1] != self.lifting[0]:
                raise self.fail("a helper block returns a tuple; archc lifts blocks that return one tensor",
                                where)
            result = self.join("return", [i for i in result.items if isinstance(i, Tensor)], None, where)
        if isinstance(result, (Pair, TupleV)):
            raise self.fail("forward returns a tuple; archc lifts models that return one tensor, or "
                            "a tuple of tensors computed from the input", where)
        if isinstance(result, DictV):
            raise self.fail("forward returns a dict; archc lifts a dict of tensors computed from the input",
                            where)
        if not isinstance(result, Tensor):
            raise self.fail(f"forward must return a tensor computed from its input, not a {describe(result)}",
                            where)
        if result.ids[0] != start.ids[0]:
            raise self.fail("forward returns a tensor that does not come from its input", where)
        return result.ops, self.span(positional[1]), extra_inputs

    # ------------------------------------------------------------ statements

    def exec_body(self, body: list[ast.stmt], frame: Frame) -> None:
        for stmt in body:
            self.exec_stmt(stmt, frame)

    def exec_stmt(self, stmt: ast.stmt, frame: Frame) -> None:
        self.tick(stmt)
        if isinstance(stmt, ast.Assign):
            held = frame.names.get(stmt.value.id) if isinstance(stmt.value, ast.Name) else None
            # `self.loss_fn = loss_fn`: an object archc cannot read is passed on as it is, an
            # error only where it is used
            value = held if isinstance(held, Opaque) else self.eval(stmt.value, frame)
            for target in stmt.targets:
                self.assign(target, value, frame)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value, frame), frame)
        elif isinstance(stmt, ast.AugAssign):
            current = self.eval(stmt.target, frame)
            value = self.eval(stmt.value, frame)
            if isinstance(current, ListV) and isinstance(stmt.op, ast.Add):
                current.items.extend(self.iterate(value, stmt.value))
                return
            if isinstance(current, ModListV) and isinstance(stmt.op, ast.Add):
                for item in self.iterate(value, stmt.value):  # `self.layers += [nn.Conv1d(...)]`
                    if not isinstance(item, ModV):
                        raise self.fail(f"nn.ModuleList takes modules, not a {describe(item)}", stmt.value)
                    current.items.append(item.node)
                return
            self.assign(stmt.target, self.binop(stmt.op, current, value, stmt), frame)
        elif isinstance(stmt, ast.Expr):
            value_node = stmt.value
            if isinstance(value_node, ast.Constant) and isinstance(value_node.value, str):
                return  # a docstring
            if self.max_norm(value_node, frame):
                return
            self.no_weight_changes(stmt, frame)
            if (
                isinstance(value_node, ast.Call)
                and isinstance(value_node.func, ast.Name)
                and value_node.func.id == "print"
                and "print" not in frame.names
            ):
                return  # printing changes nothing in the model
            if _freezing_call(value_node) and not (frame.self_v is not None and frame.self_v.in_forward):
                # `self.trunk.requires_grad_(False)`, `self.trunk.eval()` in __init__: training state
                self.note_once(_FREEZE_NOTE)
                return
            if self.rnn_layout_call(value_node, frame):
                return  # `self.rnn.flatten_parameters()`: cuDNN's weight layout, not what it computes
            if isinstance(value_node, ast.Call) and self.side_effect(value_node.func, frame):
                return  # logging, seeding, warnings: nothing in the model changes
            if (
                isinstance(value_node, ast.Call)
                and not self.forwarding
                and not self.raw_mode
                and self.init_function(value_node.func, frame)
            ):
                # `init.kaiming_normal_(self.conv.weight)`: starting values, not the architecture
                note = ("nn.init calls are not kept: the lifted module starts from torch's default "
                        "initialisation (checkpoints load the same)")
                if note not in self.notes:
                    self.notes.append(note)
                return
            if self.raw_mode and isinstance(value_node, ast.Call):
                if self.registered_parameter(value_node, frame):
                    return
                return  # initialising the raw parameters (nn.init.*, reset_parameters()): no sizes change
            self.eval(value_node, frame)
        elif isinstance(stmt, ast.Return):
            raise _Return(self.eval(stmt.value, frame) if stmt.value is not None else Const(None), stmt)
        elif isinstance(stmt, ast.If):
            test = self.eval(stmt.test, frame)
            self.exec_body(stmt.body if self.truth(test, stmt.test) else stmt.orelse, frame)
        elif isinstance(stmt, ast.For):
            if stmt.orelse:
                raise self.fail("a for loop with an else branch is not supported", stmt)
            if _freezes_only(stmt):
                # `for p in self.trunk.parameters(): p.requires_grad = False`: training state
                self.note_once(_FREEZE_NOTE)
                return
            if not _renorms_only(stmt):
                self.no_weight_changes(stmt, frame)
            if self.appending_loop(stmt, frame):
                self.range_loop(stmt, frame)
                return
            wrapped = self.wrapped_lists(stmt, frame)
            if wrapped is not None:
                self.loop_modules(stmt, wrapped[0], frame, wrapped=wrapped[1])
                return
            looped = self.eval(stmt.iter, frame)
            if isinstance(looped, ModListV) and not all(_weightless(i) for i in looped.items):
                self.loop_modules(stmt, looped, frame)
                return  # (a list of weightless layers holds nothing: its items are steps)
            indexed = self.indexed_list(stmt, looped, frame)
            if indexed is not None:
                self.loop_modules(stmt, indexed, frame, by_index=True)
                return
            for item in self.iterate(looped, stmt.iter):
                self.assign(stmt.target, item, frame)
                self.exec_body(stmt.body, frame)
        elif isinstance(stmt, ast.With):
            for with_item in stmt.items:
                context = with_item.context_expr
                func: Val | None = None
                if isinstance(context, ast.Call):
                    with contextlib.suppress(Unsupported):
                        func = self.eval(context.func, frame)
                if not (isinstance(func, Namespace) and func.qualname in _NO_GRAD) or with_item.optional_vars:
                    raise self.fail(f"`with {_short(context)}` is not supported", context,
                                    help="archc follows `with torch.no_grad():` (a dry run sizing layers)")
            self.exec_body(stmt.body, frame)
        elif isinstance(stmt, (ast.Pass, ast.Assert)):
            return  # assertions check, they do not build anything
        elif isinstance(stmt, ast.FunctionDef) and not stmt.decorator_list:
            # `def _round(x): ...` inside __init__: a helper it calls, with the names around it
            frame.names[stmt.name] = FuncRef(stmt, None, frame.names)
        else:
            what = type(stmt).__name__.lower()
            raise self.fail(f"a `{what}` statement is not supported here", stmt,
                            help="archc follows assignments, if/for with known values, and return")

    def max_norm(self, call: ast.expr, frame: Frame) -> bool:
        """`layer.weight.data.renorm_(2, 0, 0.9)` at the start of forward (selene's max-norm
        constraint): the layer's `max_norm`, which the emitted forward applies the same way."""
        owner = frame.self_v
        if not (owner is not None and owner.in_forward and isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute) and call.func.attr == "renorm_"):
            return False
        holder = call.func.value
        if isinstance(holder, ast.Attribute) and holder.attr == "data":
            holder = holder.value
        if not (isinstance(holder, ast.Attribute) and holder.attr == "weight"):
            return False
        layer = self.eval(holder.value, frame)
        if not (isinstance(layer, ModV) and isinstance(layer.node, LayerNode)
                and layer.node.kind in ("conv1d", "conv2d", "linear")):
            raise self.fail(f"`{_short(call)}`: archc reads a max-norm constraint on the weight of an "
                            "nn.Conv1d, nn.Conv2d or nn.Linear", call)
        values = [self.eval(a, frame) for a in call.args]
        kw = {k.arg: self.eval(k.value, frame) for k in call.keywords if k.arg}
        p, dim, limit = (*values, *(kw.get(k) for k in ("p", "dim", "maxnorm")[len(values):]))[:3]
        if p != Const(2) or dim != Const(0) or not (isinstance(limit, Const) and _is_num(limit.value)):
            raise self.fail(f"`{_short(call)}`: archc reads the max-norm constraint renorm_(2, 0, LIMIT) "
                            "(the L2 norm of each output unit's weights)", call)
        if any(isinstance(v, Tensor) and v.ops for v in frame.names.values()):
            raise self.fail(f"`{_short(call)}` comes after forward's first step; archc reads a max-norm "
                            "constraint applied before any", call)
        layer.node.args["max_norm"] = (limit, self.span(call))
        return True

    def no_weight_changes(self, stmt: ast.stmt, frame: Frame) -> None:
        """forward must not change the weights in place (`layer.weight.data.renorm_(2, 0, 0.9)`, a
        max-norm constraint applied at every call): said at the call, the real construct."""
        owner = frame.self_v
        if owner is None or not owner.in_forward:
            return
        for sub in ast.walk(stmt):
            if not (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute)
                    and sub.func.attr.endswith("_") and not sub.func.attr.startswith("_")):
                continue
            chain = sub.func.value
            while isinstance(chain, ast.Attribute) and chain.attr not in ("weight", "bias", "data"):
                chain = chain.value
            if isinstance(chain, ast.Attribute):
                raise self.fail(
                    f"forward changes the weights in place (`{_short(sub)}`): a constraint applied at every "
                    "call, which archc does not lift", sub,
                    help="apply the constraint in the training loop (after each optimizer step); archc "
                    "lifts what forward computes from its input")

    def registered_parameter(self, call: ast.Call, frame: Frame) -> bool:
        """`self.register_parameter("bias", None)` in a raw-parameter helper: sets the attribute."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "register_parameter" and len(call.args) == 2
                and isinstance(frame.names.get(getattr(func.value, "id", "")), SelfV)):
            return False
        key = self.concrete(self.eval(call.args[0], frame), call.args[0])
        owner = frame.names[func.value.id]  # type: ignore[attr-defined]
        if not isinstance(key, str) or not isinstance(owner, SelfV):
            raise self.fail("register_parameter needs a name known statically", call.args[0])
        owner.attrs[key] = self.eval(call.args[1], frame)
        return True

    def rnn_layout_call(self, node: ast.expr, frame: Frame) -> bool:
        """`self.rnn.flatten_parameters()` of an nn.LSTM or nn.GRU."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "flatten_parameters" and not node.args and not node.keywords):
            return False
        owner = self.eval(node.func.value, frame)
        return (isinstance(owner, ModV) and isinstance(owner.node, LayerNode)
                and owner.node.kind in ("lstm", "gru"))

    def appending_loop(self, stmt: ast.For, frame: Frame) -> bool:
        """`for i in range(...)` in a constructor whose body appends (to a module list, or to a
        list that becomes one)."""
        owner = frame.self_v
        return (
            not (owner is not None and owner.in_forward) and not self.forwarding
            and isinstance(stmt.target, ast.Name)
            and isinstance(stmt.iter, ast.Call) and isinstance(stmt.iter.func, ast.Name)
            and stmt.iter.func.id == "range" and "range" not in frame.names
            and not stmt.iter.keywords and not any(isinstance(a, ast.Starred) for a in stmt.iter.args)
            and any(isinstance(sub, ast.Attribute) and sub.attr in ("append", "extend")
                    for body in stmt.body for sub in ast.walk(body))
        )

    def range_loop(self, stmt: ast.For, frame: Frame) -> None:
        """The loop's body once per index, the index bound to a marked value (RangeLoop)."""
        assert isinstance(stmt.iter, ast.Call) and isinstance(stmt.target, ast.Name)
        bounds = [self.eval(a, frame) for a in stmt.iter.args]
        numbers = self.call_builtin("range", [(b, stmt.iter) for b in bounds], {}, stmt.iter, frame)
        assert isinstance(numbers, ListV)
        values = tuple(int(v.value) for v in numbers.items if isinstance(v, Const)
                       and isinstance(v.value, int))
        loop = len(self.range_loops)
        var = stmt.target.id
        self.range_loops.append(RangeLoop(var, tuple(bounds), values, self.span(stmt)))
        span = self.span(stmt.target)
        for pos, value in enumerate(values):
            frame.names[var] = Const(value, s.Var(mark_name(var, loop, pos), span))
            self.loop_stack.append((loop, pos))
            try:
                self.exec_body(stmt.body, frame)
            finally:
                self.loop_stack.pop()

    def side_effect(self, func: ast.expr, frame: Frame) -> bool:
        """A call made for its effect outside the model: `logger.info(...)`, `torch.manual_seed(0)`,
        `warnings.warn(...)`, `np.random.seed(1)` (its value is unused, so skipping it loses nothing)."""
        root = func
        while isinstance(root, ast.Attribute):
            root = root.value
        if isinstance(func, ast.Name):  # `from icecream import ic; ic(x)`, `from warnings import warn`
            value = frame.names.get(func.id, self.names_of(frame).get(func.id))
            return isinstance(value, Namespace) and value.qualname.split(".")[0] in (
                "logging", "warnings", "icecream", "pprint")
        if not isinstance(root, ast.Name):
            return False
        name = root.id
        value = frame.names.get(name, self.names_of(frame).get(name))
        if (
            isinstance(value, SelfV)
            and isinstance(func, ast.Attribute)
            and func.value is root
            and func.attr not in value.attrs
            and self.find_method(value.cls_name, func.attr) is None
            and any(self.foreign_base(b) for c in self.base_chain(value.cls_name)
                    for b in self.classes[c].bases)
        ):
            return True  # a method of the unknown base (self.save_hyperparameters())
        if isinstance(value, Opaque):
            return True
        if not isinstance(value, Namespace):
            return False
        dotted = ast.unparse(func)
        qual = value.qualname + dotted[len(name):]
        top = qual.split(".")[0]
        if top in ("logging", "warnings", "numpy", "random", "os", "sys", "icecream", "pprint"):
            return True
        return qual in _TORCH_EFFECTS or qual.startswith(("torch.cuda.", "torch.backends."))

    def assign(self, target: ast.expr, value: Val, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            frame.names[target.id] = value
            if isinstance(value, Tensor) and target.id.strip("_"):  # (`_`: a value thrown away)
                self.tensor_names.setdefault(value.ids[-1], target.id)
        elif isinstance(target, ast.Attribute):
            owner = self.eval(target.value, frame)
            if not isinstance(owner, SelfV):
                raise self.fail(f"assigning to an attribute of a {describe(owner)} is not supported",
                                target)
            self.set_attr(owner, target.attr, value, target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            if isinstance(value, Pair):
                items: list[Val] = [value.first, value.second]
            elif isinstance(value, Opaque):
                items = [value] * len(target.elts)
            elif isinstance(value, Method) and value.name == "shape" and isinstance(value.target, Tensor):
                # `b, c, l = x.shape`: the batch, then axis sizes known once shapes are checked
                ids, rank, span = value.target.ids, len(target.elts), self.span(target)
                if ids[0] in self.dry:
                    items = [DrySize(span)] * rank
                else:
                    items = [Batch(), *(AxisSize(ids, d, span, rank) for d in range(1, rank))]
            else:
                items = self.iterate(value, target)
            if any(isinstance(e, ast.Starred) for e in target.elts) or len(items) != len(target.elts):
                raise self.fail(f"cannot unpack {len(items)} values into {len(target.elts)} names", target)
            for elt, item in zip(target.elts, items, strict=True):
                if isinstance(value, Pair) and item is value.second and not isinstance(item, LstmStates):
                    item = Opaque(f"the {value.second_name or 'second value'} this call returns",
                                  self.span(elt))
                self.assign(elt, item, frame)
        elif isinstance(target, ast.Subscript) and isinstance(
            owner := self.eval(target.value, frame), ModDictV
        ):
            if frame.self_v is not None and frame.self_v.in_forward:
                raise self.fail("forward changes an nn.ModuleDict; archc lifts stateless forwards", target)
            self.dict_entry(owner, self.eval(target.slice, frame), value, target)  # `self.heads["k"] = ...`
        elif isinstance(target, ast.Subscript) and isinstance(owner, DictV):
            key = self.eval(target.slice, frame)  # `outputs["profile"] = ...`
            if not (isinstance(key, Const) and isinstance(key.value, str)):
                raise self.fail("archc reads dicts with string keys", target.slice)
            owner.items[key.value] = value
        else:
            raise self.fail(f"assigning to `{ast.unparse(target)}` is not supported", target)

    def set_attr(self, owner: SelfV, name: str, value: Val, node: ast.AST) -> None:
        if owner.in_forward:
            raise self.fail("forward assigns to an attribute of self; archc lifts stateless forwards",
                            node)
        if isinstance(value, LambdaV):
            raise self.fail(f"`{_short(value.node)}` (Lambda) is not supported here", value.node,
                            help="archc lifts a lambda given to a Lambda helper module "
                            "(`Lambda(lambda x: x.view(x.size(0), -1))`)")
        if isinstance(value, (ListV, TupleV)) and any(isinstance(i, ModV) for i in _flat(value)):
            raise self.fail(
                "a plain list of modules is not registered by PyTorch (its weights are not saved)",
                node,
                help="wrap the modules in nn.Sequential",
            )
        block = value.node if isinstance(value, ModV) else None
        if isinstance(block, BlockNode) and block.cls_name in self.unnamed:
            # A block made for a named nn.Sequential is called after the attribute holding it.
            old = block.cls_name
            new = "".join(p[:1].upper() + p[1:] for p in name.split("_") if p) + "Seq"
            free = new not in self.lifted or new in self.synthetic
            if _plain_name(new) and new not in self.classes and free:
                lifted = self.lifted.pop(old)
                lifted.py_name = new
                lifted.node.name = new
                self.lifted[new] = lifted  # (a block of an earlier pass over the class is replaced)
                self.synthetic.add(new)
                block.cls_name = new
            self.unnamed.discard(old)
        owner.attrs[name] = value

    def truth(self, value: Val, node: ast.AST) -> bool:
        if isinstance(value, Const):
            return bool(value.value)
        if isinstance(value, (TupleV, ListV, DictV)):
            return bool(value.items)
        if isinstance(value, ArgObject) and not value.is_dict:
            return True  # an object given to the constructor
        if isinstance(value, Training):
            raise self.fail("forward branches on self.training; archc lifts one path through forward",
                            node)
        if isinstance(value, Sym):
            self.sym_condition = var_names(value.expr)
            names = sorted(self.sym_condition)
            shown = ", ".join(f"`{n}`" for n in names) or "a block parameter"
            owner = f" of the helper `{self.lifting[-1]}`" if len(self.lifting) > 1 else ""
            raise self.fail(
                f"a condition on {shown}{owner} cannot be decided statically: archc lifts a helper "
                "module once, for every value of its constructor arguments",
                node,
                help="branch in the model's own constructor, or give the helper one class per case",
            )
        raise self.fail(f"a condition on a {describe(value)} cannot be decided statically", node)

    def iterate(self, value: Val, node: ast.AST) -> list[Val]:
        if isinstance(value, (TupleV, ListV)):
            return list(value.items)
        if isinstance(value, Const) and isinstance(value.value, str):
            return [Const(c) for c in value.value]
        if isinstance(value, ModListV):
            return [ModV(item) for item in value.items]
        if isinstance(value, ModDictV):
            return [Const(k) for k in value.items]  # iterating a dict gives its keys
        if isinstance(value, LstmStates) and value.which == "hc":
            return [replace(value, which="h"), replace(value, which="c")]  # `h, c = states`
        if isinstance(value, Sym):
            raise self.helper_argument(value, "looped over", node)
        raise self.fail(f"cannot loop over a {describe(value)} statically", node)

    def helper_argument(self, value: Sym, how: str, node: ast.AST) -> Unsupported:
        """A helper's constructor argument used as a list or an object (`for k in kernels`,
        `args.hidden`): its callers lift the helper at the value they pass (lift_helper)."""
        self.sym_condition = var_names(value.expr)
        shown = ", ".join(f"`{n}`" for n in sorted(self.sym_condition)) or "a block parameter"
        owner = f" of the helper `{self.lifting[-1]}`" if len(self.lifting) > 1 else ""
        return self.fail(f"{shown}{owner} is {how}, which archc does only with a value known when "
                         "lifting (a list, a tuple or an object passed in)", node)

    # ------------------------------------------------------------ expressions

    def eval(self, node: ast.expr, frame: Frame) -> Val:
        self.tick(node)
        if isinstance(node, ast.Constant):
            value = node.value
            if value is None or isinstance(value, (bool, int, float, str)):
                if isinstance(value, float) and not math.isfinite(value):
                    raise self.fail("a non-finite number is not supported", node)
                return Const(value)
            raise self.fail(f"a {type(value).__name__} constant is not supported here", node)
        if isinstance(node, ast.Name):
            return self.lookup_name(node.id, node, frame)
        if isinstance(node, ast.Attribute):
            return self.attribute(self.eval(node.value, frame), node.attr, node)
        if isinstance(node, ast.BinOp):
            return self.binop(node.op, self.eval(node.left, frame), self.eval(node.right, frame), node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node, self.eval(node.operand, frame))
        if isinstance(node, ast.BoolOp):
            result: Val = Const(None)
            for item in node.values:
                result = self.eval(item, frame)
                truth = self.truth(result, item)
                if isinstance(node.op, ast.And) != truth:
                    return result
            return result
        if isinstance(node, ast.Compare):
            return self.compare(node, frame)
        if isinstance(node, ast.IfExp):
            test = self.eval(node.test, frame)
            return self.eval(node.body if self.truth(test, node.test) else node.orelse, frame)
        if isinstance(node, (ast.Tuple, ast.List)):
            items: list[Val] = []
            for elt in node.elts:
                if isinstance(elt, ast.Starred):
                    items.extend(self.iterate(self.eval(elt.value, frame), elt))
                else:
                    items.append(self.eval(elt, frame))
            return ListV(items) if isinstance(node, ast.List) else TupleV(tuple(items))
        if isinstance(node, (ast.ListComp, ast.GeneratorExp)):
            return ListV(self.comprehension(node, frame))
        if isinstance(node, ast.DictComp):
            made: dict[str, Val] = {}
            for pair in self.comprehension(node, frame):
                assert isinstance(pair, TupleV)
                made_key, made_value = pair.items
                if not (isinstance(made_key, Const) and isinstance(made_key.value, str)):
                    raise self.fail("archc reads dicts with string keys", node.key)
                made[made_key.value] = made_value
            return DictV(made)
        if isinstance(node, ast.Dict):
            entries: dict[str, Val] = {}
            for key_node, value_node in zip(node.keys, node.values, strict=True):
                if key_node is None:
                    entries.update(self.entries(self.eval(value_node, frame), value_node))
                    continue
                key = self.eval(key_node, frame)
                if not (isinstance(key, Const) and isinstance(key.value, str)):
                    raise self.fail("archc reads dicts with string keys", key_node)
                entries[key.value] = self.eval(value_node, frame)
            return DictV(entries)
        if isinstance(node, ast.Subscript):
            return self.subscript(self.eval(node.value, frame), node, frame)
        if isinstance(node, ast.Call):
            return self.call(node, frame)
        if isinstance(node, ast.JoinedStr):
            return Const(self.fstring(node, frame))
        if isinstance(node, ast.Lambda):
            return LambdaV(node, self.names_of(frame))
        what = type(node).__name__
        raise self.fail(f"`{_short(node)}` ({what}) is not supported here", node)

    def lookup_name(self, name: str, node: ast.AST, frame: Frame) -> Val:
        if name in frame.names:
            value = frame.names[name]
        elif name in self.names_of(frame):
            value = self.names_of(frame)[name]
        elif name in BUILTINS:
            return BuiltinRef(name)
        elif name == "self" and frame.self_v is not None:
            return frame.self_v
        else:
            raise self.fail(f"`{name}` is not defined (or not imported) in this file", node,
                            code="undefined-name")
        if isinstance(value, Opaque):
            raise self.fail(f"{value.what} cannot be used here", node,
                            help="archc reads literal numbers, imports and arithmetic on them")
        return value

    def attribute(self, owner: Val, attr: str, node: ast.Attribute) -> Val:
        if isinstance(owner, Namespace):
            return Namespace(f"{owner.qualname}.{attr}")
        if isinstance(owner, ModuleRef):
            if attr not in owner.names:
                raise self.fail(f"`{attr}` is not defined in {owner.shown}", node, code="undefined-name")
            value = owner.names[attr]
            if isinstance(value, Opaque):
                raise self.fail(f"{value.what} cannot be used here", node)
            return value
        if isinstance(owner, SelfV):
            if attr in owner.attrs:
                value = owner.attrs[attr]
                if isinstance(value, Opaque):
                    raise self.fail(f"{value.what} cannot be used here", node)
                return value
            if attr == "training":
                if owner.in_forward:
                    return Training()
                raise self.fail("self.training is only meaningful in forward", node)
            method = self.find_method(owner.cls_name, attr)
            if method is None and attr in _MODULE_API:
                raise self.fail(_MODULE_API[attr], node,
                                help="archc lifts state held by torch.nn layers; keep this part in PyTorch")
            if method is not None:
                if method.decorator_list:
                    raise self.fail(f"the decorated method `{attr}` is not supported", node)
                return FuncRef(method, owner)
            raise self.fail(f"`self.{attr}` is not set before it is used", node, code="undefined-name")
        if isinstance(owner, ModV) and isinstance(owner.node, BlockNode) and not self.forwarding:
            return self.instance_attr(owner.node, attr, node)
        if isinstance(owner, ModV) and isinstance(owner.node, LayerNode):
            layer = owner.node
            if attr in layer.args:
                return layer.args[attr][0]
            spec = lookup(layer.kind)
            pspec = spec.param(attr) if spec else None
            if pspec is not None and pspec.default is not REQUIRED:
                return Const(pspec.default)  # type: ignore[arg-type]
            raise self.fail(f"`{attr}` of nn.{layer.torch_name} is not known statically", node)
        if isinstance(owner, ArgObject) and owner.known and attr in ("items", "keys", "values"):
            return Method(owner, attr, self.span(node))  # the default dict's entries, each a parameter
        if isinstance(owner, ArgObject) and not (owner.is_dict and attr in ("get", "pop")):
            if owner.is_dict:
                raise self.fail(f"`.{attr}` of the dict argument `{owner.arg}` is not supported", node,
                                help=f"read its entries as {owner.arg}[KEY] or {owner.arg}.get(KEY, DEFAULT)")
            return self.field_of(owner, attr, None, node)
        if isinstance(owner, (ArgObject, DictV)) and attr in ("get", "pop"):
            return Method(owner, attr, self.span(node))
        if isinstance(owner, DictV) and owner.namespace:
            if attr not in owner.items:
                raise self.fail(f"the config object has no field `{attr}`", node, code="undefined-name")
            return owner.items[attr]
        if isinstance(owner, ModDictV):
            if attr in ("items", "keys", "values"):
                return Method(owner, attr, self.span(node))
            if attr in owner.items:
                return ModV(owner.items[attr])  # `self.heads.profile`
            raise self.fail(f"`.{attr}` of an nn.ModuleDict is not supported", node)
        if isinstance(owner, Pair) and owner.second_name == "indices":
            if attr == "values":
                return owner.first
            if attr == "indices":
                return Opaque("the indices torch.max returns", self.span(node))
        if isinstance(owner, ModV) and isinstance(owner.node, SeqNode) and attr == "children":
            return Method(owner, attr, self.span(node))
        if isinstance(owner, (Tensor, ListV, SuperV, ModListV, LstmStates)) or (
            isinstance(owner, Const) and isinstance(owner.value, str) and attr in _STR_METHODS
        ):
            return Method(owner, attr, self.span(node))
        if isinstance(owner, Sym) and len(self.lifting) > 1:
            raise self.helper_argument(owner, f"read as an object (`.{attr}`)", node)
        raise self.fail(f"`.{attr}` of a {describe(owner)} is not supported", node)

    def unary(self, node: ast.UnaryOp, value: Val) -> Val:
        if isinstance(node.op, ast.Not):
            return Const(not self.truth(value, node.operand))
        if isinstance(value, Sym):
            if isinstance(node.op, ast.USub):
                return Sym(s.Neg(value.expr, self.span(node)))
            if isinstance(node.op, ast.UAdd):
                return value
        if isinstance(value, Const) and _is_num(value.value):
            assert isinstance(value.value, (int, float))
            if isinstance(node.op, ast.USub):
                if value.expr is not None:
                    return Const(-value.value, s.Neg(value.expr, self.span(node)))
                return Const(-value.value)
            if isinstance(node.op, ast.UAdd):
                return value
        raise self.fail(f"`{_short(node)}` is not supported on a {describe(value)}", node)

    def with_number(self, op: ast.operator, left: Val, right: Val, node: ast.AST) -> Val | None:
        """`x + c`, `c + x`, `x - c`, `c - x` and `x / c` of a tensor and a number: shift,
        scale(-1) then shift, divide (each the same float operation as the original's)."""
        span = self.span(node)
        tensor, number, first = (left, right, True) if isinstance(left, Tensor) else (right, left, False)
        if not (isinstance(tensor, Tensor) and isinstance(number, Const) and _is_num(number.value)):
            return None
        if isinstance(op, ast.Div) and first:
            if self.mean_of_sum(tensor, number, node) is not None:
                return None  # `(a + b) / 2` of two branches is their mean
            return self.step(tensor, FLayer("divide", ((None, number, span),), span))
        if isinstance(op, ast.Add):
            return self.step(tensor, FLayer("shift", ((None, number, span),), span))
        if isinstance(op, ast.Sub) and first:  # x - c is x + (-c), to the last bit
            negated = Const(-number.value, None if number.expr is None else s.Neg(number.expr, span))  # type: ignore[operator]
            return self.step(tensor, FLayer("shift", ((None, negated, span),), span))
        if isinstance(op, ast.Sub):  # c - x is (-x) + c, to the last bit
            flipped = self.step(tensor, FLayer("scale", ((None, Const(-1), span),), span))
            return self.step(flipped, FLayer("shift", ((None, number, span),), span))
        return None

    def binop(self, op: ast.operator, left: Val, right: Val, node: ast.AST) -> Val:
        if isinstance(left, Tensor) or isinstance(right, Tensor):
            # x * 1, x + 0, x / 1 (a forward argument at its default): the tensor itself, exactly
            if isinstance(left, Tensor) and isinstance(right, Const) and _is_num(right.value) and (
                (isinstance(op, (ast.Mult, ast.Div)) and right.value == 1)
                or (isinstance(op, (ast.Add, ast.Sub)) and right.value == 0)
            ):
                return left
            if isinstance(right, Tensor) and isinstance(left, Const) and _is_num(left.value) and (
                (isinstance(op, ast.Mult) and left.value == 1)
                or (isinstance(op, ast.Add) and left.value == 0)
            ):
                return right
            if isinstance(op, ast.Mult) and isinstance(left, Tensor) != isinstance(right, Tensor):
                tensor, factor = (left, right) if isinstance(left, Tensor) else (right, left)
                if isinstance(tensor, Tensor) and isinstance(factor, Const) and _is_num(factor.value):
                    # `1.702 * x` (Basenji's GELU, `torch.sigmoid(1.702 * x) * x`)
                    span = self.span(node)
                    return self.step(tensor, FLayer("scale", ((None, factor, span),), span))
            if isinstance(op, ast.Add) and isinstance(left, Tensor) and isinstance(right, Tensor):
                return self.residual(left, right, node)
            number = self.with_number(op, left, right, node)
            if number is not None:
                return number
            if isinstance(op, ast.Div) and isinstance(left, Tensor) and isinstance(right, Const):
                mean = self.mean_of_sum(left, right, node)
                if mean is not None:
                    return mean
            if isinstance(op, ast.Mult) and isinstance(left, Tensor) and isinstance(right, Tensor):
                return self.elementwise("mul", [left, right], node)  # gating: a * torch.sigmoid(b)
            if isinstance(op, ast.MatMult) and isinstance(left, Tensor) and isinstance(right, Tensor):
                return self.elementwise("matmul", [left, right], node)  # q @ k.transpose(1, 2)
            raise self.fail(
                f"`{_short(node)}`: archc lifts sums and products of two tensors, and a tensor plus, "
                "minus, times or divided by a number (out + x, a * b, x - 0.5, x / 4), not this operation",
                node,
            )
        symbol = _OPS.get(type(op))
        if symbol is None:
            raise self.fail(f"the operator in `{_short(node)}` is not supported", node)
        if isinstance(left, _AXIS) or isinstance(right, _AXIS):
            return self.axis_arith(symbol, left, right, node)
        if isinstance(left, Sym) or isinstance(right, Sym):
            if symbol == "**" or not all(_numeric(v) for v in (left, right)):
                raise self.fail(f"`{_short(node)}` on a block parameter is not supported", node)
            span = self.span(node)
            return Sym(s.BinOp(symbol, self.to_expr(left, span, marked=True),
                               self.to_expr(right, span, marked=True), span))
        if isinstance(left, Const) and isinstance(right, Const):
            result = self.arith(symbol, left.value, right.value, node)
            if (left.expr is None and right.expr is None) or not all(
                _is_num(v.value) for v in (left, right)
            ):
                return Const(result)
            span = self.span(node)
            return Const(result, s.BinOp(symbol, self.to_expr(left, span, marked=True),
                                           self.to_expr(right, span, marked=True), span))
        if isinstance(left, TupleV) and isinstance(right, TupleV) and symbol == "+":
            return TupleV(left.items + right.items)
        if isinstance(left, (TupleV, ListV)) and isinstance(right, Const) and symbol == "*":
            if any(isinstance(i, ModV) for i in _flat(left)):
                raise self.fail(
                    "repeating a list of modules with `*` shares one module between places",
                    node,
                    help="build a new module each time: `[Block() for _ in range(n)]`",
                )
            count = right.value
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 10_000:
                raise self.fail(f"`{_short(node)}` is not supported", node)
            items = list(left.items) * count
            return ListV(items) if isinstance(left, ListV) else TupleV(tuple(items))
        if isinstance(left, ListV) and isinstance(right, (ListV, TupleV)) and symbol == "+":
            return ListV([*left.items, *right.items])
        raise self.fail(
            f"`{_short(node)}` between a {describe(left)} and a {describe(right)} is not supported", node
        )

    def axis_arith(self, symbol: str, left: Val, right: Val, node: ast.AST) -> Val:
        """Arithmetic on axis sizes: products of sizes of one tensor (what a view merges) and a
        size plus or minus a number (the stop of a crop). Other sizes are known only once shapes
        are checked, so other arithmetic on them is refused."""
        span = self.span(node)

        def sizes(v: Val) -> tuple[AxisSize, ...] | None:
            if isinstance(v, AxisSize):
                return (v,)
            return v.sizes if isinstance(v, AxisProduct) else None

        a, b = sizes(left), sizes(right)
        if symbol == "*" and a is not None and b is not None:
            if a[0].tensor_ids[-1] != b[0].tensor_ids[-1]:
                raise self.fail(f"`{_short(node)}` multiplies sizes of two different tensors", node)
            return AxisProduct((*a, *b), span)
        offset_ok = (Const, Sym)
        if symbol in ("+", "-"):
            if isinstance(left, AxisSize) and isinstance(right, offset_ok) and _numeric(right):
                return AxisOffset(left, right if symbol == "+" else self.negate(right, node), span)
            if isinstance(left, AxisOffset) and isinstance(right, offset_ok) and _numeric(right):
                op = ast.Add() if symbol == "+" else ast.Sub()
                return AxisOffset(left.size, self.binop(op, left.offset, right, node), span)
            if isinstance(right, AxisSize) and isinstance(left, offset_ok) and symbol == "+" and (
                _numeric(left)
            ):
                return AxisOffset(right, left, span)
        raise self.fail(
            f"`{_short(node)}`: the sizes of axes other than the batch are known only once shapes are "
            "checked; archc lifts them in a view that merges axes (`x.view(b, c * l)`) and in the stop "
            "of a slice (`x[:, :, 5 : x.shape[-1] - 5]`)",
            node,
            help="write the size as a number, or the view as x.flatten(1)",
        )

    def str_method(self, text: str, name: str, args: list[tuple[Val, ast.expr]],
                   kwargs: dict[str, tuple[Val, ast.expr]], node: ast.Call) -> Val:
        """`"bpnet.{}.{}".format(n, k)`, `name.lower()`: strings a model builds for its name or a
        choice. `format` fills plain fields only (`{}`, `{0}`, `{key}`), never attributes or specs."""
        values = [v for v, _ in args]
        plain = all(isinstance(v, Const) and isinstance(v.value, (str, int, float, bool)) for v in
                    [*values, *(v for v, _ in kwargs.values())])
        if not plain:
            raise self.fail(f"`{_short(node)}` is given a value archc cannot read as text", node)
        items = [v.value for v in values if isinstance(v, Const)]
        named = {k: v.value for k, (v, _) in kwargs.items() if isinstance(v, Const)}
        if name == "format":
            out, auto = [], 0
            try:
                parsed = list(string.Formatter().parse(text))
            except ValueError:
                raise self.fail("this format string is malformed", node) from None
            for literal, field_name, spec, conversion in parsed:
                out.append(literal)
                if field_name is None:
                    continue
                if spec or conversion or not (field_name == "" or field_name.isdigit() or
                                              field_name.isidentifier()):
                    raise self.fail("archc fills plain format fields (`{}`, `{0}`, `{name}`)", node)
                if field_name == "":
                    field_name, auto = str(auto), auto + 1
                got = (items[int(field_name)] if field_name.isdigit() and int(field_name) < len(items)
                       else named.get(field_name))
                if got is None:
                    raise self.fail(f"the format field `{{{field_name}}}` is not given", node)
                out.append(str(got))
            return Const("".join(out))
        if kwargs or (name in ("lower", "upper", "strip") and items) or (
            name in ("startswith", "endswith") and (len(items) != 1 or not isinstance(items[0], str))
        ):
            raise self.fail(f"`{_short(node)}` is not supported", node)
        if name in ("startswith", "endswith"):
            return Const(getattr(text, name)(items[0]))
        return Const(getattr(text, name)())

    def rounded(self, value: Val, how: str, node: ast.AST) -> s.Expr | None:
        """_rounded_expr, noting the parameters a size stops following when it is written as
        its number (`int(round(n * 1.5 / 8) * 8)`)."""
        expr = _rounded_expr(value, how, self.span(node), self.floats) if how else None
        if expr is None and isinstance(value, Const) and value.expr is not None:
            names = sorted(_expr_vars(value.expr))
            if set(names) - self.unfollowed:
                self.unfollowed.update(names)
                note = (f"`{_short(node)}` at line {getattr(node, 'lineno', 0)} is written as its value: "
                        f"it does not follow {', '.join(names)} (lift again with --set to change them)")
                if note not in self.notes:
                    self.notes.append(note)
        return expr

    def show_value(self, value: Val) -> str:
        if isinstance(value, (TupleV, ListV)):
            return "[" + ", ".join(self.show_value(v) for v in value.items) + "]"
        return repr(value.value) if isinstance(value, Const) else describe(value)

    def negate(self, value: Val, node: ast.AST) -> Val:
        """-value, for a whole number or one that follows a constructor argument."""
        span = self.span(node)

        def neg(expr: s.Expr) -> s.Expr:
            if isinstance(expr, s.Neg):
                return expr.operand
            if isinstance(expr, s.BinOp) and expr.op == "+" and isinstance(expr.left, s.Neg):
                return s.BinOp("-", expr.left.operand, expr.right, span)  # -(-a + b) is a - b
            if isinstance(expr, s.BinOp) and expr.op == "-":
                return s.BinOp("-", expr.right, expr.left, span)  # -(a - b) is b - a
            return s.Neg(expr, span)

        if isinstance(value, Sym):
            return Sym(neg(value.expr))
        if isinstance(value, Const) and value.expr is not None and _is_num(value.value):
            return Const(-value.value, neg(value.expr))  # type: ignore[operator]
        if isinstance(value, Const) and _is_num(value.value):
            return Const(-value.value)  # type: ignore[operator]
        raise self.fail(f"`{_short(node)}` is not supported", node)

    def arith(self, symbol: str, a: object, b: object, node: ast.AST) -> int | float | str:
        if isinstance(a, str) and isinstance(b, str) and symbol == "+":
            return a + b
        if not (_is_num(a) and _is_num(b)):
            raise self.fail(f"`{_short(node)}` needs numbers", node)
        assert isinstance(a, (int, float)) and isinstance(b, (int, float))
        if symbol in ("/", "//", "%") and b == 0:
            raise self.fail("division by zero", node)
        if symbol == "**" and (abs(b) > 64 or abs(a) > 10**6):
            raise self.fail("this power is too large to follow", node)
        result: int | float
        if symbol == "+":
            result = a + b
        elif symbol == "-":
            result = a - b
        elif symbol == "*":
            result = a * b
        elif symbol == "/":
            result = a / b
        elif symbol == "//":
            result = a // b
        elif symbol == "%":
            result = a % b
        else:
            result = a**b
        if isinstance(result, complex) or abs(result) > MAX_INT:
            raise self.fail("this number is too large to follow", node)
        if isinstance(result, float) and not math.isfinite(result):
            raise self.fail("this computation gives a non-finite number", node)
        return result

    def compare(self, node: ast.Compare, frame: Frame) -> Val:
        left = self.eval(node.left, frame)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator, frame)
            if isinstance(op, (ast.Is, ast.IsNot)) and isinstance(left, (ArgObject, DictV)) and (
                right == Const(None)
            ):
                ok = isinstance(op, ast.IsNot)  # an object argument is given, not None
            elif isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (DictV, ArgObject)):
                key = self.concrete(left, node)
                if isinstance(right, ArgObject):
                    raise self.fail(f"whether the argument `{right.arg}` holds a key cannot be decided "
                                    "statically", node)
                ok = (key in right.items) == isinstance(op, ast.In)
            elif isinstance(op, (ast.Is, ast.IsNot)) and Const(None) in (left, right) and any(
                isinstance(v, (ModV, ModListV, ModDictV, Tensor, TupleV, ListV, DictV)) for v in (left, right)
            ):
                ok = isinstance(op, ast.IsNot)  # `self.bn is not None` of a module: it is one
            elif isinstance(op, (ast.Is, ast.IsNot)):
                same = isinstance(left, Const) and isinstance(right, Const) and left.value is right.value
                if not (isinstance(left, Const) and isinstance(right, Const)):
                    self.sym_condition = {n for v in (left, right) if isinstance(v, Sym)
                                          for n in var_names(v.expr)}
                    raise self.fail(f"`{_short(node)}` cannot be decided statically", node)
                ok = same if isinstance(op, ast.Is) else not same
            else:
                a, b = self.concrete(left, node), self.concrete(right, node)
                try:
                    ok = _COMPARE[type(op)](a, b)
                except (KeyError, TypeError):
                    raise self.fail(f"`{_short(node)}` cannot be decided statically", node) from None
            if not ok:
                return Const(False)
            left = right
        return Const(True)

    def concrete(self, value: Val, node: ast.AST) -> object:
        if isinstance(value, Const):
            return value.value
        if isinstance(value, (TupleV, ListV)):
            return tuple(self.concrete(v, node) for v in value.items)
        if isinstance(value, Sym):
            # A helper's argument: its callers lift the helper at their values (lift_helper).
            self.sym_condition = var_names(value.expr)
            shown = ", ".join(f"`{n}`" for n in sorted(self.sym_condition)) or "a block parameter"
            owner = f" of the helper `{self.lifting[-1]}`" if len(self.lifting) > 1 else ""
            raise self.fail(f"a number computed from {shown}{owner} is used where archc needs a known value",
                            node)
        raise self.fail(f"a {describe(value)} is used where archc needs a known value", node)

    def comprehension(self, node: ast.ListComp | ast.GeneratorExp | ast.DictComp, frame: Frame) -> list[Val]:
        """The items; of a dict comprehension, (key, value) pairs."""
        if len(node.generators) != 1 or node.generators[0].is_async:
            raise self.fail("a comprehension with several `for`s is not supported", node)
        gen = node.generators[0]
        inner = Frame(dict(frame.names), frame.self_v, frame.depth, frame.cls, frame.globals)
        out: list[Val] = []
        for item in self.iterate(self.eval(gen.iter, frame), gen.iter):
            self.assign(gen.target, item, inner)
            if all(self.truth(self.eval(cond, inner), cond) for cond in gen.ifs):
                if isinstance(node, ast.DictComp):
                    out.append(TupleV((self.eval(node.key, inner), self.eval(node.value, inner))))
                else:
                    out.append(self.eval(node.elt, inner))
        return out

    def fstring(self, node: ast.JoinedStr, frame: Frame) -> str:
        parts = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                parts.append(str(value.value))
            elif isinstance(value, ast.FormattedValue) and not value.format_spec and value.conversion < 0:
                item = self.concrete(self.eval(value.value, frame), value)
                if not isinstance(item, (int, str)):
                    raise self.fail("only whole numbers and strings are formatted statically", value)
                parts.append(str(item))
            else:
                raise self.fail("this f-string is not supported", value)
        return "".join(parts)

    def subscript(self, owner: Val, node: ast.Subscript, frame: Frame) -> Val:
        if isinstance(owner, Tensor):
            return self.tensor_index(owner, node, frame)
        if isinstance(owner, Method) and owner.name == "shape" and isinstance(owner.target, Tensor):
            if owner.target.ids[0] in self.dry:
                return DrySize(self.span(node))
            index = self.eval(node.slice, frame)
            if isinstance(index, Const) and index.value == 0:
                return Batch()
            if isinstance(index, Const) and _whole(index.value):
                return AxisSize(owner.target.ids, int(index.value), self.span(node))  # type: ignore[arg-type]
            raise self.fail("only the batch size (`x.shape[0]`) is known before shapes are checked", node,
                            help="write the size as a number")
        if isinstance(owner, ModListV) and isinstance(node.slice, ast.Slice):
            return self.list_slice(owner, node.slice, frame)
        if isinstance(owner, (TupleV, ListV)) and isinstance(node.slice, ast.Slice):
            # `dims[:-1]`, `dims[1:]`: a slice of a list or tuple known statically
            part = slice(*self.slice_bounds(node.slice, frame))
            if isinstance(owner, TupleV):
                return TupleV(tuple(owner.items[part]))
            return ListV(list(owner.items[part]))
        index = self.eval(node.slice, frame)
        if isinstance(owner, LstmStates):
            return self.lstm_state(owner, index, node)
        if isinstance(owner, (DictV, ArgObject)):
            if not (isinstance(index, Const) and isinstance(index.value, str)):
                raise self.fail(f"`{_short(node)}`: archc reads dict entries by a string key", node.slice)
            if isinstance(owner, ArgObject):
                return self.field_of(owner, index.value, None, node)
            if index.value not in owner.items:
                raise self.fail(f"the dict has no key {index.value!r}", node.slice)
            return owner.items[index.value]
        if isinstance(owner, ModDictV):
            if not (isinstance(index, Const) and isinstance(index.value, str)):
                raise self.fail(f"`{_short(node)}`: archc reads nn.ModuleDict entries by a string key",
                                node.slice)
            if index.value not in owner.items:
                raise self.fail(f"the nn.ModuleDict has no key {index.value!r}", node.slice)
            return ModV(owner.items[index.value])
        if isinstance(owner, ModListV) and isinstance(index, Const) and _whole(index.value):
            if not -len(owner.items) <= index.value < len(owner.items):  # type: ignore[operator]
                raise self.fail("index out of range", node)
            return ModV(owner.items[index.value])  # type: ignore[index]
        if isinstance(owner, Pair):
            if isinstance(index, Const) and index.value in (0, -2):
                return owner.first
            if isinstance(index, Const) and index.value in (1, -1):
                return owner.second if not isinstance(owner.second, Opaque) else Opaque(
                    owner.second.what, self.span(node))
        if isinstance(owner, (TupleV, ListV)) and isinstance(index, Const) and isinstance(index.value, int):
            try:
                return owner.items[index.value]
            except IndexError:
                raise self.fail("index out of range", node) from None
        if isinstance(owner, Const) and isinstance(owner.value, str) and isinstance(index, Const):
            try:
                return Const(owner.value[index.value])  # type: ignore[index]
            except (IndexError, TypeError):
                raise self.fail("index out of range", node) from None
        raise self.fail(f"`{_short(node)}`: indexing a {describe(owner)} is not supported", node)

    def slice_bounds(self, node: ast.Slice, frame: Frame) -> list[int | None]:
        """`a:b:c` of a list: whole numbers known statically, or left out."""
        bounds: list[int | None] = []
        for part in (node.lower, node.upper, node.step):
            value = None if part is None else self.eval(part, frame)
            if value is not None and not (isinstance(value, Const) and _whole(value.value)):
                raise self.fail("a slice of a list takes whole numbers known statically", part or node)
            bounds.append(None if value is None else int(value.value))  # type: ignore[arg-type]
        if bounds[2] == 0:
            raise self.fail("a slice step cannot be zero", node)
        return bounds

    def list_slice(self, owner: ModListV, node: ast.Slice, frame: Frame) -> ModListV:
        """`self.layers[1:]`: the items it holds, remembered as part of `self.layers`."""
        bounds = self.slice_bounds(node, frame)
        base, offsets = self.list_views.get(id(owner), (owner, tuple(range(len(owner.items)))))
        picked = offsets[slice(*bounds)]
        view = ModListV([base.items[i] for i in picked], "", (), owner.span)
        self.list_views[id(view)] = (base, picked)
        self.keep.append(view)  # ids stay unique while the view is remembered
        return view

    def tensor_index(self, tensor: Tensor, node: ast.Subscript, frame: Frame) -> Val:
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        picks: list[tuple[int, int]] = []
        bounded: list[tuple[int, ast.Slice]] = []
        ellipsis = -1
        for pos, elt in enumerate(elts):
            if isinstance(elt, ast.Slice):
                if elt.step is not None:
                    step = self.eval(elt.step, frame)
                    if step != Const(1) and step != Const(None):
                        raise self.fail(f"the step of the slice in `{_short(node)}` is not supported; "
                                        "archc lifts slices that drop positions at the ends", elt)
                if elt.lower or elt.upper:
                    bounded.append((pos, elt))
                continue
            if isinstance(elt, ast.Constant) and elt.value is Ellipsis:
                if ellipsis >= 0:
                    raise self.fail("two `...` in one index", elt)
                ellipsis = pos
                continue
            value = self.eval(elt, frame)
            if not (isinstance(value, Const) and isinstance(value.value, int)
                    and not isinstance(value.value, bool)):
                raise self.fail(f"`{_short(node)}`: only whole-number positions are supported", elt)
            picks.append((pos, value.value))
        if bounded:
            if len(bounded) != 1 or picks:
                raise self.fail(f"`{_short(node)}`: archc lifts a slice of one axis (a crop) or one "
                                "position of one axis, not both or several", node)
            pos, elt = bounded[0]
            dim = pos if ellipsis < 0 or pos < ellipsis else pos - len(elts)
            return self.crop_slice(tensor, dim, elt, frame)
        if len(picks) != 1:
            raise self.fail(f"`{_short(node)}`: archc takes exactly one position of one axis", node)
        pos, index = picks[0]
        dim = pos if ellipsis < 0 or pos < ellipsis else pos - len(elts)
        span = self.span(node)
        return self.step(tensor, FLayer("select", (("dim", Const(dim), span), ("index", Const(index), span)),
                                        span))

    def crop_slice(self, tensor: Tensor, dim: int, elt: ast.Slice, frame: Frame) -> Val:
        """`x[:, :, a:-b]`, `x[..., a : x.shape[-1] - b]`: a crop of one axis, `a` positions from
        the start and `b` from the end (numbers or constructor arguments)."""
        span = self.span(elt)
        shown = ast.unparse(elt)
        left: Val = Const(0)
        if elt.lower is not None:
            left = self.eval(elt.lower, frame)
            if not _numeric(left) or (isinstance(left, Const) and not _whole(left.value)):
                raise self.fail(f"the start of the slice `{shown}` must be a whole number", elt.lower)
            if isinstance(left, Const) and left.value < 0:  # type: ignore[operator]
                raise self.fail(
                    f"the slice `{shown}` keeps the last positions of an axis; archc lifts slices that "
                    "drop positions at both ends (`x[:, :, a:-b]`)", elt.lower,
                )
        right: Val = Const(0)
        axis_dim: Val = Const(None)
        if elt.upper is not None:
            stop = self.eval(elt.upper, frame)
            if isinstance(stop, (AxisSize, AxisOffset)):
                size = stop if isinstance(stop, AxisSize) else stop.size
                of_input = size.tensor_ids == (self.top_start,) and tensor.ids[0] == self.top_start
                if size.tensor_ids[-1] != tensor.ids[-1] and not of_input:
                    raise self.fail(f"the slice `{shown}` stops at a size of another tensor; archc lifts "
                                    "stops counted from the end of the axis sliced, or from the end of "
                                    "the input (`X.shape[2] - t`)", elt.upper)
                axis_dim = Const(size.dim)
                if size.tensor_ids[-1] != tensor.ids[-1]:
                    # Counted from the end of the input: a crop when the sliced tensor is as long as
                    # the input, which the shape check confirms (Interp.input_crops).
                    self.input_crops[span] = (size.dim, shown)
                    axis_dim = Const(None)
                right = Const(0) if isinstance(stop, AxisSize) else self.negate(stop.offset, elt.upper)
            elif isinstance(stop, Const) and _whole(stop.value) and stop.value < 0:  # type: ignore[operator]
                right = self.negate(stop, elt.upper)
            elif isinstance(stop, Sym) and isinstance(stop.expr, s.Neg):
                right = Sym(stop.expr.operand)
            elif isinstance(stop, Const) and _whole(stop.value) and stop.expr is not None and isinstance(
                stop.expr, s.Neg
            ):
                right = Const(-stop.value, stop.expr.operand)  # type: ignore[operator]
            else:
                raise self.fail(
                    f"the stop of the slice `{shown}` depends on the axis length; archc lifts stops "
                    "counted from the end (`-b`, `x.shape[-1] - b`)", elt.upper,
                )
        if isinstance(right, Const) and isinstance(right.value, int) and right.value < 0:
            raise self.fail(f"the slice `{shown}` stops past the end of the axis", elt.upper or elt)
        return self.step(tensor, FLayer("slice", (
            ("dim", Const(dim), span), ("left", left, span), ("right", right, span), ("axis", axis_dim, span),
        ), span))

    # ------------------------------------------------------------ calls

    def call(self, node: ast.Call, frame: Frame) -> Val:
        value = self.call_value(node, frame)
        if self.loop_stack and isinstance(value, ModV):
            self.origin.setdefault(value.node, self.loop_stack[-1])  # made in a constructor loop
        return value

    def call_value(self, node: ast.Call, frame: Frame) -> Val:
        func = self.eval(node.func, frame)
        if isinstance(func, Namespace) and func.qualname in ("torch.nn.ModuleList",
                                                             "torch.nn.modules.container.ModuleList"):
            return self.module_list(node, frame)
        if isinstance(func, Namespace) and func.qualname in ("torch.nn.ModuleDict",
                                                             "torch.nn.modules.container.ModuleDict"):
            return self.module_dict(node, frame)
        if isinstance(func, Namespace) and func.qualname in _RAW_PARAMETERS:
            if self.raw_mode and node.args:
                return self.raw_param(node.args[0], frame)
            # Said before its arguments (torch.zeros(...)) are read: the parameter is the construct.
            raise self.fail(
                "raw parameters (nn.Parameter) are lifted only as the `weight` and `bias` of a helper "
                "module whose forward is one F.conv1d, F.conv2d or F.linear call on them", node,
                help="archc lifts weights held by torch.nn layers; write the computation as a layer "
                "(nn.Conv1d, nn.Linear, ...), or keep this part in PyTorch",
            )
        args: list[tuple[Val, ast.expr]] = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                args.extend((v, arg) for v in self.iterate(self.eval(arg.value, frame), arg))
            else:
                args.append((self.eval(arg, frame), arg))
        kwargs: dict[str, tuple[Val, ast.expr]] = {}
        for kw in node.keywords:
            if kw.arg is None:
                for key, value in self.entries(self.eval(kw.value, frame), kw.value).items():
                    kwargs[key] = (value, kw.value)
                continue
            kwargs[kw.arg] = (self.eval(kw.value, frame), kw.value)
        if isinstance(func, Namespace):
            return self.call_namespace(func.qualname, args, kwargs, node, frame)
        if isinstance(func, BuiltinRef):
            return self.call_builtin(func.name, args, kwargs, node, frame)
        if isinstance(func, ClassRef):
            return self.instantiate(func.name, args, kwargs, node)
        if isinstance(func, FuncRef):
            return self.call_function(func, args, kwargs, node, frame)
        if isinstance(func, ModV):
            return self.call_module(func, args, kwargs, node, frame)
        if isinstance(func, Method):
            return self.call_method(func, args, kwargs, node, frame)
        if isinstance(func, Sym) and self.forwarding:
            # `self.fn(x)` in a wrapper such as `Residual(fn)`: the module is a constructor argument
            # (a call that builds it in place lifts the helper with it: lift_helper)
            self.sym_condition = var_names(func.expr)
            raise self.fail(
                f"`{_short(node)}` calls a module given to the block's constructor; archc lifts blocks "
                "that build their modules themselves", node,
                help="build the module inside the block, or write the wrapper's step in the model "
                "(`x = x + self.conv(x)`)")
        raise self.fail(f"calling a {describe(func)} is not supported", node)

    def entries(self, value: Val, node: ast.expr) -> dict[str, Val]:
        """What `**value` passes: a dict's entries; for an object argument, its default entries and
        the fields --set gives (each a parameter)."""
        if isinstance(value, DictV):
            return dict(value.items)
        if isinstance(value, ArgObject) and value.is_dict:
            keys = [k for k, _ in value.known]
            for name in self.given:
                key = name[len(value.prefix):]
                if name.startswith(value.prefix) and key and key not in keys and (
                    value.prefix or name not in (*value.exclude, "length", "alphabet", "classes")
                ):
                    keys.append(key)
            return {key: self.field_of(value, key, None, node) for key in keys}
        raise self.fail(f"`**` of a {describe(value)} is not supported", node)

    def module_dict(self, node: ast.Call, frame: Frame) -> ModDictV:
        """`nn.ModuleDict({"profile": ..., "counts": ...})`, `nn.ModuleDict([(key, module), ...])`
        or `nn.ModuleDict()` filled by `self.heads[key] = ...`."""
        if node.keywords or len(node.args) > 1:
            raise self.fail("nn.ModuleDict takes one dict of modules", node)
        out = ModDictV({}, self.span(node))
        if not node.args:
            return out
        given = self.eval(node.args[0], frame)
        pairs: list[tuple[Val, Val]]
        if isinstance(given, DictV):
            pairs = [(Const(k), v) for k, v in given.items.items()]
        else:
            pairs = []
            for item in self.iterate(given, node.args[0]):
                if not (isinstance(item, TupleV) and len(item.items) == 2):
                    raise self.fail("nn.ModuleDict takes a dict of modules, or (key, module) pairs",
                                    node.args[0])
                pairs.append((item.items[0], item.items[1]))
        for key, value in pairs:
            self.dict_entry(out, key, value, node.args[0])
        return out

    def dict_entry(self, owner: ModDictV, key: Val, value: Val, node: ast.AST) -> None:
        if not (isinstance(key, Const) and isinstance(key.value, str)):
            raise self.fail("nn.ModuleDict keys are strings", node)
        if not isinstance(value, ModV):
            raise self.fail(f"nn.ModuleDict holds modules, not a {describe(value)}", node)
        if not _plain_name(key.value) or keyword.iskeyword(key.value) or key.value in s.KEYWORDS:
            raise self.fail(f"the nn.ModuleDict key {key.value!r} is not a name archc can write "
                            "(`heads.KEY`: letters, digits and `_`)", node)
        owner.items[key.value] = value.node

    def module_list(self, node: ast.Call, frame: Frame) -> Val:
        """`nn.ModuleList([ELT for VAR in range(...)])`: the items keep how they follow VAR.
        `nn.ModuleList()` (appended to later) and `nn.ModuleList(layers)` of modules made before
        hold their items as they are."""
        if not node.args and not node.keywords:
            return ModListV([], "", (), self.span(node))
        comp = node.args[0] if len(node.args) == 1 and not node.keywords else None
        gen0 = comp.generators[0] if isinstance(comp, (ast.ListComp, ast.GeneratorExp)) else None
        over_range = gen0 is not None and isinstance(gen0.iter, ast.Call) and isinstance(
            gen0.iter.func, ast.Name) and gen0.iter.func.id == "range"
        if comp is not None and not over_range:
            # a list of modules made before, or a comprehension over something else: the items as made
            value = self.eval(comp, frame)
            given = value.items if isinstance(value, (ListV, TupleV)) else None
            if given is None or not all(isinstance(i, ModV) for i in given):
                raise self.fail("nn.ModuleList takes a list of modules", comp)
            return ModListV([i.node for i in given if isinstance(i, ModV)], "", (), self.span(node))
        gen = comp.generators[0] if isinstance(comp, (ast.ListComp, ast.GeneratorExp)) and len(
            comp.generators) == 1 else None
        if (
            comp is None or gen is None or gen.ifs or gen.is_async
            or not isinstance(gen.target, ast.Name)
            or not (isinstance(gen.iter, ast.Call) and isinstance(gen.iter.func, ast.Name)
                    and gen.iter.func.id == "range" and "range" not in frame.names and not gen.iter.keywords)
        ):
            raise self.fail("nn.ModuleList is supported as `nn.ModuleList([layer for i in range(n)])`, "
                            "`nn.ModuleList(layers)` and `nn.ModuleList()` with `append`",
                            node, help="use nn.Sequential when the layers run one after another")
        assert isinstance(comp, (ast.ListComp, ast.GeneratorExp)) and isinstance(gen.target, ast.Name)
        var = gen.target.id
        if not _plain_name(var) or var in RESERVED_PARAMS or var.startswith("_"):
            var = "i"
        bounds = [self.eval(a, frame) for a in gen.iter.args]
        numbers = self.call_builtin("range", [(b, node) for b in bounds], {}, node, frame)
        assert isinstance(numbers, ListV)
        items: list[ModNode] = []
        inner = Frame(dict(frame.names), frame.self_v, frame.depth, frame.cls, frame.globals)
        for number in numbers.items:
            assert isinstance(number, Const)
            inner.names[gen.target.id] = Const(number.value, s.Var(var, self.span(gen.target)))
            item = self.eval(comp.elt, inner)
            if not isinstance(item, ModV):
                raise self.fail(f"nn.ModuleList takes modules, not a {describe(item)}", comp.elt)
            items.append(item.node)
        if not items:
            raise self.fail("an empty nn.ModuleList is not supported", node)
        return ModListV(items, var, tuple(bounds), self.span(node))

    def wrapped_lists(self, stmt: ast.For, frame: Frame) -> tuple[ModListV, tuple[ModListV, ...]] | None:
        """`for conv, pool in zip(self.convs, self.pools)` or `for i, block in enumerate(self.blocks)`
        in forward: the list with weights the loop runs over, and the lists zipped (one, for
        enumerate)."""
        owner = frame.self_v
        it = stmt.iter
        if (owner is None or not owner.in_forward or not isinstance(it, ast.Call)
                or not isinstance(it.func, ast.Name) or it.func.id not in ("zip", "enumerate")
                or it.func.id in frame.names or it.keywords or not it.args):
            return None
        values = [self.eval(a, frame) for a in it.args]
        if it.func.id == "enumerate":
            if len(values) != 1 or not isinstance(values[0], ModListV):
                return None
            return values[0], ()
        if not all(isinstance(v, ModListV) for v in values):
            return None
        lists = [v for v in values if isinstance(v, ModListV)]
        if any(len(m.items) != len(lists[0].items) for m in lists):
            raise self.fail("the module lists zipped here have different lengths", it)
        weighted = [m for m in lists if not all(_weightless(i) for i in m.items)]
        if len(weighted) > 1:
            raise self.fail("the loop runs over several module lists with weights at once; archc lifts "
                            "a loop over one of them", stmt)
        return (weighted or lists)[0], tuple(lists)

    def indexed_list(self, stmt: ast.For, looped: Val, frame: Frame) -> ModListV | None:
        """`for i in range(self.n_layers): x = x + self.relus[i](self.convs[i](x))` in forward:
        the module list with weights the body indexes by `i` (lists of weightless layers, like
        the ReLUs, are their steps), when `i` runs over its items in order."""
        owner = frame.self_v
        if owner is None or not owner.in_forward or not isinstance(stmt.target, ast.Name):
            return None
        var = stmt.target.id
        lists: list[ModListV] = []
        for sub in ast.walk(ast.Module(body=stmt.body, type_ignores=[])):
            if (isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Name) and sub.slice.id == var
                    and isinstance(sub.value, ast.Attribute) and isinstance(sub.value.value, ast.Name)
                    and isinstance(frame.names.get(sub.value.value.id), SelfV)):
                value = owner.attrs.get(sub.value.attr)
                if isinstance(value, ModListV) and value not in lists:
                    lists.append(value)
        weighted = [m for m in lists if not all(_weightless(i) for i in m.items)]
        if not lists:
            return None
        if len(weighted) > 1:
            raise self.fail("the loop indexes several module lists with weights by one index; archc lifts "
                            "a loop over one of them", stmt)
        chosen = weighted[0] if weighted else lists[0]
        numbers = [v.value for v in self.iterate(looped, stmt.iter) if isinstance(v, Const)]
        if numbers != list(range(len(chosen.items))) or any(len(m.items) != len(chosen.items) for m in lists):
            raise self.fail("the loop's index must run over every item of the module lists it indexes, in "
                            "order (`for i in range(len(self.layers))`)", stmt.iter)
        return chosen

    def loop_modules(self, stmt: ast.For, mods: ModListV, frame: Frame, by_index: bool = False,
                     wrapped: tuple[ModListV, ...] | None = None) -> None:
        """`for m in self.layers:` in forward: the body once per item, on one tensor variable
        (`by_index`: `for i in range(n)` with the body indexing the list by `i`; `wrapped`: the
        lists of `zip(...)`, or none for `enumerate(...)`)."""
        owner = frame.self_v
        base, indices = self.list_views.get(id(mods), (mods, None))
        name = next((k for k, v in (owner.attrs.items() if owner else ()) if v is base), None)
        if owner is None or not owner.in_forward or name is None:
            raise self.fail("a loop over an nn.ModuleList is supported in forward, over self.<list>", stmt)
        before = {k: v for k, v in frame.names.items() if isinstance(v, Tensor)}
        iterations: list[tuple[FOp, ...]] = []
        carried: str | None = None
        start: Tensor | None = None
        collecting = False
        lists = {id(v): (v, len(v.items)) for v in frame.names.values() if isinstance(v, ListV)}
        for index, item in enumerate(mods.items):
            self.current_item[id(item)] = (name, index if indices is None else indices[index])
            prev = {k: v for k, v in frame.names.items() if isinstance(v, Tensor)}
            value: Val = Const(index) if by_index else ModV(item)
            if wrapped is not None:
                value = TupleV(tuple(ModV(m.items[index]) for m in wrapped)) if wrapped else TupleV(
                    (Const(index), value))
            self.assign(stmt.target, value, frame)
            self.in_loop += 1
            try:
                self.exec_body(stmt.body, frame)
            finally:
                self.in_loop -= 1
            changed = [k for k, v in prev.items() if k in before and frame.names.get(k) is not v]
            if index == 0 and not changed:
                collecting = True  # `outs.append(m(x))`: the branches a merge joins later
            elif index == 0:
                collecting = False
            if collecting:
                if changed:
                    raise self.fail("the loop body must update exactly one tensor of forward "
                                    "(`x = layer(x)`), or collect its outputs (`outs.append(m(x))`)", stmt)
                continue
            if carried is None:
                if len(changed) != 1:
                    raise self.fail("the loop body must update exactly one tensor of forward "
                                    "(`x = layer(x)`), or collect its outputs (`outs.append(m(x))`)", stmt)
                carried = changed[0]
                start = before[carried]
            new = frame.names.get(carried)
            old = prev[carried]
            if not (isinstance(new, Tensor) and new.ids[: len(old.ids)] == old.ids):
                raise self.fail(f"the loop body must compute `{carried}` from its previous value", stmt)
            iterations.append(new.ops[len(old.ops):])
        if collecting and not any(len(v.items) > n for v, n in lists.values()):
            raise self.fail("the loop body must update exactly one tensor of forward (`x = layer(x)`), "
                            "or collect its outputs (`outs.append(m(x))`)", stmt)
        for key, value in list(frame.names.items()):
            if isinstance(value, Tensor) and key != carried and before.get(key) is not value:
                frame.names[key] = Opaque(f"`{key}` (a tensor of the loop body)", self.span(stmt))
        if carried is not None and start is not None:
            loop = FLoop(name, tuple(iterations), self.span(stmt), indices)
            frame.names[carried] = self.step(start, loop)

    def call_function(
        self, func: FuncRef, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
        node: ast.Call, frame: Frame,
    ) -> Val:
        fn = func.node
        if frame.depth >= MAX_DEPTH:
            raise self.fail("calls nest too deeply to follow", node)
        spec = fn.args
        if spec.vararg or spec.kwarg or spec.posonlyargs or spec.kwonlyargs:
            raise self.fail(f"calling `{fn.name}`: only plain parameters are supported", node)
        names = [a.arg for a in spec.args]
        given: list[Val] = [func.bound] if func.bound is not None else []
        given.extend(v for v, _ in args)
        if len(given) > len(names):
            raise self.fail(f"`{fn.name}` takes {len(names)} arguments", node)
        # A nested def reads the names of the function it is defined in (as they are when called).
        inner = Frame(dict(func.closure or {}), func.bound, frame.depth + 1, self.owner.get(id(fn)),
                      self.home(fn))
        defaults = dict(zip(reversed(names), reversed(spec.defaults), strict=False))
        for i, name in enumerate(names):
            if i < len(given):
                inner.names[name] = given[i]
            elif name in kwargs:
                inner.names[name] = kwargs.pop(name)[0]
            elif name in defaults:
                inner.names[name] = self.eval(defaults[name], Frame({}, None, globals=self.home(fn)))
            else:
                raise self.fail(f"`{fn.name}` needs `{name}`", node)
        if kwargs:
            raise self.fail(f"`{fn.name}` has no parameter `{next(iter(kwargs))}`", node)
        try:
            self.exec_body(fn.body, inner)
        except _Return as ret:
            return ret.value
        return Const(None)

    def call_builtin(
        self, name: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
        node: ast.Call, frame: Frame,
    ) -> Val:
        values = [v for v, _ in args]
        if name == "isinstance" and len(values) == 2 and not kwargs and isinstance(values[0], ModV):
            # `isinstance(layer, nn.Conv1d)` over a Sequential's children: by the layer's class
            kinds = values[1].items if isinstance(values[1], (TupleV, ListV)) else (values[1],)
            mod = values[0].node
            names = {k.qualname.rsplit(".", 1)[-1] for k in kinds if isinstance(k, Namespace)}
            if not names or len(names) != len(kinds):
                raise self.fail("isinstance() of a module is read against torch.nn classes", node)
            if isinstance(mod, LayerNode):
                return Const(mod.torch_name in names)
            return Const(isinstance(mod, SeqNode) and "Sequential" in names)
        if name == "super":
            cls = frame.cls
            if len(values) == 2 and isinstance(values[0], ClassRef):
                cls = values[0].name
            return SuperV(cls, frame.self_v)
        if name == "setattr":
            if len(values) != 3 or not isinstance(values[0], SelfV):
                raise self.fail("only setattr(self, NAME, VALUE) is supported", node)
            attr = self.concrete(values[1], node)
            if not isinstance(attr, str) or not attr.isidentifier():
                raise self.fail("setattr needs a name known statically", node)
            self.set_attr(values[0], attr, values[2], node)
            return Const(None)
        if name == "dict" and not values:
            return DictV({k: v for k, (v, _) in kwargs.items()})
        if name in ("getattr", "hasattr") and values and isinstance(values[0], ArgObject) and not kwargs:
            key = self.concrete(values[1], node) if len(values) >= 2 else None
            if not isinstance(key, str) or len(values) > (3 if name == "getattr" else 2):
                raise self.fail(f"{name}() needs a field name known statically", node)
            if name == "hasattr":
                raise self.fail(f"whether `{values[0].arg}` has the field `{key}` cannot be decided "
                                "statically", node, help="read the field with getattr(obj, NAME, DEFAULT)")
            return self.field_of(values[0], key, values[2] if len(values) == 3 else None, node)
        if name == "getattr" and len(values) == 2 and isinstance(values[0], (Namespace, ModuleRef)) and (
            not kwargs
        ):
            # `getattr(nn, activation)()`: the class of that name, the name known statically
            key = self.concrete(values[1], node)
            if not isinstance(key, str) or not key.isidentifier():
                raise self.fail("getattr() needs a name known statically", node)
            if isinstance(values[0], ModuleRef):
                if key not in values[0].names:
                    raise self.fail(f"`{key}` is not defined in {values[0].shown}", node,
                                    code="undefined-name")
                return values[0].names[key]
            return Namespace(f"{values[0].qualname}.{key}")
        if kwargs:
            raise self.fail(f"keyword arguments to {name}() are not supported", node)
        if name == "range":
            bounds = [self.concrete(v, node) for v in values]
            if not 1 <= len(bounds) <= 3 or not all(isinstance(b, int) for b in bounds):
                raise self.fail("range() needs whole numbers known statically", node)
            numbers = range(*[int(b) for b in bounds])  # type: ignore[call-overload]
            if len(numbers) > 10_000:
                raise self.fail("this range is too long to follow", node)
            return ListV([Const(i) for i in numbers])
        if name == "zip" and values:
            columns = [self.iterate(v, node) for v in values]
            return ListV([TupleV(row) for row in zip(*columns, strict=False)])
        if name == "enumerate" and len(values) in (1, 2):
            first = self.concrete(values[1], node) if len(values) == 2 else 0
            if not isinstance(first, int) or isinstance(first, bool):
                raise self.fail("enumerate() needs a whole-number start", node)
            return ListV([TupleV((Const(first + i), v)) for i, v in enumerate(self.iterate(values[0], node))])
        if name == "reversed" and len(values) == 1:
            return ListV(list(reversed(self.iterate(values[0], node))))
        if name in ("list", "tuple"):
            items = self.iterate(values[0], node) if values else []
            return ListV(items) if name == "list" else TupleV(tuple(items))
        if len(values) == 1 and isinstance(values[0], Sym) and name == "int":
            return values[0]
        if name == "len" and len(values) == 1 and isinstance(values[0], ModListV):
            return Const(len(values[0].items))
        plain = [self.concrete(v, node) for v in values]
        try:
            if name == "int" and len(plain) == 1 and isinstance(plain[0], (int, float, bool)):
                return Const(int(plain[0]), self.rounded(values[0], "trunc", node))
            if name == "float" and len(plain) == 1 and isinstance(plain[0], (int, float)):
                return Const(float(plain[0]))
            if name == "bool" and len(plain) == 1:
                return Const(bool(plain[0]))
            if name == "abs" and len(plain) == 1 and _is_num(plain[0]):
                return Const(abs(plain[0]))  # type: ignore[arg-type]
            if name == "round" and len(plain) == 1 and _is_num(plain[0]):
                whole = isinstance(plain[0], int) or float(plain[0]).is_integer()  # type: ignore[arg-type]
                how = "trunc" if whole else ""  # "": written as its value, and said so
                return Const(round(plain[0]), self.rounded(values[0], how, node))  # type: ignore[call-overload]
            if name == "len" and len(values) == 1 and isinstance(values[0], (TupleV, ListV)):
                return Const(len(values[0].items))
            if name in ("max", "min", "sum"):
                seq = plain[0] if len(plain) == 1 and isinstance(plain[0], tuple) else tuple(plain)
                numbers_: list[int | float] = [i for i in seq if isinstance(i, (int, float))]
                if seq and len(numbers_) == len(seq) and not any(isinstance(i, bool) for i in seq):
                    if name == "sum":
                        return Const(sum(numbers_))
                    return Const(max(numbers_) if name == "max" else min(numbers_))
        except (ValueError, OverflowError):
            pass
        raise self.fail(f"`{_short(node)}` is not supported", node)

    def call_namespace(
        self, qualname: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
        node: ast.Call, frame: Frame,
    ) -> Val:
        parts = qualname.split(".")
        if qualname in ("torch.nn.Module.__init__", "torch.nn.modules.module.Module.__init__"):
            return Const(None)  # nn.Module.__init__(self)
        if qualname.startswith("torch.nn.functional."):
            return self.functional(parts[-1], args, kwargs, node, f"F.{parts[-1]}")
        if qualname.startswith("torch.nn.") and len(parts) == 3:
            return self.construct(parts[2], args, kwargs, node)
        if qualname.startswith("torch.nn.modules.") and len(parts) == 5 and parts[4][:1].isupper():
            # `import torch.nn.modules.activation as activation; activation.ReLU()`: where nn.ReLU lives
            return self.construct(parts[4], args, kwargs, node)
        if qualname in ("collections.OrderedDict", "typing.OrderedDict"):
            return self.ordered_dict(args, kwargs, node)
        if qualname.startswith("math.") and len(parts) == 2:
            return self.math(parts[1], args, kwargs, node)
        if qualname in ("numpy.sqrt", "numpy.log", "numpy.exp", "numpy.log2", "numpy.log10"):
            return self.math(parts[1], args, kwargs, node, shown="np")
        if qualname in ("numpy.floor", "numpy.ceil", "numpy.trunc"):
            out = self.math(parts[1], args, kwargs, node, shown="np")
            if isinstance(out, Const) and isinstance(out.value, (int, float)):
                return Const(float(out.value), out.expr)
            return out
        if qualname in ("numpy.round", "numpy.around", "numpy.rint") and len(args) == 1 and not kwargs:
            out = self.call_builtin("round", args, {}, node, frame)  # both round half to even
            if isinstance(out, Const) and isinstance(out.value, (int, float)):
                return Const(float(out.value), out.expr)
            return out
        if len(parts) == 2 and parts[0] == "torch":
            return self.torch_function(parts[1], args, kwargs, node)
        if qualname in _EINOPS:
            return self.einops(_EINOPS[qualname], args, kwargs, node)
        if qualname in ("types.SimpleNamespace", "argparse.Namespace") and not args:
            return DictV({k: v for k, (v, _) in kwargs.items()}, namespace=True)  # a config object
        raise self.fail(f"`{qualname}` is not supported", node.func,
                        help="archc reads torch.nn layers, torch.nn.functional and a few torch functions")

    def einops(self, name: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
               node: ast.Call) -> Val:
        """einops' `Rearrange('b c l -> b l c')` and `Reduce('b c l -> b c', 'mean')` layers and
        `rearrange(x, ...)` / `reduce(x, ...)`, read from the pattern (einops is never imported):
        a permutation, a merge of neighbouring axes, or a mean, max or sum over axes."""
        module = name[0].isupper()
        values = [v for v, _ in args]
        tensor: Tensor | None = None
        if not module:
            if not values or not isinstance(values[0], Tensor):
                raise self.fail(f"einops.{name} needs a tensor computed in forward", node)
            tensor, values = values[0], values[1:]
        if kwargs:
            key = next(iter(kwargs))
            raise self.fail(f"einops.{name} with axis sizes (`{key}=`) is not supported; archc lifts "
                            "patterns that permute, merge or reduce axes", kwargs[key][1])
        reduce = name.lower() == "reduce"
        if len(values) != (2 if reduce else 1) or not all(
            isinstance(v, Const) and isinstance(v.value, str) for v in values
        ):
            raise self.fail(f"einops.{name} needs its pattern{' and reduction' if reduce else ''} as "
                            "text", node)
        pattern = str(values[0].value)  # type: ignore[union-attr]
        how = str(values[1].value) if reduce else ""  # type: ignore[union-attr]
        step = _einops_step(pattern, how)
        if step is None:
            raise self.fail(f"the einops pattern {pattern!r}{f' with {how!r}' if how else ''} is not one "
                            "archc lifts: a permutation (`b c l -> b l c`), a merge of neighbouring axes "
                            "in order (`b c l -> b (c l)`), or a mean, max or sum over axes", node)
        kind, dsl_args = step
        span = self.span(node)
        if tensor is not None:
            if kind == "permute":  # x.permute(0, 2, 1): one argument per axis
                dims = dsl_args[0][1]
                assert isinstance(dims, TupleV)
                return self.step(tensor, FLayer(kind, tuple((None, d, span) for d in dims.items), span))
            return self.step(tensor, FLayer(kind, tuple((k, v, span) for k, v in dsl_args), span))
        spec = lookup(kind)
        assert spec is not None
        layer_args: dict[str, tuple[Val, Span]] = {}
        for arg_name, value in dsl_args:
            layer_args[arg_name or spec.varargs or spec.params[0].name] = (value, span)
        return ModV(LayerNode(kind, layer_args, span, self.span(node.func), name))

    def math(self, name: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
             node: ast.Call, shown: str = "math") -> Val:
        if kwargs or len(args) != 1 or name not in ("floor", "ceil", "trunc", *_FLOAT_MATH):
            raise self.fail(f"`{shown}.{name}` is not supported here", node)
        value = args[0][0]
        if name in _FLOAT_MATH:
            # `math.sqrt(d_model)` (an attention scale): a float, written as its number
            number = self.concrete(value, node)
            if not _is_num(number):
                raise self.fail(f"`{shown}.{name}` needs a number", node)
            try:
                result = _FLOAT_MATH[name](float(number))  # type: ignore[arg-type]
            except (ValueError, OverflowError):
                raise self.fail(f"`{shown}.{name}` of {number!r} has no value", node) from None
            self.rounded(value, "", node)  # say which arguments it stops following
            return Const(result)
        if isinstance(value, Sym):
            expr = value.expr
            span = self.span(node)
            if isinstance(expr, s.BinOp) and expr.op == "/" and name in ("floor", "trunc"):
                return Sym(s.BinOp("//", expr.left, expr.right, span))
            if isinstance(expr, s.BinOp) and expr.op == "/":
                neg = s.Neg(s.BinOp("//", s.Neg(expr.left, span), expr.right, span), span)
                return Sym(neg)
            return value
        number = self.concrete(value, node)
        if not _is_num(number):
            raise self.fail(f"`{shown}.{name}` needs a number", node)
        assert isinstance(number, (int, float))
        if name == "floor":
            result = math.floor(number)
        else:
            result = math.ceil(number) if name == "ceil" else math.trunc(number)
        return Const(result, self.rounded(value, name, node))

    def instantiate(self, name: str, args: list[tuple[Val, ast.expr]],
                    kwargs: dict[str, tuple[Val, ast.expr]], node: ast.Call) -> Val:
        if name in self.classes and any(isinstance(v, LambdaV) for v, _ in [*args, *kwargs.values()]):
            return self.lambda_layer(name, args, kwargs, node)  # (its base may be nn.Sequential)
        if name in self.classes and not self.is_module_class(name) and not self.forwarding:
            # An object that is no module (a logger, a config): an error only where the model uses it.
            return Opaque(f"`{_short(node)}` (an object of `{name}`, which is no nn.Module)", self.span(node))
        if name not in self.classes or not self.is_module_class(name):
            raise self.fail(f"`{name}` is not an nn.Module subclass archc can lift", node)
        form = self.raw_layer_form(name)
        if form is not None:
            return self.raw_layer(name, form, args, kwargs, node)
        init = self.find_method(name, "__init__")
        if init is not None and init.args.kwarg is not None:
            named = {a.arg for a in [*init.args.posonlyargs, *init.args.args, *init.args.kwonlyargs]}
            extra = next((k for k in kwargs if k not in named and not isinstance(kwargs[k][0], Const)), None)
            if extra is not None:
                raise self.fail(
                    f"`{extra}` goes into the **{init.args.kwarg.arg} of `{name}` as a "
                    f"{describe(kwargs[extra][0])}; archc lifts a helper module's "
                    f"**{init.args.kwarg.arg} when what is passed into it is known (numbers, strings, ...)",
                    kwargs[extra][1], help=f"name `{extra}` as an argument of `{name}.__init__`")
        name, args, kwargs = self.lift_helper(name, args, kwargs, node)
        bound: list[tuple[str | None, Val, Span]] = []
        for value, expr in args:
            bound.append((None, value, self.span(expr)))
        for key, (value, expr) in kwargs.items():
            bound.append((key, value, self.span(expr)))
        return ModV(BlockNode(name, tuple(bound), self.span(node), self.span(node.func)))

    def lift_helper(
        self, name: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
        node: ast.Call,
    ) -> tuple[str, list[tuple[Val, ast.expr]], dict[str, tuple[Val, ast.expr]]]:
        """Lift a helper class for one call. A helper that branches on a constructor argument is
        lifted at this call's value of it (a class per value), the argument left out of the call."""
        init = self.find_method(name, "__init__")
        names = [a.arg for a in [*init.args.posonlyargs, *init.args.args][1:]] if init is not None else []
        declared = {*names, *(a.arg for a in init.args.kwonlyargs)} if init is not None else set()
        if init is not None and name not in self.fixed_args:
            # A module as a default (`activation=GELU()`) is no DSL value: lifted at each call's module.
            modules = set()
            for arg in declared:
                default = _default_of(init, arg)
                if isinstance(default, ast.Call):
                    with contextlib.suppress(Unsupported):
                        if isinstance(self.eval(default, Frame({}, None, globals=self.home(default))), ModV):
                            modules.add(arg)
            if modules:
                self.fixed_args[name] = frozenset(modules)
        if init is not None:
            # A list, tuple, dict or object passed in is no DSL value: the helper is lifted at it.
            given_now = dict(zip(names, args, strict=False)) | kwargs
            shaped = {k for k, (v, _) in given_now.items()
                      if k in declared and isinstance(v, (ListV, TupleV, DictV, ArgObject))}
            if shaped - self.fixed_args.get(name, frozenset()):
                self.fixed_args[name] = self.fixed_args.get(name, frozenset()) | shaped
        if init is not None and init.args.kwarg is not None and kwargs.keys() - declared:
            # Keywords into the helper's **kwargs: the helper is lifted with them (a class per set).
            self.fixed_args[name] = self.fixed_args.get(name, frozenset()) | {"**"}
        for _ in range(len(names) + 2):
            fixed = self.fixed_args.get(name, frozenset())
            self.sym_condition = set()
            if not fixed:
                try:
                    self.lift(name, top=False)
                    return name, args, kwargs
                except Unsupported as err:
                    self.widen(name, names, err)
                continue
            given = dict(zip(names, args, strict=False)) | kwargs
            values: dict[str, Val] = {}
            shown: list[tuple[str, object]] = []
            for arg in sorted(fixed):
                if arg == "**":
                    extras = {k: v for k, (v, _) in kwargs.items() if k not in declared}
                    values[arg] = DictV(extras)
                    shown.append((arg, repr(sorted((k, repr(v)) for k, v in extras.items()))))
                    continue
                if arg in given:
                    value, expr = given[arg]
                else:
                    default = _default_of(init, arg) if init is not None else None
                    if default is None:
                        raise self.fail(f"`{name}` needs `{arg}`", node)
                    value = self.eval(default, Frame({}, None, globals=self.home(default)))
                    expr = default
                built = isinstance(expr, ast.Call)
                if isinstance(value, ModV) and (built or self.weightless(value.node)):
                    # a module built for this call (`activation=GELU()`), which the helper owns, or
                    # one without weights (sharing it changes no state_dict)
                    # Its sizes are read when lifting: the helper's block cannot see the caller's names.
                    read: set[str] = set()
                    values[arg] = ModV(_plain_node(value.node, read))
                    if read:
                        self.note_once(f"the modules handed to `{name}` are lifted at their sizes: "
                                       f"there, {', '.join(sorted(read))} is read when lifting")
                    shown.append((arg, _module_key(value.node)))  # (its values: one text, many modules)
                    continue
                if isinstance(value, Sym):  # an argument of the calling helper: lift that one per value
                    self.sym_condition = var_names(value.expr)
                if isinstance(value, (ListV, TupleV)) and all(
                    isinstance(i, Const) and _is_num(i.value) for i in value.items
                ):
                    # `kernels=[27, 14, 7]`: read at this call's values (no DSL list parameter)
                    numbers: list[Val] = [Const(i.value) for i in value.items if isinstance(i, Const)]
                    values[arg] = ListV(numbers) if isinstance(value, ListV) else TupleV(tuple(numbers))
                    shown.append((arg, repr(numbers)))
                    continue
                if isinstance(value, ArgObject) and arg in given:
                    values[arg] = value  # its fields are the model's parameters
                    shown.append((arg, f"object {value.arg}"))
                    continue
                if not isinstance(value, Const):
                    raise self.fail(f"`{name}` is lifted at each call's value of `{arg}`, but this call "
                                    f"gives a {describe(value)} (archc takes numbers, strings, booleans, "
                                    "and modules built in the call or without weights)",
                                    expr if arg in given else node)
                values[arg] = Const(value.value)
                shown.append((arg, value.value))
            key = (name, repr(shown))
            variant = self.variant_names.get(key)
            if variant is None:
                variant, n = name, 2
                # (not a class lifted already: an earlier call may have lifted `name` without this)
                while variant in self.variant_values or variant in self.lifted or (
                    variant != name and variant in self.classes
                ):
                    variant, n = f"{name}{n}", n + 1
                self.classes[variant] = self.classes[name]
                self.variant_values[variant] = values
                self.variant_names[key] = variant
            try:
                self.lift(variant, top=False)
            except Unsupported as err:
                self.variant_names.pop(key, None)
                self.variant_values.pop(variant, None)
                self.widen(name, names, err)
                continue
            # The call keeps the other arguments, by name (positions shift once some are gone).
            kept = {k: v for k, v in given.items() if k not in fixed and k in declared}
            return variant, [], kept
        raise AssertionError("unreachable: every round fixes one more argument")  # pragma: no cover

    def weightless(self, node: ModNode) -> bool:
        """A module that holds no parameters or buffers."""
        if isinstance(node, LayerNode):
            spec = lookup(node.kind)
            return spec is not None and not spec.stateful
        if isinstance(node, SeqNode):
            return all(self.weightless(i) for i in node.items)
        lifted = self.lifted.get(node.cls_name)
        return lifted is not None and not lifted.lists and not lifted.dicts and all(
            self.weightless(n) for n in lifted.attrs.values())

    def widen(self, name: str, names: list[str], err: Unsupported) -> None:
        """After a failed lift: fix the constructor arguments an undecidable condition read, or
        re-raise when it was something else."""
        read, self.sym_condition = self.sym_condition, set()
        renames = {v: k for k, v in self.block_renames.get(name, {}).items()}
        args = {renames.get(n, n) for n in read} & set(names)
        fixed = self.fixed_args.get(name, frozenset())
        if not args or args <= fixed:
            raise err
        self.fixed_args[name] = fixed | args

    def raw_layer_form(self, name: str) -> tuple[ast.Call, str] | None:
        """A helper whose constructor makes an nn.Parameter and whose forward returns one
        `F.conv1d(x, self.weight, ...)`, `F.conv2d` or `F.linear` call: the call and its layer."""
        init, forward = self.find_method(name, "__init__"), self.find_method(name, "forward")
        if init is None or forward is None or len(forward.args.args) != 2:
            return None
        body = [b for b in forward.body
                if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]  # docstrings
        if len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call):
            return None
        call = body[0].value

        def qualname(expr: ast.expr, fn: ast.FunctionDef) -> str | None:
            with contextlib.suppress(Unsupported):
                value = self.eval(expr, Frame({}, None, globals=self.home(fn)))
                return value.qualname if isinstance(value, Namespace) else None
            return None

        layer = _RAW_LAYERS.get(qualname(call.func, forward) or "")
        makes = any(qualname(n.func, init) in _RAW_PARAMETERS for n in ast.walk(init)
                    if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)))
        return (call, layer) if layer is not None and makes else None

    def raw_param(self, expr: ast.expr, frame: Frame) -> RawParam:
        """The shape of `nn.Parameter(torch.empty(out, in, k))` (also `torch.randn(...) * 0.01`,
        `torch.Tensor(...).uniform_(-a, a)`, `nn.init.xavier_uniform_(torch.empty(...))`)."""
        node = expr
        while True:
            if isinstance(node, ast.BinOp):
                node = node.left if isinstance(node.left, ast.Call) else node.right
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr.endswith("_") and isinstance(node.func.value, ast.Call)):
                node = node.func.value  # torch.empty(...).normal_(0, 0.01): an initialisation
            elif isinstance(node, ast.Call) and node.args and self.init_function(node.func, frame):
                node = node.args[0]  # nn.init.kaiming_uniform_(torch.empty(...))
            else:
                break
        func = self.eval(node.func, frame) if isinstance(node, ast.Call) else None
        if not (isinstance(node, ast.Call) and isinstance(func, Namespace) and func.qualname in _RAW_CTORS):
            raise self.fail("archc reads an nn.Parameter made as `torch.empty(SIZES)` (or zeros, ones, "
                            "randn, rand, torch.Tensor), possibly initialised or scaled", expr)
        values = [self.eval(a, frame) for a in node.args]
        if len(values) == 1 and isinstance(values[0], (TupleV, ListV)):
            values = list(values[0].items)
        for value, arg in zip(values, node.args if len(node.args) == len(values) else [node] * len(values),
                              strict=True):
            if not (isinstance(value, Const) and _whole(value.value)):
                raise self.fail("the sizes of an nn.Parameter must be whole numbers known statically", arg)
        return RawParam(tuple(values), self.span(node))

    def note_once(self, note: str) -> None:
        if note not in self.notes:
            self.notes.append(note)

    def instance_attr(self, block: BlockNode, attr: str, node: ast.Attribute) -> Val:
        """A value a helper instance keeps (`trunk.out_features`, set in its __init__): its
        __init__ run again at this instance's arguments, the modules it builds left unused."""
        name = block.cls_name
        init = self.find_method(name, "__init__")
        if init is None or name in self.lifting:
            raise self.fail(f"`.{attr}` of a {name} module is not known statically", node)
        self_v = SelfV(name)
        for cls in reversed(self.base_chain(name)):
            self.class_constants(self.classes[cls], self_v)
        frame = Frame({}, self_v, cls=self.owner.get(id(init)), globals=self.home(init))
        positional = [a.arg for a in [*init.args.posonlyargs, *init.args.args]]
        frame.names[positional[0]] = self_v
        params = [*positional[1:], *(a.arg for a in init.args.kwonlyargs)]
        given: dict[str, Val] = dict(self.variant_values.get(name, {}))
        extras: dict[str, Val] = {}
        for i, (key, value, _) in enumerate(block.args):
            target = key if key is not None else (params[i] if i < len(params) else None)
            if target is None:
                raise self.fail(f"`.{attr}` of a {name} module is not known statically", node)
            if target in params:
                given[target] = value
            else:
                extras[target] = value
        for param in params:
            if param in given:
                frame.names[param] = given[param]
                continue
            default = _default_of(init, param)
            if default is None:
                raise self.fail(f"`.{attr}` of a {name} module is not known statically", node)
            frame.names[param] = self.eval(default, Frame({}, None, globals=self.home(default)))
        if init.args.kwarg is not None:
            frame.names[init.args.kwarg.arg] = given.get("**") or DictV(extras)
        self.lifting.append(name)
        try:
            with contextlib.suppress(_Return):
                self.exec_body(init.body, frame)
        finally:
            self.lifting.pop()
        kept = self_v.attrs.get(attr)
        if kept is None or isinstance(kept, (ModV, ModListV, ModDictV, Opaque)):
            raise self.fail(f"`.{attr}` of a {name} module is not a number archc can read", node,
                            help=f"archc reads the sizes a helper keeps (`self.{attr} = ...` in its "
                            "__init__)")
        return kept

    def init_function(self, func: ast.expr, frame: Frame) -> bool:
        """`nn.init.kaiming_uniform_` and the like (they fill a tensor: nothing in the model changes)."""
        with contextlib.suppress(Unsupported):
            value = self.eval(func, frame)
            return isinstance(value, Namespace) and value.qualname.startswith("torch.nn.init.")
        return False

    def raw_layer(self, name: str, form: tuple[ast.Call, str], args: list[tuple[Val, ast.expr]],
                  kwargs: dict[str, tuple[Val, ast.expr]], node: ast.Call) -> Val:
        """An instance of a raw-parameter helper (raw_layer_form): the torch layer it computes,
        with the weight's shape as its sizes. Its state_dict keys are the layer's (`weight`, `bias`)."""
        call, torch_name = form
        init, forward = self.find_method(name, "__init__"), self.find_method(name, "forward")
        assert init is not None and forward is not None
        self_v = SelfV(name)
        for cls in reversed(self.base_chain(name)):
            self.class_constants(self.classes[cls], self_v)
        self.raw_mode += 1
        try:
            self.call_function(FuncRef(init, self_v), args, kwargs, node,
                               Frame({}, None, globals=self.home(init)))
        finally:
            self.raw_mode -= 1
        x_name = forward.args.args[1].arg
        names: dict[str, Val] = {forward.args.args[0].arg: self_v,
                                 x_name: Opaque("the input", self.span(call))}
        frame = Frame(names, self_v, cls=self.owner.get(id(forward)), globals=self.home(forward))
        order = _RAW_CALL_PARAMS[torch_name]
        bound: dict[str, tuple[ast.expr, Val]] = {}
        for i, arg in enumerate(call.args):
            if i >= len(order) or isinstance(arg, ast.Starred):
                raise self.fail(f"`{_short(call)}` has more arguments than archc reads", call)
            bound[order[i]] = (arg, self.eval(arg, frame) if i else Const(None))
        for kw in call.keywords:
            if kw.arg is None or kw.arg not in order:
                raise self.fail(f"`{_short(call)}`: the argument `{kw.arg}` is not read", kw.value)
            bound[kw.arg] = (kw.value, self.eval(kw.value, frame) if kw.arg != "input" else Const(None))
        where = bound.get("input", (call, Const(None)))[0]
        if not _is_name(where, x_name):
            raise self.fail(f"`{_short(call)}` must apply the layer to forward's input `{x_name}`", where)
        for key in ("weight", "bias"):
            expr, value = bound.get(key, (call, Const(None)))
            if key == "bias" and isinstance(value, Const) and value.value is None:
                continue
            if not (isinstance(expr, ast.Attribute) and _is_name(expr.value, "self") and expr.attr == key
                    and isinstance(value, RawParam)):
                raise self.fail(
                    f"the {key} of `{_short(call)}` must be the helper's own nn.Parameter `self.{key}`, so "
                    f"that its state_dict key is the layer's `{key}`", expr)
        weight = bound["weight"][1]
        assert isinstance(weight, RawParam)
        shape = weight.shape
        if len(shape) != _RAW_RANK[torch_name]:
            raise self.fail(f"the weight of {torch_name.lower()} has {_RAW_RANK[torch_name]} sizes, this one "
                            f"{len(shape)}", bound["weight"][0])
        bias_v = bound.get("bias", (call, Const(None)))[1]
        has_bias = isinstance(bias_v, RawParam)
        if isinstance(bias_v, RawParam) and [self.concrete(v, call) for v in bias_v.shape] != [
            self.concrete(shape[0], call)
        ]:
            raise self.fail("the bias must have one size, the weight's first", bound["bias"][0])
        at = bound["weight"][0]
        layer: dict[str, tuple[Val, ast.expr]] = {}
        if torch_name == "Linear":
            layer = {"in_features": (shape[1], at), "out_features": (shape[0], at)}
        else:
            groups = bound.get("groups", (at, Const(1)))
            in_ch = shape[1] if groups[1] == Const(1) else self.binop(ast.Mult(), shape[1], groups[1], call)
            kernel: Val = shape[2] if torch_name == "Conv1d" else TupleV(tuple(shape[2:]))
            layer = {"in_channels": (in_ch, at), "out_channels": (shape[0], at), "kernel_size": (kernel, at)}
            for key in ("stride", "padding", "dilation", "groups"):
                if key in bound:
                    layer[key] = (bound[key][1], bound[key][0])
        layer["bias"] = (Const(has_bias), at)
        return self.construct(torch_name, [], layer, node)

    def lambda_layer(self, name: str, args: list[tuple[Val, ast.expr]],
                     kwargs: dict[str, tuple[Val, ast.expr]], node: ast.Call) -> Val:
        """`Lambda(lambda x: x.view(x.size(0), -1))`, where the class's forward returns
        `self.f(x)` of the function it stores: the one step the lambda's body is."""
        given = [v for v, _ in args] + [v for v, _ in kwargs.values()]
        fn = given[0]
        if len(given) != 1 or not isinstance(fn, LambdaV) or not self.applies_its_function(name):
            raise self.fail(f"`{name}` takes a function; archc lifts such a module when its forward "
                            "returns `self.f(x)` of the one function it is given", node)
        lam = fn.node
        params = lam.args
        if len(params.args) != 1 or params.vararg or params.kwarg or params.kwonlyargs or params.defaults:
            raise self.fail("the lambda must take one tensor: `lambda x: ...`", lam)
        if _rank_guard(lam):
            # `lambda x: x.view(1, -1) if 1 == len(x.size()) else x`: a guard for unbatched input.
            # A checked model's tensor holds the batch and features here, so it is the identity.
            return ModV(LayerNode("identity", {}, self.span(node), self.span(node.func), name))
        start = Tensor((), (self.fresh(),))
        frame = Frame({params.args[0].arg: start}, None, globals=fn.globals)
        result = self.eval(lam.body, frame)
        ops = result.ops if isinstance(result, Tensor) and result.ids[0] == start.ids[0] else None
        step = ops[0] if ops and len(ops) == 1 else None
        if not isinstance(step, FLayer) or step.kind not in _LAMBDA_STEPS:
            raise self.fail(
                f"the lambda `{_short(lam)}` is not one step archc has: it lifts a lambda whose body is "
                "one of " + ", ".join(sorted(_LAMBDA_STEPS)), lam)
        values = [v for _, v, _ in step.args]
        if step.kind in ("view", "reshape"):
            # x.view(x.size(0), -1) in a module: nn.Flatten's step (same values, same weights)
            fixed = len(values) == 2 and isinstance(values[0], Batch) and isinstance(values[1], Const) and (
                _whole(values[1].value) and values[1].value > 0)  # type: ignore[operator]
            if fixed:
                # x.reshape(x.size(0), 25440): a flatten whose element count is pinned (checked)
                self.flatten_pins[self.span(node)] = values[1].value  # type: ignore[assignment, union-attr]
            elif len(values) != 2 or not isinstance(values[0], Batch) or values[1] != Const(-1):
                raise self.fail(f"the lambda `{_short(lam)}` reshapes to fixed sizes; archc lifts "
                                "`x.view(x.size(0), -1)` and `x.view(x.size(0), N)` here", lam)
            layer_args: dict[str, tuple[Val, Span]] = {"start_dim": (Const(1), step.span)}
            kind = "flatten"
        elif step.kind == "permute":
            kind = "permute"
            layer_args = {"dims": (TupleV(tuple(values)), step.span)}
        else:
            kind = step.kind
            spec = lookup(kind)
            order = [p.name for p in spec.params] if spec is not None else []
            layer_args = {}
            for i, (key, value, span) in enumerate(step.args):
                pname = key if key is not None and key not in MAIN_PARAM else (
                    order[i] if i < len(order) else None)
                if pname is None:
                    raise self.fail(f"the lambda `{_short(lam)}` is not one step archc has in a module",
                                    lam)
                layer_args[pname] = (value, span)
        return ModV(LayerNode(kind, layer_args, self.span(node), self.span(node.func), name))

    def applies_its_function(self, name: str) -> bool:
        """The class stores its one constructor argument and forward returns `self.ATTR(x)`."""
        init, forward = self.find_method(name, "__init__"), self.find_method(name, "forward")
        if init is None or forward is None or len(init.args.args) != 2 or len(forward.args.args) != 2:
            return False
        arg, x = init.args.args[1].arg, forward.args.args[1].arg
        stored = {t.attr for stmt in init.body if isinstance(stmt, ast.Assign) and _is_name(stmt.value, arg)
                  for t in stmt.targets if isinstance(t, ast.Attribute) and _is_name(t.value, "self")}
        body = [b for b in forward.body
                if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]  # docstrings
        if len(body) != 1 or not isinstance(body[0], ast.Return):
            return False
        call = body[0].value
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and _is_name(call.func.value, "self") and call.func.attr in stored
                and len(call.args) == 1 and not call.keywords):
            return False
        arg_of = call.args[0]
        if _is_name(arg_of, x):
            return True
        # The Torch-converter form: `self.fn(self.forward_prepare(x))`, where forward_prepare
        # collects the outputs of the submodules and returns its input when there are none
        # (the Lambda is built with its function only).
        return (isinstance(arg_of, ast.Call) and isinstance(arg_of.func, ast.Attribute)
                and _is_name(arg_of.func.value, "self") and len(arg_of.args) == 1
                and _is_name(arg_of.args[0], x) and not arg_of.keywords
                and self.returns_input_when_empty(name, arg_of.func.attr))

    def returns_input_when_empty(self, cls: str, method: str) -> bool:
        """`def forward_prepare(self, input): output = []; for module in self._modules.values():
        output.append(module(input)); return output if output else input`."""
        fn = self.find_method(cls, method)
        if fn is None or len(fn.args.args) != 2:
            return False
        param = fn.args.args[1].arg
        body = [b for b in fn.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
        if len(body) != 3 or not isinstance(body[0], ast.Assign) or not isinstance(body[2], ast.Return):
            return False
        first, loop, ret = body
        assert isinstance(first, ast.Assign) and isinstance(ret, ast.Return)
        out = first.targets[0] if len(first.targets) == 1 else None
        if not (isinstance(out, ast.Name) and isinstance(first.value, ast.List) and not first.value.elts):
            return False
        over = ast.unparse(loop.iter) if isinstance(loop, ast.For) else ""
        value = ret.value
        return over in ("self._modules.values()", "self.children()") and isinstance(value, ast.IfExp) and (
            _is_name(value.test, out.id) and _is_name(value.body, out.id) and _is_name(value.orelse, param))

    def construct(self, cls: str, args: list[tuple[Val, ast.expr]],
                  kwargs: dict[str, tuple[Val, ast.expr]], node: ast.Call) -> Val:
        if cls == "Sequential":
            if kwargs:
                raise self.fail("nn.Sequential takes modules only", node)
            items: list[ModNode] = []
            if len(args) == 1 and isinstance(args[0][0], DictV) and args[0][0].ordered:
                return self.named_sequential(args[0][0], node)
            for value, expr in args:
                if isinstance(value, ModV):
                    items.append(value.node)
                elif isinstance(value, (ListV, TupleV)) or (
                    isinstance(value, Namespace) and value.qualname.endswith("OrderedDict")
                ):
                    raise self.fail("nn.Sequential of an OrderedDict (named children) is not supported",
                                    expr, help="pass the modules themselves")
                else:
                    raise self.fail(f"nn.Sequential takes modules, not a {describe(value)}", expr)
            return ModV(SeqNode(items, self.span(node)))
        if cls == "ModuleList":
            raise self.fail("nn.ModuleList is not supported", node,
                            help="use nn.Sequential when the layers run one after another")
        if cls not in TORCH_LAYERS and cls.endswith("Loss") and not self.forwarding:
            # `loss_fn=nn.MSELoss()` kept on self for training: no part of what forward computes,
            # and an error only where forward uses it.
            return Opaque(f"the loss `nn.{cls}` (archc lifts what forward computes, not training "
                          "losses)", self.span(node))
        if cls not in TORCH_LAYERS:
            known = ", ".join(sorted(TORCH_LAYERS))
            raise self.fail(f"archc has no layer for nn.{cls}", node.func, code="unknown-layer",
                            help=f"supported torch.nn layers: {known}, Sequential")
        kind, order = TORCH_LAYERS[cls]
        bound = self.bind(f"nn.{cls}", order, args, kwargs, node)
        if cls.startswith("ZeroPad"):
            bound["value"] = (Const(0.0), self.span(node))
        spec = lookup(kind)
        for key, (value, span) in list(bound.items()):
            if isinstance(value, DrySize):
                if spec is None or key != spec.size_in:
                    raise self.fail(f"`{key}` of nn.{cls} comes from a dry run; archc infers only a "
                                    "layer's input size that way", span)
                del bound[key]  # the dry run measured what shape inference gives: left out
                self.dry_used.append(span)
        self.not_inplace(kind, bound, f"nn.{cls}")
        if kind == "transformerencoderlayer":
            batch_first = bound.get("batch_first", (Const(False), self.span(node)))[0]
            if not (isinstance(batch_first, Const) and batch_first.value is True):
                raise self.fail("nn.TransformerEncoderLayer without batch_first=True is not supported", node,
                                help="archc's transformerencoderlayer takes (batch, length, features): "
                                "pass batch_first=True and feed it that layout")
        return ModV(LayerNode(kind, bound, self.span(node), self.span(node.func), cls))

    def ordered_dict(self, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
                     node: ast.Call) -> Val:
        """`OrderedDict([("conv", nn.Conv1d(...)), ...])` or `OrderedDict(conv=...)`."""
        entries: dict[str, Val] = {}
        spans: dict[str, Span] = {}
        if len(args) > 1:
            raise self.fail("OrderedDict takes one list of (name, value) pairs", node)
        written = args[0][1] if args else node
        elts = written.elts if isinstance(written, (ast.List, ast.Tuple)) else []
        for i, pair in enumerate(self.iterate(args[0][0], written) if args else []):
            where = elts[i] if i < len(elts) else written
            items = pair.items if isinstance(pair, (TupleV, ListV)) else None
            if items is None or len(items) != 2 or not (
                isinstance(items[0], Const) and isinstance(items[0].value, str)
            ):
                raise self.fail("OrderedDict takes (name, value) pairs with string names", where)
            entries[items[0].value] = items[1]
            spans[items[0].value] = self.span(where)
        for key, (value, expr) in kwargs.items():
            entries[key] = value
            spans[key] = self.span(expr)
        return DictV(entries, ordered=True, spans=spans)

    def named_sequential(self, named: DictV, node: ast.Call) -> Val:
        """`nn.Sequential(OrderedDict(...))`: a block whose layers carry the dict's names (so the
        state_dict keys are `features.conv.weight`), run in order."""
        attrs: dict[str, ModNode] = {}
        for key, value in named.items.items():
            where = named.spans.get(key, self.span(node))
            if not isinstance(value, ModV):
                raise self.fail(f"the entry `{key}` of nn.Sequential's OrderedDict is a {describe(value)}, "
                                "not a module", where)
            if not _plain_name(key) or key in RESERVED_PARAMS or key.startswith("_") or lookup(key):
                raise self.fail(f"the name `{key}` in nn.Sequential's OrderedDict cannot name a layer in "
                                "archc (a DSL word, a layer kind or not an identifier)", where)
            attrs[key] = value.node
        if not attrs:
            raise self.fail("an empty nn.Sequential is not supported", node)
        number = 1
        while (cls := "NamedSeq" if number == 1 else f"NamedSeq{number}") in (*self.classes, *self.lifted):
            number += 1
        fake = ast.copy_location(ast.ClassDef(name=cls, bases=[], keywords=[], body=[], decorator_list=[]),
                                 node)
        span = self.span(node)
        forward = tuple(FCall(key, mod.span) for key, mod in attrs.items())
        # Sizes that follow the model's (or a block's) parameters are passed in under their names.
        names = sorted(_free_names(list(attrs.values())))
        params = tuple(s.Param(n, None, span) for n in names)
        self.lifted[cls] = Lifted(cls, fake, True, params, attrs, {}, {}, forward, span)
        self.unnamed.add(cls)
        self.synthetic.add(cls)
        args = tuple((n, Sym(s.Var(n, span)), span) for n in names)
        return ModV(BlockNode(cls, args, span, self.span(node.func)))

    def not_inplace(self, kind: str, bound: dict[str, tuple[Val, Span]], what: str) -> None:
        if kind not in NOT_INPLACE or "inplace" not in bound:
            return
        value, span = bound.pop("inplace")
        if not (isinstance(value, Const) and value.value is False):
            raise self.fail(f"`inplace` of {what} is not supported", span,
                            help=f"archc's {kind} is not in-place; write inplace=False or leave it out")

    def bind(self, what: str, order: tuple[str, ...], args: list[tuple[Val, ast.expr]],
             kwargs: dict[str, tuple[Val, ast.expr]], node: ast.Call) -> dict[str, tuple[Val, Span]]:
        """Arguments by PyTorch name; arguments archc has no use for must keep their default."""
        bound: dict[str, tuple[Val, Span]] = {}
        if len(args) > len(order):
            raise self.fail(f"{what} takes at most {len(order)} positional arguments here", node)
        for name, (value, expr) in zip(order, args, strict=False):
            bound[name] = (value, self.span(expr))
        for name, (value, expr) in kwargs.items():
            if name in bound:
                raise self.fail(f"`{name}` of {what} is given twice", expr)
            if name not in order and name not in DROPPABLE:
                raise self.fail(f"{what} has no parameter `{name}` that archc knows", expr,
                                code="unknown-parameter",
                                help="parameters: " + ", ".join(o for o in order if o not in DROPPABLE))
            bound[name] = (value, self.span(expr))
        for name in list(bound):
            if name in DROPPABLE:
                value, span = bound.pop(name)
                if not (isinstance(value, Const) and value.value == DROPPABLE[name]):
                    raise self.fail(f"`{name}` of {what} is not supported", span,
                                    help=f"archc supports only {name}={DROPPABLE[name]!r}")
        return bound

    # ------------------------------------------------------------ forward

    def step(self, tensor: Tensor, op: FOp) -> Tensor:
        out = Tensor((*tensor.ops, op), (*tensor.ids, self.fresh()))
        if len(self.lifting) == 1 and tensor.ids[0] == self.top_start and not self.in_loop:
            self.last_top = out  # the model's forward so far, should a later step be refused
        return out

    def residual(self, left: Tensor, right: Tensor, node: ast.AST) -> Tensor:
        def prefix(a: Tensor, b: Tensor) -> bool:
            return len(a.ids) < len(b.ids) and b.ids[: len(a.ids)] == a.ids

        if prefix(right, left):
            saved, out = right, left
        elif prefix(left, right):
            saved, out = left, right
        else:
            # Two branches from one tensor: `residual { left } shortcut { right }`.
            fork, (body, shortcut) = self.fork([left, right], node)
            if any(branch and isinstance(branch[0], FInput) for branch in (body, shortcut)):
                return self.join("add", [left, right], None, node)  # a sum of two inputs' branches
            return self.step(fork, FResidual(body, self.span(node), shortcut))
        body = out.ops[len(saved.ops):]
        return self.step(saved, FResidual(body, self.span(node)))

    def mean_of_sum(self, tensor: Tensor, divisor: Const, node: ast.AST) -> Tensor | None:
        """`(a + b) / 2` of two branches: the `mean` merge, which computes exactly that."""
        last = tensor.ops[-1] if tensor.ops else None
        if divisor.value != 2 or isinstance(divisor.value, bool) or not isinstance(last, FResidual):
            return None
        if self.in_loop or len(self.lifting) != 1:
            return None  # (a join is lifted in forward's main chain only)
        base = Tensor(tensor.ops[:-1], tensor.ids[:-1])
        branches = (last.body, last.shortcut if last.shortcut is not None else ())
        return self.step(base, FMerge("mean", branches, (None, None), None, self.span(node)))

    def lstm_layout(self, states: LstmStates, node: ast.AST) -> tuple[int, int]:
        """An LSTM's or GRU's layers and directions (it returns layers x directions states)."""
        layers = self.concrete(states.layer.args.get("num_layers", (Const(1), NO_SPAN))[0], node)
        both = self.concrete(states.layer.args.get("bidirectional", (Const(False), NO_SPAN))[0], node)
        if not isinstance(layers, int) or isinstance(layers, bool) or not isinstance(both, bool):
            raise self.fail(f"the {states.layer.torch_name}'s num_layers and bidirectional must be known "
                            "here", node)
        return layers, 2 if both else 1

    def lstm_state(self, states: LstmStates, index: Val, node: ast.AST) -> Val:
        """`h[-1]`, `h_n[-2]`, `states[0]`: the final hidden state of one direction of the last
        layer is the output sequence at its last step (the first, going backwards), in that
        direction's half of the features: the same numbers, read from the output."""
        if not (isinstance(index, Const) and _whole(index.value)):
            raise self.fail("archc reads LSTM states at whole-number positions (`h[-1]`)", node)
        k = int(index.value)  # type: ignore[arg-type]
        if states.which == "hc":
            if k not in (0, 1, -1, -2):
                raise self.fail("an LSTM returns its states as (h, c)", node)
            return replace(states, which="hc"[k % 2])
        if states.which == "c":
            raise self.fail("the cell states `c` of an LSTM are not part of its output, which archc "
                            "lifts; the hidden states `h` are", node)
        what = states.layer.torch_name
        args = states.layer.args
        layers, directions = self.lstm_layout(states, node)
        batch_first = self.concrete(args.get("batch_first", (Const(False), NO_SPAN))[0], node)
        total = layers * directions
        if not -total <= k < total:
            raise self.fail(f"the {what} has {total} hidden states; `{_short(node)}` is past them", node)
        layer, direction = divmod(k % total, directions)
        if layer != layers - 1:
            raise self.fail(f"`{_short(node)}` is the state of {what} layer {layer} of {layers}, which its "
                            "output does not hold; archc lifts the states of the last layer (`h[-1]`)", node)
        span = self.span(node)
        time = Const(1 if batch_first else 0)
        step = FLayer("select", (("dim", time, span), ("index", Const(-1 if direction == 0 else 0), span)),
                      span)
        out = self.step(states.out, step)
        if directions == 1:
            return out
        hidden = args.get("hidden_size", (Const(None), span))[0]
        left, right = (Const(0), hidden) if direction == 0 else (hidden, Const(0))
        return self.step(out, FLayer("slice", (("dim", Const(-1), span), ("left", left, span),
                                               ("right", right, span), ("axis", Const(None), span)), span))

    def fork(self, tensors: list[Tensor], node: ast.AST) -> tuple[Tensor, list[tuple[FOp, ...]]]:
        """The last tensor all of them come from, and each one's steps after it."""
        if any(t.ids[0] != tensors[0].ids[0] for t in tensors):
            raise self.fail(f"`{_short(node)}` joins tensors that do not come from the same input", node)
        k = 1
        while all(len(t.ids) > k for t in tensors) and len({t.ids[k] for t in tensors}) == 1:
            k += 1
        base = Tensor(tensors[0].ops[: k - 1], tensors[0].ids[:k])
        return base, [t.ops[k - 1:] for t in tensors]

    def join(self, kind: str, tensors: list[Tensor], dim: int | None, node: ast.AST,
             keys: tuple[str, ...] | None = None) -> Tensor:
        base, branches = self.fork(tensors, node)
        names = tuple(self.tensor_names.get(t.ids[-1]) for t in tensors)
        if keys is not None:  # an output without a variable of its own is called by its key
            names = tuple(n or (k if k.isidentifier() else None) for n, k in zip(names, keys, strict=True))
        fork = self.tensor_names.get(base.ids[-1])
        return self.step(base, FMerge(kind, tuple(branches), names, dim, self.span(node), fork, keys))

    def tensor_arg(self, args: list[tuple[Val, ast.expr]], node: ast.Call, what: str) -> Tensor:
        if not args or not isinstance(args[0][0], Tensor):
            raise self.fail(f"{what} needs a tensor as its input", node)
        return args[0][0]

    def call_module(
        self, func: ModV, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
        node: ast.Call, frame: Frame,
    ) -> Val:
        dry = bool(args) and isinstance(args[0][0], Tensor) and args[0][0].ids[0] in self.dry
        if frame.self_v is None or not (frame.self_v.in_forward or dry):
            raise self.fail("a module is called outside forward", node,
                            help="a dry run that sizes a layer calls it on `torch.zeros(1, 4, length)`")
        if kwargs or len(args) != 1 or not isinstance(args[0][0], Tensor):
            raise self.fail("a module call takes exactly one tensor here", node,
                            help="LSTM initial states are not supported")
        tensor = args[0][0]
        owner = frame.self_v
        name = next((k for k, v in owner.attrs.items() if isinstance(v, ModV) and v.node is func.node), None)
        mod = func.node
        span = self.span(node)
        if name is None and id(mod) in self.current_item:
            list_name, index = self.current_item[id(mod)]
            return self.step(tensor, FCall(list_name, span, index))
        if name is None:
            entry = next(((k, key) for k, v in owner.attrs.items() if isinstance(v, ModDictV)
                          for key, item in v.items.items() if item is mod), None)
            if entry is not None:  # `self.heads["profile"](x)`
                return self.step(tensor, FCall(entry[0], span, key=entry[1]))
            in_list = next(((k, i) for k, v in owner.attrs.items() if isinstance(v, ModListV)
                            for i, item in enumerate(v.items) if item is mod), None)
            if in_list is not None and not self.weightless(mod):
                # By position: the lift writes the merge of every item's branch as a loop
                # (`torch.cat([m(x) for m in self.heads], 1)`) and refuses other uses.
                return self.step(tensor, FCall(in_list[0], span, in_list[1], by_position=True))
        if name is None:
            if isinstance(mod, LayerNode) and not lookup(mod.kind).stateful:  # type: ignore[union-attr]
                layer_args = tuple(
                    (None if k in MAIN_PARAM else k, v, sp) for k, (v, sp) in mod.args.items()
                )
                return self.step(tensor, FLayer(mod.kind, layer_args, span))
            raise self.fail("this module is not an attribute of self, so its weights would be rebuilt "
                            "at every call", node, help="assign it to self in __init__")
        last = mod
        while isinstance(last, SeqNode) and last.items:
            last = last.items[-1]  # nn.Sequential(..., nn.LSTM(...)) returns what the LSTM returns
        if isinstance(last, LayerNode) and last.kind in ("lstm", "gru"):
            shown = last.torch_name
            if last is not mod and not (isinstance(mod, SeqNode) and mod.items[-1] is last):
                raise self.fail(
                    f"an nn.{shown} at the end of an nn.Sequential inside another is not lifted yet: "
                    f"archc's seq holds an {last.kind} only as its own last step (`{name}`)",
                    last.span,
                    help=f"make the {shown} an attribute of its own (`self.rnn = nn.{shown}(...)`), or "
                    "keep this part in PyTorch",
                )
            out = self.step(tensor, FCall(name, span))
            # an LSTM returns (output, (h, c)), a GRU (output, h)
            return Pair(out, LstmStates(out, last, "hc" if last.kind == "lstm" else "h"), "states")
        return self.step(tensor, FCall(name, span))

    def functional(
        self, name: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
        node: ast.Call, shown: str,
    ) -> Val:
        tensor = self.tensor_arg(args, node, shown)
        rest = args[1:]
        span = self.span(node)
        if name == "dropout":
            bound = self.bind(shown, ("p", "training", "inplace"), rest, kwargs, node)
            training = bound.pop("training", (Const(True), span))
            if isinstance(training[0], Const) and training[0].value is False:
                return tensor  # dropout that never drops
            if not isinstance(training[0], Training):
                raise self.fail(
                    f"{shown} without training=self.training also drops in eval mode",
                    node,
                    help="pass training=self.training (archc's dropout follows the module's mode), "
                    "or use an nn.Dropout module",
                )
            return self.step(tensor, FLayer("dropout", _dsl_args(bound), span))
        if name in ("flatten",):
            return self.flatten(tensor, rest, kwargs, node)
        if name == "pad":
            bound = self.bind(shown, ("pad", "mode", "value"), rest, kwargs, node)
            pads = bound.get("pad", (Const(None), span))[0]
            mode = bound.get("mode", (Const("constant"), span))[0]
            value = bound.get("value", (Const(None), span))[0]
            if not (isinstance(pads, (TupleV, ListV)) and len(pads.items) in (2, 4)
                    and all(isinstance(v, Const) and _whole(v.value) and v.value >= 0 for v in pads.items)):  # type: ignore[operator]
                raise self.fail(f"{shown}: archc reads two or four non-negative pads known statically "
                                "(the last axis, or the last two)", node)
            if mode != Const("constant"):
                raise self.fail(f"{shown} with mode={self.show_value(mode)} is not supported (constant only)",
                                node)
            fill = Const(0.0) if isinstance(value, Const) and value.value is None else value
            return self.step(tensor, FLayer("pad", ((None, TupleV(tuple(pads.items)), span),
                                                    ("value", fill, span)), span))
        if name not in FUNCTIONAL:
            raise self.fail(f"{shown} is not supported", node.func,
                            help="functional steps: " + ", ".join(sorted({"dropout", *FUNCTIONAL})))
        kind, order = FUNCTIONAL[name]
        bound = self.bind(shown, order, rest, kwargs, node)
        self.not_inplace(kind, bound, shown)
        window = bound.get("kernel_size", (None, span))[0]
        if kind in ("maxpool1d", "avgpool1d") and isinstance(window, AxisSize):
            # A window over the whole length of its own input: one position per channel.
            extra = [k for k in bound if k not in ("kernel_size", "stride") or (
                k == "stride" and bound[k][0] not in (window, Const(None)))]
            if window.tensor_ids != tensor.ids or window.dim not in (2, -1) or extra:
                raise self.fail(f"{shown} with the window `{_short(args[1][1] if len(args) > 1 else node)}`: "
                                "archc lifts a window over the whole length of the pooled tensor "
                                f"(`{shown}(x, x.size(2))`)", window.span)
            pool = "adaptivemaxpool1d" if kind == "maxpool1d" else "adaptiveavgpool1d"
            return self.step(tensor, FLayer(pool, ((None, Const(1), span),), span))
        if kind in ("softmax", "log_softmax") and "dim" not in bound:
            raise self.fail(f"{shown} without dim is not supported", node, help="pass dim=1")
        return self.step(tensor, FLayer(kind, _dsl_args(bound), span))

    def flatten(self, tensor: Tensor, rest: list[tuple[Val, ast.expr]],
                kwargs: dict[str, tuple[Val, ast.expr]], node: ast.Call) -> Tensor:
        bound = self.bind("flatten", ("start_dim", "end_dim"), rest, kwargs, node)
        span = self.span(node)
        # torch.flatten and Tensor.flatten start at axis 0 unless told otherwise.
        bound.setdefault("start_dim", (Const(0), span))
        return self.step(tensor, FLayer("flatten", _dsl_args(bound), span))

    def torch_function(
        self, name: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
        node: ast.Call,
    ) -> Val:
        if name in _DUMMIES:
            return self.dummy(name, args, kwargs, node)
        if name in ("device", "dtype"):
            # `kwargs.get("device", torch.device("cpu"))`: where tensors live has no shape
            return Opaque(f"a torch.{name} (archc does not place or convert tensors)", self.span(node))
        if name in ("cat", "concat", "concatenate", "stack"):
            return self.cat(name, args, kwargs, node)
        if name == "tensor" and len(args) == 1 and not kwargs and isinstance(args[0][0], Const) and (
            _is_num(args[0][0].value) and isinstance(args[0][0].value, float)
        ):
            # `torch.tensor(1.702) * x`: a float32 number, which multiplies like the number itself
            return args[0][0]
        two = len(args) == 2 and not kwargs and all(isinstance(v, Tensor) for v, _ in args)
        if two and name == "add":
            return self.binop(ast.Add(), args[0][0], args[1][0], node)  # torch.add(a, b) is a + b
        if two and name in ("maximum", "max", "mul", "multiply"):
            kind = "mul" if name in ("mul", "multiply") else "max"
            return self.elementwise(kind, [v for v, _ in args if isinstance(v, Tensor)], node)
        if two and name in ("matmul", "bmm"):  # attention scores and their weighted sum
            return self.elementwise("matmul", [v for v, _ in args if isinstance(v, Tensor)], node)
        if name in _JOINS:
            raise self.fail(
                f"torch.{name} joins several tensors; archc lifts one chain of steps (no branches)",
                node.func,
                help="write the model as one chain, or keep this part in PyTorch",
            )
        if (name in _ACTIVATIONS and name in FUNCTIONAL) or name in ("softmax", "log_softmax"):
            return self.functional(name, args, kwargs, node, f"torch.{name}")
        if name == "flatten":
            return self.flatten(self.tensor_arg(args, node, "torch.flatten"), args[1:], kwargs, node)
        tensor = self.tensor_arg(args, node, f"torch.{name}")
        if name in _TENSOR_FUNCS:
            return self.tensor_method(tensor, name, args[1:], kwargs, node)
        raise self.fail(f"torch.{name} is not supported", node.func)

    def elementwise(self, kind: str, tensors: list[Tensor], node: ast.AST) -> Tensor:
        """`a * b`, `torch.maximum(a, b)` of two branches of the input: a `mul` / `max` merge."""
        return self.join(kind, tensors, None, node)

    def dummy(self, name: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
              node: ast.Call) -> Val:
        """`torch.zeros(1, 4, L)` in the model's constructor: the dummy input of a dry run."""
        values = [v for v, _ in args]
        if len(values) == 1 and isinstance(values[0], (TupleV, ListV)):
            values = list(values[0].items)
        shape = [self.concrete(v, node) for v in values]
        sizes = [n for n in shape if isinstance(n, int) and not isinstance(n, bool) and n > 0]
        plain = not kwargs.keys() - {"dtype", "device"}
        if len(self.lifting) != 1 or self.forwarding or not plain or not (shape and len(sizes) == len(shape)):
            raise self.fail(f"torch.{name} is supported as the dummy input of a dry run in the model's "
                            "constructor, with whole-number sizes: `torch.zeros(1, 4, length)`", node)
        start = Tensor((), (self.fresh(),))
        self.dry[start.ids[0]] = (tuple(sizes), self.span(node))
        return start

    def cat(self, name: str, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
            node: ast.Call) -> Val:
        bound = self.bind(f"torch.{name}", ("tensors", "dim"), args, kwargs, node)
        tensors = bound.get("tensors", (Const(None), self.span(node)))[0]
        items = list(tensors.items) if isinstance(tensors, (TupleV, ListV)) else []
        if len(items) < 2 or not all(isinstance(i, Tensor) for i in items):
            raise self.fail(f"torch.{name} needs a list of two or more tensors computed in forward", node)
        dim = bound.get("dim", (Const(0), self.span(node)))[0]
        if not (isinstance(dim, Const) and isinstance(dim.value, int) and not isinstance(dim.value, bool)):
            raise self.fail(f"torch.{name} needs a whole-number dim", node)
        kind = "stack" if name == "stack" else "cat"
        return self.join(kind, [i for i in items if isinstance(i, Tensor)], dim.value, node)

    def call_method(
        self, method: Method, args: list[tuple[Val, ast.expr]], kwargs: dict[str, tuple[Val, ast.expr]],
        node: ast.Call, frame: Frame,
    ) -> Val:
        target = method.target
        if isinstance(target, Const) and isinstance(target.value, str):
            return self.str_method(target.value, method.name, args, kwargs, node)
        if isinstance(target, LstmStates):
            # `h.squeeze(0)` of a one-layer, one-direction LSTM or GRU: its one state, `h[0]`
            dims = [self.concrete(v, e) for v, e in args]
            one = method.name == "squeeze" and target.which == "h" and dims == [0] and not kwargs
            if one and self.lstm_layout(target, node) == (1, 1):
                return self.lstm_state(target, Const(0), node)
            raise self.fail(f"`{_short(node)}` of the {target.layer.torch_name} states is not supported; "
                            "archc reads them by position (`h[-1]`, or `h.squeeze(0)` of one state)", node)
        if isinstance(target, SuperV):
            if method.name == "__init__":
                base = self.local_base(target.cls) if target.cls in self.classes else None
                init = self.find_method(base, "__init__") if base is not None else None
                if init is None or target.self_v is None:
                    return Const(None)  # nn.Module.__init__
                return self.call_function(FuncRef(init, target.self_v), args, kwargs, node, frame)
            raise self.fail(f"super().{method.name} is not supported", node)
        if isinstance(target, (DictV, ArgObject)) and method.name in ("get", "pop"):
            if kwargs or not 1 <= len(args) <= 2:
                raise self.fail(f"dict.{method.name} takes a key and a default", node)
            key = self.concrete(args[0][0], node)
            if not isinstance(key, str):
                raise self.fail("archc reads dict entries by a string key", args[0][1])
            fallback = args[1][0] if len(args) == 2 else Const(None)
            if isinstance(target, ArgObject):
                return self.field_of(target, key, fallback, node)
            return target.items.get(key, fallback)
        if isinstance(target, ArgObject) and method.name in ("items", "keys", "values") and not (
            args or kwargs
        ):
            names = [k for k, _ in target.known]
            values = [self.field_of(target, k, v, node) for k, v in target.known]
            if method.name == "keys":
                return ListV([Const(k) for k in names])
            if method.name == "values":
                return ListV(values)
            return ListV([TupleV((Const(k), v)) for k, v in zip(names, values, strict=True)])
        if isinstance(target, ModDictV) and not args and not kwargs:
            keys = [Const(k) for k in target.items]
            mods = [ModV(m) for m in target.items.values()]
            if method.name == "keys":
                return ListV(list(keys))
            if method.name == "values":
                return ListV(list(mods))
            return ListV([TupleV((k, m)) for k, m in zip(keys, mods, strict=True)])
        if isinstance(target, ModV) and isinstance(target.node, SeqNode) and method.name == "children" and (
            not args and not kwargs
        ):
            return ListV([ModV(item) for item in target.node.items])
        if isinstance(target, ModListV):
            if method.name in ("append", "extend") and len(args) == 1 and not kwargs:
                added = [args[0][0]] if method.name == "append" else self.iterate(args[0][0], node)
                for item in added:
                    if not isinstance(item, ModV):
                        raise self.fail(f"nn.ModuleList takes modules, not a {describe(item)}", args[0][1])
                    target.items.append(item.node)
                return Const(None)
            raise self.fail(f"nn.ModuleList.{method.name} is not supported", node)
        if isinstance(target, ListV):
            if method.name == "append" and len(args) == 1 and not kwargs:
                target.items.append(args[0][0])
                return Const(None)
            if method.name == "extend" and len(args) == 1 and not kwargs:
                target.items.extend(self.iterate(args[0][0], node))
                return Const(None)
            raise self.fail(f"list.{method.name} is not supported", node)
        if isinstance(target, Tensor):
            return self.tensor_method(target, method.name, args, kwargs, node)
        raise self.fail(f"`{_short(node)}` is not supported", node)

    def tensor_method(
        self, tensor: Tensor, name: str, args: list[tuple[Val, ast.expr]],
        kwargs: dict[str, tuple[Val, ast.expr]], node: ast.Call,
    ) -> Val:
        span = self.span(node)
        values = [v for v, _ in args]
        if name in _ACTIVATIONS and not args and not kwargs:
            return self.step(tensor, FLayer(_ACTIVATIONS[name], (), span))
        if name in ("softmax", "log_softmax"):
            bound = self.bind(f"x.{name}", ("dim",), args, kwargs, node)
            if "dim" not in bound:
                raise self.fail(f"x.{name}() without dim is not supported", node)
            return self.step(tensor, FLayer(name, _dsl_args(bound), span))
        if name == "contiguous" and not args and not kwargs:
            return self.step(tensor, FLayer("contiguous", (), span))
        if name in ("matmul", "bmm") and len(values) == 1 and not kwargs and isinstance(values[0], Tensor):
            return self.elementwise("matmul", [tensor, values[0]], node)  # q.matmul(k)
        if name == "float" and not args and not kwargs:
            return tensor  # the input is a float tensor already: x.float() is x itself
        if name == "unsqueeze":
            dim = values[0] if len(values) == 1 and not kwargs else kwargs.get("dim", (None, node))[0]
            if not (isinstance(dim, Const) and _whole(dim.value)) or len(values) + len(kwargs) != 1:
                raise self.fail("x.unsqueeze() needs one whole-number axis", node)
            return self.step(tensor, FLayer("unsqueeze", ((None, dim, span),), span))
        if name == "repeat":
            sizes = values[0].items if len(values) == 1 and isinstance(values[0], (TupleV, ListV)) else values
            if kwargs or not sizes or not all(isinstance(v, Const) and _whole(v.value) for v in sizes):
                raise self.fail("x.repeat() needs whole numbers known statically", node)
            return self.step(tensor, FLayer("repeat", tuple((None, v, span) for v in sizes), span))
        if name in ("size", "numel") and not kwargs and tensor.ids[0] in self.dry and (
            len(values) == (name == "size")
        ):
            return DrySize(span)  # measured by the dry run: shape inference gives it
        if name in ("size", "shape") and not kwargs:
            if not values:
                return Method(tensor, "shape", span)
            if len(values) == 1 and isinstance(values[0], Const) and values[0].value == 0:
                return Batch()
            if len(values) == 1 and isinstance(values[0], Const) and _whole(values[0].value):
                return AxisSize(tensor.ids, int(values[0].value), span)  # type: ignore[arg-type]
            raise self.fail("only the batch size (`x.size(0)`) is known before shapes are checked", node,
                            help="write the size as a number")
        if name == "flatten":
            return self.flatten(tensor, args, kwargs, node)
        if name == "squeeze":
            last = tensor.ops[-1] if tensor.ops else None
            dim = values[0] if len(values) == 1 and not kwargs else kwargs.get("dim", (None, node))[0]
            unit = isinstance(last, FLayer) and last.kind in ("adaptivemaxpool1d", "adaptiveavgpool1d") and (
                [v for _, v, _ in last.args] == [Const(1)])
            one_axis = len(values) + len(kwargs) == 1 and dim in (Const(2), Const(-1))
            if unit and isinstance(last, FLayer) and one_axis:
                # pool to one position, then drop that axis: the global pool
                glob = "global_max_pool" if last.kind == "adaptivemaxpool1d" else "global_avg_pool"
                return Tensor((*tensor.ops[:-1], FLayer(glob, (), span)), (*tensor.ids[:-1], self.fresh()))
            bound = self.bind(f"x.{name}", ("dim",), args, kwargs, node)
            dim_v = bound["dim"][0] if "dim" in bound else None
            if dim_v is None:
                # every size-1 axis, the batch too at batch size 1: the checker says so (batch-squeeze)
                return self.step(tensor, FLayer("squeeze", (), span))
            if not (isinstance(dim_v, Const) and _whole(dim_v.value)):
                raise self.fail("x.squeeze() needs a whole-number axis", node)
            return self.step(tensor, FLayer("squeeze", ((None, dim_v, span),), span))
        if name in ("view", "reshape", "permute"):
            if kwargs:
                raise self.fail(f"keyword arguments to {name} are not supported", node)
            pairs = [(v, self.span(e)) for v, e in args]
            if len(values) == 1 and isinstance(values[0], (TupleV, ListV)):
                pairs = [(v, pairs[0][1]) for v in values[0].items]
            shape: list[tuple[str | None, Val, Span]] = []
            for value, item_span in pairs:
                if isinstance(value, (AxisSize, AxisProduct)):
                    first = value if isinstance(value, AxisSize) else value.sizes[0]
                    if first.tensor_ids[-1] != tensor.ids[-1]:
                        raise self.fail(f"x.{name}() is given a size of another tensor; archc lifts views "
                                        "sized by the tensor they reshape", item_span)
                    shape.append((None, value, item_span))
                    continue
                if not isinstance(value, (Const, Batch, Sym)) or (
                    isinstance(value, Const)
                    and (not isinstance(value.value, int) or isinstance(value.value, bool))
                ):
                    raise self.fail(f"x.{name}() takes whole numbers, -1 or x.size(0) here, not a "
                                    f"{describe(value)}", item_span)
                shape.append((None, value, item_span))
            return self.step(tensor, FLayer(name, tuple(shape), span))
        if name == "flip":
            dims_v: list[Val] = list(values)
            if "dims" in kwargs:
                dims_v = [*dims_v, kwargs.pop("dims")[0]]
            if len(dims_v) == 1 and isinstance(dims_v[0], (TupleV, ListV)):
                dims_v = list(dims_v[0].items)
            if kwargs or not dims_v or not all(
                isinstance(d, Const) and isinstance(d.value, int) and not isinstance(d.value, bool)
                for d in dims_v
            ):
                raise self.fail("flip needs whole-number axes: `torch.flip(x, dims=(2,))`", node)
            return self.step(tensor, FLayer("flip", tuple((None, d, span) for d in dims_v), span))
        if name in ("mean", "sum"):
            if "axis" in kwargs and "dim" not in kwargs:
                kwargs = {("dim" if k == "axis" else k): v for k, v in kwargs.items()}  # torch's alias
            bound = self.bind(f"x.{name}", ("dim", "keepdim", "dtype"), args, kwargs, node)
            if "dim" not in bound:
                raise self.fail(f"{name} over all elements is not supported; give dim=", node)
            dim = bound["dim"][0]
            if isinstance(dim, ListV):
                dim = TupleV(tuple(dim.items))
            keep = bound.get("keepdim", (Const(False), span))[0]
            if not isinstance(keep, Const) or not isinstance(keep.value, bool):
                raise self.fail(f"keepdim of {name} must be True or False", node)
            reduce_args: list[tuple[str | None, Val, Span]] = [(None, dim, bound["dim"][1])]
            if keep.value:
                reduce_args.append(("keepdim", keep, span))
            return self.step(tensor, FLayer(name, tuple(reduce_args), span))
        if name == "transpose":
            bound = self.bind("transpose", ("dim0", "dim1"), args, kwargs, node)
            if len(bound) != 2:
                raise self.fail("transpose needs two axes", node)
            return self.step(tensor, FLayer("transpose", _dsl_args(bound), span))
        if name in ("max", "amax"):
            bound = self.bind(name, ("dim", "keepdim"), args, kwargs, node)
            if "dim" not in bound:
                raise self.fail(f"{name} over all elements is not supported; give dim=", node)
            keep = bound.get("keepdim", (Const(False), span))[0]
            dim = bound["dim"][0]
            if not (isinstance(keep, Const) and keep.value is False):
                raise self.fail(f"{name} with keepdim=True is not supported", node)
            if not (isinstance(dim, Const) and _is_num(dim.value) and isinstance(dim.value, int)):
                raise self.fail(f"{name} over a dim that is not a whole number is not supported", node)
            out = self.step(tensor, FMax(dim.value, span))
            if name == "amax":
                return out
            return Pair(out, Opaque("the indices torch.max returns", span), "indices")
        what = f"x.{name}()"
        if name in ("cat", "add", "mul"):
            what = f"x.{name}() (joining tensors)"
        raise self.fail(f"{what} is not supported", node,
                        help="tensor steps: view, reshape, flatten, permute, transpose, contiguous, "
                        "squeeze, unsqueeze, repeat, max(dim), mean, sum, relu, sigmoid, tanh, exp, softmax, "
                        "x[:, i], slices")

    # ------------------------------------------------------------ DSL expressions

    def unmark(self, expr: s.Expr) -> s.Expr:
        """`expr` with each marked loop index written for where it is used: inside the DSL loop
        being written (`loop_at`), as that loop's index (`i`, or `i - 1` for a value carried from
        the item before); anywhere else, as its number."""
        if isinstance(expr, s.Var):
            mark = read_mark(expr.name)
            if mark is None:
                return expr
            loop, pos = mark
            info = self.range_loops[loop]
            at = self.loop_at.get(loop)
            if at is None:
                return s.Int(info.values[pos], expr.span)
            name, item = at
            step = info.values[1] - info.values[0] if len(info.values) > 1 else 1
            offset = (pos - item) * step
            index = s.Var(name, expr.span)
            if offset == 0:
                return index
            return s.BinOp("+" if offset > 0 else "-", index, s.Int(abs(offset), expr.span), expr.span)
        if isinstance(expr, s.BinOp):
            left, right = self.unmark(expr.left), self.unmark(expr.right)
            if left is expr.left and right is expr.right:
                return expr
            if isinstance(left, s.Int) and isinstance(right, s.Int) and expr.op in _FOLD:
                # an index written as its number: `2 ** (1 + 1)` reads as 4
                folded = _FOLD[expr.op](left.value, right.value)
                if 0 <= folded < 2**63:
                    return s.Int(folded, expr.span)
            return s.BinOp(expr.op, left, right, expr.span)
        if isinstance(expr, s.Neg):
            return s.Neg(self.unmark(expr.operand), expr.span)
        if isinstance(expr, s.Not):
            return s.Not(self.unmark(expr.operand), expr.span)
        if isinstance(expr, s.TupleExpr):
            return s.TupleExpr(tuple(self.unmark(i) for i in expr.items), expr.span)
        return expr

    def to_expr(self, value: Val, span: Span, marked: bool = False) -> s.Expr:
        """A value as a DSL expression located at `span` (where it is used); `marked`: keeping
        marked loop indices (a value still being computed with)."""
        if isinstance(value, Const):
            v = value.value
            if value.expr is not None:
                expr = self.unmark(value.expr) if self.range_loops and not marked else value.expr
                return s.Var(expr.name, span) if isinstance(expr, s.Var) else expr
            if isinstance(v, bool):
                return s.Bool(v, span)
            if isinstance(v, int):
                return s.Int(v, span) if v >= 0 else s.Neg(s.Int(-v, span), span)
            if isinstance(v, float):
                return s.Float(v, span) if v >= 0 else s.Neg(s.Float(-v, span), span)
            if isinstance(v, str):
                return s.Str(v, span)
            return s.NoneLit(span)
        if isinstance(value, (TupleV, ListV)):
            return s.TupleExpr(tuple(self.to_expr(i, span, marked) for i in value.items), span)
        if isinstance(value, Sym):
            sym_expr = self.unmark(value.expr) if self.range_loops and not marked else value.expr
            return s.Var(sym_expr.name, span) if isinstance(sym_expr, s.Var) else sym_expr
        if isinstance(value, Batch):
            return s.Var("batch", span)
        if isinstance(value, Opaque):
            raise Unsupported("unsupported", f"{value.what} cannot be used here", span)
        raise Unsupported("unsupported", f"a {describe(value)} cannot be a layer argument", span)


_AXIS = (AxisSize, AxisProduct, AxisOffset)
_FOLD: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "**": lambda a, b: a ** b if 0 <= b <= 64 else -1,
    "//": lambda a, b: a // b if b else -1, "%": lambda a, b: a % b if b else -1,
}
_STR_METHODS = frozenset({"format", "lower", "upper", "strip", "startswith", "endswith"})
_OPS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**",
}
_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b, ast.Gt: lambda a, b: a > b, ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


def _rounded_expr(value: Val, how: str, span: Span, floats: frozenset[str] | set[str] = frozenset()) -> (
    s.Expr | None
):
    """The DSL expression of floor/ceil/trunc of a value that follows constructor arguments:
    `a / b` becomes `a // b` (ceil: `-(-a // b)`); an expression of whole numbers stays; anything
    else is written as its number (None). `floats` are the parameters whose values are floats."""
    if not isinstance(value, Const) or value.expr is None or not _is_num(value.value):
        return None
    expr = value.expr
    if any(name in floats for name in _expr_vars(expr)):
        return None  # `n * width_mult // 8` is a float in the DSL as in Python
    if isinstance(expr, s.BinOp) and expr.op == "/" and _whole_expr(expr.left) and _whole_expr(
        expr.right
    ):
        if how == "ceil":
            return s.Neg(s.BinOp("//", s.Neg(expr.left, span), expr.right, span), span)
        if how == "floor" or value.value >= 0:  # type: ignore[operator]
            return s.BinOp("//", expr.left, expr.right, span)
        return None
    if _whole_expr(expr) and float(value.value).is_integer():  # type: ignore[arg-type]
        return expr
    return None


def _expr_vars(expr: s.Expr) -> set[str]:
    if isinstance(expr, s.Var):
        return set() if read_mark(expr.name) else {expr.name}
    if isinstance(expr, s.BinOp):
        return _expr_vars(expr.left) | _expr_vars(expr.right)
    if isinstance(expr, s.Neg):
        return _expr_vars(expr.operand)
    return set()


def _whole_expr(expr: s.Expr) -> bool:
    """No true division inside (the DSL's `/` gives a float)."""
    if isinstance(expr, s.BinOp):
        return expr.op != "/" and _whole_expr(expr.left) and _whole_expr(expr.right)
    if isinstance(expr, s.Neg):
        return _whole_expr(expr.operand)
    return isinstance(expr, (s.Var, s.Int))


def _dsl_args(bound: dict[str, tuple[Val, Span]]) -> tuple[tuple[str | None, Val, Span], ...]:
    return tuple((None if k in MAIN_PARAM else k, v, sp) for k, (v, sp) in bound.items())


def _renorms_only(stmt: ast.stmt) -> bool:
    """Every in-place method call in the statement is a `renorm_` (a max-norm constraint)."""
    calls = [sub for sub in ast.walk(stmt) if isinstance(sub, ast.Call)
             and isinstance(sub.func, ast.Attribute) and sub.func.attr.endswith("_")
             and not sub.func.attr.startswith("_")]
    return bool(calls) and all(c.func.attr == "renorm_" for c in calls)  # type: ignore[attr-defined]


def _weightless(node: ModNode) -> bool:
    spec = lookup(node.kind) if isinstance(node, LayerNode) else None
    return spec is not None and not spec.stateful


def _plain_name(name: str) -> bool:
    return name.isascii() and name.isidentifier()


def param_alias(name: str) -> str:
    """The parameter name of a constructor argument whose own name a layer takes."""
    return f"{name}_arg"


def _module_attrs(fn: ast.FunctionDef) -> set[str]:
    """`self.NAME = call(...)` targets of a constructor (likely modules)."""
    out = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Call, ast.IfExp)):
            for target in node.targets:
                if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and (
                    target.value.id == "self"
                ):
                    out.add(target.attr)
    return out


def _free_names(nodes: list[ModNode]) -> set[str]:
    """The parameters the arguments of these modules are written with (`n_targets * 2`)."""
    out: set[str] = set()
    stack: list[object] = list(nodes)
    while stack:
        item = stack.pop()
        if isinstance(item, LayerNode):
            stack.extend(v for v, _ in item.args.values())
        elif isinstance(item, SeqNode):
            stack.extend(item.items)
        elif isinstance(item, BlockNode):
            stack.extend(v for _, v, _ in item.args)
        elif (isinstance(item, Const) and item.expr is not None) or isinstance(item, Sym):
            stack.append(item.expr)
        elif isinstance(item, (TupleV, ListV)):
            stack.extend(item.items)
        elif isinstance(item, s.Var):
            out.add(item.name)
        elif hasattr(item, "__dataclass_fields__") and isinstance(item, (s.BinOp, s.Neg, s.TupleExpr)):
            stack.extend(getattr(item, f) for f in item.__dataclass_fields__)
        elif isinstance(item, tuple):
            stack.extend(item)
    return out


def _argparse_defaults(tree: ast.Module) -> dict[str, Const]:
    """`parser.add_argument("--n-filters", type=int, default=64)` anywhere in the file: literal
    defaults by their dest (`n_filters`). Only read, never run."""
    out: dict[str, Const] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):
            continue
        flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        dest_node = keywords.get("dest")
        long = next((f for f in flags if f.startswith("--")), None)
        if isinstance(dest_node, ast.Constant) and isinstance(dest_node.value, str):
            dest = dest_node.value
        elif long is not None:
            dest = long[2:].replace("-", "_")
        else:
            continue
        default = keywords.get("default")
        if isinstance(default, ast.UnaryOp) and isinstance(default.op, ast.USub) and isinstance(
            default.operand, ast.Constant
        ) and isinstance(default.operand.value, (int, float)) and not isinstance(default.operand.value, bool):
            out.setdefault(dest, Const(-default.operand.value))
        elif isinstance(default, ast.Constant) and isinstance(default.value, (bool, int, float, str)):
            out.setdefault(dest, Const(default.value))
        elif default is None and keywords.get("action") is not None:
            action = keywords["action"]
            if isinstance(action, ast.Constant) and action.value in ("store_true", "store_false"):
                out.setdefault(dest, Const(action.value == "store_false"))
    return out


def _field_use(classes: list[ast.ClassDef], init: ast.FunctionDef, arg: str) -> str | None:
    """How the model reads a constructor argument field by field: "dict" (`arg["x"]`,
    `arg.get(...)`, `**arg`), "object" (`arg.x`, `getattr(arg, ...)`), or None. Reads through an
    attribute it is stored in (`self.args = arg`, then `self.args.x` in any method) count."""
    aliases = {
        target.attr
        for node in ast.walk(init) if isinstance(node, ast.Assign) and _is_name(node.value, arg)
        for target in node.targets
        if isinstance(target, ast.Attribute) and _is_name(target.value, "self")
    }

    def named(node: ast.AST) -> bool:
        return _is_name(node, arg) or (
            isinstance(node, ast.Attribute) and node.attr in aliases and _is_name(node.value, "self"))

    uses: set[str] = set()
    for node in (n for cls in classes for n in ast.walk(cls)):
        by_key = (isinstance(node, ast.Subscript) and named(node.value)) or (
            isinstance(node, ast.keyword) and node.arg is None and named(node.value))
        if isinstance(node, ast.Attribute) and named(node.value):
            uses.add("dict" if node.attr in ("get", "pop") else "object")
        elif by_key:
            uses.add("dict")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and (
            node.func.id == "getattr" and node.args and named(node.args[0])
        ):
            uses.add("object")
    return "dict" if "dict" in uses else ("object" if uses else None)


def _is_name(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _method(node: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    for item in node.body:
        if isinstance(item, ast.FunctionDef) and item.name == name:
            return item
    return None


def _assigned_names(stmt: ast.stmt) -> list[str]:
    """The names a statement binds: `a = ...`, `a, b = ...`; never the owner of an attribute or
    item it sets (`torch.backends.cudnn.benchmark = True` and `os.environ[k] = v` bind nothing)."""
    targets: list[ast.expr] = []
    if isinstance(stmt, ast.Assign):
        targets = list(stmt.targets)
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)):
        targets = [stmt.target]
    out: list[str] = []

    def names(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            out.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                names(elt)
        elif isinstance(target, ast.Starred):
            names(target.value)

    for target in targets:
        names(target)
    return out


def _flat(value: TupleV | ListV) -> list[Val]:
    out: list[Val] = []
    for item in value.items:
        out.extend(_flat(item) if isinstance(item, (TupleV, ListV)) else [item])
    return out


def _rank_guard(lam: ast.Lambda) -> bool:
    """`lambda x: x.view(1, -1) if 1 == len(x.size()) else x` (also `x.dim() == 1`, reshape)."""
    x = lam.args.args[0].arg
    body = lam.body
    if not (isinstance(body, ast.IfExp) and _is_name(body.orelse, x) and isinstance(body.test, ast.Compare)):
        return False
    test = body.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = {ast.unparse(test.left), ast.unparse(test.comparators[0])}
    rank_forms = {f"len({x}.size())", f"len({x}.shape)", f"{x}.dim()", f"{x}.ndim"}
    view = body.body
    one = (isinstance(view, ast.Call) and isinstance(view.func, ast.Attribute)
           and view.func.attr in ("view", "reshape") and _is_name(view.func.value, x)
           and [ast.unparse(a) for a in view.args] == ["1", "-1"])
    return "1" in sides and bool(sides & rank_forms) and one


def _whole(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numeric(v: Val) -> bool:
    return isinstance(v, Sym) or (isinstance(v, Const) and _is_num(v.value))


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


def var_names(node: object) -> set[str]:
    """Every name a syntax tree (or part of one) reads as a value (`s.Var`)."""
    out: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, s.Var):
            out.add(item.name)
        elif isinstance(item, (tuple, list)):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__") and not isinstance(item, Span):
            stack.extend(getattr(item, f) for f in item.__dataclass_fields__)
    return out


def _default_of(fn: ast.FunctionDef, arg: str) -> ast.expr | None:
    """The default expression of a function's argument, if it has one."""
    positional = [*fn.args.posonlyargs, *fn.args.args]
    for a, d in zip(reversed(positional), reversed(fn.args.defaults), strict=False):
        if a.arg == arg:
            return d
    for a, kd in zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True):
        if a.arg == arg:
            return kd
    return None


def _module_key(node: ModNode) -> str:
    """What tells modules apart when a helper is lifted per module argument."""
    if isinstance(node, LayerNode):
        return f"{node.kind}{sorted((k, repr(v)) for k, (v, _) in node.args.items())}"
    if isinstance(node, SeqNode):
        return "seq[" + ",".join(_module_key(i) for i in node.items) + "]"
    return f"{node.cls_name}{[(k, repr(v)) for k, v, _ in node.args]}"


def _freezing_call(node: ast.expr) -> bool:
    """`X.requires_grad_(False)`, `X.eval()`, `X.train(False)`: a call that changes how a module
    trains, not what it computes."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("requires_grad_", "eval", "train"))


def _freezes_only(loop: ast.For) -> bool:
    """`for p in X.parameters(): p.requires_grad = False` (or `p.requires_grad_(False)`)."""
    it = loop.iter
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute)
            and it.func.attr in ("parameters", "named_parameters")):
        return False
    for stmt in loop.body:
        if isinstance(stmt, ast.Assign) and all(
            isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in stmt.targets
        ):
            continue
        if isinstance(stmt, ast.Expr) and _freezing_call(stmt.value):
            continue
        return False
    return True


_EINOPS = {
    "einops.layers.torch.Rearrange": "Rearrange", "einops.layers.torch.Reduce": "Reduce",
    "einops.rearrange": "rearrange", "einops.reduce": "reduce",
    "einops.einops.rearrange": "rearrange", "einops.einops.reduce": "reduce",
}


def _einops_axes(side: str) -> list[str | tuple[str, ...]] | None:
    """The axes of one side of an einops pattern: names, and tuples for `(c l)` groups."""
    out: list[str | tuple[str, ...]] = []
    group: list[str] | None = None
    for token in side.replace("(", " ( ").replace(")", " ) ").split():
        if token == "(":
            if group is not None:
                return None
            group = []
        elif token == ")":
            if not group:
                return None
            out.append(tuple(group))
            group = None
        elif token.isidentifier():
            if group is not None:
                group.append(token)
            else:
                out.append(token)
        else:
            return None  # `...`, `1`, `()`: not lifted
    return out if group is None else None


def _einops_step(pattern: str, reduction: str) -> tuple[str, list[tuple[str | None, Val]]] | None:
    """The archc step an einops pattern is, or None."""
    if pattern.count("->") != 1:
        return None
    left_text, right_text = pattern.split("->")
    left, right = _einops_axes(left_text), _einops_axes(right_text)
    if left is None or right is None or not all(isinstance(a, str) for a in left):
        return None
    names = [a for a in left if isinstance(a, str)]
    if not names or len(set(names)) != len(names):
        return None
    flat = [n for a in right for n in ((a,) if isinstance(a, str) else a)]
    if len(set(flat)) != len(flat) or not set(flat) <= set(names):
        return None
    if reduction:
        kept = [names.index(n) for n in flat]
        if any(isinstance(a, tuple) for a in right) or kept != sorted(kept) or reduction not in (
            "mean", "max", "sum"
        ):
            return None
        dropped = [i for i in range(len(names)) if names[i] not in flat]
        if not dropped:
            return None
        dim: Val = Const(dropped[0]) if len(dropped) == 1 else TupleV(tuple(Const(d) for d in dropped))
        return reduction, [(None, dim)]
    if set(flat) != set(names):
        return None
    groups = [a for a in right if isinstance(a, tuple)]
    if not groups:
        order = [names.index(n) for n in flat]  # (in order too: permute checks the rank)
        return "permute", [(None, TupleV(tuple(Const(i) for i in order)))]
    if len(groups) == 1 and flat == names:
        start = names.index(groups[0][0])
        return "flatten", [("start_dim", Const(start)), ("end_dim", Const(start + len(groups[0]) - 1))]
    return None


def _plain_value(value: Val, read: set[str]) -> Val:
    """A value without the caller's expression it follows (`Const(32, n_filters)` -> 32); the
    names it followed go into `read`."""
    if isinstance(value, Const) and value.expr is not None:
        read |= var_names(value.expr)
        return Const(value.value)
    if isinstance(value, TupleV):
        return TupleV(tuple(_plain_value(v, read) for v in value.items))
    return value


def _plain_node(node: ModNode, read: set[str]) -> ModNode:
    """A module handed to a helper, its sizes as numbers (see _plain_value)."""
    if isinstance(node, LayerNode):
        args = {k: (_plain_value(v, read), sp) for k, (v, sp) in node.args.items()}
        return LayerNode(node.kind, args, node.span, node.name_span, node.torch_name)
    if isinstance(node, SeqNode):
        return SeqNode([_plain_node(i, read) for i in node.items], node.span)
    block_args = tuple((k, _plain_value(v, read), sp) for k, v, sp in node.args)
    return BlockNode(node.cls_name, block_args, node.span, node.name_span)
