"""CTRF (``formats/ctrf.py``) on what real tools write: Playwright 1.65.1 with the
playwright-ctrf-json-reporter 0.0.29 reporter, and a nameless Playwright test (see
``data/README.md``)."""

from __future__ import annotations

import json
from pathlib import Path

from maestro_test_result_aggregator.formats import read_report, validate_ctrf, write_ctrf

PLAYWRIGHT = Path(__file__).parent / "data" / "playwright_1_65"
REPORT = PLAYWRIGHT / "ctrf" / "ctrf-report.json"


def test_flaky_verdicts_are_the_reporters_own() -> None:
    document = json.loads(REPORT.read_text())
    run = read_report(REPORT)
    assert [t.flaky for t in run.tests] == [t["flaky"] for t in document["results"]["tests"]]
    assert run.summary().flaky == 4


def test_explicit_flaky_false_is_kept_when_retries_come_from_a_retry_policy(tmp_path: Path) -> None:
    # CTRF allows ``retries`` to state the retry policy: a passed test that says "flaky": false
    # is not flaky, whatever ``retries`` says. The reporter's own record of a stable test, with
    # the retry policy of the run (retries: 1 in playwright.config.js) written as ``retries``.
    document = json.loads(REPORT.read_text())
    stable = next(t for t in document["results"]["tests"] if t["name"] == "remove item")
    assert (stable["status"], stable["flaky"], stable["retries"]) == ("passed", False, 0)
    stable["retries"] = 1
    path = tmp_path / "ctrf.json"
    path.write_text(json.dumps(document))
    result = next(t for t in read_report(path).tests if t.name == "remove item" and t.suite[0] == "desktop")
    assert not result.flaky
    assert result.status.value == "passed"
    # A retried test that says nothing about flakiness still had a failed attempt.
    del stable["flaky"]
    path.write_text(json.dumps(document))
    result = next(t for t in read_report(path).tests if t.name == "remove item" and t.suite[0] == "desktop")
    assert result.flaky


def test_a_nameless_test_is_written_with_a_non_empty_name(tmp_path: Path) -> None:
    run = read_report(PLAYWRIGHT / "nameless" / "results.json")
    assert [t.name for t in run.tests] == [""]  # Playwright allows test("", ...)
    path = tmp_path / "ctrf.json"
    write_ctrf(run, path)
    document = json.loads(path.read_text())
    validate_ctrf(document)  # the schema wants "name" with minLength 1
    (test,) = document["results"]["tests"]
    assert test["name"]
    assert test["name"] == "nameless.spec.js > cart"


def test_test_times_written_in_seconds_are_read_within_the_run() -> None:
    # playwright-ctrf-json-reporter writes each test's start in epoch seconds, its summary in
    # milliseconds: read as milliseconds, every test would have started in January 1970 (and
    # sorted before every other report's attempts in a merge).
    run = read_report(REPORT)
    assert run.start is not None
    assert run.stop is not None
    starts = [t.start for t in run.tests if t.start is not None]
    assert len(starts) == len(run.tests)
    assert all(run.start - 1 <= start <= run.stop + 1 for start in starts)
    attempt_starts = [a.start for t in run.tests for a in t.attempts if a.start is not None]
    assert all(run.start - 1 <= start <= run.stop + 1 for start in attempt_starts)
