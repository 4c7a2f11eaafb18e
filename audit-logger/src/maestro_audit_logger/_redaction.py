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

# Key names are matched by their normalised parts (lower case, split at ``_``, ``-``, ``.``,
# spaces and camelCase humps): ``db_password``, ``accessToken``, ``privateKey``,
# ``client-secret`` and ``aws_secret_access_key`` are secret, ``token_count`` and
# ``secret_name`` are not. A key is secret when its last part is a secret word, its last two
# parts a secret pair, or it is one of those followed by a value suffix (``password_hash``).
_KEY_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
SECRET_WORDS: frozenset[str] = frozenset(
    {
        "password", "passwd", "pwd", "passphrase", "secret", "token",
        "apikey", "authorization", "cookie", "credential", "credentials", "sessionid",
        "privatekey", "secretkey", "accesskey", "otp", "cvv", "cvc", "ssn", "pin", "jwt",
    }
)  # fmt: skip
SECRET_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {
        ("api", "key"), ("private", "key"), ("secret", "key"), ("access", "key"), ("session", "id"),
        ("session", "key"), ("signing", "key"), ("encryption", "key"), ("master", "key"), ("account", "key"),
        ("shared", "key"), ("auth", "code"), ("authorization", "code"), ("pin", "code"), ("otp", "code"),
        ("mfa", "code"), ("security", "code"), ("connection", "string"),
    }
)  # fmt: skip
# A plural secret word names a collection: its containers are walked, a scalar is redacted.
_PLURAL_WORDS = frozenset({"passwords", "secrets", "tokens", "apikeys", "cookies"})
_VALUE_SUFFIXES = frozenset(
    {"value", "hash", "hashed", "plain", "plaintext", "raw", "enc", "encrypted", "b64", "base64", "hex", "header"}
)


def key_parts(key: str) -> tuple[str, ...]:
    """A key name's lower-case parts: ``"aws_secret_access_key"``, ``"accessToken"`` and
    ``"X-API-Key"`` give ``(aws, secret, access, key)``, ``(access, token)``, ``(x, api, key)``."""
    return tuple(p.lower() for p in _KEY_SPLIT.split(key) if p)


def _secret_parts(parts: tuple[str, ...]) -> bool:
    if not parts:
        return False
    if parts[-1] in _VALUE_SUFFIXES and len(parts) > 1 and _secret_parts(parts[:-1]):
        return True
    if parts[-1] in SECRET_WORDS:
        return True
    return len(parts) > 1 and (parts[-2], parts[-1]) in SECRET_PAIRS


def _plural_secret(parts: tuple[str, ...]) -> bool:
    if not parts:
        return False
    if parts[-1] in _PLURAL_WORDS:
        return True
    return parts[-1] == "keys" and len(parts) > 1 and (parts[-2], "key") in SECRET_PAIRS


