"""pytest's own machine-readable outputs: ``pytest-reportlog`` JSONL and ``pytest-json-report``.

reportlog writes one JSON line per test phase (setup, call, teardown) as it goes, and a line
per rerun (pytest-rerunfailures' ``rerun`` outcome), so attempts survive: each
setup-call-teardown cycle of a node id is one attempt. It is read line by line. A setup or
teardown failure is ``failed`` with raw status ``error``; ``xfail``/``xpass`` keep their word
in ``raw_status``.

pytest-json-report writes one JSON document with a ``tests`` list (no attempts: it keeps only
the last run of a rerun test, with the outcome ``rerun``; that becomes one earlier failed attempt,
raw status ``rerun``, then the last run's own outcome from its phases).

Examples:
    >>> import json, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "log.jsonl"
    >>> lines = [
    ...     {"$report_type": "SessionStart", "pytest_version": "8.3.0"},
    ...     {
    ...         "$report_type": "TestReport",
    ...         "nodeid": "t.py::test_a",
    ...         "when": "call",
    ...         "outcome": "passed",
    ...         "location": ["t.py", 0, "test_a"],
    ...         "duration": 0.5,
    ...         "longrepr": None,
    ...         "sections": [],
    ...     },
    ...     {"$report_type": "SessionFinish", "exitstatus": 0},
    ... ]
    >>> _ = path.write_text("\\n".join(json.dumps(line) for line in lines))
    >>> [(t.name, t.status.value, t.line) for t in read_pytest_reportlog(path).tests]
    [('test_a', 'passed', 1)]
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats._jsonstream import JsonStream
from maestro_test_result_aggregator.formats._values import (
    bounded_result,
    bounded_run,
    clean,
    epoch,
    mapping,
    optional_text,
    seconds,
    strings,
    text,
)
from maestro_test_result_aggregator.formats.jsonl import numbered_lines, parse_line
from maestro_test_result_aggregator.model import (
    DEFAULT_OUTPUT_LIMIT,
    EMPTY,
    Attempt,
    Status,
    TestResult,
    TestRun,
    Tool,
    bound_text,
)

__all__ = ["read_pytest_json_report", "read_pytest_reportlog", "split_nodeid"]

_PHASES: Final = ("setup", "call", "teardown")


def split_nodeid(nodeid: str) -> tuple[str | None, str | None, str]:
    """``"tests/test_a.py::TestX::test_y[1]"`` -> ``("tests/test_a.py", "TestX", "test_y[1]")``."""
    parts = nodeid.split("::")
    if len(parts) == 1:
        return None, None, nodeid
    classname = "::".join(parts[1:-1]) or None
    return parts[0], classname, parts[-1]


def _nodeid_parts(nodeid: str) -> set[str]:
    """The names pytest puts in ``keywords`` for the node itself (path parts, class, function)."""
    parts = set(nodeid.replace("::", "/").split("/"))
    parts.update(part.split("[", 1)[0] for part in list(parts))
    parts.add("")
    return parts


def _longrepr_text(longrepr: Any) -> tuple[str | None, str | None]:
    """(message, trace) from a serialised pytest ``longrepr``."""
    if longrepr is None:
        return None, None
    if isinstance(longrepr, str):
        longrepr = clean(longrepr)
        last = longrepr.strip().splitlines()[-1] if longrepr.strip() else None
        return last, longrepr
    if isinstance(longrepr, list) and len(longrepr) == 3:  # skip: [path, lineno, "Skipped: reason"]
        return text(longrepr[2], "longrepr").removeprefix("Skipped: "), None
    if isinstance(longrepr, dict):
        crash = mapping(longrepr.get("reprcrash"), "reprcrash")
        message = optional_text(crash.get("message"), "reprcrash message")
        lines: list[str] = []
        for entry in mapping(longrepr.get("reprtraceback"), "reprtraceback").get("reprentries") or ():
            data = mapping(mapping(entry, "reprentry").get("data"), "reprentry data")
            lines.extend(strings(data.get("lines"), "reprentry lines"))
            location = mapping(data.get("reprfileloc"), "reprfileloc")
            if location:
                lines.append(f"{location.get('path')}:{location.get('lineno')}: {location.get('message', '')}")
        lines.extend(body for _, body in _sections(longrepr.get("sections")))
        return message, clean("\n".join(lines)) if lines else message
    return None, clean(str(longrepr))


def _sections(value: Any) -> list[tuple[str, str]]:
    """pytest's captured ``sections``: ``[title, body]`` pairs."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"sections must be a list, got {value!r}")
    found = []
    for section in value:
        if not isinstance(section, list | tuple) or len(section) < 2:
            raise ValueError(f"a section must be a [title, body] pair, got {section!r}")
        found.append((text(section[0], "section title"), text(section[1], "section body")))
    return found


