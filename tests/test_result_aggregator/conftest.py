"""Shared fixtures of the aggregator's tests."""

from __future__ import annotations

import pytest

from maestro_test_result_aggregator.ci import CI_SYSTEMS


def pytest_configure(config: pytest.Config) -> None:
    """The ``differential`` marker: tests that run the real tools (pytest with its report plugins
    at two versions, Jest, Vitest, Playwright Test) and compare their summaries with ours. They
    install into a cache folder once (see differential/README.md); ``-m "not differential"``
    leaves them out."""
    config.addinivalue_line(
        "markers", "differential: runs real test tools and compares their own summaries with ours (minutes)"
    )


@pytest.fixture(autouse=True)
def _outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI reads the CI system's variables: tests start outside any CI system (the suite
    itself may run on one), and set the variables they test."""
    for _name, marker, _read in CI_SYSTEMS:
        monkeypatch.delenv(marker, raising=False)
