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


def test_max_failures_and_min_tests() -> None:
    run = make_run(40, fail_every=10)
    outcome = Gates(max_failures=4, min_tests=40).evaluate(run)
    assert outcome.passed, outcome.reasons
    outcome = Gates(max_failures=3, min_tests=41).evaluate(run)
    assert [c.name for c in outcome.checks if not c.passed] == ["min-tests", "max-failures"]
    assert outcome.reasons == [
        "40 test(s) in the run, at least 41 required",
        "4 failed test(s), at most 3 allowed: test_9, test_19, test_29, test_39",
    ]
    with pytest.raises(ValueError, match="max_failures must be >= 0"):
        Gates(max_failures=-1)


def _timed(durations: dict[int, float]) -> TestRun:
    return TestRun(Tool("x"), [make_result(number, duration=seconds) for number, seconds in durations.items()])


def test_one_test_six_times_slower_fails_though_the_total_barely_moved() -> None:
    # The summed-duration gate passed (+0.7% in total) while one test got 6x slower.
    before = dict.fromkeys(range(70), 10.0) | {70: 1.0}
    baseline, current = _timed(before), _timed(before | {70: 6.0})
    summed = Gates(max_duration_regression=10).evaluate(current, baseline)
    assert summed.passed
    assert "+0.7%" in summed.checks[0].detail
    outcome = Gates(max_test_slowdown=50).evaluate(current, baseline)
    assert not outcome.passed
    assert outcome.reasons == [
        "1 test(s) slower than their baseline p95 by more than 50.0%: test_70 6.00s vs p95 1.00s (+500%)"
    ]


def test_test_slowdown_against_history_uses_the_p95() -> None:
    run = _timed({1: 1.4, 2: 3.0, 3: 0.05})
    history = {
        make_result(1).test_id: [1.0, 1.1, 1.2, 1.3],  # p95 ~1.29: 1.4 is within +50%
        make_result(2).test_id: [1.0, 1.0, 1.0],  # 3x: regressed
        make_result(3).test_id: [0.01, 0.01, 0.01],  # 5x, but by 0.04 s: jitter
    }
    outcome = Gates(max_test_slowdown=50).evaluate(run, durations=history)
    assert [c.name for c in outcome.checks] == ["max-test-slowdown"]
    assert outcome.reasons == [
        "1 test(s) slower than their history p95 by more than 50.0%: test_2 3.00s vs p95 1.00s (+200%)"
    ]
    # Fewer than three past durations in history: no verdict.
    assert Gates(max_test_slowdown=50).evaluate(run, durations={make_result(2).test_id: [1.0]}).passed


def test_test_slowdown_needs_something_to_compare_with() -> None:
    with pytest.raises(ValueError, match="--max-test-slowdown needs past durations"):
        Gates(max_test_slowdown=10).evaluate(make_run(3))
