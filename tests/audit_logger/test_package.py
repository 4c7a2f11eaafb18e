"""maestro-audit-logger's public surface, version, typing marker and lazy optional imports."""

import maestro_audit_logger
from tests.package_checks import assert_lazy_imports, assert_public_surface


def test_public_surface() -> None:
    assert_public_surface(maestro_audit_logger, "maestro-audit-logger")


def test_optional_dependencies_are_imported_lazily() -> None:
    assert_lazy_imports(
        "maestro_audit_logger",
        [
            "psycopg",
            "sqlalchemy",
            "structlog",
            "rich",
            "click",
            "cryptography",
            "pandas",
            "opentelemetry",
            "sqlite3",
            "asyncio",
            "concurrent",
        ],
    )
