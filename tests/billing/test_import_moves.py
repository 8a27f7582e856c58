"""Corrections that move periods: the bill moves with its period, and a boundary between two
stored periods moves with replaces_period_end only on the row whose end moves (issue 16)."""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from billing.imports import import_payments, import_readings
from billing.models import MeterReading, Payment
from tests.billing.test_import_order import stored
from tests.factories import CustomerFactory, MemberFactory, PaymentFactory, UtilityFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("new_year_2027")]

HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total,replaces_period_end"
)
PAYMENTS = (
    "utility,customer_number,period_start,period_end,billed_amount,due_date,method,paid_on,"
    "paid_amount,status"
)
D = datetime.date


@pytest.fixture
def customer():
    customer = CustomerFactory(utility=UtilityFactory(slug="kanazawa", billing_cycle_months=2))
    for start, end, previous, current in [
        (D(2026, 6, 26), D(2026, 8, 25), 100, 120),
        (D(2026, 8, 26), D(2026, 10, 25), 120, 152),
    ]:
        stored(customer, start, end, previous, current)
    return customer


def bill(customer, start: D, end: D, **fields) -> Payment:
    return PaymentFactory(customer=customer, period_start=start, period_end=end, **fields)


def row(customer, start: str, end: str, previous=120, current=150, replaces="") -> str:
    return (
        f"kanazawa,{customer.number},{start},{end},{end},{previous},{current},"
        f"{current - previous},3000,2000,454,5000,{replaces}"
    )


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def bills(customer) -> list[tuple]:
    return list(
        customer.payments.order_by("period_end").values_list("period_start", "period_end", "status")
    )


def readings(customer) -> list[tuple]:
    return list(customer.readings.order_by("period_end").values_list("period_start", "period_end"))


def command(path, *options) -> list[str]:
    out = io.StringIO()
    call_command("import_readings", str(path), *options, stdout=out)
    return out.getvalue().splitlines()


# F6: a bill left on a moved period.


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_bill_of_a_corrected_period_moves_with_it(customer, tmp_path, dry_run):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25), status=Payment.Status.TRANSFER_FAILED)
    path = tmp_path / "corrected.csv"
    path.write_bytes(csv(row(customer, "2026-08-26", "2026-10-24", replaces="2026-10-25")))
    lines = command(path, "-v", "2", *(["--dry-run"] if dry_run else []))
    assert (
        f"請求を移動: {customer.number} 2026-08-26〜2026-10-25 → 2026-08-26〜2026-10-24(2行目)"
        in lines
    )
    assert lines[-1].endswith(
        "1 行: 追加 0 件、更新 1 件、変更なし 0 件、要確認 0 件、置換で削除 1 件、"
        "訂正後の期間へ移した請求 1 件"
    )
    end = D(2026, 10, 25) if dry_run else D(2026, 10, 24)
    assert bills(customer) == [(D(2026, 8, 26), end, Payment.Status.TRANSFER_FAILED)]


def test_the_summary_says_nothing_of_bills_when_none_moved(customer):
    data = csv(row(customer, "2026-08-26", "2026-10-24", replaces="2026-10-25"))
    result = import_readings(io.BytesIO(data))
    assert result.ok and result.summary().endswith("置換で削除 1 件")


def test_a_bill_moves_when_a_row_keeping_the_end_moves_the_start(customer):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    result = import_readings(io.BytesIO(csv(row(customer, "2026-08-27", "2026-10-25"))))
    assert result.ok and result.bills_moved == 1
    assert bills(customer) == [(D(2026, 8, 27), D(2026, 10, 25), Payment.Status.PAID)]


def test_a_bill_already_on_the_corrected_period_stays_and_the_other_is_reported(customer):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25), billed_amount=5000, paid_amount=5000)
    bill(customer, D(2026, 8, 26), D(2026, 10, 24), billed_amount=4900, paid_amount=4900)
    data = csv(row(customer, "2026-08-26", "2026-10-24", replaces="2026-10-25"))
    result = import_readings(io.BytesIO(data))
    assert result.ok and result.bills_moved == 0
    assert result.warnings == [
        "line 2: period_end: 保存済みの請求(2026-08-26〜2026-10-25)は訂正後の"
        "使用期間 2026-08-26〜2026-10-24 へ移しませんでした(移す先が1つに決まらないか、"
        "その期間の請求がすでにあるためです)。請求・収納で確かめてください。"
    ]
    assert sorted(customer.payments.values_list("period_end", "billed_amount")) == [
        (D(2026, 10, 24), 4900),
        (D(2026, 10, 25), 5000),
    ]


