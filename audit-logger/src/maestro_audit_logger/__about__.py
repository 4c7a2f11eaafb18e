"""The version of maestro-audit-logger, read by hatchling at build time."""

__version__ = "2.0.0"
