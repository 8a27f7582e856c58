"""使用中止・使用開始 by residents: 入力 → 確認 → 完了, refusals, no enumeration, the status link."""

from __future__ import annotations

import datetime
import logging
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from billing.models import Customer
from moving.models import MoveApplication, MovingSettings, parse_closed_dates
from tests.factories import ContractLinkFactory, CustomerFactory, MemberFactory, UtilityFactory

pytestmark = pytest.mark.django_db

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime.datetime(2027, 3, 1, 10, 0, tzinfo=JST)
STATUS_RE = re.compile(r"https?://\S+/moving/status/\S+/")


def url(utility, name: str, *args) -> str:
    return reverse(f"moving:{name}", args=[utility.slug, *args])


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def nayoro():
    return UtilityFactory(code_style=True)


@pytest.fixture
def contract(nayoro):
    return CustomerFactory(
        utility=nayoro, number="20000000004", name_kana="ナヨロ ハナコ", phone="0165421234"
    )


def guest_out(contract, **overrides) -> dict:
    data = {
        "customer_number": contract.number,
        "name_kana": "なよろ はなこ",  # hiragana and a space: signup's rules
        "phone": "0165-42-1234",
        "move_date": "2027-03-20",
        "final_bill_address": "札幌市中央区北1条西2丁目1-1",
        "payment": "slip",
        "contact_phone": "090-1234-5678",
        "email": "hanako@example.jp",
    }
    return {**data, **overrides}


def apply(client, utility, name: str, data: dict, *args):
    response = client.post(url(utility, name, *args), data)
    if response.status_code != 302:
        return response
    assert response["Location"] == url(utility, "confirm")
    confirm = client.get(url(utility, "confirm"))
    assertContains(confirm, "申し込む")
    return client.post(url(utility, "confirm"), follow=True)


# Settings ---------------------------------------------------------------------------------


def test_a_new_utility_offers_both_forms_with_the_new_year_closed(nayoro):
    settings = nayoro.moving_settings
    assert settings.offers_move_out and settings.offers_move_in
    assert settings.closed_reason(datetime.date(2027, 1, 2)) == "年末年始"
    assert settings.closed_reason(datetime.date(2026, 12, 29)) == "年末年始"
    assert settings.closed_reason(datetime.date(2027, 1, 4)) is None


def test_closed_dates_are_refused_line_by_line():
    with pytest.raises(Exception) as caught:
        parse_closed_dates("12/29-1/3 年末年始\n2/30\n2027-13-01 臨時")
    assert caught.value.messages[0].startswith("2行目")
    assert caught.value.messages[1].startswith("3行目")
    assert parse_closed_dates("2027-05-06 臨時休業") == [(datetime.date(2027, 5, 6), "臨時休業")]


# Guest move-out ----------------------------------------------------------------------------


def test_guest_move_out_is_confirmed_numbered_mailed_and_matched(
    client, nayoro, contract, mailoutbox, caplog
):
    caplog.set_level(logging.INFO, logger="accounts.audit")
    response = apply(client, nayoro, "move_out", guest_out(contract))
    application = MoveApplication.objects.get()
    assertContains(response, "お申し込みを受け付けました")
    assertContains(response, application.reference)
    assert application.customer == contract
    assert application.match["number"] and application.match["phone"]
    assert application.match["name_kana"]
    assert application.status == "received"
    mail = mailoutbox[-1]
    assert mail.to == ["hanako@example.jp"]
    assert "使用中止のお申し込みを受け付けました" in mail.subject
    assert application.reference in mail.body and "2027年3月20日" in mail.body
    assert "event=move_applied" in caplog.text


