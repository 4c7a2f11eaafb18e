"""The `Store` protocol: your own store under a `StoreSink` gets the chain, the durability modes
and the failure policy; the guide's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maestro_audit_logger import (
    Actor,
    AuditConfigError,
    AuditLogger,
    AuditWriteError,
    FailOpen,
    Store,
    StoreSink,
    fsync_each,
    verify,
)
from maestro_audit_logger.sinks import FileStore, StreamStore

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "audit-logger" / "guide.md"


def test_the_guides_store_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = GUIDE.read_text()
    section = text[text.index("### Your own store") :]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None
    monkeypatch.chdir(tmp_path)
    exec(compile(code.group(1), str(GUIDE), "exec"), {"__name__": "guide_example"})  # noqa: S102
    assert verify(tmp_path / "audit.jsonl").ok


class FlakyStore:
    """Keeps lines in a list; fails while ``down`` (nothing kept), like a store gone away."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.syncs = 0
        self.down = False
        self.closed = 0

    def store_lines(self, lines: list[bytes]) -> None:
        if self.down:
            raise ConnectionError("store unreachable")
        self.lines.extend(lines)

    def sync(self) -> None:
        self.syncs += 1

    def close(self) -> None:
        self.closed += 1


def test_a_store_gets_chained_lines_syncs_and_one_close(tmp_path: Path) -> None:
    store = FlakyStore()
    assert isinstance(store, Store)
    with AuditLogger(store, service="billing", durability=fsync_each()) as audit:  # wrapped in a StoreSink
        for i in range(3):
            audit.record("invoice.update", actor=Actor("u-1"), extra={"i": i})
    assert store.syncs == 3
    assert store.closed == 1
    log = tmp_path / "copy.jsonl"
    log.write_bytes(b"".join(store.lines))
    assert verify(log).ok


def test_store_failures_follow_the_failure_policy(tmp_path: Path) -> None:
    store = FlakyStore()
    sink = StoreSink(store, failure_types=(ConnectionError,))
    audit = AuditLogger(sink, service="billing")
    audit.record("a.b", actor=Actor("u"))
    store.down = True
    with pytest.raises(AuditWriteError, match="store unreachable"):
        audit.record("a.b", actor=Actor("u"))
    store.down = False
    audit.record("a.b", actor=Actor("u"))
    audit.close()
    log = tmp_path / "a.jsonl"
    log.write_bytes(b"".join(store.lines))
    report = verify(log)
    assert report.ok, report.problems  # the chain advanced only over what was stored
    assert report.records == 2

    spooled = FlakyStore()
    spooled.down = True
    audit2 = AuditLogger(
        StoreSink(spooled, failure_types=(ConnectionError,)),
        service="billing",
        failure_policy=FailOpen(tmp_path / "spool", retry_interval_s=0),
    )
    audit2.record("a.b", actor=Actor("u"))  # spooled, not raised
    assert audit2.stats.spool_pending == 1
    spooled.down = False
    audit2.record("a.b", actor=Actor("u"))  # the spool is replayed first
    audit2.close()
    assert len(spooled.lines) == 2


def test_a_store_must_have_the_three_methods() -> None:
    with pytest.raises(AuditConfigError, match="store_lines"):
        StoreSink(object())  # type: ignore[arg-type]
    with pytest.raises(AuditConfigError, match="failure_types"):
        StoreSink(FlakyStore(), failure_types=())
    with pytest.raises(AuditConfigError, match="Store"):
        AuditLogger(object(), service="billing")  # type: ignore[arg-type]


def test_the_built_in_stores_are_stores(tmp_path: Path) -> None:
    file_store = FileStore(tmp_path / "f.jsonl")
    with open(tmp_path / "s.out", "wb") as fh:
        stream_store = StreamStore(fh.fileno())
        for store in (file_store, stream_store):
            assert isinstance(store, Store)
            with AuditLogger(StoreSink(store), service="billing") as audit:
                audit.record("a.b", actor=Actor("u"))
    assert verify(tmp_path / "f.jsonl").ok
    assert verify(tmp_path / "s.out").ok


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_database_stores_are_stores(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    # Given lines through a StoreSink, a database store reads the columns back from each line;
    # the database verifies (chains, checkpoint, columns against the records) and is searchable.
    from maestro_audit_logger import AuditReader, FailClosed, group_commit
    from maestro_audit_logger.sinks import PostgresStore, SqliteStore

    if kind == "sqlite":
        source = str(tmp_path / "audit.db")
        store: SqliteStore | PostgresStore = SqliteStore(source)
    else:
        source = str(request.getfixturevalue("postgres_dsn"))
        store = PostgresStore(source)
    assert isinstance(store, Store)
    sink = StoreSink(store, failure_types=store.failure_types)
    with AuditLogger(sink, service="billing", durability=group_commit(), failure_policy=FailClosed()) as audit:
        for i in range(5):
            audit.record("invoice.update", actor=Actor(f"u-{i % 2}"), extra={"i": i})
        # A store on its own commits durably (its sync() has nothing left to do).
        if isinstance(store, SqliteStore):
            assert store.fetch("PRAGMA synchronous", []) == [(2,)]  # FULL
        else:
            assert store.fetch("SHOW synchronous_commit", []) == [("on",)]
    report = verify(source)
    assert report.ok, report.problems
    assert report.records == 5
    assert [r["extra"]["i"] for r in AuditReader(source).query(actor="u-1")] == [1, 3]
    assert [r["extra"]["i"] for r in AuditReader(source).query(actor="u-1", indexed=True)] == [1, 3]
