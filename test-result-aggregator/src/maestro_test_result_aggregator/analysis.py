"""What a run means: flakiness (three signals kept apart), new failures and fixes against a
baseline, slowest tests, duration regressions and failure clusters.

Flakiness signals (never mixed, each verdict says which one fired):

- ``within-run``: the test failed, then passed on a retry in the same run (CTRF, Playwright).
- ``same-commit``: across runs of one commit, the test both passed and failed (Trunk, Buildkite).
- ``history``: over its last N runs, the pass/fail flip rate reached a threshold
  (ReportPortal's switch count). A test failing in every one of its last runs is **broken**,
  never flaky.

Examples:
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> [v.signal for v in flaky_within_run(make_run(20, flaky_every=10))]
    ['within-run', 'within-run']
"""

from __future__ import annotations

import enum
import hashlib
import heapq
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Final, Protocol

from maestro_test_result_aggregator.model import Status, TestResult, TestRun

__all__ = [
    "Classification",
    "Cluster",
    "Comparison",
    "DurationRegression",
    "FlakyVerdict",
    "classify_history",
    "cluster_failures",
    "compare",
    "ctrf_insights",
    "duration_regressions",
    "fingerprint",
    "flaky_across_runs",
    "flaky_over_history",
    "flaky_within_run",
    "percentile",
    "slowest",
]

_OUTCOMES: Final = (Status.PASSED, Status.FAILED)
_DURATION: Final = attrgetter("duration")


def _describe(result: TestResult) -> str:
    name = "::".join(p for p in (result.file, result.classname) if p)
    name = f"{name}::{result.name}" if name else result.name
    if result.parameters:
        name += "[" + ", ".join(f"{k}={v}" for k, v in sorted(result.parameters.items())) + "]"
    return name


@dataclass(frozen=True, slots=True)
class FlakyVerdict:
    """One test found flaky by one signal, with the evidence and the parameters it ran with.

    Examples:
        Printed, a verdict is one line fit for a CI log; its fields are there for a bot or a
        ticket:

        >>> from maestro_test_result_aggregator import Attempt, Status, TestResult, TestRun, Tool, flaky_within_run
        >>> retried = TestResult(
        ...     "test_checkout",
        ...     Status.PASSED,
        ...     file="tests/e2e/test_cart.py",
        ...     parameters={"browser": "webkit"},
        ...     attempts=(Attempt(Status.FAILED, message="TimeoutError"), Attempt(Status.PASSED)),
        ... )
        >>> (verdict,) = flaky_within_run(TestRun(Tool("pytest"), [retried]))
        >>> print(verdict)
        FLAKY [within-run] tests/e2e/test_cart.py::test_checkout[browser=webkit]: passed after 1 failed attempt(s) of 2
        >>> verdict.signal, verdict.test_id == retried.test_id, dict(verdict.parameters)
        ('within-run', True, {'browser': 'webkit'})
    """

    test_id: str
    name: str
    parameters: Mapping[str, str]
    signal: str
    """``"within-run"``, ``"same-commit"`` or ``"history"``."""
    evidence: str
    flip_rate: float | None = None

    def __str__(self) -> str:
        params = ", ".join(f"{k}={v}" for k, v in sorted(self.parameters.items()))
        # The name usually shows them already (``test_x[browser=webkit]``): never twice.
        shown = f"{self.name} ({params})" if params and not self.name.endswith(f"[{params}]") else self.name
        return f"FLAKY [{self.signal}] {shown}: {self.evidence}"


def flaky_within_run(run: TestRun) -> list[FlakyVerdict]:
    """Tests that failed, then passed on a retry, inside ``run``.

    Examples:
        >>> from maestro_test_result_aggregator import flaky_within_run
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> run = make_run(20, flaky_every=10)  # in a real job: read_report("playwright-report.json")
        >>> for verdict in flaky_within_run(run):
        ...     print(verdict)
        FLAKY [within-run] tests/test_module_9.py::tests.test_module_9::test_9: passed after 1 failed attempt(s) of 2
        FLAKY [within-run] tests/test_module_9.py::tests.test_module_9::test_19: passed after 1 failed attempt(s) of 2
    """
    verdicts = []
    for result in run.tests:
        if result.attempts and result.flaky:
            failed = sum(1 for a in result.attempts if a.status is Status.FAILED)
            verdicts.append(
                FlakyVerdict(
                    result.test_id,
                    _describe(result),
                    result.parameters,
                    "within-run",
                    f"passed after {failed} failed attempt(s) of {len(result.attempts)}",
                )
            )
    return verdicts


