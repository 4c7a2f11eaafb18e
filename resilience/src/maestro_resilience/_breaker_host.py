"""The contract between a circuit breaker and the store that keeps its state.

The state names and outcome codes both sides speak; ``BreakerStore``: what the breaker asks of
its store, either its own memory (``_LocalStore`` in ``_breaker``) or Redis (``RedisStorage``);
and ``BreakerHost``: everything a storage may ask of the breaker it serves. A storage decides
with Redis; when Redis cannot answer it falls back to the breaker's own local state machine
through these calls, and tells the breaker's listeners what changed. Neither side imports the
other at run time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from maestro_resilience._clock import Clock
    from maestro_resilience._exceptions import CircuitOpenError
    from maestro_resilience._windows import Window

__all__ = ["FAILURE", "IGNORED", "SUCCESS", "BreakerHost", "BreakerStore", "CircuitState", "Token"]

#: A call's outcome as a breaker records it.
SUCCESS, FAILURE, IGNORED = 0, 1, 2

#: An admitted call: ``(generation, is_probe)``; its outcome counts only in that generation.
Token = tuple[int, bool]


class CircuitState(enum.StrEnum):
    """States of a circuit breaker (resilience4j's).

    ``CLOSED``, ``OPEN`` and ``HALF_OPEN`` follow the window; the others are entered by hand:
    ``FORCED_OPEN`` rejects every call; ``DISABLED`` lets every call through and still counts
    (metrics and window) but never trips; ``METRICS_ONLY`` does the same and also emits a
    ``threshold_exceeded`` event, once per entry into the state, when the window would have tripped.

    Examples:
        >>> from maestro_resilience import CircuitState
        >>> CircuitState("half_open") is CircuitState.HALF_OPEN
        True
        >>> CircuitState.OPEN == "open"  # a str enum: equal to its value
        True
    """

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"
    FORCED_OPEN = "forced_open"
    DISABLED = "disabled"
    METRICS_ONLY = "metrics_only"


class BreakerHost(Protocol):
    """What a storage may use of the breaker it serves: its settings, and its local state machine.

    The settings shape the shared state (the Lua script's window and open durations); the local
    state machine is the fallback while Redis cannot answer, and the breaker's listeners hear of
    every change the storage sees.
    """

    name: str
    clock: Clock
    listeners: tuple[Callable[..., Any], ...]
    window: Window
    open_duration: float
    open_duration_multiplier: float
    max_open_duration: float | None
    half_open_max_calls: int

    @property
    def generation(self) -> int:
        """The local state machine's generation (bumped on every local transition)."""
        ...

    def _local_state(self) -> CircuitState:
        """The local state machine's state."""
        ...

    def _acquire_local(self) -> Token:
        """Admit a call on local state, or raise ``CircuitOpenError``."""
        ...

    def _complete_local(self, token: Token, outcome: int, slow: bool, *, count: bool) -> None:
        """Record an outcome on local state (``count``: in the breaker's metrics too)."""
        ...

    def _enter_now(self, state: CircuitState) -> None:
        """Move local state to ``state`` without telling listeners (the storage announced it)."""
        ...

    def _reject(self, state: CircuitState, retry_after: float | None) -> CircuitOpenError:
        """The error refusing a call in ``state`` (counted as a rejection)."""
        ...

    def _announce(self, old: CircuitState, new: CircuitState) -> None:
        """Tell the breaker's listeners of a state change."""
        ...

    def _threshold_exceeded(self, calls: int, failures: int, slow: int) -> None:
        """``METRICS_ONLY``: tell listeners the shared window would have tripped."""
        ...


class BreakerStore(Protocol):
    """Where a breaker's state lives: admission, outcomes, the state and the window, sync or asyncio.

    The breaker's own memory and ``RedisStorage`` both implement it, so the breaker asks its store
    instead of branching on whether it has a shared one.
    """

    @property
    def is_async(self) -> bool:
        """True when the store must be awaited (an asyncio Redis client)."""
        ...

    def acquire(self) -> Token:
        """Admit a call or raise ``CircuitOpenError``."""
        ...

    async def acquire_async(self) -> Token:
        """``acquire`` for an asyncio store."""
        ...

    def complete(self, token: Token, outcome: int, slow: bool) -> None:
        """Record the outcome of a call admitted with ``token`` (the breaker counted it already)."""
        ...

    async def complete_async(self, token: Token, outcome: int, slow: bool) -> None:
        """``complete`` for an asyncio store."""
        ...

    def state(self) -> CircuitState:
        """The current state."""
        ...

    def set_state(self, state: CircuitState) -> None:
        """Move the shared state to ``state`` (the breaker moves its own copy itself)."""
        ...

    def window(self) -> tuple[int, int, int] | None:
        """The shared window's ``(calls, failures, slow calls)``; ``None``: the breaker's own window."""
        ...

    async def window_async(self) -> tuple[int, int, int] | None:
        """``window`` for an asyncio store."""
        ...
