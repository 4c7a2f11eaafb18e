"""Durability modes and failure policies: small immutable value objects, validated at construction."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from maestro_audit_logger._errors import AuditConfigError

if TYPE_CHECKING:
    from pathlib import Path

DurabilityKind = Literal["buffered", "flush", "group_commit", "fsync_each"]


@dataclass(frozen=True, slots=True)
class Durability:
    """When `AuditLogger.record` returns, how safe the event is.

    Build one with `buffered`, `flush`, `group_commit` or `fsync_each`.

    Attributes:
        kind: the mode's name.
        max_delay_ms: group commit only: how long the committing writer may linger to gather
            more events before its fsync (0 = no fixed delay: batching comes from the events
            that arrive while the previous fsync runs, and the leader waits only for writers
            that were in flight during the previous commit and have not queued again yet, at
            most a quarter of that commit's duration and 2 ms).
        max_batch: group commit: the most events per fsync; buffered: the most events held in
            memory before they are written.
        buffer_bytes: buffered only: bytes held in memory before one ``write()``.

    Examples:
        >>> from maestro_audit_logger import buffered, group_commit
        >>> group_commit().syncs, buffered().syncs
        (True, False)
        >>> buffered(max_batch=256).max_batch
        256
    """

    kind: DurabilityKind
    max_delay_ms: float = 0.0
    max_batch: int = 1024
    buffer_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.kind not in ("buffered", "flush", "group_commit", "fsync_each"):
            raise AuditConfigError(
                f"durability kind must be buffered, flush, group_commit or fsync_each, got {self.kind!r}"
            )
        if not 0 <= self.max_delay_ms <= 10_000:
            raise AuditConfigError(f"max_delay_ms must be between 0 and 10000, got {self.max_delay_ms!r}")
        if not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise AuditConfigError(f"max_batch must be a positive integer, got {self.max_batch!r}")
        if not isinstance(self.buffer_bytes, int) or self.buffer_bytes < 1:
            raise AuditConfigError(f"buffer_bytes must be a positive integer, got {self.buffer_bytes!r}")

    @property
    def syncs(self) -> bool:
        """Whether the mode fsyncs (or commits) before ``record`` returns."""
        return self.kind in ("group_commit", "fsync_each")


def buffered(*, buffer_bytes: int = 64 * 1024, max_batch: int = 1024) -> Durability:
    """Events are held in memory and written in chunks; fastest, loses the buffer on a crash.

    ``close()``/``flush()`` write what is held. Records reach the OS when ``buffer_bytes`` or
    ``max_batch`` is reached.

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger, buffered
        >>> from maestro_audit_logger.testing import MemorySink
        >>> sink = MemorySink()
        >>> audit = AuditLogger(sink, service="billing", durability=buffered(max_batch=100))
        >>> event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> len(sink.lines)  # held in memory
        0
        >>> audit.flush()
        >>> len(sink.lines)
        1
        >>> audit.close()
    """
    return Durability("buffered", buffer_bytes=buffer_bytes, max_batch=max_batch)


def flush() -> Durability:
    """Every event is handed to the OS (``write()``) before ``record`` returns: survives a
    process crash, not a power loss. The default.

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger, flush
        >>> from maestro_audit_logger.testing import MemorySink
        >>> sink = MemorySink()
        >>> audit = AuditLogger(sink, service="billing", durability=flush())
        >>> event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> len(sink.lines), audit.stats.syncs  # written, not synced
        (1, 0)
        >>> audit.close()
    """
    return Durability("flush")


def group_commit(max_delay_ms: float = 0.0, max_batch: int = 1024) -> Durability:
    """``record`` returns only after the fsync (or database commit) that covers its event;
    concurrent writers share fsyncs. Survives power loss.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, group_commit
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> with AuditLogger(path, service="billing", durability=group_commit()) as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))  # returns after its fsync
        >>> audit.stats.syncs
        1
    """
    return Durability("group_commit", max_delay_ms=max_delay_ms, max_batch=max_batch)


def fsync_each() -> Durability:
    """One fsync (or commit) per event: the slowest, simplest durable mode.

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger, fsync_each
        >>> from maestro_audit_logger.testing import MemorySink
        >>> audit = AuditLogger(MemorySink(), service="billing", durability=fsync_each())
        >>> for i in range(3):
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> audit.stats.syncs
        3
        >>> audit.close()
    """
    return Durability("fsync_each")


@dataclass(frozen=True, slots=True)
class FailClosed:
    """On a sink failure ``record`` raises `AuditWriteError`: the service can refuse the action.

    The default policy.

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger, AuditWriteError, FailClosed
        >>> from maestro_audit_logger.testing import MemorySink
        >>> sink = MemorySink(fail=OSError(5, "I/O error"))
        >>> audit = AuditLogger(sink, service="billing", failure_policy=FailClosed())
        >>> try:
        ...     audit.record("invoice.update", actor=Actor("u-1"))
        ... except AuditWriteError:
        ...     print("refused")
        refused
        >>> audit.close()
    """


@dataclass(frozen=True, slots=True)
class FailOpen:
    """On a sink failure events go to a local spool file and are replayed, in order, when the
    sink works again. Nothing is dropped; `AuditLogger.stats` counts spooled events.

    Args:
        spool_path: where to spool (put it on another filesystem than a file sink's). Each
            process appends to a file of its own, ``<spool_path>.p<pid>-<random>``, under an
            exclusive lock, so one path may be shared by pre-fork workers: a spool left by a
            process that died is replayed by exactly one other process, then deleted.
        retry_interval_s: how often, while spooling, a write tries the sink again.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, FailOpen
        >>> from maestro_audit_logger.testing import MemorySink
        >>> sink = MemorySink(fail=OSError(5, "I/O error"))
        >>> spool = Path(tempfile.mkdtemp()) / "audit.spool"
        >>> audit = AuditLogger(sink, service="billing", failure_policy=FailOpen(spool, retry_interval_s=0))
        >>> event_id = audit.record("invoice.update", actor=Actor("u-1"))  # spooled, no error
        >>> audit.stats.spool_pending
        1
        >>> sink.fail = None  # the sink works again
        >>> event_id = audit.record("invoice.update", actor=Actor("u-2"))
        >>> [r["actor"]["id"] for r in sink.records]  # the spool replayed first, in order
        ['u-1', 'u-2']
        >>> audit.close()
    """

    spool_path: Path
    retry_interval_s: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.spool_path, str | os.PathLike):
            raise AuditConfigError(f"spool_path must be a path, got {self.spool_path!r}")
        from pathlib import Path  # noqa: PLC0415 - pathlib is not needed to import the package

        object.__setattr__(self, "spool_path", Path(self.spool_path))
        if not 0 <= self.retry_interval_s <= 3600:
            raise AuditConfigError(f"retry_interval_s must be between 0 and 3600, got {self.retry_interval_s!r}")


FailurePolicy = FailClosed | FailOpen
