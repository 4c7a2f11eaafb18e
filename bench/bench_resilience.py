"""maestro-resilience against its peers: CPU time per call, concurrency, and Redis round trips.

All figures come from ONE run, peers side by side, so ratios hold on any machine. Per-call costs are
CPU time (``time.process_time``) of a tight loop, best of several rounds, minus nothing: the bare
call and the minimal hand-written decorator (the floor) are rows of the same table.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import logging
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

from _table import Table, ratio

from maestro_resilience import (
    Bulkhead,
    CircuitBreaker,
    CircuitOpenError,
    Consecutive,
    CountWindow,
    Fallback,
    Pipeline,
    RateLimiter,
    Retry,
    Timeout,
)
from maestro_resilience.compat import pybreaker as compat_pybreaker

# The breakers trip on purpose here; their state-change log lines (stdlib logging's default
# listener, WARNING) would bury the tables.
logging.getLogger("maestro_resilience").setLevel(logging.ERROR)

Loop = Callable[[int], float]  # runs n calls, returns CPU seconds spent


def installed(module: str) -> bool:
    """Whether a peer library can be imported."""
    return importlib.util.find_spec(module) is not None


def per_call_ns(loop: Loop, n: int, rounds: int) -> float:
    """Best CPU nanoseconds per call over ``rounds`` runs of ``n`` calls."""
    loop(max(100, n // 10))  # warm up
    return min(loop(n) for _ in range(rounds)) / n * 1e9


def sync_loop(fn: Callable[[int], Any]) -> Loop:
    """A loop calling ``fn(1)`` n times."""

    def loop(n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            fn(1)
        return time.process_time() - start

    return loop


def raising_loop(fn: Callable[[int], Any], error: type[BaseException]) -> Loop:
    """A loop calling ``fn(1)`` n times, each call raising ``error``."""

    def loop(n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            try:  # noqa: SIM105 - contextlib.suppress would add its own cost to the measurement
                fn(1)
            except error:
                pass
        return time.process_time() - start

    return loop


def async_loop(fn: Callable[[int], Awaitable[Any]], runner: asyncio.Runner) -> Loop:
    """A loop awaiting ``fn(1)`` n times inside one event loop."""

    async def inner(n: int) -> float:
        start = time.process_time()
        for _ in range(n):
            await fn(1)
        return time.process_time() - start

    def loop(n: int) -> float:
        return runner.run(inner(n))

    return loop


# -- the floor: what a careful engineer would hand-write --------------------------------------
def minimal(fn: Callable[[int], int]) -> Callable[[int], int]:
    """The minimal decorator: functools.wraps plus try/except, nothing else."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return fn(*args, **kwargs)
        except BaseException:
            raise

    return wrapper


