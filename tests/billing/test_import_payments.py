"""manage.py import_payments: the same contract as the other two importers (issue 20)."""

from __future__ import annotations

import datetime
import io
import sys
from pathlib import Path

import pytest
import time_machine
from django.core.management import CommandError, call_command

from billing import pagecache
from billing.imports import import_payments
from billing.models import Payment
from tests.factories import UtilityFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JST = datetime.timezone(datetime.timedelta(hours=9))
HEADER = (FIXTURES / "payments_good.csv").read_text().splitlines()[0]


@pytest.fixture(autouse=True)
def _setup():
    UtilityFactory(slug="kanazawa", customer_number_digits=14, billing_cycle_months=2)
    UtilityFactory(slug="nayoro", code_style=True)
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        run("import_customers", str(FIXTURES / "customers_good.csv"))
        run("import_readings", str(FIXTURES / "readings_good.csv"))
        yield


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> list[str]:
    err = io.StringIO()
    with pytest.raises(CommandError, match="何も書き込みませんでした"):
        call_command(*args, stdout=io.StringIO(), stderr=err)
    return err.getvalue().splitlines()


def import_text(text: str, **options):
    return import_payments(io.BytesIO(text.encode()), **options)


def test_import_writes_each_bill_and_a_second_run_changes_nothing():
    out, err = run("import_payments", str(FIXTURES / "payments_good.csv"))
    assert out == "7 行: 追加 7 件、更新 0 件、変更なし 0 件\n"
    assert err == ""
    failed = Payment.objects.get(customer__number="10000000000002", period_end="2025-01-25")
    assert failed.status == Payment.Status.TRANSFER_FAILED
    assert failed.method == Payment.Method.TRANSFER
    assert failed.paid_on == datetime.date(2025, 2, 26)
    unpaid = Payment.objects.get(customer__number="10000000000001", period_end="2025-03-25")
    assert (unpaid.status, unpaid.paid_on, unpaid.paid_amount) == (Payment.Status.UNPAID, None, 0)
    out, _ = run("import_payments", str(FIXTURES / "payments_good.csv"))
    assert out == "7 行: 追加 0 件、更新 0 件、変更なし 7 件\n"
    assert Payment.objects.count() == 7


def test_a_later_export_updates_the_bill_in_place_and_its_import_time():
    run("import_payments", str(FIXTURES / "payments_good.csv"))
    row = "kanazawa,10000000000001,2025-01-26,2025-03-25,9244,2025-04-28,口座振替,2025-04-28,9244,納付済"
    with time_machine.travel(datetime.datetime(2025, 8, 2, 9, 0, tzinfo=JST), tick=False):
        result = import_text(f"{HEADER}\n{row}\n")
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
    paid = Payment.objects.get(customer__number="10000000000001", period_end="2025-03-25")
    assert paid.status == Payment.Status.PAID
    assert paid.paid_on == datetime.date(2025, 4, 28)
    assert paid.imported_at == datetime.datetime(2025, 8, 2, 9, 0, tzinfo=JST)


def test_header_in_any_order_and_codes_as_well_as_words():
    columns = HEADER.split(",")[::-1]
    values = "kanazawa,10000000000001,2024-11-26,2025-01-25,9768,2025-02-26,transfer,2025-02-26,9768,paid"
    row = dict(zip(HEADER.split(","), values.split(","), strict=True))
    text = ",".join(columns) + "\n" + ",".join(row[c] for c in columns) + "\n"
    result = import_text(text)
    assert result.ok, result.errors
    assert Payment.objects.get().status == Payment.Status.PAID


def test_bad_file_prints_every_problem_with_its_line_and_writes_nothing():
    lines = refused("import_payments", str(FIXTURES / "payments_bad.csv"))
    assert lines == [
        "line 2: customer_number: このお客様番号の契約がありません。先に契約を取り込んでください。",
        "line 3: billed_amount: 負の数は指定できません。",
        "line 4: billed_amount: 整数で入力してください。",
        "line 5: due_date: 納期限が使用期間(終了)より前です。",
        "line 6: status: 「支払済」は指定できません(未納、納付済、振替不能、過誤納 のいずれかです)。",
        "line 7: paid_on: 状態が「納付済」のときは口座振替日・納付日を入力してください。",
        "line 8: method: 「現金」は指定できません(口座振替、納付書、クレジットカード、スマホ決済 のいずれかです)。",
        "line 9: paid_amount: 請求額(4019円)と一致しません(多く納めたときの状態は「過誤納」、不足があるときは「未納」です)。",
        "line 10: period_start: 保存済みの検針の使用期間(2025-01-26〜2025-02-25)と一致しません。",
        "line 10: period_start: 保存済みの検針の使用期間(2025-02-26〜2025-03-25)と一致しません。",
    ]
    assert not Payment.objects.exists()


