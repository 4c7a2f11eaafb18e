"""Two real third-party pytest suites, from pinned sdists of the package index, run with plain
``pytest --junitxml`` and through ``maestro-test``: the results must agree test for test. Then
what must never turn green or hang on such a suite: a pytest-cov gate, pytest-rerunfailures'
``--fail-on-flaky``, a SIGTERM mid-run, and a Vitest worker killed mid-test, each checked for
``maestro-test``'s exit code and its results.

The sdists are downloaded once into ``$MAESTRO_SDIST_CACHE`` (default
``~/.cache/maestro-test-adapters/sdists``) and checked against their pinned SHA-256. Marked
``thirdparty``: the CI configuration decides where these minutes are spent.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from maestro_test_adapters._nodeid import split_nodeid
from maestro_test_result_aggregator.formats import read_jsonl, read_junit
from maestro_test_result_aggregator.model import Status, TestRun
from tests.fixtures.services import unavailable
from tests.test_adapters.test_frontend import KILLS_ITS_WORKER, PROJECT, installed_copy
from tests.waiting import wait_until

pytestmark = [pytest.mark.thirdparty, pytest.mark.slow]

CLI = [sys.executable, "-m", "maestro_test_adapters"]
PYTEST = [sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider"]
SDISTS = {  # name, version, SHA-256 of the sdist on the package index
    "tenacity": ("9.1.2", "1169d376c297e7de388d18b4481760d478b0e99a777cad3a9c86e556f4b697cb"),
    "more-itertools": ("10.7.0", "9fddd5403be01a94b204faadcff459ec3568cf110265d3c54323e1e866ad29d3"),
}
# tornado is not installed here: its test module is left out of both runs alike
TENACITY_ARGS = ("tests", "--ignore=tests/test_tornado.py")
MORE_ITERTOOLS_ARGS = ("tests/test_more.py",)
# the deliberately broken function: ilen counts one too many (its tests, and those using it, fail)
BROKEN_ILEN = "\n\ndef ilen(iterable):\n    return sum(1 for _ in iterable) + 1\n"


def _cache() -> Path:
    configured = os.environ.get("MAESTRO_SDIST_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "maestro-test-adapters" / "sdists"


def _sdist(name: str) -> Path:
    """The pinned sdist of ``name`` from the cache, downloaded (and checked) when missing."""
    version, sha256 = SDISTS[name]
    cache = _cache()
    cache.mkdir(parents=True, exist_ok=True)
    found = [p for p in cache.glob("*.tar.gz") if hashlib.sha256(p.read_bytes()).hexdigest() == sha256]
    if found:
        return found[0]
    download = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--disable-pip-version-check",
         "-q", "-d", str(cache), f"{name}=={version}"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    found = [p for p in cache.glob("*.tar.gz") if hashlib.sha256(p.read_bytes()).hexdigest() == sha256]
    if not found:
        unavailable(f"cannot get the sdist {name}=={version} with SHA-256 {sha256}: {download.stderr.strip()[-300:]}")
    return found[0]


def _unpacked(name: str, into: Path) -> Path:
    with tarfile.open(_sdist(name)) as archive:
        archive.extractall(into, filter="data")
    (root,) = (p for p in into.iterdir() if p.is_dir())
    return root


@pytest.fixture(scope="module")
def tenacity(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _unpacked("tenacity", tmp_path_factory.mktemp("tenacity"))


@pytest.fixture(scope="module")
def more_itertools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _unpacked("more-itertools", tmp_path_factory.mktemp("more-itertools"))
    with open(root / "more_itertools" / "more.py", "a", encoding="utf-8") as source:
        source.write(BROKEN_ILEN)
    return root


def _key(classname: str | None, name: str) -> tuple[str, str]:
    return (classname or "", name)


def _verdict(status: Status) -> str:
    return {Status.PASSED: "passed", Status.SKIPPED: "skipped"}.get(status, "failed")


def _plain(root: Path, args: tuple[str, ...], tmp_path: Path) -> tuple[int, dict[tuple[str, str], str]]:
    """pytest's own verdict per test, from its junitxml."""
    xml = tmp_path / f"plain-{root.name}.xml"
    done = subprocess.run(
        [*PYTEST, f"--junitxml={xml}", *args], cwd=root, capture_output=True, text=True, timeout=600, check=False
    )
    verdicts: dict[tuple[str, str], str] = {}
    for result in read_junit(xml).tests:
        key = _key(result.classname, result.name)
        verdict = _verdict(result.status)
        if verdicts.get(key, "passed") != "failed":  # a subtest's failure is its test's failure
            verdicts[key] = verdict
    return done.returncode, verdicts


def _junit_key(nodeid: str) -> tuple[str, str]:
    """The (classname, name) pytest's junitxml gives the test ``nodeid``."""
    parts = split_nodeid(nodeid)
    module = parts.path.removesuffix(".py").replace("/", ".")
    return _key(".".join((module, *parts.classes)), parts.name)


