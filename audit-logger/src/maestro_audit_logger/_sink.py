"""The sink base: per-writer hash chain, durability modes and the failure policy, shared by
every sink. A concrete sink only stores chained lines (`_store`) and makes them durable (`_sync`).

Concurrency: appenders add event bodies to the current batch under one condition lock; one
writer at a time takes the batch, chains it and stores it outside the lock, so threads never
fork the chain and later events wait only for the fsync that covers them. How a batch gets to
the store is one committer per durability mode, each in its own module of `_commit` (direct,
group commit, background writer); this module decides which one an event takes, and delivers
each batch under the failure policy (chain, store, sync; spool and replay under `FailOpen`).
"""

from __future__ import annotations

import os
import threading
import weakref
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from maestro_audit_logger._canonical import valid_writer
from maestro_audit_logger._chain import Chain, Record
from maestro_audit_logger._commit.background import BackgroundCommitter
from maestro_audit_logger._commit.batch import Batch
from maestro_audit_logger._commit.direct import DirectCommitter
from maestro_audit_logger._commit.group import GroupCommitter
from maestro_audit_logger._delivery import Delivery
from maestro_audit_logger._durability import Durability, FailClosed, FailOpen, FailurePolicy, flush
from maestro_audit_logger._errors import AuditConfigError, AuditWriteError
from maestro_audit_logger._spool import Spool

_live: weakref.WeakSet[Sink] = weakref.WeakSet()


def _new_writer_id() -> str:
    host = "".join(c if c.isalnum() or c in "-." else "-" for c in os.uname().nodename)[:64] or "host"
    return f"{host}/{os.getpid()}/{os.urandom(3).hex()}"


@dataclass
class SinkStats:
    """Counters of one sink (see `AuditLogger.stats`).

    ``skipped_stored`` counts events a retry or spool replay found already stored (by event
    id, databases only) and did not store again.

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger
        >>> from maestro_audit_logger.testing import MemorySink
        >>> with AuditLogger(MemorySink(), service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> audit.stats.written, audit.stats.failures, audit.stats.spool_pending
        (1, 0, 0)
    """

    written: int = 0
    syncs: int = 0
    spooled: int = 0
    replayed: int = 0
    spool_pending: int = 0
    failures: int = 0
    last_error: str | None = None
    skipped_stored: int = 0


