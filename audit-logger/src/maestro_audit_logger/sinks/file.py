"""The JSONL file store and sink (the embedded default): `FileStore` appends chained lines to
one file; `JsonlFileSink` adds rotation, sealed segments, the head file and torn-line repair."""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from maestro_audit_logger._canonical import GENESIS, dumps
from maestro_audit_logger._chain import Record
from maestro_audit_logger._errors import AuditConfigError
from maestro_audit_logger._event import Actor, AuditEvent, Target
from maestro_audit_logger._sealer import TimedSealer
from maestro_audit_logger._segments import (
    DIGEST_SUFFIX,
    digest_hash,
    fsync_dir,
    head_path,
    list_units,
    load_digest,
    make_head,
    seal,
    segment_name,
    write_head,
)
from maestro_audit_logger._signing import Signer
from maestro_audit_logger._sink import Sink

SYSTEM_ACTOR = Actor(id="maestro-audit-logger", type="system")


def system_event(action: str, target: Target, extra: dict[str, Any]) -> bytes:
    """The canonical body of an event the library itself records (repair, retention)."""
    return dumps(AuditEvent(action=action, actor=SYSTEM_ACTOR, targets=(target,), extra=extra).to_dict())


def repair_torn_tail(path: Path) -> tuple[int, bytes] | None:
    """Truncate a torn (newline-less) last line of ``path``; return (offset, removed bytes) or None.

    Takes an exclusive ``flock`` first: writers hold a shared one while appending, so a line
    another process is still writing is never mistaken for a torn one.
    """
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size == 0:
            return None
        os.lseek(fd, max(0, size - 1), os.SEEK_SET)
        if os.read(fd, 1) == b"\n":
            return None
        # Find the last newline by reading backwards in chunks.
        pos = size
        chunk = 65536
        cut = 0
        while pos > 0:
            start = max(0, pos - chunk)
            os.lseek(fd, start, os.SEEK_SET)
            block = os.read(fd, pos - start)
            idx = block.rfind(b"\n")
            if idx >= 0:
                cut = start + idx + 1
                break
            pos = start
        os.lseek(fd, cut, os.SEEK_SET)
        removed = os.read(fd, size - cut)
        os.ftruncate(fd, cut)
        os.fsync(fd)
        return cut, removed
    finally:
        os.close(fd)


class FileStore:
    """A `Store` appending chained lines to one file (``O_APPEND``), safe with several processes.

    Each ``store_lines`` is one ``write()`` under a shared ``flock`` (a rotating or repairing
    process takes it exclusively), so lines never tear or interleave; a short write (full disk,
    file size limit) is cut back off when nobody appended after it. A file that ends in a torn
    line (a writer killed mid-write) gets ``on_torn`` called before the append (default: the
    torn line is truncated), so a record is never glued to it. With ``follows``, a file renamed
    away by another process (a rotation) is left for the new one at the path.

    Args:
        path: the file (created with its directory).
        on_torn: called when the file ends without a newline; must make it end with one.
        follows: follow a rename of the file to the new file at ``path``.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> store = FileStore(Path(tempfile.mkdtemp()) / "lines.jsonl")
        >>> store.store_lines([b'{"a":1}\\n', b'{"a":2}\\n'])
        >>> store.sync()
        >>> store.close()
        >>> store.path.read_bytes()
        b'{"a":1}\\n{"a":2}\\n'
    """

    failure_types: tuple[type[BaseException], ...] = (OSError,)

    def __init__(
        self, path: str | os.PathLike[str], *, on_torn: Callable[[], object] | None = None, follows: bool = False
    ) -> None:
        self.path = Path(path)
        self.on_torn = on_torn if on_torn is not None else (lambda: repair_torn_tail(self.path))
        self.follows = follows
        self.fd = -1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.open()

    def open(self) -> None:
        """Open (or create) the file at ``path`` for appending."""
        self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def reopen(self) -> None:
        """Close the descriptor and open the file now at ``path`` (after a rotation)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
        self.open()

    def is_current(self) -> bool:
        """Whether our descriptor is still the file at ``path`` (another process may have renamed it)."""
        try:
            return os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except FileNotFoundError:
            return False

    def store_lines(self, lines: list[bytes]) -> None:
        """Append ``lines`` in one write, all-or-nothing."""
        self.write(b"".join(lines))

    def write(self, data: bytes) -> None:
        """Append ``data`` (whole lines) in one write, all-or-nothing."""
        fd = self.fd
        fcntl.flock(fd, fcntl.LOCK_SH)
        if self.follows and not self.is_current():
            # Another process renamed the file away (rotation): append to the new one.
            fcntl.flock(fd, fcntl.LOCK_UN)
            self.reopen()
            self.write(data)
            return
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            # Append only after a newline: the file ends in a partial line, either a write in
            # flight in another process or one whose process was killed mid-write. The repair
            # waits (exclusive flock) for writes in flight, then truncates only a torn line.
            fcntl.flock(fd, fcntl.LOCK_UN)
            self.on_torn()
            self.write(data)
            return
        written = 0
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                written += n
                view = view[n:]
        except OSError:
            if written:
                self._undo_partial(written)
            raise
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _undo_partial(self, written: int) -> None:
        # A short write (full disk, file size limit) must not leave half a line behind. Our data
        # ends at this descriptor's offset; cut it only if nobody appended after it.
        fd = self.fd
        try:
            end = os.lseek(fd, 0, os.SEEK_CUR)
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size == end:
                os.ftruncate(fd, end - written)
        except OSError:
            pass

    def sync(self) -> None:
        """``fdatasync`` the file."""
        os.fdatasync(self.fd)

    def close(self) -> None:
        """Close the descriptor (idempotent)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


