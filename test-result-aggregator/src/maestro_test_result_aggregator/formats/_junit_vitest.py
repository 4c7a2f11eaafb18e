"""Vitest 4's JUnit report of a test file whose worker died: the file's tests are listed as
bare ``<testcase>`` elements, every one with ``time="0"``, in a ``<testsuite time="0">`` that
declares no failure, though none of them finished (Vitest's own summary does not count them as
passed, reports an error and exits 1). Read literally they are passes; read here they are tests
that did not run (``other``, raw status ``notRun``) and one failed result says the file's
worker died, so a gate never passes such a run.

Examples:
    >>> from maestro_test_result_aggregator.model import Status, TestResult
    >>> suite = ("src/worker.test.js",)
    >>> listed = [TestResult(name, Status.PASSED, suite=suite) for name in ("kills its worker", "never runs")]
    >>> read = unrun_files(listed, {id(suite): (suite, {"time": "0", "failures": "0"})})
    >>> [(t.name, t.status.value, t.raw_status) for t in read]
    [('kills its worker', 'other', 'notRun'), ('never runs', 'other', 'notRun'), \
('src/worker.test.js: its worker died', 'failed', 'crashed')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from maestro_test_result_aggregator.formats._junit_fast import parse_time
from maestro_test_result_aggregator.model import Status, TestResult

__all__ = ["VITEST_ROOT", "unrun_files"]

VITEST_ROOT: Final = "vitest tests"
"""The ``name`` of the ``<testsuites>`` root Vitest's JUnit reporter writes."""

_NOT_RUN: Final = "Vitest listed this test with no time and no outcome: its file's worker died before it finished"


def _never_finished(test: TestResult) -> bool:
    return (
        test.status is Status.PASSED
        and test.duration == 0.0
        and test.raw_status is None
        and not (test.message or test.trace or test.stdout or test.stderr or test.attempts or test.attachments)
    )


def unrun_files(
    tests: list[TestResult], suite_attrs: Mapping[int, tuple[tuple[str, ...], Mapping[str, str]]]
) -> list[TestResult]:
    """``tests`` of a Vitest JUnit report with each dead worker's file (a suite of time 0 that
    declares no failure, all of whose tests are bare and took 0 s) read as not run, followed by
    one failed ``crashed`` result per such file."""
    groups: dict[int, list[int]] = {}
    for index, test in enumerate(tests):
        groups.setdefault(id(test.suite), []).append(index)
    crashed: list[TestResult] = []
    for key, indexes in groups.items():
        suite, attrs = suite_attrs.get(key, ((), {}))
        failing = any(attrs.get(name, "0").strip() not in ("", "0") for name in ("failures", "errors"))
        if not suite or "time" not in attrs or parse_time(attrs["time"]) != 0.0 or failing:
            continue
        if not all(_never_finished(tests[index]) for index in indexes):
            continue
        for index in indexes:
            tests[index] = replace(tests[index], status=Status.OTHER, raw_status="notRun", message=_NOT_RUN)
        crashed.append(
            TestResult(
                f"{suite[-1]}: its worker died",
                Status.FAILED,
                suite=suite,
                file=tests[indexes[0]].file or tests[indexes[0]].classname,
                raw_status="crashed",
                message=f"{len(indexes)} test(s) of {suite[-1]} never finished: Vitest lists them with time 0 "
                "and no outcome when the worker running the file dies (killed, crashed, out of memory)",
            )
        )
    return tests + crashed
