"""Concurrency limits: ``Bulkhead`` (threads and asyncio share one counter) and ``ThreadPoolBulkhead``."""

from __future__ import annotations

import collections
import contextlib
import contextvars
import queue
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._exceptions import BulkheadFullError
from maestro_resilience._policy import Policy, is_async_callable

if TYPE_CHECKING:
    import asyncio

__all__ = ["Bulkhead", "ThreadPoolBulkhead"]

P = ParamSpec("P")
R = TypeVar("R")


def _check_wait(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


class Bulkhead(Policy):
    """At most ``max_concurrent`` calls at once; others wait up to ``max_wait`` then get ``BulkheadFullError``.

    One pool of permits serves threads and asyncio tasks alike (an async waiter never blocks its
    event loop). Permits live in a ``queue.SimpleQueue``, so taking and returning one is a single
    C call with no Python-level lock.

    Args:
        max_concurrent: concurrency limit (>= 1).
        max_wait: seconds a caller may wait for a slot (0: reject at once).

    Examples:
        >>> from maestro_resilience import Bulkhead, BulkheadFullError
        >>> bulkhead = Bulkhead(1, name="db-pool")
        >>> with bulkhead:  # the only slot is taken ...
        ...     try:
        ...         bulkhead.call(print, "never printed")
        ...     except BulkheadFullError as error:
        ...         print(error)
        bulkhead 'db-pool' is full (1 concurrent calls)
        >>> bulkhead.call(sum, [1, 2, 3])  # ... and free again
        6
    """

    def __init__(
        self,
        max_concurrent: int,
        max_wait: float = 0.0,
        *,
        name: str | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or max_concurrent < 1:
            raise ValueError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")
        self.max_concurrent = max_concurrent
        self.max_wait = _check_wait("max_wait", max_wait)
        self._permits: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(max_concurrent):
            self._permits.put(None)
        self._async_waiters: collections.deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = (
            collections.deque()
        )

    @property
    def active(self) -> int:
        """Calls currently holding a slot."""
        return self.max_concurrent - self._permits.qsize()

    def _full(self) -> BulkheadFullError:
        emit(self.listeners, self.name, "rejected", max_concurrent=self.max_concurrent)
        return BulkheadFullError(self.name, self.max_concurrent)

    def acquire(self) -> None:
        """Take a slot, waiting up to ``max_wait`` (threads)."""
        try:
            if self.max_wait > 0:
                self._permits.get(timeout=self.max_wait)
            else:
                self._permits.get_nowait()
        except queue.Empty:
            raise self._full() from None

    async def acquire_async(self) -> None:
        """Take a slot, waiting up to ``max_wait`` without blocking the event loop."""
        try:
            self._permits.get_nowait()
            return
        except queue.Empty:
            pass
        import asyncio  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        while True:
            waiter: asyncio.Future[None] = loop.create_future()
            entry = (loop, waiter)
            self._async_waiters.append(entry)
            try:
                try:  # re-check after registering: a release in between either left a permit or sees us
                    self._permits.get_nowait()
                    return
                except queue.Empty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter, remaining)
            finally:
                with contextlib.suppress(ValueError):
                    self._async_waiters.remove(entry)
        raise self._full()

    def release(self) -> None:
        """Give a slot back and wake one waiting task (waiting threads wake by themselves)."""
        self._permits.put(None)
        while self._async_waiters:
            try:
                loop, waiter = self._async_waiters.popleft()
            except IndexError:
                break
            if not waiter.done():
                loop.call_soon_threadsafe(_wake, waiter)
                break

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        bulkhead = self
        get_nowait = self._permits.get_nowait
        put = self._permits.put
        waiters = self._async_waiters

        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                get_nowait()
            except queue.Empty:
                bulkhead.acquire()
            try:
                return fn(*args, **kwargs)
            finally:
                if waiters:
                    bulkhead.release()
                else:
                    put(None)

        return limited

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        bulkhead = self
        get_nowait = self._permits.get_nowait
        put = self._permits.put
        waiters = self._async_waiters

        async def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                get_nowait()  # a free permit: no coroutine to await
            except queue.Empty:
                await bulkhead.acquire_async()
            try:
                return await fn(*args, **kwargs)
            finally:
                if waiters:
                    bulkhead.release()
                else:
                    put(None)

        return limited

    def __enter__(self) -> Bulkhead:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    async def __aenter__(self) -> Bulkhead:
        await self.acquire_async()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class ThreadPoolBulkhead(Policy):
    """Runs blocking calls on its own bounded thread pool with a bounded queue.

    At most ``max_workers`` calls run and ``max_queue`` wait; any further call gets
    ``BulkheadFullError`` at once. Async callers await the pool without blocking their loop.
    Only synchronous functions can be isolated this way (``TypeError`` for ``async def``).

    Args:
        max_workers: threads in the pool (>= 1).
        max_queue: calls allowed to wait for a thread (>= 0).

    Examples:
        >>> import threading
        >>> from maestro_resilience import ThreadPoolBulkhead
        >>> reports = ThreadPoolBulkhead(2, max_queue=10, name="reports")
        >>> reports.call(lambda: threading.current_thread().name).startswith("bulkhead-reports")
        True
        >>> reports.shutdown()
    """

    def __init__(
        self,
        max_workers: int,
        max_queue: int = 0,
        *,
        name: str | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be an int >= 1, got {max_workers!r}")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
            raise ValueError(f"max_queue must be an int >= 0, got {max_queue!r}")
        self.max_workers = max_workers
        self.max_queue = max_queue
        self._slots = threading.BoundedSemaphore(max_workers + max_queue)
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - keeps the package import light

        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix=f"bulkhead-{self.name}")

    def _submit(self, fn: Callable[..., R], args: Any, kwargs: Any) -> Any:
        if not self._slots.acquire(blocking=False):
            emit(self.listeners, self.name, "rejected", max_workers=self.max_workers, max_queue=self.max_queue)
            raise BulkheadFullError(self.name, self.max_workers)
        context = contextvars.copy_context()
        try:
            future = self._pool.submit(context.run, fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        bulkhead = self

        def isolated(*args: P.args, **kwargs: P.kwargs) -> R:
            result: R = bulkhead._submit(fn, args, kwargs).result()
            return result

        return isolated

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        raise TypeError("ThreadPoolBulkhead isolates blocking (def) functions; use Bulkhead for async def")

    def run_async(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R]:
        """From async code, run the blocking ``fn`` on the pool and await its result."""
        import asyncio  # noqa: PLC0415

        if is_async_callable(fn):
            raise TypeError("ThreadPoolBulkhead isolates blocking (def) functions; use Bulkhead for async def")
        return asyncio.wrap_future(self._submit(fn, args, kwargs))

    def shutdown(self, wait: bool = True) -> None:
        """Stop the pool's threads."""
        self._pool.shutdown(wait=wait)
