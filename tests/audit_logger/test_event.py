"""The event model: validation naming the field, UUIDv7 ids, canonical dicts, OpenTelemetry ids."""

from __future__ import annotations

import time
import uuid

import pytest

from maestro_audit_logger import Actor, AuditEvent, AuditEventError, Outcome, Source, Target
from maestro_audit_logger._clock import iso_from_ns, ns_from_iso, uuid7


def make(**kw: object) -> AuditEvent:
    base: dict[str, object] = {"action": "invoice.update", "actor": Actor("u-1")}
    base.update(kw)
    return AuditEvent(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": "Invoice Update"}, "action"),
        ({"action": "invoice"}, "action"),
        ({"action": None}, "action"),
        ({"actor": "u-1"}, "actor"),
        ({"actor": None}, "actor"),
        ({"outcome": "maybe"}, "outcome"),
        ({"severity": "loud"}, "severity"),
        ({"category": "Not A Word"}, "category"),
        ({"changes": {"total": [1]}}, "changes.total"),
        ({"changes": [("a", 1)]}, "changes"),
        ({"targets": ["invoice:1"]}, "targets[0]"),
        ({"targets": "invoice"}, "targets"),
        ({"trace_id": "xyz"}, "trace_id"),
        ({"span_id": "00f067aa0ba902b7ff"}, "span_id"),
        ({"extra": {1: "x"}}, "extra"),
        ({"extra": ["x"]}, "extra"),
        ({"event_id": "not-a-uuid"}, "event_id"),
        ({"time_ns": -5}, "time_ns"),
        ({"tenant": ""}, "tenant"),
        ({"source": "10.0.0.1"}, "source"),
    ],
)
def test_invalid_fields_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(AuditEventError) as info:
        make(**kwargs)
    assert info.value.field == field
    assert str(info.value).startswith(field)


@pytest.mark.parametrize(
    ("factory", "field"),
    [
        (lambda: Actor(""), "actor.id"),
        (lambda: Actor("u", type="Super User"), "actor.type"),
        (lambda: Actor("u", on_behalf_of="x"), "actor.on_behalf_of"),  # type: ignore[arg-type]
        (lambda: Target("", "1"), "target.type"),
        (lambda: Target("invoice", None), "target.id"),  # type: ignore[arg-type]
        (lambda: Source(ip="999.1.1.1"), "source.ip"),
        (lambda: Source(port=70000), "source.port"),
        (lambda: Source(port=True), "source.port"),
        (lambda: Outcome("done"), "outcome"),  # type: ignore[arg-type]
    ],
)
def test_parts_validate_themselves(factory: object, field: str) -> None:
    with pytest.raises(AuditEventError) as info:
        factory()  # type: ignore[operator]
    assert info.value.field == field


def test_defaults_fill_time_id_category_and_outcome() -> None:
    before = time.time_ns()
    event = make()
    assert before <= event.time_ns <= time.time_ns()
    assert event.category == "invoice"
    assert event.outcome == Outcome("success")
    parsed = uuid.UUID(event.event_id)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122


def test_uuid7_embeds_milliseconds_and_sorts_by_time() -> None:
    ns = 1_795_000_000_123_456_789
    value = uuid.UUID(uuid7(ns))
    assert value.int >> 80 == ns // 1_000_000
    later = uuid7(ns + 2_000_000)
    assert later > uuid7(ns)


def test_outcome_string_is_coerced_and_source_ip_normalised() -> None:
    event = make(outcome="failure", source=Source(ip="2001:DB8::1", port=443, user_agent="curl/8"))
    assert event.outcome.status == "failure"
    assert event.source is not None
    assert event.source.ip == "2001:db8::1"


def test_to_dict_round_trips_through_from_dict() -> None:
    event = make(
        actor=Actor("svc", type="service", name="Billing", on_behalf_of=Actor("u-9", name="Ann")),
        targets=(Target("invoice", "42", name="INV-42"), Target("customer", "7")),
        outcome=Outcome("failure", "quota exceeded"),
        changes={"total": [10, 12]},
        source=Source(ip="10.0.0.1", port=5000, user_agent="ua"),
        severity="warning",
        service="billing",
        tenant="acme",
        request_id="req-1",
        correlation_id="corr-1",
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        span_id="00f067aa0ba902b7",
        extra={"n": 1, "nested": {"a": [1, 2]}},
    )
    d = event.to_dict()
    assert d["time"] == iso_from_ns(event.time_ns)
    again = AuditEvent.from_dict(d)
    assert again == event
    assert again.to_dict() == d


def test_from_dict_rejects_non_events() -> None:
    with pytest.raises(AuditEventError, match="actor"):
        AuditEvent.from_dict({"action": "a.b"})
    with pytest.raises(AuditEventError, match="time"):
        AuditEvent.from_dict({"action": "a.b", "actor": {"id": "u"}, "time": "yesterday"})


def test_iso_time_is_lossless_at_nanoseconds() -> None:
    for ns in (0, 1, 1_795_000_000_000_000_001, 1_795_000_000_999_999_999):
        assert ns_from_iso(iso_from_ns(ns)) == ns
    assert iso_from_ns(1_795_000_000_000_000_001).endswith(".000000001Z")
    with pytest.raises(ValueError, match="UTC"):
        ns_from_iso("2026-01-01T00:00:00+01:00")
