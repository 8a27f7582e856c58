"""Issue 22's leftovers: staff texts per language, English date ranges (each a user would notice)."""

from __future__ import annotations

import datetime
import html
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from accounts import emails
from moving.models import MovingText
from portal import furigana
from portal.models import Utility, UtilityText
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


# Texts staff type, per language ------------------------------------------------------------


def page_of(client, utility, language: str, name: str) -> str:
    switch(client, utility, language, "/")
    return client.get(reverse(name, args=[utility.slug])).content.decode()


def test_an_english_page_shows_the_english_terms_staff_gave(client, utility):
    UtilityText.objects.create(
        utility=utility, field="terms_text", language="en", text="Article 1 (Scope)"
    )
    english = page_of(client, utility, "en", "portal:terms")
    assert '<div class="document"><p>Article 1 (Scope)</p></div>' in english
    assert "第1条" not in english
    assert "第1条" in page_of(client, utility, "ja-easy", "portal:terms")  # none given there
    assert "Article 1" not in page_of(client, utility, "ja", "portal:terms")


def test_without_an_english_version_the_japanese_text_is_a_block_marked_japanese(client, utility):
    utility.privacy_text = "個人情報は大切に扱います。"
    utility.faq = "Q. 料金はいつ?\nA. 毎月です。"
    utility.save()
    assert '<div class="document" lang="ja"><p>個人情報は大切に扱います。</p></div>' in page_of(
        client, utility, "en", "portal:privacy"
    )
    assert '<section class="faq" lang="ja">' in page_of(client, utility, "en", "portal:faq")
    assert '<section class="faq">' in page_of(client, utility, "ja-easy", "portal:faq")


def test_an_easy_japanese_faq_is_shown_as_typed(client, utility):
    UtilityText.objects.create(
        utility=utility,
        field="faq",
        language="ja-easy",
        text="Q. ｜料金《りょうきん》は?\nA. まいつき です。",
    )
    easy = page_of(client, utility, "ja-easy", "portal:faq")
    assert "｜料金《りょうきん》は?" in easy and "<ruby>料金" not in easy
    assert "まいつき です。" in easy


def test_the_data_note_never_sits_inside_an_english_sentence(client):
    utility = UtilityFactory(languages=ALL, code_style=True)  # its guide's ⑨ quotes the note
    utility.data_delay_note = "照会は検針の翌営業日からです。"  # typed by staff
    utility.save()
    guide = page_of(client, utility, "en", "portal:guide")
    assert f'<p lang="ja">{utility.data_delay_note}</p>' in guide
    UtilityText.objects.create(
        utility=utility,
        field="data_delay_note",
        language="en",
        text="Usage and charges can be seen from the next business day.",
    )
    guide = page_of(client, Utility_reloaded(utility), "en", "portal:guide")
    assert "Usage and charges can be seen from the next business day." in guide
    assert utility.data_delay_note not in guide


def Utility_reloaded(utility):  # noqa: N802 - reads as what it gives
    return type(utility).objects.get(pk=utility.pk)


def test_an_english_mail_puts_the_japanese_note_on_its_own_line(
    django_capture_on_commit_callbacks, mailoutbox
):
    utility = UtilityFactory(languages=ALL, code_style=True)
    utility.data_delay_note = "照会は検針の翌営業日からです。"  # typed by staff
    utility.save()
    member = MemberFactory(utility=utility, language="en")
    with django_capture_on_commit_callbacks(execute=True):
        emails.send_signup_complete(member)
    lines = mailoutbox[-1].body.splitlines()
    assert utility.data_delay_note in lines  # alone on its line, after the English sentence
    UtilityText.objects.create(
        utility=utility, field="contact_block", language="en", text="Water Bureau 0165-42-1234"
    )
    member = MemberFactory(utility=type(utility).objects.get(pk=utility.pk), language="en")
    with django_capture_on_commit_callbacks(execute=True):
        emails.send_signup_complete(member)
    assert "Water Bureau 0165-42-1234" in mailoutbox[-1].body


