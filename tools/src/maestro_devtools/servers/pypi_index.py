"""A real PyPI-compatible index (pypiserver) on loopback with upload authentication.

Serves a directory of distribution files. Uploads need the generated credentials; reads
are open. Names the index does not hold are redirected to ``fallback_url`` (the public
index by default), which imitates a Nexus ``pypi-group`` (hosted + proxy) on one URL.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from maestro_devtools.servers._process import ServerProcess, start_server

PUBLIC_SIMPLE_INDEX = "https://pypi.org/simple/"


@dataclass(frozen=True)
class PypiIndex:
    """A running index: its upload URL, simple URL, credentials and package directory."""

    url: str
    username: str
    password: str
    directory: Path
    process: ServerProcess

    @property
    def simple_url(self) -> str:
        """The PEP 503 simple index that pip's ``--index-url`` takes."""
        return f"{self.url}simple/"

    def __repr__(self) -> str:  # never show the password
        return f"PypiIndex(url={self.url!r}, username={self.username!r}, directory={self.directory!r})"


def _pypi_server_command() -> list[str]:
    exe = Path(sys.executable).with_name("pypi-server")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pypi-server")
    if found:
        return [found]
    return [sys.executable, "-m", "pypiserver"]


def write_htpasswd(path: Path, username: str, password: str) -> None:
    """Write an Apache htpasswd file holding one user (apr1 MD5, as pypiserver reads it)."""
    with warnings.catch_warnings():
        # passlib (unmaintained, but what pypiserver itself reads htpasswd with) imports
        # the stdlib ``crypt`` module, deprecated since Python 3.11.
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile

    htpasswd = HtpasswdFile(str(path), new=True, default_scheme="apr_md5_crypt")
    htpasswd.set_password(username, password)
    htpasswd.save()
    path.chmod(0o600)


@contextmanager
def start_pypi_index(
    directory: Path,
    *,
    state_dir: Path,
    port: int | None = None,
    username: str = "maestro",
    password: str | None = None,
    fallback_url: str | None = PUBLIC_SIMPLE_INDEX,
) -> Iterator[PypiIndex]:
    """Run pypiserver over ``directory`` until the ``with`` block ends.

    ``state_dir`` holds the htpasswd file and the server log. A password is generated
    unless given. ``fallback_url=None`` disables the redirect for unknown names.
    """
    directory.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    password = password if password is not None else secrets.token_urlsafe(24)
    htpasswd = state_dir / "htpasswd"
    write_htpasswd(htpasswd, username, password)
    fallback = ["--disable-fallback"] if fallback_url is None else ["--fallback-url", fallback_url]

    def argv(chosen: int) -> list[str]:
        return [
            *_pypi_server_command(),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(chosen),
            "--authenticate",
            "update",
            "--passwords",
            str(htpasswd),
            "--backend",
            "simple-dir",
            *fallback,
            str(directory),
        ]

    process = start_server("pypiserver", argv, port=port, log_path=state_dir / "pypiserver.log")
    try:
        yield PypiIndex(f"http://127.0.0.1:{process.port}/", username, password, directory, process)
    finally:
        process.stop()
