"""CTRF (Common Test Report Format) JSON: writer, lenient reader and schema validation.

The writer follows the spec and the official schema shipped in this package
(``formats/schemas/ctrf.schema.json``): durations and times in integer milliseconds, the final
attempt in the test itself and the earlier ones in ``retryAttempts`` (``retries`` = their
count), ``flaky`` when it passed after a failed attempt, unknown keys only inside ``extra``.
Model fields CTRF has no place for (``classname``, a final attempt that differs from the test,
an attempt's raw status) travel in ``extra["maestro"]`` so a CTRF round trip is lossless.

The reader accepts the current spec and older reporters' aliases (``flake``, ``retry``,
``attempts``), ``retryAttempts`` that include the final attempt or not, and ``stdout``/``stderr``
as a list of lines or one string.

Examples:
    >>> import tempfile, pathlib
    >>> from maestro_test_result_aggregator.model import Status, TestResult, TestRun, Tool
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ctrf.json"
    >>> write_ctrf(TestRun(Tool("pytest"), [TestResult("test_a", Status.PASSED, 0.5)]), path)
    >>> read_ctrf(path).tests[0].duration
    0.5
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

from maestro_test_result_aggregator.errors import ReportParseError, SchemaValidationError
from maestro_test_result_aggregator.formats._jsonstream import JsonStream
from maestro_test_result_aggregator.formats._schema import ctrf_schema, schema_errors
from maestro_test_result_aggregator.formats._values import (
    bounded_result,
    bounded_run,
    clean,
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

__all__ = [
    "SPEC_VERSION",
    "ctrf_document",
    "ctrf_test",
    "read_ctrf",
    "run_from_ctrf",
    "validate_ctrf",
    "write_ctrf",
]

SPEC_VERSION: Final = "0.0.0"
"""The ``specVersion`` written (the version of the shipped schema)."""

MAX_RETRIES: Final = 10_000
"""The largest ``retries`` count read: a test retried without details gets one failed attempt
per retry, so a bigger count is refused rather than allocated."""

_STATUSES: Final = {s.value: s for s in Status}
_ENV_KEYS: Final = {
    "reportName": str,
    "appName": str,
    "appVersion": str,
    "buildId": str,
    "buildName": str,
    "buildNumber": int,
    "repositoryName": str,
    "repositoryUrl": str,
    "osPlatform": str,
    "osRelease": str,
    "osVersion": str,
    "testEnvironment": str,
    "healthy": bool,
}


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _lines(text: str) -> list[str]:
    return text.split("\n")


def _attachments_out(attachments: Iterable[Attachment]) -> list[dict[str, str]]:
    return [{"name": a.name, "contentType": a.content_type, "path": a.path} for a in attachments]


def _attempt_out(number: int, attempt: Attempt) -> dict[str, Any]:
    record: dict[str, Any] = {"attempt": number, "status": attempt.status.value, "duration": _ms(attempt.duration)}
    if attempt.message is not None:
        record["message"] = attempt.message
    if attempt.trace is not None:
        record["trace"] = attempt.trace
    if attempt.stdout is not None:
        record["stdout"] = _lines(attempt.stdout)
    if attempt.stderr is not None:
        record["stderr"] = _lines(attempt.stderr)
    if attempt.start is not None:
        record["start"] = _ms(attempt.start)
        record["stop"] = _ms(attempt.start + attempt.duration)
    if attempt.attachments:
        record["attachments"] = _attachments_out(attempt.attachments)
    if attempt.raw_status is not None:
        record["extra"] = {"rawStatus": attempt.raw_status}
    return record


def _test_uuid(test_id: str) -> str:
    # The 32 hex digits of the test id, shaped as a UUID (the schema's ``id`` format).
    return f"{test_id[:8]}-{test_id[8:12]}-{test_id[12:16]}-{test_id[16:20]}-{test_id[20:32]}"


def _fallback_name(result: TestResult, test_id: str) -> str:
    """A non-empty name for a nameless test (the schema wants one): its class, else its suite
    path, else its file, else its id."""
    return result.classname or " > ".join(result.suite) or result.file or test_id


def ctrf_test(result: TestResult) -> dict[str, Any]:  # noqa: PLR0912 - one branch per optional field
    """One result as a CTRF ``tests[]`` object."""
    test_id = result.test_id
    record: dict[str, Any] = {
        "name": result.name or _fallback_name(result, test_id),
        "status": result.status.value,
        "duration": _ms(result.duration),
        "id": _test_uuid(test_id),
        "testId": test_id,
    }
    if result.start is not None:
        record["start"] = _ms(result.start)
        record["stop"] = _ms(result.start + result.duration)
    if result.suite:
        record["suite"] = list(result.suite)
    if result.message is not None:
        record["message"] = result.message
    if result.trace is not None:
        record["trace"] = result.trace
    if result.line is not None:
        record["line"] = result.line
    if result.raw_status is not None:
        record["rawStatus"] = result.raw_status
    if result.tags:
        record["tags"] = list(result.tags)
    if result.file is not None:
        record["filePath"] = result.file
    maestro: dict[str, Any] = {}
    if result.attempts:
        record["retries"] = len(result.attempts) - 1
        record["retryAttempts"] = [_attempt_out(n, a) for n, a in enumerate(result.attempts[:-1], start=1)]
        final = result.attempts[-1]
        if final != result.as_attempt():
            maestro["finalAttempt"] = _attempt_out(len(result.attempts), final)
    record["flaky"] = result.flaky
    if result.stdout is not None:
        record["stdout"] = _lines(result.stdout)
    if result.stderr is not None:
        record["stderr"] = _lines(result.stderr)
    if result.attachments:
        record["attachments"] = _attachments_out(result.attachments)
    if result.parameters:
        record["parameters"] = dict(result.parameters)
    if result.classname is not None:
        maestro["classname"] = result.classname
    if result.extra or maestro:
        extra = dict(result.extra)
        if maestro:
            extra["maestro"] = maestro
        record["extra"] = extra
    return record


def _environment_out(env: Environment) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for key, value in (
        ("commit", env.commit),
        ("branchName", env.branch),
        ("buildUrl", env.build_url),
        ("shardId", env.shard),
    ):
        if value is not None:
            record[key] = value
    extra: dict[str, Any] = {}
    for key, value in env.extra.items():
        kind = _ENV_KEYS.get(key)
        if kind is int and value.isdigit():
            record[key] = int(value)
        elif kind is bool and value in ("true", "false"):
            record[key] = value == "true"
        elif kind is str:
            record[key] = value
        else:
            extra[key] = value
    if extra:
        record["extra"] = extra
    return record


def _report_id() -> str:
    import uuid  # noqa: PLC0415 - uuid imports platform; only writers need it

    return str(uuid.uuid4())


def _head(run: TestRun, insights: Mapping[str, Any] | None, tests: list[TestResult]) -> dict[str, Any]:
    summary = run.summary()
    starts = [t.start for t in tests if t.start is not None]
    start = run.start if run.start is not None else (min(starts) if starts else None)
    stop = run.stop
    if stop is None and start is not None:
        stop = max((t.start + t.duration for t in tests if t.start is not None), default=start)
    summary_record: dict[str, Any] = {
        "tests": summary.tests,
        "passed": summary.passed,
        "failed": summary.failed,
        "skipped": summary.skipped,
        "pending": summary.pending,
        "other": summary.other,
        "flaky": summary.flaky,
        "start": _ms(start) if start is not None else 0,
        "stop": _ms(stop) if stop is not None else 0,
        "duration": _ms(summary.duration),
    }
    suites = {t.suite for t in tests if t.suite}
    if suites:
        summary_record["suites"] = len(suites)
    tool: dict[str, Any] = {"name": run.tool.name}
    if run.tool.version is not None:
        tool["version"] = run.tool.version
    results: dict[str, Any] = {"tool": tool, "summary": summary_record}
    environment = _environment_out(run.environment)
    if environment:
        results["environment"] = environment
    document: dict[str, Any] = {
        "reportFormat": "CTRF",
        "specVersion": SPEC_VERSION,
        "reportId": _report_id(),
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "generatedBy": "maestro-test-result-aggregator",
        "results": results,
    }
    if run.run_id is not None:
        document["runId"] = run.run_id
    maestro: dict[str, Any] = {}
    if run.start is None:
        maestro["startUnknown"] = True
    if run.stop is None:
        maestro["stopUnknown"] = True
    if run.extra or maestro:
        extra = dict(run.extra)
        if maestro:
            extra["maestro"] = maestro
        document["extra"] = extra
    if insights:
        document["insights"] = dict(insights)
    return document


def ctrf_document(run: TestRun, *, insights: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The whole run as a CTRF document (a dict ready for ``json.dump``). ``insights`` is
    written as the top-level ``insights`` object (see ``analysis.ctrf_insights``)."""
    document = _head(run, insights, run.tests)
    document["results"]["tests"] = [ctrf_test(t) for t in run.tests]
    return document


