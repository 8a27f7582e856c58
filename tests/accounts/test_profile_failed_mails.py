"""会員情報 lists the mails to the member that finally failed (issue 18): when, which, why in
plain Japanese, and what to do."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from portal.models import OutboxMail
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
Status = OutboxMail.Status


def mail(member, subject: str, status=Status.FAILED, reply: str = "", **extra) -> OutboxMail:
    return OutboxMail.objects.create(
        utility=member.utility,
        member=member,
        recipient=member.email,
        template="accounts/password_changed",
        key=f"test:{subject}",
        sender="x <noreply@city.example.jp>",
        subject=subject,
        status=status,
        last_error=reply,
        failed_at=datetime(2026, 4, 1, 2, 5, tzinfo=ZoneInfo("UTC"))
        if status == "failed"
        else None,
        **extra,
    )


def profile(client, user):
    return client.get(reverse("accounts:profile", args=[user.utility.slug]))


def test_a_failed_mail_shows_when_which_why_and_what_to_do(logged_in_client, user):
    mail(
        user, "【見本】パスワード変更のお知らせ", reply="550 5.1.1 <taro@example.jp>: No such user"
    )
    page = profile(logged_in_client, user)
    assertContains(page, "お届けできなかったメール")
    assertContains(page, '2026年4月1日</span> <span class="nowrap">11:05')  # Japan time
    assertContains(page, "【見本】パスワード変更のお知らせ")
    assertContains(page, "このメールアドレスあてには届けられないと返事がありました。")
    assertContains(
        page, "メールアドレスに誤りがないかご確認ください。誤っていれば変更してください。"
    )
    assertContains(page, "メールアドレスを変更する")
    assertNotContains(page, "No such user")  # the server's words are for staff


@pytest.mark.parametrize(
    ("reply", "reason", "advice"),
    [
        ("552 5.2.2 Mailbox full", "メールボックスがいっぱい", "空きを確保"),
        ("554 5.7.1 Rejected as spam", "受け取りを断られました", "noreply@city.example.jp"),
        ("451 4.7.1 Greylisted", "何度お送りしても届けられませんでした", "お問い合わせ先"),
        ("ConnectionRefusedError: [Errno 111]", "当方の送信の不具合", "お問い合わせ先"),
    ],
)
def test_each_kind_of_failure_reads_in_plain_words(logged_in_client, user, reply, reason, advice):
    mail(user, "件名", reply=reply)
    page = profile(logged_in_client, user)
    assertContains(page, reason)
    assertContains(page, advice)


def test_only_this_members_failed_mails_are_listed(logged_in_client, user):
    mail(user, "届いたメール", status=Status.SENT)
    mail(user, "送信待ちのメール", status=Status.PENDING)
    mail(MemberFactory(utility=user.utility), "ほかの人のメール", reply="550 5.1.1 x")
    page = profile(logged_in_client, user)
    assertNotContains(page, "お届けできなかったメール")
    assertNotContains(page, "ほかの人のメール")
