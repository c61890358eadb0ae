"""The layers added on the `layers` branch, compiled and run in torch.

For each layer a small architecture is compiled, built and run: the output has the shape
archc inferred, and the summary's parameter count is torch's `sum(p.numel())`, in total and
per module. The shape rules themselves are checked line by line in tests/golden/shape_rules.txt
(tests/test_shape_rules.py); here also their sizes over small exhaustive ranges, and the
errors that only torch's runtime shows (views refused after crop, flip and attention).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from archc.api import ArchError, build_module, compile_source
from archc.backends.summary import summarize
from archc.core.source import Source
from archc.driver import run
from archc.ir import nodes as ir
from test_shape_rules import checked_shape

HEAD = "arch t(classes = 2, length = 10, alphabet = 4) {\n"

# (id, input axes, forward steps, integer input)
CASES: list[tuple[str, str, str, bool]] = [
    ("gelu", "channels: 4, length: 9", 'gelu | g = gelu(approximate = "tanh")', False),
    ("silu", "channels: 4, length: 9", "silu | s = silu", False),
    ("elu", "channels: 4, length: 9", "elu(alpha = 0.5) | e = elu", False),
    ("leakyrelu", "channels: 4, length: 9", "leakyrelu(0.2) | l = LeakyReLU(negative_slope = 0.1)", False),
    ("softplus", "channels: 4, length: 9", "softplus(beta = 2.0) | s = softplus(threshold = 5.0)", False),
    ("identity", "channels: 4, length: 9", "identity | i = identity", False),
    ("softmax", "channels: 4, height: 3, length: 9", "softmax(-1) | softmax(-3) | s = softmax(2)", False),
    ("layernorm", "channels: 4, length: 9", "ln = layernorm | ln2 = layernorm((4, 9), bias = false)", False),
    ("layernorm-noaffine", "length: 9, channels: 6", "ln = layernorm(elementwise_affine = false)", False),
    (
        "groupnorm",
        "channels: 6, length: 9",
        "gn = groupnorm(3) | gn2 = groupnorm(2, 6, affine = false)",
        False,
    ),
    ("groupnorm-2d", "channels: 6, height: 2, length: 5", "gn = GroupNorm(num_groups = 6)", False),
    ("batchnorm3d", "channels: 3, depth: 2, height: 4, length: 5", "bn = batchnorm3d", False),
    ("batchnorm1d-2d", "features: 7", "bn = batchnorm1d", False),
    ("batchnorm2d", "channels: 3, height: 4, length: 5", "bn = batchnorm2d(3)", False),
    ("embedding", "length: 12", "emb = embedding(20, 6, padding_idx = 0) | permute(0, 2, 1)", True),
    ("embedding-2d", "channels: 3, length: 12", "emb = Embedding(5, 4)", True),
    (
        "convtranspose1d",
        "channels: 4, length: 9",
        "up = convtranspose1d(6, 4, stride = 2, padding = 1)",
        False,
    ),
    (
        "convtranspose1d-groups",
        "channels: 4, length: 9",
        "up = convtranspose1d(6, 3, stride = 3, output_padding = 2, groups = 2, bias = false)",
        False,
    ),
    (
        "convtranspose2d",
        "channels: 4, height: 3, length: 5",
        "up = ConvTranspose2d(2, (3, 1), stride = (2, 1))",
        False,
    ),
    (
        "upsample",
        "channels: 4, length: 9",
        'upsample(scale_factor = 2) | u = upsample(size = 13, mode = "linear")',
        False,
    ),
    (
        "upsample-2d",
        "channels: 4, height: 3, length: 5",
        'upsample(scale_factor = (2, 1.5), mode = "bilinear", align_corners = true) | u = Upsample(size = 4)',
        False,
    ),
    ("adaptiveavgpool1d", "channels: 4, length: 9", "adaptiveavgpool1d(4) | p = AdaptiveAvgPool1d(2)", False),
    (
        "adaptiveavgpool2d",
        "channels: 4, height: 3, length: 9",
        "adaptiveavgpool2d((2, 3)) | p = adaptiveavgpool2d(1)",
        False,
    ),
    (
        "adaptivemaxpool2d",
        "channels: 4, height: 3, length: 9",
        "adaptivemaxpool2d(2) | p = adaptivemaxpool2d((1, 2))",
        False,
    ),
    ("global_avg_pool", "channels: 4, length: 9", "global_avg_pool", False),
    ("globalavgpool1d", "channels: 4, height: 2, length: 9", "globalavgpool1d | global_max_pool", False),
    (
        "constantpad1d",
        "channels: 4, length: 9",
        "constantpad1d((1, 2), 0.5) | p = ConstantPad1d(3, -1.0)",
        False,
    ),
    (
        "constantpad2d",
        "channels: 4, height: 3, length: 9",
        "constantpad2d((1, 0, 2, 3), 0.0) | p = constantpad2d(1, 2.0)",
        False,
    ),
    (
        "crop",
        "channels: 4, length: 20",
        "crop(2) | crop(1, 0) | crop(0, 3) | crop(to = 8) | reshape(batch, -1)",
        False,
    ),
    ("flip", "channels: 4, height: 2, length: 9", "flip(1) | flip(-1, 2) | flip(1, 2, 3)", False),
    ("mean", "channels: 4, height: 2, length: 9", "mean(-1) | mean(1, keepdim = true)", False),
    ("sum", "channels: 4, height: 2, length: 9", "sum((1, 2)) | sum(-1, keepdim = true)", False),
    ("max", "channels: 4, height: 2, length: 9", "max(2) | max((1, -1), keepdim = true)", False),
    (
        "multiheadattention",
        "length: 7, features: 8",
        "attn = multiheadattention(2) | a2 = MultiheadAttention(num_heads = 4, bias = false, add_bias_kv = true) "
        "| reshape(batch, -1)",
        False,
    ),
    (
        "transformerencoderlayer",
        "length: 7, features: 8",
        "enc = transformerencoderlayer(2, dim_feedforward = 16) "
        '| enc2 = TransformerEncoderLayer(4, 12, activation = "gelu", norm_first = true, bias = false)',
        False,
    ),
    (
        "in-seq",
        "channels: 4, length: 20",
        "body = seq { convtranspose1d(4, 3) | groupnorm(2) | gelu | layernorm | silu "
        "| constantpad1d(1, 0.0) | adaptiveavgpool1d(5) | upsample(scale_factor = 2) | identity } | crop(1) "
        "| permute(0, 2, 1) | tel = seq { transformerencoderlayer(2, dim_feedforward = 8) }",
        False,
    ),
]


def arch(axes: str, steps: str) -> str:
    return f"{HEAD}  input (batch, {axes})\n  {steps}\n}}\n"


def _checked(text: str) -> ir.Architecture:
    result = run(Source("t.arch", text), None)
    assert result.ok, [d.message for d in result.diagnostics if d.is_error]
    checked = result.variants[0].checked
    assert checked is not None
    return checked


@pytest.mark.torch
@pytest.mark.parametrize(("axes", "steps", "indices"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_layer_compiles_runs_and_counts(torch_module: Any, axes: str, steps: str, indices: bool) -> None:
    torch = torch_module
    text = arch(axes, steps)
    checked = _checked(text)
    summary = summarize(checked)
    module = build_module(text)
    batch = 3
    in_sizes = tuple(batch if d.size is None else d.size for d in checked.input_shape)
    x = torch.zeros(in_sizes, dtype=torch.long) if indices else torch.randn(in_sizes)
    want = tuple(batch if d.size is None else d.size for d in checked.cls.out_shape)
    for train in (True, False):
        module.train(train)
        with torch.no_grad():
            out = module(x)
        assert isinstance(out, torch.Tensor)
        assert tuple(out.shape) == want, (train, text)
    assert summary.totals.params == sum(p.numel() for p in module.parameters())
    assert summary.totals.buffers == sum(b.numel() for b in module.buffers())
    named = dict(module.named_modules())
    for row in summary.walk():
        if row.group is None and row.path is not None and not row.shared:
            assert row.params == sum(p.numel() for p in named[row.path].parameters()), row.path


def test_functional_and_module_forms_in_the_code() -> None:
    code = compile_source(
        arch(
            "length: 7, features: 8",
            "attn = multiheadattention(2) | enc = transformerencoderlayer(2) | gelu | crop(to = 5) "
            "| flip(1) | max(-1, keepdim = true) | c = lstm(4, batch_first = true)",
        )
    )
    assert "self.attn = nn.MultiheadAttention(8, 2, batch_first=True)" in code
    assert "self.enc = nn.TransformerEncoderLayer(8, 2, batch_first=True)" in code
    assert "x, _ = self.attn(x, x, x, need_weights=False)" in code
    assert "x = F.gelu(x)" in code
    assert "x = x[..., 1:-2]" in code
    assert "x = torch.flip(x, dims=(1,))" in code
    assert "x = x.amax(dim=-1, keepdim=True)" in code
    assert "x, _ = self.c(x)" in code


def test_functional_takes_the_input_variable() -> None:
    from archc.backends.emit_torch import _Emitter, _Flow
    from archc.core.source import Span

    checked = _checked(arch("channels: 4, length: 9", "relu"))
    em = _Emitter()
    flow = _Flow(3, False)
    span = Span(0, 0)
    layers = {
        "relu": ir.Layer("relu", (("inplace", False),), span),
        "flip": ir.Layer("flip", (("dims", (1,)),), span),
        "crop": ir.Layer("crop", (("left", 1), ("right", 2), ("to", None)), span),
        "mean": ir.Layer("mean", (("dim", -1), ("keepdim", False)), span),
        "view": ir.Layer("view", (("shape", ("batch", -1)),), span),
        "contiguous": ir.Layer("contiguous", (), span),
        "global_avg_pool": ir.Layer("global_avg_pool", (), span),
    }
    got = {k: em.functional(v, checked.cls, flow, 0, var="h") for k, v in layers.items()}
    assert got == {
        "relu": "F.relu(h)",
        "flip": "torch.flip(h, dims=(1,))",
        "crop": "h[..., 1:-2]",
        "mean": "h.mean(dim=-1)",
        "view": "h.view(h.size(0), -1)",
        "contiguous": "h.contiguous()",
        "global_avg_pool": "h.mean(dim=-1)",
    }
    from archc.backends.emit_torch import CALL_FORMS

    assert CALL_FORMS["lstm"].format(out="y", mod="self.r", x="h") == "y, _ = self.r(h)"


def _codes(text: str) -> list[str | None]:
    result = run(Source("t.arch", text), None)
    return [d.code for d in result.diagnostics if d.is_error]


def test_attention_inside_seq_is_refused() -> None:
    assert _codes(arch("length: 7, features: 8", "s = seq { multiheadattention(2) }")) == ["attention-in-seq"]
    with pytest.raises(ArchError, match=r"nn\.Sequential"):
        compile_source(arch("length: 7, features: 8", "s = seq { a = multiheadattention(2) | relu }"))


def test_stateful_layers_need_a_name() -> None:
    for steps in ("layernorm", "multiheadattention(2)", "embedding(4, 2)", "convtranspose1d(4, 3)"):
        assert _codes(arch("channels: 4, length: 8", steps)) == ["needs-name"], steps
    for steps in ("crop(1)", "flip(1)", "mean(1)"):
        assert _codes(arch("channels: 4, length: 8", f"f = {steps}")) == ["no-module-form"], steps


def _torch_size(fn: Any) -> tuple[int, ...] | None:
    try:
        return tuple(fn().shape)
    except (RuntimeError, ValueError):
        return None


@pytest.mark.torch
def test_convtranspose_sizes_agree_with_torch(torch_module: Any) -> None:
    torch = torch_module
    for size, k, s, p, op, d in itertools.product(
        range(1, 5), range(1, 4), range(1, 4), range(3), range(3), (1, 2)
    ):
        step = f"convtranspose1d(2, {k}, stride = {s}, padding = {p}, output_padding = {op}, dilation = {d})"
        shape, codes = checked_shape(step, [3, size])
        conv = torch.nn.ConvTranspose1d(3, 2, k, stride=s, padding=p, output_padding=op, dilation=d)
        with torch.no_grad():
            want = _torch_size(lambda conv=conv, size=size: conv(torch.zeros(2, 3, size)))
        if want is not None and 0 in want:
            want = None  # torch returns an empty tensor; archc refuses a zero-length axis
        got = None if shape is None else tuple(2 if n is None else n for n in shape)
        assert got == want, (step, size, codes)


@pytest.mark.torch
def test_upsample_and_crop_sizes_agree_with_torch(torch_module: Any) -> None:
    torch = torch_module
    for size, scale in itertools.product(range(1, 8), (0.3, 0.5, 1.0, 1.5, 2, 2.7, 3)):
        shape, codes = checked_shape(f"upsample(scale_factor = {scale})", [2, size])
        up = torch.nn.Upsample(scale_factor=scale)
        want = _torch_size(lambda up=up, size=size: up(torch.zeros(3, 2, size)))
        got = None if shape is None else tuple(3 if n is None else n for n in shape)
        assert got == want, (scale, size, codes)
    for size, to in itertools.product(range(1, 8), range(1, 9)):
        shape, codes = checked_shape(f"crop(to = {to})", [2, size])
        if to > size:
            assert codes == ["too-short"]
            continue
        left = (size - to) // 2
        x = torch.arange(size)
        assert shape == (None, 2, to)
        # Centered: torchvision's CenterCrop puts the extra position on the right as well.
        assert x[left : left + to].tolist() == list(range(left, left + to))


# The golden cases archc refuses with view-stride, written by hand in torch: each raises.
@pytest.mark.torch
def test_added_view_stride_errors_fail_in_torch(torch_module: Any) -> None:
    torch = torch_module
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        torch.zeros(3, 8, 37)[..., 2:-2].view(3, -1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        torch.flip(torch.zeros(3, 8, 37).permute(0, 2, 1), dims=(1,)).view(3, -1)
    attn = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    x = torch.zeros(3, 10, 8)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        attn(x, x, x, need_weights=False)[0].view(3, -1)
    assert checked_shape("crop(2) | view(batch, -1)", [8, 37])[1] == ["view-stride"]
    assert checked_shape("multiheadattention(2) | view(batch, -1)", [10, 8])[1] == ["view-stride"]


def test_bounds_count_added_weights() -> None:
    from archc.checks.bounds import weight_elements
    from archc.core.source import Span

    span = Span(0, 0)
    assert weight_elements(ir.Layer("embedding", (("num_embeddings", 10), ("embedding_dim", 4)), span)) == 40
    convt = ir.Layer(
        "convtranspose1d",
        (("in_channels", 4), ("out_channels", 6), ("kernel_size", 3), ("groups", 2)),
        span,
    )
    assert weight_elements(convt) == 4 * 3 * 3
    assert weight_elements(ir.Layer("multiheadattention", (("embed_dim", 8),), span)) == 192
    big = arch("length: 7, features: 8", "e = embedding(2000000, 2000000)")
    assert "too-large" in _codes(big)


@pytest.mark.torch
def test_receptive_field_of_shifting_layers_agrees_with_gradients(torch_module: Any) -> None:
    """Transposed convolution (stride 1), crop and constant padding: the summary's field is
    exactly the input positions whose gradient reaches one output position."""
    torch = torch_module
    for steps, exact in (
        ("c = convtranspose1d(1, 3, padding = 1, dilation = 2) | crop(2) | constantpad1d((3, 1), 0.0)", True),
        # The first crop drops input positions 26-29: fields reaching them are bounds only.
        ("crop(1, 4) | c = convtranspose1d(1, 4) | constantpad1d(2, 0.0) | crop(to = 25)", False),
        ("c = conv1d(1, 3, stride = 2) | c2 = convtranspose1d(1, 2, padding = 1)", True),
    ):
        text = arch("channels: 1, length: 30", steps)
        reach = summarize(_checked(text)).totals.reach
        assert reach is not None and not reach.whole, steps
        module = build_module(text)
        for p in module.parameters():
            torch.nn.init.constant_(p, 1.0)
        x = torch.ones(1, 1, 30, requires_grad=True)
        out = module(x)
        for o in range(out.shape[-1]):
            x.grad = None
            out[0, 0, o].backward(retain_graph=True)
            seen = [i for i in range(30) if x.grad[0, 0, i] != 0]  # type: ignore[index]
            lo, hi = o * reach.jump + reach.lo, o * reach.jump + reach.hi
            if seen:
                assert lo <= seen[0] and seen[-1] <= hi, (steps, o, seen, lo, hi)
                if exact and lo > 0 and hi < 29:  # a field inside the input is seen whole at its ends
                    assert (seen[0], seen[-1]) == (lo, hi), (steps, o, seen, lo, hi)


# Steps whose output layout archc predicts, as torch modules for the check below.
LAYOUT_STEPS = [
    "gelu",
    "silu",
    "elu",
    "leakyrelu",
    "softplus",
    "identity",
    "flip(-1)",
    "flip(1, -2)",
    "adaptiveavgpool1d(2)",
    "adaptiveavgpool2d(2)",
    "adaptivemaxpool2d((1, 2))",
    "constantpad1d(1, 0.0)",
    "constantpad2d(1, 0.0)",
    "upsample(scale_factor = 2)",
    "layernorm",
    "groupnorm(1)",
    "crop(1)",
    "mean(-1)",
    "sum(1, keepdim = true)",
    "max(-2)",
    "global_avg_pool",
    "batchnorm3d",
    "convtranspose1d(3, 2)",
    "convtranspose2d(3, 2)",
    "embedding(3, 2)",
    "softmax(-1)",
    "constantpad1d((0, 0), 1.0)",
    "constantpad2d(0, 1.0)",
    "crop(0)",
    "upsample(size = 3)",
    "adaptiveavgpool1d(6)",
]


@pytest.mark.torch
def test_views_after_added_layers_agree_with_torch(torch_module: Any) -> None:
    """`permute | step | view(batch, -1)`: archc refuses the view (view-stride) exactly when
    torch does on the output of `permute | step` (training mode), for every permutation that
    keeps the batch in front."""
    from test_shape_rules import arch_text

    torch = torch_module
    sizes = {3: [4, 6], 4: [2, 4, 6], 5: [2, 3, 4, 6]}
    checked = 0
    for step, rank in itertools.product(LAYOUT_STEPS, (3, 4, 5)):
        for order in itertools.permutations(range(1, rank)):
            prefix = f"permute(0, {', '.join(map(str, order))}) | {step}"
            shape, _ = checked_shape(prefix, sizes[rank])
            if shape is None:
                continue  # the step itself is refused here (rank, batch): nothing to view
            _, view_codes = checked_shape(f"{prefix} | view(batch, -1)", sizes[rank])
            module = build_module(arch_text(prefix, sizes[rank])).train()
            x = torch.randn(2, *sizes[rank])
            if step.startswith("embedding"):
                x = torch.zeros(2, *sizes[rank], dtype=torch.long)
            out = module(x)
            try:
                out.view(2, -1)
                torch_ok = True
            except RuntimeError as err:
                assert "view size is not compatible" in str(err)
                torch_ok = False
            assert (view_codes == []) == torch_ok, (prefix, view_codes)
            checked += 1
    assert checked > 100
