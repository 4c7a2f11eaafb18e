"""The offline Chromium flags and the hosts users allow beyond loopback (``_chromium``)."""

from __future__ import annotations

import pytest

from maestro_test_adapters import InvalidOptionError, allowed_hosts, chromium_args
from maestro_test_adapters._chromium import HOST_RESOLVER_RULES, configured_allowed_hosts, host_resolver_rules


def _rules(args: list[str]) -> str | None:
    found = [a.partition("=")[2] for a in args if a.startswith("--host-resolver-rules=")]
    assert len(found) <= 1
    return found[0] if found else None


def test_nothing_beyond_loopback_by_default() -> None:
    assert _rules(chromium_args()) == HOST_RESOLVER_RULES
    assert _rules(chromium_args(allow_hosts=())) == HOST_RESOLVER_RULES


@pytest.mark.parametrize(
    ("entries", "normalised"),
    [
        (["db"], ("db",)),
        (["DB.Example.", "*.svc.cluster.local"], ("db.example.", "*.svc.cluster.local")),
        (["db, cache  queue"], ("db", "cache", "queue")),
        (["10.0.0.0/8", "192.168.1.7", "::1"], ("10.0.0.0/8", "192.168.1.7", "::1")),
        (["web=127.0.0.1", "web=127.0.0.1"], ("web=127.0.0.1",)),
        (["*"], ("*",)),
    ],
)
def test_allowed_entries_are_normalised(entries: list[str], normalised: tuple[str, ...]) -> None:
    assert allowed_hosts(entries) == normalised


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("http://db", "is a URL, not a host name"),
        ("db:5432", "is not a host name, an IP address or a range"),
        ("db_!", "is not a host name, an IP address or a range"),
        ("10.0.0.1/8", "is not an IP range (10.0.0.1/8 has host bits set)"),
        ("10.0.0.0/33", "is not an IP range"),
        ("fd00::/8", "is an IPv6 range, which Chromium cannot match"),
        ("web=db", "does not resolve to an IP address"),
        ("*.web=127.0.0.1", "does not start with a host name"),
    ],
)
def test_a_wrong_entry_is_refused_naming_it(entry: str, why: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        allowed_hosts([entry])
    assert caught.value.parameter == "allow_hosts"
    assert str(caught.value).startswith(f"allow_hosts: {entry!r} {why}")


def test_names_addresses_and_ranges_are_excluded_from_the_not_found_mapping() -> None:
    rules = host_resolver_rules(["db", "*.svc.local", "192.168.1.7", "172.16.0.0/14", "10.0.0.0/8", "::1"])
    assert rules == (
        "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE db, EXCLUDE *.svc.local, "
        "EXCLUDE 192.168.1.7, EXCLUDE 172.16.*, EXCLUDE 172.17.*, EXCLUDE 172.18.*, EXCLUDE 172.19.*, "
        "EXCLUDE 10.*, EXCLUDE ::1, EXCLUDE [::1]"
    )


def test_a_range_inside_the_last_octet_names_each_address() -> None:
    assert host_resolver_rules(["192.168.1.4/30"]) == (
        "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost, "
        "EXCLUDE 192.168.1.4, EXCLUDE 192.168.1.5, EXCLUDE 192.168.1.6, EXCLUDE 192.168.1.7"
    )


def test_a_mapped_name_comes_before_the_not_found_mapping_and_is_not_excluded() -> None:
    assert host_resolver_rules(["web=127.0.0.1", "db"]) == (
        "MAP web 127.0.0.1 , MAP * ~NOTFOUND , EXCLUDE 127.0.0.1, EXCLUDE localhost, EXCLUDE db"
    )


def test_any_host_drops_the_not_found_mapping() -> None:
    assert host_resolver_rules(["*"]) is None
    assert _rules(chromium_args(allow_hosts=["*"])) is None
    assert host_resolver_rules(["*", "web=127.0.0.1"]) == "MAP web 127.0.0.1"


def test_too_many_patterns_are_refused() -> None:
    with pytest.raises(InvalidOptionError, match="more than 256 host patterns"):
        host_resolver_rules([f"10.{n}.0.0/23" for n in range(130)])


def test_the_environment_variable_is_read_with_commas_or_spaces() -> None:
    assert configured_allowed_hosts(environ={"MAESTRO_ALLOW_HOSTS": "db, cache web=127.0.0.1"}) == (
        "db",
        "cache",
        "web=127.0.0.1",
    )
    assert configured_allowed_hosts(environ={}) == ()
