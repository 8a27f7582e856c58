"""A file in contract order (as CIS exports are) and the same rows in another order: the same
readings, flags, counts and lines listed.

On SQLite a file in contract order takes a shorter way: the insert flags each row from the line
before it, and only contracts with stored readings are flagged again afterwards.
"""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.db import transaction

from billing.imports import import_readings
from billing.models import MeterReading
from tests.factories import CustomerFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JST = datetime.timezone(datetime.timedelta(hours=9))
D = datetime.date
HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total\n"
)
PERIODS = [("2025-01-26", "2025-03-25"), ("2025-03-26", "2025-05-25"), ("2025-05-26", "2025-07-25")]


@pytest.fixture(autouse=True)
def _today():
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        yield


def row(number: str, period: int, previous: int, current: int) -> str:
    start, end = PERIODS[period]
    usage = current - previous if current >= previous else current
    return f"kanazawa,{number},{start},{end},{end},{previous},{current},{usage},3000,2000,454,5000"


def stored(customer, start: D, end: D, previous: int, current: int) -> None:
    MeterReading.objects.create(
        customer=customer,
        period_start=start,
        period_end=end,
        read_on=end,
        previous_index=previous,
        current_index=current,
        usage_m3=current - previous,
        water_charge=3000,
        sewer_charge=2000,
        tax=454,
        total=5000,
    )


def imported(lines: list[str]) -> tuple[str, list[str], list[tuple]]:
    """Import ``lines`` on the stored readings: summary, details, every reading and its flag."""
    sid = transaction.savepoint()
    result = import_readings(io.BytesIO((HEADER + "\n".join(lines) + "\n").encode()))
    assert result.ok, result.errors
    readings = sorted(
        MeterReading.objects.values_list(
            "customer__number", "period_start", "previous_index", "current_index", "flag"
        )
    )
    transaction.savepoint_rollback(sid)
    return result.summary(), result.details(), readings


def test_a_file_in_contract_order_flags_as_the_same_rows_shuffled():
    kanazawa = UtilityFactory(slug="kanazawa", customer_number_digits=14, billing_cycle_months=2)
    before, fresh, after = (CustomerFactory(utility=kanazawa) for _ in range(3))
    stored(before, D(2024, 11, 26), D(2025, 1, 25), 100, 120)  # the file's rows go on from it
    stored(after, D(2025, 7, 26), D(2025, 9, 25), 999, 1010)  # the file's rows come before it
    in_order = [
        row(before.number, 0, 125, 140),  # 125, not 120: a gap after the stored period
        row(before.number, 1, 140, 7),  # the meter went round
        row(fresh.number, 0, 10, 20),
        row(fresh.number, 1, 21, 30),  # a gap within the file
        row(fresh.number, 2, 30, 40),
        row(after.number, 0, 50, 60),
        row(after.number, 1, 60, 70),
    ]
    summary, details, readings = imported(in_order)
    for shuffled in (in_order[::-1], in_order[3:] + in_order[:3]):  # other orders, other lines
        assert imported(shuffled)[::2] == (summary, readings)
    assert summary == "7 行: 追加 7 件、更新 0 件、変更なし 0 件、要確認 4 件"
    assert details == [
        "要確認(メーター一巡・交換)の行: 3",
        "要確認(前回指針の不一致)の行: 2, 5",
        f"要確認(前回指針の不一致): {after.number} 2025-07-26〜2025-09-25(保存済み)",
    ]
    flags = {(number, start): flag for number, start, _, _, flag in readings}
    assert [flags[before.number, D(2025, m, 26)] for m in (1, 3)] == ["gap", "rollover"]
    assert [flags[fresh.number, D(2025, m, 26)] for m in (1, 3, 5)] == ["", "gap", ""]
    assert flags[after.number, D(2025, 7, 26)] == "gap"  # stored, flagged by the file


def test_new_contracts_in_contract_order_flag_and_list_as_shuffled():
    kanazawa = UtilityFactory(slug="kanazawa", customer_number_digits=14, billing_cycle_months=2)
    first, second = (CustomerFactory(utility=kanazawa) for _ in range(2))
    in_order = [
        row(first.number, 0, 900, 5),  # the meter went round on the first line
        row(first.number, 1, 5, 15),
        row(second.number, 0, 15, 25),  # not the first contract's index: no gap across contracts
        row(second.number, 1, 26, 30),  # a gap
    ]
    summary, details, readings = imported(in_order)
    assert imported(in_order[::-1])[::2] == (summary, readings)
    assert summary == "4 行: 追加 4 件、更新 0 件、変更なし 0 件、要確認 2 件"
    assert details == ["要確認(メーター一巡・交換)の行: 2", "要確認(前回指針の不一致)の行: 5"]


def test_rows_of_an_unknown_contract_say_only_that_in_any_order():
    kanazawa = UtilityFactory(slug="kanazawa", customer_number_digits=14, billing_cycle_months=2)
    known, unknown = CustomerFactory(utility=kanazawa).number, "99999999999999"
    lines = [row(known, 0, 10, 20), row(unknown, 0, 1, 2), row(unknown, 0, 1, 2)]  # repeated
    message = "customer_number: このお客様番号の契約がありません。先に契約を取り込んでください。"
    for shuffled, refused in ((lines, (3, 4)), (lines[::-1], (2, 3))):
        result = import_readings(io.BytesIO((HEADER + "\n".join(shuffled) + "\n").encode()))
        assert [str(e) for e in result.errors] == [f"line {n}: {message}" for n in refused]
