"""verify: the tamper matrix, each pinpointed to file, line and seq; the CLI's exit codes; the
bulk verifier reports exactly what the per-line verifier reports."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import maestro_audit_logger._verify as verify_module
from maestro_audit_logger import (
    Actor,
    AuditLogger,
    AuditReadError,
    HmacSigner,
    JsonlFileSink,
    Keyring,
    repair,
    verify,
)
from maestro_audit_logger.cli import main
from tests.waiting import wait_until

KEY = b"s" * 32
RING = Keyring().add_hmac("k1", KEY)


def build(tmp_path: Path, n: int = 40, rotate: int | None = 4096) -> Path:
    path = tmp_path / "audit.jsonl"
    sink = JsonlFileSink(path, rotate_bytes=rotate, signer=HmacSigner(KEY, "k1"), writer_id="host/1/aaaaaa")
    with AuditLogger(sink, service="svc") as audit:
        for i in range(n):
            audit.record("invoice.update", actor=Actor("u"), extra={"i": i})
    return path


def segments(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.glob(path.name + ".*") if not p.name.endswith((".digest", ".lock")))


def edit_lines(path: Path, fn: object) -> None:
    raw = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(fn(raw)))  # type: ignore[operator]


def test_intact_log_verifies(tmp_path: Path) -> None:
    path = build(tmp_path)
    report = verify(path, keys=RING)
    assert report.ok
    assert report.records == 40
    assert report.segments >= 2
    assert report.exit_code == 0
    assert report.warnings == []
    assert report.signatures_required
    assert verify(path, keys=RING, allow_unsigned=True).warnings == []  # signed and checked: no unsigned note


def test_modified_record_is_pinpointed(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None)
    edit_lines(path, lambda ls: [*ls[:6], ls[6].replace(b'"i":6', b'"i":7'), *ls[7:]])
    first = verify(path).first
    assert first is not None
    assert (first.kind, first.file, first.line, first.seq) == ("modified", "audit.jsonl", 7, 6)


def test_modified_and_rehashed_record_breaks_the_link(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None)

    def rehash(ls: list[bytes]) -> list[bytes]:
        rec = ls[6].rstrip(b"\n")
        body = rec[: rec.rfind(b',"hash":')] + b"}"
        body = body.replace(b'"i":6', b'"i":7')
        ls[6] = body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
        return ls

    edit_lines(path, rehash)
    first = verify(path).first
    assert first is not None
    assert (first.kind, first.line, first.seq) == ("broken_link", 8, 7)
    assert "audit.jsonl:7" in first.message


def test_deleted_record_is_a_gap(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None)
    edit_lines(path, lambda ls: ls[:10] + ls[11:])
    first = verify(path).first
    assert first is not None
    assert (first.kind, first.line, first.seq) == ("gap", 11, 11)
    assert "records 10 " in first.message


def test_inserted_copy_of_a_record_is_a_duplicate(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None)
    edit_lines(path, lambda ls: [*ls[:20], ls[3], *ls[20:]])
    first = verify(path).first
    assert first is not None
    assert (first.kind, first.line, first.seq) == ("duplicate", 21, 3)
    assert "stored again after seq 19: a second copy" in first.message


def test_one_event_chained_twice_by_two_writers_is_a_duplicate(tmp_path: Path) -> None:
    # What a fail-open spool replayed by two processes left: one event id in two records that
    # each chain correctly in their writer's chain.
    path = tmp_path / "audit.jsonl"
    a = AuditLogger(JsonlFileSink(path, writer_id="w/1/a"), service="svc")
    b = AuditLogger(JsonlFileSink(path, writer_id="w/2/b"), service="svc")
    event = a.build("invoice.pay", actor=Actor("u"), extra={"event_id": "not-this-one"})
    a.record("a.b", actor=Actor("u"))
    a.record(event)
    b.record(event)
    b.record("a.c", actor=Actor("u"), extra={"ref": event.event_id, "event_id": event.event_id})
    a.close()
    b.close()
    report = verify(path)
    assert [(p.kind, p.line) for p in report.problems] == [("duplicate", 3)]
    assert event.event_id in report.problems[0].message


def test_reordered_records_are_pinpointed(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None)
    edit_lines(path, lambda ls: [*ls[:5], ls[6], ls[5], *ls[7:]])
    report = verify(path)
    assert report.first is not None
    assert (report.first.kind, report.first.line, report.first.seq) == ("gap", 6, 6)
    assert report.problems[1].kind == "out_of_order"


def test_truncated_sealed_segment_is_detected_by_its_digest(tmp_path: Path) -> None:
    path = build(tmp_path)
    seg = segments(path)[0]
    edit_lines(seg, lambda ls: ls[:-3])
    count = len(seg.read_bytes().splitlines())
    first = verify(path, keys=RING).first
    assert first is not None
    assert (first.kind, first.file, first.line) == ("gap", seg.name, count + 1)
    assert "truncated" in first.message


def test_removed_segment_with_its_digest_breaks_both_chains(tmp_path: Path) -> None:
    path = build(tmp_path)
    seg = segments(path)[1]
    seg.unlink()
    Path(str(seg) + ".digest").unlink()
    report = verify(path, keys=RING)
    kinds = {p.kind for p in report.problems}
    assert {"digest_chain", "gap"} <= kinds
    gap = next(p for p in report.problems if p.kind == "gap")
    assert gap.line == 1


def test_removed_middle_segment_keeping_its_digest_is_not_retention(tmp_path: Path) -> None:
    path = build(tmp_path)
    segments(path)[1].unlink()
    first = verify(path, keys=RING).first
    assert first is not None
    assert first.kind == "segment_missing"


def test_forged_digest_and_wrong_key_are_detected(tmp_path: Path) -> None:
    path = build(tmp_path)
    seg = segments(path)[0]
    # Insert a forged record of a new writer and re-seal the digest with a key the verifier does not trust.
    forged_writer = JsonlFileSink(tmp_path / "other.jsonl", writer_id="evil/1/bbbbbb")
    with AuditLogger(forged_writer, service="svc") as a:
        a.record("invoice.delete", actor=Actor("mallory"))
    edit_lines(seg, lambda ls: [*ls, (tmp_path / "other.jsonl").read_bytes()])
    report = verify(path, keys=RING)
    assert report.first is not None
    assert report.first.kind == "digest_mismatch"
    assert report.first.writer == "evil/1/bbbbbb"

    from maestro_audit_logger._segments import DIGEST_SUFFIX, load_digest, seal

    digest = load_digest(Path(str(seg) + DIGEST_SUFFIX))
    assert digest is not None
    seal(seg, digest["prev_digest"], HmacSigner(b"w" * 32, "k1"))
    report = verify(path, keys=RING)
    assert report.first is not None
    assert report.first.kind == "digest_signature"
    assert report.first.file == seg.name + ".digest"


def test_tampered_digest_fields_fail_the_signature(tmp_path: Path) -> None:
    path = build(tmp_path)
    dig = Path(str(segments(path)[0]) + ".digest")
    d = json.loads(dig.read_text())
    d["count"] += 1
    dig.write_bytes(orjson.dumps(d, option=orjson.OPT_SORT_KEYS))
    kinds = [p.kind for p in verify(path, keys=RING).problems]
    assert "digest_signature" in kinds


# -- unsigned rewrites: an attacker with file access and no key, using the library itself ------

_INTEGRITY = ("prev", "seq", "writer", "hash")


def _log_files(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name))


def _rewrite_unsigned(path: Path, edit: Callable[[dict[str, object]], dict[str, object]], **sink: object) -> None:
    """Read every record, edit them, delete the log and write it again with the library: same
    writer id and rotation, no signer (digests and head say ``"algorithm": "none"``)."""
    from maestro_audit_logger import AuditReader

    records = list(AuditReader(path).records())
    writer = str(records[0]["writer"])
    for p in _log_files(path):
        p.unlink()
    bodies = [
        orjson.dumps({k: v for k, v in edit(r).items() if k not in _INTEGRITY}, option=orjson.OPT_SORT_KEYS)
        for r in records
    ]
    s = JsonlFileSink(path, writer_id=writer, **sink)  # type: ignore[arg-type]
    for body in bodies:
        s.emit([body])
    s.close()


def _as_mallory(r: dict[str, object]) -> dict[str, object]:
    return {**r, "actor": {"id": "mallory"}} if r.get("extra") == {"i": 3} else r


def test_attack_rechained_history_with_unsigned_digests_and_head_fails(tmp_path: Path) -> None:
    path = build(tmp_path)
    _rewrite_unsigned(path, _as_mallory, rotate_bytes=4096, checkpoint=True)
    digest = orjson.loads(sorted(tmp_path.glob("audit.jsonl.*.digest"))[0].read_bytes())
    assert digest["algorithm"] == "none"
    report = verify(path, keys=RING)
    assert not report.ok
    assert report.exit_code == 1
    first = report.first
    assert first is not None
    assert (first.kind, first.file) == ("digest_signature", digest["segment"] + ".digest")
    assert '"algorithm": "none"' in first.message
    kinds = {p.kind for p in report.problems}
    assert "checkpoint_signature" in kinds  # the unsigned head too
    assert verify(path, allow_unsigned=True).ok  # the chains alone cannot tell


def test_attack_fresh_unsigned_log_substituted_for_the_history_fails(tmp_path: Path) -> None:
    path = build(tmp_path)
    for p in _log_files(path):
        p.unlink()
    with AuditLogger(JsonlFileSink(path, writer_id="host/1/aaaaaa"), service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"), extra={"i": 0})
    report = verify(path, keys=RING)
    assert [p.kind for p in report.problems] == ["checkpoint_signature"]
    assert "not signed" in report.problems[0].message


def test_attack_records_of_a_new_unsigned_writer_appended_fail(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None, n=5)
    with AuditLogger(JsonlFileSink(path, writer_id="evil/1/bbbbbb", checkpoint=False), service="svc") as audit:
        audit.record("invoice.delete", actor=Actor("mallory"))
    report = verify(path, keys=RING)
    assert [(p.kind, p.writer) for p in report.problems] == [("checkpoint", "evil/1/bbbbbb")]
    assert "no signed head entry or digest covers" in report.problems[0].message


def test_attack_substituted_log_without_any_head_fails(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None)
    for p in _log_files(path):
        p.unlink()
    with AuditLogger(JsonlFileSink(path, writer_id="host/1/aaaaaa", checkpoint=False), service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"), extra={"i": 0})
    report = verify(path, keys=RING)
    assert [p.kind for p in report.problems] == ["checkpoint"]
    assert "head file is missing" in report.problems[0].message


def test_attack_truncated_tail_with_an_unsigned_head_fails(tmp_path: Path) -> None:
    from maestro_audit_logger._segments import head_path, make_head

    path = build(tmp_path, rotate=None, n=10)
    edit_lines(path, lambda ls: ls[:-3])
    last = orjson.loads(path.read_bytes().splitlines()[-1])
    entry = make_head(path.name, last["writer"], last["seq"], last["hash"], None)
    head_path(path).write_bytes(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n")
    report = verify(path, keys=RING)
    assert not report.ok
    assert report.first is not None
    assert report.first.kind == "checkpoint_signature"


def test_a_signed_log_verified_without_keys_fails_unless_allowed(tmp_path: Path) -> None:
    path = build(tmp_path)
    report = verify(path)
    assert not report.ok
    assert report.first is not None
    assert report.first.kind == "unknown_key"
    assert "no verification key was given" in report.first.message
    allowed = verify(path, allow_unsigned=True)
    assert allowed.ok
    assert "signatures not checked: no verification keys given" in allowed.warnings


def test_an_unsigned_log_verifies_and_says_what_that_proves(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditLogger(JsonlFileSink(path), service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"))
    assert path.with_name("audit.jsonl.head").exists()  # unsigned, but a head all the same
    report = verify(path)
    assert report.ok
    assert report.warnings == [verify_module.UNSIGNED_NOTE]
    edit_lines(path, lambda ls: [])  # an accidental truncation: the unsigned head catches it
    assert [p.kind for p in verify(path).problems] == ["gap"]


def test_cli_verify_with_a_key_fails_on_an_unsigned_rewrite(tmp_path: Path) -> None:
    path = build(tmp_path)
    key = tmp_path / "k1.key"
    key.write_bytes(KEY)
    _rewrite_unsigned(path, _as_mallory, rotate_bytes=4096)
    runner = CliRunner()
    res = runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key}"])
    assert res.exit_code == 1, res.output
    assert "TAMPERED" in res.output
    assert "not signed" in res.output
    opt_out = runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key}", "--allow-unsigned"])
    assert opt_out.exit_code == 0, opt_out.output
    assert "unsigned log" in opt_out.output


def test_sqlite_attack_fresh_unsigned_rows_substituted_fails(tmp_path: Path) -> None:
    import sqlite3

    from maestro_audit_logger import SqliteSink

    db = tmp_path / "audit.db"
    with AuditLogger(SqliteSink(db, signer=HmacSigner(KEY, "k1"), writer_id="w"), service="svc") as audit:
        for i in range(5):
            audit.record("invoice.update", actor=Actor("u"), extra={"i": i})
    assert verify(db, keys=RING).ok
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit_events")
        conn.execute("DELETE FROM audit_events_heads")
    conn.close()
    # The library writes the fresh history and its (unsigned) checkpoint row.
    with AuditLogger(SqliteSink(db, writer_id="w"), service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"), extra={"i": 0})
    assert verify(db, allow_unsigned=True).ok  # the chains alone cannot tell
    report = verify(db, keys=RING)
    assert [p.kind for p in report.problems] == ["checkpoint_signature"]
    assert "not signed" in report.problems[0].message
    # Without the checkpoint table at all, it is missing.
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TABLE audit_events_heads")
    conn.close()
    report = verify(db, keys=RING)
    assert [p.kind for p in report.problems] == ["checkpoint"]
    assert "missing" in report.problems[0].message


def test_torn_tail_is_reported_and_repaired(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None, n=5)
    with path.open("ab") as fh:
        fh.write(b'{"prev":"abc')
    report = verify(path, keys=RING)
    assert report.problems == []
    assert report.torn is not None
    assert report.torn.line == 6
    assert report.exit_code == 1
    fixed = repair(path, signer=HmacSigner(KEY, "k1"))
    assert fixed is not None
    assert fixed.kind == "torn"
    assert repair(path) is None
    after = verify(path, keys=RING)
    assert after.ok, after.problems
    assert [orjson.loads(x)["action"] for x in path.read_bytes().splitlines()][-1] == "audit.repair"


def test_bad_inputs_raise_read_errors(tmp_path: Path) -> None:
    with pytest.raises(AuditReadError, match="does not exist"):
        verify(tmp_path / "missing.jsonl")
    foreign = tmp_path / "app.log"
    foreign.write_text('{"level": "info", "msg": "hello"}\n')
    with pytest.raises(AuditReadError, match="not a maestro audit log"):
        verify(foreign)
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(b"\x00\x01\xff garbage\n")
    with pytest.raises(AuditReadError):
        verify(binary)
    with pytest.raises(AuditReadError, match="not an audit database"):
        verify(f"sqlite://{foreign}")


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    path = build(tmp_path)
    key = tmp_path / "k1.hex"
    key.write_text(KEY.hex())
    runner = CliRunner()
    ok = runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key}", "--key-encoding", "hex"])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    edit_lines(path, lambda ls: [*ls[:-2], ls[-1].replace(b'"u"', b'"v"')])
    bad = runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key}", "--key-encoding", "hex", "--json"])
    assert bad.exit_code == 1
    payload = json.loads(bad.output)
    assert payload["ok"] is False
    assert payload["problems"][0]["file"] == "audit.jsonl"
    foreign = tmp_path / "foreign.log"
    foreign.write_text("hello world\n")
    res = runner.invoke(main, ["verify", str(foreign)])
    assert res.exit_code == 2
    assert "Traceback" not in res.output
    assert "not a maestro audit log" in res.output
    assert runner.invoke(main, ["verify", str(tmp_path / "nope")]).exit_code == 2
    assert runner.invoke(main, ["verify", str(path), "--hmac-key", "nonsense"]).exit_code == 2


def _token_with_whitespace_at(end: int) -> bytes:
    """A real `secrets.token_bytes(32)` key whose first (end=0) or last (end=-1) byte is ASCII
    whitespace: about 1 draw in 43 for each end."""
    import secrets

    while True:
        key = secrets.token_bytes(32)
        if key[end] in b" \t\n\r\x0b\x0c":
            return key


def _hex_digit_key() -> bytes:
    import secrets

    return secrets.token_hex(16).encode()  # 32 raw bytes that all happen to be hex digits


@pytest.mark.parametrize(
    "make_key",
    [lambda: _token_with_whitespace_at(0), lambda: _token_with_whitespace_at(-1), _hex_digit_key],
    ids=["leading-whitespace", "trailing-whitespace", "hex-digits"],
)
def test_cli_reads_raw_key_files_exactly_as_written(tmp_path: Path, make_key: Callable[[], bytes]) -> None:
    key = make_key()
    path = tmp_path / "audit.jsonl"
    with AuditLogger(JsonlFileSink(path, rotate_bytes=4096, signer=HmacSigner(key, "k1")), service="svc") as audit:
        for i in range(40):
            audit.record("invoice.update", actor=Actor("u"), extra={"i": i})
    key_file = tmp_path / "k1.key"
    key_file.write_bytes(key)
    res = CliRunner().invoke(main, ["verify", str(path), "--hmac-key", f"k1={key_file}"])
    assert res.exit_code == 0, res.output
    assert "OK" in res.output


@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_cli_reads_encoded_key_files_only_when_told(tmp_path: Path, encoding: str) -> None:
    import base64

    path = build(tmp_path, rotate=None, n=3)
    text = KEY.hex() if encoding == "hex" else base64.b64encode(KEY).decode()
    key_file = tmp_path / "k1.txt"
    key_file.write_text(text + "\n")
    runner = CliRunner()
    told = runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key_file}", "--key-encoding", encoding])
    assert told.exit_code == 0, told.output
    raw = runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key_file}"])
    assert raw.exit_code == 1  # the text itself is not the key
    key_file.write_text("not " + encoding)
    bad = runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key_file}", "--key-encoding", encoding])
    assert bad.exit_code == 2
    assert f"not valid {encoding}" in bad.output


def test_cli_verify_repair(tmp_path: Path) -> None:
    path = build(tmp_path, rotate=None, n=3)
    with path.open("ab") as fh:
        fh.write(b"{torn")
    key = tmp_path / "k1.key"
    key.write_bytes(KEY)
    runner = CliRunner()
    assert runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key}"]).exit_code == 1
    res = runner.invoke(main, ["verify", str(path), "--repair", "--hmac-key", f"k1={key}"])
    assert res.exit_code == 0, res.output
    assert "repaired" in res.output


def test_directory_verification_skips_foreign_files(tmp_path: Path) -> None:
    build(tmp_path, rotate=4096)
    (tmp_path / "spool.jsonl").write_text('{"action":"a.b"}\n')
    (tmp_path / "notes.txt").write_text("hello\n")
    report = verify(tmp_path, keys=RING)
    assert report.ok, report.problems
    assert report.records == 40
    assert any("spool.jsonl" in w for w in report.warnings)
    from maestro_audit_logger import AuditReader

    assert len(list(AuditReader(tmp_path).records())) == 40
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.log").write_text("nope\n")
    with pytest.raises(AuditReadError, match="no audit log"):
        verify(empty)


_PRISTINE: dict[str, bytes] = {}


def _pristine_log() -> bytes:
    if "log" not in _PRISTINE:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "audit.jsonl"
            with AuditLogger(JsonlFileSink(path), service="svc") as audit:
                for i in range(8):
                    audit.record("invoice.update", actor=Actor("ü-1"), extra={"i": i, "note": "naïve ✓ 日本"})
            _PRISTINE["log"] = path.read_bytes()
    return _PRISTINE["log"]


@settings(max_examples=150, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.integers(min_value=0, max_value=255))
def test_property_any_single_byte_change_is_detected(position: int, replacement: int) -> None:
    import tempfile

    data = bytearray(_pristine_log())
    position %= len(data)
    assume(data[position] != replacement)
    data[position] = replacement
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "audit.jsonl"
        path.write_bytes(bytes(data))
        try:
            report = verify(path)
        except AuditReadError:
            return  # the first line no longer looks like an audit log: refused as bad input
        assert not report.ok


@settings(max_examples=60, deadline=None)
@given(drop=st.integers(min_value=0, max_value=7), insert_at=st.integers(min_value=0, max_value=7))
def test_property_any_deleted_or_moved_line_is_detected(drop: int, insert_at: int) -> None:
    import tempfile

    lines = _pristine_log().splitlines(keepends=True)
    moved = lines[drop]
    rest = lines[:drop] + lines[drop + 1 :]
    for candidate in (rest, [*rest[:insert_at], moved, *rest[insert_at:]]):
        if candidate == lines:
            continue
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "audit.jsonl"
            path.write_bytes(b"".join(candidate))
            report = verify(path)
            # Dropping the very last line is the one undetectable case of an unsealed file.
            if candidate is rest and drop == len(lines) - 1:
                assert report.ok
            else:
                assert not report.ok


def test_interleaved_writers_whose_ids_share_a_prefix(tmp_path: Path) -> None:
    # The fast path matches "<seq>,\"writer\":\"<id>\"," exactly: writer "w" must never pass for
    # "w2", and a record moved to the other writer's chain (re-hashed) must be reported.
    path = tmp_path / "audit.jsonl"
    loggers = [AuditLogger(JsonlFileSink(path, writer_id=w, repair_on_open=False), service="svc") for w in ("w", "w2")]
    for i in range(30):
        loggers[i % 3 == 0].record("invoice.update", actor=Actor("u"), extra={"i": i})
    for audit in loggers:
        audit.close()
    report = verify(path)
    assert report.ok, report.problems
    assert (report.records, report.writers) == (30, 2)

    def move_to_w(ls: list[bytes]) -> list[bytes]:
        rec = ls[9].rstrip(b"\n")  # line 10: i=9, written by "w2" (i % 3 == 0)
        body = rec[: rec.rfind(b',"hash":')] + b"}"
        body = body.replace(b'"writer":"w2"', b'"writer":"w"')
        ls[9] = body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
        return ls

    edit_lines(path, move_to_w)
    first = verify(path).first
    assert first is not None
    assert first.line == 10
    assert first.kind in ("broken_link", "out_of_order", "gap")


# -- the bulk verifier reports exactly what the per-line verifier reports ----------------
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


# -- verify and repair against real writer processes ----------------------------------------------

ROTATING_WRITER = """
import sys
from maestro_audit_logger import Actor, AuditLogger, HmacSigner, JsonlFileSink
path, key = sys.argv[1], bytes.fromhex(sys.argv[2])
sink = JsonlFileSink(path, rotate_bytes=2048, signer=HmacSigner(key, "k1"), writer_id="rotor")
audit = AuditLogger(sink, service="svc")
i = 0
while True:
    audit.record("invoice.update", actor=Actor("u"), extra={"i": i})
    i += 1
