"""The history store: every ingested run, append-only, in SQLite (embedded, the default) or
PostgreSQL (a team's shared dashboard; ``pip install 'maestro-test-result-aggregator[postgres]'``),
with the same schema and the trend queries the reports and gates use.

Append-only: runs and results are only ever inserted. Adding a run whose content was already
stored (same fingerprint, see ``merge.run_fingerprint``) returns the existing id.

Examples:
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> with HistoryStore.open(":memory:") as store:
    ...     first = store.add_run(make_run(10, fail_every=5))
    ...     again = store.add_run(make_run(10, fail_every=5))
    ...     [round(p.pass_rate, 2) for p in store.pass_rate_trend()], first == again
    ([0.8], True)
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Protocol

from maestro_test_result_aggregator.analysis import (
    Classification,
    FlakyVerdict,
    classify_history,
    fingerprint,
    percentile,
)
from maestro_test_result_aggregator.errors import AggregatorError
from maestro_test_result_aggregator.merge import run_fingerprint
from maestro_test_result_aggregator.model import EMPTY, Environment, Status, TestResult, TestRun, Tool

__all__ = ["HistoryError", "HistoryStore", "HistoryWindow", "RunPoint", "RunRecord", "SlowTest"]

SCHEMA_VERSION: Final = 1

_DDL: Final = (
    """CREATE TABLE IF NOT EXISTS runs (
        id {serial} PRIMARY KEY,
        fingerprint TEXT NOT NULL UNIQUE,
        label TEXT,
        tool TEXT NOT NULL,
        tool_version TEXT,
        commit_sha TEXT,
        branch TEXT,
        build_url TEXT,
        shard TEXT,
        started DOUBLE PRECISION,
        stopped DOUBLE PRECISION,
        ingested DOUBLE PRECISION NOT NULL,
        tests INTEGER NOT NULL,
        passed INTEGER NOT NULL,
        failed INTEGER NOT NULL,
        skipped INTEGER NOT NULL,
        flaky INTEGER NOT NULL,
        duration DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS results (
        run_id BIGINT NOT NULL REFERENCES runs(id),
        test_id TEXT NOT NULL,
        name TEXT NOT NULL,
        suite TEXT NOT NULL,
        file TEXT,
        classname TEXT,
        parameters TEXT,
        status TEXT NOT NULL,
        raw_status TEXT,
        duration DOUBLE PRECISION NOT NULL,
        attempts INTEGER NOT NULL,
        flaky INTEGER NOT NULL,
        message TEXT,
        fingerprint TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS results_test ON results (test_id, run_id)",
    "CREATE INDEX IF NOT EXISTS results_run ON results (run_id)",
    "CREATE INDEX IF NOT EXISTS runs_commit ON runs (commit_sha)",
)

_RESULT_COLUMNS: Final = (
    "run_id",
    "test_id",
    "name",
    "suite",
    "file",
    "classname",
    "parameters",
    "status",
    "raw_status",
    "duration",
    "attempts",
    "flaky",
    "message",
    "fingerprint",
)
_MESSAGE_LIMIT: Final = 2000


class HistoryError(AggregatorError):
    """The history store could not be opened or used (bad URL, missing driver, database error,
    a table that is not ours or a row this package did not write)."""


def _status(value: Any) -> Status:
    try:
        return Status(value)
    except ValueError:
        raise ValueError(f"holds an unknown status {value!r}") from None


def _seconds(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"holds a duration that is not a number: {value!r}") from None


def _shown(  # noqa: PLR0917 - one stored row's columns, in order
    name: str, status: Status, suite: str | None, file: str | None, classname: str | None, parameters: Any
) -> TestResult:
    """A stored row as the result a report shows (name, suite, file, class, parameters)."""
    return TestResult(
        name,
        status,
        suite=tuple(suite.split("\x1e")) if suite else (),
        file=file,
        classname=classname,
        parameters=_parameters(parameters),
    )


def _parameters(value: Any) -> Mapping[str, str]:
    if not value:
        return EMPTY
    try:
        parameters = json.loads(value)
    except (TypeError, ValueError, RecursionError):
        parameters = None
    if not isinstance(parameters, dict) or not all(isinstance(v, str) for v in parameters.values()):
        raise ValueError(f"holds parameters that are not a JSON object of strings: {value!r}")
    return parameters


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One stored run's summary row."""

    id: int
    label: str | None
    tool: str
    commit: str | None
    branch: str | None
    started: float | None
    tests: int
    passed: int
    failed: int
    skipped: int
    flaky: int
    duration: float


@dataclass(frozen=True, slots=True)
class RunPoint:
    """A point of the pass-rate trend."""

    run_id: int
    label: str | None
    started: float | None
    pass_rate: float
    tests: int
    failed: int
    flaky: int
    duration: float
    commit: str | None = None


@dataclass(frozen=True, slots=True)
class SlowTest:
    """A test's duration percentiles over the runs considered."""

    test_id: str
    name: str
    p50: float
    p95: float
    runs: int


@dataclass(frozen=True, slots=True)
class HistoryWindow:
    """The last ``last`` runs of a store, read once (``HistoryStore.window``): one query of the
    runs, one of their results. A report derives its trend, flaky tests, duration history and
    each test's history from it, instead of reading the store once for each.

    Examples:
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> with HistoryStore.open(":memory:") as store:
        ...     for night in range(3):
        ...         _ = store.add_run(make_run(10, fail_every=5 + night, start=1_700_000_000.0 + 86_400 * night))
        ...     window = store.window(last=2)
        >>> len(window.runs), [round(p.pass_rate, 2) for p in window.pass_rate_trend()]
        (2, [0.9, 0.9])
        >>> max(len(statuses) for statuses in window.statuses.values())
        2
    """

    last: int | None
    runs: list[RunRecord]
    """Newest first."""
    statuses: dict[str, list[Status]]
    """Each test's final statuses, oldest first."""
    durations: dict[str, list[float]]
    """Each test's durations (seconds), oldest first."""
    names: dict[str, TestResult]
    """A representative (latest) result per test id, for display."""

    def pass_rate_trend(self) -> list[RunPoint]:
        """Pass rate per run, oldest first (``HistoryStore.pass_rate_trend``)."""
        return _trend(self.runs)

    def flaky(self, *, threshold: float = 0.2, broken_after: int = 3) -> list[FlakyVerdict]:
        """Tests whose flip rate reached ``threshold``, worst first (``HistoryStore.flaky``)."""
        window = self.last if self.last is not None else len(self.runs)
        verdicts = []
        for test_id, statuses in self.statuses.items():
            verdict, rate = classify_history(statuses, window=window, threshold=threshold, broken_after=broken_after)
            if verdict is Classification.FLAKY:
                example = self.names[test_id]
                label = "::".join(p for p in (example.file, example.classname, example.name) if p)
                verdicts.append(
                    FlakyVerdict(
                        test_id,
                        label,
                        example.parameters,
                        "history",
                        f"flip rate {rate:.0%} over the last {len(statuses)} runs (threshold {threshold:.0%})",
                        flip_rate=rate,
                    )
                )
        verdicts.sort(key=lambda v: -(v.flip_rate or 0.0))
        return verdicts

    def slowest(self, *, limit: int = 10) -> list[SlowTest]:
        """The tests with the highest p95 duration (``HistoryStore.slowest``)."""
        ranked = []
        for test_id, values in self.durations.items():
            example = self.names[test_id]
            ranked.append(SlowTest(test_id, example.name, percentile(values, 50), percentile(values, 95), len(values)))
        ranked.sort(key=lambda s: -s.p95)
        return ranked[:limit]


def _trend(records: list[RunRecord]) -> list[RunPoint]:
    """The pass-rate trend (passed / (passed + failed)) of ``records`` (newest first), oldest first."""
    points = []
    for record in reversed(records):
        executed = record.passed + record.failed
        points.append(
            RunPoint(
                record.id,
                record.label,
                record.started,
                record.passed / executed if executed else 0.0,
                record.tests,
                record.failed,
                record.flaky,
                record.duration,
                record.commit,
            )
        )
    return points


class _Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...

    def commit(self) -> None: ...

    def close(self) -> None: ...


class HistoryStore:
    """Runs and results over time. Open with ``HistoryStore.open(url)``: a file path,
    ``sqlite:///path``, ``:memory:``, or ``postgresql://...`` (needs the ``postgres`` extra).

    Examples:
        Keep every nightly run in a SQLite file next to the CI cache, then ask it for trends:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import HistoryStore
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "history.db"
        >>> with HistoryStore.open(path) as store:
        ...     for night in range(6):
        ...         run = make_run(8, fail_every=4 if night % 2 else 0, start=1_700_000_000.0 + 86_400 * night)
        ...         run_id = store.add_run(run, label=f"nightly-{night}")
        ...     print([point.pass_rate for point in store.pass_rate_trend(last=6)])
        ...     print([verdict.name.rsplit("::", 1)[1] for verdict in store.flaky(last=20)])
        ...     print(store.add_run(run) == run_id)  # storing the same run again changes nothing
        [1.0, 0.75, 1.0, 0.75, 1.0, 0.75]
        ['test_3', 'test_7']
        True

        A team's shared store lives in PostgreSQL (``pip install
        'maestro-test-result-aggregator[postgres]'``); the same calls work on it:

        ```python
        with HistoryStore.open(os.environ["RESULTS_DATABASE_URL"]) as store:  # postgresql://...
            store.add_run(merged, label=os.environ.get("CI_PIPELINE_ID"))
            broken = store.broken(last=20)
        ```
    """

    def __init__(self, connection: Any, *, postgres: bool, location: str = "the history store") -> None:
        self._db: _Connection = connection
        self._postgres = postgres
        self.location = location  # what error messages call this store
        self._errors: tuple[type[Exception], ...] = (sqlite3.Error,)
        if postgres:
            import psycopg  # noqa: PLC0415 - optional dependency, already imported by open()

            self._errors = (psycopg.Error,)
        serial = "BIGSERIAL" if postgres else "INTEGER"
        for statement in _DDL:
            self._db.execute(statement.format(serial=serial))
        self._db.commit()

    @classmethod
    def open(cls, url: str | os.PathLike[str]) -> HistoryStore:
        """Open (creating the schema if needed) the store at ``url``.

        Raises:
            HistoryError: the URL cannot be opened, or PostgreSQL is asked for without psycopg.
        """
        text = os.fspath(url)
        if text.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg  # noqa: PLC0415 - optional dependency, imported on use
            except ImportError as error:
                raise HistoryError(
                    "a PostgreSQL history store needs psycopg: pip install 'maestro-test-result-aggregator[postgres]'"
                ) from error
            try:
                return cls(psycopg.connect(text), postgres=True, location="the PostgreSQL history store")
            except psycopg.Error as error:
                raise HistoryError(f"cannot open the PostgreSQL history store: {error}") from error
        path = text.removeprefix("sqlite:///").removeprefix("sqlite://")
        try:
            connection = sqlite3.connect(path)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            return cls(connection, postgres=False, location=f"history store {path}")
        except sqlite3.Error as error:
            raise HistoryError(f"cannot open the SQLite history store {path!r}: {error}") from error

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self._postgres else statement

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            cursor = self._db.execute(self._sql(statement), params)
            rows: list[Any] = cursor.fetchall()
        except self._errors as error:
            raise HistoryError(f"{self.location}: could not be read: {error}") from error
        return rows

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------------- writing
    def add_run(self, run: TestRun, *, label: str | None = None) -> int:
        """Append ``run`` and its results; returns the run's id (the existing one when this exact
        run was stored before: idempotent)."""
        key = run_fingerprint(run)
        existing = self._rows("SELECT id FROM runs WHERE fingerprint = ?", (key,))
        if existing:
            return int(existing[0][0])
        summary = run.summary()
        env = run.environment
        row = self._rows(
            "INSERT INTO runs (fingerprint, label, tool, tool_version, commit_sha, branch, build_url, shard, started, "
            "stopped, ingested, tests, passed, failed, skipped, flaky, duration) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                key,
                label,
                run.tool.name,
                run.tool.version,
                env.commit,
                env.branch,
                env.build_url,
                env.shard,
                run.start,
                run.stop,
                time.time(),
                summary.tests,
                summary.passed,
                summary.failed,
                summary.skipped + summary.pending + summary.other,
                summary.flaky,
                summary.duration,
            ),
        )
        run_id = int(row[0][0])
        rows = (self._result_row(run_id, result) for result in run.tests)
        try:
            if self._postgres:
                cursor: Any = self._db.cursor()  # type: ignore[attr-defined]
                with cursor.copy(f"COPY results ({', '.join(_RESULT_COLUMNS)}) FROM STDIN") as copy:
                    for values in rows:
                        copy.write_row(values)
            else:
                marks = ", ".join("?" * len(_RESULT_COLUMNS))
                self._db.executemany(  # type: ignore[attr-defined]
                    f"INSERT INTO results ({', '.join(_RESULT_COLUMNS)}) VALUES ({marks})",  # noqa: S608 - constants
                    rows,
                )
            self._db.commit()
        except self._errors as error:
            raise HistoryError(f"{self.location}: could not be written: {error}") from error
        return run_id

    @staticmethod
    def _result_row(run_id: int, result: TestResult) -> tuple[Any, ...]:
        failed = result.status is Status.FAILED
        message = result.message or ((result.trace or "").strip().split("\n", 1)[0] or None if failed else None)
        return (
            run_id,
            result.test_id,
            result.name,
            "\x1e".join(result.suite),
            result.file,
            result.classname,
            json.dumps(dict(result.parameters), sort_keys=True) if result.parameters else None,
            result.status.value,
            result.raw_status,
            result.duration,
            len(result.attempts),
            1 if result.attempts and result.flaky else 0,
            message[:_MESSAGE_LIMIT] if message else None,
            fingerprint(message) if failed else None,
        )

    # ------------------------------------------------------------------------- reading
    def runs(self, *, limit: int | None = None, branch: str | None = None) -> list[RunRecord]:
        """Stored runs, newest first: by when they ran (``TestRun.start``), else when they were
        stored, so a run ingested late takes its place in time."""
        where = " WHERE branch = ?" if branch is not None else ""
        params: list[Any] = [branch] if branch is not None else []
        tail = ""
        if limit is not None:
            tail = " LIMIT ?"
            params.append(limit)
        rows = self._rows(
            "SELECT id, label, tool, commit_sha, branch, started, tests, passed, failed, skipped, flaky, duration "  # noqa: S608 - constant SQL
            f"FROM runs{where} ORDER BY COALESCE(started, ingested) DESC, id DESC{tail}",
            params,
        )
        return [RunRecord(*row) for row in rows]

    @contextmanager
    def _converting(self) -> Iterator[None]:
        """Rows this package did not write (an unknown status...) become a ``HistoryError``."""
        try:
            yield
        except ValueError as error:
            raise HistoryError(f"{self.location}: {error}") from None

    def pass_rate_trend(self, *, last: int | None = 50) -> list[RunPoint]:
        """Pass rate per run (passed / (passed + failed)), oldest first."""
        return _trend(self.runs(limit=last))

    def window(self, *, last: int | None = 20) -> HistoryWindow:
        """The last ``last`` runs and their results, read once (two queries): what a report
        needs from the store (trend, flaky tests, durations, each test's history)."""
        records = self.runs(limit=last)
        statuses: dict[str, list[Status]] = defaultdict(list)
        durations: dict[str, list[float]] = defaultdict(list)
        names: dict[str, TestResult] = {}
        columns = "test_id, name, suite, file, classname, parameters, status, duration"
        with self._converting():
            for test_id, name, suite, file, classname, parameters, status, duration in self._results(
                [record.id for record in records], columns
            ):
                final = _status(status)
                statuses[test_id].append(final)
                durations[test_id].append(_seconds(duration))
                names[test_id] = _shown(name, final, suite, file, classname, parameters)
        return HistoryWindow(last, records, dict(statuses), dict(durations), names)

    def _results(self, last: int | list[int] | None, columns: str) -> Iterator[Any]:
        """``columns`` of the results of the last ``last`` runs (or of the runs whose ids ``last``
        lists, newest first), oldest run first (by time)."""
        ids = last if isinstance(last, list) else [record.id for record in self.runs(limit=last)]
        if not ids:
            return iter(())
        rank = {run_id: position for position, run_id in enumerate(reversed(ids))}
        marks = ", ".join("?" * len(ids))
        statement = f"SELECT run_id, {columns} FROM results WHERE run_id IN ({marks})"  # noqa: S608 - constants
        rows = self._rows(statement, ids)
        rows.sort(key=lambda row: rank[row[0]])
        return (row[1:] for row in rows)

    def statuses(self, *, last: int | None = 20) -> dict[str, list[Status]]:
        """Each test's final statuses over the last ``last`` runs, oldest first."""
        history: dict[str, list[Status]] = defaultdict(list)
        with self._converting():
            for test_id, status in self._results(last, "test_id, status"):
                history[test_id].append(_status(status))
        return dict(history)

    def durations(self, *, last: int | None = 20) -> dict[str, list[float]]:
        """Each test's durations (seconds) over the last ``last`` runs, oldest first."""
        history: dict[str, list[float]] = defaultdict(list)
        with self._converting():
            for test_id, duration in self._results(last, "test_id, duration"):
                history[test_id].append(_seconds(duration))
        return dict(history)

    def names(self, *, last: int | None = 20) -> dict[str, TestResult]:
        """A representative (latest) result per test id, for display: name, file, parameters."""
        found: dict[str, TestResult] = {}
        with self._converting():
            for test_id, name, suite, file, classname, parameters, status in self._results(
                last, "test_id, name, suite, file, classname, parameters, status"
            ):
                found[test_id] = _shown(name, _status(status), suite, file, classname, parameters)
        return found

    def flaky(self, *, last: int = 20, threshold: float = 0.2, broken_after: int = 3) -> list[FlakyVerdict]:
        """Tests whose flip rate over the last ``last`` runs reached ``threshold`` (worst first)."""
        return self.window(last=last).flaky(threshold=threshold, broken_after=broken_after)

    def broken(self, *, last: int = 20, broken_after: int = 3) -> list[str]:
        """Ids of tests that failed in each of their last ``broken_after`` runs."""
        return [
            test_id
            for test_id, statuses in self.statuses(last=last).items()
            if classify_history(statuses, window=last, broken_after=broken_after)[0] is Classification.BROKEN
        ]

    def slowest(self, *, limit: int = 10, last: int = 20) -> list[SlowTest]:
        """The tests with the highest p95 duration over the last ``last`` runs."""
        return self.window(last=last).slowest(limit=limit)

    def load_run(self, run_id: int) -> TestRun:
        """A stored run rebuilt as a ``TestRun`` (the stored fields only: enough for a baseline).

        Raises:
            HistoryError: no such run.
        """
        rows = self._rows(
            "SELECT tool, tool_version, commit_sha, branch, build_url, shard, started, stopped FROM runs WHERE id = ?",
            (run_id,),
        )
        if not rows:
            raise HistoryError(f"{self.location}: no run with id {run_id}")
        tool, version, commit, branch, build_url, shard, started, stopped = rows[0]
        run = TestRun(
            Tool(tool, version),
            environment=Environment(commit=commit, branch=branch, build_url=build_url, shard=shard),
            start=started,
            stop=stopped,
            run_id=str(run_id),
        )
        with self._converting():
            for name, suite, file, classname, parameters, status, raw, duration, message in self._rows(
                "SELECT name, suite, file, classname, parameters, status, raw_status, duration, message "
                "FROM results WHERE run_id = ?",
                (run_id,),
            ):
                run.tests.append(
                    TestResult(
                        name,
                        _status(status),
                        _seconds(duration),
                        suite=tuple(suite.split("\x1e")) if suite else (),
                        file=file,
                        classname=classname,
                        parameters=_parameters(parameters),
                        raw_status=raw,
                        message=message,
                    )
                )
        return run

    def latest_run_id(self, *, branch: str | None = None) -> int | None:
        """The newest run's id (optionally on ``branch``), ``None`` when empty."""
        found = self.runs(limit=1, branch=branch)
        return found[0].id if found else None
