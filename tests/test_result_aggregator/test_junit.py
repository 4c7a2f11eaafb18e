"""The JUnit reader and writer (``formats/junit.py``) on reports written by the real Playwright
Test 1.65 (``data/playwright_1_65/``, see ``data/README.md``): which sibling testcases are one
test, and what we write reads back to the same tests and attempts."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.formats import read_report, write_ctrf, write_junit
from maestro_test_result_aggregator.formats.junit import JUNIT_ENGINES, JUNIT_PROFILES, read_junit
from maestro_test_result_aggregator.merge import merge_runs
from maestro_test_result_aggregator.model import Status, TestRun

PLAYWRIGHT = Path(__file__).parent / "data" / "playwright_1_65"


def verdicts(run: TestRun) -> dict[tuple[str, str], str]:
    return {(t.name, t.parameters.get("project", "")): t.status.value for t in run.tests}


@pytest.mark.parametrize("engine", JUNIT_ENGINES)
def test_playwright_projects_are_distinct_tests_not_retries(engine: str) -> None:
    # Playwright writes one same-named <testsuite> per project, the project only in hostname=.
    run = read_junit(PLAYWRIGHT / "artifact" / "junit.xml", engine=engine)
    summary = run.summary()
    assert (summary.tests, summary.failed, summary.skipped) == (14, 1, 2)  # as the tool says: tests="14"
    assert verdicts(run)[("checkout", "desktop")] == "failed"
    assert verdicts(run)[("checkout", "mobile")] == "passed"
    assert not any(t.attempts for t in run.tests)  # its JUnit reporter does not write retries
    # The same run's JSON report gives the same verdict per test and project.
    assert verdicts(run) == verdicts(read_report(PLAYWRIGHT / "artifact" / "results.json"))


def test_gate_fails_on_a_playwright_project_that_failed() -> None:
    result = CliRunner().invoke(
        main, ["gate", "--min-pass-rate", "100", str(PLAYWRIGHT / "artifact" / "junit.xml")], catch_exceptions=False
    )
    assert result.exit_code == 1, result.output
    assert "11 passed, 1 failed" in result.output


def shape(run: TestRun) -> list[tuple[str, str, bool, tuple[str, ...]]]:
    """Each test's identity, outcome, flakiness and attempt outcomes."""
    return sorted((t.test_id, t.status.value, t.flaky, tuple(a.status.value for a in t.attempts)) for t in run.tests)


@pytest.fixture(scope="module")
def merged_shards() -> TestRun:
    merged = merge_runs(read_report(PLAYWRIGHT / f"shard-{n}" / "results.json") for n in (1, 2))
    summary = merged.summary()
    assert (summary.tests, summary.failed, summary.flaky) == (14, 1, 4)
    return merged


@pytest.mark.parametrize("engine", JUNIT_ENGINES)
@pytest.mark.parametrize("profile", JUNIT_PROFILES)
def test_merged_playwright_shards_written_as_junit_read_back_the_same(
    merged_shards: TestRun, profile: str, engine: str, tmp_path: Path
) -> None:
    path = tmp_path / "merged.xml"
    write_junit(merged_shards, path, profile=profile)
    assert shape(read_junit(path, engine=engine)) == shape(merged_shards)


def test_merged_playwright_shards_written_as_ctrf_read_back_the_same(merged_shards: TestRun, tmp_path: Path) -> None:
    path = tmp_path / "merged.json"
    write_ctrf(merged_shards, path)
    assert shape(read_report(path)) == shape(merged_shards)


def test_the_merged_flaky_test_keeps_each_attempt_outcome_through_xunit2(
    merged_shards: TestRun, tmp_path: Path
) -> None:
    path = tmp_path / "merged.xml"
    write_junit(merged_shards, path)
    back = {(t.name, t.parameters["project"]): t for t in read_report(path).tests}
    sign_out = back[("sign out", "mobile")]
    assert [a.status for a in sign_out.attempts] == [Status.FAILED, Status.PASSED]
    assert sign_out.attempts[0].message is not None
    assert "session cookie race" in sign_out.attempts[0].message


GOOGLETEST = Path(__file__).parent / "data" / "googletest_1_12" / "gtest.xml"


@pytest.mark.parametrize("engine", JUNIT_ENGINES)
def test_googletest_disabled_tests_are_skipped_not_passed(engine: str) -> None:
    run = read_junit(GOOGLETEST, engine=engine)
    outcomes = {(t.classname, t.name): (t.status, t.raw_status) for t in run.tests}
    assert outcomes[("Cart", "DISABLED_ExportsPdf")] == (Status.SKIPPED, "disabled")
    assert outcomes[("DISABLED_Legacy", "Checkout")] == (Status.SKIPPED, "disabled")
    assert outcomes[("Cart", "SkipsOnCi")] == (Status.SKIPPED, "skipped")
    summary = run.summary()
    # GoogleTest's own count: 5 tests, 1 failed, 2 disabled, 1 skipped.
    assert (summary.tests, summary.passed, summary.failed, summary.skipped) == (5, 1, 1, 3)
    assert all(t.start is None or t.start > 0 for t in run.tests)  # "1970-01-01" is no time


