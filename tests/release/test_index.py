"""Parsing an index's simple pages (PEP 503 HTML and PEP 691 JSON), comparing content on any
advertised hash, and refusing to believe a 404 from an index whose root does not answer."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from maestro_devtools.release.index import IndexFile, parse_simple_page
from maestro_devtools.servers import free_port, wait_for_port
from tests.release.conftest import run_release_command


def test_simple_page_html_and_json() -> None:
    html = (
        '<html><body><a href="../../packages/maestro_resilience-0.1.0.tar.gz#sha256=abc">x</a>'
        '<a href="/p/maestro_resilience-0.1.0-py3-none-any.whl#md5=1">y</a></body></html>'
    )
    assert parse_simple_page(html, "text/html") == {
        "maestro_resilience-0.1.0.tar.gz": IndexFile("maestro_resilience-0.1.0.tar.gz", {"sha256": "abc"}),
        "maestro_resilience-0.1.0-py3-none-any.whl": IndexFile(
            "maestro_resilience-0.1.0-py3-none-any.whl", {"md5": "1"}
        ),
    }
    body = json.dumps({"files": [{"filename": "a-1.tar.gz", "url": "u", "hashes": {"sha256": "f00"}}]})
    assert parse_simple_page(body, "application/vnd.pypi.simple.v1+json") == {
        "a-1.tar.gz": IndexFile("a-1.tar.gz", {"sha256": "f00"})
    }


def test_an_md5_only_index_still_has_its_content_compared(tmp_path: Path) -> None:
    # Nexus's open-source PyPI plugin and Artifactory link files with #md5= only: before, the
    # same-version content check silently switched off there
    built = tmp_path / "maestro_resilience-2.0.0.tar.gz"
    built.write_bytes(b"the sdist this tree builds")
    md5 = hashlib.md5(built.read_bytes()).hexdigest()  # noqa: S324 - what the index advertises
    page = f'<a href="../../packages/maestro_resilience-2.0.0.tar.gz#md5={md5}">maestro_resilience-2.0.0.tar.gz</a>'
    (listed,) = parse_simple_page(page, "text/html").values()
    assert listed.same_content(built) is True
    built.write_bytes(b"other content under the same version")
    assert listed.same_content(built) is False
    assert IndexFile(built.name, {}).same_content(built) is None  # no hash: cannot tell, never "same"


@pytest.mark.release
def test_a_404_is_not_believed_when_the_index_root_does_not_answer(release_repo: Path, tmp_path: Path) -> None:
    # a real HTTP server that is not an index: every path is a 404. Before, the dry run read
    # that as "nothing published yet" and said it would upload everything
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port("127.0.0.1", port, timeout=30, alive=lambda: server.poll() is None)
        url = f"http://127.0.0.1:{port}/repository/pypi-hosted/"
        result = run_release_command(release_repo, {"MAESTRO_NEXUS_URL": url, "DRY_RUN": "1"}, "resilience")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert result.returncode == 1, result.output
    assert f"no simple index answers at {url}simple/ or {url}+simple/" in result.stderr
    assert "MAESTRO_NEXUS_CHECK_URL" in result.stderr
    assert "would upload" not in result.stdout
