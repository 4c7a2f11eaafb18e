"""The benchmark runs and prints its tables (a smoke test; figures are not asserted)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_quick_benchmark_prints_every_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_resilience

    monkeypatch.setattr(bench_resilience, "per_call_ns", lambda loop, n, rounds: loop(50) / 50 * 1e9)
    tables = bench_resilience.run(quick=True)
    titles = [t.title for t in tables]
    assert len(titles) == 8
    assert any("Redis" in t for t in titles)
    for table in tables:
        assert table.rows or "skipped" in table.note
        assert table.render().startswith(table.title)
    sys.modules.pop("bench_resilience", None)
