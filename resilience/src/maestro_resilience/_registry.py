"""``Registry``: named policies built from one dict, TOML or YAML configuration."""

from __future__ import annotations

import builtins
import importlib
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from maestro_resilience._breaker import CircuitBreaker
from maestro_resilience._bulkhead import Bulkhead, ThreadPoolBulkhead
from maestro_resilience._chaos import Chaos
from maestro_resilience._clock import SYSTEM_CLOCK, Clock
from maestro_resilience._config_text import MAX_CONFIG_BYTES, read_config
from maestro_resilience._exceptions import ConfigurationError
from maestro_resilience._fallback import Fallback
from maestro_resilience._pipeline import Pipeline
from maestro_resilience._policy import Policy
from maestro_resilience._ratelimit import RateLimiter
from maestro_resilience._retry import Retry
from maestro_resilience._timeout import Timeout
from maestro_resilience._windows import Consecutive, CountWindow, TimeWindow
from maestro_resilience._yaml import MAX_YAML_BYTES, load_yaml

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Registry"]

_WINDOWS: dict[str, Callable[..., Any]] = {"consecutive": Consecutive, "count": CountWindow, "time": TimeWindow}


def _error(entry: str, key: str | None, message: str) -> ConfigurationError:
    """A configuration error naming the entry (and the key, when one is at fault)."""
    where = f"registry entry {entry!r}" + ("" if key is None else f", key {key!r}")
    return ConfigurationError(f"{where}: {message}", field=key, entry=entry)


def _exception_class(name: object, entry: str, key: str) -> type[BaseException]:
    value: object = None
    if isinstance(name, str) and (":" in name or "." in name):
        module, _, attr = name.replace(":", ".").rpartition(".")
        try:
            value = getattr(importlib.import_module(module), attr, None)
        except ImportError:
            value = None
    elif isinstance(name, str):
        value = getattr(builtins, name, None)
    if not (isinstance(value, type) and issubclass(value, BaseException)):
        raise _error(entry, key, f"{name!r} is not an exception class (use a builtin name or 'module.Class')")
    return value


def _exceptions(value: object, entry: str, key: str) -> tuple[type[BaseException], ...]:
    if isinstance(value, str):
        names: list[object] = [value]
    elif isinstance(value, list | tuple):
        names = list(value)
    else:
        raise _error(entry, key, f"a list of exception class names (builtin or 'module.Class'), got {value!r}")
    return tuple(_exception_class(n, entry, key) for n in names)


def _parameters(factory: Callable[..., Any], *, skip: tuple[str, ...] = ()) -> dict[str, inspect.Parameter]:
    """The keyword parameters a configuration may give ``factory``."""
    return {
        pname: parameter
        for pname, parameter in inspect.signature(factory).parameters.items()
        if parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY) and pname not in skip
    }


def _check_keys(entry: str, given: Mapping[str, Any], allowed: Mapping[str, inspect.Parameter], what: str) -> None:
    for key in given:
        if key not in allowed:
            raise _error(entry, key, f"unknown key; allowed for {what}: {sorted(allowed)}")
    for pname, parameter in allowed.items():
        if parameter.default is parameter.empty and pname not in given:
            raise _error(entry, pname, f"missing: {what} requires it")


def _key_in(message: str, keys: Iterator[str] | list[str]) -> str | None:
    """The first of ``keys`` a constructor's error message names (its messages name the parameter)."""
    for key in keys:
        if re.search(rf"\b{re.escape(key)}\b", message):
            return key
    return None


