"""Faults: SIGKILL during group commit, many processes and threads on one file, a full disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pytest

from maestro_audit_logger import verify

WRITER = textwrap.dedent(
    """
    import sys, threading
    from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink, group_commit
    path, acked = sys.argv[1], sys.argv[2]
    audit = AuditLogger(JsonlFileSink(path), service="svc", durability=group_commit(max_delay_ms=1))
    out = open(acked, "a", buffering=1)
    lock = threading.Lock()
    def work(n):
        i = 0
        while True:
            e = audit.record("a.b", actor=Actor(f"t{n}"), extra={"i": i, "pad": "x" * 3000})
            with lock:
                out.write(e + "\\n")
            i += 1
    for n in range(4):
        threading.Thread(target=work, args=(n,), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()
    """
)


@pytest.mark.slow
def test_sigkill_during_group_commit_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    acked = tmp_path / "acked.txt"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(acked)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    deadline = time.monotonic() + 20
    while (not acked.exists() or acked.stat().st_size < 200 * 37) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    # Simulate the torn write a crash can leave (a kill can land mid-copy of a large write).
    with path.open("ab") as fh:
        fh.write(b'{"prev":"' + b"0" * 30)
    acked_ids = set(acked.read_text().split())
    assert len(acked_ids) >= 200
    data = path.read_bytes()
    stored = {orjson.loads(line)["event_id"] for line in data.split(b"\n")[:-1]}
    assert acked_ids <= stored
    report = verify(path)
    assert report.problems == []
    assert report.torn is not None
    from maestro_audit_logger import repair

    assert repair(path) is not None
    assert verify(path).ok


MULTI = textwrap.dedent(
    """
    import sys, threading
    from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink, flush
    path, n = sys.argv[1], int(sys.argv[2])
    audit = AuditLogger(JsonlFileSink(path), service="svc", durability=flush())
    def work(t):
        for i in range(n):
            # sizes straddle PIPE_BUF and the page size
            audit.record("a.b", actor=Actor(f"t{t}"), extra={"i": i, "pad": "y" * (100 + (i * 997) % 9000)})
    ts = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in ts: t.start()
    for t in ts: t.join()
    audit.close()
    """
)


@pytest.mark.slow
def test_four_processes_eight_threads_one_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    per_thread = 40
    procs = [subprocess.Popen([sys.executable, "-c", MULTI, str(path), str(per_thread)]) for _ in range(4)]
    for p in procs:
        assert p.wait(60) == 0
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [orjson.loads(line) for line in lines[:-1]]  # any torn line would fail to parse
    assert len(records) == 4 * 8 * per_thread
    writers = {r["writer"] for r in records}
    assert len(writers) == 4
    for w in writers:
        assert [r["seq"] for r in records if r["writer"] == w] == list(range(8 * per_thread))
    report = verify(path)
    assert report.ok, report.problems[:3]
    assert report.writers == 4


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from maestro_audit_logger import Actor, AuditLogger, AuditWriteError, FailOpen, JsonlFileSink, flush
    path, spool, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    limit = 20_000
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    policy = FailOpen(spool, retry_interval_s=0) if mode == "open" else None
    audit = AuditLogger(JsonlFileSink(path), service="svc", failure_policy=policy)
    written = 0
    for i in range(60):  # the spool stays under the (per-file) size limit
        try:
            audit.record("a.b", actor=Actor("u"), extra={"i": i, "pad": "z" * 300})
            written += 1
        except AuditWriteError as exc:
            print("refused", i, exc, flush=True)
            break
    print("stats", audit.stats.spooled, audit.stats.spool_pending, flush=True)
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    for i in range(60, 63):
        audit.record("a.b", actor=Actor("u"), extra={"i": i})
    audit.close()
    print("done", audit.stats.replayed, flush=True)
    """
)


@pytest.mark.parametrize("mode", ["closed", "open"])
def test_full_disk_fail_closed_raises_fail_open_spools_and_replays(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "audit.jsonl"
    spool = tmp_path / "spool" / "spool.jsonl"
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(path), str(spool), mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    indexes = [r["extra"]["i"] for r in records]
    if mode == "closed":
        assert "refused" in out
        refused = int(out.split("refused ")[1].split()[0])
        assert "File too large" in out
        assert indexes == [*range(refused), 60, 61, 62]
    else:
        assert "refused" not in out
        spooled = int(out.split("stats ")[1].split()[0])
        assert spooled > 0
        assert f"done {spooled}" in out
        assert indexes == list(range(63))
    assert verify(path).ok


ROTATING = textwrap.dedent(
    """
    import sys, threading
    from maestro_audit_logger import Actor, AuditLogger, HmacSigner, JsonlFileSink, flush
    path, n = sys.argv[1], int(sys.argv[2])
    sink = JsonlFileSink(path, rotate_bytes=16384, signer=HmacSigner(b"r" * 32, "k1"))
    audit = AuditLogger(sink, service="svc", durability=flush())
    def work(t):
        for i in range(n):
            audit.record("a.b", actor=Actor(f"t{t}"), extra={"i": i, "pad": "r" * 200})
    ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
    audit.close()
    """
)


@pytest.mark.slow
def test_several_processes_rotate_one_file_safely(tmp_path: Path) -> None:
    from maestro_audit_logger import AuditReader, Keyring

    path = tmp_path / "audit.jsonl"
    per_thread = 60
    procs = [subprocess.Popen([sys.executable, "-c", ROTATING, str(path), str(per_thread)]) for _ in range(4)]
    for p in procs:
        assert p.wait(120) == 0
    digests = sorted(tmp_path.glob("audit.jsonl.*.digest"))
    assert len(digests) >= 5
    records = list(AuditReader(path).records())
    assert len(records) == 4 * 4 * per_thread
    assert len({r["event_id"] for r in records}) == len(records)
    report = verify(path, keys=Keyring().add_hmac("k1", b"r" * 32), require_signatures=True)
    assert report.ok, report.problems[:3]
    assert report.writers == 4
