"""What every account flow shares: mail errors, the record staff read, "not started"."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable

from django.http import HttpRequest

from ..audit import log_event
from ..models import Member, MemberEvent

logger = logging.getLogger("accounts.services")

# What the mail backends raise when the server refuses or cannot be reached.
MAIL_ERRORS = (smtplib.SMTPException, OSError)


class MailNotSent(Exception):
    """The mail server refused the mail or could not be reached; nothing was saved."""


class NotStarted(Exception):
    """This session holds no step of the flow (or it is too old): start again."""


def send_or_raise(send: Callable[[], None]) -> None:
    """Send a mail the resident is waiting for; raise MailNotSent if it cannot go."""
    try:
        send()
    except MAIL_ERRORS as exc:
        logger.warning("mail could not be sent: %s", exc)
        raise MailNotSent from exc


def send_or_record(member: Member, mail: str, send: Callable[[], None]) -> bool:
    """Send a mail about a saved member; on failure, log it and record it for staff."""
    try:
        send()
    except MAIL_ERRORS:
        logger.exception("mail %s to member %s could not be sent", mail, member.pk)
        MemberEvent.objects.create(member=member, action="mail_failed", detail={"mail": mail})
        return False
    return True


def record_event(
    member: Member,
    action: str,
    *,
    actor: Member | None = None,
    by_portal: bool = False,
    request: HttpRequest | None = None,
    detail: dict | None = None,
) -> MemberEvent:
    """Record one change for staff (MemberEvent) and the audit log.

    The member acts unless ``actor`` (staff) is given; ``by_portal`` records no actor at all
    (an automatic approval, or what an anonymous visitor caused, as a recovery lockout).
    """
    detail = detail or {}
    log_event(action, request=request, member=member, **detail)
    if not by_portal:
        actor = actor or member
    return MemberEvent.objects.create(member=member, actor=actor, action=action, detail=detail)
