"""The ``TestAdapter`` protocol every adapter implements, and ``Availability``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from maestro_test_adapters._options import RunOptions
from maestro_test_result_aggregator.model import TestRun

__all__ = ["Availability", "Target", "TestAdapter"]

Target = str | os.PathLike[str]
"""What ``run`` accepts: a path (test folder or file, project folder, check file).

Examples:
    >>> import pathlib
    >>> targets: list[Target] = ["tests/test_api.py::test_login", pathlib.Path("web")]
"""


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether an adapter can run here; ``reason`` says why not (and how to fix it).

    Examples:
        Truthy when ``ok``:

        >>> bool(Availability(False, "npm is not on PATH"))
        False
        >>> from maestro_test_adapters import get_adapter
        >>> bool(get_adapter("pytest").available())
        True
    """

    ok: bool
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok


@runtime_checkable
class TestAdapter(Protocol):
    """One kind of test suite behind one interface: every adapter returns the same ``TestRun``.

    Implementations are registered under the ``maestro_test_adapters`` entry-point group (the
    built-ins too) and found with ``get_adapter(name)``. ``run`` streams results to
    ``options.jsonl`` as they finish, writes ``options.ctrf``/``options.junit`` at the end and
    records a runner failure (crash, timeout) on the run instead of raising, so finished results
    are never lost; bad input raises a ``TestAdapterError`` before anything runs.

    Examples:
        Every built-in adapter (and ``testing.FakeAdapter``) is one:

        >>> from maestro_test_adapters import get_adapter
        >>> isinstance(get_adapter("production"), TestAdapter)
        True

        A third-party adapter is a class with these members, registered in its pyproject:

        ```toml
        [project.entry-points.maestro_test_adapters]
        cypress = "maestro_cypress:CypressAdapter"
        ```
    """

    @property
    def name(self) -> str:
        """The adapter's registered name (``pytest``, ``playwright``...)."""
        ...

    def available(self) -> Availability:
        """Whether this adapter can run here (extra installed, runner and browser present)."""
        ...

    def run(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """Run ``target`` and return its results."""
        ...

    async def arun(self, target: Target, *, options: RunOptions | None = None) -> TestRun:
        """The asyncio twin of ``run``."""
        ...
