"""The fast JUnit reader: a tokenizer driven by one compiled regular expression (C speed).

``read_junit`` tries this first on UTF-8 input and falls back to the expat reader (the reference)
for anything it does not handle itself: other encodings, DOCTYPE/entity declarations (expat
refuses them at the first byte, before the root element, so the refusal costs nothing), and any
malformed input (expat then raises its precise ``ReportParseError`` with line and column, or, if
expat accepts a construct this tokenizer is too strict for, its result is used).

How: the file is read in 1 MiB chunks, decoded strictly as UTF-8 and scanned with one master
pattern whose alternatives cover every XML construct (character data with its references,
start/empty tags and end tags each with the whitespace before them, comments, CDATA sections,
processing instructions): few tokens, since every token costs a regex match and a Python
dispatch. Matches are taken with ``scanner.match``, so tokens are contiguous by construction; a
position where nothing matches is either an incomplete token at the end of a chunk (carried into
the next one, up to ``_MAX_CARRY`` bytes) or malformed input (fallback). A tag stack checks
nesting.

The first alternative matches a whole childless ``<testcase .../>`` (or ``<testcase ...>
</testcase>``) with its usual attributes captured in groups: the common passing test costs one
regex match and one ``TestResult`` call; the second matches the same start tag of a testcase
with children (a failure, output), so a failing test's start tag is one match too. Everything
else is turned into the same start/end/text events expat would deliver and handed to the expat
reader's own handlers, so the two readers share all JUnit semantics (dialects, attempts, bounded
text) by construction.
"""

from __future__ import annotations

import codecs
import functools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Final

from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats._values import MAX_SECONDS
from maestro_test_result_aggregator.model import DEFAULT_OUTPUT_LIMIT, Status, TestResult

__all__ = ["MAX_TOKEN", "Events", "Fallback", "parse_line", "parse_time", "parse_timestamp", "scan"]

_CHUNK: Final = 1 << 20
MAX_TOKEN: Final = 8 << 20
"""The longest XML token (bytes) either JUnit reader accepts (``junit.MAX_TOKEN``)."""
_MAX_CARRY: Final = MAX_TOKEN
"""Longest single token (UTF-8 bytes) carried across chunks before handing the file to expat:
at most ``MAX_TOKEN`` less the few bytes the decoder may hold, so whenever expat refuses a
token as too long, this reader has handed the file over before (both readers agree)."""

_WS: Final = "[ \\t\\r\\n]"
_NAME: Final = "[A-Za-z_:][-A-Za-z0-9_.:]*"
# Characters XML 1.0 forbids anywhere (surrogates cannot survive strict UTF-8 decoding).
_ILL: Final = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\ufffe\\uffff"
# Legal characters above U+00FF, to close a positive class: "[ -\\xff{_WIDE}]" is every legal
# character from the space on. sre tests a positive class about twice as fast as a negated class
# of the characters XML forbids (measured: ~4 against ~8 ns a character), and the hot patterns
# below spend most of their time in such classes. A class reaching past U+00FF costs several
# milliseconds to compile (sre builds a 64k-entry map in Python), so a grammar is compiled
# "narrow" (classes end at U+00FF: everything Latin-1, cheap to compile) and only a file with a
# character above U+00FF switches to the "wide" grammar. (Surrogates, which a negated class would
# let through, cannot survive strict UTF-8 decoding; U+FFFE/U+FFFF are not in either spelling.)
_WIDE: Final = "\\u0100-\\ud7ff\\ue000-\\ufffd\\U00010000-\\U0010ffff"


def _value_class(wide: bool) -> str:
    """An attribute value that needs no normalisation: no reference, no tab/newline/return; at
    most ``DEFAULT_OUTPUT_LIMIT`` characters (a longer one goes to the reader's start handler,
    which cuts it to the field limit: the C accelerator stops at the same length)."""
    return f"[ !#-%'-;=-\\xff{_WIDE if wide else ''}]{{0,{DEFAULT_OUTPUT_LIMIT}}}+"


_FAST_NAMES: Final = ("name", "classname", "time", "file", "line", "timestamp")
# A childless testcase whose attributes are among _FAST_NAMES, in any order. ``(?(g)(?!))`` fails
# when group g already matched, so a duplicate attribute sends the tag the slow, checking way.


