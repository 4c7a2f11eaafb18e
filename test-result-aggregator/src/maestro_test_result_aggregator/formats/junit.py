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
(``1,234.5``); timestamps on the root only. Sibling ``<testcase>`` elements with the same name
are distinct tests unless the report marks them as reruns (see ``fold_repeated_testcases``).

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
import json
import os
import pyexpat
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from operator import attrgetter
from typing import IO, Any, Final, Literal

from maestro_test_result_aggregator.errors import ReportParseError, UnsafeInputError
from maestro_test_result_aggregator.formats._junit_attachments import attachment_lines, split_attachments
from maestro_test_result_aggregator.formats._junit_fast import MAX_TOKEN, Events, Fallback, parse_line, scan
from maestro_test_result_aggregator.formats._junit_fast import parse_time as _time
from maestro_test_result_aggregator.formats._junit_fast import parse_timestamp as _timestamp
from maestro_test_result_aggregator.formats._junit_vitest import VITEST_ROOT, unrun_files
from maestro_test_result_aggregator.formats._values import MAX_SECONDS, MAX_SUITE_DEPTH
from maestro_test_result_aggregator.formats._xml import BoundedText, attr, text
from maestro_test_result_aggregator.model import (
    DEFAULT_OUTPUT_LIMIT,
    Attachment,
    Attempt,
    Status,
    TestResult,
    TestRun,
    Tool,
    bound_field,
    bound_text,
)

__all__ = [
    "JUNIT_ENGINES",
    "JUNIT_PROFILES",
    "MAX_TOKEN",
    "JunitEngine",
    "JunitProfile",
    "fold_repeated_testcases",
    "iter_junit",
    "read_junit",
    "write_junit",
]

JunitProfile = Literal["xunit2", "surefire"]
JUNIT_PROFILES: Final = ("xunit2", "surefire")
"""The writer profiles: ``xunit2`` (default) and ``surefire``."""

DEFAULT_MESSAGE_LIMIT: Final = 4096
"""Characters kept in a ``message`` attribute by the writer."""


