"""One size policy for every string a reader keeps, in every reader and every JUnit engine.

Bodies (message, trace, stdout, stderr) are cut to ``text_limit`` keeping head and tail; every
other string (name, class, suite, file, properties, tags, attachments, ``extra``) to
``DEFAULT_OUTPUT_LIMIT`` characters by ``bound_field``: a prefix and a hash of the whole value, so
tests that differ only past the cut stay distinct. A JUnit token (a start tag...) longer than
``MAX_TOKEN`` is refused by name before it is held whole. Regression: a 60 MB ``name="..."``
read back as a 62,914,560-character name (215 MB RSS); CTRF, JSONL, pytest and Playwright names
were kept whole too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats import (
    _junit_fast,
    read_ctrf,
    read_jsonl,
    read_junit,
    read_report,
    write_ctrf,
    write_jsonl,
    write_junit,
)
from maestro_test_result_aggregator.formats.junit import MAX_TOKEN
from maestro_test_result_aggregator.model import (
    DEFAULT_OUTPUT_LIMIT,
    Attachment,
    Attempt,
    Status,
    TestResult,
    TestRun,
    Tool,
    bound_field,
)

DATA = Path(__file__).parent / "data"
LIMIT = DEFAULT_OUTPUT_LIMIT
ENGINES = [("fast", "c"), ("fast", "pure"), ("expat", "pure")]
ENGINE_IDS = ["C", "pure", "expat"]


def _long(tail: str, size: int = 300_000) -> str:
    """Values sharing a long prefix and differing only at their end, far past the cut."""
    return "p" * size + tail


@pytest.fixture(params=ENGINES, ids=ENGINE_IDS)
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """A JUnit engine: the fast reader with its C accelerator, without it, or expat."""
    name, accelerator = request.param
    if accelerator == "c" and _junit_fast._speedups is None:
        pytest.skip("the C accelerator is not built here")
    if accelerator == "pure":
        monkeypatch.setattr(_junit_fast, "_speedups", None)
    return str(name)


def test_bound_field_keeps_values_apart_and_is_stable() -> None:
    a, b = bound_field(_long("a")), bound_field(_long("b"))
    assert len(a) == len(b) == LIMIT
    assert a != b
    assert a.startswith("ppp")
    assert "300001 characters" in a
    assert bound_field(a) == a  # what was cut and written reads back the same
    assert bound_field("short") == "short"


# ----------------------------------------------------------------------------- JUnit


def _junit_with_long_fields() -> str:
    cases = []
    for tail in "ab":
        cases.append(
            f'<testsuite name="{_long("suite")}" hostname="{_long("host" + tail)}" tests="1">'
            f'<testcase name="{_long(tail)}" classname="{_long("class")}" file="{_long("file")}" time="0.5"/>'
            "</testsuite>"
        )
    failing = (
        f'<testsuite name="s"><testcase name="{_long("f")}" classname="c">'
        f'<properties><property name="{_long("key")}" value="{_long("value")}"/></properties>'
        '<failure message="boom">trace</failure></testcase>'
        # plain childless testcases: the accelerator's and the pattern's own path
        + "".join(f'<testcase name="{_long(str(i))}" classname="c" time="0.1"/>' for i in range(3))
        + '<testcase name="after"/></testsuite>'
    )
    return f'<testsuites name="{_long("tool")}">{"".join(cases)}{failing}</testsuites>'


def test_junit_cuts_every_attribute_and_keeps_tests_apart(tmp_path: Path, engine: str) -> None:
    path = tmp_path / "long.xml"
    path.write_text(_junit_with_long_fields())
    run = read_junit(path, engine=engine)
    assert run.tool.name == bound_field(_long("tool"))
    names = [t.name for t in run.tests]
    assert names == [bound_field(_long(t)) for t in ["a", "b", "f", "0", "1", "2"]] + ["after"]
    first, second, failing = run.tests[:3]
    assert first.suite == (bound_field(_long("suite")),)
    assert first.classname == bound_field(_long("class"))
    assert first.file == bound_field(_long("file"))
    assert first.parameters == {}  # distinct names: nothing else needed to tell them apart
    assert second.duration == 0.5
    assert failing.status is Status.FAILED
    assert failing.extra == {"properties": {bound_field(_long("key")): bound_field(_long("value"))}}
    every = [*names, *(s for t in run.tests for s in t.suite), *(t.classname or "" for t in run.tests)]
    assert max(map(len, every)) == LIMIT


def test_junit_same_names_told_apart_by_a_long_hostname(tmp_path: Path, engine: str) -> None:
    # Playwright's shape (one same-named suite per project, the project only in hostname=), with
    # hostnames that differ only past the cut: still two tests.
    suites = "".join(
        f'<testsuite name="spec" hostname="{_long(host)}" tests="1"><testcase name="t"/></testsuite>'
        for host in ("desktop", "mobile")
    )
    path = tmp_path / "hosts.xml"
    path.write_text(f"<testsuites>{suites}</testsuites>")
    tests = read_junit(path, engine=engine).tests
    assert [t.parameters["project"] for t in tests] == [bound_field(_long(h)) for h in ("desktop", "mobile")]


@pytest.mark.parametrize("attribute", ["name", "classname", "file", "time", "line", "timestamp"])
@pytest.mark.parametrize("length", [LIMIT - 1, LIMIT, LIMIT + 1])
@pytest.mark.parametrize("children", [False, True], ids=["childless", "with a failure"])
def test_engines_agree_at_the_field_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attribute: str, length: int, children: bool
) -> None:
    # The pattern's value class, the C accelerator and the start handler switch at one length.
    body = "><failure/></testcase>" if children else "/>"
    cases = []
    for number, extra in enumerate(([("x", "1")], [])):  # the general tag path, then the pattern's
        attributes = {"name": f"n{number}", "classname": "c", attribute: str(number) + "9" * (length - 1)}
        written = " ".join(f'{key}="{value}"' for key, value in [*attributes.items(), *extra])
        cases.append(f"<testcase {written}{body}")
    path = tmp_path / "edge.xml"
    path.write_text(f'<testsuite name="s">{"".join(cases)}<testcase name="after"/></testsuite>')
    expat = read_junit(path, engine="expat")
    assert read_junit(path) == expat
    monkeypatch.setattr(_junit_fast, "_speedups", None)
    assert read_junit(path) == expat
    if attribute in ("name", "classname", "file"):
        assert [len(getattr(t, attribute)) for t in expat.tests[:2]] == [min(length, LIMIT)] * 2


def test_the_accelerator_stops_where_the_pattern_stops() -> None:
    speedups = _junit_fast._speedups
    if speedups is None:
        pytest.skip("the C accelerator is not built here")
    assert speedups.FIELD_LIMIT == LIMIT
    grammar = _junit_fast._grammar((), True)
    for length in (LIMIT - 1, LIMIT, LIMIT + 1):
        text = f'<testcase name="a"/><testcase classname="{"c" * length}" name="b"/><testcase name="z"/>'
        expected = []
        position = 0
        while (match := grammar.pattern.match(text, position)) is not None and match.lastindex == grammar.any:
            expected.append(tuple(grammar.any_get(match)))
            position = match.end()
        assert speedups.scan_testcases(text, 0) == (expected, position)
        assert len(expected) == (3 if length <= LIMIT else 1)


@pytest.mark.parametrize(
    ("token", "kind"),
    [
        ('<testcase classname="c" name="{}"/>', "attribute 'name' of a <testcase> tag"),
        ('<testcase name="a" time="1"><failure message="{}"/></testcase>', "attribute 'message' of a <failure> tag"),
        ("<!--{}-->", "a comment"),
    ],
    ids=["name", "message", "comment"],
)
@pytest.mark.parametrize("character", ["x", "\u20ac"], ids=["ascii", "3-byte UTF-8"])
def test_a_token_past_the_limit_is_refused_by_both_engines(
    tmp_path: Path, engine: str, token: str, kind: str, character: str
) -> None:
    # 3-byte characters: 3 Mi characters are 9 MiB, past the limit in bytes, under it in
    # characters (the fast reader's hand-over counts bytes too, so both readers refuse).
    body = character * ((MAX_TOKEN + (1 << 20)) // len(character.encode()))
    path = tmp_path / "token.xml"
    path.write_text(f'<testsuite name="s">\n<testcase name="ok"/>\n{token.format(body)}</testsuite>')
    with pytest.raises(ReportParseError) as caught:
        read_junit(path, engine=engine)
    message = str(caught.value)
    assert message.startswith(f"{path}:3:"), message[:300]  # the line where the token starts
    assert f"not readable: {kind} longer than 8 MiB" in message, message[:300]


_RSS_SCRIPT = """
import resource, sys
from maestro_test_result_aggregator.errors import ReportParseError
from maestro_test_result_aggregator.formats import _junit_fast, read_junit
if sys.argv[3] == "pure":
    _junit_fast._speedups = None
