"""Corrections, overlaps and repeated keys on import, the same on SQLite and PostgreSQL.

A CIS export may move a period's dates: the row replaces the stored period only when the file
says so (``replaces_period_end``, or ``--replace-overlapping``); otherwise it is refused.
"""

from __future__ import annotations

import datetime
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from billing.imports import import_readings
from billing.models import MeterReading
from tests.billing.test_import_order import stored
from tests.factories import CustomerFactory, MemberFactory, UtilityFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("new_year_2027")]

HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total"
)
D = datetime.date
REFUSED = (
    "line 2: period_start: 2026-09-26〜2026-11-25 は保存済みの 2026-08-26〜2026-10-25 と重なります"
)


@pytest.fixture
def kanazawa():
    return UtilityFactory(slug="kanazawa", billing_cycle_months=2)


@pytest.fixture
def customer(kanazawa):
    customer = CustomerFactory(utility=kanazawa)
    for start, end, previous, current in [
        (D(2026, 6, 26), D(2026, 8, 25), 100, 120),
        (D(2026, 8, 26), D(2026, 10, 25), 120, 152),
    ]:
        stored(customer, start, end, previous, current)
    return customer


def row(customer, start: str, end: str, previous=120, current=150, replaces=None) -> str:
    text = (
        f"kanazawa,{customer.number},{start},{end},{end},{previous},{current},"
        f"{current - previous},3000,2000,454,5000"
    )
    return text if replaces is None else f"{text},{replaces}"


def csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def periods(customer) -> list[tuple]:
    return list(
        customer.readings.order_by("period_start").values_list("period_start", "period_end", "flag")
    )


def test_a_moved_period_is_refused_without_a_word_from_the_file(customer):
    result = import_readings(io.BytesIO(csv(row(customer, "2026-09-26", "2026-11-25"))))
    assert [str(e) for e in result.errors] == [REFUSED]
    assert len(periods(customer)) == 2


def test_a_row_naming_the_period_it_replaces_replaces_it(customer):
    header = HEADER + ",replaces_period_end"
    data = csv(row(customer, "2026-08-26", "2026-10-24", 120, 150, "2026-10-25"), header=header)
    result = import_readings(io.BytesIO(data))
    assert result.ok, result.errors
    assert (result.inserted, result.updated, result.unchanged) == (0, 1, 0)
    assert periods(customer) == [
        (D(2026, 6, 26), D(2026, 8, 25), ""),
        (D(2026, 8, 26), D(2026, 10, 24), ""),
    ]


def test_importing_the_same_correction_file_again_changes_nothing(customer):
    # The second run was refused: the period it names is gone, replaced by the first run.
    header = HEADER + ",replaces_period_end"
    data = csv(row(customer, "2026-08-26", "2026-10-24", 120, 150, "2026-10-25"), header=header)
    assert import_readings(io.BytesIO(data)).ok
    again = import_readings(io.BytesIO(data))
    assert again.ok, again.errors
    assert (again.inserted, again.updated, again.unchanged, again.replaced) == (0, 0, 1, 0)
    assert periods(customer)[-1] == (D(2026, 8, 26), D(2026, 10, 24), "")


def test_the_column_may_be_blank_on_rows_that_replace_nothing(customer):
    header = HEADER + ",replaces_period_end"
    data = csv(row(customer, "2026-10-26", "2026-12-25", 152, 170, ""), header=header)
    result = import_readings(io.BytesIO(data))
    assert result.ok and result.inserted == 1


def test_a_row_naming_a_period_that_is_not_stored_or_not_overlapped_is_refused(customer):
    header = HEADER + ",replaces_period_end"
    data = csv(
        row(customer, "2026-09-26", "2026-11-25", 120, 150, "2026-10-26"),
        row(customer, "2026-10-26", "2026-12-25", 150, 170, "2026-08-25"),
        header=header,
    )
    result = import_readings(io.BytesIO(data))
    assert [str(e) for e in result.errors] == [
        "line 2: period_start: 2026-09-26〜2026-11-25 は保存済みの 2026-08-26〜2026-10-25 と重なります",
        "line 2: replaces_period_end: 2026-10-26 に終わる保存済みの使用期間で、この行と重なるものはありません。",
        "line 3: period_start: 2026-10-26〜2026-12-25 は 2行目の 2026-09-26〜2026-11-25 と重なります",
        "line 3: replaces_period_end: 2026-08-25 に終わる保存済みの使用期間で、この行と重なるものはありません。",
    ]


