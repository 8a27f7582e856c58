"""Issue 16 leftovers: what stays beside a corrected or overlapping period — the bill a readings
row overlaps, the old slip PDF address, the chain of corrections, the mail of moved dates."""

from __future__ import annotations

import datetime
import io
from http import HTTPStatus

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from billing import billmail
from billing.imports import import_payments, import_readings
from tests.billing.test_import_moves import PAYMENTS, bill, bills, csv, row
from tests.billing.test_import_order import stored
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    UtilityFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("new_year_2027")]

D = datetime.date
OVERLAP = (
    "line 2: period_start: 保存済みの請求(2026-08-26〜2026-10-25)と使用期間が重なります"
    "(取り込みました。請求・収納で請求の期間を確かめてください)。"
)


@pytest.fixture
def billed_ahead():
    """A contract read up to 08-25 whose next bill (08-26〜10-25) came before its reading."""
    customer = CustomerFactory(utility=UtilityFactory(slug="kanazawa", billing_cycle_months=2))
    stored(customer, D(2026, 6, 26), D(2026, 8, 25), 100, 120)
    bill(customer, D(2026, 8, 26), D(2026, 10, 25))
    return customer


def import_command(data: bytes, tmp_path, *options) -> list[str]:
    path = tmp_path / "readings.csv"
    path.write_bytes(data)
    err = io.StringIO()
    call_command("import_readings", str(path), *options, stdout=io.StringIO(), stderr=err)
    return err.getvalue().splitlines()


# F5: a readings row overlapping a stored bill of another period is imported, with a warning.


@pytest.mark.parametrize("dry_run", [False, True], ids=["import", "dry run"])
def test_a_row_overlapping_a_bill_of_another_period_is_imported_with_a_warning(
    billed_ahead, tmp_path, dry_run
):
    data = csv(row(billed_ahead, "2026-08-26", "2026-10-24"))
    warning = (
        OVERLAP.replace("取り込みました。", "取り込めます。取り込んだら") if dry_run else OVERLAP
    )
    assert import_command(data, tmp_path, *["--dry-run"] * dry_run) == [warning]
    read = [] if dry_run else [D(2026, 10, 24)]
    assert list(billed_ahead.readings.values_list("period_end", flat=True))[:-1] == read
    assert [b[:2] for b in bills(billed_ahead)] == [(D(2026, 8, 26), D(2026, 10, 25))]


def test_a_contract_with_only_a_bill_is_warned_too(billed_ahead):
    billed_ahead.readings.all().delete()  # SQLite skips the stored checks: none are stored
    result = import_readings(io.BytesIO(csv(row(billed_ahead, "2026-08-27", "2026-10-25"))))
    assert result.ok and result.warnings == [OVERLAP]


def test_the_admin_shows_the_overlapping_bill(billed_ahead, client):
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    page = client.post(
        reverse("admin:billing_meterreading_import_csv"),
        {"file": SimpleUploadedFile("r.csv", csv(row(billed_ahead, "2026-08-26", "2026-10-24")))},
        follow=True,
    )
    assert OVERLAP in page.content.decode()


def test_a_row_of_the_bills_own_period_or_beside_it_says_nothing(billed_ahead):
    data = csv(
        row(billed_ahead, "2026-08-26", "2026-10-25"), row(billed_ahead, "2026-10-26", "2026-12-25")
    )
    result = import_readings(io.BytesIO(data))
    assert result.ok and result.warnings == []


