"""The fast JUnit reader against the expat reader (the reference): same runs, same errors.

Every JUnit fixture, hypothesis-generated documents (every dialect's elements, attributes in any
order and quoting, references, CDATA, comments, processing instructions, CR/LF, unicode) read
in chunks from 1 MiB down to a few bytes, and mutations of them (truncations, stray ``<`` and
``&``, ``]]>``, DOCTYPEs, illegal characters), and the same documents with attribute values at
and past the field limit: both readers must agree exactly.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maestro_test_result_aggregator.errors import ReportParseError, UnsafeInputError
from maestro_test_result_aggregator.formats import _junit_fast, iter_junit, junit, read_junit
from maestro_test_result_aggregator.model import DEFAULT_OUTPUT_LIMIT, Status, TestResult, TestRun

DATA = Path(__file__).parent / "data"
JUNIT_FIXTURES = sorted(path.name for path in DATA.glob("*.xml"))
SPEEDUPS = _junit_fast._speedups  # the C accelerator module, None where it was not built
ACCELERATOR = None if SPEEDUPS is None else SPEEDUPS.scan_testcases


def accelerator_or_skip() -> None:
    """Skip (or, where CI requires it, fail) when the C accelerator was not built."""
    if ACCELERATOR is None:
        if os.environ.get("MAESTRO_REQUIRE_SPEEDUPS") == "1":
            pytest.fail("MAESTRO_REQUIRE_SPEEDUPS=1 but the JUnit reader's C accelerator is not built")
        pytest.skip("the JUnit reader's C accelerator is not built here (no C compiler when installed)")


@pytest.fixture(scope="module", autouse=True, params=["C accelerator", "pure Python"])
def tokenizer(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs twice: the fast reader with its C accelerator and without it."""
    if request.param == "C accelerator":
        accelerator_or_skip()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_junit_fast, "_speedups", SPEEDUPS if request.param == "C accelerator" else None)
        yield request.param


def outcome(path: Path, engine: str) -> TestRun | tuple[type[BaseException], str, int | None, int | None]:
    try:
        return read_junit(path, engine=engine)
    except ReportParseError as error:
        return type(error), str(error), error.line, error.column


def streamed(path: Path, engine: str) -> list[object] | tuple[type[BaseException], str]:
    try:
        return list(iter_junit(path, engine=engine))
    except ReportParseError as error:
        return type(error), str(error)


def fast_handles(path: Path) -> bool:
    """True when the fast reader parsed ``path`` itself (no hand-over to expat)."""
    return junit._read_fast(str(path), 64 * 1024) is not None


@pytest.mark.parametrize("name", JUNIT_FIXTURES)
@pytest.mark.parametrize("chunk", [1 << 20, 7, 64])
def test_every_fixture_reads_the_same(name: str, chunk: int) -> None:
    path = DATA / name
    with mock.patch.object(_junit_fast, "_CHUNK", chunk):
        assert fast_handles(path)
        assert outcome(path, "fast") == outcome(path, "expat")
        assert streamed(path, "fast") == streamed(path, "expat")


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="engine must be one of fast, expat"):
        read_junit(DATA / "surefire.xml", engine="lxml")
    with pytest.raises(ValueError, match="engine must be one of"):
        iter_junit(DATA / "surefire.xml", engine="sax")


# ----------------------------------------------------------------------------- documents

WS = st.sampled_from(["", " ", "\n", "\r\n", "\t", "  \n  ", "\r"])
SEP = st.sampled_from([" ", "\n", "\t", " \r\n ", "  "])
RAW = st.text(
    st.one_of(
        st.sampled_from(list("<>&\"' \t\n\r]=/;#x-?!")),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    ),
    max_size=12,
)
ENTITY = {"&": ["&amp;", "&#38;", "&#x26;"], "<": ["&lt;", "&#60;"], ">": [">", "&gt;"], "\r": ["&#13;", "\r"]}


@st.composite
def escaped(draw: st.DrawFn, quote: str = "") -> str:
    """Random raw text escaped as XML (each special character one of its spellings)."""
    out = []
    for char in draw(RAW):
        if char == quote:
            out.append({'"': "&quot;", "'": "&apos;"}[char])
        elif char in ENTITY:
            out.append(draw(st.sampled_from(ENTITY[char])))
        elif char == "]":
            out.append("&#93;")
        elif char in "\t\n" and quote:
            out.append(draw(st.sampled_from([char, f"&#{ord(char)};"])))
        else:
            out.append(char)
    return "".join(out)


