"""A Markdown summary fit for where it is posted: a GitHub pull-request comment (65,536
characters), a GitHub job summary (1 MiB), a GitLab merge-request note (1,000,000 characters)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from maestro_test_result_aggregator import Status, TestRun, Tool, write_junit
from maestro_test_result_aggregator.cli import main
from maestro_test_result_aggregator.reports import MARKDOWN_LIMITS, render_markdown, report_data
from maestro_test_result_aggregator.testing import make_result, make_run


def huge_data() -> dict[str, Any]:
    """A run whose every failure has its own cause and whose test names are long (parameters
    holding whole documents): each section shows at most 20 rows, yet the whole summary is
    bigger than any of the three places takes (2 MB)."""
    tests = []
    for number in range(200):
        result = make_result(number, status=Status.FAILED if number % 2 else Status.PASSED, flaky=number % 7 == 0)
        name = f"test_checkout_{number}[" + "é" * 10_000 + "]"
        message = f"AssertionError: cart {number} " + "ü" * 100 if number % 2 else None
        tests.append(replace(result, name=name, message=message, trace=message))
    data = report_data(TestRun(Tool("pytest"), tests), baseline=TestRun(Tool("pytest"), []))
    data["clusters"] = data["clusters"] * 50  # every cause a row
    assert len(render_markdown(data).encode()) > max(MARKDOWN_LIMITS.values())
    return data


@pytest.mark.parametrize("where", sorted(MARKDOWN_LIMITS))
def test_summary_fits_each_place_and_says_it_was_cut(where: str) -> None:
    data = huge_data()
    whole = render_markdown(data)
    text = render_markdown(data, limit=where)
    assert len(text.encode("utf-8")) <= MARKDOWN_LIMITS[where]
    assert len(text) <= MARKDOWN_LIMITS[where]
    assert text.startswith(whole.split("\n### ", 1)[0])  # the headline and the counts are whole
    assert "row(s) left out" in text.splitlines()[-1]


def test_github_comment_keeps_first_sections_rows_and_counts_the_rest() -> None:
    data = huge_data()
    data["new_failures"] = [f"test_{n}_" + "x" * 5_000 for n in range(40)]  # 20 shown, 5 kB each
    text = render_markdown(data, limit="github-comment")
    assert len(text) <= 65_536
    lines = text.splitlines()
    assert lines[6] == "### New failures (40)"
    shown = [line for line in lines if line.startswith("- `test_")]
    assert 0 < len(shown) < 20
    assert f"- … and {40 - len(shown)} more" in lines
    # Every section's table stays well formed: a cut one ends with the "and N more" row.
    assert all(line.startswith("|") for line in lines if "and" in line and "more |" in line)


def test_a_small_summary_is_never_cut() -> None:
    data = report_data(make_run(30, fail_every=10))
    assert render_markdown(data, limit="github-comment") == render_markdown(data)


def test_a_limit_below_the_headline_or_unknown_is_refused() -> None:
    data = report_data(make_run(3))
    with pytest.raises(ValueError, match="needs more than 100 bytes"):
        render_markdown(data, limit=100)
    with pytest.raises(ValueError, match="one of github-comment, github-summary, gitlab-note"):
        render_markdown(data, limit="slack")


def test_cli_md_limit(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    write_junit(make_run(2_000, fail_every=2), report)
    runner = CliRunner()
    outcome = runner.invoke(main, ["report", str(report), "--format", "md", "--md-limit", "600"])
    assert outcome.exit_code == 0, outcome.output
    assert len(outcome.output.encode()) <= 601  # click.echo adds the newline
    assert "Cut to fit 600 bytes" in outcome.output
    outcome = runner.invoke(main, ["report", str(report), "--format", "md", "--md-limit", "lots"])
    assert outcome.exit_code == 2
    assert "--md-limit must be a number of bytes or one of github-comment" in outcome.output
