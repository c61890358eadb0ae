"""`archc lsp` driven by a real LSP client (pytest-lsp) over the server process's stdio.

One server process serves the whole module; every test opens documents of its own
(distinct URIs), so the tests do not depend on each other's state. Expected values come
from the source texts below and from `archc lint --format json` on the same files, never
from the server itself.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pygls", reason="the lsp extra (pygls) is not installed")
pytest_lsp = pytest.importorskip("pytest_lsp", reason="pytest-lsp is not installed")

from lsprotocol import types as lsp  # noqa: E402
from pytest_lsp import ClientServerConfig, LanguageClient  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.arch"))
TIMEOUT = 60  # seconds for one answer: generous, the machine is shared

BAD = """\
arch bad(classes = 2, length = 100, alphabet = 4) {
  conv = conv1d(16, 5)
  relu
  flatten
  fc = linear(999 -> classes)
}
"""

WARN = """\
arch warn(classes = 2, length = 101, alphabet = 4) {
  conv = conv1d(16, 5) | relu
  maxpool1d(3)
  maxpool1d(4)
  flatten
  fc = linear(classes)
}
"""

GRAPH = """\
block Trunk(filters) {
  c = conv1d(filters, 3, padding = 1) | relu
}

arch twin(outputs = 1, length = 100, alphabet = 4, filters = 8) {
  fwd := conv1 = conv1d(filters, 5) | relu | trunk = Trunk(filters) | global_max_pool | fc = linear(outputs)
  rev := x | flip(1, 2) | conv1 | relu | trunk | global_max_pool | fc
  mean(fwd, rev) | sigmoid
}
"""


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "archc", "lsp"]),
)
async def client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    params = lsp.InitializeParams(capabilities=pytest_lsp.client_capabilities("visual-studio-code"))
    await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "archc", "lsp"]),
)
async def utf8_client(lsp_client: LanguageClient):  # type: ignore[no-untyped-def]
    # A client that counts columns in UTF-8 bytes (LSP 3.17 position encodings).
    params = lsp.InitializeParams(
        capabilities=lsp.ClientCapabilities(
            general=lsp.GeneralClientCapabilities(position_encodings=[lsp.PositionEncodingKind.Utf8])
        )
    )
    result = await lsp_client.initialize_session(params)
    assert result.capabilities.position_encoding == lsp.PositionEncodingKind.Utf8
    yield
    await lsp_client.shutdown_session()


pytestmark = pytest.mark.asyncio(loop_scope="module")

_opened: dict[str, int] = {}


async def _diagnostics(client: LanguageClient, uri: str) -> list[lsp.Diagnostic]:
    while uri not in client.diagnostics:
        await asyncio.wait_for(client.wait_for_notification(lsp.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS), TIMEOUT)
    return list(client.diagnostics.pop(uri))


async def open_doc(client: LanguageClient, name: str, text: str) -> tuple[str, list[lsp.Diagnostic]]:
    """Open a document under a fresh URI and wait for its diagnostics."""
    count = _opened[name] = _opened.get(name, 0) + 1
    uri = f"file:///work/doc{count}/{name}"
    client.diagnostics.pop(uri, None)
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            lsp.TextDocumentItem(uri=uri, language_id="archc", version=1, text=text)
        )
    )
    return uri, await _diagnostics(client, uri)


async def change_doc(client: LanguageClient, uri: str, version: int, text: str) -> list[lsp.Diagnostic]:
    client.diagnostics.pop(uri, None)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
            [lsp.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    return await _diagnostics(client, uri)


def at(text: str, needle: str, skip: int = 0) -> lsp.Position:
    """The position of the start of `needle` in `text` (its `skip`+1-th occurrence)."""
    offset = -1
    for _ in range(skip + 1):
        offset = text.index(needle, offset + 1)
    line = text.count("\n", 0, offset)
    return lsp.Position(line, offset - (text.rfind("\n", 0, offset) + 1))


def lint_json(path: Path) -> list[dict[str, object]]:
    got = subprocess.run(
        [sys.executable, "-m", "archc", "lint", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )
    data: list[dict[str, object]] = json.loads(got.stdout)
    return data


# ------------------------------------------------------------------ diagnostics


async def test_a_shape_error_has_its_code_range_and_secondary_label(client: LanguageClient) -> None:
    uri, diags = await open_doc(client, "bad.arch", BAD)
    (diag,) = diags
    assert diag.code == "shape-mismatch"
    assert diag.severity == lsp.DiagnosticSeverity.Error
    assert diag.source == "archc"
    # `999` on line 5 (0-based 4), columns 14..17.
    assert diag.range == lsp.Range(at(BAD, "999"), lsp.Position(4, 17))
    assert "expects 999 input features, but its input has 1536" in diag.message
    assert "help: write 1536" in diag.message
    (related,) = diag.related_information or []
    assert related.message == "16 channels set here"
    assert related.location.uri == uri
    assert related.location.range.start == at(BAD, "conv = conv1d")


async def test_a_clean_file_has_no_diagnostics(client: LanguageClient) -> None:
    _, diags = await open_doc(client, "clean.arch", WARN.replace("length = 101", "length = 100"))
    assert diags == []


async def test_an_allow_comment_suppresses_the_warning_as_lint_does(client: LanguageClient) -> None:
    _, diags = await open_doc(client, "warn.arch", WARN)
    assert [(d.code, d.range.start.line, d.severity) for d in diags] == [
        ("pool-drops", 2, lsp.DiagnosticSeverity.Warning)
    ]
    allowed = WARN.replace("maxpool1d(3)\n", "maxpool1d(3)  # archc: allow(pool-drops)\n")
    _, diags = await open_doc(client, "warn_allowed.arch", allowed)
    assert diags == []
    # The same comment where nothing is dropped matches nothing, and says so.
    stale = allowed.replace("length = 101", "length = 100")
    _, diags = await open_doc(client, "warn_stale.arch", stale)
    assert [(d.code, d.range.start) for d in diags] == [("unused-allow", at(stale, "pool-drops"))]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
async def test_every_example_gets_the_diagnostics_of_lint(client: LanguageClient, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    _, diags = await open_doc(client, path.name, text)
    severities = {lsp.DiagnosticSeverity.Error: "error", lsp.DiagnosticSeverity.Warning: "warning"}
    got = [
        (
            d.code,
            severities[d.severity] if d.severity else None,
            d.range.start.line + 1,
            d.range.start.character + 1,
            d.range.end.line + 1,
            d.range.end.character + 1,
            d.message.splitlines()[0],
        )
        for d in diags
    ]
    want = [
        (d["code"], d["severity"], d["line"], d["column"], d["end_line"], d["end_column"], d["message"])
        for d in lint_json(path)
    ]
    assert sorted(got) == sorted(want)  # type: ignore[type-var]
    if path.name in ("basset.arch", "chromdragonn.arch"):
        assert want  # they have warnings: not a comparison of two empty lists


async def test_diagnostics_follow_edits(client: LanguageClient) -> None:
    uri, diags = await open_doc(client, "edit.arch", BAD)
    assert [d.code for d in diags] == ["shape-mismatch"]
    assert await change_doc(client, uri, 2, BAD.replace("999 -> classes", "classes")) == []
    # Back to the first text: the cached result, published again.
    assert [d.code for d in await change_doc(client, uri, 3, BAD)] == ["shape-mismatch"]


HUGE_LINE = "arch a(classes = 2) {" + " relu |" * 20000 + " relu\n"


async def test_a_burst_of_edits_ends_with_the_diagnostics_of_the_last(client: LanguageClient) -> None:
    uri, diags = await open_doc(client, "burst.arch", BAD)
    assert [d.code for d in diags] == ["shape-mismatch"]
    for version, size in enumerate(("9999", "99", "15", "153"), 2):
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [lsp.TextDocumentContentChangeWholeDocument(text=BAD.replace("999", size))],
            )
        )
    # The last text is right (16 channels x 96 positions = 1536).
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            lsp.VersionedTextDocumentIdentifier(uri=uri, version=6),
            [
                lsp.TextDocumentContentChangeWholeDocument(
                    text=BAD.replace("999 -> classes", "1536 -> classes")
                )
            ],
        )
    )
    # Each text but the last has a shape error: wait until the last one's diagnostics
    # arrive (polling the client's store: two notifications may arrive back to back).
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while [d.code for d in client.diagnostics.get(uri, [])] != ["length-pinned"]:
        assert asyncio.get_running_loop().time() < deadline, client.diagnostics.get(uri)
        await asyncio.sleep(0.01)
    # The server publishes in order: a stale publication would replace it (half a second
    # gives one time to arrive; it cannot make the test fail when the server is right).
    await asyncio.sleep(0.5)
    assert [d.code for d in client.diagnostics[uri]] == ["length-pinned"]


@pytest.mark.parametrize(
    ("name", "text", "code"),
    [
        ("huge_line.arch", HUGE_LINE, "syntax"),
        ("binary.arch", "\x00\x01\x02\xff\ufffd\x7f arch \x1b[31m {{{ \U0001f600", "syntax"),
        (
            "unterminated.arch",
            "arch a(classes = 2, length = 10, alphabet = 4) {\n  seq { relu | seq {\n",
            "syntax",
        ),
        ("empty.arch", "", "empty"),
        ("deep.arch", "arch a(c = 1) {" + "seq { " * 300 + "relu" + " }" * 300 + "}", "too-deep"),
        ("too_large.arch", "# a comment\n" * 50_000, "too-large"),
    ],
)
async def test_garbage_gives_diagnostics_not_a_crash(
    client: LanguageClient, tmp_path: Path, name: str, text: str, code: str
) -> None:
    _, diags = await open_doc(client, name, text)
    got = [(d.code, d.severity, d.range.start.line + 1, d.range.start.character + 1) for d in diags]
    # Where `archc lint` puts it (these texts are ASCII but for the last character of one,
    # so its columns are the server's).
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    want = [(d["code"], lsp.DiagnosticSeverity.Error, d["line"], d["column"]) for d in lint_json(path)]
    assert got == want
    assert got[0][0] == code
    # The server still answers afterwards.
    _, diags = await open_doc(client, "after_garbage.arch", BAD)
    assert [d.code for d in diags] == ["shape-mismatch"]


async def test_a_message_quoting_a_huge_value_is_cut(client: LanguageClient) -> None:
    text = "arch a(classes = 2, length = 10, alphabet = 4) {\n  view(" + ", ".join(["7"] * 3000) + ")\n}\n"
    _, diags = await open_doc(client, "huge_message.arch", text)
    (diag,) = diags
    assert diag.code == "reshape-size"
    # lint's JSON has the whole message (over 9,000 characters); the editor gets both ends.
    assert len(diag.message) <= 2005 and " ... " in diag.message
    assert diag.message.startswith("`view(7, 7, 7") and diag.message.endswith("e.g. view(-1, ...)")


async def test_columns_are_counted_in_utf16_units(client: LanguageClient) -> None:
    # Two emoji (two UTF-16 units each) before the error on its line.
    text = 'arch a(classes = 2, length = 10, alphabet = 4) {\n  meta { doc = "\U0001f600\U0001f600" } relu § relu\n}\n'
    _, diags = await open_doc(client, "emoji.arch", text)
    (diag,) = diags
    line = text.splitlines()[1]
    prefix = line[: line.index("relu")]
    assert diag.code == "syntax"
    assert diag.range.start == lsp.Position(1, len(prefix.encode("utf-16-le")) // 2)
    assert diag.range.start.character == len(prefix) + 2


EMOJI_HOVER = 'block B(tag = "\U0001f600\u00e9") { relu }\narch a(classes = 2, length = 10, alphabet = 4) {\n  b = B\n  flatten\n}\n'


async def test_positions_in_utf8_when_the_client_asks(utf8_client: LanguageClient) -> None:
    # An error after an emoji (4 bytes) and an é (2 bytes) on its line.
    text = EMOJI_HOVER.replace("{ relu }", "{ relu § }")
    _, diags = await open_doc(utf8_client, "emoji8.arch", text)
    (diag,) = diags
    line = text.splitlines()[0]
    prefix = line[: line.index("§")]
    assert diag.code == "syntax"
    assert diag.range.start == lsp.Position(0, len(prefix.encode("utf-8")))
    assert diag.range.start.character == len(prefix) + 3 + 1
    # A hover request at a UTF-8 column finds the step there.
    uri, diags = await open_doc(utf8_client, "emoji8_hover.arch", EMOJI_HOVER)
    assert diags == []
    line = EMOJI_HOVER.splitlines()[0]
    column = len(line[: line.index("relu") + 1].encode("utf-8"))
    got = await utf8_client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(0, column))
    )
    assert got is not None and isinstance(got.contents, lsp.MarkupContent)
    assert got.contents.value.startswith('**relu** in `B(tag="\U0001f600\u00e9")`')
    assert got.range == lsp.Range(
        lsp.Position(0, len(line[: line.index("relu")].encode("utf-8"))),
        lsp.Position(0, len(line[: line.index("relu") + 4].encode("utf-8"))),
    )


# ------------------------------------------------------------------ hover


async def hover(client: LanguageClient, uri: str, pos: lsp.Position) -> str:
    got = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos)
    )
    assert got is not None and isinstance(got.contents, lsp.MarkupContent)
    return got.contents.value


async def test_hover_shows_the_shapes_and_derivation_of_a_step(client: LanguageClient) -> None:
    text = (ROOT / "examples" / "basset.arch").read_text(encoding="utf-8")
    uri, _ = await open_doc(client, "basset.arch", text)
    # Basset's first convolution: 4 -> 300 channels, kernel 19 over 1000 positions.
    value = await hover(client, uri, at(text, "conv1d(300"))
    assert value.splitlines() == [
        "**conv1d** in `basset`",
        "",
        "- input `(N, 4, 1000)` (batch, channels, length)",
        "- output `(N, 300, 982)` (batch, channels, length)",
        "- `in_channels = 4: inferred from the input (N, 4, 1000)`",
        # (1000 + 2 * 0 - 1 * (19 - 1) - 1) // 1 + 1 = 982
        "- `length 982 = floor((1000 + 2*0 - 1*(19 - 1) - 1) / 1) + 1`",
    ]
    # A pool: the stride is its window, 3; floor(979 / 3) + 1 = 327.
    value = await hover(client, uri, at(text, "maxpool1d(3)"))
    assert "- `length 327 = floor((982 + 2*0 - 1*(3 - 1) - 1) / 3) + 1`" in value
    # fc1's written input size and where it comes from.
    value = await hover(client, uri, at(text, "fc1"))
    assert "- input `(N, 3600)` (batch, features)" in value and "- output `(N, 1000)`" in value
    assert "- `3600 = 200 channels x 18 positions after layer3`" in value
    # The command-line form prints the same text.
    pos = at(text, "conv1d(300")
    got = subprocess.run(
        [
            sys.executable,
            "-m",
            "archc",
            "lsp",
            "--hover",
            f"examples/basset.arch:{pos.line + 1}:{pos.character + 1}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
        cwd=ROOT,
    )
    assert got.returncode == 0, got.stderr
    assert got.stdout.rstrip("\n") == await hover(client, uri, pos)


def _steps(body: tuple[object, ...]) -> list[object]:
    """Every step of a body, nested ones included (from archc's own syntax tree)."""
    from archc.lsp.analysis import _bodies
    from archc.syntax import tree as s

    found: list[object] = []
    for stmt in body:
        chain = stmt.chain if isinstance(stmt, s.BindStmt) else stmt if isinstance(stmt, s.Chain) else None
        for step in chain.steps if chain is not None else ():
            found.append(step)
            for inner in _bodies(step.term):
                found.extend(_steps(inner))
    return found


ALL_EXAMPLES = sorted([*EXAMPLES, *(ROOT / "examples" / "more").glob("*.arch")])


@pytest.mark.parametrize("path", ALL_EXAMPLES, ids=[p.name for p in ALL_EXAMPLES])
async def test_every_step_of_every_example_has_a_hover(client: LanguageClient, path: Path) -> None:
    from archc.core.source import Source
    from archc.syntax.parser import parse

    text = path.read_text(encoding="utf-8")
    source = Source(str(path), text)
    tree = parse(source)
    uri, _ = await open_doc(client, f"steps_{path.name}", text)
    steps = [st for d in (*tree.archs, *tree.blocks) for st in _steps(d.body)]
    assert steps
    missing = []
    for step in steps:
        start = step.term.span.start  # type: ignore[attr-defined]
        line, col = source.line_col(start)
        pos = lsp.Position(line - 1, col - 1)  # the examples are ASCII
        got = await client.text_document_hover_async(
            lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=pos)
        )
        value = got.contents.value if got is not None and isinstance(got.contents, lsp.MarkupContent) else ""
        covers = got is not None and (got.range is None or got.range.start <= pos <= got.range.end)
        if not covers or ("input `" not in value and "shape `" not in value):
            missing.append(text[start : start + 40])
    assert not missing


