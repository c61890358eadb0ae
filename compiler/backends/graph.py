"""A Graphviz diagram of a checked architecture: a node per step, each edge labelled with its shape.

Blocks and `seq` groups are clusters (collapsed to one node each beyond `--depth`);
a residual is drawn as a dashed skip edge into an add node. The DOT text is built
from the same rows as `archc summary`, so both always agree. `dot` runs without a
shell and with a timeout; every output is replaced atomically.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..core.outputs import write_all
from ..core.values import show
from ..frontends.files import UsageError
from ..ir import nodes as ir
from .summary import Row, Summary, si, summarize

DOT_TIMEOUT_S = 60
FORMATS = {".svg": "svg", ".png": "png", ".dot": "dot"}

# Fill colours by what a layer does (light, so the black text stays readable).
COLOURS = {
    "conv1d": "#cfe2ff",
    "conv2d": "#cfe2ff",
    "linear": "#e2d4f7",
    "lstm": "#f7d4e8",
    "gru": "#f7d4e8",
    "batchnorm1d": "#fff1b8",
    "batchnorm2d": "#fff1b8",
    "maxpool1d": "#d3f0dc",
    "maxpool2d": "#d3f0dc",
    "avgpool1d": "#d3f0dc",
    "avgpool2d": "#d3f0dc",
    "adaptivemaxpool1d": "#d3f0dc",
    "global_max_pool": "#d3f0dc",
    "relu": "#ffe3cc",
    "sigmoid": "#ffe3cc",
    "tanh": "#ffe3cc",
    "softmax": "#ffe3cc",
    "log_softmax": "#ffe3cc",
    "dropout": "#eceff1",
}
# Added layers (layers branch).
COLOURS.update(
    {
        **dict.fromkeys(("convtranspose1d", "convtranspose2d"), "#cfe2ff"),
        **dict.fromkeys(("layernorm", "groupnorm", "batchnorm3d"), "#fff1b8"),
        **dict.fromkeys(
            (
                "adaptiveavgpool1d", "adaptiveavgpool2d", "adaptivemaxpool2d", "global_avg_pool",
                "mean", "sum", "max", "upsample",
            ),
            "#d3f0dc",
        ),
        **dict.fromkeys(("gelu", "silu", "elu", "leakyrelu", "softplus"), "#ffe3cc"),
        # Second batch: squeeze, unsqueeze and repeat are shape operations (no colour).
        **dict.fromkeys(
            (
                "exp", "log", "scale", "shift", "divide", "selu", "celu", "relu6", "hardtanh", "mish",
                "softsign",
                "logsigmoid",
                "hardswish", "hardsigmoid",
            ),
            "#ffe3cc",
        ),
        **dict.fromkeys(("dropout1d", "dropout2d"), "#eceff1"),
        **dict.fromkeys(("multiheadattention", "transformerencoderlayer"), "#f7d4e8"),
        "embedding": "#e2d4f7",
    }
)
SHAPE_OPS_COLOUR = "#ffffff"  # flatten, view, permute...: no computation
GROUP_COLOUR = "#f1f3f5"
EDGE_COLOUR = "#5f6b7a"
SKIP_COLOUR = "#c0392b"


def quote(text: str) -> str:
    """A DOT string literal: backslashes and quotes escaped, lines joined with DOT's `\\n`."""
    lines = text.split("\n")
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "") for line in lines)
    return '"' + "\\n".join(escaped) + '"'


def _attrs(**values: str) -> str:
    return "[" + ", ".join(f"{k}={quote(v)}" for k, v in values.items()) + "]"


def _collapsed_label(row: Row) -> str:
    if row.group == "block":
        what = row.kind
    else:
        kinds = {c.kind for c in row.children}
        count = len(row.children)
        what = (
            f"seq of {count} \N{MULTIPLICATION SIGN} {next(iter(kinds))}"
            if len(kinds) == 1 and count > 1
            else f"seq of {count} steps"
        )
    lines = [row.name, what]
    if row.params:
        lines.append(f"{row.params:,} params")
    return "\n".join(lines)


