"""The test-result model every reader produces and every writer consumes.

Shared with maestro-test-adapters, which builds these objects while tests run. The classes are
plain slotted dataclasses: building hundreds of thousands of them costs no validation in the hot
path (readers validate their input at the edge, where they can name the file and line).

Times are seconds: ``duration`` as a float, ``start``/``stop`` as Unix epoch seconds. Writers
convert to each format's unit (CTRF wants integer milliseconds).

Retries: ``TestResult.attempts`` is empty when a test ran once. When it ran more than once it
holds EVERY attempt in order, the last one being the final outcome, so nothing a retry saw is
lost. A result is flaky when it passed in the end after at least one failed attempt.

Examples:
    >>> from maestro_test_result_aggregator.model import Attempt, Status, TestResult
    >>> result = TestResult(
    ...     name="test_login",
    ...     status=Status.PASSED,
    ...     file="tests/test_auth.py",
    ...     attempts=(Attempt(Status.FAILED, message="timeout"), Attempt(Status.PASSED)),
    ... )
    >>> result.flaky, result.retries
    (True, 1)
"""

from __future__ import annotations

import enum
import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Final

__all__ = [
    "DEFAULT_OUTPUT_LIMIT",
    "EMPTY",
    "Attachment",
    "Attempt",
    "Environment",
    "Status",
    "Summary",
    "TestResult",
    "TestRun",
    "Tool",
    "bound_field",
    "bound_text",
    "make_test_id",
]


class _EmptyMapping(Mapping[str, Any]):
    """An immutable, hashable empty mapping: a safe shared default for dataclass fields."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


EMPTY: Final[Mapping[str, Any]] = _EmptyMapping()
"""The shared empty mapping used as the default for ``parameters`` and ``extra``."""

DEFAULT_OUTPUT_LIMIT: Final = 64 * 1024
"""The one size limit of every reader, in characters: each message, trace, stdout and stderr is
cut to it by ``bound_text`` (head and tail), every other string (name, class, suite, file,
property, tag, attachment...) by ``bound_field`` (prefix and hash)."""


class Status(enum.StrEnum):
    """A test's normalised outcome: the five CTRF statuses. The tool's own word is kept in
    ``raw_status`` (``error``, ``xfail``, ``timedOut``...).

    Examples:
        A JUnit ``<error>`` counts as failed; the tool's word stays in ``raw_status``:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import Status, read_report
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "junit.xml"
        >>> _ = path.write_text(
        ...     '<testsuite name="api"><testcase name="test_ok"/>'
        ...     '<testcase name="test_db"><error message="ConnectionRefused"/></testcase>'
        ...     '<testcase name="test_new"><skipped/></testcase></testsuite>'
        ... )
        >>> [(t.name, t.status.value, t.raw_status) for t in read_report(path).tests]
        [('test_ok', 'passed', None), ('test_db', 'failed', 'error'), ('test_new', 'skipped', 'skipped')]

        A status is a string enum, so it compares with (and is built from) the plain word:

        >>> [t.name for t in read_report(path).tests if t.status is Status.FAILED]
        ['test_db']
        >>> Status("skipped") is Status.SKIPPED, Status.FAILED == "failed"
        (True, True)
    """

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    PENDING = "pending"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file produced for a test (screenshot, trace, log): a path or URL, never the bytes.

    Examples:
        >>> from maestro_test_result_aggregator import Attachment, Status, TestResult
        >>> screenshot = Attachment("screenshot", "image/png", "test-results/checkout-failed.png")
        >>> result = TestResult("test_checkout", Status.FAILED, attachments=(screenshot,))
        >>> [(a.name, a.path) for a in result.attachments if a.content_type.startswith("image/")]
        [('screenshot', 'test-results/checkout-failed.png')]
    """

    name: str
    content_type: str
    path: str


