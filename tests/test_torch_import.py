"""`archc import MODEL.py` / `archc lint MODEL.py`: lifting hand-written PyTorch modules.

The lifted .arch must compile to a module with the original's state_dict and outputs;
problems must come back as diagnostics on the .py's own lines, never as tracebacks.
"""

from __future__ import annotations

import json
import re
import types
from pathlib import Path
from typing import Any

import pytest
from archc.cli import main
from archc.core.source import Source
from archc.frontends.files import Options
from archc.frontends.torch_import import read_py
from archc.syntax.unparse import unparse
from seeds import MODELS, SEED_INPUT, seed_python
from torch_helpers import randomize

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "torch"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
OK = [e for e in MANIFEST if e["expect"] == "ok"]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def lift(text: str, path: str = "model.py", **sets: Any) -> tuple[Any, list[Any]]:
    loaded = read_py(Source(path, text), Options(sets=sets))
    return loaded, loaded.diagnostics


def code_of(arch_text: str) -> str:
    """The .arch text without its comment lines (the header explains where sizes came from)."""
    return "\n".join(line for line in arch_text.splitlines() if not line.lstrip().startswith("#"))


def line_of(text: str, needle: str) -> int:
    """1-based line of the first code line holding `needle` (so tests do not hard-code line numbers)."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line and not line.lstrip().startswith("#"):
            return number
    raise AssertionError(f"{needle!r} is not in the text")


def import_text(capsys: pytest.CaptureFixture[str], path: Path, tmp_path: Path, *extra: str) -> str:
    out_file = tmp_path / f"{path.stem}.arch"
    code, _, err = run_cli(capsys, "import", str(path), "-o", str(out_file), *extra)
    assert code == 0, err
    return out_file.read_text()


# ------------------------------------------------------------------ equivalence (torch)


def original_module(text: str) -> Any:
    """The original model, built by running its source (test data; archc itself never runs it)."""
    namespace = types.ModuleType("original")
    exec(compile(text, "<original>", "exec"), namespace.__dict__)
    return namespace.TorchModel()


def assert_equivalent(original: Any, arch_text: str, input_shape: tuple[int, ...], torch: Any) -> None:
    from archc.api import build_module

    lifted = build_module(arch_text)
    randomize(original, torch)
    want = original.state_dict()
    got = lifted.state_dict()
    assert set(got) == set(want)
    assert {k: tuple(v.shape) for k, v in got.items()} == {k: tuple(v.shape) for k, v in want.items()}
    lifted.load_state_dict(want, strict=True)
    original.eval()
    lifted.eval()
    for batch in (1, 5):
        x = torch.randn((batch, *input_shape), generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            expected = original(x)
            actual = lifted(x)
        assert actual.shape == expected.shape
        assert (actual - expected).abs().max().item() <= 1e-6


@pytest.mark.torch
@pytest.mark.parametrize("entry", OK, ids=[e["file"] for e in OK])
def test_fixture_lifts_to_an_equivalent_module(
    entry: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = FIXTURES / entry["file"]
    text = import_text(
        capsys, path, tmp_path, "--layout", entry["layout"], "--set", f"length={entry['length']}"
    )
    torch_module.manual_seed(0)
    assert_equivalent(original_module(path.read_text()), text, tuple(entry["input_shape"]), torch_module)


@pytest.mark.torch
@pytest.mark.usefixtures("seed_available")
@pytest.mark.parametrize("model", MODELS)
def test_seed_lifts_to_an_equivalent_module(
    model: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    # Nothing but the file: layout, alphabet and length are all inferred.
    source = seed_python(model, 10)
    path = tmp_path / f"{model}.py"
    path.write_text(source)
    text = import_text(capsys, path, tmp_path)
    assert "length = 1000" in text and "classes = 10" in text
    torch_module.manual_seed(0)
    assert_equivalent(original_module(source), text, SEED_INPUT[model], torch_module)


@pytest.mark.torch
def test_lifted_architecture_follows_other_lengths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """The hand-computed 64 * 30 of the original becomes an inferred size."""
    from archc.api import build_module

    text = import_text(capsys, FIXTURES / "residual_blocks.py", tmp_path)
    module = build_module(text, length=300).eval()
    with torch_module.no_grad():
        assert module(torch_module.zeros(2, 4, 300)).shape == (2, 20)


# ------------------------------------------------------------------ what the lifted .arch reads like


def test_every_ok_fixture_lifts_without_errors() -> None:
    for entry in OK:
        path = FIXTURES / entry["file"]
        loaded, diags = lift(path.read_text(), str(path), length=entry["length"])
        assert loaded.tree is not None, entry["file"]
        assert not [d for d in diags if d.is_error], (entry["file"], [d.message for d in diags])


def test_residual_blocks_read_like_hand_written(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = import_text(capsys, FIXTURES / "residual_blocks.py", tmp_path)
    assert "block ResidualBlock(channels, kernel_size = 5) {" in text
    assert "padding = kernel_size // 2" in text
    assert "blocks = seq { ResidualBlock(64) * 3 }" in text
    # aliases: conv and bn are registered inside the stem, as in the original
    assert "stem = seq { conv = conv1d(64, 9, padding = 4) | bn = batchnorm1d | relu }" in text
    assert "residual {" in text
    assert "1920" not in code_of(text) and "64 * 30" not in text  # the flatten size is inferred
    assert "fc = linear(classes)" in text
    assert "arch residual_blocks(classes = 20, length = 150, alphabet = 4)" in text
    assert text.startswith("# lifted from residual_blocks.py (class TorchModel) by archc import\n")


def test_init_arithmetic_is_followed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = import_text(capsys, FIXTURES / "init_arithmetic.py", tmp_path)
    assert "conv2 = conv1d(20, 5)" in text  # 2 * n_filters
    assert "fc1 = linear(32)" in text  # self.hidden; self.flat_size is inferred
    assert "head = seq { relu | dropout(0.25) | linear(classes) }" in text  # self._make_head()
    assert "length = 150" in text  # pinned by x.view(-1, self.flat_size)


@pytest.mark.usefixtures("seed_available")
def test_chromdragonn_layout_comes_from_its_permute(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "chromdragonn.py"
    path.write_text(seed_python("chromdragonn"))
    text = import_text(capsys, path, tmp_path)
    assert "input (batch, length, channels)" in text
    assert "permute(0, 2, 1) | contiguous | view(-1, alphabet, length, 1)" in text
    # L1Block, L2Block and L4Block differ only in numbers: one block with parameters
    assert "block LBlock(channels, kernel_size, padding) {" in text
    assert "layer1 = seq { LBlock(64, (3, 1), (1, 0)) * 2 }" in text
    assert "layer2 = seq { LBlock(128, (7, 1), (3, 0)) * 2 }" in text
    assert "layer4 = seq { LBlock(200, (7, 1), (3, 0)) * 2 }" in text
    assert "block L3Block() {" in text and "L1Block" not in text
    assert "fc1 = linear(1000) | bn4 = batchnorm1d | relu | dropout(0.3)" in text
    assert "4200" not in code_of(text)


@pytest.mark.usefixtures("seed_available")
@pytest.mark.parametrize(("model", "gone"), [("basset", "3600"), ("deepsea", "53 * 960")])
def test_magic_flatten_sizes_become_inferred(
    model: str, gone: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / f"{model}.py"
    path.write_text(seed_python(model))
    text = import_text(capsys, path, tmp_path)
    assert gone not in code_of(text) and "50880" not in code_of(text)
    assert "length = 1000" in text and "classes = 50" in text
    assert re.search(r"\| flatten\n", text)


def test_length_is_found_from_hand_computed_sizes() -> None:
    expected = {"two_conv_dropout.py": 150, "strided_dilated.py": 500, "functional_ops.py": 300,
                "danq_hybrid.py": 1000, "conv2d_encoding.py": 150, "fc_only.py": 150}
    for name, length in expected.items():
        loaded, diags = lift((FIXTURES / name).read_text(), name)
        assert loaded.tree is not None and not diags, (name, [d.message for d in diags])
        params = {p.name: p.default.value for p in loaded.tree.archs[0].params}  # type: ignore[union-attr]
        assert params["length"] == length, name


def test_unfixed_length_is_a_warning_asking_for_set() -> None:
    loaded, diags = lift((FIXTURES / "conv_gmp_fc.py").read_text(), "conv_gmp_fc.py")
    assert loaded.tree is not None
    assert [(d.code, d.is_error) for d in diags] == [("length-unknown", False)]
    assert "--set length=" in (diags[0].help or "")
    loaded, diags = lift((FIXTURES / "conv_gmp_fc.py").read_text(), "conv_gmp_fc.py", length=150)
    assert not diags


def test_layout_2d_is_found_from_conv2d() -> None:
    loaded, _ = lift((FIXTURES / "conv2d_encoding.py").read_text(), "conv2d_encoding.py")
    text = unparse(loaded.tree, loaded.header)
    assert "input (batch, channels, height: 1, length)" in text


# ------------------------------------------------------------------ diagnostics on the .py


def test_wrong_linear_is_reported_at_its_line(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "wrong_linear.py"
    line = line_of(path.read_text(), "self.fc1 = torch.nn.Linear(3500")
    code, out, _ = run_cli(capsys, "lint", str(path))
    assert code == 1
    assert f"{path}:{line}:" in out
    assert "3500" in out
    # With the intended length the checker's own mismatch appears, at the same line.
    code, out, _ = run_cli(capsys, "lint", str(path), "--set", "length=200", "--format", "json")
    assert code == 1
    (diag,) = [d for d in json.loads(out) if d["severity"] == "error"]
    assert (diag["code"], diag["line"]) == ("shape-mismatch", line)
    assert "3600" in diag["message"]


def test_a_join_inside_a_helper_block_lifts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Equivalence is proven by the manifest; here the block's body holds the branches and the cat."""
    path = FIXTURES / "helper_cat.py"
    out_file = tmp_path / "helper_cat.arch"
    code, _, err = run_cli(capsys, "import", str(path), "--set", "length=150", "-o", str(out_file))
    assert code == 0, err
    text = out_file.read_text()
    assert "block TwoKernels() {" in text
    assert "a := x | conv_short = conv1d(8, 5) | relu | global_max_pool" in text
    assert "cat(a, b, dim = 1)" in text