def minimal_async(fn: Callable[[int], Awaitable[int]]) -> Callable[[int], Awaitable[int]]:
    """The minimal async wrapper."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return await fn(*args, **kwargs)
        except BaseException:
            raise

    return wrapper


class Rejected(Exception):
    """What the minimal rejecting wrapper raises."""


def minimal_rejecting(fn: Callable[[int], int]) -> Callable[[int], int]:
    """The minimal wrapper of an open breaker: check a flag, raise."""
    state = {"open": True}

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        if state["open"]:
            raise Rejected("open")
        return fn(*args, **kwargs)

    return wrapper


def work(x: int) -> int:
    """The guarded function: as cheap as possible so overhead dominates."""
    return x


def _call_form(policy: Any) -> Callable[[int], int]:
    """``policy.call(work, x)``: the call form, which builds its wrapper once per function."""
    call = policy.call

    def guarded(x: int) -> int:
        return call(work, x)  # type: ignore[no-any-return]

    return guarded


async def awork(x: int) -> int:
    """The guarded coroutine."""
    return x


def failing(x: int) -> int:
    """A guarded function that always fails."""
    raise ConnectionError


# -- tables -------------------------------------------------------------------------------------
def breaker_sync(n: int, rounds: int) -> Table:
    """Closed breaker, sync."""
    table = Table(
        "Circuit breaker, closed, sync: CPU ns per call",
        ("implementation", "ns/call", "x bare", "x minimal"),
        note="Target: maestro <= 2.0x the minimal wrapper.",
    )
    rows: list[tuple[str, Callable[[int], Any]]] = [
        ("bare call", work),
        ("minimal decorator (floor)", minimal(work)),
        ("maestro CircuitBreaker (Consecutive)", CircuitBreaker()(work)),
        ("maestro CircuitBreaker (CountWindow 100)", CircuitBreaker(window=CountWindow(100))(work)),
        ("maestro CircuitBreaker .call", _call_form(CircuitBreaker())),
        ("maestro compat.pybreaker decorator", compat_pybreaker.CircuitBreaker()(work)),
    ]
    if installed("pybreaker"):
        import pybreaker

        rows.append(("pybreaker decorator", pybreaker.CircuitBreaker()(work)))
        pb = pybreaker.CircuitBreaker()
        rows.append(("pybreaker .call", functools.partial(pb.call, work)))
    if installed("circuitbreaker"):
        import circuitbreaker  # type: ignore[import-untyped]

        rows.append(("circuitbreaker", circuitbreaker.CircuitBreaker()(work)))
    if installed("purgatory"):
        from purgatory import SyncCircuitBreakerFactory

        factory = SyncCircuitBreakerFactory()
        rows.append(("purgatory", factory("bench")(work)))
    return fill(table, rows, n, rounds, sync_loop)


def fill(table: Table, rows: list[tuple[str, Any]], n: int, rounds: int, make: Callable[[Any], Loop]) -> Table:
    """Measure each row; the first two rows are the bare call and the floor."""
    results = [(name, per_call_ns(make(fn), n, rounds)) for name, fn in rows]
    bare, floor = results[0][1], results[1][1]
    for name, ns in results:
        table.add(name, f"{ns:.0f}", ratio(ns, bare), ratio(ns, floor))
    return table


def breaker_async(n: int, rounds: int, runner: asyncio.Runner) -> Table:
    """Closed breaker, asyncio."""
    table = Table(
        "Circuit breaker, closed, asyncio: CPU ns per call",
        ("implementation", "ns/call", "x bare", "x minimal"),
        note="Target: maestro <= 2.0x the minimal async wrapper.",
    )
    rows: list[tuple[str, Any]] = [
        ("bare await", awork),
        ("minimal async wrapper (floor)", minimal_async(awork)),
        ("maestro CircuitBreaker (Consecutive)", CircuitBreaker()(awork)),
        ("maestro CircuitBreaker (CountWindow 100)", CircuitBreaker(window=CountWindow(100))(awork)),
    ]
    if installed("circuitbreaker"):
        import circuitbreaker

        rows.append(("circuitbreaker", circuitbreaker.CircuitBreaker()(awork)))
    if installed("aiobreaker"):
        import aiobreaker  # type: ignore[import-untyped]

        rows.append(("aiobreaker", aiobreaker.CircuitBreaker(timeout_duration=timedelta(seconds=30))(awork)))
    if installed("purgatory"):
        from purgatory import AsyncCircuitBreakerFactory

        factory = AsyncCircuitBreakerFactory()
        rows.append(("purgatory", factory("bench")(awork)))
    return fill(table, rows, n, rounds, lambda fn: async_loop(fn, runner))


def breaker_open(n: int, rounds: int) -> Table:
    """Cost of a rejection while open."""
    table = Table(
        "Circuit breaker, open (rejecting): CPU ns per call",
        ("implementation", "ns/call", "x minimal"),
        note="Target: maestro <= 3x the minimal rejecting wrapper.",
    )
    ours = CircuitBreaker(window=Consecutive(1), open_duration=3600)
    with contextlib.suppress(ConnectionError):
        ours.call(failing, 1)
    rows: list[tuple[str, Loop]] = [
        ("minimal rejecting wrapper (floor)", raising_loop(minimal_rejecting(work), Rejected)),
        ("maestro CircuitBreaker", raising_loop(ours(work), CircuitOpenError)),
    ]
    if installed("pybreaker"):
        import pybreaker

        pb = pybreaker.CircuitBreaker(fail_max=1, reset_timeout=3600)
        with contextlib.suppress(ConnectionError, pybreaker.CircuitBreakerError):
            pb.call(failing, 1)
        rows.append(("pybreaker", raising_loop(pb(work), pybreaker.CircuitBreakerError)))
    if installed("circuitbreaker"):
        import circuitbreaker

        cb = circuitbreaker.CircuitBreaker(failure_threshold=1, recovery_timeout=3600)
        wrapped = cb(failing)
        with contextlib.suppress(ConnectionError):
            wrapped(1)
        rows.append(("circuitbreaker", raising_loop(cb(work), circuitbreaker.CircuitBreakerError)))
    results = [(name, per_call_ns(loop, n, rounds)) for name, loop in rows]
    floor = results[0][1]
    for name, ns in results:
        table.add(name, f"{ns:.0f}", ratio(ns, floor))
    return table


def retry_first_try(n: int, rounds: int, runner: asyncio.Runner) -> list[Table]:
    """Retry when the first attempt succeeds, sync and async."""
    sync_table = Table(
        "Retry, success on the first try, sync: CPU ns per call",
        ("implementation", "ns/call", "x bare", "x minimal"),
        note="Target: maestro <= 2.5x the minimal wrapper.",
    )
    rows: list[tuple[str, Any]] = [
        ("bare call", work),
        ("minimal decorator (floor)", minimal(work)),
        ("maestro Retry (defaults)", Retry()(work)),
    ]
    async_rows: list[tuple[str, Any]] = [
        ("bare await", awork),
        ("minimal async wrapper (floor)", minimal_async(awork)),
        ("maestro Retry (defaults)", Retry()(awork)),
    ]
    if installed("tenacity"):
        import tenacity

        rows.append(("tenacity @retry", tenacity.retry(stop=tenacity.stop_after_attempt(3))(work)))
        async_rows.append(("tenacity @retry", tenacity.retry(stop=tenacity.stop_after_attempt(3))(awork)))
    if installed("stamina"):
        import stamina

        rows.append(("stamina", stamina.retry(on=ConnectionError, attempts=3)(work)))
        async_rows.append(("stamina", stamina.retry(on=ConnectionError, attempts=3)(awork)))
    async_table = Table(
        "Retry, success on the first try, asyncio: CPU ns per call",
        ("implementation", "ns/call", "x bare", "x minimal"),
    )
    return [
        fill(sync_table, rows, n, rounds, sync_loop),
        fill(async_table, async_rows, max(1, n // 2), rounds, lambda fn: async_loop(fn, runner)),
    ]


def pipeline_success(n: int, rounds: int, runner: asyncio.Runner) -> Table:
    """Five policies composed, success path, absolute cost."""
    table = Table(
        "Five-policy pipeline, success path: CPU µs per call",
        ("pipeline", "µs/call"),
        note="Target: <= 2 µs sync. The issue's own pipeline ends with Timeout, Bulkhead: in the main "
        "thread, Timeout(sync_mode='signal') keeps the call in the calling thread under a SIGALRM deadline; "
        "the default thread mode hands every call to a worker thread, which costs tens of µs.",
    )

    def five(last: Any) -> Pipeline:
        return Pipeline(Fallback(0), Retry(), CircuitBreaker(), last, Bulkhead(100))

    stacked: Callable[[int], int] = work
    astacked: Callable[[int], Awaitable[int]] = awork
    for _ in range(5):
        stacked = minimal(stacked)
        astacked = minimal_async(astacked)
    measured = [
        ("sync: five minimal decorators stacked (floor)", sync_loop(stacked), n),
        (
            "sync: Fallback, Retry, CircuitBreaker, RateLimiter, Bulkhead",
            sync_loop(five(RateLimiter(1e12, burst=10**9))(work)),
            n,
        ),
        (
            "sync, pipeline.call(fn, ...): Fallback, Retry, CircuitBreaker, RateLimiter, Bulkhead",
            sync_loop(_call_form(five(RateLimiter(1e12, burst=10**9)))),
            n,
        ),
        (
            "sync, main thread: Fallback, Retry, CircuitBreaker, Timeout (signal), Bulkhead",
            sync_loop(five(Timeout(5, sync_mode="signal"))(work)),
            n,
        ),
        (
            "sync: Fallback, Retry, CircuitBreaker, Timeout (thread), Bulkhead",
            sync_loop(five(Timeout(5))(work)),
            n // 50,
        ),
        ("async: five minimal wrappers stacked (floor)", async_loop(astacked, runner), n // 2),
        (
            "async: Fallback, Retry, CircuitBreaker, Timeout, Bulkhead",
            async_loop(five(Timeout(5))(awork), runner),
            n // 2,
        ),
    ]
    for name, loop, count in measured:
        table.add(name, f"{per_call_ns(loop, max(50, count), rounds) / 1000:.2f}")
    return table


def two_threads(calls: int) -> Table:
    """Two threads doing 1 ms of I/O per call through one breaker."""
    table = Table(
        "Two threads doing 1 ms sleeps through one breaker: wall ms",
        ("guard", "wall ms", "x unguarded"),
        note=f"{calls} calls per thread. Target: maestro no slower than unguarded (pybreaker serialises).",
    )

    def io(x: int) -> int:
        time.sleep(0.001)
        return x

    def wall(fn: Callable[[int], int]) -> float:
        def body() -> None:
            for _ in range(calls):
                fn(1)

        threads = [threading.Thread(target=body) for _ in range(2)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return (time.perf_counter() - start) * 1000

    rows: list[tuple[str, Callable[[int], int]]] = [("unguarded", io), ("maestro CircuitBreaker", CircuitBreaker()(io))]
    if installed("pybreaker"):
        import pybreaker

        rows.append(("pybreaker", pybreaker.CircuitBreaker()(io)))
    results = [(name, min(wall(fn) for _ in range(2))) for name, fn in rows]
    base = results[0][1]
    for name, ms in results:
        table.add(name, f"{ms:.0f}", ratio(ms, base))
    return table


# -- Redis ------------------------------------------------------------------------------------
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def private_redis() -> Iterator[int | None]:
    """A throw-away redis-server on 127.0.0.1 (``None`` when the binary is absent)."""
    executable = shutil.which("redis-server")
    if executable is None or not installed("redis"):
        yield None
        return
    port = free_port()
    with tempfile.TemporaryDirectory() as state:
        process = subprocess.Popen(
            [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=state,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                    break
                time.sleep(0.02)
            yield port
        finally:
            process.terminate()
            process.wait(10)


class TripCounter:
    """Counts client round trips: each packed send to the server is one."""

    def __init__(self) -> None:
        self.sends = 0

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        """Patch redis-py's connection to count sends inside the block."""
        import redis.connection

        original = redis.connection.AbstractConnection.send_packed_command

        def counted(conn: Any, command: Any, check_health: bool = True) -> None:
            self.sends += 1
            original(conn, command, check_health)  # type: ignore[no-untyped-call]

        redis.connection.AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
        try:
            yield
        finally:
            redis.connection.AbstractConnection.send_packed_command = original  # type: ignore[method-assign]


