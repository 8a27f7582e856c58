"""A utility's 「メール送信の上限(通/分)」 (issue 18): mails over it wait, none fails for it.

Across worker processes with a real worker: tests/integration/test_outbox_worker.py.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.db import transaction

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


def test_a_reset_code_goes_out_at_once_behind_a_backlog_of_signup_mails(time_machine, mailoutbox):
    """Attack on #18: 160 signups queued at 5 a minute put a reset code's mail after its own
    deadline. A mail the resident waits for on the page is never held by the rate."""
    time_machine.move_to(NOW, tick=False)
    limited = UtilityFactory(mail_rate_per_minute=2)
    backlog = [write(limited, n) for n in range(6)]
    member = MemberFactory(utility=limited, email="reset@example.jp")
    code = outbox.enqueue_mail(
        limited,
        member.email,
        "accounts/password_reset_code",
        {"member": member, "code": "123456", "expires_at": NEXT_MINUTE},
        key="password_reset_code:attack",
    )
    code.refresh_from_db()
    assert code.status == Status.SENT
    assert "reset@example.jp" in [m.to[0] for m in mailoutbox]
    # The others still drain at the rate (the code took a place in the count).
    assert (
        OutboxMail.objects.filter(pk__in=[m.pk for m in backlog], status=Status.PENDING).count()
        == 4
    )


@pytest.mark.parametrize("new_rate", [None, 100])
def test_clearing_or_raising_the_rate_sends_the_held_mails_at_once(
    time_machine, mailoutbox, new_rate
):
    time_machine.move_to(NOW, tick=False)
    limited = UtilityFactory(mail_rate_per_minute=2)
    mails = [write(limited, n) for n in range(5)]
    assert len(mailoutbox) == 2
    limited.mail_rate_per_minute = new_rate
    limited.save()
    assert len(mailoutbox) == 5  # same minute: nothing waited for the sweep
    assert not OutboxMail.objects.filter(pk__in=[m.pk for m in mails]).exclude(status=Status.SENT)


def test_lowering_the_rate_releases_nothing(time_machine, mailoutbox):
    time_machine.move_to(NOW, tick=False)
    limited = UtilityFactory(mail_rate_per_minute=2)
    for n in range(5):
        write(limited, n)
    limited.mail_rate_per_minute = 1
    limited.save()
    assert len(mailoutbox) == 2


def test_a_batch_is_counted_together_and_its_mails_over_the_rate_wait(time_machine, mailoutbox):
    time_machine.move_to(NOW, tick=False)
    limited = UtilityFactory(mail_rate_per_minute=2)
    member = MemberFactory(utility=limited)
    mails = [
        outbox.Mail(f"b{n}@example.jp", "accounts/password_changed", {"member": member}, f"b:{n}")
        for n in range(5)
    ]
    with transaction.atomic():
        outbox.enqueue_mails(limited, mails)  # one task: 5 mails in one count
    assert sorted(m.to[0] for m in mailoutbox) == ["b0@example.jp", "b1@example.jp"]
    waiting = OutboxMail.objects.filter(status=Status.PENDING).order_by("pk")
    assert [(m.attempts, m.next_attempt_at) for m in waiting] == [
        (0, NEXT_MINUTE),
        (0, NEXT_MINUTE),
        (0, NEXT_MINUTE + datetime.timedelta(minutes=1)),
    ]
    time_machine.move_to(NEXT_MINUTE, tick=False)
    outbox.sweep()
    assert len(mailoutbox) == 4
