"""``maestro_test_adapters.testing.FakeAdapter``: a real ``TestAdapter`` with canned results."""

from __future__ import annotations

from pathlib import Path

from maestro_test_adapters import ExitCode, RunOptions, exit_code, run_error
from maestro_test_result_aggregator.model import Attempt, Status, TestResult


def test_fake_adapter_streams_writes_reports_and_records_calls(tmp_path: Path) -> None:
    from maestro_test_adapters.testing import FakeAdapter
    from maestro_test_result_aggregator.formats import read_jsonl, read_junit

    results = [TestResult("a", Status.PASSED), TestResult("b", Status.FAILED, message="boom")]
    adapter = FakeAdapter(results, name="fake")
    seen: list[str] = []
    options = RunOptions(
        jsonl=tmp_path / "r.jsonl",
        junit=tmp_path / "j.xml",
        ctrf=tmp_path / "c.json",
        on_result=lambda r: seen.append(r.name),
    )
    run = adapter.run("suite", options=options)
    assert seen == ["a", "b"]
    assert adapter.calls == [("suite", options)]
    assert exit_code(run) is ExitCode.TESTS_FAILED
    assert [t.name for t in read_jsonl(tmp_path / "r.jsonl").tests] == ["a", "b"]
    assert sorted(t.name for t in read_junit(tmp_path / "j.xml").tests) == ["a", "b"]
    assert (tmp_path / "c.json").is_file()
    broken = FakeAdapter(results, error="runner exploded\nsecond line").run("x")
    assert run_error(broken) == "runner exploded"
    flaky = TestResult("f", Status.PASSED, attempts=(Attempt(Status.FAILED), Attempt(Status.PASSED)))
    assert exit_code(FakeAdapter([flaky]).run("x")) is ExitCode.OK
    strict = FakeAdapter([flaky]).run("x", options=RunOptions(fail_on_flaky=True))
    assert exit_code(strict) is ExitCode.TESTS_FAILED
    assert exit_code(strict, fail_on_flaky=False) is ExitCode.OK
    assert exit_code(broken) is ExitCode.ERROR


async def test_fake_adapter_async_twin() -> None:
    from maestro_test_adapters.testing import FakeAdapter

    run = await FakeAdapter([TestResult("a", Status.PASSED)]).arun("x")
    assert exit_code(run) is ExitCode.OK