def server_commands(client: Any) -> int:
    """Commands the server executed so far, not counting INFO itself."""
    stats = client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


class RoundTrips:
    """Measures round trips per guarded call into a table (one private server, one counter)."""

    def __init__(self, table: Table, client: Any) -> None:
        self.table = table
        self.client = client
        self.counter = TripCounter()
        self.names = iter(range(10**9))

    def measure(self, name: str, case: str, n: int, one: Callable[[], Any], flush: Callable[[], Any] | None) -> None:
        """Run ``one()`` n times; ``flush`` (ours) then sends what a lone call left deferred."""
        path = total = commands = 0
        for _ in range(n):
            before = server_commands(self.client)
            self.counter.sends = 0
            with self.counter.counting():
                with contextlib.suppress(Exception):  # the guarded failure, or CircuitOpenError
                    one()
                path += self.counter.sends
                if flush is not None:
                    flush()
                total += self.counter.sends
            commands += server_commands(self.client) - before
        self.table.add(name, case, f"{path / n:.2f}", f"{total / n:.2f}", f"{commands / n:.2f}")

    def probes(
        self, name: str, n: int, trip: Callable[[], Any], probe: Callable[[], Any], flush: Callable[[], Any]
    ) -> None:
        """Half-open probes: ``trip()`` (not counted), wait past the open duration, count ``probe()``."""
        path = total = 0
        for _ in range(n):
            with contextlib.suppress(Exception):
                trip()
            time.sleep(0.015)
            self.counter.sends = 0
            with self.counter.counting():
                with contextlib.suppress(Exception):
                    probe()
                path += self.counter.sends
                flush()
                total += self.counter.sends
        self.table.add(name, "half-open probe", f"{path / n:.2f}", f"{total / n:.2f}", "-")

    def ours(self, clock: Any = None, **kwargs: Any) -> tuple[CircuitBreaker, Any]:
        """A maestro breaker on its own RedisStorage (flushes only when asked, to count them)."""
        from maestro_resilience import RedisStorage
        from maestro_resilience.testing import FakeClock

        storage = RedisStorage(self.client, flush_delay=3600.0)
        kwargs.setdefault("window", Consecutive(10**9))
        breaker = CircuitBreaker(f"bench-{next(self.names)}", storage=storage, clock=clock or FakeClock(), **kwargs)
        return breaker, storage

    def maestro_cases(self, calls: int) -> None:
        """Every case for maestro's RedisStorage."""
        from maestro_resilience.testing import FakeClock

        name = "maestro RedisStorage"
        warm, warm_storage = self.ours()
        warm.call(work, 1)  # loads the script and the local copy
        warm.call(work, 1)
        self.measure(name, "steady state, success", calls, lambda: warm.call(work, 1), warm_storage.flush)
        self.measure(name, "steady state, failure", calls, lambda: warm.call(failing, 1), warm_storage.flush)
        fresh = [self.ours() for _ in range(min(calls, 50))]  # built outside the count (no round trip anyway)
        flushes: list[Callable[[], None]] = []

        def first_call() -> None:
            breaker, storage = fresh.pop()
            breaker.call(work, 1)
            flushes.append(storage.flush)

        def flush_last() -> None:
            flushes.pop()()

        self.measure(name, "first call of a process (alone)", len(fresh), first_call, flush_last)
        clock = FakeClock()
        idle, idle_storage = self.ours(clock)
        idle.call(work, 1)

        def after_idle() -> None:
            clock.advance(2.0)  # longer than max_staleness
            idle.call(work, 1)

        def after_idle_and_next() -> None:
            after_idle()
            idle.call(work, 1)  # carries the first one's deferred outcome

        self.measure(name, "call after >1 s idle (alone)", calls, after_idle, idle_storage.flush)
        self.measure(name, "call after idle + next call, per call", calls, after_idle_and_next, idle_storage.flush)
        row = self.table.rows[-1]
        self.table.rows[-1] = (*row[:2], *(f"{float(cell) / 2:.2f}" for cell in row[2:]))
        tripped, tripped_storage = self.ours(window=Consecutive(1), open_duration=3600)
        tripped.call(work, 1)
        with contextlib.suppress(ConnectionError):
            tripped.call(failing, 1)
        self.measure(name, "rejected while open", calls, lambda: tripped.call(work, 1), tripped_storage.flush)
        probe_clock = FakeClock()
        prober, probe_storage = self.ours(probe_clock, window=Consecutive(1), open_duration=0.01)
        prober.call(work, 1)

        def trip() -> None:
            with contextlib.suppress(ConnectionError):
                prober.call(failing, 1)
            probe_clock.advance(0.015)

        self.probes(name, min(calls, 10), trip, lambda: prober.call(work, 1), probe_storage.flush)

    def pybreaker_cases(self, calls: int, pybreaker: Any, name: str) -> None:
        """The same cases for a pybreaker ``CircuitRedisStorage`` (it reads Redis on every call)."""

        def pyb(fail_max: int = 10**9, reset_timeout: float = 60) -> Any:
            storage = pybreaker.CircuitRedisStorage(
                pybreaker.STATE_CLOSED, self.client, namespace=f"pyb-{next(self.names)}"
            )
            return pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_timeout, state_storage=storage)

        pb = pyb()
        pb.call(work, 1)
        self.measure(name, "steady state, success", calls, lambda: pb.call(work, 1), None)
        self.measure(name, "steady state, failure", calls, lambda: pb.call(failing, 1), None)
        new = [pyb() for _ in range(min(calls, 50))]  # its constructor's SETNXs are not counted
        self.measure(name, "first call of a process (alone)", len(new), lambda: new.pop().call(work, 1), None)
        opened = pyb(fail_max=1, reset_timeout=3600)
        with contextlib.suppress(Exception):
            opened.call(failing, 1)
        self.measure(name, "rejected while open", calls, lambda: opened.call(work, 1), None)
        prober = pyb(fail_max=1, reset_timeout=0.01)
        self.probes(name, min(calls, 10), lambda: prober.call(failing, 1), lambda: prober.call(work, 1), lambda: None)