def test_lint_of_a_good_py_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "lint", str(FIXTURES / "two_conv_dropout.py"))
    assert code == 0, out
    assert "error[" not in out
    # lint checks the file as written: its hand-computed flatten size pins the length
    assert "warning[length-pinned]: `fc1` fixes its input size to 1300" in out
    assert out.strip().endswith("1 warning in 1 file")
    code, out, _ = run_cli(capsys, "lint", str(FIXTURES / "conv_gmp_fc.py"), "--set", "length=150")
    assert code == 0, out
    assert "no problems" in out


HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"


def model(init: str, forward: str, extra: str = "") -> str:
    def indent(block: str) -> str:
        return "\n".join("        " + line for line in block.strip().splitlines())

    return (
        f"{HEADER}{extra}class TorchModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        f"{indent(init)}\n\n    def forward(self, x):\n{indent(forward)}\n"
    )


BAD = {
    "unknown-layer": (model("self.act = nn.PReLU()\nself.fc = nn.Linear(4, 2)",
                            "x = self.act(x)\nreturn self.fc(x)"), "nn.PReLU()", "nn.PReLU"),
    "eval-mode dropout": (model("self.fc = nn.Linear(600, 2)",
                                "x = torch.flatten(x, 1)\nx = F.dropout(x, 0.5)\nreturn self.fc(x)"),
                          "F.dropout(", "training=self.training"),
    "branch on training": (model("self.fc = nn.Linear(600, 2)",
                                 "if self.training:\n    x = x * 2\nreturn self.fc(torch.flatten(x, 1))"),
                           "self.training", "self.training"),
    "unused module": (model("self.a = nn.Conv1d(4, 8, 3)\nself.spare = nn.Linear(3, 3)",
                            "return self.a(x)"), "nn.Linear(3, 3)", "never used"),
    "unknown name": (model("self.fc = nn.Linear(SIZE, 2)", "return self.fc(x)"), "SIZE", "SIZE"),
    "module list": (model("self.layers = nn.ModuleList([nn.ReLU(), 3])", "return x"), "nn.ModuleList",
                    "ModuleList"),
    "a tensor's power": (model("self.fc = nn.Linear(4, 2)", "return self.fc(x) ** 2"), "self.fc(x) ** 2",
                         "not this operation"),
    "tuple of a non-tensor": (model("self.fc = nn.Linear(4, 2)", "y = self.fc(x)\nreturn y, 3"),
                              "return y, 3", "tuple"),
    "unknown parameter": (model("self.c = nn.Conv1d(4, 8, 3, device='cuda')", "return self.c(x)"),
                          "device=", "device"),
    "softmax without dim": (model("self.fc = nn.Linear(600, 2)\nself.sm = nn.Softmax()",
                                  "return self.sm(self.fc(torch.flatten(x, 1)))"), "nn.Softmax()", "dim"),
}


