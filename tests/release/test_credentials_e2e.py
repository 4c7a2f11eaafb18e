"""Credentials from a ~/.pypirc section reach a real index, and stay out of the output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.pypi import PypiIndexFactory
from tests.release.conftest import run_release_command, version_of

pytestmark = pytest.mark.release


def test_publish_with_a_pypirc_section(
    release_repo: Path, pypi_index_factory: PypiIndexFactory, tmp_path: Path
) -> None:
    index = pypi_index_factory()
    rc = tmp_path / "pypirc"
    rc.write_text(
        f"[distutils]\nindex-servers = maestro-nexus\n\n[maestro-nexus]\nrepository = {index.url}\n"
        f"username = {index.username}\npassword = {index.password}\n"
    )
    env = {"MAESTRO_NEXUS_REPOSITORY": "maestro-nexus", "PYPIRC": str(rc), "V": "1"}
    result = run_release_command(release_repo, env, "audit-logger", "--no-verify")
    assert result.returncode == 0, result.output
    assert sorted(p.name for p in index.directory.iterdir()) == [
        f"maestro_audit_logger-{version_of('audit-logger')}-py3-none-any.whl",
        f"maestro_audit_logger-{version_of('audit-logger')}.tar.gz",
    ]
    assert "$ python -m twine upload --non-interactive" in result.stdout  # V=1 shows the command...
    assert index.password not in result.output  # ...but never the password
