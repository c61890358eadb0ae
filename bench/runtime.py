"""Generated modules against the seed modules: eval forward and one training step, CPU.

Every variant loads the seed's (random) checkpoint strictly, and its eval output is
compared with the seed's. Timings are paired: each round runs the seed and every
variant once, in a shuffled order, and a variant's ratio is the median over rounds
of its time divided by the seed's time in the same round.
"""

from __future__ import annotations

import random
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from common import EXAMPLES, ROOT, median, paired, spread

sys.path.insert(0, str(ROOT / "tests"))
from seeds import SEED_INPUT, seed_xml
from torch_helpers import randomize, seed_module

BATCH = 100
THREADS = 2


def optimizer_spec(model: str) -> dict[str, str]:
    """The <optimizer> hyperparameters of the seed's seqgra model definition."""
    root = ET.fromstring(seed_xml(model).encode())
    return {h.get("name", ""): (h.text or "").strip() for h in root.iter("hyperparameter")}


def make_optimizer(torch: Any, params: Any, spec: dict[str, str]) -> Any:
    lr = float(spec["learning_rate"])
    if spec["optimizer"] == "Adam":
        return torch.optim.Adam(params, lr=lr)
    if spec["optimizer"] == "SGD":
        return torch.optim.SGD(params, lr=lr, momentum=float(spec.get("momentum", 0)))
    raise ValueError(spec["optimizer"])


def build(model: str, options: Any, state: Any) -> Any:
    from archc.api import build_module

    module = build_module(EXAMPLES / f"{model}.arch", options=options)
    module.load_state_dict(state, strict=True)
    return module


def has_2d(model: str) -> bool:
    return "conv2d" in (EXAMPLES / f"{model}.arch").read_text()


def has_batchnorm(model: str) -> bool:
    return "batchnorm" in (EXAMPLES / f"{model}.arch").read_text()


def eval_variants(torch: Any, model: str, state: Any) -> dict[str, tuple[Any, str]]:
    """name -> (eval module, how it was made). A 1-D model has no channels-last variant:
    its channels-last code is the default code (PyTorch has no such format for 3-D tensors)."""
    from archc.backends.emit_torch import EmitOptions

    out: dict[str, tuple[Any, str]] = {}
    out["default"] = (build(model, EmitOptions(), state).eval(), "archc compile")
    if has_2d(model):
        cl = build(model, EmitOptions("channels_last"), state).to_channels_last().eval()
        out["channels-last"] = (cl, "--memory-format channels_last, to_channels_last()")
    if has_batchnorm(model):
        folded = build(model, EmitOptions(fold_batchnorm=True), state).fold_batchnorm()
        out["bn-folded"] = (folded, "--fold-batchnorm, fold_batchnorm()")
    compiled = torch.compile(build(model, EmitOptions(), state).eval())
    out["compiled"] = (compiled, "torch.compile(default)")
    if has_2d(model) or has_batchnorm(model):
        fast = build(model, EmitOptions("channels_last", True), state)
        fast = fast.to_channels_last().fold_batchnorm()
        how = " + ".join([*(["channels-last"] if has_2d(model) else []), "folded", "torch.compile"])
        out["fast"] = (torch.compile(fast), how)
    return out


def summarize(times: dict[str, list[float]]) -> dict[str, Any]:
    base = times["seed"]
    out = {}
    for name, ts in times.items():
        ratios = [t / b for t, b in zip(ts, base, strict=True)]
        out[name] = {
            "median_s": median(ts),
            "min_s": min(ts),
            "ratio": median(ratios),
            "ratio_spread": spread(ratios),
            # Load on a shared machine only ever adds time: the best runs are the least disturbed.
            "ratio_of_best": min(ts) / min(base),
        }
    return out


def measure_model(
    torch: Any, model: str, eval_rounds: int, train_rounds: int, rng: random.Random, compiled_train: bool
) -> dict[str, Any]:
    from archc.backends.emit_torch import EmitOptions

    seed = seed_module(model)
    randomize(seed, torch, seed=0)
    state = {k: v.clone() for k, v in seed.state_dict().items()}
    seed.eval()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(BATCH, *SEED_INPUT[model], generator=gen)
    result: dict[str, Any] = {"how": {}, "max_abs_diff": {}, "output_scale": 0.0, "warmup_s": {}}

    # ---- eval forward
    variants = eval_variants(torch, model, state)
    with torch.no_grad():
        want = seed(x)
        result["output_scale"] = want.abs().max().item()
        for name, (module, how) in variants.items():
            start = time.perf_counter()
            got = module(x)  # the first call compiles the compiled variants
            result["warmup_s"][name] = time.perf_counter() - start
            result["how"][name] = how
            result["max_abs_diff"][name] = (got - want).abs().max().item()
        fns: dict[str, Callable[[], Any]] = {"seed": lambda: seed(x)}
        for name, (module, _) in variants.items():
            fns[name] = lambda module=module: module(x)
        result["eval"] = summarize(paired(fns, eval_rounds, rng))
    del variants

    # ---- one training step with the seed's optimizer
    spec = optimizer_spec(model)
    result["optimizer"] = {
        k: v for k, v in spec.items() if k in ("optimizer", "learning_rate", "momentum", "clipnorm")
    }
    labels = torch.randint(0, want.shape[1], (BATCH,), generator=gen)
    loss_fn = torch.nn.CrossEntropyLoss()
    modules: dict[str, Any] = {"seed": seed_module(model), "default": build(model, EmitOptions(), state)}
    modules["seed"].load_state_dict(state, strict=True)
    if has_2d(model):
        modules["channels-last"] = build(model, EmitOptions("channels_last"), state).to_channels_last()
    if compiled_train:
        modules["compiled"] = torch.compile(build(model, EmitOptions(), state))
    steps: dict[str, Callable[[], Any]] = {}
    for name, module in modules.items():
        module.train()
        opt = make_optimizer(torch, module.parameters(), spec)
        clip = float(spec["clipnorm"]) if "clipnorm" in spec else None

        def step(module: Any = module, opt: Any = opt, clip: float | None = clip) -> None:
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(module(x), labels)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
            opt.step()

        start = time.perf_counter()
        step()
        result["warmup_s"][f"train {name}"] = time.perf_counter() - start
        steps[name] = step
    result["train"] = summarize(paired(steps, train_rounds, rng))
    return result


