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
from maestro_resilience._exceptions import BulkheadFullError, ConfigurationError
from maestro_resilience._policy import Policy, check_seconds, is_async_callable

if TYPE_CHECKING:
    import asyncio

__all__ = ["Bulkhead", "ThreadPoolBulkhead"]

P = ParamSpec("P")
R = TypeVar("R")


class _Waiter:
    """A caller waiting for a slot: a thread (``event``) or a task (``loop`` and ``future``)."""

    __slots__ = ("event", "future", "granted", "loop")

    def __init__(
        self,
        event: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.event, self.loop, self.future = event, loop, future
        self.granted = False  # a permit was handed to it (under the bulkhead's lock)


class Bulkhead(Policy):
    """At most ``max_concurrent`` calls at once; others wait up to ``max_wait`` then get ``BulkheadFullError``.

    One pool of permits serves threads and asyncio tasks alike (an async waiter never blocks its
    event loop), first come, first served: a released slot goes to the caller that has waited
    longest, thread or task, and a new caller does not overtake waiting ones. Free permits live in a
    ``queue.SimpleQueue``, so taking and returning one without contention is a single C call with no
    Python-level lock.

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
            raise ConfigurationError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")
        self.max_concurrent = max_concurrent
        self.max_wait = check_seconds("max_wait", max_wait)
        self._permits: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(max_concurrent):
            self._permits.put(None)
        self._lock = threading.Lock()
        self._waiters: collections.deque[_Waiter] = collections.deque()  # oldest first

    @property
    def active(self) -> int:
        """Calls currently holding a slot."""
        return self.max_concurrent - self._permits.qsize()

    @property
    def waiting(self) -> int:
        """Callers (threads and tasks) waiting for a slot."""
        return len(self._waiters)

    def _full(self) -> BulkheadFullError:
        emit(self.listeners, self.name, "rejected", max_concurrent=self.max_concurrent)
        return BulkheadFullError(self.name, self.max_concurrent)

    def _dispatch(self) -> None:
        """Hand free permits to the longest waiting callers (under the lock)."""
        waiters = self._waiters
        while waiters:
            try:
                self._permits.get_nowait()
            except queue.Empty:
                return
            waiter = waiters.popleft()
            waiter.granted = True
            if waiter.event is not None:
                waiter.event.set()
            elif waiter.loop is not None and waiter.future is not None:
                try:
                    waiter.loop.call_soon_threadsafe(_wake, waiter.future)
                except RuntimeError:  # its event loop is closed: nobody will take this permit
                    waiter.granted = False
                    self._permits.put(None)

    def _enqueue(self, waiter: _Waiter) -> None:
        """Wait in line; a permit free right now goes to the oldest waiter (maybe this one)."""
        with self._lock:
            self._waiters.append(waiter)
            self._dispatch()

    def _leave(self, waiter: _Waiter) -> bool:
        """Stop waiting; True if a permit was handed over meanwhile (then the caller holds it)."""
        with self._lock:
            if waiter.granted:
                return True
            with contextlib.suppress(ValueError):
                self._waiters.remove(waiter)
            return False

    def acquire(self) -> None:
        """Take a slot, waiting up to ``max_wait`` behind earlier callers (threads)."""
        if not self._waiters:
            try:
                self._permits.get_nowait()
                return
            except queue.Empty:
                pass
        if self.max_wait <= 0:
            raise self._full()
        waiter = _Waiter(event=threading.Event())
        self._enqueue(waiter)
        if waiter.granted or waiter.event.wait(self.max_wait) or self._leave(waiter):  # type: ignore[union-attr]
            return
        raise self._full()

    async def acquire_async(self) -> None:
        """Take a slot, waiting up to ``max_wait`` behind earlier callers without blocking the event loop."""
        if not self._waiters:
            try:
                self._permits.get_nowait()
                return
            except queue.Empty:
                pass
        if self.max_wait <= 0:
            raise self._full()
        import asyncio  # noqa: PLC0415

        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter = _Waiter(loop=loop, future=future)
        self._enqueue(waiter)
        try:
            if not waiter.granted:
                await asyncio.wait((future,), timeout=self.max_wait)
        except BaseException:  # cancelled: a permit handed over meanwhile goes to the next caller
            if self._leave(waiter):
                self.release()
            raise
        if not self._leave(waiter):
            raise self._full()

    def release(self) -> None:
        """Give a slot back: to the longest waiting caller, thread or task, if any."""
        self._permits.put(None)
        if self._waiters:
            with self._lock:
                self._dispatch()

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        bulkhead = self
        get_nowait = self._permits.get_nowait
        put = self._permits.put
        waiters = self._waiters

        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            if waiters:
                bulkhead.acquire()  # behind the callers already waiting
            else:
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
        waiters = self._waiters

        async def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            if waiters:
                await bulkhead.acquire_async()
            else:
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
            raise ConfigurationError(f"max_workers must be an int >= 1, got {max_workers!r}")
        if isinstance(max_queue, bool) or not isinstance(max_queue, int) or max_queue < 0:
            raise ConfigurationError(f"max_queue must be an int >= 0, got {max_queue!r}")
        self.max_workers = max_workers
        self.max_queue = max_queue
        self._slots = threading.BoundedSemaphore(max_workers + max_queue)
        from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415 - keeps the package import light

        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix=f"bulkhead-{self.name}")
        self._counts = threading.Lock()
        self._in_flight = 0  # admitted calls not yet done (running or queued)
        self._running = 0

    @property
    def active(self) -> int:
        """Calls running on the pool's threads.

        Examples:
            >>> from maestro_resilience import ThreadPoolBulkhead
            >>> pool = ThreadPoolBulkhead(2, max_queue=4)
            >>> pool.call(lambda: pool.active), pool.active, pool.waiting
            (1, 0, 0)
            >>> pool.shutdown()
        """
        return self._running

    @property
    def waiting(self) -> int:
        """Calls admitted and queued for a thread."""
        with self._counts:
            return self._in_flight - self._running

    def _run(self, ran: list[bool], context: contextvars.Context, fn: Callable[..., R], args: Any, kwargs: Any) -> R:
        with self._counts:
            ran.append(True)
            self._running += 1
        try:
            return context.run(fn, *args, **kwargs)
        finally:
            with self._counts:  # done: neither running nor queued, before the caller sees the outcome
                self._running -= 1
                self._in_flight -= 1

    def _release(self, ran: list[bool]) -> None:
        if not ran:  # never ran (cancelled by shutdown, or never submitted)
            with self._counts:
                self._in_flight -= 1
        self._slots.release()

    def _submit(self, fn: Callable[..., R], args: Any, kwargs: Any) -> Any:
        if not self._slots.acquire(blocking=False):
            emit(self.listeners, self.name, "rejected", max_workers=self.max_workers, max_queue=self.max_queue)
            raise BulkheadFullError(self.name, self.max_workers)
        context = contextvars.copy_context()
        ran: list[bool] = []
        with self._counts:
            self._in_flight += 1
        try:
            future = self._pool.submit(self._run, ran, context, fn, args, kwargs)
        except BaseException:
            self._release(ran)
            raise
        future.add_done_callback(lambda _: self._release(ran))
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
