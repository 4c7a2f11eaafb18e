"""One test-result model, every common report format in and out (JUnit XML, CTRF, pytest,
Playwright), shard merge, flaky detection and quality gates.
"""

from maestro_test_result_aggregator.__about__ import __version__

__all__ = ["__version__"]
