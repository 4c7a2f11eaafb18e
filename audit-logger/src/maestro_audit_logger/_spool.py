"""The fail-open spool: event bodies appended to a local file, replayed in order on recovery."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class Spool:
    """An append-only file of canonical event bodies, one per line (no integrity fields: the
    sink chains them when they are replayed)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def append(self, bodies: list[bytes], *, sync: bool) -> None:
        """Append ``bodies`` with one ``write()``; fsync when ``sync``."""
        data = b"".join(b + b"\n" for b in bodies)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[bytes]:
        """Every complete spooled body, oldest first (a torn last line from a crash is skipped)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        lines = data.split(b"\n")
        return [line for line in lines[:-1] if line]

    def pending(self) -> int:
        """How many events wait in the spool."""
        return len(self.read())

    def replace(self, bodies: list[bytes]) -> None:
        """Atomically make ``bodies`` the spool's whole content (write, fsync, rename)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(b"".join(b + b"\n" for b in bodies))
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        """Empty the spool after a successful replay."""
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, 0)
            os.fsync(fd)
        finally:
            os.close(fd)
