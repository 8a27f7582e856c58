"""The mail outbox (issue 18): written with the change, sent once after commit, retried,
failed for good with the server's reply, swept when a worker or the broker let it drop."""

from __future__ import annotations

import datetime
import smtplib
from zoneinfo import ZoneInfo

import pytest
from django.core.mail.backends.locmem import EmailBackend
from django.db import transaction
from django.urls import reverse
from kombu.exceptions import OperationalError
from pytest_django.asserts import assertContains, assertNotContains

from accounts.services.staff import ensure_staff_group
from portal import outbox, tasks
from portal.models import OutboxMail
from tests.factories import MemberFactory, StaffFactory, UtilityFactory
from tests.helpers import REFUSED_FOR_GOOD, refuse_mail, refuse_mail_for_good

pytestmark = pytest.mark.django_db

NOW = datetime.datetime(2026, 4, 1, 10, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
Status = OutboxMail.Status


def write(utility, key=None, member=None, to="taro@example.jp") -> OutboxMail:
    return outbox.enqueue_mail(
        utility,
        to,
        "accounts/password_changed",
        {"member": member or MemberFactory(utility=utility)},
        key=key,
        member=member,
    )


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


def test_a_change_rolled_back_sends_no_mail(utility, mailoutbox):
    with pytest.raises(RuntimeError), transaction.atomic():
        write(utility)
        raise RuntimeError("the change failed")
    assert not OutboxMail.objects.exists()
    assert not mailoutbox


def test_a_mail_leaves_after_commit_and_keeps_no_body(utility, mailoutbox):
    with transaction.atomic():
        mail = write(utility)
        assert not mailoutbox  # not while the change may still be undone
    assert [m.to for m in mailoutbox] == [["taro@example.jp"]]
    assert mailoutbox[0].extra_headers["X-Portal-Mail-Key"] == outbox.mail_key_header(mail.key)
    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.body) == (Status.SENT, 1, "")


def test_one_key_is_written_and_sent_once(utility, mailoutbox):
    write(utility, key="member_approved:member-7")
    write(utility, key="member_approved:member-7")
    assert OutboxMail.objects.count() == 1
    assert len(mailoutbox) == 1
    assert tasks.deliver_mail(OutboxMail.objects.get().pk) == "taken"
    assert len(mailoutbox) == 1


def test_a_row_another_worker_holds_is_not_sent_again(utility, mailoutbox, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "hand_to_worker", lambda pk, urgent=False: None)  # the broker took it
        mail = write(utility)
    OutboxMail.objects.filter(pk=mail.pk).update(status=Status.SENDING)  # a worker claimed it
    assert outbox.deliver(mail.pk) == "taken"
    assert not mailoutbox


def test_a_server_down_is_tried_again_with_growing_waits_then_sent(
    utility, mailoutbox, monkeypatch, frozen
):
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        mail = write(utility)
        mail.refresh_from_db()
        assert mail.status == Status.PENDING
        assert mail.next_attempt_at == NOW + datetime.timedelta(minutes=1)
        frozen.shift(datetime.timedelta(seconds=59))
        assert outbox.sweep() == []  # not due yet
        frozen.shift(datetime.timedelta(seconds=1))
        assert outbox.sweep() == [mail.pk]
        mail.refresh_from_db()
        # The second wait is twice the first.
        assert (mail.attempts, mail.next_attempt_at) == (2, NOW + datetime.timedelta(minutes=3))
    frozen.shift(datetime.timedelta(minutes=2))
    outbox.sweep()
    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.last_error) == (Status.SENT, 3, "")
    assert len(mailoutbox) == 1


def test_a_4xx_reply_is_tried_again_and_the_last_try_fails(
    utility, mailoutbox, monkeypatch, frozen, settings
):
    settings.PORTAL_OUTBOX_MAX_ATTEMPTS = 3

    def greylist(self, messages):
        raise smtplib.SMTPRecipientsRefused({messages[0].to[0]: (451, b"4.7.1 Try again later")})

    monkeypatch.setattr(EmailBackend, "send_messages", greylist)
    mail = write(utility)
    for _ in range(3):
        frozen.shift(datetime.timedelta(hours=1))
        outbox.sweep()
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (Status.FAILED, 3)
    assert mail.last_error == "451 4.7.1 Try again later"


