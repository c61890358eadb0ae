"""`archc import` of a model whose helper layers, base class and constants live in sibling files
of its package (`from .layers import ConvBlock`, `from . import constants`, `from pkg.x import y`).

The sibling files are read as text (never imported by archc); the reference is the package
imported for real by the test. Diagnostics in a sibling file point into that file.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from test_torch_import_real import FIXTURES, assert_equivalent, lift_text, line_of, lint_json, run_cli

ZOO = FIXTURES / "enhancer_zoo"
MODEL = ZOO / "deep_model.py"


def imported(module: str, root: Path) -> Any:
    """The fixture package imported for real (test reference only), then forgotten again."""
    sys.path.insert(0, str(root))
    bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in fixtures
    try:
        for name in [n for n in sys.modules if n == "enhancer_zoo" or n.startswith("enhancer_zoo.")]:
            del sys.modules[name]
        return importlib.import_module(module)
    finally:
        sys.dont_write_bytecode = bytecode
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == "enhancer_zoo" or n.startswith("enhancer_zoo.")]:
            del sys.modules[name]


def copy_zoo(tmp_path: Path) -> Path:
    target = tmp_path / "enhancer_zoo"
    shutil.copytree(ZOO, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


@pytest.mark.torch
def test_helpers_from_sibling_files_lift(capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any) -> None:
    text = lift_text(MODEL, capsys, tmp_path)
    assert "block ConvBlock(c_in, c_out = 32, kernel = 5, pool_size = 2) {" in text
    assert "features = seq {\n        ConvBlock(4)\n        ConvBlock(32, 64, kernel = 3)\n    } | flatten" in text
    assert "length 200: fixed by the 3200 input features of `head`" in text
    module = imported("enhancer_zoo.deep_model", FIXTURES).TorchModel()
    assert_equivalent(module, text, (4, 200), torch_module)
    other = imported("enhancer_zoo.deep_model", FIXTURES).TorchModel(n_tasks=5)
    assert_equivalent(other, text, (4, 200), torch_module, n_tasks=5)


def test_lint_of_the_package_model_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, diags = lint_json(capsys, MODEL)
    assert code == 0 and [d for d in diags if d["severity"] == "error"] == []


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1
    path.write_text(text.replace(old, new))


def test_an_unsupported_layer_in_a_sibling_is_reported_in_that_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    zoo = copy_zoo(tmp_path)
    _edit(zoo / "layers.py", "nn.BatchNorm1d(c_out)", "nn.PReLU()")
    code, diags = lint_json(capsys, zoo / "deep_model.py")
    assert code == 1
    line = line_of((zoo / "layers.py").read_text(), "nn.PReLU()")
    assert [(d["code"], d["path"], d["line"], d["column"]) for d in diags] == [
        ("unknown-layer", str(zoo / "layers.py"), line, 19)
    ]
    assert diags[0]["message"] == "archc has no layer for nn.PReLU"


def test_a_shape_error_in_a_sibling_is_reported_in_that_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    zoo = copy_zoo(tmp_path)
    _edit(zoo / "deep_model.py", "ConvBlock(constants.DEFAULT_FILTERS, 64", "ConvBlock(16, 64")
    code, err, _ = run_cli(capsys, "lint", str(zoo / "deep_model.py"))
    assert code == 1
    assert "error[shape-mismatch]: `conv` expects 16 input channels, but its input has 32" in err
    line = line_of((zoo / "layers.py").read_text(), "self.conv = nn.Conv1d(c_in")
    assert f"--> {zoo / 'layers.py'}:{line}:31" in err


def test_a_syntax_error_in_a_sibling_is_reported_in_that_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    zoo = copy_zoo(tmp_path)
    _edit(zoo / "base.py", "def forward(self, x):", "def forward(self, x)")
    code, diags = lint_json(capsys, zoo / "deep_model.py")
    assert code == 1
    line = line_of((zoo / "base.py").read_text(), "def forward(self, x)")
    assert [(d["code"], d["path"], d["line"]) for d in diags] == [("syntax", str(zoo / "base.py"), line)]


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("from ..outside import Helper", "`..outside` reaches above the package root enhancer_zoo/"),
        ("from .nothere import Helper", "no file `nothere.py` next to the model"),
    ],
)
def test_imports_that_leave_the_package_or_miss_are_refused_where_used(
    line: str, words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A name from a helper module archc cannot read is an error where the model uses it; an
    import the model never uses (a loss, a training helper) does not stop the lift."""
    zoo = copy_zoo(tmp_path)
    (tmp_path / "outside.py").write_text("Helper = 3\n")
    _edit(zoo / "deep_model.py", "from . import constants\n", f"from . import constants\n{line}\n")
    code, diags = lint_json(capsys, zoo / "deep_model.py")
    assert code == 0 and not [d for d in diags if d["severity"] == "error"], diags
    use = "ConvBlock(Helper)"
    _edit(zoo / "deep_model.py", "ConvBlock(constants.N_NUCLEOTIDES)", use)
    code, diags = lint_json(capsys, zoo / "deep_model.py")
    assert code == 1
    assert [(d["code"], d["path"], d["line"]) for d in diags] == [
        ("unsupported", str(zoo / "deep_model.py"), line_of((zoo / "deep_model.py").read_text(), use))
    ]
    assert words in diags[0]["message"] and "`Helper` (its helper module cannot be read" in diags[0]["message"]


