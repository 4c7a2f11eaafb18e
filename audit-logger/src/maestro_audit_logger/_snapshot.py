"""What `verify` reads of one log family, taken as one consistent picture against live writers
and rotations (ours, and logrotate's renames and compression)."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from maestro_audit_logger._errors import AuditReadError
from maestro_audit_logger._logfiles import open_log, rotations
from maestro_audit_logger._segments import DIGEST_SUFFIX, head_path, list_units, load_digest

# A consistent picture is retaken when a rotation moved files while it was taken; a log
# rotated this many times in a row while we look is refused rather than read half.
_TRIES = 100


class Snapshot(NamedTuple):
    """One family as `verify` checks it (see `take`)."""

    head: bytes | str | None  # the head file's bytes, None when missing, or why it cannot be read
    stems: list[str]  # sealed segments (and digests), oldest first
    digests: dict[str, dict[str, Any] | None]
    present: set[str]  # stems whose digest file exists
    opened: BinaryIO | None  # the active file
    rotated: list[tuple[Path, BinaryIO]]  # logrotate's rotations, oldest first, opened

    def close(self) -> None:
        """Close every file the snapshot holds open."""
        _close(self.opened, self.rotated)


def _close(opened: BinaryIO | None, rotated: list[tuple[Path, BinaryIO]]) -> None:
    if opened is not None:
        opened.close()
    for _, fh in rotated:
        fh.close()


def _inode(fh: BinaryIO) -> tuple[int, int]:
    st = os.fstat(fh.fileno())
    return st.st_dev, st.st_ino


def _inode_of(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _open_active(active: Path) -> BinaryIO | None:
    try:
        return open_log(active)  # logrotate's .gz files decompressed
    except (FileNotFoundError, IsADirectoryError):
        return None  # the scan reports a directory
    except OSError as exc:
        raise AuditReadError(f"cannot read {active}: {exc.strerror or exc}") from None


def _open_files(active: Path) -> tuple[BinaryIO | None, list[tuple[Path, BinaryIO]]]:
    """The active file and logrotate's rotations of it, opened as they were at one moment.

    logrotate renames ``.1`` to ``.2`` and the active file to ``.1`` without any lock of ours,
    so the files are opened (the active file first), then listed and looked up again: when any
    name now means another file, a rotation ran in between and the picture is retaken. A
    record is then read exactly once, from wherever it was when the picture was taken.
    """
    for _ in range(_TRIES):
        opened = _open_active(active)
        listed = rotations(active)
        rotated: list[tuple[Path, BinaryIO]] = []
        stable = True
        try:
            for path in listed:
                rotated.append((path, open_log(path)))
        except FileNotFoundError:
            stable = False
        except OSError as exc:
            _close(opened, rotated)
            raise AuditReadError(f"cannot read {path}: {exc.strerror or exc}") from None
        if stable:
            now = _inode_of(active)
            stable = (
                (now is None if opened is None else now == _inode(opened))
                and rotations(active) == listed
                and all(_inode_of(path) == _inode(fh) for path, fh in rotated)
            )
        if stable:
            return opened, rotated
        _close(opened, rotated)
    raise AuditReadError(f"{active} was rotated {_TRIES} times while verify read it; run verify again")


def take(active: Path) -> Snapshot:
    """What to verify of ``active``'s family, taken consistently against live writers.

    The head file is read first: a live writer updates it after its data, so every record it
    names is in the files opened after it (the active file, or a rotation it was renamed to).
    All of it is read under a shared ``flock`` of ``<active>.lock``, which a rotating writer
    holds exclusively from its rename to its seal: a rotation of ours is seen either not at all
    (the renamed file is the active file we hold open) or whole (renamed and sealed), never half
    (a segment missing or without its digest). logrotate takes no lock: see `_open_files`.
    """
    try:
        lock = os.open(active.with_name(active.name + ".lock"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        lock = -1  # no rotating writer ever ran here (it creates the lock file first)
    try:
        if lock >= 0:
            fcntl.flock(lock, fcntl.LOCK_SH)
        head = read_head(active)
        stems = list_units(active)
        present = {s for s in stems if active.with_name(s + DIGEST_SUFFIX).exists()}
        digests = {s: load_digest(active.with_name(s + DIGEST_SUFFIX)) if s in present else None for s in stems}
        opened, rotated = _open_files(active)
    finally:
        if lock >= 0:
            with contextlib.suppress(OSError):
                os.close(lock)
    return Snapshot(head, stems, digests, present, opened, rotated)


def read_head(active: Path) -> bytes | str | None:
    try:
        return head_path(active).read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"the head file cannot be read: {exc.strerror or exc}"
