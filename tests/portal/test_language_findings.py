"""Issue 22's outside attack (a22): what a resident or a utility's staff would notice."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import translation
from pytest_django.asserts import assertContains, assertNotContains

from accounts.services.staff import ensure_staff_group
from portal.models import UtilityText
from tests.factories import StaffFactory, UtilityFactory
from tests.portal.test_locale import ALL, switch

pytestmark = pytest.mark.django_db

STALE_IN_ADMIN = "日本語の文章が、この言語版の保存後に変わりました"


@pytest.fixture(autouse=True)
def _japanese_after():
    yield
    translation.activate("ja")  # a client's last English request leaves English active


@pytest.fixture
def utility(db):
    return UtilityFactory(languages=ALL, faq="Q. 料金はいつ?\nA. 毎月です。")


def staff_of(client, utility):
    staff = StaffFactory(utility=utility)
    staff.groups.add(ensure_staff_group())
    client.force_login(staff)
    return staff


def test_utility_staff_give_an_english_faq_and_see_when_the_japanese_one_moved_on(client, utility):
    staff_of(client, utility)
    url = reverse("admin:portal_utility_change", args=[utility.pk])
    page = client.get(url)
    assertContains(page, "文章の他の言語版")
    assertContains(page, 'name="text_versions-TOTAL_FORMS"')

    UtilityText.objects.create(
        utility=utility, field="faq", language="en", text="Q. When?\nA. Every month."
    )
    assertNotContains(client.get(url), STALE_IN_ADMIN)
    utility.faq += "\nQ. 断水は?\nA. お知らせします。"
    utility.save()
    assertContains(client.get(url), STALE_IN_ADMIN)


def test_staff_see_moving_texts_in_other_languages(client, utility):
    staff_of(client, utility)
    page = client.get(
        reverse("admin:moving_movingsettings_change", args=[utility.moving_settings.pk])
    )
    assertContains(page, "文章の他の言語版")
    assertContains(page, 'name="text_versions-TOTAL_FORMS"')


def test_an_english_faq_older_than_the_japanese_one_says_so_with_a_way_to_it(client, utility):
    UtilityText.objects.create(
        utility=utility, field="faq", language="en", text="Q. When?\nA. Every month."
    )
    faq = reverse("portal:faq", args=[utility.slug])
    switch(client, utility, "en", "/")
    assertNotContains(client.get(faq), "The Japanese page")
    utility.faq += "\nQ. 断水は?\nA. お知らせします。"
    utility.save()
    page = client.get(faq)
    assertContains(page, "The Japanese page has been updated since this English version")
    assertContains(page, f'name="next" value="{faq}"')
    assertContains(page, 'name="language" value="ja"')
    assertContains(page, "Every month.")  # the version still shows, with the note
    switch(client, utility, "ja", "/")
    assertNotContains(client.get(faq), "この言語版")


# F2: the password field's show/hide button --------------------------------------------------


def test_the_password_button_takes_its_words_from_the_page_in_each_language(client, utility):
    login = reverse("accounts:login", args=[utility.slug])
    switch(client, utility, "en", "/")
    english = client.get(login).content.decode()
    assert 'data-show-label="Show the characters you typed"' in english
    assert '<span data-word="show">Show</span>' in english
    assert '<span data-word="hide">Hide</span>' in english
    assert "入力した文字" not in english and "表示" not in english
    switch(client, utility, "ja-easy", "/")
    easy = client.get(login).content.decode()
    assert "<ruby>表示<rp>(</rp><rt>ひょうじ</rt>" in easy  # the word shows its reading
    assert 'data-show-label="入力した文字を表示する"' in easy  # read aloud: no reading in it
    switch(client, utility, "ja", "/")
    assert '<span data-word="hide">隠す</span>' in client.get(login).content.decode()


def test_the_password_script_holds_no_words_of_its_own():
    from django.contrib.staticfiles import finders

    script = open(finders.find("js/password-toggle.js"), encoding="utf-8").read()
    code = "\n".join(
        line for line in script.splitlines() if not line.lstrip().startswith(("/*", "*"))
    )
    assert not re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", code)


# F1: Japanese words inside English pages are marked lang="ja" ----------------------------------

JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff01-\uff60]")


class _UnmarkedJapanese(HTMLParser):
    """Text in <body> with Japanese in it and no lang="ja" element around it."""

    VOID = {"br", "img", "input", "meta", "link", "hr", "wbr", "source", "col", "area"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.found: list[str] = []
        self.in_body = False

    def handle_starttag(self, tag, attrs):
        if tag == "body":
            self.in_body = True
        if tag in self.VOID:
            return
        lang = dict(attrs).get("lang") or (self.stack[-1][1] if self.stack else "en")
        self.stack.append((tag, lang))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        inside = {tag for tag, _lang in self.stack}
        if not self.in_body or inside & {"script", "style", "template", "option", "title"}:
            return
        lang = self.stack[-1][1] if self.stack else "en"
        if lang != "ja" and JAPANESE.search(data):
            self.found.append(data.strip())


def unmarked_japanese(page: str) -> list[str]:
    parser = _UnmarkedJapanese()
    parser.feed(page)
    return parser.found


def test_an_english_page_marks_the_utilitys_japanese_words(client, utility):
    from tests.factories import ContractLinkFactory, MemberFactory

    utility.customer_number_label = "お客様番号"
    utility.save()
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    client.force_login(member)
    switch(client, utility, "en", "/")
    for name, args in [
        ("accounts:profile_contract_add", [utility.slug]),
        ("accounts:profile", [utility.slug]),
        ("billing:dashboard", [utility.slug]),
        ("billing:history", [utility.slug, link.customer.number]),
    ]:
        page = client.get(reverse(name, args=args)).content.decode()
        assert '<span lang="ja">お客様番号</span>' in page, name
        assert unmarked_japanese(page) == [], name


def test_the_usage_csv_in_english_names_the_number_in_english_with_the_slips_word(client, utility):
    from tests.factories import ContractLinkFactory, MemberFactory

    utility.customer_number_label = "お客様番号"
    utility.save()
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    client.force_login(member)
    switch(client, utility, "en", "/")
    response = client.get(reverse("billing:history_csv", args=[utility.slug, link.customer.number]))
    header = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()[0]
    assert header.startswith("Customer number (お客様番号),Usage period (start)")


def test_an_english_signup_sent_empty_asks_for_the_email_in_english(client, utility):
    switch(client, utility, "en", "/")
    page = client.post(reverse("accounts:signup", args=[utility.slug]), {"agree": "on"})
    text = page.content.decode()
    assert "メールアドレスを入力してください" not in text
    assert "Enter your email address" in text or "Email address" in text


# F4: English typography ----------------------------------------------------------------------


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))


def test_english_usage_pages_space_their_brackets_and_sentences(client, utility):
    from tests.billing.test_usage_views import add_history
    from tests.factories import ContractLinkFactory, MemberFactory

    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    add_history(link.customer, [18, 20, 22, 19, 21, 24, 20, 25])
    client.force_login(member)
    switch(client, utility, "en", "/")
    dashboard = text_of(
        client.get(reverse("billing:dashboard", args=[utility.slug])).content.decode()
    )
    assert re.search(r"\d{4} \(\d+ days\)", dashboard)
    assert re.search(r"m³ \(about [\d,]+ litres\)", dashboard)
    history = client.get(
        reverse("billing:history", args=[utility.slug, link.customer.number])
    ).content.decode()
    assert re.search(r"m³\. The same period a year earlier", history)
    switch(client, utility, "ja", "/")
    japanese = text_of(
        client.get(reverse("billing:dashboard", args=[utility.slug])).content.decode()
    )
    assert re.search(r"日\(\d+日間\)", japanese)  # Japanese joins as it did


def test_the_english_closed_page_says_the_opening_in_the_hours_style(client, utility):
    import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    utility.opens_at, utility.closes_at = datetime.time(7, 0), datetime.time(2, 0)
    utility.save()
    switch(client, utility, "en", "/")
    moment = datetime.datetime(2026, 12, 7, 3, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    with time_machine.travel(moment, tick=False):
        page = text_of(client.get(reverse("accounts:login", args=[utility.slug])).content.decode())
    assert "7:00 am \u2013 2:00 am every day" in page
    assert "again from 7 Dec 7:00 am." in page


def test_the_english_account_page_names_the_fixed_rows_as_a_list(client, utility):
    from tests.factories import MemberFactory

    member = MemberFactory(utility=utility, name_kana="スイドウ タロウ")
    utility.name_is_nickname = True
    utility.asks_address = False
    utility.save()
    client.force_login(member)
    switch(client, utility, "en", "/")
    page = text_of(client.get(reverse("accounts:profile", args=[utility.slug])).content.decode())
    assert "To change your name in katakana and phone number, please contact us." in page
