"""One rule for a reading: the Python check and the SQL predicate give the same verdicts.

Hypothesis generates rows, valid and each kind of invalid, writes them in every encoding and
quoting the reader accepts, and sends them through the whole import (the SQL predicate on
this test's database, SQLite or PostgreSQL), row by row or in blocks of plain rows. The errors must be exactly those the Python rule
(rows.parse_reading, then rows.check_reading) gives for each row on its own.
"""

from __future__ import annotations

import datetime
import io
import unicodedata

import pytest
import time_machine
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.imports import csvfile, import_readings, stage
from billing.imports.csvfile import Record
from billing.imports.result import utility_rules
from billing.imports.rows import (
    READING_COLUMNS,
    Reading,
    bad_reading_sql,
    check_reading,
    parse_reading,
)
from billing.models import MeterReading
from tests.factories import CustomerFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JST = datetime.timezone(datetime.timedelta(hours=9))
TODAY = datetime.date(2025, 8, 1)
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
FULL_WIDTH_ASCII = {c: c + 0xFEE0 for c in range(0x21, 0x7F) if c != ord("-")}


@pytest.fixture
def numbers():
    utility = UtilityFactory(slug="kanazawa", customer_number_digits=14, billing_cycle_months=2)
    return [CustomerFactory(utility=utility).number for _ in range(3)]


