"""Helpers for your own tests: build realistic runs and results without a real test tool.

Examples:
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> run = make_run(100, fail_every=10, flaky_every=25)
    >>> s = run.summary()
    >>> (s.tests, s.failed, s.flaky)
    (100, 10, 2)
"""

from __future__ import annotations

from maestro_test_result_aggregator.model import Attempt, Environment, Status, TestResult, TestRun, Tool

__all__ = ["make_result", "make_run"]


def make_result(
    index: int,
    *,
    status: Status = Status.PASSED,
    flaky: bool = False,
    suite: tuple[str, ...] | None = None,
    duration: float | None = None,
    message: str | None = None,
) -> TestResult:
    """A deterministic result named ``test_<index>`` in ``suite`` (default: one of 10 modules).

    ``flaky`` gives it two attempts: a failure, then the final ``status``.
    """
    module = f"tests/test_module_{index % 10}.py"
    if status is Status.FAILED and message is None:
        message = f"AssertionError: expected {index} to equal {index + 1}"
    result = TestResult(
        name=f"test_{index}",
        status=status,
        duration=duration if duration is not None else 0.001 * (index % 97 + 1),
        suite=suite if suite is not None else (f"module_{index % 10}",),
        file=module,
        classname=f"tests.test_module_{index % 10}",
        line=index % 500 + 1,
        raw_status="failure" if status is Status.FAILED else None,
        message=message,
        trace=f"Traceback:\n  {module}:{index % 500 + 1}\n{message}" if message else None,
    )
    if flaky:
        first = Attempt(Status.FAILED, duration=result.duration, raw_status="failure", message="flaked: timeout")
        final = Attempt(
            status, duration=result.duration, raw_status=result.raw_status, message=message, trace=result.trace
        )
        result.attempts = (first, final)
    return result


def make_run(
    tests: int,
    *,
    fail_every: int = 0,
    flaky_every: int = 0,
    skip_every: int = 0,
    tool: str = "pytest",
    commit: str | None = "0123abc",
    shard: str | None = None,
    start: float | None = 1_700_000_000.0,
    offset: int = 0,
) -> TestRun:
    """A run of ``tests`` results: every ``fail_every``-th fails, every ``flaky_every``-th passes
    after a failed attempt, every ``skip_every``-th is skipped (0: never). ``offset`` shifts the
    test numbers, so shards built with different offsets hold different tests."""
    results = []
    for number in range(offset, offset + tests):
        position = number - offset + 1
        if fail_every and position % fail_every == 0:
            results.append(make_result(number, status=Status.FAILED))
        elif skip_every and position % skip_every == 0:
            results.append(make_result(number, status=Status.SKIPPED))
        else:
            results.append(make_result(number, flaky=bool(flaky_every and position % flaky_every == 0)))
    stop = None if start is None else start + sum(r.duration for r in results)
    return TestRun(
        tool=Tool(tool, "1.0"),
        tests=results,
        environment=Environment(commit=commit, branch="main", shard=shard),
        start=start,
        stop=stop,
    )
