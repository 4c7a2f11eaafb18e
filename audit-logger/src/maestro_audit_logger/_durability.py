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
    """
    return Durability("buffered", buffer_bytes=buffer_bytes, max_batch=max_batch)


def flush() -> Durability:
    """Every event is handed to the OS (``write()``) before ``record`` returns: survives a
    process crash, not a power loss."""
    return Durability("flush")


def group_commit(max_delay_ms: float = 0.0, max_batch: int = 1024) -> Durability:
    """``record`` returns only after the fsync (or database commit) that covers its event;
    concurrent writers share fsyncs. Survives power loss."""
    return Durability("group_commit", max_delay_ms=max_delay_ms, max_batch=max_batch)


def fsync_each() -> Durability:
    """One fsync (or commit) per event: the slowest, simplest durable mode."""
    return Durability("fsync_each")


@dataclass(frozen=True, slots=True)
class FailClosed:
    """On a sink failure ``record`` raises `AuditWriteError`: the service can refuse the action."""


@dataclass(frozen=True, slots=True)
class FailOpen:
    """On a sink failure events go to a local spool file and are replayed, in order, when the
    sink works again. Nothing is dropped; `AuditLogger.stats` counts spooled events.

    Args:
        spool_path: the spool file (put it on another filesystem than a file sink's).
        retry_interval_s: how often, while spooling, a write tries the sink again.
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