@dataclass(frozen=True, slots=True)
class Attempt:
    """One execution of a test. ``duration`` in seconds, ``start`` in epoch seconds.

    Examples:
        A test that timed out, then passed on its retry: the final attempt gives the result its
        outcome (``Attempt.outcome``), every attempt stays in ``attempts``:

        >>> from maestro_test_result_aggregator import Attempt, Status, TestResult
        >>> attempts = (
        ...     Attempt(Status.FAILED, 30.0, message="TimeoutError: page.click", start=1_700_000_000.0),
        ...     Attempt(Status.PASSED, 4.2, start=1_700_000_031.0),
        ... )
        >>> result = TestResult("test_checkout", **attempts[-1].outcome(), attempts=attempts)
        >>> result.status.value, result.duration, result.flaky, result.retries
        ('passed', 4.2, True, 1)
        >>> [a.message for a in result.attempts if a.status is Status.FAILED]
        ['TimeoutError: page.click']
    """

    status: Status
    duration: float = 0.0
    raw_status: str | None = None
    message: str | None = None
    trace: str | None = None
    start: float | None = None
    stdout: str | None = None
    stderr: str | None = None
    attachments: tuple[Attachment, ...] = ()

    def outcome(self) -> dict[str, Any]:
        """This attempt's fields by name: the outcome a `TestResult` takes from its final
        attempt, as in ``TestResult(name, **final.outcome(), attempts=tuple(attempts))``."""
        return {name: getattr(self, name) for name in _ATTEMPT_FIELDS}


_ATTEMPT_FIELDS: Final = tuple(Attempt.__dataclass_fields__)


def make_test_id(
    suite: Iterable[str],
    file: str | None,
    classname: str | None,
    name: str,
    parameters: Mapping[str, str],
) -> str:
    """The deterministic id of a test: a 32-hex-digit digest of its suite path, file, class,
    name and parameters (sorted), so shards and reruns of the same test share it."""
    parts = ["\x1e".join(suite), file or "", classname or "", name]
    if parameters:
        parts.extend(f"{key}={parameters[key]}" for key in sorted(parameters))
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


@dataclass(slots=True)
class TestResult:
    """The outcome of one test in a run, with every attempt kept.

    ``status`` is the final outcome; ``message``/``trace`` describe the final failure (earlier
    failures live in ``attempts``). ``parameters`` maps parameter names to their printed values.

    Examples:
        >>> from maestro_test_result_aggregator import Status, TestResult
        >>> result = TestResult(
        ...     "test_checkout",
        ...     Status.FAILED,
        ...     duration=2.5,
        ...     suite=("e2e", "cart"),
        ...     file="tests/e2e/test_cart.py",
        ...     parameters={"browser": "firefox"},
        ...     message="AssertionError: total is 0.00",
        ... )
        >>> result.status.value, result.flaky, result.retries
        ('failed', False, 0)

        ``test_id`` is derived from the suite path, file, class, name and parameters, so the same
        test in another shard or a rerun has the same id (that is how merges and history match
        tests), and another parameter makes another test:

        >>> again = TestResult(
        ...     "test_checkout",
        ...     Status.PASSED,
        ...     suite=("e2e", "cart"),
        ...     file="tests/e2e/test_cart.py",
        ...     parameters={"browser": "firefox"},
        ... )
        >>> chromium = TestResult(
        ...     "test_checkout",
        ...     Status.PASSED,
        ...     suite=("e2e", "cart"),
        ...     file="tests/e2e/test_cart.py",
        ...     parameters={"browser": "chromium"},
        ... )
        >>> again.test_id == result.test_id, chromium.test_id == result.test_id
        (True, False)
    """

    __test__ = False  # not a pytest test class

    name: str
    status: Status
    duration: float = 0.0
    suite: tuple[str, ...] = ()
    file: str | None = None
    classname: str | None = None
    line: int | None = None
    parameters: Mapping[str, str] = EMPTY
    raw_status: str | None = None
    message: str | None = None
    trace: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    tags: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    start: float | None = None
    extra: Mapping[str, object] = EMPTY

    @property
    def test_id(self) -> str:
        """Deterministic id from suite path, file, class, name and parameters (``make_test_id``)."""
        return make_test_id(self.suite, self.file, self.classname, self.name, self.parameters)

    @property
    def flaky(self) -> bool:
        """Passed in the end after at least one failed attempt."""
        return self.status is Status.PASSED and any(a.status is Status.FAILED for a in self.attempts)

    @property
    def retries(self) -> int:
        """How many times the test was run again after its first attempt."""
        return max(len(self.attempts) - 1, 0)

    def as_attempt(self) -> Attempt:
        """This result's own outcome as one ``Attempt`` (status, duration, messages, output,
        start and attachments): the single execution a result without ``attempts`` describes,
        and the final attempt of one with them. The inverse of ``Attempt.outcome``.

        Examples:
            >>> from maestro_test_result_aggregator import Status, TestResult
            >>> once = TestResult("test_login", Status.FAILED, 1.5, message="401 Unauthorized")
            >>> once.as_attempt()
            Attempt(status=<Status.FAILED: 'failed'>, duration=1.5, raw_status=None, message='401 Unauthorized', \
trace=None, start=None, stdout=None, stderr=None, attachments=())
            >>> TestResult("test_login", **once.as_attempt().outcome()) == once
            True
        """
        return Attempt(
            self.status,
            duration=self.duration,
            raw_status=self.raw_status,
            message=self.message,
            trace=self.trace,
            start=self.start,
            stdout=self.stdout,
            stderr=self.stderr,
            attachments=self.attachments,
        )

    def every_attempt(self) -> tuple[Attempt, ...]:
        """Every execution of the test in order: ``attempts``, or the result itself as its one
        attempt when it ran once (what a merge or a fold concatenates).

        Examples:
            >>> from maestro_test_result_aggregator import Attempt, Status, TestResult
            >>> [a.status.value for a in TestResult("test_a", Status.PASSED).every_attempt()]
            ['passed']
            >>> retried = TestResult("test_b", Status.PASSED, attempts=(Attempt(Status.FAILED), Attempt(Status.PASSED)))
            >>> [a.status.value for a in retried.every_attempt()]
            ['failed', 'passed']
        """
        return self.attempts or (self.as_attempt(),)