@dataclass
class _Dot:
    """Builds the DOT text: nodes inside their clusters, every edge at the end."""

    depth: int | None
    body: list[str] = field(default_factory=list)
    edges: list[str] = field(default_factory=list)
    count: int = 0
    clusters: int = 0
    named: dict[str, tuple[str, ir.Shape]] = field(default_factory=dict)  # tensor -> its node

    def node(self, label: str, indent: int, **style: str) -> str:
        name = f"n{self.count}"
        self.count += 1
        self.body.append("  " * indent + f"{name} {_attrs(label=label, **style)};")
        return name

    def edge(self, src: str, dst: str, shape: ir.Shape, **style: str) -> None:
        self.edges.append(f"  {src} -> {dst} {_attrs(label=ir.show_shape(shape), **style)};")

    def rows(
        self, rows: tuple[Row, ...], prev: str, prev_shape: ir.Shape, level: int, indent: int
    ) -> tuple[str, ir.Shape]:
        for row in rows:
            if row.kind == "tensor" and row.group is None:
                self.named[row.detail] = (prev, prev_shape)
                continue
            if row.kind == "read" and row.group is None:
                prev, prev_shape = self.named[row.detail]
                continue
            if row.kind in ir.MERGES and row.group is None and row.path is None:
                node = self.node(row.kind, indent, shape="ellipse", fillcolor="#ffd9d4")
                for operand in row.detail.split(", "):
                    src, shape = (prev, prev_shape) if operand == "|" else self.named[operand]
                    self.edge(src, node, shape)
            elif row.group is None:
                node = self.node(_leaf_label(row), indent, fillcolor=_colour(row.kind))
                self.edge(prev, node, prev_shape)
            elif row.group == "residual":
                body, add = row.children[:-1], row.children[-1]
                shortcut = body[-1] if body and body[-1].kind == "shortcut" else None
                if shortcut is not None:
                    body = body[:-1]
                last, last_shape = self.rows(body, prev, prev_shape, level, indent)
                node = self.node(
                    "+",
                    indent,
                    shape="circle",
                    fillcolor="#ffd9d4",
                    width="0.3",
                    fixedsize="true",
                    tooltip="residual add",
                )
                self.edge(last, node, last_shape)
                skip, skip_shape = prev, prev_shape
                if shortcut is not None:
                    skip, skip_shape = self.rows(shortcut.children, prev, prev_shape, level, indent)
                self.edge(
                    skip,
                    node,
                    skip_shape,
                    style="dashed",
                    color=SKIP_COLOUR,
                    fontcolor=SKIP_COLOUR,
                    tooltip="skip connection" if shortcut is None else "shortcut",
                )
                prev, prev_shape = node, add.shape
                continue
            elif self.depth is not None and level + 1 > self.depth:
                node = self.node(
                    _collapsed_label(row), indent, fillcolor=GROUP_COLOUR, peripheries="2"
                )
                self.edge(prev, node, prev_shape)
            elif row.group == "gather":
                node = self.gather(row, prev, prev_shape, level, indent)
            else:
                self.clusters += 1
                pad = "  " * indent
                self.body.append(f"{pad}subgraph cluster_{self.clusters} {{")
                title = (
                    f"{row.name}: {row.kind}"
                    if row.group == "block"
                    else row.name
                    if row.group == "loop"
                    else f"{row.name} (seq)"
                )
                style = "rounded,filled" if row.group == "block" else "rounded,dashed"
                self.body.append(f"{pad}  graph {_attrs(label=title, style=style)};")
                node, _ = self.rows(row.children, prev, prev_shape, level + 1, indent + 1)
                self.body.append(f"{pad}}}")
            prev, prev_shape = node, row.shape
        return prev, prev_shape


    def gather(self, row: Row, prev: str, prev_shape: ir.Shape, level: int, indent: int) -> str:
        """`cat(for ...)`: a cluster of one branch per iteration from the loop's input, and
        the merge node they feed."""
        self.clusters += 1
        pad = "  " * indent
        self.body.append(f"{pad}subgraph cluster_{self.clusters} {{")
        self.body.append(f"{pad}  graph {_attrs(label=row.name, style='rounded,dashed')};")
        *branches, merge = row.children
        ends = [self.rows(b.children, prev, prev_shape, level + 1, indent + 1) for b in branches]
        node = self.node(merge.kind, indent + 1, shape="ellipse", fillcolor="#ffd9d4")
        for end, shape in ends:
            self.edge(end, node, shape)
        self.body.append(f"{pad}}}")
        return node


def _colour(kind: str) -> str:
    return COLOURS.get(kind, SHAPE_OPS_COLOUR)


def _leaf_label(row: Row) -> str:
    detail = row.detail.replace(" -> ", " → ")
    call = f"{row.kind}({detail})" if detail else row.kind
    label = call if row.name == row.kind else f"{row.name}\n{call}"
    return label + "\n(weights shared)" if row.shared else label


