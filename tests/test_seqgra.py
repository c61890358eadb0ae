"""seqgra interoperability: importing model definitions (XML) and exporting seqgra-ready models."""

from __future__ import annotations

import importlib
import json
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from archc.cli import main
from archc.core.diagnostics import Reporter
from archc.core.source import Source, Span
from archc.frontends.files import Loaded, Options
from archc.frontends.seqgra_import import MAX_BYTES, identifier, typed
from archc.syntax import tree as s
from archc.syntax.parser import parse
from lxml import etree
from seeds import MODELS, SEQGRA_MD, SEQGRA_XSD, seed_python, seed_xml

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "seqgra"
MD_FILES = sorted(p.name for p in SEQGRA_MD.glob("*.xml")) if SEQGRA_MD.is_dir() else []
TF_FILES = [name for name in MD_FILES if name.startswith("tf-")]
TORCH_FILES = [name for name in MD_FILES if name.startswith("torch-")]


def _files(names: list[str]) -> list[Any]:
    """Parameters for the shipped definitions, or one that skips when they are absent."""
    if names:
        return names
    return [
        pytest.param("absent", marks=pytest.mark.skip(reason=f"seqgra definitions not found in {SEQGRA_MD}"))
    ]


@pytest.fixture
def xsd() -> Any:
    if not SEQGRA_XSD.exists():
        pytest.skip(f"seqgra schema not found at {SEQGRA_XSD}")
    return etree.XMLSchema(etree.parse(str(SEQGRA_XSD)))


