"""Adapter discovery through the ``maestro_test_adapters`` entry-point group."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Final, cast

from maestro_test_adapters._adapter import TestAdapter
from maestro_test_adapters.errors import AdapterNotFoundError, TestAdapterError

__all__ = ["ENTRY_POINT_GROUP", "adapter_names", "get_adapter"]

ENTRY_POINT_GROUP: Final = "maestro_test_adapters"
"""The entry-point group adapters register under; its values are zero-argument factories."""


def _entry_points() -> dict[str, EntryPoint]:
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point)
    return found


def adapter_names() -> list[str]:
    """The sorted names of every registered adapter (built-in or third-party)."""
    return sorted(_entry_points())


def get_adapter(name: str) -> TestAdapter:
    """The adapter registered as ``name``, built by its factory.

    Raises:
        AdapterNotFoundError: no adapter has that name; the error lists the available ones.
        TestAdapterError: the entry point could not be loaded or did not build a ``TestAdapter``.

    Example:
        >>> get_adapter("pytest").name
        'pytest'
    """
    points = _entry_points()
    point = points.get(name)
    if point is None:
        raise AdapterNotFoundError(name, points)
    try:
        factory = cast(Callable[[], object], point.load())
        adapter = factory()
    except Exception as error:  # a broken third-party plugin: translate at the boundary
        raise TestAdapterError(f"test adapter {name!r} ({point.value}) failed to load: {error}") from error
    if not isinstance(adapter, TestAdapter):
        raise TestAdapterError(f"test adapter {name!r} ({point.value}) did not build a TestAdapter")
    return adapter