@st.composite
def readings(draw, numbers: list[str]) -> dict[str, str]:
    """A row whose fields are each right; the ties between them may be wrong, as drawn."""
    end = TODAY - datetime.timedelta(days=draw(st.integers(-3, 400)))
    days = draw(st.sampled_from([1, 30, 61, 69, 70, 90, 0, -1]))
    start = end - datetime.timedelta(days=days - 1)
    read_on = end + datetime.timedelta(days=draw(st.sampled_from([0, 0, 3, -7, 7, 8, -8, 20])))
    # A register near its top (9990) may go round: at most 10000 - previous + current then.
    previous = draw(st.one_of(st.integers(0, 5000), st.integers(9900, 9999)))
    current = draw(st.one_of(st.integers(previous, previous + 80), st.integers(0, previous)))
    most = current + 10 ** len(str(previous)) - previous
    rolled = st.one_of(st.integers(0, 90), st.sampled_from([most - 1, most, most + 1]))
    usage = current - previous if current >= previous else draw(rolled)
    usage += draw(st.sampled_from([0, 0, 0, 1]))
    water, sewer = draw(st.integers(0, 20000)), draw(st.integers(0, 20000))
    total = water + sewer + draw(st.sampled_from([0, 0, 0, 1]))
    tax = draw(st.one_of(st.just(total * 10 // 110), st.integers(total + 1, total + 9)))
    return {
        "utility": "kanazawa",
        "customer_number": draw(st.sampled_from(numbers)),
        "period_start": start.isoformat(),
        "period_end": end.isoformat(),
        "read_on": read_on.isoformat(),
        **dict(
            zip(
                READING_COLUMNS[5:],
                map(str, (previous, current, usage, water, sewer, tax, total)),
                strict=True,
            )
        ),
    }


@st.composite
def spoiled(draw, row: dict[str, str]) -> dict[str, str]:
    """The row, perhaps with one field wrong in a way a CIS export or a hand edit could be."""
    column = draw(st.sampled_from(READING_COLUMNS))
    value = row[column]
    kind = draw(
        st.sampled_from(["none", "none", "full-width", "text", "negative", "huge", "date", "empty"])
    )
    spoilt = {
        "none": value,
        "empty": "",
        "full-width": value.translate(FULL_WIDTH),
        "text": "abc",
        "negative": "-5",
        "huge": "99999999999",
        "date": draw(st.sampled_from(["2025/01/25", "2100-01-01", "1899-12-31", "2025-02-30"])),
    }[kind]
    return {**row, column: spoilt}


@st.composite
def typed(draw, row: dict[str, str]) -> dict[str, str]:
    """The row with its utility or a date as an operator's spreadsheet may write it (full-width
    characters, another hyphen, spaces around), which is read after NFKC and trimming."""
    column = draw(st.sampled_from(["utility", "period_start", "period_end", "read_on"]))
    value = row[column]
    if draw(st.booleans()):
        value = unicodedata.normalize("NFKC", value).translate(FULL_WIDTH_ASCII)
    if column != "utility":
        value = value.replace("-", draw(st.sampled_from(["-", "\uff0d", "\u2212", "\u30fc"])))
    pad = draw(st.sampled_from(["", " ", "\u3000"]))
    return {**row, column: pad + value + draw(st.sampled_from(["", " ", "\u3000"]))}


def csv_text(rows: list[dict[str, str]], quoted: bool) -> str:
    def cell(value: str) -> str:
        return f'"{value}"' if quoted else value

    lines = [",".join(READING_COLUMNS)]
    lines += [",".join(cell(row[c]) for c in READING_COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def _record(line: int, row: dict[str, str]) -> Record:
    return Record(line, (*(row[c] for c in READING_COLUMNS), ""))  # no replaces_period_end


def python_verdict(rows: list[dict[str, str]]) -> list[str]:
    """The errors the Python rule gives each row on its own, as ``line N: column: message``."""
    rules, errors = utility_rules(None), []
    for line, fields in enumerate(rows, start=2):
        parsed = parse_reading(_record(line, fields), rules, {})
        found = parsed if isinstance(parsed, list) else check_reading(parsed, TODAY)
        errors += sorted(found)
    return [str(error) for error in errors]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_import_refuses_exactly_what_the_python_rule_refuses(numbers, data, monkeypatch):
    base = data.draw(st.lists(readings(numbers), min_size=1, max_size=3))
    rows = [data.draw(spoiled(row)) for row in base]
    # One period per contract: only the row rule is under test here, not overlaps.
    rows = _one_per_contract(rows, numbers)
    # Each row is read exactly as the same row written plainly (F1 of issue 16's attack).
    plain, rows = rows, [data.draw(typed(row)) if data.draw(st.booleans()) else row for row in rows]
    encoding = data.draw(st.sampled_from(["utf-8", "utf-8-sig", "cp932"]))
    text = csv_text(rows, quoted=data.draw(st.booleans()))
    raw = text.encode("utf-8" if encoding == "utf-8-sig" else encoding)
    # 64 bytes: each line after the header is a block of its own, plain or not.
    monkeypatch.setattr(csvfile, "BLOCK_SIZE", data.draw(st.sampled_from([1 << 20, 64])))
    # SQLite: a plain block's rows after its first, one to an INSERT or two.
    monkeypatch.setattr(stage, "ROWS_AT_ONCE", data.draw(st.sampled_from([1, 2])))
    if encoding == "utf-8-sig":
        raw = "\ufeff".encode() + raw
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        result = import_readings(io.BytesIO(raw), encoding=encoding, dry_run=True)
    assert [str(error) for error in result.errors] == python_verdict(rows) == python_verdict(plain)


def _one_per_contract(rows: list[dict[str, str]], numbers: list[str]) -> list[dict[str, str]]:
    return [
        {**row, "customer_number": numbers[i % len(numbers)]}
        for i, row in enumerate(rows[: len(numbers)])
    ]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_the_sql_predicate_and_check_reading_agree_row_by_row(numbers, data):
    rows = data.draw(st.lists(readings(numbers), min_size=1, max_size=20))
    rules = utility_rules(None)
    parsed = [parse_reading(_record(line, row), rules, {}) for line, row in enumerate(rows, 2)]
    with transaction.atomic(), connection.cursor() as cursor:
        stage.create(cursor, Reading)
        stage.writer(cursor, Reading)(parsed)
        cursor.execute(
            f"SELECT line FROM {stage.TABLE} WHERE {bad_reading_sql(connection.vendor)}",
            {"today": TODAY},
        )
        refused_in_sql = {line for (line,) in cursor.fetchall()}
        stage.drop(cursor)
        transaction.set_rollback(True)
    refused_in_python = {r.line for r in parsed if check_reading(r, TODAY)}
    assert refused_in_sql == refused_in_python


@pytest.mark.parametrize(
    ("utility", "start"),
    [
        ("kanazawa", "２０２５-０５-２７"),  # full-width digits
        ("kanazawa", "2025－05－27"),  # U+FF0D
        ("kanazawa", "2025−05−27"),  # U+2212
        (" kanazawa ", " 2025-05-27 "),  # spaces around
        ("ｋａｎａｚａｗａ", "\u30002025ー05ー27"),
    ],
)
def test_a_typed_date_and_utility_are_stored_as_the_plain_ones(numbers, utility, start):
    row = f"{utility},{numbers[0]},{start},2025-07-26,2025-07-26,100,130,30,3000,2000,454,5000"
    text = ",".join(READING_COLUMNS) + "\n" + row + "\n"
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        result = import_readings(io.BytesIO(text.encode()), encoding="utf-8", dry_run=False)
    assert result.ok, [str(error) for error in result.errors]
    stored = MeterReading.objects.get()
    assert stored.period_start == datetime.date(2025, 5, 27)
    assert stored.customer.number == numbers[0]


def _import(numbers, row: str, dry_run: bool = True):
    text = ",".join(READING_COLUMNS) + "\n" + row.format(number=numbers[0]) + "\n"
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        return import_readings(io.BytesIO(text.encode()), encoding="utf-8", dry_run=dry_run)


def test_a_day_that_does_not_exist_is_named_so_not_a_format_error(numbers):
    result = _import(
        numbers, "kanazawa,{number},2025-05-27,2025-06-31,2025-07-26,100,130,30,3000,2000,454,5000"
    )
    assert [str(e) for e in result.errors] == ["line 2: period_end: 存在しない日付です。"]


def test_a_future_reading_day_gets_one_message(numbers):
    result = _import(
        numbers, "kanazawa,{number},2025-05-27,2025-07-26,2025-12-25,100,130,30,3000,2000,454,5000"
    )
    assert [str(e) for e in result.errors] == ["line 2: read_on: 未来の日付です。"]


def test_zero_padded_numbers_are_read_by_their_value(numbers):
    padded = "0" * 19 + "1"
    result = _import(
        numbers,
        f"kanazawa,{{number}},2025-05-27,2025-07-26,2025-07-26,{padded},31,30,3000,2000,454,5000",
        dry_run=False,
    )
    assert result.ok, [str(e) for e in result.errors]
    assert MeterReading.objects.get().previous_index == 1
