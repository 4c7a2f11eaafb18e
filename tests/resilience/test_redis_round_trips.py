"""Round trips per guarded call with RedisStorage, counted by the server (INFO commandstats).

Each xdist worker has its own redis-server (tests.fixtures.redis), so the counts are this test's.
A round trip is one EVALSHA of the breaker script; the script is loaded before counting (SCRIPT LOAD
is a one-off per server, not per call). Breakers read a ``FakeClock`` unless a test needs the real
one; open durations and probe leases run on the Redis clock, and tests wait for them to pass.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest
import redis
import redis.asyncio

from maestro_resilience import (
    CircuitBreaker,
    CircuitOpenError,
    CircuitState,
    Consecutive,
    CountWindow,
    Event,
    RedisStorage,
    SystemClock,
)
from maestro_resilience._redis import BREAKER_LUA
from maestro_resilience.testing import FakeClock
from tests.resilience.support import blocking_client, wait_until_half_open
from tests.waiting import DEADLINE, async_wait_until, wait_until

pytestmark = pytest.mark.timing  # a real server; open durations and leases run on its clock

NEVER = 3600.0  # a flush_delay that keeps the background flush out of a count


class Boom(Exception):
    pass


def fail() -> None:
    raise Boom


def ok() -> str:
    return "ok"


def commands(client: redis.Redis) -> dict[str, int]:
    """Commands executed by the server so far (without INFO and SCRIPT themselves)."""
    stats = client.info("commandstats")
    return {k[8:]: int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_script")}


class Trips:
    """Counts the EVALSHAs (round trips) and every other client command between two points."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.start = commands(client)

    def take(self) -> tuple[int, int]:
        """(EVALSHAs, other commands sent by clients) since the last take."""
        now = commands(self.client)
        delta = {k: now[k] - self.start.get(k, 0) for k in now}
        self.start = now
        evalsha = delta.pop("evalsha", 0)
        # commands run inside the Lua script are counted too; clients only ever send EVALSHA
        client_side = {k: n for k, n in delta.items() if k in ("get", "set", "incr", "eval", "multi", "exec", "watch")}
        return evalsha, sum(client_side.values())


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = blocking_client(redis_url)
    c.script_load(BREAKER_LUA)
    yield c
    c.close()


def breaker(
    client: redis.Redis, name: str = "rt", clock: FakeClock | SystemClock | None = None, **kwargs: object
) -> CircuitBreaker:
    storage = RedisStorage(client, flush_delay=kwargs.pop("flush_delay", NEVER))  # type: ignore[arg-type]
    return CircuitBreaker(name, storage=storage, clock=clock or FakeClock(), **kwargs)  # type: ignore[arg-type]


def test_first_call_costs_one_round_trip_and_its_outcome_rides_on_the_next(client: redis.Redis) -> None:
    b = breaker(client)
    trips = Trips(client)
    assert b.call(ok) == "ok"
    assert trips.take() == (1, 0)  # the admission EVALSHA: the copy was never loaded
    assert b.storage is not None
    assert b.storage.pending == 1  # the outcome waits for the next round trip
    b.call(ok)
    assert trips.take() == (1, 0)  # the second call's outcome EVALSHA carries the first outcome
    assert b.storage.pending == 0
    b.storage.flush()
    assert trips.take() == (0, 0)  # nothing left to flush: no round trip


def test_call_after_idle_costs_one_round_trip(client: redis.Redis) -> None:
    clock = FakeClock()
    b = breaker(client, clock=clock)
    b.call(ok)
    b.call(ok)
    trips = Trips(client)
    clock.advance(1.5)  # idle longer than max_staleness (1 s): the copy is not trusted
    b.call(ok)
    assert trips.take() == (1, 0)
    clock.advance(1.5)
    b.call(ok)  # the admission EVALSHA also carries the previous call's outcome
    assert trips.take() == (1, 0)
    assert b.storage is not None
    assert b.storage.pending == 1


def test_steady_state_success_and_failure_cost_one_round_trip_each(client: redis.Redis) -> None:
    b = breaker(client, window=CountWindow(10, minimum_calls=10))
    b.call(ok)
    trips = Trips(client)
    for _ in range(20):
        b.call(ok)
    assert trips.take() == (20, 0)
    for _ in range(4):
        with pytest.raises(Boom):
            b.call(fail)
    assert trips.take() == (4, 0)
    assert b.state is CircuitState.CLOSED  # 4/10


