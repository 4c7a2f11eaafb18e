"""Analysis (``analysis.py``): the three flakiness signals kept apart, history classification,
baseline comparison, slowest tests and duration regressions, failure clustering and CTRF
insights, with hypothesis properties."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

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
from maestro_test_result_aggregator.formats import read_report, validate_ctrf
from maestro_test_result_aggregator.formats.ctrf import ctrf_document
from maestro_test_result_aggregator.model import Environment, Status, TestResult, TestRun, Tool
from maestro_test_result_aggregator.testing import make_result, make_run
from tests.test_result_aggregator.strategies import results, statuses


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


def test_a_flaky_verdict_prints_its_parameters_once() -> None:
    # Playwright 1.65's real JSON report: "sign out" passed on its retry in both projects.
    report = Path(__file__).parent / "data" / "playwright_1_65" / "artifact" / "results.json"
    lines = [str(v) for v in flaky_within_run(read_report(report)) if "sign out" in v.name]
    assert lines == [
        "FLAKY [within-run] login.spec.js::sign out[project=desktop]: passed after 1 failed attempt(s) of 2",
        "FLAKY [within-run] login.spec.js::sign out[project=mobile]: passed after 1 failed attempt(s) of 2",
    ]


PLAYWRIGHT_COLOURED = (
    "Error: \x1b[2mexpect(\x1b[22m\x1b[31mreceived\x1b[39m\x1b[2m).\x1b[22mtoBe\x1b[2m(\x1b[22m\x1b[32mexpected\x1b[39m"
    "\x1b[2m) // Object.is equality\x1b[22m\n\nExpected: \x1b[32m3\x1b[39m\nReceived: \x1b[31m2\x1b[39m"
)


def test_ansi_colour_codes_are_stripped_from_clusters() -> None:
    # Playwright messages are full of ANSI colour codes: clusters showed "\x1b[<N>m" and the
    # same cause with and without colour made two clusters.
    plain = "Error: expect(received).toBe(expected) // Object.is equality"
    run = TestRun(
        Tool("playwright"),
        [
            TestResult("a", Status.FAILED, message=PLAYWRIGHT_COLOURED),
            TestResult("b", Status.FAILED, message=plain),
        ],
    )
    (cluster,) = cluster_failures(run)
    assert cluster.fingerprint == plain
    assert "\x1b" not in cluster.example
    assert cluster.example.startswith(plain)
