"""`archc graph`: the DOT text parsed back (nodes, edges, shapes, residuals, clusters), SVG and PNG."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from archc.backends import graph as graph_module
from archc.backends.graph import quote, to_dot
from archc.backends.summary import Summary, summarize
from archc.cli import main
from archc.core.source import Source
from archc.driver import run, run_path
from archc.ir import nodes as ir

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MODELS = ("basset", "chromdragonn", "deepsea")
SVG = "{http://www.w3.org/2000/svg}"

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz `dot` is not installed"
)


# ------------------------------------------------------------------ a reader for the DOT we write

_ATTR = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_NODE = re.compile(r"^\s*(n\d+) \[(.*)\];$")
_EDGE = re.compile(r"^\s*(n\d+) -> (n\d+) \[(.*)\];$")


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def _attrs(text: str) -> dict[str, str]:
    return {k: _unescape(v) for k, v in _ATTR.findall(text)}


@dataclass
class Dot:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    clusters: list[tuple[str, str | None, list[str]]] = field(default_factory=list)  # label, parent
    cluster_of: dict[str, str] = field(default_factory=dict)  # node -> innermost cluster label

    def label(self, node: str) -> str:
        return self.nodes[node]["label"]

    def into(self, node: str) -> list[tuple[str, dict[str, str]]]:
        return [(src, attrs) for src, dst, attrs in self.edges if dst == node]

    def chain(self) -> list[tuple[str, str]]:
        """From the input node along the solid edges: (node label, label of the edge into it)."""
        start = next(n for n, a in self.nodes.items() if a["label"].startswith("input"))
        out = []
        node = start
        while True:
            solid = [(d, a) for s, d, a in self.edges if s == node and a.get("style") != "dashed"]
            if not solid:
                return out
            assert len(solid) == 1, f"{self.label(node)!r} has {len(solid)} solid edges out"
            node, attrs = solid[0]
            out.append((self.label(node), attrs["label"]))


def parse_dot(text: str) -> Dot:
    dot = Dot()
    stack: list[int] = []
    assert text.startswith("digraph ") and text.rstrip().endswith("}")
    for line in text.splitlines()[1:-1]:
        if m := _EDGE.match(line):
            dot.edges.append((m.group(1), m.group(2), _attrs(m.group(3))))
        elif m := _NODE.match(line):
            dot.nodes[m.group(1)] = _attrs(m.group(2))
            if stack:
                dot.cluster_of[m.group(1)] = dot.clusters[stack[-1]][0]
                for i in stack:
                    dot.clusters[i][2].append(m.group(1))
        elif re.match(r"^\s*subgraph cluster_\d+ \{$", line):
            parent = dot.clusters[stack[-1]][0] if stack else None
            dot.clusters.append(("", parent, []))
            stack.append(len(dot.clusters) - 1)
        elif line.strip() == "}":
            stack.pop()
        elif line.strip().startswith("graph [") and stack:
            label = _attrs(line)["label"]
            _, parent, members = dot.clusters[stack[-1]]
            dot.clusters[stack[-1]] = (label, parent, members)
        else:
            assert re.match(r"^\s*(graph|node|edge) \[", line), line
    assert not stack
    return dot


def checked(model: str) -> ir.Architecture:
    _, result = run_path(str(EXAMPLES / f"{model}.arch"))
    assert result.ok
    arch = result.variants[0].checked
    assert arch is not None
    return arch


def expected_chain(summary: Summary, depth: int | None = None) -> list[tuple[str, str]]:
    """What walking the drawn chain should meet: each step's first label line and incoming shape."""
    out: list[tuple[str, str]] = []
    shape = ir.show_shape(summary.arch.input_shape)

    def visit(rows: tuple, level: int) -> None:  # type: ignore[type-arg]
        nonlocal shape
        for row in rows:
            if row.group == "residual":
                visit(row.children[:-1], level)
                out.append(("+", shape))
                shape = ir.show_shape(row.shape)
            elif row.group is not None and depth is not None and level + 1 > depth:
                out.append((row.name, shape))
                shape = ir.show_shape(row.shape)
            elif row.group is not None:
                visit(row.children, level + 1)
            else:
                out.append((row.name, shape))
                shape = ir.show_shape(row.shape)

    visit(summary.rows, 0)
    out.append(("output", shape))
    return out


