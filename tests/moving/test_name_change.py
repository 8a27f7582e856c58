"""名義変更 (change of contract holder): offered by the utility's settings, guest or member,
入力 → 確認 → 完了, staff completion ending the old holder's link, the CIS's row."""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import MemberEvent
from moving import services
from moving.export import CSV_COLUMNS, export_csv
from moving.models import MoveApplication, MovingSettings
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


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def nayoro():
    utility = UtilityFactory(code_style=True)
    MovingSettings.objects.filter(utility=utility).update(offers_name_change=True)
    return utility


@pytest.fixture
def contract(nayoro):
    return CustomerFactory(
        utility=nayoro, number="20000000004", name_kana="ナヨロ タロウ", phone="0165421234"
    )


def new_holder(**overrides) -> dict:
    data = {
        "move_date": "2027-03-20",
        "new_name": "名寄 花子",
        "new_name_kana": "なよろ はなこ",
        "new_phone": "090-1111-2222",
        "new_email": "hanako@example.jp",
        "relationship": "inheritance",
        "relationship_note": "",
        "payment": "transfer",
        "wants_membership": "on",
    }
    return {**data, **overrides}


def guest(contract, **overrides) -> dict:
    typed = {
        "customer_number": contract.number,
        "name_kana": "なよろ たろう",
        "phone": "0165-42-1234",
        "email": "applicant@example.jp",
    }
    return new_holder(**{**typed, **overrides})


def test_off_by_default_and_404_until_the_utility_offers_it(client):
    utility = UtilityFactory()
    assert not utility.moving_settings.offers_name_change
    assert client.get(url(utility, "name_change")).status_code == 404
    assertNotContains(client.get(url(utility, "index")), "名義変更")


def test_guest_name_change_is_confirmed_numbered_mailed_and_matched(
    client, nayoro, contract, mailoutbox
):
    assertContains(client.get(url(nayoro, "index")), url(nayoro, "name_change"))
    response = apply(client, nayoro, "name_change", guest(contract))
    application = MoveApplication.objects.get()
    assertContains(response, "お申し込みを受け付けました")
    assertContains(response, application.reference)
    assertContains(response, "名義変更日")
    assert application.kind == "name_change"
    assert application.customer == contract and application.matched
    assert application.new_name == "名寄 花子"
    assert application.new_name_kana == "ナヨロ ハナコ"
    assert application.new_phone == "09011112222"
    assert application.relationship == "inheritance" and application.wants_membership
    mail = mailoutbox[-1]
    assert mail.to == ["applicant@example.jp"]
    assert "名義変更のお申し込みを受け付けました" in mail.subject
    assert "新しい名義人のお名前: 名寄 花子" in mail.body
    assert "名義変更の理由: 相続" in mail.body
    assert "名義変更日: 2027年3月20日" in mail.body


def test_an_unknown_number_gets_the_same_answer(client, nayoro, contract, mailoutbox):
    known = apply(client, nayoro, "name_change", guest(contract)).content.decode()
    unknown = apply(
        client, nayoro, "name_change", guest(contract, customer_number="29999999999")
    ).content.decode()
    strip = re.compile(r"\d{8}-\d{6}|csrfmiddlewaretoken\S+|nonce=\"[^\"]+\"")
    assert strip.sub("", known) == strip.sub("", unknown)
    assert len(mailoutbox) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"move_date": "2027-03-02"}, "名義変更日は2027年3月4日以降の日を選んでください。"),
        ({"new_name": ""}, "新しい名義人のお名前を入力してください。"),
        ({"new_name_kana": "Hanako"}, "カタカナで入力してください"),
        ({"new_phone": "12345"}, "電話番号は市外局番から10〜11桁の数字で入力してください。"),
        ({"new_email": ""}, "新しい名義人のメールアドレスを入力してください。"),
        ({"relationship": ""}, "名義変更の理由を選んでください。"),
        ({"relationship": "other"}, "「その他」を選んだときは、理由を入力してください。"),
        ({"new_name": "名寄\n花子"}, "改行や制御文字は使えません。"),
        ({"new_name": "𠮷田 花子"}, "「𠮷」は使えません。「吉」などに置き換えてください。"),
    ],
)
def test_bad_input_is_refused_beside_the_field(client, nayoro, contract, overrides, message):
    response = client.post(url(nayoro, "name_change"), guest(contract, **overrides))
    assertContains(response, message)
    assert not MoveApplication.objects.exists()


