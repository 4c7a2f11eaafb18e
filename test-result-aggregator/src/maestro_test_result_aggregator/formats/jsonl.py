"""Maestro's own JSON-lines format: one run header, one line per result, an optional end line.

Written line by line while tests run (``JsonlWriter`` flushes every line), so a crash leaves
every finished result on disk; the reader accepts a file without its end line and, when asked,
a torn last line. Every model field round-trips.

Examples:
    >>> import tempfile, pathlib
    >>> from maestro_test_result_aggregator.model import Status, TestResult, Tool
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "run.jsonl"
    >>> with JsonlWriter(path, tool=Tool("pytest", "9.2")) as writer:
    ...     writer.write(TestResult("test_a", Status.PASSED, duration=0.01))
    >>> [t.name for t in read_jsonl(path).tests]
    ['test_a']
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats._values import (
    bounded_result,
    bounded_run,
    epoch,
    mapping,
    optional_text,
    seconds,
    string_map,
    strings,
    suite_path,
    text,
)
from maestro_test_result_aggregator.model import (
    DEFAULT_OUTPUT_LIMIT,
    EMPTY,
    Attachment,
    Attempt,
    Environment,
    Status,
    TestResult,
    TestRun,
    Tool,
)

__all__ = ["SCHEMA", "JsonlWriter", "iter_jsonl", "read_jsonl", "result_from_record", "result_to_record", "write_jsonl"]

SCHEMA: Final = "maestro-results/1"
"""The ``schema`` value of the header line; readers refuse other major versions."""

_NO_ENVIRONMENT: Final = Environment()
_ATTEMPT_FIELDS: Final = ("duration", "raw_status", "message", "trace", "start", "stdout", "stderr")
_RESULT_FIELDS: Final = (
    "duration",
    "file",
    "classname",
    "line",
    "raw_status",
    "message",
    "trace",
    "stdout",
    "stderr",
    "start",
)


def _attachment_records(attachments: tuple[Attachment, ...]) -> list[dict[str, str]]:
    return [{"name": a.name, "content_type": a.content_type, "path": a.path} for a in attachments]


def _attempt_record(attempt: Attempt) -> dict[str, Any]:
    record: dict[str, Any] = {"status": attempt.status.value}
    for name in _ATTEMPT_FIELDS:
        value = getattr(attempt, name)
        if value is not None:
            record[name] = value
    if attempt.attachments:
        record["attachments"] = _attachment_records(attempt.attachments)
    return record


def result_to_record(result: TestResult) -> dict[str, Any]:
    """A result as a JSON-ready dict (``type``, ``id`` and the set fields only)."""
    record: dict[str, Any] = {
        "type": "result",
        "id": result.test_id,
        "name": result.name,
        "status": result.status.value,
    }
    for name in _RESULT_FIELDS:
        value = getattr(result, name)
        if value is not None:
            record[name] = value
    if result.suite:
        record["suite"] = list(result.suite)
    if result.parameters:
        record["parameters"] = dict(result.parameters)
    if result.tags:
        record["tags"] = list(result.tags)
    if result.attachments:
        record["attachments"] = _attachment_records(result.attachments)
    if result.attempts:
        record["attempts"] = [_attempt_record(a) for a in result.attempts]
    if result.extra:
        record["extra"] = dict(result.extra)
    return record


def _attachments(records: Any, what: str) -> tuple[Attachment, ...]:
    if records is None:
        return ()
    if not isinstance(records, list):
        raise ValueError(f"{what} must be a list, got {records!r}")
    found = []
    for item in records:
        record = mapping(item, what)
        found.append(
            Attachment(
                text(record.get("name", ""), f"{what} name"),
                text(record.get("content_type", ""), f"{what} content_type"),
                text(record.get("path", ""), f"{what} path"),
            )
        )
    return tuple(found)


def _status(value: Any) -> Status:
    if not isinstance(value, str):
        raise ValueError(f"status must be a string, got {value!r}")
    return Status(value)


def _start(value: Any) -> float | None:
    return None if value is None else epoch(value, "start")


def _line(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"line must be an integer, got {value!r}")
    return value


def _attempt(record: Any) -> Attempt:
    record = mapping(record, "attempt")
    return Attempt(
        _status(record.get("status")),
        duration=seconds(record.get("duration", 0.0), "attempt duration"),
        raw_status=optional_text(record.get("raw_status"), "attempt raw_status"),
        message=optional_text(record.get("message"), "attempt message"),
        trace=optional_text(record.get("trace"), "attempt trace"),
        start=_start(record.get("start")),
        stdout=optional_text(record.get("stdout"), "attempt stdout"),
        stderr=optional_text(record.get("stderr"), "attempt stderr"),
        attachments=_attachments(record.get("attachments"), "attempt attachments"),
    )


def result_from_record(record: dict[str, Any]) -> TestResult:
    """The inverse of ``result_to_record``.

    Raises:
        KeyError: a required field (``name``, ``status``) is missing.
        ValueError: a field has the wrong type or an impossible value (``iter_jsonl`` reports
            both as ``ReportParseError`` with the line).
    """
    record = mapping(record, "record")
    attempts = record.get("attempts") or ()
    if not isinstance(attempts, list | tuple):
        raise ValueError(f"attempts must be a list, got {attempts!r}")
    return TestResult(
        name=text(record["name"], "name"),
        status=_status(record["status"]),
        duration=seconds(record.get("duration", 0.0), "duration"),
        suite=suite_path(record.get("suite"), "suite"),
        file=optional_text(record.get("file"), "file"),
        classname=optional_text(record.get("classname"), "classname"),
        line=_line(record.get("line")),
        parameters=string_map(record.get("parameters"), "parameters") or EMPTY,
        raw_status=optional_text(record.get("raw_status"), "raw_status"),
        message=optional_text(record.get("message"), "message"),
        trace=optional_text(record.get("trace"), "trace"),
        stdout=optional_text(record.get("stdout"), "stdout"),
        stderr=optional_text(record.get("stderr"), "stderr"),
        tags=strings(record.get("tags"), "tags"),
        attachments=_attachments(record.get("attachments"), "attachments"),
        attempts=tuple(_attempt(a) for a in attempts),
        start=_start(record.get("start")),
        extra=mapping(record.get("extra"), "extra") or EMPTY,
    )


def _header(run: TestRun) -> dict[str, Any]:
    env = run.environment
    header: dict[str, Any] = {"type": "run", "schema": SCHEMA, "tool": {"name": run.tool.name}}
    if run.tool.version is not None:
        header["tool"]["version"] = run.tool.version
    environment: dict[str, Any] = {
        k: v
        for k, v in (("commit", env.commit), ("branch", env.branch), ("build_url", env.build_url), ("shard", env.shard))
        if v is not None
    }
    if env.extra:
        environment["extra"] = dict(env.extra)
    if environment:
        header["environment"] = environment
    for name in ("start", "run_id"):
        value = getattr(run, name)
        if value is not None:
            header[name] = value
    if run.extra:
        header["extra"] = dict(run.extra)
    return header


def _dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


class JsonlWriter:
    """Streams a run to a JSONL file: the header on open, one flushed line per ``write``, the end
    line on ``close``. ``fsync=True`` also syncs each line to disk (slower; survives power loss,
    not just a crashed process)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        tool: Tool,
        environment: Environment = _NO_ENVIRONMENT,
        start: float | None = None,
        run_id: str | None = None,
        extra: Mapping[str, object] = EMPTY,
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8", errors="backslashreplace")
        self._emit(_header(TestRun(tool=tool, environment=environment, start=start, run_id=run_id, extra=extra)))

    def _emit(self, record: Mapping[str, Any]) -> None:
        if self._file is None:
            raise ValueError(f"{self.path}: the JSONL writer is closed")
        self._file.write(_dumps(record))
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def write(self, result: TestResult) -> None:
        """Append one result and flush it."""
        self._emit(result_to_record(result))

    def close(self, *, stop: float | None = None) -> None:
        """Write the end line (with ``stop``) and close; calling it again does nothing."""
        if self._file is None:
            return
        end: dict[str, Any] = {"type": "end"}
        if stop is not None:
            end["stop"] = stop
        self._emit(end)
        self._file.close()
        self._file = None

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def write_jsonl(run: TestRun, path: str | os.PathLike[str]) -> None:
    """Write a whole run as JSONL.

    Examples:
        Keep a merged run as a CI artifact: every field, attempt and environment value comes
        back as it was (use ``JsonlWriter`` instead to write results while tests run):

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import merge_runs, read_report, write_jsonl
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> merged = merge_runs([make_run(3, flaky_every=3), make_run(3, offset=3, fail_every=2)])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "merged.jsonl"
        >>> write_jsonl(merged, path)
        >>> path.read_text().splitlines()[0]
        '{"type":"run","schema":"maestro-results/1","tool":{"name":"pytest","version":"1.0"},...}'
        >>> again = read_report(path)
        >>> again.tests == merged.tests, again.environment == merged.environment
        (True, True)
    """
    with JsonlWriter(
        path, tool=run.tool, environment=run.environment, start=run.start, run_id=run.run_id, extra=run.extra
    ) as writer:
        for result in run.tests:
            writer.write(result)
        writer.close(stop=run.stop)