def to_dot(arch: ir.Architecture, depth: int | None = None, summary: Summary | None = None) -> str:
    """The DOT text of an architecture's diagram (deterministic)."""
    s = summary or summarize(arch)
    params = ", ".join(f"{k}={show(v)}" for k, v in arch.params)
    title = (
        f"{arch.name}({params})\n"
        f"{s.totals.params:,} parameters, {si(s.totals.macs)} MACs per sequence"
    )
    dot = _Dot(depth)
    inputs = dot.node(
        f"input\n{ir.show_axes(arch.input_shape)}", 1, shape="oval", fillcolor="#e9ecef"
    )
    dot.named[arch.cls.inputs[0] if arch.cls.inputs else "x"] = (inputs, arch.input_shape)
    for name, shape, _ in arch.extra_inputs:
        node = dot.node(f"{name}\n{ir.show_axes(shape)}", 1, shape="oval", fillcolor="#e9ecef")
        dot.named[name] = (node, shape)
    last, last_shape = dot.rows(s.rows, inputs, arch.input_shape, 0, 1)
    if arch.cls.outputs:
        keys = arch.cls.output_keys
        for k, name in enumerate(arch.cls.outputs):
            src, shape = dot.named[name]
            label = "output" if len(arch.cls.outputs) == 1 else f"output {name}"
            if keys is not None:  # what the caller reads from the dict
                label = f"output {keys[k]!r}"
            output = dot.node(label, 1, shape="oval", fillcolor="#e9ecef")
            dot.edge(src, output, shape)
    else:
        output = dot.node("output", 1, shape="oval", fillcolor="#e9ecef")
        dot.edge(last, output, last_shape)
    head = [
        f"digraph {quote(arch.name)} {{",
        "  graph "
        + _attrs(
            rankdir="TB",
            label=title,
            labelloc="t",
            fontname="Helvetica",
            fontsize="12",
            nodesep="0.25",
            ranksep="0.3",
            color="#adb5bd",
            fillcolor="#f8f9fa",
        )
        + ";",
        "  node "
        + _attrs(
            shape="box",
            style="rounded,filled",
            fontname="Helvetica",
            fontsize="10",
            height="0.3",
            margin="0.12,0.04",
            color="#495057",
        )
        + ";",
        "  edge "
        + _attrs(
            fontname="Helvetica",
            fontsize="8",
            color=EDGE_COLOUR,
            fontcolor="#495057",
            arrowsize="0.6",
        )
        + ";",
    ]
    return "\n".join([*head, *dot.body, *dot.edges, "}"]) + "\n"


def _write_bytes(path: Path, data: bytes) -> None:
    """Write a binary file atomically: a temporary file beside it, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes the file private (0600); give it the permissions a new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _render(dot_exe: str, fmt: str, text: str) -> bytes:
    try:
        proc = subprocess.run(  # a fixed argument list, no shell
            [dot_exe, f"-T{fmt}"],
            input=text.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"Graphviz `dot` did not finish within {DOT_TIMEOUT_S} s") from None
    except OSError as err:
        raise UsageError(f"cannot run Graphviz `dot` ({err.strerror})") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", errors="replace").strip()
        raise UsageError(f"Graphviz `dot` failed: {message or f'exit code {proc.returncode}'}")
    return proc.stdout


def _reason(err: OSError, output: Path) -> str:
    """Why a file could not be written, naming the path at fault when it is another one."""
    culprit = err.filename
    if isinstance(err, (FileExistsError, NotADirectoryError)):
        blocking = next(
            (p for p in reversed(output.parents) if p.exists() and not p.is_dir()), None
        )
        if blocking is not None:
            return f"{blocking} is a file, not a directory"
    reason = err.strerror or str(err)
    if culprit and str(culprit) not in (str(output), ""):
        return f"{reason} ({culprit})"
    return reason


def write_graph(arch: ir.Architecture, output: Path, depth: int | None) -> list[str]:
    """Draw the architecture to `output` (.svg, .png or .dot); returns the lines to print."""
    fmt = FORMATS.get(output.suffix.lower())
    if fmt is None:
        raise UsageError(f"{output}: the diagram is written as .svg, .png or .dot")
    if depth is not None and depth < 0:
        raise UsageError("--depth must be 0 or more")
    text = to_dot(arch, depth)
    try:
        # Made here, so a path through a file is reported by name before anything is drawn.
        output.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "dot":
            write_all({output: text})
            return [f"wrote {output}"]
        exe = shutil.which("dot")
        if exe is None:
            dot_path = output.with_suffix(".dot")
            write_all({dot_path: text})
            return [
                f"wrote {dot_path}",
                f"Graphviz is not installed, so {output} was not drawn. Install it "
                f"(e.g. `apt-get install graphviz`) and run: dot -T{fmt} {dot_path} -o {output}",
            ]
        data = _render(exe, fmt, text)
        if fmt == "svg":
            write_all({output: data.decode("utf-8")})
        else:
            _write_bytes(output, data)
    except OSError as err:
        raise UsageError(f"cannot write {output}: {_reason(err, output)}") from None
    return [f"wrote {output}"]
