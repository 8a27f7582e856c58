"""Mails after an import of readings: 「今月のご使用量・料金のお知らせ」, its correction, the
abnormal-use alert; once per reading, held on request, in batches, as each member chose."""

from __future__ import annotations

import datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.asserts import assertContains

from billing import billmail
from billing.models import ImportJob, MeterReading
from portal.models import OutboxMail
from tests.billing.test_import_admin import staff_of
from tests.factories import ContractLinkFactory, CustomerFactory, MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=JST)
HEADER = (
    "utility,customer_number,period_start,period_end,read_on,previous_index,current_index,"
    "usage_m3,water_charge,sewer_charge,tax,total\n"
)
READINGS_URL = "/admin/billing/meterreading/import-csv/"


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def nayoro(frozen, settings):
    settings.PORTAL_BASE_URL = "https://portal.example.jp"
    return UtilityFactory(slug="nayoro", customer_number_digits=11, portal_name="名寄市ポータル")


def row(contract, *, usage=20, total=5000, start="2026-10-26", end="2026-11-25", read="2026-11-26"):
    water = total - 1000
    return (
        f"{contract.utility.slug},{contract.number},{start},{end},{read},100,{100 + usage},"
        f"{usage},{water},1000,{total // 11},{total}\n"
    )


def run_import(tmp_path, *rows, args=()):
    path = tmp_path / "readings.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    call_command("import_readings", str(path), *args, stdout=StringIO(), stderr=StringIO())


def member_of(contract, **fields):
    member = MemberFactory(utility=contract.utility, **fields)
    ContractLinkFactory(member=member, customer=contract)
    return member


def bill_mails():
    return [m for m in mail.outbox if "ご使用量・料金のお知らせ" in m.subject]


def test_an_import_mails_each_member_of_the_contract_once_with_period_usage_total_and_link(
    nayoro, tmp_path
):
    contract = CustomerFactory(utility=nayoro)
    first, second = member_of(contract), member_of(contract)
    run_import(tmp_path, row(contract, usage=23, total=4321))
    sent = bill_mails()
    assert sorted(m.to[0] for m in sent) == sorted([first.email, second.email])
    message = sent[0]
    assert message.subject == "【名寄市ポータル】今月のご使用量・料金のお知らせ"
    assert "2026年10月26日〜2026年11月25日" in message.body
    assert "使用水量: 23 m³" in message.body
    assert "請求金額: 4,321円" in message.body
    assert f"https://portal.example.jp/nayoro/usage/{contract.number}/2026-11-25/" in message.body
    # The same file again: nothing more.
    run_import(tmp_path, row(contract, usage=23, total=4321))
    assert len(bill_mails()) == 2


def test_a_corrected_total_sends_one_correction_mail_and_the_same_correction_again_none(
    nayoro, tmp_path
):
    contract = CustomerFactory(utility=nayoro)
    member = member_of(contract)
    run_import(tmp_path, row(contract, total=5000))
    run_import(tmp_path, row(contract, total=5500))
    run_import(tmp_path, row(contract, total=5500))
    subjects = [m.subject for m in bill_mails()]
    assert subjects == [
        "【名寄市ポータル】今月のご使用量・料金のお知らせ",
        "【名寄市ポータル】【訂正】今月のご使用量・料金のお知らせ",
    ]
    correction = bill_mails()[1]
    assert correction.to == [member.email]
    assert "請求金額: 5,500円(先のお知らせでは5,000円)" in correction.body


def test_a_dry_run_and_a_held_import_mail_nothing_until_an_import_that_does_not_hold(
    nayoro, tmp_path
):
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    run_import(tmp_path, row(contract), args=["--dry-run"])
    run_import(tmp_path, row(contract), args=["--hold-mail"])
    assert bill_mails() == []
    nayoro.hold_bill_mail = True  # the utility holds by default
    nayoro.save()
    run_import(tmp_path, row(contract))
    assert bill_mails() == []
    run_import(tmp_path, row(contract), args=["--send-mail"])
    assert len(bill_mails()) == 1


