"""The audit event model: who (`Actor`) did what (``action``) to which resources (`Target`),
from where (`Source`), with what result (`Outcome`), when, and what changed.

Every part validates itself at construction and raises `AuditEventError` naming the field.
`AuditEvent.to_dict` gives the canonical record body shared by hashing and every sink.
"""

# ruff: noqa: PLR0912, PLR0915  # flat field-by-field mapping reads best as one function

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from maestro_audit_logger import _clock
from maestro_audit_logger._clock import iso_from_ns, ns_from_iso, uuid7
from maestro_audit_logger._errors import AuditEventError

SCHEMA_VERSION = 1
OutcomeStatus = Literal["success", "failure", "unknown"]
Severity = Literal["debug", "info", "notice", "warning", "error", "critical"]
OUTCOMES: tuple[str, ...] = ("success", "failure", "unknown")
SEVERITIES: tuple[str, ...] = ("debug", "info", "notice", "warning", "error", "critical")
#: Keys the sinks add to a record; an event may not use them.
INTEGRITY_KEYS = frozenset({"writer", "seq", "prev", "hash"})

_ACTION = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")
_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_HEX = re.compile(r"^[0-9a-f]+$")


def _text(path: str, value: object, *, required: bool = True, max_len: int = 1024) -> None:
    if value is None:
        if required:
            raise AuditEventError(path, "is required")
        return
    if not isinstance(value, str):
        raise AuditEventError(path, f"must be a string, not {type(value).__name__}")
    if not value:
        raise AuditEventError(path, "must not be empty")
    if len(value) > max_len:
        raise AuditEventError(path, f"is longer than {max_len} characters")


