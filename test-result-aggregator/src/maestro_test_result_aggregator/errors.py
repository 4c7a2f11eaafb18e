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
    """Root of every error this package raises on purpose.

    Examples:
        Catch it around a read when any bad input should fail the CI step with one line:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import AggregatorError, read_report
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "notes.txt"
        >>> _ = path.write_text("not a report")
        >>> try:
        ...     read_report(path)
        ... except AggregatorError as error:
        ...     print(type(error).__name__, "-", str(error).split(": ", 1)[1])
        UnknownFormatError - not a known report format (JUnit XML, pytest reportlog, maestro JSONL,
        CTRF, pytest-json-report or Playwright JSON)
    """


class ReportParseError(AggregatorError):
    """A report could not be read; ``source``, ``line`` and ``column`` say where (1-based,
    ``None`` when unknown).

    Examples:
        A JUnit file cut short (the test process died while writing it):

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import ReportParseError, read_report
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "junit.xml"
        >>> _ = path.write_text('<testsuite name="unit"><testcase name="test_a">')
        >>> try:
        ...     read_report(path)
        ... except ReportParseError as error:
        ...     print(pathlib.Path(error.source).name, error.line, error.column, error.reason)
        junit.xml 1 48 malformed XML: no element found
    """

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
    """Untrusted XML tried to declare a DOCTYPE, an entity or an external reference: refused.

    Examples:
        A report from a fork's CI that tries an entity expansion is refused before it is parsed:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import UnsafeInputError, read_report
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "junit.xml"
        >>> _ = path.write_text('<!DOCTYPE x [<!ENTITY a "boom">]><testsuite name="&a;"/>')
        >>> try:
        ...     read_report(path)
        ... except UnsafeInputError as error:
        ...     print(error.line, error.reason)
        1 refused: a DOCTYPE declaration (untrusted XML may not declare a DOCTYPE or entities)
    """


class UnknownFormatError(AggregatorError):
    """The input matches no known report format.

    Examples:
        ``read_report`` raises it for a file no reader recognises (and for an unknown ``format``
        name); ``ingest`` records it and carries on with the other files:

        >>> import pathlib, tempfile
        >>> from maestro_test_result_aggregator import UnknownFormatError, ingest, read_report
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "coverage.xml.json").write_text('{"coverage": 91.5}')
        >>> try:
        ...     read_report(folder / "coverage.xml.json")
        ... except UnknownFormatError as error:
        ...     print("skipped:", pathlib.Path(str(error).split(":")[0]).name)
        skipped: coverage.xml.json
        >>> [type(error).__name__ for _path, error in ingest([folder]).errors]
        ['UnknownFormatError']
    """


class SchemaValidationError(AggregatorError):
    """A document does not conform to its format's schema; ``errors`` lists every violation as
    ``"$.json.path: reason"``.

    Examples:
        >>> from maestro_test_result_aggregator import SchemaValidationError, validate_ctrf
        >>> from maestro_test_result_aggregator.formats import ctrf_document
        >>> from maestro_test_result_aggregator.testing import make_run
        >>> document = ctrf_document(make_run(3))
        >>> document["results"]["tests"][1]["status"] = "ok"  # what a hand-rolled exporter might write
        >>> try:
        ...     validate_ctrf(document, source="ctrf-report.json")
        ... except SchemaValidationError as error:
        ...     print(error.errors)
        ["$.results.tests[1].status: 'ok' is not one of ['passed', 'failed', 'skipped', 'pending', 'other']"]
    """

    def __init__(self, errors: list[str], *, source: str = "document") -> None:
        self.errors = list(errors)
        self.source = source
        shown = "; ".join(self.errors[:5]) + (f"; ... {len(self.errors) - 5} more" if len(self.errors) > 5 else "")
        super().__init__(f"{source} is not valid CTRF: {shown}")