def cli(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def lint_json(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, list[dict[str, Any]]]:
    code, out, _ = cli(capsys, "lint", path, "--format", "json")
    return code, json.loads(out)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the first occurrence of `needle` in `text`."""
    return text[: text.index(needle)].count("\n") + 1


def general_fields(root: Any) -> dict[str, Any]:
    """Every field of a definition, element by element, in a comparable form."""
    general = root.find("general")
    fields: dict[str, Any] = {"id": general.get("id")}
    for child in general:
        if child.tag == "labels":
            fields["labels"] = [(c.tag, c.text or "", dict(c.attrib)) for c in child]
        else:
            fields[child.tag] = child.text or ""
    for group in ("loss", "optimizer", "trainingprocess"):
        element = root.find(group)
        if element is not None:
            fields[group] = [(h.get("name"), h.text or "") for h in element]
    return fields


def keras_facts(path: Path) -> tuple[int, int, int]:
    """(length, alphabet, classes) straight from a TensorFlow definition, for checking."""
    root = etree.parse(str(path)).getroot()
    first = root.find("architecture/sequential/operation")
    shape = tuple(int(v) for v in re.findall(r"[0-9]+", first.get("input_shape")))
    labels = root.find("general/labels")
    pattern = labels.find("pattern")
    if pattern is not None:
        classes = int(pattern.get("max")) - int(pattern.get("min", "1")) + 1
    else:
        classes = len(labels.findall("label"))
    return shape[-2], shape[-1], classes


# ---------------------------------------------------------------------- unit: typing rule


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("100", s.Int, 100),
        ("-3", s.Int, -3),
        ("0.001", s.Float, 0.001),
        ("1e-05", s.Float, 1e-05),
        ("True", s.Bool, True),
        ("False", s.Bool, False),
        ("007", s.Str, "007"),
        ("-0", s.Str, "-0"),
        ("1e-4", s.Str, "1e-4"),
        ("1.50", s.Str, "1.50"),
        (" 5", s.Str, " 5"),
        ("true", s.Str, "true"),
        ("nan", s.Str, "nan"),
        ("inf", s.Str, "inf"),
        ("(0.9, 0.999)", s.Str, "(0.9, 0.999)"),
    ],
)
def test_metadata_is_typed_only_when_lossless(text: str, kind: type, value: Any) -> None:
    got = typed(text, Span(0, 0))
    assert isinstance(got, kind)
    assert got.value == value  # type: ignore[union-attr]


def test_identifier_from_id() -> None:
    assert identifier("torch-mc2-dna150-conv1-gmp-s1") == "torch_mc2_dna150_conv1_gmp_s1"
    assert identifier("2x") == "m_2x"
    assert identifier("meta") == "meta_"
    assert identifier("class") == "class_"


# ---------------------------------------------------------------------- every shipped definition


@pytest.mark.parametrize("name", _files(TF_FILES))
def test_tensorflow_definitions_import_and_compile(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arch = tmp_path / "model.arch"
    code, _, err = cli(capsys, "import", SEQGRA_MD / name, "-o", arch)
    assert code == 0, err
    text = arch.read_text()
    assert "input (batch, length, channels)" in text
    length, alphabet, classes = keras_facts(SEQGRA_MD / name)
    assert f"(classes = {classes}, length = {length}, alphabet = {alphabet})" in text
    assert "softmax" not in text.split("input (")[1]  # the final softmax became logits
    assert "warning[softmax-dropped]" in err
    code, _, err = cli(capsys, "compile", arch, "-o", tmp_path / "out")
    assert code == 0, err
    assert (tmp_path / "out" / "model.py").exists()


@pytest.mark.torch
@pytest.mark.parametrize("name", _files(TF_FILES))
def test_tensorflow_definitions_run(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_module: Any
) -> None:
    from archc.api import build_module

    torch = torch_module
    arch = tmp_path / "model.arch"
    assert cli(capsys, "import", SEQGRA_MD / name, "-o", arch)[0] == 0
    module = build_module(arch.read_text()).eval()
    length, alphabet, classes = keras_facts(SEQGRA_MD / name)
    with torch.no_grad():
        out = module(torch.zeros(3, length, alphabet))
    assert tuple(out.shape) == (3, classes)


@pytest.mark.parametrize("name", _files([n for n in MD_FILES if n.startswith("boc-")]))
def test_bayes_optimal_classifiers_end_in_a_clear_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "model.arch"
    code, out, err = cli(capsys, "import", SEQGRA_MD / name, "-o", target)
    assert code == 1
    assert "error[unsupported]: a Bayes optimal classifier holds no neural-network architecture" in err
    text = (SEQGRA_MD / name).read_text()
    assert f"{name}:{line_of(text, '<external')}:" in err
    assert out == "" and not target.exists()


@pytest.mark.parametrize("name", _files(TORCH_FILES))
def test_torch_definitions_without_their_module_end_in_a_clear_error(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "model.arch"
    code, out, err = cli(capsys, "import", SEQGRA_MD / name, "-o", target)
    assert code == 1
    text = (SEQGRA_MD / name).read_text()
    module = re.search(r'classname="TorchModel">([^<]+)<', text)
    assert module is not None
    resolved = (SEQGRA_MD / module.group(1)).resolve()
    assert f"error[missing-file]: the PyTorch module {module.group(1)!r} does not exist" in err
    assert f"(looked for {resolved})" in err
    assert f"{name}:{line_of(text, '<external')}:" in err
    assert out == "" and not target.exists()


# ---------------------------------------------------------------------- Keras semantics


def _state(module: Any) -> dict[str, Any]:
    return {k: v.detach().numpy().astype("float64") for k, v in module.state_dict().items()}


def _randomize(module: Any, torch: Any) -> None:
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.dtype.is_floating_point:
                values = torch.randn(tensor.shape, generator=gen) * 0.5
                if name.endswith("running_var"):
                    values = values.abs() + 0.5
                tensor.copy_(values)


def _conv_nlc(x: Any, weight: Any, bias: Any, pad_left: int = 0, pad_right: int = 0) -> Any:
    """Keras Conv1D on (batch, length, channels); weight in PyTorch's (out, in, kernel)."""
    import numpy as np

    x = np.pad(x, ((0, 0), (pad_left, pad_right), (0, 0)))
    k = weight.shape[2]
    steps = x.shape[1] - k + 1
    windows = np.stack([x[:, i : i + k, :] for i in range(steps)], axis=1)  # (b, l, k, c)
    return np.einsum("blkc,fck->blf", windows, weight) + bias


@pytest.mark.torch
def test_conv_flatten_dense_keeps_keras_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_module: Any
) -> None:
    """Flatten must see Keras' (length, channels) order, so the Dense weights mean the same."""
    import numpy as np
    from archc.api import build_module

    if "tf-mc2-dna150-conv2-fc32-fb-bg-s1.xml" not in MD_FILES:
        pytest.skip("seqgra definitions not found")
    torch = torch_module
    arch = tmp_path / "m.arch"
    assert cli(capsys, "import", SEQGRA_MD / "tf-mc2-dna150-conv2-fc32-fb-bg-s1.xml", "-o", arch)[0] == 0
    module = build_module(arch.read_text()).eval()
    _randomize(module, torch)
    w = _state(module)
    x = np.random.default_rng(1).standard_normal((4, 150, 4))
    h = np.maximum(_conv_nlc(x, w["conv1.weight"], w["conv1.bias"]), 0)  # (4, 146, 2)
    h = h.reshape(4, -1)  # Keras Flatten: (length, channels) order
    h = np.maximum(h @ w["fc1.weight"].T + w["fc1.bias"], 0)
    want = h @ w["fc2.weight"].T + w["fc2.bias"]
    with torch.no_grad():
        got = module(torch.tensor(x, dtype=torch.float32)).numpy()
    assert np.abs(got - want).max() < 1e-4


