"""The `Store` protocol: where a sink's chained lines go, and `StoreSink`, the sink over any store.

A sink (`Sink`) does what every audit log needs — the per-writer hash chain, batching, the
durability modes, the failure policy and its spool — and hands each batch of finished lines to
its store, which only keeps them: the model is httpx's ``Client`` over a ``BaseTransport``.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from maestro_audit_logger._chain import Record
from maestro_audit_logger._errors import AuditConfigError
from maestro_audit_logger._sink import Sink


@runtime_checkable
class Store(Protocol):
    """Where chained audit lines are kept: a file, a stream, a database, your own.

    A store is called by one thread at a time (its sink serialises the calls), and never
    chains, batches, retries or spools anything itself: `StoreSink` does.

    Methods:
        store_lines: keep ``lines`` (each one canonical JSON record ending in ``\\n``, in
            order) all-or-nothing: raise one of the sink's ``failure_types`` (``OSError`` by
            default) if any of them may not have been kept whole.
        sync: make every line stored so far durable (fsync, commit); called by the durable
            modes (``group_commit``, ``fsync_each``) after ``store_lines``.
        close: release files or connections (called once, when the sink is closed).

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger
        >>> from maestro_audit_logger.sinks import Store, StoreSink
        >>> class ListStore:
        ...     def __init__(self) -> None:
        ...         self.lines: list[bytes] = []
        ...
        ...     def store_lines(self, lines: list[bytes]) -> None:
        ...         self.lines.extend(lines)
        ...
        ...     def sync(self) -> None:
        ...         pass
        ...
        ...     def close(self) -> None:
        ...         pass
        >>> store = ListStore()
        >>> isinstance(store, Store)
        True
        >>> with AuditLogger(StoreSink(store), service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> store.lines[0][:9]
        b'{"prev":"'
    """

    def store_lines(self, lines: list[bytes]) -> None:
        """Keep ``lines`` all-or-nothing."""

    def sync(self) -> None:
        """Make what is stored durable."""

    def close(self) -> None:
        """Release the store's resources."""


class StoreSink(Sink):
    """A sink over any `Store`: chaining, batching, durability modes and the failure policy
    (`FailClosed`, or `FailOpen`'s spool and replay) come from `Sink`; the store keeps the lines.

    Args:
        store: an object with ``store_lines``, ``sync`` and ``close`` (see `Store`).
        failure_types: the exceptions of the store that count as a sink failure (raised as
            `AuditWriteError`, or spooled under `FailOpen`). Default: ``(OSError,)``.
        writer_id: this writer's chain name.

    Examples:
        >>> import io
        >>> from maestro_audit_logger import Actor, AuditLogger, verify
        >>> from maestro_audit_logger.sinks import StoreSink
        >>> class BufferStore:
        ...     def __init__(self) -> None:
        ...         self.buffer = io.BytesIO()
        ...
        ...     def store_lines(self, lines: list[bytes]) -> None:
        ...         self.buffer.write(b"".join(lines))
        ...
        ...     def sync(self) -> None:
        ...         pass
        ...
        ...     def close(self) -> None:
        ...         pass
        >>> store = BufferStore()
        >>> with AuditLogger(StoreSink(store, writer_id="doc/1/a"), service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> store.buffer.getvalue().count(b"\\n")
        1
    """

    _lines_only = True

    def __init__(
        self,
        store: Store,
        *,
        failure_types: tuple[type[BaseException], ...] = (OSError,),
        writer_id: str | None = None,
    ) -> None:
        if not isinstance(store, Store):
            raise AuditConfigError(f"store must have store_lines(), sync() and close() (a Store), got {store!r}")
        if not (
            isinstance(failure_types, tuple)
            and failure_types
            and all(isinstance(t, type) and issubclass(t, BaseException) for t in failure_types)
        ):
            raise AuditConfigError(f"failure_types must be a non-empty tuple of exception types, got {failure_types!r}")
        self.store = store
        self.failure_types = failure_types
        super().__init__(writer_id=writer_id)
        # A subclass that overrides `_store` (to see the records) gets it called.
        self._lines_only = type(self)._store is StoreSink._store

    def _store(self, records: list[Record]) -> None:
        self.store.store_lines([r.line for r in records])

    def _store_lines(self, lines: list[bytes]) -> None:
        self.store.store_lines(lines)

    def _sync(self) -> None:
        self.store.sync()

    def _close_store(self) -> None:
        self.store.close()

    def describe(self) -> dict[str, Any]:
        """Kind (the store's class) and writer id."""
        return {"kind": type(self.store).__name__, "writer": self.writer_id}
