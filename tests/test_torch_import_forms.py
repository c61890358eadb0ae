"""`archc import` of the forms published model code writes modules in: Lambda helper modules
(a stored function applied in forward). Each lift is proven equal to the original."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_torch_import_real import MORE, assert_equivalent, lift_text, lint_json, original, run_cli

LAMBDAS = MORE / "lambda_layers.py"


@pytest.mark.torch
def test_lambda_helper_modules_become_their_step(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    text = lift_text(LAMBDAS, capsys, tmp_path)
    assert "conv1d(16, 9) | relu | maxpool1d(4) | dropout(0.2) | flatten" in text
    assert "} | out = sigmoid" in text
    # The Lambdas hold no weights, so the Linear stays at index 5 of `model`.
    assert_equivalent(original(LAMBDAS, torch_module), text, (4, 200), torch_module)


LAMBDA_CLASS = (
    "import torch\nimport torch.nn as nn\n\n\nclass Lambda(nn.Module):\n    def __init__(self, fn):\n"
    "        super().__init__()\n        self.fn = fn\n\n    def forward(self, x):\n        {forward}\n\n\n"
    "class TorchModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
    "        self.conv = nn.Conv1d(4, 8, 3)\n        self.post = Lambda({fn})\n\n"
    "    def forward(self, x):\n        return self.post(self.conv(x))\n"
)
REFUSED = {
    "two steps": ("return self.fn(x)", "lambda x: torch.relu(x).flatten(1)", (18, 28),
                  "the lambda `lambda x: torch.relu(x).flatten(1)` is not one step archc has"),
    # (a permute lambda lifts now: tests/test_torch_import_graphs.py, TransposedTail)
    "amax": ("return self.fn(x)", "lambda x: x.amax(dim=2)", (18, 28),
             "the lambda `lambda x: x.amax(dim=2)` is not one step archc has"),
    "fixed view": ("return self.fn(x)", "lambda x: x.view(-1, 8 * 98)", (18, 28),
                   "reshapes to fixed sizes; archc lifts `x.view(x.size(0), -1)` and `x.view(x.size(0), N)` here"),
    "other forward": ("return self.fn(x) * 2", "lambda x: torch.relu(x)", (18, 21),
                      "`Lambda` takes a function; archc lifts such a module when its forward returns "
                      "`self.f(x)`"),
    "unsupported body": ("return self.fn(x)", "lambda x: x.unfold(2, 3, 1)", (18, 38), "x.unfold() is not supported"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_lambda_refusals_name_the_construct(case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    forward, fn, (line, column), words = REFUSED[case]
    path = tmp_path / "m.py"
    path.write_text(LAMBDA_CLASS.replace("{forward}", forward).replace("{fn}", fn))
    code, diags = lint_json(capsys, path, "--set", "length=100")
    assert code == 1
    assert [(d["code"], d["line"], d["column"]) for d in diags] == [("unsupported", line, column)], diags
    assert words in diags[0]["message"], diags


REFUSED_AFTER = MORE / "refused_after_conv.py"


def test_lint_of_a_refused_file_checks_the_part_before_the_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    from test_torch_import_real import line_of

    text = REFUSED_AFTER.read_text()
    code, diags = lint_json(capsys, REFUSED_AFTER)
    assert code == 1
    assert [(d["code"], d["line"], d["column"]) for d in diags] == [
        ("unsupported", line_of(text, "x.unfold(2, 3, 1)"), 13),
        ("shape-mismatch", line_of(text, "nn.Conv1d(16, 32, 5)"), 32),
    ]
    assert diags[0]["message"] == "x.unfold() is not supported"
    assert diags[1]["message"] == "`conv2` expects 16 input channels, but its input has 32"


def test_with_a_length_the_part_before_the_refusal_gets_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    from test_torch_import_real import line_of

    text = REFUSED_AFTER.read_text()
    code, diags = lint_json(capsys, REFUSED_AFTER, "--set", "length=250")
    assert code == 1
    assert [(d["code"], d["line"]) for d in diags] == [
        ("unsupported", line_of(text, "x.unfold(2, 3, 1)")),
        ("pool-drops", line_of(text, "x = self.pool(")),
        ("shape-mismatch", line_of(text, "nn.Conv1d(16, 32, 5)")),
    ]
    # nothing after the refused step is checked: the Linear's size is not judged
    assert all(d["line"] != line_of(text, "nn.Linear(") for d in diags)


def test_a_refusal_inside_a_module_list_loop_adds_no_partial_checks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch.nn as nn\n\nclass TorchModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList([nn.Conv1d(4, 4, 1) for _ in range(2)])\n\n    def forward(self, x):\n"
        "        for m in self.layers:\n            y = m(x)\n        return x\n"
    )
    code, diags = lint_json(capsys, path, "--set", "length=10")
    assert code == 1 and [d["code"] for d in diags] == ["unsupported"]


DRY = MORE / "dry_run.py"
DRY_LINE = "n_flat = self.convs(torch.zeros(1, 4, seq_len)).view(1, -1).size(1)"


@pytest.mark.torch
@pytest.mark.parametrize(
    "measure",
    [
        DRY_LINE,
        "n_flat = self.convs(torch.zeros(1, 4, seq_len)).numel()",
        "n_flat = self.convs(torch.zeros((1, 4, seq_len))).flatten(1).shape[1]",
        "dummy = torch.randn(1, 4, seq_len)\n            n_flat = self.convs(dummy).numel()",
    ],
)
def test_dry_run_sizes_are_left_to_shape_inference(
    measure: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = tmp_path / "dry.py"
    path.write_text(DRY.read_text().replace(DRY_LINE, measure))
    text = lift_text(path, capsys, tmp_path)
    assert "# length 300: the dry run's input at line 19" in text
    assert "fc = linear(64) | relu" in text
    assert_equivalent(original(path, torch_module), text, (4, 300), torch_module)
    # the inferred input size follows the filters, as the dry run does
    assert_equivalent(original(path, torch_module, n_filters=16), text, (4, 300), torch_module, n_filters=16)


DRY_REFUSED = {
    "dummy in forward": (
        "        return self.fc(x + torch.zeros(1, 4, 10))\n", "torch.zeros is supported as the dummy input",
    ),
    "dry size as output": (
        None, "`out_features` of nn.Linear comes from a dry run; archc infers only a layer's input size",
    ),
    "other with": (
        None, "`with open('x')` is not supported",
    ),
}


@pytest.mark.parametrize("case", sorted(DRY_REFUSED))
def test_dry_run_refusals(case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from test_torch_import_real import line_of

    text = DRY.read_text()
    forward_line, words = DRY_REFUSED[case]
    if case == "dummy in forward":
        text = text.replace("        return self.out(torch.relu(self.fc(x)))\n", forward_line)
        where = "torch.zeros(1, 4, 10)"
    elif case == "dry size as output":
        text = text.replace("self.out = nn.Linear(64, n_classes)", "self.out = nn.Linear(64, n_flat)")
        where = "nn.Linear(64, n_flat)"
    else:
        text = text.replace("with torch.no_grad():", "with open('x'):")
        where = "with open('x'):"
    path = tmp_path / "dry.py"
    path.write_text(text)
    code, diags = lint_json(capsys, path)
    assert code == 1
    errors = [d for d in diags if d["severity"] == "error"]
    assert errors[0]["code"] == "unsupported" and words in errors[0]["message"], errors
    assert errors[0]["line"] == line_of(text, where)


AXIS = MORE / "axis_sizes.py"


@pytest.mark.torch
@pytest.mark.parametrize("length", [101, 300])
def test_pools_over_the_whole_length_become_global_pools(
    length: int, capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    text = lift_text(AXIS, capsys, tmp_path, "--set", f"length={length}")
    assert "top := h | global_max_pool" in text and "avg := h | global_avg_pool" in text
    assert_equivalent(original(AXIS, torch_module), text, (4, length), torch_module)


AXIS_REFUSED = {
    "window of another tensor": ("F.max_pool1d(x, x.size(2)).squeeze(2)", "F.max_pool1d(x, h.size(2)).squeeze(2)",
                                 "h.size(2)", "archc lifts a window over the whole length of the pooled tensor"),
    "window of the channels": ("F.max_pool1d(x, x.size(2)).squeeze(2)", "F.max_pool1d(x, x.size(1)).squeeze(2)",
                               "x.size(1)", "archc lifts a window over the whole length of the pooled tensor"),
    "arithmetic on a size": ("F.max_pool1d(x, x.size(2)).squeeze(2)", "x.view(x.size(0), x.size(1) // 2, -1)",
                             "x.size(1) // 2", "known only once shapes are checked"),
    "view by another tensor's size": ("F.max_pool1d(x, x.size(2)).squeeze(2)",
                                      "x.reshape(x.size(0), h.size(1) * h.size(2))", "h.size(1) * h.size(2)",
                                      "a size of another tensor"),
    "view that splits an axis": ("F.max_pool1d(x, x.size(2)).squeeze(2)", "x.reshape(x.size(0), x.size(1), 2, -1)",
                                 "2, -1)", "mixes sizes of the tensor's axes"),
    "slice to a fixed stop": ("F.max_pool1d(x, x.size(2)).squeeze(2)", "x[:, :, 3:90].amax(dim=2)", "90",
                              "depends on the axis length"),
    "slice keeping the end": ("F.max_pool1d(x, x.size(2)).squeeze(2)", "x[:, :, -10:].amax(dim=2)", "-10",
                              "keeps the last positions of an axis"),
    "slice with a step": ("F.max_pool1d(x, x.size(2)).squeeze(2)", "x[:, :, ::2].amax(dim=2)", "::2",
                          "the step of the slice"),
    "slice stopping at another tensor's end": ("F.max_pool1d(x, x.size(2)).squeeze(2)",
                                               "x[:, :, 2 : h.shape[-1] - 2].amax(dim=2)", "h.shape[-1] - 2",
                                               "stops at a size of another tensor"),
}


@pytest.mark.parametrize("case", sorted(AXIS_REFUSED))
def test_axis_size_refusals_name_the_construct(case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from test_torch_import_real import line_of

    old, new, where, words = AXIS_REFUSED[case]
    text = AXIS.read_text().replace(old, new)
    if "h." in new or "h.shape" in new:  # a tensor other than the pooled one
        text = text.replace("x = torch.relu(self.conv(x))", "x = torch.relu(self.conv(x))\n        h = torch.tanh(x)")
    path = tmp_path / "axis.py"
    path.write_text(text)
    code, diags = lint_json(capsys, path, "--set", "length=101")
    assert code == 1
    errors = [d for d in diags if d["severity"] == "error"]
    assert errors[0]["code"] == "unsupported" and words in errors[0]["message"], errors
    line = line_of(text, where)
    assert errors[0]["line"] == line
    assert errors[0]["column"] == text.splitlines()[line - 1].index(where) + 1


@pytest.mark.torch
def test_a_branch_variable_named_like_a_layer_kind_is_renamed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """`mean = ...` then torch.cat([top, mean]): `mean` is a DSL layer kind, so the tensor is h2."""
    path = tmp_path / "mean.py"
    path.write_text(AXIS.read_text().replace("avg = F.avg_pool1d", "mean = F.avg_pool1d")
                    .replace("[top, avg]", "[top, mean]"))
    text = lift_text(path, capsys, tmp_path, "--set", "length=120")
    assert "h2 := h | global_avg_pool" in text and "cat(top, h2, dim = 1)" in text
    assert_equivalent(original(path, torch_module), text, (4, 120), torch_module)


ORDERED = MORE / "ordered_sequential.py"


@pytest.mark.torch
def test_sequential_of_an_ordered_dict_keeps_the_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    text = lift_text(ORDERED, capsys, tmp_path)
    assert "block StemSeq() {" in text and "block HeadSeq(n_targets) { flat = flatten | fc = linear(n_targets) }" in text
    assert "head = HeadSeq(n_targets = n_targets)" in text
    module = original(ORDERED, torch_module)
    assert "stem.conv.weight" in module.state_dict()  # the names the checkpoint uses
    assert_equivalent(module, text, (4, 128), torch_module, length=128)
    assert_equivalent(original(ORDERED, torch_module, n_targets=7), text, (4, 128), torch_module, length=128,
                      n_targets=7)


@pytest.mark.torch
def test_ordered_dict_sizes_follow_a_renamed_argument(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """`stem=24` sizes layers inside the named Sequentials and names one too: `stem_arg` is passed in."""
    path = tmp_path / "os2.py"
    path.write_text(ORDERED.read_text().replace("def __init__(self, n_targets=3)", "def __init__(self, n_targets=3, stem=24)")
                    .replace("nn.Conv1d(4, 24, 15, padding=7)", "nn.Conv1d(4, stem, 15, padding=7)")
                    .replace("nn.BatchNorm1d(24)", "nn.BatchNorm1d(stem)").replace("nn.Conv1d(24, 32", "nn.Conv1d(stem, 32"))
    text = lift_text(path, capsys, tmp_path)
    assert "stem = StemSeq(stem_arg = stem_arg)" in text
    assert_equivalent(original(path, torch_module, stem=12), text, (4, 128), torch_module, length=128, stem_arg=12)


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ('("relu", nn.ReLU())', "the name `relu` in nn.Sequential's OrderedDict cannot name a layer in archc"),
        ('("n", 3)', "the entry `n` of nn.Sequential's OrderedDict is a int, not a module"),
        ('"conv"', "OrderedDict takes (name, value) pairs with string names"),
    ],
)
def test_ordered_dict_refusals(entry: str, words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = ORDERED.read_text().replace('("act", nn.GELU()),', f"{entry},")
    path = tmp_path / "m.py"
    path.write_text(text)
    code, diags = lint_json(capsys, path)
    assert code == 1
    assert diags[0]["code"] == "unsupported" and words in diags[0]["message"], diags
    assert (diags[0]["line"], diags[0]["column"]) == (14, 13), diags  # the entry itself


@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "words", "length"),
    [
        ("gated_branches.py", ["h := max(a, b)", "mul(v, g) | mean(2) | fc = linear(classes)"], 100),
        ("self_gate.py", ["h2 := h | gate = conv1d(8, 1) | sigmoid", "mul(h, h2) | mean(2)"], 50),
    ],
)
def test_max_and_mul_merges_of_branches(
    name: str, words: list[str], length: int, capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = MORE / name
    text = lift_text(path, capsys, tmp_path, "--set", f"length={length}")
    for word in words:
        assert word in text
    assert_equivalent(original(path, torch_module), text, (4, length), torch_module)


@pytest.mark.torch
def test_an_elementwise_join_inside_a_helper_lifts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\nimport torch.nn as nn\n\n\nclass Gate(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.g = nn.Conv1d(4, 4, 1)\n\n    def forward(self, x):\n"
        "        return x * torch.sigmoid(self.g(x))\n\n\nclass TorchModel(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.gate = Gate()\n        self.fc = nn.Linear(80, 2)\n\n"
        "    def forward(self, x):\n        return self.fc(self.gate(x).flatten(1))\n"
    )
    text = lift_text(path, capsys, tmp_path)
    assert "block Gate() {" in text and "mul(x, h)" in text
    assert_equivalent(original(path, torch_module), text, (4, 20), torch_module)


CROPS = MORE / "crop_slices.py"


@pytest.mark.torch
@pytest.mark.parametrize("length", [60, 120])
def test_slices_become_crops_and_unpacked_sizes_views(
    length: int, capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """Slices of one axis are crops (also of a middle axis, between permutes); a reshape by the
    tensor's own unpacked sizes merges axes; steps two outputs share are bound once."""
    from test_torch_import_real import assert_equivalent_outputs

    text = lift_text(CROPS, capsys, tmp_path, "--set", f"length={length}")
    assert "relu | crop(2, 0) | crop(0, 2)" in text
    assert "profile = conv1d(n_tasks, 11, padding = 5) | crop(trim, trim)" in text
    assert "permute(0, 2, 1) | crop(head_trim, head_trim)\n        | permute(0, 2, 1)" in text
    assert "counts := h2 | mean(1)" in text and "flat := h2 | flatten" in text
    assert text.count("norm = layernorm") == 1 and "| norm |" not in text  # computed once
    assert_equivalent_outputs(original(CROPS, torch_module), text, (4, length), torch_module)
    # the trims follow their constructor arguments
    assert_equivalent_outputs(original(CROPS, torch_module, trim=5, head_trim=1), text, (4, length), torch_module,
                              trim=5, head_trim=1)