_CHUNK: Final = 1 << 20
_PARAM: Final = "maestro.parameter."
_TAG: Final = "maestro.tag"
_ATTEMPT: Final = "maestro.attempt."


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
_NOT_RUN: Final = frozenset(("notrun", "disabled"))
_STATUS_WORDS: Final = frozenset(status.value for status in Status)
_SUITE_KEYS: Final = ("hostname", "tests", "failures", "errors", "skipped", "time")


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
        "elements",
        "ends",
        "failure_time",
        "fast_start",
        "gone",
        "in_properties",
        "limit",
        "message",
        "more",
        "opened",
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
        "suite_attrs",
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
        # One suite tuple object per <testsuite> element (its results share it), so the id of a
        # result's suite names the element it came from; the element's attributes that tell
        # sibling testcases apart, or say how many tests it declares, by that id.
        self.elements: list[tuple[str, ...]] = []
        self.opened: list[int] = []  # testcases seen when each open <testsuite> started
        self.gone = 0  # results a streaming caller took out of ``tests`` (``iter_junit``)
        self.suite_attrs: dict[int, tuple[tuple[str, ...], dict[str, str]]] = {}
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
        self.more: str | None = None  # a second <failure>/<error> of the testcase, being read

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
    def fast_handler(self) -> Callable[[str, dict[str, str]], None]:  # noqa: PLR0915 - one inlined hot path
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
        field = DEFAULT_OUTPUT_LIMIT

        def start(name: str, attrs: dict[str, str]) -> None:  # noqa: PLR0912 - inlined: a call per test costs
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
            # Every name is cut to the field limit (the fast tokenizer's patterns and the C
            # accelerator take no longer value, so only this handler sees one).
            name = get("name", "")
            if len(name) > field:
                name = bound_field(name)
            file = get("file")
            if file is not None:
                if len(file) > field:
                    file = bound_field(file)
                file = intern(file, file)
            classname = get("classname")
            if classname is not None:
                if len(classname) > field:
                    classname = bound_field(classname)
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
                result = make(name, passed, duration, reader.suite_tuple, file, classname, int(line) if line else None)
            except ValueError:
                result = make(
                    name,
                    passed,
                    _time(time),
                    reader.suite_tuple,
                    file,
                    classname,
                    parse_line(line),
                )
            if "timestamp" in attrs:
                result.start = _timestamp(attrs["timestamp"])
            if "status" in attrs and attrs["status"] in _NOT_RUN:
                # GoogleTest's disabled tests (status="notrun" result="suppressed", with a 1970
                # timestamp), tst's status="disabled": skipped, not passed.
                result.status = Status.SKIPPED
                result.raw_status = "disabled"
                result.start = None
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
                element = self.elements.pop()
                if len(self.tests) + self.gone == self.opened.pop() and not self._unlisted(element):
                    del self.suite_attrs[id(element)]  # no result refers to it: memory stays flat
                self.suite_tuple = self.elements[-1] if self.elements else ()
        self.ends.clear()

    def _unlisted(self, element: tuple[str, ...]) -> bool:
        """A ``<testsuite>`` that lists no testcase: when it declares tests, they are not
        silently dropped (a crashed runner, a truncated writer): one result stands for them,
        failed when the suite declares failures or errors."""
        attrs = self.suite_attrs.get(id(element), _NO_SUITE)[1]
        counts = {key: _declared(attrs.get(key)) or 0 for key in ("tests", "failures", "errors", "skipped")}
        if counts["tests"] <= 0:
            return False
        if counts["failures"] + counts["errors"] > 0:
            status = Status.FAILED
        elif counts["skipped"] >= counts["tests"]:
            status = Status.SKIPPED
        else:
            status = Status.OTHER
        declared = " ".join(f'{key}="{value}"' for key, value in counts.items())
        self.tests.append(
            TestResult(
                f"{counts['tests']} declared test(s), none listed",
                status,
                suite=element,
                raw_status="unlisted",
                message=f"<testsuite> declares {declared} but lists no <testcase>",
            )
        )
        return True

    def _start_outside(self, name: str, attrs: dict[str, str]) -> None:
        if name == "testsuite":
            if len(self.suites) >= MAX_SUITE_DEPTH:
                raise ReportParseError(
                    self.source,
                    f"not readable: <testsuite> elements nested more than {MAX_SUITE_DEPTH} deep",
                    line=self.parser.CurrentLineNumber,
                    column=self.parser.CurrentColumnNumber + 1,
                )
            self.suites.append(bound_field(attrs.get("name", "")))
            suite = tuple(self.suites)
            self.elements.append(suite)
            self.opened.append(len(self.tests) + self.gone)
            self.suite_attrs[id(suite)] = (suite, {key: bound_field(attrs[key]) for key in _SUITE_KEYS if key in attrs})
            self.suite_tuple = suite
            if self.root is None:
                self.root = name
            if self.start is None:
                self.start = _timestamp(attrs.get("timestamp"))
        elif name == "testsuites":
            if self.root is None:
                self.root = name
                self.start = _timestamp(attrs.get("timestamp"))
                if attrs.get("name"):
                    self.tool = bound_field(attrs["name"])
        elif self.root is None:
            raise ReportParseError(
                self.source,
                f"not JUnit XML: the root element is <{bound_field(name, 200)}>, not <testsuites> or <testsuite>",
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
            else:
                # Another <failure>/<error> (pytest: the test failed, then its teardown raised):
                # kept after the first, named by its element, never dropped.
                self.more = name
                extra = attrs.get("message")
                if extra:
                    line = f"{name}: {extra}"
                    self.message = bound_text(f"{self.message}\n{line}" if self.message else line, self.limit)
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
            # A parameter our writer wrote is cut as the parameter name it was, so it reads back.
            key = _PARAM + bound_field(key[len(_PARAM) :]) if key.startswith(_PARAM) else bound_field(key)
            value = bound_field(attrs.get("value", ""))
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
            if self.more is not None:
                if value.strip():
                    part = f"{self.more}:\n{value}"
                    self.trace = bound_text(f"{self.trace}\n\n{part}" if self.trace else part, self.limit)
                self.more = None
            elif self.trace is None and value.strip():
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
        if self.status is not _PASSED or result.raw_status != "disabled":
            result.status = self.status
            result.raw_status = self.raw
        result.message = self.message
        result.trace = self.trace
        result.stdout, found = split_attachments(self.stdout)
        if found:
            result.attachments = found
        result.stderr = self.stderr
        if self.tags:
            result.tags = tuple(self.tags)
        if self.properties is not None and _ATTEMPT + "1" in self.properties:
            result.attempts = _written_attempts(self.properties, result, self.limit)  # ours: complete
        elif self.attempts:
            result.attempts = self._attempts(result)
        self._reset_case()

    def _attempts(self, result: TestResult) -> tuple[Attempt, ...]:
        final = result.as_attempt()
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


def _written_attempts(properties: dict[str, str], result: TestResult, limit: int) -> tuple[Attempt, ...]:
    """The earlier attempts our xunit2 writer recorded as ``maestro.attempt.N`` properties, then
    the testcase's own outcome. The values are untrusted input: a property that is not such a
    record (not a JSON object, a field of the wrong kind, a time that is no time) is ignored."""
    attempts: list[Attempt] = []
    number = 1
    while (value := properties.get(f"{_ATTEMPT}{number}")) is not None:
        number += 1
        if len(value) > 4 * limit + 4096:
            continue  # more than our writer ever writes
        try:
            fields = json.loads(value)
        except (ValueError, RecursionError):
            continue
        attempt = _attempt_record(fields, limit) if isinstance(fields, dict) else None
        if attempt is not None:
            attempts.append(attempt)
    return (*attempts, result.as_attempt()) if attempts else ()


def _attempt_record(fields: dict[str, Any], limit: int) -> Attempt | None:
    texts = [fields.get(name) for name in ("raw_status", "message", "trace")]
    duration, start = fields.get("duration", 0.0), fields.get("start")
    numbers_ok = all(
        (number is None or (isinstance(number, int | float) and not isinstance(number, bool)))
        for number in (duration, start)
    )
    if (
        fields.get("status") not in _STATUS_WORDS
        or not numbers_ok
        or not all(t is None or isinstance(t, str) for t in texts)
    ):
        return None
    raw, message, trace = texts
    seconds = float(duration or 0.0)
    when = _timestamp_seconds(start)
    return Attempt(
        Status(fields["status"]),
        duration=seconds if -MAX_SECONDS <= seconds <= MAX_SECONDS else 0.0,
        raw_status=raw,
        message=bound_text(message, limit),
        trace=bound_text(trace, limit),
        start=when,
    )


def _timestamp_seconds(value: object) -> float | None:
    """Epoch seconds our writer recorded; None when absent or not a usable time."""
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    seconds = float(value)
    try:
        datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, ValueError, OSError):
        return None
    return seconds


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
    fed = 0
    try:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                parser.Parse(b"", True)
                break
            parser.Parse(chunk, False)
            fed += len(chunk)
            if fed - parser.CurrentByteIndex > MAX_TOKEN:
                # expat holds one unfinished token (a tag, a comment...): refused before it grows.
                _too_long_token(reader, stream, parser.CurrentByteIndex)
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
        declared = f" {bound_field(reader.declared, 200)!r}" if reader.declared else ""
        raise ReportParseError(
            source,
            f"unsupported encoding{declared} in the XML declaration: {bound_field(str(error), 400)}",
            line=parser.CurrentLineNumber,
            column=parser.CurrentColumnNumber + 1,
        ) from None
    reader.drain()
    if reader.root is None:
        raise ReportParseError(source, "not JUnit XML: no <testsuites> or <testsuite> element")


