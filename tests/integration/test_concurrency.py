"""Fifty at once on PostgreSQL: one winner, clear answers for the rest, never a 500 (issue #7)."""

from __future__ import annotations

import datetime
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus

import pytest
from django.db import connection, connections, transaction
from django.test import Client

from accounts.models import Member
from accounts.services import review as services
from billing.imports import import_customers, import_readings
from billing.models import Customer, MeterReading
from tests.factories import MemberFactory, StaffFactory, UtilityFactory
from tests.helpers import details_for, kanazawa_contract, reach_details, url

pytestmark = pytest.mark.django_db(transaction=True)
CROWD = 50


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers on one database: CI runs this on PostgreSQL")


def all_at_once(work, items) -> list:
    """Run ``work(item)`` in one thread per item, released together by a barrier."""
    barrier = threading.Barrier(len(items))

    def run(item):
        barrier.wait()
        try:
            return work(item)
        except Exception as exc:  # noqa: BLE001 - the caller inspects what each one met
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(run, items))


def test_fifty_signups_with_one_login_id_make_one_member(mailoutbox):
    utility = UtilityFactory()
    contract = kanazawa_contract(utility)
    browsers = []
    for number in range(CROWD):
        # Each resident on their own line, as fifty homes would be.
        browser = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")
        reach_details(browser, utility, mailoutbox, f"resident{number}@example.jp")
        response = browser.post(url("signup_confirm", utility), details_for(contract))
        assert response.status_code == HTTPStatus.OK
        browsers.append(browser)
    responses = all_at_once(lambda b: b.post(url("signup_complete", utility)), browsers)
    statuses = sorted(getattr(r, "status_code", repr(r)) for r in responses)
    assert statuses == [HTTPStatus.FOUND] + [HTTPStatus.CONFLICT] * (CROWD - 1), statuses
    for response in responses:
        if response.status_code == HTTPStatus.CONFLICT:
            assert "このログインIDは既に使用されています" in response.content.decode()
    assert Member.objects.filter(utility=utility, login_id="taro0401").count() == 1


def test_fifty_approvals_of_one_member_send_one_guide_mail(mailoutbox):
    utility = UtilityFactory()
    contract = kanazawa_contract(utility)
    member = MemberFactory(
        utility=utility,
        status=Member.Status.PENDING,
        signup_match={"customer_id": contract.pk, "number": True, "name": True, "phone": True},
    )
    staff = [StaffFactory(utility=utility) for _ in range(CROWD)]
    outcomes = all_at_once(
        lambda reviewer: services.approve_member(member, reviewer, "https://portal.example.jp"),
        staff,
    )
    approved = [outcome for outcome in outcomes if outcome is None]  # returned: it approved
    assert len(approved) == 1
    assert all(
        outcome is None or isinstance(outcome, services.AlreadyReviewed) for outcome in outcomes
    ), outcomes
    assert len(mailoutbox) == 1
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    assert member.contract_links.count() == 1


def _cis_export(tmp_path, utility, customers: int, months: int):
    """Write customers.csv (``customers`` contracts) and readings.csv (``months`` each)."""
    customers_csv = tmp_path / "customers.csv"
    customers_csv.write_text(
        "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,"
        "meter_number\n"
        + "".join(
            f"{utility.slug},{n:011d},見本 太郎,ミホン タロウ,見本市本町{n},,0312345678,20,{n}\n"
            for n in range(1, customers + 1)
        ),
        encoding="utf-8",
    )
    readings_csv = tmp_path / "readings.csv"
    readings_csv.write_text(
        "utility,customer_number,period_start,period_end,read_on,previous_index,"
        "current_index,usage_m3,water_charge,sewer_charge,tax,total\n"
        + "".join(
            f"{utility.slug},{n:011d},2025-0{m}-01,2025-0{m}-28,2025-0{m}-28,"
            f"{100 + 10 * m},{110 + 10 * m},10,2000,1500,318,3500\n"
            for n in range(1, customers + 1)
            for m in range(1, months + 1)
        ),
        encoding="utf-8",
    )
    return customers_csv, readings_csv


