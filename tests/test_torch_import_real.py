"""`archc import MODEL.py` on model files written the way public genomics code is written.

Each fixture is lifted, compiled back and proven equal to the original (state_dict keys
and shapes, strict loading, eval outputs); refusals are checked for their code, message,
line and exit code.
"""

from __future__ import annotations

import json
import math
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from archc.cli import main
from archc.core.source import Source
from archc.frontends.files import Options
from archc.frontends.torch_import import read_py
from torch_helpers import assert_lift_equivalent, randomize

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "torch"
# Fixtures outside manifest.json: constructor arguments without defaults, packages the test
# environment lacks, integer token inputs, tuple outputs.
MORE = FIXTURES / "more"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def lift_text(path: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, *extra: str) -> str:
    out_file = tmp_path / f"{path.stem}.arch"
    code, _, err = run_cli(capsys, "import", str(path), "-o", str(out_file), *extra)
    assert code == 0, err
    return out_file.read_text()


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line and not line.lstrip().startswith("#"):
            return number
    raise AssertionError(f"{needle!r} is not in the text")


def code_of(arch_text: str) -> str:
    return "\n".join(line for line in arch_text.splitlines() if not line.lstrip().startswith("#"))


def _fake_packages(torch: Any) -> None:
    """Stand-ins for packages a fixture imports but the test environment may lack."""
    if "pytorch_lightning" not in sys.modules:
        pl = types.ModuleType("pytorch_lightning")

        class LightningModule(torch.nn.Module):  # type: ignore[misc, name-defined]
            def save_hyperparameters(self, *args: Any, **kwargs: Any) -> None:
                pass

        pl.LightningModule = LightningModule  # type: ignore[attr-defined]
        sys.modules["pytorch_lightning"] = pl


def original(path: Path, torch: Any, cls: str = "TorchModel", **kwargs: Any) -> Any:
    """The original model, built by running its source (test data; archc itself never runs it)."""
    _fake_packages(torch)
    namespace = types.ModuleType("original")
    exec(compile(path.read_text(), str(path), "exec"), namespace.__dict__)
    return getattr(namespace, cls)(**kwargs)


def assert_equivalent(
    module: Any, arch_text: str, input_shape: tuple[int, ...], torch: Any, **build: Any
) -> None:
    """The lift of a one-input, one-output model equals the original (torch_helpers)."""
    assert_lift_equivalent(module, arch_text, [input_shape], torch, **build)