def test_only_a_recent_newest_period_is_announced(nayoro, tmp_path):
    old = CustomerFactory(utility=nayoro)
    member_of(old)
    # Read 70 days ago: a late load of an old period mails nobody.
    run_import(tmp_path, row(old, start="2026-08-26", end="2026-09-25", read="2026-09-26"))
    assert bill_mails() == []
    backfilled = CustomerFactory(utility=nayoro)
    member_of(backfilled)
    MeterReading.objects.create(
        customer=backfilled,
        period_start=datetime.date(2026, 11, 26),
        period_end=datetime.date(2026, 12, 5),
        read_on=datetime.date(2026, 12, 5),
        previous_index=0,
        current_index=1,
        usage_m3=1,
        water_charge=1,
        sewer_charge=0,
        tax=0,
        total=1,
        mailed_total=1,
    )
    # A period older than the one already announced is history, not this month's bill.
    run_import(tmp_path, row(backfilled))
    assert bill_mails() == []


def test_the_mail_of_one_member_holds_only_their_own_contract(nayoro, tmp_path):
    other_utility = UtilityFactory(slug="kanazawa", customer_number_digits=14)
    mine, theirs = CustomerFactory(utility=nayoro), CustomerFactory(utility=nayoro)
    elsewhere = CustomerFactory(utility=other_utility)
    me, them = member_of(mine), member_of(theirs)
    stranger = member_of(elsewhere)
    run_import(
        tmp_path,
        row(mine, total=1111),
        row(theirs, total=2222),
        row(elsewhere, total=3333),
    )
    by_address = {m.to[0]: m for m in bill_mails()}
    assert "1,111円" in by_address[me.email].body
    assert theirs.number not in by_address[me.email].body
    assert "2,222円" not in by_address[me.email].body
    assert "2,222円" in by_address[them.email].body
    assert mine.number not in by_address[them.email].body
    # Kanazawa's member gets Kanazawa's mail from Kanazawa's sender, with nothing of Nayoro's.
    theirs_mail = by_address[stranger.email]
    assert "3,333円" in theirs_mail.body and "名寄" not in theirs_mail.body + theirs_mail.subject


def test_readings_are_mailed_in_batches_each_bounded(nayoro, settings, tmp_path):
    settings.PORTAL_BILL_MAIL_BATCH = 2
    contracts = [CustomerFactory(utility=nayoro) for _ in range(5)]
    for contract in contracts:
        member_of(contract)
    run_import(tmp_path, *[row(c) for c in contracts], args=["--hold-mail"])
    assert MeterReading.objects.filter(mailed_total__isnull=True).count() == 5
    with CaptureQueriesContext(connection) as first:
        assert billmail.mail_batch(nayoro.pk) is True
    assert OutboxMail.objects.count() == 2
    # One batch: a bounded number of queries, not one per member.
    assert len(first.captured_queries) < 20
    assert billmail.mail_batch(nayoro.pk) is True
    assert billmail.mail_batch(nayoro.pk) is False
    assert billmail.mail_batch(nayoro.pk) is False
    assert OutboxMail.objects.filter(template="billing/bill_ready").count() == 5


def test_mail_choices_are_honoured_and_the_utilitys_default_applies_to_who_never_chose(
    nayoro, tmp_path
):
    contract = CustomerFactory(utility=nayoro)
    default = member_of(contract)
    declined = member_of(contract, wants_bill_mail=False)
    chose = member_of(contract, wants_bill_mail=True)
    run_import(tmp_path, row(contract, total=5000))
    assert sorted(m.to[0] for m in bill_mails()) == sorted([default.email, chose.email])
    assert declined.email not in [m.to[0] for m in mail.outbox]
    nayoro.mail_bill_ready_default = False
    nayoro.save()
    run_import(tmp_path, row(contract, total=5100))
    assert [m.to[0] for m in bill_mails()[2:]] == [chose.email]


