"""What every account flow shares: the record staff read, "not started"."""

from __future__ import annotations

import logging

from django.http import HttpRequest

from ..audit import log_event
from ..models import Member, MemberEvent

logger = logging.getLogger("accounts.services")


class NotStarted(Exception):
    """This session holds no step of the flow (or it is too old): start again."""


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
