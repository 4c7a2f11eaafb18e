"""The SQLite store and sink: embedded and queryable; the same records and chains as the JSONL sink."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from maestro_audit_logger._chain import Record
from maestro_audit_logger._dbseal import seals_table, sqlite_create
from maestro_audit_logger._errors import AuditConfigError
from maestro_audit_logger.sinks.database import (
    COLUMNS,
    DEFAULT_TABLE,
    INDEXED,
    DatabaseSink,
    check_signer,
    check_table,
    head_row,
    heads_table,
    record_of,
    row,
    targets_text,
)

#: The page size of a database this sink creates (SQLite's default is 4096).
PAGE_SIZE = 16384
#: The most rows one multi-row ``INSERT`` carries (fewer when SQLite's variable limit is lower).
MAX_ROWS_PER_INSERT = 4096

if TYPE_CHECKING:
    from maestro_audit_logger._signing import Signer


def create_schema(conn: sqlite3.Connection, table: str) -> None:
    """Create the events table and its indexes if missing."""
    conn.execute(
        # A rowid alias, not AUTOINCREMENT (which costs a sqlite_sequence update per row, a third
        # of the insert): ids still grow with storage order in an append-only table.
        f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, "
        "event_id TEXT NOT NULL, time TEXT NOT NULL, action TEXT NOT NULL, category TEXT, outcome TEXT, "
        "severity TEXT, actor_id TEXT, targets TEXT, tenant TEXT, service TEXT, request_id TEXT, "
        "writer TEXT NOT NULL, seq INTEGER NOT NULL, hash TEXT NOT NULL, record TEXT NOT NULL)"
    )
    for column in INDEXED:
        conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_{column}_idx ON {table} ({column})")


def create_heads(conn: sqlite3.Connection, table: str) -> None:
    """Create the checkpoint table (one signed entry per writer) if missing."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {heads_table(table)} (writer TEXT PRIMARY KEY, entry TEXT NOT NULL)")


