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
                "%(address)s あてのメール「%(subject)s」をお届けできませんでした"
                "(メールサーバーの応答: %(reply)s)。会員情報でメールアドレスをご確認ください。"
            )
            % {"address": mail.recipient, "subject": mail.subject, "reply": mail.last_error},
        )
    OutboxMail.objects.filter(pk__in=[mail.pk for mail in failed]).update(
        member_told_at=timezone.now()
    )


# What a member reads in 会員情報 for a mail that finally failed: the server's reply in plain
# words, and what to do about it. Matched on the reply's enhanced status code (RFC 3463) first,
# then its basic code; a mail that failed without a reply (the relay unreachable) is ours.
_ADDRESS, _FULL, _REFUSED, _TEMPORARY, _OURS = "address", "full", "refused", "temporary", "ours"


def _kind(reply: str) -> str:
    parts = reply.split()
    code = parts[0] if parts and parts[0].isdigit() and len(parts[0]) == 3 else ""
    enhanced = parts[1] if code and len(parts) > 1 and parts[1][:2] in ("4.", "5.") else ""
    if not code:
        return _OURS
    if code.startswith("4"):
        return _TEMPORARY
    if enhanced.startswith("5.1.") or code in ("550", "551", "553"):
        return (
            _FULL if enhanced == "5.2.2" else _REFUSED if enhanced.startswith("5.7.") else _ADDRESS
        )
    if enhanced == "5.2.2" or code == "552":
        return _FULL
    return _REFUSED


def _words(kind: str) -> tuple[str, str]:
    return {
        _ADDRESS: (
            _(
                "受け取る側のメールサーバーから、このメールアドレスあてには届けられないと返事がありました。"
            ),
            _("メールアドレスに誤りがないかご確認ください。誤っていれば変更してください。"),
        ),
        _FULL: (
            _("受け取る側のメールボックスがいっぱいで、届けられませんでした。"),
            _("メールボックスの空きを確保してください。"),
        ),
        _REFUSED: (
            _("受け取る側のメールサーバーに受け取りを断られました。"),
            _(
                "迷惑メール対策などで受信を制限している場合は、差出人 %(sender)s からのメールを"
                "受け取れるよう設定してください。メールアドレスに誤りがないかもご確認ください。"
            ),
        ),
        _TEMPORARY: (
            _(
                "受け取る側のメールサーバーが受け取れない状態が続き、何度お送りしても届けられませんでした。"
            ),
            _(
                "メールアドレスに誤りがないかご確認ください。続くときはお問い合わせ先へご連絡ください。"
            ),
        ),
        _OURS: (
            _("こちらのメール送信の不具合で、お届けできませんでした。"),
            _("お手数ですが、お問い合わせ先へご連絡ください。"),
        ),
    }[kind]


def failed_mails(member: Member, limit: int = 10) -> list[dict]:
    """The mails to ``member`` that finally failed, newest first, as 会員情報 lists them."""
    mails = OutboxMail.objects.filter(member=member, status=OutboxMail.Status.FAILED)
    listed = []
    for mail in mails.select_related("utility").order_by("-failed_at", "-pk")[:limit]:
        kind = _kind(mail.last_error)
        reason, advice = _words(kind)
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
