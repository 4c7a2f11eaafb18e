"""Redaction: secret keys (nested, case-insensitive), changes, value patterns, PII pseudonyms, and
the in-place plan `record` uses giving exactly what `redact_record` gives."""

from __future__ import annotations

import copy
import os
import string
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maestro_audit_logger import Actor, AuditConfigError, AuditLogger, JsonlFileSink, NoRedaction, Redactor, Target
from maestro_audit_logger._event import event_record
from maestro_audit_logger._redaction import REDACTED, luhn_ok
from maestro_audit_logger.testing import MemorySink, capture

NS = 1_790_000_000_123_456_789

VISA = "4111 1111 1111 1111"
AWS = "AKIAIOSFODNN7EXAMPLE"


def test_secret_keys_are_replaced_in_nested_dicts_and_lists_case_insensitively() -> None:
    r = Redactor()
    out = r.redact_mapping(
        {
            "Password": "hunter2",
            "user": {"name": "ann", "API_KEY": "k", "tokens": [{"Authorization": "Bearer x"}]},
            "list": [{"cookie": "c"}, "plain"],
        }
    )
    assert out["Password"] == REDACTED
    assert out["user"]["API_KEY"] == REDACTED
    assert out["user"]["name"] == "ann"
    assert out["user"]["tokens"][0]["Authorization"] == REDACTED
    assert out["list"] == [{"cookie": REDACTED}, "plain"]


def test_extra_secret_keys_extend_the_defaults() -> None:
    r = Redactor(extra_secret_keys={"pan"})
    out = r.redact_mapping({"pan": "1", "password": "2"})
    assert out == {"pan": REDACTED, "password": REDACTED}


def test_changes_on_secret_fields_keep_only_changed() -> None:
    r = Redactor()
    out = r.redact_changes({"password": ["old", "new"], "total": [1, 2], "note": ["", f"card {VISA}"]})
    assert out["password"] == "changed"
    assert out["total"] == [1, 2]
    assert out["note"] == ["", "card [REDACTED:card]"]


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        (f"key {AWS} used", AWS),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        (f"paid with {VISA}", VISA),
        ("paid with 4111-1111-1111-1111", "4111-1111-1111-1111"),
        ("login failed: password=hunter2", "hunter2"),
        ("token: abc.def", "abc.def"),
    ],
)
def test_value_patterns_are_redacted(text: str, leak: str) -> None:
    assert leak not in Redactor().redact_text(text)


def test_numbers_failing_luhn_are_left_alone() -> None:
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")
    assert Redactor().redact_text("order 4111111111111112") == "order 4111111111111112"
    assert Redactor(patterns=False).redact_text(VISA) == VISA


def test_pii_is_pseudonymised_consistently_and_searchably() -> None:
    r = Redactor(pii_fields={"email"}, pii_key=b"k" * 32)
    a = r.redact_mapping({"email": "ann@example.com"})["email"]
    b = r.redact_mapping({"EMAIL": "ann@example.com"})["EMAIL"]
    assert a == b == r.pseudonym("ann@example.com")
    assert a.startswith("pii:")
    assert "ann" not in a
    other = Redactor(pii_fields={"email"}, pii_key=b"j" * 32)
    assert other.pseudonym("ann@example.com") != a
    assert r.redact_changes({"email": ["a@x", "b@x"]})["email"] == [r.pseudonym("a@x"), r.pseudonym("b@x")]


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(AuditConfigError, match="pii_key"):
        Redactor(pii_fields={"email"})
    with pytest.raises(AuditConfigError, match="iterables"):
        Redactor(secret_keys="password")
    with pytest.raises(AuditConfigError, match="pii_key"):
        Redactor().pseudonym("x")


def test_logger_redacts_before_writing_and_hashing_including_exception_text() -> None:
    sink = MemorySink()
    audit = AuditLogger(sink, service="svc")
    with capture() as events:
        audit.record(
            "user.update",
            actor=Actor("u"),
            changes={"password": ["a", "b"]},
            extra={"headers": {"Authorization": "Bearer abcdefghijkl"}, "note": f"card {VISA}"},
            error=RuntimeError("db said password=hunter2 and token=zzz"),
        )
    audit.close()
    raw = b"".join(sink.lines)
    for secret in (b"hunter2", b"zzz", b"abcdefghijkl", b"4111 1111"):
        assert secret not in raw
    # Not a bare b"4111" over the whole line: a random hex hash or id contains it now and then.
    assert "4111" not in orjson.dumps(orjson.loads(raw)["extra"]).decode()
    assert events[0]["changes"] == {"password": "changed"}
    assert events[0]["outcome"] == "failure"


