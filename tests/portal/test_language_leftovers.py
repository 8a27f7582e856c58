"""Issue 22's leftovers: staff texts per language, English date ranges (each a user would notice)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import translation

from tests.billing.test_usage_views import add_history
from tests.factories import ContractLinkFactory, MemberFactory, UtilityFactory
from tests.portal.test_locale import ALL, switch

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _japanese_after():
    yield
    translation.activate("ja")  # a client's last English request leaves English active


@pytest.fixture
def utility(db):
    return UtilityFactory(languages=ALL)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


@pytest.mark.parametrize("page", ["billing:dashboard", "billing:history", "billing:period"])
def test_an_english_usage_page_writes_its_periods_with_an_en_dash(client, utility, page):
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    readings = add_history(link.customer, [18, 20, 22, 19, 21, 24, 20, 25])
    client.force_login(member)
    args = {
        "billing:dashboard": [utility.slug],
        "billing:history": [utility.slug, link.customer.number],
        "billing:period": [utility.slug, link.customer.number, readings[-1].period_end],
    }[page]
    path = reverse(page, args=args)
    switch(client, utility, "en", "/")
    english = text_of(client.get(path).content.decode())
    assert "26 Mar 2025 \u2013 25 May 2025" in english
    assert not re.search(r"\d{4} ?〜", english)  # staff may type 〜 (8:30〜17:15); no date does
    switch(client, utility, "ja", "/")
    assert "2025年3月26日〜2025年5月25日" in text_of(client.get(path).content.decode())


def test_the_days_a_move_is_not_taken_read_as_english_dates(client, utility):
    path = reverse("moving:move_out", args=[utility.slug])
    switch(client, utility, "en", "/")
    english = text_of(client.get(path).content.decode())
    assert "29 Dec \u2013 3 Jan" in english and "12月29日" not in english


def test_the_hours_read_as_english_hours(client, utility):
    utility.opens_at, utility.closes_at = datetime.time(7, 0), datetime.time(2, 0)
    utility.save()
    switch(client, utility, "en", "/")
    english = text_of(client.get(reverse("accounts:login", args=[utility.slug])).content.decode())
    assert "7:00 am \u2013 2:00 am every day" in english and "毎日" not in english
