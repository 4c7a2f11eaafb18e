"""structlog integration: audit events are never filtered by log level, exceptions are
failures, ``notice()`` exists, and other processors' keys stay out of ``extra``."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog

from maestro_audit_logger import AuditConfigError, AuditLogger, AuditTap, audit_filtering_bound_logger
from maestro_audit_logger.testing import MemorySink


def _chain(audit: AuditLogger, level: int, *before: Any) -> tuple[Any, list[dict[str, Any]]]:
    logged: list[dict[str, Any]] = []

    def keep(_: object, __: str, event_dict: dict[str, Any]) -> str:
        logged.append(dict(event_dict))
        return ""

    log = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[*before, AuditTap(audit), keep],
        wrapper_class=audit_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    return log, logged


def test_plain_filtering_logger_loses_audit_events_below_its_level() -> None:
    # Why audit_filtering_bound_logger exists: structlog's own makes info() a no-op at WARNING.
    audit = AuditLogger(MemorySink(), service="svc")
    log = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[AuditTap(audit)],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    log.info("invoice.update", audit=True, actor="u-1")
    assert audit.sink.records == []  # type: ignore[attr-defined]
    audit.close()


async def test_a_warning_level_does_not_disable_audit_tap() -> None:
    sink = MemorySink()
    audit = AuditLogger(sink, service="svc")
    log, logged = _chain(audit, logging.WARNING)
    log.info("invoice.update", audit=True, actor="u-1")  # below the level: recorded, not logged
    log.debug("invoice.view", audit=True, actor="u-1")
    log.log(logging.INFO, "invoice.pay", audit=True, actor="u-1")
    await log.ainfo("invoice.sent", audit=True, actor="u-1")
    log.info("just a log line", actor="u-1")  # no audit: filtered as before
    log.warning("invoice.delete", audit=True, actor="u-1")  # at the level: recorded and logged
    audit.close()
    assert [r["action"] for r in sink.records] == [
        "invoice.update",
        "invoice.view",
        "invoice.pay",
        "invoice.sent",
        "invoice.delete",
    ]
    assert [r["severity"] for r in sink.records] == ["info", "debug", "info", "info", "warning"]
    assert [e["event"] for e in logged] == ["invoice.delete"]
    assert all("_audit_below_level" not in r.get("extra", {}) for r in sink.records)


def test_log_exception_with_audit_is_a_failure_with_the_error() -> None:
    sink = MemorySink()
    audit = AuditLogger(sink, service="svc")
    log, logged = _chain(audit, logging.INFO)
    try:
        raise ValueError("card declined")
    except ValueError:
        log.exception("invoice.pay", audit=True, actor="u-1")
    log.error("invoice.pay", audit=True, actor="u-1", exc_info=KeyError("k"))
    log.error("invoice.pay", audit=True, actor="u-1", outcome="unknown", exc_info=True)  # outcome given wins
    audit.close()
    first, second, third = sink.records
    assert (first["outcome"], first["severity"], first["reason"]) == ("failure", "error", "ValueError: card declined")
    assert (second["outcome"], second["reason"]) == ("failure", "KeyError: 'k'")
    assert third["outcome"] == "unknown"
    assert "exc_info" in logged[0]  # the log line keeps it for the renderer


def test_notice_exists_on_the_audit_logger_and_on_audit_filtering_loggers() -> None:
    sink = MemorySink()
    audit = AuditLogger(sink, service="svc")
    audit.structlog().notice("policy.change", actor="u-1")
    log, logged = _chain(audit, logging.WARNING)  # notice (25) is below WARNING (30)
    log.notice("policy.view", audit=True, actor="u-1")
    log.notice("not recorded", actor="u-1")
    log2, logged2 = _chain(audit, logging.INFO)
    log2.notice("policy.list", audit=True, actor="u-1")  # ReturnLogger has no notice(): info
    audit.close()
    assert [(r["action"], r["severity"]) for r in sink.records] == [
        ("policy.change", "notice"),
        ("policy.view", "info"),
        ("policy.list", "info"),
    ]
    assert logged == []
    assert [e["event"] for e in logged2] == ["policy.list"]


def test_other_processors_keys_do_not_leak_into_extra() -> None:
    sink = MemorySink()
    audit = AuditLogger(sink, service="svc")
    log, logged = _chain(
        audit,
        logging.INFO,
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.CallsiteParameterAdder(),
        structlog.processors.StackInfoRenderer(),
    )
    log.info("file.upload", audit=True, actor="u-1", size=10, extra={"filename": "q3.pdf"})
    audit.close()
    [record] = sink.records
    assert record["extra"] == {"size": 10, "filename": "q3.pdf"}  # a field of that name: through extra=
    assert {"filename", "func_name", "lineno", "timestamp"} <= set(logged[0])  # the log line keeps them


def test_audit_filtering_bound_logger_checks_its_level() -> None:
    assert audit_filtering_bound_logger("warning")  # names work too
    for bad in ("loud", None, True):
        with pytest.raises(AuditConfigError, match="min_level"):
            audit_filtering_bound_logger(bad)  # type: ignore[arg-type]
