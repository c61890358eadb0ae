"""The package layout shows the pipeline: each stage imports only itself and earlier stages.

The modules are read with `ast`, never imported, and every archc-internal import counts:
relative or absolute, at module level or inside a function, and
`importlib.import_module` with a literal name. The checks: no import cycle between
modules, and no import from a stage to a later one.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "compiler"  # the import package `archc`
TOP = "top"  # driver, api, cli, __init__ and __main__: the last stage
TOP_PACKAGES = ("lsp",)  # consumers like cli.py: packages in the last stage
STAGES = ("core", "syntax", "ir", "checks", "frontends", "backends", TOP)


@dataclass(frozen=True)
class Edge:
    source: str  # importing module, e.g. archc.checks.lengths
    target: str  # imported module
    where: str  # compiler/checks/lengths.py:12

    def __str__(self) -> str:
        return f"{self.where}: {self.source} imports {self.target}"


def module_name(path: Path) -> str:
    parts = ["archc", *path.relative_to(PACKAGE).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 or (len(parts) == 2 and (PACKAGE / parts[1]).is_dir()):
        return TOP if parts[1] in TOP_PACKAGES else parts[1]
    return TOP


def _resolve(base: str, level: int, package: str) -> str:
    """The absolute name of `from <level dots><base> import ...` inside `package`."""
    if level == 0:
        return base
    parts = package.split(".")
    if level - 1 > len(parts) - 1:
        raise AssertionError(f"relative import beyond the archc package in {package}")
    anchor = parts[: len(parts) - (level - 1)]
    return ".".join([*anchor, base] if base else anchor)


def imports(module: str, path: Path, known: set[str]) -> list[Edge]:
    """Every archc-internal import in one module, each to the module it names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    rel = path.relative_to(ROOT)
    found: list[Edge] = []

    def add(target: str, node: ast.AST) -> None:
        if target == "archc" or target.startswith("archc."):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            if target not in known:
                raise AssertionError(f"{where}: {module} imports {target}, which is not a module of archc")
            found.append(Edge(module, target, where))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name, node)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module or "", node.level, package)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if sub in known else base, node)  # a submodule, or a name in `base`
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            name: str = node.args[0].value
            level = len(name) - len(name.lstrip("."))
            add(_resolve(name[level:], level, package) if level else name, node)
    return found


def graph() -> list[Edge]:
    found = modules()
    known = set(found)
    return [edge for name, path in found.items() for edge in imports(name, path, known)]


def find_cycle(edges: list[Edge]) -> list[Edge] | None:
    """One import cycle, as the edges around it, or None."""
    out: dict[str, list[Edge]] = {}
    for edge in edges:
        out.setdefault(edge.source, []).append(edge)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[Edge] = []

    def visit(node: str) -> list[Edge] | None:
        state[node] = 1
        for edge in out.get(node, []):
            if edge.target == edge.source:
                continue  # `from . import x` inside x's own package __init__
            if state.get(edge.target) == 1:
                start = next(i for i, e in enumerate(path) if e.source == edge.target) if path else 0
                return [*path[start:], edge]
            if edge.target not in state:
                path.append(edge)
                got = visit(edge.target)
                if got is not None:
                    return got
                path.pop()
        state[node] = 2
        return None

    for node in sorted(out):
        if node not in state:
            got = visit(node)
            if got is not None:
                return got
    return None


def back_edges(edges: list[Edge]) -> list[str]:
    problems = []
    for edge in edges:
        src, dst = stage(edge.source), stage(edge.target)
        if STAGES.index(dst) > STAGES.index(src):
            allowed = ", ".join(STAGES[: STAGES.index(src) + 1])
            problems.append(
                f"{edge}: stage `{src}` may import only {allowed}, but {edge.target} is in the later stage `{dst}`"
            )
    return problems


def test_every_module_is_in_a_declared_stage() -> None:
    undeclared = sorted(m for m in modules() if stage(m) not in STAGES)
    assert not undeclared, f"modules in no stage of {STAGES}: {undeclared}"


def test_the_graph_sees_imports_inside_functions() -> None:
    edges = {(e.source, e.target) for e in graph()}
    assert ("archc.driver", "archc.checks.lengths") in edges  # imported inside a function
    assert ("archc.frontends.load", "archc.frontends.torch_import") in edges
    assert ("archc.frontends.seqgra_import", "archc.frontends.torch_import") in edges  # import_module
    assert ("archc.checks.shapes", "archc.ir.nodes") in edges  # `from ..ir import nodes as ir`


def test_no_import_cycles() -> None:
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle:\n  " + "\n  ".join(str(e) for e in cycle)


def test_imports_go_to_earlier_stages_only() -> None:
    problems = back_edges(graph())
    assert not problems, "imports from a stage to a later one:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(
    ("source", "target", "message"),
    [
        ("archc.checks.lengths", "archc.driver", "stage `checks` may import only core, syntax, ir, checks"),
        ("archc.core.values", "archc.syntax.tree", "later stage `syntax`"),
    ],
)
def test_a_back_edge_is_named(source: str, target: str, message: str) -> None:
    bad = Edge(source, target, "x.py:1")
    (problem,) = back_edges([bad])
    assert f"x.py:1: {source} imports {target}" in problem and message in problem


def test_a_cycle_is_found() -> None:
    edges = [
        Edge("a", "b", "a.py:1"),
        Edge("b", "c", "b.py:2"),
        Edge("c", "a", "c.py:3"),
        Edge("a", "d", "a.py:4"),
    ]
    cycle = find_cycle(edges)
    assert cycle is not None and [e.source for e in cycle] == ["a", "b", "c"]
