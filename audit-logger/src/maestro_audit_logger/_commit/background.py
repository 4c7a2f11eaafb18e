"""The background committer: ``buffered`` mode of a store that releases the GIL (SQLite's
``sqlite3_step``, waiting for PostgreSQL): full batches go to one writer thread per sink while
callers fill the next (double buffering)."""

from __future__ import annotations

import threading

from maestro_audit_logger._commit.batch import Batch
from maestro_audit_logger._commit.state import CommitState
from maestro_audit_logger._errors import AuditWriteError


class BackgroundCommitter(CommitState):
    """At most one batch in flight and one filling: a caller that fills a batch while the
    previous one is still being written waits for it (back-pressure by blocking, never by
    dropping). A sink with ``_prepares`` has the handing thread chain the batch and build its
    payload, so the writer thread holds the GIL for almost nothing. A failed background write
    keeps its events (first in the next batch) and its `AuditWriteError` is raised once by the
    next ``record``/``flush``/``close``."""

    def _hand_off(self, batch: Batch, added: list[bytes] | tuple[bytes, ...]) -> None:
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
        self._batch = Batch()
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

    def _stop_bg(self) -> None:
        # Stop and join the writer thread (the caller has drained it; called without the lock).
        with self._mutex:
            thread = self._bg_thread
            self._bg_thread = None
            self._bg_stop = True
            self._bg_cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
