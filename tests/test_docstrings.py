"""The API pages render as intended and every example in them runs.

``maestro_devtools.docstrings`` finds what ``mkdocs build --strict`` lets through (an
``Example:`` section that renders as a quote, a visible doctest directive, an exported name
without an ``Examples:`` section); here every docstring example is also run as a doctest, in a
temporary working directory, so an example cannot go stale.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from pathlib import Path

import pytest

from maestro_devtools.docstrings import PACKAGES, problems

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_docstrings_render_and_exports_have_examples(package: str) -> None:
    assert problems(package, str(REPO_ROOT / PACKAGES[package])) == []


def _modules(package: str) -> list[str]:
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not info.name.endswith(".__main__"):  # runs its command on import
            names.append(info.name)
    return names


@pytest.mark.parametrize("module", [name for package in sorted(PACKAGES) for name in _modules(package)])
def test_docstring_examples_run(module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    try:
        imported = importlib.import_module(module)
    except ImportError as exc:  # an optional dependency's module; its extra is installed in CI
        pytest.fail(f"{module} does not import in the dev environment: {exc}")
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    failures, _tried = doctest.testmod(imported, optionflags=flags, report=True)
    assert failures == 0, f"{failures} docstring example(s) of {module} failed (output above)"
