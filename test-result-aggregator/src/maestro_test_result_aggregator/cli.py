"""``maestro-results``: ingest, merge, report, flaky, gate, history and export from the shell.

Inputs are files, directories (searched recursively for .xml/.json/.jsonl) and glob patterns;
formats are detected from content; inputs are never modified. A bad file is reported and the
rest are read (``--strict`` makes it fatal). Exit codes: 0 success or gates passed, 1 a gate
failed (reasons printed), 2 bad input or usage.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from maestro_test_result_aggregator.errors import AggregatorError
from maestro_test_result_aggregator.merge import REPEAT_STYLES, collapse_repeats

if TYPE_CHECKING:
    from rich.console import Console

    from maestro_test_result_aggregator.history import HistoryStore
    from maestro_test_result_aggregator.model import Environment, TestRun

__all__ = ["main"]

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_BAD_INPUT = 2


def _err() -> Console:
    from rich.console import Console  # noqa: PLC0415 - rich loads when the CLI prints

    return Console(stderr=True)


def _fail(message: str) -> NoReturn:
    from rich.markup import escape  # noqa: PLC0415

    # One line, however long (no wrapping), and the message is text: "[/tmp/x]" is not markup.
    _err().print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_BAD_INPUT)


def _load_runs(inputs: tuple[str, ...], strict: bool) -> list[TestRun]:
    return [run for _, run in _load(inputs, strict)]


def _load(inputs: tuple[str, ...], strict: bool, *, stamp: bool = True) -> list[tuple[Path, TestRun]]:
    """Every report named by ``inputs``, read. Fails closed: an unreadable report ends the
    command with exit 2 unless ``--allow-unreadable``; a file found in a folder or by a glob that
    is no report at all (``package.json``, Playwright's ``.last-run.json``) is skipped, and named
    with ``--verbose``; one run found twice in two formats is counted once."""
    from rich.markup import escape  # noqa: PLC0415
    from rich.progress import Progress  # noqa: PLC0415

    from maestro_test_result_aggregator.errors import UnknownFormatError  # noqa: PLC0415
    from maestro_test_result_aggregator.formats import expand_inputs, read_report  # noqa: PLC0415

    files = expand_inputs(inputs)
    if not files:
        _fail(f"no report files found in {', '.join(inputs)}")
    named = {Path(item).resolve() for item in inputs if Path(item).is_file()}
    runs: list[tuple[Path, TestRun]] = []
    bad = 0
    console = _err()
    context = click.get_current_context(silent=True)
    meta = context.meta if context is not None else {}
    repeats = meta.get("maestro_repeats")
    allow_unreadable = bool(meta.get("maestro_allow_unreadable")) and not strict
    verbose = bool(meta.get("maestro_verbose"))
    # Only on a terminal and for a few files or more: rich before 15 prints an empty line when
    # even a disabled Progress stops on a non-interactive console (a CI log, a pipe).
    shown = len(files) >= 5 and console.is_terminal
    with Progress(console=console, transient=True) if shown else contextlib.nullcontext() as progress:
        task = progress.add_task("reading reports", total=len(files)) if progress is not None else None
        for path in files:
            try:
                run = read_report(path)
                runs.append((path, collapse_repeats(run, repeats) if repeats else run))
            except UnknownFormatError as error:
                if path.resolve() in named:
                    _fail(str(error))
                if verbose:
                    console.print(
                        f"[dim]not a report, skipped:[/] {escape(str(path))}", highlight=False, soft_wrap=True
                    )
            except AggregatorError as error:
                if not allow_unreadable:
                    _fail(f"{error} (unreadable report: fix it, or pass --allow-unreadable to skip it)")
                bad += 1
                console.print(f"[yellow]skipped[/] {escape(str(error))}", highlight=False, soft_wrap=True)
            if progress is not None and task is not None:
                progress.advance(task)
    if not runs:
        _fail("no readable report among the inputs")
    given = _given_environment(meta) if stamp else None
    if given is not None:
        from maestro_test_result_aggregator.ci import with_environment  # noqa: PLC0415

        runs = [(path, with_environment(run, given)) for path, run in runs]
    if bad:
        console.print(f"[yellow]{bad} of {len(files)} file(s) could not be read[/]", highlight=False)
    return _one_per_run(runs, console)


def _given_environment(meta: dict[str, Any]) -> Environment | None:
    """What ``--commit``/``--branch``/``--build-url``/``--shard`` say, each missing one taken from
    the CI system's variables (unless ``--no-ci-env``); None when neither says anything."""
    from maestro_test_result_aggregator.ci import ci_environment  # noqa: PLC0415
    from maestro_test_result_aggregator.model import Environment  # noqa: PLC0415

    given: dict[str, str | None] = meta.get("maestro_environment") or {}
    found = None if given.get("no_ci_env") else ci_environment()
    if found is None and not any(given.get(key) for key in ("commit", "branch", "build_url", "shard")):
        return None
    ci = found or Environment()
    return Environment(
        given.get("commit") or ci.commit,
        given.get("branch") or ci.branch,
        given.get("build_url") or ci.build_url,
        given.get("shard") or ci.shard,
        ci.extra,
    )


def _one_per_run(runs: list[tuple[Path, TestRun]], console: Console) -> list[tuple[Path, TestRun]]:
    """Drop a report that is the same run as another in the same folder, written in another
    format (Playwright's ``results.json`` and ``junit.xml`` of one ``playwright test``): the
    same tests by name with the same outcomes, started within the other's span. The report
    that keeps more (attempts) stays: the JUnit one is dropped."""
    from rich.markup import escape  # noqa: PLC0415

    from maestro_test_result_aggregator.merge import run_time  # noqa: PLC0415

    outlines: dict[int, list[tuple[str, str]]] = {}

    def outline(run: TestRun) -> list[tuple[str, str]]:
        found = outlines.get(id(run))
        if found is None:
            found = outlines[id(run)] = sorted((t.name, t.status.value) for t in run.tests)
        return found

    def span(run: TestRun) -> float:
        start = run_time(run)
        return (run.stop - start) if run.stop is not None and start is not None else 0.0

    kept: list[tuple[Path, TestRun]] = []
    dropped: set[int] = set()
    for index, (path, run) in enumerate(runs):
        if index in dropped:
            continue
        for other_index in range(index + 1, len(runs)):
            other_path, other = runs[other_index]
            if other_index in dropped or other_path.parent != path.parent or run.tool == other.tool:
                continue
            first, second = run_time(run), run_time(other)
            if first is None or second is None or abs(first - second) > max(span(run), span(other), 1.0):
                continue
            if len(run.tests) != len(other.tests) or outline(run) != outline(other):
                continue
            junit_first = run.tool.name == "junit"
            drop, keep = (path, other_path) if junit_first else (other_path, path)
            dropped.add(index if junit_first else other_index)
            console.print(
                f"[yellow]note[/] {escape(str(drop))} is the same run as {escape(str(keep))} "
                "in another format: counted once",
                highlight=False,
                soft_wrap=True,
            )
            if junit_first:
                break
        if index not in dropped:
            kept.append((path, run))
    return kept


def _merged(inputs: tuple[str, ...], strict: bool, *, stamp: bool = True) -> TestRun:
    """``inputs`` read and merged into one run; ``stamp`` fills what they leave out of the
    environment from the options and CI variables (not for a baseline: another build's)."""
    from rich.markup import escape  # noqa: PLC0415

    from maestro_test_result_aggregator.merge import Merger, run_time  # noqa: PLC0415

    loaded = _load(inputs, strict, stamp=stamp)
    merger = Merger()
    console = _err()
    timeless = [path for path, run in loaded if run_time(run) is None and not any(t.start for t in run.tests)]
    for path, run in loaded:
        at = None
        if path in timeless and len(loaded) > 1:
            at = path.stat().st_mtime
            console.print(
                f"[yellow]note[/] {escape(str(path))} carries no time: its attempts are ordered "
                "by the file's modification time",
                highlight=False,
                soft_wrap=True,
            )
        merger.add(run, at=at)
    return merger.result()


def _store(db: str | None) -> HistoryStore | None:
    if db is None:
        return None
    from maestro_test_result_aggregator.history import HistoryStore  # noqa: PLC0415

    return HistoryStore.open(db)


def _baseline(spec: str | None, store: HistoryStore | None) -> TestRun | None:
    if spec is None:
        return None
    if Path(spec).exists():  # a report, or a folder of shards merged like INPUTS
        return _merged((spec,), strict=False, stamp=False)
    if store is None:
        _fail(f"--baseline {spec!r} is not a file or folder; a history run id or 'latest' needs --db")
    if spec == "latest":
        latest = store.latest_run_id()
        if latest is None:
            _fail("--baseline latest: the history store is empty")
        return store.load_run(latest)
    if spec.isdigit():
        return store.load_run(int(spec))
    _fail(f"--baseline must be a report file or folder, a history run id or 'latest', got {spec!r}")


def _write(run: TestRun, fmt: str, output: str | None, **options: Any) -> None:
    """Write ``run`` with the registry's writer of ``fmt`` (``options`` it does not take are dropped)."""
    import inspect  # noqa: PLC0415

    from maestro_test_result_aggregator.formats.registry import get_writer  # noqa: PLC0415

    if output is None:
        _fail(f"--format {fmt} writes a file: give --output")
    writer = get_writer(fmt)
    accepted = inspect.signature(writer).parameters
    writer(run, output, **{key: value for key, value in options.items() if key in accepted and value is not None})


def _writable() -> list[str]:
    from maestro_test_result_aggregator.formats.registry import writable_names  # noqa: PLC0415

    return list(writable_names())


class _WritableFormats(click.Choice):  # type: ignore[type-arg]
    """``--format``'s choices: ``fixed`` ones, then every format the registry writes, read when
    the command line is parsed (so a format registered after import is offered too)."""

    def __init__(self, *fixed: str) -> None:
        self._fixed = fixed
        super().__init__(fixed)

    @property  # type: ignore[override]
    def choices(self) -> list[str]:
        return [*self._fixed, *_writable()]

    @choices.setter
    def choices(self, _value: object) -> None:
        """Set by ``click.Choice.__init__``; the registry decides."""


inputs_argument = click.argument("inputs", nargs=-1, required=True)


def _remember(name: str) -> Any:
    def callback(ctx: click.Context, _param: click.Parameter, value: object) -> object:
        ctx.meta[name] = value
        return value

    return callback


def strict_option(command: Any) -> Any:
    """``--allow-unreadable``, ``--verbose`` and the old ``--strict`` (now the default)."""
    command = click.option(
        "--strict",
        is_flag=True,
        help="Any unreadable input is fatal (exit 2): the default now; overrides --allow-unreadable.",
    )(command)
    command = click.option(
        "--allow-unreadable",
        is_flag=True,
        expose_value=False,
        callback=_remember("maestro_allow_unreadable"),
        help="Skip an unreadable or truncated report with a warning instead of failing (exit 2).",
    )(command)
    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=_remember("maestro_verbose"),
        help="Name every file skipped because it is not a report.",
    )(command)


