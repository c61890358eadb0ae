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
    # Second batch: exp, unsqueeze, squeeze, repeat, activations, channel dropouts.
    ("exp", "channels: 4, length: 9", "exp | exp", False),
    ("scale", "channels: 4, length: 9", "scale(1.702) | scale(factor = 2) | scale(-0.5)", False),
    ("shift", "channels: 4, length: 9", "shift(1) | shift(offset = -0.5) | shift(2.5)", False),
    ("divide", "channels: 4, length: 9", "divide(4) | divide(divisor = -0.5) | divide(3.0)", False),
    ("log", "channels: 4, length: 9", "relu | shift(1) | log | log", False),
    ("unsqueeze", "channels: 4, length: 9", "unsqueeze(1) | unsqueeze(-1) | unsqueeze(4) | reshape(batch, -1)", False),
    (
        "squeeze",
        "channels: 1, height: 4, length: 1",
        "squeeze(1) | unsqueeze(0) | permute(1, 0, 2, 3) | squeeze((1, -1)) | squeeze(1)",
        False,
    ),
    ("repeat", "channels: 4, length: 9", "repeat(1, 3, 1) | repeat(1, 1, 2) | repeat(2, 1, 1, 1) | permute(1, 0, 2, 3)", False),
    ("gru", "length: 9, channels: 4", "r = gru(6, batch_first = true) | r2 = GRU(3, 2, bidirectional = true, "
     "batch_first = true)", False),
    ("gru-in-seq", "length: 9, channels: 4", "s = seq { relu | g = gru(5, batch_first = true) }", False),
    ("selu", "channels: 4, length: 9", "selu | s = SELU(inplace = true)", False),
    ("celu", "channels: 4, length: 9", "celu(0.5) | c = celu(alpha = 2.0, inplace = true)", False),
    ("relu6", "channels: 4, length: 9", "relu6 | r = ReLU6(inplace = true)", False),
    ("hardtanh", "channels: 4, length: 9", "hardtanh(-2.0, 2.0) | h = Hardtanh(max_val = 0.5, inplace = true)", False),
    ("mish", "channels: 4, length: 9", "mish | m = mish(inplace = true)", False),
    ("softsign", "channels: 4, length: 9", "softsign | s = Softsign", False),
    ("logsigmoid", "channels: 4, length: 9", "logsigmoid | s = LogSigmoid", False),
    ("hardswish", "channels: 4, length: 9", "hardswish | h = Hardswish(inplace = true)", False),
    ("hardsigmoid", "channels: 4, length: 9", "hardsigmoid(inplace = true) | h = hardsigmoid", False),
    ("dropout1d", "channels: 4, length: 9", "dropout1d(0.2) | d = Dropout1d(p = 0.7, inplace = true)", False),
    ("dropout2d", "channels: 4, height: 3, length: 9", "dropout2d(0.2) | d = Dropout2d(inplace = true)", False),
    (
        "more-in-seq",
        "channels: 4, length: 9",
        "exp | repeat(1, 2, 1) | s = seq { selu | celu | relu6 | hardtanh | mish | softsign | logsigmoid "
        "| hardswish | hardsigmoid | dropout1d } | unsqueeze(-1) | s2 = seq { dropout2d } | squeeze(-1) "
        "| c = conv1d(3, 3)",
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
    for steps in ("crop(1)", "flip(1)", "sum(1)"):
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


# ------------------------------------------------------------------ second batch (layers branch)
# exp, unsqueeze, squeeze, repeat, selu ... hardsigmoid, dropout1d and dropout2d.


def test_second_batch_code_forms() -> None:
    code = compile_source(
        arch(
            "channels: 4, length: 9",
            "exp | unsqueeze(2) | squeeze(2) | squeeze((1, -1)) | repeat(1, 2, 1) | celu(0.5) "
            "| hardtanh(max_val = 2.0) | logsigmoid | dropout1d(0.2) | unsqueeze(-1) | dropout2d "
            "| squeeze(-1) | s = seq { ReLU6(inplace = true) | dropout1d(0.3) | Hardswish } | mish",
        )
    )
    assert "x = torch.exp(x)" in code
    assert "x = x.unsqueeze(2)" in code
    assert "x = x.squeeze(2)" in code
    assert "x = x.squeeze((1, -1))" in code
    assert "x = x.repeat(1, 2, 1)" in code
    assert "x = F.celu(x, alpha=0.5)" in code
    assert "x = F.hardtanh(x, max_val=2.0)" in code
    assert "x = F.logsigmoid(x)" in code
    assert "x = F.dropout1d(x, p=0.2, training=self.training)" in code
    assert "x = F.dropout2d(x, training=self.training)" in code
    assert "nn.ReLU6(inplace=True)" in code
    assert "nn.Dropout1d(p=0.3)" in code
    assert "nn.Hardswish()" in code
    assert "x = F.mish(x)" in code
    for steps in ("exp", "squeeze(1)", "unsqueeze(1)", "repeat(1, 1, 1)"):
        assert _codes(arch("channels: 4, length: 8", f"f = {steps}")) == ["no-module-form"], steps


def test_repeat_follows_a_parameter() -> None:
    text = (
        "arch t(classes = 2, length = 10, alphabet = 4, copies = 3) {\n"
        "  input (batch, channels: alphabet, length)\n  repeat(1, copies, 1) | c = conv1d(8, 3)\n}\n"
    )
    code = compile_source(text)
    assert "x = x.repeat(1, self.copies, 1)" in code
    assert "nn.Conv1d(alphabet * copies, 8" in code


def _torch_shape(torch: Any, fn: Any, batch: int, sizes: list[int]) -> tuple[int, ...] | None:
    try:
        return tuple(fn(torch.zeros(batch, *sizes)).shape)
    except (RuntimeError, IndexError):
        return None


@pytest.mark.torch
def test_squeeze_unsqueeze_repeat_agree_with_torch(torch_module: Any) -> None:
    """Every dim (in range or not) on inputs with size-1 axes: archc's shape is torch's at
    batch 3, an archc error is a torch error, and batch-squeeze is exactly the case where
    torch's output rank differs between batch 1 and batch 3."""
    torch = torch_module
    for sizes in ([1, 5], [4, 1], [1, 1], [3, 5], [1, 4, 1]):
        rank = len(sizes) + 1
        for d in range(-rank - 2, rank + 2):
            shape, codes = checked_shape(f"unsqueeze({d})", sizes)
            want = _torch_shape(torch, lambda x, d=d: x.unsqueeze(d), 3, sizes)
            got = None if shape is None else tuple(3 if n is None else n for n in shape)
            assert got == want, ("unsqueeze", d, sizes, codes)
            for dims in (d, (1, d)):
                text = f"squeeze({dims})" if isinstance(dims, int) else f"squeeze((1, {d}))"
                shape, codes = checked_shape(text, sizes)
                at3 = _torch_shape(torch, lambda x, dims=dims: x.squeeze(dims), 3, sizes)
                at1 = _torch_shape(torch, lambda x, dims=dims: x.squeeze(dims), 1, sizes)
                if at3 is None:
                    assert codes == ["bad-axis"], (text, sizes, codes)
                elif "batch-squeeze" in codes:
                    assert at1 is not None and len(at1) == len(at3) - 1, (text, sizes)
                else:
                    assert at1 is not None and len(at1) == len(at3), (text, sizes)
                    assert shape is not None and tuple(3 if n is None else n for n in shape) == at3
        shape, codes = checked_shape("squeeze", sizes)
        assert codes == ["batch-squeeze"]
        assert len(torch.zeros(1, *sizes).squeeze().shape) < len(torch.zeros(3, *sizes).squeeze().shape)
    for sizes in ([4, 5], [1, 3]):
        for factors in itertools.product(range(0, 3), repeat=3):
            for lead in ((), (2,), (1, 3)):
                all_factors = (*lead, *factors)
                text = f"repeat({', '.join(map(str, all_factors))})"
                shape, codes = checked_shape(text, sizes)
                want = _torch_shape(torch, lambda x, f=all_factors: x.repeat(*f), 3, sizes)
                if want is not None and 0 in want:
                    assert codes == ["bad-size"], text  # torch returns an empty tensor
                elif want is None:
                    assert codes == ["wrong-rank"] or codes == ["bad-size"], (text, codes)
                elif factors[0] != 1:
                    # The batch factor: torch gives factor x 3 samples where 3 went in.
                    assert codes == ["batch-mix"], (text, codes)
                else:
                    got = None if shape is None else tuple(3 if n is None else n for n in shape)
                    assert got == want, (text, codes)
        for few in ("repeat(1, 2)", "repeat(3)"):
            assert checked_shape(few, sizes)[1] == ["wrong-rank"]
            with pytest.raises(RuntimeError, match="can not be smaller"):
                torch.zeros(3, *sizes).repeat(*eval(few[len("repeat") :] + ("" if "," in few else ",")))


def _mask_mixes(out: Any, batch_axis: int) -> bool:
    """Whether a channel dropout's zero pattern ties the samples together: every sample has
    the same pattern, or each sample is zeroed or kept as a whole."""
    zeros = (out == 0).movedim(batch_axis, 0).reshape(out.shape[batch_axis], -1)
    same = bool((zeros == zeros[0]).all())
    whole = bool(((zeros.all(dim=1)) | (~zeros).all(dim=1)).all())
    return same or whole


@pytest.mark.torch
def test_channel_dropout_ranks_and_batch_agree_with_torch(torch_module: Any) -> None:
    """Dropout1d and Dropout2d over ranks 1 to 5 and every batch position: archc's
    wrong-rank is a torch error in training, its dropout-rank warning a torch warning, and
    its batch-mix exactly the cases where torch's masks tie the samples of a batch."""
    import warnings

    from test_shape_rules import arch_text

    torch = torch_module
    torch.manual_seed(0)
    base = {1: [], 2: [6], 3: [6, 5], 4: [6, 3, 5], 5: [6, 2, 3, 4]}
    checked = 0
    for kind, rank in itertools.product(("dropout1d", "dropout2d"), range(1, 6)):
        sizes = base[rank]
        for b in range(rank):
            if not sizes and b:
                continue
            order = [*range(1, rank)]
            order.insert(b, 0)
            prefix = f"permute({', '.join(map(str, order))}) | " if rank > 1 else "mean(1) | "
            text_sizes = sizes if rank > 1 else [6]
            step = f"{prefix}{kind}"
            result = run(Source("t.arch", arch_text(step, text_sizes)), None)
            codes = [d.code for d in result.diagnostics if d.is_error]
            warned = [d.code for d in result.diagnostics if not d.is_error]
            mod = getattr(torch.nn, "Dropout1d" if kind == "dropout1d" else "Dropout2d")(0.5).train()
            x = torch.ones(24, *text_sizes)
            x = x.permute(*order) if rank > 1 else x.mean(1)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    out = mod(x)
                except RuntimeError:
                    out = None
            if out is None:
                assert codes == ["wrong-rank"], (step, codes)
                continue
            assert ("dropout-rank" in warned) == bool(caught), (step, warned)
            assert ("batch-mix" in codes) == _mask_mixes(out, order.index(0)), (step, codes)
            assert codes in ([], ["batch-mix"]), (step, codes)
            checked += 1
    assert checked >= 15


# The second batch's steps whose output layout archc predicts (all new kinds).
LAYOUT_STEPS_2 = [
    "exp", "scale(1.5)", "shift(-1)", "divide(3)", "log", "selu", "celu", "relu6", "hardtanh", "mish", "softsign", "logsigmoid", "hardswish",
    "hardsigmoid", "selu(inplace = true)", "hardtanh(inplace = true)", "unsqueeze(0)", "unsqueeze(1)",
    "unsqueeze(2)", "unsqueeze(-1)", "squeeze(1)", "squeeze(-1)", "squeeze((1, 2))", "repeat(1, 2, 1)",
    "repeat(1, 1, 1, 1)", "repeat(3, 1, 2, 1, 1)", "dropout1d", "dropout2d", "dropout1d(inplace = true)",
]  # fmt: skip
LAYOUT_SIZES = {3: [4, 6], 4: [2, 1, 6], 5: [2, 3, 1, 6]}


def _layout_prefixes(step: str, rank: int) -> list[str]:
    prefixes = []
    for lead in ("", "crop(1) | "):
        for order in itertools.permutations(range(1, rank)):
            prefixes.append(f"{lead}permute(0, {', '.join(map(str, order))}) | {step}")
    return prefixes


@pytest.mark.torch
def test_second_batch_strides_are_torch_strides(torch_module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout archc tracks after each new step is torch's, stride for stride (size-1 axes
    aside: their stride never matters), with archc's batch size set to torch's. Channel
    dropouts are checked in eval mode (they return their input; training copies a gapped
    input densely, which only accepts more views)."""
    import warnings

    from archc.checks import shapes
    from test_shape_rules import arch_text

    torch = torch_module
    seen: dict[str, Any] = {}
    original = shapes.ShapeChecker.check

    def check(self: Any, arch: Any) -> Any:
        out = original(self, arch)
        seen["strides"] = self.layout.strides
        return out

    monkeypatch.setattr(shapes.ShapeChecker, "check", check)
    monkeypatch.setattr(shapes, "BATCH", 2)
    compared = 0
    for step, rank in itertools.product(LAYOUT_STEPS_2, (3, 4, 5)):
        sizes = LAYOUT_SIZES[rank]
        for prefix in _layout_prefixes(step, rank):
            seen.clear()
            shape, _ = checked_shape(prefix, sizes)
            if shape is None:
                continue
            strides = seen["strides"]
            module = build_module(arch_text(prefix, sizes))
            for train in (False,) if "dropout" in step else (True, False):
                module.train(train)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = module(torch.randn(2, *sizes))
                assert len(strides) == out.dim(), prefix
                # A view's size-1 strides are torch's too (channels-last detection reads them).
                view = step.startswith(("squeeze", "unsqueeze"))
                pairs = [
                    (a, b)
                    for a, b, n in zip(strides, out.stride(), out.shape, strict=True)
                    if n != 1 or view
                ]
                assert all(a == b for a, b in pairs), (prefix, train, strides, out.stride())
                compared += 1
    assert compared > 1000


@pytest.mark.torch
def test_views_after_second_batch_agree_with_torch(torch_module: Any) -> None:
    """`... | step | view(batch, -1)`: archc refuses the view exactly when torch refuses it,
    in training and in eval mode (for the dropouts: when either mode refuses it)."""
    import warnings

    from test_shape_rules import arch_text

    torch = torch_module
    checked = 0
    for step, rank in itertools.product(LAYOUT_STEPS_2, (3, 4, 5)):
        sizes = LAYOUT_SIZES[rank]
        for prefix in _layout_prefixes(step, rank):
            shape, _ = checked_shape(prefix, sizes)
            if shape is None:
                continue
            _, view_codes = checked_shape(f"{prefix} | view(batch, -1)", sizes)
            if view_codes not in ([], ["view-stride"]):
                assert view_codes == ["batch-mix"] and step.startswith("repeat(3"), prefix
                continue  # the batch is on axis 1 after it: view(batch, -1) would merge it
            module = build_module(arch_text(prefix, sizes))
            torch_ok = True
            for train in (True, False):
                module.train(train)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = module(torch.randn(2, *sizes))
                try:
                    out.view(2, -1)
                except RuntimeError as err:
                    assert "view size is not compatible" in str(err)
                    torch_ok = False
            assert (view_codes == []) == torch_ok, (prefix, view_codes)
            checked += 1
    assert checked > 500


@pytest.mark.torch
def test_second_batch_golden_errors_fail_in_torch(torch_module: Any) -> None:
    """The golden error lines of the new kinds, written by hand in torch: each raises (or,
    for batch-squeeze and the batch factor of repeat, changes the batch)."""
    torch = torch_module
    nn = torch.nn
    x = torch.zeros(3, 8, 37)
    for bad in (lambda: x.unsqueeze(4), lambda: x.unsqueeze(-5), lambda: x.squeeze(3), lambda: x.squeeze(-4)):
        with pytest.raises(IndexError, match="Dimension out of range"):
            bad()
    with pytest.raises(RuntimeError, match="appears multiple times"):
        torch.zeros(3, 1, 37).squeeze((1, 1))
    with pytest.raises(RuntimeError, match="appears multiple times"):
        torch.zeros(3, 1, 37).squeeze((1, -2))
    with pytest.raises(RuntimeError, match="can not be smaller"):
        x.repeat(1, 2)
    with pytest.raises(RuntimeError, match="negative dimension"):
        x.repeat(1, -1, 1)
    assert x.repeat(1, 0, 1).numel() == 0
    assert x.repeat(2, 1, 1).shape[0] == 6  # the batch doubles
    assert torch.zeros(1, 8, 37).squeeze(0).shape == (8, 37)  # the batch is gone at batch 1
    assert torch.zeros(1, 1, 37).squeeze().shape == (37,)
    with pytest.raises(RuntimeError, match="alpha cannot be 0"):
        nn.CELU(0.0)(x)
    with pytest.raises(AssertionError, match="must be greater than min_val"):
        nn.Hardtanh(1.0, 1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater"):
        torch.nn.functional.hardtanh(x, 2.0, 1.0)
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        nn.Dropout1d()(torch.zeros(3, 2, 8, 37))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        nn.Dropout2d().train()(torch.zeros(3))
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        torch.exp(x.permute(0, 2, 1)).view(3, -1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        x.permute(0, 2, 1).unsqueeze(1).view(3, -1)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        nn.Dropout1d().eval()(x[..., 2:-2]).view(3, -1)
    assert torch.nn.functional.logsigmoid(x.permute(0, 2, 1)).is_contiguous()
    assert x.permute(0, 2, 1).repeat(1, 1, 1).is_contiguous()


def test_second_batch_warnings() -> None:
    def diags(axes: str, steps: str) -> list[tuple[str | None, str]]:
        result = run(Source("t.arch", arch(axes, steps)), None)
        return [(d.code, d.message) for d in result.diagnostics]

    got = diags("channels: 8, length: 9", "squeeze(1)")
    assert got == [
        (
            "squeeze-noop",
            "`squeeze(1)` leaves axis 1 as it is: it holds 8 channels, and torch squeezes only "
            "axes of size 1",
        )
    ]
    ((code, message),) = diags("channels: 8, length: 9", "squeeze")
    assert code == "batch-squeeze" and "at batch size 1" in message
    ((code, message),) = diags("channels: 8, length: 9", "dropout2d")
    assert code == "dropout-rank" and "as `dropout1d` does" in message
    assert diags("channels: 8, length: 9", "dropout1d") == []
    assert diags("channels: 8, height: 1, length: 9", "dropout2d") == []


@pytest.mark.torch
def test_squeeze_of_a_length_dependent_axis(torch_module: Any) -> None:
    """A squeeze of an axis whose size follows the length: it goes at the length where it is 1
    and stays (with the warning) elsewhere, as in torch."""
    torch = torch_module
    for length in (4, 5, 6, 9):
        text = (
            f"arch t(classes = 2, length = {length}, alphabet = 4) {{\n"
            "  input (batch, channels: alphabet, length)\n"
            "  p = maxpool1d(4) | squeeze(2) | flatten | fc = linear(classes)\n}\n"
        )
        result = run(Source("t.arch", text), None)
        assert result.ok
        codes = [d.code for d in result.diagnostics]
        module = build_module(text)
        pooled = module.p(torch.zeros(3, 4, length))
        assert ("squeeze-noop" in codes) == (pooled.shape[2] != 1), length
        assert module(torch.zeros(3, 4, length)).shape == (3, 2)


SEQ_STEPS = """\
arch steps(length = 30, alphabet = 4) {
  h := body = seq { conv1d(6, 5) | transpose(1, 2) | linear(3) | permute(0, 2, 1) | conv1d(2, 1) }
  pooled := h | pool = seq { global_max_pool }
  avg := h | average = mean(1)
  peak := h | top = seq { max(2, keepdim = true) }
  g := h | gap = global_avg_pool
  return pooled, avg, peak, g
}
"""


@pytest.mark.torch
def test_tensor_operations_with_a_module_form_stand_in_a_seq_or_take_a_name(torch_module: Any) -> None:
    """permute, transpose, mean, max and the global pools in a seq (or named): small modules of
    the generated file, so the weights keep the indices a Lambda-wrapping model gives them."""
    torch = torch_module
    code = compile_source(SEQ_STEPS)
    for made in ("_Transpose(1, 2)", "_Permute(0, 2, 1)", "self.pool = nn.Sequential(_Amax(-1))",
                 "self.average = _Mean(1)", "_Amax(2, keepdim=True)", "self.gap = _Mean(-1)"):
        assert made in code, code
    assert "class _Permute(nn.Module):" in code and "class _Transpose(nn.Module):" in code
    module = build_module(SEQ_STEPS).eval()
    assert sorted(module.state_dict()) == ["body.0.bias", "body.0.weight", "body.2.bias", "body.2.weight",
                                           "body.4.bias", "body.4.weight"]
    x = torch.randn(3, 4, 30)
    with torch.no_grad():
        pooled, avg, peak, g = module(x)
        b = module.body
        h = b[4](b[2](b[0](x).transpose(1, 2)).permute(0, 2, 1))  # by hand, from the same weights
    assert torch.equal(pooled, h.amax(dim=-1)) and torch.equal(avg, h.mean(dim=1))
    assert torch.equal(peak, h.amax(dim=2, keepdim=True)) and torch.equal(g, h.mean(dim=-1))
    assert (pooled.shape, avg.shape, peak.shape, g.shape) == ((3, 2), (3, 26), (3, 2, 1), (3, 2))


def test_a_file_without_such_steps_in_a_seq_defines_no_helper_module() -> None:
    code = compile_source("arch plain(length = 30, alphabet = 4) {\n  c = conv1d(6, 5)\n  permute(0, 2, 1)\n}\n")
    assert "_Permute" not in code and "x = x.permute(0, 2, 1)" in code
