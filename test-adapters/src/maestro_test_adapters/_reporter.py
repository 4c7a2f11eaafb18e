"""The controller-side reporter of ``maestro_test_adapters.pytest_plugin`` (imported only when enabled)."""

# ruff: noqa: PLC0415 - the environment detection is imported where it is used

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, Any, Final

import pytest

from maestro_test_adapters._constants import ATTACHMENT_PROPERTY, META_ATTRIBUTE, TIMEOUT_MARK, WARNINGS_ATTRIBUTE
from maestro_test_adapters._nodeid import split_nodeid
from maestro_test_result_aggregator.model import (
    DEFAULT_OUTPUT_LIMIT,
    EMPTY,
    Attachment,
    Attempt,
    Status,
    TestResult,
    Tool,
    bound_text,
)

__all__ = ["MaestroReporter"]


class _Attempt:
    """One attempt being folded from its phase reports (a plain slotted class: a dataclass is
    compiled when the module loads, which every ``--maestro-report`` run pays for)."""

    __slots__ = ("duration", "failed", "labelled", "message", "raw", "rerun", "start", "status", "trace")

    def __init__(self) -> None:
        self.start: float | None = None
        self.duration = 0.0
        self.status = Status.PASSED
        self.raw = "passed"
        self.message: str | None = None
        self.trace: str | None = None
        self.failed = False
        self.rerun = False
        self.labelled = False  # the message names which failure each line is (more than one was kept)


class _Test:
    """What is known of one test while its phase reports arrive."""

    __slots__ = (
        "attachments",
        "attachments_seen",
        "attempt",
        "attempt_attachments",
        "attempts",
        "duration",
        "meta",
        "properties",
        "rerun_closed",
        "rerun_sections_from",
        "sections_from",
        "warnings",
    )

    def __init__(self) -> None:
        self.attempt = _Attempt()
        self.attempts: list[Attempt] = []
        self.meta: Mapping[str, Any] = EMPTY
        self.attachments: list[Attachment] = []
        self.attachments_seen = 0
        self.attempt_attachments: list[Attachment] = []
        self.duration = 0.0
        self.sections_from = 0  # pytest accumulates captured sections across reruns: the attempt's own start here
        self.rerun_closed = False  # the last attempt ended on its ``rerun`` report; a teardown may still follow
        self.rerun_sections_from = 0
        self.properties: list[list[object]] = []  # record_property's (name, value), in order
        self.warnings: list[object] = []  # what each phase emitted, in order


