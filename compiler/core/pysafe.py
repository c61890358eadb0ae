"""The one path from user text to generated Python: literals, comments, docstrings, names.

Everything an input file (or a file name, or a flag) contributes to an emitted
module goes through one of these functions, so no character sequence can end a
comment, a docstring or a literal early and start code of its own.
"""

from __future__ import annotations

import builtins
import keyword
import math
import re

from .values import Value

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A key of a returned dict: plain text, as it reaches code, comments and diagrams.
OUTPUT_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")

# Module-level names of a generated file: its imports and its own helpers.
GENERATED_GLOBALS = frozenset(
    {"torch", "nn", "F", "METADATA", "_fold_into", "_Conv2dT", "_Permute", "_Transpose", "_Mean", "_Amax"}
)
# Local names of the generated methods that refer to classes (`self.b = B()` in __init__,
# `isinstance(module, B)` in fold_batchnorm): a class of that name would be shadowed.
GENERATED_LOCALS = frozenset({"self", "x", "module", "mode"})
BUILTIN_NAMES = frozenset(name for name in dir(builtins) if not name.startswith("__"))


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def comment(text: str) -> str:
    """Text for a `#` comment: every non-printable character (newlines, carriage
    returns, form feeds, line separators, surrogates) is written as an escape, so the
    comment cannot end before its line does."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def docstring(text: str) -> str:
    """Text for the inside of a triple-quoted docstring: backslashes and double quotes
    are escaped as well as non-printable characters, so `\"\"\"` cannot occur."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(_escape_char(ch))
    return "".join(out)


def literal(value: Value) -> str:
    """A value as a Python literal. Strings go through repr(); a float must be finite
    (`inf` and `nan` are not literals, and resolution refuses them before this)."""
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{value!r} has no Python literal")
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    raise TypeError(f"unexpected value {value!r}")  # pragma: no cover - Value is closed


def message(*pieces: str | Code) -> str:
    """A double-quoted string literal of text pieces (escaped as in a docstring, braces
    doubled) and `Code` pieces (generated Python, interpolated): an f-string when there
    are any; the generated constructors' error messages are written with it."""
    body = "".join(
        f"{{{piece.text}}}"
        if isinstance(piece, Code)
        else docstring(piece).replace("{", "{{").replace("}", "}}")
        for piece in pieces
    )
    if not any(isinstance(piece, Code) for piece in pieces):
        body = body.replace("{{", "{").replace("}}", "}")
        return f'"{body}"'
    return f'f"{body}"'


class Code:
    """Generated Python inside a `message` (never user text)."""

    def __init__(self, text: str) -> None:
        self.text = text


# Names the generated constructors read: a parameter of that name would shadow them there.
CONSTRUCTOR_NAMES = frozenset({*GENERATED_GLOBALS, "self", "super", "range", "ValueError"})


def param_name_problem(name: str) -> str | None:
    """Why `name` cannot name a parameter (a constructor argument of a generated class), or None."""
    if keyword.iskeyword(name):
        return "it is a Python keyword"
    if name in CONSTRUCTOR_NAMES:
        return "the generated constructor uses that name"
    return None


def class_name_problem(name: str) -> str | None:
    """Why `name` cannot name a class of a generated module, or None when it can."""
    if not IDENTIFIER.fullmatch(name):
        return "it is not a Python identifier (letters, digits and `_`, not starting with a digit)"
    if keyword.iskeyword(name):
        return "it is a Python keyword"
    if name in GENERATED_GLOBALS or name in GENERATED_LOCALS:
        return "the generated module already uses that name"
    if name in BUILTIN_NAMES:
        return "it would hide the Python builtin of that name in the generated module"
    if name.startswith("_"):
        return "names starting with `_` are private"
    return None


def suggest_name(name: str, taken: frozenset[str] | set[str] = frozenset()) -> str:
    """A usable class name close to `name`, for a diagnostic's help line."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name).strip("_") or "Model"
    if base[0].isdigit():
        base = "M" + base
    base = base[0].upper() + base[1:]
    candidate = base
    n = 1
    while class_name_problem(candidate) is not None or candidate in taken or candidate == name:
        n += 1
        candidate = f"{base}Block" if n == 2 else f"{base}{n}"
    return candidate