async def test_hover_on_a_block_step_shows_each_instance(client: LanguageClient) -> None:
    uri, diags = await open_doc(client, "graph_hover.arch", GRAPH)
    assert diags == []
    value = await hover(client, uri, at(GRAPH, "conv1d(filters, 3"))
    assert value.startswith("**conv1d** in `Trunk(filters=8)`")
    # 100 positions, kernel 5 -> 96; the block's padded kernel 3 keeps 96.
    assert "- input `(N, 8, 96)`" in value and "- output `(N, 8, 96)`" in value
    value = await hover(client, uri, at(GRAPH, "mean("))
    assert value.startswith("**mean**")
    assert "- input `(N, 1)`" in value and "- output `(N, 1)`" in value


async def test_hover_on_an_architecture_shows_its_inputs_and_outputs(client: LanguageClient) -> None:
    text = (ROOT / "examples" / "bpnet.arch").read_text(encoding="utf-8")
    uri, _ = await open_doc(client, "bpnet_arch.arch", text)
    value = await hover(client, uri, at(text, "bpnet("))
    # bpnet.arch: length 1000, alphabet 4, outputs 2; `return profile, counts`.
    assert value.splitlines() == [
        "**arch bpnet(length=1000, alphabet=4, filters=64, layers=9, outputs=2)**",
        "",
        "- input `(N, 4, 1000) (batch, channels, length)`",
        "- output `profile (N, 2, 1000)`",
        "- output `counts (N, 1)`",
    ]


