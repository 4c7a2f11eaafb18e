"""Differential: real Jest (jest-junit), Vitest 3 and 4 (their junit reporter) and Playwright
Test (two projects, one retry, the system Chromium) from the npm registry, on small suites that
pass, fail, skip, flake and crash (a killed worker); our counts and gate verdict on every report
each writes must equal the tool's own summary (its JSON numbers) and exit code.

The npm project (``differential/js_project``) is installed with ``npm ci`` once per content into
the differential cache folder (``differential_support.cached``), so ``node_modules`` is reused
between sessions, and npm's own cache makes a fresh install quick. What a format cannot carry is
said: jest-junit and Vitest's JUnit list each test once (no retries), and Playwright's JUnit
reporter does not mark retries, so their flaky tests read as plain passes, as in the tool's file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from maestro_test_result_aggregator import read_report
from tests.fixtures.services import require
from tests.test_result_aggregator.differential_support import DIFFERENTIAL, cached, verdict

pytestmark = [pytest.mark.differential, pytest.mark.slow]

PROJECT = DIFFERENTIAL / "js_project"
VITEST4_PROJECT = DIFFERENTIAL / "vitest4_project"


def _content_key(source: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*")):
        if path.is_file() and "node_modules" not in path.parts:
            digest.update(path.relative_to(source).as_posix().encode() + b"\0" + path.read_bytes())
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip()
    return f"{node}:{digest.hexdigest()}"


def installed(source: Path) -> Path:
    """The npm project ``source`` installed with ``npm ci`` in the differential cache (once per
    content and Node version)."""
    npm = require("npm", "npm (Node.js)", "nodejs npm")

    def install(folder: Path) -> None:
        shutil.copytree(source, folder, dirs_exist_ok=True)
        subprocess.run(
            [str(npm), "ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline"],
            cwd=folder,
            check=True,
            capture_output=True,
            timeout=600,
            env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
        )

    return cached(source.name.replace("_", "-"), _content_key(source), install)


@pytest.fixture(scope="module")
def project() -> Path:
    return installed(PROJECT)


@pytest.fixture(scope="module")
def vitest4_project() -> Path:
    return installed(VITEST4_PROJECT)


@dataclass
class Ran:
    """One real run: its exit code, its reports and its own counts (from its JSON report)."""

    returncode: int
    reports: dict[str, Path]
    own: dict[str, int]
    output: str


def _npx(project: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(project / "node_modules" / ".bin" / args[0]), *args[1:]],
        cwd=project,
        env={**os.environ, "CI": "1", "FORCE_COLOR": "0", **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _state(out: Path) -> dict[str, str]:
    (out / "state").mkdir(parents=True)
    return {"FLAKY_STATE": str(out / "state")}


@pytest.fixture(scope="module")
def jest(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Ran:
    out = tmp_path_factory.mktemp("jest")
    junit, own = out / "jest-junit.xml", out / "jest.json"
    done = _npx(
        project,
        "jest",
        *("--ci", "--reporters=default", "--reporters=jest-junit", "--json", f"--outputFile={own}"),
        env={**_state(out), "JEST_JUNIT_OUTPUT_FILE": str(junit)},
    )
    numbers = json.loads(own.read_text())
    counts = {"passed": numbers["numPassedTests"], "failed": numbers["numFailedTests"]}
    counts |= {"skipped": numbers["numPendingTests"], "total": numbers["numTotalTests"], "flaky": 0}
    return Ran(done.returncode, {"jest-junit": junit}, counts, done.stdout + done.stderr)


def run_vitest(project: Path, out: Path, *config: str) -> Ran:
    junit, own = out / "vitest-junit.xml", out / "vitest.json"
    done = _npx(
        project,
        "vitest",
        *("run", *config, "--reporter=default", "--reporter=junit", "--reporter=json"),
        *(f"--outputFile.junit={junit}", f"--outputFile.json={own}"),
        env=_state(out),
    )
    numbers = json.loads(own.read_text())
    counts = {"passed": numbers["numPassedTests"], "failed": numbers["numFailedTests"]}
    counts |= {"skipped": numbers["numPendingTests"], "total": numbers["numTotalTests"], "flaky": 0}
    return Ran(done.returncode, {"vitest-junit": junit}, counts, done.stdout + done.stderr)


@pytest.fixture(scope="module", params=["vitest 3", "vitest 4"])
def vitest(
    request: pytest.FixtureRequest, project: Path, vitest4_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> Ran:
    folder = project if request.param == "vitest 3" else vitest4_project
    return run_vitest(folder, tmp_path_factory.mktemp("vitest"))


@pytest.fixture(scope="module")
def playwright(
    project: Path, tmp_path_factory: pytest.TempPathFactory, chromium_executable: Path, chromium_args: list[str]
) -> Ran:
    out = tmp_path_factory.mktemp("playwright")
    junit, results = out / "artifact" / "junit.xml", out / "artifact" / "results.json"
    done = _npx(
        project,
        "playwright",
        "test",
        env={
            **_state(out),
            "PLAYWRIGHT_JUNIT_OUTPUT_FILE": str(junit),
            "PLAYWRIGHT_JSON_OUTPUT_FILE": str(results),
            "MAESTRO_OUTPUT_DIR": str(out / "test-results"),
            "MAESTRO_CHROMIUM": str(chromium_executable),
            "MAESTRO_CHROMIUM_ARGS": json.dumps([*chromium_args, "--headless=new"]),
        },
    )
    stats = json.loads(results.read_text())["stats"]
    counts = {"passed": stats["expected"] + stats["flaky"], "failed": stats["unexpected"]}
    counts |= {"skipped": stats["skipped"], "flaky": stats["flaky"]}
    counts["total"] = counts["passed"] + counts["failed"] + counts["skipped"]
    return Ran(done.returncode, {"playwright-junit": junit, "playwright-json": results}, counts, done.stdout)


def _check(ran: Ran, report: str, *, carries_retries: bool) -> None:
    assert ran.returncode == 1, ran.output  # each suite has a failing test
    summary = read_report(ran.reports[report]).summary()
    own = ran.own
    assert (summary.tests, summary.passed, summary.failed, summary.skipped) == (
        own["total"],
        own["passed"],
        own["failed"],
        own["skipped"],
    ), ran.output
    assert summary.flaky == (own["flaky"] if carries_retries else 0)
    assert verdict(str(ran.reports[report]), "--max-failures", "0") == ran.returncode
    assert verdict(str(ran.reports[report]), "--max-failures", str(own["failed"])) == 0


def test_jest_junit_counts_and_verdict_equal_jests(jest: Ran) -> None:
    assert (jest.own["passed"], jest.own["failed"], jest.own["skipped"]) == (3, 2, 1)
    _check(jest, "jest-junit", carries_retries=False)


def test_vitest_junit_counts_and_verdict_equal_vitests(vitest: Ran) -> None:
    assert (vitest.own["passed"], vitest.own["failed"], vitest.own["skipped"]) == (3, 2, 1)
    _check(vitest, "vitest-junit", carries_retries=False)
    # The title reused in two describe blocks stays two tests.
    names = sorted(t.name for t in read_report(vitest.reports["vitest-junit"]).tests)
    assert names.count("cart > totals") == names.count("orders > totals") == 1


@pytest.mark.parametrize(("report", "retries"), [("playwright-junit", False), ("playwright-json", True)])
def test_playwright_counts_and_verdict_equal_playwrights(playwright: Ran, report: str, retries: bool) -> None:
    assert playwright.own == {"passed": 5, "failed": 1, "skipped": 2, "flaky": 2, "total": 8}
    _check(playwright, report, carries_retries=retries)
    # The two projects' same-named tests stay distinct (project from hostname= in JUnit).
    run = read_report(playwright.reports[report])
    failed = [(t.name, dict(t.parameters)) for t in run.tests if t.status.value == "failed"]
    assert failed == [("checkout fits the viewport", {"project": "desktop"})]


def test_playwright_artifact_folder_is_counted_once(playwright: Ran) -> None:
    # The run's junit.xml and results.json side by side: one run, counted once.
    folder = str(playwright.reports["playwright-json"].parent)
    assert verdict(folder, "--max-failures", "1", "--min-tests", "8", "--max-flaky", "2") == 0
    assert verdict(folder, "--min-tests", "9") == 1


def _jest_crash(project: Path, out: Path, *, suite_errors: bool) -> tuple[int, Path, dict[str, int]]:
    junit, own = out / "jest-junit.xml", out / "jest.json"
    done = _npx(
        project,
        "jest",
        *("--ci", "--maxWorkers=2", f"--cacheDirectory={out / 'cache'}"),  # no timings cached: workers, not in band
        *("--testMatch", "<rootDir>/jest-crash/**/*.test.js"),
        *("--reporters=default", "--reporters=jest-junit", "--json", f"--outputFile={own}"),
        env={
            "JEST_JUNIT_OUTPUT_FILE": str(junit),
            "JEST_JUNIT_REPORT_TEST_SUITE_ERRORS": "true" if suite_errors else "false",
        },
    )
    return done.returncode, junit, json.loads(own.read_text())


def test_jest_worker_crash_reaches_the_verdict_only_with_suite_errors_reported(project: Path, tmp_path: Path) -> None:
    # A worker killed mid-file: Jest exits 1 and counts the file as a runtime error. jest-junit's
    # default leaves that file out of its report altogether (nothing in the file says a file
    # died, so no reader can see it); with reportTestSuiteErrors it is a failed testcase, and our
    # verdict equals Jest's.
    code, junit, own = _jest_crash(project, tmp_path / "default", suite_errors=False)
    assert (code, own["numRuntimeErrorTestSuites"], own["numPassedTests"]) == (1, 1, 1)
    assert read_report(junit).summary().tests == 1  # only the healthy file's test
    code, junit, own = _jest_crash(project, tmp_path / "suite-errors", suite_errors=True)
    assert code == 1
    assert verdict(str(junit), "--max-failures", "0") == code
    failed = [t for t in read_report(junit).tests if t.status.value == "failed"]
    assert [t.name for t in failed] == ["jest-crash/crash.test.js"]


def test_vitest_4_worker_crash_fails_as_vitest_does(vitest4_project: Path, tmp_path: Path) -> None:
    # A worker killed mid-file while another file runs on: Vitest 4 exits 1 and passes one test
    # of five; its JUnit file lists the dead file's tests as bare testcases of time 0.
    ran = run_vitest(vitest4_project, tmp_path, "--config", "vitest.crash.config.mjs")
    assert ran.returncode == 1, ran.output
    run = read_report(ran.reports["vitest-junit"])
    assert run.summary().passed == ran.own["passed"] == 1
    assert verdict(str(ran.reports["vitest-junit"]), "--max-failures", "0") == ran.returncode
    assert [(t.name, t.raw_status) for t in run.tests if t.status.value == "failed"] == [
        ("vitest-crash/worker.test.js: its worker died", "crashed")
    ]
