"""Adapter discovery through the entry-point group (``get_adapter``, ``adapter_names``) and ``Availability``."""

from __future__ import annotations

import importlib.metadata

import pytest

import maestro_test_adapters as mta
from maestro_test_adapters import (
    AdapterNotFoundError,
    Availability,
    InvalidOptionError,
    TestAdapterError,
    adapter_names,
    get_adapter,
)


def test_built_in_adapters_are_registered_through_the_entry_point_group() -> None:
    names = {p.name for p in importlib.metadata.entry_points(group=mta.ENTRY_POINT_GROUP)}
    assert {"frontend", "playwright", "production", "pytest", "selenium"} <= names
    assert adapter_names() == sorted(names)
    for name in adapter_names():
        adapter = get_adapter(name)
        assert adapter.name == name
        assert isinstance(adapter, mta.TestAdapter)
        availability = adapter.available()
        assert isinstance(availability, Availability)
        assert availability.ok or availability.reason


def test_unknown_adapter_lists_the_available_names() -> None:
    with pytest.raises(AdapterNotFoundError) as caught:
        get_adapter("cypress")
    assert "cypress" in str(caught.value)
    assert "pytest" in str(caught.value)
    assert "production" in str(caught.value)
    assert caught.value.available == tuple(adapter_names())


def test_settings_are_passed_to_the_adapter_factory_and_unknown_ones_refused() -> None:
    assert getattr(get_adapter("production", concurrency=2), "concurrency", None) == 2
    assert getattr(get_adapter("frontend", runner="jest"), "runner", None) == "jest"
    with pytest.raises(InvalidOptionError, match=r"workers: is not a setting of the 'production' adapter") as caught:
        get_adapter("production", workers=3)
    assert "concurrency" in str(caught.value)
    with pytest.raises(InvalidOptionError, match="concurrency: must be an int"):
        get_adapter("production", concurrency=0)


def test_a_broken_third_party_entry_point_is_translated(monkeypatch: pytest.MonkeyPatch) -> None:
    point = importlib.metadata.EntryPoint("broken", "no_such_module_xyz:Adapter", mta.ENTRY_POINT_GROUP)
    not_adapter = importlib.metadata.EntryPoint("bogus", "builtins:object", mta.ENTRY_POINT_GROUP)
    from maestro_test_adapters import _registry

    monkeypatch.setattr(_registry, "entry_points", lambda group: [point, not_adapter])
    with pytest.raises(TestAdapterError, match="failed to load"):
        get_adapter("broken")
    with pytest.raises(TestAdapterError, match="did not build a TestAdapter"):
        get_adapter("bogus")


def test_availability_is_truthy_only_when_ok() -> None:
    assert Availability(True)
    assert not Availability(False, "missing")
