"""The PostgreSQL store and sink: the shared store for many services, written with COPY in batches."""

# ruff: noqa: PLC0415  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from maestro_audit_logger._chain import Record
from maestro_audit_logger._dbseal import postgres_create, seals_table
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
)

if TYPE_CHECKING:
    from maestro_audit_logger._signing import Signer


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise AuditConfigError(
            "the PostgreSQL sink needs psycopg: pip install 'maestro-audit-logger[postgres]'"
        ) from None
    return psycopg


_NCOLS = len(COLUMNS)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def copy_text(records: list[Record], fields: Sequence[dict[str, Any] | None] | None = None) -> bytes:
    """The rows of ``records`` in COPY's text format: one ``write()`` per batch instead of one
    call per row. Values are escaped only when they hold a backslash, tab or line break.
    ``fields``: each record's record dict where known (saves parsing its body)."""
    lines = []
    for r, d in zip(records, fields or [None] * len(records), strict=True):
        values = row(r, d)
        nulls = values.count(None)
        line = "\t".join(["\\N" if v is None else v if type(v) is str else str(v) for v in values])
        if line.count("\\") != nulls or line.count("\t") != _NCOLS - 1 or "\n" in line or "\r" in line:
            line = "\t".join(["\\N" if v is None else _escape(v if type(v) is str else str(v)) for v in values])
        lines.append(line)
    lines.append("")
    return "\n".join(lines).encode()


def create_schema(conn: Any, table: str) -> None:
    """Create the events table and its indexes if missing (one transaction)."""
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} (id BIGSERIAL PRIMARY KEY, "
        "event_id TEXT NOT NULL, time TEXT NOT NULL, action TEXT NOT NULL, category TEXT, outcome TEXT, "
        "severity TEXT, actor_id TEXT, targets TEXT, tenant TEXT, service TEXT, request_id TEXT, "
        "writer TEXT NOT NULL, seq BIGINT NOT NULL, hash TEXT NOT NULL, record TEXT NOT NULL)"
    )
    for column in INDEXED:
        conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_{column}_idx ON {table} ({column})")


def create_heads(conn: Any, table: str) -> None:
    """Create the checkpoint table (one signed entry per writer) if missing."""
    conn.execute(f"CREATE TABLE IF NOT EXISTS {heads_table(table)} (writer TEXT PRIMARY KEY, entry TEXT NOT NULL)")


