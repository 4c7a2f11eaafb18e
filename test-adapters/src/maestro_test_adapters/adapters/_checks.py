"""Production synthetic checks: the declarative model, its loader and the sans-IO evaluation.

A check file (TOML or YAML) holds optional ``defaults`` and a list of ``checks``::

    [defaults]
    base_url = "https://shop.example.com"
    timeout = 5
    retries = 2
    retry_delay = 1.0

    [[checks]]
    name = "health"
    url = "/health"
    expect_status = 200
    latency_budget_ms = 300
    expect_headers = { "content-type" = "application/json" }
    expect_json = [ { path = "status", equals = "ok" }, { path = "checks[0].name", exists = true } ]
    tls_min_days = 14

Everything here is pure (no network): ``load_checks`` validates the whole file up front and
names the file, the check and the field on any mistake; ``evaluate`` turns an observed response
into the list of failed expectations; ``redact_headers``/``redact_url`` keep secrets out of reports.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from maestro_test_adapters.errors import CheckFileError

__all__ = [
    "REDACTED",
    "Check",
    "CheckSuite",
    "JsonAssertion",
    "Observation",
    "evaluate",
    "json_path",
    "load_checks",
    "redact_headers",
    "redact_url",
]

REDACTED: Final = "[redacted]"
_SECRET_HEADERS: Final = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
_SECRET_WORDS: Final = ("token", "secret", "password", "passwd", "api-key", "apikey", "api_key", "auth", "session")
_URL_HEADERS: Final = frozenset({"location", "content-location", "link", "refresh"})
_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MISSING: Final = object()


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)


def redact_headers(headers: Mapping[str, str] | Sequence[tuple[str, str]]) -> dict[str, str]:
    """Headers with Authorization, cookies and anything named like a secret replaced by ``[redacted]``
    (URLs in ``Location``-like headers keep their path but lose secret query parameters).

    Examples:
        >>> redact_headers({"Authorization": "Bearer abc", "Accept": "*/*"})
        {'Authorization': '[redacted]', 'Accept': '*/*'}
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    redacted: dict[str, str] = {}
    for name, value in items:
        if _is_secret(name):
            redacted[name] = REDACTED
        elif name.lower() in _URL_HEADERS:
            redacted[name] = redact_url(value)
        else:
            redacted[name] = value
    return redacted


def redact_url(url: str) -> str:
    """``url`` without its password and with secret-looking query parameters redacted.

    Examples:
        >>> redact_url("https://ada:pw@shop.example.com/cart?token=abc&page=2")
        'https://ada:[redacted]@shop.example.com/cart?token=[redacted]&page=2'
    """
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, REDACTED if _is_secret(k) or k.lower() in ("key", "sig", "signature") else v) for k, v in pairs],
            safe="[]",
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_PATH_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(-?\d+)\]")


def json_path(document: object, path: str) -> object:
    """The value at a dotted path (``data.items[0].id``; a leading ``$.`` is allowed), or raise ``KeyError``."""
    text = path[2:] if path.startswith("$.") else path.lstrip("$")
    value = document
    position = 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if match is None:
            raise KeyError(path)
        position = match.end()
        key, index = match.group(1), match.group(2)
        if index is not None:
            if not isinstance(value, list):
                raise KeyError(path)
            try:
                value = value[int(index)]
            except IndexError:
                raise KeyError(path) from None
        else:
            if not isinstance(value, dict) or key not in value:
                raise KeyError(path)
            value = value[key]
    return value


@dataclass(frozen=True, slots=True)
class JsonAssertion:
    """One expectation on the JSON body: the value at ``path`` exists, equals, contains or matches."""

    path: str
    equals: object = _MISSING
    contains: str | None = None
    matches: str | None = None
    exists: bool | None = None

    def check(self, document: object) -> str | None:  # noqa: PLR0911 - one return per expectation kind
        """The failure message, or ``None`` when the body meets the expectation."""
        try:
            value = json_path(document, self.path)
        except KeyError:
            if self.exists is False:
                return None
            return f"JSON body has no {self.path}"
        if self.exists is False:
            return f"JSON body has {self.path} (expected it absent)"
        if self.equals is not _MISSING and value != self.equals:
            return f"JSON {self.path} is {json.dumps(value)[:200]}, expected {json.dumps(self.equals)[:200]}"
        if self.contains is not None and self.contains not in (value if isinstance(value, str) else json.dumps(value)):
            return f"JSON {self.path} does not contain {self.contains!r}"
        if self.matches is not None and not re.search(
            self.matches, value if isinstance(value, str) else json.dumps(value)
        ):
            return f"JSON {self.path} does not match /{self.matches}/"
        return None