# Value patterns: precompiled alternations, a string scanned once; the replacement looks at
# which named group matched. Secret-looking key names inside text (``password=...``, JSON
# ``"db_password": "..."``, a dict repr ``'accessToken': '...'``, ``('Authorization', '...')``)
# keep their name and lose their value. Every branch starts at a literal or a small character
# class (never with a variable-length prefix, which would cost a pass per position): the key
# word itself is matched, not the key's first part (``db_password=...`` matches at
# ``password=``), and a URL's credentials from ``://``.
_KV_WORD = (
    r"(?i:password|passwd|pwd|passphrase|secret|token|api[_-]?key|authorization|"
    r"access[_-]?key|private[_-]?key|credentials?|session[_-]?id|cookie|jwt)"
    r"(?i:[_-](?:hash|value|plain|enc|b64|hex))?"
)
_KV_VALUE = r"""(?:(?i:bearer|basic|token)\s+)?(?!\[REDACTED)(?:"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&"'}\])]+)"""
# Families of branches and what each needs (checked with C-level string operations first):
# K (key=value, URL credentials, AWS secrets) ``=``/``:``/``,``; T (token formats, JWTs, bearer,
# PEM) 13+ characters and one of the literals they start with (see `_families`); C
# (cards) 13+ characters and a digit; E (emails) ``@``. A string is scanned once, by the
# alternation of the branches its triggers allow, in this order (so it finds what the full
# alternation finds: a branch whose trigger is absent cannot match).
_K, _T, _C, _E = 1, 2, 4, 8
_SCAN_PARTS = (
    (_T, r"(?P<pem>-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\Z))"),
    (_K, r"(?P<url>://[^\s:/@?#]*:)(?P<urlpw>[^\s@/?#]+)(?=@)"),
    (_K, r"(?P<kv>(?=[pstacjPSTACJ])" + _KV_WORD + r"""(?:["']\s*[=:,]|\s*[=:])\s*)(?P<kvval>""" + _KV_VALUE + ")"),
    (_K, r"(?P<aws_secret>(?i:aws_secret_access_key)\s*[=:]\s*[A-Za-z0-9/+=]{40})"),
    (_T, r"(?P<bearer>(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9\-._~+/]{8,}=*)"),
    (_T, r"(?P<jwt>\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"),
    (
        _T,
        r"(?P<token>\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}|glpat-[A-Za-z0-9_-]{20,}"
        r"|xox[abposr]-[A-Za-z0-9-]{10,}|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9]{20,}"
        r"|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}|sk-(?:proj-)?[A-Za-z0-9_-]{20,}"
        r"|(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b))",
    ),
)
_CARD = r"(?P<card>\b(?:\d[ -]?){12,18}\d\b)"
_EMAIL = r"(?P<email>(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
_EMAIL_FULL = re.compile(_EMAIL)
_ALL_PARTS = (*_SCAN_PARTS, (_C, _CARD), (_E, _EMAIL))


def _compile(mask: int) -> re.Pattern[str]:
    return re.compile("|".join(part for family, part in _ALL_PARTS if family & mask))


# Every value pattern needs one of these: ``=``/``:``/``,`` (key=value, URLs) or ``@`` (emails);
# in strings of 13 or more characters also a digit (cards) or one of the literals token formats
# start with (see `_families`). Checking them with C-speed string operations
# first skips the regex for most strings, and picks the branches worth trying for the rest.
_DIGITS = frozenset("0123456789")
_CLEAN_MAX_LEN = 64
_CLEAN_MAX_ENTRIES = 4096
_AWS_PREFIXES = ("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA")


# What a string shorter than 13 characters needs to hold anything (see `_short_may_hold`).
_SHORT_TRIGGERS = frozenset("=:,@")
# Record fields `Redactor._redact_fields` looks at only when present (most events have none).
_LESS_USUAL = frozenset({"reason", "source", "correlation_id", "tenant"})


def _short_may_hold(text: str) -> bool:
    # Whether a string shorter than 13 characters may hold anything (four C-level searches).
    return "=" in text or ":" in text or "," in text or "@" in text


def _families(text: str) -> int:
    """The branch families whose triggers ``text`` holds (0: nothing to scan for)."""
    mask = _K if ("=" in text or ":" in text or "," in text) else 0
    if "@" in text:
        mask |= _E
    if len(text) < 13:
        return mask
    if not _DIGITS.isdisjoint(text):
        mask |= _C
    # The literals the T branches start with (a UUID or a dashed order number has none).
    underscored = "_" in text and (
        "gh" in text
        or "github_pat_" in text
        or "k_live_" in text
        or "k_test_" in text
        or "whsec_" in text
        or "npm_" in text
    )
    if (
        ("-" in text and ("glpat-" in text or "xox" in text or "sk-" in text or "-----" in text))
        or underscored
        or "eyJ" in text
        or "AIza" in text
        or ("A" in text and any(p in text for p in _AWS_PREFIXES))
    ):
        return mask | _T
    lowered = text.lower()
    if "bearer" in lowered or "basic" in lowered:
        mask |= _T
    return mask


