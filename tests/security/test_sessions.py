"""Sessions and redirects as an intruder probes them (issue 14, "also check")."""

from __future__ import annotations

from http import HTTPStatus
from urllib.parse import unquote

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import PASSWORD
from tests.factories import MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db


def login(browser, member, **extra):
    return browser.post(
        reverse("accounts:login", args=[member.utility.slug]) + extra.pop("query", ""),
        {"identifier": member.login_id, "password": PASSWORD},
        **extra,
    )


def test_logging_in_gives_a_new_session_key(user):
    """Session fixation: a key planted before login is not the one that is signed in."""
    browser = Client()
    browser.get(reverse("accounts:signup", args=[user.utility.slug]))
    browser.session.save()
    planted = browser.session.session_key
    assert login(browser, user).status_code == HTTPStatus.FOUND
    assert browser.session.session_key != planted


def test_a_password_change_signs_out_every_other_session(user):
    here, elsewhere = Client(), Client()
    login(here, user)
    login(elsewhere, user)
    dashboard = reverse("billing:dashboard", args=[user.utility.slug])
    response = here.post(
        reverse("accounts:profile_password", args=[user.utility.slug]),
        {"current_password": PASSWORD, "password": "kawaru2027", "password_confirm": "kawaru2027"},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert here.get(dashboard).status_code == HTTPStatus.OK
    assert elsewhere.get(dashboard).status_code == HTTPStatus.FOUND  # back to the login page


def test_logging_out_ends_that_session_on_the_server(user):
    browser = Client()
    login(browser, user)
    stolen_cookie = browser.cookies["sessionid"].value
    browser.post(reverse("accounts:logout", args=[user.utility.slug]))
    thief = Client()
    thief.cookies["sessionid"] = stolen_cookie
    response = thief.get(reverse("billing:dashboard", args=[user.utility.slug]))
    assert response.status_code == HTTPStatus.FOUND


@pytest.mark.parametrize(
    "target",
    [
        "/admin/",
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example/",
        "/{other}/usage/",
    ],
)
def test_next_never_leaves_this_utilitys_pages(user, target):
    other = UtilityFactory()
    target = target.format(other=other.slug)
    response = login(Client(), user, query=f"?next={target}")
    assert response["Location"] == reverse("billing:dashboard", args=[user.utility.slug])


def test_next_to_one_of_this_utilitys_pages_is_followed(user):
    target = reverse("accounts:profile", args=[user.utility.slug])
    response = login(Client(), user, query=f"?next={target}")
    assert response["Location"] == target


def login_from_the_link(browser, utility, identifier: str, next_query: str):
    """The attack as it was done: open the login page from a crafted link, then log in.

    ``next_query`` is the percent-encoded ?next= of the link; the page carries the value on
    in a hidden field, and the POST sends it as the form does.
    """
    url = reverse("accounts:login", args=[utility.slug])
    page = browser.get(f"{url}?next={next_query}")
    assert page.status_code == HTTPStatus.OK
    return browser.post(
        url,
        {"identifier": identifier, "password": PASSWORD, "next": unquote(next_query)},
    )


@pytest.mark.parametrize(
    "next_query",
    [
        "%2F{ours}%2F..%2F{other}%2F",  # /kanazawa/../nayoro/
        "/{ours}/%2e%2e/admin/",  # ends on /admin/login/?next=/admin/
        "/{ours}/%252E%252E/{other}/signup/",  # /kanazawa/%2E%2E/nayoro/signup/
        "/{ours}/usage/../../{other}/usage/",
        "/{ours}/.%2e/{other}/",
        "/{ours}/..%5C{other}/",  # a backslash is a slash to the browser
        "/{ours}/..//{other}/",
        "/{ours}/%252e%252e/admin/",  # the finding's literal /kanazawa/%2e%2e/admin/
        "/{ours}/%2F%2Fevil.example/..%2F..%2F..%2Fadmin/",
    ],
)
def test_next_with_dot_segments_never_leaves_this_utility(user, next_query):
    other = UtilityFactory()
    next_query = next_query.format(ours=user.utility.slug, other=other.slug)
    response = login_from_the_link(Client(), user.utility, user.login_id, next_query)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("billing:dashboard", args=[user.utility.slug])


def test_next_with_dot_segments_never_leaves_an_email_login_utility():
    nayoro = UtilityFactory(code_style=True)
    member = MemberFactory(utility=nayoro, login_id="", email="taro@example.jp")
    other = UtilityFactory()
    for next_query in [f"/{nayoro.slug}/../{other.slug}/usage/", f"/{nayoro.slug}/%2e%2e/admin/"]:
        response = login_from_the_link(Client(), nayoro, member.email, next_query)
        assert response["Location"] == reverse("billing:dashboard", args=[nayoro.slug])


def test_next_inside_this_utility_is_followed_in_its_resolved_form(user):
    slug = user.utility.slug
    response = login_from_the_link(
        Client(), user.utility, user.login_id, f"/{slug}/usage/../account/"
    )
    assert response["Location"] == reverse("accounts:profile", args=[slug])


def test_behind_the_balancer_mail_limits_count_each_client_not_the_balancer(settings):
    settings.PORTAL_PROXY_COUNT = 1
    settings.PORTAL_SIGNUP_MAIL_RATE_PER_IP = "2/h"
    utility = UtilityFactory()
    url = reverse("accounts:signup", args=[utility.slug])

    def ask(client_address: str, email: str):
        browser = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=client_address)
        return browser.post(url, {"email": email, "email_confirm": email, "agree_terms": "on"})

    for n in range(4):  # four residents, each from their own line, through one balancer
        assert ask(f"198.51.100.{n + 1}", f"resident{n}@example.jp").status_code == 302
    # One client asking for many addresses is held at its own address.
    ask("203.0.113.5", "a@example.jp")
    ask("203.0.113.5", "b@example.jp")
    assert ask("203.0.113.5", "c@example.jp").status_code == HTTPStatus.TOO_MANY_REQUESTS


def test_signup_mails_from_one_ipv6_network_share_one_limit(settings, mailoutbox):
    """The attack: 25 Nayoro signup mails from 2001:db8:99:1::1 to ::19 all went out."""
    settings.PORTAL_PROXY_COUNT = 1
    utility = UtilityFactory(code_style=True)
    url = reverse("accounts:signup", args=[utility.slug])
    statuses = []
    for n in range(1, 26):
        browser = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=f"2001:db8:99:1::{n:x}")
        statuses.append(browser.post(url, {"email": f"bomb{n}@example.jp"}).status_code)
    assert statuses[:20] == [HTTPStatus.FOUND] * 20
    assert set(statuses[20:]) == {HTTPStatus.TOO_MANY_REQUESTS}
    assert len(mailoutbox) == 20


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/admin/", None])
def test_an_admin_login_with_a_refused_next_lands_on_the_admin_index(db, target):
    """It went to /accounts/profile/ (Django's LOGIN_REDIRECT_URL), a 404."""
    staff = StaffFactory(login_id="kanazawa-staff")
    data = {"username": staff.login_id, "password": PASSWORD}
    if target is not None:
        data["next"] = target
    browser = Client()
    response = browser.post(reverse("admin:login"), data)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == reverse("admin:index")
    assert browser.get(response["Location"]).status_code == HTTPStatus.OK
