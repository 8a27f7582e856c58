"""Blocks of plain rows go to the staging table whole: the same verdicts, numbers and values.

Blocks are made small here (``BLOCK_SIZE``, and ``ROWS_AT_ONCE`` on SQLite) so that a short
file has many of them; each test imports the file with the block path and again row by row, and
compares what a user sees.
"""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine

from billing.imports import csvfile, import_readings, readings, stage
from billing.models import MeterReading
from tests.factories import CustomerFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JST = datetime.timezone(datetime.timedelta(hours=9))
HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total\n"
)
ENDS = ["2025-01-25", "2025-03-25", "2025-05-25", "2025-07-25"]
STARTS = ["2024-11-26", "2025-01-26", "2025-03-26", "2025-05-26"]


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch):
    monkeypatch.setattr(csvfile, "BLOCK_SIZE", 400)  # about four rows a block
    monkeypatch.setattr(stage, "ROWS_AT_ONCE", 2)  # SQLite: a block's rows, two to an INSERT
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        yield


@pytest.fixture
def numbers() -> dict[str, list[str]]:
    kanazawa = UtilityFactory(slug="kanazawa", customer_number_digits=14, billing_cycle_months=2)
    nayoro = UtilityFactory(slug="nayoro", customer_number_digits=11, billing_cycle_months=2)
    return {
        "kanazawa": [CustomerFactory(utility=kanazawa).number for _ in range(6)],
        "nayoro": [CustomerFactory(utility=nayoro).number for _ in range(2)],
    }


def rows(slug: str, number: str) -> list[str]:
    index, lines = 100, []
    for start, end in zip(STARTS, ENDS, strict=True):
        lines.append(
            f"{slug},{number},{start},{end},{end},{index},{index + 20},20,3000,2000,454,5000"
        )
        index += 20
    return lines


def run(data: str, plain: bool, monkeypatch) -> tuple[list[str], str, list[tuple]]:
    """Import ``data`` by blocks (``plain``) or row by row: errors, summary and stored rows."""
    used = []
    real = readings.plain_lines

    def spy(*args, **kwargs):
        lines = real(*args, **kwargs)
        used.append(lines is not None)
        return lines

    with monkeypatch.context() as patch:
        patch.setattr(readings, "plain_lines", spy)
        if not plain:
            patch.setattr(readings, "plain_block", lambda rules: None)
        result = import_readings(io.BytesIO(data.encode()))
    stored = sorted(
        MeterReading.objects.values_list(
            "customer__number", "period_start", "period_end", "read_on", "previous_index",
            "current_index", "usage_m3", "water_charge", "sewer_charge", "tax", "total", "flag",
        )
    )  # fmt: skip
    MeterReading.objects.all().delete()
    assert any(used) is plain  # the block path did take blocks, or none was offered
    return [str(e) for e in result.errors], result.summary(), stored


def test_a_clean_file_stores_the_same_rows_by_blocks(numbers, monkeypatch):
    lines = [row for n in numbers["kanazawa"] for row in rows("kanazawa", n)]
    lines[9] = lines[9].replace(",120,140,", ",0120,0140,")  # leading zeros are still numbers
    data = HEADER + "\n".join(lines) + "\n"
    by_blocks = run(data, True, monkeypatch)
    assert by_blocks == run(data, False, monkeypatch)
    assert by_blocks[:2] == ([], "24 行: 追加 24 件、更新 0 件、変更なし 0 件、要確認 0 件")
    assert len(by_blocks[2]) == 24


def test_errors_after_blocks_carry_their_own_line_numbers(numbers, monkeypatch):
    lines = [row for n in numbers["kanazawa"] for row in rows("kanazawa", n)]
    lines[13] = lines[13].replace("2025-03-25,2025-03-25", "2025-02-30,2025-03-25")
    lines[17] = '"' + lines[17].replace(",", '","') + '"'  # quoted: read row by row
    lines[19] = lines[19].replace(",3000,", ",３０００,")  # full-width digits are read too
    lines[21] = ""  # a blank line
    lines[23] = lines[23].replace(",5000", ",5001")  # refused by the SQL rule
    data = HEADER + "\r\n".join(lines) + "\r\n"
    by_blocks = run(data, True, monkeypatch)
    assert by_blocks == run(data, False, monkeypatch)
    assert by_blocks[0] == [
        "line 15: period_end: 存在しない日付です。",
        "line 25: total: 水道料金と下水道使用料の合計(5000)と一致しません。",
    ]


def test_two_utilities_and_a_field_running_on_across_blocks(numbers, monkeypatch):
    lines = [row for n in numbers["kanazawa"][:3] for row in rows("kanazawa", n)]
    lines += [row for n in numbers["nayoro"] for row in rows("nayoro", n)]
    lines[4] = lines[4].replace("kanazawa,", '"kanaz\n' + "9," * 150 + 'awa",', 1)
    # A quoted field holding what looks like a dozen rows (whole blocks): one bad number.
    inner = rows("kanazawa", numbers["kanazawa"][0]) * 3
    lines[8:8] = ['kanazawa,"', *inner, '",' + lines[8].split(",", 2)[2]]
    lines += [row for n in numbers["kanazawa"][3:] for row in rows("kanazawa", n)]
    lines[-1] = lines[-1].replace(",454,", ",5454,")  # tax over the total
    data = HEADER + "\n".join(lines)  # no newline at the end
    by_blocks = run(data, True, monkeypatch)
    assert by_blocks == run(data, False, monkeypatch)
    assert by_blocks[0][0].startswith("line 6: utility: 事業者「kanaz\n9,9,")
    assert by_blocks[0][1:] == [
        "line 11: customer_number: 数字で入力してください。",
        "line 48: tax: 請求金額を超えています。",
    ]


@pytest.mark.parametrize(("bom", "newline"), [("", "\n"), ("\ufeff", "\r\n")])
def test_the_rows_under_the_header_are_taken_whole_too(numbers, monkeypatch, bom, newline):
    """A file of one block (most files): its rows need not be read one by one either."""
    monkeypatch.setattr(csvfile, "BLOCK_SIZE", 1 << 20)
    lines = [row for n in numbers["kanazawa"] for row in rows("kanazawa", n)]
    lines[5] = lines[5].replace(",5000", ",5001")  # refused by the SQL rule
    data = bom + HEADER.replace("\n", newline) + newline.join(lines) + newline
    by_blocks = run(data, True, monkeypatch)
    assert by_blocks == run(data, False, monkeypatch)
    assert by_blocks[0] == ["line 7: total: 水道料金と下水道使用料の合計(5000)と一致しません。"]
