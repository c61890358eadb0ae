"""Random architectures against torch at benchmark size (issue 16, item 3).

    python bench/random_arch.py --cases 5000 --seed 1

Prints counts per category and per layer kind, and the first reproducers of each failing
category (shrunk to the smallest program with the same failure); exits 1 if any case is
not `agree`. `run(quick)` and `render(results)` are the section hooks for bench/run.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import randarch  # noqa: E402

FULL_CASES = 5000
QUICK_CASES = 500


def measure(cases: int, seed: int, reproducers: int = 3, shrink: bool = True) -> dict[str, Any]:
    """Run `cases` random architectures; counts, per-kind counts and reproducers."""
    started = time.perf_counter()
    report = randarch.run_cases(cases, seed)
    elapsed = time.perf_counter() - started
    shown: dict[str, list[dict[str, str]]] = {}
    signatures: dict[str, int] = {}
    for case, verdict in report.failures:
        signatures[verdict.signature] = signatures.get(verdict.signature, 0) + 1
        bucket = shown.setdefault(verdict.category, [])
        if len(bucket) >= reproducers or any(r["signature"] == verdict.signature for r in bucket):
            continue
        program, small = randarch.shrink(case.program, verdict) if shrink else (case.program, verdict)
        bucket.append(
            {
                "seed": str(case.seed),
                "signature": verdict.signature,
                "text": randarch.render(program),
                "archc": small.archc,
                "reference": small.reference,
                "detail": small.detail.split("\n")[0],
            }
        )
    return {
        "cases": cases,
        "seed": seed,
        "seconds": elapsed,
        "counts": {c: report.counts.get(c, 0) for c in (*randarch.CATEGORIES, "accepted")},
        "by_kind": {k: dict(v) for k, v in sorted(report.by_kind.items())},
        "signatures": dict(sorted(signatures.items(), key=lambda kv: -kv[1])),
        "reproducers": shown,
    }


def run(quick: bool) -> dict[str, Any]:
    """The bench/run.py section: 500 cases quick, 5,000 otherwise."""
    return measure(QUICK_CASES if quick else FULL_CASES, 1)


def render(res: dict[str, Any]) -> list[str]:
    """Markdown lines of a result."""
    cats = (*randarch.CATEGORIES, "accepted")
    out = [
        f"{res['cases']:,} random architectures (seed {res['seed']}) compiled by archc, run in torch "
        f"and compared with an independent torch reference, in {res['seconds']:.0f} s.",
        "",
        "| " + " | ".join(cats) + " |",
        "|" + "---:|" * len(cats),
        "| " + " | ".join(f"{res['counts'][c]:,}" for c in cats) + " |",
        "",
        "`accepted`: cases archc compiled (the others it rejected with a diagnostic).",
        "",
        "Per layer kind or construct (cases using it):",
        "",
        "| kind | " + " | ".join(cats) + " |",
        "|---|" + "---:|" * len(cats),
    ]
    for kind, counts in res["by_kind"].items():
        out.append(f"| {kind} | " + " | ".join(str(counts.get(c, 0)) for c in cats) + " |")
    out.append("")
    if res["signatures"]:
        out += ["Failures by kind:", "", "| failure | cases |", "|---|---:|"]
        out += [f"| `{sig}` | {n} |" for sig, n in res["signatures"].items()]
        out.append("")
    for category, items in res["reproducers"].items():
        out += [f"**{category}**", ""]
        for item in items:
            out += [
                f"seed {item['seed']} (`{item['signature']}`): {item['detail']}",
                "",
                "```",
                item["text"].rstrip("\n"),
                "```",
                "",
                f"archc: {item['archc'] or '-'}; reference: {item['reference']}",
                "",
            ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=FULL_CASES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reproducers", type=int, default=3, help="shown per failing category")
    parser.add_argument("--no-shrink", action="store_true", help="show reproducers as generated")
    args = parser.parse_args(argv)
    res = measure(args.cases, args.seed, args.reproducers, not args.no_shrink)
    print("\n".join(render(res)))
    return 1 if any(res["counts"][c] for c in randarch.FAILING) else 0


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    sys.exit(main())
