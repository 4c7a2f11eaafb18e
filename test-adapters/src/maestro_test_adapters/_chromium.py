"""Where the system Chromium and ChromeDriver are, and the flags that keep them headless and offline."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

__all__ = [
    "CHROMEDRIVER_ENV",
    "CHROMIUM_ENV",
    "HOST_RESOLVER_RULES",
    "chromedriver_path",
    "chromium_args",
    "chromium_path",
    "headless_chromium_path",
]

CHROMIUM_ENV: Final = "MAESTRO_CHROMIUM"
CHROMEDRIVER_ENV: Final = "MAESTRO_CHROMEDRIVER"
HOST_RESOLVER_RULES: Final = "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost"
"""Every host name resolves to nothing but loopback: no background look-ups, no accidental internet."""


def _executable(env: str, default: str) -> str:
    value = os.environ.get(env) or default
    found = shutil.which(value)
    return found or value


def chromium_path() -> str:
    """Chromium's executable: ``$MAESTRO_CHROMIUM`` or ``/usr/bin/chromium`` (never downloaded)."""
    return _executable(CHROMIUM_ENV, "/usr/bin/chromium")


def chromedriver_path() -> str:
    """ChromeDriver's executable: ``$MAESTRO_CHROMEDRIVER`` or ``/usr/bin/chromedriver``."""
    return _executable(CHROMEDRIVER_ENV, "/usr/bin/chromedriver")


HEADLESS_SHELL: Final = "/usr/bin/chromium-headless-shell"
"""Debian's ``chromium-headless-shell``: the same Chromium build as ``chromium``, headless only."""


def headless_chromium_path() -> str:
    """The Chromium that Playwright launches headless: ``$MAESTRO_CHROMIUM`` when set; otherwise
    Debian's headless shell when installed (``apt-get install chromium-headless-shell``), else
    ``/usr/bin/chromium``.

    The headless shell is what Playwright itself launches for headless runs. It lacks the desktop
    browser's per-profile services, so a fresh context with its first page costs about a third
    of the CPU (measured in ``bench/bench_adapters.py``), which is what makes a fresh context per
    test cheap.
    """
    if os.environ.get(CHROMIUM_ENV):
        return chromium_path()
    if is_executable(HEADLESS_SHELL):
        return HEADLESS_SHELL
    return chromium_path()


def is_executable(path: str) -> bool:
    """Whether ``path`` is an executable file."""
    return Path(path).is_file() and os.access(path, os.X_OK)


def chromium_args(*, headless_flag: bool = True) -> list[str]:
    """Flags for a quiet, headless, offline Chromium (``--no-sandbox`` when running as root).

    Examples:
        >>> args = chromium_args()
        >>> "--headless=new" in args, "--headless=new" in chromium_args(headless_flag=False)
        (True, False)

        Start your own browser the way the fixtures do:

        ```python
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=chromium_args(headless_flag=False)
        )
        ```
    """
    args = [
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--host-resolver-rules={HOST_RESOLVER_RULES}",
    ]
    if headless_flag:
        args.insert(0, "--headless=new")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(0, "--no-sandbox")
    return args