def test_a_5xx_reply_fails_at_once_with_the_reply(utility, mailoutbox, monkeypatch):
    member = MemberFactory(utility=utility)
    refuse_mail_for_good(monkeypatch)
    mail = write(utility, member=member)
    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.last_error) == (Status.FAILED, 1, REFUSED_FOR_GOOD)
    assert mail.failed_at is not None
    assert outbox.sweep() == []  # a failed mail is never swept again


def test_a_claim_older_than_the_lease_is_handed_on(utility, mailoutbox, monkeypatch, frozen):
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "hand_to_worker", lambda pk, urgent=False: None)
        mail = write(utility)
    # A worker claimed it and was killed before the 250.
    OutboxMail.objects.filter(pk=mail.pk).update(status=Status.SENDING, claimed_at=NOW)
    frozen.shift(datetime.timedelta(minutes=9))
    outbox.sweep()
    assert not mailoutbox  # within the lease the worker may still finish
    frozen.shift(datetime.timedelta(minutes=2))
    outbox.sweep()
    assert len(mailoutbox) == 1
    mail.refresh_from_db()
    assert mail.status == Status.SENT


def test_a_broker_down_leaves_the_mail_waiting_for_the_sweep(
    utility, mailoutbox, monkeypatch, frozen
):

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    with monkeypatch.context() as patch:
        patch.setitem(tasks.deliver_mail.app.conf, "task_always_eager", False)
        patch.setattr(tasks.deliver_mail, "delay", broker_down)
        patch.setattr(tasks.deliver_mails, "delay", broker_down)  # the sweep's hand-on
        mail = write(utility)  # the request goes on: nothing raised
        assert outbox.sweep() == []
        frozen.shift(datetime.timedelta(minutes=1))
        assert outbox.sweep() == [mail.pk]  # handing it on fails again: it waits on
    mail.refresh_from_db()
    assert mail.status == Status.PENDING
    # The broker is back.
    frozen.shift(datetime.timedelta(minutes=1))
    outbox.sweep()
    assert len(mailoutbox) == 1


def test_staff_see_their_utilitys_mails_in_japanese_without_the_body(client, monkeypatch):
    ours, theirs = UtilityFactory(), UtilityFactory()
    staff = StaffFactory(utility=ours)
    staff.groups.add(ensure_staff_group())
    refuse_mail_for_good(monkeypatch)
    write(ours, to="hanako@example.jp")
    write(theirs, to="other@example.jp")
    client.force_login(staff)
    response = client.get(reverse("admin:portal_outboxmail_changelist"))
    assertContains(response, "送信メール")
    assertContains(response, "hanako@example.jp")
    assertContains(response, "送信失敗")
    assertContains(response, REFUSED_FOR_GOOD.replace("<", "&lt;").replace(">", "&gt;"))
    # The reason in plain Japanese first, the raw reply beside it (a19 F6).
    assertContains(response, "このメールアドレスあてには届けられないと返事がありました。")
    assertNotContains(response, "other@example.jp")
    mail = OutboxMail.objects.get(recipient="hanako@example.jp")
    page = client.get(reverse("admin:portal_outboxmail_change", args=[mail.pk]))
    assertContains(page, "メールサーバーの応答")
    assertContains(page, "このメールアドレスあてには届けられないと返事がありました。")
    assertNotContains(page, "本文")


def test_a_batch_is_written_in_one_insert_and_each_key_once(utility, mailoutbox):
    member = MemberFactory(utility=utility)
    write(utility, key="batch:1", to="first@example.jp")  # already written alone

    def batch(count):
        return [
            outbox.Mail(
                f"m{n}@example.jp", "accounts/password_changed", {"member": member}, f"batch:{n}"
            )
            for n in range(1, count + 1)
        ]

    with transaction.atomic():
        assert outbox.enqueue_mails(utility, batch(3)) == 2
        assert len(mailoutbox) == 1  # the batch leaves after commit
    with transaction.atomic():
        assert outbox.enqueue_mails(utility, batch(3)) == 0  # run twice: nothing twice
    assert sorted(m.to[0] for m in mailoutbox) == [
        "first@example.jp",
        "m2@example.jp",
        "m3@example.jp",
    ]
    assert OutboxMail.objects.get(key="batch:1").recipient == "first@example.jp"
    assert set(OutboxMail.objects.values_list("status", flat=True)) == {Status.SENT}


def test_a_batch_rolled_back_sends_nothing(utility, mailoutbox):
    member = MemberFactory(utility=utility)
    mails = [outbox.Mail("a@example.jp", "accounts/password_changed", {"member": member}, "k:1")]
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.enqueue_mails(utility, mails)
        raise RuntimeError
    assert not OutboxMail.objects.exists() and not mailoutbox