def lint_json(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> tuple[int, list[Any]]:
    code, out, _ = run_cli(capsys, "lint", str(path), "--format", "json", *extra)
    return code, json.loads(out)


# ------------------------------------------------------------------ 1. module-level statements


@pytest.mark.torch
def test_module_level_setup_is_skipped(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = FIXTURES / "module_level_setup.py"
    text = lift_text(path, capsys, tmp_path)
    assert "length = 200" in text and "fc2 = linear(classes)" in text
    assert_equivalent(original(path, torch_module), text, (4, 200), torch_module)


SETUP_LINES = [
    "torch.backends.cudnn.benchmark = True",
    "torch.manual_seed(0)",
    "np.random.seed(1)",
    "logging.basicConfig(level=logging.INFO)",
    "logger = logging.getLogger(__name__)",
    "warnings.filterwarnings('ignore')",
    "__all__ = ['TorchModel']",
    "print('hello')",
    "os.environ['CUDA_VISIBLE_DEVICES'] = '0'",
    "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')",
]
SMALL = (
    "import logging\nimport os\nimport warnings\nimport numpy as np\nimport torch\n{setup}\n\n"
    "class TorchModel(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.conv = torch.nn.Conv1d(4, 8, 5)\n        self.fc = torch.nn.Linear(8 * 96, 2)\n\n"
    "    def forward(self, x):\n        return self.fc(torch.relu(self.conv(x)).flatten(1))\n"
)


@pytest.mark.parametrize("setup", SETUP_LINES)
def test_each_setup_statement_keeps_torch_readable(setup: str) -> None:
    loaded = read_py(Source("m.py", SMALL.format(setup=setup)), Options())
    assert loaded.tree is not None, [d.message for d in loaded.diagnostics]
    assert not loaded.diagnostics, [d.message for d in loaded.diagnostics]


def test_torch_nn_module_base_survives_setup_with_class() -> None:
    text = SMALL.format(setup="torch.backends.cudnn.benchmark = True").replace("TorchModel", "Net")
    loaded = read_py(Source("m.py", text), Options(class_name="Net", sets={"length": 100}))
    assert loaded.tree is not None and not loaded.diagnostics, [d.message for d in loaded.diagnostics]


# ------------------------------------------------------------------ 2. bases


@pytest.mark.torch
def test_unknown_package_base_is_lifted_with_a_note(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = MORE / "lightning_base.py"
    text = lift_text(path, capsys, tmp_path)
    assert "# base pl.LightningModule of `TorchModel`: read as nn.Module" in text
    assert_equivalent(original(path, torch_module), text, (4, 100), torch_module)


@pytest.mark.torch
def test_local_base_class_is_inherited(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = FIXTURES / "local_base.py"
    text = lift_text(path, capsys, tmp_path, "--set", "length=1536")
    assert "block Scaled() {" in text and "conv1 = conv1d(16, 5, padding = 2)" in text
    assert "conv1 = conv1d(32, 9, padding = 4)" in text
    assert_equivalent(original(path, torch_module), text, (4, 1536), torch_module)


# ------------------------------------------------------------------ 3. constructor arguments, 4. sizes


def test_required_argument_advice_works(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = MORE / "ctor_args.py"
    code, _, err = run_cli(capsys, "import", str(path))
    assert code == 1
    assert "error[unsupported]: the constructor needs `n_tasks`" in err
    assert f"{path}:{line_of(path.read_text(), 'def __init__(self, n_tasks')}:" in err
    assert "pass --set n_tasks=VALUE" in err
    # the advice works: no `bad-set`
    text = lift_text(path, capsys, tmp_path, "--set", "n_tasks=3")
    # (the list is longer than a line: archc import writes it as archc fmt does, one a line)
    assert "arch ctor_args(\n    n_tasks = 3,\n    seq_len = 249,\n    n_filters = 64,\n    kernel = 7,\n    pool_arg = 3," in text
    assert "# constructor argument `pool` is the parameter `pool_arg` (a layer is named `pool`)" in text


def test_one_argument_sizes_every_layer_it_sizes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = lift_text(MORE / "ctor_args.py", capsys, tmp_path, "--set", "n_tasks=3")
    body = code_of(text)
    assert "fc1 = linear(n_tasks * 8)" in body and "fc2 = linear(n_tasks)" in body
    assert "conv1 = conv1d(n_filters, kernel, padding = kernel // 2)" in body
    assert "conv2 = conv1d(n_filters * 2, kernel)" in body
    assert "maxpool1d(pool_arg)" in body and "dropout(dropout)" in body
    assert "classes" not in body


@pytest.mark.torch
@pytest.mark.parametrize("values", [{}, {"n_filters": 32, "kernel": 5}, {"pool": 2, "dropout": 0.1}])
def test_constructor_arguments_follow_set(
    values: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """The .arch lifted at the defaults, compiled with other values, equals the original built with them."""
    path = MORE / "ctor_args.py"
    text = lift_text(path, capsys, tmp_path, "--set", "n_tasks=3", "--set", "length=249")
    params = {("pool_arg" if k == "pool" else k): v for k, v in values.items()}
    module = original(path, torch_module, n_tasks=4, **values)
    assert_equivalent(module, text, (4, 249), torch_module, n_tasks=4, **params)


@pytest.mark.torch
def test_set_of_a_renamed_argument_lifts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = MORE / "ctor_args.py"
    text = lift_text(
        path, capsys, tmp_path, "--set", "n_tasks=2", "--set", "pool_arg=2", "--set", "length=249"
    )
    assert "pool_arg = 2" in text
    assert_equivalent(original(path, torch_module, n_tasks=2, pool=2), text, (4, 249), torch_module)


SIZES = (
    "import math\nimport numpy as np\nimport torch.nn as nn\n\nL = 101\n\n"
    "class TorchModel(nn.Module):\n    def __init__(self, width=8):\n        super().__init__()\n"
    "        self.conv = nn.Conv1d(4, {expr}, 1)\n\n    def forward(self, x):\n        return self.conv(x)\n"
)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("expr", "value", "written"),
    [
        ("math.floor(L / 4)", 25, "25"),
        ("math.ceil(width / 3)", 3, "-(-width // 3)"),
        ("int(np.floor(width * 2 / 3))", 5, "width * 2 // 3"),
        ("int(np.ceil(L / 2))", 51, "51"),
        ("round(L / 2 + 0.5)", 51, "51"),
        ("int(width * 1.5)", 12, "12"),
        ("round(width)", 8, "width"),
    ],
)
def test_size_computations_are_evaluated(expr: str, value: int, written: str, torch_module: Any) -> None:
    from archc.api import build_module
    from archc.syntax.unparse import unparse

    loaded = read_py(Source("m.py", SIZES.format(expr=expr)), Options(sets={"length": 10}))
    assert loaded.tree is not None, [d.message for d in loaded.diagnostics]
    text = unparse(loaded.tree)
    assert f"conv = conv1d({written}, 1)" in text, text
    assert build_module(text).conv.out_channels == value
    if "width" in written:  # it follows the argument
        assert build_module(text, width=12).conv.out_channels == eval(
            expr.replace("width", "12"), {"math": math, "np": _np(), "L": 101}
        )


def _np() -> Any:
    numpy = pytest.importorskip("numpy")
    return numpy


# ------------------------------------------------------------------ 5. new layers


@pytest.mark.torch
def test_new_layers_lift_to_an_equivalent_module(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = FIXTURES / "new_layers.py"
    text = lift_text(path, capsys, tmp_path, "--set", "length=100")
    body = code_of(text)
    for step in (
        "constantpad1d(padding = (2, 2), value = 0.0)",
        "groupnorm(4, num_channels = d)",
        "act = gelu",
        "elu(alpha = 0.5)",
        "convtranspose1d(d, 4, stride = 2, padding = 1)",
        "leakyrelu(negative_slope = 0.1)",
        "upsample(scale_factor = 2)",
        "adaptiveavgpool1d(50)",
        "identity",
        "| silu",
        "flip(2)",
        "transformerencoderlayer(4, dim_feedforward = 64)",
        "norm = layernorm",
        "| gelu",
        "mean(1)",
        "softplus(beta = 2.0)",
    ):
        assert step in body, step
    assert_equivalent(original(path, torch_module), text, (4, 100), torch_module)
    assert_equivalent(original(path, torch_module, d=16), text, (4, 100), torch_module, d=16)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("self.act = nn.ELU(inplace=True)", "`inplace` of nn.ELU is not supported"),
        ("self.act = nn.TransformerEncoderLayer(4, 2)", "without batch_first=True is not supported"),
    ],
)
def test_new_layer_refusals(
    line: str, words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (
        "import torch.nn as nn\n\nclass TorchModel(nn.Module):\n    def __init__(self):\n"
        f"        super().__init__()\n        {line}\n\n    def forward(self, x):\n"
        "        return self.act(x)\n"
    )
    path = tmp_path / "m.py"
    path.write_text(text)
    code, diags = lint_json(capsys, path, "--set", "length=10")
    assert code == 1
    assert diags[0]["code"] == "unsupported" and words in diags[0]["message"], diags
    assert diags[0]["line"] == 6


@pytest.mark.torch
def test_token_embedding_model(capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any) -> None:
    from archc.api import build_module

    path = MORE / "token_embedding.py"
    text = lift_text(path, capsys, tmp_path, "--set", "length=120")
    assert "input (batch, length)" in text
    assert "embedding = embedding(num_embeddings = 65, embedding_dim = embed_dim, padding_idx = 0)" in text
    module = original(path, torch_module)
    lifted = build_module(text)
    torch_module.manual_seed(0)
    randomize(module, torch_module)
    lifted.load_state_dict(module.state_dict(), strict=True)
    module.eval()
    lifted.eval()
    tokens = torch_module.randint(0, 65, (5, 120), generator=torch_module.Generator().manual_seed(3))
    with torch_module.no_grad():
        assert (module(tokens) - lifted(tokens)).abs().max().item() <= 1e-6


# ------------------------------------------------------------------ 7. diagnostics name the construct


def test_raw_parameter_is_refused_as_such(capsys: pytest.CaptureFixture[str]) -> None:
    path = FIXTURES / "raw_parameter.py"
    line = line_of(path.read_text(), "nn.Parameter(")
    code, _, err = run_cli(capsys, "import", str(path))
    assert code == 1
    assert "error[unsupported]: raw parameters (nn.Parameter) are lifted only as the `weight` and `bias` of" in err
    assert f"{path}:{line}:23" in err and "torch.zeros" not in err.split("\n")[0]
    code, diags = lint_json(capsys, path)
    assert code == 1
    assert [(d["code"], d["line"], d["message"]) for d in diags] == [
        ("unsupported", line, "raw parameters (nn.Parameter) are lifted only as the `weight` and `bias` of a "
         "helper module whose forward is one F.conv1d, F.conv2d or F.linear call on them")
    ]


def test_register_buffer_is_refused_as_such(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\nclass TorchModel(nn.Module):\n"
        "    def __init__(self):\n        super().__init__()\n"
        "        self.register_buffer('mask', torch.ones(4))\n        self.fc = nn.Linear(4, 2)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n"
    )
    code, diags = lint_json(capsys, path)
    assert code == 1
    assert (diags[0]["line"], diags[0]["message"]) == (
        7,
        "registered buffers (register_buffer) are not supported yet",
    )


# ------------------------------------------------------------------ 6. graphs


def assert_equivalent_outputs(
    module: Any, arch_text: str, input_shape: tuple[int, ...], torch: Any, **build: Any
) -> None:
    """As assert_equivalent, for models returning a tuple of tensors."""
    assert_lift_equivalent(module, arch_text, [input_shape], torch, **build)


@pytest.mark.torch
def test_branches_joins_and_two_outputs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = MORE / "profile_heads.py"
    text = lift_text(path, capsys, tmp_path, "--set", "length=200")
    body = code_of(text)
    assert (
        "residual { body = conv1d(2 * filters, 3, padding = 1) } shortcut { proj = conv1d(2 * filters, 1) }"
        in body
    )
    assert "left := h | narrow = conv1d(filters, 3, padding = 1) | relu" in body
    assert "trunk := cat(left, right, dim = 1)" in body
    assert "counts := trunk | mean(-1) | count_head = linear(n_tasks)" in body
    assert body.rstrip().endswith("return profile, counts\n}")
    assert_equivalent_outputs(original(path, torch_module), text, (4, 200), torch_module)
    assert_equivalent_outputs(
        original(path, torch_module, filters=8, n_tasks=3), text, (4, 200), torch_module, filters=8, n_tasks=3
    )


@pytest.mark.torch
def test_two_branch_cat_lifts(capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any) -> None:
    path = FIXTURES / "two_branch_cat.py"
    text = lift_text(path, capsys, tmp_path)
    body = code_of(text)
    assert "short := x | conv_short = conv1d(8, 5) | relu | global_max_pool" in body
    assert "cat(short, long, dim = 1) | fc = linear(classes)" in body
    assert_equivalent(original(path, torch_module), text, (4, 150), torch_module)


@pytest.mark.torch
@pytest.mark.parametrize("values", [{}, {"n_layers": 6, "n_filters": 8}])
def test_module_list_loop_becomes_a_for(
    values: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = MORE / "dilated_modulelist.py"
    text = lift_text(path, capsys, tmp_path, "--set", "length=300")
    body = code_of(text)
    assert "h := for i in range(1, n_layers + 1) {" in body
    assert "rconvs = conv1d(n_filters, 3, padding = 2 ** i, dilation = 2 ** i) | relu" in body
    assert "return profile, counts" in body
    assert_equivalent_outputs(original(path, torch_module, **values), text, (4, 300), torch_module, **values)


@pytest.mark.parametrize(
    ("init", "forward", "words"),
    [
        (
            "self.layers = nn.ModuleList([nn.Conv1d(4, 4, 1), nn.Conv1d(4, 4, 3, padding=1)])",
            "for m in self.layers:\n            x = x + m(x)",
            "item 1 of `self.layers` is not built the way item 0 is (the list is not built by a loop over range())",
        ),
        (
            "self.layers = nn.ModuleList([nn.Conv1d(4, 4, 1) for _ in range(2)])",
            "for m in self.layers:\n            y = m(x)",
            "the loop body must update exactly one tensor",
        ),
    ],
)
def test_module_list_refusals(
    init: str, forward: str, words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = (
        "import torch.nn as nn\n\nclass TorchModel(nn.Module):\n    def __init__(self):\n"
        f"        super().__init__()\n        {init}\n\n    def forward(self, x):\n        {forward}\n"
        "        return x\n"
    )
    path = tmp_path / "m.py"
    path.write_text(text)
    code, diags = lint_json(capsys, path, "--set", "length=10")
    assert code == 1
    assert words in diags[0]["message"], diags


def test_length_comes_from_a_seq_len_argument(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = lift_text(MORE / "ctor_args.py", capsys, tmp_path, "--set", "n_tasks=3")
    assert (
        "# length 249: fixed by the 3200 elements per sample of a view; lengths 243..251 all fit; 249 is "
        "the constructor's `seq_len`" in text
    )
    assert "# read when lifting, not followed by the .arch: seq_len, use_bn, act_arg" in text
    source = (
        SMALL.format(setup="")
        .replace("def __init__(self):", "def __init__(self, seq_len=480):")
        .replace("self.fc = torch.nn.Linear(8 * 96, 2)", "self.fc = torch.nn.Linear(8, 2)")
        .replace("torch.relu(self.conv(x)).flatten(1)", "torch.relu(self.conv(x)).amax(dim=-1)")
    )
    loaded = read_py(Source("m.py", source), Options())
    assert not loaded.diagnostics, [d.message for d in loaded.diagnostics]  # no length-unknown warning
    assert "length 480: the constructor's `seq_len`" in loaded.header
