"""The archc language server (pygls): diagnostics, hover, definitions, completion, symbols.

Each document is checked when it opens or changes (full sync) by `analysis.check_text`,
the pipeline of `archc lint`, in a worker thread: edits that arrive meanwhile are checked
together afterwards, newest text only. Results are cached by document text, so a version
that returns to an earlier text (undo) costs nothing; the parser is built once per process.
Positions are converted in the encoding negotiated with the client (UTF-16 by default).
Nothing is read from disk: only the texts the client sends are checked.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from .. import __version__
from ..core.diagnostics import Diagnostic, Severity
from ..core.source import Source, Span
from ..syntax.fmt import FormatError, format_source
from ..syntax.parser import parse
from .analysis import Analysis, Outline, check_text, hover_text, layer_items, open_call, param_items

CACHE_SIZE = 32  # checked texts kept: every open document, plus a few recent versions
MAX_MESSAGE = 2000  # characters of one diagnostic's message, as `render` bounds its own
UNNECESSARY = frozenset({"unused-layer", "unused-allow"})  # shown faded by editors


@dataclass(frozen=True)
class Positions:
    """Offsets in a text <-> LSP positions in the client's encoding."""

    text: str
    starts: tuple[int, ...]
    encoding: str
    ascii: bool  # every unit count is a character count: no conversion needed

    @staticmethod
    def of(text: str, encoding: str) -> Positions:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(text) if ch == "\n")
        return Positions(text, tuple(starts), encoding, text.isascii())

    def _units(self, part: str) -> int:
        if self.encoding == lsp.PositionEncodingKind.Utf32:
            return len(part)
        if self.encoding == lsp.PositionEncodingKind.Utf8:
            return len(part.encode("utf-8", "surrogatepass"))
        return len(part.encode("utf-16-le", "surrogatepass")) // 2

    def position(self, offset: int) -> lsp.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        if self.ascii:  # the usual case needs no encoding
            return lsp.Position(line, offset - start)
        return lsp.Position(line, self._units(self.text[start:offset]))

    def range(self, span: Span) -> lsp.Range:
        return lsp.Range(self.position(span.start), self.position(max(span.start, span.end)))

    def offset(self, pos: lsp.Position) -> int:
        if pos.line >= len(self.starts):
            return len(self.text)
        start = self.starts[pos.line]
        end = self.starts[pos.line + 1] - 1 if pos.line + 1 < len(self.starts) else len(self.text)
        if self.ascii:
            return min(start + pos.character, end)
        units = 0
        for i in range(start, end):
            if units >= pos.character:
                return i
            units += self._units(self.text[i])
        return end


PAUSE_S = 0.25  # typing pause before the slower part of a too-short error's help is added


@dataclass(frozen=True)
class Document:
    uri: str
    version: int | None
    analysis: Analysis
    positions: Positions