def _any(before: int, value: str) -> str:
    """The any-order alternative, its groups numbered after ``before`` earlier ones (the
    conditionals must refer to later groups by number)."""
    return (
        f"(?P<any>{_WS}*+<testcase(?:{_WS}++(?:"
        + "|".join(f'(?({before + 2 + i})(?!)){name}="(?P<a_{name}>{value})"' for i, name in enumerate(_FAST_NAMES))
        + f"))*+{_WS}*+(?:/>|>{_WS}*+</testcase>))"
    )


def _general(wide: bool) -> str:
    """The alternatives for every other token."""
    high = _WIDE if wide else ""
    return (
        # start or empty tag, with the whitespace before it (one token instead of two)
        f"|(?P<lead>{_WS}*+)<(?P<tag>{_NAME})(?P<attrs>(?:{_WS}+{_NAME}{_WS}*={_WS}*"
        f"(?:\"[\\t\\n\\r !#-;=-\\xff{high}]*+\"|'[\\t\\n\\r -&(-;=-\\xff{high}]*+'))*+)"
        f"{_WS}*(?P<empty>/?)>"
        # end tag, with the whitespace before it
        f"|(?P<endlead>{_WS}*+)</(?P<end>{_NAME}){_WS}*>"
        # character data with its references (no lone CR at a chunk end, no "]]>"): one token
        # for a whole traceback with quotes in it, the references resolved in Python
        f"|(?P<text>(?:[\\t\\n -%'-;=-\\x5c\\x5e-\\xff{high}]++|\\r\\n|\\r(?=[^\\n])|\\](?=[^\\]]|\\][^>])"
        "|&(?:lt|gt|amp|apos|quot|#[0-9]+|#x[0-9a-fA-F]+);)++)"
        f"|(?P<comment><!--(?:[^-{_ILL}]++|-[^-{_ILL}])*+-->)"
        f"|<!\\[CDATA\\[(?P<cdata>[^{_ILL}]*?)\\]\\]>"
        f"|(?P<pi><\\?(?P<target>{_NAME})(?:{_WS}[^{_ILL}]*?)?\\?>)"
    )


def _load_speedups() -> Any:
    """The C accelerator module (built with the wheel where a C compiler was found); None
    without it (the pure-Python path reads the same files the same way, more slowly)."""
    try:
        from maestro_test_result_aggregator.formats import _junit_speedups  # noqa: PLC0415
    except ImportError:
        return None
    return _junit_speedups


_speedups = _load_speedups()


def accelerator_note() -> str | None:
    """Why the JUnit reader runs without its C accelerator, or ``None`` when it has it.

    A wheel built without the accelerator carries the reason (``_pure_python_build.txt``, written by
    the build hook), because pip hides a build's own output: without a compiler, installing the
    sdist gives a reader about 1.6x slower, and this is where that becomes visible.
    """
    if _speedups is not None:
        return None
    try:
        why = (Path(__file__).with_name("_pure_python_build.txt")).read_text().strip()
    except OSError:
        why = "its C accelerator is not installed here (an editable install without a compiler, or it did not load)"
    return f"the JUnit reader runs in pure Python: {why}"


_MAX_SWITCHES: Final = 16
"""Attribute orders learned per file before the reader stops specialising."""


