"""Read a hosted repository's simple index: which files of a project it already holds."""

from __future__ import annotations

import html.parser
import json
import urllib.parse
from dataclasses import dataclass

import httpx

from maestro_devtools.release.errors import CredentialsError, IndexUnreachableError, ReleaseError
from maestro_devtools.release.target import Credentials

_JSON = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class IndexFile:
    """A file the index holds, with the sha256 it advertises (if any)."""

    filename: str
    sha256: str | None


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
    fragment = dict(urllib.parse.parse_qsl(parts.fragment))
    return IndexFile(filename, fragment.get("sha256"))


def parse_simple_page(body: str, content_type: str) -> dict[str, IndexFile]:
    """Files listed on a PEP 503 (HTML) or PEP 691 (JSON) project page."""
    if content_type.startswith(_JSON):
        data = json.loads(body)
        return {
            f["filename"]: IndexFile(f["filename"], f.get("hashes", {}).get("sha256")) for f in data.get("files", [])
        }
    parser = _LinkParser()
    parser.feed(body)
    files = (_file_from_href(href) for href in parser.hrefs)
    return {f.filename: f for f in files if f.filename}


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

    def files(self, project: str) -> dict[str, IndexFile]:
        """The files the index holds for ``project`` (a normalised name)."""
        url = f"{self.simple_url}{project}/"
        try:
            response = self._client.get(url, headers={"Accept": f"{_JSON}, text/html;q=0.5"})
        except httpx.TransportError as exc:
            raise IndexUnreachableError(
                f"cannot reach the index at {self.simple_url} ({exc.__class__.__name__}: {exc}); "
                "check MAESTRO_NEXUS_URL and the network"
            ) from None
        if response.status_code in (401, 403):
            raise CredentialsError(
                f"the index at {self.simple_url} answered {response.status_code} "
                f"{response.reason_phrase} to reading {project}: the account needs read access "
                "to the hosted repository (check MAESTRO_NEXUS_USER / MAESTRO_NEXUS_PASSWORD)"
            )
        if response.status_code == 404 or response.is_redirect:
            return {}
        if response.status_code != 200:
            raise ReleaseError(
                f"the index at {self.simple_url} answered {response.status_code} {response.reason_phrase} for {project}"
            )
        return parse_simple_page(response.text, response.headers.get("content-type", ""))
