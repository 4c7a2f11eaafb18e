"""The signed head file ("checkpoint"): records deleted from the end of the active, unsealed
JSONL file are detected, and a forged, removed or foreign head file is reported."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from maestro_audit_logger import Actor, AuditLogger, HmacSigner, JsonlFileSink, Keyring, fsync_each, verify
from maestro_audit_logger._segments import parse_heads
from maestro_audit_logger.cli import main

KEY = b"c" * 32
KEYS = Keyring().add_hmac("k1", KEY)


def write(path: Path, n: int = 20, *, writer: str = "host/1/aaaaaa", signer: bool = True, **kw: object) -> None:
    sink = JsonlFileSink(
        path, signer=HmacSigner(KEY, "k1") if signer else None, writer_id=writer, repair_on_open=False, **kw
    )  # type: ignore[arg-type]
    with AuditLogger(sink, service="svc") as audit:
        for i in range(n):
            audit.record("invoice.update", actor=Actor("u"), extra={"i": i})


def head(path: Path) -> list[dict[str, object]]:
    entries = parse_heads(path.with_name(path.name + ".head").read_bytes())
    assert entries is not None
    return entries


def drop_last(path: Path, k: int) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-k]))


def test_signed_log_keeps_a_head_naming_its_last_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path)
    (entry,) = head(path)
    last = orjson.loads(path.read_bytes().splitlines()[-1])
    assert (entry["writer"], entry["seq"], entry["hash"]) == ("host/1/aaaaaa", last["seq"], last["hash"])
    assert entry["algorithm"] == "hmac-sha256"
    report = verify(path, keys=KEYS)
    assert report.ok, report.problems
    assert verify(tmp_path, keys=KEYS).ok  # the head file is not taken for another log


def test_records_deleted_from_the_end_of_the_active_file_are_a_gap(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path)
    drop_last(path, 3)
    report = verify(path, keys=KEYS)
    assert not report.ok
    first = report.first
    assert first is not None
    assert (first.kind, first.file, first.line, first.seq, first.writer) == (
        "gap",
        "audit.jsonl",
        18,
        17,
        "host/1/aaaaaa",
    )
    assert "17-19" in first.message


def test_without_a_checkpoint_the_same_truncation_goes_unseen(tmp_path: Path) -> None:
    # The limitation the head file closes: an unsealed file's tail can be cut cleanly.
    path = tmp_path / "audit.jsonl"
    write(path, signer=False, checkpoint=False)
    assert not path.with_name("audit.jsonl.head").exists()
    drop_last(path, 3)
    assert verify(path).ok
    assert not verify(path, require_checkpoint=True).ok


def test_a_replaced_last_record_is_modified(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path)
    lines = path.read_bytes().splitlines(keepends=True)
    rec = lines[-1].rstrip(b"\n").replace(b'"u"', b'"v"')
    body = rec[: rec.rfind(b',"hash":')] + b"}"
    lines[-1] = body[:-1] + b',"hash":"' + hashlib.sha256(body).hexdigest().encode() + b'"}\n'
    path.write_bytes(b"".join(lines))
    first = verify(path, keys=KEYS).first
    assert first is not None
    assert (first.kind, first.line, first.seq) == ("modified", 20, 19)


def test_a_forged_head_fails_its_signature(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path)
    drop_last(path, 2)
    hpath = path.with_name("audit.jsonl.head")
    entry = orjson.loads(hpath.read_bytes())
    entry["seq"] = 17  # hide the deletion
    entry["hash"] = orjson.loads(path.read_bytes().splitlines()[-1])["hash"]
    hpath.write_bytes(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n")
    report = verify(path, keys=KEYS)
    assert [p.kind for p in report.problems] == ["checkpoint_signature"]
    wrong = verify(path, keys=Keyring().add_hmac("k1", b"x" * 32))
    assert [p.kind for p in wrong.problems] == ["checkpoint_signature"]
    assert [p.kind for p in verify(path).problems] == ["unknown_key"]  # a signed log needs its keys
    unchecked = verify(path, allow_unsigned=True)
    assert unchecked.ok
    assert "signatures not checked: no verification keys given" in unchecked.warnings


def test_a_removed_head_is_reported_once_digests_say_there_was_one(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 60, rotate_bytes=4096)
    assert verify(path, keys=KEYS).ok
    digest = orjson.loads(next(tmp_path.glob("audit.jsonl.*.digest")).read_bytes())
    assert digest["checkpoint"] is True
    path.with_name("audit.jsonl.head").unlink()
    drop_last(path, 1)
    report = verify(path, keys=KEYS)
    assert [p.kind for p in report.problems] == ["checkpoint"]
    assert "missing" in report.problems[0].message


def test_a_corrupt_or_foreign_head_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path)
    hpath = path.with_name("audit.jsonl.head")
    good = hpath.read_bytes()
    hpath.write_bytes(good[:40])
    assert [p.kind for p in verify(path, keys=KEYS).problems] == ["checkpoint"]
    other = tmp_path / "other" / "billing.jsonl"
    other.parent.mkdir()
    write(other)
    hpath.write_bytes(other.with_name("billing.jsonl.head").read_bytes())
    report = verify(path, keys=KEYS)
    assert [p.kind for p in report.problems] == ["checkpoint"]


def test_each_writer_has_its_entry_and_rotation_drops_sealed_ones(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, 5, writer="w1")
    write(path, 5, writer="w2")
    assert sorted(e["writer"] for e in head(path)) == ["w1", "w2"]  # type: ignore[type-var]
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:4] + lines[5:]))  # w1's last record
    first = verify(path, keys=KEYS).first
    assert first is not None
    assert (first.kind, first.writer, first.seq) == ("gap", "w1", 4)
    path.write_bytes(b"".join(lines))
    # A third writer seals the file: w1 and w2 are covered by the signed digest now.
    sink = JsonlFileSink(path, signer=HmacSigner(KEY, "k1"), writer_id="w3", repair_on_open=False)
    with AuditLogger(sink, service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"))
        sink.rotate()
    assert [e["writer"] for e in head(path)] == ["w3"]
    assert verify(path, keys=KEYS, require_checkpoint=True).ok


def test_durable_modes_update_the_head_after_the_fsync(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonlFileSink(path, signer=HmacSigner(KEY, "k1"), writer_id="w")
    synced: list[int] = []
    real = sink._sync

    def spy() -> None:
        real()
        synced.append(sink._seq)

    sink._sync = spy  # type: ignore[method-assign]
    with AuditLogger(sink, service="svc", durability=fsync_each()) as audit:
        for _ in range(3):
            audit.record("invoice.update", actor=Actor("u"))
            assert head(path)[0]["seq"] == synced[-1] - 1
    assert verify(path, keys=KEYS).ok


def test_a_head_that_cannot_be_written_never_fails_a_record(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.with_name("audit.jsonl.head").mkdir()  # writing the head fails
    sink = JsonlFileSink(path, signer=HmacSigner(KEY, "k1"))
    with AuditLogger(sink, service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"))
        audit.flush()
        assert "checkpoint" in str(audit.stats.last_error)
    assert len(path.read_bytes().splitlines()) == 1


@pytest.mark.parametrize("flag", [False, True])
def test_cli_require_checkpoint(tmp_path: Path, flag: bool) -> None:
    path = tmp_path / "audit.jsonl"
    write(path, signer=False, checkpoint=False)
    args = ["verify", str(path)] + (["--require-checkpoint"] if flag else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == (1 if flag else 0), result.output
    if flag:
        assert "head file is missing" in result.output


# -- databases: the checkpoint table signs each writer's chain end ------------------------------


def fill_db(sink: object, n: int = 12) -> None:
    with AuditLogger(sink, service="svc") as audit:  # type: ignore[arg-type]
        for i in range(n):
            audit.record("invoice.update", actor=Actor("u"), extra={"i": i})


def test_sqlite_checkpoint_detects_deleted_last_rows_and_a_rechained_history(tmp_path: Path) -> None:
    import sqlite3

    from maestro_audit_logger import SqliteSink

    db = tmp_path / "audit.db"
    fill_db(SqliteSink(db, signer=HmacSigner(KEY, "k1"), writer_id="w"))
    assert verify(db, keys=KEYS, require_checkpoint=True).ok
    conn = sqlite3.connect(db)
    (entry,) = [orjson.loads(e) for (e,) in conn.execute("SELECT entry FROM audit_events_heads")]
    assert (entry["writer"], entry["seq"], entry["file"]) == ("w", 11, "audit_events")
    conn.execute("DELETE FROM audit_events WHERE id > 10")
    conn.commit()
    report = verify(db, keys=KEYS)
    assert [(p.kind, p.file, p.line, p.seq) for p in report.problems] == [("gap", "audit_events", 11, 10)]
    conn.execute("UPDATE audit_events_heads SET entry = replace(entry, '\"seq\":11', '\"seq\":9')")
    conn.commit()
    forged = verify(db, keys=KEYS)
    assert [p.kind for p in forged.problems] == ["checkpoint_signature"]
    conn.execute("DELETE FROM audit_events_heads")
    conn.commit()
    conn.close()
    # An emptied checkpoint table next to rows is reported even without --require-checkpoint.
    emptied = verify(db, keys=KEYS)
    assert [(p.kind, p.file) for p in emptied.problems] == [("checkpoint", "audit_events_heads")]
    assert "empty while 1 writer(s) have rows" in emptied.problems[0].message
    assert [p.kind for p in verify(db, require_checkpoint=True).problems] == ["checkpoint"]


def test_sqlite_checkpoint_table_is_created_with_the_first_rows(tmp_path: Path) -> None:
    # A checkpointing sink that never writes leaves no (empty) table behind, so writers without
    # checkpoints sharing the database do not look like an emptied checkpoint table.
    import sqlite3

    from maestro_audit_logger import SqliteSink

    db = tmp_path / "audit.db"
    AuditLogger(SqliteSink(db, signer=HmacSigner(KEY, "k1"), writer_id="idle"), service="svc").close()
    fill_db(SqliteSink(db, writer_id="plain", checkpoint=False))
    with sqlite3.connect(db) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "audit_events_heads" not in names
    assert verify(db, keys=KEYS, allow_unsigned=True).ok
    assert [p.kind for p in verify(db, keys=KEYS).problems] == ["checkpoint"]  # keys given: unsigned fails
    fill_db(SqliteSink(db, signer=HmacSigner(KEY, "k1"), writer_id="signed"), n=3)
    report = verify(db, keys=KEYS, require_checkpoint=True, allow_unsigned=True)
    assert report.ok, report.problems
    unsigned = verify(db, keys=KEYS).problems  # the writer without a signer is covered by nothing signed
    assert [(p.kind, p.writer) for p in unsigned] == [("checkpoint", "plain")]


def test_sqlite_checkpoint_detects_a_rechained_history(tmp_path: Path) -> None:
    # Rewriting every record and recomputing every hash keeps the chain valid; only the signed
    # last hash gives it away.
    import sqlite3

    from maestro_audit_logger import SqliteSink

    db = tmp_path / "audit.db"
    fill_db(SqliteSink(db, signer=HmacSigner(KEY, "k1"), writer_id="w"))
    with sqlite3.connect(db) as conn:
        prev = "0" * 64
        for row_id, record in list(conn.execute("SELECT id, record FROM audit_events ORDER BY id")):
            body = record[: record.rfind(',"hash":')].replace('"u"', '"v"') + "}"
            body = body[:9] + prev + body[73:]
            prev = hashlib.sha256(body.encode()).hexdigest()
            line = body[:-1] + f',"hash":"{prev}"}}'
            conn.execute(  # the indexed columns too, as a careful attacker would
                "UPDATE audit_events SET record = ?, hash = ?, actor_id = 'v' WHERE id = ?", (line, prev, row_id)
            )
    assert [p.kind for p in verify(db, allow_unsigned=True).problems] == ["modified"]  # even unchecked
    report = verify(db, keys=KEYS)
    assert [(p.kind, p.line, p.seq) for p in report.problems] == [("modified", 12, 11)]


def test_sqlite_without_a_signer_keeps_an_unsigned_checkpoint_table(tmp_path: Path) -> None:
    # Unsigned entries prove nothing against an attacker, but catch an accidental truncation.
    import sqlite3

    from maestro_audit_logger import SqliteSink

    db = tmp_path / "audit.db"
    fill_db(SqliteSink(db, writer_id="w"))
    with sqlite3.connect(db) as conn:
        (entry,) = [orjson.loads(e) for (e,) in conn.execute("SELECT entry FROM audit_events_heads")]
    assert (entry["writer"], entry["seq"], entry["algorithm"]) == ("w", 11, "none")
    assert verify(db).ok
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit_events WHERE id > 10")
    conn.close()
    assert [(p.kind, p.seq) for p in verify(db).problems] == [("gap", 10)]


def test_postgres_checkpoint_detects_deleted_last_rows(postgres_dsn: str) -> None:
    psycopg = pytest.importorskip("psycopg")
    from maestro_audit_logger import PostgresSink

    fill_db(PostgresSink(postgres_dsn, signer=HmacSigner(KEY, "k1"), writer_id="w"))
    assert verify(postgres_dsn, keys=KEYS, require_checkpoint=True).ok
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM audit_events WHERE id > 9")
    report = verify(postgres_dsn, keys=KEYS)
    assert [(p.kind, p.seq, p.writer) for p in report.problems] == [("gap", 9, "w")]


def test_readers_and_the_cli_skip_the_head_file(tmp_path: Path) -> None:
    from maestro_audit_logger import AuditReader

    path = tmp_path / "audit.jsonl"
    write(path, 7)
    assert path.with_name("audit.jsonl.head").exists()
    assert len(list(AuditReader(tmp_path).records())) == 7
    result = CliRunner().invoke(main, ["verify", str(tmp_path), "--json", "--allow-unsigned"])
    assert result.exit_code == 0, result.output
    assert "signatures not checked: no verification keys given" in orjson.loads(result.output)["warnings"]


def test_a_shrinking_head_is_padded_never_truncated(tmp_path: Path) -> None:
    # Pruning at rotation shortens the content; the file keeps its size (trailing spaces), so a
    # writer killed mid-rewrite never leaves old bytes glued to new ones.
    path = tmp_path / "audit.jsonl"
    write(path, 3, writer="w1")
    write(path, 3, writer="w2")
    hpath = path.with_name("audit.jsonl.head")
    size = hpath.stat().st_size
    sink = JsonlFileSink(path, signer=HmacSigner(KEY, "k1"), writer_id="w3", repair_on_open=False)
    with AuditLogger(sink, service="svc") as audit:
        audit.record("invoice.update", actor=Actor("u"))
        sink.rotate()
    assert hpath.stat().st_size >= size
    assert hpath.read_bytes().rstrip(b" ").count(b"\n") == 1
    assert [e["writer"] for e in head(path)] == ["w3"]
    assert verify(path, keys=KEYS, require_checkpoint=True).ok


def _child_writes(path: str, writer: str) -> None:
    write(Path(path), 40, writer=writer)


def test_processes_sharing_a_file_keep_their_own_head_entries(tmp_path: Path) -> None:
    import multiprocessing

    path = tmp_path / "audit.jsonl"
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child_writes, args=(str(path), f"p{n}")) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    assert sorted((e["writer"], e["seq"]) for e in head(path)) == [("p0", 39), ("p1", 39), ("p2", 39)]  # type: ignore[type-var]
    report = verify(path, keys=KEYS, require_checkpoint=True)
    assert report.ok, report.problems
    assert (report.records, report.writers) == (120, 3)


def test_postgres_fresh_unsigned_history_fails_verify_with_keys(postgres_dsn: str) -> None:
    # An attacker with write access to the tables and no key replaces the history, using the
    # library itself: the checkpoint rows it writes are unsigned.
    psycopg = pytest.importorskip("psycopg")
    from maestro_audit_logger import PostgresSink

    fill_db(PostgresSink(postgres_dsn, signer=HmacSigner(KEY, "k1"), writer_id="w"))
    assert verify(postgres_dsn, keys=KEYS).ok
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM audit_events")
        conn.execute("DELETE FROM audit_events_heads")
    fill_db(PostgresSink(postgres_dsn, writer_id="w"), n=3)
    assert verify(postgres_dsn, allow_unsigned=True).ok  # the chains alone cannot tell
    report = verify(postgres_dsn, keys=KEYS)
    assert [(p.kind, p.file) for p in report.problems] == [("checkpoint_signature", "audit_events_heads")]
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE audit_events_heads")
    assert [p.kind for p in verify(postgres_dsn, keys=KEYS).problems] == ["checkpoint"]
