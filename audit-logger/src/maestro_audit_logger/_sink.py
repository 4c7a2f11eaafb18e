"""The sink base: per-writer hash chain, durability modes and the failure policy, shared by
every sink. A concrete sink only stores chained lines (`_store`) and makes them durable (`_sync`).

Concurrency: appenders add event bodies to the current batch under one condition lock; one
writer at a time (the "leader") takes the batch, chains it and stores it outside the lock, so
threads never fork the chain and later events wait only for the fsync that covers them.

Background writer (``buffered`` mode of a sink with ``_background = True``: ``SqliteSink(background=True)``,
``PostgresSink(background=True)``): a full batch is handed to one writer thread per sink while
``record`` keeps filling the next one (double buffering), so a store that releases the GIL
(``sqlite3_step``, waiting for PostgreSQL) runs in parallel with the caller. A sink with
``_prepares`` (PostgreSQL) has the handing thread chain the batch and build its payload, so the
writer thread holds the GIL for almost nothing. At most one batch is in flight and one is
filling: a caller that fills a batch while the previous one is still being written waits for it
(back-pressure by blocking, never by dropping). A failed background write keeps its events
(first in the next batch) and its `AuditWriteError` is raised by the next
``record``/``flush``/``close``.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from _thread import allocate_lock
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

from maestro_audit_logger._canonical import event_id_of, valid_writer
from maestro_audit_logger._chain import Chain, Record
from maestro_audit_logger._durability import Durability, FailClosed, FailOpen, FailurePolicy, flush
from maestro_audit_logger._errors import AuditConfigError, AuditWriteError
from maestro_audit_logger._spool import Spool

_live: weakref.WeakSet[Sink] = weakref.WeakSet()
# Group commit with max_delay_ms=0: the longest a leader waits for writers known to be coming,
# as a share of the previous commit's duration (and never over 2 ms).
_GATHER_SHARE = 0.25
_GATHER_MAX_S = 0.002


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


@dataclass
class _Batch:
    bodies: list[bytes] = field(default_factory=list)
    nbytes: int = 0
    done: bool = False
    error: BaseException | None = None
    # Writers waiting for this batch, one pre-acquired lock each: finishing the batch releases
    # exactly these locks (a waiter never re-takes the sink's lock to learn that it is done),
    # and one waiter of the next batch is woken to lead it.
    waiters: list[Any] = field(default_factory=list)
    # Group commit: writers that appended to this batch (subtracted from `Sink._inflight` when done).
    writers: int = 0
    # Background writer: the batch chained and turned into the store's payload by the thread
    # that handed it off (`Sink._prepare`), so the writer thread only stores it.
    prepared: _Prepared | None = None


class _Prepared(NamedTuple):
    """A batch chained from the sink's state (seq, prev) into records and the store's payload."""

    bodies: list[bytes]
    seq: int
    prev: str
    records: list[Record]
    payload: Any


def _finished(batch: _Batch) -> bool:
    # Read after waking, outside the lock (the leader sets it before releasing our lock).
    return batch.done


class _StoreFailed(Exception):
    def __init__(self, unwritten: list[bytes], cause: BaseException) -> None:
        super().__init__(str(cause))
        self.unwritten = unwritten
        self.cause = cause


class Sink(ABC):
    """Base class of every sink: give an instance to `AuditLogger`.

    Args:
        writer_id: this writer's chain name (default ``host/pid/random``; renewed after ``fork``).

    Examples:
        A new store implements ``_store`` (store a batch of chained records, all or nothing),
        ``_sync`` and ``_close_store``; the base class does the chaining, batching, durability
        modes and failure policies (`maestro_audit_logger.testing.MemorySink` is another):

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
        self._batch = _Batch()
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
        self._bg_take: _Batch | None = None
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

    # -- the background writer (buffered mode of a `_background` sink) --------------------
    def _hand_off(self, batch: _Batch, added: list[bytes] | tuple[bytes, ...]) -> None:
        # Called with the lock held after ``added`` joined ``batch`` and made it full.
        if self._bg_error is not None:
            # A background write failed: refuse this event (fail-closed) and report it once;
            # the failed events stay first in the batch and are retried by the next write.
            del batch.bodies[len(batch.bodies) - len(added) :]
            batch.nbytes -= sum(map(len, added))
            raise self._take_bg_error()
        while self._busy:  # back-pressure: one batch in flight, one filling
            self._cond.wait()
        if self._batch is not batch or not batch.bodies:
            return  # flush() or close() took it while we waited
        self._batch = _Batch()
        self._busy = True  # the writer owns the store until it calls _release_busy
        try:
            if self._prepares and not self._spooling and not self._internal:
                # Chain and prepare here, outside the lock (other threads keep filling the next
                # batch): the writer thread then spends its time in the database, without the
                # GIL, while this thread records. The chain state is final: the previous batch
                # is written (we waited for it above) and nobody else writes while we are busy.
                self._mutex.release()
                try:
                    batch.prepared = self._prepare(batch.bodies)
                except Exception:  # the writer chains it again and reports what fails
                    batch.prepared = None
                finally:
                    self._mutex.acquire()
        finally:
            self._bg_take = batch  # handed off even if interrupted: never dropped, never left busy
            if self._bg_thread is None:
                self._bg_stop = False
                thread = threading.Thread(target=self._bg_run, name=f"maestro-audit-writer-{id(self):x}", daemon=True)
                self._bg_thread = thread
                thread.start()
            self._bg_cond.notify()

    def _take_bg_error(self) -> AuditWriteError:
        # With the lock held: the pending background error, cleared (raised exactly once).
        error = self._bg_error
        assert error is not None  # noqa: S101
        self._bg_error = None
        self._set_hold()
        return error

    def _bg_run(self) -> None:
        # The writer thread: deliver each handed-off batch outside the lock, then hand the store back.
        mutex = self._mutex
        while True:
            with mutex:
                while self._bg_take is None and not self._bg_stop:
                    self._bg_cond.wait()
                take = self._bg_take
                self._bg_take = None
                if take is None:
                    return
            error: BaseException | None = None
            try:
                self._deliver(take.bodies, sync=False, prepared=take.prepared)
            except BaseException as exc:  # reported to the next caller, never lost
                error = exc
            with mutex:
                if error is not None:
                    # The events were acknowledged (buffered): keep them, first in the next batch.
                    self._batch.bodies[:0] = take.bodies
                    self._batch.nbytes += take.nbytes
                    message = f"{error} ({len(take.bodies)} buffered events kept for retry)"
                    wrapped = AuditWriteError(
                        message if isinstance(error, AuditWriteError) else f"audit sink failed: {message}"
                    )
                    wrapped.__cause__ = error.__cause__ if isinstance(error, AuditWriteError) else error
                    self._bg_error = wrapped
                    self._hold_n = 0  # the next emit takes the slow path and raises it
                self._release_busy()

    def _wait_idle(self) -> None:
        # With the lock held: wait until nobody owns the store.
        while self._busy:
            self._cond.wait()

    def _stop_bg(self) -> None:
        # Stop and join the writer thread (the caller has drained it; called without the lock).
        with self._mutex:
            thread = self._bg_thread
            self._bg_thread = None
            self._bg_stop = True
            self._bg_cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _emit_group(self, bodies: list[bytes] | tuple[bytes, ...]) -> None:
        # Group commit, a leader/follower protocol: returns once the fsync covering ``bodies``
        # is done. A follower sleeps on its own pre-acquired lock, released by the leader of its
        # batch after the fsync: no condition variable, no thundering herd on the sink's lock.
        mutex = self._mutex
        mutex.acquire()
        if self._closed:
            mutex.release()
            raise AuditWriteError("the audit sink is closed")
        batch = self._batch
        batch.bodies.extend(bodies)
        batch.nbytes += sum(map(len, bodies))
        pending = len(batch.bodies)
        if pending >= self._durability.max_batch or (self._gather and pending >= self._gather):
            self._cond.notify_all()  # a gathering leader is waiting for this many
        batch.writers += 1
        self._inflight += 1
        self._peak = max(self._peak, self._inflight)
        held = True
        try:
            while not batch.done:
                if not self._busy:
                    self._busy = True
                    self._lead()
                    continue
                waiter = allocate_lock()
                waiter.acquire()
                batch.waiters.append(waiter)
                mutex.release()
                held = False
                waiter.acquire()  # released by a leader: our batch is done, or we are to lead it
                if _finished(batch):
                    break
                mutex.acquire()
                held = True
        finally:
            if held:
                mutex.release()
        if batch.error is not None:
            raise batch.error

    def _lead(self) -> None:
        # Group commit: called with the lock held and the store owned (``_busy``); commits the
        # pending batch, wakes exactly its writers, and wakes one writer of the next batch to lead.
        d = self._durability
        try:
            self._gather_batch(d)
        except BaseException:  # e.g. KeyboardInterrupt while gathering: hand the store on
            self._release_busy()
            raise
        take = self._batch
        self._batch = _Batch()
        mutex = self._mutex
        mutex.release()
        started = time.monotonic()
        try:
            self._deliver(take.bodies, sync=True)
        except BaseException as exc:  # delivered to every writer of the batch
            take.error = exc
        finally:
            mutex.acquire()
            self._last_commit_s = time.monotonic() - started
            self._inflight -= take.writers
            take.done = True
            for waiter in take.waiters:
                waiter.release()
            self._release_busy()

    def _gather_batch(self, d: Durability) -> None:
        # Group commit, called by the leader with the condition held, before it takes the batch.
        cond = self._cond
        if d.max_delay_ms > 0:
            deadline = time.monotonic() + d.max_delay_ms / 1000
            while len(self._batch.bodies) < d.max_batch:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                cond.wait(left)
            return
        # max_delay_ms=0: no fixed delay, but when more writers were in flight during the last
        # commit than have queued now, the others are on their way (their previous commit has
        # just returned): wait for them, up to a quarter of the last commit's duration. One
        # fsync then covers every writer instead of the writers alternating in two halves.
        target = min(self._peak, d.max_batch)
        self._peak = self._inflight
        if len(self._batch.bodies) >= target:
            return
        deadline = time.monotonic() + min(self._last_commit_s * _GATHER_SHARE, _GATHER_MAX_S)
        self._gather = target
        try:
            while len(self._batch.bodies) < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                cond.wait(left)
        finally:
            self._gather = 0

    def _release_busy(self) -> None:
        # Called with the lock held by whoever owned the store: hand it on.
        self._busy = False
        self._cond.notify_all()  # flush(), close(), rotate() waiting for the store
        waiters = self._batch.waiters
        if waiters:
            waiters.pop(0).release()  # it finds its batch pending and leads it (or waits again)

    def _drive(self, batch: _Batch) -> None:
        # Called with the condition held; returns when ``batch`` is done.
        cond = self._cond
        d = self._durability
        while not batch.done:
            if self._busy:
                waiter = allocate_lock()
                waiter.acquire()
                batch.waiters.append(waiter)
                self._mutex.release()
                try:
                    waiter.acquire()
                finally:
                    self._mutex.acquire()
                continue
            self._busy = True
            if d.kind == "group_commit":
                self._gather_batch(d)
            take = self._batch
            self._batch = _Batch()
            cond.release()
            started = time.monotonic()
            try:
                self._deliver(take.bodies, sync=d.syncs)
            except BaseException as exc:  # delivered to every waiter of the batch
                take.error = exc
            finally:
                cond.acquire()
                self._last_commit_s = time.monotonic() - started
                if take.error is not None and d.kind == "buffered" and isinstance(take.error, AuditWriteError):
                    # Buffered events were already acknowledged: keep them, in order, for the
                    # next write instead of dropping them; the caller still gets the error.
                    self._batch.bodies[:0] = take.bodies
                    self._batch.nbytes += take.nbytes
                    take.error = AuditWriteError(f"{take.error} ({len(take.bodies)} buffered events kept for retry)")
                self._inflight -= take.writers  # group-commit writers covered by a flush()
                take.done = True
                for waiter in take.waiters:
                    waiter.release()
                self._release_busy()

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

    # -- delivery with the failure policy (one leader at a time) -------------------------
    def _deliver(self, bodies: list[bytes], *, sync: bool, prepared: _Prepared | None = None) -> None:
        if not bodies:
            return
        if self._spooling and not self._try_replay():
            self._to_spool(bodies, sync=sync)
            return
        try:
            self._write_chained(bodies, sync=sync, prepared=prepared)
        except _StoreFailed as failed:
            self.stats.failures += 1
            self.stats.last_error = repr(failed.cause)
            if isinstance(self._policy, FailOpen) and self._spool is not None:
                self._spooling = True
                self._next_retry = time.monotonic() + self._policy.retry_interval_s
                self._to_spool(failed.unwritten, sync=sync)
                return
            raise AuditWriteError(f"audit sink failed: {failed.cause}") from failed.cause

    def _to_spool(self, bodies: list[bytes], *, sync: bool) -> None:
        assert self._spool is not None  # noqa: S101 - only called under FailOpen
        try:
            self._spool.append(bodies, sync=sync)
        except OSError as exc:
            raise AuditWriteError(f"audit sink and its spool both failed: {exc}") from exc
        self.stats.spooled += len(bodies)
        self.stats.spool_pending += len(bodies)

    def _try_replay(self) -> bool:
        """Replay the spool if it is time; True when nothing is spooled any more."""
        if not self._spooling:
            return True
        assert self._spool is not None  # noqa: S101
        assert isinstance(self._policy, FailOpen)  # noqa: S101
        now = time.monotonic()
        if now < self._next_retry:
            return False
        pending = self._spool.read()
        try:
            if pending:
                self._reconnect()
                self._recheck = True  # another process may have stored part of an orphan
                self._write_chained(pending, sync=True)
        except _StoreFailed as failed:
            self._next_retry = now + self._policy.retry_interval_s
            self.stats.last_error = repr(failed.cause)
            if len(failed.unwritten) < len(pending):
                # Part of the spool got through: keep only the rest, in order (atomically).
                self._spool.replace(failed.unwritten)
                self.stats.replayed += len(pending) - len(failed.unwritten)
                self.stats.spool_pending = len(failed.unwritten)
            return False
        except self.failure_types as exc:
            self._next_retry = now + self._policy.retry_interval_s
            self.stats.last_error = repr(exc)
            return False
        self._spool.clear()
        self.stats.replayed += len(pending)
        self.stats.spool_pending = 0
        self._spooling = False
        return True

    def _chain(self, bodies: list[bytes]) -> list[Record]:
        """``bodies`` linked from the chain's current state (see `Chain.records`)."""
        return self._links.records(bodies)

    def _chain_lines(self, bodies: list[bytes]) -> tuple[list[bytes], str]:
        """`_chain` for stores that need only the stored lines (see `Chain.lines`)."""
        return self._links.lines(bodies)

    # The chain's state, as subclasses and hooks knew it before `Chain`.
    @property
    def _seq(self) -> int:
        return self._links.seq

    @_seq.setter
    def _seq(self, value: int) -> None:
        self._links.seq = value

    @property
    def _prev(self) -> str:
        return self._links.prev

    @_prev.setter
    def _prev(self, value: str) -> None:
        self._links.prev = value

    def _store_lines(self, lines: list[bytes]) -> None:
        """Store chained lines all-or-nothing (only called when `_lines_only` is set)."""
        raise NotImplementedError

    def _prepare(self, bodies: list[bytes]) -> _Prepared:
        """``bodies`` chained from the current state, with the store's payload (`_prepares`)."""
        seq, prev = self._seq, self._prev
        records = self._chain(bodies)
        return _Prepared(bodies, seq, prev, records, self._payload(records))

    def _chained_store(
        self, bodies: list[bytes], prepared: _Prepared | None
    ) -> tuple[list[Record], Callable[[], None]]:
        """``bodies`` chained, and the call that stores them: from ``prepared`` when it was
        chained from the current state for exactly these bodies."""
        if prepared is not None and prepared.bodies is bodies and prepared[1:3] == (self._seq, self._prev):
            return prepared.records, partial(self._store_payload, prepared.records, prepared.payload)
        records = self._chain(bodies)
        return records, partial(self._store, records)

    def _write_chained(self, bodies: list[bytes], *, sync: bool, prepared: _Prepared | None = None) -> None:
        """Chain and store ``bodies``; the chain advances only over what was stored.

        ``prepared`` (see `_prepare`) is used when it was chained from the current state for
        exactly these bodies; otherwise (a replay or an internal event came first) it is ignored."""
        if self._internal:
            bodies = self._internal + bodies
            self._internal = []
        if self._recheck and bodies:
            bodies = self._skip_stored(bodies)
        if not bodies:
            self._recheck = False
            return
        if self._durability.kind == "fsync_each" and len(bodies) > 1:
            for i, body in enumerate(bodies):
                try:
                    self._write_chained([body], sync=True)
                except _StoreFailed as failed:
                    raise _StoreFailed(bodies[i:], failed.cause) from failed.cause
            return
        if self._lines_only:
            lines, last_hash = self._chain_lines(bodies)
            try:
                self._store_lines(lines)
            except self.failure_types as exc:
                self._recheck = True
                raise _StoreFailed(bodies, exc) from exc
            self._links.advance(len(lines), last_hash)
        else:
            records, store = self._chained_store(bodies, prepared)
            try:
                store()
            except self.failure_types as exc:
                self._recheck = True
                raise _StoreFailed(bodies, exc) from exc
            last = records[-1]
            self._links.resume(last.seq + 1, last.hash)
        self._recheck = False
        self.stats.written += len(bodies)
        if sync:
            try:
                self._sync()
            except self.failure_types as exc:
                raise _StoreFailed(bodies, exc) from exc
            self.stats.syncs += 1
        self.stats.last_error = None  # stored (and synced): an earlier failure is over
        self._after_store()

    def _skip_stored(self, bodies: list[bytes]) -> list[bytes]:
        """``bodies`` without the events the store already holds (by event id), after a write
        whose outcome is unknown or while replaying a spool; the chain resumes after this
        writer's rows found there (a commit that reached the store unconfirmed)."""
        ids = [event_id_of(b) for b in bodies]
        try:
            tail = self._stored_tail()
            found = self._stored_events([i for i in ids if i is not None])
        except self.failure_types as exc:
            raise _StoreFailed(bodies, exc) from exc
        if tail is not None and tail[0] >= self._seq:  # stored, though the store did not say so
            self._links.resume(tail[0] + 1, tail[1])
        if not found:
            return bodies
        self.stats.skipped_stored += len(found)
        return [b for b, i in zip(bodies, ids, strict=True) if i not in found]

    def _stored_events(self, event_ids: list[str]) -> set[str]:
        """Those of ``event_ids`` the store holds. Stores that cannot look events up by id
        (files, streams) find none."""
        return set()

    def _stored_tail(self) -> tuple[int, str] | None:
        """(seq, hash) of this writer's last stored record, for stores that can look it up."""
        return None

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

    def _after_store(self) -> None:  # noqa: B027 - an optional hook
        """Hook after a successful store (rotation checks)."""

    def _reconnect(self) -> None:  # noqa: B027 - an optional hook
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