def test_no_redaction_leaves_records_alone() -> None:
    sink = MemorySink()
    with AuditLogger(sink, service="svc", redaction=NoRedaction()) as audit:
        audit.record("user.update", actor=Actor("u"), extra={"password": "p"})
    assert sink.records[0]["extra"] == {"password": "p"}


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=20))
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
secret_key = st.sampled_from(["password", "Token", "API_KEY", "authorization", "Cookie", "client_secret"])
secret_value = st.text(alphabet=string.ascii_letters + string.digits, min_size=12, max_size=24).map(
    lambda s: "S3cr3t" + s
)


def _paths_to_key(value: object) -> bool:
    return isinstance(value, dict | list)


@settings(max_examples=150, deadline=None)
@given(doc=json_value, key=secret_key, secret=secret_value, depth=st.integers(0, 3))
def test_property_a_secret_under_a_secret_key_never_survives(doc: object, key: str, secret: str, depth: int) -> None:
    nested: object = {key: secret}
    for i in range(depth):
        nested = {f"level{i}": [nested, doc]}
    wrapper = {"payload": nested, "other": doc}
    out = orjson.dumps(Redactor().redact_mapping(wrapper))
    assert secret.encode() not in out


@settings(max_examples=150, deadline=None)
@given(doc=json_value)
def test_property_redaction_is_idempotent_and_keeps_structure(doc: object) -> None:
    r = Redactor()
    once = r.redact_value(doc)
    assert r.redact_value(once) == once
    assert type(once) is type(doc) or (isinstance(doc, tuple) and isinstance(once, list))


@settings(max_examples=100, deadline=None)
@given(digits=st.text(alphabet="0123456789", min_size=12, max_size=18))
def test_property_every_luhn_valid_card_number_is_redacted(digits: str) -> None:
    # complete the number with its Luhn check digit
    for check in "0123456789":
        if luhn_ok(digits + check):
            number = digits + check
            break
    text = f"charged {number} today"
    assert number not in Redactor().redact_text(text)


@settings(max_examples=100, deadline=None)
@given(value=st.text(min_size=1, max_size=40))
def test_property_pseudonyms_are_deterministic_and_hide_the_value(value: str) -> None:
    r = Redactor(pii_fields={"email"}, pii_key=b"x" * 32)
    token = r.pseudonym(value)
    assert token == r.pseudonym(value)
    assert len(token) == len("pii:") + 32


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=60),
    secret=st.sampled_from(
        [
            "Bearer abcdefghij",
            "bEaReR abcdefghij",
            "AKIAABCDEFGHIJKLMNOP",
            "password=x",
            "4111 1111 1111 1111",
            "ghp_" + "a" * 36,
            "github_pat_" + "b" * 22,
            "glpat-" + "c" * 20,
            "xoxb-1234567890",
            "sk_live_" + "d" * 12,
            "whsec_" + "e" * 20,
            "AIza" + "f" * 35,
            "npm_" + "g" * 36,
            "sk-" + "h" * 20,
            "eyJabcdefgh.eyJabcdefgh.s",
            "-----BEGIN PRIVATE KEY-----\nx",
            "pg://u:p@h",
            '"accessToken": "t"',
            "('Cookie', 'c')",
            "a@b.example",
        ]
    ),
    pii=st.booleans(),
)
def test_property_the_fast_prefilter_never_hides_a_pattern_match(text: str, secret: str, pii: bool) -> None:
    # The branches a string is scanned with are picked by C-level checks: the result must be
    # what the full alternation gives.
    r = Redactor(pii_fields={"email"}, pii_key=b"k" * 32) if pii else Redactor()
    pattern = r._pattern
    assert pattern is not None
    for candidate in (text, f"{text} {secret} {text}", text + secret.lower(), text.upper() + secret):
        assert r.redact_text(candidate) == (pattern.sub(r._replace, candidate) if len(candidate) >= 5 else candidate)


def test_clean_string_cache_never_lets_a_secret_through() -> None:
    r = Redactor()
    secret = "Bearer abcdefghijklmnop"
    for _ in range(3):  # the second and third passes go through the clean-string cache
        out = r.redact_mapping({"note": "customer-request", "header": secret, "n": "EUR"})
        assert out == {"note": "customer-request", "header": "[REDACTED]", "n": "EUR"}
        assert r.redact_text(secret) == "[REDACTED]"


