"""archc's shape rules against torch 2.13 itself, over small exhaustive ranges.

Pool output sizes (ceil_mode, padding, dilation), padding modes, and view compatibility of
permuted, selected and transposed tensors: what torch runs, archc accepts with the same
shape; what torch refuses, archc refuses.
"""

from __future__ import annotations

import itertools
import random

import pytest
from archc.checks.shapes import BATCH, contiguous_strides, pool_output, view_strides
from test_shape_rules import checked_shape

pytestmark = pytest.mark.torch


def _torch_pool(torch, cls, size: int, **kw: object) -> int | None:  # type: ignore[no-untyped-def]
    try:
        return int(cls(**kw)(torch.zeros(1, 1, size)).shape[-1])
    except RuntimeError:
        return None


def test_pool_sizes_agree_with_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    torch = torch_module
    nn = torch.nn
    for size, k, s, p, d, ceil in itertools.product(
        range(1, 9), range(1, 5), range(1, 4), range(3), range(1, 3), (False, True)
    ):
        if 2 * p > k:
            continue  # archc refuses it before sizes (bad-padding), as torch does
        ours = pool_output(size, k, s, p, d, ceil)
        want = _torch_pool(
            torch, nn.MaxPool1d, size, kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil
        )
        assert (ours if ours >= 1 else None) == want, (size, k, s, p, d, ceil)
        if d == 1:
            want = _torch_pool(torch, nn.AvgPool1d, size, kernel_size=k, stride=s, padding=p, ceil_mode=ceil)
            assert (ours if ours >= 1 else None) == want, ("avg", size, k, s, p, ceil)


def test_pool_steps_agree_with_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    """The whole rule (errors included) through the checker, for maxpool1d and avgpool1d."""
    torch = torch_module
    for kind, size, k, s, p, ceil in itertools.product(
        ("maxpool1d", "avgpool1d"), range(1, 7), range(1, 5), range(1, 4), range(3), (False, True)
    ):
        step = f"{kind}({k}, stride = {s}, padding = {p}, ceil_mode = {str(ceil).lower()})"
        shape, codes = checked_shape(step, [2, size])
        cls = torch.nn.MaxPool1d if kind == "maxpool1d" else torch.nn.AvgPool1d
        try:
            want = tuple(cls(k, stride=s, padding=p, ceil_mode=ceil)(torch.zeros(3, 2, size)).shape)
        except RuntimeError:
            want = None
        got = None if shape is None else tuple(3 if n is None else n for n in shape)
        assert got == want, (step, size, codes)


def test_padding_modes_agree_with_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    torch = torch_module
    for mode, size, k, pad, dil in itertools.product(
        ("zeros", "reflect", "replicate", "circular"),
        range(1, 5),
        range(1, 6),
        (0, 1, 2, 3, '"same"'),
        (1, 2),
    ):
        step = f'conv1d(3, {k}, padding = {pad}, dilation = {dil}, padding_mode = "{mode}")'
        shape, codes = checked_shape(step, [2, size])
        padding = "same" if pad == '"same"' else pad
        try:
            conv = torch.nn.Conv1d(2, 3, k, padding=padding, dilation=dil, padding_mode=mode)
            with torch.no_grad():
                want = tuple(conv(torch.zeros(3, 2, size)).shape)
        except RuntimeError:
            want = None
        got = None if shape is None else tuple(3 if n is None else n for n in shape)
        assert got == want, (step, size, codes)


