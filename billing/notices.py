"""お知らせ: who a notice reaches, what a member sees, and mailing an important one in batches.

A member sees a notice of their utility while it is published (掲載開始 passed, 掲載終了 not)
if it is for everyone, or one of their contracts is at an address starting with one of its
areas, or has one of its numbers. Mailing goes through the outbox, one row per member reached
(key ``notice:<notice id>:<member id>``), written ``PORTAL_NOTICE_MAIL_BATCH`` members at a
time, each batch a transaction of its own that moves the notice's cursor on: a 200,000-member
utility is 200 short tasks, and a batch run twice writes no mail twice.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from portal import normalize
from portal.models import Utility
from portal.outbox import enqueue_mail

from . import pagecache
from .models import Customer, Notice, NoticeRead, lines_of

logger = logging.getLogger("billing.notices")

# accounts.Member.Status.ACTIVE; billing never imports accounts (DESIGN.md).
ACTIVE = "active"
DASHBOARD_NOTICES = 5
# The login page folds its notices but shows only the first few: the form must stay in reach.
LOGIN_NOTICES = 3
# A batch that has not moved for this long was dropped (a worker killed): the sweep resumes it.
STALLED = timedelta(minutes=5)
MAX_AREAS = 200
MAX_NUMBERS = 10_000


@dataclass
class Shown:
    notice: Notice
    unread: bool


class Place(NamedTuple):
    """What ``Notice.reaches`` reads of a contract: kept per member in the cache."""

    number: str
    address: str


# Cached (billing/pagecache.py's generations), so that a dashboard served from the page cache
# costs no query for its お知らせ (issue 17): per utility, its notices not yet ended, moved on
# by every save or delete of one of them; per member, the notices read, moved on when one is
# read; per member, the contracts' numbers and addresses, under the readings generation
# (moved by every change of a contract or a link).
_NOTICES = "billing.notices:{}"
_NOTICES_GENERATION = "billing.notices_generation:{}"
_READS = "billing.notice_reads:{}"
_READS_GENERATION = "billing.notice_reads_generation:{}"
_PLACES = "billing.notice_places:{}"
# A member's generation unused for this long is dropped (its entries went an hour before).
MEMBER_GENERATION_SECONDS = 24 * 60 * 60
# Mailing moves these on a notice as it goes: nothing a member sees changes with them.
_MAILING_FIELDS = frozenset({"mail_cursor", "mail_touched_at", "mailed_at"})


def cache_entries(member, utility: Utility) -> list[tuple]:
    """What ``for_member`` reads from the cache, for ``pagecache.lookup_many``."""
    return [
        (_NOTICES_GENERATION.format(utility.pk), _NOTICES.format(utility.pk), None),
        (_READS_GENERATION.format(member.pk), _READS.format(member.pk), MEMBER_GENERATION_SECONDS),
        (pagecache.GENERATION_KEY, _PLACES.format(member.pk), None),
    ]


def for_member(member, utility: Utility, found: list | None = None) -> list[Shown]:
    """The notices ``member`` sees now, important and newest first, each with its 未読 mark.

    Every notice of the utility not yet ended is cached with the time it was read (publish
    and end times are compared with the clock here, so a notice whose publish time passes
    shows at once, without any save); so are the member's reads and contracts: a warm cache
    answers with no query at all. ``found``: ``lookup_many(cache_entries(...))`` when the
    caller already fetched them (with its own entries, in one round trip).
    """
    now = timezone.now()
    if found is None:
        found = pagecache.lookup_many(cache_entries(member, utility))
    (notices_gen, notices), (reads_gen, reads), (places_gen, places) = found
    if notices is None or now < notices[0]:  # (a clock behind the one that built the entry)
        notices = (now, list(Notice.objects.not_ended(utility, now)))
        pagecache.store(_NOTICES.format(utility.pk), notices_gen, notices)
    current = [n for n in notices[1] if n.is_published(now)]
    if not current:
        return []
    if reads is None:
        reads = frozenset(
            NoticeRead.objects.filter(member=member, notice__utility=utility).values_list(
                "notice_id", flat=True
            )
        )
        pagecache.store(_READS.format(member.pk), reads_gen, reads)
    if places is None and any(n.audience != Notice.Audience.ALL for n in current):
        places = [
            Place(*row)
            for row in member.contracts.filter(utility=utility).values_list("number", "address")
        ]
        pagecache.store(_PLACES.format(member.pk), places_gen, places)
    return [Shown(n, n.pk not in reads) for n in current if n.reaches(places or [])]


def connect_signals() -> None:
    """Move the notices' and reads' generations on whenever one is saved or deleted."""
    from django.db.models.signals import post_delete, post_save

    for signal in (post_save, post_delete):
        signal.connect(_notice_changed, sender=Notice, dispatch_uid="notices.Notice")
        signal.connect(_read_changed, sender=NoticeRead, dispatch_uid="notices.NoticeRead")


def _notice_changed(sender, instance: Notice, update_fields=None, **kwargs) -> None:
    if update_fields and _MAILING_FIELDS.issuperset(update_fields):
        return
    pagecache.move_on(_NOTICES_GENERATION.format(instance.utility_id))


def _read_changed(sender, instance: NoticeRead, **kwargs) -> None:
    pagecache.move_on(_READS_GENERATION.format(instance.member_id), MEMBER_GENERATION_SECONDS)


def public(utility: Utility) -> list[Notice]:
    """The first published notices staff put on the login page (important, then newest)."""
    return list(Notice.objects.current(utility, timezone.now()).filter(public=True)[:LOGIN_NOTICES])


def open_notice(member, utility: Utility, pk: int) -> Notice | None:
    """Return the notice if ``member`` may see it now, and mark it read."""
    shown = next((s for s in for_member(member, utility) if s.notice.pk == pk), None)
    if shown is None:
        return None
    if shown.unread:
        NoticeRead.objects.get_or_create(notice=shown.notice, member=member)
    return shown.notice


# Targets, as staff type them -----------------------------------------------------------------


def clean_areas(text: str) -> list[str]:
    """Each area as it is compared with a contract's address (NFKC, as the import keeps it)."""
    return [normalize.nfkc(line) for line in lines_of(text)]


