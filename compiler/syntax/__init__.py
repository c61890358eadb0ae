"""Stage 2, syntax: the syntax tree (`tree`), the Lark parser and the unparser back to .arch text.

Modules use the tree as `from ..syntax import tree as s`.
"""
