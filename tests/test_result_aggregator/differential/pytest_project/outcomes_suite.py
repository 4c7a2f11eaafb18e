"""A small real suite run by the differential tests: it passes, fails, skips, errors and flakes.

Run by a separate pytest process, copied in as a ``test_*.py`` module (named otherwise here so
the repository's own suite never collects it). ``FLAKY_STATE`` names a folder where the flaky
test counts its attempts, so it fails the first time and passes on its rerun.
"""

import os
from pathlib import Path

import pytest


def test_passes() -> None:
    assert 1 + 1 == 2


@pytest.mark.parametrize("value", [1, 2])
def test_parametrised(value: int) -> None:
    assert value in (1, 2)


def test_fails() -> None:
    total = sum([40, 2])
    assert total == 43


def test_fails_on_every_rerun() -> None:
    raise RuntimeError("the database is down")


@pytest.mark.skip(reason="not on this platform")
def test_skipped() -> None:
    raise AssertionError("never runs")


@pytest.fixture
def broken_fixture() -> None:
    raise ConnectionError("fixture could not connect")


def test_errors_in_setup(broken_fixture: None) -> None:
    pass


def test_flaky_passes_on_rerun() -> None:
    counter = Path(os.environ["FLAKY_STATE"]) / "attempts"
    attempts = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempts))
    assert attempts >= 2, f"attempt {attempts} fails"


class TestUsers:
    def test_create(self) -> None:
        pass


class TestOrders:
    def test_create(self) -> None:
        pytest.fail("order rejected")