@pytest.mark.torch
@pytest.mark.parametrize("layout", [None, "1D"])
def test_mixed_keras_layers_match_a_reference(
    layout: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_module: Any
) -> None:
    """Same padding, pooling, batchnorm (Keras momentum/epsilon), Dense per position, Flatten."""
    import numpy as np
    from archc.api import build_module

    torch = torch_module
    arch = tmp_path / "m.arch"
    extra = ["--layout", layout] if layout else []
    code, _, err = cli(capsys, "import", FIXTURES / "keras_mixed.xml", "-o", arch, *extra)
    assert code == 0, err
    assert "warning[softmax-dropped]: the final sigmoid is left out" in err
    module = build_module(arch.read_text()).eval()
    assert module.bn1.momentum == pytest.approx(0.1) and module.bn1.eps == pytest.approx(0.01)
    _randomize(module, torch)
    w = _state(module)
    x = np.random.default_rng(2).standard_normal((5, 40, 4))
    h = np.maximum(_conv_nlc(x, w["conv1.weight"], w["conv1.bias"], 2, 2), 0)  # same: (5, 40, 6)
    h = h.reshape(5, 20, 2, 6).max(axis=2)  # MaxPool1D(2), stride 2
    h = (h - w["bn1.running_mean"]) / np.sqrt(w["bn1.running_var"] + 0.01) * w["bn1.weight"] + w["bn1.bias"]
    h = np.maximum(h @ w["fc1.weight"].T + w["fc1.bias"], 0)  # Dense per position: (5, 20, 3)
    want = h.reshape(5, -1) @ w["fc2.weight"].T + w["fc2.bias"]
    inputs = x if layout is None else x.transpose(0, 2, 1)
    with torch.no_grad():
        got = module(torch.tensor(inputs, dtype=torch.float32)).numpy()
    assert got.shape == (5, 3)
    assert np.abs(got - want).max() < 1e-4


@pytest.mark.torch
def test_two_d_encoding(tmp_path: Path, capsys: pytest.CaptureFixture[str], torch_module: Any) -> None:
    from archc.api import build_module

    torch = torch_module
    arch = tmp_path / "m.arch"
    assert cli(capsys, "import", FIXTURES / "keras_2d.xml", "-o", arch)[0] == 0
    assert "input (batch, height: 1, length, channels)" in arch.read_text()
    with torch.no_grad():
        out = build_module(arch.read_text()).eval()(torch.zeros(2, 1, 50, 4))
    assert tuple(out.shape) == (2, 2)
    assert cli(capsys, "import", FIXTURES / "keras_2d.xml", "-o", arch, "--layout", "2D")[0] == 0
    assert "input (batch, channels, height: 1, length)" in arch.read_text()
    with torch.no_grad():
        out = build_module(arch.read_text()).eval()(torch.zeros(2, 4, 1, 50))
    assert tuple(out.shape) == (2, 2)


def test_lstm_keeps_the_last_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    name = "tf-mc2-dna150-conv2-lstm32-fc32-s1.xml"
    if name not in MD_FILES:
        pytest.skip("seqgra definitions not found")
    code, out, _ = cli(capsys, "import", SEQGRA_MD / name)
    assert code == 0
    assert "lstm1 = lstm(32, batch_first = true) | select(1, -1)" in out
    assert 'conv1d(2, kernel_size = 5, padding = "same")' in out


def test_length_can_be_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "import", FIXTURES / "keras_mixed.xml", "--set", "length=64")
    assert code == 0
    assert "(classes = 3, length = 64, alphabet = 4)" in out


# ---------------------------------------------------------------------- round trips


def _roundtrip(
    capsys: pytest.CaptureFixture[str], xml: Path, tmp_path: Path, *import_args: str
) -> tuple[Any, Any]:
    arch = tmp_path / "model.arch"
    code, _, err = cli(capsys, "import", xml, "-o", arch, *import_args)
    assert code == 0, err
    out = tmp_path / "out"
    code, _, err = cli(capsys, "compile", arch, "--emit", "seqgra", "-o", out)
    assert code == 0, err
    assert (out / "model.py").exists()
    return etree.parse(str(xml)).getroot(), etree.parse(str(out / "model.xml")).getroot()


def _keras_to_torch(fields: dict[str, Any]) -> dict[str, Any]:
    """The documented translation of library-specific fields when a Keras model is exported."""
    losses = {"categorical_crossentropy": "CrossEntropyLoss", "binary_crossentropy": "BCEWithLogitsLoss"}
    out = dict(fields)
    assert out["library"] == "TensorFlow"
    out["library"] = "PyTorch"
    out.setdefault("inputencoding", "1D")
    out["loss"] = [(n, losses[v] if n == "loss" else v) for n, v in out["loss"]]
    return out


@pytest.mark.parametrize("name", _files(TF_FILES))
def test_tensorflow_definition_round_trips(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], xsd: Any
) -> None:
    original, exported = _roundtrip(capsys, SEQGRA_MD / name, tmp_path, "--layout", "1D")
    assert xsd.validate(exported), xsd.error_log
    assert general_fields(exported) == _keras_to_torch(general_fields(original))
    external = exported.find("architecture/external")
    assert (external.get("format"), external.get("classname"), external.text) == (
        "pytorch-module",
        "TorchModel",
        "model.py",
    )


@pytest.mark.parametrize("fixture", ["keras_mixed.xml", "keras_2d.xml"])
def test_fixture_round_trips_keep_odd_values(
    fixture: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], xsd: Any
) -> None:
    layout = "2D" if "2d" in fixture else "1D"
    original, exported = _roundtrip(capsys, FIXTURES / fixture, tmp_path, "--layout", layout)
    assert xsd.validate(exported), xsd.error_log
    want = _keras_to_torch(general_fields(original))
    got = general_fields(exported)
    assert got == want
    assert got["inputencoding"] == layout


