"""A utility's password rule: one wording wherever a password is chosen, one message when refused.

The seed cities come from fixtures/utilities.json, so their own rules are what is checked.
"""

from __future__ import annotations

import datetime
import re
from html import unescape
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.management import call_command
from django.test import Client
from pytest_django.asserts import assertNotContains, assertRedirects

from accounts.forms.recovery import NewPasswordForm
from portal import normalize
from portal.models import Utility
from tests.factories import ContractLinkFactory, CustomerFactory, MemberFactory
from tests.helpers import reach_code_details, reach_details, url

pytestmark = pytest.mark.django_db

EMAIL = "taro@example.jp"
SIGNUP_EMAIL = "mizu@example.jp"
CURRENT = {"kanazawa": "kanazawa2026", "nayoro": "Nayoro#2026"}
# A password that meets everything each seed city's pages say, and nothing more.
MEETS_WHAT_IS_SHOWN = {"kanazawa": "mizu2027ab", "nayoro": "Mizu&2027ab"}
RESET_LINK_RE = re.compile(r"https?://\S+(/\S+/recovery/link/\S+/)")
RESET_CODE_RE = re.compile(r"認証コード: (\d{6})")


@pytest.fixture(autouse=True)
def _daytime(time_machine):
    """10:00 in Japan: inside Kanazawa's hours (07:00〜02:00)."""
    time_machine.move_to(datetime.datetime(2026, 4, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo")))


@pytest.fixture
def seeds(db) -> dict[str, Utility]:
    call_command("loaddata", "utilities", verbosity=0)
    return {u.slug: u for u in Utility.objects.all()}


def _member(utility: Utility, email: str = EMAIL):
    member = MemberFactory(
        utility=utility,
        login_id="" if utility.logs_in_with_email else email.partition("@")[0],
        email=email,
        password=CURRENT[utility.slug],
        secret_question="food",
        secret_answer_hash=make_password(normalize.secret_answer("バナナ")),
    )
    ContractLinkFactory(member=member)
    return member


def shown_rule(response) -> str:
    """Return what a page says beside and under its password field, without tags."""
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    start = html.index('<label for="id_password">')
    block = html[start : html.index('<label for="id_password_confirm">', start)]
    parts = [
        re.search(r'<span class="field__note">(.*?)</span>', block, re.S),
        re.search(r'id="id_password_helptext">(.*?)</p>', block, re.S),
    ]
    return "\n".join(unescape(p.group(1).replace("<br>", "\n")) for p in parts if p)


def signup_page(client: Client, utility: Utility, mailoutbox):
    if utility.verification == Utility.Verification.CODE:
        reach_code_details(client, utility, mailoutbox, SIGNUP_EMAIL)
    else:
        reach_details(client, utility, mailoutbox, SIGNUP_EMAIL)
    return client.get(url("signup_details", utility))


def profile_page(client: Client, utility: Utility, member):
    client.force_login(member)
    return client.get(url("profile_password", utility))


def recovery_page(client: Client, utility: Utility, member, mailoutbox):
    if utility.asks_secret_question:
        client.post(
            url("recovery", utility),
            {"email": member.email, "customer_number": member.contracts.get().number},
        )
        client.post(url("recovery_question", utility), {"answer": "バナナ"})
        client.get(RESET_LINK_RE.search(mailoutbox[-1].body).group(1))
    else:
        client.post(url("recovery", utility), {"email": member.email})
        code = RESET_CODE_RE.search(mailoutbox[-1].body).group(1)
        client.post(url("recovery_code", utility), {"code": code})
    return client.get(url("recovery_password", utility))


def signup_details(utility: Utility, contract, password: str) -> dict:
    both = {"password": password, "password_confirm": password, "phone": contract.phone}
    if utility.verification == Utility.Verification.CODE:
        return {
            **both,
            "name": "水道太郎",
            "customer_number": contract.number,
            "name_kana": contract.name_kana,
            "agree_terms": "on",
            "agree_privacy": "on",
            "relation": "self",
            "payment_method": "keep",
        }
    return {
        **both,
        "customer_number": contract.number,
        "name": contract.name,
        "address": contract.address,
        "login_id": "mizutaro",
        "secret_question": "food",
        "secret_answer": "バナナ",
        "tax_declaration": "no",
        "referral": "slip",
    }


# Finding 4: one wording, true to the check ---------------------------------------------------


@pytest.mark.parametrize("slug", ["nayoro", "kanazawa"])
def test_every_page_that_chooses_a_password_shows_the_same_rule_and_accepts_what_it_says(
    seeds, slug, mailoutbox
):
    utility = seeds[slug]
    changes, forgets = _member(utility), _member(utility, "hanako@example.jp")
    signup, profile, recovery = Client(), Client(), Client()
    rules = [
        shown_rule(signup_page(signup, utility, mailoutbox)),
        shown_rule(profile_page(profile, utility, changes)),
        shown_rule(recovery_page(recovery, utility, forgets, mailoutbox)),
    ]
    assert rules[0] and rules == [rules[0]] * 3, rules

    password = MEETS_WHAT_IS_SHOWN[slug]
    contract = CustomerFactory(utility=utility)
    confirm = signup.post(
        url("signup_confirm", utility), signup_details(utility, contract, password)
    )
    assert confirm.status_code == HTTPStatus.OK
    assert "form" not in confirm.context, confirm.context["form"].errors  # ⑦ / 3/4 shown
    changed = profile.post(
        url("profile_password", utility),
        {"current_password": CURRENT[slug], "password": password, "password_confirm": password},
    )
    assertRedirects(changed, url("profile", utility))
    reset = recovery.post(
        url("recovery_password", utility), {"password": password, "password_confirm": password}
    )
    assertRedirects(reset, url("recovery_done", utility))


def test_nayoro_lists_the_guides_four_kinds_and_checks_exactly_those(seeds, mailoutbox):
    nayoro = seeds["nayoro"]
    rule = shown_rule(signup_page(Client(), nayoro, mailoutbox))
    # Seed 003 ⑤ (and issue 15): the guide's own sentence and list ①〜④, then its ※ note.
    assert rule == (
        "パスワードは必ず以下の4種類を含めたものとしてください。\n"
        "①半角英数字8文字以上\n"
        "②アルファベット大文字\n"
        "③アルファベット小文字\n"
        "④記号(例:!?#$&()-_)\n"
        "※使用可能な記号は例示のものに限ります"
    )
    # What the list says is what is checked: a password meeting ①〜④ without a digit is
    # accepted (it was refused with 「数字を含めてください」, a kind the list never names).
    member = MemberFactory.build(utility=nayoro, login_id="", email=EMAIL)
    validate_password("Suidou#Nayoro", member)


# Finding 6: one message that says what to fix --------------------------------------------


def password_errors(utility: Utility, password: str, **member) -> list[str]:
    """Return the messages the new-password form gives beside its password field."""
    member = MemberFactory.build(utility=utility, **member)
    form = NewPasswordForm({"password": password, "password_confirm": password}, member=member)
    assert not form.is_valid()
    return form.errors["password"]


@pytest.mark.parametrize(
    ("slug", "password", "message"),
    [
        # Too short and lacking a digit: the rule says both, Django's length message does not
        # come too, nor the common-password one (「abc」 is in its list).
        ("kanazawa", "abc", "パスワードは8〜16文字にし、英字と数字の両方を含めてください。"),
        ("kanazawa", "abcdefghijk", "パスワードには英字と数字の両方を含めてください。"),
        ("kanazawa", "mizu2025abcdefghi", "パスワードは8〜16文字にしてください。"),
        (
            "kanazawa",
            "Mizu2025ab",
            "パスワードは半角の小文字英字と数字で入力してください(記号・大文字は使えません)。",
        ),
        (
            "kanazawa",
            "ｍｉｚｕ２０２５ａｂ",
            "全角文字は使えません。半角の小文字英字と数字で入力してください。",
        ),
        ("kanazawa", "mizu 2025ab", "パスワードに空白は使えません。"),
        # Typed in full width: only that, not four more saying upper, lower, digit and symbol
        # are missing (they are there, in full width).
        (
            "nayoro",
            "Ａｂｃ１２３４５＃",
            "全角文字は使えません。半角の英数字と記号(!?#$&()-_)で入力してください。",
        ),
        (
            "nayoro",
            "abc",
            "パスワードは8文字以上にし、アルファベット大文字、記号(!?#$&()-_)を含めてください。",
        ),
        ("nayoro", "Ny#2025", "パスワードは半角8文字以上にしてください。"),
        ("nayoro", "nayoro#2025", "パスワードにアルファベット大文字を含めてください。"),
        ("nayoro", "Nayoro2025", "パスワードに記号(!?#$&()-_)を含めてください。"),
        (
            "nayoro",
            "Nayoro@2025%",
            "使用できる記号は !?#$&()-_ のみです(「@」「%」は使えません)。",
        ),
    ],
)
def test_a_refused_password_gets_one_message_that_says_what_to_fix(seeds, slug, password, message):
    assert password_errors(seeds[slug], password) == [message]


@pytest.mark.parametrize(
    ("slug", "password", "member", "message"),
    [
        ("kanazawa", "password1", {}, "よく使われていて推測されやすい"),
        ("nayoro", "Password1!", {}, "よく使われていて推測されやすい"),
        ("kanazawa", "suidotaro1", {"login_id": "suidotaro"}, "ログインIDと似ている"),
        ("nayoro", "Suido#12", {"email": "suido@example.jp"}, "メールアドレスと似ている"),
    ],
)
def test_common_and_look_alike_passwords_that_meet_the_rule_stay_refused(
    seeds, slug, password, member, message
):
    errors = password_errors(seeds[slug], password, **member)
    assert len(errors) == 1 and message in errors[0], errors


def test_signup_shows_one_message_for_a_short_password(seeds, mailoutbox):
    kanazawa, client = seeds["kanazawa"], Client()
    signup_page(client, kanazawa, mailoutbox)
    contract = CustomerFactory(utility=kanazawa)
    response = client.post(
        url("signup_confirm", kanazawa), signup_details(kanazawa, contract, "abc")
    )
    assert response.context["form"].errors["password"] == [
        "パスワードは8〜16文字にし、英字と数字の両方を含めてください。"
    ]
    assertNotContains(response, "短すぎます")
    assertNotContains(response, "一般的すぎます")


def test_nayoro_signup_shows_only_the_full_width_message(seeds, mailoutbox):
    nayoro, client = seeds["nayoro"], Client()
    signup_page(client, nayoro, mailoutbox)
    contract = CustomerFactory(utility=nayoro)
    response = client.post(
        url("signup_confirm", nayoro), signup_details(nayoro, contract, "Ａｂｃ１２３４５＃")
    )
    assert response.context["form"].errors["password"] == [
        "全角文字は使えません。半角の英数字と記号(!?#$&()-_)で入力してください。"
    ]
    assertNotContains(response, "を含めてください")
