"""Sync deadlines on the main thread: one ``SIGALRM`` interval timer shared by every ``Timeout``.

``with Timeout(s):`` and ``Timeout(s, sync_mode="signal")`` run the guarded code in the calling
thread. Python runs signal handlers only in the main thread, between bytecodes, and a handler
that raises interrupts a blocking system call (``time.sleep``, socket reads: PEP 475 retries a
call only when the handler returns). So the handler raises ``TimeoutExceeded`` inside the code
that overran, on time, and it unwinds like any exception.

The timer is lazy, like the async deadlines of ``_timeout``: a block arms ``ITIMER_REAL`` only
when its deadline is earlier than the one already armed, and leaving a block does not disarm it.
When the timer fires for blocks that already left, the handler re-arms for the earliest block
still running, or for nothing. A block entered after another one of the same length therefore
costs no system call at all: a monotonic reading, a list append and a pop. A forked child (whose
interval timer is not inherited) re-arms for the blocks it is still inside, and the timer is
disarmed at interpreter exit (a lazy firing after Python resets its handlers would kill the process).

Limits: the main thread only (``RuntimeError`` elsewhere); POSIX only (``signal.setitimer``); a C
extension that holds the GIL for a long time is interrupted only when it returns to Python; code
inside the block that catches ``Exception`` (or ``TimeoutError``) can swallow the timeout; and the
process's ``SIGALRM`` belongs to this module while a block runs (another Python handler found
installed, such as pytest-timeout's, is chained with its pending timer and handed back later;
code that re-arms ``ITIMER_REAL`` itself while a block runs breaks both).
"""

from __future__ import annotations

import atexit
import importlib
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from maestro_resilience._exceptions import TimeoutExceeded

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["ALARM", "SignalAlarm", "fired", "forget"]

_PENDING, _FIRED = 0, 2
_INF = float("inf")
_EARLY = 0.00005  # tolerance for clock rounding; a deadline later than this gets the timer re-armed

# signal.getsignal converts to enums in Python (~1 µs); the C function it wraps answers in ~40 ns
_getsignal: Callable[[int], Any] = getattr(importlib.import_module("_signal"), "getsignal", signal.getsignal)


