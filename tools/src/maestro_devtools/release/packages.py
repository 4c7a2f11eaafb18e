"""The packages of the repository: folder, distribution name, version and extras."""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from maestro_devtools.release.errors import ReleaseConfigError

PRIVATE_CLASSIFIER = "Private :: Do Not Upload"


@dataclass(frozen=True)
class Package:
    """One publishable Hatch project in the repository."""

    folder: Path
    dist_name: str
    import_name: str
    version: str
    extras: tuple[str, ...]
    requires: tuple[str, ...]

    @property
    def key(self) -> str:
        """The folder name, as Makefile targets spell it (``test-adapters``)."""
        return self.folder.name

    @property
    def project(self) -> str:
        """The normalised project name, as simple-index URLs spell it."""
        return canonicalize_name(self.dist_name)

    @property
    def install_spec(self) -> str:
        """``name[extra,...]==version`` for pip."""
        extras = f"[{','.join(self.extras)}]" if self.extras else ""
        return f"{self.dist_name}{extras}=={self.version}"


def _read_version(about: Path) -> str:
    tree = ast.parse(about.read_text(), filename=str(about))
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    raise ReleaseConfigError(f"{about}: no __version__ = '...' assignment")


def load_package(folder: Path) -> Package:
    """Read a package's pyproject.toml and the ``__about__.py`` its version comes from."""
    pyproject = folder / "pyproject.toml"
    try:
        data = tomllib.loads(pyproject.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReleaseConfigError(f"{pyproject}: {exc}") from exc
    project = data.get("project", {})
    name = project.get("name")
    version_path = data.get("tool", {}).get("hatch", {}).get("version", {}).get("path")
    if not name or not version_path:
        raise ReleaseConfigError(f"{pyproject}: needs [project].name and [tool.hatch.version].path")
    import_name = re.sub(r"[-.]+", "_", name).lower()
    extras = tuple(sorted(project.get("optional-dependencies", {})))
    requires = tuple(project.get("dependencies", []))
    return Package(folder, name, import_name, _read_version(folder / version_path), extras, requires)


def version_file(package: Package) -> Path:
    """The file that holds the package's ``__version__`` (``[tool.hatch.version].path``)."""
    data = tomllib.loads((package.folder / "pyproject.toml").read_text())
    return package.folder / str(data["tool"]["hatch"]["version"]["path"])


def _is_publishable(pyproject: Path) -> bool:
    """A folder with a ``[project]`` table that is not marked private; an unreadable file is an
    error, never a package silently left out of the release."""
    try:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ReleaseConfigError(f"{pyproject} cannot be read ({exc.__class__.__name__}: {exc})") from None
    return bool(project) and PRIVATE_CLASSIFIER not in project.get("classifiers", [])


def _dependency_order(packages: list[Package]) -> list[Package]:
    """Order packages so each comes after the repository packages it depends on."""
    by_project = {p.project: p for p in packages}
    ordered: list[Package] = []
    seen: set[str] = set()

    def visit(package: Package) -> None:
        if package.project in seen:
            return
        seen.add(package.project)
        for requirement in package.requires:
            dependency = by_project.get(canonicalize_name(Requirement(requirement).name))
            if dependency is not None:
                visit(dependency)
        ordered.append(package)

    for package in sorted(packages, key=lambda p: p.key):
        visit(package)
    return ordered


def discover_packages(root: Path, only: list[str] | None = None) -> list[Package]:
    """The publishable packages under ``root`` in dependency order, optionally a subset.

    ``only`` names folders (``resilience``) or distribution names; an unknown name is an error.
    """
    packages = [
        load_package(pyproject.parent)
        for pyproject in sorted(root.glob("*/pyproject.toml"))
        if _is_publishable(pyproject)
    ]
    if only:
        wanted = {canonicalize_name(n) for n in only}
        known = {canonicalize_name(p.key) for p in packages} | {p.project for p in packages}
        unknown = sorted(wanted - known)
        if unknown:
            names = ", ".join(p.key for p in packages)
            raise ReleaseConfigError(f"unknown package {', '.join(unknown)}; known: {names}")
        packages = [p for p in packages if {canonicalize_name(p.key), p.project} & wanted]
    return _dependency_order(packages)