def test_two_billed_periods_one_row_replaces_keep_their_bills_and_are_reported(customer):
    bill(customer, D(2026, 6, 26), D(2026, 8, 25))
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    data = csv(row(customer, "2026-08-20", "2026-10-24", 100, 150))
    result = import_readings(io.BytesIO(data), replace_overlapping=True)
    assert result.ok and (result.replaced, result.bills_moved) == (2, 0)
    assert len(result.warnings) == 2
    assert [end for _start, end, _status in bills(customer)] == [D(2026, 8, 25), D(2026, 10, 25)]


def test_a_payments_file_naming_the_period_before_its_correction_says_where_it_went(customer):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    data = csv(row(customer, "2026-08-26", "2026-10-24", replaces="2026-10-25"))
    assert import_readings(io.BytesIO(data)).ok
    old = (
        f"{PAYMENTS}\nkanazawa,{customer.number},2026-08-26,2026-10-25,5000,2026-11-26,"
        "口座振替,2026-11-26,5000,納付済\n"
    )
    result = import_payments(io.BytesIO(old.encode()))
    assert [str(e) for e in result.errors] == [
        "line 2: period_end: この使用期間は検針の訂正で 2026-08-26〜2026-10-24 に変わりました。"
        "訂正後の使用期間で取り込んでください。"
    ]
    assert bills(customer) == [(D(2026, 8, 26), D(2026, 10, 24), Payment.Status.PAID)]


def test_the_admin_lists_the_bills_a_correction_moves(customer, client):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    data = csv(row(customer, "2026-08-26", "2026-10-24", replaces="2026-10-25"))
    page = client.post(
        reverse("admin:billing_meterreading_import_csv"),
        {"file": SimpleUploadedFile("c.csv", data), "dry_run": "on"},
        follow=True,
    )
    text = page.content.decode()
    assert "訂正後の期間へ移した請求 1 件" in text
    assert f"請求を移動: {customer.number} 2026-08-26〜2026-10-25 → 2026-08-26〜2026-10-24" in text


# a16 F2: a billed period the file splits into pieces.


@pytest.mark.parametrize(
    ("first", "second", "replace_overlapping"),
    [("2026-10-25", "", False), ("2026-10-25", "2026-10-25", False), ("", "", True)],
    ids=["the first piece names it", "both pieces name it", "--replace-overlapping"],
)
def test_a_billed_period_split_in_two_keeps_its_bill_and_says_so(
    customer, first, second, replace_overlapping
):
    # The second piece keeps the stored end: the bill stays keyed on it, unmoved, and is named.
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    data = csv(
        row(customer, "2026-08-26", "2026-10-20", 120, 148, replaces=first),
        row(customer, "2026-10-21", "2026-10-25", 148, 152, replaces=second),
    )
    result = import_readings(io.BytesIO(data), replace_overlapping=replace_overlapping)
    assert result.ok, result.errors
    assert result.bills_moved == 0
    assert result.warnings[-1] == (
        "line 3: period_end: 保存済みの請求(2026-08-26〜2026-10-25)は訂正後の"
        "使用期間 2026-10-21〜2026-10-25 へ移しませんでした(移す先が1つに決まらないか、"
        "その期間の請求がすでにあるためです)。請求・収納で確かめてください。"
    )
    assert bills(customer) == [(D(2026, 8, 26), D(2026, 10, 25), Payment.Status.PAID)]
    assert readings(customer)[-2:] == [
        (D(2026, 8, 26), D(2026, 10, 20)),
        (D(2026, 10, 21), D(2026, 10, 25)),
    ]


# a16 F3: a period corrected in the admin's change form takes its bill along, as on import.


def changed_in_the_admin(client, customer, start: str, end: str):
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    reading = customer.readings.get(period_end=D(2026, 10, 25))
    data = {
        "customer": customer.pk,
        "period_start": start,
        "period_end": end,
        "read_on": end,
        "previous_index": 120,
        "current_index": 152,
        "usage_m3": 32,
        "water_charge": 3000,
        "sewer_charge": 2000,
        "tax": 454,
        "total": 5000,
        "hold_mail": "on",
    }
    url = reverse("admin:billing_meterreading_change", args=[reading.pk])
    return client.post(url, data, follow=True)