def test_a_non_workable_day_is_refused(client, nayoro, contract, time_machine):
    time_machine.move_to(datetime.datetime(2026, 12, 10, 10, tzinfo=JST), tick=False)
    response = client.post(url(nayoro, "name_change"), guest(contract, move_date="2026-12-30"))
    assertContains(response, "2026年12月30日は年末年始のため受け付けていません。")


def test_a_second_name_change_of_the_contract_is_refused(client, nayoro, contract, mailoutbox):
    apply(client, nayoro, "name_change", guest(contract))
    response = client.post(url(nayoro, "name_change"), guest(contract))
    assertContains(response, "この契約の2027年3月20日の名義変更は、すでに受け付けています。")
    response = client.post(url(nayoro, "name_change"), guest(contract, move_date="2027-03-25"))
    assertContains(response, "この契約の名義変更は、すでに受け付けています。")
    assert MoveApplication.objects.count() == 1


@pytest.fixture
def member(nayoro, contract):
    member = MemberFactory(utility=nayoro, login_id="", email="taro@example.jp", phone="0165000000")
    ContractLinkFactory(member=member, customer=contract)
    return member


def test_member_names_one_of_their_contracts(client, nayoro, member, contract, mailoutbox):
    client.force_login(member)
    assert client.get(url(nayoro, "name_change")).status_code == 302  # picks a contract
    index = client.get(url(nayoro, "index"))
    assertContains(index, url(nayoro, "member_name_change", contract.number))
    page = client.get(url(nayoro, "member_name_change", contract.number))
    assertNotContains(page, 'name="customer_number"')
    assertNotContains(page, 'name="email"')
    apply(client, nayoro, "member_name_change", new_holder(), contract.number)
    application = MoveApplication.objects.get()
    assert application.member == member and application.customer == contract
    assert application.email == "taro@example.jp"
    assert application.name_kana == "ナヨロ タロウ"  # the contract's
    assert mailoutbox[-1].to == ["taro@example.jp"]
    theirs = CustomerFactory(utility=nayoro)
    assert client.get(url(nayoro, "member_name_change", theirs.number)).status_code == 404


def test_completing_it_ends_the_old_holders_link_and_exports_the_row(
    client, nayoro, member, contract, mailoutbox
):
    client.force_login(member)
    apply(client, nayoro, "member_name_change", new_holder(), contract.number)
    application = MoveApplication.objects.get()
    staff = StaffFactory(utility=nayoro)
    codenames = ("view_moveapplication", "change_moveapplication")
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    page = reverse("admin:moving_moveapplication_change", args=[application.pk])
    assertContains(client.get(page), "新しい名義人のお名前")
    typed = {name: getattr(application, name) for name in services.CORRECTABLE}
    client.post(
        page, {**typed, "status": "done", "staff_note": "", "new_customer_number": "20000000009"}
    )
    link = member.contract_links.get()
    assert link.ended_on == datetime.date(2027, 3, 20)
    # Finding a21 F2: a 名義変更, not a 使用中止, in the history and in the member's forms.
    [event] = MemberEvent.objects.filter(member=member, action="contract_handed_over")
    assert str(event).endswith("名義変更により契約の表示を終了")
    assert "名義変更のお申し込み: 完了" in mailoutbox[-1].subject
    client.force_login(member)
    for name in ("member_name_change", "member_move_out"):
        response = client.post(url(nayoro, name, contract.number), new_holder())
        assertContains(response, "この契約は2027年3月20日に名義変更される予定です。")
    index = client.get(url(nayoro, "index"))
    assertContains(index, "に名義変更される予定です")
    assertNotContains(index, "に使用を中止する予定です")
    client.force_login(staff)
    body, _skipped = export_csv(MoveApplication.objects.all(), NOW.date(), "cp932")
    header, row = body.decode("cp932").split("\r\n")[:2]
    assert header == ",".join(CSV_COLUMNS)
    assert header.endswith(
        "new_holder_name,new_holder_kana,new_holder_phone,new_holder_email,relationship"
    )
    assert f",{application.reference},name_change,done," in row
    assert row.endswith(",名寄 花子,ナヨロ ハナコ,09011112222,hanako@example.jp,inheritance")


