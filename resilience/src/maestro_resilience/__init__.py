"""Circuit breaker, retry, bulkhead, timeout, fallback and rate limiting for sync and asyncio
Python, with shared state in Redis.
"""

from maestro_resilience.__about__ import __version__

__all__ = ["__version__"]
