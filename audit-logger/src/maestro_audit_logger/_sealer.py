"""Sealing on time when idle: a file sink with ``rotate_interval_s`` seals its active file when
the interval has passed even if nothing is written — an empty file too, as a heartbeat digest
(CloudTrail delivers a digest every hour, with or without log files); a database sink with
``seal_interval_s`` inserts a seal row the same way. So `verify --since/--until` can tell a
period the writer was down from a quiet one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from maestro_audit_logger._errors import AuditConfigError, AuditWriteError

if TYPE_CHECKING:
    from maestro_audit_logger._sink import SinkStats


class Sealable(Protocol):
    """What the sealer needs of a sink."""

    _clock: Callable[[], int]
    _opened_ns: int  # when the current interval began (the last seal, or the open)
    stats: SinkStats
    failure_types: tuple[type[BaseException], ...]

    def _can_seal(self) -> bool: ...  # open, with a store to seal

    def flush(self) -> None: ...

    def _rotate_on_time(self) -> None: ...  # seal now (restarting the interval)


#: The shortest wait between checks (seconds): an injected clock that stands still must not
#: turn the thread into a busy loop.
MIN_WAIT_S = 0.01


class TimedSealer:
    """One daemon thread per sink: it sleeps until the active file is due, then flushes what is
    held and rotates (seals) it, as a write at that moment would have."""

    def __init__(self, sink: Sealable, interval_s: float) -> None:
        self.sink = sink
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="maestro-audit-sealer", daemon=True)
        self._thread.start()

    def _due_in(self) -> float:
        age_s: float = (self.sink._clock() - self.sink._opened_ns) / 1e9
        return max(MIN_WAIT_S, self.interval_s - age_s)

    def _run(self) -> None:
        while not self._stop.wait(self._due_in()):
            sink = self.sink
            if not sink._can_seal():
                continue
            failures: tuple[type[BaseException], ...] = (AuditWriteError, OSError, *sink.failure_types)
            try:
                sink.flush()
                if (sink._clock() - sink._opened_ns) >= self.interval_s * 1e9:
                    sink._rotate_on_time()  # an empty file too: a heartbeat digest
            except failures as exc:  # the sink's failures
                sink.stats.last_error = f"timed seal: {exc!r}"
                sink._opened_ns = sink._clock()  # try again in an interval, not in a busy loop

    def stop(self) -> None:
        """Stop the thread and wait for it (unless called from it)."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()


def check_interval(name: str, value: float | None) -> float | None:
    """``value`` if it is None or a positive number of seconds, else `AuditConfigError`."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or not value > 0):
        raise AuditConfigError(f"{name} must be a positive number of seconds, got {value!r}")
    return value
