"""The controller-side reporter of ``maestro_test_adapters.pytest_plugin`` (imported only when enabled)."""

# ruff: noqa: PLC0415 - the environment detection is imported where it is used

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import pytest

from maestro_test_adapters.errors import _TIMEOUT_MARK
from maestro_test_adapters.pytest_plugin import _META, ATTACHMENT_PROPERTY
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


@dataclass(slots=True)
class _Attempt:
    start: float | None = None
    duration: float = 0.0
    status: Status = Status.PASSED
    raw: str = "passed"
    message: str | None = None
    trace: str | None = None
    failed: bool = False
    rerun: bool = False


@dataclass(slots=True)
class _Test:
    attempt: _Attempt = field(default_factory=_Attempt)
    attempts: list[Attempt] = field(default_factory=list)
    meta: Mapping[str, Any] = EMPTY
    attachments: list[Attachment] = field(default_factory=list)
    attachments_seen: int = 0
    attempt_attachments: list[Attachment] = field(default_factory=list)
    duration: float = 0.0


def _crash_message(report: pytest.TestReport | pytest.CollectReport) -> str | None:
    longrepr = report.longrepr
    if longrepr is None:
        return None
    if isinstance(longrepr, tuple):  # (path, lineno, reason) of a skip
        return str(longrepr[2])
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    text = str(longrepr).strip()
    return text.splitlines()[-1] if text else None


def _split_nodeid(nodeid: str) -> tuple[str, tuple[str, ...], str]:
    head, bracket, params = nodeid.partition("[")
    parts = head.split("::")
    return parts[0], tuple(parts[1:-1]), parts[-1] + bracket + params


class MaestroReporter:
    """The controller-side reporter: folds each test's phase reports into one ``TestResult``
    and streams it to the JSONL file (``JsonlWriter``, flushed per line)."""

    def __init__(self, config: pytest.Config, path: str | os.PathLike[str]) -> None:
        from maestro_test_result_aggregator.formats import JsonlWriter

        self.config = config
        self.limit: int = config.getoption("maestro_output_limit", DEFAULT_OUTPUT_LIMIT) or DEFAULT_OUTPUT_LIMIT
        from maestro_test_adapters._environment import detect_environment

        self.writer = JsonlWriter(
            path, tool=Tool("pytest", pytest.__version__), environment=detect_environment(), start=time.time()
        )
        self.tests: dict[str, _Test] = {}
        self.written = 0
        self.timed_out: str | None = None  # the in-process timeout's reason, when it interrupted the run
        inflight = config.getoption("maestro_inflight", None)
        self._inflight: IO[str] | None = open(inflight, "a", encoding="utf-8") if inflight else None  # noqa: SIM115

    # -- side channel -------------------------------------------------------------------------
    def _mark(self, sign: str, nodeid: str) -> None:
        if self._inflight is not None:
            self._inflight.write(f"{sign}{nodeid}\n")
            self._inflight.flush()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """Note the start of a test (in the side channel)."""
        self._mark("+", nodeid)

    # -- folding ------------------------------------------------------------------------------
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:  # noqa: PLR0912
        """Fold one phase report into its test; write the test when its last phase arrives."""
        test = self.tests.get(report.nodeid)
        if test is None:
            test = self.tests[report.nodeid] = _Test()
        attempt = test.attempt
        when = report.when
        if when == "setup":
            meta = getattr(report, _META, None)
            if meta:
                test.meta = meta
            attempt.start = getattr(report, "start", None)
        elif attempt.start is None:
            attempt.start = getattr(report, "start", None)
        attempt.duration += report.duration
        self._collect_attachments(test, report.user_properties)
        outcome: str = report.outcome  # pytest-rerunfailures also writes "rerun"
        if outcome == "rerun":
            attempt.rerun = True
        if outcome in ("failed", "rerun"):
            if not attempt.failed:
                attempt.failed = True
                attempt.status = Status.FAILED
                text = str(report.longreprtext)
                if when == "call":
                    attempt.raw = "xpassed" if text.startswith("[XPASS(strict)]") else "failed"
                elif when in ("setup", "teardown"):
                    attempt.raw = "error"
                else:
                    attempt.raw = "crashed"
                attempt.message = _crash_message(report)
                attempt.trace = text or None
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
        if when == "teardown" or when not in ("setup", "call"):
            self._end_attempt(report, test)

    def _collect_attachments(self, test: _Test, properties: Iterable[tuple[str, object]]) -> None:
        props = [value for key, value in properties if key == ATTACHMENT_PROPERTY]
        for value in props[test.attachments_seen :]:
            if isinstance(value, Mapping):
                test.attempt_attachments.append(
                    Attachment(str(value["name"]), str(value["content_type"]), str(value["path"]))
                )
        test.attachments_seen = max(test.attachments_seen, len(props))

    def _end_attempt(self, report: pytest.TestReport, test: _Test) -> None:
        attempt = test.attempt
        limit = self.limit
        stdout = bound_text(report.capstdout, limit) or None
        stderr = bound_text(report.capstderr, limit) or None
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
        log = report.caplog
        self._write(
            report.nodeid,
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
        path, classes, name = _split_nodeid(nodeid)
        line = location[1] + 1 if location is not None and location[1] is not None else None
        extra: dict[str, object] = {"nodeid": nodeid}
        if log:
            extra["log"] = log
        meta = test.meta
        self.writer.write(
            TestResult(
                name=name,
                status=final.status,
                duration=test.duration,
                suite=(path, *classes),
                file=path,
                classname="::".join(classes) or None,
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
        if not report.failed:
            return
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
        """Tell the in-process timeout (``_TIMEOUT_MARK``) apart from a user's Ctrl-C."""
        reason = str(excinfo.value)
        if reason.startswith(_TIMEOUT_MARK):
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
