"""AuditReader queries, pandas, the CLI viewer commands, and lossless OCSF/ECS exports."""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from maestro_audit_logger import (
    Actor,
    AuditConfigError,
    AuditLogger,
    AuditReader,
    AuditReadError,
    JsonlFileSink,
    Outcome,
    Source,
    SqliteSink,
    Target,
)
from maestro_audit_logger._export import from_ecs, from_ocsf, to_ecs, to_ocsf
from maestro_audit_logger.cli import main
from tests.waiting import wait_until

T0 = 1_795_000_000_000_000_000
SECOND = 1_000_000_000


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    ticks = iter(range(T0, T0 + 100 * SECOND, SECOND))
    with AuditLogger(JsonlFileSink(path, rotate_bytes=4096), service="billing", clock=lambda: next(ticks)) as audit:
        for i in range(30):
            audit.record(
                "auth.login" if i % 3 == 0 else "invoice.update",
                actor=Actor(f"u-{i % 4}", name="Ann" if i == 7 else None),
                targets=Target("invoice", str(i)),
                outcome=Outcome("failure", "bad password") if i % 5 == 0 else "success",
                tenant="acme",
                source=Source(ip="10.0.0.1", port=4000 + i, user_agent="curl/8"),
                extra={"i": i},
            )
    return path


def test_reader_streams_and_filters(log: Path) -> None:
    reader = AuditReader(log)
    assert len(list(reader.records())) == 30
    assert len(list(reader.query(action="auth.*"))) == 10
    assert [r["extra"]["i"] for r in reader.query(actor="u-1", outcome="success")] == [1, 9, 13, 17, 21, 29]
    assert len(list(reader.query(target="invoice:12"))) == 1
    assert len(list(reader.query(since="2026-11-18T11:06:50Z", until="2026-11-18T11:06:55Z"))) == 5
    import datetime as dt

    since = dt.datetime(2026, 11, 18, 11, 6, 50)
    assert len(list(reader.query(since=since, limit=2))) == 2
    assert len(list(reader.query(text="ANN"))) == 1
    assert len(list(AuditReader(log.parent).query(action="invoice.update"))) == 20
    with pytest.raises(AuditReadError, match="since"):
        list(reader.query(since="last tuesday"))


def test_reader_to_pandas(log: Path) -> None:
    frame = AuditReader(log).to_pandas(outcome="failure")
    assert len(frame) == 6
    assert {"event_id", "action", "actor.id", "hash"} <= set(frame.columns)


def test_reader_refuses_foreign_files(tmp_path: Path) -> None:
    bad = tmp_path / "x.log"
    bad.write_text("not json\n")
    with pytest.raises(AuditReadError, match="not JSON"):
        list(AuditReader(bad).records())
    with pytest.raises(AuditReadError, match="does not exist"):
        AuditReader(tmp_path / "nope.jsonl")


def test_cli_search_show_stats_tail(log: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["search", str(log), "--actor", "u-2", "--outcome", "failure", "--json"])
    assert res.exit_code == 0, res.output
    found = [json.loads(x) for x in res.output.splitlines()]
    assert [r["extra"]["i"] for r in found] == [10]
    table = runner.invoke(main, ["search", str(log), "--action", "auth.*", "--limit", "2"])
    assert table.exit_code == 0
    assert "auth.login" in table.output
    event_id = found[0]["event_id"]
    shown = runner.invoke(main, ["show", str(log), event_id])
    assert shown.exit_code == 0
    assert json.loads(shown.output)["event_id"] == event_id
    missing = runner.invoke(main, ["show", str(log), "0190aaaa-0000-7000-8000-000000000000"])
    assert missing.exit_code == 2
    stats = runner.invoke(main, ["stats", str(log)])
    assert stats.exit_code == 0
    assert "30 events" in stats.output
    tail = runner.invoke(main, ["tail", str(log), "-n", "3", "--json"])
    assert [json.loads(x)["extra"]["i"] for x in tail.output.splitlines()] == [27, 28, 29]
    bad = runner.invoke(main, ["search", str(log), "--since", "soon"])
    assert bad.exit_code == 2
    assert "Traceback" not in bad.output


