"""Merge shards and reruns into one run: results with the same ``test_id`` collapse into one
result holding every attempt, in linear time, and merging the same shard twice changes nothing.

Rules:

- A run already merged (same tool, environment, times, id and results: its fingerprint) is
  skipped, so re-ingesting a shard is idempotent even when results carry no timestamps. That
  run identity is the only de-duplication: an attempt equal to an earlier one (a test that
  failed the same way twice) is another attempt, always kept.
- Two results with the same ``test_id`` become one holding every attempt of both, ordered by
  time: each attempt's own start, else its run's time (``run_time``: the suite ``timestamp``,
  CTRF ``start``...), else the time the caller gives ``Merger.add`` (the CLI gives the file's
  modification time, and says so); in ingest order only when some attempt has no time at all.
  The last attempt is the final outcome and gives ``status``, ``duration``, ``message``...
  Inputs are never mutated.
- The merged run spans the earliest start to the latest stop; commit/branch/build URL/shard/tool
  are kept when every input agrees (so shards 1/2 and 2/2 merge into a run of no shard, and one
  shard stays itself).

Examples:
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> shard_a, shard_b = make_run(50), make_run(50, offset=50)
    >>> len(merge_runs([shard_a, shard_b, shard_a]).tests)
    100
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import math
import operator
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import replace
from operator import attrgetter
from typing import Any, Final, Literal, get_args

from maestro_test_result_aggregator.model import EMPTY, Attempt, Environment, TestResult, TestRun, Tool

__all__ = [
    "REPEAT_STYLES",
    "Merger",
    "RepeatStyle",
    "as_attempt",
    "collapse_repeats",
    "merge_results",
    "merge_runs",
    "run_fingerprint",
    "run_time",
]

_NAME: Final = attrgetter("name")
_STATUS: Final = attrgetter("status")
_DURATION: Final = attrgetter("duration")


def as_attempt(result: TestResult) -> Attempt:
    """The single execution a result without ``attempts`` describes (``TestResult.as_attempt``)."""
    return result.as_attempt()


def merge_results(first: TestResult, second: TestResult) -> TestResult:
    """One result with every attempt of both (which must share a ``test_id``): ``first``'s, then
    ``second``'s, sorted by start time when every attempt has one. Attempts are never dropped
    for being equal to another (a test can fail the same way twice)."""
    ours = first.every_attempt()
    theirs = second.every_attempt()
    attempts = [*ours, *theirs]
    final = attempts[-1]
    if all(a.start is not None for a in attempts):
        attempts.sort(key=_start_or_zero)
        final = attempts[-1]
    base = second if any(final is a for a in theirs) else first
    return _with_attempts(base, attempts)


def _with_attempts(base: TestResult, attempts: list[Attempt], **changes: Any) -> TestResult:
    """``base`` holding ``attempts``, its outcome fields taken from the last (final) attempt."""
    final = attempts[-1]
    if changes:
        return replace(base, **final.outcome(), attempts=tuple(attempts), **changes)
    # What ``replace`` gives, built directly (``replace`` costs ~5x more: it walks the fields in
    # Python); a test checks that every field of ``TestResult`` is carried over.
    return TestResult(
        base.name,
        final.status,
        final.duration,
        base.suite,
        base.file,
        base.classname,
        base.line,
        base.parameters,
        final.raw_status,
        final.message,
        final.trace,
        final.stdout,
        final.stderr,
        base.tags,
        final.attachments,
        tuple(attempts),
        final.start,
        base.extra,
    )


Inner = str | tuple[str, tuple[tuple[str, str], ...]]


def _identify(results: list[TestResult]) -> tuple[list[str], list[int], list[Inner]]:
    """The identity of each result, split as ``test_id`` is built: the suite/file/class prefix
    (returned once per distinct prefix, with each result's index into that list) and the name
    with the sorted parameters. The prefix is looked up by its values (a tuple of the three
    fields, whose strings cache their hashes), so its text is built once per distinct prefix
    whether or not the results share the string objects; no per-result key object is allocated
    for a result without parameters (its name string is the inner key)."""
    by_key: dict[tuple[tuple[str, ...], str | None, str | None], int] = {}
    by_text: dict[str, int] = {}
    texts: list[str] = []
    indexes: list[int] = []
    inners: list[Inner] = []
    add_index = indexes.append
    add_inner = inners.append
    for result in results:
        key = (result.suite, result.file, result.classname)
        try:
            index = by_key.get(key)
        except TypeError:  # a suite given as a list: not hashable, same identity as the tuple
            key = (tuple(result.suite), result.file, result.classname)
            index = by_key.get(key)
        if index is None:
            text = "\x1e".join(result.suite) + f"\x1f{result.file or ''}\x1f{result.classname or ''}"
            index = by_text.get(text)
            if index is None:
                index = by_text[text] = len(texts)
                texts.append(text)
            by_key[key] = index
        add_index(index)
        parameters = result.parameters
        add_inner((result.name, tuple(sorted(parameters.items()))) if parameters else result.name)
    return texts, indexes, inners


def run_fingerprint(run: TestRun, identity: tuple[list[str], list[int], list[Inner]] | None = None) -> str:
    """A digest of everything that identifies a run's content (used to skip re-ingested shards).
    ``identity`` is ``_identify(run.tests)`` when the caller already has it."""
    tests = run.tests
    texts, indexes, inners = identity if identity is not None else _identify(tests)
    digest = hashlib.blake2b(digest_size=16)
    env = run.environment
    update = digest.update
    update(repr((run.tool, env.commit, env.branch, env.shard, run.start, run.stop, run.run_id)).encode())
    update("\x1d".join(texts).encode("utf-8", "surrogatepass"))
    update(array("q", indexes).tobytes())
    update("\x1d".join(map(_NAME, tests)).encode("utf-8", "surrogatepass"))
    update(repr([inner for inner in inners if not isinstance(inner, str)]).encode("utf-8", "surrogatepass"))
    update("".join(map(_STATUS, tests)).encode())
    update(array("d", map(_DURATION, tests)).tobytes())
    update(repr([(r.start, len(r.attempts)) for r in tests if r.start is not None or r.attempts]).encode())
    return digest.hexdigest()


RepeatStyle = Literal["pytest-repeat", "flakefinder"]
"""How a plugin that runs each test several times names the copies (see ``collapse_repeats``)."""

REPEAT_STYLES: Final[tuple[str, ...]] = get_args(RepeatStyle)
"""The repeat-naming styles ``collapse_repeats`` recognises."""

# pytest-repeat (``--count N`` / ``@pytest.mark.repeat(N)``) parametrizes last (trylast), with
# ids "<i>-<N>", i from 1: ``test_x[2-5]``, ``test_x[param-2-5]``.
_PYTEST_REPEAT: Final = re.compile(r"(?s)(?P<base>.*?)\[(?:(?P<rest>.*)-)?(?P<number>[0-9]+)-(?P<count>[0-9]+)\]")
# pytest-flakefinder (``--flake-finder --flake-runs N``) parametrizes first (tryfirst), with ids
# "<i>", i from 0: ``test_x[3]``, ``test_x[3-param]``.
_FLAKEFINDER: Final = re.compile(r"(?s)(?P<base>.*?)\[(?P<number>[0-9]+)(?:-(?P<rest>.*))?\]")


def _repeat_of(name: str, style: RepeatStyle) -> tuple[str, int, int] | None:
    """(base name, repetition number, declared count or 0) when ``name`` carries ``style``'s
    repetition id; None otherwise."""
    if not name.endswith("]"):
        return None
    if style == "pytest-repeat":
        match = _PYTEST_REPEAT.fullmatch(name)
        if match is None:
            return None
        number, count = int(match["number"]), int(match["count"])
    else:
        match = _FLAKEFINDER.fullmatch(name)
        if match is None:
            return None
        number, count = int(match["number"]), 0
    rest = match["rest"]
    return (f"{match['base']}[{rest}]" if rest else match["base"]), number, count


def collapse_repeats(run: TestRun, style: RepeatStyle) -> TestRun:
    """Fold the copies a repeat plugin made of each test into one result with every repetition
    as an attempt (in repetition order; the last repetition is the final outcome).

    A repeat counter and a real parameter look alike (``test_x[1-3]`` is also what
    ``@pytest.mark.parametrize("a,b", [(1, 3)])`` produces), so nothing is folded unless you name
    the plugin that made the copies:

    - ``"pytest-repeat"`` (``--count N`` or ``@pytest.mark.repeat(N)``): the id ends with
      ``<i>-<N>``, ``1 <= i <= N``: ``test_x[2-3]`` and ``test_x[a-2-3]`` are repetition 2 of
      ``test_x`` and ``test_x[a]``.
    - ``"flakefinder"`` (pytest-flakefinder's ``--flake-finder``): the id starts with ``<i>``,
      ``i >= 0``: ``test_x[0]`` and ``test_x[0-a]`` are repetition 0 of ``test_x`` and
      ``test_x[a]``.

    Only groups of two or more copies with distinct repetition numbers are folded (with
    pytest-repeat, all sharing one ``N`` with every number in ``1..N``); any group that breaks
    the pattern is left as it is (its names are then taken to be real parameters).
    Results that already hold attempts (reruns of one repetition) keep them, in place. Returns a
    new run; ``run`` is not modified.

    Raises:
        ValueError: ``style`` is not one of ``REPEAT_STYLES``.

    Examples:
        >>> from maestro_test_result_aggregator import Status, TestResult, TestRun, Tool, collapse_repeats
        >>> copies = [TestResult(f"test_x[{i}-3]", Status.FAILED if i == 2 else Status.PASSED) for i in (1, 2, 3)]
        >>> folded = collapse_repeats(TestRun(Tool("pytest"), copies), "pytest-repeat")
        >>> [(t.name, t.status.value, t.flaky, len(t.attempts)) for t in folded.tests]
        [('test_x', 'passed', True, 3)]
    """
    if style not in REPEAT_STYLES:
        raise ValueError(f"style must be one of {', '.join(REPEAT_STYLES)}, got {style!r}")
    groups: dict[tuple[object, ...], list[tuple[int, int, int]]] = {}
    bases: list[str | None] = []
    # Identical ids (flakefinder repeats unittest-style tests so): the JUnit reader tells such
    # copies apart by position, parameter ``occurrence`` on the second and later.
    repeated_ids = (
        {_without_occurrence(r) for r in run.tests if "occurrence" in r.parameters} if style == "flakefinder" else set()
    )
    for position, result in enumerate(run.tests):
        found = _repeat_of(result.name, style)
        if found is None and repeated_ids and _without_occurrence(result) in repeated_ids:
            found = (result.name, int(result.parameters.get("occurrence", "1")) - 1, 0)
            key = _without_occurrence(result)
        elif found is None:
            bases.append(None)
            continue
        else:
            key = (
                tuple(result.suite),
                result.file,
                result.classname,
                found[0],
                tuple(sorted(result.parameters.items())),
            )
        base, number, count = found
        bases.append(base)
        groups.setdefault(key, []).append((number, count, position))
    folded: dict[int, TestResult] = {}  # first position of a group -> the folded result
    dropped: set[int] = set()
    for members in groups.values():
        numbers = {number for number, _, _ in members}
        counts = {count for _, count, _ in members}
        if len(members) < 2 or len(numbers) != len(members):
            continue
        if style == "pytest-repeat" and (len(counts) != 1 or not numbers <= set(range(1, next(iter(counts)) + 1))):
            continue  # one count N, every number in 1..N (so at most N copies)
        members.sort()
        attempts: list[Attempt] = []
        for _, _, position in members:
            result = run.tests[position]
            attempts.extend(result.every_attempt())
        last = run.tests[members[-1][2]]
        first_position = min(position for _, _, position in members)
        parameters = {k: v for k, v in last.parameters.items() if k != "occurrence"} or EMPTY
        folded[first_position] = _with_attempts(
            last, attempts, name=bases[members[-1][2]] or last.name, parameters=parameters
        )
        dropped.update(position for _, _, position in members if position != first_position)
    if not folded:
        return replace(run, tests=list(run.tests))
    tests = [folded.get(position, result) for position, result in enumerate(run.tests) if position not in dropped]
    return replace(run, tests=tests)


def _without_occurrence(result: TestResult) -> tuple[object, ...]:
    parameters = tuple(sorted((k, v) for k, v in result.parameters.items() if k != "occurrence"))
    return (tuple(result.suite), result.file, result.classname, result.name, parameters)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Automatic cyclic garbage collection off for the block, the caller's setting restored
    after it (even on error). A merge allocates only acyclic objects (results, attempts, tuples),
    yet every allocation counts towards the next collection, and each full collection walks
    every live object: the inputs and the merged run."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Merging:
    """A test met more than once by a ``Merger``: what ``merge_results`` would give after each
    copy, kept mutable. ``merge_results`` rebuilds the whole result for every copy (O(k) per copy,
    O(k**2) for a test run k times); this costs O(the copy's own attempts) per copy, and the result
    is built once, by ``result()``.

    Each attempt is ordered by its own start, or else by the start of the run it came from (the
    suite ``timestamp``, CTRF ``start``...); while every attempt has such a time the list is kept
    in time order, otherwise in ingest order."""

    __slots__ = ("attempts", "base", "keys", "ordered", "timed")

    def __init__(self, first: TestResult, at: float | None) -> None:
        self.base = first  # gives the fields attempts do not (name, suite, file, tags...)
        self.attempts: list[Attempt] = list(first.every_attempt())
        self.keys: list[float | None] = [a.start if a.start is not None else at for a in self.attempts]
        self.timed = all(k is not None for k in self.keys)
        self.ordered = False  # ``attempts`` is known to be in time order (no NaN time either)

    def add(self, result: TestResult, at: float | None) -> None:
        """``merge_results(<the result so far>, result)``, in place."""
        theirs = result.every_attempt()
        new_keys = [a.start if a.start is not None else at for a in theirs]
        attempts = self.attempts
        keys = self.keys
        attempts.extend(theirs)
        keys.extend(new_keys)
        if self.timed and all(k is not None for k in new_keys):
            # Sorted by time, as ``merge_results`` sorts: the list already is, so sort only when
            # the new attempts do not simply continue it (a sort calls the key per item).
            # (A NaN time compares false: the list is then sorted every time, as merge_results does.)
            tail = keys[len(keys) - len(new_keys) - 1 :]
            if not (self.ordered and all(map(operator.le, tail, tail[1:]))):  # type: ignore[arg-type]
                order = sorted(range(len(keys)), key=lambda i: keys[i] or 0.0)
                self.attempts = attempts = [attempts[i] for i in order]
                self.keys = keys = [keys[i] for i in order]
                self.ordered = not any(map(math.isnan, keys))  # type: ignore[arg-type]  # sorted, no NaN time
        else:
            self.timed = False
        if any(attempts[-1] is a for a in theirs):
            self.base = result

    def result(self) -> TestResult:
        return _with_attempts(self.base, self.attempts)


def _start_or_zero(attempt: Attempt) -> float:
    return attempt.start or 0.0


class Merger:
    """Incremental merge: ``add`` runs one by one (each in O(its results)), then ``result()``.

    Holds one entry per distinct test, so memory is bounded by the merged run, not the inputs.
    A test seen k times costs O(k) in all (its attempts are gathered in place, the merged result
    built once). ``add`` pauses automatic cyclic garbage collection while it runs and restores
    the caller's setting (as ``read_junit`` does): it allocates nothing cyclic, and collections
    triggered by its allocations would walk every live result again and again.

    Args:
        repeats: fold each run's repeat-plugin copies first (``collapse_repeats``); ``None``
            (default) leaves names as they are.

    Raises:
        ValueError: ``repeats`` is not ``None`` or one of ``REPEAT_STYLES``.

    Examples:
        Merge shard reports as they arrive, one file at a time (only the merged tests are held);
        a shard uploaded twice is recognised and skipped:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import Merger, read_report, write_junit
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> for shard in range(4):
        ...     write_junit(make_run(250, offset=250 * shard, fail_every=100), folder / f"junit-{shard}.xml")
        >>> merger = Merger()
        >>> for path in [*sorted(folder.glob("junit-*.xml")), folder / "junit-0.xml"]:
        ...     _ = merger.add(read_report(path))
        >>> merged = merger.result()
        >>> len(merged.tests), merged.summary().failed, merger.runs, merger.skipped
        (1000, 8, 4, 1)
    """

    def __init__(self, *, repeats: RepeatStyle | None = None) -> None:
        if repeats is not None and repeats not in REPEAT_STYLES:
            raise ValueError(f"repeats must be None or one of {', '.join(REPEAT_STYLES)}, got {repeats!r}")
        self._repeats: RepeatStyle | None = repeats
        # prefix (suite, file, class) -> name (+ parameters) -> result: see ``_identify``.
        self._tests: dict[str, dict[Inner, TestResult | _Merging]] = {}
        # The time of the run each result came from, needed only when a later copy of a test
        # arrives (the first copy's attempts are then ordered by it): the runs with a time are
        # kept as they are until the first copy arrives, then indexed once, by result id.
        self._pending: list[tuple[list[TestResult], float]] = []
        self._times: dict[int, float] | None = None
        self._seen: set[str] = set()
        self._tools: set[Tool] = set()
        self._commits: set[str | None] = set()
        self._branches: set[str | None] = set()
        self._build_urls: set[str | None] = set()
        self._shards: set[str | None] = set()
        self._start: float | None = None
        self._stop: float | None = None
        self._first_tool: Tool | None = None
        self.runs = 0
        """How many distinct runs were merged (re-ingested duplicates not counted)."""
        self.skipped = 0
        """How many ``add`` calls were ignored because that exact run was already merged."""

    def add(self, run: TestRun, *, at: float | None = None) -> bool:
        """Merge ``run``; returns ``False`` (and changes nothing) when it was already merged.

        The run's attempts are ordered among other runs' by their own start, else by the run's
        time (``run_time``), else by ``at`` (the report file's modification time, say: a last
        resort, the CLI says when it uses it)."""
        with _gc_paused():
            return self._add(run, at)

    def _add(self, run: TestRun, at: float | None) -> bool:
        if self._repeats is not None:
            run = collapse_repeats(run, self._repeats)
        identity = _identify(run.tests)
        fingerprint = run_fingerprint(run, identity)
        if fingerprint in self._seen:
            self.skipped += 1
            return False
        self._seen.add(fingerprint)
        self.runs += 1
        if self._first_tool is None:
            self._first_tool = run.tool
        self._tools.add(run.tool)
        env = run.environment
        self._commits.add(env.commit)
        self._branches.add(env.branch)
        self._build_urls.add(env.build_url)
        self._shards.add(env.shard)
        if run.start is not None and (self._start is None or run.start < self._start):
            self._start = run.start
        if run.stop is not None and (self._stop is None or run.stop > self._stop):
            self._stop = run.stop
        when = at if run_time(run) is None else run_time(run)
        if when is not None and self._times is None:
            self._pending.append((run.tests, when))
        texts, indexes, inners = identity
        buckets = [self._tests.setdefault(text, {}) for text in texts]
        times = self._times
        for index, inner, result in zip(indexes, inners, run.tests, strict=True):
            bucket = buckets[index]
            existing = bucket.setdefault(inner, result)  # one dict operation for a new test
            if existing is result:
                if times is not None and when is not None:
                    times[id(result)] = when
            else:
                if not isinstance(existing, _Merging):
                    if times is None:
                        times = self._index_times()
                    existing = bucket[inner] = _Merging(existing, times.get(id(existing)))
                existing.add(result, when)
        return True

    def _index_times(self) -> dict[int, float]:
        """The run time of every result of the runs merged so far, by result id (built once,
        at the first test met twice; kept up to date from then on)."""
        times: dict[int, float] = {}
        for tests, when in self._pending:
            for result in tests:
                times.setdefault(id(result), when)
        self._pending.clear()
        self._times = times
        return times

    def result(self) -> TestRun:
        """The merged run (a new ``TestRun``; inputs untouched)."""
        with _gc_paused():
            return self._result()

    def _result(self) -> TestRun:

        def only(values: set[str | None]) -> str | None:
            return next(iter(values)) if len(values) == 1 else None

        tool = self._first_tool or Tool("unknown")
        if len(self._tools) > 1:
            names = {t.name for t in self._tools}
            tool = Tool(names.pop()) if len(names) == 1 else Tool("merged")
        return TestRun(
            tool=tool,
            tests=[
                result.result() if isinstance(result, _Merging) else result
                for bucket in self._tests.values()
                for result in bucket.values()
            ],
            environment=Environment(
                commit=only(self._commits),
                branch=only(self._branches),
                build_url=only(self._build_urls),
                shard=only(self._shards),
            ),
            start=self._start,
            stop=self._stop,
            extra={"merged_runs": self.runs} if self.runs > 1 else EMPTY,
        )


def run_time(run: TestRun) -> float | None:
    """When ``run`` ran, as its report says (``run.start``: the suite ``timestamp``, CTRF
    ``start``, the first reportlog record...); None when the report carries no time.

    Examples:
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> run_time(make_run(3, start=1_700_000_000.0))
        1700000000.0
    """
    return run.start


def merge_runs(runs: Iterable[TestRun], *, repeats: RepeatStyle | None = None) -> TestRun:
    """Merge shards and reruns (see the module docs); linear in the total number of results.
    ``repeats`` names the repeat plugin whose copies to fold into attempts (``collapse_repeats``).

    Examples:
        The job ran its tests, then re-ran the failures (``pytest --last-failed``): merged, each
        test that failed and then passed has both attempts, passes in the end and counts as flaky:

        >>> from maestro_test_result_aggregator import merge_runs
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> first = make_run(10, fail_every=5)
        >>> rerun = make_run(10, start=1_700_000_600.0)
        >>> merged = merge_runs([first, rerun])
        >>> merged.summary().failed, merged.summary().flaky
        (0, 2)
        >>> [(t.name, [a.status.value for a in t.attempts]) for t in merged.tests if t.flaky]
        [('test_4', ['failed', 'passed']), ('test_9', ['failed', 'passed'])]

        Shards hold different tests and simply add up:

        >>> shards = [make_run(50, offset=50 * i, shard=f"{i + 1}/4") for i in range(4)]
        >>> len(merge_runs(shards).tests)
        200
    """
    merger = Merger(repeats=repeats)
    for run in runs:
        merger.add(run)
    return merger.result()
