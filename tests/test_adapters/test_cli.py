"""The ``maestro-test`` command, run as a real console script.

Runs of several tests pass ``-p no:randomly`` after ``--`` (pytest-randomly is installed in the dev
environment and would shuffle the inner suites).
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from maestro_test_result_aggregator.formats import read_jsonl, read_junit, validate_ctrf
from tests.waiting import wait_until

CLI = [sys.executable, "-m", "maestro_test_adapters"]
NO_RANDOM = ("-p", "no:randomly")


def _cli(
    *args: str, cwd: Path, timeout: float = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **(env or {})}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False, env=environment
    )


def test_list_adapters_shows_availability() -> None:
    result = _cli("list-adapters", cwd=Path.cwd())
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert {"frontend", "playwright", "production", "pytest", "selenium"} <= set(rows)
    assert "available" in rows["pytest"]


def test_list_adapters_exits_2_when_an_adapter_it_checks_cannot_run() -> None:
    no_chromium = {"MAESTRO_CHROMIUM": "/no/such/chromium"}
    result = _cli("list-adapters", cwd=Path.cwd(), env=no_chromium)
    assert result.returncode == 2
    assert "playwright   unavailable  no Chromium at /no/such/chromium" in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("maestro-test: error: cannot run here: ")
    assert "playwright" in result.stderr
    assert _cli("list-adapters", "pytest", "production", cwd=Path.cwd(), env=no_chromium).returncode == 0
    unknown = _cli("list-adapters", "cypress", cwd=Path.cwd())
    assert unknown.returncode == 2
    assert "no test adapter named 'cypress'" in unknown.stderr


@pytest.mark.parametrize("adapter", ["pytest", "production"])
def test_a_jsonl_that_cannot_be_written_is_one_line_and_exit_2(tmp_path: Path, adapter: str) -> None:
    (tmp_path / "test_a.py").write_text("def test_ok(): pass\n")
    (tmp_path / "checks.toml").write_text("[[checks]]\nname = 'x'\nurl = 'http://127.0.0.1:9/'\n")
    (tmp_path / "a-file").write_text("")
    target = "test_a.py" if adapter == "pytest" else "checks.toml"
    result = _cli("run", "-a", adapter, target, "--jsonl", "a-file/r.jsonl", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("maestro-test: error: cannot write a-file/r.jsonl: ")


def test_a_usage_error_quotes_the_runners_error_line(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("def test_ok(): pass\n")
    result = _cli("run", "-a", "pytest", "test_a.py", "--jsonl", "out/r.jsonl", "--", "--no-such-option", cwd=tmp_path)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert "error: unrecognized arguments: --no-such-option" in line
    assert line.endswith("(full pytest log: out/r.pytest.log)")  # the whole log, next to the results
    assert "usage:" in (tmp_path / "out" / "r.pytest.log").read_text()


def test_run_writes_ctrf_junit_and_jsonl_and_exits_1_on_failures(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text(
        "import pytest\n"
        "def test_ok(): print('hi')\n"
        "def test_bad(): assert 1 == 2\n"
        "@pytest.mark.flaky(reruns=1)\n"
        "def test_flaky(request):\n"
        "    m = request.config.rootpath / 'seen'\n"
        "    first = not m.exists(); m.touch()\n"
        "    assert not first\n"
    )
    result = _cli(
        "run", "--adapter", "pytest", "test_a.py",
        "--ctrf", "out/ctrf.json", "--junit", "out/junit.xml", "--jsonl", "out/r.jsonl",
        "--junit-profile", "surefire", "--progress",
        "--", "-p", "no:cacheprovider", *NO_RANDOM,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED test_a.py::test_bad" in result.stdout
    assert "3 tests, 2 passed, 1 failed, 1 flaky" in result.stdout
    document = json.loads((tmp_path / "out/ctrf.json").read_text())
    validate_ctrf(document)
    tests = {t["name"]: t for t in document["results"]["tests"]}
    assert tests["test_bad"]["status"] == "failed"
    assert tests["test_flaky"]["flaky"] is True
    junit = read_junit(tmp_path / "out/junit.xml")
    assert sorted((t.name, t.status.value) for t in junit.tests) == [
        ("test_bad", "failed"),
        ("test_flaky", "passed"),
        ("test_ok", "passed"),
    ]
    assert len(read_jsonl(tmp_path / "out/r.jsonl").tests) == 3
    assert "flakyFailure" in (tmp_path / "out/junit.xml").read_text()


@pytest.mark.slow
def test_fail_on_flaky_turns_a_flaky_pass_into_exit_1(tmp_path: Path) -> None:
    (tmp_path / "test_f.py").write_text(
        "import pytest\n"
        "@pytest.mark.flaky(reruns=1)\n"
        "def test_flaky(request):\n"
        "    m = request.config.rootpath / 'seen'\n"
        "    first = not m.exists(); m.touch()\n"
        "    assert not first\n"
    )
    assert _cli("run", "-a", "pytest", "test_f.py", cwd=tmp_path).returncode == 0
    (tmp_path / "seen").unlink()
    assert _cli("run", "-a", "pytest", "test_f.py", "--fail-on-flaky", cwd=tmp_path).returncode == 1


def test_a_coverage_gate_not_met_is_never_exit_0(tmp_path: Path) -> None:
    # pytest-cov: every test passes, pytest exits 1 because --cov-fail-under is not met
    (tmp_path / "half.py").write_text("def used():\n    return 1\n\ndef never_called():\n    return 2\n")
    (tmp_path / "test_half.py").write_text("import half\ndef test_used(): assert half.used() == 1\n")
    result = _cli(
        "run", "-a", "pytest", "test_half.py", "--", *NO_RANDOM, "--cov=half", "--cov-fail-under=100", cwd=tmp_path
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("maestro-test: error: pytest exit status 1 although no test failed: ")
    # pytest-cov >= 6 and older word it differently; either way the runner's own reason is quoted
    assert ("Coverage failure: total of 75 is less than fail-under=100" in line) or (
        "Required test coverage of 100% not reached" in line
    )


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("run", "-a", "pytest", "missing_dir"), "pytest target not found: missing_dir"),
        (("run", "-a", "cypress", "x"), "no test adapter named 'cypress'; available adapters:"),
        (("run", "-a", "production", "nope.toml"), "not found: nope.toml"),
        (("run", "-a", "playwright", "."), "adapter 'playwright' is unavailable: no Chromium at /no/such/chromium"),
        (("run", "-a", "frontend", "."), "frontend project (a folder with package.json) not found"),
        (("run", "-a", "production", "-O", "workers=3", "c.toml"), "workers: is not a setting of the 'production'"),
        (("run", "-a", "production", "-O", "concurrency=0", "c.toml"), "concurrency: must be an int from 1 to 64"),
        (("run", "-a", "pytest", "-O", "in_process", "."), "--adapter-option wants KEY=VALUE"),
        (("run", "-a", "selenium", "--allow-host", "http://db", "."), "allow_hosts: 'http://db' is a URL"),
        (("run", "-a", "pytest", "--allow-host", "db", "."), "allow_hosts: is not a setting of the 'pytest'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...], reason: str) -> None:
    result = _cli(*args, cwd=tmp_path, env={"MAESTRO_CHROMIUM": "/no/such/chromium"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("maestro-test: error: ")
    assert reason in lines[0]


@pytest.mark.timing
def test_a_hang_is_killed_by_timeout_with_one_line_and_the_reports_still_written(tmp_path: Path) -> None:
    # pytest hangs while it loads conftest.py, before any test: the outcome is the same whether
    # the timeout passes during start-up or during the hang, so the machine's speed cannot change
    # it. The adapter tests cover the test in flight and the finished results (tests reach their
    # deadline on an event there: test_pytest_adapter.py).
    (tmp_path / "conftest.py").write_text("import threading\nthreading.Event().wait()\n")
    (tmp_path / "test_h.py").write_text("def test_ok(): pass\n")
    result = _cli(
        "run", "-a", "pytest", "test_h.py", "--timeout", "1", "--jsonl", "r.jsonl", "--ctrf", "c.json", cwd=tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "maestro-test: error: timed out after 1 s: killed the runner's process group"
    ]
    assert read_jsonl(tmp_path / "r.jsonl").tests == []
    validate_ctrf(json.loads((tmp_path / "c.json").read_text()))


@pytest.mark.timing
def test_a_crash_is_exit_2_with_one_line_and_finished_results_are_still_written(tmp_path: Path) -> None:
    (tmp_path / "test_c.py").write_text(
        "import os, signal\ndef test_ok(): pass\ndef test_dies(): os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = _cli(
        "run", "-a", "pytest", "test_c.py", "--jsonl", "r.jsonl", "--ctrf", "c.json", "--", *NO_RANDOM, cwd=tmp_path
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("maestro-test: error: pytest killed by SIGKILL")
    assert "(in flight: test_c.py::test_dies)" in line
    assert {t.name: t.raw_status for t in read_jsonl(tmp_path / "r.jsonl").tests} == {
        "test_ok": "passed",
        "test_dies": "crashed",
    }
    validate_ctrf(json.loads((tmp_path / "c.json").read_text()))


def test_a_malformed_check_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "checks.toml").write_text("[[checks]]\nname = 'x'\nurl = 'http://127.0.0.1:9/'\nlatency = 1\n")
    result = _cli("run", "-a", "production", "checks.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "checks.toml: check 'x': latency: unknown field" in result.stderr


def test_adapter_options_reach_the_adapter(tmp_path: Path) -> None:
    # the test records its parent: the CLI's own process only when pytest runs in it
    (tmp_path / "test_f.py").write_text("import os\ndef test_ok(): open('parent', 'w').write(str(os.getppid()))\n")
    assert _cli("run", "-a", "pytest", "-O", "in_process=true", "test_f.py", cwd=tmp_path).returncode == 0
    assert int((tmp_path / "parent").read_text()) == os.getpid()
    assert _cli("run", "-a", "pytest", "-O", "in_process=false", "test_f.py", cwd=tmp_path).returncode == 0
    assert int((tmp_path / "parent").read_text()) != os.getpid()


def test_no_tests_is_exit_5(tmp_path: Path) -> None:
    (tmp_path / "test_e.py").write_text("x = 1\n")
    assert _cli("run", "-a", "pytest", "test_e.py", cwd=tmp_path).returncode == 5


STOPPABLE = """
import os
import threading

