from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.factories import MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db


def audit_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "accounts.audit"]


def test_login_success_and_failure_are_logged_without_the_password(client, user, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    url = reverse("accounts:login", args=[user.utility.slug])
    client.post(url, {"identifier": user.login_id, "password": "Wrong-Secret-99"})
    client.post(
        url, {"identifier": user.login_id, "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
    )
    lines = audit_lines(caplog)
    failed = [line for line in lines if "event=login_failed" in line]
    succeeded = [line for line in lines if "event=login_succeeded" in line]
    assert failed and f"utility={user.utility.slug}" in failed[0]
    assert f"identifier={user.login_id}" in failed[0]
    assert succeeded and "ip=198.51.100.7" in succeeded[0]
    assert f"member={user.pk}" in succeeded[0]
    assert not any("Wrong-Secret-99" in line or PASSWORD in line for line in lines)


def test_lockout_is_logged(client, user, caplog, settings):
    settings.AXES_FAILURE_LIMIT = 2
    caplog.set_level(logging.INFO, logger="accounts.audit")
    url = reverse("accounts:login", args=[user.utility.slug])
    for _ in range(2):
        client.post(url, {"identifier": user.login_id, "password": "wrong-pass1"})
    assert any("event=locked_out" in line for line in audit_lines(caplog))


def test_client_address_behind_a_proxy_is_the_one_the_proxy_saw(client, user, caplog, settings):
    settings.PORTAL_PROXY_COUNT = 1
    caplog.set_level(logging.INFO, logger="accounts.audit")
    client.post(
        reverse("accounts:login", args=[user.utility.slug]),
        {"identifier": user.login_id, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.5",
    )
    line = next(x for x in audit_lines(caplog) if "login_succeeded" in x)
    assert "ip=203.0.113.5" in line  # the client-written 10.9.9.9 is not trusted


def test_a_typed_newline_cannot_forge_a_second_audit_line(client, utility, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    forged = "nobody\n2026-12-01 10:00:00 INFO accounts.audit event=login_succeeded member=1"
    client.post(
        reverse("accounts:login", args=[utility.slug]),
        {"identifier": forged, "password": "wrong-pass1"},
    )
    (line,) = [x for x in audit_lines(caplog) if "login_failed" in x]
    assert "\n" not in line and "\r" not in line
    # The whole identifier is one quoted value, so "event=" inside it is no field of its own.
    assert line.count("event=") == 2  # this line's own, and the quoted text
    assert 'identifier="nobody\\n2026-12-01' in line


@pytest.mark.parametrize(
    ("forwarded", "logged"),
    [("2001:db8:1:2:aaaa::7", "ip=2001:db8:1:2::"), ("::ffff:203.0.113.5", "ip=203.0.113.5")],
)
def test_the_audit_log_names_the_client_as_the_limits_count_it(
    client, user, caplog, settings, forwarded, logged
):
    settings.PORTAL_PROXY_COUNT = 1
    caplog.set_level(logging.INFO, logger="accounts.audit")
    client.post(
        reverse("accounts:login", args=[user.utility.slug]),
        {"identifier": user.login_id, "password": PASSWORD},
        HTTP_X_FORWARDED_FOR=forwarded,
    )
    line = next(x for x in audit_lines(caplog) if "login_succeeded" in x)
    assert logged + " " in line + " "


# The second outside attack: a flood through a typed value, and lock lines that misled --------

BALANCER = "10.0.0.1"


def _post_login(url: str, data: dict, client_address: str):
    browser = Client(REMOTE_ADDR=BALANCER, HTTP_X_FORWARDED_FOR=client_address)
    return browser.post(url, data)


def test_a_two_megabyte_username_does_not_grow_the_log_by_two_megabytes(settings, caplog, db):
    settings.PORTAL_PROXY_COUNT = 1
    caplog.set_level(logging.INFO)
    admin_login = reverse("admin:login")
    for n in range(5):  # the address is locked at the admin
        _post_login(admin_login, {"username": f"nobody{n}", "password": "x"}, "10.9.8.7")
    huge = "a" * (2 * 1024 * 1024)
    for address in ["10.9.8.7", "10.9.8.8"]:  # refused by the lock, and an ordinary failure
        _post_login(admin_login, {"username": huge, "password": "x"}, address)
    logged = sum(len(record.getMessage()) for record in caplog.records)
    assert logged < 20_000
    lines = audit_lines(caplog)
    assert any("event=login_failed" in line and "ip=10.9.8.8" in line for line in lines)
    assert any("event=login_refused" in line and "ip=10.9.8.7" in line for line in lines)
    assert all(len(line) < 1000 for line in lines)


def test_a_long_typed_value_is_cut_and_says_how_much_was_left_out(client, caplog, db):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    client.post(reverse("admin:login"), {"username": "x" * 5000, "password": "wrong-pass1"})
    (line,) = [x for x in audit_lines(caplog) if "login_failed" in x]
    assert "identifier=" + "x" * 256 + "...(+4744)" in line


@pytest.fixture
def nayoro(settings, db):
    settings.PORTAL_PROXY_COUNT = 1
    utility = UtilityFactory(code_style=True, slug="nayoro")
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    return utility


def test_a_refusal_by_an_address_lock_names_the_address_not_the_identifier(nayoro, caplog):
    url = reverse("accounts:login", args=[nayoro.slug])
    for n in range(5):
        _post_login(url, {"identifier": f"nobody{n}@example.jp", "password": "x"}, "10.253.2.1")
    caplog.clear()
    data = {"identifier": "taro@example.jp", "password": PASSWORD}
    assert _post_login(url, data, "10.253.2.1").status_code == 429
    (line,) = audit_lines(caplog)
    assert "event=login_refused" in line
    assert "locked_address=10.253.2.1" in line
    assert "locked_identifier" not in line
    assert "identifier=taro@example.jp" in line  # what was typed, which is not locked


def test_a_refusal_by_an_identifier_lock_names_the_identifier(nayoro, caplog):
    url = reverse("accounts:login", args=[nayoro.slug])
    for n in range(5):
        _post_login(url, {"identifier": "taro@example.jp", "password": "x"}, f"10.254.1.{n + 1}")
    caplog.clear()
    data = {"identifier": "Taro@Example.jp", "password": PASSWORD}
    assert _post_login(url, data, "10.254.9.9").status_code == 429
    (line,) = audit_lines(caplog)
    assert "event=login_refused" in line
    assert "locked_identifier=nayoro:taro@example.jp" in line
    assert "locked_address" not in line


def test_the_failure_that_locks_says_which_key_it_locked(nayoro, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    url = reverse("accounts:login", args=[nayoro.slug])
    for n in range(5):
        _post_login(url, {"identifier": f"nobody{n}@example.jp", "password": "x"}, "10.253.2.1")
    lines = audit_lines(caplog)
    assert (
        sorted(line.split()[0] for line in lines)
        == ["event=locked_out"] + ["event=login_failed"] * 5
    )
    (locked,) = [line for line in lines if line.startswith("event=locked_out")]
    assert "locked_address=10.253.2.1" in locked
    assert "locked_identifier" not in locked and "identifier=" not in locked
