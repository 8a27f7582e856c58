"""The staff queue: scoping per utility, 処理中 / 完了 / 要連絡 with a mailed note, the end of a
member's contract link on a completed move-out, and the CIS's CSV (header and encoding)."""

from __future__ import annotations

import datetime
import logging
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import ContractLink, MemberEvent
from accounts.services.matching import match_contract
from moving import services
from moving.export import CSV_COLUMNS
from moving.models import MoveApplication
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    MeterReadingFactory,
    StaffFactory,
    UtilityFactory,
)

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2025, 6, 1, 10, 0, tzinfo=JST)
HEADER = ",".join(CSV_COLUMNS)


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def move_out(customer, member=None, **overrides) -> MoveApplication:
    fields = {
        "utility": customer.utility,
        "kind": "move_out",
        "reference": f"20250601-{MoveApplication.objects.count():06d}",
        "member": member,
        "customer": customer,
        "customer_number": customer.number,
        "move_date": datetime.date(2025, 6, 20),
        "name": customer.name,
        "phone": "09012345678",
        "email": member.email if member else "guest@example.jp",
        "final_bill_address": "札幌市中央区北1条西2丁目",
        "payment": "slip",
    }
    return MoveApplication.objects.create(**{**fields, **overrides})


def staff_client(client, utility, *codenames):
    staff = StaffFactory(utility=utility)
    codenames = codenames or ("view_moveapplication", "change_moveapplication")
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    return staff


def handling(application, status: str, note: str = "", **extra) -> dict:
    """The admin form as the page posts it: the typed text as shown, the staff's choice."""
    typed = {name: getattr(application, name) for name in services.CORRECTABLE}
    return {**typed, "status": status, "staff_note": note, **extra}


def change_url(application) -> str:
    return reverse("admin:moving_moveapplication_change", args=[application.pk])


LIST = reverse("admin:moving_moveapplication_changelist")
EXPORT = reverse("admin:moving_moveapplication_export_csv")


def test_staff_see_only_their_utilitys_applications(client):
    ours, theirs = UtilityFactory(), UtilityFactory()
    mine = move_out(CustomerFactory(utility=ours))
    other = move_out(CustomerFactory(utility=theirs))
    staff_client(client, ours)
    listing = client.get(LIST)
    assertContains(listing, mine.reference)
    assertNotContains(listing, other.reference)
    assert client.get(change_url(other)).status_code == 302  # the admin's "no such object"
    assert client.post(change_url(other), handling(other, "done")).status_code == 302
    other.refresh_from_db()
    assert other.status == "received"
    body = client.get(EXPORT + "?since=2025-01-01").content.decode("cp932")
    assert mine.reference in body and other.reference not in body


def test_the_queue_lists_the_nearest_day_first_and_shows_the_evidence(client):
    utility = UtilityFactory()
    customer = CustomerFactory(utility=utility, name="金沢 一郎", phone="0762201234")
    later = move_out(customer, move_date=datetime.date(2025, 7, 1))
    typed = {"name": "金沢 一郎", "phone": "0762209999", "address": customer.address}
    sooner = move_out(
        customer,
        move_date=datetime.date(2025, 6, 10),
        match=match_contract(utility, customer.number, **typed),
        phone="0762209999",
    )
    staff_client(client, utility)
    listing = client.get(LIST).content.decode()
    assert listing.index(sooner.reference) < listing.index(later.reference)
    assert "電話×" in listing
    page = client.get(change_url(sooner))
    assertContains(page, "入力された値")
    assertContains(page, "0762209999")


def test_completing_a_move_out_mails_the_note_and_ends_the_members_link(client, mailoutbox, caplog):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    utility = UtilityFactory()
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    application = move_out(link.customer, member=member)
    staff = staff_client(client, utility)
    response = client.post(
        change_url(application), handling(application, "done", "最終の検針は6月20日です。")
    )
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == "done" and application.handled_by == staff
    link.refresh_from_db()
    assert link.ended_on == datetime.date(2025, 6, 20)
    assert MemberEvent.objects.filter(member=member, action="contract_ended").exists()
    mail = mailoutbox[-1]
    assert mail.to == [member.email]
    assert "完了" in mail.subject
    assert "最終の検針は6月20日です。" in mail.body
    assert "event=move_handled" in caplog.text and "status=done" in caplog.text


def test_contact_needs_a_note_and_done_is_final(client, mailoutbox):
    utility = UtilityFactory()
    application = move_out(CustomerFactory(utility=utility))
    staff_client(client, utility)
    response = client.post(change_url(application), handling(application, "contact", ""))
    assertContains(response, "要連絡にするときは、お客さまへの連絡事項を入力してください。")
    assert not mailoutbox
    client.post(change_url(application), handling(application, "processing", ""))
    application.refresh_from_db()
    assert application.status == "processing"
    assert "処理中" in mailoutbox[-1].subject
    client.post(change_url(application), handling(application, "done", ""))
    response = client.post(change_url(application), handling(application, "contact", "x"))
    assertContains(response, "完了したお申し込みの状況は変えられません。")


