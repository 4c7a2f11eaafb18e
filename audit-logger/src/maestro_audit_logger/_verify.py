"""Offline verification: per-writer hash chains, sealed-segment digests and their signatures.

`verify` reports the first bad record (file, line, seq) for every tampering kind: a modified,
deleted, inserted or reordered record, a truncated segment, a removed segment, a forged digest
or one signed with the wrong key. A torn last line (a crash mid-write) is reported on its own;
`repair` truncates it and records an ``audit.repair`` event.
"""

# ruff: noqa: PLC0415, PLR0917  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import binascii
import contextlib
import fcntl
import gzip
import hashlib
import itertools
import operator
import os
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

from maestro_audit_logger._canonical import EVENT_ID as _EVENT_ID
from maestro_audit_logger._canonical import GENESIS, HASH_SUFFIX_LEN, parse_chain, split_line
from maestro_audit_logger._dbrows import database_chunks, database_heads, database_seals
from maestro_audit_logger._dbseal import parse_seal, seals_table
from maestro_audit_logger._errors import AuditReadError
from maestro_audit_logger._logfiles import rotations
from maestro_audit_logger._merkle import merkle_root
from maestro_audit_logger._segments import (
    DIGEST_SUFFIX,
    digest_hash,
    head_path,
    list_units,
    parse_heads,
    signed_part,
)
from maestro_audit_logger._signing import Keyring, Signer
from maestro_audit_logger._snapshot import Snapshot, read_head, take
from maestro_audit_logger._sources import families as source_families
from maestro_audit_logger._sources import is_audit_family, looks_foreign, where
from maestro_audit_logger.sinks.database import COLUMNS, indexed_columns

_HASH_KEY = b',"hash":"'
_ID_KEY = b'"event_id":"'
_ID_TEXT = operator.itemgetter(slice(0, 36))
_REPORTED = 1 << 62  # a writer whose head entry was already reported as a problem
_NOT_CHECKED = "signatures not checked: no verification keys given"
UNSIGNED_NOTE = (
    "unsigned log: the hash chains show records altered, removed or reordered by mistake, but anyone "
    "who can write the files can rewrite the whole log undetected; sign it (HmacSigner, Ed25519Signer) "
    "and verify with the key to prove it is untouched"
)


def _signed(entry: dict[str, Any]) -> bool:
    return entry.get("algorithm") not in (None, "none")


@dataclass(frozen=True, slots=True)
class _Policy:
    """What verify demands of signatures.

    ``enforce``: every digest and head entry must carry a valid signature from a known key, and
    every writer's chain end must be covered by one (given keys, or the log says it was signed,
    unless ``allow_unsigned``). ``require_signed``: unsigned digests and heads are problems.
    ``unsigned``: nothing in the log was checked against a key (the log is unsigned, or was
    verified without keys under ``allow_unsigned``).
    """

    keys: Keyring | None
    enforce: bool
    require_signed: bool
    unsigned: bool

    @staticmethod
    def make(keys: Keyring | None, require_signatures: bool, allow_unsigned: bool, claims_signed: bool) -> _Policy:
        enforce = not allow_unsigned and (bool(keys) or claims_signed)
        unsigned = not enforce and not (keys and claims_signed)
        return _Policy(keys, enforce, enforce or require_signatures, unsigned)


@dataclass(frozen=True, slots=True)
class Problem:
    """One integrity finding.

    Attributes:
        kind: ``modified``, ``gap`` (records missing: deleted or truncated), ``out_of_order``
            (inserted, duplicated or reordered), ``broken_link`` (a record does not chain to its
            predecessor), ``corrupt`` (not a record), ``digest_mismatch``, ``digest_signature``,
            ``digest_chain``, ``segment_missing``, ``digest_missing``, ``unknown_key``, ``torn``,
            ``missing_period`` (``verify(since=..., until=...)``: a stretch no seal covers),
            ``checkpoint`` (the head file is missing, unreadable or another log's, or a writer's
            records are covered by no signed head entry or digest), ``checkpoint_signature``,
            ``column_mismatch`` (a database row's indexed column disagrees with its record) or
            ``duplicate`` (an event stored twice: a second copy of a stored record, as a replay
            of a write whose confirmation was lost leaves, or one event id in two records, as a
            spool replayed twice leaves).
            Records deleted from the end of the active file are a ``gap`` found through the head
            file (see ``JsonlFileSink(checkpoint=...)``).
        file: the file (or ``table`` for databases) holding the bad record or digest.
        line: 1-based line (or row id) of the first bad record, when there is one.
        seq: the record's sequence number in its writer's chain, when known.
        writer: the writer id, when known.
        message: what is wrong, in words.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, verify
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> with AuditLogger(path, service="billing") as audit:
        ...     for user in ("u-1", "u-2"):
        ...         event_id = audit.record("invoice.update", actor=Actor(user))
        >>> _ = path.write_bytes(path.read_bytes().replace(b'"u-2"', b'"u-3"'))  # tampered
        >>> problem = verify(path).first
        >>> problem.kind, problem.file, problem.line, problem.seq
        ('modified', 'audit.jsonl', 2, 1)
    """

    kind: str
    file: str
    line: int | None
    seq: int | None
    writer: str | None
    message: str

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        seq = f" seq {self.seq}" if self.seq is not None else ""
        return f"{self.kind}: {where}{seq}: {self.message}"


