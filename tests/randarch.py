"""Random architectures over the whole layer catalogue, with an independent torch reference.

`generate(seed)` builds a small `.arch` program from `random.Random(seed)` and, step by
step, a plain torch model made by this file (its own `nn.Conv1d(...)`, `x.view(...)`,
...; never through archc). `evaluate(case)` runs archc in-process on the text, compiles
and runs the module it emits (with a runtime check after every shape comment), runs the
reference, and classifies the case:

- `agree`: archc accepts and every step's shape matches torch, or archc rejects with a
  located diagnostic and the reference fails too (torch raises, a documented rule is
  broken, or the model mixes the samples of a batch);
- `internal-error`: archc raised, or emitted code that does not load;
- `false-negative`: archc accepts, but the module raises, a shape differs from the
  reference, or a shape comment differs from the real tensor;
- `false-positive`: archc rejects, but the reference runs and keeps samples apart;
- `batch-mix`: archc accepts a model whose output for one sample depends on the others.

Semantics the reference follows (README "The language" and "Layers"): a step at class
level that runs an LSTM keeps its output sequence; `seq` is a literal `nn.Sequential`
(so an LSTM inside it hands its tuple on); `residual { body }` is `body(x) + x` and the
README makes different shapes an error (`residual-mismatch`), broadcasting included;
functional-only steps (view, select, ...) have no module form, so they cannot be named
or stand in a `seq` (permute, transpose, mean, max and the global pools have one); `batch`
in view/reshape is the input's batch size. A `for` loop
(README "Loops") runs its body once per index of `range(...)` with the index bound in the
arguments; at class level a named layer in the body is a module list, a fresh module per
iteration (the bare name of a module defined outside reuses that one module in every
iteration; a loop's list name cannot be reused bare, and a layer inside a `seq` in a loop
cannot be named); inside a `seq` a loop writes its items out one by one.
"""

from __future__ import annotations

import ast
import io
import math
import random
import re
import signal
import threading
import tokenize
import traceback
import types
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

CATEGORIES = ("agree", "internal-error", "false-negative", "false-positive", "batch-mix")
FAILING = CATEGORIES[1:]

# Positional order of each layer's arguments (README "Layers" table, PyTorch's order).
POSITIONAL: dict[str, tuple[str, ...]] = {
    "conv1d": ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"),
    "conv2d": ("out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"),
    "batchnorm1d": ("num_features",),
    "batchnorm2d": ("num_features",),
    "maxpool1d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "maxpool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "avgpool1d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "avgpool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad"),
    "adaptivemaxpool1d": ("output_size",),
    "linear": ("out_features", "bias"),
    "lstm": ("hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"),
    "relu": ("inplace",),
    "softmax": ("dim",),
    "log_softmax": ("dim",),
    "dropout": ("p", "inplace"),
    "flatten": ("start_dim", "end_dim"),
    "transpose": ("dim0", "dim1"),
    "select": ("dim", "index"),
}
VARARGS = frozenset({"view", "reshape", "permute"})
FUNCTIONAL_ONLY = frozenset(
    {"global_max_pool", "view", "reshape", "permute", "transpose", "contiguous", "select"}
)
STATEFUL = frozenset({"conv1d", "conv2d", "batchnorm1d", "batchnorm2d", "linear", "lstm"})
SIZE_IN = {"conv1d": "in_channels", "conv2d": "in_channels", "linear": "in_features", "lstm": "input_size"}

# Added layers (layers branch): their positional order, forms and input sizes.
POSITIONAL.update({
    "gelu": ("approximate",),
    "elu": ("alpha",),
    "leakyrelu": ("negative_slope",),
    "softplus": ("beta", "threshold"),
    "layernorm": ("normalized_shape", "eps", "elementwise_affine", "bias"),
    "groupnorm": ("num_groups", "num_channels", "eps", "affine"),
    "convtranspose1d": ("out_channels", "kernel_size", "stride", "padding", "output_padding", "groups",
                        "bias", "dilation"),
    "adaptiveavgpool1d": ("output_size",),
    "constantpad1d": ("padding", "value"),
    "crop": ("left", "right", "to"),
    "mean": ("dim", "keepdim"),
    "sum": ("dim", "keepdim"),
    "max": ("dim", "keepdim"),
    "upsample": ("size", "scale_factor", "mode", "align_corners"),
    "transformerencoderlayer": ("nhead", "dim_feedforward", "dropout", "activation", "layer_norm_eps",
                                "batch_first", "norm_first", "bias"),
})
VARARGS = VARARGS | {"flip"}
# Arguments that are sizes: README's `bad-size` refuses them below 1.
POSITIVE_SIZES = frozenset({"out_channels", "out_features", "hidden_size", "num_features", "num_channels",
                            "normalized_shape", "dim_feedforward", "output_size", "size_in"})
FUNCTIONAL_ONLY = FUNCTIONAL_ONLY | {"global_avg_pool", "crop", "flip", "mean", "sum", "max"}
# README "The language", unnamed steps: these may stand in a seq or be named all the same (the
# generated file defines a module for each). The generator still draws from FUNCTIONAL_ONLY, so
# the recorded seeds keep their programs.
NO_MODULE_FORM = FUNCTIONAL_ONLY - {"permute", "transpose", "mean", "max", "global_avg_pool", "global_max_pool"}
STATEFUL = STATEFUL | {"layernorm", "groupnorm", "convtranspose1d", "transformerencoderlayer"}
SIZE_IN = {**SIZE_IN, "convtranspose1d": "in_channels", "transformerencoderlayer": "d_model"}


# ------------------------------------------------------------------ program


@dataclass(frozen=True)
class Sym:
    """A block-parameter expression, written in the .arch text and evaluated per instance."""

    text: str


def ev(value: Any, env: dict[str, Any]) -> Any:
    """The value of an argument in a block instance's parameter environment."""
    if isinstance(value, Sym):
        return eval(value.text, {"__builtins__": {}}, dict(env))  # our own expressions
    if isinstance(value, tuple):
        return tuple(ev(v, env) for v in value)
    return value