def _check_report(record: dict[str, Any]) -> dict[str, Any]:
    """A ``TestReport`` record with every field the reader uses checked and normalised (its
    ``longrepr`` already turned into ``(message, trace)``): ``ValueError`` when one is of the
    wrong kind, while the line number is still known."""
    report = dict(record)
    report["nodeid"] = text(record.get("nodeid", ""), "nodeid")
    report["when"] = text(record.get("when", "call"), "when")
    report["outcome"] = optional_text(record.get("outcome"), "outcome")
    report["duration"] = seconds(record.get("duration") or 0.0, "duration")
    for key in ("start", "stop"):
        if record.get(key) is not None:
            report[key] = epoch(record[key], key)
    report["sections"] = _sections(record.get("sections"))
    report["longrepr"] = _longrepr_text(record.get("longrepr"))
    location = record.get("location")
    if location is not None:
        if not isinstance(location, list) or len(location) < 2:
            raise ValueError(f"location must be a [path, line, name] list, got {location!r}")
        report["location"] = [optional_text(location[0], "location path"), *location[1:]]
    if "wasxfail" in record:
        report["wasxfail"] = text(record["wasxfail"], "wasxfail")
    return report


@dataclass
class _Phases:
    """The reports of one attempt of one node id, phase by phase."""

    reports: dict[str, dict[str, Any]] = field(default_factory=dict)


def _attempt_from(phases: Mapping[str, Mapping[str, Any]], limit: int) -> tuple[Attempt, dict[str, Any]]:
    status = Status.PASSED
    raw: str | None = None
    message = trace = None
    duration = 0.0
    start: float | None = None
    stdout: list[str] = []
    stderr: list[str] = []
    info: dict[str, Any] = {}
    for when in _PHASES:
        report = phases.get(when)
        if report is None:
            continue
        info.setdefault("location", report.get("location"))
        info.setdefault("keywords", report.get("keywords"))
        duration += report["duration"]
        if start is None and report.get("start") is not None:
            start = report["start"]
        for title, body in report["sections"]:
            if "stdout" in title:
                stdout.append(body)
            elif "stderr" in title:
                stderr.append(body)
        outcome = report.get("outcome")
        wasxfail = "wasxfail" in report
        if outcome in ("failed", "rerun") and status is not Status.FAILED:
            status = Status.FAILED
            raw = "rerun" if outcome == "rerun" else ("failed" if when == "call" else "error")
            message, trace = report["longrepr"]
        elif outcome == "skipped" and status is Status.PASSED:
            status = Status.SKIPPED
            raw = "xfail" if wasxfail else "skipped"
            message = report["longrepr"][0]
            if wasxfail and report.get("wasxfail"):
                message = report["wasxfail"]
        elif outcome == "passed" and wasxfail and when == "call" and status is Status.PASSED:
            raw = "xpass"
    attempt = Attempt(
        status,
        duration=duration,
        raw_status=raw,
        message=bound_text(message, limit),
        trace=bound_text(trace, limit),
        start=start,
        stdout=bound_text("".join(stdout), limit) if stdout else None,
        stderr=bound_text("".join(stderr), limit) if stderr else None,
    )
    return attempt, info


def _result(nodeid: str, attempts: list[Attempt], info: Mapping[str, Any]) -> TestResult:
    file, classname, name = split_nodeid(nodeid)
    location = info.get("location")
    line: int | None = None
    if isinstance(location, list | tuple) and len(location) >= 2 and isinstance(location[1], int):
        line = location[1] + 1  # pytest's locations are 0-based
        file = file or location[0]
    final = attempts[-1]
    keywords = info.get("keywords")
    tags: tuple[str, ...] = ()
    if isinstance(keywords, dict):
        own = _nodeid_parts(nodeid)
        tags = tuple(sorted(k for k, v in keywords.items() if v == 1 and k not in own and not k.startswith("_")))
    return TestResult(
        name=name,
        **final.outcome(),
        file=file,
        classname=classname,
        line=line,
        tags=tags,
        attempts=tuple(attempts) if len(attempts) > 1 else (),
    )


