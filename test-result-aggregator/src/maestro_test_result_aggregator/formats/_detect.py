"""Format auto-detection, ``read_report`` and directory/glob ingest."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from maestro_test_result_aggregator.errors import AggregatorError, ReportParseError, UnknownFormatError
from maestro_test_result_aggregator.formats.registry import MOCHA_STATS, Peek, get_format, readers, report_formats
from maestro_test_result_aggregator.model import TestRun

__all__ = [
    "FORMATS",
    "Format",
    "IngestResult",
    "detect_format",
    "expand_inputs",
    "ingest",
    "iter_ingest",
    "read_report",
]

Format = Literal["junit", "ctrf", "jsonl", "pytest-reportlog", "pytest-json-report", "playwright-json"]
"""The names of the built-in readable formats (``formats.registry`` may hold more)."""

FORMATS: Final[Mapping[str, Callable[[str], TestRun]]] = readers
"""Every readable format by name, with its reader (a live view of ``formats.registry``)."""

_PEEK: Final = 64 * 1024
_REPORT_SUFFIXES: Final = (".xml", ".json", ".jsonl", ".ndjson")


def detect_format(path: str | os.PathLike[str]) -> str:
    """Name the format of a report by looking at its first 64 KiB (not its file name).

    Raises:
        UnknownFormatError: nothing matches.
    """
    source = os.fspath(path)
    with open(source, "rb") as stream:
        raw = stream.read(_PEEK)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        head = raw.decode("utf-16", "ignore").lstrip("\ufeff \t\r\n")
    else:
        head = raw.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n")
    peek = Peek(head)
    for candidate in report_formats():
        if candidate.detect is not None and candidate.read is not None and candidate.detect(peek):
            return candidate.name
    if peek.is_json and MOCHA_STATS.search(head):
        raise UnknownFormatError(
            f"{source}: mocha JSON is not a format maestro-results reads; write JUnit XML with mocha's "
            "`xunit` reporter or mocha-junit-reporter"
        )
    known = [found.description for found in report_formats() if found.read is not None]
    known[-2:] = [" or ".join(known[-2:])]
    raise UnknownFormatError(f"{source}: not a known report format ({', '.join(known)})")


def read_report(path: str | os.PathLike[str], *, format: str | None = None) -> TestRun:
    """Read any supported report, detecting its format unless ``format`` names it.

    Args:
        path: the report file (never modified).
        format: one of ``FORMATS`` to skip detection.

    Raises:
        UnknownFormatError: the format is not recognised (or ``format`` is not a known name).
        ReportParseError: the file is malformed (with file, line and column when known).
        UnsafeInputError: XML declaring a DOCTYPE or entities.

    Examples:
        The format comes from the content, so a CI job can read whatever its runner wrote:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import read_report
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.xml"
        >>> _ = path.write_text(
        ...     '<testsuites><testsuite name="checkout" tests="2" failures="1">'
        ...     '<testcase classname="CartTest" name="addsItem" time="0.41"/>'
        ...     '<testcase classname="CartTest" name="appliesVoucher" time="1.20">'
        ...     '<failure message="expected 90.00, got 100.00">at CartTest.java:57</failure></testcase>'
        ...     "</testsuite></testsuites>"
        ... )
        >>> run = read_report(path)
        >>> run.summary().failed, [(t.suite, t.classname, t.name, t.message) for t in run.tests if t.message]
        (1, [(('checkout',), 'CartTest', 'appliesVoucher', 'expected 90.00, got 100.00')])

        ``format`` skips detection (one of ``FORMATS``):

        >>> len(read_report(path, format="junit").tests)
        2
    """
    try:
        name = format if format is not None else detect_format(path)
        reader = get_format(name).read
        if reader is None:
            raise UnknownFormatError(f"format {name!r} is written, not read: one of {', '.join(FORMATS)}")
        return reader(os.fspath(path))
    except UnicodeDecodeError as error:
        raise ReportParseError(os.fspath(path), f"not UTF-8 text: {error.reason} at byte {error.start}") from None
    except OSError as error:
        raise ReportParseError(os.fspath(path), f"cannot read: {error.strerror or error}") from None


def expand_inputs(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named by ``inputs``: files as given, directories searched recursively for
    ``*.xml``/``*.json``/``*.jsonl``/``*.ndjson``, glob patterns (``**`` allowed) expanded.
    Sorted within each input, duplicates dropped, order of the inputs kept."""
    found: list[Path] = []
    seen: set[Path] = set()

    def add(path: Path) -> None:
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            found.append(path)

    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.is_file() and child.name.lower().endswith(_REPORT_SUFFIXES):
                    add(child)
        elif path.is_file():
            add(path)
        elif glob.has_magic(text):
            for match in sorted(glob.glob(text, recursive=True)):
                if Path(match).is_file():
                    add(Path(match))
        else:
            found.append(path)  # reported as unreadable by ingest
    return found


