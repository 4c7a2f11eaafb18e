"""Segment files and their digests: naming, sealing and loading (shared by the sink and verify)."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from maestro_audit_logger._canonical import GENESIS, parse_chain, split_line
from maestro_audit_logger._clock import iso_from_ns
from maestro_audit_logger._merkle import merkle_root

if TYPE_CHECKING:
    from maestro_audit_logger._signing import Signer

DIGEST_SUFFIX = ".digest"
DIGEST_TYPE = "maestro-audit-digest"


def segment_pattern(active: Path) -> re.Pattern[str]:
    """Names of ``active``'s sealed segments: ``<name>.<20-digit ns>``, optionally ``.digest``."""
    return re.compile(re.escape(active.name) + r"\.(\d{20})(" + re.escape(DIGEST_SUFFIX) + r")?$")


def segment_name(active: Path, ns: int) -> Path:
    """The path a rotated segment of ``active`` gets."""
    return active.with_name(f"{active.name}.{ns:020d}")


def list_units(active: Path) -> list[str]:
    """Sorted stems (segment file names) of every sealed segment or digest next to ``active``."""
    pattern = segment_pattern(active)
    stems = set()
    try:
        names = os.listdir(active.parent)
    except FileNotFoundError:
        return []
    for name in names:
        m = pattern.match(name)
        if m:
            stems.add(f"{active.name}.{m.group(1)}")
    return sorted(stems)


def digest_bytes(digest: dict[str, Any]) -> bytes:
    """The canonical bytes of a digest (what its hash covers)."""
    return orjson.dumps(digest, option=orjson.OPT_SORT_KEYS)


def signed_part(digest: dict[str, Any]) -> bytes:
    """The canonical bytes a digest's signature covers (every member but ``signature``)."""
    return digest_bytes({k: v for k, v in digest.items() if k != "signature"})


def digest_hash(digest: dict[str, Any]) -> str:
    """SHA-256 of the whole digest, signature included: the next digest's ``prev_digest``."""
    return hashlib.sha256(digest_bytes(digest)).hexdigest()


def summarise(segment: Path) -> dict[str, Any]:
    """Count, first/last hash, Merkle root, per-writer ranges and file SHA-256 of a segment."""
    data = segment.read_bytes()
    leaves: list[bytes] = []
    writers: dict[str, dict[str, Any]] = {}
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parts = split_line(raw)
        if parts is None:
            continue
        body, claimed = parts
        chain = parse_chain(body)
        leaves.append(bytes.fromhex(claimed) if len(claimed) == 64 else b"")
        if chain is None:
            continue
        _, seq, writer = chain
        w = writers.get(writer)
        if w is None:
            writers[writer] = {"first_seq": seq, "last_seq": seq, "last_hash": claimed}
        else:
            w["last_seq"] = seq
            w["last_hash"] = claimed
    return {
        "count": len(leaves),
        "first_hash": leaves[0].hex() if leaves else GENESIS,
        "last_hash": leaves[-1].hex() if leaves else GENESIS,
        "merkle_root": merkle_root(leaves),
        "writers": writers,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def seal(
    segment: Path,
    prev_digest: str,
    signer: Signer | None,
    *,
    checkpoint: bool = False,
    interval_s: float | None = None,
) -> dict[str, Any]:
    """Write ``<segment>.digest`` (atomically, fsynced) and return the digest.

    ``checkpoint`` records that the log keeps a head file, so `verify` requires one.
    ``interval_s`` records the writer's sealing interval (``rotate_interval_s``): it seals at
    least that often, even when idle, so `verify` can tell a missing period from a quiet one.
    """
    summary = summarise(segment)
    digest: dict[str, Any] = {
        "type": DIGEST_TYPE,
        "v": 1,
        "segment": segment.name,
        "prev_digest": prev_digest,
        "sealed_at": iso_from_ns(time.time_ns()),
        **summary,
        "algorithm": signer.algorithm if signer is not None else "none",
        "key_id": signer.key_id if signer is not None else None,
    }
    if checkpoint:
        digest["checkpoint"] = True
    if interval_s is not None:
        digest["interval_s"] = interval_s
    if signer is not None:
        digest["signature"] = signer.sign(signed_part(digest))
    target = segment.with_name(segment.name + DIGEST_SUFFIX)
    tmp = target.with_name(target.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
    try:
        os.write(fd, digest_bytes(digest) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    fsync_dir(segment.parent)
    return digest


def load_digest(path: Path) -> dict[str, Any] | None:
    """A digest file's content, or None when it is not a digest."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("type") != DIGEST_TYPE:
        return None
    return data


def fsync_dir(path: Path) -> None:
    """fsync a directory so renames and creations in it are durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


HEAD_SUFFIX = ".head"
HEAD_TYPE = "maestro-audit-head"


def head_path(active: Path) -> Path:
    """The checkpoint ("head") file of ``active``: each writer's last durable record, signed."""
    return active.with_name(active.name + HEAD_SUFFIX)


def make_head(log: str, writer: str, seq: int, last_hash: str, signer: Signer | None) -> dict[str, Any]:
    """One writer's checkpoint entry: its last stored record (seq and hash) in ``log`` (the
    active file's name, or a database table), signed when a signer is given."""
    entry: dict[str, Any] = {
        "type": HEAD_TYPE,
        "v": 1,
        "file": log,
        "writer": writer,
        "seq": seq,
        "hash": last_hash,
        "time": iso_from_ns(time.time_ns()),
        "algorithm": signer.algorithm if signer is not None else "none",
        "key_id": signer.key_id if signer is not None else None,
    }
    if signer is not None:
        entry["signature"] = signer.sign(signed_part(entry))
    return entry


def parse_heads(data: bytes) -> list[dict[str, Any]] | None:
    """The entries of a head file (one JSON object per line), or None when it is not one."""
    entries: list[dict[str, Any]] = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(entry, dict) or entry.get("type") != HEAD_TYPE:
            return None
        entries.append(entry)
    return entries


def write_head(active: Path, entry: dict[str, Any], covered: dict[str, int] | None = None) -> None:
    """Replace this writer's line of ``active``'s head file with ``entry`` (other writers' lines
    are kept), under an exclusive ``flock`` of the head file. ``covered`` (writer -> last seq
    sealed in a signed digest) drops entries a digest already protects.

    The file is rewritten in place with one ``pwrite`` and never truncated: shorter content is
    padded with spaces (JSON whitespace) to the old size, so a process killed at any point leaves
    either the old or the new content, never a mix.
    """
    import fcntl  # noqa: PLC0415 - POSIX only, like the file sink

    fd = os.open(head_path(active), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        entries = parse_heads(os.pread(fd, size, 0)) if size else []
        keep = {e["writer"]: e for e in entries or () if isinstance(e.get("writer"), str)}
        keep[entry["writer"]] = entry
        if covered:
            for writer, seq in covered.items():
                e = keep.get(writer)
                if e is not None and e is not entry and isinstance(e.get("seq"), int) and e["seq"] <= seq:
                    del keep[writer]
        data = b"".join(digest_bytes(keep[w]) + b"\n" for w in sorted(keep))
        if len(data) < size:
            data += b" " * (size - len(data))
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)