try:
    read_junit(sys.argv[1], engine=sys.argv[2])
except ReportParseError as error:
    assert "attribute 'name' of a <testcase> tag" in str(error), error
else:
    raise AssertionError("read")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

# Linux keeps a process's peak RSS across exec: a launcher reports its child's peak instead.
_LAUNCHER = """
import resource, subprocess, sys
subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.parametrize(("engine_name", "accelerator"), ENGINES, ids=ENGINE_IDS)
def test_a_60_mb_name_is_refused_in_bounded_memory(tmp_path: Path, engine_name: str, accelerator: str) -> None:
    if accelerator == "c" and _junit_fast._speedups is None:
        pytest.skip("the C accelerator is not built here")
    path = tmp_path / "hostile.xml"
    with path.open("w") as stream:
        stream.write('<testsuite name="s"><testcase classname="c" name="')
        for _ in range(60):
            stream.write("x" * (1 << 20))
        stream.write('"/></testsuite>')
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, _RSS_SCRIPT, str(path), engine_name, accelerator],
        check=True,
        capture_output=True,
        text=True,
    )
    peak_mb = int(done.stdout) // 1024
    # The interpreter and the package take about 25 MB; reading the name whole took 215 MB.
    assert peak_mb < 80, f"{engine_name}/{accelerator}: {peak_mb} MB"


# ----------------------------------------------------------------------------- JSON readers

_JSON_FIXTURES = ["ctrf_current.json", "json_report.json", "reportlog.jsonl", "playwright.json"]


@pytest.mark.parametrize("name", _JSON_FIXTURES)
def test_json_readers_cut_names_of_real_reports_and_keep_them_apart(tmp_path: Path, name: str) -> None:
    # A real report with two test names made 300,000 characters long, differing only at the end.
    source = DATA / name
    original = read_report(source).tests
    names = [t.name for t in original]
    alone = [n for n in dict.fromkeys(names) if sum(n in other for other in names) == 1 and len(n) > 3]
    chosen = alone[:2]
    assert len(chosen) == 2, names
    text = source.read_text()
    longer = {n: "p" * 300_000 + n for n in chosen}
    for short, long in longer.items():
        text = text.replace(short, long)
    path = tmp_path / name
    path.write_text(text)
    read = read_report(path).tests
    assert len(read) == len(original)
    for before, after in zip(original, read, strict=True):
        if before.name in longer:
            assert after.name == bound_field(longer[before.name])
            assert len(after.name) == LIMIT
        else:
            assert after.name == before.name
    assert len({t.test_id for t in read}) == len({t.test_id for t in original})


def _everything_long() -> TestResult:
    attachment = Attachment(_long("an"), _long("ct"), _long("ap"))
    return TestResult(
        _long("name"),
        Status.FAILED,
        suite=(_long("suite"), "inner"),
        file=_long("file"),
        classname=_long("class"),
        parameters={_long("pk"): _long("pv")},
        raw_status=_long("raw"),
        message=_long("message"),
        tags=(_long("tag"),),
        attachments=(attachment,),
        attempts=(Attempt(Status.FAILED, raw_status=_long("r1"), attachments=(attachment,)), Attempt(Status.FAILED)),
        extra={"note": [_long("extra")], _long("key"): 1},
    )


@pytest.mark.parametrize("reader", [read_jsonl, read_ctrf], ids=["jsonl", "ctrf"])
def test_json_readers_cut_every_string_field(tmp_path: Path, reader: object) -> None:
    run = TestRun(Tool(_long("tool"), _long("version")), [_everything_long()], run_id=_long("run"))
    path = tmp_path / "long.out"
    (write_jsonl if reader is read_jsonl else write_ctrf)(run, path)
    read = reader(path)  # type: ignore[operator]
    (result,) = read.tests
    strings: list[str] = [read.tool.name, read.tool.version or "", result.name, result.file or "", *result.suite]
    strings += [result.classname or "", *result.parameters, *result.parameters.values(), *result.tags]
    strings += [s for a in result.attachments for s in (a.name, a.content_type, a.path)]
    if reader is read_jsonl:
        strings += [read.run_id or "", result.raw_status or "", *(a.raw_status or "" for a in result.attempts)]
        strings += [*result.extra, *json.loads(json.dumps(result.extra))["note"]]
    assert all(len(s) <= LIMIT for s in strings), sorted(map(len, strings))[-3:]
    assert result.name == bound_field(_long("name"))
    assert result.message is not None
    assert "truncated by maestro" in result.message  # a body: head and tail, as before


@pytest.mark.parametrize("write", [write_junit, write_ctrf, write_jsonl], ids=["junit", "ctrf", "jsonl"])
def test_what_was_cut_reads_back_the_same(tmp_path: Path, write: object) -> None:
    first = tmp_path / "first.jsonl"
    write_jsonl(TestRun(Tool("x"), [_everything_long()]), first)
    cut = read_jsonl(first)
    path = tmp_path / "again.out"
    write(cut, path)  # type: ignore[operator]
    (again,) = read_report(path).tests
    (before,) = cut.tests
    assert (again.name, again.classname, again.file, again.suite) == (
        before.name,
        before.classname,
        before.file,
        before.suite,
    )
    assert again.test_id == before.test_id