async def test_hover_on_a_parameter_shows_its_value(client: LanguageClient) -> None:
    uri, _ = await open_doc(client, "param_hover.arch", GRAPH)
    value = await hover(client, uri, at(GRAPH, "filters = 8"))
    assert value.splitlines() == ["**parameter filters** in `twin`", "", "- `filters = 8`"]


async def test_no_hover_outside_steps_or_on_a_file_with_errors(client: LanguageClient) -> None:
    uri, diags = await open_doc(client, "nohover.arch", GRAPH)
    assert diags == []
    doc = lsp.TextDocumentIdentifier(uri=uri)
    # The `block` keyword, and the blank line after the block.
    for pos in (lsp.Position(0, 0), lsp.Position(3, 0)):
        got = await client.text_document_hover_async(lsp.HoverParams(text_document=doc, position=pos))
        assert got is None, pos
    # A step of an architecture with a shape error: no shapes to show (see the README).
    uri, _ = await open_doc(client, "nohover_bad.arch", BAD)
    got = await client.text_document_hover_async(
        lsp.HoverParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=at(BAD, "relu"))
    )
    assert got is None


# ------------------------------------------------------------------ definitions and references


async def test_definition_and_references_of_layers_tensors_and_blocks(client: LanguageClient) -> None:
    uri, _ = await open_doc(client, "graph_refs.arch", GRAPH)
    doc = lsp.TextDocumentIdentifier(uri=uri)

    async def definition(pos: lsp.Position) -> lsp.Position:
        got = await client.text_document_definition_async(
            lsp.DefinitionParams(text_document=doc, position=pos)
        )
        assert isinstance(got, lsp.Location) and got.uri == uri
        return got.range.start

    async def references(pos: lsp.Position) -> list[lsp.Position]:
        got = await client.text_document_references_async(
            lsp.ReferenceParams(
                text_document=doc, position=pos, context=lsp.ReferenceContext(include_declaration=True)
            )
        )
        return sorted((loc.range.start for loc in got or []), key=lambda p: (p.line, p.character))

    # A named layer reused by its bare name.
    assert await definition(at(GRAPH, "conv1 |")) == at(GRAPH, "conv1 =")
    assert await references(at(GRAPH, "conv1 =")) == [at(GRAPH, "conv1 ="), at(GRAPH, "conv1 |")]
    # Named tensors, read by a merge.
    assert await definition(at(GRAPH, "rev)")) == at(GRAPH, "rev :=")
    assert await references(at(GRAPH, "fwd :=")) == [at(GRAPH, "fwd :="), at(GRAPH, "fwd, rev")]
    # A block and its call; the named instance and its reuse.
    assert await definition(at(GRAPH, "Trunk(filters) |")) == at(GRAPH, "Trunk(filters) {")
    assert await references(at(GRAPH, "Trunk")) == [at(GRAPH, "Trunk"), at(GRAPH, "Trunk", skip=1)]
    assert await references(at(GRAPH, "trunk |")) == [at(GRAPH, "trunk ="), at(GRAPH, "trunk |")]
    # Parameters: of the architecture, and of the block inside the block.
    assert await definition(at(GRAPH, "filters, 5")) == at(GRAPH, "filters = 8")
    assert await definition(at(GRAPH, "filters, 3")) == at(GRAPH, "filters)")
    assert await references(at(GRAPH, "outputs =")) == [at(GRAPH, "outputs ="), at(GRAPH, "outputs)")]
    # `x` without an `input` statement: the architecture's input.
    assert await definition(at(GRAPH, "x |")) == at(GRAPH, "twin")
    # A layer kind is no symbol of the file.
    got = await client.text_document_definition_async(
        lsp.DefinitionParams(text_document=doc, position=at(GRAPH, "sigmoid"))
    )
    assert got is None