def test_a_view_by_unpacked_sizes_of_a_cropped_tensor_is_reported_as_torch_would(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """x.view(b, c * l) of a tensor cropped on its last axis raises in torch; the lift keeps it a
    view, so lint says so (a reshape of it, or a view of a crop of the middle axis, is fine)."""
    text = CROPS.read_text().replace("return tracks, counts, flat", "b, c, n = tracks.shape\n"
                                     "        return tracks.view(b, c * n), counts, flat")
    path = tmp_path / "crops.py"
    path.write_text(text)
    code, diags = lint_json(capsys, path, "--set", "length=120")
    assert code == 1
    errors = [d for d in diags if d["severity"] == "error"]
    assert [e["code"] for e in errors] == ["view-stride"], errors
    assert errors[0]["line"] == next(i for i, ln in enumerate(text.splitlines(), 1) if "tracks.view(" in ln)
    fixed = tmp_path / "reshaped.py"
    fixed.write_text(text.replace("tracks.view(", "tracks.reshape("))
    code, diags = lint_json(capsys, fixed, "--set", "length=120")
    assert code == 0, diags


ZOO = MORE / "zoo_conventions.py"


@pytest.mark.torch
def test_model_zoo_conventions_lift(capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any) -> None:
    """Activations from torch.nn.modules.activation, an LSTM as the last module of its own
    nn.Sequential, a def inside __init__, str.format, numpy.round, and forward arguments left at
    their defaults (`x * scale + shift` with 1 and 0 is the tensor itself)."""
    text = lift_text(ZOO, capsys, tmp_path, "--set", "length=200")
    assert "conv = conv1d(n_filters, 11, padding = 5) | act = relu | pool = maxpool1d(4)" in text
    assert "bdlstm = seq { lstm(hidden, batch_first = true, bidirectional = true) } | mean(1)" in text
    assert "head = linear(n_targets) | out = sigmoid" in text
    # the rounded width is a number, and the header says which arguments it no longer follows
    assert "mix = conv1d(72, 1)" in text
    assert "is written as its value: it does not follow divisible_by, n_filters, width_mult" in text
    assert_equivalent(original(ZOO, torch_module), text, (4, 200), torch_module)
    assert_equivalent(original(ZOO, torch_module, hidden=16, n_targets=5), text, (4, 200), torch_module,
                      hidden=16, n_targets=5)
    out = tmp_path / "gen"
    code, _, err = run_cli(capsys, "compile", str(tmp_path / "zoo_conventions.arch"), "-o", str(out))
    assert code == 0, err
    assert "x, _ = self.bdlstm(x)" in (out / "zoo_conventions.py").read_text()


@pytest.mark.parametrize(
    ("old", "new", "where", "words"),
    [
        ("x * scale + shift", "2.0 / (x * scale)", "2.0 / (x * scale)", "not this operation"),
        ("nn.Sequential(nn.LSTM(wide, hidden, batch_first=True, bidirectional=True))",
         "nn.Sequential(nn.Sequential(nn.LSTM(wide, hidden, batch_first=True, bidirectional=True)))",
         "nn.LSTM(", "inside another is not lifted yet"),
        ('"cnn_lstm.{}.{}".format(n_filters, hidden)', '"cnn_lstm.{:03d}".format(n_filters)',
         '"cnn_lstm.{:03d}".format(n_filters)', "plain format fields"),
    ],
)
def test_model_zoo_conventions_refusals(
    old: str, new: str, where: str, words: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from test_torch_import_real import line_of

    source = ZOO.read_text()
    if old == "x * scale + shift":
        source = source.replace("self.out(self.head(x) * scale + shift)", "self.out(2.0 / (self.head(x) * scale))")
    else:
        source = source.replace(old, new)
    path = tmp_path / "zoo.py"
    path.write_text(source)
    code, diags = lint_json(capsys, path, "--set", "length=200")
    assert code == 1
    errors = [d for d in diags if d["severity"] == "error"]
    assert errors[0]["code"] == "unsupported" and words in errors[0]["message"], errors
    assert errors[0]["line"] == line_of(source, where.replace("x * scale", "self.head(x) * scale"))


INDEXED = MORE / "indexed_profile.py"


@pytest.mark.torch
@pytest.mark.parametrize("length", [300, 500])
def test_lists_run_by_index_and_crops_counted_from_the_input_lift(
    length: int, capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """`for i in range(n): self.relus[i](self.convs[i](x))` is a loop over the list with weights
    (the ReLU list holds none); `torch.add` is `+`; a slice stopping at `X.shape[2] - t` of the
    input is a crop once the check shows the sliced tensor is as long as the input."""
    from test_torch_import_real import assert_equivalent_outputs

    text = lift_text(INDEXED, capsys, tmp_path, "--set", f"length={length}")
    assert "residual { rconvs = conv1d(n_filters, 3, padding = 2 ** i, dilation = 2 ** i) | relu }" in text
    assert "| crop(2 ** n_layers, 2 ** n_layers)" in text
    assert "crop(2 ** n_layers - count_window, 2 ** n_layers - count_window) | mean(2)" in text
    assert_equivalent_outputs(original(INDEXED, torch_module), text, (4, length), torch_module)
    assert_equivalent_outputs(original(INDEXED, torch_module, n_layers=5, count_window=20), text, (4, length),
                              torch_module, n_layers=5, count_window=20)


def test_a_crop_counted_from_the_input_of_a_shorter_tensor_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from test_torch_import_real import line_of

    source = INDEXED.read_text().replace("kernel_size=75, padding=37", "kernel_size=75")
    path = tmp_path / "short.py"
    path.write_text(source)
    code, diags = lint_json(capsys, path, "--set", "length=500")
    assert code == 1
    errors = [d for d in diags if d["severity"] == "error"]
    assert errors[0]["code"] == "unsupported", errors
    assert "the slice `start:end` stops at a size of the input, but the tensor it slices is not as long" in (
        errors[0]["message"])
    assert errors[0]["line"] == line_of(source, "y_profile = self.fconv(X_w_ctl)[:, :, start:end]")


def test_a_loop_index_must_run_over_the_whole_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    source = INDEXED.read_text().replace("for i in range(self.n_layers):", "for i in range(self.n_layers - 1):")
    path = tmp_path / "partial.py"
    path.write_text(source)
    code, diags = lint_json(capsys, path, "--set", "length=500")
    assert code == 1
    assert diags[0]["code"] == "unsupported" and "must run over every item" in diags[0]["message"], diags


CONVERTED = MORE / "converted_lambda.py"


@pytest.mark.torch
@pytest.mark.parametrize("length", [107, 110])
def test_converter_lambdas_and_an_unsqueezed_input_lift(
    length: int, capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """The Torch-converter Lambda (an nn.Sequential base applying its function): a fixed-size
    reshape is a flatten whose element count fixes the length, the unbatched-input guard is an
    identity (the Sequential indices stay), and x.unsqueeze(2) of the input is unsqueeze(2)."""
    text = lift_text(CONVERTED, capsys, tmp_path, "--set", f"length={length}")
    assert f"arch converted_lambda(n_targets = 7, length = {length}, alphabet = 4) {{\n    unsqueeze(2)\n" in text
    assert "flatten | seq { identity | linear(32) } | relu" in text
    assert_equivalent(original(CONVERTED, torch_module), text, (4, length), torch_module)
    searched = lift_text(CONVERTED, capsys, tmp_path)
    assert "# length 110: fixed by the 432 elements per sample of a reshape; lengths 107..110 all fit" in searched


def test_a_converter_reshape_to_the_wrong_size_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from test_torch_import_real import line_of

    source = CONVERTED.read_text().replace("(x.size(0), 24 * 18)", "(x.size(0), 24 * 19)")
    path = tmp_path / "wrong.py"
    path.write_text(source)
    code, diags = lint_json(capsys, path)
    assert code == 1
    errors = [d for d in diags if d["severity"] == "error"]
    # the reshape's 456 fixes the length; the Linear written for 432 then does not fit
    assert [(e["code"], e["line"]) for e in errors] == [("shape-mismatch", line_of(source, "nn.Linear(432, 32)"))]
    assert "expects 432 input features, but its input has 456" in errors[0]["message"]


APPENDED = MORE / "appended_lists.py"


@pytest.mark.torch
def test_module_lists_filled_by_append_become_loops(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """`nn.ModuleList()` with `append` in a `for i in range(...)` loop, `nn.ModuleList(layers)`
    of a Python list filled that way, a list comprehension over another list, and forward loops
    over `zip(...)`, `range(len(...))` and `enumerate(...)`: each becomes a DSL loop written in
    terms of the constructor loop's index; the input size carried from item to item is left to
    shape inference and checked per item."""
    text = lift_text(APPENDED, capsys, tmp_path, "--set", "length=200")
    assert "for i in range(2) { stages = conv1d(n_filters * 2 ** (i + 1), 5, padding = 2) | relu | maxpool1d(2) }" in (
        text)
    assert "for i in range(n_dilated) {\n        residual { dilated = ConvBlock(n_filters * 4, n_filters * 4, " \
        "dilation = 2 ** i) }" in text
    assert "for i in range(2) { heads = seq { conv1d(n_filters * 4, 1) | gelu } }" in text
    assert_equivalent(original(APPENDED, torch_module), text, (4, 200), torch_module)
    assert_equivalent(original(APPENDED, torch_module, n_filters=16, n_dilated=5), text, (4, 200), torch_module,
                      n_filters=16, n_dilated=5)


APPENDED_REFUSED = {
    # the items differ by a layer, not only by numbers
    "per-item layers": ("self.dilated.append(ConvBlock(channels, channels, dilation=2 ** i))",
                        "self.dilated.append(ConvBlock(channels, channels, dilation=2 ** i) if i == 0 "
                        "else nn.Conv1d(channels, channels, 1))",
                        "item 1 of `self.dilated` is not built the way item 0 is"),
    # an item built for the wrong input size: what torch would fail on, at the item's size
    "wrong carried size": ("stages.append(nn.Conv1d(channels,",
                           "stages.append(nn.Conv1d(channels if i == 0 else channels + 1,",
                           "item 1 of `self.stages` is built for 49 input features or channels, but receives 48"),
    "not modules": ("self.heads.append(nn.Sequential(", "self.heads.append((", "nn.ModuleList takes modules"),
}


def test_a_module_list_of_weightless_layers_is_its_steps(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import torch.nn as nn\n\nclass TorchModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.acts = nn.ModuleList([nn.ReLU(), nn.Tanh()])\n\n    def forward(self, x):\n"
        "        for act in self.acts:\n            x = act(x)\n        return x\n"
    )
    assert "arch m(length = 10, alphabet = 4) {\n    relu | tanh\n}" in lift_text(path, capsys, tmp_path, "--set",
                                                                                "length=10")


@pytest.mark.parametrize("case", sorted(APPENDED_REFUSED))
def test_module_list_append_refusals(case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from test_torch_import_real import line_of

    old, new, words = APPENDED_REFUSED[case]
    source = APPENDED.read_text()
    assert old in source
    source = source.replace(old, new)
    path = tmp_path / "m.py"
    path.write_text(source)
    out = tmp_path / "m.arch"
    out.write_text("kept")
    code, _, err = run_cli(capsys, "import", str(path), "--set", "length=200", "-o", str(out))
    assert code == 1
    assert words in err, err
    assert "Traceback" not in err
    assert out.read_text() == "kept"  # nothing written
    code, diags = lint_json(capsys, path, "--set", "length=200")
    assert code == 1 and words in diags[0]["message"], diags
    assert diags[0]["line"] == line_of(source, new[:40])


RAW = MORE / "raw_parameters.py"


@pytest.mark.torch
def test_helpers_computing_a_layer_from_raw_parameters_lift_as_that_layer(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """A helper whose constructor makes nn.Parameter `weight` (and `bias`) and whose forward is
    one F.conv1d / torch.conv1d / F.linear call on them is that layer: same keys, same sizes
    (read from the Parameter's shape), initialisation skipped."""
    text = lift_text(RAW, capsys, tmp_path, "--set", "length=200")
    assert "scan = conv1d(n_motifs, motif_len, padding = motif_len // 2) | relu" in text
    assert "mix = conv1d(2 * n_motifs, 3, padding = 1, groups = 4, bias = false)" in text
    assert "readout = linear(n_tasks)" in text
    assert_equivalent(original(RAW, torch_module), text, (4, 200), torch_module)
    assert_equivalent(original(RAW, torch_module, n_motifs=16, motif_len=9, n_tasks=5), text, (4, 200),
                      torch_module, n_motifs=16, motif_len=9, n_tasks=5)


RAW_REFUSED = {
    # a weight used other than as the layer's own
    "scaled weight": ("return F.linear(h, self.weight, bias=self.bias)",
                      "return F.linear(h, self.weight * 2, bias=self.bias)",
                      "`self.weight * 2` between a raw parameter (nn.Parameter) and a int is not supported",
                      "F.linear(h, self.weight * 2"),
    "other name": ("self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_out, n_in)))\n"
                   "        self.bias = nn.Parameter(torch.zeros(n_out))\n\n    def forward(self, h):\n"
                   "        return F.linear(h, self.weight, bias=self.bias)",
                   "self.W = nn.Parameter(nn.init.xavier_uniform_(torch.empty(n_out, n_in)))\n"
                   "        self.bias = nn.Parameter(torch.zeros(n_out))\n\n    def forward(self, h):\n"
                   "        return F.linear(h, self.W, bias=self.bias)",
                   "so that its state_dict key is the layer's `weight`", "F.linear(h, self.W"),
    # raw parameters on the model itself: no layer holds them
    "on the model": ("        self.readout = Readout(2 * n_motifs, n_tasks)\n",
                     "        self.readout = Readout(2 * n_motifs, n_tasks)\n"
                     "        self.scale = nn.Parameter(torch.ones(1))\n",
                     "raw parameters (nn.Parameter) are lifted only as the `weight` and `bias` of a helper",
                     "self.scale = nn.Parameter"),
    "unknown size": ("torch.randn(out_channels, channels // groups, 3) * 0.02",
                     "torch.randn(out_channels, channels // groups, 3.5)",
                     "the sizes of an nn.Parameter must be whole numbers known statically", "3.5"),
}


@pytest.mark.parametrize("case", sorted(RAW_REFUSED))
def test_raw_parameter_refusals_name_the_construct(
    case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from test_torch_import_real import line_of

    old, new, words, where = RAW_REFUSED[case]
    source = RAW.read_text()
    assert old in source
    source = source.replace(old, new)
    path = tmp_path / "m.py"
    path.write_text(source)
    code, diags = lint_json(capsys, path, "--set", "length=200")
    assert code == 1
    assert diags[0]["code"] == "unsupported" and words in diags[0]["message"], diags
    assert diags[0]["line"] == line_of(source, where)
    out = tmp_path / "m.arch"
    code, _, err = run_cli(capsys, "import", str(path), "--set", "length=200", "-o", str(out))
    assert code == 1 and not out.exists() and "Traceback" not in err


HABITS = MORE / "zoo_habits.py"


@pytest.mark.torch
def test_training_repository_habits_do_not_stop_a_lift(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """A logger object on the model (no module: an error only where used), `x.float()`, `axis=`
    for `dim=`, `self.layers += [...]` run as a chain (an nn.Sequential of the items, the same
    keys), and an attribute named `linear` before an nn.Linear (written `Linear(...)`)."""
    text = lift_text(HABITS, capsys, tmp_path, "--set", "length=100")
    assert "layers = seq {\n        conv1d(n_filters, 7, padding = 3) | relu\n" in text
    assert "    sum(-1)\n    linear = seq { linear(n_filters) | relu }\n    head = Linear(n_outputs)" in text
    assert_equivalent(original(HABITS, torch_module), text, (4, 100), torch_module)


HABITS_REFUSED = {
    # weights clipped in forward: not what forward computes from x (a max-norm renorm_ is lifted)
    "clamp in forward": ("        x = x.float()\n",
                         "        for layer in self.layers:\n"
                         "            if isinstance(layer, nn.Conv1d):\n"
                         "                layer.weight.data.clamp_(-1, 1)\n        x = x.float()\n",
                         "forward changes the weights in place (`layer.weight.data.clamp_(-1, 1)`)",
                         "clamp_"),
    "logger used": ("        x = x.float()\n", "        self.logger.add(1)\n        x = x.float()\n",
                    "`Logger(['epoch', 'loss'], verbose=verbose)` (an object of `Logger`, which is no "
                    "nn.Module) cannot be used here", "self.logger.add(1)"),
}


@pytest.mark.parametrize("case", sorted(HABITS_REFUSED))
def test_training_habit_refusals_name_the_construct(
    case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from test_torch_import_real import line_of

    old, new, words, where = HABITS_REFUSED[case]
    source = HABITS.read_text()
    assert old in source
    source = source.replace(old, new)
    path = tmp_path / "m.py"
    path.write_text(source)
    code, diags = lint_json(capsys, path, "--set", "length=100")
    assert code == 1
    assert diags[0]["code"] == "unsupported" and words in diags[0]["message"], diags
    assert diags[0]["line"] == line_of(source, where)


MAX_NORM = MORE / "max_norm.py"


@pytest.mark.torch
def test_a_max_norm_constraint_in_forward_becomes_the_layers_max_norm(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """`layer.weight.data.renorm_(2, 0, c)` over a Sequential's children at the start of forward
    (isinstance-filtered) is `max_norm = c` on those layers; the emitted forward renorms them the
    same way, so outputs agree while the constraint changes the weights."""
    text = lift_text(MAX_NORM, capsys, tmp_path)
    assert "conv1d(64, 9, max_norm = max_norm) | relu(inplace = true)" in text
    assert "linear(n_targets, max_norm = max_norm) | sigmoid" in text
    assert_equivalent(original(MAX_NORM, torch_module), text, (4, 1000), torch_module)
    assert_equivalent(original(MAX_NORM, torch_module, n_targets=5, max_norm=0.3), text, (4, 1000), torch_module,
                      n_targets=5, max_norm=0.3)


@pytest.mark.torch
def test_max_norm_is_applied_by_the_generated_forward(torch_module: Any) -> None:
    from archc.api import build_module

    torch = torch_module
    text = "arch m(classes = 3, length = 20, alphabet = 4) {\n    c = conv1d(6, 5, max_norm = 0.25)\n" \
        "    flatten | fc = linear(classes)\n}\n"
    module = build_module(text).eval()
    with torch.no_grad():
        module.c.weight.mul_(10)
        module(torch.randn(2, 4, 20))
    norms = module.c.weight.flatten(1).norm(dim=1)
    assert norms.max().item() <= 0.25 + 1e-6 and norms.min().item() > 0.2


MAX_NORM_REFUSED = {
    "other norm": ("layer.weight.data.renorm_(2, 0, self.max_norm)", "layer.weight.data.renorm_(1, 0, self.max_norm)",
                   "archc reads the max-norm constraint renorm_(2, 0, LIMIT)"),
    "after a step": ("    def forward(self, x):\n", "    def forward(self, x):\n        x = x.relu()\n",
                     "comes after forward's first step"),
    "other change": ("layer.weight.data.renorm_(2, 0, self.max_norm)", "layer.weight.data.clamp_(-1, 1)",
                     "forward changes the weights in place (`layer.weight.data.clamp_(-1, 1)`)"),
}


@pytest.mark.parametrize("case", sorted(MAX_NORM_REFUSED))
def test_max_norm_refusals(case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old, new, words = MAX_NORM_REFUSED[case]
    source = MAX_NORM.read_text()
    assert old in source
    path = tmp_path / "m.py"
    path.write_text(source.replace(old, new, 1))
    code, diags = lint_json(capsys, path)
    assert code == 1
    assert diags[0]["code"] == "unsupported" and words in diags[0]["message"], diags


def test_a_layer_with_max_norm_is_not_folded_with_its_batchnorm() -> None:
    from archc.api import compile_source
    from archc.backends.emit_torch import EmitOptions

    text = "arch m(classes = 3, length = 20, alphabet = 4) {\n    c = conv1d(6, 5, max_norm = 0.25) | bn = batchnorm1d\n" \
        "    d = conv1d(6, 5) | bn2 = batchnorm1d\n    flatten | fc = linear(classes)\n}\n"
    code = compile_source(text, options=EmitOptions(fold_batchnorm=True))
    assert "self.bn2 = _fold_into(self.d, self.bn2)" in code and "_fold_into(self.c" not in code, code


TOWER = MORE / "rounded_tower.py"


@pytest.mark.torch
def test_a_chain_over_appended_items_that_differ_is_a_sequential_of_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """Widths `int(np.round(filters))` with `filters *= mult` differ by more than the loop's
    index: a chain loop over them is an nn.Sequential of the items (keys `tower.0.conv.weight`)."""
    text = lift_text(TOWER, capsys, tmp_path, "--set", "length=128")
    assert "tower = seq {\n        ConvBlock(4, filters_init)\n        ConvBlock(filters_init, 40)\n" in text
    assert_equivalent(original(TOWER, torch_module), text, (4, 128), torch_module)


def test_modules_registered_twice_are_named_as_such(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from test_torch_import_real import line_of

    source = (
        "import torch.nn as nn\n\nclass TorchModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.layers = nn.ModuleList()\n        self.layers += [nn.Conv1d(4, 8, 3), nn.ReLU()]\n"
        "        self.trunk = nn.Sequential(*self.layers)\n\n    def forward(self, x):\n        return self.trunk(x)\n"
    )
    path = tmp_path / "m.py"
    path.write_text(source)
    code, diags = lint_json(capsys, path, "--set", "length=20")
    assert code == 1
    assert diags[0]["message"].startswith("`layers` holds the modules of `trunk` again"), diags
    assert diags[0]["line"] == line_of(source, "nn.ModuleList()")


UNITS = MORE / "unit_layers.py"


@pytest.mark.torch
def test_exp_squeeze_unsqueeze_repeat_pad_and_new_activations_lift(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """torch.exp in a helper module, x.unsqueeze of an intermediate tensor, torch.squeeze(x, d),
    x.repeat(...), F.pad with a constant, nn.SELU / nn.Hardtanh / F.relu6 / F.mish and
    nn.Dropout1d: each is its DSL step."""
    text = lift_text(UNITS, capsys, tmp_path)
    assert "block ExpActivation() { exp }" in text and "block AddUnitAxis() { unsqueeze(-1) }" in text
    assert "repeat(1, n_units, 1)" in text
    assert "| relu6 | unsqueeze(1) | constantpad1d((1, 1), value = 0.5) | squeeze(1) | crop(1, 1)" in text
    assert "selu | dropout1d(0.1)" in text and "hardtanh(min_val = -2.0, max_val = 2.0)" in text
    assert_equivalent(original(UNITS, torch_module), text, (4, 58), torch_module)
    assert_equivalent(original(UNITS, torch_module, n_units=3, n_classes=4), text, (4, 58), torch_module,
                      n_units=3, n_classes=4)
