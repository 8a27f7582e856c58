"""見守り: a member's second address, mailed when a period's use falls below their threshold.

``register`` stores the address and threshold and mails that address a consent link (single
use, valid ``PORTAL_WATCH_CONSENT_HOURS``) and a stop link; ``consent`` records when and to
which address the person agreed. Only then does ``billmail`` mail low use there
(``low_use_mails``), each mail with the stop link. ``remove`` (the member) and ``stop`` (the
second person) end it. The consent token is random and only its SHA-256 is stored; the stop
link is the watch's number signed with SECRET_KEY, so every mail can carry it.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.outbox import Mail, enqueue_mail

from .models import Watch


class LinkInvalid(Exception):
    """No such link, or one already used."""


class LinkExpired(Exception):
    """A consent link past its deadline."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _url(name: str, utility, token: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + reverse(name, args=[utility.slug, token])


def register(member, email: str, threshold_m3: int) -> Watch:
    """Set (or replace) the member's watch and mail the consent request to ``email``."""
    consent_token = secrets.token_urlsafe(32)
    now = timezone.now()
    expires = now + timedelta(hours=settings.PORTAL_WATCH_CONSENT_HOURS)
    with transaction.atomic():
        Watch.objects.filter(member=member).delete()
        watch = Watch.objects.create(
            member=member,
            email=email,
            threshold_m3=threshold_m3,
            created_at=now,
            consent_hash=_hash(consent_token),
            consent_expires_at=expires,
        )
        utility = member.utility
        enqueue_mail(
            utility,
            email,
            "billing/watch_consent",
            {
                "member": member,
                "watch": watch,
                "consent_url": _url("billing:watch_consent", utility, consent_token),
                "stop_url": stop_url(watch),
                "expires": timezone.localtime(expires),
            },
            key=f"watch_consent:{watch.pk}",
            member=member,
        )
    return watch


def by_consent_link(utility, token: str) -> Watch:
    watch = (
        Watch.objects.select_related("member")
        .filter(consent_hash=_hash(token), member__utility=utility, stopped_at__isnull=True)
        .first()
    )
    if watch is None or not token:
        raise LinkInvalid
    if watch.consent_expires_at is None or watch.consent_expires_at <= timezone.now():
        raise LinkExpired
    return watch


def consent(utility, token: str) -> Watch:
    """Record the second person's consent; the link is used up."""
    with transaction.atomic():
        watch = by_consent_link(utility, token)
        updated = Watch.objects.filter(pk=watch.pk, consent_hash=watch.consent_hash).update(
            consented_at=timezone.now(), consented_email=watch.email, consent_hash=""
        )
        if not updated:
            raise LinkInvalid
    watch.refresh_from_db()
    return watch


_STOP = signing.Signer(salt="billing.watch.stop")


def stop_url(watch: Watch) -> str:
    return _url("billing:watch_stop", watch.member.utility, _STOP.sign(str(watch.pk)))


def by_stop_link(utility, token: str) -> Watch:
    try:
        pk = int(_STOP.unsign(token))
    except (signing.BadSignature, ValueError) as exc:
        raise LinkInvalid from exc
    watch = Watch.objects.filter(pk=pk, member__utility=utility).first()
    if watch is None:
        raise LinkInvalid
    return watch


def stop(utility, token: str) -> Watch:
    """The second person stops the mails (the member sees 停止 on their page)."""
    watch = by_stop_link(utility, token)
    Watch.objects.filter(pk=watch.pk, stopped_at__isnull=True).update(
        stopped_at=timezone.now(), consent_hash=""
    )
    watch.refresh_from_db()
    return watch


def remove(member) -> None:
    Watch.objects.filter(member=member).delete()


def low_use_mails(utility, readings, members_by_contract: dict[int, list[int]]):
    """Mails to consenting second addresses for readings below their member's threshold."""
    member_ids = {pk for pks in members_by_contract.values() for pk in pks}
    watches = Watch.objects.select_related("member__utility").filter(
        member_id__in=member_ids,
        consented_at__isnull=False,
        stopped_at__isnull=True,
        member__utility=utility,
    )
    by_member = {watch.member_id: watch for watch in watches}
    for reading in readings:
        for member_id in members_by_contract.get(reading.customer_id, []):
            watch = by_member.get(member_id)
            if watch is None or reading.usage_m3 >= watch.threshold_m3:
                continue
            yield Mail(
                watch.email,
                "billing/watch_low_use",
                {
                    "watch": watch,
                    "reading": reading,
                    "contract": reading.customer,
                    "stop_url": stop_url(watch),
                },
                f"watch:{watch.pk}:{reading.customer_id}:{reading.period_end.isoformat()}",
                None,
            )