def write_ctrf(
    run: TestRun,
    path: str | os.PathLike[str],
    *,
    insights: Mapping[str, Any] | None = None,
    indent: int | None = None,
) -> None:
    """Write ``run`` as a CTRF JSON file, streaming one test at a time (memory stays flat).

    Examples:
        Convert a JUnit report to CTRF for a CTRF dashboard or GitHub action, with the run's
        insights computed against earlier runs:

        >>> import json, pathlib, tempfile
        >>> from maestro_test_result_aggregator import read_report, write_ctrf, write_junit
        >>> from maestro_test_result_aggregator.analysis import ctrf_insights
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> write_junit(make_run(5, fail_every=5), folder / "junit.xml")
        >>> run = read_report(folder / "junit.xml")
        >>> write_ctrf(run, folder / "ctrf-report.json", insights=ctrf_insights(run, [make_run(5)]))
        >>> document = json.loads((folder / "ctrf-report.json").read_text())
        >>> document["reportFormat"], document["results"]["summary"]["failed"]
        ('CTRF', 1)
        >>> failed = document["results"]["tests"][4]
        >>> failed["name"], failed["status"], failed["duration"], failed["message"]
        ('test_4', 'failed', 5, 'AssertionError: expected 4 to equal 5')
        >>> document["insights"]["passRate"]
        {'current': 0.8, 'baseline': 1.0, 'change': -0.19999999999999996}

        ``indent=2`` writes it readable (built in memory, for small runs).
    """
    document = _head(run, insights, run.tests)
    if indent is not None:
        document["results"]["tests"] = [ctrf_test(t) for t in run.tests]
        with open(path, "w", encoding="utf-8", errors="backslashreplace") as stream:
            json.dump(document, stream, ensure_ascii=False, indent=indent)
            stream.write("\n")
        return
    results = document["results"]
    results["tests"] = None  # placeholder, written below one by one
    head = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    marker = '"tests":null'
    cut = head.index(marker)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    with open(path, "w", encoding="utf-8", errors="backslashreplace") as stream:
        stream.write(head[:cut])
        stream.write('"tests":[')
        first = True
        for result in run.tests:
            if not first:
                stream.write(",\n")
            stream.write(dumps(ctrf_test(result)))
            first = False
        stream.write("]")
        stream.write(head[cut + len(marker) :])
        stream.write("\n")


