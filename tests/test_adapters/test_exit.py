"""Exit codes: one meaning for every adapter and the CLI (``ExitCode``, ``exit_code``, ``run_error``)."""

from __future__ import annotations

import maestro_test_adapters as mta
from maestro_test_adapters import ExitCode, exit_code, run_error
from maestro_test_result_aggregator.model import Attempt, Status, TestResult, TestRun, Tool


def _run(*statuses: Status, flaky: bool = False, error: str | None = None) -> TestRun:
    tests = [TestResult(f"t{i}", s) for i, s in enumerate(statuses)]
    if flaky:
        tests.append(TestResult("f", Status.PASSED, attempts=(Attempt(Status.FAILED), Attempt(Status.PASSED))))
    return TestRun(Tool("x"), tests, extra={mta.RUN_ERROR_KEY: error} if error else {})


def test_exit_codes_follow_the_shared_semantics() -> None:
    assert exit_code(_run(Status.PASSED, Status.SKIPPED)) is ExitCode.OK
    assert exit_code(_run(Status.PASSED, Status.FAILED)) is ExitCode.TESTS_FAILED
    assert exit_code(_run(Status.OTHER)) is ExitCode.TESTS_FAILED
    assert exit_code(_run()) is ExitCode.NO_TESTS
    assert exit_code(_run(Status.FAILED, error="crashed")) is ExitCode.ERROR
    assert exit_code(_run(Status.PASSED, flaky=True)) is ExitCode.OK
    assert exit_code(_run(Status.PASSED, flaky=True), fail_on_flaky=True) is ExitCode.TESTS_FAILED
    assert run_error(_run(error="boom")) == "boom"
    assert [int(c) for c in ExitCode] == [0, 1, 2, 5]
