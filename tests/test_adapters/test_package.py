"""maestro-test-adapters's public surface, version, typing marker and lazy optional imports."""

import json
import subprocess
import sys

import maestro_test_adapters
from tests.package_checks import assert_lazy_imports, assert_public_surface


def test_public_surface() -> None:
    assert_public_surface(maestro_test_adapters, "maestro-test-adapters")


def test_optional_dependencies_are_imported_lazily() -> None:
    assert_lazy_imports(
        "maestro_test_adapters",
        ["selenium", "playwright", "pytest", "_pytest", "httpx", "rich", "click", "yaml", "maestro_resilience"],
    )


def test_the_pytest_reporter_loads_only_the_model_and_the_jsonl_writer() -> None:
    # the reporter loads in every `--maestro-report` run: before, it imported every reader of the
    # aggregator and built the MIME table (about 30 ms of a run, the plugin's CPU gap to pytest-reportlog)
    code = (
        "import json, sys; import maestro_test_adapters._reporter; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('maestro_test_result_aggregator') "
        "or m == 'mimetypes')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = set(json.loads(out))
    assert loaded <= {
        "maestro_test_result_aggregator",
        "maestro_test_result_aggregator.__about__",
        "maestro_test_result_aggregator._lazy",
        "maestro_test_result_aggregator.errors",
        "maestro_test_result_aggregator.model",
        "maestro_test_result_aggregator.formats",
        "maestro_test_result_aggregator.formats._values",
        "maestro_test_result_aggregator.formats.jsonl",
    }, sorted(loaded)