def test_abnormal_use_is_mailed_once_by_the_dashboards_rule(nayoro, tmp_path):
    contract = CustomerFactory(utility=nayoro)
    member = member_of(contract)
    quiet = member_of(contract, wants_alert_mail=False)
    MeterReading.objects.create(
        customer=contract,
        period_start=datetime.date(2025, 10, 26),
        period_end=datetime.date(2025, 11, 25),
        read_on=datetime.date(2025, 11, 26),
        previous_index=0,
        current_index=10,
        usage_m3=10,
        water_charge=1000,
        sewer_charge=0,
        tax=90,
        total=1000,
        mailed_total=1000,
    )
    run_import(tmp_path, row(contract, usage=40))
    run_import(tmp_path, row(contract, usage=40, total=5200))  # a correction: no second alert
    alerts = [m for m in mail.outbox if "水漏れの可能性" in m.subject]
    assert [m.to for m in alerts] == [[member.email]]
    assert "今回の使用水量(40 m³)は、前年同期(10 m³)より大きく増えています" in alerts[0].body
    assert quiet.email in [m.to[0] for m in bill_mails()]


def test_staff_hold_the_mail_with_a_checkbox_ticked_by_the_utilitys_default(
    nayoro, client, settings
):
    nayoro.hold_bill_mail = True
    nayoro.save()
    staff = staff_of(nayoro)
    client.force_login(staff)
    page = client.get(READINGS_URL)
    assertContains(page, "お知らせメールを保留する")
    assert page.context["form"]["hold_mail"].value() is True
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)

    def upload(**extra):
        data = (HEADER + row(contract)).encode()
        return client.post(
            READINGS_URL,
            {"file": SimpleUploadedFile("r.csv", data), "encoding": "", **extra},
        )

    upload(hold_mail="on")
    assert ImportJob.objects.get().hold_mail is True
    assert bill_mails() == []
    upload()  # unticked: the reading held before goes now
    assert len(bill_mails()) == 1


def test_a_member_who_moved_out_is_not_mailed_a_period_begun_after(nayoro, tmp_path):
    contract = CustomerFactory(utility=nayoro)
    stayed, moved = member_of(contract), member_of(contract)
    moved.contract_links.update(ended_on=datetime.date(2026, 10, 20))  # a completed 使用中止
    run_import(tmp_path, row(contract))  # the period 2026-10-26〜2026-11-25
    assert [m.to[0] for m in bill_mails()] == [stayed.email]


def test_a_member_who_moved_in_later_is_not_mailed_a_period_ended_before(nayoro, tmp_path):
    contract = CustomerFactory(utility=nayoro)
    stayed, moved = member_of(contract), member_of(contract)
    moved.contract_links.update(started_on=datetime.date(2026, 11, 26))  # a 使用開始 after it
    out = StringIO()
    path = tmp_path / "readings.csv"
    path.write_text(HEADER + row(contract), encoding="utf-8")  # 2026-10-26〜2026-11-25
    call_command("import_readings", str(path), "--hold-mail", stdout=out, stderr=StringIO())
    assert "お知らせメール: 1 通を保留しています" in out.getvalue()
    call_command("import_readings", str(path), stdout=StringIO(), stderr=StringIO())
    assert [m.to[0] for m in bill_mails()] == [stayed.email]


