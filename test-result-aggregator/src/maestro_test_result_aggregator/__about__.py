"""The version of maestro-test-result-aggregator, read by hatchling at build time."""

__version__ = "2.0.1"
