"""Typed usage of maestro-audit-logger's public API, checked by mypy --strict (not run by pytest).

``tests/audit_logger/test_typing.py`` runs mypy over this file: a signature change that breaks
users' code fails the suite.
"""

from __future__ import annotations

from pathlib import Path

from maestro_audit_logger import (
    Actor,
    AuditEvent,
    AuditLogger,
    AuditReader,
    FailOpen,
    HmacSigner,
    JsonlFileSink,
    Keyring,
    Outcome,
    Problem,
    Redactor,
    SinkStats,
    Source,
    SqliteSink,
    Target,
    VerifyReport,
    audit_context,
    group_commit,
    verify,
)
from maestro_audit_logger.testing import CapturedEvents, MemorySink, capture


def record_one(path: Path) -> str:
    sink = JsonlFileSink(path, rotate_bytes=1 << 20, signer=HmacSigner(b"k" * 32, "k1"), checkpoint=True)
    audit = AuditLogger(
        sink,
        service="billing",
        redaction=Redactor(pii_fields={"email"}, pii_key=b"p" * 32),
        durability=group_commit(max_delay_ms=1.0),
        failure_policy=FailOpen(path.with_suffix(".spool")),
    )
    with audit_context(request_id="r-1"):
        event_id: str = audit.bind(tenant="acme").record(
            "invoice.update",
            actor=Actor("u-1", on_behalf_of=Actor("u-2")),
            targets=[Target("invoice", "7")],
            outcome=Outcome("failure", "quota"),
            source=Source(ip="10.0.0.1", port=443),
            changes={"total": [1, 2]},
            extra={"k": "v"},
        )
    event: AuditEvent = audit.build("invoice.read", actor=Actor("u-1"))
    audit.record(event)
    stats: SinkStats = audit.stats
    assert stats.written >= 0
    audit.close()
    return event_id


async def record_async(audit: AuditLogger) -> str:
    return await audit.arecord("invoice.read", actor=Actor("u-1"))


def read_and_verify(path: Path) -> int:
    report: VerifyReport = verify(path, keys=Keyring().add_hmac("k1", b"k" * 32), require_checkpoint=True)
    first: Problem | None = report.first
    count = sum(1 for _ in AuditReader(path).query(action="invoice.*", limit=10))
    return report.exit_code + count + (0 if first is None else 1)


def in_tests() -> list[str]:
    with capture() as events:
        AuditLogger(MemorySink(), service="s").record("a.b", actor=Actor("u"))
    captured: CapturedEvents = events
    return captured.actions


def signed_database(path: Path) -> bool:
    sink = SqliteSink(path, signer=HmacSigner(b"k" * 32, "k1"), checkpoint=True)
    with AuditLogger(sink, service="billing") as audit:
        audit.record("invoice.read", actor=Actor("u-1"))
    return verify(f"sqlite://{path}", require_checkpoint=True).ok