def test_another_member_of_the_contract_is_told_its_name_changed(
    client, nayoro, member, contract, mailoutbox
):
    family = MemberFactory(utility=nayoro, login_id="", email="jiro@example.jp")
    ContractLinkFactory(member=family, customer=contract)
    client.force_login(member)
    apply(client, nayoro, "member_name_change", new_holder(), contract.number)
    application = MoveApplication.objects.get()
    services.handle(_staff_request(nayoro), application, "done", "")
    told = [m for m in mailoutbox if m.to == ["jiro@example.jp"]]
    assert len(told) == 1 and "名義変更の手続きが完了しました" in told[0].subject


def _staff_request(utility):
    from django.test import RequestFactory

    request = RequestFactory().post("/admin/")
    request.user = StaffFactory(utility=utility)
    request.utility = utility
    return request


def test_the_confirmation_shows_the_other_reason_only_when_given(client, nayoro, contract):
    client.post(url(nayoro, "name_change"), guest(contract))
    assertNotContains(client.get(url(nayoro, "confirm")), "その他の理由")
    other = guest(contract, relationship="other", relationship_note="贈与")
    client.post(url(nayoro, "name_change"), other)
    page = client.get(url(nayoro, "confirm"))
    assertContains(page, "その他の理由")
    assertContains(page, "贈与")


def test_the_new_holders_kana_error_names_its_field(client, nayoro, contract):
    """Finding a21 F3."""
    response = client.post(url(nayoro, "name_change"), guest(contract, new_name_kana="Hanako"))
    assertContains(response, "新しい名義人のお名前カナはカタカナで入力してください")
    assertNotContains(response, "お客様氏名カナは")


def test_the_guests_mail_is_the_same_matched_or_not_and_shows_only_what_was_typed(
    client, nayoro, contract, mailoutbox
):
    """Finding a21 F5: no yes/no oracle, nor the contract's name and place to whoever knows
    the holder's kana and phone."""
    # The contract has a name and an address the guest never typed.
    contract.name, contract.address = "水道 大輔", "名寄市西1条南3丁目1-11"
    contract.save()
    apply(client, nayoro, "name_change", guest(contract))
    apply(
        client,
        nayoro,
        "name_change",
        guest(contract, name_kana="ちがう なまえ", email="other@example.jp"),
    )
    matched, unmatched = mailoutbox
    assert MoveApplication.objects.filter(matched=True).count() == 1
    strip = re.compile(r"\d{8}-\d{6}|/status/\S+")
    assert strip.sub("", matched.body) == strip.sub("", unmatched.body)
    assert "水道 大輔" not in matched.body and "名寄市西1条" not in matched.body


def test_a_name_change_after_an_open_move_out_is_flagged_and_never_blocks_the_member(
    client, nayoro, member, contract
):
    """Finding a21 F4."""
    client.force_login(member)
    apply(
        client,
        nayoro,
        "member_move_out",
        {
            "move_date": "2027-03-15",
            "final_bill_address": "札幌市1-1",
            "payment": "slip",
            "contact_phone": "0165000000",
        },
        contract.number,
    )
    client.logout()
    apply(client, nayoro, "name_change", guest(contract))
    guests = MoveApplication.objects.get(kind="name_change")
    staff = StaffFactory(utility=nayoro)
    codenames = ("view_moveapplication", "change_moveapplication")
    staff.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(staff)
    page = reverse("admin:moving_moveapplication_change", args=[guests.pk])
    assertContains(
        client.get(page), "この契約の使用中止を、この日より前の日で受け付けています(要確認)"
    )
    # The guest's open 名義変更 does not refuse another member's own.
    family = MemberFactory(utility=nayoro, email="family@example.jp")
    ContractLinkFactory(member=family, customer=contract)
    client.force_login(family)
    response = client.post(url(nayoro, "member_name_change", contract.number), new_holder())
    assert response.status_code == 302


