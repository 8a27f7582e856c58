"""The outside attack on the languages (issue 22, a22 findings): each finding a user would notice."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.billing.test_usage_views import add_history
from tests.factories import ContractLinkFactory, MemberFactory
from tests.portal.test_locale import switch, utility  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def chart_of(page: str) -> str:
    return page[page.index("<svg") : page.index("</svg>")]


@pytest.fixture
def history(client, utility):  # noqa: F811
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    add_history(link.customer, [18, 20, 22, 19, 21, 24, 20, 25])
    client.force_login(member)
    path = reverse("billing:history", args=[utility.slug, link.customer.number])

    def get(language: str) -> str:
        switch(client, utility, language, "/")
        return client.get(path).content.decode()

    return get


def test_the_easy_usage_chart_keeps_every_bar_and_label(history):
    """F7: <ruby> is an HTML element that closes an <svg>: the chart would lose its bars."""
    japanese, easy = chart_of(history("ja")), chart_of(history("ja-easy"))
    assert "<ruby" not in easy
    assert "使用水量(しようすいりょう)" in easy  # the reading in brackets, as in <title>
    for tag in ("<rect", "<text", "<line"):
        assert easy.count(tag) == japanese.count(tag) > 0


def test_the_charts_name_is_in_the_pages_language(history):
    """F1: a screen reader names the chart by its <title>."""
    assert '<title id="usage-chart-title">Water usage chart' in chart_of(history("en"))
    easy = chart_of(history("ja-easy"))
    assert '<title id="usage-chart-title">使用水量(しようすいりょう)のグラフ' in easy


def test_the_guides_qr_code_is_named_in_the_pages_language(client, utility):  # noqa: F811
    """F2: the QR code's aria-label."""
    path = reverse("portal:guide", args=[utility.slug])
    switch(client, utility, "en", "/")
    assert 'aria-label="QR code for the login page: http://testserver/' in (
        client.get(path).content.decode()
    )
