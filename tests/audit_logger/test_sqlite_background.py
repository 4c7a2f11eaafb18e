"""The SQLite sink's background writer (``buffered`` mode) on a real database file: rows identical
to the synchronous path, failures injected with a trigger that RAISEs (fail-closed raises on the
next call, fail-open spools and replays), back-pressure bounds memory, flush/close/aclose drain."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from maestro_audit_logger import (
    Actor,
    AuditConfigError,
    AuditLogger,
    AuditWriteError,
    FailOpen,
    SqliteSink,
    Target,
    buffered,
    flush,
    verify,
)
from maestro_audit_logger._sink import Record
from maestro_audit_logger.sinks.database import COLUMNS, row
from tests.waiting import wait_until

pytestmark = pytest.mark.timing  # races real threads/processes/servers: CI also runs it under load

BATCH = 16


def record(audit: AuditLogger, i: int) -> str:
    return audit.record(
        "invoice.update" if i % 2 else "auth.login",
        actor=Actor(f"u-{i % 3}"),
        targets=[Target("invoice", str(i))] if i % 3 else [Target("invoice", str(i)), Target("customer", "c")],
        tenant="acme",
        request_id=f"req-{i}",
        extra={"i": i},
    )


def rows(db: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_events ORDER BY id").fetchall()  # noqa: S608
    finally:
        conn.close()


def injector(db: Path) -> sqlite3.Connection:
    """A second connection that makes every insert fail while ``fail`` holds 1."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE ctl (fail INTEGER)")
    conn.execute("INSERT INTO ctl VALUES (0)")
    conn.execute(
        "CREATE TRIGGER inject BEFORE INSERT ON audit_events WHEN (SELECT fail FROM ctl) = 1 "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
    )
    return conn


def assert_columns_match(stored: list[tuple[Any, ...]]) -> None:
    """Every row's columns equal those `row` parses from its stored line."""
    assert stored
    for r in stored:
        line = r[-1].encode()
        d = orjson.loads(line)
        rec = Record(line[: line.rindex(b',"hash"')] + b"}", line + b"\n", d["hash"], d["writer"], d["seq"], d["prev"])
        assert row(rec) == r


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("maestro-audit-writer")]


def test_full_batches_are_written_by_one_background_thread_with_identical_rows(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    sink = SqliteSink(db, writer_id="w/1/bg", background=True)
    audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=BATCH))
    stores: list[str] = []
    original = sink._store_payload

    def store(records: list[Record], values: list[Any]) -> None:
        stores.append(threading.current_thread().name)
        original(records, values)

    sink._store_payload = store  # type: ignore[method-assign]
    ids = [record(audit, i) for i in range(5 * BATCH + 3)]
    wait_until(lambda: len(stores) == 5 and not sink._busy, what="five batches stored by the writer")
    assert len(rows(db)) == 5 * BATCH  # written before close: the background thread did it
    assert set(stores) == {n for n in stores if n.startswith("maestro-audit-writer")}
    audit.close()
    assert stores[-1] == threading.current_thread().name  # close drains the rest in the caller
    assert writer_threads() == []  # close joined the writer
    stored = rows(db)
    assert [r[0] for r in stored] == ids
    assert_columns_match(stored)  # filled from the record dicts
    assert sink._fields == {}
    assert verify(db).ok


