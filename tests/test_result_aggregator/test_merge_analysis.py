"""Merge (shards, reruns, idempotence, linear time) and analysis (flaky signals, baseline
comparison, regressions, clustering), with hypothesis properties."""

from __future__ import annotations

import sys
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from maestro_test_result_aggregator.analysis import (
    Classification,
    classify_history,
    cluster_failures,
    compare,
    ctrf_insights,
    duration_regressions,
    fingerprint,
    flaky_across_runs,
    flaky_over_history,
    flaky_within_run,
    percentile,
    slowest,
)
from maestro_test_result_aggregator.formats import validate_ctrf
from maestro_test_result_aggregator.formats.ctrf import ctrf_document
from maestro_test_result_aggregator.merge import Merger, merge_results, merge_runs, run_fingerprint
from maestro_test_result_aggregator.model import Attempt, Environment, Status, TestResult, TestRun, Tool
from maestro_test_result_aggregator.testing import make_result, make_run
from tests.test_result_aggregator.strategies import results, statuses


def test_shards_merge_into_one_run() -> None:
    shards = [make_run(100, offset=100 * i, shard=str(i), fail_every=10) for i in range(4)]
    merged = merge_runs(shards)
    assert len(merged.tests) == 400
    assert merged.summary().failed == 40
    assert merged.environment.commit == "0123abc"
    assert merged.environment.shard is None
    assert merged.extra == {"merged_runs": 4}


def test_reingesting_a_shard_changes_nothing() -> None:
    shard = make_run(50, fail_every=5)
    merger = Merger()
    assert merger.add(shard)
    assert not merger.add(shard)
    assert merger.skipped == 1
    once = merge_runs([shard])
    assert merger.result().tests == once.tests
    # Merging the merged result with its own shard again is also a no-op, result by result.
    assert merge_runs([once, shard]).tests == once.tests


def test_inputs_are_not_mutated() -> None:
    first = make_run(10, fail_every=2)
    rerun = make_run(10, start=1_700_000_100.0)
    snapshot = [replace(t) for t in first.tests]
    merge_runs([first, rerun])
    assert first.tests == snapshot


def test_a_rerun_collapses_into_attempts_ordered_by_start() -> None:
    failed = TestResult("t", Status.FAILED, 1.0, message="boom", start=100.0)
    passed = TestResult("t", Status.PASSED, 2.0, start=200.0)
    merged = merge_results(passed, failed)  # given out of order
    assert [a.status for a in merged.attempts] == [Status.FAILED, Status.PASSED]
    assert merged.status is Status.PASSED
    assert merged.duration == 2.0
    assert merged.flaky
    assert merged.message is None


def test_merge_keeps_every_attempt_of_both() -> None:
    one = TestResult("t", Status.PASSED, attempts=(Attempt(Status.FAILED, 1.0), Attempt(Status.PASSED, 2.0)))
    two = TestResult("t", Status.FAILED, 3.0, message="x")
    merged = merge_results(one, two)
    assert [a.duration for a in merged.attempts] == [1.0, 2.0, 3.0]
    assert merged.status is Status.FAILED
    assert merged.message == "x"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(results(name="same"), max_size=3), min_size=1, max_size=4))
def test_merge_is_idempotent_property(groups: list[list[TestResult]]) -> None:
    runs = [TestRun(Tool("x"), tests) for tests in groups]
    once = merge_runs(runs)
    assert merge_runs([*runs, *runs]).tests == once.tests
    assert merge_runs([once, *runs]).tests == once.tests
    # One result per test id, and its status is its last attempt's.
    assert len({t.test_id for t in once.tests}) == len(once.tests)
    for test in once.tests:
        if test.attempts:
            assert test.status is test.attempts[-1].status


@settings(max_examples=60, deadline=None)
@given(results())
def test_flaky_rule_property(result: TestResult) -> None:
    expected = result.status is Status.PASSED and any(a.status is Status.FAILED for a in result.attempts)
    assert result.flaky is expected
    verdicts = flaky_within_run(TestRun(Tool("x"), [result]))
    assert (len(verdicts) == 1) is expected