@dataclass(frozen=True, slots=True)
class Check:
    """One synthetic HTTP check (see the module docstring for the file format)."""

    name: str
    url: str
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None
    json_body: object = None
    expect_status: tuple[int, ...] = (200,)
    latency_budget_ms: float | None = None
    expect_headers: Mapping[str, str] = field(default_factory=dict)
    expect_body_contains: str | None = None
    expect_json: tuple[JsonAssertion, ...] = ()
    tls_min_days: float | None = None
    timeout: float = 10.0
    retries: int = 0
    retry_delay: float = 1.0
    follow_redirects: bool = False
    verify_tls: bool = True
    ca_file: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckSuite:
    """The checks of one file, in order."""

    path: Path
    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class Observation:
    """What one attempt saw: status, headers, body text, latency, and the certificate's days left."""

    status_code: int
    headers: Mapping[str, str]
    text: str
    elapsed_ms: float
    url: str
    tls_days_left: float | None = None


def evaluate(check: Check, seen: Observation) -> list[str]:
    """Every expectation of ``check`` that ``seen`` does not meet (empty: the check passed)."""
    failures: list[str] = []
    if seen.status_code not in check.expect_status:
        expected = " or ".join(str(s) for s in check.expect_status)
        where = f" (Location: {redact_url(seen.headers.get('location', ''))})" if 300 <= seen.status_code < 400 else ""
        failures.append(f"status {seen.status_code}, expected {expected}{where}")
    if check.latency_budget_ms is not None and seen.elapsed_ms > check.latency_budget_ms:
        failures.append(f"latency {seen.elapsed_ms:.0f} ms over the budget of {check.latency_budget_ms:g} ms")
    lowered = {k.lower(): v for k, v in seen.headers.items()}
    for name, expected in check.expect_headers.items():
        actual = lowered.get(name.lower())
        if actual is None:
            failures.append(f"header {name} missing")
        elif expected not in actual:
            shown = REDACTED if _is_secret(name) else actual
            failures.append(f"header {name} is {shown!r}, expected it to contain {expected!r}")
    if check.expect_body_contains is not None and check.expect_body_contains not in seen.text:
        failures.append(f"body does not contain {check.expect_body_contains!r}")
    if check.expect_json:
        try:
            document = json.loads(seen.text)
        except ValueError:
            failures.append("body is not JSON")
        else:
            failures.extend(m for m in (a.check(document) for a in check.expect_json) if m is not None)
    if check.tls_min_days is not None:
        if seen.tls_days_left is None:
            failures.append("no TLS certificate to check (not https?)")
        elif seen.tls_days_left < check.tls_min_days:
            failures.append(
                f"TLS certificate expires in {seen.tls_days_left:.1f} days, less than {check.tls_min_days:g}"
            )
    return failures


