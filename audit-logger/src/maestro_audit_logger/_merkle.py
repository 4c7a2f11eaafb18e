"""RFC 6962 Merkle tree hash over record hashes (leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || l || r))."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def merkle_root(leaves: Sequence[bytes]) -> str:
    """The RFC 6962 Merkle Tree Hash of ``leaves`` (each a record's 32-byte hash), hex."""
    if not leaves:
        return EMPTY_ROOT
    sha = hashlib.sha256
    level = [sha(b"\x00" + leaf).digest() for leaf in leaves]
    # RFC 6962 splits at the largest power of two below n; building bottom-up pairwise while
    # carrying an odd last node up unchanged yields the same root.
    while len(level) > 1:
        nxt = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()
