"""`make bench` prints one table per benchmark, with peers measured in the same run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.release.conftest import REPO_ROOT


@pytest.mark.slow
def test_bench_prints_ratio_tables() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench/run.py"), "--quick", "import"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert "Import time (ms, median of fresh interpreters)" in result.stdout
    for module in (
        "maestro_resilience",
        "maestro_audit_logger",
        "maestro_test_result_aggregator",
        "maestro_test_adapters",
    ):
        assert module in result.stdout
    assert "ours / peer" in result.stdout
    assert "x\n" in result.stdout  # at least one ratio was computed


def test_bench_names_unknown_benchmarks() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench/run.py"), "nope"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "unknown benchmark nope; available: " in result.stderr
    assert "import" in result.stderr.rsplit("available: ", 1)[1]
