"""The stream store and sink: chained JSON lines to stdout, stderr or any binary file object
(container platforms collect them)."""

from __future__ import annotations

import os
import sys
import threading
from typing import IO, Any

from maestro_audit_logger._errors import AuditConfigError
from maestro_audit_logger.sinks.store import StoreSink


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        if n == 0:  # pragma: no cover - defensive
            raise OSError("write() wrote nothing")
        view = view[n:]


class StreamStore:
    """A `Store` writing lines to a file descriptor (nothing to sync; ``close`` leaves the
    descriptor open: it belongs to the caller).

    Examples:
        >>> import tempfile
        >>> with tempfile.TemporaryFile() as fh:
        ...     StreamStore(fh.fileno()).store_lines([b'{"a":1}\\n'])
        ...     _ = fh.seek(0)
        ...     fh.read()
        b'{"a":1}\\n'
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._write_lock = threading.Lock()

    def store_lines(self, lines: list[bytes]) -> None:
        """Write ``lines`` in one go (one ``write()`` when the descriptor takes it whole)."""
        data = b"".join(lines)
        with self._write_lock:
            _write_all(self.fd, data)

    def sync(self) -> None:
        """Nothing to make durable."""

    def close(self) -> None:
        """Nothing to release: the descriptor is the caller's."""


class StreamSink(StoreSink):
    """Writes chained JSON lines to stdout or stderr (container platforms).

    Each batch goes out with one ``write()`` on the raw descriptor under the sink's lock, so
    records from threads of one process never interleave. Between *processes* sharing a pipe,
    POSIX only guarantees atomic writes up to ``PIPE_BUF`` (4096 bytes on Linux): keep one
    writer per pipe, or records above 4 KiB may interleave with other writers' output.
    There is nothing to fsync: durable modes behave like ``flush``.

    Args:
        stream: ``"stdout"``, ``"stderr"`` or a binary file object with ``fileno()``.
        writer_id: this writer's chain name.

    Examples:
        ``AuditLogger("-", service=...)`` writes to stdout; any binary file works too:

        >>> import tempfile
        >>> from maestro_audit_logger import Actor, AuditLogger, StreamSink
        >>> with tempfile.TemporaryFile() as fh:
        ...     with AuditLogger(StreamSink(fh), service="billing") as audit:
        ...         event_id = audit.record("invoice.update", actor=Actor("u-1"))
        ...     size = fh.seek(0, 2)
        >>> size > 0
        True
    """

    def __init__(self, stream: str | IO[bytes] = "stdout", *, writer_id: str | None = None) -> None:
        if stream == "stdout":
            fd = sys.stdout.fileno()
        elif stream == "stderr":
            fd = sys.stderr.fileno()
        elif hasattr(stream, "fileno"):
            fd = stream.fileno()
        else:
            raise AuditConfigError(f"stream must be 'stdout', 'stderr' or a file object, got {stream!r}")
        self._fd = fd
        super().__init__(StreamStore(fd), writer_id=writer_id)

    def describe(self) -> dict[str, Any]:
        """Kind, descriptor and writer id."""
        return {"kind": "stream", "fd": self._fd, "writer": self.writer_id}
