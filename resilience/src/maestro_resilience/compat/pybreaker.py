"""pybreaker 1.4's API on maestro-resilience: ``from maestro_resilience.compat import pybreaker``.

Importable in place of ``pybreaker`` (``import maestro_resilience.compat.pybreaker as pybreaker``,
or ``sys.modules["pybreaker"] = ...`` for code you cannot edit): the same classes, arguments,
properties, listener calls, storage protocol (``CircuitMemoryStorage``, ``CircuitRedisStorage``
with pybreaker's Redis keys, your own ``CircuitBreakerStorage``) and error messages. What differs
(docs/resilience/migrating-from-pybreaker.md lists it):

* the guarded call runs without the breaker's lock held, so threads are not serialised; counting,
  transitions and listener calls still happen one at a time under the lock. In half-open, the
  trial call runs alone and callers arriving meanwhile get ``CircuitBreakerError`` at once rather
  than waiting for it; a trial call that never returns frees its place after ``reset_timeout``.
  The outcome of a call admitted before a state change does not change the new state;
* ``call_async`` (and ``acall``) are asyncio coroutines and need no tornado; a cancelled call
  counts as neither success nor failure; ``call(async_fn)`` raises ``TypeError`` (it used to record
  an unawaited coroutine as a success);
* ``CircuitBreakerError`` is also a ``maestro_resilience.CircuitOpenError`` (``name``, ``state``,
  ``retry_after``), so the package's ``Retry`` and ``Fallback`` recognise it.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import threading
import types
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ParamSpec, TypeVar, overload

from maestro_resilience._exceptions import CircuitOpenError
from maestro_resilience._policy import is_async_callable
from maestro_resilience.compat._pybreaker_storage import (
    STATE_CLOSED,
    STATE_HALF_OPEN,
    STATE_OPEN,
    CircuitBreakerStorage,
    CircuitMemoryStorage,
    CircuitRedisStorage,
)

__all__ = (
    "STATE_CLOSED",
    "STATE_HALF_OPEN",
    "STATE_OPEN",
    "CircuitBreaker",
    "CircuitBreakerError",
    "CircuitBreakerListener",
    "CircuitBreakerStorage",
    "CircuitMemoryStorage",
    "CircuitRedisStorage",
)

P = ParamSpec("P")
T = TypeVar("T")

# pybreaker's flag for ``@breaker(__pybreaker_call_async=True)``: asyncio needs no tornado here
HAS_TORNADO_SUPPORT = True
# pybreaker's flag; redis-py itself is imported only by CircuitRedisStorage
HAS_REDIS_SUPPORT = importlib.util.find_spec("redis") is not None

_Exclusion = type[BaseException] | Callable[[BaseException], bool]
# (generation, trial) of an admitted call: its outcome counts only while the generation is current
_Token = tuple[int, bool]


class CircuitBreakerError(CircuitOpenError):
    """The breaker refused the call (open, or half-open with its trial call running), or just tripped.

    ``str(error)`` is pybreaker's message; as a ``maestro_resilience.CircuitOpenError`` it also has
    ``name``, ``state`` (``"open"`` or ``"half_open"``) and ``retry_after`` (seconds, or ``None``).

    Examples:
        >>> from maestro_resilience import CircuitOpenError
        >>> from maestro_resilience.compat.pybreaker import CircuitBreaker, CircuitBreakerError
        >>> breaker = CircuitBreaker(name="search", reset_timeout=30)
        >>> _ = breaker.open()
        >>> try:
        ...     breaker.call(print, "never printed")
        ... except CircuitBreakerError as error:
        ...     print(error, "|", isinstance(error, CircuitOpenError), error.state, round(error.retry_after))
        Timeout not elapsed yet, circuit breaker still open | True open 30
    """

    def __init__(
        self, message: str = "", *, breaker: str | None = None, state: str = "open", retry_after: float | None = None
    ) -> None:
        Exception.__init__(self, message)
        self._details = (breaker, state, retry_after)

    @property
    def name(self) -> str:
        """The breaker's name (``""`` for an unnamed breaker)."""
        details = getattr(self, "_details", (None,))
        return details[0] or ""

    @property
    def state(self) -> str:
        """``"open"``, or ``"half_open"`` when a trial call was running."""
        return getattr(self, "_details", (None, "open"))[1]

    @property
    def retry_after(self) -> float | None:
        """Seconds until the breaker admits a trial call, if known."""
        return getattr(self, "_details", (None, "open", None))[2]

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class CircuitBreakerListener:
    """Subclass it and override the calls you need; add it with ``listeners=`` or ``add_listener``.

    The breaker calls its listeners one at a time (never two calls at once, whatever the threads).

    Examples:
        >>> from maestro_resilience.compat.pybreaker import CircuitBreaker, CircuitBreakerListener
        >>> class Log(CircuitBreakerListener):
        ...     def state_change(self, cb, old_state, new_state):
        ...         print(old_state.name, "->", new_state.name)
        >>> breaker = CircuitBreaker(listeners=[Log()])
        >>> _ = breaker.open()
        closed -> open
    """

    def before_call(self, cb: CircuitBreaker, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Called before ``func`` runs through ``cb``."""

    def failure(self, cb: CircuitBreaker, exc: BaseException) -> None:
        """Called when a call through ``cb`` raised ``exc`` (counted as a failure)."""

    def success(self, cb: CircuitBreaker) -> None:
        """Called when a call through ``cb`` succeeded (or raised an excluded exception)."""

    def state_change(
        self, cb: CircuitBreaker, old_state: CircuitBreakerState | None, new_state: CircuitBreakerState
    ) -> None:
        """Called when ``cb`` changed state."""


class CircuitBreakerState:
    """A state as listeners see it (``.name``): what pybreaker's ``breaker.state`` returns.

    Examples:
        >>> from maestro_resilience.compat.pybreaker import CircuitBreaker
        >>> CircuitBreaker().state.name
        'closed'
    """

    def __init__(self, cb: CircuitBreaker, name: str) -> None:
        self._breaker = cb
        self._name = name

    @property
    def name(self) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``."""
        return self._name

    def _entered(self, prev_state: CircuitBreakerState | None, notify: bool) -> None:
        if notify:
            self._reset()
            self._breaker._notify("state_change", prev_state, self)

    def _reset(self) -> None:
        self._breaker._state_storage.reset_success_counter()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name}>"


