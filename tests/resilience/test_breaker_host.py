"""The breaker/storage contract: ``RedisStorage`` uses of its breaker only what ``BreakerHost`` names.

It used to reach into the breaker's privates (its lock, its generation counter, ``_enter``...) with
nothing saying which; now the contract is one Protocol, checked by mypy in ``_redis.py`` and here
without it: no private member of the breaker is used outside the contract, and the breaker has all of it.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import redis

from maestro_resilience import CircuitBreaker
from maestro_resilience import _redis as redis_module
from maestro_resilience._breaker_host import BreakerHost

CONTRACT = {
    name
    for name, _ in inspect.getmembers(BreakerHost)
    if not name.startswith("__") and name not in ("_is_protocol", "_is_runtime_protocol", "_abc_impl")
} | set(BreakerHost.__annotations__)


def breaker_members_used_by_the_storage() -> set[str]:
    """Attributes the storage module reads off its breaker (``self._served.x``, ``breaker.x``)."""
    tree = ast.parse(Path(redis_module.__file__).read_text(encoding="utf-8"))
    used: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if (isinstance(owner, ast.Attribute) and owner.attr in ("_served", "breaker")) or (
            isinstance(owner, ast.Name) and owner.id == "breaker"
        ):
            used.add(node.attr)
    return used


def test_the_storage_uses_only_the_contract() -> None:
    used = breaker_members_used_by_the_storage()
    assert used, "the AST walk found no use at all: the test no longer sees the storage's code"
    private = {name for name in used if name.startswith("_")}
    assert private <= CONTRACT, f"private breaker members used outside BreakerHost: {sorted(private - CONTRACT)}"


def test_the_breaker_fulfils_the_contract() -> None:
    breaker = CircuitBreaker("host")
    missing = sorted(name for name in CONTRACT if not hasattr(breaker, name))
    assert missing == []


def test_both_stores_fulfil_the_store_contract(client: redis.Redis) -> None:
    """The breaker asks its store, local or Redis, through ``BreakerStore`` instead of branching on which."""
    from maestro_resilience._breaker import _LocalStore
    from maestro_resilience._breaker_host import BreakerStore
    from maestro_resilience._redis import RedisStorage

    members = {name for name in vars(BreakerStore) if not name.startswith("_")}
    assert members >= {"acquire", "complete", "state", "set_state", "window", "is_async"}
    local = CircuitBreaker("local")
    shared = CircuitBreaker("shared", storage=RedisStorage(client))
    for store in (local._store, shared._store):
        assert sorted(name for name in members if not hasattr(store, name)) == [], type(store).__name__
    assert isinstance(local._store, _LocalStore)
    assert local.storage is None
    assert shared._store is shared.storage