NOW_LIFTED = {
    "projected shortcut": (model("self.a = nn.Conv1d(4, 8, 3, padding=1)\nself.p = nn.Conv1d(4, 8, 1)",
                                 "return self.a(x) + self.p(x)"),
                           "residual { a = conv1d(8, 3, padding = 1) } shortcut { p = conv1d(8, 1) }"),
    "two outputs": (model("self.fc = nn.Linear(4, 2)", "y = self.fc(x)\nreturn y, x"), "return y, x"),
}


@pytest.mark.parametrize("case", list(NOW_LIFTED))
def test_branches_that_used_to_be_refused_lift(case: str) -> None:
    text, want = NOW_LIFTED[case]
    loaded, diags = lift(text, length=150)
    assert loaded.tree is not None and not [d for d in diags if d.is_error], [d.message for d in diags]
    assert want in unparse(loaded.tree)


@pytest.mark.parametrize("case", list(BAD))
def test_unsupported_constructs_get_a_located_diagnostic(case: str, capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    text, where, words = BAD[case]
    path = tmp_path / "model.py"
    path.write_text(text)
    code, out, _ = run_cli(capsys, "lint", str(path), "--set", "length=150", "--format", "json")
    assert code == 1
    errors = [d for d in json.loads(out) if d["severity"] == "error"]
    assert errors, out
    assert errors[0]["line"] == line_of(text, where), errors
    assert words in errors[0]["message"] + (errors[0]["help"] or ""), errors


MALFORMED = {
    "syntax error": ("import torch\n\nclass TorchModel(torch.nn.Module:\n    pass\n", 3),
    "bad indentation": ("import torch\nclass TorchModel(torch.nn.Module):\n  def f(self):\n      x = 1\n    y = 2\n",
                        5),
    "null byte": ("import torch\x00\n", 1),
    "empty": ("", 1),
    "no module class": ("import torch\n\nclass Thing:\n    pass\n", 1),
    "no forward": ("import torch\n\nclass TorchModel(torch.nn.Module):\n    def __init__(self):\n"
                   "        super().__init__()\n", 3),
    "deep nesting": ("import torch\nX = " + "(" * 500 + "1" + ")" * 500 + "\n", None),
    "huge power": ("import torch\nclass TorchModel(torch.nn.Module):\n    def __init__(self):\n"
                   "        super().__init__()\n        self.fc = torch.nn.Linear(10 ** 10 ** 10, 2)\n"
                   "    def forward(self, x):\n        return self.fc(x)\n", 5),
    "recursive helper": ("import torch\nclass TorchModel(torch.nn.Module):\n    def __init__(self):\n"
                         "        super().__init__()\n        self.fc = self.make()\n    def make(self):\n"
                         "        return self.make()\n    def forward(self, x):\n        return self.fc(x)\n",
                         None),
    "very long sum": ("import torch\nN = " + "+".join(["1"] * 5000) + "\n", 1),
    "lambda": ("import torch\nclass TorchModel(torch.nn.Module):\n    def __init__(self):\n"
               "        super().__init__()\n        self.f = lambda t: t\n    def forward(self, x):\n"
               "        return self.f(x)\n", 5),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_py_gives_a_diagnostic_not_a_traceback(
    case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text, line = MALFORMED[case]
    path = tmp_path / "model.py"
    path.write_text(text)
    for command in ("lint", "import"):
        code, out, err = run_cli(capsys, command, str(path))
        assert code == 1, (command, out, err)
        assert "error[" in out + err
    code, out, _ = run_cli(capsys, "lint", str(path), "--format", "json")
    diags = json.loads(out)
    assert diags and diags[0]["severity"] == "error"
    if line is not None:
        assert diags[0]["line"] == line, diags


def test_syntax_error_names_python(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_text(MALFORMED["syntax error"][0])
    _, out, _ = run_cli(capsys, "lint", str(path))
    assert "error[syntax]: this is not valid Python" in out


def test_reading_never_executes_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    text = (
        "import pathlib\nimport torch\n"
        f"pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "raise SystemExit('this file must not be executed')\n\n\n"
        "def make(n):\n"
        f"    pathlib.Path({str(marker)!r}).write_text('ran')\n"
        "    return n\n\n\n"
        "class TorchModel(torch.nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.fc = torch.nn.Linear(600, 2)\n\n"
        "    def forward(self, x):\n        return self.fc(torch.flatten(x, 1))\n\n\n"
        "if __name__ == '__main__':\n"
        f"    pathlib.Path({str(marker)!r}).write_text('ran')\n"
    )
    path = tmp_path / "model.py"
    path.write_text(text)
    text_out = import_text(capsys, path, tmp_path)
    assert "fc = linear(classes)" in text_out
    code, _, _ = run_cli(capsys, "lint", str(path))
    assert code == 0
    assert not marker.exists()
    # A helper that would write the marker is only ever followed, never called.
    path.write_text(text.replace("torch.nn.Linear(600, 2)", "torch.nn.Linear(make(600), 2)"))
    run_cli(capsys, "lint", str(path))
    assert not marker.exists()


# ------------------------------------------------------------------ choosing the class


TWO = (
    "import torch.nn as nn\n\n\nclass A(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.fc = nn.Linear(600, 2)\n\n    def forward(self, x):\n        return self.fc(x.flatten(1))\n\n\n"
    "class B(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.fc = nn.Linear(600, 3)\n\n    def forward(self, x):\n        return self.fc(x.flatten(1))\n"
)


def test_several_classes_need_class(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "two.py"
    path.write_text(TWO)
    code, _, err = run_cli(capsys, "import", str(path))
    assert code == 1
    assert "several nn.Module classes: A, B" in err and "--class" in err
    text = import_text(capsys, path, tmp_path, "--class", "B")
    assert "classes = 3" in text
    code, _, err = run_cli(capsys, "import", str(path), "--class", "C")
    assert code == 1 and "no class `C`" in err


def test_the_only_class_not_used_by_another_is_the_model() -> None:
    text = (FIXTURES / "residual_blocks.py").read_text().replace("TorchModel", "Net")
    loaded, diags = lift(text, "net.py", length=150)
    assert loaded.tree is not None and not diags
    assert [b.name for b in loaded.tree.blocks] == ["ResidualBlock"]


def test_spans_point_into_the_py() -> None:
    path = FIXTURES / "danq_hybrid.py"
    text = path.read_text()
    loaded, _ = lift(text, str(path))
    arch = loaded.tree.archs[0]
    first = arch.body[0].steps[0]  # type: ignore[union-attr]
    assert first.name == "conv"
    assert text[first.term.span.start : first.term.span.end].startswith("nn.Conv1d(in_channels=4")


TWIN_BLOCKS = """import torch.nn as nn


class Narrow(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, 8, 5, padding=1)

    def forward(self, x):
        return self.conv(x)


class Wide(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(8, 8, 5, padding=PAD)

    def forward(self, x):
        return self.conv(x)


class TorchModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv1d(4, 8, 1)
        self.a = Narrow()
        self.b = Wide()

    def forward(self, x):
        return self.b(self.a(self.stem(x))).flatten(1)
"""


def test_blocks_equal_up_to_numbers_merge() -> None:
    loaded, diags = lift(TWIN_BLOCKS.replace("PAD", "2"), "twins.py", length=100)
    assert not diags
    text = unparse(loaded.tree)
    assert "block Narrow(padding) {" in text and "block Wide" not in text
    assert "a = Narrow(1)" in text and "b = Narrow(2)" in text


def test_no_merge_moves_a_diagnostic(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Wide's over-large padding is warned about on Wide's line, so Wide is not merged away."""
    source = TWIN_BLOCKS.replace("PAD", "5")
    loaded, _ = lift(source, "twins.py", length=100)
    text = unparse(loaded.tree)
    assert "block Narrow() {" in text and "block Wide() {" in text
    path = tmp_path / "twins.py"
    path.write_text(source)
    code, out, _ = run_cli(capsys, "lint", str(path), "--set", "length=100", "--format", "json")
    assert code == 0
    assert [(d["code"], d["line"]) for d in json.loads(out)] == [("padding-too-large", line_of(source, "padding=5"))]


def test_mutated_fixtures_never_crash() -> None:
    """Damaged model files (a line dropped, a number changed) end in diagnostics or a tree, never a bug."""
    import random

    rng = random.Random(1234)
    files = sorted(p for p in FIXTURES.glob("*.py") if p.name != "check_fixtures.py")
    for _ in range(60):
        path = rng.choice(files)
        lines = path.read_text().splitlines()
        i = rng.randrange(len(lines))
        if rng.random() < 0.5:
            del lines[i]
        else:
            lines[i] = re.sub(r"\b\d+\b", lambda _: str(rng.choice([0, 1, 3, 7, 1000])), lines[i])
        loaded, diags = lift("\n".join(lines) + "\n", path.name, length=150)
        assert not [d for d in diags if d.code == "internal"], [d.message for d in diags]
        assert loaded.tree is not None or any(d.is_error for d in diags)


def test_columns_count_characters_after_non_ascii_text(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    text = model('self.note = "größe µm"; self.act = nn.PReLU()', "return self.act(x)")
    path = tmp_path / "model.py"
    path.write_text(text, encoding="utf-8")
    _, out, _ = run_cli(capsys, "lint", str(path), "--format", "json")
    (diag,) = json.loads(out)
    line = text.splitlines()[diag["line"] - 1]
    assert diag["code"] == "unknown-layer"
    assert diag["column"] == line.index("nn.PReLU()") + 1
    assert diag["end_column"] == line.index("nn.PReLU()") + len("nn.PReLU") + 1


def test_non_ascii_attribute_names_are_refused() -> None:
    text = model("self.größe = nn.Linear(4, 2)", "return self.größe(x)")
    loaded, diags = lift(text, length=10)
    assert loaded.tree is None
    assert [d.code for d in diags] == ["bad-name"]
