"""Quality gates for CI: may this build ship?

Each gate is a small check over the merged run (and a baseline when it needs one); ``Gates``
runs them all and collects a reason for every failure. The CLI maps the outcome to exit codes:
0 passed, 1 a gate failed (reasons printed), 2 bad input.

Examples:
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> outcome = Gates(min_pass_rate=95.0, max_flaky=0).evaluate(make_run(100, fail_every=10, flaky_every=7))
    >>> outcome.passed, outcome.reasons[0]
    (False, 'pass rate 90.00% is below the minimum 95.00% (90 passed, 10 failed)')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from maestro_test_result_aggregator.analysis import compare, percentile
from maestro_test_result_aggregator.model import Status, TestResult, TestRun

__all__ = ["GateCheck", "GateOutcome", "Gates", "Slowdown", "slowdowns"]


@dataclass(frozen=True, slots=True)
class GateCheck:
    """One gate's verdict."""

    name: str
    passed: bool
    detail: str


@dataclass(slots=True)
class GateOutcome:
    """Every gate's verdict; ``passed`` only when all passed."""

    checks: list[GateCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when no gate failed."""
        return all(check.passed for check in self.checks)

    @property
    def reasons(self) -> list[str]:
        """The details of the failed gates."""
        return [check.detail for check in self.checks if not check.passed]


def _executed_duration(run: TestRun, ids: set[str]) -> float:
    return sum(t.duration for t in run.tests if t.test_id in ids)


def _names(tests: Sequence[TestResult]) -> str:
    return ", ".join(t.name for t in tests[:5]) + (" ..." if len(tests) > 5 else "")


@dataclass(frozen=True, slots=True)
class Slowdown:
    """One test slower than its past: ``current`` seconds against the ``p95`` of ``samples``
    past durations (the baseline's one duration when there is no history).

    Examples:
        >>> from maestro_test_result_aggregator.gates import Slowdown
        >>> slow = Slowdown("test_export", 6.0, 1.0, 12)
        >>> f"{slow.name}: {slow.current:.1f}s, p95 {slow.p95:.1f}s over {slow.samples} runs ({slow.increase:+.0f}%)"
        'test_export: 6.0s, p95 1.0s over 12 runs (+500%)'
    """

    name: str
    current: float
    p95: float
    samples: int

    @property
    def increase(self) -> float:
        """How much slower, in percent of ``p95``."""
        return 100.0 * (self.current - self.p95) / self.p95 if self.p95 > 0 else float("inf")


def slowdowns(
    run: TestRun,
    past: Mapping[str, Sequence[float]],
    *,
    max_increase: float,
    min_seconds: float = 0.1,
    min_samples: int = 1,
) -> list[Slowdown]:
    """Tests of ``run`` (passed or failed) whose duration exceeds the p95 of their ``past``
    durations (by test id) by more than ``max_increase`` percent and by ``min_seconds`` at
    least (sub-second jitter is no regression); tests with fewer than ``min_samples`` past
    durations are left out. Worst first.

    Examples:
        One test of a hundred got 6x slower (the summed duration moved by 5%):

        >>> from maestro_test_result_aggregator.gates import slowdowns
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> run = make_run(100)
        >>> for test in run.tests:
        ...     test.duration = 1.0
        >>> past = {t.test_id: [1.0, 0.9, 1.1, 1.0] for t in run.tests}
        >>> run.tests[1].duration = 6.51
        >>> [(s.name, round(s.increase)) for s in slowdowns(run, past, max_increase=50)]
        [('test_1', 500)]
    """
    found = []
    for test in run.tests:
        if test.status is not Status.PASSED and test.status is not Status.FAILED:
            continue
        durations = past.get(test.test_id)
        if not durations or len(durations) < min_samples:
            continue
        p95 = percentile(durations, 95)
        if test.duration - p95 >= min_seconds and test.duration > p95 * (1.0 + max_increase / 100.0):
            found.append(Slowdown(test.name, test.duration, p95, len(durations)))
    found.sort(key=lambda s: -s.increase)
    return found


@dataclass(frozen=True, slots=True)
class Gates:
    """The gates to apply; ``None``/``False`` switches one off.

    Args:
        min_pass_rate: minimum passed / (passed + failed), in percent (0-100).
        max_flaky: maximum number of tests flaky within the run.
        no_new_failures: fail when a test fails now that did not fail in ``baseline``.
        max_duration_regression: maximum increase, in percent, of the summed duration of the
            tests present in both this run and ``baseline``.
        max_failures: maximum number of failed tests (0: none may fail).
        min_tests: minimum number of tests in the run (a shard that lost half its tests fails).
        max_test_slowdown: maximum increase, in percent, of any one test's duration over the p95
            of its past durations (``durations`` given to ``evaluate``, e.g. from the history
            store, else the baseline's), by 0.1 s at least (``slowdowns``).

    Raises:
        ValueError: a threshold outside its range, or a baseline gate without a baseline run
            (at ``evaluate``).

    Examples:
        The gates of a pull request's job, against the last build of main as the baseline:

        >>> from maestro_test_result_aggregator import Gates
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> main_build = make_run(100, fail_every=50)
        >>> this_build = make_run(100, fail_every=20, flaky_every=30)
        >>> gates = Gates(min_pass_rate=95, max_flaky=2, no_new_failures=True, max_duration_regression=10)
        >>> outcome = gates.evaluate(this_build, baseline=main_build)
        >>> outcome.passed
        False
        >>> for check in outcome.checks:
        ...     print("ok  " if check.passed else "FAIL", check.name, "-", check.detail)
        ok   min-pass-rate - pass rate 95.00% meets the minimum 95.00% (95 passed, 5 failed)
        ok   max-flaky - 2 flaky test(s), at most 2 allowed: test_29, test_89
        FAIL no-new-failures - 4 new failure(s) against the baseline: test_19, test_39, test_59, test_79
        ok   max-duration-regression - duration of 100 common tests changed +0.0% (4.76s -> 4.76s),
        at most +10.0% allowed

        In a CI script, exit non-zero with the reasons (as ``maestro-results gate`` does):

        >>> if not outcome.passed:
        ...     for reason in outcome.reasons:
        ...         print(reason)  # then sys.exit(1)
        4 new failure(s) against the baseline: test_19, test_39, test_59, test_79

        A baseline gate without a baseline is a mistake in the job, not a failed build:

        >>> try:
        ...     Gates(no_new_failures=True).evaluate(this_build)
        ... except ValueError as error:
        ...     print(error)
        --no-new-failures and --max-duration-regression need a baseline run
    """

    min_pass_rate: float | None = None
    max_flaky: int | None = None
    no_new_failures: bool = False
    max_duration_regression: float | None = None
    max_failures: int | None = None
    min_tests: int | None = None
    max_test_slowdown: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_failures", "min_tests", "max_test_slowdown"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.min_pass_rate is not None and not 0.0 <= self.min_pass_rate <= 100.0:
            raise ValueError(f"min_pass_rate is a percentage between 0 and 100, got {self.min_pass_rate!r}")
        if self.max_flaky is not None and self.max_flaky < 0:
            raise ValueError(f"max_flaky must be >= 0, got {self.max_flaky!r}")
        if self.max_duration_regression is not None and self.max_duration_regression < 0:
            raise ValueError(f"max_duration_regression is a percentage >= 0, got {self.max_duration_regression!r}")

    @property
    def needs_baseline(self) -> bool:
        """Whether a baseline run is required."""
        return self.no_new_failures or self.max_duration_regression is not None

    def evaluate(
        self,
        run: TestRun,
        baseline: TestRun | None = None,
        *,
        durations: Mapping[str, Sequence[float]] | None = None,
    ) -> GateOutcome:
        """Apply every configured gate to ``run``; ``durations`` are each test's past durations
        by test id (``HistoryStore.durations``) for ``max_test_slowdown``.

        Raises:
            ValueError: a gate needs a baseline (or, for ``max_test_slowdown``, past durations)
                that was not given.
        """
        if self.needs_baseline and baseline is None:
            raise ValueError("--no-new-failures and --max-duration-regression need a baseline run")
        if self.max_test_slowdown is not None and durations is None and baseline is None:
            raise ValueError("--max-test-slowdown needs past durations: a history store (--db) or a baseline run")
        outcome = GateOutcome()
        summary = run.summary()
        if self.min_tests is not None:
            outcome.checks.append(
                GateCheck(
                    "min-tests",
                    summary.tests >= self.min_tests,
                    f"{summary.tests} test(s) in the run, at least {self.min_tests} required",
                )
            )
        if self.max_failures is not None:
            failed = [t for t in run.tests if t.status is Status.FAILED]
            outcome.checks.append(
                GateCheck(
                    "max-failures",
                    len(failed) <= self.max_failures,
                    f"{len(failed)} failed test(s), at most {self.max_failures} allowed"
                    + (f": {_names(failed)}" if failed else ""),
                )
            )
        if self.min_pass_rate is not None:
            executed = summary.passed + summary.failed
            rate = 100.0 * summary.passed / executed if executed else 100.0
            ok = rate >= self.min_pass_rate
            relation = "meets" if ok else "is below"
            outcome.checks.append(
                GateCheck(
                    "min-pass-rate",
                    ok,
                    f"pass rate {rate:.2f}% {relation} the minimum {self.min_pass_rate:.2f}% "
                    f"({summary.passed} passed, {summary.failed} failed)",
                )
            )
        if self.max_flaky is not None:
            flaky = [t for t in run.tests if t.attempts and t.flaky]
            ok = len(flaky) <= self.max_flaky
            names = ", ".join(t.name for t in flaky[:5]) + (" ..." if len(flaky) > 5 else "")
            outcome.checks.append(
                GateCheck(
                    "max-flaky",
                    ok,
                    f"{len(flaky)} flaky test(s), at most {self.max_flaky} allowed" + (f": {names}" if flaky else ""),
                )
            )
        if baseline is not None and self.no_new_failures:
            new = compare(baseline, run).new_failures
            names = ", ".join(t.name for t in new[:5]) + (" ..." if len(new) > 5 else "")
            outcome.checks.append(
                GateCheck(
                    "no-new-failures",
                    not new,
                    f"{len(new)} new failure(s) against the baseline" + (f": {names}" if new else ""),
                )
            )
        if baseline is not None and self.max_duration_regression is not None:
            before = {t.test_id for t in baseline.tests if t.status in (Status.PASSED, Status.FAILED)}
            common = {t.test_id for t in run.tests if t.status in (Status.PASSED, Status.FAILED)} & before
            old = _executed_duration(baseline, common)
            new_total = _executed_duration(run, common)
            change = 100.0 * (new_total - old) / old if old > 0 else 0.0
            ok = change <= self.max_duration_regression
            outcome.checks.append(
                GateCheck(
                    "max-duration-regression",
                    ok,
                    f"duration of {len(common)} common tests changed {change:+.1f}% ({old:.2f}s -> {new_total:.2f}s), "
                    f"at most +{self.max_duration_regression:.1f}% allowed",
                )
            )
        if self.max_test_slowdown is not None:
            outcome.checks.append(self._slowdown_check(run, baseline, durations))
        return outcome

    def _slowdown_check(
        self, run: TestRun, baseline: TestRun | None, durations: Mapping[str, Sequence[float]] | None
    ) -> GateCheck:
        assert self.max_test_slowdown is not None  # noqa: S101 - only called when set
        if durations is not None:
            past, source, samples = durations, "history", 3
        else:
            assert baseline is not None  # noqa: S101 - evaluate checked one is given
            past, source, samples = {t.test_id: [t.duration] for t in baseline.tests}, "baseline", 1
        slow = slowdowns(run, past, max_increase=self.max_test_slowdown, min_samples=samples)
        listed = ", ".join(f"{s.name} {s.current:.2f}s vs p95 {s.p95:.2f}s ({s.increase:+.0f}%)" for s in slow[:5])
        return GateCheck(
            "max-test-slowdown",
            not slow,
            f"{len(slow)} test(s) slower than their {source} p95 by more than {self.max_test_slowdown:.1f}%"
            + (f": {listed}" + (" ..." if len(slow) > 5 else "") if slow else ""),
        )