ATTR_VALUES = {
    "time": st.sampled_from(["0.1", "1,234.5", "abc", "", " 2 ", "1e3", "0.001", "1_0"]),
    "line": st.sampled_from(["10", "x", "", " 7", "0"]),
    "timestamp": st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01T00:00:00", "bad"]),
    "type": st.sampled_from(["AssertionError", "pytest.xfail", "skip"]),
}
ATTR_NAMES = ["name", "classname", "time", "file", "line", "timestamp", "type", "message", "x-y", "ns:attr"]


@st.composite
def attributes(draw: st.DrawFn, names: list[str] = ATTR_NAMES) -> str:
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=6))
    out = []
    for name in chosen:
        quote = draw(st.sampled_from(['"', '"', "'"]))
        value = draw(ATTR_VALUES[name]) if name in ATTR_VALUES else draw(escaped(quote))
        equals = draw(st.sampled_from(["=", "=", " = ", "\n=\t"]))
        out.append(f"{draw(SEP)}{name}{equals}{quote}{value}{quote}")
    return "".join(out) + draw(WS)


@st.composite
def content(draw: st.DrawFn) -> str:
    """Character data with the constructs that may appear in it."""
    parts = draw(
        st.lists(
            st.one_of(
                escaped(),
                RAW.filter(lambda s: "]]>" not in s).map(lambda s: f"<![CDATA[{s}]]>"),
                RAW.map(lambda s: "<!--" + s.replace("-", "_") + "-->"),
                st.just("<?pi some data?>"),
                st.sampled_from(["&#x1F600;", "&#233;", "&apos;", "\r\n", "caf\u00e9 \u6f22"]),
            ),
            max_size=4,
        )
    )
    return "".join(parts)


@st.composite
def child(draw: st.DrawFn) -> str:
    kind = draw(
        st.sampled_from(
            ["failure", "error", "skipped", "system-out", "system-err", "properties", "flakyFailure", "rerunError", "x"]
        )
    )
    if kind == "properties":
        props = "".join(
            f'<property name="{name}" value="{draw(escaped(chr(34)))}"/>{draw(WS)}'
            for name in draw(
                st.lists(st.sampled_from(["maestro.tag", "maestro.parameter.p", "k", "maestro.x"]), max_size=3)
            )
        )
        return f"<properties>{draw(WS)}{props}</properties>"
    if kind in ("flakyFailure", "rerunError"):
        inner = "".join(
            f"<{tag}>{draw(content())}</{tag}>"
            for tag in draw(st.lists(st.sampled_from(["stackTrace", "system-out", "system-err"]), unique=True))
        )
        return f"<{kind}{draw(attributes(['message', 'time', 'type']))}>{draw(WS)}{inner}</{kind}>"
    attrs = draw(attributes(["message", "type", "time"]))
    if draw(st.booleans()):
        return f"<{kind}{attrs}/>"
    return f"<{kind}{attrs}>{draw(content())}</{kind}>"


@st.composite
def case_element(draw: st.DrawFn) -> str:
    attrs = draw(attributes())
    shape = draw(st.sampled_from(["empty", "pair", "children"]))
    if shape == "empty":
        return f"<testcase{attrs}/>"
    if shape == "pair":
        return f"<testcase{attrs}>{draw(WS)}</testcase>"
    children = "".join(draw(child()) + draw(WS) for _ in range(draw(st.integers(1, 3))))
    return f"<testcase{attrs}>{draw(WS)}{children}</testcase>"


@st.composite
def suite(draw: st.DrawFn, depth: int = 0) -> str:
    items = []
    for _ in range(draw(st.integers(0, 5))):
        pick = draw(st.integers(0, 9))
        if pick == 0 and depth < 2:
            items.append(draw(suite(depth + 1)))
        elif pick == 1:
            items.append("<!-- a <testcase name='commented'/> -->")
        elif pick == 2:
            items.append('<properties><property name="k" value="v"/></properties>')
        else:
            items.append(draw(case_element()))
        items.append(draw(WS))
    return (
        f"<testsuite{draw(attributes(['name', 'time', 'timestamp', 'tests']))}>{draw(WS)}{''.join(items)}</testsuite>"
    )