@settings(max_examples=100, deadline=None)
@given(st.lists(statuses, max_size=30))
def test_history_classification_properties(history: list[Status]) -> None:
    verdict, rate = classify_history(history, window=10, threshold=0.3)
    outcomes = [s for s in history if s in (Status.PASSED, Status.FAILED)][-10:]
    assert 0.0 <= rate <= 1.0
    if verdict is Classification.FLAKY:
        assert Status.PASSED in outcomes
        assert Status.FAILED in outcomes
        assert outcomes[-3:] != [Status.FAILED] * 3  # broken is never flaky
    if len(outcomes) >= 3 and outcomes[-3:] == [Status.FAILED] * 3:
        assert verdict is Classification.BROKEN
    if len(set(outcomes)) == 1 and len(outcomes) >= 2 and outcomes[0] is Status.PASSED:
        assert verdict is Classification.STABLE


def test_merge_work_per_case_stays_flat_from_one_shard_to_eight() -> None:
    """Counted, not timed (the benchmark times it): the function calls a merge makes grow with
    the cases, not faster. Calls into C are counted too, so a rescan per shard would show."""

    def calls(shards: int) -> int:
        runs = [make_run(500, offset=500 * i) for i in range(shards)]
        count = 0

        def hook(frame: object, event: str, arg: object) -> None:
            nonlocal count
            if event in ("call", "c_call"):
                count += 1

        sys.setprofile(hook)
        try:
            merge_runs(runs)
        finally:
            sys.setprofile(None)
        return count

    one, eight = calls(1), calls(8)
    assert one > 500  # the hook saw the merge's work
    assert eight <= 8 * one * 1.05


def test_three_flaky_signals_are_kept_apart() -> None:
    retried = make_run(10, flaky_every=5)
    assert {v.signal for v in flaky_within_run(retried)} == {"within-run"}
    a = TestRun(Tool("x"), [make_result(1), make_result(2)], environment=Environment(commit="c1"))
    b = TestRun(Tool("x"), [make_result(1, status=Status.FAILED), make_result(2)], environment=Environment(commit="c1"))
    c = TestRun(Tool("x"), [make_result(2, status=Status.FAILED)], environment=Environment(commit="c2"))
    across = flaky_across_runs([a, b, c])
    assert [(v.signal, v.name.endswith("test_1")) for v in across] == [("same-commit", True)]
    assert "passed 1x, failed 1x" in across[0].evidence
    history = {
        "flippy": [Status.PASSED, Status.FAILED] * 5,
        "broken": [Status.PASSED] * 5 + [Status.FAILED] * 5,
        "steady": [Status.PASSED] * 10,
    }
    found = flaky_over_history(history, threshold=0.3)
    assert [(v.test_id, v.signal) for v in found] == [("flippy", "history")]
    assert classify_history(history["broken"])[0] is Classification.BROKEN


def test_verdict_prints_parameters() -> None:
    result = replace(make_result(3, flaky=True), parameters={"browser": "firefox", "size": "2"})
    (verdict,) = flaky_within_run(TestRun(Tool("x"), [result]))
    text = str(verdict)
    assert text.startswith("FLAKY [within-run]")
    assert "browser=firefox, size=2" in text


def test_compare_with_baseline() -> None:
    baseline = TestRun(Tool("x"), [make_result(1), make_result(2, status=Status.FAILED), make_result(3)])
    current = TestRun(
        Tool("x"),
        [make_result(1, status=Status.FAILED), make_result(2), make_result(4, status=Status.FAILED)],
    )
    diff = compare(baseline, current)
    assert [t.name for t in diff.new_failures] == ["test_1", "test_4"]
    assert [t.name for t in diff.fixed] == ["test_2"]
    assert [t.name for t in diff.added] == ["test_4"]
    assert [t.name for t in diff.removed] == ["test_3"]