# MAX_TOKEN (from _junit_fast): the longest single XML token (a start tag with all its
# attributes, a comment, a processing instruction), in bytes, either JUnit reader accepts. Past
# it the file is refused by ReportParseError naming the element and attribute, before the token
# is held whole (a 60 MB name="..." cost 215 MB). Character data and CDATA stream, unbounded.

_TOKEN_HEAD: Final = re.compile(rb"<([^\s/>=]{1,200})")
_TOKEN_ATTRIBUTE: Final = re.compile(rb"\s+([^\s=/>]{1,200})\s*=\s*(?:\"[^\"]*\"|'[^']*')")
_TOKEN_OPEN: Final = re.compile(rb"\s+([^\s=/>]{1,200})\s*=\s*[\"']")


def _token_kind(head: bytes) -> str:
    """What the token starting with ``head`` is: the element and the attribute still open at the
    end of ``head`` (the one too long), or a comment or processing instruction."""
    if head.startswith(b"<!--"):
        return "a comment"
    if head.startswith(b"<?"):
        return "a processing instruction"
    found = _TOKEN_HEAD.match(head)
    if found is None:
        return "a token"
    element = found[1].decode("utf-8", "replace")
    at = found.end()
    while (attribute := _TOKEN_ATTRIBUTE.match(head, at)) is not None:
        at = attribute.end()
    opened = _TOKEN_OPEN.match(head, at)
    if opened is None:
        return f"a <{element}> tag"
    return f"attribute {opened[1].decode('utf-8', 'replace')!r} of a <{element}> tag"