def test_an_ended_link_keeps_the_history_of_the_members_period(client):
    utility = UtilityFactory()
    member = MemberFactory(utility=utility)
    link = ContractLinkFactory(member=member)
    # Periods end 2025-05-25, 2025-03-25, 2025-01-25 (two-monthly).
    readings = [
        MeterReadingFactory(customer=link.customer, period_end=d)
        for d in (
            datetime.date(2025, 5, 25),
            datetime.date(2025, 3, 25),
            datetime.date(2025, 1, 25),
        )
    ]
    client.force_login(member)
    history = reverse("billing:history", args=[utility.slug, link.customer.number])
    assertContains(client.get(history), "2025年5月")
    link.ended_on = datetime.date(2025, 3, 1)
    link.save()
    page = client.get(history)
    assert page.status_code == 200
    assertNotContains(page, "2025年5月")
    assertContains(page, "2025年3月")
    later = reverse(
        "billing:period", args=[utility.slug, link.customer.number, readings[0].period_end]
    )
    assert client.get(later).status_code == 404
    earlier = reverse(
        "billing:period", args=[utility.slug, link.customer.number, readings[1].period_end]
    )
    assert client.get(earlier).status_code == 200


def test_the_csv_has_the_documented_header_in_cp932(client):
    utility = UtilityFactory(slug="kanazawa-test")
    application = move_out(CustomerFactory(utility=utility, number="10000000000004"))
    staff_client(client, utility)
    response = client.get(EXPORT)
    assert response["Content-Type"] == "text/csv; charset=cp932"
    lines = response.content.decode("cp932").split("\r\n")
    assert lines[0] == HEADER
    assert lines[1].startswith(f"kanazawa-test,{application.reference},move_out,received,")
    assert "札幌市中央区北1条西2丁目" in lines[1]


def test_a_name_cp932_cannot_hold_is_left_out_named_and_corrected_by_staff(client):
    utility = UtilityFactory()
    application = move_out(CustomerFactory(utility=utility), name="髙﨑 𠮷子")
    other = move_out(CustomerFactory(utility=utility))
    staff_client(client, utility)
    response = client.get(EXPORT)
    body = response.content.decode("cp932")
    assert other.reference in body and application.reference not in body
    listing = client.get(LIST)
    assertContains(listing, "cp932で書けない文字を含むため、次の申込みは書き出していません")
    assertContains(listing, application.reference)
    page = client.post(change_url(application), handling(application, "received", name="髙﨑 𠮷子"))
    assertContains(page, "「𠮷」は使えません。「吉」などに置き換えてください。")
    client.post(change_url(application), handling(application, "received", name="髙﨑 吉子"))
    application.refresh_from_db()
    assert application.name == "髙﨑 吉子" and application.status == "received"
    assert application.reference in client.get(EXPORT).content.decode("cp932")


def test_export_moves_command_since_a_day(tmp_path):
    utility = UtilityFactory(slug="nayoro-test")
    old = move_out(CustomerFactory(utility=utility))
    MoveApplication.objects.filter(pk=old.pk).update(
        created_at=datetime.datetime(2025, 5, 1, 9, tzinfo=JST)
    )
    new = move_out(CustomerFactory(utility=utility))
    out = tmp_path / "moves.csv"
    call_command("export_moves", "--since", "2025-06-01", "--output", str(out))
    text = out.read_bytes().decode("cp932")
    assert text.startswith(HEADER + "\r\n")
    assert new.reference in text and old.reference not in text
    call_command("export_moves", "--since", "2025-05-01", "--encoding", "utf-8", "-o", str(out))
    assert old.reference in out.read_text("utf-8")
    with pytest.raises(CommandError, match="2026-12-01 の形"):
        call_command("export_moves", "--since", "2025-02-30", "-o", str(out))


def test_staff_group_reaches_the_queue():
    from accounts.services.staff import ensure_staff_group

    codenames = set(ensure_staff_group().permissions.values_list("codename", flat=True))
    assert {"view_moveapplication", "change_moveapplication", "change_movingsettings"} <= codenames


def test_staff_edit_only_their_utilitys_settings(client):
    ours, theirs = UtilityFactory(), UtilityFactory()
    staff_client(client, ours, "view_movingsettings", "change_movingsettings")
    listing = client.get(reverse("admin:moving_movingsettings_changelist"))
    assertContains(listing, ours.portal_name)
    assertNotContains(listing, theirs.portal_name)
    page = reverse("admin:moving_movingsettings_change", args=[ours.moving_settings.pk])
    response = client.post(
        page,
        {
            "offers_move_out": "on",
            "offers_move_in": "on",
            "earliest_days": "3",
            "window_days": "60",
            "closed_dates": "12/29-1/3 年末年始\n2/30",
            "move_out_text": "",
            "move_in_text": "",
        },
    )
    assertContains(response, "2行目")
    assert ContractLink.objects.count() == 0