def test_a_subclass_overriding_redact_text_sees_every_string() -> None:
    class Upper(Redactor):
        __slots__ = ()

        def redact_text(self, text: str) -> str:
            return text.upper()

    r = Upper()
    for _ in range(2):
        assert r.redact_mapping({"a": "eur", "b": "customer-request"}) == {"a": "EUR", "b": "CUSTOMER-REQUEST"}


# -- the in-place redaction plan of record() ---------------------------------------------
# -- the redaction plan -----------------------------------------------------------------------
SECRET_LOOKING = st.sampled_from(
    [
        "Bearer abcdefghijklmnop",
        "4111 1111 1111 1111",
        "4111 1111 1111 1112",
        "AKIAIOSFODNN7EXAMPLE",
        "password=hunter2",
        "aws_secret_access_key=" + "A" * 40,
        "EUR",
        "customer-request",
        "plain words here",
        "",
    ]
)


KEYS = st.sampled_from(
    ["password", "Password", "TOKEN", "api_key", "email", "Email", "name", "amount", "note", "nested", "items"]
)


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    SECRET_LOOKING,
)


VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=20,
)


REDACTORS = [
    Redactor(),
    Redactor(pii_fields={"email", "name"}, pii_key=b"k" * 32),
    Redactor(patterns=False, extra_secret_keys={"note"}),
]


@settings(max_examples=150, deadline=None)
@given(
    extra=st.dictionaries(KEYS, VALUES, max_size=6),
    changes=st.none() | st.dictionaries(KEYS, st.tuples(SCALARS, SCALARS).map(list), max_size=3),
    reason=st.none() | SECRET_LOOKING.filter(bool),
    which=st.integers(0, len(REDACTORS) - 1),
)
def test_in_place_redaction_plan_gives_what_redact_record_gives(
    extra: dict[str, Any], changes: dict[str, Any] | None, reason: str | None, which: int
) -> None:
    redactor = REDACTORS[which]
    record = event_record(
        "invoice.update", Actor("u-1", name="Ann"), Target("invoice", "1"), "success", reason, None, changes,
        None, "info", "billing", None, None, None, None, None, extra, NS, "",
    )  # fmt: skip
    expected = redactor.redact_record(copy.deepcopy(record))
    got = redactor._redact_owned(record)
    assert got == expected
    assert orjson.dumps(got, option=orjson.OPT_SORT_KEYS) == orjson.dumps(expected, option=orjson.OPT_SORT_KEYS)


def test_record_never_mutates_the_callers_extra() -> None:
    from maestro_audit_logger.testing import capture

    extra = {"password": "hunter2", "note": "Bearer abcdefghijklmnop", "items": [{"token": "t"}]}
    before = copy.deepcopy(extra)
    with capture() as events:
        AuditLogger(JsonlFileSink(os.devnull), service="s").record("a.b", actor=Actor("u"), extra=extra)
    assert extra == before
    assert events[0]["extra"] == {"password": "[REDACTED]", "note": "[REDACTED]", "items": [{"token": "[REDACTED]"}]}


def test_a_subclass_overriding_a_step_is_honoured_by_record(tmp_path: Path) -> None:
    class Upper(Redactor):
        def redact_text(self, text: str) -> str:
            return text.upper()

    audit = AuditLogger(tmp_path / "a.jsonl", service="s", redaction=Upper())
    audit.record("a.b", actor=Actor("u"), extra={"note": "hello world"})
    audit.close()
    assert b'"note":"HELLO WORLD"' in (tmp_path / "a.jsonl").read_bytes()


# -- the common secret shapes, and ordinary fields left readable --------------------------------


@pytest.mark.parametrize(
    "key", ["db_password", "accessToken", "privateKey", "client-secret", "aws_secret_access_key", "X-API-Key",
            "apiKey", "SESSION_ID", "passwordHash", "refresh-token", "set-cookie", "auth_code"],
)  # fmt: skip
def test_secret_key_names_are_matched_by_their_normalised_parts(key: str) -> None:
    out = Redactor().redact_mapping({key: "s3cr3t-value", "nested": [{key: "s3cr3t-value"}]})
    assert out == {key: REDACTED, "nested": [{key: REDACTED}]}


@pytest.mark.parametrize(
    ("key", "value"),
    [("token_count", 5), ("invoice_total", "1250.00"), ("secret_name", "db-creds"), ("token_type", "Bearer"),
     ("password_changed_at", "2026-11-01T00:00:00Z"), ("keyboard", "qwerty"), ("sort_keys", True),
     ("author", "Ann"), ("monkey", "George"), ("pinned", True)],
)  # fmt: skip
def test_ordinary_fields_stay_readable(key: str, value: object) -> None:
    assert Redactor().redact_mapping({key: value}) == {key: value}