class PostgresStore:
    """A `Store` keeping audit lines in a PostgreSQL table with ``COPY``, one transaction per
    call, each writer's checkpoint in ``<table>_heads`` in the same transaction.

    Connects on first use (a server down at start is a store failure like any other) and
    reconnects after a lost connection. ``durable`` (default): ``synchronous_commit=on``, every
    commit waits for the WAL flush, so ``sync`` has nothing left to do; False: ``off``
    (`PostgresSink` sets it per durability mode). `PostgresSink` writes through one (building the COPY text
    from the record dicts it already has); given to `StoreSink` it reads the columns back from
    each line.

    Examples:
        Needs a server and the ``postgres`` extra:

        ```python
        from maestro_audit_logger import Actor, AuditLogger, StoreSink
        from maestro_audit_logger.sinks.postgres import PostgresStore

        store = PostgresStore("postgresql://audit@db.internal/audit")
        with AuditLogger(StoreSink(store, failure_types=store.failure_types), service="billing") as audit:
            audit.record("invoice.update", actor=Actor("u-1"))
        ```
    """

    def __init__(
        self,
        dsn: str,
        *,
        table: str = DEFAULT_TABLE,
        connect_timeout: float = 5.0,
        signer: Signer | None = None,
        checkpoint: bool = True,
        durable: bool = True,
    ) -> None:
        psycopg = _psycopg()
        if not isinstance(dsn, str) or not dsn:
            raise AuditConfigError(f"dsn must be a PostgreSQL connection string, got {dsn!r}")
        check_signer(signer)
        try:
            psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error:
            raise AuditConfigError("dsn is not a valid PostgreSQL connection string (libpq cannot parse it)") from None
        self.failure_types: tuple[type[BaseException], ...] = (psycopg.Error, OSError)
        self.dsn = dsn
        self.table = check_table(table)
        self.connect_timeout = connect_timeout
        self.signer = signer
        self.checkpoint = checkpoint
        self.durable = durable
        self.conn: Any = None
        self._heads_ready = False
        self._seals_ready = False
        self._copy = f"COPY {self.table} ({', '.join(COLUMNS)}) FROM STDIN"
        self._upsert_head = (
            f"INSERT INTO {heads_table(self.table)} (writer, entry) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (writer) DO UPDATE SET entry = excluded.entry"
        )

    def connect(self) -> None:
        """Connect, create the schema and set ``synchronous_commit``."""
        psycopg = _psycopg()
        conn = psycopg.connect(self.dsn, connect_timeout=max(1, int(self.connect_timeout)))
        try:
            create_schema(conn, self.table)
            # The checkpoint table is created by the first transaction that stores rows (with
            # its first entry), so it never exists empty unless its entries were deleted.
            self._heads_ready = False
            self._seals_ready = False
            conn.execute(f"SET synchronous_commit = {'on' if self.durable else 'off'}")
            conn.commit()
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def reconnect(self) -> None:
        """Connect again if never connected, or the connection was closed or lost."""
        if self.conn is None or self.conn.closed:
            self.conn = None
            self.connect()

    def set_durable(self, durable: bool) -> None:
        """``synchronous_commit=on`` when ``durable``, else ``off``."""
        self.durable = durable
        if self.conn is not None:
            self.conn.execute(f"SET synchronous_commit = {'on' if durable else 'off'}")
            self.conn.commit()

    def store_lines(self, lines: list[bytes]) -> None:
        """Store ``lines`` (chained audit lines) in one transaction, their columns read from them."""
        records = [record_of(line) for line in lines]
        self.insert(records, copy_text(records))

    def insert(self, records: list[Record], data: bytes) -> None:
        """Store ``records`` given their COPY text (`copy_text`), with the last writer's
        checkpoint, all-or-nothing."""
        self.reconnect()
        conn = self.conn
        try:
            with conn.cursor() as cur, cur.copy(self._copy) as copy:
                copy.write(data)
            if self.checkpoint and records:
                if not self._heads_ready:
                    create_heads(conn, self.table)
                conn.execute(self._upsert_head, head_row(self.table, records, self.signer))
            conn.commit()
            if self.checkpoint:
                self._heads_ready = True
        except BaseException:
            self._abandon(conn)
            raise

    def _abandon(self, conn: Any) -> None:
        try:
            conn.rollback()
        except Exception:  # the connection is gone; reconnect next time
            conn.close()
            self.conn = None

    def fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """The rows of a read-only query (its transaction ended)."""
        self.reconnect()
        conn = self.conn
        try:
            rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
        finally:
            try:
                conn.rollback()  # read only: end the transaction the query opened
            except Exception:  # the connection is gone; reconnect next time
                conn.close()
                self.conn = None
        return rows

    def store_seal(self, entry: str) -> None:
        """Insert one timed seal entry into ``<table>_seals`` (see `_dbseal`) and commit."""
        self.reconnect()
        conn = self.conn
        try:
            if not self._seals_ready:
                conn.execute(postgres_create(self.table))
            conn.execute(f"INSERT INTO {seals_table(self.table)} (entry) VALUES (%s)", (entry,))  # noqa: S608
            conn.commit()
            self._seals_ready = True
        except BaseException:
            self._abandon(conn)
            raise

    def sync(self) -> None:
        """Nothing to do: a durable commit already waited for the WAL flush."""

    def close(self) -> None:
        """Close the connection."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class PostgresSink(DatabaseSink):
    """Stores events in PostgreSQL with ``COPY``, one transaction per batch, chained per writer.

    Durable modes commit with ``synchronous_commit=on`` (the commit waits for the WAL flush);
    ``buffered`` and ``flush`` use ``off``. The sink connects on its first write (a server down
    at start is a sink failure like any other), and a lost connection is reopened on the next
    write (with `FailOpen`, events spool meanwhile and are replayed in order). After a write
    whose outcome is unknown (the connection lost around a ``COMMIT``), the retry skips the
    events the server already stored (by event id), so none is stored twice.

    Args:
        dsn: a libpq connection string or ``postgresql://`` URL.
        table: the table name (a plain identifier).
        connect_timeout: seconds to wait when (re)connecting.
        writer_id: this writer's chain name.
        signer: signs each writer's checkpoint (`HmacSigner`, `Ed25519Signer`).
        checkpoint: keep ``<table>_heads``: each writer's last row (seq and hash), signed with
            ``signer`` and updated in the same transaction as the rows, so `verify` detects rows
            deleted from the end and a re-chained history (without a ``signer`` the entries are
            unsigned: they catch an accidental truncation, not an attacker). Default: on.
        background: in ``buffered`` mode, a writer thread sends full batches to the server and
            waits for their commit while ``record`` fills the next batch. The thread that fills
            a batch chains it and builds its COPY text (Python work); the writer only waits on
            the server, without the GIL, so the server's work overlaps the caller's. At most
            one batch is in flight and one filling; a failed write keeps its events for the
            next write and raises `AuditWriteError` from the next ``record``, ``flush`` or
            ``close`` (fail-closed) or spools them (fail-open), as `SqliteSink` does.
        seal_interval_s: insert a signed seal row into ``<table>_seals`` at least this often,
            even when nothing is recorded (a heartbeat, from a background thread), so
            ``verify --since/--until`` reports the periods the writer (or the server) was down
            as ``missing_period``. Default: None (no seals).
        clock: nanosecond wall clock the seals are timed by (injectable for tests).

    Examples:
        Needs a server and the ``postgres`` extra (``pip install 'maestro-audit-logger[postgres]'``):

        ```python
        from maestro_audit_logger import Actor, AuditLogger, FailOpen, PostgresSink, group_commit, verify

        dsn = "postgresql://audit@db.internal/audit"
        audit = AuditLogger(
            PostgresSink(dsn),
            service="billing",
            durability=group_commit(),
            failure_policy=FailOpen("/var/spool/billing/audit.spool"),  # while the server is away
        )
        audit.record("invoice.update", actor=Actor("u-1"))
        audit.close()
        assert verify(dsn).ok
        ```
    """

    #: With ``background=True``, the caller chains and builds the COPY text (`_payload`) and the
    #: writer thread only stores it (`_store_payload`): see `Sink._hand_off`.
    _prepares = True
    _placeholder = "%s"

    def __init__(
        self,
        dsn: str,
        *,
        table: str = DEFAULT_TABLE,
        connect_timeout: float = 5.0,
        writer_id: str | None = None,
        signer: Signer | None = None,
        checkpoint: bool | None = None,
        background: bool = False,
        seal_interval_s: float | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        # Connected by the first write (a server down at start is a sink failure: spooled under
        # FailOpen, AuditWriteError under FailClosed); only the DSN's syntax is checked here.
        checkpoint = True if checkpoint is None else bool(checkpoint)
        store = PostgresStore(dsn, table=table, connect_timeout=connect_timeout, signer=signer, checkpoint=checkpoint)
        self.signer = signer
        self.checkpoint = checkpoint
        self.failure_types = store.failure_types
        self.dsn = dsn
        self.table = store.table
        self.connect_timeout = connect_timeout
        if not isinstance(background, bool):
            raise AuditConfigError(f"background must be True or False, got {background!r}")
        self._background = background
        super().__init__(writer_id=writer_id)
        store.durable = self._durability.syncs
        self._db = store
        self._start_sealing(seal_interval_s, clock)

    def configure(self, **kwargs: Any) -> None:
        """Set durability and failure policy (and the matching ``synchronous_commit``)."""
        super().configure(**kwargs)
        if self._db is not None:
            self._db.set_durable(self._durability.syncs)

    def _payload(self, records: list[Record]) -> bytes:
        return copy_text(records, self._take_fields(records))

    def describe(self) -> dict[str, Any]:
        """Kind, table and writer id (the DSN is not shown: it may hold a password)."""
        return {"kind": "postgresql", "table": self.table, "writer": self.writer_id}
