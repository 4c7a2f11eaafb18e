"""The frontend adapter on real Vitest (vite@7 + vitest@3), Jest 30 and Playwright Test projects,
installed with ``npm ci``.

Each project lives in ``<runner>_project/`` with its package.json and package-lock.json; the test
session copies it to a temporary folder and installs it there, so no node_modules ever lands in
the repository. Playwright Test drives the system Chromium (its config reads ``MAESTRO_CHROMIUM``):
``PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD`` keeps npm from fetching a browser.

No outcome depends on the machine's speed: a test that must be cut by the global timeout waits
forever and the deadline is reached on an event (``DeadlineClock``), and a test that kills its
runner first waits, in the runner, until our reporter has recorded what must survive the kill.
The ``timeout`` of the other runs is only a safety net against a hang.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from maestro_test_adapters import (
    ExitCode,
    FrontendAdapter,
    InvalidOptionError,
    RunOptions,
    TargetNotFoundError,
    chromium_args,
    exit_code,
    run_error,
)
from maestro_test_result_aggregator.formats import read_jsonl, validate_ctrf
from maestro_test_result_aggregator.model import Status
from tests.fixtures.services import require
from tests.test_adapters.deadline import DeadlineClock

PROJECT = Path(__file__).parent / "vitest_project"
VITEST4_PROJECT = Path(__file__).parent / "vitest4_project"


def installed_copy(tmp_path_factory: pytest.TempPathFactory, source: Path) -> Path:
    """A temporary copy of the npm project ``source`` with its locked dependencies installed."""
    npm = require("npm", "npm (Node.js)", "nodejs npm")
    root = tmp_path_factory.mktemp(source.name) / "project"
    shutil.copytree(source, root, ignore=shutil.ignore_patterns("node_modules", "test-results"))
    subprocess.run(
        [str(npm), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"},
    )
    return root


@pytest.fixture(scope="module")
def vitest_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_copy(tmp_path_factory, PROJECT)


@pytest.fixture(scope="module")
def vitest4_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = installed_copy(tmp_path_factory, VITEST4_PROJECT)
    (root / "src").mkdir(exist_ok=True)  # the tests write their test files there
    return root


@pytest.mark.slow
def test_vitest_results_are_ingested_into_the_model(vitest_project: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    started: list[str] = []
    options = RunOptions(
        jsonl=tmp_path / "r.jsonl",
        ctrf=tmp_path / "ctrf.json",
        timeout=300,
        on_result=lambda r: seen.append(r.name),
        on_test_start=started.append,
        runner_args=("src/sum.test.js",),
    )
    run = FrontendAdapter().run(vitest_project, options=options)
    assert run_error(run) is None
    assert run.tool.name == "vitest"
    statuses = {r.name: r.status for r in run.tests}
    assert statuses == {
        "sum > adds numbers": Status.PASSED,
        "sum > fails on purpose": Status.FAILED,
        "sum > is skipped": Status.SKIPPED,
        "works at the top level": Status.PASSED,
    }
    failed = next(r for r in run.tests if r.status is Status.FAILED)
    assert "expected 4 to be 5" in (failed.message or "")
    assert all(r.suite[:1] == ("src/sum.test.js",) for r in run.tests)
    assert exit_code(run) is ExitCode.TESTS_FAILED
    assert sorted(seen) == sorted(statuses)  # live, from our progress reporter
    assert sorted(started) == sorted(statuses)
    streamed = read_jsonl(tmp_path / "r.jsonl")
    assert [r.name for r in streamed.tests] == [r.name for r in run.tests]  # the JSONL is the run
    assert sorted(r.name for r in streamed.tests) == sorted(statuses)
    assert streamed.tool.name == "vitest"
    assert streamed.tool.version is not None
    assert streamed.tool.version.startswith("3.")
    assert [r.test_id for r in streamed.tests] == [r.test_id for r in run.tests]
    assert all(r.file == "src/sum.test.js" for r in run.tests)
    validate_ctrf(json.loads((tmp_path / "ctrf.json").read_text()))


STALLING = """
// never finishes loading, so no test ever starts: only the timeout can end the run
setInterval(() => {}, 1000);
await new Promise(() => {});
"""


@pytest.mark.timing
@pytest.mark.slow
async def test_a_hanging_runner_is_killed_and_reported(vitest_project: Path) -> None:
    # whether the timeout passes while npm starts or while the file loads, no test has started
    (vitest_project / "src" / "stall.test.js").write_text(STALLING)
    try:
        options = RunOptions(timeout=0.3, runner_args=("src/stall.test.js",))
        run = await FrontendAdapter(runner="vitest").arun(vitest_project, options=options)
    finally:
        (vitest_project / "src" / "stall.test.js").unlink()
    assert exit_code(run) is ExitCode.ERROR
    assert "timed out after 0.3 s" in (run_error(run) or "")
    assert [(r.name, r.raw_status) for r in run.tests] == [("vitest run", "timedOut")]


HANGING = """
import { expect, it } from "vitest";

