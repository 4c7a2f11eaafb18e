"""Events emitted by policies (state changes, retries, rejections, timeouts, fallbacks)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Event", "EventListener", "LoggingListener", "add_global_listener", "remove_global_listener"]

LOGGER = logging.getLogger("maestro_resilience")


@dataclass(frozen=True, slots=True)
class Event:
    """Something a policy did that operators care about.

    Attributes:
        policy: the policy's name.
        kind: ``"state_change"``, ``"retry"``, ``"rejected"``, ``"timeout"``, ``"fallback"``,
            ``"storage_fallback"``, ``"storage_unavailable"``, ``"storage_rejoined"``, ``"chaos"``,
            ``"threshold_exceeded"``
            (a ``METRICS_ONLY`` breaker's window would have tripped).
        detail: kind-specific values (``old``/``new`` state, ``attempt``/``delay``, ``error``...).

    Examples:
        >>> from maestro_resilience import CircuitBreaker, Consecutive, Event
        >>> seen: list[Event] = []
        >>> breaker = CircuitBreaker("db", window=Consecutive(1), listeners=[seen.append])
        >>> try:
        ...     breaker.call(lambda: 1 / 0)
        ... except ZeroDivisionError:
        ...     pass
        >>> seen
        [Event(policy='db', kind='state_change', detail={'old': 'closed', 'new': 'open'})]
    """

    policy: str
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


EventListener = Callable[[Event], None]
"""A callable receiving every :class:`Event` of the policies it is attached to."""

_LEVELS = {
    "state_change": logging.WARNING,
    "storage_fallback": logging.WARNING,
    "storage_unavailable": logging.WARNING,
    "storage_rejoined": logging.WARNING,
    "threshold_exceeded": logging.WARNING,
    "retry": logging.INFO,
    "rejected": logging.DEBUG,
    "timeout": logging.INFO,
    "fallback": logging.INFO,
    "chaos": logging.INFO,
}


class LoggingListener:
    """Logs events to the ``maestro_resilience`` logger (attached globally by default).

    State changes, storage fallbacks and exceeded thresholds (``METRICS_ONLY``) at WARNING; retries,
    timeouts and fallbacks at INFO; rejections at DEBUG.

    Examples:
        >>> import logging
        >>> import sys
        >>> from maestro_resilience import CircuitBreaker, Consecutive, LoggingListener
        >>> logger = logging.getLogger("example.resilience")
        >>> logger.propagate = False
        >>> handler = logging.StreamHandler(sys.stdout)
        >>> logger.addHandler(handler)
        >>> breaker = CircuitBreaker("db", window=Consecutive(1), listeners=[LoggingListener(logger)])
        >>> try:
        ...     breaker.call(lambda: 1 / 0)
        ... except ZeroDivisionError:
        ...     pass
        db state_change old='closed' new='open'
        >>> logger.removeHandler(handler)
    """

    def __init__(self, logger: logging.Logger = LOGGER) -> None:
        self.logger = logger

    def __call__(self, event: Event) -> None:
        """Log one event."""
        level = _LEVELS.get(event.kind, logging.DEBUG)
        if self.logger.isEnabledFor(level):
            details = " ".join(f"{k}={v!r}" for k, v in event.detail.items())
            self.logger.log(level, "%s %s %s", event.policy, event.kind, details)


_GLOBAL: list[EventListener] = [LoggingListener()]


def add_global_listener(listener: EventListener) -> None:
    """Send every policy's events to ``listener`` too (e.g. metrics exporters).

    Examples:
        >>> from maestro_resilience import (
        ...     CircuitBreaker,
        ...     Consecutive,
        ...     Event,
        ...     add_global_listener,
        ...     remove_global_listener,
        ... )
        >>> seen: list[Event] = []
        >>> add_global_listener(seen.append)
        >>> try:
        ...     CircuitBreaker("anywhere", window=Consecutive(1)).call(lambda: 1 / 0)
        ... except ZeroDivisionError:
        ...     pass
        >>> remove_global_listener(seen.append)
        >>> [(event.policy, event.kind) for event in seen]
        [('anywhere', 'state_change')]
    """
    _GLOBAL.append(listener)
    _refresh()


def remove_global_listener(listener: EventListener) -> None:
    """Stop sending events to a listener added with :func:`add_global_listener` (or the default logger).

    Examples:
        >>> from maestro_resilience import Event, add_global_listener, remove_global_listener
        >>> def to_metrics(event: Event) -> None:
        ...     pass
        >>> add_global_listener(to_metrics)
        >>> remove_global_listener(to_metrics)  # policies stop calling it
    """
    _GLOBAL.remove(listener)
    _refresh()


def _refresh() -> None:
    _FLAGS[0] = any(not (type(g) is LoggingListener and g.logger is LOGGER) for g in _GLOBAL)
    _FLAGS[1] = any(type(g) is LoggingListener and g.logger is LOGGER for g in _GLOBAL)


# [a global listener other than the default logger exists, the default logger is attached]
_FLAGS = [False, True]
_LOGGER_CACHE: dict[int, bool] = vars(LOGGER)["_cache"]  # logging's per-level cache, cleared on level changes


def wants_debug_events(listeners: tuple[EventListener, ...]) -> bool:
    """Cheap check before building a frequent (DEBUG-level) event such as a rejection."""
    if listeners or _FLAGS[0]:
        return True
    if not _FLAGS[1]:
        return False
    enabled = _LOGGER_CACHE.get(10)
    return LOGGER.isEnabledFor(10) if enabled is None else enabled


def emit(listeners: tuple[EventListener, ...], policy: str, kind: str, **detail: Any) -> None:
    """Deliver an event to the policy's own listeners and the global ones; listener errors are logged."""
    event = Event(policy, kind, detail)
    for listener in (*listeners, *_GLOBAL):
        try:
            listener(event)
        except Exception:
            LOGGER.exception("event listener %r failed on %s", listener, kind)