@pytest.mark.parametrize(
    "text",
    ["token_count: 5", "invoice_total=1250", "retry after 30s: connection reset", "see https://example.com/a?b=c",
     "user ann@example.com signed in", "order 2026-000042 shipped", "build 0190aaaa-0000-7000-8000-000000000000"],
)  # fmt: skip
def test_ordinary_text_stays_readable(text: str) -> None:
    assert Redactor().redact_text(text) == text


def test_a_plural_secret_key_walks_its_collection_and_redacts_a_scalar() -> None:
    r = Redactor()
    assert r.redact_mapping({"tokens": 3}) == {"tokens": REDACTED}
    assert r.redact_mapping({"secrets": {"db": {"password": "p"}, "count": 2}}) == {
        "secrets": {"db": {"password": REDACTED}, "count": 2}
    }


def test_header_pairs_are_redacted_by_their_name() -> None:
    out = Redactor().redact_mapping(
        {"headers": [["Authorization", "Basic dXNlcjpwYXNz"], ["X-Api-Key", "k-1"], ["Accept", "text/html"]]}
    )
    assert out == {"headers": [["Authorization", REDACTED], ["X-Api-Key", REDACTED], ["Accept", "text/html"]]}
    assert Redactor().redact_value((("Cookie", "sid=1"),)) == [["Cookie", REDACTED]]


GHP = "ghp_" + "aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hI6"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)
PEM = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ('payload {"db_password": "hunter 2", "user": "ann"}', "hunter 2"),  # JSON inside a string
        ("KeyError: {'accessToken': 'tok-123456', 'id': 7}", "tok-123456"),  # a dict repr in an exception
        ("headers=[('Authorization', 'Basic dXNlcjpwYXNz')]", "dXNlcjpwYXNz"),
        ("could not connect to postgresql://app:pw-9x@db/prod", "pw-9x"),  # credentials in a URL
        ("redis://:s3cret@cache:6379/0 refused", "s3cret"),
        (f"jwt was {JWT}", "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"),  # a JWT without Bearer
        (f"pushed with {GHP}", GHP),  # GitHub
        ("token glpat-abcdefghij0123456789 expired", "glpat-abcdefghij0123456789"),  # GitLab
        ("slack xoxb-1234567890-0987654321-abcdefghijkl", "xoxb-1234567890"),  # Slack
        ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),  # Stripe
        (f"aws {AWS}", AWS),  # AWS
        ("maps AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v", "AIzaSyA1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1v"),  # Google
        (f"key:\n{PEM}\nend", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC"),  # PEM private key
        ("client_secret=abc123&grant_type=x", "abc123"),
    ],
)
def test_common_secret_shapes_in_text_are_redacted(text: str, leak: str) -> None:
    out = Redactor().redact_text(text)
    assert leak not in out
    assert Redactor().redact_text(out) == out  # idempotent


def test_every_string_field_of_a_record_is_scanned(tmp_path: Path) -> None:
    from maestro_audit_logger import Source

    path = tmp_path / "audit.jsonl"
    with AuditLogger(path, service="svc") as audit:
        audit.record(
            "repo.push",
            actor=Actor("u-1", name=f"bot {GHP}"),
            targets=Target("repo", "acme/api", name=f"https://x:{GHP}@github.com/acme/api"),
            request_id=f"req {JWT}",
            correlation_id="postgresql://app:pw-9x@db/prod",
            source=Source(user_agent=f"curl Bearer {GHP}"),
            extra={"db_password": "hunter2", "token_count": 5, "invoice_total": 12},
        )
    raw = path.read_bytes()
    for leak in (GHP.encode(), b"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV", b"pw-9x", b"hunter2"):
        assert leak not in raw
    record = orjson.loads(raw.splitlines()[0])
    assert record["extra"] == {"db_password": REDACTED, "token_count": 5, "invoice_total": 12}
    assert record["targets"][0]["id"] == "acme/api"
    assert record["actor"]["id"] == "u-1"


def test_pii_rules_apply_to_ids_an_email_used_as_actor_id() -> None:
    r = Redactor(pii_fields={"email"}, pii_key=b"k" * 32)
    sink = MemorySink()
    with AuditLogger(sink, service="svc", redaction=r) as audit:
        audit.record(
            "user.update",
            actor=Actor("ann@example.com", on_behalf_of=Actor("bob@example.com")),
            targets=Target("user", "carol@example.com"),
            reason="mail to dave@example.com bounced",
        )
        audit.record("user.update", actor=Actor("u-2"), targets=Target("user", "u-3"))
    raw = b"".join(sink.lines)
    for email in (b"ann@", b"bob@", b"carol@", b"dave@"):
        assert email not in raw
    first, second = sink.records
    assert first["actor"]["id"] == r.pseudonym("ann@example.com")
    assert first["actor"]["on_behalf_of"]["id"] == r.pseudonym("bob@example.com")
    assert first["targets"][0]["id"] == r.pseudonym("carol@example.com")
    assert second["actor"]["id"] == "u-2"
    assert second["targets"][0]["id"] == "u-3"


