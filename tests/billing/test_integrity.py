"""A contract's readings never overlap, and a break in the meter's indexes is flagged.

The admin form, the database (on PostgreSQL) and the report of stored overlaps; the demo's
periods and its CSV's are the same periods.
"""

from __future__ import annotations

import datetime
import importlib
import io
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from billing import imports as services
from billing.models import Customer, MeterReading
from portal.models import Utility
from tests.factories import CustomerFactory, MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JST = datetime.timezone(datetime.timedelta(hours=9))
ADD_URL = reverse("admin:billing_meterreading_add")
D = datetime.date


@pytest.fixture
def admin_client(client):
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def customer():
    return CustomerFactory(utility=UtilityFactory(slug="kanazawa", billing_cycle_months=2))


def reading(customer, start, end, previous=100, current=120, **extra):
    return MeterReading.objects.create(
        customer=customer,
        period_start=start,
        period_end=end,
        read_on=extra.pop("read_on", end),
        previous_index=previous,
        current_index=current,
        usage_m3=extra.pop("usage_m3", max(0, current - previous)),
        water_charge=3000,
        sewer_charge=2000,
        tax=454,
        total=5000,
    )


def form_data(customer, start, end, previous=120, current=150, read_on=None):
    return {
        "customer": customer.pk,
        "period_start": start,
        "period_end": end,
        "read_on": read_on or end,
        "previous_index": previous,
        "current_index": current,
        "usage_m3": max(0, current - previous),
        "water_charge": 3000,
        "sewer_charge": 2000,
        "tax": 454,
        "total": 5000,
    }