def _remember_environment(ctx: click.Context, param: click.Parameter, value: object) -> object:
    ctx.meta.setdefault("maestro_environment", {})[param.name] = value
    return value


def context_options(command: Any) -> Any:
    """``--commit``, ``--branch``, ``--build-url``, ``--shard`` and ``--no-ci-env``: where the
    runs happened, filling what a report does not say (read from the CI variables by default)."""
    helps = {
        "--commit": "The commit the reports tested (default: the CI system's variable, e.g. GITHUB_SHA).",
        "--branch": "The branch (default: the CI system's variable, e.g. CI_COMMIT_REF_NAME).",
        "--build-url": "A link to the CI job (default: built from the CI system's variables).",
        "--shard": "This job's shard, as i/n (default: CI_NODE_INDEX/CI_NODE_TOTAL and the like).",
    }
    for option, text in reversed(helps.items()):
        command = click.option(option, expose_value=False, callback=_remember_environment, help=text)(command)
    return click.option(
        "--no-ci-env",
        is_flag=True,
        expose_value=False,
        callback=_remember_environment,
        help="Do not read GitHub Actions, GitLab CI, Jenkins, Buildkite or CircleCI variables.",
    )(command)


def _remember_repeats(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    ctx.meta["maestro_repeats"] = value
    return value


repeats_option = click.option(
    "--repeats",
    type=click.Choice(REPEAT_STYLES),
    expose_value=False,
    callback=_remember_repeats,
    help="Fold the copies a repeat plugin made (test_x[1-3]... with pytest-repeat, test_x[0]... with "
    "flakefinder) into attempts of one test. Off by default: such names may be real parameters.",
)
db_option = click.option("--db", help="History store: a SQLite path or a postgresql:// URL.")


class _Group(click.Group):
    """Turns this package's errors (unreadable history store, bad report...) into exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AggregatorError as error:
            _fail(str(error))


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the version and which JUnit reader this install runs."""
    if not value or ctx.resilient_parsing:
        return
    from importlib.metadata import version  # noqa: PLC0415

    from maestro_test_result_aggregator.formats._junit_fast import accelerator_note  # noqa: PLC0415

    engine = accelerator_note() or "the JUnit reader uses its C accelerator"
    click.echo(f"maestro-results {version('maestro-test-result-aggregator')} ({engine})")
    ctx.exit()


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version, and which JUnit reader this install runs, and exit.",
)
def main() -> None:
    """Merge test reports, find flaky tests, gate builds and write reports."""
    from maestro_test_result_aggregator.formats._junit_fast import accelerator_note  # noqa: PLC0415

    note = accelerator_note()
    if note is not None and "on purpose" not in note:  # pip hid the build's own warning
        click.echo(f"maestro-results: note: {note}", err=True)


