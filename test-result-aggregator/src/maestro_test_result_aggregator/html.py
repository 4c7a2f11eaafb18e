"""A self-contained HTML report: one file, no CDN, no network (a Content-Security-Policy forbids
any fetch), usable with hundreds of thousands of tests.

Summary, failures grouped by cluster, flaky tests, slowest tests and the trend charts (inline
SVG drawn here, so they show even with scripts off) are rendered server-side. The full test
list is embedded once as compact JSON (strings deduplicated, statuses and suites as indexes) and
drawn by a small script as a virtual table: only the visible rows exist in the DOM, and search
and the status filter scan a plain array, so 200k tests stay responsive.

Examples:
    >>> import tempfile, pathlib
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "report.html"
    >>> write_html(make_run(100, fail_every=10), path)
    >>> "<svg" in path.read_text()
    True
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, Final

from maestro_test_result_aggregator._html_detail import DetailTables
from maestro_test_result_aggregator.analysis import cluster_failures, strip_ansi
from maestro_test_result_aggregator.model import Status, TestRun
from maestro_test_result_aggregator.reports import report_data

if TYPE_CHECKING:
    from maestro_test_result_aggregator.history import HistoryStore

__all__ = ["render_html", "write_html"]

_STATUSES: Final = [s.value for s in Status]
_STATUS_INDEX: Final = {s: i for i, s in enumerate(Status)}
_COLOURS: Final = {
    "passed": "#2e7d32",
    "failed": "#c62828",
    "skipped": "#9e9e9e",
    "pending": "#f9a825",
    "other": "#6a1b9a",
}
_MESSAGE_CHARS: Final = 300
_SEP: Final = " \u203a "


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


_SCRIPT_UNSAFE: Final = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def _script_json(value: Any) -> str:
    """JSON that is safe as the text of a `<script>` element.

    `<`, `>` and `&` can only occur inside JSON strings, where `\\u003c`-style escapes mean the same
    character, so no `<!--`, `</script` or `<script` sequence (which change how the HTML parser
    ends the element) survives; U+2028/U+2029 are escaped for older JavaScript parsers.

    Examples:
        >>> _script_json({"m": "Hello<!-- -->World</script>"})
        '{"m":"Hello\\\\u003c!-- --\\\\u003eWorld\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for unsafe, escaped in _SCRIPT_UNSAFE:  # str.replace per character class: C speed on 200k tests
        text = text.replace(unsafe, escaped)
    return text