def show(value: Any) -> str:
    """DSL text of a value."""
    if isinstance(value, Sym):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value == "batch" else f'"{value}"'
    if isinstance(value, tuple):
        inner = ", ".join(show(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


@dataclass
class Layer:
    """One layer call; `args` are (PyTorch name, value), the first `npos` written positionally."""

    kind: str
    args: list[tuple[str, Any]] = field(default_factory=list)
    npos: int = 0
    size_in: Any = None  # written input size: `linear(a -> b)`

    def get(self, name: str, default: Any = None) -> Any:
        return next((v for k, v in self.args if k == name), default)


@dataclass
class Named:
    name: str
    inner: Any  # Layer | Seq | BlockCall | Ref


@dataclass
class Ref:
    name: str


@dataclass
class Seq:
    items: list[Any]


@dataclass
class Residual:
    body: list[Any]


@dataclass
class BlockCall:
    block: str
    args: list[tuple[str | None, Any]]
    repeat: int = 1


@dataclass
class Loop:
    """`for var in range(*bounds) { body }`: the body once per index, `var` bound in its
    arguments (bounds may be `Sym`s of block parameters or outer indexes)."""

    var: str
    bounds: tuple[Any, ...]
    body: list[Any]


@dataclass
class BlockDef:
    name: str
    params: list[tuple[str, Any]]  # (name, default or None)
    body: list[Any]


@dataclass
class Program:
    blocks: list[BlockDef]
    length: int
    alphabet: int
    layout: str  # "default", "bcl", "blc", "lbc", "bchl", "bf"
    height: int
    body: list[Any]


def render_layer(layer: Layer) -> str:
    if layer.kind in VARARGS:
        return f"{layer.kind}({', '.join(show(v) for v in layer.get('values'))})"
    if not layer.args and layer.size_in is None:
        return layer.kind
    parts = []
    for i, (name, value) in enumerate(layer.args):
        text = show(value) if i < layer.npos else f"{name} = {show(value)}"
        if i == 0 and layer.size_in is not None:
            text = f"{show(layer.size_in)} -> {text}"
        parts.append(text)
    return f"{layer.kind}({', '.join(parts)})"


def render_node(node: Any, indent: int) -> list[str]:
    """Lines of one step (a step holding a seq or residual may take several)."""
    pad = "  " * indent
    if isinstance(node, Named):
        inner = render_node(node.inner, indent)
        return [f"{pad}{node.name} = {inner[0].lstrip()}", *inner[1:]]
    if isinstance(node, Layer):
        return [pad + render_layer(node)]
    if isinstance(node, Ref):
        return [pad + node.name]
    if isinstance(node, BlockCall):
        args = ", ".join(show(v) if k is None else f"{k} = {show(v)}" for k, v in node.args)
        call = f"{node.block}({args})"
        return [pad + (f"{call} * {node.repeat}" if node.repeat != 1 else call)]
    if isinstance(node, Seq):
        if all(isinstance(i, (Layer, Ref, BlockCall)) or (isinstance(i, Named) and isinstance(
            i.inner, (Layer, Ref, BlockCall))) for i in node.items):
            return [pad + "seq { " + " | ".join(render_node(i, 0)[0] for i in node.items) + " }"]
        lines = [pad + "seq {"]
        for item in node.items:
            lines += render_node(item, indent + 1)
        return [*lines, pad + "}"]
    if isinstance(node, Residual):
        lines = [pad + "residual {"]
        for item in node.body:
            lines += render_node(item, indent + 1)
        return [*lines, pad + "}"]
    if isinstance(node, Loop):
        lines = [f"{pad}for {node.var} in range({', '.join(show(b) for b in node.bounds)}) {{"]
        for item in node.body:
            lines += render_node(item, indent + 1)
        return [*lines, pad + "}"]
    raise TypeError(node)


INPUTS = {
    "default": None,
    "bcl": "input (batch, channels, length)",
    "blc": "input (batch, length, channels)",
    "lbc": "input (length, batch, channels)",
    "bchl": "input (batch, channels, height: {h}, length)",
    "bf": "input (batch, features: {h})",
}


def render(program: Program) -> str:
    """The .arch text of a program."""
    lines: list[str] = []
    for block in program.blocks:
        params = ", ".join(n if d is None else f"{n} = {show(d)}" for n, d in program_params(block))
        lines.append(f"block {block.name}({params}) {{")
        for node in block.body:
            lines += render_node(node, 1)
        lines.append("}")
    lines.append(
        f"arch r(classes = 2, length = {program.length}, alphabet = {program.alphabet}) {{"
    )
    header = INPUTS[program.layout]
    if header:
        lines.append("  " + header.format(h=program.height))
    for node in program.body:
        lines += render_node(node, 1)
    lines.append("}")
    return "\n".join(lines) + "\n"


def arch_env(program: Program) -> dict[str, Any]:
    """The arch's parameters, as written in its header (a loop's sizes may use them)."""
    return {"classes": 2, "length": program.length, "alphabet": program.alphabet}


def program_params(block: BlockDef) -> list[tuple[str, Any]]:
    return block.params


def input_shape(program: Program, batch: int) -> tuple[int, ...]:
    length, chans = program.length, program.alphabet
    return {
        "default": (batch, chans, length),
        "bcl": (batch, chans, length),
        "blc": (batch, length, chans),
        "lbc": (length, batch, chans),
        "bchl": (batch, chans, program.height, length),
        "bf": (batch, program.height),
    }[program.layout]


def input_batch_axis(program: Program) -> int:
    return 1 if program.layout == "lbc" else 0


# ------------------------------------------------------------------ reference


class RefError(Exception):
    """The reference fails: torch raises, or a documented rule of the language is broken."""


class TooBig(RefError):
    """The generator's probe grew past its limit (loops of repeated blocks can explode)."""


class _Ctx:
    batch = 1
    limit: int | None = None  # the generator's bound on probe sizes (set once it draws a loop)


class Lambda(nn.Module):
    """A functional step (view, permute, ...) as a module of the reference."""

    def __init__(self, fn: Callable[[Any], Any], text: str) -> None:
        super().__init__()
        self.fn = fn
        self.text = text

    def forward(self, x: Any) -> Any:
        return self.fn(x)


class ClassStep(nn.Module):
    """A step at class level: the module's output, an LSTM's output sequence only (also of an
    nn.Sequential whose last module is the LSTM: torch returns the LSTM's tuple)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Any) -> Any:
        out = self.module(x)
        last = self.module[-1] if isinstance(self.module, nn.Sequential) and len(self.module) else None
        return out[0] if isinstance(self.module, nn.LSTM) or isinstance(last, nn.LSTM) else out


class ResidualStep(nn.Module):
    def __init__(self, body: list[nn.Module]) -> None:
        super().__init__()
        self.body = nn.ModuleList(body)

    def forward(self, x: Any) -> Any:
        identity = x
        for step in self.body:
            x = step(x)
        return x + identity  # torch's broadcasting, as archc's residual-broadcast rule says


class LoopStep(nn.Module):
    """A loop at class level: the steps of all its iterations, in order."""

    def __init__(self, steps: list[nn.Module]) -> None:
        super().__init__()
        self.steps = nn.ModuleList(steps)

    def forward(self, x: Any) -> Any:
        for step in self.steps:
            x = step(x)
        return x


class BlockModule(nn.Module):
    def __init__(self, steps: list[nn.Module]) -> None:
        super().__init__()
        self.steps = nn.ModuleList(steps)

    def forward(self, x: Any) -> Any:
        for step in self.steps:
            x = step(x)
        return x


class RefModel(nn.Module):
    """The reference: class-level steps; `shapes` records each step's output shape."""

    def __init__(self, steps: list[nn.Module], ctx: _Ctx, batch_axis: int) -> None:
        super().__init__()
        self.steps = nn.ModuleList(steps)
        self.ctx = ctx
        self.batch_axis = batch_axis
        self.shapes: list[tuple[int, ...] | None] = []

    def forward(self, x: torch.Tensor) -> Any:
        self.ctx.batch = x.shape[self.batch_axis]
        self.shapes = []
        for step in self.steps:
            x = step(x)
            self.shapes.append(tuple(x.shape) if isinstance(x, torch.Tensor) else None)
        return x


@dataclass
class Probe:
    """Tensors at batch sizes 2 and 3 flowing through the model while it is built."""

    x2: Any
    x3: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.x2.shape) if isinstance(self.x2, torch.Tensor) else ()

    @property
    def tensor(self) -> bool:
        return isinstance(self.x2, torch.Tensor) and isinstance(self.x3, torch.Tensor)

    def batch_axis(self) -> int | None:
        """The axis that holds the batch (2 vs 3 samples), None once it is folded away."""
        if not self.tensor or self.x2.dim() != self.x3.dim():
            return None
        diff = [i for i, (a, b) in enumerate(zip(self.x2.shape, self.x3.shape, strict=False)) if a != b]
        if len(diff) == 1 and (self.x2.shape[diff[0]], self.x3.shape[diff[0]]) == (2, 3):
            return diff[0]
        return None


def _run(module: nn.Module, probe: Probe, ctx: _Ctx, what: str) -> Probe:
    out = []
    for batch, x in ((2, probe.x2), (3, probe.x3)):
        ctx.batch = batch
        try:
            with torch.no_grad():
                out.append(module(x))
        except RefError:
            raise
        except Exception as err:  # torch refuses: the reason is the point
            raise RefError(f"torch raises at `{what}` (batch {batch}): {_short(err)}") from None
    return Probe(out[0], out[1])


def _short(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def make_layer(layer: Layer, probe: Probe, env: dict[str, Any], ctx: _Ctx) -> nn.Module:
    """The torch module of one layer, its input size taken from the probe when not written."""
    kind = layer.kind
    a = {k: ev(v, env) for k, v in layer.args}
    written_in = ev(layer.size_in, env)
    shape = probe.shape
    if not probe.tensor:
        raise RefError(f"`{render_layer(layer)}` gets a {type(probe.x2).__name__}, not a tensor")

    def inferred(axis: int) -> int:
        if written_in is not None:
            return int(written_in)
        if len(shape) <= max(axis, -axis - 1):
            raise RefError(f"`{render_layer(layer)}`: no axis {axis} in {shape}")
        return shape[axis]

    if kind in ("conv1d", "conv2d"):
        cls = nn.Conv1d if kind == "conv1d" else nn.Conv2d
        return cls(
            inferred(1),
            a["out_channels"],
            a["kernel_size"],
            stride=a.get("stride", 1),
            padding=a.get("padding", 0),
            dilation=a.get("dilation", 1),
            groups=a.get("groups", 1),
            bias=a.get("bias", True),
            padding_mode=a.get("padding_mode", "zeros"),
        )
    if kind in ("batchnorm1d", "batchnorm2d"):
        cls = nn.BatchNorm1d if kind == "batchnorm1d" else nn.BatchNorm2d
        features = a.get("num_features") or inferred(1)
        return cls(features, track_running_stats=a.get("track_running_stats", True))
    if kind in ("maxpool1d", "maxpool2d"):
        cls = nn.MaxPool1d if kind == "maxpool1d" else nn.MaxPool2d
        return cls(
            a["kernel_size"],
            stride=a.get("stride"),
            padding=a.get("padding", 0),
            dilation=a.get("dilation", 1),
            ceil_mode=a.get("ceil_mode", False),
        )
    if kind in ("avgpool1d", "avgpool2d"):
        cls = nn.AvgPool1d if kind == "avgpool1d" else nn.AvgPool2d
        return cls(
            a["kernel_size"],
            stride=a.get("stride"),
            padding=a.get("padding", 0),
            ceil_mode=a.get("ceil_mode", False),
            count_include_pad=a.get("count_include_pad", True),
        )
    if kind == "adaptivemaxpool1d":
        return nn.AdaptiveMaxPool1d(a["output_size"])
    if kind == "linear":
        return nn.Linear(inferred(-1), a["out_features"], bias=a.get("bias", True))
    if kind == "lstm":
        if len(shape) != 3:
            # torch reads a 2-D input as one unbatched sequence, which runs across the samples of
            # the batch; archc's lstm takes (batch, length, features) or (length, batch, features).
            raise RefError(f"`{render_layer(layer)}`: an LSTM input of {len(shape)} axes runs across the batch")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return nn.LSTM(
                inferred(-1),
                a["hidden_size"],
                num_layers=a.get("num_layers", 1),
                bias=a.get("bias", True),
                batch_first=a.get("batch_first", False),
                dropout=a.get("dropout", 0.0),
                bidirectional=a.get("bidirectional", False),
            )
    if kind == "relu":
        return nn.ReLU(inplace=a.get("inplace", False))
    if kind == "sigmoid":
        return nn.Sigmoid()
    if kind == "tanh":
        return nn.Tanh()
    if kind == "softmax":
        return nn.Softmax(dim=a["dim"])
    if kind == "log_softmax":
        return nn.LogSoftmax(dim=a["dim"])
    if kind == "dropout":
        return nn.Dropout(a.get("p", 0.5), inplace=a.get("inplace", False))
    if kind == "flatten":
        return nn.Flatten(a.get("start_dim", 1), a.get("end_dim", -1))
    text = render_layer(layer)
    if kind in ("view", "reshape"):
        values = ev(layer.get("values"), env)
        method = kind

        def reshape(x: torch.Tensor) -> torch.Tensor:
            sizes = [ctx.batch if v == "batch" else v for v in values]
            return getattr(x, method)(*sizes)

        return Lambda(reshape, text)
    if kind == "permute":
        dims = ev(layer.get("values"), env)
        return Lambda(lambda x: x.permute(*dims), text)
    if kind == "transpose":
        return Lambda(lambda x: x.transpose(a["dim0"], a["dim1"]), text)
    if kind == "contiguous":
        return Lambda(lambda x: x.contiguous(), text)
    if kind == "select":
        return Lambda(lambda x: x.select(a["dim"], a["index"]), text)
    if kind == "global_max_pool":
        return Lambda(lambda x: x.amax(dim=-1), text)
    added = make_added_layer(layer, a, env, inferred, shape, text, probe.batch_axis())
    if added is not None:
        return added
    raise AssertionError(kind)


def make_added_layer(
    layer: Layer, a: dict[str, Any], env: dict[str, Any], inferred: Callable[[int], int],
    shape: tuple[int, ...], text: str, bax: int | None,
) -> nn.Module | None:
    """The torch reference of the layers added on the layers branch (None for other kinds)."""
    kind = layer.kind
    if kind == "gelu":
        return nn.GELU(approximate=a.get("approximate", "none"))
    if kind == "silu":
        return nn.SiLU()
    if kind == "elu":
        return nn.ELU(alpha=a.get("alpha", 1.0))
    if kind == "leakyrelu":
        return nn.LeakyReLU(negative_slope=a.get("negative_slope", 0.01))
    if kind == "softplus":
        return nn.Softplus(beta=a.get("beta", 1.0), threshold=a.get("threshold", 20.0))
    if kind == "identity":
        return nn.Identity()
    if kind == "layernorm":
        return nn.LayerNorm(
            a.get("normalized_shape") or inferred(-1),
            eps=a.get("eps", 1e-5),
            elementwise_affine=a.get("elementwise_affine", True),
            bias=a.get("bias", True),
        )
    if kind == "groupnorm":
        return nn.GroupNorm(a["num_groups"], a.get("num_channels") or inferred(1), affine=a.get("affine", True))
    if kind == "convtranspose1d":
        return nn.ConvTranspose1d(
            inferred(1),
            a["out_channels"],
            a["kernel_size"],
            stride=a.get("stride", 1),
            padding=a.get("padding", 0),
            output_padding=a.get("output_padding", 0),
            groups=a.get("groups", 1),
            bias=a.get("bias", True),
            dilation=a.get("dilation", 1),
        )
    if kind == "adaptiveavgpool1d":
        return nn.AdaptiveAvgPool1d(a["output_size"])
    if kind == "transformerencoderlayer":
        # Attention mixes the positions of its sequence: an unbatched (2-D) input, or the batch
        # anywhere but axis 0, attends across samples. The layer norms can hide that from the
        # value check (two features normalize to +-1), so the reference says it outright.
        if len(shape) != 3 or bax != 0:
            raise RefError(f"`{text}` on {shape} (batch on axis {bax}) attends across samples")
        return Batched3d(nn.TransformerEncoderLayer(
            inferred(-1),
            a["nhead"],
            dim_feedforward=a.get("dim_feedforward", 2048),
            dropout=a.get("dropout", 0.1),
            activation=a.get("activation", "relu"),
            batch_first=a.get("batch_first", True),  # archc's default; torch's is False
            norm_first=a.get("norm_first", False),
            bias=a.get("bias", True),
        ), text)
    if kind == "global_avg_pool":
        return Lambda(lambda x: x.mean(dim=-1), text)
    if kind == "constantpad1d":
        return nn.ConstantPad1d(a["padding"], a["value"])
    if kind == "upsample":
        up = nn.Upsample(
            size=a.get("size"),
            scale_factor=a.get("scale_factor"),
            mode=a.get("mode", "nearest"),
            align_corners=a.get("align_corners"),
        )

        def upsample(x: torch.Tensor) -> torch.Tensor:
            out = up(x)
            # README "Diagnostics", `too-short`: no step may leave an axis without positions
            # (torch's other modes raise here; mode "area" returns an empty tensor).
            if out.numel() == 0 and x.numel() > 0:
                raise RefError(f"upsample leaves {tuple(out.shape)} of {tuple(x.shape)}")
            return out

        return Lambda(upsample, text)
    if kind == "crop":
        def crop(x: torch.Tensor) -> torch.Tensor:
            size = x.shape[-1]
            if "to" in a:
                if "left" in a or "right" in a:
                    raise RefError("crop: `to` with left/right")
                if a["to"] > size:
                    raise RefError(f"crop to {a['to']} of {size} positions")
                left = (size - a["to"]) // 2
                right = size - a["to"] - left
            else:
                if "left" not in a:
                    raise RefError("crop needs left or to")
                left, right = a["left"], a.get("right", a["left"])
            if size - left - right < 1:
                raise RefError(f"crop leaves {size - left - right} positions")
            return x[..., left : size - right]

        return Lambda(crop, text)
    if kind == "flip":
        dims = ev(layer.get("values"), env)
        return Lambda(lambda x: torch.flip(x, dims=dims), text)
    if kind in ("mean", "sum", "max"):
        return Reduce(kind, a["dim"], a.get("keepdim", False))
    return None


class Batched3d(nn.Module):
    """An attention layer that refuses anything but (batch, length, features) at every call
    (a reused instance may be called at another rank; torch would take 2-D as unbatched)."""

    def __init__(self, inner: nn.Module, text: str) -> None:
        super().__init__()
        self.inner = inner
        self.text = text

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise RefError(f"`{self.text}` on a {x.dim()}-D input attends across samples")
        return self.inner(x)


class Reduce(nn.Module):
    """mean, sum or max over axes: a computation, not a data movement (no Lambda, so the
    provenance check, which follows sample indexes through moves, leaves it alone)."""

    def __init__(self, kind: str, dim: Any, keepdim: bool) -> None:
        super().__init__()
        self.method = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax}[kind]
        self.dim = dim
        self.keepdim = keepdim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.method(x, dim=self.dim, keepdim=self.keepdim)


@dataclass
class Scope:
    """The modules one class (the arch or a block instance) has registered by name."""

    modules: dict[str, nn.Module] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    # Names defined in a loop at class level (module lists), with the loop that fills each.
    listed: dict[str, int] = field(default_factory=dict)
    loop_id: int | None = None  # the innermost class-level loop being built
    in_loop: int = 0  # loops of any kind around the current node (seq ones included)

    def copy(self) -> Scope:
        """A copy to probe with (probing must not register names)."""
        return Scope(dict(self.modules), dict(self.kinds), dict(self.listed), self.loop_id, self.in_loop)


class Builder:
    """Builds the reference node by node, running probes through each step."""

    def __init__(self, blocks: dict[str, BlockDef]) -> None:
        self.blocks = blocks
        self.ctx = _Ctx()

    def layer(self, layer: Layer, probe: Probe, env: dict[str, Any]) -> nn.Module:
        # README "Diagnostics", `bad-size`: sizes are positive (torch takes `nn.Linear(4, 0)`;
        # only a loop's index, `linear(2 - i)`, writes such sizes here).
        for name, value in [*layer.args, ("size_in", layer.size_in)]:
            if name in POSITIVE_SIZES:
                sizes = ev(value, env)
                for v in sizes if isinstance(sizes, tuple) else (sizes,):
                    if isinstance(v, int) and not isinstance(v, bool) and v < 1:
                        raise RefError(f"`{render_layer(layer)}`: {name} {v} is not a positive size")
        try:
            return make_layer(layer, probe, env, self.ctx)
        except RefError:
            raise
        except Exception as err:
            raise RefError(f"torch refuses `{render_layer(layer)}`: {_short(err)}") from None

    def block(self, call: BlockCall, probe: Probe, env: dict[str, Any]) -> tuple[list[nn.Module], Probe]:
        block = self.blocks.get(call.block)
        if block is None:
            raise RefError(f"no block {call.block}")
        modules = []
        for _ in range(call.repeat):
            values: dict[str, Any] = {}
            positional = [n for n, _ in block.params]
            for i, (key, value) in enumerate(call.args):
                values[key or positional[i]] = ev(value, env)
            for name, default in block.params:
                if name not in values:
                    if default is None:
                        raise RefError(f"block {block.name} needs {name}")
                    values[name] = default
            scope = Scope()
            steps = []
            for node in block.body:
                step, probe = self.class_step(node, probe, scope, values)
                steps.append(step)
            modules.append(BlockModule(steps))
        return modules, probe

    def seq_items(
        self, node: Any, probe: Probe, scope: Scope, env: dict[str, Any]
    ) -> tuple[list[nn.Module], Probe]:
        """The nn.Sequential items of one seq entry (several for an unnamed repeat)."""
        if isinstance(node, Named):
            module, probe = self.named_module(node, probe, scope, env, in_seq=True)
            return [module], probe
        if isinstance(node, Ref):
            module = self.ref(node.name, scope)
            return [module], _run(module, probe, self.ctx, node.name)
        if isinstance(node, Layer):
            if node.kind in NO_MODULE_FORM:
                raise RefError(f"`{node.kind}` has no module form and cannot stand in a seq")
            module = self.layer(node, probe, env)
            return [module], _run(module, probe, self.ctx, render_layer(node))
        if isinstance(node, Seq):
            module, probe = self.seq(node, probe, scope, env)
            return [module], probe
        if isinstance(node, BlockCall):
            return self.block(node, probe, env)
        if isinstance(node, Loop):  # the items of every iteration, written out in order
            items: list[nn.Module] = []
            scope.in_loop += 1
            try:
                for index in self.indices(node, env):
                    inner = {**env, node.var: index}
                    for item in node.body:
                        more, probe = self.seq_items(item, probe, scope, inner)
                        self.bounded(probe)
                        items += more
            finally:
                scope.in_loop -= 1
            return items, probe
        raise RefError(f"`{type(node).__name__}` cannot stand in a seq")

    def indices(self, node: Loop, env: dict[str, Any]) -> range:
        """The indexes of a loop (README "Loops": Python's range())."""
        if node.var in env:
            raise RefError(f"`{node.var}` is already defined and cannot be the loop index")
        bounds = [ev(b, env) for b in node.bounds]
        if not 1 <= len(bounds) <= 3 or any(isinstance(b, bool) or not isinstance(b, int) for b in bounds):
            raise RefError(f"range() takes one to three whole numbers, got {bounds}")
        if len(bounds) == 3 and bounds[2] == 0:
            raise RefError("the step of range() cannot be 0")
        return range(*bounds)

    def loop(self, node: Loop, probe: Probe, scope: Scope, env: dict[str, Any]) -> nn.Module:
        """A loop at class level: every iteration's steps, fresh modules for named layers."""
        steps: list[nn.Module] = []
        outer = scope.loop_id
        scope.loop_id = id(node)
        scope.in_loop += 1
        try:
            for index in self.indices(node, env):
                inner = {**env, node.var: index}
                for item in node.body:
                    step, probe = self.class_step(item, probe, scope, inner)
                    steps.append(step)
        finally:
            scope.loop_id = outer
            scope.in_loop -= 1
        return LoopStep(steps)

    def seq(self, node: Seq, probe: Probe, scope: Scope, env: dict[str, Any]) -> tuple[nn.Module, Probe]:
        items: list[nn.Module] = []
        for item in node.items:
            more, probe = self.seq_items(item, probe, scope, env)
            self.bounded(probe)
            items += more
        return nn.Sequential(*items), probe

    def ref(self, name: str, scope: Scope) -> nn.Module:
        if name in scope.listed:
            raise RefError(f"`{name}` is a list of layers, one per iteration of its loop")
        if name not in scope.modules:
            raise RefError(f"`{name}` is not defined")
        return scope.modules[name]

    def named_module(
        self, node: Named, probe: Probe, scope: Scope, env: dict[str, Any], in_seq: bool
    ) -> tuple[nn.Module, Probe]:
        if node.name in scope.modules:
            raise RefError(f"`{node.name}` is defined twice")
        in_list = scope.loop_id is not None and not in_seq
        if node.name in scope.listed and (not in_list or scope.listed[node.name] != scope.loop_id):
            raise RefError(f"`{node.name}` is defined twice (a loop's list of layers)")
        if in_seq and scope.in_loop:
            raise RefError(f"`{node.name}`: a layer inside a seq in a loop cannot be named (the seq numbers them)")
        inner = node.inner
        if isinstance(inner, Layer):
            if inner.kind in NO_MODULE_FORM:
                raise RefError(f"`{inner.kind}` has no module form and cannot be named")
            module = self.layer(inner, probe, env)
            # An LSTM inside a seq hands on its tuple; at class level ClassStep unpacks it.
            out = _run(module, probe, self.ctx, render_layer(inner))
        elif isinstance(inner, Ref):
            module = self.ref(inner.name, scope)
            out = _run(module, probe, self.ctx, inner.name)
        elif isinstance(inner, Seq):
            module, out = self.seq(inner, probe, scope, env)
        elif isinstance(inner, BlockCall):
            modules, out = self.block(inner, probe, env)
            module = modules[0] if len(modules) == 1 else nn.Sequential(*modules)
        else:
            raise AssertionError(inner)
        if in_list:  # one item of the list per iteration; its name cannot be reused bare
            scope.listed[node.name] = scope.loop_id  # type: ignore[assignment]
            return module, out
        scope.modules[node.name] = module
        scope.kinds[node.name] = inner.kind if isinstance(inner, Layer) else type(inner).__name__
        return module, out

    def class_step(
        self, node: Any, probe: Probe, scope: Scope, env: dict[str, Any]
    ) -> tuple[nn.Module, Probe]:
        """One step at class level (the arch or a block body)."""
        if isinstance(node, Named):
            module, _ = self.named_module(node, probe, scope, env, in_seq=False)
            step: nn.Module = ClassStep(module)
        elif isinstance(node, Ref):
            step = ClassStep(self.ref(node.name, scope))
        elif isinstance(node, Layer):
            if node.kind in STATEFUL:
                raise RefError(f"`{node.kind}` has weights and needs a name outside seq")
            step = self.layer(node, probe, env)
        elif isinstance(node, Residual):
            body = []
            inner = probe
            for item in node.body:
                module, inner = self.class_step(item, inner, scope, env)
                body.append(module)
            step = ResidualStep(body)
        elif isinstance(node, Loop):
            step = self.loop(node, probe, scope, env)
        else:
            raise RefError(f"`{type(node).__name__}` needs a name at class level")
        out = _run(step, probe, self.ctx, render_node(node, 0)[0])
        self.bounded(out)
        return step, out

    def bounded(self, probe: Probe) -> None:
        """While generating: refuse a tensor past `limit` elements (the case would be slow)."""
        limit = self.ctx.limit
        if limit is not None and probe.tensor and probe.x3.numel() > limit:
            raise TooBig(f"{tuple(probe.x3.shape)} is too big to generate")


def probe_input(program: Program) -> Probe:
    gen = torch.Generator().manual_seed(0)
    return Probe(
        torch.randn(input_shape(program, 2), generator=gen),
        torch.randn(input_shape(program, 3), generator=gen),
    )


@dataclass
class Reference:
    """The reference model, or why it fails (`error`)."""

    model: RefModel | None
    error: str | None
    steps_built: int


def build_reference(program: Program) -> Reference:
    """Build the reference of a program from scratch (also used when shrinking)."""
    builder = Builder({b.name: b for b in program.blocks})
    probe = probe_input(program)
    scope = Scope()
    steps: list[nn.Module] = []
    try:
        if len({b.name for b in program.blocks}) != len(program.blocks):
            raise RefError("a block is defined twice")
        for node in program.body:
            step, probe = builder.class_step(node, probe, scope, arch_env(program))
            steps.append(step)
        if not probe.tensor:
            raise RefError(f"the model returns a {type(probe.x2).__name__}, not a tensor")
    except RefError as err:
        return Reference(None, str(err), len(steps))
    return Reference(RefModel(steps, builder.ctx, input_batch_axis(program)), None, len(steps))


# ------------------------------------------------------------------ generator


NAMES = ("conv", "bn", "pool", "fc", "rnn", "act", "drop", "flat", "s", "b", "blk")
# Loops: the index names by depth, and how often a loop is drawn (from a stream of its own, so
# that a program without loops is the one the generator drew before loops existed).
LOOP_VARS = ("i", "j", "m")
LOOP_TOP = 0.035  # per step of the arch
LOOP_BLOCK = 0.06  # per step of a new block's body
LOOP_SEQ = 0.015  # per item of a seq
GEN_LIMIT = 200_000  # elements of a probe (batch 3) the generator lets a program reach


class Generator:
    """Draws programs; probes torch after each step so that the next one is plausible."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.edge = self.rng.choice([0.2, 0.5, 1.0, 2.0])  # how often edge cases are drawn
        self.counter = 0
        self.blocks: list[BlockDef] = []
        self.builder = Builder({})
        self.loop_rng = random.Random(seed * 31 + 7)
        self.loop_vars: list[str] = []  # the indexes of the loops around the node being drawn

    # ------------------------------------------------------------ helpers

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def edgy(self, p: float) -> bool:
        """An edge case, drawn more or less often depending on the case."""
        return self.rng.random() < p * self.edge

    def pick(self, options: Sequence[Any], weights: Sequence[float] | None = None) -> Any:
        return self.rng.choices(list(options), weights=weights)[0]

    def name(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def small(self, size: int) -> int:
        """A window size biased toward the edges of `size` (near zero output)."""
        if self.edgy(0.5):
            return max(1, self.pick([size - 1, size, size + 1, size + 2], [3, 3, 2, 1]))
        return max(1, min(size, self.pick([1, 2, 3, 4, 5], [3, 3, 3, 1, 1])))

    # ------------------------------------------------------------ programs

    def program(self) -> Program:
        rng = self.rng
        layout = self.pick(["default", "bcl", "blc", "lbc", "bchl", "bf"], [3, 2, 2, 1, 2, 1])
        length = self.pick([rng.randint(1, 6), rng.randint(5, 16), rng.randint(10, 40)], [2, 4, 3])
        alphabet = rng.randint(1, 8)
        height = self.pick([1, 1, 2, 3, rng.randint(1, 6)])
        if layout == "bf":
            height = self.pick([1, 2, 6, 12, rng.randint(1, 40)])
        prog = Program(self.blocks, length, alphabet, layout, height, [])
        self.builder = Builder({})
        probe = probe_input(prog)
        scope = Scope()
        follow: Any = None
        for _ in range(rng.randint(1, 8)):
            if follow is None and self.loop_rng.random() < LOOP_TOP:
                follow = self.loop(probe, scope, arch_env(prog), top=True)
            node = follow or self.class_node(probe, scope, {}, depth=0, top=True)
            follow = None
            self.builder.blocks = {b.name: b for b in self.blocks}
            prog.body.append(node)
            try:
                _, probe = self.builder.class_step(node, probe, scope, arch_env(prog))
            except TooBig:
                prog.body.pop()
                prog.body = prog.body or [Layer("relu")]
                break
            except RefError:
                break
            if not probe.tensor:
                break
            if isinstance(node, Layer) and node.kind in ("permute", "transpose") and self.chance(0.4):
                # A view right after a permute: the tensor is not contiguous.
                follow = self.make_view(self.pick(["view", "view", "reshape"]), probe.shape,
                                        probe.batch_axis(), {})
                continue
            inner = node.inner if isinstance(node, Named) else None
            if isinstance(inner, Layer) and inner.kind == "lstm" and self.chance(0.6):
                # The usual classifier head: the last time step of the output sequence.
                time_axis = 1 if probe.batch_axis() == 0 else 0
                follow = Layer("select", [("dim", time_axis), ("index", self.pick([-1, -1, 0]))], 2)
        return prog

    # ------------------------------------------------------------ nodes

    def class_node(self, probe: Probe, scope: Scope, env: dict[str, Any], depth: int, top: bool) -> Any:
        """A step at class level."""
        roll = self.rng.random()
        if depth < 2 and roll < 0.08:
            return Named(self.name("s"), self.seq_node(probe, scope, env, depth + 1))
        if depth < 2 and roll < 0.16:
            return self.residual(probe, scope, env, depth + 1)
        if top and roll < 0.32:
            return Named(self.name("b"), self.block_call(probe))
        if scope.modules and roll < 0.37:
            name = self.pick(sorted(scope.modules))
            # (in a loop, a bare name reuses the one module in every iteration; no alias there)
            alias = self.chance(0.15) and not self.loop_vars
            return Named(self.name("alias"), Ref(name)) if alias else Ref(name)
        layer = self.layer(probe, env, in_seq=False)
        if layer.kind in STATEFUL or (layer.kind not in FUNCTIONAL_ONLY and self.chance(0.2)):
            return Named(self.name(layer.kind[:4]), layer)
        if layer.kind in FUNCTIONAL_ONLY and self.edgy(0.02):
            return Named(self.name("f"), layer)  # no module form: archc must refuse
        return layer

    def seq_node(self, probe: Probe, scope: Scope, env: dict[str, Any], depth: int) -> Seq:
        items: list[Any] = []
        local = probe
        sub = self.builder
        scope = scope.copy()  # probing must not register names
        for _ in range(self.rng.randint(1, 4)):
            roll = self.rng.random()
            if depth < 2 and len(self.loop_vars) < len(LOOP_VARS) and self.loop_rng.random() < LOOP_SEQ:
                node: Any = self.seq_loop(local, scope, env)
            elif depth < 2 and roll < 0.07:
                node = self.seq_node(local, scope, env, depth + 1)
                if self.chance(0.5) and not self.loop_vars:
                    node = Named(self.name("s"), node)
            elif roll < 0.17 and depth < 2:
                node = self.block_call(local)
                if self.chance(0.2) and not self.loop_vars:
                    node = Named(self.name("b"), node)
            elif scope.modules and roll < 0.22:
                node = Ref(self.pick(sorted(scope.modules)))
            else:
                layer = self.layer(local, env, in_seq=True)
                named = self.chance(0.35) and not self.loop_vars  # no names in a seq in a loop
                node = Named(self.name(layer.kind[:4]), layer) if named else layer
            items.append(node)
            sub.blocks = {b.name: b for b in self.blocks}
            try:
                _, local = sub.seq_items(node, local, scope, env)
            except RefError:
                break
            if not local.tensor:
                break
        return Seq(items)

    def residual(self, probe: Probe, scope: Scope, env: dict[str, Any], depth: int) -> Residual:
        body: list[Any] = []
        local = probe
        scope = scope.copy()  # probing must not register names
        for _ in range(self.rng.randint(1, 3)):
            shape = local.shape
            if len(shape) in (3, 4) and local.batch_axis() == 0 and self.chance(0.5):
                kind = "conv1d" if len(shape) == 3 else "conv2d"
                k = self.pick([2, 4]) if self.edgy(0.3) else self.pick([1, 3, 5])
                out = self.pick([1, shape[1] + 1]) if self.edgy(0.3) else shape[1]
                layer = Layer(kind, [("out_channels", out), ("kernel_size", k), ("padding", k // 2)], 2)
                node: Any = Named(self.name("conv"), layer)
            elif self.edgy(0.5):
                node = self.class_node(local, scope, env, depth, top=False)
            else:  # a step that keeps the shape
                kind = self.pick(["relu", "sigmoid", "tanh", "dropout", "contiguous"])
                node = Layer(kind)
                if len(shape) in (3, 4) and local.batch_axis() == 0 and self.chance(0.4):
                    node = Named(self.name("bn"), Layer("batchnorm1d" if len(shape) == 3 else "batchnorm2d"))
            body.append(node)
            try:
                _, local = self.builder.class_step(node, local, scope, env)
            except RefError:
                break
        return Residual(body)

    def block_call(self, probe: Probe) -> BlockCall:
        """An instance of a block: a new one made for this input, or an existing one."""
        channels = probe.shape[1] if len(probe.shape) > 1 else 4
        if self.blocks and self.chance(0.6):
            block = self.pick(self.blocks)
            return self.call_of(block, channels)
        index = len(self.blocks)
        name = "B" if index == 0 else self.pick(["B_2", "B_2", "C", "B_3"])
        if any(b.name == name for b in self.blocks):
            name = f"D{index}"
        params: list[tuple[str, Any]] = [("c", None), ("k", 3)]
        env = {"c": channels if self.chance(0.7) else self.rng.randint(1, 8), "k": self.pick([1, 3, 5, 2])}
        block = BlockDef(name, params, [])
        self.blocks.append(block)
        # The body is drawn at this first use, with c and k standing for their values here.
        scope = Scope()
        local = probe
        builder = Builder({b.name: b for b in self.blocks})
        builder.ctx = self.builder.ctx
        outer_loops, self.loop_vars = self.loop_vars, []  # a block's body is a class of its own
        for _ in range(self.rng.randint(1, 3)):
            if self.loop_rng.random() < LOOP_BLOCK:
                node: Any = self.loop(local, scope, env, top=False)
            elif len(local.shape) in (3, 4) and self.chance(0.3):
                node = self.residual(local, scope, env, depth=1)
            else:
                node = self.class_node(local, scope, env, depth=1, top=False)
            block.body.append(node)
            try:
                _, local = builder.class_step(node, local, scope, env)
            except TooBig:
                block.body.pop()
                block.body = block.body or [Layer("relu")]
                break
            except RefError:
                break
        self.loop_vars = outer_loops
        args: list[tuple[str | None, Any]] = [(None, env["c"])]
        if env["k"] != 3 or self.chance(0.3):
            args.append(("k" if self.chance(0.3) else None, env["k"]))
        return BlockCall(name, args, self.pick([1, 1, 1, 2, 3]))

    def call_of(self, block: BlockDef, channels: int) -> BlockCall:
        c = channels if self.chance(0.6) else self.rng.randint(1, 8)
        args: list[tuple[str | None, Any]] = [(None, c)]
        if self.chance(0.5):
            args.append((None, self.pick([1, 2, 3, 5])))
        if self.chance(0.2):
            args = [("k", args[-1][1]), ("c", c)] if len(args) == 2 else [("c", c)]
        return BlockCall(block.name, args, self.pick([1, 1, 2]))

    # ------------------------------------------------------------ loops

    def loop_bounds(self, env: dict[str, Any]) -> tuple[tuple[Any, ...], int]:
        """range() bounds, and the first index (the body is drawn for it)."""
        rng = self.rng
        outer = self.loop_vars[-1] if self.loop_vars else None
        bounds: tuple[Any, ...]
        roll = rng.random()
        if self.edgy(0.04):
            bounds = self.pick([(0,), (2, 2), (3, 1)])  # no iteration at all
        elif roll < 0.45:
            bounds = (self.pick([1, 2, 2, 3, 3, 4]),)
        elif roll < 0.7:
            start = rng.randint(0, 2)
            bounds = (start, start + rng.randint(1, 3))
        elif roll < 0.82:
            bounds = self.pick([(0, 5, 2), (1, 6, 2), (3, 0, -1), (2, -1, -1), (1, 4, 1)])
        elif "k" in env and 1 <= env["k"] <= 5:
            bounds = self.pick([(Sym("k"),), (1, Sym("k")), (Sym("k // 2 + 1"),), (Sym("k - 1"), -1, -1)])
        elif "length" in env and self.chance(0.5):
            bounds = self.pick([(Sym("length // 10 + 1"),), (1, Sym("classes + 1"))])
        elif outer is not None:
            bounds = self.pick([(Sym(outer),), (Sym(f"{outer} + 1"),), (Sym(outer), 3)])  # triangular
        else:
            bounds = (rng.randint(1, 3),)
        indices = range(*ev(bounds, env))
        return bounds, indices[0] if indices else ev(bounds[0], env)

    def loop(self, probe: Probe, scope: Scope, env: dict[str, Any], top: bool) -> Loop:
        """A loop at class level, its body drawn for the first index (sizes follow the index)."""
        var = LOOP_VARS[len(self.loop_vars)]
        bounds, first = self.loop_bounds(env)
        node = Loop(var, bounds, [])
        inner = {**env, var: first}
        local = probe
        self.builder.ctx.limit = GEN_LIMIT  # loops of blocks can grow without bound
        scope = scope.copy()  # probing must not register names
        scope.loop_id = id(node)
        scope.in_loop += 1
        self.loop_vars.append(var)
        try:
            for _ in range(self.rng.randint(1, 3)):
                item = self.loop_item(local, scope, inner, top)
                node.body.append(item)
                self.builder.blocks = {b.name: b for b in self.blocks}
                try:
                    _, local = self.builder.class_step(item, local, scope, inner)
                except TooBig:
                    node.body.pop()
                    break
                except RefError:
                    break
                if not local.tensor:
                    break
        finally:
            self.loop_vars.pop()
        node.body = node.body or [Layer("relu")]
        return node

    def seq_loop(self, probe: Probe, scope: Scope, env: dict[str, Any]) -> Loop:
        """A loop inside a seq: its items written out per index (none of them named)."""
        var = LOOP_VARS[len(self.loop_vars)]
        bounds, first = self.loop_bounds(env)
        node = Loop(var, bounds, [])
        inner = {**env, var: first}
        local = probe
        self.builder.ctx.limit = GEN_LIMIT
        self.loop_vars.append(var)
        try:
            for _ in range(self.rng.randint(1, 2)):
                shape = local.shape
                item: Any
                if len(shape) in (3, 4) and local.batch_axis() == 0 and self.chance(0.5):
                    item = self.index_conv(shape, inner, var)
                else:
                    item = self.layer(local, inner, in_seq=True)
                node.body.append(item)
                try:
                    _, local = self.builder.seq_items(item, local, scope, inner)
                except RefError:
                    break
                if not local.tensor:
                    break
        finally:
            self.loop_vars.pop()
        return node

    def index_size(self, env: dict[str, Any], var: str) -> Sym:
        """A layer size that follows the loop index (`8 + 2 * i`, `c * (i + 1)`, ...)."""
        a, b = self.rng.randint(1, 6), self.rng.randint(1, 3)
        if self.edgy(0.05):
            return Sym(self.pick([var, f"{a} - {var}", f"{var} - 1"]))  # zero or less somewhere
        forms = [f"{a} + {b} * {var}", f"{a} + {var}", f"{b} * ({var} + 1)"]
        if "c" in env:
            forms += [f"c + {var}", f"c * ({var} + 1)", f"c + 2 * {var}"]
        if "alphabet" in env:  # `conv1d(f * (i + 1), 3)` with a parameter of the arch
            forms += [f"alphabet * ({var} + 1)", f"alphabet + {var}", f"classes * {var} + 1"]
        if len(self.loop_vars) > 1:
            outer = self.loop_vars[-2]
            forms += [f"{a} + {outer} + {var}", f"{b} * ({outer} + 1) + {var}"]
        return Sym(self.pick(forms))

    def index_conv(self, shape: tuple[int, ...], env: dict[str, Any], var: str) -> Layer:
        """A convolution whose width, kernel, dilation or padding follow the index."""
        kind = "conv1d" if len(shape) == 3 else "conv2d"
        args: dict[str, Any] = {"out_channels": self.index_size(env, var) if self.chance(0.7)
                                else self.sym(env, self.rng.randint(1, 8), "c")}
        dil = self.pick([f"1 + {var}", f"2 ** {var}", f"{var} + 1"])
        roll = self.rng.random()
        if shape[-1] < 8 and self.chance(0.6):
            roll *= 0.5  # a short input: mostly a form that keeps the length
        if roll < 0.3:  # a dilated stack that keeps the length
            args.update(kernel_size=3, padding=Sym(dil), dilation=Sym(dil))
        elif roll < 0.5:  # kernels 1, 3, 5, ... that keep the length
            args.update(kernel_size=Sym(f"1 + 2 * {var}"), padding=Sym(var))
        elif roll < 0.65:  # a kernel that grows: the length shrinks by i per iteration
            args.update(kernel_size=Sym(f"{var} + 1"))
        elif roll < 0.8:
            args.update(kernel_size=self.pick([2, 3]), dilation=Sym(dil))
        elif roll < 0.9:
            args.update(kernel_size=3, padding="same", dilation=Sym(dil))
        else:
            args.update(kernel_size=self.pick([1, 3]), stride=Sym(f"1 + {var} % 2"))
        if self.chance(0.1):
            args["bias"] = False
        return self.ordered(kind, args)

    def index_residual(self, probe: Probe, env: dict[str, Any], var: str) -> Residual:
        """`residual { conv = conv1d(C, 3, padding = 2 ** i, dilation = 2 ** i) | relu }`."""
        shape = probe.shape
        kind = "conv1d" if len(shape) == 3 else "conv2d"
        channels: Any = Sym("c") if env.get("c") == shape[1] and self.chance(0.5) else shape[1]
        if self.edgy(0.1):
            channels = self.index_size(env, var)  # the width changes: the add's shapes differ
        dil = self.pick([f"1 + {var}", f"2 ** {var}", f"{var} + 1"])
        roll = self.rng.random()
        args: dict[str, Any] = {"out_channels": channels}
        if self.edgy(0.1):
            args.update(kernel_size=3, padding=Sym(var))  # the length keeps at i = 1 only
        elif roll < 0.6:
            args.update(kernel_size=3, padding=Sym(dil), dilation=Sym(dil))
        else:
            args.update(kernel_size=Sym(f"1 + 2 * {var}"), padding=Sym(var))
        body: list[Any] = []
        if self.chance(0.25):
            body.append(Named(self.name("bn"), Layer("batchnorm1d" if kind == "conv1d" else "batchnorm2d")))
        body.append(Named(self.name("rconv"), self.ordered(kind, args)))
        body.append(Layer(self.pick(["relu", "relu", "gelu", "tanh"])))
        return Residual(body)

    def loop_item(self, probe: Probe, scope: Scope, env: dict[str, Any], top: bool) -> Any:
        """One step of a loop body, mostly with sizes that follow the index."""
        shape = probe.shape
        rank = len(shape)
        var = self.loop_vars[-1]
        convs = rank in (3, 4) and probe.batch_axis() == 0
        roll = self.rng.random()
        if convs and roll < 0.3:
            return Named(self.name("conv"), self.index_conv(shape, env, var))
        if convs and roll < 0.45:
            return self.index_residual(probe, env, var)
        if rank >= 2 and roll < 0.52:
            return Named(self.name("fc"), self.ordered("linear", {"out_features": self.index_size(env, var)}))
        if rank == 3 and roll < 0.57:
            args: dict[str, Any] = {"hidden_size": self.index_size(env, var)}
            if probe.batch_axis() == 0:
                args["batch_first"] = True
            return Named(self.name("rnn"), self.ordered("lstm", args))
        if len(self.loop_vars) < 2 and roll < 0.63:
            return self.loop(probe, scope, env, top)
        if top and len(self.loop_vars) == 1 and roll < 0.68:
            call = self.block_call(probe)
            call.repeat = 1 if self.chance(0.8) else call.repeat
            value = call.args[0][1] if call.args else None
            if isinstance(value, int) and self.chance(0.7):
                step = self.rng.randint(1, 2)
                base = value - step * env[var]
                if base >= 1:
                    call.args[0] = (call.args[0][0], Sym(f"{base} + {step} * {var}"))
            return Named(self.name("b"), call)
        if rank == 3 and roll < 0.73:
            kind = self.pick(["maxpool1d", "avgpool1d"])
            pool: dict[str, Any] = {"kernel_size": Sym(self.pick([f"1 + {var} % 2", f"{var} + 1"]))}
            if self.chance(0.4):
                pool["stride"] = 1
            if self.chance(0.3):
                pool["ceil_mode"] = True
            return self.ordered(kind, pool)
        if convs and roll < 0.78:
            act = Layer(self.pick(["relu", "gelu", "tanh"]))
            return Named(self.name("s"), Seq([self.index_conv(shape, env, var), act]))
        return self.class_node(probe, scope, env, depth=1, top=False)

    # ------------------------------------------------------------ layers

    def sym(self, env: dict[str, Any], value: Any, name: str, expr: str | None = None) -> Any:
        """Within a block, sometimes write a parameter instead of its value."""
        if name in env and self.chance(0.5):
            return Sym(expr or name)
        return value

    def layer(self, probe: Probe, env: dict[str, Any], in_seq: bool) -> Layer:
        shape = probe.shape
        rank = len(shape)
        bax = probe.batch_axis()
        kinds: dict[str, float] = {
            "relu": 1.0, "sigmoid": 0.4, "tanh": 0.4, "dropout": 0.6, "softmax": 0.5,
            "log_softmax": 0.3, "flatten": 1.0, "linear": 1.2 if rank >= 2 else 0.1,
        }
        if not in_seq or self.edgy(0.05):
            kinds.update({"view": 1.5, "reshape": 1.0, "permute": 0.8, "transpose": 0.6,
                          "contiguous": 0.5, "select": 0.6})
        if rank == 3:
            kinds.update({"conv1d": 3.0, "batchnorm1d": 1.0, "maxpool1d": 1.5, "avgpool1d": 1.2,
                          "adaptivemaxpool1d": 0.6, "lstm": 1.2, "conv2d": 0.1})
            if not in_seq or self.edgy(0.05):
                kinds["global_max_pool"] = 0.6
        elif rank == 4:
            kinds.update({"conv2d": 3.0, "batchnorm2d": 1.0, "maxpool2d": 1.5, "avgpool2d": 1.2,
                          "conv1d": 0.1, "batchnorm1d": 0.1})
        elif rank == 2:
            kinds.update({"batchnorm1d": 0.6, "adaptivemaxpool1d": 0.3, "lstm": 0.15})
        self.added_kinds(kinds, rank, in_seq)  # added layers (layers branch)
        kind = self.pick(list(kinds), list(kinds.values()))
        return getattr(self, "make_" + kind, self.make_simple)(kind, shape, bax, env)

    def ordered(self, kind: str, args: dict[str, Any], size_in: Any = None) -> Layer:
        order = POSITIONAL.get(kind, ())
        items = [(n, args[n]) for n in order if n in args]
        items += [(n, v) for n, v in args.items() if n not in order]
        npos = 0
        while npos < len(items) and npos < len(order) and items[npos][0] == order[npos]:
            npos += 1
        npos = self.rng.choice([npos, npos, self.rng.randint(0, npos)])
        if size_in is not None:
            npos = max(npos, 1)
        return Layer(kind, items, npos, size_in)

    def make_simple(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        return Layer(kind)

    def make_relu(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        return self.ordered(kind, {"inplace": True} if self.chance(0.15) else {})

    def make_dropout(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        args: dict[str, Any] = {}
        if self.chance(0.7):
            args["p"] = 1.5 if self.edgy(0.1) else self.pick([0.0, 0.2, 0.5, 1.0, 0.3])
        if self.chance(0.1):
            args["inplace"] = True
        return self.ordered(kind, args)

    def dim(self, rank: int, bax: int | None) -> int:
        if bax is not None and self.edgy(0.12):
            return self.pick([bax, bax - rank])
        if self.edgy(0.05):
            return self.pick([rank, -rank - 1])
        return self.rng.randint(-rank, max(rank - 1, -rank))

    def make_softmax(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        return self.ordered(kind, {"dim": self.dim(len(shape), bax)})

    make_log_softmax = make_softmax

    def make_flatten(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rank = len(shape)
        args: dict[str, Any] = {}
        if self.chance(0.5):
            args["start_dim"] = self.dim(rank, bax) if self.chance(0.3) else self.rng.randint(0, max(rank - 1, 0))
            if self.chance(0.5):
                args["end_dim"] = self.dim(rank, bax)
        return self.ordered(kind, args)

    def make_transpose(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rank = len(shape)
        return self.ordered(kind, {"dim0": self.dim(rank, bax), "dim1": self.dim(rank, bax)})

    def make_select(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rank = len(shape)
        dim = self.dim(rank, bax)
        size = shape[dim] if -rank <= dim < rank else 1
        index = self.pick([size, -size - 1]) if self.edgy(0.3) else self.pick([0, -1, size - 1, -size, 1])
        return self.ordered(kind, {"dim": dim, "index": index})

    def make_permute(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rank = len(shape)
        dims = list(range(rank))
        self.rng.shuffle(dims)
        if self.chance(0.3) and bax is not None and bax in dims and dims.index(bax) != bax:
            dims.remove(bax)
            dims.insert(bax, bax)  # keep the batch where it is
        if self.edgy(0.05):
            dims = dims[:-1] if self.chance(0.5) or not dims else [*dims[:-1], dims[0]]
        if self.chance(0.2):
            dims = [d - rank if self.chance(0.5) else d for d in dims]
        return Layer(kind, [("values", tuple(dims))])

    def make_view(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rng = self.rng
        sizes = [s for i, s in enumerate(shape) if i != bax]
        total = math.prod(sizes)
        roll = rng.random()
        if roll < 0.35 or total < 1:  # merge everything into one axis (an empty tensor has no factors)
            target: list[Any] = [total]
        elif roll < 0.6:  # split into two or three factors
            divisors = [d for d in range(1, total + 1) if total % d == 0]
            a = self.pick(divisors)
            rest = total // a
            b = self.pick([d for d in range(1, rest + 1) if rest % d == 0])
            target = [a, rest // b, b] if self.chance(0.5) else [a, rest]
        elif roll < 0.75:  # keep the axes (often after a permute: not contiguous)
            target = list(sizes)
        else:  # something that may not fit
            target = [max(1, total + self.pick([-1, 1, 2])), *sizes[1:]] if sizes else [2]
        where = bax if bax is not None else 0
        batch = self.pick(["batch", -1, "batch"])
        if self.edgy(0.15):
            where = rng.randint(0, len(target))  # the batch written at another position
        target.insert(where, batch)
        if self.edgy(0.1):
            target = [t for t in target if t not in ("batch", -1)] + [-1]  # fold the batch
        if self.edgy(0.05):
            target = [t if t != "batch" else -1 for t in target] + [-1]
        if env and self.chance(0.2):
            target = [Sym("c") if t == env.get("c") else t for t in target]
        return Layer(kind, [("values", tuple(target))])

    make_reshape = make_view

    def conv_args(self, kind: str, shape: tuple[int, ...], env: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        rng = self.rng
        n = 1 if kind == "conv1d" else 2
        spatial = shape[-n:] if len(shape) >= n else (1,) * n
        in_ch = shape[1] if len(shape) > 1 else 1
        out = rng.randint(1, 8)
        args: dict[str, Any] = {}
        groups = 1
        if self.chance(0.15):
            groups = self.pick([2, 3]) if self.edgy(0.2) else self.pick([g for g in range(1, 9) if in_ch % g == 0])
            out = out if self.edgy(0.15) else groups * rng.randint(1, 3)
        args["out_channels"] = self.sym(env, out, "c") if groups == 1 else out
        kernels = [self.small(s) for s in spatial]
        kernel: Any = kernels[0] if n == 1 or (len(set(kernels)) == 1 and self.chance(0.5)) else tuple(kernels)
        if n == 1 and self.chance(0.05):
            kernel = (kernels[0],)
        args["kernel_size"] = self.sym(env, kernel, "k") if isinstance(kernel, int) else kernel
        if self.chance(0.35):
            args["stride"] = self.pick([1, 2, 3]) if n == 1 or self.chance(0.6) else (self.pick([1, 2]), 1)
        mode = self.pick(["zeros", "reflect", "replicate", "circular"], [6, 2, 1, 2])
        if self.chance(0.6) or mode != "zeros":
            roll = rng.random()
            if roll < 0.2:
                args["padding"] = "same"
            elif roll < 0.3:
                args["padding"] = "valid"
            elif roll < 0.5 and mode != "zeros" and self.edgy(0.8):  # padding around the input size
                args["padding"] = max(0, min(spatial) + self.pick([-1, 0, 1]))
            elif roll < 0.6 and n == 2:
                args["padding"] = (rng.randint(0, 2), rng.randint(0, 2))
            else:
                k0 = kernels[0]
                args["padding"] = self.sym(env, self.pick([0, 1, k0 // 2, k0, 2]), "k", "k // 2")
        if self.chance(0.2):
            args["dilation"] = self.pick([1, 2, 3]) if n == 1 or self.chance(0.5) else (2, 1)
        if groups != 1:
            args["groups"] = groups
        if self.chance(0.1):
            args["bias"] = False
        if mode != "zeros":
            args["padding_mode"] = mode
        size_in = None
        if self.chance(0.15):
            size_in = in_ch + 1 if self.edgy(0.2) else in_ch
        return args, size_in

    def make_conv1d(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        args, size_in = self.conv_args(kind, shape, env)
        return self.ordered(kind, args, size_in)

    make_conv2d = make_conv1d

    def make_batchnorm1d(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        args: dict[str, Any] = {}
        if self.chance(0.2) and len(shape) > 1:
            args["num_features"] = shape[1] + 1 if self.edgy(0.2) else shape[1]
        if self.edgy(0.04):
            args["track_running_stats"] = False  # normalizes with batch statistics in eval
        return self.ordered(kind, args)

    make_batchnorm2d = make_batchnorm1d

    def make_maxpool1d(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rng = self.rng
        n = 1 if kind.endswith("1d") else 2
        spatial = shape[-n:] if len(shape) >= n else (1,) * n
        ks = [self.small(s) for s in spatial]
        args: dict[str, Any] = {"kernel_size": ks[0] if n == 1 or ks[0] == ks[1] else tuple(ks)}
        if n == 1:
            args["kernel_size"] = self.sym(env, args["kernel_size"], "k")
        if self.chance(0.5):
            args["stride"] = self.pick([1, 2, 3, ks[0] + 1], [2, 3, 1, 1]) if n == 1 or self.chance(0.5) else (1, 2)
        if self.chance(0.35):
            args["padding"] = self.pick([0, 1, ks[0] // 2, (ks[0] + 1) // 2, rng.randint(0, 3)])
        if kind.startswith("max") and self.chance(0.2):
            args["dilation"] = self.pick([1, 2, 3])
        if self.chance(0.35):
            args["ceil_mode"] = True
        if kind.startswith("avg") and self.chance(0.25):
            args["count_include_pad"] = False
        return self.ordered(kind, args)

    make_maxpool2d = make_avgpool1d = make_avgpool2d = make_maxpool1d

    def make_adaptivemaxpool1d(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        size = shape[-1] if shape else 1
        return self.ordered(kind, {"output_size": self.pick([1, 2, size, size + 1, max(1, size // 2)])})

    def make_linear(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        args: dict[str, Any] = {"out_features": self.sym(env, self.rng.randint(1, 8), "c")}
        if self.chance(0.1):
            args["bias"] = False
        size_in = None
        if self.chance(0.3) and shape:
            size_in = shape[-1] + self.pick([-1, 1, 2]) if self.edgy(0.15) else shape[-1]
            size_in = max(size_in, 1)
        return self.ordered(kind, args, size_in)

    def make_lstm(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        args: dict[str, Any] = {"hidden_size": self.sym(env, self.rng.randint(1, 6), "c")}
        if self.chance(0.3):
            args["num_layers"] = self.pick([1, 2])
        batch_first = bax != 0 if self.edgy(0.2) else bax == 0
        if batch_first or self.chance(0.3):
            args["batch_first"] = batch_first
        if args.get("num_layers") == 2 and self.chance(0.5):
            args["dropout"] = 0.1
        if self.chance(0.3):
            args["bidirectional"] = True
        size_in = shape[-1] if self.chance(0.1) and shape else None
        return self.ordered(kind, args, size_in)

    def make_global_max_pool(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        return Layer(kind)

    # ------------------------------------------------------------ added layers (layers branch)

    def added_kinds(self, kinds: dict[str, float], rank: int, in_seq: bool) -> None:
        kinds.update({"gelu": 0.3, "silu": 0.2, "elu": 0.2, "leakyrelu": 0.2, "softplus": 0.2,
                      "identity": 0.15})
        if rank >= 2:
            kinds["layernorm"] = 0.4
        if not in_seq or self.edgy(0.05):
            kinds.update({"flip": 0.3, "mean": 0.2, "sum": 0.15, "max": 0.15})
            if rank >= 2:
                kinds["crop"] = 0.4
        if rank == 3:
            kinds.update({"groupnorm": 0.4, "convtranspose1d": 0.7, "adaptiveavgpool1d": 0.4,
                          "constantpad1d": 0.4, "upsample": 0.5, "transformerencoderlayer": 0.25})
            if not in_seq or self.edgy(0.05):
                kinds["global_avg_pool"] = 0.3
        elif rank == 2:
            kinds.update({"constantpad1d": 0.2, "groupnorm": 0.2, "adaptiveavgpool1d": 0.2})

    def make_gelu(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        return self.ordered(kind, {"approximate": "tanh"} if self.chance(0.3) else {})

    def make_elu(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        return self.ordered(kind, {"alpha": self.pick([0.5, 1.0, 2.0])} if self.chance(0.5) else {})

    def make_leakyrelu(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        return self.ordered(kind, {"negative_slope": self.pick([0.1, 0.2, 0.01])} if self.chance(0.5) else {})

    def make_softplus(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        args: dict[str, Any] = {}
        if self.chance(0.4):
            args["beta"] = self.pick([0.5, 2.0])
        if self.chance(0.3):
            args["threshold"] = self.pick([1.0, 10.0])
        return self.ordered(kind, args)

    def make_layernorm(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        args: dict[str, Any] = {}
        roll = self.rng.random()
        if roll < 0.2 and shape:
            args["normalized_shape"] = shape[-1] + 1 if self.edgy(0.2) else shape[-1]
        elif roll < 0.3 and len(shape) >= 3:
            args["normalized_shape"] = tuple(shape[-2:])
        if self.chance(0.1):
            args["elementwise_affine"] = False
        if self.chance(0.1):
            args["bias"] = False
        return self.ordered(kind, args)

    def make_groupnorm(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        channels = shape[1] if len(shape) > 1 else 1
        spatial = math.prod(shape[2:]) if len(shape) > 2 else 1
        divisors = [g for g in range(1, channels + 1) if channels % g == 0 and (channels // g) * spatial > 1]
        groups = self.pick([2, 3]) if self.edgy(0.15) or not divisors else self.pick(divisors)
        args: dict[str, Any] = {"num_groups": groups}
        if self.chance(0.2):
            args["num_channels"] = channels
        if self.chance(0.15):
            args["affine"] = False
        return self.ordered(kind, args)

    def make_convtranspose1d(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rng = self.rng
        in_ch = shape[1] if len(shape) > 1 else 1
        args: dict[str, Any] = {"out_channels": self.sym(env, rng.randint(1, 8), "c"),
                                "kernel_size": self.pick([1, 2, 3, 4])}
        stride = self.pick([1, 1, 2, 3])
        if stride != 1 or self.chance(0.2):
            args["stride"] = stride
        if self.chance(0.4):
            args["padding"] = self.pick([0, 1, 2, 3] if self.edgy(0.3) else [0, 1])
        dilation = self.pick([1, 1, 2])
        if dilation != 1:
            args["dilation"] = dilation
        if self.chance(0.3):
            args["output_padding"] = self.pick([1, max(stride, dilation)]) if self.edgy(0.2) else max(
                0, max(stride, dilation) - 1)
        if self.chance(0.1) and in_ch % 2 == 0:
            args["groups"] = 2
            args["out_channels"] = 2 * rng.randint(1, 3)
        if self.chance(0.1):
            args["bias"] = False
        size_in = None
        if self.chance(0.15):
            size_in = in_ch + 1 if self.edgy(0.2) else in_ch
        return self.ordered(kind, args, size_in)

    def make_adaptiveavgpool1d(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        size = shape[-1] if shape else 1
        return self.ordered(kind, {"output_size": self.pick([1, 2, size, size + 1, max(1, size // 2)])})

    def make_constantpad1d(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        padding: Any = self.pick([0, 1, 2]) if self.chance(0.5) else (self.pick([0, 1, 3]), self.pick([0, 2]))
        return self.ordered(kind, {"padding": padding, "value": self.pick([0.0, 1.5, -1.0])})

    def make_crop(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        size = shape[-1] if shape else 1
        roll = self.rng.random()
        edge = self.edgy(0.3)
        if roll < 0.4:
            return self.ordered(kind, {"left": self.pick([size // 2, (size + 1) // 2]) if edge else
                                       self.pick([0, 1, 2, max(0, size // 2 - 1)])})
        if roll < 0.7:
            left = self.rng.randint(0, max(0, size - 1))
            right = size - left if edge else self.rng.randint(0, max(0, size - 1 - left))
            return self.ordered(kind, {"left": left, "right": right})
        to = size + 1 if edge else self.rng.randint(1, max(1, size))
        return self.ordered(kind, {"to": to})

    def make_flip(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rank = len(shape)
        axes = [d for d in range(rank) if d != bax] or [0]
        dims = self.rng.sample(axes, self.rng.randint(1, len(axes)))
        if bax is not None and self.edgy(0.1):
            dims.append(bax)
        if self.edgy(0.05):
            dims.append(dims[0])
        dims = [d - rank if self.chance(0.3) else d for d in dims]
        return Layer(kind, [("values", tuple(dims))])

    def make_mean(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        rank = len(shape)
        axes = [d for d in range(rank) if d != bax]
        if not axes or self.edgy(0.1):
            dim: Any = self.dim(rank, bax)
        elif self.chance(0.3) and len(axes) > 1:
            dim = tuple(self.rng.sample(axes, 2))
        else:
            dim = self.pick(axes) - (rank if self.chance(0.3) else 0)
        args: dict[str, Any] = {"dim": dim}
        if self.chance(0.3):
            args["keepdim"] = True
        return self.ordered(kind, args)

    make_sum = make_max = make_mean

    def make_transformerencoderlayer(self, kind: str, shape: tuple[int, ...], bax: int | None,
                                     env: dict[str, Any]) -> Layer:
        features = shape[-1] if shape else 1
        heads = [h for h in range(1, features + 1) if features % h == 0]
        args: dict[str, Any] = {"nhead": self.pick([2, 3]) if self.edgy(0.1) else self.pick(heads),
                                "dim_feedforward": self.pick([4, 8])}
        if self.chance(0.3):
            args["activation"] = "gelu"
        if self.chance(0.3):
            args["norm_first"] = True
        if self.chance(0.15):
            args["bias"] = False
        if self.edgy(0.05):
            args["batch_first"] = False
        return self.ordered(kind, args, shape[-1] if self.chance(0.1) and shape else None)

    def make_upsample(self, kind: str, shape: tuple[int, ...], bax: int | None, env: dict[str, Any]) -> Layer:
        size = shape[-1] if shape else 1
        args: dict[str, Any] = {}
        if self.chance(0.3):
            args["size"] = self.pick([1, size, 2 * size, size + 3])
        else:
            args["scale_factor"] = self.pick([2, 1.5, 0.5, 3, 0.3] if self.edgy(0.3) else [2, 1.5, 3])
        mode = self.pick(["nearest", "nearest", "linear", "area", "nearest-exact"])
        if mode != "nearest" or self.chance(0.2):
            args["mode"] = mode
        if mode == "linear" and self.chance(0.4):
            args["align_corners"] = self.chance(0.5)
        return self.ordered(kind, args)


@dataclass
class Case:
    seed: int
    program: Program
    text: str

    @property
    def kinds(self) -> set[str]:
        return kinds_of(self.program)


def generate(seed: int) -> Case:
    """The case of one seed (deterministic)."""
    program = Generator(seed).program()
    program.blocks = [b for b in program.blocks if _uses(program, b.name)]
    return Case(seed, program, render(program))


def _walk(nodes: Sequence[Any]) -> list[Any]:
    out = []
    for node in nodes:
        out.append(node)
        if isinstance(node, Named):
            out += _walk([node.inner])
        elif isinstance(node, Seq):
            out += _walk(node.items)
        elif isinstance(node, (Residual, Loop)):
            out += _walk(node.body)
    return out


def _uses(program: Program, name: str) -> bool:
    nodes = _walk(program.body) + [n for b in program.blocks for n in _walk(b.body)]
    return any(isinstance(n, BlockCall) and n.block == name for n in nodes)


def kinds_of(program: Program) -> set[str]:
    """Layer kinds and constructs a program uses (for the per-kind table)."""
    kinds: set[str] = {f"input:{program.layout}"}
    for node in _walk(program.body) + [n for b in program.blocks for n in _walk(b.body)]:
        if isinstance(node, Layer):
            kinds.add(node.kind)
            if node.kind.startswith("conv") and node.get("padding_mode"):
                kinds.add(f"padding_mode:{node.get('padding_mode')}")
        elif isinstance(node, Seq):
            kinds.add("seq")
        elif isinstance(node, Residual):
            kinds.add("residual")
        elif isinstance(node, BlockCall):
            kinds.add("block" if node.repeat == 1 else "block*N")
        elif isinstance(node, Ref):
            kinds.add("reuse")
        elif isinstance(node, Loop):
            kinds.add("loop")
            if any(isinstance(n, Loop) for n in _walk(node.body)):
                kinds.add("loop:nested")
    return kinds


# ------------------------------------------------------------------ oracle


@dataclass
class Verdict:
    category: str
    tag: str  # a coarse key of the failure (stable while shrinking)
    detail: str
    archc: str = ""  # what archc said (first error) or "accepted"
    reference: str = ""  # what the reference did
    code: str = ""  # the generated module, when there is one

    @property
    def signature(self) -> str:
        return f"{self.category}:{self.tag}"


def _tag(text: str) -> str:
    return re.sub(r"[0-9]+", "#", text)[:48]


class ShapeCommentError(AssertionError):
    """A shape comment in the generated code differs from the real tensor."""


# `# (N, 320, 993)`, or `# (N, 3, 4) or (N, 12)` for a class that sees several shapes.
SHAPE_COMMENT = re.compile(r"#\s*(\([^()]*\)(?:\s+or\s+\([^()]*\))*)\s*$")


def instrument(code: str) -> str:
    """Insert a runtime check of `x.shape` after every statement carrying a shape comment."""
    tree = ast.parse(code)
    stmts: list[ast.stmt] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "forward":
            stmts += [s for s in ast.walk(node) if isinstance(s, (ast.Assign,))]
    lines = code.split("\n")
    inserts: dict[int, list[str]] = {}
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    for tok in tokens:
        if tok.type != tokenize.COMMENT:
            continue
        match = SHAPE_COMMENT.search(tok.string)
        if not match:
            continue
        row = tok.start[0]
        stmt = next((s for s in stmts if s.lineno <= row <= (s.end_lineno or s.lineno)), None)
        if stmt is None:
            continue
        indent = " " * stmt.col_offset
        spec = match.group(1)
        inserts.setdefault(stmt.end_lineno or stmt.lineno, []).append(
            f"{indent}_archc_check(x, {spec!r}, {row})"
        )
    out = []
    for i, line in enumerate(lines, 1):
        out.append(line)
        out += inserts.get(i, [])
    return "\n".join(out)


class _CheckState:
    batch = 1
    source: ClassVar[list[str]] = []
    record: ClassVar[list[torch.Tensor]] = []


def _make_check(state: type[_CheckState]) -> Callable[[Any, str, int], None]:
    def fits(entries: list[str], real: tuple[int, ...]) -> bool:
        ok = len(entries) == len(real)
        for entry, size in zip(entries, real, strict=False):
            if entry == "N":
                ok = ok and size == state.batch
            elif entry.lstrip("-").isdigit():
                ok = ok and size == int(entry)
        return ok

    def check(x: Any, spec: str, row: int) -> None:
        options = [[e.strip() for e in alt.split(",") if e.strip()] for alt in re.findall(r"\(([^()]*)\)", spec)]
        line = state.source[row - 1].strip() if row - 1 < len(state.source) else ""
        if not isinstance(x, torch.Tensor):
            raise ShapeCommentError(f"line {row} `{line}`: x is a {type(x).__name__}, comment says {spec}")
        real = tuple(x.shape)
        state.record.append(x.detach().clone())
        if not any(fits(entries, real) for entries in options):
            raise ShapeCommentError(
                f"line {row} `{line}`: comment says {spec} at N={state.batch}, the tensor is {real}"
            )

    return check


def load_module(code: str) -> tuple[Any, type[_CheckState]]:
    """Exec archc's generated code (instrumented) in a fresh module; the model and its checker."""
    state = type("State", (_CheckState,), {"batch": 1, "source": code.split("\n"), "record": []})
    text = instrument(code)
    state.source = text.split("\n")
    module = types.ModuleType("randarch_generated")
    module.__dict__["_archc_check"] = _make_check(state)
    exec(compile(text, "<randarch>", "exec"), module.__dict__)  # archc's own output
    return module.TorchModel(), state


def lively(model: nn.Module, seed: int) -> None:
    """Re-draw the weights so that few ReLUs are dead (a dead output would hide mixing)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.rand(param.shape, generator=gen, dtype=torch.float64)
            if name.endswith("bias") or name.split(".")[-1].startswith("bias"):
                param.copy_(0.1 + 0.4 * noise)
            else:
                param.copy_(noise - 0.35)


Traced = Callable[[torch.Tensor], tuple[Any, list[torch.Tensor]]]


def _batch_axis(big: torch.Tensor, one: torch.Tensor) -> int | None:
    """The axis holding 3 samples in `big` and 1 in `one` (all others equal), or None."""
    if big.dim() != one.dim():
        return None
    diff = [i for i, (a, b) in enumerate(zip(big.shape, one.shape, strict=False)) if a != b]
    if len(diff) == 1 and (big.shape[diff[0]], one.shape[diff[0]]) == (3, 1):
        return diff[0]
    return None


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True)


def batch_mixing(
    fn: Traced, shape1: tuple[int, ...], in_axis: int, out_axis: int | None, seed: int
) -> str | None:
    """Why `fn` mixes samples, or None.

    `fn` returns its output and every intermediate tensor, in call order. A batch of 3 is
    compared with each sample alone and with sample 1 changed, at the output (whose batch
    axis must be `out_axis`) and at every intermediate whose batch axis can be told (3
    samples vs 1): a later step (a ReLU after a softmax, a size-1 log-softmax) can hide
    mixing from the output.
    """
    gen = torch.Generator().manual_seed(seed)
    shape3 = list(shape1)
    shape3[in_axis] = 3
    x = torch.randn(shape3, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y, inter = fn(x.clone())
        if not isinstance(y, torch.Tensor):
            return f"output is a {type(y).__name__}"
        if out_axis is None or y.dim() <= out_axis or y.shape[out_axis] != 3:
            return f"output {tuple(y.shape)} has no batch axis of 3 samples (expected at axis {out_axis})"
        x2 = x.clone()
        x2.narrow(in_axis, 1, 1).copy_(
            torch.randn(x2.narrow(in_axis, 1, 1).shape, generator=gen, dtype=torch.float64) * 3
        )
        y2, inter2 = fn(x2)
        for i in range(3):
            yi, inter_i = fn(x.narrow(in_axis, i, 1).clone())
            if not isinstance(yi, torch.Tensor) or yi.dim() != y.dim() or yi.shape[out_axis] != 1:
                got = tuple(yi.shape) if isinstance(yi, torch.Tensor) else type(yi).__name__
                return f"sample {i} alone gives {got}, with the batch {tuple(y.shape)}"
            if not _same(yi.select(out_axis, 0), y.select(out_axis, i)):
                return f"sample {i} alone differs from sample {i} in a batch of 3"
            for k, (big, one) in enumerate(zip(inter, inter_i, strict=False)):
                axis = _batch_axis(big, one)
                if axis is None and big.shape != one.shape:
                    # README "Diagnostics", `batch-mix`: a step merging the batch axis with
                    # another (flatten over it, view(-1, ...)) breaks the rule even when a
                    # later view splits the samples apart again.
                    return (
                        f"step {k + 1} (inside) has no batch axis of its own: {tuple(big.shape)} "
                        f"for 3 samples, {tuple(one.shape)} for 1"
                    )
                if axis is not None and not _same(one.select(axis, 0), big.select(axis, i)):
                    return f"step {k + 1} (inside): sample {i} alone differs from sample {i} in a batch"
        if not isinstance(y2, torch.Tensor) or y2.shape != y.shape:
            return "changing sample 1 changes the output shape"
        for i in (0, 2):
            if not _same(y2.select(out_axis, i), y.select(out_axis, i)):
                return f"changing sample 1 changes sample {i}"
        for k, (big, other, one) in enumerate(zip(inter, inter2, inter_i, strict=False)):
            axis = _batch_axis(big, one)
            if axis is None or big.shape != other.shape:
                continue
            for i in (0, 2):
                if not _same(big.select(axis, i), other.select(axis, i)):
                    return f"step {k + 1} (inside): changing sample 1 changes sample {i}"
    return None


def traced_reference(model: RefModel) -> tuple[Traced, list[tuple[nn.Module, Any, Any, int]]]:
    """The reference with the output of every leaf module and residual add recorded.

    The second value collects (module, input, output, batch size) of every data-movement
    step (view, permute, flatten, ...) for `provenance_mixing`.
    """
    record: list[torch.Tensor] = []
    moves: list[tuple[nn.Module, Any, Any, int]] = []

    def hook(module: nn.Module, args: Any, out: Any) -> None:
        out = out[0] if isinstance(out, tuple) else out
        if isinstance(out, torch.Tensor):
            record.append(out.detach().clone())
            if isinstance(module, (Lambda, nn.Flatten)) and isinstance(args[0], torch.Tensor):
                moves.append((module, args[0].detach(), out.detach(), model.ctx.batch))

    for module in model.modules():
        if not list(module.children()) or isinstance(module, ResidualStep):
            module.register_forward_hook(hook)

    def fn(x: torch.Tensor) -> tuple[Any, list[torch.Tensor]]:
        record.clear()
        y = model(x)
        return y, list(record)

    return fn, moves


def provenance_mixing(model: RefModel, moves: list[tuple[nn.Module, Any, Any, int]]) -> str | None:
    """Whether a data-movement step puts one sample's elements under another's batch index.

    Values can hide mixing (a log-softmax over a size-1 axis is all zeros): here each step
    moves a tensor holding its sample's index instead of data.
    """
    by_batch: dict[int, list[tuple[nn.Module, Any, Any]]] = {}
    for module, x, y, batch in moves:
        by_batch.setdefault(batch, []).append((module, x, y))
    big, one = by_batch.get(3, []), by_batch.get(1, [])
    for (module, x3, y3), (_, x1, y1) in zip(big, one, strict=False):
        in_axis, out_axis = _batch_axis(x3, x1), _batch_axis(y3, y1)
        if in_axis is None or out_axis is None:
            continue
        shape = [1] * x3.dim()
        shape[in_axis] = 3
        ids = torch.arange(3, dtype=x3.dtype).reshape(shape).expand(x3.shape).contiguous()
        if not x3.is_contiguous():  # keep the strides the step saw (view cares)
            ids = torch.empty_strided(x3.shape, x3.stride(), dtype=x3.dtype).copy_(ids)
        model.ctx.batch = 3
        try:
            moved = module(ids)
        except Exception:
            continue
        for i in range(3):
            if not bool((moved.select(out_axis, i) == i).all()):
                return f"`{getattr(module, 'text', 'flatten')}` moves elements of other samples to sample {i}"
    return None


@dataclass
class RefRun:
    """What the reference does: why it fails (None when fine), shapes at batch 2 and 3."""

    failure: str | None
    raises: bool
    shapes: dict[int, list[tuple[int, ...] | None]]
    out_axis: int | None
    params: int | None = None  # weights of the reference (a shared module counted once)


def run_reference(program: Program, ref: Reference) -> RefRun:
    if ref.model is None:
        return RefRun(ref.error, True, {}, None)
    model = ref.model.double().eval()
    lively(model, 5)
    shapes: dict[int, list[tuple[int, ...] | None]] = {}
    outs = {}
    for batch in (1, 2, 3):
        x = torch.randn(input_shape(program, batch), dtype=torch.float64)
        try:
            with torch.no_grad():
                outs[batch] = model(x)
        except Exception as err:
            return RefRun(f"torch raises at batch {batch}: {_short(err)}", True, shapes, None)
        shapes[batch] = list(model.shapes)
    probe = Probe(outs[2], outs[3])
    out_axis = probe.batch_axis()
    if out_axis is None:
        return RefRun(f"the output {tuple(outs[3].shape)} at batch 3 has no batch axis", False, shapes, None)
    traced, moves = traced_reference(model)
    mix = batch_mixing(traced, input_shape(program, 1), input_batch_axis(program), out_axis, 7)
    mix = mix or provenance_mixing(model, moves)
    if mix:
        return RefRun(f"the reference mixes samples: {mix}", False, shapes, out_axis)
    return RefRun(None, False, shapes, out_axis, sum(p.numel() for p in model.parameters()))


def _static_shapes(checked: Any, batch: int) -> list[tuple[int, ...]]:
    return [tuple(batch if d.size is None else d.size for d in op.shape) for op in checked.cls.forward]


def evaluate(case: Case) -> Verdict:
    """Classify one case (see the module docstring)."""
    return classify(case.program, case.text)


def _kind_of(node: Any) -> str:
    inner = node.inner if isinstance(node, Named) else node
    return inner.kind if isinstance(inner, Layer) else type(inner).__name__.lower()


CHECK_SECONDS = 10  # archc checks a case in well under a second; past this it is a hang


class CheckTimeout(BaseException):
    """archc's check ran past CHECK_SECONDS (a BaseException: archc's handlers must not take it)."""


class _time_limit:
    """Interrupt the block after `seconds` (SIGALRM; only in the main thread, else no limit)."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds
        self.armed = False
        self.previous: Any = signal.SIG_DFL

    def __enter__(self) -> None:
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self.previous = signal.signal(signal.SIGALRM, self._fire)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
            self.armed = True

    def __exit__(self, *exc: object) -> None:
        if self.armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)

    @staticmethod
    def _fire(signum: int, frame: Any) -> None:
        raise CheckTimeout


