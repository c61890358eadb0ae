"""archc benchmarks: one command, every number in BENCHMARKS.md.

    python bench/run.py              # everything (under 10 minutes on 2 cores)
    python bench/run.py --quick      # fewer rounds, for checking the harness
    python bench/run.py --extended   # more rounds, and compiled training steps
    python bench/run.py --only cli,stages

Results go to bench/results/<UTC time>.json and .md (and latest.md); copy the
Markdown into BENCHMARKS.md. Timing is never asserted anywhere: the machine is
shared and noisy, so every comparison here is paired and interleaved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cli_timing  # noqa: E402
import common  # noqa: E402
import limits  # noqa: E402
import scaling  # noqa: E402
import stages  # noqa: E402

SECTIONS = ("cli", "stages", "scaling", "limits", "random", "runtime", "references", "lsp", "lengths")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds (numbers are rougher)")
    parser.add_argument(
        "--extended",
        action="store_true",
        help="more runtime rounds, and compiled training steps (about 25 minutes)",
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--out", default=str(HERE / "results"), help="directory for the results")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    q = args.quick
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": common.machine(),
        "command": " ".join(["python bench/run.py", *(argv or sys.argv[1:])]),
    }
    md: list[str] = []

    def section(name: str, title: str, fn: Any, render: Any) -> None:
        t0 = time.perf_counter()
        print(f"[{name}] ...", file=sys.stderr, flush=True)
        res = fn()
        res["section_s"] = time.perf_counter() - t0
        results[name] = res
        md.extend([f"## {title}", "", *render(res), f"_Section time: {res['section_s']:.0f} s._", ""])
        print(f"[{name}] {res['section_s']:.0f} s", file=sys.stderr, flush=True)

    if "cli" in only:
        section(
            "cli",
            "Command-line wall time and peak memory",
            lambda: cli_timing.measure(3 if q else 6),
            cli_timing.markdown,
        )
    if "stages" in only:
        section(
            "stages", "Compiler stages in-process", lambda: stages.measure(5 if q else 12), stages.markdown
        )
    if "scaling" in only:
        sizes = [10, 100, 1000] if q else [10, 100, 1000, 10_000]
        section(
            "scaling",
            "Scaling with the number of layers",
            lambda: scaling.measure(sizes, 2 if q else 3),
            scaling.markdown,
        )
    if "limits" in only:
        sizes = [25_000, 50_000, 100_000] if q else [25_000, 50_000, 100_000, 199_900]
        section("limits", "Bounded work: up to the layer limit, and hostile inputs",
                lambda: limits.measure(sizes), limits.markdown)
    if "random" in only:
        import random_arch

        section(
            "random",
            "Random architectures against torch",
            lambda: random_arch.run(quick=q),
            random_arch.render,
        )
    if "runtime" in only:
        import runtime

        models = list(common.MODELS)
        if q:
            evals, trains = dict.fromkeys(models, 2), dict.fromkeys(models, 1)
        elif args.extended:
            evals, trains = dict.fromkeys(models, 7), dict.fromkeys(models, 4)
        else:
            # ChromDragoNN costs ~10x the others per step at batch 100: fewer rounds.
            evals = {"basset": 5, "deepsea": 5, "chromdragonn": 3}
            trains = {"basset": 3, "deepsea": 3, "chromdragonn": 1}
        # Compiling a backward pass takes up to minutes on 2 cores: only with --extended.
        compiled_train = set(models) if args.extended else set()
        section(
            "runtime",
            "Generated modules against the seed modules",
            lambda: runtime.measure(models, evals, trains, compiled_train),
            runtime.markdown,
        )

    if "references" in only:
        import references

        section(
            "references",
            "Graph examples against their hand-written references",
            lambda: references.measure(3 if q else 15),
            references.markdown,
        )

    if "lsp" in only:
        import lsp_latency

        section(
            "lsp",
            "Language server: re-check after a keystroke",
            lambda: lsp_latency.measure(20 if q else 60),
            lsp_latency.markdown,
        )

    if "lengths" in only:
        import lengths_timing

        section(
            "lengths",
            "Exact length analysis against checking every length",
            lambda: lengths_timing.measure(3 if q else 7, 2000 if q else 20000),
            lengths_timing.markdown,
        )

    total = time.perf_counter() - started
    results["total_s"] = total
    results["machine"]["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    head = ["# archc benchmark results", "", f"Command: `{results['command']}`; total {total:.0f} s.", ""]
    head += ["| machine | |", "|---|---|", *[f"| {k} | {v} |" for k, v in results["machine"].items()], ""]
    text = "\n".join(head + md) + "\n"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    (out / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / f"{stamp}.md").write_text(text)
    (out / "latest.md").write_text(text)
    print(text)
    print(f"total {total:.0f} s; wrote {out / (stamp + '.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
