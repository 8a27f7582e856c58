"""A utility's 「メール送信の上限(通/分)」 (issue 18): mails over it wait, none fails for it.

Across worker processes with a real worker: tests/integration/test_outbox_worker.py.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from portal import outbox
from portal.models import OutboxMail
from tests.factories import MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

# 10:00:30 in Japan: half a minute into a window.
NOW = datetime.datetime(2026, 4, 1, 10, 0, 30, tzinfo=ZoneInfo("Asia/Tokyo"))
NEXT_MINUTE = datetime.datetime(2026, 4, 1, 10, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
Status = OutboxMail.Status


def write(utility, n: int) -> OutboxMail:
    return outbox.enqueue_mail(
        utility,
        f"taro{n}@example.jp",
        "accounts/password_changed",
        {"member": MemberFactory(utility=utility)},
        key=f"rate:{utility.pk}:{n}",
    )


def test_mails_over_the_rate_wait_for_later_minutes_and_none_fails(time_machine, mailoutbox):
    time_machine.move_to(NOW, tick=False)
    limited = UtilityFactory(mail_rate_per_minute=2)
    free = UtilityFactory()
    mails = [write(limited, n) for n in range(5)]
    others = [write(free, n) for n in range(5)]
    assert sorted(m.to[0] for m in mailoutbox) == sorted(
        ["taro0@example.jp", "taro1@example.jp"] + [f"taro{n}@example.jp" for n in range(5)]
    )
    waiting = OutboxMail.objects.filter(pk__in=[m.pk for m in mails[2:]])
    assert set(waiting.values_list("status", "attempts", "last_error")) == {(Status.PENDING, 0, "")}
    # The 3rd and 4th wait for the next minute, the 5th for the one after: a backlog drains.
    assert [m.next_attempt_at for m in waiting.order_by("pk")] == [
        NEXT_MINUTE,
        NEXT_MINUTE,
        NEXT_MINUTE + datetime.timedelta(minutes=1),
    ]
    assert not OutboxMail.objects.filter(pk__in=[m.pk for m in others]).exclude(status=Status.SENT)

    time_machine.move_to(NEXT_MINUTE, tick=False)
    outbox.sweep()
    assert len(mailoutbox) == 9
    time_machine.move_to(NEXT_MINUTE + datetime.timedelta(minutes=1), tick=False)
    outbox.sweep()
    assert len(mailoutbox) == 10
    assert not OutboxMail.objects.exclude(status=Status.SENT).exists()


def test_with_the_cache_down_a_limited_mail_waits_rather_than_go_uncounted(
    time_machine, mailoutbox, monkeypatch
):
    time_machine.move_to(NOW, tick=False)
    limited = UtilityFactory(mail_rate_per_minute=100)

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(cache, "incr", down)
    mail = write(limited, 0)
    mail.refresh_from_db()
    assert not mailoutbox
    assert (mail.status, mail.attempts, mail.next_attempt_at) == (Status.PENDING, 0, NEXT_MINUTE)
