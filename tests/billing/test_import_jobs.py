"""Admin CSV uploads run in the background (issue 18, part 3): stored, queued, a job page.

The admin's flows themselves (dry run then import, errors by line) are in test_import_admin.
"""

from __future__ import annotations

import datetime
import os
from http import HTTPStatus

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from billing import importjobs
from billing.models import Customer, ImportChunk, ImportFile, ImportJob
from tests.billing.test_import_admin import CUSTOMERS_URL, staff_of
from tests.factories import UtilityFactory

pytestmark = pytest.mark.django_db

State = ImportJob.State
HEADER = (
    "utility,customer_number,name,name_kana,address,building,phone,meter_diameter_mm,meter_number\n"
)


@pytest.fixture
def kanazawa():
    return UtilityFactory(slug="kanazawa", customer_number_digits=14)


def customers(count: int, slug: str = "kanazawa", name: str = "水道 太郎") -> str:
    return HEADER + "".join(
        f"{slug},{10000000000000 + n},{name},すいどう たろう,金沢市広坂1丁目1-1,,0762202111,20,{n}\n"
        for n in range(1, count + 1)
    )


def post(client, text: str | bytes, **extra):
    data = text.encode() if isinstance(text, str) else text
    upload = SimpleUploadedFile("keiyaku.csv", data, content_type="text/csv")
    return client.post(CUSTOMERS_URL, {"file": upload, "encoding": "", **extra})


def test_a_file_over_a_megabyte_is_stored_in_chunks_and_imported_across_their_edges(
    client, kanazawa
):
    client.force_login(staff_of(kanazawa))
    text = customers(25_000)  # about 2.6 MB: rows cross the 1 MB chunk edges
    response = post(client, text)
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("admin:billing_customer_import_job", args=[job.pk])
    assert ImportChunk.objects.filter(file=job.file).count() == 3
    assert job.file.size == len(text.encode())
    page = client.get(response["Location"])
    assertContains(page, "完了")
    assertContains(page, "25000 行: 追加 25000 件")
    assertNotContains(page, 'http-equiv="refresh"')
    assert Customer.objects.count() == 25_000


def test_a_shift_jis_file_is_read_with_the_encoding_chosen_at_upload(client, kanazawa):
    client.force_login(staff_of(kanazawa))
    page = client.post(
        CUSTOMERS_URL,
        {
            "file": SimpleUploadedFile("sjis.csv", customers(2, name="北陸 花子").encode("cp932")),
            "encoding": "cp932",
        },
        follow=True,
    )
    assertContains(page, "2 行: 追加 2 件")
    assert set(Customer.objects.values_list("name", flat=True)) == {"北陸 花子"}


def test_the_page_of_an_unfinished_job_shows_its_rows_and_reloads_itself(client, kanazawa):
    client.force_login(staff_of(kanazawa))
    stored = ImportFile.objects.create(kind="customers", utility=kanazawa, name="a.csv")
    queued = ImportJob.objects.create(file=stored)
    running = ImportJob.objects.create(file=stored, state=State.RUNNING, rows_read=120_000)
    writing = ImportJob.objects.create(
        file=stored, state=State.RUNNING, rows_read=1_000_000, writing=True
    )

    def page(job):
        return client.get(reverse("admin:billing_customer_import_job", args=[job.pk]))

    assertContains(page(queued), "待機中")
    assertContains(page(queued), '<meta http-equiv="refresh" content="2">', html=False)
    assertContains(page(running), "取り込み中")
    assertContains(page(running), "120000 行を読み込みました。")
    assertContains(page(running), '<meta http-equiv="refresh"', html=False)
    assertContains(page(writing), "1000000 行を読み終えました。照合・書き込み中です。")
    listing = client.get(CUSTOMERS_URL)
    assertContains(listing, "最近の取り込み")
    assertContains(listing, "a.csv", count=3)


def test_staff_see_and_start_only_their_own_utilitys_jobs(client, kanazawa):
    nayoro = UtilityFactory(slug="nayoro")
    client.force_login(staff_of(kanazawa))
    post(client, customers(2), dry_run="on")
    mine = ImportJob.objects.get()
    assert mine.file.utility == kanazawa
    job_page = reverse("admin:billing_customer_import_job", args=[mine.pk])
    again = reverse("admin:billing_customer_import_job_import", args=[mine.pk])

    client.force_login(staff_of(nayoro))
    assert client.get(job_page).status_code == HTTPStatus.NOT_FOUND
    assert client.post(again).status_code == HTTPStatus.NOT_FOUND
    assertNotContains(client.get(CUSTOMERS_URL), "keiyaku.csv")
    assert ImportJob.objects.count() == 1 and Customer.objects.count() == 0
    # Nor as another kind: a customers job is no readings job.
    readings_page = reverse("admin:billing_meterreading_import_job", args=[mine.pk])
    client.force_login(staff_of(kanazawa))
    assert client.get(readings_page).status_code == HTTPStatus.NOT_FOUND


