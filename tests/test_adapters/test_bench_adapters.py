"""The benchmark runs and prints its pytest table (the browser half is exercised by test_browsers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_the_pytest_benchmark_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    sys.modules.pop("bench_adapters", None)
    import bench_adapters

    table = bench_adapters.pytest_table(quick=True)
    names = [row[0] for row in table.rows]
    assert names == [
        "plain pytest (subprocess)",
        "pytest + maestro plugin",
        "pytest + pytest-reportlog",
        "PytestAdapter.run (all in)",
    ]
    assert all(float(row[1]) > 0 for row in table.rows)
    assert "[--quick]" in table.render()
