"""The version of maestro-test-adapters, read by hatchling at build time."""

__version__ = "2.0.0"
