"""An import killed half-way leaves the database exactly as it was (issue #7 faults)."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection

from billing.models import MeterReading
from tests.factories import CustomerFactory, MeterReadingFactory, UtilityFactory

from .conftest import ROOT, _base_env, _database_url

pytestmark = pytest.mark.django_db(transaction=True)
HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,"
    "current_index,usage_m3,water_charge,sewer_charge,tax,total\n"
)


def _write_readings(path, utility, customers, periods: int) -> int:
    rows = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write(HEADER)
        for customer in customers:
            index = 100
            end = datetime.date(2000, 1, 25)
            for _ in range(periods):
                start = end + datetime.timedelta(days=1)
                end = start + datetime.timedelta(days=30)
                out.write(
                    f"{utility.slug},{customer.number},{start},{end},{end},"
                    f"{index},{index + 20},20,3000,2000,454,5000\n"
                )
                index += 20
                rows += 1
    return rows


def test_killed_import_writes_nothing(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("the importer runs in its own process against a shared PostgreSQL; CI does so")
    utility = UtilityFactory()
    customers = CustomerFactory.create_batch(2000, utility=utility)
    kept = MeterReadingFactory(customer=customers[0], period_end=datetime.date(1999, 5, 25))
    before = list(MeterReading.objects.values_list("pk", "usage_m3", "total"))
    path = tmp_path / "readings.csv"
    rows = _write_readings(path, utility, customers, periods=150)  # 300,000 rows
    env = {**os.environ, **_base_env(), "DATABASE_URL": _database_url()}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "import_readings", str(path), "--verbosity", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Wait until the import is writing into the readings table itself, then kill it hard.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state = 'active' "
                "AND query LIKE '%%INSERT INTO \"billing_meterreading\"%%'"
            )
            if cursor.fetchone()[0]:
                break
        time.sleep(0.05)
    assert process.poll() is None, "the import finished before it could be killed; grow the file"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    # PostgreSQL rolls back the dead session's transaction; give it a moment to notice.
    for _ in range(100):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.1)
    after = list(MeterReading.objects.values_list("pk", "usage_m3", "total"))
    assert after == before
    assert MeterReading.objects.get(pk=kept.pk).total == kept.total
    assert rows == 300_000
