"""Merge (``merge.py``): shards and reruns into one run, idempotence, linear work per case, and
the run fingerprint history stores keep, with hypothesis properties; attempt order and
de-duplication on reports the real pytest writes (run live in a subprocess)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.formats import read_report
from maestro_test_result_aggregator.merge import Merger, merge_results, merge_runs, run_fingerprint
from maestro_test_result_aggregator.model import Attempt, Status, TestResult, TestRun, Tool
from maestro_test_result_aggregator.testing import make_run
from tests.test_result_aggregator.strategies import results

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:playwright", "-p", "no:cacheprovider"]
"""The real pytest of this environment, without the plugins that would change its output."""


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
    # (A merged run is a run of its own: merging it again with its inputs adds their attempts
    # again. Idempotence is by run identity, never by equal attempts.)
    # One result per test id, and its status is its last attempt's.
    assert len({t.test_id for t in once.tests}) == len(once.tests)
    for test in once.tests:
        if test.attempts:
            assert test.status is test.attempts[-1].status


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


CHECKOUT = """
import os

def test_checkout():
    assert os.environ["OUTCOME"] == "pass", "boom"
"""


def pytest_junit(folder: Path, outcome: str) -> Path:
    """Run the real pytest once on a one-test project (passing or failing with "boom"), writing
    ``folder/junit.xml`` (its suite ``timestamp`` says when it ran)."""
    folder.mkdir(parents=True)
    (folder / "test_shop.py").write_text(CHECKOUT)
    subprocess.run(
        [*PYTEST, "-q", "--junitxml=junit.xml", "test_shop.py"],
        cwd=folder,
        env={**os.environ, "OUTCOME": outcome},
        capture_output=True,
        timeout=120,
        check=False,
    )
    return folder / "junit.xml"


def attempts_of(folder: Path, *names: str) -> tuple[str, list[str]]:
    output = folder.parent / f"{folder.name}-merged.jsonl"
    result = CliRunner().invoke(main, ["merge", "--format", "jsonl", "-o", str(output), *names])
    assert result.exit_code == 0, result.output
    (test,) = read_report(output).tests
    return test.status.value, [a.status.value for a in test.attempts]


def test_reruns_are_ordered_by_the_time_they_ran_not_by_their_path(tmp_path: Path) -> None:
    # The shard ran first and failed; the rerun job ran later and passed. "pytest-rerun/" sorts
    # before "pytest-shard-1/": the path order would make the failure the final outcome.
    pytest_junit(tmp_path / "pytest-shard-1", "fail")
    pytest_junit(tmp_path / "pytest-rerun", "pass")
    assert attempts_of(tmp_path, str(tmp_path)) == ("passed", ["failed", "passed"])
    # Renaming the folders changes nothing.
    (tmp_path / "pytest-shard-1").rename(tmp_path / "z-shard-1")
    assert attempts_of(tmp_path, str(tmp_path)) == ("passed", ["failed", "passed"])


def test_a_run_failing_again_the_same_way_is_another_attempt(tmp_path: Path) -> None:
    for number, outcome in enumerate(["fail", "pass", "fail"], start=1):
        pytest_junit(tmp_path / f"run-{number}", outcome)
    assert attempts_of(tmp_path, str(tmp_path)) == ("failed", ["failed", "passed", "failed"])
    # Written as JUnit in either profile, the merged run reads back to the same attempts.
    for profile in ("xunit2", "surefire"):
        output = tmp_path.parent / f"{tmp_path.name}-{profile}.xml"
        arguments = ["merge", "--format", "junit", "--profile", profile, "-o", str(output), str(tmp_path)]
        assert CliRunner().invoke(main, arguments).exit_code == 0
        (test,) = read_report(output).tests
        assert (test.status.value, [a.status.value for a in test.attempts]) == (
            "failed",
            ["failed", "passed", "failed"],
        )
    # The same report given twice is one run (recognised by its content), not another attempt.
    again = [str(tmp_path / "run-1" / "junit.xml"), str(tmp_path / "copy")]
    shutil.copytree(tmp_path / "run-1", tmp_path / "copy")
    assert attempts_of(tmp_path, *again) == ("failed", [])
