"""Differential: real pytest with pytest-rerunfailures at its oldest supported (14.0) and newest
(the lock's) versions, writing junitxml, reportlog and json-report; our counts and gate verdict
on each file must equal pytest's own summary line and exit code.

What each format cannot carry is said, not papered over: pytest's junitxml with
pytest-rerunfailures 14.0 writes no rerun at all (the flaky test reads as a plain pass, as the
tool itself says nothing else in that file), and pytest-json-report keeps only each test's final
run (its own summary counts the flaky test as one ``rerun``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

from maestro_test_result_aggregator import read_report
from tests.test_result_aggregator.differential_support import DIFFERENTIAL, pip_target, pytest_summary, verdict

pytestmark = [pytest.mark.differential, pytest.mark.slow]

PROJECT = DIFFERENTIAL / "pytest_project"
OLDEST: str = "14.0"
NEWEST: str = version("pytest-rerunfailures")
FORMATS = ("junit.xml", "reportlog.jsonl", "report.json")


@dataclass
class Ran:
    """One real pytest run: its folder, exit code and summary line counts."""

    folder: Path
    returncode: int
    summary: dict[str, int]
    rerunfailures: str


def run_pytest(folder: Path, suite: str, rerunfailures: str, *select: str) -> Ran:
    folder.mkdir(parents=True)
    shutil.copy(PROJECT / suite, folder / "test_suite.py")
    (folder / "state").mkdir()
    env = {**os.environ, "FLAKY_STATE": str(folder / "state"), "PYTHONDONTWRITEBYTECODE": "1"}
    if rerunfailures != NEWEST:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(pip_target("rerunfailures", f"pytest-rerunfailures=={rerunfailures}")), env.get("PYTHONPATH", "")]
        )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *("-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:playwright"),
            *("--reruns", "2", "--junitxml=junit.xml", "--report-log=reportlog.jsonl"),
            *("--json-report", "--json-report-file=report.json", "-o", "console_output_style=classic"),
            *select,
            "test_suite.py",
        ],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    plugins = next((line for line in done.stdout.splitlines() if line.startswith("plugins:")), "")
    assert f"rerunfailures-{rerunfailures}" in plugins, done.stdout + done.stderr
    summary = pytest_summary(done.stdout) if done.returncode in (0, 1) else {}
    return Ran(folder, done.returncode, summary, rerunfailures)


@pytest.fixture(scope="module", params=[OLDEST, NEWEST], ids=lambda v: f"rerunfailures-{v}")
def full_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    return run_pytest(tmp_path_factory.mktemp("pytest") / "full", "outcomes_suite.py", request.param)


@pytest.fixture(scope="module", params=[OLDEST, NEWEST], ids=lambda v: f"rerunfailures-{v}")
def green_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    # Only the tests that pass in the end, the flaky one included: pytest exits 0.
    select = ("-k", "passes or parametrised or flaky or TestUsers")
    return run_pytest(tmp_path_factory.mktemp("pytest") / "green", "outcomes_suite.py", request.param, *select)


def carries_reruns(ran: Ran, name: str) -> bool:
    """Whether the file ``name`` records rerun attempts at all."""
    if name == "report.json":
        return False  # only each test's final outcome
    return not (name == "junit.xml" and ran.rerunfailures == OLDEST)


@pytest.mark.parametrize("name", FORMATS)
def test_counts_equal_pytests_own_summary(full_run: Ran, name: str) -> None:
    assert full_run.returncode == 1
    expected = full_run.summary
    assert (expected["passed"], expected["failed"], expected["skipped"], expected["error"]) == (5, 3, 1, 1)
    run = read_report(full_run.folder / name)
    summary = run.summary()
    assert summary.tests == expected["passed"] + expected["failed"] + expected["skipped"] + expected["error"]
    assert (summary.passed, summary.failed, summary.skipped) == (
        expected["passed"],
        expected["failed"] + expected["error"],
        expected["skipped"],
    )
    # TestUsers::test_create and TestOrders::test_create are two tests, told apart by class.
    creates = sorted((t.classname or "").rsplit(".", 1)[-1] for t in run.tests if t.name == "test_create")
    assert creates == ["TestOrders", "TestUsers"]
    retries = sum(t.retries for t in run.tests)
    if carries_reruns(full_run, name):
        assert retries == expected["rerun"]
        assert summary.flaky == 1
    else:
        assert summary.flaky == (1 if name == "report.json" else 0)


def test_counts_equal_json_reports_own_summary(full_run: Ran) -> None:
    own = json.loads((full_run.folder / "report.json").read_text())["summary"]
    summary = read_report(full_run.folder / "report.json").summary()
    assert own["total"] == summary.tests
    assert own.get("passed", 0) + own.get("rerun", 0) == summary.passed
    assert own.get("failed", 0) + own.get("error", 0) == summary.failed
    assert own.get("rerun", 0) == summary.flaky


@pytest.mark.parametrize("name", FORMATS)
def test_gate_verdict_equals_pytests_exit_code(full_run: Ran, green_run: Ran, name: str) -> None:
    assert verdict(str(full_run.folder / name), "--max-failures", "0") == full_run.returncode == 1
    assert green_run.returncode == 0
    assert green_run.summary["failed"] == green_run.summary["error"] == 0
    assert verdict(str(green_run.folder / name), "--max-failures", "0") == green_run.returncode == 0
    if carries_reruns(green_run, name) or name == "report.json":
        assert verdict(str(green_run.folder / name), "--max-flaky", "0") == 1  # the flaky test is seen


def test_a_crashed_pytest_never_passes_the_gate(tmp_path: Path) -> None:
    # The process dies (os._exit(137)) in its second of three tests: pytest writes neither
    # junitxml nor json-report, and its reportlog stops after the first test (with --reruns,
    # pytest-rerunfailures holds the dying test's setup report back, so no record names it).
    ran = run_pytest(tmp_path / "crash", "crash_suite.py", NEWEST)
    assert ran.returncode == 137
    assert not (ran.folder / "junit.xml").exists()
    assert not (ran.folder / "report.json").exists()
    assert verdict(str(ran.folder / "reportlog.jsonl"), "--max-failures", "0") == 1
    run = read_report(ran.folder / "reportlog.jsonl")
    assert [(t.name, t.raw_status) for t in run.tests] == [
        ("test_before_the_crash", None),
        ("pytest session", "crashed"),
    ]
