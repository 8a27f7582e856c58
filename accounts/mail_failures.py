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
    failed = OutboxMail.objects.filter(
        member=member, status=OutboxMail.Status.FAILED, member_told_at__isnull=True
    )
    for mail in failed.order_by("created_at"):
        messages.warning(
            request,
            _(
                "%(address)s あてのメール「%(subject)s」をお届けできませんでした"
                "(メールサーバーの応答: %(reply)s)。会員情報でメールアドレスをご確認ください。"
            )
            % {"address": mail.recipient, "subject": mail.subject, "reply": mail.last_error},
        )
    failed.update(member_told_at=timezone.now())
