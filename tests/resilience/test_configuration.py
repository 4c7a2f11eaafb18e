"""Every policy checks its configuration at construction and names the parameter at fault."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from maestro_resilience import Bulkhead, Chaos, Fallback, RateLimiter, ThreadPoolBulkhead, Timeout


@pytest.mark.parametrize(
    ("factory", "error", "match"),
    [
        (lambda: Bulkhead(0), ValueError, "max_concurrent must be an int >= 1"),
        (lambda: Bulkhead(1, max_wait=-1), ValueError, "max_wait"),
        (lambda: ThreadPoolBulkhead(0), ValueError, "max_workers"),
        (lambda: ThreadPoolBulkhead(1, max_queue=-1), ValueError, "max_queue"),
        (lambda: Timeout(0), ValueError, "seconds must be a number > 0"),
        (lambda: Timeout(1, max_workers=0), ValueError, "max_workers"),
        (lambda: Fallback(1, on="Exception"), TypeError, "on must be"),
        (lambda: Fallback(func=3), TypeError, "func"),
        (lambda: RateLimiter(1, per=0), ValueError, "per"),
        (lambda: RateLimiter(1, max_wait=-1), ValueError, "max_wait"),
        (lambda: Chaos(latency=-1), ValueError, "latency"),
        (lambda: Chaos(fault=3), TypeError, "fault"),
        (lambda: Bulkhead(1, name=""), TypeError, "name"),
        (lambda: Bulkhead(1, listeners=[3]), TypeError, "listeners"),
    ],
)
def test_bad_configuration_fails_at_construction(
    factory: Callable[[], object], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        factory()