def layout_1d(torch: Any, rounds: int, rng: random.Random) -> dict[str, Any]:
    """Is a channels-last-like layout worth it for 1-D convolutions? Each conv layer of
    Basset and DeepSEA with its input contiguous (N, C, L) or strided as (N, L, C)."""
    layers = {
        "basset conv1": (4, 300, 19, 1000),
        "basset conv2": (300, 200, 11, 327),
        "deepsea conv2": (320, 480, 8, 248),
        "deepsea conv3": (480, 960, 8, 60),
    }
    out = {}
    with torch.no_grad():
        for name, (cin, cout, k, length) in layers.items():
            conv = torch.nn.Conv1d(cin, cout, k)
            x = torch.randn(BATCH, cin, length)
            nlc = x.transpose(1, 2).contiguous().transpose(1, 2)
            conv(x), conv(nlc)
            fns = {"seed": lambda c=conv, a=x: c(a), "NLC": lambda c=conv, a=nlc: c(a)}
            times = paired(fns, rounds, rng)
            out[name] = summarize(times)["NLC"]
    return out


def measure(
    models: list[str],
    eval_rounds: dict[str, int],
    train_rounds: dict[str, int],
    compiled_train: set[str],
) -> dict[str, Any]:
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    rng = random.Random(0)
    out: dict[str, Any] = {
        "torch": torch.__version__,
        "threads": THREADS,
        "batch": BATCH,
        "models": {},
    }
    for model in models:
        start = time.perf_counter()
        out["models"][model] = measure_model(
            torch, model, eval_rounds[model], train_rounds[model], rng, model in compiled_train
        )
        out["models"][model]["rounds"] = {"eval": eval_rounds[model], "train": train_rounds[model]}
        out["models"][model]["section_s"] = time.perf_counter() - start
        print(f"  runtime {model}: {out['models'][model]['section_s']:.0f} s", file=sys.stderr, flush=True)
    out["layout_1d"] = layout_1d(torch, 5, rng)
    return out


def markdown(res: dict[str, Any]) -> list[str]:
    out = [
        f"torch {res['torch']}, CPU, `torch.set_num_threads({res['threads']})`, batch {res['batch']}. "
        "x seed = median over rounds of (variant time / seed time in the same round); "
        "below 1 is faster than the seed. Spread = interquartile range of the paired ratios "
        "(min-max for fewer than 4 rounds). best / best = the variant's fastest run over the "
        "seed's fastest run (load from other processes only adds time, so this is the less "
        "disturbed estimate).",
        "",
    ]
    for model, r in res["models"].items():
        scale = r["output_scale"]
        opt = ", ".join(f"{k} {v}" for k, v in r["optimizer"].items())
        out += [
            f"**{model}** (eval rounds {r['rounds']['eval']}, training rounds "
            f"{r['rounds']['train']}; optimizer: {opt})",
            "",
        ]
        out += [
            "| eval forward | how | median s | x seed | spread | best / best | "
            "max abs diff to seed (output scale) |"
        ]
        out.append("|---|---|---:|---:|---:|---:|---:|")
        for name, row in r["eval"].items():
            how = r["how"].get(name, "the seed's own module")
            diff = r["max_abs_diff"].get(name)
            dtext = "—" if diff is None else f"{diff:.1e} ({scale:.1f})"
            lo, hi = row["ratio_spread"]
            out.append(
                f"| {name} | {how} | {row['median_s']:.3f} | **{row['ratio']:.2f}** "
                f"| {lo:.2f}-{hi:.2f} | {row['ratio_of_best']:.2f} | {dtext} |"
            )
        out += [
            "",
            "| training step | median s | x seed | spread | best / best |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in r["train"].items():
            lo, hi = row["ratio_spread"]
            out.append(
                f"| {name} | {row['median_s']:.3f} | **{row['ratio']:.2f}** | {lo:.2f}-{hi:.2f} "
                f"| {row['ratio_of_best']:.2f} |"
            )
        warm = ", ".join(f"{k} {v:.1f}" for k, v in r["warmup_s"].items() if "compiled" in k or "fast" in k)
        out += ["", f"First call (includes torch.compile), s: {warm}.", ""]
    out += [
        "1-D layout check: each Conv1d layer with its input stored (N, L, C) against (N, C, L), "
        "paired; ratio below 1 would favour the strided layout:",
        "",
        "| layer | x contiguous | spread |",
        "|---|---:|---:|",
    ]
    for name, row in res["layout_1d"].items():
        lo, hi = row["ratio_spread"]
        out.append(f"| {name} | {row['ratio']:.2f} | {lo:.2f}-{hi:.2f} |")
    out.append("")
    return out
