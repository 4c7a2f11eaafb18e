"""logrotate's rotations (``audit.jsonl`` renamed to ``audit.jsonl.1``, older ones shifted to
``.2``, ``compress`` leaving ``.N.gz``) belong to the active file's log: verify and the readers
read them with it, so the head file naming records that moved to ``.1`` is no false ``gap``.

Every rotation here is a real ``os.rename`` (and real gzip), as logrotate does it."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

from click.testing import CliRunner

from maestro_audit_logger import Actor, AuditLogger, AuditReader, JsonlFileSink, verify
from maestro_audit_logger.cli import main


def _write(audit: AuditLogger, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        audit.record("invoice.update", actor=Actor("u-1"), extra={"i": i})


def _logrotate(
    active: Path, *, keep: int = 9, compress: bool = False, delay: bool = False, create: bool = True
) -> None:
    """What logrotate does (without copytruncate): shift ``.N`` to ``.N+1`` (oldest first,
    dropping past ``keep``), rename the live file to ``.1``, create a new empty one, and with
    ``compress`` gzip the rotations (all but ``.1`` with ``delay``, as ``delaycompress``)."""
    d, name = active.parent, active.name
    for n in range(keep, 0, -1):
        for suffix in ("", ".gz"):
            src = d / f"{name}.{n}{suffix}"
            if src.exists():
                if n == keep:
                    src.unlink()
                else:
                    os.rename(src, d / f"{name}.{n + 1}{suffix}")
    os.rename(active, d / f"{name}.1")
    if create:
        active.touch()
    if compress:
        for n in range(2 if delay else 1, keep + 1):
            plain = d / f"{name}.{n}"
            if plain.exists():
                with gzip.open(d / f"{name}.{n}.gz", "wb") as fh:
                    fh.write(plain.read_bytes())
                plain.unlink()


def _ok(source: Path, records: int) -> None:
    report = verify(source)
    assert report.ok, report.problems
    assert report.records == records
    result = CliRunner().invoke(main, ["verify", str(source)])
    assert result.exit_code == 0, result.output


def test_a_rename_while_closed_then_a_new_writer_is_no_gap(tmp_path: Path) -> None:
    active = tmp_path / "audit.jsonl"
    with AuditLogger(active, service="billing") as audit:
        _write(audit, 3)
    _logrotate(active, create=False)
    _ok(tmp_path, 3)  # only audit.jsonl.1 and the head file are left
    _ok(active, 3)  # the active file's name: its rotations are read with it
    with AuditLogger(active, service="billing") as audit:
        _write(audit, 2, 3)
    _ok(tmp_path, 5)
    _ok(active, 5)
    assert [r["extra"]["i"] for r in AuditReader(tmp_path).query()] == [0, 1, 2, 3, 4]
    assert [r["extra"]["i"] for r in AuditReader(active).query()] == [0, 1, 2, 3, 4]


def test_a_writer_that_keeps_its_renamed_file_is_no_gap(tmp_path: Path) -> None:
    # A sink without rotation of its own keeps appending to its descriptor (now ``.1``) after
    # logrotate renamed the file and created an empty new one (logrotate's ``create``).
    active = tmp_path / "audit.jsonl"
    audit = AuditLogger(active, service="billing")
    _write(audit, 3)
    _logrotate(active)
    _write(audit, 2, 3)
    _ok(tmp_path, 5)
    audit.close()
    with AuditLogger(active, service="billing") as audit2:  # the service restarts
        _write(audit2, 2, 5)
    _ok(tmp_path, 7)
    _ok(active, 7)


def test_a_writer_that_follows_the_rename_is_no_gap(tmp_path: Path) -> None:
    # A rotating sink notices the rename and continues its chain in the new file.
    active = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(active, rotate_bytes=1 << 30), service="billing")
    _write(audit, 3)
    _logrotate(active)
    _write(audit, 2, 3)
    assert active.read_bytes().count(b"\n") == 2  # it did follow
    _ok(tmp_path, 5)
    _ok(active, 5)
    audit.close()


def test_compressed_rotations_are_no_gap(tmp_path: Path) -> None:
    active = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(active, rotate_bytes=1 << 30), service="billing")
    _write(audit, 3)
    _logrotate(active, compress=True, delay=True)
    _write(audit, 3, 3)
    _logrotate(active, compress=True, delay=True)  # .2.gz, .1, new file
    _write(audit, 2, 6)
    assert sorted(p.name for p in tmp_path.iterdir() if "jsonl." in p.name and p.name[-1] != "k") == [
        "audit.jsonl.1",
        "audit.jsonl.2.gz",
        "audit.jsonl.head",
    ]
    _ok(tmp_path, 8)
    _logrotate(active, compress=True)  # .3.gz, .2.gz, .1.gz
    _ok(tmp_path, 8)
    _ok(active, 8)
    assert [r["extra"]["i"] for r in AuditReader(tmp_path).query()] == list(range(8))
    audit.close()


def test_records_deleted_from_a_rotation_are_still_found(tmp_path: Path) -> None:
    active = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(active, rotate_bytes=1 << 30), service="billing")
    _write(audit, 4)
    _logrotate(active)
    _write(audit, 2, 4)
    audit.close()
    rotated = tmp_path / "audit.jsonl.1"
    lines = rotated.read_bytes().splitlines(keepends=True)
    rotated.write_bytes(b"".join(lines[:2]))  # the last two records of .1 removed
    report = verify(tmp_path)
    assert [p.kind for p in report.problems] == ["gap"]
    assert report.problems[0].file == "audit.jsonl"


def test_an_emptied_active_file_in_a_directory_is_a_gap(tmp_path: Path) -> None:
    # The head file makes it a log: emptying the active file is found in a directory too
    # (it was "holds no audit log").
    active = tmp_path / "audit.jsonl"
    with AuditLogger(active, service="billing") as audit:
        _write(audit, 3)
    active.write_bytes(b"")
    report = verify(tmp_path)
    assert [p.kind for p in report.problems] == ["gap"]


def test_logrotate_retention_is_a_warning_not_a_gap(tmp_path: Path) -> None:
    # logrotate's ``rotate N`` deletes the oldest rotation: the writer's chain then starts
    # mid-way in the oldest file left. Nothing can tell that from a deletion, so it is said,
    # not reported as a gap; records missing anywhere later still are.
    active = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(active, rotate_bytes=1 << 30), service="billing")
    for round_ in range(4):
        _write(audit, 2, 2 * round_)
        _logrotate(active, keep=2, compress=True)
    _write(audit, 1, 8)
    audit.close()
    assert not (tmp_path / "audit.jsonl.3.gz").exists()
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert report.records == 5
    assert any("rotated away" in w for w in report.warnings), report.warnings


def test_verify_during_logrotate_rotations_sees_no_false_alarm(tmp_path: Path) -> None:
    # A writer records and logrotate rotates (with compress) in a loop while verify runs on
    # the directory: every verify must pass. Bounded by counts, not time.
    active = tmp_path / "audit.jsonl"
    audit = AuditLogger(JsonlFileSink(active, rotate_bytes=1 << 30), service="billing")
    _write(audit, 5)
    stop = threading.Event()
    rounds = [0]
    failures: list[BaseException] = []

    def rotate() -> None:
        try:
            i = 5
            while not stop.is_set() and rounds[0] < 30:  # fewer than keep: logrotate deletes nothing
                _write(audit, 5, i)
                i += 5
                _logrotate(active, keep=50, compress=True, delay=True)
                rounds[0] += 1
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    worker = threading.Thread(target=rotate)
    worker.start()
    try:
        verified = 0
        while verified < 40 and not failures:
            report = verify(tmp_path)
            assert report.ok, report.problems
            verified += 1
    finally:
        stop.set()
        worker.join()
        audit.close()
    assert not failures, failures
    assert rounds[0] > 0
    _ok(tmp_path, 5 + 5 * rounds[0])


def test_a_log_whose_name_ends_in_digits_is_not_a_rotation(tmp_path: Path) -> None:
    # ``audit.2024`` with its own head file is a log of its own, verified once, not a
    # rotation of a log named ``audit``.
    with AuditLogger(tmp_path / "audit.2024", service="billing") as audit:
        _write(audit, 3)
    with AuditLogger(tmp_path / "audit", service="billing") as audit:
        _write(audit, 2)
    report = verify(tmp_path)
    assert report.ok, report.problems
    assert report.records == 5
    assert len(list(AuditReader(tmp_path / "audit").query())) == 2
