"""Rows of a SQLite or PostgreSQL audit store, read in insertion order: what `AuditReader`
and `verify` both read from a database."""

# ruff: noqa: PLC0415  # the database drivers are imported where used; one function per driver pair

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from maestro_audit_logger._dbseal import seals_table
from maestro_audit_logger._errors import AuditReadError
from maestro_audit_logger._sources import where
from maestro_audit_logger.sinks.database import COLUMNS, DEFAULT_TABLE, check_table, heads_table


def database_heads(source: str, *, table: str = DEFAULT_TABLE) -> list[str] | None:
    """The signed checkpoint entries (``<table>_heads``) of a database, or None without that table."""
    return _entries(source, f"SELECT entry FROM {heads_table(check_table(table))} ORDER BY writer")  # noqa: S608


def database_seals(source: str, *, table: str = DEFAULT_TABLE) -> list[str] | None:
    """The timed seal entries (``<table>_seals``, oldest first) of a database, or None without that table."""
    return _entries(source, f"SELECT entry FROM {seals_table(check_table(table))} ORDER BY id")  # noqa: S608


def open_postgres(dsn: str) -> Any:
    """A psycopg connection for reading (the ``postgres`` extra), or `AuditReadError` naming why not."""
    from maestro_audit_logger.sinks.postgres import _psycopg

    psycopg = _psycopg()
    try:
        return psycopg.connect(dsn, connect_timeout=5)
    except psycopg.Error as exc:
        raise AuditReadError(f"cannot connect to PostgreSQL: {exc}") from None


def open_sqlite_readonly(path: str) -> sqlite3.Connection:
    """A read-only connection to an existing SQLite file (never creates one), or `AuditReadError`."""
    if not Path(path).is_file():
        raise AuditReadError(f"{path} does not exist")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _entries(source: str, sql: str) -> list[str] | None:
    """The one text column ``sql`` selects, or None when its table does not exist."""
    place = where(source)
    if place.kind == "postgresql":
        from maestro_audit_logger.sinks.postgres import _psycopg

        psycopg = _psycopg()
        conn = open_postgres(source)
        try:
            try:
                return [entry for (entry,) in conn.execute(sql)]
            except psycopg.errors.UndefinedTable:
                return None
        finally:
            conn.close()
    path = place.location
    conn2 = open_sqlite_readonly(path)
    try:
        return [entry for (entry,) in conn2.execute(sql)]
    except sqlite3.OperationalError:
        return None  # no such table
    except sqlite3.DatabaseError as exc:
        raise AuditReadError(f"{path} is not an audit database: {exc}") from None
    finally:
        conn2.close()


def database_rows(
    source: str, *, progress: Callable[[int], None] | None = None, table: str = DEFAULT_TABLE, after: int = -1
) -> Iterator[tuple[str, int, bytes]]:
    """(table, row id, stored line) of every row after row id ``after``, in insertion order."""
    for ids, lines in database_chunks(source, size=1024, progress=progress, table=table, after=after):
        for row_id, line in zip(ids, lines, strict=True):
            yield table, row_id, line


def database_chunks(
    source: str,
    *,
    size: int,
    progress: Callable[[int], None] | None = None,
    table: str = DEFAULT_TABLE,
    after: int = -1,
    columns: list[list[tuple[Any, ...]]] | None = None,
) -> Iterator[tuple[list[int], list[bytes]]]:
    """The rows after row id ``after`` in insertion order, in chunks of up to ``size`` rows:
    (row ids, stored lines), fetched with ``fetchmany``; ``progress`` gets the rows read so far.

    ``columns``: a list that receives, before each chunk is yielded, that chunk's indexed column
    values (`maestro_audit_logger.sinks.database.COLUMNS` but ``record``) as one tuple per row (in its slot 0)."""
    check_table(table)
    extra = ", " + ", ".join(COLUMNS[:-1]) if columns is not None else ""
    pg_sql = f"SELECT id, record{extra} FROM {table} WHERE id > %s ORDER BY id"  # noqa: S608
    done = 0
    place = where(source)
    if place.kind == "postgresql":
        from maestro_audit_logger.sinks.postgres import _psycopg

        psycopg = _psycopg()
        conn = open_postgres(source)
        try:
            with conn.cursor(name="maestro_audit_verify") as cur:
                try:
                    cur.execute(pg_sql, (after,))
                    while rows := cur.fetchmany(size):
                        done += len(rows)
                        if progress is not None:
                            progress(done)
                        if columns is not None:
                            columns[:] = [[r[2:] for r in rows]]
                        yield [r[0] for r in rows], [r[1].encode() for r in rows]
                except psycopg.errors.UndefinedTable:
                    raise AuditReadError(f"the database has no {table} table: not an audit store") from None
        finally:
            conn.close()
        return
    path = place.location
    conn2 = open_sqlite_readonly(path)
    try:
        try:
            # The stored text as bytes straight from SQLite (no str decode and encode per row),
            # when the database stores text as UTF-8 (the default; CAST would give UTF-16 bytes).
            utf8 = conn2.execute("PRAGMA encoding").fetchone()[0] == "UTF-8"
            column = "CAST(record AS BLOB)" if utf8 else "record"
            cur2 = conn2.execute(f"SELECT id, {column}{extra} FROM {table} WHERE id > ? ORDER BY id", (after,))  # noqa: S608
        except sqlite3.DatabaseError as exc:
            raise AuditReadError(f"{path} is not an audit database: {exc}") from None
        while rows2 := cur2.fetchmany(size):
            done += len(rows2)
            if progress is not None:
                progress(done)
            if columns is not None:
                columns[:] = [[r[2:] for r in rows2]]
            yield [r[0] for r in rows2], [r[1] if utf8 else r[1].encode() for r in rows2]
    finally:
        conn2.close()