@st.composite
def documents(draw: st.DrawFn) -> str:
    prolog = draw(
        st.sampled_from(
            [
                "",
                '<?xml version="1.0" encoding="UTF-8"?>\n',
                "<?xml version='1.0' encoding='utf-8' standalone='yes'?>",
                '<?xml version="1.0"?>\r\n<!-- generated -->\n',
                '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<?xml-stylesheet href=\'x\'?>',
            ]
        )
    )
    if draw(st.booleans()):
        suites = "".join(draw(suite()) + draw(WS) for _ in range(draw(st.integers(0, 3))))
        body = f"<testsuites{draw(attributes(['name', 'timestamp', 'time']))}>{draw(WS)}{suites}</testsuites>"
    else:
        body = draw(suite())
    return prolog + body + draw(st.sampled_from(["", "\n", "\n<!-- end -->\n", "  "]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    document=documents(),
    length=st.sampled_from([DEFAULT_OUTPUT_LIMIT - 1, DEFAULT_OUTPUT_LIMIT, DEFAULT_OUTPUT_LIMIT + 1, 200_000]),
    attribute=st.sampled_from(["name", "file", "message", "value"]),
    chunk=st.sampled_from([1 << 20, 4096]),
)
def test_generated_documents_with_values_at_the_field_limit_read_the_same(
    tmp_path_factory: pytest.TempPathFactory, document: str, length: int, attribute: str, chunk: int
) -> None:
    # Every ``name=``/``file=``... value (``classname`` and suite names included) made ``length``
    # characters longer: the pattern's bounded value class, the C accelerator's bound and the
    # start handler's cut (``bound_field``) must agree with expat's reading on every path.
    long = "L" * length
    for quote in "\"'":
        document = document.replace(f"{attribute}={quote}", f"{attribute}={quote}{long}")
    path = tmp_path_factory.mktemp("long") / "doc.xml"
    path.write_bytes(document.encode("utf-8"))
    with mock.patch.object(_junit_fast, "_CHUNK", chunk):
        expected = outcome(path, "expat")
        assert outcome(path, "fast") == expected
        assert streamed(path, "fast") == streamed(path, "expat")
    if isinstance(expected, TestRun):
        assert all(
            len(t.name) <= DEFAULT_OUTPUT_LIMIT and len(t.file or "") <= DEFAULT_OUTPUT_LIMIT for t in expected.tests
        )


MUTATIONS = [
    "<",
    "&",
    "]]>",
    "<!DOCTYPE x>",
    '"',
    "</a>",
    "\x01",
    "&bogus;",
    '<?xml version="1.0"?>',
    ">",
    "<a",
    "\ufffe",
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(document=documents(), chunk=st.sampled_from([1 << 20, 3, 16, 61]))
def test_generated_documents_read_the_same(tmp_path_factory: pytest.TempPathFactory, document: str, chunk: int) -> None:
    path = tmp_path_factory.mktemp("gen") / "doc.xml"
    path.write_bytes(document.encode("utf-8"))
    with mock.patch.object(_junit_fast, "_CHUNK", chunk):
        assert fast_handles(path), document  # valid UTF-8 XML: no hand-over to expat
        assert outcome(path, "fast") == outcome(path, "expat")
        assert streamed(path, "fast") == streamed(path, "expat")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    document=documents(),
    where=st.floats(0, 1),
    mutation=st.sampled_from([*MUTATIONS, "delete", "truncate"]),
    chunk=st.sampled_from([1 << 20, 5, 32]),
)
def test_mutated_documents_fail_or_read_the_same(
    tmp_path_factory: pytest.TempPathFactory, document: str, where: float, mutation: str, chunk: int
) -> None:
    at = int(where * len(document))
    if mutation == "delete":
        document = document[:at] + document[at + 1 :]
    elif mutation == "truncate":
        document = document[:at]
    else:
        document = document[:at] + mutation + document[at:]
    path = tmp_path_factory.mktemp("mut") / "doc.xml"
    path.write_bytes(document.encode("utf-8"))
    with mock.patch.object(_junit_fast, "_CHUNK", chunk):
        assert outcome(path, "fast") == outcome(path, "expat")
        assert streamed(path, "fast") == streamed(path, "expat")


# ----------------------------------------------------------------------------- hostile input

HOSTILE = {
    "billion laughs": (
        '<?xml version="1.0"?>\n<!DOCTYPE l [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]>\n<testsuite name="&b;"/>'
    ),
    "external entity": '<?xml version="1.0"?>\n<!DOCTYPE f [<!ENTITY x SYSTEM "file:///etc/passwd">]><testsuite/>',
    "external dtd": '<!DOCTYPE testsuite SYSTEM "http://127.0.0.1:9/e.dtd">\n<testsuite name="x"/>',
    "doctype in body": '<testsuite name="x">\n  <!DOCTYPE x>\n</testsuite>',
    "entity in body": '<testsuite name="x"><!ENTITY x "y"></testsuite>',
    "undefined entity": '<testsuite name="x">\n  <testcase name="&secret;"/>\n</testsuite>',
    "undefined entity in text": (
        '<testsuite name="x"><testcase name="a"><failure>&nbsp;</failure></testcase></testsuite>'
    ),
    "truncated": '<testsuites>\n  <testsuite name="x">\n    <testcase name="a"/>\n    <testc',
    "mismatched": '<testsuite name="x">\n<testcase name="a"></testsuite></testcase>',
    "unclosed root": '<testsuite name="x"><testcase name="a"/>',
    "two roots": '<testsuite name="x"/><testsuite name="y"/>',
    "text after root": '<testsuite name="x"/>junk',
    "duplicate attribute": '<testsuite name="x">\n <testcase name="a" time="1" name="b"/></testsuite>',
    "lt in attribute": '<testsuite name="x"><testcase name="a<b"/></testsuite>',
    "cdata end in text": '<testsuite name="x"><testcase name="a"><failure>a ]]> b</failure></testcase></testsuite>',
    "bad char reference": '<testsuite name="x"><testcase name="&#0;"/></testsuite>',
    "control character": '<testsuite name="x"><testcase name="a\x07"/></testsuite>',
    "late declaration": '\n<?xml version="1.0"?><testsuite name="x"/>',
    "not junit": "<html><body/></html>",
    "empty": "",
    "duplicate after a learned order": (
        '<testsuite name="x">'
        + '<testcase classname="c" name="a"/>' * 3
        + '<testcase name="b classname=" classname="c" classname="d"/></testsuite>'
    ),
    "comment with double dash": '<testsuite name="x"><!-- a -- b --></testsuite>',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_fail_the_same_way(tmp_path: Path, name: str) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(HOSTILE[name].encode("utf-8"))
    fast = outcome(path, "fast")
    assert isinstance(fast, tuple), f"{name} was accepted"
    assert fast == outcome(path, "expat")
    assert fast[1].startswith(str(path))
    assert fast[2] is not None  # a line, and a column, for every XML error
    assert fast[3] is not None


@pytest.mark.parametrize("name", ["billion laughs", "external entity", "external dtd"])
def test_doctype_is_refused_as_unsafe_by_both(tmp_path: Path, name: str) -> None:
    path = tmp_path / "evil.xml"
    path.write_bytes(HOSTILE[name].encode("utf-8"))
    with pytest.raises(UnsafeInputError, match="DOCTYPE"):
        read_junit(path)


@pytest.mark.parametrize(
    "raw",
    [
        '<?xml version="1.0" encoding="ISO-8859-1"?><testsuite name="caf\u00e9"/>'.encode("latin-1"),
        '<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="caf\u00e9"/>'.encode("latin-1"),
        '<?xml version="1.0" encoding="UTF-16"?><testsuite name="s"><testcase name="x"/></testsuite>'.encode("utf-16"),
        b'<testsuite name="x"><testcase name="\xff"/></testsuite>',
        b"<\x00\xff\xfe garbage \x00\x01",
    ],
)
def test_other_encodings_and_bad_bytes_go_to_expat(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "enc.xml"
    path.write_bytes(raw)
    assert not fast_handles(path)
    assert outcome(path, "fast") == outcome(path, "expat")


def test_a_token_longer_than_the_carry_limit_goes_to_expat(tmp_path: Path) -> None:
    path = tmp_path / "cdata.xml"
    path.write_text(
        '<testsuite name="s"><testcase name="t"><failure><![CDATA['
        + "x" * 5000
        + "]]></failure></testcase></testsuite>"
    )
    with mock.patch.object(_junit_fast, "_MAX_CARRY", 1000), mock.patch.object(_junit_fast, "_CHUNK", 512):
        assert not fast_handles(path)
        assert outcome(path, "fast") == outcome(path, "expat")
        assert streamed(path, "fast") == streamed(path, "expat")


def test_streaming_resumes_on_expat_without_repeating_results(tmp_path: Path) -> None:
    # The fast reader yields results chunk by chunk, then meets an error expat must report:
    # the results already given are not given twice, and the error is expat's.
    path = tmp_path / "late.xml"
    body = "".join(f'<testcase name="t{i}"/>\n' for i in range(300))
    path.write_text(f'<testsuite name="s">{body}<testcase name="&bad;"/></testsuite>')
    seen: list[str] = []
    with mock.patch.object(_junit_fast, "_CHUNK", 1024), pytest.raises(ReportParseError, match="undefined entity"):
        seen.extend(result.name for result in iter_junit(path))
    assert seen == [f"t{i}" for i in range(len(seen))]
    assert len(seen) > 100


def test_attribute_orders_are_learned_and_mixed_orders_still_read(tmp_path: Path) -> None:
    path = tmp_path / "orders.xml"
    cases = []
    for i in range(200):
        if i % 3 == 0:
            cases.append(f'<testcase name="t{i}" classname="c" time="0.{i}"/>')
        elif i % 3 == 1:
            cases.append(f'<testcase classname="c" time="1" name="t{i}" line="{i}" file="f.py"></testcase>')
        else:
            cases.append(f'<testcase name="t{i}" assertions="2" classname="c"/>')
    path.write_text('<testsuite name="s">' + "\n".join(cases) + "</testsuite>")
    assert fast_handles(path)
    fast = read_junit(path)
    assert fast == read_junit(path, engine="expat")
    assert [result.name for result in fast.tests] == [f"t{i}" for i in range(200)]


@pytest.mark.parametrize(
    "head",
    [
        '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e "e">]>\n<testsuite name="s">',
        '<testsuite name="s">\n<testcase name=unquoted/>',
        '<testsuite name="s">\n<testcase name="a">&undefined;</testcase>',
    ],
)
def test_hand_over_to_expat_happens_at_the_bad_token_not_at_the_end(head: str) -> None:
    # The fast reader must not carry a bad token chunk after chunk up to its carry limit.
    body = "".join(f'<testcase name="t{i}"/>\n' for i in range(20_000))
    stream = io.BytesIO((head + body + "</testsuite>").encode())
    events, reader = junit._fast_reader("big.xml", 1024)
    with mock.patch.object(_junit_fast, "_CHUNK", 4096), pytest.raises(_junit_fast.Fallback):
        for _ in _junit_fast.scan(stream, reader, events):
            pass
    assert stream.tell() <= 2 * 4096


@pytest.mark.slow
def test_ingest_benchmark_table_runs(tmp_path: Path, tokenizer: str) -> None:
    bench = Path(__file__).parents[2] / "bench"
    sys.path.insert(0, str(bench))
    try:
        module = importlib.import_module("bench_aggregator")
        table = module.ingest_table(tmp_path, 2_000, True)
    finally:
        sys.path.remove(str(bench))
    text = table.render()
    assert [row[0] for row in table.rows[:4]] == [
        "maestro read_junit (fast reader, default)",
        "maestro read_junit, pure Python (no accelerator)",
        "maestro read_junit(engine='expat')",
        "stdlib ET iterparse, same results built",
    ]
    assert ("C accelerator is NOT built" in text) == (tokenizer == "pure Python")
    assert "Target (issue 5)" in text
    assert "the bare loop" in text


BOUNDARY_CHARACTERS = [
    *"\x00\x08\x09\x0a\x0b\x0c\x0d\x0e\x1f !\"#%&';<=>[\\]^\x7f",
    "\x80",
    "\xff",
    "\u0100",
    "\ud7ff",
    "\ue000",
    "\ufffd",
    "\ufffe",
    "\uffff",
    "\U00010000",
    "\U0010ffff",
]
LEGAL_BOUNDARY = [c for c in BOUNDARY_CHARACTERS if c not in '\x00\x08\x0b\x0c\x0e\x1f\ufffe\uffff"&<']


@pytest.mark.parametrize("char", BOUNDARY_CHARACTERS, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize(
    "where",
    [
        '<testcase classname="c" name="a{c}b" time="1"/>',  # the learned fixed order, childless
        '<testcase classname="c" name="a{c}b" time="1"><failure message="m"/></testcase>',  # with children
        "<testcase classname='c' name='a{c}b' time='1'/>",  # single quotes: the general path
        '<testcase classname="c" name="n" time="1"><system-out>x{c}y</system-out></testcase>',  # text
    ],
)
def test_character_class_boundaries_read_the_same(tmp_path: Path, char: str, where: str) -> None:
    """The fast reader's classes of legal characters (ranges) accept exactly what expat accepts."""
    learn = '<testcase classname="c" name="first" time="1"/>'  # teaches the order (classname, name, time)
    path = tmp_path / "boundary.xml"
    path.write_bytes(f'<testsuite name="s">{learn}{where.format(c=char)}</testsuite>'.encode("utf-8", "surrogatepass"))
    assert outcome(path, "fast") == outcome(path, "expat")
    if char in LEGAL_BOUNDARY and not (char == "'" and "'" in where):
        assert fast_handles(path)


@pytest.mark.parametrize("chunk", [1 << 20, 4096, 61])
def test_a_wide_character_after_latin1_chunks_switches_grammar(tmp_path: Path, chunk: int) -> None:
    """Latin-1 chunks use the narrow (cheap to compile) grammar; the first chunk holding a
    character above U+00FF switches to the wide one, with nothing lost at the switch."""

    def cases(first: int) -> str:
        return "".join(
            f'<testcase classname="c" name="t{i} caf\u00e9" time="0.1"/>\n' for i in range(first, first + 300)
        )

    wide = (
        '<testcase classname="c" name="\u6f22\u5b57 \U0001f600" time="0.2"/>\n'
        '<testcase classname="c" name="\u0100"><failure message="\u2603">\u2603 trace</failure></testcase>\n'
    )
    path = tmp_path / "wide.xml"
    path.write_text(f'<testsuite name="s">{cases(0)}{wide}{cases(300)}</testsuite>', encoding="utf-8")
    with mock.patch.object(_junit_fast, "_CHUNK", chunk):
        assert fast_handles(path)
        fast = outcome(path, "fast")
        assert fast == outcome(path, "expat")
        assert streamed(path, "fast") == streamed(path, "expat")
    assert isinstance(fast, TestRun)
    assert [t.name for t in fast.tests][300:302] == ["\u6f22\u5b57 \U0001f600", "\u0100"]
    assert len(fast.tests) == 602


@pytest.mark.parametrize("chunk", [1 << 20, 997, 61])
def test_runs_of_childless_testcases_across_chunks_share_class_and_file_strings(tmp_path: Path, chunk: int) -> None:
    """Consecutive testcases mostly repeat the class and file of the one before (the fast path
    compares with it before hashing): values that change, come back, or go missing, across
    suites and chunk boundaries, read as expat reads them, and equal values are one object."""
    cases = []
    for i in range(400):
        klass = ("pkg.A", "pkg.B", "pkg.A", "pkg.C")[i // 7 % 4]
        file = f' file="tests/{klass}.py"' if i % 13 else ""
        failure = '<failure message="m">tb</failure>' if i % 50 == 49 else ""
        cases.append(
            f'<testcase classname="{klass}" name="t{i}" time="0.{i % 10}"{file} line="{i}">{failure}</testcase>'
        )
    suites = "".join(
        f'<testsuite name="s{n}">\n' + "\n".join(cases[n * 100 : n * 100 + 100]) + "</testsuite>" for n in range(4)
    )
    path = tmp_path / "runs.xml"
    path.write_text(f"<testsuites>{suites}</testsuites>")
    with mock.patch.object(_junit_fast, "_CHUNK", chunk):
        assert fast_handles(path)
        fast = read_junit(path)
        assert fast == read_junit(path, engine="expat")
        assert streamed(path, "fast") == streamed(path, "expat")
    tests = fast.tests
    assert [t.name for t in tests] == [f"t{i}" for i in range(400)]
    assert [t.file for t in tests[:14]] == [None] + ["tests/pkg.A.py"] * 6 + ["tests/pkg.B.py"] * 6 + [None]
    by_value: dict[object, object] = {}
    for result in tests:
        for value in (result.classname, result.file):
            assert by_value.setdefault(value, value) is value  # one object per distinct value


@pytest.mark.parametrize("line", ["\u00b2", "\u0661\u0662", " 12 ", "", "x1", "9" * 5000])
def test_odd_line_numbers_read_the_same_and_never_raise(tmp_path: Path, line: str) -> None:
    """``int`` takes some digits (Arabic-Indic) and refuses others ``str.isdigit`` accepts
    ("²"): the readers used to raise ValueError on the latter; now it is no line (None)."""
    path = tmp_path / "line.xml"
    body = "".join(f'<testcase classname="c" name="t{i}" line="{line}"/>' for i in range(3))
    path.write_text(f'<testsuite name="s">{body}<testcase name="u" line="{line}"/></testsuite>', encoding="utf-8")
    fast = read_junit(path)
    assert fast == read_junit(path, engine="expat")
    stripped = line.strip()
    expected = int(stripped) if stripped.isdecimal() and len(stripped) < 4000 else None
    assert [t.line for t in fast.tests] == [expected] * 4


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("a &quot;b&quot; &apos;c&apos;", "a \"b\" 'c'"),
        ("&amp;lt; stays escaped once: &amp;amp;", "&lt; stays escaped once: &amp;"),
        ("&lt;&gt;&amp;", "<>&"),
        ("&#65;&#x42; and &quot;", 'AB and "'),
        ("cr &#13; kept, raw\r\nand\rnormalised", "cr \r kept, raw\nand\nnormalised"),
        ("&amp;#65; is not a reference", "&#65; is not a reference"),
    ],
)
@pytest.mark.parametrize("chunk", [1 << 20, 7])
def test_text_with_references_is_one_token_and_reads_as_expat_reads_it(
    tmp_path: Path, raw: str, text: str, chunk: int
) -> None:
    """Character data and its references are one token (one regex match, resolved in Python):
    a traceback full of quotes costs one match, not one per quote."""
    path = tmp_path / "refs.xml"
    path.write_bytes(
        (
            '<testsuite name="s">\n  <testcase classname="c" name="t">\n    '
            f'<failure message="m">{raw}</failure>\n    <system-out>{raw}</system-out>\n  </testcase>\n</testsuite>'
        ).encode()
    )
    with mock.patch.object(_junit_fast, "_CHUNK", chunk):
        assert fast_handles(path)
        fast = read_junit(path)
        assert fast == read_junit(path, engine="expat")
    (result,) = fast.tests
    assert (result.trace, result.stdout) == (text, text)


@pytest.mark.parametrize("chunk", [1 << 20, 5, 13])
def test_whitespace_before_a_tag_is_kept_where_text_is_collected(tmp_path: Path, chunk: int) -> None:
    """Whitespace before a start or end tag is one token with the tag: it must still reach the
    collected text (whitespace-only output and trace), line ends normalised, as expat gives it."""
    path = tmp_path / "ws.xml"
    case = '<failure message="m">\r\n  \t</failure>\n  <system-out>  \r\n </system-out><system-err>\n</system-err>'
    path.write_bytes(f'<testsuite name="s">\n <testcase name="t">\n  {case}\n </testcase>\n</testsuite>\n'.encode())
    with mock.patch.object(_junit_fast, "_CHUNK", chunk):
        assert fast_handles(path)
        fast = read_junit(path)
        assert fast == read_junit(path, engine="expat")
    (result,) = fast.tests
    assert (result.trace, result.stdout, result.stderr) == (None, "  \n ", "\n")  # a blank trace is no trace


MARKUP_IN_TEXT = """<testsuite name="s">
  <testcase name="t" classname="c">
    <flakyFailure message="first"><stackTrace>at <b>Foo</b>.bar</stackTrace>
      <system-out>a<i>b</i>c</system-out></flakyFailure>
    <failure message="m">x <i>y</i> z</failure>
    <system-out>before <b>bold <u>under</u></b> after</system-out>
  </testcase>
</testsuite>
"""


@pytest.mark.parametrize("engine", ["fast", "expat"])
def test_markup_inside_text_elements_keeps_all_of_their_text(tmp_path: Path, engine: str) -> None:
    # The JUnit schema has no child elements inside these, but tools write them: dropping the
    # text (it used to end collection at the first nested end tag) would lose output silently.
    path = tmp_path / "markup.xml"
    path.write_text(MARKUP_IN_TEXT, encoding="utf-8")
    (test,) = read_junit(path, engine=engine).tests
    assert test.stdout == "before bold under after"
    assert test.trace == "x y z"
    first = test.attempts[0]
    assert (first.message, first.trace, first.stdout) == ("first", "at Foo.bar", "abc")


# ----------------------------------------------------------------------- the C accelerator

PLAIN_VALUE = st.text(
    st.one_of(
        st.sampled_from(list("<>&\"' \t\n\r=/;#x-\ufffe\uffff")),
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
    ),
    max_size=8,
)
CASE_NAMES = ["name", "classname", "time", "file", "line", "timestamp", "message", "names"]


@st.composite
def childless_runs(draw: st.DrawFn) -> str:
    """Runs of testcase elements, mostly childless and plain, with every way to spoil one."""
    out = []
    for _ in range(draw(st.integers(0, 5))):
        attrs = []
        for name in draw(st.lists(st.sampled_from(CASE_NAMES), max_size=4)):  # duplicates allowed
            equals = draw(st.sampled_from(['="', '="', '="', " ='", "='"]))
            space = draw(st.sampled_from([" ", "\n", "\t ", ""]))
            attrs.append(space + name + equals + draw(PLAIN_VALUE) + '"')
        end = draw(st.sampled_from(["/>", "/>", "></testcase>", ">\n </testcase>", " />", ">", "></testcase >", "/"]))
        out.append(draw(WS) + "<testcase" + "".join(attrs) + draw(WS.filter(lambda w: w != "\r")) + end)
    return "".join(out) + draw(st.sampled_from(["", "<", "<testcase", " ", "</testsuite>"]))


def pattern_run(text: str, position: int) -> tuple[list[tuple[str | None, ...]], int]:
    """What the C scanner must return: the pure-Python grammar's childless-testcase matches."""
    grammar = _junit_fast._grammar((), True)
    cases = []
    while (match := grammar.pattern.match(text, position)) is not None and match.lastindex == grammar.any:
        cases.append(tuple(grammar.any_get(match)))
        position = match.end()
    return cases, position


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=childless_runs(), start=st.integers(0, 3))
def test_accelerator_reads_exactly_what_the_pattern_reads(text: str, start: int) -> None:
    accelerator_or_skip()
    assert ACCELERATOR is not None
    start = min(start, len(text))
    assert ACCELERATOR(text, start) == pattern_run(text, start)


def test_accelerator_refuses_bad_arguments_and_stops_at_the_buffer_end() -> None:
    accelerator_or_skip()
    assert ACCELERATOR is not None
    case = '<testcase name="a" time="0.1"/>'
    assert ACCELERATOR(case * 3, 0) == ([("a", None, "0.1", None, None, None)] * 3, 3 * len(case))
    assert ACCELERATOR(case + case[:-1], 0) == ([("a", None, "0.1", None, None, None)], len(case))  # cut off
    assert ACCELERATOR("", 0) == ([], 0)
    with pytest.raises(ValueError, match="outside"):
        ACCELERATOR(case, len(case) + 1)
    with pytest.raises(TypeError):
        ACCELERATOR(case.encode(), 0)  # type: ignore[arg-type]


def test_the_accelerator_is_what_read_junit_uses_here(tmp_path: Path, tokenizer: str) -> None:
    # A long run of passing tests is built by one accelerator call per run (or by the pattern alone).
    path = tmp_path / "run.xml"
    first, second = ("".join(f'<testcase classname="c" name="{p}{i}" time="0.{i}"/>' for i in range(50)) for p in "tu")
    path.write_text(f'<testsuite name="s">{first}<testcase name="f"><failure/></testcase>{second}</testsuite>')
    built: list[int] = []
    real = _junit_fast._speedups

    class Counting:
        @staticmethod
        def build_testcases(buffer: str, position: int, tests: list[TestResult], *rest: object) -> int:
            assert real is not None
            before = len(tests)
            end = real.build_testcases(buffer, position, tests, *rest)
            built.append(len(tests) - before)
            return int(end)

    with mock.patch.object(_junit_fast, "_speedups", Counting if real is not None else None):
        run = read_junit(path)
    assert [r.name for r in run.tests] == [f"t{i}" for i in range(50)] + ["f"] + [f"u{i}" for i in range(50)]
    assert built == ([50, 50] if tokenizer == "C accelerator" else [])


@pytest.mark.parametrize(
    ("attributes", "built"),
    [
        ('name="a" time="0.5" line="3"', 1),
        ('name="a" time="1,5"', 0),  # float() refuses it: the Python reader parses it
        ('name="a" line="x"', 0),  # int() refuses it
        ('name="a" timestamp="2024-01-01T00:00:00Z"', 0),  # a start time: the Python reader's
        ('name="a" line="\u0661\u0662" time=" 2 "', 1),  # what float() and int() accept, C accepts
    ],
)
def test_accelerator_leaves_what_python_converts_differently_to_python(
    tmp_path: Path, attributes: str, built: int
) -> None:
    accelerator_or_skip()
    assert SPEEDUPS is not None
    text = f"<testcase {attributes}/>"
    tests: list[TestResult] = []
    times: dict[object, float] = {None: 0.0}
    end = SPEEDUPS.build_testcases(text, 0, tests, {}, times, TestResult, Status.PASSED, ("s",))
    assert (len(tests), end) == (built, len(text) if built else 0)
    path = tmp_path / "one.xml"
    path.write_text(f'<testsuite name="s">{text}</testsuite>')
    assert read_junit(path) == read_junit(path, engine="expat")
