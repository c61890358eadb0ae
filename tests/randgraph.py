"""Random dataflow graphs, and an independent torch reference for their shapes.

A graph is a list of nodes over (batch, channels, length) tensors: node 0 is the input,
every other node is a layer applied to one earlier node or a merge of two or three earlier
nodes. `render` writes it as an .arch architecture (each node a named tensor); `reference`
builds each node with torch itself and reports the shape of every returned tensor, or the
error torch raises. The two share nothing but the node list, so the test that compares them
checks archc's shape rules for graphs against torch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

LAYERS = ("conv", "pool", "relu", "crop", "pad")
MERGES = ("cat", "add", "mul", "mean", "max", "stack", "matmul")


@dataclass(frozen=True)
class Node:
    op: str  # "input", a layer of LAYERS or a merge of MERGES
    inputs: tuple[int, ...]
    args: tuple[
        int, ...
    ] = ()  # conv: out, k, stride, pad, dil; pool: k, stride; crop: n; pad: n; cat/stack: dim


@dataclass(frozen=True)
class Graph:
    channels: int
    length: int
    nodes: tuple[Node, ...]
    outputs: tuple[int, ...]


def generate(rng: random.Random) -> Graph:
    channels = rng.choice((1, 2, 4))
    length = rng.randint(4, 40)
    nodes = [Node("input", ())]
    for _ in range(rng.randint(2, 9)):
        i = len(nodes)
        if i > 1 and rng.random() < 0.35:
            op = rng.choice(MERGES)
            count = 3 if rng.random() < 0.2 else 2
            inputs = tuple(rng.randrange(i) for _ in range(count))
            args = (
                (rng.choice((1, 2, -1, -2)),)
                if op == "cat"
                else (rng.choice((1, 2, 3, -1)),)
                if op == "stack"
                else ()
            )
            nodes.append(Node(op, inputs, args))
            continue
        op = rng.choice(LAYERS)
        src = rng.randrange(i)
        if op == "conv":
            args = (
                rng.choice((1, 2, 4)),
                rng.randint(1, 5),
                rng.choice((1, 1, 2)),
                rng.randint(0, 2),
                rng.choice((1, 1, 2)),
            )
        elif op == "pool":
            args = (rng.randint(1, 3), rng.choice((1, 2)))
        elif op in ("crop", "pad"):
            args = (rng.randint(0, 3),)
        else:
            args = ()
        nodes.append(Node(op, (src,), args))
    last = len(nodes) - 1
    outputs = (last,) if rng.random() < 0.6 else tuple(sorted({last, rng.randrange(1, last + 1)}))
    return Graph(channels, length, tuple(nodes), outputs)


def generate_gathers(rng: random.Random) -> Graph:
    """A graph with merges of loops (`cat(for i in range(n) { ... }, dim = 1)`): each gather
    node runs a convolution per iteration on its input, its sizes read from tuples by index.
    Args: the merge's index in MERGES, its dim, the count, a relu flag, then (out, kernel,
    padding) per iteration."""
    nodes = [Node("input", ())]
    for _ in range(rng.randint(1, 3)):
        count = rng.randint(1, 4)
        same = rng.random() < 0.75
        out, kernel = rng.choice((1, 2, 4)), rng.choice((1, 3, 5))
        per: list[int] = []
        for _ in range(count):
            if not same:
                out, kernel = rng.choice((1, 2, 4)), rng.randint(1, 5)
            pad = (kernel - 1) // 2 if rng.random() < 0.7 else rng.randint(0, 2)
            per.extend((out, kernel, pad))
        merge = rng.randrange(len(MERGES))
        dim = rng.choice((1, 2, -1, -2)) if MERGES[merge] == "cat" else rng.choice((1, 2, 3, -1))
        nodes.append(Node("gather", (rng.randrange(len(nodes)),), (merge, dim, count, rng.randint(0, 1), *per)))
    last = len(nodes) - 1
    return Graph(rng.choice((1, 2, 4)), rng.randint(4, 40), tuple(nodes), (last,))


def render(graph: Graph) -> str:
    """The .arch text: node k is tensor `t{k}` (`x` for the input)."""

    def name(k: int) -> str:
        return "x" if k == 0 else f"t{k}"

    lines = [
        f"arch g(length = {graph.length}, alphabet = {graph.channels}) {{",
        "  input (batch, channels, length)",
    ]
    for k, node in enumerate(graph.nodes):
        if k == 0:
            continue
        src = name(node.inputs[0])
        if node.op == "conv":
            out, kernel, stride, pad, dil = node.args
            step = f"c{k} = conv1d({out}, {kernel}, stride = {stride}, padding = {pad}, dilation = {dil})"
        elif node.op == "pool":
            step = f"maxpool1d({node.args[0]}, stride = {node.args[1]})"
        elif node.op == "relu":
            step = "relu"
        elif node.op == "crop":
            step = f"crop({node.args[0]})"
        elif node.op == "pad":
            step = f"constantpad1d({node.args[0]}, 0.0)"
        elif node.op == "gather":
            merge, dim, count, relu, *per = node.args
            for j, what in enumerate(("outs", "ks", "pads")):
                items = ", ".join(str(v) for v in per[j::3])
                lines.append(f"  let {what}{k} = ({items}{',' if count == 1 else ''})")
            body = f"g{k} = conv1d(outs{k}[i], ks{k}[i], padding = pads{k}[i])" + (" | relu" if relu else "")
            extra = f", dim = {dim}" if MERGES[merge] in ("cat", "stack") else ""
            lines.append(f"  {name(k)} := {src} | {MERGES[merge]}(for i in range({count}) {{ {body} }}{extra})")
            continue
        else:
            operands = ", ".join(name(i) for i in node.inputs)
            extra = f", dim = {node.args[0]}" if node.op in ("cat", "stack") else ""
            lines.append(f"  {name(k)} := {node.op}({operands}{extra})")
            continue
        lines.append(f"  {name(k)} := {src} | {step}")
    lines.append("  return " + ", ".join(name(k) for k in graph.outputs))
    lines.append("}")
    return "\n".join(lines) + "\n"


def reference(graph: Graph, batch: int = 2) -> tuple[tuple[int, ...], ...] | str:
    """The output shapes torch computes (batch included), or the text of torch's error."""
    import torch
    from torch import nn

    values: list[Any] = [torch.randn(batch, graph.channels, graph.length)]
    try:
        for node in graph.nodes[1:]:
            xs = [values[i] for i in node.inputs]
            x = xs[0]
            if node.op == "conv":
                out, kernel, stride, pad, dil = node.args
                if x.dim() != 3:
                    raise ValueError("conv1d needs 3-D input here")
                y = nn.Conv1d(x.shape[1], out, kernel, stride=stride, padding=pad, dilation=dil)(x)
            elif node.op == "pool":
                if x.dim() != 3:
                    raise ValueError("maxpool1d needs 3-D input here")
                y = nn.MaxPool1d(node.args[0], stride=node.args[1])(x)
            elif node.op == "relu":
                y = torch.relu(x)
            elif node.op == "crop":
                n = node.args[0]
                if x.shape[-1] - 2 * n < 1:
                    raise ValueError("crop leaves no positions")
                y = x[..., n : x.shape[-1] - n]
            elif node.op == "pad":
                y = nn.ConstantPad1d(node.args[0], 0.0)(x)
            elif node.op == "gather":
                y = _gather(x, node.args)
            elif node.op == "cat":
                if node.args[0] in (0, -x.dim()):
                    raise ValueError("cat on the batch axis")
                y = torch.cat(xs, dim=node.args[0])
            elif node.op == "stack":
                dim = node.args[0] if node.args[0] >= 0 else node.args[0] + x.dim() + 1
                if dim == 0:
                    raise ValueError("stack before the batch axis")
                y = torch.stack(xs, dim=node.args[0])
            elif node.op == "matmul":
                # README: the batch (axis 0 here) must stand before the two matrix axes
                if len(xs) != 2 or min(v.dim() for v in xs) < 3 or len({v.dim() for v in xs}) > 1:
                    raise ValueError("matmul of these tensors multiplies across the batch")
                y = torch.matmul(xs[0], xs[1])
            else:
                y = xs[0]
                for other in xs[1:]:
                    if node.op == "add":
                        y = y + other
                    elif node.op == "mul":
                        y = y * other
                    elif node.op == "max":
                        y = torch.maximum(y, other)
                    else:
                        y = y + other
                if node.op == "mean":
                    y = y / len(xs)
                # Tensors of different rank broadcast the batch axis of one against another
                # axis of the other (every tensor here has its batch first): archc refuses it.
                if len({v.dim() for v in xs}) > 1:
                    raise ValueError("the batch axes do not line up")
            values.append(y)
    except (RuntimeError, ValueError) as err:
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return tuple(tuple(values[k].shape) for k in graph.outputs)


