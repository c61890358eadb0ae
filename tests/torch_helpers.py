"""Helpers shared by the tests that run modules with torch (imported only by those tests)."""

from __future__ import annotations

from typing import Any


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