def first_lines(chain: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each node's name: its first label line, without the arguments of a functional step."""
    return [(label.split("\n")[0].split("(")[0], shape) for label, shape in chain]


# ------------------------------------------------------------------ structure


@pytest.mark.parametrize("model", MODELS)
def test_every_step_is_a_node_and_every_edge_carries_its_shape(model: str) -> None:
    arch = checked(model)
    summary = summarize(arch)
    dot = parse_dot(to_dot(arch))
    chain = dot.chain()
    want = expected_chain(summary)
    # Functional steps are labelled by their kind (and arguments); their first line is the kind.
    assert first_lines(chain) == [(name.split("(")[0], shape) for name, shape in want]
    leaves = [r for r in summary.walk() if r.group is None and r.kind != "add"]
    adds = [r for r in summary.walk() if r.kind == "add"]
    assert len(dot.nodes) == len(leaves) + len(adds) + 2  # + input and output
    for _, _, attrs in dot.edges:
        assert re.fullmatch(r"\((N|\d+)(, \d+)*\)", attrs["label"]), attrs


def test_basset_nodes_show_the_layers() -> None:
    dot = parse_dot(to_dot(checked("basset")))
    labels = {a["label"] for a in dot.nodes.values()}
    assert "layer1.0\nconv1d(4 → 300, k=19)" in labels
    assert "layer1.3\nmaxpool1d(k=3)" in labels
    assert "fc1\nlinear(3600 → 1000)" in labels
    assert "dropout1\ndropout(p=0.3)" in labels
    assert [c[0] for c in dot.clusters] == ["layer1 (seq)", "layer2 (seq)", "layer3 (seq)"]
    conv = next(n for n, a in dot.nodes.items() if a["label"].startswith("layer2.0\n"))
    assert dot.cluster_of[conv] == "layer2 (seq)"
    assert [a["label"] for _, a in dot.into(conv)] == ["(N, 300, 327)"]


def test_chromdragonn_residuals_are_skip_edges_into_add_nodes() -> None:
    arch = checked("chromdragonn")
    dot = parse_dot(to_dot(arch))
    adds = [n for n, a in dot.nodes.items() if a["label"] == "+"]
    assert len(adds) == 8  # layer1 .. layer4, two residual blocks each
    skip_sources = []
    for add in adds:
        into = dot.into(add)
        assert len(into) == 2
        solid = [(s, a) for s, a in into if a.get("style") != "dashed"]
        dashed = [(s, a) for s, a in into if a.get("style") == "dashed"]
        assert len(solid) == 1 and len(dashed) == 1
        # A residual keeps the shape: the body's output and the skipped input agree.
        assert solid[0][1]["label"] == dashed[0][1]["label"]
        body_last = dot.label(solid[0][0]).split("\n")[0]
        assert re.fullmatch(r"layer\d\.\d\.bn[23]", body_last), body_last
        skip_sources.append(dot.label(dashed[0][0]).split("\n")[0])
    # The skip leaves from the step before each block: the stage before, or the previous block's relu.
    assert skip_sources == [
        "prelayer.5", "relu", "l1tol2.2", "relu", "l2tol3.2", "relu", "maxpool2", "relu"
    ]  # fmt: skip
    shapes = [a["label"] for add in adds for s, a in dot.into(add) if a.get("style") == "dashed"]
    assert (
        shapes
        == ["(N, 64, 1000, 1)"] * 2
        + ["(N, 128, 1000, 1)"] * 2
        + ["(N, 200, 339, 1)"] * 2
        + ["(N, 200, 84, 1)"] * 2
    )
    # Blocks nest in their seq; the block's own seq nests in the block.
    parents = {label: parent for label, parent, _ in dot.clusters}
    assert parents["layer1.0: Res2(channels=64, k=3)"] == "layer1 (seq)"
    assert parents["layer1.0.layer (seq)"] == "layer1.0: Res2(channels=64, k=3)"
    assert parents["layer3.1: Res3(channels=200)"] == "layer3 (seq)"
    conv1 = next(n for n, a in dot.nodes.items() if a["label"].startswith("layer1.0.conv1\n"))
    assert dot.cluster_of[conv1] == "layer1.0.layer (seq)"


@pytest.mark.parametrize("depth", [0, 1, 2])
def test_depth_collapses_groups(depth: int) -> None:
    arch = checked("chromdragonn")
    summary = summarize(arch)
    dot = parse_dot(to_dot(arch, depth))
    assert first_lines(dot.chain()) == [
        (name.split("(")[0], shape) for name, shape in expected_chain(summary, depth)
    ]
    collapsed = {a["label"].split("\n")[0]: a for a in dot.nodes.values() if a.get("peripheries")}
    adds = [a for a in dot.nodes.values() if a["label"] == "+"]
    if depth == 0:
        assert dot.clusters == []
        assert not adds
        assert collapsed["layer1"]["label"] == (
            "layer1\nseq of 2 \N{MULTIPLICATION SIGN} Res2(channels=64, k=3)\n49,920 params"
        )
        assert collapsed["prelayer"]["label"] == "prelayer\nseq of 6 steps\n10,128 params"
    elif depth == 1:
        assert all(parent is None for _, parent, _ in dot.clusters)
        assert not adds
        assert collapsed["layer1.0"]["label"] == "layer1.0\nRes2(channels=64, k=3)\n24,960 params"
        assert len(collapsed) == 8
    else:
        assert len(adds) == 8
        assert set(collapsed) == {f"layer{i}.{j}.layer" for i in range(1, 5) for j in (0, 1)}


def test_reused_layer_is_marked() -> None:
    text = "arch t(length = 20, alphabet = 4) {\n  conv = conv1d(4 -> 4, 3, padding = 1) | relu | conv\n}\n"
    result = run(Source("t.arch", text))
    arch = result.variants[0].checked
    assert arch is not None
    labels = [a["label"] for a in parse_dot(to_dot(arch)).nodes.values()]
    assert labels[1:4] == [
        "conv\nconv1d(4 → 4, k=3, pad=1)",
        "relu",
        "conv\nconv1d(4 → 4, k=3, pad=1)\n(weights shared)",
    ]


def test_dot_is_deterministic_across_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed in ("0", "4242"):
        out = tmp_path / f"{seed}.dot"
        proc = subprocess.run(
            [sys.executable, "-m", "archc", "graph", "examples/chromdragonn.arch", "-o", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == to_dot(checked("chromdragonn")).encode()


def test_quote_escapes_for_dot() -> None:
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert quote("\\N \\G") == '"\\\\N \\\\G"'  # not Graphviz's node-name escapes


# ------------------------------------------------------------------ rendering with Graphviz


@needs_dot
def test_labels_survive_graphviz(tmp_path: Path) -> None:
    """Quotes, backslashes and markup in a label come out of Graphviz as written."""
    tricky = 'a "b" \\N <c> & d'
    svg = subprocess.run(
        ["dot", "-Tsvg"],
        input=f"digraph {{ x [label={quote(tricky + chr(10) + 'second')}]; }}",
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert texts == [tricky, "second"]


@needs_dot
@pytest.mark.parametrize("model", MODELS)
def test_svg_has_every_node_edge_and_shape(model: str, tmp_path: Path) -> None:
    out = tmp_path / f"{model}.svg"
    assert main(["graph", str(EXAMPLES / f"{model}.arch"), "-o", str(out)]) == 0
    root = ET.parse(out).getroot()
    dot = parse_dot(to_dot(checked(model)))
    groups = {g.get("class"): 0 for g in root.iter(f"{SVG}g")}
    for g in root.iter(f"{SVG}g"):
        groups[g.get("class")] += 1
    assert groups["node"] == len(dot.nodes)
    assert groups["edge"] == len(dot.edges)
    assert groups.get("cluster", 0) == len(dot.clusters)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for _, _, attrs in dot.edges:
        assert attrs["label"] in texts
    assert f"{summarize(checked(model)).totals.params:,} parameters" in " ".join(
        t or "" for t in texts
    )


@needs_dot
def test_png_and_svg_are_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = str(EXAMPLES / "basset.arch")
    for name in ("a.png", "b.png", "a.svg", "b.svg"):
        assert main(["graph", arch, "-o", str(tmp_path / name)]) == 0
    assert f"wrote {tmp_path / 'a.png'}" in capsys.readouterr().err
    assert (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.svg", "b.png", "b.svg"]


# ------------------------------------------------------------------ errors and fallbacks


def test_without_graphviz_the_dot_file_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "out" / "basset.svg"
    assert main(["graph", str(EXAMPLES / "basset.arch"), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert not out.exists()
    dot_file = out.with_suffix(".dot")
    assert dot_file.read_text(encoding="utf-8") == to_dot(checked("basset"))
    assert f"wrote {dot_file}" in err
    assert f"dot -Tsvg {dot_file} -o {out}" in err


def test_failing_dot_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"
    fake.write_text("#!/bin/sh\necho 'syntax error in line 1' >&2\nexit 3\n", encoding="utf-8")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    out = tmp_path / "x.svg"
    assert main(["graph", str(EXAMPLES / "deepsea.arch"), "-o", str(out)]) == 2
    assert "Graphviz `dot` failed: syntax error in line 1" in capsys.readouterr().err
    assert not out.exists()


def test_slow_dot_times_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"
    fake.write_text(f"#!/bin/sh\nexec {shutil.which('sleep') or '/bin/sleep'} 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setattr(graph_module, "DOT_TIMEOUT_S", 0.5)
    assert main(["graph", str(EXAMPLES / "deepsea.arch"), "-o", str(tmp_path / "x.png")]) == 2
    assert "did not finish" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("suffix", [".dot", ".svg"])
def test_unwritable_output_is_a_clear_error(
    suffix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    out = blocker / "sub" / f"graph{suffix}"
    assert main(["graph", str(EXAMPLES / "deepsea.arch"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"archc: error: cannot write {out}: {blocker} is a file, not a directory" in err
    assert "Traceback" not in err
    assert blocker.read_text(encoding="utf-8") == "not a directory"


def test_unknown_suffix_and_negative_depth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arch = str(EXAMPLES / "deepsea.arch")
    assert main(["graph", arch, "-o", str(tmp_path / "x.pdf")]) == 2
    assert ".svg, .png or .dot" in capsys.readouterr().err
    assert main(["graph", arch, "-o", str(tmp_path / "x.dot"), "--depth", "-1"]) == 2
    assert "--depth" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_shape_error_exits_1_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.arch"
    bad.write_text(
        "arch bad(length = 100, alphabet = 4) {\n  conv = conv1d(8, 5)\n  flatten\n"
        "  fc = linear(700 -> 2)\n}\n",
        encoding="utf-8",
    )
    out = tmp_path / "bad.dot"
    assert main(["graph", str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "bad.arch:4:" in err and "no graph" in err
    assert not out.exists()
