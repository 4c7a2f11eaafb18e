"""One test-result model, every common report format in and out (JUnit XML, CTRF, pytest,
Playwright), shard merge, flaky detection, history, quality gates and reports.

The model and errors are imported with the package; everything else (formats, merge, history,
reports, HTML, the pandas export) loads on first use, so a tool that only writes results (the
pytest plugin) does not pay for every reader.

Examples:
    >>> import maestro_test_result_aggregator as mra
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> merged = mra.merge_runs([make_run(10, offset=0), make_run(10, offset=10, fail_every=5)])
    >>> mra.Gates(min_pass_rate=95).evaluate(merged).passed
    False
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from maestro_test_result_aggregator.__about__ import __version__
from maestro_test_result_aggregator._lazy import lazy_attributes
from maestro_test_result_aggregator.errors import (
    AggregatorError,
    ReportParseError,
    SchemaValidationError,
    UnknownFormatError,
    UnsafeInputError,
)
from maestro_test_result_aggregator.model import (
    Attachment,
    Attempt,
    Environment,
    Status,
    Summary,
    TestResult,
    TestRun,
    Tool,
)

if TYPE_CHECKING:
    from maestro_test_result_aggregator.analysis import (
        Classification,
        Cluster,
        Comparison,
        FlakyVerdict,
        cluster_failures,
        compare,
        flaky_across_runs,
        flaky_over_history,
        flaky_within_run,
    )
    from maestro_test_result_aggregator.dataframe import to_pandas
    from maestro_test_result_aggregator.formats import (
        ingest,
        read_report,
        validate_ctrf,
        write_ctrf,
        write_jsonl,
        write_junit,
    )
    from maestro_test_result_aggregator.gates import Gates
    from maestro_test_result_aggregator.history import HistoryStore
    from maestro_test_result_aggregator.html import write_html
    from maestro_test_result_aggregator.merge import Merger, collapse_repeats, merge_runs
    from maestro_test_result_aggregator.reports import render_markdown, report_data

__all__ = [
    "AggregatorError",
    "Attachment",
    "Attempt",
    "Classification",
    "Cluster",
    "Comparison",
    "Environment",
    "FlakyVerdict",
    "Gates",
    "HistoryStore",
    "Merger",
    "ReportParseError",
    "SchemaValidationError",
    "Status",
    "Summary",
    "TestResult",
    "TestRun",
    "Tool",
    "UnknownFormatError",
    "UnsafeInputError",
    "__version__",
    "cluster_failures",
    "collapse_repeats",
    "compare",
    "flaky_across_runs",
    "flaky_over_history",
    "flaky_within_run",
    "ingest",
    "merge_runs",
    "read_report",
    "render_markdown",
    "report_data",
    "to_pandas",
    "validate_ctrf",
    "write_ctrf",
    "write_html",
    "write_jsonl",
    "write_junit",
]

_LAZY: Final = {
    "Classification": "analysis",
    "Cluster": "analysis",
    "Comparison": "analysis",
    "FlakyVerdict": "analysis",
    "cluster_failures": "analysis",
    "compare": "analysis",
    "flaky_across_runs": "analysis",
    "flaky_over_history": "analysis",
    "flaky_within_run": "analysis",
    "Gates": "gates",
    "HistoryStore": "history",
    "render_markdown": "reports",
    "report_data": "reports",
    "to_pandas": "dataframe",
    "write_html": "html",
    "ingest": "formats",
    "read_report": "formats",
    "validate_ctrf": "formats",
    "write_ctrf": "formats",
    "write_jsonl": "formats",
    "write_junit": "formats",
    "Merger": "merge",
    "collapse_repeats": "merge",
    "merge_runs": "merge",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())