class _Grammar:
    """The master pattern, specialised for one attribute order of ``<testcase>`` (a fixed
    sequence matches about a third faster than the any-order alternative), and its group numbers."""

    __slots__ = (
        "any",
        "any_get",
        "attrs",
        "cdata",
        "empty",
        "end",
        "endlead",
        "fixed",
        "fixed_get",
        "lead",
        "open",
        "open_groups",
        "order",
        "pattern",
        "pi",
        "scanner",
        "tag",
        "target",
        "text",
        "wide",
    )

    def __init__(self, order: tuple[str, ...], wide: bool) -> None:
        self.order = order
        self.wide = wide
        value = _value_class(wide)
        parts = []
        before = 0
        if order:
            before = 2 * (len(order) + 1)
            attributes = "".join(f'{_WS}++{re.escape(name)}="(?P<f{i}>{value})"' for i, name in enumerate(order))
            parts.append(f"(?P<fixed>{_WS}*+<testcase{attributes}{_WS}*+(?:/>|>{_WS}*+</testcase>))|")
            # The same start tag of a testcase WITH children (a failure, output...): one match
            # instead of a text token, a general start tag and an attribute scan.
            attributes = "".join(f'{_WS}++{re.escape(name)}="(?P<o{i}>{value})"' for i, name in enumerate(order))
            parts.append(f"(?P<open>{_WS}*+<testcase{attributes}{_WS}*+>)|")
        self.pattern = pattern = re.compile("".join(parts) + _any(before, value) + _general(wide))
        # ``Pattern.scanner`` (matches taken one after another, each where the last ended) is
        # not in the type stubs.
        self.scanner: Callable[[str, int], Any] = pattern.scanner  # type: ignore[attr-defined]
        groups = pattern.groupindex
        self.fixed = groups.get("fixed", -1)
        self.open = groups.get("open", -1)
        self.open_groups = tuple((name, groups[f"o{i}"]) for i, name in enumerate(order))
        self.any = groups["any"]
        self.text = groups["text"]
        self.tag = groups["tag"]
        self.attrs = groups["attrs"]
        self.empty = groups["empty"]
        self.end = groups["end"]
        self.lead = groups["lead"]
        self.endlead = groups["endlead"]
        self.cdata = groups["cdata"]
        self.target = groups["target"]
        self.pi = groups["pi"]
        self.any_get = itemgetter(*(groups[f"a_{name}"] for name in _FAST_NAMES))
        if order:
            where = {name: groups[f"f{i}"] for i, name in enumerate(order)}
            # An attribute the order lacks reads an any-order group: never set when "fixed" matched.
            self.fixed_get = itemgetter(*(where.get(name, groups[f"a_{name}"]) for name in _FAST_NAMES))
        else:
            self.fixed_get = self.any_get


@functools.lru_cache(maxsize=64)
def _grammar(order: tuple[str, ...], wide: bool = False) -> _Grammar:
    return _Grammar(order, wide)


_ATTR: Final = re.compile(f"{_WS}+({_NAME}){_WS}*={_WS}*(?:\"([^\"]*)\"|'([^']*)')")
_REF: Final = re.compile("&([^&;]*)(;?)")
_NUMBER: Final = re.compile("#(?:[0-9]+|x[0-9a-fA-F]+)")
_DECL: Final = re.compile(
    f"<\\?xml{_WS}+version{_WS}*={_WS}*(?:\"1\\.0\"|'1\\.0')"
    f"(?:{_WS}+encoding{_WS}*={_WS}*(?:\"([A-Za-z][A-Za-z0-9._-]*)\"|'([A-Za-z][A-Za-z0-9._-]*)'))?"
    f"(?:{_WS}+standalone{_WS}*={_WS}*(?:\"(?:yes|no)\"|'(?:yes|no)'))?{_WS}*\\?>"
)
_PREDEFINED: Final = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}
_BLANK: Final = str.maketrans("\t\n", "  ")
_XML_WS: Final = " \t\r\n"


class Fallback(Exception):
    """This input needs the expat reader (another encoding, a DOCTYPE, malformed XML...)."""


class Events:
    """Stands in for the expat parser object the shared ``_Reader`` handlers talk to."""

    __slots__ = (
        "CharacterDataHandler",
        "CurrentColumnNumber",
        "CurrentLineNumber",
        "EndElementHandler",
        "StartElementHandler",
    )

    def __init__(self) -> None:
        self.StartElementHandler: Callable[[str, dict[str, str]], None] | None = None
        self.EndElementHandler: Callable[[str], None] | None = None
        self.CharacterDataHandler: Callable[[str], None] | None = None
        self.CurrentLineNumber = 0
        self.CurrentColumnNumber = 0


def _char(reference: str) -> str:
    """The character a reference (``lt`` or ``#65`` or ``#x41``) stands for; ``Fallback`` if it
    names no legal XML character (expat reports those)."""
    known = _PREDEFINED.get(reference)
    if known is not None:
        return known
    if _NUMBER.fullmatch(reference) is None:
        raise Fallback
    code = int(reference[2:], 16) if reference.startswith("#x") else int(reference[1:], 10)
    if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
        return chr(code)
    raise Fallback


