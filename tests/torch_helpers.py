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
