"""The record() hot path: counter-based UUIDv7 ids, the in-place redaction plan, the sink's
flattened buffering limits and the SQLite page size. Each shortcut must give exactly what the
general path gives."""

from __future__ import annotations

import copy
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maestro_audit_logger import (
    Actor,
    AuditLogger,
    JsonlFileSink,
    Redactor,
    SqliteSink,
    Target,
    _clock,
    buffered,
    verify,
)
from maestro_audit_logger._clock import uuid7
from maestro_audit_logger._event import event_record
from maestro_audit_logger._sqlite import PAGE_SIZE

NS = 1_790_000_000_123_456_789


@pytest.fixture(autouse=True)
def fresh_uuid_state() -> Iterator[None]:
    # These tests use fixed times (older than now): start from, and leave, a fresh state.
    _clock._reset_after_fork()
    yield
    _clock._reset_after_fork()


# -- UUIDv7 ---------------------------------------------------------------------------------
def test_uuid7_ids_of_one_millisecond_are_valid_and_strictly_increasing() -> None:
    ids = [uuid7(NS + i) for i in range(2000)]  # all within one millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    for text in (ids[0], ids[-1]):
        value = uuid.UUID(text)
        assert str(value) == text
        assert value.version == 7
        assert value.variant == uuid.RFC_4122
        assert value.int >> 80 == NS // 1_000_000


def test_uuid7_new_millisecond_draws_new_random_bits_and_sorts_after() -> None:
    first = uuid7(NS)
    later = uuid7(NS + 1_000_000)
    assert later > first
    assert later[:8] + later[9:13] != first[:8] + first[9:13]  # the time field moved on
    # An older time (a given past timestamp) still gets a valid id carrying that millisecond.
    past = uuid7(NS - 5_000_000)
    assert uuid.UUID(past).int >> 80 == (NS - 5_000_000) // 1_000_000
    assert uuid7(NS + 1_000_001) > later  # and the current millisecond's counter is untouched


