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
import re
import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.cache import caches
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from portal import normalize
from portal.outbox import Mail, enqueue_mail
from portal.ratelimit import Limit, _hashed, hit_all

from .models import Customer, Watch


class LinkInvalid(Exception):
    """No such link, or one already used."""


class LinkExpired(Exception):
    """A consent link past its deadline."""


# Consent mails a member may have sent, and an address may receive (from any member).
CONSENT_PER_MEMBER = Limit(
    "billing.watch-consent.member", "PORTAL_WATCH_CONSENT_RATE_PER_MEMBER", "3/h"
)
CONSENT_PER_EMAIL = Limit(
    "billing.watch-consent.email", "PORTAL_WATCH_CONSENT_RATE_PER_EMAIL", "2/d"
)


def check_consent_mail(request, member, email: str) -> None:
    """Count one consent mail against the member and the address; raise RateLimited."""
    hit_all(
        request,
        (CONSENT_PER_MEMBER, f"member:{member.pk}"),
        (CONSENT_PER_EMAIL, f"{member.utility.slug}:{normalize.identifier(email)}"),
    )


def _stopped_key(member_id: int, email: str) -> str:
    return f"billing.watch-stopped:{_hashed(f'{member_id}:{normalize.identifier(email)}')}"


def stopped_recently(member, email: str) -> bool:
    """Whether this address's owner pressed 停止 on this member's mails within
    ``PORTAL_WATCH_STOPPED_DAYS``: the member may not ask them again meanwhile."""
    cache = caches[settings.RATELIMIT_USE_CACHE]
    return cache.get(_stopped_key(member.pk, email)) is not None


# Where an address's numbers start (丁目, 番地, 号...): the area is what comes before.
_NUMBERS = re.compile(r"[0-9０-９]|[一二三四五六七八九十〇]+(?:丁目|番|条|線|号)")


def area_of(address: str) -> str:
    """「金沢市本町」 of 「金沢市本町4丁目2-6」: the area the watcher is told, not the house."""
    found = _NUMBERS.search(address)
    return (address[: found.start()] if found else address).strip(" 　-ー−")


def areas(member) -> str:
    """The areas of the member's contracts, as the consent request and page name them."""
    addresses = Customer.objects.filter(member_links__member=member).order_by("pk")
    found = dict.fromkeys(area_of(a) for a in addresses.values_list("address", flat=True))
    return "、".join(area for area in found if area)


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
                "areas": areas(member),
                "watch": watch,
                "consent_url": _url("billing:watch_consent", utility, consent_token),
                "stop_url": stop_url(watch),
                "expires": timezone.localtime(expires),
            },
            # Each request its own key: a number SQLite gives again after a removal is no
            # duplicate of the earlier request.
            key=f"watch_consent:{watch.pk}:{watch.consent_hash[:16]}",
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


def by_stop_link(utility, token: str) -> Watch | None:
    """The watch of a stop link; None if the member removed it since. A link that is not
    one (forged, or cut short by a mail client) raises LinkInvalid."""
    try:
        pk = int(_STOP.unsign(token))
    except (signing.BadSignature, ValueError) as exc:
        raise LinkInvalid from exc
    return Watch.objects.filter(pk=pk, member__utility=utility).first()


def stop(utility, token: str) -> Watch | None:
    """The second person stops the mails (the member sees 停止 on their page); the member
    cannot ask that address again for ``PORTAL_WATCH_STOPPED_DAYS``."""
    watch = by_stop_link(utility, token)
    if watch is None:
        return None
    Watch.objects.filter(pk=watch.pk, stopped_at__isnull=True).update(
        stopped_at=timezone.now(), consent_hash=""
    )
    days = settings.PORTAL_WATCH_STOPPED_DAYS
    if days:
        cache = caches[settings.RATELIMIT_USE_CACHE]
        cache.set(_stopped_key(watch.member_id, watch.email), 1, timeout=days * 86400)
    watch.refresh_from_db()
    return watch


def state_word(watch: Watch) -> str:
    """The watch's state as staff read it."""
    if watch.stopped_at is not None:
        day = timezone.localtime(watch.stopped_at).date()
        return gettext("停止(%(day)s)") % {"day": f"{day.year}年{day.month}月{day.day}日"}
    if watch.consented_at is not None:
        return gettext("見守り中(同意済み)")
    if watch.consent_expires_at is not None and watch.consent_expires_at <= timezone.now():
        return gettext("同意の期限切れ")
    return gettext("同意待ち")


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
                    "area": area_of(reading.customer.address),
                    "stop_url": stop_url(watch),
                },
                f"watch:{watch.pk}:{reading.customer_id}:{reading.period_end.isoformat()}",
                None,
                # Written in the member's language: the person they asked to watch shares it
                # more often than not, and a worker has no page to take one from.
                language=watch.member.language,
            )
