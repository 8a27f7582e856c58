"""Limits and lockouts hold across servers: no per-process state (issue #7)."""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth.hashers import PBKDF2PasswordHasher

from tests.factories import MemberFactory, UtilityFactory

from .conftest import csrf_ready, random_email


def test_login_lockout_holds_across_machines(machines, browser):
    utility = UtilityFactory()
    member = MemberFactory(utility=utility, login_id="scaleout01", password="suido2026")
    first, second = machines
    statuses = []
    for attempt in range(5):  # AXES_FAILURE_LIMIT, alternating machines
        machine = machines[attempt % 2]
        login = f"{machine.url}/{utility.slug}/"
        csrf_ready(browser, login)
        status, _ = browser.post(
            login, {"identifier": member.login_id, "password": "wrong-pass1"}, referer=login
        )
        statuses.append(status)
    assert statuses[:4] == [HTTPStatus.OK] * 4
    assert statuses[4] == HTTPStatus.TOO_MANY_REQUESTS
    # The right password on the other machine is refused too: the lock is shared.
    login = f"{second.url}/{utility.slug}/"
    status, html = browser.post(
        login, {"identifier": member.login_id, "password": "suido2026"}, referer=login
    )
    assert status == HTTPStatus.TOO_MANY_REQUESTS
    assert "一時的に停止" in html


def test_signup_mail_limit_holds_across_machines(machines, browser):
    utility = UtilityFactory()
    email = random_email()
    statuses = []
    for attempt in range(4):  # 3 signup mails an hour per address, alternating machines
        machine = machines[attempt % 2]
        url = f"{machine.url}/{utility.slug}/signup/"
        csrf_ready(browser, url)
        status, _ = browser.post(
            url, {"email": email, "email_confirm": email, "agree_terms": "on"}, referer=url
        )
        statuses.append(status)
    assert statuses[:3] == [HTTPStatus.FOUND] * 3
    assert statuses[3] == HTTPStatus.TOO_MANY_REQUESTS


def test_a_session_started_on_one_machine_is_valid_on_the_other(machines, browser):
    utility = UtilityFactory()
    # The servers run production hashers; the test settings' fast MD5 is not among them.
    member = MemberFactory(utility=utility, login_id="scaleout02")
    hasher = PBKDF2PasswordHasher()
    member.password = hasher.encode("suido2026", hasher.salt())
    member.save(update_fields=["password"])
    first, second = machines
    login = f"{first.url}/{utility.slug}/"
    csrf_ready(browser, login)
    status, _ = browser.post(
        login, {"identifier": "scaleout02", "password": "suido2026"}, referer=login
    )
    assert status == HTTPStatus.FOUND
    # Cookies are per host:port, so copy the session cookie to the other "machine" by hand.
    session = next(c for c in browser.jar if c.name == "sessionid")
    other = type(browser)()
    other.opener.addheaders = [("Cookie", f"sessionid={session.value}")]
    status, html = other.get(f"{second.url}/{utility.slug}/usage/")
    assert status == HTTPStatus.OK, html[:300]
