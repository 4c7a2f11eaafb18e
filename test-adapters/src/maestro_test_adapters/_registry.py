"""Adapter discovery through the ``maestro_test_adapters`` entry-point group."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Final, cast

from maestro_test_adapters._adapter import TestAdapter
from maestro_test_adapters.errors import AdapterNotFoundError, InvalidOptionError, TestAdapterError

__all__ = ["ENTRY_POINT_GROUP", "adapter_names", "get_adapter"]

ENTRY_POINT_GROUP: Final = "maestro_test_adapters"
"""The entry-point group adapters register under; its values are zero-argument factories."""


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point)
    return found


def adapter_names() -> list[str]:
    """The sorted names of every registered adapter (built-in or third-party).

    Examples:
        >>> {"frontend", "playwright", "production", "pytest", "selenium"} <= set(adapter_names())
        True
    """
    return sorted(_entry_points())


def _keywords(factory: Callable[..., object]) -> list[str] | None:
    """The keyword settings ``factory`` accepts (``None``: it takes any keyword)."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sorted(p.name for p in parameters if p.kind in kinds)


def get_adapter(name: str, **settings: object) -> TestAdapter:
    """The adapter registered as ``name``, built by its factory with ``settings`` as keywords
    (``concurrency=8`` for ``production``, ``in_process=True`` for ``pytest``...).

    Raises:
        AdapterNotFoundError: no adapter has that name; the error lists the available ones.
        InvalidOptionError: a setting the adapter does not have (the error lists those it has), or
            a value it refuses.
        TestAdapterError: the entry point could not be loaded or did not build a ``TestAdapter``.

    Examples:
        >>> get_adapter("pytest").name
        'pytest'
    """
    points = _entry_points()
    point = points.get(name)
    if point is None:
        raise AdapterNotFoundError(name, points)
    try:
        factory = cast(Callable[..., object], point.load())
    except Exception as error:  # a broken third-party plugin: translate at the boundary
        raise TestAdapterError(f"test adapter {name!r} ({point.value}) failed to load: {error}") from error
    accepted = _keywords(factory)
    unknown = sorted(set(settings) - set(accepted)) if accepted is not None else []
    if unknown:
        have = ", ".join(accepted or ()) or "none"
        raise InvalidOptionError(unknown[0], f"is not a setting of the {name!r} adapter (its settings: {have})")
    try:
        adapter = factory(**settings)
    except InvalidOptionError:
        raise
    except Exception as error:
        raise TestAdapterError(f"test adapter {name!r} ({point.value}) failed to load: {error}") from error
    if not isinstance(adapter, TestAdapter):
        raise TestAdapterError(f"test adapter {name!r} ({point.value}) did not build a TestAdapter")
    return adapter
