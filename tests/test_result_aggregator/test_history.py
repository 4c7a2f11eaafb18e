"""The history store on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from maestro_test_result_aggregator.analysis import ctrf_insights
from maestro_test_result_aggregator.formats import validate_ctrf
from maestro_test_result_aggregator.formats.ctrf import ctrf_document
from maestro_test_result_aggregator.history import HistoryError, HistoryStore
from maestro_test_result_aggregator.html import write_html
from maestro_test_result_aggregator.model import Environment, Status, TestRun, Tool
from maestro_test_result_aggregator.reports import report_data
from maestro_test_result_aggregator.testing import make_result, make_run


def history_runs() -> list[TestRun]:
    """Ten runs: test_1 flips every run, test_2 broke in the last four, test_3 gets slow."""
    runs = []
    for number in range(10):
        flip = make_result(1, status=Status.PASSED if number % 2 else Status.FAILED)
        broken = make_result(2, status=Status.FAILED if number >= 6 else Status.PASSED)
        slow = make_result(3, duration=5.0 if number == 9 else 1.0 + number * 0.01)
        retried = replace(make_result(4, flaky=number == 3), parameters={"browser": "firefox"})
        runs.append(
            TestRun(
                Tool("pytest"),
                [flip, broken, slow, retried],
                environment=Environment(commit=f"c{number}", branch="main"),
                start=1_700_000_000.0 + number * 100,
                stop=1_700_000_050.0 + number * 100,
            )
        )
    return runs


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryStore]:
    url = str(tmp_path / "history.db") if request.param == "sqlite" else request.getfixturevalue("postgres_dsn")
    with HistoryStore.open(url) as opened:
        yield opened


def test_append_only_and_idempotent(store: HistoryStore) -> None:
    runs = history_runs()
    ids = [store.add_run(run, label=f"build-{i}") for i, run in enumerate(runs)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 10
    assert store.add_run(runs[3]) == ids[3]  # the same run again: nothing appended
    assert [r.label for r in store.runs(limit=2)] == ["build-9", "build-8"]
    assert len(store.runs()) == 10
    assert store.latest_run_id() == ids[-1]


def test_trend_queries(store: HistoryStore) -> None:
    for run in history_runs():
        store.add_run(run)
    trend = store.pass_rate_trend()
    assert len(trend) == 10
    assert trend[0].pass_rate == 3 / 4  # run 0: test_1 failed
    assert trend[-1].pass_rate == 3 / 4  # run 9: test_2 failed (broken)
    assert [p.flaky for p in trend].count(1) == 1
    statuses = store.statuses(last=10)
    flip_id = make_result(1).test_id
    assert statuses[flip_id] == [Status.FAILED, Status.PASSED] * 5
    flaky = store.flaky(last=10, threshold=0.3)
    assert [v.test_id for v in flaky] == [flip_id]
    assert flaky[0].signal == "history"
    assert flaky[0].flip_rate == 1.0
    assert store.broken(last=10) == [make_result(2).test_id]  # broken is not flaky
    slowest = store.slowest(limit=1, last=10)
    assert slowest[0].name == "test_3"
    assert slowest[0].p95 > slowest[0].p50
    names = store.names(last=10)
    assert names[replace(make_result(4), parameters={"browser": "firefox"}).test_id].parameters == {
        "browser": "firefox"
    }
    durations = store.durations(last=3)
    assert len(durations[make_result(3).test_id]) == 3
    insights = ctrf_insights(history_runs()[-1], store.runs(limit=5))  # stored rows as the baseline
    assert insights["runsAnalyzed"] == 6
    assert insights["passRate"]["baseline"] == pytest.approx((1.0 + 0.5 + 0.75 + 0.5 + 0.75) / 5)
    validate_ctrf(ctrf_document(history_runs()[-1], insights=insights))


def test_load_run_as_baseline(store: HistoryStore) -> None:
    runs = history_runs()
    run_id = store.add_run(runs[0])
    loaded = store.load_run(run_id)
    assert [t.test_id for t in loaded.tests] == [t.test_id for t in runs[0].tests]
    assert [t.status for t in loaded.tests] == [t.status for t in runs[0].tests]
    assert loaded.environment.commit == "c0"
    with pytest.raises(HistoryError, match="no run with id 999"):
        store.load_run(999)


def test_open_errors(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="cannot open the SQLite history store"):
        HistoryStore.open(tmp_path / "missing-dir" / "x.db")
    with pytest.raises(HistoryError, match="cannot open the PostgreSQL"):
        HistoryStore.open("postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")


def test_sqlite_url_and_memory(tmp_path: Path) -> None:
    path = tmp_path / "h.db"
    with HistoryStore.open(f"sqlite:///{path}") as store:
        store.add_run(make_run(5))
    with HistoryStore.open(path) as store:
        assert len(store.runs()) == 1
    with HistoryStore.open(":memory:") as store:
        assert store.runs() == []
        assert store.latest_run_id() is None


def test_rows_this_package_did_not_write_are_a_history_error(tmp_path: Path) -> None:
    # Regression: an unknown status or a bad duration in the store escaped as a bare ValueError.
    path = tmp_path / "h.db"
    with HistoryStore.open(path) as store:
        run_id = store.add_run(make_run(4, fail_every=2))
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE results SET status = 'bogus' WHERE rowid = 1")
        connection.execute("UPDATE results SET duration = 'x', parameters = '[1' WHERE rowid = 2")
    with HistoryStore.open(path) as store:
        for query in (lambda: store.load_run(run_id), store.statuses, store.names, store.flaky, store.slowest):
            with pytest.raises(HistoryError, match=f"history store {path}: holds an unknown status 'bogus'"):
                query()
        with pytest.raises(HistoryError, match="holds a duration that is not a number: 'x'"):
            store.durations()


def test_a_database_with_other_tables_is_a_history_error(tmp_path: Path) -> None:
    # Regression: a query on a table this package did not create raised a bare sqlite3 error.
    path = tmp_path / "other.db"
    with HistoryStore.open(path) as store:
        store.add_run(make_run(2))
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE results")
        connection.execute("CREATE TABLE results (run_id INTEGER, test_id TEXT)")
    with HistoryStore.open(path) as store:
        with pytest.raises(HistoryError, match=f"history store {path}: could not be read: no such column"):
            store.statuses()
        with pytest.raises(HistoryError, match=f"history store {path}: could not be written"):
            store.add_run(make_run(3))


def _selects(store: HistoryStore) -> list[str]:
    """The SELECT statements ``store`` runs from now on (sqlite's trace callback)."""
    statements: list[str] = []
    connection = store._db
    assert isinstance(connection, sqlite3.Connection)
    connection.set_trace_callback(statements.append)
    return statements


def _count(statements: list[str], table: str) -> int:
    return sum(1 for s in statements if s.lstrip().upper().startswith("SELECT") and f"FROM {table} " in s + " ")


def test_a_report_reads_the_store_once(tmp_path: Path) -> None:
    # Regression: the HTML report read the results of the last runs five times (flaky: names and
    # statuses; regressions: durations; each test's history: statuses and durations again).
    with HistoryStore.open(tmp_path / "history.db") as store:
        for night in range(4):
            store.add_run(make_run(60, fail_every=5 + night, flaky_every=9, start=1_700_000_000.0 + 86_400 * night))
        statements = _selects(store)
        write_html(make_run(60, fail_every=7), tmp_path / "report.html", history=store)
        assert (_count(statements, "results"), _count(statements, "runs")) == (1, 1), statements
        statements.clear()
        data = report_data(make_run(60, fail_every=7), history=store)
        assert (_count(statements, "results"), _count(statements, "runs")) == (1, 1), statements
        window = store.window(last=30)
    # What the report shows from the one read equals what each query gives on its own.
    with HistoryStore.open(tmp_path / "history.db") as store:
        assert window.statuses == store.statuses(last=30)
        assert window.durations == store.durations(last=30)
        assert window.names == store.names(last=30)
        assert window.pass_rate_trend() == store.pass_rate_trend(last=30)
    assert [point["run"] for point in data["trend"]] == [p.run_id for p in window.pass_rate_trend()]
