"""A mail about a member held in the outbox (the relay down, a rate, a backoff) is checked against
the member as they are when it is sent (a19 F3): sent to their current address, or not at all if
they withdrew, left the contract or turned that kind of mail off — with a reason staff can read."""

from __future__ import annotations

import pytest
from django.core import mail

from accounts import emails
from accounts.models import ContractLink, Member
from portal import outbox
from portal.models import OutboxMail
from tests.billing import test_bill_mail
from tests.billing.test_bill_mail import bill_mails, member_of, row, run_import
from tests.factories import CustomerFactory, MemberFactory
from tests.helpers import refuse_mail, send_waiting_mail

pytestmark = pytest.mark.django_db
frozen, nayoro = test_bill_mail.frozen, test_bill_mail.nayoro  # its fixtures
Status = OutboxMail.Status


def held_import(tmp_path, monkeypatch, *rows):
    """Import while the relay is down: every mail waits in the outbox for a retry."""
    with monkeypatch.context() as down:
        refuse_mail(down)
        run_import(tmp_path, *rows)
    assert bill_mails() == []
    assert set(OutboxMail.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_a_held_bill_mail_goes_to_the_members_current_address_never_the_old_ones_new_owner(
    nayoro, tmp_path, monkeypatch
):
    contract = CustomerFactory(utility=nayoro)
    moved = member_of(contract, email="m06@example.jp")
    held_import(tmp_path, monkeypatch, row(contract, total=2025))
    Member.objects.filter(pk=moved.pk).update(email="m06new@example.jp")
    # Another household signs up with the address given up meanwhile.
    stranger = member_of(CustomerFactory(utility=nayoro), email="m06@example.jp")
    send_waiting_mail(minutes=2)
    assert [m.to for m in bill_mails()] == [["m06new@example.jp"]]
    assert "2,025円" in bill_mails()[0].body
    assert not [m for m in mail.outbox if stranger.email in m.to]
    assert OutboxMail.objects.get().recipient == "m06new@example.jp"  # as staff read it


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            lambda m: Member.objects.filter(pk=m.pk).update(status=Member.Status.WITHDRAWN),
            "会員が退会した(利用中でない)ため送信を取りやめました。",
        ),
        (
            lambda m: ContractLink.objects.filter(member=m).delete(),
            "会員とこの契約の紐づけがなくなったため送信を取りやめました。",
        ),
        (
            lambda m: Member.objects.filter(pk=m.pk).update(wants_bill_mail=False),
            "会員がこの種類のメールを受け取らない設定にしたため送信を取りやめました。",
        ),
    ],
    ids=["withdrawn", "unlinked", "opted-out"],
)
def test_a_held_bill_mail_is_cancelled_with_a_reason_when_the_member_no_longer_may_have_it(
    nayoro, tmp_path, monkeypatch, change, reason
):
    contract = CustomerFactory(utility=nayoro)
    member = member_of(contract)
    held_import(tmp_path, monkeypatch, row(contract))
    change(member)
    send_waiting_mail(minutes=2)
    send_waiting_mail(minutes=30)  # and never later either
    assert bill_mails() == []
    held = OutboxMail.objects.get()
    assert (held.status, held.last_error, held.body) == (Status.CANCELLED, reason, "")
    assert held.get_status_display() == "送信取りやめ"


def test_a_held_notice_mail_is_not_sent_to_a_member_who_turned_notices_off(nayoro, monkeypatch):
    member = MemberFactory(utility=nayoro)

    with monkeypatch.context() as down:
        refuse_mail(down)
        outbox.enqueue_mail(
            nayoro,
            member.email,
            "accounts/password_changed",  # any body will do; the kind decides the check
            {"member": member},
            key=f"notice:1:{member.pk}",
            member=member,
        )
    OutboxMail.objects.update(template="billing/notice")
    Member.objects.filter(pk=member.pk).update(wants_notice_mail=False)
    send_waiting_mail(minutes=2)
    assert mail.outbox == []
    assert OutboxMail.objects.get().status == Status.CANCELLED


def test_a_code_to_a_typed_address_keeps_that_address(nayoro, monkeypatch):
    member = MemberFactory(utility=nayoro, email="old@example.jp")
    with monkeypatch.context() as down:
        refuse_mail(down)
        emails._to_member(member, "email_change_code", to="typed@example.jp", code="123456")
    send_waiting_mail(minutes=2)
    assert [m.to for m in mail.outbox] == [["typed@example.jp"]]


def test_a_held_account_mail_follows_the_members_new_address_and_stops_at_withdrawal(
    nayoro, monkeypatch
):
    moved = MemberFactory(utility=nayoro, email="old@example.jp")
    gone = MemberFactory(utility=nayoro, email="gone@example.jp")
    with monkeypatch.context() as down:
        refuse_mail(down)
        emails.send_password_changed(moved)
        emails.send_contract_added(gone, "20000000006")
    Member.objects.filter(pk=moved.pk).update(email="new@example.jp")
    Member.objects.filter(pk=gone.pk).update(status=Member.Status.WITHDRAWN)
    MemberFactory(utility=nayoro, email="old@example.jp")  # the address given up, taken
    send_waiting_mail(minutes=2)
    assert [m.to for m in mail.outbox] == [["new@example.jp"]]
    assert OutboxMail.objects.get(member=gone).status == Status.CANCELLED
