"""Emit options (channels-last, batchnorm folding), compile/export readiness, fast formatting.

Equality checks compare against the default module or the seed, after loading the
same random checkpoint strictly. Float32 results are compared at 1e-5 of the
output's scale (the seed itself is that far from a float64 run); float64 runs
prove the folding algebra to 1e-9.
"""

from __future__ import annotations

import keyword
from pathlib import Path
from typing import Any

import black
import pytest
from archc.api import build_module, compile_source
from archc.backends.emit_torch import (
    LINE_LENGTH,
    EmitOptions,
    _black_statement,
    _split_call,
    format_python,
    render_python,
)
from archc.cli import main
from archc.core.source import Source
from archc.driver import run
from hypothesis import given, settings
from hypothesis import strategies as st
from seeds import SEED_INPUT
from torch_helpers import randomize, seed_module

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
OPTIONS = [
    EmitOptions(),
    EmitOptions("channels_last"),
    EmitOptions(fold_batchnorm=True),
    EmitOptions("channels_last", True),
]
FAST = EmitOptions("channels_last", True)
BLACK = black.Mode(line_length=LINE_LENGTH)


def checked(text: str, name: str = "t.arch") -> Any:
    result = run(Source(name, text))
    assert result.ok, [d.message for d in result.diagnostics]
    return result.variants[0].checked


# ------------------------------------------------------------------ formatting


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"{o.memory_format}-fold{o.fold_batchnorm}")
@pytest.mark.parametrize("model", ["basset", "chromdragonn", "deepsea"])
def test_fast_format_is_black_on_examples(model: str, options: EmitOptions) -> None:
    code = render_python(
        checked((EXAMPLES / f"{model}.arch").read_text(), f"{model}.arch"), "x", options=options
    )
    assert format_python(code) == black.format_str(code, mode=BLACK)


SYNTHETIC = """
block Blk(c) {
  residual { {name} = seq { conv1d(c, 3, padding = 1) | relu | conv1d(c, 3, padding = 1) } }
  relu
}
arch synthetic(classes = 3, length = 40, alphabet = 4) {
  meta { id = "x'y", note = "a \\"quoted\\" word", sizes = [1, 2.5, true, none] }
  {name} = seq { conv1d(8, 3, padding = "same", padding_mode = "reflect") | batchnorm1d | relu {extra} }
  body = seq { Blk(8) * {blocks} }
  flatten
  fc = linear(classes)
}
"""


@pytest.mark.parametrize("blocks", [1, 3, 9, 40])
@pytest.mark.parametrize("width", [1, 17, 30, 45, 60])
def test_fast_format_is_black_on_synthetic(width: int, blocks: int) -> None:
    """Names and repetitions around the line-length boundary, strings, metadata."""
    extra = " | dropout(0.1)" * (width % 4)
    text = SYNTHETIC.replace("{name}", "n" * width).replace("{extra}", extra).replace("{blocks}", str(blocks))
    code = render_python(checked(text), "s.arch", options=FAST)
    assert format_python(code) == black.format_str(code, mode=BLACK)


ITEMS = st.sampled_from(
    [
        "nn.ReLU()",
        "Res()",
        "self.conv1",
        "nn.Conv2d(64, 64, kernel_size=(3, 1), padding=(1, 0))",
        "nn.BatchNorm1d(300)",
        "nn.MaxPool1d(kernel_size=4, stride=4)",
        "nn.Linear(50880, 925)",
    ]
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    indent=st.sampled_from([0, 4, 8, 12]),
    name=st.text("abcdefghij_", min_size=1, max_size=50).filter(lambda n: not keyword.iskeyword(n)),
    items=st.lists(ITEMS, min_size=1, max_size=30),
)
def test_split_call_is_black(indent: int, name: str, items: list[str]) -> None:
    """Whenever archc splits a long call itself, black would have split it the same way."""
    line = " " * indent + f"self.{name} = nn.Sequential({', '.join(items)})"
    split = _split_call(line)
    if len(line) <= LINE_LENGTH:
        return
    if split is not None:
        assert split == _black_statement(line.lstrip(), indent)


