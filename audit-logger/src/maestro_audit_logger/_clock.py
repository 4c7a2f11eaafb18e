"""Time and identifiers: nanosecond UTC timestamps rendered fast, and UUIDv7 event ids."""

# ruff: noqa: PLC0415  # optional and heavy modules are imported where used; wide internal signatures

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import threading
import time
from collections.abc import Iterator

from maestro_audit_logger._errors import AuditReadError

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
_getrandbits = _random.getrandbits
# The current millisecond's ids (RFC 9562, section 6.2, method 1, a fixed-length dedicated
# counter): (millisecond, "tttttttt-tttt-7aaa-vbbb-", counter). The first id of a millisecond
# draws 74 random bits: rand_a and the top 14 bits of rand_b go into the cached prefix, the low
# 48 bits of rand_b seed the counter (its top bit cleared, so it cannot overflow in practice:
# 2**47 ids per millisecond). Later ids of that millisecond only take the next counter value
# (`next()` on an itertools.count is atomic, so threads never share an id), which makes ids
# strictly increasing within a millisecond and costs one formatting operation per id.
_ms_state: tuple[int, str, Iterator[int]] = (-1, "", itertools.count())
_ms_lock = threading.Lock()


def _reset_after_fork() -> None:
    global _ms_state  # noqa: PLW0603 - a one-entry cache
    _random.seed(os.urandom(32))
    _ms_state = (-1, "", itertools.count())  # the child must not continue the parent's counter


os.register_at_fork(after_in_child=_reset_after_fork)


def _random_suffix(ms: int) -> tuple[str, int]:
    # ("tttttttt-tttt-7aaa-vbbb-", the 47 random low bits of rand_b).
    rand = _getrandbits(74)
    h = "%012x" % ms  # noqa: UP031
    prefix = "%s-%s-7%03x-%04x-" % (h[:8], h[8:], rand >> 62, 0x8000 | ((rand >> 48) & 0x3FFF))  # noqa: UP031
    return prefix, rand & 0x7FFFFFFFFFFF


def uuid7(ns: int | None = None) -> str:
    """A UUIDv7 (RFC 9562) string: 48-bit Unix milliseconds, version 7, 74 bits that are random
    for a millisecond's first id and count up from there (monotonic within the millisecond)."""
    global _ms_state  # noqa: PLW0603 - a one-entry cache
    ms = ((time.time_ns() if ns is None else ns) // 1_000_000) & 0xFFFFFFFFFFFF
    state = _ms_state
    if state[0] == ms:
        return state[1] + "%012x" % next(state[2])  # noqa: UP031 - faster than an f-string here
    with _ms_lock:
        state = _ms_state
        if state[0] < ms:  # a new millisecond: one random draw, a fresh counter
            prefix, start = _random_suffix(ms)
            state = _ms_state = (ms, prefix, itertools.count(start))
        elif state[0] > ms:  # an older time (another thread moved on, or a given past time)
            prefix, low = _random_suffix(ms)
            return prefix + "%012x" % low  # noqa: UP031
    return state[1] + "%012x" % next(state[2])  # noqa: UP031


TimeLike = str | dt.datetime | int | None


def to_iso(value: TimeLike, name: str) -> str | None:
    """A time bound as our ISO form: a datetime (naive = UTC), ns int, or ISO string."""
    if value is None:
        return None
    if isinstance(value, int):
        return iso_from_ns(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise AuditReadError(f"{name} must be an ISO 8601 time, got {value!r}") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return iso_from_ns((delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000)
    raise AuditReadError(f"{name} must be a datetime, an ISO string or nanoseconds, got {value!r}")