def test_import_after_a_dry_run_reads_the_stored_file_with_the_same_options(client, kanazawa):
    client.force_login(staff_of(kanazawa))
    dry = post(client, customers(3), dry_run="on")
    first = ImportJob.objects.get()
    assert first.dry_run and Customer.objects.count() == 0
    client.post(dry["Location"] + "import/")
    second = ImportJob.objects.exclude(pk=first.pk).get()
    assert (second.file_id, second.dry_run, second.state) == (first.file_id, False, State.DONE)
    assert ImportFile.objects.count() == 1
    assert Customer.objects.count() == 3
    # A real import's page offers no second import; a refused dry run neither.
    again = client.post(reverse("admin:billing_customer_import_job_import", args=[second.pk]))
    assert ImportJob.objects.count() == 2
    assertContains(client.get(again["Location"]), "この検査結果からは取り込めません。")


def test_a_crashed_import_shows_failed_with_a_japanese_message(client, kanazawa, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(importjobs, "import_customers", crash)
    client.force_login(staff_of(kanazawa))
    page = client.get(post(client, customers(2))["Location"])
    assertContains(page, "失敗")
    assertContains(page, "取り込みの途中でエラーが発生したため、何も書き込みませんでした")
    assertNotContains(page, 'http-equiv="refresh"')
    assert ImportJob.objects.get().state == State.FAILED


def test_a_job_the_busy_database_failed_says_why_in_japanese(client, kanazawa, monkeypatch):
    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(importjobs, "import_customers", locked)
    client.force_login(staff_of(kanazawa))
    page = client.get(post(client, customers(2))["Location"])
    assertContains(page, "ほかの処理がデータベースに書き込み中だったため")
    assertNotContains(page, "OperationalError")
    assert ImportJob.objects.get().state == State.FAILED


def test_pressing_import_twice_after_a_dry_run_starts_one_import(client, kanazawa):
    """A double click or a second tab on 「この内容で取り込む」 shows the first import's job."""
    client.force_login(staff_of(kanazawa))
    dry = post(client, customers(3), dry_run="on")
    first = client.post(dry["Location"] + "import/")
    second = client.post(dry["Location"] + "import/")
    assert first["Location"] == second["Location"]
    assert ImportJob.objects.filter(dry_run=False).count() == 1
    assert Customer.objects.count() == 3


def test_import_can_be_pressed_again_after_the_import_failed(client, kanazawa, monkeypatch):
    client.force_login(staff_of(kanazawa))
    dry = post(client, customers(3), dry_run="on")
    real = importjobs.import_customers
    monkeypatch.setattr(importjobs, "import_customers", lambda *a, **k: 1 / 0)
    failed = client.post(dry["Location"] + "import/")
    monkeypatch.setattr(importjobs, "import_customers", real)
    again = client.post(dry["Location"] + "import/")
    assert failed["Location"] != again["Location"]
    assert Customer.objects.count() == 3


def test_the_sweep_fails_a_job_whose_worker_died_and_deletes_what_is_a_day_old(kanazawa):
    now = datetime.datetime(2026, 12, 2, 3, 0, tzinfo=datetime.UTC)
    ago = lambda **kw: now - datetime.timedelta(**kw)  # noqa: E731
    old = ImportFile.objects.create(
        kind="customers", utility=kanazawa, name="old.csv", created_at=ago(hours=24, minutes=1)
    )
    ImportChunk.objects.create(file=old, seq=0, data=b"x")
    ImportJob.objects.create(file=old, state=State.DONE)
    stored = ImportFile.objects.create(
        kind="customers", utility=kanazawa, name="new.csv", created_at=ago(hours=1)
    )
    dead = ImportJob.objects.create(file=stored, state=State.RUNNING, heartbeat_at=ago(seconds=301))
    alive = ImportJob.objects.create(file=stored, state=State.RUNNING, heartbeat_at=ago(seconds=5))
    with time_machine.travel(now, tick=False):
        assert importjobs.sweep() == {"failed": 1, "queued_again": 0, "deleted_files": 1}
    dead.refresh_from_db()
    assert dead.state == State.FAILED
    assert "処理が止まったため、中断しました。何も書き込まれていません。" in dead.failure
    assert ImportJob.objects.get(pk=alive.pk).state == State.RUNNING
    assert list(ImportFile.objects.values_list("name", flat=True)) == ["new.csv"]
    assert not ImportChunk.objects.filter(file_id=old.pk).exists()


BROKER_URL = os.environ.get("PORTAL_TEST_BROKER_URL", "redis://127.0.0.1:6379/9")


def test_with_a_broker_the_upload_request_returns_before_the_import_starts(client, kanazawa):
    """A million-row file must not be imported inside the request: it only stores and queues."""
    import redis

    from tests.integration.worker import publishing_to

    queue = redis.Redis.from_url(BROKER_URL)
    queue.flushdb()
    client.force_login(staff_of(kanazawa))
    try:
        with publishing_to(BROKER_URL):
            response = post(client, customers(50))
        job = ImportJob.objects.get()
        assert response.status_code == HTTPStatus.FOUND
        assert (job.state, job.started_at, job.rows_read) == (State.QUEUED, None, 0)
        assert Customer.objects.count() == 0
        assert queue.llen("celery") == 1  # the task waits for a worker
        assertContains(client.get(response["Location"]), "待機中")
    finally:
        queue.flushdb()


def readings_job(kanazawa) -> ImportJob:
    stored = ImportFile.objects.create(kind="readings", utility=kanazawa, name="kenshin.csv")
    ImportChunk.objects.create(file=stored, seq=0, data=b"utility\n")
    return ImportJob.objects.create(file=stored, dry_run=True)


def test_a_readings_job_whose_turn_it_is_not_stays_queued_and_frees_its_worker(
    kanazawa, monkeypatch, django_db_blocker
):
    """The attack on #18: two imports at once held both workers (the second waited for the
    import lock inside its worker, its page said 「取り込み中 0 行」), so no mail left. A job
    that cannot have its turn now is queued again with a countdown and holds nothing."""
    from django.db import connection, connections

    from billing import tasks
    from billing.imports.readings import READINGS_LOCK

    requeued = []
    monkeypatch.setattr(importjobs, "_eager", lambda: False)
    monkeypatch.setattr(
        tasks.run_import, "apply_async", lambda args, countdown: requeued.append((args, countdown))
    )
    running = readings_job(kanazawa)
    ImportJob.objects.filter(pk=running.pk).update(state=State.RUNNING)
    waiting = readings_job(kanazawa)
    other = None
    if connection.vendor == "postgresql":
        # Another worker (or import_readings) holds the readings' turn on its own connection.
        other = connections.create_connection("default")
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [READINGS_LOCK])
        with connection.cursor() as cursor:  # the old code waited here: fail, not hang
            cursor.execute("SET lock_timeout = '2s'")
    try:
        assert importjobs.run(waiting.pk) == "waiting"
    finally:
        if other is not None:
            with other.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [READINGS_LOCK])
            other.close()
    waiting.refresh_from_db()
    assert (waiting.state, waiting.started_at, waiting.rows_read) == (State.QUEUED, None, 0)
    assert requeued == [((waiting.pk,), 10.0)]
    # Once the other import has finished, the job's next try runs it.
    ImportJob.objects.filter(pk=running.pk).update(state=State.DONE)
    assert importjobs.run(waiting.pk) == State.DONE