def classify(program: Program, text: str) -> Verdict:
    """Run archc and the reference on one program and compare them."""
    from archc.backends.emit_torch import emit
    from archc.core.source import Source
    from archc.driver import run

    torch.manual_seed(0)
    ref = build_reference(program)
    refrun = run_reference(program, ref)
    ref_text = refrun.failure or "runs, samples kept apart"
    source = Source("case.arch", text)
    try:
        with warnings.catch_warnings(), _time_limit(CHECK_SECONDS):
            warnings.simplefilter("ignore")
            result = run(source, None)
    except CheckTimeout:
        return Verdict("internal-error", "timeout", f"archc did not finish checking in {CHECK_SECONDS} s",
                       "", ref_text)
    except Exception as err:
        return Verdict("internal-error", "check:" + _tag(_short(err)),
                       "archc raised:\n" + traceback.format_exc(limit=-4), "", ref_text)
    if not result.ok:
        errors = [d for d in result.diagnostics if d.is_error]
        if not errors:
            return Verdict("internal-error", "no-error", "not ok, but no error diagnostic", "", ref_text)
        for d in errors:
            if not re.fullmatch(r"[a-z][a-z0-9-]*", d.code or "") or not (
                0 <= d.span.start <= d.span.end <= len(text)
            ):
                return Verdict("internal-error", "unlocated", f"unlocated diagnostic {d.code}: {d.message}",
                               "", ref_text)
        first = errors[0]
        said = f"error[{first.code}] at line {first.location()[0]}: {first.message}"
        if refrun.failure is None:
            return Verdict("false-positive", first.code, f"archc rejects: {said}", said, ref_text)
        return Verdict("agree", "", "both reject", said, ref_text)
    fn_verdict = _accepted(program, result, emit, refrun, ref_text)
    return fn_verdict


