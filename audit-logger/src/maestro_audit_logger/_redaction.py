"""Redaction: secrets removed and PII pseudonymised before a record is rendered or hashed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from maestro_audit_logger._errors import AuditConfigError

REDACTED = "[REDACTED]"
CHANGED = "changed"
DEFAULT_SECRET_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "x-api-key",
        "authorization",
        "auth",
        "cookie",
        "set-cookie",
        "session",
        "sessionid",
        "private_key",
        "credentials",
        "otp",
        "pin",
        "cvv",
        "ssn",
    }
)

_BEARER = r"(?i:\bbearer\s+)[A-Za-z0-9\-._~+/]{8,}=*"
_AWS = r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b"
_AWS_SECRET = r"(?i:aws_secret_access_key)\s*[=:]\s*[A-Za-z0-9/+=]{40}"  # noqa: S105 - a pattern, not a secret
_KEYVALUE = (
    r"(?i:\b(?:password|passwd|pwd|secret|token|api[_-]?key|authorization)\b)"
    r"\s*[=:]\s*(?i:(?:bearer|basic|token)\s+)?[^\s,;&\"']+"
)
_CARD = r"\b(?:\d[ -]?){12,18}\d\b"


# Every value pattern needs one of these: a digit or ``=``/``:`` (cards, key=value, AWS
# secrets), the word "bearer", or an AWS key prefix. Checking them with C-speed string
# operations first skips the regex for most strings (it costs several times more).
_TRIGGERS = frozenset("0123456789=:")
_CLEAN_MAX_LEN = 64
_CLEAN_MAX_ENTRIES = 4096
_AWS_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA")


def _may_hold_secret(text: str) -> bool:
    if not _TRIGGERS.isdisjoint(text) or "bearer" in text.lower():
        return True
    return "A" in text and any(p in text for p in _AWS_PREFIXES)


def luhn_ok(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum (used by card-number detection)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


class Redactor:
    """Replaces secrets and pseudonymises PII in an event before it is written.

    Args:
        secret_keys: key names whose values are replaced by ``[REDACTED]`` wherever they appear
            (case-insensitive, in nested dicts and lists); in ``changes`` only ``"changed"`` is kept.
            Defaults to `DEFAULT_SECRET_KEYS`; pass ``extra_secret_keys`` to add to them.
        extra_secret_keys: more secret key names on top of ``secret_keys``.
        patterns: scan string values for bearer tokens, AWS-style keys, ``key=value`` secrets and
            Luhn-valid card numbers (True by default).
        pii_fields: key names whose values are replaced by a keyed HMAC token (``pii:<hex>``).
        pii_key: the HMAC key for ``pii_fields`` (required when they are given).
        pii_prefix: the marker put before PII tokens.

    Examples:
        >>> from maestro_audit_logger import Redactor
        >>> r = Redactor(pii_fields={"email"}, pii_key=b"k" * 32)
        >>> out = r.redact_mapping({"password": "x", "email": "a@b.c", "note": "Bearer abcdefghijklmnop"})
        >>> out["password"], out["note"]
        ('[REDACTED]', '[REDACTED]')
        >>> out["email"]
        'pii:...'

        Give it to the logger: ``AuditLogger(sink, service="billing", redaction=r)``.
    """

    __slots__ = (
        "_clean", "_kinds", "_own_plan", "_own_text", "_pattern", "_pii", "_pii_key", "_pii_name", "_plain", "_prefix",
        "_replace_fn", "_secret",
    )  # fmt: skip

    def __init__(
        self,
        *,
        secret_keys: Iterable[str] = DEFAULT_SECRET_KEYS,
        extra_secret_keys: Iterable[str] = (),
        patterns: bool = True,
        pii_fields: Iterable[str] = (),
        pii_key: bytes | None = None,
        pii_prefix: str = "pii:",
    ) -> None:
        if isinstance(secret_keys, str) or isinstance(extra_secret_keys, str) or isinstance(pii_fields, str):
            raise AuditConfigError("secret_keys, extra_secret_keys and pii_fields must be iterables of names")
        self._secret = frozenset(k.lower() for k in (*secret_keys, *extra_secret_keys))
        self._pii = frozenset(k.lower() for k in pii_fields)
        if self._pii and (not isinstance(pii_key, bytes) or len(pii_key) < 16):
            raise AuditConfigError("pii_key must be bytes of at least 16 bytes when pii_fields are given")
        self._pii_key = pii_key or b""
        self._prefix = pii_prefix
        self._pattern = re.compile("|".join((_BEARER, _AWS_SECRET, _AWS, _KEYVALUE, _CARD))) if patterns else None
        self._kinds: dict[str, int] = {}
        # Key names known to be neither secret nor PII (exactly the kind-0 entries of `_kinds`).
        self._plain: set[str] = set()
        # Short strings already scanned and found clean (values repeat: currencies, codes,
        # names). Only clean text is kept, never a secret; bounded like the key cache.
        self._clean: set[str] = set()
        self._replace_fn = self._replace
        # Shortcuts around `redact_text` apply only when a subclass has not overridden it.
        self._own_text = type(self).redact_text is Redactor.redact_text
        self._pii_name = "name" in self._pii
        # The logger's hot path (`_redact_owned`) applies only when no step is overridden.
        cls = type(self)
        self._own_plan = all(
            getattr(cls, name) is getattr(Redactor, name)
            for name in (
                "redact_record", "redact_mapping", "redact_value", "redact_text", "redact_changes", "pseudonym",
            )
        )  # fmt: skip

    def _kind(self, key: str) -> int:
        # 0 plain, 1 secret, 2 PII; cached per key name (bounded: the cache stops growing at 4096)
        kind = self._kinds.get(key)
        if kind is None:
            lowered = key.lower()
            kind = 1 if lowered in self._secret else 2 if lowered in self._pii else 0
            if len(self._kinds) < 4096:
                self._kinds[key] = kind
                if not kind:
                    self._plain.add(key)
        return kind

    def pseudonym(self, value: object) -> str:
        """The token a PII value maps to: the same input always gives the same token.

        Someone holding the key can search for a person by computing their token.
        """
        if not self._pii_key:
            raise AuditConfigError("pseudonym() needs pii_key")
        text = value if isinstance(value, str) else repr(value)
        import hashlib  # noqa: PLC0415 - only PII pseudonymisation needs them
        import hmac  # noqa: PLC0415

        digest = hmac.new(self._pii_key, text.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self._prefix}{digest}"

    def redact_text(self, text: str) -> str:
        """Replace secret-looking substrings of ``text`` (bearer tokens, keys, card numbers)."""
        pattern = self._pattern
        if pattern is None or len(text) < 5 or text in self._clean:
            return text
        if _may_hold_secret(text):
            out = pattern.sub(self._replace_fn, text)
            if out is not text and out != text:
                return out
        if len(text) <= _CLEAN_MAX_LEN and len(self._clean) < _CLEAN_MAX_ENTRIES:
            self._clean.add(text)
        return text

    @staticmethod
    def _replace(match: re.Match[str]) -> str:
        s = match.group(0)
        if s[0].isdigit():
            digits = s.replace(" ", "").replace("-", "")
            return "[REDACTED:card]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else s
        return REDACTED

    def redact_value(self, value: Any) -> Any:
        """Redact inside any JSON-like value (strings scanned, containers walked)."""
        if isinstance(value, str):
            return self.redact_text(value) if self._pattern is not None else value
        if isinstance(value, Mapping):
            return self.redact_mapping(value)
        if isinstance(value, list | tuple):
            return [self.redact_value(v) for v in value]
        return value

    def redact_mapping(self, data: Mapping[Any, Any]) -> dict[Any, Any]:
        """Redact a mapping: secret keys replaced, PII keys pseudonymised, the rest walked."""
        out: dict[Any, Any] = {}
        kinds = self._kinds
        clean = self._clean if self._own_text else None
        redact_text = self.redact_text
        for key, value in data.items():
            kind = kinds.get(key)
            if kind is None:
                kind = self._kind(key) if type(key) is str else 0
            if kind:
                out[key] = REDACTED if kind == 1 else self._pii_value(value)
                continue
            tv = type(value)
            if tv is str:
                out[key] = value if clean is not None and (len(value) < 5 or value in clean) else redact_text(value)
            elif value is None or tv is int or tv is float or tv is bool:
                out[key] = value
            else:
                out[key] = self.redact_value(value)
        return out

    def _pii_value(self, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list | tuple):
            return [self._pii_value(v) for v in value]
        return self.pseudonym(value)

    def redact_changes(self, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Redact ``changes``: secret fields keep only ``"changed"``, PII fields are pseudonymised."""
        out: dict[str, Any] = {}
        for key, pair in changes.items():
            kind = self._kind(key)
            if kind == 1:
                out[key] = CHANGED
            elif kind == 2:
                out[key] = [self._pii_value(v) for v in pair]
            else:
                out[key] = [self.redact_value(v) for v in pair]
        return out

    def redact_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """Redact a record body from `AuditEvent.to_dict` in place and return it."""
        extra = record.get("extra")
        if extra is not None:
            record["extra"] = self.redact_mapping(extra)
        changes = record.get("changes")
        if changes is not None:
            record["changes"] = self.redact_changes(changes)
        reason = record.get("reason")
        if reason is not None:
            record["reason"] = self.redact_text(reason)
        if self._pii and "name" in self._pii:
            actor = record["actor"]
            if "name" in actor:
                record["actor"] = {**actor, "name": self.pseudonym(actor["name"])}
        source = record.get("source")
        if source is not None and "user_agent" in source:
            source = {**source, "user_agent": self.redact_text(source["user_agent"])}
            record["source"] = source
        return record

    def _redact_owned(self, record: dict[str, Any]) -> dict[str, Any]:
        # `redact_record` for a record the caller owns down to its ``extra`` dict (the logger's
        # hot path: `event_record` has just copied ``extra``): that dict is scrubbed in place
        # instead of copied, and unchanged values are not written back. Same output as
        # `redact_record` (a property test compares them); a subclass overriding any
        # redaction step gets `redact_record` itself.
        if not self._own_plan:
            return self.redact_record(record)
        get = record.get
        extra = get("extra")
        if extra is not None:
            if type(extra) is dict:
                self._scrub(extra)
            else:
                record["extra"] = self.redact_mapping(extra)
        changes = get("changes")
        if changes is not None:
            record["changes"] = self.redact_changes(changes)
        reason = get("reason")
        if reason is not None:
            record["reason"] = self.redact_text(reason)
        if self._pii_name:
            actor = record["actor"]
            if "name" in actor:
                record["actor"] = {**actor, "name": self.pseudonym(actor["name"])}
        source = get("source")
        if source is not None and "user_agent" in source:
            record["source"] = {**source, "user_agent": self.redact_text(source["user_agent"])}
        return record

    def _scrub(self, data: dict[Any, Any]) -> None:
        # `redact_mapping` in place: values of existing keys are replaced (never a key added or
        # removed, so iterating while assigning is safe); plain scalars and strings already
        # known clean are left alone without a write. The plan: one C-level subset test tells
        # whether every key is already known to be plain (neither secret nor PII, in any
        # case); then only the values are looked at, and only strings that may hold a secret
        # (not short, not already found clean) and containers cost more than a type check.
        clean = self._clean
        pattern = self._pattern
        if self._plain.issuperset(data):
            for key, value in data.items():
                tv = type(value)
                if tv is str:
                    if pattern is not None and len(value) >= 5 and value not in clean:
                        data[key] = self.redact_text(value)
                elif value is not None and tv is not int and tv is not float and tv is not bool:
                    data[key] = self.redact_value(value)
            return
        kinds = self._kinds
        for key, value in data.items():
            kind = kinds.get(key)
            if kind is None:
                kind = self._kind(key) if type(key) is str else 0
            if kind:
                data[key] = REDACTED if kind == 1 else self._pii_value(value)
                continue
            tv = type(value)
            if tv is str:
                if pattern is not None and len(value) >= 5 and value not in clean:
                    data[key] = self.redact_text(value)
            elif value is not None and tv is not int and tv is not float and tv is not bool:
                data[key] = self.redact_value(value)


class NoRedaction(Redactor):
    """A redactor that changes nothing (for tests, or data already scrubbed upstream).

    Examples:
        >>> from maestro_audit_logger import Actor, AuditLogger, NoRedaction
        >>> from maestro_audit_logger.testing import MemorySink
        >>> sink = MemorySink()
        >>> with AuditLogger(sink, service="billing", redaction=NoRedaction()) as audit:
        ...     event_id = audit.record("user.create", actor=Actor("u-1"), extra={"token": "t-1"})
        >>> sink.records[0]["extra"]
        {'token': 't-1'}
    """

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(secret_keys=(), patterns=False)

    def redact_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """Return ``record`` unchanged."""
        return record
