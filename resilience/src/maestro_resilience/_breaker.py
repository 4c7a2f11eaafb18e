"""The circuit breaker: a sans-IO state machine (``_BreakerCore`` logic in ``CircuitBreaker``) and thin drivers.

No lock is held while the guarded call runs. The closed-state success path takes no lock at all:
it reads two attributes, runs the call and bumps a counter. Every transition happens under a
short lock and bumps ``generation``; an outcome tagged with an older generation never changes
the current state.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from maestro_resilience._breaker_host import FAILURE, IGNORED, SUCCESS, BreakerStore, CircuitState
from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import emit, wants_debug_events
from maestro_resilience._exceptions import CircuitOpenError, ConfigurationError
from maestro_resilience._policy import Policy
from maestro_resilience._windows import Consecutive, CountWindow, TimeWindow, Window, _check_positive_int, _WindowState

if TYPE_CHECKING:
    from maestro_resilience._redis import RedisStorage

__all__ = ["BreakerMetrics", "CircuitBreaker", "CircuitState"]

P = ParamSpec("P")
R = TypeVar("R")

_SUCCESS, _FAILURE, _IGNORED = SUCCESS, FAILURE, IGNORED


class _Cut:
    """One call of a ``Timeout`` with breakers inside it in a ``Pipeline``: the breaker calls it cuts short.

    A breaker call inside registers a *claim* (a one-item list holding its token and start); whoever
    pops the claim records the outcome, exactly once: the call when it ends, or the ``Timeout`` when
    its deadline abandons the call (a thread that goes on, a cancelled task), which records the
    ``TimeoutExceeded`` as the call's outcome. ``list.pop`` is atomic, so a call returning on its
    worker thread as the caller times out is counted once.
    """

    __slots__ = ("claims", "lock", "settled")

    def __init__(self) -> None:
        self.claims: list[tuple[CircuitBreaker, list[tuple[tuple[int, bool], float]]]] = []
        self.lock = threading.Lock()
        self.settled: BaseException | None = None

    def join(self, breaker: CircuitBreaker, claim: list[tuple[tuple[int, bool], float]]) -> BaseException | None:
        """Register a breaker call; the timeout's error instead if it gave up before the call began."""
        with self.lock:
            if self.settled is None:
                self.claims.append((breaker, claim))
            return self.settled

    def _settled(self, exc: BaseException) -> list[tuple[CircuitBreaker, list[tuple[tuple[int, bool], float]]]]:
        with self.lock:
            self.settled = exc
            return list(self.claims)

    def settle(self, exc: BaseException) -> None:
        """Record ``exc`` as the outcome of every call still unclaimed (sync: a blocking storage or none)."""
        for breaker, claim in self._settled(exc):
            taken = _take(claim)
            if taken is not None:
                breaker._after_exception(taken[0], exc, taken[1])

    async def settle_async(self, exc: BaseException) -> None:
        """``settle`` for asyncio: breakers with an asyncio Redis storage record with a round trip."""
        for breaker, claim in self._settled(exc):
            taken = _take(claim)
            if taken is None:
                continue
            token, start = taken
            if breaker._store.is_async:
                await breaker._complete_async(token, breaker._exception_outcome(exc), breaker._duration(start))
            else:
                breaker._after_exception(token, exc, start)


def _take(claim: list[tuple[tuple[int, bool], float]]) -> tuple[tuple[int, bool], float] | None:
    """Take the claim (atomically: ``list.pop``); ``None`` when the ``Timeout`` took it first."""
    try:
        return claim.pop()
    except IndexError:
        return None


def _join(
    cuts: tuple[_Cut, ...], breaker: CircuitBreaker, claim: list[tuple[tuple[int, bool], float]]
) -> BaseException | None:
    """Register a breaker call with every cut it runs inside; the first timeout error if one already gave up."""
    for cut in cuts:
        late = cut.join(breaker, claim)
        if late is not None:
            return late
    return None


# the cuts of the Timeout calls (of Pipelines) this code runs inside, innermost last
_CUTS: ContextVar[tuple[_Cut, ...]] = ContextVar("maestro_resilience_cuts", default=())


_OPEN = CircuitState.OPEN

_PYBREAKER_NAMES = {
    CircuitState.CLOSED: "closed",
    CircuitState.OPEN: "open",
    CircuitState.HALF_OPEN: "half-open",
    CircuitState.FORCED_OPEN: "open",
    CircuitState.DISABLED: "closed",
    CircuitState.METRICS_ONLY: "closed",
}

# states in which every call passes and its outcome is recorded in the window
_MEASURING = frozenset((CircuitState.CLOSED, CircuitState.DISABLED, CircuitState.METRICS_ONLY))


