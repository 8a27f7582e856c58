from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from tests.factories import UtilityFactory
from tests.helpers import decode_inline_qr

pytestmark = pytest.mark.django_db


def test_index_lists_every_utility_with_a_link_to_its_login(client):
    first = UtilityFactory(portal_name="金沢市上下水道ポータルサイト")
    second = UtilityFactory(portal_name="名寄市上下水道ポータル")
    response = client.get(reverse("index"))
    assertContains(response, f'href="/{first.slug}/"')
    assertContains(response, "名寄市上下水道ポータル")
    assertContains(response, f'href="/{second.slug}/"')


def test_unknown_utility_is_a_japanese_404(client):
    response = client.get("/no-such-city/")
    assert response.status_code == HTTPStatus.NOT_FOUND
    assertContains(response, "ページが見つかりません", status_code=404)
    assertContains(response, '<html lang="ja">', status_code=404)


def test_unknown_page_under_a_utility_is_a_japanese_404(client, utility):
    response = client.get(f"/{utility.slug}/no-such-page/")
    assertContains(response, "ページが見つかりません", status_code=404)


@pytest.mark.parametrize("name", ["offices", "inquiry", "faq", "terms", "privacy", "guide"])
def test_information_pages_are_public_and_carry_the_seed_header(client, utility, name):
    response = client.get(reverse(f"portal:{name}", args=[utility.slug]))
    assert response.status_code == HTTPStatus.OK
    for words in ["お客さま窓口一覧", "メールでのお問い合わせ", "FAQ", utility.portal_name]:
        assertContains(response, words)
    assertContains(response, "見本市水道局お客さまサービス課")  # contact block in the footer


def test_faq_shows_questions_and_answers(client):
    utility = UtilityFactory(
        faq="Q.番号はどこ?\nA.検針票に記載しています。\nQ.時間は?\nA.毎日です。"
    )
    response = client.get(reverse("portal:faq", args=[utility.slug]))
    assertContains(response, "Q. 番号はどこ?")
    assertContains(response, "検針票に記載しています。")
    assertContains(response, "Q. 時間は?")


def test_inquiry_page_links_the_utilitys_address_or_gives_the_phone_desk(client):
    with_mail = UtilityFactory(inquiry_email="toiawase@city.example.jp")
    response = client.get(reverse("portal:inquiry", args=[with_mail.slug]))
    assertContains(response, 'href="mailto:toiawase@city.example.jp"')
    without = UtilityFactory(inquiry_email="")
    response = client.get(reverse("portal:inquiry", args=[without.slug]))
    assertNotContains(response, "mailto:")
    assertContains(response, "お電話で")


def test_terms_page_shows_the_utilitys_terms(client, utility):
    response = client.get(reverse("portal:terms", args=[utility.slug]))
    assertContains(
        response, f'<h1><span class="phrase">{utility.portal_name}</span>利用規約</h1>', html=True
    )
    assertContains(response, "本規約は本サービスの利用に適用されます。")


@pytest.mark.parametrize("url_name", ["accounts:login", "portal:guide"])
def test_qr_code_decodes_to_the_exact_login_url(client, utility, url_name, settings):
    settings.ALLOWED_HOSTS = ["portal.example.jp"]
    response = client.get(reverse(url_name, args=[utility.slug]), HTTP_HOST="portal.example.jp")
    html = response.content.decode()
    assert decode_inline_qr(html) == f"http://portal.example.jp/{utility.slug}/"
    assert "<img" not in html.split("<svg", 1)[1].split("</svg>", 1)[0]  # inline, no file


def test_guide_follows_the_utilitys_signup_style(client):
    link_style = UtilityFactory(sender_email="noreply@ep-r.jp")
    response = client.get(reverse("portal:guide", args=[link_style.slug]))
    assertContains(response, "「会員登録する」ボタンをクリック")
    assertContains(response, "(@ep-r.jp)")
    code_style = UtilityFactory(code_style=True)
    response = client.get(reverse("portal:guide", args=[code_style.slug]))
    assertContains(response, "「初めての方はこちら」")
    assertContains(response, "認証コードの有効時間は30分です。")


def test_guide_has_an_a4_print_stylesheet(client, utility):
    response = client.get(reverse("portal:guide", args=[utility.slug]))
    assertContains(response, 'media="print"')


def test_healthz_answers_ok(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == HTTPStatus.OK
    assert response.content == b"ok"


def test_every_page_is_japanese_with_one_h1(client, utility):
    for url in [reverse("index"), reverse("accounts:login", args=[utility.slug])]:
        html = client.get(url).content.decode()
        assert '<html lang="ja">' in html
        assert html.count("<h1") == 1
