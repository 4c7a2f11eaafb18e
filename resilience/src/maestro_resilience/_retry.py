"""Retry built on tenacity's strategy objects, without tenacity's per-call cost on success.

The first attempt runs directly. Only after it fails does the policy build a tenacity
``RetryCallState`` and consult the ``stop``/``wait``/``retry`` strategies (any tenacity strategy,
combined with ``|`` and ``&``, or a plain callable taking a ``RetryCallState``). Each call has its
own state: nothing is shared between concurrent calls except the optional ``RetryBudget``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

from maestro_resilience._clock import SWITCHES, SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._exceptions import ConfigurationError
from maestro_resilience._policy import Policy, check_clock
from maestro_resilience._retry_flow import ATTEMPT, DoRaise, DoReturn, DoSleep, Flow, drive_async, drive_sync

if TYPE_CHECKING:
    import tenacity

__all__ = ["Attempt", "RetriedFunction", "Retry", "RetryBudget"]

P = ParamSpec("P")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

# tenacity keywords of ``retry_with`` that have another home here (named in the error)
_TENACITY_ONLY = {
    "sleep": "pass clock= (maestro_resilience.testing.FakeClock in tests)",
    "before": "use listeners= (a 'retry' event precedes each wait)",
    "after": "use listeners= (a 'retry' event precedes each wait)",
    "before_sleep": "use listeners= (a 'retry' event precedes each wait)",
    "reraise": "Retry always raises the last original exception",
    "retry_error_cls": "Retry always raises the last original exception",
    "retry_error_callback": "wrap the call in a Fallback",
    "enabled": "use maestro_resilience.testing.no_wait() in tests",
}


class RetryBudget:
    """A token bucket shared by many calls that caps retries to a fraction of recent traffic.

    Every call deposits ``ratio`` tokens (up to ``max_tokens``); every retry withdraws one. A reserve
    of ``min_per_second`` retries per second is always allowed, so rarely-called functions can still
    retry. When the bucket is empty a failing call gives up at once instead of adding to a retry storm.

    Args:
        ratio: retries allowed per call, in (0, 1] (0.2: at most one retry per five calls).
        min_per_second: retries per second always allowed (>= 0).
        max_tokens: the bucket's capacity (>= 1).
        clock: time source.

    Examples:
        >>> from maestro_resilience import Retry, RetryBudget
        >>> from maestro_resilience.testing import FakeClock
        >>> clock = FakeClock()
        >>> budget = RetryBudget(0.5, min_per_second=0, clock=clock)  # one retry per two calls
        >>> retry = Retry(attempts=3, budget=budget, clock=clock)
        >>> calls = []
        >>> def down() -> None:
        ...     calls.append(1)
        ...     raise ConnectionError("still down")
        >>> for _ in range(4):
        ...     try:
        ...         retry.call(down)
        ...     except ConnectionError:
        ...         pass
        >>> len(calls)  # 4 calls and the 2 retries the budget allowed, not 8 retries
        6
    """

    def __init__(
        self, ratio: float = 0.2, *, min_per_second: float = 1.0, max_tokens: float = 100.0, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        if (
            isinstance(ratio, bool)
            or not isinstance(ratio, int | float)
            or not 0 < ratio <= 1
            or not math.isfinite(ratio)
        ):
            raise ConfigurationError(f"ratio must be a finite number in (0, 1], got {ratio!r}")
        if (
            isinstance(min_per_second, bool)
            or not isinstance(min_per_second, int | float)
            or min_per_second < 0
            or not math.isfinite(min_per_second)
        ):
            raise ConfigurationError(f"min_per_second must be a finite number >= 0, got {min_per_second!r}")
        if (
            isinstance(max_tokens, bool)
            or not isinstance(max_tokens, int | float)
            or max_tokens < 1
            or not math.isfinite(max_tokens)
        ):
            raise ConfigurationError(f"max_tokens must be a finite number >= 1, got {max_tokens!r}")
        self.ratio = float(ratio)
        self.min_per_second = float(min_per_second)
        self.max_tokens = float(max_tokens)
        self.clock = check_clock(clock)
        self._tokens = 0.0
        self._reserve = float(min_per_second)
        self._last = clock.monotonic()
        self._lock = threading.Lock()

    def deposit(self) -> None:
        """Record one call (lock-free; a lost update under contention only makes the budget stricter)."""
        tokens = self._tokens + self.ratio
        self._tokens = tokens if tokens < self.max_tokens else self.max_tokens

    def try_withdraw(self) -> bool:
        """Take one retry from the budget; False when it is exhausted."""
        with self._lock:
            now = self.clock.monotonic()
            if self.min_per_second:
                self._reserve = min(self.min_per_second, self._reserve + (now - self._last) * self.min_per_second)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            if self._reserve >= 1.0:
                self._reserve -= 1.0
                return True
            return False

    @property
    def available(self) -> float:
        """Retries currently affordable (deposited tokens plus the reserve)."""
        return self._tokens + self._reserve


def _is_result_check(strategy: Any) -> bool:
    """Whether a tenacity retry strategy may look at results (then successes must be judged too)."""
    import tenacity  # noqa: PLC0415

    if isinstance(strategy, tenacity.retry_unless_exception_type):
        return True  # it retries successful results too
    if isinstance(strategy, tenacity.retry_if_exception | tenacity.retry_if_exception_cause_type):
        return False
    if strategy is tenacity.retry_never:
        return False
    if isinstance(strategy, tenacity.retry_any | tenacity.retry_all):
        return any(_is_result_check(s) for s in strategy.retries)
    return True


class Retry(Policy):
    """Re-run a failing call with backoff; give up with the last ORIGINAL exception.

    Args:
        name: the policy's name.
        attempts: maximum attempts including the first (used when ``stop`` is not given).
        deadline: total seconds a call may spend across attempts and waits (``None``: no deadline);
            a wait that would cross it is not started.
        stop: a tenacity stop strategy (``stop_after_attempt(5) | stop_after_delay(10)``...).
        wait: a tenacity wait strategy (default: full-jitter exponential, 0.1 s base, 10 s cap).
        retry: a tenacity retry strategy (default: retry the ``on`` exceptions except rejections by
            inner policies: ``CircuitOpenError``, ``BulkheadFullError``, ``RateLimitExceeded``).
        on: exception classes that are retried when ``retry`` is not given (default ``Exception``).
        retry_after: a hook given the exception (or result) that returns a server-requested delay in
            seconds, or ``None`` to use ``wait``.
        budget: a ``RetryBudget`` shared with other policies.
        listeners: event listeners (a ``retry`` event before each wait).
        clock: time source; sleeps are skipped under ``maestro_resilience.testing.no_wait()``.

    Raises:
        TypeError: a strategy is not a tenacity strategy or callable.
        ValueError: ``attempts`` < 1 or ``deadline`` <= 0.

    Examples:
        >>> from maestro_resilience import Retry
        >>> from maestro_resilience.testing import FakeClock
        >>> clock = FakeClock()  # its sleeps return at once (and are recorded)
        >>> calls = []
        >>> @Retry(attempts=3, on=ConnectionError, clock=clock)
        ... def fetch() -> str:
        ...     calls.append(1)
        ...     if len(calls) < 3:
        ...         raise ConnectionError("reset by peer")
        ...     return "data"
        >>> fetch(), len(calls), len(clock.sleeps)
        ('data', 3, 2)

        Giving up re-raises the last original exception, with a note:

        >>> try:
        ...     Retry(attempts=2, name="parse", clock=clock).call(int, "x")
        ... except ValueError as error:
        ...     print(error.__notes__)
        ["maestro_resilience.Retry('parse'): gave up after 2 attempt(s)"]
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        attempts: int = 3,
        deadline: float | None = 30.0,
        stop: Any = None,
        wait: Any = None,
        retry: Any = None,
        on: type[BaseException] | tuple[type[BaseException], ...] = (Exception,),
        retry_after: Callable[[Any], float | None] | None = None,
        budget: RetryBudget | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        import tenacity  # noqa: PLC0415
        from tenacity.stop import stop_base  # noqa: PLC0415
        from tenacity.wait import wait_base  # noqa: PLC0415

        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigurationError(f"attempts must be an int >= 1, got {attempts!r}")
        if deadline is not None and (
            isinstance(deadline, bool)
            or not isinstance(deadline, int | float)
            or not deadline > 0
            or not math.isfinite(deadline)
        ):
            raise ConfigurationError(f"deadline must be a finite number of seconds > 0 or None, got {deadline!r}")
        if isinstance(on, type):
            on = (on,)
        if not isinstance(on, tuple) or not all(isinstance(t, type) and issubclass(t, BaseException) for t in on):
            raise ConfigurationError(f"on must be an exception class or a tuple of them, got {on!r}")
        for pname, value, base in (
            ("stop", stop, stop_base),
            ("wait", wait, wait_base),
            ("retry", retry, tenacity.retry_base),
        ):
            if value is not None and not (isinstance(value, base) or callable(value)):
                raise ConfigurationError(f"{pname} must be a tenacity {pname} strategy or a callable, got {value!r}")
        if retry_after is not None and not callable(retry_after):
            raise ConfigurationError(f"retry_after must be a callable returning seconds or None, got {retry_after!r}")
        if budget is not None and not isinstance(budget, RetryBudget):
            raise ConfigurationError(f"budget must be a RetryBudget, got {budget!r}")
        self.attempts = attempts
        self.deadline = None if deadline is None else float(deadline)
        self.stop = stop if stop is not None else tenacity.stop_after_attempt(attempts)
        self.wait = wait if wait is not None else tenacity.wait_random_exponential(multiplier=0.1, max=10.0)
        self._default_retry = retry is None
        if retry is None:
            from maestro_resilience._exceptions import BulkheadFullError, CircuitOpenError, RateLimitExceeded  # noqa: PLC0415

            # a rejection by an inner policy is not worth an immediate retry
            retry = tenacity.retry_if_exception_type(on) & tenacity.retry_if_not_exception_type(
                (CircuitOpenError, BulkheadFullError, RateLimitExceeded)
            )
        self.retry = retry
        self.retry_after = retry_after
        self.budget = budget
        self._checks_results = _is_result_check(self.retry)
        self._tenacity = tenacity
        self._retrying = tenacity.Retrying(stop=self.stop, wait=self.wait, retry=self.retry, reraise=True)
        # the last call's statistics: its start time while its first attempt is all there is, else a dict
        self._stats: float | dict[str, Any] | None = None
        self._settings: dict[str, Any] = {
            "name": self.name,
            "attempts": attempts,
            "deadline": deadline,
            "stop": stop,
            "wait": wait,
            "retry": None if self._default_retry else retry,
            "on": on,
            "retry_after": retry_after,
            "budget": budget,
            "listeners": self.listeners,
            "clock": clock,
        }

    # -- tenacity's runtime attributes -----------------------------------------------------------
    @property
    def statistics(self) -> dict[str, Any]:
        """tenacity's statistics of the last call (or block) this policy started, in any thread.

        Keys as in tenacity: ``start_time`` (on the policy's clock), ``attempt_number`` (attempts
        made), ``idle_for`` (seconds waited) and ``delay_since_first_attempt`` (seconds from the
        first attempt to the last outcome judged by ``stop``). Empty before the first call; the
        dict returned is a snapshot. Each call counts in its own dict, so concurrent calls never
        mix their figures (tenacity clears one shared dict at every call); as in tenacity's
        ``fn.statistics``, the last call started wins. Use ``retry`` events for metrics.

        Examples:
            >>> import tenacity
            >>> from maestro_resilience import Retry
            >>> from maestro_resilience.testing import FakeClock
            >>> retry = Retry(stop=tenacity.stop_after_attempt(3), wait=tenacity.wait_fixed(2), clock=FakeClock())
            >>> try:
            ...     retry.call(int, "x")
            ... except ValueError:
            ...     pass
            >>> stats = retry.statistics
            >>> stats["attempt_number"], stats["idle_for"], stats["delay_since_first_attempt"]
            (3, 4.0, 4.0)
        """
        last = self._stats
        if last is None:
            return {}
        if isinstance(last, dict):
            return dict(last)
        return {"start_time": last, "attempt_number": 1, "idle_for": 0, "delay_since_first_attempt": 0}

    def copy(self, **changes: Any) -> Retry:
        """A new ``Retry`` with the same settings except ``changes`` (tenacity's ``Retrying.copy``).

        Args:
            **changes: any keyword of ``Retry`` (``stop=``, ``wait=``, ``attempts=``...).

        Raises:
            ConfigurationError: a keyword ``Retry`` does not take (tenacity-only keywords such as
                ``reraise`` or ``before_sleep`` name their replacement).

        Examples:
            >>> import tenacity
            >>> from maestro_resilience import Retry
            >>> retry = Retry(stop=tenacity.stop_after_attempt(3))
            >>> retry.copy(stop=tenacity.stop_after_attempt(4)).stop.max_attempt_number
            4
        """
        for key in changes:
            if key in _TENACITY_ONLY:
                raise ConfigurationError(f"Retry has no {key}= setting: {_TENACITY_ONLY[key]}")
            if key not in self._settings:
                raise ConfigurationError(f"Retry has no {key}= setting (it takes: {', '.join(self._settings)})")
        return Retry(**{**self._settings, **changes})

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]]) -> RetriedFunction[P, Coroutine[Any, Any, R]]: ...

    @overload
    def __call__(self, fn: Callable[P, R]) -> RetriedFunction[P, R]: ...

    def __call__(self, fn: Callable[P, Any]) -> RetriedFunction[P, Any]:
        """Decorate ``fn``, keeping its signature and adding tenacity's ``retry``, ``retry_with``, ``statistics``."""
        wrapper: Any = super().__call__(fn)
        wrapper.retry = self
        wrapper.retry_with = lambda **changes: self.copy(**changes)(fn)
        wrapper.statistics = _Statistics(self)
        return wrapper  # type: ignore[no-any-return]

    # -- the decisions, sans-IO: typed actions (see _retry_flow) ---------------------------------
    def _new_state(self, fn: Any, args: Any, kwargs: Any, start: float) -> tenacity.RetryCallState:
        state = self._tenacity.RetryCallState(self._retrying, fn, args, kwargs)
        state.start_time = start
        return state

    def _new_stats(self, start: float) -> dict[str, Any]:
        """tenacity's statistics of a call that failed once (``begin()``), published as the last call's."""
        stats: dict[str, Any] = {
            "start_time": start,
            "attempt_number": 1,
            "idle_for": 0,
            "delay_since_first_attempt": 0,
        }
        self._stats = stats
        return stats

    def _record(self, state: tenacity.RetryCallState, exc: BaseException | None, result: Any) -> None:
        if exc is not None:
            state.set_exception((type(exc), exc, exc.__traceback__))
        else:
            state.set_result(result)
        state.outcome_timestamp = self.clock.monotonic()

    def _decide(
        self, state: tenacity.RetryCallState, exc: BaseException | None, result: Any, stats: dict[str, Any]
    ) -> DoSleep | DoReturn | DoRaise:
        """After an attempt's outcome (recorded in ``state``): wait and retry, or stop with the outcome."""
        final: DoReturn | DoRaise = DoRaise(exc) if exc is not None else DoReturn(result)
        if not (self.retry(state) or isinstance(exc, self._tenacity.TryAgain)):  # TryAgain: always (tenacity's)
            return final
        delay = None
        if self.retry_after is not None:
            hinted = self.retry_after(exc if exc is not None else result)
            if hinted is not None:
                delay = max(0.0, float(hinted))
        if delay is None:
            delay = float(self.wait(state))
        state.upcoming_sleep = delay  # as in tenacity: the wait is known when stop is asked (stop_before_delay)
        stats["delay_since_first_attempt"] = state.seconds_since_start
        if (
            self.stop(state)
            or (
                self.deadline is not None
                and (state.outcome_timestamp or 0.0) - state.start_time + (0.0 if SWITCHES.no_wait else delay)
                > self.deadline
            )
            or (self.budget is not None and not self.budget.try_withdraw())
        ):
            if exc is not None:
                exc.add_note(
                    f"maestro_resilience.Retry({self.name!r}): gave up after {state.attempt_number} attempt(s)"
                )
            return final
        state.idle_for += delay
        state.next_action = self._tenacity.RetryAction(delay)
        stats["idle_for"] += delay
        stats["attempt_number"] += 1
        emit(
            self.listeners,
            self.name,
            "retry",
            attempt=state.attempt_number,
            delay=round(delay, 6),
            error=None if exc is None else repr(exc),
        )
        return DoSleep(delay)

    def _flow(self, fn: Any, args: Any, kwargs: Any, *, start: float, exc: BaseException | None, result: Any) -> Flow:
        """A call's retry loop after its first attempt (sans-IO: ``drive_sync`` or ``drive_async`` runs it)."""
        state = self._new_state(fn, args, kwargs, start)
        stats = self._new_stats(start)
        while True:
            self._record(state, exc, result)
            action = self._decide(state, exc, result, stats)
            if not isinstance(action, DoSleep):
                return action
            yield action
            state.prepare_for_next_attempt()
            outcome = yield ATTEMPT
            assert outcome is not None  # noqa: S101 - the drivers send an attempt's outcome
            exc, result = outcome
            if exc is None and not self._checks_results:
                return DoReturn(result)

    # -- block form ----------------------------------------------------------------------------
    def _no_block(self) -> TypeError:
        return TypeError(
            "Retry cannot re-run a with-block: write `for attempt in retry:` then `with attempt:` "
            "(`async for` in async code), or use it as a decorator or with .call()"
        )

    def __iter__(self) -> Iterator[Attempt]:
        """Retry a block: ``for attempt in retry: with attempt: ...`` (exceptions only, not results)."""
        return _Attempts(self)

    def __aiter__(self) -> AsyncIterator[Attempt]:
        """Retry a block in async code: ``async for attempt in retry: with attempt: ...``."""
        return _AsyncAttempts(self)

    # -- drivers -------------------------------------------------------------------------------
    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        policy = self
        monotonic = self.clock.monotonic
        budget = self.budget
        checks_results = self._checks_results

        def retried(*args: P.args, **kwargs: P.kwargs) -> R:
            if budget is not None:
                budget.deposit()
            start = policy._stats = monotonic()
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                flow = policy._flow(fn, args, kwargs, start=start, exc=exc, result=None)
                return drive_sync(flow, fn, args, kwargs, policy.clock)  # type: ignore[no-any-return]
            if checks_results:
                flow = policy._flow(fn, args, kwargs, start=start, exc=None, result=result)
                return drive_sync(flow, fn, args, kwargs, policy.clock)  # type: ignore[no-any-return]
            return result

        return retried

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        policy = self
        monotonic = self.clock.monotonic
        budget = self.budget
        checks_results = self._checks_results

        async def retried(*args: P.args, **kwargs: P.kwargs) -> R:
            if budget is not None:
                budget.deposit()
            start = policy._stats = monotonic()
            try:
                result = await fn(*args, **kwargs)
            except Exception as exc:
                flow = policy._flow(fn, args, kwargs, start=start, exc=exc, result=None)
                return await drive_async(flow, fn, args, kwargs, policy.clock)  # type: ignore[no-any-return]
            if checks_results:
                flow = policy._flow(fn, args, kwargs, start=start, exc=None, result=result)
                return await drive_async(flow, fn, args, kwargs, policy.clock)  # type: ignore[no-any-return]
            return result

        return retried


