"""Three languages for residents (issue 22): 日本語 by default, やさしい日本語 and English by the
switch on every page, remembered in a cookie and on a signed-in member, the admin always in
Japanese, and only the languages the utility offers."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.cache import has_vary_header
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Member
from accounts.services.review import approve_member
from billing.models import IssuedDocument
from portal.outbox import enqueue_mail
from tests.conftest import PASSWORD
from tests.factories import (
    ContractLinkFactory,
    MemberFactory,
    MeterReadingFactory,
    PaymentFactory,
    StaffFactory,
    UtilityFactory,
)
from tests.helpers import EMAIL, kanazawa_contract, sign_up

pytestmark = pytest.mark.django_db

ALL = "ja,ja-easy,en"
COOKIE = settings.LANGUAGE_COOKIE_NAME
PDF_NOTE_EN = "PDF documents are made in Japanese."


@pytest.fixture
def utility(db):
    return UtilityFactory(languages=ALL)


def login_page(utility) -> str:
    return reverse("accounts:login", args=[utility.slug])


def switch(client, utility, language: str, next_url: str):
    return client.post(
        reverse("accounts:set_language", args=[utility.slug]),
        {"language": language, "next": next_url},
    )


def test_japanese_whatever_the_browser_asks_until_the_resident_chooses(client, utility):
    response = client.get(login_page(utility), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "ja"
    assertContains(response, '<html lang="ja">')
    assertContains(response, "ログインID")
    assert not has_vary_header(response, "Accept-Language")  # no page varies by it
    assert has_vary_header(response, "Cookie")  # the language cookie


def test_the_switch_is_on_the_page_in_each_languages_own_name(client, utility):
    page = client.get(reverse("portal:faq", args=[utility.slug]) + "?q=1").content.decode()
    assert f'action="/{utility.slug}/language/"' in page
    assert 'name="next" value="/' + utility.slug + '/faq/?q=1"' in page
    assert (
        'value="ja" lang="ja" class="language-switch__choice" aria-pressed="true">日本語<' in page
    )
    assert (
        'value="ja-easy" lang="ja" class="language-switch__choice" aria-pressed="false">やさしい日本語<'
        in page
    )
    assert (
        'value="en" lang="en" class="language-switch__choice" aria-pressed="false">English<' in page
    )


def test_switching_to_english_comes_back_to_the_page_in_english(client, utility):
    response = switch(client, utility, "en", login_page(utility))
    assert response.status_code == 302
    assert response["Location"] == login_page(utility)
    cookie = response.cookies[COOKIE]
    assert cookie.value == "en"
    assert cookie["max-age"] == settings.LANGUAGE_COOKIE_AGE  # remembered, not for the session
    assert cookie["samesite"] == "Lax"
    page = client.get(login_page(utility))
    assert page["Content-Language"] == "en"
    assertContains(page, '<html lang="en">')
    assertContains(page, "Login ID")
    assertContains(page, 'value="en" lang="en" class="language-switch__choice" aria-pressed="true"')


def test_easy_japanese_is_lang_ja_with_ruby_readings(client, utility):
    switch(client, utility, "ja-easy", login_page(utility))
    page = client.get(login_page(utility))
    assert page["Content-Language"] == "ja"  # as <html lang>: ja-easy is no language tag
    assertContains(page, '<html lang="ja">')
    assertContains(page, "<ruby>忘<rp>(</rp><rt>わす</rt><rp>)</rp></ruby>")
    assertNotContains(page, "《")


def test_a_next_of_another_site_leads_to_the_utilitys_own_page(client, utility):
    response = switch(client, utility, "en", "https://evil.example/")
    assert response["Location"] == f"/{utility.slug}/"


def test_a_language_the_utility_does_not_offer_is_japanese(client):
    only_japanese = UtilityFactory(languages="ja")
    response = switch(client, only_japanese, "en", login_page(only_japanese))
    assert response.cookies[COOKIE].value == "ja"
    client.cookies[COOKIE] = "en"  # chosen at another utility of the platform
    page = client.get(login_page(only_japanese))
    assert page["Content-Language"] == "ja"
    assertContains(page, "ログインID")
    assertNotContains(page, "language-switch")  # nothing to choose


def test_an_unknown_language_in_the_cookie_is_japanese(client, utility):
    client.cookies[COOKIE] = "xx-evil"
    assert client.get(login_page(utility))["Content-Language"] == "ja"


def test_the_switch_works_while_the_portal_is_closed(client, utility):
    utility.opens_at, utility.closes_at = datetime.time(7), datetime.time(7, 0, 1)
    utility.save()
    response = switch(client, utility, "en", reverse("portal:guide", args=[utility.slug]))
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "en"


def test_the_admin_stays_japanese(client, utility):
    staff = StaffFactory(utility=utility)
    client.force_login(staff)
    client.cookies[COOKIE] = "en"
    response = client.get(reverse("admin:index"))
    assert response["Content-Language"] == "ja"
    assertContains(response, "管理メニュー")


def test_a_signed_in_members_choice_is_stored_and_used_for_their_mail(client, utility):
    member = MemberFactory(utility=utility)
    client.force_login(member)
    switch(client, utility, "en", reverse("accounts:profile", args=[utility.slug]))
    member.refresh_from_db()
    assert member.language == "en"
    with translation.override("ja"):  # a worker, or staff in the admin: Japanese around it
        enqueue_mail(
            utility, member.email, "accounts/member_approved", {"member": member}, member=member
        )
    [sent] = mail.outbox
    assert sent.subject == f"[{utility.portal_name}] How to check your water usage"
    assert Member.objects.get(pk=member.pk).outbox_mails.get().language == "en"


def test_a_mail_to_someone_who_is_no_member_is_in_the_pages_language(utility):
    with translation.override("ja-easy"):
        enqueue_mail(utility, "guest@example.jp", "accounts/member_approved", {})
    [sent] = mail.outbox
    assert "《" not in sent.subject + sent.body  # readings in brackets in a text mail
    assert "<ruby>" not in sent.body


def test_a_language_chosen_before_signing_in_becomes_the_members(client, utility):
    member = MemberFactory(utility=utility)
    switch(client, utility, "en", login_page(utility))
    client.post(login_page(utility), {"identifier": member.login_id, "password": PASSWORD})
    member.refresh_from_db()
    assert member.language == "en"


def test_signing_in_on_a_new_browser_brings_the_members_language(client, utility):
    member = MemberFactory(utility=utility, language="ja-easy")
    response = client.post(
        login_page(utility), {"identifier": member.login_id, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "ja-easy"
    member.refresh_from_db()
    assert member.language == "ja-easy"


def test_a_cached_dashboard_is_never_served_in_the_other_language(client, utility):
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    MeterReadingFactory(customer=link.customer, period_end=datetime.date(2026, 10, 25))
    client.force_login(member)
    dashboard = reverse("billing:dashboard", args=[utility.slug])
    for _ in range(2):  # the second one from the page cache
        assertContains(client.get(dashboard), "2026年10月25日")
    switch(client, utility, "en", dashboard)
    english = client.get(dashboard)
    assertContains(english, "25 Oct 2026")
    assertNotContains(english, "2026年10月25日")
    switch(client, utility, "ja", dashboard)
    assertContains(client.get(dashboard), "2026年10月25日")


def test_a_document_is_the_same_japanese_one_whatever_the_pages_language(client, utility):
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    end = datetime.date(2026, 10, 25)
    MeterReadingFactory(customer=link.customer, period_end=end)
    PaymentFactory(customer=link.customer, period_end=end)
    client.force_login(member)
    args = [utility.slug, link.customer.number, end]
    switch(client, utility, "en", "/")
    assertContains(client.get(reverse("billing:period", args=args)), PDF_NOTE_EN)
    english = client.get(reverse("billing:receipt_pdf", args=args))
    switch(client, utility, "ja", "/")
    assertNotContains(client.get(reverse("billing:period", args=args)), PDF_NOTE_EN)
    japanese = client.get(reverse("billing:receipt_pdf", args=args))
    assert english.status_code == japanese.status_code == 200
    # One issued certificate, not a revision per language: the same bytes, in Japanese.
    assert english.content == japanese.content
    assert IssuedDocument.objects.count() == 1


def test_an_anonymous_client_sees_japanese_again_without_the_cookie(utility):
    client = Client()
    switch(client, utility, "en", "/")
    client.cookies.pop(COOKIE)
    assert client.get(login_page(utility))["Content-Language"] == "ja"


def test_a_member_who_signed_up_in_english_is_approved_in_english(client, utility, mailoutbox):
    customer = kanazawa_contract(utility)
    switch(client, utility, "en", login_page(utility))
    sign_up(client, utility, mailoutbox, customer)
    member = Member.objects.get(email=EMAIL)
    assert member.language == "en"
    with translation.override("ja"):  # staff approve in the admin, which is Japanese
        approve_member(member, StaffFactory(utility=utility), "http://testserver/")
    assert mailoutbox[-1].subject == f"[{utility.portal_name}] How to check your water usage"


def test_easy_japanese_falls_back_to_japanese_where_it_has_no_words():
    assert translation.to_locale("ja-easy") == "ja_Easy"  # locale/ja_Easy/, which gettext finds
    with translation.override("ja-easy"):
        assert translation.gettext("どの言語にもない文") == "どの言語にもない文"
        # Django's own messages and our Japanese overrides of them (locale/ja/) come through.
        assert translation.gettext("Enter a valid date.") == "日付を正しく入力してください。"
        # Our own wording of Django's messages residents meet, in やさしい日本語 too.
        assert translation.gettext("Null characters are not allowed.").startswith(
            "｜使《つか》えない文字"
        )
    with translation.override("ja"):
        assert translation.gettext("Null characters are not allowed.").startswith(
            "使用できない文字(NUL文字)"
        )
    with translation.override("en"):
        assert translation.gettext("Null characters are not allowed.") == (
            "Null characters are not allowed."
        )


def test_the_usage_csv_follows_the_language_without_markup(client, utility):
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    MeterReadingFactory(customer=link.customer, period_end=datetime.date(2026, 10, 25))
    client.force_login(member)
    path = reverse("billing:history_csv", args=[utility.slug, link.customer.number])
    switch(client, utility, "ja-easy", "/")
    easy = b"".join(client.get(path).streaming_content).decode()
    assert "《" not in easy and "｜" not in easy
    header = easy.splitlines()[0]
    assert "検針日," in header and "(けんしんび)" not in header  # a column name, no reading
    switch(client, utility, "en", "/")
    english = b"".join(client.get(path).streaming_content).decode()
    assert "Reading date" in english.splitlines()[0]


def test_staff_choose_their_utilitys_languages_and_japanese_stays(client):
    from tests.portal.test_utility_mail_settings import posted, staff_of

    utility = UtilityFactory(slug="nayoro", customer_number_digits=11)
    client.force_login(staff_of(utility))
    url = f"/admin/portal/utility/{utility.pk}/change/"
    page = client.get(url)
    assertContains(page, "提供する言語")
    form = page.context["adminform"].form
    assert form["languages"].value() == ["ja"]
    response = client.post(url, posted(form, languages=["en"]))  # 日本語 unticked
    assert response.status_code == 302, response.context["adminform"].form.errors
    utility.refresh_from_db()
    assert utility.languages == "ja,en"
    assert utility.language_codes == ("ja", "en")
