"""`archc import` of models configured by objects: argparse namespaces, config objects, keyword
dicts and `**kwargs`. Each field the model reads is an architecture parameter (`args.dropout` is
`args_dropout`); the lifts are proven equal to the originals built with the same values.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
from archc.core.source import Source
from archc.frontends.files import Options
from archc.frontends.torch_import import read_py
from test_torch_import_real import MORE, assert_equivalent, lift_text, line_of, lint_json, original, run_cli

ARGPARSE = MORE / "argparse_model.py"
DICTS = MORE / "dict_kwargs.py"
# The namespace the fixture's own parser gives (dropout is read with getattr and a default).
PARSER_DEFAULTS = {"n_filters": 48, "kernel_size": 9, "pool_size": 4, "seq_len": 512, "n_classes": 3}


@pytest.mark.torch
def test_argparse_model_lifts_at_its_parser_defaults(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    text = lift_text(ARGPARSE, capsys, tmp_path)
    assert "fields of `args` at the defaults of the file's argparse options: n_filters 48, kernel_size 9" in text
    assert "conv1 = conv1d(args_n_filters, args_kernel_size, padding = args_kernel_size // 2)" in text
    assert "drop = dropout(args_dropout)" in text and "fc = linear(args_n_classes)" in text
    assert "length = 512" in text  # the field args.seq_len names the input length
    module = original(ARGPARSE, torch_module, args=argparse.Namespace(**PARSER_DEFAULTS))
    assert_equivalent(module, text, (4, 512), torch_module)


@pytest.mark.torch
@pytest.mark.parametrize(
    "fields", [{"n_filters": 16}, {"kernel_size": 5, "dropout": 0.5}, {"pool_size": 2, "n_classes": 7}]
)
def test_argparse_fields_are_parameters(
    fields: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """The .arch lifted once, compiled with other field values, equals the original built with them."""
    text = lift_text(ARGPARSE, capsys, tmp_path)
    namespace = argparse.Namespace(**{**PARSER_DEFAULTS, "dropout": 0.2, **fields})
    module = original(ARGPARSE, torch_module, args=namespace)
    params = {f"args_{k}": v for k, v in fields.items()}
    assert_equivalent(module, text, (4, 512), torch_module, **params)


@pytest.mark.torch
def test_set_of_a_field_lifts_with_that_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    text = lift_text(ARGPARSE, capsys, tmp_path, "--set", "args_n_filters=20", "--set", "args_dropout=0.3")
    assert "args_n_filters = 20" in text and "args_dropout = 0.3" in text
    namespace = argparse.Namespace(**{**PARSER_DEFAULTS, "n_filters": 20, "dropout": 0.3})
    assert_equivalent(original(ARGPARSE, torch_module, args=namespace), text, (4, 512), torch_module)


CONFIGURED = '''import torch.nn as nn


class TorchModel(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.conv = nn.Conv1d(4, config.filters, config.width)
        self.fc = nn.Linear(config.filters, config.n_out)

    def forward(self, x):
        return self.fc(self.conv(x).amax(dim=2))
'''


def test_a_field_without_value_names_itself_and_every_other_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "configured.py"
    path.write_text(CONFIGURED)
    code, _, err = run_cli(capsys, "import", str(path))
    assert code == 1
    first = err.splitlines()[0]
    assert first == ("error[unsupported]: `config.filters` is read from a constructor argument; archc "
                     "builds the class without arguments")
    assert f"{path}:{line_of(CONFIGURED, 'nn.Conv1d(4, config.filters')}:34" in err
    assert ("help: pass --set config_filters=VALUE (and --set config_width=VALUE --set config_n_out=VALUE)"
            in err)
    code, diags = lint_json(capsys, path)
    assert code == 1 and [(d["code"], d["line"], d["column"]) for d in diags] == [("unsupported", 7, 34)]


@pytest.mark.torch
def test_the_advice_for_fields_works(capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any) -> None:
    path = tmp_path / "configured.py"
    path.write_text(CONFIGURED)
    text = lift_text(path, capsys, tmp_path, "--set", "config_filters=8", "--set", "config_width=5",
                     "--set", "config_n_out=3")
    assert "conv = conv1d(config_filters, config_width)" in text and "fc = linear(config_n_out)" in text
    module = original(path, torch_module, config=argparse.Namespace(filters=8, width=5, n_out=3))
    assert_equivalent(module, text, (4, 1000), torch_module)
    other = original(path, torch_module, config=argparse.Namespace(filters=6, width=3, n_out=2))
    assert_equivalent(other, text, (4, 1000), torch_module, config_filters=6, config_width=3, config_n_out=2)


@pytest.mark.torch
def test_dict_defaults_and_kwargs_lift(capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any) -> None:
    text = lift_text(DICTS, capsys, tmp_path)
    header = " ".join(text.split("arch dict_kwargs(", 1)[1].split(")", 1)[0].split())
    assert header.startswith(
        "n_targets = 2, width = 24, conv_kwargs_kernel_size = 7, conv_kwargs_padding = 3, dropout_arg = 0.1, length = 400"
    )
    assert "conv1 = conv1d(width, conv_kwargs_kernel_size, padding = conv_kwargs_padding)" in text
    assert "pool = maxpool1d(4)" in text and "hidden = linear(32)" in text
    assert_equivalent(original(DICTS, torch_module), text, (4, 400), torch_module)


@pytest.mark.torch
def test_dict_entries_and_kwargs_keys_follow_their_parameters(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    text = lift_text(DICTS, capsys, tmp_path)
    module = original(DICTS, torch_module, n_targets=5, conv_kwargs={"kernel_size": 5, "padding": 2},
                      width=16, dropout=0.4)
    assert_equivalent(module, text, (4, 400), torch_module, n_targets=5, conv_kwargs_kernel_size=5,
                      conv_kwargs_padding=2, width=16, dropout_arg=0.4)


@pytest.mark.torch
def test_set_of_a_kwargs_key_passes_it_on(capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any) -> None:
    """`--set width=16` fills `kwargs.get("width", 24)`; the lift checks with it (no bad-set)."""
    text = lift_text(DICTS, capsys, tmp_path, "--set", "width=16", "--set", "length=400")
    assert "width = 16" in text
    assert_equivalent(original(DICTS, torch_module, width=16), text, (4, 400), torch_module)


HEAD = "import torch.nn as nn\n\n"
REFUSED = {
    "kwargs in a block": (
        HEAD + "class Block(nn.Module):\n    def __init__(self, c, **kwargs):\n        super().__init__()\n"
        "        self.conv = nn.Conv1d(c, c, 3, **kwargs)\n\n    def forward(self, x):\n        return self.conv(x)\n\n\n"
        "class TorchModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.block = Block(4, norm=nn.ReLU())\n\n    def forward(self, x):\n        return self.block(x)\n",
        (15, 36), "`norm` goes into the **kwargs of `Block` as a nn.ReLU module; archc lifts a helper module's "
        "**kwargs when what is passed into it is known (numbers, strings, ...)",
    ),
    "hasattr": (
        HEAD + "class TorchModel(nn.Module):\n    def __init__(self, args):\n        super().__init__()\n"
        "        w = args.width if hasattr(args, 'width') else 8\n        self.conv = nn.Conv1d(4, w, 3)\n\n"
        "    def forward(self, x):\n        return self.conv(x)\n",
        (6, 27), "whether `args` has the field `width` cannot be decided statically",
    ),
    "dict method": (
        HEAD + "class TorchModel(nn.Module):\n    def __init__(self, opts={'k': 3}):\n        super().__init__()\n"
        "        self.conv = nn.Conv1d(4, 8, len(opts.copy()))\n\n"
        "    def forward(self, x):\n        return self.conv(x)\n",
        (6, 41), "`.copy` of the dict argument `opts` is not supported",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_object_refusals_name_the_construct(case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text, (line, column), message = REFUSED[case]
    path = tmp_path / "m.py"
    path.write_text(text)
    code, diags = lint_json(capsys, path, "--set", "length=50")
    assert code == 1
    assert [(d["code"], d["message"], d["line"], d["column"]) for d in diags] == [
        ("unsupported", message, line, column)
    ]


def test_a_none_default_stays_none_when_nothing_is_set() -> None:
    text = (HEAD + "class TorchModel(nn.Module):\n    def __init__(self, cfg=None):\n        super().__init__()\n"
            "        width = 8 if cfg is None else cfg.width\n        self.conv = nn.Conv1d(4, width, 3)\n\n"
            "    def forward(self, x):\n        return self.conv(x)\n")
    loaded = read_py(Source("m.py", text), Options(sets={"length": 50}))
    assert loaded.tree is not None, [d.message for d in loaded.diagnostics]
    assert "conv1d(8, 3)" in show_tree(loaded)
    given = read_py(Source("m.py", text), Options(sets={"length": 50, "cfg_width": 12}))
    assert given.tree is not None and "conv1d(cfg_width, 3)" in show_tree(given)


def show_tree(loaded: Any) -> str:
    from archc.syntax.unparse import unparse

    return unparse(loaded.tree, loaded.header)


LISTS = MORE / "per_layer_lists.py"


@pytest.mark.torch
def test_per_layer_lists_lift_at_their_defaults(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    text = lift_text(LISTS, capsys, tmp_path)
    assert "# constructor argument `filters` is read at its default [48, 32, 32]: not a parameter" in text
    assert "conv1d(32, 7, padding = 3) | batchnorm1d | relu | maxpool1d(2)" in text
    assert "fc1 = linear(hidden) | relu" in text
    assert_equivalent(original(LISTS, torch_module), text, (4, 240), torch_module, hidden=64)
    assert_equivalent(original(LISTS, torch_module, hidden=16, n_out=5), text, (4, 240), torch_module,
                      hidden=16, n_out=5)


@pytest.mark.torch
def test_other_lists_lift_when_written_as_the_default(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """The advice in the header: edit the list and lift again."""
    source = LISTS.read_text().replace("filters=[48, 32, 32], kernels=(11, 7, 3)",
                                       "filters=[8, 16, 24], kernels=(5, 5, 9)")
    path = tmp_path / "edited.py"
    path.write_text(source)
    text = lift_text(path, capsys, tmp_path)
    assert "conv1d(24, 9, padding = 4)" in text
    module = original(LISTS, torch_module, filters=[8, 16, 24], kernels=(5, 5, 9))
    assert_equivalent(module, text, (4, 240), torch_module)


@pytest.mark.torch
def test_set_of_a_list_lifts_at_that_list(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    """The advice in the header: `--set filters=[...]` lifts at other per-layer values."""
    text = lift_text(LISTS, capsys, tmp_path, "--set", "filters=[8,16,24]", "--set", "kernels=(5,5,9)")
    assert "# constructor argument `filters` is read at --set [8, 16, 24]: not a parameter" in text
    assert "conv1d(24, 9, padding = 4)" in text
    module = original(LISTS, torch_module, filters=[8, 16, 24], kernels=(5, 5, 9))
    assert_equivalent(module, text, (4, 240), torch_module)
    # lint and compile of the .py take it too, and a misspelt name is still an error
    code, diags = lint_json(capsys, LISTS, "--set", "filters=[8,16,24]")
    assert code == 0 and not [d for d in diags if d["severity"] == "error"], diags
    code, diags = lint_json(capsys, LISTS, "--set", "filters=[8,16,24]", "--set", "filtrs=[1]")
    assert code == 1 and [d["code"] for d in diags if d["severity"] == "error"] == ["bad-set"], diags
    out = tmp_path / "gen"
    code, _, err = run_cli(capsys, "compile", str(LISTS), "--set", "filters=[8,16,24]", "-o", str(out))
    assert code == 0, err
    assert "nn.Conv1d(16, 24, kernel_size=3, padding=1)" in (out / "per_layer_lists.py").read_text()


def test_set_values_split_outside_brackets() -> None:
    from archc.driver import parse_sets
    from archc.frontends.files import UsageError

    assert parse_sets(["k=(5,1),(7,1)", "w=[64, 64,128]", "one=(3,)", "n=2,3", "s='a,b'"]) == {
        "k": [(5, 1), (7, 1)], "w": [(64, 64, 128)], "one": [(3,)], "n": [2, 3], "s": ["a,b"],
    }
    assert parse_sets(["nested=[[1,2],[3]]"]) == {"nested": [((1, 2), (3,))]}
    for bad in ("k=(5,1", "k=[1,,2]", "k=5)"):
        with pytest.raises(UsageError):
            parse_sets([bad])


def test_a_tuple_parameter_of_an_arch_takes_a_tuple(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "t.arch"
    path.write_text("arch t(k = (3, 1), classes = 2, length = 100, alphabet = 4) {\n"
                    "    input (batch, channels, length, width: 1)\n"
                    "    c = conv2d(8, k) | flatten | fc = linear(classes)\n}\n")
    code, _, err = run_cli(capsys, "compile", str(path), "--set", "k=(5,1)", "-o", str(tmp_path / "out"))
    assert code == 0, err
    assert "k: tuple = (5, 1)" in (tmp_path / "out" / "t.py").read_text()
    code, diags = lint_json(capsys, path, "--set", "classes=(5,1)")
    assert code == 1 and diags[0]["code"] == "bad-set" and "not a tuple" in diags[0]["message"], diags


def test_lstm_at_the_end_of_a_sequential_lifts_and_a_nested_one_is_refused_as_such(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "m.py"
    source = (
        HEAD + "class TorchModel(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.rnn = nn.Sequential(nn.LSTM(4, 8, batch_first=True))\n        self.fc = nn.Linear(8, 2)\n\n"
        "    def forward(self, x):\n        out, _ = self.rnn(x.transpose(1, 2))\n        return self.fc(out[:, -1, :])\n"
    )
    path.write_text(source)
    code, diags = lint_json(capsys, path, "--set", "length=50")
    assert code == 0 and not [d for d in diags if d["severity"] == "error"], diags
    path.write_text(source.replace("nn.Sequential(nn.LSTM(4, 8, batch_first=True))",
                                   "nn.Sequential(nn.Sequential(nn.LSTM(4, 8, batch_first=True)))"))
    code, diags = lint_json(capsys, path, "--set", "length=50")
    assert code == 1
    assert [(d["code"], d["line"], d["column"]) for d in diags] == [("unsupported", 6, 48)]
    assert diags[0]["message"].startswith("an nn.LSTM at the end of an nn.Sequential inside another")
    assert "cannot loop over a tensor" not in diags[0]["message"]


STORED = '''import torch.nn as nn


class TorchModel(nn.Module):
    def __init__(self, hparams):
        super().__init__()
        self.hp = hparams
        self.conv = nn.Conv1d(4, self.hp.filters, 5)
        self.fc = nn.Linear(self.hp.filters, 2)

    def forward(self, x):
        return self.fc(self.conv(x).amax(dim=-1))
'''


@pytest.mark.torch
def test_fields_read_through_a_stored_attribute(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    path = tmp_path / "stored.py"
    path.write_text(STORED)
    code, _, err = run_cli(capsys, "import", str(path), "--set", "length=100")
    assert code == 1 and f"{path}:8:34" in err and "help: pass --set hparams_filters=VALUE" in err
    text = lift_text(path, capsys, tmp_path, "--set", "length=100", "--set", "hparams_filters=8")
    assert "conv = conv1d(hparams_filters, 5)" in text
    module = original(path, torch_module, hparams=argparse.Namespace(filters=12))
    assert_equivalent(module, text, (4, 100), torch_module, hparams_filters=12)


DICT_REQUIRED = {
    "dict argument": ('cfg', 'cfg["filters"]', "`cfg['filters']` is read from a constructor argument", "cfg_filters"),
    "kwargs key": ("**kwargs", 'kwargs["filters"]', "`kwargs['filters']` (of **kwargs) is read from a constructor argument",
                   "filters"),
}


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(DICT_REQUIRED))
def test_a_missing_dict_entry_names_the_set_that_works(
    case: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, torch_module: Any
) -> None:
    arg, read, message, pname = DICT_REQUIRED[case]
    source = (HEAD + f"class TorchModel(nn.Module):\n    def __init__(self, {arg}):\n        super().__init__()\n"
              f"        self.conv = nn.Conv1d(4, {read}, 3)\n\n    def forward(self, x):\n        return self.conv(x)\n")
    path = tmp_path / "m.py"
    path.write_text(source)
    code, _, err = run_cli(capsys, "import", str(path), "--set", "length=40")
    assert code == 1
    assert err.splitlines()[0] == f"error[unsupported]: {message}; archc builds the class without arguments"
    assert f"{path}:6:34" in err and f"help: pass --set {pname}=VALUE" in err
    text = lift_text(path, capsys, tmp_path, "--set", "length=40", "--set", f"{pname}=6")
    assert f"conv = conv1d({pname}, 3)" in text
    built = original(path, torch_module, **({"cfg": {"filters": 6}} if arg == "cfg" else {"filters": 6}))
    assert_equivalent(built, text, (4, 40), torch_module)


def test_a_list_field_of_an_object_argument_takes_a_list(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The help names `--set args_tasks=VALUE`; a list given there is read when lifting."""
    path = tmp_path / "m.py"
    path.write_text(
        "import torch\n" + HEAD + "class TorchModel(nn.Module):\n    def __init__(self, args):\n        super().__init__()\n"
        "        self.conv = nn.Conv1d(4, 8, 5)\n        self.fc = nn.Linear(8, len(args.tasks))\n\n"
        "    def forward(self, x):\n        return self.fc(torch.relu(self.conv(x)).amax(dim=2))\n"
    )
    code, diags = lint_json(capsys, path, "--set", "length=50")
    assert code == 1 and "--set args_tasks=VALUE" in (diags[0].get("help") or ""), diags
    code, diags = lint_json(capsys, path, "--set", "length=50", "--set", "args_tasks=[a,b,c]")
    assert code == 0 and not [d for d in diags if d["severity"] == "error"], diags


def test_a_device_default_does_not_stop_the_lift(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`kwargs.get("device", torch.device("cpu"))` stored and never used: where tensors live has no
    shape; using it in forward is refused at the use, naming the device."""
    path = tmp_path / "m.py"
    source = (
        "import torch\n" + HEAD + "class TorchModel(nn.Module):\n    def __init__(self, **kwargs):\n"
        "        super().__init__()\n        self.dev = kwargs.get('device', torch.device('cpu'))\n"
        "        self.conv = nn.Conv1d(4, 8, 5)\n        self.fc = nn.Linear(8, 2)\n\n"
        "    def forward(self, x):\n        return self.fc(torch.relu(self.conv(x)).amax(dim=2))\n"
    )
    path.write_text(source)
    code, diags = lint_json(capsys, path, "--set", "length=50")
    assert code == 0 and not [d for d in diags if d["severity"] == "error"], diags
    path.write_text(source.replace("return self.fc(", "x = x.to(self.dev)\n        return self.fc("))
    code, diags = lint_json(capsys, path, "--set", "length=50")
    assert code == 1 and "torch.device" in diags[0]["message"], diags
