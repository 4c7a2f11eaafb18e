"""``Registry``: named policies built from one dict or TOML configuration."""

from __future__ import annotations

import builtins
import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from maestro_resilience._breaker import CircuitBreaker
from maestro_resilience._bulkhead import Bulkhead, ThreadPoolBulkhead
from maestro_resilience._chaos import Chaos
from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._fallback import Fallback
from maestro_resilience._pipeline import Pipeline
from maestro_resilience._policy import Policy
from maestro_resilience._ratelimit import RateLimiter
from maestro_resilience._retry import Retry
from maestro_resilience._timeout import Timeout
from maestro_resilience._windows import Consecutive, CountWindow, TimeWindow

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Registry"]

_WINDOWS: dict[str, Callable[..., Any]] = {"consecutive": Consecutive, "count": CountWindow, "time": TimeWindow}


def _exception_class(name: str, where: str) -> type[BaseException]:
    if ":" in name or "." in name:
        module, _, attr = name.replace(":", ".").rpartition(".")
        value = getattr(importlib.import_module(module), attr, None)
    else:
        value = getattr(builtins, name, None)
    if not (isinstance(value, type) and issubclass(value, BaseException)):
        raise ValueError(f"{where}: {name!r} is not an exception class (use a builtin name or 'module.Class')")
    return value


def _exceptions(value: Any, where: str) -> tuple[type[BaseException], ...]:
    names = [value] if isinstance(value, str) else list(value)
    return tuple(_exception_class(str(n), where) for n in names)