@dataclass(frozen=True, slots=True)
class Tool:
    """The tool that produced the results (``pytest``, ``playwright``, ``jest``...).

    Examples:
        >>> from maestro_test_result_aggregator import TestRun, Tool
        >>> run = TestRun(Tool("playwright", "1.48.2"))
        >>> run.tool.name, run.tool.version
        ('playwright', '1.48.2')

        Readers fill it from the report when it says (JUnit does not name its tool):

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import read_report
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "junit.xml"
        >>> _ = path.write_text('<testsuite name="unit"><testcase name="test_a"/></testsuite>')
        >>> read_report(path).tool
        Tool(name='junit', version=None)
    """

    name: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Environment:
    """Where the run happened: the commit, branch, CI build and shard, plus free-form extras.

    Examples:
        Set it on each shard's run; merging keeps what every shard agrees on and drops the shard:

        >>> from maestro_test_result_aggregator import Environment, merge_runs
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> shards = []
        >>> for number in (1, 2):
        ...     run = make_run(5, offset=5 * number)
        ...     run.environment = Environment(
        ...         commit="9f1c2e4", branch="main", build_url="https://ci.example/build/812", shard=f"{number}/2"
        ...     )
        ...     shards.append(run)
        >>> merge_runs(shards).environment
        Environment(commit='9f1c2e4', branch='main', build_url='https://ci.example/build/812', shard=None, extra={})
    """

    commit: str | None = None
    branch: str | None = None
    build_url: str | None = None
    shard: str | None = None
    extra: Mapping[str, str] = EMPTY


@dataclass(frozen=True, slots=True)
class Summary:
    """Counts per status, the flaky count and the summed test duration in seconds.

    Examples:
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> summary = make_run(200, fail_every=25, flaky_every=30, skip_every=40).summary()
        >>> summary.tests, summary.passed, summary.failed, summary.skipped, summary.flaky
        (200, 188, 8, 4, 4)
        >>> f"pass rate {summary.passed / (summary.passed + summary.failed):.1%}, {summary.duration:.1f} s of tests"
        'pass rate 95.9%, 9.5 s of tests'
    """

    tests: int
    passed: int
    failed: int
    skipped: int
    pending: int
    other: int
    flaky: int
    duration: float


