"""JUnit XML: a safe streaming reader for every common dialect and a writer with two profiles.

Reader: pyexpat driven directly by our own start/end handlers that build ``TestResult`` objects
(no ElementTree objects), fed in 1 MiB chunks, so memory is bounded by the largest test, not the
file (and long ``<failure>``/``<system-out>`` bodies are cut while they stream, see
``BoundedText``). A DOCTYPE, any entity declaration or external reference raises
``UnsafeInputError`` at the first byte of it: no XXE, no billion laughs, and no slow fallback.

Dialects understood: Ant/Jenkins, Maven Surefire (``flakyFailure``/``flakyError`` and
``rerunFailure``/``rerunError`` become attempts), pytest xunit1 (``file``/``line``, properties)
and xunit2, Playwright, jest-junit; a ``<testsuites>`` or lone ``<testsuite>`` root; nested
suites (the suite path is every enclosing ``<testsuite>`` name); times with thousands separators
(``1,234.5``); timestamps on the root only. Sibling ``<testcase>`` elements repeating the same
test (how some tools write retries) collapse into one result with every attempt.

Writer profiles: ``xunit2`` (default; one ``<testcase>`` per test, final outcome only, retries
recorded as properties) and ``surefire`` (earlier failed attempts as ``flakyFailure`` when the
test passed in the end, ``rerunFailure`` when it kept failing). Never a repeated ``<testcase>``
per retry. Messages and bodies are bounded (marker says how much was cut) and XML-illegal
characters become visible ``\\uXXXX`` escapes.

Examples:
    >>> import tempfile, pathlib
    >>> from maestro_test_result_aggregator.model import Status, TestResult, TestRun, Tool
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "junit.xml"
    >>> run = TestRun(Tool("pytest"), [TestResult("test_a", Status.FAILED, 0.5, suite=("unit",), message="boom")])
    >>> write_junit(run, path)
    >>> [(t.name, t.status.value, t.message) for t in read_junit(path).tests]
    [('test_a', 'failed', 'boom')]
"""

from __future__ import annotations

import gc
import os
import pyexpat
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from operator import attrgetter
from typing import IO, Any, Final, Literal

from maestro_test_result_aggregator.errors import ReportParseError, UnsafeInputError
from maestro_test_result_aggregator.formats._junit_fast import Events, Fallback, parse_line, scan
from maestro_test_result_aggregator.formats._junit_fast import parse_time as _time
from maestro_test_result_aggregator.formats._junit_fast import parse_timestamp as _timestamp
from maestro_test_result_aggregator.formats._values import MAX_SECONDS
from maestro_test_result_aggregator.formats._xml import BoundedText, attr, text
from maestro_test_result_aggregator.model import (
    DEFAULT_OUTPUT_LIMIT,
    Attempt,
    Status,
    TestResult,
    TestRun,
    Tool,
    bound_text,
)

__all__ = [
    "JUNIT_ENGINES",
    "JUNIT_PROFILES",
    "JunitEngine",
    "JunitProfile",
    "collapse_repeats",
    "iter_junit",
    "read_junit",
    "write_junit",
]

JunitProfile = Literal["xunit2", "surefire"]
JUNIT_PROFILES: Final = ("xunit2", "surefire")
"""The writer profiles: ``xunit2`` (default) and ``surefire``."""

DEFAULT_MESSAGE_LIMIT: Final = 4096
"""Characters kept in a ``message`` attribute by the writer."""

MAX_SUITE_DEPTH: Final = 256
"""The deepest nesting of ``<testsuite>`` elements read (deeper is a ``ReportParseError``: each
level holds its whole suite path, so unbounded nesting would cost quadratic memory)."""

_CHUNK: Final = 1 << 20
_PARAM: Final = "maestro.parameter."
_TAG: Final = "maestro.tag"


# ----------------------------------------------------------------------------- reading


