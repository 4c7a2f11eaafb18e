"""maestro-test-adapters's public surface, version, typing marker and lazy optional imports."""

import maestro_test_adapters
from tests.package_checks import assert_lazy_imports, assert_public_surface


def test_public_surface() -> None:
    assert_public_surface(maestro_test_adapters, "maestro-test-adapters")


def test_optional_dependencies_are_imported_lazily() -> None:
    assert_lazy_imports(
        "maestro_test_adapters",
        ["selenium", "playwright", "pytest", "_pytest", "httpx", "rich", "click", "yaml", "maestro_resilience"],
    )
