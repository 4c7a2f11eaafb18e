"""AuditLogger: record/arecord, context binding, limits, structlog integration, testing helpers."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import orjson
import pytest
import structlog

from maestro_audit_logger import (
    Actor,
    AuditConfigError,
    AuditEvent,
    AuditEventError,
    AuditLogger,
    AuditTap,
    AuditWriteError,
    FailOpen,
    JsonlFileSink,
    NoRedaction,
    RedactSecrets,
    Source,
    StreamSink,
    Target,
    audit_context,
    bind_audit_context,
    buffered,
    clear_audit_context,
    get_audit_context,
    group_commit,
    reset_audit_context,
    verify,
)
from maestro_audit_logger._otel import _reset_for_tests
from maestro_audit_logger.testing import MemorySink, capture
from tests.waiting import async_wait_until


@pytest.fixture
def sink() -> MemorySink:
    return MemorySink(writer_id="test/1")


def test_record_writes_a_chained_record_and_returns_the_event(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="billing", clock=lambda: 1_795_000_000_000_000_000)
    event_id = audit.record("invoice.update", actor=Actor("u-1"), targets=Target("invoice", "42"))
    audit.close()
    [record] = sink.records
    assert record["event_id"] == event_id
    assert record["service"] == "billing"
    assert record["time"] == "2026-11-18T11:06:40.000000000Z"
    assert record["targets"] == [{"id": "42", "type": "invoice"}]
    assert (record["seq"], record["writer"]) == (0, "test/1")


def test_record_accepts_a_ready_event_and_stamps_the_service(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="billing")
    audit.record(AuditEvent("invoice.delete", Actor("u")))
    audit.close()
    assert sink.records[0]["service"] == "billing"


def test_fast_path_and_typed_event_produce_identical_records() -> None:
    fast, typed = MemorySink(writer_id="w/1/a"), MemorySink(writer_id="w/1/a")
    kwargs = {
        "actor": Actor("svc", type="service", on_behalf_of=Actor("u")),
        "targets": [Target("invoice", "1"), Target("customer", "2", name="C")],
        "outcome": "failure",
        "reason": "nope",
        "changes": {"total": (1, 2)},
        "source": Source(ip="::1", port=1, user_agent="ua"),
        "severity": "error",
        "tenant": "t",
        "request_id": "r",
        "correlation_id": "c",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "extra": {"a": [1, 2]},
    }
    a = AuditLogger(fast, service="svc", clock=lambda: 1_795_000_000_000_000_000)
    event_id = a.record("invoice.update", **kwargs)  # type: ignore[arg-type]
    event = a.build("invoice.update", **kwargs)  # type: ignore[arg-type]
    b = AuditLogger(typed, service="svc")
    b.record(event)
    a.close()
    b.close()
    first, second = fast.records[0], typed.records[0]
    assert first["event_id"] == event_id
    second["event_id"] = first["event_id"]
    for r in (first, second):
        r.pop("hash")
    assert first == second
    assert AuditEvent.from_dict(first).to_dict() == {
        k: v for k, v in first.items() if k not in ("prev", "seq", "writer")
    }


def test_missing_actor_is_named(sink: MemorySink) -> None:
    with pytest.raises(AuditEventError) as info:
        AuditLogger(sink, service="s").record("a.b")
    assert info.value.field == "actor"


def test_bind_and_contextvars_flow_into_events(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="svc").bind(tenant="acme", region="eu")
    with audit_context(request_id="req-1", actor=Actor("u-7"), source=Source(ip="10.1.2.3")):
        audit.record("user.read")
        assert get_audit_context()["request_id"] == "req-1"
    token = bind_audit_context(correlation_id="c-1")
    audit.record("user.read", actor=Actor("other"))
    reset_audit_context(token)
    bind_audit_context(actor=Actor("x"))
    clear_audit_context()
    assert get_audit_context() == {}
    audit.close()
    first, second = sink.records
    assert first["request_id"] == "req-1"
    assert first["actor"]["id"] == "u-7"
    assert first["tenant"] == "acme"
    assert first["extra"] == {"region": "eu"}
    assert first["source"] == {"ip": "10.1.2.3"}
    assert second["correlation_id"] == "c-1"
    assert "request_id" not in second


def test_structlog_contextvars_ids_are_picked_up(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="svc")
    structlog.contextvars.bind_contextvars(request_id="from-structlog", user_agent="ignored")
    try:
        audit.record("user.read", actor=Actor("u"))
    finally:
        structlog.contextvars.clear_contextvars()
    audit.close()
    assert sink.records[0]["request_id"] == "from-structlog"
    assert "extra" not in sink.records[0]


def test_opentelemetry_current_span_fills_trace_and_span(sink: MemorySink) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    _reset_for_tests()
    ctx = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7, is_remote=False, trace_flags=TraceFlags(1)
    )
    audit = AuditLogger(sink, service="svc")
    with trace.use_span(NonRecordingSpan(ctx)):
        audit.record("user.read", actor=Actor("u"))
    audit.record("user.read", actor=Actor("u"))
    AuditLogger(sink, service="svc", opentelemetry=False)
    audit.close()
    first, second = sink.records
    assert first["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert first["span_id"] == "00f067aa0ba902b7"
    assert "trace_id" not in second


def test_oversized_and_unserialisable_records_are_refused(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="svc")
    with pytest.raises(AuditEventError, match="max_record_bytes=65536") as info:
        audit.record("blob.upload", actor=Actor("u"), extra={"blob": "x" * 70_000})
    assert info.value.field == "record"
    with pytest.raises(AuditEventError) as info2:
        audit.record("blob.upload", actor=Actor("u"), extra={"when": {1, 2}})
    assert info2.value.field == "extra.when"
    with pytest.raises(AuditEventError):
        audit.record("blob.upload", actor=Actor("u"), extra={"big": 2**70})
    small = AuditLogger(MemorySink(), service="svc", max_record_bytes=2048)
    with pytest.raises(AuditEventError, match="2048"):
        small.record("blob.upload", actor=Actor("u"), extra={"blob": "x" * 2000})
    audit.close()
    assert sink.lines == []


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"service": ""}, "service"),
        ({"service": "s", "max_record_bytes": 10}, "max_record_bytes"),
        ({"service": "s", "queue_size": 0}, "queue_size"),
        ({"service": "s", "backpressure": "drop"}, "backpressure"),
        ({"service": "s", "redaction": {"password"}}, "redaction"),
        ({"service": "s", "failure_policy": "open"}, "failure_policy"),
        ({"service": "s", "durability": "fast"}, "durability"),
    ],
)
def test_invalid_configuration_is_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(AuditConfigError, match=match):
        AuditLogger(MemorySink(), **kwargs)  # type: ignore[arg-type]


def test_invalid_sink_and_durability_values() -> None:
    with pytest.raises(AuditConfigError, match="sink"):
        AuditLogger(42, service="s")  # type: ignore[arg-type]
    with pytest.raises(AuditConfigError, match="max_batch"):
        group_commit(max_batch=0)
    with pytest.raises(AuditConfigError, match="max_delay_ms"):
        group_commit(max_delay_ms=-1)
    with pytest.raises(AuditConfigError, match="spool_path"):
        FailOpen(42)  # type: ignore[arg-type]
    with pytest.raises(AuditConfigError, match="writer_id"):
        MemorySink(writer_id='a"b')


def test_closed_logger_refuses_records(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="svc")
    audit.close()
    audit.close()
    with pytest.raises(AuditWriteError, match="closed"):
        audit.record("a.b", actor=Actor("u"))


def test_fail_closed_raises_and_fail_open_spools_then_replays(tmp_path: Path) -> None:
    failing = MemorySink(fail=OSError(28, "No space left on device"))
    closed = AuditLogger(failing, service="svc")
    with pytest.raises(AuditWriteError, match="No space left"):
        closed.record("a.b", actor=Actor("u"))
    assert closed.stats.failures == 1

    sink = MemorySink(fail=OSError(28, "No space left on device"))
    audit = AuditLogger(sink, service="svc", failure_policy=FailOpen(tmp_path / "spool.jsonl", retry_interval_s=0))
    for i in range(5):
        audit.record("a.b", actor=Actor("u"), extra={"i": i})
    assert audit.stats.spooled == 5
    assert audit.stats.spool_pending == 5
    assert sink.lines == []
    sink.fail = None
    audit.record("a.b", actor=Actor("u"), extra={"i": 5})
    audit.close()
    assert [r["extra"]["i"] for r in sink.records] == [0, 1, 2, 3, 4, 5]
    assert [r["seq"] for r in sink.records] == list(range(6))
    assert audit.stats.replayed == 5
    assert audit.stats.spool_pending == 0
    assert list(tmp_path.iterdir()) == []  # the process's spool file, replayed and removed


def test_spool_left_by_a_previous_process_is_replayed_first(tmp_path: Path) -> None:
    spool = tmp_path / "spool.jsonl"
    first = MemorySink(fail=OSError(5, "EIO"))
    a = AuditLogger(first, service="svc", failure_policy=FailOpen(spool))
    a.record("a.b", actor=Actor("u"), extra={"i": 0})
    a.close()  # the sink is still failing: the event stays spooled (in that process's file)
    [left] = tmp_path.iterdir()
    assert left.name.startswith("spool.jsonl.p")
    assert len(left.read_bytes().splitlines()) == 1
    second = MemorySink()
    b = AuditLogger(second, service="svc", failure_policy=FailOpen(spool, retry_interval_s=0))
    assert b.stats.spool_pending == 1
    b.record("a.b", actor=Actor("u"), extra={"i": 1})
    b.close()
    assert [r["extra"]["i"] for r in second.records] == [0, 1]
    assert list(tmp_path.iterdir()) == []


def test_a_spool_file_written_by_an_older_version_is_replayed_once(tmp_path: Path) -> None:
    # Older versions appended to the configured path itself: it is an orphan like any other.
    spool = tmp_path / "spool.jsonl"
    first = MemorySink(fail=OSError(5, "EIO"))
    with AuditLogger(first, service="svc", failure_policy=FailOpen(tmp_path / "x")) as a:
        a.record("a.b", actor=Actor("u"), extra={"i": 0})
    [left] = [p for p in tmp_path.iterdir() if p.name.startswith("x.p")]
    left.rename(spool)
    second = MemorySink()
    with AuditLogger(second, service="svc", failure_policy=FailOpen(spool, retry_interval_s=0)) as b:
        b.record("a.b", actor=Actor("u"), extra={"i": 1})
    assert [r["extra"]["i"] for r in second.records] == [0, 1]
    assert not spool.exists()


async def test_arecord_writes_off_the_loop_and_aclose_drains(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(path), service="svc", durability=group_commit())
    loop_thread = threading.get_ident()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    t = asyncio.create_task(ticker())
    events = await asyncio.gather(*(audit.arecord("a.b", actor=Actor("u"), extra={"i": i}) for i in range(300)))
    t.cancel()
    await audit.aclose()
    assert len(set(events)) == 300
    assert ticks > 0
    assert threading.get_ident() == loop_thread
    lines = path.read_bytes().splitlines()
    assert len(lines) == 300
    assert audit.stats.syncs < 300  # batched: the loop's events shared fsyncs
    assert verify(path).ok


async def test_arecord_backpressure_raise_when_queue_is_full(sink: MemorySink) -> None:
    gate = threading.Event()
    entered = threading.Event()
    original = sink._store

    def blocked_store(records: list) -> None:  # type: ignore[type-arg]
        entered.set()
        gate.wait()
        original(records)

    sink._store = blocked_store  # type: ignore[method-assign]
    audit = AuditLogger(sink, service="svc", queue_size=2, backpressure="raise")
    first = asyncio.create_task(audit.arecord("a.b", actor=Actor("u")))
    try:
        await async_wait_until(entered.is_set, what="the writer to take the first event and block in the sink")
        pending = [asyncio.create_task(audit.arecord("a.b", actor=Actor("u"))) for _ in range(2)]
        await asyncio.sleep(0)  # one loop turn: both tasks queue their event
        with pytest.raises(AuditWriteError, match="queue is full"):
            await audit.arecord("a.b", actor=Actor("u"))
    finally:
        gate.set()
    await asyncio.gather(first, *pending)
    await audit.aclose()
    assert len(sink.lines) == 3


async def test_arecord_propagates_fail_closed_errors() -> None:
    audit = AuditLogger(MemorySink(fail=OSError(28, "full")), service="svc")
    with pytest.raises(AuditWriteError):
        await audit.arecord("a.b", actor=Actor("u"))
    with pytest.raises(AuditEventError):
        await audit.arecord("Bad Action", actor=Actor("u"))
    await audit.aclose()
    with pytest.raises(AuditWriteError, match="closed"):
        await audit.arecord("a.b", actor=Actor("u"))


def test_capture_sees_redacted_events_and_asserts(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="svc")
    with capture() as events:
        audit.record("user.update", actor=Actor("u"), extra={"password": "p"})
    audit.record("user.delete", actor=Actor("u"))
    assert events.actions == ["user.update"]
    assert events.assert_recorded("user.update", outcome="success")["extra"] == {"password": "[REDACTED]"}
    with pytest.raises(AssertionError, match=r"no 'user\.delete'"):
        events.assert_recorded("user.delete")
    audit.close()


def test_structlog_logger_fast_path_writes_audit_records(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="svc")
    log = audit.structlog(tenant="acme")
    structlog.contextvars.bind_contextvars(request_id="r-9")
    try:
        log.warning(
            "invoice.update", actor="u-1", target={"type": "invoice", "id": "42"}, changes={"total": [1, 2]}, note="x"
        )
        log.info("auth.login", actor={"id": "u-2", "type": "user"}, outcome="failure", reason="bad password")
    finally:
        structlog.contextvars.clear_contextvars()
    with pytest.raises(AuditEventError):
        log.info("not valid")
    audit.close()
    first, second = sink.records
    assert first["severity"] == "warning"
    assert first["targets"] == [{"id": "42", "type": "invoice"}]
    assert first["tenant"] == "acme"
    assert first["request_id"] == "r-9"
    assert first["extra"] == {"note": "x"}
    assert second["outcome"] == "failure"
    assert second["seq"] == 1
    assert "logging" not in type(log._logger).__module__


def test_audit_tap_and_redact_secrets_processors(sink: MemorySink) -> None:
    audit = AuditLogger(sink, service="svc")
    out: list[dict[str, object]] = []

    def keep(_: object, __: str, event_dict: dict[str, object]) -> str:
        out.append(dict(event_dict))
        return ""

    log = structlog.wrap_logger(
        structlog.ReturnLogger(), processors=[AuditTap(audit), RedactSecrets(), keep], cache_logger_on_first_use=False
    )
    log.info("invoice.update", audit=True, actor="u-1", password="p")
    log.info("plain log line", token="t")
    audit.close()
    assert [r["action"] for r in sink.records] == ["invoice.update"]
    assert sink.records[0]["extra"] == {"password": "[REDACTED]"}
    assert out[0]["password"] == "[REDACTED]"
    assert out[1]["token"] == "[REDACTED]"
    assert "audit" not in out[0]


def test_stream_sink_writes_whole_lines_to_a_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "out"
    with path.open("wb") as fh:
        audit = AuditLogger(StreamSink(fh), service="svc", durability=group_commit())
        threads = [
            threading.Thread(
                target=lambda: [audit.record("a.b", actor=Actor("u"), extra={"pad": "x" * 9000}) for _ in range(20)]
            )
            for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        audit.close()
    lines = path.read_bytes().splitlines()
    assert len(lines) == 80
    assert all(orjson.loads(line)["extra"]["pad"] == "x" * 9000 for line in lines)
    assert verify(path).ok
    with pytest.raises(AuditConfigError, match="stream"):
        StreamSink("stdin")


def test_sink_from_strings(tmp_path: Path) -> None:
    a = AuditLogger(str(tmp_path / "x.jsonl"), service="s")
    assert isinstance(a.sink, JsonlFileSink)
    a.close()
    b = AuditLogger(f"sqlite://{tmp_path / 'x.db'}", service="s")
    assert type(b.sink).__name__ == "SqliteSink"
    b.close()
    c = AuditLogger("stderr", service="s")
    assert isinstance(c.sink, StreamSink)
    c.close()


def test_fork_gives_the_child_its_own_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(path), service="svc")
    audit.record("a.b", actor=Actor("parent"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads alive
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            audit.record("a.b", actor=Actor("child"))
            audit.close()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    audit.record("a.b", actor=Actor("parent"))
    audit.close()
    records = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert len({r["writer"] for r in records}) == 2
    assert verify(path).ok


def test_buffered_mode_holds_events_until_flush(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(path), service="svc", durability=buffered(max_batch=10))
    for _ in range(5):
        audit.record("a.b", actor=Actor("u"))
    assert path.read_bytes() == b""
    for _ in range(5):
        audit.record("a.b", actor=Actor("u"))
    assert len(path.read_bytes().splitlines()) == 10
    audit.record("a.b", actor=Actor("u"))
    audit.flush()
    assert len(path.read_bytes().splitlines()) == 11
    audit.close()


def test_buffered_fail_closed_keeps_acknowledged_events_for_retry() -> None:
    sink = MemorySink()
    audit = AuditLogger(sink, service="svc", durability=buffered(max_batch=3))
    audit.record("a.b", actor=Actor("u"), extra={"i": 0})
    audit.record("a.b", actor=Actor("u"), extra={"i": 1})
    sink.fail = OSError(5, "EIO")
    with pytest.raises(AuditWriteError, match="3 buffered events kept for retry"):
        audit.record("a.b", actor=Actor("u"), extra={"i": 2})
    sink.fail = None
    audit.record("a.b", actor=Actor("u"), extra={"i": 3})
    audit.close()
    assert [r["extra"]["i"] for r in sink.records] == [0, 1, 2, 3]
    assert [r["seq"] for r in sink.records] == [0, 1, 2, 3]


def test_sinks_describe_themselves_without_secrets(tmp_path: Path) -> None:
    jsonl = JsonlFileSink(tmp_path / "a.jsonl", writer_id="w/1/a")
    assert jsonl.describe() == {"kind": "jsonl", "path": str(tmp_path / "a.jsonl"), "writer": "w/1/a"}
    jsonl.close()
    stream = StreamSink("stderr", writer_id="w/1/b")
    assert stream.describe()["writer"] == "w/1/b"
    assert MemorySink(writer_id="w/1/c").describe() == {"kind": "MemorySink", "writer": "w/1/c"}


def test_partial_replay_keeps_the_rest_of_the_spool_in_order(tmp_path: Path) -> None:
    from maestro_audit_logger import fsync_each

    class Flaky(MemorySink):
        budget: int | None = 0  # stores allowed before failing; None = healthy

        def _store(self, records: list) -> None:  # type: ignore[type-arg]
            if self.budget is not None:
                if self.budget <= 0:
                    raise OSError(5, "EIO")
                self.budget -= 1
            super()._store(records)

    sink = Flaky()
    spool = tmp_path / "spool.jsonl"
    audit = AuditLogger(
        sink, service="svc", durability=fsync_each(), failure_policy=FailOpen(spool, retry_interval_s=0)
    )
    for i in range(5):
        audit.record("a.b", actor=Actor("u"), extra={"i": i})
    assert audit.stats.spool_pending == 5
    sink.budget = 2  # the replay gets two records through, then fails again
    audit.record("a.b", actor=Actor("u"), extra={"i": 5})
    assert [r["extra"]["i"] for r in sink.records] == [0, 1]
    assert audit.stats.spool_pending == 4  # 2, 3, 4 and the new 5, in order
    [own] = tmp_path.iterdir()  # this process's spool file
    assert [orjson.loads(b)["extra"]["i"] for b in own.read_bytes().splitlines()] == [2, 3, 4, 5]
    sink.budget = None
    audit.record("a.b", actor=Actor("u"), extra={"i": 6})
    audit.close()
    assert [r["extra"]["i"] for r in sink.records] == list(range(7))
    assert [r["seq"] for r in sink.records] == list(range(7))


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"extra": {"ratio": float("nan")}}, "extra.ratio"),
        ({"extra": {"rates": [1.5, float("inf")]}}, "extra.rates[1]"),
        ({"extra": {"deep": {"x": -float("inf")}}}, "extra.deep.x"),
        ({"changes": {"total": [1.0, float("nan")]}}, "changes.total[1]"),
    ],
)
@pytest.mark.parametrize("redaction", [None, NoRedaction()])
def test_nan_and_infinity_are_refused_naming_the_field(
    tmp_path: Path, fields: dict[str, object], path: str, redaction: NoRedaction | None
) -> None:
    # JSON has no NaN or Infinity: orjson would store them as null, silently changing the value.
    log = tmp_path / "audit.jsonl"
    with AuditLogger(log, service="svc", redaction=redaction) as audit:
        with pytest.raises(AuditEventError, match="NaN or infinite") as info:
            audit.record("metric.update", actor=Actor("u"), **fields)  # type: ignore[arg-type]
        assert info.value.field == path
        with pytest.raises(AuditEventError, match="NaN or infinite"):
            audit.render_fields("metric.update", actor=Actor("u"), **fields)
        audit.record("metric.update", actor=Actor("u"), extra={"none": None, "x": 1.5})  # null itself is fine
    [line] = log.read_bytes().splitlines()
    assert orjson.loads(line)["extra"] == {"none": None, "x": 1.5}


def test_last_error_is_cleared_once_writes_succeed_again(tmp_path: Path) -> None:
    # A real fault: the head file's path is a directory, so the checkpoint write fails.
    path = tmp_path / "audit.jsonl"
    head = path.with_name("audit.jsonl.head")
    head.mkdir()
    with AuditLogger(JsonlFileSink(path), service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"))
        assert "checkpoint" in str(audit.stats.last_error)
        head.rmdir()  # the fault goes away
        audit.record("invoice.update", actor=Actor("u"))
        assert audit.stats.last_error is None


def test_last_error_is_cleared_after_a_fail_open_replay(tmp_path: Path) -> None:
    sink = MemorySink(fail=OSError(28, "No space left on device"))
    audit = AuditLogger(sink, service="svc", failure_policy=FailOpen(tmp_path / "spool.jsonl", retry_interval_s=0))
    audit.record("a.b", actor=Actor("u"))
    assert "No space left" in str(audit.stats.last_error)
    sink.fail = None
    audit.record("a.b", actor=Actor("u"))
    assert audit.stats.replayed == 1
    assert audit.stats.last_error is None
    audit.close()


def test_configuring_fail_open_again_releases_the_previous_spool_and_replays_it(tmp_path: Path) -> None:
    sink = MemorySink(fail=OSError(5, "EIO"))
    audit = AuditLogger(sink, service="svc", failure_policy=FailOpen(tmp_path / "spool", retry_interval_s=0))
    audit.record("a.b", actor=Actor("u"), extra={"i": 0})
    sink.configure(failure_policy=FailOpen(tmp_path / "spool", retry_interval_s=0))  # the old file: an orphan now
    sink.fail = None
    audit.record("a.b", actor=Actor("u"), extra={"i": 1})
    audit.close()
    assert [r["extra"]["i"] for r in sink.records] == [0, 1]
    assert list(tmp_path.iterdir()) == []