import pytest

@pytest.fixture(scope="session")
def database(request):
    yield
    (request.config.rootpath / "session-teardown-ran").touch()  # a database dropped, a container stopped

def test_ok(database):
    pass

def test_waits(database, request):
    (request.config.rootpath / "pytest.pid").write_text(str(os.getpid()))
    threading.Event().wait()  # until the run is stopped
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def _dead(pid: int) -> bool:
    return not _alive(pid)


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.timing
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_maestro_test_stops_pytest_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    # CI cancelling a job (SIGTERM), Ctrl-C (SIGINT): pytest is interrupted as by Ctrl-C, so its
    # session teardown runs; nothing outlives maestro-test, the JSONL is complete, no temp folder is left
    (tmp_path / "test_stop.py").write_text(STOPPABLE)
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        [*CLI, "run", "-a", "pytest", "test_stop.py", "--jsonl", "r.jsonl", "--", *NO_RANDOM],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: Ctrl-C's SIGINT at its default even when this suite runs as a
        # background job (CI's `make test-latest &` starts it with SIGINT ignored)
        preexec_fn=_sigint_default,  # noqa: PLW1509 - one signal call before exec
    )
    try:
        pid_file = tmp_path / "pytest.pid"
        wait_until(lambda: pid_file.exists() and pid_file.read_text(), what="test_waits to start")
        pid = int(pid_file.read_text())
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 2
    assert stderr.strip().splitlines()[-1].startswith("maestro-test: error: ")
    assert (tmp_path / "session-teardown-ran").exists()
    wait_until(lambda: not _alive(pid), what=f"pytest (pid {pid}) to be gone")
    run = read_jsonl(tmp_path / "r.jsonl")
    assert run.stop is not None  # the end line
    assert {r.name: r.status.value for r in run.tests} == {"test_ok": "passed", "test_waits": "failed"}
    assert list(temp.iterdir()) == []


