"""``maestro-results gate``: --max-failures, --min-tests, --max-test-slowdown against history or a
baseline, and --baseline as a folder of shards."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from maestro_test_result_aggregator import TestRun, Tool, write_junit
from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.history import HistoryStore
from maestro_test_result_aggregator.model import Status
from maestro_test_result_aggregator.testing import make_result, make_run


def gate(*args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, ["gate", *args])
    return outcome.exit_code, outcome.output


def test_max_failures_and_min_tests(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    write_junit(make_run(20, fail_every=10), report)
    code, output = gate(str(report), "--max-failures", "2", "--min-tests", "20")
    assert code == 0, output
    assert "PASS max-failures: 2 failed test(s), at most 2 allowed: test_9, test_19" in output
    assert "PASS min-tests: 20 test(s) in the run, at least 20 required" in output
    code, output = gate(str(report), "--max-failures", "0")
    assert code == 1
    assert "FAIL max-failures: 2 failed test(s), at most 0 allowed" in output
    code, output = gate(str(report), "--min-tests", "21")
    assert code == 1
    assert "FAIL min-tests" in output
    code, output = gate(str(report), "--max-failures", "-1")
    assert code == 2


def _timed(seconds: dict[int, float], start: float) -> TestRun:
    tests = [make_result(number, duration=value) for number, value in seconds.items()]
    return TestRun(Tool("pytest"), tests, start=start)


def test_max_test_slowdown_against_the_history_store(tmp_path: Path) -> None:
    db = tmp_path / "history.db"
    with HistoryStore.open(db) as store:
        for night in range(5):
            store.add_run(_timed({1: 1.0 + night * 0.02, 2: 2.0}, 1_700_000_000.0 + 86_400 * night))
    report = tmp_path / "junit.xml"
    write_junit(_timed({1: 6.0, 2: 2.0}, 1_700_500_000.0), report)
    code, output = gate(str(report), "--max-test-slowdown", "100", "--db", str(db))
    assert code == 1, output
    assert "FAIL max-test-slowdown: 1 test(s) slower than their history p95 by more than 100.0%: test_1 6.00s" in output
    code, output = gate(str(report), "--max-test-slowdown", "100")
    assert code == 2
    assert "--max-test-slowdown needs --db" in output


def test_baseline_may_be_a_folder_of_shards(tmp_path: Path) -> None:
    # The baseline build's artifacts: two shards (and a file that is no report), merged like INPUTS.
    base = tmp_path / "main-build"
    for shard, offset in (("shard-1", 0), ("shard-2", 5)):
        (base / shard).mkdir(parents=True)
        write_junit(make_run(5, offset=offset), base / shard / "junit.xml")
    (base / "shard-1" / "package.json").write_text('{"name": "e2e"}')
    current = make_run(10)
    current.tests[7] = replace(current.tests[7], status=Status.FAILED, message="boom")
    report = tmp_path / "junit.xml"
    write_junit(current, report)
    code, output = gate(str(report), "--no-new-failures", "--baseline", str(base))
    assert code == 1, output
    assert "FAIL no-new-failures: 1 new failure(s) against the baseline: test_7" in output
    code, output = gate(str(report), "--max-test-slowdown", "50", "--max-failures", "1", "--baseline", str(base))
    assert code == 0, output
    assert "PASS max-test-slowdown: 0 test(s)" in output


def test_a_failed_test_fails_the_gate_unless_a_failure_gate_says_otherwise(tmp_path: Path) -> None:
    # before: `gate report.xml` printed "PASS not-empty" and exited 0 with two failed tests
    report = tmp_path / "junit.xml"
    write_junit(make_run(20, fail_every=10), report)
    code, output = gate(str(report))
    assert code == 1, output
    assert "FAIL max-failures: 2 failed test(s), at most 0 allowed" in output
    assert "(the default: no failure gate given)" in output
    code, output = gate(str(report), "--max-flaky", "3")  # a gate about something else keeps the default
    assert code == 1, output
    code, output = gate(str(report), "--min-pass-rate", "80")  # a failure gate given: it decides
    assert code == 0, output
    assert "max-failures" not in output
    green = tmp_path / "green.xml"
    write_junit(make_run(5), green)
    code, output = gate(str(green))
    assert code == 0, output
    assert "PASS max-failures: 0 failed test(s), at most 0 allowed (the default: no failure gate given)" in output
