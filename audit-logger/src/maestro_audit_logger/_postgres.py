"""The PostgreSQL sink: the shared store for many services, written with COPY in batches."""

# ruff: noqa: PLC0415  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from maestro_audit_logger._chain import Record
from maestro_audit_logger._db import (
    COLUMNS,
    DEFAULT_TABLE,
    INDEXED,
    DatabaseSink,
    check_signer,
    check_table,
    head_row,
    heads_table,
    row,
)
from maestro_audit_logger._errors import AuditConfigError

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
    ) -> None:
        psycopg = _psycopg()
        if not isinstance(dsn, str) or not dsn:
            raise AuditConfigError(f"dsn must be a PostgreSQL connection string, got {dsn!r}")
        check_signer(signer)
        self.signer = signer
        self.checkpoint = True if checkpoint is None else bool(checkpoint)
        self.failure_types = (psycopg.Error, OSError)
        self.dsn = dsn
        self.table = check_table(table)
        self.connect_timeout = connect_timeout
        if not isinstance(background, bool):
            raise AuditConfigError(f"background must be True or False, got {background!r}")
        self._background = background
        self._conn: Any = None
        super().__init__(writer_id=writer_id)
        self._copy = f"COPY {self.table} ({', '.join(COLUMNS)}) FROM STDIN"
        self._upsert_head = (
            f"INSERT INTO {heads_table(self.table)} (writer, entry) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (writer) DO UPDATE SET entry = excluded.entry"
        )
        # Connected by the first write (a server down at start is a sink failure: spooled under
        # FailOpen, AuditWriteError under FailClosed); only the DSN's syntax is checked here.
        try:
            psycopg.conninfo.conninfo_to_dict(dsn)
        except psycopg.Error:
            raise AuditConfigError("dsn is not a valid PostgreSQL connection string (libpq cannot parse it)") from None

    def _connect(self) -> None:
        psycopg = _psycopg()
        conn = psycopg.connect(self.dsn, connect_timeout=max(1, int(self.connect_timeout)))
        try:
            create_schema(conn, self.table)
            # The checkpoint table is created by the first transaction that stores rows (with
            # its first entry), so it never exists empty unless its entries were deleted.
            self._heads_ready = False
            conn.execute(f"SET synchronous_commit = {'on' if self._durability.syncs else 'off'}")
            conn.commit()
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def configure(self, **kwargs: Any) -> None:
        """Set durability and failure policy (and the matching ``synchronous_commit``)."""
        super().configure(**kwargs)
        if self._conn is not None:
            self._conn.execute(f"SET synchronous_commit = {'on' if self._durability.syncs else 'off'}")
            self._conn.commit()

    def _payload(self, records: list[Record]) -> bytes:
        return copy_text(records, self._take_fields(records))

    def _store_payload(self, records: list[Record], data: bytes) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = None
            self._connect()
        conn = self._conn
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
            try:
                conn.rollback()
            except Exception:  # the connection is gone; reconnect next time
                conn.close()
                self._conn = None
            raise

    _placeholder = "%s"

    def _fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = None
            self._connect()
        conn = self._conn
        try:
            rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
        finally:
            try:
                conn.rollback()  # read only: end the transaction the query opened
            except Exception:  # the connection is gone; reconnect next time
                conn.close()
                self._conn = None
        return rows

    def _sync(self) -> None:
        return  # the commit under synchronous_commit=on already waited for the WAL flush

    def _reconnect(self) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = None
            self._connect()

    def _close_store(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def describe(self) -> dict[str, Any]:
        """Kind, table and writer id (the DSN is not shown: it may hold a password)."""
        return {"kind": "postgresql", "table": self.table, "writer": self.writer_id}
