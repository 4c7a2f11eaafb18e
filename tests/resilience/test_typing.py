"""mypy proves decorated functions keep their exact signatures (sync and async)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.package_checks import assert_mypy_strict_passes, run_mypy_strict

HERE = Path(__file__).parent


@pytest.mark.slow
def test_signatures_are_kept() -> None:
    assert_mypy_strict_passes(HERE / "typed_usage.py")


@pytest.mark.slow
def test_misuse_is_rejected() -> None:
    path = HERE / "typed_usage_errors.py"
    expected = {
        (i, m.group(1))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if (m := re.search(r"# E: (\S+)", line))
    }
    result = run_mypy_strict(path)
    found = {(int(m.group(1)), m.group(2)) for m in re.finditer(r":(\d+): error: .*\[([\w-]+)\]$", result.stdout, re.M)}
    assert found == expected, result.stdout
