"""A batch of events on its way to the store, as the committers pass it around."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from maestro_audit_logger._chain import Record


@dataclass
class Batch:
    """Events waiting to be written together, and what their writers wait on."""

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
    prepared: Prepared | None = None


class Prepared(NamedTuple):
    """A batch chained from the sink's state (seq, prev) into records and the store's payload."""

    bodies: list[bytes]
    seq: int
    prev: str
    records: list[Record]
    payload: Any


def finished(batch: Batch) -> bool:
    """Whether ``batch`` is done (read after waking, outside the lock)."""
    # Read after waking, outside the lock (the leader sets it before releasing our lock).
    return batch.done
