"""``Timeout``: async calls are cancelled; sync calls run on a worker thread the caller stops waiting for."""

from __future__ import annotations

import collections
import contextvars
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._exceptions import TimeoutExceeded
from maestro_resilience._policy import Policy

if TYPE_CHECKING:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

__all__ = ["Timeout"]

P = ParamSpec("P")
R = TypeVar("R")

_BLOCKS: contextvars.ContextVar[tuple[asyncio.Timeout, ...]] = contextvars.ContextVar(
    "maestro_resilience_timeouts", default=()
)


class Timeout(Policy):
    """Give up on a call after ``seconds`` with ``TimeoutExceeded`` (a ``TimeoutError``).

    * ``async def``: the call is cancelled (``asyncio.timeout``); ``async with Timeout(s):`` works too.
    * ``def``: the call runs on a worker thread and the caller stops waiting on time. Python cannot
      kill a thread: the call goes on in the background until it returns, holding a worker
      (``max_workers`` of them at most; further sync calls queue). Prefer timeouts built into the
      client (socket timeouts) for blocking I/O, and use this as a backstop. ``with Timeout(s):``
      cannot interrupt blocking code and raises ``TypeError``.

    Args:
        seconds: the limit (> 0).
        max_workers: worker threads for sync calls.
    """

    def __init__(
        self,
        seconds: float,
        *,
        max_workers: int = 32,
        name: str | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
            raise ValueError(f"seconds must be a number > 0, got {seconds!r}")
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be an int >= 1, got {max_workers!r}")
        self.seconds = float(seconds)
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None  # created on the first sync call
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = weakref.WeakKeyDictionary()
        self._last: tuple[object, Any] = (None, None)  # (loop, its _Deadlines): the common case without a lookup

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - keeps the package import light

            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix=f"timeout-{self.name}")
        return self._pool

    def _exceeded(self) -> TimeoutExceeded:
        emit(self.listeners, self.name, "timeout", seconds=self.seconds)
        return TimeoutExceeded(self.name, self.seconds)

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        policy = self

        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            context = contextvars.copy_context()
            future = policy._executor().submit(context.run, fn, *args, **kwargs)  # type: ignore[arg-type]
            try:
                result: R = future.result(policy.seconds)
            except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError since 3.11
                if not future.done():
                    future.cancel()
                    raise policy._exceeded() from None
                raise
            return result

        return limited

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        import asyncio  # noqa: PLC0415 - decorating async code: asyncio is (about to be) imported anyway

        policy = self
        current_task = asyncio.current_task
        get_running_loop = asyncio.get_running_loop
        cancelled_error = asyncio.CancelledError

        async def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            task = current_task()
            if task is None:  # pragma: no cover - awaited outside a task (unusual runners)
                async with asyncio.timeout(policy.seconds):
                    return await fn(*args, **kwargs)
            loop = get_running_loop()
            last = policy._last
            deadlines = last[1] if last[0] is loop else policy._deadlines_for(loop)
            entry = deadlines.register(task)
            cancelled = False
            try:
                return await fn(*args, **kwargs)
            except cancelled_error:
                cancelled = True
                if entry[2] == _FIRED and task.uncancel() <= entry[3]:
                    raise policy._exceeded() from None
                raise
            finally:
                if entry[2] == _FIRED and not cancelled:
                    task.uncancel()  # the call swallowed our cancellation: keep the count balanced
                deadlines.done(entry)

        return limited

    def _deadlines_for(self, loop: asyncio.AbstractEventLoop) -> _Deadlines:
        deadlines = self._loops.get(loop)
        if deadlines is None:
            deadlines = self._loops[loop] = _Deadlines(loop, self.seconds)
        self._last = (loop, deadlines)
        return deadlines

    def __enter__(self) -> None:
        raise TypeError("Timeout cannot interrupt a blocking with-block: decorate the function or use .call()")

    async def __aenter__(self) -> Timeout:
        import asyncio  # noqa: PLC0415

        scope = asyncio.timeout(self.seconds)
        await scope.__aenter__()
        _BLOCKS.set((*_BLOCKS.get(), scope))
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        blocks = _BLOCKS.get()
        scope = blocks[-1]
        _BLOCKS.set(blocks[:-1])
        try:
            await scope.__aexit__(exc_type, exc, tb)
        except TimeoutError:
            if scope.expired():
                raise self._exceeded() from None
            raise

    def shutdown(self, wait: bool = False) -> None:
        """Stop the worker threads of sync calls."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait)


_PENDING, _DONE, _FIRED = 0, 1, 2


class _Deadlines:
    """The in-flight async calls of one ``Timeout`` on one event loop, oldest first.

    Every call of a policy has the same duration, so deadlines arrive in order and a FIFO queue
    with ONE timer (armed for the oldest pending deadline) replaces a timer per call: a call
    costs an append and a flag, not a heap insertion and a cancellation.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        self.loop = weakref.proxy(loop)  # a strong reference would keep the WeakKeyDictionary entry alive
        self.seconds = seconds
        self.queue: collections.deque[list[Any]] = collections.deque()  # [deadline, task, status, cancelling]
        self.armed = False  # a timer is scheduled (its handle is not kept: it references the loop)

    def register(self, task: asyncio.Task[Any]) -> list[Any]:
        entry: list[Any] = [self.loop.time() + self.seconds, task, _PENDING, task.cancelling()]
        self.queue.append(entry)
        if not self.armed:
            self.loop.call_at(entry[0], self.expire)
            self.armed = True
        return entry

    def done(self, entry: list[Any]) -> None:
        entry[2] = _DONE if entry[2] == _PENDING else entry[2]
        entry[1] = None  # drop the task reference early
        queue = self.queue
        while queue and queue[0][2] != _PENDING:
            queue.popleft()

    def expire(self) -> None:
        now = self.loop.time() + 1e-6  # the loop may run a timer a hair before its deadline
        queue = self.queue
        while queue and (queue[0][2] != _PENDING or queue[0][0] <= now):
            entry = queue.popleft()
            if entry[2] == _PENDING:
                entry[2] = _FIRED
                entry[1].cancel()
        if queue:
            self.loop.call_at(queue[0][0], self.expire)
        else:
            self.armed = False