@dataclass
class VerifyReport:
    """The outcome of `verify`.

    Attributes:
        source: what was verified.
        records: records checked.
        segments: sealed segments checked (present ones).
        pruned: sealed segments deleted by retention whose digests remain.
        writers: distinct writer chains seen.
        problems: every finding except a torn tail, in file order (capped by ``max_problems``).
        torn: the torn last line of the active file, if any.
        warnings: things not checked (e.g. signatures without keys), and for a log verified
            without signatures one line on what an unsigned log can and cannot prove.
        signatures_required: whether every digest and head had to carry a valid signature
            (keys were given, or the log says its writer signed, and ``allow_unsigned`` was not).

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, verify
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> with AuditLogger(path, service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> report = verify(path)
        >>> report.ok, report.records, report.writers, report.exit_code
        (True, 1, 1, 0)
    """

    source: str
    records: int = 0
    segments: int = 0
    pruned: int = 0
    writers: int = 0
    problems: list[Problem] = field(default_factory=list)
    torn: Problem | None = None
    warnings: list[str] = field(default_factory=list)
    signatures_required: bool = False

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (no problem, no torn tail)."""
        return not self.problems and self.torn is None

    @property
    def first(self) -> Problem | None:
        """The first bad record or digest (or the torn tail)."""
        return self.problems[0] if self.problems else self.torn

    @property
    def exit_code(self) -> int:
        """0 when intact, 1 when not (the CLI's exit status)."""
        return 0 if self.ok else 1


class _Chains:
    """Per-writer chain state while scanning records in storage order."""

    def __init__(self, report: VerifyReport, max_problems: int) -> None:
        self.state: dict[str, tuple[int, str, str, int]] = {}
        self.report = report
        self.max_problems = max_problems
        # Every event id seen (duplicates are reported), and the lines of the block being
        # checked whose event id was seen before (line number -> event id).
        self.seen: set[bytes] = set()
        self.dups: dict[int, bytes] = {}
        # The oldest of logrotate's rotations read: a chain starting there may have begun in a
        # rotation logrotate's retention deleted.
        self.oldest_rotation: str | None = None

    def note_ids(self, data: bytes, lines: list[bytes], numbers: Iterable[int]) -> None:
        """Collect the event ids of ``lines`` (``data``: the same lines joined, or any bytes
        holding exactly them); lines whose id was seen before go to ``dups`` (reported by
        `check` as a second copy, or by `report_dups`)."""
        ids = list(map(_ID_TEXT, data.split(_ID_KEY)[1:]))  # (split: faster than a regex's scan)
        if len(ids) == len(lines):  # one id per line: the usual case, all in C
            fresh = set(ids)
            if len(fresh) == len(ids) and self.seen.isdisjoint(fresh):
                self.seen |= fresh
                return
        seen = self.seen
        for number, line in zip(numbers, lines, strict=False):
            m = _EVENT_ID.search(line)  # the first: the record's own (nested ones come later)
            if m is None:
                continue
            event_id = m.group(1)
            if event_id in seen:
                self.dups[number] = event_id
            else:
                seen.add(event_id)

    def report_dups(self, where: str) -> None:
        """Report the duplicates `check` did not (same id, chained as a new record)."""
        for number, event_id in self.dups.items():
            self.add(
                Problem(
                    "duplicate",
                    where,
                    number,
                    None,
                    None,
                    f"event {event_id.decode(errors='replace')} is stored again (also earlier in this log): "
                    "an event recorded twice, or a spool replayed twice",
                )
            )
        self.dups.clear()

    def add(self, problem: Problem) -> None:
        if len(self.report.problems) < self.max_problems:
            self.report.problems.append(problem)

    def seed(self, writer: str, seq: int, last_hash: str) -> None:
        self.state[writer] = (seq, last_hash, "(pruned segment)", 0)

    def check(self, raw: bytes, where: str, line: int) -> tuple[str, str | None, int | None]:
        """Check one stored line; returns (claimed hash, writer, seq) for digest bookkeeping."""
        self.report.records += 1
        parts = split_line(raw)
        if parts is None:
            self.add(Problem("corrupt", where, line, None, None, "not an audit record (layout or hash missing)"))
            return "", None, None
        body, claimed = parts
        chain = parse_chain(body)
        if chain is None:
            self.add(
                Problem("corrupt", where, line, None, None, "the integrity members (prev, seq, writer) are malformed")
            )
            return claimed, None, None
        prev, seq, writer = chain
        if hashlib.sha256(body).hexdigest() != claimed:
            self.add(Problem("modified", where, line, seq, writer, "the record's content does not match its hash"))
        st = self.state.get(writer)
        if st is None:
            if (seq != 0 or prev != GENESIS) and where == self.oldest_rotation and seq > 0:
                note = (
                    f"{where}: writer {writer} starts at seq {seq}: its records 0-{seq - 1} were rotated away "
                    "(logrotate's rotate count deleted an older rotation) or removed; nothing left can tell which"
                )
                if note not in self.report.warnings:
                    self.report.warnings.append(note)
            elif seq != 0 or prev != GENESIS:
                self.add(
                    Problem(
                        "gap",
                        where,
                        line,
                        seq,
                        writer,
                        f"writer {writer} starts at seq {seq}: its records 0-{seq - 1} are missing",
                    )
                )
            self.state[writer] = (seq, claimed, where, line)
            return claimed, writer, seq
        last_seq, last_hash, last_where, last_line = st
        if seq == last_seq + 1:
            if prev != last_hash:
                self.add(
                    Problem(
                        "broken_link",
                        where,
                        line,
                        seq,
                        writer,
                        f"does not chain to seq {last_seq} at {last_where}:{last_line}: "
                        "one of the two was altered or replaced",
                    )
                )
            self.state[writer] = (seq, claimed, where, line)
        elif seq <= last_seq and line in self.dups:
            event_id = self.dups.pop(line).decode(errors="replace")
            self.add(
                Problem(
                    "duplicate",
                    where,
                    line,
                    seq,
                    writer,
                    f"seq {seq} of writer {writer} (event {event_id}) stored again after seq {last_seq}: a second "
                    "copy, as a write replayed after its confirmation was lost leaves (or a copied record)",
                )
            )
        elif seq <= last_seq:
            self.add(
                Problem(
                    "out_of_order",
                    where,
                    line,
                    seq,
                    writer,
                    f"seq {seq} after seq {last_seq} (at {last_where}:{last_line}): inserted, duplicated or reordered",
                )
            )
        else:
            missing = f"{last_seq + 1}" if seq == last_seq + 2 else f"{last_seq + 1}-{seq - 1}"
            self.add(
                Problem(
                    "gap",
                    where,
                    line,
                    seq,
                    writer,
                    f"records {missing} of writer {writer} are missing (deleted or truncated)",
                )
            )
            self.state[writer] = (seq, claimed, where, line)
        return claimed, writer, seq


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise AuditReadError(f"{path} is a directory, not an audit log file") from None
    except OSError as exc:
        raise AuditReadError(f"cannot read {path}: {exc.strerror or exc}") from None


class _Meter:
    """``progress`` of one whole verify: the bytes read on disk so far, over every file and
    family in turn (a ``.gz`` file's compressed bytes, so the total is the files' sizes)."""

    def __init__(self, callback: Callable[[int], None]) -> None:
        self.callback = callback
        self.base = 0  # the files read whole

    def at(self, fh: BinaryIO, *, done: bool = False) -> None:
        """Report where reading ``fh`` got to (its descriptor's offset); ``done``: all of it."""
        here = self.base + os.lseek(fh.fileno(), 0, os.SEEK_CUR)
        if done:
            self.base = here
        self.callback(here)


def _scan(
    path: Path,
    where: str,
    chains: _Chains,
    *,
    want_sha: bool,
    check_foreign: bool,
    opened: BinaryIO | None = None,
    meter: _Meter | None = None,
) -> tuple[list[str | bytes], dict[str, list[int]], bytes, int, int, str]:
    """Check every complete line of ``path`` (read through ``opened`` when given, left open);
    return (hashes, writers, incomplete tail, lines, bytes read (decompressed), SHA-256 of the
    bytes read when ``want_sha``), telling ``meter`` the bytes read on disk as it goes.

    The file is read and split one block at a time (never whole): the block and its line
    objects stay in the CPU cache, and memory stays flat however large the file is.
    """
    hashes: list[str | bytes] = []
    writers: dict[str, list[int]] = {}
    count = 0
    size = 0
    sha = hashlib.sha256() if want_sha else None
    carry = b""
    try:
        with contextlib.nullcontext(opened) if opened is not None else path.open("rb") as fh:
            while block := fh.read(_BLOCK):
                size += len(block)
                if sha is not None:
                    sha.update(block)
                data = carry + block if carry else block
                cut = data.rfind(b"\n")
                if cut < 0:
                    carry = data  # a line longer than a block
                    continue
                if check_foreign:
                    check_foreign = False
                    _refuse_foreign(data, path)
                lines = data[:cut].split(b"\n")
                chains.note_ids(data[:cut], lines, itertools.count(count + 1))
                _scan_chunks(lines, count, where, chains, hashes, writers)
                if chains.dups:
                    chains.report_dups(where)
                count += len(lines)
                carry = data[cut + 1 :]
                if meter is not None:
                    meter.at(fh)
            if meter is not None:
                meter.at(fh, done=True)
    except IsADirectoryError:
        raise AuditReadError(f"{path} is a directory, not an audit log file") from None
    except OSError as exc:
        raise AuditReadError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (EOFError, zlib.error) as exc:
        raise AuditReadError(f"cannot read {path}: truncated or corrupt gzip data ({exc})") from None
    if check_foreign:
        _refuse_foreign(carry, path)
    return hashes, writers, carry, count, size, "" if sha is None else sha.hexdigest()


def _refuse_foreign(data: bytes, path: Path) -> None:
    if looks_foreign(data):
        raise AuditReadError(f"{path} is not a maestro audit log (its first line is not an audit record)")


# Bulk verification: a run of lines that continues one writer's chain is checked with a few
# C-level passes (`map` over slices, `join`, one comparison each) instead of a Python loop per
# line. It checks exactly what the per-line fast path checks; any difference (another writer,
# a blank line, a bad hash) sends the run to the per-line path, which pinpoints the problem.
_CHUNK = 1024
_BLOCK = 256 * 1024
_head = operator.itemgetter(slice(0, 81))
_tail = operator.itemgetter(slice(-HASH_SUFFIX_LEN, None))
_claimed = operator.itemgetter(slice(-66, -2))
_unhashed = operator.itemgetter(slice(0, -HASH_SUFFIX_LEN))
_digest = type(hashlib.sha256()).digest
_CLOSE = itertools.repeat(b"}")
_UNKNOWN: list[bytes] = []  # `_bulk`'s answer when the run's writer has no record yet


def _bulk(
    chunk: list[bytes], first_number: int, where: str, chains: _Chains, writers: dict[str, list[int]]
) -> list[bytes] | None:
    first = chunk[0]
    end = first.find(b',"writer":"', 81)
    wend = first.find(b'"', end + 11) if end > 0 and first.startswith(b'{"prev":"') else -1
    writer_b = first[end + 11 : wend]
    writer = writer_b.decode("ascii", "replace")
    st = chains.state.get(writer) if wend > 0 else None
    if st is None:
        return _UNKNOWN if wend > 0 else None
    count = len(chunk)
    seq0 = st[0] + 1
    claimed = list(map(_claimed, chunk))
    # prev links and the fixed head: '{"prev":"<previous hash>","seq":' on every line.
    heads = b'{"prev":"' + b'","seq":{"prev":"'.join([st[1].encode(), *claimed[:-1]]) + b'","seq":'
    if b"".join(map(_head, chunk)) != heads:
        return None
    # seq and writer: '<seq>,"writer":"<writer>",' right after the head, seq counting up by one.
    sep = ',"writer":"%s",\n' % writer  # noqa: UP031
    expected = (sep.join(map(str, range(seq0, seq0 + count))) + sep[:-1]).encode().split(b"\n")
    if not all(map(bytes.startswith, chunk, expected, itertools.repeat(81))):
        return None
    # each hash: SHA-256 over the line without its hash member, and the member's layout.
    joined = b"".join(claimed)
    if (
        b"".join(map(_digest, map(hashlib.sha256, map(bytes.__add__, map(_unhashed, chunk), _CLOSE)))).hex()
        != (joined.decode("ascii", "replace"))
        or b"".join(map(_tail, chunk)) != b',"hash":"' + b'"},"hash":"'.join(claimed) + b'"}'
    ):
        return None
    last_seq = seq0 + count - 1
    chains.state[writer] = (last_seq, claimed[-1].decode(), where, first_number + count - 1)
    entry = writers.get(writer)
    if entry is None:
        writers[writer] = [seq0, last_seq, first_number]
    else:
        entry[1] = last_seq
    chains.report.records += count
    return claimed  # the record hashes (hex, as bytes)


def _scan_chunks(
    lines: list[bytes],
    before: int,
    where: str,
    chains: _Chains,
    hashes: list[str | bytes],
    writers: dict[str, list[int]],
) -> None:
    i = 0
    total = len(lines)
    while i < total:
        chunk = lines[i : i + _CHUNK]
        got = _bulk(chunk, before + i + 1, where, chains, writers)
        if got is not None and got is not _UNKNOWN:
            hashes += got
            i += len(chunk)
            continue
        if got is _UNKNOWN:
            chunk = chunk[:1]  # the writer's first record here: check it alone, then try bulk again
        more, seen = _scan_lines(enumerate(chunk, before + i + 1), where, chains)
        hashes += more
        for writer, (first, last, line) in seen.items():
            entry = writers.get(writer)
            if entry is None:
                writers[writer] = [first, last, line]
            else:
                entry[1] = last
        i += len(chunk)


def _scan_rows(ids: list[int], lines: list[bytes], where: str, chains: _Chains, scratch: dict[str, list[int]]) -> None:
    """`_scan_chunks` for database rows, numbered by row id: a chunk whose ids are consecutive
    (the usual case) goes through `_bulk`; anything else through the per-line path."""
    i = 0
    total = len(lines)
    while i < total:
        if ids[total - 1] - ids[i] == total - 1 - i:
            got = _bulk(lines[i:] if i else lines, ids[i], where, chains, scratch)
            if got is not None and got is not _UNKNOWN:
                return
            if got is _UNKNOWN:  # the writer's first record here: check it alone, then try bulk again
                _scan_lines(((ids[i], lines[i]),), where, chains)
                i += 1
                continue
        _scan_lines(zip(ids[i:], lines[i:], strict=True), where, chains)
        return


def _record_columns(d: dict[str, Any]) -> tuple[Any, ...]:
    """The indexed column values a sink derives from a stored record (`sinks.database.row`)."""
    get = d.get
    return (*indexed_columns(d), get("writer"), get("seq"), get("hash"))


def _as_text(values: tuple[Any, ...]) -> tuple[str | None, ...]:
    return tuple(None if v is None else v if type(v) is str else str(v) for v in values)


def _check_columns(
    ids: list[int], lines: list[bytes], columns: list[tuple[Any, ...]], table: str, chains: _Chains
) -> None:
    """The indexed columns are what search filters on, and the hash covers only the record:
    each row's columns must equal what its record says (an ``UPDATE`` of a column is reported)."""
    try:
        if list(map(_record_columns, map(orjson.loads, lines))) == columns:
            return  # the usual case: one pass in C-level maps, one list comparison
    except (orjson.JSONDecodeError, AttributeError):
        pass  # a corrupt record (the chain check reports it): row by row below
    for row_id, line, stored in zip(ids, lines, columns, strict=True):
        try:
            d = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(d, dict):
            continue
        expected = _record_columns(d)
        if stored == expected:
            continue
        got, want = _as_text(stored), _as_text(expected)
        if got == want:  # e.g. a number stored as text
            continue
        names = [n for n, g, w in zip(COLUMNS, got, want, strict=False) if g != w]
        detail = ", ".join(f"{n} {g!r} (record: {w!r})" for n, g, w in zip(COLUMNS, got, want, strict=False) if g != w)
        seq = d.get("seq")
        chains.add(
            Problem(
                "column_mismatch",
                table,
                row_id,
                seq if type(seq) is int else None,
                str(d.get("writer")),
                f"the indexed column{'s' if len(names) > 1 else ''} {detail} disagree"
                f"{'' if len(names) > 1 else 's'} with the hashed record: edited after it was written "
                "(searches on them miss or mislead)",
            )
        )


def _scan_lines(
    numbered: Iterable[tuple[int, bytes]], where: str, chains: _Chains
) -> tuple[list[str], dict[str, list[int]]]:
    """Check lines in storage order: an inlined fast path for the common case (the record
    chains to its writer's previous one), `_Chains.check` for everything else."""
    hashes: list[str] = []
    append = hashes.append
    writers: dict[str, list[int]] = {}
    state = chains.state
    # writer id bytes -> [writer, next seq as canonical text + the writer member that follows it,
    # last hash as bytes, writers entry]: what the fast path compares without decoding or
    # parsing anything. Consecutive records usually share a writer: its entry is tried first.
    fast: dict[bytes, list[Any]] = {}
    last: list[Any] | None = None
    sha = hashlib.sha256
    count = 0
    suffix = HASH_SUFFIX_LEN
    for number, raw in numbered:
        if not raw:
            continue
        if (
            raw[-suffix:-66] == _HASH_KEY
            and raw[-2:] == b'"}'
            and raw[73:81] == b'","seq":'
            and raw[:9] == b'{"prev":"'
        ):
            f = last
            if f is None or raw[81 : 81 + len(f[1])] != f[1]:
                end = raw.find(b',"writer":"', 81)
                f = fast.get(raw[end + 11 : raw.find(b'"', end + 11)]) if end > 81 else None
                if f is not None and raw[81 : 81 + len(f[1])] != f[1]:
                    f = None
            if f is not None and raw[9:73] == f[2]:
                claimed = raw[-66:-2]
                digest = sha(raw[:-suffix] + b"}").hexdigest()
                if digest == claimed.decode("ascii", "replace"):
                    w = f[3]
                    seq = w[1] = w[1] + 1
                    f[1] = b'%d,"writer":"%s",' % (seq + 1, f[4])
                    f[2] = claimed
                    state[f[0]] = (seq, digest, where, number)
                    append(digest)
                    count += 1
                    last = f
                    continue
        # Anything else (a writer's first record here, or a problem): the careful path.
        last = None
        claimed2, writer2, seq2 = chains.check(raw, where, number)
        append(claimed2)
        if writer2 is not None and seq2 is not None:
            w2 = writers.get(writer2)
            if w2 is None:
                w2 = writers[writer2] = [seq2, seq2, number]
            else:
                w2[1] = seq2
            st = state[writer2]
            wb = writer2.encode()
            if st[0] == seq2:  # the chain continues from this record
                fast[wb] = [writer2, b'%d,"writer":"%s",' % (seq2 + 1, wb), st[1].encode(), w2, wb]
            else:
                fast.pop(wb, None)
    chains.report.records += count
    return hashes, writers


def _finish_tail(tail: bytes, count: int, where: str, chains: _Chains, *, active: bool) -> None:
    if tail:
        number = count + 1
        if active:
            chains.report.torn = Problem(
                "torn",
                where,
                number,
                None,
                None,
                f"the last line ({len(tail)} bytes) is incomplete: a crash mid-write; run verify --repair",
            )
        else:
            chains.check(tail, where, number)
            chains.add(Problem("corrupt", where, number, None, None, "a sealed segment must end with a newline"))


def _check_digest(
    digest: dict[str, Any],
    dpath: Path,
    policy: _Policy,
    prev_digest: str,
    chains: _Chains,
) -> bool | None:
    """Check a digest's place in the digest chain and its signature (see `_check_signature`)."""
    name = dpath.name
    if digest.get("prev_digest") != prev_digest:
        chains.add(
            Problem(
                "digest_chain",
                name,
                None,
                None,
                None,
                "the digest chain is broken here: an earlier segment and its digest were removed, "
                "or a digest was replaced",
            )
        )
    return _check_signature(
        digest,
        name,
        policy,
        chains,
        "digest_signature",
        "digest",
        "the signature does not verify with key {key_id!r}: the digest was forged or signed with another key",
    )


def _leaf(claimed: str | bytes) -> bytes:
    try:
        return binascii.unhexlify(claimed) if len(claimed) == 64 else b""
    except (binascii.Error, ValueError):
        return b""


def _check_signature(  # noqa: PLR0911 - one return per outcome
    entry: dict[str, Any],
    name: str,
    policy: _Policy,
    chains: _Chains,
    kind: str,
    what: str,
    forged: str = "the {what}'s signature does not verify with key {key_id!r}: forged",
) -> bool | None:
    """Check a signed entry (a digest or a head line): True when it carries a valid signature
    from a known key, False when a problem was reported (as ``policy`` demands), None when it was
    accepted unchecked (unsigned, or no keys, and the policy allows it)."""
    algorithm = entry.get("algorithm")
    keys = policy.keys
    if not _signed(entry):
        if policy.require_signed:
            because = "verification keys were given" if keys else "the log was signed by its writer"
            if not policy.enforce:
                because = "signatures are required"
            chains.add(
                Problem(
                    kind,
                    name,
                    None,
                    None,
                    None,
                    f'the {what} is not signed ("algorithm": "none") but {because}: rewritten without the key, '
                    "or written by an unsigned writer (verify with allow_unsigned / --allow-unsigned to accept)",
                )
            )
            return False
        return None
    if not keys:
        if policy.enforce:
            chains.add(
                Problem(
                    "unknown_key",
                    name,
                    None,
                    None,
                    None,
                    f"the {what} is signed ({algorithm}, key_id {entry.get('key_id')!r}) but no verification key "
                    "was given: pass the key (--hmac-key / --ed25519-key), or allow_unsigned / --allow-unsigned "
                    "to check the chains only",
                )
            )
            return False
        if _NOT_CHECKED not in chains.report.warnings:
            chains.report.warnings.append(_NOT_CHECKED)
        return None
    signature = entry.get("signature")
    key_id = str(entry.get("key_id"))
    result = keys.verify(str(algorithm), key_id, signed_part(entry), signature) if isinstance(signature, str) else False
    if result is None:
        chains.add(
            Problem(
                "unknown_key",
                name,
                None,
                None,
                None,
                f"no {algorithm} key with key_id {key_id!r} to check the {what}'s signature",
            )
        )
        return False
    if not result:
        chains.add(Problem(kind, name, None, None, None, forged.format(what=what, key_id=key_id)))
        return False
    return True


def _compare(
    digest: dict[str, Any],
    seg: Path,
    sha256: str,
    hashes: list[str | bytes],
    writers: dict[str, list[int]],
    chains: _Chains,
    before: int,
) -> None:
    if digest.get("sha256") == sha256 and digest.get("count") == len(hashes):
        return
    if len(chains.report.problems) > before:
        return  # the chain check already pinpointed a bad record in this segment
    name = seg.name
    dw: dict[str, Any] = digest.get("writers") or {}
    for writer, (first, _last, line) in writers.items():
        if writer not in dw:
            chains.add(
                Problem(
                    "digest_mismatch",
                    name,
                    line,
                    first,
                    writer,
                    f"records of writer {writer} are not covered by the digest: inserted",
                )
            )
            return
    for writer, info in dw.items():
        got = writers.get(writer)
        if got is None or got[1] < info.get("last_seq", -1):
            last = -1 if got is None else got[1]
            chains.add(
                Problem(
                    "gap",
                    name,
                    len(hashes) + 1,
                    last + 1,
                    writer,
                    f"the segment ends at seq {last} of writer {writer} but its digest covers up to "
                    f"seq {info.get('last_seq')}: truncated",
                )
            )
            return
    count = digest.get("count")
    root = merkle_root([_leaf(h) for h in hashes])
    what = f"holds {len(hashes)} records, digest says {count}" if count != len(hashes) else "the Merkle root differs"
    if count == len(hashes) and root == digest.get("merkle_root"):
        what = "the file's bytes differ from the digest (blank lines or whitespace added)"
    chains.add(
        Problem("digest_mismatch", name, None, None, None, f"{what}: records were inserted, removed or reordered")
    )


def verify(
    source: str | os.PathLike[str],
    *,
    keys: Keyring | None = None,
    require_signatures: bool = False,
    max_problems: int = 100,
    progress: Callable[[int], None] | None = None,
    require_checkpoint: bool = False,
    allow_unsigned: bool = False,
    since: str | int | None = None,
    until: str | int | None = None,
) -> VerifyReport:
    """Verify an audit log: a JSONL file (with its sealed segments), a directory of them,
    a ``sqlite://`` path or a ``postgresql://`` DSN.

    Args:
        source: what to verify.
        keys: verification keys. Given keys (or when any digest or head entry says its writer
            signed), every digest and head entry must carry a valid signature from a known key,
            the log must have a signed head, and every writer's last record must be covered by a
            signed head entry or digest: an unsigned (``"algorithm": "none"``), unknown-key or
            missing signature is a problem. Without keys, an unsigned log is checked by its
            chains and a warning says what that can and cannot prove.
        require_signatures: report unsigned digests and head entries as problems.
        max_problems: stop collecting after this many findings.
        progress: called with the bytes (files: read on disk so far over the whole verify, a
            ``.gz`` file's compressed bytes, so it ends at the log files' total size) or rows
            (databases) processed so far.
        require_checkpoint: report a log without signed checkpoints (a JSONL file's
            ``<file>.head``, a database's ``audit_events_heads`` table) as a problem. Without it
            a head file is required only when the log's digests say the writer kept one.
        allow_unsigned: the explicit opt-out: accept unsigned digests and heads (and a signed
            log verified without keys); signatures that are present are still checked with the
            keys given.
        since: with ``until``, a time window (ISO 8601 or ns) to check for missing periods: a
            log sealed on time (a JSONL sink's ``rotate_interval_s``, heartbeat digests when
            idle; a SQLite or PostgreSQL sink's ``seal_interval_s``, seal rows in
            ``<table>_seals``) must have a seal at least every interval in it; a longer stretch
            without one is a ``missing_period`` problem (the writer was down, or segments or
            seal rows were removed). Default ``until``: now.
        until: the window's end (exclusive).

    Raises:
        AuditReadError: the source does not exist, cannot be read, or is not an audit log.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, verify
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> with AuditLogger(path, service="billing") as audit:
        ...     for i in range(3):
        ...         event_id = audit.record("invoice.update", actor=Actor("u-1"), extra={"i": i})
        >>> verify(path).ok
        True
        >>> lines = path.read_bytes().splitlines(keepends=True)
        >>> _ = path.write_bytes(lines[0] + lines[2])  # the middle record deleted
        >>> print(verify(path).first)
        gap: audit.jsonl:2 seq 2: ...

        The same from a shell: ``maestro-audit verify audit.jsonl`` (exit status 1 when not intact).
    """
    text = os.fspath(source)
    window = _window(since, until)
    if where(text).is_database:
        report = VerifyReport(text)
        chains = _Chains(report, max_problems)
        table = "audit_events"
        # The checkpoints first: they are committed with the rows they name.
        heads = database_heads(text, table=table)
        entries = parse_heads("\n".join(heads).encode()) if heads else None
        seals = [parse_seal(e, table) for e in database_seals(text, table=table) or ()] if window else []
        claims = any(map(_signed, entries or ())) or any(_signed(e) for e in seals if e is not None)
        policy = _Policy.make(keys, require_signatures, allow_unsigned, claims)
        scratch: dict[str, list[int]] = {}
        columns: list[list[tuple[Any, ...]]] = []
        for ids, lines in database_chunks(text, size=_CHUNK, progress=progress, table=table, columns=columns):
            chains.note_ids(b"\n".join(lines), lines, ids)
            _scan_rows(ids, lines, table, chains, scratch)
            if chains.dups:
                chains.report_dups(table)
            _check_columns(ids, lines, columns[0], table, chains)
        _check_database_heads(heads, table, chains, policy, required=require_checkpoint)
        if window is not None:
            _check_database_seals(seals, table, window, chains, policy)
        _note_unsigned(report, policy)
        report.writers = len(chains.state)
        return report
    path = Path(text)
    families = source_families(path)
    if not path.exists() and not list_units(path) and not rotations(path):
        raise AuditReadError(f"{path} does not exist")
    report = VerifyReport(text)
    meter = None if progress is None else _Meter(progress)
    if not path.is_dir():
        flags = (require_signatures, allow_unsigned)
        _verify_family(path, report, keys, flags, max_problems, meter, require_checkpoint, window)
        return report
    checked = 0
    for family in families:
        if not is_audit_family(family):
            report.warnings.append(f"skipped {family.name}: not an audit log")
            continue
        _verify_family(
            family,
            report,
            keys,
            (require_signatures, allow_unsigned),
            max_problems,
            meter,
            require_checkpoint,
            window,
        )
        checked += 1
    if not checked:
        raise AuditReadError(f"{path} holds no audit log")
    return report


def _note_unsigned(report: VerifyReport, policy: _Policy) -> None:
    """Record what ``policy`` demanded, and one line on what an unsigned log proves."""
    report.signatures_required = report.signatures_required or policy.enforce
    if policy.unsigned and UNSIGNED_NOTE not in report.warnings:
        report.warnings.append(UNSIGNED_NOTE)


def _verify_family(
    active: Path,
    report: VerifyReport,
    keys: Keyring | None,
    flags: tuple[bool, bool],
    max_problems: int,
    meter: _Meter | None,
    require_checkpoint: bool = False,
    window: tuple[int, int] | None = None,
) -> None:
    chains = _Chains(report, max_problems)
    snapshot = take(active)
    try:
        _verify_snapshot(active, report, chains, keys, flags, meter, snapshot, require_checkpoint)
    finally:
        snapshot.close()
    report.writers += len(chains.state)
    if window is not None:
        _check_coverage(active, snapshot.stems, snapshot.digests, window, chains)


def _window(since: str | int | None, until: str | int | None) -> tuple[int, int] | None:
    """``(since, until)`` in ns (until defaults to now), or None when no window was asked for."""
    if since is None and until is None:
        return None
    from maestro_audit_logger._clock import ns_from_iso, to_iso

    lo = to_iso(since, "since")
    hi = to_iso(until, "until")
    lo_ns = ns_from_iso(lo) if lo is not None else 0
    hi_ns = ns_from_iso(hi) if hi is not None else time.time_ns()
    if hi_ns <= lo_ns:
        raise AuditReadError("until must be later than since")
    return lo_ns, hi_ns


def _check_coverage(
    active: Path, stems: list[str], digests: dict[str, dict[str, Any] | None], window: tuple[int, int], chains: _Chains
) -> None:
    """Report the stretches of ``window`` no sealed segment covers (see `_coverage`)."""
    intervals = [
        d["interval_s"] for d in digests.values() if d is not None and isinstance(d.get("interval_s"), int | float)
    ]
    seals = [int(stem.rsplit(".", 1)[1]) for stem in stems]
    words = ("digest", "rotate_interval_s", "segments and digests")
    _report_missing(active.name, seals, intervals, window, chains, words)


def _check_database_seals(
    seals: list[dict[str, Any] | None], table: str, window: tuple[int, int], chains: _Chains, policy: _Policy
) -> None:
    """Report the stretches of ``window`` no timed seal row covers (`_dbseal`): only seals whose
    signature verifies (or that the policy accepts unsigned) count."""
    name = seals_table(table)
    times: list[int] = []
    intervals: list[float] = []
    for entry in seals:
        if entry is None:
            chains.add(Problem("checkpoint", name, None, None, None, "a seal entry of another table or malformed"))
            continue
        if _check_signature(entry, name, policy, chains, "checkpoint_signature", "seal") is False:
            continue
        times.append(entry["sealed_ns"])
        intervals.append(entry["interval_s"])
    _report_missing(table, times, intervals, window, chains, ("seal", "seal_interval_s", "seal rows"))


def _report_missing(
    name: str,
    seals: list[int],
    intervals: list[float],
    window: tuple[int, int],
    chains: _Chains,
    words: tuple[str, str, str],
) -> None:
    """Each stretch of ``window`` the ``seals`` (ns) leave uncovered is a ``missing_period``
    (``words``: what records the interval, its option, what a deletion would have removed)."""
    what, option, removed = words
    from maestro_audit_logger._clock import iso_from_ns
    from maestro_audit_logger._coverage import missing_periods

    if not intervals:
        chains.report.warnings.append(
            f"{name}: no {what} records a sealing interval ({option}): a missing period cannot be told from a quiet one"
        )
        return
    interval = max(intervals)
    for start, end in missing_periods(seals, interval, *window):
        chains.add(
            Problem(
                "missing_period",
                name,
                None,
                None,
                None,
                f"nothing sealed from {iso_from_ns(start)} to {iso_from_ns(end)} (a seal is due every "
                f"{interval:g} s, heartbeats included): the writer was down, or {removed} were removed",
            )
        )


def _verify_snapshot(  # noqa: PLR0912 - one pass over the family, in order
    active: Path,
    report: VerifyReport,
    chains: _Chains,
    keys: Keyring | None,
    flags: tuple[bool, bool],
    meter: _Meter | None,
    snapshot: Snapshot,
    checkpointed: bool,
) -> None:
    head, stems, digests, present, opened, rotated = snapshot
    prev_digest = GENESIS
    entries = parse_heads(head) if isinstance(head, bytes) else None
    claims = any(_signed(d) for d in digests.values() if d is not None) or any(map(_signed, entries or ()))
    policy = _Policy.make(keys, flags[0], flags[1], claims)
    _note_unsigned(report, policy)
    covered: dict[str, int] = {}  # writer -> last seq sealed in a validly signed digest
    seen_present = False
    _scan_rotated(rotated, chains, meter)
    for stem in stems:
        seg = active.with_name(stem)
        dpath = active.with_name(stem + DIGEST_SUFFIX)
        digest = digests[stem]
        if stem in present and digest is None:
            chains.add(Problem("digest_mismatch", dpath.name, None, None, None, "the digest file is corrupt"))
        if digest is not None:
            if _check_digest(digest, dpath, policy, prev_digest, chains):
                for writer, info in (digest.get("writers") or {}).items():
                    if isinstance(info, dict) and type(info.get("last_seq")) is int:
                        covered[writer] = max(covered.get(writer, -1), info["last_seq"])
            prev_digest = digest_hash(digest)
            checkpointed = checkpointed or digest.get("checkpoint") is True
        if not seg.exists():
            if digest is not None and not seen_present:
                report.pruned += 1
                for writer, info in (digest.get("writers") or {}).items():
                    chains.seed(writer, int(info.get("last_seq", 0)), str(info.get("last_hash", GENESIS)))
                continue
            chains.add(
                Problem("segment_missing", stem, None, None, None, "a sealed segment was removed (its digest remains)")
            )
            continue
        seen_present = True
        report.segments += 1
        before = len(report.problems)
        hashes, writers, tail, count, _, sha256 = _scan(
            seg, seg.name, chains, want_sha=digest is not None, check_foreign=report.records == 0, meter=meter
        )
        _finish_tail(tail, count, seg.name, chains, active=False)
        if digest is None:
            chains.add(
                Problem(
                    "digest_missing",
                    seg.name,
                    None,
                    None,
                    None,
                    "a sealed segment has no digest (removed, or a crash before sealing)",
                )
            )
        else:
            _compare(digest, seg, sha256, hashes, writers, chains, before)
    if opened is not None or active.is_dir():
        _, _, tail, count, size, _ = _scan(
            active, active.name, chains, want_sha=False, check_foreign=report.records == 0, opened=opened, meter=meter
        )
        if not (tail and opened is not None and _line_in_flight(opened, size)):
            _finish_tail(tail, count, active.name, chains, active=True)
    attested = _check_heads(active, head, chains, policy, required=checkpointed or policy.enforce)
    if policy.enforce and attested is not None:
        _check_attested(chains, policy, attested, covered, head_path(active).name, lambda: _reread_head(active))


def _scan_rotated(rotated: list[tuple[Path, BinaryIO]], chains: _Chains, meter: _Meter | None) -> None:
    """Check logrotate's rotations (the family's oldest records, renamed away from the active
    file), oldest first."""
    if rotated:
        # logrotate's retention deletes the oldest rotation: chains may start in the oldest left.
        chains.oldest_rotation = rotated[0][0].name
    for path, fh in rotated:
        _, _, tail, count, size, _ = _scan(
            path, path.name, chains, want_sha=False, check_foreign=chains.report.records == 0, opened=fh, meter=meter
        )
        if not (tail and _line_in_flight(fh, size)):  # a writer may still append to its renamed file
            _finish_tail(tail, count, path.name, chains, active=True)


def _reread_head(active: Path) -> list[dict[str, Any]]:
    data = read_head(active)
    return (parse_heads(data) or []) if isinstance(data, bytes) else []


def _check_attested(
    chains: _Chains,
    policy: _Policy,
    attested: dict[str, int],
    covered: dict[str, int],
    name: str,
    reread: Callable[[], list[dict[str, Any]]],
) -> None:
    """With signatures enforced, every writer's last record must be covered by a validly signed
    head entry or digest: a chain nothing signed was written by someone without the key.

    Records past a writer's signed head entry are a write in flight (the head is updated after
    the data) or a crash between the two: re-read the head once, then warn about what is left."""
    loose = {w: st[0] for w, st in chains.state.items() if max(attested.get(w, -1), covered.get(w, -1)) < st[0]}
    if not loose:
        return
    fresh: dict[str, int] = {}
    for entry in reread():
        writer, seq = entry.get("writer"), entry.get("seq")
        if isinstance(writer, str) and type(seq) is int and writer in loose and _signed(entry):
            # Only a signed entry that verifies counts (a scratch report keeps problems out).
            scratch = _Chains(VerifyReport(""), 1)
            if _check_signature(entry, name, policy, scratch, "checkpoint_signature", "checkpoint"):
                fresh[writer] = seq
    for writer, last in loose.items():
        signed_up_to = max(attested.get(writer, -1), covered.get(writer, -1), fresh.get(writer, -1))
        if signed_up_to >= last:
            continue
        st = chains.state[writer]
        if signed_up_to < 0:
            chains.add(
                Problem(
                    "checkpoint",
                    name,
                    None,
                    last,
                    writer,
                    f"writer {writer} has records (to seq {last}, at {st[2]}:{st[3]}) that no signed head entry "
                    "or digest covers: written or replaced by someone without the key",
                )
            )
        else:
            note = (
                f"records {signed_up_to + 1}-{last} of writer {writer} come after its last signed checkpoint "
                f"(seq {signed_up_to}): a write in flight, or a crash before the head was updated; "
                "no signature covers them yet"
            )
            if note not in chains.report.warnings:
                chains.report.warnings.append(note)


def _check_heads(
    active: Path,
    data: bytes | str | None,
    chains: _Chains,
    policy: _Policy,
    *,
    required: bool,
) -> dict[str, int] | None:
    """Compare each writer's signed checkpoint with where its chain ends in the files; returns
    what `_check_head_entries` returns, or None when the head file itself was reported."""
    name = head_path(active).name
    if data is None:
        if required:
            message = "the head file is missing (removed?)"
            if policy.enforce:
                message = (
                    "the head file is missing: a signed log must end in a signed head "
                    "(removed, or the log was replaced by one written without the key?)"
                )
            chains.add(Problem("checkpoint", name, None, None, None, message))
            return None
        return {}
    if isinstance(data, str):
        chains.add(Problem("checkpoint", name, None, None, None, data))
        return None
    entries = parse_heads(data)
    if entries is None:
        chains.add(Problem("checkpoint", name, None, None, None, "the head file is corrupt (or torn by a crash)"))
        return None
    if not entries and policy.enforce:
        chains.add(Problem("checkpoint", name, None, None, None, "the head file holds no signed entry"))
        return None
    return _check_head_entries(entries, name, active.name, chains, policy)


def _check_head_entries(
    entries: list[dict[str, Any]],
    name: str,
    log: str,
    chains: _Chains,
    policy: _Policy,
) -> dict[str, int]:
    """Each entry names a writer's last record: fewer records is a gap, another hash a replacement.

    Returns each writer's seq as named by its entry: validly signed entries with their seq,
    entries already reported as a problem with a seq of ``_REPORTED`` (nothing more to say)."""
    attested: dict[str, int] = {}
    for entry in entries:
        writer = str(entry.get("writer"))
        seq = entry.get("seq")
        if entry.get("file") != log or type(seq) is not int:
            chains.add(Problem("checkpoint", name, None, None, writer, "a head entry of another log or malformed"))
            attested[writer] = _REPORTED
            continue
        valid = _check_signature(entry, name, policy, chains, "checkpoint_signature", "checkpoint")
        if valid is False:
            attested[writer] = _REPORTED
            continue
        attested[writer] = _REPORTED  # unless it proves sound below
        st = chains.state.get(writer)
        last = -1 if st is None else st[0]
        if last < seq:
            missing = f"{last + 1}" if seq == last + 1 else f"{last + 1}-{seq}"
            chains.add(
                Problem(
                    "gap",
                    log if st is None else st[2],
                    None if st is None else st[3] + 1,
                    last + 1,
                    writer,
                    f"records {missing} of writer {writer} are missing: its signed checkpoint says it reached seq "
                    f"{seq}, the log ends at seq {last} (deleted from the end, or lost in a power failure "
                    "under a non-durable mode)",
                )
            )
        elif last == seq and st is not None and st[1] != entry.get("hash"):
            chains.add(
                Problem(
                    "modified",
                    st[2],
                    st[3],
                    seq,
                    writer,
                    f"the last record of writer {writer} is not the one its signed checkpoint recorded: replaced",
                )
            )
        elif valid:
            attested[writer] = seq
        else:
            del attested[writer]  # accepted unsigned: attests nothing
    return attested


def _check_database_heads(
    raw: list[str] | None,
    table: str,
    chains: _Chains,
    policy: _Policy,
    *,
    required: bool,
) -> None:
    from maestro_audit_logger.sinks.database import heads_table

    name = heads_table(table)
    if not raw:
        if raw is not None and chains.state:
            # Sinks create the table in the transaction that stores their first rows and entry,
            # so an empty table next to rows means its entries were deleted.
            chains.add(
                Problem(
                    "checkpoint",
                    name,
                    None,
                    None,
                    None,
                    f"the checkpoint table is empty while {len(chains.state)} writer(s) have rows: "
                    "its signed entries were deleted",
                )
            )
        elif required or policy.enforce:
            message = "the checkpoint table is missing or empty"
            if policy.enforce:
                message += ": a signed log must have a signed checkpoint for each writer (removed?)"
            chains.add(Problem("checkpoint", name, None, None, None, message))
        return
    entries = parse_heads("\n".join(raw).encode())
    if entries is None:
        chains.add(Problem("checkpoint", name, None, None, None, "a checkpoint row is corrupt"))
        return
    attested = _check_head_entries(entries, name, table, chains, policy)
    if policy.enforce:
        # Rows and their entry are committed in one transaction: nothing is in flight.
        _check_attested(chains, policy, attested, {}, name, list)


def _line_in_flight(fh: BinaryIO, offset: int) -> bool:
    """Whether an incomplete last line is a live writer's, not a crash's: writers hold a shared
    ``flock`` while appending, so once we hold it exclusively every started write is complete.
    Nobody appends to a gzip-compressed file (a rotated log): its torn line is a crash's."""
    if isinstance(cast(object, fh), gzip.GzipFile):
        return False
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            more = os.pread(fh.fileno(), 1 << 20, offset)
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
    except OSError:
        return False
    return b"\n" in more


def repair(path: str | os.PathLike[str], *, signer: Signer | None = None) -> Problem | None:
    """Repair what a crash leaves, as the sink would on its next start: truncate a torn last line
    of an active JSONL file (recording an ``audit.repair`` event), and seal segments a crash left
    between a rotation's rename and its seal (``digest_missing``).

    Args:
        path: the active JSONL file (it may be gone when the crash came mid-rotation).
        signer: signs the repairing writer's head entry and the digests it writes. Give the log's
            signer when the log is signed: an unsigned writer's ``audit.repair`` event and
            unsigned digests are reported by `verify` with keys (nothing signed covers them).

    Returns:
        The finding that was repaired (the torn tail first), or None when nothing needed it.

    Raises:
        AuditReadError: ``path`` is not an audit log file.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from maestro_audit_logger import Actor, AuditLogger, repair, verify
        >>> path = Path(tempfile.mkdtemp()) / "audit.jsonl"
        >>> with AuditLogger(path, service="billing") as audit:
        ...     event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> with path.open("ab") as fh:  # a crash tore the last line
        ...     _ = fh.write(b'{"prev":"00')
        >>> print(repair(path))
        torn: audit.jsonl:2: removed an incomplete last line of 11 bytes
        >>> verify(path).ok
        True
    """
    from maestro_audit_logger.sinks.file import JsonlFileSink

    target = Path(path)
    units = list_units(target)
    if target.is_dir() or not (target.is_file() or units):
        raise AuditReadError(f"{target} is not an audit log file")
    unsealed = [s for s in units if target.with_name(s).is_file() and not target.with_name(s + DIGEST_SUFFIX).exists()]
    found: Problem | None = None
    data = _read(target) if target.is_file() else b""
    if data and not data.endswith(b"\n"):
        line = data.count(b"\n") + 1
        tail = len(data) - (data.rfind(b"\n") + 1)
        found = Problem("torn", target.name, line, None, None, f"removed an incomplete last line of {tail} bytes")
    elif unsealed:
        found = Problem(
            "digest_missing",
            unsealed[0],
            None,
            None,
            None,
            f"sealed {len(unsealed)} segment(s) a crash left between rotation and sealing",
        )
    if found is None:
        return None
    # Opening the sink truncates the torn tail and seals leftover segments (under the lock
    # rotations take), exactly as a restarted writer does.
    sink = JsonlFileSink(target, repair_on_open=True, signer=signer)
    sink.flush()
    sink.close()
    return found


def iter_lines(paths: Iterable[Path]) -> Iterator[tuple[str, int, bytes]]:
    """(file name, line number, raw line) for every complete line of ``paths`` in order."""
    for p in paths:
        with p.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                if raw.endswith(b"\n"):
                    yield p.name, number, raw[:-1]
