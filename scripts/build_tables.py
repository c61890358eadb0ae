"""Write grammar/archc.tables.json, the parse tables shipped beside the grammar.

Run after changing grammar/archc.lark (tests/test_parser_tables.py says when):

    .venv/bin/python scripts/build_tables.py
"""

from __future__ import annotations

from pathlib import Path

from archc.syntax.parser import _LARK_OPTIONS, TABLES_FILE, _grammar_text, tables_json
from lark import Lark

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    text = _grammar_text()
    out = ROOT / "grammar" / TABLES_FILE
    out.write_text(tables_json(Lark(text, **_LARK_OPTIONS), text), encoding="utf-8")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
