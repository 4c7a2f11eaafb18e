"""Where the system Chromium and ChromeDriver are, and the flags that keep them headless and offline."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Final

from maestro_test_adapters.errors import InvalidOptionError

if TYPE_CHECKING:
    import pytest

__all__ = [
    "ALLOW_HOSTS_ENV",
    "CHROMEDRIVER_ENV",
    "CHROMIUM_ENV",
    "HOST_RESOLVER_RULES",
    "allowed_hosts",
    "chromedriver_path",
    "chromium_args",
    "chromium_path",
    "configured_allowed_hosts",
    "headless_chromium_path",
    "host_resolver_rules",
]

CHROMIUM_ENV: Final = "MAESTRO_CHROMIUM"
CHROMEDRIVER_ENV: Final = "MAESTRO_CHROMEDRIVER"
HOST_RESOLVER_RULES: Final = "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost"
"""Every host name resolves to nothing but loopback: no background look-ups, no accidental internet."""
ALLOW_HOSTS_ENV: Final = "MAESTRO_ALLOW_HOSTS"
"""Hosts the browser fixtures may reach beyond loopback (comma- or space-separated), see ``allowed_hosts``."""
CHROMIUM_ARGS_ENV: Final = "MAESTRO_CHROMIUM_ARGS"
"""A JSON list of ``chromium_args(headless_flag=False)``, given to Playwright Test by the frontend
adapter (its documented ``playwright.config.js`` reads it, or runs ``maestro-test chromium-args``)."""
ALLOW_HOSTS_PARAMETER: Final = "allow_hosts"
ENVIRONMENT_KEY: Final = "browser.allowed_hosts"
"""The key under which the allowed hosts appear in the report's ``Environment.extra``."""
_NAME = re.compile(r"(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")
_MAX_PATTERNS: Final = 256


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


def _split(values: Iterable[str]) -> list[str]:
    return [entry for value in values for entry in re.split(r"[,\s]+", value) if entry]


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def _bad(entry: str, why: str) -> InvalidOptionError:
    return InvalidOptionError(
        ALLOW_HOSTS_PARAMETER,
        f"{entry!r} {why}; name a host (app.test, *.svc.local), an IP address, an IPv4 range "
        "(10.0.0.0/8), NAME=ADDRESS to resolve a name to an address, or * for any host",
    )


def allowed_hosts(values: Iterable[str]) -> tuple[str, ...]:
    """Check and normalise the hosts a browser may reach beyond loopback.

    Each value holds one or more entries (separated by commas or spaces): a host name
    (``db``, ``app.test``; ``*.svc.cluster.local`` for every name under a domain), an IP address,
    an IPv4 range (``10.0.0.0/8``: addresses in it, typed as such in URLs), ``NAME=ADDRESS`` to
    resolve a name to an address without DNS (``web=127.0.0.1``, like docker's ``extra_hosts``),
    or ``*`` for any host. Duplicates are dropped, the order is kept.

    Raises:
        InvalidOptionError: an entry is none of those (``allow_hosts`` names the entry).

    Examples:
        >>> allowed_hosts(["db, App.Test", "10.0.0.0/8 web=127.0.0.1", "db"])
        ('db', 'app.test', '10.0.0.0/8', 'web=127.0.0.1')
        >>> try:
        ...     allowed_hosts(["http://db"])
        ... except InvalidOptionError as error:
        ...     print(str(error).split(";")[0])
        allow_hosts: 'http://db' is a URL, not a host name
    """
    seen: dict[str, None] = {}
    for entry in _split(values):
        name, sep, target = entry.partition("=")
        if sep:
            if not _NAME.fullmatch(name) or name.startswith("*"):
                raise _bad(entry, "does not start with a host name")
            address = _address(target)
            if address is None:
                raise _bad(entry, "does not resolve to an IP address")
            seen[f"{name.lower()}={address}"] = None
        elif entry == "*":
            seen[entry] = None
        elif "://" in entry:
            raise _bad(entry, "is a URL, not a host name")
        elif "/" in entry:
            try:
                network = ipaddress.ip_network(entry)
            except ValueError as error:
                raise _bad(entry, f"is not an IP range ({error})") from None
            if network.version == 6 and network.prefixlen != network.max_prefixlen:
                raise _bad(entry, "is an IPv6 range, which Chromium cannot match; name the addresses")
            seen[str(network)] = None
        elif (address := _address(entry)) is not None:
            seen[str(address)] = None
        elif _NAME.fullmatch(entry):
            seen[entry.lower()] = None
        else:
            raise _bad(entry, "is not a host name, an IP address or a range")
    return tuple(seen)