def validate_ctrf(document: Mapping[str, Any], *, source: str = "document") -> None:
    """Check ``document`` against the official CTRF JSON schema shipped in this package.

    Raises:
        SchemaValidationError: listing every violation (``"$.results.tests[3].status: ..."``).

    Examples:
        Check a CTRF file another tool wrote before publishing it:

        >>> import json, pathlib, tempfile
        >>> from maestro_test_result_aggregator import SchemaValidationError, validate_ctrf
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "ctrf-report.json"
        >>> _ = path.write_text(  # as a jest reporter wrote it
        ...     '{"reportFormat": "CTRF", "specVersion": "0.0.0", "results": {"tool": {"name": "jest"},'
        ...     ' "summary": {"tests": 1, "passed": 1, "failed": 0, "skipped": 0, "pending": 0, "other": 0,'
        ...     ' "start": 0, "stop": 120}, "tests": [{"name": "adds to cart", "status": "pass", "duration": 120}]}}'
        ... )
        >>> try:
        ...     validate_ctrf(json.loads(path.read_text()), source=path.name)
        ... except SchemaValidationError as error:
        ...     print(error)
        ctrf-report.json is not valid CTRF: $.results.tests[0].status: 'pass' is not one of
        ['passed', 'failed', 'skipped', 'pending', 'other']

        A valid document passes silently (``write_ctrf`` always writes valid ones).
    """
    errors = schema_errors(dict(document), ctrf_schema(), ctrf_schema())
    if errors:
        raise SchemaValidationError(errors, source=source)


