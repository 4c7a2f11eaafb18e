"""Readers and writers of test-report formats, all producing and consuming the model in
``maestro_test_result_aggregator.model``."""

from maestro_test_result_aggregator.formats.jsonl import (
    JsonlWriter,
    iter_jsonl,
    read_jsonl,
    result_from_record,
    result_to_record,
    write_jsonl,
)

__all__ = ["JsonlWriter", "iter_jsonl", "read_jsonl", "result_from_record", "result_to_record", "write_jsonl"]