def test_flush_mode_stays_synchronous(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    audit = AuditLogger(SqliteSink(db, background=True), service="svc", durability=flush())
    record(audit, 0)
    assert len(rows(db)) == 1  # committed before record() returned
    audit.close()
    assert writer_threads() == []


def test_background_writer_is_opt_in(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    audit = AuditLogger(SqliteSink(db), service="svc", durability=buffered(max_batch=BATCH))
    for i in range(BATCH):
        record(audit, i)
    assert len(rows(db)) == BATCH  # the caller wrote the full batch itself
    assert writer_threads() == []
    audit.close()
    with pytest.raises(AuditConfigError, match="background must be True or False"):
        SqliteSink(tmp_path / "b.db", background="yes")  # type: ignore[arg-type]


def test_fail_closed_background_failure_raises_on_next_record_and_keeps_the_events(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    sink = SqliteSink(db, background=True)
    audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=BATCH))
    ctl = injector(db)
    ctl.execute("UPDATE ctl SET fail = 1")
    accepted = [record(audit, i) for i in range(BATCH)]  # the last one hands the batch off
    wait_until(lambda: sink.stats.failures == 1 and not sink._busy, what="the failed background write")
    with pytest.raises(AuditWriteError, match=r"injected failure \(16 buffered events kept for retry\)"):
        record(audit, 99)  # refused: the service can refuse the action
    ctl.execute("UPDATE ctl SET fail = 0")
    ctl.close()
    # Reported once: accepted again; the kept batch is full, so the next record hands it off again.
    accepted += [record(audit, i) for i in range(BATCH, BATCH + 3)]
    wait_until(lambda: not sink._busy, what="the writer to finish")
    assert [r[0] for r in rows(db)] == accepted[:-2]  # the retried batch, then the first new event
    audit.close()
    stored = [r[0] for r in rows(db)]
    assert stored == accepted  # the failed batch was retried first, in order; the refused event is absent
    assert verify(db).ok


def test_fail_closed_background_failure_raises_from_flush_then_flush_retries(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    sink = SqliteSink(db, background=True)
    audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=BATCH))
    ctl = injector(db)
    ctl.execute("UPDATE ctl SET fail = 1")
    ids = [record(audit, i) for i in range(BATCH)]  # the last one hands the batch off
    with pytest.raises(AuditWriteError, match="injected failure"):
        audit.flush()  # waits for the writer, reports its failure
    ctl.execute("UPDATE ctl SET fail = 0")
    audit.flush()  # the kept events are written now
    assert [r[0] for r in rows(db)] == ids
    ctl.close()
    audit.close()


def test_fail_closed_background_failure_raises_from_close_after_draining(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    sink = SqliteSink(db, background=True)
    audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=BATCH))
    ctl = injector(db)
    ctl.execute("UPDATE ctl SET fail = 1")
    ids = [record(audit, i) for i in range(BATCH)]
    wait_until(lambda: sink.stats.failures == 1 and not sink._busy, what="the failed background write")
    ctl.execute("UPDATE ctl SET fail = 0")
    ctl.close()
    with pytest.raises(AuditWriteError, match="injected failure"):
        audit.close()
    assert [r[0] for r in rows(db)] == ids  # close retried them before reporting the failure
    assert writer_threads() == []


def test_fail_open_background_failure_spools_and_replays_in_order(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    sink = SqliteSink(db, background=True)
    audit = AuditLogger(
        sink,
        service="svc",
        durability=buffered(max_batch=BATCH),
        failure_policy=FailOpen(tmp_path / "spool" / "audit.spool", retry_interval_s=0),
    )
    ctl = injector(db)
    ctl.execute("UPDATE ctl SET fail = 1")
    ids = [record(audit, i) for i in range(2 * BATCH)]  # never raises
    wait_until(lambda: sink.stats.spooled == 2 * BATCH and not sink._busy, what="both batches spooled")
    assert rows(db) == []
    ctl.execute("UPDATE ctl SET fail = 0")
    ctl.close()
    ids += [record(audit, i) for i in range(2 * BATCH, 2 * BATCH + 5)]
    audit.close()
    assert [r[0] for r in rows(db)] == ids  # replayed first, in order, then the rest
    assert_columns_match(rows(db))  # replayed events had their bodies parsed: same columns
    assert sink.stats.replayed == 2 * BATCH
    assert sink.stats.spool_pending == 0
    assert verify(db).ok


def test_back_pressure_one_batch_in_flight_and_one_filling(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    sink = SqliteSink(db, background=True)
    audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=BATCH))
    release = threading.Event()
    original = sink._store_payload

    def blocked_store(records: list[Record], values: list[Any]) -> None:
        release.wait()  # the writer stays busy with the first batch until the test says
        original(records, values)

    sink._store_payload = blocked_store  # type: ignore[method-assign]
    blocked: list[str] = []  # threads that waited on the sink's condition (back-pressure)
    real_wait = sink._cond.wait

    def noting_wait(timeout: float | None = None) -> bool:
        blocked.append(threading.current_thread().name)
        return real_wait(timeout)

    sink._cond.wait = noting_wait  # type: ignore[method-assign]
    done = threading.Event()

    def produce() -> None:
        for i in range(3 * BATCH):
            record(audit, i)
        done.set()

    producer = threading.Thread(target=produce, name="producer")
    producer.start()
    try:
        # The second batch is full and its producer waits for the batch in flight ...
        wait_until(lambda: "producer" in blocked, what="the producer to wait for the writer")
        assert not done.is_set()
        assert len(sink._batch.bodies) == BATCH  # ... memory: one batch in flight, one filling
    finally:
        release.set()
    producer.join()
    assert done.is_set()
    audit.close()
    assert len(rows(db)) == 3 * BATCH
    assert verify(db).ok