def test_rejection_while_open_costs_nothing(client: redis.Redis) -> None:
    b = breaker(client, window=Consecutive(1), open_duration=60)
    b.call(ok)
    with pytest.raises(Boom):
        b.call(fail)
    trips = Trips(client)
    for _ in range(10):
        with pytest.raises(CircuitOpenError):
            b.call(ok)
    assert trips.take() == (0, 0)


def test_deferred_failure_makes_the_next_call_ask_and_be_rejected(client: redis.Redis) -> None:
    b = breaker(client, window=Consecutive(1), open_duration=60)
    trips = Trips(client)
    with pytest.raises(Boom):
        b.call(fail)  # first call: admitted by a round trip, failure deferred
    assert trips.take() == (1, 0)
    with pytest.raises(CircuitOpenError):
        b.call(ok)  # not admitted from the copy: its admission EVALSHA records the failure and trips
    assert trips.take() == (1, 0)
    assert client.hget("maestro:breaker:rt", "state") == b"open"
    with pytest.raises(CircuitOpenError):
        b.call(ok)
    assert trips.take() == (0, 0)


def test_half_open_probe_costs_one_round_trip_and_other_callers_one(client: redis.Redis) -> None:
    clock = FakeClock()
    b = breaker(client, window=Consecutive(1), open_duration=0.05, half_open_max_calls=1, clock=clock)
    other = breaker(client, window=Consecutive(1), open_duration=0.05, half_open_max_calls=1)
    b.call(ok)
    with pytest.raises(Boom):
        b.call(fail)
    wait_until_half_open(b)  # the open duration runs on the Redis clock
    trips = Trips(client)
    seen: list[tuple[int, int]] = []

    def probe() -> str:
        seen.append(trips.take())  # the slot was taken by one EVALSHA
        with pytest.raises(CircuitOpenError):
            other.call(ok)  # another process: one EVALSHA, rejected (the only slot is taken)
        seen.append(trips.take())
        return "probe"

    assert b.call(probe) == "probe"
    assert seen == [(1, 0), (1, 0)]
    assert trips.take() == (0, 0)  # the probe's outcome is deferred: no second round trip on its path
    assert b.storage is not None
    assert b.storage.pending == 1
    assert client.hget("maestro:breaker:rt", "state") == b"half_open"
    assert b.call(ok) == "ok"  # this process's next call asks (half-open copy), carrying the probe's success
    assert trips.take() == (1, 0)
    assert client.hget("maestro:breaker:rt", "state") == b"closed"
    assert b.storage.pending == 1  # that call was admitted by its round trip: its own outcome waits in turn


def test_a_failed_probe_reopens_with_the_next_round_trip(client: redis.Redis) -> None:
    clock = FakeClock()
    b = breaker(client, window=Consecutive(1), open_duration=0.05, clock=clock)
    b.call(ok)
    with pytest.raises(Boom):
        b.call(fail)
    wait_until_half_open(b)
    trips = Trips(client)
    with pytest.raises(Boom):
        b.call(fail)  # the probe: one round trip, its failure deferred
    assert trips.take() == (1, 0)
    with pytest.raises(CircuitOpenError) as info:
        b.call(ok)  # the next call's round trip records the failed probe first: open again, rejected
    assert info.value.state == "open"
    assert trips.take() == (1, 0)
    assert client.hget("maestro:breaker:rt", "state") == b"open"


def test_a_lone_probe_outcome_reaches_other_processes_after_flush_delay(client: redis.Redis) -> None:
    a = breaker(client, window=Consecutive(1), open_duration=0.05, flush_delay=0.02, clock=SystemClock())
    other = breaker(client, window=Consecutive(1), open_duration=0.05, clock=SystemClock())
    a.call(ok)
    with pytest.raises(Boom):
        a.call(fail)
    wait_until_half_open(a)
    assert a.call(ok) == "ok"  # the probe; no further call in this process
    wait_until(lambda: client.hget("maestro:breaker:rt", "state") == b"closed", what="the background flush to close it")
    assert other.call(ok) == "ok"


