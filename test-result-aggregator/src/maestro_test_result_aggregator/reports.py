"""Summaries of a run for people and machines: one ``report_data`` dict, rendered as a rich
terminal summary, Markdown (PR comments, CI job summaries) or JSON. The HTML report lives in
``maestro_test_result_aggregator.html``.

Examples:
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> data = report_data(make_run(20, fail_every=10))
    >>> data["summary"]["failed"], len(data["clusters"])
    (2, 1)
    >>> render_markdown(data).splitlines()[0]
    '## ❌ Test results: 18 passed, 2 failed, 0 skipped of 20'
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, Final

from maestro_test_result_aggregator.analysis import (
    cluster_failures,
    compare,
    duration_regressions,
    flaky_within_run,
    slowest,
)
from maestro_test_result_aggregator.model import TestResult, TestRun

if TYPE_CHECKING:
    from rich.console import Console

    from maestro_test_result_aggregator.history import HistoryStore, HistoryWindow

__all__ = ["MARKDOWN_LIMITS", "render_json", "render_markdown", "render_terminal", "report_data"]


def _label(result: TestResult) -> str:
    parts = [*result.suite, result.name]
    text = " \u203a ".join(p for p in parts if p)
    if result.parameters:
        text += " [" + ", ".join(f"{k}={v}" for k, v in sorted(result.parameters.items())) + "]"
    return text


def report_data(
    run: TestRun,
    *,
    history: HistoryStore | HistoryWindow | None = None,
    baseline: TestRun | None = None,
    top: int = 10,
    history_runs: int = 30,
) -> dict[str, Any]:
    """Everything the reports show, as JSON-ready data: summary, failure clusters, flaky tests
    (within the run and, with ``history``, over history), slowest tests, new failures and fixes
    against ``baseline``, duration regressions and the pass-rate trend.

    Examples:
        One dict feeds every report (``render_markdown``, ``render_json``, the HTML report) and
        your own dashboards:

        >>> from maestro_test_result_aggregator import report_data
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> data = report_data(make_run(40, fail_every=20, flaky_every=15), baseline=make_run(40, fail_every=40), top=3)
        >>> data["summary"]["pass_rate"], data["summary"]["flaky"], len(data["new_failures"])
        (0.95, 2, 1)
        >>> [(cluster["count"], cluster["fingerprint"]) for cluster in data["clusters"]]
        [(2, 'AssertionError: expected <N> to equal <N>')]
        >>> [(test["duration"], test["status"]) for test in data["slowest"]]
        [(0.04, 'failed'), (0.039, 'passed'), (0.038, 'passed')]

        With a ``HistoryStore``, ``trend`` holds one point per stored run (and ``flaky`` and
        ``regressions`` use the history too). The store is read once, its last ``history_runs``
        runs (``HistoryStore.window``); a ``HistoryWindow`` already read can be given instead:

        >>> from maestro_test_result_aggregator import HistoryStore
        >>> with HistoryStore.open(":memory:") as store:
        ...     for night in range(3):
        ...         _ = store.add_run(make_run(40, fail_every=10 + night, start=1_700_000_000.0 + 86_400 * night))
        ...     data = report_data(make_run(40, fail_every=20), history=store)
        >>> [point["pass_rate"] for point in data["trend"]]
        [0.9, 0.925, 0.925]
    """
    summary = run.summary()
    executed = summary.passed + summary.failed
    data: dict[str, Any] = {
        "tool": {"name": run.tool.name, "version": run.tool.version},
        "environment": {
            "commit": run.environment.commit,
            "branch": run.environment.branch,
            "build_url": run.environment.build_url,
        },
        "start": run.start,
        "stop": run.stop,
        "summary": {
            "tests": summary.tests,
            "passed": summary.passed,
            "failed": summary.failed,
            "skipped": summary.skipped,
            "pending": summary.pending,
            "other": summary.other,
            "flaky": summary.flaky,
            "duration": summary.duration,
            "pass_rate": summary.passed / executed if executed else 1.0,
        },
        "clusters": [
            {
                "id": cluster.id,
                "fingerprint": cluster.fingerprint,
                "example": cluster.example,
                "count": len(cluster.tests),
                "tests": [_label(t) for t in cluster.tests[:top]],
            }
            for cluster in cluster_failures(run)
        ],
        "flaky": [
            {"name": v.name, "parameters": dict(v.parameters), "signal": v.signal, "evidence": v.evidence}
            for v in flaky_within_run(run)
        ],
        "slowest": [{"name": _label(t), "duration": t.duration, "status": t.status.value} for t in slowest(run, top)],
        "trend": [],
        "regressions": [],
    }
    if baseline is not None:
        diff = compare(baseline, run)
        data["new_failures"] = [_label(t) for t in diff.new_failures]
        data["fixed"] = [_label(t) for t in diff.fixed]
    if history is not None:
        # The store is read once (its last ``history_runs`` runs); a window is used as it is.
        from maestro_test_result_aggregator.history import HistoryWindow  # noqa: PLC0415 - sqlite only with a store

        window = history if isinstance(history, HistoryWindow) else history.window(last=history_runs)
        data["trend"] = [
            {
                "run": p.run_id,
                "label": p.label,
                "commit": p.commit,
                "start": p.started,
                "pass_rate": p.pass_rate,
                "tests": p.tests,
                "failed": p.failed,
                "flaky": p.flaky,
                "duration": p.duration,
            }
            for p in window.pass_rate_trend()
        ]
        data["flaky"].extend(
            {"name": v.name, "parameters": dict(v.parameters), "signal": v.signal, "evidence": v.evidence}
            for v in window.flaky()[: top * 5]
        )
        data["regressions"] = [
            {"name": r.name, "current": r.current, "p50": r.p50, "p95": r.p95, "ratio": r.ratio}
            for r in duration_regressions(run, window.durations)[:top]
        ]
    return data


def render_json(data: dict[str, Any]) -> str:
    """The report data as indented JSON."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("`", "'")


MARKDOWN_LIMITS: Final = {
    "github-comment": 65_536,
    "github-summary": 1_048_576,
    "gitlab-note": 1_000_000,
}
"""Where a Markdown summary goes and the most it may hold there: a GitHub pull-request comment
(65,536 characters), a GitHub Actions job summary (``$GITHUB_STEP_SUMMARY``, 1 MiB per step), a
GitLab merge-request note (1,000,000 characters)."""

_TRUNCATED: Final = "\n> ✂️ Cut to fit {limit:,} bytes: {rows} more row(s) left out. The full report has them all.\n"


class _Section:
    """A heading and table head, the rows shown (already capped to a readable number), what
    closes it, and ``total``: how many rows there are in all."""

    def __init__(self, head: list[str], rows: list[str], tail: list[str], total: int | None = None) -> None:
        self.head, self.rows, self.tail = head, rows, tail
        self.total = len(rows) if total is None else total
        self.bullets = not head[-1].startswith("|")

    def more(self, left: int) -> str:
        """The line saying ``left`` rows were left out."""
        if self.bullets:
            return f"- … and {left} more"
        columns = self.head[-2].count("|") - 1
        return f"| … | and {left} more |" + " |" * (columns - 2)

    def lines(self, rows: list[str]) -> list[str]:
        """The section showing ``rows``."""
        left = self.total - len(rows)
        return [*self.head, *rows, *([self.more(left)] if left else []), *self.tail]


def _md_list(title: str, items: Sequence[str], limit: int = 20) -> _Section | None:
    if not items:
        return None
    rows = [f"- `{_md_escape(item)}`" for item in items[:limit]]
    return _Section([f"### {title} ({len(items)})", ""], rows, [""], len(items))


def _md_sections(data: dict[str, Any]) -> list[_Section]:
    sections = [
        _md_list("New failures", data.get("new_failures", [])),
        _md_list("Fixed", data.get("fixed", [])),
    ]
    if data["clusters"]:
        head = [
            f"### Failures by cause ({len(data['clusters'])} clusters)",
            "",
            "| count | cause | example |",
            "|---:|---|---|",
        ]
        rows = []
        for cluster in data["clusters"][:20]:
            example = cluster["tests"][0] if cluster["tests"] else ""
            cause = _md_escape(cluster["fingerprint"][:120])
            rows.append(f"| {cluster['count']} | `{cause}` | {_md_escape(example)} |")
        sections.append(_Section(head, rows, [""], len(data["clusters"])))
    if data["flaky"]:
        head = [
            f"### Flaky ({len(data['flaky'])})",
            "",
            "| test | parameters | signal | evidence |",
            "|---|---|---|---|",
        ]
        rows = []
        for item in data["flaky"][:20]:
            params = ", ".join(f"{k}={v}" for k, v in item["parameters"].items())
            name, evidence = _md_escape(item["name"]), _md_escape(item["evidence"])
            rows.append(f"| `{name}` | {_md_escape(params)} | {item['signal']} | {evidence} |")
        sections.append(_Section(head, rows, [""], len(data["flaky"])))
    if data["slowest"]:
        head = ["<details><summary>Slowest tests</summary>", "", "| duration | test |", "|---:|---|"]
        rows = [f"| {t['duration']:.2f}s | `{_md_escape(t['name'])}` |" for t in data["slowest"]]
        sections.append(_Section(head, rows, ["", "</details>", ""]))
    if data["regressions"]:
        head = ["### Duration regressions", "", "| test | now | p50 | p95 |", "|---|---:|---:|---:|"]
        rows = [
            f"| `{_md_escape(r['name'])}` | {r['current']:.2f}s | {r['p50']:.2f}s | {r['p95']:.2f}s |"
            for r in data["regressions"]
        ]
        sections.append(_Section(head, rows, [""]))
    return [section for section in sections if section is not None]


def _size(lines: Sequence[str]) -> int:
    return sum(len(line.encode("utf-8")) + 1 for line in lines)


def render_markdown(data: dict[str, Any], *, limit: int | str | None = None) -> str:
    """A Markdown summary for PR comments and CI job summaries (GitHub/GitLab flavoured).

    Args:
        data: ``report_data``'s result.
        limit: the most bytes of UTF-8 it may take (so at most as many characters), or a name
            from ``MARKDOWN_LIMITS`` (``"github-comment"``, ``"github-summary"``,
            ``"gitlab-note"``). The headline and counts always stay; then each section in turn
            (new failures, fixed, failure causes, flaky, slowest, duration regressions) keeps as
            many rows as fit and says how many it left out, and a closing note says it was cut.

    Raises:
        ValueError: an unknown limit name, or a limit too small for the headline and counts.

    Examples:
        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import render_markdown, report_data
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> data = report_data(make_run(40, fail_every=20, flaky_every=15), baseline=make_run(40, fail_every=40))
        >>> markdown = render_markdown(data)
        >>> for block in markdown.split("\\n\\n")[:2]:  # the headline and the counts
        ...     print(block)
        ## ❌ Test results: 38 passed, 2 failed, 0 skipped of 40
        | tests | passed | failed | skipped | flaky | pass rate | duration |
        |---:|---:|---:|---:|---:|---:|---:|
        | 40 | 38 | 2 | 0 | 2 | 95.00% | 0.8s |
        >>> [line for line in markdown.splitlines() if line.startswith("### ")]
        ['### New failures (1)', '### Failures by cause (1 clusters)', '### Flaky (2)']

        In a GitHub Actions step, append it to the job summary (GitLab: post it as an MR note):

        >>> summary_file = pathlib.Path(tempfile.mkdtemp()) / "step_summary.md"  # os.environ["GITHUB_STEP_SUMMARY"]
        >>> with summary_file.open("a", encoding="utf-8") as stream:
        ...     _ = stream.write(markdown)

        A pull-request comment holds at most 65,536 characters: a summary that would not fit
        keeps what does and says what it left out:

        >>> comment = render_markdown(data, limit=1_100)
        >>> len(comment.encode()) <= 1_100
        True
        >>> print("\\n".join(comment.splitlines()[-6:]))  # the 3 slowest of 10 fit
        | 0.04s | `module_7 \u203a test_37` |
        | … | and 7 more |
        <BLANKLINE>
        </details>
        <BLANKLINE>
        > ✂️ Cut to fit 1,100 bytes: 7 more row(s) left out. The full report has them all.
        >>> len(render_markdown(data, limit="github-comment")) == len(markdown)  # small enough: whole
        True
    """
    if isinstance(limit, str):
        if limit not in MARKDOWN_LIMITS:
            raise ValueError(f"limit must be a number of bytes or one of {', '.join(MARKDOWN_LIMITS)}, got {limit!r}")
        limit = MARKDOWN_LIMITS[limit]
    s = data["summary"]
    icon = "❌" if s["failed"] else "✅"
    lines = [
        f"## {icon} Test results: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped of {s['tests']}",
        "",
        "| tests | passed | failed | skipped | flaky | pass rate | duration |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['tests']} | {s['passed']} | {s['failed']} | {s['skipped']} | {s['flaky']} | "
        f"{s['pass_rate']:.2%} | {s['duration']:.1f}s |",
        "",
    ]
    sections = _md_sections(data)
    whole = "\n".join([*lines, *(line for section in sections for line in section.lines(section.rows))])
    if limit is None or len(whole.encode("utf-8")) <= limit:
        return whole
    budget = limit - _size(lines) - len(_TRUNCATED.format(limit=limit, rows=10**12).encode("utf-8"))
    if budget < 0:
        raise ValueError(f"a Markdown summary needs more than {limit} bytes for its headline and counts")
    cut = 0
    for section in sections:
        fixed = _size([*section.head, *section.tail, section.more(section.total)])
        if fixed > budget:
            cut += len(section.rows)
            continue
        budget -= fixed
        kept: list[str] = []
        for row in section.rows:
            cost = _size([row])
            if cost > budget:
                break
            budget -= cost
            kept.append(row)
        cut += len(section.rows) - len(kept)
        lines += section.lines(kept)
    return "\n".join(lines) + _TRUNCATED.format(limit=limit, rows=cut)


_UNWRAPPED: Final = 100_000
"""The width of a console that is not a terminal: CI logs and files get whole lines."""


def unwrapped_console(file: IO[str] | None = None) -> Console:
    """A rich console for ``file`` (stdout by default): the terminal's width on a terminal,
    otherwise no hard wrap (rich would cut lines at 80 columns in a CI log or a file)."""
    from rich.console import Console  # noqa: PLC0415 - rich loads only when printing

    console = Console(file=file)
    return console if console.is_terminal else Console(file=file, width=_UNWRAPPED)


def render_terminal(data: dict[str, Any], console: Console | None = None) -> None:
    """Print a rich summary: counts, failure clusters, flaky tests and the slowest tests.

    Without ``console``, lines are wrapped at the terminal's width on a terminal and not at all
    elsewhere (``unwrapped_console``).
    """
    from rich.markup import escape  # noqa: PLC0415 - rich loads only when printing
    from rich.table import Table  # noqa: PLC0415

    # Names, messages and evidence come from the reports: "[/tmp/x]" in a message is text, not markup.
    out = console or unwrapped_console()
    s = data["summary"]
    style = "bold red" if s["failed"] else "bold green"
    out.print(
        f"[{style}]{s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped, {s['flaky']} flaky[/] "
        f"of {s['tests']} tests in {s['duration']:.1f}s (pass rate {s['pass_rate']:.2%})"
    )
    for key, title in (("new_failures", "New failures"), ("fixed", "Fixed")):
        if data.get(key):
            out.print(f"[bold]{title}[/] ({len(data[key])}): " + escape(", ".join(data[key][:10])))
    if data["clusters"]:
        table = Table(title="Failures by cause", show_lines=False)
        table.add_column("count", justify="right")
        table.add_column("cause")
        table.add_column("example test")
        for cluster in data["clusters"][:15]:
            table.add_row(
                str(cluster["count"]), escape(cluster["fingerprint"][:100]), escape((cluster["tests"] or [""])[0])
            )
        out.print(table)
    if data["flaky"]:
        table = Table(title="Flaky tests")
        table.add_column("test")
        table.add_column("parameters")
        table.add_column("signal")
        table.add_column("evidence")
        for item in data["flaky"][:15]:
            params = ", ".join(f"{k}={v}" for k, v in item["parameters"].items())
            table.add_row(escape(item["name"]), escape(params), item["signal"], escape(item["evidence"]))
        out.print(table)
    if data["slowest"]:
        table = Table(title="Slowest tests")
        table.add_column("duration", justify="right")
        table.add_column("test")
        for test in data["slowest"]:
            table.add_row(f"{test['duration']:.2f}s", escape(test["name"]))
        out.print(table)