it("finishes first", () => {
  expect(1).toBe(1);
});

it("hangs", async () => {
  await new Promise(() => {});
}, 600000);
"""


@pytest.mark.timing
@pytest.mark.slow
def test_a_hang_keeps_finished_results_and_names_the_test_in_flight(vitest_project: Path, tmp_path: Path) -> None:
    (vitest_project / "src" / "hang.test.js").write_text(HANGING)
    clock = DeadlineClock(started="hangs", finished=["finishes first"])
    try:
        jsonl = tmp_path / "r.jsonl"
        options = RunOptions(
            timeout=300,
            jsonl=jsonl,
            runner_args=("src/hang.test.js",),
            on_test_start=clock.on_test_start,
            on_result=clock.on_result,
        )
        run = FrontendAdapter(clock=clock).run(vitest_project, options=options)
    finally:
        (vitest_project / "src" / "hang.test.js").unlink()
    assert clock.reached.is_set(), (
        f"the run ended before 'hangs' started after 'finishes first': error {run_error(run)!r}, "
        f"results {[(r.name, r.status.value, r.raw_status) for r in run.tests]}"
    )
    results = {r.name: r for r in run.tests}
    assert results["finishes first"].status is Status.PASSED
    assert results["hangs"].status is Status.FAILED
    assert results["hangs"].raw_status == "timedOut"
    assert results["hangs"].file == "src/hang.test.js"
    assert "in flight: hangs" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR
    assert {r.name for r in read_jsonl(jsonl).tests} == {"finishes first", "hangs"}


WAIT_FOR_THE_REPORTER = """
// true once our reporter has written `results` results and the start of test `name` to
// $MAESTRO_PROGRESS_FILE (the lines the adapter must still see after the kill)
function reported(results, name) {
  let records;
  try {
    records = readFileSync(process.env.MAESTRO_PROGRESS_FILE, "utf8")
      .split("\\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  } catch {
    return false; // not there yet, or a line still being written
  }
  const done = records.filter((record) => record.event === "result").length;
  return done >= results && records.some((record) => record.event === "start" && record.name === name);
}

async function untilReported(results, name) {
  while (!reported(results, name)) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
"""

CRASHING_JEST = (
    """
const { readFileSync } = require("node:fs");
"""
    + WAIT_FOR_THE_REPORTER
    + """
it("passes before the crash", () => {
  expect(1).toBe(1);
});

it("also passes before the crash", () => {
  expect(2).toBe(2);
});

it("kills the runner", async () => {
  // once the runner has reported the two results above and this test's start, SIGKILL the
  // whole process group (npm, the runner and its workers) as an out-of-memory killer would
  await untilReported(2, "kills the runner");
  process.kill(0, "SIGKILL");
  await new Promise(() => {});
}, 600000);
"""
)

# No waiting for the main process here: Vitest batches its workers' events (and its throttle can
# hold them until the next one, for ever), so the two results may never reach our reporter before
# the kill. The worker writes what the adapter needs itself, before this test's body runs.
CRASHING = """
import { expect, it } from "vitest";

it("passes before the crash", () => {
  expect(1).toBe(1);
});

it("also passes before the crash", () => {
  expect(2).toBe(2);
});

it("kills the runner", () => {
  // SIGKILL the whole process group (npm, the runner and its workers) as an out-of-memory killer would
  process.kill(0, "SIGKILL");
});
"""


@pytest.mark.timing
@pytest.mark.slow
def test_a_killed_runner_leaves_every_finished_result_streamed_to_the_jsonl(
    vitest_project: Path, tmp_path: Path
) -> None:
    (vitest_project / "src" / "crash.test.js").write_text(CRASHING)
    jsonl = tmp_path / "r.jsonl"
    events: list[str] = []
    on_disk_while_running: list[str] = []

    def saw(event: str) -> None:
        # Once the adapter has reported both results and the killer's start (in whichever order),
        # and before run() returns, the two results are in the JSONL already (written and flushed
        # before on_result is called). The events and the file's lines are kept for the message.
        events.append(event)
        names = {event.split(":", 1)[1] for event in events}
        if len(names) == 3 and not on_disk_while_running:
            on_disk_while_running.extend(jsonl.read_text().splitlines())

    try:
        options = RunOptions(
            timeout=300,
            jsonl=jsonl,
            runner_args=("src/crash.test.js",),
            on_test_start=lambda name: saw(f"start:{name}") if name == "kills the runner" else None,
            on_result=lambda result: saw(f"result:{result.name}") if result.name != "kills the runner" else None,
        )
        run = FrontendAdapter().run(vitest_project, options=options)
    finally:
        (vitest_project / "src" / "crash.test.js").unlink()
    written = [json.loads(line).get("name") for line in on_disk_while_running if '"type":"result"' in line]
    assert written == ["passes before the crash", "also passes before the crash"], (events, on_disk_while_running)
    results = {r.name: r for r in run.tests}
    assert results["passes before the crash"].status is Status.PASSED
    assert results["also passes before the crash"].status is Status.PASSED
    killed = results["kills the runner"]
    assert (killed.status, killed.raw_status, killed.file) == (Status.FAILED, "crashed", "src/crash.test.js")
    assert "vitest killed by SIGKILL while this test was running" in (killed.message or "")
    assert "in flight: kills the runner" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR
    streamed = read_jsonl(jsonl)
    assert [(r.name, r.status) for r in streamed.tests] == [(r.name, r.status) for r in run.tests]
    assert len(streamed.tests) == 3
    assert streamed.stop is not None


FLAKY_AND_BROKEN = {
    "flaky.test.js": """
import { expect, it } from "vitest";

let runs = 0;
it("passes on the second try", { retry: 2 }, () => {
  runs += 1;
  expect(runs).toBe(2);
});
""",
    "broken.test.js": """
import { it } from "vitest";
import { missing } from "./does-not-exist.js";

it("never runs", () => missing());
""",
}


@pytest.mark.slow
def test_retries_are_attempts_and_a_file_that_fails_to_load_is_a_failure(vitest_project: Path) -> None:
    for name, text in FLAKY_AND_BROKEN.items():
        (vitest_project / "src" / name).write_text(text)
    try:
        options = RunOptions(timeout=300, runner_args=tuple(f"src/{name}" for name in FLAKY_AND_BROKEN))
        run = FrontendAdapter().run(vitest_project, options=options)
    finally:
        for name in FLAKY_AND_BROKEN:
            (vitest_project / "src" / name).unlink()
    assert run_error(run) is None
    results = {r.name: r for r in run.tests}
    assert set(results) == {"passes on the second try", "src/broken.test.js"}
    flaky = results["passes on the second try"]
    assert flaky.flaky
    assert [a.status for a in flaky.attempts] == [Status.FAILED, Status.PASSED]
    assert "expected 1 to be 2" in (flaky.attempts[0].message or "")
    assert flaky.message is None
    broken = results["src/broken.test.js"]
    assert broken.status is Status.FAILED
    assert "does-not-exist.js" in (broken.message or "")
    assert exit_code(run) is ExitCode.TESTS_FAILED
    assert flaky.retries == 1


HALF_COVERED = {
    "half.js": """
export function used() {
  return 1;
}

export function neverCalled() {
  return 2;
}
""",
    "half.test.js": """
import { expect, it } from "vitest";
import { used } from "./half.js";

it("uses half", () => {
  expect(used()).toBe(1);
});
""",
}


@pytest.mark.slow
def test_a_coverage_threshold_not_met_fails_the_run_although_every_test_passed(vitest_project: Path) -> None:
    # @vitest/coverage-v8: every test passes, Vitest exits 1 because a threshold is not met
    for name, text in HALF_COVERED.items():
        (vitest_project / "src" / name).write_text(text)
    try:
        coverage = ("--coverage.enabled", "--coverage.include=src/half.js", "--coverage.thresholds.lines=100")
        options = RunOptions(timeout=300, runner_args=("src/half.test.js", *coverage))
        run = FrontendAdapter().run(vitest_project, options=options)
    finally:
        for name in HALF_COVERED:
            (vitest_project / "src" / name).unlink()
    assert [(r.name, r.status) for r in run.tests] == [("uses half", Status.PASSED)]
    assert exit_code(run) is ExitCode.ERROR
    assert run_error(run) == (
        "vitest exit status 1 although no test failed: "
        "ERROR: Coverage for lines (66.66%) does not meet global threshold (100%)"
    )


KILLS_ITS_WORKER = {
    "worker.test.js": """
import { describe, expect, it } from "vitest";

it("passes before", () => {
  expect(1).toBe(1);
});

describe("group", () => {
  it("kills its worker", () => {
    // the worker dies as the OOM killer would kill it; the runner itself lives on
    process.kill(process.pid, "SIGKILL");
  });

  it("never runs", () => {
    expect(1).toBe(1);
  });
});

it("never runs either", () => {
  expect(1).toBe(1);
});
""",
    "other.test.js": """
import { expect, it } from "vitest";

it("runs in another worker", () => {
  expect(1).toBe(1);
});
""",
}


@pytest.mark.slow
@pytest.mark.parametrize("release", ["vitest 3", "vitest 4"])
def test_a_killed_worker_never_turns_its_files_tests_into_passes(
    release: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # Vitest 4 writes the killed file's never-run tests as bare <testcase> (a pass) in its JUnit
    # report; Vitest 3 writes no report. The test in flight is named whichever way the events came.
    project: Path = request.getfixturevalue("vitest_project" if release == "vitest 3" else "vitest4_project")
    for name, text in KILLS_ITS_WORKER.items():
        (project / "src" / name).write_text(text)
    started: list[str] = []
    try:
        options = RunOptions(
            timeout=300,
            jsonl=tmp_path / "r.jsonl",
            on_test_start=started.append,
            runner_args=("src/worker.test.js", "src/other.test.js"),
        )
        run = FrontendAdapter(runner="vitest").run(project, options=options)
    finally:
        for name in KILLS_ITS_WORKER:
            (project / "src" / name).unlink()
    results = {r.name: r for r in run.tests}
    everything = (run_error(run), [(r.name, r.status, r.raw_status) for r in run.tests])
    # Vitest batches its workers' events: the result of a test that finished just before the kill
    # may die with the worker, but the worker wrote its final state itself
    before = results["passes before"]
    assert (before.status, before.raw_status) == (Status.PASSED, "passed"), everything
    killed = results["group > kills its worker"]
    assert (killed.status, killed.raw_status, killed.file) == (Status.FAILED, "crashed", "src/worker.test.js")
    assert "while this test was running" in (killed.message or "")
    assert started.count("group > kills its worker") == 1
    for never in ("group > never runs", "never runs either"):
        assert never not in results or (results[never].status, results[never].raw_status) == (
            Status.OTHER,
            "notRun",
        ), results[never]
    assert not [r.name for r in run.tests if r.status is Status.PASSED and "never" in r.name]
    if release == "vitest 4":  # the runner lived on, finished the other file and wrote its report
        assert results["runs in another worker"].status is Status.PASSED
        assert exit_code(run) is ExitCode.TESTS_FAILED, everything
    else:  # Vitest 3 stops with the worker, before any report
        assert exit_code(run) is ExitCode.ERROR, everything
    assert [(r.name, r.status) for r in read_jsonl(tmp_path / "r.jsonl").tests] == [
        (r.name, r.status) for r in run.tests
    ]


@pytest.mark.slow
def test_a_config_that_does_not_parse_quotes_the_runners_error_and_keeps_its_log(
    vitest4_project: Path, tmp_path: Path
) -> None:
    config = vitest4_project / "vitest.config.js"
    config.write_text("export default {\n  test: { ,, }\n};\n")
    try:
        options = RunOptions(timeout=300, jsonl=tmp_path / "r.jsonl")
        run = FrontendAdapter().run(vitest4_project, options=options)
    finally:
        config.unlink()
    error = run_error(run) or ""
    assert error.startswith("vitest wrote no report (exit status 1): ")
    assert 'Expected identifier but found ","' in error  # esbuild's own line, not the output's last one
    assert "failed to load config from" in error
    assert error.endswith(f"(full vitest log: {tmp_path / 'r.vitest.log'})")
    assert "Startup Error" in (tmp_path / "r.vitest.log").read_text()
    assert exit_code(run) is ExitCode.ERROR


def test_bad_projects_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFoundError, match=r"package\.json"):
        FrontendAdapter().run(tmp_path)
    (tmp_path / "package.json").write_text('{"name": "x"}')
    with pytest.raises(InvalidOptionError, match="runner"):
        FrontendAdapter().run(tmp_path)
    with pytest.raises(InvalidOptionError, match="runner"):
        FrontendAdapter(runner="mocha")
    assert not FrontendAdapter(npm="no-such-npm-xyz").available()


def test_a_runner_that_writes_no_report_is_an_infrastructure_error(tmp_path: Path) -> None:
    require("npm", "npm (Node.js)", "nodejs npm")
    (tmp_path / "package.json").write_text('{"name": "x", "devDependencies": {"vitest": "^3"}}')
    run = FrontendAdapter().run(tmp_path, options=RunOptions(timeout=300))
    assert exit_code(run) is ExitCode.ERROR
    assert "vitest wrote no report" in (run_error(run) or "")
    assert "npm error npx canceled due to missing packages" in (run_error(run) or "")  # npm's reason
    assert "A complete log" not in (run_error(run) or "")
    assert run.tests == []


JEST_PROJECT = Path(__file__).parent / "jest_project"


@pytest.fixture(scope="module")
def jest_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return installed_copy(tmp_path_factory, JEST_PROJECT)


JEST_EXTRA = {
    "flaky.test.js": """
jest.retryTimes(2);
let runs = 0;
it("passes on the second try", () => {
  runs += 1;
  expect(runs).toBe(2);
});
""",
    "broken.test.js": """
const { missing } = require("./does-not-exist.js");
it("never runs", () => missing());
""",
}


@pytest.mark.slow
def test_jest_results_stream_through_our_reporter_without_jest_junit(jest_project: Path, tmp_path: Path) -> None:
    for name, text in JEST_EXTRA.items():
        (jest_project / "src" / name).write_text(text)
    started: list[str] = []
    try:
        jsonl = tmp_path / "r.jsonl"
        options = RunOptions(timeout=300, jsonl=jsonl, on_test_start=started.append)
        run = FrontendAdapter().run(jest_project, options=options)
    finally:
        for name in JEST_EXTRA:
            (jest_project / "src" / name).unlink()
    assert run_error(run) is None
    assert run.tool.name == "jest"
    assert (run.tool.version or "").startswith("30.")
    results = {r.name: r for r in run.tests}
    assert {name: r.status for name, r in results.items()} == {
        "sum adds numbers": Status.PASSED,
        "sum fails on purpose": Status.FAILED,
        "sum is skipped": Status.SKIPPED,
        "works at the top level": Status.PASSED,
        "passes on the second try": Status.PASSED,
        "src/broken.test.js": Status.FAILED,
    }
    assert "toBe" in (results["sum fails on purpose"].message or "")
    assert "Expected: 5" in (results["sum fails on purpose"].trace or "")
    flaky = results["passes on the second try"]
    assert [a.status for a in flaky.attempts] == [Status.FAILED, Status.PASSED]
    assert flaky.flaky
    assert "does-not-exist.js" in (results["src/broken.test.js"].message or "")
    assert results["sum adds numbers"].file == "src/sum.test.js"
    assert "sum adds numbers" in started
    assert exit_code(run) is ExitCode.TESTS_FAILED
    streamed = read_jsonl(jsonl)
    assert [(r.name, r.status) for r in streamed.tests] == [(r.name, r.status) for r in run.tests]


@pytest.mark.slow
def test_jest_killed_mid_run_keeps_finished_results_and_reports_the_test_in_flight(
    jest_project: Path, tmp_path: Path
) -> None:
    assert "require(" in CRASHING_JEST
    (jest_project / "src" / "crash.test.js").write_text(CRASHING_JEST)
    jsonl = tmp_path / "r.jsonl"
    try:
        options = RunOptions(timeout=300, jsonl=jsonl, runner_args=("src/crash.test.js",))
        run = FrontendAdapter(runner="jest").run(jest_project, options=options)
    finally:
        (jest_project / "src" / "crash.test.js").unlink()
    results = {r.name: (r.status, r.raw_status) for r in run.tests}
    assert results == {
        "passes before the crash": (Status.PASSED, "passed"),
        "also passes before the crash": (Status.PASSED, "passed"),
        "kills the runner": (Status.FAILED, "crashed"),
    }
    assert "jest killed by SIGKILL" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR
    assert [r.name for r in read_jsonl(jsonl).tests] == [r.name for r in run.tests]


PLAYWRIGHT_PROJECT = Path(__file__).parent / "playwright_project"


@pytest.fixture(scope="module")
def playwright_project(tmp_path_factory: pytest.TempPathFactory, chromium_executable: Path) -> Path:
    return installed_copy(tmp_path_factory, PLAYWRIGHT_PROJECT)


@pytest.mark.slow
def test_playwright_test_streams_every_attempt_with_its_own_screenshot(
    playwright_project: Path, chromium_executable: Path, tmp_path: Path
) -> None:
    started: list[str] = []
    jsonl = tmp_path / "r.jsonl"
    options = RunOptions(
        timeout=300, jsonl=jsonl, on_test_start=started.append, env={"MAESTRO_CHROMIUM": str(chromium_executable)}
    )
    run = FrontendAdapter().run(playwright_project, options=options)
    assert run_error(run) is None
    assert run.tool.name == "playwright"
    assert (run.tool.version or "").startswith("1.")
    results = {r.name: r for r in run.tests}
    assert {name: (r.status, r.suite) for name, r in results.items()} == {
        "shows its heading": (Status.PASSED, ("page.spec.js", "home page")),
        "fails on purpose": (Status.FAILED, ("page.spec.js", "home page")),
        "is skipped": (Status.SKIPPED, ("page.spec.js",)),
        "passes on the second try": (Status.PASSED, ("page.spec.js",)),
    }
    heading = results["shows its heading"]
    assert (heading.file, heading.line, dict(heading.parameters)) == ("tests/page.spec.js", 4, {"project": "chromium"})
    assert "shows its heading" in started
    failed = results["fails on purpose"]
    assert "toBe" in (failed.message or "")
    assert "Something else" in (failed.trace or "")
    # retries: 1 in the config: both runs of the failing test are attempts, each with its own screenshot
    assert [a.status for a in failed.attempts] == [Status.FAILED, Status.FAILED]
    shots = [next(x.path for x in a.attachments if x.name == "screenshot") for a in failed.attempts]
    assert len(set(shots)) == 2
    for shot in shots:
        assert Path(shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    flaky = results["passes on the second try"]
    assert [a.status for a in flaky.attempts] == [Status.FAILED, Status.PASSED]
    assert flaky.flaky
    assert "Expected: 1" in (flaky.attempts[0].trace or "")
    assert exit_code(run) is ExitCode.TESTS_FAILED
    streamed = read_jsonl(jsonl)
    assert [(r.test_id, r.status) for r in streamed.tests] == [(r.test_id, r.status) for r in run.tests]


PLAYWRIGHT_CRASH = (
    """
const { test, expect } = require("@playwright/test");
const { readFileSync } = require("node:fs");
"""
    + WAIT_FOR_THE_REPORTER
    + """
test("passes before the crash", async () => {
  expect(1).toBe(1);
});

test("kills the runner", async () => {
  // once the runner has reported the result above and this test's start, SIGKILL the whole
  // process group (npm, the runner, its worker and the browser) as an out-of-memory killer would
  test.setTimeout(0);
  await untilReported(1, "kills the runner");
  process.kill(0, "SIGKILL");
  await new Promise(() => {});
});
"""
)


@pytest.mark.slow
def test_playwright_test_killed_mid_run_keeps_finished_results_and_reports_the_test_in_flight(
    playwright_project: Path, tmp_path: Path
) -> None:
    (playwright_project / "tests" / "crash.spec.js").write_text(PLAYWRIGHT_CRASH)
    jsonl = tmp_path / "r.jsonl"
    try:
        options = RunOptions(timeout=300, jsonl=jsonl, runner_args=("tests/crash.spec.js",))
        run = FrontendAdapter(runner="playwright").run(playwright_project, options=options)
    finally:
        (playwright_project / "tests" / "crash.spec.js").unlink()
    results = {r.name: (r.status, r.raw_status, dict(r.parameters)) for r in run.tests}
    assert results == {
        "passes before the crash": (Status.PASSED, "passed", {"project": "chromium"}),
        "kills the runner": (Status.FAILED, "crashed", {"project": "chromium"}),
    }
    assert "playwright killed by SIGKILL" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR
    assert [r.name for r in read_jsonl(jsonl).tests] == [r.name for r in run.tests]


JEST_EXITING = """
it("passes before the exit", () => {
  expect(1).toBe(1);
});

it("exits the runner", () => {
  process.exit(0);
});

it("never runs", () => {
  expect(1).toBe(1);
});
"""


@pytest.mark.slow
def test_a_runner_that_exits_mid_run_is_an_infrastructure_error(jest_project: Path, tmp_path: Path) -> None:
    """Jest leaving mid-test through ``process.exit(0)`` must not pass with the rest missing."""
    (jest_project / "src" / "exit.test.js").write_text(JEST_EXITING)
    try:
        options = RunOptions(timeout=300, jsonl=tmp_path / "r.jsonl", runner_args=("src/exit.test.js",))
        run = FrontendAdapter(runner="jest").run(jest_project, options=options)
    finally:
        (jest_project / "src" / "exit.test.js").unlink()
    results = {r.name: (r.status, r.raw_status) for r in run.tests}
    assert results["passes before the exit"] == (Status.PASSED, "passed")
    assert results["exits the runner"] == (Status.FAILED, "crashed")
    assert "never runs" not in results
    assert "jest exited (exit status 0) before its tests finished" in (run_error(run) or "")
    assert "(in flight: exits the runner)" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR


PLAYWRIGHT_FLAGS = """
const { test, expect } = require("@playwright/test");
const fs = require("node:fs");

test("records its browser's flags", async ({ page }) => {
  await page.goto("about:blank");
  // the browser this worker launched: a process whose parent is this worker
  const launched = fs.readdirSync("/proc").filter((pid) => /^\\d+$/.test(pid)).flatMap((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      return parent === process.pid ? [fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\\0")] : [];
    } catch {
      return [];
    }
  });
  fs.writeFileSync(process.env.FLAGS_OUT, JSON.stringify(launched));
  expect(launched.length).toBeGreaterThan(0);
});
"""


def _documented_playwright_config() -> str:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "test-adapters" / "frontend.md").read_text()
    found = re.search(r"```js\n(// playwright\.config\.js.*?)```", doc, re.S)
    assert found, "no playwright.config.js in frontend.md"
    return found.group(1)


def test_the_documented_playwright_config_is_the_one_the_tests_run() -> None:
    assert _documented_playwright_config() == (PLAYWRIGHT_PROJECT / "playwright.config.js").read_text()


@pytest.mark.slow
def test_playwright_test_launches_chromium_with_the_offline_flags_and_allowed_hosts(
    playwright_project: Path, chromium_executable: Path, tmp_path: Path
) -> None:
    (playwright_project / "tests" / "flags.spec.js").write_text(PLAYWRIGHT_FLAGS)
    flags_out = tmp_path / "flags.json"
    environment = {
        "MAESTRO_CHROMIUM": str(chromium_executable),
        "MAESTRO_ALLOW_HOSTS": "app.test=127.0.0.1",
        "FLAGS_OUT": str(flags_out),
    }
    try:
        options = RunOptions(timeout=300, runner_args=("tests/flags.spec.js",), env=environment)
        run = FrontendAdapter(runner="playwright").run(playwright_project, options=options)
    finally:
        (playwright_project / "tests" / "flags.spec.js").unlink()
    assert [(r.name, r.status) for r in run.tests] == [("records its browser's flags", Status.PASSED)], run.tests
    [browser] = json.loads(flags_out.read_text())
    expected = chromium_args(headless_flag=False, allow_hosts=["app.test=127.0.0.1"])
    assert [a for a in expected if a not in browser] == [], browser
    assert "--host-resolver-rules=MAP app.test 127.0.0.1 , MAP * ~NOTFOUND" in " ".join(browser)