def test_background_flush_sends_a_lone_deferred_outcome(client: redis.Redis) -> None:
    a = breaker(client, window=Consecutive(1), open_duration=60, flush_delay=0.02)
    b = breaker(client, window=Consecutive(1), open_duration=60)
    trips = Trips(client)
    with pytest.raises(Boom):
        a.call(fail)
    wait_until(lambda: client.hget("maestro:breaker:rt", "state") == b"open", what="the background flush")
    assert trips.take() == (2, 0)  # the call's admission + one background flush
    with pytest.raises(CircuitOpenError):
        b.call(ok)  # another process sees the trip


async def test_async_client_round_trips(client: redis.Redis, async_client: redis.asyncio.Redis) -> None:
    clock = FakeClock()
    storage = RedisStorage(async_client, flush_delay=0.02)
    b = CircuitBreaker("art", window=Consecutive(2), storage=storage, clock=clock)

    @b
    async def call(good: bool) -> str:
        if not good:
            raise Boom
        return "ok"

    trips = Trips(client)
    assert await call(True) == "ok"
    assert trips.take() == (1, 0)
    assert storage.pending == 1
    for _ in range(3):
        await call(True)
    assert trips.take() == (3, 0)
    assert storage.pending == 0
    with pytest.raises(Boom):
        await call(False)
    clock.advance(1.5)  # idle longer than max_staleness: the copy is not trusted
    with pytest.raises(Boom):
        await call(False)  # admitted by a round trip; its failure is deferred ...
    assert trips.take() == (2, 0)

    async def flushed() -> bool:  # ... and flushed by a task on this loop
        return storage.pending == 0 and await async_client.hget("maestro:breaker:art", "state") == b"open"

    await async_wait_until(flushed, what="the background flush task")
    with pytest.raises(CircuitOpenError):
        await call(True)


PROBER = textwrap.dedent(
    """
    import sys, threading, time, redis
    from maestro_resilience import CircuitBreaker, CircuitOpenError, Consecutive, RedisStorage
    url, me, deadline = sys.argv[1], sys.argv[2], time.monotonic() + float(sys.argv[3])
    client = redis.Redis.from_url(url)
    breaker = CircuitBreaker("two-proc-probes", window=Consecutive(1), open_duration=0.05,
                             half_open_max_calls=2, storage=RedisStorage(client))

    def wait_for(key):
        while not client.exists(key):
            if time.monotonic() > deadline:
                sys.exit(f"no {key!r} from the test")
            time.sleep(0.002)

    client.set("ready:" + me, 1)
    wait_for("go")
    admitted = []
    def probe():
        admitted.append(1)
        client.incr("tried")
        wait_for("release")  # hold the slot until every caller of both processes has tried
    def worker():
        try:
            breaker.call(probe)
        except CircuitOpenError:
            client.incr("tried")
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(len(admitted))
    """
)


def test_two_processes_share_exactly_n_half_open_probes(client: redis.Redis, redis_url: str) -> None:
    b = breaker(client, "two-proc-probes", window=Consecutive(1), open_duration=0.05, half_open_max_calls=2)
    b.call(ok)
    with pytest.raises(Boom):
        b.call(fail)
    assert client.hget("maestro:breaker:two-proc-probes", "state") == b"open"
    argv = [sys.executable, "-c", PROBER, redis_url]
    children = [subprocess.Popen([*argv, str(i), str(DEADLINE)], stdout=subprocess.PIPE, text=True) for i in range(2)]
    try:
        wait_until(lambda: all(client.exists(f"ready:{i}") for i in range(2)), what="both processes ready")
        wait_until_half_open(b)
        client.set("go", 1)
        wait_until(lambda: int(client.get("tried") or 0) == 8, what="all 8 callers of both processes to try")
        client.set("release", 1)
        admitted = [int(child.communicate(timeout=DEADLINE)[0]) for child in children]
    finally:
        for child in children:  # whatever happened: no child outlives the test
            child.kill()
            child.wait()
            if child.stdout is not None:
                child.stdout.close()
    assert sum(admitted) == 2  # exactly half_open_max_calls probes across both processes (8 callers)
    assert b.state is CircuitState.CLOSED  # (each child sent its probe's deferred outcome as it exited)


