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


def max_norm(v: Value) -> str | None:
    """A max-norm constraint: none, or the largest L2 norm of each output unit's weights."""
    return None if v is None else positive_number(v)


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


# Tensor operations that may stand in a `seq` all the same: the emitter writes a small module
# for each (no weights, so the indices and state_dict keys of the nn.Sequential stay those of
# the hand-written model, which wraps them in a Lambda or einops layer).
SEQ_STEPS = frozenset({"permute", "transpose", "mean", "max", "global_avg_pool", "global_max_pool"})


@dataclass(frozen=True)
class ParamSpec:
    name: str
    check: Checker
    default: object = REQUIRED
    keyword_only: bool = False  # archc's own (max_norm): no positional slot, as in no torch signature


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
        """No module form: neither a torch.nn class nor a helper module the emitter writes."""
        return self.torch_class is None and self.name not in SEQ_STEPS


def _rnn(name: str, cls: str, doc: str) -> LayerSpec:
    """nn.LSTM and nn.GRU: the same arguments, in torch's order."""
    return LayerSpec(
        name,
        (
            ParamSpec("input_size", positive, None),
            ParamSpec("hidden_size", positive),
            ParamSpec("num_layers", positive, 1),
            ParamSpec("bias", boolean, True),
            ParamSpec("batch_first", boolean, False),
            ParamSpec("dropout", probability, 0.0),
            ParamSpec("bidirectional", boolean, False),
        ),
        torch_class=cls,
        stateful=True,
        size_in="input_size",
        size_out="hidden_size",
        doc=doc,
    )


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
            ParamSpec("max_norm", max_norm, None, keyword_only=True),
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
                ParamSpec("max_norm", max_norm, None, keyword_only=True),
            ),
            torch_class="Linear",
            stateful=True,
            size_in="in_features",
            size_out="out_features",
            doc="fully connected layer on the last axis",
        ),
        _rnn("lstm", "LSTM", "LSTM; the step keeps its output sequence and drops the states"),
        _rnn("gru", "GRU", "GRU; the step keeps its output sequence and drops the final state"),
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


# ------------------------------------------------------------------ added layers (layers branch)
# Activations, normalizations, embedding, transposed convolutions, upsampling, adaptive
# pools, padding, cropping, flips, reductions and attention. Kept in their own section.


def one_of(*options: str) -> Checker:
    def checker(v: Value) -> str | None:
        return None if v in options else f"is one of {', '.join(options)}, not {show(v)}"

    return checker


def int_or_tuple(check: Checker) -> Checker:
    """An int, or a non-empty tuple of ints, each passing `check` (any number of them)."""

    def checker(v: Value) -> str | None:
        if isinstance(v, tuple):
            if not v:
                return "expected at least one value"
            for item in v:
                err = check(item)
                if err:
                    return err
            return None
        return check(v)

    return checker


def positive_numbers(n_max: int) -> Checker:
    """A positive number, or a tuple of up to n_max of them (upsample's scale_factor)."""

    def checker(v: Value) -> str | None:
        items = v if isinstance(v, tuple) else (v,)
        if not items or len(items) > n_max:
            return f"expected a number or up to {n_max} numbers, got {len(items)}"
        for item in items:
            err = positive_number(item)
            if err:
                return err
        return None

    return checker


def _convt(name: str, cls: str, n: int) -> LayerSpec:
    return LayerSpec(
        name,
        (
            ParamSpec("in_channels", positive, None),
            ParamSpec("out_channels", positive),
            ParamSpec("kernel_size", per_axis(positive, n)),
            ParamSpec("stride", per_axis(positive, n), 1),
            ParamSpec("padding", per_axis(non_negative, n), 0),
            ParamSpec("output_padding", per_axis(non_negative, n), 0),
            ParamSpec("groups", positive, 1),
            ParamSpec("bias", boolean, True),
            ParamSpec("dilation", per_axis(positive, n), 1),
        ),
        torch_class=cls,
        stateful=True,
        size_in="in_channels",
        size_out="out_channels",
        doc=f"{n}-D transposed convolution",
        spatial=n,
    )