def _too_long_token(reader: _Reader, stream: IO[bytes], at: int) -> None:
    """Raise the refusal of a token longer than ``MAX_TOKEN`` starting at byte ``at``."""
    try:
        stream.seek(at)
        kind = _token_kind(stream.read(MAX_TOKEN + 1))
    except OSError:  # pragma: no cover - a stream that cannot seek
        kind = "a token"
    raise ReportParseError(
        reader.source,
        f"not readable: {kind} longer than {MAX_TOKEN >> 20} MiB (the limit of one XML token)",
        line=reader.parser.CurrentLineNumber,
        column=reader.parser.CurrentColumnNumber + 1,
    )


_NAME: Final = attrgetter("name")
_SEVERITY: Final = {Status.PASSED: 0, Status.SKIPPED: 1, Status.PENDING: 2, Status.OTHER: 3, Status.FAILED: 4}
_NO_SUITE: Final[tuple[tuple[str, ...], dict[str, str]]] = ((), {})


def _severity(attempt: Attempt) -> tuple[int, bool]:
    return _SEVERITY[attempt.status], attempt.raw_status == "error"


def _declared(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _tell_apart(members: list[TestResult], key: str, values: Sequence[str | None]) -> list[list[TestResult]]:
    """Give each member ``values[i]`` as parameter ``key`` (when it has one) and split the members
    by that value: distinct tests now, each subgroup still to be told apart."""
    groups: dict[str | None, list[TestResult]] = {}
    for member, value in zip(members, values, strict=True):
        if value:
            member.parameters = {**member.parameters, key: value}
        groups.setdefault(value, []).append(member)
    return list(groups.values())


def _folded(members: list[TestResult], attempts: list[Attempt]) -> TestResult:
    last = members[-1]
    return replace(last, **attempts[-1].outcome(), attempts=tuple(attempts))


def fold_repeated_testcases(  # noqa: PLR0912 - one branch per rule, in the documented order
    tests: list[TestResult], suites: dict[int, tuple[tuple[str, ...], dict[str, str]]] | None = None
) -> list[TestResult]:
    """Sibling ``<testcase>`` elements of one report with the same suite path, class, name, file
    and parameters: distinct tests unless the report marks them as reruns.

    ``suites`` maps ``id(result.suite)`` to that ``<testsuite>`` element's attributes (the reader
    gives each element its own suite tuple). In order:

    1. Their suites' ``hostname`` differs (Playwright writes one same-named suite per project,
       the project only there): distinct tests, parameter ``project`` = the hostname.
    2. Their ``<properties>`` differ: distinct tests, the differing properties become parameters.
    3. Their suite declares fewer ``tests`` than it holds testcases (pytest's junitxml with
       pytest-rerunfailures writes each rerun as an extra childless testcase): reruns, folded into
       one result with every attempt in document order; an earlier attempt that reads as passed
       is a failed attempt (a test is rerun because it failed), raw status ``rerun``.
    4. Their suite declares as many ``tests`` as it holds testcases (TestNG data providers, JUnit 5
       parameterized tests under older Surefire, jest titles reused across ``describe`` blocks):
       distinct tests, told apart by position: the second and later get parameter ``occurrence``.
    5. Nothing tells: one test repeated without marking, folded with the most severe outcome as
       the final one (failed > other > pending > skipped > passed; never simply the last).

    ``read_junit`` applies it; ``iter_junit`` does not (it streams testcases as they come).

    Examples:
        pytest's junitxml with ``--reruns 1``: the suite declares one test, lists two testcases:

        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "junit.xml"
        >>> _ = path.write_text(
        ...     '<testsuite name="pytest" tests="1"><testcase classname="t" name="test_a"/>'
        ...     '<testcase classname="t" name="test_a"/></testsuite>'
        ... )
        >>> (test,) = read_junit(path).tests
        >>> test.status.value, [a.status.value for a in test.attempts], test.flaky
        ('passed', ['failed', 'passed'], True)

        Without the declared count, nothing says reruns: the most severe outcome wins:

        >>> _ = path.write_text(
        ...     '<testsuite name="api"><testcase name="test_b"><failure message="boom"/></testcase>'
        ...     '<testcase name="test_b"/></testsuite>'
        ... )
        >>> (test,) = read_junit(path).tests
        >>> test.status.value, test.message, test.flaky
        ('failed', 'boom', False)
    """
    if len(set(map(_NAME, tests))) == len(tests):
        return tests  # no name twice (the usual case): one C-level pass instead of a key per test
    suites = suites or {}
    groups: dict[tuple[Any, ...], list[int]] = {}
    for position, result in enumerate(tests):
        parameters = tuple(sorted(result.parameters.items())) if result.parameters else ()
        key = (result.name, result.classname, result.suite, result.file, parameters)
        groups.setdefault(key, []).append(position)
    repeated = [positions for positions in groups.values() if len(positions) > 1]
    if not repeated:
        return tests
    held: Counter[int] | None = None  # testcases per <testsuite> element, counted when needed
    replaced: dict[int, TestResult] = {}
    dropped: set[int] = set()
    for positions in repeated:
        pending = [[tests[position] for position in positions]]
        undecided: list[list[TestResult]] = []
        while pending:
            members = pending.pop()
            hosts = [suites.get(id(m.suite), _NO_SUITE)[1].get("hostname") for m in members]
            if len(set(hosts)) > 1:
                pending.extend(group for group in _tell_apart(members, "project", hosts) if len(group) > 1)
                continue
            properties = [m.extra.get("properties") if m.extra else None for m in members]
            names = sorted({k for p in properties if isinstance(p, dict) for k in p})
            values = [",".join(f"{k}={p.get(k, '') if isinstance(p, dict) else ''}" for k in names) for p in properties]
            # Told apart by the values compared, not the dicts: no properties and k="" look the
            # same, and splitting on a difference the groups cannot show looped forever.
            if len(set(values)) > 1:
                pending.extend(group for group in _tell_apart(members, "properties", values) if len(group) > 1)
                continue
            undecided.append(members)
        for members in undecided:
            if held is None:
                held = Counter(id(result.suite) for result in tests)
            declared = [_declared(suites.get(id(m.suite), _NO_SUITE)[1].get("tests")) for m in members]
            counts = [held[id(m.suite)] for m in members]
            if all(d is not None and d == c for d, c in zip(declared, counts, strict=True)):
                for number, member in enumerate(members[1:], start=2):
                    member.parameters = {**member.parameters, "occurrence": str(number)}
                continue
            positions_of = {id(m): p for p, m in ((p, tests[p]) for p in positions)}
            attempts: list[Attempt] = []
            if all(d is not None and d < c for d, c in zip(declared, counts, strict=True)):
                for member in members[:-1]:
                    for attempt in member.every_attempt():
                        if attempt.status is Status.PASSED:
                            attempt = replace(attempt, status=Status.FAILED, raw_status="rerun")  # noqa: PLW2901
                        attempts.append(attempt)
                attempts.extend(members[-1].every_attempt())
            else:
                for member in members:
                    attempts.extend(member.every_attempt())
                worst = max(range(len(attempts)), key=lambda i: _severity(attempts[i]))
                attempts.append(attempts.pop(worst))
            first = min(positions_of[id(m)] for m in members)
            replaced[first] = _folded(members, attempts)
            dropped.update(positions_of[id(m)] for m in members if positions_of[id(m)] != first)
    if not replaced:
        return tests
    return [replaced.get(position, result) for position, result in enumerate(tests) if position not in dropped]


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
        ReportParseError: malformed XML, not JUnit, or one token (a tag with its attributes, a
            comment) longer than ``MAX_TOKEN`` bytes, with line and column.
        ValueError: an unknown ``engine``.

    Every name, class, suite, file, property and other attribute kept is cut to
    ``DEFAULT_OUTPUT_LIMIT`` characters by ``model.bound_field`` (prefix and hash).
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
        tests = fold_repeated_testcases(reader.tests, reader.suite_attrs)
        if reader.tool == VITEST_ROOT:
            tests = unrun_files(tests, reader.suite_attrs)
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
                reader.gone += ready
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
    (same-named sibling ``<testcase>`` elements are given as they come: the rules of
    ``fold_repeated_testcases``, which ``read_junit`` applies, need the whole report).

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
                reader.gone += dropped
                del tests[:dropped]
                skip -= dropped
                ready -= dropped
            yield from tests[:ready]
            reader.gone += ready
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


def _tree_counts(root: _Node) -> dict[int, tuple[int, int, int, int, float]]:
    """``_counts`` of every node's tests and its descendants', keyed by ``id(node)``: one pass
    over each test, without recursion (a suite path may be as deep as a report makes it)."""
    order: list[_Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        order.append(node)
        stack.extend(node.children.values())
    totals: dict[int, tuple[int, int, int, int, float]] = {}
    for node in reversed(order):  # children before their parent
        tests, failures, errors, skipped, duration = _counts(node.tests)
        for child in node.children.values():
            c_tests, c_failures, c_errors, c_skipped, c_duration = totals[id(child)]
            tests += c_tests
            failures += c_failures
            errors += c_errors
            skipped += c_skipped
            duration += c_duration
        totals[id(node)] = (tests, failures, errors, skipped, duration)
    return totals


def _surefire_can_say(result: TestResult) -> bool:
    """Whether Surefire's ``flakyFailure``/``rerunFailure`` elements alone record every attempt:
    each earlier one failed, and the final one passed or failed."""
    return result.status in (Status.PASSED, Status.FAILED) and all(
        attempt.status is Status.FAILED for attempt in result.attempts[:-1]
    )


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

    def suites(self, root: _Node) -> None:
        """Every suite under ``root``, depth first, with an explicit stack (no recursion)."""
        totals = _tree_counts(root)
        # Entries: (name, node, depth) to open a suite, (None, None, depth) to close one.
        stack: list[tuple[str | None, _Node | None, int]] = [
            (name, node, 1) for name, node in reversed(root.children.items())
        ]
        while stack:
            name, node, depth = stack.pop()
            indent = "  " * depth
            if node is None:
                self.write(f"{indent}</testsuite>\n")
                continue
            tests, failures, errors, skipped, duration = totals[id(node)]
            self.write(
                f'{indent}<testsuite name="{attr(name or "")}" tests="{tests}" failures="{failures}" '
                f'errors="{errors}" skipped="{skipped}" time="{_fmt_time(duration)}">\n'
            )
            for result in node.tests:
                self.case(result, indent + "  ")
            stack.append((None, None, depth))
            stack.extend((child_name, child, depth + 1) for child_name, child in reversed(node.children.items()))

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

    def _attempt_json(self, attempt: Attempt) -> str:
        fields: dict[str, object] = {"status": attempt.status.value, "duration": attempt.duration}
        for name in ("raw_status", "message", "trace", "start"):
            value = getattr(attempt, name)
            if value is not None:
                fields[name] = bound_text(value, self.message_limit) if isinstance(value, str) else value
        return json.dumps(fields, ensure_ascii=False)

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

    def case(self, result: TestResult, indent: str) -> None:  # noqa: PLR0912, PLR0915 - one branch per field
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
        if result.attempts and (not self.surefire or not _surefire_can_say(result)):
            # Every earlier attempt as a property (xunit2 has no element for them; Surefire's
            # say only failed attempts before a final pass or failure), so the file reads back
            # to the same attempts; the final attempt is the testcase itself.
            properties.extend(
                (f"{_ATTEMPT}{number}", self._attempt_json(attempt))
                for number, attempt in enumerate(result.attempts[:-1], start=1)
            )
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
            if self.surefire and earlier and _surefire_can_say(result):
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
        stdout = _with_attachments(result.stdout, result.attachments)
        if stdout:
            self.write(f"{inner}<system-out>{self._body(stdout)}</system-out>\n")
        if result.stderr:
            self.write(f"{inner}<system-err>{self._body(result.stderr)}</system-err>\n")
        self.write(f"{indent}</testcase>\n")


def _with_attachments(stdout: str | None, attachments: Sequence[Attachment]) -> str | None:
    """``stdout`` followed by one ``[[ATTACHMENT|path]]`` line per attachment (GitLab shows them)."""
    lines = attachment_lines(attachments)
    if not lines:
        return stdout
    if not stdout:
        return lines
    return stdout + ("" if stdout.endswith("\n") else "\n") + lines


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
        writer.suites(root)
        stream.write("</testsuites>\n")
