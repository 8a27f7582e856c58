"""The outside attack on the languages (issue 22, a22 findings): each finding a user would notice."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from billing import tasks
from tests.billing.test_bill_mail import NOW, member_of, row, run_import
from tests.billing.test_notices import make_notice
from tests.billing.test_usage_views import add_history
from tests.factories import ContractLinkFactory, CustomerFactory, MemberFactory, UtilityFactory
from tests.portal.test_locale import ALL, switch

pytestmark = pytest.mark.django_db


@pytest.fixture
def utility(db):
    return UtilityFactory(languages=ALL)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def chart_of(page: str) -> str:
    return page[page.index("<svg") : page.index("</svg>")]


@pytest.fixture
def history(client, utility):
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


def test_the_guides_qr_code_is_named_in_the_pages_language(client, utility):
    """F2: the QR code's aria-label."""
    path = reverse("portal:guide", args=[utility.slug])
    switch(client, utility, "en", "/")
    assert 'aria-label="QR code for the login page: http://testserver/' in (
        client.get(path).content.decode()
    )


def test_an_english_bill_mail_writes_yen_and_dates_as_english_pages(frozen, tmp_path):
    """F4: 「2,790円」 and 「〜」 in an English mail; Japanese mails keep theirs."""
    nayoro = UtilityFactory(languages=ALL)
    contract = CustomerFactory(utility=nayoro)
    english, japanese = member_of(contract, language="en"), member_of(contract, language="ja")
    run_import(tmp_path, row(contract, total=2790))
    run_import(tmp_path, row(contract, total=3790))  # a correction names the earlier total
    body = {m.to[0]: m.body for m in mail.outbox}
    assert "26 Oct 2026 \u2013 25 Nov 2026" in body[english.email]
    assert "\u00a53,790 (\u00a52,790 in the earlier email)" in body[english.email]
    assert "790円" not in body[english.email] and "2026〜" not in body[english.email]
    assert "2026年10月26日〜2026年11月25日" in body[japanese.email]
    assert "3,790円(先のお知らせでは2,790円)" in body[japanese.email]


TYPED = "｜漢字《かんじ》 raw test"


def test_a_notice_and_the_contact_block_are_shown_as_typed_in_every_language(
    frozen, client, utility
):
    """F5: staff text with the notation's marks is no reading: not on pages, not in mails."""
    utility.contact_block = f"水道課 {TYPED}"
    utility.save()
    notice = make_notice(
        utility, title=f"件名 {TYPED}", body=TYPED, important=True, mail_members=True
    )
    members = {}
    for language in ("ja", "ja-easy", "en"):
        member = members[language] = MemberFactory(utility=utility, language=language)
        ContractLinkFactory(member=member)
    client.force_login(members["ja-easy"])
    switch(client, utility, "ja-easy", "/")
    page = client.get(reverse("billing:notice", args=[utility.slug, notice.pk])).content.decode()
    assert page.count(TYPED) == 4  # <title>, <h1>, the body, the contact block
    assert '<html lang="ja"' in page and "<ruby>" in page  # in やさしい日本語
    assert "<ruby>漢字" not in page and "漢字(かんじ)" not in page
    tasks.mail_notice(notice.pk)
    mails = {m.to[0]: m for m in mail.outbox}
    for member in members.values():
        assert TYPED in mails[member.email].subject
        assert mails[member.email].body.count(TYPED) == 3  # title, body, contact block


def test_on_an_english_page_a_notice_and_the_contact_block_are_marked_japanese(client, utility):
    """F6 (part): a screen reader reads what staff typed with a Japanese voice (WCAG 3.1.2)."""
    utility.contact_block = "水道課 電話 01654-2-0000"
    utility.save()
    notice = make_notice(utility, title="断水のお知らせ", body="12月10日に断水します。\n夜まで")
    member = MemberFactory(utility=utility)
    ContractLinkFactory(member=member)
    client.force_login(member)
    switch(client, utility, "en", "/")
    page = client.get(reverse("billing:notice", args=[utility.slug, notice.pk])).content.decode()
    assert '<h1><span lang="ja">断水のお知らせ</span></h1>' in page
    assert '<span lang="ja">12月10日に断水します。<br>夜まで</span>' in page
    assert (
        '<p class="contact-block" lang="ja">水道課 電話 <a href="tel:' in page
    )  # a block: the voice switches
    assert "<title>断水のお知らせ |" in page  # no markup in <title>
    listing = client.get(reverse("billing:notice_list", args=[utility.slug])).content.decode()
    assert '<span lang="ja">断水のお知らせ</span></a>' in listing
    switch(client, utility, "ja", "/")
    page = client.get(reverse("billing:notice", args=[utility.slug, notice.pk])).content.decode()
    assert "<h1>断水のお知らせ</h1>" in page
