"""Regenerate the vendored OCSF 1.3.0 JSON Schemas (see README.md).

Run with ``ocsf-json-schema==1.2.0`` importable (``pip install ocsf-json-schema==1.2.0``; it has
no dependencies): ``python tests/audit_logger/data/ocsf-1.3.0/regenerate.py``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema  # type: ignore[import-not-found]

HERE = Path(__file__).parent
#: (class, profiles) pairs the exports declare (metadata.profiles).
SCHEMAS = (("api_activity", ["datetime"]), ("authentication", ["datetime"]))


def main() -> None:
    export = get_ocsf_schema("1.3.0")
    assert export["version"] == "1.3.0"
    embedded = OcsfJsonSchemaEmbedded(export)
    for name, profiles in SCHEMAS:
        schema = embedded.get_class_schema(name, profiles)
        text = json.dumps(schema, indent=1, sort_keys=True) + "\n"
        target = HERE / f"{name}.{'-'.join(profiles) or 'base'}.schema.json"
        target.write_text(text, encoding="utf-8")
        print(target.name, hashlib.sha256(text.encode()).hexdigest())


if __name__ == "__main__":
    main()