def test_slowest_and_percentiles() -> None:
    run = TestRun(Tool("x"), [make_result(i, duration=float(i)) for i in range(20)])
    assert [t.duration for t in slowest(run, 3)] == [19.0, 18.0, 17.0]
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([], 95) == 0.0


def test_duration_regressions_use_history_p50_p95() -> None:
    fast, slow = make_result(1, duration=1.0), make_result(2, duration=5.0)
    history = {fast.test_id: [1.0, 1.1, 0.9, 1.0], slow.test_id: [1.0, 1.2, 0.8, 1.0]}
    found = duration_regressions(TestRun(Tool("x"), [fast, slow]), history, max_ratio=1.5)
    assert [(r.name.endswith("test_2"), round(r.p50, 2), round(r.ratio, 1)) for r in found] == [(True, 1.0, 5.0)]


def test_fingerprints_normalise_volatile_parts() -> None:
    a = fingerprint("TimeoutError: request 4f3a9c21d0 to 10.0.0.7 timed out after 3000 ms at 2024-05-01T10:00:00Z")
    b = fingerprint("TimeoutError: request 9e8d7c6b5a to 10.0.0.9 timed out after 3012 ms at 2024-06-11T11:30:01Z")
    assert a == b
    assert fingerprint("file /tmp/pytest-of-x/pytest-3/test_a0/data.json missing") == fingerprint(
        "file /tmp/pytest-of-y/pytest-9/test_b1/data.json missing"
    )
    assert fingerprint("object at 0x7f3a2b1c") == fingerprint("object at 0x55aa10")
    assert fingerprint("id 123e4567-e89b-12d3-a456-426614174000") == "id <UUID>"
    assert fingerprint("AssertionError: a") != fingerprint("KeyError: a")


def test_300_failures_with_one_cause_are_one_cluster() -> None:
    tests = [
        make_result(i, status=Status.FAILED, message=f"ConnectionError: db-{i} refused on port {5000 + i}")
        for i in range(300)
    ]
    tests += [make_result(1000, status=Status.FAILED, message="KeyError: 'user'")]
    clusters = cluster_failures(TestRun(Tool("x"), tests))
    assert [len(c.tests) for c in clusters] == [300, 1]
    assert clusters[0].fingerprint == "ConnectionError: db-<N> refused on port <N>"
    assert len(clusters[0].id) == 8


def test_ctrf_insights_are_schema_valid() -> None:
    history = [make_run(50, fail_every=5), make_run(50, fail_every=10)]
    current = make_run(50, fail_every=25, flaky_every=10)
    insights = ctrf_insights(current, history)
    assert insights["runsAnalyzed"] == 3
    assert insights["passRate"]["current"] == 48 / 50
    assert round(insights["passRate"]["baseline"], 3) == round((40 / 50 + 45 / 50) / 2, 3)
    validate_ctrf(ctrf_document(current, insights=insights))


@settings(max_examples=60, deadline=None)
@given(st.lists(results(name="same"), max_size=8))
def test_merge_groups_exactly_by_test_id(tests: list[TestResult]) -> None:
    merged = merge_runs([TestRun(Tool("x"), [t]) for t in tests])
    assert sorted(t.test_id for t in merged.tests) == sorted({t.test_id for t in tests})


def test_run_fingerprint_is_stable_across_versions() -> None:
    """History stores keep these digests: a run stored by 0.2.0 must still be recognised."""
    assert run_fingerprint(make_run(50, fail_every=7, flaky_every=5)) == "d491bd9b99a4fad2b422b1348d8a4d21"


def test_a_suite_given_as_a_list_still_merges() -> None:
    listed = TestResult("t", Status.FAILED, suite=["a", "b"])  # type: ignore[arg-type]
    again = TestResult("t", Status.PASSED, suite=("a", "b"))
    (merged,) = merge_runs([TestRun(Tool("x"), [listed]), TestRun(Tool("x"), [again])]).tests
    assert merged.flaky