@main.command()
@inputs_argument
@db_option
@click.option("--label", help="A label for the stored run (build number, PR...).")
@strict_option
@repeats_option
@context_options
def ingest(inputs: tuple[str, ...], db: str | None, label: str | None, strict: bool) -> None:
    """Read INPUTS, merge them into one run and append it to the history store."""
    run = _merged(inputs, strict)
    store = _store(db or "maestro-results.db")
    assert store is not None  # noqa: S101 - always opened: a default path is given
    with store:
        run_id = store.add_run(run, label=label)
    summary = run.summary()
    click.echo(f"stored run {run_id}: {summary.tests} tests, {summary.failed} failed, {summary.flaky} flaky")


@main.command()
@inputs_argument
@click.option("-o", "--output", required=True, help="The merged report to write.")
@click.option("--format", "fmt", type=_WritableFormats(), default="ctrf", show_default=True)
@click.option("--profile", type=click.Choice(["xunit2", "surefire"]), default="xunit2", show_default=True)
@strict_option
@repeats_option
@context_options
def merge(inputs: tuple[str, ...], output: str, fmt: str, profile: str, strict: bool) -> None:
    """Merge shards and reruns in INPUTS into one report (inputs are left untouched)."""
    run = _merged(inputs, strict)
    _write(run, fmt, output, profile=profile)
    click.echo(f"merged {len(run.tests)} tests into {output}")


