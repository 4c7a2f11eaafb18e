"""Where to publish: the upload URL, the index to read and install from, and credentials.

Resolved from the environment (``MAESTRO_NEXUS_URL``, ``MAESTRO_NEXUS_USER``,
``MAESTRO_NEXUS_PASSWORD``, ``MAESTRO_NEXUS_REPOSITORY``, ``MAESTRO_NEXUS_UPLOAD``,
``MAESTRO_NEXUS_INDEX_URL``, ``MAESTRO_NEXUS_CHECK_URL``), a ``~/.pypirc`` section, or keyring. With
none of them the caller uses the embedded index instead. The names are prefixed on purpose: a
generic ``NEXUS_URL`` left in a shell for Maven must never decide where a release goes.
"""

from __future__ import annotations

import configparser
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from maestro_devtools.release.errors import ReleaseConfigError

UploadMethod = Literal["twine", "components"]


@dataclass(frozen=True)
class Credentials:
    """A username and password; the password never appears in ``repr``."""

    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Target:
    """A resolved publishing target."""

    upload_url: str
    credentials: Credentials | None
    method: UploadMethod = "twine"
    install_url: str | None = None
    embedded: bool = False
    check_url: str | None = None

    @property
    def simple_url(self) -> str:
        """The hosted repository's simple index, read before uploading: ``check_url`` once known
        (configured, or found by the pipeline), else ``<upload url>simple/``."""
        return self.check_url or self.upload_url + "simple/"

    @property
    def verify_url(self) -> str:
        """The simple index installs are verified from (the group, when configured)."""
        return self.install_url or self.simple_url

    @property
    def components_endpoint(self) -> tuple[str, str]:
        """``(POST URL, repository name)`` of Nexus's Components API for this hosted repository."""
        parts = urllib.parse.urlsplit(self.upload_url)
        segments = [s for s in parts.path.split("/") if s]
        if "repository" not in segments or segments.index("repository") + 1 >= len(segments):
            raise ReleaseConfigError(
                "MAESTRO_NEXUS_UPLOAD=components needs MAESTRO_NEXUS_URL of the form "
                "https://HOST/repository/<hosted repository>/"
            )
        at = segments.index("repository")
        prefix = "/".join(segments[:at])
        base = urllib.parse.urlunsplit((parts.scheme, parts.netloc, f"/{prefix}" if prefix else "", "", ""))
        return f"{base}/service/rest/v1/components", segments[at + 1]


def _normalise_url(url: str) -> tuple[str, Credentials | None]:
    """Strip userinfo out of a URL (it must never be printed) and end it with a slash."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ReleaseConfigError(
            f"MAESTRO_NEXUS_URL must be an http(s) URL of the hosted repository, got {parts.scheme or 'no'} scheme"
        )
    credentials = None
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    if parts.username:
        credentials = Credentials(urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or ""))
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, "", "")), credentials


def _pypirc_section(path: Path, section: str) -> Mapping[str, str]:
    parser = configparser.RawConfigParser()
    try:
        read = parser.read(path)
    except configparser.Error as exc:
        raise ReleaseConfigError(f"{path}: cannot be parsed ({exc.__class__.__name__})") from None
    if not read:
        raise ReleaseConfigError(f"MAESTRO_NEXUS_REPOSITORY={section} but {path} does not exist")
    if not parser.has_section(section):
        raise ReleaseConfigError(f"MAESTRO_NEXUS_REPOSITORY={section} but {path} has no [{section}] section")
    return dict(parser.items(section))


def _keyring_password(url: str, username: str) -> str | None:
    try:
        import keyring
        import keyring.errors
    except ImportError:
        return None
    try:
        password = keyring.get_password(url, username)
    except keyring.errors.KeyringError:
        return None
    return password


def resolve_target(env: Mapping[str, str], *, pypirc: Path | None = None) -> Target | None:
    """The configured target, or ``None`` when nothing is configured (use the embedded index)."""
    section = env.get("MAESTRO_NEXUS_REPOSITORY", "").strip()
    url = env.get("MAESTRO_NEXUS_URL", "").strip()
    username = env.get("MAESTRO_NEXUS_USER") or None
    password = env.get("MAESTRO_NEXUS_PASSWORD") or None
    if section:
        rc = pypirc or Path(env.get("PYPIRC", Path.home() / ".pypirc"))
        values = _pypirc_section(Path(rc), section)
        url = url or values.get("repository", "")
        username = username or values.get("username")
        password = password or values.get("password")
        if not url:
            raise ReleaseConfigError(f"[{section}] in {rc} has no repository URL and MAESTRO_NEXUS_URL is not set")
    if not url:
        return None
    upload_url, url_credentials = _normalise_url(url)
    if url_credentials is not None:
        username = username or url_credentials.username
        password = password or url_credentials.password
    if username and not password:
        password = _keyring_password(upload_url, username) or _keyring_password(url, username)
    credentials = Credentials(username, password) if username and password else None
    requested = env.get("MAESTRO_NEXUS_UPLOAD", "twine").strip() or "twine"
    method: UploadMethod
    if requested == "components":
        method = "components"
    elif requested == "twine":
        method = "twine"
    else:
        raise ReleaseConfigError(f"MAESTRO_NEXUS_UPLOAD must be 'twine' or 'components', got {requested!r}")
    install = env.get("MAESTRO_NEXUS_INDEX_URL", "").strip()
    install_url = _normalise_url(install)[0] if install else None
    check = env.get("MAESTRO_NEXUS_CHECK_URL", "").strip()
    check_url = _normalise_url(check)[0] if check else None
    return Target(upload_url, credentials, method, install_url, check_url=check_url)


_SETTINGS = ("URL", "USER", "PASSWORD", "REPOSITORY", "UPLOAD", "INDEX_URL", "CHECK_URL")


def ignored_variables(env: Mapping[str, str]) -> list[str]:
    """Unprefixed ``NEXUS_*`` settings that are set: the release never reads them, and says so."""
    return [f"NEXUS_{name}" for name in _SETTINGS if env.get(f"NEXUS_{name}")]


def environment_flag(env: Mapping[str, str], name: str) -> bool:
    """Whether an on/off environment variable (``DRY_RUN=1``) is on."""
    return env.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


__all__ = ["Credentials", "Target", "UploadMethod", "environment_flag", "ignored_variables", "resolve_target"]
