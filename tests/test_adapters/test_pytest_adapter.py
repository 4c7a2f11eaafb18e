"""The pytest adapter and its reporting plugin, end to end in real pytest subprocesses.

The inner pytest runs pass ``-p no:randomly`` (``NO_RANDOM``): pytest-randomly is installed in the
dev environment and would shuffle the inner suites, whose tests are written in an order (a test
passes, then the next one hangs or crashes). Global timeouts are reached on an event through
``DeadlineClock``, never by waiting for the wall clock.
"""

from __future__ import annotations

import asyncio
import json
import signal
import textwrap
import threading
from pathlib import Path
from typing import NoReturn, cast

import pytest

from maestro_test_adapters import (
    ExitCode,
    InvalidOptionError,
    PytestAdapter,
    RunOptions,
    TargetNotFoundError,
    exit_code,
    run_error,
)
from maestro_test_result_aggregator.formats import read_jsonl
from maestro_test_result_aggregator.model import Environment, Status, TestResult, TestRun
from tests.test_adapters.deadline import DeadlineClock
from tests.waiting import async_wait_until

NO_RANDOM = ("-p", "no:randomly")

SUITE = """
import logging
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("fixture boom")

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown boom")

@pytest.mark.smoke
@pytest.mark.parametrize("x", [1, 2])
def test_param(x):
    print("stdout of", x)
    logging.getLogger("suite").warning("logged %s", x)
    assert x == 1

def test_fixture_error(broken):
    pass

def test_teardown_error(bad_teardown):
    pass

@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert False

@pytest.mark.xfail(reason="fixed?")
def test_xpass():
    pass

@pytest.mark.xfail(reason="fixed!", strict=True)
def test_xpass_strict():
    pass

def test_skip():
    pytest.skip("not today")

@pytest.mark.flaky(reruns=3)
def test_flaky(request):
    counter = request.config.rootpath / "flaky-count"
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    assert n >= 2, f"attempt {n}"

@pytest.mark.flaky(reruns=1)
def test_always_fails():
    assert False, "never"

class TestGroup:
    def test_method(self):
        print("x" * 5000)
"""


def _by_name(run: TestRun) -> dict[str, TestResult]:
    return {r.name: r for r in run.tests}


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestRun, Path]:
    root = tmp_path_factory.mktemp("suite")
    _write(root, "test_suite.py", SUITE)
    jsonl = root / "out" / "results.jsonl"
    started: list[str] = []
    streamed: list[str] = []
    options = RunOptions(
        jsonl=jsonl,
        cwd=root,
        output_limit=1000,
        on_test_start=started.append,
        on_result=lambda r: streamed.append(r.name),
        runner_args=("-p", "no:cacheprovider", *NO_RANDOM),
        environment=Environment(commit="cafe1234", branch="feature/x"),
    )
    run = PytestAdapter().run("test_suite.py", options=options)
    assert streamed == [r.name for r in run.tests]
    assert "test_suite.py::test_skip" in started
    return run, jsonl


def test_one_result_per_test_with_folded_status_and_raw_outcome(suite_run: tuple[TestRun, Path]) -> None:
    run, _ = suite_run
    results = _by_name(run)
    expected = {
        "test_param[1]": (Status.PASSED, "passed"),
        "test_param[2]": (Status.FAILED, "failed"),
        "test_fixture_error": (Status.FAILED, "error"),
        "test_teardown_error": (Status.FAILED, "error"),
        "test_xfail": (Status.SKIPPED, "xfailed"),
        "test_xpass": (Status.PASSED, "xpassed"),
        "test_xpass_strict": (Status.FAILED, "xpassed"),
        "test_skip": (Status.SKIPPED, "skipped"),
        "test_flaky": (Status.PASSED, "passed"),
        "test_always_fails": (Status.FAILED, "failed"),
        "test_method": (Status.PASSED, "passed"),
    }
    assert {n: (r.status, r.raw_status) for n, r in results.items()} == expected
    assert run.tool.name == "pytest"
    assert run.tool.version
    assert exit_code(run) is ExitCode.TESTS_FAILED
    assert run_error(run) is None
    assert results["test_fixture_error"].message == "RuntimeError: fixture boom"
    assert "teardown boom" in (results["test_teardown_error"].message or "")
    assert results["test_xfail"].message == "known bug"
    assert "not today" in (results["test_skip"].message or "")
    assert "assert 2 == 1" in (results["test_param[2]"].trace or "")


def test_reruns_are_kept_as_attempts(suite_run: tuple[TestRun, Path]) -> None:
    run, _ = suite_run
    flaky = _by_name(run)["test_flaky"]
    assert [a.status for a in flaky.attempts] == [Status.FAILED, Status.FAILED, Status.PASSED]
    assert flaky.flaky
    assert flaky.retries == 2
    assert "attempt 0" in (flaky.attempts[0].message or "")
    assert "attempt 1" in (flaky.attempts[1].message or "")
    assert flaky.duration == pytest.approx(sum(a.duration for a in flaky.attempts))
    always = _by_name(run)["test_always_fails"]
    assert [a.status for a in always.attempts] == [Status.FAILED, Status.FAILED]
    assert not always.flaky
    assert exit_code(run, fail_on_flaky=True) is ExitCode.TESTS_FAILED


