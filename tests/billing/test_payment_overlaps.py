"""Bills typed in the admin never overlap another stored bill of the contract (issue 16, rule 1,
a16b §2), and find_overlapping_readings lists the overlapping bills already stored."""

from __future__ import annotations

import datetime
import io
import threading
import time

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from billing.admin import PaymentForm
from billing.imports import import_payments, import_readings
from billing.models import Payment
from tests.billing.test_import_moves import csv, row
from tests.billing.test_import_order import stored
from tests.factories import CustomerFactory, MemberFactory, PaymentFactory, UtilityFactory

pytestmark = pytest.mark.django_db
JST = datetime.timezone(datetime.timedelta(hours=9))
ADD_URL = reverse("admin:billing_payment_add")
D = datetime.date


@pytest.fixture(autouse=True)
def _december_2026():
    with time_machine.travel(datetime.datetime(2026, 12, 6, 9, 0, tzinfo=JST), tick=False):
        yield


@pytest.fixture
def customer():
    return CustomerFactory(utility=UtilityFactory(slug="nayoro", billing_cycle_months=1))


@pytest.fixture
def admin_client(client):
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    return client


def bill(customer, start: datetime.date, end: datetime.date, amount: int = 900) -> Payment:
    return PaymentFactory(
        customer=customer,
        period_start=start,
        period_end=end,
        billed_amount=amount,
        paid_amount=0,
        paid_on=None,
        status=Payment.Status.UNPAID,
        due_date=D(2026, 12, 26),
    )


def form_data(customer, start: str, end: str, amount: int = 800) -> dict:
    return {
        "customer": customer.pk,
        "period_start": start,
        "period_end": end,
        "billed_amount": amount,
        "due_date": "2026-12-26",
        "method": Payment.Method.SLIP,
        "paid_on": "",
        "paid_amount": "0",
        "status": Payment.Status.UNPAID,
    }


def periods(customer) -> list[tuple[datetime.date, datetime.date]]:
    return sorted(customer.payments.values_list("period_start", "period_end"))


def test_the_add_form_refuses_a_bill_overlapping_a_stored_bill_beside_its_period(
    admin_client, customer
):
    bill(customer, D(2026, 11, 26), D(2026, 12, 5))
    page = admin_client.post(ADD_URL, form_data(customer, "2026-11-28", "2026-12-04"))
    assert page.status_code == 200
    errors = page.context["adminform"].form.errors
    assert errors["period_start"] == [
        "保存済みの請求の使用期間(2026-11-26〜2026-12-05)と重なります。"
    ]
    assert periods(customer) == [(D(2026, 11, 26), D(2026, 12, 5))]
    # Another contract's bill of those days is no overlap; nor is the next day's bill.
    other = CustomerFactory(utility=customer.utility)
    assert (
        admin_client.post(ADD_URL, form_data(other, "2026-11-28", "2026-12-04")).status_code == 302
    )
    assert (
        admin_client.post(ADD_URL, form_data(customer, "2026-11-25", "2026-11-25")).status_code
        == 302
    )


def test_a_bill_of_the_same_end_is_told_once_as_the_same_bill(admin_client, customer):
    bill(customer, D(2026, 11, 26), D(2026, 12, 5))
    page = admin_client.post(ADD_URL, form_data(customer, "2026-11-28", "2026-12-05"))
    text = page.content.decode()
    assert "この 契約 と 使用期間(終了) を持った 請求・収納 が既に存在します。" in text
    assert "と重なります" not in text
    assert customer.payments.count() == 1


def test_the_change_form_refuses_moving_a_bill_over_another_but_not_over_itself(
    admin_client, customer
):
    # a16b §2a: 09-26〜10-25 re-dated 08-26〜10-02 over the stored 08-26〜09-25.
    bill(customer, D(2026, 8, 26), D(2026, 9, 25), 5217)
    moved = bill(customer, D(2026, 9, 26), D(2026, 10, 25), 8000)
    url = reverse("admin:billing_payment_change", args=[moved.pk])
    page = admin_client.post(url, form_data(customer, "2026-08-26", "2026-10-02", 8000))
    assert page.status_code == 200
    assert page.context["adminform"].form.errors["period_start"] == [
        "保存済みの請求の使用期間(2026-08-26〜2026-09-25)と重なります。"
    ]
    assert periods(customer) == [
        (D(2026, 8, 26), D(2026, 9, 25)),
        (D(2026, 9, 26), D(2026, 10, 25)),
    ]
    kept = admin_client.post(url, form_data(customer, "2026-09-27", "2026-10-25", 8000))
    assert kept.status_code == 302
    assert periods(customer)[1] == (D(2026, 9, 27), D(2026, 10, 25))


