"""structlog integration: a renderer and logger on structlog's fast path, and processors.

Nothing here imports structlog until `structlog_logger` is called; the processors are plain
callables that fit any structlog chain. The stdlib ``logging`` bridge is never involved: events
are rendered to canonical bytes with orjson and handed straight to the sink, the same way
structlog's own fast path pairs an orjson renderer with ``BytesLogger``.
"""

# ruff: noqa: PLC0415  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from maestro_audit_logger._event import Actor, Source, Target
from maestro_audit_logger._redaction import Redactor

if TYPE_CHECKING:
    from maestro_audit_logger._logger import AuditLogger

_LEVELS = {
    "debug": "debug",
    "info": "info",
    "msg": "info",
    "notice": "notice",
    "warning": "warning",
    "warn": "warning",
    "error": "error",
    "exception": "error",
    "critical": "critical",
    "fatal": "critical",
}
_LEVELS.update({k.upper(): v for k, v in _LEVELS.items()})
_FIELDS = (
    "targets",
    "outcome",
    "reason",
    "error",
    "category",
    "changes",
    "tenant",
    "request_id",
    "correlation_id",
    "trace_id",
    "span_id",
)
_DROP = frozenset({"level", "timestamp", "logger", "audit", "exc_info"})


def _actor(value: Any) -> Actor | None:
    if value is None or type(value) is Actor or isinstance(value, Actor):
        return value
    if isinstance(value, str):
        return Actor(value)
    if isinstance(value, Mapping):
        return Actor.from_dict(value)
    return Actor(str(value))


def _targets(value: Any) -> Any:
    if type(value) is Target:
        return value
    if isinstance(value, Mapping):
        return Target.from_dict(value)
    if isinstance(value, list | tuple):
        return tuple(Target.from_dict(t) if isinstance(t, Mapping) else t for t in value)
    return value


def _source(value: Any) -> Any:
    return Source.from_dict(value) if isinstance(value, Mapping) else value


_FIELD_SET = frozenset(_FIELDS) - {"targets"}
_CONVERT = {
    "actor": ("actor", _actor),
    "target": ("targets", _targets),
    "targets": ("targets", _targets),
    "source": ("source", _source),
}


