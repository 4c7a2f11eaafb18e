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
from maestro_test_result_aggregator.model import (
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


def _attachments(records: list[dict[str, str]]) -> tuple[Attachment, ...]:
    return tuple(Attachment(r["name"], r["content_type"], r["path"]) for r in records)


def _attempt(record: dict[str, Any]) -> Attempt:
    return Attempt(
        Status(record["status"]),
        duration=record.get("duration", 0.0),
        raw_status=record.get("raw_status"),
        message=record.get("message"),
        trace=record.get("trace"),
        start=record.get("start"),
        stdout=record.get("stdout"),
        stderr=record.get("stderr"),
        attachments=_attachments(record.get("attachments", ())),
    )


def result_from_record(record: dict[str, Any]) -> TestResult:
    """The inverse of ``result_to_record`` (raises ``KeyError``/``ValueError`` on bad records)."""
    return TestResult(
        name=record["name"],
        status=Status(record["status"]),
        duration=record.get("duration", 0.0),
        suite=tuple(record.get("suite", ())),
        file=record.get("file"),
        classname=record.get("classname"),
        line=record.get("line"),
        parameters=record.get("parameters") or EMPTY,
        raw_status=record.get("raw_status"),
        message=record.get("message"),
        trace=record.get("trace"),
        stdout=record.get("stdout"),
        stderr=record.get("stderr"),
        tags=tuple(record.get("tags", ())),
        attachments=_attachments(record.get("attachments", ())),
        attempts=tuple(_attempt(a) for a in record.get("attempts", ())),
        start=record.get("start"),
        extra=record.get("extra") or EMPTY,
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
        self._file: IO[str] | None = self.path.open("w", encoding="utf-8")
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
    """Write a whole run as JSONL."""
    with JsonlWriter(
        path, tool=run.tool, environment=run.environment, start=run.start, run_id=run.run_id, extra=run.extra
    ) as writer:
        for result in run.tests:
            writer.write(result)
        writer.close(stop=run.stop)


def _run_from_header(header: dict[str, Any]) -> TestRun:
    tool = header.get("tool") or {}
    env = header.get("environment") or {}
    return TestRun(
        tool=Tool(tool["name"], tool.get("version")),
        environment=Environment(
            commit=env.get("commit"),
            branch=env.get("branch"),
            build_url=env.get("build_url"),
            shard=env.get("shard"),
            extra=env.get("extra") or EMPTY,
        ),
        start=header.get("start"),
        run_id=header.get("run_id"),
        extra=header.get("extra") or EMPTY,
    )


def iter_jsonl(path: str | os.PathLike[str], *, allow_torn_tail: bool = False) -> Iterator[TestRun | TestResult]:
    """Stream the file: first its ``TestRun`` (without tests), then each ``TestResult``, one line
    in memory at a time; ``stop`` from the end line is set on that same ``TestRun`` object once
    reached. A last line without its newline (a crash mid-write) is skipped when
    ``allow_torn_tail`` is true, otherwise it is a ``ReportParseError``."""
    source = os.fspath(path)
    run: TestRun | None = None
    with open(source, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                if allow_torn_tail and not line.endswith("\n"):
                    return
                raise ReportParseError(source, f"not JSON: {error.msg}", line=number, column=error.colno) from None
            kind = record.get("type") if isinstance(record, dict) else None
            try:
                if run is None:
                    if kind != "run" or not str(record.get("schema", "")).startswith("maestro-results/1"):
                        raise ReportParseError(source, "not a maestro-results JSONL file (no run header)", line=number)
                    run = _run_from_header(record)
                    yield run
                elif kind == "result":
                    yield result_from_record(record)
                elif kind == "end":
                    stop = record.get("stop")
                    run.stop = float(stop) if stop is not None else None
                else:
                    raise ReportParseError(source, f"unknown record type {kind!r}", line=number)
            except (KeyError, TypeError, ValueError) as error:
                raise ReportParseError(source, f"bad record: {error!r}", line=number) from None
    if run is None:
        raise ReportParseError(source, "empty file: no run header")


def read_jsonl(path: str | os.PathLike[str], *, allow_torn_tail: bool = False) -> TestRun:
    """Read a whole JSONL run (see ``iter_jsonl``)."""
    records = iter_jsonl(path, allow_torn_tail=allow_torn_tail)
    run = next(records)
    if not isinstance(run, TestRun):  # pragma: no cover - iter_jsonl always yields the run first
        raise TypeError("iter_jsonl yielded a result before the run header")
    run.tests.extend(r for r in records if isinstance(r, TestResult))
    return run
