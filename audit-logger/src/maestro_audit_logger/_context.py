"""Request context carried in contextvars: actor, ids, tenant, source flow into every event."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar, Token
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_audit_context: ContextVar[Mapping[str, Any]] = ContextVar("maestro_audit_context", default=_EMPTY)

#: Context keys that fill event fields; any other key lands in the event's ``extra``.
EVENT_KEYS = frozenset(
    {"actor", "source", "tenant", "request_id", "correlation_id", "trace_id", "span_id", "category", "severity"}
)
#: Keys picked up from structlog's contextvars when structlog is in use.
STRUCTLOG_KEYS = frozenset({"request_id", "correlation_id", "tenant", "trace_id", "span_id"})


def bind_audit_context(**values: Any) -> Token[Mapping[str, Any]]:
    """Add ``values`` to the audit context of the current task/thread; returns a reset token.

    Examples:
        >>> from maestro_audit_logger import bind_audit_context, get_audit_context, reset_audit_context
        >>> token = bind_audit_context(tenant="acme", request_id="r-1")
        >>> dict(get_audit_context())
        {'tenant': 'acme', 'request_id': 'r-1'}
        >>> reset_audit_context(token)
    """
    merged = {**_audit_context.get(), **values}
    return _audit_context.set(MappingProxyType(merged))


def reset_audit_context(token: Token[Mapping[str, Any]]) -> None:
    """Undo a `bind_audit_context` call.

    Examples:
        >>> from maestro_audit_logger import bind_audit_context, get_audit_context, reset_audit_context
        >>> token = bind_audit_context(tenant="acme")
        >>> reset_audit_context(token)
        >>> "tenant" in get_audit_context()
        False
    """
    _audit_context.reset(token)


def clear_audit_context() -> None:
    """Forget every value in the current audit context.

    Examples:
        >>> from maestro_audit_logger import bind_audit_context, clear_audit_context, get_audit_context
        >>> token = bind_audit_context(tenant="acme", request_id="r-1")
        >>> clear_audit_context()
        >>> dict(get_audit_context())
        {}
    """
    _audit_context.set(_EMPTY)


def get_audit_context() -> Mapping[str, Any]:
    """The current audit context (read-only).

    Examples:
        >>> from maestro_audit_logger import audit_context, get_audit_context
        >>> with audit_context(tenant="acme"):
        ...     get_audit_context()["tenant"]
        'acme'
    """
    return _audit_context.get()


@contextlib.contextmanager
def audit_context(**values: Any) -> Iterator[Mapping[str, Any]]:
    """Bind ``values`` for the duration of a ``with`` block (e.g. one request).

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger, audit_context
        >>> from maestro_audit_logger.testing import MemorySink
        >>> sink = MemorySink()
        >>> audit = AuditLogger(sink, service="billing")
        >>> with audit_context(request_id="r-1", actor=Actor("u-1")):
        ...     event_id = audit.record("invoice.update")  # carries request_id and actor
        >>> sink.records[0]["request_id"], sink.records[0]["actor"]["id"]
        ('r-1', 'u-1')
        >>> audit.close()
    """
    token = bind_audit_context(**values)
    try:
        yield _audit_context.get()
    finally:
        _audit_context.reset(token)


#: structlog's registry of context variables once seen (a dict that only grows): while it is
#: empty, nothing is bound and the logger skips `structlog_context` entirely.
_structlog_vars: list[dict[str, Any] | None] = [None]
_STRUCTLOG_VARS = tuple((f"structlog_{k}", k) for k in sorted(STRUCTLOG_KEYS))


def structlog_context() -> Mapping[str, Any]:
    """The ids bound in structlog's contextvars, when structlog is already imported."""
    module = sys.modules.get("structlog.contextvars")
    if module is None:
        return _EMPTY
    variables = getattr(module, "_CONTEXT_VARS", None)
    if type(variables) is not dict:  # not the layout we know: use the public (slower) API
        values = module.get_contextvars()
        return {k: v for k, v in values.items() if k in STRUCTLOG_KEYS} if values else _EMPTY
    _structlog_vars[0] = variables
    if not variables:  # nothing was ever bound
        return _EMPTY
    # Read only the few variables we use, instead of copying the whole context every event.
    out: dict[str, Any] | None = None
    for name, key in _STRUCTLOG_VARS:
        var = variables.get(name)
        if var is not None:
            value = var.get(Ellipsis)
            if value is not Ellipsis:
                if out is None:
                    out = {}
                out[key] = value
    return out if out is not None else _EMPTY
