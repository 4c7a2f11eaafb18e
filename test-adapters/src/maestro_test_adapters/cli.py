"""The ``maestro-test`` command: run any adapter, show live progress, write reports.

```
maestro-test run --adapter pytest tests/ --ctrf ctrf.json --junit junit.xml -- -x -n 2
maestro-test list-adapters
```

Exit codes are ``ExitCode``: 0 all passed, 1 test failures, 2 infrastructure or adapter error
(one-line reason on stderr; every finished result is still written), 5 no tests collected.
"""

# ruff: noqa: PLC0415 - optional and heavy dependencies are imported where they are used

from __future__ import annotations

import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from maestro_test_result_aggregator.model import TestResult, TestRun

__all__ = ["cli", "main"]

_COLOURS = {"passed": "green", "failed": "red", "skipped": "yellow", "pending": "cyan", "other": "magenta"}


class _Progress:
    """Counts per status and the test in flight, shown with rich (live on a terminal)."""

    def __init__(self, console: Console, *, live: bool) -> None:
        self.console = console
        self.counts: Counter[str] = Counter()
        self.current = ""
        self._live = None
        if live:
            from rich.live import Live

            self._live = Live(self._render(), console=console, refresh_per_second=8, transient=True)
            self._live.start()

    def _render(self) -> Text:
        from rich.text import Text

        text = Text()
        for status in ("passed", "failed", "skipped", "other"):
            text.append(f"{self.counts[status]} {status}  ", style=_COLOURS[status])
        if self.current:
            text.append(f"running {self.current}", style="dim")
        return text

    def started(self, test_id: str) -> None:
        self.current = test_id
        if self._live is not None:
            self._live.update(self._render())

    def finished(self, result: TestResult) -> None:
        self.counts[result.status.value] += 1
        if result.status.value in ("failed", "other"):
            where = result.extra.get("nodeid") or result.name
            message = (result.message or "").splitlines()[0][:200] if result.message else ""
            self.console.print(f"[red]FAILED[/red] {where} {message}", markup=True, highlight=False)
        if self._live is not None:
            self._live.update(self._render())

    def stop(self) -> None:
        if self._live is not None:
            self._live.stop()


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM goes the way of Ctrl-C: the adapter interrupts the runner (its teardowns run)."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _fail(message: str) -> NoReturn:
    click.echo(f"maestro-test: error: {message}", err=True)
    sys.exit(2)


