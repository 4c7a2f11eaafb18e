"""Prove a release works: install it with all its extras into a fresh virtual environment and
run its smoke check (``smoke.py``) — the just-built files before anything is uploaded, and the
published version from the index afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import urllib.parse
import venv
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import parse_wheel_filename

from maestro_devtools.release.errors import VerificationError
from maestro_devtools.release.packages import Package
from maestro_devtools.release.smoke import smoke_script
from maestro_devtools.release.target import Credentials


def isolated_install_argv(python: Path, index_url: str, *specs: str, find_links: Sequence[Path] = ()) -> list[str]:
    """``pip install`` into the interpreter ``python`` from ``index_url`` (and ``find_links``) only.

    pip runs from this environment (``--python``), so the target needs no pip of its own;
    ``--isolated`` ignores user configuration, ``--no-compile`` skips writing bytecode.
    """
    links = [arg for folder in find_links for arg in ("--find-links", str(folder))]
    return [
        sys.executable, "-m", "pip", "--python", str(python), "install", "--isolated",
        "--no-input", "--quiet", "--no-compile", "--index-url", index_url, *links, *specs,
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


def _install_and_check(
    package: Package,
    requirement: str,
    what: str,
    index_url: str,
    *,
    credentials: Credentials | None,
    find_links: Sequence[Path] = (),
    interpreter: Path | None = None,
    require_accelerator: bool = False,
) -> str:
    """Install ``requirement`` into a fresh venv of ``interpreter`` (default: this one) and run the
    smoke check; its output, or ``VerificationError``."""
    with tempfile.TemporaryDirectory(prefix=f"verify-{package.key}-") as tmp:
        directory = Path(tmp)
        if interpreter is None:
            venv.EnvBuilder(with_pip=False).create(directory / "venv")
        else:
            made = subprocess.run(
                [str(interpreter), "-m", "venv", "--without-pip", str(directory / "venv")],
                capture_output=True,
                text=True,
                check=False,
            )
            if made.returncode != 0:
                raise VerificationError(f"{interpreter} could not make a virtual environment: {made.stderr.strip()}")
        python = directory / "venv" / "bin" / "python"
        netrc = _write_netrc(directory, index_url, credentials) if credentials else None
        env = isolated_env(netrc)
        install = subprocess.run(
            isolated_install_argv(python, index_url, requirement, find_links=find_links),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if install.returncode != 0:
            tail = "\n".join((install.stdout + install.stderr).strip().splitlines()[-12:])
            raise VerificationError(f"pip could not install {what}:\n{tail}")
        argv = [str(python), "-c", smoke_script(package.import_name), package.import_name, package.dist_name]
        check = subprocess.run(
            [*argv, package.version],
            capture_output=True,
            text=True,
            env={**env, "MAESTRO_SMOKE_REQUIRE_ACCELERATOR": "1" if require_accelerator else ""},
            cwd=directory,
            check=False,
        )
        if check.returncode != 0:
            tail = "\n".join(check.stderr.strip().splitlines()[-8:])
            raise VerificationError(f"the smoke check of {what} failed:\n{tail}")
        return check.stdout.strip()


_CURRENT_TAG = f"cp{sys.version_info[0]}{sys.version_info[1]}"


def _interpreter_tag(path: Path) -> str | None:
    """``cp312`` for a CPython-specific wheel; ``None`` for an sdist or a pure wheel."""
    if path.suffix != ".whl":
        return None
    tags = parse_wheel_filename(path.name)[3]
    specific = {tag.interpreter for tag in tags if tag.platform != "any"}
    return min(specific) if specific else None


def _extras(package: Package) -> str:
    return f"[{','.join(package.extras)}]" if package.extras else ""


def verify_install(
    package: Package, index_url: str, credentials: Credentials | None = None, *, interpreter: Path | None = None
) -> str:
    """Install ``package`` with every extra from ``index_url`` alone and run its smoke check
    (with ``interpreter``, default this one).

    Returns what the check printed; raises ``VerificationError`` with pip's (or the check's)
    last lines when the install or the check fails.
    """
    return _install_and_check(
        package,
        package.install_spec,
        f"{package.install_spec} from {index_url}" + (f" with {interpreter}" if interpreter else ""),
        index_url,
        credentials=credentials,
        interpreter=interpreter,
    )


def verify_files(
    package: Package,
    files: Sequence[Path],
    index_url: str,
    credentials: Credentials | None = None,
    *,
    find_links: Sequence[Path] = (),
    interpreters: Mapping[str, Path] | None = None,
) -> list[str]:
    """Install each built file (wheel, sdist) with every extra into its own fresh venv, before
    upload: our other packages come from ``find_links`` (this release's build folders), third-party
    dependencies from ``index_url``. A wheel built for another CPython (``cp312``) is installed by
    that interpreter (``interpreters`` maps wheel tags to them), and must bring its compiled
    accelerator. Returns one line per file."""
    lines, failures = [], []
    for path in files:
        requirement = f"{package.dist_name}{_extras(package)} @ {path.resolve().as_uri()}"
        tag = _interpreter_tag(path)
        try:
            if tag is not None and tag not in (interpreters or {}) and tag != _CURRENT_TAG:
                raise VerificationError(f"no interpreter for {path.name} ({tag}) to check it with")
            output = _install_and_check(
                package,
                requirement,
                path.name,
                index_url,
                credentials=credentials,
                find_links=find_links,
                interpreter=None if tag in (None, _CURRENT_TAG) else (interpreters or {})[tag],
                require_accelerator=tag is not None,
            )
        except VerificationError as exc:
            failures.append(str(exc))
            continue
        lines.append(f"{path.name}: installs with every extra, smoke check passed" + (f" ({output})" if output else ""))
    if failures:
        raise VerificationError("\n".join(failures))
    return lines