def flaky_across_runs(runs: Iterable[TestRun]) -> list[FlakyVerdict]:
    """Tests that both passed and failed (final outcome) in runs of the same commit. Runs
    without a commit are ignored; a test already flaky within a run still counts here only if
    the final outcomes differ.

    Examples:
        The nightly run passed; a rerun of the same commit failed ``test_2``, so it is flaky:

        >>> from maestro_test_result_aggregator import flaky_across_runs
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> nightly = make_run(5, commit="9f1c2e4")
        >>> rerun = make_run(5, fail_every=3, commit="9f1c2e4", start=1_700_003_600.0)
        >>> for verdict in flaky_across_runs([nightly, rerun]):
        ...     print(verdict)
        FLAKY [same-commit] tests/test_module_2.py::tests.test_module_2::test_2: on commit 9f1c2e4: passed 1x, failed 1x
    """
    outcomes: dict[tuple[str, str], dict[Status, int]] = defaultdict(lambda: dict.fromkeys(_OUTCOMES, 0))
    examples: dict[str, TestResult] = {}
    for run in runs:
        commit = run.environment.commit
        if commit is None:
            continue
        for result in run.tests:
            if result.status in _OUTCOMES:
                test_id = result.test_id
                outcomes[(commit, test_id)][result.status] += 1
                examples.setdefault(test_id, result)
    verdicts = []
    for (commit, test_id), counts in outcomes.items():
        if counts[Status.PASSED] and counts[Status.FAILED]:
            example = examples[test_id]
            verdicts.append(
                FlakyVerdict(
                    test_id,
                    _describe(example),
                    example.parameters,
                    "same-commit",
                    f"on commit {commit[:12]}: passed {counts[Status.PASSED]}x, failed {counts[Status.FAILED]}x",
                )
            )
    return verdicts


class Classification(enum.StrEnum):
    """A test's behaviour over its recent history.

    Examples:
        ``classify_history`` gives one per test (with its flip rate); a test failing in each of its
        last runs is broken, not flaky:

        >>> from maestro_test_result_aggregator import Classification, Status
        >>> from maestro_test_result_aggregator.analysis import classify_history
        >>> P, F = Status.PASSED, Status.FAILED
        >>> classify_history([P, F, P, P, F, P, F, P])[0] is Classification.FLAKY
        True
        >>> [classify_history(history)[0].value for history in ([P] * 8, [P] * 5 + [F] * 3, [P])]
        ['stable', 'broken', 'unknown']
    """

    STABLE = "stable"
    FLAKY = "flaky"
    BROKEN = "broken"
    UNKNOWN = "unknown"


def classify_history(
    statuses: Sequence[Status], *, window: int = 20, threshold: float = 0.2, broken_after: int = 3
) -> tuple[Classification, float]:
    """Classify one test from its statuses, oldest first. Only passed/failed count; the last
    ``window`` of them are used. Returns the class and the flip rate (flips / (n - 1)).

    - broken: its last ``broken_after`` outcomes all failed (it fails consistently now);
    - flaky: flip rate >= ``threshold`` (and it both passed and failed);
    - stable otherwise; unknown with fewer than two outcomes.
    """
    outcomes = [s for s in statuses if s in _OUTCOMES][-window:]
    if len(outcomes) < 2:
        return Classification.UNKNOWN, 0.0
    flips = sum(1 for a, b in itertools.pairwise(outcomes) if a is not b)
    rate = flips / (len(outcomes) - 1)
    tail = outcomes[-broken_after:]
    if len(tail) == broken_after and all(s is Status.FAILED for s in tail):
        return Classification.BROKEN, rate
    if rate >= threshold and Status.PASSED in outcomes and Status.FAILED in outcomes:
        return Classification.FLAKY, rate
    return Classification.STABLE, rate


