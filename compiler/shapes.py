"""Static shape inference: IR -> checked IR, with every size derived and every mismatch reported.

One rule per layer kind (`RULES`); an unknown kind is an internal error, never a
pass-through. Rules raise CompileError to stop the path they are on; warnings are
recorded and checking goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from . import ir
from .diagnostics import CompileError, Note, Reporter
from .ir import Dim, Shape, show_axes, show_shape
from .layers import lookup
from .resolve import POISON
from .source import Span
from .values import Value, show


class _Stop(Exception):
    """Checking cannot go on past a step that failed to resolve (already reported)."""


@dataclass
class Ctx:
    """Where a rule runs: the reporter, the step's display name and its span."""

    rep: Reporter
    name: str
    span: Span
    where: str  # the top-level step, for derivations ("after layer3")


def _pos(label: str) -> str:
    return "positions" if label == "length" else label


def _derive(dims: Shape) -> str:
    parts = [f"{d.size} {_pos(d.label)}" for d in dims if d.size not in (None, 1)]
    return " x ".join(parts)


def _tuple(value: Value, n: int) -> tuple[int, ...]:
    if isinstance(value, tuple):
        return tuple(int(v) for v in value)  # type: ignore[arg-type]
    return (int(value),) * n  # type: ignore[arg-type]


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
    if value != dim.size:
        explained = (
            f"{dim.size} = {dim.why}"
            if " x " in dim.why
            else (f"{dim.size} {what} {dim.why}" if dim.why else f"{dim.size} {what}")
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


# ------------------------------------------------------------------ rules


def rule_conv(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    spec = lookup(layer.kind)
    assert spec is not None
    n = spec.spatial
    axes = "(batch, channels, length)" if n == 1 else "(batch, channels, height, width)"
    if len(shape) != n + 2:
        raise _rank_error(ctx, layer, f"{n + 2}-D {axes}", shape)
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
    groups = int(layer.get("groups", 1))  # type: ignore[arg-type]
    out_ch = int(layer.get("out_channels"))  # type: ignore[arg-type]
    in_ch = int(layer.get("in_channels"))  # type: ignore[arg-type]
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
        assert axis.size is not None
        eff = dilation[i] * (kernel[i] - 1) + 1
        if same:
            out.append(replace(axis, why=f"after {ctx.where}", origin=ctx.span))
            continue
        if kernel[i] == 1 and pad[i] > 0:
            ctx.rep.warning(
                "padding-1x1",
                f"`{ctx.name}` pads a kernel of size 1 by {pad[i]} on axis {2 + i}: "
                f"it adds {2 * pad[i]} positions of bias-only output",
                layer.arg_span("padding"),
                help="padding a 1-wide kernel only grows the output; use padding 0 unless this is intended",
            )
        elif pad[i] > (eff - 1) / 2:
            ctx.rep.warning(
                "padding-too-large",
                f"`{ctx.name}` pads by {pad[i]} on axis {2 + i}, more than (kernel - 1) / 2 = "
                f"{(eff - 1) / 2:g}: the output grows by {2 * pad[i] - (eff - 1)} positions",
                layer.arg_span("padding"),
                help=f"for a same-length output use padding {(eff - 1) // 2}",
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
    if len(shape) != n + 2:
        raise _rank_error(ctx, layer, f"{n + 2}-D", shape)
    kernel = _tuple(layer.get("kernel_size"), n)
    stride_value = layer.get("stride")
    stride = kernel if stride_value is None else _tuple(stride_value, n)
    pad = _tuple(layer.get("padding"), n)
    dilation = _tuple(layer.get("dilation", 1), n)
    ceil_mode = bool(layer.get("ceil_mode"))
    out: list[Dim] = [shape[0], shape[1]]
    for i in range(n):
        axis = shape[2 + i]
        assert axis.size is not None
        eff = dilation[i] * (kernel[i] - 1) + 1
        if pad[i] * 2 > kernel[i]:
            raise ctx.rep.fatal(
                "bad-padding",
                f"`{ctx.name}`: padding {pad[i]} is more than half the window {kernel[i]} "
                "(PyTorch refuses it)",
                layer.arg_span("padding"),
            )
        if axis.size + 2 * pad[i] < eff:
            raise _length_error(ctx, layer, axis, eff - 2 * pad[i], f"a pool window of {eff}")
        span_len = axis.size + 2 * pad[i] - eff
        if ceil_mode:
            size = -(-span_len // stride[i]) + 1
            if (size - 1) * stride[i] >= axis.size + pad[i]:
                size -= 1
        else:
            size = span_len // stride[i] + 1
            dropped = span_len % stride[i]
            if dropped and kernel[i] > 1:
                ctx.rep.warning(
                    "pool-drops",
                    f"`{ctx.name}` drops the last {dropped} of {axis.size} positions on axis {2 + i}: "
                    f"the window {kernel[i]} with stride {stride[i]} does not divide them",
                    ctx.span,
                    notes=_origin_note(axis),
                    help="make the input a multiple of the stride, or set ceil_mode=true",
                )
        out.append(Dim(size, axis.label, f"after {ctx.where}", ctx.span, axis.varies))
    return layer, tuple(out)


def rule_adaptive(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) not in (2, 3) or shape[0].size is not None:
        raise _rank_error(ctx, layer, "3-D (batch, channels, length)", shape)
    size = int(layer.get("output_size"))  # type: ignore[arg-type]
    return layer, (*shape[:-1], Dim(size, shape[-1].label, f"after {ctx.where}", ctx.span))


def rule_global_max(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) != 3:
        raise _rank_error(ctx, layer, "3-D (batch, channels, length)", shape)
    return layer, shape[:-1]


def rule_batchnorm(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    ranks = (2, 3) if layer.kind == "batchnorm1d" else (4,)
    if len(shape) not in ranks:
        expected = "2-D or 3-D" if layer.kind == "batchnorm1d" else "4-D"
        raise _rank_error(ctx, layer, expected, shape)
    layer = _expect_size(ctx, layer, "num_features", shape[1], "features")
    return layer, shape


def rule_linear(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) < 2 or shape[-1].size is None:
        raise _rank_error(ctx, layer, "(batch, features)", shape, help="add `flatten` before it")
    written = layer.get("in_features")
    layer = _expect_size(ctx, layer, "in_features", shape[-1], "input features")
    if shape[-1].varies and "in_features" in layer.explicit and written == shape[-1].size:
        ctx.rep.warning(
            "length-pinned",
            f"`{ctx.name}` fixes its input size to {shape[-1].size}, which depends on the input length: "
            "the architecture works only at this length",
            layer.arg_span("in_features"),
            label=f"{shape[-1].size} = {shape[-1].why}" if " x " in shape[-1].why else "",
            help="leave the input size out and archc infers it for every length",
        )
    out = int(layer.get("out_features"))  # type: ignore[arg-type]
    return layer, (*shape[:-1], Dim(out, "features", f"from {ctx.where}", ctx.span))


def rule_lstm(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if len(shape) != 3:
        raise _rank_error(ctx, layer, "3-D", shape)
    batch_first = bool(layer.get("batch_first"))
    batch_axis = 0 if batch_first else 1
    if shape[batch_axis].size is not None:
        expected = "(batch, length, features)" if batch_first else "(length, batch, features)"
        raise ctx.rep.fatal(
            "axis-order",
            f"`{ctx.name}` (batch_first={show(batch_first)}) expects {expected}, but its input is "
            f"{show_axes(shape)}",
            ctx.span,
            help="set batch_first=true" if not batch_first else "permute the batch axis first",
        )
    layer = _expect_size(ctx, layer, "input_size", shape[2], "input features")
    hidden = int(layer.get("hidden_size"))  # type: ignore[arg-type]
    dirs = 2 if layer.get("bidirectional") else 1
    why = f"{dirs} directions x {hidden} hidden units" if dirs == 2 else f"from {ctx.where}"
    return layer, (shape[0], shape[1], Dim(hidden * dirs, "features", why, ctx.span))


def rule_identity(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    if layer.kind in ("softmax", "log_softmax"):
        _axis(ctx, layer, "dim", shape)
    return layer, shape


def _axis(ctx: Ctx, layer: ir.Layer, param: str, shape: Shape) -> int:
    value = int(layer.get(param))  # type: ignore[arg-type]
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
    if any(d.size is None for d in shape[start : end + 1]):
        raise ctx.rep.fatal(
            "bad-axis",
            f"`{ctx.name}` would merge the batch axis into the features",
            ctx.span,
            help="flatten from axis 1: `flatten` or `flatten(1)`",
        )
    merged = _merge(shape[start : end + 1], ctx)
    return layer, (*shape[:start], merged, *shape[end + 1 :])


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
    sizes: list[int | None]
    if n_batch:
        if elements % fixed or (n_infer == 0 and fixed != elements):
            raise _reshape_mismatch(ctx, layer, call, elements, derivation, fixed, shape)
        inferred = elements // fixed
        sizes = [None if t == "batch" else (inferred if t == -1 else int(t)) for t in target]  # type: ignore[arg-type]
    elif n_infer:
        if fixed != elements:
            raise _reshape_mismatch(ctx, layer, call, elements, derivation, fixed, shape)
        sizes = [None if t == -1 else int(t) for t in target]  # type: ignore[arg-type]
    else:
        raise ctx.rep.fatal(
            "reshape-size",
            f"`{call}` fixes every axis, so it only works for one batch size",
            ctx.span,
            help=f"write -1 or `batch` for the batch axis, e.g. {layer.kind}(-1, ...)",
        )
    return layer, _regroup(shape, sizes, ctx, layer, call)


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


def _regroup(shape: Shape, sizes: list[int | None], ctx: Ctx, layer: ir.Layer, call: str) -> Shape:
    """Label the new axes, and warn when a reshape reads one axis order as another."""
    src = [(i, d) for i, d in enumerate(shape) if d.size not in (None, 1)]
    dst = [(j, s) for j, s in enumerate(sizes) if s not in (None, 1)]
    labels: list[str] = ["unit" if s == 1 else "batch" for s in sizes]
    whys: list[str] = ["" for _ in sizes]
    varies: list[bool] = [False for _ in sizes]
    i = j = 0
    while i < len(src) and j < len(dst):
        group_src = [src[i]]
        group_dst = [dst[j]]
        pa = src[i][1].size
        pb = dst[j][1]
        assert pa is not None and pb is not None
        while pa != pb:
            if pa < pb:
                i += 1
                group_src.append(src[i])
                pa *= src[i][1].size  # type: ignore[operator]
            else:
                j += 1
                group_dst.append(dst[j])
                pb *= dst[j][1]
        i += 1
        j += 1
        src_dims = tuple(d for _, d in group_src)
        for jj, _ in group_dst:
            varies[jj] = any(d.varies for d in src_dims)
        if len(group_src) > 1 and len(group_dst) > 1:
            mixed = " and ".join(f"{d.label} ({d.size})" for d in src_dims)
            ctx.rep.warning(
                "axis-mix",
                f"`{call}` mixes the axes {mixed}: it is not a pure merge or split of adjacent axes",
                ctx.span,
                label=f"reads {show_axes(src_dims)} = {tuple(d.size for d in src_dims)} in memory order "
                f"as {tuple(s for _, s in group_dst)}",
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
    return tuple(
        (
            Dim(s, labels[k], whys[k] or f"after {ctx.where}", ctx.span, varies[k])
            if s is not None
            else next((d for d in shape if d.size is None), Dim(None, "batch"))
        )
        for k, s in enumerate(sizes)
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
    return layer, tuple(shape[d] for d in normalized)


def rule_transpose(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    a = _axis(ctx, layer, "dim0", shape)
    b = _axis(ctx, layer, "dim1", shape)
    out = list(shape)
    out[a], out[b] = out[b], out[a]
    return layer, tuple(out)


def rule_select(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    axis = _axis(ctx, layer, "dim", shape)
    index = int(layer.get("index"))  # type: ignore[arg-type]
    size = shape[axis].size
    if size is None:
        raise ctx.rep.fatal(
            "bad-axis", f"`{ctx.name}` cannot select from the batch axis", layer.span
        )
    if not -size <= index < size:
        raise ctx.rep.fatal(
            "bad-axis",
            f"`{ctx.name}`: index {index} is outside an axis of {size}",
            layer.arg_span("index"),
        )
    return layer, shape[:axis] + shape[axis + 1 :]


def rule_poison(layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
    raise _Stop


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
    "global_max_pool": rule_global_max,
    "linear": rule_linear,
    "lstm": rule_lstm,
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


# ------------------------------------------------------------------ classes


@dataclass
class _ClassState:
    cls: ir.ClassDef
    filled: dict[str, ir.ModuleExpr] = field(default_factory=dict)
    out_shapes: dict[str, Shape] = field(default_factory=dict)


class ShapeChecker:
    """Walks forward steps from the input shape, filling sizes and checking them."""

    def __init__(self, reporter: Reporter) -> None:
        self.rep = reporter

    def check(self, arch: ir.Architecture) -> ir.Architecture | None:
        """The checked architecture, or None when a shape error was found."""
        if not arch.input_shape:
            return None
        before = sum(d.is_error for d in self.rep.items)
        try:
            cls = self.check_class(arch.cls, arch.input_shape, top=True)
        except (CompileError, _Stop):
            return None
        if sum(d.is_error for d in self.rep.items) > before:
            return None
        return replace(arch, cls=cls)

    def check_class(self, cls: ir.ClassDef, shape: Shape, top: bool = False) -> ir.ClassDef:
        state = _ClassState(cls)
        in_shape = shape
        ops, shape = self.ops(cls.forward, shape, state, top)
        attrs = []
        for attr in cls.attrs:
            module = state.filled.get(attr.name)
            if module is None:
                module = self.unused(attr, state)
            attrs.append(replace(attr, module=module))
        return replace(
            cls, attrs=tuple(attrs), forward=tuple(ops), in_shape=in_shape, out_shape=shape
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
                shape = self.call_attr(op.name, shape, state, op.span, op.name)
                out.append(replace(op, shape=shape))
            elif isinstance(op, ir.Functional):
                ctx = Ctx(self.rep, op.layer.kind, op.span, op.layer.kind)
                layer, shape = self.layer(op.layer, shape, ctx)
                out.append(replace(op, layer=layer, shape=shape))
            else:
                before = shape
                body, after = self.ops(op.body, shape, state, top)
                if tuple(d.size for d in after) != tuple(d.size for d in before):
                    changed = next(
                        (a for a, b in zip(after, before, strict=False) if a.size != b.size),
                        after[-1] if after else None,
                    )
                    self.rep.error(
                        "residual-mismatch",
                        f"the residual adds a {show_shape(after)} output to its {show_shape(before)} input",
                        op.span,
                        label=f"body gives {show_shape(after)} {show_axes(after)}",
                        notes=_origin_note(changed, "the shape changes here"),
                        help="the body of a residual must keep the shape of its input",
                    )
                    # Go on with the body's shape, as PyTorch would fail here anyway.
                    out.append(ir.Residual(tuple(body), op.span, after))
                    shape = after
                    continue
                shape = tuple(
                    replace(a, origin=b.origin, why=b.why) if a.size == b.size else a
                    for a, b in zip(after, before, strict=True)
                )
                out.append(ir.Residual(tuple(body), op.span, after))
        return out, shape

    def call_attr(
        self, name: str, shape: Shape, state: _ClassState, span: Span, where: str
    ) -> Shape:
        attr = state.cls.attr(name)
        assert attr is not None, name
        module = state.filled.get(name, attr.module)
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
            for item in module.items:
                item_ctx = Ctx(
                    self.rep,
                    item.name if isinstance(item, ir.AttrRef) else _kind(item, ctx.name),
                    item.span,
                    ctx.where,
                )
                checked, shape = self.module(item, shape, state, item_ctx)
                items.append(checked)
                shapes.append(shape)
            return replace(module, items=tuple(items), shapes=tuple(shapes)), shape
        cls = self.check_class(module.cls, shape)
        return replace(module, cls=cls), cls.out_shape

    def layer(self, layer: ir.Layer, shape: Shape, ctx: Ctx) -> tuple[ir.Layer, Shape]:
        rule = RULES.get(layer.kind)
        if rule is None:  # pragma: no cover - the catalogue and the rules are kept in step
            raise AssertionError(f"no shape rule for {layer.kind}")
        return rule(layer, shape, ctx)


def _kind(item: ir.ModuleExpr, parent: str) -> str:
    if isinstance(item, ir.Layer):
        return f"{parent}: {item.kind}"
    if isinstance(item, ir.BlockRef):
        return f"{parent}: {item.cls.name}"
    return parent
