"""The ``pytest`` adapter: pytest in a subprocess (or in this process) with our reporting plugin."""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maestro_test_adapters._adapter import Availability, Target
from maestro_test_adapters._constants import TIMEOUT_MARK
from maestro_test_adapters._nodeid import split_nodeid
from maestro_test_adapters._options import RunOptions, checked_clock
from maestro_test_adapters._outputs import set_run_error, write_reports
from maestro_test_adapters._process import ProcessOutcome, RunnerCall, describe_returncode
from maestro_test_adapters._runlog import keep_log, read_log, reason_lines, unexplained_exit
from maestro_test_adapters._tail import LineTail, ReportTail, complete_report, read_inflight
from maestro_test_adapters.errors import InvalidOptionError, ReportWriteError, TargetNotFoundError
from maestro_test_result_aggregator.model import Environment, Status, TestResult, TestRun, Tool

__all__ = ["PytestAdapter"]

PLUGIN = "maestro_test_adapters.pytest_plugin"
_PYTEST_ERRORS = {2: "pytest was interrupted", 3: "pytest hit an internal error", 4: "pytest usage error"}
_EXIT_HINTS = {7: "pytest-rerunfailures --fail-on-flaky (a test passed only on a rerun)"}


@dataclass(slots=True)
class _Plan:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    report: Path
    inflight: Path
    log: Path
    workdir: Path
    keep_report: bool


class _Watcher:
    """Tails the report (every result is parsed once, as it is written) and the in-flight file,
    feeding ``on_result``/``on_test_start``."""

    def __init__(self, plan: _Plan, options: RunOptions) -> None:
        self._options = options
        self.report = ReportTail(plan.report)
        self._inflight = LineTail(plan.inflight) if options.on_test_start else None

    def poll(self) -> None:
        if self._inflight is not None and self._options.on_test_start is not None:
            for line in self._inflight.read():
                if line.startswith("+"):
                    self._options.on_test_start(line[1:])
        new = self.report.read()
        if self._options.on_result is not None:
            for result in new:
                self._options.on_result(result)


def _abandon(plan: _Plan, watcher: _Watcher) -> None:
    """After an interrupted run (the runner was stopped, see ``run_process``): give the report its
    end line if the runner could not write it, and remove the temporary folder."""
    try:
        watcher.poll()
        run = watcher.report.run()
        if run is not None and run.stop is None:
            run.stop = time.time()
            complete_report(plan.report, run)
    except Exception:  # noqa: S110 - nothing more can be saved of a damaged report
        pass
    shutil.rmtree(plan.workdir, ignore_errors=True)


