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


def test_a_report_cut_mid_line_is_followed_and_completed(tmp_path: Path) -> None:
    from maestro_test_adapters._tail import ReportTail, complete_report
    from maestro_test_result_aggregator.formats import read_jsonl, write_jsonl

    path = tmp_path / "r.jsonl"
    write_jsonl(TestRun(Tool("pytest"), [TestResult("done", Status.PASSED)]), path)
    lines = path.read_text().splitlines(keepends=True)
    assert '"type":"end"' in lines[-1]
    tail = ReportTail(path)
    path.write_text(lines[0])
    assert tail.read() == []
    path.write_text("".join(lines[:-1]) + '{"type":"result","na')  # the process died mid-line
    assert [r.name for r in tail.read()] == ["done"]  # each line parsed once, the torn one never
    run = tail.run()
    assert run is not None
    assert (run.tool.name, run.stop, tail.problem) == ("pytest", None, None)
    run.tests.append(TestResult("lost", Status.FAILED, raw_status="crashed"))
    run.stop = 5.0
    complete_report(path, run)  # with the aggregator's writer
    again = read_jsonl(path)
    assert [(t.name, t.status) for t in again.tests] == [("done", Status.PASSED), ("lost", Status.FAILED)]
    assert again.stop == 5.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.jsonl"]


def test_a_line_that_is_not_a_record_makes_the_report_unreadable(tmp_path: Path) -> None:
    from maestro_test_adapters._tail import ReportTail

    path = tmp_path / "r.jsonl"
    path.write_text('{"type":"run","schema":"maestro-results/1","tool":{"name":"pytest"}}\nnot json\n')
    tail = ReportTail(path)
    tail.read()
    assert tail.problem is not None
    assert "line 2" in tail.problem
