"""`archc lsp`: how long a re-check after one keystroke takes, per example.

Each edit is one keystroke in a number of the example: a digit inserted after the first
digit, or the last digit deleted. Every edited text is new to the server, so each is a
real re-check, never a cache hit. Two measurements:

* in-process: `Checker.update` plus the conversion to LSP diagnostics, which is all the
  server does on `didChange` before it writes the notification;
* round trip: a real server process over stdio, from sending `didChange` to receiving
  its `publishDiagnostics` (JSON-RPC both ways included), one edit at a time.

The goal (issue 15) is at most 30 ms per re-check for every example.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import EXAMPLES, median

GOAL_MS = 30.0
_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])[0-9]+(?![A-Za-z_0-9.])")


def edits(text: str, limit: int) -> list[str]:
    """Texts one keystroke away from `text`: a digit typed into, or deleted from, a number
    (numbers in comments included: a keystroke there costs a re-check too)."""
    out: list[str] = []
    for match in _NUMBER.finditer(text):
        start, end = match.span()
        out.append(text[: start + 1] + "1" + text[start + 1 :])  # 19 -> 119
        out.append(text[: end - 1] + text[end:])  # 19 -> 1 (a one-digit number vanishes)
    # Spread over the whole file, not only its first lines.
    step = max(1, len(out) // limit)
    return list(dict.fromkeys(out[::step]))[:limit]


def p95(xs: Sequence[float]) -> float:
    if len(xs) < 2:
        return xs[0]
    return statistics.quantiles(xs, n=20, method="inclusive")[-1]


def in_process(path: Path, limit: int) -> dict[str, Any]:
    from archc.lsp.server import Checker

    text = path.read_text(encoding="utf-8")
    uri = path.resolve().as_uri()
    checker = Checker()
    checker.diagnostics(checker.update(uri, 0, text))  # opening the file: not timed
    times, short, other = [], [], []
    texts = edits(text, limit)
    for version, edited in enumerate(texts, 1):
        start = time.perf_counter()
        diags = checker.diagnostics(checker.update(uri, version, edited))
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        # An input made too short also runs the driver's search for the shortest length
        # that works (the too-short help): counted apart, it is most of the slow edits.
        (short if any(d.code == "too-short" for d in diags) else other).append(elapsed)
    start = time.perf_counter()
    checker.diagnostics(checker.update(uri, len(texts) + 1, texts[-2]))  # undo: a cache hit
    cached = time.perf_counter() - start
    return {
        "edits": len(times),
        "median_s": median(times),
        "p95_s": p95(times),
        "max_s": max(times),
        "too_short_edits": len(short),
        "too_short_median_s": median(short) if short else None,
        "other_p95_s": p95(other) if other else None,
        "cached_s": cached,
    }


async def _round_trips(paths: list[Path], limit: int) -> dict[str, list[float]]:
    from lsprotocol import types as lsp
    from pygls.lsp.client import LanguageClient

    client = LanguageClient("archc-bench", "1")
    got: dict[str, asyncio.Future[None]] = {}

    @client.feature(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
    def published(params: lsp.PublishDiagnosticsParams) -> None:
        future = got.pop(f"{params.uri}@{params.version}", None)
        if future is not None and not future.done():
            future.set_result(None)

    await client.start_io(sys.executable, "-m", "archc", "lsp")
    await client.initialize_async(lsp.InitializeParams(capabilities=lsp.ClientCapabilities()))
    client.initialized(lsp.InitializedParams())
    loop = asyncio.get_running_loop()
    out: dict[str, list[float]] = {}
    for path in paths:
        text = path.read_text(encoding="utf-8")
        uri = path.resolve().as_uri()

        async def send(version: int, body: str, *, opening: bool = False, uri: str = uri) -> float:
            future: asyncio.Future[None] = loop.create_future()
            got[f"{uri}@{version}"] = future
            start = time.perf_counter()
            if opening:
                client.text_document_did_open(
                    lsp.DidOpenTextDocumentParams(lsp.TextDocumentItem(uri, "archc", version, body))
                )
            else:
                client.text_document_did_change(
                    lsp.DidChangeTextDocumentParams(
                        lsp.VersionedTextDocumentIdentifier(version=version, uri=uri),
                        [lsp.TextDocumentContentChangeWholeDocument(text=body)],
                    )
                )
            await asyncio.wait_for(future, 60)
            return time.perf_counter() - start

        await send(0, text, opening=True)
        out[path.name] = [await send(v, body) for v, body in enumerate(edits(text, limit), 1)]
        client.text_document_did_close(lsp.DidCloseTextDocumentParams(lsp.TextDocumentIdentifier(uri)))
    await client.shutdown_async(None)
    client.exit(None)
    return out


def measure(limit: int) -> dict[str, Any]:
    paths = sorted(EXAMPLES.glob("*.arch"))
    rows: dict[str, Any] = {p.name: in_process(p, limit) for p in paths}
    trips = asyncio.run(_round_trips(paths, limit))
    for name, times in trips.items():
        rows[name]["trip_median_s"] = median(times)
        rows[name]["trip_p95_s"] = p95(times)
    worst = max(r["p95_s"] for r in rows.values())
    worst_trip = max(r["trip_p95_s"] for r in rows.values())
    return {"examples": rows, "worst_p95_s": worst, "worst_trip_p95_s": worst_trip, "goal_ms": GOAL_MS}


def markdown(res: dict[str, Any]) -> list[str]:
    def ms(x: float) -> str:
        return f"{x * 1000:.1f}"

    lines = [
        "Re-check after one keystroke in a number (a digit typed or deleted; every edited text",
        "is new to the server). In-process: what the server does on `didChange` before it",
        "sends the diagnostics. Round trip: `didChange` sent to `publishDiagnostics` received,",
        "through a real `archc lsp` process over stdio. Goal: 30 ms.",
        "",
        "Edits that make the input too short also run the driver's search for the shortest",
        "length that works (the `too-short` help): they are counted apart.",
        "",
        "| example | edits | median ms | p95 ms | max ms | too-short edits: n, median ms | others: p95 ms "
        "| round trip median ms | round trip p95 ms | undo (cached) ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def opt(x: float | None) -> str:
        return "-" if x is None else ms(x)

    for name, r in res["examples"].items():
        lines.append(
            f"| {name} | {r['edits']} | {ms(r['median_s'])} | {ms(r['p95_s'])} | {ms(r['max_s'])} | "
            f"{r['too_short_edits']}, {opt(r['too_short_median_s'])} | {opt(r['other_p95_s'])} | "
            f"{ms(r['trip_median_s'])} | {ms(r['trip_p95_s'])} | {ms(r['cached_s'])} |"
        )
    verdict = "within" if res["worst_trip_p95_s"] * 1000 <= GOAL_MS else "over"
    lines += [
        "",
        f"Worst p95: {ms(res['worst_p95_s'])} ms in-process, {ms(res['worst_trip_p95_s'])} ms round trip "
        f"({verdict} the {GOAL_MS:.0f} ms goal).",
        "",
    ]
    return lines
