"""A mail that finally failed (portal.outbox) is told to staff and to the member.

Staff read it in the member's history (「メール送信失敗(メール: …、メールサーバーの応答: 550 …)」)
and in 送信メール; the member reads it once, on the next page after logging in.
"""

from __future__ import annotations

from django.contrib import messages
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from portal import mailreasons
from portal.models import OutboxMail
from portal.outbox import mail_failed

from .models import Member, MemberEvent


@receiver(mail_failed, dispatch_uid="accounts.mail_failures.record")
def record_failure(sender, mail: OutboxMail, **kwargs) -> None:
    if mail.member_id is None:
        return
    MemberEvent.objects.create(
        member_id=mail.member_id,
        action="mail_failed",
        detail={"mail": mail.template.rpartition("/")[2], "reply": mail.last_error},
    )


def tell_failed_mails(request: HttpRequest, member: Member) -> None:
    """Say once, after login, which mails to this member could not be delivered."""
    failed = list(
        OutboxMail.objects.filter(
            member=member, status=OutboxMail.Status.FAILED, member_told_at__isnull=True
        ).order_by("created_at")
    )
    if not failed:  # as at almost every login: one query, nothing to mark
        return
    for mail in failed:
        messages.warning(
            request,
            _(
                "%(address)s あてのメール「%(subject)s」をお届けできませんでした。%(reason)s"
                "詳しくは会員情報の「お届けできなかったメール」をご覧ください。"
            )
            % {
                "address": mail.recipient,
                "subject": mail.subject,
                "reason": mailreasons.reason(mail.last_error),
            },
        )
    OutboxMail.objects.filter(pk__in=[mail.pk for mail in failed]).update(
        member_told_at=timezone.now()
    )


# What to do about a mail that finally failed, by the kind of its reply (portal.mailreasons).
_ADDRESS, _FULL, _REFUSED, _TEMPORARY, _OURS = (
    mailreasons.ADDRESS,
    mailreasons.FULL,
    mailreasons.REFUSED,
    mailreasons.TEMPORARY,
    mailreasons.OURS,
)


def _advice(kind: str) -> str:
    return {
        _ADDRESS: _("メールアドレスに誤りがないかご確認ください。誤っていれば変更してください。"),
        _FULL: _("メールボックスの空きを確保してください。"),
        _REFUSED: _(
            "迷惑メール対策などで受信を制限している場合は、差出人 %(sender)s からのメールを"
            "受け取れるよう設定してください。メールアドレスに誤りがないかもご確認ください。"
        ),
        _TEMPORARY: _(
            "メールアドレスに誤りがないかご確認ください。続くときはお問い合わせ先へご連絡ください。"
        ),
        _OURS: _("お手数ですが、お問い合わせ先へご連絡ください。"),
    }[kind]


def failed_mails(member: Member, limit: int = 10) -> list[dict]:
    """The mails to ``member`` that finally failed, newest first, as 会員情報 lists them."""
    mails = OutboxMail.objects.filter(member=member, status=OutboxMail.Status.FAILED)
    listed = []
    for mail in mails.select_related("utility").order_by("-failed_at", "-pk")[:limit]:
        kind = mailreasons.kind(mail.last_error)
        reason, advice = mailreasons.reason(mail.last_error), _advice(kind)
        listed.append(
            {
                "failed_at": mail.failed_at or mail.created_at,
                "subject": mail.subject,
                "recipient": mail.recipient,
                "reason": reason,
                "advice": advice % {"sender": mail.utility.sender_email}
                if kind == _REFUSED
                else advice,
                "change_address": kind != _OURS,
            }
        )
    return listed
