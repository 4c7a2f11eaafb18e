"""Delivery under the failure policy: each batch a committer takes is chained, stored and
synced, or (under `FailOpen`) spooled and replayed later, exactly once; the chain advances only
over what the store kept."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from maestro_audit_logger._canonical import event_id_of
from maestro_audit_logger._chain import Chain, Record
from maestro_audit_logger._commit.batch import Prepared
from maestro_audit_logger._durability import Durability, FailOpen, FailurePolicy
from maestro_audit_logger._errors import AuditWriteError

if TYPE_CHECKING:
    from maestro_audit_logger._sink import SinkStats
    from maestro_audit_logger._spool import Spool


class _StoreFailed(Exception):
    def __init__(self, unwritten: list[bytes], cause: BaseException) -> None:
        super().__init__(str(cause))
        self.unwritten = unwritten
        self.cause = cause


class Delivery:
    """`Sink`'s delivery of batches to its store (the committers call `_deliver`)."""

    failure_types: tuple[type[BaseException], ...]
    _lines_only: bool
    _links: Chain
    _internal: list[bytes]
    _recheck: bool
    _spooling: bool
    _spool: Spool | None
    _policy: FailurePolicy
    _next_retry: float
    _durability: Durability
    stats: SinkStats

    if TYPE_CHECKING:

        def _store(self, records: list[Record]) -> None: ...

        def _payload(self, records: list[Record]) -> Any: ...

        def _store_payload(self, records: list[Record], payload: Any) -> None: ...

        def _sync(self) -> None: ...

        def _after_store(self) -> None: ...

        def _reconnect(self) -> None: ...

    def _deliver(self, bodies: list[bytes], *, sync: bool, prepared: Prepared | None = None) -> None:
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

    def _prepare(self, bodies: list[bytes]) -> Prepared:
        """``bodies`` chained from the current state, with the store's payload (`_prepares`)."""
        seq, prev = self._seq, self._prev
        records = self._chain(bodies)
        return Prepared(bodies, seq, prev, records, self._payload(records))

    def _chained_store(self, bodies: list[bytes], prepared: Prepared | None) -> tuple[list[Record], Callable[[], None]]:
        """``bodies`` chained, and the call that stores them: from ``prepared`` when it was
        chained from the current state for exactly these bodies."""
        if prepared is not None and prepared.bodies is bodies and prepared[1:3] == (self._seq, self._prev):
            return prepared.records, partial(self._store_payload, prepared.records, prepared.payload)
        records = self._chain(bodies)
        return records, partial(self._store, records)

    def _write_chained(self, bodies: list[bytes], *, sync: bool, prepared: Prepared | None = None) -> None:
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
