"""Too many signup mails or attempts get a Japanese "try later" page that says when."""

from __future__ import annotations

import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.test import Client
from pytest_django.asserts import assertContains

from accounts.models import EmailChallenge
from tests.factories import MemberFactory, UtilityFactory
from tests.helpers import (
    ask_for_link,
    details_for,
    kanazawa_contract,
    reach_details,
    url,
)

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
START = datetime.datetime(2025, 4, 1, 9, 0, tzinfo=JST)


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(START, tick=False)


@pytest.fixture
def low_limits(settings):
    settings.PORTAL_SIGNUP_MAIL_RATE_PER_EMAIL = "2/h"
    settings.PORTAL_SIGNUP_MAIL_RATE_PER_IP = "4/h"
    settings.PORTAL_SIGNUP_ATTEMPT_RATE_PER_IP = "3/h"


def test_one_address_gets_only_so_many_mails_an_hour(client, utility, mailoutbox, low_limits):
    for _ in range(2):
        assert ask_for_link(client, utility).status_code == HTTPStatus.FOUND
    response = ask_for_link(client, utility)
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assertContains(response, "受付を一時的に止めています。", status_code=429)
    assertContains(response, "分ほどたってから、もう一度お試しください。", status_code=429)
    minutes = response.context["retry_minutes"]
    assert 1 <= minutes <= 60
    assert int(response["Retry-After"]) <= 3600
    assert len(mailoutbox) == 2
    assert EmailChallenge.objects.count() == 2


def test_the_address_limit_is_lifted_after_the_hour(
    client, utility, mailoutbox, low_limits, time_machine
):
    for _ in range(3):
        ask_for_link(client, utility)
    time_machine.move_to(START + datetime.timedelta(hours=1, minutes=1), tick=False)
    assert ask_for_link(client, utility).status_code == HTTPStatus.FOUND
    assert len(mailoutbox) == 3


def test_one_client_address_gets_only_so_many_mails_whatever_the_addresses(
    client, utility, mailoutbox, low_limits
):
    for number in range(4):
        ask_for_link(client, utility, f"resident{number}@example.jp")
    response = ask_for_link(client, utility, "resident9@example.jp")
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    other_client = Client(REMOTE_ADDR="192.0.2.7")
    assert ask_for_link(other_client, utility, "resident9@example.jp").status_code == 302
    assert len(mailoutbox) == 5


def test_an_existing_member_is_limited_exactly_like_a_newcomer(
    client, utility, mailoutbox, low_limits
):
    MemberFactory(utility=utility, email="taro@example.jp")
    statuses = [ask_for_link(client, utility).status_code for _ in range(3)]
    assert statuses == [HTTPStatus.FOUND, HTTPStatus.FOUND, HTTPStatus.TOO_MANY_REQUESTS]


def test_the_limit_per_address_is_kept_per_utility(client, mailoutbox, low_limits):
    first, second = UtilityFactory(), UtilityFactory()
    for _ in range(2):
        ask_for_link(client, first)
    assert ask_for_link(client, second).status_code == HTTPStatus.FOUND


def test_signup_form_submissions_are_limited(client, utility, mailoutbox, low_limits):
    contract = kanazawa_contract(utility)
    reach_details(client, utility, mailoutbox)
    bad = details_for(contract, customer_number="1")
    for _ in range(3):
        assert client.post(url("signup_confirm", utility), bad).status_code == HTTPStatus.OK
    response = client.post(url("signup_confirm", utility), details_for(contract))
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assertContains(response, "もう一度お試しください。", status_code=429)


def test_the_cache_never_holds_an_address_in_clear(client, utility, mailoutbox, low_limits):
    ask_for_link(client, utility)
    keys = list(cache._cache.keys())  # locmem: the stored keys
    assert keys and not any("taro" in key or "example" in key for key in keys)


def test_login_id_checks_at_signup_are_limited_per_signup_whatever_the_client_address(
    settings, utility, mailoutbox
):
    """The attack: ⑥ says 「このログインIDは既に使用されています」, so one signup session
    tried login IDs 30 at a time and went on from a new address. Behind the balancer, each
    try here comes from an address of its own; the proven address is what is counted."""
    settings.PORTAL_PROXY_COUNT = 1
    contract = kanazawa_contract(utility)
    MemberFactory(utility=utility, login_id="suidotaro")
    browser = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.1")
    reach_details(browser, utility, mailoutbox)
    answers = []
    for n in range(12):
        browser.defaults["HTTP_X_FORWARDED_FOR"] = f"203.0.113.{n + 1}"
        response = browser.post(
            url("signup_confirm", utility), details_for(contract, login_id="suidotaro")
        )
        answers.append(response.status_code)
    assert answers[:10] == [HTTPStatus.OK] * 10  # each of these said the ID is in use
    assert answers[10:] == [HTTPStatus.TOO_MANY_REQUESTS] * 2
    assertContains(response, "もう一度お試しください。", status_code=429)
    # A second signup for the same proven address (a new mail, a new browser) is no way round.
    again = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.99")
    reach_details(again, utility, mailoutbox)
    response = again.post(
        url("signup_confirm", utility), details_for(contract, login_id="suidotaro")
    )
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
