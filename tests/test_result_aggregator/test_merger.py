"""The merge's cost per copy of a test, and the caller's garbage-collector state.

``Merger`` gathers the attempts of a test met several times in place (``_Merging``) instead of
calling ``merge_results`` for every copy: the results must be exactly what folding the copies
with ``merge_results`` gives, and the work per copy must not grow with the copies before it.
"""

from __future__ import annotations

import gc
from collections.abc import ItemsView, Iterator, Mapping
from dataclasses import fields, replace
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maestro_test_result_aggregator import merge
from maestro_test_result_aggregator.merge import Merger, merge_results, merge_runs
from maestro_test_result_aggregator.model import Attachment, Attempt, Status, TestResult, TestRun, Tool

STARTS = st.none() | st.sampled_from([0.0, 1.0, 2.0, 2.0, 3.5, 10.0])  # ties and zero on purpose
ATTEMPTS = st.builds(
    Attempt,
    st.sampled_from([Status.PASSED, Status.FAILED]),
    duration=st.sampled_from([0.0, 1.0, 2.0]),
    message=st.none() | st.sampled_from(["boom", "timeout"]),
    start=STARTS,
)


@st.composite
def copies(draw: st.DrawFn) -> TestResult:
    """A copy of one of three tests: with or without attempts (in any order), start or not."""
    tries = draw(st.lists(ATTEMPTS, max_size=3))
    if len(tries) == 1:
        tries = []
    status = tries[-1].status if tries else draw(st.sampled_from(list(Status)))
    return TestResult(
        draw(st.sampled_from(["a", "b", "c"])),
        status,
        draw(st.sampled_from([0.0, 1.0, 3.0])),
        suite=("s",),
        file=draw(st.sampled_from([None, "f.py"])),
        message=draw(st.none() | st.just("m")),
        tags=tuple(draw(st.lists(st.sampled_from(["x", "y"]), max_size=1))),
        attempts=tuple(tries),
        start=draw(STARTS),
    )


def folded(runs: list[TestRun]) -> dict[str, TestResult]:
    """The reference: every copy folded into the first with ``merge_results``, in order."""
    merged: dict[str, TestResult] = {}
    for run in runs:
        for result in run.tests:
            key = result.test_id
            if key not in merged:
                merged[key] = result
            elif merged[key] is not result:
                merged[key] = merge_results(merged[key], result)
    return merged


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(copies(), max_size=4), min_size=1, max_size=6))
def test_merger_gives_what_folding_with_merge_results_gives(groups: list[list[TestResult]]) -> None:
    runs = [TestRun(Tool("x"), tests, run_id=str(i)) for i, tests in enumerate(groups)]
    expected = folded(runs)
    merged = merge_runs(runs).tests
    assert len(merged) == len(expected)
    for got in merged:
        want = expected[got.test_id]
        assert got == want
        # A test met once is its very first object, as with merge_results.
        assert (got is want) == any(want is r for run in runs for r in run.tests)


def test_an_attempt_equal_to_an_earlier_one_is_kept() -> None:
    # Two runs (distinct run ids) that failed the same way: two attempts, never de-duplicated.
    first = TestResult("t", Status.FAILED, 1.0, message="boom")
    again = TestResult("t", Status.FAILED, 1.0, message="boom")
    (merged,) = merge_runs([TestRun(Tool("x"), [first], run_id="1"), TestRun(Tool("x"), [again], run_id="2")]).tests
    assert [a.message for a in merged.attempts] == ["boom", "boom"]


def test_unsorted_attempts_of_the_first_copy_are_sorted_at_the_first_merge() -> None:
    first = TestResult(
        "t", Status.PASSED, attempts=(Attempt(Status.PASSED, start=5.0), Attempt(Status.FAILED, start=1.0))
    )
    later = TestResult("t", Status.FAILED, start=9.0)
    (merged,) = merge_runs([TestRun(Tool("x"), [first], run_id="1"), TestRun(Tool("x"), [later], run_id="2")]).tests
    assert [a.start for a in merged.attempts] == [1.0, 5.0, 9.0]
    assert merged.status is Status.FAILED


def test_the_work_per_copy_does_not_grow_with_the_copies_before_it() -> None:
    """Counted, not timed: ``merge_results`` hashed every earlier attempt again for each copy
    (k copies: ~k**2/2 hashes); the merger hashes each new attempt about twice."""
    hashes = 0
    real_hash = Attempt.__hash__

    def counting(attempt: Attempt) -> int:
        nonlocal hashes
        hashes += 1
        return real_hash(attempt)

    def hashes_for(copies: int) -> int:
        nonlocal hashes
        runs = [
            TestRun(
                Tool("x"), [TestResult("t", Status.FAILED if i % 2 else Status.PASSED, start=float(i))], run_id=str(i)
            )
            for i in range(copies)
        ]
        hashes = 0
        with mock.patch.object(Attempt, "__hash__", counting):
            (merged,) = merge_runs(runs).tests
        assert len(merged.attempts) == copies
        return hashes

    few, many = hashes_for(8), hashes_for(64)
    assert many <= 3 * 64
    assert many / 64 <= 1.5 * few / 8  # flat per copy (merge_results: 64 copies ~ 8x the hashes per copy)