def _point_label(point: dict[str, Any]) -> str:
    """How a chart point names its run: the run id, its label, its commit and when it ran."""
    parts = [f"run {point['run']}"]
    if point.get("label"):
        parts.append(str(point["label"]))
    if point.get("commit"):
        parts.append(f"commit {str(point['commit'])[:12]}")
    if point.get("start"):
        parts.append(datetime.fromtimestamp(point["start"], UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return " · ".join(parts)


def _line_chart(
    title: str,
    values: Sequence[float],
    *,
    labels: Sequence[str] = (),
    percent: bool = False,
    colour: str = "#1565c0",
) -> str:
    width, height, pad = 560, 160, 28
    if not values:
        return ""
    low, high = (0.0, 1.0) if percent else (0.0, max(values) or 1.0)
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return height - pad - (value - low) / (high - low or 1.0) * (height - 2 * pad)

    points = " ".join(f"{pad + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    last = values[-1]
    shown = f"{last:.1%}" if percent else f"{last:.2f}"
    dots = "".join(
        f'<circle cx="{pad + i * step:.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}">'
        f"<title>{_e(labels[i] if i < len(labels) else f'run {i + 1}')}: "
        f"{(f'{v:.1%}' if percent else f'{v:.2f}')}</title></circle>"
        for i, v in enumerate(values)
    )
    return (
        f'<figure class="chart"><figcaption>{_e(title)} <b>{_e(shown)}</b></figcaption>'
        f'<svg class="trend" role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}"><line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#bbb"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="#bbb"/>'
        f'<text x="2" y="{pad + 4}" font-size="10">{_e(f"{high:.0%}" if percent else f"{high:.1f}")}</text>'
        f'<text x="2" y="{height - pad}" font-size="10">{_e(f"{low:.0%}" if percent else "0")}</text>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>{dots}</svg></figure>'
    )


def _status_bar(summary: dict[str, Any]) -> str:
    width, height = 560, 28
    total = summary["tests"] or 1
    x = 0.0
    parts = []
    for status in _STATUSES:
        count = summary[status]
        if not count:
            continue
        w = width * count / total
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="{height}" fill="{_COLOURS[status]}">'
            f"<title>{status}: {count}</title></rect>"
        )
        x += w
    return (
        '<figure class="chart"><figcaption>Outcomes</figcaption>'
        f'<svg class="trend" role="img" aria-label="outcomes" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}">{"".join(parts)}</svg></figure>'
    )


@cache
def _asset(name: str) -> str:
    return resources.files("maestro_test_result_aggregator").joinpath(f"assets/{name}").read_text(encoding="utf-8")


def _section(key: str, title: str, body: str) -> str:
    """A titled section, or nothing when it would be empty (no "No failures." panels)."""
    return f'<section id="{key}"><h2>{_e(title)}</h2>{body}</section>' if body else ""


def _baseline_html(data: dict[str, Any]) -> str:
    if "new_failures" not in data:
        return ""
    parts = ['<section id="baseline"><h2>Against the baseline</h2>']
    for key, title in (("new_failures", "New failures"), ("fixed", "Fixed")):
        items = data[key]
        if items:
            parts.append(f"<h3>{title} ({len(items)})</h3>")
            parts.append("<ul>" + "".join(f"<li>{_e(item)}</li>" for item in items[:500]) + "</ul>")
    if len(parts) == 1:
        parts.append("<p>No new failures, nothing fixed.</p>")
    return "".join(parts) + "</section>"


def _regressions_html(data: dict[str, Any]) -> str:
    if not data["regressions"]:
        return ""
    rows = "".join(
        f"<tr><td>{_e(r['name'])}</td><td>{r['current']:.2f}s</td><td>{r['p50']:.2f}s</td><td>{r['p95']:.2f}s</td></tr>"
        for r in data["regressions"]
    )
    return (
        '<section id="regressions"><h2>Duration regressions</h2>'
        f"<table><tr><th>test</th><th>now</th><th>p50</th><th>p95</th></tr>{rows}</table></section>"
    )


def render_html(
    run: TestRun,
    *,
    history: HistoryStore | None = None,
    baseline: TestRun | None = None,
    title: str = "Test report",
    history_runs: int = 30,
) -> str:
    """The report as one HTML string (see ``write_html``); ``history_runs``: how many of the
    store's last runs the trend charts and each test's history cover."""
    window = history.window(last=history_runs) if history is not None else None  # the one read of the store
    data = report_data(run, history=window, baseline=baseline, history_runs=history_runs)
    s = data["summary"]
    suites: dict[str, int] = {"": 0}
    messages: dict[str, int] = {}
    cluster_of: dict[str, int] = {}
    clusters = cluster_failures(run)
    for index, cluster in enumerate(clusters):
        for test in cluster.tests:
            cluster_of[test.test_id] = index
    texts: dict[str | None, int] = {None: -1}  # class and file names
    tables = DetailTables(
        window.statuses if window is not None else None,
        window.durations if window is not None else None,
    )
    rows = []
    for test in run.tests:
        test_id = test.test_id if history is not None else ""  # a digest per test: only for history
        suite = _SEP.join(test.suite)
        suite_index = suites.setdefault(suite, len(suites))
        classname = test.classname if test.classname and test.classname != (test.suite or ("",))[-1] else None
        class_index = texts.setdefault(classname, len(texts) - 1)
        file_index = texts.setdefault(test.file, len(texts) - 1)
        message_index = -1
        if test.status is Status.FAILED or test.message:
            text = strip_ansi(test.message or (test.trace or "").strip().split("\n", 1)[0])[:_MESSAGE_CHARS]
            if text:
                message_index = messages.setdefault(text, len(messages))
        name = test.name
        if test.parameters:
            name += " [" + ", ".join(f"{k}={v}" for k, v in sorted(test.parameters.items())) + "]"
        rows.append(
            [
                name,
                suite_index,
                _STATUS_INDEX[test.status],
                round(test.duration * 1000),
                message_index,
                1 if test.attempts and test.flaky else 0,
                class_index,
                file_index,
                tables.detail(test, test_id),
                tables.history(test_id),
            ]
        )
    payload = {
        "statuses": _STATUSES,
        "suites": list(suites),
        "messages": list(messages),
        "texts": [text for text in texts if text is not None],
        "details": tables.details,
        "histories": tables.histories,
        "rows": rows,
    }

    cards = "".join(
        f'<div class="card {cls}"><b>{value}</b>{label}</div>'
        for cls, value, label in (
            ("", s["tests"], "tests"),
            ("passed", s["passed"], "passed"),
            ("failed", s["failed"], "failed"),
            ("skipped", s["skipped"], "skipped"),
            ("flaky", s["flaky"], "flaky"),
            ("", f"{s['pass_rate']:.1%}", "pass rate"),
            ("", f"{s['duration']:.1f}s", "test time"),
        )
    )
    charts = [_status_bar(s)]
    trend = data["trend"]
    if trend:
        labels = [_point_label(p) for p in trend]
        rates = [p["pass_rate"] for p in trend]
        charts.append(_line_chart("Pass rate per run", rates, labels=labels, percent=True, colour="#2e7d32"))
        failed = [float(p["failed"]) for p in trend]
        charts.append(_line_chart("Failed tests per run", failed, labels=labels, colour="#c62828"))
        times = [float(p["duration"]) for p in trend]
        charts.append(_line_chart("Test time per run (s)", times, labels=labels, colour="#1565c0"))
    cluster_html = "".join(
        f'<details class="cluster"><summary><b>{len(c.tests)}</b> &times; '
        f"<code>{_e(c.fingerprint[:200])}</code></summary>"
        f"<p>{_e(c.example[:500])}</p><ul>"
        + "".join(f"<li>{_e(_SEP.join((*t.suite, t.name)))}</li>" for t in c.tests[:50])
        + (f"<li>… {len(c.tests) - 50} more</li>" if len(c.tests) > 50 else "")
        + "</ul></details>"
        for c in clusters[:100]
    )
    flaky_html = (
        "<table><tr><th>test</th><th>parameters</th><th>signal</th><th>evidence</th></tr>"
        + "".join(
            f"<tr><td>{_e(f['name'])}</td><td>{_e(', '.join(f'{k}={v}' for k, v in f['parameters'].items()))}</td>"
            f"<td>{_e(f['signal'])}</td><td>{_e(f['evidence'])}</td></tr>"
            for f in data["flaky"][:200]
        )
        + "</table>"
        if data["flaky"]
        else ""
    )
    slow_html = (
        "<table><tr><th>duration</th><th>test</th><th>status</th></tr>"
        + "".join(
            f"<tr><td>{t['duration']:.2f}s</td><td>{_e(t['name'])}</td><td>{_e(t['status'])}</td></tr>"
            for t in data["slowest"]
        )
        + "</table>"
    )
    panels = (
        _section("clusters", f"Failures by cause ({len(clusters)})", cluster_html)
        + _section("flaky", f"Flaky tests ({len(data['flaky'])})", flaky_html)
        + _section("slowest", "Slowest tests", slow_html if data["slowest"] else "")
    )
    env = run.environment
    subtitle = " · ".join(
        _e(x)
        for x in (
            f"{run.tool.name} {run.tool.version or ''}".strip(),
            f"commit {env.commit[:12]}" if env.commit else "",
            f"branch {env.branch}" if env.branch else "",
            datetime.fromtimestamp(run.start, UTC).strftime("%Y-%m-%d %H:%M UTC") if run.start else "",
        )
        if x
    )
    options = "".join(f'<option value="{st}">{st}</option>' for st in [*_STATUSES, "flaky"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">"
        f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
        f"<style>{_asset('report.css')}</style></head><body>"
        f"<header><h1>{_e(title)}</h1><div>{subtitle}</div></header><main>"
        f'<section id="summary"><div class="cards">{cards}</div></section>'
        f'<section id="charts"><h2>{"Trends" if trend else "Outcomes"}</h2><div class="charts">{"".join(charts)}</div>'
        "</section>"
        f"{panels}"
        f"{_baseline_html(data)}{_regressions_html(data)}"
        '<section id="tests"><h2>All tests</h2><div id="controls">'
        '<input id="search" type="search" placeholder="Search name, suite or message" aria-label="search">'
        f'<select id="status" aria-label="status"><option value="">all statuses</option>{options}</select>'
        '<span id="count"></span></div><div id="viewport"><div id="spacer"></div></div>'
        '<aside id="detail" hidden aria-live="polite"></aside></section>'
        f'</main><script id="maestro-data" type="application/json">{_script_json(payload)}</script>'
        f"<script>{_asset('report.js')}</script></body></html>\n"
    )


def write_html(
    run: TestRun,
    path: str | os.PathLike[str],
    *,
    history: HistoryStore | None = None,
    baseline: TestRun | None = None,
    title: str = "Test report",
) -> None:
    """Write the self-contained HTML report of ``run`` (trend charts when ``history`` is given,
    new failures and fixes when ``baseline`` is).

    Examples:
        The nightly job's report, with the trend of the stored runs and what changed since the
        last green build; publish the file as a CI artifact (it needs no server):

        >>> import pathlib, re, tempfile
        >>> from maestro_test_result_aggregator import HistoryStore, write_html
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> with HistoryStore.open(folder / "history.db") as store:
        ...     for night in range(5):
        ...         _ = store.add_run(make_run(200, fail_every=10 + night, start=1_700_000_000.0 + 86_400 * night))
        ...     tonight = make_run(200, fail_every=8, start=1_700_432_000.0)
        ...     write_html(tonight, folder / "report.html", history=store, baseline=make_run(200), title="Nightly e2e")
        >>> page = (folder / "report.html").read_text(encoding="utf-8")
        >>> re.findall(r"<h2>(.*?)</h2>", page)
        ['Trends', 'Failures by cause (1)', 'Flaky tests (50)', 'Slowest tests', 'Against the baseline', 'All tests']
        >>> "http://" in page or "https://" in page  # nothing is fetched: it opens offline
        False
    """
    with open(path, "w", encoding="utf-8") as stream:
        stream.write(render_html(run, history=history, baseline=baseline, title=title))
