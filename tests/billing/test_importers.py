"""The row rule without a database: every check on small files from fixtures/.

``readings`` reads a file as the importer does and applies the Python half of the rule
(rows.parse_reading, then rows.check_reading) to each row on its own.
"""

from __future__ import annotations

import datetime
import io
from pathlib import Path

import pytest

from billing.imports.csvfile import RowError, records
from billing.imports.rows import (
    CUSTOMER_COLUMNS,
    READING_COLUMNS,
    READING_OPTIONAL,
    CustomerRow,
    Reading,
    UtilityRules,
    check_reading,
    parse_customer,
    parse_reading,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
UTILITIES = {
    "kanazawa": UtilityRules(1, "kanazawa", 14, billing_cycle_months=2),
    "nayoro": UtilityRules(2, "nayoro", 11, billing_cycle_months=1),
}
TODAY = datetime.date(2025, 12, 31)
READING_HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total\n"
)
GOOD_READING = (
    "kanazawa,10000000000001,2025-01-26,2025-03-25,2025-03-25,1240,1278,38,5350,3894,840,9244\n"
)


def _readings(stream, encoding=None, utilities=UTILITIES) -> list:
    found: list = []
    dates: dict = {}  # shared, as in the importer: rows after the first take the short test
    for record in records(stream, READING_COLUMNS, READING_OPTIONAL, encoding):
        if isinstance(record, RowError):
            found.append(record)
            continue
        reading = parse_reading(record, utilities, dates)
        if isinstance(reading, list):
            found += reading
        else:
            found += check_reading(reading, TODAY) or [reading]
    return found


def _customers(stream, encoding=None, utilities=UTILITIES) -> list:
    found: list = []
    for record in records(stream, CUSTOMER_COLUMNS, encoding=encoding):
        row = record if isinstance(record, RowError) else parse_customer(record, utilities)
        found += row if isinstance(row, list) else [row]
    return found


def readings(text: str | bytes, encoding: str | None = None, utilities=UTILITIES) -> list:
    data = text.encode() if isinstance(text, str) else text
    return _readings(io.BytesIO(data), encoding, utilities)


def customers_file(name: str, encoding: str | None = None) -> list:
    with open(FIXTURES / name, "rb") as f:
        return _customers(f, encoding)


def readings_file(name: str, encoding: str | None = None) -> list:
    with open(FIXTURES / name, "rb") as f:
        return _readings(f, encoding)


def errors(rows: list) -> list[str]:
    return [str(r) for r in rows if isinstance(r, RowError)]


def test_good_customers_are_normalised():
    rows = customers_file("customers_good.csv")
    assert errors(rows) == []
    first, second, third = rows[:3]
    assert first == CustomerRow(
        2,
        1,
        "10000000000001",
        "水道 太郎",
        "スイドウ タロウ",
        "金沢市広坂1丁目1-1",
        "",
        "0762202111",
        20,
        "54321",
    )
    # half-width kana, full-width digits and hyphens in the phone, full-width address digits
    assert (second.name_kana, second.phone, second.address) == (
        "ヤマダ ハナコ",
        "0762223333",
        "金沢市本町2丁目3-4",
    )
    # a quoted comma in the name; a hyphenated customer number; a full-width space in kana
    assert (third.name, third.customer_number, third.name_kana) == (
        "佐藤, 一郎",
        "10000000000003",
        "サトウ イチロウ",
    )
    assert [r.utility_id for r in rows] == [1, 1, 1, 2, 2]


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("customers_bom.csv", None),
        ("customers_bom.csv", "utf-8-sig"),
        ("customers_bom.csv", "utf-8"),
        ("customers_cp932.csv", "cp932"),
    ],
)
def test_bom_and_cp932_with_crlf_read_the_same_as_utf8(name, encoding):
    assert customers_file(name, encoding) == customers_file("customers_good.csv")