class RetriedFunction(Protocol[P, R_co]):
    """What ``@Retry(...)`` returns: the function, with tenacity's ``retry``, ``retry_with`` and ``statistics``.

    Attributes:
        retry: the ``Retry`` policy that decorated it.
        statistics: a read-only view of ``retry.statistics`` (the last call started).

    Examples:
        >>> import tenacity
        >>> from maestro_resilience import Retry
        >>> from maestro_resilience.testing import FakeClock
        >>> @Retry("parse", stop=tenacity.stop_after_attempt(3), clock=FakeClock())
        ... def parse(text: str) -> int:
        ...     return int(text)
        >>> try:
        ...     parse.retry_with(stop=tenacity.stop_after_attempt(4))("x")
        ... except ValueError as error:
        ...     print(error.__notes__[-1])
        maestro_resilience.Retry('parse'): gave up after 4 attempt(s)
        >>> parse("7"), parse.statistics["attempt_number"]
        (7, 1)
    """

    retry: Retry
    statistics: Mapping[str, Any]

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Call the function under its ``Retry``."""
        ...

    def retry_with(self, **changes: Any) -> RetriedFunction[P, R_co]:
        """The same function under ``retry.copy(**changes)`` (tenacity's ``retry_with``)."""
        ...


class _Statistics(Mapping[str, Any]):
    """``fn.statistics``: a live, read-only view of the policy's statistics."""

    def __init__(self, policy: Retry) -> None:
        self._policy = policy

    def __getitem__(self, key: str) -> Any:
        return self._policy.statistics[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._policy.statistics)

    def __len__(self) -> int:
        return len(self._policy.statistics)

    def __repr__(self) -> str:
        return repr(self._policy.statistics)


class Attempt:
    """One attempt of a retried block (``with attempt:``): it records the block's outcome.

    Attributes:
        number: 1 for the first attempt.

    As in tenacity, ``attempt.retry_state`` is the ``tenacity.RetryCallState`` of the block's run
    (one for all its attempts): ``attempt_number``, ``outcome`` (set when the ``with`` block ends),
    ``idle_for``, ``next_action``... With a ``retry=`` strategy that judges results, the block's
    result is ``None`` unless set with ``attempt.retry_state.set_result(value)`` after the block.

    Examples:
        >>> from maestro_resilience import Retry
        >>> from maestro_resilience.testing import FakeClock
        >>> numbers = []
        >>> for attempt in Retry(attempts=3, clock=FakeClock()):
        ...     with attempt:
        ...         numbers.append(attempt.number)
        ...         if attempt.number < 2:
        ...             raise ConnectionError("reset by peer")
        >>> numbers, attempt.retry_state.attempt_number, attempt.retry_state.outcome.failed
        ([1, 2], 2, False)

        Judging a block's result, as in tenacity's documentation:

        >>> import tenacity
        >>> for attempt in Retry(retry=tenacity.retry_if_result(lambda x: x < 3), clock=FakeClock()):
        ...     with attempt:
        ...         result = attempt.number  # some computation
        ...     if not attempt.retry_state.outcome.failed:
        ...         attempt.retry_state.set_result(result)
        >>> result
        3
    """

    def __init__(self, attempts: _Attempts | _AsyncAttempts, number: int) -> None:
        self._attempts = attempts
        self.number = number

    @property
    def retry_state(self) -> tenacity.RetryCallState:
        """tenacity's ``RetryCallState`` of this block's run (built on first use)."""
        return self._attempts.current_state()

    def __enter__(self) -> Attempt:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        attempts = self._attempts
        if exc is None:
            attempts.done = True
            if attempts.state is not None or attempts.policy._checks_results:
                attempts.current_state()  # records the result, None as in tenacity
            return False
        if not isinstance(exc, Exception):
            return False  # KeyboardInterrupt, CancelledError... are never retried
        attempts.error = exc
        if attempts.state is not None:
            attempts.policy._record(attempts.state, exc, None)
        return True  # the iterator decides: retry, or re-raise the original exception


class _Attempts:
    """The sync iterator behind ``for attempt in retry``; tenacity state only after a failure (or on demand)."""

    def __init__(self, policy: Retry) -> None:
        self.policy = policy
        self.done = False
        self.error: BaseException | None = None
        self.number = 0
        self.state: tenacity.RetryCallState | None = None
        self.stats: dict[str, Any] | None = None
        if policy.budget is not None:
            policy.budget.deposit()
        self.start = policy._stats = policy.clock.monotonic()

    def __iter__(self) -> _Attempts:
        return self

    def current_state(self) -> tenacity.RetryCallState:
        """The run's ``RetryCallState``, built on first use with the current attempt's outcome, if any."""
        state = self.state
        if state is None:
            state = self.state = self.policy._new_state(None, (), {}, self.start)
            state.attempt_number = self.number
            if self.error is not None:
                self.policy._record(state, self.error, None)
            elif self.done:
                self.policy._record(state, None, None)
        elif self.done and state.outcome is None:
            self.policy._record(state, None, None)
        return state

    def _judge(self) -> float | None:
        """Seconds to wait before the next attempt, ``None`` to stop; raises the original exception to stop."""
        error = self.error
        if error is None and not self.done:  # the block neither failed nor finished: exited early (break)
            return None
        if error is None and not self.policy._checks_results:
            return None
        state = self.current_state()
        self.error = None
        if self.stats is None:
            self.stats = self.policy._new_stats(self.start)
        if error is None:
            outcome = state.outcome
            if outcome is None or outcome.failed:
                return None
            result = outcome.result()
            state.outcome_timestamp = self.policy.clock.monotonic()  # set_result() stamps on time.monotonic()
            action = self.policy._decide(state, None, result, self.stats)
            if not isinstance(action, DoSleep):
                return None  # the block's result stands (tenacity raises RetryError when stop gives up)
        else:
            action = self.policy._decide(state, error, None, self.stats)
            if isinstance(action, DoRaise):
                raise action.error
        if not isinstance(action, DoSleep):  # pragma: no cover - an error's decision never returns a value
            return None
        self.done = False
        state.prepare_for_next_attempt()
        return action.seconds

    def __next__(self) -> Attempt:
        if self.number:
            delay = self._judge()
            if delay is None:
                raise StopIteration
            if not SWITCHES.no_wait and delay > 0:
                self.policy.clock.sleep(delay)
        self.number += 1
        return Attempt(self, self.number)


class _AsyncAttempts(_Attempts):
    """The async iterator behind ``async for attempt in retry``."""

    def __aiter__(self) -> _AsyncAttempts:
        return self

    async def __anext__(self) -> Attempt:
        if self.number:
            delay = self._judge()
            if delay is None:
                raise StopAsyncIteration
            if not SWITCHES.no_wait and delay > 0:
                await self.policy.clock.asleep(delay)
        self.number += 1
        return Attempt(self, self.number)
