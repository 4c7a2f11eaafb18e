"""The pytest readers (``formats/pytest_reports.py``) and pytest's own junitxml, on what the real
pytest 9 with pytest-rerunfailures, pytest-reportlog and pytest-json-report write: each test runs
pytest live in a subprocess on a tiny generated project (under a second)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from maestro_test_result_aggregator.formats import read_report
from maestro_test_result_aggregator.model import Status, TestRun

PROJECT = """
import pathlib

def test_flaky():
    marker = pathlib.Path(__file__).with_name("attempts")
    seen = int(marker.read_text()) if marker.exists() else 0
    marker.write_text(str(seen + 1))
    assert seen >= 1, "boom"

def test_ok():
    pass

def test_broken():
    assert False, "always"
"""

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:playwright", "-p", "no:cacheprovider"]
"""The real pytest of this environment, without the plugins that would change its output."""


def run_pytest(tmp_path: Path, *options: str) -> None:
    """pytest with two reruns on the generated project (flaky: fails once; broken: always)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_shop.py").write_text(PROJECT)
    done = subprocess.run(
        [*PYTEST, "-q", "--reruns", "2", *options, "test_shop.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # pytest's own verdict, which ours must equal.
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 2 passed, 3 rerun" in done.stdout, done.stdout


def outcomes(run: TestRun) -> dict[str, tuple[str, list[str]]]:
    return {t.name: (t.status.value, [a.status.value for a in t.attempts]) for t in run.tests}


EXPECTED = {
    "test_flaky": ("passed", ["failed", "passed"]),
    "test_ok": ("passed", []),
    "test_broken": ("failed", ["failed", "failed", "failed"]),
}


def test_reportlog_with_reruns_has_no_spurious_passed_attempt(tmp_path: Path) -> None:
    # pytest-rerunfailures 16.6.1+ sends a teardown report after each rerun attempt.
    run_pytest(tmp_path, "--report-log=log.jsonl")
    run = read_report(tmp_path / "project" / "log.jsonl")
    assert outcomes(run) == EXPECTED
    summary = run.summary()
    assert (summary.tests, summary.passed, summary.failed, summary.flaky) == (3, 2, 1, 1)


def test_json_report_rerun_outcome_is_an_attempt(tmp_path: Path) -> None:
    run_pytest(tmp_path, "--json-report", "--json-report-file=report.json")
    run = read_report(tmp_path / "project" / "report.json")
    tests = {t.name: t for t in run.tests}
    flaky = tests["test_flaky"]
    # pytest-json-report keeps only the final run: one earlier failed attempt is all it tells.
    assert (flaky.status, flaky.flaky, [a.status for a in flaky.attempts]) == (
        Status.PASSED,
        True,
        [Status.FAILED, Status.PASSED],
    )
    assert flaky.attempts[0].raw_status == "rerun"
    summary = run.summary()
    assert (summary.tests, summary.passed, summary.failed, summary.other, summary.flaky) == (3, 2, 1, 0, 1)


@pytest.mark.parametrize("family", ["xunit1", "xunit2"])
def test_pytest_junitxml_rerun_testcases_are_attempts_not_tests(tmp_path: Path, family: str) -> None:
    # pytest's junitxml writes each rerun as an extra childless <testcase> while the suite
    # declares tests="3": the repeats are attempts that failed, not passed tests.
    run_pytest(tmp_path, "--junitxml=junit.xml", "-o", f"junit_family={family}")
    run = read_report(tmp_path / "project" / "junit.xml")
    assert outcomes(run) == EXPECTED
    assert run.summary().flaky == 1


def test_a_reportlog_cut_by_a_dead_process_fails_the_test_it_was_running() -> None:
    # Real pytest 9.2 output: the process died (os._exit(137)) during its second test. The log
    # read as two passed tests, and `gate` passed the crashed run.
    from maestro_test_result_aggregator.formats import read_pytest_reportlog

    run = read_pytest_reportlog(Path(__file__).parent / "data" / "pytest_crash" / "reportlog.jsonl")
    assert [(t.name, t.status.value, t.raw_status) for t in run.tests] == [
        ("test_before_the_crash", "passed", None),
        ("test_crashes", "failed", "crashed"),
    ]
    assert "no SessionFinish record" in (run.tests[1].message or "")


def test_a_reportlog_that_stops_between_tests_is_one_failed_session(tmp_path: Path) -> None:
    from maestro_test_result_aggregator.formats import read_pytest_reportlog

    source = (Path(__file__).parent / "data" / "pytest_crash" / "reportlog.jsonl").read_text().splitlines()
    cut = tmp_path / "reportlog.jsonl"
    cut.write_text("\n".join(line for line in source if "test_crashes" not in line) + "\n")
    run = read_pytest_reportlog(cut)
    assert [(t.name, t.status.value, t.raw_status) for t in run.tests] == [
        ("test_before_the_crash", "passed", None),
        ("pytest session", "failed", "crashed"),
    ]