@dataclass
class IngestResult:
    """What ``ingest`` read: one run per good file, and every bad file with its error."""

    runs: list[TestRun] = field(default_factory=list)
    errors: list[tuple[Path, AggregatorError]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def iter_ingest(
    inputs: Iterable[str | os.PathLike[str]], *, strict: bool = False
) -> Iterator[tuple[Path, TestRun | AggregatorError]]:
    """Read every report named by ``inputs`` one by one, yielding ``(path, run or error)``; with
    ``strict`` the first bad file raises instead."""
    for path in expand_inputs(inputs):
        try:
            run = read_report(path)
        except AggregatorError as error:
            if strict:
                raise
            yield path, error
        else:
            yield path, run


def ingest(inputs: Iterable[str | os.PathLike[str]], *, strict: bool = False) -> IngestResult:
    """Read every report named by ``inputs`` (files, directories, globs). A bad file is
    recorded in ``errors`` and the rest are still read; ``strict=True`` raises on the first.

    Raises:
        AggregatorError: with ``strict``, the first bad file's error.

    Examples:
        Every shard's artifact folder, whatever each runner wrote; a report cut short by a
        crashed shard is listed, not fatal:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import AggregatorError, ingest, merge_runs, write_ctrf, write_junit
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> artifacts = pathlib.Path(tempfile.mkdtemp())
        >>> for shard in ("shard-1", "shard-2"):
        ...     (artifacts / shard).mkdir()
        >>> write_junit(make_run(50, fail_every=10), artifacts / "shard-1" / "junit.xml")
        >>> write_ctrf(make_run(50, offset=50), artifacts / "shard-2" / "ctrf.json")
        >>> _ = (artifacts / "shard-2" / "e2e.xml").write_text('<testsuite name="e2e"><testcase name="test_a">')
        >>> found = ingest([artifacts])
        >>> [path.relative_to(artifacts).as_posix() for path in found.files]
        ['shard-1/junit.xml', 'shard-2/ctrf.json', 'shard-2/e2e.xml']
        >>> [(path.name, error.reason) for path, error in found.errors]
        [('e2e.xml', 'malformed XML: no element found')]
        >>> merge_runs(found.runs).summary().tests
        100

        Glob patterns work too (``**`` included), and ``strict=True`` raises the first error:

        >>> [path.name for path in ingest([f"{artifacts}/shard-*/*.xml"]).files]
        ['junit.xml', 'e2e.xml']
        >>> try:
        ...     ingest([artifacts], strict=True)
        ... except AggregatorError as error:
        ...     print(type(error).__name__, error.reason)
        ReportParseError malformed XML: no element found
    """
    outcome = IngestResult()
    for path, item in iter_ingest(inputs, strict=strict):
        outcome.files.append(path)
        if isinstance(item, TestRun):
            outcome.runs.append(item)
        else:
            outcome.errors.append((path, item))
    return outcome