class Checker:
    """Checks documents and keeps the results: the server's state, usable without a client."""

    def __init__(self, encoding: str = lsp.PositionEncodingKind.Utf16) -> None:
        self.encoding = encoding
        self.documents: dict[str, Document] = {}
        # The last text of each document that parsed: completion offers its names while
        # the current text, half typed, does not parse.
        self.parsed: dict[str, Analysis] = {}
        self._by_text: OrderedDict[tuple[str, str], Analysis] = OrderedDict()
        # The server checks in a worker thread while requests are answered on the event
        # loop: one check or cache update at a time.
        self._lock = threading.Lock()

    def update(self, uri: str, version: int | None, text: str) -> Document:
        """Check a document's new text (a cached result when the text was seen before)."""
        with self._lock:
            return self._update(uri, version, text)

    def _update(self, uri: str, version: int | None, text: str) -> Document:
        key = (uri, text)
        analysis = self._by_text.get(key)
        if analysis is None:
            analysis = self._check(uri, text)
            self._by_text[key] = analysis
            while len(self._by_text) > CACHE_SIZE:
                self._by_text.popitem(last=False)
        else:
            self._by_text.move_to_end(key)
        old = self.documents.get(uri)
        positions = (
            old.positions
            if old is not None and old.positions.text == text
            else Positions.of(text, self.encoding)
        )
        doc = Document(uri, version, analysis, positions)
        self.documents[uri] = doc
        if analysis.tree is not None:
            self.parsed[uri] = analysis
        return doc

    @staticmethod
    def _check(uri: str, text: str, shortest: bool = False) -> Analysis:
        # As you type, a too-short error is published at once; the shortest length that
        # works (a few dozen more checks) follows in a second publish (see `complete`).
        path = to_fs_path(uri) or uri
        try:
            return check_text(path, text, shortest)
        except RecursionError:
            message = "the file is nested too deeply to check"
        except Exception as err:  # a bug in archc must not take the editor's server down
            logging.getLogger(__name__).exception("internal error checking %s", uri)
            message = f"internal error: {type(err).__name__}: {err} (a bug in archc; please report it)"
        source = Source(path, text)
        diag = Diagnostic(Severity.ERROR, "internal", message, source, Span(0, min(1, len(text))))
        return Analysis(source, (diag,), None, None)

    def complete(self, uri: str, doc: Document) -> Document | None:
        """The document checked again with the shortest-length help, if it is still current."""
        analysis = self._check(uri, doc.positions.text, shortest=True)
        with self._lock:
            if self.documents.get(uri) is not doc:
                return None
            full = replace(doc, analysis=analysis)
            self.documents[uri] = full
            self._by_text[(uri, doc.positions.text)] = analysis
            return full

    def close(self, uri: str) -> None:
        with self._lock:
            self.documents.pop(uri, None)
            self.parsed.pop(uri, None)
            for key in [k for k in self._by_text if k[0] == uri]:
                del self._by_text[key]

    def diagnostics(self, doc: Document) -> list[lsp.Diagnostic]:
        return [to_lsp(d, doc) for d in doc.analysis.diagnostics]


