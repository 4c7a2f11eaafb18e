"""The group committer (``group_commit``): a leader/follower protocol, one fsync for every
writer that queued while the previous one ran."""

from __future__ import annotations

import time
from _thread import allocate_lock

from maestro_audit_logger._commit.batch import Batch, finished
from maestro_audit_logger._commit.state import CommitState
from maestro_audit_logger._durability import Durability
from maestro_audit_logger._errors import AuditWriteError

# Group commit with max_delay_ms=0: the longest a leader waits for writers known to be coming,
# as a share of the previous commit's duration (and never over 2 ms).
_GATHER_SHARE = 0.25
_GATHER_MAX_S = 0.002


class GroupCommitter(CommitState):
    """``group_commit``: a writer appends to the pending batch; the first to find the store free
    leads (gathers the writers known to be coming, writes and fsyncs the batch, wakes exactly
    its writers and one writer of the next batch to lead it); the others sleep on their own
    pre-acquired lock (no condition variable, no thundering herd on the sink's lock)."""

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
                if finished(batch):
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
        self._batch = Batch()
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
