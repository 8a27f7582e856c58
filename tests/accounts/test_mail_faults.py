"""The mail server down or refusing at each step that sends mail (issues #7, #18).

Every mail goes through the outbox: the step is done and the page says the mail will arrive;
a server that is down or answers 4xx gets the mail later; one that refuses it for good (5xx)
leaves it failed, in the member's history for staff and told to the member at the next login.
"""

from __future__ import annotations

from http import HTTPStatus

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import EmailChallenge, Member, MemberEvent
from portal.models import OutboxMail
from tests.conftest import PASSWORD
from tests.factories import MemberFactory, UtilityFactory
from tests.helpers import (
    REFUSED_FOR_GOOD,
    refuse_mail,
    refuse_mail_for_good,
    send_waiting_mail,
)

pytestmark = pytest.mark.django_db


def url(utility, name: str) -> str:
    return reverse(f"accounts:{name}", args=[utility.slug])


@pytest.mark.parametrize("code_style", [False, True], ids=["link", "code"])
def test_email_change_with_mail_down_is_accepted_and_the_proof_arrives_later(
    client, mailoutbox, monkeypatch, code_style
):
    utility = UtilityFactory(code_style=code_style) if code_style else UtilityFactory()
    member = MemberFactory(utility=utility, email="old@example.jp")
    client.force_login(member)
    data = {
        "current_password": "suido2026",
        "new_email": "new@example.jp",
        "new_email_confirm": "new@example.jp",
    }
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        response = client.post(url(utility, "profile_email"), data)
    # Accepted: the next step, not 「送信できませんでした」.
    assert response.status_code == HTTPStatus.FOUND
    assert EmailChallenge.objects.filter(member=member).exists()
    member.refresh_from_db()
    assert member.email == "old@example.jp"
    waiting = OutboxMail.objects.get(recipient="new@example.jp")
    assert waiting.status == OutboxMail.Status.PENDING
    assert "mail server is down" in waiting.last_error
    assert not mailoutbox
    # The server is back: the sweep sends the proof to the new address, once.
    send_waiting_mail()
    send_waiting_mail()
    assert [mail.to for mail in mailoutbox] == [["new@example.jp"]]


def test_reset_request_with_mail_down_shows_the_same_page_and_the_code_follows(
    client, mailoutbox, monkeypatch
):
    utility = UtilityFactory(code_style=True)
    MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        down = client.post(url(utility, "recovery"), {"email": "taro@example.jp"})
    unknown = client.post(url(utility, "recovery"), {"email": "nobody@example.jp"})
    # No enumeration: the answer is the same for a mail that waits and an unknown address.
    assert down.status_code == unknown.status_code == HTTPStatus.FOUND
    assert down["Location"] == unknown["Location"]
    assert not mailoutbox
    send_waiting_mail(minutes=1)
    assert [mail.to for mail in mailoutbox] == [["taro@example.jp"]]


def test_withdrawal_with_mail_down_still_withdraws_and_the_notice_follows(
    client, monkeypatch, mailoutbox
):
    utility = UtilityFactory()
    member = MemberFactory(utility=utility)
    client.force_login(member)
    client.post(url(utility, "profile_withdraw"), {"current_password": PASSWORD})
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        response = client.post(url(utility, "profile_withdraw_confirm"))
    assert response.status_code == HTTPStatus.FOUND
    member.refresh_from_db()
    assert member.status == Member.Status.WITHDRAWN
    send_waiting_mail()
    assert mailoutbox[-1].to == [member.email]
    assert "退会" in mailoutbox[-1].subject


def test_a_mail_refused_for_good_is_in_the_history_and_told_once_at_the_next_login(
    client, monkeypatch, mailoutbox
):
    utility = UtilityFactory(code_style=True)  # logs in with the email address
    member = MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    client.force_login(member)
    data = {
        "current_password": PASSWORD,
        "password": "Mizu&2027ab",
        "password_confirm": "Mizu&2027ab",
    }
    with monkeypatch.context() as patch:
        refuse_mail_for_good(patch)
        response = client.post(url(utility, "profile_password"), data)
    assert response.status_code == HTTPStatus.FOUND  # the password is changed all the same
    failed = OutboxMail.objects.get(member=member)
    assert failed.status == OutboxMail.Status.FAILED
    assert failed.attempts == 1  # a 5xx is not tried again
    assert failed.last_error == REFUSED_FOR_GOOD
    assert failed.body == ""  # nothing kept that the mail said
    event = MemberEvent.objects.get(member=member, action="mail_failed")
    assert event.detail == {"mail": "password_changed", "reply": REFUSED_FOR_GOOD}
    # The member hears of it on the first page after the next login, and only then.
    client.logout()
    login = {"identifier": "taro@example.jp", "password": "Mizu&2027ab"}
    response = client.post(url(utility, "login"), login, follow=True)
    assertContains(response, "taro@example.jp あてのメール「")
    assertContains(
        response,
        "をお届けできませんでした。受け取る側のメールサーバーから、"
        "このメールアドレスあてには届けられないと返事がありました。",
    )
    assertNotContains(response, "5.1.1")  # the server's words are for staff (a19 F1)
    client.logout()
    response = client.post(url(utility, "login"), login, follow=True)
    assertNotContains(response, "をお届けできませんでした")


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (
            "500 Error: (AttributeError) 'Session' object has no attribute 'transport'",
            "受け取る側のメールサーバーに受け取りを断られました。",
        ),
        ("ConnectionRefusedError: [Errno 111] Connection refused", "当方の送信の不具合"),
    ],
)
def test_the_banner_after_login_gives_the_reason_in_plain_japanese_not_the_servers_words(
    client, reply, reason
):
    """a19 F1: the banner quoted the relay's English reply or a Python exception."""
    utility = UtilityFactory(code_style=True)
    member = MemberFactory(utility=utility, login_id="", email="taro@example.jp")
    OutboxMail.objects.create(
        utility=utility,
        member=member,
        recipient=member.email,
        template="accounts/password_changed",
        key="k",
        sender="s <s@example.jp>",
        subject="パスワード変更のお知らせ",
        status=OutboxMail.Status.FAILED,
        last_error=reply,
    )
    login = {"identifier": "taro@example.jp", "password": PASSWORD}
    response = client.post(url(utility, "login"), login, follow=True)
    assertContains(response, "「パスワード変更のお知らせ」をお届けできませんでした。")
    assertContains(response, reason)
    assertNotContains(response, "Error")
