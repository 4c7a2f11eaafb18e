"""Whether sync Playwright's driver connection survived a signal (Playwright before 1.64 loses it).

Sync Playwright runs its event loop in a greenlet of its own (the "dispatcher fiber") while a
call waits for the browser. A signal handler that raises while it waits — pytest-timeout's
``signal`` method, Ctrl-C's ``KeyboardInterrupt`` — raises inside that greenlet. Playwright
1.64 and later hand the exception to the waiting test and keep the loop; before 1.64 the
exception ends the greenlet, and from then on every sync call of that Playwright spins forever
at full CPU (it switches to the dead greenlet, which returns at once, and waits for a reply that
nothing will ever read). The browser fixtures ask ``driver_lost`` before each call of their own,
so a timed-out test on an older Playwright ends with a note instead of hanging the run.
"""

from __future__ import annotations

from typing import Final

from maestro_test_adapters.errors import AdapterUnavailableError

__all__ = ["LOST_NOTE", "driver_lost", "require_driver"]

LOST_NOTE: Final = (
    "maestro: no screenshot or trace: a signal (pytest-timeout, Ctrl-C) stopped Playwright while it waited, "
    "and Playwright before 1.64 loses its driver connection then; upgrade to playwright>=1.64 to keep the evidence"
)


def driver_lost(playwright_object: object) -> bool:
    """True when ``playwright_object`` (a sync ``Page``, ``BrowserContext``, ``Browser``...) can no
    longer reach its driver: its dispatcher greenlet has ended. Objects without one (async API,
    other versions' internals) are taken as connected."""
    fiber = getattr(playwright_object, "_dispatcher_fiber", None)
    return getattr(fiber, "dead", False) is True


def require_driver(playwright_object: object) -> None:
    """Raise ``AdapterUnavailableError`` instead of calling into a lost driver (which would hang)."""
    if driver_lost(playwright_object):
        raise AdapterUnavailableError(
            "playwright",
            "an earlier test was stopped by a signal (pytest-timeout, Ctrl-C) while Playwright waited, and "
            "Playwright before 1.64 loses its driver connection then: upgrade to playwright>=1.64",
        )
