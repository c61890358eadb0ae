"""Helpers shared by the tests and benchmarks that run modules with torch."""

from __future__ import annotations

import types
from typing import Any

from seeds import seed_python


def seed_module(model: str, classes: int = 50) -> Any:
    """Instantiate the seed's own module: test data, executed here, never by archc."""
    namespace = types.ModuleType(f"seed_{model}")
    exec(compile(seed_python(model, classes), f"<seed {model}>", "exec"), namespace.__dict__)
    return namespace.TorchModel()


def randomize(module: Any, torch: Any, seed: int = 7) -> None:
    """Random weights and batchnorm statistics, so eval mode exercises every parameter."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.dtype.is_floating_point:
                values = torch.randn(tensor.shape, generator=gen) * 0.1
                if name.endswith("running_var"):
                    values = values.abs() + 0.5
                tensor.copy_(values)


def _entries(out: Any) -> list[tuple[Any, Any]]:
    if isinstance(out, dict):
        return list(out.items())
    if isinstance(out, tuple):
        return list(enumerate(out))
    return [(None, out)]


def assert_lift_equivalent(
    module: Any, arch_text: str, shapes: list[tuple[int, ...]], torch: Any, tol: float = 1e-6, **build: Any
) -> None:
    """A lifted .arch built at `build` equals the original module: the same state_dict keys and
    shapes, strict loading of the original's random weights, and the same eval outputs (a
    tensor, a tuple or a dict, entry by entry) for one random input per shape, at batch 1 and 5."""
    from archc.api import build_module

    lifted = build_module(arch_text, **build)
    torch.manual_seed(0)
    randomize(module, torch)
    want = module.state_dict()
    assert {k: tuple(v.shape) for k, v in lifted.state_dict().items()} == {
        k: tuple(v.shape) for k, v in want.items()
    }
    lifted.load_state_dict(want, strict=True)
    module.eval()
    lifted.eval()
    for batch in (1, 5):
        gen = torch.Generator().manual_seed(batch)
        inputs = [torch.randn((batch, *shape), generator=gen) for shape in shapes]
        with torch.no_grad():
            expected, actual = module(*inputs), lifted(*inputs)
        assert type(actual) is type(expected)
        got, wanted = _entries(actual), _entries(expected)
        assert [k for k, _ in got] == [k for k, _ in wanted]
        for (_, a), (_, e) in zip(got, wanted, strict=True):
            assert a.shape == e.shape
            assert (a - e).abs().max().item() <= tol
