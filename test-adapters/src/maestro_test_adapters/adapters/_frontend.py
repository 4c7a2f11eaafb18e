"""The ``frontend`` adapter: Vitest, Jest or Playwright Test through npm. Results stream from our
bundled reporter for each runner into the JSONL as each test finishes; the runner's own JUnit/JSON
report is ingested with the aggregator's ``read_report`` for anything those lines missed."""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from maestro_test_adapters._adapter import Availability, Target
from maestro_test_adapters._chromium import CHROMIUM_ARGS_ENV, chromium_args, configured_allowed_hosts
from maestro_test_adapters._options import RunOptions, checked_clock
from maestro_test_adapters._outputs import ResultStream
from maestro_test_adapters._process import ProcessOutcome, RunnerCall, describe_returncode
from maestro_test_adapters._runlog import keep_log, last_line, read_log, reason_lines, unexplained_exit
from maestro_test_adapters._tail import LineTail
from maestro_test_adapters.errors import InvalidOptionError, TargetNotFoundError
from maestro_test_result_aggregator.model import (
    EMPTY,
    Attachment,
    Attempt,
    Status,
    TestResult,
    TestRun,
    Tool,
    bound_text,
)

__all__ = ["RUNNERS", "FrontendAdapter"]

RUNNERS: Final = ("vitest", "jest", "playwright")
"""The JavaScript runners the frontend adapter drives (``auto`` picks from package.json)."""


_VITEST_REPORTER: Final = Path(__file__).with_name("_vitest_reporter.mjs")
_JEST_REPORTER: Final = Path(__file__).with_name("_jest_reporter.cjs")
_PLAYWRIGHT_REPORTER: Final = Path(__file__).with_name("_playwright_reporter.cjs")
_STATES: Final = {
    "passed": Status.PASSED,
    "failed": Status.FAILED,
    "skipped": Status.SKIPPED,
    "pending": Status.PENDING,
}


@dataclass(slots=True)
class _Plan:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    report: Path
    log: Path
    workdir: Path
    runner: str
    progress: Path


@dataclass(frozen=True, slots=True)
class _Identity:
    """Who a progress line is about: enough to report the test should the runner die mid-test."""

    name: str
    file: str | None
    suite: tuple[str, ...]
    parameters: Mapping[str, str]


