"""Prove the index works: install a package with all its extras into a fresh virtual
environment from that index alone, then import it and compare its version."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.parse
import venv
from pathlib import Path

from maestro_devtools.release.errors import VerificationError
from maestro_devtools.release.packages import Package
from maestro_devtools.release.target import Credentials

_IMPORT_CHECK = """
import importlib, importlib.metadata, sys
module = importlib.import_module(sys.argv[1])
installed = importlib.metadata.version(sys.argv[2])
assert module.__version__ == installed == sys.argv[3], (module.__version__, installed, sys.argv[3])
"""


def isolated_install_argv(python: Path, index_url: str, *specs: str) -> list[str]:
    """``pip install`` into the interpreter ``python`` from ``index_url`` and nothing else.

    pip runs from this environment (``--python``), so the target needs no pip of its own;
    ``--isolated`` ignores user configuration, ``--no-compile`` skips writing bytecode.
    """
    return [
        sys.executable, "-m", "pip", "--python", str(python), "install", "--isolated",
        "--no-input", "--quiet", "--no-compile", "--index-url", index_url, *specs,
    ]  # fmt: skip


def isolated_env(netrc: Path | None = None) -> dict[str, str]:
    """The environment without pip configuration, so only ``--index-url`` is used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if netrc is not None:
        env["NETRC"] = str(netrc)
    return env


def _write_netrc(directory: Path, index_url: str, credentials: Credentials) -> Path:
    host = urllib.parse.urlsplit(index_url).hostname or ""
    path = directory / "netrc"
    path.write_text(f"machine {host}\nlogin {credentials.username}\npassword {credentials.password}\n")
    path.chmod(0o600)
    return path


def verify_install(package: Package, index_url: str, credentials: Credentials | None = None) -> None:
    """Install ``package`` with every extra from ``index_url`` alone and import it.

    Raises ``VerificationError`` with pip's last lines when the install or import fails.
    """
    with tempfile.TemporaryDirectory(prefix=f"verify-{package.key}-") as tmp:
        directory = Path(tmp)
        venv.EnvBuilder(with_pip=False).create(directory / "venv")
        python = directory / "venv" / "bin" / "python"
        netrc = _write_netrc(directory, index_url, credentials) if credentials else None
        env = isolated_env(netrc)
        install = subprocess.run(
            isolated_install_argv(python, index_url, package.install_spec),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if install.returncode != 0:
            tail = "\n".join((install.stdout + install.stderr).strip().splitlines()[-12:])
            raise VerificationError(f"pip could not install {package.install_spec} from {index_url}:\n{tail}")
        check = subprocess.run(
            [str(python), "-c", _IMPORT_CHECK, package.import_name, package.dist_name, package.version],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if check.returncode != 0:
            tail = "\n".join(check.stderr.strip().splitlines()[-8:])
            raise VerificationError(f"{package.import_name} did not import after installing from {index_url}:\n{tail}")
