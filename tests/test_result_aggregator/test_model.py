"""The shared model: deterministic ids, the flaky rule, summaries, bounded output, JSONL round trip."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats import read_jsonl, write_jsonl
from maestro_test_result_aggregator.model import (
    Attachment,
    Attempt,
    Environment,
    Status,
    TestResult,
    TestRun,
    Tool,
    bound_text,
)


def test_test_id_depends_on_identity_not_outcome() -> None:
    a = TestResult("test_x", Status.PASSED, file="t.py", parameters={"n": "1", "m": "2"}, duration=1.0)
    b = TestResult("test_x", Status.FAILED, file="t.py", parameters={"m": "2", "n": "1"}, duration=9.0)
    c = TestResult("test_x", Status.PASSED, file="t.py", parameters={"n": "2", "m": "2"})
    assert a.test_id == b.test_id
    assert a.test_id != c.test_id
    assert len(a.test_id) == 32
    assert (
        TestResult("a", Status.PASSED, suite=("s", "t")).test_id
        != TestResult("a", Status.PASSED, suite=("st",)).test_id
    )


@pytest.mark.parametrize(
    ("final", "earlier", "flaky"),
    [
        (Status.PASSED, [Status.FAILED], True),
        (Status.PASSED, [Status.PASSED], False),
        (Status.FAILED, [Status.FAILED], False),
        (Status.PASSED, [], False),
        (Status.PASSED, [Status.SKIPPED], False),
    ],
)
def test_flaky_means_passed_after_a_failed_attempt(final: Status, earlier: list[Status], flaky: bool) -> None:
    attempts = (*(Attempt(s) for s in earlier), Attempt(final)) if earlier else ()
    result = TestResult("t", final, attempts=attempts)
    assert result.flaky is flaky
    assert result.retries == len(earlier)


def test_summary_counts_every_status() -> None:
    run = TestRun(
        Tool("pytest"),
        tests=[
            TestResult("a", Status.PASSED, duration=1.5, attempts=(Attempt(Status.FAILED), Attempt(Status.PASSED))),
            TestResult("b", Status.FAILED, duration=0.5),
            TestResult("c", Status.SKIPPED),
            TestResult("d", Status.OTHER),
        ],
    )
    summary = run.summary()
    assert (summary.tests, summary.passed, summary.failed, summary.skipped, summary.other) == (4, 1, 1, 1, 1)
    assert summary.flaky == 1
    assert summary.duration == 2.0


def test_bound_text_keeps_head_and_tail_with_a_marker() -> None:
    text = "A" * 100 + "B" * 100
    bounded = bound_text(text, limit=20)
    assert bounded is not None
    assert bounded.startswith("A" * 10)
    assert bounded.endswith("B" * 10)
    assert "180 characters truncated" in bounded
    assert bound_text("short", limit=20) == "short"


def test_jsonl_round_trip_keeps_every_field(tmp_path: Path) -> None:
    result = TestResult(
        "test_login[chromium]",
        Status.PASSED,
        duration=2.25,
        suite=("e2e", "auth"),
        file="tests/test_auth.py",
        classname="TestAuth",
        line=42,
        parameters={"browser": "chromium"},
        raw_status="passed",
        stdout="out",
        stderr="err",
        tags=("smoke",),
        attachments=(Attachment("trace", "application/zip", "trace.zip"),),
        attempts=(
            Attempt(
                Status.FAILED,
                1.0,
                "failed",
                "boom",
                "Traceback",
                10.0,
                "o",
                "e",
                (Attachment("s", "image/png", "s.png"),),
            ),
            Attempt(Status.PASSED, 1.25),
        ),
        start=1_700_000_000.5,
        extra={"worker": "gw0"},
    )
    run = TestRun(
        Tool("pytest", "9.2"),
        tests=[result, TestResult("test_other", Status.SKIPPED, message="no db")],
        environment=Environment(
            commit="abc", branch="main", build_url="http://ci/1", shard="1/2", extra={"os": "linux"}
        ),
        start=1.0,
        stop=5.0,
        run_id="r1",
        extra={"k": "v"},
    )
    path = tmp_path / "run.jsonl"
    write_jsonl(run, path)
    assert read_jsonl(path) == run


def test_jsonl_stream_survives_a_crash_and_rejects_garbage(tmp_path: Path) -> None:
    path = tmp_path / "crashed.jsonl"
    crash = (
        "import os, sys\n"
        "from maestro_test_result_aggregator.formats import JsonlWriter\n"
        "from maestro_test_result_aggregator.model import Status, TestResult, Tool\n"
        "writer = JsonlWriter(sys.argv[1], tool=Tool('pytest'))\n"
        "writer.write(TestResult('a', Status.PASSED))\n"
        'writer._file.write(\'{"type": "result", "na\')\n'  # torn: the process dies mid-line
        "writer._file.flush()\n"
        "os._exit(9)\n"
    )
    died = subprocess.run([sys.executable, "-c", crash, str(path)], check=False)
    assert died.returncode == 9
    with pytest.raises(ReportParseError, match=r"crashed\.jsonl:3"):
        read_jsonl(path)
    assert [t.name for t in read_jsonl(path, allow_torn_tail=True).tests] == ["a"]
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"hello": 1}\n')
    with pytest.raises(ReportParseError, match="not a maestro-results JSONL file"):
        read_jsonl(foreign)


def test_an_attempts_outcome_names_every_field_and_builds_a_result() -> None:
    attempt = Attempt(
        Status.FAILED, 1.5, "error", "boom", "trace", 10.0, "out", "err", (Attachment("shot", "image/png", "a.png"),)
    )
    outcome = attempt.outcome()
    assert Attempt(**outcome) == attempt  # every field, by name
    result = TestResult("t", **outcome)
    assert (result.status, result.raw_status, result.message, result.start) == (Status.FAILED, "error", "boom", 10.0)
    assert result.attachments == attempt.attachments


def test_a_result_and_its_attempt_convert_both_ways() -> None:
    # One conversion on the model (the merge, the CTRF writer and the JUnit fold each had their own).
    from maestro_test_result_aggregator.model import Attachment, Attempt, Status, TestResult

    result = TestResult(
        "test_pay",
        Status.FAILED,
        2.0,
        raw_status="error",
        message="boom",
        trace="at pay()",
        stdout="out",
        stderr="err",
        start=1_700_000_000.0,
        attachments=(Attachment("trace", "application/zip", "trace.zip"),),
    )
    attempt = result.as_attempt()
    assert attempt == Attempt(
        Status.FAILED, 2.0, "error", "boom", "at pay()", 1_700_000_000.0, "out", "err", result.attachments
    )
    assert TestResult("test_pay", **attempt.outcome()) == result
    assert result.every_attempt() == (attempt,)
    retried = TestResult("test_pay", Status.PASSED, attempts=(attempt, Attempt(Status.PASSED)))
    assert retried.every_attempt() == retried.attempts