def _reduce(name: str, doc: str) -> LayerSpec:
    return LayerSpec(
        name,
        (ParamSpec("dim", int_or_tuple(any_int)), ParamSpec("keepdim", boolean, False)),
        doc=doc,
    )


UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")

NEW_SPECS: tuple[LayerSpec, ...] = (
    _act(
        "gelu",
        "GELU",
        "Gaussian error linear unit",
        ParamSpec("approximate", one_of("none", "tanh"), "none"),
    ),
    _act("silu", "SiLU", "sigmoid linear unit (swish)"),
    _act("elu", "ELU", "exponential linear unit", ParamSpec("alpha", number, 1.0)),
    _act("leakyrelu", "LeakyReLU", "leaky ReLU", ParamSpec("negative_slope", number, 0.01)),
    _act(
        "softplus",
        "Softplus",
        "softplus",
        ParamSpec("beta", number, 1.0),
        ParamSpec("threshold", number, 20.0),
    ),
    _act("identity", "Identity", "the input unchanged"),
    LayerSpec(
        "layernorm",
        (
            ParamSpec("normalized_shape", int_or_tuple(positive), None),
            ParamSpec("eps", positive_number, 1e-5),
            ParamSpec("elementwise_affine", boolean, True),
            ParamSpec("bias", boolean, True),
        ),
        torch_class="LayerNorm",
        stateful=True,
        size_in="normalized_shape",
        doc="layer normalization over the last axis (or the last axes of normalized_shape)",
    ),
    LayerSpec(
        "groupnorm",
        (
            ParamSpec("num_groups", positive),
            ParamSpec("num_channels", positive, None),
            ParamSpec("eps", positive_number, 1e-5),
            ParamSpec("affine", boolean, True),
        ),
        torch_class="GroupNorm",
        stateful=True,
        size_out="num_groups",
        doc="group normalization over the channels (axis 1) in groups",
    ),
    _bn("batchnorm3d", "BatchNorm3d"),
    LayerSpec(
        "embedding",
        (
            ParamSpec("num_embeddings", positive),
            ParamSpec("embedding_dim", positive),
            ParamSpec("padding_idx", optional(any_int), None),
        ),
        torch_class="Embedding",
        stateful=True,
        doc="a learned vector per integer index: shape -> shape + (embedding_dim,)",
    ),
    _convt("convtranspose1d", "ConvTranspose1d", 1),
    _convt("convtranspose2d", "ConvTranspose2d", 2),
    LayerSpec(
        "upsample",
        (
            ParamSpec("size", optional(int_or_tuple(positive)), None),
            ParamSpec("scale_factor", optional(positive_numbers(3)), None),
            ParamSpec("mode", one_of(*UPSAMPLE_MODES), "nearest"),
            ParamSpec("align_corners", optional(boolean), None),
        ),
        torch_class="Upsample",
        doc="resize the spatial axes to `size`, or by `scale_factor`",
    ),
    LayerSpec(
        "adaptiveavgpool1d",
        (ParamSpec("output_size", positive),),
        torch_class="AdaptiveAvgPool1d",
        doc="average pooling to a fixed number of positions",
    ),
    LayerSpec(
        "adaptiveavgpool2d",
        (ParamSpec("output_size", per_axis(positive, 2)),),
        torch_class="AdaptiveAvgPool2d",
        doc="2-D average pooling to a fixed size",
    ),
    LayerSpec(
        "adaptivemaxpool2d",
        (ParamSpec("output_size", per_axis(positive, 2)),),
        torch_class="AdaptiveMaxPool2d",
        doc="2-D max pooling to a fixed size",
    ),
    LayerSpec(
        "global_avg_pool",
        (),
        doc="mean over the length axis: (batch, channels, length) -> (batch, channels)",
    ),
    LayerSpec(
        "constantpad1d",
        (ParamSpec("padding", per_axis(non_negative, 2)), ParamSpec("value", number)),
        torch_class="ConstantPad1d",
        doc="pad the last axis with a constant: an int or (left, right)",
    ),
    LayerSpec(
        "constantpad2d",
        (ParamSpec("padding", per_axis(non_negative, 4)), ParamSpec("value", number)),
        torch_class="ConstantPad2d",
        doc="pad the last two axes with a constant: an int or (left, right, top, bottom)",
    ),
    LayerSpec(
        "crop",
        (
            ParamSpec("left", optional(non_negative), None),
            ParamSpec("right", optional(non_negative), None),
            ParamSpec("to", optional(positive), None),
        ),
        doc="drop positions at both ends of the last axis: crop(n), crop(left, right), crop(to = T)",
    ),
    LayerSpec("flip", (), varargs="dims", doc="reverse the order along axes: torch.flip"),
    _reduce("mean", "mean over axes (dim an int or a tuple)"),
    _reduce("sum", "sum over axes (dim an int or a tuple)"),
    _reduce("max", "maximum over axes (x.amax; dim an int or a tuple)"),
    LayerSpec(
        "multiheadattention",
        (
            ParamSpec("embed_dim", positive, None),
            ParamSpec("num_heads", positive),
            ParamSpec("dropout", probability, 0.0),
            ParamSpec("bias", boolean, True),
            ParamSpec("add_bias_kv", boolean, False),
            ParamSpec("add_zero_attn", boolean, False),
            ParamSpec("batch_first", boolean, True),
        ),
        torch_class="MultiheadAttention",
        stateful=True,
        size_in="embed_dim",
        size_out="num_heads",
        doc="self-attention on (batch, length, features); needs batch_first",
    ),
    LayerSpec(
        "transformerencoderlayer",
        (
            ParamSpec("d_model", positive, None),
            ParamSpec("nhead", positive),
            ParamSpec("dim_feedforward", positive, 2048),
            ParamSpec("dropout", probability, 0.1),
            ParamSpec("activation", one_of("relu", "gelu"), "relu"),
            ParamSpec("layer_norm_eps", positive_number, 1e-5),
            ParamSpec("batch_first", boolean, True),
            ParamSpec("norm_first", boolean, False),
            ParamSpec("bias", boolean, True),
        ),
        torch_class="TransformerEncoderLayer",
        stateful=True,
        size_in="d_model",
        size_out="nhead",
        doc="a transformer encoder layer on (batch, length, features); needs batch_first",
    ),
)
SPECS.update({spec.name: spec for spec in NEW_SPECS})

