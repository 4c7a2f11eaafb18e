"""Streaming results (``ResultStream``), repairing a dead runner's JSONL, and the CTRF/JUnit reports."""

from __future__ import annotations

from pathlib import Path

import pytest

import maestro_test_adapters as mta
from maestro_test_adapters import InvalidOptionError, RunOptions
from maestro_test_result_aggregator.model import Attempt, Status, TestResult, TestRun, Tool


def test_result_stream_refuses_an_unwritable_jsonl(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(mta.ReportWriteError, match="cannot write"):
        mta.ResultStream(Tool("x"), RunOptions(jsonl=blocker / "sub" / "r.jsonl"))


def test_surefire_junit_keeps_failed_attempts(tmp_path: Path) -> None:
    from maestro_test_adapters.testing import FakeAdapter
    from maestro_test_result_aggregator.formats import read_junit

    flaky = TestResult(
        "test_f",
        Status.PASSED,
        classname="tests.test_f",
        attempts=(Attempt(Status.FAILED, message="first try"), Attempt(Status.PASSED)),
    )
    FakeAdapter([flaky]).run("x", options=RunOptions(junit=tmp_path / "j.xml", junit_profile="surefire"))
    assert "flakyFailure" in (tmp_path / "j.xml").read_text()
    [back] = read_junit(tmp_path / "j.xml").tests
    assert back.flaky
    assert [a.status for a in back.attempts] == [Status.FAILED, Status.PASSED]
    with pytest.raises(InvalidOptionError, match="junit_profile"):
        RunOptions(junit_profile="xunit1")


def test_append_results_repairs_a_torn_tail(tmp_path: Path) -> None:
    from maestro_test_adapters._outputs import append_results
    from maestro_test_result_aggregator.formats import read_jsonl, write_jsonl

    path = tmp_path / "r.jsonl"
    write_jsonl(TestRun(Tool("pytest"), [TestResult("done", Status.PASSED)]), path)
    lines = path.read_text().splitlines(keepends=True)
    assert '"type":"end"' in lines[-1]
    path.write_text("".join(lines[:-1]) + '{"type":"result","na')  # the process died mid-line
    append_results(path, [TestResult("lost", Status.FAILED, raw_status="crashed")], stop=5.0)
    run = read_jsonl(path)
    assert [(t.name, t.status) for t in run.tests] == [("done", Status.PASSED), ("lost", Status.FAILED)]
    assert run.stop == 5.0
