"""mypy proves decorated functions keep their exact signatures (sync and async)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--config-file", "/dev/null", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_signatures_are_kept() -> None:
    result = mypy(HERE / "typed_usage.py")
    assert result.returncode == 0, result.stdout


@pytest.mark.slow
def test_misuse_is_rejected() -> None:
    path = HERE / "typed_usage_errors.py"
    expected = {
        (i, m.group(1))
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if (m := re.search(r"# E: (\S+)", line))
    }
    result = mypy(path)
    found = {(int(m.group(1)), m.group(2)) for m in re.finditer(r":(\d+): error: .*\[([\w-]+)\]$", result.stdout, re.M)}
    assert found == expected, result.stdout