def find_overlaps(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("find_overlapping_readings", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_each_seed_city_bills_on_its_guides_cycle(admin_client):
    call_command("loaddata", "utilities", verbosity=0)
    cycles = dict(Utility.objects.values_list("slug", "billing_cycle_months"))
    assert cycles == {"kanazawa": 2, "nayoro": 1}
    kanazawa = Utility.objects.get(slug="kanazawa")
    page = admin_client.get(reverse("admin:portal_utility_change", args=[kanazawa.pk]))
    assert "検針・請求の間隔(か月)" in page.content.decode()


def test_the_admin_refuses_a_period_overlapping_a_stored_one(admin_client, customer):
    reading(customer, D(2026, 8, 26), D(2026, 10, 25))
    page = admin_client.post(ADD_URL, form_data(customer, "2026-09-26", "2026-11-25"))
    assert page.status_code == 200
    assert (
        "2026-09-26〜2026-11-25 は保存済みの 2026-08-26〜2026-10-25 と重なります"
        in page.content.decode()
    )
    assert customer.readings.count() == 1


def test_a_shared_last_day_is_an_overlap_but_the_next_day_is_not(admin_client, customer):
    reading(customer, D(2026, 8, 26), D(2026, 10, 25))
    refused = admin_client.post(ADD_URL, form_data(customer, "2026-10-25", "2026-12-25"))
    assert "と重なります" in refused.content.decode()
    accepted = admin_client.post(ADD_URL, form_data(customer, "2026-10-26", "2026-12-25"))
    assert accepted.status_code == 302
    assert customer.readings.count() == 2


def test_editing_a_reading_does_not_clash_with_itself(admin_client, customer):
    stored = reading(customer, D(2026, 8, 26), D(2026, 10, 25))
    url = reverse("admin:billing_meterreading_change", args=[stored.pk])
    page = admin_client.post(url, form_data(customer, "2026-08-27", "2026-10-25", 100, 130))
    assert page.status_code == 302
    stored.refresh_from_db()
    assert (stored.period_start, stored.current_index) == (D(2026, 8, 27), 130)


@pytest.mark.parametrize(
    ("start", "end", "read_on", "message"),
    [
        ("2026-10-26", "2026-10-01", None, "使用期間(開始)より前の日付です。"),
        ("2026-08-01", "2026-10-25", None, "使用期間が86日あります(69日までです)。"),
        (
            "2026-08-26",
            "2026-10-25",
            "2026-11-05",
            "検針日は使用期間(終了)の前後7日以内の日付です。",
        ),
    ],
)
def test_the_admin_refuses_a_period_that_is_not_one_reading(
    admin_client, customer, start, end, read_on, message
):
    page = admin_client.post(ADD_URL, form_data(customer, start, end, read_on=read_on))
    assert message in page.content.decode()
    assert not customer.readings.exists()


def test_a_monthly_utility_allows_a_month_and_a_week(admin_client):
    customer = CustomerFactory(utility=UtilityFactory(slug="nayoro", billing_cycle_months=1))
    page = admin_client.post(ADD_URL, form_data(customer, "2026-09-18", "2026-10-25"))
    assert "使用期間が38日あります(38日までです)" not in page.content.decode()
    assert page.status_code == 302
    page = admin_client.post(ADD_URL, form_data(customer, "2026-10-26", "2026-12-03"))
    assert "使用期間が39日あります(38日までです)。" in page.content.decode()


def test_saving_in_the_admin_flags_a_break_in_the_indexes(admin_client, customer):
    reading(customer, D(2026, 6, 26), D(2026, 8, 25), 100, 120)
    admin_client.post(ADD_URL, form_data(customer, "2026-08-26", "2026-10-25", 125, 150))
    admin_client.post(ADD_URL, form_data(customer, "2026-10-26", "2026-12-25", 150, 8))
    flags = list(customer.readings.order_by("period_start").values_list("flag", flat=True))
    assert flags == ["", "gap", "rollover"]
    listed = admin_client.get(reverse("admin:billing_meterreading_changelist"), {"flag": "gap"})
    assert "前回指針の不一致" in listed.content.decode()
    assert "2026-08-26〜2026-10-25" in listed.content.decode()


def test_deleting_a_period_in_the_admin_flags_the_one_after(admin_client, customer):
    reading(customer, D(2026, 6, 26), D(2026, 8, 25), 100, 120)
    middle = reading(customer, D(2026, 8, 26), D(2026, 10, 25), 120, 150)
    last = reading(customer, D(2026, 10, 26), D(2026, 12, 25), 150, 170)
    url = reverse("admin:billing_meterreading_delete", args=[middle.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 302
    last.refresh_from_db()
    assert last.flag == "gap"


def test_the_flag_is_shown_but_not_typed_in_the_admin(admin_client, customer):
    stored = reading(customer, D(2026, 8, 26), D(2026, 10, 25), 120, 3)
    stored.flag = "rollover"
    stored.save()
    page = admin_client.get(reverse("admin:billing_meterreading_change", args=[stored.pk]))
    text = page.content.decode()
    assert "メーター一巡・交換" in text
    assert 'name="flag"' not in text


def _store_overlap(customer) -> None:
    """An overlap as older versions could store it (PostgreSQL now refuses it)."""
    reading(customer, D(2026, 8, 26), D(2026, 10, 25))
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError, match="reading_periods_do_not_overlap"):
            with transaction.atomic():
                reading(customer, D(2026, 9, 26), D(2026, 11, 25))
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # before ALTER TABLE
            cursor.execute(
                "ALTER TABLE billing_meterreading DROP CONSTRAINT reading_periods_do_not_overlap"
            )
    reading(customer, D(2026, 9, 26), D(2026, 11, 25))


def test_stored_overlaps_are_reported_and_kept(customer):
    _store_overlap(customer)
    other = CustomerFactory(utility=UtilityFactory(slug="nayoro"))
    reading(other, D(2026, 9, 26), D(2026, 10, 25))
    status, out = find_overlaps()
    assert status == 1
    assert (
        f"kanazawa {customer.number}: 2026-08-26〜2026-10-25" in out
        and "と 2026-09-26〜2026-11-25" in out
        and "重なり 1 組" in out
    )
    assert customer.readings.count() == 2
    assert find_overlaps("--utility", "nayoro") == (0, "重なっている使用期間はありません。\n")
    with pytest.raises(CommandError, match="「tokyo」は登録されていません"):
        call_command("find_overlapping_readings", "--utility", "tokyo")


def test_the_constraint_migration_stops_on_stored_overlaps_and_names_the_command(customer):
    _store_overlap(customer)
    migration = importlib.import_module("billing.migrations.0004_reading_periods_do_not_overlap")
    if connection.vendor == "postgresql":
        with connection.schema_editor() as editor:
            with pytest.raises(CommandError, match="find_overlapping_readings"):
                migration.add_constraint(None, editor)
    else:  # SQLite has no exclusion constraints: clean and the importer hold the rule
        migration.add_constraint(None, SimpleNamespace(connection=connection))
    assert customer.readings.count() == 2


def test_an_import_overlapping_a_stored_period_or_an_earlier_line_is_refused(customer):
    reading(customer, D(2026, 8, 26), D(2026, 10, 25), 100, 120)
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    rows = [
        f"kanazawa,{customer.number},2026-10-26,2026-12-25,2026-12-25,120,140,20,3000,2000,454,5000",
        f"kanazawa,{customer.number},2026-09-26,2026-11-25,2026-11-25,120,140,20,3000,2000,454,5000",
    ]
    data = "\n".join([header, *rows]) + "\n"
    with time_machine.travel(datetime.datetime(2027, 1, 5, 9, 0, tzinfo=JST), tick=False):
        result = services.import_readings(io.BytesIO(data.encode()))
    messages = [str(error) for error in result.errors]
    assert messages == [
        "line 3: period_start: 2026-09-26〜2026-11-25 は 2行目の 2026-10-26〜2026-12-25 と重なります",
        "line 3: period_start: 2026-09-26〜2026-11-25 は保存済みの 2026-08-26〜2026-10-25 と重なります",
    ]
    assert customer.readings.count() == 1


def test_imported_readings_are_flagged_with_their_neighbours(customer):
    reading(customer, D(2026, 6, 26), D(2026, 8, 25), 100, 120)
    header = (FIXTURES / "readings_good.csv").read_text().splitlines()[0]
    number = customer.number
    rows = [
        f"kanazawa,{number},2026-08-26,2026-10-25,2026-10-25,125,145,20,3000,2000,454,5000",
        f"kanazawa,{number},2026-10-26,2026-12-25,2026-12-25,145,7,20,3000,2000,454,5000",
    ]
    data = "\n".join([header, *rows]) + "\n"
    with time_machine.travel(datetime.datetime(2027, 1, 5, 9, 0, tzinfo=JST), tick=False):
        assert services.import_readings(io.BytesIO(data.encode())).ok
    flags = list(customer.readings.order_by("period_start").values_list("flag", flat=True))
    assert flags == ["", "gap", "rollover"]


def _load_demo_then_import_its_csvs(moment: datetime.datetime) -> str:
    """Run `make demo` then the README's two imports on ``moment``; the readings' summary."""
    call_command("loaddata", "utilities", verbosity=0)
    out = io.StringIO()
    with time_machine.travel(moment, tick=False):
        call_command("load_demo", verbosity=0)
        call_command("import_customers", str(FIXTURES / "demo_customers.csv"), verbosity=0)
        call_command("import_readings", str(FIXTURES / "demo_readings.csv"), stdout=out)
        payments = io.StringIO()
        call_command("import_payments", str(FIXTURES / "demo_payments.csv"), stdout=payments)
    # The demo's bills are the CSV's too: importing it after `make demo` changes nothing.
    assert payments.getvalue().startswith("864 行: 追加 0 件、更新 0 件、変更なし 864 件")
    return out.getvalue().strip()


def _periods_per_contract() -> dict[str, set[int]]:
    """{utility: the distinct numbers of periods its contracts have}."""
    counts: dict[str, set[int]] = {}
    for customer in Customer.objects.select_related("utility"):
        counts.setdefault(customer.utility.slug, set()).add(customer.readings.count())
    return counts


def test_the_demo_and_its_csv_are_the_same_periods():
    # The day the issue was filed: the demo then ended Kanazawa's periods a month off its CSV.
    _load_demo_then_import_its_csvs(datetime.datetime(2026, 12, 6, 9, 0, tzinfo=JST))
    assert find_overlaps() == (0, "重なっている使用期間はありません。\n")
    assert _periods_per_contract() == {"kanazawa": {12}, "nayoro": {24}}
    seven = Customer.objects.get(number="10000000000007")
    last = seven.readings.latest_first().first()
    assert (last.period_start, last.period_end, last.usage_m3) == (
        D(2026, 8, 26),
        D(2026, 10, 25),
        32,
    )


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 12, 6, 9, 0, tzinfo=JST),
        datetime.datetime(2026, 12, 26, 9, 0, tzinfo=JST),  # the first day past the next 25th
        datetime.datetime(2027, 3, 1, 9, 0, tzinfo=JST),
    ],
)
def test_the_readme_import_after_the_demo_changes_nothing_whatever_the_day(moment):
    # The demo used to date its history from today while the CSV is fixed: after the next
    # 25th the README's import rewrote hundreds of readings and broke every meter's indexes.
    summary = _load_demo_then_import_its_csvs(moment)
    assert summary == "864 行: 追加 0 件、更新 0 件、変更なし 864 件、要確認 0 件"
    assert _periods_per_contract() == {"kanazawa": {12}, "nayoro": {24}}
    assert not MeterReading.objects.exclude(flag="").exists()