def _accepted(program: Program, result: Any, emit: Any, refrun: RefRun, ref_text: str) -> Verdict:
    """Classify a case archc accepts: load, run and compare its module."""
    try:
        checked = result.variants[0].checked
        code = emit(checked, "case.arch")
    except Exception as err:
        return Verdict("internal-error", "emit:" + _tag(_short(err)),
                       "emit raised:\n" + traceback.format_exc(limit=-4), "accepted", ref_text)
    try:
        model, state = load_module(code)
    except Exception as err:
        return Verdict("internal-error", "load:" + _tag(_short(err)),
                       f"the generated module does not load: {_short(err)}", "accepted", ref_text, code)
    model.eval()
    in_axis = input_batch_axis(program)
    real: dict[int, tuple[int, ...]] = {}

    def fail(tag: str, detail: str, category: str = "false-negative") -> Verdict:
        return Verdict(category, tag, detail, "accepted", ref_text, code)

    for batch in (3, 1):
        state.batch = batch
        x = torch.randn(input_shape(program, batch))
        try:
            with torch.no_grad():
                y = model(x)
        except ShapeCommentError as err:
            return fail("comment", f"shape comment wrong: {err}")
        except Exception as err:
            return fail("raises:" + _tag(_short(err)), f"the compiled module raises (batch {batch}): {_short(err)}")
        if not isinstance(y, torch.Tensor):
            return fail("non-tensor", f"the compiled module returns a {type(y).__name__}")
        real[batch] = tuple(y.shape)
        claimed = tuple(batch if d.size is None else d.size for d in checked.cls.out_shape)
        if claimed != real[batch]:
            return fail("out-claim", f"archc says the output is {claimed} at N={batch}, it is {real[batch]}")
    if refrun.raises:
        return fail("ref-fails:" + _tag(refrun.failure or ""),
                    f"archc accepts; the reference fails: {refrun.failure}")
    for batch in (2, 3):
        ours = _static_shapes(checked, batch)
        theirs = refrun.shapes.get(batch, [])
        if len(ours) == len(theirs):
            for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
                if a != b:
                    step = render_node(program.body[i], 0)[0] if i < len(program.body) else "?"
                    return fail(f"step-shape:{_kind_of(program.body[i])}",
                                f"step {i + 1} `{step}`: archc says {a}, torch gives {b} (batch {batch})")
    out_axis = next((i for i, d in enumerate(checked.cls.out_shape) if d.size is None), None)
    model = model.double()
    lively(model, 5)

    def fn(x: torch.Tensor) -> tuple[Any, list[torch.Tensor]]:
        state.batch = x.shape[in_axis]
        state.record = []
        y = model(x)
        return y, list(state.record)

    try:
        mix = batch_mixing(fn, input_shape(program, 1), in_axis, out_axis, 11)
    except Exception as err:
        return fail("raises:" + _tag(_short(err)), f"the compiled module raises in the batch test: {_short(err)}")
    if mix:
        return fail("mix", f"archc accepts a model that mixes samples: {mix}", "batch-mix")
    if refrun.failure is not None and refrun.failure.startswith("the reference mixes"):
        return fail("mix", f"archc accepts a model that mixes samples: {refrun.failure}", "batch-mix")
    if refrun.failure is not None:
        return fail("ref-fails:" + _tag(refrun.failure), f"archc accepts; the reference fails: {refrun.failure}")
    theirs3 = refrun.shapes[3][-1] if refrun.shapes.get(3) else None
    if theirs3 != real[3]:
        return fail("out-shape", f"output {real[3]} at batch 3, torch gives {theirs3}")
    ours = sum(p.numel() for p in model.parameters())
    if refrun.params is not None and ours != refrun.params:
        # Same shapes, other weights: e.g. a loop's module list one item short.
        return fail("param-count", f"the compiled module has {ours:,} weights, the reference {refrun.params:,}")
    return Verdict("agree", "", "same shapes", "accepted", ref_text, code)