def _resolve(match: re.Match[str]) -> str:
    if not match[2]:
        raise Fallback
    return _char(match[1])


def _value(raw: str) -> str:
    """An attribute value as expat reports it: line ends and whitespace normalised, references
    replaced."""
    if "\r" in raw:
        raw = raw.replace("\r\n", " ").replace("\r", " ")
    if "\t" in raw or "\n" in raw:
        raw = raw.translate(_BLANK)
    if "&" in raw:
        raw = _REF.sub(_resolve, raw)
    return raw


def _references(text: str) -> str:
    """Character data (as the master pattern's ``text`` token matched it: every ``&`` starts a
    well-formed reference) with its references replaced. The five predefined entities by
    ``str.replace`` (``&amp;`` last, so ``&amp;lt;`` stays ``&lt;``); numeric references by
    ``_resolve``, which refuses one naming no legal XML character (``Fallback``)."""
    if "&#" in text:
        return _REF.sub(_resolve, text)
    text = text.replace("&quot;", '"').replace("&apos;", "'").replace("&lt;", "<").replace("&gt;", ">")
    return text.replace("&amp;", "&")


def _attributes(text: str) -> dict[str, str]:
    found = _ATTR.findall(text)
    attrs = {name: _value(double or single) for name, double, single in found}
    if len(attrs) != len(found):
        raise Fallback  # a duplicate attribute: expat names it
    return attrs


def _text(data: str) -> str:
    if "\r" in data:
        return data.replace("\r\n", "\n").replace("\r", "\n")
    return data


