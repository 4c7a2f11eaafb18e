"""The built-in adapters, one module each, apart from the plumbing they share.

A new adapter goes here: a class with ``name``, ``available()``, ``run()`` and ``arun()`` (see
``maestro_test_adapters.TestAdapter`` and docs/test-adapters/writing-an-adapter.md), registered
under the ``maestro_test_adapters`` entry-point group in pyproject.toml. What every adapter
uses stays one level up: running the runner in its process group (``_process``), tailing its
output (``_tail``), streaming results and writing reports (``_outputs``), run options
(``_options``), the runner's log (``_runlog``) and the exit code (``_exit``).

- ``_pytest_adapter``: pytest in a subprocess (or in this process) with the reporting plugin.
- ``_browsers``: Playwright and Selenium journeys, which are pytest suites with browser fixtures.
- ``_frontend``: Vitest, Jest and Playwright Test through npm, with the bundled JavaScript
  reporters beside it (``_vitest_reporter.mjs``, ``_vitest_setup.mjs``, ``_jest_reporter.cjs``,
  ``_playwright_reporter.cjs``).
- ``_production``: HTTP smoke checks from a TOML/YAML/JSON file (``_checks`` reads and
  validates that file).
"""
