"""The exceptions of maestro-audit-logger, all under one root.

```
AuditError                      root: catch this to handle every audit failure
├── AuditEventError (ValueError)    an event is malformed, oversized or not serialisable
├── AuditConfigError (ValueError)   invalid configuration given to a logger, sink or policy
├── AuditWriteError (OSError)       a sink could not make an event durable (fail-closed)
└── AuditReadError (ValueError)     a file, database or DSN is corrupt or not an audit log
```
"""

from __future__ import annotations


class AuditError(Exception):
    """The root of every error raised by maestro-audit-logger.

    Examples:
        Catch it to handle any failure of the library:

        >>> from maestro_audit_logger import Actor, AuditError
        >>> try:
        ...     Actor("")
        ... except AuditError as exc:
        ...     print(type(exc).__name__, exc)
        AuditEventError actor.id: must not be empty
    """


class AuditEventError(AuditError, ValueError):
    """An event is invalid: a missing or malformed field, an oversized or non-serialisable record.

    Attributes:
        field: the dotted name of the offending field (``"actor.id"``, ``"extra"``...).

    Examples:
        Raised by the event types, `AuditLogger.record` and `AuditLogger.build`:

        >>> from maestro_audit_logger import AuditEventError, Source
        >>> try:
        ...     Source(ip="not-an-ip")
        ... except AuditEventError as exc:
        ...     print(exc.field, "|", exc)
        source.ip | source.ip: is not an IP address: 'not-an-ip'
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class AuditConfigError(AuditError, ValueError):
    """Invalid configuration: the message names the parameter and what is allowed.

    Examples:
        Raised when a logger, sink, durability mode or policy is built:

        >>> from maestro_audit_logger import AuditConfigError, buffered
        >>> try:
        ...     buffered(max_batch=0)
        ... except AuditConfigError as exc:
        ...     print(exc)
        max_batch must be a positive integer, got 0
    """


class AuditWriteError(AuditError, OSError):
    """A sink failed to write or make durable an event and the failure policy is fail-closed.

    The service should treat the audited action as not recorded (and may refuse it).

    Examples:
        Raised by `AuditLogger.record` (and ``flush``, ``close``) under `FailClosed`:

        >>> from maestro_audit_logger import Actor, AuditLogger, AuditWriteError
        >>> from maestro_audit_logger.testing import MemorySink
        >>> audit = AuditLogger(MemorySink(fail=OSError(28, "No space left on device")), service="billing")
        >>> try:
        ...     audit.record("invoice.update", actor=Actor("u-1"))
        ... except AuditWriteError as exc:
        ...     print(exc)  # refuse the action: it was not recorded
        audit sink failed: [Errno 28] No space left on device
        >>> audit.close()
    """


class AuditReadError(AuditError, ValueError):
    """A source given to the reader or verifier is unreadable, corrupt or not an audit log.

    Examples:
        Raised by `verify`, `repair` and `AuditReader`:

        >>> from maestro_audit_logger import AuditReadError, verify
        >>> try:
        ...     verify("no-such-audit.jsonl")
        ... except AuditReadError as exc:
        ...     print(exc)
        no-such-audit.jsonl does not exist
    """
