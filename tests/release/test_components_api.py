"""Uploads through Nexus's REST Components API, checked against a loopback HTTP server that
records each request exactly as Nexus would receive it."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.release.conftest import run_release_command

pytestmark = pytest.mark.release


@dataclass
class FakeNexus:
    """Answers like a Nexus hosted PyPI repository and keeps every request."""

    url: str
    requests: list[dict[str, object]] = field(default_factory=list)
    upload_status: int = 204


@pytest.fixture
def fake_nexus() -> Iterator[FakeNexus]:
    state = FakeNexus("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            state.requests.append({"method": "GET", "path": self.path})
            if self.path.endswith("/pypi-hosted/simple/"):  # the repository's root page answers
                body = b"<html><body></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            self.send_response(404)  # a hosted repository without this project
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append({"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body})
            self.send_response(state.upload_status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _parts(request: dict[str, object]) -> list[tuple[str | None, str | None, bytes]]:
    headers = request["headers"]
    assert isinstance(headers, dict)
    body = request["body"]
    assert isinstance(body, bytes)
    raw = f"Content-Type: {headers['Content-Type']}\r\n\r\n".encode() + body
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    return [
        (part.get_param("name", header="content-disposition"), part.get_filename(), part.get_payload(decode=True))
        for part in message.iter_parts()
    ]


def components_env(repository_url: str, user: str, password: str) -> dict[str, str]:
    """Publish through the Components API to the hosted repository at ``repository_url``."""
    return {
        "MAESTRO_NEXUS_URL": repository_url,
        "MAESTRO_NEXUS_USER": user,
        "MAESTRO_NEXUS_PASSWORD": password,
        "MAESTRO_NEXUS_UPLOAD": "components",
    }


def test_components_upload_request_format(release_repo: Path, fake_nexus: FakeNexus) -> None:
    env = components_env(f"{fake_nexus.url}/nexus/repository/pypi-hosted/", "ci-publisher", "s3cret-components")
    result = run_release_command(release_repo, env, "resilience", "--no-verify")
    assert result.returncode == 0, result.output
    assert "s3cret-components" not in result.output

    gets = [r for r in fake_nexus.requests if r["method"] == "GET"]
    assert [r["path"] for r in gets] == [
        "/nexus/repository/pypi-hosted/simple/",  # the root answers, so a project's 404 is believed
        "/nexus/repository/pypi-hosted/simple/maestro-resilience/",
    ]
    posts = [r for r in fake_nexus.requests if r["method"] == "POST"]
    assert len(posts) == 2  # sdist and wheel, one asset per request
    built = {p.name: p.read_bytes() for p in (release_repo / "dist/resilience").iterdir()}
    uploaded = {}
    for post in posts:
        path = str(post["path"])
        split = urllib.parse.urlsplit(path)
        assert split.path == "/nexus/service/rest/v1/components"
        assert urllib.parse.parse_qs(split.query) == {"repository": ["pypi-hosted"]}
        headers = post["headers"]
        assert isinstance(headers, dict)
        expected = base64.b64encode(b"ci-publisher:s3cret-components").decode()
        assert headers["Authorization"] == f"Basic {expected}"
        assert headers["Content-Type"].startswith("multipart/form-data; boundary=")
        parts = _parts(post)
        assert [name for name, _, _ in parts] == ["pypi.asset"]
        _, filename, payload = parts[0]
        assert filename is not None
        uploaded[filename] = payload
    assert uploaded == built


def test_components_refusal_is_explained(release_repo: Path, fake_nexus: FakeNexus) -> None:
    fake_nexus.upload_status = 400  # Nexus with redeploy disabled
    env = components_env(f"{fake_nexus.url}/repository/pypi-hosted/", "ci", "pw-components-400")
    result = run_release_command(release_repo, env, "audit-logger", "--no-verify")
    assert result.returncode == 1
    assert "(HTTP 400 Bad Request)" in result.stderr
    assert "already holds a file of that name" in result.stderr
    assert "pw-components-400" not in result.output