"""


@pytest.mark.timing
def test_verify_during_live_rotation_never_raises_a_false_alarm(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", ROTATING_WRITER, str(path), KEY.hex()])
    try:
        wait_until(lambda: len(segments(path)) >= 3, what="the writer rotated three times")
        alarms: list[str] = []
        runs = 0
        start = len(segments(path))
        # Enough verifies to span many rotations (each rotation is a chance for the race).
        while runs < 40 or len(segments(path)) < start + 10:
            assert proc.poll() is None, "the writer died"
            report = verify(path, keys=RING)
            runs += 1
            alarms += [str(p) for p in report.problems]
        assert alarms == [], f"{len(alarms)} false alarm(s) in {runs} verifies: {alarms[:3]}"
    finally:
        proc.kill()
        proc.wait()


CRASH_AFTER_RENAME = """
import os, signal, sys
import maestro_audit_logger.sinks.file as file_module
from maestro_audit_logger import Actor, AuditLogger, HmacSigner, JsonlFileSink
path, key = sys.argv[1], bytes.fromhex(sys.argv[2])
sink = JsonlFileSink(path, rotate_bytes=1 << 30, signer=HmacSigner(key, "k1"), writer_id="w")
audit = AuditLogger(sink, service="svc")
for i in range(10):
    audit.record("invoice.update", actor=Actor("u"), extra={"i": i})
