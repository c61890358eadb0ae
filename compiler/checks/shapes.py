"""Static shape inference: IR -> checked IR, with every size derived and every mismatch reported.

One rule per layer kind (`RULES`); an unknown kind is an internal error, never a
pass-through. Rules raise CompileError to stop the path they are on; warnings are
recorded and checking goes on.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

from ..core.diagnostics import CompileError, Note, Reporter
from ..core.source import Span
from ..core.sym import ZERO, Expr, Guard, SymInt, const, plain, quiet, sizing, sub, substitute, symbol
from ..core.values import Value, show
from ..ir import nodes as ir
from ..ir.layers import lookup
from ..ir.nodes import Dim, Shape, show_axes, show_shape
from ..ir.resolve import POISON
from .regions import LENGTH, region


class _Stop(Exception):
    """Checking cannot go on past a step that failed to resolve (already reported)."""


@dataclass
class Ctx:
    """Where a rule runs: the reporter, the step's display name and its span."""

    rep: Reporter
    name: str
    span: Span
    where: str  # the top-level step, for derivations ("after layer3")
    layout: Layout | None = None  # the input's memory layout
    out_layout: Layout | None = None  # set by rules that compute the output's strides


# The batch size, for arithmetic that must hold for every batch: a large prime, so that no
# product of the sizes of one sample equals it or a multiple of it by accident.
BATCH = 2**61 - 1
# Whether the emitter writes `batch` in view/reshape as x.size(0) whatever axis holds the
# batch. It writes x.size(k) of the batch axis k: `batch` is the batch size everywhere.
BATCH_IS_SIZE0 = False


def _sizes(shape: Shape) -> tuple[int, ...]:
    """Concrete sizes, the batch axis standing at the generic batch size."""
    return tuple(BATCH if d.size is None else d.size for d in shape)


def _batch_axis(shape: Shape) -> int | None:
    return next((i for i, d in enumerate(shape) if d.size is None), None)


def contiguous_strides(sizes: tuple[int, ...]) -> tuple[int, ...]:
    out: list[int] = []
    acc = 1
    for size in reversed(sizes):
        out.append(acc)
        acc *= size
    return tuple(reversed(out))


def dense_like(sizes: tuple[int, ...], strides: tuple[int, ...]) -> tuple[int, ...]:
    """Strides of a new dense tensor in the input's memory order, as elementwise ops make it."""
    order = sorted(range(len(sizes)), key=lambda i: -strides[i])  # outermost first, stable
    out = [0] * len(sizes)
    acc = 1
    for i in reversed(order):
        out[i] = acc
        acc *= sizes[i]
    return tuple(out)