def test_a_queued_job_waiting_for_its_turn_says_so_in_the_list(client, kanazawa):
    client.force_login(staff_of(kanazawa))
    job = readings_job(kanazawa)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=datetime.datetime.now(datetime.UTC))
    from tests.billing.test_import_admin import READINGS_URL

    assertContains(client.get(READINGS_URL), "待機中(順番待ち)")


@pytest.mark.parametrize(
    "data",
    [
        customers(2).encode("utf-16-le"),  # UTF-16LE without its BOM
        bytes(range(256)) * 4,  # not text at all
    ],
    ids=["utf16le-no-bom", "binary"],
)
def test_a_file_that_is_not_utf8_shows_the_importers_line_message_not_a_failure(
    client, kanazawa, data
):
    """The attack on #18: the importer's message held a NUL, PostgreSQL refused to store it,
    and the job ended 「処理が止まったため、中断しました」. The line is shown, NUL written out."""
    client.force_login(staff_of(kanazawa))
    page = client.get(post(client, data)["Location"])
    job = ImportJob.objects.get()
    assert job.state == State.DONE, job.failure
    assert job.result["errors"][0].startswith("line 1")
    assertContains(page, "line 1")
    assertNotContains(page, "\x00")
    assert Customer.objects.count() == 0


def test_the_recent_imports_say_what_each_did(client, kanazawa):
    """The attack on #18: 「取り込み 完了 200000」 for an import that wrote nothing for one error,
    and 完了 for a dry run with errors."""
    client.force_login(staff_of(kanazawa))
    bad = customers(3).replace(",10000000000002,", ",1000,")  # a short number on line 3
    post(client, bad, dry_run="on")
    post(client, bad)
    post(client, customers(2), dry_run="on")
    post(client, customers(2))
    listing = client.get(CUSTOMERS_URL)
    assertContains(listing, "検査のみ: 問題 1 件")
    assertContains(listing, "完了: 書き込みなし(問題 1 件)")
    assertContains(listing, "検査のみ: 問題なし")
    assertContains(listing, "取り込み済み")
    assertNotContains(listing, "<td>完了</td>")
