"""Playwright Test's JSON reporter (``--reporter=json``).

One result per spec and project (the project name is kept as the ``project`` parameter, so
the same test in Chromium and Firefox has two ids); the suite path is the file then every
``describe`` title; every retry Playwright ran is kept as an attempt (``results[]``), so its own
"flaky" verdict (failed, then passed on retry) is preserved. ``timedOut`` and ``interrupted``
are failures with that raw status.

Examples:
    >>> import json, tempfile, pathlib
    >>> doc = {
    ...     "config": {},
    ...     "suites": [
    ...         {
    ...             "title": "a.spec.ts",
    ...             "file": "a.spec.ts",
    ...             "specs": [
    ...                 {
    ...                     "title": "logs in",
    ...                     "line": 3,
    ...                     "tests": [
    ...                         {
    ...                             "projectName": "chromium",
    ...                             "results": [
    ...                                 {
    ...                                     "status": "failed",
    ...                                     "duration": 10,
    ...                                     "retry": 0,
    ...                                     "errors": [{"message": "boom"}],
    ...                                 },
    ...                                 {"status": "passed", "duration": 12, "retry": 1},
    ...                             ],
    ...                         }
    ...                     ],
    ...                 }
    ...             ],
    ...         }
    ...     ],
    ...     "stats": {},
    ... }
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "pw.json"
    >>> _ = path.write_text(json.dumps(doc))
    >>> test = read_playwright_json(path).tests[0]
    >>> test.flaky, test.suite, dict(test.parameters)
    (True, ('a.spec.ts',), {'project': 'chromium'})
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Final

from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats._jsonstream import JsonStream
from maestro_test_result_aggregator.formats._values import (
    MAX_SUITE_DEPTH,
    bounded_result,
    bounded_run,
    epoch,
    mapping,
    optional_text,
    seconds,
    strings,
    text,
)
from maestro_test_result_aggregator.model import (
    DEFAULT_OUTPUT_LIMIT,
    EMPTY,
    Attachment,
    Attempt,
    Status,
    TestResult,
    TestRun,
    Tool,
    bound_text,
)

__all__ = ["read_playwright_json", "run_from_playwright"]

_STATUS: Final = {
    "passed": Status.PASSED,
    "failed": Status.FAILED,
    "timedOut": Status.FAILED,
    "interrupted": Status.FAILED,
    "skipped": Status.SKIPPED,
}


def _iso_seconds(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return epoch(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp(), "startTime")
    except ValueError:
        return None


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{what} must be a list, got {value!r}")
    return value


def _output(chunks: Any) -> str | None:
    if not chunks:
        return None
    return "".join(
        optional_text(c.get("text"), "output text") or "" if isinstance(c, dict) else text(c, "output")
        for c in _list(chunks, "stdout/stderr")
    )


def _attempt(item: Any, limit: int) -> Attempt:
    record = mapping(item, "result")
    raw = text(record.get("status", "other"), "status")
    errors = _list(record.get("errors"), "errors") or ([record["error"]] if record.get("error") else [])
    message = trace = None
    if errors:
        first = mapping(errors[0], "error")
        message = optional_text(first.get("message"), "error message")
        trace = optional_text(first.get("stack"), "error stack") or message
    attachments = []
    for attachment in _list(record.get("attachments"), "attachments"):
        found = mapping(attachment, "attachment")
        if found.get("path"):
            attachments.append(
                Attachment(
                    text(found.get("name", ""), "attachment name"),
                    text(found.get("contentType", ""), "attachment contentType"),
                    text(found["path"], "attachment path"),
                )
            )
    return Attempt(
        _STATUS.get(raw, Status.OTHER),
        duration=seconds(record.get("duration") or 0, "duration (milliseconds)", scale=1000.0),
        raw_status=raw,
        message=bound_text(message, limit),
        trace=bound_text(trace, limit),
        start=_iso_seconds(record.get("startTime")),
        stdout=bound_text(_output(record.get("stdout")), limit),
        stderr=bound_text(_output(record.get("stderr")), limit),
        attachments=tuple(attachments),
    )


def _spec_results(item: Any, here: tuple[str, ...], file: Any, limit: int) -> Iterator[TestResult]:
    """The results of one spec (one per project), in a suite at path ``here`` of file ``file``."""
    spec = mapping(item, "spec")
    for entry in _list(spec.get("tests"), "tests"):
        test = mapping(entry, "test")
        tries = [_attempt(r, limit) for r in _list(test.get("results"), "results")]
        if not tries:
            tries = [Attempt(Status.SKIPPED, raw_status="skipped")]
        if test.get("status") == "skipped" and tries[-1].status is not Status.FAILED:
            tries[-1] = Attempt(Status.SKIPPED, raw_status="skipped", duration=tries[-1].duration)
        final = tries[-1]
        project = optional_text(test.get("projectName") or test.get("projectId"), "projectName")
        tags = strings(spec.get("tags"), "tags")
        annotations = _list(test.get("annotations"), "annotations")
        line = spec.get("line")
        if line is not None and (not isinstance(line, int) or isinstance(line, bool)):
            raise ValueError(f"line must be an integer, got {line!r}")
        yield bounded_result(
            TestResult(
                name=text(spec.get("title", ""), "title"),
                **final.outcome(),
                suite=here,
                file=optional_text(spec.get("file") or file, "file"),
                line=line,
                parameters={"project": project} if project else EMPTY,
                tags=tags,
                attempts=tuple(tries) if len(tries) > 1 else (),
                extra={"annotations": list(annotations)} if annotations else EMPTY,
            ),
            limit,
        )


def _here(path: tuple[str, ...], title: Any) -> tuple[str, ...]:
    title = "" if title is None else text(title, "suite title")
    if title and len(path) >= MAX_SUITE_DEPTH:
        raise ValueError(f"suites nested more than {MAX_SUITE_DEPTH} deep")
    return (*path, title) if title else path


def _walk(item: Any, path: tuple[str, ...], limit: int) -> Iterator[TestResult]:
    suite = mapping(item, "suite")
    here = _here(path, suite.get("title", ""))
    for spec in _list(suite.get("specs"), "specs"):
        yield from _spec_results(spec, here, suite.get("file"), limit)
    for child in _list(suite.get("suites"), "suites"):
        yield from _walk(child, here, limit)


def _stream_suite(  # noqa: PLR0912 - one branch per key and key order
    reader: JsonStream, path: tuple[str, ...], limit: int, out: list[TestResult]
) -> None:
    """One suite object read from ``reader``, its results added to ``out`` in ``_walk``'s order.

    Playwright writes ``title`` and ``file`` before ``specs`` and ``suites``: then each spec is
    decoded and converted on its own and child suites are streamed recursively (memory bounded
    by the largest spec). In any other key order the specs (or child suites) that arrive before
    the suite's title and file are kept until the suite ends, so the results are the same."""
    fields: dict[str, Any] = {}
    spec_at = len(out)  # where this suite's spec results go: before its child suites' results
    pending_specs: list[Any] = []
    pending_suites: list[Any] = []
    for key in reader.object():
        if key == "specs" and reader.peek() == "[":
            for _ in reader.array():
                spec = reader.value()
                if "title" in fields and "file" in fields:
                    results = list(_spec_results(spec, _here(path, fields["title"]), fields["file"], limit))
                    out[spec_at:spec_at] = results
                    spec_at += len(results)
                else:
                    pending_specs.append(spec)
        elif key == "suites" and reader.peek() == "[":
            for _ in reader.array():
                if "title" in fields and not pending_specs and reader.peek() == "{":
                    _stream_suite(reader, _here(path, fields["title"]), limit, out)
                else:
                    pending_suites.append(reader.value())
        elif key in ("title", "file"):
            fields[key] = reader.value()
        else:
            reader.skip()
    here = _here(path, fields.get("title", ""))
    if pending_specs:
        results = [r for spec in pending_specs for r in _spec_results(spec, here, fields.get("file"), limit)]
        out[spec_at:spec_at] = results
    for child in pending_suites:
        out.extend(_walk(child, here, limit))


