"""Helpers for testing code that drives adapters (your CI tooling, dashboards, wrappers).

``FakeAdapter`` is a real ``TestAdapter`` that "runs" canned results: it streams them through
``options.jsonl``/``on_result``, writes the CTRF/JUnit reports asked for and records an
infrastructure error when told to, exactly like the built-in adapters, without starting anything.

Examples:
    >>> from maestro_test_result_aggregator.model import Status, TestResult
    >>> from maestro_test_adapters import ExitCode, RunOptions, exit_code
    >>> adapter = FakeAdapter([TestResult("test_a", Status.PASSED), TestResult("test_b", Status.FAILED)])
    >>> exit_code(adapter.run("anything", options=RunOptions()))
    <ExitCode.TESTS_FAILED: 1>
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from maestro_test_adapters._adapter import Availability, Target
from maestro_test_adapters._options import RunOptions
from maestro_test_adapters._outputs import ResultStream
from maestro_test_result_aggregator.model import TestResult, TestRun, Tool

__all__ = ["FakeAdapter"]


class FakeAdapter:
    """An adapter returning ``results`` for any target, and remembering what it was asked to run.

    Args:
        results: the results every run produces, in order.
        name: the adapter's name.
        availability: what ``available()`` answers.
        error: when set, each run records this infrastructure error (exit code 2).
    """

    def __init__(
        self,
        results: Iterable[TestResult] = (),
        *,
        name: str = "fake",
        availability: Availability = Availability(True),  # noqa: B008 - immutable
        error: str | None = None,
    ) -> None:
        self.results = list(results)
        self._name = name
        self.availability = availability
        self.error = error
        self.calls: list[tuple[str, RunOptions]] = []

    @property
    def name(self) -> str:
        """The name given at construction."""
        return self._name

    def available(self) -> Availability:
        """The availability given at construction."""
        return self.availability

    def run(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """Record the call and stream the canned results."""
        options = options or RunOptions()
        self.calls.append((os.fspath(target), options))
        stream = ResultStream(Tool(self._name), options)
        for result in self.results:
            if options.on_test_start is not None:
                options.on_test_start(result.name)
            stream.add(result)
        return stream.finish(error=self.error)

    async def arun(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """The asyncio twin of ``run``."""
        return self.run(target, options=options)
