"""Merge shards and reruns into one run: results with the same ``test_id`` collapse into one
result holding every attempt, in linear time, and merging the same shard twice changes nothing.

Rules:

- A run already merged (same tool, environment, times, id and results: its fingerprint) is
  skipped, so re-ingesting a shard is idempotent even when results carry no timestamps.
- Two results with the same ``test_id`` become one whose ``attempts`` are the union of both
  (an attempt already present is not added again), ordered by start time when every attempt has
  one, otherwise in ingest order; the last attempt is the final outcome and gives ``status``,
  ``duration``, ``message``... Inputs are never mutated.
- The merged run spans the earliest start to the latest stop; commit/branch/tool are kept when
  every input agrees, the shard is dropped.

Example:
    >>> from maestro_test_result_aggregator.testing import make_run
    >>> shard_a, shard_b = make_run(50), make_run(50, offset=50)
    >>> len(merge_runs([shard_a, shard_b, shard_a]).tests)
    100
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable
from dataclasses import replace
from operator import attrgetter
from typing import Final

from maestro_test_result_aggregator.model import EMPTY, Attempt, Environment, TestResult, TestRun, Tool

__all__ = ["Merger", "as_attempt", "merge_results", "merge_runs", "run_fingerprint"]

_NAME: Final = attrgetter("name")
_STATUS: Final = attrgetter("status")
_DURATION: Final = attrgetter("duration")


def as_attempt(result: TestResult) -> Attempt:
    """The single execution a result without ``attempts`` describes."""
    return Attempt(
        result.status,
        duration=result.duration,
        raw_status=result.raw_status,
        message=result.message,
        trace=result.trace,
        start=result.start,
        stdout=result.stdout,
        stderr=result.stderr,
        attachments=result.attachments,
    )


def merge_results(first: TestResult, second: TestResult) -> TestResult:
    """One result with the attempts of both (which must share a ``test_id``); returns ``first``
    itself when ``second`` adds no new attempt."""
    ours = first.attempts or (as_attempt(first),)
    theirs = second.attempts or (as_attempt(second),)
    known = set(ours)
    new = [a for a in theirs if a not in known]
    if not new:
        return first
    attempts = [*ours, *new]
    if all(a.start is not None for a in attempts):
        attempts.sort(key=lambda a: a.start or 0.0)
    final = attempts[-1]
    base = second if final in theirs else first
    return replace(
        base,
        status=final.status,
        duration=final.duration,
        raw_status=final.raw_status,
        message=final.message,
        trace=final.trace,
        stdout=final.stdout,
        stderr=final.stderr,
        attachments=final.attachments,
        start=final.start,
        attempts=tuple(attempts),
    )


Inner = str | tuple[str, tuple[tuple[str, str], ...]]


def _identify(results: list[TestResult]) -> tuple[list[str], list[int], list[Inner]]:
    """The identity of each result, split as ``test_id`` is built: the suite/file/class prefix
    (returned once per distinct prefix, with each result's index into that list) and the name
    with the sorted parameters. Readers share the suite, file and class objects within a file,
    so each prefix string is built once; no per-result key object is allocated for a result
    without parameters (its name string is the inner key)."""
    by_ids: dict[tuple[int, int, int], int] = {}
    by_text: dict[str, int] = {}
    texts: list[str] = []
    indexes: list[int] = []
    inners: list[Inner] = []
    add_index = indexes.append
    add_inner = inners.append
    for result in results:
        marker = (id(result.suite), id(result.file), id(result.classname))
        index = by_ids.get(marker)
        if index is None:
            text = "\x1e".join(result.suite) + f"\x1f{result.file or ''}\x1f{result.classname or ''}"
            index = by_text.get(text)
            if index is None:
                index = by_text[text] = len(texts)
                texts.append(text)
            by_ids[marker] = index
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


class Merger:
    """Incremental merge: ``add`` runs one by one (each in O(its results)), then ``result()``.

    Holds one entry per distinct test, so memory is bounded by the merged run, not the inputs.
    """

    def __init__(self) -> None:
        # prefix (suite, file, class) -> name (+ parameters) -> result: see ``_identify``.
        self._tests: dict[str, dict[Inner, TestResult]] = {}
        self._seen: set[str] = set()
        self._tools: set[Tool] = set()
        self._commits: set[str | None] = set()
        self._branches: set[str | None] = set()
        self._build_urls: set[str | None] = set()
        self._start: float | None = None
        self._stop: float | None = None
        self._first_tool: Tool | None = None
        self.runs = 0
        """How many distinct runs were merged (re-ingested duplicates not counted)."""
        self.skipped = 0
        """How many ``add`` calls were ignored because that exact run was already merged."""

    def add(self, run: TestRun) -> bool:
        """Merge ``run``; returns ``False`` (and changes nothing) when it was already merged."""
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
        if run.start is not None and (self._start is None or run.start < self._start):
            self._start = run.start
        if run.stop is not None and (self._stop is None or run.stop > self._stop):
            self._stop = run.stop
        texts, indexes, inners = identity
        buckets = [self._tests.setdefault(text, {}) for text in texts]
        for index, inner, result in zip(indexes, inners, run.tests, strict=True):
            bucket = buckets[index]
            existing = bucket.get(inner)
            bucket[inner] = result if existing is None else merge_results(existing, result)
        return True

    def result(self) -> TestRun:
        """The merged run (a new ``TestRun``; inputs untouched)."""

        def only(values: set[str | None]) -> str | None:
            return next(iter(values)) if len(values) == 1 else None

        tool = self._first_tool or Tool("unknown")
        if len(self._tools) > 1:
            names = {t.name for t in self._tools}
            tool = Tool(names.pop()) if len(names) == 1 else Tool("merged")
        return TestRun(
            tool=tool,
            tests=[result for bucket in self._tests.values() for result in bucket.values()],
            environment=Environment(
                commit=only(self._commits), branch=only(self._branches), build_url=only(self._build_urls)
            ),
            start=self._start,
            stop=self._stop,
            extra={"merged_runs": self.runs} if self.runs > 1 else EMPTY,
        )


def merge_runs(runs: Iterable[TestRun]) -> TestRun:
    """Merge shards and reruns (see the module docs); linear in the total number of results."""
    merger = Merger()
    for run in runs:
        merger.add(run)
    return merger.result()