def test_every_change_of_the_total_is_mailed_even_back_to_an_amount_told_before(nayoro, tmp_path):
    """The tester's A→B→A→B: the fourth import was skipped as a duplicate key, and the next
    correction quoted an amount the member was never sent."""
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    for total in (4900, 5000, 4900, 5000, 5100):
        run_import(tmp_path, row(contract, total=total))
    bodies = [m.body for m in bill_mails()]
    assert len(bodies) == 5
    assert "請求金額: 4,900円\n" in bodies[0]
    assert "請求金額: 5,000円(先のお知らせでは4,900円)" in bodies[1]
    assert "請求金額: 4,900円(先のお知らせでは5,000円)" in bodies[2]
    assert "請求金額: 5,000円(先のお知らせでは4,900円)" in bodies[3]
    assert "請求金額: 5,100円(先のお知らせでは5,000円)" in bodies[4]
    # The same file once more: nothing.
    run_import(tmp_path, row(contract, total=5100))
    assert len(bill_mails()) == 5


def test_a_told_period_corrected_after_a_newer_one_came_is_mailed_as_a_correction(nayoro, tmp_path):
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    run_import(tmp_path, row(contract, total=5300))
    newer = row(contract, start="2026-11-26", end="2026-12-05", read="2026-12-05", total=1500)
    run_import(tmp_path, newer)
    run_import(tmp_path, row(contract, total=6000))
    subjects = [m.subject for m in bill_mails()]
    assert len(subjects) == 3 and "【訂正】" in subjects[2]
    assert "2026年10月26日〜2026年11月25日" in bill_mails()[2].body
    assert "請求金額: 6,000円(先のお知らせでは5,300円)" in bill_mails()[2].body
    # A period never told (loaded late, before the newest) still mails nobody when it changes.
    old = {"start": "2026-09-26", "end": "2026-10-25", "read": "2026-10-26"}
    run_import(tmp_path, row(contract, total=1100, **old))
    run_import(tmp_path, row(contract, total=1200, **old))
    assert len(bill_mails()) == 3


def test_a_reading_stored_before_bill_mails_existed_is_not_corrected_by_a_mail_never_sent(
    nayoro, tmp_path
):
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    # As the upgrade leaves it: marked told (1,975円), though no mail was ever sent.
    MeterReading.objects.create(
        customer=contract,
        period_start=datetime.date(2026, 10, 26),
        period_end=datetime.date(2026, 11, 25),
        read_on=datetime.date(2026, 11, 25),
        previous_index=964,
        current_index=980,
        usage_m3=16,
        water_charge=1000,
        sewer_charge=975,
        tax=179,
        total=1975,
        mailed_total=1975,
    )
    run_import(tmp_path, row(contract, total=8000, read="2026-11-25"))
    (sent,) = bill_mails()
    assert sent.subject == "【名寄市ポータル】今月のご使用量・料金のお知らせ"
    assert "請求金額: 8,000円\n" in sent.body
    assert "先のお知らせ" not in sent.body and "申し訳" not in sent.body


def test_a_correction_that_moves_the_period_end_is_a_correction_and_the_old_link_leads_on(
    nayoro, tmp_path, client
):
    contract = CustomerFactory(utility=nayoro)
    member = member_of(contract)
    run_import(tmp_path, row(contract, total=4900, end="2026-12-05", read="2026-12-05"))
    path = tmp_path / "moved.csv"
    path.write_text(
        HEADER.rstrip("\n")
        + ",replaces_period_end\n"
        + row(contract, total=5300, end="2026-12-04", read="2026-12-04").rstrip("\n")
        + ",2026-12-05\n",
        encoding="utf-8",
    )
    call_command("import_readings", str(path), stdout=StringIO(), stderr=StringIO())
    first, moved = bill_mails()
    assert moved.subject == "【名寄市ポータル】【訂正】今月のご使用量・料金のお知らせ"
    assert "2026年10月26日〜2026年12月4日" in moved.body
    assert "請求金額: 5,300円(先のお知らせでは4,900円)" in moved.body
    assert "先のお知らせでは使用期間を2026年10月26日〜2026年12月5日としていました" in moved.body
    # The first mail's link now leads to the slip of the period that replaced it.
    client.force_login(member)
    old_link = f"/nayoro/usage/{contract.number}/2026-12-05/"
    assert old_link in first.body
    response = client.get(old_link)
    assert response.status_code == 302
    assert response.url == f"/nayoro/usage/{contract.number}/2026-12-04/"
    # A period this contract never had: the history, not a 404.
    response = client.get(f"/nayoro/usage/{contract.number}/2020-01-01/")
    assert response.status_code == 302
    assert response.url == f"/nayoro/usage/{contract.number}/history/"


