"""Check that the packages' docstrings render as the API pages intend.

mkdocstrings parses docstrings Google-style with griffe: a section titled ``Examples:`` becomes a
code example, but ``Example:`` (singular) or ``Usage:`` becomes an admonition whose ``>>>`` lines
render as nested blockquotes, and doctest directives (``# doctest: +SKIP``) show up verbatim.
``mkdocs build --strict`` passes either way, so this check exists. It also asks every name a
package exports in ``__all__`` for a docstring with an ``Examples:`` section.

Examples:
    >>> from maestro_devtools.docstrings import problems
    >>> problems("maestro_resilience", "resilience/src")
    []

Run as ``python -m maestro_devtools.docstrings`` (exit 1 and one line per problem), by
``make docs``, the pre-commit hook and ``tests/test_docstrings.py``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "main", "problems"]

#: import name -> source folder of every package whose API pages are built.
PACKAGES = {
    "maestro_resilience": "resilience/src",
    "maestro_audit_logger": "audit-logger/src",
    "maestro_test_result_aggregator": "test-result-aggregator/src",
    "maestro_test_adapters": "test-adapters/src",
}

_EXAMPLE_TITLE = re.compile(r"^(example|usage)s?\b", re.IGNORECASE)
_DIRECTIVE = re.compile(r"#\s*doctest:")


def _objects(obj: Any) -> Iterator[Any]:
    """``obj`` and every object defined under it (aliases, i.e. re-exports, are skipped)."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


def _section_problems(obj: Any) -> Iterator[str]:
    import griffe

    docstring = obj.docstring
    if docstring is None:
        return
    where = f"{obj.relative_filepath}:{docstring.lineno}: {obj.path}"
    for section in docstring.parsed:
        title = section.title or ""
        if section.kind is griffe.DocstringSectionKind.admonition and _EXAMPLE_TITLE.match(title):
            yield f"{where}: section {title!r} renders as a quote; title it 'Examples:'"
        if section.kind is griffe.DocstringSectionKind.examples and any(
            _DIRECTIVE.search(text) for _kind, text in section.value
        ):
            yield f"{where}: a doctest directive would show on the page; make the example run"


def _export_problems(root: Any, package: str) -> Iterator[str]:
    import griffe

    for name in map(str, root.exports or ()):
        member = root.members.get(name)
        if name.startswith("__") or member is None:
            continue
        target = member.final_target if isinstance(member, griffe.Alias) else member
        where = f"{target.relative_filepath}: {package}.{name}"
        if target.docstring is None:
            yield f"{where} has no docstring"
        elif not any(s.kind is griffe.DocstringSectionKind.examples for s in target.docstring.parsed):
            yield f"{where} has no 'Examples:' section"


def problems(package: str, source: str, *, require_examples: bool = True) -> list[str]:
    """Every docstring problem in ``package`` (imported from ``source``), one line each."""
    import griffe

    root = griffe.load(package, search_paths=[source], docstring_parser=griffe.Parser.google)
    found = [line for obj in _objects(root) for line in _section_problems(obj)]
    if require_examples:
        found.extend(_export_problems(root, package))
    return found


def main(argv: list[str] | None = None) -> int:
    """Print every problem in the four packages; 1 when there is any."""
    root = Path(argv[0]) if argv else Path.cwd()
    found = [line for package, source in PACKAGES.items() for line in problems(package, str(root / source))]
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
