"""What the committers share: the sink's concurrency state, declared once for the type checker.

`Sink` is built from one committer per way of getting events to the store, each in its own
module, over the state declared here (set by `Sink._reset_after_fork`):

- `DirectCommitter` (``direct``): the caller that finds the store free writes the pending batch
  (``flush``, ``fsync_each``, ``buffered`` without a background writer; every mode's
  ``flush()`` and ``close()``), later callers wait on their own lock for it.
- `GroupCommitter` (``group``): ``group_commit``'s leader/follower protocol: one fsync covers
  every writer that queued while the previous one ran.
- `BackgroundCommitter` (``background``): ``buffered`` mode of a store that releases the GIL: full
  batches are handed to one writer thread while callers fill the next.

The committers only move batches; `Sink._deliver` chains and stores them under the failure
policy.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from maestro_audit_logger._commit.batch import Batch, Prepared
    from maestro_audit_logger._durability import Durability
    from maestro_audit_logger._errors import AuditWriteError


class CommitState:
    """The attributes and methods of `Sink` the committers use (annotations only)."""

    _mutex: threading.Lock  # the condition's own lock
    _cond: threading.Condition
    _batch: Batch  # the batch being filled
    _busy: bool  # someone owns the store (writing a batch)
    _closed: bool
    _durability: Durability
    _internal: list[bytes]
    _spooling: bool
    _prepares: bool
    _hold_n: int
    # Group commit
    _inflight: int
    _peak: int
    _gather: int
    _last_commit_s: float
    # The background writer
    _bg_cond: threading.Condition
    _bg_take: Batch | None
    _bg_error: AuditWriteError | None
    _bg_stop: bool
    _bg_thread: threading.Thread | None

    if TYPE_CHECKING:

        def _deliver(self, bodies: list[bytes], *, sync: bool, prepared: Prepared | None = None) -> None: ...

        def _prepare(self, bodies: list[bytes]) -> Prepared: ...

        def _set_hold(self) -> None: ...

        def _release_busy(self) -> None: ...

        def _wait_idle(self) -> None: ...

        def _gather_batch(self, d: Durability) -> None: ...

        def _take_bg_error(self) -> AuditWriteError: ...

        def _lead(self) -> None: ...