def test_a_failed_transfer_is_only_for_a_transfer_and_a_paid_day_is_not_in_the_future():
    good = "kanazawa,10000000000001,2025-01-26,2025-03-25,9244,2025-04-28,口座振替,,,未納"
    rows = [
        "kanazawa,10000000000001,2024-11-26,2025-01-25,9768,2025-02-26,納付書,,,振替不能",
        "kanazawa,10000000000002,2025-01-26,2025-03-25,9244,2025-04-28,口座振替,2025-08-02,9244,納付済",
        good,
        good,
    ]
    result = import_text("\n".join([HEADER, *rows]) + "\n")
    assert [str(e) for e in result.errors] == [
        "line 2: status: 「振替不能」は支払方法が「口座振替」の行だけです。",
        "line 3: paid_on: 未来の日付です(2025-08-01 以前の日付にしてください)。",
        "line 5: period_end: 4行目と customer_number・period_end が同じです。",
    ]
    assert not Payment.objects.exists()


def test_a_bill_whose_amount_is_not_its_readings_total_is_written_with_a_warning():
    # Issue 20 finding F2: a corrected 請求額 went in silently, unlike the reading's total.
    path = FIXTURES / "payments_good.csv"
    lines = path.read_text().splitlines()
    fields = lines[2].split(",")  # 未納: nothing paid to agree with
    stored = int(fields[4])
    fields[4] = str(stored + 66)
    changed = "\n".join([lines[0], ",".join(fields)]) + "\n"
    result = import_text(changed)
    assert result.ok
    assert result.warnings == [
        f"line 2: billed_amount: 請求額({stored + 66:,}円)が検針の請求金額({stored:,}円)と"
        "異なります(取り込みました。誤りなら正しい請求額で取り込み直してください)。"
    ]
    assert Payment.objects.get().billed_amount == stored + 66


def test_an_unchanged_bill_reimported_is_dated_by_the_latest_import(time_machine):
    # Issue 20 finding F8: 「…までに確認できたお支払い」 kept the day the row last changed.
    path = str(FIXTURES / "payments_good.csv")
    run("import_payments", path)
    time_machine.move_to(datetime.datetime(2025, 8, 6, 9, 0, tzinfo=JST), tick=False)
    out, _err = run("import_payments", path)
    assert out == "7 行: 追加 0 件、更新 0 件、変更なし 7 件\n"
    days = {p.imported_at.astimezone(JST).date() for p in Payment.objects.all()}
    assert days == {datetime.date(2025, 8, 6)}


def test_a_bill_for_a_period_not_yet_ended_is_refused():
    # Issue 20 finding F1: a 2099 bill became every page's 「最新のご請求」.
    rows = [
        "kanazawa,10000000000001,2099-10-26,2099-12-25,9999,2099-12-26,納付書,,0,未納",
        "kanazawa,10000000000002,2025-07-26,2025-09-25,9999,2025-10-26,納付書,,0,未納",
        "kanazawa,10000000000003,2025-06-26,2025-08-01,9999,2025-08-26,納付書,,0,未納",
    ]
    result = import_text("\n".join([HEADER, *rows]) + "\n")
    future = (
        "period_end: 未来の日付です(使用期間が終わった請求だけを取り込めます。"
        "2025-08-01 以前の日付にしてください)。"
    )
    assert [str(e) for e in result.errors] == [f"line 2: {future}", f"line 3: {future}"]
    assert not Payment.objects.exists()


def test_a_bill_overlapping_a_stored_bill_of_another_period_is_refused():
    # No reading of these periods: a bill may come before its reading, never over another bill.
    first = "nayoro,20000000001,2025-04-26,2025-05-25,3000,2025-06-30,納付書,,,未納"
    assert import_text(f"{HEADER}\n{first}\n").ok
    moved = "nayoro,20000000001,2025-05-01,2025-05-31,3000,2025-06-30,納付書,,,未納"
    result = import_text(f"{HEADER}\n{moved}\n")
    assert [str(e) for e in result.errors] == [
        "line 2: period_start: 保存済みの請求の使用期間(2025-04-26〜2025-05-25)と重なります。"
    ]
    assert Payment.objects.get().period_end == datetime.date(2025, 5, 25)


def test_dry_run_says_so_and_writes_nothing():
    out, _ = run("import_payments", str(FIXTURES / "payments_good.csv"), "--dry-run")
    assert out.startswith("[検査のみ・書き込みなし] 7 行: 追加 7 件")
    assert not Payment.objects.exists()


def test_dash_reads_standard_input_in_cp932(monkeypatch):
    data = (FIXTURES / "payments_good.csv").read_text().encode("cp932")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    with pytest.raises(CommandError):
        run("import_payments", "-")  # CP932 is not UTF-8: refused, with the line
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    out, _ = run("import_payments", "-", "--encoding", "cp932")
    assert "追加 7 件" in out


def test_an_import_moves_the_pages_generation_on(django_capture_on_commit_callbacks):
    from django.core.cache import cache

    pagecache.usage_data_changed()
    before = cache.get(pagecache.GENERATION_KEY)
    with django_capture_on_commit_callbacks(execute=True):
        run("import_payments", str(FIXTURES / "payments_good.csv"))
    assert cache.get(pagecache.GENERATION_KEY) != before