def test_a_symlink_out_of_the_package_is_not_followed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    zoo = copy_zoo(tmp_path)
    secret = tmp_path / "secret.py"
    secret.write_text("DEFAULT_FILTERS = 32\nN_NUCLEOTIDES = 4\n")
    (zoo / "constants.py").unlink()
    (zoo / "constants.py").symlink_to(secret)
    code, diags = lint_json(capsys, zoo / "deep_model.py")
    assert code == 1
    assert diags[0]["code"] == "unsupported", diags
    assert "`constants.py` links outside the package (enhancer_zoo/)" in diags[0]["message"]


def test_a_reporter_maps_spans_of_parts_to_their_file() -> None:
    """Source.parts (for multi-file inputs): spans after the text land in the part, notes too."""
    from archc.core.diagnostics import Note, Reporter
    from archc.core.source import Source, Span

    part = Source("pkg/layers.py", "a = 1\nb = 2\n")
    main = Source("pkg/model.py", "x = 1\n", parts=((7, part),))
    assert main == Source("pkg/model.py", "x = 1\n")  # the parts do not change what the file is
    rep = Reporter(main)
    inside = rep.error("e", "in the part", Span(13, 14), notes=[Note("here", Span(7, 8)), Note("main", Span(0, 1))])
    assert inside.source is part and inside.location()[:2] == (2, 1)
    assert [n.span for n in inside.notes] == [Span(0, 1), None]
    own = rep.error("e", "in the main file", Span(0, 1), notes=[Note("part", Span(7, 8))])
    assert own.source is main and own.notes[0].span is None
    plain = Reporter(Source("m.arch", "abc")).error("e", "end", Span(3, 3))
    assert plain.source.path == "m.arch" and plain.span == Span(3, 3)


@pytest.mark.torch
def test_a_block_argument_named_like_its_layer_is_renamed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """`def __init__(self, ..., pool=2)` with `self.pool = nn.MaxPool1d(pool)` in a helper block."""
    zoo = copy_zoo(tmp_path)
    _edit(zoo / "layers.py", "pool_size=2):", "pool=2):")
    _edit(zoo / "layers.py", "nn.MaxPool1d(pool_size)", "nn.MaxPool1d(pool)")
    _edit(zoo / "deep_model.py", "ConvBlock(constants.DEFAULT_FILTERS, 64, kernel=3)",
          "ConvBlock(constants.DEFAULT_FILTERS, 64, kernel=3, pool=2)")
    text = lift_text(zoo / "deep_model.py", capsys, tmp_path)
    assert "block ConvBlock(c_in, c_out = 32, kernel = 5, pool_arg = 2) {" in text
    assert "ConvBlock(32, 64, kernel = 3, pool_arg = 2)" in text
    module = imported("enhancer_zoo.deep_model", tmp_path).TorchModel()
    assert_equivalent(module, text, (4, 200), torch_module)


@pytest.mark.torch
def test_a_directory_without_init_is_imported_by_its_name(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """`from enhancer_zoo.layers import ConvBlock` in enhancer_zoo/deep_model.py with no
    __init__.py (a namespace package): the directory's own layers.py, as with one."""
    zoo = copy_zoo(tmp_path)
    (zoo / "__init__.py").unlink()
    text = lift_text(zoo / "deep_model.py", capsys, tmp_path)
    assert "block ConvBlock(c_in, c_out = 32, kernel = 5, pool_size = 2) {" in text
    module = imported("enhancer_zoo.deep_model", FIXTURES).TorchModel()
    assert_equivalent(module, text, (4, 200), torch_module)
    # a name that is no file of the directory is some installed package: not read, used as unknown
    _edit(zoo / "deep_model.py", "from enhancer_zoo.layers import ConvBlock",
          "from enhancer_zoo.layers import ConvBlock\nfrom enhancer_zoo.training import fit")
    assert "block ConvBlock(" in lift_text(zoo / "deep_model.py", capsys, tmp_path)
