"""Shared fixtures of the aggregator's tests."""

from __future__ import annotations

import pytest

from maestro_test_result_aggregator.ci import CI_SYSTEMS


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the CI system's variables: tests start outside any CI system (the suite
    itself may run on one), and set the variables they test."""
    for _name, marker, _read in CI_SYSTEMS:
        monkeypatch.delenv(marker, raising=False)