# ----------------------------------------------------------------------------- reading


def _seconds(value: Any, what: str = "duration") -> float | None:
    if value is None or isinstance(value, bool):
        return None
    return seconds(value, f"{what} (milliseconds)", scale=1000.0)


def _time(value: Any, what: str) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    return epoch(value, f"{what} (epoch milliseconds)", scale=1000.0)


def _text(value: Any, what: str) -> str | None:
    if isinstance(value, list):
        return "\n".join(text(v, what) for v in value)
    return optional_text(value, what)


def _status(value: Any) -> Status:
    status = _STATUSES.get(value) if isinstance(value, str) else None
    if status is None:
        raise ValueError(f"unknown status {value!r}")
    return status


def _attachments_in(records: Any) -> tuple[Attachment, ...]:
    if not records:
        return ()
    if not isinstance(records, list):
        raise ValueError(f"attachments must be a list, got {records!r}")
    found = []
    for item in records:
        record = mapping(item, "attachment")
        content_type = record.get("contentType", record.get("content_type", ""))
        found.append(
            Attachment(
                text(record.get("name", ""), "attachment name"),
                text(content_type, "attachment contentType"),
                text(record.get("path", ""), "attachment path"),
            )
        )
    return tuple(found)


def _attempt_in(item: Any) -> Attempt:
    record = mapping(item, "attempt")
    extra = record.get("extra") or {}
    return Attempt(
        _status(record.get("status")),
        duration=_seconds(record.get("duration")) or 0.0,
        raw_status=optional_text(extra.get("rawStatus"), "rawStatus") if isinstance(extra, dict) else None,
        message=_text(record.get("message"), "message"),
        trace=_text(record.get("trace"), "trace"),
        start=_time(record.get("start"), "start"),
        stdout=_text(record.get("stdout"), "stdout"),
        stderr=_text(record.get("stderr"), "stderr"),
        attachments=_attachments_in(record.get("attachments")),
    )


