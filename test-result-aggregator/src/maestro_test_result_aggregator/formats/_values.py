"""Checks of the values the JSON readers take from untrusted documents, at the edge.

A JSON document can put any type anywhere: a list where a name belongs, ``1e999`` or a
4,000-digit number as a duration, a lone surrogate (``"\\ud800"``) in a string. The model does
not validate (building millions of results must stay cheap), so each reader passes every value
it keeps through these functions: a value of the wrong kind raises ``ValueError`` saying what
was expected (the reader turns it into ``ReportParseError`` naming the file and the test), and
strings lose lone surrogates (replaced by U+FFFD), which no UTF-8 writer or database accepts.

Examples:
    >>> text("ok", "name"), seconds(1.5, "duration"), strings(["a", 1], "tags")
    ('ok', 1.5, ('a', '1'))
    >>> text(["a"], "name")
    Traceback (most recent call last):
    ...
    ValueError: name must be a string, got ['a']
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "MAX_SECONDS",
    "clean",
    "epoch",
    "mapping",
    "number",
    "optional_text",
    "seconds",
    "string_map",
    "strings",
    "text",
]

MAX_SECONDS: Final = 1e12
"""The largest duration accepted, in seconds (about 31,700 years): sums and millisecond
conversions of durations stay finite."""

_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def clean(value: str) -> str:
    """``value`` with every lone surrogate replaced by U+FFFD (ASCII strings cost nothing)."""
    if value.isascii():
        return value
    return _SURROGATE.sub("\ufffd", value)


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


def text(value: Any, what: str) -> str:
    """A required string; a number is written as text, anything else is refused."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return str(value)
    raise ValueError(f"{what} must be a string, got {_shown(value)}")


def optional_text(value: Any, what: str) -> str | None:
    """``text``, or None for None."""
    return None if value is None else text(value, what)


def number(value: Any, what: str) -> float:
    """A finite JSON number (not a boolean) as a float."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            result = float(value)
        except OverflowError:
            result = math.inf
        if math.isfinite(result):
            return result
    raise ValueError(f"{what} must be a finite number, got {_shown(value)}")


def seconds(value: Any, what: str, *, scale: float = 1.0) -> float:
    """A duration: a finite number of at most ``MAX_SECONDS`` once divided by ``scale``."""
    result = number(value, what) / scale
    if abs(result) > MAX_SECONDS:
        raise ValueError(f"{what} is out of range: {_shown(value)}")
    return result


def epoch(value: Any, what: str, *, scale: float = 1.0) -> float:
    """A point in time in Unix epoch seconds (``value / scale``) that a date can represent."""
    result = number(value, what) / scale
    try:
        datetime.fromtimestamp(result, UTC)
    except (OverflowError, ValueError, OSError):
        raise ValueError(f"{what} is not a representable time: {_shown(value)}") from None
    return result


def strings(value: Any, what: str) -> tuple[str, ...]:
    """A list of strings (numbers written as text) as a tuple; None is empty."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ValueError(f"{what} must be a list of strings, got {_shown(value)}")
    return tuple(text(item, what) for item in value)


def mapping(value: Any, what: str) -> dict[str, Any]:
    """A JSON object (None is empty), kept as it is."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} must be an object, got {_shown(value)}")
    return dict(value)


def string_map(value: Any, what: str) -> dict[str, str]:
    """A JSON object of strings (numbers written as text); None is empty."""
    return {clean(str(key)): text(item, f"{what}[{key!r}]") for key, item in mapping(value, what).items()}