class Registry(Mapping[str, Policy]):
    """Named policies, so a service configures its resilience in one place.

    Types: ``circuit_breaker``, ``retry``, ``bulkhead``, ``thread_pool_bulkhead``, ``timeout``,
    ``fallback`` (``value`` only), ``rate_limiter``, ``chaos`` and ``pipeline`` (``policies``: names
    defined in the same configuration, outermost first). Other keys are the policy's keyword
    arguments; exception lists (``record_on``, ``ignore_on``, ``success_on``, ``on``) are builtin
    names or ``module.Class`` paths. A ``circuit_breaker`` or ``rate_limiter`` with ``redis_url``
    (and optionally ``redis_namespace``) shares its state through Redis (extra ``redis``), over a
    blocking ``redis.Redis`` client configured as ``RedisStorage`` advises: 0.5 s socket timeouts
    (``socket_timeout`` and ``socket_connect_timeout`` in the URL's query win) and no client-side
    retries; such entries guard ``def`` functions. Errors name the entry and the key.

    Examples:
        >>> from maestro_resilience import Registry
        >>> registry = Registry.from_toml('''
        ... [payments-breaker]
        ... type = "circuit_breaker"
        ... window = { type = "count", size = 50, failure_rate_threshold = 0.5 }
        ... open_duration = 10
        ...
        ... [payments-retry]
        ... type = "retry"
        ... attempts = 4
        ... on = ["ConnectionError", "TimeoutError"]
        ...
        ... [payments]
        ... type = "pipeline"
        ... policies = ["payments-retry", "payments-breaker"]
        ... ''')
        >>> sorted(registry)
        ['payments', 'payments-breaker', 'payments-retry']
        >>> @registry["payments"]
        ... def charge(cents: int) -> str:
        ...     return f"charged {cents}"
        >>> charge(500)
        'charged 500'
    """

    TYPES: ClassVar[dict[str, type[Policy]]] = {
        "circuit_breaker": CircuitBreaker,
        "retry": Retry,
        "bulkhead": Bulkhead,
        "thread_pool_bulkhead": ThreadPoolBulkhead,
        "timeout": Timeout,
        "fallback": Fallback,
        "rate_limiter": RateLimiter,
        "chaos": Chaos,
        "pipeline": Pipeline,
    }

    def __init__(self, policies: Mapping[str, Policy] | None = None) -> None:
        self._policies: dict[str, Policy] = {}
        for name, policy in (policies or {}).items():
            self.register(name, policy)

    def register(self, name: str, policy: Policy) -> None:
        """Add ``policy`` under ``name`` (names are unique)."""
        if not isinstance(policy, Policy):
            raise TypeError(f"registry entry {name!r} must be a policy, got {policy!r}")
        if name in self._policies:
            raise ValueError(f"registry already has a policy named {name!r}")
        self._policies[name] = policy

    def __getitem__(self, name: str) -> Policy:
        try:
            return self._policies[name]
        except KeyError:
            raise KeyError(f"no policy named {name!r}; known: {sorted(self._policies)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._policies)

    def __len__(self) -> int:
        return len(self._policies)

    @classmethod
    def from_dict(cls, config: Mapping[str, Mapping[str, Any]], *, clock: Clock = SYSTEM_CLOCK) -> Registry:
        """Build every policy of ``config`` (``{name: {"type": ..., **kwargs}}``)."""
        registry = cls()
        pipelines: list[tuple[str, Mapping[str, Any]]] = []
        for name, entry in config.items():
            if not isinstance(entry, Mapping) or "type" not in entry:
                raise ValueError(f"registry entry {name!r} must be a table with a 'type' key")
            kind = entry["type"]
            if kind not in cls.TYPES:
                raise ValueError(f"registry entry {name!r}: unknown type {kind!r}; allowed: {sorted(cls.TYPES)}")
            if kind == "pipeline":
                pipelines.append((name, entry))
                continue
            registry.register(name, cls._build(name, kind, entry, clock))
        for name, entry in pipelines:
            members = entry.get("policies")
            if not isinstance(members, list) or not members:
                raise ValueError(f"registry entry {name!r}, key 'policies': a non-empty list of policy names")
            missing = [m for m in members if m not in registry._policies]
            if missing:
                raise ValueError(f"registry entry {name!r}, key 'policies': unknown policies {missing}")
            registry.register(name, Pipeline(*(registry._policies[m] for m in members), name=name))
        return registry

    @classmethod
    def _build(cls, name: str, kind: str, entry: Mapping[str, Any], clock: Clock) -> Policy:
        kwargs = {k: v for k, v in entry.items() if k != "type"}
        for key in ("record_on", "ignore_on", "success_on", "on"):
            if key in kwargs:
                kwargs[key] = _exceptions(kwargs[key], f"registry entry {name!r}, key {key!r}")
        if "window" in kwargs:
            window = dict(kwargs["window"])
            wtype = window.pop("type", "consecutive")
            if wtype not in _WINDOWS:
                raise ValueError(
                    f"registry entry {name!r}, key 'window': unknown type {wtype!r}; allowed: {sorted(_WINDOWS)}"
                )
            kwargs["window"] = _WINDOWS[wtype](**window)
        if "redis_url" in kwargs:
            if kind not in ("circuit_breaker", "rate_limiter"):
                raise ValueError(f"registry entry {name!r}, key 'redis_url': only circuit_breaker and rate_limiter")
            return cls._build_redis(name, kind, kwargs, clock)
        try:
            return cls.TYPES[kind](name=name, clock=clock, **kwargs)
        except TypeError as exc:
            raise TypeError(f"registry entry {name!r}: {exc}") from exc
        except ValueError as exc:
            raise ValueError(f"registry entry {name!r}: {exc}") from exc

    @classmethod
    def _build_redis(cls, name: str, kind: str, kwargs: dict[str, Any], clock: Clock) -> Policy:
        """A breaker with ``RedisStorage`` or a ``RedisRateLimiter``, from ``redis_url`` (+ ``redis_namespace``)."""
        from maestro_resilience._redis import RedisRateLimiter, RedisStorage, client_from_url  # noqa: PLC0415

        client = client_from_url(kwargs.pop("redis_url"))
        namespace = kwargs.pop("redis_namespace", None)
        try:
            if kind == "circuit_breaker":
                storage = RedisStorage(client) if namespace is None else RedisStorage(client, namespace=namespace)
                return CircuitBreaker(name=name, clock=clock, storage=storage, **kwargs)
            if namespace is not None:
                kwargs["namespace"] = namespace
            return RedisRateLimiter(client, name=name, clock=clock, **kwargs)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"registry entry {name!r}: {exc}") from exc

    @classmethod
    def from_toml(cls, source: str | Path, *, clock: Clock = SYSTEM_CLOCK) -> Registry:
        """Build from TOML text or a ``Path`` to a TOML file (one table per policy)."""
        import tomllib  # noqa: PLC0415

        text = source if isinstance(source, str) else source.read_text(encoding="utf-8")
        return cls.from_dict(tomllib.loads(text), clock=clock)