def _gather(x: Any, args: tuple[int, ...]) -> Any:
    """A gather node by torch: one convolution per iteration on `x`, then the merge as the
    generated code writes it (element-wise merges stack their inputs, so shapes must match)."""
    import torch
    from torch import nn

    merge, dim, count, relu, *per = args
    if x.dim() != 3:
        raise ValueError("conv1d needs 3-D input here")
    ys = []
    for j in range(count):
        out, kernel, pad = per[3 * j : 3 * j + 3]
        y = nn.Conv1d(x.shape[1], out, kernel, padding=pad)(x)
        ys.append(torch.relu(y) if relu else y)
    kind = MERGES[merge]
    if kind == "matmul":
        raise ValueError("matmul of a loop's outputs is not a merge of them")
    if kind == "cat":
        if dim in (0, -ys[0].dim()):
            raise ValueError("cat on the batch axis")
        return torch.cat(ys, dim=dim)
    if kind == "stack":
        if (dim if dim >= 0 else dim + ys[0].dim() + 1) == 0:
            raise ValueError("stack before the batch axis")
        return torch.stack(ys, dim=dim)
    stacked = torch.stack(ys)
    reduce = {"add": stacked.sum, "mul": stacked.prod, "mean": stacked.mean, "max": stacked.amax}[kind]
    return reduce(dim=0)