def run_from_playwright(
    document: Mapping[str, Any], *, source: str = "document", text_limit: int = DEFAULT_OUTPUT_LIMIT
) -> TestRun:
    """Build a ``TestRun`` from a parsed Playwright JSON report.

    Raises:
        ReportParseError: not a Playwright JSON report.
    """
    suites = document.get("suites")
    if not isinstance(suites, list):
        raise ReportParseError(source, "not a Playwright JSON report (no 'suites' list)")
    try:
        config = mapping(document.get("config"), "config")
        stats = mapping(document.get("stats"), "stats")
        start = _iso_seconds(stats.get("startTime"))
        duration = stats.get("duration")
        run = TestRun(
            tool=Tool("playwright", optional_text(config.get("version"), "config.version")),
            start=start,
            stop=epoch(start + seconds(duration, "stats.duration (milliseconds)", scale=1000.0), "stats end")
            if start is not None and isinstance(duration, int | float)
            else None,
        )
        for suite in suites:
            run.tests.extend(_walk(suite, (), text_limit))
    except (TypeError, ValueError, AttributeError) as error:
        raise ReportParseError(source, f"bad Playwright report: {error}") from None
    except RecursionError:
        raise ReportParseError(source, "bad Playwright report: suites nested too deeply") from None
    return bounded_run(run)


def read_playwright_json(path: str | os.PathLike[str], *, text_limit: int = DEFAULT_OUTPUT_LIMIT) -> TestRun:
    """Read a Playwright JSON reporter file, streaming: suites are walked as they arrive and each
    spec is decoded on its own, so memory stays bounded by the largest spec, not the file.

    Raises:
        ReportParseError: not JSON (line and column) or not a Playwright report.
    """
    source = os.fspath(path)
    header: dict[str, Any] = {}
    tests: list[TestResult] = []
    with open(source, "rb") as stream:
        reader = JsonStream(stream, source)
        for key in reader.document("not a Playwright JSON report"):
            if key == "suites" and reader.peek() == "[":
                header[key] = []
                for _ in reader.array():
                    try:
                        if reader.peek() == "{":
                            _stream_suite(reader, (), text_limit, tests)
                        else:
                            tests.extend(_walk(reader.value(), (), text_limit))
                    except (TypeError, ValueError, AttributeError) as error:
                        raise reader.error(f"bad Playwright report: {error}") from None
                    except RecursionError:
                        raise reader.error("bad Playwright report: suites nested too deeply") from None
            elif key in ("config", "stats", "suites"):
                header[key] = reader.value()
            else:
                reader.skip()
        reader.end()
    run = run_from_playwright(header, source=source, text_limit=text_limit)
    run.tests.extend(tests)
    return run