def redis_ms(client: redis.Redis) -> int:
    """The Redis clock in milliseconds (what the breaker script reads)."""
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


def test_probe_slot_of_a_dead_process_is_taken_back_after_the_lease(client: redis.Redis) -> None:
    lease = 1.0  # long enough that the rejection below always comes within it, even on a loaded machine

    def make() -> CircuitBreaker:
        storage = RedisStorage(client, probe_lease=lease, flush_delay=NEVER)
        return CircuitBreaker("lease", window=Consecutive(1), open_duration=0.05, storage=storage, clock=FakeClock())

    a, b = make(), make()
    a.call(ok)
    with pytest.raises(Boom):
        a.call(fail)
    wait_until_half_open(a)
    assert a.storage is not None
    lost = a.storage.acquire()  # a probe whose process dies: its outcome never comes
    assert lost[1]
    with pytest.raises(CircuitOpenError) as info:
        b.call(ok)  # the only slot is taken
    since = int(client.hget("maestro:breaker:lease", "hsince") or 0)
    left_now = (since + lease * 1000 - redis_ms(client)) / 1000  # no more than what was left at the rejection
    assert info.value.retry_after is not None
    # the time left of the lease (to the millisecond of Redis's clock), never 0
    assert max(left_now - 0.002, 0.0) < info.value.retry_after <= lease
    wait_until(lambda: redis_ms(client) - since >= lease * 1000, what="the probe lease to pass (Redis clock)")
    assert b.call(ok) == "ok"  # after the lease the slot is taken back; this probe closes the breaker
    assert b.state is CircuitState.CLOSED  # (its deferred outcome rides on the state query)
    assert client.hget("maestro:breaker:lease", "state") == b"closed"
    a.storage.complete(lost, 1, False)  # the lost probe's late failure belongs to an old generation ...
    a.storage.flush()
    assert client.hget("maestro:breaker:lease", "state") == b"closed"  # ... and changes nothing
    with pytest.raises(ValueError, match="probe_lease"):
        RedisStorage(client, probe_lease=0)
    with pytest.raises(ValueError, match="flush_delay"):
        RedisStorage(client, flush_delay=-1)


def test_no_deferred_outcome_is_lost_under_threads(client: redis.Redis) -> None:
    storage = RedisStorage(client, max_staleness=0, flush_delay=0.01)  # every call admitted by a round trip
    b = CircuitBreaker("threads", window=CountWindow(1000, minimum_calls=1000), storage=storage)
    trips = Trips(client)

    def worker(i: int) -> None:
        for j in range(20):
            with contextlib.suppress(Boom):
                b.call(fail if (i + j) % 2 else ok)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE)
    storage.flush()
    evalsha, others = trips.take()
    assert others == 0
    # one per call, plus a background flush whenever flush_delay passed with outcomes waiting (how
    # often depends on scheduling; each carries at least one of the 160 outcomes)
    assert 160 <= evalsha <= 2 * 160
    assert storage.pending == 0
    assert client.hmget("maestro:breaker:threads", "calls", "cf") == [b"160", b"80"]


def test_listeners_hear_shared_state_changes_once(client: redis.Redis) -> None:
    events: list[Event] = []
    b = CircuitBreaker(
        "events", window=Consecutive(1), open_duration=0.05, storage=RedisStorage(client), listeners=[events.append],
        clock=FakeClock(),
    )  # fmt: skip
    other = CircuitBreaker(
        "events", window=Consecutive(1), open_duration=0.05, storage=RedisStorage(client), clock=FakeClock()
    )
    b.call(ok)
    other.call(ok)
    with pytest.raises(Boom):
        other.call(fail)  # tripped by another process: b hears of it with its next reply
    assert b.state is CircuitState.OPEN  # (b's clock stands still: its copy stays open until told)
    wait_until_half_open(b)
    b.call(ok)  # b's probe closes it
    b.force_open()
    changes = [(e.detail["old"], e.detail["new"]) for e in events if e.kind == "state_change"]
    assert changes == [("closed", "open"), ("open", "half_open"), ("half_open", "closed"), ("closed", "forced_open")]