def flaky_over_history(
    history: Mapping[str, Sequence[Status]],
    *,
    names: Mapping[str, TestResult] | None = None,
    window: int = 20,
    threshold: float = 0.2,
    broken_after: int = 3,
) -> list[FlakyVerdict]:
    """Tests whose flip rate over their last ``window`` runs reached ``threshold``
    (``history`` maps test ids to statuses, oldest first; ``names`` gives display names).

    Examples:
        Over the nightly runs kept in a history store (``HistoryStore.flaky`` does the same in
        one call), ``test_3`` and ``test_7`` failed every other night:

        >>> from maestro_test_result_aggregator import HistoryStore, flaky_over_history
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> with HistoryStore.open(":memory:") as store:
        ...     for night in range(6):
        ...         run = make_run(8, fail_every=4 if night % 2 else 0, start=1_700_000_000.0 + 86_400 * night)
        ...         _ = store.add_run(run)
        ...     verdicts = flaky_over_history(store.statuses(last=20), names=store.names())
        >>> for verdict in verdicts:
        ...     print(verdict)
        FLAKY [history] tests/test_module_3.py::tests.test_module_3::test_3:
        flip rate 100% over the last 6 runs (threshold 20%)
        FLAKY [history] tests/test_module_7.py::tests.test_module_7::test_7:
        flip rate 100% over the last 6 runs (threshold 20%)

        Any mapping of test ids to statuses works; a test that now fails every time is broken,
        not flaky, and is not listed:

        >>> from maestro_test_result_aggregator import Status
        >>> P, F = Status.PASSED, Status.FAILED
        >>> history = {"login": [P, F, P, P, F, P, F, P], "export": [P, P, P, P, P, F, F, F]}
        >>> [(v.test_id, round(v.flip_rate, 2)) for v in flaky_over_history(history)]
        [('login', 0.86)]
    """
    verdicts = []
    for test_id, statuses in history.items():
        verdict, rate = classify_history(statuses, window=window, threshold=threshold, broken_after=broken_after)
        if verdict is Classification.FLAKY:
            example = names.get(test_id) if names else None
            verdicts.append(
                FlakyVerdict(
                    test_id,
                    _describe(example) if example else test_id,
                    example.parameters if example else {},
                    "history",
                    f"flip rate {rate:.0%} over the last {min(window, len(statuses))} runs (threshold {threshold:.0%})",
                    flip_rate=rate,
                )
            )
    verdicts.sort(key=lambda v: -(v.flip_rate or 0.0))
    return verdicts


@dataclass(slots=True)
class Comparison:
    """The current run against a baseline: what broke, what got fixed, what is still failing.

    Examples:
        >>> from maestro_test_result_aggregator import compare
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> main_branch, pull_request = make_run(6, fail_every=3), make_run(6, fail_every=2)
        >>> diff = compare(main_branch, pull_request)
        >>> for label, tests in [("new", diff.new_failures), ("fixed", diff.fixed), ("still", diff.still_failing)]:
        ...     print(label, [t.name for t in tests])
        new ['test_1', 'test_3']
        fixed ['test_2']
        still ['test_5']
        >>> diff.added, diff.removed
        ([], [])
    """

    new_failures: list[TestResult] = field(default_factory=list)
    fixed: list[TestResult] = field(default_factory=list)
    still_failing: list[TestResult] = field(default_factory=list)
    added: list[TestResult] = field(default_factory=list)
    removed: list[TestResult] = field(default_factory=list)