class _Alarm:
    """A timeout for an in-process run: ``SIGALRM`` raises ``KeyboardInterrupt`` in the test that
    is running, which pytest turns into an orderly stop (teardowns run, the report is closed).
    Whatever used ``SIGALRM`` before (pytest-timeout in an enclosing session) gets its handler
    and the rest of its timer back."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.rang = False
        self._previous: Any = None
        self._outer: tuple[float, float] = (0.0, 0.0)
        self._entered = 0.0

    def _ring(self, signum: int, frame: object) -> None:
        self.rang = True
        raise KeyboardInterrupt(f"{TIMEOUT_MARK} after {self.timeout:g} s")

    def __enter__(self) -> _Alarm:
        if self.timeout is not None:
            self._previous = signal.signal(signal.SIGALRM, self._ring)
            self._entered = time.monotonic()
            self._outer = signal.setitimer(signal.ITIMER_REAL, self.timeout)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.timeout is None:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if self._previous is None else self._previous)
        delay, interval = self._outer
        if delay > 0:  # an enclosing timer: what is left of it (at least a moment, so it still fires)
            left = max(delay - (time.monotonic() - self._entered), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, interval)


class PytestAdapter:
    """Runs a pytest suite and returns one ``TestResult`` per test, reruns kept as attempts.

    Args:
        python: the interpreter that runs pytest (default: this one); it needs pytest and this
            package installed.
        in_process: run ``pytest.main`` in this process instead of a subprocess (faster start,
            no crash isolation; the imported test modules stay in ``sys.modules``). A timeout
            then interrupts the run with ``SIGALRM`` (main thread only): a hang inside C code
            that ignores signals cannot be interrupted, use the subprocess mode for those.
        plugins: extra ``-p`` plugins to load.
        clock: the monotonic clock the subprocess's global timeout is measured on (default
            ``time.monotonic``); tests pass one they control to reach the deadline on an event.

    Examples:
        >>> adapter = PytestAdapter()
        >>> adapter.name, bool(adapter.available())
        ('pytest', True)

        Run a suite with a global timeout and turn the run into CI's exit code:

        ```python
        run = PytestAdapter().run("tests", options=RunOptions(timeout=900, junit="junit.xml"))
        raise SystemExit(exit_code(run))
        ```
    """

    tool_name = "pytest"

    def __init__(
        self,
        *,
        python: str | None = None,
        in_process: bool = False,
        plugins: Sequence[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if python is not None and not isinstance(python, str):
            raise InvalidOptionError("python", f"must be the path of a Python interpreter, got {python!r}")
        if isinstance(plugins, str):
            raise InvalidOptionError("plugins", "must be a sequence of plugin names, not a string")
        self.python = python or sys.executable
        self.in_process = bool(in_process)
        self.plugins = tuple(plugins)
        self.clock = checked_clock(clock)
        self._foreign: Availability | None = None

    @property
    def name(self) -> str:
        """``pytest``."""
        return "pytest"

    def available(self) -> Availability:
        """Ok when the interpreter exists and can import pytest and this package's plugin (another
        interpreter is asked once, in a subprocess)."""
        if shutil.which(self.python) is None and not Path(self.python).is_file():
            return Availability(False, f"Python interpreter not found: {self.python}")
        if self.python == sys.executable:
            if importlib.util.find_spec("pytest") is None:
                return Availability(False, "pytest is not installed: pip install pytest")
            return Availability(True)
        if self._foreign is None:
            try:
                probe = subprocess.run(
                    [self.python, "-c", f"import pytest, {PLUGIN}"],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
            except (OSError, subprocess.TimeoutExpired) as error:
                self._foreign = Availability(False, f"{self.python} cannot be run: {error}")
            else:
                lines = [line for line in probe.stderr.splitlines() if line.strip()]
                self._foreign = (
                    Availability(True)
                    if probe.returncode == 0
                    else Availability(
                        False,
                        f"{self.python} cannot import pytest and {PLUGIN} ({lines[-1] if lines else 'error'}): "
                        "pip install maestro-test-adapters into that environment",
                    )
                )
        return self._foreign

    # -- planning (no I/O beyond checking the target) -------------------------------------------
    def _extra_args(self, options: RunOptions) -> list[str]:
        """Arguments subclasses add before the user's runner arguments."""
        return []

    def _plan(self, target: Target, options: RunOptions) -> _Plan:
        cwd = (options.cwd or Path.cwd()).resolve()
        text = os.fspath(target)
        path_part = text.split("::", 1)[0]
        if not path_part or not (cwd / path_part).exists():
            raise TargetNotFoundError(text, "pytest target")
        if options.jsonl is not None:  # refused before anything runs, as a typed error (exit 2)
            try:
                options.jsonl.resolve().parent.mkdir(parents=True, exist_ok=True)
                existed = options.jsonl.exists()
                # emptied now, not when pytest starts: the report is followed from its first byte,
                # never from the end of an earlier run's
                with open(options.jsonl, "w", encoding="utf-8"):
                    pass
                if not existed:  # only a check: the plugin creates it
                    options.jsonl.unlink()
            except OSError as error:
                raise ReportWriteError(f"cannot write {options.jsonl}: {error}") from error
        workdir = Path(tempfile.mkdtemp(prefix="maestro-pytest-"))
        report = options.jsonl.resolve() if options.jsonl is not None else workdir / "results.jsonl"
        inflight = workdir / "inflight.txt"
        argv = [self.python, "-m", "pytest", "-p", PLUGIN]
        for plugin in self.plugins:
            argv += ["-p", plugin]
        argv += [
            f"--maestro-report={report}",
            f"--maestro-inflight={inflight}",
            f"--maestro-output-limit={options.output_limit}",
            *self._extra_args(options),
            *options.runner_args,
            text,
        ]
        env = {**os.environ, **options.env}
        recorded = options.environment  # the plugin records it in the JSONL header
        for name, value in (
            ("MAESTRO_COMMIT", recorded.commit),
            ("MAESTRO_BRANCH", recorded.branch),
            ("MAESTRO_BUILD_URL", recorded.build_url),
            ("MAESTRO_SHARD", recorded.shard),
        ):
            if value is not None:
                env[name] = value
        return _Plan(argv, cwd, env, report, inflight, workdir / "pytest.log", workdir, options.jsonl is not None)

    # -- finishing ------------------------------------------------------------------------------
    def _finish(self, plan: _Plan, outcome: ProcessOutcome, options: RunOptions, watcher: _Watcher) -> TestRun:  # noqa: PLR0912, PLR0915
        watcher.poll()  # the last lines
        tail = watcher.report
        unreadable_because = tail.problem
        try:
            run = tail.run() if unreadable_because is None else None
        except Exception as failure:  # a header the aggregator refuses
            run = None
            unreadable_because = str(failure) or type(failure).__name__
        if run is None and unreadable_because is None and plan.report.exists():
            unreadable_because = "no run header (cut by a crash?)"
        if run is None:
            run = TestRun(tool=Tool(self.tool_name), start=time.time() - outcome.duration)
        if run.tool.name != self.tool_name:
            run.tool = Tool(self.tool_name, run.tool.version)
        if run.environment == Environment():
            run.environment = options.environment
        inflight = read_inflight(plan.inflight)
        died = outcome.timed_out or outcome.returncode < 0
        error: str | None = None
        if outcome.timed_out:
            how = "interrupted the in-process run" if self.in_process else "killed the runner's process group"
            error = f"timed out after {options.timeout:g} s: {how}"
        elif outcome.returncode < 0:
            error = f"pytest {describe_returncode(outcome.returncode)}"
        elif outcome.returncode in _PYTEST_ERRORS:
            collection_errors = any(r.extra.get("collection_error") for r in run.tests)
            if not (outcome.returncode == 2 and collection_errors):
                said = reason_lines(read_log(plan.log) or outcome.output_tail)  # pytest's "error:" line first
                last = [line for line in outcome.output_tail.splitlines() if line.strip()]
                detail = (
                    " | ".join(said) if said else last[-1].strip() if last else describe_returncode(outcome.returncode)
                )
                error = f"{_PYTEST_ERRORS[outcome.returncode]}: {detail}"
        elif not plan.report.exists():
            last = [line.strip() for line in outcome.output_tail.splitlines() if line.strip()]
            detail = f": {last[-1]}" if last else ""
            error = f"pytest ({describe_returncode(outcome.returncode)}) wrote no report{detail}"
        elif unreadable_because is not None:
            error = f"cannot read pytest's report ({describe_returncode(outcome.returncode)}): {unreadable_because}"
        elif run.stop is None:  # no end line: pytest left before its session finished (os._exit...)
            error = f"pytest exited ({describe_returncode(outcome.returncode)}) before finishing its report"
        else:  # a failing exit no result explains: a coverage gate, --fail-on-flaky...
            error = unexplained_exit("pytest", outcome.returncode, run.tests, read_log(plan.log), hints=_EXIT_HINTS)
        lost: list[TestResult] = []
        if inflight and (died or error is not None):
            raw = "timedOut" if outcome.timed_out else "crashed"
            for nodeid in inflight:
                parts = split_nodeid(nodeid)
                message = f"{error} while this test was running"
                lost.append(
                    TestResult(
                        name=parts.name,
                        status=Status.FAILED,
                        suite=parts.suite,
                        file=parts.path,
                        classname=parts.classname,
                        raw_status=raw,
                        message=message,
                        extra={"nodeid": nodeid},
                    )
                )
            if error is not None:
                error += f" (in flight: {', '.join(inflight)})"
        elif error is not None and outcome.timed_out:  # in-process: the reporter reported them itself
            cut = [str(r.extra.get("nodeid", r.name)) for r in run.tests if r.raw_status == "timedOut"]
            if cut:
                error += f" (in flight: {', '.join(cut)})"
        run.tests.extend(lost)
        if run.stop is None:
            run.stop = time.time()
            if options.jsonl is not None:  # the user's JSONL gets the lost tests and its end line
                complete_report(plan.report, run)
        if options.on_result is not None:
            for result in lost:
                options.on_result(result)
        if error is not None:
            kept = keep_log(plan.log, "pytest", (options.jsonl, options.ctrf, options.junit))
            set_run_error(run, f"{error} (full pytest log: {kept})" if kept is not None else error)
        shutil.rmtree(plan.workdir, ignore_errors=True)
        write_reports(run, options)
        return run

    # -- running --------------------------------------------------------------------------------
    def _run_in_process(self, plan: _Plan, options: RunOptions) -> TestRun:
        import pytest

        started = time.monotonic()
        old_cwd = Path.cwd()
        os.chdir(plan.cwd)
        try:
            with _Alarm(options.timeout) as alarm:
                code = pytest.main(plan.argv[3:])
        finally:
            os.chdir(old_cwd)
        watcher = _Watcher(plan, options)
        watcher.poll()  # tells on_result of every result, once
        outcome = ProcessOutcome(int(code), alarm.rang, time.monotonic() - started, "")
        return self._finish(plan, outcome, dataclasses.replace(options, on_result=None), watcher)

    def run(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """Run pytest on ``target`` (a path or node id, relative to ``options.cwd``)."""
        options = options or RunOptions()
        if (
            self.in_process
            and options.timeout is not None
            and threading.current_thread() is not threading.main_thread()
        ):
            raise InvalidOptionError(
                "timeout", "with in_process=True works only in the main thread (signals); use a subprocess"
            )
        plan = self._plan(target, options)
        if self.in_process:
            return self._run_in_process(plan, options)
        watcher = _Watcher(plan, options)
        call = RunnerCall(plan, options.timeout, watcher.poll, self.clock, options.stop_grace)
        try:
            outcome = call.run()
        except BaseException:
            _abandon(plan, watcher)
            raise
        return self._finish(plan, outcome, options, watcher)

    async def arun(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """The asyncio twin of ``run`` (in-process mode runs synchronously, blocking the loop)."""
        options = options or RunOptions()
        if self.in_process:
            return self.run(target, options=options)
        plan = self._plan(target, options)
        watcher = _Watcher(plan, options)
        call = RunnerCall(plan, options.timeout, watcher.poll, self.clock, options.stop_grace)
        try:
            outcome = await call.arun()
        except BaseException:
            _abandon(plan, watcher)
            raise
        return self._finish(plan, outcome, options, watcher)
