"""One answer to "what kind of source is this path": `make_sink` writes, and `AuditReader`,
`verify` and the CLI read, the same path as the same thing."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from maestro_audit_logger import Actor, AuditLogger, AuditReader, JsonlFileSink, SqliteSink, verify
from maestro_audit_logger._logger import make_sink
from maestro_audit_logger._sources import where
from maestro_audit_logger.cli import main

_SQLITE_HEADER = b"SQLite format 3\x00"


def _write_three(sink: object) -> None:
    with AuditLogger(sink, service="billing") as audit:  # type: ignore[arg-type]
        for i in range(3):
            audit.record("invoice.update", actor=Actor("u-1"), extra={"i": i})


@pytest.mark.parametrize("name", ["audit.db", "audit.sqlite", "audit.sqlite3"])
@pytest.mark.parametrize("as_path", [False, True])
def test_make_sink_and_the_readers_agree_that_a_new_db_path_is_sqlite(tmp_path: Path, name: str, as_path: bool) -> None:
    target: str | Path = tmp_path / name if as_path else str(tmp_path / name)
    sink = make_sink(target)
    assert isinstance(sink, SqliteSink)  # before: a JsonlFileSink, and the readers opened SQLite
    _write_three(sink)
    assert (tmp_path / name).read_bytes()[:16] == _SQLITE_HEADER  # written as SQLite, not JSONL
    assert where(target).kind == "sqlite"
    assert [r["extra"]["i"] for r in AuditReader(target).query()] == [0, 1, 2]
    report = verify(target)
    assert report.ok, report.problems
    result = CliRunner().invoke(main, ["verify", os.fspath(target)])
    assert result.exit_code == 0, result.output


def test_an_existing_jsonl_log_named_audit_db_stays_a_jsonl_log_everywhere(tmp_path: Path) -> None:
    """A log an earlier version wrote as JSONL under a ``.db`` name is read by its content."""
    path = tmp_path / "audit.db"
    _write_three(JsonlFileSink(path))
    assert path.read_bytes().startswith(b"{")
    assert where(path).kind == "files"
    sink = make_sink(path)
    assert isinstance(sink, JsonlFileSink)
    sink.close()
    _write_three(str(path))  # appended to as JSONL, not opened as a database
    assert len(list(AuditReader(path).query())) == 6
    report = verify(path)
    assert report.ok, report.problems
    result = CliRunner().invoke(main, ["verify", str(path)])
    assert result.exit_code == 0, result.output


def test_a_sqlite_database_under_any_name_is_read_as_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "audit-store"
    _write_three(SqliteSink(path))
    assert where(path).kind == "sqlite"
    sink = make_sink(str(path))
    assert isinstance(sink, SqliteSink)
    sink.close()
    assert len(list(AuditReader(path).query())) == 3
    assert verify(path).ok
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone() == (3,)


def test_urls_and_streams_are_classified_by_their_prefix() -> None:
    assert where("sqlite://x/audit.jsonl").kind == "sqlite"
    assert where("sqlite://x/audit.jsonl").location == "x/audit.jsonl"
    assert where("postgres://u@h/db").kind == "postgresql"
    assert where("-").location == "stdout"
    assert where("stderr").kind == "stream"
    assert where(Path("-")).kind == "files"  # a file named "-", given as a path