def compare(baseline: TestRun, current: TestRun) -> Comparison:
    """New failures (failed now, not failed in the baseline, including new tests that fail),
    fixed tests (failed in the baseline, passed now), still failing, added and removed tests.

    Examples:
        Fail a pull request's job only on failures it introduced, not on those already on main:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import compare, read_report, write_junit
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> write_junit(make_run(50, fail_every=25), folder / "main.xml")  # saved by the last main build
        >>> write_junit(make_run(50, fail_every=10), folder / "pr.xml")
        >>> diff = compare(read_report(folder / "main.xml"), read_report(folder / "pr.xml"))
        >>> [t.name for t in diff.new_failures], len(diff.still_failing)
        (['test_9', 'test_19', 'test_29', 'test_39'], 1)
    """
    before = {t.test_id: t for t in baseline.tests}
    result = Comparison()
    seen = set()
    for test in current.tests:
        test_id = test.test_id
        seen.add(test_id)
        old = before.get(test_id)
        if old is None:
            result.added.append(test)
        if test.status is Status.FAILED:
            if old is not None and old.status is Status.FAILED:
                result.still_failing.append(test)
            else:
                result.new_failures.append(test)
        elif test.status is Status.PASSED and old is not None and old.status is Status.FAILED:
            result.fixed.append(test)
    result.removed = [t for test_id, t in before.items() if test_id not in seen]
    return result


def slowest(run: TestRun, count: int = 10) -> list[TestResult]:
    """The ``count`` slowest results, slowest first."""
    return heapq.nlargest(count, run.tests, key=_DURATION)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class DurationRegression:
    """A test slower now than its history: ``ratio`` = current / history p50."""

    test_id: str
    name: str
    current: float
    p50: float
    p95: float
    ratio: float


def duration_regressions(
    current: TestRun,
    history: Mapping[str, Sequence[float]],
    *,
    max_ratio: float = 1.5,
    min_seconds: float = 0.1,
    min_samples: int = 3,
) -> list[DurationRegression]:
    """Tests whose duration now exceeds ``max_ratio`` x their historical p50 and their p95, by
    at least ``min_seconds``; tests with fewer than ``min_samples`` past durations are skipped.
    Worst first."""
    found = []
    for test in current.tests:
        if test.status is not Status.PASSED and test.status is not Status.FAILED:
            continue
        past = history.get(test.test_id)
        if not past or len(past) < min_samples:
            continue
        p50 = percentile(past, 50)
        p95 = percentile(past, 95)
        if test.duration > p95 and test.duration - p50 >= min_seconds and test.duration > max_ratio * p50:
            ratio = test.duration / p50 if p50 > 0 else math.inf
            found.append(DurationRegression(test.test_id, _describe(test), test.duration, p50, p95, ratio))
    found.sort(key=lambda r: -r.ratio)
    return found


# ----------------------------------------------------------------------------- clustering