class _Scanner:
    """The state of one scan: the tag stack, the root, the grammar and the reader's handlers."""

    def __init__(self, reader: Any, events: Events) -> None:
        self.reader = reader
        self.events = events
        self.stack: list[str] = []
        self.root_done = False
        self.grammar = _grammar(())
        self.switches = 0

    def start(self, name: str, attrs: dict[str, str], empty: bool) -> None:
        stack = self.stack
        if not stack and self.root_done:
            raise Fallback  # a second root element
        handler = self.events.StartElementHandler
        if handler is not None:
            handler(name, attrs)
        if empty:
            end = self.events.EndElementHandler
            if end is not None:
                end(name)
            if not stack:
                self.root_done = True
        else:
            stack.append(name)

    def data(self, text: str) -> None:
        """Character data without references (line ends normalised)."""
        if not self.stack:
            if text.strip(_XML_WS):
                raise Fallback  # text outside the root element
            return
        handler = self.events.CharacterDataHandler
        if handler is not None and text:
            handler(_text(text))

    def learn(self, order: tuple[str, ...]) -> bool:
        """Specialise the grammar for a testcase attribute order; False when nothing changes."""
        if order == self.grammar.order or self.switches >= _MAX_SWITCHES or len(order) > 16:
            return False
        if len(set(order)) != len(order):
            return False  # a fixed sequence naming an attribute twice would accept duplicates
        if "status" in order or "result" in order:
            return False  # GoogleTest's status="notrun": the reader's own handler must see it
        self.switches += 1
        self.grammar = _grammar(order, self.grammar.wide)
        return True

    def run(self, buffer: str, position: int) -> int:
        """Consume every complete token of ``buffer`` from ``position``; return where it stopped."""
        grammar = self.grammar
        if not grammar.wide and not buffer.isascii() and max(buffer) > "\xff":
            self.grammar = _grammar(grammar.order, True)  # from now on: classes beyond Latin-1
        while True:
            position, switched = self._run(buffer, position)
            if not switched:
                return position

    def _run(self, buffer: str, position: int) -> tuple[int, bool]:  # noqa: PLR0912, PLR0915 - one branch per token kind
        reader = self.reader
        events = self.events
        stack = self.stack
        grammar = self.grammar
        fixed = grammar.fixed
        fixed_get = grammar.fixed_get
        any_fast = grammar.any
        fast_start = reader.fast_start
        ends: list[str] = reader.ends
        tests = reader.tests
        append = tests.append
        strings = reader.strings
        intern = strings.setdefault
        times: dict[str, float] = reader.times
        known_time = times.get
        passed = Status.PASSED
        make = TestResult
        fast_ok = bool(stack) and events.StartElementHandler is fast_start
        build = None if _speedups is None else _speedups.build_testcases
        primed = False
        suite: tuple[str, ...] = ()
        last_file = last_class = None
        match = None
        for match in iter(grammar.scanner(buffer, position).match, None):
            kind = match.lastindex
            if kind == fixed and fast_ok:
                if not primed:
                    if len(ends) != 1 or ends[0] != "testcase":
                        if ends:
                            reader.drain()
                        ends.append("testcase")
                    primed = True
                    suite = reader.suite_tuple
                if build is not None:
                    # The C accelerator builds the results of this childless testcase and of
                    # those right after it, as the code below would (the scan restarts after them).
                    end = build(buffer, match.start(), tests, strings, times, make, passed, suite)
                    if end != match.start():
                        if end != match.end():
                            return end, True
                        continue
                name, classname, time, file, line, stamp = fixed_get(match)
                # Class and file names repeat: share one string object each (None maps to None).
                # Mostly the previous testcase's: an equality test costs less than hashing.
                if file == last_file:
                    file = last_file
                else:
                    file = last_file = intern(file, file)
                if classname == last_class:
                    classname = last_class
                else:
                    classname = last_class = intern(classname, classname)
                duration = known_time(time)  # an absent time (None) is a key too: 0.0
                try:
                    if duration is None:
                        duration = float(time) if time else 0.0
                        if not -MAX_SECONDS <= duration <= MAX_SECONDS:
                            duration = 0.0  # nan, inf or absurd: not a duration (as parse_time)
                        if len(times) < 65536:
                            times[time] = duration
                    result = make(name or "", passed, duration, suite, file, classname, int(line) if line else None)
                except ValueError:
                    result = _slow_case(reader, name, time, file, classname, line)
                if stamp is not None:
                    result.start = parse_timestamp(stamp)
                append(result)
                continue
            primed = False
            if kind == grammar.open:
                opened: str = match[kind]
                at = opened.index("<")
                if at:
                    self.data(opened[:at])
                self.start("testcase", {name: match[group] for name, group in grammar.open_groups}, False)
            elif kind in (any_fast, fixed):
                token: str = match[kind]
                if self.learn(tuple(name for name, _, _ in _ATTR.findall(token))):
                    return match.start(), True  # scan this tag again with the specialised grammar
                values = (grammar.any_get if kind == any_fast else fixed_get)(match)
                at = token.index("<")
                if at:
                    self.data(token[:at])
                self.start("testcase", {n: v for n, v in zip(_FAST_NAMES, values, strict=True) if v is not None}, True)
            elif kind == grammar.text:
                data = match[kind]
                if not stack:
                    if data.strip(_XML_WS):
                        raise Fallback  # text or a reference outside the root element
                    continue
                if "\r" in data:
                    data = data.replace("\r\n", "\n").replace("\r", "\n")  # before references: "&#13;" stays
                if "&" in data:
                    data = _references(data)
                handler = events.CharacterDataHandler
                if handler is not None:
                    handler(data)
            elif kind == grammar.empty:
                lead = match[grammar.lead]
                if lead:
                    self.data(lead)
                attributes = match[grammar.attrs]
                tag = match[grammar.tag]
                attrs = _attributes(attributes) if attributes else {}
                self.start(tag, attrs, bool(match[kind]))
                if tag == "testcase" and self.learn(tuple(attrs)):
                    return match.end(), True
            elif kind == grammar.end:
                lead = match[grammar.endlead]
                if lead:
                    self.data(lead)
                tag = match[kind]
                if not stack or stack.pop() != tag:
                    raise Fallback  # mismatched or unbalanced end tag: expat says where
                handler_end = events.EndElementHandler
                if handler_end is not None:
                    handler_end(tag)
                if not stack:
                    self.root_done = True
            elif kind == grammar.cdata:
                if not stack:
                    raise Fallback
                self.data(match[kind])
            elif kind == grammar.pi and match[grammar.target].lower() == "xml":
                raise Fallback  # an XML declaration that is not at the very start
            # otherwise a comment or processing instruction: nothing to do
            fast_ok = bool(stack) and events.StartElementHandler is fast_start
        return (position if match is None else match.end()), False


