"""`AuditReader`: stream and filter events from JSONL files, SQLite or PostgreSQL."""

# ruff: noqa: PLC0415, PLR0912, PLR0917  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from maestro_audit_logger._clock import TimeLike, to_iso
from maestro_audit_logger._dbquery import indexed_where, record_where
from maestro_audit_logger._dbrows import database_rows, open_postgres, open_sqlite_readonly
from maestro_audit_logger._errors import AuditConfigError, AuditReadError
from maestro_audit_logger._logfiles import last_lines, open_log, rotation_order, rotations
from maestro_audit_logger._segments import list_units
from maestro_audit_logger._sources import families, family_files, is_audit_family, where
from maestro_audit_logger.sinks.database import DEFAULT_TABLE, check_table


def _open_inode(path: Path, inode: int | None) -> BinaryIO | None:
    """``path`` opened for reading (only if it is still file ``inode``, when given), or None."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return None
    if inode is not None and os.fstat(fh.fileno()).st_ino != inode:
        fh.close()
        return None
    return fh


def _open_segment(active: Path, inode: int) -> BinaryIO | None:
    """The sealed segment of ``active`` that is file ``inode``, opened, or None if it is gone."""
    for name in reversed(list_units(active)):  # the newest segment first
        try:
            fh = active.with_name(name).open("rb")
        except (FileNotFoundError, IsADirectoryError):  # a digest without its segment, or pruned
            continue
        if os.fstat(fh.fileno()).st_ino == inode:
            return fh
        fh.close()
    return None


def _rotated(path: Path, fh: BinaryIO) -> bool:
    """Whether ``path`` names another file than ``fh`` now (the followed file was rotated)."""
    try:
        return os.stat(path).st_ino != os.fstat(fh.fileno()).st_ino
    except FileNotFoundError:
        return True


def _read_from(fh: BinaryIO, offset: int) -> bytes:
    fh.seek(offset)
    return fh.read()


def _segments_after(active: Path, inode: int, until: int | None) -> Iterator[bytes]:
    """The whole content of each sealed segment of ``active`` newer than the segment that is
    file ``inode``, oldest first, stopping at file ``until`` (the active file we now hold: it
    may itself have been rotated meanwhile). Nothing when segment ``inode`` is gone (pruned)."""
    found = False
    for name in list_units(active):
        try:
            with active.with_name(name).open("rb") as fh:
                ino = os.fstat(fh.fileno()).st_ino
                if ino == until:
                    return
                if found:
                    yield fh.read()
                found = found or ino == inode
        except (FileNotFoundError, IsADirectoryError):  # a digest without its segment, or pruned
            continue


def parse_record(raw: bytes) -> dict[str, Any] | str:
    """A stored line parsed as an audit record, or why it is not one."""
    try:
        record = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "not JSON (a torn or garbage line)"
    if not isinstance(record, dict) or "action" not in record or "event_id" not in record:
        return "not an audit record"
    return record


#: Lines that are not audit records a reader skips (and reports) before it refuses a file
#: that has given no record at all.
MAX_BAD_LINES = 100


class AuditReader:
    """Streams stored events, filtered, from a JSONL file (with its sealed segments), a
    directory, a SQLite database (``sqlite://PATH`` or a ``.db``/``.sqlite`` file) or a
    ``postgresql://`` DSN.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, AuditReader
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> with AuditLogger(path, service="billing") as audit:
        ...     for outcome in ("success", "failure", "failure"):
        ...         event_id = audit.record("invoice.pay", actor=Actor("u-1"), outcome=outcome)
        ...     event_id = audit.record("auth.login", actor=Actor("u-2"), outcome="failure")
        >>> [r["action"] for r in AuditReader(path).query(action="invoice.*", outcome="failure")]
        ['invoice.pay', 'invoice.pay']
    """

    def __init__(self, source: str | os.PathLike[str], *, table: str = DEFAULT_TABLE) -> None:
        self.source = os.fspath(source)
        self.table = check_table(table)
        self._where = where(self.source)
        #: Lines skipped because they are not audit records (a line torn by a writer killed
        #: mid-write, garbage): how many, and the first few as ``file:line: why``.
        self.skipped = 0
        self.skipped_lines: list[str] = []
        if not self._where.is_database:
            path = Path(self.source)
            if not path.exists() and not list_units(path) and not rotations(path):
                raise AuditReadError(f"{path} does not exist")

    # -- files -------------------------------------------------------------------------------
    def _files(self) -> list[Path]:
        """The files to read, oldest first (logrotate's ``name.2.gz``, ``name.1``, ``name``)."""
        path = Path(self.source)
        if path.is_dir():
            out: list[Path] = []
            for family in rotation_order(families(path)):
                if is_audit_family(family):
                    out.extend(self._family_files(family))
            return out
        return self._family_files(path)

    @staticmethod
    def _family_files(active: Path) -> list[Path]:
        return family_files(active)

    def _skip(self, where: str, why: str) -> None:
        self.skipped += 1
        if len(self.skipped_lines) < 10:
            self.skipped_lines.append(f"{where}: {why}")

    def records(self) -> Iterator[dict[str, Any]]:
        """Every stored record (with its integrity members), oldest first.

        A line that is not an audit record (torn by a writer killed mid-write, or garbage) is
        skipped and counted in `skipped` / `skipped_lines`; a torn last line is left for the
        writer to finish or repair. `verify` reports such lines.

        Raises:
            AuditReadError: a file is not an audit log (no record, only lines that are not).
        """
        if self._where.is_database:
            for table, row_id, line in database_rows(self.source, table=self.table):
                parsed = parse_record(line)
                if isinstance(parsed, str):
                    self._skip(f"{table} row {row_id}", parsed)
                    continue
                yield parsed
            return
        for path in self._files():
            with open_log(path) as fh:
                good = bad = 0
                first = ""
                for number, raw in enumerate(fh, 1):
                    if not raw.endswith(b"\n"):
                        break  # a torn tail
                    if raw == b"\n":
                        continue
                    parsed = parse_record(raw)
                    if isinstance(parsed, str):
                        bad += 1
                        if not good and bad >= MAX_BAD_LINES:
                            raise AuditReadError(f"{path} is not an audit log: line {number} is {parsed}")
                        first = first or f"line {number} is {parsed}"
                        self._skip(f"{path}:{number}", parsed)
                        continue
                    good += 1
                    yield parsed
                if bad and not good:
                    raise AuditReadError(f"{path} is not an audit log: no line is an audit record ({first})")

    def last(self, count: int) -> list[dict[str, Any]]:
        """The last ``count`` records, oldest first, read from the end of the newest files (a
        log's size does not matter); a database returns its last rows by id.

        Examples:
            >>> import tempfile
            >>> from pathlib import Path
            >>> from maestro_audit_logger import Actor, AuditLogger, AuditReader
            >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
            >>> with AuditLogger(path, service="billing") as audit:
            ...     for i in range(5):
            ...         event_id = audit.record("invoice.update", actor=Actor(f"u-{i}"))
            >>> [r["actor"]["id"] for r in AuditReader(path).last(2)]
            ['u-3', 'u-4']
        """
        if count <= 0:
            return []
        if self._where.is_database:
            from collections import deque

            return list(deque(self.records(), maxlen=count))
        found: list[dict[str, Any]] = []
        files = self._files()
        for index in range(len(files) - 1, -1, -1):
            path = files[index]
            newest = index == len(files) - 1
            need = want = count - len(found)
            while True:  # more lines when some were not records
                lines = last_lines(path, want, drop_torn=newest)
                results = [parse_record(raw) for raw in lines]
                parsed = [r for r in results if not isinstance(r, str)]
                if len(parsed) >= need or len(lines) < want:
                    break
                want += need
            for why in results:
                if isinstance(why, str):
                    self._skip(str(path), why)
            found[:0] = parsed
            if len(found) >= count:
                break
        return found[-count:]

    def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        outcome: str | None = None,
        tenant: str | None = None,
        since: TimeLike = None,
        until: TimeLike = None,
        text: str | None = None,
        event_id: str | None = None,
        limit: int | None = None,
        indexed: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Stream matching records, oldest first.

        Every filter is checked on the stored record itself (what the hash chain covers). In a
        database the filters run inside the database on the record (a full scan in C), so an
        edited indexed column can neither hide an event nor make one match; ``indexed=True``
        filters on the indexed columns instead (fast on large tables, but an edited column can
        hide an event: run `verify` first, which reports such an edit as ``column_mismatch``).

        Args:
            actor: the actor id.
            action: an exact action, or a prefix ending in ``*`` (``invoice.*``).
            target: ``type:id`` or just an id.
            outcome: ``success``, ``failure`` or ``unknown``.
            tenant: the tenant.
            since: the earliest time (inclusive): datetime, ISO string or ns.
            until: the latest time (exclusive).
            text: a case-insensitive substring of the whole record.
            event_id: one event's id.
            limit: stop after this many records.
            indexed: databases only: narrow by the indexed columns (trusts them) instead of the
                records.
        """
        lo = to_iso(since, "since")
        hi = to_iso(until, "until")
        matches = _matcher(actor, action, target, outcome, tenant, lo, hi, text, event_id)
        if self._where.is_database:
            # The database narrows the rows down (on the records, or the columns if `indexed`);
            # each record is then checked itself, so no edited column makes a search lie.
            rows = self._query_db(actor, action, target, outcome, tenant, lo, hi, text, event_id, indexed)
            yield from itertools.islice(filter(matches, rows), limit)
            return
        yield from itertools.islice(filter(matches, self.records()), limit)

    def _query_db(
        self,
        actor: str | None,
        action: str | None,
        target: str | None,
        outcome: str | None,
        tenant: str | None,
        lo: str | None,
        hi: str | None,
        text: str | None,
        event_id: str | None,
        indexed: bool,
    ) -> Iterator[dict[str, Any]]:
        pg = self._where.kind == "postgresql"
        filters = {
            "event_id": event_id,
            "actor": actor,
            "action": action,
            "outcome": outcome,
            "tenant": tenant,
            "since": lo,
            "until": hi,
            "target": target,
            "text": text,
        }
        where, args = (indexed_where if indexed else record_where)(filters, pg=pg)
        sql = f"SELECT record FROM {self.table}"  # noqa: S608 - checked identifier, bound values
        if pg and where and not indexed:
            sql = f"SELECT record FROM (SELECT id, record, record::jsonb AS j FROM {self.table}) AS r"  # noqa: S608
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id"  # no LIMIT: rows failing the re-check on their record must not count
        if pg:
            from maestro_audit_logger.sinks.postgres import _psycopg

            psycopg = _psycopg()
            conn = open_postgres(self.source)
            try:
                with conn.cursor(name="maestro_audit_query") as cur:
                    try:
                        cur.execute(sql, args)
                        for (record,) in cur:
                            yield orjson.loads(record)
                    except psycopg.errors.UndefinedTable:
                        raise AuditReadError(f"the database has no {self.table} table: not an audit store") from None
                    except psycopg.errors.DataError as exc:
                        raise AuditReadError(
                            f"{self.table} holds a record that is not JSON ({exc}): run verify"
                        ) from None
            finally:
                conn.close()
            return
        import sqlite3

        path = self._where.location
        conn2 = open_sqlite_readonly(path)
        try:
            try:
                cur2 = conn2.execute(sql, args)
            except sqlite3.DatabaseError as exc:
                raise AuditReadError(f"{path} is not an audit database: {exc}") from None
            try:
                for (record,) in cur2:
                    yield orjson.loads(record)
            except sqlite3.OperationalError as exc:  # json_extract on a record that is not JSON
                raise AuditReadError(
                    f"{path}: {self.table} holds a record that is not JSON ({exc}): run verify"
                ) from None
        finally:
            conn2.close()

    def follow(
        self,
        *,
        poll_interval: float = 0.5,
        stop: Callable[[], bool] | None = None,
        from_start: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Yield records appended after the call (like ``tail -F``), until ``stop()`` is true.

        The starting point is taken by the call itself, so a record appended before the first
        ``next()`` is not missed. Files are read incrementally from the last offset; after a
        rotation (the active file sealed under a new name and recreated) the rest of the sealed
        file is read first, then the new file. Databases are polled by row id.

        Args:
            poll_interval: seconds between polls when nothing is new.
            stop: checked between polls; None follows forever.
            from_start: also yield the records already there.

        A line that is not an audit record is skipped and counted in `skipped`.

        Raises:
            AuditConfigError: ``poll_interval`` is not a non-negative number.
            AuditReadError: the source is a directory, or a database cannot be read.
        """
        if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or not poll_interval >= 0:
            raise AuditConfigError(f"poll_interval must be a number of seconds >= 0, got {poll_interval!r}")
        if self._where.is_database:
            last = -1
            if not from_start:
                for _, row_id, _ in database_rows(self.source, table=self.table):
                    last = row_id
            return self._follow_db(poll_interval, stop, last)
        path = Path(self.source)
        if path.is_dir():
            raise AuditReadError("follow() needs the active log file, not a directory")
        try:
            st = path.stat()
        except FileNotFoundError:
            return self._follow_file(path, None, 0, poll_interval, stop)
        return self._follow_file(path, st.st_ino, 0 if from_start else st.st_size, poll_interval, stop)

    def _follow_file(
        self, path: Path, inode: int | None, offset: int, poll_interval: float, stop: Callable[[], bool] | None
    ) -> Iterator[dict[str, Any]]:
        import time

        # The file being followed, held open across its rotation; if it was rotated away since
        # follow() was called, its sealed segment (the loop then finishes it and moves on).
        fh = _open_inode(path, inode)
        if fh is None and inode is not None:
            fh = _open_segment(path, inode)
            if fh is None:
                offset = 0  # pruned already: the new file from its start
        pending = b""  # the start of a line not written whole yet
        done: int | None = None  # the last file read to its end (rotated away), by inode
        try:
            while True:
                complete: list[bytes] = []
                if fh is None:
                    fh = _open_inode(path, None)
                    if fh is not None:
                        offset, pending = 0, b""
                        if done is not None:
                            # Segments sealed between the file we finished and this one, in order.
                            for data in _segments_after(path, done, os.fstat(fh.fileno()).st_ino):
                                complete += data.split(b"\n")[:-1]
                            done = None
                if fh is not None:
                    size = os.fstat(fh.fileno()).st_size
                    if size < offset:  # truncated: read it again from the start
                        offset, pending = 0, b""
                    chunk = os.pread(fh.fileno(), size - offset, offset) if size > offset else b""
                    offset += len(chunk)
                    lines = (pending + chunk).split(b"\n")
                    pending = lines.pop()
                    complete += lines
                    if not chunk and _rotated(path, fh):
                        # Renamed away: writers append to it no more (a rotation waits for them),
                        # so read it to its end; the next turn reads every segment sealed after
                        # it, in order, then the new active file from its start.
                        rest = _read_from(fh, offset)
                        # A sealed file ends with a whole line: a piece left over is torn.
                        complete += (pending + rest).split(b"\n")[:-1]
                        done = os.fstat(fh.fileno()).st_ino
                        fh.close()
                        fh = None
                        offset, pending = 0, b""
                        complete.append(b"")  # go on without waiting (an empty line yields nothing)
                if complete:
                    for raw in complete:
                        if raw:
                            parsed = parse_record(raw)
                            if isinstance(parsed, str):
                                self._skip(str(path), parsed)
                                continue
                            yield parsed
                    continue
                if stop is not None and stop():
                    return
                time.sleep(poll_interval)
        finally:
            if fh is not None:
                fh.close()

    def _follow_db(self, poll_interval: float, stop: Callable[[], bool] | None, last: int) -> Iterator[dict[str, Any]]:
        import time

        while True:
            fresh = False
            for _, row_id, line in database_rows(self.source, table=self.table, after=last):
                last = row_id
                fresh = True
                yield orjson.loads(line)
            if fresh:
                continue
            if stop is not None and stop():
                return
            time.sleep(poll_interval)

    def to_pandas(self, **filters: Any) -> Any:
        """The matching records as a ``pandas.DataFrame`` (needs the ``pandas`` extra).

        Nested members (actor, targets, source) are flattened with ``pandas.json_normalize``.
        """
        try:
            import pandas as pd  # type: ignore[import-untyped,unused-ignore]
        except ImportError:  # pragma: no cover - exercised only without the extra
            raise AuditReadError("to_pandas() needs pandas: pip install 'maestro-audit-logger[pandas]'") from None
        return pd.json_normalize(list(self.query(**filters)))


def _matcher(
    actor: str | None,
    action: str | None,
    target: str | None,
    outcome: str | None,
    tenant: str | None,
    lo: str | None,
    hi: str | None,
    text: str | None,
    event_id: str | None,
) -> Callable[[dict[str, Any]], bool]:
    """The filters of `AuditReader.query` as a predicate on a parsed record."""
    needle = text.lower() if text else None
    prefix = action[:-1] if action and action.endswith("*") else None

    def matches(r: dict[str, Any]) -> bool:  # noqa: PLR0911 - one return per filter
        if event_id is not None and r.get("event_id") != event_id:
            return False
        if actor is not None and (r.get("actor") or {}).get("id") != actor:
            return False
        if action is not None and (
            not r.get("action", "").startswith(prefix) if prefix is not None else r.get("action") != action
        ):
            return False
        if outcome is not None and r.get("outcome") != outcome:
            return False
        if tenant is not None and r.get("tenant") != tenant:
            return False
        if lo is not None and r.get("time", "") < lo:
            return False
        if hi is not None and r.get("time", "") >= hi:
            return False
        if target is not None and not _target_matches(r.get("targets") or [], target):
            return False
        return needle is None or needle in orjson.dumps(r).decode().lower()

    return matches


def _target_matches(targets: list[dict[str, Any]], wanted: str) -> bool:
    if ":" in wanted:
        kind, _, ident = wanted.partition(":")
        return any(t.get("type") == kind and t.get("id") == ident for t in targets)
    return any(t.get("id") == wanted for t in targets)
