"""Stores and the sinks over them.

`Store` is the protocol a store implements (``store_lines``, ``sync``, ``close``) and `StoreSink`
the sink over any store; the built-in sinks live here too, one module each, each over its store:
`JsonlFileSink` over `FileStore` (``file``), `StreamSink` over `StreamStore` (``stream``),
`SqliteSink` over `SqliteStore` (``sqlite``) and `PostgresSink` over `PostgresStore`
(``postgres``, which needs the ``postgres`` extra). The database ones are imported on first use.

Examples:
    >>> from maestro_audit_logger.sinks import FileStore, Store, StreamStore
    >>> issubclass(FileStore, Store), issubclass(StreamStore, Store)
    (True, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from maestro_audit_logger.sinks.file import FileStore, JsonlFileSink
from maestro_audit_logger.sinks.store import Store, StoreSink
from maestro_audit_logger.sinks.stream import StreamSink, StreamStore

if TYPE_CHECKING:
    from maestro_audit_logger.sinks.postgres import PostgresSink, PostgresStore
    from maestro_audit_logger.sinks.sqlite import SqliteSink, SqliteStore

__all__ = [
    "FileStore",
    "JsonlFileSink",
    "PostgresSink",
    "PostgresStore",
    "SqliteSink",
    "SqliteStore",
    "Store",
    "StoreSink",
    "StreamSink",
    "StreamStore",
]


def __getattr__(name: str) -> Any:
    # The database sinks and stores on first use (sqlite3 and psycopg are loaded only then).
    import importlib  # noqa: PLC0415

    module = {"SqliteSink": "sqlite", "SqliteStore": "sqlite", "PostgresSink": "postgres", "PostgresStore": "postgres"}
    if name in module:
        return getattr(importlib.import_module(f"maestro_audit_logger.sinks.{module[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