def event_fields(method_name: str, event_dict: MutableMapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """Split a structlog event dict into ``(action, record() keywords)``.

    ``event`` is the action; the method name (or ``level``) gives the severity; ``actor``,
    ``target``/``targets``, ``outcome``, ``changes``... fill the event's fields; everything else
    goes to ``extra``.
    """
    action: Any = None
    level: Any = method_name
    fields: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in event_dict.items():
        if key == "event":
            action = value
        elif key in _FIELD_SET:
            fields[key] = value
        elif key in _CONVERT:
            name, convert = _CONVERT[key]
            fields[name] = convert(value)
        elif key == "level":
            level = value
        elif key not in _DROP:
            extra[key] = value
    fields["severity"] = _LEVELS.get(level, "info") if type(level) is str else "info"
    if extra:
        fields["extra"] = extra
    return str(action), fields


class AuditRenderer:
    """structlog's last processor: turns the event dict into the canonical, redacted,
    validated record body (bytes) of ``audit``. Pair it with `AuditSinkLogger`.

    Examples:
        `structlog_logger` builds this chain; to add processors of your own, build it yourself:

        >>> import structlog
        >>> from maestro_audit_logger import AuditLogger, AuditRenderer, AuditSinkLogger
        >>> from maestro_audit_logger.testing import MemorySink
        >>> audit = AuditLogger(MemorySink(), service="billing")
        >>> log = structlog.wrap_logger(
        ...     AuditSinkLogger(audit), processors=[structlog.contextvars.merge_contextvars, AuditRenderer(audit)]
        ... )
        >>> log.info("invoice.update", actor="u-1", target={"type": "invoice", "id": "42"})
        >>> audit.sink.records[0]["targets"]  # stored with sorted keys
        [{'id': '42', 'type': 'invoice'}]
        >>> audit.close()
    """

    def __init__(self, audit: AuditLogger) -> None:
        self.audit = audit

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> bytes:
        """Render one event (raises `AuditEventError` for an invalid one)."""
        action, f = event_fields(method_name, event_dict)
        get = f.get
        audit = self.audit
        return audit.render(
            audit._record_dict(  # one pass, no keyword re-packing: this is structlog's hot path
                action, get("actor"), get("targets", ()), get("outcome", "success"), get("reason"),
                get("error"), get("category"), get("changes"), get("source"), f["severity"], get("tenant"),
                get("request_id"), get("correlation_id"), get("trace_id"), get("span_id"), get("extra"),
            )
        )  # fmt: skip


class AuditSinkLogger:
    """A structlog logger (like ``structlog.BytesLogger``) whose every method hands the
    rendered bytes to the audit logger's sink.

    Examples:
        >>> import structlog
        >>> from maestro_audit_logger import AuditLogger, AuditRenderer, AuditSinkLogger
        >>> from maestro_audit_logger.testing import MemorySink
        >>> audit = AuditLogger(MemorySink(), service="billing")
        >>> log = structlog.wrap_logger(AuditSinkLogger(audit), processors=[AuditRenderer(audit)])
        >>> log.warning("auth.login", actor="u-1", outcome="failure")
        >>> audit.sink.records[0]["severity"]
        'warning'
        >>> audit.close()
    """

    def __init__(self, audit: AuditLogger) -> None:
        self._emit = audit.sink.emit

    def msg(self, message: bytes) -> None:
        """Write one rendered record."""
        self._emit([message])

    log = debug = info = notice = warn = warning = error = err = critical = exception = fatal = msg


class RedactSecrets:
    """A structlog processor that redacts ordinary log events with a `Redactor`
    (secret keys, bearer tokens, AWS keys, card numbers), for services' non-audit logs too.

    Examples:
        >>> import structlog
        >>> from maestro_audit_logger import RedactSecrets
        >>> log = structlog.wrap_logger(structlog.ReturnLogger(), processors=[RedactSecrets()])
        >>> log.info("login", user="ann", password="hunter2")
        ((), {'user': 'ann', 'password': '[REDACTED]', 'event': 'login'})
    """

    def __init__(self, redactor: Redactor | None = None) -> None:
        self.redactor = redactor or Redactor()

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """Return the redacted event dict."""
        return self.redactor.redact_mapping(event_dict)


class AuditTap:
    """A structlog processor for an existing logging chain: events logged with ``audit=True``
    are also recorded as audit events (``event`` is the action); the log event passes on.

    Examples:
        >>> import structlog
        >>> from maestro_audit_logger import AuditLogger, AuditTap
        >>> from maestro_audit_logger.testing import MemorySink
        >>> audit = AuditLogger(MemorySink(), service="billing")
        >>> log = structlog.wrap_logger(
        ...     structlog.ReturnLogger(), processors=[AuditTap(audit), structlog.processors.JSONRenderer()]
        ... )
        >>> line = log.info("invoice.update", audit=True, actor="u-1", target={"type": "invoice", "id": "42"})
        >>> [r["action"] for r in audit.sink.records]  # recorded, and logged as usual
        ['invoice.update']
        >>> audit.close()
    """

    def __init__(self, audit: AuditLogger) -> None:
        self.audit = audit

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """Record the audit event when asked; return the event dict unchanged."""
        if event_dict.get("audit"):
            action, fields = event_fields(method_name, event_dict)
            self.audit.record(action, **fields)
            event_dict.pop("audit", None)
        return event_dict


def structlog_logger(audit: AuditLogger, **initial: Any) -> Any:
    """A structlog bound logger writing audit events: ``log.info("invoice.update", actor=...)``.

    Uses structlog's fast path: a level-filtering bound logger, contextvars merged, the event
    rendered to bytes by `AuditRenderer` and written by `AuditSinkLogger` (no stdlib logging).

    Examples:
        >>> from maestro_audit_logger import AuditLogger, structlog_logger
        >>> from maestro_audit_logger.testing import MemorySink
        >>> audit = AuditLogger(MemorySink(), service="billing")
        >>> log = structlog_logger(audit, tenant="acme")
        >>> log.info("invoice.update", actor="u-1", amount=120)
        >>> record = audit.sink.records[0]
        >>> record["tenant"], record["extra"]
        ('acme', {'amount': 120})
        >>> audit.close()
    """
    import structlog

    return structlog.wrap_logger(
        AuditSinkLogger(audit),
        processors=[structlog.contextvars.merge_contextvars, AuditRenderer(audit)],
        wrapper_class=structlog.make_filtering_bound_logger(0),
        cache_logger_on_first_use=True,
    ).bind(**initial)
