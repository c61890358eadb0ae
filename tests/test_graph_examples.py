"""The graph examples are checkpoint-compatible with, and compute the same as, hand-written references."""

from __future__ import annotations

import importlib.util
import io
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from archc.api import build_module
from archc.cli import main

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
REFERENCES = Path(__file__).resolve().parent / "fixtures" / "references"
MODELS = (
    "bpnet",
    "basenji2",
    "deepstarr",
    "resnet1d",
    "rc_siamese",
    "inception",
    "enformer_small",
    "scbasset",
)


CASES = list(MODELS)


def reference(model: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"reference_{model}", REFERENCES / f"{model}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nonblank(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def as_tuple(out: Any) -> tuple[Any, ...]:
    return out if isinstance(out, tuple) else (out,)


def check_equal(model: str, torch: Any) -> None:
    ref_module = reference(model)
    torch.manual_seed(0)
    ref = ref_module.make()
    generated = build_module(EXAMPLES / f"{model}.arch")
    # Non-trivial batchnorm statistics, so that eval mode is really compared.
    with torch.no_grad():
        for name, buf in ref.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_(0, 0.1)
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 1.5)

    ref_state = ref.state_dict()
    gen_state = generated.state_dict()
    assert set(gen_state) == set(ref_state)
    assert {k: tuple(v.shape) for k, v in gen_state.items()} == {
        k: tuple(v.shape) for k, v in ref_state.items()
    }
    generated.load_state_dict(ref_state, strict=True)

    ref.eval()
    generated.eval()
    for batch in (1, 7):
        inputs = ref_module.example_inputs(batch)
        with torch.no_grad():
            want = as_tuple(ref(*inputs))
            got = as_tuple(generated(*inputs))
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape
            assert (g - w).abs().max().item() <= 1e-5


@pytest.mark.parametrize("model", CASES)
def test_checkpoint_loads_and_outputs_match(model: str, torch_module: Any) -> None:
    check_equal(model, torch_module)


@pytest.mark.parametrize("model", MODELS)
def test_lint_has_no_errors(model: str) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["lint", str(EXAMPLES / f"{model}.arch")])
    assert code == 0, out.getvalue()
    assert "error[" not in out.getvalue()


@pytest.mark.parametrize("model", MODELS)
def test_arch_is_at_most_half_the_reference(model: str) -> None:
    arch, ref = nonblank(EXAMPLES / f"{model}.arch"), nonblank(REFERENCES / f"{model}.py")
    assert 2 * arch <= ref, f"{model}.arch has {arch} non-blank lines, the reference {ref}"


@pytest.mark.parametrize("model", MODELS)
def test_emit_options_keep_the_outputs(model: str, torch_module: Any) -> None:
    """--memory-format channels_last and --fold-batchnorm on graphs: the same eval outputs."""
    from archc.backends.emit_torch import EmitOptions

    torch = torch_module
    ref_module = reference(model)
    torch.manual_seed(0)
    ref = ref_module.make().eval()
    inputs = ref_module.example_inputs(2)
    with torch.no_grad():
        want = as_tuple(ref(*inputs))
    for options in (EmitOptions("channels_last"), EmitOptions(fold_batchnorm=True)):
        generated = build_module(EXAMPLES / f"{model}.arch", options=options)
        generated.load_state_dict(ref.state_dict(), strict=True)
        generated.eval()
        if options.fold_batchnorm:
            generated.fold_batchnorm()
        with torch.no_grad():
            got = as_tuple(generated(*inputs))
        for g, w in zip(got, want, strict=True):
            assert (g - w).abs().max().item() <= 1e-5, options
