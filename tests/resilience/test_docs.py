"""Every Python example in docs/resilience/ runs as shown (a page's blocks share one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maestro_resilience import remove_global_listener

DOCS = Path(__file__).resolve().parents[2] / "docs" / "resilience"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
PAGES = sorted(p.name for p in DOCS.glob("*.md") if BLOCK.search(p.read_text()))


def test_pages_with_examples() -> None:
    assert {"index.md", "guide.md", "pipelines.md", "testing.md", "migrating-from-pybreaker.md"} <= set(PAGES)


@pytest.mark.parametrize("page", PAGES)
def test_examples_run(page: str) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    try:
        for index, match in enumerate(BLOCK.finditer((DOCS / page).read_text())):
            exec(compile(match.group(1), f"{page}[{index}]", "exec"), namespace)  # noqa: S102 - our own docs
        for name, value in list(namespace.items()):
            if name.startswith("test_") and callable(value):
                value()
    finally:
        listener = namespace.get("to_metrics")
        if callable(listener):
            remove_global_listener(listener)  # type: ignore[arg-type]