def test_a_period_end_corrected_in_the_admin_takes_its_bill_along(customer, client):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    page = changed_in_the_admin(client, customer, "2026-08-26", "2026-10-24")
    assert "請求(2026-08-26〜2026-10-25)を訂正後の使用期間 2026-08-26〜2026-10-24 へ移しました" in (
        page.content.decode()
    )
    assert bills(customer) == [(D(2026, 8, 26), D(2026, 10, 24), Payment.Status.PAID)]
    old = (
        f"{PAYMENTS}\nkanazawa,{customer.number},2026-08-26,2026-10-25,5000,2026-11-26,"
        "口座振替,2026-11-26,5000,納付済\n"
    )
    assert [str(e) for e in import_payments(io.BytesIO(old.encode())).errors] == [
        "line 2: period_end: この使用期間は検針の訂正で 2026-08-26〜2026-10-24 に変わりました。"
        "訂正後の使用期間で取り込んでください。"
    ]
    new = old.replace("2026-10-25", "2026-10-24")
    assert import_payments(io.BytesIO(new.encode())).ok


def test_a_period_start_corrected_in_the_admin_takes_its_bill_along(customer, client):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    changed_in_the_admin(client, customer, "2026-08-27", "2026-10-25")
    assert bills(customer) == [(D(2026, 8, 27), D(2026, 10, 25), Payment.Status.PAID)]


def test_a_bill_already_on_the_period_the_admin_corrects_to_stays_and_staff_are_told(
    customer, client
):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25), billed_amount=5000, paid_amount=5000)
    bill(customer, D(2026, 8, 26), D(2026, 10, 24), billed_amount=4900, paid_amount=4900)
    page = changed_in_the_admin(client, customer, "2026-08-26", "2026-10-24")
    assert (
        "保存済みの請求(2026-08-26〜2026-10-25)は訂正後の使用期間 2026-08-26〜2026-10-24 "
        "へ移しませんでした" in page.content.decode()
    )
    assert sorted(customer.payments.values_list("period_end", "billed_amount")) == [
        (D(2026, 10, 24), 4900),
        (D(2026, 10, 25), 5000),
    ]


# F2: moving the boundary between two stored periods.


@pytest.fixture
def two_periods(customer):
    MeterReading.objects.filter(customer=customer).delete()
    for start, end, previous, current in [
        (D(2026, 8, 26), D(2026, 9, 25), 100, 110),
        (D(2026, 9, 26), D(2026, 10, 25), 110, 120),
    ]:
        stored(customer, start, end, previous, current)
        bill(customer, start, end)
    return customer


@pytest.mark.parametrize(
    "boundary, index", [("2026-09-20", 108), ("2026-09-30", 112)], ids=["earlier", "later"]
)
def test_a_boundary_between_stored_periods_moves_with_one_replaces(two_periods, boundary, index):
    c, end = two_periods, D.fromisoformat(boundary)
    data = csv(
        row(c, "2026-08-26", boundary, 100, index, replaces="2026-09-25"),
        row(c, (end + datetime.timedelta(days=1)).isoformat(), "2026-10-25", index, 120),
    )
    result = import_readings(io.BytesIO(data))
    assert result.ok, result.errors
    assert (result.inserted, result.updated, result.replaced, result.bills_moved) == (0, 2, 1, 2)
    after = [(D(2026, 8, 26), end), (end + datetime.timedelta(days=1), D(2026, 10, 25))]
    assert readings(c) == after
    assert [(s, e) for s, e, _status in bills(c)] == after
    assert set(c.readings.values_list("flag", flat=True)) == {""}


def test_an_overlap_the_file_leaves_is_still_refused(two_periods):
    c = two_periods
    data = csv(
        row(c, "2026-08-26", "2026-09-20", 100, 108, replaces="2026-09-25"),
        row(c, "2026-09-18", "2026-10-25", 108, 120),
    )
    result = import_readings(io.BytesIO(data))
    assert [str(e) for e in result.errors] == [
        "line 3: period_start: 2026-09-18〜2026-10-25 は 2行目の 2026-08-26〜2026-09-20 と重なります"
    ]
    assert readings(c) == [(D(2026, 8, 26), D(2026, 9, 25)), (D(2026, 9, 26), D(2026, 10, 25))]