# Second batch (layers branch): exp, squeeze, unsqueeze, repeat, more activations with torch
# module classes, and the channel dropouts.
_INPLACE = ParamSpec("inplace", boolean, False)
MORE_SPECS: tuple[LayerSpec, ...] = (
    LayerSpec("exp", (), doc="elementwise exponential: torch.exp"),
    LayerSpec("log", (), doc="elementwise natural logarithm: torch.log"),
    LayerSpec("scale", (ParamSpec("factor", number),), doc="multiply every element by a number: x * factor"),
    LayerSpec("shift", (ParamSpec("offset", number),), doc="add a number to every element: x + offset"),
    LayerSpec("divide", (ParamSpec("divisor", number),), doc="divide every element by a number: x / divisor"),
    LayerSpec(
        "unsqueeze",
        (ParamSpec("dim", any_int),),
        doc="insert an axis of size 1 at dim (a view): x.unsqueeze(dim)",
    ),
    LayerSpec(
        "squeeze",
        (ParamSpec("dim", optional(int_or_tuple(any_int)), None),),
        doc="drop size-1 axes (a view): x.squeeze(dim), or every size-1 axis when bare",
    ),
    LayerSpec(
        "repeat",
        (),
        varargs="sizes",
        doc="tile the tensor: x.repeat(...), one factor per axis (extra ones prepend axes)",
    ),
    _act("selu", "SELU", "scaled exponential linear unit", _INPLACE),
    _act("celu", "CELU", "continuously differentiable ELU", ParamSpec("alpha", number, 1.0), _INPLACE),
    _act("relu6", "ReLU6", "ReLU capped at 6", _INPLACE),
    _act(
        "hardtanh",
        "Hardtanh",
        "tanh's hard version: clamp to [min_val, max_val]",
        ParamSpec("min_val", number, -1.0),
        ParamSpec("max_val", number, 1.0),
        _INPLACE,
    ),
    _act("mish", "Mish", "mish: x * tanh(softplus(x))", _INPLACE),
    _act("softsign", "Softsign", "softsign: x / (1 + |x|)"),
    _act("logsigmoid", "LogSigmoid", "log of the logistic sigmoid"),
    _act("hardswish", "Hardswish", "hard swish (MobileNetV3)", _INPLACE),
    _act("hardsigmoid", "Hardsigmoid", "hard sigmoid", _INPLACE),
    _act(
        "dropout1d",
        "Dropout1d",
        "channel dropout: zeroes whole channels of (batch, channels, length)",
        ParamSpec("p", probability, 0.5),
        _INPLACE,
    ),
    _act(
        "dropout2d",
        "Dropout2d",
        "channel dropout: zeroes whole channels of (batch, channels, height, width)",
        ParamSpec("p", probability, 0.5),
        _INPLACE,
    ),
)
SPECS.update({spec.name: spec for spec in MORE_SPECS})
# The DSL default of batch_first differs from torch's (False): always written out.
ALWAYS_EMITTED: dict[str, frozenset[str]] = {
    "multiheadattention": frozenset({"batch_first"}),
    "transformerencoderlayer": frozenset({"batch_first"}),
}

