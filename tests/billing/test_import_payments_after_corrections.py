"""Issue 16 (a16b): the payments importer after corrections of readings — overlapping bills in
one file, the CIS's bills after a split, the split period named, the admin's bill form told
the same, and a dry run that does not say it imported."""

from __future__ import annotations

import datetime
import io

import pytest

from billing.admin import PaymentForm
from billing.imports import import_payments, import_readings
from billing.models import Payment
from tests.billing.test_import_moves import PAYMENTS, bill, bills, csv, row
from tests.billing.test_import_order import stored
from tests.factories import CustomerFactory, UtilityFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("new_year_2027")]

D = datetime.date


@pytest.fixture
def customer():
    return CustomerFactory(utility=UtilityFactory(slug="kanazawa", billing_cycle_months=2))


def bill_row(customer, start: str, end: str, amount: int = 5000) -> str:
    return f"kanazawa,{customer.number},{start},{end},{amount},2027-01-01,納付書,,0,未納"


def payments(*rows: str, **options):
    return import_payments(io.BytesIO(csv(*rows, header=PAYMENTS)), **options)


def errors(result) -> list[str]:
    return [str(e) for e in result.errors]


# §1: two bills of one contract in one file that overlap are refused, as readings are.


def test_two_overlapping_bills_of_one_contract_in_one_file_are_refused(customer):
    result = payments(
        bill_row(customer, "2026-11-26", "2026-12-05"),
        bill_row(customer, "2026-11-28", "2026-12-04"),
    )
    assert errors(result) == [
        "line 3: period_start: 2026-11-28〜2026-12-04 は 2行目の 2026-11-26〜2026-12-05 と重なります"
    ]
    assert not Payment.objects.exists()


def test_bills_of_one_contract_side_by_side_in_one_file_are_written(customer):
    result = payments(
        bill_row(customer, "2026-10-26", "2026-11-25"),
        bill_row(customer, "2026-11-26", "2026-12-05"),
    )
    assert result.ok and result.inserted == 2


# §5: a stored bill a row of the file re-dates is judged with its new dates.


@pytest.fixture
def split(customer):
    """06-26〜08-25 read and billed, then read again as two periods; the bill stays (08-25)."""
    stored(customer, D(2026, 6, 26), D(2026, 8, 25), 100, 120)
    bill(customer, D(2026, 6, 26), D(2026, 8, 25))
    data = csv(
        row(customer, "2026-06-26", "2026-07-20", 100, 110),
        row(customer, "2026-07-21", "2026-08-25", 110, 120),
    )
    assert import_readings(io.BytesIO(data)).ok
    assert [b[:2] for b in bills(customer)] == [(D(2026, 6, 26), D(2026, 8, 25))]
    return customer


def test_the_cis_bills_after_a_split_load_as_one_file(split):
    result = payments(
        bill_row(split, "2026-06-26", "2026-07-20"), bill_row(split, "2026-07-21", "2026-08-25")
    )
    assert errors(result) == []
    assert [b[:2] for b in bills(split)] == [
        (D(2026, 6, 26), D(2026, 7, 20)),
        (D(2026, 7, 21), D(2026, 8, 25)),
    ]


def test_a_stored_bill_the_file_does_not_re_date_still_refuses_an_overlap(split):
    result = payments(bill_row(split, "2026-06-26", "2026-07-20"))
    assert errors(result) == [
        "line 2: period_start: 保存済みの請求の使用期間(2026-06-26〜2026-08-25)と重なります。"
    ]
    assert [b[:2] for b in bills(split)] == [(D(2026, 6, 26), D(2026, 8, 25))]


def test_a_bill_re_dated_onto_another_bill_of_the_file_is_refused(customer):
    bill(customer, D(2026, 7, 21), D(2026, 8, 25))
    result = payments(
        bill_row(customer, "2026-06-26", "2026-07-20"),
        bill_row(customer, "2026-07-15", "2026-08-25"),
    )
    assert errors(result) == [
        "line 3: period_start: 2026-07-15〜2026-08-25 は 2行目の 2026-06-26〜2026-07-20 と重なります"
    ]
    assert [b[:2] for b in bills(customer)] == [(D(2026, 7, 21), D(2026, 8, 25))]


# §3: a period a correction split names each period that holds it now.

SPLIT_INTO = (
    "この使用期間は検針の訂正で 2026-08-26〜2026-09-25、2026-09-26〜2026-10-24 に分かれました。"
    "それぞれの使用期間の請求として取り込んでください。"
)