def test_metadata_markers_parameters_location_output(suite_run: tuple[TestRun, Path]) -> None:
    run, _ = suite_run
    results = _by_name(run)
    param = results["test_param[2]"]
    assert param.tags == ("smoke",)
    assert dict(param.parameters) == {"x": "2"}
    assert param.file == "test_suite.py"
    assert param.line is not None
    assert param.line > 1
    assert param.stdout == "stdout of 2\n"
    assert "logged 2" in str(param.extra["log"])
    assert param.extra["nodeid"] == "test_suite.py::test_param[2]"
    method = results["test_method"]
    assert method.classname == "TestGroup"
    assert method.suite == ("test_suite.py", "TestGroup")
    assert method.stdout is not None
    assert len(method.stdout) < 1200
    assert "truncated" in method.stdout
    assert results["test_xpass"].tags == ("xfail",)


def test_the_jsonl_file_holds_the_same_run(suite_run: tuple[TestRun, Path]) -> None:
    run, jsonl = suite_run
    on_disk = read_jsonl(jsonl)
    assert on_disk.environment == run.environment
    assert run.environment.commit == "cafe1234"
    assert run.environment.branch == "feature/x"
    assert [r.name for r in on_disk.tests] == [r.name for r in run.tests]
    assert on_disk.stop is not None
    lines = jsonl.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "run"
    assert json.loads(lines[-1])["type"] == "end"


@pytest.mark.timing
def test_a_crash_keeps_finished_results_and_names_the_in_flight_test(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "test_crash.py",
        """
        import os, signal
        def test_before(): pass
        def test_dies(): os.kill(os.getpid(), signal.SIGKILL)
        def test_never(): pass
        """,
    )
    jsonl = tmp_path / "r.jsonl"
    run = PytestAdapter().run("test_crash.py", options=RunOptions(cwd=tmp_path, jsonl=jsonl, runner_args=NO_RANDOM))
    results = _by_name(run)
    assert results["test_before"].status is Status.PASSED
    assert results["test_dies"].status is Status.FAILED
    assert results["test_dies"].raw_status == "crashed"
    assert "SIGKILL" in (results["test_dies"].message or "")
    assert "test_never" not in results
    assert exit_code(run) is ExitCode.ERROR
    assert "SIGKILL" in (run_error(run) or "")
    assert "test_dies" in (run_error(run) or "")
    on_disk = read_jsonl(jsonl)  # the adapter completed the file the dead process left open
    assert [r.name for r in on_disk.tests] == ["test_before", "test_dies"]


@pytest.mark.timing
def test_a_hang_is_killed_by_the_global_timeout(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "test_hang.py",
        """
        import threading
        def test_quick(): pass
        def test_hangs(): threading.Event().wait()  # only the timeout can end it
        def test_never(): pass
        """,
    )
    clock = DeadlineClock(started="test_hang.py::test_hangs", finished=["test_quick"])
    options = RunOptions(
        cwd=tmp_path,
        timeout=300,
        runner_args=NO_RANDOM,
        on_test_start=clock.on_test_start,
        on_result=clock.on_result,
    )
    run = PytestAdapter(clock=clock).run("test_hang.py", options=options)
    assert clock.reached.is_set()
    results = _by_name(run)
    assert results["test_quick"].status is Status.PASSED
    assert results["test_hangs"].raw_status == "timedOut"
    assert results["test_hangs"].status is Status.FAILED
    assert "test_never" not in results
    assert "timed out after 300 s: killed the runner's process group" in (run_error(run) or "")
    assert "(in flight: test_hang.py::test_hangs)" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR


@pytest.mark.timing
@pytest.mark.slow
def test_xdist_workers_report_through_the_controller_and_a_killed_worker_is_a_failure(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "test_para.py",
        """
        import os, signal
        import pytest
        @pytest.mark.parametrize("i", range(6))
        def test_many(i): pass
        def test_kill_worker(): os.kill(os.getpid(), signal.SIGKILL)
        @pytest.mark.flaky(reruns=1)
        def test_rerun_on_worker(request):
            marker = request.config.rootpath / "seen"
            first = not marker.exists()
            marker.touch()
            assert not first
        """,
    )
    run = PytestAdapter().run("test_para.py", options=RunOptions(cwd=tmp_path, runner_args=("-n", "2", *NO_RANDOM)))
    results = _by_name(run)
    assert len(run.tests) == 8
    assert all(results[f"test_many[{i}]"].status is Status.PASSED for i in range(6))
    killed = results["test_kill_worker"]
    assert killed.status is Status.FAILED
    assert killed.raw_status == "crashed"
    assert "crashed" in (killed.message or "")
    assert [a.status for a in results["test_rerun_on_worker"].attempts] == [Status.FAILED, Status.PASSED]
    assert results["test_many[3]"].parameters == {"i": "3"}
    assert exit_code(run) is ExitCode.TESTS_FAILED  # the controller survived: a test failure, not an error


def test_no_tests_collected_is_exit_code_5(tmp_path: Path) -> None:
    _write(tmp_path, "test_empty.py", "x = 1\n")
    run = PytestAdapter().run("test_empty.py", options=RunOptions(cwd=tmp_path))
    assert run.tests == []
    assert exit_code(run) is ExitCode.NO_TESTS