# ------------------------------------------------------------------ completion and symbols


async def test_completion_offers_layers_with_their_defaults(client: LanguageClient) -> None:
    text = BAD.replace("  relu\n", "  re\n")
    uri, _ = await open_doc(client, "complete.arch", text)
    got = await client.text_document_completion_async(
        lsp.CompletionParams(text_document=lsp.TextDocumentIdentifier(uri=uri), position=lsp.Position(2, 4))
    )
    assert isinstance(got, lsp.CompletionList)
    items = {item.label: item for item in got.items}
    assert "relu" in items and "maxpool1d" in items
    conv = items["conv1d"]
    assert conv.detail is not None
    assert (
        "stride = 1" in conv.detail
        and "padding = 0" in conv.detail
        and 'padding_mode = "zeros"' in conv.detail
    )
    assert "dilation = 1" in conv.detail and "bias = true" in conv.detail
    assert conv.detail.startswith("conv1d(in_channels = inferred, out_channels, kernel_size, ")


async def test_completion_inside_a_call_offers_its_parameters(client: LanguageClient) -> None:
    text = BAD.replace("conv1d(16, 5)", "conv1d(16, 5, )")
    uri, _ = await open_doc(client, "complete_args.arch", text)
    pos = at(text, ", )")
    got = await client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            position=lsp.Position(pos.line, pos.character + 2),
        )
    )
    assert isinstance(got, lsp.CompletionList)
    items = {item.label: item for item in got.items}
    assert set(items) >= {"stride", "padding", "dilation", "groups", "bias"}
    assert "relu" not in items
    assert items["dilation"].detail == "conv1d: dilation = 1"