class CircuitClosedState(CircuitBreakerState):
    """Closed: calls run; ``fail_max`` consecutive failures open the breaker.

    Examples:
        >>> from maestro_resilience.compat.pybreaker import CircuitBreaker, CircuitClosedState
        >>> isinstance(CircuitBreaker().state, CircuitClosedState)
        True
    """

    def __init__(self, cb: CircuitBreaker, prev_state: CircuitBreakerState | None = None, notify: bool = False) -> None:
        super().__init__(cb, STATE_CLOSED)
        self._entered(prev_state, notify)

    def _reset(self) -> None:
        # only on a change: a second breaker over the same storage keeps its count
        self._breaker._state_storage.reset_counter()


class CircuitOpenState(CircuitBreakerState):
    """Open: calls are refused until ``reset_timeout`` has passed since ``opened_at``.

    Examples:
        >>> from maestro_resilience.compat.pybreaker import CircuitBreaker, CircuitOpenState
        >>> breaker = CircuitBreaker()
        >>> _ = breaker.open()
        >>> isinstance(breaker.state, CircuitOpenState)
        True
    """

    def __init__(self, cb: CircuitBreaker, prev_state: CircuitBreakerState | None = None, notify: bool = False) -> None:
        super().__init__(cb, STATE_OPEN)
        self._entered(prev_state, notify)