_ANSI: Final = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
"""An ANSI escape sequence (CSI: colours, bold, cursor moves), as Playwright and jest write them."""


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences (colour codes show as junk in HTML and Markdown).

    Examples:
        >>> strip_ansi("expected \x1b[32m3\x1b[39m, got \x1b[31m2\x1b[39m")
        'expected 3, got 2'
    """
    return _ANSI.sub("", text) if "\x1b" in text else text


_NORMALISERS: Final = (
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<TS>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"), "<UUID>"),
    (re.compile(r"(?:/tmp|/var/folders|/private/var|[A-Za-z]:\\[^\s]*\\Temp)[^\s'\"]*"), "<TMP>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<HEX>"),
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"), "<HEX>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<N>"),
)


def fingerprint(message: str | None) -> str:
    """The normalised first line of a failure message: timestamps, UUIDs, temp paths, hex ids and
    numbers replaced by placeholders, so one cause gives one fingerprint."""
    if not message:
        return "(no message)"
    line = strip_ansi(message).strip().split("\n", 1)[0][:500]
    for pattern, placeholder in _NORMALISERS:
        line = pattern.sub(placeholder, line)
    return " ".join(line.split())


@dataclass(slots=True)
class Cluster:
    """Failures sharing one fingerprint.

    Examples:
        >>> from maestro_test_result_aggregator import Status, TestRun, Tool, cluster_failures
        >>> from maestro_test_result_aggregator.testing import make_result
        >>> failures = [
        ...     make_result(i, status=Status.FAILED, message=f"ConnectionError: db-{i} refused on port {5430 + i}")
        ...     for i in range(3)
        ... ]
        >>> (cluster,) = cluster_failures(TestRun(Tool("pytest"), failures))
        >>> cluster.fingerprint, len(cluster.tests)
        ('ConnectionError: db-<N> refused on port <N>', 3)
        >>> cluster.example, cluster.id
        ('ConnectionError: db-0 refused on port 5430', 'edd8bb50')
    """

    fingerprint: str
    tests: list[TestResult] = field(default_factory=list)

    @property
    def id(self) -> str:
        """A short stable id of the fingerprint (for links and history)."""
        return hashlib.blake2b(self.fingerprint.encode(), digest_size=4).hexdigest()

    @property
    def example(self) -> str:
        """The first member's message (or trace's first line)."""
        first = self.tests[0]
        return strip_ansi(first.message or (first.trace or "").strip().split("\n", 1)[0])


def cluster_failures(run: TestRun) -> list[Cluster]:
    """Group the failed results by message fingerprint, largest cluster first.

    Examples:
        Three hundred failures from one database outage are one cause to look at, not three
        hundred:

        >>> from maestro_test_result_aggregator import Status, TestRun, Tool, cluster_failures
        >>> from maestro_test_result_aggregator.testing import make_result
        >>> tests = [
        ...     make_result(i, status=Status.FAILED, message=f"ConnectionError: db-{i % 3} refused on port {5430 + i}")
        ...     for i in range(300)
        ... ]
        >>> tests.append(make_result(300, status=Status.FAILED, message="KeyError: 'user'"))
        >>> for cluster in cluster_failures(TestRun(Tool("pytest"), tests)):
        ...     print(len(cluster.tests), cluster.fingerprint)
        300 ConnectionError: db-<N> refused on port <N>
        1 KeyError: 'user'
    """
    clusters: dict[str, Cluster] = {}
    for test in run.tests:
        if test.status is not Status.FAILED:
            continue
        text = test.message or (test.trace or "").strip().split("\n", 1)[0] or None
        key = fingerprint(text)
        cluster = clusters.get(key)
        if cluster is None:
            cluster = clusters[key] = Cluster(key)
        cluster.tests.append(test)
    return sorted(clusters.values(), key=lambda c: -len(c.tests))


# ----------------------------------------------------------------------------- CTRF insights


def _delta(current: float, baseline: float | None) -> dict[str, float]:
    record = {"current": current}
    if baseline is not None:
        record["baseline"] = baseline
        record["change"] = current - baseline
    return record


class _Counts(Protocol):
    """What insights need from a past run: ``Summary`` and ``history.RunRecord`` both fit."""

    @property
    def tests(self) -> int: ...

    @property
    def passed(self) -> int: ...

    @property
    def failed(self) -> int: ...

    @property
    def flaky(self) -> int: ...

    @property
    def duration(self) -> float: ...


def _rates(counts: _Counts) -> tuple[float, float, float, float, float]:
    executed = counts.passed + counts.failed
    return (
        counts.passed / executed if executed else 0.0,
        counts.failed / executed if executed else 0.0,
        counts.flaky / counts.tests if counts.tests else 0.0,
        counts.duration * 1000 / counts.tests if counts.tests else 0.0,
        counts.duration * 1000,
    )


def ctrf_insights(current: TestRun, history: Sequence[TestRun | _Counts] = ()) -> dict[str, Any]:
    """The CTRF top-level ``insights`` object for ``current``, with baselines averaged over
    ``history`` (earlier runs, or their ``Summary``/``RunRecord`` rows) when given. Durations in
    milliseconds (run duration = summed test time), rates in 0..1."""
    now = _rates(current.summary())
    past = [_rates(run.summary() if isinstance(run, TestRun) else run) for run in history]

    def baseline(index: int) -> float | None:
        return sum(p[index] for p in past) / len(past) if past else None

    return {
        "passRate": _delta(now[0], baseline(0)),
        "failRate": _delta(now[1], baseline(1)),
        "flakyRate": _delta(now[2], baseline(2)),
        "averageTestDuration": _delta(now[3], baseline(3)),
        "averageRunDuration": _delta(now[4], baseline(4)),
        "runsAnalyzed": len(history) + 1,
        "extra": {"p95TestDuration": percentile([t.duration * 1000 for t in current.tests], 95)},
    }
