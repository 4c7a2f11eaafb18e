"""``maestro_resilience.compat.pybreaker`` against the real pybreaker 1.4.1: the same test, both modules.

Every test taking ``pb`` runs twice, once with ``pybreaker`` itself (the oracle, from the dev lock)
and once with the compat module: what pybreaker does is what the compat module must do. The cases
follow pybreaker's own suite (its tornado tests aside). Time never passes by sleeping: a test moves
``opened_at`` back through the storage protocol, as another process would. Redis cases use the
session's real redis-server (pybreaker's own suite uses fakeredis).

The compat module's own guarantees beyond pybreaker (no lock during the call, immediate refusal in
half-open, asyncio) are in ``test_compat_pybreaker_engine.py``.
"""

from __future__ import annotations

import calendar
import importlib
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from types import ModuleType
from typing import Any

import pytest
import redis


def _pybreaker_is_the_oracle() -> bool:
    """The compat module follows pybreaker 1.4; older ones (the lowest-versions run) behave otherwise."""
    major, minor = (int(part) for part in version("pybreaker").split(".")[:2])
    return (major, minor) >= (1, 4)


MODULES = {"compat": "maestro_resilience.compat.pybreaker"}
if _pybreaker_is_the_oracle():
    MODULES["pybreaker"] = "pybreaker"


@pytest.fixture(params=sorted(MODULES))
def pb(request: pytest.FixtureRequest) -> ModuleType:
    """The module under test: pybreaker itself, then the compat module."""
    return importlib.import_module(MODULES[request.param])


class Boom(Exception):
    pass


class Business(LookupError):
    pass


def boom() -> None:
    raise Boom("dependency down")


def ok() -> str:
    return "ok"


def fail(breaker: Any, times: int) -> list[str]:
    """Call a failing function ``times`` times; the names of the errors raised."""
    raised = []
    for _ in range(times):
        try:
            breaker.call(boom)
        except Exception as exc:  # the test reads which one
            raised.append(type(exc).__name__)
    return raised


def elapse(breaker: Any, client: redis.Redis | None = None, key: str = "pybreaker:opened_at") -> None:
    """Make the breaker's ``reset_timeout`` pass: move ``opened_at`` back (Redis keeps whole seconds)."""
    past = datetime.now(UTC) - timedelta(seconds=breaker.reset_timeout + 2)
    if client is None:
        breaker._state_storage.opened_at = past
    else:  # pybreaker's Redis storage only moves opened_at forward
        client.set(key, calendar.timegm(past.utctimetuple()))


@pytest.fixture
def storages(pb: ModuleType, client: redis.Redis) -> Callable[[str], Any]:
    """Make a storage by kind: ``"memory"`` or ``"redis"`` (the session's redis-server)."""

    def make(kind: str, state: str = "closed", **kwargs: Any) -> Any:
        if kind == "memory":
            return pb.CircuitMemoryStorage(state)
        return pb.CircuitRedisStorage(state, client, **kwargs)

    return make


KINDS = ["memory", "redis"]


# -- the closed state ----------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_success_keeps_closed_and_resets_the_count(pb: ModuleType, storages: Any, kind: str) -> None:
    breaker = pb.CircuitBreaker(state_storage=storages(kind))
    assert fail(breaker, 2) == ["Boom", "Boom"]
    assert breaker.fail_counter == 2
    assert breaker.call(ok) == "ok"
    assert (breaker.fail_counter, breaker.current_state) == (0, "closed")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("throw", [True, False])
def test_the_tripping_call(pb: ModuleType, storages: Any, kind: str, throw: bool) -> None:
    breaker = pb.CircuitBreaker(fail_max=3, state_storage=storages(kind), throw_new_error_on_trip=throw)
    tripping = "CircuitBreakerError" if throw else "Boom"
    assert fail(breaker, 4) == ["Boom", "Boom", tripping, "CircuitBreakerError"]
    assert (breaker.fail_counter, breaker.current_state) == (3, "open")


