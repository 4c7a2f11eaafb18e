"""Flush buffered events on SIGTERM (containers stop with it), chained to the app's handler.

Installed once per process by the first sink configured with ``buffered()`` durability, from
the main thread (Python only lets the main thread set handlers): the handler flushes every live
sink, then does what was there before it — calls the app's handler, ignores the signal if it was
ignored, or dies of it as the default action would (``SIG_DFL`` restored and the signal raised
again, so the exit status is still "killed by SIGTERM"). A handler the app installs *after* the
logger replaces this one: call ``audit.flush()`` (or `flush_live_sinks`) in it.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

#: How long the handler waits for the flush (seconds): a flush blocked on a lock the
#: interrupted main thread holds gives up after this instead of hanging the shutdown.
FLUSH_TIMEOUT_S = 10.0

_state: dict[str, Any] = {"installed": False, "previous": None}


def flush_live_sinks(timeout: float = FLUSH_TIMEOUT_S) -> bool:
    """Flush every open sink of this process (in a helper thread, bounded by ``timeout``);
    True when all finished. Failures are left to each sink's policy and stats.

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger, buffered
        >>> from maestro_audit_logger._signals import flush_live_sinks
        >>> from maestro_audit_logger.testing import MemorySink
        >>> audit = AuditLogger(MemorySink(), service="billing", durability=buffered())
        >>> event_id = audit.record("invoice.update", actor=Actor("u-1"))
        >>> flush_live_sinks(), len(audit.sink.records)
        (True, 1)
        >>> audit.close()
    """
    from maestro_audit_logger._sink import _live  # noqa: PLC0415 - avoids an import cycle

    def run() -> None:
        for sink in list(_live):
            if sink._closed:
                continue
            try:
                sink.flush()
            except Exception as exc:  # a shutdown flush must reach every sink
                sink.stats.last_error = f"flush on signal: {exc!r}"

    worker = threading.Thread(target=run, name="maestro-audit-signal-flush", daemon=True)
    worker.start()
    worker.join(timeout)
    return not worker.is_alive()


def _on_sigterm(signum: int, frame: Any) -> None:
    flush_live_sinks()
    previous = _state["previous"]
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    # The default action (or a handler set outside Python): die of the signal as before.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def flush_on_sigterm() -> bool:
    """Install the SIGTERM flush (idempotent); False when it cannot be installed here (not the
    main thread). Sinks configured with ``buffered()`` call it; call it yourself from the main
    thread if your loggers are built elsewhere.

    Examples:
        >>> from maestro_audit_logger._signals import flush_on_sigterm
        >>> flush_on_sigterm()
        True
    """
    if _state["installed"]:
        return True
    if threading.current_thread() is not threading.main_thread():
        return False
    _state["previous"] = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _on_sigterm)
    _state["installed"] = True
    return True
