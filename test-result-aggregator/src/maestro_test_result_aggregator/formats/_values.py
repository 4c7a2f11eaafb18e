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

from maestro_test_result_aggregator.model import (
    DEFAULT_OUTPUT_LIMIT,
    Attachment,
    Attempt,
    Environment,
    TestResult,
    TestRun,
    Tool,
    bound_field,
    bound_text,
)

__all__ = [
    "MAX_SECONDS",
    "MAX_SUITE_DEPTH",
    "bounded_json",
    "bounded_result",
    "bounded_run",
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
_FIELD: Final = DEFAULT_OUTPUT_LIMIT


def _long_string(value: Any) -> bool:
    """Whether decoded JSON ``value`` holds a string (or key) longer than the field limit;
    walked with a stack, so any nesting the decoder accepted is fine."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if len(item) > _FIELD:
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def bounded_json(value: Any) -> Any:
    """Decoded JSON ``value`` (an ``extra`` object) with every string and key cut by
    ``bound_field``; the same object when all fit.

    Raises:
        ValueError: a long string nested too deeply to rebuild.

    Examples:
        >>> extra = {"note": "x" * 100_000, "n": [1, "ok"]}
        >>> cut = bounded_json(extra)
        >>> len(cut["note"]) == DEFAULT_OUTPUT_LIMIT, cut["n"], bounded_json(cut) == cut
        (True, [1, 'ok'], True)
    """
    if not _long_string(value):
        return value
    try:
        return _rebuilt(value)
    except RecursionError:
        raise ValueError("extra nests a string longer than the field limit too deeply") from None


def _rebuilt(value: Any) -> Any:
    if isinstance(value, str):
        return bound_field(value)
    if isinstance(value, Mapping):
        return {bound_field(str(key)): _rebuilt(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_rebuilt(item) for item in value]
    return value


def _attachments_fit(attachments: tuple[Attachment, ...]) -> bool:
    return all(len(a.name) <= _FIELD and len(a.content_type) <= _FIELD and len(a.path) <= _FIELD for a in attachments)


def _bounded_attachments(attachments: tuple[Attachment, ...]) -> tuple[Attachment, ...]:
    if _attachments_fit(attachments):
        return attachments
    return tuple(Attachment(bound_field(a.name), bound_field(a.content_type), bound_field(a.path)) for a in attachments)


def _fields_fit(result: TestResult) -> bool:
    """Whether every string of ``result`` that is not a text body fits ``DEFAULT_OUTPUT_LIMIT``
    (cheap: the usual result passes a few length tests)."""
    return (
        len(result.name) <= _FIELD
        and len(result.classname or "") <= _FIELD
        and len(result.file or "") <= _FIELD
        and len(result.raw_status or "") <= _FIELD
        and all(len(name) <= _FIELD for name in result.suite)
        and all(len(key) <= _FIELD and len(value) <= _FIELD for key, value in result.parameters.items())
        and all(len(tag) <= _FIELD for tag in result.tags)
        and _attachments_fit(result.attachments)
        and all(len(a.raw_status or "") <= _FIELD and _attachments_fit(a.attachments) for a in result.attempts)
        and not (result.extra and _long_string(result.extra))
    )


def _optional_field(value: str | None) -> str | None:
    return None if value is None else bound_field(value)


def bounded_run(run: TestRun) -> TestRun:
    """``run`` with its own strings (tool name and version, environment, run id, ``extra``) cut by
    ``bound_field``, in place; its tests are the readers' (``bounded_result``).

    Examples:
        >>> run = bounded_run(TestRun(Tool("pytest", "9." + "0" * 100_000)))
        >>> len(run.tool.version) == DEFAULT_OUTPUT_LIMIT
        True
    """
    tool, env = run.tool, run.environment
    run.tool = Tool(bound_field(tool.name), _optional_field(tool.version))
    run.environment = Environment(
        commit=_optional_field(env.commit),
        branch=_optional_field(env.branch),
        build_url=_optional_field(env.build_url),
        shard=_optional_field(env.shard),
        extra=bounded_json(env.extra),
    )
    run.run_id = _optional_field(run.run_id)
    run.extra = bounded_json(run.extra)
    return run


def _too_long(item: TestResult | Attempt, limit: int) -> bool:
    return any(len(getattr(item, name) or "") > limit for name in _TEXT_FIELDS)


def bounded_result(result: TestResult, limit: int) -> TestResult:
    """``result`` within the one size policy of every reader: its message, trace, stdout and
    stderr (and its attempts') cut by ``bound_text`` to about ``limit`` characters (head and tail
    kept), every other string (name, class, suite names, file, parameters, tags, raw status,
    attachments, ``extra``) cut by ``bound_field`` to ``DEFAULT_OUTPUT_LIMIT`` characters (prefix
    and a hash of the whole value, so tests stay distinct). The JUnit readers cut while
    streaming, the JSON readers here. Unchanged, the same object, when all fit.

    Raises:
        ValueError: ``extra`` nests a long string too deeply to rebuild.

    Examples:
        >>> from maestro_test_result_aggregator.model import Status
        >>> cut = bounded_result(TestResult("t", Status.FAILED, message="x" * 100), 20)
        >>> len(cut.message) < 100, "truncated by maestro" in cut.message
        (True, True)
        >>> long = bounded_result(TestResult("t" * 100_000, Status.PASSED, suite=("s" * 70_000,)), 20)
        >>> len(long.name) == len(long.suite[0]) == DEFAULT_OUTPUT_LIMIT, "sha256" in long.name
        (True, True)
    """
    if not _fields_fit(result):
        result = replace(
            result,
            name=bound_field(result.name),
            classname=_optional_field(result.classname),
            file=_optional_field(result.file),
            raw_status=_optional_field(result.raw_status),
            suite=tuple(bound_field(name) for name in result.suite),
            parameters={bound_field(k): bound_field(v) for k, v in result.parameters.items()},
            tags=tuple(bound_field(tag) for tag in result.tags),
            attachments=_bounded_attachments(result.attachments),
            attempts=tuple(
                replace(a, raw_status=_optional_field(a.raw_status), attachments=_bounded_attachments(a.attachments))
                for a in result.attempts
            ),
            extra=bounded_json(result.extra),
        )
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
