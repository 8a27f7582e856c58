"""A reading typed in the admin while an import runs: no overlap is ever stored (PostgreSQL).

The import checks stored periods before it writes; a reading committed by another writer in
between makes the database refuse the import's insert. The import then closes the table to
other writers, checks again, and either refuses the line or updates the new reading in place.
An admin save the database refuses for such a writer answers its form.
"""

from __future__ import annotations

import datetime
import io
import threading

import pytest
import time_machine
from django.db import IntegrityError, connection
from django.urls import reverse

from billing.admin import MeterReadingForm
from billing.imports import import_readings, readings
from billing.models import MeterReading
from tests.factories import CustomerFactory, MemberFactory, PaymentFactory, UtilityFactory

pytestmark = pytest.mark.django_db(transaction=True)
JST = datetime.timezone(datetime.timedelta(hours=9))
HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total\n"
)
D = datetime.date


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs a second writer on the same database: CI runs this on PostgreSQL")


def _typed_in_the_admin(customer, start: datetime.date, end: datetime.date) -> None:
    def write() -> None:
        try:
            MeterReading.objects.create(
                customer=customer,
                period_start=start,
                period_end=end,
                read_on=end,
                previous_index=120,
                current_index=140,
                usage_m3=20,
                water_charge=3000,
                sewer_charge=2000,
                tax=454,
                total=5000,
            )
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    writer.join()


def _import_while_the_admin_writes(monkeypatch, customer, start, end) -> readings.ImportResult:
    merge = readings._merge

    def merge_after_the_admin(*args, **kwargs):
        _typed_in_the_admin(customer, start, end)  # committed after the checks, before the write
        return merge(*args, **kwargs)

    monkeypatch.setattr(readings, "_merge", merge_after_the_admin)
    row = f"kanazawa,{customer.number},2026-08-26,2026-10-25,2026-10-25,100,120,20,3000,2000,454,5000\n"
    with time_machine.travel(datetime.datetime(2027, 1, 5, 9, 0, tzinfo=JST), tick=False):
        return import_readings(io.BytesIO((HEADER + row).encode()))


def test_an_overlapping_reading_typed_meanwhile_makes_the_import_refuse_its_line(monkeypatch):
    customer = CustomerFactory(utility=UtilityFactory(slug="kanazawa"))
    result = _import_while_the_admin_writes(monkeypatch, customer, D(2026, 9, 26), D(2026, 11, 25))
    assert [str(e) for e in result.errors] == [
        "line 2: period_start: 2026-08-26〜2026-10-25 は保存済みの 2026-09-26〜2026-11-25 と重なります"
    ]
    stored = list(MeterReading.objects.values_list("period_start", "period_end"))
    assert stored == [(D(2026, 9, 26), D(2026, 11, 25))]


def test_the_same_period_typed_before_the_write_is_updated_in_place(monkeypatch):
    customer = CustomerFactory(utility=UtilityFactory(slug="kanazawa"))
    result = _import_while_the_admin_writes(monkeypatch, customer, D(2026, 8, 26), D(2026, 10, 25))
    assert result.ok, result.errors
    stored = list(MeterReading.objects.values_list("period_end", "previous_index"))
    assert stored == [(D(2026, 10, 25), 100)]


def test_a_bill_left_behind_is_warned_of_once_when_the_write_is_retried(monkeypatch):
    """A correction whose bill cannot follow it (the new period has one), in a file whose write
    the database refuses once, at its end (a key another writer committed meanwhile): the retry
    writes the file and the warning is given once, not once per attempt."""
    corrected = CustomerFactory(utility=UtilityFactory(slug="kanazawa"))
    _typed_in_the_admin(corrected, D(2026, 8, 26), D(2026, 10, 25))
    for end in (D(2026, 10, 25), D(2026, 10, 24)):
        PaymentFactory(customer=corrected, period_start=D(2026, 8, 26), period_end=end)
    write, attempts = readings._write, []

    def refused_the_first_time(*args, **kwargs):
        write(*args, **kwargs)
        attempts.append(1)
        if len(attempts) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(readings, "_write", refused_the_first_time)
    data = HEADER.replace("\n", ",replaces_period_end\n") + (
        f"kanazawa,{corrected.number},2026-08-26,2026-10-24,2026-10-24,100,120,20,3000,2000,"
        "454,5000,2026-10-25\n"
    )
    with time_machine.travel(datetime.datetime(2027, 1, 5, 9, 0, tzinfo=JST), tick=False):
        result = import_readings(io.BytesIO(data.encode()))
    assert result.ok and len(attempts) == 2, result.errors
    assert result.warnings == [
        "line 2: period_end: 保存済みの請求(2026-08-26〜2026-10-25)は訂正後の使用期間 "
        "2026-08-26〜2026-10-24 へ移しませんでした(移す先が1つに決まらないか、"
        "その期間の請求がすでにあるためです)。請求・収納で確かめてください。"
    ]


def _admin_saves_after_another_writer(client, monkeypatch, customer, other: tuple, data: dict):
    """POST the admin's add form; between its check and its save another writer commits."""
    validate, checked = MeterReadingForm.validate_unique, []

    def checked_then_the_other_writer(form) -> None:
        validate(form)  # the form's last check
        if not checked:  # the first check only: the other writer commits once
            checked.append(form)
            _typed_in_the_admin(customer, *other)

    monkeypatch.setattr(MeterReadingForm, "validate_unique", checked_then_the_other_writer)
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    row = {"customer": customer.pk, "previous_index": 120, "current_index": 140, "usage_m3": 20}
    amounts = {"water_charge": 3000, "sewer_charge": 2000, "tax": 454, "total": 5000}
    return client.post(reverse("admin:billing_meterreading_add"), {**row, **amounts, **data})


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (
            (D(2026, 9, 1), D(2026, 10, 31)),
            "2026-08-26〜2026-10-25 は保存済みの 2026-09-01〜2026-10-31 と重なります",
        ),
        (
            (D(2026, 8, 26), D(2026, 10, 25)),
            "この 契約 と 使用期間(終了) を持った 検針・料金 が既に存在します。",
        ),
    ],
    ids=["overlapping", "same period (a double click)"],
)
def test_an_admin_save_beaten_by_another_writer_answers_the_form_not_a_500(
    client, monkeypatch, other, message
):
    customer = CustomerFactory(utility=UtilityFactory(slug="kanazawa"))
    period = {"period_start": "2026-08-26", "period_end": "2026-10-25", "read_on": "2026-10-25"}
    page = _admin_saves_after_another_writer(client, monkeypatch, customer, other, period)
    assert page.status_code == 200
    assert message in page.content.decode()
    stored = list(MeterReading.objects.values_list("period_start", "period_end"))
    assert stored == [other]
