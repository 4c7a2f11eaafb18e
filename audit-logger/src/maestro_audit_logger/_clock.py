"""Time and identifiers: nanosecond UTC timestamps rendered fast, and UUIDv7 event ids."""

# ruff: noqa: PLC0415  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import os
import random
import time

# (second, "YYYY-MM-DDTHH:MM:SS"): one tuple, replaced whole, so threads never see half of it.
_second_prefix: tuple[int, str] = (-1, "")


def iso_from_ns(ns: int) -> str:
    """``ns`` since the epoch as ``YYYY-MM-DDTHH:MM:SS.fffffffffZ`` (UTC, lossless).

    The per-second prefix is cached: formatting through ``time``/``datetime`` costs more than
    the hash chain itself.
    """
    global _second_prefix  # noqa: PLW0603 - a one-entry cache
    seconds, frac = divmod(ns, 1_000_000_000)
    cached = _second_prefix
    if cached[0] != seconds:
        cached = _second_prefix = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return "%s.%09dZ" % (cached[1], frac)  # noqa: UP031 - faster than an f-string here


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
_getrandbits = _random.getrandbits
# (millisecond, "tttttttt-tttt-7"): the time-derived prefix of the ids of one millisecond.
_ms_prefix: tuple[int, str] = (-1, "")


def uuid7(ns: int | None = None) -> str:
    """A UUIDv7 (RFC 9562) string: 48-bit Unix milliseconds, version 7, 74 random bits."""
    global _ms_prefix  # noqa: PLW0603 - a one-entry cache
    ms = ((time.time_ns() if ns is None else ns) // 1_000_000) & 0xFFFFFFFFFFFF
    cached = _ms_prefix
    if cached[0] != ms:
        h = "%012x" % ms  # noqa: UP031
        cached = _ms_prefix = (ms, f"{h[:8]}-{h[8:]}-7")
    rand = _getrandbits(74)
    # rand_a (12 bits), then the variant bits 10 with the 62 bits of rand_b.
    return "%s%03x-%04x-%012x" % (  # noqa: UP031 - one formatting op is the fastest here
        cached[1],
        rand >> 62,
        0x8000 | ((rand >> 48) & 0x3FFF),
        rand & 0xFFFFFFFFFFFF,
    )