def _md_limit(value: str | None) -> int | str | None:
    """``--md-limit``: a name from ``MARKDOWN_LIMITS`` or a number of bytes."""
    from maestro_test_result_aggregator.reports import MARKDOWN_LIMITS  # noqa: PLC0415

    if value is None or value in MARKDOWN_LIMITS:
        return value
    if not value.isdecimal():
        _fail(f"--md-limit must be a number of bytes or one of {', '.join(MARKDOWN_LIMITS)}, got {value!r}")
    return int(value)


@main.command()
@inputs_argument
@click.option(
    "--format",
    "fmt",
    type=_WritableFormats("term", "md", "html", "json"),
    default="term",
    show_default=True,
)
@click.option("-o", "--output", help="Write to this file instead of standard output (required for html/ctrf/junit).")
@db_option
@click.option("--baseline", help="A report file or a folder of shards, a history run id or 'latest' (with --db).")
@click.option("--title", default="Test report", show_default=True)
@click.option(
    "--md-limit",
    help="--format md: cut the summary to fit github-comment (65,536 chars), github-summary (1 MiB), "
    "gitlab-note (1,000,000 chars) or a number of bytes, saying what was left out.",
)
@strict_option
@repeats_option
@context_options
def report(
    *,
    inputs: tuple[str, ...],
    fmt: str,
    output: str | None,
    db: str | None,
    baseline: str | None,
    title: str,
    md_limit: str | None,
    strict: bool,
) -> None:
    """Summarise INPUTS (merged) as a terminal summary, Markdown, HTML, JSON, CTRF or JUnit."""
    from maestro_test_result_aggregator.reports import (  # noqa: PLC0415
        render_json,
        render_markdown,
        render_terminal,
        report_data,
        unwrapped_console,
    )

    limit = _md_limit(md_limit)
    run = _merged(inputs, strict)
    store = _store(db)
    try:
        base = _baseline(baseline, store)
        if fmt == "html":
            from maestro_test_result_aggregator.html import write_html  # noqa: PLC0415

            if output is None:
                _fail("--format html writes a file: give --output")
            write_html(run, output, history=store, baseline=base, title=title)
            click.echo(f"wrote {output}")
            return
        if fmt in _writable():
            insights = None
            if fmt == "ctrf":
                from maestro_test_result_aggregator.analysis import ctrf_insights  # noqa: PLC0415

                insights = ctrf_insights(run, store.runs(limit=10) if store is not None else [])
            _write(run, fmt, output, insights=insights)
            click.echo(f"wrote {output}")
            return
        data = report_data(run, history=store, baseline=base)
    finally:
        if store is not None:
            store.close()
    if fmt == "term":
        if output is None:
            render_terminal(data)
        else:
            with open(output, "w", encoding="utf-8") as stream:
                render_terminal(data, unwrapped_console(stream))
        return
    try:
        text = render_markdown(data, limit=limit) if fmt == "md" else render_json(data)
    except ValueError as error:
        _fail(str(error))
    if output is None:
        click.echo(text)
    else:
        Path(output).write_text(text + "\n", encoding="utf-8")


