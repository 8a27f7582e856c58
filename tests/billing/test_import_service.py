"""import_customers() and import_readings() against the database: all or nothing, upserts."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from billing.models import Customer, MeterReading
from billing.services import import_customers, import_readings
from tests.factories import UtilityFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JST = datetime.timezone(datetime.timedelta(hours=9))


@pytest.fixture(autouse=True)
def _summer_2025():
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        yield


@pytest.fixture
def utilities():
    return (
        UtilityFactory(slug="kanazawa", customer_number_digits=14),
        UtilityFactory(slug="nayoro", code_style=True),
    )


def load(service, name: str, **kwargs):
    with open(FIXTURES / name, "rb") as f:
        return service(f, **kwargs)


def counts(result) -> tuple[int, int, int, int]:
    return result.inserted, result.updated, result.unchanged, result.flagged


def test_customers_are_inserted_then_unchanged_on_reimport(utilities):
    kanazawa, nayoro = utilities
    first = load(import_customers, "customers_good.csv")
    assert first.ok and counts(first) == (5, 0, 0, 0)
    again = load(import_customers, "customers_cp932.csv", encoding="cp932")
    assert again.ok and counts(again) == (0, 0, 5, 0)
    assert Customer.objects.count() == 5
    hanako = Customer.objects.get(utility=kanazawa, number="10000000000002")
    assert (hanako.name_kana, hanako.phone) == ("ヤマダ ハナコ", "0762223333")
    assert nayoro.customers.count() == 2


def test_a_corrected_customer_is_updated_in_place(utilities):
    load(import_customers, "customers_good.csv")
    text = (FIXTURES / "customers_good.csv").read_text().replace("076-220-2111", "076-220-9999")
    result = import_customers(io.BytesIO(text.encode()))
    assert counts(result) == (0, 1, 4, 0)
    assert Customer.objects.get(number="10000000000001").phone == "0762209999"


def test_readings_upsert_counts_and_flags(utilities):
    load(import_customers, "customers_good.csv")
    first = load(import_readings, "readings_good.csv")
    assert first.ok and counts(first) == (10, 0, 0, 1)
    assert first.flagged_lines == [7]
    assert MeterReading.objects.count() == 10
    again = load(import_readings, "readings_crlf.csv")
    assert counts(again) == (0, 0, 10, 1)
    corrected = load(import_readings, "readings_corrected.csv")
    assert counts(corrected) == (0, 1, 9, 1)
    reading = MeterReading.objects.get(
        customer__number="20000000002", period_end=datetime.date(2025, 3, 25)
    )
    assert (reading.water_charge, reading.total) == (2644, 4866)
    assert MeterReading.objects.count() == 10


def test_rolled_over_meter_keeps_the_given_usage(utilities):
    load(import_customers, "customers_good.csv")
    load(import_readings, "readings_good.csv")
    reading = MeterReading.objects.get(
        customer__number="10000000000003", period_end=datetime.date(2025, 3, 25)
    )
    assert (reading.previous_index, reading.current_index, reading.usage_m3) == (10030, 3, 38)


def test_a_bad_last_line_writes_nothing(utilities):
    load(import_customers, "customers_good.csv")
    result = load(import_readings, "readings_bad_last_line.csv")
    assert not result.ok
    assert [str(e) for e in result.errors] == [
        "line 12: total: 水道料金と下水道使用料の合計(200)と一致しません。"
    ]
    assert MeterReading.objects.count() == 0


def test_a_bad_customer_file_writes_nothing_and_reports_the_repeated_number(utilities):
    result = load(import_customers, "customers_bad.csv")
    assert result.error_count == 10
    assert (
        str(result.errors[-1]) == "line 12: customer_number: 11行目と customer_number が同じです。"
    )
    assert Customer.objects.count() == 0


def test_every_problem_in_a_bad_readings_file_is_reported(utilities):
    load(import_customers, "customers_good.csv")
    result = load(import_readings, "readings_bad.csv")
    lines = [(e.line, e.column) for e in result.errors]
    assert (3, "customer_number") in lines  # no such contract
    assert (12, "period_end") in lines  # the same key as line 11
    assert str(result.errors[lines.index((12, "period_end"))]) == (
        "line 12: period_end: 11行目と customer_number・period_end が同じです。"
    )
    assert result.error_count == 13
    assert MeterReading.objects.count() == 0


def test_the_error_list_is_capped_but_every_error_is_counted(utilities):
    load(import_customers, "customers_good.csv")
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    bad = "kanazawa,10000000000001,2025-01-26,2025-03-25,2025-03-25,1,2,3,1,1,1,2"
    text = header + "\n" + "\n".join([bad] * 30) + "\n"
    result = import_readings(io.BytesIO(text.encode()), max_errors=10)
    assert [e.line for e in result.errors] == list(range(2, 12))
    assert (result.error_count, result.more_errors) == (30, 20)


def test_dry_run_counts_but_writes_nothing(utilities):
    load(import_customers, "customers_good.csv")
    result = load(import_readings, "readings_good.csv", dry_run=True)
    assert result.ok and result.dry_run and counts(result) == (10, 0, 0, 1)
    assert MeterReading.objects.count() == 0
    assert "[検査のみ・書き込みなし]" in result.summary()


def test_only_the_given_utility_may_be_imported(utilities):
    kanazawa, nayoro = utilities
    result = load(import_customers, "customers_good.csv", utility=nayoro)
    assert [e.line for e in result.errors] == [2, 3, 4]
    assert {e.column for e in result.errors} == {"utility"}
    assert Customer.objects.count() == 0


def test_a_reading_of_another_utilitys_customer_number_is_not_matched(utilities):
    load(import_customers, "customers_good.csv")
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    row = "nayoro,10000000000,2025-01-26,2025-02-25,2025-02-25,500,518,18,2534,1826,396,4360"
    result = import_readings(io.BytesIO(f"{header}\n{row}\n".encode()))
    assert [str(e) for e in result.errors] == [
        "line 2: customer_number: このお客様番号の契約がありません。先に契約を取り込んでください。"
    ]


def test_two_imports_in_one_transaction_do_not_collide(utilities):
    # The staging table is temporary and dropped each time: a second import starts clean.
    assert load(import_customers, "customers_good.csv").ok
    assert load(import_customers, "customers_bad.csv").error_count == 10
    assert counts(load(import_customers, "customers_bom.csv")) == (0, 0, 5, 0)


def test_progress_is_reported_in_rows(utilities):
    seen: list[int] = []
    load(import_customers, "customers_good.csv", progress=seen.append)
    assert sum(seen) == 5


def test_the_demo_csvs_hold_the_same_data_as_the_demo_fixture():
    call_command("loaddata", "utilities", "demo_billing", verbosity=0)
    with time_machine.travel(datetime.datetime(2026, 12, 1, 9, 0, tzinfo=JST), tick=False):
        customers = load(import_customers, "demo_customers.csv")
        readings = load(import_readings, "demo_readings.csv")
    assert counts(customers) == (0, 0, 48, 0)
    assert counts(readings) == (0, 0, 864, 0)
