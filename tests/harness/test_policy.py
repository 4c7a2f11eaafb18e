"""The missing-server policy: skip with an install hint, or fail when services are required."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures import PLUGINS, binaries
from tests.fixtures.services import REQUIRE_SERVICES_ENV, require, services_required

MISSING = "/nonexistent/maestro/redis-server"


def outcome_of(call: Callable[[], object]) -> BaseException | None:
    """The skip/fail outcome ``call`` raises, caught so that a wrong one cannot escape.

    A stray ``pytest.skip`` inside ``pytest.raises(pytest.fail.Exception)`` would mark this
    test skipped instead of failed; catching every outcome lets the assertion decide.
    """
    try:
        call()
    except BaseException as outcome:  # skip and fail outcomes are BaseExceptions
        return outcome
    return None


def test_require_returns_the_path_of_a_present_binary() -> None:
    assert require(sys.executable, "Python", "python3") == Path(sys.executable)
    found = require("sh", "a shell", "dash")
    assert found.is_absolute()
    assert found.name == "sh"
    assert require(True, "a true condition", "nothing") is None


@pytest.mark.parametrize("value", [None, "", "0", "false"])
def test_a_missing_binary_skips_with_the_install_hint(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    else:
        monkeypatch.setenv(REQUIRE_SERVICES_ENV, value)
    assert not services_required()
    outcome = outcome_of(lambda: require(MISSING, "redis-server", "redis-server"))
    assert isinstance(outcome, pytest.skip.Exception)
    assert str(outcome) == "redis-server is not installed: apt-get install -y redis-server"


def test_a_missing_binary_fails_when_services_are_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    outcome = outcome_of(lambda: require(MISSING, "redis-server", "redis-server"))
    assert isinstance(outcome, pytest.fail.Exception)
    assert "redis-server is not installed: apt-get install -y redis-server" in str(outcome)
    condition = outcome_of(lambda: require(False, "the postgres system user", "postgresql"))
    assert isinstance(condition, pytest.fail.Exception)


def test_binaries_follow_their_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHROMIUM_ENV", "CHROMEDRIVER_ENV", "REDIS_SERVER_ENV", "PG_BIN_ENV"):
        monkeypatch.delenv(getattr(binaries, name), raising=False)
    assert binaries.chromium() == "/usr/bin/chromium"
    assert binaries.chromedriver() == "/usr/bin/chromedriver"
    assert binaries.redis_server() == "redis-server"
    monkeypatch.setenv(binaries.CHROMIUM_ENV, "/opt/chromium/chrome")
    monkeypatch.setenv(binaries.CHROMEDRIVER_ENV, "/opt/chromium/chromedriver")
    monkeypatch.setenv(binaries.REDIS_SERVER_ENV, "/opt/redis/bin/redis-server")
    monkeypatch.setenv(binaries.PG_BIN_ENV, "/opt/pg/bin")
    assert binaries.chromium() == "/opt/chromium/chrome"
    assert binaries.chromedriver() == "/opt/chromium/chromedriver"
    assert binaries.redis_server() == "/opt/redis/bin/redis-server"
    assert binaries.pg_binary("initdb") == "/opt/pg/bin/initdb"


def test_postgres_defaults_to_the_newest_debian_version(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(binaries.PG_BIN_ENV, raising=False)
    for version in ("9.6", "13", "15", "no-initdb-99"):
        (tmp_path / version / "bin").mkdir(parents=True)
        if not version.startswith("no-"):
            (tmp_path / version / "bin" / "initdb").touch()
    monkeypatch.setattr(binaries, "DEBIAN_PG_ROOT", tmp_path)
    assert binaries.pg_bin_dir() == tmp_path / "15" / "bin"


INNER_INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

INNER_TESTS = """
def test_redis(redis_server): pass
def test_postgres(postgres_server): pass
def test_chromium(chromium_cdp): pass
def test_chromedriver(chromedriver_server): pass
"""


@pytest.mark.parametrize("required", [False, True])
def test_fixtures_apply_the_policy_end_to_end(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, required: bool
) -> None:
    """Every server fixture, its binary missing, skips or (required) errors with a hint."""
    missing_dir = pytester.path / "missing"
    monkeypatch.setenv(binaries.REDIS_SERVER_ENV, str(missing_dir / "redis-server"))
    monkeypatch.setenv(binaries.PG_BIN_ENV, str(missing_dir))
    monkeypatch.setenv(binaries.CHROMIUM_ENV, str(missing_dir / "chromium"))
    monkeypatch.setenv(binaries.CHROMEDRIVER_ENV, str(missing_dir / "chromedriver"))
    if required:
        monkeypatch.setenv(REQUIRE_SERVICES_ENV, "1")
    else:
        monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    pytester.makeini(INNER_INI)
    pytester.makepyfile(test_inner=INNER_TESTS)
    # The server fixtures only: the reaping plugin belongs to the outer session.
    plugin_args = [arg for plugin in PLUGINS if not plugin.endswith(".reaping") for arg in ("-p", plugin)]
    result = pytester.runpytest_inprocess(*plugin_args, "-rsE", "-p", "no:cacheprovider")
    hints = [
        "redis-server is not installed: apt-get install -y redis-server",
        "PostgreSQL (initdb) is not installed: apt-get install -y postgresql",
        "Chromium is not installed: apt-get install -y chromium",  # chromium_cdp
    ]
    if required:
        result.assert_outcomes(errors=4)
        assert f"({REQUIRE_SERVICES_ENV} is set)" in result.stdout.str()
    else:
        result.assert_outcomes(skipped=4)
    output = result.stdout.str()
    for hint in hints:
        assert hint in output


def test_chromedriver_alone_missing_names_its_package(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REQUIRE_SERVICES_ENV, raising=False)
    monkeypatch.setenv(binaries.CHROMIUM_ENV, sys.executable)  # present, never started
    monkeypatch.setenv(binaries.CHROMEDRIVER_ENV, str(pytester.path / "missing-chromedriver"))
    pytester.makeini(INNER_INI)
    pytester.makepyfile(test_inner="def test_chromedriver(chromedriver_server): pass\n")
    result = pytester.runpytest_inprocess("-p", "tests.fixtures.chromium", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*ChromeDriver is not installed: apt-get install -y chromium-driver*"])


@pytest.mark.parametrize(("required", "expected"), [("1", pytest.ExitCode.TESTS_FAILED), ("0", pytest.ExitCode.OK)])
def test_a_run_that_skips_anything_fails_when_services_are_required(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, required: str, expected: pytest.ExitCode
) -> None:
    """Any skip (an importorskip, a skipif, a missing interpreter) fails a CI run, not only
    a missing server: the latest/lowest dependency runs cannot go green by skipping."""
    monkeypatch.setenv(REQUIRE_SERVICES_ENV, required)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    pytester.makeconftest("from tests.conftest import pytest_sessionfinish  # noqa: F401")
    pytester.makepyfile("import pytest\n\ndef test_ok(): pass\n\ndef test_gone(): pytest.importorskip('no_such_mod')\n")
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    assert result.ret == expected
    if required == "1":
        result.stdout.fnmatch_lines(["*SKIPPED IN CI: test_a_run_that_skips*test_gone*", "*1 test(s) skipped*"])
