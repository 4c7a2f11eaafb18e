"""Read a hosted repository's simple index: which files of a project it already holds, and
with which hashes.

Any PyPI-compatible index works: the simple index is found at ``<upload URL>simple/`` (Nexus,
pypiserver, Artifactory) or ``<upload URL>+simple/`` (devpi) unless ``MAESTRO_NEXUS_CHECK_URL``
names it (uv publish's ``--check-url`` is the model). Its root must answer before a project's 404
is believed to mean "nothing published yet".
"""

from __future__ import annotations

import hashlib
import html.parser
import json
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

from maestro_devtools.release.errors import CredentialsError, IndexUnreachableError, ReleaseError
from maestro_devtools.release.target import Credentials

_JSON = "application/vnd.pypi.simple.v1+json"


_STRONGEST_FIRST = ("sha256", "sha512", "sha384", "blake2b", "sha224", "sha1", "md5")


@dataclass(frozen=True)
class IndexFile:
    """A file the index holds, with the hashes it advertises (Nexus's open-source plugin and
    Artifactory advertise only ``md5``)."""

    filename: str
    hashes: dict[str, str]

    @property
    def sha256(self) -> str | None:
        """The advertised sha256, if any."""
        return self.hashes.get("sha256")

    def same_content(self, path: Path) -> bool | None:
        """Whether ``path`` has the content the index advertises: compared on the strongest hash
        the index gives; ``None`` when it gives none we can compute (the caller cannot tell)."""
        for name in _STRONGEST_FIRST:
            advertised = self.hashes.get(name)
            if advertised:
                return hashlib.new(name, path.read_bytes()).hexdigest() == advertised.lower()
        return None


class _LinkParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _file_from_href(href: str) -> IndexFile:
    parts = urllib.parse.urlsplit(href)
    filename = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
    fragment = dict(urllib.parse.parse_qsl(parts.fragment))  # PEP 503: #<hash name>=<hex digest>
    return IndexFile(filename, {k: v for k, v in fragment.items() if k in hashlib.algorithms_guaranteed})


def parse_simple_page(body: str, content_type: str) -> dict[str, IndexFile]:
    """Files listed on a PEP 503 (HTML) or PEP 691 (JSON) project page."""
    if content_type.startswith(_JSON):
        data = json.loads(body)
        return {f["filename"]: IndexFile(f["filename"], dict(f.get("hashes") or {})) for f in data.get("files", [])}
    parser = _LinkParser()
    parser.feed(body)
    files = (_file_from_href(href) for href in parser.hrefs)
    return {f.filename: f for f in files if f.filename}


def simple_url_candidates(upload_url: str, check_url: str | None) -> list[str]:
    """Where the simple index may be: the configured check URL, else the usual places.

    Examples:
        >>> simple_url_candidates("https://nexus.example.com/repository/pypi-hosted/", None)
        ['https://nexus.example.com/repository/pypi-hosted/simple/', 'https://nexus.example.com/repository/pypi-hosted/+simple/']
        >>> simple_url_candidates(
        ...     "http://127.0.0.1:3141/maestro/release/", "http://127.0.0.1:3141/maestro/release/+simple/"
        ... )
        ['http://127.0.0.1:3141/maestro/release/+simple/']
    """
    if check_url:
        return [check_url if check_url.endswith("/") else check_url + "/"]
    return [upload_url + "simple/", upload_url + "+simple/"]


class IndexReader:
    """Reads project pages without following redirects.

    A redirect means "not here" (pypiserver sends unknown names to its fallback index), so
    following it would mistake the public index's files for ours.
    """

    def __init__(self, simple_url: str, credentials: Credentials | None, *, timeout: float = 30.0) -> None:
        self.simple_url = simple_url
        auth = (credentials.username, credentials.password) if credentials else None
        self._client = httpx.Client(auth=auth, follow_redirects=False, timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def _get(self, url: str, what: str) -> httpx.Response:
        try:
            response = self._client.get(url, headers={"Accept": f"{_JSON}, text/html;q=0.5"})
        except httpx.TransportError as exc:
            raise IndexUnreachableError(
                f"cannot reach the index at {self.simple_url} ({exc.__class__.__name__}: {exc}); "
                "check MAESTRO_NEXUS_URL and the network"
            ) from None
        if response.status_code == 401:
            raise CredentialsError(
                f"the index at {self.simple_url} answered 401 {response.reason_phrase} to reading {what}: "
                "it did not accept the credentials (check MAESTRO_NEXUS_USER / MAESTRO_NEXUS_PASSWORD, the "
                "~/.pypirc section or the keyring entry)"
            )
        if response.status_code == 403:
            raise CredentialsError(
                f"the index at {self.simple_url} answered 403 {response.reason_phrase} to reading {what}: "
                "the account lacks read access to the hosted repository (on Nexus, grant its role "
                "nx-repository-view-pypi-<repository>-read and -browse; pypiserver also answers 403 to a "
                "wrong password: check MAESTRO_NEXUS_USER / MAESTRO_NEXUS_PASSWORD)"
            )
        return response

    def root_answers(self) -> bool:
        """Whether the simple index's root page answers 200 (401/403 raise ``CredentialsError``)."""
        return self._get(self.simple_url, "the index root").status_code == 200

    def files(self, project: str) -> dict[str, IndexFile]:
        """The files the index holds for ``project`` (a normalised name)."""
        response = self._get(f"{self.simple_url}{project}/", project)
        if response.status_code == 404 or response.is_redirect:
            return {}
        if response.status_code != 200:
            raise ReleaseError(
                f"the index at {self.simple_url} answered {response.status_code} {response.reason_phrase} for {project}"
            )
        return parse_simple_page(response.text, response.headers.get("content-type", ""))


def open_index(upload_url: str, check_url: str | None, credentials: Credentials | None) -> IndexReader:
    """A reader on the first candidate simple index whose root answers; an error naming every URL
    tried when none does (a 404 for a project then means nothing, so nothing is believed)."""
    tried = []
    for url in simple_url_candidates(upload_url, check_url):
        reader = IndexReader(url, credentials)
        try:
            if reader.root_answers():
                return reader
        except BaseException:
            reader.close()
            raise
        reader.close()
        tried.append(url)
    raise IndexUnreachableError(
        f"no simple index answers at {' or '.join(tried)}: set MAESTRO_NEXUS_CHECK_URL to the hosted "
        "repository's simple index URL (the page pip reads, ending in /simple/ or /+simple/)"
    )