class Registry(Mapping[str, Policy]):
    """Named policies, so a service configures its resilience in one place.

    Types: ``circuit_breaker``, ``retry``, ``bulkhead``, ``thread_pool_bulkhead``, ``timeout``,
    ``fallback`` (``value`` only), ``rate_limiter``, ``chaos`` and ``pipeline`` (``policies``: names
    defined in the same configuration, before or after it, outermost first). Other keys are the policy's keyword
    arguments; exception lists (``record_on``, ``ignore_on``, ``success_on``, ``on``) are builtin
    names or ``module.Class`` paths. A ``circuit_breaker`` or ``rate_limiter`` with ``redis_url``
    (and optionally ``redis_namespace``) shares its state through Redis (extra ``redis``), over a
    blocking ``redis.Redis`` client configured as ``RedisStorage`` advises: 0.5 s socket timeouts
    (``socket_timeout`` and ``socket_connect_timeout`` in the URL's query win) and no client-side
    retries; such entries guard ``def`` functions. Every refusal is a ``ConfigurationError`` whose
    message starts with the entry and the key (``error.entry``, ``error.field``).

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
        """Build every policy of ``config`` (``{name: {"type": ..., **kwargs}}``).

        Raises:
            ConfigurationError: naming the entry and the key at fault (``error.entry``, ``error.field``).
        """
        if not isinstance(config, Mapping):
            raise ConfigurationError(
                f"a Registry configuration must be a table of entries ({{name: {{type: ..., ...}}}}), "
                f"got {type(config).__name__}"
            )
        registry = cls()
        pipelines: dict[str, list[str]] = {}
        for name, entry in config.items():
            if not isinstance(name, str) or not name:
                raise ConfigurationError(f"registry entry names must be non-empty strings, got {name!r}")
            if not isinstance(entry, Mapping):
                raise _error(name, None, f"must be a table with a 'type' key, got {type(entry).__name__}")
            if "type" not in entry:
                raise _error(name, "type", f"no 'type'; allowed: {sorted(cls.TYPES)}")
            kind = entry["type"]
            if not isinstance(kind, str):
                raise _error(name, "type", f"must be a string, one of {sorted(cls.TYPES)}; got {kind!r}")
            if kind not in cls.TYPES:
                raise _error(name, "type", f"unknown type {kind!r}; allowed: {sorted(cls.TYPES)}")
            if kind == "pipeline":
                pipelines[name] = cls._members(name, entry)
                continue
            registry.register(name, cls._build(name, kind, entry, clock))
        for name, members in pipelines.items():
            missing = [m for m in members if m not in registry._policies and m not in pipelines]
            if missing:
                raise _error(name, "policies", f"unknown policies {missing}; known: {sorted(config)}")
        for name in pipelines:  # in any order: a pipeline may name policies declared after it
            cls._build_pipeline(registry, name, pipelines, ())
        return registry

    @staticmethod
    def _members(name: str, entry: Mapping[str, Any]) -> list[str]:
        for key in entry:
            if key not in ("type", "policies"):
                raise _error(name, key, "unknown key; allowed for pipeline: ['policies', 'type']")
        members = entry.get("policies")
        if not isinstance(members, list) or not members or not all(isinstance(m, str) for m in members):
            raise _error(name, "policies", f"a non-empty list of policy names, outermost first; got {members!r}")
        return members

    @classmethod
    def _build_pipeline(
        cls, registry: Registry, name: str, pipelines: Mapping[str, list[str]], chain: tuple[str, ...]
    ) -> None:
        if name in registry._policies:
            return
        for member in pipelines[name]:
            if member in pipelines:
                if member == name or member in chain:
                    path = " -> ".join((*chain, name, member))
                    raise _error(name, "policies", f"a cycle of pipelines: {path}")
                cls._build_pipeline(registry, member, pipelines, (*chain, name))
        registry.register(name, Pipeline(*(registry._policies[m] for m in pipelines[name]), name=name))

    @classmethod
    def _window(cls, name: str, value: object) -> Any:
        if not isinstance(value, Mapping):
            raise _error(name, "window", f'must be a table like {{ type = "count", size = 50 }}; got {value!r}')
        params = dict(value)
        wtype = params.pop("type", "consecutive")
        if not isinstance(wtype, str) or wtype not in _WINDOWS:
            raise _error(name, "window", f"unknown type {wtype!r}; allowed: {sorted(_WINDOWS)}")
        factory = _WINDOWS[wtype]
        allowed = _parameters(factory)
        for key in params:
            if key not in allowed:
                raise _error(name, "window", f"unknown key {key!r} of a {wtype} window; allowed: {sorted(allowed)}")
        for pname, parameter in allowed.items():
            if parameter.default is parameter.empty and pname not in params:
                raise _error(name, "window", f"a {wtype} window needs {pname!r}")
        try:
            return factory(**params)
        except (TypeError, ValueError) as exc:
            raise _error(name, "window", str(exc)) from exc

    @classmethod
    def _build(cls, name: str, kind: str, entry: Mapping[str, Any], clock: Clock) -> Policy:
        kwargs = {k: v for k, v in entry.items() if k != "type"}
        for reserved, why in (
            ("name", "the entry's name is the policy's name"),
            ("clock", "from_dict(clock=...) sets it"),
        ):
            if reserved in kwargs:
                raise _error(name, reserved, f"not configurable here: {why}")
        for key in ("record_on", "ignore_on", "success_on", "on"):
            if key in kwargs:
                kwargs[key] = _exceptions(kwargs[key], name, key)
        if "window" in kwargs:
            kwargs["window"] = cls._window(name, kwargs["window"])
        if "redis_url" in kwargs:
            if kind not in ("circuit_breaker", "rate_limiter"):
                raise _error(name, "redis_url", "only circuit_breaker and rate_limiter entries share state in Redis")
            return cls._build_redis(name, kind, kwargs, clock)
        factory = cls.TYPES[kind]
        _check_keys(name, kwargs, _parameters(factory, skip=("name", "clock")), kind)
        return cls._construct(name, kwargs, lambda: factory(name=name, clock=clock, **kwargs))

    @staticmethod
    def _construct(name: str, kwargs: Mapping[str, Any], build: Callable[[], Policy]) -> Policy:
        """Run ``build``; a refusal becomes a ``ConfigurationError`` naming the entry and the key."""
        try:
            return build()
        except (TypeError, ValueError) as exc:
            field = getattr(exc, "field", None)
            key = field if field in kwargs else _key_in(str(exc), list(kwargs))
            raise _error(name, key, str(exc)) from exc

    @classmethod
    def _build_redis(cls, name: str, kind: str, kwargs: dict[str, Any], clock: Clock) -> Policy:
        """A breaker with ``RedisStorage`` or a ``RedisRateLimiter``, from ``redis_url`` (+ ``redis_namespace``)."""
        from maestro_resilience._redis import RedisRateLimiter, RedisStorage, client_from_url  # noqa: PLC0415

        url = kwargs.pop("redis_url")
        namespace = kwargs.pop("redis_namespace", None)
        if not isinstance(url, str):
            raise _error(name, "redis_url", f"a redis:// URL, got {url!r}")
        if namespace is not None and not isinstance(namespace, str):
            raise _error(name, "redis_namespace", f"a string, got {namespace!r}")
        factory: Callable[..., Any] = CircuitBreaker if kind == "circuit_breaker" else RedisRateLimiter
        skip = ("name", "clock", "storage", "client", "namespace")
        _check_keys(name, kwargs, _parameters(factory, skip=skip), f"{kind} with redis_url")
        try:
            client = client_from_url(url)
        except ValueError as exc:
            raise _error(name, "redis_url", str(exc)) from exc

        def build() -> Policy:
            if kind == "circuit_breaker":
                storage = RedisStorage(client) if namespace is None else RedisStorage(client, namespace=namespace)
                return CircuitBreaker(name=name, clock=clock, storage=storage, **kwargs)
            if namespace is not None:
                kwargs["namespace"] = namespace
            return RedisRateLimiter(client, name=name, clock=clock, **kwargs)

        return cls._construct(name, kwargs, build)

    @classmethod
    def from_toml(
        cls, source: str | Path, *, clock: Clock = SYSTEM_CLOCK, max_bytes: int = MAX_CONFIG_BYTES
    ) -> Registry:
        """Build from TOML text or a ``Path`` to a TOML file (one table per policy).

        The text is refused past ``max_bytes`` (1 MiB by default) before it is parsed, and a file
        is read no further than that.

        Raises:
            ConfigurationError: invalid, oversized, too deeply nested or non-UTF-8 TOML, or an entry
                refused (see ``from_dict``).

        Examples:
            >>> from maestro_resilience import ConfigurationError, Registry
            >>> registry = Registry.from_toml('''
            ... [payments-retry]
            ... type = "retry"
            ... attempts = 4
            ... ''')
            >>> registry["payments-retry"].call(lambda: "charged")
            'charged'
            >>> try:
            ...     Registry.from_toml("# " + "x" * 2000, max_bytes=1000)
            ... except ConfigurationError as error:
            ...     print(error)
            the TOML Registry configuration is larger than 1000 bytes (max_bytes); refusing to parse it
        """
        import tomllib  # noqa: PLC0415

        text = read_config(source, max_bytes, "TOML")
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"invalid TOML in the Registry configuration: {exc}") from exc
        except RecursionError as exc:
            raise ConfigurationError("the TOML Registry configuration is nested too deeply to parse") from exc
        return cls.from_dict(config, clock=clock)

    @classmethod
    def from_yaml(cls, source: str | Path, *, clock: Clock = SYSTEM_CLOCK, max_bytes: int = MAX_YAML_BYTES) -> Registry:
        """Build from YAML text or a ``Path`` to a YAML file (one mapping per policy; extra ``yaml``).

        Parsed with PyYAML's safe loader after a size check (``max_bytes``, 1 MiB by default). Keys
        are read as written: YAML 1.1 would turn ``on:`` (``Retry``'s exception list), ``off:``,
        ``yes:`` and ``no:`` into booleans; here they stay the words you wrote. A key given twice
        in one mapping is refused.

        Raises:
            ConfigurationError: invalid or oversized YAML, or an entry refused (see ``from_dict``).
            ImportError: PyYAML is not installed (``pip install 'maestro-resilience[yaml]'``).

        Examples:
            >>> from maestro_resilience import Registry
            >>> registry = Registry.from_yaml('''
            ... payments-retry:
            ...   type: retry
            ...   attempts: 4
            ...   on: [ConnectionError, TimeoutError]  # YAML 1.1 would read this key as True
            ... ''')
            >>> registry["payments-retry"].call(lambda: "charged")
            'charged'
        """
        return cls.from_dict(load_yaml(source, max_bytes), clock=clock)