class JsonlFileSink(Sink):
    """Appends one JSON line per event to a file, hash-chained per writer.

    Each batch of lines goes out in one ``write()`` on an ``O_APPEND`` descriptor under the
    sink's lock, so lines never tear or interleave, even with several processes on one file.

    Args:
        path: the active log file (created with its directory).
        rotate_bytes: rotate (rename and seal) when the file would grow past this size.
        rotate_interval_s: rotate when the active file is older than this many seconds, on time
            even when no event is written (a background thread seals it; an empty file is not
            sealed).
        signer: signs each sealed segment's digest (`HmacSigner` or `Ed25519Signer`);
            None writes unsigned digests.
        retention_days: delete sealed segments older than this (their digests stay).
        checkpoint: keep ``<path>.head``, each writer's last stored record (seq and hash),
            signed with ``signer`` (unsigned without one) and rewritten after every write (after
            the fsync in durable modes), so `verify` detects records deleted from the end of the
            active, unsealed file. Default: on.
        seal_on_close: seal the active file when the sink is closed.
        repair_on_open: truncate a torn last line left by a crash (and record an
            ``audit.repair`` event) before appending.
        writer_id: this writer's chain name.
        clock: nanosecond wall clock (injectable for rotation and retention tests).

    Several processes may append to one file, with rotation too: rotations are serialised by
    a ``<path>.lock`` file and writers follow a rotation made by another process.

    Examples:
        >>> import secrets, tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, HmacSigner, JsonlFileSink, Keyring, verify
        >>> key = secrets.token_bytes(32)
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> sink = JsonlFileSink(path, rotate_bytes=64 * 1024 * 1024, signer=HmacSigner(key, "k1"), seal_on_close=True)
        >>> with AuditLogger(sink, service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> verify(path, keys=Keyring().add_hmac("k1", key), require_signatures=True).ok
        True
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        rotate_bytes: int | None = None,
        rotate_interval_s: float | None = None,
        signer: Signer | None = None,
        retention_days: float | None = None,
        checkpoint: bool | None = None,
        seal_on_close: bool = False,
        repair_on_open: bool = True,
        writer_id: str | None = None,
        clock: Any = time.time_ns,
    ) -> None:
        if not isinstance(path, str | os.PathLike):
            raise AuditConfigError(f"path must be a file path, got {path!r}")
        if rotate_bytes is not None and (not isinstance(rotate_bytes, int) or rotate_bytes < 1024):
            raise AuditConfigError(f"rotate_bytes must be an integer of at least 1024, got {rotate_bytes!r}")
        if rotate_interval_s is not None and not rotate_interval_s > 0:
            raise AuditConfigError(f"rotate_interval_s must be positive, got {rotate_interval_s!r}")
        if retention_days is not None and not retention_days > 0:
            raise AuditConfigError(f"retention_days must be positive, got {retention_days!r}")
        if signer is not None and not all(hasattr(signer, a) for a in ("sign", "key_id", "algorithm")):
            raise AuditConfigError("signer must provide sign(), key_id and algorithm (HmacSigner, Ed25519Signer)")
        self.path = Path(path)
        self.rotate_bytes = rotate_bytes
        self.rotate_interval_s = rotate_interval_s
        self.signer = signer
        self.retention_days = retention_days
        self.checkpoint = True if checkpoint is None else bool(checkpoint)
        self.seal_on_close = seal_on_close
        self._clock = clock
        self._file: FileStore | None = None
        self._opened_ns = 0
        self._prev_digest = GENESIS
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._rotating = rotate_bytes is not None or rotate_interval_s is not None or seal_on_close
        self._repaired: tuple[int, bytes] | None = None
        super().__init__(writer_id=writer_id)
        self._lines_only = type(self)._store is JsonlFileSink._store
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if repair_on_open:
            self._repair_tail()
        if self._rotating or list_units(self.path):
            with self._rotation_lock():
                self._seal_leftovers()
        self._open()
        self._start_sealer()

    def _start_sealer(self) -> None:
        self._sealer = None if self.rotate_interval_s is None else TimedSealer(self, self.rotate_interval_s)

    def _repair_tail(self) -> bool:
        """Truncate a torn last line (a writer killed mid-write) and record an ``audit.repair``
        event with the next write; True if there was one."""
        repaired = repair_torn_tail(self.path)
        if repaired is None:
            return False
        self._repaired = repaired
        offset, removed = repaired
        self._internal.append(
            system_event(
                "audit.repair",
                Target("audit-file", self.path.name),
                {"offset": offset, "removed_bytes": len(removed), "reason": "torn last line"},
            )
        )
        return True

    # -- files ----------------------------------------------------------------------------
    @property
    def _fd(self) -> int:
        """The active file's descriptor (-1 when closed)."""
        return -1 if self._file is None else self._file.fd

    def _open(self) -> None:
        if self._file is None:
            self._file = FileStore(self.path, on_torn=self._repair_tail, follows=self._rotating)
        else:
            self._file.open()
        self._opened_ns = self._clock()

    def _reset_after_fork(self) -> None:
        super()._reset_after_fork()
        # A forked child gets its own open file description, so its flocks exclude the parent's.
        if getattr(self, "_file", None) is not None and self._fd >= 0:
            assert self._file is not None  # noqa: S101
            with contextlib.suppress(OSError):
                self._file.close()
            with contextlib.suppress(OSError):
                self._open()
            self._start_sealer()  # threads do not survive fork

    @contextlib.contextmanager
    def _rotation_lock(self) -> Iterator[None]:
        # Rotation, sealing and retention are serialised between processes by `<path>.lock`.
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _is_current(self) -> bool:
        """Whether our descriptor is still the active file (another process may have rotated it)."""
        return self._file is not None and self._file.is_current()

    def _follow_rotation(self) -> None:
        assert self._file is not None  # noqa: S101
        self._file.reopen()
        self._opened_ns = self._clock()

    def _seal_leftovers(self) -> None:
        # Seal segments renamed by a writer that crashed before writing their digest, and
        # find the newest digest's hash (the next digest's ``prev_digest``).
        prev = GENESIS
        for stem in list_units(self.path):
            seg = self.path.with_name(stem)
            dig = seg.with_name(stem + DIGEST_SUFFIX)
            if dig.exists():
                # A digest that does not parse is evidence (of tampering or damage): never seal
                # over it, or a tampered segment would get a fresh, valid digest. verify reports it.
                digest = load_digest(dig)
            elif seg.exists():
                # A log that has no head file yet (nothing written: heartbeats only) claims none.
                keeps_head = self.checkpoint and head_path(self.path).exists()
                digest = seal(seg, prev, self.signer, checkpoint=keeps_head, interval_s=self.rotate_interval_s)
            else:
                digest = None
            if digest is not None:
                prev = digest_hash(digest)
        self._prev_digest = prev

    def _store(self, records: list[Record]) -> None:
        self._store_lines([r.line for r in records])

    def _store_lines(self, lines: list[bytes]) -> None:
        data = b"".join(lines)
        if self.rotate_bytes is not None or self.rotate_interval_s is not None:
            size = os.fstat(self._fd).st_size
            if size and self._should_rotate(size, len(data)):
                self._rotate()
        self._write(data)

    def _write(self, data: bytes) -> None:
        assert self._file is not None  # noqa: S101
        self._file.write(data)

    def _sync(self) -> None:
        assert self._file is not None  # noqa: S101
        self._file.sync()

    def _after_store(self) -> None:
        if self.checkpoint and self._seq:
            self._write_head()

    def _write_head(self, covered: dict[str, int] | None = None) -> None:
        # Best effort: the records are already stored (and synced); a head that cannot be
        # written is counted, never turned into a failed `record`.
        try:
            write_head(
                self.path, make_head(self.path.name, self.writer_id, self._seq - 1, self._prev, self.signer), covered
            )
        except OSError as exc:
            self.stats.last_error = f"checkpoint: {exc!r}"

    def _should_rotate(self, size: int, incoming: int) -> bool:
        if self.rotate_bytes is not None and size + incoming > self.rotate_bytes:
            return True
        return self.rotate_interval_s is not None and (self._clock() - self._opened_ns) >= self.rotate_interval_s * 1e9

    def _rotate(self, *, allow_empty: bool = False) -> None:
        """Rename the active file to a segment, seal it, open a fresh file, apply retention.

        Safe with several processes on one file: rotations are serialised by ``<path>.lock``;
        the rename waits (exclusive ``flock``) for writes in flight; a process that finds its
        file renamed away follows to the new one instead of rotating again.

        ``allow_empty`` (sealing on time): an empty file is sealed too — a heartbeat digest
        saying the writer was up and had nothing to record — unless another process sealed
        one less than an interval ago.
        """
        with self._rotation_lock():
            if not self._is_current():
                self._follow_rotation()
                return
            fd = self._fd
            fcntl.flock(fd, fcntl.LOCK_EX)  # wait for other processes' writes in flight
            try:
                if os.fstat(fd).st_size == 0 and (not allow_empty or self._sealed_recently()):
                    return
                os.fsync(fd)
                target = segment_name(self.path, self._clock())
                while target.exists():  # pragma: no cover - two rotations in one nanosecond
                    target = segment_name(self.path, int(target.name.rsplit(".", 1)[1]) + 1)
                os.rename(self.path, target)
                fsync_dir(self.path.parent)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
            assert self._file is not None  # noqa: S101
            self._file.close()
            self._open()
            self._seal_leftovers()  # seals `target` (and anything a crash left), chaining digests
            if self.checkpoint and self._seq:
                # Entries of writers whose last record is now in a signed digest are dropped.
                digest = load_digest(target.with_name(target.name + DIGEST_SUFFIX))
                covered = {w: int(i.get("last_seq", -1)) for w, i in ((digest or {}).get("writers") or {}).items()}
                self._write_head(covered)
            self._apply_retention()

    def rotate(self) -> None:
        """Rotate now (seal the active file) if it holds anything."""
        self._rotate_owning_store(allow_empty=False)

    def _can_seal(self) -> bool:
        return not self._closed and self._fd >= 0

    def _rotate_on_time(self) -> None:
        """What the timed sealer does when the interval is up: seal, even an empty file."""
        self._rotate_owning_store(allow_empty=True)

    def _rotate_owning_store(self, *, allow_empty: bool) -> None:
        with self._cond:
            while self._busy:
                self._cond.wait()
            self._busy = True
        try:
            self._rotate(allow_empty=allow_empty)
        finally:
            with self._cond:
                self._release_busy()

    def _sealed_recently(self) -> bool:
        """Whether the newest segment was sealed less than an interval ago (by any process);
        if so, this process's interval restarts from it."""
        units = list_units(self.path)
        if not units or self.rotate_interval_s is None:
            return False
        newest = int(units[-1].rsplit(".", 1)[1])
        if self._clock() - newest < self.rotate_interval_s * 1e9:
            self._opened_ns = max(self._opened_ns, newest)
            return True
        return False

    def _apply_retention(self) -> None:
        if self.retention_days is None:
            return
        cutoff = self._clock() - int(self.retention_days * 86400 * 1e9)
        for stem in list_units(self.path):
            seg = self.path.with_name(stem)
            ns = int(stem.rsplit(".", 1)[1])
            if ns >= cutoff:
                break
            if not seg.exists():
                continue
            digest = load_digest(seg.with_name(stem + DIGEST_SUFFIX))
            if digest is None:
                continue  # never delete what is not sealed
            seg.unlink()
            self._internal.append(
                system_event(
                    "audit.retention.delete",
                    Target("audit-segment", stem),
                    {
                        "digest_hash": digest_hash(digest),
                        "records": digest["count"],
                        "retention_days": self.retention_days,
                    },
                )
            )
        fsync_dir(self.path.parent)

    def _reconnect(self) -> None:
        if self._fd < 0:
            self._open()

    def close(self) -> None:
        """Stop sealing on time, then close as every sink does (`Sink.close`)."""
        sealer, self._sealer = getattr(self, "_sealer", None), None
        if sealer is not None:
            sealer.stop()  # before the store is drained and closed: no rotation races them
        super().close()

    def _close_store(self) -> None:
        if self._fd >= 0:
            try:
                if self._internal:
                    self._write_chained([], sync=True)
                os.fsync(self._fd)
                if self.seal_on_close:
                    self._rotate()
            finally:
                if self._file is not None:
                    self._file.close()

    def describe(self) -> dict[str, Any]:
        """Kind, path and writer id."""
        return {"kind": "jsonl", "path": str(self.path), "writer": self.writer_id}
