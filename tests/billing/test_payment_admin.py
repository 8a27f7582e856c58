"""請求・収納 in the admin: the CSV upload, the 振替不能 of a period, each contract's status."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.services.staff import ensure_staff_group
from billing.models import Payment
from tests.factories import (
    CustomerFactory,
    MemberFactory,
    MeterReadingFactory,
    PaymentFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JST = datetime.timezone(datetime.timedelta(hours=9))
LIST_URL = reverse("admin:billing_payment_changelist")
IMPORT_URL = reverse("admin:billing_payment_import_csv")
FAILED = Payment.Status.TRANSFER_FAILED


@pytest.fixture(autouse=True)
def _december_2026():
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=JST), tick=False):
        yield


@pytest.fixture
def kanazawa():
    return UtilityFactory(slug="kanazawa", customer_number_digits=14, billing_cycle_months=2)


def staff_of(utility):
    staff = StaffFactory(utility=utility)
    staff.groups.add(ensure_staff_group())
    return staff


def failed(customer, end: datetime.date) -> Payment:
    return PaymentFactory(customer=customer, period_end=end, status=FAILED, paid_amount=0)


def test_staff_list_the_failed_transfers_of_a_period_of_their_own_utility_only(client, kanazawa):
    other = UtilityFactory(slug="nayoro")
    october, august = datetime.date(2026, 10, 25), datetime.date(2026, 8, 25)
    mine = failed(CustomerFactory(utility=kanazawa, name="振替 不能子"), october)
    PaymentFactory(customer=CustomerFactory(utility=kanazawa, name="納付 済子"), period_end=october)
    failed(CustomerFactory(utility=kanazawa, name="先々月 不能"), august)
    failed(CustomerFactory(utility=other, name="他市 不能"), october)
    client.force_login(staff_of(kanazawa))
    response = client.get(
        LIST_URL, {"status__exact": FAILED, "period_end__year": 2026, "period_end__month": 10}
    )
    assertContains(response, mine.customer.number)
    assertContains(response, "振替 不能子")
    for name in ("納付 済子", "先々月 不能", "他市 不能"):
        assertNotContains(response, name)
    assertContains(response, "振替不能")


def test_another_utilitys_bill_is_a_404_to_staff(client, kanazawa):
    theirs = PaymentFactory(customer=CustomerFactory(utility=UtilityFactory(slug="nayoro")))
    client.force_login(staff_of(kanazawa))
    url = reverse("admin:billing_payment_change", args=[theirs.pk])
    # Django's admin answers a row outside the queryset as one that does not exist.
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:index")
    assertNotContains(response, theirs.customer.number)


def test_the_contract_list_shows_each_contracts_latest_bill_status(client, kanazawa):
    customer = CustomerFactory(utility=kanazawa, name="最新 不能")
    PaymentFactory(customer=customer, period_end=datetime.date(2026, 8, 25))
    failed(customer, datetime.date(2026, 10, 25))
    CustomerFactory(utility=kanazawa, name="請求 なし")
    client.force_login(staff_of(kanazawa))
    response = client.get(reverse("admin:billing_customer_changelist"))
    assertContains(response, "振替不能(2026-10-25まで)")
    assertContains(response, f"?customer__id__exact={customer.pk}")


def test_staff_dry_run_then_import_payments_in_the_background_job(client, kanazawa):
    customer = CustomerFactory(utility=kanazawa, number="10000000000001")
    MeterReadingFactory(
        customer=customer,
        period_start=datetime.date(2026, 8, 26),
        period_end=datetime.date(2026, 10, 25),
        read_on=datetime.date(2026, 10, 25),
    )
    header = (FIXTURES / "payments_good.csv").read_text().splitlines()[0]
    row = "kanazawa,10000000000001,2026-08-26,2026-10-25,5000,2026-11-26,口座振替,2026-11-26,0,振替不能"
    client.force_login(staff_of(kanazawa))
    page = client.get(IMPORT_URL)
    assertContains(page, header)  # the header is shown on the upload page
    upload = SimpleUploadedFile("payments.csv", f"{header}\n{row}\n".encode())
    dry = client.post(IMPORT_URL, {"file": upload, "encoding": "", "dry_run": "on"}, follow=True)
    assertContains(dry, "[検査のみ・書き込みなし] 1 行: 追加 1 件")
    assert not Payment.objects.exists()
    done = client.post(dry.redirect_chain[-1][0] + "import/", follow=True)
    assertContains(done, "1 行: 追加 1 件")
    assert Payment.objects.get().status == FAILED


def test_a_bill_typed_in_the_admin_is_held_to_the_importers_rule(client, kanazawa):
    customer = CustomerFactory(utility=kanazawa)
    admin = MemberFactory(utility=None, is_staff=True, is_superuser=True, login_id="root")
    client.force_login(admin)
    data = {
        "customer": customer.pk,
        "period_start": "2026-08-26",
        "period_end": "2026-10-25",
        "billed_amount": "5000",
        "due_date": "2026-11-26",
        "method": Payment.Method.TRANSFER,
        "paid_on": "",
        "paid_amount": "5000",
        "status": Payment.Status.PAID,
    }
    response = client.post(reverse("admin:billing_payment_add"), data)
    assertContains(response, "状態が「納付済」のときは口座振替日・納付日を入力してください。")
    assert not Payment.objects.exists()


def test_the_staff_group_reaches_the_payment_list():
    group = ensure_staff_group()
    assert set(
        Group.objects.get(pk=group.pk)
        .permissions.filter(content_type__model="payment")
        .values_list("codename", flat=True)
    ) == {"view_payment", "add_payment", "change_payment", "delete_payment"}


def test_a_bill_for_a_period_not_yet_ended_is_refused_in_the_admin(client, kanazawa):
    customer = CustomerFactory(utility=kanazawa)
    client.force_login(staff_of(kanazawa))
    data = {
        "customer": customer.pk,
        "period_start": "2099-10-26",
        "period_end": "2099-12-25",
        "billed_amount": "9999",
        "due_date": "2099-12-26",
        "method": Payment.Method.SLIP,
        "paid_on": "",
        "paid_amount": "0",
        "status": Payment.Status.UNPAID,
    }
    response = client.post(reverse("admin:billing_payment_add"), data)
    assertContains(response, "使用期間が終わった請求だけを取り込めます。2026-12-01 以前の日付")
    assert not Payment.objects.exists()


def test_staff_withdraw_a_bill_entered_by_mistake_of_their_own_utility_only(client, kanazawa):
    own = PaymentFactory(customer=CustomerFactory(utility=kanazawa))
    other = PaymentFactory(customer=CustomerFactory(utility=UtilityFactory(slug="nayoro")))
    client.force_login(staff_of(kanazawa))
    url = reverse("admin:billing_payment_delete", args=[own.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Payment.objects.filter(pk=own.pk).exists()
    other_url = reverse("admin:billing_payment_delete", args=[other.pk])
    assert client.post(other_url, {"post": "yes"}).status_code in (302, 404)
    assert Payment.objects.filter(pk=other.pk).exists()


def test_a_bill_corrected_by_hand_is_dated_as_news(client, kanazawa):
    payment = PaymentFactory(
        customer=CustomerFactory(utility=kanazawa),
        status=Payment.Status.UNPAID,
        paid_on=None,
        paid_amount=0,
        imported_at=datetime.datetime(2026, 11, 1, tzinfo=JST),
    )
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    data = {
        "customer": payment.customer.pk,
        "period_start": payment.period_start.isoformat(),
        "period_end": payment.period_end.isoformat(),
        "billed_amount": payment.billed_amount,
        "due_date": payment.due_date.isoformat(),
        "method": payment.method,
        "paid_on": "2026-11-30",
        "paid_amount": payment.billed_amount,
        "status": Payment.Status.PAID,
    }
    response = client.post(reverse("admin:billing_payment_change", args=[payment.pk]), data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID
    assert payment.imported_at == datetime.datetime(2026, 12, 1, 9, 0, tzinfo=JST)


def test_staff_are_warned_of_a_name_the_pdf_font_lacks(client, kanazawa):
    # Issue 20 finding F3: the admin saved 𠮷 with no word that PDFs print it as a box.
    customer = CustomerFactory(utility=kanazawa)
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    data = {
        "utility": kanazawa.pk,
        "number": customer.number,
        "name": "𠮷田 大輔",
        "name_kana": "よしだ だいすけ",
        "address": customer.address,
        "building": "",
        "phone": "0762202111",
        "meter_diameter_mm": customer.meter_diameter_mm,
        "meter_number": customer.meter_number,
    }
    url = reverse("admin:billing_customer_change", args=[customer.pk])
    response = client.post(url, data, follow=True)
    assertContains(response, "「𠮷」はPDF(検針票・適格請求書など)の書体にないため、〓 と印字します")
    customer.refresh_from_db()
    assert customer.name == "𠮷田 大輔"
