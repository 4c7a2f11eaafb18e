"""Errors raised by maestro-test-adapters, all under one root.

```
TestAdapterError                      root: catch this to catch everything below
├── AdapterNotFoundError              get_adapter(name) with no such adapter (lists the known names)
├── AdapterUnavailableError           the adapter cannot run here (missing extra, runner or browser)
├── InvalidOptionError                bad RunOptions / adapter argument (names the parameter)
├── TargetNotFoundError               the test target (path, project folder, check file) does not exist
├── CheckFileError                    a production check file is malformed (names file and check)
└── ReportWriteError                  a CTRF/JUnit/JSONL output could not be written
```

Failures of the RUNNER while tests run (a crash, a hang killed by the timeout) are not raised:
the finished results are kept, the in-flight test is reported as failed with the reason, and the
reason is stored on the returned run (see ``run_error``) so the exit code becomes 2.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AdapterNotFoundError",
    "AdapterUnavailableError",
    "CheckFileError",
    "InvalidOptionError",
    "ReportWriteError",
    "TargetNotFoundError",
    "TestAdapterError",
]


class TestAdapterError(Exception):
    """Root of every error raised by maestro-test-adapters.

    Examples:
        Catch it to turn any refusal (bad input, a missing adapter or runner) into one line:

        >>> from maestro_test_adapters import get_adapter
        >>> try:
        ...     get_adapter("cypress")
        ... except TestAdapterError as error:
        ...     print(type(error).__name__)
        AdapterNotFoundError
    """

    __test__ = False  # not a pytest test class


class AdapterNotFoundError(TestAdapterError, LookupError):
    """No adapter is registered under ``name``; ``available`` lists the registered names.

    Examples:
        Raised by ``get_adapter``:

        >>> from maestro_test_adapters import get_adapter
        >>> try:
        ...     get_adapter("cypress")
        ... except AdapterNotFoundError as error:
        ...     print(error.name, "pytest" in error.available)
        cypress True
    """

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = tuple(sorted(available))
        known = ", ".join(self.available) or "none"
        super().__init__(f"no test adapter named {name!r}; available adapters: {known}")


class AdapterUnavailableError(TestAdapterError):
    """The adapter cannot run on this machine; ``reason`` says why (and how to fix it).

    Examples:
        Raised when a run needs what ``available()`` reports missing (an extra, a runner or a
        browser), e.g. by the browser fixtures without a Chromium:

        >>> error = AdapterUnavailableError("playwright", "no Chromium at /usr/bin/chromium")
        >>> str(error)
        "test adapter 'playwright' is unavailable: no Chromium at /usr/bin/chromium"
    """

    def __init__(self, adapter: str, reason: str) -> None:
        self.adapter = adapter
        self.reason = reason
        super().__init__(f"test adapter {adapter!r} is unavailable: {reason}")


class InvalidOptionError(TestAdapterError, ValueError):
    """An option has a value that is not allowed; the message names it and what is allowed.

    Examples:
        Raised by ``RunOptions`` and the adapters' constructors:

        >>> from maestro_test_adapters import RunOptions
        >>> try:
        ...     RunOptions(timeout=-1)
        ... except InvalidOptionError as error:
        ...     print(error.parameter, "|", error)
        timeout | timeout: must be greater than 0 seconds, got -1
    """

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class TargetNotFoundError(TestAdapterError, FileNotFoundError):
    """The target given to ``run`` does not exist.

    Examples:
        Raised before anything runs:

        >>> from maestro_test_adapters import PytestAdapter
        >>> try:
        ...     PytestAdapter().run("no_such_tests")
        ... except TargetNotFoundError as error:
        ...     print(error)
        pytest target not found: no_such_tests
    """

    def __init__(self, target: str, what: str = "test target") -> None:
        self.target = target
        super().__init__(f"{what} not found: {target}")


class CheckFileError(TestAdapterError, ValueError):
    r"""A production check file is malformed; the message names the file and the check.

    Examples:
        Raised by ``load_checks`` (and so by the production adapter's ``run``):

        >>> import pathlib, tempfile
        >>> from maestro_test_adapters import load_checks
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "checks.toml"
        >>> _ = path.write_text("[[checks]]\nname = 'home'\n")
        >>> try:
        ...     load_checks(path)
        ... except CheckFileError as error:
        ...     print(str(error).removeprefix(str(path)))
        : check 'home': url: is required
    """

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class ReportWriteError(TestAdapterError, OSError):
    """A report (JSONL, CTRF, JUnit) could not be written.

    Examples:
        Raised when ``RunOptions.jsonl``/``ctrf``/``junit`` names a place that cannot be written:

        >>> import pathlib, tempfile
        >>> from maestro_test_adapters import ResultStream, RunOptions
        >>> from maestro_test_result_aggregator.model import Tool
        >>> blocker = pathlib.Path(tempfile.mkdtemp()) / "a-file"
        >>> _ = blocker.write_text("")
        >>> try:
        ...     ResultStream(Tool("x"), RunOptions(jsonl=blocker / "r.jsonl"))
        ... except ReportWriteError as error:
        ...     print("cannot write" in str(error))
        True
    """