class _PyState:
    """What a pybreaker listener receives as ``old_state`` / ``new_state``: an object with ``.name``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<state {self.name}>"


@dataclass(frozen=True, slots=True)
class BreakerMetrics:
    """A snapshot of a breaker's counters.

    The closed-state fast path counts successes without a lock, so under heavy contention between
    threads ``successes`` (and ``calls``) may undercount slightly; state decisions never depend on them.

    With ``RedisStorage`` the ``state`` and the ``window_*`` figures (and ``failure_rate``) are
    cluster-wide, read from Redis (``shared`` is then true; ``await breaker.metrics_async()`` with an
    asyncio client); ``calls`` ... ``rejections`` are this process's counters (rejections from the
    local copy never reach Redis).

    Attributes:
        state: the state when the snapshot was taken.
        calls: calls that ran and finished (successes, failures and ignored) since construction or ``reset()``.
        successes: calls recorded as success.
        failures: calls recorded as failure.
        ignored: calls whose exception is ignored (counted as neither).
        slow_calls: calls that took at least the window's ``slow_call_duration``.
        rejections: calls rejected without running.
        window_calls: calls inside the current window.
        window_failures: failures inside the current window.
        failure_rate: ``window_failures / window_calls`` (0.0 for an empty window).
        window_slow_calls: slow calls inside the current window.
        shared: the state and window figures are the cluster's, read from Redis.

    Examples:
        >>> from maestro_resilience import CircuitBreaker
        >>> breaker = CircuitBreaker("db")
        >>> breaker.call(lambda: "ok")
        'ok'
        >>> metrics = breaker.metrics
        >>> metrics.state, metrics.calls, metrics.successes, metrics.failure_rate
        (<CircuitState.CLOSED: 'closed'>, 1, 1, 0.0)
    """

    state: CircuitState
    calls: int
    successes: int
    failures: int
    ignored: int
    slow_calls: int
    rejections: int
    window_calls: int
    window_failures: int
    failure_rate: float
    window_slow_calls: int = 0
    shared: bool = False


# (breaker, generation, probe, start) of each `with breaker:` block in progress in this context
_BLOCKS: ContextVar[tuple[tuple[CircuitBreaker, int, bool, float], ...]] = ContextVar(
    "maestro_resilience_breaker_blocks", default=()
)


def _is_pybreaker_listener(listener: object) -> bool:
    return hasattr(listener, "state_change") and hasattr(listener, "before_call")


def _check_open_durations(open_duration: float, multiplier: float, max_open_duration: float | None) -> None:
    for pname, pvalue in (("open_duration", open_duration), ("max_open_duration", max_open_duration)):
        if pvalue is None and pname == "max_open_duration":
            continue
        if (
            isinstance(pvalue, bool)
            or not isinstance(pvalue, int | float)
            or not pvalue > 0
            or not math.isfinite(pvalue)
        ):
            raise ConfigurationError(f"{pname} must be a finite number of seconds > 0, got {pvalue!r}")
    if (
        isinstance(multiplier, bool)
        or not isinstance(multiplier, int | float)
        or multiplier < 1
        or not math.isfinite(multiplier)
    ):
        raise ConfigurationError(f"open_duration_multiplier must be a finite number >= 1, got {multiplier!r}")
    if max_open_duration is not None and max_open_duration < open_duration:
        raise ConfigurationError(
            f"max_open_duration must be >= open_duration ({open_duration}), got {max_open_duration}"
        )


def _check_exception_types(name: str, value: object) -> tuple[type[BaseException], ...]:
    if isinstance(value, type):
        value = (value,)
    if not isinstance(value, tuple | list) or not all(
        isinstance(t, type) and issubclass(t, BaseException) for t in value
    ):
        raise ConfigurationError(f"{name} must be an exception class or a tuple of them, got {value!r}")
    return tuple(value)


class _LocalStore:
    """A breaker's default store: its own memory, the breaker's local state machine (``BreakerStore``)."""

    __slots__ = ("_breaker",)
    is_async = False

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker

    def acquire(self) -> tuple[int, bool]:
        """Admit on local state."""
        return self._breaker._acquire_local()

    async def acquire_async(self) -> tuple[int, bool]:
        """Admit on local state (nothing to await)."""
        return self._breaker._acquire_local()

    def complete(self, token: tuple[int, bool], outcome: int, slow: bool) -> None:
        """Record on local state."""
        self._breaker._complete_local(token, outcome, slow, count=False)

    async def complete_async(self, token: tuple[int, bool], outcome: int, slow: bool) -> None:
        """Record on local state (nothing to await)."""
        self._breaker._complete_local(token, outcome, slow, count=False)

    def state(self) -> CircuitState:
        """The local state."""
        return self._breaker._local_state()

    def set_state(self, state: CircuitState) -> None:
        """Nothing to share: the breaker enters every state locally itself."""

    def window(self) -> tuple[int, int, int] | None:
        """``None``: the breaker's own window is the window."""
        return None

    async def window_async(self) -> tuple[int, int, int] | None:
        """``None``: the breaker's own window is the window."""
        return None