def test_a_bill_a_correction_could_not_move_is_named_once(billed_ahead):
    # Stored 08-26〜10-25 is read as two periods: the bill stays, named by the move's warning.
    stored(billed_ahead, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    data = csv(
        row(billed_ahead, "2026-08-26", "2026-10-20", 120, 148, replaces="2026-10-25"),
        row(billed_ahead, "2026-10-21", "2026-10-25", 148, 152),
    )
    result = import_readings(io.BytesIO(data))
    assert result.ok, result.errors
    assert [w.split(": ")[:2] for w in result.warnings] == [["line 3", "period_end"]]


# The old slip PDF address of a corrected period leads to the new period's, as its page does.


def test_the_old_slip_pdf_address_of_a_corrected_period_leads_to_the_new_one(client):
    utility = UtilityFactory(slug="kanazawa")
    link = ContractLinkFactory(customer__utility=utility, member__utility=utility)
    contract, member = link.customer, link.member
    stored(contract, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    data = csv(row(contract, "2026-08-26", "2026-10-24", 120, 152, replaces="2026-10-25"))
    assert import_readings(io.BytesIO(data)).ok

    def slip(end: str, who) -> object:
        client.force_login(who)
        return client.get(reverse("billing:slip_pdf", args=["kanazawa", contract.number, end]))

    response = slip("2026-10-25", member)
    assert response.status_code == HTTPStatus.FOUND
    assert response.url == reverse(
        "billing:slip_pdf", args=["kanazawa", contract.number, "2026-10-24"]
    )
    assert slip("2026-10-24", member)["Content-Type"] == "application/pdf"
    assert slip("2026-06-25", member).status_code == HTTPStatus.NOT_FOUND  # no period then
    stranger = MemberFactory(utility=contract.utility)
    assert slip("2026-10-25", stranger).status_code == HTTPStatus.NOT_FOUND
    assert slip("2026-10-24", stranger).status_code == HTTPStatus.NOT_FOUND


# A period corrected twice (A by B, then B by C): a payments file naming A or B is told C.


def paid_row(customer, start: str, end: str) -> bytes:
    due = "2026-12-26"
    return (
        f"{PAYMENTS}\nkanazawa,{customer.number},{start},{end},5000,{due},口座振替,{due},5000,"
        "納付済\n"
    ).encode()


def told(customer, start: str, end: str) -> list[str]:
    return [str(e) for e in import_payments(io.BytesIO(paid_row(customer, start, end))).errors]


def moved_to(dates: str) -> str:
    return (
        f"line 2: period_end: この使用期間は検針の訂正で {dates} に変わりました。"
        "訂正後の使用期間で取り込んでください。"
    )


@pytest.fixture
def corrected_twice(billed_ahead):
    stored(billed_ahead, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    for end, replaces in [("2026-10-24", "2026-10-25"), ("2026-10-23", "2026-10-24")]:
        data = csv(row(billed_ahead, "2026-08-26", end, 120, 152, replaces=replaces))
        assert import_readings(io.BytesIO(data)).ok
    return billed_ahead


@pytest.mark.parametrize("named", ["2026-10-25", "2026-10-24"], ids=["A", "B"])
def test_a_payments_file_naming_any_period_of_a_chain_of_corrections_is_told_the_last(
    corrected_twice, named
):
    assert told(corrected_twice, "2026-08-26", named) == [moved_to("2026-08-26〜2026-10-23")]
    assert told(corrected_twice, "2026-08-26", "2026-10-23") == []


def test_a_chain_through_the_admin_and_an_import_is_followed_too(billed_ahead, client):
    stored(billed_ahead, D(2026, 8, 26), D(2026, 10, 25), 120, 152)
    client.force_login(MemberFactory(utility=None, is_staff=True, is_superuser=True))
    reading = billed_ahead.readings.get(period_end=D(2026, 10, 25))
    fields = {"customer": billed_ahead.pk, "period_start": "2026-08-26", "previous_index": 120}
    fields |= {"current_index": 152, "usage_m3": 32, "water_charge": 3000, "sewer_charge": 2000}
    fields |= {"tax": 454, "total": 5000, "hold_mail": "on"}
    url = reverse("admin:billing_meterreading_change", args=[reading.pk])
    client.post(url, fields | {"period_end": "2026-10-24", "read_on": "2026-10-24"})
    data = csv(row(billed_ahead, "2026-08-26", "2026-10-20", 120, 152, replaces="2026-10-24"))
    assert import_readings(io.BytesIO(data)).ok
    assert told(billed_ahead, "2026-08-26", "2026-10-25") == [moved_to("2026-08-26〜2026-10-20")]


def test_a_period_read_again_at_an_end_once_replaced_is_its_own(corrected_twice):
    # The CIS goes back to 10-25: a bill naming it is that reading's again, not a correction.
    data = csv(row(corrected_twice, "2026-08-26", "2026-10-25", 120, 152, replaces="2026-10-23"))
    assert import_readings(io.BytesIO(data)).ok
    assert told(corrected_twice, "2026-08-26", "2026-10-25") == []
    assert told(corrected_twice, "2026-08-26", "2026-10-24") == [moved_to("2026-08-26〜2026-10-25")]


@pytest.mark.django_db(transaction=True)
def test_upgrading_keeps_the_end_each_reading_replaced_and_the_start_each_one_mailed():
    customer = CustomerFactory(utility=UtilityFactory(slug="kanazawa", billing_cycle_months=2))
    before = ("billing", "0013_reading_replaced_period_end")
    executor = MigrationExecutor(connection)
    executor.migrate([before])
    old = executor.loader.project_state(before).apps.get_model("billing", "MeterReading")
    fields = {"read_on": D(2026, 10, 24), "previous_index": 1, "current_index": 2, "usage_m3": 1}
    fields |= {"water_charge": 1, "sewer_charge": 0, "tax": 0, "total": 1}
    old.objects.create(
        customer_id=customer.pk,
        period_start=D(2026, 8, 26),
        period_end=D(2026, 10, 24),
        replaced_period_end=D(2026, 10, 25),
        **fields,
    )
    mailed = {"mail_count": 1, "mailed_total": 1, "mailed_period_end": D(2026, 8, 25)}
    old.objects.create(
        customer_id=customer.pk,
        period_start=D(2026, 6, 26),
        period_end=D(2026, 8, 25),
        **fields | mailed,
    )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert told(customer, "2026-08-26", "2026-10-25") == [moved_to("2026-08-26〜2026-10-24")]
    # The period a reading was mailed with, start and end: its present one (the start kept now).
    starts = customer.readings.order_by("period_end").values_list("mailed_period_start", flat=True)
    assert list(starts) == [D(2026, 6, 26), None]


# A correction that only moves a mailed period's dates is mailed as a correction too.


def mail_import(tmp_path, *rows: str) -> None:
    path = tmp_path / "mailed.csv"
    path.write_bytes(csv(*rows))
    call_command("import_readings", str(path), "--send-mail", stdout=io.StringIO())


def bill_mails() -> list:
    return [m for m in mail.outbox if "ご使用量・料金のお知らせ" in m.subject]


@pytest.fixture
def mailed(billed_ahead, tmp_path, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.jp"
    utility = billed_ahead.utility
    member = MemberFactory(utility=utility)
    ContractLinkFactory(member=member, customer=billed_ahead)
    mail_import(tmp_path, row(billed_ahead, "2026-10-26", "2026-12-25", 120, 150))
    (first,) = bill_mails()
    assert "2026年10月26日〜2026年12月25日" in first.body
    return billed_ahead


@pytest.mark.parametrize(
    ("start", "end", "replaces", "shown"),
    [
        ("2026-10-26", "2026-12-24", "2026-12-25", "2026年10月26日〜2026年12月24日"),
        ("2026-10-27", "2026-12-25", "", "2026年10月27日〜2026年12月25日"),
    ],
    ids=["the end moves", "the start moves"],
)
def test_a_correction_moving_only_the_dates_mails_one_correction_naming_the_dates_told(
    mailed, tmp_path, start, end, replaces, shown
):
    moved = row(mailed, start, end, 120, 150, replaces=replaces)
    mail_import(tmp_path, moved)
    _first, correction = bill_mails()
    assert "【訂正】今月のご使用量・料金のお知らせ" in correction.subject
    assert "先にお知らせした今回の使用期間に誤りがありました" in correction.body
    assert (
        "請求金額に誤り" not in correction.body and "先のお知らせでは5,000円" not in correction.body
    )
    assert f"使用期間: {shown}\n" in correction.body
    assert "(先のお知らせでは使用期間を2026年10月26日〜2026年12月25日としていました)" in (
        correction.body
    )
    mail_import(tmp_path, moved)  # the same file again: nothing new to tell
    assert len(bill_mails()) == 2


def test_a_reading_mailed_before_its_start_was_kept_names_the_end_told(mailed):
    # Its end changed in the admin before the upgrade, the mail still held: no start told.
    mailed.readings.filter(period_end=D(2026, 12, 25)).update(
        period_end=D(2026, 12, 24), mailed_period_start=None
    )
    billmail.mail_batch(mailed.utility_id)
    _first, correction = bill_mails()
    assert "(先のお知らせでは使用期間を2026年12月25日までとしていました)" in correction.body