audit.flush()
# The rotation renames the active file, then fsyncs the directory, then seals: die in between.
file_module.fsync_dir = lambda _path: os.kill(os.getpid(), signal.SIGKILL)
sink.rotate()
"""


def crash_mid_rotation(path: Path) -> None:
    """A real writer SIGKILLed between a rotation's rename and its seal."""
    proc = subprocess.Popen([sys.executable, "-c", CRASH_AFTER_RENAME, str(path), KEY.hex()])
    try:
        assert proc.wait(timeout=60) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    assert len(list(path.parent.glob("audit.jsonl.0*"))) == 1
    assert not list(path.parent.glob("*.digest"))


def test_repair_seals_a_segment_left_unsealed_by_a_crash_mid_rotation(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    crash_mid_rotation(path)
    before = verify(path, keys=RING)
    assert [p.kind for p in before.problems] == ["digest_missing"]
    fixed = repair(path, signer=HmacSigner(KEY, "k1"))
    assert fixed is not None
    assert fixed.kind == "digest_missing"
    after = verify(path, keys=RING)
    assert after.ok, after.problems
    assert after.records == 10
    assert repair(path, signer=HmacSigner(KEY, "k1")) is None


def test_cli_verify_repair_seals_a_segment_left_unsealed_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    crash_mid_rotation(path)
    key = tmp_path / "k1.key"
    key.write_bytes(KEY)
    runner = CliRunner()
    res = runner.invoke(main, ["verify", str(path), "--hmac-key", f"k1={key}"])
    assert res.exit_code == 1
    assert "digest_missing" in res.output
    res = runner.invoke(main, ["verify", str(path), "--repair", "--hmac-key", f"k1={key}"])
    assert res.exit_code == 0, res.output
    assert "repaired" in res.output


def test_a_restarted_writer_never_reseals_over_a_digest_it_cannot_read(tmp_path: Path) -> None:
    # before: a writer (or repair) that found a digest file it could not parse sealed the segment
    # again with a fresh, validly signed digest, so a tampered digest (and the segment it vouched
    # for) verified OK afterwards
    path = build(tmp_path)
    digest = sorted(path.parent.glob("*.digest"))[0]
    digest.write_bytes(b"not a digest any more")
    assert not verify(path, keys=RING).ok
    sink = JsonlFileSink(path, rotate_bytes=4096, signer=HmacSigner(KEY, "k1"), writer_id="host/1/aaaaaa")
    with AuditLogger(sink, service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"), extra={"i": "after restart"})
    assert digest.read_bytes() == b"not a digest any more"
    assert not verify(path, keys=RING).ok
