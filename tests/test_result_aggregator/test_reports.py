"""The text reports (Markdown, JSON), the pandas export and the benchmark smoke run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from maestro_test_result_aggregator.dataframe import to_pandas
from maestro_test_result_aggregator.model import Status
from maestro_test_result_aggregator.reports import render_json, render_markdown, report_data
from maestro_test_result_aggregator.testing import make_run


def test_markdown_and_json_reports() -> None:
    run = make_run(30, fail_every=10, flaky_every=7)
    data = report_data(run, baseline=make_run(30))
    assert data["summary"]["failed"] == 3
    assert len(data["new_failures"]) == 3
    assert data["clusters"][0]["count"] == 3
    text = render_markdown(data)
    assert "### New failures (3)" in text
    assert "| `AssertionError: expected <N> to equal <N>` |" in text.replace("|  ", "| ")
    assert "within-run" in text
    assert json.loads(render_json(data))["summary"]["tests"] == 30


def test_to_pandas_typed_columns() -> None:
    frame = to_pandas(make_run(20, fail_every=5, flaky_every=3))
    assert len(frame) == 20
    assert str(frame["status"].dtype) == "category"
    assert str(frame["line"].dtype) == "Int64"
    assert str(frame["duration"].dtype) == "float64"
    assert isinstance(frame["start"].dtype, pd.DatetimeTZDtype)
    assert str(frame["start"].dt.tz) == "UTC"
    assert str(frame["flaky"].dtype) == "bool"
    assert frame["flaky"].sum() == 5
    assert (frame["status"] == Status.FAILED.value).sum() == 4


@pytest.mark.slow
def test_benchmark_quick_smoke() -> None:
    # In a fresh interpreter, as `make bench` runs it: the bench calls gc.collect() before every
    # measurement, and inside a test worker each collection walks the whole suite's heap
    # (138 s instead of 8 s in `make test`).
    bench = Path(__file__).resolve().parents[2] / "bench"
    script = (
        "import json, sys, tempfile\n"
        "from pathlib import Path\n"
        f"sys.path.insert(0, {str(bench)!r})\n"
        "import bench_aggregator as module\n"
        "tables = module.merge_table(500, small=200), module.html_table(Path(tempfile.mkdtemp()), 2_000)\n"
        "print(json.dumps({'rows': [[list(row) for row in table.rows] for table in tables],"
        " 'merge': tables[0].render()}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    rows, merge = report["rows"], report["merge"]
    assert all(rows)
    assert "8 shards / 1 shard" in merge
    assert merge.count("8 (plain dicts)") == 2
    assert [row[0] for row in rows[0]].count("8 (own suites)") == 2
    assert [row[0] for row in rows[0]].count("1 (8x the tests)") == 2
    assert [row[0] for row in rows[0]][-2:] == ["2 reruns", "8 reruns"]
    assert "Automatic (cyclic) garbage collections during the measured 8-shard merges: 0." in merge
