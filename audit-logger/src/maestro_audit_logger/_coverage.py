"""Missing periods: stretches of a time window that no sealed segment covers, for a writer that
seals at least every ``rotate_interval_s`` (heartbeat digests included).

Each segment's name carries the time it was sealed (the sink's clock) and its digest the sealing
interval. A writer that is up seals at least once per interval, so consecutive seals more than
1.5 intervals apart — or a window edge that far from the nearest seal — mean the writer was
down, or segments and their digests were removed: a period the log cannot vouch for.
"""

from __future__ import annotations

from collections.abc import Iterable

#: How late a seal may be, in intervals, before the time between is a missing period.
TOLERANCE = 1.5


def missing_periods(seals_ns: Iterable[int], interval_s: float, since_ns: int, until_ns: int) -> list[tuple[int, int]]:
    """The stretches of [``since_ns``, ``until_ns``) no segment covers: (start, end) in ns.

    A segment sealed at ``t`` covers [t - interval, t]; the active file covers from the last seal
    to the window's end if that is less than 1.5 intervals.

    Examples:
        >>> h = 3600 * 10**9
        >>> missing_periods([1 * h, 2 * h, 6 * h], 3600, 0, 6 * h)  # nothing sealed 2h-5h
        [(7200000000000, 18000000000000)]
        >>> missing_periods([1 * h, 2 * h, 3 * h], 3600, 0, 3 * h)
        []
    """
    interval = int(interval_s * 1e9)
    slack = int((TOLERANCE - 1) * interval)
    seals = sorted(seals_ns)
    before = [t for t in seals if t <= since_ns]
    cursor = before[-1] if before else since_ns  # covered up to here
    gaps: list[tuple[int, int]] = []
    # A virtual seal one interval after the window's end stands for the active file.
    for t in [*(t for t in seals if since_ns < t <= until_ns), until_ns + interval]:
        start = t - interval  # where the segment sealed at t began
        if start - cursor > slack:
            gaps.append((cursor, min(start, until_ns)))
        cursor = max(cursor, t)
    return gaps