@pytest.fixture
def fake_read_py(monkeypatch: pytest.MonkeyPatch) -> list[Options]:
    """A stand-in PyTorch lifter: the '.py' file holds .arch text, parsed as such.

    It lets the metadata attachment and the XML round trip be tested whatever
    state the real lifter (`archc.frontends.torch_import`) is in; the calls are recorded.
    """
    calls: list[Options] = []

    def read_py(source: Source, options: Options) -> Loaded:
        calls.append(options)
        return Loaded(source, parse(source), Reporter(source), ["lifted by the stand-in"])

    fake = types.ModuleType("archc.frontends.torch_import")
    fake.read_py = read_py  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "archc.frontends.torch_import", fake)
    return calls


STAND_IN = """arch TorchModel(classes = {classes}, length = {length}, alphabet = {alphabet}) {{
  conv1 = conv1d(8, kernel_size = 5) | relu
  global_max_pool
  fc = linear(classes)
}}
"""


def _place_module(xml: Path, tmp_path: Path, text: str) -> Path:
    """Copy a definition into tmp_path and put `text` where its <external> points."""
    doc = xml.read_text()
    target = re.search(r'format="pytorch-module" classname="TorchModel">([^<]+)<', doc)
    assert target is not None
    tmp_path.mkdir(parents=True, exist_ok=True)
    copy = tmp_path / xml.name
    copy.write_text(doc)
    module = tmp_path / target.group(1)
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(text)
    return copy


@pytest.mark.parametrize("name", _files(TORCH_FILES))
def test_torch_definition_round_trips_exactly(
    name: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    xsd: Any,
    fake_read_py: list[Options],
) -> None:
    fields = general_fields(etree.parse(str(SEQGRA_MD / name)).getroot())
    labels = fields["labels"]
    classes = (
        len(labels)
        if labels[0][0] == "label"
        else int(labels[0][2]["max"]) - int(labels[0][2].get("min", "1")) + 1
    )
    alphabet = 20 if fields["sequencespace"] == "protein" else 4
    length = int(re.search(r"(?:dna|protein)([0-9]+)", name).group(1))  # type: ignore[union-attr]
    text = STAND_IN.format(classes=classes, length=length, alphabet=alphabet)
    copy = _place_module(SEQGRA_MD / name, tmp_path / "defs", text)
    original, exported = _roundtrip(capsys, copy, tmp_path)
    assert xsd.validate(exported), xsd.error_log
    assert general_fields(exported) == general_fields(original)  # every field, exactly
    assert [(o.class_name, o.layout, o.sets.get("length")) for o in fake_read_py] == [
        ("TorchModel", "1D", length)
    ]


def test_lifted_module_gets_the_definitions_name_and_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_read_py: list[Options]
) -> None:
    if "torch-mc2-dna150-conv1-gmp-s1.xml" not in MD_FILES:
        pytest.skip("seqgra definitions not found")
    text = STAND_IN.format(classes=3, length=150, alphabet=4)
    copy = _place_module(SEQGRA_MD / "torch-mc2-dna150-conv1-gmp-s1.xml", tmp_path, text)
    code, out, err = cli(capsys, "import", copy)
    assert code == 0, err
    assert "arch torch_mc2_dna150_conv1_gmp_s1(classes = 3" in out
    assert 'id = "torch-mc2-dna150-conv1-gmp-s1"' in out
    assert "# lifted by the stand-in" in out
    # Three outputs but two labels: seqgra would fail, so say so, pointing at <labels>.
    assert "warning[label-count]: the module outputs 3 classes, but the definition's labels name 2" in err
    assert f"{copy.name}:{line_of(copy.read_text(), '<labels>')}:" in err


def _real_read_py() -> Any:
    try:
        return getattr(importlib.import_module("archc.frontends.torch_import"), "read_py", None)
    except ImportError:
        return None


