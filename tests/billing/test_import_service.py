"""import_customers() and import_readings() against the database: all or nothing, upserts."""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from billing.imports import import_customers, import_payments, import_readings
from billing.models import Customer, MeterReading
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


def test_a_name_the_pdf_font_lacks_is_written_with_a_warning(utilities):
    # Issue 20 finding F3: 𠮷 printed as a blank box on the invoice with no word at import.
    text = (FIXTURES / "customers_good.csv").read_text().replace("水道 太郎", "𠮷田 大輔")
    result = import_customers(io.BytesIO(text.encode()))
    assert result.ok
    assert result.warnings == [
        "line 2: name: 「𠮷」はPDF(検針票・適格請求書など)の書体にないため、〓 と印字します"
        "(取り込みました。外字でなければ通常の字体に直してください)。"
    ]
    assert Customer.objects.get(number="10000000000001").name == "𠮷田 大輔"


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


def test_a_meter_below_its_previous_index_counts_at_most_round_its_register(utilities):
    """9990 → 15 is 25 m³ if a 4-digit register went round (less if the meter was replaced):
    26 is neither, and the line is refused by the rule the database applies to the file."""
    load(import_customers, "customers_good.csv")
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    row = "kanazawa,10000000000001,2025-01-01,2025-01-31,2025-01-31,9990,15,{},2000,1500,318,3500"
    refused = import_readings(io.BytesIO(f"{header}\n{row.format(26)}\n".encode()))
    assert [str(error) for error in refused.errors] == [
        "line 2: usage_m3: 指針が前回より小さい(メーター一巡・交換)ときの使用水量は25までです。"
    ]
    stored = import_readings(io.BytesIO(f"{header}\n{row.format(25)}\n".encode()))
    assert stored.ok and stored.flagged_lines == [2]
    assert MeterReading.objects.get(customer__number="10000000000001").usage_m3 == 25


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
    assert result.error_count == 14  # line 13 has three dates past 2099
    assert MeterReading.objects.count() == 0


def test_the_error_list_is_capped_but_every_error_is_counted(utilities):
    load(import_customers, "customers_good.csv")
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    # 30 periods of one customer, each with a usage that is not the difference of the indexes.
    bad = [
        f"kanazawa,10000000000001,{day:%Y-%m-%d},{day:%Y-%m-%d},{day:%Y-%m-%d},1,2,3,1,1,1,2"
        for day in (datetime.date(2025, 1, 1) + datetime.timedelta(days=n) for n in range(30))
    ]
    text = header + "\n" + "\n".join(bad) + "\n"
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
        payments = load(import_payments, "demo_payments.csv")
    assert counts(customers) == (0, 0, 48, 0)
    assert counts(readings) == (0, 0, 864, 0)
    assert counts(payments) == (0, 0, 864, 0)


def _mixed_file() -> str:
    """Readings of two customers, the second split in two runs, with odd rows in between."""
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    rows = []
    for number, index in (("10000000000001", 1000), ("10000000000002", 500)):
        for month in range(1, 7):
            usage = 10 + month
            rows.append(
                f"kanazawa,{number},2024-{month:02d}-01,2024-{month:02d}-28,2024-{month:02d}-28,"
                f"{index},{index + usage},{usage},2000,1500,318,3500"
            )
            index += usage
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    rows[4] = rows[4].replace("10000000000001", "10000000000001".translate(full_width))
    rows[8] = rows[8].replace(",2000,", ',"2000",')  # quoted
    rows.append(rows.pop(2))  # the first customer comes back at the end
    return header + "\n" + "\n".join(rows) + "\n"


def _reordered(text: str) -> str:
    """The same file with two columns swapped: no chunk is plainly well formed."""
    out = []
    for line in text.splitlines():
        fields = line.split(",")
        fields[0], fields[1] = fields[1], fields[0]
        out.append(",".join(fields))
    return "\n".join(out) + "\n"


def _stored():
    return list(
        MeterReading.objects.order_by("customer__number", "period_end").values_list(
            "customer__number", "period_end", "read_on", "usage_m3", "total"
        )
    )


@pytest.mark.parametrize("chunk_size", [64, 300, 1 << 20])
def test_blocks_of_any_size_and_columns_in_any_order_give_the_same_result(
    utilities, monkeypatch, chunk_size
):
    # The file is read in blocks; small blocks cut it in different places, and a quoted or
    # full-width field reads the same wherever it falls.
    monkeypatch.setattr("billing.imports.csvfile.BLOCK_SIZE", chunk_size)
    load(import_customers, "customers_good.csv")
    text = _mixed_file()
    fast = import_readings(io.BytesIO(text.encode()))
    fast_rows = _stored()
    MeterReading.objects.all().delete()
    slow = import_readings(io.BytesIO(_reordered(text).encode()))
    assert fast.ok and slow.ok, (fast.errors, slow.errors)
    assert counts(fast) == counts(slow) == (12, 0, 0, 0)
    assert _stored() == fast_rows and len(fast_rows) == 12


