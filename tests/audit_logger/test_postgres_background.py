"""PostgresSink(background=True) on a real server: the caller chains and builds the COPY text,
one writer thread stores it; nothing is lost or reordered when a write fails."""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from maestro_audit_logger import AuditConfigError, AuditLogger, AuditWriteError, PostgresSink, buffered, verify
from maestro_audit_logger._sink import Record
from maestro_audit_logger.sinks.database import COLUMNS
from maestro_audit_logger.sinks.postgres import create_schema
from tests.audit_logger.test_sqlite_background import BATCH, assert_columns_match, record, writer_threads
from tests.waiting import wait_until

pytestmark = pytest.mark.timing  # races real threads/processes/servers: CI also runs it under load


def rows(dsn: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_events ORDER BY id").fetchall()  # noqa: S608


def test_caller_prepares_and_the_writer_thread_stores_identical_rows(postgres_dsn: str) -> None:
    sink = PostgresSink(postgres_dsn, writer_id="w/1/pgbg", background=True)
    audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=BATCH))
    prepared_in: list[str] = []
    stored_in: list[str] = []
    payload, store_payload = sink._payload, sink._store_payload

    def spy_payload(records: list[Record]) -> bytes:
        prepared_in.append(threading.current_thread().name)
        return payload(records)

    def spy_store(records: list[Record], data: bytes) -> None:
        stored_in.append(threading.current_thread().name)
        store_payload(records, data)

    sink._payload = spy_payload  # type: ignore[method-assign]
    sink._store_payload = spy_store  # type: ignore[method-assign]
    me = threading.current_thread().name
    ids = [record(audit, i) for i in range(4 * BATCH + 5)]
    wait_until(lambda: len(stored_in) == 4 and not sink._busy, what="four batches stored by the writer")
    assert len(rows(postgres_dsn)) == 4 * BATCH  # stored before close, by the writer thread
    assert prepared_in == [me] * 4  # COPY text built by the thread that filled each batch
    assert all(name.startswith("maestro-audit-writer") for name in stored_in)
    audit.close()
    assert writer_threads() == []
    stored = rows(postgres_dsn)
    assert [r[0] for r in stored] == ids
    assert_columns_match(stored)
    assert sink._fields == {}
    assert verify(postgres_dsn).ok


def test_a_failed_background_write_raises_once_and_loses_nothing(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn, autocommit=True) as ctl:
        create_schema(ctl, "audit_events")  # the sink connects (and creates it) on its first write
        sink = PostgresSink(postgres_dsn, background=True)
        ctl.execute("CREATE TABLE ctl (fail BOOLEAN)")
        ctl.execute("INSERT INTO ctl VALUES (false)")
        ctl.execute(
            "CREATE FUNCTION inject() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF (SELECT fail FROM ctl) THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$"
        )
        ctl.execute("CREATE TRIGGER inject BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION inject()")
        audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=BATCH))
        ids = [record(audit, i) for i in range(BATCH)]  # one full batch: handed off and stored
        wait_until(lambda: not sink._busy, what="the writer to finish")
        ctl.execute("UPDATE ctl SET fail = true")
        ids += [record(audit, i) for i in range(BATCH, 2 * BATCH)]  # handed off: fails in the writer
        wait_until(lambda: not sink._busy, what="the writer to finish")
        with pytest.raises(AuditWriteError, match="injected failure"):
            record(audit, 2 * BATCH)  # the failure is reported to the next caller, once
        ctl.execute("UPDATE ctl SET fail = false")
        ids += [record(audit, i) for i in range(2 * BATCH + 1, 2 * BATCH + 4)]
        audit.close()  # the kept batch is written first, then the rest
    stored = rows(postgres_dsn)
    assert [r[0] for r in stored] == ids
    assert_columns_match(stored)
    assert verify(postgres_dsn).ok


def test_background_must_be_a_bool(postgres_dsn: str) -> None:
    with pytest.raises(AuditConfigError, match="background"):
        PostgresSink(postgres_dsn, background="yes")  # type: ignore[arg-type]