def _sizes_with(batch: int, sizes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(batch if n == BATCH else n for n in sizes)


def test_view_compatibility_agrees_with_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    """torch's computeStride, on random permuted and selected tensors and random views."""
    torch = torch_module
    rng = random.Random(16)
    batch = 5
    checked = 0
    for _ in range(3000):
        rank = rng.randint(1, 4)
        sizes = [rng.choice((1, 2, 3, 4, 6)) for _ in range(rank)]
        sizes[0] = BATCH
        base_sizes = tuple(sizes)
        order = list(range(rank))
        rng.shuffle(order)
        strides = contiguous_strides(base_sizes)
        cur_sizes = tuple(base_sizes[i] for i in order)
        cur_strides = tuple(strides[i] for i in order)
        x = torch.zeros(_sizes_with(batch, base_sizes)).permute(*order)
        if rank > 1 and rng.random() < 0.3:
            axis = rng.randrange(rank)
            if cur_sizes[axis] != BATCH:
                x = x.select(axis, 0)
                cur_sizes = cur_sizes[:axis] + cur_sizes[axis + 1 :]
                cur_strides = cur_strides[:axis] + cur_strides[axis + 1 :]
        # A random regrouping of the sizes, in order, the batch kept whole.
        flat = [n for n in cur_sizes]
        new: list[int] = []
        for n in flat:
            if new and n != BATCH and new[-1] != BATCH and rng.random() < 0.5:
                new[-1] *= n
            elif n in (4, 6) and rng.random() < 0.4:
                new.extend((2, n // 2))
            else:
                new.append(n)
        ours = view_strides(cur_sizes, cur_strides, tuple(new))
        try:
            y = x.view(_sizes_with(batch, tuple(new)))
            theirs: tuple[int, ...] | None = tuple(y.stride())
        except RuntimeError:
            theirs = None
        if ours is None or theirs is None:
            assert ours == theirs, (cur_sizes, cur_strides, new)
        else:
            # Strides of size-1 axes are arbitrary; compare the others.
            concrete = tuple(
                s if s % BATCH else s // BATCH * batch for s in ours
            )  # a stride holding the batch size once
            for n, a, b in zip(new, concrete, theirs, strict=True):
                if n != 1:
                    assert a == b, (cur_sizes, cur_strides, new, ours, theirs)
        checked += 1
    assert checked == 3000


# The golden cases archc refuses with view-stride, written by hand in torch: each raises.
VIEW_FAILURES = [
    ((3, 8, 37), lambda x: x.permute(0, 2, 1).view(3, 296)),
    ((3, 2, 4, 37), lambda x: x.permute(0, 2, 3, 1).view(3, 4, 74)),
]


def test_view_stride_errors_fail_in_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    torch = torch_module
    lstm = torch.nn.LSTM(4, 32, batch_first=True)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        lstm(torch.zeros(3, 150, 4))[0].view(3, -1)
    for sizes, fn in VIEW_FAILURES:
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            fn(torch.zeros(sizes))
    assert checked_shape("permute(0, 2, 1) | view(batch, 296)", [8, 37])[1] == ["view-stride"]
    assert checked_shape("lstm(32, batch_first = true) | view(batch, -1)", [150, 4])[1] == [
        "view-stride"
    ]


def test_channels_last_detection_agrees_with_torch(torch_module) -> None:  # type: ignore[no-untyped-def]
    """A 2-D convolution returns channels-last exactly when archc predicts it."""
    from archc.checks.shapes import Layout, channels_last_strides, next_layout
    from archc.ir.nodes import Dim

    torch = torch_module
    from archc.core.source import Span
    from archc.ir.nodes import Layer

    rng = random.Random(4)
    conv = torch.nn.Conv2d(3, 2, 1)
    for _ in range(400):
        sizes = [BATCH, 3, rng.choice((1, 2, 5)), rng.choice((1, 3, 4))]
        order = [0, 1, 2, 3]
        rng.shuffle(order)
        base = tuple(sizes[i] for i in order)
        inverse = [order.index(i) for i in range(4)]
        x = torch.zeros(_sizes_with(2, base)).permute(*inverse)
        strides = tuple(contiguous_strides(base)[i] for i in inverse)
        shape = tuple(Dim(None if n == BATCH else n, "x") for n in sizes)
        layer = Layer("conv2d", (), Span(0, 0))
        out = next_layout(layer, shape, (*shape[:1], Dim(2, "x"), *shape[2:]), Layout(strides), Span(0, 0))
        got = conv(x)
        ours_cl = out.strides == channels_last_strides(_sizes_with(BATCH, (BATCH, 2, sizes[2], sizes[3])))
        theirs = tuple(got.stride())
        expect_cl = theirs == channels_last_strides((2, 2, sizes[2], sizes[3]))
        contiguous = theirs == contiguous_strides((2, 2, sizes[2], sizes[3]))
        if expect_cl and contiguous:
            continue  # size-1 axes: both descriptions fit
        assert ours_cl == expect_cl, (sizes, order, strides, theirs)


POOLS_1D = ("avgpool1d(2)", "adaptiveavgpool1d(2)", "adaptivemaxpool1d(2)", "maxpool1d(2)")
LAYOUTS = {
    # What precedes the pool, and the input axes it needs.
    "contiguous": ("(batch, channels, length)", ""),
    "transposed": ("(batch, length, channels)", "permute(0, 2, 1) | "),
    "lstm output": ("(batch, length, channels)", "lstm1 = lstm(4, batch_first = true) | "),
}


@pytest.mark.parametrize("pool", POOLS_1D)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_1d_pool_output_layout_agrees_with_torch(pool: str, layout: str, torch_module) -> None:  # type: ignore[no-untyped-def]
    """A view after a 1-D pool: archc refuses it exactly when torch does (torch runs these
    pools as 2-D ones, so their output follows the channels-last rule, not the input's order)."""
    import archc
    from archc.api import ArchError

    axes, before = LAYOUTS[layout]
    source = (
        f"arch p(classes = 2, length = 6, alphabet = 3) {{\n  input {axes}\n"
        f"  {before}{pool} | view(batch, -1)\n}}\n"
    )
    try:
        module = archc.build_module(source).eval()
        archc_ok = True
    except ArchError as err:
        assert "view-stride" in str(err), str(err)
        archc_ok = False
    shape = (2, 3, 6) if layout == "contiguous" else (2, 6, 3)
    torch = torch_module
    if archc_ok:
        with torch.no_grad():
            module(torch.randn(*shape))  # raises if torch refuses the view
        return
    # archc refused: the same steps in torch must refuse the view too.
    x = torch.randn(*shape)
    if layout == "transposed":
        x = x.permute(0, 2, 1)
    elif layout == "lstm output":
        x, _ = torch.nn.LSTM(3, 4, batch_first=True)(x)
    name, _, arg = pool.partition("(")
    fn = {"avgpool1d": torch.nn.functional.avg_pool1d, "adaptiveavgpool1d": torch.nn.functional.adaptive_avg_pool1d,
          "adaptivemaxpool1d": torch.nn.functional.adaptive_max_pool1d, "maxpool1d": torch.nn.functional.max_pool1d}[name]
    y = fn(x, int(arg.rstrip(")")))
    with pytest.raises(RuntimeError):
        y.view(2, -1)