def _attachments(value: object) -> tuple[Attachment, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(
        Attachment(str(item.get("name") or ""), str(item.get("contentType") or ""), str(item["path"]))
        for item in value
        if isinstance(item, dict) and item.get("path")
    )


def _text(value: object, limit: int) -> str | None:
    return bound_text(str(value), limit) if value else None


class _Progress:
    """Tails our runner reporters' progress lines (Vitest, Jest, Playwright Test): each finished
    test goes straight into the ``ResultStream`` (its JSONL line is written and flushed,
    ``on_result`` is told) as soon as it is read, and the tests in flight are known should the
    runner die."""

    def __init__(self, plan: _Plan, stream: ResultStream, options: RunOptions) -> None:
        self._tail = LineTail(plan.progress)
        self._options = options
        self._project = plan.cwd
        self.stream = stream
        self.started: dict[str, _Identity] = {}
        self.results: dict[str, TestResult] = {}
        self.finished: dict[str, dict[str, object]] = {}  # the worker's own word (Vitest), kept in reserve

    def _file(self, module: object) -> str | None:
        if not isinstance(module, str):
            return None
        try:
            return Path(module).resolve().relative_to(self._project).as_posix()
        except ValueError:
            return module

    def _identity(self, record: dict[str, object]) -> _Identity:
        file = self._file(record.get("file"))
        name = str(record.get("name") or record["id"])
        if record.get("kind") == "module":  # a file that failed to load: named after the file
            name = file or name
        suite = record.get("suite")
        project = record.get("project")
        return _Identity(
            name,
            file,
            tuple(str(part) for part in suite) if isinstance(suite, list) else (file,) if file else (),
            {"project": project} if isinstance(project, str) and project else EMPTY,
        )

    def poll(self) -> None:
        for line in self._tail.read():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                continue
            test_id = record["id"]
            if record.get("event") == "start":
                if test_id in self.started:  # the worker's own start line, then the reporter's
                    continue
                self.started[test_id] = self._identity(record)
                if self._options.on_test_start is not None:
                    self._options.on_test_start(self.started[test_id].name)
            elif record.get("event") == "result" and test_id not in self.results:
                result = self._result(record)
                self.results[test_id] = result
                self.stream.add(result)
            elif record.get("event") == "finished":
                self.finished.setdefault(test_id, record)

    def recover(self) -> None:
        """Stream the tests whose worker wrote their final state but whose result the runner never
        reported (Vitest batches its workers' events: a worker killed just after a test finished
        takes that test's result with it)."""
        for test_id, record in self.finished.items():
            if test_id in self.started and test_id not in self.results:
                self.results[test_id] = self._result(record)
                self.stream.add(self.results[test_id])

    def _earlier(self, record: dict[str, object], retries: int) -> list[Attempt]:
        """The failed attempts before the final one: messages (Vitest, Jest) or whole attempts
        with their own evidence (Playwright Test)."""
        limit = self._options.output_limit
        errors = record.get("errors")
        items = errors if isinstance(errors, list) else []
        earlier = []
        for i in range(retries):
            item = items[i] if i < len(items) else None
            if isinstance(item, dict):
                earlier.append(
                    Attempt(
                        Status.FAILED,
                        duration=float(item.get("duration") or 0.0) / 1000.0,
                        raw_status=str(item.get("raw") or "failed"),
                        message=_text(item.get("message"), limit),
                        trace=_text(item.get("stack"), limit),
                        attachments=_attachments(item.get("attachments")),
                    )
                )
            else:
                earlier.append(Attempt(Status.FAILED, raw_status="failed", message=_text(item, limit)))
        return earlier

    def _result(self, record: dict[str, object]) -> TestResult:
        who = self._identity(record)
        limit = self._options.output_limit
        state = str(record.get("state"))
        raw = str(record.get("raw") or state)
        status = _STATES.get(state, Status.OTHER)
        failed = status is Status.FAILED
        message = _text(record.get("message"), limit) if failed else None
        trace = _text(record.get("stack"), limit) if failed else None
        start = record.get("start")
        started = float(start) / 1000.0 if isinstance(start, int | float) else None
        duration = float(record.get("duration") or 0.0) / 1000.0  # type: ignore[arg-type]
        stdout = _text(record.get("stdout"), limit)
        stderr = _text(record.get("stderr"), limit)
        attachments = _attachments(record.get("attachments"))
        retries = record.get("retries")
        attempts: tuple[Attempt, ...] = ()
        if isinstance(retries, int) and retries > 0:  # a retried test: every run is an attempt
            final = Attempt(
                status,
                duration=duration,
                raw_status=raw,
                message=message,
                trace=trace,
                start=started,
                stdout=stdout,
                stderr=stderr,
                attachments=attachments,
            )
            attempts = (*self._earlier(record, retries), final)
        line = record.get("line")
        tags = record.get("tags")
        return TestResult(
            name=who.name,
            status=status,
            duration=duration,
            suite=who.suite,
            file=who.file,
            line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            parameters=who.parameters,
            raw_status=raw,
            message=message,
            trace=trace,
            stdout=stdout,
            stderr=stderr,
            tags=tuple(str(tag) for tag in tags) if isinstance(tags, list) else (),
            attachments=attachments,
            attempts=attempts,
            start=started,
        )

    def in_flight(self) -> list[_Identity]:
        """Every test that started and has no result."""
        return [who for test_id, who in self.started.items() if test_id not in self.results]


def _key(result: TestResult) -> tuple[object, ...]:
    """The same test in our progress lines and in the runner's own report."""
    return (result.suite, result.name, tuple(sorted(result.parameters.items())))


def _merge_ingested(runner: str, ingested: TestRun, progress: _Progress, *, skip: set[tuple[object, ...]]) -> None:
    """Add the runner's own report's results that our reporter's lines missed (not those in ``skip``)."""
    live = bool(progress.results)
    seen = {_key(result) for result in progress.results.values()}
    for reported in ingested.tests:
        result = reported
        if result.file is None and result.classname and result.suite == (result.classname,):
            result.file = result.classname  # the same file field (and id) as the live results
            result.classname = None
        key = _key(result)
        if key in seen or key in skip:
            continue
        if live and runner == "vitest" and result.status is Status.PASSED:
            # our reporter saw every test that ran finish: a "pass" only the runner's report has
            # is a test that never ran (Vitest 4's JUnit lists them as bare <testcase>)
            result = dataclasses.replace(
                result,
                status=Status.OTHER,
                raw_status="notRun",
                duration=0.0,
                message=f"never ran: {runner} reported no result for it (its worker died?)",
            )
        progress.stream.add(result)


def _identity_key(who: _Identity) -> tuple[object, ...]:
    """``_key`` of the result a started test would have."""
    return (who.suite, who.name, tuple(sorted(who.parameters.items())))


def _installed_version(project: Path, runner: str) -> str | None:
    package = {"vitest": "vitest", "jest": "jest", "playwright": "@playwright/test"}[runner]
    try:
        data = json.loads((project / "node_modules" / package / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def _detect(package: Mapping[str, object]) -> str | None:
    deps: dict[str, object] = {}
    for key in ("dependencies", "devDependencies"):
        value = package.get(key)
        if isinstance(value, dict):
            deps.update(value)
    for runner, module in (("vitest", "vitest"), ("jest", "jest"), ("playwright", "@playwright/test")):
        if module in deps:
            return runner
    return None


class FrontendAdapter:
    """Runs a JavaScript test runner through npm in a project folder.

    ``npm exec --no`` runs the project's own installed runner (never downloads one): Vitest with
    our bundled reporter, whose per-test lines are written to ``options.jsonl`` as each test
    finishes (so a crash keeps them, and the test in flight is reported ``crashed``), plus its
    JUnit reporter for anything those lines missed; Jest the same way with our bundled Jest
    reporter (``jest-junit`` is used as a fallback only when the project has it); Playwright Test
    the same way with our bundled Playwright reporter (every retry an attempt with its own
    screenshots and traces) next to its JSON reporter.

    Args:
        runner: ``vitest``, ``jest``, ``playwright`` or ``auto`` (from package.json's dependencies).
        npm: the npm executable (default: ``npm`` on PATH).
        clock: the monotonic clock the global timeout is measured on (default ``time.monotonic``);
            tests pass one they control to reach the deadline on an event.

    Examples:
        >>> FrontendAdapter(runner="vitest").runner
        'vitest'

        Run a Vitest project's tests (a folder with ``package.json`` and ``node_modules``):

        ```python
        run = FrontendAdapter().run("web", options=RunOptions(timeout=600, ctrf="ctrf.json"))
        print(run.tool.name, exit_code(run))  # vitest ExitCode.OK
        ```
    """

    def __init__(self, *, runner: str = "auto", npm: str = "npm", clock: Callable[[], float] = time.monotonic) -> None:
        if runner != "auto" and runner not in RUNNERS:
            raise InvalidOptionError("runner", f"must be 'auto' or one of {', '.join(RUNNERS)}, got {runner!r}")
        self.runner = runner
        self.npm = npm
        self.clock = checked_clock(clock)

    @property
    def name(self) -> str:
        """``frontend``."""
        return "frontend"

    def available(self) -> Availability:
        """Ok when npm and node are on PATH."""
        if shutil.which(self.npm) is None:
            return Availability(False, f"{self.npm} is not on PATH: install Node.js and npm")
        if shutil.which("node") is None:
            return Availability(False, "node is not on PATH: install Node.js")
        return Availability(True)

    def _plan(self, target: Target, options: RunOptions) -> _Plan:
        base = options.cwd or Path.cwd()
        project = (base / os.fspath(target)).resolve()
        manifest = project / "package.json"
        if not manifest.is_file():
            raise TargetNotFoundError(os.fspath(target), "frontend project (a folder with package.json)")
        try:
            package = json.loads(manifest.read_text(encoding="utf-8"))
        except (ValueError, OSError) as error:
            raise InvalidOptionError("target", f"{manifest} is not valid JSON: {error}") from error
        runner = self.runner if self.runner != "auto" else _detect(package if isinstance(package, dict) else {})
        if runner is None:
            raise InvalidOptionError(
                "runner", f"cannot tell the runner from {manifest}; pass runner='vitest'|'jest'|'playwright'"
            )
        npm = shutil.which(self.npm)
        if npm is None:
            raise InvalidOptionError("npm", f"{self.npm} is not on PATH: install Node.js and npm")
        env = {**os.environ, **options.env, "CI": "true", "FORCE_COLOR": "0"}
        if runner == "playwright" and CHROMIUM_ARGS_ENV not in env:  # what the documented config reads
            allowed = configured_allowed_hosts(environ=env)
            env[CHROMIUM_ARGS_ENV] = json.dumps(chromium_args(headless_flag=False, allow_hosts=allowed))
        workdir = Path(tempfile.mkdtemp(prefix="maestro-frontend-"))
        progress = workdir / "progress.jsonl"
        if runner == "vitest":
            report = workdir / "junit.xml"
            args = [
                "vitest",
                "run",
                "--reporter=default",
                "--reporter=junit",
                f"--reporter={_VITEST_REPORTER}",
                f"--outputFile.junit={report}",
            ]
            env["MAESTRO_PROGRESS_FILE"] = os.fspath(progress)
        elif runner == "jest":
            report = workdir / "junit.xml"
            args = ["jest", "--reporters=default", f"--reporters={_JEST_REPORTER}"]
            env["MAESTRO_PROGRESS_FILE"] = os.fspath(progress)
            if (project / "node_modules" / "jest-junit").is_dir():  # optional: a fallback report
                args.append("--reporters=jest-junit")
                env["JEST_JUNIT_OUTPUT_FILE"] = os.fspath(report)
                env.setdefault("JEST_JUNIT_CLASSNAME", "{classname}")
                env.setdefault("JEST_JUNIT_TITLE", "{title}")
            args.append("--ci")  # a flag after --reporters (an array option), so test paths stay paths
        else:
            report = workdir / "playwright.json"
            args = ["playwright", "test", f"--reporter=list,json,{_PLAYWRIGHT_REPORTER}"]
            env["PLAYWRIGHT_JSON_OUTPUT_NAME"] = os.fspath(report)
            env["MAESTRO_PROGRESS_FILE"] = os.fspath(progress)
        argv = [npm, "exec", "--no", "--", *args, *options.runner_args]
        return _Plan(argv, project, env, report, workdir / "runner.log", workdir, runner, progress)

    def _start(self, target: Target, options: RunOptions) -> tuple[_Plan, _Progress]:
        plan = self._plan(target, options)
        try:
            stream = ResultStream(Tool(plan.runner, _installed_version(plan.cwd, plan.runner)), options)
        except BaseException:
            shutil.rmtree(plan.workdir, ignore_errors=True)
            raise
        return plan, _Progress(plan, stream, options)

    def _finish(self, plan: _Plan, outcome: ProcessOutcome, options: RunOptions, progress: _Progress) -> TestRun:  # noqa: PLR0912
        from maestro_test_result_aggregator.formats import read_report

        error: str | None = None
        ingested: TestRun | None = None
        if plan.report.exists() and plan.report.stat().st_size:
            try:
                ingested = read_report(plan.report)
            except Exception as failure:  # the aggregator names file and line
                error = f"cannot read the {plan.runner} report: {failure}"
        progress.poll()
        progress.recover()
        if outcome.timed_out:
            error = f"timed out after {options.timeout:g} s: killed {plan.runner}"
        elif outcome.returncode < 0:
            error = f"{plan.runner} {describe_returncode(outcome.returncode)}"
        elif ingested is None and error is None and not progress.results:
            said = reason_lines(read_log(plan.log))  # a config error's own lines, not the last one
            detail = " | ".join(said) or last_line(outcome.output_tail) or describe_returncode(outcome.returncode)
            error = f"{plan.runner} wrote no report ({describe_returncode(outcome.returncode)}): {detail}"
        elif ingested is None and error is None and progress.in_flight():  # it left mid-test (process.exit)
            error = f"{plan.runner} exited ({describe_returncode(outcome.returncode)}) before its tests finished"
        stream = progress.stream
        died = outcome.timed_out or outcome.returncode < 0
        live = bool(progress.results)
        # Tests that started and have no result were in flight when the runner or a worker died.
        # Vitest runs a file's tests one after another and batches its workers' events: there an
        # earlier test of the same file finished, but its result died with the worker.
        unfinished = progress.in_flight()
        in_flight, lost = unfinished, []
        if plan.runner == "vitest":
            last_in_file = {who.file: who for who in unfinished}
            in_flight = [who for who in unfinished if last_in_file[who.file] is who]
            lost = [who for who in unfinished if last_in_file[who.file] is not who]
        if ingested is not None and not (live and plan.runner == "jest"):  # jest-junit names differ
            _merge_ingested(plan.runner, ingested, progress, skip={_identity_key(who) for who in unfinished})
        if error is None:  # a failing exit no result explains: a coverage threshold, --fail-on-flaky-tests...
            error = unexplained_exit(plan.runner, outcome.returncode, stream.run.tests, read_log(plan.log))
        cause = error or f"the {plan.runner} worker running this file died"
        for who in lost:
            stream.add(
                TestResult(
                    name=who.name,
                    suite=who.suite,
                    file=who.file,
                    parameters=who.parameters,
                    status=Status.OTHER,
                    raw_status="resultLost",
                    message=f"{cause}: this test finished, but its result was lost",
                )
            )
        for who in in_flight:
            stream.add(
                TestResult(
                    name=who.name,
                    suite=who.suite,
                    file=who.file,
                    parameters=who.parameters,
                    status=Status.FAILED,
                    raw_status="timedOut" if outcome.timed_out else "crashed",
                    message=f"{cause} while this test was running",
                    trace=outcome.output_tail or None,
                )
            )
        if error is not None and in_flight:
            error += f" (in flight: {', '.join(who.name for who in in_flight)})"
        if error is not None and died and not in_flight:
            stream.add(
                TestResult(
                    name=f"{plan.runner} run",
                    status=Status.FAILED,
                    raw_status="timedOut" if outcome.timed_out else "crashed",
                    message=error,
                    trace=outcome.output_tail or None,
                    duration=outcome.duration,
                )
            )
        if error is not None:
            kept = keep_log(plan.log, plan.runner, (options.jsonl, options.ctrf, options.junit))
            if kept is not None:
                error += f" (full {plan.runner} log: {kept})"
        shutil.rmtree(plan.workdir, ignore_errors=True)
        return stream.finish(error=error)

    def run(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """Run the project's tests in folder ``target``."""
        options = options or RunOptions()
        plan, progress = self._start(target, options)
        call = RunnerCall(plan, options.timeout, progress.poll, self.clock, options.stop_grace)
        try:
            outcome = call.run()
        except BaseException:
            progress.stream.close()
            shutil.rmtree(plan.workdir, ignore_errors=True)
            raise
        return self._finish(plan, outcome, options, progress)

    async def arun(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """The asyncio twin of ``run``."""
        options = options or RunOptions()
        plan, progress = self._start(target, options)
        call = RunnerCall(plan, options.timeout, progress.poll, self.clock, options.stop_grace)
        try:
            outcome = await call.arun()
        except BaseException:
            progress.stream.close()
            shutil.rmtree(plan.workdir, ignore_errors=True)
            raise
        return self._finish(plan, outcome, options, progress)
