"""Static model summary from the checked IR: per-layer shapes, parameters, MACs, receptive field.

Everything is computed from the architecture alone (no torch). Definitions, also in
docs/summary.md:

* parameters: trainable tensors (weights, biases, batchnorm scale and shift); a module
  registered under several names, or called several times, counts once, as in
  `module.parameters()`. Buffers: batchnorm running statistics (float32) and step
  counters (int64), not trained.
* MACs: multiply-accumulates per sequence (batch 1) of convolutions, linear layers and
  LSTMs. Bias additions, batchnorm (it folds into the layer before it at inference),
  activations, pooling and residual additions are elementwise and not counted.
* activations: float32 bytes of every new tensor a forward pass creates per sequence
  (views such as flatten/view/permute and in-place steps create none); roughly what
  training keeps for the backward pass. Peak: the most bytes alive at once during an
  inference pass (a step's input and output, plus the inputs residuals hold for their add).
* receptive field: the span of input positions (bp, along the `length` axis) that can
  influence one output position, padding included (dilation may skip positions inside
  it), and the jump (stride in bp) between neighbouring output positions.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..core.values import Value, show
from ..core.values import kind as value_kind
from ..ir import nodes as ir
from ..ir.layers import lookup

FLOAT32_BYTES = 4
INT64_BYTES = 8

CONV_KINDS = frozenset({"conv1d", "conv2d"})
POOL_KINDS = frozenset({"maxpool1d", "maxpool2d", "avgpool1d", "avgpool2d"})
# Steps whose output is a view of their input, or the input itself: no new tensor.
VIEW_KINDS = frozenset({"flatten", "view", "reshape", "permute", "transpose", "select"})
# Short names for arguments in layer descriptions.
SHORT_ARGS = {"kernel_size": "k", "stride": "s", "padding": "pad", "dilation": "dil"}


@dataclass(frozen=True)
class Reach:
    """The receptive field of one output position along the input's `length` axis.

    Output position i sees input positions i * jump + lo ... i * jump + hi (positions
    outside the input are padding); `whole` means every position of the input.
    """

    jump: int = 1
    lo: int = 0
    hi: int = 0
    whole: bool = False

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1

    def union(self, other: Reach) -> Reach:
        """Both fields at once, as at a residual add."""
        if self.whole or other.whole:
            return WHOLE
        return Reach(max(self.jump, other.jump), min(self.lo, other.lo), max(self.hi, other.hi))


WHOLE = Reach(whole=True)


@dataclass(frozen=True)
class Row:
    """One step of the forward pass, or a group of steps (seq, block, residual)."""

    name: str  # attribute path (`layer1.0.conv1`), or the kind for a functional step
    kind: str  # layer kind, "seq", block name with its arguments, "residual" or "add"
    detail: str  # the layer's arguments in short, e.g. "4 -> 320, k=8"
    path: str | None  # the module's name in `named_modules()`; None for functional steps
    group: str | None  # None for a single step; "seq", "block" or "residual"
    depth: int
    in_shape: ir.Shape
    shape: ir.Shape  # the output shape
    params: int  # trainable elements counted here (0 when the module was counted before)
    buffers: int
    buffer_bytes: int
    macs: int
    activation_bytes: int  # bytes of the new tensor this step creates, per sequence
    reach: Reach | None  # None when the input has no `length` axis
    shared: bool = False  # the module was already counted at an earlier use
    children: tuple[Row, ...] = ()

    def walk(self) -> Iterator[Row]:
        """This row and every row inside it, in forward order."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class Totals:
    params: int
    buffers: int
    param_bytes: int
    buffer_bytes: int
    macs: int
    activation_bytes: int
    peak_activation_bytes: int
    reach: Reach | None  # the last step's field
    local_reach: Reach | None  # the last field short of the whole input
    local_at: str | None  # the row that last had `local_reach`
    unused: tuple[tuple[str, int], ...]  # modules never called in forward, with their parameters


@dataclass(frozen=True)
class Summary:
    arch: ir.Architecture
    rows: tuple[Row, ...]
    totals: Totals

    def walk(self) -> Iterator[Row]:
        for row in self.rows:
            yield from row.walk()


# ------------------------------------------------------------------ counting


def numel(shape: ir.Shape) -> int:
    """Elements per sequence: the product of every axis but the batch."""
    return math.prod(d.size for d in shape if d.size is not None)


def _ints(value: Value, n: int) -> tuple[int, ...]:
    if isinstance(value, tuple):
        return tuple(int(v) for v in value)  # type: ignore[arg-type]
    return (int(value),) * n  # type: ignore[arg-type]


def _int(layer: ir.Layer, name: str, default: int = 0) -> int:
    value = layer.get(name, default)
    return int(value)  # type: ignore[arg-type]


