"""A tamper-evident, durable, structlog-native audit log with typed events, redaction and file,
SQLite and PostgreSQL sinks.
"""

from maestro_audit_logger.__about__ import __version__

__all__ = ["__version__"]