def test_cp932_file_read_as_utf8_names_the_line_that_does_not_decode():
    rows = customers_file("customers_cp932.csv")
    assert errors(rows)[0].startswith("line 2: encoding: utf-8 として読めないバイト(0x90)")
    assert not [r for r in rows if isinstance(r, CustomerRow)]


def test_undecodable_byte_in_the_middle_is_reported_with_its_line():
    data = (READING_HEADER + GOOD_READING).encode() + b"\xff\xfe,broken\n" + GOOD_READING.encode()
    assert [str(e)[:25] for e in readings(data) if isinstance(e, RowError)] == [
        "line 3: encoding: utf-8 と"
    ]


def test_every_customer_check():
    assert errors(customers_file("customers_bad.csv")) == [
        "line 2: utility: 事業者「tokyo」は登録されていません。",
        "line 3: customer_number: 14桁の数字で入力してください(4桁です)。",
        "line 4: customer_number: 数字で入力してください。",
        "line 5: name: 入力してください。",
        "line 6: name_kana: カタカナで入力してください。",
        "line 7: phone: 電話番号は数字10〜11桁で入力してください。",
        "line 8: meter_diameter_mm: 口径は 13、20、25、30、40、50、75、100、150 のいずれかです。",
        "line 9: meter_diameter_mm: 負の数は指定できません。",
        "line 10: row: 列の数が4個です(9個必要です)。",
    ]  # line 12 repeats line 11's number: that check needs the database (test_import_service)


def test_good_readings_in_utf8_crlf_and_bom_are_the_same_rows():
    rows = readings_file("readings_good.csv")
    assert errors(rows) == []
    assert readings_file("readings_crlf.csv") == rows
    assert readings_file("readings_bom.csv") == rows
    assert rows[0] == Reading(
        2, 1, "10000000000001", "2024-11-26", "2025-01-25", "2025-01-25",
        1200, 1240, 40, 5632, 4136, 888, 9768, 69, None,
    )  # fmt: skip


def test_a_meter_that_rolled_over_keeps_its_usage():
    rows = readings_file("readings_good.csv")
    assert [(r.line, r.usage_m3) for r in rows if r.current_index < r.previous_index] == [(7, 38)]


def test_every_reading_check():
    assert errors(readings_file("readings_bad.csv")) == [
        "line 2: utility: 事業者「tokyo」は登録されていません。",
        "line 4: period_start: 日付は YYYY-MM-DD で入力してください。",
        "line 5: period_end: 使用期間(開始)より前の日付です。",
        "line 6: read_on: 検針日は使用期間(終了)の前後7日以内の日付です。",
        "line 7: previous_index: 負の数は指定できません。",
        "line 8: usage_m3: 指針の差(20)と一致しません。",
        "line 9: total: 水道料金と下水道使用料の合計(5000)と一致しません。",
        "line 10: tax: 請求金額を超えています。",
        "line 13: period_start: 1900〜2099年の日付で入力してください。",
        "line 13: period_end: 1900〜2099年の日付で入力してください。",
        "line 13: read_on: 1900〜2099年の日付で入力してください。",
        "line 14: current_index: 整数で入力してください。",
    ]  # unknown customer (line 3) and the repeated key (line 12) are database checks


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (GOOD_READING.replace("2025-03-25,1240", "2025-3-25,1240"), "line 2: read_on: 日付は"),
        (GOOD_READING.replace("2025-03-25,2025", "20250325,2025"), "line 2: period_end: 日付は"),
        (GOOD_READING.replace(",38,", ",+38,"), "line 2: usage_m3: 整数で入力"),
        (GOOD_READING.replace(",38,", ",3.8,"), "line 2: usage_m3: 整数で入力"),
        (GOOD_READING.replace(",9244", ",99999999999"), "line 2: total: 値が大きすぎます。"),
        (GOOD_READING.replace("10000000000001", "1000000000001"), "line 2: customer_number: 14桁"),
    ],
)
def test_values_that_are_not_plain_are_refused(row, expected):
    assert errors(readings(READING_HEADER + row))[0].startswith(expected)


