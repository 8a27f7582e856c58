"""「CSVを取り込む」 in the admin: dry run first, errors with line numbers, own utility only."""

from __future__ import annotations

import datetime
from http import HTTPStatus
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from billing.models import Customer, MeterReading
from tests.factories import MemberFactory, StaffFactory, UtilityFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
JST = datetime.timezone(datetime.timedelta(hours=9))
CUSTOMERS_URL = reverse("admin:billing_customer_import_csv")
READINGS_URL = reverse("admin:billing_meterreading_import_csv")


@pytest.fixture(autouse=True)
def _summer_2025():
    with time_machine.travel(datetime.datetime(2025, 8, 1, 9, 0, tzinfo=JST), tick=False):
        yield


@pytest.fixture
def utilities():
    return {
        "kanazawa": UtilityFactory(slug="kanazawa", customer_number_digits=14),
        "nayoro": UtilityFactory(slug="nayoro", code_style=True),
    }


def staff_of(utility):
    staff = StaffFactory(utility=utility)
    staff.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="billing",
            codename__in=[
                "view_customer",
                "add_customer",
                "change_customer",
                "view_meterreading",
                "add_meterreading",
                "change_meterreading",
            ],
        )
    )
    return staff


def csv_file(text: str, name: str = "upload.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8"), content_type="text/csv")


def rows_of(name: str, slug: str) -> str:
    lines = (FIXTURES / name).read_text().splitlines(keepends=True)
    return lines[0] + "".join(line for line in lines[1:] if line.startswith(slug + ","))


def upload(client, url: str, text: str, dry_run: bool):
    """Upload as staff do; without a broker the job runs after commit, so the job page that
    the upload redirects to already shows the result."""
    data = {"file": csv_file(text), "encoding": ""}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(url, data, follow=True)


def job_url(response) -> str:
    return response.redirect_chain[-1][0]


@pytest.mark.parametrize(("slug", "count"), [("kanazawa", 3), ("nayoro", 2)])
def test_staff_of_each_utility_dry_runs_then_imports_their_customers_and_readings(
    client, utilities, slug, count
):
    client.force_login(staff_of(utilities[slug]))
    changelist = client.get(reverse("admin:billing_customer_changelist"))
    assertContains(changelist, "CSVを取り込む")
    page = client.get(CUSTOMERS_URL)
    assertContains(page, "検査だけを行う(書き込まない)")
    assertContains(page, 'id="id_dry_run" checked', html=False)

    text = rows_of("customers_good.csv", slug)
    dry = upload(client, CUSTOMERS_URL, text, dry_run=True)
    assertContains(dry, "完了")
    assertContains(dry, f"[検査のみ・書き込みなし] {count} 行: 追加 {count} 件")
    assertContains(dry, "この内容で取り込む")  # the stored file, not a second upload
    assert Customer.objects.count() == 0

    done = client.post(job_url(dry) + "import/", follow=True)
    assertContains(done, f"{count} 行: 追加 {count} 件")
    assertNotContains(done, "[検査のみ")
    assertNotContains(done, "この内容で取り込む")
    assert set(Customer.objects.values_list("utility__slug", flat=True)) == {slug}
    assert Customer.objects.count() == count

    data = {"file": csv_file(rows_of("readings_good.csv", slug)), "encoding": ""}
    done = client.post(READINGS_URL, data, follow=True)
    assertContains(done, f"{2 * count} 行: 追加 {2 * count} 件")
    if slug == "kanazawa":  # the flagged line is named after the import too, not only on a dry run
        assertContains(done, "要確認(メーター一巡・交換)の行: 7")
    assert MeterReading.objects.filter(customer__utility__slug=slug).count() == 2 * count


def test_rows_of_another_utility_are_refused_with_their_lines(client, utilities):
    client.force_login(staff_of(utilities["nayoro"]))
    text = (FIXTURES / "customers_good.csv").read_text()
    response = upload(client, CUSTOMERS_URL, text, dry_run=False)
    assert response.status_code == HTTPStatus.OK
    assertContains(response, "3 件の問題があるため、何も書き込みませんでした。")
    assertContains(
        response, "line 2: utility: 事業者「kanazawa」の行は取り込めません(担当外の事業者です)。"
    )
    assertContains(response, "line 4: utility:")
    assert Customer.objects.count() == 0


def test_a_bad_file_shows_every_error_with_its_line_and_writes_nothing(client, utilities):
    client.force_login(staff_of(utilities["kanazawa"]))
    text = rows_of("customers_good.csv", "kanazawa")
    upload(client, CUSTOMERS_URL, text, dry_run=False)
    response = upload(
        client, READINGS_URL, (FIXTURES / "readings_bad_last_line.csv").read_text(), False
    )
    assertContains(response, "line 8: utility: 事業者「nayoro」の行は取り込めません")
    assertContains(response, "line 12: total: 水道料金と下水道使用料の合計(200)と一致しません。")
    assert MeterReading.objects.count() == 0


def test_a_superuser_may_import_every_utility(client, utilities):
    admin = MemberFactory(utility=None, is_staff=True, is_superuser=True, login_id="root")
    client.force_login(admin)
    response = upload(client, CUSTOMERS_URL, (FIXTURES / "customers_good.csv").read_text(), False)
    assertContains(response, "5 行: 追加 5 件")
    assert Customer.objects.count() == 5


def test_staff_without_add_permission_cannot_import(client, utilities):
    client.force_login(StaffFactory(utility=utilities["kanazawa"]))
    assert client.get(CUSTOMERS_URL).status_code == HTTPStatus.FORBIDDEN
    response = upload(client, CUSTOMERS_URL, rows_of("customers_good.csv", "kanazawa"), False)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Customer.objects.count() == 0


def test_a_resident_is_sent_to_the_admin_login(client, utilities):
    client.force_login(MemberFactory(utility=utilities["kanazawa"]))
    response = client.get(CUSTOMERS_URL)
    assert response.status_code == HTTPStatus.FOUND
    assert "login" in response["Location"]