def test_replace_overlapping_replaces_every_stored_period_a_row_overlaps(customer):
    result = import_readings(
        io.BytesIO(csv(row(customer, "2026-08-20", "2026-10-25", 100, 150))),
        replace_overlapping=True,
    )
    assert result.ok, result.errors
    assert periods(customer) == [(D(2026, 8, 20), D(2026, 10, 25), "")]


def test_the_command_refuses_then_replaces_with_the_flag(customer, tmp_path):
    path = tmp_path / "corrected.csv"
    path.write_bytes(csv(row(customer, "2026-09-26", "2026-11-25", 120, 150)))
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_readings", str(path), stderr=err)
    assert err.getvalue() == REFUSED + "\n"
    out = io.StringIO()
    call_command("import_readings", str(path), "--replace-overlapping", stdout=out)
    assert out.getvalue() == (
        "1 行: 追加 0 件、更新 1 件、変更なし 0 件、要確認 0 件、置換で削除 1 件\n"
    )
    assert periods(customer)[-1] == (D(2026, 9, 26), D(2026, 11, 25), "")


@pytest.mark.parametrize("dry_run", [True, False])
def test_stored_periods_a_correction_deletes_are_counted_and_listed(customer, tmp_path, dry_run):
    # Same end as a stored period, start 6 days earlier: the whole period before it goes too.
    # It used to say only 「更新 1 件」, and 2026-06-26〜08-19 was left uncovered unawares.
    path = tmp_path / "same_end_earlier.csv"
    path.write_bytes(csv(row(customer, "2026-08-20", "2026-10-25", 100, 150)))
    out = io.StringIO()
    options = ["--replace-overlapping", "-v", "2"] + (["--dry-run"] if dry_run else [])
    call_command("import_readings", str(path), *options, stdout=out)
    lines = out.getvalue().splitlines()
    assert f"置換で削除: {customer.number} 2026-06-26〜2026-08-25(2行目)" in lines
    assert lines[-1].endswith(
        "1 行: 追加 0 件、更新 1 件、変更なし 0 件、要確認 0 件、置換で削除 1 件"
    )
    assert len(periods(customer)) == (2 if dry_run else 1)


def test_the_admin_dry_run_lists_the_periods_a_correction_deletes(customer, client):
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    data = csv(row(customer, "2026-08-20", "2026-10-25", 100, 150))
    page = client.post(
        reverse("admin:billing_meterreading_import_csv"),
        {"file": SimpleUploadedFile("c.csv", data), "replace_overlapping": "on", "dry_run": "on"},
        follow=True,
    )
    text = page.content.decode()
    assert "置換で削除 1 件" in text
    assert f"置換で削除: {customer.number} 2026-06-26〜2026-08-25(2行目)" in text


def test_the_admin_upload_replaces_only_when_ticked(customer, client):
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    url = reverse("admin:billing_meterreading_import_csv")

    def upload(**extra):
        data = csv(row(customer, "2026-09-26", "2026-11-25", 120, 150))
        return client.post(url, {"file": SimpleUploadedFile("c.csv", data), **extra}, follow=True)

    assert REFUSED in upload().content.decode()
    assert "置換で削除 1 件" in upload(replace_overlapping="on").content.decode()
    assert periods(customer)[-1] == (D(2026, 9, 26), D(2026, 11, 25), "")


def test_a_row_that_keeps_its_end_corrects_the_stored_period_in_place(customer):
    shrunk = import_readings(io.BytesIO(csv(row(customer, "2026-08-27", "2026-10-25", 120, 152))))
    assert shrunk.ok and (shrunk.updated, shrunk.inserted) == (1, 0)
    grown = import_readings(io.BytesIO(csv(row(customer, "2026-08-25", "2026-10-25", 120, 152))))
    assert [str(e) for e in grown.errors] == [
        "line 2: period_start: 2026-08-25〜2026-10-25 は保存済みの 2026-06-26〜2026-08-25 と重なります"
    ]


def test_overlapping_rows_in_one_file_are_refused_in_either_order(kanazawa):
    customer = CustomerFactory(utility=kanazawa)
    first = row(customer, "2026-08-26", "2026-10-25", 100, 120)
    second = row(customer, "2026-10-25", "2026-12-25", 120, 140)
    forward = import_readings(io.BytesIO(csv(first, second)))
    backward = import_readings(io.BytesIO(csv(second, first)))
    assert [str(e) for e in forward.errors] == [
        "line 3: period_start: 2026-10-25〜2026-12-25 は 2行目の 2026-08-26〜2026-10-25 と重なります"
    ]
    assert [str(e) for e in backward.errors] == [
        "line 3: period_start: 2026-08-26〜2026-10-25 は 2行目の 2026-10-25〜2026-12-25 と重なります"
    ]
    assert not MeterReading.objects.exists()


