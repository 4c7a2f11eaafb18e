"""Sealing on time makes a writer's downtime visible: heartbeat digests when idle, and
``verify --since/--until`` reporting the stretches no seal covers (clock injected)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink, verify
from maestro_audit_logger._clock import iso_from_ns
from maestro_audit_logger._segments import DIGEST_SUFFIX, list_units, load_digest
from maestro_audit_logger.cli import main
from tests.waiting import wait_until

HOUR = 3600 * 10**9
T0 = 1_798_761_600 * 10**9  # 2027-01-01T00:00:00Z


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def run_writer(path: Path, clock: Clock, hours: int) -> None:
    """A writer up for ``hours``: one event, then a seal each hour (what its sealer thread does
    when the interval is up; called here at the injected clock's times)."""
    sink = JsonlFileSink(path, rotate_interval_s=3600, clock=clock)
    with AuditLogger(sink, service="svc") as audit:
        audit.record("a.b", actor=Actor("u"))
        for _ in range(hours):
            clock.now += HOUR
            sink._rotate_on_time()  # sealed even when nothing more was recorded: a heartbeat


def test_a_writer_down_for_three_hours_is_a_missing_period(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    run_writer(path, clock, 2)  # seals at 1h and 2h (the second one empty)
    clock.now += 3 * HOUR  # the service is down from 2h to 5h
    run_writer(path, clock, 1)  # up again at 5h, seals at 6h
    digests = [load_digest(path.with_name(u + DIGEST_SUFFIX)) for u in list_units(path)]
    assert [d["count"] for d in digests if d] == [1, 0, 1]  # the empty one is a heartbeat
    assert all(d and d["interval_s"] == 3600 for d in digests)
    assert verify(path).ok  # the chains alone see nothing wrong
    report = verify(path, since=T0, until=T0 + 6 * HOUR)
    assert [p.kind for p in report.problems] == ["missing_period"]
    assert f"from {iso_from_ns(T0 + 2 * HOUR)} to {iso_from_ns(T0 + 5 * HOUR)}" in report.problems[0].message
    assert verify(path, since=T0, until=T0 + 2 * HOUR).ok  # a window the writer covered
    result = CliRunner().invoke(
        main, ["verify", str(path), "--since", iso_from_ns(T0), "--until", iso_from_ns(T0 + 6 * HOUR)]
    )
    assert result.exit_code == 1
    assert "missing_period" in result.output


def test_a_log_without_a_sealing_interval_says_it_cannot_tell(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLogger(JsonlFileSink(path, rotate_bytes=1024, seal_on_close=True), service="svc") as audit:
        audit.record("a.b", actor=Actor("u"))
    report = verify(path, since=10**18)  # (2001) until now
    assert report.ok
    assert any("cannot be told from a quiet one" in w for w in report.warnings)


def test_an_idle_writer_seals_heartbeats_on_time(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(path, rotate_interval_s=0.2), service="svc")
    wait_until(lambda: len(list(tmp_path.glob("*" + DIGEST_SUFFIX))) >= 2, what="two heartbeat digests")
    audit.close()
    digests = [load_digest(p) for p in sorted(tmp_path.glob("*" + DIGEST_SUFFIX))]
    assert all(d is not None and d["count"] == 0 for d in digests)
    assert verify(path).ok