@main.command()
@inputs_argument
@db_option
@click.option("--window", default=20, show_default=True, help="History: the last N runs considered.")
@click.option("--threshold", default=0.2, show_default=True, help="History: flip rate that makes a test flaky.")
@strict_option
@repeats_option
@context_options
def flaky(inputs: tuple[str, ...], db: str | None, window: int, threshold: float, strict: bool) -> None:
    """List flaky tests in INPUTS: within a run, across runs of one commit, and over history (--db)."""
    from maestro_test_result_aggregator.analysis import flaky_across_runs, flaky_within_run  # noqa: PLC0415
    from maestro_test_result_aggregator.merge import merge_runs  # noqa: PLC0415

    runs = _load_runs(inputs, strict)
    verdicts = [*flaky_within_run(merge_runs(runs)), *flaky_across_runs(runs)]
    store = _store(db)
    if store is not None:
        with store:
            verdicts.extend(store.flaky(last=window, threshold=threshold))
    for verdict in verdicts:
        click.echo(str(verdict))
    click.echo(f"{len(verdicts)} flaky verdict(s)")


@main.command()
@inputs_argument
@click.option("--min-pass-rate", type=float, help="Minimum pass rate in percent (passed / (passed + failed)).")
@click.option("--max-failures", type=click.IntRange(min=0), help="Maximum number of failed tests (0: none).")
@click.option(
    "--min-tests", type=click.IntRange(min=0), help="Minimum number of tests (catches a shard that lost tests)."
)
@click.option("--max-flaky", type=int, help="Maximum number of tests flaky within the run.")
@click.option("--no-new-failures", is_flag=True, help="Fail on any test failing now but not in --baseline.")
@click.option("--baseline", help="A report file or a folder of shards, a history run id or 'latest' (with --db).")
@click.option("--max-duration-regression", type=float, help="Maximum % increase of test time vs --baseline.")
@click.option(
    "--max-test-slowdown",
    type=click.FloatRange(min=0),
    help="Maximum % by which any one test may exceed the p95 of its durations in the last --window runs "
    "of --db (else its --baseline duration), by 0.1 s at least.",
)
@click.option("--window", default=20, show_default=True, help="History runs --max-test-slowdown looks at.")
@click.option("--allow-empty", is_flag=True, help="Pass a run that holds no test (by default it fails, exit 1).")
@db_option
@strict_option
@repeats_option
@context_options
def gate(
    *,
    inputs: tuple[str, ...],
    min_pass_rate: float | None,
    max_failures: int | None,
    min_tests: int | None,
    max_flaky: int | None,
    no_new_failures: bool,
    baseline: str | None,
    max_duration_regression: float | None,
    max_test_slowdown: float | None,
    window: int,
    allow_empty: bool,
    db: str | None,
    strict: bool,
) -> None:
    """Apply quality gates to INPUTS (merged): exit 0 pass, 1 failed (reasons printed), 2 bad input.

    Fails closed: an unreadable report exits 2 (--allow-unreadable skips it), a run with no test
    exits 1 (--allow-empty passes it), and a failed test fails the gate unless a failure gate
    (--max-failures, --min-pass-rate, --no-new-failures) says how many may fail."""
    from maestro_test_result_aggregator.gates import Gates  # noqa: PLC0415

    failures_by_default = max_failures is None and min_pass_rate is None and not no_new_failures
    if failures_by_default:
        max_failures = 0
    try:
        gates = Gates(
            min_pass_rate=min_pass_rate,
            max_flaky=max_flaky,
            no_new_failures=no_new_failures,
            max_duration_regression=max_duration_regression,
            max_failures=max_failures,
            min_tests=min_tests,
            max_test_slowdown=max_test_slowdown,
        )
    except ValueError as error:
        _fail(str(error))
    if gates.needs_baseline and baseline is None:
        _fail("--no-new-failures and --max-duration-regression need --baseline")
    if max_test_slowdown is not None and baseline is None and db is None:
        _fail("--max-test-slowdown needs --db (the history's durations) or --baseline")
    run = _merged(inputs, strict)
    store = _store(db)
    durations = None
    try:
        base = _baseline(baseline, store)
        if max_test_slowdown is not None and store is not None:
            durations = store.durations(last=window)
    finally:
        if store is not None:
            store.close()
    outcome = gates.evaluate(run, base, durations=durations)
    if not allow_empty:
        from maestro_test_result_aggregator.gates import GateCheck  # noqa: PLC0415

        tests = len(run.tests)
        outcome.checks.insert(
            0,
            GateCheck(
                "not-empty",
                tests > 0,
                f"{tests} test(s) in the run"
                + ("" if tests else ": the runner may have crashed before any test (--allow-empty accepts it)"),
            ),
        )
    for check in outcome.checks:
        mark = "PASS" if check.passed else "FAIL"
        default = (
            " (the default: no failure gate given)" if failures_by_default and check.name == "max-failures" else ""
        )
        click.echo(f"{mark} {check.name}: {check.detail}{default}")
    sys.exit(EXIT_OK if outcome.passed else EXIT_GATE_FAILED)


