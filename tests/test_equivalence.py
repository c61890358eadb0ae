"""Generated modules are checkpoint-compatible with, and compute the same as, the seed modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from archc.api import build_module, compile_file
from seeds import MODELS, SEED_INPUT
from torch_helpers import randomize, seed_module

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("seed_available")]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize("classes", [50, 2, 10, 20])
@pytest.mark.parametrize("model", MODELS)
def test_checkpoint_loads_and_outputs_match(model: str, classes: int, torch_module: Any) -> None:
    torch = torch_module
    seed = seed_module(model, classes)
    randomize(seed, torch, seed=classes)
    generated = build_module(EXAMPLES / f"{model}.arch", classes=classes)

    seed_state = seed.state_dict()
    gen_state = generated.state_dict()
    assert list(gen_state) == list(gen_state)  # deterministic order
    assert set(gen_state) == set(seed_state)
    assert {k: tuple(v.shape) for k, v in gen_state.items()} == {
        k: tuple(v.shape) for k, v in seed_state.items()
    }
    generated.load_state_dict(seed_state, strict=True)

    seed.eval()
    generated.eval()
    for batch in (1, 7):
        x = torch.randn((batch, *SEED_INPUT[model]), generator=torch.Generator().manual_seed(batch))
        with torch.no_grad():
            want = seed(x)
            got = generated(x)
        assert got.shape == want.shape == (batch, classes)
        assert (got - want).abs().max().item() <= 1e-6


@pytest.mark.parametrize("model", MODELS)
def test_parameter_count_matches_seed(model: str, torch_module: Any) -> None:
    seed = seed_module(model, 50)
    generated = build_module(EXAMPLES / f"{model}.arch")
    assert sum(p.numel() for p in generated.parameters()) == sum(
        p.numel() for p in seed.parameters()
    )


@pytest.mark.parametrize(
    ("model", "length"), [("basset", 500), ("deepsea", 500), ("basset", 2000), ("deepsea", 800)]
)
def test_other_lengths_run(model: str, length: int, torch_module: Any) -> None:
    """Only the explicit sizes pin the length: without them every derived size follows --set."""
    torch = torch_module
    text = (EXAMPLES / f"{model}.arch").read_text()
    # The examples check their seed's magic number; drop it to let archc infer it.
    text = text.replace("linear(3600 -> 1000)", "linear(1000)").replace(
        "linear(53 * 960 -> 925)", "linear(925)"
    )
    module = build_module(text, length=length, classes=3)
    module.eval()
    with torch.no_grad():
        out = module(torch.zeros(2, 4, length))
    assert out.shape == (2, 3)


def test_compile_file_needs_no_torch_import() -> None:
    """The compile path works without torch; checked in a subprocess in test_cli."""
    assert "class TorchModel(nn.Module)" in compile_file(EXAMPLES / "deepsea.arch")
