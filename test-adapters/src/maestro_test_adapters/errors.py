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
from typing import Final

_TIMEOUT_MARK: Final = "maestro: timed out"
"""How the in-process timeout's ``KeyboardInterrupt`` message begins: the reporter tells it from a
user's Ctrl-C (it lives here, in a module the reporter imports anyway, to keep that import light)."""

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
    """Root of every error raised by maestro-test-adapters."""

    __test__ = False  # not a pytest test class


class AdapterNotFoundError(TestAdapterError, LookupError):
    """No adapter is registered under ``name``; ``available`` lists the registered names."""

    def __init__(self, name: str, available: Iterable[str]) -> None:
        self.name = name
        self.available = tuple(sorted(available))
        known = ", ".join(self.available) or "none"
        super().__init__(f"no test adapter named {name!r}; available adapters: {known}")


class AdapterUnavailableError(TestAdapterError):
    """The adapter cannot run on this machine; ``reason`` says why (and how to fix it)."""

    def __init__(self, adapter: str, reason: str) -> None:
        self.adapter = adapter
        self.reason = reason
        super().__init__(f"test adapter {adapter!r} is unavailable: {reason}")


class InvalidOptionError(TestAdapterError, ValueError):
    """An option has a value that is not allowed; the message names it and what is allowed."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"{parameter}: {message}")


class TargetNotFoundError(TestAdapterError, FileNotFoundError):
    """The target given to ``run`` does not exist."""

    def __init__(self, target: str, what: str = "test target") -> None:
        self.target = target
        super().__init__(f"{what} not found: {target}")


class CheckFileError(TestAdapterError, ValueError):
    """A production check file is malformed; the message names the file and the check."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class ReportWriteError(TestAdapterError, OSError):
    """A report (JSONL, CTRF, JUnit) could not be written."""
