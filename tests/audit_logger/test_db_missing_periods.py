"""Missing periods on SQLite and PostgreSQL: a database sink with ``seal_interval_s`` inserts a
signed seal row at least every interval (a heartbeat when idle), and ``verify --since/--until``
reports the stretches no seal covers, as for JSONL logs (clock injected; real databases)."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from maestro_audit_logger import Actor, AuditLogger, HmacSigner, Keyring, PostgresSink, SqliteSink, verify
from maestro_audit_logger._clock import iso_from_ns
from maestro_audit_logger._dbseal import make_seal
from maestro_audit_logger.cli import main
from maestro_audit_logger.sinks.database import DatabaseSink
from tests.waiting import wait_until

HOUR = 3600 * 10**9
T0 = 1_798_761_600 * 10**9  # 2027-01-01T00:00:00Z
KEY = secrets.token_bytes(32)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def _source(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    return str(tmp_path / "audit.db") if kind == "sqlite" else str(request.getfixturevalue("postgres_dsn"))


def _sink(kind: str, source: str, clock: Clock, **kwargs: Any) -> DatabaseSink:
    if kind == "sqlite":
        return SqliteSink(source, seal_interval_s=3600, clock=clock, **kwargs)
    return PostgresSink(source, seal_interval_s=3600, clock=clock, **kwargs)


def _sql(kind: str, source: str, sql: str) -> list[tuple[Any, ...]]:
    if kind == "sqlite":
        with sqlite3.connect(source) as conn:
            return conn.execute(sql).fetchall()
    with psycopg.connect(source, autocommit=True) as pg:
        cur = pg.execute(sql)
        return cur.fetchall() if cur.description else []


def run_writer(kind: str, source: str, clock: Clock, hours: int, **kwargs: Any) -> None:
    """A writer up for ``hours``: one event, then a seal each hour (what its sealer thread does
    when the interval is up; called here at the injected clock's times)."""
    sink = _sink(kind, source, clock, **kwargs)
    with AuditLogger(sink, service="svc") as audit:
        audit.record("a.b", actor=Actor("u"))
        for _ in range(hours):
            clock.now += HOUR
            sink._rotate_on_time()  # sealed even when nothing more was recorded: a heartbeat


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_writer_down_for_three_hours_is_a_missing_period(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    source = _source(kind, tmp_path, request)
    clock = Clock()
    run_writer(kind, source, clock, 2)  # seals at 1h and 2h (the second one idle)
    clock.now += 3 * HOUR  # the service is down from 2h to 5h
    run_writer(kind, source, clock, 1)  # up again at 5h, seals at 6h
    assert len(_sql(kind, source, "SELECT entry FROM audit_events_seals")) == 3
    assert verify(source).ok  # the chains alone see nothing wrong
    report = verify(source, since=T0, until=T0 + 6 * HOUR)
    assert [p.kind for p in report.problems] == ["missing_period"], report.problems
    assert f"from {iso_from_ns(T0 + 2 * HOUR)} to {iso_from_ns(T0 + 5 * HOUR)}" in report.problems[0].message
    assert not [w for w in report.warnings if "missing periods" in w]  # it only warned before
    assert verify(source, since=T0, until=T0 + 2 * HOUR).ok  # a window the writer covered
    result = CliRunner().invoke(
        main, ["verify", source, "--since", iso_from_ns(T0), "--until", iso_from_ns(T0 + 6 * HOUR)]
    )
    assert result.exit_code == 1, result.output
    assert "missing_period" in result.output


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_deleted_seal_rows_and_forged_ones_are_found(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    source = _source(kind, tmp_path, request)
    clock = Clock()
    run_writer(kind, source, clock, 4, signer=HmacSigner(KEY, "k1"))  # seals at 1h-4h
    keys = Keyring().add_hmac("k1", KEY)
    assert verify(source, keys=keys, since=T0, until=T0 + 4 * HOUR).ok
    _sql(kind, source, "DELETE FROM audit_events_seals WHERE id IN (2, 3)")  # the 2h and 3h seals
    report = verify(source, keys=keys, since=T0, until=T0 + 4 * HOUR)
    assert [p.kind for p in report.problems] == ["missing_period"]
    # Seal rows forged without the key (unsigned, and signed with another key) cover nothing.
    writer = "forger"
    for ns, signer in ((T0 + 2 * HOUR, None), (T0 + 3 * HOUR, HmacSigner(b"k" * 32, "k1"))):
        entry = make_seal("audit_events", writer, -1, "0" * 64, interval_s=3600, sealed_ns=ns, signer=signer)
        _sql(kind, source, f"INSERT INTO audit_events_seals (entry) VALUES ('{entry}')")  # noqa: S608
    report = verify(source, keys=keys, since=T0, until=T0 + 4 * HOUR)
    assert sorted(p.kind for p in report.problems) == ["checkpoint_signature", "checkpoint_signature", "missing_period"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_store_without_seals_says_it_cannot_tell(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    source = _source(kind, tmp_path, request)
    sink = SqliteSink(source) if kind == "sqlite" else PostgresSink(source)
    with AuditLogger(sink, service="svc") as audit:
        audit.record("a.b", actor=Actor("u"))
    report = verify(source, since=10**18)  # (2001) until now
    assert report.ok
    assert any("cannot be told from a quiet one" in w for w in report.warnings), report.warnings


def test_an_idle_sqlite_writer_seals_heartbeats_on_time(tmp_path: Path) -> None:
    source = str(tmp_path / "audit.db")
    audit = AuditLogger(SqliteSink(source, seal_interval_s=0.2), service="svc")

    def seals() -> int:
        try:
            return len(_sql("sqlite", source, "SELECT entry FROM audit_events_seals"))
        except sqlite3.OperationalError:  # not created yet
            return 0

    wait_until(lambda: seals() >= 2, what="two heartbeat seals")
    audit.close()
    assert verify(source).ok


def test_a_bad_seal_interval_is_refused(tmp_path: Path) -> None:
    from maestro_audit_logger import AuditConfigError

    for bad in (0, -1, "1h", True):
        with pytest.raises(AuditConfigError, match="seal_interval_s"):
            SqliteSink(tmp_path / "a.db", seal_interval_s=bad)  # type: ignore[arg-type]
