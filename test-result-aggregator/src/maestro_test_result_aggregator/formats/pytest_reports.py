"""pytest's own machine-readable outputs: ``pytest-reportlog`` JSONL and ``pytest-json-report``.

reportlog writes one JSON line per test phase (setup, call, teardown) as it goes, and a line
per rerun (pytest-rerunfailures' ``rerun`` outcome), so attempts survive: each
setup-call-teardown cycle of a node id is one attempt. It is read line by line. A setup or
teardown failure is ``failed`` with raw status ``error``; ``xfail``/``xpass`` keep their word
in ``raw_status``.

pytest-json-report writes one JSON document with a ``tests`` list (no attempts: it keeps only
the last run of a rerun test).

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
    ... ]
    >>> _ = path.write_text("\\n".join(json.dumps(line) for line in lines))
    >>> [(t.name, t.status.value, t.line) for t in read_pytest_reportlog(path).tests]
    [('test_a', 'passed', 1)]
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats._jsonstream import JsonStream
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
        last = longrepr.strip().splitlines()[-1] if longrepr.strip() else None
        return last, longrepr
    if isinstance(longrepr, list) and len(longrepr) == 3:  # skip: [path, lineno, "Skipped: reason"]
        return str(longrepr[2]).removeprefix("Skipped: "), None
    if isinstance(longrepr, dict):
        crash = longrepr.get("reprcrash") or {}
        message = crash.get("message")
        lines: list[str] = []
        for entry in (longrepr.get("reprtraceback") or {}).get("reprentries", ()):
            data = entry.get("data") or {}
            lines.extend(data.get("lines") or ())
            location = data.get("reprfileloc") or {}
            if location:
                lines.append(f"{location.get('path')}:{location.get('lineno')}: {location.get('message', '')}")
        for _title, body, *_ in longrepr.get("sections") or ():
            lines.append(str(body))
        return message, "\n".join(lines) if lines else message
    return None, str(longrepr)


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
        duration += float(report.get("duration") or 0.0)
        if start is None and report.get("start") is not None:
            start = float(report["start"])
        for title, body, *_ in report.get("sections") or ():
            if "stdout" in title:
                stdout.append(str(body))
            elif "stderr" in title:
                stderr.append(str(body))
        outcome = report.get("outcome")
        wasxfail = "wasxfail" in report
        if outcome in ("failed", "rerun") and status is not Status.FAILED:
            status = Status.FAILED
            raw = "rerun" if outcome == "rerun" else ("failed" if when == "call" else "error")
            message, trace = _longrepr_text(report.get("longrepr"))
        elif outcome == "skipped" and status is Status.PASSED:
            status = Status.SKIPPED
            raw = "xfail" if wasxfail else "skipped"
            message, _ = _longrepr_text(report.get("longrepr"))
            if wasxfail and report.get("wasxfail"):
                message = str(report["wasxfail"])
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


def read_pytest_reportlog(  # noqa: PLR0912 - one branch per record kind and phase
    path: str | os.PathLike[str], *, text_limit: int = DEFAULT_OUTPUT_LIMIT
) -> TestRun:
    """Read a ``pytest --report-log`` JSONL file, one line at a time.

    Raises:
        ReportParseError: a line is not JSON (line and column) or not a reportlog record.
    """
    source = os.fspath(path)
    run = TestRun(tool=Tool("pytest"))
    open_attempts: dict[str, dict[str, dict[str, Any]]] = {}
    attempts: dict[str, list[Attempt]] = {}
    infos: dict[str, dict[str, Any]] = {}
    seen_any = False
    with open(source, encoding="utf-8") as stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ReportParseError(source, f"not JSON: {error.msg}", line=number, column=error.colno) from None
            if not isinstance(record, dict) or "$report_type" not in record:
                raise ReportParseError(source, "not a pytest reportlog record (no $report_type)", line=number)
            seen_any = True
            kind = record["$report_type"]
            if kind == "SessionStart":
                run.tool = Tool("pytest", record.get("pytest_version"))
            elif kind == "TestReport":
                nodeid = str(record.get("nodeid", ""))
                when = record.get("when", "call")
                phases = open_attempts.setdefault(nodeid, {})
                if when in phases or (when == "setup" and phases):
                    _close(nodeid, phases, attempts, infos, text_limit)
                    phases = open_attempts[nodeid] = {}
                phases[when] = record
                if record.get("start") is not None and (run.start is None or record["start"] < run.start):
                    run.start = float(record["start"])
                if record.get("stop") is not None and (run.stop is None or record["stop"] > run.stop):
                    run.stop = float(record["stop"])
                if when == "teardown" or record.get("outcome") == "rerun":
                    _close(nodeid, phases, attempts, infos, text_limit)
                    open_attempts[nodeid] = {}
    if not seen_any:
        raise ReportParseError(source, "empty reportlog")
    for nodeid, phases in open_attempts.items():
        if phases:
            _close(nodeid, phases, attempts, infos, text_limit)
    run.tests.extend(_result(nodeid, tries, infos[nodeid]) for nodeid, tries in attempts.items())
    return run


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


def _json_report_test(record: Mapping[str, Any], limit: int) -> TestResult:
    nodeid = str(record["nodeid"])
    file, classname, name = split_nodeid(nodeid)
    status, raw = _JSON_REPORT_STATUS.get(str(record.get("outcome")), (Status.OTHER, str(record.get("outcome"))))
    message = trace = None
    stdout: list[str] = []
    stderr: list[str] = []
    duration = 0.0
    for when in _PHASES:
        phase = record.get(when)
        if not isinstance(phase, dict):
            continue
        duration += float(phase.get("duration") or 0.0)
        if phase.get("stdout"):
            stdout.append(str(phase["stdout"]))
        if phase.get("stderr"):
            stderr.append(str(phase["stderr"]))
        if message is None and phase.get("outcome") in ("failed", "skipped"):
            crash = phase.get("crash") or {}
            message = crash.get("message")
            longrepr = phase.get("longrepr")
            trace = longrepr if isinstance(longrepr, str) else None
            if message is None and isinstance(longrepr, str) and longrepr.startswith("("):
                message = longrepr
    lineno = record.get("lineno")
    keywords = record.get("keywords") or []
    own = _nodeid_parts(nodeid)
    return TestResult(
        name=name,
        status=status,
        duration=duration,
        file=file,
        classname=classname,
        line=lineno + 1 if isinstance(lineno, int) else None,
        raw_status=raw,
        message=bound_text(message, limit),
        trace=bound_text(trace, limit),
        stdout=bound_text("".join(stdout), limit) if stdout else None,
        stderr=bound_text("".join(stderr), limit) if stderr else None,
        tags=tuple(k for k in keywords if isinstance(k, str) and k not in own and not k.startswith("_")),
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
                        tests.append(_json_report_test(record, text_limit))
                    except (KeyError, TypeError, ValueError, AttributeError) as error:
                        raise reader.error(f"bad test at tests[{index}]: {error!r}") from None
            elif key in ("created", "duration", "environment"):
                header[key] = reader.value()
            else:
                reader.skip()
        reader.end()
    if tests is None:
        raise ReportParseError(source, "not a pytest-json-report document (no 'tests' list)")
    environment = header.get("environment") or {}
    created = header.get("created")
    run = TestRun(
        tool=Tool("pytest", environment.get("pytest") if isinstance(environment, dict) else None),
        start=float(created) if isinstance(created, int | float) else None,
        tests=tests,
    )
    if run.start is not None and isinstance(header.get("duration"), int | float):
        run.stop = run.start + float(header["duration"])
    return run
