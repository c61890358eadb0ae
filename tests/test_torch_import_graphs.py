"""`archc import` of models with several forward inputs, dict outputs and nn.ModuleDicts.

Each fixture class is lifted, compiled back and proven equal to the original: state_dict
keys and shapes, strict loading, and eval outputs for every input (tuples and dicts compared
entry by entry).
"""

from __future__ import annotations

import io
import types
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from archc.cli import main
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_helpers import assert_lift_equivalent

MORE = Path(__file__).resolve().parent / "fixtures" / "torch" / "more"
TWO = MORE / "two_inputs.py"
DICTS_PY = MORE / "module_dicts.py"


def lift(path: Path, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["import", str(path), *argv])
    return code, out.getvalue(), err.getvalue()


def code_of(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#"))


def original(path: Path, cls: str, **kwargs: Any) -> Any:
    """The original model, built by running its source (test data; archc itself never runs it)."""
    namespace = types.ModuleType("original")
    exec(compile(path.read_text(), str(path), "exec"), namespace.__dict__)
    return getattr(namespace, cls)(**kwargs)


def assert_equivalent(module: Any, arch_text: str, shapes: list[tuple[int, ...]], torch: Any,
                      **build: Any) -> None:
    assert_lift_equivalent(module, arch_text, shapes, torch, **build)


CASES = [
    (
        "SeqAndTracks",
        {},
        [(4, 200), (2, 200)],
        [
            "input tracks (batch, channels: n_tracks, length)",
            "t := tracks | track_conv = conv1d(filters // 2, 5, padding = 2) | relu",
            "h := cat(s, t, dim = 1) | mix = conv1d(filters, 3, padding = 1) | relu",
            "return {profile: profile, counts: counts}",
        ],
    ),
    (
        "SeqAndTracks",
        {"n_tracks": 3, "filters": 16, "n_tasks": 1},
        [(4, 200), (3, 200)],
        ["input tracks (batch, channels: n_tracks, length)"],
    ),
    (
        "SeqAndCovariates",
        {},
        [(4, 200), (6,)],
        [
            "input covariates (batch, features: n_covariates)",
            "c := covariates | cov_fc = linear(8) | relu",
            "cat(h, c, dim = 1) | out = linear(n_out)",
        ],
    ),
    (
        "SeqAndCovariates",
        {"n_covariates": 2, "n_out": 1},
        [(4, 200), (2,)],
        [],
    ),
    (
        "AccessibilityGate",
        {},
        [(4, 200), (1, 200)],
        [
            "input atac (batch, channels: 1, length)",
            "h := mul(h2, h3) | relu",
            "add(h, h4) | global_max_pool | fc = linear(classes)",
        ],
    ),
]


@pytest.mark.torch
@pytest.mark.parametrize(("cls", "kwargs", "shapes", "lines"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_several_inputs_lift_to_an_equivalent_module(
    cls: str, kwargs: dict[str, int], shapes: list[tuple[int, ...]], lines: list[str], torch_module: Any
) -> None:
    sets = [a for k, v in kwargs.items() for a in ("--set", f"{k}={v}")]
    code, text, err = lift(TWO, "--class", cls, "--set", "length=200", *sets)
    assert code == 0, err
    body = code_of(text)
    for line in lines:
        assert line in body, body
    assert_equivalent(original(TWO, cls, **kwargs), text, shapes, torch_module)


@pytest.mark.torch
def test_lifted_parameters_follow_the_constructor(torch_module: Any) -> None:
    """One lift at the defaults, built at other values, equals the original built at them."""
    code, text, err = lift(TWO, "--class", "SeqAndTracks", "--set", "length=200")
    assert code == 0, err
    kwargs = {"n_tracks": 5, "filters": 8, "n_tasks": 3}
    assert_equivalent(original(TWO, "SeqAndTracks", **kwargs), text, [(4, 200), (5, 200)], torch_module,
                      **kwargs)


def test_an_input_used_as_it_is_is_refused_at_its_argument() -> None:
    code, out, err = lift(TWO, "--class", "RawFeatures", "--set", "length=200")
    assert code == 1 and out == ""
    assert "error[unsupported]: forward's input `extra` first feeds nothing" in err
    assert "nn.Conv1d or nn.Linear it first feeds" in err
    line = next(i for i, t in enumerate(TWO.read_text().splitlines(), 1) if "def forward(self, x, extra)" in t)
    assert f"two_inputs.py:{line}:26" in err
    assert "Traceback" not in err


DICTS = '''
import torch
import torch.nn as nn


class Heads(nn.Module):
    def __init__(self, n_tasks=2):
        super().__init__()
        self.body = nn.Sequential(nn.Conv1d(4, 16, 9, padding=4), nn.ReLU())
        self.profile = nn.Conv1d(16, n_tasks, 1)
        self.counts = nn.Linear(16, n_tasks)

    def forward(self, x):
        h = self.body(x)
        return {"profile": self.profile(h), "log_counts": self.counts(h.mean(dim=2))}


class One(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 5)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return dict(logits=self.fc(torch.amax(self.conv(x), dim=2)))


class BadKey(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(4, 8, 5)

    def forward(self, x):
        return {"a b": self.conv(x)}
'''


@pytest.mark.torch
@pytest.mark.parametrize(("cls", "ret"), [
    ("Heads", "return {profile: h2, log_counts: log_counts}"),
    ("One", "return {logits: h}"),
])
def test_dict_returns_lift_to_an_equivalent_module(cls: str, ret: str, tmp_path: Path, torch_module: Any) -> None:
    path = tmp_path / "heads.py"
    path.write_text(DICTS)
    code, text, err = lift(path, "--class", cls, "--set", "length=100")
    assert code == 0, err
    assert ret in code_of(text)
    assert_equivalent(original(path, cls), text, [(4, 100)], torch_module)


def test_a_dict_key_that_is_not_plain_text_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "heads.py"
    path.write_text(DICTS)
    code, out, err = lift(path, "--class", "BadKey", "--set", "length=100")
    assert code == 1 and out == ""
    assert "the output key 'a b' is not plain text" in err
    line = next(i for i, t in enumerate(DICTS.splitlines(), 1) if '"a b"' in t)
    assert f"heads.py:{line}:" in err


@pytest.mark.torch
def test_module_dict_heads_lift_to_an_equivalent_module(torch_module: Any) -> None:
    code, text, err = lift(DICTS_PY, "--class", "SpeciesHeads", "--set", "length=200")
    assert code == 0, err
    body = code_of(text)
    assert "species_human = 24, species_mouse = 12" in body
    assert "human := h | heads.human = conv1d(species_human, 1) | softplus" in body
    assert "return {human: human, mouse: mouse}" in body
    assert_equivalent(original(DICTS_PY, "SpeciesHeads"), text, [(4, 200)], torch_module)
    # One entry of the dict default, set: the original built with that dict.
    assert_equivalent(original(DICTS_PY, "SpeciesHeads", species={"human": 5, "mouse": 12}), text, [(4, 200)],
                      torch_module, species_human=5)


@pytest.mark.torch
def test_module_dict_filled_by_key_and_read_by_attribute(torch_module: Any) -> None:
    code, text, err = lift(DICTS_PY, "--class", "AssayHeads", "--set", "length=200")
    assert code == 0, err
    body = code_of(text)
    for line in ("dnase := h2 | heads.dnase = linear(1)", "chip := h2 | heads.chip = linear(1)",
                 "shape := h | profile.shape = conv1d(2, 1)",
                 "return {dnase: dnase, atac: atac, chip: chip, shape: shape}"):
        assert line in body, body
    assert_equivalent(original(DICTS_PY, "AssayHeads"), text, [(4, 200)], torch_module)
    code, text, err = lift(DICTS_PY, "--class", "AssayHeads", "--set", "length=200", "--set", "assays=[a1,b2]")
    assert code == 0, err
    assert_equivalent(original(DICTS_PY, "AssayHeads", assays=["a1", "b2"]), text, [(4, 200)], torch_module)


def test_an_unused_module_dict_entry_is_refused() -> None:
    code, out, err = lift(DICTS_PY, "--class", "SpareHead", "--set", "length=200")
    assert code == 1 and out == ""
    assert "error[unsupported]: module `heads['spare']` is never used by forward" in err
    line = next(i for i, t in enumerate(DICTS_PY.read_text().splitlines(), 1) if '"spare": nn.Linear' in t)
    assert f"module_dicts.py:{line}:71" in err


@pytest.mark.parametrize(("entry", "message"), [
    ('nn.ModuleDict({"a-b": nn.Linear(8, 1)})', "the nn.ModuleDict key 'a-b' is not a name archc can write"),
    ('nn.ModuleDict({"seq": nn.Linear(8, 1)})', "the nn.ModuleDict key 'seq' is not a name archc can write"),
    ('nn.ModuleDict({"a": 3})', "nn.ModuleDict holds modules, not a"),
])
def test_module_dict_refusals_name_the_entry(entry: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.conv = nn.Conv1d(4, 8, 5)\n"
        f"        self.heads = {entry}\n\n    def forward(self, x):\n"
        "        return torch.amax(self.conv(x), dim=2)\n"
    )
    code, out, err = lift(path, "--set", "length=50")
    assert code == 1 and out == ""
    assert message in err, err
    assert "m.py:9:" in err and "Traceback" not in err


PAD_4D = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class PaddedConv2d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, (4, 19))
        self.fc = nn.Linear(8 * 50, 2)

    def forward(self, x):
        x = x.unsqueeze(1)
        x = F.pad(x, (9, 9), mode="constant", value=0)
        x = F.relu(self.conv(x))
        x = x.view(x.size(0), -1)
        return self.fc(x)
'''


@pytest.mark.torch
def test_two_pads_of_a_4d_tensor_pad_its_last_axis(tmp_path: Path, torch_module: Any) -> None:
    """F.pad(x, (9, 9)) of a 4-D tensor pads the last axis only, as torch does (it used to be
    lifted as a 2-D pad of two values, which the checker refused)."""
    path = tmp_path / "pad4.py"
    path.write_text(PAD_4D)
    code, text, err = lift(path)
    assert code == 0, err
    assert "unsqueeze(1) | constantpad2d((9, 9, 0, 0), value = 0) | conv = conv2d(8, (4, 19))" in text
    assert_equivalent(original(path, "PaddedConv2d"), text, [(4, 50)], torch_module)


ZERO_PADS = '''
import torch
import torch.nn as nn


class DeepBindPadded(nn.Module):
    def __init__(self, motifs=16):
        super().__init__()
        self.pad = nn.ZeroPad2d((11, 12, 0, 0))
        self.conv = nn.Conv2d(1, motifs, (4, 24))
        self.edge = nn.ConstantPad2d(1, 0.5)
        self.pad1 = nn.ZeroPad1d(2)
        self.fc = nn.Linear(motifs, 1)

    def forward(self, x):
        x = self.pad(x.unsqueeze(1))
        x = torch.relu(self.conv(x))
        x = self.edge(x).mean(dim=2)
        x = torch.amax(self.pad1(x), dim=2)
        return torch.sigmoid(self.fc(x))
'''


@pytest.mark.torch
def test_zero_and_constant_pad_modules_lift(tmp_path: Path, torch_module: Any) -> None:
    path = tmp_path / "pads.py"
    path.write_text(ZERO_PADS)
    code, text, err = lift(path, "--set", "length=101")
    assert code == 0, err
    for part in ("pad = constantpad2d(padding = (11, 12, 0, 0), value = 0.0)",
                 "edge = constantpad2d(padding = 1, value = 0.5)", "pad1 = constantpad1d(padding = 2, value = 0.0)"):
        assert part in text, text
    assert_equivalent(original(path, "DeepBindPadded"), text, [(4, 101)], torch_module)


BASENJI_GELU = '''
import torch
import torch.nn as nn


class GELU(nn.Module):
    def __init__(self, **kwargs):
        super(GELU, self).__init__(**kwargs)

    def forward(self, x):
        return torch.sigmoid(1.702 * x) * x


class ConvBlock(nn.Module):
    def __init__(self, cin, cout, width=5, **kwargs):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, width, padding=width // 2)
        self.act = GELU()

    def forward(self, x):
        return self.act(self.conv(x))


class Model(nn.Module):
    def __init__(self, scale=0.5):
        super().__init__()
        self.b1 = ConvBlock(4, 16)
        self.b2 = ConvBlock(16, 8, width=3)
        self.fc = nn.Linear(8, 1)
        self.scale = scale

    def forward(self, x):
        x = self.b2(self.b1(x)) * self.scale
        return self.fc(torch.amax(x, dim=2))


class PassesKwargs(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = ConvBlock(4, 8, dilation=2)

    def forward(self, x):
        return self.b(x)


class PassesAModule(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = ConvBlock(4, 8, norm=nn.BatchNorm1d(8))

    def forward(self, x):
        return self.b(x)
'''


@pytest.mark.torch
def test_helper_kwargs_passed_to_super_and_a_scaled_sigmoid_gelu(tmp_path: Path, torch_module: Any) -> None:
    """Basenji-style `torch.sigmoid(1.702 * x) * x` in a helper whose constructor takes
    **kwargs only to hand them to nn.Module: `scale(1.702)` and a `mul` merge; `x * number`
    following a constructor argument is `scale(scale)`."""
    path = tmp_path / "gelu.py"
    path.write_text(BASENJI_GELU)
    code, text, err = lift(path, "--class", "Model", "--set", "length=60")
    assert code == 0, err
    assert "block GELUBlock() {\n    h := x | scale(1.702) | sigmoid\n    mul(h, x)\n}" in text
    assert "b2 = ConvBlock(16, 8, width = 3) | scale(scale)" in text
    assert_equivalent(original(path, "Model"), text, [(4, 60)], torch_module)
    assert_equivalent(original(path, "Model", scale=2.0), text, [(4, 60)], torch_module, scale=2.0)


@pytest.mark.torch
def test_a_known_keyword_into_a_helpers_kwargs_lifts(tmp_path: Path, torch_module: Any) -> None:
    """`dilation=2` goes into **kwargs, which this ConvBlock ignores: the lift ignores it too."""
    path = tmp_path / "gelu.py"
    path.write_text(BASENJI_GELU)
    code, text, err = lift(path, "--class", "PassesKwargs", "--set", "length=60")
    assert code == 0, err
    assert_equivalent(original(path, "PassesKwargs"), text, [(4, 60)], torch_module)


def test_a_module_into_a_helpers_kwargs_is_refused_at_it(tmp_path: Path) -> None:
    path = tmp_path / "gelu.py"
    path.write_text(BASENJI_GELU)
    code, out, err = lift(path, "--class", "PassesAModule", "--set", "length=60")
    assert code == 1 and out == ""
    assert ("`norm` goes into the **kwargs of `ConvBlock` as a nn.BatchNorm1d module; archc lifts a helper "
            "module's **kwargs when what is passed into it is known") in err
    line = next(i for i, t in enumerate(BASENJI_GELU.splitlines(), 1) if "norm=nn.BatchNorm1d(8)" in t)
    assert f"gelu.py:{line}:" in err


@pytest.mark.torch
def test_a_condition_on_an_argument_passed_through_two_helpers(tmp_path: Path, torch_module: Any) -> None:
    """`if self.log:` in a helper whose `log` comes from another helper's argument: both are
    lifted at the model's value (the outer one takes it from its own call)."""
    path = tmp_path / "cond.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Transform(nn.Module):\n"
        "    def __init__(self, width, log=False):\n        super().__init__()\n"
        "        self.log = log\n        self.conv = nn.Conv1d(4, width, 3)\n\n"
        "    def forward(self, x):\n        if self.log:\n            x = torch.exp(x)\n"
        "        return self.conv(x)\n\n\nclass Wrapper(nn.Module):\n    def __init__(self, log):\n"
        "        super().__init__()\n        self.t = Transform(8, log=log)\n\n    def forward(self, x):\n"
        "        return self.t(x)\n\n\nclass M(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.a = Wrapper(True)\n        self.b = nn.Conv1d(8, 4, 1)\n"
        "        self.c = Wrapper(False)\n\n    def forward(self, x):\n        return self.c(self.b(self.a(x)))\n"
    )
    code, text, err = lift(path, "--class", "M", "--set", "length=50")
    assert code == 0, err
    assert "exp" in code_of(text)
    assert_equivalent(original(path, "M"), text, [(4, 50)], torch_module)


CONFIGURED = MORE / "configured_blocks.py"


@pytest.mark.torch
def test_helpers_configured_by_their_arguments_lift_per_configuration(torch_module: Any) -> None:
    """`if batch_norm`, `pool_size is not None`, `dropout > 0`, a module argument and **kwargs
    handed on: each helper is lifted at each call's values of what it branches on (the
    configurations differing only in numbers merge back into one block with a parameter)."""
    code, text, err = lift(CONFIGURED, "--set", "length=120")
    assert code == 0, err
    body = code_of(text)
    for part in (
        "block GELUBlock() {\n    h := x | scale(1.702) | sigmoid\n    mul(h, x)\n}",
        "conv = conv1d(filters, kernel_size, padding = kernel_size // 2, bias = false) | bn = batchnorm1d",
        "block ConvBlock3(in_ch, filters, kernel_size = 1) {",
        "conv = conv1d(filters, kernel_size, padding = kernel_size // 2) | drop = dropout(0.2)",
        "stem = ConvBlock(in_ch = 4, filters = filters, kernel_size = 9, kernel_size2 = 3)",
        "mix = ConvBlock3(in_ch = filters, filters = 16) | mean(2)",
    ):
        assert part in body, body
    assert_equivalent(original(CONFIGURED, "TorchModel"), text, [(4, 120)], torch_module)
    assert_equivalent(original(CONFIGURED, "TorchModel", n_cells=3, filters=8), text, [(4, 120)], torch_module,
                      n_cells=3, filters=8)


def test_a_helper_branching_on_a_value_it_cannot_know_is_refused(tmp_path: Path) -> None:
    """A helper's argument that is itself an argument of another helper's call stays unknown."""
    path = tmp_path / "m.py"
    path.write_text(CONFIGURED.read_text().replace(
        "self.tower = ConvTower(filters, filters, repeat=2, activation=self.act, kernel_size=5, pool_size=2)",
        "self.tower = ConvTower(filters, filters, repeat=2, activation=nn.Conv1d(filters, filters, 1), "
        "kernel_size=5, pool_size=2)",
    ))
    code, out, err = lift(path, "--set", "length=120")
    assert code == 1 and out == ""
    assert ("`ConvBlock` is lifted at each call's value of `activation`, but this call gives a nn.Conv1d "
            "module") in err
    line = next(i for i, t in enumerate(CONFIGURED.read_text().splitlines(), 1) if "activation=activation" in t)
    assert f"m.py:{line}:64" in err


WRAPPER = (
    "import torch\nimport torch.nn as nn\n\n\nclass Residual(nn.Module):\n    def __init__(self, fn):\n"
    "        super().__init__()\n        self.fn = fn\n\n    def forward(self, x):\n        return x + self.fn(x)\n\n\n"
    "class TorchModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.body = Residual(nn.Conv1d(4, 4, 3, padding=1))\n        self.shared = nn.Conv1d(4, 4, 1)\n"
    "        self.fc = nn.Linear(4, 2)\n\n"
    "    def forward(self, x):\n        return self.fc(self.body(x).amax(dim=2))\n"
)


@pytest.mark.torch
def test_a_wrapper_given_a_module_built_in_the_call_owns_it(tmp_path: Path, torch_module: Any) -> None:
    """`Residual(nn.Conv1d(...))`: the wrapper is lifted with that module as its own layer
    (state_dict key `body.fn.weight`, as in the original)."""
    path = tmp_path / "m.py"
    path.write_text(WRAPPER.replace("        self.shared = nn.Conv1d(4, 4, 1)\n", ""))
    code, text, err = lift(path, "--set", "length=50")
    assert code == 0, err
    assert "fn = conv1d(4, 3, padding = 1)" in text
    assert_equivalent(original(path, "TorchModel"), text, [(4, 50)], torch_module)


def test_a_wrapper_given_a_module_with_weights_of_the_caller_is_refused(tmp_path: Path) -> None:
    """`Residual(self.shared)`: the module would be registered twice (its weights are the model's)."""
    path = tmp_path / "m.py"
    path.write_text(WRAPPER.replace("Residual(nn.Conv1d(4, 4, 3, padding=1))", "Residual(self.shared)")
                    .replace("        self.body = Residual(self.shared)\n        self.shared = nn.Conv1d(4, 4, 1)\n",
                             "        self.shared = nn.Conv1d(4, 4, 1)\n        self.body = Residual(self.shared)\n"))
    code, out, err = lift(path, "--set", "length=50")
    assert code == 1 and out == ""
    assert "`Residual` is lifted at each call's value of `fn`, but this call gives a nn.Conv1d module" in err
    assert "m.py:18:" in err


KWARGS_CALLS = '''
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, cin, cout, **kwargs):
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, 3, **kwargs)

    def forward(self, x):
        return torch.relu(self.conv(x))


class M(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block(4, 8)
        self.b = Block(8, 8, padding=1)
        self.c = Block(8, 4, dilation=2)

    def forward(self, x):
        return self.c(self.b(self.a(x)))
'''


@pytest.mark.torch
def test_keywords_into_a_helpers_kwargs_lift_a_block_per_set(tmp_path: Path, torch_module: Any) -> None:
    """The first call passes nothing into **kwargs, later ones do: each gets its own block (the
    first block stays the plain one)."""
    path = tmp_path / "kw.py"
    path.write_text(KWARGS_CALLS)
    code, text, err = lift(path, "--set", "length=50")
    assert code == 0, err
    body = code_of(text)
    for part in ("block Block(cin, cout) { conv = conv1d(cout, 3) | relu }",
                 "block Block2(cin, cout) { conv = conv1d(cout, 3, padding = 1) | relu }",
                 "block Block3(cin, cout) { conv = conv1d(cout, 3, dilation = 2) | relu }"):
        assert part in body, body
    assert_equivalent(original(path, "M"), text, [(4, 50)], torch_module)


FINE = MORE / "fine_tune.py"


def _fine_tune_original(cls: str, **kwargs: Any) -> Any:
    namespace = types.ModuleType("original")
    exec(compile(FINE.read_text(), str(FINE), "exec"), namespace.__dict__)
    if cls == "FineTuned" and "trunk" not in kwargs:
        kwargs["trunk"] = namespace.ConvTrunk()  # what the annotation names, at its defaults
    return getattr(namespace, cls)(**kwargs)


@pytest.mark.torch
@pytest.mark.parametrize(("cls", "length", "lines"), [
    ("FineTuned", 640, [
        "# constructor argument `trunk` is built as `ConvTrunk()`, the class its annotation names",
        "# freezing parameters (requires_grad) is training state, not kept",
        "    trunk = ConvTrunk\n",
    ]),
    ("MaybePretrained", 400, ["    trunk = ConvTrunk(n_filters = 32, seq_len = 400)\n"]),
    ("TrunkWithHead", 320, [
        "    trunk = ConvTrunk(n_filters, seq_len = seq_len)\n    head = linear(n_tasks)\n",
        "fixed by the 960 input features of `head`",
    ]),
])
def test_trunks_handed_in_or_sized_by_what_they_keep_lift(
    cls: str, length: int, lines: list[str], torch_module: Any
) -> None:
    code, text, err = lift(FINE, "--class", cls)
    assert code == 0, err
    for line in lines:
        assert line in text, text
    assert_equivalent(_fine_tune_original(cls), text, [(4, length)], torch_module)


@pytest.mark.torch
def test_a_size_a_helper_keeps_follows_its_arguments(torch_module: Any) -> None:
    """`nn.Linear(self.trunk.out_features, ...)`: the trunk's __init__ at the call's arguments."""
    code, text, err = lift(FINE, "--class", "TrunkWithHead")
    assert code == 0, err
    kwargs = {"n_filters": 16, "seq_len": 480, "n_tasks": 2}
    assert_equivalent(_fine_tune_original("TrunkWithHead", **kwargs), text, [(4, 480)], torch_module,
                      **kwargs, length=480)


def test_a_module_argument_typed_only_as_a_module_is_refused_with_how_to_fix(tmp_path: Path) -> None:
    err = refused(
        tmp_path / "tune.py",
        "import torch.nn as nn\n\n\n"
        "class Tune(nn.Module):\n"
        "    def __init__(self, base: nn.Module, n_out=2):\n"
        "        super().__init__()\n"
        "        self.base = base\n"
        "        self.fc = nn.Linear(64, n_out)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(self.base(x))\n",
    )
    assert "error[unsupported]: the constructor needs `base`" in err
    assert "tune.py:5:24" in err
    assert "annotate `base` with the class of the module passed in (`base: ClassName`)" in err


def test_a_kept_value_that_is_a_module_is_named_as_such(tmp_path: Path) -> None:
    err = refused(
        tmp_path / "kept.py",
        "import torch.nn as nn\n\n\n"
        "class Trunk(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.conv = nn.Conv1d(4, 8, 3)\n\n"
        "    def forward(self, x):\n"
        "        return self.conv(x)\n\n\n"
        "class Model(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.trunk = Trunk()\n"
        "        self.fc = nn.Linear(self.trunk.conv, 2)\n\n"
        "    def forward(self, x):\n"
        "        return self.fc(self.trunk(x))\n",
        "--class", "Model",
    )
    assert "`.conv` of a Trunk module is not a number archc can read" in err
    assert "kept.py:17:" in err


LIST_RETURN = '''
import torch
from torch import nn


class TwoHeads(nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.conv = nn.Conv1d(4, 16, 5, padding=2)
        self.reg = nn.Linear(16, 1)
        self.cls = nn.Linear(16, n_classes)

    def forward(self, x):
        h = torch.relu(self.conv(x)).mean(dim=2)
        return [self.reg(h), self.cls(h)]
'''


@pytest.mark.torch
def test_a_list_return_lifts_as_a_tuple_of_the_same_tensors(tmp_path: Path, torch_module: Any) -> None:
    path = tmp_path / "two_heads.py"
    path.write_text(LIST_RETURN)
    code, text, err = lift(path, "--set", "length=100")
    assert code == 0, err
    assert "# forward returns a list: the lifted module returns a tuple of the same tensors" in text
    assert "    return h2, h3\n" in text
    module = original(path, "TwoHeads", n_classes=5)
    as_list = module.forward
    module.forward = lambda x: tuple(as_list(x))  # the lifted module returns a tuple: compare entries
    assert isinstance(as_list(torch_module.zeros(1, 4, 100)), list)
    assert_equivalent(module, text, [(4, 100)], torch_module, n_classes=5)


FORMS = MORE / "common_forms.py"


def _forms_original(cls: str, **kwargs: Any) -> Any:
    pytest.importorskip("einops")  # a test dependency (pyproject `test` extra): the originals use it
    namespace = types.ModuleType("common_forms")
    exec(compile(FORMS.read_text(), str(FORMS), "exec"), namespace.__dict__)
    return getattr(namespace, cls)(**kwargs)


@pytest.mark.torch
@pytest.mark.parametrize(("cls", "lines"), [
    ("DilatedProfile", [
        # one module text, six modules: each Residual keeps its own dilation (it once merged into one)
        "block Residual(dilation) {",
        "        Residual(2)\n        Residual(4)\n        Residual(8)\n",
        "        Residual(64)\n",
        "h2 := h | profile = seq { conv1d(n_tasks, 15, padding = 7) | permute(0, 2, 1) }",
        "h3 := h | counts = seq { mean(dim = 2) | linear(n_tasks) }",
        "# the modules handed to `Residual` are lifted at their sizes: there, n_filters is read when lifting",
    ]),
    ("EinopsFlatten", ["| permute(0, 2, 1) | permute(0, 2, 1)", "| flatten(start_dim = 1, end_dim = 2)"]),
    ("TransposedTail", ["relu | transpose(dim0 = 1, dim1 = 2)", "linear(hidden) | permute(0, 2, 1)"]),
    ("NamedActivation", ["act = gelu"]),
    ("ReverseComplementMean", ["h2 := x | flip(1, 2) | conv | relu | global_max_pool | fc", "mean(h, h2)"]),
    ("BiLstmStates", ["h2 := h | select(1, -1) | crop(0, hidden)", "h3 := h | select(1, 0) | crop(hidden, 0)",
                      "cat(h2, h3, dim = 1) | fc = linear(n_out)"]),
    ("StackedLstmLast", ["rnn = lstm(hidden, num_layers = 2) | select(0, -1)\n    out = linear(classes) | sigmoid"]),
    ("GruTagger", ["out := gru = gru(hidden, num_layers = 2, batch_first = true, bidirectional = true",
                   "h2 := out | select(1, 0) | crop(hidden, 0)", "cat(last, h3, dim = 1) | head = linear(classes)"]),
    ("LstmSqueezed", ["lstm = lstm(6, batch_first = true) | select(1, -1)"]),
    ("SelfAttention", ["h3 := h | k = linear(d_model) | transpose(1, 2)",
                       "attn := matmul(h2, h3) | divide(4.0) | softmax(dim = -1)",
                       "matmul(attn, h4) | mean(1) | out = linear(classes)",
                       "`math.sqrt(d_model)` at line 241 is written as its value: it does not follow d_model"]),
    ("ScaledAttention", ["weights := h | score = linear(1) | divide(4.0) | softmax(dim = 1)",
                         "mul(weights, h) | sum(1) | shift(1) | log | shift(-0.5) | sigmoid",
                         "scale(-1) | shift(1) | fc = linear(classes) | divide(temperature)"]),
    ("ConfiguredModel", [
        "block KernelStack(channels) {",
        "conv1d(channels, 7, padding = 3) | relu",
        "conv1d(channels, 3, padding = 1) | relu",
        "conv = conv1d(20, 9, padding = 4) | relu",
    ]),
])
def test_common_forms_lift_to_an_equivalent_module(cls: str, lines: list[str], torch_module: Any) -> None:
    code, text, err = lift(FORMS, "--class", cls, "--set", "length=120")
    assert code == 0, err
    for line in lines:
        assert line in text, text
    assert_equivalent(_forms_original(cls), text, [(4, 120)], torch_module)


@pytest.mark.torch
def test_lambda_and_einops_steps_keep_the_sequential_indices(torch_module: Any) -> None:
    """Weightless steps in an nn.Sequential become the generated file's _Transpose/_Permute/_Mean
    modules, so the Sequential's weights keep their indices (`net.3.weight`)."""
    from archc.api import compile_source

    for cls, wanted in [("TransposedTail", ["_Transpose(1, 2)", "_Permute(0, 2, 1)"]),
                        ("DilatedProfile", ["_Permute(0, 2, 1)", "_Mean(2)"])]:
        code, text, err = lift(FORMS, "--class", cls, "--set", "length=120")
        assert code == 0, err
        emitted = compile_source(text)
        for helper in wanted:
            assert helper in emitted
    keys = set(_forms_original("TransposedTail").state_dict())
    assert {"net.0.weight", "net.3.weight", "net.5.weight"} <= keys


def test_einops_patterns_archc_cannot_lift_are_named(tmp_path: Path) -> None:
    forward = "return self.split(self.conv(x))"
    text = MODEL.replace("INIT", "self.split = Rearrange('b d (n p) -> b d n p', p=2)").replace("FORWARD", forward)
    line = text.splitlines().index("        self.split = Rearrange('b d (n p) -> b d n p', p=2)") + 1
    err = refused(tmp_path / "ein.py", text, "--set", "length=100")
    assert "einops.Rearrange with axis sizes (`p=`) is not supported" in err
    assert f"ein.py:{line}:58" in err  # at `2`, the size given
    err = refused(tmp_path / "ein.py", text.replace("'b d (n p) -> b d n p', p=2", "'b d n -> b (n d)'"),
                  "--set", "length=100")
    assert "the einops pattern 'b d n -> b (n d)' is not one archc lifts" in err
    assert f"ein.py:{line}:" in err


@pytest.mark.parametrize(("edit", "words"), [
    ("h_n[-1]", None),
    ("h_n[0]", "`h_n[0]` is the state of LSTM layer 0 of 2, which its output does not hold"),
    ("c_n[-1]", "the cell states `c` of an LSTM are not part of its output"),
])
def test_lstm_states_other_than_the_last_layers_hidden_ones_are_refused(
    edit: str, words: str | None, tmp_path: Path
) -> None:
    path = tmp_path / "states.py"
    text = FORMS.read_text().replace("self.out(h_n[-1])", f"self.out({edit})")
    if words is None:
        path.write_text(text)
        code, _, err = lift(path, "--class", "StackedLstmLast", "--set", "length=120")
        assert code == 0, err
        return
    err = refused(path, text, "--class", "StackedLstmLast", "--set", "length=120")
    assert words in err
    line = next(i for i, t in enumerate(text.splitlines(), 1) if f"self.out({edit})" in t)
    assert f"states.py:{line}:" in err


def test_lstm_states_read_other_than_by_position_are_refused(tmp_path: Path) -> None:
    text = FORMS.read_text().replace("self.fc(h.squeeze(0))", "self.fc(h.view(-1, 6))")
    err = refused(tmp_path / "squeezed.py", text, "--class", "LstmSqueezed", "--set", "length=120")
    assert "`h.view(-1, 6)` of the LSTM states is not supported" in err
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "h.view(-1, 6)" in t)
    assert f"squeezed.py:{line}:" in err


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdl ()->.1_", max_size=30), st.sampled_from(["", "mean", "max", "min", "sum"]))
def test_any_einops_pattern_is_lifted_or_refused_never_a_crash(pattern: str, reduction: str) -> None:
    from archc.frontends.torch_import_eval import _einops_step

    step = _einops_step(pattern, reduction)
    assert step is None or step[0] in ("permute", "flatten", "mean", "max", "sum")


@pytest.mark.parametrize("pattern", ["", "->", "b c l -> b l c -> b", "b (c l) -> b c l", "b c c -> b c",
                                     "b c l -> b x", "b c l -> b (l c)", "... c -> c ...",
                                     "b " * 300 + "-> b", "b c l -> b () c l"])
def test_odd_einops_patterns_get_a_located_diagnostic(pattern: str, tmp_path: Path) -> None:
    init = f"self.r = Rearrange({pattern!r})"
    text = MODEL.replace("INIT", init).replace("FORWARD", "return self.r(self.conv(x))")
    err = refused(tmp_path / "odd.py", text, "--set", "length=100")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if init in t)
    assert f"odd.py:{line}:" in err, err


def refused(path: Path, text: str, *argv: str) -> str:
    """Lift `text` written at `path`: it stops with a diagnostic and exit code 1, prints nothing,
    and leaves an existing output file as it was. Returns the diagnostics."""
    path.write_text(text)
    code, out, err = lift(path, *argv)
    assert code == 1 and out == "", out
    assert "Traceback" not in err
    kept = path.with_suffix(".arch")
    kept.write_text("# an earlier lift\n")
    again = lift(path, *argv, "-o", str(kept))
    assert again[0] == 1 and kept.read_text() == "# an earlier lift\n"
    return err


MODEL = (
    "import torch\nimport torch.nn as nn\nfrom types import SimpleNamespace\n"
    "from einops import rearrange\nfrom einops.layers.torch import Rearrange\n"
    "CFG = SimpleNamespace(width=5)\n\n\n"
    "class M(nn.Module):\n"
    "    def __init__(self, loss_fn=nn.MSELoss()):\n"
    "        super().__init__()\n"
    "        self.loss_fn = loss_fn\n"
    "        self.conv = nn.Conv1d(4, 8, 3)\n"
    "        self.lstm = nn.LSTM(8, 6, batch_first=True)\n"
    "        INIT\n\n"
    "    def forward(self, x):\n"
    "        FORWARD\n"
)


@pytest.mark.parametrize(("init", "forward", "words", "column"), [
    ("self.r = Rearrange(3)", "return self.r(self.conv(x))", "einops.Rearrange needs its pattern as text", 18),
    ("pass", "return rearrange(3, 'b -> b')", "einops.rearrange needs a tensor computed in forward", 16),
    ("self.act = getattr(nn, 3)()", "return self.act(self.conv(x))", "getattr() needs a name known statically",
     20),
    ("self.c2 = nn.Conv1d(8, 8, CFG.kernel)", "return self.c2(self.conv(x))",
     "the config object has no field `kernel`", 35),
    ("pass", "return self.loss_fn(self.conv(x))",
     "the loss `nn.MSELoss` (archc lifts what forward computes, not training losses) cannot be used here", 16),
    ("pass", "return self.lstm(self.conv(x).transpose(1, 2))[1][0][1]",
     "the LSTM has 1 hidden states; `self.lstm(self.conv(x).transpose(1, 2))[1][0][1]` is past them", 16),
    ("pass", "return self.lstm(self.conv(x).transpose(1, 2))[1][2]", "an LSTM returns its states as (h, c)", 16),
])
def test_new_refusals_name_their_construct_at_its_line(
    init: str, forward: str, words: str, column: int, tmp_path: Path
) -> None:
    text = MODEL.replace("INIT", init).replace("FORWARD", forward)
    err = refused(tmp_path / "model.py", text, "--set", "length=60")
    assert words in err, err
    changed = init if init != "pass" else forward
    line = next(i for i, t in enumerate(text.splitlines(), 1) if changed in t)
    assert f"model.py:{line}:{column}" in err, err
