from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from tests.conftest import PASSWORD

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
