"""The JSONL sink: durability modes, rotation, sealing, retention, repair; many processes and
threads on one file (also rotating it); a full disk under fail-closed and fail-open."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import orjson
import pytest

from maestro_audit_logger import (
    Actor,
    AuditConfigError,
    AuditLogger,
    Ed25519Signer,
    HmacSigner,
    JsonlFileSink,
    Keyring,
    fsync_each,
    group_commit,
    verify,
)
from maestro_audit_logger._merkle import merkle_root
from maestro_audit_logger._segments import load_digest

KEY = b"k" * 32


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


class Clock:
    def __init__(self, ns: int = 1_795_000_000_000_000_000) -> None:
        self.ns = ns

    def __call__(self) -> int:
        self.ns += 1000
        return self.ns


def test_fsync_each_syncs_every_event(tmp_path: Path) -> None:
    audit = AuditLogger(JsonlFileSink(tmp_path / "a.jsonl"), service="svc", durability=fsync_each())
    for _ in range(5):
        audit.record("a.b", actor=Actor("u"))
    assert audit.stats.syncs == 5
    audit.close()


def test_rotation_by_size_seals_segments_with_merkle_digests(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlFileSink(path, rotate_bytes=4096, signer=HmacSigner(KEY, "k1"))
    audit = AuditLogger(sink, service="svc")
    for i in range(60):
        audit.record("a.b", actor=Actor("u"), extra={"i": i})
    audit.close()
    digests = sorted(tmp_path.glob("audit.jsonl.*.digest"))
    assert len(digests) >= 3
    prev = "0" * 64
    import hashlib

    for dpath in digests:
        digest = load_digest(dpath)
        assert digest is not None
        seg = dpath.with_name(dpath.name.removesuffix(".digest"))
        recs = lines(seg)
        assert digest["count"] == len(recs)
        assert digest["first_hash"] == recs[0]["hash"]
        assert digest["last_hash"] == recs[-1]["hash"]
        assert digest["merkle_root"] == merkle_root([bytes.fromhex(str(r["hash"])) for r in recs])
        assert digest["prev_digest"] == prev
        assert digest["key_id"] == "k1"
        assert seg.stat().st_size <= 4096
        prev = hashlib.sha256(orjson.dumps(digest, option=orjson.OPT_SORT_KEYS)).hexdigest()
    all_records = [r for d in digests for r in lines(d.with_name(d.name.removesuffix(".digest")))] + lines(path)
    assert [r["extra"]["i"] for r in all_records] == list(range(60))  # type: ignore[index]
    assert verify(path, keys=Keyring().add_hmac("k1", KEY), require_signatures=True).ok


def test_merkle_root_matches_rfc6962_split() -> None:
    import hashlib

    def mth(leaves: list[bytes]) -> bytes:
        if len(leaves) == 1:
            return hashlib.sha256(b"\x00" + leaves[0]).digest()
        k = 1
        while k * 2 < len(leaves):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()

    for n in (1, 2, 3, 5, 7, 8, 13):
        leaves = [bytes([i]) * 32 for i in range(n)]
        assert merkle_root(leaves) == mth(leaves).hex()
    assert merkle_root([]) == hashlib.sha256(b"").hexdigest()


def test_rotation_by_time_and_retention_keep_digests(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    clock = Clock()
    sink = JsonlFileSink(path, rotate_interval_s=60, retention_days=1, clock=clock)
    audit = AuditLogger(sink, service="svc")
    for day in range(3):
        for i in range(3):
            audit.record("a.b", actor=Actor("u"), extra={"day": day, "i": i})
        clock.ns += 86_400 * 10**9  # a day passes
    audit.record("a.b", actor=Actor("u"), extra={"day": 3})
    audit.close()
    segments = sorted(p for p in tmp_path.glob("audit.jsonl.*") if not p.name.endswith((".digest", ".lock", ".head")))
    digests = sorted(tmp_path.glob("audit.jsonl.*.digest"))
    assert len(digests) == 3
    assert len(segments) == 1  # older ones deleted, their digests kept
    deletions = [r for r in lines(path) + lines(segments[0]) if r["action"] == "audit.retention.delete"]
    assert len(deletions) == 2
    report = verify(path)
    assert report.ok, report.problems
    assert report.pruned == 2


def test_crashed_rotation_is_sealed_on_open(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlFileSink(path, rotate_bytes=2048)
    audit = AuditLogger(sink, service="svc")
    for _ in range(30):
        audit.record("a.b", actor=Actor("u"))
    audit.close()
    digest = sorted(tmp_path.glob("*.digest"))[-1]
    digest.unlink()
    assert verify(path).first.kind == "digest_missing"  # type: ignore[union-attr]
    JsonlFileSink(path).close()
    assert verify(path).ok


def test_ed25519_signed_digests_verify_with_the_public_key_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    private = Ed25519Signer.generate()
    signer = Ed25519Signer(private, "ed-1")
    audit = AuditLogger(JsonlFileSink(path, signer=signer, seal_on_close=True), service="svc")
    audit.record("a.b", actor=Actor("u"))
    audit.close()
    good = Keyring().add_ed25519("ed-1", signer.public_key())
    assert verify(path, keys=good).ok
    other = Ed25519Signer(Ed25519Signer.generate(), "ed-1")
    bad = verify(path, keys=Keyring().add_ed25519("ed-1", other.public_key()))
    assert bad.first is not None
    assert bad.first.kind == "digest_signature"
    unknown = verify(path, keys=Keyring().add_hmac("zzz", KEY))
    assert unknown.first is not None
    assert unknown.first.kind == "unknown_key"
    nokeys = verify(path)  # the log says it was signed: without keys that is a failure
    assert nokeys.first is not None
    assert nokeys.first.kind == "unknown_key"
    chains_only = verify(path, allow_unsigned=True)
    assert chains_only.ok
    assert chains_only.warnings


def test_torn_tail_is_repaired_on_open_with_a_repair_event(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(path), service="svc")
    audit.record("a.b", actor=Actor("u"))
    audit.close()
    with path.open("ab") as fh:
        fh.write(b'{"prev":"00')
    assert verify(path).torn is not None
    audit = AuditLogger(JsonlFileSink(path), service="svc")
    audit.record("a.b", actor=Actor("u"))
    audit.close()
    records = lines(path)
    assert [r["action"] for r in records] == ["a.b", "audit.repair", "a.b"]
    assert records[1]["extra"] == {
        "offset": len(path.read_bytes().splitlines()[0]) + 1,
        "removed_bytes": 11,
        "reason": "torn last line",
    }
    assert verify(path).ok


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rotate_bytes": 10}, "rotate_bytes"),
        ({"rotate_interval_s": 0}, "rotate_interval_s"),
        ({"retention_days": -1}, "retention_days"),
        ({"signer": object()}, "signer"),
    ],
)
def test_file_sink_configuration_is_validated(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(AuditConfigError, match=match):
        JsonlFileSink(tmp_path / "a.jsonl", **kwargs)  # type: ignore[arg-type]


def test_signer_configuration_is_validated() -> None:
    with pytest.raises(AuditConfigError, match="32 bytes"):
        HmacSigner(b"short", "k")
    with pytest.raises(AuditConfigError, match="key_id"):
        HmacSigner(KEY, "")
    with pytest.raises(AuditConfigError, match="32 raw bytes"):
        Ed25519Signer(b"x", "k")


@pytest.mark.parametrize("kind", ["group_commit", "buffered"])
def test_close_racing_with_writers_loses_nothing_silently(tmp_path: Path, kind: str) -> None:
    from maestro_audit_logger import AuditWriteError, buffered

    durability = group_commit() if kind == "group_commit" else buffered(max_batch=7)
    path = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(path), service="svc", durability=durability)
    accepted: list[str] = []
    refused: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(5)

    def work() -> None:
        start.wait()
        for _ in range(200):
            try:
                event_id = audit.record("a.b", actor=Actor("u"))
            except AuditWriteError:
                with lock:
                    refused.append(1)
                return
            with lock:
                accepted.append(event_id)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    start.wait()
    audit.close()
    for t in threads:
        t.join()
    stored = {str(r["event_id"]) for r in lines(path)}
    assert set(accepted) <= stored  # every acknowledged event was written
    assert len(accepted) + len(refused) > 0
    assert verify(path).ok


# -- many processes and threads on one file, a full disk ------------------------------------
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


@pytest.mark.timing
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


@pytest.mark.timing
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