def test_uuid7_is_unique_across_threads_and_monotonic_per_thread() -> None:
    per_thread: dict[int, list[str]] = {}
    start = threading.Barrier(4)

    def work(k: int) -> None:
        start.wait()
        # Non-decreasing times crossing several milliseconds, as a real clock gives.
        per_thread[k] = [uuid7(NS + i * 1_000) for i in range(6000)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for ids in per_thread.values() for i in ids]
    assert len(set(everything)) == len(everything) == 24_000
    for ids in per_thread.values():
        # Ids of one millisecond come from that millisecond's single counter (or, for a thread
        # that a faster thread has left behind, a fresh random id), so each id's millisecond
        # never goes backwards and every id is a valid UUIDv7.
        ms = [uuid.UUID(i).int >> 80 for i in ids]
        assert ms == sorted(ms)
    single = [uuid7(NS + 10_000_000 + i * 1_000) for i in range(5000)]
    assert single == sorted(single)  # one thread alone: strictly increasing


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_uuid7_forked_child_does_not_continue_the_parents_counter() -> None:
    parent_first = uuid7(NS + 50_000_000)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.write(write, uuid7(NS + 50_000_000).encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent_next = uuid7(NS + 50_000_000)
    assert parent_next > parent_first
    assert child != parent_next
    # The child drew its own random bits for this millisecond instead of reusing the parent's.
    assert child[:24] != parent_first[:24]


def test_uuid7_reset_hook_forgets_the_cached_millisecond() -> None:
    a = uuid7(NS + 70_000_000)
    _clock._reset_after_fork()
    b = uuid7(NS + 70_000_000)
    assert a[:24] != b[:24]


def test_record_ids_increase_within_a_millisecond(tmp_path: Path) -> None:
    ticks = iter(range(NS, NS + 500_000, 1_000))  # 500 events within one millisecond
    with AuditLogger(tmp_path / "a.jsonl", service="s", clock=lambda: next(ticks)) as audit:
        ids = [audit.record("a.b", actor=Actor("u")) for _ in range(500)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 500
    assert {uuid.UUID(i).int >> 80 for i in ids} == {NS // 1_000_000}


# -- the redaction plan -----------------------------------------------------------------------
SECRET_LOOKING = st.sampled_from(
    [
        "Bearer abcdefghijklmnop",
        "4111 1111 1111 1111",
        "4111 1111 1111 1112",
        "AKIAIOSFODNN7EXAMPLE",
        "password=hunter2",
        "aws_secret_access_key=" + "A" * 40,
        "EUR",
        "customer-request",
        "plain words here",
        "",
    ]
)
KEYS = st.sampled_from(
    ["password", "Password", "TOKEN", "api_key", "email", "Email", "name", "amount", "note", "nested", "items"]
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    SECRET_LOOKING,
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=20,
)
REDACTORS = [
    Redactor(),
    Redactor(pii_fields={"email", "name"}, pii_key=b"k" * 32),
    Redactor(patterns=False, extra_secret_keys={"note"}),
]


@settings(max_examples=150, deadline=None)
@given(
    extra=st.dictionaries(KEYS, VALUES, max_size=6),
    changes=st.none() | st.dictionaries(KEYS, st.tuples(SCALARS, SCALARS).map(list), max_size=3),
    reason=st.none() | SECRET_LOOKING.filter(bool),
    which=st.integers(0, len(REDACTORS) - 1),
)
def test_in_place_redaction_plan_gives_what_redact_record_gives(
    extra: dict[str, Any], changes: dict[str, Any] | None, reason: str | None, which: int
) -> None:
    redactor = REDACTORS[which]
    record = event_record(
        "invoice.update", Actor("u-1", name="Ann"), Target("invoice", "1"), "success", reason, None, changes,
        None, "info", "billing", None, None, None, None, None, extra, NS, "",
    )  # fmt: skip
    expected = redactor.redact_record(copy.deepcopy(record))
    got = redactor._redact_owned(record)
    assert got == expected
    assert orjson.dumps(got, option=orjson.OPT_SORT_KEYS) == orjson.dumps(expected, option=orjson.OPT_SORT_KEYS)


def test_record_never_mutates_the_callers_extra() -> None:
    from maestro_audit_logger.testing import capture

    extra = {"password": "hunter2", "note": "Bearer abcdefghijklmnop", "items": [{"token": "t"}]}
    before = copy.deepcopy(extra)
    with capture() as events:
        AuditLogger(JsonlFileSink(os.devnull), service="s").record("a.b", actor=Actor("u"), extra=extra)
    assert extra == before
    assert events[0]["extra"] == {"password": "[REDACTED]", "note": "[REDACTED]", "items": [{"token": "[REDACTED]"}]}


def test_a_subclass_overriding_a_step_is_honoured_by_record(tmp_path: Path) -> None:
    class Upper(Redactor):
        def redact_text(self, text: str) -> str:
            return text.upper()

    audit = AuditLogger(tmp_path / "a.jsonl", service="s", redaction=Upper())
    audit.record("a.b", actor=Actor("u"), extra={"note": "hello world"})
    audit.close()
    assert b'"note":"HELLO WORLD"' in (tmp_path / "a.jsonl").read_bytes()


# -- the sink's buffering limits --------------------------------------------------------------
def test_buffered_limits_follow_reconfiguration(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    audit = AuditLogger(path, service="s", durability=buffered(max_batch=3))
    for _ in range(2):
        audit.record("a.b", actor=Actor("u"))
    assert path.read_bytes() == b""  # held
    audit.record("a.b", actor=Actor("u"))
    assert path.read_bytes().count(b"\n") == 3  # the third fills the batch
    audit.sink.configure(durability=buffered(buffer_bytes=1, max_batch=1000))
    audit.record("a.b", actor=Actor("u"))
    assert path.read_bytes().count(b"\n") == 4  # over buffer_bytes: written at once
    audit.close()
    assert verify(path).ok


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


# -- the lines-only chain ---------------------------------------------------------------------
def test_lines_only_chain_stores_the_bytes_the_record_path_stores(tmp_path: Path) -> None:
    from maestro_audit_logger import StreamSink

    class ViaRecords(JsonlFileSink):
        def _store(self, records: list[Any]) -> None:
            super()._store(records)

    bodies = [
        orjson.dumps(
            event_record(
                "a.b", Actor("u"), (), "success", None, None, None, None, "info", "s", None, f"r-{i}",
                None, None, None, {"text": "x" * i}, NS + i, "",
            ),
            option=orjson.OPT_SORT_KEYS,
        )
        for i in range(40)
    ]  # fmt: skip
    fast = JsonlFileSink(tmp_path / "fast.jsonl", writer_id="w-1")
    slow = ViaRecords(tmp_path / "slow.jsonl", writer_id="w-1")
    assert fast._lines_only
    assert not slow._lines_only
    db = SqliteSink(tmp_path / "a.db", writer_id="w-1")
    with (tmp_path / "stream.jsonl").open("wb") as fh:
        stream = StreamSink(fh, writer_id="w-1")
        assert stream._lines_only
        for sink in (fast, slow, db, stream):
            sink.configure(durability=buffered(max_batch=7))
            for i in range(0, 40, 5):
                sink.emit(bodies[i : i + 5])
            sink.close()
    data = (tmp_path / "fast.jsonl").read_bytes()
    assert data == (tmp_path / "slow.jsonl").read_bytes() == (tmp_path / "stream.jsonl").read_bytes()
    stored = [
        r[0] + "\n" for r in sqlite3.connect(tmp_path / "a.db").execute("SELECT record FROM audit_events ORDER BY id")
    ]
    assert "".join(stored).encode() == data
    assert fast._seq == slow._seq == 40
    assert fast._prev == slow._prev
    report = verify(tmp_path / "fast.jsonl")
    assert report.ok
    assert report.records == 40