async def test_completion_keeps_the_file_names_while_it_does_not_parse(client: LanguageClient) -> None:
    uri, _ = await open_doc(client, "complete_names.arch", GRAPH)
    broken = GRAPH.replace("  mean(fwd, rev) | sigmoid\n", "  mean(fwd, rev) | sigmoid\n  fwd | (\n")
    diags = await change_doc(client, uri, 2, broken)
    assert [d.code for d in diags] == ["syntax"]
    got = await client.text_document_completion_async(
        lsp.CompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri), position=at(broken, "fwd | (")
        )
    )
    assert isinstance(got, lsp.CompletionList)
    items = {item.label: item for item in got.items}
    assert items["Trunk"].detail == "block Trunk(filters)"
    assert items["conv1"].kind == lsp.CompletionItemKind.Field
    assert items["fwd"].kind == lsp.CompletionItemKind.Variable and items["rev"].detail == "tensor"
    assert "conv1d" in items


async def test_document_symbols(client: LanguageClient) -> None:
    uri, _ = await open_doc(client, "symbols.arch", GRAPH)
    got = await client.text_document_document_symbol_async(
        lsp.DocumentSymbolParams(text_document=lsp.TextDocumentIdentifier(uri=uri))
    )
    assert got is not None
    tree = {
        (sym.name, sym.kind): sorted((c.name, c.kind) for c in (sym.children or []))
        for sym in got
        if isinstance(sym, lsp.DocumentSymbol)
    }
    assert tree == {
        ("Trunk", lsp.SymbolKind.Function): [
            ("c", lsp.SymbolKind.Field),
            ("filters", lsp.SymbolKind.Property),
        ],
        ("twin", lsp.SymbolKind.Class): sorted(
            [
                ("outputs", lsp.SymbolKind.Property),
                ("length", lsp.SymbolKind.Property),
                ("alphabet", lsp.SymbolKind.Property),
                ("filters", lsp.SymbolKind.Property),
                ("fwd", lsp.SymbolKind.Variable),
                ("conv1", lsp.SymbolKind.Field),
                ("fc", lsp.SymbolKind.Field),
                ("trunk", lsp.SymbolKind.Field),
                ("rev", lsp.SymbolKind.Variable),
            ]
        ),
    }


