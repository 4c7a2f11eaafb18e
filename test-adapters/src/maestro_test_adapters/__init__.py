"""One adapter interface to run pytest, browser (Playwright, Selenium), frontend and production
smoke suites with streaming, truthful results.
"""

from maestro_test_adapters.__about__ import __version__

__all__ = ["__version__"]
