"""A clock for the adapters' ``clock=`` setting that reaches the global timeout on an event.

A test of "the timeout kills the test in flight and keeps the finished results" must not depend
on how fast the machine is: with a real clock, a loaded machine may not even have started the
runner when a short timeout passes. ``DeadlineClock`` runs with real time until the named test
has started and the named results have arrived (through ``RunOptions.on_test_start`` and
``on_result``), then reads far past any deadline, so the adapter's own timeout path fires at
that point, whatever the load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from maestro_test_result_aggregator.model import TestResult

#: Added to the real time once the deadline is reached: past any timeout a test sets.
FAR_FUTURE = 1e9


class DeadlineClock:
    """Real monotonic time until ``started`` has started and every name in ``finished`` has a
    result; from then on, a time past every deadline."""

    def __init__(self, *, started: str, finished: Iterable[str] = ()) -> None:
        self._started = started
        self._waiting = set(finished)
        self._seen_start = False
        self._lock = threading.Lock()
        self.reached = threading.Event()

    def __call__(self) -> float:
        return time.monotonic() + (FAR_FUTURE if self.reached.is_set() else 0.0)

    def _update(self) -> None:
        if self._seen_start and not self._waiting:
            self.reached.set()

    def on_test_start(self, name: str) -> None:
        """Give this as ``RunOptions.on_test_start``."""
        with self._lock:
            self._seen_start = self._seen_start or name == self._started
            self._update()

    def on_result(self, result: TestResult) -> None:
        """Give this as ``RunOptions.on_result``."""
        with self._lock:
            self._waiting.discard(result.name)
            self._update()