def test_full_width_digits_are_read_as_numbers():
    full_width = str.maketrans("0123456789", "０１２３４５６７８９")
    row = GOOD_READING.replace(",38,", ",38,".translate(full_width)).replace(
        "10000000000001", "10000000000001".translate(full_width)
    )
    (reading,) = readings(READING_HEADER + row)
    assert (reading.usage_m3, reading.customer_number) == (38, "10000000000001")


def test_columns_may_come_in_any_order():
    header = READING_HEADER.strip().split(",")
    values = GOOD_READING.strip().split(",")
    text = ",".join(header[::-1]) + "\n" + ",".join(values[::-1]) + "\n"
    assert readings(text) == readings(READING_HEADER + GOOD_READING)


def test_missing_and_unknown_columns_are_named():
    text = READING_HEADER.replace("tax,", "").replace("total", "total,note") + GOOD_READING
    assert errors(readings(text)) == [
        "line 1: note: 不明な列「note」があります。",
        "line 1: tax: 列「tax」がありません。",
    ]


def test_an_empty_file_has_no_header():
    assert errors(readings(b"")) == ["line 1: header: ヘッダー行がありません。"]


def test_blank_lines_are_not_rows():
    rows = readings(READING_HEADER + "\n" + GOOD_READING + "\n")
    assert [r.line for r in rows] == [3]


def test_empty_cells_a_spreadsheet_keeps_are_not_rows_or_columns():
    """Saved from Excel: a comma after the last column on every line, rows of empty cells at
    the bottom, a row of spaces (issue 16's attack, F4)."""
    text = READING_HEADER.strip() + ",,\n" + GOOD_READING.strip() + ",,\n" + ",,,,,,,,,,,,,\n   \n"
    rows = readings(text)
    assert errors(rows) == []
    assert rows == readings(READING_HEADER + GOOD_READING)


def test_a_row_of_only_commas_is_a_blank_line_even_without_trailing_header_cells():
    rows = readings(READING_HEADER + GOOD_READING + ",,,,,,,,,,,\n" + " , ,\u3000\n")
    assert errors(rows) == [] and len(rows) == 1


def test_a_staff_member_of_another_utility_cannot_load_its_rows():
    only_nayoro = {
        "kanazawa": UtilityRules(1, "kanazawa", 14, allowed=False),
        "nayoro": UtilityRules(2, "nayoro", 11),
    }
    assert errors(readings(READING_HEADER + GOOD_READING, utilities=only_nayoro)) == [
        "line 2: utility: 事業者「kanazawa」の行は取り込めません(担当外の事業者です)。"
    ]


def test_all_problems_of_one_row_are_reported():
    row = "kanazawa,123,2025-13-01,2025-03-25,2025-03-25,-5,10,x,1,1,3,2\n"
    assert [str(e).split(":")[1].strip() for e in readings(READING_HEADER + row)] == [
        "customer_number",
        "period_start",
        "previous_index",
        "usage_m3",
    ]  # tax over total is for a row whose fields are each right


def test_an_unknown_encoding_is_refused():
    with pytest.raises(ValueError):
        readings(READING_HEADER, encoding="latin-1")


def test_a_phone_written_with_parentheses_is_read_as_digits():
    header = "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,meter_number\n"
    row = "kanazawa,10000000000001,水道 太郎,スイドウ タロウ,金沢市,,076（220）2111,20,1\n"
    (customer,) = _customers(io.BytesIO((header + row).encode()))
    assert customer.phone == "0762202111"


@pytest.mark.parametrize("value", ["", "1234567890", "3.8", "-1"])
def test_a_row_after_one_with_the_same_dates_is_checked_as_closely(value):
    # The second row's dates are known good; its numbers still get every check.
    row = GOOD_READING.replace(",38,", f",{value},")
    after_a_good_row = errors(readings(READING_HEADER + GOOD_READING + row))
    alone = errors(readings(READING_HEADER + row))
    assert after_a_good_row == [e.replace("line 2:", "line 3:") for e in alone] != []
