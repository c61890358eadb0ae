"""Plain values the DSL computes with, and how they are shown."""

from __future__ import annotations

from typing import Union

Value = Union[int, float, bool, str, None, tuple["Value", ...]]

# The largest size, stride, padding, dilation or axis index archc accepts: torch's
# kernels index with 32-bit integers along one axis, and no genomics model comes near.
MAX_SIZE = 2**31 - 1
MAX_INT = 2**63 - 1  # whole numbers in expressions: torch's sizes are 64-bit


def kind(value: Value) -> type:
    """The value's type, an int, float or str subclass (a symbolic size) counted as its base."""
    for base in (bool, int, float, str):
        if isinstance(value, base):
            return base
    return type(value)


def type_name(value: Value) -> str:
    """The user-facing name of a value's type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "whole number"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "none"
    return "tuple"


def show(value: Value) -> str:
    """A value as the DSL would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        inner = ", ".join(show(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)
