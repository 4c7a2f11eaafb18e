"""Errors raised by maestro-test-result-aggregator.

::

    AggregatorError                 the root: catch this to catch them all
     +-- ReportParseError           malformed input, naming the file, line and column
     |    +-- UnsafeInputError      XML with a DOCTYPE, entities or external references
     +-- UnknownFormatError         no reader recognises the input
     +-- SchemaValidationError      a document breaks its format's schema (CTRF)
"""

from __future__ import annotations

__all__ = [
    "AggregatorError",
    "ReportParseError",
    "SchemaValidationError",
    "UnknownFormatError",
    "UnsafeInputError",
]


class AggregatorError(Exception):
    """Root of every error this package raises on purpose."""


class ReportParseError(AggregatorError):
    """A report could not be read; ``source``, ``line`` and ``column`` say where (1-based,
    ``None`` when unknown)."""

    def __init__(self, source: str, reason: str, *, line: int | None = None, column: int | None = None) -> None:
        self.source = source
        self.reason = reason
        self.line = line
        self.column = column
        where = source
        if line is not None:
            where += f":{line}" + (f":{column}" if column is not None else "")
        super().__init__(f"{where}: {reason}")


class UnsafeInputError(ReportParseError):
    """Untrusted XML tried to declare a DOCTYPE, an entity or an external reference: refused."""


class UnknownFormatError(AggregatorError):
    """The input matches no known report format."""


class SchemaValidationError(AggregatorError):
    """A document does not conform to its format's schema; ``errors`` lists every violation as
    ``"$.json.path: reason"``."""

    def __init__(self, errors: list[str], *, source: str = "document") -> None:
        self.errors = list(errors)
        self.source = source
        shown = "; ".join(self.errors[:5]) + (f"; ... {len(self.errors) - 5} more" if len(self.errors) > 5 else "")
        super().__init__(f"{source} is not valid CTRF: {shown}")