class SignalAlarm:
    """The process-wide ``SIGALRM`` deadline stack (a singleton: ``ALARM``).

    Another ``SIGALRM`` user found installed (pytest-timeout's signal method, for one) is chained,
    not overridden: its handler and its pending timer are taken over, its handler runs when its
    own deadline passes, and it gets ``SIGALRM`` back the first time the timer fires with no block
    running.
    """

    def __init__(self) -> None:
        self.available = hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
        # without setitimer no thread is "the main one": every use is refused
        self.main = threading.main_thread().ident if self.available else -1
        self.signum = int(signal.SIGALRM) if self.available else 0
        self.active: list[list[Any]] = []  # [deadline, name, seconds, status] of blocks running, oldest first
        self.armed_at = _INF  # the monotonic deadline the interval timer is armed for
        self.foreign: Callable[[int, FrameType | None], Any] | None = None  # a chained SIGALRM handler
        self.foreign_at = _INF  # when the chained handler's own timer was due
        self.monotonic = time.monotonic
        self.get_ident = threading.get_ident
        self.getsignal = _getsignal
        self.handler = self._fire  # one bound method, so the installed handler compares with ``is``

    def refusal(self) -> RuntimeError:
        """Why a signal deadline cannot be used in this thread."""
        if not self.available:
            return RuntimeError("a sync Timeout block needs signal.setitimer (POSIX): decorate the function instead")
        return RuntimeError(
            "a sync Timeout block (or sync_mode='signal') runs only in the main thread, where Python delivers "
            "SIGALRM: decorate the function with Timeout(..., sync_mode='thread') in other threads"
        )

    def enter(self, name: str, seconds: float) -> list[Any]:
        """Start a deadline ``seconds`` from now for the code about to run; call ``leave`` after it."""
        if self.get_ident() != self.main:
            raise self.refusal()
        now = self.monotonic()
        entry: list[Any] = [now + seconds, name, seconds, _PENDING]
        armed_at = self.armed_at
        if entry[0] < armed_at or armed_at < now or self.getsignal(self.signum) is not self.handler:
            self.arm(entry[0])
        self.active.append(entry)
        return entry

    def leave(self, entry: list[Any]) -> None:
        """The block of ``entry`` ended (the timer stays armed; it re-arms or stops when it fires)."""
        active = self.active
        if active and active[-1] is entry and entry[3] == _PENDING:
            active.pop()
        else:
            forget(active, entry)

    def arm(self, deadline: float) -> None:
        """Arm the interval timer for ``deadline`` (monotonic), installing the handler if needed."""
        handler = self.getsignal(self.signum)
        if handler is not self.handler:
            self._install(handler)
        if deadline < self.armed_at or self.armed_at < self.monotonic():
            self._set(deadline)

    def _set(self, deadline: float) -> None:
        self.armed_at = deadline
        signal.setitimer(signal.ITIMER_REAL, max(deadline - self.monotonic(), 1e-6))

    def _install(self, handler: Any) -> None:
        """Take ``SIGALRM``, chaining a Python handler found there with its pending timer."""
        remaining = signal.setitimer(signal.ITIMER_REAL, 0)[0]  # disarm while the handlers swap
        self.armed_at = _INF
        if callable(handler):
            self.foreign = handler
            self.foreign_at = self.monotonic() + remaining if remaining > 0 else _INF
        else:  # SIG_DFL, SIG_IGN or a handler set outside Python: nothing to chain
            self.foreign, self.foreign_at = None, _INF
        signal.signal(signal.SIGALRM, self.handler)
        if self.foreign_at != _INF:
            self._set(self.foreign_at)

    def at_exit(self) -> None:
        """Disarm before the interpreter resets signal handlers: a lazy timer firing later would kill it."""
        if not self.available or self.getsignal(self.signum) is not self.handler:
            return
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.armed_at = _INF
        foreign, self.foreign = self.foreign, None
        signal.signal(signal.SIGALRM, foreign if foreign is not None else signal.SIG_DFL)
        if foreign is not None and self.foreign_at != _INF:
            signal.setitimer(signal.ITIMER_REAL, max(self.foreign_at - self.monotonic(), 1e-6))

    def after_fork(self) -> None:
        """In a forked child: interval timers are not inherited, so re-arm for the blocks still running."""
        self.main = threading.get_ident() if self.available else -1  # the forking thread is the child's main one
        self.armed_at = _INF
        self.foreign_at = _INF
        pending = [entry[0] for entry in self.active if entry[3] == _PENDING]
        if pending and self.getsignal(self.signum) is self.handler:
            self._set(min(pending))

    def _fire(self, signum: int, frame: FrameType | None) -> None:
        """The ``SIGALRM`` handler: raise in the code that overran, re-arm for the next deadline."""
        self.armed_at = _INF
        now = self.monotonic() + _EARLY
        expired: list[Any] | None = None
        earliest = _INF
        for entry in list(self.active):  # the handler never changes the list: it may interrupt enter/leave
            if entry[3] != _PENDING:
                continue  # fired earlier, its exception still unwinding
            if entry[0] <= now:
                entry[3] = _FIRED
                if expired is None:
                    expired = entry  # the outermost expired block names the timeout
            elif entry[0] < earliest:
                earliest = entry[0]
        foreign = self.foreign
        due = foreign is not None and self.foreign_at <= now
        if due:
            self.foreign_at = _INF
        if foreign is not None and earliest == _INF:
            # no deadline of ours is pending: hand SIGALRM back, with the chained handler's timer
            self.foreign = None
            signal.signal(signal.SIGALRM, foreign)
            if not due and self.foreign_at != _INF:
                signal.setitimer(signal.ITIMER_REAL, max(self.foreign_at - now + _EARLY, 1e-6))
            self.foreign_at = _INF
        else:
            earliest = min(earliest, self.foreign_at)
            if earliest != _INF:
                self._set(earliest)
        if due and foreign is not None:
            foreign(signum, frame)
        if expired is not None:
            raise TimeoutExceeded(expired[1], expired[2])


ALARM = SignalAlarm()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=ALARM.after_fork)
atexit.register(ALARM.at_exit)


def fired(entry: list[Any]) -> bool:
    """True when the deadline of ``entry`` passed while its block ran."""
    return bool(entry[3] == _FIRED)


def forget(active: list[list[Any]], entry: list[Any]) -> None:
    """Take ``entry`` out of ``active`` (the slow path of leaving a block).

    The handler's exception can surface at any call boundary, including inside the bookkeeping of
    an inner block being entered or left, whose entry would then stay behind and fire later in
    unrelated code. Such an exception always unwinds through the block whose deadline fired, so
    when a FIRED entry leaves, entries above it are those leftovers and go with it. (A generator
    suspended inside its own ``with Timeout`` block across an expiry loses its deadline this way.)
    """
    for i in range(len(active) - 1, -1, -1):
        if active[i] is entry:
            if entry[3] == _FIRED:
                del active[i:]
            else:
                del active[i]
            return
