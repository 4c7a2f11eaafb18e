"""`verify`'s progress counts the bytes it reads on disk (a ``.gz`` file's compressed bytes),
from the start of the whole verify, and the CLI's bar total is those same files: the bar ends
at 100%, never past it, and never goes back."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from maestro_audit_logger import Actor, AuditLogger, JsonlFileSink, verify
from maestro_audit_logger.cli import _source_bytes


def _log(path: Path, n: int, **sink: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with AuditLogger(JsonlFileSink(path, **sink), service="billing") as audit:  # type: ignore[arg-type]
        for i in range(n):
            audit.record("invoice.update", actor=Actor("u-1"), extra={"i": i, "pad": "x" * 200})


def _gzip(plain: Path) -> Path:
    target = plain.with_name(plain.name + ".gz")
    with gzip.open(target, "wb") as fh:
        fh.write(plain.read_bytes())
    plain.unlink()
    return target


def _progress(source: Path) -> list[int]:
    seen: list[int] = []
    report = verify(source, progress=seen.append)
    assert report.ok, report.problems
    return seen


def _on_disk(*files: Path) -> int:
    return sum(f.stat().st_size for f in files)


def test_a_gzip_source_ends_at_its_compressed_size(tmp_path: Path) -> None:
    plain = tmp_path / "src" / "audit.jsonl"
    _log(plain, 2000)
    rotated = _gzip(plain.rename(tmp_path / "audit.jsonl.1"))
    seen = _progress(rotated)
    total = _source_bytes(str(rotated))
    assert total == rotated.stat().st_size
    assert seen == sorted(seen)
    assert seen[-1] == total  # it was the decompressed size, several times the total


def test_a_directory_counts_every_family_once_from_the_start(tmp_path: Path) -> None:
    # Two logs, one with logrotate's compressed rotations and sealed segments of its own: the
    # count goes on from one file and family to the next (it restarted at 0 for each family)
    # and the total leaves out head, digest and lock files (the bar stopped short of 100%).
    logs = tmp_path / "logs"
    _log(logs / "audit.jsonl", 500)
    os.rename(logs / "audit.jsonl", logs / "audit.jsonl.1")
    _gzip(logs / "audit.jsonl.1")
    _log(logs / "audit.jsonl", 300)
    _log(logs / "sealed.jsonl", 400, rotate_bytes=32 * 1024, seal_on_close=True)
    seen = _progress(logs)
    total = _source_bytes(str(logs))
    assert seen == sorted(seen)
    assert seen[-1] == total
    files = [p for p in logs.iterdir() if not p.name.endswith((".head", ".digest", ".lock"))]
    assert total == _on_disk(*files)
    assert len(files) > 4  # segments, a rotation, two active files


def test_a_file_source_counts_its_rotations_or_segments(tmp_path: Path) -> None:
    sealed = tmp_path / "sealed" / "audit.jsonl"
    _log(sealed, 400, rotate_bytes=16 * 1024)
    rotated = tmp_path / "rotated" / "audit.jsonl"
    _log(rotated, 300)
    os.rename(rotated, rotated.with_name("audit.jsonl.2"))
    _gzip(rotated.with_name("audit.jsonl.2"))
    _log(rotated, 200)
    os.rename(rotated, rotated.with_name("audit.jsonl.1"))
    _log(rotated, 50)
    for active in (sealed, rotated):
        seen = _progress(active)
        assert seen == sorted(seen)
        assert seen[-1] == _source_bytes(str(active))
        files = [p for p in active.parent.iterdir() if not p.name.endswith((".head", ".digest", ".lock"))]
        assert len(files) >= 3
        assert seen[-1] == _on_disk(*files)
