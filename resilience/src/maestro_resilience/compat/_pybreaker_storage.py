"""pybreaker's storage protocol: where a ``compat.pybreaker.CircuitBreaker`` keeps its state.

The classes and the Redis key layout are pybreaker 1.4's (``[namespace:]pybreaker:state``,
``...:fail_counter``, ``...:success_counter``, ``...:opened_at`` as whole Unix seconds), so processes
still running pybreaker and processes running this module share one breaker during a migration.
"""

from __future__ import annotations

import calendar
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis

__all__ = ["CircuitBreakerStorage", "CircuitMemoryStorage", "CircuitRedisStorage"]

STATE_OPEN = "open"
STATE_CLOSED = "closed"
STATE_HALF_OPEN = "half-open"

_LOG = logging.getLogger("pybreaker")


class CircuitBreakerStorage:
    """Where a breaker keeps its state, counters and opening time; subclass it for your own store.

    A subclass overrides ``state`` (get and set), ``counter``, ``success_counter``, ``opened_at``
    (get and set) and the four counter methods, as with pybreaker.

    Examples:
        >>> from maestro_resilience.compat.pybreaker import CircuitBreakerStorage
        >>> CircuitBreakerStorage("mine").name
        'mine'
    """

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def name(self) -> str:
        """A name for the kind of storage (``"memory"``, ``"redis"``)."""
        return self._name

    @property
    def state(self) -> str:
        """The breaker's state: ``"closed"``, ``"open"`` or ``"half-open"``."""
        raise NotImplementedError

    @state.setter
    def state(self, state: str) -> None:
        raise NotImplementedError

    def increment_counter(self) -> None:
        """Add one to the failure counter."""

    def reset_counter(self) -> None:
        """Set the failure counter to zero."""

    def increment_success_counter(self) -> None:
        """Add one to the half-open success counter."""

    def reset_success_counter(self) -> None:
        """Set the half-open success counter to zero."""

    @property
    def counter(self) -> int:
        """Consecutive failures."""
        raise NotImplementedError

    @property
    def success_counter(self) -> int:
        """Consecutive successes in half-open."""
        raise NotImplementedError

    @property
    def opened_at(self) -> datetime | None:
        """When the breaker last opened (UTC), or ``None``."""
        raise NotImplementedError

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        raise NotImplementedError


class CircuitMemoryStorage(CircuitBreakerStorage):
    """The default storage: this process's memory.

    Examples:
        >>> from maestro_resilience.compat.pybreaker import CircuitBreaker, CircuitMemoryStorage
        >>> storage = CircuitMemoryStorage("open")
        >>> CircuitBreaker(state_storage=storage).current_state
        'open'
    """

    def __init__(self, state: str) -> None:
        super().__init__("memory")
        self._state = state
        self._fail_counter = 0
        self._success_counter = 0
        self._opened_at: datetime | None = None

    @property
    def state(self) -> str:
        """The breaker's state."""
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        self._state = state

    def increment_counter(self) -> None:
        """Add one to the failure counter."""
        self._fail_counter += 1

    def reset_counter(self) -> None:
        """Set the failure counter to zero."""
        self._fail_counter = 0

    def increment_success_counter(self) -> None:
        """Add one to the half-open success counter."""
        self._success_counter += 1

    def reset_success_counter(self) -> None:
        """Set the half-open success counter to zero."""
        self._success_counter = 0

    @property
    def counter(self) -> int:
        """Consecutive failures."""
        return self._fail_counter

    @property
    def success_counter(self) -> int:
        """Consecutive successes in half-open."""
        return self._success_counter

    @property
    def opened_at(self) -> datetime | None:
        """When the breaker last opened."""
        return self._opened_at

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._opened_at = value


def _redis_error() -> type[Exception]:
    try:
        from redis.exceptions import RedisError  # noqa: PLC0415 - optional dependency
    except ImportError:  # pragma: no cover - checked in CircuitRedisStorage.__init__
        return OSError
    return RedisError