def clean_numbers(text: str, digits: int = 0) -> tuple[list[str], list[str], list[int]]:
    """The numbers typed one a line (full-width digits and hyphens accepted), the lines that
    are no number, and the line numbers holding several (``digits`` long each, by spaces)."""
    numbers, bad, several = [], [], []
    for n, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        number = normalize.digits(line)
        parts = re.split(r"[\s,、]+", normalize.nfkc(line))
        if digits and len(parts) > 1 and len(number.replace(",", "").replace("、", "")) > digits:
            several.append(n)  # 「10000000000002 10000000000003」: two numbers, not one
        elif number.isascii() and number.isdigit():
            numbers.append(number)
        else:
            bad.append(line.strip())
    return list(dict.fromkeys(numbers)), bad, several


def areas_without_contracts(utility: Utility, areas: list[str]) -> list[str]:
    """The areas no contract of ``utility`` has an address in."""
    contracts = Customer.objects.filter(utility=utility)
    return [a for a in areas if not contracts.filter(address__startswith=a).exists()]


def unknown_numbers(utility: Utility, numbers: list[str]) -> list[str]:
    """The numbers that are no contract of ``utility``."""
    known: set[str] = set()
    for start in range(0, len(numbers), 1000):
        chunk = numbers[start : start + 1000]
        known.update(
            Customer.objects.filter(utility=utility, number__in=chunk).values_list(
                "number", flat=True
            )
        )
    return [n for n in numbers if n not in known]


# Mailing ---------------------------------------------------------------------------------------


def members_reached(notice: Notice) -> QuerySet:
    """The active members of the notice's utility it is aimed at, with an address to mail."""
    members = get_user_model().objects.filter(
        utility_id=notice.utility_id, status=ACTIVE, is_staff=False
    )
    if notice.audience != Notice.Audience.ALL:
        members = members.filter(pk__in=notice.target_contracts().values("members"))
    # 会員情報 → メールの受け取り: a member who said no to notices by mail gets none.
    if notice.utility.mail_notices_default:
        members = members.exclude(wants_notice_mail=False)
    else:
        members = members.filter(wants_notice_mail=True)
    return members.exclude(email="")


def is_due(notice: Notice, now) -> bool:
    return (
        notice.mail_members
        and notice.important
        and notice.mailed_at is None
        and notice.publish_at <= now
        and (notice.expire_at is None or notice.expire_at > now)
    )


def mail_batch(notice_id: int) -> bool:
    """Write the next batch of the notice's mails; return whether members are left."""
    size = settings.PORTAL_NOTICE_MAIL_BATCH
    now = timezone.now()
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update()
            .select_related("utility")
            .filter(pk=notice_id)
            .first()
        )
        if notice is None or not is_due(notice, now):
            return False
        members = list(
            members_reached(notice).filter(pk__gt=notice.mail_cursor).order_by("pk")[:size]
        )
        context = {"notice": notice, "notice_url": notice_url(notice)}
        for member in members:
            enqueue_mail(
                notice.utility,
                member.email,
                "billing/notice",
                {**context, "member": member},
                key=f"notice:{notice.pk}:{member.pk}",
                member=member,
            )
        if members:
            notice.mail_cursor = members[-1].pk
        notice.mail_touched_at = now
        notice.mailed_at = now if len(members) < size else None
        notice.save(update_fields=["mail_cursor", "mail_touched_at", "mailed_at"])
    return notice.mailed_at is None


def notice_url(notice: Notice) -> str:
    """The notice's page for a mail, when the portal's address is known (PORTAL_BASE_URL)."""
    base = settings.PORTAL_BASE_URL.rstrip("/")
    if not base:
        return ""
    return base + reverse("billing:notice", args=[notice.utility.slug, notice.pk])


def due_for_mailing() -> list[int]:
    """Notices whose mailing should start or resume now (publish time reached, or stalled)."""
    now = timezone.now()
    notices = Notice.objects.filter(
        mail_members=True, important=True, mailed_at__isnull=True, publish_at__lte=now
    ).exclude(expire_at__lte=now)
    notices = notices.exclude(mail_touched_at__gt=now - STALLED)
    return list(notices.values_list("pk", flat=True))


def start_mailing(notice_id: int) -> None:
    """Queue a notice's mailing; with the broker down the beat's sweep starts it instead."""
    from .tasks import mail_notice

    try:
        mail_notice.delay(notice_id)
    except Exception:  # noqa: BLE001 - kombu/redis errors: mail_due_notices picks it up
        if mail_notice.app.conf.task_always_eager:
            raise
        logger.warning("notice %s mailing not queued (broker unavailable)", notice_id)