def redis_round_trips(calls: int) -> Table:
    """Round trips per guarded call, by case: ours vs pybreaker's CircuitRedisStorage."""
    table = Table(
        "Redis-backed breaker: round trips per guarded call, by case",
        ("implementation", "case", "on the call's path", "in total", "server commands"),
        note="Counted on a private redis-server on 127.0.0.1: round trips are the client's sends (a pipeline "
        "counts once); 'in total' adds the flush of an outcome left deferred when no later call carries "
        "it; server commands (INFO commandstats) include those run inside our Lua script. "
        "Target: at most 1 round trip on every call's path.",
    )
    with private_redis() as port:
        if port is None:
            table.note = "skipped: redis-server or redis-py is not installed"
            return table
        import redis

        client = redis.Redis(host="127.0.0.1", port=port)
        trips = RoundTrips(table, client)
        trips.maestro_cases(calls)
        if installed("pybreaker"):
            import pybreaker

            trips.pybreaker_cases(calls, pybreaker, "pybreaker CircuitRedisStorage")
        trips.pybreaker_cases(calls, compat_pybreaker, "compat.pybreaker CircuitRedisStorage")
        client.close()
    return table


def run(quick: bool = False) -> list[Table]:
    """Every table, peers measured in the same run."""
    n, rounds = (20_000, 3) if quick else (200_000, 7)
    with asyncio.Runner() as runner:
        tables = [
            breaker_sync(n, rounds),
            breaker_async(n // 2, rounds, runner),
            breaker_open(n // 2, rounds),
            *retry_first_try(n, rounds, runner),
            pipeline_success(n // 2, rounds, runner),
        ]
    tables.append(two_threads(40 if quick else 200))
    tables.append(redis_round_trips(50 if quick else 500))
    return tables


if __name__ == "__main__":
    for item in run(quick=True):
        print(item.render(), end="\n\n")