class CircuitBreaker(Policy):
    """Stops calling a failing dependency for a while, then probes it.

    Args:
        name: the breaker's name (in errors, events, Redis keys).
        window: how failures are counted: ``Consecutive(n)`` (default ``Consecutive(5)``),
            ``CountWindow(size, ...)`` or ``TimeWindow(seconds, ...)``.
        open_duration: seconds the breaker stays open before admitting probes.
        open_duration_multiplier: each re-opening without a successful close multiplies the open
            duration by this (``1.0``: fixed; ``2.0``: exponential).
        max_open_duration: cap on the growing open duration.
        half_open_max_calls: probes admitted in half-open; every other caller is rejected at once.
        probe_lease: seconds a half-open breaker waits for its probes (resilience4j's
            ``maxWaitDurationInHalfOpenState``): after that long with every probe slot still taken
            (a probe that hangs), the next caller starts a new half-open round and probes; the lost
            probe's late outcome then changes nothing. Callers rejected meanwhile get the time left
            as ``retry_after``. ``None``: wait for the probes forever (``retry_after`` is ``None``).
            A breaker with a ``RedisStorage`` uses the storage's ``probe_lease`` instead.
        record_on: exceptions recorded as failures (a tuple of classes, or a predicate).
        ignore_on: exceptions counted as neither success nor failure (checked first).
        success_on: exceptions counted as success (business errors; checked before ``ignore_on``).
        failure_result: a predicate judging a returned value a failure.
        storage: ``RedisStorage`` to share state across processes (default: local memory).
        listeners: event listeners (``Event``) and pybreaker ``CircuitBreakerListener`` objects.
        clock: time source (``maestro_resilience.testing.FakeClock`` in tests).

    Exceptions other than those matched by ``success_on``/``ignore_on``/``record_on`` (for example
    ``asyncio.CancelledError``, ``KeyboardInterrupt``) are ignored. The original exception is always
    re-raised unchanged.

    Examples:
        >>> from maestro_resilience import CircuitBreaker, CircuitOpenError, Consecutive
        >>> from maestro_resilience.testing import FakeClock
        >>> clock = FakeClock()
        >>> breaker = CircuitBreaker("inventory", window=Consecutive(2), open_duration=30, clock=clock)
        >>> @breaker
        ... def reserve(sku: str) -> str:
        ...     raise ConnectionError("inventory service down")
        >>> for _ in range(2):
        ...     try:
        ...         reserve("A-1")
        ...     except ConnectionError:
        ...         pass
        >>> try:
        ...     reserve("A-1")  # not called: the breaker is open
        ... except CircuitOpenError as error:
        ...     print(error)
        circuit breaker 'inventory' is open; retry after 30.000s
        >>> clock.advance(30)
        >>> breaker.state  # the next call is a probe
        <CircuitState.HALF_OPEN: 'half_open'>
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        window: Window | None = None,
        open_duration: float = 30.0,
        open_duration_multiplier: float = 1.0,
        max_open_duration: float | None = None,
        half_open_max_calls: int = 1,
        probe_lease: float | None = 60.0,
        record_on: type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool] = (
            Exception,
        ),
        ignore_on: type[BaseException] | tuple[type[BaseException], ...] = (),
        success_on: type[BaseException] | tuple[type[BaseException], ...] = (),
        failure_result: Callable[[Any], bool] | None = None,
        storage: RedisStorage | None = None,
        listeners: tuple[Any, ...] | list[Any] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._pylisteners: list[Any] = [x for x in listeners if _is_pybreaker_listener(x)]
        super().__init__(name, listeners=[x for x in listeners if not _is_pybreaker_listener(x)], clock=clock)
        if window is None:
            window = Consecutive()
        if not isinstance(window, Consecutive | CountWindow | TimeWindow):
            raise ConfigurationError(f"window must be Consecutive, CountWindow or TimeWindow, got {window!r}")
        self.window: Window = window
        _check_open_durations(open_duration, open_duration_multiplier, max_open_duration)
        self.open_duration = float(open_duration)
        self.open_duration_multiplier = float(open_duration_multiplier)
        self.max_open_duration = None if max_open_duration is None else float(max_open_duration)
        self.half_open_max_calls = _check_positive_int("half_open_max_calls", half_open_max_calls)
        if probe_lease is not None and (
            isinstance(probe_lease, bool)
            or not isinstance(probe_lease, int | float)
            or not probe_lease > 0
            or not math.isfinite(probe_lease)
        ):
            raise ConfigurationError(f"probe_lease must be a finite number of seconds > 0 or None, got {probe_lease!r}")
        self.probe_lease = None if probe_lease is None else float(probe_lease)
        self._half_open_since = 0.0
        if callable(record_on) and not isinstance(record_on, type):
            self._record_types: tuple[type[BaseException], ...] = (BaseException,)
            self._record_predicate: Callable[[BaseException], bool] | None = record_on
        else:
            self._record_types = _check_exception_types("record_on", record_on)
            self._record_predicate = None
        self._ignore_types = _check_exception_types("ignore_on", ignore_on)
        self._success_types = _check_exception_types("success_on", success_on)
        if failure_result is not None and not callable(failure_result):
            raise ConfigurationError(f"failure_result must be a predicate taking the result, got {failure_result!r}")
        self._failure_result = failure_result
        self._slow = window.slow_call_duration
        self._lock = threading.Lock()
        self._generation = 0
        self._state = CircuitState.CLOSED
        self._wstate: _WindowState = window.new_state()
        self._open_until = 0.0
        self._opened_times = 0
        self._probes_admitted = 0
        self._probes_done = 0
        self._probe_failures = 0
        self._probe_slow = 0
        self._over = False  # METRICS_ONLY: threshold_exceeded already emitted since entering it
        self._n_success = self._n_failure = self._n_ignored = self._n_slow = self._n_rejected = 0
        self._retired_fast = 0  # lock-free successes of windows replaced since
        self._storage: RedisStorage | None = None
        self._store: BreakerStore = _LocalStore(self)
        self._fast_capable = False
        if storage is not None:
            storage._attach(self)
            self._storage = self._store = storage
        self._update_fast()

    # -- construction helpers ---------------------------------------------------------------
    @classmethod
    def from_pybreaker(cls, cb: Any, **overrides: Any) -> CircuitBreaker:
        """Build a breaker with a pybreaker ``CircuitBreaker``'s settings and current state.

        ``fail_max`` becomes ``Consecutive(fail_max)``, ``reset_timeout`` the ``open_duration``,
        ``success_threshold`` the ``half_open_max_calls``, excluded exception classes count as
        success (as in pybreaker), excluded predicates likewise, and its listeners are attached.
        Keyword ``overrides`` replace any of these.

        The state is carried over: an open breaker stays open for what is left of its
        ``reset_timeout``, a half-open one admits a probe, a closed one keeps its failure count.
        A breaker whose ``state_storage`` is not pybreaker's memory storage (``CircuitRedisStorage``
        or your own) is refused with ``ConfigurationError`` unless ``storage=`` is given: the new
        breaker could not share that state. With ``storage=`` (a ``RedisStorage``) the shared state
        is the storage's. To keep pybreaker's storage, use ``maestro_resilience.compat.pybreaker``.

        Examples:
            >>> import pybreaker
            >>> from maestro_resilience import CircuitBreaker
            >>> legacy = pybreaker.CircuitBreaker(fail_max=3, reset_timeout=30, name="billing")
            >>> _ = legacy.open()
            >>> breaker = CircuitBreaker.from_pybreaker(legacy)
            >>> breaker.name, breaker.current_state, breaker.open_duration
            ('billing', 'open', 30.0)
        """
        storage = getattr(cb, "_state_storage", None)
        kind = getattr(storage, "name", "memory")
        if storage is not None and kind != "memory" and "storage" not in overrides:
            raise ConfigurationError(
                f"the pybreaker breaker {getattr(cb, 'name', None)!r} keeps its state in {type(storage).__name__} "
                f"({kind!r}): from_pybreaker cannot carry it (the new breaker would silently stop sharing it); pass "
                "storage=RedisStorage(...) to share state the maestro way, or keep pybreaker's API and storage on "
                "this engine with maestro_resilience.compat.pybreaker",
                field="state_storage",
            )
        exclusions = tuple(getattr(cb, "excluded_exceptions", ()))
        types = tuple(e for e in exclusions if isinstance(e, type))
        predicates = tuple(e for e in exclusions if not isinstance(e, type) and callable(e))
        settings: dict[str, Any] = {
            "name": getattr(cb, "name", None) or None,
            "window": Consecutive(int(cb.fail_max)),
            "open_duration": float(cb.reset_timeout),
            "half_open_max_calls": int(getattr(cb, "success_threshold", 1) or 1),
            "success_on": types,
            "listeners": tuple(getattr(cb, "listeners", ())),
        }
        if predicates:
            settings["record_on"] = lambda exc: not any(p(exc) for p in predicates)
        settings.update(overrides)
        breaker = cls(**settings)
        if breaker._storage is None and storage is not None:
            breaker._carry(str(cb.current_state), int(cb.fail_counter), storage.opened_at, float(cb.reset_timeout))
        return breaker

    def _carry(self, state: str, failures: int, opened_at: Any, reset_timeout: float) -> None:
        """Take over a pybreaker breaker's state (``from_pybreaker``), silently: nothing changed for listeners."""
        import datetime as _dt  # noqa: PLC0415 - only for migrations

        now = self.clock.monotonic()
        with self._lock:
            if state in ("open", "half-open"):
                left = 0.0
                if state == "open" and isinstance(opened_at, _dt.datetime):
                    aware = opened_at if opened_at.tzinfo else opened_at.replace(tzinfo=_dt.UTC)
                    left = (aware - _dt.datetime.now(_dt.UTC)).total_seconds() + reset_timeout
                self._enter(CircuitState.OPEN, now)
                self._open_until = now + min(max(left, 0.0), self.open_duration)
            elif state == "closed":
                for _ in range(max(failures, 0)):
                    self._wstate.record(True, False, now)
                self._fast = self._fast_capable and self._wstate.clean
            else:
                raise ConfigurationError(f"unknown pybreaker state {state!r}", field="current_state")

    def add_listener(self, listener: Any) -> None:
        """Attach an event listener or a pybreaker ``CircuitBreakerListener``."""
        if _is_pybreaker_listener(listener):
            self._pylisteners.append(listener)
            self._update_fast()
        elif callable(listener):
            self.listeners = (*self.listeners, listener)
        else:
            raise TypeError(f"listener must be a callable or a pybreaker listener, got {listener!r}")

    def _update_fast(self) -> None:
        self._fast_capable = (
            self._storage is None and not self._pylisteners and self._failure_result is None and self._slow is None
        )
        self._fast = self._fast_capable and self._state is CircuitState.CLOSED and self._wstate.clean

    # -- public state ----------------------------------------------------------------------
    @property
    def state(self) -> CircuitState:
        """The current state (an OPEN breaker whose open duration has passed reports HALF_OPEN)."""
        return self._store.state()

    def _local_state(self) -> CircuitState:
        if self._state is CircuitState.OPEN and self.clock.monotonic() >= self._open_until:
            return CircuitState.HALF_OPEN
        return self._state

    @property
    def storage(self) -> RedisStorage | None:
        """The shared storage, if any."""
        return self._storage

    @property
    def current_state(self) -> str:
        """The state in pybreaker's vocabulary (``closed``, ``open``, ``half-open``)."""
        return _PYBREAKER_NAMES[self.state]

    @property
    def generation(self) -> int:
        """Bumped on every transition; outcomes of calls started in an older generation are not counted."""
        return self._generation

    @property
    def metrics(self) -> BreakerMetrics:
        """A snapshot of the counters (one Redis round trip with a sync ``RedisStorage``: see ``BreakerMetrics``)."""
        return self._snapshot(None if self._store.is_async else self._store.window())

    async def metrics_async(self) -> BreakerMetrics:
        """``metrics``, with the cluster-wide window of an asyncio ``RedisStorage`` (one round trip)."""
        store = self._store
        return self._snapshot(await store.window_async() if store.is_async else store.window())

    def _snapshot(self, shared: tuple[int, int, int] | None) -> BreakerMetrics:
        state = self._storage._state if shared is not None and self._storage is not None else self._state
        with self._lock:
            wcalls, wfail, wslow = shared if shared is not None else self._wstate.snapshot(self.clock.monotonic())
            successes = self._n_success + self._retired_fast + self._wstate.fast
            return BreakerMetrics(
                state=state,
                calls=successes + self._n_failure + self._n_ignored,
                successes=successes,
                failures=self._n_failure,
                ignored=self._n_ignored,
                slow_calls=self._n_slow,
                rejections=self._n_rejected,
                window_calls=wcalls,
                window_failures=wfail,
                failure_rate=wfail / wcalls if wcalls else 0.0,
                window_slow_calls=wslow,
                shared=shared is not None,
            )

    # -- manual control --------------------------------------------------------------------
    def force_open(self) -> None:
        """Reject every call until ``reset()`` (or ``close()``)."""
        self._transition(CircuitState.FORCED_OPEN)

    def disable(self) -> None:
        """Let every call through, still measuring, until ``reset()``."""
        self._transition(CircuitState.DISABLED)

    def metrics_only(self) -> None:
        """Let every call through and keep measuring; emit ``threshold_exceeded`` when the window would trip.

        The event comes once per entry into ``METRICS_ONLY`` (resilience4j's semantics), with the
        window's ``failure_rate`` and ``slow_call_rate``: a breaker can watch a dependency in
        production before it is allowed to reject calls. ``reset()`` or ``close()`` leaves the state.
        """
        self._transition(CircuitState.METRICS_ONLY)

    def open(self) -> None:
        """Open now, as if the window had tripped (probes admitted after ``open_duration``)."""
        self._transition(CircuitState.OPEN)

    def close(self) -> None:
        """Close now with an empty window."""
        self._transition(CircuitState.CLOSED)

    def reset(self) -> None:
        """Close with an empty window and zeroed metrics."""
        self._transition(CircuitState.CLOSED, force_event=False)
        with self._lock:
            self._n_success = self._n_failure = self._n_ignored = self._n_slow = self._n_rejected = 0
            self._retired_fast = 0

    # -- the state machine (all under self._lock) ------------------------------------------
    def _enter(self, state: CircuitState, now: float) -> tuple[CircuitState, CircuitState] | None:
        old = self._state
        self._generation += 1
        self._state = state
        if state is CircuitState.OPEN:
            duration = self.open_duration * self.open_duration_multiplier**self._opened_times
            if self.max_open_duration is not None:
                duration = min(duration, self.max_open_duration)
            self._opened_times += 1
            self._open_until = now + duration
        elif state is CircuitState.HALF_OPEN:
            self._probes_admitted = self._probes_done = self._probe_failures = self._probe_slow = 0
            self._half_open_since = now
        elif state in _MEASURING:
            self._over = False
            self._retired_fast += self._wstate.fast
            self._wstate = self.window.new_state()
            if state is CircuitState.CLOSED:
                self._opened_times = 0
        self._fast = self._fast_capable and state is CircuitState.CLOSED and self._wstate.clean
        return (old, state) if old is not state else None

    def _enter_now(self, state: CircuitState) -> None:
        """Move local state to ``state`` without telling listeners (a storage that announced it asks)."""
        with self._lock:
            self._enter(state, self.clock.monotonic())

    def _transition(self, state: CircuitState, *, force_event: bool = True) -> None:
        self._store.set_state(state)
        with self._lock:
            change = self._enter(state, self.clock.monotonic())
        if change and force_event:
            self._announce(*change)

    def _announce(self, old: CircuitState, new: CircuitState) -> None:
        emit(self.listeners, self.name, "state_change", old=old.value, new=new.value)
        for listener in self._pylisteners:
            listener.state_change(self, _PyState(_PYBREAKER_NAMES[old]), _PyState(_PYBREAKER_NAMES[new]))

    def _rejected_event(self, retry_after: float) -> None:
        emit(self.listeners, self.name, "rejected", state="open", retry_after=retry_after)

    def _reject(self, state: CircuitState, retry_after: float | None) -> CircuitOpenError:
        self._n_rejected += 1
        return CircuitOpenError(self.name, state.value, retry_after)

    def _acquire_local(self) -> tuple[int, bool]:
        state = self._state
        if state in _MEASURING:
            return (self._generation, False)
        if state is CircuitState.FORCED_OPEN:
            raise self._reject(state, None)
        now = self.clock.monotonic()
        if state is CircuitState.OPEN and now < self._open_until:  # lock-free rejection
            raise self._reject(state, self._open_until - now)
        change = None
        with self._lock:
            state = self._state
            if state is CircuitState.OPEN:
                if now < self._open_until:
                    raise self._reject(state, self._open_until - now)
                change = self._enter(CircuitState.HALF_OPEN, now)
                state = CircuitState.HALF_OPEN
            if state is CircuitState.HALF_OPEN:
                if self._probes_admitted >= self.half_open_max_calls:
                    lease = self.probe_lease
                    if lease is None:
                        raise self._reject(state, None)
                    left = self._half_open_since + lease - now
                    if left > 0:
                        raise self._reject(state, left)
                    change = change or self._enter(CircuitState.HALF_OPEN, now)  # a new round, new generation
                self._probes_admitted += 1
                token = (self._generation, True)
            elif state is CircuitState.FORCED_OPEN:
                raise self._reject(state, None)
            else:
                token = (self._generation, False)
        if change:
            self._announce(*change)
        return token

    def _classify(self, exc: BaseException) -> int:
        if self._success_types and isinstance(exc, self._success_types):
            return _SUCCESS
        if self._ignore_types and isinstance(exc, self._ignore_types):
            return _IGNORED
        if isinstance(exc, self._record_types) and (self._record_predicate is None or self._record_predicate(exc)):
            return _FAILURE
        if self._record_predicate is not None and isinstance(exc, Exception):
            return _SUCCESS  # pybreaker semantics: an excluded error is a success
        return _IGNORED

    def _counted(self, outcome: int, duration: float) -> bool:
        """Count an outcome in this breaker's metrics; whether the call was slow (the store records it)."""
        slow = self._slow is not None and duration >= self._slow
        with self._lock:
            self._count(outcome, slow)
        return slow

    def _complete(self, token: tuple[int, bool], outcome: int, duration: float) -> None:
        """Record an outcome of a call admitted with ``token``."""
        self._store.complete(token, outcome, self._counted(outcome, duration))

    async def _complete_async(self, token: tuple[int, bool], outcome: int, duration: float) -> None:
        await self._store.complete_async(token, outcome, self._counted(outcome, duration))

    def _complete_local(self, token: tuple[int, bool], outcome: int, slow: bool, *, count: bool) -> None:
        generation, probe = token
        change = None
        figures = None  # METRICS_ONLY: the window's figures when it went over its threshold
        with self._lock:
            if count:
                self._count(outcome, slow)
            if generation != self._generation or outcome == _IGNORED:
                if probe and generation == self._generation:
                    self._probes_admitted -= 1  # an ignored probe frees its slot
                return
            state = self._state
            failed = outcome == _FAILURE
            now = self.clock.monotonic()
            if state in _MEASURING:
                tripped = self._wstate.record(failed, slow, now)
                if tripped and state is CircuitState.CLOSED:
                    change = self._enter(CircuitState.OPEN, now)
                elif tripped and state is CircuitState.METRICS_ONLY and not self._over:
                    self._over = True
                    figures = self._wstate.snapshot(now)
                else:
                    self._fast = self._fast_capable and state is CircuitState.CLOSED and self._wstate.clean
            elif state is CircuitState.HALF_OPEN:
                change = self._probe_done(failed, slow, now)
        if change:
            self._announce(*change)
        if figures is not None:
            self._threshold_exceeded(*figures)

    def _probe_done(self, failed: bool, slow: bool, now: float) -> tuple[CircuitState, CircuitState] | None:
        """A probe's outcome (under the lock): re-open, close once every probe reported, or wait."""
        self._probes_done += 1
        self._probe_failures += failed
        self._probe_slow += slow
        if failed and isinstance(self.window, Consecutive):
            return self._enter(CircuitState.OPEN, now)
        if self._probes_done < self.half_open_max_calls:
            return None
        done = self._probes_done
        if (
            self._probe_failures / done >= self.window.failure_rate_threshold
            or self._probe_slow / done >= self.window.slow_call_rate_threshold
        ):
            return self._enter(CircuitState.OPEN, now)
        return self._enter(CircuitState.CLOSED, now)

    def _threshold_exceeded(self, calls: int, failures: int, slow: int) -> None:
        """METRICS_ONLY: the window would have tripped the breaker."""
        emit(
            self.listeners,
            self.name,
            "threshold_exceeded",
            failure_rate=round(failures / calls, 6) if calls else 0.0,
            slow_call_rate=round(slow / calls, 6) if calls else 0.0,
        )

    def _count(self, outcome: int, slow: bool) -> None:
        if outcome == _SUCCESS:
            self._n_success += 1
        elif outcome == _FAILURE:
            self._n_failure += 1
        else:
            self._n_ignored += 1
        if slow:
            self._n_slow += 1

    def _exception_outcome(self, exc: BaseException) -> int:
        outcome = self._classify(exc)
        for listener in self._pylisteners:
            if outcome == _FAILURE:
                listener.failure(self, exc)
            elif outcome == _SUCCESS:
                listener.success(self)
        return outcome

    def _result_outcome(self, result: object) -> int:
        outcome = _FAILURE if self._failure_result is not None and self._failure_result(result) else _SUCCESS
        for listener in self._pylisteners:
            if outcome == _FAILURE:
                listener.failure(self, ValueError(f"result judged a failure: {result!r}"))
            else:
                listener.success(self)
        return outcome

    def _duration(self, start: float) -> float:
        return self.clock.monotonic() - start if self._slow is not None else 0.0

    def _after_exception(self, token: tuple[int, bool], exc: BaseException, start: float) -> None:
        self._complete(token, self._exception_outcome(exc), self._duration(start))

    def _after_fast_exception(self, window: _WindowState, exc: BaseException) -> None:
        """A call admitted on the lock-free path failed; ``window`` was current when it started.

        A window is replaced on every entry to CLOSED, so "the same window and still CLOSED"
        means "the same generation": otherwise the outcome is stale and changes nothing.
        """
        current = window is self._wstate and self._state is CircuitState.CLOSED
        self._after_exception((self._generation if current else -1, False), exc, 0.0)

    def _after_result(self, token: tuple[int, bool], result: object, start: float) -> None:
        self._complete(token, self._result_outcome(result), self._duration(start))

    def _rejected(self, exc: CircuitOpenError) -> None:
        if wants_debug_events(self.listeners):
            emit(self.listeners, self.name, "rejected", state=exc.state, retry_after=exc.retry_after)

    def _admitted(
        self, token: tuple[int, bool], fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[int, bool]:
        """A call was admitted with ``token``: pybreaker listeners hear ``before_call``."""
        for listener in self._pylisteners:
            listener.before_call(self, fn, *args, **kwargs)
        return token

    # Sync/async twins, from here to the end of the class: they keep only the I/O (calling or awaiting
    # the store, calling or awaiting the guarded function); the decisions are the shared methods above
    # (_admitted, _counted, _classify, _after_*, _push_block, _block_outcome, _join...). Two pieces stay
    # copied inline in the decorator's drivers, for speed: the lock-free closed path and the lock-free
    # open rejection (a method call there costs ~30 % of a rejection). test_breaker_twins.py proves the
    # copies agree: one scripted sequence through every sync and async form, local and on Redis.
    def _before(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[int, bool]:
        try:
            token = self._store.acquire()
        except CircuitOpenError as exc:
            self._rejected(exc)
            raise
        return self._admitted(token, fn, args, kwargs)

    async def _before_async(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[int, bool]:
        try:
            token = await self._store.acquire_async()
        except CircuitOpenError as exc:
            self._rejected(exc)
            raise
        return self._admitted(token, fn, args, kwargs)

    # -- drivers -----------------------------------------------------------------------------
    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        if self._store.is_async:
            raise TypeError(
                f"breaker {self.name!r} shares state through an asyncio Redis client: it can guard only async "
                "def functions (use a sync redis.Redis client for def functions)"
            )
        breaker = self
        monotonic = self.clock.monotonic
        name = self.name
        local = self._storage is None

        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            if breaker._fast:
                window = breaker._wstate
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    breaker._after_fast_exception(window, exc)
                    raise
                window.fast += 1
                return result
            if breaker._state is _OPEN and local:  # the lock-free rejection (inline: a call costs ~30 %)
                now = monotonic()
                until = breaker._open_until
                if now < until:
                    breaker._n_rejected += 1
                    if breaker.listeners or wants_debug_events(()):
                        breaker._rejected_event(until - now)
                    raise CircuitOpenError(name, "open", until - now)
            token = breaker._before(fn, args, kwargs)
            start = monotonic() if breaker._slow is not None else 0.0
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                breaker._after_exception(token, exc, start)
                raise
            breaker._after_result(token, result, start)
            return result

        return guarded

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        if self._shared_async():
            return self._wrap_async_shared(fn)
        breaker = self
        monotonic = self.clock.monotonic
        name = self.name

        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            if breaker._fast:
                window = breaker._wstate
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    breaker._after_fast_exception(window, exc)
                    raise
                window.fast += 1
                return result
            if breaker._state is _OPEN:  # the lock-free rejection (a local store: _wrap_async_shared serves Redis)
                now = monotonic()
                until = breaker._open_until
                if now < until:
                    breaker._n_rejected += 1
                    if breaker.listeners or wants_debug_events(()):
                        breaker._rejected_event(until - now)
                    raise CircuitOpenError(name, "open", until - now)
            token = breaker._before(fn, args, kwargs)
            start = monotonic() if breaker._slow is not None else 0.0
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                breaker._after_exception(token, exc, start)
                raise
            breaker._after_result(token, result, start)
            return result

        return guarded

    def _wrap_async_shared(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        """The async driver with an asyncio Redis storage: admission and outcome are awaited."""
        breaker = self
        monotonic = self.clock.monotonic

        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            token = await breaker._before_async(fn, args, kwargs)
            start = monotonic() if breaker._slow is not None else 0.0
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                await breaker._complete_async(token, breaker._exception_outcome(exc), breaker._duration(start))
                raise
            await breaker._complete_async(token, breaker._result_outcome(result), breaker._duration(start))
            return result

        return guarded

    def _wrap_sync_cut(self, fn: Callable[P, R]) -> Callable[P, R]:
        """The sync driver under a ``Timeout`` of the same ``Pipeline`` (see ``_Cut``).

        A call the timeout abandons on its worker thread is recorded as a ``TimeoutExceeded`` when the
        deadline passes, not when (if ever) it returns: a hanging dependency trips the breaker.
        """
        plain = self._wrap_sync(fn)
        breaker = self
        monotonic = self.clock.monotonic

        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            cuts = _CUTS.get()
            if not cuts:
                return plain(*args, **kwargs)
            token = breaker._before(fn, args, kwargs)
            start = monotonic() if breaker._slow is not None else 0.0
            claim = [(token, start)]
            late = _join(cuts, breaker, claim)
            if late is not None:  # the timeout gave up while this call was being admitted: do not run it
                if _take(claim) is not None:
                    breaker._after_exception(token, late, start)
                raise late
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                taken = _take(claim)
                if taken is not None:
                    breaker._after_exception(taken[0], exc, taken[1])
                raise
            taken = _take(claim)
            if taken is not None:
                breaker._after_result(taken[0], result, taken[1])
            return result

        return guarded

    def _wrap_async_cut(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        """The async driver under a ``Timeout`` of the same ``Pipeline`` (see ``_Cut``).

        A cancellation is left to the cut: the ``Timeout``'s own deadline records ``TimeoutExceeded``
        (a failure by default), any other cancellation is recorded as before (ignored).
        """
        import asyncio  # noqa: PLC0415 - decorating async code: asyncio is (about to be) imported anyway

        plain = self._wrap_async(fn)
        shared = self._shared_async()
        cancelled = asyncio.CancelledError
        breaker = self
        monotonic = self.clock.monotonic

        async def record(claim: list[tuple[tuple[int, bool], float]], judge: Callable[[Any], int], value: Any) -> None:
            taken = _take(claim)
            if taken is None:
                return  # the Timeout recorded it (and told the listeners)
            token, start = taken
            if shared:
                await breaker._complete_async(token, judge(value), breaker._duration(start))
            else:
                breaker._complete(token, judge(value), breaker._duration(start))

        async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            cuts = _CUTS.get()
            if not cuts:
                return await plain(*args, **kwargs)
            token = await breaker._before_async(fn, args, kwargs) if shared else breaker._before(fn, args, kwargs)
            claim = [(token, monotonic() if breaker._slow is not None else 0.0)]
            late = _join(cuts, breaker, claim)
            if late is not None:  # (an outer deadline already passed)
                await record(claim, breaker._exception_outcome, late)
                raise late
            try:
                result = await fn(*args, **kwargs)
            except cancelled:
                raise  # the cut records it: a timeout, or a cancellation from elsewhere
            except BaseException as exc:
                await record(claim, breaker._exception_outcome, exc)
                raise
            await record(claim, breaker._result_outcome, result)
            return result

        return guarded

    def _shared_async(self) -> bool:
        """True with an asyncio Redis storage; ``TypeError`` with a blocking one (async code must not block)."""
        if self._storage is None:
            return False
        if not self._storage.is_async:
            raise TypeError(
                f"breaker {self.name!r} shares state through a blocking Redis client: it can guard only def "
                "functions (use redis.asyncio.Redis for async def functions)"
            )
        return True

    # -- context manager -----------------------------------------------------------------------
    def _pop_block(self) -> tuple[int, bool, float] | None:
        """Take this breaker's innermost ``with`` block of this context: (generation, probe, start)."""
        blocks = _BLOCKS.get()
        for i in range(len(blocks) - 1, -1, -1):
            if blocks[i][0] is self:
                _BLOCKS.set(blocks[:i] + blocks[i + 1 :])
                return blocks[i][1:]
        return None

    def _push_block(self, token: tuple[int, bool]) -> CircuitBreaker:
        """A ``with`` block was admitted with ``token``: remember it (and its start) in this context."""
        start = self.clock.monotonic() if self._slow is not None else 0.0
        _BLOCKS.set((*_BLOCKS.get(), (self, token[0], token[1], start)))
        return self

    def _block_outcome(self, exc: BaseException | None) -> int:
        """The outcome of a ``with`` block: its exception judged, or its (``None``) result."""
        return self._result_outcome(None) if exc is None else self._exception_outcome(exc)

    def __enter__(self) -> CircuitBreaker:
        return self._push_block(self._before(self.__enter__, (), {}))

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        block = self._pop_block()
        if block is None:  # pragma: no cover - __exit__ without __enter__
            return
        generation, probe, start = block
        self._complete((generation, probe), self._block_outcome(exc), self._duration(start))

    async def __aenter__(self) -> CircuitBreaker:
        if not self._store.is_async:
            return self.__enter__()
        return self._push_block(await self._before_async(self.__aenter__, (), {}))

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._store.is_async:
            self.__exit__(exc_type, exc, tb)
            return
        block = self._pop_block()
        if block is None:  # pragma: no cover - __aexit__ without __aenter__
            return
        generation, probe, start = block
        await self._complete_async((generation, probe), self._block_outcome(exc), self._duration(start))
