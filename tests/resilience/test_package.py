"""maestro-resilience's public surface, version, typing marker and lazy optional imports."""

import maestro_resilience
from tests.package_checks import assert_lazy_imports, assert_public_surface


def test_public_surface() -> None:
    assert_public_surface(maestro_resilience, "maestro-resilience")


def test_optional_dependencies_are_imported_lazily() -> None:
    assert_lazy_imports("maestro_resilience", ["redis"])
