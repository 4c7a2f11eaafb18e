"""What kind of audit source a path or URL is: the one answer `make_sink`, `AuditReader`,
`verify` and the CLI all use, so a log is written and read as the same thing.

Rules, in order: ``"-"``/``"stdout"``/``"stderr"`` is a stream; a ``sqlite://PATH`` URL is
SQLite; a ``postgresql://`` or ``postgres://`` DSN is PostgreSQL; an existing file is what
its content says (SQLite's file header, or else a log file: a JSONL log named ``audit.db``
stays a log file); a path that does not exist yet (or an empty file) is SQLite when it ends in
``.db``, ``.sqlite`` or ``.sqlite3``, and a JSONL log file otherwise.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from maestro_audit_logger._canonical import parse_chain, split_line
from maestro_audit_logger._logfiles import open_log, rotations
from maestro_audit_logger._segments import (
    DIGEST_SUFFIX,
    HEAD_SUFFIX,
    head_path,
    list_units,
    load_digest,
    parse_heads,
)

SourceKind = Literal["stream", "sqlite", "postgresql", "files"]

_SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_PG_SCHEMES = ("postgresql://", "postgres://")
_STREAMS = ("-", "stdout", "stderr")
# A sealed segment (``name.<20 digits>``) or its digest, logrotate's rotation (``name.N``,
# ``name.N.gz``) or the head file: the family's stem (its active file) is the name before it.
_MEMBER = re.compile(r"(\.\d{20}(\.digest)?|\.\d{1,6}(\.gz)?|" + re.escape(HEAD_SUFFIX) + r")$")


@dataclass(frozen=True)
class Where:
    """An audit source, classified: its ``kind`` and ``location`` (the SQLite file path, the
    PostgreSQL DSN, the log path, or the stream name).

    Examples:
        >>> where("sqlite://audit.sqlite")
        Where(kind='sqlite', location='audit.sqlite')
        >>> where("postgresql://audit@db/audit").kind
        'postgresql'
        >>> where("/nonexistent/audit.db").kind, where("/nonexistent/audit.jsonl").kind
        ('sqlite', 'files')
    """

    kind: SourceKind
    location: str

    @property
    def is_database(self) -> bool:
        """Whether rows are read from a database (SQLite or PostgreSQL)."""
        return self.kind in ("sqlite", "postgresql")


def where(source: str | os.PathLike[str]) -> Where:
    """Classify ``source`` (see the module's rules).

    Examples:
        >>> where("-")
        Where(kind='stream', location='stdout')
    """
    text = os.fspath(source)
    if isinstance(source, str) and text in _STREAMS:
        return Where("stream", "stdout" if text == "-" else text)
    if text.startswith("sqlite://"):
        return Where("sqlite", text.removeprefix("sqlite://"))
    if text.startswith(_PG_SCHEMES):
        return Where("postgresql", text)
    try:
        with open(text, "rb") as fh:
            header = fh.read(len(_SQLITE_HEADER))
    except OSError:
        header = None  # missing, a directory, unreadable: decided by name
    if header == _SQLITE_HEADER:
        return Where("sqlite", text)
    if header:  # an existing file with content that is not SQLite
        return Where("files", text)
    return Where("sqlite" if text.endswith(_SQLITE_SUFFIXES) else "files", text)


def families(path: Path) -> list[Path]:
    """The log families (active file names) in directory ``path``, by stem; ``[path]`` for a file.

    A family is the active file with its sealed segments and digests, logrotate's rotations
    (``name.1``, ``name.2.gz``: the active file renamed away) and its head file: records a
    writer wrote to the active file stay in its family wherever a rotation moved them."""
    if path.is_dir():
        names = [n for n in os.listdir(path) if not (n.endswith((".tmp", ".lock")) or n.startswith("."))]
        heads = {n for n in names if n.endswith(HEAD_SUFFIX)}
        stems: set[str] = set()
        for name in names:
            # A file with a head file of its own is an active log (``audit.2024``), not a rotation.
            stems.add(name if name + HEAD_SUFFIX in heads else _MEMBER.sub("", name))
        return [path / s for s in sorted(stems)]
    return [path]


def family_files(active: Path) -> list[Path]:
    """The files holding ``active``'s records, oldest first: logrotate's rotations, the sealed
    segments still present, then the active file itself (when it is a file)."""
    files = rotations(active)
    files += [f for f in (active.with_name(s) for s in list_units(active)) if f.exists()]
    if active.is_file():
        files.append(active)
    return files


def looks_foreign(data: bytes) -> bool:
    """Whether ``data``'s first line is something other than an audit record (chained or not)."""
    end = data.find(b"\n")
    first = (data if end < 0 else data[:end]).strip()  # not split(): that copies the whole file
    if not first:
        return False
    parts = split_line(first)
    if parts is not None and parse_chain(parts[0]) is not None:
        return False
    try:
        obj = orjson.loads(first)
    except orjson.JSONDecodeError:
        return True
    return not (isinstance(obj, dict) and "hash" in obj and "seq" in obj)


def is_audit_family(active: Path) -> bool:
    """Whether ``active`` (or its oldest rotation or sealed segment) starts with an audit
    record, or it has a head file (its active file may have been emptied); a gzip-compressed
    file (as logrotate leaves rotated logs) is read decompressed."""
    try:
        head = head_path(active).read_bytes()
    except OSError:
        head = None
    if head is not None and parse_heads(head) is not None:
        return True
    candidates = rotations(active) + [active.with_name(s) for s in list_units(active)] + [active]
    for candidate in candidates:
        if candidate.is_file():
            try:
                with open_log(candidate) as fh:
                    head = fh.read(65536)
            except (OSError, EOFError):
                return False
            if head.strip():
                return not looks_foreign(head)
    return any(load_digest(active.with_name(s + DIGEST_SUFFIX)) is not None for s in list_units(active))
