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
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from maestro_test_result_aggregator.model import Attempt, TestResult, bound_text

__all__ = [
    "MAX_SECONDS",
    "MAX_SUITE_DEPTH",
    "bounded_result",
    "clean",
    "epoch",
    "mapping",
    "number",
    "optional_text",
    "seconds",
    "string_map",
    "strings",
    "suite_path",
    "text",
]

MAX_SECONDS: Final = 1e12
MAX_SUITE_DEPTH: Final = 256
"""The longest suite path any reader accepts (JUnit ``<testsuite>`` nesting, a JSON ``suite``
list): each test holds its whole path and writers nest one element per level, so an unbounded
path would cost memory quadratic in the file and unbounded nesting in what is written."""
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


def suite_path(value: Any, what: str) -> tuple[str, ...]:
    """A suite path: ``strings`` of at most ``MAX_SUITE_DEPTH`` names."""
    path = strings(value, what)
    if len(path) > MAX_SUITE_DEPTH:
        raise ValueError(f"{what} is nested more than {MAX_SUITE_DEPTH} deep ({len(path)} levels)")
    return path


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


_TEXT_FIELDS: Final = ("message", "trace", "stdout", "stderr")


def _too_long(item: TestResult | Attempt, limit: int) -> bool:
    return any(len(getattr(item, name) or "") > limit for name in _TEXT_FIELDS)


def bounded_result(result: TestResult, limit: int) -> TestResult:
    """``result`` with its message, trace, stdout and stderr (and its attempts') cut by
    ``bound_text`` to about ``limit`` characters: the one size policy of every reader (the JUnit
    readers cut while streaming, the JSON readers here). Unchanged, the same object, when all fit.

    Examples:
        >>> from maestro_test_result_aggregator.model import Status
        >>> cut = bounded_result(TestResult("t", Status.FAILED, message="x" * 100), 20)
        >>> len(cut.message) < 100, "truncated by maestro" in cut.message
        (True, True)
    """
    if not _too_long(result, limit) and not any(_too_long(attempt, limit) for attempt in result.attempts):
        return result
    attempts = tuple(_bounded_attempt(attempt, limit) for attempt in result.attempts)
    return replace(
        result,
        message=bound_text(result.message, limit),
        trace=bound_text(result.trace, limit),
        stdout=bound_text(result.stdout, limit),
        stderr=bound_text(result.stderr, limit),
        attempts=attempts,
    )


def _bounded_attempt(attempt: Attempt, limit: int) -> Attempt:
    if not _too_long(attempt, limit):
        return attempt
    return replace(
        attempt,
        message=bound_text(attempt.message, limit),
        trace=bound_text(attempt.trace, limit),
        stdout=bound_text(attempt.stdout, limit),
        stderr=bound_text(attempt.stderr, limit),
    )