SPAWNS = """
import os
import subprocess
import sys
import threading

def test_waits_on_its_own_child(request):
    # a test (or a fixture) that started a process of its own: a server, a worker, a browser
    child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
    pids = f"{os.getpid()} {child.pid}"
    (request.config.rootpath / "pids.tmp").write_text(pids)
    os.replace(request.config.rootpath / "pids.tmp", request.config.rootpath / "pids")
    threading.Event().wait()  # until the run is stopped
"""


@pytest.mark.timing
@pytest.mark.parametrize("killed", ["maestro-test", "its process group"])
def test_nothing_the_runner_started_outlives_a_killed_maestro_test(tmp_path: Path, killed: str) -> None:
    # SIGKILL leaves maestro-test no chance to stop anything: neither pytest nor what its tests
    # started may run on without it, whether maestro-test alone is killed or its whole process
    # group (a CI runner cancelling a job)
    (tmp_path / "test_spawns.py").write_text(SPAWNS)
    temp = tmp_path / "tmp"  # the killed maestro-test cannot remove its temporary folder: keep it here
    temp.mkdir()
    process = subprocess.Popen(
        [*CLI, "run", "-a", "pytest", "test_spawns.py", "--", *NO_RANDOM],
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group, so that killing the group spares this test
    )
    pids: list[int] = []
    try:
        pid_file = tmp_path / "pids"
        wait_until(pid_file.exists, what="the test to start its child")
        pids = [int(pid) for pid in pid_file.read_text().split()]
        if killed == "maestro-test":
            process.kill()
        else:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for pid in pids:
            wait_until(functools.partial(_dead, pid), what=f"pid {pid} to die with maestro-test")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)  # never leave it running, whatever happened