def layer_counts(layer: ir.Layer) -> tuple[int, int, int]:
    """Trainable parameters, buffer elements and buffer bytes of one layer's module."""
    kind = layer.kind
    if kind in CONV_KINDS:
        spec = lookup(kind)
        assert spec is not None
        kernel = math.prod(_ints(layer.get("kernel_size"), spec.spatial))
        out_ch = _int(layer, "out_channels")
        weights = out_ch * (_int(layer, "in_channels") // _int(layer, "groups", 1)) * kernel
        return weights + (out_ch if layer.get("bias", True) else 0), 0, 0
    if kind == "linear":
        out = _int(layer, "out_features")
        return out * _int(layer, "in_features") + (out if layer.get("bias", True) else 0), 0, 0
    if kind in ("batchnorm1d", "batchnorm2d"):
        features = _int(layer, "num_features")
        params = 2 * features if layer.get("affine", True) else 0
        if layer.get("track_running_stats", True):
            return params, 2 * features + 1, 2 * features * FLOAT32_BYTES + INT64_BYTES
        return params, 0, 0
    if kind in ("lstm", "gru"):
        gates = 4 if kind == "lstm" else 3
        hidden = _int(layer, "hidden_size")
        dirs = 2 if layer.get("bidirectional") else 1
        total = 0
        for n in range(_int(layer, "num_layers", 1)):
            inputs = _int(layer, "input_size") if n == 0 else hidden * dirs
            per_direction = gates * hidden * (inputs + hidden)
            if layer.get("bias", True):
                per_direction += 2 * gates * hidden
            total += dirs * per_direction
        return total, 0, 0
    added = added_layer_counts(layer)  # added layers (layers branch)
    if added is not None:
        return added
    return 0, 0, 0


def layer_macs(layer: ir.Layer, in_shape: ir.Shape, out_shape: ir.Shape) -> int:
    """Multiply-accumulates per sequence of one call of a layer."""
    kind = layer.kind
    if kind in CONV_KINDS:
        spec = lookup(kind)
        assert spec is not None
        kernel = math.prod(_ints(layer.get("kernel_size"), spec.spatial))
        per_output = (_int(layer, "in_channels") // _int(layer, "groups", 1)) * kernel
        return numel(out_shape) * per_output
    if kind == "linear":
        return numel(out_shape) * _int(layer, "in_features")
    if kind in ("lstm", "gru"):
        gates = 4 if kind == "lstm" else 3
        steps = in_shape[1 if layer.get("batch_first") else 0].size or 1
        hidden = _int(layer, "hidden_size")
        dirs = 2 if layer.get("bidirectional") else 1
        total = 0
        for n in range(_int(layer, "num_layers", 1)):
            inputs = _int(layer, "input_size") if n == 0 else hidden * dirs
            total += dirs * gates * hidden * (inputs + hidden)
        return steps * total
    added = added_layer_macs(layer, in_shape, out_shape)  # added layers (layers branch)
    return 0 if added is None else added


def describe(layer: ir.Layer) -> str:
    """A layer's arguments in short: sizes as `in -> out`, then what differs from the defaults."""
    spec = lookup(layer.kind)
    if spec is None:
        return ""
    if spec.varargs:
        values = layer.get(spec.varargs)
        items = values if isinstance(values, tuple) else ()
        return ", ".join("batch" if v == "batch" else show(v) for v in items)
    parts: list[str] = []
    sizes = [layer.get(n) for n in (spec.size_in, spec.size_out) if n is not None]
    if sizes and all(v is not None for v in sizes):
        parts.append(" -> ".join(show(v) for v in sizes))
    for name, value in layer.args:
        if name in (spec.size_in, spec.size_out):
            continue
        pspec = spec.param(name)
        is_default = (
            pspec is not None and pspec.default == value and type(pspec.default) is value_kind(value)
        )
        if is_default and name not in layer.explicit:
            continue
        parts.append(f"{SHORT_ARGS.get(name, name)}={show(value)}")
    return ", ".join(parts)


# ------------------------------------------------------------------ receptive field


def length_axis(shape: ir.Shape) -> int | None:
    """The index of the axis that holds sequence positions, when exactly one does."""
    found = [i for i, d in enumerate(shape) if d.label == "length" and d.size is not None]
    return found[0] if len(found) == 1 else None


def reach_after(layer: ir.Layer, in_shape: ir.Shape, reach: Reach | None) -> Reach | None:
    """The receptive field after one layer, given the field of its input."""
    if reach is None or reach.whole:
        return reach
    kind = layer.kind
    axis = length_axis(in_shape)
    last = len(in_shape) - 1
    if kind in CONV_KINDS or kind in POOL_KINDS:
        if axis is None or axis < 2:
            # The positions sit in the channels (or were merged): a convolution mixes them all.
            return WHOLE if kind in CONV_KINDS or axis is None else reach
        spec = lookup(kind)
        assert spec is not None
        i = axis - 2
        n = spec.spatial
        k = _ints(layer.get("kernel_size"), n)[i]
        stride_value = layer.get("stride")
        s = k if stride_value is None and kind in POOL_KINDS else _ints(stride_value, n)[i]
        d = _ints(layer.get("dilation", 1), n)[i]
        eff = d * (k - 1) + 1
        pad_value = layer.get("padding", 0)
        if pad_value == "same":
            pad = (eff - 1) // 2
        elif isinstance(pad_value, str):
            pad = 0
        else:
            pad = _ints(pad_value, n)[i]
        return Reach(
            reach.jump * s, reach.lo - pad * reach.jump, reach.hi + (eff - 1 - pad) * reach.jump
        )
    if kind in ("adaptivemaxpool1d", "global_max_pool", "linear"):
        return WHOLE if axis is None or axis == last else reach
    if kind in ("lstm", "gru"):
        return WHOLE
    if kind in ("softmax", "log_softmax"):
        dim = _int(layer, "dim")
        return WHOLE if axis is None or dim % len(in_shape) == axis else reach
    added = added_reach_after(layer, in_shape, reach)  # added layers (layers branch)
    return reach if added is None else added


# ------------------------------------------------------------------ added layers (layers branch)
CONV_T_KINDS = frozenset({"convtranspose1d", "convtranspose2d"})
# Steps that make no new tensor: crop slices (a view), identity returns its input.
VIEW_KINDS = VIEW_KINDS | {"crop", "identity"}
# Second batch: squeeze and unsqueeze are views; repeat, exp and the rest make new tensors.
VIEW_KINDS = VIEW_KINDS | {"squeeze", "unsqueeze"}


def _mha_params(embed: int, bias: bool, bias_kv: bool = False) -> int:
    """nn.MultiheadAttention: in_proj (3E x E), out_proj (E x E), their biases, bias_k/v."""
    total = 4 * embed * embed + (4 * embed if bias else 0)
    return total + (2 * embed if bias_kv else 0)


def added_layer_counts(layer: ir.Layer) -> tuple[int, int, int] | None:
    """layer_counts of the added layers; None for the other kinds."""
    kind = layer.kind
    if kind == "batchnorm3d":
        return layer_counts(ir.Layer("batchnorm1d", layer.args, layer.span))
    if kind == "layernorm":
        value = layer.get("normalized_shape")
        size = math.prod(value) if isinstance(value, tuple) else int(value)  # type: ignore[arg-type]
        if not layer.get("elementwise_affine", True):
            return 0, 0, 0
        return size * (2 if layer.get("bias", True) else 1), 0, 0
    if kind == "groupnorm":
        return (2 * _int(layer, "num_channels") if layer.get("affine", True) else 0), 0, 0
    if kind == "embedding":
        return _int(layer, "num_embeddings") * _int(layer, "embedding_dim"), 0, 0
    if kind in CONV_T_KINDS:
        spec = lookup(kind)
        assert spec is not None
        kernel = math.prod(_ints(layer.get("kernel_size"), spec.spatial))
        out_ch = _int(layer, "out_channels")
        weights = _int(layer, "in_channels") * (out_ch // _int(layer, "groups", 1)) * kernel
        return weights + (out_ch if layer.get("bias", True) else 0), 0, 0
    if kind == "multiheadattention":
        bias = bool(layer.get("bias", True))
        return _mha_params(_int(layer, "embed_dim"), bias, bool(layer.get("add_bias_kv"))), 0, 0
    if kind == "transformerencoderlayer":
        model, ff = _int(layer, "d_model"), _int(layer, "dim_feedforward", 2048)
        bias = bool(layer.get("bias", True))
        linears = 2 * model * ff + ((ff + model) if bias else 0)
        norms = 2 * (2 * model if bias else model)
        return _mha_params(model, bias) + linears + norms, 0, 0
    return None


def added_layer_macs(layer: ir.Layer, in_shape: ir.Shape, out_shape: ir.Shape) -> int | None:
    """layer_macs of the added layers with weights to multiply; None for the other kinds."""
    kind = layer.kind
    if kind in CONV_T_KINDS:
        spec = lookup(kind)
        assert spec is not None
        kernel = math.prod(_ints(layer.get("kernel_size"), spec.spatial))
        per_input = (_int(layer, "out_channels") // _int(layer, "groups", 1)) * kernel
        return numel(in_shape) * per_input
    if kind in ("multiheadattention", "transformerencoderlayer"):
        steps = in_shape[1].size or 1 if len(in_shape) == 3 else 1
        model = _int(layer, "embed_dim" if kind == "multiheadattention" else "d_model")
        # Projections (4 E^2 per position) and the two attention products (2 L E per position).
        macs = steps * (4 * model * model + 2 * steps * model)
        if kind == "transformerencoderlayer":
            macs += steps * 2 * model * _int(layer, "dim_feedforward", 2048)
        return macs
    return None


def added_reach_after(layer: ir.Layer, in_shape: ir.Shape, reach: Reach) -> Reach | None:
    """reach_after of the added layers (reach is neither None nor whole); None for other kinds.

    Transposed convolutions with a stride and upsampling spread one input position over
    several outputs: their field is not a whole number of positions per output, and is
    marked as the whole input (unknown), as for linear layers on the length axis.
    """
    kind = layer.kind
    axis = length_axis(in_shape)
    last = len(in_shape) - 1
    if kind in CONV_T_KINDS or kind in ("upsample", "adaptiveavgpool2d", "adaptivemaxpool2d"):
        if axis is None or axis < 2:
            return WHOLE if kind in CONV_T_KINDS else reach
        if kind in ("adaptiveavgpool2d", "adaptivemaxpool2d"):
            return WHOLE
        if kind == "upsample":
            size, scale = layer.get("size"), layer.get("scale_factor")
            same = size is None and all(
                float(v) == 1.0  # type: ignore[arg-type]
                for v in (scale if isinstance(scale, tuple) else (scale,))
            )
            return reach if same else WHOLE
        spec = lookup(kind)
        assert spec is not None
        i = axis - 2
        n = spec.spatial
        if _ints(layer.get("stride", 1), n)[i] != 1:
            return WHOLE
        k = _ints(layer.get("kernel_size"), n)[i]
        d = _ints(layer.get("dilation", 1), n)[i]
        pad = _ints(layer.get("padding", 0), n)[i]
        # Output o sums input positions o + pad - d (k - 1) ... o + pad.
        eff = d * (k - 1)
        return Reach(reach.jump, reach.lo + (pad - eff) * reach.jump, reach.hi + pad * reach.jump)
    if kind in ("crop", "constantpad1d", "constantpad2d"):
        if axis is None or axis != last:
            return reach
        if kind == "crop":
            shift = int(layer.get("left") or 0)  # type: ignore[arg-type]
        else:
            pads = layer.get("padding")
            shift = -int(pads[0] if isinstance(pads, tuple) else pads)  # type: ignore[arg-type]
        return Reach(reach.jump, reach.lo + shift * reach.jump, reach.hi + shift * reach.jump)
    if kind in ("adaptiveavgpool1d", "global_avg_pool"):
        return WHOLE if axis is None or axis == last else reach
    if kind in ("flip", "mean", "sum", "max"):
        value = layer.get("dims" if kind == "flip" else "dim")
        dims = {int(v) % len(in_shape) for v in (value if isinstance(value, tuple) else (value,))}  # type: ignore[arg-type]
        return WHOLE if axis is None or axis in dims else reach
    if kind == "layernorm":
        value = layer.get("normalized_shape")
        k = len(value) if isinstance(value, tuple) else 1
        return WHOLE if axis is None or axis > last - k else reach
    if kind == "repeat":
        # Tiling the length axis: output position o reads input position o mod L, no window.
        sizes = layer.get("sizes")
        assert isinstance(sizes, tuple)
        if axis is None:
            return reach
        return WHOLE if sizes[len(sizes) - len(in_shape) + axis] != 1 else reach
    if kind in ("groupnorm", "multiheadattention", "transformerencoderlayer"):
        return WHOLE
    return None


# ------------------------------------------------------------------ end of added layers


# ------------------------------------------------------------------ walking the IR


def _block_kind(cls: ir.ClassDef) -> str:
    args = ", ".join(f"{k}={show(v)}" for k, v in cls.params)
    return f"{cls.name}({args})"


@dataclass
class _Walk:
    """Walks forward ops in order, building rows and the running totals."""

    owned: dict[str, tuple[int, int, int]]  # every module path with weights -> its counts
    seen: set[str] = field(default_factory=set)
    peak: int = 0
    contiguous: bool = True
    # Named tensors of the class being walked: shape and receptive field, by (class, name).
    tensors: dict[tuple[int, str], tuple[ir.Shape, Reach | None]] = field(default_factory=dict)

    # The live tensors of an inference pass: a step's input, its output, and the
    # inputs that enclosing residuals keep for their add.
    def note_live(self, held: int, *tensors: int) -> None:
        self.peak = max(self.peak, FLOAT32_BYTES * (held + sum(tensors)))

    def ops(
        self,
        cls: ir.ClassDef,
        prefix: str,
        ops: tuple[ir.Op, ...],
        shape: ir.Shape,
        reach: Reach | None,
        depth: int,
        held: int,
    ) -> tuple[list[Row], ir.Shape, Reach | None]:
        rows: list[Row] = []
        for op in ops:
            if isinstance(op, (ir.Load, ir.Store)):
                if isinstance(op, ir.Load):
                    shape, reach = self.tensors[(id(cls), op.name)]
                else:
                    self.tensors[(id(cls), op.name)] = (shape, reach)
                # Rows of their own: where a branch starts, and the names the graph joins on.
                row = Row(
                    name=f"{op.name} |" if isinstance(op, ir.Load) else f"{op.name} :=",
                    kind="read" if isinstance(op, ir.Load) else "tensor", detail=op.name,
                    path=None, group=None, depth=depth, in_shape=shape, shape=shape, params=0,
                    buffers=0, buffer_bytes=0, macs=0, activation_bytes=0, reach=reach,
                )  # fmt: skip
                rows.append(row)
                continue
            if isinstance(op, ir.Merge):
                operands = [
                    (shape, reach) if name == "" else self.tensors[(id(cls), name)]
                    for name in op.operands
                ]
                out = op.shape
                merged = operands[0][1]
                for _, other in operands[1:]:
                    # Through branches the field is the widest path's.
                    merged = merged.union(other) if merged is not None and other is not None else None
                added = numel(out)
                self.note_live(held, *(numel(sh) for sh, _ in operands), added)
                self.contiguous = True
                names = ", ".join(name or "|" for name in op.operands)
                # a matrix product: one multiply-add per output element and inner index; its
                # output mixes the positions of both operands (no window: the whole input)
                contracted = operands[0][0][-1].size if op.kind == "matmul" and operands[0][0] else 0
                if op.kind == "matmul":
                    merged = None
                row = Row(
                    name=op.kind, kind=op.kind, detail=names, path=None, group=None,
                    depth=depth, in_shape=operands[0][0], shape=out, params=0, buffers=0,
                    buffer_bytes=0, macs=numel(out) * int(contracted or 0),
                    activation_bytes=FLOAT32_BYTES * added, reach=merged,
                )  # fmt: skip
                rows.append(row)
                shape, reach = out, merged
                continue
            if isinstance(op, ir.Loop) and op.merge is not None:
                rows.append(self.gather(cls, prefix, op, shape, reach, depth, held))
                shape, reach = op.shape, rows[-1].reach
                continue
            if isinstance(op, ir.Loop):
                children: list[Row] = []
                entry = shape
                for iteration in op.iterations:
                    inner, shape, reach = self.ops(
                        cls, prefix, iteration, shape, reach, depth + 1, held
                    )
                    children.extend(inner)
                row = _group(
                    f"for {op.var}", "loop", None, depth, entry, shape, reach, tuple(children), "loop"
                )
                rows.append(row)
                continue
            if isinstance(op, ir.CallAttr):
                attr = cls.attr(op.name)
                assert attr is not None, op.name
                path = prefix + op.name
                module = attr.module
                if isinstance(module, ir.ModuleList):
                    assert op.index is not None
                    path = f"{path}.{module.key(op.index)}"
                    module = module.items[op.index]
                row = self.module(cls, prefix, module, path, shape, op.shape, reach, depth, held)
                out = row.shape
            elif isinstance(op, ir.Functional):
                out = op.shape
                row = self.leaf(op.layer, op.layer.kind, None, shape, out, reach, depth, held)
            else:
                skip = numel(shape)
                body, body_out, body_reach = self.ops(
                    cls, prefix, op.body, shape, reach, depth + 1, held + skip
                )
                skip_reach = reach
                if op.shortcut:
                    short, _, skip_reach = self.ops(
                        cls, prefix, op.shortcut, shape, reach, depth + 2, held + numel(body_out)
                    )
                    body = [*body, _group("shortcut", "shortcut", None, depth + 1, shape,
                                          op.shortcut[-1].shape, skip_reach, tuple(short), "seq")]
                out = op.shape or body_out
                merged = (
                    body_reach.union(skip_reach)
                    if body_reach is not None and skip_reach is not None
                    else None
                )
                added = numel(out)
                self.note_live(held, numel(body_out), skip, added)
                self.contiguous = True
                add = Row(
                    name="add", kind="add", detail="+ shortcut" if op.has_shortcut else "+ input",
                    path=None, group=None,
                    depth=depth + 1, in_shape=body_out, shape=out, params=0, buffers=0,
                    buffer_bytes=0, macs=0, activation_bytes=FLOAT32_BYTES * added, reach=merged,
                )  # fmt: skip
                row = _group("residual", "residual", None, depth, shape, out, merged, (*body, add))
            rows.append(row)
            shape, reach = out, row.reach
        return rows, shape, reach

    def gather(
        self,
        cls: ir.ClassDef,
        prefix: str,
        op: ir.Loop,
        shape: ir.Shape,
        reach: Reach | None,
        depth: int,
        held: int,
    ) -> Row:
        """`cat(for ...)`: a group of one group per iteration, each from the loop's input,
        and the merge of their outputs."""
        assert op.merge is not None
        children: list[Row] = []
        outputs: list[ir.Shape] = []
        merged: Reach | None = None
        kept = numel(shape)  # the input, read by every iteration
        for k, (index, iteration) in enumerate(zip(op.indices, op.iterations, strict=True)):
            inner, out, out_reach = self.ops(
                cls, prefix, iteration, shape, reach, depth + 2, held + kept + sum(map(numel, outputs))
            )
            name = f"{op.var} = {index}"
            children.append(
                _group(name, "iteration", None, depth + 1, shape, out, out_reach, tuple(inner), "branch")
            )
            outputs.append(out)
            if k == 0:
                merged = out_reach
            elif merged is not None and out_reach is not None:
                merged = merged.union(out_reach)  # through branches, the widest path's field
            else:
                merged = None
        added = numel(op.shape)
        self.note_live(held, *map(numel, outputs), added)
        self.contiguous = True
        row = Row(
            name=op.merge.kind, kind=op.merge.kind, detail=f"{len(outputs)} iterations", path=None,
            group=None, depth=depth + 1, in_shape=outputs[0], shape=op.shape, params=0, buffers=0,
            buffer_bytes=0, macs=0, activation_bytes=FLOAT32_BYTES * added, reach=merged,
        )  # fmt: skip
        children.append(row)
        name = f"for {op.var}"
        return _group(name, "gather", None, depth, shape, op.shape, merged, tuple(children), "gather")

    def module(
        self,
        cls: ir.ClassDef,
        prefix: str,
        module: ir.ModuleExpr,
        path: str,
        shape: ir.Shape,
        out: ir.Shape,
        reach: Reach | None,
        depth: int,
        held: int,
    ) -> Row:
        """The row of one module call; `out` is its output shape when the checker recorded it."""
        if isinstance(module, ir.AttrRef):
            attr = cls.attr(module.name)
            assert attr is not None, module.name
            path = prefix + module.name
            return self.module(cls, prefix, attr.module, path, shape, out, reach, depth, held)
        if isinstance(module, ir.Layer):
            return self.leaf(module, path, path, shape, out, reach, depth, held)
        if isinstance(module, ir.BlockRef):
            block = module.cls
            self.tensors[(id(block), block.inputs[0] if block.inputs else "x")] = (shape, reach)
            rows, out, out_reach = self.ops(
                block, path + ".", block.forward, shape, reach, depth + 1, held
            )
            out = out or block.out_shape
            kind = _block_kind(block)
            return _group(path, kind, path, depth, shape, out, out_reach, tuple(rows), "block")
        if isinstance(module, ir.ModuleList):  # pragma: no cover - lists are called by item
            raise AssertionError("a module list is called through its items")
        known = module.shapes if len(module.shapes) == len(module.items) else ()
        children: list[Row] = []
        current, current_reach = shape, reach
        for i, item in enumerate(module.items):
            child = self.module(
                cls, prefix, item, f"{path}.{i}", current, known[i] if known else (), current_reach,
                depth + 1, held,
            )  # fmt: skip
            children.append(child)
            current, current_reach = child.shape, child.reach
        return _group(
            path, "seq", path, depth, shape, current, current_reach, tuple(children), "seq"
        )

    def leaf(
        self,
        layer: ir.Layer,
        name: str,
        path: str | None,
        shape: ir.Shape,
        out: ir.Shape,
        reach: Reach | None,
        depth: int,
        held: int,
    ) -> Row:
        if not out:
            raise AssertionError(f"`{name}` has no output shape: summarize needs a checked IR")
        shared = path is not None and path in self.seen
        params, buffers, buffer_bytes = (0, 0, 0)
        if path is not None and not shared:
            self.seen.add(path)
            params, buffers, buffer_bytes = self.owned.get(path, layer_counts(layer))
        kind = layer.kind
        if kind in VIEW_KINDS or (kind == "contiguous" and self.contiguous) or layer.get("inplace"):
            new = 0
        else:
            new = numel(out)
        if kind in ("permute", "transpose"):
            self.contiguous = False
        elif kind not in VIEW_KINDS:
            self.contiguous = True
        self.note_live(held, numel(shape), new)
        return Row(
            name=name, kind=kind, detail=describe(layer), path=path, group=None, depth=depth,
            in_shape=shape, shape=out, params=params, buffers=buffers, buffer_bytes=buffer_bytes,
            macs=layer_macs(layer, shape, out), activation_bytes=FLOAT32_BYTES * new,
            reach=reach_after(layer, shape, reach), shared=shared and path in self.owned,
        )  # fmt: skip


def _group(
    name: str,
    kind: str,
    path: str | None,
    depth: int,
    in_shape: ir.Shape,
    out: ir.Shape,
    reach: Reach | None,
    children: tuple[Row, ...],
    group: str = "residual",
) -> Row:
    """A row standing for its children, with their sums."""
    leaves = [r for c in children for r in c.walk() if r.group is None]
    return Row(
        name=name, kind=kind, detail="", path=path, group=group, depth=depth, in_shape=in_shape,
        shape=out, params=sum(r.params for r in leaves), buffers=sum(r.buffers for r in leaves),
        buffer_bytes=sum(r.buffer_bytes for r in leaves), macs=sum(r.macs for r in leaves),
        activation_bytes=sum(r.activation_bytes for r in leaves), reach=reach, children=children,
    )  # fmt: skip


def owned_modules(cls: ir.ClassDef, prefix: str = "") -> dict[str, tuple[int, int, int]]:
    """Every module with weights or buffers, by its `named_modules()` path, registered once.

    An attribute that aliases another (`AttrRef`) owns nothing: its module is already
    registered under its first name, which is the name `named_parameters()` reports.
    """
    out: dict[str, tuple[int, int, int]] = {}

    def visit(module: ir.ModuleExpr, path: str) -> None:
        if isinstance(module, ir.Layer):
            counts = layer_counts(module)
            if any(counts):
                out[path] = counts
        elif isinstance(module, ir.Sequential):
            for i, item in enumerate(module.items):
                visit(item, f"{path}.{i}")
        elif isinstance(module, ir.BlockRef):
            out.update(owned_modules(module.cls, path + "."))
        elif isinstance(module, ir.ModuleList):
            for i, item in enumerate(module.items):
                visit(item, f"{path}.{module.key(i)}")

    for attr in cls.attrs:
        visit(attr.module, prefix + attr.name)
    return out


def summarize(arch: ir.Architecture) -> Summary:
    """The summary of a checked architecture."""
    owned = owned_modules(arch.cls)
    walk = _Walk(owned)
    start = Reach() if length_axis(arch.input_shape) is not None else None
    walk.tensors[(id(arch.cls), arch.cls.inputs[0] if arch.cls.inputs else "x")] = (arch.input_shape, start)
    for name, shape, _ in arch.extra_inputs:
        walk.tensors[(id(arch.cls), name)] = (shape, Reach() if length_axis(shape) is not None else None)
    rows, _, reach = walk.ops(arch.cls, "", arch.cls.forward, arch.input_shape, start, 0, 0)
    if arch.cls.outputs:
        # The field of the widest output.
        reaches = [walk.tensors[(id(arch.cls), name)][1] for name in arch.cls.outputs]
        known = [r for r in reaches if r is not None]  # outputs without a length have no field
        reach = known[0] if known else None
        for other in known[1:]:
            reach = reach.union(other) if reach is not None else other
    leaves = [r for row in rows for r in row.walk() if r.group is None]
    local: Reach | None = None
    local_at: str | None = None
    for row in leaves:
        if row.kind in ("tensor", "read"):
            continue
        if row.reach is not None and not row.reach.whole:
            local, local_at = row.reach, row.name
    unused = tuple((path, counts[0]) for path, counts in owned.items() if path not in walk.seen)
    totals = Totals(
        params=sum(c[0] for c in owned.values()),
        buffers=sum(c[1] for c in owned.values()),
        param_bytes=FLOAT32_BYTES * sum(c[0] for c in owned.values()),
        buffer_bytes=sum(c[2] for c in owned.values()),
        macs=sum(r.macs for r in leaves),
        activation_bytes=sum(r.activation_bytes for r in leaves),
        peak_activation_bytes=walk.peak,
        reach=reach,
        local_reach=local,
        local_at=local_at,
        unused=unused,
    )
    return Summary(arch, tuple(rows), totals)


# ------------------------------------------------------------------ rendering


def si(value: int, unit: str = "") -> str:
    """A count with three significant digits and a decimal prefix: 4.71 G."""
    for factor, prefix in ((10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "k")):
        if value >= factor:
            scaled = value / factor
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{scaled:.{digits}f} {prefix}{unit}"
    return f"{value} {unit}".rstrip()


def nbytes(value: int) -> str:
    return si(value, "B")


def _reach_cell(reach: Reach | None) -> tuple[str, str]:
    if reach is None:
        return "-", "-"
    if reach.whole:
        return "all", "-"
    return str(reach.size), str(reach.jump)


def _params_cell(row: Row) -> str:
    if row.shared:
        return "shared"
    if row.group is None and row.params == 0:
        return "-"
    return f"{row.params:,}"


def _macs_cell(row: Row) -> str:
    return si(row.macs) if row.macs else "-"


def _header_lines(arch: ir.Architecture) -> list[str]:
    params = ", ".join(f"{k}={show(v)}" for k, v in arch.params)
    ins, outs = ir.input_texts(arch), ir.output_texts(arch)
    inputs = ("inputs " if len(ins) > 1 else "input ") + ", ".join(ins)
    outputs = ("outputs " if len(outs) > 1 else "output ") + ", ".join(outs)
    return [f"{arch.name}({params})", f"{inputs}, {outputs}"]


def _reach_sentence(totals: Totals, length: int | None = None) -> str:
    if totals.reach is None:
        return "none: the input has no `length` axis"
    if totals.local_reach is None:
        return "every output sees the whole input"
    local = totals.local_reach
    text = f"{local.size:,} bp, jump {local.jump} bp (at `{totals.local_at}`)"
    if length is not None and local.size > length:
        # Padding widens the field past the input: say so, or 3,068 bp of a 1,000 bp input
        # reads as a bug.
        text += (
            f", more than the {length:,} bp input: it counts the padding positions, so one "
            "output sees at most the whole input"
        )
    if totals.reach.whole:
        text += "; the layers after it see the whole input"
    return text


def _input_length(arch: ir.Architecture) -> int | None:
    axis = length_axis(arch.input_shape)
    return None if axis is None else arch.input_shape[axis].size


def _total_lines(s: Summary) -> list[tuple[str, str]]:
    t = s.totals
    lines = [
        ("parameters", f"{t.params:,} trainable ({nbytes(t.param_bytes)} as float32)"),
        (
            "buffers",
            (
                f"{t.buffers:,} not trained ({nbytes(t.buffer_bytes)}: batchnorm statistics)"
                if t.buffers
                else "none"
            ),
        ),
        ("MACs", f"{t.macs:,} per sequence ({si(t.macs)})"),
        (
            "activations",
            f"{nbytes(t.activation_bytes)} per sequence (every tensor a forward pass creates)",
        ),
        (
            "peak activations",
            f"{nbytes(t.peak_activation_bytes)} per sequence (alive at once at inference)",
        ),
        ("receptive field", _reach_sentence(t, _input_length(s.arch))),
    ]
    for path, params in t.unused:
        lines.append(("unused", f"`{path}` is never called in forward ({params:,} parameters)"))
    return lines


COLUMNS = ("layer", "kind", "output", "params", "MACs", "RF (bp)", "jump")
RIGHT = (False, False, False, True, True, True, True)


def _cells(row: Row) -> tuple[str, ...]:
    rf, jump = _reach_cell(row.reach)
    return (
        row.name,
        row.kind,
        ir.show_shape(row.shape),
        _params_cell(row),
        _macs_cell(row),
        rf,
        jump,
    )


def render_text(s: Summary) -> str:
    table: list[tuple[int, tuple[str, ...]]] = [(0, COLUMNS)]
    table.append(
        (
            0,
            (
                "input",
                "",
                ir.show_shape(s.arch.input_shape),
                "",
                "",
                *_reach_cell(Reach() if length_axis(s.arch.input_shape) is not None else None),
            ),
        )
    )
    table.extend((r.depth, _cells(r)) for r in s.walk())
    widths = [0] * len(COLUMNS)
    for depth, cells in table:
        for i, cell in enumerate(cells):
            widths[i] = max(widths[i], len(cell) + (2 * depth if i == 0 else 0))
    lines = [*_header_lines(s.arch), ""]
    for n, (depth, cells) in enumerate(table):
        parts = []
        for i, cell in enumerate(cells):
            text = "  " * depth + cell if i == 0 else cell
            parts.append(text.rjust(widths[i]) if RIGHT[i] else text.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    totals = _total_lines(s)
    width = max(len(k) for k, _ in totals)
    lines.extend(f"{k.ljust(width)}  {v}" for k, v in totals)
    return "\n".join(lines) + "\n"


def _md_escape(text: str) -> str:
    """Text safe in a table cell: no column breaks, no HTML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def render_markdown(s: Summary) -> str:
    head = _header_lines(s.arch)
    lines = [f"**`{head[0]}`**: {head[1]}", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + "|".join("---:" if right else "---" for right in RIGHT) + "|")
    for row in s.walk():
        cells = list(_cells(row))
        cells[0] = "&nbsp;&nbsp;" * row.depth + f"`{row.name}`"
        cells[1] = _md_escape(cells[1])
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.extend(f"- **{k}**: {_md_escape(v)}" for k, v in _total_lines(s))
    return "\n".join(lines) + "\n"


def _shape_json(shape: ir.Shape) -> dict[str, Any]:
    return {"sizes": [d.size for d in shape], "axes": [d.label for d in shape]}


def _reach_json(reach: Reach | None) -> dict[str, Any] | None:
    if reach is None:
        return None
    if reach.whole:
        return {"whole_input": True, "bp": None, "jump": None}
    return {
        "whole_input": False,
        "bp": reach.size,
        "jump": reach.jump,
        "first": reach.lo,
        "last": reach.hi,
    }


def to_json(s: Summary) -> dict[str, Any]:
    """The summary as plain data, with exact numbers."""
    t = s.totals
    return {
        "arch": s.arch.name,
        "params": {k: v for k, v in s.arch.params},
        "input": _shape_json(s.arch.input_shape),
        "output": _shape_json(s.arch.cls.out_shape),
        "inputs": [
            {"name": s.arch.cls.inputs[0] if s.arch.cls.inputs else "x", **_shape_json(s.arch.input_shape)},
            *({"name": n, **_shape_json(sh)} for n, sh, _ in s.arch.extra_inputs),
        ],
        "outputs": [
            {"name": n or None, **_shape_json(sh)}
            for n, sh in zip(
                s.arch.cls.outputs or ("",),
                s.arch.cls.out_shapes or (s.arch.cls.out_shape,),
                strict=False,
            )
        ],
        "layers": [
            {
                "name": r.name,
                "path": r.path,
                "kind": r.kind,
                "detail": r.detail,
                "group": r.group,
                "depth": r.depth,
                "output": _shape_json(r.shape),
                "params": r.params,
                "shared": r.shared,
                "buffers": r.buffers,
                "macs": r.macs,
                "activation_bytes": r.activation_bytes,
                "receptive_field": _reach_json(r.reach),
            }
            for r in s.walk()
        ],
        "totals": {
            "trainable_params": t.params,
            "buffers": t.buffers,
            "param_bytes_float32": t.param_bytes,
            "buffer_bytes": t.buffer_bytes,
            "macs_per_sequence": t.macs,
            "activation_bytes_per_sequence": t.activation_bytes,
            "peak_activation_bytes_per_sequence": t.peak_activation_bytes,
            "receptive_field": _reach_json(t.reach),
            "local_receptive_field": _reach_json(t.local_reach),
            "local_receptive_field_at": t.local_at,
            "unused_modules": [{"path": p, "params": n} for p, n in t.unused],
        },
    }


def render_summary(arch: ir.Architecture, fmt: str) -> str:
    """The summary of a checked architecture as text, json or markdown."""
    summary = summarize(arch)
    if fmt == "json":
        return json.dumps(to_json(summary), indent=2) + "\n"
    if fmt == "markdown":
        return render_markdown(summary)
    if fmt == "text":
        return render_text(summary)
    raise ValueError(f"unknown summary format {fmt!r}")


def render_summaries(archs: list[ir.Architecture], fmt: str) -> str:
    """The summaries of several architectures (one file): one JSON document for json.

    With one architecture the JSON is that architecture's object, as before; with several,
    a list of them, in file order.
    """
    if fmt == "json" and len(archs) > 1:
        return json.dumps([to_json(summarize(a)) for a in archs], indent=2) + "\n"
    return "".join(render_summary(a, fmt) for a in archs)