def test_a_row_overlapping_a_stored_period_no_row_replaces_is_still_refused(two_periods):
    result = import_readings(
        io.BytesIO(csv(row(two_periods, "2026-09-21", "2026-10-25", 108, 120)))
    )
    assert [str(e) for e in result.errors] == [
        "line 2: period_start: 2026-09-21〜2026-10-25 は保存済みの 2026-08-26〜2026-09-25 と重なります"
    ]


def test_with_replace_overlapping_a_bill_goes_to_the_new_period_not_to_its_neighbour(two_periods):
    # 09-21〜10-25 overlaps 08-26〜09-25 too, but it is the stored 10-25 period, updated.
    c = two_periods
    data = csv(
        row(c, "2026-08-26", "2026-09-20", 100, 108),
        row(c, "2026-09-21", "2026-10-25", 108, 120),
    )
    result = import_readings(io.BytesIO(data), replace_overlapping=True)
    assert result.ok, result.errors
    assert (result.replaced, result.bills_moved, result.warnings) == (1, 2, [])
    after = [(D(2026, 8, 26), D(2026, 9, 20)), (D(2026, 9, 21), D(2026, 10, 25))]
    assert [(s, e) for s, e, _status in bills(c)] == after


def test_a_payments_row_of_a_period_replaced_with_the_flag_names_only_the_new_period(two_periods):
    c = two_periods
    data = csv(
        row(c, "2026-08-26", "2026-09-20", 100, 108),
        row(c, "2026-09-21", "2026-10-25", 108, 120),
    )
    assert import_readings(io.BytesIO(data), replace_overlapping=True).ok
    old = (
        f"{PAYMENTS}\nkanazawa,{c.number},2026-08-26,2026-09-25,5000,2026-10-26,"
        "口座振替,2026-10-26,5000,納付済\n"
    )
    assert [str(e) for e in import_payments(io.BytesIO(old.encode())).errors] == [
        "line 2: period_end: この使用期間は検針の訂正で 2026-08-26〜2026-09-20 に変わりました。"
        "訂正後の使用期間で取り込んでください。"
    ]


def test_a_bill_of_a_period_only_updated_rows_overlap_stays_and_is_named(two_periods):
    # --replace-overlapping: the stored 10-25 period grows over 09-25's, which goes; its bill
    # has no period to go to and stays, named (it used to stay unsaid).
    c = two_periods
    result = import_readings(
        io.BytesIO(csv(row(c, "2026-09-21", "2026-10-25", 108, 120))), replace_overlapping=True
    )
    assert result.ok and (result.replaced, result.bills_moved) == (1, 1)  # 10-25's start moves
    assert [w.split("(")[0] for w in result.warnings] == ["line 2: period_end: 保存済みの請求"]
    assert [(s, e) for s, e, _status in bills(c)] == [
        (D(2026, 8, 26), D(2026, 9, 25)),
        (D(2026, 9, 21), D(2026, 10, 25)),
    ]


def test_a_bill_is_not_moved_onto_days_another_bill_already_covers(customer):
    """a16c F4: the next period's bill came before its reading; a correction lengthening this
    period into those days would have laid this period's bill over it (two bills, same days)."""
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    ahead = bill(customer, D(2026, 10, 27), D(2026, 12, 25))
    data = csv(row(customer, "2026-08-26", "2026-10-28", replaces="2026-10-25"))
    result = import_readings(io.BytesIO(data))
    assert result.ok and result.bills_moved == 0
    assert bills(customer) == [
        (D(2026, 8, 26), D(2026, 10, 25), Payment.Status.PAID),
        (ahead.period_start, ahead.period_end, Payment.Status.PAID),
    ]
    assert result.warnings[0].startswith(
        "line 2: period_end: 保存済みの請求(2026-08-26〜2026-10-25)は訂正後の使用期間 "
        "2026-08-26〜2026-10-28 へ移しませんでした"
    )


def test_the_admin_does_not_move_a_bill_onto_days_another_bill_covers_and_says_so(customer, client):
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    bill(customer, D(2026, 10, 27), D(2026, 12, 25))
    page = changed_in_the_admin(client, customer, "2026-08-26", "2026-10-28")
    assert (
        "保存済みの請求(2026-08-26〜2026-10-25)は訂正後の使用期間 2026-08-26〜2026-10-28 "
        "へ移しませんでした" in page.content.decode()
    )
    assert [end for _start, end, _status in bills(customer)] == [D(2026, 10, 25), D(2026, 12, 25)]