def _crash_message(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    longrepr = report.longrepr
    if longrepr is None:
        return None
    if isinstance(longrepr, tuple):  # (path, lineno, reason) of a skip
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    said = _fixture_lookup_message(longrepr) or _doctest_message(longrepr)
    if said:
        return said
    text = str(longrepr).strip()
    return text.splitlines()[-1] if text else None


def _fixture_lookup_message(longrepr: object) -> str | None:
    """``fixture 'db' not found`` (pytest's ``FixtureLookupErrorRepr``), not only its location."""
    errorstring = getattr(longrepr, "errorstring", None)
    if not isinstance(errorstring, str):
        return None
    lines = [line.strip() for line in errorstring.splitlines() if line.strip()]
    return lines[0] if lines else None


_DOCTEST_SOURCE: Final = re.compile(r"^\d{3}\s")  # "006     >>> add(1, 1)": a numbered source line


def _doctest_message(longrepr: object) -> str | None:
    """The failing example and what went wrong (pytest's ``ReprFailDoctest``): ``>>> add(1, 1)``
    then ``Expected:``/``Got:`` or ``UNEXPECTED EXCEPTION: ...``, not only the location."""
    located = getattr(longrepr, "reprlocation_lines", None)
    if not isinstance(located, Sequence) or not located:
        return None
    lines = [str(line) for line in located[0][1]]
    sources = [i for i, line in enumerate(lines) if _DOCTEST_SOURCE.match(line)]
    if not sources:
        return None
    example = lines[sources[-1]][3:].strip()
    rest = lines[sources[-1] + 1 :]
    if rest and rest[0].startswith("UNEXPECTED EXCEPTION:"):
        rest = rest[:1]
    body = "\n".join(line.rstrip() for line in rest).strip("\n")
    return f"{example}\n{body}" if body else example


def _failure_label(report: pytest.TestReport) -> str | None:
    """``SUBFAILED[msg] (i=1)`` for the report of a failing subtest (pytest >= 9, pytest-subtests,
    ``unittest`` ``subTest``), ``None`` for a test's own phase report."""
    context = getattr(report, "context", None)
    if context is None:
        return None
    msg = getattr(context, "msg", None)
    kwargs = getattr(context, "kwargs", None) or {}
    parts = ["SUBFAILED"]
    if msg:
        parts.append(f"[{msg}]")
    if kwargs:
        parts.append(" (" + ", ".join(f"{key}={value}" for key, value in kwargs.items()) + ")")
    return "".join(parts)


_PYTEST_TIMEOUT_STOP: Final = re.compile(r"Failed: Timeout (?:\(>[0-9.e+-]+s\) from pytest-timeout\.|>[0-9.e+-]+s)")


def _stopped_by_pytest_timeout(message: str | None) -> bool:
    """pytest-timeout's signal method fails the test with ``Failed: Timeout (>Ns) from
    pytest-timeout.`` (2.4 and later) or ``Failed: Timeout >Ns`` (2.3)."""
    return message is not None and _PYTEST_TIMEOUT_STOP.fullmatch(message) is not None


def _fold_failure(attempt: _Attempt, report: pytest.TestReport) -> None:
    """Fold a failed (or ``rerun``) phase report into the attempt. The first failure gives the
    raw outcome; every later one (another failing subtest, a teardown error after a failed call)
    is kept in the message and trace too, each named (pytest's junitxml keeps one ``<failure>``
    per failing subtest)."""
    text = str(report.longreprtext)
    message = _crash_message(report)
    label = _failure_label(report)
    when = report.when
    if not attempt.failed:
        attempt.failed = True
        attempt.status = Status.FAILED
        if when == "call":
            attempt.raw = "xpassed" if text.startswith("[XPASS(strict)]") else "failed"
            if _stopped_by_pytest_timeout(message):
                attempt.raw = "timedOut"
        elif when in ("setup", "teardown"):
            attempt.raw = "error"
        else:
            attempt.raw = "crashed"
        attempt.message = message
        attempt.trace = text or None
        attempt.labelled = label is not None
        if label is not None:
            attempt.message = f"{label}: {message}" if message else label
        return
    if label is None and getattr(report.longrepr, "reprcrash", None) is None:
        return  # the test's own summary of its failed subtests ("contains 2 failed subtests")
    if not attempt.labelled:
        attempt.labelled = True
        first = "setup" if attempt.raw == "error" else "call"
        attempt.message = f"{first}: {attempt.message}" if attempt.message else first
        attempt.trace = f"{first}\n{attempt.trace}" if attempt.trace else None
    name = label or str(when)
    attempt.message = "\n".join(filter(None, [attempt.message, f"{name}: {message or 'failed'}"]))
    attempt.trace = "\n\n".join(filter(None, [attempt.trace, f"{name}\n{text}" if text else None]))


def _properties(user_properties: Iterable[tuple[str, object]]) -> list[list[object]]:
    """``record_property`` values as ``[name, value]`` pairs, as pytest's junitxml keeps them (a
    name may repeat); values that are not JSON scalars become their ``str``; attachments are not
    properties."""
    kept: list[list[object]] = []
    for name, value in user_properties:
        if name == ATTACHMENT_PROPERTY:
            continue
        scalar = value is None or isinstance(value, str | int | float | bool)
        kept.append([str(name), value if scalar else str(value)])
    return kept


def _captured(sections: Sequence[tuple[str, str]], kind: str) -> str:
    """The text of the ``Captured <kind> ...`` sections, joined as ``report.capstdout`` and
    ``report.caplog`` join them."""
    prefix = f"Captured {kind}"
    return ("\n" if kind == "log" else "").join(content for name, content in sections if name.startswith(prefix))


class MaestroReporter:
    """The controller-side reporter: folds each test's phase reports into one ``TestResult``
    and streams it to the JSONL file (``JsonlWriter``, flushed per line)."""

    def __init__(self, config: pytest.Config, path: str | os.PathLike[str]) -> None:
        from maestro_test_result_aggregator.formats import JsonlWriter

        self.config = config
        self.limit: int = config.getoption("maestro_output_limit", DEFAULT_OUTPUT_LIMIT) or DEFAULT_OUTPUT_LIMIT
        from maestro_test_adapters._chromium import ENVIRONMENT_KEY, configured_allowed_hosts
        from maestro_test_adapters._environment import detect_environment

        environment = detect_environment()
        try:
            hosts = configured_allowed_hosts(config)
        except ValueError:  # refused by the browser fixtures' own check, as a usage error
            hosts = ()
        if hosts:
            extra = {**environment.extra, ENVIRONMENT_KEY: ", ".join(hosts)}
            environment = dataclasses.replace(environment, extra=extra)
        self.writer = JsonlWriter(
            path, tool=Tool("pytest", pytest.__version__), environment=environment, start=time.time()
        )
        self.tests: dict[str, _Test] = {}
        self.written = 0
        self._collection_errors: set[str] = set()
        self.timed_out: str | None = None  # the in-process timeout's reason, when it interrupted the run
        inflight = config.getoption("maestro_inflight", None)
        self._inflight: IO[str] | None = open(inflight, "a", encoding="utf-8") if inflight else None  # noqa: SIM115
        if self._inflight is not None:  # a hook called for every test only when its side channel is wanted
            config.pluginmanager.register(_InflightStarts(self), "maestro-inflight")

    # -- side channel -------------------------------------------------------------------------
    def _mark(self, sign: str, nodeid: str) -> None:
        if self._inflight is not None:
            self._inflight.write(f"{sign}{nodeid}\n")
            self._inflight.flush()

    # -- folding ------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:  # noqa: PLR0912
        """Fold one phase report into its test; write the test when its last phase arrives."""
        nodeid = report.nodeid  # a property (pytest >= 9): read once per report
        test = self.tests.get(nodeid)
        if test is None:
            test = self.tests[nodeid] = _Test()
        phase_warnings = getattr(report, WARNINGS_ATTRIBUTE, None)
        if phase_warnings:
            test.warnings.extend(phase_warnings)
        when = report.when
        if test.rerun_closed:
            test.rerun_closed = False
            if when == "teardown":  # pytest-rerunfailures >= 16.6.1: the rerun attempt's own teardown
                self._amend_rerun(report, test)
                return
            self._attach_to_ended(report, test)  # earlier releases: what its teardown attached
        attempt = test.attempt
        if when == "setup":
            meta = getattr(report, META_ATTRIBUTE, None)
            if meta:
                test.meta = meta
            attempt.start = getattr(report, "start", None)
        elif attempt.start is None:
            attempt.start = getattr(report, "start", None)
        attempt.duration += report.duration
        user_properties = report.user_properties
        if user_properties:
            self._collect_attachments(test, user_properties)
            test.properties = _properties(user_properties)  # the item's whole list so far
        elif test.properties:
            test.properties = []
        outcome: str = report.outcome  # pytest-rerunfailures also writes "rerun"
        if outcome == "rerun":
            attempt.rerun = True
        if outcome in ("failed", "rerun"):
            _fold_failure(attempt, report)
        elif outcome == "skipped" and not attempt.failed:
            attempt.status = Status.SKIPPED
            wasxfail = getattr(report, "wasxfail", None)
            if wasxfail is not None:
                attempt.raw = "xfailed"
                attempt.message = wasxfail or None
            else:
                attempt.raw = "skipped"
                attempt.message = _crash_message(report)
        elif outcome == "passed" and when == "call" and hasattr(report, "wasxfail"):
            attempt.raw = "xpassed"
        if when == "teardown" or when not in ("setup", "call") or outcome == "rerun":
            # pytest-rerunfailures 14.0-16.6 send no teardown report for a rerun attempt: the
            # ``rerun`` report ends it, whatever the release (a teardown that follows is folded in)
            self._end_attempt(report, nodeid, test)
            test.rerun_closed = outcome == "rerun"

    def _collect_attachments(self, test: _Test, properties: Iterable[tuple[str, object]]) -> None:
        props = [value for key, value in properties if key == ATTACHMENT_PROPERTY]
        for value in props[test.attachments_seen :]:
            if isinstance(value, Mapping):
                test.attempt_attachments.append(
                    Attachment(str(value["name"]), str(value["content_type"]), str(value["path"]))
                )
        test.attachments_seen = max(test.attachments_seen, len(props))

    def _amend_rerun(self, report: pytest.TestReport, test: _Test) -> None:
        """Fold the teardown report of an attempt already ended on its ``rerun`` report into it."""
        self._attach_to_ended(report, test)
        ended = test.attempts[-1]
        own = report.sections[test.rerun_sections_from :]
        test.sections_from = len(report.sections)
        test.duration += report.duration
        test.attempts[-1] = dataclasses.replace(
            ended,
            duration=ended.duration + report.duration,
            stdout=bound_text(_captured(own, "stdout"), self.limit) or None,
            stderr=bound_text(_captured(own, "stderr"), self.limit) or None,
        )

    def _attach_to_ended(self, report: pytest.TestReport, test: _Test) -> None:
        """Attachments recorded after an attempt's ``rerun`` report (browser evidence saved by a
        fixture's teardown) belong to that attempt: they arrive on its teardown report
        (pytest-rerunfailures >= 16.6.1) or on the next attempt's setup report (earlier releases)."""
        self._collect_attachments(test, report.user_properties)
        if test.attempt_attachments:
            ended = test.attempts[-1]
            test.attempts[-1] = dataclasses.replace(ended, attachments=(*ended.attachments, *test.attempt_attachments))
            test.attachments.extend(test.attempt_attachments)
            test.attempt_attachments = []

    def _end_attempt(self, report: pytest.TestReport, nodeid: str, test: _Test) -> None:
        attempt = test.attempt
        limit = self.limit
        own = report.sections[test.sections_from :]  # this attempt's output only, not the earlier ones'
        test.rerun_sections_from = test.sections_from
        test.sections_from = len(report.sections)
        stdout = bound_text(_captured(own, "stdout"), limit) or None
        stderr = bound_text(_captured(own, "stderr"), limit) or None
        finished = Attempt(
            attempt.status,
            duration=attempt.duration,
            raw_status=attempt.raw,
            message=bound_text(attempt.message, limit),
            trace=bound_text(attempt.trace, limit),
            start=attempt.start,
            stdout=stdout,
            stderr=stderr,
            attachments=tuple(test.attempt_attachments),
        )
        test.duration += attempt.duration
        test.attachments.extend(test.attempt_attachments)
        test.attempt_attachments = []
        if attempt.rerun:
            test.attempts.append(finished)
            test.attempt = _Attempt()
            return
        attempts = (*test.attempts, finished) if test.attempts else ()
        log = _captured(own, "log")
        self._write(
            nodeid,
            location=report.location,
            test=test,
            final=finished,
            attempts=attempts,
            log=bound_text(log, limit) if log else None,
        )

    def _write(
        self,
        nodeid: str,
        *,
        location: tuple[str, int | None, str] | None,
        test: _Test,
        final: Attempt,
        attempts: tuple[Attempt, ...],
        log: str | None,
    ) -> None:
        del self.tests[nodeid]
        parts = split_nodeid(nodeid)
        line = location[1] + 1 if location is not None and location[1] is not None else None
        extra: dict[str, object] = {"nodeid": nodeid}
        if log:
            extra["log"] = log
        if test.properties:
            extra["properties"] = test.properties
        if test.warnings:
            extra["warnings"] = test.warnings
        meta = test.meta
        self.writer.write(
            TestResult(
                name=parts.name,
                status=final.status,
                duration=test.duration,
                suite=parts.suite,
                file=parts.path,
                classname=parts.classname,
                line=line,
                parameters=meta.get("params") or EMPTY,
                raw_status=final.raw_status,
                message=final.message,
                trace=final.trace,
                stdout=final.stdout,
                stderr=final.stderr,
                tags=tuple(meta.get("tags", ())),
                attachments=tuple(test.attachments),
                attempts=attempts,
                start=test.attempts[0].start if test.attempts else final.start,
                extra=extra,
            )
        )
        self.written += 1
        self._mark("-", nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A collection error becomes a failed result (``raw_status="error"``) named after the file."""
        if not report.failed or report.nodeid in self._collection_errors:
            return  # under xdist every worker may report the same file's error
        self._collection_errors.add(report.nodeid)
        text = str(report.longreprtext)
        path = report.nodeid.split("::")[0] or report.nodeid
        self.writer.write(
            TestResult(
                name=report.nodeid or "collection",
                status=Status.FAILED,
                suite=(path,) if path else (),
                file=path or None,
                raw_status="error",
                message=f"collection error: {_crash_message(report) or 'see trace'}",
                trace=bound_text(text, self.limit) or None,
                extra={"nodeid": report.nodeid, "collection_error": True},
            )
        )
        self.written += 1

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Tell the in-process timeout (``TIMEOUT_MARK``) apart from a user's Ctrl-C."""
        reason = str(excinfo.value)
        if reason.startswith(TIMEOUT_MARK):
            self.timed_out = reason.removeprefix("maestro: ")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Report tests interrupted mid-way (KeyboardInterrupt, -x, the in-process timeout) and
        close the file."""
        for nodeid, test in list(self.tests.items()):
            attempt = test.attempt
            if self.timed_out is not None:
                raw, default = "timedOut", f"{self.timed_out} while this test was running"
            else:
                raw, default = "interrupted", f"the test did not finish (pytest exit status {int(exitstatus)})"
            final = Attempt(
                Status.FAILED,
                duration=attempt.duration,
                raw_status=raw,
                message=default if self.timed_out is not None else attempt.message or default,
                trace=attempt.trace,
                start=attempt.start,
            )
            attempts = (*test.attempts, final) if test.attempts else ()
            self._write(nodeid, location=None, test=test, final=final, attempts=attempts, log=None)
        self.writer.close(stop=time.time())
        if self._inflight is not None:
            self._inflight.close()
            self._inflight = None


class _InflightStarts:
    """Writes ``+nodeid`` to the side channel when a test starts (registered with ``--maestro-inflight``)."""

    __slots__ = ("_reporter",)

    def __init__(self, reporter: MaestroReporter) -> None:
        self._reporter = reporter

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """Note the start of a test (in the side channel)."""
        self._reporter._mark("+", nodeid)