def test_googletest_disabled_tests_are_skipped_among_many_fast_path_testcases(tmp_path: Path) -> None:
    # The fast reader learns the attribute order of the first testcases: a disabled test after
    # a thousand run ones, with the same attributes in the same order, is still seen.
    text = GOOGLETEST.read_text()
    line = next(x for x in text.splitlines() if 'name="AddsItem"' in x)
    disabled = next(x for x in text.splitlines() if 'name="DISABLED_ExportsPdf"' in x)
    many = "\n".join(line.replace("AddsItem", f"Adds{n}") for n in range(1000))
    path = tmp_path / "many.xml"
    path.write_text(text.replace(line, many + "\n" + disabled.replace("DISABLED_ExportsPdf", "DISABLED_Late")))
    for engine in JUNIT_ENGINES:
        late = {t.name: t for t in read_junit(path, engine=engine).tests}["DISABLED_Late"]
        assert late.status is Status.SKIPPED, engine


JEST = Path(__file__).parent / "data" / "jest_junit_16" / "junit.xml"


@pytest.mark.parametrize("engine", JUNIT_ENGINES)
def test_jest_titles_reused_across_describe_blocks_are_distinct_tests(engine: str) -> None:
    # jest-junit lists both "adds an item" tests with the same name and class; the suite declares
    # tests="3" for its three testcases, so they are three tests, told apart by position.
    run = read_junit(JEST, engine=engine)
    summary = run.summary()
    assert (summary.tests, summary.passed, summary.failed, summary.flaky) == (3, 2, 1, 0)  # Jest: 1 failed, 2 passed
    same = [(t.status.value, dict(t.parameters)) for t in run.tests if t.name == "adds an item"]
    assert same == [("passed", {}), ("failed", {"occurrence": "2"})]
    assert len({t.test_id for t in run.tests}) == 3


def test_a_nameless_jest_test_gets_a_non_empty_ctrf_name(tmp_path: Path) -> None:
    path = tmp_path / "ctrf.json"
    write_ctrf(read_junit(JEST), path)
    names = [t.name for t in read_report(path).tests]
    assert "" not in names
    assert "cart.test.js" in names  # its class (jest-junit's {filename})


@pytest.mark.parametrize("engine", JUNIT_ENGINES)
def test_hostile_attempt_properties_are_ignored_not_trusted(engine: str, tmp_path: Path) -> None:
    values = [
        '{"status": "failed", "duration": 1e999}',  # inf: kept, without the duration
        '{"status": "failed", "message": ["not", "text"]}',
        '{"status": "exploded"}',
        "[" * 100_000 + "]" * 100_000,
        '{"status": "failed", "start": 1e300}',  # no time: kept, without the start
        "not json",
    ]
    properties = "".join(
        f'<property name="maestro.attempt.{n}" value="{v.replace(chr(34), "&quot;")}"/>'
        for n, v in enumerate(values, start=1)
    )
    path = tmp_path / "junit.xml"
    path.write_text(
        f'<testsuite name="s"><testcase name="t"><properties>{properties}</properties></testcase></testsuite>'
    )
    (test,) = read_junit(path, engine=engine).tests
    assert [(a.status.value, a.duration, a.start) for a in test.attempts] == [
        ("failed", 0.0, None),
        ("failed", 0.0, None),
        ("passed", 0.0, None),
    ]


@pytest.mark.parametrize("engine", JUNIT_ENGINES)
def test_a_testcase_with_failure_and_error_keeps_both(engine: str, tmp_path: Path) -> None:
    # One <testcase> holding a <failure> and an <error> (a failed call and a teardown that raised,
    # as some writers put them): the error used to be dropped, message and trace.
    path = tmp_path / "junit.xml"
    path.write_text(
        '<testsuite name="s" tests="1" failures="1" errors="1"><testcase classname="c" name="t">'
        '<failure message="AssertionError: call failed">assert 1 == 2</failure>'
        '<error message="failed on teardown with RuntimeError">RuntimeError: teardown crashed</error>'
        "</testcase></testsuite>"
    )
    (test,) = read_junit(path, engine=engine).tests
    assert (test.status, test.raw_status) == (Status.FAILED, "failure")
    assert test.message == "AssertionError: call failed\nerror: failed on teardown with RuntimeError"
    assert test.trace == "assert 1 == 2\n\nerror:\nRuntimeError: teardown crashed"


@pytest.mark.parametrize("engine", JUNIT_ENGINES)
def test_same_named_testcases_with_empty_and_missing_properties_are_read(engine: str, tmp_path: Path) -> None:
    # Regression (found by the generated-documents property test): one testcase without
    # properties and one with k="" were "different" but fell into one group: the reader looped.
    path = tmp_path / "junit.xml"
    path.write_text(
        '<testsuite name="s"><testcase name="t"/>'
        '<testcase name="t"><properties><property name="k" value=""/></properties></testcase></testsuite>'
    )
    tests = read_junit(path, engine=engine).tests
    assert [t.name for t in tests] == ["t"]
