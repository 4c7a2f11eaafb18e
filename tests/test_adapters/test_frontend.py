"""The frontend adapter on a real Vitest project (vite@7 + vitest@3), installed with ``npm ci``.

The project lives in ``vitest_project/`` with its package.json and package-lock.json; the test
session copies it to a temporary folder and installs it there, so no node_modules ever lands in
the repository.
"""

from __future__ import annotations

import json
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
    exit_code,
    run_error,
)
from maestro_test_result_aggregator.formats import read_jsonl, validate_ctrf
from maestro_test_result_aggregator.model import Status
from tests.fixtures.services import require

PROJECT = Path(__file__).parent / "vitest_project"


@pytest.fixture(scope="module")
def vitest_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    npm = require("npm", "npm (Node.js)", "nodejs npm")
    root = tmp_path_factory.mktemp("vitest") / "project"
    shutil.copytree(PROJECT, root, ignore=shutil.ignore_patterns("node_modules"))
    subprocess.run(
        [str(npm), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=root,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return root


@pytest.mark.slow
def test_vitest_results_are_ingested_into_the_model(vitest_project: Path, tmp_path: Path) -> None:
    seen: list[str] = []
    started: list[str] = []
    options = RunOptions(
        jsonl=tmp_path / "r.jsonl",
        ctrf=tmp_path / "ctrf.json",
        timeout=120,
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
    assert [r.name for r in read_jsonl(tmp_path / "r.jsonl").tests] == list(statuses)
    validate_ctrf(json.loads((tmp_path / "ctrf.json").read_text()))


@pytest.mark.slow
async def test_a_hanging_runner_is_killed_and_reported(vitest_project: Path) -> None:
    run = await FrontendAdapter(runner="vitest").arun(vitest_project, options=RunOptions(timeout=0.3))
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


@pytest.mark.slow
def test_a_hang_keeps_finished_results_and_names_the_test_in_flight(vitest_project: Path, tmp_path: Path) -> None:
    (vitest_project / "src" / "hang.test.js").write_text(HANGING)
    try:
        jsonl = tmp_path / "r.jsonl"
        options = RunOptions(timeout=25, jsonl=jsonl, runner_args=("src/hang.test.js",))
        run = FrontendAdapter().run(vitest_project, options=options)
    finally:
        (vitest_project / "src" / "hang.test.js").unlink()
    results = {r.name: r for r in run.tests}
    assert results["finishes first"].status is Status.PASSED
    assert results["hangs"].status is Status.FAILED
    assert results["hangs"].raw_status == "timedOut"
    assert results["hangs"].file == "src/hang.test.js"
    assert "in flight: hangs" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR
    assert {r.name for r in read_jsonl(jsonl).tests} == {"finishes first", "hangs"}


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
    run = FrontendAdapter().run(tmp_path, options=RunOptions(timeout=60))
    assert exit_code(run) is ExitCode.ERROR
    assert "vitest wrote no report" in (run_error(run) or "")
    assert run.tests == []