def test_the_command_says_how_many_mails_it_queued_or_held(nayoro, tmp_path):
    contract = CustomerFactory(utility=nayoro)
    member_of(contract), member_of(contract)
    moved = member_of(contract)  # moved out before the period: neither mailed nor counted
    moved.contract_links.update(ended_on=datetime.date(2026, 10, 20))
    path = tmp_path / "readings.csv"
    path.write_text(HEADER + row(contract), encoding="utf-8")
    out = StringIO()
    call_command("import_readings", str(path), "--hold-mail", stdout=out, stderr=StringIO())
    assert "お知らせメール: 2 通を保留しています" in out.getvalue()
    assert bill_mails() == []
    out = StringIO()
    call_command("import_readings", str(path), stdout=out, stderr=StringIO())
    assert "お知らせメール: 2 通を送ります" in out.getvalue()
    assert len(bill_mails()) == 2
    out = StringIO()
    call_command("import_readings", str(path), stdout=out, stderr=StringIO())
    assert "お知らせメール" not in out.getvalue()  # nothing new to tell: no line


def test_the_job_page_says_what_was_held_and_staff_release_it_without_an_import(nayoro, client):
    kanazawa = UtilityFactory(slug="kanazawa", customer_number_digits=14)
    theirs = CustomerFactory(utility=kanazawa)
    member_of(theirs)
    MeterReading.objects.create(  # Kanazawa's reading, not mailed yet
        customer=theirs,
        period_start=datetime.date(2026, 10, 26),
        period_end=datetime.date(2026, 11, 25),
        read_on=datetime.date(2026, 11, 26),
        previous_index=0,
        current_index=1,
        usage_m3=1,
        water_charge=1000,
        sewer_charge=0,
        tax=90,
        total=1000,
    )
    contract = CustomerFactory(utility=nayoro)
    member = member_of(contract)
    client.force_login(staff_of(nayoro))
    data = (HEADER + row(contract)).encode()
    client.post(
        READINGS_URL,
        {"file": SimpleUploadedFile("r.csv", data), "encoding": "", "hold_mail": "on"},
    )
    job = ImportJob.objects.get()
    assertContains(client.get(f"{READINGS_URL}{job.pk}/"), "お知らせメール: 1 通を保留しています")
    assertContains(client.get(READINGS_URL), "まだ送っていないお知らせメール: 1 通")
    client.get(f"{READINGS_URL}release-mail/")  # a GET sends nothing
    assert bill_mails() == []
    response = client.post(f"{READINGS_URL}release-mail/")
    assert response.status_code == 302
    assert [m.to for m in bill_mails()] == [[member.email]]  # Nayoro's only
    assertContains(client.get(response.url), "お知らせメール 1 通を送ります")
    assert MeterReading.objects.get(customer=theirs).mail_count == 0


def run_corrections(tmp_path, *rows, args=()):
    """Import rows that may name the period they replace (``(row, replaces_period_end)``)."""
    path = tmp_path / "corrections.csv"
    lines = [r if isinstance(r, tuple) else (r, "") for r in rows]
    text = HEADER.rstrip("\n") + ",replaces_period_end\n"
    text += "".join(f"{line.rstrip()},{replaces}\n" for line, replaces in lines)
    path.write_text(text, encoding="utf-8")
    call_command("import_readings", str(path), *args, stdout=StringIO(), stderr=StringIO())