def _value(text: str) -> object:
    """A command-line setting's value: an int, a float, true/false/none, or the text itself."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _settings(pairs: tuple[str, ...]) -> dict[str, object]:
    settings: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            _fail(f"--adapter-option wants KEY=VALUE with KEY a setting name, got {pair!r}")
        settings[key.strip()] = _value(value)
    return settings


def _summary(run: TestRun, elapsed: float) -> str:
    summary = run.summary()
    parts = [f"{summary.tests} tests"]
    for name in ("passed", "failed", "skipped", "pending", "other", "flaky"):
        value = getattr(summary, name)
        if value:
            parts.append(f"{value} {name}")
    return ", ".join(parts) + f" in {elapsed:.2f}s"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="maestro-test-adapters", prog_name="maestro-test")
def cli() -> None:
    """Run pytest, browser, frontend and production suites through one interface."""


@cli.command(context_settings={"ignore_unknown_options": False})
@click.option("--adapter", "-a", "adapter_name", required=True, help="Adapter name (see list-adapters).")
@click.argument("target")
@click.argument("runner_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--ctrf", type=click.Path(dir_okay=False, path_type=Path), help="Write CTRF JSON here.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Write JUnit XML here.")
@click.option(
    "--junit-profile",
    type=click.Choice(["xunit2", "surefire"]),
    default="xunit2",
    show_default=True,
    help="JUnit flavour: surefire keeps failed attempts as flakyFailure/rerunFailure.",
)
@click.option("--jsonl", type=click.Path(dir_okay=False, path_type=Path), help="Stream JSONL results here.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Global timeout in seconds.")
@click.option("--fail-on-flaky", is_flag=True, help="Count tests that passed only on a retry as failures.")
@click.option("--cwd", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Run from here.")
@click.option("--progress/--no-progress", default=None, help="Live progress (default: on a terminal).")
@click.option(
    "--stop-grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="On Ctrl-C or SIGTERM: seconds the runner gets to stop (teardowns run) before it is killed.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="HOST",
    help="Browser adapters: let the browser reach HOST (a name, *.domain, an address, an IPv4 range, "
    "NAME=ADDRESS, or *); repeatable. Default: loopback only.",
)
@click.option(
    "--adapter-option",
    "-O",
    "adapter_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting of the adapter, e.g. -O concurrency=8 (production), -O in_process=true (pytest); repeatable.",
)
def run(
    *,
    adapter_name: str,
    target: str,
    runner_args: tuple[str, ...],
    ctrf: Path | None,
    junit: Path | None,
    junit_profile: str,
    jsonl: Path | None,
    timeout: float | None,
    fail_on_flaky: bool,
    cwd: Path | None,
    progress: bool | None,
    stop_grace: float,
    allow_hosts: tuple[str, ...],
    adapter_options: tuple[str, ...],
) -> None:
    """Run TARGET with an adapter; arguments after `--` go to the runner."""
    from rich.console import Console

    from maestro_test_adapters._exit import exit_code, run_error
    from maestro_test_adapters._options import RunOptions
    from maestro_test_adapters._registry import get_adapter
    from maestro_test_adapters.errors import TestAdapterError

    console = Console(stderr=False, highlight=False, soft_wrap=True)  # lines whole, never cut at 80 columns
    settings = _settings(adapter_options)
    if allow_hosts:
        if "allow_hosts" in settings:
            _fail("give the allowed hosts with --allow-host or -O allow_hosts=..., not both")
        settings["allow_hosts"] = allow_hosts
    try:
        adapter = get_adapter(adapter_name, **settings)
    except TestAdapterError as error:
        _fail(str(error))
    availability = adapter.available()
    if not availability:
        _fail(f"adapter {adapter_name!r} is unavailable: {availability.reason}")
    display = _Progress(console, live=console.is_terminal if progress is None else progress)
    started = time.monotonic()
    try:
        options = RunOptions(
            timeout=timeout,
            jsonl=jsonl,
            ctrf=ctrf,
            junit=junit,
            junit_profile=junit_profile,
            runner_args=runner_args,
            cwd=cwd,
            fail_on_flaky=fail_on_flaky,
            on_result=display.finished,
            on_test_start=display.started,
            stop_grace=stop_grace,
        )
        previous = signal.signal(signal.SIGTERM, _interrupt)  # CI cancelling the job, docker stop
        try:
            result = adapter.run(target, options=options)
        finally:
            signal.signal(signal.SIGTERM, previous)
    except TestAdapterError as error:
        display.stop()
        _fail(str(error))
    except KeyboardInterrupt as interrupt:
        display.stop()
        where = f"; finished results are in {jsonl}" if jsonl is not None else ""
        _fail(f"interrupted{f' by {interrupt}' if str(interrupt) else ''}: the runner was stopped{where}")
    display.stop()
    console.print(_summary(result, time.monotonic() - started))
    reason = run_error(result)
    if reason is not None:
        click.echo(f"maestro-test: error: {reason}", err=True)
    sys.exit(int(exit_code(result, fail_on_flaky=fail_on_flaky)))


@cli.command("list-adapters")
@click.argument("names", nargs=-1)
def list_adapters(names: tuple[str, ...]) -> None:
    """List the registered adapters, whether each can run here, and why not.

    Exits 2 when one of NAMES (default: every registered adapter) cannot run here, so CI can
    check the adapters it needs before running anything.
    """
    from maestro_test_adapters._registry import adapter_names, get_adapter
    from maestro_test_adapters.errors import TestAdapterError

    registered = adapter_names()
    unknown = [name for name in names if name not in registered]
    if unknown:
        _fail(f"no test adapter named {unknown[0]!r}; available adapters: {', '.join(registered)}")
    failing = []
    for name in names or registered:
        try:
            availability = get_adapter(name).available()
        except TestAdapterError as error:
            click.echo(f"{name:<12} broken       {error}")
            failing.append(name)
            continue
        state = "available" if availability.ok else "unavailable"
        click.echo(f"{name:<12} {state:<12} {availability.reason or ''}".rstrip())
        if not availability.ok:
            failing.append(name)
    if failing:
        click.echo(f"maestro-test: error: cannot run here: {', '.join(failing)}", err=True)
        sys.exit(2)


@cli.command("chromium-args")
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="HOST",
    help="Also let the browser reach HOST (see `run --allow-host`); $MAESTRO_ALLOW_HOSTS is added.",
)
def chromium_args_command(allow_hosts: tuple[str, ...]) -> None:
    """Print, as a JSON list, the flags that keep Chromium quiet and offline (for Playwright Test's
    launchOptions.args, or your own launches; headless is left to the launcher)."""
    import json

    from maestro_test_adapters._chromium import chromium_args, configured_allowed_hosts
    from maestro_test_adapters.errors import TestAdapterError

    try:
        allowed = configured_allowed_hosts() + tuple(allow_hosts)
        click.echo(json.dumps(chromium_args(headless_flag=False, allow_hosts=allowed)))
    except TestAdapterError as error:
        _fail(str(error))


def main() -> None:
    """Entry point of the ``maestro-test`` console script."""
    cli()