def test_the_days_a_move_is_not_taken_give_their_reason_in_english(client, utility):
    settings = utility.moving_settings
    path = reverse("moving:move_out", args=[utility.slug])
    settings.closed_dates = "12/29-1/3 年末年始休業\n2027-05-06 臨時休業"  # typed by staff
    settings.save()
    switch(client, utility, "en", "/")
    english = text_of(client.get(path).content.decode())
    assert "年末年始" not in english and "臨時休業" not in english  # not spliced in
    MovingText.objects.create(
        settings=settings,
        field="closed_dates",
        language="en",
        text="12/29-1/3 New Year holidays\n2027-05-06 Office closed",
    )
    english = text_of(client.get(path).content.decode())
    assert "29 Dec \u2013 3 Jan (New Year holidays), 6 May 2027 (Office closed)" in english


def test_a_closed_days_version_keeps_the_japanese_days(utility):
    version = MovingText(
        settings=utility.moving_settings, field="closed_dates", language="en", text="12/30 Closed"
    )
    with pytest.raises(ValidationError) as caught:
        version.full_clean()
    assert "同じ日付" in caught.value.messages[0]


def test_a_moving_text_staff_gave_in_english_is_shown(client, utility):
    MovingText.objects.create(
        settings=utility.moving_settings,
        field="move_out_text",
        language="en",
        text="Apply when you stop using water.",
    )
    settings = utility.moving_settings
    settings.move_in_text = "新しいお住まいで使い始める日の3日前までにお申し込みください。"
    settings.save()
    english = page_of(client, utility, "en", "moving:index")
    assert "<p>Apply when you stop using water.</p>" in english
    assert '<p lang="ja">新しいお住まいで' in english  # the move-in text, not given in English


def test_a_version_given_shows_at_once_on_a_kept_usage_page(client, utility):
    utility.data_delay_note = "照会は検針の翌営業日からです。"  # typed by staff
    utility.save()
    member = MemberFactory(utility=utility)  # no contract yet: the page says when data comes
    client.force_login(member)
    switch(client, utility, "en", "/")
    path = reverse("billing:dashboard", args=[utility.slug])
    assert utility.data_delay_note in client.get(path).content.decode()
    UtilityText.objects.create(
        utility=utility, field="data_delay_note", language="en", text="Data shows a day later."
    )
    assert "Data shows a day later." in client.get(path).content.decode()


# The demo's texts (fixtures/utilities.json) ------------------------------------------------


@pytest.fixture
def demo(db):
    call_command("loaddata", "utilities", verbosity=0)
    return {u.slug: u for u in Utility.objects.all()}


@pytest.mark.parametrize("slug", ["kanazawa", "nayoro"])
@pytest.mark.parametrize("name", ["portal:faq", "portal:terms", "portal:guide"])
def test_the_demo_cities_texts_are_given_in_both_other_languages(client, demo, slug, name):
    for language in ("en", "ja-easy"):
        page = page_of(client, demo[slug], language, name)
        assert '<section class="faq" lang="ja">' not in page
        assert '<div class="document" lang="ja">' not in page
        assert '<p lang="ja">' not in page  # the guide's data note


def test_the_english_faq_names_the_link_as_the_english_page_does(client, demo):
    with translation.override("en"):
        link = translation.gettext("メールが届かない場合はこちら")
    assert f"“{link}”" in html.unescape(page_of(client, demo["nayoro"], "en", "portal:faq"))
    with translation.override("ja-easy"):
        easy = furigana.to_text(translation.gettext("メールが届かない場合はこちら"))
    assert f"「{easy}」" in page_of(client, demo["nayoro"], "ja-easy", "portal:faq")


def test_the_portals_own_texts_left_as_they_came_are_said_in_each_language(client, utility):
    """Texts staff never changed are the portal's words, not theirs: its catalogs say them."""
    english = page_of(client, utility, "en", "moving:index")
    assert "Apply when you start using water at your new home." in english
    assert "新しいお住まい" not in english
    switch(client, utility, "en", "/")
    form = text_of(client.get(reverse("moving:move_out", args=[utility.slug])).content.decode())
    assert "29 Dec \u2013 3 Jan (New Year holidays)" in form and "年末年始" not in form
    coded = UtilityFactory(languages=ALL, code_style=True)  # its guide's ⑨ quotes the note
    guide = text_of(page_of(client, coded, "en", "portal:guide"))
    assert "Usage and charges can be viewed from one business day after the reading." in guide
    easy = page_of(client, utility, "ja-easy", "moving:index")
    assert "｜家《いえ》" not in easy and "<ruby>家<rp>(</rp><rt>いえ</rt>" in easy
