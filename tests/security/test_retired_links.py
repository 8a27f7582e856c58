"""A mailed link or code dies when what it was mailed for changes (issue 14, item 5).

The attack as it was done: request a reset (Kanazawa: address + number → secret answer →
mailed link), then change the address or the password in 会員情報, then open the old link.
"""

from __future__ import annotations

import re
from http import HTTPStatus

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Member
from portal import normalize
from tests.conftest import PASSWORD
from tests.factories import ContractLinkFactory, MemberFactory, StaffFactory, UtilityFactory
from tests.helpers import last_code

pytestmark = pytest.mark.django_db

RESET_LINK_RE = re.compile(r"https?://testserver(/\S+/recovery/link/\S+/)")
EMAIL_LINK_RE = re.compile(r"https?://testserver(/\S+/account/email/link/\S+/)")
CODE_RE = re.compile(r"認証コード: (\d{6})")
NEW_PASSWORD = "mizu2027new"


def url(utility, name: str) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug])


@pytest.fixture
def member(utility):
    member = MemberFactory(
        utility=utility,
        login_id="suidotaro",
        email="taro@example.jp",
        secret_question="food",
        secret_answer_hash=make_password(normalize.secret_answer("バナナ")),
    )
    ContractLinkFactory(member=member, customer__number="10000000000001")
    return member


def mailed_reset_link(utility, mailoutbox) -> str:
    """The intruder's (or the forgetful resident's) browser: 「ログインID/パスワードを忘れた方」."""
    browser = Client()
    browser.post(
        url(utility, "recovery"), {"email": "taro@example.jp", "customer_number": "10000000000001"}
    )
    browser.post(url(utility, "recovery_question"), {"answer": "バナナ"})
    return RESET_LINK_RE.search(mailoutbox[-1].body).group(1)


def open_and_set(link: str, utility) -> tuple[object, object]:
    browser = Client()
    opened = browser.get(link, follow=True)
    posted = browser.post(
        url(utility, "recovery_password"),
        {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD},
    )
    return opened, posted


def assert_dead(link: str, utility, member) -> None:
    opened, posted = open_and_set(link, utility)
    assert opened.status_code == HTTPStatus.BAD_REQUEST
    assert "お手続きを続けられません" in opened.content.decode()
    assert posted.status_code == HTTPStatus.BAD_REQUEST
    member.refresh_from_db()
    assert not member.check_password(NEW_PASSWORD)


def test_a_reset_link_works_when_nothing_changed(utility, member, mailoutbox):
    link = mailed_reset_link(utility, mailoutbox)
    _opened, posted = open_and_set(link, utility)
    assert posted.status_code == HTTPStatus.FOUND
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)


def test_a_reset_link_dies_when_the_password_is_changed_in_the_profile(utility, member, mailoutbox):
    link = mailed_reset_link(utility, mailoutbox)
    resident = Client()
    resident.force_login(member)
    response = resident.post(
        url(utility, "profile_password"),
        {"current_password": PASSWORD, "password": "kawaru2027", "password_confirm": "kawaru2027"},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert_dead(link, utility, member)


def test_a_reset_link_dies_when_the_address_is_changed_in_the_profile(utility, member, mailoutbox):
    link = mailed_reset_link(utility, mailoutbox)
    resident = Client()
    resident.force_login(member)
    resident.post(
        url(utility, "profile_email"),
        {
            "current_password": "suido2026",
            "new_email": "new@example.jp",
            "new_email_confirm": "new@example.jp",
        },
    )
    confirm = EMAIL_LINK_RE.search(mailoutbox[-1].body).group(1)
    resident.get(confirm)
    assert resident.post(url(utility, "profile_email_confirm")).status_code == HTTPStatus.FOUND
    member.refresh_from_db()
    assert member.email == "new@example.jp"
    assert_dead(link, utility, member)


def test_a_reset_link_dies_when_the_secret_answer_changes(utility, member, mailoutbox):
    link = mailed_reset_link(utility, mailoutbox)
    resident = Client()
    resident.force_login(member)
    response = resident.post(
        url(utility, "profile_secret"),
        {"current_password": PASSWORD, "secret_question": "pet", "secret_answer": "ポチ"},
    )
    assert response.status_code == HTTPStatus.FOUND
    assert_dead(link, utility, member)


def test_a_reset_link_dies_when_staff_change_the_address(utility, member, mailoutbox):
    link = mailed_reset_link(utility, mailoutbox)
    staff = StaffFactory(utility=utility, is_superuser=True)
    admin = Client()
    admin.force_login(staff)
    page = reverse("admin:accounts_member_change", args=[member.pk])
    data = {
        "status": member.status,
        "utility": utility.pk,
        "login_id": member.login_id,
        "email": "moved@example.jp",
        "name": member.name,
        "phone": member.phone,
        "secret_question": member.secret_question,
        "contract_links-TOTAL_FORMS": "0",
        "contract_links-INITIAL_FORMS": "0",
        "contract_requests-TOTAL_FORMS": "0",
        "contract_requests-INITIAL_FORMS": "0",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    assert admin.post(page, data).status_code == HTTPStatus.FOUND
    assert_dead(link, utility, member)


def test_a_pending_address_change_dies_when_the_password_changes(utility, member, mailoutbox):
    resident = Client()
    resident.force_login(member)
    resident.post(
        url(utility, "profile_email"),
        {
            "current_password": "suido2026",
            "new_email": "new@example.jp",
            "new_email_confirm": "new@example.jp",
        },
    )
    confirm = EMAIL_LINK_RE.search(mailoutbox[-1].body).group(1)
    resident.post(
        url(utility, "profile_password"),
        {"current_password": PASSWORD, "password": "kawaru2027", "password_confirm": "kawaru2027"},
    )
    resident.get(confirm)
    response = resident.post(url(utility, "profile_email_confirm"))
    assert response.status_code == HTTPStatus.BAD_REQUEST
    member.refresh_from_db()
    assert member.email == "taro@example.jp"


def test_a_reset_code_dies_when_the_member_withdraws(mailoutbox):
    nayoro = UtilityFactory(code_style=True)
    member = MemberFactory(utility=nayoro, login_id="", email="taro@example.jp")
    browser = Client()
    browser.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    code = CODE_RE.search(mailoutbox[-1].body).group(1)
    resident = Client()
    resident.force_login(member)
    resident.post(url(nayoro, "profile_withdraw"), {"current_password": PASSWORD})
    resident.post(url(nayoro, "profile_withdraw_confirm"))
    member.refresh_from_db()
    assert member.status == Member.Status.WITHDRAWN
    response = browser.post(url(nayoro, "recovery_code"), {"code": code})
    assert response.status_code != HTTPStatus.FOUND
    assert "recovery_password" not in response.get("Location", "")


# What a dead link or code says (the outside attack's minor finding) ----------------------

REPLACED = (
    "その後に新しいものをお送りしたか、パスワードやメールアドレスなどのご登録内容が変わったため"
)
TOO_MANY_WRONG = "認証コードを続けて間違えたため"


def test_a_superseded_reset_code_says_a_newer_one_was_sent(mailoutbox):
    nayoro = UtilityFactory(code_style=True)
    MemberFactory(utility=nayoro, login_id="", email="taro@example.jp")
    first, second = Client(), Client()
    first.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    old_code = CODE_RE.search(mailoutbox[-1].body).group(1)
    second.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})  # on the phone, say
    response = first.post(url(nayoro, "recovery_code"), {"code": old_code})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assertContains(response, REPLACED, status_code=HTTPStatus.BAD_REQUEST)
    assertNotContains(response, TOO_MANY_WRONG, status_code=HTTPStatus.BAD_REQUEST)


