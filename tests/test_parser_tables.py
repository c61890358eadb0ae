"""The parse tables shipped beside the grammar (grammar/archc.tables.json).

They spare a first run building the LALR tables. This checks that they were built from
the current grammar, and that a parser loaded from them reads every example and fixture
exactly as one built from the grammar does (trees, token types and spans).
"""

from __future__ import annotations

import json
from pathlib import Path

import lark
import pytest
from archc.syntax import parser as P
from lark import Lark, Token

ROOT = Path(__file__).resolve().parent.parent
TABLES = ROOT / "grammar" / P.TABLES_FILE
SOURCES = sorted([*ROOT.glob("examples/*.arch"), *ROOT.glob("tests/fixtures/**/*.arch")])


def shipped() -> dict:
    return json.loads(TABLES.read_text(encoding="utf-8"))


def test_tables_match_the_grammar() -> None:
    key = shipped()["key"]
    fresh = json.loads(json.dumps(P.tables_key(P._grammar_text())))
    if key["lark"] != lark.__version__:
        pytest.skip(
            f"tables built with lark {key['lark']}, installed {lark.__version__}: rebuilt at run time"
        )
    assert key == fresh, "grammar/archc.lark changed: run `python scripts/build_tables.py`"


def test_the_parser_uses_the_shipped_tables() -> None:
    if shipped()["key"]["lark"] != lark.__version__:
        pytest.skip("tables built with another lark version")
    assert P._shipped(P._grammar_text()) is not None


def _view(tree: object) -> list[tuple[str, str, int | None, int | None]]:
    out = []
    for node in tree.iter_subtrees_topdown():  # type: ignore[attr-defined]
        meta = node.meta
        out.append(
            (str(node.data), "", None if meta.empty else meta.start_pos, None if meta.empty else meta.end_pos)
        )
        for child in node.children:
            if isinstance(child, Token):
                out.append((child.type, str(child), child.start_pos, child.end_pos))
    return out


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_shipped_tables_parse_like_the_grammar(path: Path) -> None:
    text = P._grammar_text()
    loaded = P._shipped(text)
    if loaded is None:
        pytest.skip("no usable shipped tables for this lark version")
    built = Lark(text, **P._LARK_OPTIONS)
    source = path.read_text(encoding="utf-8")
    results = []
    for parser in (built, loaded):
        try:
            results.append(_view(parser.parse(source)))
        except lark.exceptions.UnexpectedInput as err:
            results.append([("error", type(err).__name__, getattr(err, "pos_in_stream", None), None)])
    assert results[0] == results[1]