async def test_arecord_and_aclose_drain_through_the_background_writer(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    audit = AuditLogger(SqliteSink(db, background=True), service="svc", durability=buffered(max_batch=BATCH))
    ids = await asyncio.gather(*(audit.arecord("invoice.update", actor=Actor("u"), extra={"i": i}) for i in range(100)))
    await audit.aclose()
    assert sorted(r[0] for r in rows(db)) == sorted(ids)
    assert writer_threads() == []
    assert verify(db).ok


# -- verify reads databases in chunks and checks single-writer runs in bulk ----------------------


def _per_line(db: Path) -> list[tuple[str, int | None, int | None]]:
    from maestro_audit_logger._reader import database_rows
    from maestro_audit_logger._verify import VerifyReport, _Chains, _scan_lines

    report = VerifyReport(str(db))
    chains = _Chains(report, 100)
    rows = [(row_id, line) for _, row_id, line in database_rows(str(db))]
    lines = [line for _, line in rows]
    chains.note_ids(b"\n".join(lines), lines, [row_id for row_id, _ in rows])  # as verify does, per chunk
    _scan_lines(rows, "audit_events", chains)
    chains.report_dups("audit_events")
    return [(p.kind, p.line, p.seq) for p in report.problems]


@pytest.mark.parametrize(
    ("tamper", "detected"),
    [
        ("UPDATE audit_events SET record = replace(record, '\"i\":1500', '\"i\":1501') WHERE id = 1501", True),
        ("DELETE FROM audit_events WHERE id = 2100", True),
        ("UPDATE audit_events SET record = (SELECT record FROM audit_events WHERE id = 10) WHERE id = 1800", True),
        ("DELETE FROM audit_events WHERE id > 2990", False),  # from the end: only a checkpoint tells
        ("", False),
    ],
)
def test_database_verify_bulk_path_reports_what_the_per_line_path_reports(
    tmp_path: Path, tamper: str, detected: bool
) -> None:
    db = tmp_path / "a.db"
    sink = SqliteSink(db, writer_id="w/1/a", checkpoint=False)  # the chains alone
    audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=512))
    for i in range(3000):
        audit.record("invoice.update", actor=Actor("u"), targets=Target("invoice", str(i)), extra={"i": i})
    audit.close()
    if tamper:
        conn = sqlite3.connect(db)
        conn.execute(tamper)
        conn.commit()
        conn.close()
    report = verify(db)
    chain_problems = [(p.kind, p.line, p.seq) for p in report.problems if p.kind != "column_mismatch"]
    assert chain_problems == _per_line(db)
    assert report.ok is not detected
    # A record copied over another row disagrees with that row's columns too.
    copied = [(p.kind, p.line) for p in report.problems if p.kind == "column_mismatch"]
    assert copied == ([("column_mismatch", 1800)] if "id = 10)" in tamper else [])
    if not tamper:
        assert report.records == 3000


def test_database_verify_reads_a_utf16_database_too(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.execute("CREATE TABLE x (y)")  # fixes the encoding
    conn.close()
    with AuditLogger(SqliteSink(db), service="svc") as audit:
        for i in range(5):
            record(audit, i)
    report = verify(db)
    assert report.ok, report.problems
    assert report.records == 5