@pytest.fixture
def split_by_name(customer):
    """08-26〜10-25 read again as two periods, both rows naming it in replaces_period_end."""
    stored(customer, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    data = csv(
        row(customer, "2026-08-26", "2026-09-25", 120, 136, replaces="2026-10-25"),
        row(customer, "2026-09-26", "2026-10-24", 136, 152, replaces="2026-10-25"),
    )
    assert import_readings(io.BytesIO(data)).ok
    return customer


def test_a_bill_for_a_period_a_correction_split_is_told_each_period_now(split_by_name):
    result = payments(bill_row(split_by_name, "2026-08-26", "2026-10-25"))
    assert errors(result) == [f"line 2: period_end: {SPLIT_INTO}"]
    assert not Payment.objects.exists()


# §7: the admin's bill form says what the importer says of a corrected period.


def form_errors(customer, start: str, end: str) -> dict:
    fields = {"customer": customer.pk, "period_start": start, "period_end": end}
    fields |= {"billed_amount": 5000, "due_date": "2027-01-01", "method": "slip"}
    fields |= {"paid_amount": 0, "status": "unpaid"}
    form = PaymentForm(data=fields)
    assert not form.is_valid()
    return form.errors


def test_the_admin_bill_form_tells_the_period_a_correction_moved(customer):
    stored(customer, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    data = csv(row(customer, "2026-08-26", "2026-10-20", 120, 152, replaces="2026-10-25"))
    assert import_readings(io.BytesIO(data)).ok
    assert form_errors(customer, "2026-08-26", "2026-10-25") == {
        "period_end": [
            "この使用期間は検針の訂正で 2026-08-26〜2026-10-20 に変わりました。"
            "訂正後の使用期間で取り込んでください。"
        ]
    }


def test_the_admin_bill_form_tells_each_period_of_a_split(split_by_name):
    assert form_errors(split_by_name, "2026-08-26", "2026-10-25") == {"period_end": [SPLIT_INTO]}


# §8: a dry run's warnings do not say the rows were imported.


def test_a_dry_run_warns_of_a_bill_amount_without_saying_it_imported(customer):
    stored(customer, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    result = payments(bill_row(customer, "2026-08-26", "2026-10-25", 5066), dry_run=True)
    assert result.warnings == [
        "line 2: billed_amount: 請求額(5,066円)が検針の請求金額(5,000円)と異なります"
        "(取り込めます。誤りなら正しい請求額にしてから取り込んでください)。"
    ]


def test_a_dry_run_of_readings_warns_of_an_overlapped_bill_without_saying_it_imported(customer):
    stored(customer, D(2026, 6, 26), D(2026, 8, 25), 100, 120)
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    data = csv(row(customer, "2026-08-26", "2026-10-24"))
    result = import_readings(io.BytesIO(data), dry_run=True)
    assert result.warnings == [
        "line 2: period_start: 保存済みの請求(2026-08-26〜2026-10-25)と使用期間が重なります"
        "(取り込めます。取り込んだら請求・収納で請求の期間を確かめてください)。"
    ]


# a16d F2/F3: a bill a correction left behind blocks the bills of the corrected periods; the
# refusal says what it is and what to do.


def test_the_bills_of_a_split_period_name_the_bill_left_behind_and_how_to_clear_it(customer):
    stored(customer, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    data = csv(
        row(customer, "2026-08-26", "2026-09-25", 120, 136, replaces="2026-10-25"),
        row(customer, "2026-09-26", "2026-10-24", 136, 152, replaces="2026-10-25"),
    )
    assert import_readings(io.BytesIO(data)).ok  # the bill stays, warned
    pieces = (
        bill_row(customer, "2026-08-26", "2026-09-25"),
        bill_row(customer, "2026-09-26", "2026-10-24"),
    )
    left = (
        "保存済みの請求の使用期間(2026-08-26〜2026-10-25)と重なります。この請求は検針の訂正で"
        "使用期間が変わる前のもので、移せずに残っています。請求・収納で確かめて削除してから"
        "取り込んでください。"
    )
    assert errors(payments(*pieces)) == [
        f"line 2: period_start: {left}",
        f"line 3: period_start: {left}",
    ]
    Payment.objects.filter(customer=customer).delete()  # as staff do in 請求・収納
    assert payments(*pieces).inserted == 2


def test_a_bill_that_came_before_its_reading_is_not_called_left_behind(customer):
    bill(customer, D(2026, 10, 26), D(2026, 12, 25))
    assert errors(payments(bill_row(customer, "2026-11-01", "2026-11-30"))) == [
        "line 2: period_start: 保存済みの請求の使用期間(2026-10-26〜2026-12-25)と重なります。"
    ]
