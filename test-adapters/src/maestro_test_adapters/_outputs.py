"""Streaming results to JSONL and writing the finished run as CTRF and JUnit."""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import TracebackType

from maestro_test_adapters._exit import FAIL_ON_FLAKY_KEY, RUN_ERROR_KEY
from maestro_test_adapters._options import RunOptions
from maestro_test_adapters.errors import ReportWriteError
from maestro_test_result_aggregator.model import TestResult, TestRun, Tool

__all__ = ["ResultStream", "set_run_error", "write_reports"]


def set_run_error(run: TestRun, reason: str) -> None:
    """Record an infrastructure failure on ``run`` (``exit_code`` then gives 2)."""
    extra = dict(run.extra)
    extra[RUN_ERROR_KEY] = reason.strip().splitlines()[0] if reason.strip() else "runner failed"
    run.extra = extra


class ResultStream:
    """Collects results into a ``TestRun``, streaming each one to ``options.jsonl`` (flushed per
    line) and to ``options.on_result`` as it arrives: the building block of an adapter that
    produces its results in this process.

    Examples:
        >>> from maestro_test_result_aggregator.model import Status, TestResult, Tool
        >>> stream = ResultStream(Tool("my-runner"), RunOptions())
        >>> stream.add(TestResult("check", Status.PASSED))
        >>> run = stream.finish()
        >>> [t.name for t in run.tests], run.stop is not None
        (['check'], True)
    """

    def __init__(self, tool: Tool, options: RunOptions) -> None:
        self.run = TestRun(tool=tool, environment=options.environment, start=time.time())
        self._options = options
        self._writer = None
        if options.jsonl is not None:
            from maestro_test_result_aggregator.formats import JsonlWriter

            try:
                self._writer = JsonlWriter(
                    options.jsonl, tool=tool, environment=options.environment, start=self.run.start
                )
            except OSError as error:
                raise ReportWriteError(f"cannot write {options.jsonl}: {error}") from error

    def add(self, result: TestResult) -> None:
        """Keep ``result``, write its JSONL line and tell ``on_result``."""
        self.run.tests.append(result)
        if self._writer is not None:
            self._writer.write(result)
        if self._options.on_result is not None:
            self._options.on_result(result)

    def close(self) -> TestRun:
        """Stamp ``stop``, close the JSONL file and return the run (calling it again does nothing)."""
        if self.run.stop is None:
            self.run.stop = time.time()
        if self._writer is not None:
            self._writer.close(stop=self.run.stop)
            self._writer = None
        return self.run

    def finish(self, *, error: str | None = None) -> TestRun:
        """``close``, record ``error`` (an infrastructure failure: exit code 2) and write the
        CTRF/JUnit reports the options ask for."""
        run = self.close()
        if error is not None:
            set_run_error(run, error)
        write_reports(run, self._options)
        return run

    def __enter__(self) -> ResultStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _writer(name: str) -> Callable[..., None]:
    """The aggregator's writer of format ``name`` (``"ctrf"``), from its formats registry."""
    from maestro_test_result_aggregator import formats

    registry = getattr(formats, "get_writer", None)
    if registry is not None:
        return registry(name)  # type: ignore[no-any-return]
    function = getattr(formats, f"write_{name}", None)  # an aggregator from before the registry
    if function is None:
        raise ReportWriteError(f"this maestro-test-result-aggregator cannot write {name}; upgrade it")
    return function  # type: ignore[no-any-return]


def write_reports(run: TestRun, options: RunOptions) -> None:
    """Write ``options.ctrf`` and ``options.junit`` (when set) with the aggregator's writers
    (and remember ``options.fail_on_flaky`` on the run for ``exit_code``)."""
    if options.fail_on_flaky:
        run.extra = {**run.extra, FAIL_ON_FLAKY_KEY: True}
    for path, name in ((options.ctrf, "ctrf"), (options.junit, "junit")):
        if path is None:
            continue
        keywords = {"profile": options.junit_profile} if name == "junit" else {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _writer(name)(run, os.fspath(path), **keywords)
        except OSError as error:
            raise ReportWriteError(f"cannot write {path}: {error}") from error
