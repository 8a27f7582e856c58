"""Pages that say a mail or a code was sent keep the guides' words and add, the same in both
cities, that a mail may take a few minutes and what to do if it does not come (issue 18)."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from tests.factories import UtilityFactory

DELAY = (
    "メールが届くまでに数分かかることがあります。10分ほどたっても届かないときは、"
    "迷惑メールのフォルダをご確認のうえ、もう一度お手続きいただくか、お問い合わせ先へご連絡ください。"
)
# Each page with the guide's words it keeps.
PAGES = {
    "accounts/signup_sent.html": "ご指定のメールアドレスにメールをお送りしました。",
    "accounts/recovery_sent.html": "URLをお送りしました。メールが届くのを待ってください。",
    "accounts/recovery_code.html": "認証コードをお送りしました。",
    "accounts/profile_email_sent.html": "確認用のURLをお送りしました。",
    "accounts/profile_email_code.html": "認証コードをお送りしました。",
    "accounts/signup_code.html": "本人確認のためご指定のメールアドレス宛に認証コードを送信します。",
}


@pytest.mark.django_db
@pytest.mark.parametrize("template", sorted(PAGES))
@pytest.mark.parametrize("city", ["kanazawa", "nayoro"])
def test_a_sent_page_says_a_mail_may_take_minutes_and_what_to_do(template, city):
    utility = UtilityFactory(slug=city, code_style=city == "nayoro")
    request = RequestFactory().get("/")
    request.utility = utility
    context = {"utility": utility, "email": "taro@example.jp", "form": None, "code_form": None}
    html = render_to_string(template, context, request=request)
    assert PAGES[template] in html
    assert html.count(DELAY) == 1