@pytest.mark.usefixtures("seed_available")
@pytest.mark.parametrize("model", MODELS)
def test_seed_models_import(model: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], xsd: Any) -> None:
    xml = tmp_path / f"torch-mc50-dna1000-{model}-s1.xml"
    xml.write_text(seed_xml(model))
    target = re.search(r'classname="TorchModel">([^<]+)<', seed_xml(model))
    assert target is not None
    module = tmp_path / target.group(1)
    module.parent.mkdir(parents=True)
    module.write_text(seed_python(model))
    arch = tmp_path / f"{model}.arch"
    code, _, err = cli(capsys, "import", xml, "-o", arch)
    if _real_read_py() is not None:
        assert code == 0, err
        text = arch.read_text()
        assert f'id = "torch-mc50-dna1000-{model}-s1"' in text
        assert f"arch torch_mc50_dna1000_{model}_s1(" in text
        # ... and back: the exported definition keeps every field of the seed's, provided
        # the lifted module takes seqgra's 1D layout, as its definition declares.
        code, _, err = cli(capsys, "compile", arch, "--emit", "seqgra", "-o", tmp_path / "out")
        declared = re.search(r"^  input \(([^)]*)\)", text, re.MULTILINE)
        if declared is not None and declared.group(1) != "batch, channels, length":
            # The seed's own layout contradicts its definition (ChromDragoNN permutes first).
            assert code == 2
            assert f"takes its input as ({declared.group(1)}), but seqgra feeds PyTorch modules" in err
            assert not (tmp_path / "out").exists()
            return
        assert code == 0, err
        exported = etree.parse(str(tmp_path / "out" / f"{model}.xml")).getroot()
        assert xsd.validate(exported), xsd.error_log
        assert general_fields(exported) == general_fields(etree.fromstring(seed_xml(model).encode()))
    else:
        assert code == 1
        assert "error[not-available]: lifting PyTorch modules is not available" in err
        assert f"{xml.name}:{line_of(xml.read_text(), '<external')}:" in err


# ---------------------------------------------------------------------- export


def test_export_defaults_for_an_arch_without_metadata(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], xsd: Any
) -> None:
    examples = Path(__file__).resolve().parent.parent / "examples"
    code, _, err = cli(capsys, "compile", examples / "basset.arch", "--emit", "seqgra", "-o", tmp_path)
    assert code == 0, err
    root = etree.parse(str(tmp_path / "basset.xml")).getroot()
    assert xsd.validate(root), xsd.error_log
    assert general_fields(root) == {
        "id": "basset",
        "name": "basset",
        "description": "basset, compiled by archc to basset.py",
        "task": "multi-class classification",
        "sequencespace": "DNA",
        "library": "PyTorch",
        "inputencoding": "1D",
        "labels": [("pattern", "", {"prefix": "c", "postfix": "", "min": "1", "max": "50"})],
        "seed": "1",
        "loss": [("loss", "CrossEntropyLoss")],
        "optimizer": [("optimizer", "Adam"), ("learning_rate", "0.001")],
        "trainingprocess": [
            ("batch_size", "100"),
            ("epochs", "100"),
            ("early_stopping", "True"),
            ("shuffle", "True"),
        ],
    }
    assert root.find("architecture/external").text == "basset.py"
    first = (tmp_path / "basset.xml").read_bytes()
    assert first.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<seqgramodel')
    assert cli(capsys, "compile", examples / "basset.arch", "--emit", "seqgra", "-o", tmp_path)[0] == 0
    assert (tmp_path / "basset.xml").read_bytes() == first  # deterministic


ARCH_WITH_META = """arch hostile(classes = 2, length = 100, alphabet = 4) {{
  meta {{
    id = "hostile-1"
    name = {name}
    description = "a\\tb"
    labels = ["x", "y"]
    optimizer = {{ optimizer = "SGD", learning_rate = 0.01, betas = (0.9, 0.99) }}
  }}
  conv1 = conv1d(4, kernel_size = 3) | global_max_pool
  fc = linear(classes)
}}
"""


