"""Folding repeat-plugin copies (pytest-repeat ``--count``, pytest-flakefinder) into attempts."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from maestro_test_result_aggregator import collapse_repeats
from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.formats import read_report
from maestro_test_result_aggregator.merge import REPEAT_STYLES, Merger, merge_runs
from maestro_test_result_aggregator.model import Attempt, Status, TestResult, TestRun, Tool

PASSED, FAILED = Status.PASSED, Status.FAILED


def run_of(*tests: TestResult) -> TestRun:
    return TestRun(Tool("pytest"), list(tests))


def case(name: str, status: Status = PASSED, **fields: object) -> TestResult:
    return TestResult(name, status, file="tests/test_a.py", classname="tests.test_a", **fields)  # type: ignore[arg-type]


def test_pytest_repeat_copies_become_attempts_in_repetition_order() -> None:
    run = run_of(
        case("test_x[3-3]", PASSED, duration=3.0),
        case("test_other"),
        case("test_x[1-3]", PASSED, duration=1.0),
        case("test_x[2-3]", FAILED, duration=2.0, message="boom"),
    )
    folded = collapse_repeats(run, "pytest-repeat")
    assert [t.name for t in folded.tests] == ["test_x", "test_other"]  # at the first copy's place
    test_x = folded.tests[0]
    assert [a.status for a in test_x.attempts] == [PASSED, FAILED, PASSED]
    assert [a.duration for a in test_x.attempts] == [1.0, 2.0, 3.0]
    assert test_x.attempts[1].message == "boom"
    assert (test_x.status, test_x.duration, test_x.flaky, test_x.retries) == (PASSED, 3.0, True, 2)
    assert test_x.test_id == case("test_x").test_id
    assert [t.name for t in run.tests] == ["test_x[3-3]", "test_other", "test_x[1-3]", "test_x[2-3]"]  # untouched


def test_pytest_repeat_keeps_real_parameters_apart() -> None:
    names = ["test_y[a-1-2]", "test_y[b-1-2]", "test_y[a-2-2]", "test_y[b-2-2]"]
    statuses = [FAILED, PASSED, PASSED, PASSED]
    folded = collapse_repeats(run_of(*(case(n, s) for n, s in zip(names, statuses, strict=True))), "pytest-repeat")
    assert [(t.name, t.flaky, len(t.attempts)) for t in folded.tests] == [
        ("test_y[a]", True, 2),
        ("test_y[b]", False, 2),
    ]


def test_the_last_repetition_is_the_final_outcome() -> None:
    folded = collapse_repeats(run_of(case("t[1-2]", PASSED), case("t[2-2]", FAILED, message="late")), "pytest-repeat")
    (result,) = folded.tests
    assert (result.status, result.message, result.flaky) == (FAILED, "late", False)


@pytest.mark.parametrize(
    "names",
    [
        ["test_p[1-3]", "test_p[2-4]"],  # different counts: parameters, not a repeat
        ["test_p[1-2]", "test_p[2-2]", "test_p[3-2]"],  # more copies than the count / number > count
        ["test_p[1-3]"],  # a lone copy
        ["test_p[1-3]", "test_p[1-3]"],  # the same repetition twice (reruns are the merger's business)
        ["test_p[0-3]", "test_p[1-3]"],  # pytest-repeat counts from 1
        ["test_p[a]", "test_p[b]"],
    ],
)
def test_what_does_not_look_like_a_pytest_repeat_group_is_left_alone(names: list[str]) -> None:
    run = run_of(*(case(n) for n in names))
    assert collapse_repeats(run, "pytest-repeat") == run


def test_flakefinder_copies_become_attempts() -> None:
    run = run_of(
        *(case(f"test_f[{i}]", FAILED if i == 1 else PASSED) for i in range(4)),
        *(case(f"test_g[{i}-fast]") for i in range(3)),
    )
    folded = collapse_repeats(run, "flakefinder")
    assert [(t.name, len(t.attempts), t.flaky) for t in folded.tests] == [
        ("test_f", 4, True),
        ("test_g[fast]", 3, False),
    ]


def test_copies_in_other_classes_or_files_are_other_tests() -> None:
    run = run_of(
        TestResult("test_x[0]", PASSED, classname="A"),
        TestResult("test_x[1]", PASSED, classname="B"),
        TestResult("test_z[0]", PASSED, file="a.py"),
        TestResult("test_z[1]", PASSED, file="b.py"),
    )
    assert collapse_repeats(run, "flakefinder") == run


def test_a_rerun_copy_keeps_its_own_attempts() -> None:
    rerun = case("t[1-2]", PASSED, attempts=(Attempt(FAILED, message="first try"), Attempt(PASSED)))
    folded = collapse_repeats(run_of(rerun, case("t[2-2]")), "pytest-repeat")
    assert [a.status for a in folded.tests[0].attempts] == [FAILED, PASSED, PASSED]


def test_nothing_is_folded_unless_asked() -> None:
    shard = run_of(case("test_x[1-2]", FAILED), case("test_x[2-2]"))
    assert [t.name for t in merge_runs([shard]).tests] == ["test_x[1-2]", "test_x[2-2]"]
    merged = merge_runs([shard], repeats="pytest-repeat")
    assert [(t.name, t.flaky) for t in merged.tests] == [("test_x", True)]


def test_merging_folded_shards_is_idempotent() -> None:
    shard = run_of(*(case(f"test_x[{i}]", FAILED if i == 0 else PASSED) for i in range(3)))
    merger = Merger(repeats="flakefinder")
    assert merger.add(shard)
    assert not merger.add(shard)
    (result,) = merger.result().tests
    assert (result.name, len(result.attempts), result.flaky) == ("test_x", 3, True)


def test_bad_styles_are_refused_naming_the_parameter() -> None:
    with pytest.raises(ValueError, match="style must be one of pytest-repeat, flakefinder"):
        collapse_repeats(run_of(), "count")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="repeats must be None or one of"):
        Merger(repeats="count")  # type: ignore[arg-type]
    assert REPEAT_STYLES == ("pytest-repeat", "flakefinder")


@given(
    counts=st.lists(st.integers(min_value=2, max_value=5), min_size=1, max_size=4),
    outcomes=st.lists(st.booleans(), min_size=20, max_size=20),
)
def test_folding_keeps_every_execution_and_is_stable(counts: list[int], outcomes: list[bool]) -> None:
    tests = []
    flips = iter(outcomes * 2)
    for index, count in enumerate(counts):
        for number in range(1, count + 1):
            tests.append(case(f"test_{index}[{number}-{count}]", PASSED if next(flips) else FAILED))
    run = run_of(*tests)
    folded = collapse_repeats(run, "pytest-repeat")
    assert len(folded.tests) == len(counts)
    assert sum(len(t.attempts) for t in folded.tests) == len(tests)
    for result, count in zip(folded.tests, counts, strict=True):
        assert result.status is result.attempts[-1].status
        assert result.flaky == (result.status is PASSED and any(a.status is FAILED for a in result.attempts))
        assert len(result.attempts) == count
    assert collapse_repeats(folded, "pytest-repeat") == folded


JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.test_a" name="test_x[1-3]" time="0.1"/>
<testcase classname="tests.test_a" name="test_x[2-3]" time="0.2"><failure message="boom">trace</failure></testcase>
<testcase classname="tests.test_a" name="test_x[3-3]" time="0.3"/>
</testsuite></testsuites>
"""


