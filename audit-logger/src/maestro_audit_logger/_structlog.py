"""structlog integration: a renderer and logger on structlog's fast path, and processors.

Nothing here imports structlog until `structlog_logger` is called; the processors are plain
callables that fit any structlog chain. The stdlib ``logging`` bridge is never involved: events
are rendered to canonical bytes with orjson and handed straight to the sink, the same way
structlog's own fast path pairs an orjson renderer with ``BytesLogger``.
"""

# ruff: noqa: PLC0415  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from maestro_audit_logger._errors import AuditConfigError
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
#: Keys other structlog processors add (timestamps, logger names, call sites, exception
#: text): not part of an audit event. Pass such a field yourself through ``extra={...}``.
#: `CallsiteParameterAdder`'s keys are added from the installed structlog (they grow).
PROCESSOR_KEYS = {
    "timestamp", "logger", "logger_name", "exc_info", "exception", "stack_info", "stack",
    "positional_args", "_record", "_from_structlog",
    "pathname", "filename", "module", "func_name", "lineno", "thread", "thread_name", "process", "process_name",
}  # fmt: skip
_BELOW_LEVEL = "_audit_below_level"
_DROP = PROCESSOR_KEYS | {"level", "audit", _BELOW_LEVEL}


def _learn_callsite_keys() -> None:
    """Add the installed structlog's `CallsiteParameter` keys to the keys never audited."""
    import structlog

    keys = {p.value for p in structlog.processors.CallsiteParameter}
    PROCESSOR_KEYS.update(keys)
    _DROP.update(keys)


#: Numeric levels of structlog's method names (``notice`` sits between info and warning).
_LEVEL_NUMBERS = {
    "notset": 0, "debug": 10, "info": 20, "notice": 25, "warn": 30, "warning": 30, "error": 40, "err": 40,
    "critical": 50, "fatal": 50,
}  # fmt: skip


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
        elif key == "extra" and isinstance(value, Mapping):
            extra.update(value)
        elif key not in _DROP:
            extra[key] = value
    fields["severity"] = _LEVELS.get(level, "info") if type(level) is str else "info"
    exc_info = event_dict.get("exc_info")
    if exc_info:  # log.exception(...): the action failed, with this error
        error = _exception(exc_info)
        if error is not None and "error" not in fields:
            fields["error"] = error
        fields.setdefault("outcome", "failure")
    if extra:
        fields["extra"] = extra
    return str(action), fields


def _exception(exc_info: Any) -> BaseException | None:
    """The exception an ``exc_info`` value names (True: the one being handled)."""
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3 and isinstance(exc_info[1], BaseException):
        return exc_info[1]
    return sys.exc_info()[1] if exc_info is True else None


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
        _learn_callsite_keys()

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
        _learn_callsite_keys()

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """Record the audit event when asked; return the event dict (without ``audit``).

        Raises:
            structlog.DropEvent: the event was below the log level (logged only to be
                recorded: see `audit_filtering_bound_logger`).
        """
        if event_dict.get("audit"):
            action, fields = event_fields(method_name, event_dict)
            self.audit.record(action, **fields)
            event_dict.pop("audit", None)
            if event_dict.pop(_BELOW_LEVEL, False):
                import structlog

                raise structlog.DropEvent
        return event_dict


def _level_number(level: int | str) -> int:
    if isinstance(level, bool) or not isinstance(level, int | str):
        raise AuditConfigError(f"min_level must be a logging level number or name, got {level!r}")
    if isinstance(level, int):
        return level
    number = _LEVEL_NUMBERS.get(level.lower())
    if number is None:
        raise AuditConfigError(f"min_level must be a logging level number or name, got {level!r}")
    return number


def audit_filtering_bound_logger(min_level: int | str) -> type[Any]:
    """``structlog.make_filtering_bound_logger(min_level)`` that never filters out an audit event,
    and has ``notice()``.

    structlog's filtering logger turns the methods below ``min_level`` into no-ops, so processors
    never see those calls: with a WARNING level, ``log.info(..., audit=True)`` would never reach
    `AuditTap`. Here such a call still runs the processor chain; `AuditTap` records it and then
    drops it (it is below the level, so it is not logged). ``notice`` (between info and warning)
    calls the logger's ``notice`` method where it has one (`AuditSinkLogger`), else ``info``.

    Examples:
        >>> import logging, structlog
        >>> from maestro_audit_logger import AuditLogger, AuditTap, audit_filtering_bound_logger
        >>> from maestro_audit_logger.testing import MemorySink
        >>> audit = AuditLogger(MemorySink(), service="billing")
        >>> log = structlog.wrap_logger(
        ...     structlog.ReturnLogger(),
        ...     processors=[AuditTap(audit), structlog.processors.JSONRenderer()],
        ...     wrapper_class=audit_filtering_bound_logger(logging.WARNING),
        ... )
        >>> log.info("invoice.update", audit=True, actor="u-1")  # below the level: not logged...
        >>> [r["action"] for r in audit.sink.records]  # ...but recorded
        ['invoice.update']
        >>> audit.close()
    """
    import structlog

    floor = _level_number(min_level)
    base: type[Any] = structlog.make_filtering_bound_logger(floor)
    methods: dict[str, Callable[..., Any]] = {}
    for name in ("debug", "info", "warning", "warn", "error", "err", "critical", "fatal"):
        if _LEVEL_NUMBERS[name] < floor:
            methods[name], methods["a" + name] = _audit_only(name)
    methods["notice"], methods["anotice"] = _notice(_LEVEL_NUMBERS["notice"] >= floor)
    base_log = base.log

    def log(self: Any, level: int, event: str, *args: Any, **kw: Any) -> Any:
        if level < floor and kw.get("audit"):
            kw[_BELOW_LEVEL] = True
            return self._proxy_to_logger("info" if level <= _LEVEL_NUMBERS["info"] else "warning", event, *args, **kw)
        return base_log(self, level, event, *args, **kw)

    methods["log"] = log
    return type(f"AuditFilteringBoundLogger{floor}", (base,), methods)


def _interpolate(event: str, args: tuple[Any, ...]) -> str:
    return event % args if args else event


def _audit_only(name: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    # A method below the level: only a call with audit=True runs the chain (and is then dropped).
    def meth(self: Any, event: str, *args: Any, **kw: Any) -> Any:
        if not kw.get("audit"):
            return None
        kw[_BELOW_LEVEL] = True
        return self._proxy_to_logger(name, _interpolate(event, args), **kw)

    async def ameth(self: Any, event: str, *args: Any, **kw: Any) -> Any:
        return meth(self, event, *args, **kw)

    meth.__name__, ameth.__name__ = name, "a" + name
    return meth, ameth


def _notice(enabled: bool) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def notice(self: Any, event: str, *args: Any, **kw: Any) -> Any:
        if not enabled:
            if not kw.get("audit"):
                return None
            kw[_BELOW_LEVEL] = True
        method = "notice" if hasattr(self._logger, "notice") else "info"
        return self._proxy_to_logger(method, _interpolate(event, args), **kw)

    async def anotice(self: Any, event: str, *args: Any, **kw: Any) -> Any:
        return notice(self, event, *args, **kw)

    return notice, anotice


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
        wrapper_class=audit_filtering_bound_logger(0),
        cache_logger_on_first_use=True,
    ).bind(**initial)
