"""Admin CSV uploads with a real Celery worker (issue 18, part 3), on PostgreSQL and Redis.

The upload request only stores the file and queues it; a worker process, as on a second
machine, streams it from the database into the importer, writing its progress as it reads.
A worker killed mid-import leaves nothing written and a job the sweep marks 失敗.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains

from billing.models import Customer, ImportJob
from tests.billing.test_import_admin import CUSTOMERS_URL, staff_of
from tests.factories import UtilityFactory

from .test_outbox_worker import BROKER_URL, _needs_postgres_and_redis
from .worker import Sink, Worker, publishing_to, wait_until

State = ImportJob.State
HEADER = (
    "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,meter_number\n"
)
ROWS = 300_000  # a few seconds of reading: long enough to see progress and to be killed in


@pytest.fixture
def import_worker(transactional_db, tmp_path):
    _needs_postgres_and_redis(BROKER_URL)
    import redis

    redis.Redis.from_url(BROKER_URL).flushdb()
    sink = Sink()  # the worker's settings name an SMTP server; no mail is sent here
    worker = Worker(BROKER_URL, sink, tmp_path)
    worker.env.update(
        PORTAL_IMPORT_PROGRESS_SECONDS="0.5",
        PORTAL_IMPORT_LEASE_SECONDS="3",
        PORTAL_IMPORT_SWEEP_SECONDS="1",
    )
    try:
        with publishing_to(BROKER_URL):
            yield worker
    finally:
        worker.stop()


def upload(client, rows: int):
    kanazawa = UtilityFactory(slug="kanazawa", customer_number_digits=14)
    client.force_login(staff_of(kanazawa))
    text = HEADER + "".join(
        f"kanazawa,{10000000000000 + n},水道 太郎,すいどう たろう,金沢市広坂1丁目1-1,,0762202111,20,{n}\n"
        for n in range(1, rows + 1)
    )
    data = SimpleUploadedFile("big.csv", text.encode(), content_type="text/csv")
    response = client.post(CUSTOMERS_URL, {"file": data, "encoding": ""})
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("admin:billing_customer_import_job", args=[job.pk])
    assert job.state == State.QUEUED  # the request stored and queued; it imported nothing
    assert Customer.objects.count() == 0
    return job


def test_a_worker_imports_an_upload_reporting_its_progress(client, import_worker):
    job = upload(client, ROWS)
    import_worker.start()
    seen: list[tuple[str, int]] = []

    def finished() -> bool:
        job.refresh_from_db()
        seen.append((job.state, job.rows_read))
        return job.finished

    wait_until(finished, 300, "the import to finish", import_worker)
    assert job.state == State.DONE, job.failure
    # While it ran, the page could say how far it had read.
    assert any(state == State.RUNNING and 0 < rows < ROWS for state, rows in seen), seen[-5:]
    page = client.get(reverse("admin:billing_customer_import_job", args=[job.pk]))
    assertContains(page, f"{ROWS} 行: 追加 {ROWS} 件")
    assert Customer.objects.count() == ROWS


def test_a_worker_killed_mid_import_writes_nothing_and_its_job_shows_failed(client, import_worker):
    job = upload(client, ROWS)
    import_worker.start()
    wait_until(
        lambda: ImportJob.objects.filter(pk=job.pk, rows_read__gt=0).exists(),
        120,
        "the import to report its first rows",
        import_worker,
    )
    import_worker.kill()  # kill -9: the import's transaction dies with its connection
    import_worker.start()  # its beat sweeps every second; the lease is 3 s
    wait_until(
        lambda: ImportJob.objects.filter(pk=job.pk, state=State.FAILED).exists(),
        60,
        "the sweep to mark the dead job failed",
        import_worker,
    )
    page = client.get(reverse("admin:billing_customer_import_job", args=[job.pk]))
    assertContains(page, "失敗")
    assertContains(page, "取り込みを行っていた処理が止まったため、中断しました。")
    assert Customer.objects.count() == 0
