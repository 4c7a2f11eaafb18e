"""Time and identifiers: nanosecond UTC timestamps rendered fast, and UUIDv7 event ids."""

# ruff: noqa: PLC0415  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import os
import random
import threading
import time

_cache = threading.local()


def iso_from_ns(ns: int) -> str:
    """``ns`` since the epoch as ``YYYY-MM-DDTHH:MM:SS.fffffffffZ`` (UTC, lossless).

    The per-second prefix is cached per thread: formatting through ``datetime`` costs more
    than the hash chain itself.
    """
    seconds, frac = divmod(ns, 1_000_000_000)
    cached = getattr(_cache, "value", None)
    if cached is not None and cached[0] == seconds:
        prefix: str = cached[1]
    else:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        _cache.value = (seconds, prefix)
    return f"{prefix}.{frac:09d}Z"


def ns_from_iso(text: str) -> int:
    """The inverse of `iso_from_ns` (also accepts fewer fractional digits or none)."""
    import calendar

    if not text.endswith("Z"):
        raise ValueError(f"not a UTC timestamp ending in Z: {text!r}")
    body = text[:-1]
    whole, _, frac = body.partition(".")
    struct = time.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    seconds = calendar.timegm(struct)
    digits = (frac + "000000000")[:9] if frac else "0"
    return seconds * 1_000_000_000 + int(digits)


# Event ids must be unique, not secret: a generator seeded from os.urandom (and reseeded in a
# forked child) avoids a system call per event.
_random = random.Random(os.urandom(32))  # noqa: S311 - unique ids, not secrets
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(32)))
_VERSION_VARIANT = (0x7 << 76) | (0x2 << 62)


def uuid7(ns: int | None = None) -> str:
    """A UUIDv7 (RFC 9562) string: 48-bit Unix milliseconds, version 7, 74 random bits."""
    ms = (time.time_ns() if ns is None else ns) // 1_000_000
    rand = _random.getrandbits(74)
    value = ((ms & 0xFFFFFFFFFFFF) << 80) | _VERSION_VARIANT | ((rand >> 62) << 64) | (rand & 0x3FFFFFFFFFFFFFFF)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
