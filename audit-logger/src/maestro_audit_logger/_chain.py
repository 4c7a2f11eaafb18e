"""One writer's hash chain, written once: every sink links its events through a `Chain`.

A stored line is ``{"prev":"<hex>","seq":<n>,"writer":"<id>",<event members>,"hash":"<hex>"}``
where ``hash`` is the SHA-256 of the line without it (the hashed body, see
`maestro_audit_logger._canonical.chain_body`). Linking does not move the chain: a sink
advances it only over what its store has taken, so a failed write is chained again from the
same place.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from maestro_audit_logger._canonical import GENESIS


class Record(NamedTuple):
    """A chained record: the hashed body, the stored line (with hash and newline) and its fields."""

    body: bytes
    line: bytes
    hash: str
    writer: str
    seq: int
    prev: str


class Chain:
    """The next ``seq`` and the last ``prev`` hash of writer ``writer``.

    Examples:
        >>> chain = Chain("host/1/abc")
        >>> lines, last = chain.lines([b'{"action":"a.b"}', b'{"action":"a.c"}'])
        >>> chain.seq, chain.prev == last  # linking alone does not advance
        (0, False)
        >>> chain.advance(len(lines), last)
        >>> chain.seq, chain.prev == last
        (2, True)
        >>> [r.seq for r in Chain("host/1/abc").records([b'{"action":"a.b"}'])]
        [0]
    """

    __slots__ = ("_head", "prev", "seq", "writer")

    def __init__(self, writer: str, seq: int = 0, prev: str = GENESIS) -> None:
        self.writer = writer
        self.seq = seq
        self.prev = prev
        # The writer id is baked into the format (plain ASCII; a "%" escaped).
        self._head = b'{"prev":"%s","seq":%d,"writer":"' + writer.encode().replace(b"%", b"%%") + b'",%s'

    def advance(self, count: int, last_hash: str) -> None:
        """Move past ``count`` stored records, the last of which hashed to ``last_hash``."""
        self.seq += count
        self.prev = last_hash

    def resume(self, seq: int, prev: str) -> None:
        """Continue after the record ``seq - 1`` whose hash is ``prev`` (found in the store)."""
        self.seq = seq
        self.prev = prev

    def records(self, bodies: list[bytes]) -> list[Record]:
        """``bodies`` (canonical event bodies) linked from the current state, as `Record`s."""
        # `chain_body` and `seal_line` inlined: this loop runs once per event; records are
        # built with tuple.__new__ (NamedTuple._make costs a third of the loop).
        head = self._head
        writer = self.writer
        seq = self.seq
        prev_s = self.prev
        prev = prev_s.encode()
        sha = hashlib.sha256
        new = tuple.__new__
        out: list[Record] = []
        append = out.append
        for event_body in bodies:
            body = head % (prev, seq, event_body[1:])
            digest = sha(body).hexdigest()
            db = digest.encode()
            append(new(Record, (body, b'%s,"hash":"%s"}\n' % (body[:-1], db), digest, writer, seq, prev_s)))
            seq += 1
            prev = db
            prev_s = digest
        return out

    def lines(self, bodies: list[bytes]) -> tuple[list[bytes], str]:
        """`records` for stores that need only the stored lines: the same bytes, and the last hash."""
        head = self._head
        seq = self.seq
        digest = self.prev
        prev = digest.encode()
        sha = hashlib.sha256
        out: list[bytes] = []
        append = out.append
        for event_body in bodies:
            body = head % (prev, seq, event_body[1:])
            digest = sha(body).hexdigest()
            prev = digest.encode()
            append(b'%s,"hash":"%s"}\n' % (body[:-1], prev))
            seq += 1
        return out, digest