def read_pytest_reportlog(path: str | os.PathLike[str], *, text_limit: int = DEFAULT_OUTPUT_LIMIT) -> TestRun:
    """Read a ``pytest --report-log`` JSONL file, one line at a time. A log without the
    ``SessionFinish`` record pytest always writes last comes from a process that died: the test it
    was running (no teardown) is failed with raw status ``crashed``, or, dead between tests, one
    failed result named ``pytest session`` says so, so a gate never passes a crashed run.

    Raises:
        ReportParseError: a line is not JSON (line and column) or not a reportlog record.
    """
    source = os.fspath(path)
    run = TestRun(tool=Tool("pytest"))
    open_attempts: dict[str, dict[str, dict[str, Any]]] = {}
    attempts: dict[str, list[Attempt]] = {}
    infos: dict[str, dict[str, Any]] = {}
    seen_any = finished = False
    with open(source, "rb") as stream:
        for at, line in numbered_lines(stream, source):
            if not line.strip():
                continue
            record = parse_line(line, source, at)
            if not isinstance(record, dict) or "$report_type" not in record:
                raise ReportParseError(source, "not a pytest reportlog record (no $report_type)", line=at)
            seen_any = True
            kind = record["$report_type"]
            try:
                if kind == "SessionStart":
                    run.tool = Tool("pytest", optional_text(record.get("pytest_version"), "pytest_version"))
                elif kind == "TestReport":
                    _add_report(_check_report(record), run, open_attempts, attempts, infos, text_limit)
                elif kind == "SessionFinish":
                    finished = True
            except (TypeError, ValueError, AttributeError, KeyError) as error:
                raise ReportParseError(source, f"bad record: {error}", line=at) from None
    if not seen_any:
        raise ReportParseError(source, "empty reportlog")
    interrupted = False
    for nodeid, phases in open_attempts.items():
        if phases:
            _close(nodeid, phases, attempts, infos, text_limit)
            if not finished:  # the process died during this test: it did not pass
                attempts[nodeid][-1] = _crashed(attempts[nodeid][-1])
                interrupted = True
    run.tests.extend(
        bounded_result(_result(nodeid, tries, infos[nodeid]), text_limit) for nodeid, tries in attempts.items()
    )
    if not finished and not interrupted:
        run.tests.append(TestResult("pytest session", **_crashed(Attempt(Status.FAILED)).outcome()))
    return bounded_run(run)


_CRASHED: Final = (
    "the pytest process ended here: the reportlog has no SessionFinish record (killed, crashed or out of memory?)"
)


def _crashed(attempt: Attempt) -> Attempt:
    """``attempt`` as the one a dead process never finished: failed, saying so."""
    return Attempt(
        Status.FAILED,
        attempt.duration,
        "crashed",
        _CRASHED if attempt.message is None else f"{_CRASHED}\n{attempt.message}",
        attempt.trace,
        attempt.start,
        attempt.stdout,
        attempt.stderr,
        attempt.attachments,
    )


def _add_report(  # noqa: PLR0917 - the reader's state, as it is
    record: dict[str, Any],
    run: TestRun,
    open_attempts: dict[str, dict[str, dict[str, Any]]],
    attempts: dict[str, list[Attempt]],
    infos: dict[str, dict[str, Any]],
    limit: int,
) -> None:
    """One checked ``TestReport`` added to the attempt it belongs to."""
    nodeid = record["nodeid"]
    when = record["when"]
    phases = open_attempts.setdefault(nodeid, {})
    if when in phases or (when == "setup" and phases):
        _close(nodeid, phases, attempts, infos, limit)
        phases = open_attempts[nodeid] = {}
    phases[when] = record
    if record.get("start") is not None and (run.start is None or record["start"] < run.start):
        run.start = record["start"]
    if record.get("stop") is not None and (run.stop is None or record["stop"] > run.stop):
        run.stop = record["stop"]
    # An attempt ends with its teardown. A ``rerun`` report does not end it: pytest-rerunfailures
    # 16.6.1+ sends that attempt's teardown after it (older versions do not, and the next
    # attempt's setup then closes it, above).
    if when == "teardown":
        _close(nodeid, phases, attempts, infos, limit)
        open_attempts[nodeid] = {}


def _close(
    nodeid: str,
    phases: dict[str, dict[str, Any]],
    attempts: dict[str, list[Attempt]],
    infos: dict[str, dict[str, Any]],
    limit: int,
) -> None:
    attempt, info = _attempt_from(phases, limit)
    attempts.setdefault(nodeid, []).append(attempt)
    infos.setdefault(nodeid, info)


_JSON_REPORT_STATUS: Final = {
    "passed": (Status.PASSED, None),
    "failed": (Status.FAILED, "failed"),
    "error": (Status.FAILED, "error"),
    "skipped": (Status.SKIPPED, "skipped"),
    "xfailed": (Status.SKIPPED, "xfail"),
    "xpassed": (Status.PASSED, "xpass"),
}