def test_the_cli_folds_repeats_only_with_the_option(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    report.write_text(JUNIT)
    runner = CliRunner()
    plain = runner.invoke(main, ["merge", str(report), "-o", str(tmp_path / "plain.json")])
    assert plain.exit_code == 0, plain.output
    assert len(read_report(tmp_path / "plain.json").tests) == 3
    folded = runner.invoke(main, ["merge", str(report), "--repeats", "pytest-repeat", "-o", str(tmp_path / "f.json")])
    assert folded.exit_code == 0, folded.output
    (test,) = read_report(tmp_path / "f.json").tests
    assert (test.name, test.flaky, len(test.attempts)) == ("test_x", True, 3)
    document = json.loads((tmp_path / "f.json").read_text())
    assert document["results"]["summary"]["flaky"] == 1
    bad = runner.invoke(main, ["merge", str(report), "--repeats", "count", "-o", str(tmp_path / "x.json")])
    assert bad.exit_code == 2


def test_flakefinder_folds_identical_ids_the_junit_reader_told_apart_by_position() -> None:
    # Three testcases with one id in a suite declaring three tests: read as three tests (the
    # second and third with parameter "occurrence"); flakefinder's repeats of one test.
    path = Path(tempfile.mkdtemp()) / "junit.xml"
    path.write_text(
        '<testsuite name="pytest" tests="3"><testcase classname="t.T" name="test_a"/>'
        '<testcase classname="t.T" name="test_a"><failure message="boom"/></testcase>'
        '<testcase classname="t.T" name="test_a"/></testsuite>'
    )
    run = read_report(path)
    assert len(run.tests) == 3
    (folded,) = collapse_repeats(run, "flakefinder").tests
    assert (folded.name, dict(folded.parameters), folded.flaky) == ("test_a", {}, True)
    assert [a.status for a in folded.attempts] == [PASSED, FAILED, PASSED]
