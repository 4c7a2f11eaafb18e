"""The fast paths keep every guarantee: bulk verification reports exactly what the per-line
verifier reports, and the leader/follower group commit returns only after the covering sync."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

import maestro_audit_logger._verify as verify_module
from maestro_audit_logger import Actor, AuditLogger, AuditWriteError, JsonlFileSink, group_commit, verify
from maestro_audit_logger.testing import MemorySink

Edit = Callable[[list[bytes]], list[bytes]]


def big_log(tmp_path: Path, n: int = 2600, writers: tuple[str, ...] = ("host/1/aaaaaa",)) -> Path:
    # ~2600 records of ~480 bytes: several 256 KiB blocks and several bulk chunks per block.
    path = tmp_path / "audit.jsonl"
    loggers = [AuditLogger(JsonlFileSink(path, writer_id=w, repair_on_open=False), service="svc") for w in writers]
    for i in range(n):
        # Runs of 700 events per writer, so bulk chunks both succeed and straddle a writer change.
        loggers[(i // 700) % len(loggers)].record(
            "invoice.update", actor=Actor("user-1", name="Ann"), request_id=f"req-{i}", extra={"i": i, "pad": "x" * 200}
        )
    for audit in loggers:
        audit.close()
    return path


def per_line_only(monkeypatch: pytest.MonkeyPatch, path: Path) -> verify_module.VerifyReport:
    with monkeypatch.context() as m:
        m.setattr(verify_module, "_bulk", lambda *a: None)
        return verify(path)


def rehash(line: bytes) -> bytes:
    rec = line.rstrip(b"\n")
    body = rec[: rec.rfind(b',"hash":')] + b"}"
    return body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'


def modify(ls: list[bytes]) -> list[bytes]:
    ls[1500] = ls[1500].replace(b'"user-1"', b'"user-2"')
    return ls


def modify_and_rehash(ls: list[bytes]) -> list[bytes]:
    ls[1500] = rehash(ls[1500].replace(b'"user-1"', b'"user-2"'))
    return ls


def delete(ls: list[bytes]) -> list[bytes]:
    del ls[1500]
    return ls


def duplicate(ls: list[bytes]) -> list[bytes]:
    ls.insert(2000, ls[1999])
    return ls


def swap(ls: list[bytes]) -> list[bytes]:
    ls[1500], ls[1501] = ls[1501], ls[1500]
    return ls


def blank(ls: list[bytes]) -> list[bytes]:
    ls.insert(1200, b"\n")
    return ls


def truncate_tail(ls: list[bytes]) -> list[bytes]:
    return [*ls[:-1], ls[-1][:100]]


def last_line_hash(ls: list[bytes]) -> list[bytes]:
    ls[-1] = ls[-1][:-4] + b'0"}\n' if not ls[-1].endswith(b'0"}\n') else ls[-1][:-4] + b'1"}\n'
    return ls


def garbage(ls: list[bytes]) -> list[bytes]:
    ls[777] = b'{"not":"a record"}\n'
    return ls


@pytest.mark.parametrize(
    "edit",
    [modify, modify_and_rehash, delete, duplicate, swap, blank, truncate_tail, last_line_hash, garbage],
)
@pytest.mark.parametrize("writers", [("host/1/aaaaaa",), ("w", "w2")])
def test_bulk_verify_reports_exactly_what_the_per_line_verifier_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Edit, writers: tuple[str, ...]
) -> None:
    path = big_log(tmp_path, writers=writers)
    clean = verify(path)
    assert clean.ok, clean.problems
    assert (clean.records, clean.writers) == (2600, len(writers))
    raw = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(edit(raw)))
    fast = verify(path)
    slow = per_line_only(monkeypatch, path)
    assert fast.ok is (edit is blank)  # a blank line in the active file changes no record
    assert fast.problems == slow.problems
    assert fast.torn == slow.torn
    assert fast.records == slow.records


def test_bulk_verify_covers_sealed_segments_and_their_digests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlFileSink(path, rotate_bytes=400_000, writer_id="host/1/aaaaaa")
    with AuditLogger(sink, service="svc") as audit:
        for i in range(3000):
            audit.record("invoice.update", actor=Actor("u"), extra={"i": i, "pad": "y" * 300})
    report = verify(path)
    assert report.ok, report.problems
    assert report.segments >= 3
    assert report.records == 3000
    # Drop one record from the middle of a sealed segment and re-chain nothing: both verifiers
    # pinpoint the same line, and the digest comparison still runs over the bulk hashes.
    seg = sorted(p for p in tmp_path.iterdir() if p.name.startswith("audit.jsonl.") and p.suffix != ".digest")[1]
    lines = seg.read_bytes().splitlines(keepends=True)
    del lines[len(lines) // 2]
    seg.write_bytes(b"".join(lines))
    fast = verify(path)
    assert fast.problems == per_line_only(monkeypatch, path).problems
    assert fast.first is not None
    assert (fast.first.kind, fast.first.file) == ("gap", seg.name)


def test_bulk_verify_is_used_and_counts_every_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = big_log(tmp_path)
    calls: list[int] = []
    real = verify_module._bulk

    def spy(chunk: list[bytes], *args: object) -> object:
        out = real(chunk, *args)  # type: ignore[arg-type]
        if out is not None and out is not verify_module._UNKNOWN:
            calls.append(len(chunk))
        return out

    monkeypatch.setattr(verify_module, "_bulk", spy)
    report = verify(path)
    assert report.ok
    assert sum(calls) == 2600 - 1  # everything but each writer's first record went the bulk way


class SyncLog(MemorySink):
    """Counts the lines each sync made durable; optionally slow or failing."""

    def __init__(self, delay: float = 0.002, fail_on: int | None = None) -> None:
        super().__init__()
        self.durable = 0
        self.delay = delay
        self.fail_on = fail_on
        self.calls = 0

    def _sync(self) -> None:
        self.calls += 1
        time.sleep(self.delay)
        if self.fail_on is not None and self.calls == self.fail_on:
            raise OSError(5, "simulated fsync failure")
        self.durable = len(self.lines)


def test_group_commit_returns_only_after_the_sync_covering_the_event() -> None:
    sink = SyncLog()
    audit = AuditLogger(sink, service="svc", durability=group_commit())
    early: list[str] = []

    def work(n: int) -> None:
        for i in range(40):
            event_id = audit.record("a.b", actor=Actor(f"t{n}"), extra={"i": i})
            durable = {orjson.loads(line)["event_id"] for line in sink.lines[: sink.durable]}
            if event_id not in durable:
                early.append(event_id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    audit.close()
    assert early == []
    assert len(sink.lines) == 320
    assert sink._inflight == 0
    assert [orjson.loads(line)["seq"] for line in sink.lines] == list(range(320))


def test_group_commit_failure_reaches_exactly_the_writers_of_the_failed_batch() -> None:
    sink = SyncLog(delay=0.01, fail_on=3)
    audit = AuditLogger(sink, service="svc", durability=group_commit())
    outcomes: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        for _ in range(6):
            try:
                audit.record("a.b", actor=Actor(f"t{n}"))
                ok = True
            except AuditWriteError:
                ok = False
            with lock:
                outcomes.append((f"t{n}", ok))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    audit.close()
    failed = [o for o in outcomes if not o[1]]
    assert len(outcomes) == 24
    assert 1 <= len(failed) <= 4  # one batch failed: at most one event per thread in it
    assert len({who for who, _ in failed}) == len(failed)
    assert sink._inflight == 0


def test_flush_during_group_commit_keeps_the_in_flight_count_exact() -> None:
    sink = SyncLog(delay=0.003)
    audit = AuditLogger(sink, service="svc", durability=group_commit())
    stop = threading.Event()

    def flusher() -> None:
        while not stop.is_set():
            audit.flush()

    def work(n: int) -> None:
        for i in range(30):
            audit.record("a.b", actor=Actor(f"t{n}"), extra={"i": i})

    f = threading.Thread(target=flusher)
    f.start()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    f.join()
    audit.close()
    assert len(sink.lines) == 180
    assert sink._inflight == 0


def test_targets_column_text_for_zero_one_and_many_targets() -> None:
    from maestro_audit_logger._db import targets_text

    assert targets_text(None) == targets_text([]) == ""
    assert targets_text([{"type": "invoice", "id": "7"}]) == "|invoice:7|"
    assert targets_text([{"type": "invoice", "id": "7"}, {"type": "user", "id": "u"}]) == "|invoice:7|user:u|"