def test_allowed_hosts_reach_the_browser_fixtures_and_the_reports_environment(tmp_path: Path) -> None:
    (tmp_path / "test_hosts.py").write_text(
        "def test_hosts(pytestconfig):\n"
        "    assert pytestconfig.getoption('maestro_allow_hosts') == ['app.test=127.0.0.1', '10.0.0.0/8']\n"
    )
    jsonl = tmp_path / "r.jsonl"
    args = ("--allow-host", "app.test=127.0.0.1", "--allow-host", "10.0.0.0/8", "--jsonl", str(jsonl))
    result = _cli("run", "-a", "playwright", *args, "test_hosts.py", "--", *NO_RANDOM, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    run = read_jsonl(jsonl)
    assert run.environment.extra["browser.allowed_hosts"] == "app.test=127.0.0.1, 10.0.0.0/8"


def test_chromium_args_prints_the_fixtures_flags_as_json(tmp_path: Path) -> None:
    from maestro_test_adapters import chromium_args

    result = _cli("chromium-args", "--allow-host", "db", cwd=tmp_path, env={"MAESTRO_ALLOW_HOSTS": "web=127.0.0.1"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == chromium_args(headless_flag=False, allow_hosts=["web=127.0.0.1", "db"])
    refused = _cli("chromium-args", "--allow-host", "http://db", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.startswith("maestro-test: error: allow_hosts: 'http://db' is a URL")


def test_output_is_not_wrapped_at_80_columns_when_not_on_a_terminal(tmp_path: Path) -> None:
    reason = "a long reason " + "x" * 150
    (tmp_path / "test_long.py").write_text(
        f"import pytest\ndef test_long_name_{'y' * 60}():\n    pytest.fail({reason!r})\n"
    )
    result = _cli("run", "-a", "pytest", "test_long.py", "--", *NO_RANDOM, cwd=tmp_path, env={"COLUMNS": ""})
    assert result.returncode == 1, result.stderr
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED ")]
    assert len(failed) == 1, result.stdout
    assert failed[0].endswith(reason), result.stdout
