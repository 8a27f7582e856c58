"""Forgotten login ID or password: secret question (kanazawa-like) and email (nayoro-like)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from http import HTTPStatus
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.hashers import make_password
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from accounts.models import EmailChallenge, Member, MemberEvent
from accounts.services import recovery
from portal import normalize
from tests.conftest import PASSWORD
from tests.factories import ContractLinkFactory, MemberFactory, UtilityFactory
from tests.helpers import send_waiting_mail

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
START = datetime(2025, 4, 1, 9, 0, tzinfo=JST)
NEW_PASSWORD = "mizu2027new"
LINK_RE = re.compile(r"https?://\S+/recovery/link/\S+/")
CODE_RE = re.compile(r"認証コード: (\d{6})")


def url(utility, name: str, *args) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug, *args])


@pytest.fixture
def member(utility):
    """A kanazawa-like member: secret question 「あなたの一番好きな食べ物は何?」, answer バナナ."""
    member = MemberFactory(
        utility=utility,
        login_id="suidotaro",
        email="taro@example.jp",
        secret_question="food",
        secret_answer_hash=make_password(normalize.secret_answer("バナナ")),
    )
    ContractLinkFactory(member=member, customer__number="10000000000001")
    return member


@pytest.fixture
def nayoro():
    return UtilityFactory(code_style=True)


@pytest.fixture
def nayoro_member(nayoro):
    return MemberFactory(
        utility=nayoro, login_id="", email="taro@example.jp", password="Nayoro#2026"
    )


def identify(client, utility, email="taro@example.jp", number="10000000000001"):
    return client.post(url(utility, "recovery"), {"email": email, "customer_number": number})


def answer(client, utility, text):
    return client.post(url(utility, "recovery_question"), {"answer": text})


def set_password(client, utility, password=NEW_PASSWORD):
    return client.post(
        url(utility, "recovery_password"), {"password": password, "password_confirm": password}
    )


def can_log_in(client, utility, identifier, password) -> bool:
    client.post(url(utility, "login"), {"identifier": identifier, "password": password})
    return "_auth_user_id" in client.session


# Secret-question path ------------------------------------------------------------------------


def test_login_page_links_to_the_real_recovery(client, utility):
    response = client.get(url(utility, "login"))
    assertContains(response, f'href="{url(utility, "recovery")}"')
    response = client.get(url(utility, "recovery"))
    assertContains(response, "ログインID/パスワードを忘れた方")
    assertContains(response, '<label for="id_customer_number">ポータル登録番号', html=False)


def test_matching_details_show_the_secret_question(client, utility, member):
    response = identify(
        client, utility, email="TARO@example.jp", number="１０００ ００００ ０００００１"
    )
    assertRedirects(response, url(utility, "recovery_question"))
    response = client.get(url(utility, "recovery_question"))
    assertContains(response, "あなたの一番好きな食べ物は何?")
    assertContains(response, '<label for="id_answer">回答</label>', html=False)


@pytest.mark.parametrize(
    ("email", "number"),
    [
        ("nobody@example.jp", "10000000000001"),  # unknown address
        ("taro@example.jp", "10000000000099"),  # number not linked to the member
        ("nobody@example.jp", "10000000000099"),  # neither
    ],
)
def test_details_that_match_nobody_get_one_neutral_message(client, utility, member, email, number):
    response = identify(client, utility, email=email, number=number)
    assert response.status_code == HTTPStatus.OK
    assertContains(response, "入力内容に該当するお客さま情報を確認できませんでした。")
    assert recovery.RECOVERY_SESSION_KEY not in client.session


@pytest.mark.parametrize("status", [Member.Status.PENDING, Member.Status.WITHDRAWN])
def test_members_who_cannot_log_in_are_not_found(client, utility, member, status):
    Member.objects.filter(pk=member.pk).update(status=status)
    response = identify(client, utility)
    assertContains(response, "入力内容に該当するお客さま情報を確認できませんでした。")


def test_malformed_number_gets_a_field_message(client, utility, member):
    response = identify(client, utility, number="123")
    assertContains(response, "ポータル登録番号は半角数字14桁で入力してください。")


def test_lookups_are_rate_limited_per_client_address(client, utility, member, settings):
    settings.PORTAL_RECOVERY_LOOKUP_RATE_PER_IP = "3/h"
    for _ in range(3):
        identify(client, utility, email="nobody@example.jp")
    response = identify(client, utility)
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assertContains(response, "分ほどたってから", status_code=HTTPStatus.TOO_MANY_REQUESTS)


def test_question_page_without_matched_details_asks_to_start_again(client, utility):
    response = client.get(url(utility, "recovery_question"))
    assertContains(response, "最初からやり直す", status_code=HTTPStatus.BAD_REQUEST)


def test_right_answer_mails_the_login_id_and_a_link_and_shows_neither(
    client, utility, member, mailoutbox, time_machine
):
    time_machine.move_to(START, tick=False)
    identify(client, utility)
    response = answer(client, utility, "ばなな")  # hiragana, normalised as at signup
    assertRedirects(response, url(utility, "recovery_sent"))
    response = client.get(url(utility, "recovery_sent"))
    assertNotContains(response, "suidotaro")
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["taro@example.jp"]
    assert mail.subject == f"【{utility.portal_name}】ログインIDとパスワード再設定のご案内"
    assert "ログインID: suidotaro" in mail.body
    assert LINK_RE.search(mail.body)
    challenge = EmailChallenge.objects.get(member=member)
    assert challenge.purpose == EmailChallenge.Purpose.PASSWORD_RESET
    assert challenge.expires_at - challenge.created_at == timedelta(hours=1)
    assert MemberEvent.objects.filter(member=member, action="recovery_mail_sent").exists()


def test_wrong_answer_says_how_many_tries_are_left(client, utility, member, mailoutbox):
    identify(client, utility)
    response = answer(client, utility, "りんご")
    assertContains(response, "回答が正しくありません。あと4回")
    member.refresh_from_db()
    assert member.recovery_failures == 1
    assert mailoutbox == []


def test_five_wrong_answers_lock_recovery_for_thirty_minutes_and_mail_the_member(
    client, utility, member, mailoutbox, time_machine
):
    time_machine.move_to(START, tick=False)
    identify(client, utility)
    for _ in range(4):
        answer(client, utility, "りんご")
    response = answer(client, utility, "りんご")
    assertContains(response, "一時的に停止", status_code=HTTPStatus.TOO_MANY_REQUESTS)
    member.refresh_from_db()
    assert member.recovery_locked_until == START + timedelta(minutes=30)
    assert [m.subject for m in mailoutbox] == [
        f"【{utility.portal_name}】ログインID/パスワードのお問い合わせを一時停止しました"
    ]
    assert "9:30以降" in mailoutbox[0].body
    assert MemberEvent.objects.filter(member=member, action="recovery_locked").count() == 1

    # Still locked a minute before the end, even with the right answer and a fresh session.
    time_machine.move_to(START + timedelta(minutes=29), tick=False)
    client.cookies.clear()
    response = identify(client, utility)
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert len(mailoutbox) == 1

    # After thirty minutes the right answer works again.
    time_machine.move_to(START + timedelta(minutes=30, seconds=1), tick=False)
    assertRedirects(identify(client, utility), url(utility, "recovery_question"))
    assertRedirects(answer(client, utility, "バナナ"), url(utility, "recovery_sent"))


def test_the_count_lives_on_the_member_not_in_the_session(client, utility, member):
    for _ in range(5):
        client.cookies.clear()
        identify(client, utility)
        answer(client, utility, "りんご")
    member.refresh_from_db()
    assert member.recovery_locked_until is not None


def test_a_right_answer_resets_the_count(client, utility, member):
    identify(client, utility)
    answer(client, utility, "りんご")
    answer(client, utility, "バナナ")
    member.refresh_from_db()
    assert member.recovery_failures == 0


def test_mail_server_down_after_a_right_answer_is_accepted_and_the_link_arrives_later(
    client, utility, member, settings, mailoutbox
):
    backend = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "tests.accounts.test_recovery.FailingBackend"
    identify(client, utility)
    response = answer(client, utility, "バナナ")
    assertRedirects(response, reverse("accounts:recovery_sent", args=[utility.slug]))
    settings.EMAIL_BACKEND = backend  # the server is back
    send_waiting_mail()
    assert mailoutbox[-1].to == [member.email]
    assert LINK_RE.search(mailoutbox[-1].body)


class FailingBackend(BaseEmailBackend):
    """A mail backend (open and close as Django's) whose server is down."""

    def send_messages(self, messages):
        raise OSError("mail server down")


# The reset link and the new password ----------------------------------------------------------


def _reset_link(client, utility, mailoutbox) -> str:
    identify(client, utility)
    answer(client, utility, "バナナ")
    return LINK_RE.search(mailoutbox[-1].body).group(0)


def test_link_get_only_stashes_the_token_and_redirects_to_a_token_free_page(
    client, utility, member, mailoutbox
):
    link = _reset_link(client, utility, mailoutbox)
    response = client.get(link)
    assertRedirects(response, url(utility, "recovery_password"))
    assert EmailChallenge.objects.get(member=member).used_at is None
    response = client.get(url(utility, "recovery_password"))
    assertContains(response, "新しいパスワード")
    assertContains(response, "(半角小文字英数混在8〜16文字 ※記号以外)")


def test_new_password_is_set_once_and_a_notice_is_mailed(client, utility, member, mailoutbox):
    link = _reset_link(client, utility, mailoutbox)
    client.get(link)
    response = set_password(client, utility)
    assertRedirects(response, url(utility, "recovery_done"))
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert EmailChallenge.objects.get(member=member).used_at is not None
    assert mailoutbox[-1].subject == f"【{utility.portal_name}】パスワード変更のお知らせ"
    assert MemberEvent.objects.filter(member=member, action="password_reset").exists()
    # Used up: the same link again is refused.
    client.get(link)
    response = client.get(url(utility, "recovery_password"))
    assertContains(response, "既に使われたか", status_code=HTTPStatus.BAD_REQUEST)
    assert can_log_in(client, utility, "suidotaro", NEW_PASSWORD)


def test_new_password_follows_the_utility_rule(client, utility, member, mailoutbox):
    client.get(_reset_link(client, utility, mailoutbox))
    response = set_password(client, utility, "NoSymbols!!")
    assertContains(response, "半角の小文字英字と数字")
    response = client.post(
        url(utility, "recovery_password"),
        {"password": NEW_PASSWORD, "password_confirm": "other2027x"},
    )
    assertContains(response, "一致しません")
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_link_expires_after_an_hour(client, utility, member, mailoutbox, time_machine):
    time_machine.move_to(START, tick=False)
    link = _reset_link(client, utility, mailoutbox)
    time_machine.move_to(START + timedelta(hours=1, seconds=1), tick=False)
    client.get(link)
    response = client.get(url(utility, "recovery_password"))
    assertContains(response, "有効期限が切れています", status_code=HTTPStatus.BAD_REQUEST)


def test_tampered_link_is_refused(client, utility, member, mailoutbox):
    link = _reset_link(client, utility, mailoutbox)
    client.get(link[:-3] + "xx/")
    response = set_password(client, utility)
    assertContains(response, "正しくありません", status_code=HTTPStatus.BAD_REQUEST)
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_password_page_without_a_link_asks_to_start_again(client, utility):
    response = client.get(url(utility, "recovery_password"))
    assertContains(response, "最初からやり直す", status_code=HTTPStatus.BAD_REQUEST)


def test_new_password_signs_out_every_other_session(client, utility, member, mailoutbox):
    from django.test import Client

    other = Client()
    assert can_log_in(other, utility, "suidotaro", PASSWORD)
    dashboard = reverse("billing:dashboard", args=[utility.slug])
    assert other.get(dashboard).status_code == HTTPStatus.OK
    client.get(_reset_link(client, utility, mailoutbox))
    set_password(client, utility)
    response = other.get(dashboard)
    assert response.status_code == HTTPStatus.FOUND
    assert response.url.startswith(url(utility, "login"))


def test_new_password_lifts_a_login_lockout(client, utility, member, mailoutbox, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post(url(utility, "login"), {"identifier": "suidotaro", "password": "wrong-pass1"})
    client.get(_reset_link(client, utility, mailoutbox))
    set_password(client, utility)
    assert can_log_in(client, utility, "suidotaro", NEW_PASSWORD)


# Email-login path ------------------------------------------------------------------------------


def test_email_utility_asks_only_the_address(client, nayoro):
    response = client.get(url(nayoro, "login"))
    assertContains(response, "パスワードを忘れた場合はこちら")
    response = client.get(url(nayoro, "recovery"))
    assertContains(response, '<label for="id_email">メールアドレス</label>', html=False)
    assertNotContains(response, "id_customer_number")
    assertContains(response, "認証コードの送信")


def test_known_and_unknown_addresses_get_the_same_answer(client, nayoro, nayoro_member, mailoutbox):
    known = client.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    known_page = client.get(url(nayoro, "recovery_code"))
    client.cookies.clear()
    unknown = client.post(url(nayoro, "recovery"), {"email": "nobody@example.jp"})
    unknown_page = client.get(url(nayoro, "recovery_code"))
    assert known.status_code == unknown.status_code == HTTPStatus.FOUND
    assert known.url == unknown.url == url(nayoro, "recovery_code")
    strip = re.compile(rb"\(\S+@example\.jp\)|csrfmiddlewaretoken\" value=\"\w+")
    assert strip.sub(b"", known_page.content) == strip.sub(b"", unknown_page.content)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["taro@example.jp"]


def test_code_resets_the_password(client, nayoro, nayoro_member, mailoutbox, time_machine):
    time_machine.move_to(START, tick=False)
    client.post(url(nayoro, "recovery"), {"email": "Taro@Example.jp"})
    mail = mailoutbox[-1]
    assert mail.subject == f"【{nayoro.portal_name}】パスワード再設定の認証コードのお知らせ"
    code = CODE_RE.search(mail.body).group(1)
    challenge = EmailChallenge.objects.get(member=nayoro_member)
    assert code not in challenge.secret_hash
    assert challenge.expires_at - challenge.created_at == timedelta(minutes=30)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)
    response = client.post(url(nayoro, "recovery_code"), {"code": full_width})
    assertRedirects(response, url(nayoro, "recovery_password"))
    response = set_password(client, nayoro, "Mizu&2027new")
    assertRedirects(response, url(nayoro, "recovery_done"))
    assert can_log_in(client, nayoro, "taro@example.jp", "Mizu&2027new")


def test_code_dies_after_five_wrong_tries(client, nayoro, nayoro_member, mailoutbox):
    client.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    code = CODE_RE.search(mailoutbox[-1].body).group(1)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(4):
        response = client.post(url(nayoro, "recovery_code"), {"code": wrong})
        assertContains(response, "認証コードが正しくないか、有効期限が切れています。")
    response = client.post(url(nayoro, "recovery_code"), {"code": wrong})
    assertContains(response, "使えなくなりました", status_code=HTTPStatus.BAD_REQUEST)
    response = client.post(url(nayoro, "recovery_code"), {"code": code})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert EmailChallenge.objects.get(member=nayoro_member).attempts_left == 0


def test_unknown_address_runs_out_of_tries_like_a_known_one(client, nayoro, mailoutbox):
    client.post(url(nayoro, "recovery"), {"email": "nobody@example.jp"})
    for _ in range(4):
        response = client.post(url(nayoro, "recovery_code"), {"code": "123456"})
        assertContains(response, "認証コードが正しくないか、有効期限が切れています。")
    response = client.post(url(nayoro, "recovery_code"), {"code": "123456"})
    assertContains(response, "使えなくなりました", status_code=HTTPStatus.BAD_REQUEST)
    assert mailoutbox == []


def test_code_expires(client, nayoro, nayoro_member, mailoutbox, time_machine):
    time_machine.move_to(START, tick=False)
    client.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    code = CODE_RE.search(mailoutbox[-1].body).group(1)
    time_machine.move_to(START + timedelta(minutes=30, seconds=1), tick=False)
    response = client.post(url(nayoro, "recovery_code"), {"code": code})
    assertContains(response, "認証コードが正しくないか、有効期限が切れています。")


def test_reset_mails_are_rate_limited_per_address(
    client, nayoro, nayoro_member, mailoutbox, settings
):
    settings.PORTAL_RESET_MAIL_RATE_PER_EMAIL = "2/h"
    for _ in range(2):
        client.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    response = client.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert len(mailoutbox) == 2


def test_a_new_code_ends_the_old_one(client, nayoro, nayoro_member, mailoutbox):
    client.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    old = CODE_RE.search(mailoutbox[-1].body).group(1)
    client.post(url(nayoro, "recovery"), {"email": "taro@example.jp"})
    new = CODE_RE.search(mailoutbox[-1].body).group(1)
    if old != new:
        response = client.post(url(nayoro, "recovery_code"), {"code": old})
        assertContains(response, "認証コードが正しくないか")
    assertRedirects(
        client.post(url(nayoro, "recovery_code"), {"code": new}), url(nayoro, "recovery_password")
    )


def test_link_style_email_utility_mails_a_link(client, mailoutbox):
    utility = UtilityFactory(code_style=True, verification="link")
    member = MemberFactory(utility=utility, login_id="", email="hanako@example.jp")
    response = client.post(url(utility, "recovery"), {"email": "hanako@example.jp"})
    assertRedirects(response, url(utility, "recovery_sent"))
    mail = mailoutbox[-1]
    assert mail.subject == f"【{utility.portal_name}】パスワード再設定のご案内"
    assert "ログインID" not in mail.body.split("\n")[2]
    client.get(LINK_RE.search(mail.body).group(0))
    set_password(client, utility, "Mizu&2027new")
    member.refresh_from_db()
    assert member.check_password("Mizu&2027new")


def test_the_history_names_no_actor_for_what_an_anonymous_visitor_caused(
    client, utility, member, mailoutbox
):
    """Whoever is at 「ログインID/パスワードを忘れた方」 is not known to be the member: staff read
    the history's 操作した人, and the member did not stop their own recovery."""
    identify(client, utility)
    for _ in range(5):
        answer(client, utility, "リンゴ")
    assert MemberEvent.objects.get(member=member, action="recovery_locked").actor is None
    # Nor did a Nayoro member ask for the code that anyone typing their address gets mailed.
    nayoro = UtilityFactory(code_style=True)
    other = MemberFactory(utility=nayoro, login_id="", email="hanako@example.jp")
    Client().post(url(nayoro, "recovery"), {"email": "hanako@example.jp"})
    assert MemberEvent.objects.get(member=other, action="recovery_mail_sent").actor is None