class SqliteStore:
    """A `Store` keeping audit lines in a SQLite table (WAL mode), one row per line with its
    indexed columns, and each writer's checkpoint in ``<table>_heads`` in the same transaction.

    `SqliteSink` writes through one (filling the columns from the record dicts it already has);
    given to `StoreSink` it reads them back from each line. Each call is one transaction, inserted
    with one multi-row ``INSERT`` per 4,096 rows (fewer if SQLite's variable limit is lower; a
    batch that fits one statement without a checkpoint needs no ``BEGIN``/``COMMIT``). A new
    database gets 16 KiB pages. ``durable`` (default): ``synchronous=FULL``, every commit
    fsyncs, so ``sync`` has nothing left to do; False: ``NORMAL`` (`SqliteSink` sets it per
    durability mode).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, StoreSink, verify
        >>> db = Path(tempfile.mkdtemp()) / "audit.db"
        >>> sink = StoreSink(SqliteStore(db), failure_types=SqliteStore.failure_types)
        >>> with AuditLogger(sink, service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> verify(db).ok
        True
    """

    failure_types: tuple[type[BaseException], ...] = (sqlite3.Error, OSError)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = DEFAULT_TABLE,
        signer: Signer | None = None,
        checkpoint: bool = True,
        durable: bool = True,
    ) -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise AuditConfigError(f"path must be a database file path, got {path!r}")
        check_signer(signer)
        self.path = Path(path)
        self.table = check_table(table)
        self.signer = signer
        self.checkpoint = checkpoint
        self.durable = durable
        self.conn: sqlite3.Connection | None = None
        self._insert_head = f"INSERT INTO {self.table} ({', '.join(COLUMNS)}) VALUES "  # noqa: S608
        self._one_row = "(" + ",".join("?" * len(COLUMNS)) + ")"
        self._inserts: dict[int, str] = {}
        self._upsert_head = (
            f"INSERT INTO {heads_table(self.table)} (writer, entry) VALUES (?, ?) "  # noqa: S608
            "ON CONFLICT(writer) DO UPDATE SET entry = excluded.entry"
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connect()

    def connect(self) -> None:
        """Open the database (creating its schema) and set the ``synchronous`` pragma."""
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        # 16 KiB pages for a new database (a no-op on an existing one): ~5 rows of ~600 bytes
        # fit a 4 KiB page, so each transaction splits and rewrites far more pages (measured:
        # 13-28% less CPU per row with the four indexes, user and system time together).
        conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
        conn.execute("PRAGMA journal_mode=WAL")
        create_schema(conn, self.table)
        # The checkpoint table is created by the first transaction that stores rows (with its
        # first entry), so it never exists empty unless its entries were deleted.
        self._heads_ready = False
        self._seals_ready = False
        self.conn = conn
        self._rows_per_insert = max(
            1, min(MAX_ROWS_PER_INSERT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // len(COLUMNS))
        )
        self.set_durable(self.durable)

    def reconnect(self) -> None:
        """Connect again if the connection was closed or lost."""
        if self.conn is None:
            self.connect()

    def set_durable(self, durable: bool) -> None:
        """``synchronous=FULL`` (the commit fsyncs) when ``durable``, else ``NORMAL``."""
        self.durable = durable
        if self.conn is not None:
            self.conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")

    def store_lines(self, lines: list[bytes]) -> None:
        """Insert ``lines`` (chained audit lines) in one transaction, their columns read from them."""
        records = [record_of(line) for line in lines]
        values: list[Any] = []
        for record in records:
            values.extend(row(record))
        self.insert(records, values)

    def insert(self, records: list[Record], values: list[Any]) -> None:
        """Insert ``records`` given their flat column ``values`` (`row` order), with the last
        writer's checkpoint, all-or-nothing."""
        if self.conn is None:
            self.connect()
        conn = self.conn
        assert conn is not None  # noqa: S101
        # One multi-row INSERT per chunk rather than `executemany`: one `sqlite3_step` (which
        # runs without the GIL) inserts the whole chunk, where `executemany` releases and
        # re-takes the GIL for every row and a background writer would wait for it each time.
        n, step, width = len(records), self._rows_per_insert, len(COLUMNS)
        if n <= step and not self.checkpoint:
            # One statement: atomic on its own (autocommit), so no BEGIN/COMMIT round trips.
            conn.execute(self._insert_sql(n), values)
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for start in range(0, n, step):
                count = min(step, n - start)
                conn.execute(
                    self._insert_sql(count), values[start * width : (start + count) * width] if n > step else values
                )
            if self.checkpoint and records:
                if not self._heads_ready:
                    create_heads(conn, self.table)
                conn.execute(self._upsert_head, head_row(self.table, records, self.signer))
            conn.execute("COMMIT")
            if self.checkpoint:
                self._heads_ready = True
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    def _insert_sql(self, count: int) -> str:
        sql = self._inserts.get(count)
        if sql is None:
            if len(self._inserts) > 8:
                self._inserts.clear()
            sql = self._inserts[count] = self._insert_head + ",".join([self._one_row] * count)
        return sql

    def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """The rows of a read-only query."""
        if self.conn is None:
            self.connect()
        assert self.conn is not None  # noqa: S101
        return self.conn.execute(sql, params).fetchall()

    def store_seal(self, entry: str) -> None:
        """Insert one timed seal entry into ``<table>_seals`` (see `_dbseal`)."""
        if self.conn is None:
            self.connect()
        conn = self.conn
        assert conn is not None  # noqa: S101
        if not self._seals_ready:
            conn.execute(sqlite_create(self.table))
            self._seals_ready = True
        conn.execute(f"INSERT INTO {seals_table(self.table)} (entry) VALUES (?)", (entry,))  # noqa: S608

    def sync(self) -> None:
        """Nothing to do: a durable commit already fsynced."""

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class SqliteSink(DatabaseSink):
    """Stores events in a SQLite database (WAL mode), one row per event, hash-chained per writer.

    Each batch is one transaction, inserted with one multi-row ``INSERT`` (up to
    4,096 rows per statement). Durable modes use ``synchronous=FULL`` (the commit fsyncs);
    ``buffered`` and ``flush`` use ``NORMAL``.

    With ``background=True``, ``buffered`` mode writes full batches on a background writer
    thread while ``record`` fills the next batch (SQLite releases the GIL inside the insert).
    At most one batch is in flight and one filling (a caller that fills a batch before the
    previous one is written waits for it); a failed background write keeps its events for the
    next write and raises `AuditWriteError` from the next ``record``, ``flush`` or ``close``
    (fail-closed), or spools them (fail-open). ``flush`` and ``close`` wait for the writer; the
    other modes always write in the calling thread. Off by default: measured on 2 cores, the
    writer's own Python work (chaining, column values, binding) competes with ``record`` for
    the GIL and the overlap gained nothing (see the benchmarks page).

    Args:
        path: the database file (created with its directory).
        table: the table name (a plain identifier).
        writer_id: this writer's chain name.
        signer: signs each writer's checkpoint (`HmacSigner`, `Ed25519Signer`).
        checkpoint: keep ``<table>_heads``: each writer's last row (seq and hash), signed with
            ``signer`` and updated in the same transaction as the rows, so `verify` detects rows
            deleted from the end and a re-chained history (without a ``signer`` the entries are
            unsigned: they catch an accidental truncation, not an attacker). Default: on.
        background: in ``buffered`` mode, insert full batches on a background writer thread.
        seal_interval_s: insert a signed seal row into ``<table>_seals`` at least this often,
            even when nothing is recorded (a heartbeat, from a background thread), so
            ``verify --since/--until`` reports the periods the writer was down as
            ``missing_period``. Default: None (no seals).
        clock: nanosecond wall clock the seals are timed by (injectable for tests).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, AuditReader, SqliteSink, group_commit, verify
        >>> db = Path(tempfile.mkdtemp()) / "audit.db"
        >>> with AuditLogger(SqliteSink(db), service="billing", durability=group_commit()) as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> [r["action"] for r in AuditReader(db).query(actor="u-1")]
        ['invoice.update']
        >>> verify(db).ok
        True
    """

    failure_types = (sqlite3.Error, OSError)

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = DEFAULT_TABLE,
        writer_id: str | None = None,
        signer: Signer | None = None,
        checkpoint: bool | None = None,
        background: bool = False,
        seal_interval_s: float | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if not isinstance(path, str | os.PathLike) or not os.fspath(path):
            raise AuditConfigError(f"path must be a database file path, got {path!r}")
        check_signer(signer)
        self.path = Path(path)
        self.table = check_table(table)
        self.signer = signer
        self.checkpoint = True if checkpoint is None else bool(checkpoint)
        if not isinstance(background, bool):
            raise AuditConfigError(f"background must be True or False, got {background!r}")
        self._background = background
        super().__init__(writer_id=writer_id)
        self._db = SqliteStore(
            self.path, table=self.table, signer=signer, checkpoint=self.checkpoint, durable=self._durability.syncs
        )
        self._start_sealing(seal_interval_s, clock)

    def configure(self, **kwargs: Any) -> None:
        """Set durability and failure policy (and the matching ``synchronous`` pragma)."""
        super().configure(**kwargs)
        if self._db is not None:
            self._db.set_durable(self._durability.syncs)

    def _payload(self, records: list[Record]) -> list[Any]:
        # The flat column values of ``records`` (as `row` gives them), from their record dicts
        # where kept. Inlined: this runs once per event, in the background writer.
        out: list[Any] = []
        extend = out.extend
        for record, d in zip(records, self._take_fields(records), strict=True):
            if d is None:
                extend(row(record))
                continue
            get = d.get
            actor = get("actor")
            targets = get("targets")
            if not targets:
                text = ""
            elif len(targets) == 1:
                t = targets[0]
                text = f"|{t.get('type')}:{t.get('id')}|"
            else:
                text = targets_text(targets)
            extend((
                get("event_id"), get("time"), get("action"), get("category"), get("outcome"), get("severity"),
                actor.get("id") if actor else None, text, get("tenant"), get("service"), get("request_id"),
                record.writer, record.seq, record.hash, record.line[:-1].decode(),
            ))  # fmt: skip
        return out

    def describe(self) -> dict[str, Any]:
        """Kind, path, table and writer id."""
        return {"kind": "sqlite", "path": str(self.path), "table": self.table, "writer": self.writer_id}
