"""Typed usage of the public API, checked with ``mypy --strict`` by test_typing.py (never run)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from maestro_test_adapters import (
    Availability,
    ExitCode,
    PlaywrightAdapter,
    ProductionAdapter,
    PytestAdapter,
    ResultStream,
    RunOptions,
    SeleniumAdapter,
    Target,
    TestAdapter,
    detect_environment,
    exit_code,
    get_adapter,
    load_checks,
    run_error,
)
from maestro_test_adapters import FrontendAdapter as Frontend
from maestro_test_adapters.testing import FakeAdapter
from maestro_test_result_aggregator.model import Status, TestResult, TestRun, Tool


class MyAdapter:
    """A third-party adapter: structurally a TestAdapter, no base class."""

    @property
    def name(self) -> str:
        return "mine"

    def available(self) -> Availability:
        return Availability(True)

    def run(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        stream = ResultStream(Tool("mine"), options or RunOptions())
        stream.add(TestResult(os.fspath(target), Status.PASSED))
        return stream.finish()

    async def arun(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        return self.run(target, options=options)


def all_adapters() -> list[TestAdapter]:
    return [
        MyAdapter(),
        PytestAdapter(),
        PlaywrightAdapter(endpoint="http://127.0.0.1:9222"),
        SeleniumAdapter(),
        Frontend(runner="vitest"),
        ProductionAdapter(use_resilience=False),
        FakeAdapter([], name="fake"),
        get_adapter("pytest"),
    ]


def gate(target: str) -> int:
    seen: list[str] = []
    options = RunOptions(
        timeout=60,
        ctrf=Path("out/ctrf.json"),
        junit="out/junit.xml",
        junit_profile="surefire",
        runner_args=["-x"],
        on_result=lambda result: seen.append(result.name),
        environment=detect_environment({"GITHUB_SHA": "abc"}),
    )
    run = get_adapter("pytest").run(target, options=options)
    reason: str | None = run_error(run)
    code: ExitCode = exit_code(run, fail_on_flaky=True)
    return int(code) if reason is None else 2


async def gate_async(target: str) -> ExitCode:
    run = await PytestAdapter().arun(target)
    return exit_code(run)


def checks(path: Path) -> list[str]:
    return [check.name for check in load_checks(path).checks]


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(gate_async("tests"))