def _run_from_header(header: dict[str, Any]) -> TestRun:
    tool = mapping(header.get("tool"), "tool")
    env = mapping(header.get("environment"), "environment")
    return bounded_run(
        TestRun(
            tool=Tool(text(tool["name"], "tool name"), optional_text(tool.get("version"), "tool version")),
            environment=Environment(
                commit=optional_text(env.get("commit"), "commit"),
                branch=optional_text(env.get("branch"), "branch"),
                build_url=optional_text(env.get("build_url"), "build_url"),
                shard=optional_text(env.get("shard"), "shard"),
                extra=string_map(env.get("extra"), "environment extra") or EMPTY,
            ),
            start=_start(header.get("start")),
            run_id=optional_text(header.get("run_id"), "run_id"),
            extra=mapping(header.get("extra"), "extra") or EMPTY,
        )
    )


def numbered_lines(stream: IO[bytes], source: str) -> Iterator[tuple[int, str]]:
    """The numbered lines of a UTF-8 file (a byte order mark on the first is dropped)."""
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise ReportParseError(
                source, f"not UTF-8 text: {error.reason}", line=number, column=error.start + 1
            ) from None
        yield number, line


def parse_line(line: str, source: str, number: int) -> Any:
    """One JSON line decoded; ``ReportParseError`` (with the line) when it is not JSON, too
    deeply nested or holds a number too long to convert."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as error:
        raise ReportParseError(source, f"not JSON: {error.msg}", line=number, column=error.colno) from None
    except RecursionError:
        raise ReportParseError(source, "not readable: JSON nested too deeply", line=number) from None
    except ValueError as error:  # a number beyond the integer conversion limit
        raise ReportParseError(source, f"not readable: {error}", line=number) from None


def iter_jsonl(
    path: str | os.PathLike[str], *, allow_torn_tail: bool = False, text_limit: int = DEFAULT_OUTPUT_LIMIT
) -> Iterator[TestRun | TestResult]:
    """Stream the file: first its ``TestRun`` (without tests), then each ``TestResult``, one line
    in memory at a time; ``stop`` from the end line is set on that same ``TestRun`` object once
    reached. A last line without its newline (a crash mid-write) is skipped when
    ``allow_torn_tail`` is true, otherwise it is a ``ReportParseError``. Messages, traces and
    output are cut to about ``text_limit`` characters (head and tail kept), as every reader does.

    Raises:
        ReportParseError: a line is not UTF-8 or not JSON, a record is not a maestro-results
            record or one of its fields has the wrong type (with the line), or there is no
            run header.
    """
    source = os.fspath(path)
    run: TestRun | None = None
    with open(source, "rb") as stream:
        for number, line in numbered_lines(stream, source):
            if not line.strip():
                continue
            try:
                record = parse_line(line, source, number)
            except ReportParseError:
                if allow_torn_tail and not line.endswith("\n") and run is not None:
                    return
                raise
            kind = record.get("type") if isinstance(record, dict) else None
            try:
                if run is None:
                    if kind != "run" or not str(record.get("schema", "")).startswith("maestro-results/1"):
                        raise ReportParseError(source, "not a maestro-results JSONL file (no run header)", line=number)
                    run = _run_from_header(record)
                    yield run
                elif kind == "result":
                    yield bounded_result(result_from_record(record), text_limit)
                elif kind == "end":
                    stop = record.get("stop")
                    run.stop = None if stop is None else epoch(stop, "stop")
                else:
                    raise ReportParseError(source, f"unknown record type {kind!r}", line=number)
            except (KeyError, TypeError, ValueError) as error:
                raise ReportParseError(source, f"bad record: {error!r}", line=number) from None
    if run is None:
        raise ReportParseError(source, "empty file: no run header")


def read_jsonl(
    path: str | os.PathLike[str], *, allow_torn_tail: bool = False, text_limit: int = DEFAULT_OUTPUT_LIMIT
) -> TestRun:
    """Read a whole JSONL run (see ``iter_jsonl``)."""
    records = iter_jsonl(path, allow_torn_tail=allow_torn_tail, text_limit=text_limit)
    run = next(records)
    if not isinstance(run, TestRun):  # pragma: no cover - iter_jsonl always yields the run first
        raise TypeError("iter_jsonl yielded a result before the run header")
    run.tests.extend(r for r in records if isinstance(r, TestResult))
    return run