# -- loading --------------------------------------------------------------------------------------
def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise CheckFileError(str(path), f"cannot read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise CheckFileError(str(path), f"not UTF-8 text: {error.reason} at byte {error.start}") from None
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise CheckFileError(str(path), f"invalid TOML: {error}") from None
    if suffix in (".yaml", ".yml"):
        import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - only YAML check files need it

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise CheckFileError(str(path), f"invalid YAML: {' '.join(str(error).split())}") from None
    raise CheckFileError(str(path), f"unknown check file type {suffix!r}: use .toml, .yaml or .yml")


class _Fields:
    """Typed getters over one check's table that name the file, check and field on errors."""

    def __init__(self, path: Path, where: str, table: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
        self.path, self.where, self.table, self.defaults = path, where, table, defaults
        self.used: set[str] = set()

    def fail(self, key: str, message: str) -> CheckFileError:
        return CheckFileError(str(self.path), f"{self.where}: {key}: {message}")

    def raw(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        if key in self.table:
            return self.table[key]
        return self.defaults.get(key, default)

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key, default)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, f"must be a string, got {value!r}")
        return _expand(value, self) if isinstance(value, str) else None

    def number(self, key: str, default: float | None, *, minimum: float = 0.0) -> float | None:
        value = self.raw(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
            raise self.fail(key, f"must be a number >= {minimum:g}, got {value!r}")
        return float(value)

    def mapping(self, key: str) -> dict[str, str]:
        merged: dict[str, Any] = {}
        for source in (self.defaults, self.table):
            value = source.get(key)
            if value is None:
                continue
            if not isinstance(value, dict) or not all(isinstance(v, str | int | float) for v in value.values()):
                raise self.fail(key, f"must be a table of strings, got {value!r}")
            merged.update(value)
        self.used.add(key)
        return {str(k): _expand(str(v), self) for k, v in merged.items()}


_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: str, fields: _Fields) -> str:
    """``${VAR}`` from the environment (secrets stay out of the file); a missing variable is an error."""
    if "${" not in value:
        return value
    missing = [name for name in _ENV_REFERENCE.findall(value) if name not in os.environ]
    if missing:
        raise CheckFileError(str(fields.path), f"{fields.where}: environment variable {missing[0]} is not set")
    return _ENV_REFERENCE.sub(lambda match: os.environ[match.group(1)], value)  # any other "$" stays as it is


_KNOWN: Final = frozenset(
    {
        "name", "url", "method", "headers", "body", "json", "expect_status", "latency_budget_ms",
        "expect_headers", "expect_body_contains", "expect_json", "tls_min_days", "timeout", "retries",
        "retry_delay", "follow_redirects", "verify_tls", "ca_file", "tags", "base_url",
    }
)  # fmt: skip


def _check(path: Path, index: int, table: Any, defaults: Mapping[str, Any]) -> Check:  # noqa: PLR0912, PLR0915
    if not isinstance(table, dict):
        raise CheckFileError(str(path), f"checks[{index}]: must be a table, got {table!r}")
    name = table.get("name")
    where = f"check {name!r}" if isinstance(name, str) and name else f"checks[{index}]"
    fields = _Fields(path, where, table, defaults)
    unknown = sorted(set(table) - _KNOWN, key=str)  # YAML keys need not be strings
    if unknown:
        raise fields.fail(str(unknown[0]), f"unknown field; known fields: {', '.join(sorted(_KNOWN))}")
    if not isinstance(name, str) or not name.strip():
        raise fields.fail("name", "is required (a non-empty string)")
    url = fields.string("url")
    if not url:
        raise fields.fail("url", "is required")
    base = fields.string("base_url")
    try:
        if not urlsplit(url).scheme:
            if not base:
                raise fields.fail("url", f"{url!r} is relative and no base_url is set")
            url = urljoin(base.rstrip("/") + "/", url.lstrip("/"))
        parts = urlsplit(url)
        parts.port  # noqa: B018 - checks the port (the property raises on a bad one)
    except CheckFileError:
        raise
    except ValueError as error:  # urllib's "Invalid IPv6 URL", "Port out of range"...
        raise fields.fail("url", f"is not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fields.fail("url", f"must be http:// or https:// with a host, got {redact_url(url)!r}")
    method = (fields.string("method", "GET") or "GET").upper()
    if method not in _METHODS:
        raise fields.fail("method", f"must be one of {', '.join(sorted(_METHODS))}, got {method!r}")
    status = fields.raw("expect_status", 200)
    statuses = status if isinstance(status, list) else [status]
    if not statuses or not all(isinstance(s, int) and not isinstance(s, bool) and 100 <= s <= 599 for s in statuses):
        raise fields.fail("expect_status", f"must be an HTTP status or a list of them, got {status!r}")
    assertions: list[JsonAssertion] = []
    raw_assertions = fields.raw("expect_json", [])
    if not isinstance(raw_assertions, list):
        raise fields.fail("expect_json", "must be a list of {path = ..., equals|contains|matches|exists = ...}")
    for number, item in enumerate(raw_assertions):
        allowed = {"path", "equals", "contains", "matches", "exists"}
        if not isinstance(item, dict) or not isinstance(item.get("path"), str) or set(item) - allowed or len(item) < 2:
            raise fields.fail(
                f"expect_json[{number}]", f"needs a path and one of equals/contains/matches/exists, got {item!r}"
            )
        if "matches" in item:
            try:
                re.compile(str(item["matches"]))
            except re.error as error:
                raise fields.fail(f"expect_json[{number}].matches", f"invalid regular expression: {error}") from None
        assertions.append(
            JsonAssertion(
                item["path"],
                equals=item.get("equals", _MISSING),
                contains=None if item.get("contains") is None else str(item["contains"]),
                matches=None if item.get("matches") is None else str(item["matches"]),
                exists=None if item.get("exists") is None else bool(item["exists"]),
            )
        )
    retries = fields.raw("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 20:
        raise fields.fail("retries", f"must be an int from 0 to 20, got {retries!r}")
    tags = fields.raw("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise fields.fail("tags", f"must be a list of strings, got {tags!r}")
    for flag in ("follow_redirects", "verify_tls"):
        if not isinstance(fields.raw(flag, False), bool):
            raise fields.fail(flag, "must be true or false")
    body = fields.string("body")
    json_body = fields.raw("json")
    if body is not None and json_body is not None:
        raise fields.fail("body", "give body or json, not both")
    timeout = fields.number("timeout", 10.0, minimum=0.001) or 10.0
    return Check(
        name=name.strip(),
        url=url,
        method=method,
        headers=fields.mapping("headers"),
        body=body,
        json_body=json_body,
        expect_status=tuple(statuses),
        latency_budget_ms=fields.number("latency_budget_ms", None),
        expect_headers=fields.mapping("expect_headers"),
        expect_body_contains=fields.string("expect_body_contains"),
        expect_json=tuple(assertions),
        tls_min_days=fields.number("tls_min_days", None),
        timeout=timeout,
        retries=retries,
        retry_delay=fields.number("retry_delay", 1.0) or 0.0,
        follow_redirects=bool(fields.raw("follow_redirects", False)),
        verify_tls=bool(fields.raw("verify_tls", True)),
        ca_file=fields.string("ca_file"),
        tags=tuple(tags),
    )


def load_checks(path: str | os.PathLike[str]) -> CheckSuite:
    r"""Read and validate a whole check file (``.toml``, ``.yaml`` or ``.yml``).

    Raises:
        CheckFileError: the file is unreadable or malformed; the message names the file, the check
            and the field.

    Examples:
        >>> import pathlib, tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "checks.toml"
        >>> _ = path.write_text(
        ...     '[defaults]\nbase_url = "https://shop.example.com"\n'
        ...     '[[checks]]\nname = "health"\nurl = "/health"\nexpect_status = [200, 204]\n'
        ... )
        >>> [(check.name, check.url, check.expect_status) for check in load_checks(path).checks]
        [('health', 'https://shop.example.com/health', (200, 204))]
    """
    source = Path(path)
    data = _read(source)
    if not isinstance(data, dict):
        raise CheckFileError(str(source), "must hold a table with a 'checks' list")
    unknown = sorted(set(data) - {"defaults", "checks"}, key=str)
    if unknown:
        raise CheckFileError(str(source), f"unknown top-level key {unknown[0]!r}: use 'defaults' and 'checks'")
    defaults = data.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise CheckFileError(str(source), "defaults: must be a table")
    bad_defaults = sorted(set(defaults) - _KNOWN - {"name"}, key=str)
    if bad_defaults or "name" in defaults or "url" in defaults:
        key = (bad_defaults or ["name" if "name" in defaults else "url"])[0]
        raise CheckFileError(str(source), f"defaults: {key}: not allowed in defaults")
    checks = data.get("checks")
    if not isinstance(checks, list) or not checks:
        raise CheckFileError(str(source), "checks: must be a non-empty list of checks")
    parsed = tuple(_check(source, i, table, defaults) for i, table in enumerate(checks))
    names = [c.name for c in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise CheckFileError(str(source), f"check {duplicates[0]!r}: name is used twice")
    return CheckSuite(source, parsed)