@dataclass(slots=True)
class TestRun:
    """One run of a tool (or several shards merged): its results and where it ran.

    Examples:
        Readers return one; to build one from another tool's output, give it the results:

        >>> from maestro_test_result_aggregator import Environment, Status, TestResult, TestRun, Tool
        >>> run = TestRun(
        ...     Tool("k6", "0.54.0"),
        ...     [
        ...         TestResult("checkout p95 < 800 ms", Status.PASSED, 61.0, suite=("load",)),
        ...         TestResult("login error rate < 1%", Status.FAILED, 61.0, suite=("load",), message="2.4%"),
        ...     ],
        ...     environment=Environment(commit="9f1c2e4", branch="main"),
        ...     start=1_700_000_000.0,
        ...     stop=1_700_000_062.0,
        ... )
        >>> run.summary()
        Summary(tests=2, passed=1, failed=1, skipped=0, pending=0, other=0, flaky=0, duration=122.0)
        >>> [t.name for t in run.tests if t.status is Status.FAILED]
        ['login error rate < 1%']
    """

    __test__ = False  # not a pytest test class

    tool: Tool
    tests: list[TestResult] = field(default_factory=list)
    environment: Environment = Environment()
    start: float | None = None
    stop: float | None = None
    run_id: str | None = None
    extra: Mapping[str, object] = EMPTY

    def summary(self) -> Summary:
        """Count the results by status (C-level passes over ``tests``: fast for millions)."""
        tests = self.tests
        counts = dict.fromkeys(Status, 0)
        counts.update(Counter(map(_STATUS, tests)))
        duration = sum(map(_DURATION, tests), 0.0)
        flaky = sum(1 for result in filter(_ATTEMPTS, tests) if result.flaky)
        return Summary(
            tests=len(tests),
            passed=counts[Status.PASSED],
            failed=counts[Status.FAILED],
            skipped=counts[Status.SKIPPED],
            pending=counts[Status.PENDING],
            other=counts[Status.OTHER],
            flaky=flaky,
            duration=duration,
        )


_STATUS: Final = attrgetter("status")
_DURATION: Final = attrgetter("duration")
_ATTEMPTS: Final = attrgetter("attempts")


def bound_field(value: str, limit: int = DEFAULT_OUTPUT_LIMIT) -> str:
    """``value`` (a name, class, suite, file, property or other attribute) cut to exactly
    ``limit`` characters when longer: its first characters, then a marker with the whole value's
    length and the first 16 hex digits of its SHA-256. Two values that differ anywhere stay
    different after the cut, and a value is always cut the same way, so a cut test name still
    identifies its test across reports; a cut value fits the limit, so reading back what was
    written changes nothing.

    Examples:
        >>> cut = bound_field("test_" + "x" * 200, 80)
        >>> len(cut), cut.startswith("test_xx"), "200" not in cut, "205 characters" in cut
        (80, True, True, True)
        >>> bound_field("test_" + "x" * 199 + "y", 80) != cut, bound_field(cut, 80) == cut
        (True, True)
    """
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    marker = f"[... cut from {len(value)} characters by maestro, sha256 {digest}]"
    return value[: max(limit - len(marker), 0)] + marker


def bound_text(text: str | None, limit: int = DEFAULT_OUTPUT_LIMIT) -> str | None:
    """``text`` cut to at most about ``limit`` characters, keeping its head and tail around a
    marker that says how much was dropped (captured output can be huge; its ends matter)."""
    if text is None or len(text) <= limit:
        return text
    half = limit // 2
    dropped = len(text) - 2 * half
    return f"{text[:half]}\n[... {dropped} characters truncated by maestro ...]\n{text[-half:]}"
