"""Upload distribution files: with twine (the standard upload API) or Nexus's Components API.

Both explain the server's refusal in words instead of dumping it, and neither ever puts a
password on a command line or in the output.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import httpx

from maestro_devtools.release.errors import CredentialsError, IndexUnreachableError, UploadError
from maestro_devtools.release.target import Credentials, Target

Log = Callable[[str], None]


class Uploader(Protocol):
    """Uploads files to a target; raises a ``ReleaseError`` subclass on failure."""

    def upload(self, files: Sequence[Path]) -> None:
        """Upload every file in ``files``."""


def explain_status(status: int, reason: str, target: Target, filename: str, detail: str = "") -> Exception:
    """Turn an upload's HTTP status into an error that says what to do.

    ``detail`` is the server's own explanation (Nexus puts the reason for a 400 in the response),
    shown after ours; the caller redacts it like every printed line.
    """
    user = target.credentials.username if target.credentials else None
    who = f"user {user!r}" if user else "an anonymous upload (no credentials configured)"
    said = f": the index said {detail.strip()!r}" if detail.strip() else ""
    if status == 401:
        return CredentialsError(
            f"the index at {target.upload_url} refused {who} (HTTP 401 {reason}) while uploading {filename}: "
            "it did not accept the credentials; check MAESTRO_NEXUS_USER / MAESTRO_NEXUS_PASSWORD (or the "
            "~/.pypirc section or keyring entry)"
        )
    if status == 403:
        repository = target.upload_url.rstrip("/").rsplit("/", 1)[-1] or "<hosted repository>"
        components = " and nx-component-upload" if target.method == "components" else ""
        return CredentialsError(
            f"the index at {target.upload_url} refused {who} (HTTP 403 {reason}) while uploading {filename}: "
            f"the account lacks the privilege to add to the hosted repository (on Nexus, grant its role "
            f"nx-repository-view-pypi-{repository}-add{components}); pypiserver also answers 403 to a wrong "
            "password: check MAESTRO_NEXUS_USER / MAESTRO_NEXUS_PASSWORD"
        )
    if status in (400, 409):
        return UploadError(
            f"the index at {target.upload_url} refused {filename} (HTTP {status} {reason}){said}. It "
            "already holds a file of that name (redeploy disabled) or rejected it as invalid; "
            "bump the version if the file changed"
        )
    if status == 404:
        return UploadError(
            f"the index answered 404 Not Found for the upload of {filename}: "
            f"{target.upload_url} is not a hosted repository's upload URL"
        )
    return UploadError(f"uploading {filename} to {target.upload_url} failed: HTTP {status} {reason}{said}")


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def strip_colour(text: str) -> str:
    """``text`` without terminal colour codes (twine colours its errors even into a pipe)."""
    return _ANSI.sub("", text)


_TWINE_HTTP_ERROR = re.compile(
    r"HTTPError:\s*(?P<status>\d{3})\s*(?P<reason>[^\n]*?)\s+from\s[^\n]*\n?(?P<detail>[^\n]*)"
)


class TwineUploader:
    """``twine upload --repository-url`` with credentials passed through the environment."""

    def __init__(self, target: Target, log: Log, *, verbose: bool = False) -> None:
        self.target = target
        self.log = log
        self.verbose = verbose

    def upload(self, files: Sequence[Path]) -> None:
        """Upload ``files`` in one twine run."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
        credentials = self.target.credentials
        if credentials is not None:
            env["TWINE_USERNAME"] = credentials.username
            env["TWINE_PASSWORD"] = credentials.password
        argv = [
            sys.executable,
            "-m",
            "twine",
            "upload",
            "--non-interactive",
            "--disable-progress-bar",
            "--repository-url",
            self.target.upload_url,
            *map(str, files),
        ]
        if self.verbose:
            self.log("$ python " + " ".join(argv[1:]))
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        output = strip_colour(result.stdout + result.stderr)
        if self.verbose:
            for line in output.splitlines():
                self.log("  " + line)
        if result.returncode == 0:
            return
        match = _TWINE_HTTP_ERROR.search(output)
        if match:
            names = ", ".join(f.name for f in files)
            raise explain_status(int(match["status"]), match["reason"], self.target, names, match["detail"])
        if "ConnectionError" in output or "Max retries exceeded" in output:
            raise IndexUnreachableError(
                f"twine could not reach {self.target.upload_url}; check MAESTRO_NEXUS_URL and the network"
            )
        tail = "\n".join(output.strip().splitlines()[-10:])
        raise UploadError(f"twine upload to {self.target.upload_url} failed:\n{tail}")


class ComponentsUploader:
    """Nexus REST: ``POST <base>/service/rest/v1/components?repository=<name>``, field ``pypi.asset``."""

    def __init__(self, target: Target, log: Log, *, verbose: bool = False, timeout: float = 120.0) -> None:
        self.target = target
        self.log = log
        self.verbose = verbose
        self.timeout = timeout

    def upload(self, files: Sequence[Path]) -> None:
        """Upload each file with its own request (the API takes one asset per component)."""
        endpoint, repository = self.target.components_endpoint
        credentials: Credentials | None = self.target.credentials
        auth = (credentials.username, credentials.password) if credentials else None
        with httpx.Client(auth=auth, timeout=self.timeout, follow_redirects=False) as client:
            for path in files:
                if self.verbose:
                    self.log(f"POST {endpoint}?repository={repository} pypi.asset={path.name}")
                try:
                    with path.open("rb") as handle:
                        response = client.post(
                            endpoint,
                            params={"repository": repository},
                            files={"pypi.asset": (path.name, handle, "application/octet-stream")},
                        )
                except httpx.TransportError as exc:
                    raise IndexUnreachableError(
                        f"cannot reach Nexus at {endpoint} ({exc.__class__.__name__}); check MAESTRO_NEXUS_URL"
                    ) from None
                if response.status_code not in (200, 201, 204):
                    detail = response.text[:500] if response.status_code == 400 else ""
                    raise explain_status(response.status_code, response.reason_phrase, self.target, path.name, detail)


def make_uploader(target: Target, log: Log, *, verbose: bool = False) -> Uploader:
    """The uploader ``target.method`` asks for."""
    if target.method == "components":
        return ComponentsUploader(target, log, verbose=verbose)
    return TwineUploader(target, log, verbose=verbose)