def _prune(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a user, service or system, possibly on behalf of another actor.

    Args:
        id: a stable identifier (user id, service account, client id). Required.
        type: ``user``, ``service``, ``system``... (a lower-case word). Default ``user``.
        name: a display name (redacted/pseudonymised like any PII field if configured).
        on_behalf_of: the actor being impersonated or delegated for.

    Examples:
        >>> from maestro_audit_logger import Actor
        >>> Actor("u-1", name="Ann").to_dict()
        {'id': 'u-1', 'type': 'user', 'name': 'Ann'}
        >>> Actor("billing-worker", type="service", on_behalf_of=Actor("u-1")).to_dict()
        {'id': 'billing-worker', 'type': 'service', 'on_behalf_of': {'id': 'u-1', 'type': 'user'}}
    """

    id: str
    type: str = "user"
    name: str | None = None
    on_behalf_of: Actor | None = None
    _dict: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _text("actor.id", self.id)
        _text("actor.type", self.type)
        if not _NAME.match(self.type):
            raise AuditEventError("actor.type", f"must be a lower-case word, got {self.type!r}")
        _text("actor.name", self.name, required=False)
        if self.on_behalf_of is not None and not isinstance(self.on_behalf_of, Actor):
            raise AuditEventError("actor.on_behalf_of", "must be an Actor")

    def to_dict(self) -> dict[str, Any]:
        """The actor as a JSON-ready dict (absent fields omitted). Do not mutate it: it is cached."""
        d = self._dict
        if d is None:
            d = _prune(
                {
                    "id": self.id,
                    "type": self.type,
                    "name": self.name,
                    "on_behalf_of": None if self.on_behalf_of is None else self.on_behalf_of.to_dict(),
                }
            )
            object.__setattr__(self, "_dict", d)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Actor:
        """Rebuild an actor from `to_dict` output."""
        obo = data.get("on_behalf_of")
        return cls(
            id=data.get("id"),  # type: ignore[arg-type]
            type=data.get("type", "user"),
            name=data.get("name"),
            on_behalf_of=None if obo is None else cls.from_dict(obo),
        )


@dataclass(frozen=True, slots=True)
class Target:
    """A resource the action touched.

    Args:
        type: the resource kind (``invoice``, ``user``, ``bucket``...). Required.
        id: the resource identifier. Required.
        name: an optional display name.

    Examples:
        >>> from maestro_audit_logger import Target
        >>> Target("invoice", "42").to_dict()
        {'type': 'invoice', 'id': '42'}
    """

    type: str
    id: str
    name: str | None = None
    _dict: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        _text("target.type", self.type)
        _text("target.id", self.id)
        _text("target.name", self.name, required=False)

    def to_dict(self) -> dict[str, Any]:
        """The target as a JSON-ready dict. Do not mutate it: it is cached."""
        d = self._dict
        if d is None:
            d = _prune({"type": self.type, "id": self.id, "name": self.name})
            object.__setattr__(self, "_dict", d)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        """Rebuild a target from `to_dict` output."""
        return cls(type=data.get("type"), id=data.get("id"), name=data.get("name"))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Source:
    """Where the request came from.

    Args:
        ip: the client's IPv4 or IPv6 address (validated, stored normalised).
        port: the client's port, 0-65535.
        user_agent: the client's User-Agent header.

    Examples:
        >>> from maestro_audit_logger import Source
        >>> Source(ip="2001:DB8::1", port=443, user_agent="curl/8.5").to_dict()
        {'ip': '2001:db8::1', 'port': 443, 'user_agent': 'curl/8.5'}
    """

    ip: str | None = None
    port: int | None = None
    user_agent: str | None = None
    _dict: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.ip is not None:
            import ipaddress  # noqa: PLC0415 - only needed when a source is given

            try:
                normal = str(ipaddress.ip_address(self.ip))
            except ValueError:
                raise AuditEventError("source.ip", f"is not an IP address: {self.ip!r}") from None
            object.__setattr__(self, "ip", normal)
        if self.port is not None and (
            not isinstance(self.port, int) or isinstance(self.port, bool) or not 0 <= self.port <= 65535
        ):
            raise AuditEventError("source.port", f"must be an integer 0-65535, got {self.port!r}")
        _text("source.user_agent", self.user_agent, required=False, max_len=4096)

    def to_dict(self) -> dict[str, Any]:
        """The source as a JSON-ready dict. Do not mutate it: it is cached."""
        d = self._dict
        if d is None:
            d = _prune({"ip": self.ip, "port": self.port, "user_agent": self.user_agent})
            object.__setattr__(self, "_dict", d)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Source:
        """Rebuild a source from `to_dict` output."""
        return cls(ip=data.get("ip"), port=data.get("port"), user_agent=data.get("user_agent"))


@dataclass(frozen=True, slots=True)
class Outcome:
    """Whether the action worked, and why not.

    Args:
        status: ``success``, ``failure`` or ``unknown``.
        reason: a short explanation (an error code or message; redacted before writing).

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger, Outcome
        >>> from maestro_audit_logger.testing import MemorySink
        >>> sink = MemorySink()
        >>> with AuditLogger(sink, service="billing") as audit:
        ...     event_id = audit.record(
        ...         "invoice.pay", actor=Actor("u-1"), outcome=Outcome("failure", reason="card declined")
        ...     )
        >>> sink.records[0]["outcome"], sink.records[0]["reason"]
        ('failure', 'card declined')
    """

    status: OutcomeStatus = "success"
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.status not in OUTCOMES:
            raise AuditEventError("outcome", f"must be one of {', '.join(OUTCOMES)}, got {self.status!r}")
        _text("reason", self.reason, required=False, max_len=8192)


def _coerce_targets(value: object) -> tuple[Target, ...]:
    if value is None:
        return ()
    if isinstance(value, Target):
        return (value,)
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise AuditEventError("targets", "must be a Target or an iterable of Target")
    out = tuple(value)
    for i, t in enumerate(out):
        if not isinstance(t, Target):
            raise AuditEventError(f"targets[{i}]", f"must be a Target, not {type(t).__name__}")
    return out


def _check_id(name: str, value: object, pattern: re.Pattern[str] | None = None, length: int | None = None) -> None:
    if value is None:
        return
    _text(name, value, max_len=256)
    assert isinstance(value, str)  # noqa: S101 - narrowed by _text
    if pattern is not None and (not pattern.match(value) or (length is not None and len(value) != length)):
        raise AuditEventError(name, f"is malformed: {value!r}")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit event. Construction validates every field.

    Args:
        action: a dotted, lower-case verb such as ``invoice.update`` or ``auth.login``. Required.
        actor: who acted. Required.
        targets: the resources touched (one `Target` or several).
        outcome: an `Outcome`, or just its status string.
        category: a lower-case word grouping actions (``authentication``, ``api``, ``admin``...);
            defaults to the action's first segment.
        changes: ``{field: [before, after]}``.
        source: where the request came from.
        severity: ``debug`` ... ``critical``; default ``info``.
        service: the emitting service; `AuditLogger` fills it in.
        tenant: the tenant or account the action belongs to.
        request_id: the request's id.
        correlation_id: an id tying several requests together.
        trace_id: the W3C trace id (32 hex digits); filled from OpenTelemetry when present.
        span_id: the W3C span id (16 hex digits).
        extra: any further JSON-serialisable detail.
        time_ns: nanoseconds since the epoch (UTC); defaults to now.
        event_id: a UUIDv7; generated when absent.

    Examples:
        >>> from maestro_audit_logger import Actor, AuditEvent, AuditLogger, Target
        >>> from maestro_audit_logger.testing import MemorySink
        >>> event = AuditEvent(
        ...     "invoice.update", actor=Actor("u-1"), targets=Target("invoice", "42"), changes={"amount": [100, 120]}
        ... )
        >>> event.category, event.outcome.status
        ('invoice', 'success')
        >>> with AuditLogger(MemorySink(), service="billing") as audit:
        ...     audit.record(event) == event.event_id
        True
    """

    action: str
    actor: Actor
    targets: tuple[Target, ...] = ()
    outcome: Outcome = field(default_factory=Outcome)
    category: str | None = None
    changes: Mapping[str, Any] | None = None
    source: Source | None = None
    severity: Severity = "info"
    service: str | None = None
    tenant: str | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    extra: Mapping[str, Any] | None = None
    time_ns: int = 0
    event_id: str = ""

    def __post_init__(self) -> None:
        _text("action", self.action, max_len=256)
        if not _ACTION.match(self.action):
            raise AuditEventError(
                "action", f"must be a dotted lower-case verb like 'invoice.update', got {self.action!r}"
            )
        if not isinstance(self.actor, Actor):
            raise AuditEventError("actor", f"must be an Actor, not {type(self.actor).__name__}")
        object.__setattr__(self, "targets", _coerce_targets(self.targets))
        outcome: object = self.outcome
        if isinstance(outcome, str):
            object.__setattr__(self, "outcome", Outcome(outcome))  # type: ignore[arg-type]
        elif not isinstance(outcome, Outcome):
            raise AuditEventError("outcome", "must be an Outcome or one of success, failure, unknown")
        if self.category is None:
            object.__setattr__(self, "category", self.action.split(".", 1)[0])
        elif not isinstance(self.category, str) or not _NAME.match(self.category):
            raise AuditEventError("category", f"must be a lower-case word, got {self.category!r}")
        if self.changes is not None:
            if not isinstance(self.changes, Mapping):
                raise AuditEventError("changes", "must be a mapping {field: [before, after]}")
            for key, pair in self.changes.items():
                if not isinstance(key, str):
                    raise AuditEventError("changes", f"field names must be strings, got {key!r}")
                if not isinstance(pair, list | tuple) or len(pair) != 2:
                    raise AuditEventError(f"changes.{key}", "must be a [before, after] pair")
        if self.source is not None and not isinstance(self.source, Source):
            raise AuditEventError("source", "must be a Source")
        if self.severity not in SEVERITIES:
            raise AuditEventError("severity", f"must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        _text("service", self.service, required=False, max_len=256)
        _text("tenant", self.tenant, required=False, max_len=256)
        _check_id("request_id", self.request_id)
        _check_id("correlation_id", self.correlation_id)
        _check_id("trace_id", self.trace_id, _HEX, 32)
        _check_id("span_id", self.span_id, _HEX, 16)
        if self.extra is not None:
            if not isinstance(self.extra, Mapping):
                raise AuditEventError("extra", "must be a mapping")
            for key in self.extra:
                if not isinstance(key, str):
                    raise AuditEventError("extra", f"keys must be strings, got {key!r}")
        if not isinstance(self.time_ns, int) or isinstance(self.time_ns, bool) or self.time_ns < 0:
            raise AuditEventError("time_ns", f"must be a non-negative integer, got {self.time_ns!r}")
        if self.time_ns == 0:
            object.__setattr__(self, "time_ns", time.time_ns())
        if not self.event_id:
            object.__setattr__(self, "event_id", uuid7(self.time_ns))
        elif not isinstance(self.event_id, str) or not _UUID.match(self.event_id):
            raise AuditEventError("event_id", f"must be a lower-case UUID string, got {self.event_id!r}")

    @property
    def time_iso(self) -> str:
        """The event time as an ISO 8601 UTC string with nanoseconds."""
        return iso_from_ns(self.time_ns)

    def to_dict(self) -> dict[str, Any]:
        """The canonical record body (before redaction and integrity fields); absent fields omitted."""
        return event_record(
            self.action,
            self.actor,
            self.targets,
            self.outcome.status,
            self.outcome.reason,
            self.category,
            self.changes,
            self.source,
            self.severity,
            self.service,
            self.tenant,
            self.request_id,
            self.correlation_id,
            self.trace_id,
            self.span_id,
            self.extra,
            self.time_ns,
            self.event_id,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEvent:
        """Rebuild an event from a record (integrity fields are ignored).

        Raises:
            AuditEventError: when the record is not a valid event.
        """
        if not isinstance(data, Mapping):
            raise AuditEventError("record", "must be a JSON object")
        actor = data.get("actor")
        if not isinstance(actor, Mapping):
            raise AuditEventError("actor", "is required")
        try:
            time_ns = ns_from_iso(data["time"])
        except (KeyError, TypeError, ValueError):
            raise AuditEventError("time", f"is not an ISO UTC timestamp: {data.get('time')!r}") from None
        source = data.get("source")
        return cls(
            action=data.get("action"),  # type: ignore[arg-type]
            actor=Actor.from_dict(actor),
            targets=tuple(Target.from_dict(t) for t in data.get("targets") or ()),
            outcome=Outcome(data.get("outcome", "unknown"), data.get("reason")),
            category=data.get("category"),
            changes=data.get("changes"),
            source=None if source is None else Source.from_dict(source),
            severity=data.get("severity", "info"),
            service=data.get("service"),
            tenant=data.get("tenant"),
            request_id=data.get("request_id"),
            correlation_id=data.get("correlation_id"),
            trace_id=data.get("trace_id"),
            span_id=data.get("span_id"),
            extra=data.get("extra"),
            time_ns=time_ns,
            event_id=data.get("event_id", ""),
        )


_SEVERITY_SET = frozenset(SEVERITIES)
#: Actions already validated, with their default category (bounded).
_valid_actions: dict[str, str] = {}


def _check_action(action: object) -> None:
    if type(action) is not str or not _ACTION.match(action) or len(action) > 256:
        _text("action", action, max_len=256)
        raise AuditEventError("action", f"must be a dotted lower-case verb like 'invoice.update', got {action!r}")
    if len(_valid_actions) < 10_000:
        _valid_actions[action] = action.split(".", 1)[0]


_OUTCOME_SET = frozenset(OUTCOMES)


def event_record(  # noqa: PLR0917 - the hot path takes positional arguments on purpose
    action: Any,
    actor: Any,
    targets: Any,
    outcome: Any,
    reason: Any,
    category: Any,
    changes: Any,
    source: Any,
    severity: Any,
    service: Any,
    tenant: Any,
    request_id: Any,
    correlation_id: Any,
    trace_id: Any,
    span_id: Any,
    extra: Any,
    time_ns: int,
    event_id: Any,
) -> dict[str, Any]:
    """Validate an event's fields and build its record body in one pass (the logger's hot path).

    Applies exactly the rules of `AuditEvent` and produces what `AuditEvent.to_dict` produces.

    Raises:
        AuditEventError: naming the first invalid field.
    """
    if type(action) is not str or action not in _valid_actions:
        _check_action(action)
    if type(actor) is not Actor and not isinstance(actor, Actor):
        raise AuditEventError("actor", f"must be an Actor, not {type(actor).__name__}")
    if outcome not in _OUTCOME_SET:
        raise AuditEventError("outcome", f"must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
    if severity not in _SEVERITY_SET:
        raise AuditEventError("severity", f"must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    if category is None:
        category = _valid_actions.get(action) or action.split(".", 1)[0]
    elif type(category) is not str or not _NAME.match(category):
        raise AuditEventError("category", f"must be a lower-case word, got {category!r}")
    if time_ns == 0:
        time_ns = time.time_ns()
    elif type(time_ns) is not int or time_ns < 0:
        raise AuditEventError("time_ns", f"must be a non-negative integer, got {time_ns!r}")
    if not event_id:
        # `uuid7` inlined for the current millisecond (the common case): the next counter value.
        ms_state = _clock._ms_state
        event_id = (
            ms_state[1] + "%012x" % next(ms_state[2])  # noqa: UP031
            if ms_state[0] == (time_ns // 1_000_000) & 0xFFFFFFFFFFFF
            else uuid7(time_ns)
        )
    elif type(event_id) is not str or not _UUID.match(event_id):
        raise AuditEventError("event_id", f"must be a lower-case UUID string, got {event_id!r}")
    # `iso_from_ns` inlined for the cached second (the common case).
    seconds, frac = divmod(time_ns, 1_000_000_000)
    prefix = _clock._second_prefix
    d: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "event_id": event_id,
        "time": "%s.%09dZ" % (prefix[1], frac) if prefix[0] == seconds else iso_from_ns(time_ns),  # noqa: UP031
        "action": action,
        "category": category,
        "outcome": outcome,
        "severity": severity,
        "actor": actor._dict or actor.to_dict(),
    }
    if reason is not None:
        if type(reason) is not str or not reason or len(reason) > 8192:
            _text("reason", reason, max_len=8192)
        d["reason"] = reason
    if targets:
        if type(targets) is Target:
            d["targets"] = [targets._dict or targets.to_dict()]
        else:
            d["targets"] = [t.to_dict() for t in _coerce_targets(targets)]
    if source is not None:
        if type(source) is not Source and not isinstance(source, Source):
            raise AuditEventError("source", "must be a Source")
        d["source"] = source.to_dict()
    if changes is not None:
        if type(changes) is not dict and not isinstance(changes, Mapping):
            raise AuditEventError("changes", "must be a mapping {field: [before, after]}")
        out: dict[str, Any] = {}
        for key, pair in changes.items():
            if not isinstance(key, str):
                raise AuditEventError("changes", f"field names must be strings, got {key!r}")
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise AuditEventError(f"changes.{key}", "must be a [before, after] pair")
            out[key] = list(pair)
        d["changes"] = out
    if extra is not None:
        if type(extra) is not dict and not isinstance(extra, Mapping):
            raise AuditEventError("extra", "must be a mapping")
        d["extra"] = dict(extra)
    if service is not None:
        if type(service) is not str or not service or len(service) > 256:
            _text("service", service, max_len=256)
        d["service"] = service
    if tenant is not None:
        if type(tenant) is not str or not tenant or len(tenant) > 256:
            _text("tenant", tenant, max_len=256)
        d["tenant"] = tenant
    if request_id is not None:
        if type(request_id) is not str or not request_id or len(request_id) > 256:
            _check_id("request_id", request_id)
        d["request_id"] = request_id
    if correlation_id is not None:
        if type(correlation_id) is not str or not correlation_id or len(correlation_id) > 256:
            _check_id("correlation_id", correlation_id)
        d["correlation_id"] = correlation_id
    if trace_id is not None:
        _check_id("trace_id", trace_id, _HEX, 32)
        d["trace_id"] = trace_id
    if span_id is not None:
        _check_id("span_id", span_id, _HEX, 16)
        d["span_id"] = span_id
    return d
