"""``Timeout``: async calls are cancelled; sync calls run on a worker thread the caller stops waiting for,
or (``sync_mode="signal"``, and every sync ``with`` block) in the calling main thread under a ``SIGALRM`` deadline."""

from __future__ import annotations

import collections
import contextvars
import itertools
import math
import sys
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from maestro_resilience._alarm import ALARM, fired, forget
from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._events import EventListener, emit
from maestro_resilience._exceptions import ConfigurationError, TimeoutExceeded
from maestro_resilience._policy import Policy

if TYPE_CHECKING:
    import asyncio

__all__ = ["Timeout"]

P = ParamSpec("P")
R = TypeVar("R")

_BLOCKS: contextvars.ContextVar[tuple[asyncio.Timeout, ...]] = contextvars.ContextVar(
    "maestro_resilience_timeouts", default=()
)
# the SIGALRM deadlines of the sync `with timeout:` blocks in progress, innermost last (main thread only)
_SYNC_BLOCKS: list[tuple[Timeout, list[Any]]] = []

_SYNC_MODES = ("thread", "signal", "auto")


class Timeout(Policy):
    """Give up on a call after ``seconds`` with ``TimeoutExceeded`` (a ``TimeoutError``).

    * ``async def``: the call is cancelled (``asyncio.timeout``); ``async with Timeout(s):`` works too.
    * ``def``, ``sync_mode="thread"`` (the default): the call runs on a worker thread, in a copy of
      the caller's ``contextvars`` context, and the caller stops waiting on time. Python cannot kill
      a thread: the abandoned call goes on in the background until it returns (``abandoned`` counts
      them), and a new worker takes its place, so calls that hang do not starve healthy ones: up to
      ``max_workers`` running calls plus ``max_abandoned`` abandoned ones; beyond that, calls queue
      (and a queued call whose deadline passes is dropped without running). Handing a call to a
      thread costs tens of microseconds.
    * ``def``, ``sync_mode="signal"``: the call runs in the calling thread, which must be the main
      thread (``RuntimeError`` elsewhere; POSIX only), under a ``SIGALRM`` interval timer whose
      handler raises ``TimeoutExceeded`` inside the overrunning code, interrupting a blocking
      ``sleep`` or socket read: the work really stops, and the success path costs well under a
      microsecond. ``sync_mode="auto"`` uses the signal in the main thread and a worker elsewhere.
    * ``with Timeout(s):`` guards a sync block with the signal (main thread only); ``async with``
      cancels the block.

    Limits of the signal form: a C extension holding the GIL is interrupted only when it returns to
    Python; an ``except Exception`` (or ``except TimeoutError``) inside the guarded code can swallow
    the timeout; the timer is not disarmed when a call ends in time, so it may fire once more with
    nothing to do (Python retries the interrupted system call; a C library that does not handle
    ``EINTR`` could see it); a sync ``with`` inside a coroutine raises ``TypeError`` (use ``async
    with``); the process's ``SIGALRM`` is taken while blocks run (a Python handler found there,
    such as pytest-timeout's, is chained and handed back). Prefer timeouts built into the client
    (socket timeouts) for blocking I/O, and use this as a backstop.

    Args:
        seconds: the limit (> 0).
        max_workers: worker threads for sync calls in thread mode.
        max_abandoned: extra workers that may replace calls abandoned on their deadline and still
            running (default: ``max_workers``); the threads stay bounded by their sum.
        sync_mode: how decorated ``def`` functions and ``call()`` are limited: ``"thread"``,
            ``"signal"`` or ``"auto"``.

    Examples:
        >>> import threading
        >>> from maestro_resilience import Timeout, TimeoutExceeded
        >>> never = threading.Event()
        >>> @Timeout(0.05, name="lookup")
        ... def lookup() -> bool:
        ...     return never.wait(30)  # a call that hangs
        >>> try:
        ...     lookup()
        ... except TimeoutExceeded as error:
        ...     print(error)
        'lookup' timed out after 0.050s
        >>> never.set()  # the abandoned call returns on its worker thread

        On ``async def`` functions the call is cancelled instead; in the main thread, ``with
        Timeout(s):`` (or ``sync_mode="signal"``) interrupts the blocking code itself.
    """

    def __init__(
        self,
        seconds: float,
        *,
        max_workers: int = 32,
        max_abandoned: int | None = None,
        sync_mode: Literal["thread", "signal", "auto"] = "thread",
        name: str | None = None,
        listeners: tuple[EventListener, ...] | list[EventListener] = (),
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        super().__init__(name, listeners=listeners, clock=clock)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not seconds > 0
            or not math.isfinite(seconds)
        ):
            raise ConfigurationError(f"seconds must be a finite number > 0, got {seconds!r}")
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigurationError(f"max_workers must be an int >= 1, got {max_workers!r}")
        if max_abandoned is None:
            max_abandoned = max_workers
        if isinstance(max_abandoned, bool) or not isinstance(max_abandoned, int) or max_abandoned < 0:
            raise ConfigurationError(f"max_abandoned must be an int >= 0 or None, got {max_abandoned!r}")
        if sync_mode not in _SYNC_MODES:
            raise ConfigurationError(f"sync_mode must be one of 'thread', 'signal', 'auto', got {sync_mode!r}")
        self.seconds = float(seconds)
        self.max_workers = max_workers
        self.max_abandoned = max_abandoned
        self.sync_mode = sync_mode
        self._pool: _Workers | None = None  # created on the first sync call
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Deadlines] = weakref.WeakKeyDictionary()
        self._last: tuple[object, Any] = (None, None)  # (loop, its _Deadlines): the common case without a lookup

    def _executor(self) -> _Workers:
        pool = self._pool
        if pool is None:
            with _POOL_LOCK:
                pool = self._pool
                if pool is None:
                    pool = self._pool = _Workers(self.max_workers, self.max_abandoned, f"timeout-{self.name}")
        return pool

    @property
    def abandoned(self) -> int:
        """Sync calls this policy stopped waiting for that still run on their worker threads."""
        return 0 if self._pool is None else self._pool.abandoned

    def _exceeded(self) -> TimeoutExceeded:
        emit(self.listeners, self.name, "timeout", seconds=self.seconds)
        return TimeoutExceeded(self.name, self.seconds)

    def _wrap_sync(self, fn: Callable[P, R]) -> Callable[P, R]:
        if self.sync_mode != "thread":
            return self._wrap_signal(fn)
        return self._wrap_thread(fn)

    def _wrap_signal(self, fn: Callable[P, R]) -> Callable[P, R]:
        policy = self
        name, seconds = self.name, self.seconds
        alarm = ALARM
        active, monotonic, get_ident = alarm.active, alarm.monotonic, alarm.get_ident
        getsignal, signum, handler = alarm.getsignal, alarm.signum, alarm.handler
        threaded = self._wrap_thread(fn) if self.sync_mode == "auto" else None

        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            # ALARM.enter / ALARM.leave, inlined: this is the whole cost of the success path
            if get_ident() != alarm.main:  # read each time: a forked child has a new main thread
                if threaded is not None:
                    return threaded(*args, **kwargs)
                raise alarm.refusal()
            now = monotonic()
            entry: list[Any] = [now + seconds, name, seconds, 0]
            armed_at = alarm.armed_at
            if entry[0] < armed_at or armed_at < now or getsignal(signum) is not handler:
                alarm.arm(entry[0])
            active.append(entry)
            try:
                return fn(*args, **kwargs)
            except TimeoutExceeded:
                if fired(entry):
                    policy._exceeded()  # the event; the handler's exception goes on
                raise
            finally:
                if active and active[-1] is entry and entry[3] == 0:
                    active.pop()
                else:  # fired (or left out of order): the slow path
                    forget(active, entry)

        return limited

    def _wrap_thread(self, fn: Callable[P, R]) -> Callable[P, R]:
        policy = self

        def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            pool = policy._executor()
            job = pool.submit(contextvars.copy_context(), fn, args, kwargs)
            if not job.done.wait(policy.seconds) and pool.give_up(job):
                raise policy._exceeded()
            if job.error is not None:
                try:
                    raise job.error
                finally:
                    job.error = None  # no reference cycle through the traceback
            return job.result  # type: ignore[no-any-return]

        return limited

    def _wrap_async(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        import asyncio  # noqa: PLC0415 - decorating async code: asyncio is (about to be) imported anyway

        policy = self
        seconds = self.seconds
        get_running_loop = asyncio.get_running_loop
        cancelled_error = asyncio.CancelledError
        current_tasks = _current_tasks_of(asyncio)

        async def limited(*args: P.args, **kwargs: P.kwargs) -> R:
            loop = get_running_loop()
            task = current_tasks(loop)
            if task is None:  # pragma: no cover - awaited outside a task (unusual runners)
                async with asyncio.timeout(seconds):
                    return await fn(*args, **kwargs)
            last = policy._last
            deadlines = last[1] if last[0] is loop else policy._deadlines_for(loop)
            # deadlines.register(task), inlined: the whole cost of a call that ends in time
            cancelling = task.cancelling()
            token = deadlines.next_token()
            pending = deadlines.pending
            pending[token] = (deadlines.time() + seconds, task)
            if not deadlines.armed:
                deadlines.arm()
            try:
                result = await fn(*args, **kwargs)
            except cancelled_error:
                if token not in pending:  # our deadline fired (expire() took the token out)
                    if task.uncancel() <= cancelling:
                        raise policy._exceeded() from None
                else:
                    del pending[token]
                raise
            except BaseException:
                if pending.pop(token, None) is None:
                    task.uncancel()  # fired, but the call swallowed our cancellation: keep the count balanced
                raise
            if pending.pop(token, None) is None:
                task.uncancel()  # fired, but the call swallowed our cancellation
            return result

        return limited

    def _deadlines_for(self, loop: asyncio.AbstractEventLoop) -> _Deadlines:
        deadlines = self._loops.get(loop)
        if deadlines is None:
            deadlines = self._loops[loop] = _Deadlines(loop, self.seconds)
        self._last = (loop, deadlines)
        return deadlines

    def __enter__(self) -> Timeout:
        """Start a ``SIGALRM`` deadline for the block (main thread only; ``RuntimeError`` elsewhere)."""
        asyncio = sys.modules.get("asyncio")
        if asyncio is not None and asyncio.events._get_running_loop() is not None:
            # the signal would interrupt whichever task (or the event loop itself) runs at the deadline
            raise TypeError("inside a coroutine use `async with Timeout(...)`, not `with`")
        _SYNC_BLOCKS.append((self, ALARM.enter(self.name, self.seconds)))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for i in range(len(_SYNC_BLOCKS) - 1, -1, -1):
            if _SYNC_BLOCKS[i][0] is self:
                entry = _SYNC_BLOCKS[i][1]
                del _SYNC_BLOCKS[i : None if fired(entry) else i + 1]  # see _alarm.forget: leftovers above go too
                break
        else:  # pragma: no cover - __exit__ without __enter__
            return
        ALARM.leave(entry)
        if isinstance(exc, TimeoutExceeded) and fired(entry):
            self._exceeded()

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
        """Stop the worker threads of sync calls (``wait``: until the running calls returned)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait)


_POOL_LOCK = threading.Lock()

_QUEUED, _RUNNING, _FINISHED, _DROPPED = 0, 1, 2, 3


class _Job:
    """One sync call handed to a worker."""

    __slots__ = ("abandoned", "args", "context", "done", "error", "fn", "kwargs", "result", "state")

    def __init__(
        self, context: contextvars.Context, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        self.context, self.fn, self.args, self.kwargs = context, fn, args, kwargs
        self.state = _QUEUED
        self.abandoned = False
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


class _Workers:
    """The worker threads of one ``Timeout``'s sync calls.

    ``size`` threads run calls; a call whose caller gave up on it (``give_up``) while it runs is
    *abandoned*: it keeps its thread until it returns, and the pool may start one more thread in its
    place, up to ``size + max_abandoned`` threads, so hung calls do not starve the healthy ones. A
    thread beyond the current need exits once it has no call to run.
    """

    def __init__(self, size: int, max_abandoned: int, name: str) -> None:
        self.size = size
        self.max_abandoned = max_abandoned
        self.name = name
        self.abandoned = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._queue: collections.deque[_Job] = collections.deque()
        self._threads = 0
        self._idle = 0
        self._closed = False
        self._started: list[threading.Thread] = []
        self._numbers = itertools.count()

    def _capacity(self) -> int:
        return self.size + min(self.abandoned, self.max_abandoned)

    def _grow(self) -> None:
        """Start a thread if a queued call has no idle thread and the capacity allows (under the lock)."""
        if len(self._queue) > self._idle and self._threads < self._capacity():
            self._threads += 1
            thread = threading.Thread(target=self._work, name=f"{self.name}_{next(self._numbers)}", daemon=True)
            self._started = [t for t in self._started if t.is_alive()]
            self._started.append(thread)
            thread.start()

    def submit(
        self, context: contextvars.Context, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> _Job:
        job = _Job(context, fn, args, kwargs)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: shut down, cannot run new calls")
            self._queue.append(job)
            self._ready.notify()
            self._grow()
        return job

    def give_up(self, job: _Job) -> bool:
        """The caller's deadline passed: drop a queued call, abandon a running one; False if it finished."""
        with self._lock:
            if job.state == _QUEUED:
                job.state = _DROPPED
                self._queue.remove(job)
                return True
            if job.state == _RUNNING:
                job.abandoned = True
                self.abandoned += 1
                self._grow()  # a thread in its place, within the bound
                return True
            return False

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._queue:
                    if self._closed or self._threads > self._capacity():
                        self._threads -= 1
                        return
                    self._idle += 1
                    self._ready.wait()
                    self._idle -= 1
                job = self._queue.popleft()
                job.state = _RUNNING
            try:
                job.result = job.context.run(job.fn, *job.args, **job.kwargs)
            except BaseException as error:  # handed to the caller (or dropped with an abandoned call)
                job.error = error
            job.context = job.fn = job.args = job.kwargs = None  # type: ignore[assignment]
            with self._lock:
                job.state = _FINISHED
                if job.abandoned:
                    self.abandoned -= 1
                    job.result = job.error = None
                    self._ready.notify_all()  # a thread beyond the capacity now may exit
            job.done.set()

    def shutdown(self, wait: bool) -> None:
        with self._lock:
            self._closed = True
            for job in self._queue:
                job.state = _DROPPED
                job.error = RuntimeError(f"{self.name}: shut down before the call ran")
                job.done.set()
            self._queue.clear()
            self._ready.notify_all()
            threads = list(self._started)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()


_PENDING, _DONE, _FIRED = 0, 1, 2


class _Deadlines:
    """The in-flight async calls of one ``Timeout`` on one event loop, oldest first.

    Every call of a policy has the same duration, so deadlines arrive in order: an insertion-ordered
    dict of ``token -> (deadline, task)`` with ONE timer (armed for the oldest pending deadline)
    replaces a timer per call. A call costs a dict insertion and a pop, not a heap insertion and a
    cancellation; ``expire`` takes the tokens of the calls it cancels out of the dict, which is how
    a call learns that its deadline fired. (``Timeout._wrap_async`` inlines the registration.)
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, seconds: float) -> None:
        import asyncio  # noqa: PLC0415

        self.loop = weakref.proxy(loop)  # a strong reference would keep the WeakKeyDictionary entry alive
        self.seconds = seconds
        self.pending: dict[int, tuple[float, asyncio.Task[Any]]] = {}
        self.next_token = itertools.count().__next__
        self.armed = False  # a timer is scheduled (its handle is not kept: it references the loop)
        # the stdlib loops' time() is time.monotonic(): read it without two method calls
        self.time: Callable[[], float] = (
            time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else self.loop.time
        )

    def arm(self) -> None:
        """Schedule ``expire`` for the oldest pending deadline."""
        for deadline, _ in self.pending.values():
            self.loop.call_at(deadline, self.expire)
            self.armed = True
            return

    def expire(self) -> None:
        now = self.time() + 1e-6  # the loop may run a timer a hair before its deadline
        pending = self.pending
        expired = []
        for token, (deadline, _) in pending.items():
            if deadline > now:
                break
            expired.append(token)
        self.armed = False
        for token in expired:
            pending.pop(token)[1].cancel()
        if pending:
            self.arm()


def _current_tasks_of(asyncio: Any) -> Callable[[Any], Any]:
    """``current_task(loop)`` as one C call where the interpreter allows (a dict lookup on 3.11)."""
    tasks = getattr(asyncio.tasks, "_current_tasks", None)
    if isinstance(tasks, dict):
        return tasks.get
    return asyncio.current_task  # type: ignore[no-any-return]  # pragma: no cover - other interpreters