def parse_time(value: str | None) -> float:
    """A JUnit ``time`` attribute in seconds (``1,234.5`` allowed); 0.0 when absent, not a number,
    not finite or beyond ``MAX_SECONDS``."""
    if not value:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = float(value.replace(",", "").replace("_", ""))
        except ValueError:
            return 0.0
    return seconds if -MAX_SECONDS <= seconds <= MAX_SECONDS else 0.0


def parse_timestamp(value: str | None) -> float | None:
    """An ISO 8601 timestamp as epoch seconds (UTC when no zone is given); None when invalid."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = moment.timestamp()
    try:
        datetime.fromtimestamp(seconds, UTC)  # "0001-01-01T00:00+14:00" is before year 1 in UTC
    except (OverflowError, ValueError, OSError):
        return None
    return seconds


def _slow_case(  # noqa: PLR0917 - the fast path's locals, as they are
    reader: Any, name: str | None, time: str | None, file: str | None, classname: str | None, line: str | None
) -> TestResult:
    """The fast path's result when ``time`` or ``line`` is not a plain number (as the expat reader)."""
    return TestResult(
        name or "",
        Status.PASSED,
        parse_time(time),
        reader.suite_tuple,
        file,
        classname,
        parse_line(line),
    )


def parse_line(value: str | None) -> int | None:
    """A JUnit ``line`` attribute as an int; None when absent, empty or not a number (``int``
    refuses some characters ``str.isdigit`` accepts, such as "²": those are not numbers either)."""
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _prolog(buffer: str) -> int:
    """Where tokens start after the byte order mark and XML declaration; ``Fallback`` for an
    encoding other than UTF-8 or a declaration this reader does not check itself."""
    at = 1 if buffer.startswith("\ufeff") else 0
    if buffer.startswith("<?xml", at) and len(buffer) > at + 5 and buffer[at + 5] in _XML_WS:
        declaration = _DECL.match(buffer, at)
        if declaration is None:
            raise Fallback
        encoding = declaration[1] or declaration[2]
        if encoding is not None and encoding.lower() not in ("utf-8", "utf8"):
            raise Fallback
        return declaration.end()
    return at


def _incomplete(buffer: str, at: int) -> bool:
    """Whether the unmatched rest of a chunk from ``at`` may be a token the next chunk completes.

    A comment, CDATA section or processing instruction may contain ``<``; any other token ends
    before the next ``<`` (tags and references cannot contain one), so an unmatched token followed
    by a ``<`` is malformed. ``<!DOCTYPE``/``<!ENTITY`` are handed to expat at once, which refuses
    them (a DOCTYPE in a big file must not wait for the carry limit)."""
    if buffer.startswith(("<!--", "<![CDATA[", "<?"), at):
        return True
    if buffer.startswith("<!", at) and len(buffer) - at >= 9:
        return False
    return buffer.find("<", at + 1) == -1


def scan(stream: IO[bytes], reader: Any, events: Events) -> Iterator[None]:
    """Feed ``stream`` through ``reader``'s handlers chunk by chunk, yielding after each chunk.

    Raises:
        Fallback: the expat reader must read this file (from the start).
    """
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    scanner = _Scanner(reader, events)
    carry = ""
    first = True
    try:
        while True:
            raw = stream.read(_CHUNK)
            final = not raw
            buffer = carry + decoder.decode(raw, final)
            position = 0
            if first:
                if not final and len(buffer) < 64:
                    carry = buffer
                    continue
                first = False
                position = _prolog(buffer)
            stopped = scanner.run(buffer, position)
            if not final and stopped < len(buffer) and not _incomplete(buffer, stopped):
                raise Fallback  # a complete token that matches nothing: expat says what and where
            carry = buffer[stopped:]
            if final:
                if carry or scanner.stack or not scanner.root_done:
                    raise Fallback
                break
            if len(carry) > _MAX_CARRY // 4 and len(carry.encode()) > _MAX_CARRY - 8:
                raise Fallback
            yield
    except (UnicodeDecodeError, ReportParseError):
        raise Fallback from None
    reader.drain()
