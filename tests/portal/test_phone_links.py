"""Every phone number in a contact block is a tel: link, on every page that shows one."""

from __future__ import annotations

import datetime
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.template.loader import render_to_string
from django.urls import reverse
from pytest_django.asserts import assertContains

from tests.factories import UtilityFactory

pytestmark = pytest.mark.django_db

KANAZAWA = "金沢市企業局お客さまサービス課料金センター\n電話 076-220-2111(金沢市役所代表) 受付 平日 8:30〜17:45\n石川県金沢市広岡3丁目3番30号"
NAYORO = "名寄市役所上下水道室業務課業務係\n電話 01654-3-2111(代表) 受付 平日 8:45〜17:15\n名寄庁舎3階 内線3361〜3363"


def test_the_contact_block_links_each_phone_and_nothing_else():
    html = render_to_string("includes/_contact_block.html", {"text": NAYORO})
    assert '<a href="tel:0165432111">01654-3-2111</a>' in html
    assert "tel:3361" not in html and 'href="tel:8' not in html  # 内線 and hours are no phones
    assert "名寄庁舎3階 内線3361〜3363" in html
    assert html.count("<br>") == 2


def test_the_contact_block_is_escaped_around_the_links():
    html = render_to_string(
        "includes/_contact_block.html", {"text": "<b>課</b>\n電話 ０３－１２３４－５６７８"}
    )
    assert "<b>" not in html and "&lt;b&gt;" in html
    assert '<a href="tel:0312345678">０３－１２３４－５６７８</a>' in html


@pytest.mark.parametrize("path", ["", "faq/", "offices/", "inquiry/", "guide/"])
def test_every_page_with_the_contact_block_links_the_phone(client, path):
    utility = UtilityFactory(contact_block=KANAZAWA)
    response = client.get(f"/{utility.slug}/{path}")
    assertContains(response, '<a href="tel:0762202111">076-220-2111</a>')


def test_the_closed_hours_page_links_the_phone(client):
    utility = UtilityFactory(
        contact_block=KANAZAWA, opens_at=datetime.time(7, 0), closes_at=datetime.time(2, 0)
    )
    at_three = datetime.datetime(2025, 4, 1, 3, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    with time_machine.travel(at_three, tick=False):
        response = client.get(reverse("accounts:signup", args=[utility.slug]))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assertContains(
        response,
        '<a href="tel:0762202111">076-220-2111</a>',
        status_code=HTTPStatus.SERVICE_UNAVAILABLE,
    )