def test_record_leaves_the_cached_actor_and_target_dicts_alone() -> None:
    actor = Actor("u-1", name=f"bot {GHP}")
    target = Target("repo", GHP)
    before = (dict(actor.to_dict()), dict(target.to_dict()))
    with capture() as events:
        AuditLogger(MemorySink(), service="s").record("a.b", actor=actor, targets=target)
    assert (actor.to_dict(), target.to_dict()) == before
    assert events[0]["targets"][0]["id"] == REDACTED


def _owned(redactor: Redactor, extra: dict[str, Any]) -> dict[str, Any]:
    record = event_record(
        "invoice.update", Actor("u-1"), None, "success", None, None, None, None, "info", "billing", None,
        None, None, None, None, extra, NS, "",
    )  # fmt: skip
    return redactor._redact_owned(record)["extra"]  # type: ignore[no-any-return]


def test_the_last_clean_extra_shortcut_cannot_be_fooled_by_later_changes() -> None:
    """The hot path skips an ``extra`` equal to the last clean one; it keeps its own copy, and
    never takes an ``extra`` holding containers (the caller's, shared by the shallow copy)."""
    redactor = Redactor()
    _owned(redactor, {"note": "warming up", "n": 0, "items": "known keys"})  # the keys become known plain
    stored = _owned(redactor, {"note": "an ordinary note", "n": 1})
    assert stored == {"note": "an ordinary note", "n": 1}
    stored["note"] = "password=hunter2"  # a sink changing the record it was given
    assert _owned(redactor, {"note": "password=hunter2", "n": 1}) == {"note": "password=[REDACTED]", "n": 1}
    items = ["an ordinary value"]
    assert _owned(redactor, {"items": items}) == {"items": ["an ordinary value"]}
    items[0] = "password=hunter2"  # the caller's list, changed after the first event
    assert _owned(redactor, {"items": items}) == {"items": ["password=[REDACTED]"]}
    stored = _owned(redactor, {"items": ["an ordinary value"]})
    stored["items"][0] = "password=hunter2"  # a sink changing a list inside the record
    assert _owned(redactor, {"items": ["password=hunter2"]}) == {"items": ["password=[REDACTED]"]}
    assert _owned(redactor, {"note": "an ordinary note", "n": 1}) == {"note": "an ordinary note", "n": 1}
    assert _owned(redactor, {"note": "an ordinary note", "n": 1}) == {"note": "an ordinary note", "n": 1}
    assert _owned(redactor, {"token": "an ordinary note", "n": 1}) == {"token": "[REDACTED]", "n": 1}


@settings(max_examples=150, deadline=None)
@given(
    extra=st.none() | st.dictionaries(KEYS, VALUES, max_size=6),
    actor_id=SECRET_LOOKING.filter(bool),
    actor_name=st.none() | SECRET_LOOKING.filter(bool),
    target_id=SECRET_LOOKING.filter(bool),
    request_id=st.none() | SECRET_LOOKING.filter(bool),
    which=st.integers(0, len(REDACTORS) - 1),
)
def test_the_loggers_usual_plan_gives_what_redact_record_gives(
    *,
    extra: dict[str, Any] | None,
    actor_id: str,
    actor_name: str | None,
    target_id: str,
    request_id: str | None,
    which: int,
) -> None:
    # `_redact_usual`: the logger's fast path (no reason, source, changes, correlation id or
    # tenant), twice in a row so the shortcuts for a repeated actor, target and extra apply.
    redactor = REDACTORS[which]
    actor, target = Actor(actor_id, name=actor_name), Target("invoice", target_id)
    for _ in range(2):
        record = event_record(
            "invoice.update", actor, target, "success", None, None, None, None, "info", "billing", None,
            request_id, None, None, None, extra, NS, "",
        )  # fmt: skip
        expected = redactor.redact_record(copy.deepcopy(record))
        got = redactor._redact_usual(record)
        assert got == expected
        assert orjson.dumps(got, option=orjson.OPT_SORT_KEYS) == orjson.dumps(expected, option=orjson.OPT_SORT_KEYS)