class CircuitRedisStorage(CircuitBreakerStorage):
    """pybreaker's Redis storage: state shared by every process using the same keys.

    Args:
        state: the state to store when Redis holds none yet.
        redis_object: a blocking ``redis.Redis`` client (give it short socket timeouts).
        namespace: prefix of the keys (``NAMESPACE:pybreaker:...``): one per breaker.
        fallback_circuit_state: the state reported while Redis cannot be read.
        cluster_mode: set ``opened_at`` without a transaction (Redis Cluster).

    A Redis error never reaches the caller: reads fall back (state to ``fallback_circuit_state``,
    counters to 0) and writes are skipped, each logged on the ``pybreaker`` logger, as in pybreaker;
    only the constructor's first write raises, so a wrong address is found at start-up.

    Examples:
        >>> import redis
        >>> from maestro_resilience.compat.pybreaker import CircuitBreaker, CircuitRedisStorage
        >>> client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.1)
        >>> try:
        ...     CircuitRedisStorage("closed", client, namespace="payments")
        ... except redis.exceptions.ConnectionError:
        ...     print("no Redis there")
        no Redis there
    """

    BASE_NAMESPACE = "pybreaker"
    logger = _LOG

    def __init__(
        self,
        state: str,
        redis_object: redis.Redis,
        namespace: str | None = None,
        fallback_circuit_state: str = STATE_CLOSED,
        cluster_mode: bool = False,
    ) -> None:
        try:
            import redis as _redis  # noqa: F401, PLC0415 - optional dependency
        except ImportError as exc:  # pragma: no cover - the extra is installed in the tests
            raise ImportError("CircuitRedisStorage needs redis-py: pip install 'maestro-resilience[redis]'") from exc
        super().__init__("redis")
        self._redis: Any = redis_object
        self._namespace_name = namespace
        self._fallback_circuit_state = fallback_circuit_state
        self._initial_state = str(state)
        self._cluster_mode = cluster_mode
        self._initialize_redis_state(self._initial_state)

    def _key(self, name: str) -> str:
        prefix = f"{self._namespace_name}:" if self._namespace_name else ""
        return f"{prefix}{self.BASE_NAMESPACE}:{name}"

    # pybreaker's name for _key
    _namespace = _key

    def _initialize_redis_state(self, state: str) -> None:
        self._redis.setnx(self._key("fail_counter"), 0)
        self._redis.setnx(self._key("success_counter"), 0)
        self._redis.setnx(self._key("state"), state)

    def _write(self, what: str, command: str, *args: Any) -> None:
        try:
            getattr(self._redis, command)(*args)
        except _redis_error():
            self.logger.exception("RedisError: could not %s", what)

    def _read_int(self, key: str) -> int:
        try:
            value = self._redis.get(self._key(key))
        except _redis_error():
            self.logger.exception("RedisError: assuming %s is 0", key)
            return 0
        return int(value) if value else 0

    @property
    def state(self) -> str:
        """The stored state; ``fallback_circuit_state`` while Redis fails or holds none (then stored again)."""
        try:
            raw = self._redis.get(self._key("state"))
        except _redis_error():
            self.logger.exception("RedisError: falling back to the %r state", self._fallback_circuit_state)
            return self._fallback_circuit_state
        if raw is None:
            try:
                self._initialize_redis_state(self._fallback_circuit_state)
            except _redis_error():
                self.logger.exception("RedisError: could not store the fallback state")
            return self._fallback_circuit_state
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)

    @state.setter
    def state(self, state: str) -> None:
        self._write("store the state", "set", self._key("state"), str(state))

    def increment_counter(self) -> None:
        """Add one to the failure counter (``INCR``)."""
        self._write("count a failure", "incr", self._key("fail_counter"))

    def reset_counter(self) -> None:
        """Set the failure counter to zero."""
        self._write("reset the failure counter", "set", self._key("fail_counter"), 0)

    def increment_success_counter(self) -> None:
        """Add one to the half-open success counter (``INCR``)."""
        self._write("count a success", "incr", self._key("success_counter"))

    def reset_success_counter(self) -> None:
        """Set the half-open success counter to zero."""
        self._write("reset the success counter", "set", self._key("success_counter"), 0)

    @property
    def counter(self) -> int:
        """Consecutive failures (0 while Redis fails)."""
        return self._read_int("fail_counter")

    @property
    def success_counter(self) -> int:
        """Consecutive successes in half-open (0 while Redis fails)."""
        return self._read_int("success_counter")

    @property
    def opened_at(self) -> datetime | None:
        """When the breaker last opened, to the second (``None`` while Redis fails)."""
        try:
            raw = self._redis.get(self._key("opened_at"))
        except _redis_error():
            self.logger.exception("RedisError: opening time unknown")
            return None
        if not raw:
            return None
        return datetime(*time.gmtime(int(raw))[:6], tzinfo=UTC)

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        # whole seconds, as pybreaker reads them; never moved back by a slower process
        seconds = calendar.timegm(value.utctimetuple() if value.tzinfo else value.timetuple())
        key = self._key("opened_at")
        try:
            if self._cluster_mode:
                current = self._redis.get(key)
                if not current or seconds > int(current):
                    self._redis.set(key, seconds)
                return

            def set_if_later(pipe: Any) -> None:
                current = pipe.get(key)
                pipe.multi()
                if not current or seconds > int(current):
                    pipe.set(key, seconds)

            self._redis.transaction(set_if_later, key)
        except _redis_error():
            self.logger.exception("RedisError: could not store the opening time")
