"""The version of maestro-resilience, read by hatchling at build time."""

__version__ = "2.0.0"