def test_export_escapes_every_value(tmp_path: Path, capsys: pytest.CaptureFixture[str], xsd: Any) -> None:
    nasty = '</name><evil attr="1"/>&amp; "quoted" <![CDATA[x]]>'
    escaped = nasty.replace("\\", "\\\\").replace('"', '\\"')
    arch = tmp_path / "hostile.arch"
    arch.write_text(ARCH_WITH_META.format(name=f'"{escaped}"'))
    code, _, err = cli(capsys, "compile", arch, "--emit", "seqgra", "-o", tmp_path / "out")
    assert code == 0, err
    root = etree.parse(str(tmp_path / "out" / "hostile.xml")).getroot()
    assert xsd.validate(root), xsd.error_log
    assert root.find("general/name").text == nasty
    assert root.find("general/description").text == "a\tb"
    assert root.find(".//evil") is None
    assert [(h.get("name"), h.text) for h in root.find("optimizer")] == [
        ("optimizer", "SGD"),
        ("learning_rate", "0.01"),
        ("betas", "(0.9, 0.99)"),
    ]
    assert [lab.text for lab in root.find("general/labels")] == ["x", "y"]


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ('id = "has space"', "id 'has space' may only hold letters, digits, _ and -"),
        ('author = "me"', "meta `author` has no place in a seqgra model definition"),
        ('labels = ["only one"]', "meta `labels` names 1 classes, but the model outputs 2"),
        ('sequencespace = "protein"', "sequencespace 'protein' does not fit an input of 4 channels"),
        ('inputencoding = "2D"', "meta inputencoding '2D' contradicts the input"),
        ('optimizer = "Adam"', "meta `optimizer` must be a map of hyperparameters"),
    ],
)
def test_export_refuses_metadata_seqgra_cannot_hold(
    meta: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arch = tmp_path / "m.arch"
    arch.write_text(
        "arch m(classes = 2, length = 100, alphabet = 4) {\n"
        f"  meta {{ {meta} }}\n"
        "  conv1 = conv1d(4, kernel_size = 3) | global_max_pool\n"
        "  fc = linear(classes)\n}\n"
    )
    out = tmp_path / "out"
    code, _, err = cli(capsys, "compile", arch, "--emit", "seqgra", "-o", out)
    assert code == 2
    assert message in err
    assert not out.exists()


def test_keras_layout_cannot_be_exported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = tmp_path / "k.arch"
    assert cli(capsys, "import", FIXTURES / "keras_mixed.xml", "-o", arch)[0] == 0
    out = tmp_path / "out"
    code, _, err = cli(capsys, "compile", arch, "--emit", "seqgra", "-o", out)
    assert code == 2
    assert "takes its input as (batch, length, channels), but seqgra feeds PyTorch modules" in err
    assert "--layout 1D" in err
    assert not out.exists()


def test_compile_reads_xml_directly(tmp_path: Path, capsys: pytest.CaptureFixture[str], xsd: Any) -> None:
    code, _, err = cli(
        capsys, "compile", FIXTURES / "keras_mixed.xml", "--layout", "1D", "--emit", "seqgra", "-o", tmp_path
    )
    assert code == 0, err
    root = etree.parse(str(tmp_path / "keras_mixed.xml")).getroot()
    assert xsd.validate(root)
    assert root.find("general").get("id") == "tf-ml3-dna40-mixed"


# ---------------------------------------------------------------------- validation errors

BASE = (FIXTURES / "keras_2d.xml").read_text()


def _variant(tmp_path: Path, old: str, new: str) -> tuple[Path, str]:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    path = tmp_path / "bad.xml"
    path.write_text(text)
    return path, text


@pytest.mark.parametrize(
    ("old", "new", "code", "message", "at"),
    [
        (
            "<seed>3</seed>",
            "<seed>3</sed>",
            "xml-syntax",
            "malformed XML: opening and ending tag mismatch: seed",
            "</sed>",
        ),
        (
            "<seed>3</seed>",
            "<seed>3</seed>\n\t\t<author>me</author>",
            "unknown-element",
            "unknown element `<author>` in `<general>`",
            "<author>",
        ),
        (
            ">Conv2D<",
            ">Conv3D<",
            "unknown-operation",
            "unknown operation 'Conv3D'",
            "Conv3D",
        ),
        (
            'filters="5"',
            'filter="5"',
            "unknown-attribute",
            "unknown attribute `filter` on `<operation>`",
            'filter="5"',
        ),
        (
            "\t\t<seed>3</seed>\n",
            "",
            "missing-element",
            "`<general>` has no `<seed>`",
            "<general",
        ),
        (
            'filters="5"',
            'filters="5" kernel_initializer="glorot_uniform"',
            "unsupported",
            "`Conv2D`: archc does not import `kernel_initializer`",
            "glorot_uniform",
        ),
        (
            'units="2"',
            'units="two"',
            "bad-value",
            "`units` must be a whole number of at least 1, got 'two'",
            "two",
        ),
        (
            "<sequencespace>DNA</sequencespace>",
            "<sequencespace>dna</sequencespace>",
            "bad-value",
            "unknown sequence space 'dna'",
            ">dna<",
        ),
        (
            '<general id="tf-mc2-dna50-conv2d">',
            "<general>",
            "missing-attribute",
            "`<general>` needs the attribute `id`",
            "<general>",
        ),
        (
            "\t\t<task>multi-class classification</task>\n",
            "",
            "missing-element",
            "`<general>` has no `<task>`",
            "<general",
        ),
        (
            "<inputencoding>2D</inputencoding>\n\t\t<labels>",
            "<labels>",
            "bad-value",
            "`input_shape` must be (length, alphabet) for inputencoding 1D",
            "(1, 50, 4)",
        ),
    ],
)
def test_validation_errors(
    old: str, new: str, code: str, message: str, at: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, text = _variant(tmp_path, old, new)
    exit_code, diagnostics = lint_json(capsys, path)
    assert exit_code == 1
    errors = [d for d in diagnostics if d["severity"] == "error"]
    assert errors, diagnostics
    first = errors[0]
    assert first["code"] == code
    assert message in first["message"]
    assert first["line"] == line_of(text, at.strip())
    target = tmp_path / "out.arch"
    exit_code, out, err = cli(capsys, "import", path, "-o", target)
    assert exit_code == 1
    assert f"bad.xml:{first['line']}:{first['column']}" in err
    assert out == "" and not target.exists()


def test_unknown_attribute_suggests_the_right_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = _variant(tmp_path, 'filters="5"', 'filter="5"')
    _, diagnostics = lint_json(capsys, path)
    assert diagnostics[0]["help"] == "did you mean `filters`?"


def test_element_order_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, text = _variant(
        tmp_path,
        "<task>multi-class classification</task>\n\t\t<sequencespace>DNA</sequencespace>",
        "<sequencespace>DNA</sequencespace>\n\t\t<task>multi-class classification</task>",
    )
    _, diagnostics = lint_json(capsys, path)
    assert diagnostics[0]["code"] == "element-order"
    assert diagnostics[0]["message"] == "`<task>` must come before `<sequencespace>` in `<general>`"
    assert diagnostics[0]["line"] == line_of(text, "<task>")


def test_declaration_inside_a_comment_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = _variant(tmp_path, "<seqgramodel>", "<!-- not a <!DOCTYPE x> -->\n<seqgramodel>")
    code, _, err = cli(capsys, "import", path)
    assert code == 0, err


# ---------------------------------------------------------------------- hostile documents


@pytest.fixture
def targets(tmp_path: Path) -> Iterator[tuple[Path, Path, bytes]]:
    """A fresh -o target and an existing one whose bytes must survive a failed import."""
    fresh = tmp_path / "fresh" / "model.arch"
    existing = tmp_path / "existing.arch"
    existing.write_bytes(b"arch keep() {}\n")
    yield fresh, existing, existing.read_bytes()


def _refused(
    capsys: pytest.CaptureFixture[str], path: Path, targets: tuple[Path, Path, bytes], code: str
) -> str:
    fresh, existing, before = targets
    everything = ""
    for target in (fresh, existing):
        exit_code, out, err = cli(capsys, "import", path, "-o", target)
        assert exit_code == 1
        assert f"error[{code}]" in err
        everything += out + err
    assert not fresh.exists() and not fresh.parent.exists()
    assert existing.read_bytes() == before
    out_dir = fresh.parent.parent / "compiled"
    exit_code, out, err = cli(capsys, "compile", path, "-o", out_dir)
    assert exit_code == 1 and not out_dir.exists()
    return everything + out + err


def test_billion_laughs_is_refused(capsys: pytest.CaptureFixture[str], targets: Any, tmp_path: Path) -> None:
    path = tmp_path / "laughs.xml"
    path.write_bytes((FIXTURES / "billion_laughs.xml").read_bytes())
    text = _refused(capsys, path, targets, "xml-unsafe")
    assert "lollollol" not in text
    assert "laughs.xml:2:1" in text


def test_external_entity_reads_nothing(
    capsys: pytest.CaptureFixture[str], targets: Any, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-7f3a91")
    for kind, declaration, use in (
        ("general", f'<!ENTITY xxe SYSTEM "file://{secret}">', "&xxe;"),
        ("parameter", f'<!ENTITY % xxe SYSTEM "file://{secret}"> %xxe;', "x"),
    ):
        path = tmp_path / f"xxe_{kind}.xml"
        path.write_text(
            f'<?xml version="1.0"?>\n<!DOCTYPE seqgramodel [ {declaration} ]>\n'
            + BASE.split("?>", 1)[1].replace("<name>2D convolution</name>", f"<name>{use}</name>")
        )
        text = _refused(capsys, path, targets, "xml-unsafe")
        assert "TOP-SECRET" not in text


def test_external_entity_fixture_reads_nothing(capsys: pytest.CaptureFixture[str], targets: Any) -> None:
    passwd = Path("/etc/passwd")
    text = _refused(capsys, FIXTURES / "xxe_etc_passwd.xml", targets, "xml-unsafe")
    if passwd.exists():
        assert all(line.strip() not in text for line in passwd.read_text().splitlines() if len(line) > 10)
    assert "root:" not in text


@pytest.mark.parametrize("depth", [20, 5000])
def test_deep_nesting_is_refused(
    depth: int, capsys: pytest.CaptureFixture[str], targets: Any, tmp_path: Path
) -> None:
    path = tmp_path / "deep.xml"
    path.write_text(BASE.replace("<seed>3</seed>", "<seed>3" + "<x>" * depth + "</x>" * depth + "</seed>"))
    text = _refused(capsys, path, targets, "xml-too-deep")
    assert "nests elements more than 12 deep" in text


def test_huge_document_is_refused(capsys: pytest.CaptureFixture[str], targets: Any, tmp_path: Path) -> None:
    path = tmp_path / "huge.xml"
    path.write_text(
        BASE.replace("<description></description>", "<description>" + "A" * MAX_BYTES + "</description>")
    )
    text = _refused(capsys, path, targets, "xml-too-large")
    assert f"archc reads seqgra model definitions of at most {MAX_BYTES:,} bytes" in text
    assert "AAAAAAAAAA" not in text


def test_non_utf8_declaration_with_non_ascii_text_is_refused(
    capsys: pytest.CaptureFixture[str], targets: Any, tmp_path: Path
) -> None:
    path = tmp_path / "latin.xml"
    path.write_text(
        BASE.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("2D convolution", "Faltung ä"),
        encoding="utf-8",
    )
    _refused(capsys, path, targets, "encoding")


# ---------------------------------------------------------------------- external architectures

EXTERNAL = """<?xml version="1.0" encoding="UTF-8"?>
<seqgramodel>
	<general id="torch-mc2-dna100-x">
		<name>x</name>
		<description></description>
		<task>multi-class classification</task>
		<sequencespace>DNA</sequencespace>
		<library>PyTorch</library>
		<inputencoding>1D</inputencoding>
		<labels>
			<pattern prefix="c" postfix="" min="1" max="2"/>
		</labels>
		<seed>1</seed>
	</general>
	<architecture>
		{external}
	</architecture>
</seqgramodel>
"""


@pytest.mark.parametrize(
    ("external", "code", "message"),
    [
        (
            '<external format="keras-h5-whole-model">TensorFlow/basic-model.h5</external>',
            "unsupported",
            "a Keras model saved as 'keras-h5-whole-model' holds no architecture archc can import",
        ),
        (
            '<external format="onnx">model.onnx</external>',
            "bad-value",
            "unknown external format 'onnx'",
        ),
        (
            '<external format="pytorch-module" classname="TorchModel">model.txt</external>',
            "bad-value",
            "a pytorch-module must be a .py file, not 'model.txt'",
        ),
        (
            '<external format="pytorch-module" classname="TorchModel">link.py</external>',
            "bad-value",
            "'link.py' is not a plausible PyTorch module",
        ),
        (
            '<external format="pytorch-module">model.py</external>',
            "missing-attribute",
            "`<external>` needs the attribute `classname`",
        ),
    ],
)
def test_external_architectures_that_cannot_be_imported(
    external: str, code: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model.py").write_text(STAND_IN.format(classes=2, length=100, alphabet=4))
    (tmp_path / "secret.txt").write_text("not python")
    (tmp_path / "link.py").symlink_to(tmp_path / "secret.txt")
    path = tmp_path / "def.xml"
    path.write_text(EXTERNAL.format(external=external))
    exit_code, diagnostics = lint_json(capsys, path)
    assert exit_code == 1
    assert diagnostics[0]["code"] == code
    assert message in diagnostics[0]["message"]
    assert diagnostics[0]["line"] == line_of(path.read_text(), "<external")


def test_missing_lifter_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "archc.frontends.torch_import", None)  # import now fails
    (tmp_path / "model.py").write_text("import torch\n")
    path = tmp_path / "def.xml"
    path.write_text(
        EXTERNAL.format(
            external='<external format="pytorch-module" classname="TorchModel">model.py</external>'
        )
    )
    target = tmp_path / "out.arch"
    code, out, err = cli(capsys, "import", path, "-o", target)
    assert code == 1
    assert "error[not-available]: lifting PyTorch modules is not available" in err
    assert f"def.xml:{line_of(path.read_text(), '<external')}:" in err
    assert out == "" and not target.exists()


def test_layout_flag_must_agree_with_the_definition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fake_read_py: list[Options]
) -> None:
    (tmp_path / "model.py").write_text(STAND_IN.format(classes=2, length=100, alphabet=4))
    path = tmp_path / "def.xml"
    path.write_text(
        EXTERNAL.format(
            external='<external format="pytorch-module" classname="TorchModel">model.py</external>'
        )
    )
    code, _, err = cli(capsys, "import", path, "--layout", "2D")
    assert code == 1
    assert "--layout 2D contradicts the definition's inputencoding 1D" in err
    assert fake_read_py == []
    code, _, err = cli(capsys, "import", path, "--set", "length=321")
    assert code == 0, err
    assert [(o.layout, o.sets["length"]) for o in fake_read_py] == [("1D", 321)]


@pytest.mark.parametrize(
    "description",
    [
        'two\nlines, "quoted", tab\there, café & <tags>',
        "C:\\models\\x",
    ],
)
def test_multiline_unicode_text_round_trips(
    description: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], xsd: Any
) -> None:
    escaped = description.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    path, _ = _variant(tmp_path, "<description></description>", f"<description>{escaped}</description>")
    original, exported = _roundtrip(capsys, path, tmp_path, "--layout", "2D")
    assert xsd.validate(exported), xsd.error_log
    assert exported.find("general/description").text == description
    assert general_fields(exported) == _keras_to_torch(general_fields(original))


def test_text_an_arch_string_cannot_hold_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, text = _variant(tmp_path, "<description></description>", "<description>a\u00a0b</description>")
    code, _, err = cli(capsys, "import", path)
    assert code == 0
    assert "warning[metadata-lossy]: this text holds U+00A0" in err
    assert f"bad.xml:{line_of(text, '<description>')}:" in err


def test_huge_numbers_are_diagnosed_not_crashed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digits = "9" * 5000  # past Python's limit for converting digit strings to int
    path, text = _variant(tmp_path, "<seed>3</seed>", f"<seed>{digits}</seed>")
    code, diagnostics = lint_json(capsys, path)
    assert code == 1
    assert diagnostics[0]["code"] == "bad-value" and diagnostics[0]["line"] == line_of(text, "<seed>")
    path, _ = _variant(
        tmp_path,
        '<hyperparameter name="epochs">5</hyperparameter>',
        f'<hyperparameter name="epochs">{digits}</hyperparameter>',
    )
    code, out, err = cli(capsys, "import", path)
    assert code == 0, err
    assert f'epochs = "{digits}"' in out  # kept as text, exactly
