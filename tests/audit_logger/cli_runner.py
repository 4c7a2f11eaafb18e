"""A ``CliRunner`` that keeps stderr apart on every click the package allows: click < 8.2 mixes
stderr into the output unless asked not to (``mix_stderr=False``), 8.2 removed the option."""

from __future__ import annotations

import inspect

from click.testing import CliRunner


def separate_stderr_runner() -> CliRunner:
    """A runner whose results have ``.stderr`` (click 8.1 and 8.2+)."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg,unused-ignore]
    return CliRunner()
