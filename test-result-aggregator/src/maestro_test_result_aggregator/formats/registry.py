"""The one list of report formats: each format's name, how to recognise it, how to read it and
how to write it. Detection (``detect_format``), ``read_report``, the CLI's ``--format`` choices
and other packages (maestro-test-adapters writes its reports through ``get_writer``) all read
it, so a new format is one ``register_format`` call.

Examples:
    >>> from maestro_test_result_aggregator.formats.registry import get_format, report_formats
    >>> [f.name for f in report_formats() if f.write is not None]
    ['junit', 'jsonl', 'ctrf']
    >>> get_format("playwright-json").description
    'Playwright JSON'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from maestro_test_result_aggregator.errors import UnknownFormatError
from maestro_test_result_aggregator.formats.ctrf import read_ctrf, write_ctrf
from maestro_test_result_aggregator.formats.jsonl import read_jsonl, write_jsonl
from maestro_test_result_aggregator.formats.junit import read_junit, write_junit
from maestro_test_result_aggregator.formats.playwright import read_playwright_json
from maestro_test_result_aggregator.formats.pytest_reports import read_pytest_json_report, read_pytest_reportlog
from maestro_test_result_aggregator.model import TestRun

__all__ = [
    "Peek",
    "ReportFormat",
    "get_format",
    "get_writer",
    "readers",
    "register_format",
    "report_formats",
    "unregister_format",
    "writable_names",
]

Reader = Callable[[str], TestRun]
"""Reads the report at a path into a run (raising ``ReportParseError`` on bad input)."""

Writer = Callable[..., None]
"""Writes a run to a path: ``write(run, path, **options)``."""


class Peek:
    """The start of a file as detection sees it: ``text``, its first 64 KiB decoded, with a
    byte order mark and leading whitespace removed, and ``first_record``, its first line parsed
    as a JSON object (``None`` when it is not one).

    Examples:
        >>> Peek('{"$report_type": "SessionStart"}\\n{"x": 1}').first_record
        {'$report_type': 'SessionStart'}
    """

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def first_record(self) -> dict[str, Any] | None:
        """The first line as a JSON object, or ``None``."""
        try:
            record = json.loads(self.text.split("\n", 1)[0].strip())
        except (ValueError, RecursionError):  # not JSON, a huge number, nested too deeply
            return None
        return record if isinstance(record, dict) else None

    @property
    def is_json(self) -> bool:
        """Starts like a JSON object."""
        return self.text.startswith("{")


@dataclass(frozen=True, slots=True)
class ReportFormat:
    """One report format.

    Args:
        name: the name users give (``--format``, ``read_report(format=)``).
        description: what the format is, for messages.
        detect: whether a file's start (``Peek``) is this format; ``None`` never detects it.
            Formats are tried in registration order, the first match wins.
        read: the reader, ``None`` for a format that is only written.
        write: the writer, ``None`` for a format that is only read.

    Examples:
        A format of one's own, detected, read and written like the built-in ones:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import Status, TestResult, TestRun, Tool, read_report
        >>> from maestro_test_result_aggregator.formats.registry import ReportFormat, register_format, unregister_format
        >>> def read_tap(path):
        ...     lines = pathlib.Path(path).read_text().splitlines()[1:]
        ...     return TestRun(
        ...         Tool("tap"),
        ...         [
        ...             TestResult(line.split(" - ", 1)[1], Status.PASSED if line.startswith("ok") else Status.FAILED)
        ...             for line in lines
        ...             if line.startswith(("ok", "not ok"))
        ...         ],
        ...     )
        >>> register_format(ReportFormat("tap", "TAP", lambda peek: peek.text.startswith("TAP version"), read_tap))
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "out.tap"
        >>> _ = path.write_text("TAP version 13\\nok 1 - adds\\nnot ok 2 - divides\\n")
        >>> read_report(path).summary().failed
        1
        >>> unregister_format("tap")
    """

    name: str
    description: str
    detect: Callable[[Peek], bool] | None = None
    read: Reader | None = None
    write: Writer | None = None


_REGISTRY: Final[dict[str, ReportFormat]] = {}


def register_format(report_format: ReportFormat) -> None:
    """Add ``report_format`` (detected after the ones registered before it).

    Raises:
        ValueError: a format of that name is already registered.
    """
    if report_format.name in _REGISTRY:
        raise ValueError(f"a report format named {report_format.name!r} is already registered")
    _REGISTRY[report_format.name] = report_format


def unregister_format(name: str) -> None:
    """Remove the format called ``name`` (a test's own format, say).

    Raises:
        UnknownFormatError: no such format.
    """
    get_format(name)
    del _REGISTRY[name]


def report_formats() -> tuple[ReportFormat, ...]:
    """Every registered format, in detection order."""
    return tuple(_REGISTRY.values())


def get_format(name: str) -> ReportFormat:
    """The format called ``name``.

    Raises:
        UnknownFormatError: no such format (the message lists the known ones).
    """
    found = _REGISTRY.get(name)
    if found is None:
        raise UnknownFormatError(f"format must be one of {', '.join(_REGISTRY)}, got {name!r}")
    return found


def get_writer(name: str) -> Writer:
    """The writer of the format called ``name`` (``"ctrf"``, ``"junit"``, ``"jsonl"``); the
    names of the writing functions (``"write_ctrf"``) are accepted too.

    Raises:
        UnknownFormatError: no such format, or it is not written by this package.

    Examples:
        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator.formats.registry import get_writer
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "junit.xml"
        >>> get_writer("junit")(make_run(3), path, profile="surefire")
        >>> path.read_text().count("<testcase")
        3
    """
    found = get_format(name.removeprefix("write_"))
    if found.write is None:
        writable = ", ".join(writable_names())
        raise UnknownFormatError(f"format {found.name!r} is read, not written (written: {writable})")
    return found.write


def writable_names() -> tuple[str, ...]:
    """The names of the formats this package writes."""
    return tuple(name for name, found in _REGISTRY.items() if found.write is not None)


class _Readers(Mapping[str, Reader]):
    """A live read-only view: each readable format's name and reader (``formats.FORMATS``)."""

    def __getitem__(self, key: str) -> Reader:
        reader = _REGISTRY[key].read
        if reader is None:
            raise KeyError(key)
        return reader

    def __iter__(self) -> Iterator[str]:
        return (name for name, found in _REGISTRY.items() if found.read is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)


readers: Final[Mapping[str, Reader]] = _Readers()
"""Every readable format's name with its reader, following the registry."""


# Playwright's JSON: a "config" object and a "suites" list (keys, not words in a test title).
_PLAYWRIGHT_CONFIG: Final = re.compile(r'"config"\s*:\s*\{')
_PLAYWRIGHT_SUITES: Final = re.compile(r'"suites"\s*:\s*\[')
# mocha's `--reporter json`: a "stats" object counting "passes" (Playwright counts "expected").
MOCHA_STATS: Final = re.compile(r'"stats"\s*:\s*\{[^{}]*"passes"\s*:')


def _is_junit(peek: Peek) -> bool:
    return peek.text.startswith("<")


def _is_reportlog(peek: Peek) -> bool:
    record = peek.first_record if peek.is_json else None
    return record is not None and "$report_type" in record


def _is_jsonl(peek: Peek) -> bool:
    record = peek.first_record if peek.is_json else None
    return (
        record is not None
        and record.get("type") == "run"
        and str(record.get("schema", "")).startswith("maestro-results/")
    )


def _is_ctrf(peek: Peek) -> bool:
    head = peek.text
    return peek.is_json and ('"reportFormat"' in head or ('"results"' in head and '"tool"' in head))


def _is_pytest_json_report(peek: Peek) -> bool:
    head = peek.text
    return peek.is_json and '"exitcode"' in head and ('"tests"' in head or '"created"' in head)


def _is_playwright_json(peek: Peek) -> bool:
    head = peek.text
    if not peek.is_json or MOCHA_STATS.search(head):  # mocha's "stats" count "suites" too
        return False
    return bool(_PLAYWRIGHT_CONFIG.search(head) or (_PLAYWRIGHT_SUITES.search(head) and '"stats"' in head))


# Detection order: the line-based JSON formats before the ones matched by words in the head.
for _builtin in (
    ReportFormat("junit", "JUnit XML", _is_junit, read_junit, write_junit),
    ReportFormat("pytest-reportlog", "pytest reportlog", _is_reportlog, read_pytest_reportlog),
    ReportFormat("jsonl", "maestro JSONL", _is_jsonl, read_jsonl, write_jsonl),
    ReportFormat("ctrf", "CTRF", _is_ctrf, read_ctrf, write_ctrf),
    ReportFormat("pytest-json-report", "pytest-json-report", _is_pytest_json_report, read_pytest_json_report),
    ReportFormat("playwright-json", "Playwright JSON", _is_playwright_json, read_playwright_json),
):
    register_format(_builtin)