def test_deepsea_compiles_without_black(tmp_path: Path) -> None:
    """Every line of DeepSEA's module is already formatted: the fast path skips black."""
    import subprocess
    import sys

    code = (
        "import sys\nfrom archc.cli import main\n"
        f"rc = main(['compile', {str(EXAMPLES / 'deepsea.arch')!r}, '-o', {str(tmp_path)!r}])\n"
        "print(rc, 'black' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split()[-2:] == ["0", "False"]
    assert (tmp_path / "deepsea.py").read_text() == (ROOT / "generated" / "deepsea.py").read_text()


# ------------------------------------------------------------------ grammar cache


@pytest.fixture
def fresh_parser(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """archc.syntax.parser with its cache under tmp_path, rebuilt on each `_parser()` call."""
    from archc.syntax import parser

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parser._parser.cache_clear()
    yield parser
    parser._parser.cache_clear()


def test_grammar_cache_is_written_once_and_reused(fresh_parser: Any, tmp_path: Path) -> None:
    source = Source("d.arch", (EXAMPLES / "deepsea.arch").read_text())
    want = fresh_parser.parse(source)
    files = list((tmp_path / "archc").iterdir())
    assert [f.suffix for f in files] == [".pickle"]  # no temporary file left behind
    assert (tmp_path / "archc").stat().st_mode & 0o777 == 0o700
    stamp = files[0].stat().st_mtime_ns
    fresh_parser._parser.cache_clear()
    assert fresh_parser.parse(source) == want  # loaded from the cache
    assert files[0].stat().st_mtime_ns == stamp


def test_damaged_grammar_cache_is_rebuilt(fresh_parser: Any, tmp_path: Path) -> None:
    source = Source("d.arch", (EXAMPLES / "deepsea.arch").read_text())
    want = fresh_parser.parse(source)
    (cache,) = (tmp_path / "archc").iterdir()
    cache.write_bytes(cache.read_bytes()[:100])  # as if a run had been killed mid-write
    fresh_parser._parser.cache_clear()
    assert fresh_parser.parse(source) == want
    assert cache.stat().st_size > 100


def test_grammar_cache_only_in_a_private_directory(fresh_parser: Any, tmp_path: Path) -> None:
    """The cache is a pickle: a directory others may write to is not used."""
    (tmp_path / "archc").mkdir(mode=0o777)
    (tmp_path / "archc").chmod(0o777)
    source = Source("d.arch", (EXAMPLES / "deepsea.arch").read_text())
    assert fresh_parser.parse(source).archs[0].name == "deepsea"
    assert list((tmp_path / "archc").iterdir()) == []


# ------------------------------------------------------------------ option plumbing


def test_bad_memory_format_is_refused() -> None:
    with pytest.raises(ValueError, match="memory_format is one of"):
        EmitOptions("nhwc")


def test_layer_named_like_an_option_method_is_refused() -> None:
    """The names of the methods the options add are reserved: a diagnostic, not a crash."""
    from archc.api import ArchError

    for name in ("fold_batchnorm", "to_channels_last"):
        text = f"arch a(length = 10, alphabet = 4) {{\n  {name} = conv1d(2, 3)\n  flatten\n}}\n"
        with pytest.raises(ArchError) as err:
            compile_source(text, options=EmitOptions(fold_batchnorm=True))
        assert err.value.diagnostics[0].code == "bad-name"


def test_cli_writes_the_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(EXAMPLES / "chromdragonn.arch")
    assert (
        main(["compile", path, "-o", str(tmp_path), "--memory-format", "channels_last", "--fold-batchnorm"])
        == 0
    )
    text = (tmp_path / "chromdragonn.py").read_text()
    assert "# Emitted with --memory-format channels_last --fold-batchnorm." in text
    assert "x = x.contiguous(memory_format=torch.channels_last)" in text
    assert "def fold_batchnorm(self) -> nn.Module:" in text
    assert "def to_channels_last(self) -> nn.Module:" in text


def test_one_dimensional_models_keep_their_forward() -> None:
    """PyTorch has no channels-last format for 3-D tensors: 1-D models run as by default."""
    arch = checked((EXAMPLES / "basset.arch").read_text())

    def forward(options: EmitOptions) -> str:
        code = render_python(arch, "b", options=options)
        return code[code.index("def forward") : code.index("return x")]

    assert forward(EmitOptions("channels_last")) == forward(EmitOptions())


# ------------------------------------------------------------------ torch: helpers


def close(got: Any, want: Any, tol: float = 1e-5) -> bool:
    scale = max(1.0, want.abs().max().item())
    return bool((got - want).abs().max().item() <= tol * scale)


def loaded(model: str, options: EmitOptions, state: Any) -> Any:
    module = build_module(EXAMPLES / f"{model}.arch", options=options)
    module.load_state_dict(state, strict=True)
    return module.eval()


# ------------------------------------------------------------------ torch: channels-last


@pytest.mark.torch
@pytest.mark.usefixtures("seed_available")
def test_channels_last_chromdragonn_equals_seed(torch_module: Any) -> None:
    torch = torch_module
    seed = seed_module("chromdragonn")
    randomize(seed, torch, seed=0)
    seed.eval()
    module = loaded("chromdragonn", EmitOptions("channels_last"), seed.state_dict())
    default = build_module(EXAMPLES / "chromdragonn.arch")
    assert {k: v.shape for k, v in module.state_dict().items()} == {
        k: v.shape for k, v in default.state_dict().items()
    }
    seen = []
    module.layer2[0].conv1.register_forward_pre_hook(
        lambda m, args: seen.append(
            (args[0].is_contiguous(memory_format=torch.channels_last), tuple(args[0].shape[2:]))
        )
    )
    x = torch.randn(2, *SEED_INPUT["chromdragonn"], generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = seed(x)
        got = module(x)
        assert close(got, want)
        assert module.to_channels_last() is module
        module.to(memory_format=torch.channels_last)  # what a user may do anyway
        assert close(module(x), want)
    assert seen == [(True, (1, 1000))] * 2  # channels-last, the length on the last axis
    # Training works channels-last too.
    module.train()
    module(x).sum().backward()
    assert module.conv1.weight.grad is not None


VIEW_2D = """arch v(classes = 3, length = 12, alphabet = 4) {
  input (batch, channels, length)
  view(batch, alphabet, length, 1)
  c1 = conv2d(6, (3, 1), padding = (1, 0)) | relu
  view(batch, -1)
  fc = linear(classes)
}
"""


@pytest.mark.torch
def test_view_after_channels_last_becomes_reshape(torch_module: Any) -> None:
    """A channels-last tensor is not contiguous: its `view` is emitted as `reshape`."""
    torch = torch_module
    default_code = compile_source(VIEW_2D)
    fast_code = compile_source(VIEW_2D, options=FAST)
    assert "x = x.view(x.size(0), -1)" in default_code
    assert "x = x.reshape(x.size(0), -1)" in fast_code
    # Before the switch: as written, the sizes read from the constructor's arguments.
    assert "x = x.view(x.size(0), self.alphabet, self.length, 1)" in fast_code
    default = build_module(VIEW_2D)
    fast = build_module(VIEW_2D, options=FAST)
    fast.load_state_dict(default.state_dict(), strict=True)
    fast.to_channels_last()
    x = torch.randn(5, 4, 12)
    with torch.no_grad():
        assert close(fast.eval()(x), default.eval()(x))
        # The default module's view would refuse the same activations stored channels-last.
        act = torch.relu(default.c1(x.view(5, 4, 12, 1))).contiguous(memory_format=torch.channels_last)
        with pytest.raises(RuntimeError):
            act.view(5, -1)


SWAP = """arch sw(classes = 3, length = 40, alphabet = 6) {
  input (batch, channels, length)
  view(batch, alphabet, length, 1)
  c1 = conv2d(6, (5, 1), stride = (2, 1), padding = (2, 0), groups = 3) | relu
  maxpool2d((3, 1), stride = (2, 1), padding = (1, 0), ceil_mode = true)
  p = avgpool2d((2, 1), stride = (1, 1))
  c2 = conv2d(6, (3, 1), padding = "same", dilation = (2, 1)) | b = batchnorm2d
  c3 = conv2d(4, 1)
  flatten
  fc = linear(classes)
}
"""


@pytest.mark.torch
def test_length_on_width_is_exact(torch_module: Any) -> None:
    """(k, 1) layers run on (batch, channels, 1, length): pools swapped, convs transposed."""
    torch = torch_module
    fast_code = render_python(checked(SWAP), "s", options=FAST)  # before black wraps lines
    assert "self.c1 = _Conv2dT(alphabet, 6, kernel_size=(5, 1), stride=(2, 1), padding=(2, 0), groups=3)" in (
        fast_code
    )
    assert "F.max_pool2d(x, kernel_size=(1, 3), stride=(1, 2), padding=(0, 1), ceil_mode=True)" in (fast_code)
    assert "self.p = nn.AvgPool2d(kernel_size=(1, 2), stride=(1, 1))" in fast_code
    default = build_module(SWAP)
    randomize(default, torch, seed=7)
    fast = build_module(SWAP, options=FAST)
    fast.load_state_dict(default.state_dict(), strict=True)
    fast.to(memory_format=torch.channels_last)  # _Conv2dT must cope with any weight layout
    x = torch.randn(5, 6, 40)
    for mode in ("train", "eval"):
        default.train(mode == "train")
        if mode == "eval":
            fast.fold_batchnorm()
        else:
            fast.train()
        got, want = fast(x), default(x)
        assert close(got, want), mode
        if mode == "train":  # the gradients agree too
            got.square().sum().backward()
            want.square().sum().backward()
            assert close(fast.c1.weight.grad, default.c1.weight.grad, 1e-4)


INNER_4D = """block Up(n) {
  view(batch, n, 10, 1) | relu | view(batch, n, 10)
}
arch inner(classes = 3, length = 10, alphabet = 4) {
  up = Up(alphabet)
  view(batch, alphabet, length, 1)
  c1 = conv2d(4, (3, 1), padding = (1, 0))
  flatten
  fc = linear(classes)
}
"""


@pytest.mark.torch
def test_blocks_going_4d_elsewhere_keep_the_plain_layout(torch_module: Any) -> None:
    """A block that is 4-D inside, outside the conv stretch: no axis swap anywhere."""
    torch = torch_module
    code = render_python(checked(INNER_4D), "i", options=FAST)
    assert "_Conv2dT" not in code and "transpose" not in code
    default = build_module(INNER_4D).eval()
    fast = build_module(INNER_4D, options=FAST)
    fast.load_state_dict(default.state_dict(), strict=True)
    x = torch.randn(2, 4, 10)
    with torch.no_grad():
        assert close(fast.fold_batchnorm()(x), default(x))


@pytest.mark.torch
def test_wide_maps_stay_plain_channels_last(torch_module: Any) -> None:
    """Only width-1 maps have their axes swapped; others just run channels-last."""
    torch = torch_module
    text = SWAP.replace("view(batch, alphabet, length, 1)", "view(batch, alphabet, 8, 5)")
    text = text.replace("(5, 1)", "(3, 3)").replace("padding = (2, 0)", "padding = 1")
    fast_code = compile_source(text, options=FAST)
    assert "_Conv2dT" not in fast_code and "transpose" not in fast_code
    default = build_module(text).eval()
    fast = build_module(text, options=FAST)
    fast.load_state_dict(default.state_dict(), strict=True)
    x = torch.randn(5, 6, 40)
    with torch.no_grad():
        assert close(fast.to_channels_last().fold_batchnorm()(x), default(x))


# ------------------------------------------------------------------ torch: batchnorm folding


@pytest.mark.torch
@pytest.mark.usefixtures("seed_available")
@pytest.mark.parametrize("model", ["basset", "chromdragonn"])
def test_fold_batchnorm_equals_unfolded(model: str, torch_module: Any) -> None:
    torch = torch_module
    seed = seed_module(model)
    randomize(seed, torch, seed=3)
    state = seed.state_dict()
    unfolded = loaded(model, EmitOptions(), state)
    folded = loaded(model, EmitOptions(fold_batchnorm=True), state).fold_batchnorm()
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    x = torch.randn(3, *SEED_INPUT[model], generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert close(folded(x), unfolded(x))
        assert folded.fold_batchnorm() is folded  # a second call changes nothing
        assert close(folded(x), unfolded(x))
    # The folding algebra is exact: in float64 the two agree to rounding.
    unfolded64 = loaded(model, EmitOptions(), state).double()
    folded64 = loaded(model, EmitOptions(fold_batchnorm=True), state).double().fold_batchnorm()
    with torch.no_grad():
        assert (folded64(x.double()) - unfolded64(x.double())).abs().max().item() < 1e-9
    with pytest.raises(RuntimeError, match="folded"):
        folded.train()


@pytest.mark.torch
@pytest.mark.usefixtures("seed_available")
def test_fold_keeps_every_reference_consistent(torch_module: Any) -> None:
    """ChromDragoNN holds each conv and bn as an attribute and inside nn.Sequential."""
    torch = torch_module
    module = build_module(EXAMPLES / "chromdragonn.arch", options=EmitOptions(fold_batchnorm=True))
    blocks = [b for layer in (module.layer1, module.layer2, module.layer3, module.layer4) for b in layer]

    def shared_slots() -> set[tuple[int, str, str, int]]:
        """(owner, attribute, Sequential, index) where the attribute is that Sequential item."""
        out = set()
        for i, owner in enumerate([module, *blocks]):
            children = dict(owner.named_children())
            for seq_name, seq in children.items():
                if isinstance(seq, torch.nn.Sequential):
                    for j, item in enumerate(seq):
                        out |= {(i, a, seq_name, j) for a, m in children.items() if m is item}
        return out

    before = shared_slots()
    assert len(before) == 2 * 5 + 2 * (4 + 4 + 6 + 4)  # conv + bn: 5 pairs at the top, 8 blocks
    module.fold_batchnorm()
    assert shared_slots() == before
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())
    assert isinstance(module.bn1, torch.nn.Identity) and module.bn1 is module.prelayer[1]
    assert all(b.bn1 is b.layer[1] and b.conv1 is b.layer[0] for b in blocks)
    assert isinstance(module.bn4, torch.nn.Identity)  # linear + batchnorm1d on (N, 1000)


UNSAFE = """arch u(length = 20, alphabet = 4) {
  shared = conv1d(4 -> 4, 3, padding = 1)
  shared | b1 = batchnorm1d | relu
  shared
  c2 = conv1d(6, 3, bias = false) | b2 = batchnorm1d
  wide = linear(18 -> 18) | b3 = batchnorm1d
  flatten
}
"""


@pytest.mark.torch
def test_fold_only_where_the_batchnorm_is_the_only_consumer(torch_module: Any) -> None:
    """A reused conv is not folded; a linear on 3-D input acts on another axis than batchnorm."""
    torch = torch_module
    module = build_module(UNSAFE, options=EmitOptions(fold_batchnorm=True))
    reference = build_module(UNSAFE)
    randomize(reference, torch, seed=5)
    module.load_state_dict(reference.state_dict(), strict=True)
    module.fold_batchnorm()
    assert isinstance(module.b1, torch.nn.BatchNorm1d)  # `shared` runs twice
    assert isinstance(module.b2, torch.nn.Identity)  # folded, and c2 gained a bias
    assert module.c2.bias is not None
    assert isinstance(module.b3, torch.nn.BatchNorm1d)  # linear on (N, 6, 18)
    x = torch.randn(4, 4, 20)
    with torch.no_grad():
        assert close(module(x), reference.eval()(x))


# ------------------------------------------------------------------ torch: compile and export


def small_deepsea() -> str:
    # DeepSEA pins its length with an explicit size; without it every size follows --set.
    return (EXAMPLES / "deepsea.arch").read_text().replace("linear(53 * 960 -> 925)", "linear(925)")


@pytest.mark.torch
@pytest.mark.parametrize("options", [EmitOptions(), FAST], ids=["default", "fast"])
def test_export_deepsea_small(options: EmitOptions, torch_module: Any) -> None:
    torch = torch_module
    module = build_module(small_deepsea(), length=200, options=options).eval()
    if options.fold_batchnorm:
        module.fold_batchnorm()
    x = torch.randn(2, 4, 200)
    exported = torch.export.export(module, (x,))
    with torch.no_grad():
        assert torch.equal(exported.module()(x), module(x))


@pytest.mark.torch
def test_compile_fullgraph_traces_without_breaks(torch_module: Any) -> None:
    """Dynamo captures the whole forward (no graph break) in every emit variant."""
    torch = torch_module
    for text, shape in ((small_deepsea(), (2, 4, 200)), (VIEW_2D, (2, 4, 12))):
        for options in (EmitOptions(), FAST):
            module = build_module(text, length=shape[-1], options=options).eval()
            if options.fold_batchnorm:
                module.fold_batchnorm()
            compiled = torch.compile(module, fullgraph=True, backend="eager")
            x = torch.randn(*shape)
            with torch.no_grad():
                assert torch.equal(compiled(x), module(x))


@pytest.mark.slow
@pytest.mark.torch
@pytest.mark.parametrize("options", [EmitOptions(), FAST], ids=["default", "fast"])
@pytest.mark.parametrize("model", ["basset", "chromdragonn", "deepsea"])
def test_inductor_and_export_full_size(model: str, options: EmitOptions, torch_module: Any) -> None:
    torch = torch_module
    module = build_module(EXAMPLES / f"{model}.arch", options=options).eval()
    if options.fold_batchnorm:
        module.fold_batchnorm()
    x = torch.randn(2, *SEED_INPUT[model])
    with torch.no_grad():
        want = module(x)
        compiled = torch.compile(module, fullgraph=True)
        assert close(compiled(x), want)
        exported = torch.export.export(module, (x,))
        assert close(exported.module()(x), want)