class Sink(Delivery, BackgroundCommitter, GroupCommitter, DirectCommitter, ABC):
    """Base class of every sink: give an instance to `AuditLogger`.

    Args:
        writer_id: this writer's chain name (default ``host/pid/random``; renewed after ``fork``).

    Examples:
        To send audit lines somewhere new, write a `Store` (``store_lines``, ``sync``,
        ``close``) and give it to `AuditLogger`: no subclass needed (see `StoreSink`). A
        subclass of `Sink` is for a store that needs the records themselves or can look
        events up by id (the database sinks): it implements ``_store`` (store a batch of
        chained records, all or nothing), ``_sync`` and ``_close_store``; the base class does
        the chaining, batching, durability modes and failure policies
        (`maestro_audit_logger.testing.MemorySink` is another):

        >>> from maestro_audit_logger import Actor, AuditLogger, Sink
        >>> class ListSink(Sink):
        ...     def __init__(self) -> None:
        ...         self.lines: list[bytes] = []
        ...         super().__init__(writer_id="example/1/a")
        ...
        ...     def _store(self, records):
        ...         self.lines.extend(record.line for record in records)
        ...
        ...     def _sync(self) -> None:
        ...         pass
        ...
        ...     def _close_store(self) -> None:
        ...         pass
        >>> sink = ListSink()
        >>> with AuditLogger(sink, service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> sink.lines[0][:40]
        b'{"prev":"0000000000000000000000000000000'
    """

    #: The exceptions of the underlying store that count as a sink failure.
    failure_types: tuple[type[BaseException], ...] = (OSError,)
    #: True when the store needs only the stored lines (`_store_lines`): the chain then builds
    #: no `Record` per event (files and streams; a subclass overriding `_store` turns it off).
    _lines_only = False
    #: True when ``buffered`` batches are written by a background writer thread (stores that
    #: release the GIL while they work, like SQLite's ``sqlite3_step``).
    _background = False
    #: True when the store splits into `_payload` (Python work: column values, COPY text) and
    #: `_store_payload` (the database's work, without the GIL): a background writer then gets
    #: the batch chained and prepared by the thread that filled it, and only stores it.
    _prepares = False

    def __init__(self, *, writer_id: str | None = None) -> None:
        if writer_id is not None and not valid_writer(writer_id):
            raise AuditConfigError("writer_id must be 1-128 characters of A-Z a-z 0-9 . _ : / @ -")
        self._fixed_writer = writer_id
        self._internal: list[bytes] = []
        self._durability: Durability = flush()
        self._set_hold()
        self._policy: FailurePolicy = FailClosed()
        self._spool: Spool | None = None
        self.stats = SinkStats()
        self._reset_after_fork()
        _live.add(self)

    def _reset_after_fork(self) -> None:
        self.writer_id = self._fixed_writer or _new_writer_id()
        self._links = Chain(self.writer_id)
        # The condition's own lock, used directly where no wait is needed (`with` on a Lock is C-level).
        self._mutex = threading.Lock()
        self._cond = threading.Condition(self._mutex)
        self._batch = Batch()
        self._busy = False
        # Group commit: writers inside `emit` now, their peak since the last commit, the batch
        # size a gathering leader waits for (0: none waits) and the last commit's duration.
        self._inflight = 0
        self._peak = 0
        self._gather = 0
        self._last_commit_s = 0.0
        self._closed = False
        self._spooling = False
        # A write failed without telling whether the store kept it (a lost commit confirmation),
        # or a spool is being replayed: the next write first skips events already stored.
        self._recheck = False
        self._next_retry = 0.0
        # Background writer (buffered mode only): the batch handed to it, its error waiting to be
        # raised by the next caller, and the thread (started on the first hand-off, so a forked
        # child starts its own).
        self._bg_cond = threading.Condition(self._mutex)
        self._bg_take: Batch | None = None
        self._bg_error: AuditWriteError | None = None
        self._bg_stop = False
        self._bg_thread: threading.Thread | None = None
        self._set_hold()
        if self._spool is not None:  # a forked child: a spool file of its own
            self._spool = self._spool.forked()
            self.stats.spool_pending = self._spool.pending()  # orphans it may replay
            self._spooling = self.stats.spool_pending > 0

    # -- configuration ------------------------------------------------------------------
    def configure(self, *, durability: Durability | None = None, failure_policy: FailurePolicy | None = None) -> None:
        """Set the durability mode and failure policy (`AuditLogger` calls this)."""
        if durability is not None:
            if not isinstance(durability, Durability):
                raise AuditConfigError("durability must come from buffered(), flush(), group_commit() or fsync_each()")
            self._durability = durability
            self._set_hold()
            if durability.kind == "buffered":
                from maestro_audit_logger._signals import flush_on_sigterm  # noqa: PLC0415

                flush_on_sigterm()  # a container's stop must not lose the buffer
        if failure_policy is not None:
            if not isinstance(failure_policy, FailClosed | FailOpen):
                raise AuditConfigError("failure_policy must be FailClosed() or FailOpen(spool_path)")
            self._policy = failure_policy
            if isinstance(failure_policy, FailOpen):
                if self._spool is not None:  # configured again: release the previous spool file
                    self._spool.close()  # (what it holds stays there, an orphan replayed once)
                self._spool = Spool(failure_policy.spool_path)
                pending = self._spool.pending()
                self.stats.spool_pending = pending
                if pending:
                    self._spooling = True
                    self._next_retry = 0.0

    def _set_hold(self) -> None:
        # What `emit_one` reads per event, flattened: group commit or not, and (buffered only)
        # how many events and bytes are held before a write (0 and 0: write at once).
        d = self._durability
        self._group = d.kind == "group_commit"
        buffered = d.kind == "buffered"
        self._bg = buffered and self._background
        self._hold_n = d.max_batch if buffered else 0
        self._hold_bytes = d.buffer_bytes if buffered else 0
        # Buffered without a background writer: while another thread writes, keep filling (it
        # takes this batch next). With one: a full batch waits for the writer (back-pressure).
        self._hold_busy = buffered and not self._bg
        if getattr(self, "_bg_error", None) is not None:
            self._hold_n = 0  # a background error waits: the next emit takes the slow path

    @property
    def durability(self) -> Durability:
        """The current durability mode."""
        return self._durability

    # -- the write path -----------------------------------------------------------------
    def emit(self, bodies: list[bytes]) -> None:
        """Append canonical event bodies and return when the durability mode is satisfied.

        Raises:
            AuditWriteError: the sink failed and the policy is fail-closed, or the sink is closed.
        """
        d = self._durability
        if d.kind == "group_commit":
            self._emit_group(bodies)
            return
        with self._mutex:  # the condition's lock
            if self._closed:
                raise AuditWriteError("the audit sink is closed")
            batch = self._batch
            batch.bodies.extend(bodies)
            batch.nbytes += sum(map(len, bodies))
            if d.kind == "buffered" and (
                (len(batch.bodies) < self._hold_n and batch.nbytes < self._hold_bytes)
                or (self._hold_busy and self._busy)
            ):
                return
            if self._bg:
                self._hand_off(batch, bodies)
                return
            self._drive(batch)
        if batch.error is not None:
            raise batch.error

    def emit_one(self, body: bytes, fields: dict[str, Any] | None = None) -> None:
        """`emit` for one event body (the logger's hot path).

        ``fields`` is the record ``body`` was serialised from (redacted): a sink that needs
        column values (SQLite) may keep it instead of parsing the body again; others ignore it.
        """
        if self._group:
            self._emit_group((body,))
            return
        with self._mutex:  # the condition's lock
            if self._closed:
                raise AuditWriteError("the audit sink is closed")
            batch = self._batch
            bodies = batch.bodies
            bodies.append(body)
            nbytes = batch.nbytes = batch.nbytes + len(body)
            # Buffered: hold until max_batch events or buffer_bytes (or, without a background
            # writer, while another thread writes: it takes this batch next). Other modes:
            # _hold_n is 0, write now.
            if (len(bodies) < self._hold_n and nbytes < self._hold_bytes) or (self._hold_busy and self._busy):
                return
            if self._bg:
                self._hand_off(batch, (body,))
                return
            self._drive(batch)
        if batch.error is not None:
            raise batch.error

    def flush(self) -> None:
        """Write (and, in durable modes, sync) everything held in memory.

        Raises:
            AuditWriteError: the write failed under fail-closed (also a failed background write
                since the last call; its events stay held and the next flush retries them).
        """
        with self._cond:
            if self._bg:
                self._wait_idle()  # the batch in flight goes first
                if self._bg_error is not None:
                    raise self._take_bg_error()
            batch = self._batch
            if batch.bodies:
                self._drive(batch)
            else:
                while self._busy:
                    self._cond.wait()
        if batch.error is not None:
            raise batch.error

    def close(self) -> None:
        """Drain what is held, try a last spool replay, and release the store. Idempotent.

        Events recorded by other threads while this runs are either written or refused with
        `AuditWriteError`; none is left behind silently.
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True  # from here on, emit() refuses new events
            self._wait_idle()  # a background write in flight goes first
            bg_error, self._bg_error = self._bg_error, None
            batch = self._batch
            if batch.bodies:
                self._drive(batch)
            while self._busy:
                self._cond.wait()
            self._busy = True  # own the store until it is closed
        try:
            if self._spooling:
                self._next_retry = 0.0
                self._try_replay()
        finally:
            with self._cond:
                self._release_busy()
            self._stop_bg()
            if self._spool is not None:
                self._spool.close()
            self._close_store()
        if batch.error is not None:
            raise batch.error
        if bg_error is not None:
            raise bg_error

    # -- what a concrete sink implements --------------------------------------------------
    @abstractmethod
    def _store(self, records: list[Record]) -> None:
        """Store ``records`` all-or-nothing (raise one of `failure_types` on failure)."""

    def _payload(self, records: list[Record]) -> Any:
        """What `_store_payload` stores for ``records`` (sinks with `_prepares`)."""
        raise NotImplementedError

    def _store_payload(self, records: list[Record], payload: Any) -> None:
        """Store ``records`` given their `_payload`, all-or-nothing (sinks with `_prepares`)."""
        raise NotImplementedError

    @abstractmethod
    def _sync(self) -> None:
        """Make everything stored so far durable (fsync, commit)."""

    def _after_store(self) -> None:
        """Hook after a successful store (rotation checks)."""

    def _reconnect(self) -> None:
        """Hook before a replay: reopen a lost connection or file."""

    @abstractmethod
    def _close_store(self) -> None:
        """Release files or connections."""

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description (kind, location, writer id) for diagnostics."""
        return {"kind": type(self).__name__, "writer": self.writer_id}


def _after_fork_in_child() -> None:
    for sink in list(_live):
        sink._reset_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