def test_collection_errors_are_failed_results_not_infrastructure_errors(tmp_path: Path) -> None:
    _write(tmp_path, "test_broken.py", "import no_such_module_xyz\n")
    _write(tmp_path, "test_fine.py", "def test_ok(): pass\n")
    run = PytestAdapter().run(
        ".", options=RunOptions(cwd=tmp_path, runner_args=("--continue-on-collection-errors", *NO_RANDOM))
    )
    results = {r.file: r for r in run.tests}
    assert results["test_broken.py"].status is Status.FAILED
    assert results["test_broken.py"].raw_status == "error"
    assert "no_such_module_xyz" in (results["test_broken.py"].message or "")
    assert exit_code(run) is ExitCode.TESTS_FAILED
    interrupted = PytestAdapter().run(".", options=RunOptions(cwd=tmp_path, runner_args=NO_RANDOM))
    assert exit_code(interrupted) is ExitCode.TESTS_FAILED
    assert run_error(interrupted) is None


def test_a_usage_error_is_an_infrastructure_error(tmp_path: Path) -> None:
    _write(tmp_path, "test_a.py", "def test_ok(): pass\n")
    run = PytestAdapter().run("test_a.py", options=RunOptions(cwd=tmp_path, runner_args=("--no-such-flag",)))
    assert exit_code(run) is ExitCode.ERROR
    assert "usage error" in (run_error(run) or "")


def test_a_missing_target_is_refused_before_running(tmp_path: Path) -> None:
    with pytest.raises(TargetNotFoundError, match="missing_dir"):
        PytestAdapter().run("missing_dir", options=RunOptions(cwd=tmp_path))
    with pytest.raises(InvalidOptionError, match="python"):
        PytestAdapter(python=3)  # type: ignore[arg-type]
    refused: list[BaseException] = []

    def off_the_main_thread() -> None:
        try:
            PytestAdapter(in_process=True).run("x", options=RunOptions(timeout=1, cwd=tmp_path))
        except InvalidOptionError as error:
            refused.append(error)

    thread = threading.Thread(target=off_the_main_thread)
    thread.start()
    thread.join()
    assert "timeout: with in_process=True works only in the main thread" in str(refused[0])
    assert not PytestAdapter(python="/no/such/python").available()


def test_another_interpreter_without_pytest_is_unavailable_with_the_reason(tmp_path: Path) -> None:
    import shutil
    import sys

    bare = shutil.which("python3") or sys.executable
    if bare == sys.executable:
        pytest.skip("no second interpreter on PATH")
    adapter = PytestAdapter(python=bare)
    availability = adapter.available()
    if availability:
        pytest.skip(f"{bare} has pytest and this package")
    assert "cannot import pytest" in str(availability.reason)
    assert adapter.available() is availability  # asked once
    _write(tmp_path, "test_a.py", "def test_ok(): pass\n")
    run = adapter.run("test_a.py", options=RunOptions(cwd=tmp_path))
    assert exit_code(run) is ExitCode.ERROR
    assert "wrote no report" in (run_error(run) or "")


async def test_the_async_twin_runs_the_same_way(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "test_a.py",
        "import threading\ndef test_ok(): pass\ndef test_bad(): assert 0\ndef test_hang(): threading.Event().wait()\n",
    )
    clock = DeadlineClock(started="test_a.py::test_hang", finished=["test_ok", "test_bad"])
    options = RunOptions(
        cwd=tmp_path, timeout=300, runner_args=NO_RANDOM, on_test_start=clock.on_test_start, on_result=clock.on_result
    )
    run = await PytestAdapter(clock=clock).arun("test_a.py", options=options)
    assert {r.name: r.raw_status for r in run.tests} == {
        "test_ok": "passed",
        "test_bad": "failed",
        "test_hang": "timedOut",
    }
    assert exit_code(run) is ExitCode.ERROR


