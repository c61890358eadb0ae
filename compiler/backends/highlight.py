"""A Pygments lexer for .arch files: `pygmentize -l archc model.arch`.

Registered as the `pygments.lexers` entry point `archc` (pyproject.toml), so Pygments and
documentation tools built on it (Sphinx, MkDocs) find it once archc is installed with the
`highlight` extra. Nothing on the lint or compile path imports this module: it is the only
one that imports pygments.

Token classes: the grammar's keywords (grammar/archc.lark; `arch` and `block` also mark the
name they define), the layer kinds of the catalogue (ir/layers.py, with their PyTorch
spellings) and the merges as builtins, `name =` and `name :=` as the names they bind
(`name =` inside parentheses is a keyword argument), numbers, strings with their escapes,
comments (an `# archc: allow(...)` one is special), operators and punctuation. A character
the language does not have is an Error token. Lexing keeps the text exactly: `stripnl` and
`ensurenl` default to off (Pygments itself turns `\\r\\n` into `\\n` before lexing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar, cast

from pygments import lexer
from pygments.lexer import RegexLexer, include
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
    _TokenType,
)

from ..ir.layers import ALIASES, all_names
from ..ir.nodes import MERGES

# The grammar's keywords (tests/test_highlight.py reads them from grammar/archc.lark).
DECLARATIONS = ("arch", "block")
KEYWORDS = (
    "input",
    "let",
    "return",
    "meta",
    "seq",
    "residual",
    "shortcut",
    "if",
    "else",
    "for",
    "in",
    "range",
)
CONSTANTS = ("true", "false", "none")
WORD_OPERATORS = ("and", "or", "not")

NAME = r"[A-Za-z_][A-Za-z0-9_]*"
END = r"(?![A-Za-z0-9_])"  # the end of an identifier (`\b` would also stop at a non-ASCII letter)
# Layer names are case-insensitive, as ir.layers.lookup reads them; longest first so that
# `conv1d` is never cut to a shorter name.
LAYERS = sorted({*all_names(), *ALIASES, *MERGES}, key=lambda name: (-len(name), name))
FLOAT = r"[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?|[0-9]+[eE][-+]?[0-9]+|\.[0-9]+(?:[eE][-+]?[0-9]+)?"
# core/allow.py finds an acknowledgement anywhere in a comment: `# why  # archc: allow(...)`.
ALLOW = r"#[ \t]*archc:[ \t]*allow(?:-file)?[ \t]*\([^)\n]*\)"


# The stubs leave bygroups untyped.
bygroups = cast(Callable[..., Any], lexer.bygroups)


def _words(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(words) + ")" + END


def _common(binding: _TokenType) -> list[Any]:
    """The rules of both states; `binding` is the token of `name =` there."""
    return [
        (r"[\t \f]+", Whitespace),
        (r"\r?\n", Whitespace),
        (r"\\\r?\n", Text),  # a line continuation
        (ALLOW + r"[^\n]*", Comment.Special),
        (r"#[^\n]*?(?=" + ALLOW + ")", Comment.Single),
        (r"#[^\n]*", Comment.Single),
        (r'"', String.Double, "string"),
        (FLOAT, Number.Float),
        (r"[0-9]+", Number.Integer),
        # `name := ...` names a tensor; `name = ...` a layer (or, in parentheses, an argument).
        # Keywords too: `residual = conv1d(8, 3)` names a layer `residual`.
        (rf"({NAME})([\t \f]*)(:=)", bygroups(Name.Variable, Whitespace, Operator)),
        (rf"({NAME})([\t \f]*)(=)(?!=)", bygroups(binding, Whitespace, Operator)),
        (
            rf"({_words(DECLARATIONS)})([\t \f]+)({NAME})",
            bygroups(Keyword.Declaration, Whitespace, Name.Class),
        ),
        (_words(DECLARATIONS), Keyword.Declaration),
        (_words(KEYWORDS), Keyword),
        (_words(CONSTANTS), Keyword.Constant),
        (_words(WORD_OPERATORS), Operator.Word),
        (rf"(?i:{'|'.join(LAYERS)}){END}", Name.Builtin),
        (rf"{NAME}(?=[\t \f]*\()", Name.Function),  # a block call
        (NAME, Name),
        (r":=|->|\*\*|//|==|!=|<=|>=|[-+*/%<>=|:]", Operator),
        (r"[{}\[\],]", Punctuation),
        (r"(?<=[A-Za-z0-9_])\.(?=[A-Za-z_])", Punctuation),  # a module dict's entry: `heads.profile`
    ]


class ArchcLexer(RegexLexer):
    """The archc architecture language (.arch)."""

    name = "archc"
    aliases: ClassVar[list[str]] = ["archc", "arch"]
    filenames: ClassVar[list[str]] = ["*.arch"]
    mimetypes: ClassVar[list[str]] = ["text/x-archc"]
    flags = re.MULTILINE

    tokens: ClassVar[dict[str, list[Any]]] = {
        "root": [
            (r"\(", Punctuation, "paren"),
            (r"\)", Error),  # closes nothing (the TextMate grammar marks it invalid too)
            include("common-root"),
        ],
        "paren": [
            (r"\(", Punctuation, "#push"),
            (r"\)", Punctuation, "#pop"),
            (r"\{", Punctuation, "body"),  # the loop of `cat(for ... { ... })`: statements again
            include("common-paren"),
        ],
        "body": [
            (r"\{", Punctuation, "#push"),
            (r"\}", Punctuation, "#pop"),
            (r"\(", Punctuation, "paren"),
            (r"\)", Error),
            include("common-root"),
        ],
        "common-root": _common(Name.Variable),
        "common-paren": _common(Name.Attribute),
        "string": [
            (r'\\[\\"nt]', String.Escape),
            (r'[^"\\\n]+', String.Double),
            (r'"', String.Double, "#pop"),
        ],
    }

    def __init__(self, **options: Any) -> None:
        # Keep every character (the defaults strip leading and trailing newlines).
        options.setdefault("stripnl", False)
        options.setdefault("ensurenl", False)
        super().__init__(**options)

    @staticmethod
    def analyse_text(text: str) -> float:
        """A file that declares an architecture is most likely archc."""
        return 0.3 if re.search(rf"^\s*arch\s+{NAME}\s*\(", text, re.MULTILINE) else 0.0
