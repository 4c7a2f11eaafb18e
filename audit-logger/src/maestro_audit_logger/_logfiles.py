"""Log files as a reader finds them: plain or gzip-compressed (as logrotate leaves rotated
files), in rotation order, and read from the end for ``tail``."""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from maestro_audit_logger._segments import HEAD_SUFFIX

_GZIP_MAGIC = b"\x1f\x8b"
_BLOCK = 64 * 1024
# logrotate's numbered names: audit.jsonl.1, audit.jsonl.2.gz (higher numbers are older).
_ROTATED = re.compile(r"^(?P<base>.+?)\.(?P<n>\d{1,6})(?:\.gz)?$")


def is_gzip(path: Path) -> bool:
    """Whether ``path`` starts with gzip's magic bytes."""
    try:
        with path.open("rb") as fh:
            return fh.read(2) == _GZIP_MAGIC
    except OSError:
        return False


def open_log(path: Path) -> BinaryIO:
    """``path`` opened for reading bytes, decompressed when it is gzip (read by content, not
    by name).

    Examples:
        >>> import gzip, tempfile
        >>> from pathlib import Path
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl.1.gz"
        >>> with gzip.open(path, "wb") as fh:
        ...     _ = fh.write(b'{"a":1}\\n')
        >>> with open_log(path) as fh:
        ...     fh.read()
        b'{"a":1}\\n'
    """
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def rotation_order(families: list[Path]) -> list[Path]:
    """``families`` oldest first: logrotate's ``name.N[.gz]`` before ``name.N-1`` before ``name``."""

    def key(path: Path) -> tuple[str, int]:
        m = _ROTATED.match(path.name)
        if m and not path.name.endswith(".jsonl"):
            return m.group("base"), -int(m.group("n"))
        return path.name.removesuffix(".gz"), 1

    return sorted(families, key=key)


def rotations(active: Path, names: Iterable[str] | None = None) -> list[Path]:
    """logrotate's rotations of ``active`` (``name.N``, ``name.N.gz``: renamed away from the
    active file, then shifted and compressed), oldest (highest ``N``) first. When both
    ``name.N`` and ``name.N.gz`` exist, ``compress`` is still writing the ``.gz``: the plain
    file is the whole one; a file with a head file of its own is a log of its own, not a
    rotation. ``names``: the directory's listing, when already taken.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> d = Path(tempfile.mkdtemp())
        >>> for name in ("audit.jsonl", "audit.jsonl.1", "audit.jsonl.2.gz", "audit.jsonl.10.gz"):
        ...     _ = (d / name).write_bytes(b"")
        >>> [p.name for p in rotations(d / "audit.jsonl")]
        ['audit.jsonl.10.gz', 'audit.jsonl.2.gz', 'audit.jsonl.1']
    """
    if names is None:
        try:
            names = os.listdir(active.parent)
        except (FileNotFoundError, NotADirectoryError):
            return []
    pattern = re.compile(re.escape(active.name) + r"\.(\d{1,6})(\.gz)?$")
    found: dict[int, str] = {}
    names = list(names)
    own_heads = {name for name in names if name.endswith(HEAD_SUFFIX)}
    for name in names:
        m = pattern.match(name)
        if m is None or name + HEAD_SUFFIX in own_heads:  # a log of its own (``audit.2024``)
            continue
        n = int(m.group(1))
        if m.group(2) is None or n not in found:  # the plain file wins over a .gz in progress
            found[n] = name
    return [active.with_name(found[n]) for n in sorted(found, reverse=True)]


def last_lines(path: Path, wanted: int, *, drop_torn: bool) -> list[bytes]:
    """Up to ``wanted`` complete lines from the end of ``path`` (empty lines skipped), oldest
    first, reading backwards block by block (a gzip file is read through). ``drop_torn``: leave
    out a last line without its newline (a write in progress)."""
    if wanted <= 0:
        return []
    if is_gzip(path):
        with gzip.open(path, "rb") as fh:
            data = fh.read()
        lines = data.split(b"\n")
        if drop_torn or not lines[-1]:
            lines.pop()
        return [x for x in lines if x][-wanted:]
    with path.open("rb") as fh:
        end = os.fstat(fh.fileno()).st_size
        found: list[bytes] = []
        rest = b""
        pos = end
        first = True
        while pos > 0 and len(found) < wanted:
            start = max(0, pos - _BLOCK)
            fh.seek(start)
            chunk = fh.read(pos - start) + rest
            pos = start
            parts = chunk.split(b"\n")
            if first:
                tail = parts.pop()  # after the last newline: empty, or a torn line
                if tail and not drop_torn:
                    found.append(tail)
                first = False
            rest = parts.pop(0) if pos > 0 else b""  # may continue in the previous block
            found[:0] = [x for x in parts if x]
        if pos == 0 and rest:
            found.insert(0, rest)
        return found[-wanted:]
