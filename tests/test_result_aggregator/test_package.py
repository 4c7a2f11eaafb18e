"""maestro-test-result-aggregator's public surface, version, typing marker and lazy optional imports."""

import maestro_test_result_aggregator
from tests.package_checks import assert_lazy_imports, assert_public_surface


def test_public_surface() -> None:
    assert_public_surface(maestro_test_result_aggregator, "maestro-test-result-aggregator")


def test_optional_dependencies_are_imported_lazily() -> None:
    assert_lazy_imports(
        "maestro_test_result_aggregator", ["pandas", "numpy", "psycopg", "rich", "click", "sqlite3", "jsonschema"]
    )
