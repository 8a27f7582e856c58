"""`manage.py load_demo`: the demo residents README lists, as a real signup would leave them."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.models import Member, MemberEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("loaddata", "utilities", verbosity=0)
    call_command("load_demo", verbosity=0)


def test_the_demo_applicant_waits_with_match_evidence_like_a_real_one(demo):
    applicant = Member.objects.get(login_id="shinsei01")
    assert applicant.status == Member.Status.PENDING
    match = applicant.signup_match
    assert match["customer_id"] is not None
    assert {"number", "name", "phone", "address"} <= set(match)
    assert MemberEvent.objects.filter(member=applicant, action="signup").exists()


def test_load_demo_twice_changes_nothing(demo):
    before = (Member.objects.count(), MemberEvent.objects.count())
    call_command("load_demo", verbosity=0)
    assert (Member.objects.count(), MemberEvent.objects.count()) == before


def test_create_staff_group_gives_staff_the_lockout_list(client):
    from django.contrib.auth.models import Group
    from django.urls import reverse

    from tests.factories import StaffFactory

    call_command("create_staff_group", verbosity=0)
    call_command("create_staff_group", verbosity=0)  # again, as after an upgrade
    staff = StaffFactory()
    staff.groups.add(Group.objects.get(name="事業者職員"))
    client.force_login(staff)
    index = client.get(reverse("admin:index")).content.decode()
    assert "ログイン試行" in index
    assert staff.has_perm("accounts.delete_loginlock")


def test_each_demo_resident_holds_only_what_its_utilitys_signup_asks(demo):
    """Finding 8 (issue 15 review): yamadahanako's 会員情報 read 「山田 花子」 beside the kana,
    address and phone of 加藤 一郎, and a kana Kanazawa's ⑥ never asks."""
    from billing.models import Customer

    for member in Member.objects.filter(is_staff=False, status=Member.Status.ACTIVE):
        utility = member.utility
        first = Customer.objects.get(utility=utility, number=member.signup_customer_number)
        assert member.contracts.filter(pk=first.pk).exists(), member
        assert member.phone == first.phone, member
        if utility.name_is_nickname:
            assert member.name and member.name != first.name, member
        else:
            assert member.name == first.name, member  # matching needs the holder's name
        assert member.name_kana == (first.name_kana if utility.asks_kana else ""), member
        assert member.address == (first.address if utility.asks_address else ""), member
        assert member.relation == ("self" if utility.asks_relation else ""), member
        assert member.payment_method == ("keep" if utility.asks_payment_method else ""), member


def test_the_demo_has_paid_bills_a_failed_transfer_and_one_unpaid_past_its_due_date(demo):
    from billing.demo import DEMO_DATE
    from billing.models import Payment

    status = Payment.Status
    paid = Payment.objects.filter(status=status.PAID)
    assert paid.count() > 800
    failed = Payment.objects.get(status=status.TRANSFER_FAILED)
    assert failed.customer.number == "10000000000002"  # yamadahanako's first contract
    overdue = Payment.objects.get(status=status.UNPAID, due_date__lt=DEMO_DATE)
    assert overdue.customer.number == "10000000000003"  # and her second
    # Each bill is its reading's period and total.
    for bill in Payment.objects.filter(customer__number__in=["10000000000001", "20000000001"]):
        reading = bill.customer.readings.get(period_end=bill.period_end)
        assert (bill.period_start, bill.billed_amount) == (reading.period_start, reading.total)
    call_command("load_demo", verbosity=0)
    assert Payment.objects.count() == 864  # a second run adds none