def _normalised(key: str) -> str:
    return "_".join(key_parts(key)) or key.lower()


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

    Key names are matched by their normalised parts (case, ``_``, ``-``, ``.`` and camelCase
    ignored): a key whose last part is a secret word (``password``, ``secret``, ``token``,
    ``cookie``, ``credentials``, ...) or whose last two parts are a secret pair (``api key``,
    ``private key``, ``access key``, ``session id``, ...) is secret, so ``db_password``,
    ``accessToken``, ``privateKey``, ``client-secret`` and ``aws_secret_access_key`` are, and
    ``token_count`` and ``invoice_total`` are not. ``[name, value]`` pairs (header lists) are
    treated like a mapping entry. Every string of the record is scanned, ``actor``, ``targets``,
    ``request_id``, ``correlation_id`` and ``tenant`` included.

    Args:
        secret_keys: key names whose values are replaced by ``[REDACTED]`` wherever they appear
            (compared by normalised name, in nested dicts and lists); in ``changes`` only
            ``"changed"`` is kept. Defaults to `DEFAULT_SECRET_KEYS`; pass ``extra_secret_keys``
            to add to them.
        extra_secret_keys: more secret key names on top of ``secret_keys``.
        patterns: scan string values for secrets (True by default): ``key=value``, ``key: value``,
            JSON and Python-literal text naming a secret key; credentials in URLs
            (``postgresql://app:[REDACTED]@db/prod``); bearer and basic credentials; JWTs; PEM
            private keys; GitHub, GitLab, Slack, Stripe, AWS, Google, npm and OpenAI-style tokens;
            Luhn-valid card numbers (not in ids).
        pii_fields: key names whose values are replaced by a keyed HMAC token (``pii:<hex>``).
            With ``"email"``, email addresses are pseudonymised wherever they appear, in ids
            (an email used as ``actor.id``) and in text too; with ``"name"``, actor names.
        pii_key: the HMAC key for ``pii_fields`` (required when they are given).
        pii_prefix: the marker put before PII tokens.
        match_key_parts: match secret words and pairs in key names (True by default); False
            matches only ``secret_keys`` (by normalised name).

    Examples:
        >>> from maestro_audit_logger import Redactor
        >>> r = Redactor(pii_fields={"email"}, pii_key=b"k" * 32)
        >>> out = r.redact_mapping({"db_password": "x", "email": "a@b.c", "note": "Bearer abcdefghijklmnop"})
        >>> out["db_password"], out["note"]
        ('[REDACTED]', '[REDACTED]')
        >>> out["email"]
        'pii:...'
        >>> r.redact_mapping({"accessToken": "t", "token_count": 5, "headers": [["Authorization", "Basic dXNlcg=="]]})
        {'accessToken': '[REDACTED]', 'token_count': 5, 'headers': [['Authorization', '[REDACTED]']]}
        >>> r.redact_text("connect to postgresql://app:pw@db/prod failed")
        'connect to postgresql://app:[REDACTED]@db/prod failed'

        Give it to the logger: ``AuditLogger(sink, service="billing", redaction=r)``.
    """

    __slots__ = (
        "_clean", "_id_mask", "_key_parts", "_kinds", "_mask", "_own_plan", "_own_text", "_pattern", "_patterns",
        "_pii", "_pii_email", "_pii_key", "_pii_name", "_plain", "_prefix", "_replace_fn", "_secret", "_seen_actor",
        "_seen_extra", "_seen_target",
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
        match_key_parts: bool = True,
    ) -> None:
        if isinstance(secret_keys, str) or isinstance(extra_secret_keys, str) or isinstance(pii_fields, str):
            raise AuditConfigError("secret_keys, extra_secret_keys and pii_fields must be iterables of names")
        self._secret = frozenset(_normalised(k) for k in (*secret_keys, *extra_secret_keys))
        self._pii = frozenset(_normalised(k) for k in pii_fields)
        self._key_parts = bool(match_key_parts)
        if self._pii and (not isinstance(pii_key, bytes) or len(pii_key) < 16):
            raise AuditConfigError("pii_key must be bytes of at least 16 bytes when pii_fields are given")
        self._pii_key = pii_key or b""
        self._prefix = pii_prefix
        self._pii_email = "email" in self._pii
        # What text and ids are scanned for (ids: no card numbers); emails only as PII.
        self._mask = (_K | _T | _C | (_E if self._pii_email else 0)) if patterns else 0
        self._id_mask = self._mask & ~_C
        self._pattern = _compile(self._mask) if patterns else None  # the full alternation
        self._patterns: dict[int, re.Pattern[str]] = {}
        self._kinds: dict[str, int] = {}
        # Key names known to be neither secret nor PII (exactly the kind-0 entries of `_kinds`).
        self._plain: set[str] = set()
        # Short strings already scanned and found clean (values repeat: currencies, codes,
        # names). Only clean text is kept, never a secret; bounded like the key cache.
        self._clean: set[str] = set()
        self._seen_actor: object = None
        self._seen_target: object = None
        self._seen_extra: dict[Any, Any] | None = None
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
            parts = key_parts(key)
            norm = "_".join(parts)
            if norm in self._secret or (self._key_parts and _secret_parts(parts)):
                kind = 1
            elif self._key_parts and _plural_secret(parts):
                kind = 3
            else:
                kind = 2 if norm in self._pii else 0
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
        """Replace secret-looking substrings of ``text`` (see ``patterns``)."""
        pattern = self._pattern
        if pattern is None or len(text) < 5 or text in self._clean:
            return text
        mask = _families(text) & self._mask
        if mask:
            out = self._scanner(mask).sub(self._replace_fn, text)
            if out is not text and out != text:
                return out
        if len(text) <= _CLEAN_MAX_LEN and len(self._clean) < _CLEAN_MAX_ENTRIES:
            self._clean.add(text)
        return text

    def _redact_id(self, value: Any, *, remember: bool = True) -> Any:
        # An id or name field: an email pseudonymised when emails are PII, secrets replaced
        # (card numbers are not looked for: numeric ids pass the Luhn check one time in ten).
        if type(value) is not str or value in self._clean:
            return value
        if self._pii_email and "@" in value and _EMAIL_FULL.fullmatch(value):
            return self.pseudonym(value)
        mask = _families(value) & self._id_mask if len(value) >= 5 else 0
        if mask:
            out = self._scanner(mask).sub(self._replace_fn, value)
            if out != value:
                return out
        if remember and len(value) <= _CLEAN_MAX_LEN and len(self._clean) < _CLEAN_MAX_ENTRIES:
            self._clean.add(value)  # ids repeat (the same actor, the same target), request ids do not
        return value

    def _scanner(self, mask: int) -> re.Pattern[str]:
        pattern = self._patterns.get(mask)
        if pattern is None:
            pattern = self._patterns[mask] = _compile(mask)  # at most 16, compiled once each
        return pattern

    def _replace(self, match: re.Match[str]) -> str:
        group = match.lastgroup
        if group == "kvval":
            value = match.group("kvval")
            quote = value[0] if value[0] in "\"'" else ""
            return match.group("kv") + quote + REDACTED + quote
        if group == "urlpw":
            return match.group("url") + REDACTED
        if group == "card":
            s = match.group(0)
            digits = s.replace(" ", "").replace("-", "")
            return "[REDACTED:card]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else s
        if group == "email":
            return self.pseudonym(match.group(0))
        return REDACTED

    def redact_value(self, value: Any) -> Any:
        """Redact inside any JSON-like value (strings scanned, containers walked)."""
        if isinstance(value, str):
            return self.redact_text(value) if self._pattern is not None else value
        if isinstance(value, Mapping):
            return self.redact_mapping(value)
        if isinstance(value, list | tuple):
            if len(value) == 2 and type(value[0]) is str:
                # A [name, value] pair, e.g. a header list [["Authorization", "Basic ..."]].
                kind = self._kinds.get(value[0])
                if kind is None:
                    kind = self._kind(value[0])
                if kind:
                    return [value[0], self._keyed(kind, value[1])]
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
                out[key] = self._keyed(kind, value)
                continue
            tv = type(value)
            if tv is str:
                out[key] = value if clean is not None and (len(value) < 5 or value in clean) else redact_text(value)
            elif value is None or tv is int or tv is float or tv is bool:
                out[key] = value
            else:
                out[key] = self.redact_value(value)
        return out

    def _keyed(self, kind: int, value: Any) -> Any:
        # The value of a secret (1), PII (2) or plural-secret (3: ``tokens``, ``secrets``) key.
        if kind == 1:
            return REDACTED
        if kind == 2:
            return self._pii_value(value)
        return self.redact_value(value) if isinstance(value, Mapping | list | tuple) else REDACTED

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
            if kind in (1, 3):
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
        return self._redact_fields(record)

    def _redact_fields(self, record: dict[str, Any], owned: bool = False) -> dict[str, Any]:
        # Every string field but ``extra`` and ``changes``: the reason and user agent as text;
        # the actor, targets, request and correlation ids and the tenant as ids. The actor's and
        # targets' dicts are cached by their objects: changed ones are copied, never mutated.
        # The hot path: ids and names already found clean cost a set lookup; a request id too
        # short to hold any pattern without ``= : , @`` is not scanned (nor remembered).
        # ``owned``: the record comes from `record` (`_redact_owned`), whose actor and target
        # dicts are the immutable ones cached by `Actor` and `Target` objects: the last ones
        # found clean are kept (referenced, so ``is`` cannot match a recycled object) and an
        # event with the same objects skips their checks.
        if not record.keys().isdisjoint(_LESS_USUAL):  # one C-level test for four fields
            self._redact_less_usual(record)
        get = record.get
        actor = get("actor")
        if actor is not self._seen_actor and actor is not None:
            clean = self._clean
            if actor.get("id") in clean and (
                len(actor) == 2 or ("on_behalf_of" not in actor and not self._pii_name and actor.get("name") in clean)
            ):
                if owned:
                    self._seen_actor = actor
            else:
                record["actor"] = self._redact_actor(actor)
        targets = get("targets")
        if targets is not None and not (len(targets) == 1 and targets[0] is self._seen_target):
            self._redact_targets(record, targets, owned)
        # The request id (a fresh one per event): `_short_may_hold` as one C call.
        value = get("request_id")
        if value is not None and (len(value) >= 13 or not _SHORT_TRIGGERS.isdisjoint(value)):
            record["request_id"] = self._redact_id(value, remember=False)
        return record

    def _redact_less_usual(self, record: dict[str, Any]) -> None:
        # `_redact_fields` for the reason, the user agent, the correlation id and the tenant.
        get = record.get
        reason = get("reason")
        if reason is not None:
            record["reason"] = self.redact_text(reason)
        source = get("source")
        if source is not None and "user_agent" in source:
            record["source"] = {**source, "user_agent": self.redact_text(source["user_agent"])}
        value = get("correlation_id")
        if value is not None and (len(value) >= 13 or not _SHORT_TRIGGERS.isdisjoint(value)):
            record["correlation_id"] = self._redact_id(value, remember=False)
        value = get("tenant")
        if value is not None and value not in self._clean:
            record["tenant"] = self._redact_id(value)

    def _redact_targets(self, record: dict[str, Any], targets: list[dict[str, Any]], owned: bool) -> None:
        if len(targets) != 1:
            record["targets"] = [self._redact_target(t) for t in targets]
            return
        t = targets[0]
        if t is self._seen_target:
            return
        clean = self._clean
        if t.get("id") not in clean or ("name" in t and t["name"] not in clean):
            record["targets"] = [self._redact_target(t)]
        elif owned:
            self._seen_target = t

    def _redact_actor(self, actor: dict[str, Any]) -> dict[str, Any]:
        out = dict(actor)
        if "id" in out:
            out["id"] = self._redact_id(out["id"])
        name = out.get("name")
        if name is not None:
            out["name"] = self.pseudonym(name) if self._pii_name else self._redact_id(name)
        obo = out.get("on_behalf_of")
        if isinstance(obo, dict):
            out["on_behalf_of"] = self._redact_actor(obo)
        return out if out != actor else actor

    def _redact_target(self, target: dict[str, Any]) -> dict[str, Any]:
        out = dict(target)
        for name in ("id", "name"):
            if name in out:
                out[name] = self._redact_id(out[name])
        return out if out != target else target

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
                if extra != self._seen_extra:  # the last clean extra again: nothing to do
                    self._scrub(extra)
            else:
                record["extra"] = self.redact_mapping(extra)
        if "changes" in record:
            record["changes"] = self.redact_changes(record["changes"])
        return self._redact_fields(record, True)

    def _redact_usual(self, record: dict[str, Any]) -> dict[str, Any]:
        # `_redact_owned` for the logger's fast path, which built ``record`` from its arguments
        # alone and checked that it holds no reason, source, changes, correlation id or tenant:
        # only ``extra``, the actor, the targets and the request id are looked at, in one call
        # (what `_redact_owned` and `_redact_fields` do for them, inlined: this runs once per
        # event and the calls and key tests were most of redaction's cost on the buffered path).
        if not self._own_plan:
            return self.redact_record(record)
        get = record.get
        extra = get("extra")
        if extra is not None:
            if type(extra) is dict:
                if extra != self._seen_extra:  # the last clean extra again: nothing to do
                    self._scrub(extra)
            else:
                record["extra"] = self.redact_mapping(extra)
        actor = get("actor")
        if actor is not self._seen_actor and actor is not None:
            clean = self._clean
            if actor.get("id") in clean and (
                len(actor) == 2 or ("on_behalf_of" not in actor and not self._pii_name and actor.get("name") in clean)
            ):
                self._seen_actor = actor
            else:
                record["actor"] = self._redact_actor(actor)
        targets = get("targets")
        if targets is not None and not (len(targets) == 1 and targets[0] is self._seen_target):
            self._redact_targets(record, targets, True)
        # The request id (a fresh one per event): too short to hold a pattern without one of
        # ``= : , @`` (four C-level searches, cheaper than a set test of its characters).
        value = get("request_id")
        if value is not None and (len(value) >= 13 or "=" in value or ":" in value or "," in value or "@" in value):
            record["request_id"] = self._redact_id(value, remember=False)
        return record

    def _scrub(self, data: dict[Any, Any]) -> None:  # noqa: PLR0912 - one loop per plan, inlined on purpose
        # `redact_mapping` in place: values of existing keys are replaced (never a key added or
        # removed, so iterating while assigning is safe); plain scalars and strings already
        # known clean are left alone without a write. The caller has compared the dict with
        # the last one found clean (`_seen_extra`: plain keys, only scalars and strings,
        # nothing replaced; kept as a private copy, so nobody can change it; equal immutable
        # values redact equally, so an equal dict needs nothing). The plan: one C-level subset
        # test tells whether every key is already known to be plain (neither secret nor PII,
        # in any case); then only the values are looked at, and only strings that may hold a
        # secret (not short, not already found clean) and containers cost more than a type check.
        clean = self._clean
        pattern = self._pattern
        if data.keys() <= self._plain:  # not issuperset(data): that builds a set of the keys
            flat = True
            for key, value in data.items():
                tv = type(value)
                if tv is str:
                    if pattern is not None and len(value) >= 5 and value not in clean:
                        out = self.redact_text(value)
                        if out is not value:
                            data[key] = out
                            flat = False
                elif value is not None and tv is not int and tv is not float and tv is not bool:
                    data[key] = self.redact_value(value)
                    flat = False
            if flat:
                self._seen_extra = data.copy()
            return
        kinds = self._kinds
        for key, value in data.items():
            kind = kinds.get(key)
            if kind is None:
                kind = self._kind(key) if type(key) is str else 0
            if kind:
                data[key] = self._keyed(kind, value)
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