def test_the_tripping_error_shows_the_original_in_its_traceback(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker(fail_max=1)
    with pytest.raises(pb.CircuitBreakerError) as tripped:
        breaker.call(boom)
    assert str(tripped.value) == "Failures threshold reached, circuit breaker opened"
    assert "dependency down" in "".join(traceback.format_exception(tripped.value))


@pytest.mark.parametrize("kind", KINDS)
def test_open_rejects_without_calling(pb: ModuleType, storages: Any, kind: str) -> None:
    breaker = pb.CircuitBreaker(fail_max=1, state_storage=storages(kind))
    fail(breaker, 1)
    calls: list[int] = []
    with pytest.raises(pb.CircuitBreakerError, match="Timeout not elapsed yet, circuit breaker still open"):
        breaker.call(calls.append, 1)
    assert calls == []
    assert breaker.fail_counter == 1


# -- half-open -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_a_trial_success_closes(pb: ModuleType, storages: Any, client: redis.Redis, kind: str) -> None:
    breaker = pb.CircuitBreaker(fail_max=2, reset_timeout=30, state_storage=storages(kind))
    fail(breaker, 2)
    elapse(breaker, client if kind == "redis" else None)
    assert breaker.call(ok) == "ok"
    assert (breaker.fail_counter, breaker.success_counter, breaker.current_state) == (0, 0, "closed")


@pytest.mark.parametrize("kind", KINDS)
def test_a_trial_failure_reopens(pb: ModuleType, storages: Any, client: redis.Redis, kind: str) -> None:
    breaker = pb.CircuitBreaker(fail_max=2, reset_timeout=30, state_storage=storages(kind))
    fail(breaker, 2)
    elapse(breaker, client if kind == "redis" else None)
    with pytest.raises(pb.CircuitBreakerError, match="Trial call failed, circuit breaker opened"):
        breaker.call(boom)
    assert (breaker.fail_counter, breaker.current_state) == (3, "open")
    with pytest.raises(pb.CircuitBreakerError, match="Timeout not elapsed"):
        breaker.call(ok)  # a fresh reset_timeout


@pytest.mark.parametrize("kind", KINDS)
def test_success_threshold(pb: ModuleType, storages: Any, client: redis.Redis, kind: str) -> None:
    breaker = pb.CircuitBreaker(fail_max=1, reset_timeout=30, success_threshold=3, state_storage=storages(kind))
    fail(breaker, 1)
    elapse(breaker, client if kind == "redis" else None)
    for expected in (1, 2):
        assert breaker.call(ok) == "ok"
        assert (breaker.current_state, breaker.success_counter) == ("half-open", expected)
    with pytest.raises(pb.CircuitBreakerError, match="Trial call failed"):
        breaker.call(boom)
    assert (breaker.current_state, breaker.success_counter) == ("open", 0)
    elapse(breaker, client if kind == "redis" else None)
    for _ in range(3):
        breaker.call(ok)
    assert (breaker.current_state, breaker.success_counter, breaker.fail_counter) == ("closed", 0, 0)


def test_manual_half_open(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker()
    breaker.half_open()
    assert (breaker.current_state, breaker.fail_counter) == ("half-open", 0)
    with pytest.raises(pb.CircuitBreakerError):
        breaker.call(boom)
    assert (breaker.current_state, breaker.fail_counter) == ("open", 1)


# -- manual control and listeners ------------------------------------------------------------------
class Recorder:
    """A listener (duck-typed, as pybreaker allows) writing what it is told."""

    def __init__(self) -> None:
        self.out: list[str] = []

    def before_call(self, cb: Any, func: Any, *args: Any, **kwargs: Any) -> None:
        self.out.append(f"before:{args}{kwargs}")

    def success(self, cb: Any) -> None:
        self.out.append("success")

    def failure(self, cb: Any, exc: BaseException) -> None:
        self.out.append(f"failure:{type(exc).__name__}")

    def state_change(self, cb: Any, old: Any, new: Any) -> None:
        self.out.append(f"{old.name if old else None}->{new.name}")


@pytest.mark.parametrize("kind", KINDS)
def test_manual_transitions_and_what_listeners_hear(pb: ModuleType, storages: Any, kind: str) -> None:
    recorder = Recorder()
    breaker = pb.CircuitBreaker(fail_max=2, listeners=[recorder], state_storage=storages(kind))
    breaker.call(lambda x, y=0: x, 1, y=2)
    fail(breaker, 2)
    assert breaker.open() is True
    breaker.half_open()
    breaker.close()
    assert recorder.out == [
        "before:(1,){'y': 2}",
        "success",
        "before:(){}",
        "failure:Boom",
        "before:(){}",
        "failure:Boom",
        "closed->open",
        "open->open",
        "open->half-open",
        "half-open->closed",
    ]
    assert (breaker.fail_counter, breaker.current_state) == (0, "closed")


def test_open_returns_throw_new_error_on_trip(pb: ModuleType) -> None:
    assert pb.CircuitBreaker(throw_new_error_on_trip=False).open() is False


def test_listeners_added_and_removed(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker()
    first, second, third = pb.CircuitBreakerListener(), pb.CircuitBreakerListener(), Recorder()
    breaker.add_listener(first)
    breaker.add_listeners(second, third)
    assert breaker.listeners == (first, second, third)
    breaker.remove_listener(second)
    assert breaker.listeners == (first, third)
    breaker.call(ok)
    assert third.out == ["before:(){}", "success"]


# -- exclusions ------------------------------------------------------------------------------------
def test_excluded_exceptions_count_as_successes(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker(exclude=[LookupError, lambda e: isinstance(e, Boom) and "fine" in str(e)])
    fail(breaker, 1)

    def business() -> None:
        raise Business

    def fine() -> None:
        raise Boom("fine really")

    for excluded in (business, fine):
        fail(breaker, 1)
        assert breaker.fail_counter > 0
        with pytest.raises((Business, Boom)):
            breaker.call(excluded)
        assert breaker.fail_counter == 0


def test_exclusions_edited_later(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker()
    assert breaker.excluded_exceptions == ()
    breaker.add_excluded_exception(Boom)
    breaker.add_excluded_exceptions(KeyError, ValueError)
    breaker.remove_excluded_exception(KeyError)
    assert breaker.excluded_exceptions == (Boom, ValueError)
    assert not breaker.is_system_error(Boom())
    assert breaker.is_system_error(KeyError())


# -- settings ----------------------------------------------------------------------------------------
def test_defaults_and_setters(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker()
    assert (breaker.fail_max, breaker.reset_timeout, breaker.success_threshold, breaker.name) == (5, 60, 1, None)
    assert (breaker.listeners, breaker.excluded_exceptions, breaker._state_storage.name) == ((), (), "memory")
    breaker.fail_max, breaker.reset_timeout, breaker.success_threshold, breaker.name = 9, 7, 2, "db"
    assert (breaker.fail_max, breaker.reset_timeout, breaker.success_threshold, breaker.name) == (9, 7, 2, "db")
    assert (pb.STATE_CLOSED, pb.STATE_OPEN, pb.STATE_HALF_OPEN) == ("closed", "open", "half-open")


@pytest.mark.parametrize("state", ["closed", "open", "half-open"])
def test_state_comes_from_the_storage_and_is_not_reset(pb: ModuleType, state: str) -> None:
    storage = pb.CircuitMemoryStorage(state)
    storage.increment_counter()
    moment = datetime.now(UTC) - timedelta(seconds=1)
    storage.opened_at = moment
    recorder = Recorder()
    breaker = pb.CircuitBreaker(state_storage=storage, listeners=[recorder])
    assert (breaker.state.name, breaker.current_state, breaker.fail_counter) == (state, state, 1)
    assert storage.opened_at == moment
    assert recorder.out == []  # creating a breaker is not a state change
    with pytest.raises(ValueError, match="Unknown state"):
        breaker._create_new_state("ajar")


# -- generators and with-blocks ---------------------------------------------------------------------
def test_a_generator_is_guarded_while_iterated(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker()

    @breaker
    def values() -> Iterator[int]:
        yield 1
        yield 2

    @breaker
    def broken() -> Iterator[int]:
        yield 1
        raise Boom

    gen = broken()
    assert next(gen) == 1
    assert breaker.fail_counter == 0  # nothing counted at creation
    with pytest.raises(Boom):
        next(gen)
    assert breaker.fail_counter == 1
    assert list(values()) == [1, 2]
    assert breaker.fail_counter == 0


def test_calling_guards_a_block(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker(fail_max=2, reset_timeout=30)
    ran: list[int] = []
    for expected in (Boom, pb.CircuitBreakerError):
        with pytest.raises(expected), breaker.calling():
            raise Boom
    with pytest.raises(pb.CircuitBreakerError), breaker.calling():
        ran.append(1)
    assert ran == []
    elapse(breaker)
    with breaker.calling():
        ran.append(2)
    assert (ran, breaker.current_state, breaker.fail_counter) == ([2], "closed", 0)


def test_the_decorator_keeps_the_function_s_identity(pb: ModuleType) -> None:
    breaker = pb.CircuitBreaker()

    @breaker
    def documented(value: int) -> int:
        """Docstring."""
        return value

    assert (documented.__name__, documented.__doc__, documented(3)) == ("documented", "Docstring.", 3)


# -- Redis: pybreaker's keys, and Redis failures ------------------------------------------------------
def test_redis_keys(pb: ModuleType, client: redis.Redis) -> None:
    breaker = pb.CircuitBreaker(fail_max=1, state_storage=pb.CircuitRedisStorage("closed", client, namespace="app"))
    breaker.call(ok)
    assert sorted(client.keys()) == [
        b"app:pybreaker:fail_counter",
        b"app:pybreaker:state",
        b"app:pybreaker:success_counter",
    ]
    before = int(datetime.now(UTC).timestamp())
    fail(breaker, 1)
    assert client.get("app:pybreaker:state") == b"open"
    assert client.get("app:pybreaker:fail_counter") == b"1"
    opened_at = int(client.get("app:pybreaker:opened_at") or 0)  # whole seconds
    assert before <= opened_at <= int(datetime.now(UTC).timestamp())


def test_redis_state_missing_is_set_to_the_fallback(pb: ModuleType, client: redis.Redis) -> None:
    storage = pb.CircuitRedisStorage("closed", client, fallback_circuit_state="open")
    breaker = pb.CircuitBreaker(state_storage=storage)
    client.delete("pybreaker:state")
    assert breaker.state.name == "open"
    assert client.get("pybreaker:state") == b"open"


def test_redis_down_gives_the_fallback_state(pb: ModuleType, private_redis: Any) -> None:
    client = redis.Redis.from_url(private_redis.url, socket_timeout=5, socket_connect_timeout=5)
    storage = pb.CircuitRedisStorage("closed", client, fallback_circuit_state="open")
    breaker = pb.CircuitBreaker(state_storage=storage)
    private_redis.kill()
    try:
        assert (breaker.state.name, breaker.fail_counter, storage.opened_at) == ("open", 0, None)
    finally:
        client.close()


def test_redis_cluster_mode_keeps_the_later_opening(pb: ModuleType, client: redis.Redis) -> None:
    storage = pb.CircuitRedisStorage("open", client, namespace="c", cluster_mode=True)
    now = datetime.now(UTC).replace(microsecond=0)
    storage.opened_at = now
    storage.opened_at = now - timedelta(seconds=10)  # a slower process: ignored
    assert storage.opened_at == now
    assert pb.CircuitBreaker(state_storage=storage).state.name == "open"


def test_mixed_fleet_shares_one_breaker(client: redis.Redis) -> None:
    """Processes still on pybreaker and processes on the compat module share one breaker in Redis."""
    import pybreaker

    from maestro_resilience.compat import pybreaker as compat

    old = pybreaker.CircuitBreaker(fail_max=2, state_storage=pybreaker.CircuitRedisStorage("closed", client, "x"))
    new = compat.CircuitBreaker(fail_max=2, state_storage=compat.CircuitRedisStorage("closed", client, "x"))
    fail(old, 1)
    fail(new, 1)  # the second failure, wherever it happens, trips the shared breaker
    assert (old.current_state, new.current_state) == ("open", "open")
    with pytest.raises(pybreaker.CircuitBreakerError):
        old.call(ok)
    with pytest.raises(compat.CircuitBreakerError):
        new.call(ok)
    elapse(new, client, "x:pybreaker:opened_at")
    assert new.call(ok) == "ok"  # the trial call, here
    assert old.current_state == "closed"
    assert old.call(ok) == "ok"