def test_a_batch_shares_one_connection_and_one_refusal_stops_only_its_mail(
    utility, mailoutbox, monkeypatch
):
    member = MemberFactory(utility=utility)
    opened = []
    send = EmailBackend.send_messages

    def refuse_one(self, messages):
        opened.append(id(self))
        if messages[0].to == ["bad@example.jp"]:
            raise smtplib.SMTPRecipientsRefused({"bad@example.jp": (550, b"No such user")})
        return send(self, messages)

    monkeypatch.setattr(EmailBackend, "send_messages", refuse_one)
    mails = [
        outbox.Mail(to, "accounts/password_changed", {"member": member}, f"k:{to}")
        for to in ["a@example.jp", "bad@example.jp", "c@example.jp"]
    ]
    with transaction.atomic():
        outbox.enqueue_mails(utility, mails)
    assert sorted(m.to[0] for m in mailoutbox) == ["a@example.jp", "c@example.jp"]
    assert len(set(opened)) == 1  # the three went through one connection
    failed = OutboxMail.objects.get(recipient="bad@example.jp")
    assert (failed.status, failed.last_error) == (Status.FAILED, "550 No such user")


def _batch(utility, count, prefix="b"):
    member = MemberFactory(utility=utility)
    return [
        outbox.Mail(
            f"{prefix}{n}@example.jp",
            "accounts/password_changed",
            {"member": member},
            f"{prefix}:{n}",
        )
        for n in range(count)
    ]


def test_a_tasks_20_mails_cost_one_claim_and_one_mark_each(
    utility, mailoutbox, monkeypatch, django_assert_max_num_queries
):
    """bench/mail.py: a worker spent ~55 ms a mail on a claim, a read and a mark each. The
    batch is claimed and read in one statement; each mail is still marked on its own."""
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "hand_many_to_workers", lambda pks: None)
        with transaction.atomic():
            outbox.enqueue_mails(utility, _batch(utility, 20))
    pks = list(OutboxMail.objects.order_by("pk").values_list("pk", flat=True))
    # claim, the utilities' rates, 20 marks (and PostgreSQL's SET/RESET of synchronous_commit)
    with django_assert_max_num_queries(24):
        outcome = outbox.deliver_many(pks)
    assert outcome == dict.fromkeys(pks, Status.SENT)
    assert sorted(m.to[0] for m in mailoutbox) == sorted(f"b{n}@example.jp" for n in range(20))
    assert set(OutboxMail.objects.values_list("status", "attempts", "body")) == {
        (Status.SENT, 1, "")
    }


def test_rows_of_a_batch_another_worker_holds_or_sent_are_not_sent_again(
    utility, mailoutbox, monkeypatch
):
    with monkeypatch.context() as patch:
        patch.setattr(outbox, "hand_many_to_workers", lambda pks: None)
        with transaction.atomic():
            outbox.enqueue_mails(utility, _batch(utility, 4))
    pks = list(OutboxMail.objects.order_by("pk").values_list("pk", flat=True))
    OutboxMail.objects.filter(pk=pks[0]).update(status=Status.SENDING)  # another worker's
    OutboxMail.objects.filter(pk=pks[1]).update(status=Status.SENT)
    assert outbox.deliver_many(pks) == {pks[2]: Status.SENT, pks[3]: Status.SENT}
    assert outbox.deliver_many(pks) == {}  # handed twice: nothing twice
    assert sorted(m.to[0] for m in mailoutbox) == ["b2@example.jp", "b3@example.jp"]


def test_a_batch_whose_server_is_down_is_tried_again_mail_by_mail(
    utility, mailoutbox, monkeypatch, frozen
):
    with monkeypatch.context() as patch:
        refuse_mail(patch)
        with transaction.atomic():
            outbox.enqueue_mails(utility, _batch(utility, 3))
    assert set(OutboxMail.objects.values_list("status", "attempts", "next_attempt_at")) == {
        (Status.PENDING, 1, NOW + datetime.timedelta(minutes=1))
    }
    frozen.shift(datetime.timedelta(minutes=1))
    assert len(outbox.sweep()) == 3
    assert len(mailoutbox) == 3
    assert set(OutboxMail.objects.values_list("status", "attempts")) == {(Status.SENT, 2)}
