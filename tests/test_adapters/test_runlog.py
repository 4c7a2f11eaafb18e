"""What a runner said: the lines ``_runlog`` quotes from its output (texts as the real runners
print them; the end-to-end tests in test_pytest_adapter.py and test_frontend.py run them)."""

from __future__ import annotations

from pathlib import Path

from maestro_test_adapters._runlog import keep_log, reason_lines, unexplained_exit
from maestro_test_result_aggregator.model import Status, TestResult

PYTEST_USAGE = """\
ERROR: usage: python -m pytest [options] [file_or_dir] [file_or_dir] [...]
python -m pytest: error: unrecognized arguments: --bogus
  inifile: None
  rootdir: /tmp/x
"""

ESBUILD_CONFIG = """\
\x1b[31m✘ [ERROR] Expected identifier but found ","\x1b[39m

    vitest.config.js:2:10:
\x1b[31mfailed to load config from /tmp/p/vitest.config.js\x1b[39m
Error: Build failed with 1 error:
    at failureErrorWithLog (/tmp/p/node_modules/esbuild/lib/main.js:1752:15)
"""


def test_the_usage_error_line_comes_first() -> None:
    assert reason_lines(PYTEST_USAGE) == [
        "python -m pytest: error: unrecognized arguments: --bogus",
        "ERROR: usage: python -m pytest [options] [file_or_dir] [file_or_dir] [...]",
    ]


def test_terminal_colours_are_dropped_and_stack_frames_are_not_reasons() -> None:
    assert reason_lines(ESBUILD_CONFIG) == [
        '✘ [ERROR] Expected identifier but found ","',
        "failed to load config from /tmp/p/vitest.config.js",
        "Error: Build failed with 1 error:",
    ]


def test_npm_s_pointer_to_its_own_log_is_not_a_reason() -> None:
    text = "npm error npx canceled due to missing packages\nnpm error A complete log of this run can be found in: x\n"
    assert reason_lines(text) == ["npm error npx canceled due to missing packages"]


def test_an_exit_is_explained_by_a_failed_test_or_by_nothing_collected() -> None:
    passed, failed = TestResult("a", Status.PASSED), TestResult("b", Status.FAILED)
    assert unexplained_exit("pytest", 0, [passed], "") is None
    assert unexplained_exit("pytest", 1, [passed, failed], "") is None
    assert unexplained_exit("pytest", 5, [], "") is None
    assert unexplained_exit("vitest", 1, [passed], "done\n") == "vitest exit status 1 although no test failed: done"
    hint = {7: "pytest-rerunfailures --fail-on-flaky"}
    assert unexplained_exit("pytest", 7, [passed], "ERROR: x", hints=hint) == (
        "pytest exit status 7 although no test failed: pytest-rerunfailures --fail-on-flaky"
    )


def test_the_log_is_kept_next_to_the_first_report_only(tmp_path: Path) -> None:
    log = tmp_path / "runner.log"
    log.write_text("everything the runner said\n")
    assert keep_log(log, "pytest", (None, None)) is None
    kept = keep_log(log, "pytest", (None, tmp_path / "out.ctrf.json"))
    assert kept == tmp_path / "out.ctrf.pytest.log"
    assert kept.read_text() == "everything the runner said\n"