def test_unknown_number_gets_the_same_answer(client, nayoro, contract, mailoutbox):
    known = apply(client, nayoro, "move_out", guest_out(contract)).content.decode()
    unknown = apply(
        client, nayoro, "move_out", guest_out(contract, customer_number="29999999999")
    ).content.decode()
    strip = re.compile(r"\d{8}-\d{6}|csrfmiddlewaretoken\S+|nonce=\"[^\"]+\"")
    assert strip.sub("", known) == strip.sub("", unknown)
    stranger = MoveApplication.objects.get(customer_number="29999999999")
    assert stranger.customer is None and not stranger.match["number"]
    assert len(mailoutbox) == 2


@pytest.mark.parametrize(
    ("move_date", "message"),
    [
        ("2027-02-28", "使用中止日は2027年3月4日以降の日を選んでください。"),
        ("2027-03-02", "使用中止日は2027年3月4日以降の日を選んでください。"),
        ("2027-05-01", "使用中止日は2027年4月30日までの日を選んでください"),
        ("2027-02-30", "日付を正しく入力してください"),
        ("あした", "日付を正しく入力してください"),
        ("", "使用中止日を入力してください。"),
    ],
)
def test_bad_dates_are_refused_beside_the_field(client, nayoro, contract, move_date, message):
    response = client.post(url(nayoro, "move_out"), guest_out(contract, move_date=move_date))
    assertContains(response, message)
    assert not MoveApplication.objects.exists()


def test_a_non_workable_day_is_refused_with_its_reason(client, nayoro, contract, time_machine):
    time_machine.move_to(datetime.datetime(2026, 12, 10, 10, tzinfo=JST), tick=False)
    response = client.post(url(nayoro, "move_out"), guest_out(contract, move_date="2026-12-30"))
    assertContains(response, "2026年12月30日は年末年始のため受け付けていません。")
    assert not MoveApplication.objects.exists()


def test_hostile_text_is_refused_or_kept_as_text(client, nayoro, contract, mailoutbox):
    response = client.post(
        url(nayoro, "move_out"),
        guest_out(contract, final_bill_address="札幌市\r\nBcc: x@example.jp"),
    )
    assertContains(response, "改行や制御文字は使えません。")
    response = client.post(
        url(nayoro, "move_out"),
        guest_out(contract, final_bill_address="x" * 257),
    )
    assertContains(response, "256文字以内で入力してください。")
    assert not MoveApplication.objects.exists()
    script = "<script>alert(1)</script>札幌市"
    client.post(url(nayoro, "move_out"), guest_out(contract, final_bill_address=script))
    confirm = client.get(url(nayoro, "confirm"))
    assertNotContains(confirm, "<script>alert(1)")
    assertContains(confirm, "&lt;script&gt;")


def test_a_duplicate_move_out_is_refused_beside_the_date(client, nayoro, contract, mailoutbox):
    apply(client, nayoro, "move_out", guest_out(contract))
    response = client.post(url(nayoro, "move_out"), guest_out(contract))
    assertContains(response, "この契約の2027年3月20日の使用中止は、すでに受け付けています。")
    response = client.post(url(nayoro, "move_out"), guest_out(contract, move_date="2027-03-25"))
    assertContains(response, "この契約の使用中止は、すでに受け付けています。")
    assert MoveApplication.objects.count() == 1


def test_pressing_apply_twice_saves_one(client, nayoro, contract, mailoutbox):
    client.post(url(nayoro, "move_out"), guest_out(contract))
    client.post(url(nayoro, "confirm"))
    client.post(url(nayoro, "confirm"))
    assert MoveApplication.objects.count() == 1


def test_guest_forms_are_rate_limited_per_client(client, nayoro, contract, settings):
    settings.PORTAL_MOVING_RATE_PER_IP = "2/h"
    for n in range(2):
        client.post(url(nayoro, "move_out"), guest_out(contract, email=f"a{n}@example.jp"))
    response = client.post(url(nayoro, "move_out"), guest_out(contract, email="c@example.jp"))
    assert response.status_code == 429


