"""The `Sink` base class: buffering limits that follow reconfiguration, and the lines-only chain
(files and streams) storing exactly the bytes the record path stores."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink, SqliteSink, StreamSink, buffered, verify
from maestro_audit_logger._event import event_record

NS = 1_790_000_000_123_456_789


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


# -- the lines-only chain ---------------------------------------------------------------------
def test_lines_only_chain_stores_the_bytes_the_record_path_stores(tmp_path: Path) -> None:

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