def test_import_flags_a_break_and_the_stored_period_after_it(customer):
    MeterReading.objects.filter(period_end=D(2026, 8, 25)).delete()
    data = csv(row(customer, "2026-06-26", "2026-08-25", 100, 110))
    result = import_readings(io.BytesIO(data))
    # The file's row is fine; the stored period after it is the one the import breaks.
    assert result.ok and (result.flagged, result.flagged_lines) == (1, [])
    assert result.details() == [
        f"要確認(前回指針の不一致): {customer.number} 2026-08-26〜2026-10-25(保存済み)"
    ]
    assert [flag for *_dates, flag in periods(customer)] == ["", "gap"]


@pytest.mark.parametrize("dry_run", [True, False])
def test_a_break_the_file_makes_in_a_stored_period_is_counted_and_listed(
    customer, tmp_path, dry_run
):
    # The stored period after the corrected one no longer follows on: it used to be flagged
    # in the database while the summary said 要確認 0 件 and -v 2 listed nothing.
    path = tmp_path / "mid_fix.csv"
    path.write_bytes(csv(row(customer, "2026-06-26", "2026-08-25", 100, 125)))
    out = io.StringIO()
    options = ["-v", "2"] + (["--dry-run"] if dry_run else [])
    call_command("import_readings", str(path), *options, stdout=out)
    lines = out.getvalue().splitlines()
    assert f"要確認(前回指針の不一致): {customer.number} 2026-08-26〜2026-10-25(保存済み)" in lines
    assert lines[-1].endswith("1 行: 追加 0 件、更新 1 件、変更なし 0 件、要確認 1 件")


def test_a_stored_period_flagged_before_the_import_is_not_counted_again(customer):
    MeterReading.objects.filter(period_end=D(2026, 10, 25)).update(previous_index=119, flag="gap")
    result = import_readings(io.BytesIO(csv(row(customer, "2026-06-26", "2026-08-25", 100, 121))))
    assert result.ok and result.updated == 1
    assert (result.flagged, result.details()) == (0, [])


def _monthly(customer, month: int) -> str:
    start = D(2026, month, 1)
    end = D(2026, month, 28)
    return row(customer, start.isoformat(), end.isoformat(), 100 + month, 101 + month)


@pytest.mark.parametrize("order", ["by customer", "by period", "unsorted"])
def test_repeated_keys_are_found_in_every_order_cis_exports_use(kanazawa, order):
    a, b = CustomerFactory(utility=kanazawa), CustomerFactory(utility=kanazawa)
    by_customer = [_monthly(c, m) for c in (a, b) for m in (1, 2, 3)]
    rows = {
        "by customer": by_customer,
        "by period": [_monthly(c, m) for m in (1, 2, 3) for c in (a, b)],
        "unsorted": [by_customer[i] for i in (4, 0, 5, 2, 1, 3)],
    }[order]
    repeated = rows[1]
    result = import_readings(io.BytesIO(csv(*rows, repeated)))
    assert [str(e) for e in result.errors] == [
        "line 8: period_end: 3行目と customer_number・period_end が同じです。"
    ]
    clean = import_readings(io.BytesIO(csv(*rows)))
    assert clean.ok and clean.inserted == 6


@pytest.mark.parametrize("between", ["nothing", "a blank line", "a refused row"])
def test_overlapping_rows_are_found_in_a_sorted_file_whatever_lies_between(kanazawa, between):
    # A file in contract and period order is checked by pairs of lines one after the other:
    # a line that is no staged row must not hide the overlap of the rows either side of it.
    a, b = CustomerFactory(utility=kanazawa), CustomerFactory(utility=kanazawa)
    if a.number > b.number:
        a, b = b, a
    late = row(a, "2026-03-20", "2026-04-28", 103, 104)  # overlaps March's period
    rows = [_monthly(a, 1), _monthly(a, 2), _monthly(a, 3), late, _monthly(b, 1)]
    gap = {"nothing": [], "a blank line": [""], "a refused row": [row(a, "x", "2026-04-28")]}
    rows[3:3] = gap[between]
    result = import_readings(io.BytesIO(csv(*rows)))
    line = 5 + len(gap[between])
    assert (
        f"line {line}: period_start: 2026-03-20〜2026-04-28 は 4行目の 2026-03-01〜2026-03-28 と重なります"
        in [str(e) for e in result.errors]
    )
    assert not MeterReading.objects.exists()
