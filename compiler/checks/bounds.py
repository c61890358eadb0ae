"""Checked IR -> diagnostics: every tensor of the model must be one torch can allocate.

Each size is already at most 2**31 - 1 (values.MAX_SIZE); their products are not,
and `linear(2000000000 -> 2000000000)` would be written into a module that fails
when built ("Overflow when unpacking long long"), or one no machine can hold.
"""

from __future__ import annotations

import math
from typing import Any

from ..core.diagnostics import Reporter
from ..core.source import Span
from ..ir import nodes as ir

# 2**40 elements is 4 TiB as float32: more than any machine allocates in one tensor.
MAX_ELEMENTS = 2**40


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, tuple):
        return tuple(int(v) for v in value)
    return (int(value),) * n


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def weight_elements(layer: ir.Layer) -> int:
    """The elements of a layer's largest weight tensor (0 for layers without weights)."""
    kind = layer.kind
    if kind in ("conv1d", "conv2d"):
        n = 1 if kind == "conv1d" else 2
        groups = max(1, _int(layer.get("groups", 1)))
        return (
            _int(layer.get("out_channels"))
            * (_int(layer.get("in_channels")) // groups)
            * math.prod(_tuple(layer.get("kernel_size"), n))
        )
    if kind == "linear":
        return _int(layer.get("in_features")) * _int(layer.get("out_features"))
    if kind in ("lstm", "gru"):
        hidden = _int(layer.get("hidden_size"))
        inputs = _int(layer.get("input_size"))
        dirs = 2 if layer.get("bidirectional") else 1
        return (4 if kind == "lstm" else 3) * hidden * max(inputs, hidden * dirs)
    return added_weight_elements(layer)  # added layers (layers branch)


# ------------------------------------------------------------------ added layers (layers branch)


def added_weight_elements(layer: ir.Layer) -> int:
    """weight_elements of the added layers (0 for the other kinds)."""
    kind = layer.kind
    if kind in ("convtranspose1d", "convtranspose2d"):
        n = 1 if kind == "convtranspose1d" else 2
        groups = max(1, _int(layer.get("groups", 1)))
        return (
            _int(layer.get("in_channels"))
            * (_int(layer.get("out_channels")) // groups)
            * math.prod(_tuple(layer.get("kernel_size"), n))
        )
    if kind == "embedding":
        return _int(layer.get("num_embeddings")) * _int(layer.get("embedding_dim"))
    if kind == "layernorm":
        value = layer.get("normalized_shape")
        return math.prod(_tuple(value, 1))
    if kind in ("groupnorm", "batchnorm3d"):
        return _int(layer.get("num_channels" if kind == "groupnorm" else "num_features"))
    if kind == "multiheadattention":
        return 3 * _int(layer.get("embed_dim")) ** 2
    if kind == "transformerencoderlayer":
        model = _int(layer.get("d_model"))
        return max(3 * model * model, model * _int(layer.get("dim_feedforward", 2048)))
    return 0


# ------------------------------------------------------------------ end of added layers


def check_bounds(arch: ir.Architecture, rep: Reporter) -> bool:
    """Report tensors over MAX_ELEMENTS; True when everything fits."""
    ok = True
    seen: set[int] = set()
    stack: list[Any] = [arch.cls]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ir.ClassDef):
            stack.extend(a.module for a in node.attrs)
            stack.extend(node.forward)
        elif isinstance(node, ir.Sequential):
            stack.extend(node.items)
            for shape in node.shapes:
                ok &= _activation(shape, node.span, rep)
        elif isinstance(node, ir.BlockRef):
            stack.append(node.cls)
        elif isinstance(node, ir.Layer):
            count = weight_elements(node)
            if count > MAX_ELEMENTS:
                rep.error(
                    "too-large",
                    f"`{node.kind}` would have a weight of {count:,} elements; archc allows at "
                    f"most {MAX_ELEMENTS:,} (4 TiB as float32) in one tensor",
                    node.span,
                    help="use smaller sizes",
                )
                ok = False
        elif isinstance(node, ir.ModuleList):
            stack.extend(node.items)
        elif isinstance(node, (ir.CallAttr, ir.Functional, ir.Residual, ir.Merge, ir.Loop)):
            ok &= _activation(node.shape, node.span, rep)
            for inner in ir.nested(node):
                stack.extend(inner)
            if isinstance(node, ir.Functional):
                stack.append(node.layer)
    return ok


def _activation(shape: ir.Shape, span: Span, rep: Reporter) -> bool:
    count = math.prod(d.size for d in shape if d.size is not None)
    if count <= MAX_ELEMENTS:
        return True
    rep.error(
        "too-large",
        f"this step's output {ir.show_shape(shape)} holds {count:,} elements per sequence; "
        f"archc allows at most {MAX_ELEMENTS:,} (4 TiB as float32) in one tensor",
        span,
        help="use a shorter input or fewer channels",
    )
    return False
