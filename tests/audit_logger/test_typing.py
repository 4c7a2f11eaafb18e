"""The public API's types, as users write them, pass mypy --strict."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.package_checks import assert_mypy_strict_passes


@pytest.mark.slow
def test_typed_usage_passes_mypy_strict() -> None:
    assert_mypy_strict_passes(Path(__file__).resolve().parent / "typed_usage.py")
