"""The graph examples against their hand-written PyTorch references: eval forward and one
training step, CPU.

Each compiled example loads its reference's (random) checkpoint strictly and must give
the reference's eval outputs. Timings are paired and interleaved as in runtime.py: each
round runs the reference and the generated module in random order, and a ratio is the
generated module's time over the reference's in the same round.
"""

from __future__ import annotations

import importlib.util
import random
from typing import Any

from common import EXAMPLES, ROOT, median, paired, spread

REFERENCES = ROOT / "tests" / "fixtures" / "references"
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
BATCH = 8


def reference(model: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"ref_{model}", REFERENCES / f"{model}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _outputs(out: Any) -> tuple[Any, ...]:
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _ratios(times: dict[str, list[float]]) -> dict[str, float]:
    ref, gen = times["reference"], times["generated"]
    ratios = [g / r for g, r in zip(gen, ref, strict=True)]
    return {
        "reference_s": median(ref),
        "generated_s": median(gen),
        "ratio": median(ratios),
        "spread": spread(ratios),
        "ratio_of_best": min(gen) / min(ref),
    }


def measure_model(torch: Any, model: str, rounds: int, rng: random.Random) -> dict[str, Any]:
    import archc

    ref_module = reference(model)
    ref = ref_module.make()
    torch.manual_seed(0)
    for p in ref.parameters():
        p.data.normal_(0, 0.05)
    gen = archc.build_module(str(EXAMPLES / f"{model}.arch"))
    gen.load_state_dict(ref.state_dict(), strict=True)
    inputs = ref_module.example_inputs(BATCH)
    ref.eval()
    gen.eval()
    out: dict[str, Any] = {}
    with torch.no_grad():
        want, got = _outputs(ref(*inputs)), _outputs(gen(*inputs))
        out["max_abs_diff"] = max((a - b).abs().max().item() for a, b in zip(want, got, strict=True))
        out["eval"] = _ratios(
            paired({"reference": lambda: ref(*inputs), "generated": lambda: gen(*inputs)}, rounds, rng)
        )
    steps = {}
    for name, module in (("reference", ref), ("generated", gen)):
        module.train()
        opt = torch.optim.Adam(module.parameters(), lr=1e-4)

        def step(module: Any = module, opt: Any = opt) -> None:
            opt.zero_grad(set_to_none=True)
            loss = sum(o.float().pow(2).mean() for o in _outputs(module(*inputs)))
            loss.backward()
            opt.step()

        step()  # warm-up
        steps[name] = step
    out["train"] = _ratios(paired(steps, max(2, rounds // 2), rng))
    return out


def measure(rounds: int) -> dict[str, Any]:
    import torch

    torch.set_num_threads(2)
    rng = random.Random(0)
    return {"batch": BATCH, "models": {m: measure_model(torch, m, rounds, rng) for m in MODELS}}


def _range(pair: tuple[float, float]) -> str:
    return f"{pair[0]:.2f}-{pair[1]:.2f}"


def markdown(res: dict[str, Any]) -> list[str]:
    lines = [
        f"Batch {res['batch']}; x reference = median over rounds of (generated time / reference "
        "time in the same round); spread = interquartile range of those ratios. Both modules "
        "hold the same checkpoint.",
        "",
        "| model | eval reference s | eval x reference | spread | train step x reference | spread "
        "| max abs diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for model, r in res["models"].items():
        e, t = r["eval"], r["train"]
        lines.append(
            f"| {model} | {e['reference_s']:.4f} | {e['ratio']:.3f} | {_range(e['spread'])} | "
            f"{t['ratio']:.3f} | {_range(t['spread'])} | {r['max_abs_diff']:.1e} |"
        )
    lines.append("")
    return lines


if __name__ == "__main__":
    import json

    print(json.dumps(measure(5), indent=2, default=str))
