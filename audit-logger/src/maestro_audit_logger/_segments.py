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


def seal(segment: Path, prev_digest: str, signer: Signer | None) -> dict[str, Any]:
    """Write ``<segment>.digest`` (atomically, fsynced) and return the digest."""
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