# ------------------------------------------------------------------ end of added layers

# PyTorch's class names are accepted as spellings of the DSL names.
ALIASES: dict[str, str] = {
    **{spec.torch_class.lower(): spec.name for spec in SPECS.values() if spec.torch_class},
    "globalmaxpool1d": "global_max_pool",
    "global_max_pool1d": "global_max_pool",
    "logsoftmax": "log_softmax",
    "globalavgpool1d": "global_avg_pool",
    "global_avg_pool1d": "global_avg_pool",
    "globalaveragepooling1d": "global_avg_pool",
    "swish": "silu",
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
        ("prelu", "nn.PReLU"),
        ("glu", "nn.GLU"),
        ("threshold", "nn.Threshold"),
        ("instancenorm1d", "nn.InstanceNorm1d"),
        ("instancenorm2d", "nn.InstanceNorm2d"),
        ("localresponsenorm", "nn.LocalResponseNorm"),
        ("conv3d", "nn.Conv3d"),
        ("interpolate", "F.interpolate"),
        ("pixelshuffle", "nn.PixelShuffle"),
        ("maxpool3d", "nn.MaxPool3d"),
        ("avgpool3d", "nn.AvgPool3d"),
        ("lppool1d", "nn.LPPool1d"),
        ("zeropad1d", "nn.ZeroPad1d"),
        ("zeropad2d", "nn.ZeroPad2d"),
        ("reflectionpad1d", "nn.ReflectionPad1d"),
        ("replicationpad1d", "nn.ReplicationPad1d"),
        ("pad", "F.pad"),
        ("unflatten", "nn.Unflatten"),
        ("cat", "torch.cat"),
        ("concat", "torch.cat"),
        ("concatenate", "torch.cat"),
        ("stack", "torch.stack"),
        ("add", "torch.add"),
        ("gru", "nn.GRU"),
        ("rnn", "nn.RNN"),
        ("lstmcell", "nn.LSTMCell"),
        ("grucell", "nn.GRUCell"),
        ("transformer", "nn.Transformer"),
        ("transformerencoder", "nn.TransformerEncoder"),
        ("transformerdecoderlayer", "nn.TransformerDecoderLayer"),
        ("bilinear", "nn.Bilinear"),
        ("alphadropout", "nn.AlphaDropout"),
        ("softmax2d", "nn.Softmax2d"),
    )
}


def unsupported(name: str) -> str | None:
    """The PyTorch spelling of a known layer or operation archc lacks, or None."""
    return UNSUPPORTED.get(name.lower().replace("_", ""))
