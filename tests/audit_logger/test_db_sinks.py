"""SQLite and PostgreSQL sinks on real databases: identical records, chains that verify,
indexed queries, and PostgreSQL stopped and restarted mid-run under fail-open."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from maestro_audit_logger import (
    Actor,
    AuditConfigError,
    AuditLogger,
    AuditReader,
    FailOpen,
    JsonlFileSink,
    PostgresSink,
    SqliteSink,
    Target,
    buffered,
    group_commit,
    verify,
)
from maestro_audit_logger._canonical import dumps
from maestro_audit_logger._sink import Record
from maestro_audit_logger.sinks.database import COLUMNS, row
from maestro_audit_logger.sinks.sqlite import PAGE_SIZE
from maestro_devtools.servers import start_server
from tests.fixtures import binaries
from tests.fixtures.pg_cluster import SUPERUSER, make_base_dir, new_cluster
from tests.fixtures.postgres import PostgresServer, os_user
from tests.fixtures.services import require
from tests.waiting import wait_until


def fill(audit: AuditLogger, n: int = 20) -> None:
    for i in range(n):
        audit.record(
            "invoice.update" if i % 2 else "auth.login",
            actor=Actor(f"u-{i % 3}"),
            targets=Target("invoice", str(i)),
            outcome="failure" if i % 5 == 0 else "success",
            tenant="acme" if i < 10 else "globex",
            extra={"i": i, "note": f"row {i}"},
        )


def test_sqlite_stores_identical_records_and_verifies(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    a = AuditLogger(SqliteSink(db, writer_id="w/1/a"), service="svc")
    b = AuditLogger(JsonlFileSink(tmp_path / "a.jsonl", writer_id="w/1/a"), service="svc")
    event = a.build("invoice.update", actor=Actor("u"), targets=Target("invoice", "1"), extra={"password": "p"})
    assert a.record(event) == b.record(event) == event.event_id
    a.close()
    b.close()
    [row] = AuditReader(f"sqlite://{db}").records()
    [line] = (tmp_path / "a.jsonl").read_bytes().splitlines()
    assert orjson.dumps(row) == line
    assert verify(db).ok


def test_sqlite_group_commit_from_threads_and_queries(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    audit = AuditLogger(f"sqlite://{db}", service="svc", durability=group_commit())
    threads = [threading.Thread(target=fill, args=(audit, 20)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    audit.close()
    reader = AuditReader(db)
    assert len(list(reader.records())) == 80
    assert len(list(reader.query(action="auth.*"))) == 40
    assert len(list(reader.query(actor="u-1", outcome="success"))) > 0
    assert all(r["actor"]["id"] == "u-1" for r in reader.query(actor="u-1"))
    assert len(list(reader.query(target="invoice:3"))) == 4
    assert len(list(reader.query(target="3"))) == 4
    assert len(list(reader.query(text="ROW 19"))) == 4
    assert len(list(reader.query(tenant="globex", limit=3))) == 3
    assert verify(db).ok
    import sqlite3

    conn = sqlite3.connect(db)
    plan = " ".join(
        str(r) for r in conn.execute("EXPLAIN QUERY PLAN SELECT record FROM audit_events WHERE actor_id = 'u'")
    )
    conn.close()
    assert "audit_events_actor_id_idx" in plan


def test_sqlite_tampering_is_pinpointed_by_row(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    audit = AuditLogger(SqliteSink(db), service="svc")
    fill(audit, 10)
    audit.close()
    import sqlite3

    conn = sqlite3.connect(db)
    conn.execute("UPDATE audit_events SET record = replace(record, 'row 4', 'row X') WHERE id = 5")
    conn.execute("DELETE FROM audit_events WHERE id = 8")
    conn.commit()
    conn.close()
    report = verify(db)
    assert [(p.kind, p.line, p.seq) for p in report.problems] == [("modified", 5, 4), ("gap", 9, 8)]


def _execute(source: str, sql: str) -> None:
    if source.startswith("postgresql://"):
        with psycopg.connect(source, autocommit=True) as pg:
            pg.execute(sql)  # type: ignore[arg-type]
        return
    with sqlite3.connect(source) as conn:
        conn.execute(sql)
    conn.close()


@pytest.mark.parametrize(
    ("column", "value"),
    [("actor_id", "evil"), ("action", "invoice.delete"), ("time", "1999-01-01T00:00:00Z"), ("targets", "|invoice:99|")],
)
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_edited_indexed_column_fails_verify_and_search_does_not_lie(
    kind: str, column: str, value: str, tmp_path: Path, request: Any
) -> None:
    # The hash covers the stored record, not the columns search filters on: editing a column
    # must fail verify (the column checked against the record), and search must neither return a
    # record its filter does not match nor miss one its record matches (filters on the record).
    source = str(tmp_path / "a.db") if kind == "sqlite" else request.getfixturevalue("postgres_dsn")
    audit = AuditLogger(SqliteSink(source) if kind == "sqlite" else PostgresSink(source), service="svc")
    fill(audit, 10)
    audit.close()
    assert verify(source).ok
    victim = list(AuditReader(source).records())[4]  # row id 5: auth.login by u-1, target invoice:4
    _execute(source, f"UPDATE audit_events SET {column} = '{value}' WHERE id = 5")  # noqa: S608
    report = verify(source)
    assert not report.ok
    assert [(p.kind, p.file, p.line, p.seq) for p in report.problems] == [("column_mismatch", "audit_events", 5, 4)]
    assert column in report.problems[0].message
    assert repr(value) in report.problems[0].message
    filters = {"actor_id": {"actor": value}, "action": {"action": value}, "targets": {"target": "invoice:99"}}
    found = list(AuditReader(source).query(**filters.get(column, {"until": "2000-01-01T00:00:00Z"})))
    assert victim["event_id"] not in [r["event_id"] for r in found]  # the edited column does not make it match
    assert found == []
    assert list(AuditReader(source).query(indexed=True, **filters.get(column, {"until": "2000-01-01T00:00:00Z"}))) == []
    # Untouched filters still find it (its record says what it is).
    assert victim in list(AuditReader(source).query(event_id=victim["event_id"]))
    # And so do the filters its edited column no longer matches: search reads the record.
    truth = {
        "actor_id": {"actor": "u-1"},
        "action": {"action": "auth.*"},
        "time": {"since": victim["time"]},
        "targets": {"target": "invoice:4"},
    }[column]
    assert [r["event_id"] for r in AuditReader(source).query(**truth)].count(victim["event_id"]) == 1
    # The opt-in indexed search trusts the columns: it misses it (documented; verify reports it).
    assert victim["event_id"] not in [r["event_id"] for r in AuditReader(source).query(indexed=True, **truth)]


def test_table_names_are_validated(tmp_path: Path) -> None:
    with pytest.raises(AuditConfigError, match="identifier"):
        SqliteSink(tmp_path / "a.db", table="x; drop table y")


def test_postgres_copy_batches_queries_and_verifies(postgres_dsn: str) -> None:
    audit = AuditLogger(PostgresSink(postgres_dsn), service="svc", durability=group_commit())
    threads = [threading.Thread(target=fill, args=(audit, 25)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    audit.close()
    reader = AuditReader(postgres_dsn)
    assert len(list(reader.records())) == 100
    assert len(list(reader.query(action="invoice.*", tenant="acme"))) == 20
    assert len(list(reader.query(target="invoice:7"))) == 4
    assert len(list(reader.query(text="row 24"))) == 4
    assert verify(postgres_dsn).ok
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'audit_events'")}
        conn.execute("""UPDATE audit_events SET record = replace(record, '"tenant":"', '"tenant":"x') WHERE id = 4""")
    assert {"audit_events_action_idx", "audit_events_actor_id_idx", "audit_events_time_idx"} <= indexes
    first = verify(postgres_dsn).first
    assert first is not None
    assert (first.kind, first.line) == ("modified", 4)


def test_postgres_copy_escapes_awkward_values_and_stores_them_exactly(postgres_dsn: str) -> None:
    # The COPY text payload is built by hand: tabs, backslashes, quotes, line breaks, \\N and
    # non-ASCII text in any column must arrive unchanged, and the chain must still verify.
    awkward = 'tab\there \\ back "quoted" line\nbreak\r \\N é'
    audit = AuditLogger(PostgresSink(postgres_dsn), service="svc")
    for logger in (audit,):
        logger.record(
            "invoice.update",
            actor=Actor("u\t1", name=awkward),
            targets=Target("invoice", "a\\b"),
            request_id="r\t\\N",
            tenant="é",
            extra={"note": awkward},
        )
        logger.record("invoice.update", actor=Actor("u-2"), tenant=None)
    audit.close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT actor_id, request_id, tenant, targets, record FROM audit_events ORDER BY id"
        ).fetchall()
    assert rows[0][:4] == ("u\t1", "r\t\\N", "é", "|invoice:a\\b|")
    assert rows[1][1:3] == (None, None)
    stored = orjson.loads(rows[0][4])
    assert stored["extra"]["note"] == awkward
    assert stored["actor"]["name"] == awkward
    assert verify(postgres_dsn).ok


def accepts_connections(dsn: str) -> bool:
    try:
        psycopg.connect(dsn, connect_timeout=2).close()
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def restartable_postgres() -> Iterator[tuple[PostgresServer, object]]:
    initdb = require(binaries.pg_binary("initdb"), "PostgreSQL (initdb)", "postgresql")
    bin_dir = initdb.parent
    user = os_user()
    base = make_base_dir(user)
    data_dir = new_cluster(bin_dir, base, user)

    def argv(port: int) -> list[str]:
        return [
            str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port), "-h", "127.0.0.1",
            "-k", str(base / "socket"), "-c", "fsync=off", "-c", "max_connections=20",
        ]  # fmt: skip

    holder: dict[str, object] = {}

    def start(port: int | None = None) -> PostgresServer:
        process = start_server("postgres", argv, log_path=base / "postgres.log", user=user, cwd=base, port=port)
        server = PostgresServer(process, SUPERUSER, data_dir)
        holder["server"] = server
        return server

    server = start()
    try:
        yield server, start
    finally:
        current = holder["server"]
        assert isinstance(current, PostgresServer)
        current.process.stop(signal.SIGINT)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_postgres_stopped_and_restarted_mid_run_loses_nothing(tmp_path: Path) -> None:
    with restartable_postgres() as (server, start):
        dsn = server.dsn
        wait_until(lambda: accepts_connections(dsn), what="PostgreSQL to accept connections")
        spool = tmp_path / "spool.jsonl"
        sink = PostgresSink(dsn, connect_timeout=1)
        audit = AuditLogger(
            sink,
            service="svc",
            durability=group_commit(),
            failure_policy=FailOpen(spool, retry_interval_s=0.05),
        )
        for i in range(50):
            audit.record("a.b", actor=Actor("u"), extra={"i": i})
        server.process.stop(signal.SIGINT)
        for i in range(50, 100):
            audit.record("a.b", actor=Actor("u"), extra={"i": i})
        assert audit.stats.spooled == 50
        assert audit.stats.spool_pending == 50
        start(server.port)  # type: ignore[operator]
        wait_until(lambda: accepts_connections(dsn), what="PostgreSQL to accept connections again")
        # The next record replays the spool once the retry interval since the last failed
        # attempt has passed.
        wait_until(lambda: time.monotonic() >= sink._next_retry, what="the spool's retry interval")
        for i in range(100, 120):
            audit.record("a.b", actor=Actor("u"), extra={"i": i})
        audit.close()
        assert audit.stats.spool_pending == 0
        assert audit.stats.replayed == 50
        records = list(AuditReader(dsn).records())
        assert [r["extra"]["i"] for r in records] == list(range(120))
        assert [r["seq"] for r in records] == list(range(120))
        assert verify(dsn).ok


def test_postgres_describe_hides_the_dsn(postgres_dsn: str) -> None:
    sink = PostgresSink(postgres_dsn.replace("postgresql://postgres@", "postgresql://postgres:hunter2@"))
    try:
        assert "hunter2" not in repr(sink.describe())
        assert sink.describe()["kind"] == "postgresql"
    finally:
        sink.close()


def test_postgres_columns_from_record_dicts_equal_those_parsed_from_the_stored_line(postgres_dsn: str) -> None:
    # The sink fills the indexed columns from the record dict `record` built; replayed events
    # (`emit`, the spool) have only their body, parsed. Both must give the same row.
    audit = AuditLogger(PostgresSink(postgres_dsn), service="svc", durability=buffered(max_batch=4))
    fill(audit, 6)
    audit.close()
    sink = PostgresSink(postgres_dsn, writer_id="w/2/replayed")
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        bodies = [r[0] for r in conn.execute("SELECT record FROM audit_events ORDER BY id").fetchall()]
    chain = ("prev", "seq", "writer", "hash")
    sink.emit([dumps({k: v for k, v in orjson.loads(b).items() if k not in chain}) for b in bodies])
    sink.close()
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        stored = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_events ORDER BY id").fetchall()  # noqa: S608
    assert len(stored) == 12
    for r in stored:
        line = r[-1].encode()
        d = orjson.loads(line)
        rec = Record(line[: line.rindex(b',"hash"')] + b"}", line + b"\n", d["hash"], d["writer"], d["seq"], d["prev"])
        assert row(rec) == r
    # The same six events stored again under another writer: verify names each copy.
    assert [(p.kind, p.line) for p in verify(postgres_dsn).problems] == [("duplicate", i) for i in range(7, 13)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_forked_child_writes_through_its_own_connection(kind: str, tmp_path: Path, request: Any) -> None:
    # The child must neither use nor close the parent's connection: closing a PostgreSQL one
    # would end the parent's session; SQLite forbids using one across fork.
    source = str(tmp_path / "a.db") if kind == "sqlite" else request.getfixturevalue("postgres_dsn")
    sink = SqliteSink(source) if kind == "sqlite" else PostgresSink(source)
    audit = AuditLogger(sink, service="svc")
    fill(audit, 3)  # the parent's connection is open and used
    parent_conn = sink._conn
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            fill(audit, 4)
            own = sink._conn not in (None, parent_conn)  # wrote through its own connection
            audit.close()  # closes the child's connection, not the parent's
            code = 0 if own else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert sink._conn is parent_conn
    fill(audit, 2)  # the parent's connection still works after the child closed its sink
    audit.close()
    records = list(AuditReader(source).records())
    assert len(records) == 9
    assert len({r["writer"] for r in records}) == 2  # the child chained under its own writer id
    assert verify(source).ok


def test_targets_column_text_for_zero_one_and_many_targets() -> None:
    from maestro_audit_logger.sinks.database import targets_text

    assert targets_text(None) == targets_text([]) == ""
    assert targets_text([{"type": "invoice", "id": "7"}]) == "|invoice:7|"
    assert targets_text([{"type": "invoice", "id": "7"}, {"type": "user", "id": "u"}]) == "|invoice:7|user:u|"


# -- SQLite -----------------------------------------------------------------------------------
def test_sqlite_sink_creates_16k_pages_and_keeps_an_existing_databases_size(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    with AuditLogger(SqliteSink(new), service="s") as audit:
        audit.record("a.b", actor=Actor("u"))
    assert sqlite3.connect(new).execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 16384

    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA page_size=4096")
    conn.execute("CREATE TABLE keep (x)")
    conn.commit()
    conn.close()
    with AuditLogger(SqliteSink(old), service="s") as audit:
        for _ in range(50):
            audit.record("a.b", actor=Actor("u"), extra={"t": time.time_ns()})
    assert sqlite3.connect(old).execute("PRAGMA page_size").fetchone()[0] == 4096
    report = verify(old)
    assert report.ok
    assert report.records == 50
