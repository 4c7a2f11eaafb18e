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

from dataclasses import dataclass, field

from maestro_test_result_aggregator.analysis import compare
from maestro_test_result_aggregator.model import Status, TestRun

__all__ = ["GateCheck", "GateOutcome", "Gates"]


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


@dataclass(frozen=True, slots=True)
class Gates:
    """The gates to apply; ``None``/``False`` switches one off.

    Args:
        min_pass_rate: minimum passed / (passed + failed), in percent (0-100).
        max_flaky: maximum number of tests flaky within the run.
        no_new_failures: fail when a test fails now that did not fail in ``baseline``.
        max_duration_regression: maximum increase, in percent, of the summed duration of the
            tests present in both this run and ``baseline``.

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

    def __post_init__(self) -> None:
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

    def evaluate(self, run: TestRun, baseline: TestRun | None = None) -> GateOutcome:
        """Apply every configured gate to ``run``."""
        if self.needs_baseline and baseline is None:
            raise ValueError("--no-new-failures and --max-duration-regression need a baseline run")
        outcome = GateOutcome()
        summary = run.summary()
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
        return outcome
