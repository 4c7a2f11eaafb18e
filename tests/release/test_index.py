"""Parsing an index's simple pages (PEP 503 HTML and PEP 691 JSON)."""

from __future__ import annotations

import json

from maestro_devtools.release.index import IndexFile, parse_simple_page


def test_simple_page_html_and_json() -> None:
    html = (
        '<html><body><a href="../../packages/maestro_resilience-0.1.0.tar.gz#sha256=abc">x</a>'
        '<a href="/p/maestro_resilience-0.1.0-py3-none-any.whl#md5=1">y</a></body></html>'
    )
    assert parse_simple_page(html, "text/html") == {
        "maestro_resilience-0.1.0.tar.gz": IndexFile("maestro_resilience-0.1.0.tar.gz", "abc"),
        "maestro_resilience-0.1.0-py3-none-any.whl": IndexFile("maestro_resilience-0.1.0-py3-none-any.whl", None),
    }
    body = json.dumps({"files": [{"filename": "a-1.tar.gz", "url": "u", "hashes": {"sha256": "f00"}}]})
    assert parse_simple_page(body, "application/vnd.pypi.simple.v1+json") == {
        "a-1.tar.gz": IndexFile("a-1.tar.gz", "f00")
    }