# ------------------------------------------------------------------ shrinking


def _variants(program: Program) -> list[Program]:
    """Programs one simplification smaller (a step removed, a body shortened, a repeat dropped)."""
    import copy

    out: list[Program] = []

    def lists(p: Program) -> list[list[Any]]:
        found: list[list[Any]] = [p.body] + [b.body for b in p.blocks]
        for node in _walk(p.body) + [n for b in p.blocks for n in _walk(b.body)]:
            if isinstance(node, Seq):
                found.append(node.items)
            elif isinstance(node, (Residual, Loop)):
                found.append(node.body)
        return found

    count = len(lists(program))
    for li in range(count):
        n = len(lists(program)[li])
        for i in range(n):
            p = copy.deepcopy(program)
            target = lists(p)[li]
            if len(target) <= 1 and li != 0:
                continue
            del target[i]
            if p.body:
                out.append(p)
    for li in range(count):
        for i, node in enumerate(lists(program)[li]):
            inner = node.inner if isinstance(node, Named) else node
            p = copy.deepcopy(program)
            target = lists(p)[li]
            new = target[i].inner if isinstance(target[i], Named) else target[i]
            if isinstance(inner, BlockCall) and inner.repeat > 1:
                new.repeat = 1
                out.append(p)
            elif isinstance(inner, Layer) and len(inner.args) > 0 and inner.kind not in VARARGS:
                for j in range(len(inner.args)):
                    q = copy.deepcopy(program)
                    layer = lists(q)[li][i]
                    layer = layer.inner if isinstance(layer, Named) else layer
                    name = layer.args[j][0]
                    if j == 0 and name in ("out_channels", "kernel_size", "out_features", "hidden_size",
                                           "output_size", "dim", "dim0", "index"):
                        continue
                    del layer.args[j]
                    layer.npos = min(layer.npos, j)
                    out.append(q)
    for li in range(count):
        for i, node in enumerate(lists(program)[li]):
            # A loop of several iterations down to its first one.
            if isinstance(node, Loop) and all(isinstance(b, int) for b in node.bounds):
                indices = range(*node.bounds)
                if len(indices) > 1:
                    p = copy.deepcopy(program)
                    target = lists(p)[li][i]
                    target.bounds = (1,) if indices[0] == 0 else (indices[0], indices[0] + 1)
                    out.append(p)
            if isinstance(node, Residual):  # the residual's body without the add
                p = copy.deepcopy(program)
                target = lists(p)[li]
                target[i : i + 1] = target[i].body
                out.append(p)
    for length in (program.length // 2, program.length - 1):
        if length >= 1 and length != program.length:
            p = copy.deepcopy(program)
            p.length = length
            out.append(p)
    if program.alphabet > 1:
        p = copy.deepcopy(program)
        p.alphabet = 1 if program.alphabet > 2 else program.alphabet - 1
        out.append(p)
    return out


def shrink(program: Program, verdict: Verdict, budget: int = 300) -> tuple[Program, Verdict]:
    """Greedy: keep any one-step-smaller program with the same failure signature."""
    best, best_v = program, verdict
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        for cand in _variants(best):
            tries += 1
            cand.blocks = [b for b in cand.blocks if _uses(cand, b.name)]
            try:
                v = classify(cand, render(cand))
            except Exception:
                continue
            if v.signature == best_v.signature:
                best, best_v = cand, v
                improved = True
                break
            if tries >= budget:
                break
    return best, best_v


# ------------------------------------------------------------------ runs


@dataclass
class Report:
    counts: Counter[str] = field(default_factory=Counter)
    by_kind: dict[str, Counter[str]] = field(default_factory=dict)
    failures: list[tuple[Case, Verdict]] = field(default_factory=list)

    def add(self, case: Case, verdict: Verdict) -> None:
        accepted = verdict.archc == "accepted"
        self.counts[verdict.category] += 1
        self.counts["accepted"] += accepted
        for kind in case.kinds:
            counter = self.by_kind.setdefault(kind, Counter())
            counter[verdict.category] += 1
            counter["accepted"] += accepted
        if verdict.category != "agree":
            self.failures.append((case, verdict))


def run_cases(n: int, seed: int = 1) -> Report:
    """Generate and classify `n` cases from seeds seed*100003 + i."""
    torch.set_num_threads(1)
    report = Report()
    for i in range(n):
        case = generate(seed * 100003 + i)
        try:
            verdict = evaluate(case)
        except Exception:
            verdict = Verdict("internal-error", "oracle", "the oracle raised:\n" + traceback.format_exc(limit=-3))
        report.add(case, verdict)
    return report


def describe(case: Case, verdict: Verdict) -> str:
    """An actionable description of one failing case."""
    return (
        f"--- seed {case.seed}: {verdict.category}\n{case.text}"
        f"archc: {verdict.archc or '-'}\nreference: {verdict.reference}\nwhat differs: {verdict.detail}\n"
    )
