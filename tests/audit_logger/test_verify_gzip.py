"""`verify` reads logrotate's gzip-compressed files, as the readers do (one `open_log`)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from click.testing import CliRunner

from maestro_audit_logger import Actor, AuditLogger, AuditReader, AuditReadError, verify
from maestro_audit_logger.cli import main


def _log(path: Path, n: int) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    with AuditLogger(path, service="billing") as audit:
        for i in range(n):
            audit.record("invoice.update", actor=Actor("u-1"), extra={"i": i})
    return path.read_bytes()


def _gzip(data: bytes, path: Path) -> Path:
    with gzip.open(path, "wb") as fh:
        fh.write(data)
    return path


def test_verify_reads_a_gzip_rotated_log(tmp_path: Path) -> None:
    rotated = _gzip(_log(tmp_path / "src" / "audit.jsonl", 5), tmp_path / "audit.jsonl.1.gz")
    report = verify(rotated)
    assert report.ok, report.problems
    assert report.records == 5
    assert [r["extra"]["i"] for r in AuditReader(rotated).query()] == [0, 1, 2, 3, 4]
    result = CliRunner().invoke(main, ["verify", str(rotated)])
    assert result.exit_code == 0, result.output


def test_an_edited_record_inside_a_gzip_file_is_found(tmp_path: Path) -> None:
    data = _log(tmp_path / "src" / "audit.jsonl", 5)
    assert b'"i":2' in data
    rotated = _gzip(data.replace(b'"i":2', b'"i":7'), tmp_path / "audit.jsonl.1.gz")
    report = verify(rotated)
    assert not report.ok
    assert report.first is not None
    assert report.first.kind == "modified"
    result = CliRunner().invoke(main, ["verify", str(rotated)])
    assert result.exit_code == 1, result.output


def test_a_directory_with_gzip_rotations_is_verified_whole(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    _gzip(_log(tmp_path / "a" / "audit.jsonl", 4), logs / "audit.jsonl.2.gz")
    _gzip(_log(tmp_path / "b" / "audit.jsonl", 3), logs / "audit.jsonl.1.gz")
    _log(logs / "audit.jsonl", 2)
    report = verify(logs)
    assert report.ok, report.problems
    assert report.records == 9
    assert not [w for w in report.warnings if "not an audit log" in w]


def test_a_truncated_gzip_file_is_a_typed_read_error(tmp_path: Path) -> None:
    rotated = _gzip(_log(tmp_path / "src" / "audit.jsonl", 50), tmp_path / "audit.jsonl.1.gz")
    data = rotated.read_bytes()
    rotated.write_bytes(data[: len(data) // 2])
    with pytest.raises(AuditReadError, match="gzip"):
        verify(rotated)
