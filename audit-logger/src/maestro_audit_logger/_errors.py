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
    """The root of every error raised by maestro-audit-logger."""


class AuditEventError(AuditError, ValueError):
    """An event is invalid: a missing or malformed field, an oversized or non-serialisable record.

    Attributes:
        field: the dotted name of the offending field (``"actor.id"``, ``"extra"``...).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class AuditConfigError(AuditError, ValueError):
    """Invalid configuration: the message names the parameter and what is allowed."""


class AuditWriteError(AuditError, OSError):
    """A sink failed to write or make durable an event and the failure policy is fail-closed.

    The service should treat the audited action as not recorded (and may refuse it).
    """


class AuditReadError(AuditError, ValueError):
    """A source given to the reader or verifier is unreadable, corrupt or not an audit log."""
