"""The catalogue of layer kinds: DSL names, parameters with PyTorch's names and defaults."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..core.values import MAX_SIZE, Value, show, type_name

REQUIRED = object()  # marks a parameter with no default

# A checker returns an error message, or None when the value is acceptable.
Checker = Callable[[Value], "str | None"]


def _is_int(v: Value) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _too_big(v: int) -> str | None:
    if abs(v) > MAX_SIZE:
        return f"must be at most {MAX_SIZE:,}, got {_short(v)}"
    return None


def _short(v: int) -> str:
    """A number as shown in a message: a 100-digit number is not printed whole."""
    text = str(v)
    return text if len(text) <= 24 else f"{text[:8]}...{text[-4:]} ({len(text)} digits)"


def positive(v: Value) -> str | None:
    if not _is_int(v):
        return f"expected a whole number, got {show(v)} ({type_name(v)})"
    assert isinstance(v, int)
    return _too_big(v) or (None if v >= 1 else f"must be at least 1, got {v}")


def non_negative(v: Value) -> str | None:
    if not _is_int(v):
        return f"expected a whole number, got {show(v)} ({type_name(v)})"
    assert isinstance(v, int)
    return _too_big(v) or (None if v >= 0 else f"must not be negative, got {v}")


def any_int(v: Value) -> str | None:
    if not _is_int(v):
        return f"expected a whole number, got {show(v)} ({type_name(v)})"
    assert isinstance(v, int)
    return _too_big(v)


def boolean(v: Value) -> str | None:
    return None if isinstance(v, bool) else f"expected true or false, got {show(v)}"


def number(v: Value) -> str | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return f"expected a number, got {show(v)} ({type_name(v)})"
    if isinstance(v, int):
        return _too_big(v)
    return None if math.isfinite(v) else f"must be a finite number, got {v}"


def positive_number(v: Value) -> str | None:
    """eps and the like: torch divides by it (and by sqrt(var + eps))."""
    err = number(v)
    if err:
        return err
    assert isinstance(v, (int, float))
    return None if v > 0 else f"must be greater than 0, got {show(v)}"


def probability(v: Value) -> str | None:
    err = number(v)
    if err:
        return err
    return None if 0 <= v <= 1 else f"a probability must lie in [0, 1], got {show(v)}"  # type: ignore[operator]


def fraction(v: Value) -> str | None:
    """batchnorm momentum: the weight of the new batch in the running statistics."""
    err = number(v)
    if err:
        return err
    return None if 0 <= v <= 1 else f"must lie in [0, 1], got {show(v)}"  # type: ignore[operator]


def per_axis(check: Checker, n: int) -> Checker:
    """An int, or a tuple of n ints, each passing `check`."""

    def checker(v: Value) -> str | None:
        if isinstance(v, tuple):
            if len(v) != n:
                return f"expected {n} values, one per spatial axis, got {len(v)}"
            for item in v:
                err = check(item)
                if err:
                    return err
            return None
        return check(v)

    return checker


def padding(n: int) -> Checker:
    inner = per_axis(non_negative, n)

    def checker(v: Value) -> str | None:
        if isinstance(v, str):
            return (
                None
                if v in ("same", "valid")
                else f'padding is a size, "same" or "valid", not {show(v)}'
            )
        return inner(v)

    return checker


def optional(check: Checker) -> Checker:
    def checker(v: Value) -> str | None:
        return None if v is None else check(v)

    return checker


@dataclass(frozen=True)
class ParamSpec:
    name: str
    check: Checker
    default: object = REQUIRED


@dataclass(frozen=True)
class LayerSpec:
    """One layer kind.

    `size_in` / `size_out` name the parameters written with the size form
    `in -> out` (or just `out`); `size_in` is inferred when left out.
    """

    name: str
    params: tuple[ParamSpec, ...]
    torch_class: str | None = None  # module form: nn.<torch_class>
    stateful: bool = False  # has weights or buffers, so it needs a name outside seq
    size_in: str | None = None
    size_out: str | None = None
    varargs: str | None = None  # view/reshape/permute take their values positionally
    doc: str = ""
    spatial: int = 0  # 1 or 2 for convolutions and pools

    def param(self, name: str) -> ParamSpec | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def functional_only(self) -> bool:
        return self.torch_class is None


def _conv(name: str, cls: str, n: int) -> LayerSpec:
    return LayerSpec(
        name,
        (
            ParamSpec("in_channels", positive, None),
            ParamSpec("out_channels", positive),
            ParamSpec("kernel_size", per_axis(positive, n)),
            ParamSpec("stride", per_axis(positive, n), 1),
            ParamSpec("padding", padding(n), 0),
            ParamSpec("dilation", per_axis(positive, n), 1),
            ParamSpec("groups", positive, 1),
            ParamSpec("bias", boolean, True),
            ParamSpec("padding_mode", padding_mode, "zeros"),
        ),
        torch_class=cls,
        stateful=True,
        size_in="in_channels",
        size_out="out_channels",
        doc=f"{n}-D convolution",
        spatial=n,
    )


def padding_mode(v: Value) -> str | None:
    ok = ("zeros", "reflect", "replicate", "circular")
    return None if v in ok else f"padding_mode is one of {', '.join(ok)}, not {show(v)}"


def _bn(name: str, cls: str) -> LayerSpec:
    return LayerSpec(
        name,
        (
            ParamSpec("num_features", positive, None),
            ParamSpec("eps", positive_number, 1e-5),
            ParamSpec("momentum", optional(fraction), 0.1),
            ParamSpec("affine", boolean, True),
            ParamSpec("track_running_stats", boolean, True),
        ),
        torch_class=cls,
        stateful=True,
        size_in="num_features",
        doc="batch normalization over channels",
    )


def _pool(name: str, cls: str, n: int) -> LayerSpec:
    return LayerSpec(
        name,
        (
            ParamSpec("kernel_size", per_axis(positive, n)),
            ParamSpec("stride", optional(per_axis(positive, n)), None),
            ParamSpec("padding", per_axis(non_negative, n), 0),
            ParamSpec("dilation", per_axis(positive, n), 1),
            ParamSpec("ceil_mode", boolean, False),
        ),
        torch_class=cls,
        doc=f"{n}-D max pooling (stride defaults to the window)",
        spatial=n,
    )


def _avgpool(name: str, cls: str, n: int) -> LayerSpec:
    return LayerSpec(
        name,
        (
            ParamSpec("kernel_size", per_axis(positive, n)),
            ParamSpec("stride", optional(per_axis(positive, n)), None),
            ParamSpec("padding", per_axis(non_negative, n), 0),
            ParamSpec("ceil_mode", boolean, False),
            ParamSpec("count_include_pad", boolean, True),
        ),
        torch_class=cls,
        doc=f"{n}-D average pooling (stride defaults to the window)",
        spatial=n,
    )


def _act(name: str, cls: str, doc: str, *extra: ParamSpec) -> LayerSpec:
    return LayerSpec(name, extra, torch_class=cls, doc=doc)


SPECS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        _conv("conv1d", "Conv1d", 1),
        _conv("conv2d", "Conv2d", 2),
        _bn("batchnorm1d", "BatchNorm1d"),
        _bn("batchnorm2d", "BatchNorm2d"),
        _pool("maxpool1d", "MaxPool1d", 1),
        _pool("maxpool2d", "MaxPool2d", 2),
        _avgpool("avgpool1d", "AvgPool1d", 1),
        _avgpool("avgpool2d", "AvgPool2d", 2),
        LayerSpec(
            "adaptivemaxpool1d",
            (ParamSpec("output_size", positive),),
            torch_class="AdaptiveMaxPool1d",
            doc="max pooling to a fixed number of positions",
        ),
        LayerSpec(
            "global_max_pool",
            (),
            doc="maximum over the length axis: (batch, channels, length) -> (batch, channels)",
        ),
        LayerSpec(
            "linear",
            (
                ParamSpec("in_features", positive, None),
                ParamSpec("out_features", positive),
                ParamSpec("bias", boolean, True),
            ),
            torch_class="Linear",
            stateful=True,
            size_in="in_features",
            size_out="out_features",
            doc="fully connected layer on the last axis",
        ),
        LayerSpec(
            "lstm",
            (
                ParamSpec("input_size", positive, None),
                ParamSpec("hidden_size", positive),
                ParamSpec("num_layers", positive, 1),
                ParamSpec("bias", boolean, True),
                ParamSpec("batch_first", boolean, False),
                ParamSpec("dropout", probability, 0.0),
                ParamSpec("bidirectional", boolean, False),
            ),
            torch_class="LSTM",
            stateful=True,
            size_in="input_size",
            size_out="hidden_size",
            doc="LSTM; the step keeps its output sequence and drops the states",
        ),
        _act("relu", "ReLU", "rectified linear unit", ParamSpec("inplace", boolean, False)),
        _act("sigmoid", "Sigmoid", "logistic sigmoid"),
        _act("tanh", "Tanh", "hyperbolic tangent"),
        _act("softmax", "Softmax", "softmax over an axis", ParamSpec("dim", any_int)),
        _act("log_softmax", "LogSoftmax", "log-softmax over an axis", ParamSpec("dim", any_int)),
        _act(
            "dropout",
            "Dropout",
            "dropout",
            ParamSpec("p", probability, 0.5),
            ParamSpec("inplace", boolean, False),
        ),
        LayerSpec(
            "flatten",
            (ParamSpec("start_dim", any_int, 1), ParamSpec("end_dim", any_int, -1)),
            torch_class="Flatten",
            doc="merge axes start_dim..end_dim into one",
        ),
        LayerSpec("view", (), varargs="shape", doc="tensor.view(...); -1 or batch for one axis"),
        LayerSpec(
            "reshape", (), varargs="shape", doc="tensor.reshape(...); -1 or batch for one axis"
        ),
        LayerSpec("permute", (), varargs="dims", doc="reorder axes"),
        LayerSpec(
            "transpose",
            (ParamSpec("dim0", any_int), ParamSpec("dim1", any_int)),
            doc="swap two axes",
        ),
        LayerSpec("contiguous", (), doc="a contiguous copy (shape unchanged)"),
        LayerSpec(
            "select",
            (ParamSpec("dim", any_int), ParamSpec("index", any_int)),
            doc="take one index of an axis and drop the axis (e.g. the last LSTM step)",
        ),
    )
}

# PyTorch's class names are accepted as spellings of the DSL names.
ALIASES: dict[str, str] = {
    **{spec.torch_class.lower(): spec.name for spec in SPECS.values() if spec.torch_class},
    "globalmaxpool1d": "global_max_pool",
    "global_max_pool1d": "global_max_pool",
    "logsoftmax": "log_softmax",
}


def lookup(name: str) -> LayerSpec | None:
    """The spec of a layer kind by its DSL or PyTorch name (case-insensitive)."""
    key = name.lower()
    return SPECS.get(key) or SPECS.get(ALIASES.get(key, ""))


def all_names() -> list[str]:
    return sorted(SPECS)


# PyTorch layers and tensor operations archc does not have (yet): an unknown step of one of
# these names is "not supported yet", not a misspelling of some other layer. Keys are
# lowercase without underscores; values are the PyTorch spelling.
UNSUPPORTED: dict[str, str] = {
    key.lower().replace("_", ""): torch_name
    for key, torch_name in (
        ("gelu", "nn.GELU"),
        ("silu", "nn.SiLU"),
        ("swish", "nn.SiLU"),
        ("elu", "nn.ELU"),
        ("selu", "nn.SELU"),
        ("celu", "nn.CELU"),
        ("leakyrelu", "nn.LeakyReLU"),
        ("prelu", "nn.PReLU"),
        ("relu6", "nn.ReLU6"),
        ("mish", "nn.Mish"),
        ("hardtanh", "nn.Hardtanh"),
        ("hardswish", "nn.Hardswish"),
        ("hardsigmoid", "nn.Hardsigmoid"),
        ("softplus", "nn.Softplus"),
        ("softsign", "nn.Softsign"),
        ("logsigmoid", "nn.LogSigmoid"),
        ("glu", "nn.GLU"),
        ("threshold", "nn.Threshold"),
        ("layernorm", "nn.LayerNorm"),
        ("groupnorm", "nn.GroupNorm"),
        ("instancenorm1d", "nn.InstanceNorm1d"),
        ("instancenorm2d", "nn.InstanceNorm2d"),
        ("localresponsenorm", "nn.LocalResponseNorm"),
        ("batchnorm3d", "nn.BatchNorm3d"),
        ("embedding", "nn.Embedding"),
        ("conv3d", "nn.Conv3d"),
        ("convtranspose1d", "nn.ConvTranspose1d"),
        ("convtranspose2d", "nn.ConvTranspose2d"),
        ("upsample", "nn.Upsample"),
        ("interpolate", "F.interpolate"),
        ("pixelshuffle", "nn.PixelShuffle"),
        ("adaptiveavgpool1d", "nn.AdaptiveAvgPool1d"),
        ("adaptiveavgpool2d", "nn.AdaptiveAvgPool2d"),
        ("adaptivemaxpool2d", "nn.AdaptiveMaxPool2d"),
        ("global_avg_pool", "nn.AdaptiveAvgPool1d(1)"),
        ("globalaveragepooling1d", "nn.AdaptiveAvgPool1d(1)"),
        ("maxpool3d", "nn.MaxPool3d"),
        ("avgpool3d", "nn.AvgPool3d"),
        ("lppool1d", "nn.LPPool1d"),
        ("identity", "nn.Identity"),
        ("constantpad1d", "nn.ConstantPad1d"),
        ("zeropad1d", "nn.ZeroPad1d"),
        ("zeropad2d", "nn.ZeroPad2d"),
        ("reflectionpad1d", "nn.ReflectionPad1d"),
        ("replicationpad1d", "nn.ReplicationPad1d"),
        ("pad", "F.pad"),
        ("unflatten", "nn.Unflatten"),
        ("squeeze", "torch.squeeze"),
        ("unsqueeze", "torch.unsqueeze"),
        ("cat", "torch.cat"),
        ("concat", "torch.cat"),
        ("concatenate", "torch.cat"),
        ("stack", "torch.stack"),
        ("add", "torch.add"),
        ("mean", "torch.mean"),
        ("sum", "torch.sum"),
        ("max", "torch.max"),
        ("gru", "nn.GRU"),
        ("rnn", "nn.RNN"),
        ("lstmcell", "nn.LSTMCell"),
        ("grucell", "nn.GRUCell"),
        ("multiheadattention", "nn.MultiheadAttention"),
        ("transformer", "nn.Transformer"),
        ("transformerencoder", "nn.TransformerEncoder"),
        ("transformerencoderlayer", "nn.TransformerEncoderLayer"),
        ("transformerdecoderlayer", "nn.TransformerDecoderLayer"),
        ("bilinear", "nn.Bilinear"),
        ("alphadropout", "nn.AlphaDropout"),
        ("dropout1d", "nn.Dropout1d"),
        ("dropout2d", "nn.Dropout2d"),
        ("softmax2d", "nn.Softmax2d"),
    )
}


def unsupported(name: str) -> str | None:
    """The PyTorch spelling of a known layer or operation archc lacks, or None."""
    return UNSUPPORTED.get(name.lower().replace("_", ""))
