"""Stage 2, syntax: the syntax tree (`tree`), the Lark parser, the printer back to .arch text
(`unparse`) and the comment-keeping formatter built on it (`fmt`).

Modules use the tree as `from ..syntax import tree as s`.
"""
