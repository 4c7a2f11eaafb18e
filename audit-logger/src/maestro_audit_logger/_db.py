"""What the SQLite and PostgreSQL sinks share: the table layout and the indexed columns."""

from __future__ import annotations

import re
from typing import Any

import orjson

from maestro_audit_logger._errors import AuditConfigError
from maestro_audit_logger._sink import Record

DEFAULT_TABLE = "audit_events"
COLUMNS = (
    "event_id",
    "time",
    "action",
    "category",
    "outcome",
    "severity",
    "actor_id",
    "targets",
    "tenant",
    "service",
    "request_id",
    "writer",
    "seq",
    "hash",
    "record",
)
#: Indexes for the viewer's selective filters (``--actor``, ``--action``, ``--since/--until``,
#: ``show EVENT_ID``); outcome and tenant are low-cardinality and filtered alongside these.
INDEXED = ("time", "action", "actor_id", "event_id")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_table(table: str) -> str:
    """``table`` if it is a plain SQL identifier, else `AuditConfigError`."""
    if not isinstance(table, str) or not _IDENT.match(table):
        raise AuditConfigError(f"table must be a plain SQL identifier (letters, digits, _), got {table!r}")
    return table


def targets_text(targets: list[dict[str, Any]] | None) -> str:
    """Targets as searchable text: ``|type:id|type:id|`` (so ``LIKE '%|invoice:42|%'`` finds one)."""
    if not targets:
        return ""
    return "|" + "|".join(f"{t.get('type')}:{t.get('id')}" for t in targets) + "|"


def row(record: Record) -> tuple[Any, ...]:
    """The column values of a chained record (``record`` is the stored line without newline)."""
    d = orjson.loads(record.body)
    get = d.get
    actor = get("actor")
    targets = get("targets")
    return (
        get("event_id"),
        get("time"),
        get("action"),
        get("category"),
        get("outcome"),
        get("severity"),
        actor.get("id") if actor else None,
        targets_text(targets) if targets else "",
        get("tenant"),
        get("service"),
        get("request_id"),
        record.writer,
        record.seq,
        record.hash,
        record.line[:-1].decode(),
    )
