"""The public API: options validation, exit codes, the registry and the error tree."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import pytest

import maestro_test_adapters as mta
from maestro_test_adapters import (
    AdapterNotFoundError,
    Availability,
    ExitCode,
    InvalidOptionError,
    RunOptions,
    TestAdapterError,
    adapter_names,
    exit_code,
    get_adapter,
    run_error,
)
from maestro_test_result_aggregator.model import Attempt, Status, TestResult, TestRun, Tool


def _run(*statuses: Status, flaky: bool = False, error: str | None = None) -> TestRun:
    tests = [TestResult(f"t{i}", s) for i, s in enumerate(statuses)]
    if flaky:
        tests.append(TestResult("f", Status.PASSED, attempts=(Attempt(Status.FAILED), Attempt(Status.PASSED))))
    return TestRun(Tool("x"), tests, extra={mta.RUN_ERROR_KEY: error} if error else {})


def test_exit_codes_follow_the_shared_semantics() -> None:
    assert exit_code(_run(Status.PASSED, Status.SKIPPED)) is ExitCode.OK
    assert exit_code(_run(Status.PASSED, Status.FAILED)) is ExitCode.TESTS_FAILED
    assert exit_code(_run(Status.OTHER)) is ExitCode.TESTS_FAILED
    assert exit_code(_run()) is ExitCode.NO_TESTS
    assert exit_code(_run(Status.FAILED, error="crashed")) is ExitCode.ERROR
    assert exit_code(_run(Status.PASSED, flaky=True)) is ExitCode.OK
    assert exit_code(_run(Status.PASSED, flaky=True), fail_on_flaky=True) is ExitCode.TESTS_FAILED
    assert run_error(_run(error="boom")) == "boom"
    assert [int(c) for c in ExitCode] == [0, 1, 2, 5]


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"runner_args": "-x"}, "runner_args"),
        ({"runner_args": ["-x", 3]}, "runner_args"),
        ({"env": {"A=B": "c"}}, "env"),
        ({"env": {"A": 1}}, "env"),
        ({"output_limit": -5}, "output_limit"),
        ({"ctrf": ""}, "ctrf"),
        ({"on_result": 3}, "on_result"),
    ],
)
def test_bad_options_name_the_parameter(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(InvalidOptionError, match=parameter) as caught:
        RunOptions(**kwargs)
    assert caught.value.parameter == parameter
    assert isinstance(caught.value, TestAdapterError)
    assert isinstance(caught.value, ValueError)


def test_options_normalise_their_values() -> None:
    options = RunOptions(timeout=5, ctrf="out/c.json", runner_args=["-x"], env={"A": "1"})
    assert options.timeout == 5.0
    assert isinstance(options.timeout, float)
    assert options.ctrf == Path("out/c.json")
    assert options.runner_args == ("-x",)
    assert options.env == {"A": "1"}
    assert RunOptions().jsonl is None


def test_built_in_adapters_are_registered_through_the_entry_point_group() -> None:
    names = {p.name for p in importlib.metadata.entry_points(group=mta.ENTRY_POINT_GROUP)}
    assert {"frontend", "playwright", "production", "pytest", "selenium"} <= names
    assert adapter_names() == sorted(names)
    for name in adapter_names():
        adapter = get_adapter(name)
        assert adapter.name == name
        assert isinstance(adapter, mta.TestAdapter)
        availability = adapter.available()
        assert isinstance(availability, Availability)
        assert availability.ok or availability.reason


def test_unknown_adapter_lists_the_available_names() -> None:
    with pytest.raises(AdapterNotFoundError) as caught:
        get_adapter("cypress")
    assert "cypress" in str(caught.value)
    assert "pytest" in str(caught.value)
    assert "production" in str(caught.value)
    assert caught.value.available == tuple(adapter_names())


def test_settings_are_passed_to_the_adapter_factory_and_unknown_ones_refused() -> None:
    assert getattr(get_adapter("production", concurrency=2), "concurrency", None) == 2
    assert getattr(get_adapter("frontend", runner="jest"), "runner", None) == "jest"
    with pytest.raises(InvalidOptionError, match=r"workers: is not a setting of the 'production' adapter") as caught:
        get_adapter("production", workers=3)
    assert "concurrency" in str(caught.value)
    with pytest.raises(InvalidOptionError, match="concurrency: must be an int"):
        get_adapter("production", concurrency=0)


def test_a_broken_third_party_entry_point_is_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    point = importlib.metadata.EntryPoint("broken", "no_such_module_xyz:Adapter", mta.ENTRY_POINT_GROUP)
    not_adapter = importlib.metadata.EntryPoint("bogus", "builtins:object", mta.ENTRY_POINT_GROUP)
    from maestro_test_adapters import _registry

    monkeypatch.setattr(_registry, "entry_points", lambda group: [point, not_adapter])
    with pytest.raises(TestAdapterError, match="failed to load"):
        get_adapter("broken")
    with pytest.raises(TestAdapterError, match="did not build a TestAdapter"):
        get_adapter("bogus")


def test_availability_is_truthy_only_when_ok() -> None:
    assert Availability(True)
    assert not Availability(False, "missing")


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


def test_result_stream_refuses_an_unwritable_jsonl(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(mta.ReportWriteError, match="cannot write"):
        mta.ResultStream(Tool("x"), RunOptions(jsonl=blocker / "sub" / "r.jsonl"))


def test_environment_detection_from_ci_variables() -> None:
    from maestro_test_adapters import detect_environment

    github = detect_environment(
        {
            "GITHUB_SHA": "abc",
            "GITHUB_REF_NAME": "main",
            "GITHUB_REPOSITORY": "org/repo",
            "GITHUB_RUN_ID": "42",
            "CI_NODE_INDEX": "2",
            "CI_NODE_TOTAL": "4",
        }
    )
    assert (github.commit, github.branch, github.shard) == ("abc", "main", "2/4")
    assert github.build_url == "https://github.com/org/repo/actions/runs/42"
    gitlab = detect_environment({"CI_COMMIT_SHA": "def", "CI_COMMIT_REF_NAME": "dev", "CI_JOB_URL": "https://ci/j/1"})
    assert (gitlab.commit, gitlab.branch, gitlab.build_url) == ("def", "dev", "https://ci/j/1")
    override = detect_environment({"MAESTRO_COMMIT": "mine", "GITHUB_SHA": "abc"})
    assert override.commit == "mine"
    assert detect_environment({}).commit is None


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


def test_line_tail_waits_for_complete_lines(tmp_path: Path) -> None:
    from maestro_test_adapters._tail import LineTail, read_inflight

    path = tmp_path / "growing.txt"
    tail = LineTail(path)
    assert tail.read() == []  # not created yet
    path.write_bytes(b"+a\n+b")
    assert tail.read() == ["+a"]
    with path.open("ab") as stream:
        stream.write(b"\n-a\n")
    assert tail.read() == ["+b", "-a"]
    assert read_inflight(path) == ["b"]
    assert read_inflight(tmp_path / "missing") == []


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