def test_a_correction_and_a_newer_period_in_one_file_are_both_mailed(nayoro, tmp_path):
    """a16c F1b: the batch mailed one reading a contract; the other was marked told unsent."""
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    run_import(tmp_path, row(contract, total=5000))
    newer = row(contract, start="2026-11-26", end="2026-12-05", read="2026-12-05", total=1500)
    run_import(tmp_path, row(contract, total=5500), newer)
    first, *then = bill_mails()
    assert sorted(m.subject for m in then) == [
        "【名寄市ポータル】【訂正】今月のご使用量・料金のお知らせ",
        "【名寄市ポータル】今月のご使用量・料金のお知らせ",
    ]
    bodies = "\n".join(m.body for m in then)
    assert "請求金額: 5,500円(先のお知らせでは5,000円)" in bodies
    assert "2026年11月26日〜2026年12月5日" in bodies and "請求金額: 1,500円\n" in bodies


def test_a_new_period_ending_where_a_corrected_one_ended_before_is_mailed(nayoro, tmp_path):
    """a16c F1a: its mail took the key of the first mail of the period moved away, and the
    outbox, which writes a key once, dropped it: counted, marked told, never sent."""
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    run_import(tmp_path, row(contract, total=4900, end="2026-12-05", read="2026-12-05"))
    moved = row(contract, total=4000, end="2026-12-02", read="2026-12-02")
    run_corrections(tmp_path, (moved, "2026-12-05"))
    after = row(contract, total=1900, start="2026-12-03", end="2026-12-05", read="2026-12-05")
    run_import(tmp_path, moved, after)
    assert len(bill_mails()) == 3
    assert "2026年12月3日〜2026年12月5日" in bill_mails()[2].body
    assert "請求金額: 1,900円\n" in bill_mails()[2].body


def test_two_held_corrections_then_sent_name_the_period_told_not_the_one_held(nayoro, tmp_path):
    """a16c F2: the second correction carried over the first's dates, never mailed, as told."""
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    run_import(tmp_path, row(contract, total=4900, end="2026-12-05", read="2026-12-05"))
    once = row(contract, total=4900, end="2026-12-04", read="2026-12-04")
    run_corrections(tmp_path, (once, "2026-12-05"), args=["--hold-mail"])
    twice = row(contract, total=4900, end="2026-12-03", read="2026-12-03")
    run_corrections(tmp_path, (twice, "2026-12-04"), args=["--hold-mail"])
    run_corrections(tmp_path, (twice, "2026-12-04"), args=["--send-mail"])
    first, corrected = bill_mails()
    assert "【訂正】" in corrected.subject
    assert "2026年10月26日〜2026年12月3日" in corrected.body
    assert "先のお知らせでは使用期間を2026年10月26日〜2026年12月5日としていました" in corrected.body


def test_a_told_period_split_with_one_piece_keeping_its_end_mails_both_pieces(nayoro, tmp_path):
    """a16d F1: the piece keeping the end was mailed as a correction; the other, new and older
    than the newest, mailed nobody, though its days were told in the first mail."""
    contract = CustomerFactory(utility=nayoro)
    member_of(contract)
    run_import(tmp_path, row(contract, total=4900, end="2026-12-05", read="2026-12-05"))
    first = row(contract, total=2900, end="2026-11-25", read="2026-11-25")
    rest = row(contract, total=2000, start="2026-11-26", end="2026-12-05", read="2026-12-05")
    run_import(tmp_path, first, rest)
    told, *corrections = bill_mails()
    bodies = "\n".join(m.body for m in corrections)
    assert len(corrections) == 2 and all("【訂正】" in m.subject for m in corrections), bodies
    assert (
        "2026年10月26日〜2026年11月25日" in bodies
        and "請求金額: 2,900円(先のお知らせでは4,900円)" in bodies
    )
    assert "2026年11月26日〜2026年12月5日" in bodies and "請求金額: 2,000円" in bodies
    run_import(tmp_path, first, rest)  # the same file again: nothing more
    assert len(bill_mails()) == 3
