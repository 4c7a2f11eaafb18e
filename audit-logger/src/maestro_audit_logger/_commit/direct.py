"""The direct committer: the caller that finds the store free writes the pending batch."""

from __future__ import annotations

import time
from _thread import allocate_lock

from maestro_audit_logger._commit.batch import Batch
from maestro_audit_logger._commit.state import CommitState
from maestro_audit_logger._errors import AuditWriteError


class DirectCommitter(CommitState):
    """``flush``, ``fsync_each`` and ``buffered`` without a background writer, and every mode's
    ``flush()``/``close()``: a caller holding the lock either writes the pending batch itself
    (owning the store: ``_busy``) or waits on its own pre-acquired lock until the batch is done
    or it is woken to write the next one."""

    def _wait_idle(self) -> None:
        # With the lock held: wait until nobody owns the store.
        while self._busy:
            self._cond.wait()

    def _release_busy(self) -> None:
        # Called with the lock held by whoever owned the store: hand it on.
        self._busy = False
        self._cond.notify_all()  # flush(), close(), rotate() waiting for the store
        waiters = self._batch.waiters
        if waiters:
            waiters.pop(0).release()  # it finds its batch pending and leads it (or waits again)

    def _drive(self, batch: Batch) -> None:
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
            self._batch = Batch()
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
