"""A tamper-evident, durable, structlog-native audit log with typed events, redaction and file,
SQLite and PostgreSQL sinks.

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from maestro_audit_logger import Actor, AuditLogger, Target, verify
    >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
    >>> with AuditLogger(path, service="billing") as audit:
    ...     event_id = audit.record("invoice.update", actor=Actor("u-1"), targets=Target("invoice", "42"))
    >>> verify(path).ok
    True
"""

# ruff: noqa: PLC0415  # optional and heavy modules are imported where used; wide internal signatures

from typing import TYPE_CHECKING, Any

from maestro_audit_logger.__about__ import __version__
from maestro_audit_logger._context import (
    audit_context,
    bind_audit_context,
    clear_audit_context,
    get_audit_context,
    reset_audit_context,
)
from maestro_audit_logger._durability import (
    Durability,
    FailClosed,
    FailOpen,
    buffered,
    flush,
    fsync_each,
    group_commit,
)
from maestro_audit_logger._errors import (
    AuditConfigError,
    AuditError,
    AuditEventError,
    AuditReadError,
    AuditWriteError,
)
from maestro_audit_logger._event import Actor, AuditEvent, Outcome, Source, Target
from maestro_audit_logger._logger import AuditLogger
from maestro_audit_logger._redaction import NoRedaction, Redactor
from maestro_audit_logger._sink import Sink, SinkStats

if TYPE_CHECKING:
    from maestro_audit_logger._reader import AuditReader
    from maestro_audit_logger._signing import Ed25519Signer, HmacSigner, Keyring
    from maestro_audit_logger._structlog import (
        AuditRenderer,
        AuditSinkLogger,
        AuditTap,
        RedactSecrets,
        audit_filtering_bound_logger,
        structlog_logger,
    )
    from maestro_audit_logger._verify import Problem, VerifyReport, repair, verify
    from maestro_audit_logger.sinks.file import JsonlFileSink
    from maestro_audit_logger.sinks.postgres import PostgresSink
    from maestro_audit_logger.sinks.sqlite import SqliteSink
    from maestro_audit_logger.sinks.store import Store, StoreSink
    from maestro_audit_logger.sinks.stream import StreamSink

__all__ = [
    "Actor",
    "AuditConfigError",
    "AuditError",
    "AuditEvent",
    "AuditEventError",
    "AuditLogger",
    "AuditReadError",
    "AuditReader",
    "AuditRenderer",
    "AuditSinkLogger",
    "AuditTap",
    "AuditWriteError",
    "Durability",
    "Ed25519Signer",
    "FailClosed",
    "FailOpen",
    "HmacSigner",
    "JsonlFileSink",
    "Keyring",
    "NoRedaction",
    "Outcome",
    "PostgresSink",
    "Problem",
    "RedactSecrets",
    "Redactor",
    "Sink",
    "SinkStats",
    "Source",
    "SqliteSink",
    "Store",
    "StoreSink",
    "StreamSink",
    "Target",
    "VerifyReport",
    "__version__",
    "audit_context",
    "audit_filtering_bound_logger",
    "bind_audit_context",
    "buffered",
    "clear_audit_context",
    "flush",
    "fsync_each",
    "get_audit_context",
    "group_commit",
    "repair",
    "reset_audit_context",
    "structlog_logger",
    "verify",
]

# Imported on first use, so `import maestro_audit_logger` stays cheap.
_LAZY = {
    "AuditRenderer": "maestro_audit_logger._structlog",
    "AuditSinkLogger": "maestro_audit_logger._structlog",
    "AuditTap": "maestro_audit_logger._structlog",
    "Ed25519Signer": "maestro_audit_logger._signing",
    "HmacSigner": "maestro_audit_logger._signing",
    "JsonlFileSink": "maestro_audit_logger.sinks.file",
    "Keyring": "maestro_audit_logger._signing",
    "RedactSecrets": "maestro_audit_logger._structlog",
    "StreamSink": "maestro_audit_logger.sinks.stream",
    "Store": "maestro_audit_logger.sinks.store",
    "StoreSink": "maestro_audit_logger.sinks.store",
    "structlog_logger": "maestro_audit_logger._structlog",
    "audit_filtering_bound_logger": "maestro_audit_logger._structlog",
    "AuditReader": "maestro_audit_logger._reader",
    "Problem": "maestro_audit_logger._verify",
    "VerifyReport": "maestro_audit_logger._verify",
    "repair": "maestro_audit_logger._verify",
    "verify": "maestro_audit_logger._verify",
    "PostgresSink": "maestro_audit_logger.sinks.postgres",
    "SqliteSink": "maestro_audit_logger.sinks.sqlite",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'maestro_audit_logger' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