def _through_maestro(
    root: Path, args: tuple[str, ...], tmp_path: Path, *extra: str
) -> tuple[subprocess.CompletedProcess[str], TestRun]:
    jsonl = tmp_path / f"maestro-{root.name}.jsonl"
    done = subprocess.run(
        [*CLI, "run", "-a", "pytest", args[0], "--jsonl", str(jsonl), *extra, "--", *PYTEST[3:], *args[1:]],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done, read_jsonl(jsonl)


def _maestro_verdicts(run: TestRun) -> dict[tuple[str, str], str]:
    return {_junit_key(str(r.extra["nodeid"])): _verdict(r.status) for r in run.tests}


@pytest.mark.parametrize("suite", ["tenacity", "more_itertools"])
def test_maestro_test_agrees_with_pytests_junitxml_test_for_test(
    suite: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    root: Path = request.getfixturevalue(suite)
    args = TENACITY_ARGS if suite == "tenacity" else MORE_ITERTOOLS_ARGS
    plain_code, plain = _plain(root, args, tmp_path)
    done, run = _through_maestro(root, args, tmp_path)
    ours = _maestro_verdicts(run)
    assert len(plain) > 100, plain
    assert ours == plain
    assert (plain_code, done.returncode) == (1, 1), done.stderr  # each suite has a failure
    if suite == "more_itertools":  # the broken function is caught, by both
        assert plain[("tests.test_more.IlenTests", "test_ilen")] == "failed"
    assert run.stop is not None


FLAKY = """
def test_passes_on_the_second_try(request):
    marker = request.config.rootpath / "flaky-seen"
    first = not marker.exists()
    marker.touch()
    assert not first, "first try"
"""


def test_a_coverage_gate_and_fail_on_flaky_fail_the_run_although_every_test_passed(
    tenacity: Path, tmp_path: Path
) -> None:
    # pytest-cov: every test passes, coverage is under the gate -> pytest exits 1
    done, run = _through_maestro(tenacity, ("tests/test_after.py", "--cov=tenacity", "--cov-fail-under=100"), tmp_path)
    assert done.returncode == 2, done.stderr
    assert "although no test failed" in done.stderr
    assert "100%" in done.stderr
    assert run.tests
    assert all(r.status is Status.PASSED for r in run.tests)
    # pytest-rerunfailures --fail-on-flaky: a test passed on its rerun -> pytest exits 7
    flaky = tenacity / "tests" / "test_zz_flaky.py"
    flaky.write_text(FLAKY)
    try:
        args = ("tests/test_after.py", "tests/test_zz_flaky.py", "--reruns=1", "--fail-on-flaky")
        done, run = _through_maestro(tenacity, args, tmp_path)
    finally:
        flaky.unlink()
        (tenacity / "flaky-seen").unlink(missing_ok=True)
    assert done.returncode == 2, done.stderr
    assert "pytest exit status 7 although no test failed" in done.stderr
    (rerun,) = [r for r in run.tests if r.name == "test_passes_on_the_second_try"]
    assert [a.status for a in rerun.attempts] == [Status.FAILED, Status.PASSED]
    assert all(r.status is Status.PASSED for r in run.tests)


def _alive_with(text: str) -> list[int]:
    """The processes whose command line holds ``text`` (none must outlive maestro-test)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in command and state != "Z":
            found.append(int(entry.name))
    return found


def test_sigterm_mid_run_stops_the_suite_cleanly(more_itertools: Path, tmp_path: Path) -> None:
    # CI cancelling the job while a real suite runs: maestro-test exits 2, every result already
    # written agrees with pytest's own run, the JSONL has its end line, nothing is left behind
    _, plain = _plain(more_itertools, MORE_ITERTOOLS_ARGS, tmp_path)
    jsonl = tmp_path / "stopped.jsonl"
    temp = tmp_path / "tmp"
    temp.mkdir()
    process = subprocess.Popen(
        [*CLI, "run", "-a", "pytest", *MORE_ITERTOOLS_ARGS, "--jsonl", str(jsonl), "--", *PYTEST[3:]],
        cwd=more_itertools,
        env={**os.environ, "TMPDIR": str(temp)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: jsonl.exists() and jsonl.read_text().count('"type":"result"') >= 50,
            what="50 results in the JSONL",
            timeout=300,
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 2, stderr
    assert "interrupted by SIGTERM" in stderr.strip().splitlines()[-1]
    run = read_jsonl(jsonl)
    assert run.stop is not None
    ours = _maestro_verdicts(run)
    assert 50 <= len(ours) < len(plain)
    interrupted = {_junit_key(str(r.extra["nodeid"])) for r in run.tests if r.raw_status == "interrupted"}
    assert len(interrupted) <= 1  # the test SIGINT stopped, if any
    finished = {key: verdict for key, verdict in ours.items() if key not in interrupted}
    assert finished == {key: plain[key] for key in finished}
    wait_until(lambda: not _alive_with(f"--maestro-report={jsonl}"), what="pytest to be gone")
    assert list(temp.iterdir()) == []


def test_a_vitest_worker_crash_is_an_error_and_never_a_pass(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    project = installed_copy(tmp_path_factory, PROJECT)
    for name, text in KILLS_ITS_WORKER.items():
        (project / "src" / name).write_text(text)
    jsonl = tmp_path / "vitest.jsonl"
    done = subprocess.run(
        [*CLI, "run", "-a", "frontend", ".", "--jsonl", str(jsonl), "--", "src/worker.test.js", "src/other.test.js"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 2, done.stderr  # Vitest 3 stops with the worker: an infrastructure error
    results = {r.name: (r.status, r.raw_status) for r in read_jsonl(jsonl).tests}
    assert results["passes before"] == (Status.PASSED, "passed")
    assert results["group > kills its worker"] == (Status.FAILED, "crashed")
    assert not [name for name, (status, _) in results.items() if "never" in name and status is Status.PASSED]