# ------------------------------------------------------------------ the command


async def test_without_pygls_the_command_says_how_to_install_it(tmp_path: Path) -> None:
    # An import hook, loaded first, that refuses pygls: as if it were not installed. (The
    # test is async only because the module's tests are; it needs no server.)
    blocker = tmp_path / "sitecustomize.py"
    blocker.write_text(
        "import sys\n"
        "class _Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'pygls' or name.startswith('pygls.'):\n"
        "            raise ModuleNotFoundError(name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, _Hide())\n",
        encoding="utf-8",
    )
    got = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sitecustomize, sys; from archc.cli import main; sys.exit(main(['lsp']))",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert got.returncode == 2, got.stderr
    assert got.stderr.strip().splitlines() == [
        "archc: error: `archc lsp` needs pygls: pip install 'archc[lsp]'"
    ]


async def test_formatting_is_archc_fmt(client: LanguageClient) -> None:
    """textDocument/formatting gives archc fmt's text; a formatted or broken text gets no edit."""
    from archc.syntax.fmt import format_source

    messy = "arch m(classes=2,length=20, alphabet=4){\n  # keep me\n  c = conv1d(8,3)|relu   # and me\n  flatten | fc=linear(classes)\n}\n"
    uri, _ = await open_doc(client, "messy.arch", messy)
    params = lsp.DocumentFormattingParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        options=lsp.FormattingOptions(tab_size=4, insert_spaces=True),
    )
    edits = await client.text_document_formatting_async(params)
    assert edits is not None and len(edits) == 1
    assert edits[0].new_text == format_source(messy)
    assert "# keep me" in edits[0].new_text and "# and me" in edits[0].new_text
    assert edits[0].range.start == lsp.Position(0, 0)
    clean, _ = await open_doc(client, "clean.arch", format_source(messy))
    params.text_document = lsp.TextDocumentIdentifier(uri=clean)
    assert not await client.text_document_formatting_async(params)  # [] arrives as null
    broken, diagnostics = await open_doc(client, "broken.arch", "arch m( {\n")
    params.text_document = lsp.TextDocumentIdentifier(uri=broken)
    assert await client.text_document_formatting_async(params) is None
    assert diagnostics and diagnostics[0].code == "syntax"


async def test_a_too_short_error_comes_at_once_and_its_shortest_length_after(client: LanguageClient) -> None:
    """As you type, the too-short error is published without the (slower) search for the
    shortest length that works; a second publish adds it, as `archc lint` prints it."""
    text = "arch m(classes = 2, length = 10, alphabet = 4) {\n    c = conv1d(8, 25) | relu\n    flatten | fc = linear(classes)\n}\n"
    uri, first = await open_doc(client, "short.arch", text)
    assert [d.code for d in first] == ["too-short"]
    assert "shortest input that works" not in first[0].message
    for _ in range(200):
        now = client.diagnostics.get(uri, [])
        if now and "shortest input that works is 25 positions" in now[0].message:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"no second publish with the shortest length: {client.diagnostics.get(uri)}")