@pytest.mark.parametrize("chunk_size", [64, 1 << 20])
def test_problems_get_the_same_messages_whatever_the_block_size_or_column_order(
    utilities, monkeypatch, chunk_size
):
    monkeypatch.setattr("billing.imports.csvfile.BLOCK_SIZE", chunk_size)
    load(import_customers, "customers_good.csv")
    lines = _mixed_file().splitlines()

    def change(line: int, column: int, value: str) -> None:
        fields = lines[line - 1].split(",")
        fields[column] = value
        lines[line - 1] = ",".join(fields)

    change(4, 11, "3501")  # the total is not the sum
    change(7, 4, "2026-01-28")  # read_on in the future
    change(8, 1, "10000000000099")  # no such customer
    change(11, 4, "2023-12-31")  # read before the period began
    lines.append(lines[1])  # the same key again, far from the first
    text = "\n".join(lines) + "\n"
    fast = import_readings(io.BytesIO(text.encode()))
    slow = import_readings(io.BytesIO(_reordered(text).encode()))
    assert [str(e) for e in fast.errors] == [str(e) for e in slow.errors]
    assert [(e.line, e.column) for e in fast.errors] == [
        (4, "total"),
        (7, "read_on"),  # in the future (that alone, though also over 7 days after the period)
        (8, "customer_number"),
        (11, "read_on"),
        (14, "period_end"),
    ]
    assert str(fast.errors[-1]) == (
        "line 14: period_end: 2行目と customer_number・period_end が同じです。"
    )
    assert MeterReading.objects.count() == 0


def test_a_rolled_over_meter_is_flagged_in_a_well_formed_chunk(utilities):
    load(import_customers, "customers_good.csv")
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    rows = [
        "kanazawa,10000000000001,2025-01-01,2025-01-31,2025-01-31,99990,99995,5,2000,1500,318,3500",
        "kanazawa,10000000000001,2025-02-01,2025-02-28,2025-02-28,99995,12,17,2000,1500,318,3500",
        "kanazawa,10000000000001,2025-03-01,2025-03-31,2025-03-31,12,9,40,2000,1500,318,3500",
    ]
    result = import_readings(io.BytesIO((header + "\n" + "\n".join(rows) + "\n").encode()))
    assert result.ok and (result.flagged, result.flagged_lines) == (2, [3, 4])


def test_a_file_with_more_period_ends_than_the_date_cache_holds(utilities, monkeypatch):
    # The reader caches parsed dates up to a limit; dates beyond it are still checked.
    monkeypatch.setattr("billing.imports.rows.DATES_CACHED", 3)
    load(import_customers, "customers_good.csv")
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    days = [datetime.date(2024, 1, 1) + datetime.timedelta(days=n) for n in range(10)]
    rows = [
        f"kanazawa,10000000000001,{day},{day},{day},{100 + n},{101 + n},1,2000,1500,318,3500"
        for n, day in enumerate(days)
    ]
    result = import_readings(io.BytesIO((header + "\n" + "\n".join(rows) + "\n").encode()))
    assert result.ok and result.inserted == 10


@pytest.mark.parametrize("chunk_size", [64, 400, 1 << 20])
def test_rows_of_two_utilities_interleaved_in_one_file(utilities, monkeypatch, chunk_size):
    # A chunk holding rows of two utilities (numbers of two lengths) is checked row by row;
    # the result is the same as the file's with no fast path at all.
    monkeypatch.setattr("billing.imports.csvfile.BLOCK_SIZE", chunk_size)
    load(import_customers, "customers_good.csv")
    header, *rows = (FIXTURES / "readings_good.csv").read_text().splitlines()
    kanazawa, nayoro = rows[:6], rows[6:]
    mixed = [kanazawa[0], nayoro[0], kanazawa[1], nayoro[1], *kanazawa[2:], *nayoro[2:]]
    text = "\n".join([header, *mixed]) + "\n"
    fast = import_readings(io.BytesIO(text.encode()))
    fast_rows = _stored()
    MeterReading.objects.all().delete()
    slow = import_readings(io.BytesIO(_reordered(text).encode()))
    assert fast.ok and slow.ok, (fast.errors, slow.errors)
    assert counts(fast) == counts(slow) == (10, 0, 0, 1)
    assert fast.flagged_lines == slow.flagged_lines == [9]
    assert _stored() == fast_rows and len(fast_rows) == 10


@pytest.mark.parametrize("chunk_size", [64, 1 << 20])
def test_a_repeated_row_is_the_only_error_of_a_well_formed_file(utilities, monkeypatch, chunk_size):
    monkeypatch.setattr("billing.imports.csvfile.BLOCK_SIZE", chunk_size)
    load(import_customers, "customers_good.csv")
    header, *rows = (FIXTURES / "readings_good.csv").read_text().splitlines()
    rows.insert(3, rows[2])  # line 5 repeats line 4, in a file sorted as a CIS exports it
    result = import_readings(io.BytesIO("\n".join([header, *rows, ""]).encode()))
    assert [str(e) for e in result.errors] == [
        "line 5: period_end: 4行目と customer_number・period_end が同じです。"
    ]
    assert result.error_count == 1 and type(result.error_count) is int
    assert MeterReading.objects.count() == 0