def test_guest_forms_are_rate_limited_per_address(client, nayoro, contract, settings):
    settings.PORTAL_MOVING_RATE_PER_EMAIL = "2/h"
    for _n in range(2):
        client.post(url(nayoro, "move_out"), guest_out(contract), REMOTE_ADDR="10.0.0.1")
    response = client.post(url(nayoro, "move_out"), guest_out(contract), REMOTE_ADDR="10.0.0.2")
    assert response.status_code == 429


def test_a_closed_utility_takes_no_application(client, contract):
    utility = UtilityFactory(opens_at=datetime.time(7), closes_at=datetime.time(2))
    response = client.get(url(utility, "move_out"))
    assert response.status_code == 200  # 10:00 is within 07:00–02:00
    utility.opens_at, utility.closes_at = datetime.time(11), datetime.time(12)
    utility.save()
    assert client.get(url(utility, "move_out")).status_code == 503


def test_a_utility_not_offering_a_form_answers_404(client, nayoro):
    MovingSettings.objects.filter(utility=nayoro).update(offers_move_in=False)
    assert client.get(url(nayoro, "move_in")).status_code == 404


# Status link -------------------------------------------------------------------------------


def test_the_mailed_link_shows_the_status_only_until_it_expires(
    client, nayoro, contract, mailoutbox, time_machine, settings
):
    apply(client, nayoro, "move_out", guest_out(contract))
    link = STATUS_RE.search(mailoutbox[-1].body).group(0)
    other = UtilityFactory().slug
    fresh = client.get(link)
    assertContains(fresh, "受付済")
    assertNotContains(fresh, "札幌市")  # nothing typed is shown
    assertNotContains(fresh, contract.number)
    assert client.get(link.replace(f"/{nayoro.slug}/", f"/{other}/")).status_code == 400
    assert client.get(link[:-3] + "xx/").status_code == 400
    later = NOW + datetime.timedelta(days=settings.PORTAL_MOVING_STATUS_LINK_DAYS + 1)
    time_machine.move_to(later, tick=False)
    assertContains(client.get(link), "このURLは使えません", status_code=400)


# Members -----------------------------------------------------------------------------------


@pytest.fixture
def member(nayoro, contract):
    member = MemberFactory(utility=nayoro, login_id="", email="taro@example.jp", phone="0165000000")
    ContractLinkFactory(member=member, customer=contract)
    return member


def test_member_move_out_is_prefilled_and_listed_in_profile(client, nayoro, member, contract):
    client.force_login(member)
    index = client.get(url(nayoro, "index"))
    assertContains(index, url(nayoro, "member_move_out", contract.number))
    page = client.get(url(nayoro, "member_move_out", contract.number))
    assertContains(page, 'value="0165000000"')
    assertNotContains(page, 'name="customer_number"')
    data = {
        k: v
        for k, v in guest_out(contract).items()
        if k in ("move_date", "final_bill_address", "payment", "contact_phone")
    }
    apply(client, nayoro, "member_move_out", data, contract.number)
    application = MoveApplication.objects.get()
    assert application.member == member and application.customer == contract
    assert application.email == "taro@example.jp"
    profile = client.get(reverse("accounts:profile", args=[nayoro.slug]))
    assertContains(profile, "引越しの手続き")
    assertContains(profile, application.reference)
    assertContains(profile, "受付済")


def test_another_members_contract_is_a_404(client, nayoro, member):
    theirs = CustomerFactory(utility=nayoro)
    client.force_login(member)
    assert client.get(url(nayoro, "member_move_out", theirs.number)).status_code == 404
    assert not Customer.objects.filter(move_applications__isnull=False).exists()


def test_move_out_page_needs_login(client, nayoro, contract):
    response = client.get(url(nayoro, "member_move_out", contract.number))
    assert response.status_code == 302


# Move-in -----------------------------------------------------------------------------------


def move_in_data(**overrides) -> dict:
    data = {
        "address": "名寄市西1条南１０丁目",
        "building": "コーポ名寄 101",
        "move_date": "2027-03-10",
        "name": "名寄 花子",
        "name_kana": "なよろ はなこ",
        "phone": "090-1111-2222",
        "email": "newcomer@example.jp",
        "payment": "transfer",
        "wants_membership": "on",
    }
    return {**data, **overrides}