def test_a_period_a_correction_moved_is_told_so_and_not_as_an_overlap_with_its_bill():
    # As the importer: a bill naming a corrected period gets the correction's message only.
    customer = CustomerFactory(utility=UtilityFactory(slug="kanazawa", billing_cycle_months=2))
    stored(customer, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    bill(customer, D(2026, 8, 26), D(2026, 10, 25), 5000)
    data = csv(row(customer, "2026-08-26", "2026-10-20", 120, 152, replaces="2026-10-25"))
    assert import_readings(io.BytesIO(data)).ok
    assert periods(customer) == [(D(2026, 8, 26), D(2026, 10, 20))]
    form = PaymentForm(data=form_data(customer, "2026-08-26", "2026-10-25", 5000))
    assert not form.is_valid()
    assert form.errors == {
        "period_end": [
            "この使用期間は検針の訂正で 2026-08-26〜2026-10-20 に変わりました。"
            "訂正後の使用期間で取り込んでください。"
        ]
    }


def find_overlaps(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("find_overlapping_readings", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_stored_overlapping_bills_are_listed_and_kept(customer):
    bill(customer, D(2026, 11, 26), D(2026, 12, 5))
    bill(customer, D(2026, 11, 28), D(2026, 12, 4))
    bill(customer, D(2026, 10, 26), D(2026, 11, 25))
    kanazawa = CustomerFactory(utility=UtilityFactory(slug="kanazawa"))
    bill(kanazawa, D(2026, 9, 26), D(2026, 10, 25))
    status, out = find_overlaps()
    assert status == 1
    assert (
        f"nayoro {customer.number}: 請求 2026-11-28〜2026-12-04 (id " in out
        and ") と 2026-11-26〜2026-12-05 (id " in out
        and "重なり 1 組" in out
    )
    assert customer.payments.count() == 3
    assert find_overlaps("--utility", "kanazawa") == (0, "重なっている使用期間はありません。\n")
    assert find_overlaps("--utility", "nayoro")[0] == 1


# Two saves at once (PostgreSQL): between one save's check and its write, another writer.


def _post_in_a_thread(data: dict) -> tuple[threading.Thread, list]:
    answers: list = []

    def post() -> None:
        try:
            browser = Client()
            browser.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
            answers.append(browser.post(ADD_URL, data))
        finally:
            connection.close()

    thread = threading.Thread(target=post)
    thread.start()
    return thread, answers


def _import_in_a_thread(customer, start: str, end: str) -> tuple[threading.Thread, list]:
    answers: list = []
    csv = (
        "utility,customer_number,period_start,period_end,billed_amount,due_date,method,"
        f"paid_on,paid_amount,status\nnayoro,{customer.number},{start},{end},800,2026-12-26,"
        "納付書,,0,未納\n"
    )

    def run() -> None:
        try:
            answers.append(import_payments(io.BytesIO(csv.encode())))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answers


def _waits_or_ends(thread: threading.Thread) -> None:
    """Until the other writer has finished or waits for a lock this save holds."""
    for _ in range(200):
        if not thread.is_alive():
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("other", "period", "message"),
    [
        (
            "admin",
            ("2026-11-28", "2026-12-04"),
            "保存済みの請求の使用期間(2026-11-26〜2026-12-05)と重なります。",
        ),
        (
            "admin",
            ("2026-11-26", "2026-12-05"),
            "この 契約 と 使用期間(終了) を持った 請求・収納 が既に存在します。",
        ),
        (
            "import",
            ("2026-11-28", "2026-12-04"),
            "line 2: period_start: 保存済みの請求の使用期間(2026-11-26〜2026-12-05)と重なります。",
        ),
    ],
    ids=["overlapping save", "same period (a double click)", "overlapping import"],
)
def test_two_saves_at_once_store_one_bill_and_answer_the_other(
    monkeypatch, customer, other, period, message
):
    if connection.vendor != "postgresql":
        pytest.skip("needs a second writer on the same database: CI runs this on PostgreSQL")
    validate, started = PaymentForm.validate_unique, []

    def checked_then_the_other_writer(form) -> None:
        validate(form)  # the form's last check
        if not started:  # the first save only: the other writer starts once
            start = _post_in_a_thread if other == "admin" else None
            started.append(
                start(form_data(customer, *period))
                if start
                else _import_in_a_thread(customer, *period)
            )
            _waits_or_ends(started[0][0])

    monkeypatch.setattr(PaymentForm, "validate_unique", checked_then_the_other_writer)
    browser = Client()
    browser.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    first = browser.post(ADD_URL, form_data(customer, "2026-11-26", "2026-12-05", 900))
    thread, answers = started[0]
    thread.join(30)
    assert first.status_code == 302
    assert periods(customer) == [(D(2026, 11, 26), D(2026, 12, 5))]
    if other == "admin":
        assert answers[0].status_code == 200
        assert message in answers[0].content.decode()
    else:
        assert [str(e) for e in answers[0].errors] == [message]