@main.command()
@db_option
@click.option("--last", default=20, show_default=True, help="How many recent runs.")
def history(db: str | None, last: int) -> None:
    """Show the pass-rate trend, flaky and slowest tests from the history store."""
    from rich.console import Console  # noqa: PLC0415
    from rich.markup import escape  # noqa: PLC0415
    from rich.table import Table  # noqa: PLC0415

    store = _store(db or "maestro-results.db")
    assert store is not None  # noqa: S101 - always opened: a default path is given
    console = Console()
    with store:
        table = Table(title="Runs")
        for column in ("run", "label", "tests", "failed", "flaky", "pass rate", "time"):
            table.add_column(column)
        for point in store.pass_rate_trend(last=last):
            table.add_row(
                str(point.run_id),
                escape(point.label or ""),
                str(point.tests),
                str(point.failed),
                str(point.flaky),
                f"{point.pass_rate:.2%}",
                f"{point.duration:.1f}s",
            )
        console.print(table)
        for verdict in store.flaky(last=last):
            console.print(escape(str(verdict)), highlight=False)
        slow = Table(title="Slowest (p95)")
        for column in ("test", "p50", "p95", "runs"):
            slow.add_column(column)
        for item in store.slowest(last=last):
            slow.add_row(escape(item.name), f"{item.p50:.2f}s", f"{item.p95:.2f}s", str(item.runs))
        console.print(slow)


@main.command()
@inputs_argument
@click.option("-o", "--output", required=True, help="The file to write.")
@click.option("--format", "fmt", type=_WritableFormats("csv"), default="csv", show_default=True)
@strict_option
@repeats_option
@context_options
def export(inputs: tuple[str, ...], output: str, fmt: str, strict: bool) -> None:
    """Export INPUTS (merged) as CSV (one row per test, via pandas), JSONL, CTRF or JUnit."""
    run = _merged(inputs, strict)
    if fmt == "csv":
        from maestro_test_result_aggregator.dataframe import to_pandas  # noqa: PLC0415

        try:
            to_pandas(run).to_csv(output, index=False)
        except ImportError as error:
            _fail(str(error))
    else:
        _write(run, fmt, output)
    click.echo(f"exported {len(run.tests)} tests to {output}")
