"""Helpers for services' own tests: capture recorded events, or keep them in memory.

Examples:
    >>> from maestro_audit_logger import Actor, AuditLogger
    >>> from maestro_audit_logger.testing import MemorySink, capture
    >>> audit = AuditLogger(MemorySink(), service="billing")
    >>> with capture() as events:
    ...     event_id = audit.record("user.create", actor=Actor("u-1"), extra={"password": "hunter2"})
    >>> events.actions
    ['user.create']
    >>> events.assert_recorded("user.create")["extra"]  # what reached the sink: redacted
    {'password': '[REDACTED]'}
    >>> audit.close()
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson

from maestro_audit_logger._chain import Record
from maestro_audit_logger._logger import _captures
from maestro_audit_logger._sink import Sink

__all__ = ["CapturedEvents", "MemorySink", "capture"]


class CapturedEvents(list[dict[str, Any]]):
    """The record bodies captured (redacted, before integrity members), in order."""

    @property
    def actions(self) -> list[str]:
        """The action of every captured event."""
        return [e["action"] for e in self]

    def find(self, action: str) -> list[dict[str, Any]]:
        """The captured events with this action."""
        return [e for e in self if e["action"] == action]

    def assert_recorded(self, action: str, **fields: Any) -> dict[str, Any]:
        """The first event with ``action`` whose top-level members equal ``fields``; else AssertionError."""
        for e in self.find(action):
            if all(e.get(k) == v for k, v in fields.items()):
                return e
        raise AssertionError(f"no {action!r} event with {fields!r}; recorded: {self.actions!r}")


@contextlib.contextmanager
def capture() -> Iterator[CapturedEvents]:
    """Capture every event any `AuditLogger` in this process renders while the block runs.

    Events are captured after redaction, so tests can assert secrets never reach a sink.
    They are still written to the logger's sink.
    """
    events = CapturedEvents()
    hook = events.append
    _captures.append(hook)
    try:
        yield events
    finally:
        _captures.remove(hook)


class MemorySink(Sink):
    """A sink that keeps the chained lines in memory (``lines``, ``records``): no disk needed.

    Args:
        writer_id: this writer's chain name.
        fail: when set, every store raises this exception (to test failure policies).
    """

    def __init__(self, *, writer_id: str | None = None, fail: OSError | None = None) -> None:
        self.lines: list[bytes] = []
        self.fail = fail
        super().__init__(writer_id=writer_id)

    @property
    def records(self) -> list[dict[str, Any]]:
        """The stored records, parsed."""
        return [orjson.loads(line) for line in self.lines]

    def _store(self, records: list[Record]) -> None:
        if self.fail is not None:
            raise self.fail
        self.lines.extend(r.line for r in records)

    def _sync(self) -> None:
        return

    def _close_store(self) -> None:
        return