class _Unsafe(Exception):
    """Raised inside expat handlers; turned into ``UnsafeInputError`` with the position."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


def _refuse_doctype(*_: Any) -> None:
    raise _Unsafe("a DOCTYPE declaration")


def _refuse_entity(*_: Any) -> None:
    raise _Unsafe("an entity declaration")


def _refuse_external(*_: Any) -> int:
    raise _Unsafe("an external entity reference")


_PASSED: Final = Status.PASSED
_FAILURES: Final = frozenset(("failure", "error"))
_ATTEMPTS: Final = frozenset(("flakyFailure", "flakyError", "rerunFailure", "rerunError"))
_TEXT_CHILDREN: Final = frozenset(("system-out", "system-err", "stackTrace"))


class _Reader:
    """The expat handlers and the state of one parse.

    Speed: most ``<testcase>`` elements have no children. For those, the start handler builds
    the result straight from expat's attribute dict, and the end handler is the C-level
    ``list.append`` of a list of pending end tags (drained at the next non-testcase start), so a
    passing test costs one Python call. When a child element starts inside a testcase, a full
    Python end handler is swapped in until that testcase ends, and the result built at its start
    is completed in place (status, message, trace, output, attempts, properties).
    """

    __slots__ = (
        "attempt",
        "attempts",
        "case_open",
        "collect_depth",
        "collector",
        "current",
        "declared",
        "depth",
        "ends",
        "failure_time",
        "fast_start",
        "in_properties",
        "interned",
        "limit",
        "message",
        "parser",
        "properties",
        "raw",
        "rerun",
        "root",
        "source",
        "start",
        "status",
        "stderr",
        "stdout",
        "strings",
        "suite_tuple",
        "suites",
        "tags",
        "tests",
        "times",
        "tool",
        "trace",
    )

    def __init__(self, parser: Any, source: str, limit: int) -> None:
        self.parser = parser
        self.source = source
        self.limit = limit
        self.tests: list[TestResult] = []
        self.ends: list[str] = []
        self.suites: list[str] = []
        self.suite_tuple: tuple[str, ...] = ()
        self.interned: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.strings: dict[str, str] = {}
        self.times: dict[str, float] = {}
        self.current: TestResult | None = None
        self.case_open = False
        self.depth = 0
        self.root: str | None = None
        self.start: float | None = None
        self.tool: str | None = None
        self.collector: BoundedText | None = None
        self.collect_depth = 0
        self.declared: str | None = None
        self._reset_case()
        self.fast_start = self.fast_handler()

    def xml_declaration(self, _version: str | None, encoding: str | None, _standalone: int) -> None:
        """expat's ``XmlDeclHandler``: remembers the declared encoding for error messages."""
        self.declared = encoding

    def _reset_case(self) -> None:
        self.status = _PASSED
        self.raw: str | None = None
        self.message: str | None = None
        self.trace: str | None = None
        self.stdout: str | None = None
        self.stderr: str | None = None
        self.attempts: list[Attempt] = []
        self.attempt: dict[str, Any] | None = None
        self.properties: dict[str, str] | None = None
        self.tags: list[str] | None = None
        self.in_properties = False
        self.rerun = False
        self.failure_time: str | None = None

    # -- text collection ----------------------------------------------------------------
    def _collect(self) -> None:
        self.collector = BoundedText(self.limit)
        self.collect_depth = self.depth  # the text element's own depth: markup inside it is kept
        self.parser.CharacterDataHandler = self.collector.add

    def _collected(self) -> str:
        self.parser.CharacterDataHandler = None
        collector = self.collector
        self.collector = None
        return collector.value() if collector is not None else ""

    # -- the fast path ------------------------------------------------------------------
    def fast_handler(self) -> Callable[[str, dict[str, str]], None]:
        """The start handler of the fast path: a closure over locals (no attribute lookups for
        the hot names), building a passed result from each ``<testcase>``'s attributes."""
        reader = self
        ends = self.ends
        clear = ends.clear
        append = self.tests.append
        intern = self.strings.setdefault
        times = self.times
        known_time = times.get
        other = self.start_other
        passed = _PASSED
        make = TestResult

        def start(name: str, attrs: dict[str, str]) -> None:
            if name != "testcase":
                other(name, attrs)
                return
            if ends:
                if len(ends) == 1 and ends[0] == "testcase":
                    clear()
                else:
                    reader.drain()
            get = attrs.get
            time = get("time")
            line = get("line")
            # Class and file names repeat across a suite: share one string object for each.
            file = get("file")
            if file is not None:
                file = intern(file, file)
            classname = get("classname")
            if classname is not None:
                classname = intern(classname, classname)
            # Durations repeat too ("0.001"): parse each distinct text once, share the float.
            duration = known_time(time) if time is not None else 0.0
            try:
                if duration is None:
                    duration = float(time) if time else 0.0
                    if not -MAX_SECONDS <= duration <= MAX_SECONDS:
                        duration = 0.0  # nan, inf or absurd: not a duration (as parse_time)
                    if len(times) < 65536:
                        times[time] = duration  # type: ignore[index]
                result = make(
                    get("name", ""), passed, duration, reader.suite_tuple, file, classname, int(line) if line else None
                )
            except ValueError:
                result = make(
                    get("name", ""),
                    passed,
                    _time(time),
                    reader.suite_tuple,
                    file,
                    classname,
                    parse_line(line),
                )
            if "timestamp" in attrs:
                result.start = _timestamp(attrs["timestamp"])
            append(result)
            reader.current = result
            reader.case_open = True

        return start

    def start_other(self, name: str, attrs: dict[str, str]) -> None:
        """Any element but ``<testcase>`` on the fast path."""
        if self.ends:
            self.drain()
        if self.case_open:
            # A child of the open testcase: take the full path until </testcase>.
            self.parser.StartElementHandler = self.start_in_case
            self.parser.EndElementHandler = self.end_in_case
            self.depth = 0
            self.start_in_case(name, attrs)
            return
        self._start_outside(name, attrs)

    def drain(self) -> None:
        """Apply the end tags seen since the last start (the C-level end handler queued them)."""
        for name in self.ends:
            if name == "testcase":
                self.case_open = False
            elif name == "testsuite" and self.suites:
                self.suites.pop()
                suite = tuple(self.suites)
                self.suite_tuple = self.interned.setdefault(suite, suite)
        self.ends.clear()

    def _start_outside(self, name: str, attrs: dict[str, str]) -> None:
        if name == "testsuite":
            if len(self.suites) >= MAX_SUITE_DEPTH:
                raise ReportParseError(
                    self.source,
                    f"not readable: <testsuite> elements nested more than {MAX_SUITE_DEPTH} deep",
                    line=self.parser.CurrentLineNumber,
                    column=self.parser.CurrentColumnNumber + 1,
                )
            self.suites.append(attrs.get("name", ""))
            suite = tuple(self.suites)
            self.suite_tuple = self.interned.setdefault(suite, suite)
            if self.root is None:
                self.root = name
            if self.start is None:
                self.start = _timestamp(attrs.get("timestamp"))
        elif name == "testsuites":
            if self.root is None:
                self.root = name
                self.start = _timestamp(attrs.get("timestamp"))
                if attrs.get("name"):
                    self.tool = attrs["name"]
        elif self.root is None:
            raise ReportParseError(
                self.source,
                f"not JUnit XML: the root element is <{name}>, not <testsuites> or <testsuite>",
                line=self.parser.CurrentLineNumber,
                column=self.parser.CurrentColumnNumber + 1,
            )

    # -- the full path, inside a testcase with children ---------------------------------
    def start_in_case(self, name: str, attrs: dict[str, str]) -> None:  # noqa: PLR0912 - the dialect switch
        self.depth += 1
        if self.collector is not None:
            return  # markup inside a text element (``<b>`` in ``<system-out>``): its text is kept
        if self.attempt is not None:
            if name in _TEXT_CHILDREN:
                self._collect()
            return
        if name in _FAILURES:
            if self.status is not Status.FAILED:
                self.status = Status.FAILED
                self.raw = name
                self.message = bound_text(attrs.get("message"), self.limit)
                self.failure_time = attrs.get("time")
            self._collect()
        elif name == "skipped":
            if self.status is _PASSED:
                self.status = Status.SKIPPED
                kind = attrs.get("type", "")
                self.raw = "xfail" if kind.endswith("xfail") else "skipped"
                self.message = bound_text(attrs.get("message"), self.limit)
            self._collect()
        elif name in _ATTEMPTS:
            self.attempt = {
                "kind": name,
                "message": bound_text(attrs.get("message"), self.limit),
                "time": attrs.get("time"),
            }
        elif name in {"system-out", "system-err"}:
            self._collect()
        elif name == "properties":
            self.in_properties = True
        elif name == "property" and self.in_properties:
            key = attrs.get("name", "")
            value = attrs.get("value", "")
            if key == _TAG:
                if self.tags is None:
                    self.tags = []
                self.tags.append(value)
            else:
                if self.properties is None:
                    self.properties = {}
                self.properties[key] = value

    def end_in_case(self, name: str) -> None:  # noqa: PLR0912 - one branch per text element
        if self.depth == 0:  # </testcase>
            self._finish_case()
            return
        nested = self.collector is not None and self.depth != self.collect_depth
        self.depth -= 1
        if nested:
            return  # the end of markup inside a text element
        attempt = self.attempt
        if attempt is not None:
            if name in _ATTEMPTS:
                self._finish_attempt(attempt)
                self.attempt = None
            elif name in _TEXT_CHILDREN and self.collector is not None:
                attempt[name] = self._collected()
            return
        if self.collector is None:
            if name == "properties":
                self.in_properties = False
            return
        value = self._collected()
        if name in _FAILURES:
            if self.trace is None and value.strip():
                self.trace = value
        elif name == "skipped":
            if self.message is None and value.strip():
                self.message = value.strip()
        elif name == "system-out":
            self.stdout = value if self.stdout is None else self.stdout + value
        elif name == "system-err":
            self.stderr = value if self.stderr is None else self.stderr + value

    def _finish_attempt(self, attempt: dict[str, Any]) -> None:
        kind: str = attempt["kind"]
        trace = attempt.get("stackTrace")
        self.attempts.append(
            Attempt(
                Status.FAILED,
                duration=_time(attempt.get("time")),
                raw_status="error" if kind.endswith("Error") else "failure",
                message=attempt.get("message"),
                trace=trace if trace and trace.strip() else None,
                stdout=attempt.get("system-out"),
                stderr=attempt.get("system-err"),
            )
        )
        if kind.startswith("rerun"):
            self.rerun = True

    def _finish_case(self) -> None:
        self.parser.StartElementHandler = self.fast_start
        self.parser.EndElementHandler = self.ends.append
        self.case_open = False
        result = self.current
        if result is None:  # pragma: no cover - a child always follows a testcase start
            return
        if self.properties is not None:
            params = {k[len(_PARAM) :]: v for k, v in self.properties.items() if k.startswith(_PARAM)}
            others = {k: v for k, v in self.properties.items() if not k.startswith("maestro.")}
            if params:
                result.parameters = params
            if others:
                result.extra = {"properties": others}
        result.status = self.status
        result.raw_status = self.raw
        result.message = self.message
        result.trace = self.trace
        result.stdout = self.stdout
        result.stderr = self.stderr
        if self.tags:
            result.tags = tuple(self.tags)
        if self.attempts:
            result.attempts = self._attempts(result)
        self._reset_case()

    def _attempts(self, result: TestResult) -> tuple[Attempt, ...]:
        final = _as_attempt(result)
        if self.rerun and result.status is Status.FAILED:
            # Surefire: <failure> is the first run, each <rerunFailure> a later one, the last final.
            first = Attempt(
                Status.FAILED,
                duration=_time(self.failure_time),
                raw_status=result.raw_status,
                message=result.message,
                trace=result.trace,
            )
            last = self.attempts[-1]
            result.message, result.trace, result.raw_status = last.message, last.trace, last.raw_status
            return (first, *self.attempts)
        return (*self.attempts, final)


