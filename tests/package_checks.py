"""Checks every package's tests run on its public surface: one implementation, four callers.

A package passes when its ``__all__`` names exist and are documented, its ``__version__``
matches the installed metadata, it ships ``py.typed``, and importing it does not import its
optional dependencies (they are imported lazily, so import time stays low).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType


def assert_public_surface(module: ModuleType, dist: str) -> None:
    """``__all__`` is sorted, complete and documented; version and ``py.typed`` are right."""
    exported = list(getattr(module, "__all__", []))
    assert exported == sorted(exported), f"{module.__name__}.__all__ is not sorted"
    assert "__version__" in exported
    for name in exported:
        assert hasattr(module, name), f"{module.__name__}.__all__ names {name}, which does not exist"
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), f"{module.__name__}.{name} has no docstring"
    assert module.__doc__, f"{module.__name__} has no module docstring"
    assert module.__version__ == importlib.metadata.version(dist)
    assert module.__file__ is not None
    assert (Path(module.__file__).parent / "py.typed").is_file(), f"{module.__name__} lacks py.typed"


def modules_imported_by(module_name: str) -> set[str]:
    """Top-level module names a fresh interpreter holds after ``import module_name``."""
    code = (
        "import json, sys; before = set(sys.modules); "
        f"import {module_name}; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out))


def assert_lazy_imports(module_name: str, optional: Iterable[str]) -> None:
    """Importing ``module_name`` must not import any of the ``optional`` dependencies."""
    imported = modules_imported_by(module_name)
    eager = sorted(set(optional) & imported)
    assert not eager, f"import {module_name} imported optional dependencies eagerly: {eager}"
    importlib.import_module(module_name)


def run_mypy_strict(path: Path) -> subprocess.CompletedProcess[str]:
    """mypy --strict over one file of typed usage examples, with the repository's settings."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--config-file",
            str(root / "mypy.ini"),
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )


def assert_mypy_strict_passes(path: Path) -> None:
    """The public API, used as users write it in ``path``, type-checks under mypy --strict."""
    result = run_mypy_strict(path)
    assert result.returncode == 0, result.stdout + result.stderr