def to_lsp(diag: Diagnostic, doc: Document) -> lsp.Diagnostic:
    """One archc diagnostic as LSP: code, severity, range, labels as related information."""
    pos = doc.positions
    lines = [diag.message]
    if diag.label:
        lines.append(diag.label)
    related = []
    for note in diag.notes:
        if note.span is None:
            lines.append(f"note: {note.message}")
        else:
            related.append(
                lsp.DiagnosticRelatedInformation(lsp.Location(doc.uri, pos.range(note.span)), note.message)
            )
    if diag.help:
        lines.append(f"help: {diag.help}")
    # A diagnostic of the too-large kind points into a cut copy of the text; its span is
    # at the start, which the full text has too.
    message = "\n".join(lines)
    if len(message) > MAX_MESSAGE:  # a message that quotes a huge value: keep both ends
        message = message[: MAX_MESSAGE // 2] + " ... " + message[-MAX_MESSAGE // 4 :]
    return lsp.Diagnostic(
        range=pos.range(diag.span),
        message=message,
        severity=lsp.DiagnosticSeverity.Error if diag.is_error else lsp.DiagnosticSeverity.Warning,
        code=diag.code,
        source="archc",
        related_information=related or None,
        tags=[lsp.DiagnosticTag.Unnecessary] if diag.code in UNNECESSARY else None,
    )


_SYMBOL_KINDS = {
    "arch": lsp.SymbolKind.Class,
    "block": lsp.SymbolKind.Function,
    "param": lsp.SymbolKind.Property,
    "layer": lsp.SymbolKind.Field,
    "tensor": lsp.SymbolKind.Variable,
    "let": lsp.SymbolKind.Constant,
}


def _symbol(node: Outline, pos: Positions) -> lsp.DocumentSymbol:
    return lsp.DocumentSymbol(
        name=node.name,
        kind=_SYMBOL_KINDS.get(node.kind, lsp.SymbolKind.Variable),
        range=pos.range(node.span),
        selection_range=pos.range(node.name_span),
        detail=node.kind,
        children=[_symbol(c, pos) for c in node.children] or None,
    )


_NAME_KINDS = {
    "block": lsp.CompletionItemKind.Module,
    "layer": lsp.CompletionItemKind.Field,
    "tensor": lsp.CompletionItemKind.Variable,
}


def names_of(analysis: Analysis) -> list[lsp.CompletionItem]:
    """The file's blocks (with their parameters), named layers and named tensors."""
    tree = analysis.tree
    params = {b.name: ", ".join(p.name for p in b.params) for b in tree.blocks} if tree else {}
    items: dict[str, lsp.CompletionItem] = {}
    for sym in analysis.symbols.definitions:
        kind = _NAME_KINDS.get(sym.kind)
        if kind is None or sym.name in items:
            continue
        detail = f"block {sym.name}({params.get(sym.name, '')})" if sym.kind == "block" else sym.kind
        items[sym.name] = lsp.CompletionItem(label=sym.name, kind=kind, detail=detail)
    return list(items.values())


def build_server() -> LanguageServer:
    """The server with every feature registered; `serve` runs it over stdio."""
    server = LanguageServer("archc", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Full)
    state = Checker()

    # Latest text wins: a check runs in a worker thread, so edits keep arriving meanwhile;
    # they only mark the document dirty, the next check reads the newest text, and the
    # diagnostics of a text already superseded are never sent. A burst of keystrokes on a
    # large file costs one check after the one running, not one per keystroke.
    opened: set[str] = set()
    dirty: set[str] = set()
    running: dict[str, asyncio.Task[None]] = {}
    finishing: set[asyncio.Future[None]] = set()

    def current(uri: str) -> Document | None:
        """The open document as the client has it now (checked here if the worker has not yet)."""
        if uri not in opened:
            return None
        document = server.workspace.get_text_document(uri)
        doc = state.documents.get(uri)
        if doc is not None and doc.positions.text == document.source:
            return doc
        return state.update(uri, document.version, document.source)

    async def recheck(uri: str) -> None:
        try:
            while uri in dirty and uri in opened:
                dirty.discard(uri)
                document = server.workspace.get_text_document(uri)
                doc = await asyncio.to_thread(state.update, uri, document.version, document.source)
                if uri in dirty:
                    continue  # edited while it was checked: check the newest text instead
                if uri not in opened:
                    state.close(uri)  # closed while it was checked
                    return
                server.text_document_publish_diagnostics(
                    lsp.PublishDiagnosticsParams(
                        uri=uri, diagnostics=state.diagnostics(doc), version=doc.version
                    )
                )
                if any(d.code == "too-short" for d in doc.analysis.diagnostics):
                    task = asyncio.ensure_future(finish(uri, doc))
                    finishing.add(task)  # kept until done: the loop holds tasks only weakly
                    task.add_done_callback(finishing.discard)
        except Exception:  # a failed publish must not end the server
            logging.getLogger(__name__).exception("publishing diagnostics for %s", uri)
        finally:
            running.pop(uri, None)

    async def finish(uri: str, doc: Document) -> None:
        """The shortest length that works, for a too-short error, once typing pauses: a
        second publish, only if the document is still the one checked."""
        try:
            await asyncio.sleep(PAUSE_S)
            if uri in dirty or uri not in opened or state.documents.get(uri) is not doc:
                return
            full = await asyncio.to_thread(state.complete, uri, doc)
            if full is not None and uri not in dirty and uri in opened:
                params = lsp.PublishDiagnosticsParams(
                    uri=uri, diagnostics=state.diagnostics(full), version=full.version
                )
                server.text_document_publish_diagnostics(params)
        except Exception:  # a failed publish must not end the server
            logging.getLogger(__name__).exception("completing diagnostics for %s", uri)

    def schedule(uri: str) -> None:
        state.encoding = str(server.workspace.position_encoding or lsp.PositionEncodingKind.Utf16)
        dirty.add(uri)
        if uri not in running:
            running[uri] = asyncio.ensure_future(recheck(uri))

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: lsp.DidOpenTextDocumentParams) -> None:
        opened.add(params.text_document.uri)
        schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: lsp.DidChangeTextDocumentParams) -> None:
        schedule(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: lsp.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        opened.discard(uri)
        dirty.discard(uri)
        state.close(uri)
        server.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(params: lsp.HoverParams) -> lsp.Hover | None:
        doc = current(params.text_document.uri)
        if doc is None:
            return None
        found = hover_text(doc.analysis, doc.positions.offset(params.position))
        if found is None:
            return None
        text, span = found
        return lsp.Hover(
            contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text),
            range=doc.positions.range(span),
        )

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(params: lsp.DefinitionParams) -> lsp.Location | None:
        doc = current(params.text_document.uri)
        if doc is None:
            return None
        sym = doc.analysis.symbols.at(doc.positions.offset(params.position))
        if sym is None:
            return None
        return lsp.Location(doc.uri, doc.positions.range(sym.span))

    @server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
    def references(params: lsp.ReferenceParams) -> list[lsp.Location] | None:
        doc = current(params.text_document.uri)
        if doc is None:
            return None
        index = doc.analysis.symbols
        sym = index.at(doc.positions.offset(params.position))
        if sym is None:
            return None
        spans = index.references(sym, params.context.include_declaration)
        return [lsp.Location(doc.uri, doc.positions.range(span)) for span in spans]

    @server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def document_symbol(params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
        doc = current(params.text_document.uri)
        if doc is None:
            return None
        outline = sorted(doc.analysis.symbols.outline, key=lambda node: node.span.start)
        return [_symbol(node, doc.positions) for node in outline]

    @server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
    def formatting(params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
        """`archc fmt` on the document: one edit replacing the whole text, none when it is
        already formatted; a text that does not parse is left alone (its diagnostics say why)."""
        doc = current(params.text_document.uri)
        if doc is None:
            return None
        text = doc.positions.text
        try:
            formatted = format_source(text, to_fs_path(params.text_document.uri) or "<document>")
        except FormatError:
            return None
        if formatted == text:
            return []
        whole = lsp.Range(lsp.Position(0, 0), doc.positions.position(len(text)))
        return [lsp.TextEdit(range=whole, new_text=formatted)]

    layers = [
        lsp.CompletionItem(
            label=item.name,
            kind=lsp.CompletionItemKind.Function,
            detail=item.signature,
            documentation=lsp.MarkupContent(
                kind=lsp.MarkupKind.Markdown, value=f"`{item.signature}`\n\n{item.doc}"
            ),
        )
        for item in layer_items()
    ]

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["(", ","]))
    def completion(params: lsp.CompletionParams) -> lsp.CompletionList:
        doc = current(params.text_document.uri)
        if doc is None:
            return lsp.CompletionList(is_incomplete=False, items=[])
        offset = doc.positions.offset(params.position)
        call = open_call(doc.positions.text, offset)
        if call is not None:
            params_of = param_items(call)
            if params_of:
                return lsp.CompletionList(
                    is_incomplete=False,
                    items=[
                        lsp.CompletionItem(
                            label=name,
                            kind=lsp.CompletionItemKind.Property,
                            detail=f"{call}: {shown}",
                            insert_text=f"{name} = ",
                        )
                        for name, shown in params_of
                    ],
                )
        parsed = state.parsed.get(doc.uri)
        names = [] if parsed is None else names_of(parsed)
        return lsp.CompletionList(is_incomplete=False, items=[*layers, *names])

    return server


def serve(stdin: Any = None, stdout: Any = None) -> None:
    """Run the server over stdio until the client exits."""
    # The parse tables are built or loaded before the first edit; an empty text is a
    # syntax error, and only the warm parser matters.
    with contextlib.suppress(Exception):
        parse(Source("<warm-up>", ""))
    build_server().start_io(stdin, stdout)