def _retries(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RETRIES:
        raise ValueError(f"retries must be a whole number from 0 to {MAX_RETRIES}, got {value!r}")
    return value


def _attempts(record: Mapping[str, Any], final: Attempt, maestro: Mapping[str, Any]) -> tuple[Attempt, ...]:
    listed = record.get("retryAttempts")
    legacy = record.get("attempts")
    if listed is None and isinstance(legacy, list):
        listed = legacy
    if listed is not None and not isinstance(listed, list):
        raise ValueError(f"retryAttempts must be a list, got {listed!r}")
    retries = _retries(record.get("retries", record.get("retry")))
    if retries is None and isinstance(legacy, int):
        retries = _retries(legacy)
    flaky = bool(record.get("flaky", record.get("flake", False)))
    if "finalAttempt" in maestro:
        final = _attempt_in(maestro["finalAttempt"])
    if listed:
        earlier = [_attempt_in(a) for a in listed]
        includes_final = retries is not None and len(earlier) == retries + 1
        if includes_final:
            return tuple(earlier)
        return (*earlier, final)
    if retries and record.get("flaky") is False and final.status is Status.PASSED:
        # An explicit "flaky": false on a passed test: ``retries`` states the retry policy (CTRF
        # allows that), not failed attempts.
        return ()
    if retries:
        # Retried without details: every earlier attempt failed (that is why it was retried).
        return (*(Attempt(Status.FAILED) for _ in range(retries)), final)
    if flaky and final.status is Status.PASSED:
        return (Attempt(Status.FAILED), final)
    return ()


def _suite(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(">")] if value else []
    return suite_path(value, "suite")


def _line(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"line must be an integer, got {value!r}")
    return value


def _parameters(value: Any) -> Mapping[str, str]:
    parameters = mapping(value, "parameters")
    if not parameters:
        return EMPTY
    return {clean(k): clean(v) if isinstance(v, str) else json.dumps(v) for k, v in parameters.items()}


def _result_in(item: Any, limit: int = DEFAULT_OUTPUT_LIMIT) -> TestResult:
    record = mapping(item, "test")
    extra = mapping(record.get("extra"), "extra")
    maestro = mapping(extra.pop("maestro", None), "extra.maestro")
    final = Attempt(
        _status(record.get("status")),
        duration=_seconds(record.get("duration")) or 0.0,
        raw_status=optional_text(record.get("rawStatus"), "rawStatus"),
        message=_text(record.get("message"), "message"),
        trace=_text(record.get("trace"), "trace"),
        start=_time(record.get("start"), "start"),
        stdout=_text(record.get("stdout"), "stdout"),
        stderr=_text(record.get("stderr"), "stderr"),
        attachments=_attachments_in(record.get("attachments")),
    )
    name = record.get("name")
    if not isinstance(name, str):
        raise ValueError(f"test name must be a string, got {name!r}")
    result = TestResult(
        name=clean(name),
        status=final.status,
        duration=final.duration,
        suite=_suite(record.get("suite")),
        file=optional_text(record.get("filePath"), "filePath"),
        classname=optional_text(maestro.get("classname"), "classname"),
        line=_line(record.get("line")),
        parameters=_parameters(record.get("parameters")),
        raw_status=final.raw_status,
        message=final.message,
        trace=final.trace,
        stdout=final.stdout,
        stderr=final.stderr,
        tags=strings(record.get("tags"), "tags"),
        attachments=final.attachments,
        attempts=_attempts(record, final, maestro),
        start=final.start,
        extra=extra or EMPTY,
    )
    return bounded_result(result, limit)


def _environment_in(value: Any) -> Environment:
    env = mapping(value, "results.environment")
    env_extra = {k: clean(json.dumps(v) if isinstance(v, bool) else str(v)) for k, v in env.items() if k in _ENV_KEYS}
    env_extra.update(string_map(env.get("extra"), "results.environment.extra"))
    shard = env.get("shardId")
    return Environment(
        commit=optional_text(env.get("commit"), "commit"),
        branch=optional_text(env.get("branchName"), "branchName"),
        build_url=optional_text(env.get("buildUrl"), "buildUrl"),
        shard=None if shard is None else text(shard, "shardId"),
        extra=env_extra or EMPTY,
    )


def run_from_ctrf(document: Mapping[str, Any], *, source: str = "document") -> TestRun:
    """Build a ``TestRun`` from a parsed CTRF document (lenient: legacy aliases accepted).

    Raises:
        ReportParseError: naming ``source`` and the index of the bad test.
    """
    results = document.get("results")
    if not isinstance(results, dict):
        raise ReportParseError(source, "not CTRF: no 'results' object")
    try:
        tool = mapping(results.get("tool"), "results.tool")
        summary = mapping(results.get("summary"), "results.summary")
        extra = mapping(document.get("extra"), "extra")
        maestro = mapping(extra.pop("maestro", None), "extra.maestro")
        run = TestRun(
            tool=Tool(
                text(tool.get("name", "unknown"), "tool name"), optional_text(tool.get("version"), "tool version")
            ),
            environment=_environment_in(results.get("environment")),
            start=None if maestro.get("startUnknown") else _time(summary.get("start"), "summary.start"),
            stop=None if maestro.get("stopUnknown") else _time(summary.get("stop"), "summary.stop"),
            run_id=optional_text(document.get("runId"), "runId"),
            extra=extra or EMPTY,
        )
    except (TypeError, ValueError, AttributeError) as error:
        raise ReportParseError(source, f"bad CTRF header: {error}") from None
    tests = results.get("tests")
    if not isinstance(tests, list):
        raise ReportParseError(source, "not CTRF: 'results.tests' is not a list")
    append = run.tests.append
    for index, record in enumerate(tests):
        if isinstance(record, TestResult):  # already converted while parsing (see read_ctrf)
            append(record)
            continue
        try:
            append(_result_in(record))
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            raise ReportParseError(source, f"bad test at results.tests[{index}]: {error}") from None
    _seconds_not_milliseconds(run)
    return bounded_run(run)


def _seconds_not_milliseconds(run: TestRun) -> None:
    """Test times written in epoch seconds where CTRF wants milliseconds (what
    playwright-ctrf-json-reporter 0.0.29 writes for ``start``/``stop`` while its summary is in
    milliseconds): read as milliseconds they land in January 1970, three orders of magnitude
    before the run, and would sort every attempt first. Such a time, that falls within a day of
    the run once taken as seconds, is taken as seconds."""
    start = run.start
    if start is None or start < 86_400 * 1000:
        return
    low, high = start - 86_400, (run.stop if run.stop is not None else start) + 86_400
    limit = start / 100
    for result in run.tests:
        if result.start is not None and result.start < limit and low <= result.start * 1000 <= high:
            result.start *= 1000
            result.attempts = tuple(
                replace(a, start=a.start * 1000) if a.start is not None and a.start < limit else a
                for a in result.attempts
            )


def read_ctrf(path: str | os.PathLike[str], *, text_limit: int = DEFAULT_OUTPUT_LIMIT) -> TestRun:
    """Read a CTRF JSON file, streaming: each test object is decoded and converted on its own,
    so memory stays bounded by the largest test, not the file.

    Messages, traces and output are cut to about ``text_limit`` characters (head and tail kept),
    as every reader does.

    Raises:
        ReportParseError: the file is not JSON (with line and column) or not CTRF.
    """
    source = os.fspath(path)
    with open(source, "rb") as stream:
        reader = JsonStream(stream, source)
        document: dict[str, Any] = {}
        for key in reader.document("not CTRF: the document is not a JSON object"):
            if key == "results" and reader.peek() == "{":
                document[key] = _read_results(reader, text_limit)
            else:
                document[key] = reader.value()
        reader.end()
    return run_from_ctrf(document, source=source)


def _read_results(reader: JsonStream, limit: int) -> dict[str, Any]:
    """The ``results`` object, its ``tests`` converted one by one as they stream past."""
    results: dict[str, Any] = {}
    for key in reader.object():
        if key == "tests" and reader.peek() == "[":
            tests: list[Any] = []
            append = tests.append
            for index in reader.array():
                record = reader.value()
                if isinstance(record, dict):
                    try:
                        append(_result_in(record, limit))
                    except (TypeError, ValueError, AttributeError, KeyError) as error:
                        raise reader.error(f"bad test at results.tests[{index}]: {error}") from None
                else:
                    append(record)  # run_from_ctrf reports it with its index
            results[key] = tests
        else:
            results[key] = reader.value()
    return results