def _parser(source: str, limit: int) -> tuple[Any, _Reader]:
    parser = pyexpat.ParserCreate()
    parser.SetParamEntityParsing(pyexpat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.EntityDeclHandler = _refuse_entity
    parser.UnparsedEntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_external
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    reader = _Reader(parser, source, limit)
    parser.XmlDeclHandler = reader.xml_declaration
    parser.StartElementHandler = reader.fast_start
    parser.EndElementHandler = reader.ends.append
    return parser, reader


def _feed(parser: Any, reader: _Reader, stream: IO[bytes]) -> Iterator[None]:
    """Parse ``stream`` chunk by chunk, yielding after each chunk; expat and safety errors
    become ``UnsafeInputError``/``ReportParseError`` with the position."""
    source = reader.source
    try:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                parser.Parse(b"", True)
                break
            parser.Parse(chunk, False)
            yield
    except _Unsafe as error:
        raise UnsafeInputError(
            source,
            f"refused: {error.what} (untrusted XML may not declare a DOCTYPE or entities)",
            line=parser.CurrentLineNumber,
            column=parser.CurrentColumnNumber + 1,
        ) from None
    except pyexpat.ExpatError as error:
        reason = pyexpat.errors.messages.get(error.code, str(error)) if error.code else str(error)
        raise ReportParseError(source, f"malformed XML: {reason}", line=error.lineno, column=error.offset + 1) from None
    except (LookupError, ValueError) as error:
        # pyexpat asks Python's codecs for an encoding expat does not know itself: an unknown
        # name (LookupError), a multi-byte or not-a-text codec (ValueError, UnicodeError).
        declared = f" {reader.declared!r}" if reader.declared else ""
        raise ReportParseError(
            source,
            f"unsupported encoding{declared} in the XML declaration: {error}",
            line=parser.CurrentLineNumber,
            column=parser.CurrentColumnNumber + 1,
        ) from None
    reader.drain()
    if reader.root is None:
        raise ReportParseError(source, "not JUnit XML: no <testsuites> or <testsuite> element")


def _as_attempt(result: TestResult) -> Attempt:
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


_NAME: Final = attrgetter("name")


def collapse_repeats(tests: list[TestResult]) -> list[TestResult]:
    """Sibling ``<testcase>`` elements repeating one test (same suite, class, name and file; how
    some tools write retries) become one result whose ``attempts`` hold every run in order."""
    if len(set(map(_NAME, tests))) == len(tests):
        return tests  # no name twice (the usual case): one C-level pass instead of a key per test
    index: dict[tuple[Any, ...], int] = {}
    kept: list[TestResult] = []
    repeated = False
    for result in tests:
        # Suite tuples are interned per parse, so their id is a cheap, exact key.
        key = (result.name, result.classname, id(result.suite), result.file)
        at = index.setdefault(key, len(kept))
        if at == len(kept):
            kept.append(result)
            continue
        repeated = True
        previous = kept[at]
        earlier = previous.attempts or (_as_attempt(previous),)
        result.attempts = (*earlier, *(result.attempts or (_as_attempt(result),)))
        kept[at] = result
    return kept if repeated else tests


JunitEngine = Literal["fast", "expat"]
JUNIT_ENGINES: Final = ("fast", "expat")
"""The JUnit readers: ``fast`` (default; a regex tokenizer, expat for what it hands over) and
``expat`` (the reference reader)."""


def _check_engine(engine: str) -> None:
    if engine not in JUNIT_ENGINES:
        raise ValueError(f"engine must be one of {', '.join(JUNIT_ENGINES)}, got {engine!r}")


def _fast_reader(source: str, limit: int) -> tuple[Events, _Reader]:
    events = Events()
    reader = _Reader(events, source, limit)
    reader.times[None] = 0.0  # type: ignore[index]  # an absent time, for the fast path's lookup
    events.StartElementHandler = reader.fast_start
    events.EndElementHandler = reader.ends.append
    return events, reader


def _read_fast(source: str, limit: int) -> _Reader | None:
    """The fast reader's parse of ``source``, or None when expat must read it."""
    _, reader = _fast_reader(source, limit)
    try:
        with open(source, "rb") as stream:
            for _ in scan(stream, reader, reader.parser):
                pass
    except Fallback:
        return None
    return reader if reader.root is not None else None


def read_junit(
    path: str | os.PathLike[str], *, text_limit: int = DEFAULT_OUTPUT_LIMIT, engine: str = "fast"
) -> TestRun:
    """Read a JUnit XML file (any common dialect) into a ``TestRun``.

    Args:
        path: the file (never modified).
        text_limit: bounds every message, trace and output body (head and tail kept).
        engine: ``"fast"`` (default: a regex tokenizer for UTF-8 input that hands anything else,
            and every error, to expat) or ``"expat"`` (the reference reader). Both give the same
            results and errors.

    Raises:
        UnsafeInputError: the file declares a DOCTYPE or entities.
        ReportParseError: malformed XML or not JUnit, with line and column.
        ValueError: an unknown ``engine``.
    """
    source = os.fspath(path)
    _check_engine(engine)
    # The parse allocates only acyclic objects: pausing the cyclic GC saves a quarter of the time.
    paused = gc.isenabled()
    gc.disable()
    try:
        reader = _read_fast(source, text_limit) if engine == "fast" else None
        if reader is None:
            parser, reader = _parser(source, text_limit)
            with open(source, "rb") as stream:
                for _ in _feed(parser, reader, stream):
                    pass
        tests = collapse_repeats(reader.tests)
    finally:
        if paused:
            gc.enable()
    return TestRun(tool=Tool(reader.tool or "junit"), tests=tests, start=reader.start)


def _iter_fast(source: str, limit: int, done: list[int]) -> Iterator[TestResult]:
    """The fast reader's results as they come; ``done[0]`` counts those yielded."""
    events, reader = _fast_reader(source, limit)
    tests = reader.tests
    with open(source, "rb") as stream:
        for _ in scan(stream, reader, events):
            # The last result may still get children while a testcase is open.
            ready = (
                len(tests) - 1
                if reader.case_open or events.StartElementHandler is not reader.fast_start
                else len(tests)
            )
            if ready > 0:
                yield from tests[:ready]
                done[0] += ready
                del tests[:ready]
    if reader.root is None:
        raise Fallback
    yield from tests
    done[0] += len(tests)
    tests.clear()


def iter_junit(
    path: str | os.PathLike[str], *, text_limit: int = DEFAULT_OUTPUT_LIMIT, engine: str = "fast"
) -> Iterator[TestResult]:
    """Stream the results of a JUnit XML file, one 1 MiB chunk's worth in memory at a time
    (repeated sibling ``<testcase>`` elements are NOT collapsed here; ``merge`` does that).

    ``text_limit`` and ``engine`` are as for ``read_junit``; ``ValueError`` for an unknown engine."""
    source = os.fspath(path)
    _check_engine(engine)
    return _iter_junit(source, text_limit, engine)


def _iter_junit(source: str, limit: int, engine: str) -> Iterator[TestResult]:
    skip = 0
    if engine == "fast":
        done = [0]
        try:
            yield from _iter_fast(source, limit, done)
            return
        except Fallback:
            # expat reads the file again; the results already given are the same, skip them.
            skip = done[0]
    parser, reader = _parser(source, limit)
    with open(source, "rb") as stream:
        for _ in _feed(parser, reader, stream):
            tests = reader.tests
            ready = len(tests) - 1 if reader.case_open else len(tests)
            if skip:
                dropped = min(skip, ready)
                del tests[:dropped]
                skip -= dropped
                ready -= dropped
            yield from tests[:ready]
            del tests[:ready]
        if skip:
            del reader.tests[:skip]
        yield from reader.tests
        reader.tests.clear()


# ----------------------------------------------------------------------------- writing


def _counts(tests: list[TestResult]) -> tuple[int, int, int, int, float]:
    failures = errors = skipped = 0
    duration = 0.0
    for result in tests:
        duration += result.duration
        status = result.status
        if status is Status.FAILED:
            if result.raw_status == "error":
                errors += 1
            else:
                failures += 1
        elif status is not Status.PASSED:
            skipped += 1
    return len(tests), failures, errors, skipped, duration


def _fmt_time(seconds: float) -> str:
    return f"{seconds:.3f}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Node:
    __slots__ = ("children", "tests")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.tests: list[TestResult] = []


def _all_tests(node: _Node) -> list[TestResult]:
    found = list(node.tests)
    for child in node.children.values():
        found.extend(_all_tests(child))
    return found


class _Writer:
    def __init__(self, stream: IO[str], profile: str, message_limit: int, text_limit: int) -> None:
        self.write = stream.write
        self.surefire = profile == "surefire"
        self.message_limit = message_limit
        self.text_limit = text_limit

    def _message(self, value: str) -> str:
        return attr(bound_text(value, self.message_limit) or "")

    def _body(self, value: str) -> str:
        return text(bound_text(value, self.text_limit) or "")

    def suite(self, name: str, node: _Node, indent: str) -> None:
        tests, failures, errors, skipped, duration = _counts(_all_tests(node))
        self.write(
            f'{indent}<testsuite name="{attr(name)}" tests="{tests}" failures="{failures}" errors="{errors}" '
            f'skipped="{skipped}" time="{_fmt_time(duration)}">\n'
        )
        for result in node.tests:
            self.case(result, indent + "  ")
        for child_name, child in node.children.items():
            self.suite(child_name, child, indent + "  ")
        self.write(f"{indent}</testsuite>\n")

    def _failure_element(
        self, tag: str, message: str | None, trace: str | None, indent: str, duration: float | None = None
    ) -> None:
        head = f"{indent}<{tag}"
        if duration is not None:
            head += f' time="{_fmt_time(duration)}"'
        if message is not None:
            head += f' message="{self._message(message)}"'
        if trace:
            self.write(f"{head}>{self._body(trace)}</{tag}>\n")
        else:
            self.write(f"{head}/>\n")

    def _attempt_element(self, tag: str, attempt: Attempt, indent: str) -> None:
        head = f'{indent}<{tag} time="{_fmt_time(attempt.duration)}"'
        if attempt.message is not None:
            head += f' message="{self._message(attempt.message)}"'
        inner = ""
        if attempt.trace:
            inner += f"{indent}  <stackTrace>{self._body(attempt.trace)}</stackTrace>\n"
        if attempt.stdout:
            inner += f"{indent}  <system-out>{self._body(attempt.stdout)}</system-out>\n"
        if attempt.stderr:
            inner += f"{indent}  <system-err>{self._body(attempt.stderr)}</system-err>\n"
        if inner:
            self.write(f"{head}>\n{inner}{indent}</{tag}>\n")
        else:
            self.write(f"{head}/>\n")

    def case(self, result: TestResult, indent: str) -> None:  # noqa: PLR0912 - one branch per field
        head = f'{indent}<testcase name="{attr(result.name)}"'
        if result.classname is not None:
            head += f' classname="{attr(result.classname)}"'
        head += f' time="{_fmt_time(result.duration)}"'
        if result.file is not None:
            head += f' file="{attr(result.file)}"'
        if result.line is not None:
            head += f' line="{result.line}"'
        if result.start is not None:
            head += f' timestamp="{_iso(result.start)}"'
        parts: list[str] = []
        write = parts.append
        inner = indent + "  "
        properties: list[tuple[str, str]] = [(_PARAM + k, v) for k, v in result.parameters.items()]
        properties.extend((_TAG, tag) for tag in result.tags)
        if result.attempts and not self.surefire:
            properties.append(("maestro.retries", str(result.retries)))
            if result.flaky:
                properties.append(("maestro.flaky", "true"))
        extra_properties = result.extra.get("properties") if result.extra else None
        if isinstance(extra_properties, dict):
            properties.extend((str(k), str(v)) for k, v in extra_properties.items())
        if properties:
            write(f"{inner}<properties>\n")
            for key, value in properties:
                write(f'{inner}  <property name="{attr(key)}" value="{attr(value)}"/>\n')
            write(f"{inner}</properties>\n")
        self.write(head + ">\n" + "".join(parts))
        status = result.status
        earlier = result.attempts[:-1]
        if status is Status.FAILED:
            tag = "error" if result.raw_status == "error" else "failure"
            if self.surefire and earlier:
                first = earlier[0]
                self._failure_element(tag, first.message, first.trace, inner, first.duration)
                for attempt in (*earlier[1:], result.attempts[-1]):
                    rerun = "rerunError" if attempt.raw_status == "error" else "rerunFailure"
                    self._attempt_element(rerun, attempt, inner)
            else:
                self._failure_element(tag, result.message, result.trace, inner)
        elif status is Status.PASSED:
            if self.surefire:
                for attempt in earlier:
                    if attempt.status is Status.FAILED:
                        flaky = "flakyError" if attempt.raw_status == "error" else "flakyFailure"
                        self._attempt_element(flaky, attempt, inner)
        else:
            self._failure_element("skipped", result.message, None, inner)
        if result.stdout:
            self.write(f"{inner}<system-out>{self._body(result.stdout)}</system-out>\n")
        if result.stderr:
            self.write(f"{inner}<system-err>{self._body(result.stderr)}</system-err>\n")
        self.write(f"{indent}</testcase>\n")


def write_junit(
    run: TestRun,
    path: str | os.PathLike[str],
    *,
    profile: str = "xunit2",
    message_limit: int = DEFAULT_MESSAGE_LIMIT,
    text_limit: int = DEFAULT_OUTPUT_LIMIT,
) -> None:
    """Write ``run`` as JUnit XML.

    Args:
        run: the run to write.
        path: the file to create (overwritten).
        profile: ``"xunit2"`` (default) or ``"surefire"`` (earlier failed attempts as
            ``flakyFailure``/``rerunFailure``).
        message_limit: characters kept in ``message`` attributes.
        text_limit: characters kept in each trace and output body.

    Raises:
        ValueError: an unknown ``profile``.

    Examples:
        Hand a merged run (shards and reruns) to Jenkins or GitLab as one JUnit file. With the
        ``surefire`` profile, a test that passed on a retry keeps its failed attempt as
        ``flakyFailure``, which Jenkins' JUnit plugin shows as flaky:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import merge_runs, write_junit
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> merged = merge_runs([make_run(3, fail_every=3), make_run(3, start=1_700_000_600.0)])
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "TEST-merged.xml"
        >>> write_junit(merged, path, profile="surefire")
        >>> for line in path.read_text().splitlines():
        ...     if "<testsuites" in line or "<flakyFailure" in line:
        ...         print(line.strip())
        <testsuites name="pytest" tests="3" failures="0" errors="0" skipped="0" time="0.006"
        timestamp="2023-11-14T22:13:20.000Z">
        <flakyFailure time="0.003" message="AssertionError: expected 2 to equal 3">

        The default ``xunit2`` profile writes the final outcome only and records retries as
        properties.
    """
    if profile not in JUNIT_PROFILES:
        raise ValueError(f"profile must be one of {', '.join(JUNIT_PROFILES)}, got {profile!r}")
    root = _Node()
    for result in run.tests:
        node = root
        for part in result.suite or (run.tool.name,):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node()
            node = child
        node.tests.append(result)
    tests, failures, errors, skipped, duration = _counts(run.tests)
    with open(path, "w", encoding="utf-8") as stream:
        writer = _Writer(stream, profile, message_limit, text_limit)
        head = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="{attr(run.tool.name)}" tests="{tests}" '
            f'failures="{failures}" errors="{errors}" skipped="{skipped}" time="{_fmt_time(duration)}"'
        )
        if run.start is not None:
            head += f' timestamp="{_iso(run.start)}"'
        stream.write(head + ">\n")
        for name, node in root.children.items():
            writer.suite(name, node, "  ")
        stream.write("</testsuites>\n")
