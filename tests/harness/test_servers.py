"""Each data and web server fixture runs the real server, and tests can use it."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import httpx
import psycopg
import pytest
import redis

from maestro_devtools.servers import PypiIndex, pid_running
from tests.fixtures.postgres import PostgresServer, os_user
from tests.fixtures.pypi import PypiIndexFactory
from tests.fixtures.redis import RedisServer
from tests.fixtures.static_site import FORM_TITLE, INDEX_TITLE, StaticSite

# What pip sends when it reads a simple index (PEP 691 JSON preferred, HTML accepted).
PIP_ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"


def test_redis_set_get_on_the_session_server(redis_url: str, redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert client.set("greeting", "hello")
        assert client.get("greeting") == "hello"
        info = client.info("server")
        # The server that answers is the process the fixture started and reports.
        assert info["process_id"] == redis_server.pid
        assert info["tcp_port"] == redis_server.port
    finally:
        client.close()
    assert redis_url == f"redis://127.0.0.1:{redis_server.port}/0"


@pytest.mark.parametrize("attempt", [1, 2])
def test_redis_url_starts_each_test_empty(redis_url: str, attempt: int) -> None:
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.dbsize() == 0
        client.set(f"left-behind-{attempt}", "x")
    finally:
        client.close()


def test_postgres_table_round_trip(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        conn.execute("CREATE TABLE runs (id serial PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO runs (name) VALUES (%s), (%s)", ("first", "second"))
        rows = conn.execute("SELECT id, name FROM runs ORDER BY id").fetchall()
    assert rows == [(1, "first"), (2, "second")]


def test_postgres_dsn_is_a_fresh_database_of_its_own(postgres_dsn: str, postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_dsn) as conn:
        dbname = conn.execute("SELECT current_database()").fetchone()
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
        data_dir = conn.execute("SHOW data_directory").fetchone()
    assert dbname is not None
    assert dbname[0].startswith("test_")
    assert postgres_dsn == postgres_server.dsn_for(dbname[0])
    assert tables == (0,)
    assert data_dir == (str(postgres_server.data_dir),)


def test_postgres_pid_is_the_postmaster_itself(postgres_server: PostgresServer) -> None:
    # postmaster.pid's first line is the postmaster's pid: not a runuser wrapper's.
    recorded = (postgres_server.data_dir / "postmaster.pid").read_text().splitlines()[0]
    assert int(recorded) == postgres_server.pid
    assert pid_running(postgres_server.pid)
    assert postgres_server.dsn == f"postgresql://postgres@127.0.0.1:{postgres_server.port}/postgres"
    owner = os_user()
    if owner is not None:  # as root, it runs as the postgres system user
        status = Path(f"/proc/{postgres_server.pid}/status").read_text()
        uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
        assert int(uid_line.split()[1]) == pwd.getpwnam(owner).pw_uid
    else:
        assert os.geteuid() != 0


def test_static_site_serves_its_pages(static_site: StaticSite) -> None:
    index = httpx.get(static_site.url, timeout=5)
    form = httpx.get(static_site.page("form.html"), timeout=5)
    assert index.status_code == 200
    assert f"<title>{INDEX_TITLE}</title>" in index.text
    assert form.status_code == 200
    assert f"<title>{FORM_TITLE}</title>" in form.text
    assert static_site.url.startswith("http://127.0.0.1:")
    assert static_site.url.endswith("/")
    assert (static_site.root / "index.html").is_file()


def test_pypi_index_answers_pip(pypi_index: PypiIndex) -> None:
    response = httpx.get(pypi_index.simple_url, headers={"Accept": PIP_ACCEPT}, timeout=5)
    assert response.status_code == 200
    assert pypi_index.simple_url == f"http://127.0.0.1:{pypi_index.process.port}/simple/"


def test_pypi_index_falls_back_to_the_public_index(pypi_index: PypiIndex) -> None:
    # Not followed: the redirect itself proves the fallback, no outside request is made.
    response = httpx.get(f"{pypi_index.simple_url}no-such-maestro-package/", timeout=5)
    assert response.is_redirect
    assert response.headers["location"].startswith("https://pypi.org/simple/")


def test_pypi_index_rejects_anonymous_uploads(pypi_index: PypiIndex) -> None:
    response = httpx.post(pypi_index.url, data={":action": "file_upload"}, timeout=5)
    assert response.status_code == 401


def test_pypi_index_factory_starts_fresh_isolated_indexes(
    pypi_index_factory: PypiIndexFactory,
) -> None:
    first = pypi_index_factory()
    second = pypi_index_factory()
    assert first.url != second.url
    assert first.directory != second.directory
    assert list(first.directory.iterdir()) == []
    unknown = httpx.get(f"{first.simple_url}no-such-maestro-package/", timeout=5)
    assert unknown.status_code == 404  # no fallback by default: isolated
    assert httpx.get(second.simple_url, headers={"Accept": PIP_ACCEPT}, timeout=5).status_code == 200