def test_cli_export_formats(log: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out.csv"
    res = runner.invoke(main, ["export", str(log), "--format", "csv", "-o", str(out), "--action", "auth.*"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 10
    assert rows[0]["actor_id"] == "u-0"
    for fmt, inverse in (("ocsf", from_ocsf), ("ecs", from_ecs), ("jsonl", lambda d: d)):
        res = runner.invoke(main, ["export", str(log), "--format", fmt])
        assert res.exit_code == 0
        exported = [json.loads(x) for x in res.output.splitlines()]
        assert [inverse(d) for d in exported] == list(AuditReader(log).records())


def test_ocsf_and_ecs_mappings_are_lossless_and_standard() -> None:
    record = {
        "v": 1,
        "event_id": "01a219db-3e22-7bad-9a71-f27946878a54",
        "time": "2026-11-26T21:55:28.418634843Z",
        "action": "invoice.update",
        "category": "invoice",
        "outcome": "failure",
        "reason": "quota",
        "severity": "warning",
        "actor": {"id": "svc", "type": "service", "name": "Billing", "on_behalf_of": {"id": "u-9", "type": "user"}},
        "targets": [{"type": "invoice", "id": "42", "name": "INV-42"}, {"type": "user", "id": "u-3"}],
        "source": {"ip": "10.0.0.1", "port": 5000, "user_agent": "ua"},
        "changes": {"total": [1, 2]},
        "extra": {"k": [1, {"x": None}]},
        "service": "billing",
        "tenant": "acme",
        "request_id": "r",
        "correlation_id": "c",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "writer": "h/1/a",
        "seq": 3,
        "prev": "0" * 64,
        "hash": "f" * 64,
    }
    ocsf = to_ocsf(record)
    assert (ocsf["class_uid"], ocsf["activity_id"], ocsf["type_uid"]) == (6003, 3, 600303)
    assert ocsf["status_id"] == 2
    assert ocsf["metadata"]["uid"] == record["event_id"]
    assert ocsf["src_endpoint"] == {"ip": "10.0.0.1", "port": 5000}
    assert ocsf["resources"][0] == {"type": "invoice", "uid": "42", "name": "INV-42"}
    assert ocsf["unmapped"]["changes"] == {"total": [1, 2]}
    assert ocsf["time"] == 1795730128418
    assert from_ocsf(orjson.loads(orjson.dumps(ocsf))) == record
    auth = {**record, "action": "auth.login", "category": "authentication"}
    ocsf_auth = to_ocsf(auth)
    assert (ocsf_auth["class_uid"], ocsf_auth["activity_id"]) == (3002, 1)
    assert from_ocsf(ocsf_auth) == auth
    ecs = to_ecs(record)
    assert ecs["event"]["outcome"] == "failure"
    assert ecs["user"]["effective"] == {"id": "u-9"}
    assert ecs["user"]["target"] == {"id": "u-3"}
    assert ecs["source"] == {"ip": "10.0.0.1", "port": 5000}
    assert ecs["trace"] == {"id": record["trace_id"]}
    assert ecs["event"]["hash"] == "f" * 64
    assert from_ecs(orjson.loads(orjson.dumps(ecs))) == record
    minimal = {k: record[k] for k in ("v", "event_id", "time", "action", "category", "outcome", "severity")}
    minimal["actor"] = {"id": "u", "type": "user"}
    assert from_ocsf(to_ocsf(minimal)) == minimal
    assert from_ecs(to_ecs(minimal)) == minimal


def test_cli_over_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "audit.db"
    with AuditLogger(f"sqlite://{db}", service="svc") as audit:
        for i in range(5):
            audit.record("invoice.update", actor=Actor(f"u-{i % 2}"), targets=Target("invoice", str(i)))
    runner = CliRunner()
    res = runner.invoke(main, ["search", f"sqlite://{db}", "--actor", "u-1", "--json"])
    assert res.exit_code == 0, res.output
    assert len(res.output.splitlines()) == 2
    assert runner.invoke(main, ["verify", str(db)]).exit_code == 0
    ecs = runner.invoke(main, ["export", str(db), "--format", "ecs", "--target", "invoice:3"])
    assert [json.loads(x)["maestro"]["targets"][0]["id"] for x in ecs.output.splitlines()] == ["3"]
    assert runner.invoke(main, ["stats", str(db)]).exit_code == 0
    assert runner.invoke(main, ["search", str(tmp_path / "missing.db")]).exit_code == 2


@pytest.mark.slow
def test_benchmark_quick_smoke() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, str(root / "bench" / "run.py"), "audit", "--quick"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    assert "ours: hash-chained JSONL, buffered" in out
    assert "group_commit, 8 threads" in out
    assert "verify (records per CPU second)" in out


@pytest.mark.timing
def test_follow_yields_new_records_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlFileSink(path)
    audit = AuditLogger(sink, service="svc")
    audit.record("a.b", actor=Actor("u"), extra={"i": -1})
    seen: list[int] = []
    done = threading.Event()
    follower = AuditReader(path).follow(poll_interval=0.01, stop=done.is_set)  # starts here

    def consume() -> None:
        for r in follower:
            seen.append(r["extra"]["i"])

    t = threading.Thread(target=consume)
    t.start()
    try:
        for i in range(3):
            audit.record("a.b", actor=Actor("u"), extra={"i": i})
        sink.rotate()  # whether or not the follower has read 0-2 yet
        for i in range(3, 5):
            audit.record("a.b", actor=Actor("u"), extra={"i": i})
        wait_until(lambda: len(seen) >= 5, what="the follower to see five records")
    finally:
        done.set()
        t.join()
        audit.close()
    assert seen == [0, 1, 2, 3, 4]


def test_follow_starts_where_it_is_called_not_at_the_first_next(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(path), service="svc")
    audit.record("a.b", actor=Actor("u"), extra={"i": 0})
    follower = AuditReader(path).follow(poll_interval=0, stop=lambda: True)
    audit.record("a.b", actor=Actor("u"), extra={"i": 1})  # before the first next()
    audit.close()
    assert [r["extra"]["i"] for r in follower] == [1]


def test_follow_reads_the_rest_of_a_rotated_file_before_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlFileSink(path)
    audit = AuditLogger(sink, service="svc")
    audit.record("a.b", actor=Actor("u"), extra={"i": 0})
    follower = AuditReader(path).follow(poll_interval=0, stop=lambda: True, from_start=True)
    assert next(follower)["extra"]["i"] == 0
    for i in range(1, 3):  # appended after the follower's last read ...
        audit.record("a.b", actor=Actor("u"), extra={"i": i})
    sink.rotate()  # ... then sealed away before its next poll
    for i in range(3, 5):
        audit.record("a.b", actor=Actor("u"), extra={"i": i})
    audit.close()
    assert [r["extra"]["i"] for r in follower] == [1, 2, 3, 4]


def test_follow_refuses_bad_input_with_typed_errors(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLogger(JsonlFileSink(path), service="svc") as audit:
        audit.record("a.b", actor=Actor("u"))
    for bad in (-1, "fast", None, True):
        with pytest.raises(AuditConfigError, match="poll_interval"):
            AuditReader(path).follow(poll_interval=bad)  # type: ignore[arg-type]
    reader = AuditReader(path)
    follower = reader.follow(poll_interval=0, stop=lambda: True)
    with path.open("ab") as fh:
        fh.write(b"not json\n")
    with AuditLogger(JsonlFileSink(path), service="svc") as audit:
        audit.record("a.c", actor=Actor("u"))
    # A line that is not a record is skipped and reported, not fatal to the whole follow.
    assert [r["action"] for r in follower] == ["a.c"]
    assert reader.skipped == 1
    assert reader.skipped_lines == [f"{path}: not JSON (a torn or garbage line)"]
    with pytest.raises(AuditReadError, match="not a directory"):
        AuditReader(tmp_path).follow()


@pytest.mark.timing
def test_follow_polls_a_database(tmp_path: Path) -> None:
    import itertools

    db = tmp_path / "audit.db"
    audit = AuditLogger(SqliteSink(db), service="svc")
    audit.record("a.b", actor=Actor("u"), extra={"i": 0})
    polls = itertools.count()

    def stop() -> bool:
        n = next(polls)
        if n == 0:
            audit.record("a.b", actor=Actor("u"), extra={"i": 1})
        return n > 1

    got = [r["extra"]["i"] for r in AuditReader(f"sqlite://{db}").follow(poll_interval=0.01, stop=stop)]
    assert got == [1]
    follower = AuditReader(db).follow(poll_interval=0, stop=lambda: True)  # starts after row 1
    audit.record("a.b", actor=Actor("u"), extra={"i": 2})  # before the first next()
    assert [r["extra"]["i"] for r in follower] == [2]
    audit.close()
    assert [
        r["extra"]["i"] for r in AuditReader(db).follow(poll_interval=0.01, stop=lambda: True, from_start=True)
    ] == [0, 1, 2]


COUNTED_ROTATING_WRITER = """
import sys
from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink
path, n = sys.argv[1], int(sys.argv[2])
with AuditLogger(JsonlFileSink(path, rotate_bytes=1500), service="svc") as audit:
    for i in range(n):
        audit.record("a.b", actor=Actor("u"), extra={"i": i})
"""


@pytest.mark.timing
def test_follow_misses_no_record_of_a_real_rotating_writer(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "audit.jsonl"
    n = 400
    path.touch()  # followed from its first byte, before the writer starts
    proc = subprocess.Popen([sys.executable, "-c", COUNTED_ROTATING_WRITER, str(path), str(n)])
    seen: list[int] = []
    idle_after_exit = 0

    def stop() -> bool:
        # Stop on the second idle poll after the writer exited: the first may race its last write.
        nonlocal idle_after_exit
        if proc.poll() is not None:
            idle_after_exit += 1
        return idle_after_exit >= 2

    follower = AuditReader(path).follow(poll_interval=0.02, stop=stop, from_start=True)  # several rotations per poll
    try:
        seen.extend(r["extra"]["i"] for r in follower)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 0
    assert len(list(tmp_path.glob("audit.jsonl.0*"))) > 50  # many rotations happened under the follower
    missed = sorted(set(range(n)) - set(seen))
    assert missed == [], f"{len(missed)} of {n} records missed"
    assert seen == list(range(n))
