"""A small JSON Schema (draft-07 subset) validator for the CTRF schema shipped in this package.

Why hand-written: the CTRF schema uses only ``type``, ``required``, ``properties``,
``additionalProperties``, ``enum``, ``const``, ``pattern``, ``minLength``, ``minItems``,
``minimum``, ``items``, ``anyOf``, ``format`` and local ``$ref`` — about eighty lines of code,
against a runtime dependency (``jsonschema`` plus ``referencing``, ``rpds-py``, ``attrs``) on
every install. The tests check this validator against ``jsonschema`` on valid and broken
documents, so the two agree on the shipped schema.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from typing import Any, Final

__all__ = ["CTRF_SCHEMA_VERSION", "ctrf_schema", "schema_errors"]

CTRF_SCHEMA_VERSION: Final = "0.0"
"""The CTRF schema file shipped (from the ``ctrf`` reference package 0.3.0, MIT licensed)."""

_TYPES: Final[dict[str, Any]] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


@cache
def ctrf_schema() -> dict[str, Any]:
    """The official CTRF JSON schema shipped inside the package (parsed once)."""
    from importlib import resources  # noqa: PLC0415 - loaded only when validating

    text = resources.files("maestro_test_result_aggregator.formats").joinpath("schemas/ctrf.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        if isinstance(value, bool):
            return False
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = _TYPES[name]
    return isinstance(value, expected) and (name == "boolean" or not isinstance(value, bool))


def _format_ok(value: str, fmt: str) -> bool:
    try:
        if fmt == "uuid":
            import uuid  # noqa: PLC0415 - loaded only when validating

            uuid.UUID(value)
        elif fmt == "date-time":
            datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def schema_errors(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> list[str]:  # noqa: PLR0912
    """Every violation of ``schema`` by ``value`` as ``"path: reason"`` strings (empty: valid)."""
    if "$ref" in schema:
        ref: str = schema["$ref"]
        node: Any = root
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return schema_errors(value, node, root, path)
    errors: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is_type(value, k) for k in kinds):
            return [f"{path}: expected {' or '.join(kinds)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "anyOf" in schema and not any(not schema_errors(value, s, root, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of the allowed shapes")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not _pattern(schema["pattern"]).search(value):
            errors.append(f"{path}: does not match {schema['pattern']}")
        if "format" in schema and not _format_ok(value, schema["format"]):
            errors.append(f"{path}: not a valid {schema['format']}")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below the minimum {schema['minimum']}")
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: fewer than {schema['minItems']} items")
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                errors.extend(schema_errors(item, items, root, f"{path}[{index}]"))
    elif isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                errors.append(f"{path}: missing required property {name!r}")
        properties: dict[str, Any] = schema.get("properties", {})
        additional = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                errors.extend(schema_errors(item, properties[key], root, f"{path}.{key}"))
            elif additional is False:
                errors.append(f"{path}: unknown property {key!r} (put extensions in 'extra')")
            elif isinstance(additional, dict):
                errors.extend(schema_errors(item, additional, root, f"{path}.{key}"))
    return errors