def test_guest_move_in(client, nayoro, mailoutbox):
    response = apply(client, nayoro, "move_in", move_in_data())
    application = MoveApplication.objects.get()
    assertContains(response, application.reference)
    assert application.kind == "move_in"
    assert application.name_kana == "ナヨロ ハナコ"
    assert application.address == "名寄市西1条南10丁目"
    assert application.wants_membership
    assert "使用開始のお申し込みを受け付けました" in mailoutbox[-1].subject


def test_move_in_refuses_a_bad_kana_and_phone(client, nayoro):
    response = client.post(url(nayoro, "move_in"), move_in_data(name_kana="Hanako", phone="12345"))
    assertContains(response, "カタカナで入力してください")
    assertContains(response, "電話番号は市外局番から10〜11桁の数字で入力してください。")
    assert not MoveApplication.objects.exists()


@pytest.mark.parametrize("typed", ["ジョン＝スミス", "ジョン=スミス", "じょん = すみす"])
def test_a_kana_name_with_a_double_hyphen_is_taken(client, nayoro, typed, mailoutbox):
    apply(client, nayoro, "move_in", move_in_data(name_kana=typed))
    assert MoveApplication.objects.get().name_kana == "ジョン＝スミス"


def test_a_guest_move_out_matches_the_contract_written_with_a_dot(client, nayoro, mailoutbox):
    contract = CustomerFactory(utility=nayoro, name_kana="ジョン・スミス", phone="0165421234")
    apply(client, nayoro, "move_out", guest_out(contract, name_kana="ジョン＝スミス"))
    assert MoveApplication.objects.get().match["name_kana"]


def test_the_login_page_leads_guests_to_the_forms_unless_none_is_offered(client, nayoro):
    login = reverse("accounts:login", args=[nayoro.slug])
    assertContains(client.get(login), url(nayoro, "index"))
    MovingSettings.objects.filter(utility=nayoro).update(
        offers_move_out=False, offers_move_in=False
    )
    assertNotContains(client.get(login), url(nayoro, "index"))
    assert client.get(url(nayoro, "move_out")).status_code == 404


def test_a_date_grown_too_early_by_apply_time_is_refused_and_the_form_posts_to_itself(
    client, nayoro, contract, time_machine, mailoutbox
):
    client.post(url(nayoro, "move_out"), guest_out(contract, move_date="2027-03-04"))
    time_machine.move_to(NOW + datetime.timedelta(days=2), tick=False)  # the tab sat open
    response = client.post(url(nayoro, "confirm"))
    assertContains(response, "使用中止日は2027年3月6日以降の日を選んでください。")
    assertContains(response, f'action="{url(nayoro, "move_out")}"')
    assert not MoveApplication.objects.exists() and not mailoutbox


def test_a_kanazawa_guest_names_the_contract_as_its_signup_does_on_one_line(client, mailoutbox):
    kanazawa = UtilityFactory()  # name, address and phone identify a contract there
    contract = CustomerFactory(utility=kanazawa, name="金沢 一郎", phone="0762201234")
    data = {
        "customer_number": contract.number,
        "name": "金沢\n一郎",
        "address": contract.address,
        "phone": "076-220-1234",
        "move_date": "2027-03-20",
        "final_bill_address": "石川県白山市倉光2丁目1",
        "payment": "transfer",
        "contact_phone": "0762201234",
        "email": "ichiro@example.jp",
    }
    response = client.post(url(kanazawa, "move_out"), data)
    assertContains(response, "改行や制御文字は使えません。")
    apply(client, kanazawa, "move_out", {**data, "name": "金沢　一郎"})
    application = MoveApplication.objects.get()
    assert application.match == {
        "customer_id": contract.pk,
        "number": True,
        "name": True,
        "phone": True,
        "address": True,
    }