def test_the_cis_row_carries_the_holder_as_the_contract_holds_them(nayoro):
    """Finding a21 F6: a matched 名義変更 typed 「鈴木一郎」 at 「…3丁目11番12号」 is written with
    the contract's spelling (the CIS compares them); an unmatched one as typed."""
    contract = CustomerFactory(
        utility=nayoro,
        name="鈴木 一郎",
        name_kana="スズキ イチロウ",
        phone="0762201111",
        address="金沢市大手町3丁目11-12",
        building="",
    )
    typed = {
        "utility": nayoro,
        "kind": "name_change",
        "move_date": datetime.date(2027, 3, 20),
        "customer": contract,
        "customer_number": contract.number,
        "name": "鈴木一郎",
        "name_kana": "スズキイチロウ",
        "phone": "0762201111",
        "email": "guest@example.jp",
        "address": "金沢市大手町3丁目11番12号",
        "building": "ハイツ見本203号室",
        "payment": "slip",
        "new_name": "鈴木 花子",
        "new_name_kana": "スズキ ハナコ",
        "new_phone": "09011112222",
        "new_email": "hanako@example.jp",
        "relationship": "inheritance",
    }
    evidence = {"customer_id": contract.pk, "signup_customer_number": True, "name_kana": True}
    MoveApplication.objects.create(reference="20270301-000001", match=evidence, **typed)
    other_day = {**typed, "move_date": datetime.date(2027, 3, 21)}
    wrong = {**evidence, "name_kana": False}
    MoveApplication.objects.create(reference="20270301-000002", match=wrong, **other_day)
    body, _skipped = export_csv(MoveApplication.objects.all(), NOW.date(), "cp932")
    matched, unmatched = body.decode("cp932").split("\r\n")[1:3]
    holder = ",鈴木 一郎,スズキ イチロウ,0762201111,guest@example.jp,金沢市大手町3丁目11-12,,"
    assert holder in matched
    assert (
        ",鈴木一郎,スズキイチロウ,0762201111,guest@example.jp,金沢市大手町3丁目11番12号,"
        in unmatched
    )


@pytest.mark.parametrize(
    ("language", "day", "yes"),
    [("en", "20 Mar 2027", "Yes"), ("ja", "2027年3月20日", "はい")],
)
def test_the_confirm_page_writes_the_day_and_yes_in_the_pages_language(
    client, contract, language, day, yes
):
    from django.utils import translation

    from tests.portal.test_locale import ALL, switch

    nayoro = contract.utility
    nayoro.languages = ALL
    nayoro.save()
    switch(client, nayoro, language, "/")
    response = client.post(url(nayoro, "name_change"), guest(contract))
    confirm = client.get(response["Location"]).content.decode()
    translation.activate("ja")
    assert f"<dd>{day}</dd>" in confirm
    assert f"<dd>{yes}</dd>" in confirm
    if language == "en":
        assert "年" not in confirm.split("<dl", 1)[1].split("</dl>", 1)[0]


def test_the_english_receipt_mail_spaces_the_new_holders_kana(client, contract, mailoutbox):
    from django.utils import translation

    from tests.portal.test_locale import ALL, switch

    nayoro = contract.utility
    nayoro.languages = ALL
    nayoro.save()
    switch(client, nayoro, "en", "/")
    client.post(url(nayoro, "name_change"), guest(contract, new_name="Mary Smith"))
    client.post(url(nayoro, "confirm"))
    translation.activate("ja")
    body = mailoutbox[-1].body
    assert re.search(r"Mary Smith \([^)]+\)", body), body