def test_two_imports_of_one_file_at_once_give_the_rows_of_one(tmp_path):
    utility = UtilityFactory(customer_number_digits=11)
    customers, readings = _cis_export(tmp_path, utility, customers=300, months=6)

    def run(service_and_path):
        service, path = service_and_path
        with open(path, "rb") as stream:
            return service(stream)

    for service, path in [(import_customers, customers), (import_readings, readings)]:
        results = all_at_once(run, [(service, path), (service, path)])
        assert all(not isinstance(r, Exception) for r in results), results
        assert all(r.ok for r in results), [r.errors for r in results]
        # One run inserted everything; the other found every row already there, unchanged.
        assert sorted(r.inserted for r in results) == [0, results[0].rows]
    assert Customer.objects.filter(utility=utility).count() == 300
    assert MeterReading.objects.filter(customer__utility=utility).count() == 1800


def test_a_reading_added_by_hand_while_an_import_runs_is_merged_never_a_crash(tmp_path):
    """Staff add a reading in the admin while an import of the same key is writing."""
    utility = UtilityFactory(customer_number_digits=11)
    customers, readings = _cis_export(tmp_path, utility, customers=3, months=1)
    with open(customers, "rb") as stream:
        assert import_customers(stream).ok
    first = Customer.objects.get(utility=utility, number="00000000001")
    by_hand_written, import_waits = threading.Event(), threading.Event()

    def staff_adds_a_reading():
        try:
            with transaction.atomic():
                MeterReading.objects.create(
                    customer=first,
                    period_start=datetime.date(2025, 1, 1),
                    period_end=datetime.date(2025, 1, 28),
                    read_on=datetime.date(2025, 1, 28),
                    previous_index=110,
                    current_index=119,
                    usage_m3=9,
                    water_charge=1900,
                    sewer_charge=1400,
                    tax=300,
                    total=3300,
                )
                by_hand_written.set()
                assert import_waits.wait(60), "the import never reached the hand-written row"
        finally:
            connections.close_all()

    def run_import():
        try:
            with open(readings, "rb") as stream:
                return import_readings(stream)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=2) as pool:
        staff = pool.submit(staff_adds_a_reading)
        assert by_hand_written.wait(30)
        importing = pool.submit(run_import)
        # The import's INSERT waits for the staff's uncommitted row: then let the staff commit.
        with connection.cursor() as cursor:
            for _ in range(600):
                cursor.execute(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE 'INSERT%%'"
                )
                if cursor.fetchone()[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the import's INSERT never waited on the staff's row")
        import_waits.set()
        staff.result()
        result = importing.result()
    assert result.ok, result.errors
    # The file is the billing system's record: its row replaces the one typed by hand.
    assert (result.inserted, result.updated, result.unchanged) == (2, 1, 0)
    reading = MeterReading.objects.get(customer=first, period_end=datetime.date(2025, 1, 28))
    assert (reading.usage_m3, reading.total) == (10, 3500)
    assert MeterReading.objects.filter(customer__utility=utility).count() == 3


def test_twenty_signups_on_one_contract_activate_no_more_than_the_cap(mailoutbox):
    from tests.helpers import reach_code_details

    utility = UtilityFactory(code_style=True, max_members_per_contract=3)
    contract = Customer.objects.create(
        utility=utility,
        number="20000000001",
        name="水道 太郎",
        name_kana="スイドウ タロウ",
        phone="0165412345",
    )
    browsers = []
    for number in range(20):
        browser = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")
        reach_code_details(browser, utility, mailoutbox, f"family{number}@example.jp")
        response = browser.post(
            url("signup_confirm", utility),
            {
                "name": "水道",
                "password": "Nayoro#2026",
                "password_confirm": "Nayoro#2026",
                "customer_number": contract.number,
                "phone": contract.phone,
                "name_kana": contract.name_kana,
                "agree_terms": "on",
                "agree_privacy": "on",
                "relation": "family",
                "payment_method": "keep",
            },
        )
        assert response.status_code == HTTPStatus.OK
        browsers.append(browser)
    responses = all_at_once(lambda b: b.post(url("signup_complete", utility)), browsers)
    assert all(getattr(r, "status_code", None) == HTTPStatus.FOUND for r in responses), responses
    members = Member.objects.filter(utility=utility)
    assert members.count() == 20
    assert members.filter(status=Member.Status.ACTIVE).count() == 3
    assert contract.member_links.count() == 3
