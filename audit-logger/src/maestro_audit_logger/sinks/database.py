"""What the SQLite and PostgreSQL sinks share: the table layout and the indexed columns."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson

from maestro_audit_logger._canonical import parse_chain, split_line
from maestro_audit_logger._chain import Record
from maestro_audit_logger._dbseal import make_seal
from maestro_audit_logger._errors import AuditConfigError
from maestro_audit_logger._sealer import TimedSealer, check_interval
from maestro_audit_logger._sink import Sink

DEFAULT_TABLE = "audit_events"
COLUMNS = (
    "event_id",
    "time",
    "action",
    "category",
    "outcome",
    "severity",
    "actor_id",
    "targets",
    "tenant",
    "service",
    "request_id",
    "writer",
    "seq",
    "hash",
    "record",
)
#: Indexes for the viewer's selective filters (``--actor``, ``--action``, ``--since/--until``,
#: ``show EVENT_ID``); outcome and tenant are low-cardinality and filtered alongside these.
INDEXED = ("time", "action", "actor_id", "event_id")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_emit_one = Sink.emit_one
# Record dicts kept for events not yet stored (more means failed or spooled writes left some
# behind; clearing them only costs parsing those bodies again).
_FIELDS_LIMIT = 1 << 14


# Connections inherited across ``fork``: a child must neither use nor close them (closing a
# PostgreSQL connection would end the parent's session on the shared socket; SQLite forbids
# using a connection opened before the fork). Kept referenced so they are never finalised here.
_inherited: list[Any] = []


_LOOKUP_CHUNK = 500  # event ids per lookup statement (under SQLite's variable limit)


class DatabaseSink(Sink):
    """What the SQLite and PostgreSQL sinks share beyond `Sink`: columns filled from each event's
    record dict (handed over by ``emit_one``) instead of parsing the stored body again (events
    replayed from the spool or given to ``emit`` are parsed from their body), and a connection
    of their own in a forked child (opened by its first write)."""

    #: The sink's store (`SqliteStore`, `PostgresStore`): the connection and what runs on it.
    _db: Any = None
    table: str
    signer: Any = None
    #: The driver's placeholder (``?`` for sqlite3, ``%s`` for psycopg).
    _placeholder = "?"
    seal_interval_s: float | None = None
    _sealer: TimedSealer | None = None

    # -- timed seals (`_dbseal`) -------------------------------------------------------------
    def _start_sealing(self, seal_interval_s: float | None, clock: Callable[[], int]) -> None:
        """Seal at least every ``seal_interval_s`` (a background thread; none when None)."""
        self.seal_interval_s = check_interval("seal_interval_s", seal_interval_s)
        if not callable(clock):
            raise AuditConfigError(f"clock must be a callable returning nanoseconds, got {clock!r}")
        self._clock = clock
        self._opened_ns = clock()
        self._start_sealer()

    def _start_sealer(self) -> None:
        interval = self.seal_interval_s
        self._sealer = None if interval is None else TimedSealer(self, interval)

    def _can_seal(self) -> bool:
        return not self._closed

    def _rotate_on_time(self) -> None:
        """Insert a seal row now (what the sealer does when the interval is up)."""
        interval = self.seal_interval_s
        if interval is None:
            return
        with self._cond:
            while self._busy:
                self._cond.wait()
            self._busy = True
        try:
            now = self._clock()
            last = (self._seq - 1, self._prev)
            seal = make_seal(self.table, self.writer_id, *last, interval_s=interval, sealed_ns=now, signer=self.signer)
            self._store_seal(seal)
            self._opened_ns = now
        finally:
            with self._cond:
                self._release_busy()

    def _store_seal(self, entry: str) -> None:
        """Insert one seal entry into ``<table>_seals`` (created first if needed) and commit."""
        self._db.store_seal(entry)

    # -- the store ---------------------------------------------------------------------------
    @property
    def _conn(self) -> Any:
        """The store's connection (None before the first write or after a loss)."""
        return None if self._db is None else self._db.conn

    @_conn.setter
    def _conn(self, value: Any) -> None:
        if self._db is not None:
            self._db.conn = value

    def _fetch(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        """The rows of a read-only query (connecting first if needed)."""
        rows: list[tuple[Any, ...]] = self._db.fetch(sql, params)
        return rows

    def _store_payload(self, records: list[Record], payload: Any) -> None:
        self._db.insert(records, payload)

    def _sync(self) -> None:
        return  # the commit in a durable mode already waited for the disk (see the stores)

    def _reconnect(self) -> None:
        self._db.reconnect()

    def _close_store(self) -> None:
        self._db.close()

    def close(self) -> None:
        """Stop sealing on time, then close as every sink does (`Sink.close`)."""
        sealer, self._sealer = self._sealer, None
        if sealer is not None:
            sealer.stop()  # before the store is drained and closed: no seal races them
        super().close()

    def _stored_events(self, event_ids: list[str]) -> set[str]:
        # By the event_id index, in chunks.
        found: set[str] = set()
        for start in range(0, len(event_ids), _LOOKUP_CHUNK):
            chunk = event_ids[start : start + _LOOKUP_CHUNK]
            marks = ",".join([self._placeholder] * len(chunk))
            sql = f"SELECT event_id FROM {self.table} WHERE event_id IN ({marks})"  # noqa: S608
            found.update(event_id for (event_id,) in self._fetch(sql, chunk))
        return found

    def _stored_tail(self) -> tuple[int, str] | None:
        # Backwards by row id: this writer's rows are the recent ones. Only run after a write
        # whose outcome is unknown, or before a spool replay.
        sql = f"SELECT seq, hash FROM {self.table} WHERE writer = {self._placeholder} ORDER BY id DESC LIMIT 1"  # noqa: S608
        rows = self._fetch(sql, [self.writer_id])
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def _store(self, records: list[Record]) -> None:
        # Both steps in the writing thread (with `_prepares`, a background writer gets the
        # payload built by the thread that handed the batch off).
        self._store_payload(records, self._payload(records))

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        if self._sealer is not None:
            self._start_sealer()  # threads do not survive fork
        self._fields: dict[bytes, dict[str, Any]] = {}
        self._chained_from: tuple[list[bytes], list[Record]] = ([], [])
        if self._conn is not None:  # in a forked child: the parent's connection
            _inherited.append(self._conn)
            self._conn = None

    def emit_one(self, body: bytes, fields: dict[str, Any] | None = None) -> None:
        """`Sink.emit_one`, keeping ``fields`` (the record dict) to fill the columns from it."""
        if fields is not None:
            self._fields[body] = fields  # keyed by content: an equal body has equal columns
        _emit_one(self, body)  # not super(): this runs once per event

    def _chain(self, bodies: list[bytes]) -> list[Record]:
        records = super()._chain(bodies)
        self._chained_from = (bodies, records)  # `_store` looks their record dicts up
        return records

    def _take_fields(self, records: list[Record]) -> list[dict[str, Any] | None]:
        """The record dict of each of ``records`` (None where ``emit_one`` kept none)."""
        bodies, chained = self._chained_from
        self._chained_from = ([], [])
        if chained is not records:  # not the records `_chain` just built from these bodies
            return [None] * len(records)
        pop = self._fields.pop
        found = [pop(body, None) for body in bodies]
        if len(self._fields) > _FIELDS_LIMIT:  # left by failed writes (retried from their bodies)
            self._fields.clear()
        return found


def record_of(line: bytes) -> Record:
    """The `Record` of a stored line (a `Store` gets lines; the database stores read their
    indexed columns and chain members back from them)."""
    parts = split_line(line[:-1] if line.endswith(b"\n") else line)
    chain = None if parts is None else parse_chain(parts[0])
    if parts is None or chain is None:
        raise AuditConfigError("not a chained audit line (a Store is given lines from a sink)")
    prev, seq, writer = chain
    return Record(parts[0], line, parts[1], writer, seq, prev)


def check_table(table: str) -> str:
    """``table`` if it is a plain SQL identifier, else `AuditConfigError`."""
    if not isinstance(table, str) or not _IDENT.match(table):
        raise AuditConfigError(f"table must be a plain SQL identifier (letters, digits, _), got {table!r}")
    return table


def targets_text(targets: list[dict[str, Any]] | None) -> str:
    """Targets as searchable text: ``|type:id|type:id|`` (so ``LIKE '%|invoice:42|%'`` finds one)."""
    if not targets:
        return ""
    if len(targets) == 1:  # the common case, without a generator
        t = targets[0]
        return f"|{t.get('type')}:{t.get('id')}|"
    return "|" + "|".join([f"{t.get('type')}:{t.get('id')}" for t in targets]) + "|"


def indexed_columns(d: dict[str, Any]) -> tuple[Any, ...]:
    """The event's indexed column values, as the sinks store them and verify re-derives them
    from the hashed record (search filters on these columns)."""
    get = d.get
    actor = get("actor")
    targets = get("targets")
    return (
        get("event_id"),
        get("time"),
        get("action"),
        get("category"),
        get("outcome"),
        get("severity"),
        actor.get("id") if isinstance(actor, dict) else None,
        targets_text(targets) if targets else "",
        get("tenant"),
        get("service"),
        get("request_id"),
    )


def row(record: Record, fields: dict[str, Any] | None = None) -> tuple[Any, ...]:
    """The column values of a chained record (``record`` is the stored line without newline).

    ``fields``: the event's record dict the body was serialised from (saves parsing the body).
    """
    d = orjson.loads(record.body) if fields is None else fields
    return (*indexed_columns(d), record.writer, record.seq, record.hash, record.line[:-1].decode())


def heads_table(table: str) -> str:
    """The table holding each writer's signed checkpoint (``<table>_heads``)."""
    return f"{table}_heads"


def head_row(table: str, records: list[Record], signer: Any) -> tuple[str, str]:
    """(writer, canonical signed entry) naming the last of ``records``: stored in the same
    transaction as the rows, so it never names a row that is not there."""
    from maestro_audit_logger._segments import digest_bytes, make_head  # noqa: PLC0415

    last = records[-1]
    return last.writer, digest_bytes(make_head(table, last.writer, last.seq, last.hash, signer)).decode()


def check_signer(signer: Any) -> None:
    """`AuditConfigError` unless ``signer`` looks like a `Signer` (or is None)."""
    if signer is not None and not all(hasattr(signer, a) for a in ("sign", "key_id", "algorithm")):
        raise AuditConfigError("signer must provide sign(), key_id and algorithm (HmacSigner, Ed25519Signer)")