def test_every_field_of_the_base_reaches_the_merged_result() -> None:
    """``_with_attempts`` builds the result field by field (faster than ``replace``): it must
    give exactly what ``replace`` gives, for every field of ``TestResult``."""
    base = TestResult(
        "t",
        Status.FAILED,
        1.0,
        suite=("a", "b"),
        file="f.py",
        classname="C",
        line=3,
        parameters={"p": "1"},
        raw_status="error",
        message="m",
        trace="tb",
        stdout="out",
        stderr="err",
        tags=("slow",),
        attachments=(Attachment("s", "image/png", "s.png"),),
        start=5.0,
        extra={"k": "v"},
    )
    final = Attempt(
        Status.PASSED,
        2.0,
        raw_status="passed",
        message="fm",
        trace="ft",
        start=6.0,
        stdout="o2",
        stderr="e2",
        attachments=(Attachment("t", "text/plain", "t.txt"),),
    )
    attempts = [Attempt(Status.FAILED, 1.0, start=5.0), final]
    got = merge._with_attempts(base, attempts)
    expected = replace(
        base,
        status=final.status,
        duration=final.duration,
        raw_status=final.raw_status,
        message=final.message,
        trace=final.trace,
        stdout=final.stdout,
        stderr=final.stderr,
        attachments=final.attachments,
        start=final.start,
        attempts=tuple(attempts),
    )
    assert got == expected
    for field in fields(TestResult):  # a field added to the model must be carried over too
        assert getattr(got, field.name) == getattr(expected, field.name), field.name
    assert len(fields(TestResult)) == 18, "a new TestResult field: add it to merge._with_attempts"


class _Watching(Mapping[str, str]):
    """Parameters that record the collector's state when the merge reads them (or fail)."""

    def __init__(self, seen: list[bool], fail: bool = False) -> None:
        self.seen = seen
        self.fail = fail

    def __getitem__(self, key: str) -> str:
        return {"p": "1"}[key]

    def __iter__(self) -> Iterator[str]:
        return iter(["p"])

    def __len__(self) -> int:
        return 1

    def items(self) -> ItemsView[str, str]:
        self.seen.append(gc.isenabled())
        if self.fail:
            raise RuntimeError("bad parameters")
        return {"p": "1"}.items()


@pytest.fixture
def gc_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    if enabled:
        gc.enable()
    else:  # pragma: no cover - pytest runs with the collector on
        gc.disable()


@pytest.mark.usefixtures("gc_restored")
@pytest.mark.parametrize("enabled", [True, False])
def test_add_pauses_the_collector_and_restores_the_callers_setting(enabled: bool) -> None:
    seen: list[bool] = []
    (gc.enable if enabled else gc.disable)()
    merger = Merger()
    assert merger.add(TestRun(Tool("x"), [TestResult("t", Status.PASSED, parameters=_Watching(seen))]))
    assert seen == [False]  # off while merging
    assert gc.isenabled() is enabled
    assert len(merger.result().tests) == 1
    assert gc.isenabled() is enabled


@pytest.mark.usefixtures("gc_restored")
@pytest.mark.parametrize("enabled", [True, False])
def test_the_callers_collector_setting_is_restored_on_error(enabled: bool) -> None:
    seen: list[bool] = []
    (gc.enable if enabled else gc.disable)()
    bad = TestRun(Tool("x"), [TestResult("t", Status.PASSED, parameters=_Watching(seen, fail=True))])
    with pytest.raises(RuntimeError, match="bad parameters"):
        Merger().add(bad)
    assert seen == [False]
    assert gc.isenabled() is enabled


def test_nan_start_times_merge_as_merge_results_merges_them() -> None:
    """A NaN start compares false with everything, so "already in order" cannot be trusted: the
    attempts still come out in the order folding with ``merge_results`` gives."""
    starts = [3.0, float("nan"), 1.0, 2.0, 0.5, 4.0]
    copies = [
        TestResult("t", Status.PASSED if i % 2 else Status.FAILED, float(i), start=s) for i, s in enumerate(starts)
    ]
    runs = [TestRun(Tool("x"), [copy], run_id=str(i)) for i, copy in enumerate(copies)]
    (merged,) = merge_runs(runs).tests
    expected = copies[0]
    for copy in copies[1:]:
        expected = merge_results(expected, copy)
    assert [a.duration for a in merged.attempts] == [a.duration for a in expected.attempts]
    assert merged.status is expected.status
