"""Edge cases of the bill-ready mail (issue 19): who joins after a reading was announced, and a
reading typed or corrected in the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains

from billing.models import MeterReading
from tests.billing.test_bill_mail import bill_mails, member_of, row, run_import
from tests.billing.test_import_admin import staff_of
from tests.factories import CustomerFactory, MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:billing_meterreading_add")


@pytest.fixture
def nayoro(time_machine, settings):
    from tests.billing.test_bill_mail import NOW

    time_machine.move_to(NOW, tick=False)
    settings.PORTAL_BASE_URL = "https://portal.example.jp"
    return UtilityFactory(slug="nayoro", customer_number_digits=11, portal_name="名寄市ポータル")


# (a) A member who joins after the reading was mailed ---------------------------------------


def test_a_member_approved_after_the_mail_gets_no_old_news_but_sees_it_and_the_next_period(
    nayoro, tmp_path, client
):
    contract = CustomerFactory(utility=nayoro)
    first = member_of(contract)
    waiting = member_of(contract, status="pending")  # signed up, not yet approved
    run_import(tmp_path, row(contract, total=5000))
    assert [m.to for m in bill_mails()] == [[first.email]]

    # Approved, and a third member linked, after the reading was announced.
    waiting.status = "active"
    waiting.save()
    late = member_of(contract)
    run_import(tmp_path, row(contract, total=5000))  # the same file again
    assert [m.to for m in bill_mails()] == [[first.email]]  # old news is not mailed
    client.force_login(late)
    dashboard = client.get(reverse("billing:dashboard", args=[nayoro.slug]))
    assertContains(dashboard, "5,000")  # the dashboard shows the reading

    run_import(
        tmp_path,
        row(contract, total=5200, start="2026-11-26", end="2026-12-05", read="2026-12-05"),
    )
    assert sorted(m.to[0] for m in bill_mails()[1:]) == sorted(
        [first.email, waiting.email, late.email]
    )


# (b) A reading typed or corrected in the admin ---------------------------------------------


def reading_form(contract, total=5000, **extra):
    return {
        "customer": contract.pk,
        "period_start": "2026-10-26",
        "period_end": "2026-11-25",
        "read_on": "2026-11-26",
        "previous_index": 100,
        "current_index": 120,
        "usage_m3": 20,
        "water_charge": total - 1000,
        "sewer_charge": 1000,
        "tax": total // 11,
        "total": total,
        **extra,
    }


def test_a_reading_typed_in_the_admin_is_mailed_at_once_and_a_new_total_as_a_correction(
    nayoro, client
):
    contract = CustomerFactory(utility=nayoro)
    member = member_of(contract)
    client.force_login(staff_of(nayoro))
    assert client.get(ADD).context["adminform"].form["hold_mail"].value() is False
    response = client.post(ADD, reading_form(contract))
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [(m.to, m.subject) for m in bill_mails()] == [
        ([member.email], "【名寄市ポータル】今月のご使用量・料金のお知らせ")
    ]
    reading = MeterReading.objects.get()
    change = reverse("admin:billing_meterreading_change", args=[reading.pk])
    client.post(change, reading_form(contract))  # saved unchanged: nothing more
    assert len(bill_mails()) == 1
    client.post(change, reading_form(contract, total=5500))
    correction = bill_mails()[1]
    assert correction.subject == "【名寄市ポータル】【訂正】今月のご使用量・料金のお知らせ"
    assert "請求金額: 5,500円(先のお知らせでは5,000円)" in correction.body
    assert len(bill_mails()) == 2


def test_a_reading_saved_held_waits_for_the_next_save_or_import_that_does_not_hold(
    nayoro, client, tmp_path
):
    nayoro.hold_bill_mail = True
    nayoro.save()
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    client.force_login(staff_of(nayoro))
    assert client.get(ADD).context["adminform"].form["hold_mail"].value() is True
    client.post(ADD, reading_form(contract, hold_mail="on"))
    assert MeterReading.objects.exists() and bill_mails() == []
    reading = MeterReading.objects.get()
    change = reverse("admin:billing_meterreading_change", args=[reading.pk])
    assert client.get(change).context["adminform"].form["hold_mail"].value() is True
    client.post(change, reading_form(contract, hold_mail="on"))
    assert bill_mails() == []
    run_import(tmp_path, args=["--send-mail"])  # an import (of nothing) that does not hold
    assert len(bill_mails()) == 1


def test_an_admin_save_mails_only_the_savers_utility_and_no_other_member(nayoro, client):
    other = UtilityFactory(slug="kanazawa")
    theirs = CustomerFactory(utility=other)
    stranger = MemberFactory(utility=other)
    member_of(theirs)
    MeterReading.objects.create(
        customer=theirs,
        period_start="2026-10-26",
        period_end="2026-11-25",
        read_on="2026-11-26",
        previous_index=1,
        current_index=2,
        usage_m3=1,
        water_charge=1,
        sewer_charge=1,
        tax=0,
        total=2,
    )
    contract = CustomerFactory(utility=nayoro)
    member = member_of(contract)
    client.force_login(staff_of(nayoro))
    client.post(ADD, reading_form(contract))
    assert [m.to for m in bill_mails()] == [[member.email]]
    assert stranger.email not in [m.to[0] for m in bill_mails()]