def _patterns(entry: str) -> list[str]:
    """Chromium host patterns matching an allowed entry (a range becomes per-octet wildcards)."""
    if "/" not in entry:
        address = _address(entry)
        return [str(address), f"[{address}]"] if address is not None and address.version == 6 else [entry]
    network = ipaddress.ip_network(entry)
    if network.version == 6:
        return [str(network.network_address), f"[{network.network_address}]"]
    octets = str(network.network_address).split(".")
    whole, rest = divmod(network.prefixlen, 8)
    if whole == 4:  # a /32
        return [str(network.network_address)]
    span = 2 ** (8 - rest)
    first = int(octets[whole])
    prefix = octets[:whole]
    return (
        [
            ".".join([*prefix, str(first + step), "*"] if whole < 3 else [*prefix, str(first + step)])
            for step in range(span)
        ]
        if rest
        else [".".join([*prefix, "*"])]
    )


def host_resolver_rules(allow_hosts: Iterable[str] = ()) -> str | None:
    """Chromium's ``--host-resolver-rules`` for these allowed hosts (``None``: no rules at all).

    Examples:
        >>> host_resolver_rules() == HOST_RESOLVER_RULES
        True
        >>> host_resolver_rules(["web=127.0.0.1", "10.0.0.0/15"])
        'MAP web 127.0.0.1 , MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE 10.0.*, EXCLUDE 10.1.*'
    """
    entries = allowed_hosts(allow_hosts)
    maps = [f"MAP {name} {target}" for name, _, target in (e.partition("=") for e in entries if "=" in e)]
    plain = [e for e in entries if "=" not in e]
    if "*" in plain:
        return " , ".join(maps) if maps else None
    patterns = [pattern for entry in plain for pattern in _patterns(entry)]
    if len(patterns) > _MAX_PATTERNS:
        raise InvalidOptionError(ALLOW_HOSTS_PARAMETER, f"more than {_MAX_PATTERNS} host patterns; use wider ranges")
    rules = ", ".join([HOST_RESOLVER_RULES.split(" , ", 1)[1], *(f"EXCLUDE {p}" for p in patterns)])
    return " , ".join([*maps, "MAP * ~NOTFOUND", rules])


def configured_allowed_hosts(
    config: pytest.Config | None = None, environ: Mapping[str, str] | None = None
) -> tuple[str, ...]:
    """The allowed hosts of a pytest run: ``--maestro-allow-host`` options, the ``maestro_allow_hosts``
    ini setting and ``$MAESTRO_ALLOW_HOSTS``, together (see ``allowed_hosts``).

    Examples:
        >>> configured_allowed_hosts(environ={"MAESTRO_ALLOW_HOSTS": "db,cache"})
        ('db', 'cache')
    """
    values: list[str] = []
    if config is not None:
        values += config.getoption("maestro_allow_hosts", None) or []
        with contextlib.suppress(ValueError):  # the browser fixtures plugin is disabled
            values += config.getini("maestro_allow_hosts") or []
    env = os.environ if environ is None else environ
    values.append(env.get(ALLOW_HOSTS_ENV, ""))
    return allowed_hosts(values)


def chromium_args(*, headless_flag: bool = True, allow_hosts: Iterable[str] = ()) -> list[str]:
    """Flags for a quiet, headless, offline Chromium (``--no-sandbox`` when running as root).

    No host name resolves but ``localhost``, and no address beyond ``127.0.0.1`` is reached, unless
    named in ``allow_hosts`` (see ``allowed_hosts``).

    Examples:
        >>> args = chromium_args()
        >>> "--headless=new" in args, "--headless=new" in chromium_args(headless_flag=False)
        (True, False)
        >>> [a for a in chromium_args(allow_hosts=["db"]) if a.startswith("--host-resolver-rules")]
        ['--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE db']

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
    ]
    rules = host_resolver_rules(allow_hosts)
    if rules is not None:
        args.append(f"--host-resolver-rules={rules}")
    if headless_flag:
        args.insert(0, "--headless=new")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(0, "--no-sandbox")
    return args
