"""The fail-open spool: event bodies appended to a local file, replayed in order on recovery.

Safe to share between processes (pre-fork workers given one ``FailOpen(path)``): each process
appends to a file of its own, ``<path>.p<pid>-<random>``, which it holds an exclusive ``flock``
on for as long as it lives. A file nobody holds is an orphan (its process died or closed with
events pending, or it is ``<path>`` itself, as older versions wrote it): the first process that
replays takes its lock, replays it and deletes it while still holding the lock, so every
spooled event is replayed by exactly one process. A claimer checks that the name still leads to
the file it locked, so a file deleted by another claimer meanwhile is never replayed twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_fd(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    return os.pread(fd, size, 0) if size else b""


def _bodies(data: bytes) -> list[bytes]:
    # Every complete line (a torn last line from a crash is skipped).
    return [line for line in data.split(b"\n")[:-1] if line]


def _lock(fd: int, *, wait: bool) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _still_named(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


class Spool:
    """An append-only spool of canonical event bodies, one per line (no integrity fields: the
    sink chains them when they are replayed), shared safely by the processes given one path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.own = path.with_name(f"{path.name}.p{os.getpid()}-{os.urandom(3).hex()}")
        self._fd: int | None = None  # our own file, locked while open
        self._claimed: dict[str, int] = {}  # orphans taken for replay: name -> locked fd

    def forked(self) -> Spool:
        """The spool of a forked child: a file of its own (the parent's stay the parent's)."""
        for fd in [self._fd, *self._claimed.values()]:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)  # our copy only: the parent still holds its locks
        return Spool(self.path)

    def _own_fd(self) -> int:
        while self._fd is None:
            fd = os.open(self.own, _FLAGS, 0o600)
            _lock(fd, wait=True)
            if _still_named(fd, self.own):
                self._fd = fd
            else:  # deleted as an empty orphan between our open and our lock: make it again
                os.close(fd)
        return self._fd

    def append(self, bodies: list[bytes], *, sync: bool) -> None:
        """Append ``bodies`` to this process's file with one ``write()``; fsync when ``sync``."""
        fd = self._own_fd()
        _write_all(fd, b"".join(b + b"\n" for b in bodies))
        if sync:
            os.fsync(fd)

    def _candidates(self) -> list[Path]:
        prefix = self.path.name + ".p"
        try:
            names = os.listdir(self.path.parent)
        except FileNotFoundError:
            return []
        found = [self.path.with_name(n) for n in sorted(names) if n.startswith(prefix) and not n.endswith(".tmp")]
        return [self.path, *(p for p in found if p != self.own)]

    def _claim(self, path: Path) -> int | None:
        """``path`` opened and locked if nobody holds it and it still has that name, else None."""
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, IsADirectoryError):
            return None
        if _lock(fd, wait=False) and _still_named(fd, path):
            return fd
        os.close(fd)
        return None

    def read(self) -> list[bytes]:
        """Every spooled body this process can replay, orphans first (each orphan's lock is taken
        and kept until `clear` or `replace` deletes it), then this process's own."""
        for path in self._candidates():
            name = str(path)
            if name in self._claimed:
                continue
            fd = self._claim(path)
            if fd is None:
                continue
            if os.fstat(fd).st_size == 0:  # nothing to replay: tidy it away
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                os.close(fd)
                continue
            self._claimed[name] = fd
        out: list[bytes] = []
        for fd in self._claimed.values():
            out += _bodies(_read_fd(fd))
        if self._fd is not None:
            out += _bodies(_read_fd(self._fd))
        return out

    def pending(self) -> int:
        """How many events wait: this process's and those of orphans nobody holds."""
        count = 0
        for path in self._candidates():
            if str(path) in self._claimed:
                count += len(_bodies(_read_fd(self._claimed[str(path)])))
                continue
            fd = self._claim(path)
            if fd is not None:
                count += len(_bodies(_read_fd(fd)))
                os.close(fd)  # only counted: released for whoever replays it
        if self._fd is not None:
            count += len(_bodies(_read_fd(self._fd)))
        return count

    def _drop_claimed(self) -> None:
        for name, fd in list(self._claimed.items()):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)  # still holding its lock: no other process replays it
            os.close(fd)
            del self._claimed[name]

    def replace(self, bodies: list[bytes]) -> None:
        """Make ``bodies`` (what a partial replay left) the whole spool: written to this process's
        file atomically (write, fsync, rename, locked before it is named), orphans deleted."""
        tmp = self.own.with_name(self.own.name + ".tmp")
        fd = os.open(tmp, _FLAGS | os.O_TRUNC, 0o600)
        try:
            _lock(fd, wait=True)
            _write_all(fd, b"".join(b + b"\n" for b in bodies))
            os.fsync(fd)
            os.replace(tmp, self.own)
        except BaseException:
            os.close(fd)
            raise
        old, self._fd = self._fd, fd
        if old is not None:
            os.close(old)
        self._drop_claimed()

    def clear(self) -> None:
        """Empty the spool after a successful replay (orphans deleted, our file truncated)."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)
        self._drop_claimed()

    def close(self) -> None:
        """Release the files: an empty own file is deleted, one with events stays for the next
        process that replays (an orphan once unlocked)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            if os.fstat(fd).st_size == 0:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.own)
            os.close(fd)
        for fd2 in self._claimed.values():
            os.close(fd2)
        self._claimed.clear()
