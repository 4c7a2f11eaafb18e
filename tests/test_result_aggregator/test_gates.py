"""The quality gates."""

from __future__ import annotations

import pytest

from maestro_test_result_aggregator.gates import Gates
from maestro_test_result_aggregator.model import Attempt, Status, TestResult, TestRun, Tool
from maestro_test_result_aggregator.testing import make_result, make_run


def test_gates_pass_and_fail_with_reasons() -> None:
    baseline = TestRun(Tool("x"), [make_result(1, duration=1.0), make_result(2, duration=1.0)])
    current = TestRun(
        Tool("x"),
        [
            make_result(1, duration=1.0, status=Status.FAILED),
            make_result(2, duration=2.0, flaky=True),
        ],
    )
    outcome = Gates(min_pass_rate=40, max_flaky=0, no_new_failures=True, max_duration_regression=20).evaluate(
        current, baseline
    )
    assert not outcome.passed
    assert [c.name for c in outcome.checks if not c.passed] == [
        "max-flaky",
        "no-new-failures",
        "max-duration-regression",
    ]
    assert outcome.reasons[1] == "1 new failure(s) against the baseline: test_1"
    assert "+50.0%" in outcome.reasons[2]
    assert Gates(min_pass_rate=50, max_flaky=1).evaluate(current).passed


def test_gate_validation() -> None:
    with pytest.raises(ValueError, match="min_pass_rate is a percentage between 0 and 100"):
        Gates(min_pass_rate=120)
    with pytest.raises(ValueError, match="max_flaky must be >= 0"):
        Gates(max_flaky=-1)
    with pytest.raises(ValueError, match="need a baseline"):
        Gates(no_new_failures=True).evaluate(make_run(1))


def test_empty_run_passes_the_pass_rate_gate() -> None:
    run = TestRun(Tool("x"), [TestResult("s", Status.SKIPPED, attempts=(Attempt(Status.SKIPPED),))])
    assert Gates(min_pass_rate=100).evaluate(run).passed