def test_a_reset_code_ended_by_a_password_change_says_the_account_changed(mailoutbox):
    nayoro = UtilityFactory(code_style=True)
    member = MemberFactory(utility=nayoro, login_id="", email="taro@example.jp")
    browser = Client()
    browser.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    code = CODE_RE.search(mailoutbox[-1].body).group(1)
    resident = Client()
    resident.force_login(member)
    resident.post(
        url(nayoro, "profile_password"),
        {
            "current_password": PASSWORD,
            "password": "Kawaru#2027",
            "password_confirm": "Kawaru#2027",
        },
    )
    response = browser.post(url(nayoro, "recovery_code"), {"code": code})
    assertContains(response, REPLACED, status_code=HTTPStatus.BAD_REQUEST)
    assertNotContains(response, TOO_MANY_WRONG, status_code=HTTPStatus.BAD_REQUEST)


def test_a_reset_code_typed_wrong_five_times_still_says_so(mailoutbox):
    nayoro = UtilityFactory(code_style=True)
    MemberFactory(utility=nayoro, login_id="", email="taro@example.jp")
    browser = Client()
    browser.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    code = CODE_RE.search(mailoutbox[-1].body).group(1)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        response = browser.post(url(nayoro, "recovery_code"), {"code": wrong})
    response = browser.post(url(nayoro, "recovery_code"), {"code": code})
    assertContains(response, TOO_MANY_WRONG, status_code=HTTPStatus.BAD_REQUEST)


def test_a_reset_link_ended_by_a_password_change_says_the_account_changed(
    utility, member, mailoutbox
):
    link = mailed_reset_link(utility, mailoutbox)
    resident = Client()
    resident.force_login(member)
    resident.post(
        url(utility, "profile_password"),
        {"current_password": PASSWORD, "password": "kawaru2027", "password_confirm": "kawaru2027"},
    )
    opened, _posted = open_and_set(link, utility)
    assertContains(opened, REPLACED, status_code=HTTPStatus.BAD_REQUEST)


def test_a_superseded_signup_code_says_a_newer_one_was_sent(settings, mailoutbox):
    settings.PORTAL_SIGNUP_CODE_COOLDOWN_SECONDS = 0
    nayoro = UtilityFactory(code_style=True)
    first, second = Client(), Client()
    first.post(url(nayoro, "signup"), {"email": "shinki@example.jp"})
    old_code = last_code(mailoutbox)
    second.post(url(nayoro, "signup"), {"email": "shinki@example.jp"})
    response = first.post(url(nayoro, "signup_code"), {"code": old_code})
    assertContains(response, "その後に新しい認証コードをお送りしたため")
    assertNotContains(response, "回間違えたため")
