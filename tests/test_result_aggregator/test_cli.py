"""The ``maestro-results`` CLI: every command, exit codes, and inputs left untouched."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.formats import read_report, validate_ctrf, write_ctrf, write_junit
from maestro_test_result_aggregator.model import Status, TestResult, TestRun, Tool
from maestro_test_result_aggregator.testing import make_run

DATA = Path(__file__).parent / "data"

PYTEST = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:playwright", "-p", "no:cacheprovider"]
"""The real pytest of this environment, without the plugins that would change its output."""


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    folder = tmp_path / "shards"
    folder.mkdir()
    for index in range(3):
        write_junit(
            make_run(40, offset=40 * index, fail_every=20, flaky_every=13),
            folder / f"shard-{index}.xml",
            profile="surefire",
        )
    return folder


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_merge_writes_ctrf_and_leaves_inputs(shards: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in shards.iterdir()}
    out = tmp_path / "merged.json"
    code, text = invoke("merge", str(shards), "-o", str(out))
    assert code == 0, text
    assert "merged 120 tests" in text
    validate_ctrf(json.loads(out.read_text()))
    assert {p.name: p.read_bytes() for p in shards.iterdir()} == before
    code, _ = invoke("merge", str(shards / "*.xml"), "-o", str(tmp_path / "m.xml"), "--format", "junit")
    assert code == 0
    assert len(read_report(tmp_path / "m.xml").tests) == 120


def test_gate_exit_codes(shards: Path, tmp_path: Path) -> None:
    code, text = invoke("gate", str(shards), "--min-pass-rate", "90")
    assert (code, "PASS min-pass-rate" in text) == (0, True)
    code, text = invoke("gate", str(shards), "--min-pass-rate", "99", "--max-flaky", "0")
    assert code == 1
    assert "FAIL min-pass-rate: pass rate 95.00% is below the minimum 99.00%" in text
    assert "FAIL max-flaky" in text
    code, text = invoke("gate", str(tmp_path / "missing"), "--min-pass-rate", "90")
    assert code == 2
    code, text = invoke("gate", str(shards), "--min-pass-rate", "900")
    assert code == 2
    code, text = invoke("gate", str(shards), "--no-new-failures")
    assert code == 2  # a baseline is required


def test_gate_against_a_baseline_file(tmp_path: Path) -> None:
    write_ctrf(make_run(20), tmp_path / "base.json")
    write_ctrf(make_run(20, fail_every=10), tmp_path / "now.json")
    code, text = invoke(
        "gate", str(tmp_path / "now.json"), "--no-new-failures", "--baseline", str(tmp_path / "base.json")
    )
    assert code == 1
    assert "2 new failure(s)" in text


def test_bad_input_fails_closed_unless_allowed(shards: Path) -> None:
    (shards / "zz-broken.xml").write_text("<testsuites><testsuite")
    code, _ = invoke("report", str(shards), "--format", "json")
    assert code == 2
    code, text = invoke("report", str(shards), "--format", "json", "--allow-unreadable")
    assert code == 0
    assert '"tests": 120' in text
    code, _ = invoke("report", str(shards), "--format", "json", "--allow-unreadable", "--strict")
    assert code == 2
    (shards / "evil.xml").write_text('<!DOCTYPE x [<!ENTITY a "b">]><testsuite/>')
    code, _ = invoke("merge", str(shards / "evil.xml"), "-o", str(shards / "o.json"))
    assert code == 2


def test_ingest_history_flaky_and_baseline_from_history(shards: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    code, text = invoke("ingest", str(shards), "--db", db, "--label", "build-1")
    assert code == 0, text
    assert text.startswith("stored run 1: 120 tests")
    failing = tmp_path / "failing.json"
    write_ctrf(make_run(40, fail_every=4), failing)
    code, text = invoke("gate", str(failing), "--db", db, "--baseline", "latest", "--no-new-failures")
    assert code == 1
    code, text = invoke("history", "--db", db)
    assert code == 0
    assert "build-1" in text
    code, text = invoke("flaky", str(shards), "--db", db)
    assert code == 0
    assert "FLAKY [within-run]" in text


def test_report_formats(shards: Path, tmp_path: Path) -> None:
    code, text = invoke("report", str(shards), "--format", "md")
    assert code == 0
    assert text.startswith("## ❌ Test results: 114 passed, 6 failed")
    code, text = invoke("report", str(shards), "--format", "term")
    assert code == 0
    assert "114 passed, 6 failed" in text
    html = tmp_path / "r.html"
    code, _ = invoke("report", str(shards), "--format", "html", "-o", str(html))
    assert code == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    ctrf = tmp_path / "r.json"
    code, _ = invoke("report", str(shards), "--format", "ctrf", "-o", str(ctrf))
    assert code == 0
    document = json.loads(ctrf.read_text())
    validate_ctrf(document)
    assert document["insights"]["runsAnalyzed"] == 1
    code, _ = invoke("report", str(shards), "--format", "junit", "-o", str(tmp_path / "r.xml"))
    assert code == 0
    code, _ = invoke("export", str(shards), "-o", str(tmp_path / "r.csv"))
    assert code == 0
    assert len(pd.read_csv(tmp_path / "r.csv")) == 120


def test_console_script_runs(shards: Path) -> None:
    script = Path(sys.executable).parent / "maestro-results"
    assert script.exists()
    done = subprocess.run(
        [str(script), "gate", str(shards), "--min-pass-rate", "99"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "FAIL min-pass-rate" in done.stdout


def test_fixtures_are_not_modified_by_reading(tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    reports = [p for p in copy.rglob("*") if p.suffix in (".xml", ".json", ".jsonl") and "project" not in p.parts]
    reports = [p for p in reports if p.name not in ("package.json", ".last-run.json")]
    reports = [p for p in reports if "mocha_10" not in p.parts]  # a format we refuse (test_readers.py)
    before = {p: p.read_bytes() for p in reports}
    for path in reports:
        read_report(path)
    assert {p: p.read_bytes() for p in reports} == before


def test_package_errors_exit_2(shards: Path, tmp_path: Path) -> None:
    code, text = invoke("report", str(shards), "--db", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    assert code == 2
    assert "cannot open the PostgreSQL history store" in text
    code, text = invoke("gate", str(shards), "--no-new-failures", "--baseline", "42", "--db", str(tmp_path / "h.db"))
    assert code == 2
    assert f"history store {tmp_path / 'h.db'}: no run with id 42" in text


PLAYWRIGHT = DATA / "playwright_1_65"


def test_a_truncated_shard_fails_the_gate_closed(tmp_path: Path) -> None:
    # Playwright's real JUnit report of shard 2, cut where an OOM-killed job stopped writing it.
    for shard in ("shard-1", "shard-2"):
        shutil.copytree(PLAYWRIGHT / shard, tmp_path / shard)
    junit = tmp_path / "shard-2" / "junit.xml"
    junit.write_bytes(junit.read_bytes()[: junit.stat().st_size // 2])
    (tmp_path / "shard-2" / "results.json").unlink()
    code, text = invoke("gate", "--min-pass-rate", "0", str(tmp_path))
    assert code == 2
    assert "shard-2" in text
    assert "--allow-unreadable" in text
    code, text = invoke("gate", "--min-pass-rate", "0", "--allow-unreadable", str(tmp_path))
    assert code == 0, text


def test_an_empty_run_fails_the_gate_unless_allowed(tmp_path: Path) -> None:
    # The real pytest on a project where it collects nothing: tests="0", exit 5.
    done = subprocess.run(
        [*PYTEST, "-q", "--junitxml=junit.xml"],
        cwd=tmp_path,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 5
    code, text = invoke("gate", "--min-pass-rate", "100", str(tmp_path / "junit.xml"))
    assert code == 1
    assert "FAIL not-empty: 0 test(s)" in text
    code, text = invoke("gate", "--min-pass-rate", "100", "--allow-empty", str(tmp_path / "junit.xml"))
    assert code == 0, text


def test_declared_but_unlisted_tests_are_not_dropped(tmp_path: Path) -> None:
    # Playwright's real report with the testcases of its first suite (desktop, cart.spec.js:
    # tests="4" failures="1") missing, as a writer that died mid-suite leaves it.
    text = (PLAYWRIGHT / "artifact" / "junit.xml").read_text()
    start = text.index('<testsuite name="cart.spec.js"')
    head_end = text.index(">", start) + 1
    path = tmp_path / "junit.xml"
    path.write_text(text[:head_end] + "\n" + text[text.index("</testsuite>", start) :])
    unlisted = [t for t in read_report(path).tests if t.raw_status == "unlisted"]
    assert [(t.status.value, t.suite) for t in unlisted] == [("failed", ("cart.spec.js",))]
    code, text = invoke("gate", "--min-pass-rate", "100", str(path))
    assert code == 1, text


def test_a_playwright_artifact_folder_is_read_as_one_run() -> None:
    # package.json and test-results/.last-run.json are not reports: skipped (named with -v),
    # even though every report is required to be readable; results.json and junit.xml are the
    # same run in two formats: counted once.
    code, text = invoke("gate", "--min-pass-rate", "100", "-v", str(PLAYWRIGHT / "artifact"))
    assert code == 1
    assert "11 passed, 1 failed" in text
    assert "14 test(s) in the run" in text
    assert "not a report, skipped:" in text
    assert "package.json" in text
    assert ".last-run.json" in text
    assert "counted once" in text
    # A file named on the command line that is not a report is an error, not a skip.
    code, _ = invoke("gate", "--min-pass-rate", "0", str(PLAYWRIGHT / "artifact" / "package.json"))
    assert code == 2


def test_terminal_report_is_not_wrapped_off_a_terminal(tmp_path: Path) -> None:
    # Off a terminal (a CI log, a file), rich cut every line at 80 columns: names and causes
    # were split across lines, so grepping a log for a test failed.
    name = "test_" + "checkout_with_a_very_long_descriptive_name_" * 3
    cause = "AssertionError: " + "expected the basket total to equal the sum of its lines " * 2
    run = TestRun(Tool("pytest"), [TestResult(name, Status.FAILED, message=cause)])
    path = tmp_path / "run.json"
    write_ctrf(run, path)
    code, text = invoke("report", str(path), "--format", "term")
    assert code == 0
    assert any(name in line for line in text.splitlines()), text
    assert any(cause[:100] in line for line in text.splitlines()), text
    out = tmp_path / "report.txt"
    code, _ = invoke("report", str(path), "--format", "term", "-o", str(out))
    assert code == 0
    assert any(name in line for line in out.read_text().splitlines())
