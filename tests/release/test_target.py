"""Where the release publishes: environment, ~/.pypirc, keyring and URL handling."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import pytest

from maestro_devtools.release import ReleaseConfigError
from maestro_devtools.release.redact import MASK, Redactor
from maestro_devtools.release.target import Credentials, Target, ignored_variables, resolve_target
from maestro_devtools.release.upload import explain_status, strip_colour

pytestmark = pytest.mark.release


def test_nothing_configured_means_the_embedded_index() -> None:
    assert resolve_target({}) is None


def test_environment_target() -> None:
    target = resolve_target(
        {
            "MAESTRO_NEXUS_URL": "https://nexus.example.com/repository/pypi-hosted",
            "MAESTRO_NEXUS_USER": "ci",
            "MAESTRO_NEXUS_PASSWORD": "pw",
        }
    )
    assert target == Target("https://nexus.example.com/repository/pypi-hosted/", Credentials("ci", "pw"))
    assert target.simple_url == "https://nexus.example.com/repository/pypi-hosted/simple/"
    assert target.verify_url == target.simple_url
    assert "pw" not in repr(target)


def test_group_url_is_used_for_verification() -> None:
    target = resolve_target(
        {
            "MAESTRO_NEXUS_URL": "https://nexus.example.com/repository/pypi-hosted/",
            "MAESTRO_NEXUS_INDEX_URL": "https://nexus.example.com/repository/pypi-group/simple",
        }
    )
    assert target is not None
    assert target.verify_url == "https://nexus.example.com/repository/pypi-group/simple/"


def test_userinfo_moves_out_of_the_url() -> None:
    target = resolve_target({"MAESTRO_NEXUS_URL": "https://ci:p%40ss@nexus.example.com:8443/repository/hosted/"})
    assert target is not None
    assert target.upload_url == "https://nexus.example.com:8443/repository/hosted/"
    assert target.credentials == Credentials("ci", "p@ss")


def test_pypirc_section(tmp_path: Path) -> None:
    rc = tmp_path / "pypirc"
    rc.write_text(
        "[distutils]\nindex-servers = nexus\n\n[nexus]\n"
        "repository = https://nexus.example.com/repository/pypi-hosted/\nusername = ci\npassword = from-rc\n"
    )
    target = resolve_target({"MAESTRO_NEXUS_REPOSITORY": "nexus", "PYPIRC": str(rc)})
    assert target is not None
    assert target.upload_url == "https://nexus.example.com/repository/pypi-hosted/"
    assert target.credentials == Credentials("ci", "from-rc")
    with pytest.raises(ReleaseConfigError, match=r"has no \[other\] section"):
        resolve_target({"MAESTRO_NEXUS_REPOSITORY": "other", "PYPIRC": str(rc)})


class _MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring() -> Iterator[_MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = _MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


def test_password_from_keyring(memory_keyring: _MemoryKeyring) -> None:
    url = "https://nexus.example.com/repository/pypi-hosted/"
    memory_keyring.set_password(url, "ci", "from-keyring")
    target = resolve_target({"MAESTRO_NEXUS_URL": url, "MAESTRO_NEXUS_USER": "ci"})
    assert target is not None
    assert target.credentials == Credentials("ci", "from-keyring")


@pytest.mark.parametrize(
    ("url", "endpoint"),
    [
        ("https://n.example.com/repository/pypi-hosted/", "https://n.example.com/service/rest/v1/components"),
        ("https://n.example.com/nexus/repository/hosted/", "https://n.example.com/nexus/service/rest/v1/components"),
    ],
)
def test_components_endpoint(url: str, endpoint: str) -> None:
    target = resolve_target({"MAESTRO_NEXUS_URL": url, "MAESTRO_NEXUS_UPLOAD": "components"})
    assert target is not None
    assert target.components_endpoint[0] == endpoint
    assert target.components_endpoint[1] == url.rstrip("/").rsplit("/", 1)[1]


def test_components_needs_a_repository_url() -> None:
    target = resolve_target(
        {"MAESTRO_NEXUS_URL": "https://n.example.com/simple/", "MAESTRO_NEXUS_UPLOAD": "components"}
    )
    assert target is not None
    with pytest.raises(ReleaseConfigError, match="MAESTRO_NEXUS_URL of the form"):
        _ = target.components_endpoint


@pytest.mark.parametrize(
    "env", [{"MAESTRO_NEXUS_URL": "ftp://x/"}, {"MAESTRO_NEXUS_URL": "https://x/", "MAESTRO_NEXUS_UPLOAD": "scp"}]
)
def test_bad_configuration_is_named(env: dict[str, str]) -> None:
    with pytest.raises(ReleaseConfigError):
        resolve_target(env)


def test_redactor_masks_secrets_encodings_and_userinfo() -> None:
    redact = Redactor()
    redact.add("p@ss word")
    text = "a p@ss word b p%40ss%20word c p%40ss+word https://ci:other@host/x"
    assert redact(text) == f"a {MASK} b {MASK} c {MASK} https://{MASK}@host/x"


def test_a_generic_nexus_url_never_redirects_a_release() -> None:
    # NEXUS_URL / NEXUS_USER / NEXUS_PASSWORD are often already set for Maven
    env = {"NEXUS_URL": "https://maven.example.com/repository/maven-releases/", "NEXUS_USER": "ci"}
    assert resolve_target(env) is None
    assert ignored_variables(env) == ["NEXUS_URL", "NEXUS_USER"]
    assert ignored_variables({"MAESTRO_NEXUS_URL": "https://nexus.example.com/repository/pypi-hosted/"}) == []


def test_a_short_password_is_masked_without_mangling_ordinary_words() -> None:
    # before: a password "pass" turned "3 passed" into "3 ********ed" in every line printed
    redact = Redactor()
    redact.add("pass")
    assert redact("3 passed, compass; login maestro:pass failed (pass)") == (
        f"3 passed, compass; login maestro:{MASK} failed ({MASK})"
    )


def test_401_and_403_are_explained_apart_and_nexus_says_why_a_400() -> None:
    hosted = Target("https://nexus.example.com/repository/pypi-hosted/", Credentials("ci", "pw"))
    unauthorised = str(explain_status(401, "Unauthorized", hosted, "a.whl"))
    assert "did not accept the credentials" in unauthorised
    assert "privilege" not in unauthorised
    forbidden = str(explain_status(403, "Forbidden", hosted, "a.whl"))
    assert "nx-repository-view-pypi-pypi-hosted-add" in forbidden
    assert "nx-component-upload" not in forbidden
    components = Target(hosted.upload_url, hosted.credentials, "components")
    assert "nx-repository-view-pypi-pypi-hosted-add and nx-component-upload" in str(
        explain_status(403, "Forbidden", components, "a.whl")
    )
    refused = str(
        explain_status(400, "Bad Request", hosted, "a.whl", "Repository does not allow updating assets: pypi-hosted")
    )
    assert "the index said 'Repository does not allow updating assets: pypi-hosted'" in refused


def test_twine_colour_codes_are_stripped() -> None:
    assert strip_colour("\x1b[31mERROR   \x1b[0m HTTPError: 400 Bad Request") == "ERROR    HTTPError: 400 Bad Request"
