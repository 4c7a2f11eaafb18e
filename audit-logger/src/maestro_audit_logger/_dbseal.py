"""Timed seals of a database store: what a JSONL log's heartbeat digests are to its files.

A SQLite or PostgreSQL sink with ``seal_interval_s`` inserts one seal row into
``<table>_seals`` at least every interval, even when nothing is recorded: the writer's
checkpoint (last seq and hash) at that moment, the time (the sink's clock) and the interval,
signed like a head entry. `verify --since/--until` reads the seal times from the signed entries
and reports the stretches no seal covers (`_coverage.missing_periods`) as ``missing_period``:
the writer was down, or seal rows were deleted.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import orjson

from maestro_audit_logger._clock import iso_from_ns
from maestro_audit_logger._segments import digest_bytes, signed_part

if TYPE_CHECKING:
    from maestro_audit_logger._signing import Signer

SEAL_TYPE = "maestro-audit-seal"


def seals_table(table: str) -> str:
    """The table holding a store's timed seals (``<table>_seals``)."""
    return f"{table}_seals"


def make_seal(
    table: str, writer: str, seq: int, last_hash: str, *, interval_s: float, sealed_ns: int, signer: Signer | None
) -> str:
    """One seal entry (canonical JSON): ``writer``'s last stored record (``seq`` -1 when none)
    in ``table`` at ``sealed_ns``, sealing every ``interval_s``; signed when a signer is given."""
    entry: dict[str, Any] = {
        "type": SEAL_TYPE,
        "v": 1,
        "table": table,
        "writer": writer,
        "seq": seq,
        "hash": last_hash,
        "sealed_ns": sealed_ns,
        "sealed_at": iso_from_ns(sealed_ns),
        "interval_s": interval_s,
        "algorithm": signer.algorithm if signer is not None else "none",
        "key_id": signer.key_id if signer is not None else None,
    }
    if signer is not None:
        entry["signature"] = signer.sign(signed_part(entry))
    return digest_bytes(entry).decode()


def parse_seal(text: str, table: str) -> dict[str, Any] | None:
    """A seal entry of ``table``, or None when ``text`` is not one (malformed, another table's)."""
    try:
        entry = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if (
        not isinstance(entry, dict)
        or entry.get("type") != SEAL_TYPE
        or entry.get("table") != table
        or type(entry.get("sealed_ns")) is not int
        or not isinstance(entry.get("interval_s"), int | float)
        or not entry["interval_s"] > 0
    ):
        return None
    return entry


def sqlite_create(table: str) -> str:
    """SQLite's DDL for ``<table>_seals``."""
    return (
        f"CREATE TABLE IF NOT EXISTS {seals_table(table)} (id INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL)"
    )


def postgres_create(table: str) -> str:
    """PostgreSQL's DDL for ``<table>_seals``."""
    return f"CREATE TABLE IF NOT EXISTS {seals_table(table)} (id BIGSERIAL PRIMARY KEY, entry TEXT NOT NULL)"


def now_ns() -> int:
    """The default clock: wall time in ns."""
    return time.time_ns()