def test_in_process_mode(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    _write(tmp_path, "test_inproc_mod.py", "def test_ok(): pass\ndef test_bad(): assert 0\n")
    seen: list[str] = []
    run = PytestAdapter(in_process=True).run(
        "test_inproc_mod.py",
        options=RunOptions(
            cwd=tmp_path, on_result=lambda r: seen.append(r.name), runner_args=("-p", "no:cacheprovider", *NO_RANDOM)
        ),
    )
    assert {r.name: r.status for r in run.tests} == {"test_ok": Status.PASSED, "test_bad": Status.FAILED}
    assert seen == ["test_ok", "test_bad"]
    assert exit_code(run) is ExitCode.TESTS_FAILED


@pytest.mark.timing
def test_in_process_timeout_interrupts_the_hung_test_and_keeps_finished_results(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    # The hung test checks that the run's timer is armed, then receives the SIGALRM the timer
    # sends at its deadline (raised here, so that no wall-clock race decides which test is in
    # flight), and would wait forever if nothing interrupted it.
    _write(
        tmp_path,
        "test_inproc_hang.py",
        """
        import signal, threading
        def test_ok(): pass
        def test_hang():
            assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 300
            signal.raise_signal(signal.SIGALRM)
            threading.Event().wait()
        def test_never(): pass
        """,
    )
    jsonl = tmp_path / "r.jsonl"
    outer = signal.getsignal(signal.SIGALRM)
    outer_left = signal.getitimer(signal.ITIMER_REAL)[0]  # pytest-timeout's timer for this test
    run = PytestAdapter(in_process=True).run(
        "test_inproc_hang.py",
        options=RunOptions(cwd=tmp_path, timeout=300, jsonl=jsonl, runner_args=("-p", "no:cacheprovider", *NO_RANDOM)),
    )
    assert {r.name: r.raw_status for r in run.tests} == {"test_ok": "passed", "test_hang": "timedOut"}
    assert "timed out after 300 s: interrupted the in-process run" in (run_error(run) or "")
    assert "test_inproc_hang.py::test_hang" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR
    assert [r.name for r in read_jsonl(jsonl).tests] == ["test_ok", "test_hang"]
    assert signal.getsignal(signal.SIGALRM) == outer  # our handler is gone (pytest-timeout's is back)
    if outer_left > 0:  # and so is the rest of its timer
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] < outer_left


def test_the_plugin_is_inert_without_its_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass\n")
    result = pytester.runpytest_subprocess("-p", "maestro_test_adapters.pytest_plugin", *NO_RANDOM)
    result.assert_outcomes(passed=1)
    assert not list(pytester.path.glob("*.jsonl"))
    report = pytester.path / "direct.jsonl"
    result = pytester.runpytest_subprocess(f"--maestro-report={report}", *NO_RANDOM)
    result.assert_outcomes(passed=1)
    assert [r.name for r in read_jsonl(report).tests] == ["test_ok"]


def test_a_runner_that_dies_before_reporting_still_leaves_a_readable_jsonl(tmp_path: Path) -> None:
    _write(tmp_path, "conftest.py", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    _write(tmp_path, "test_a.py", "def test_ok(): pass\n")
    jsonl = tmp_path / "out.jsonl"
    run = PytestAdapter().run("test_a.py", options=RunOptions(cwd=tmp_path, jsonl=jsonl))
    assert exit_code(run) is ExitCode.ERROR
    assert "SIGKILL" in (run_error(run) or "")
    assert read_jsonl(jsonl).tests == []


@pytest.mark.timing
def test_a_runner_that_exits_mid_run_is_an_infrastructure_error(tmp_path: Path) -> None:
    """pytest leaving with exit status 0 in the middle of a test (``os._exit``) must not pass."""
    _write(
        tmp_path,
        "test_exit.py",
        """
        import os
        def test_before(): pass
        def test_exits(): os._exit(0)
        def test_never(): pass
        """,
    )
    jsonl = tmp_path / "r.jsonl"
    run = PytestAdapter().run("test_exit.py", options=RunOptions(cwd=tmp_path, jsonl=jsonl, runner_args=NO_RANDOM))
    results = _by_name(run)
    assert set(results) == {"test_before", "test_exits"}
    assert results["test_before"].status is Status.PASSED
    assert (results["test_exits"].status, results["test_exits"].raw_status) == (Status.FAILED, "crashed")
    assert "pytest exited (exit status 0) before finishing its report" in (run_error(run) or "")
    assert "(in flight: test_exit.py::test_exits)" in (run_error(run) or "")
    assert exit_code(run) is ExitCode.ERROR
    assert [r.name for r in read_jsonl(jsonl).tests] == ["test_before", "test_exits"]


def test_an_unreadable_report_is_an_infrastructure_error(tmp_path: Path) -> None:
    """A report damaged after pytest wrote it is an error naming the problem, not an empty run."""
    _write(
        tmp_path,
        "conftest.py",
        """
        def pytest_unconfigure(config):
            path = config.getoption("maestro_report", None)
            if path:
                with open(path, "w") as stream:
                    stream.write("this is not JSON\\n")
        """,
    )
    _write(tmp_path, "test_a.py", "def test_ok(): pass\n")
    run = PytestAdapter().run("test_a.py", options=RunOptions(cwd=tmp_path, runner_args=NO_RANDOM))
    assert exit_code(run) is ExitCode.ERROR
    assert "cannot read pytest's report (exit status 0)" in (run_error(run) or "")
    assert run.tests == []


def test_the_clock_setting_must_be_callable() -> None:
    with pytest.raises(InvalidOptionError, match="clock: must be a callable"):
        PytestAdapter(clock=5)  # type: ignore[arg-type]


# -- a failing exit that no result explains ---------------------------------------------------------

COVERED_MODULE = """
def used():
    return 1

def never_called():
    return 2
"""


def test_a_coverage_gate_not_met_fails_the_run_although_every_test_passed(tmp_path: Path) -> None:
    # pytest-cov: pytest exits 1 with every test green when --cov-fail-under is not met
    _write(tmp_path, "half.py", COVERED_MODULE)
    _write(tmp_path, "test_half.py", "import half\ndef test_used(): assert half.used() == 1\n")
    options = RunOptions(cwd=tmp_path, runner_args=(*NO_RANDOM, "--cov=half", "--cov-fail-under=100"))
    run = PytestAdapter().run("test_half.py", options=options)
    assert [(r.name, r.status) for r in run.tests] == [("test_used", Status.PASSED)]
    assert exit_code(run) is ExitCode.ERROR
    reason = run_error(run) or ""
    assert reason.startswith("pytest exit status 1 although no test failed: ")
    # pytest-cov >= 6 and older word it differently; either way the runner's own reason is quoted
    assert ("Coverage failure: total of 75 is less than fail-under=100" in reason) or (
        "Required test coverage of 100% not reached" in reason
    )


def test_rerunfailures_fail_on_flaky_fails_the_run(tmp_path: Path) -> None:
    # pytest-rerunfailures --fail-on-flaky: pytest exits 7 when a test passed only on a rerun
    _write(tmp_path, "test_f.py", FLAKY_ONCE)
    options = RunOptions(cwd=tmp_path, runner_args=(*NO_RANDOM, "--fail-on-flaky"))
    run = PytestAdapter().run("test_f.py", options=options)
    assert [(r.name, r.status, r.flaky) for r in run.tests] == [("test_flaky", Status.PASSED, True)]
    assert exit_code(run) is ExitCode.ERROR
    assert run_error(run) == (
        "pytest exit status 7 although no test failed: pytest-rerunfailures --fail-on-flaky "
        "(a test passed only on a rerun)"
    )


def test_an_explained_failing_exit_is_not_an_infrastructure_error(tmp_path: Path) -> None:
    _write(tmp_path, "test_f.py", "def test_bad(): assert 0\n")
    run = PytestAdapter().run("test_f.py", options=RunOptions(cwd=tmp_path, runner_args=NO_RANDOM))
    assert run_error(run) is None
    assert exit_code(run) is ExitCode.TESTS_FAILED


# -- pytest-rerunfailures, oldest and newest supported ----------------------------------------------

FLAKY_ONCE = """
import pytest

@pytest.mark.flaky(reruns=1)
def test_flaky(request):
    marker = request.config.rootpath / "seen"
    first = not marker.exists()
    marker.touch()
    assert not first
"""

RERUNS = """
import pytest
from maestro_test_adapters.pytest_plugin import attach

@pytest.fixture
def evidence(request):
    yield
    # saved at teardown, as the browser fixtures save a screenshot: it belongs to this attempt
    done = (request.config.rootpath / "count").read_text()
    attach(request, "evidence", "text/plain", f"after-attempt-{int(done) - 1}")

@pytest.mark.flaky(reruns=2)
def test_flaky(request, evidence):
    counter = request.config.rootpath / "count"
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    print(f"output of attempt {n}")
    assert n >= 2, f"attempt {n}"

@pytest.mark.flaky(reruns=1)
def test_always_fails():
    print("always")
    assert False, "never"

def test_after(): pass
"""

OLDEST_RERUNFAILURES = "14.0"

WHICH_PLUGIN = """
import pytest_rerunfailures

def pytest_configure(config):
    (config.rootpath / "plugin.txt").write_text(pytest_rerunfailures.__file__)
"""


def install_release(tmp_path_factory: pytest.TempPathFactory, distribution: str, version: str, module: str) -> Path:
    """``distribution==version`` in a folder of its own, installed once per session from the package
    index: put first on PYTHONPATH, it replaces the release in the venv."""
    target = tmp_path_factory.getbasetemp() / f"{distribution}-{version}"
    if not (target / module).is_file():
        import subprocess
        import sys

        pip = subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--no-deps", "--disable-pip-version-check", "-q",
                "--target", str(target), f"{distribution}=={version}",
            ],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        if pip.returncode != 0:
            from tests.fixtures.services import unavailable

            unavailable(f"cannot install {distribution}=={version}: {pip.stderr.strip()[-300:]}")
    return target


@pytest.fixture(scope="session")
def rerunfailures_oldest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest-rerunfailures 14.0, the oldest release we support."""
    return install_release(tmp_path_factory, "pytest-rerunfailures", OLDEST_RERUNFAILURES, "pytest_rerunfailures.py")


@pytest.mark.parametrize("release", ["oldest", "installed"])
def test_reruns_end_on_the_rerun_report_whatever_the_rerunfailures_release(
    release: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # 14.0-16.6 send no teardown report for a rerun attempt; 16.6.1+ do
    env = {}
    if release == "oldest":
        env["PYTHONPATH"] = str(request.getfixturevalue("rerunfailures_oldest"))
    _write(tmp_path, "test_reruns.py", RERUNS)
    _write(tmp_path, "conftest.py", WHICH_PLUGIN)
    streamed: list[str] = []
    options = RunOptions(
        cwd=tmp_path,
        env=env,
        jsonl=tmp_path / "r.jsonl",
        on_result=lambda r: streamed.append(r.name),
        runner_args=(*NO_RANDOM, "-p", "no:cacheprovider", "-p", "no:warnings"),
    )
    run = PytestAdapter().run("test_reruns.py", options=options)
    plugin = Path((tmp_path / "plugin.txt").read_text())
    assert (env.get("PYTHONPATH") == str(plugin.parent)) is (release == "oldest")  # the release meant
    assert run_error(run) is None
    results = _by_name(run)
    flaky = results["test_flaky"]
    assert (flaky.status, flaky.raw_status) == (Status.PASSED, "passed")
    assert [(a.status, a.raw_status) for a in flaky.attempts] == [
        (Status.FAILED, "failed"),
        (Status.FAILED, "failed"),
        (Status.PASSED, "passed"),
    ]
    assert [(a.message or "").splitlines()[0] for a in flaky.attempts[:2]] == [
        "AssertionError: attempt 0",
        "AssertionError: attempt 1",
    ]
    assert [a.stdout for a in flaky.attempts] == [f"output of attempt {n}\n" for n in range(3)]  # its own only
    assert flaky.stdout == "output of attempt 2\n"
    assert [[a.path for a in attempt.attachments] for attempt in flaky.attempts] == [
        [f"after-attempt-{n}"] for n in range(3)
    ]
    always = results["test_always_fails"]
    assert (always.status, always.raw_status) == (Status.FAILED, "failed")
    assert [a.raw_status for a in always.attempts] == ["failed", "failed"]
    assert results["test_after"].status is Status.PASSED
    assert streamed == ["test_flaky", "test_always_fails", "test_after"]
    assert [r.name for r in read_jsonl(tmp_path / "r.jsonl").tests] == streamed
    assert exit_code(run) is ExitCode.TESTS_FAILED


# -- every failure the runner reported is kept -------------------------------------------------------

MANY_FAILURES = """
import time
import unittest

import pytest

class TestCase(unittest.TestCase):
    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertEqual(i, 0)

def test_pytest_subtests(subtests):
    for i in range(3):
        with subtests.test(msg="case", i=i):
            assert i == 0

@pytest.fixture
def bad_teardown():
    yield
    raise RuntimeError("teardown boom")

def test_fails_then_teardown_fails(bad_teardown):
    assert 0, "call boom"

@pytest.mark.timeout(0.2, method="signal")
def test_stopped_by_pytest_timeout():
    threading.Event().wait()
"""


def test_every_failure_of_a_test_is_kept(tmp_path: Path) -> None:
    _write(tmp_path, "test_many.py", "import threading\n" + MANY_FAILURES)
    run = PytestAdapter().run("test_many.py", options=RunOptions(cwd=tmp_path, runner_args=NO_RANDOM))
    assert run_error(run) is None
    results = _by_name(run)
    unittest_sub = results["test_subtests"]
    assert unittest_sub.status is Status.FAILED
    assert "1 != 0" in (unittest_sub.message or "")
    if pytest.version_tuple >= (9,):  # pytest < 9 reports only a unittest test's first failing subTest
        assert "2 != 0" in (unittest_sub.message or "")  # the second failing subtest too, as junitxml keeps it
        assert "2 != 0" in (unittest_sub.trace or "")
    if pytest.version_tuple >= (9,):  # the `subtests` fixture is built into pytest from 9.0
        pytest_sub = results["test_pytest_subtests"]
        assert "assert 1 == 0" in (pytest_sub.message or "")
        assert "assert 2 == 0" in (pytest_sub.message or "")
    both = results["test_fails_then_teardown_fails"]
    assert (both.status, both.raw_status) == (Status.FAILED, "failed")
    assert "call boom" in (both.message or "")
    assert "RuntimeError: teardown boom" in (both.message or "")
    assert "teardown boom" in (both.trace or "")
    stopped = results["test_stopped_by_pytest_timeout"]
    assert stopped.status is Status.FAILED
    assert "Timeout" in (stopped.message or "")
    assert stopped.raw_status == "timedOut"


OLDEST_PYTEST_TIMEOUT = "2.3.1"

STOPPED_BY_PYTEST_TIMEOUT = """
import threading

import pytest
import pytest_timeout

def test_which_release(record_property):
    record_property("plugin", pytest_timeout.__file__)

@pytest.mark.timeout(0.2, method="signal")
def test_stopped():
    threading.Event().wait()

def test_fails_saying_timeout():
    pytest.fail("Timeout while waiting for the queue")
"""


@pytest.fixture(scope="session")
def pytest_timeout_oldest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pytest-timeout 2.3.1, the oldest release we support."""
    return install_release(tmp_path_factory, "pytest-timeout", OLDEST_PYTEST_TIMEOUT, "pytest_timeout.py")


@pytest.mark.parametrize("release", ["oldest", "installed"])
def test_a_pytest_timeout_stop_is_timed_out_whatever_the_release(
    release: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # 2.3 fails the test with "Timeout >0.2s", 2.4+ with "Timeout (>0.2s) from pytest-timeout."
    env = {"PYTHONPATH": str(request.getfixturevalue("pytest_timeout_oldest"))} if release == "oldest" else {}
    _write(tmp_path, "test_stop.py", STOPPED_BY_PYTEST_TIMEOUT)
    run = PytestAdapter().run("test_stop.py", options=RunOptions(cwd=tmp_path, env=env, runner_args=NO_RANDOM))
    results = _by_name(run)
    properties = cast("list[list[str]]", results["test_which_release"].extra["properties"])
    plugin = Path(dict(properties)["plugin"])
    assert (str(plugin.parent) == env.get("PYTHONPATH")) is (release == "oldest"), plugin  # the release meant
    stopped = results["test_stopped"]
    assert (stopped.status, stopped.raw_status) == (Status.FAILED, "timedOut"), stopped.message
    assert "Timeout" in (stopped.message or "")
    said = results["test_fails_saying_timeout"]  # a test's own failure that speaks of a timeout
    assert (said.status, said.raw_status) == (Status.FAILED, "failed")


@pytest.mark.parametrize("args", [("--doctest-modules",), ("-n", "2")])
def test_one_collection_error_is_one_result(tmp_path: Path, args: tuple[str, ...]) -> None:
    # with --doctest-modules pytest reports the module's error twice (its test module and its
    # doctest module collectors): one file, one result, one id
    _write(tmp_path, "test_broken.py", "import no_such_module\n")
    run = PytestAdapter().run(".", options=RunOptions(cwd=tmp_path, runner_args=(*args, *NO_RANDOM)))
    assert [(r.name, r.raw_status) for r in run.tests] == [("test_broken.py", "error")]
    assert len({r.test_id for r in run.tests}) == 1
    assert exit_code(run) is ExitCode.TESTS_FAILED


# -- stopping -------------------------------------------------------------------------------------

STOPPABLE = """
import os
import threading

import pytest

@pytest.fixture(scope="session")
def database(request):
    yield
    (request.config.rootpath / "session-teardown-ran").touch()

def test_ok(database):
    pass

def test_waits(database, request):
    (request.config.rootpath / "pytest.pid").write_text(str(os.getpid()))
    threading.Event().wait()  # until the run is stopped
"""


@pytest.mark.timing
async def test_a_cancelled_run_stops_pytest_in_order(tmp_path: Path) -> None:
    _write(tmp_path, "test_stop.py", STOPPABLE)
    pid_file = tmp_path / "pytest.pid"
    options = RunOptions(cwd=tmp_path, jsonl=tmp_path / "r.jsonl", runner_args=NO_RANDOM)
    task = asyncio.ensure_future(PytestAdapter().arun("test_stop.py", options=options))
    await async_wait_until(lambda: task.done() or (pid_file.exists() and pid_file.read_text()), what="test_waits")
    assert not task.done(), task.result()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (tmp_path / "session-teardown-ran").exists()  # pytest got SIGINT, not SIGKILL
    pid = int(pid_file.read_text())
    await async_wait_until(lambda: not Path(f"/proc/{pid}").exists(), what=f"pytest (pid {pid}) to be gone")
    run = read_jsonl(tmp_path / "r.jsonl")
    assert run.stop is not None
    assert {r.name: (r.status, r.raw_status) for r in run.tests} == {
        "test_ok": (Status.PASSED, "passed"),
        "test_waits": (Status.FAILED, "interrupted"),
    }


# -- what pytest said, not only where -------------------------------------------------------------

SAYS_WHAT = '''
def test_missing_fixture(nope):
    pass

def add(a, b):
    """
    >>> add(1, 1)
    3
    """
    return a + b

def boom():
    """
    >>> boom()
    2
    """
    raise ValueError("kaput")
'''


def test_missing_fixtures_and_doctest_failures_say_what_went_wrong(tmp_path: Path) -> None:
    # pytest's longrepr for these has no crash line: the message was only a location (test_x.py:4)
    _write(tmp_path, "test_says.py", SAYS_WHAT)
    options = RunOptions(cwd=tmp_path, runner_args=(*NO_RANDOM, "--doctest-modules"))
    results = _by_name(PytestAdapter().run("test_says.py", options=options))
    assert results["test_missing_fixture"].raw_status == "error"
    assert results["test_missing_fixture"].message == "fixture 'nope' not found"
    assert results["test_says.add"].message == ">>> add(1, 1)\nExpected:\n    3\nGot:\n    2"
    assert results["test_says.boom"].message == ">>> boom()\nUNEXPECTED EXCEPTION: ValueError('kaput')"


def test_record_property_values_are_kept(tmp_path: Path) -> None:
    # pytest's junitxml and reportlog keep them; a CI dashboard reads them (ticket ids, sizes...)
    _write(
        tmp_path,
        "test_props.py",
        """
        def test_props(record_property):
            record_property("ticket", "QA-12")
            record_property("rows", 3)
            record_property("ticket", "QA-13")
            record_property("shape", (1, 2))
        """,
    )
    jsonl = tmp_path / "r.jsonl"
    run = PytestAdapter().run("test_props.py", options=RunOptions(cwd=tmp_path, jsonl=jsonl, runner_args=NO_RANDOM))
    expected = [["ticket", "QA-12"], ["rows", 3], ["ticket", "QA-13"], ["shape", "(1, 2)"]]
    assert run.tests[0].extra["properties"] == expected
    assert read_jsonl(jsonl).tests[0].extra["properties"] == expected


WARNS = """
import warnings

import pytest

@pytest.fixture
def noisy():
    warnings.warn("setup says", UserWarning)
    yield
    warnings.warn("teardown says", RuntimeWarning)

def test_warns_in_every_phase(noisy):
    warnings.warn("call says", DeprecationWarning)

@pytest.mark.filterwarnings("ignore::UserWarning")
def test_warning_filtered_out():
    warnings.warn("not kept", UserWarning)

def test_quiet():
    pass

@pytest.mark.parametrize("n", [1, 2])
def test_many(n):
    for i in range(150):
        warnings.warn_explicit(f"number {i}", UserWarning, "many.py", i)
"""


PYTESTS_OWN_WARNINGS = """
import json

WHERE = {}

def pytest_configure(config):
    WHERE["controller"] = not hasattr(config, "workerinput")

def pytest_warning_recorded(warning_message, when, nodeid, location):
    # what pytest itself hands on, per test (on the xdist controller, the workers' too)
    if when == "runtest" and nodeid and WHERE["controller"]:
        record = [nodeid, warning_message.category.__name__, str(warning_message.message)]
        with open("pytest-warnings.jsonl", "a") as stream:
            stream.write(json.dumps(record) + "\\n")
"""


def _warnings_of(result: TestResult) -> list[dict[str, str]]:
    return cast("list[dict[str, str]]", result.extra.get("warnings", []))


@pytest.mark.parametrize("args", [(), ("-n", "2")])
def test_warnings_are_kept_per_test_as_pytest_hands_them_on(tmp_path: Path, args: tuple[str, ...]) -> None:
    # pytest hands warnings on after the test's last report: they must still be on its line, and
    # pytest's own recording (its summary, pytest_warning_recorded) must still get every one
    _write(tmp_path, "test_warns.py", WARNS)
    _write(tmp_path, "conftest.py", PYTESTS_OWN_WARNINGS)
    jsonl = tmp_path / "r.jsonl"
    options = RunOptions(cwd=tmp_path, jsonl=jsonl, runner_args=(*NO_RANDOM, *args))
    run = PytestAdapter().run("test_warns.py", options=options)
    assert run_error(run) is None
    theirs: dict[str, list[tuple[str, str]]] = {}
    for line in (tmp_path / "pytest-warnings.jsonl").read_text().splitlines():
        nodeid, category, message = json.loads(line)
        theirs.setdefault(nodeid, []).append((category, message))
    ours = {
        str(r.extra["nodeid"]): [(w["category"], w["message"]) for w in _warnings_of(r)]
        for r in read_jsonl(jsonl).tests
    }
    phases = [(w["when"], w["category"]) for w in _warnings_of(_by_name(run)["test_warns_in_every_phase"])]
    assert phases == [("setup", "UserWarning"), ("call", "DeprecationWarning"), ("teardown", "RuntimeWarning")]
    assert ours["test_warns.py::test_warns_in_every_phase"] == theirs["test_warns.py::test_warns_in_every_phase"]
    assert ours["test_warns.py::test_warning_filtered_out"] == []
    assert "test_warns.py::test_warning_filtered_out" not in theirs
    assert ours["test_warns.py::test_quiet"] == []
    for n in (1, 2):  # the first 100 kept; pytest's own recording still has all 150
        nodeid = f"test_warns.py::test_many[{n}]"
        assert ours[nodeid] == theirs[nodeid][:100]
        assert len(theirs[nodeid]) == 150


def test_a_test_in_flight_is_named_as_pytest_names_it(tmp_path: Path) -> None:
    # one node id parser for the reporter and the in-flight results: "::" in a parameter id is
    # not a separator (it gave the name "b]" and the class "test_dies[a")
    _write(
        tmp_path,
        "test_dies.py",
        """
        import os
        import signal

        import pytest

        class TestGroup:
            @pytest.mark.parametrize("x", [1], ids=["a::b"])
            def test_dies(self, x):
                os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    run = PytestAdapter().run("test_dies.py", options=RunOptions(cwd=tmp_path, runner_args=NO_RANDOM))
    (result,) = run.tests
    assert (result.name, result.suite, result.classname, result.raw_status) == (
        "test_dies[a::b]",
        ("test_dies.py", "TestGroup"),
        "TestGroup",
        "crashed",
    )
    assert "(in flight: test_dies.py::TestGroup::test_dies[a::b])" in (run_error(run) or "")


def test_the_adapter_reads_each_result_line_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the results are parsed as pytest writes them; finishing the run does not read the report again
    from maestro_test_result_aggregator import formats

    def refuse(*args: object, **kwargs: object) -> NoReturn:
        raise AssertionError("the whole report was read again")

    monkeypatch.setattr(formats, "read_jsonl", refuse)
    _write(tmp_path, "test_two.py", "def test_a(): pass\ndef test_b(): assert 0\n")
    run = PytestAdapter().run("test_two.py", options=RunOptions(cwd=tmp_path, runner_args=NO_RANDOM))
    assert [(r.name, r.status) for r in run.tests] == [("test_a", Status.PASSED), ("test_b", Status.FAILED)]
    assert run.stop is not None


def test_a_jsonl_left_by_an_earlier_run_is_written_anew(tmp_path: Path) -> None:
    # the report is followed as pytest writes it: an earlier run's longer file at the same path
    # must not be taken for the start of this one (found running a real suite twice)
    jsonl = tmp_path / "r.jsonl"
    _write(tmp_path, "test_many.py", "import pytest\n@pytest.mark.parametrize('n', range(40))\ndef test_n(n): pass\n")
    _write(tmp_path, "test_one.py", "def test_one(): pass\n")
    first = PytestAdapter().run("test_many.py", options=RunOptions(cwd=tmp_path, jsonl=jsonl, runner_args=NO_RANDOM))
    assert len(first.tests) == 40
    again = PytestAdapter().run("test_one.py", options=RunOptions(cwd=tmp_path, jsonl=jsonl, runner_args=NO_RANDOM))
    assert run_error(again) is None
    assert [r.name for r in again.tests] == ["test_one"]
    assert [r.name for r in read_jsonl(jsonl).tests] == ["test_one"]
