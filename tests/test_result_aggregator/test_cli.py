"""The ``maestro-results`` CLI: every command, exit codes, and inputs left untouched."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.formats import read_report, validate_ctrf, write_ctrf, write_junit
from maestro_test_result_aggregator.testing import make_run

DATA = Path(__file__).parent / "data"


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    folder = tmp_path / "shards"
    folder.mkdir()
    for index in range(3):
        write_junit(
            make_run(40, offset=40 * index, fail_every=20, flaky_every=13),
            folder / f"shard-{index}.xml",
            profile="surefire",
        )
    return folder


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def test_merge_writes_ctrf_and_leaves_inputs(shards: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in shards.iterdir()}
    out = tmp_path / "merged.json"
    code, text = invoke("merge", str(shards), "-o", str(out))
    assert code == 0, text
    assert "merged 120 tests" in text
    validate_ctrf(json.loads(out.read_text()))
    assert {p.name: p.read_bytes() for p in shards.iterdir()} == before
    code, _ = invoke("merge", str(shards / "*.xml"), "-o", str(tmp_path / "m.xml"), "--format", "junit")
    assert code == 0
    assert len(read_report(tmp_path / "m.xml").tests) == 120


def test_gate_exit_codes(shards: Path, tmp_path: Path) -> None:
    code, text = invoke("gate", str(shards), "--min-pass-rate", "90")
    assert (code, "PASS min-pass-rate" in text) == (0, True)
    code, text = invoke("gate", str(shards), "--min-pass-rate", "99", "--max-flaky", "0")
    assert code == 1
    assert "FAIL min-pass-rate: pass rate 95.00% is below the minimum 99.00%" in text
    assert "FAIL max-flaky" in text
    code, text = invoke("gate", str(tmp_path / "missing"), "--min-pass-rate", "90")
    assert code == 2
    code, text = invoke("gate", str(shards), "--min-pass-rate", "900")
    assert code == 2
    code, text = invoke("gate", str(shards), "--no-new-failures")
    assert code == 2  # a baseline is required


def test_gate_against_a_baseline_file(tmp_path: Path) -> None:
    write_ctrf(make_run(20), tmp_path / "base.json")
    write_ctrf(make_run(20, fail_every=10), tmp_path / "now.json")
    code, text = invoke(
        "gate", str(tmp_path / "now.json"), "--no-new-failures", "--baseline", str(tmp_path / "base.json")
    )
    assert code == 1
    assert "2 new failure(s)" in text


def test_bad_input_is_reported_and_strict_makes_it_fatal(shards: Path) -> None:
    (shards / "zz-broken.xml").write_text("<testsuites><testsuite")
    code, text = invoke("report", str(shards), "--format", "json")
    assert code == 0
    assert '"tests": 120' in text
    code, _ = invoke("report", str(shards), "--format", "json", "--strict")
    assert code == 2
    (shards / "evil.xml").write_text('<!DOCTYPE x [<!ENTITY a "b">]><testsuite/>')
    code, _ = invoke("merge", str(shards / "evil.xml"), "-o", str(shards / "o.json"))
    assert code == 2


def test_ingest_history_flaky_and_baseline_from_history(shards: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "h.db")
    code, text = invoke("ingest", str(shards), "--db", db, "--label", "build-1")
    assert code == 0, text
    assert text.startswith("stored run 1: 120 tests")
    failing = tmp_path / "failing.json"
    write_ctrf(make_run(40, fail_every=4), failing)
    code, text = invoke("gate", str(failing), "--db", db, "--baseline", "latest", "--no-new-failures")
    assert code == 1
    code, text = invoke("history", "--db", db)
    assert code == 0
    assert "build-1" in text
    code, text = invoke("flaky", str(shards), "--db", db)
    assert code == 0
    assert "FLAKY [within-run]" in text


def test_report_formats(shards: Path, tmp_path: Path) -> None:
    code, text = invoke("report", str(shards), "--format", "md")
    assert code == 0
    assert text.startswith("## ❌ Test results: 114 passed, 6 failed")
    code, text = invoke("report", str(shards), "--format", "term")
    assert code == 0
    assert "114 passed, 6 failed" in text
    html = tmp_path / "r.html"
    code, _ = invoke("report", str(shards), "--format", "html", "-o", str(html))
    assert code == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    ctrf = tmp_path / "r.json"
    code, _ = invoke("report", str(shards), "--format", "ctrf", "-o", str(ctrf))
    assert code == 0
    document = json.loads(ctrf.read_text())
    validate_ctrf(document)
    assert document["insights"]["runsAnalyzed"] == 1
    code, _ = invoke("report", str(shards), "--format", "junit", "-o", str(tmp_path / "r.xml"))
    assert code == 0
    code, _ = invoke("export", str(shards), "-o", str(tmp_path / "r.csv"))
    assert code == 0
    assert len(pd.read_csv(tmp_path / "r.csv")) == 120


def test_console_script_runs(shards: Path) -> None:
    script = Path(sys.executable).parent / "maestro-results"
    assert script.exists()
    done = subprocess.run(
        [str(script), "gate", str(shards), "--min-pass-rate", "99"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert "FAIL min-pass-rate" in done.stdout


def test_fixtures_are_not_modified_by_reading(tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(DATA, copy)
    before = {p.name: p.read_bytes() for p in copy.iterdir()}
    for path in copy.iterdir():
        read_report(path)
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == before


def test_package_errors_exit_2(shards: Path, tmp_path: Path) -> None:
    code, text = invoke("report", str(shards), "--db", "postgresql://nobody@127.0.0.1:9/none?connect_timeout=2")
    assert code == 2
    assert "cannot open the PostgreSQL history store" in text
    code, text = invoke("gate", str(shards), "--no-new-failures", "--baseline", "42", "--db", str(tmp_path / "h.db"))
    assert code == 2
    assert f"history store {tmp_path / 'h.db'}: no run with id 42" in text
