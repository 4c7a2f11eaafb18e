"""The names and limits the pytest plugin (where tests run) and its reporter (on the controller)
share: one module of plain values, so neither imports the other and both imports stay light."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ATTACHMENT_PROPERTY",
    "DEFAULT_OUTPUT_LIMIT",
    "META_ATTRIBUTE",
    "TIMEOUT_MARK",
    "WARNINGS_ATTRIBUTE",
    "WARNING_LIMIT",
    "WARNING_TEXT_LIMIT",
]

ATTACHMENT_PROPERTY: Final = "maestro_attachment"
"""The ``user_properties`` key under which fixtures record an attachment for the current attempt."""

META_ATTRIBUTE: Final = "_maestro_meta"
"""The setup report's attribute carrying the test's markers and parameters to the controller."""

WARNINGS_ATTRIBUTE: Final = "_maestro_warnings"
"""The attribute of each phase report carrying the warnings that phase emitted."""

WARNING_LIMIT: Final = 100
"""Warnings kept per test (a loop can emit thousands)."""

WARNING_TEXT_LIMIT: Final = 2000
"""Characters kept of a warning's message."""

DEFAULT_OUTPUT_LIMIT: Final = 64 * 1024
"""Characters of captured output kept per test: the aggregator's ``DEFAULT_OUTPUT_LIMIT``,
without importing the aggregator where tests run."""

TIMEOUT_MARK: Final = "maestro: timed out"
"""How the in-process timeout's ``KeyboardInterrupt`` message begins: the reporter tells it from a
user's Ctrl-C."""