def channels_last(sizes: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """Whether torch takes a 4-D tensor for channels-last (2-D convolutions, pools and
    batchnorm then return channels-last): c10's `is_channels_last_strides_2d_s4`."""
    if len(sizes) != 4 or strides[1] == 0:
        return False
    low = 0
    for d in (1, 3, 2, 0):
        if sizes[d] == 0 or strides[d] < low:
            return False
        if d == 0 and low == strides[1]:
            return False  # ambiguous (N111-like): torch falls back to contiguous
        low = strides[d] * (sizes[d] if sizes[d] > 1 else 1)
    return True


def channels_last_strides(sizes: tuple[int, ...]) -> tuple[int, ...]:
    _, c, h, w = sizes
    return (h * w * c, 1, w * c, c)


def view_strides(
    old_sizes: tuple[int, ...], old_strides: tuple[int, ...], new_sizes: tuple[int, ...]
) -> tuple[int, ...] | None:
    """The strides `view` gives, or None when torch refuses the view.

    torch's `computeStride` (aten/src/ATen/TensorUtils.cpp): the old axes fall into chunks
    that are contiguous among themselves; each chunk must be split or merged into whole new
    axes, never shared between two chunks.
    """
    if not old_sizes:
        return (1,) * len(new_sizes)
    new_strides = [0] * len(new_sizes)
    view_d = len(new_sizes) - 1
    chunk_base_stride = old_strides[-1]
    tensor_numel = 1
    view_numel = 1
    for tensor_d in range(len(old_sizes) - 1, -1, -1):
        tensor_numel *= old_sizes[tensor_d]
        if tensor_d == 0 or (
            old_sizes[tensor_d - 1] != 1
            and old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride
        ):
            while view_d >= 0 and (view_numel < tensor_numel or new_sizes[view_d] == 1):
                new_strides[view_d] = view_numel * chunk_base_stride
                view_numel *= new_sizes[view_d]
                view_d -= 1
            if view_numel != tensor_numel:
                return None
            if tensor_d > 0:
                chunk_base_stride = old_strides[tensor_d - 1]
                tensor_numel = 1
                view_numel = 1
    if view_d != -1:
        return None
    return tuple(new_strides)


@dataclass
class Layout:
    """How a tensor lies in memory: its strides, and where it stopped being contiguous."""

    strides: tuple[int, ...]
    origin: Span | None = None
    why: str = ""

    @staticmethod
    def of(shape: Shape) -> Layout:
        return Layout(contiguous_strides(_sizes(shape)))


def _pos(label: str) -> str:
    return "positions" if label == "length" else label


def _derive(dims: Shape) -> str:
    parts = [f"{d.size} {_pos(d.label)}" for d in dims if d.size not in (None, 1)]
    return " x ".join(parts)


def _pinned_lengths(size: Any, written: Any) -> str:
    """The lengths at which an inferred size equals the written one, when the size follows
    the length alone (`984 to 1031`); "" when it follows other parameters too."""
    if not isinstance(size, SymInt) or size.root.symbols() != {LENGTH}:
        return ""
    where = region([Guard(sub(size.root, const(int.__int__(written))), "==", True)])
    return where.describe() if where is not None else ""


def _scaled(size: int, factor: Any) -> int:
    """floor(size * factor) as torch computes it in double precision. A factor that is a
    binary fraction p / 2**k with a small k gives an exact product, so the size stays an
    expression (`2 * (length // 2)`); any other factor holds at this size only."""
    if isinstance(factor, SymInt):
        return size * factor  # a whole factor: exact, and it follows its parameter
    sizing(factor)  # a float parameter: the size is computed at its value
    ratio = Fraction(float(factor))
    if ratio.denominator <= 1024 and abs(ratio.numerator) <= 1 << 20:
        return size * ratio.numerator // ratio.denominator
    return math.floor(float(size) * float(factor))


def _int(value: Any) -> int:
    """A whole number, keeping a symbolic size's expression (int() would pin it)."""
    return value if isinstance(value, SymInt) else int(value)


def _tuple(value: Value, n: int) -> tuple[int, ...]:
    if isinstance(value, tuple):
        return tuple(_int(v) for v in value)
    return (_int(value),) * n


def _rank_error(
    ctx: Ctx, layer: ir.Layer, expected: str, shape: Shape, help: str | None = None
) -> CompileError:
    return ctx.rep.fatal(
        "wrong-rank",
        f"`{ctx.name}` expects a {expected} input, but its input is {len(shape)}-D "
        f"{show_shape(shape)} {show_axes(shape)}",
        ctx.span,
        help=help,
        notes=_origin_note(shape[-1] if shape else None),
    )


def _origin_note(dim: Dim | None, text: str | None = None) -> list[Note]:
    if dim is None or dim.origin is None:
        return []
    default = f"{dim.show()} {_pos(dim.label)} set here" if dim.size is not None else "set here"
    return [Note(text or dim.origin_note or default, dim.origin)]


def _expect_size(ctx: Ctx, layer: ir.Layer, param: str, dim: Dim, what: str) -> ir.Layer:
    """Fill an inferred input size, or check a written one against the input."""
    value = layer.get(param)
    comment = f"{dim.size} = {dim.why}" if " x " in dim.why else ""
    if value is None:
        return replace(layer.with_arg(param, dim.size), comment=comment)
    if (
        param in layer.explicit
        and value == dim.size
        and isinstance(dim.size, SymInt)
        and dim.size.local.const is None
    ):
        # A written size the input must match: the generic class checks it (emit_torch).
        return replace(layer, comment=comment, pinned=((param, dim.size),))
    if value != dim.size:
        explained = (
            f"{dim.size} = {dim.why}"
            if " x " in dim.why
            else (
                f"{dim.size} {what}: the {dim.why}"
                if dim.why.startswith("input ")
                else (f"{dim.size} {what} {dim.why}" if dim.why else f"{dim.size} {what}")
            )
        )
        if param in layer.explicit:
            # The output does not depend on the written input size: report and go on with
            # the real one, so later, independent mistakes are found in the same run.
            ctx.rep.error(
                "shape-mismatch",
                f"`{ctx.name}` expects {value} {what}, but its input has {dim.size}",
                layer.arg_span(param),
                label=explained,
                notes=_origin_note(dim),
                help=f"write {dim.size}, or leave the input size out and archc infers it",
            )
            return replace(layer.with_arg(param, dim.size), comment=comment)
        raise ctx.rep.fatal(
            "shape-mismatch",
            f"`{ctx.name}` is reused with {dim.size} {what}, but it was built for {value} at its first use",
            ctx.span,
            label=explained,
            notes=[Note("first used here", layer.span)],
            help="use a separate layer here",
        )
    return replace(layer, comment=comment)


def _length_error(ctx: Ctx, layer: ir.Layer, axis: Dim, need: int, what: str) -> CompileError:
    # The driver adds the shortest input length that works to `help`.
    return ctx.rep.fatal(
        "too-short",
        f"`{ctx.name}` has {what}, larger than its input of {axis.size} positions: "
        f"the {axis.label} shrinks to zero here (it needs at least {need})",
        ctx.span,
        notes=_origin_note(axis),
        help="use a longer input, or a smaller kernel, stride or pool",
    )


def _out_channels(ctx: Ctx, size: int) -> Dim:
    return Dim(size, "channels", f"from {ctx.where}", ctx.span)


def _memory_order(shape: Shape, strides: tuple[int, ...]) -> str:
    order = sorted(range(len(shape)), key=lambda i: -strides[i])
    return "(" + ", ".join(shape[i].label for i in order) + ")"


def _batch_mix(
    ctx: Ctx, message: str, shape: Shape, help: str, span: Span | None = None
) -> CompileError:
    """An error for a step that would move data between the samples of a batch."""
    b = _batch_axis(shape)
    notes = []
    if b is not None and b != 0 and shape[b].origin is not None:
        # The step that moved the batch axis, or the input declaration that put it there.
        notes = [Note(shape[b].origin_note or f"the input has the batch on axis {b}", shape[b].origin)]
    return ctx.rep.fatal(
        "batch-mix",
        message,
        span or ctx.span,
        label=f"input {show_shape(shape)} {show_axes(shape)}",
        notes=notes,
        help=help,
    )


def _pointwise(layer: ir.Layer, axis: int, n: int) -> bool:
    """Whether a convolution or pool sees each position of spatial `axis` (0-based among
    the n spatial axes) on its own: window 1, stride 1, no padding. The batch may stand
    on such an axis without its samples meeting."""
    kernel = _tuple(layer.get("kernel_size"), n)[axis]
    stride_value = layer.get("stride")
    stride = kernel if stride_value is None else _tuple(stride_value, n)[axis]
    pad_value = layer.get("padding", 0)
    pad = 0 if isinstance(pad_value, str) else _tuple(pad_value, n)[axis]
    return kernel == 1 and stride == 1 and pad == 0


def _needs_batch_first(ctx: Ctx, shape: Shape, acts: str, layer: ir.Layer | None = None, n: int = 0) -> None:
    """Convolutions take axis 0 as the batch: the batch anywhere else is mixed (on a spatial
    axis, unless the kernel sees one position at a time) or taken for the channels, whose
    number is fixed by the weights."""
    b = _batch_axis(shape)
    if b is None or b == 0:
        return
    if layer is not None and b >= 2 and _pointwise(layer, b - 2, n):
        return
    raise _batch_mix(
        ctx,
        f"`{ctx.name}` takes axis 0 as the batch, but its input has the batch on axis {b}: "
        f"it would {acts} across the samples of a batch",
        shape,
        help="move the batch axis back to the front with `permute` before this step",
    )


def _batch_not_spatial(
    ctx: Ctx, shape: Shape, acts: str, lead: int = 2, layer: ir.Layer | None = None
) -> None:
    """Pools treat the axes before the pooled ones alike, each index on its own: the batch
    may stand on any of them, but on a pooled axis neighbouring samples would be pooled
    together (unless the window is one position with stride 1)."""
    b = _batch_axis(shape)
    if b is None or b < lead:
        return
    if layer is not None and _pointwise(layer, b - lead, len(shape) - lead):
        return
    raise _batch_mix(
        ctx,
        f"`{ctx.name}` {acts} along axis {b}, which holds the batch: it would mix the samples "
        "of a batch",
        shape,
        help="move the batch axis to the front with `permute` before this step",
    )


def pool_output(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil: bool) -> int:
    """torch's `pooling_output_shape`: the last window must start inside the input or its left padding."""
    eff = dilation * (kernel - 1) + 1
    out = (size + 2 * pad - eff + (stride - 1 if ceil else 0)) // stride + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    return out


# ------------------------------------------------------------------ rules


def _padding_mode_check(
    ctx: Ctx, layer: ir.Layer, axis: Dim, index: int, left: int, right: int
) -> None:
    """reflect needs padding < size, circular <= size (per side), as torch's F.pad checks."""
    mode = layer.get("padding_mode", "zeros")
    worst = max(left, right)
    assert axis.size is not None
    if mode == "reflect" and worst >= axis.size:
        limit = f"less than the {axis.size} positions of its input"
    elif mode == "circular" and worst > axis.size:
        limit = f"at most the {axis.size} positions of its input (it wraps around once)"
    else:
        return
    raise ctx.rep.fatal(
        "bad-padding",
        f'`{ctx.name}`: padding_mode="{mode}" pads axis {index} by {worst}, but {mode} padding '
        f"must be {limit}",
        layer.arg_span("padding_mode"),
        notes=_origin_note(axis),
        help="use a longer input, less padding, or padding_mode=\"zeros\" or \"replicate\"",
    )


def rule_conv(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    spec = lookup(layer.kind)
    assert spec is not None
    n = spec.spatial
    axes = "(batch, channels, length)" if n == 1 else "(batch, channels, height, width)"
    if len(shape) != n + 2:
        raise _rank_error(ctx, layer, f"{n + 2}-D {axes}", shape)
    _needs_batch_first(ctx, shape, "convolve", layer, n)
    channels = shape[1]
    if n == 1 and channels.label == "length" and shape[2].label == "channels":
        ctx.rep.warning(
            "axis-order",
            f"`{ctx.name}` convolves over axis 2, but that axis holds the channels: "
            f"its input is {show_axes(shape)}",
            ctx.span,
            notes=_origin_note(channels),
            help="conv1d expects (batch, channels, length); add `permute(0, 2, 1)` before it",
        )
    layer = _expect_size(ctx, layer, "in_channels", channels, "input channels")
    groups = _int(layer.get("groups", 1))
    out_ch = _int(layer.get("out_channels"))
    in_ch = _int(layer.get("in_channels"))
    if in_ch % groups or out_ch % groups:
        raise ctx.rep.fatal(
            "bad-size",
            f"`{ctx.name}`: groups={groups} must divide both {in_ch} input and {out_ch} output channels",
            layer.arg_span("groups"),
        )
    kernel = _tuple(layer.get("kernel_size"), n)
    stride = _tuple(layer.get("stride"), n)
    dilation = _tuple(layer.get("dilation"), n)
    pad_value = layer.get("padding")
    same = pad_value == "same"
    if same and any(s != 1 for s in stride):
        raise ctx.rep.fatal(
            "bad-padding",
            f'`{ctx.name}`: padding="same" needs stride 1 (PyTorch refuses it otherwise)',
            layer.arg_span("padding"),
        )
    pad = (0,) * n if isinstance(pad_value, str) else _tuple(pad_value, n)
    out: list[Dim] = [shape[0], _out_channels(ctx, out_ch)]
    for i in range(n):
        axis = shape[2 + i]
        if axis.size is None:  # the batch, seen one position at a time (_pointwise)
            out.append(axis)
            continue
        eff = dilation[i] * (kernel[i] - 1) + 1
        if same:
            # torch pads (eff - 1) // 2 on the left and the rest on the right: any kernel,
            # even or dilated, keeps the length.
            total = eff - 1
            _padding_mode_check(ctx, layer, axis, 2 + i, total // 2, total - total // 2)
            out.append(replace(axis, why=f"after {ctx.where}", origin=ctx.span))
            continue
        _padding_mode_check(ctx, layer, axis, 2 + i, pad[i], pad[i])
        if kernel[i] == 1 and pad[i] > 0:
            ctx.rep.warning(
                "padding-1x1",
                f"`{ctx.name}` pads a kernel of size 1 by {pad[i]} on axis {2 + i}: "
                f"it adds {2 * pad[i]} positions of bias-only output",
                layer.arg_span("padding"),
                help="padding a 1-wide kernel only grows the output; use padding 0 unless this is intended",
            )
        elif pad[i] > (eff - 1) / 2:
            if (eff - 1) % 2:
                # An even (effective) kernel needs eff - 1 positions of padding, an odd number:
                # symmetric padding cannot give it.
                fix = (
                    f"an even kernel ({eff}) cannot keep the length with the same padding on "
                    f'both sides: use padding = "same" (torch pads {(eff - 1) // 2} left, '
                    f"{eff - 1 - (eff - 1) // 2} right) or an odd kernel"
                )
            else:
                fix = f"for a same-length output use padding {(eff - 1) // 2}"
            ctx.rep.warning(
                "padding-too-large",
                f"`{ctx.name}` pads by {pad[i]} on axis {2 + i}, more than (kernel - 1) / 2 = "
                f"{(eff - 1) / 2:g}: the output grows by {2 * pad[i] - (eff - 1)} positions",
                layer.arg_span("padding"),
                help=fix,
            )
        if axis.size + 2 * pad[i] < eff:
            raise _length_error(ctx, layer, axis, eff - 2 * pad[i], f"a kernel of {eff}")
        size = (axis.size + 2 * pad[i] - eff) // stride[i] + 1
        out.append(Dim(size, axis.label, f"after {ctx.where}", ctx.span, axis.varies))
    return layer, tuple(out)


def rule_pool(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    spec = lookup(layer.kind)
    assert spec is not None
    n = spec.spatial
    # torch also pools an unbatched input, one axis fewer: each index of the axes before the
    # pooled ones is pooled on its own.
    if len(shape) not in (n + 1, n + 2):
        raise _rank_error(ctx, layer, f"{n + 2}-D", shape)
    lead = len(shape) - n
    _batch_not_spatial(ctx, shape, "pools", lead, layer)
    kernel = _tuple(layer.get("kernel_size"), n)
    stride_value = layer.get("stride")
    stride = kernel if stride_value is None else _tuple(stride_value, n)
    pad = _tuple(layer.get("padding"), n)
    dilation = _tuple(layer.get("dilation", 1), n)
    ceil_mode = bool(layer.get("ceil_mode"))
    out: list[Dim] = list(shape[:lead])
    for i in range(n):
        axis = shape[lead + i]
        if axis.size is None:  # the batch, pooled one position at a time (_pointwise)
            out.append(axis)
            continue
        eff = dilation[i] * (kernel[i] - 1) + 1
        if pad[i] * 2 > kernel[i]:
            raise ctx.rep.fatal(
                "bad-padding",
                f"`{ctx.name}`: padding {pad[i]} is more than half the window {kernel[i]} "
                "(PyTorch refuses it)",
                layer.arg_span("padding"),
            )
        size = pool_output(axis.size, kernel[i], stride[i], pad[i], dilation[i], ceil_mode)
        if size < 1:
            need = eff - 2 * pad[i] if not ceil_mode else eff - 2 * pad[i] - stride[i] + 1
            raise _length_error(ctx, layer, axis, max(need, 1), f"a pool window of {eff}")
        # Input positions after the end of the last window are never seen.
        last_end = (size - 1) * stride[i] - pad[i] + eff  # one past the last covered position
        dropped = axis.size - last_end
        with quiet():  # a warning only: the length analysis need not split on it
            drops = dropped > 0 and kernel[i] > 1
        if drops:
            why = (
                f"no window of {eff} with stride {stride[i]} and padding {pad[i]} covers them"
                if pad[i]
                else f"the window {eff} with stride {stride[i]} does not divide them"
            )
            ctx.rep.warning(
                "pool-drops",
                f"`{ctx.name}` drops the last {dropped} of {axis.size} positions on axis {lead + i}: {why}",
                ctx.span,
                notes=_origin_note(axis),
                help="make the input a multiple of the stride, or set ceil_mode=true"
                if not pad[i]
                else "change the padding or the stride so the windows reach the end, or set "
                "ceil_mode=true",
            )
        out.append(Dim(size, axis.label, f"after {ctx.where}", ctx.span, axis.varies))
    return layer, tuple(out)


def rule_adaptive(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) not in (2, 3):
        raise _rank_error(ctx, layer, "3-D (batch, channels, length)", shape)
    if shape[-1].size is None:
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` pools the last axis, which holds the batch: it would pool "
            "across the samples of a batch",
            shape,
            help="put the positions on the last axis: (batch, channels, length)",
        )
    size = _int(layer.get("output_size"))
    return layer, (*shape[:-1], Dim(size, shape[-1].label, f"after {ctx.where}", ctx.span))


# What a global pool does over the last axis, in its batch-mix message.
_GLOBAL_POOL_VERBS = {
    "global_max_pool": (
        "takes the maximum over the last axis, which holds the batch: it would take it "
        "across the samples of a batch"
    ),
    "global_avg_pool": (
        "averages over the last axis, which holds the batch: it would average across the "
        "samples of a batch"
    ),
}


def rule_global_pool(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    # x.amax(dim=-1) / x.mean(dim=-1) take any rank; they are meant for (batch, channels, length).
    if len(shape) < 2:
        raise _rank_error(ctx, layer, "3-D (batch, channels, length)", shape)
    if shape[-1].size is None:
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` {_GLOBAL_POOL_VERBS[layer.kind]}",
            shape,
            help="put the positions on the last axis: (batch, channels, length)",
        )
    return layer, shape[:-1]


def rule_batchnorm(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    ranks = (2, 3) if layer.kind == "batchnorm1d" else (4,)
    if len(shape) not in ranks:
        expected = "2-D or 3-D" if layer.kind == "batchnorm1d" else "4-D"
        raise _rank_error(ctx, layer, expected, shape)
    if shape[1].size is None:
        # Each index of axis 1 is a channel with its own statistics and weights.
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` normalizes each index of axis 1 as a channel, but axis 1 holds the "
            "batch: its num_features would have to be the batch size",
            shape,
            help="move the batch axis to the front with `permute` before this step",
        )
    if layer.get("track_running_stats") is False:
        # In eval mode too: a sample's output would depend on the rest of its batch.
        ctx.rep.error(
            "batch-mix",
            f"`{ctx.name}` has track_running_stats=false: it normalizes with the statistics of "
            "the current batch in eval mode too, so each sample's output depends on the other "
            "samples of its batch",
            layer.arg_span("track_running_stats"),
            help="keep track_running_stats=true for outputs that depend on one sample alone at "
            "inference",
        )
    layer = _expect_size(ctx, layer, "num_features", shape[1], "features")
    return layer, shape


def rule_linear(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) < 2:
        raise _rank_error(ctx, layer, "(batch, features)", shape, help="add `flatten` before it")
    if shape[-1].size is None:
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` acts on the last axis, which holds the batch: it would mix the "
            "samples of a batch",
            shape,
            help="put the features on the last axis (`permute` the batch axis away from it), "
            "or `flatten` first",
        )
    if len(shape) == 3 and shape[-1].label == "length" and shape[-2].label == "channels":
        ctx.rep.warning(
            "axis-order",
            f"`{ctx.name}` acts on the last axis, but that axis holds the length: its input is "
            f"{show_axes(shape)}",
            ctx.span,
            notes=_origin_note(shape[-1]),
            help="linear acts on the last axis: `flatten` first for one output per sequence, or "
            "`permute(0, 2, 1)` to act on the channels at each position",
        )
    written = layer.get("in_features")
    last = shape[-1]
    if (
        "in_features" not in layer.explicit
        and last.size == 1
        and last.label == "features"
        and last.why.startswith("from ")
        and last.origin is not None
        and len(shape) == 2
    ):
        # `dev = linear(1)` then `hk = linear(1)`: the second head reads the first's output.
        source = last.why[len("from ") :]
        ctx.rep.warning(
            "chained-heads",
            f"`{ctx.name}` reads the single output of `{source}`: written one after the other, "
            "two heads chain into each other",
            ctx.span,
            notes=[Note(f"`{source}` gives 1 feature", last.origin)],
            help="to read the same tensor, name it (`trunk := ...`), start each head with it "
            f"(`{ctx.name}_out := trunk | {ctx.name} = linear(...)`) and `return` both; write "
            "`linear(1 -> ...)` if one feature is meant",
        )
    layer = _expect_size(ctx, layer, "in_features", shape[-1], "input features")
    if shape[-1].varies and "in_features" in layer.explicit and written == shape[-1].size:
        fits = _pinned_lengths(shape[-1].size, written)
        ctx.rep.warning(
            "length-pinned",
            f"`{ctx.name}` fixes its input size to {shape[-1].size}, which depends on the input length: "
            + (f"it fits only lengths {fits}" if fits else "the architecture works only at this length"),
            layer.arg_span("in_features"),
            label=f"{shape[-1].size} = {shape[-1].why}" if " x " in shape[-1].why else "",
            help="leave the input size out and archc infers it for every length",
        )
    out = _int(layer.get("out_features"))
    return layer, (*shape[:-1], Dim(out, "features", f"from {ctx.where}", ctx.span))


def rule_lstm(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) != 3:
        raise _rank_error(ctx, layer, "3-D", shape)
    batch_first = bool(layer.get("batch_first"))
    batch_axis = 0 if batch_first else 1
    b = _batch_axis(shape)
    if b != batch_axis:
        expected = "(batch, length, features)" if batch_first else "(length, batch, features)"
        role = "sequence" if b == 1 - batch_axis else "feature"
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` (batch_first={show(batch_first)}) expects {expected}, but its input "
            f"{show_axes(shape)} has the batch on its {role} axis: it would run across the "
            "samples of a batch",
            shape,
            help=(
                "set batch_first=true"
                if not batch_first and b == 0
                else (
                    "set batch_first=false, or permute the batch axis first"
                    if batch_first and b == 1
                    else "permute the axes into " + expected
                )
            ),
        )
    seq_axis = 1 - batch_axis
    if shape[seq_axis].label == "channels" and shape[2].label == "length":
        ctx.rep.warning(
            "axis-order",
            f"`{ctx.name}` runs along axis {seq_axis}, but that axis holds the channels: its "
            f"input is {show_axes(shape)}",
            ctx.span,
            notes=_origin_note(shape[2]),
            help=f"an {layer.kind.upper()} takes the positions as its sequence and the channels as its "
            "features; "
            + ("add `permute(0, 2, 1)` before it" if batch_first else "permute the axes first"),
        )
    layer = _expect_size(ctx, layer, "input_size", shape[2], "input features")
    hidden = _int(layer.get("hidden_size"))
    dirs = 2 if layer.get("bidirectional") else 1
    why = f"{dirs} directions x {hidden} hidden units" if dirs == 2 else f"from {ctx.where}"
    return layer, (shape[0], shape[1], Dim(hidden * dirs, "features", why, ctx.span))


def rule_divide(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if layer.get("divisor") == 0:
        raise ctx.rep.fatal(
            "bad-value",
            f"`{ctx.name}` divides by 0: every element becomes inf or nan",
            layer.arg_span("divisor"),
            help="divide by a number other than 0",
        )
    return layer, shape


def rule_identity(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if layer.kind in ("softmax", "log_softmax"):
        axis = _axis(ctx, layer, "dim", shape)
        if shape[axis].size is None:
            raise _batch_mix(
                ctx,
                f"`{ctx.name}` normalizes over axis {axis}, the batch axis: each output "
                "would depend on every sample of the batch",
                shape,
                help=f"normalize over the classes, e.g. {layer.kind}({len(shape) - 1})",
                span=layer.arg_span("dim"),
            )
    return layer, shape


def _axis(ctx: Ctx, layer: ir.Layer, param: str, shape: Shape) -> int:
    value = _int(layer.get(param))
    rank = len(shape)
    if not -rank <= value < rank:
        raise ctx.rep.fatal(
            "bad-axis",
            f"`{ctx.name}`: axis {value} does not exist in a {rank}-D input {show_axes(shape)}",
            layer.arg_span(param),
            help=f"axes run from 0 to {rank - 1} (or -{rank} to -1)",
        )
    return value % rank


def _merge(dims: Shape, ctx: Ctx) -> Dim:
    size = math.prod(d.size for d in dims if d.size is not None)
    if len(dims) == 1:
        return dims[0]
    why = _derive(dims)
    after = [d.why for d in dims if d.why.startswith("after ")]
    if after:
        why += " " + after[-1]
    # Point at the layer that set the last of the merged sizes (layer3 in Basset), not at flatten.
    last = max(dims, key=lambda d: d.origin.start if d.origin else -1)
    note = f"{last.size} {_pos(last.label)} set here" if last.origin else ""
    return Dim(size, "features", why, last.origin or ctx.span, any(d.varies for d in dims), note)


def rule_flatten(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    start = _axis(ctx, layer, "start_dim", shape)
    end = _axis(ctx, layer, "end_dim", shape)
    if end < start:
        raise ctx.rep.fatal("bad-axis", f"`{ctx.name}`: end_dim comes before start_dim", layer.span)
    if start == end:
        # torch.flatten over a single axis returns its input unchanged.
        ctx.out_layout = ctx.layout
        return layer, shape
    b = _batch_axis(shape)
    if b is not None and start <= b <= end:
        if all(d.size == 1 for d in shape[start : end + 1] if d.size is not None):
            # Only size-1 axes join the batch: no sample meets another.
            return layer, _flattened(ctx, shape, (*shape[:start], shape[b], *shape[end + 1 :]))
        merged = show_axes(shape[start : end + 1])
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` merges the batch axis with other axes {merged} into one: "
            "the samples of a batch would run into each other",
            shape,
            help=(
                "flatten from axis 1: `flatten` or `flatten(1)`"
                if b == 0
                else "flatten only the axes after the batch, or move the batch axis to the "
                "front with `permute` first"
            ),
        )
    merged_dim = _merge(shape[start : end + 1], ctx)
    return layer, _flattened(ctx, shape, (*shape[:start], merged_dim, *shape[end + 1 :]))


def _flattened(ctx: Ctx, shape: Shape, out: Shape) -> Shape:
    """torch.flatten reshapes: a view when the strides allow it, else a contiguous copy."""
    if ctx.layout is not None:
        strides = view_strides(_sizes(shape), ctx.layout.strides, _sizes(out))
        ctx.out_layout = Layout.of(out) if strides is None else replace(ctx.layout, strides=strides)
    return out


def rule_reshape(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    target = layer.get("shape")
    assert isinstance(target, tuple)
    call = f"{layer.kind}({', '.join(str(t) for t in target)})"
    if not target:
        raise ctx.rep.fatal("reshape-size", f"`{call}` needs the new shape", layer.span)
    elements = math.prod(d.size for d in shape if d.size is not None)
    derivation = _derive(tuple(d for d in shape if d.size is not None))
    n_infer = sum(1 for t in target if t == -1)
    n_batch = sum(1 for t in target if t == "batch")
    if n_infer > 1 or n_batch > 1:
        raise ctx.rep.fatal(
            "reshape-size", f"`{call}`: only one axis can be -1 or batch", layer.span
        )
    for t in target:
        if isinstance(t, int) and t != -1 and t < 1:
            raise ctx.rep.fatal("bad-size", f"`{call}`: sizes must be positive (or -1)", layer.span)
    fixed = math.prod(t for t in target if isinstance(t, int) and t != -1)
    sizes = _sizes(shape)
    as_infer = False
    if n_batch and shape[0].size is not None and BATCH_IS_SIZE0:
        # The emitted code reads `batch` as x.size(0), here not the batch size. Alone, it
        # can be written -1 instead (the other sizes then fix it to the batch size).
        if n_infer:
            raise ctx.rep.fatal(
                "reshape-size",
                f"`{call}`: `batch` stands for x.size(0), the size of axis 0, but axis 0 holds "
                f"the {shape[0].label} ({shape[0].size}) here, not the batch; beside a -1 it "
                "cannot be told from it",
                ctx.span,
                label=f"input {show_shape(shape)} {show_axes(shape)}",
                notes=_origin_note(shape[0]),
                help="write every other size out, or move the batch axis to the front with "
                "`permute` first",
            )
        as_infer = True
    values = [BATCH if t == "batch" else _int(t) for t in target]
    total = math.prod(sizes)
    known = math.prod(v for v in values if v != -1)
    if n_infer:
        if total % known:
            raise _reshape_mismatch(ctx, layer, call, elements, derivation, fixed, shape)
        values = [total // known if v == -1 else v for v in values]
    elif known != total:
        if n_batch:
            raise _reshape_mismatch(ctx, layer, call, elements, derivation, fixed, shape)
        raise ctx.rep.fatal(
            "reshape-size",
            f"`{call}` fixes every axis, so it only works for one batch size",
            ctx.span,
            help=f"write -1 or `batch` for the batch axis, e.g. {layer.kind}(-1, ...)",
        )
    new = tuple(values)
    out = _regroup(shape, new, ctx, layer, call)
    if as_infer:
        layer = layer.with_arg("shape", tuple(-1 if t == "batch" else t for t in target))
    if ctx.layout is not None:
        strides = view_strides(sizes, ctx.layout.strides, new)
        if strides is None and layer.kind == "view":
            raise ctx.rep.fatal(
                "view-stride",
                f"`{call}` cannot view its input: the input is not laid out in memory in the "
                "order of its axes, and view() never copies (torch raises here)",
                ctx.span,
                label=f"input {show_shape(shape)} {show_axes(shape)} lies in memory as "
                f"{_memory_order(shape, ctx.layout.strides)}",
                notes=[Note(ctx.layout.why, ctx.layout.origin)] if ctx.layout.origin else [],
                help="use `reshape`, which copies when it must, or add `contiguous` before the view",
            )
        ctx.out_layout = Layout.of(out) if strides is None else replace(ctx.layout, strides=strides)
    return layer, out


def _reshape_mismatch(
    ctx: Ctx, layer: ir.Layer, call: str, elements: int, derivation: str, fixed: int, shape: Shape
) -> CompileError:
    return ctx.rep.fatal(
        "reshape-size",
        f"`{call}` does not fit: each sequence has {elements} elements, the new shape holds {fixed}",
        ctx.span,
        label=f"{elements} = {derivation}" if " x " in derivation else "",
        notes=_origin_note(shape[-1]),
        help="leave the size out with `flatten`, or write the sizes so they multiply to "
        f"{elements}",
    )


def _show_size(size: int) -> str:
    if size == BATCH:
        return "N"
    if size % BATCH == 0:
        return f"{size // BATCH}N"
    return str(size)


def _regroup(shape: Shape, sizes: tuple[int, ...], ctx: Ctx, layer: ir.Layer, call: str) -> Shape:
    """Label the new axes; the batch must map to one axis of its own, and warn when a
    reshape reads one axis order as another."""
    old = _sizes(shape)
    src = [(i, n) for i, n in enumerate(old) if n != 1]
    dst = [(j, n) for j, n in enumerate(sizes) if n != 1]
    labels: list[str] = ["unit" if n == 1 else "batch" for n in sizes]
    whys: list[str] = ["" for _ in sizes]
    varies: list[bool] = [False for _ in sizes]
    batch_at: int | None = None
    i = j = 0
    while i < len(src) and j < len(dst):
        group_src = [src[i]]
        group_dst = [dst[j]]
        pa, pb = src[i][1], dst[j][1]
        while pa != pb:
            if pa < pb:
                i += 1
                group_src.append(src[i])
                pa *= src[i][1]
            else:
                j += 1
                group_dst.append(dst[j])
                pb *= dst[j][1]
        i += 1
        j += 1
        src_dims = tuple(shape[k] for k, _ in group_src)
        if any(d.size is None for d in src_dims):
            if len(group_src) == 1 and len(group_dst) == 1:
                batch_at = group_dst[0][0]
                continue
            into = ", ".join(_show_size(n) for _, n in group_dst)
            what = (
                f"splits the batch axis into ({', '.join(_show_size(n) for _, n in group_dst)})"
                if len(group_src) == 1
                else (
                    f"merges {show_axes(src_dims)} = ({', '.join(d.show() for d in src_dims)}) "
                    + (f"into one axis of {into}" if len(group_dst) == 1 else f"into ({into})")
                )
            )
            raise _batch_mix(
                ctx,
                f"`{call}` {what}: the batch axis would not stay an axis of its own, and "
                "samples of a batch would mix",
                shape,
                help="keep the batch as its own axis: `batch` or -1 for it alone, e.g. "
                f"{layer.kind}(batch, -1); `permute` the batch axis to the front first if needed",
            )
        for jj, _ in group_dst:
            varies[jj] = any(d.varies for d in src_dims)
        if len(group_src) > 1 and len(group_dst) > 1:
            mixed = " and ".join(f"{d.label} ({d.size})" for d in src_dims)
            ctx.rep.warning(
                "axis-mix",
                f"`{call}` mixes the axes {mixed}: it is not a pure merge or split of adjacent axes",
                ctx.span,
                label=f"reads {show_axes(src_dims)} = {tuple(d.size for d in src_dims)} in memory order "
                f"as {tuple(n for _, n in group_dst)}",
                notes=_origin_note(src_dims[-1]),
                help="if the axes are in the wrong order, `permute` them first",
            )
            for jj, _ in group_dst:
                labels[jj] = "mixed"
        elif len(group_src) > 1:
            labels[group_dst[0][0]] = "features"
            whys[group_dst[0][0]] = _derive(src_dims)
        else:
            for jj, _ in group_dst:
                labels[jj] = src_dims[0].label
    batch = next((d for d in shape if d.size is None), Dim(None, "batch"))
    return tuple(
        (
            batch
            if k == batch_at
            else Dim(n, labels[k], whys[k] or f"after {ctx.where}", ctx.span, varies[k])
        )
        for k, n in enumerate(sizes)
    )


def _moved_batch(before: Shape, after: Shape, ctx: Ctx) -> Shape:
    """Mark where the batch axis was moved, for the notes of a later batch-mix error."""
    b0, b1 = _batch_axis(before), _batch_axis(after)
    if b0 == b1 or b1 is None:
        return after
    moved = replace(after[b1], origin=ctx.span, origin_note=f"the batch axis moves to axis {b1} here")
    return (*after[:b1], moved, *after[b1 + 1 :])


def _permuted_layout(ctx: Ctx, order: list[int], what: str) -> None:
    if ctx.layout is None:
        return
    strides = tuple(ctx.layout.strides[d] for d in order)
    ctx.out_layout = (
        replace(ctx.layout, strides=strides)
        if ctx.layout.origin is not None
        else Layout(strides, ctx.span, what)
    )


def rule_permute(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    dims = layer.get("dims")
    assert isinstance(dims, tuple)
    rank = len(shape)
    normalized = []
    for d in dims:
        if d == "batch" or not isinstance(d, int) or not -rank <= d < rank:
            raise ctx.rep.fatal(
                "bad-axis",
                f"`permute{dims}`: axis {d} does not exist in a {rank}-D input {show_axes(shape)}",
                ctx.span,
                help=f"give each axis 0..{rank - 1} once",
            )
        normalized.append(d % rank)
    if sorted(normalized) != list(range(rank)):
        missing = sorted(set(range(rank)) - set(normalized))
        raise ctx.rep.fatal(
            "bad-axis",
            f"`permute{dims}` is not a reordering of the {rank} axes of {show_axes(shape)}"
            + (f": axis {', '.join(map(str, missing))} is missing" if missing else ""),
            ctx.span,
            help=f"give each axis 0..{rank - 1} exactly once",
        )
    _permuted_layout(ctx, normalized, "permuted here (permute returns a view, not a copy)")
    return layer, _moved_batch(shape, tuple(shape[d] for d in normalized), ctx)


def rule_transpose(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    a = _axis(ctx, layer, "dim0", shape)
    b = _axis(ctx, layer, "dim1", shape)
    order = list(range(len(shape)))
    order[a], order[b] = order[b], order[a]
    _permuted_layout(ctx, order, "transposed here (transpose returns a view, not a copy)")
    return layer, _moved_batch(shape, tuple(shape[d] for d in order), ctx)


def rule_select(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    axis = _axis(ctx, layer, "dim", shape)
    index = _int(layer.get("index"))
    size = shape[axis].size
    if size is None:
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` selects one index of axis {axis}, the batch axis: it would keep one "
            "sample for the whole batch",
            shape,
            help="select from another axis (e.g. the last step of an LSTM: select(1, -1) with "
            "batch_first=true)",
            span=layer.arg_span("dim"),
        )
    if not -size <= index < size:
        raise ctx.rep.fatal(
            "bad-axis",
            f"`{ctx.name}`: index {index} is outside an axis of {size}",
            layer.arg_span("index"),
        )
    if ctx.layout is not None:
        strides = ctx.layout.strides[:axis] + ctx.layout.strides[axis + 1 :]
        ctx.out_layout = (
            replace(ctx.layout, strides=strides)
            if ctx.layout.origin is not None
            else Layout(strides, ctx.span, "selected here (select returns a view with gaps)")
        )
    return layer, shape[:axis] + shape[axis + 1 :]


def rule_poison(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    raise _Stop


def broadcast(a: Shape, b: Shape) -> Shape | None:
    """torch's broadcasting of two shapes (aligned from the last axis), or None.

    The batch axis stands for any batch size: it matches only the batch or a 1.
    """
    out: list[Dim] = []
    for k in range(1, max(len(a), len(b)) + 1):
        da = a[-k] if k <= len(a) else None
        db = b[-k] if k <= len(b) else None
        if da is None or db is None:
            out.append(da or db)  # type: ignore[arg-type]
        elif da.size == db.size:
            out.append(da)
        elif da.size == 1:
            out.append(db)
        elif db.size == 1:
            out.append(da)
        else:
            return None
    return tuple(reversed(out))


Rule = Callable[[ir.Layer, Shape, Ctx], tuple[ir.Layer, Shape]]

RULES: dict[str, Rule] = {
    "conv1d": rule_conv,
    "conv2d": rule_conv,
    "batchnorm1d": rule_batchnorm,
    "batchnorm2d": rule_batchnorm,
    "maxpool1d": rule_pool,
    "maxpool2d": rule_pool,
    "avgpool1d": rule_pool,
    "avgpool2d": rule_pool,
    "adaptivemaxpool1d": rule_adaptive,
    "global_max_pool": rule_global_pool,
    "linear": rule_linear,
    "lstm": rule_lstm,
    "gru": rule_lstm,
    "relu": rule_identity,
    "sigmoid": rule_identity,
    "tanh": rule_identity,
    "softmax": rule_identity,
    "log_softmax": rule_identity,
    "dropout": rule_identity,
    "contiguous": rule_identity,
    "flatten": rule_flatten,
    "view": rule_reshape,
    "reshape": rule_reshape,
    "permute": rule_permute,
    "transpose": rule_transpose,
    "select": rule_select,
    POISON: rule_poison,
}


# ------------------------------------------------------------------ added layers (layers branch)
# Rules of the layers added with compiler/layers.py's NEW_SPECS; registered into RULES below.


def _dims_of(ctx: Ctx, layer: ir.Layer, param: str, shape: Shape, what: str) -> tuple[int, ...]:
    """The axes an int-or-tuple parameter names, normalized, each once; none the batch."""
    value = layer.get(param)
    values = value if isinstance(value, tuple) else (value,)
    rank = len(shape)
    out: list[int] = []
    for v in values:
        assert isinstance(v, int)
        if not -rank <= v < rank:
            raise ctx.rep.fatal(
                "bad-axis",
                f"`{ctx.name}`: axis {v} does not exist in a {rank}-D input {show_axes(shape)}",
                layer.arg_span(param),
                help=f"axes run from 0 to {rank - 1} (or -{rank} to -1)",
            )
        if v % rank in out:
            raise ctx.rep.fatal(
                "bad-axis",
                f"`{ctx.name}`: axis {v % rank} appears twice (PyTorch refuses it)",
                layer.arg_span(param),
            )
        out.append(v % rank)
    if not out:
        raise ctx.rep.fatal("bad-axis", f"`{ctx.name}` needs at least one axis", layer.arg_span(param))
    b = _batch_axis(shape)
    if b is not None and b in out:
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` {what} along axis {b}, the batch axis: it would mix the samples of a batch",
            shape,
            help="name the axes after the batch, e.g. 1 or -1",
            span=layer.arg_span(param),
        )
    return tuple(out)


def _batch_off(ctx: Ctx, shape: Shape, axes: range | tuple[int, ...], acts: str, help: str) -> None:
    """The batch must not stand on any of `axes` (normalized indexes)."""
    b = _batch_axis(shape)
    if b is not None and b in axes:
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` {acts} along axis {b}, which holds the batch: it would mix the samples "
            "of a batch",
            shape,
            help=help,
        )


def _batch_at_0(ctx: Ctx, shape: Shape, acts: str) -> None:
    b = _batch_axis(shape)
    if b is not None and b != 0:
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` takes axis 0 as the batch, but its input has the batch on axis {b}: "
            f"it would {acts} across the samples of a batch",
            shape,
            help="move the batch axis back to the front with `permute` before this step",
        )


def _new_dim(ctx: Ctx, size: int, axis: Dim) -> Dim:
    return Dim(size, axis.label, f"after {ctx.where}", ctx.span, axis.varies)


def channels_last_3d(sizes: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """c10's `is_channels_last_strides_3d_s5`: a 5-D tensor torch takes for channels-last-3d."""
    if len(sizes) != 5 or strides[1] == 0:
        return False
    low = 0
    for d in (1, 4, 3, 2, 0):
        if sizes[d] == 0 or strides[d] < low:
            return False
        if d == 0 and low == strides[1]:
            return False
        low = strides[d] * (sizes[d] if sizes[d] > 1 else 1)
    return True


def _keep_channels_last_3d(ctx: Ctx, shape: Shape, out: Shape) -> None:
    """batchnorm3d, groupnorm and constant padding keep a channels-last-3d input so."""
    if ctx.layout is None or len(shape) != 5 or len(ctx.layout.strides) != 5:
        return
    if channels_last_3d(_sizes(shape), ctx.layout.strides):
        _, c, d, h, w = _sizes(out)
        ctx.out_layout = replace(ctx.layout, strides=(d * h * w * c, 1, h * w * c, w * c, c))


def rule_layernorm(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    value = layer.get("normalized_shape")
    k = len(value) if isinstance(value, tuple) else 1
    if len(shape) < k + 1:
        raise _rank_error(ctx, layer, f"at least {k + 1}-D", shape)
    _batch_off(
        ctx,
        shape,
        range(len(shape) - k, len(shape)),
        "normalizes",
        "put the features on the last axis (`permute` the batch axis away from it)",
    )
    if not isinstance(value, tuple):
        return _expect_size(ctx, layer, "normalized_shape", shape[-1], "features"), shape
    want = tuple(d.size for d in shape[-k:])
    if value != want:
        raise ctx.rep.fatal(
            "shape-mismatch",
            f"`{ctx.name}` normalizes over {show(value)}, but the last {k} axes of its input are "
            f"{show(want)} {show_axes(shape[-k:])}",
            layer.arg_span("normalized_shape"),
            notes=_origin_note(shape[-1]),
            help=f"write normalized_shape = {show(want)}, or an int for the last axis alone",
        )
    return layer, shape


def rule_groupnorm(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) < 2:
        raise _rank_error(ctx, layer, "(batch, channels, ...)", shape)
    _batch_at_0(ctx, shape, "normalize")
    built = layer.get("num_channels")
    if layer.get("affine") is False and built is not None and "num_channels" not in layer.explicit:
        # Without affine weights the module holds nothing per channel: torch runs it on any
        # number of channels its groups divide (reused at another width).
        channels = _int(shape[1].size)
    else:
        layer = _expect_size(ctx, layer, "num_channels", shape[1], "channels")
        channels = _int(layer.get("num_channels"))
    groups = _int(layer.get("num_groups"))
    if channels % groups:
        raise ctx.rep.fatal(
            "bad-size",
            f"`{ctx.name}`: num_groups={groups} must divide the {channels} channels",
            layer.arg_span("num_groups"),
            notes=_origin_note(shape[1]),
            help="use a divisor of the number of channels",
        )
    if channels // groups * math.prod(d.size or 1 for d in shape[2:]) == 1:
        raise ctx.rep.fatal(
            "bad-size",
            f"`{ctx.name}`: each of the {groups} groups holds a single value per sample: its output "
            "is all zeros (and PyTorch refuses a batch of one)",
            layer.arg_span("num_groups"),
            help="use fewer groups",
        )
    _keep_channels_last_3d(ctx, shape, shape)
    return layer, shape


def rule_batchnorm3d(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) != 5:
        raise _rank_error(ctx, layer, "5-D (batch, channels, depth, height, width)", shape)
    # The checks of the 1-D and 2-D batchnorm apply as they are: they read axis 1 only.
    checked, _ = rule_batchnorm(replace(layer, kind="batchnorm1d"), shape[:3], ctx)
    _keep_channels_last_3d(ctx, shape, shape)
    return replace(checked, kind=layer.kind), shape


def rule_embedding(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    count = _int(layer.get("num_embeddings"))
    pad = layer.get("padding_idx")
    if isinstance(pad, int) and not -count <= pad < count:
        raise ctx.rep.fatal(
            "bad-value",
            f"`{ctx.name}`: padding_idx={pad} is not an index of its {count} embeddings",
            layer.arg_span("padding_idx"),
            help=f"use an index from {-count} to {count - 1}",
        )
    dim = _int(layer.get("embedding_dim"))
    return layer, (*shape, Dim(dim, "features", f"from {ctx.where}", ctx.span))


def rule_convtranspose(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    spec = lookup(layer.kind)
    assert spec is not None
    n = spec.spatial
    axes = "(batch, channels, length)" if n == 1 else "(batch, channels, height, width)"
    if len(shape) != n + 2:
        raise _rank_error(ctx, layer, f"{n + 2}-D {axes}", shape)
    _needs_batch_first(ctx, shape, "convolve", layer, n)
    layer = _expect_size(ctx, layer, "in_channels", shape[1], "input channels")
    groups = _int(layer.get("groups", 1))
    out_ch = _int(layer.get("out_channels"))
    in_ch = _int(layer.get("in_channels"))
    if in_ch % groups or out_ch % groups:
        raise ctx.rep.fatal(
            "bad-size",
            f"`{ctx.name}`: groups={groups} must divide both {in_ch} input and {out_ch} output channels",
            layer.arg_span("groups"),
        )
    kernel = _tuple(layer.get("kernel_size"), n)
    stride = _tuple(layer.get("stride"), n)
    pad = _tuple(layer.get("padding"), n)
    out_pad = _tuple(layer.get("output_padding"), n)
    dilation = _tuple(layer.get("dilation"), n)
    for i in range(n):
        if out_pad[i] >= stride[i] and out_pad[i] >= dilation[i]:
            raise ctx.rep.fatal(
                "bad-padding",
                f"`{ctx.name}`: output_padding {out_pad[i]} must be smaller than the stride "
                f"({stride[i]}) or the dilation ({dilation[i]}) (PyTorch refuses it)",
                layer.arg_span("output_padding"),
                help="output_padding only picks among the output sizes a stride allows",
            )
    out: list[Dim] = [shape[0], _out_channels(ctx, out_ch)]
    for i in range(n):
        axis = shape[2 + i]
        if axis.size is None:  # the batch, seen one position at a time (_pointwise)
            out.append(axis)
            continue
        grow = dilation[i] * (kernel[i] - 1) + out_pad[i] + 1 - 2 * pad[i]
        size = (axis.size - 1) * stride[i] + grow
        if size < 1:
            need = 1 + -(-(1 - grow) // stride[i])
            raise ctx.rep.fatal(
                "too-short",
                f"`{ctx.name}` has padding {pad[i]}, which removes more than its input of "
                f"{axis.size} positions gives: the {axis.label} shrinks to {size} here "
                f"(it needs at least {need})",
                ctx.span,
                notes=_origin_note(axis),
                help="use a longer input, or less padding",
            )
        out.append(_new_dim(ctx, size, axis))
    return layer, tuple(out)


_INTERPOLATING = ("linear", "bilinear", "bicubic", "trilinear")
_MODE_RANK = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5}


def rule_upsample(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) not in (3, 4):
        raise _rank_error(ctx, layer, "3-D (batch, channels, length) or 4-D", shape)
    n = len(shape) - 2
    mode = str(layer.get("mode"))
    if mode in _MODE_RANK and _MODE_RANK[mode] != len(shape):
        raise _rank_error(ctx, layer, f'{_MODE_RANK[mode]}-D (for mode="{mode}")', shape)
    if layer.get("align_corners") is not None and mode not in _INTERPOLATING:
        raise ctx.rep.fatal(
            "bad-value",
            f'`{ctx.name}`: align_corners is only for the interpolating modes '
            f'({", ".join(_INTERPOLATING)}), not mode="{mode}" (PyTorch refuses it)',
            layer.arg_span("align_corners"),
            help="leave align_corners out",
        )
    size, scale = layer.get("size"), layer.get("scale_factor")
    if (size is None) == (scale is None):
        raise ctx.rep.fatal(
            "missing-argument" if size is None else "bad-value",
            f"`{ctx.name}` needs exactly one of size and scale_factor",
            layer.span,
            help="write size = N or scale_factor = F",
        )
    param = "size" if size is not None else "scale_factor"
    value = size if size is not None else scale
    if isinstance(value, tuple) and len(value) != n:
        raise ctx.rep.fatal(
            "bad-value",
            f"`{ctx.name}`: {param} has {len(value)} values, but its input has {n} spatial "
            f"ax{'is' if n == 1 else 'es'}",
            layer.arg_span(param),
            help=f"write one value, or {n}",
        )
    values = value if isinstance(value, tuple) else (value,) * n
    _batch_off(
        ctx, shape, range(2, len(shape)), "resizes", "move the batch axis to the front with `permute`"
    )
    out: list[Dim] = list(shape[:2])
    for i in range(n):
        axis = shape[2 + i]
        assert axis.size is not None
        v = values[i]
        new = _int(v) if size is not None else _scaled(axis.size, v)
        if new < 1:
            raise ctx.rep.fatal(
                "too-short",
                f"`{ctx.name}` scales the {axis.size} positions of axis {2 + i} by {show(v)} to "
                f"{new}: the {axis.label} shrinks to zero here",
                layer.arg_span(param),
                notes=_origin_note(axis),
                help="use a longer input or a larger scale_factor",
            )
        out.append(_new_dim(ctx, new, axis))
    return layer, tuple(out)


def rule_adaptive2d(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) not in (3, 4):
        raise _rank_error(ctx, layer, "4-D (batch, channels, height, width)", shape)
    rank = len(shape)
    _batch_off(
        ctx, shape, range(rank - 2, rank), "pools", "put the batch before the pooled axes"
    )
    sizes = _tuple(layer.get("output_size"), 2)
    return layer, (
        *shape[:-2],
        _new_dim(ctx, sizes[0], shape[-2]),
        _new_dim(ctx, sizes[1], shape[-1]),
    )


def rule_constantpad(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    n = 1 if layer.kind == "constantpad1d" else 2
    if len(shape) < n:
        raise _rank_error(ctx, layer, f"at least {n}-D", shape)
    rank = len(shape)
    pads = _tuple(layer.get("padding"), 2 * n)  # (left, right[, top, bottom])
    out = list(shape)
    for i in range(n):
        axis_index = rank - 1 - i  # left/right pad the last axis, top/bottom the one before
        axis = shape[axis_index]
        added = pads[2 * i] + pads[2 * i + 1]
        if axis.size is None:
            if added:  # padding the batch axis by nothing is harmless
                _batch_off(
                    ctx, shape, (axis_index,), "pads", "put the batch before the padded axes"
                )
            continue
        out[axis_index] = _new_dim(ctx, axis.size + added, axis)
    _keep_channels_last_3d(ctx, shape, tuple(out))
    if not any(pads):
        ctx.out_layout = ctx.layout  # F.pad by nothing copies its input, strides and all
    return layer, tuple(out)


def crop_bounds(layer: ir.Layer) -> tuple[int, int]:
    """(left, right) of a checked crop."""
    return _int(layer.get("left") or 0), _int(layer.get("right") or 0)


def rule_crop(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) < 2:
        raise _rank_error(ctx, layer, "(batch, ..., length)", shape)
    axis = shape[-1]
    left, right, to = layer.get("left"), layer.get("right"), layer.get("to")
    if axis.size is None and (to is not None or left or right):  # crop(0) keeps every sample
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` crops the last axis, which holds the batch: it would drop samples",
            shape,
            help="put the positions on the last axis: (batch, channels, length)",
        )
    if axis.size is None:
        return layer.with_arg("left", 0).with_arg("right", 0), shape
    if to is not None:
        # (the left and right this rule derives from `to` are not written: a block's crop is
        # checked again where the block is reused)
        if {"left", "right"} & layer.explicit:
            raise ctx.rep.fatal(
                "bad-value",
                f"`{ctx.name}`: write either `to` or the positions to drop, not both",
                layer.arg_span("to"),
            )
        assert isinstance(to, int)
        if to > axis.size:
            raise ctx.rep.fatal(
                "too-short",
                f"`{ctx.name}` crops to {to} positions, but its input has only {axis.size}",
                layer.arg_span("to"),
                notes=_origin_note(axis),
                help=f"use a longer input, or crop to at most {axis.size}",
            )
        lo = (axis.size - to) // 2
        hi = axis.size - to - lo
        layer = replace(
            layer.with_arg("left", lo).with_arg("right", hi),
            comment=f"to {to}: left = ({axis.size} - {to}) // 2 = {lo}, right = {hi}",
        )
    elif left is None:
        raise ctx.rep.fatal(
            "missing-argument",
            f"`{ctx.name}` needs the positions to drop, or `to`",
            layer.span,
            help="write crop(n), crop(left, right) or crop(to = T)",
        )
    elif right is None:
        layer = layer.with_arg("right", left)
    lo, hi = crop_bounds(layer)
    size = axis.size - lo - hi
    if size < 1:
        raise ctx.rep.fatal(
            "too-short",
            f"`{ctx.name}` drops {lo} + {hi} positions of its input of {axis.size}: the "
            f"{axis.label} shrinks to {max(size, 0)} here (it needs at least {lo + hi + 1})",
            ctx.span,
            notes=_origin_note(axis),
            help="use a longer input, or crop less",
        )
    if ctx.layout is not None:
        # Slicing makes a view: the strides of the uncropped input.
        ctx.out_layout = Layout(
            ctx.layout.strides,
            ctx.span,
            "crop slices its input: its output is a view with the strides of the uncropped input",
        )
    return layer, (*shape[:-1], _new_dim(ctx, size, axis))


def rule_flip(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    _dims_of(ctx, layer, "dims", shape, "reverses the order")
    return layer, shape


def rule_reduce(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    what = {"mean": "averages", "sum": "sums", "max": "takes the maximum"}[layer.kind]
    dims = _dims_of(ctx, layer, "dim", shape, what)
    if layer.get("keepdim"):
        return layer, tuple(
            _new_dim(ctx, 1, d) if i in dims else d for i, d in enumerate(shape)
        )
    return layer, tuple(d for i, d in enumerate(shape) if i not in dims)


def _attention_input(layer: ir.Layer, shape: Shape, ctx: Ctx, size: str, heads: str) -> ir.Layer:
    from ..ir.layers import ALWAYS_EMITTED

    if not layer.get("batch_first"):
        raise ctx.rep.fatal(
            "bad-value",
            f"`{ctx.name}` with batch_first=false takes (length, batch, features), but archc keeps "
            "the batch on axis 0",
            layer.arg_span("batch_first"),
            help="write batch_first = true (the default in archc) and give it (batch, length, features)",
        )
    if len(shape) != 3:
        raise _rank_error(ctx, layer, "3-D (batch, length, features)", shape)
    _batch_at_0(ctx, shape, "attend")
    layer = _expect_size(ctx, layer, size, shape[2], "features")
    width = _int(layer.get(size))
    count = _int(layer.get(heads))
    if width % count:
        raise ctx.rep.fatal(
            "bad-size",
            f"`{ctx.name}`: {count} heads must divide the {width} features ({size})",
            layer.arg_span(heads),
            notes=_origin_note(shape[2]),
            help="use a number of heads that divides the features",
        )
    return replace(layer, explicit=layer.explicit | ALWAYS_EMITTED.get(layer.kind, frozenset()))


def rule_mha(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    layer = _attention_input(layer, shape, ctx, "embed_dim", "num_heads")
    n, _, features = _sizes(shape)
    # In training mode nn.MultiheadAttention computes (length, batch, features) and returns it
    # transposed (the eval fast path returns a contiguous tensor): the worst case stands.
    ctx.out_layout = Layout(
        (features, n * features, 1),
        ctx.span,
        "nn.MultiheadAttention with batch_first=true returns a transposed, non-contiguous output",
    )
    return layer, shape


def rule_tel(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    return _attention_input(layer, shape, ctx, "d_model", "nhead"), shape


RULES.update(
    {
        "gelu": rule_identity,
        "silu": rule_identity,
        "elu": rule_identity,
        "leakyrelu": rule_identity,
        "softplus": rule_identity,
        "identity": rule_identity,
        "layernorm": rule_layernorm,
        "groupnorm": rule_groupnorm,
        "batchnorm3d": rule_batchnorm3d,
        "embedding": rule_embedding,
        "convtranspose1d": rule_convtranspose,
        "convtranspose2d": rule_convtranspose,
        "upsample": rule_upsample,
        "adaptiveavgpool1d": rule_adaptive,
        "adaptiveavgpool2d": rule_adaptive2d,
        "adaptivemaxpool2d": rule_adaptive2d,
        "global_avg_pool": rule_global_pool,
        "constantpad1d": rule_constantpad,
        "constantpad2d": rule_constantpad,
        "crop": rule_crop,
        "flip": rule_flip,
        "mean": rule_reduce,
        "sum": rule_reduce,
        "max": rule_reduce,
        "multiheadattention": rule_mha,
        "transformerencoderlayer": rule_tel,
    }
)



# Second batch (layers branch): exp, squeeze, unsqueeze, repeat, more activations and the
# channel dropouts. Their torch facts (checked against torch 2.13) are in the rules.


def _call(layer: ir.Layer, values: tuple[Any, ...]) -> str:
    return f"{layer.kind}({', '.join(show(v) for v in values)})"


def rule_unsqueeze(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    """x.unsqueeze(dim): dim in [-(rank + 1), rank]; a view whose new axis has the stride
    torch's inferUnsqueezeGeometry gives it (size * stride of the axis it stands before, 1
    at the end)."""
    value = _int(layer.get("dim"))
    rank = len(shape)
    if not -(rank + 1) <= value <= rank:
        raise ctx.rep.fatal(
            "bad-axis",
            f"`{_call(layer, (value,))}`: a {rank}-D input {show_axes(shape)} has no place {value} "
            "for a new axis",
            layer.arg_span("dim"),
            help=f"the new axis goes at 0 to {rank} (or -{rank + 1} to -1), as torch allows",
        )
    d = value % (rank + 1)
    if ctx.layout is not None and len(ctx.layout.strides) == rank:
        sizes, strides = _sizes(shape), ctx.layout.strides
        new = 1 if d >= rank else sizes[d] * strides[d]
        ctx.out_layout = replace(ctx.layout, strides=(*strides[:d], new, *strides[d:]))
    out = (*shape[:d], Dim(1, "unit", f"after {ctx.where}", ctx.span), *shape[d:])
    return layer, _moved_batch(shape, out, ctx)


def rule_squeeze(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    """x.squeeze(dim) drops the named axes of size 1 and keeps the others as they are (no
    error in torch); bare, every size-1 axis. The batch axis has size 1 at batch size 1:
    squeezing it changes the rank with the batch size."""
    value = layer.get("dim")
    rank = len(shape)
    b = _batch_axis(shape)
    named = value is not None
    values = () if value is None else value if isinstance(value, tuple) else (value,)
    call = _call(layer, values) if named else "squeeze"
    dims: list[int] = []
    for written in values:
        v = _int(written)
        if not -rank <= v < rank:
            raise ctx.rep.fatal(
                "bad-axis",
                f"`{call}`: axis {v} does not exist in a {rank}-D input {show_axes(shape)}",
                layer.arg_span("dim"),
                help=f"axes run from 0 to {rank - 1} (or -{rank} to -1)",
            )
        if v % rank in dims:
            raise ctx.rep.fatal(
                "bad-axis",
                f"`{call}`: axis {v % rank} appears twice (PyTorch refuses it)",
                layer.arg_span("dim"),
            )
        dims.append(v % rank)
    if not named:
        dims = list(range(rank))
    if b is not None and b in dims:
        with quiet():  # for the help only
            ones = [i for i, d in enumerate(shape) if d.size is not None and d.size == 1]
        fix = (
            f"name the axes to squeeze: `squeeze({ones[0]})`"
            if len(ones) == 1
            else (
                f"name the axes to squeeze: `squeeze(({', '.join(map(str, ones))}))`"
                if ones
                else "no other axis has size 1 here: leave the squeeze out"
            )
        )
        what = (
            f"squeezes axis {b}, the batch axis"
            if named
            else "without an axis squeezes every axis of size 1, the batch axis too"
        )
        raise ctx.rep.fatal(
            "batch-squeeze",
            f"`{call}` {what}: torch removes the batch when it holds one sample and keeps it "
            "otherwise, so at batch size 1 the steps after it see one axis fewer",
            layer.arg_span("dim") if named else ctx.span,
            label=f"input {show_shape(shape)} {show_axes(shape)}",
            help=fix,
        )
    drop = []
    for i in dims:
        axis = shape[i]
        if axis.size == 1:
            drop.append(i)
        elif named:
            ctx.rep.warning(
                "squeeze-noop",
                f"`{call}` leaves axis {i} as it is: it holds {axis.size} {_pos(axis.label)}, "
                "and torch squeezes only axes of size 1",
                layer.arg_span("dim"),
                notes=_origin_note(axis),
                help="squeeze an axis of size 1, or remove the step",
            )
    if ctx.layout is not None and len(ctx.layout.strides) == rank:
        strides = tuple(s for i, s in enumerate(ctx.layout.strides) if i not in drop)
        ctx.out_layout = replace(ctx.layout, strides=strides)
    return layer, tuple(d for i, d in enumerate(shape) if i not in drop)


def rule_repeat(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    """x.repeat(*sizes): a factor per axis, at least one per axis; extra leading factors
    prepend new axes. The output is a new contiguous tensor."""
    sizes = layer.get("sizes")
    assert isinstance(sizes, tuple)
    call = "repeat(" + ", ".join(str(v) for v in sizes) + ")"
    rank = len(shape)
    for v in sizes:
        if v == "batch" or not isinstance(v, int) or v < 1:
            what = (
                "`batch` is not a repeat factor"
                if v == "batch"
                else f"factor {v} would make an empty tensor (torch returns one)"
                if v == 0
                else f"factor {v} is negative (torch raises)"
            )
            raise ctx.rep.fatal(
                "bad-size",
                f"`{call}`: {what}",
                ctx.span,
                help="each factor is a whole number of copies, at least 1",
            )
    if len(sizes) < rank:
        raise ctx.rep.fatal(
            "wrong-rank",
            f"`{call}` gives {len(sizes)} factor{'s' if len(sizes) != 1 else ''} for a {rank}-D input "
            f"{show_shape(shape)} {show_axes(shape)}: torch needs one per axis",
            ctx.span,
            help=f"write {rank} factors, 1 for an axis to keep as it is",
        )
    extra = len(sizes) - rank
    out: list[Dim] = []
    for k in range(extra):
        with quiet():  # the label only
            label = "unit" if sizes[k] == 1 else "copies"
        out.append(Dim(_int(sizes[k]), label, f"after {ctx.where}", ctx.span))
    for i, axis in enumerate(shape):
        factor = sizes[extra + i]
        if axis.size is None:
            if factor != 1:
                raise _batch_mix(
                    ctx,
                    f"`{call}` repeats the batch axis {factor} times: the output would hold "
                    f"{factor} copies of the batch, and every step after it would take them for "
                    f"a batch of {factor} x N samples",
                    shape,
                    help=f"keep factor 1 for the batch axis (axis {i}); repeat the other axes",
                )
            out.append(axis)
            continue
        with quiet():  # a factor 1 keeps the axis as it is; the size is the same either way
            same = factor == 1
        if same:
            out.append(axis)
            continue
        why = f"{factor} copies x {axis.size} {_pos(axis.label)} after {ctx.where}"
        out.append(Dim(axis.size * _int(factor), axis.label, why, ctx.span, axis.varies))
    result = tuple(out)
    ctx.out_layout = Layout.of(result)
    return layer, _moved_batch(shape, result, ctx)


def rule_hardtanh(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    low, high = layer.get("min_val"), layer.get("max_val")
    assert isinstance(low, (int, float)) and isinstance(high, (int, float))
    if not high > low:
        ctx.rep.error(
            "bad-value",
            f"`{ctx.name}`: max_val ({show(high)}) must be greater than min_val ({show(low)}): "
            "nn.Hardtanh refuses it (F.hardtanh too when min_val is the greater)",
            layer.arg_span("max_val" if "max_val" in layer.explicit else "min_val"),
            help="write min_val < max_val",
        )
    return layer, shape


def rule_celu(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if layer.get("alpha") == 0:
        ctx.rep.error(
            "bad-value",
            f"`{ctx.name}`: alpha cannot be 0 (torch raises ZeroDivisionError: celu divides by it)",
            layer.arg_span("alpha"),
            help="use a nonzero alpha (1.0 by default)",
        )
    return layer, shape


def rule_channel_dropout(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    """nn.Dropout1d takes (C, L) unbatched or (N, C, L), any other rank raises; nn.Dropout2d
    runs any rank of 2 or more with a warning unless 4-D (a 1-D input raises in training).
    Both draw one mask per index of axes 0 and 1 and share it along the axes after them; a
    2-D input to Dropout1d is one unbatched sample: its axis 0 is the channels."""
    rank = len(shape)
    b = _batch_axis(shape)
    if layer.kind == "dropout1d":
        if rank not in (2, 3):
            raise _rank_error(
                ctx,
                layer,
                "3-D (batch, channels, length)",
                shape,
                help="dropout1d takes (batch, channels, length); use dropout2d for 4-D input, "
                "dropout for any other",
            )
        if rank == 2 and b is not None:
            role = (
                "its channels: in training it zeroes whole samples of the batch instead of channels"
                if b == 0
                else "its length: in training each channel is zeroed for every sample of the "
                "batch at once"
            )
            raise _batch_mix(
                ctx,
                f"`{ctx.name}` takes a 2-D input for one unbatched sample (channels, length), so "
                f"axis {b}, the batch, would be {role}",
                shape,
                help="use `dropout` on (batch, features), or give dropout1d (batch, channels, "
                "length)",
            )
    else:
        if rank < 2:
            raise _rank_error(
                ctx,
                layer,
                "4-D (batch, channels, height, width)",
                shape,
                help="torch raises in training: feature dropout requires at least 2 dimensions",
            )
        if rank != 4:
            what = {
                2: "torch warns and drops single values, as `dropout` does",
                3: "torch warns and takes it for (batch, channels, length): it zeroes whole "
                "channels, as `dropout1d` does",
            }.get(rank, "torch warns (dropout2d is meant for 4-D input) and zeroes whole channels of axis 1")
            ctx.rep.warning(
                "dropout-rank",
                f"`{ctx.name}` gets a {rank}-D input {show_axes(shape)}: {what}",
                ctx.span,
                help={2: "use `dropout`", 3: "use `dropout1d`"}.get(
                    rank, "use dropout2d on 4-D input"
                ),
            )
    if b is not None and b >= 2:
        raise _batch_mix(
            ctx,
            f"`{ctx.name}` draws one mask per index of axes 0 and 1 and shares it along the axes "
            f"after them, but axis {b} holds the batch: in training the same channels would be "
            "zeroed in every sample of the batch",
            shape,
            help="move the batch axis to the front with `permute` before this step",
        )
    return layer, shape


RULES.update(
    {
        "exp": rule_identity,
        "log": rule_identity,
        "scale": rule_identity,
        "shift": rule_identity,
        "divide": rule_divide,
        "unsqueeze": rule_unsqueeze,
        "squeeze": rule_squeeze,
        "repeat": rule_repeat,
        "selu": rule_identity,
        "celu": rule_celu,
        "relu6": rule_identity,
        "hardtanh": rule_hardtanh,
        "mish": rule_identity,
        "softsign": rule_identity,
        "logsigmoid": rule_identity,
        "hardswish": rule_identity,
        "hardsigmoid": rule_identity,
        "dropout1d": rule_channel_dropout,
        "dropout2d": rule_channel_dropout,
    }
)

# ------------------------------------------------------------------ end of added layers


# Layers whose output keeps the input's memory order (checked against torch 2.13): the
# elementwise ones make a dense tensor in that order, in-place ReLU and eval-mode dropout
# return the input itself (the worst case for a later view, so it stands for both modes).
_SAME_TENSOR = frozenset({"dropout"})
_DENSE_ORDER = frozenset({"sigmoid", "tanh"})
# 1-D pools torch runs as 2-D ones on (N, C, 1, L): their output is channels-last when that
# view of the input is, else contiguous (checked against torch 2.13 over every axis order).
_POOL_AS_2D = frozenset({"avgpool1d", "adaptivemaxpool1d", "adaptiveavgpool1d"})
_KEEP_CHANNELS_LAST = frozenset({"conv2d", "batchnorm2d", "maxpool2d", "avgpool2d"})
# Added layers (layers branch): elementwise ones and flip keep the memory order, identity
# returns its input, and the 4-D ones below keep a channels-last input channels-last.
_SAME_TENSOR = _SAME_TENSOR | {"identity"}
_DENSE_ORDER = _DENSE_ORDER | {"gelu", "silu", "elu", "leakyrelu", "softplus", "flip"}
_KEEP_CHANNELS_LAST = _KEEP_CHANNELS_LAST | {
    "convtranspose2d", "groupnorm", "upsample", "adaptiveavgpool2d", "adaptivemaxpool2d", "constantpad1d",
    "constantpad2d",
}
# Second batch: exp and the activations are elementwise, but logsigmoid (log_sigmoid_forward)
# returns a new contiguous tensor whatever its input's order; the channel dropouts return
# their input in eval mode (in training `input * mask`, a dense tensor in the input's order:
# the input itself is the worst case for a later view). In-place activations return the input.
_DENSE_ORDER = _DENSE_ORDER | {
    "exp", "log", "scale", "shift", "divide", "selu", "celu", "relu6", "hardtanh", "mish", "softsign",
    "hardswish", "hardsigmoid",
}
_SAME_TENSOR = _SAME_TENSOR | {"dropout1d", "dropout2d"}


def _same_size(a: int | None, b: int | None) -> bool:
    """Equal sizes, and equal in the parameters where they follow them."""
    if a is None or b is None or a != b:
        return a is None and b is None
    if isinstance(a, SymInt) or isinstance(b, SymInt):
        return isinstance(a, SymInt) and isinstance(b, SymInt) and (a.local, a.root) == (b.local, b.root)
    return True


def _count_follows(op: ir.Loop, merged: Shape, dim: int | None, outputs: list[Shape]) -> Shape:
    """A gather loop's joined axis in terms of its range(): `cat` of `n` iterations of 4
    channels is `4 * n` channels, `stack` of them `n` (so the generic class follows `n`);
    iterations of different sizes, or a range with a step, leave the number as it is."""
    bounds = op.bounds
    if dim is None or not bounds or (len(bounds) == 3 and bounds[2] != 1):
        return merged
    count: int = bounds[0] if len(bounds) == 1 else bounds[1] - bounds[0]  # type: ignore[operator,assignment]
    if not isinstance(count, SymInt):
        return merged
    assert op.merge is not None
    if op.merge.kind == "stack":
        size: int = count
    else:
        sizes = [out[dim].size for out in outputs]
        first = sizes[0]
        if first is None or not all(_same_size(first, s) for s in sizes):
            return merged
        size = first * count
    return (*merged[:dim], replace(merged[dim], size=size), *merged[dim + 1 :])


def next_layout(layer: ir.Layer, shape: Shape, out: Shape, layout: Layout, span: Span) -> Layout:
    """The memory layout of a layer's output, as torch makes it."""
    kind = layer.kind
    ins, outs = _sizes(shape), _sizes(out)
    if kind in _SAME_TENSOR or layer.get("inplace") is True:
        return layout
    if kind in _DENSE_ORDER or kind == "relu":
        return replace(layout, strides=dense_like(outs, layout.strides))
    if kind in _POOL_AS_2D and len(ins) == 3 and len(layout.strides) == 3:
        n, c, length = ins
        s_n, s_c, s_l = layout.strides
        if channels_last((n, c, 1, length), (s_n, s_c, length * s_l, s_l)):
            a, b, _, d = channels_last_strides((outs[0], outs[1], 1, outs[2]))
            return replace(layout, strides=(a, b, d))
        return Layout.of(out)
    if kind == "global_max_pool":  # x.amax(dim=-1): a new tensor in the input's order
        return replace(layout, strides=dense_like(outs, layout.strides[:-1]))
    if kind in _KEEP_CHANNELS_LAST and channels_last(ins, layout.strides):
        return replace(layout, strides=channels_last_strides(outs))
    if kind in ("lstm", "gru") and layer.get("batch_first"):
        # nn.LSTM and nn.GRU compute (length, batch, features) and return it transposed.
        n, _, features = outs
        return Layout(
            (features, n * features, 1),
            span,
            "nn.LSTM with batch_first=true returns a transposed, non-contiguous output",
        )
    # Convolutions, maxpool1d, batchnorm1d, linear, softmax, contiguous, LSTM: a new
    # contiguous tensor.
    return Layout.of(out)


# ------------------------------------------------------------------ classes


@dataclass
class _ClassState:
    cls: ir.ClassDef
    filled: dict[str, ir.ModuleExpr] = field(default_factory=dict)
    out_shapes: dict[str, Shape] = field(default_factory=dict)
    # Named tensors: their shapes and memory layouts, and where each was named.
    tensors: dict[str, tuple[Shape, Layout]] = field(default_factory=dict)


class ShapeChecker:
    """Walks forward steps from the input shape, filling sizes and checking them."""

    def __init__(self, reporter: Reporter) -> None:
        self.rep = reporter
        self.layout = Layout(())
        self.seq_depth = 0  # nesting of the nn.Sequential being checked
        # Per block: input sizes some instance takes as constructor arguments, and those
        # every instance must take so that one class serves them all (see check()).
        self.took: defaultdict[str, set[str]] = defaultdict(set)
        self.matched: defaultdict[str, set[str]] = defaultdict(set)
        self.separate: dict[str, set[str]] = {}

    def check(self, arch: ir.Architecture) -> ir.Architecture | None:
        """The checked architecture, or None when a shape error was found."""
        if not arch.input_shape:
            return None
        start = len(self.rep.items)
        self.took, self.matched, self.separate = defaultdict(set), defaultdict(set), {}  # per architecture
        checked = self.check_once(arch)
        mixed = {k: self.took[k] & v for k, v in self.matched.items() if self.took[k] & v}
        if mixed:
            # Some instances of a block take an input size as an argument and others name it
            # by a parameter: check again with it an argument in all, so they share one class.
            self.separate = {k: set(v) for k, v in mixed.items()}
            del self.rep.items[start:]
            checked = self.check_once(arch)
        return checked

    def check_once(self, arch: ir.Architecture) -> ir.Architecture | None:
        before = sum(d.is_error for d in self.rep.items)
        self.layout = Layout.of(arch.input_shape)
        extra = {name: shape for name, shape, _ in arch.extra_inputs}
        try:
            cls = self.check_class(arch.cls, arch.input_shape, top=True, extra=extra)
        except (CompileError, _Stop):
            return None
        if sum(d.is_error for d in self.rep.items) > before:
            return None
        return replace(arch, cls=cls)

    def check_class(
        self, cls: ir.ClassDef, shape: Shape, top: bool = False, extra: dict[str, Shape] | None = None
    ) -> ir.ClassDef:
        state = _ClassState(cls)
        in_shape = shape
        if cls.inputs:
            state.tensors[cls.inputs[0]] = (shape, self.layout)
        for name, extra_shape in (extra or {}).items():
            state.tensors[name] = (extra_shape, Layout.of(extra_shape))
        ops, shape = self.ops(cls.forward, shape, state, top)
        out_shapes: tuple[Shape, ...] = ()
        if cls.outputs:
            out_shapes = tuple(state.tensors[name][0] for name in cls.outputs)
            shape = out_shapes[0]
            if len(cls.outputs) == 1:
                self.layout = state.tensors[cls.outputs[0]][1]
        attrs = []
        for attr in cls.attrs:
            module = state.filled.get(attr.name)
            if module is None:
                module = self.unused(attr, state)
            attrs.append(replace(attr, module=module))
        return replace(
            cls,
            attrs=tuple(attrs),
            forward=tuple(ops),
            in_shape=in_shape,
            out_shape=shape,
            out_shapes=out_shapes or (shape,),
        )

    def unused(self, attr: ir.Attr, state: _ClassState) -> ir.ModuleExpr:
        self.rep.warning(
            "unused-layer",
            f"layer `{attr.name}` is defined but never used in forward",
            attr.span,
            help="remove it, or use it in a step",
        )
        module = attr.module
        if isinstance(module, ir.Layer):
            spec = lookup(module.kind)
            if spec is not None and spec.size_in and module.get(spec.size_in) is None:
                raise self.rep.fatal(
                    "unused-layer",
                    f"the input size of unused layer `{attr.name}` cannot be inferred",
                    attr.span,
                    help=f"write its input size ({spec.size_in}) or use the layer",
                )
            return module
        raise self.rep.fatal(
            "unused-layer",
            f"the sizes of unused module `{attr.name}` cannot be inferred",
            attr.span,
            help="use it in a step, or remove it",
        )

    def ops(
        self, ops: tuple[ir.Op, ...], shape: Shape, state: _ClassState, top: bool
    ) -> tuple[list[ir.Op], Shape]:
        out: list[ir.Op] = []
        for op in ops:
            if isinstance(op, ir.CallAttr):
                shape = self.call_attr(op.name, shape, state, op.span, op.name, op.index)
                out.append(replace(op, shape=shape))
            elif isinstance(op, ir.Functional):
                ctx = Ctx(self.rep, op.layer.kind, op.span, op.layer.kind)
                layer, shape = self.layer(op.layer, shape, ctx)
                out.append(replace(op, layer=layer, shape=shape))
            elif isinstance(op, ir.Load):
                shape, self.layout = state.tensors[op.name]
                out.append(replace(op, shape=shape))
            elif isinstance(op, ir.Store):
                state.tensors[op.name] = (shape, self.layout)
                out.append(replace(op, shape=shape))
            elif isinstance(op, ir.Merge):
                shape, dim = self.merge(op, shape, state)
                self.layout = Layout.of(shape)
                out.append(replace(op, shape=shape, dim=dim))
            elif isinstance(op, ir.Loop) and op.merge is not None:
                out.append(self.gather(op, shape, state, top))
                shape = out[-1].shape
            elif isinstance(op, ir.Loop):
                iterations = []
                for index, iteration in zip(op.indices, op.iterations, strict=True):
                    checked, shape = self.ops(iteration, shape, state, top)
                    iterations.append(tuple(checked))
                    # What the next iteration receives was made with this index: its sizes
                    # say so by number (`f * (i + 1)` leaves iteration 0 as `f`), not by `i`.
                    shape = _at_index(shape, op.var, index)
                out.append(replace(op, iterations=tuple(iterations), shape=shape))
            else:
                before = shape
                saved = self.layout
                body, after = self.ops(op.body, shape, state, top)
                body_layout = self.layout
                skip = before
                shortcut: list[ir.Op] = []
                if op.shortcut:
                    self.layout = saved
                    filled = tuple(self.crop_to(o, after) for o in op.shortcut)
                    shortcut, skip = self.ops(filled, before, state, top)
                    self.layout = body_layout
                shape = self.residual_add(op, body, skip, after, state)
                # x + identity: a new tensor in the body output's memory order.
                self.layout = (
                    Layout(dense_like(_sizes(shape), self.layout.strides))
                    if len(self.layout.strides) == len(shape) and after == shape
                    else Layout.of(shape)
                )
                out.append(replace(op, body=tuple(body), shape=shape, shortcut=tuple(shortcut)))
        return out, shape

    def crop_to(self, op: ir.Op, body: Shape) -> ir.Op:
        """A bare `crop` in a shortcut crops to the length of the residual's body."""
        if (
            isinstance(op, ir.Functional)
            and op.layer.kind == "crop"
            and all(v is None for _, v in op.layer.args)
            and body
        ):
            size = body[-1].size
            layer = op.layer.with_arg("to", size)
            return replace(op, layer=replace(layer, explicit=frozenset({"to"})))
        return op

    def gather(self, op: ir.Loop, shape: Shape, state: _ClassState, top: bool) -> ir.Loop:
        """`cat(for ...)`: every iteration from the loop's input, their outputs merged."""
        assert op.merge is not None
        entry_layout = self.layout
        iterations = []
        outputs: list[Shape] = []
        for index, iteration in zip(op.indices, op.iterations, strict=True):
            self.layout = entry_layout
            checked, out = self.ops(iteration, shape, state, top)
            iterations.append(tuple(checked))
            outputs.append(_at_index(out, op.var, index))
        names = [f"iteration {op.var} = {index}" for index in op.indices]
        spans = [op.span] * len(outputs)
        merged, dim = self.merge_shapes(op.merge, outputs, names, spans, same_shape=True)
        merged = _count_follows(op, merged, dim, outputs)
        self.layout = Layout.of(merged)
        merge = replace(op.merge, shape=merged, dim=dim)
        return replace(op, iterations=tuple(iterations), shape=merged, merge=merge)

    def merge(self, op: ir.Merge, current: Shape, state: _ClassState) -> tuple[Shape, int | None]:
        """The shape of a merge of named tensors and the index of the axis it joins on;
        every operand is checked against the first."""
        shapes = [current if name == "" else state.tensors[name][0] for name in op.operands]
        names = ["the current tensor" if name == "" else f"`{name}`" for name in op.operands]
        return self.merge_shapes(op, shapes, names, list(op.operand_spans))

    def merge_shapes(
        self,
        op: ir.Merge,
        shapes: list[Shape],
        names: list[str],
        spans: list[Span],
        same_shape: bool = False,
    ) -> tuple[Shape, int | None]:
        """The shape of merging these shapes (named and located for diagnostics); with
        `same_shape`, element-wise merges do not broadcast (a loop's outputs are stacked)."""

        def mismatch(message: str, axis: int | None, help: str) -> CompileError:
            notes = []
            for name, sh, span in zip(names, shapes, spans, strict=True):
                dim = sh[axis] if axis is not None and -len(sh) <= axis < len(sh) else None
                if dim is not None and dim.size is None:
                    dim = None  # the batch axis: the operand itself says more
                where = dim.origin if dim is not None and dim.origin is not None else span
                what = (
                    f"{name} is {show_shape(sh)} {show_axes(sh)}"
                    + (f": {dim.show()} {dim.label} set here" if dim is not None and dim.size else "")
                )
                notes.append(Note(what, where))
            return self.rep.fatal(
                "merge-mismatch", message, op.span, label=f"`{op.kind}` is here", notes=notes, help=help
            )

        if op.kind == "matmul":
            return self.matmul(op, shapes, names, mismatch), None
        if op.kind in ("cat", "stack"):
            first = shapes[0]
            rank = len(first)
            for sh in shapes[1:]:
                if len(sh) != rank:
                    raise mismatch(
                        f"`{op.kind}` joins tensors of {rank} and {len(sh)} axes",
                        None,
                        f"every tensor {'joined' if op.kind == 'cat' else 'stacked'} by "
                        f"`{op.kind}` has the same axes",
                    )
            axis = self.merge_axis(op, first, rank + (op.kind == "stack"), tuple(shapes[1:]))
            batch = _batch_axis(first)
            if op.kind == "stack":
                for index, sh in enumerate(shapes[1:], 1):
                    for k, (a, b) in enumerate(zip(first, sh, strict=True)):
                        if a.size != b.size:
                            raise mismatch(
                                f"`stack` needs equal shapes: {names[0]} is {show_shape(first)} and "
                                f"{names[index]} is {show_shape(sh)}",
                                k,
                                "stack tensors of one shape, or use `cat` to join along an axis",
                            )
                if batch is not None and axis <= batch:
                    raise self.rep.fatal(
                        "batch-mix",
                        "`stack` at this axis puts the new axis before the batch axis",
                        op.span,
                        help=f"stack after the batch axis: dim = {batch + 1} or later",
                    )
                new = Dim(len(shapes), "stack", f"{len(shapes)} stacked tensors", op.span)
                return (*first[:axis], new, *first[axis:]), axis
            if axis == batch:
                raise self.rep.fatal(
                    "batch-mix",
                    "`cat` along the batch axis joins samples, not features",
                    op.span,
                    help="join along another axis, such as `axis = channels`",
                )
            for index, sh in enumerate(shapes[1:], 1):
                for k, (a, b) in enumerate(zip(first, sh, strict=True)):
                    if k != axis and a.size != b.size:
                        raise mismatch(
                            f"`cat` joins on {first[axis].label}, but the {a.label} differs: "
                            f"{a.show()} in {names[0]} and {b.show()} in {names[index]}",
                            k,
                            "every axis but the joined one must have one size; check what "
                            f"sets the {a.label}",
                        )
            total = sum(sh[axis].size or 0 for sh in shapes)
            parts = " + ".join(str(sh[axis].size) for sh in shapes)
            joined = Dim(total, first[axis].label, f"{parts} {first[axis].label} joined by cat", op.span)
            return (*first[:axis], joined, *first[axis + 1 :]), axis
        result: Shape | None = shapes[0]
        for index, sh in enumerate(shapes[1:], 1):
            assert result is not None
            if same_shape and _sizes(sh) != _sizes(result):
                bad = next(
                    (-k for k in range(1, min(len(result), len(sh)) + 1) if result[-k].size != sh[-k].size),
                    None,
                )
                raise mismatch(
                    f"`{op.kind}` of a loop needs one shape from every iteration: {names[0]} gives "
                    f"{show_shape(shapes[0])} and {names[index]} gives {show_shape(sh)}",
                    bad,
                    "every iteration must give one shape; check the step that sets the size that differs",
                )
            combined = broadcast(result, sh)
            if combined is None:
                bad = next(
                    (
                        -k
                        for k in range(1, min(len(result), len(sh)) + 1)
                        if result[-k].size != sh[-k].size and 1 not in (result[-k].size, sh[-k].size)
                    ),
                    None,
                )
                raise mismatch(
                    f"`{op.kind}` needs shapes that match or broadcast: {names[0]} is "
                    f"{show_shape(shapes[0])} and {names[index]} is {show_shape(sh)}",
                    bad,
                    "the tensors must have one shape; check the step that sets the size that differs",
                )
            result = combined
        assert result is not None
        if sum(d.size is None for d in result) > 1:
            raise self.rep.fatal(
                "batch-mix",
                f"`{op.kind}` lines up the batch axis of one tensor with another axis of the other",
                op.span,
                help="merge tensors whose batch axes line up",
            )
        if any(_sizes(sh) != _sizes(result) for sh in shapes):
            self.rep.warning(
                "merge-broadcast",
                f"`{op.kind}` broadcasts "
                + " and ".join(show_shape(sh) for sh in shapes)
                + f" to {show_shape(result)}",
                op.span,
                help="a broadcast merge is rarely meant; check the shapes of the branches",
            )
        return result, None

    def matmul(
        self,
        op: ir.Merge,
        shapes: list[Shape],
        names: list[str],
        mismatch: Callable[[str, int | None, str], CompileError],
    ) -> Shape:
        """torch.matmul of two tensors: the last two axes are matrices, the axes before them
        broadcast; the batch must be one of those, at one place in both."""
        a, b = shapes
        for sh, name in zip(shapes, names, strict=True):
            batch = _batch_axis(sh)
            if batch is not None and batch >= len(sh) - 2:
                raise self.rep.fatal(
                    "batch-mix",
                    f"`matmul` multiplies {name} {show_shape(sh)} {show_axes(sh)} as matrices of its last "
                    "two axes, and one of them is the batch: it would mix the samples",
                    op.span,
                    help="keep the batch axis before the last two axes (a tensor of 3 or more axes), e.g. "
                    "(batch, length, features) with `transpose(1, 2)` for the other operand",
                )
        if a[-1].size != b[-2].size:
            raise mismatch(
                f"`matmul` needs the last axis of {names[0]} ({a[-1].show()} {a[-1].label}) to equal the "
                f"second-to-last of {names[1]} ({b[-2].show()} {b[-2].label})",
                None,
                "transpose one operand (`transpose(1, 2)`), or check the sizes that differ",
            )
        lead = broadcast(a[:-2], b[:-2])
        if lead is None or sum(d.size is None for d in lead) != 1:
            raise self.rep.fatal(
                "batch-mix" if lead is not None else "merge-mismatch",
                f"`matmul` cannot line up the axes before the matrices of {names[0]} {show_shape(a)} and "
                f"{names[1]} {show_shape(b)}"
                + (": their batch axes are at different places" if lead else ""),
                op.span,
                help="give both tensors the same axes before their last two",
            )
        return (*lead, a[-2], b[-1])

    def merge_axis(
        self, op: ir.Merge, shape: Shape, rank: int, others: tuple[Shape, ...] = ()
    ) -> int:
        if isinstance(op.dim, str):
            # The first operand that has an axis of that name says which axis it is.
            for candidate in (shape, *others):
                for k, d in enumerate(candidate):
                    if d.label == op.dim:
                        return k
            raise self.rep.fatal(
                "bad-axis",
                f"`{op.kind}` joins on `{op.dim}`, but the tensors have no axis of that name",
                op.span,
                help=f"their axes are {show_axes(shape)}",
            )
        assert op.dim is not None
        axis = op.dim + rank if op.dim < 0 else op.dim
        if not 0 <= axis < rank:
            raise self.rep.fatal(
                "bad-axis",
                f"`{op.kind}` at dim {op.dim}: the tensors have {len(shape)} axes",
                op.span,
                help=f"dim is from {-rank} to {rank - 1}",
            )
        return axis

    def residual_add(
        self, op: ir.Residual, body: list[ir.Op], before: Shape, after: Shape, state: _ClassState
    ) -> Shape:
        """The shape of `body(x) + x` (or `+ shortcut(x)`), by torch's broadcasting; a
        mismatch is reported."""
        result = broadcast(after, before)
        skip = "shortcut's output" if op.has_shortcut else "input"

        def where() -> dict[str, Any]:
            """What every residual diagnostic shows: the body's shape, and the step where
            the shape changes (found only when there is something to report)."""
            return {
                "label": f"body gives {show_shape(after)} {show_axes(after)}",
                "notes": [Note("the shape changes here", self.change_site(body, before, state))],
            }

        if result is not None and sum(d.size is None for d in result) > 1:
            raise self.rep.fatal(
                "batch-mix",
                f"the residual adds a {show_axes(after)} output to its {show_axes(before)} "
                f"{skip}: the batch axes do not line up, so broadcasting pairs every sample with "
                "every other",
                op.span,
                help="the body of a residual must keep the batch axis where it is",
                **where(),
            )
        if result is None:
            self.rep.error(
                "residual-mismatch",
                f"the residual adds a {show_shape(after)} output to its {show_shape(before)} {skip}",
                op.span,
                help=(
                    "the body and the shortcut must give one shape (or ones that broadcast)"
                    if op.has_shortcut
                    else "the body of a residual must keep the shape of its input (or one that "
                    "broadcasts to it); a `shortcut { ... }` can project the input"
                ),
                **where(),
            )
            # Go on with the body's shape, as PyTorch would fail here anyway.
            return after
        sizes = tuple(d.size for d in result)
        if sizes != tuple(d.size for d in after) or sizes != tuple(d.size for d in before):
            self.rep.warning(
                "residual-broadcast",
                f"the residual body gives {show_shape(after)}, which torch broadcasts to "
                f"{show_shape(result)} to add it to its {show_shape(before)} {skip}",
                op.span,
                help="a broadcast add is rarely what a residual means: check the step that "
                "changes the shape",
                **where(),
            )
        if len(result) != len(before):
            return result
        return tuple(
            replace(a, origin=b.origin, why=b.why) if a.size == b.size else a
            for a, b in zip(result, before, strict=True)
        )

    def change_site(self, body: list[ir.Op], before: Shape, state: _ClassState) -> Span:
        """The step of a residual body after which the shape stays different from the input."""
        sizes = tuple(d.size for d in before)
        steps: list[tuple[Span, Shape]] = []
        for op in body:
            module = state.filled.get(op.name) if isinstance(op, ir.CallAttr) else None
            if isinstance(module, ir.Sequential) and len(module.shapes) == len(module.items):
                steps.extend((item.span, sh) for item, sh in zip(module.items, module.shapes, strict=True))
            else:
                steps.append((op.span, op.shape))
        site = steps[-1][0] if steps else body[-1].span
        for span, shape in reversed(steps):
            if tuple(d.size for d in shape) == sizes:
                break
            site = span
        return site

    def call_attr(
        self, name: str, shape: Shape, state: _ClassState, span: Span, where: str, index: int | None = None
    ) -> Shape:
        attr = state.cls.attr(name)
        assert attr is not None, name
        module = state.filled.get(name, attr.module)
        if isinstance(module, ir.ModuleList):
            assert index is not None, name
            shown = module.item_name(name, index)
            ctx = Ctx(self.rep, shown, span, shown if module.keys is not None and where == name else where)
            item, out = self.module(module.items[index], shape, state, ctx)
            items = list(module.items)
            items[index] = item
            state.filled[name] = replace(module, items=tuple(items))
            return out
        checked, out = self.module(module, shape, state, Ctx(self.rep, name, span, where))
        state.filled[name] = checked
        return out

    def module(
        self, module: ir.ModuleExpr, shape: Shape, state: _ClassState, ctx: Ctx
    ) -> tuple[ir.ModuleExpr, Shape]:
        if isinstance(module, ir.Layer):
            return self.layer(module, shape, ctx)
        if isinstance(module, ir.AttrRef):
            out = self.call_attr(module.name, shape, state, module.span, ctx.where)
            return module, out
        if isinstance(module, ir.Sequential):
            items = []
            shapes = []
            self.seq_depth += 1
            try:
                for i, item in enumerate(module.items):
                    item_ctx = Ctx(
                        self.rep,
                        item.name if isinstance(item, ir.AttrRef) else _kind(item, ctx.name),
                        item.span,
                        ctx.where,
                    )
                    # The last module of an outermost seq may return a tuple: the call unpacks it.
                    self.seq_item(item, state, last=i == len(module.items) - 1 and self.seq_depth == 1)
                    checked, shape = self.module(item, shape, state, item_ctx)
                    items.append(checked)
                    shapes.append(shape)
            finally:
                self.seq_depth -= 1
            return replace(module, items=tuple(items), shapes=tuple(shapes)), shape
        if isinstance(module, ir.ModuleList):  # pragma: no cover - the resolver indexes lists
            raise AssertionError("a module list is called through its items")
        local_shape, dim_args, matched = _localize(module, shape, self.separate.get(module.cls.name, set()))
        self.took[module.cls.name] |= {name for name, _ in dim_args}
        self.matched[module.cls.name] |= matched
        depth, self.seq_depth = self.seq_depth, 0  # a block's own seqs are outermost in its forward
        try:
            cls = self.check_class(module.cls, local_shape)
        finally:
            self.seq_depth = depth
        mapping = {name: _local_expr(v) for name, v in (*module.args, *dim_args)}
        out_shape = tuple(_to_caller(d, mapping) for d in cls.out_shape)
        cls = replace(cls, out_shapes=tuple(tuple(_to_caller(d, mapping) for d in o) for o in cls.out_shapes))
        if module.cls.in_shape and _sized(module.cls.in_shape) != _sized(shape):
            # A reused instance called at another shape: keep the first call's sizes and
            # mark it, so the emitter does not print them as the sizes of every call. Where
            # the IR can hold every call's checked class (`calls`), they are kept too.
            return replace(module, varies=True, calls=(*module.calls, cls)), out_shape
        if module.cls.in_shape:
            # Reused at the same sizes: the first call's class stands. Its sizes are named
            # after the first call's axes (`in_length`), which this call may name otherwise.
            return module, out_shape
        return replace(module, cls=cls, dim_args=dim_args), out_shape

    def seq_item(self, item: ir.ModuleExpr, state: _ClassState, last: bool = False) -> None:
        """An nn.Sequential holds modules and passes each one's output on as it is."""
        target = item
        seen: set[str] = set()
        while isinstance(target, ir.AttrRef) and target.name not in seen:
            seen.add(target.name)
            attr = state.cls.attr(target.name)
            if attr is None:
                return
            target = attr.module
        if not isinstance(target, ir.Layer):
            return
        spec = lookup(target.kind)
        if spec is not None and spec.functional_only:
            raise self.rep.fatal(
                "no-module-form",
                f"`{target.kind}` is a tensor operation with no module form: it cannot stand "
                "inside `seq` (nn.Sequential holds modules)",
                item.span,
                help="move it out of the seq, before or after it",
            )
        if target.kind in ("lstm", "gru") and not last:
            states = "(h, c)" if target.kind == "lstm" else "h"
            raise self.rep.fatal(
                "lstm-in-seq",
                f"an `{target.kind}` inside `seq` passes its whole (output, {states}) tuple to the next "
                "step: nn.Sequential does not unpack it",
                item.span,
                help=f"move the {target.kind} out of the seq and name it, or make it the seq's last "
                f"step: archc unpacks `x, _ = self.{target.kind}(x)` where the class calls it",
            )
        if target.kind == "multiheadattention":  # added layers (layers branch)
            raise self.rep.fatal(
                "attention-in-seq",
                "a `multiheadattention` inside `seq` would get one input instead of (query, key, "
                "value) and pass its whole (output, weights) tuple on: nn.Sequential can do neither",
                item.span,
                help="move it out of the seq and name it: at the class level archc calls "
                "`x, _ = self.attn(x, x, x, need_weights=False)`",
            )

    def layer(self, layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
        rule = RULES.get(layer.kind)
        if rule is None:  # pragma: no cover - the catalogue and the rules are kept in step
            raise AssertionError(f"no shape rule for {layer.kind}")
        if len(self.layout.strides) != len(shape):  # pragma: no cover - kept in step below
            self.layout = Layout.of(shape)
        ctx.layout = self.layout
        checked, out = rule(layer, shape, ctx)
        layout = ctx.out_layout or next_layout(checked, shape, out, self.layout, ctx.span)
        if layout.strides == contiguous_strides(_sizes(out)):
            layout = Layout(layout.strides)
        self.layout = layout
        return checked, out


def _local_expr(value: Value) -> Expr:
    if isinstance(value, SymInt):
        return value.local
    return const(value) if isinstance(value, int) and not isinstance(value, bool) else ZERO


def _localize(
    module: ir.BlockRef, shape: Shape, separate: set[str]
) -> tuple[Shape, tuple[tuple[str, Value], ...], set[str]]:
    """The block's input shape in the block's own names: a size equal (for every parameter
    value) to one of its parameters is that parameter; any other is a constructor argument
    of its own (`in_channels`), returned with its value in the caller's terms. Sizes named in
    `separate` are arguments of their own in every instance (one class for all of them)."""
    by_root: dict[str, SymInt] = {}
    for _, value in module.cls.params:
        if isinstance(value, SymInt):
            by_root.setdefault(value.root.key, value)
    taken = {name for name, _ in module.cls.params}
    dims: list[Dim] = []
    extra: list[tuple[str, Value]] = []
    matched: set[str] = set()  # the sizes named by a parameter
    for dim in shape:
        if dim.size is None:
            dims.append(dim)
            continue
        root = dim.size.root if isinstance(dim.size, SymInt) else const(dim.size)
        name = f"in_{dim.label}"
        match = by_root.get(root.key)
        if match is not None and name not in separate:
            dims.append(replace(dim, size=SymInt(plain(dim.size), match.local, root)))
            matched.add(name)
            continue
        n = 2
        while name in taken:
            name, n = f"in_{dim.label}{n}", n + 1
        taken.add(name)
        dims.append(replace(dim, size=SymInt(plain(dim.size), symbol(name), root)))
        extra.append((name, dim.size))
    return tuple(dims), tuple(extra), matched


def _to_caller(dim: Dim, mapping: dict[str, Expr]) -> Dim:
    """A size of a block's output, in the caller's names."""
    if not isinstance(dim.size, SymInt):
        return dim
    return replace(dim, size=SymInt(plain(dim.size), substitute(dim.size.local, mapping), dim.size.root))


def _sized(shape: Shape) -> tuple[int | None, ...]:
    return tuple(d.size for d in shape)


def _kind(item: ir.ModuleExpr, parent: str) -> str:
    if isinstance(item, ir.Layer):
        return f"{parent}: {item.kind}"
    if isinstance(item, ir.BlockRef):
        return f"{parent}: {item.cls.name}"
    return parent


def _at_index(shape: Shape, var: str, index: int) -> Shape:
    """The shape with the loop index `var` in its sizes' expressions replaced by `index`."""
    out = []
    for d in shape:
        size = d.size
        if isinstance(size, SymInt) and var in size.local.symbols():
            size = SymInt(int.__int__(size), substitute(size.local, {var: const(index)}), size.root)
            d = replace(d, size=size)
        out.append(d)
    return tuple(out)