def _json_report_test(record: Any, limit: int) -> TestResult:
    result = _json_report_final(record, limit)
    if result.raw_status != "rerun":
        return result
    # pytest-rerunfailures ran it again after a failure; pytest-json-report keeps only the last
    # run (its phases) and the word ``rerun``: one earlier failed attempt is all that is known.
    earlier = Attempt(
        Status.FAILED, raw_status="rerun", message="failed, then rerun (pytest-json-report keeps no details)"
    )
    result = replace(result, raw_status=None if result.status is Status.PASSED else "failed")
    return replace(result, attempts=(earlier, result.as_attempt()))


def _json_report_final(record: Any, limit: int) -> TestResult:
    record = mapping(record, "test")
    nodeid = text(record["nodeid"], "nodeid")
    file, classname, name = split_nodeid(nodeid)
    outcome = optional_text(record.get("outcome"), "outcome")
    status, raw = _JSON_REPORT_STATUS.get(str(outcome), (Status.OTHER, str(outcome)))
    rerun = outcome == "rerun"
    if rerun:
        status, raw = Status.PASSED, "rerun"
    message = trace = None
    stdout: list[str] = []
    stderr: list[str] = []
    duration = 0.0
    for when in _PHASES:
        phase = record.get(when)
        if not isinstance(phase, dict):
            continue
        duration += seconds(phase.get("duration") or 0.0, f"{when} duration")
        if phase.get("stdout"):
            stdout.append(text(phase["stdout"], f"{when} stdout"))
        if phase.get("stderr"):
            stderr.append(text(phase["stderr"], f"{when} stderr"))
        if rerun and phase.get("outcome") in ("failed", "error"):
            status = Status.FAILED  # the last run failed too (pytest-json-report then says ``failed``)
        if message is None and phase.get("outcome") in ("failed", "skipped"):
            crash = mapping(phase.get("crash"), f"{when} crash")
            message = optional_text(crash.get("message"), f"{when} crash message")
            longrepr = phase.get("longrepr")
            trace = clean(longrepr) if isinstance(longrepr, str) else None
            if message is None and trace is not None and trace.startswith("("):
                message = trace
    lineno = record.get("lineno")
    keywords = record.get("keywords") or []
    if not isinstance(keywords, list | dict):
        raise ValueError(f"keywords must be a list, got {keywords!r}")
    own = _nodeid_parts(nodeid)
    return TestResult(
        name=name,
        status=status,
        duration=seconds(duration, "duration"),
        file=file,
        classname=classname,
        line=lineno + 1 if isinstance(lineno, int) and not isinstance(lineno, bool) else None,
        raw_status=raw,
        message=bound_text(message, limit),
        trace=bound_text(trace, limit),
        stdout=bound_text("".join(stdout), limit) if stdout else None,
        stderr=bound_text("".join(stderr), limit) if stderr else None,
        tags=tuple(clean(k) for k in keywords if isinstance(k, str) and k not in own and not k.startswith("_")),
        extra={"metadata": record["metadata"]} if record.get("metadata") else EMPTY,
    )


def read_pytest_json_report(path: str | os.PathLike[str], *, text_limit: int = DEFAULT_OUTPUT_LIMIT) -> TestRun:
    """Read a ``pytest-json-report`` document, streaming: each ``tests[]`` entry is decoded and
    converted on its own and ``collectors``/``warnings`` are skipped element by element, so
    memory stays bounded by the largest test, not the file.

    Raises:
        ReportParseError: not JSON (line and column) or not a pytest-json-report document.
    """
    source = os.fspath(path)
    tests: list[TestResult] | None = None
    header: dict[str, Any] = {}
    with open(source, "rb") as stream:
        reader = JsonStream(stream, source)
        for key in reader.document("not a pytest-json-report document (no 'tests' list)"):
            if key == "tests" and reader.peek() == "[":
                tests = []
                for index in reader.array():
                    record = reader.value()
                    try:
                        tests.append(bounded_result(_json_report_test(record, text_limit), text_limit))
                    except (KeyError, TypeError, ValueError, AttributeError) as error:
                        raise reader.error(f"bad test at tests[{index}]: {error}") from None
            elif key in ("created", "duration", "environment"):
                header[key] = reader.value()
            else:
                reader.skip()
        reader.end()
    if tests is None:
        raise ReportParseError(source, "not a pytest-json-report document (no 'tests' list)")
    environment = header.get("environment")
    created = header.get("created")
    duration = header.get("duration")
    try:
        version = environment.get("pytest") if isinstance(environment, dict) else None
        run = TestRun(
            tool=Tool("pytest", optional_text(version, "environment.pytest")),
            start=epoch(created, "created") if isinstance(created, int | float) else None,
            tests=tests,
        )
        if run.start is not None and isinstance(duration, int | float):
            run.stop = epoch(run.start + seconds(duration, "duration"), "created + duration")
    except ValueError as error:
        raise ReportParseError(source, f"bad pytest-json-report header: {error}") from None
    return bounded_run(run)
