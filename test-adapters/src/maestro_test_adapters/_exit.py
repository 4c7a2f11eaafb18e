"""Exit-code semantics shared by every adapter and the CLI (one place)."""

from __future__ import annotations

import enum

from maestro_test_result_aggregator.model import Status, TestRun

__all__ = ["FAIL_ON_FLAKY_KEY", "RUN_ERROR_KEY", "ExitCode", "exit_code", "run_error"]

RUN_ERROR_KEY = "maestro.error"
"""Key of ``TestRun.extra`` holding the one-line reason of an infrastructure failure."""

FAIL_ON_FLAKY_KEY = "maestro.fail_on_flaky"
"""Key of ``TestRun.extra`` set when the run was made with ``RunOptions(fail_on_flaky=True)``."""


class ExitCode(enum.IntEnum):
    """What a run means for CI, the same for every adapter (pytest's numbers where they exist).

    - ``OK`` (0): every test passed (or was skipped);
    - ``TESTS_FAILED`` (1): at least one test failed (or was flaky under ``fail_on_flaky``);
    - ``ERROR`` (2): the runner or adapter failed (crash, hang, bad input), kept apart from failures;
    - ``NO_TESTS`` (5): nothing was collected.

    Examples:
        >>> int(ExitCode.TESTS_FAILED), ExitCode(5).name
        (1, 'NO_TESTS')
    """

    OK = 0
    TESTS_FAILED = 1
    ERROR = 2
    NO_TESTS = 5


def run_error(run: TestRun) -> str | None:
    """The infrastructure error recorded on ``run`` by its adapter, or ``None``.

    Examples:
        >>> from maestro_test_adapters.testing import FakeAdapter
        >>> run_error(FakeAdapter(error="pytest killed by SIGKILL").run("tests"))
        'pytest killed by SIGKILL'
        >>> run_error(FakeAdapter().run("tests")) is None
        True
    """
    value = run.extra.get(RUN_ERROR_KEY)
    return None if value is None else str(value)


def exit_code(run: TestRun, *, fail_on_flaky: bool | None = None) -> ExitCode:
    """The exit code of ``run``: an infrastructure error wins, then failures, then an empty run.

    Args:
        run: the finished run.
        fail_on_flaky: a test that passed only after a failed attempt counts as a failure
            (default: what the run was made with, ``RunOptions.fail_on_flaky``).

    Examples:
        >>> from maestro_test_result_aggregator.model import Status, TestResult, TestRun, Tool
        >>> exit_code(TestRun(Tool("pytest"), [TestResult("t", Status.PASSED)]))
        <ExitCode.OK: 0>
    """
    if fail_on_flaky is None:
        fail_on_flaky = bool(run.extra.get(FAIL_ON_FLAKY_KEY, False))
    if run_error(run) is not None:
        return ExitCode.ERROR
    if not run.tests:
        return ExitCode.NO_TESTS
    for result in run.tests:
        if result.status in (Status.FAILED, Status.OTHER):
            return ExitCode.TESTS_FAILED
        if fail_on_flaky and result.flaky:
            return ExitCode.TESTS_FAILED
    return ExitCode.OK
