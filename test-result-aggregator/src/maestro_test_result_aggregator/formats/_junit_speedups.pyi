from collections.abc import Callable
from typing import Any

FIELD_LIMIT: int
"""The longest attribute value the accelerator takes (``model.DEFAULT_OUTPUT_LIMIT``)."""

def scan_testcases(buffer: str, position: int, /) -> tuple[list[tuple[str | None, ...]], int]:
    """The attribute values (name, classname, time, file, line, timestamp; None when absent) of
    the consecutive childless testcases from ``position``, and where they end."""

def build_testcases(
    buffer: str,
    position: int,
    tests: list[Any],
    strings: dict[Any, Any],
    times: dict[Any, float],
    make: Callable[..., Any],
    passed: Any,
    suite: tuple[str, ...],
    /,
) -> int:
    """Append ``make(name, passed, duration, suite, file, classname, line)`` to ``tests`` for each
    consecutive childless testcase from ``position`` the Python reader would read the same way;
    return where they end."""