class CircuitHalfOpenState(CircuitBreakerState):
    """Half-open: one trial call at a time; ``success_threshold`` successes close, a failure re-opens.

    Examples:
        >>> from maestro_resilience.compat.pybreaker import CircuitBreaker, CircuitHalfOpenState
        >>> breaker = CircuitBreaker()
        >>> breaker.half_open()
        >>> isinstance(breaker.state, CircuitHalfOpenState)
        True
    """

    def __init__(self, cb: CircuitBreaker, prev_state: CircuitBreakerState | None = None, notify: bool = False) -> None:
        super().__init__(cb, STATE_HALF_OPEN)
        self._entered(prev_state, notify)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    """A naive ``opened_at`` (a hand-made storage) read as UTC, as pybreaker's Redis storage does."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class CircuitBreaker:
    """pybreaker's ``CircuitBreaker``: opens after ``fail_max`` consecutive failures.

    Args:
        fail_max: consecutive failures that open the breaker.
        reset_timeout: seconds the breaker stays open before a trial call.
        success_threshold: successful trial calls in a row that close it again.
        exclude: exception classes, or predicates taking the exception, that are not failures
            (they count as successes, as in pybreaker).
        listeners: ``CircuitBreakerListener`` objects.
        state_storage: where the state lives (default ``CircuitMemoryStorage("closed")``).
        name: a name for logs (``None`` by default, as in pybreaker).
        throw_new_error_on_trip: the call that opens the breaker raises ``CircuitBreakerError``
            (its ``__cause__`` is the call's error); ``False``: the call's own error.

    Examples:
        >>> from maestro_resilience.compat import pybreaker
        >>> breaker = pybreaker.CircuitBreaker(fail_max=2, reset_timeout=60)
        >>> @breaker
        ... def fetch() -> str:
        ...     raise ConnectionError("down")
        >>> for _ in range(2):
        ...     try:
        ...         fetch()
        ...     except (ConnectionError, pybreaker.CircuitBreakerError) as error:
        ...         print(type(error).__name__)
        ConnectionError
        CircuitBreakerError
        >>> breaker.current_state, breaker.fail_counter
        ('open', 2)
    """

    def __init__(  # noqa: PLR0917 - pybreaker takes them positionally
        self,
        fail_max: int = 5,
        reset_timeout: float = 60,
        success_threshold: int = 1,
        exclude: Iterable[_Exclusion] | None = None,
        listeners: Sequence[CircuitBreakerListener] | None = None,
        state_storage: CircuitBreakerStorage | None = None,
        name: str | None = None,
        throw_new_error_on_trip: bool = True,
    ) -> None:
        self._lock = threading.RLock()
        self._state_storage = state_storage or CircuitMemoryStorage(STATE_CLOSED)
        self._generation = 0
        self._trial: tuple[int, datetime] | None = None  # (generation, start) of the running trial call
        self._listeners: list[CircuitBreakerListener] = list(listeners or [])
        self._state_name = self.current_state  # the state object's name, readable without a call
        self._state = self._create_new_state(self._state_name)
        self._fail_max = fail_max
        self._reset_timeout = reset_timeout
        self._success_threshold = success_threshold
        self._excluded_exceptions: list[_Exclusion] = list(exclude or [])
        self._name = name
        self._throw_new_error_on_trip = throw_new_error_on_trip

    # -- settings ------------------------------------------------------------------------------
    @property
    def fail_max(self) -> int:
        """Consecutive failures that open the breaker (settable)."""
        return self._fail_max

    @fail_max.setter
    def fail_max(self, number: int) -> None:
        self._fail_max = number

    @property
    def reset_timeout(self) -> float:
        """Seconds the breaker stays open (settable)."""
        return self._reset_timeout

    @reset_timeout.setter
    def reset_timeout(self, timeout: float) -> None:
        self._reset_timeout = timeout

    @property
    def success_threshold(self) -> int:
        """Successful trial calls that close the breaker (settable)."""
        return self._success_threshold

    @success_threshold.setter
    def success_threshold(self, threshold: int) -> None:
        self._success_threshold = threshold

    @property
    def name(self) -> str | None:
        """The breaker's name (settable)."""
        return self._name

    @name.setter
    def name(self, name: str) -> None:
        self._name = name

    # -- state -------------------------------------------------------------------------------------
    @property
    def fail_counter(self) -> int:
        """Consecutive failures, from the storage."""
        return self._state_storage.counter

    @property
    def success_counter(self) -> int:
        """Consecutive successful trial calls in half-open, from the storage."""
        return self._state_storage.success_counter

    @property
    def current_state(self) -> str:
        """The stored state: ``"closed"``, ``"open"`` or ``"half-open"``."""
        return self._state_storage.state

    @property
    def state(self) -> CircuitBreakerState:
        """The state object; a change made elsewhere (another process) is noticed and announced here."""
        stored = self.current_state
        if stored != self._state.name:
            self.state = stored  # the setter takes a state name
        return self._state

    @state.setter
    def state(self, state_str: str) -> None:
        with self._lock:
            self._generation += 1
            self._trial = None
            self._state_name = state_str
            self._state = self._create_new_state(state_str, prev_state=self._state, notify=True)

    def _create_new_state(
        self, new_state: str, prev_state: CircuitBreakerState | None = None, notify: bool = False
    ) -> CircuitBreakerState:
        classes: dict[str, Callable[..., CircuitBreakerState]] = {
            STATE_CLOSED: CircuitClosedState,
            STATE_OPEN: CircuitOpenState,
            STATE_HALF_OPEN: CircuitHalfOpenState,
        }
        try:
            cls = classes[new_state]
        except KeyError:
            raise ValueError(f"Unknown state {new_state!r}, valid states: {', '.join(classes)}") from None
        return cls(self, prev_state=prev_state, notify=notify)

    def open(self) -> bool:
        """Open now (the next calls are refused for ``reset_timeout``); returns ``throw_new_error_on_trip``."""
        with self._lock:
            self._state_storage.opened_at = _utcnow()
            self._state_storage.state = STATE_OPEN
            self.state = STATE_OPEN
            return self._throw_new_error_on_trip

    def half_open(self) -> None:
        """Half-open now: the next call is a trial."""
        with self._lock:
            self._state_storage.state = STATE_HALF_OPEN
            self.state = STATE_HALF_OPEN

    def close(self) -> None:
        """Close now, with the counters at zero."""
        with self._lock:
            self._state_storage.reset_success_counter()
            self._state_storage.state = STATE_CLOSED
            self.state = STATE_CLOSED

    # -- exclusions and listeners --------------------------------------------------------------
    @property
    def excluded_exceptions(self) -> tuple[_Exclusion, ...]:
        """Exception classes and predicates that are not failures."""
        return tuple(self._excluded_exceptions)

    def add_excluded_exception(self, exception: _Exclusion) -> None:
        """Stop counting ``exception`` (a class or a predicate) as a failure."""
        with self._lock:
            self._excluded_exceptions.append(exception)

    def add_excluded_exceptions(self, *exceptions: _Exclusion) -> None:
        """``add_excluded_exception`` for each."""
        for exception in exceptions:
            self.add_excluded_exception(exception)

    def remove_excluded_exception(self, exception: _Exclusion) -> None:
        """Count ``exception`` as a failure again."""
        with self._lock:
            self._excluded_exceptions.remove(exception)

    def is_system_error(self, exception: BaseException) -> bool:
        """False for an excluded exception (a business error), True otherwise."""
        for exclusion in self._excluded_exceptions:
            if isinstance(exclusion, type):
                if isinstance(exception, exclusion):
                    return False
            elif callable(exclusion) and exclusion(exception):
                return False
        return True

    @property
    def listeners(self) -> tuple[CircuitBreakerListener, ...]:
        """The listeners, in the order they are called."""
        return tuple(self._listeners)

    def add_listener(self, listener: CircuitBreakerListener) -> None:
        """Add a listener."""
        with self._lock:
            self._listeners.append(listener)

    def add_listeners(self, *listeners: CircuitBreakerListener) -> None:
        """Add listeners."""
        for listener in listeners:
            self.add_listener(listener)

    def remove_listener(self, listener: CircuitBreakerListener) -> None:
        """Remove a listener."""
        with self._lock:
            self._listeners.remove(listener)

    def _notify(self, event: str, *args: Any, **kwargs: Any) -> None:
        with self._lock:  # one listener call at a time, whatever the threads
            for listener in tuple(self._listeners):
                getattr(listener, event)(self, *args, **kwargs)

    # -- the state machine: admission and outcomes, under the lock, never around the call ---------
    def _inc_counter(self) -> None:
        self._state_storage.increment_counter()

    def _admit(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Token:
        """Let a call in (``(generation, trial)``) or raise ``CircuitBreakerError``."""
        with self._lock:
            name = self.state.name
            if name == STATE_CLOSED:
                self._notify("before_call", func, *args, **kwargs)
                return (self._generation, False)
            now = _utcnow()
            if name == STATE_OPEN:
                opened_at = self._state_storage.opened_at
                until = None if opened_at is None else _aware(opened_at) + timedelta(seconds=self._reset_timeout)
                if until is not None and now < until:
                    raise CircuitBreakerError(
                        "Timeout not elapsed yet, circuit breaker still open",
                        breaker=self._name,
                        retry_after=(until - now).total_seconds(),
                    )
                self.half_open()
                name = STATE_HALF_OPEN
            trial = name == STATE_HALF_OPEN
            if trial:
                if self._trial is not None and self._trial[0] == self._generation:
                    left = (self._trial[1] + timedelta(seconds=self._reset_timeout) - now).total_seconds()
                    if left > 0:
                        raise CircuitBreakerError(
                            "Trial call in progress, circuit breaker half-open",
                            breaker=self._name,
                            state="half_open",
                            retry_after=left,
                        )
                self._trial = (self._generation, now)
            self._notify("before_call", func, *args, **kwargs)
            return (self._generation, trial)

    def _end_trial(self, token: _Token) -> bool:
        """Free the trial place of ``token``; True when ``token`` is of the current generation."""
        current = token[0] == self._generation
        if token[1] and current:
            self._trial = None
        return current

    def _succeeded(self, token: _Token) -> None:
        with self._lock:
            if self._end_trial(token):
                self._state_storage.reset_counter()
                if token[1]:
                    self._state_storage.increment_success_counter()
                    if self._state_storage.success_counter >= self._success_threshold:
                        self.close()
            self._notify("success")

    def _failed(self, token: _Token, exc: BaseException) -> None:
        """Count ``exc``; raise ``CircuitBreakerError`` from it when it opens the breaker and pybreaker would."""
        if not self.is_system_error(exc):
            self._succeeded(token)
            return
        with self._lock:
            if not self._end_trial(token):  # admitted before a state change: changes nothing now
                self._notify("failure", exc)
                return
            self._inc_counter()
            self._notify("failure", exc)
            if token[1]:
                message = "Trial call failed, circuit breaker opened"
            elif self._state_storage.counter >= self._fail_max:
                message = "Failures threshold reached, circuit breaker opened"
            else:
                return
            if self.open():
                raise CircuitBreakerError(message, breaker=self._name, retry_after=float(self._reset_timeout)) from exc

    # -- calls -----------------------------------------------------------------------------------
    def call(self, func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``func(*args, **kwargs)`` through the breaker.

        A generator returned by ``func`` is guarded while it is iterated, as in pybreaker. ``TypeError``
        for an ``async def`` function: ``await breaker.call_async(func, ...)``.
        """
        if is_async_callable(func):
            raise TypeError(
                f"{getattr(func, '__qualname__', func)!r} is an async def function: call() would only create its "
                "coroutine; use: await breaker.call_async(func, ...)"
            )
        return self._call(func, args, kwargs)

    def _lock_free(self) -> CircuitMemoryStorage | None:
        """The memory storage when calls may skip the lock: closed, in memory, no listener to tell."""
        storage = self._state_storage
        if type(storage) is CircuitMemoryStorage and not self._listeners and storage._state == self._state_name:
            return storage
        return None

    def _call(self, func: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        fast = self._lock_free() if self._state_name == STATE_CLOSED else None
        # closed in memory without listeners: admitting needs nothing but the generation
        token = (self._generation, False) if fast is not None else self._admit(func, args, kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            self._failed(token, exc)
            raise
        if isinstance(result, types.GeneratorType):
            return self._generator_call(token, result)  # type: ignore[return-value]
        if fast is None or fast._fail_counter:  # a success with nothing to reset changes nothing
            self._succeeded(token)
        return result

    def _generator_call(self, token: _Token, wrapped: Generator[Any, Any, Any]) -> Generator[Any, Any, None]:
        try:
            value = yield next(wrapped)
            while True:
                value = yield wrapped.send(value)
        except StopIteration:
            self._succeeded(token)
        except BaseException as exc:
            self._failed(token, exc)
            wrapped.throw(exc)

    async def call_async(self, func: Callable[P, Awaitable[T]], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Await ``func(*args, **kwargs)`` through the breaker (asyncio; a tornado future works too).

        ``TypeError`` for a generator or async generator function (nothing to await).
        """
        if inspect.isasyncgenfunction(func):
            raise TypeError("acall does not support async generators: guard the code that iterates it")
        if inspect.isgeneratorfunction(func):
            raise TypeError("acall does not support generator functions: use call()")
        token = self._admit(func, args, kwargs)
        try:
            result = func(*args, **kwargs)
            value: T = await result if inspect.isawaitable(result) else result  # a tornado future, or a plain value
        except Exception as exc:
            self._failed(token, exc)
            raise
        except BaseException:  # cancelled (a client gone, an outer timeout): no verdict on the dependency
            with self._lock:
                self._end_trial(token)
            raise
        self._succeeded(token)
        return value

    acall = call_async

    @contextlib.contextmanager
    def calling(self) -> Iterator[None]:
        """Guard a ``with`` block: ``with breaker.calling(): ...``."""

        def block() -> Generator[None, None, None]:
            yield

        yield from self.call(block)

    @overload
    def __call__(self, func: Callable[P, T], /) -> Callable[P, T]: ...

    @overload
    def __call__(self, **call_kwargs: bool) -> Callable[[Callable[P, T]], Callable[P, T]]: ...

    def __call__(self, *call_args: Any, **call_kwargs: bool) -> Any:
        """Decorate a function: ``@breaker``, or ``@breaker(__pybreaker_call_async=True)``.

        An ``async def`` function is guarded with ``call_async`` either way.
        """
        call_async = call_kwargs.pop("__pybreaker_call_async", False)
        if call_async and not HAS_TORNADO_SUPPORT:
            raise ImportError("No module named tornado")

        def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
            if call_async or is_async_callable(func):

                @functools.wraps(func)
                async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                    return await self.call_async(func, *args, **kwargs)

                return guarded_async

            @functools.wraps(func)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                return self._call(func, args, kwargs)

            return guarded

        if call_args:
            return decorate(*call_args)
        return decorate

    def __repr__(self) -> str:
        return f"<CircuitBreaker name={self._name!r} state={self._state.name!r}>"
